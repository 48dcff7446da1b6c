/*
 * chain_client.h - a program's own conversation with a chain node, for
 * commands that act on the chain as part of their work rather than print
 * what it answers (`quipu settle`, `quipu demo supply-chain`): the node's
 * network (suite, genesis hash, head), signed calls whose receipts come
 * back as JSON, queries, blocks and transactions.  `quipu chain send` and
 * `query` print their answers and keep their own code (chain_send.h).
 */
#ifndef QP_CLI_CHAIN_CLIENT_H
#define QP_CLI_CHAIN_CLIENT_H

#include <stdint.h>

#include <jansson.h>

#include "chain/chain.h"
#include "cli/chain_http.h"

#define QP_CLI_CHAIN_WAIT_MS_DEFAULT 30000L /* for a call's receipt */

/* The caller allocates; init/deinit pair.  key is owned once open. */
typedef struct qp_cli_chain_client {
  qp_cli_chain_http_t http;                  /* one keep-alive connection to the node */
  qp_suite_t suite;                          /* the network's suite */
  uint8_t genesis[QP_HASH_SIZE];             /* its genesis hash */
  size_t tx_bytes_max;                       /* genesis params.tx_bytes_max */
  uint64_t height;                           /* head height at the last status read */
  qp_sign_key_t *key;                        /* the signer, NULL for a reader */
  char sender[2 * QP_SIGN_PUBLIC_MAX + 1];   /* its public key hex */
  char error[1024];                          /* why the last call failed */
} qp_cli_chain_client_t;

/* Connects to the node at url (its /v1/chain/status) and, with key_path,
 * reads the signing key (of the network's suite).  Returns 0, QP_EINVAL
 * (bad URL, key file or suite: c->error), QP_EIO (no usable answer).
 * deinit either way. */
int qp_cli_chain_client_open(qp_cli_chain_client_t *c, const char *url, const char *key_path);
void qp_cli_chain_client_deinit(qp_cli_chain_client_t *c);

/* Re-reads /v1/chain/status: c->height.  0 or QP_EIO. */
int qp_cli_chain_client_status(qp_cli_chain_client_t *c);

/* Signs app.method(args) with the client's key (nonce asked of the node),
 * submits it and waits up to wait_ms for its receipt.  *receipt (new
 * reference) is {"height","tx","status","code","result","events"}.
 * Returns 0 with a receipt (ok or failed: look at "status"); QP_EINVAL the
 * node refused the transaction (c->error has its code and message);
 * QP_EAGAIN not committed in time; QP_EIO no answer. */
int qp_cli_chain_client_call(qp_cli_chain_client_t *c, const char *app, const char *method,
                             const json_t *args, long wait_ms, json_t **receipt);

/* POST /v1/chain/query: *result (new reference) is the answer's "result".
 * Returns 0; QP_ENOTFOUND (404, c->error names the code); QP_EINVAL
 * (another refusal); QP_EIO. */
int qp_cli_chain_client_query(qp_cli_chain_client_t *c, const char *app, const char *method,
                              const json_t *args, json_t **result);

/* GET path (a route of the node) as JSON into *answer.  Returns 0 (200),
 * QP_ENOTFOUND (404), QP_EIO (no answer or another status). */
int qp_cli_chain_client_get(qp_cli_chain_client_t *c, const char *path, json_t **answer);

/* v as compact JSON text, NUL-terminated, qp_malloc'ed (the caller
 * qp_free()s it; jansson's own json_dumps text may not be freed so); NULL
 * on no memory. */
char *qp_cli_json_text(const json_t *v);

#endif
