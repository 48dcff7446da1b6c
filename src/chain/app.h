/*
 * app.h - the interface of the chain's built-in apps and the effects a
 * transaction has (docs/chain.md, "Apps and the kv app").
 *
 * An app is a pure function of (state, transaction) -> (writes, receipt):
 * it reads its own keys through a read-only view, never a clock, a file or
 * randomness, and states what it wants written plus a receipt (status, a
 * code, a result object and events) in a qp_chain_effects_t.  Execution
 * (exec.h) applies the writes only when the receipt is "ok".  Each app sees
 * its own key space only (state.h prefixes its name).  The first app is
 * `kv` (app_kv.c), for tests and demos.
 */
#ifndef QP_CHAIN_APP_H
#define QP_CHAIN_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "chain/tx.h"

#define QP_CHAIN_CODE_MAX 32u           /* bytes of a receipt or query code */
#define QP_CHAIN_APP_KEY_MAX 256u       /* bytes of one key in an app's key space */
#define QP_CHAIN_APP_VALUE_MAX 65536u   /* bytes of one value an app writes */
#define QP_CHAIN_TX_WRITES_MAX 16u      /* writes one transaction may make */
#define QP_CHAIN_TX_EVENTS_MAX 16u      /* events one receipt may carry */
/* Key and value bytes one transaction writes beyond the ~530 per write a
 * block's batch budgets for (the receivable app's settlement records). */
#define QP_CHAIN_TX_WRITE_BYTES_MAX (64u << 10)
#define QP_CHAIN_KV_KEY_MAX 128u        /* bytes of a kv app key (UTF-8) */
#define QP_CHAIN_KV_VALUE_MAX 4096u     /* bytes of a kv app value (UTF-8) */

/* A read-only view of one app's keys (state.h builds it): get finds key in
 * the state as the earlier transactions of the block left it.  *value is
 * borrowed, valid until the app's next call on the view or the effects.
 * Returns 0, QP_ENOTFOUND or an operating error (QP_EDB, QP_ENOMEM). */
typedef struct qp_chain_view {
  int (*get)(void *ctx, const uint8_t *key, size_t key_len, const uint8_t **value,
             size_t *value_len);
  void *ctx;                         /* the view's own */
  /* Reads another app's key, read-only (an app that obeys governance reads
   * the gov app's rules); same returns as get. */
  int (*get_app)(void *ctx, const char *app, const uint8_t *key, size_t key_len,
                 const uint8_t **value, size_t *value_len);
  uint64_t height;                   /* the block executing (a query: the committed height) */
  uint64_t time_s;                   /* that block's timestamp_ms / 1000 (Unix seconds) */
  /* The state root before the block (QP_HASH_SIZE bytes), or NULL (a
   * query): with the transaction's hash, what a contract's string-hash
   * seed is drawn from (docs/chain.md, "Deterministic layouts"). */
  const uint8_t *prev_root;
  const struct qp_chain_genesis *genesis; /* the network's genesis */
} qp_chain_view_t;

/* One write: a put of value, or a delete (del, no value). */
typedef struct qp_chain_write {
  uint32_t key_off, key_len;     /* the key: data[key_off, key_off + key_len) */
  uint32_t value_off, value_len; /* the value, likewise (0, 0 for a delete) */
  bool del;                      /* a delete */
} qp_chain_write_t;

/*
 * What one transaction does.  Invariant: failed implies writes_count == 0;
 * result is a JSON object and events a JSON array (both owned here).
 */
typedef struct qp_chain_effects {
  bool failed;                                 /* the receipt's status is "failed" */
  char code[QP_CHAIN_CODE_MAX + 1];            /* "ok" or the failure's code */
  json_t *result;                              /* owned: the receipt's result object */
  json_t *events;                              /* owned: the receipt's events array */
  qp_chain_write_t writes[QP_CHAIN_TX_WRITES_MAX]; /* in the order made */
  uint32_t writes_count;                       /* writes used */
  qp_buf_t data;                               /* the bytes of keys and values */
} qp_chain_effects_t;

/* Makes e an "ok" receipt with an empty result, no events and no writes.
 * Returns 0 or QP_ENOMEM. */
int qp_chain_effects_init(qp_chain_effects_t *e);
/* Back to the state of init, keeping memory.  Returns 0 or QP_ENOMEM. */
int qp_chain_effects_reset(qp_chain_effects_t *e);
/* Releases everything; e may be reused after init. */
void qp_chain_effects_deinit(qp_chain_effects_t *e);

/* Records a put or a delete of an app key (copied).  Returns 0, QP_ELIMIT
 * (more than QP_CHAIN_TX_WRITES_MAX writes, or a key or value too long:
 * a bug of the app, which checks its limits first) or QP_ENOMEM. */
int qp_chain_effects_put(qp_chain_effects_t *e, const uint8_t *key, size_t key_len,
                         const uint8_t *value, size_t value_len);
int qp_chain_effects_delete(qp_chain_effects_t *e, const uint8_t *key, size_t key_len);

/* A put of value as compact JSON text with sorted keys (the same text on
 * every node).  Returns 0, QP_ELIMIT (text past QP_CHAIN_APP_VALUE_MAX, or
 * as put) or QP_ENOMEM. */
int qp_chain_effects_put_json(qp_chain_effects_t *e, const uint8_t *key, size_t key_len,
                              const json_t *value);

/* Makes the receipt failed with code (at most QP_CHAIN_CODE_MAX bytes) and
 * result {"message": message}; drops every write and event.  Returns 0 or
 * QP_ENOMEM. */
int qp_chain_effects_fail(qp_chain_effects_t *e, const char *code, const char *message);

/* Appends an event {"type": type, ...fields}; fields (an object, may be
 * NULL) is stolen.  Returns 0, QP_ELIMIT (too many events) or QP_ENOMEM. */
int qp_chain_effects_event(qp_chain_effects_t *e, const char *type, json_t *fields);

/* An app.  execute runs one transaction whose nonce was already checked:
 * it returns 0 with e describing the receipt (ok or failed, deterministic),
 * or an operating error (QP_EDB, QP_ENOMEM) that stops the block's
 * execution - never a receipt, as another node would not see it.  query
 * answers a read of the committed state: 0 with *result (the caller's), or
 * QP_EINVAL / QP_ENOTFOUND with code and detail (bad_args, unknown_method,
 * not_found), or an operating error. */
typedef struct qp_chain_app {
  const char *name; /* as transactions name it */
  int (*execute)(const qp_chain_view_t *view, const qp_chain_tx_t *tx, const json_t *args,
                 qp_chain_effects_t *e);
  int (*query)(const qp_chain_view_t *view, const char *method, const json_t *args,
               json_t **result, char code[QP_CHAIN_CODE_MAX + 1], char *detail,
               size_t detail_size);
} qp_chain_app_t;

/* The built-in kv app: put {key, value}, delete {key}, query get {key}. */
extern const qp_chain_app_t qp_chain_app_kv;
/* The built-in lua app (app_lua.c): deploy {code}, call {contract, method,
 * args, gas}, queries code {contract} and get {contract, key}. */
extern const qp_chain_app_t qp_chain_app_lua;

/* The gas a transaction states: args.gas of a lua call when it is a
 * positive integer, else 0 (every other transaction; a call whose gas is
 * not one fails bad_args and runs nothing).  What the per-block gas budget
 * (genesis params.block_gas_max) counts, at admission, in the proposer's
 * block and in every voter's check. */
uint64_t qp_chain_tx_gas(const qp_chain_tx_t *tx);
/* The stated gas of txs (count) summed, stopping once above cap (so it
 * never overflows): a voter refuses a block whose sum is above the budget. */
uint64_t qp_chain_txs_gas(const qp_chain_tx_t *txs, size_t count, uint64_t cap);

/* The built-in gov app (app_gov.c, docs/chain.md "Governance"). */
extern const qp_chain_app_t qp_chain_app_gov;

/* Whether key (a public key, len bytes) may deploy contracts, by the gov
 * app's rules as view (any app's view) sees them.  Returns 0 with
 * *allowed, or an operating error. */
int qp_chain_gov_may_deploy(const qp_chain_view_t *view, const uint8_t *key, size_t len,
                            bool *allowed);

/* The built-in app named name (NUL-terminated), or NULL. */
const qp_chain_app_t *qp_chain_app_find(const char *name);

#endif
