/*
 * chain_http.h - what `quipu chain send|query|up` share to talk to a node:
 * one libcurl handle (so consecutive requests reuse the connection), the
 * last answer's status and body, and the error envelope printed the same
 * way by every subcommand.
 */
#ifndef QP_CLI_CHAIN_HTTP_H
#define QP_CLI_CHAIN_HTTP_H

#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base/buf.h"

#define QP_CLI_CHAIN_RESPONSE_BYTES_MAX (16u << 20) /* one answer kept in memory */
#define QP_CLI_CHAIN_URL_MAX 1024u                  /* bytes of the node's base URL */

/* The caller allocates; init/deinit pair.  Invariant between calls: status
 * is 0 exactly when the last request got no HTTP answer (error says why). */
typedef struct qp_cli_chain_http {
  CURL *curl;                       /* one handle: keep-alive across requests */
  char base[QP_CLI_CHAIN_URL_MAX];  /* the node's URL, no trailing slash */
  const char *cacert;               /* borrowed PEM file of CAs for https; NULL = system's */
  char auth[512];                   /* "Authorization: Bearer <$QUIPU_KEY>", or "" */
  long status;                      /* HTTP status of the last answer, 0 if none */
  qp_buf_t response;                /* its body (NUL-terminated when non-empty) */
  char error[QP_CLI_CHAIN_URL_MAX + 512 + CURL_ERROR_SIZE + 32]; /* why no answer came */
} qp_cli_chain_http_t;

/* Prepares h for the node at url (http:// or https://; a trailing slash is
 * dropped).  Returns 0, or QP_EINVAL (not an http(s) URL, too long) or
 * QP_ENOMEM; h needs deinit either way.  curl_global_init is the caller's. */
int qp_cli_chain_http_init(qp_cli_chain_http_t *h, const char *url);

/* Releases the handle and the last body. */
void qp_cli_chain_http_deinit(qp_cli_chain_http_t *h);

/* Sends one request: method "GET" or "POST", path starting with '/', and
 * for POST a JSON body of body_len bytes.  Gives up after timeout_ms.
 * Returns 0 when an HTTP answer of any status came (h->status, h->response),
 * QP_EIO when none did (h->error says why). */
int qp_cli_chain_http_request(qp_cli_chain_http_t *h, const char *method, const char *path,
                              const char *body, size_t body_len, long timeout_ms);

/* The last answer parsed as JSON, or NULL when it is not JSON.  The caller
 * owns the reference (json_decref). */
json_t *qp_cli_chain_http_json(const qp_cli_chain_http_t *h);

/* The error envelope's code ("" when the answer is not an envelope) into
 * code (code_size bytes). */
void qp_cli_chain_http_error_code(const qp_cli_chain_http_t *h, char *code, size_t code_size);

/* Prints the last failure to stderr as "<prog>: <what>: HTTP <status>
 * <code>: <message>" (from the error envelope), or "<prog>: no answer from
 * the node: <transport error>" when no answer came. */
void qp_cli_chain_http_print_error(const qp_cli_chain_http_t *h, const char *prog,
                                   const char *what);

#endif
