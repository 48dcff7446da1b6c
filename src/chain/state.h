/*
 * state.h - the chain's state (docs/chain.md, "State and receipts"): a
 * key-value map in one LMDB table of the block store's environment, the
 * write batch one block makes, reads through the batches of blocks not yet
 * committed, the senders' nonces, and the provisional state root.
 *
 * State keys (bytes, compared with memcmp):
 *   0x01 || sender public key                -> u64 LE: last committed nonce
 *   0x02 || u8 app_len || app || app key     -> the app's value
 * An app sees only its own keys (the view adds the prefix).
 *
 * The state root is the root of the sparse Merkle tree (smt.h) over every
 * state key and its value: H(key) is the path, H(value) the leaf's value
 * hash, H the suite hash.  The empty state's root is 32 zero bytes.  The
 * committed version of the tree lives in memory (rebuilt from the state
 * table when the store opens, and checked against the head's root); each
 * execution of a block not yet committed holds its own version.
 *
 * Thread-safety: reads (nonce, get, query, root) may run on any thread
 * beside one writer (the block store's commit); a batch and a reader belong
 * to one thread at a time.
 */
#ifndef QP_CHAIN_STATE_H
#define QP_CHAIN_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "chain/app.h"
#include "chain/genesis.h"
#include "chain/smt.h"
#include "store/kv.h"

#define QP_CHAIN_STATE_NONCE 0x01u /* the first byte of a nonce key */
#define QP_CHAIN_STATE_APP 0x02u   /* the first byte of an app key */
#define QP_CHAIN_STATE_KEY_MAX (2u + QP_CHAIN_APP_NAME_MAX + QP_CHAIN_APP_KEY_MAX)

typedef struct qp_chain_state qp_chain_state_t;

/* ---- write batches ----------------------------------------------------- */

/* The writes of one block (last write to a key wins), kept for lookups
 * while the block executes and hashed in key order.  Opaque. */
typedef struct qp_chain_batch qp_chain_batch_t;

/* A batch of at most writes_max distinct keys and bytes_max key and value
 * bytes.  *out is the caller's (qp_chain_batch_free).  Returns 0, QP_EINVAL
 * (a zero bound) or QP_ENOMEM. */
int qp_chain_batch_new(uint32_t writes_max, uint64_t bytes_max, qp_chain_batch_t **out);
void qp_chain_batch_free(qp_chain_batch_t *b);

/* Records a put (del false) or a delete of a state key (copied).  Returns
 * 0, QP_ELIMIT (a bound) or QP_ENOMEM; on failure b is unchanged. */
int qp_chain_batch_set(qp_chain_batch_t *b, const uint8_t *key, size_t key_len,
                       const uint8_t *value, size_t value_len, bool del);

/* Finds key in b: 0 with *del and the value (borrowed, valid until the next
 * set), or QP_ENOTFOUND when b does not touch key. */
int qp_chain_batch_get(const qp_chain_batch_t *b, const uint8_t *key, size_t key_len,
                       const uint8_t **value, size_t *value_len, bool *del);

/* Distinct keys written. */
uint32_t qp_chain_batch_count(const qp_chain_batch_t *b);

/* The tree updates of b's writes (key and value hashes under suite),
 * sorted by key hash as qp_smt_update takes them: *out is qp_malloc'ed
 * (the caller frees it; NULL when b is empty).  Returns 0 or QP_ENOMEM. */
int qp_chain_batch_updates(const qp_chain_batch_t *b, qp_suite_t suite, qp_smt_update_t **out,
                           size_t *count);

/* The state key of an app key (QP_CHAIN_STATE_APP || app_len || app ||
 * key) into out (QP_CHAIN_STATE_KEY_MAX bytes); *len_out its length.
 * Returns 0 or QP_ELIMIT (key longer than QP_CHAIN_APP_KEY_MAX, bad app). */
int qp_chain_state_app_key(const char *app, const uint8_t *key, size_t key_len,
                           uint8_t out[QP_CHAIN_STATE_KEY_MAX], size_t *len_out);

/* The state key of a sender's nonce. */
void qp_chain_state_nonce_key(const uint8_t *sender, size_t sender_len,
                              uint8_t out[1 + QP_SIGN_PUBLIC_MAX], size_t *len_out);

/* ---- readers: the committed state under batches not yet committed ----- */

#define QP_CHAIN_READER_OVERLAYS_MAX 8u /* uncommitted blocks a read looks through */

/* Reads through overlays[count-1], ..., overlays[0] (newest first), then the
 * committed state.  Holds an LMDB read transaction: begin and end on one
 * thread, and keep it short. */
typedef struct qp_chain_reader {
  qp_chain_state_t *state;                                /* the committed state */
  const qp_chain_batch_t *overlays[QP_CHAIN_READER_OVERLAYS_MAX]; /* oldest first */
  uint32_t overlays_count;                                /* used */
  MDB_txn *txn;                                           /* the read transaction */
} qp_chain_reader_t;

/* Begins a reader (overlays borrowed for its life).  Returns 0, QP_ELIMIT
 * (too many overlays) or a qp_kv_err code. */
int qp_chain_reader_begin(qp_chain_state_t *st, const qp_chain_batch_t *const *overlays,
                          size_t count, qp_chain_reader_t *r);
void qp_chain_reader_end(qp_chain_reader_t *r);

/* Reads a state key: 0 and the value (borrowed until the reader ends or an
 * overlay changes), QP_ENOTFOUND (absent or deleted) or QP_EDB. */
int qp_chain_reader_get(qp_chain_reader_t *r, const uint8_t *key, size_t key_len,
                        const uint8_t **value, size_t *value_len);

/* A sender's last nonce as r sees it (0 when none); 0 or QP_EDB/QP_ECORRUPT. */
int qp_chain_reader_nonce(qp_chain_reader_t *r, const uint8_t *sender, size_t sender_len,
                          uint64_t *nonce);

/* An app's view over r: a view whose get reads app's keys.  view_ctx is
 * caller storage that lives as long as the view. */
typedef struct qp_chain_app_view_ctx {
  qp_chain_reader_t *reader; /* where reads go */
  const char *app;           /* whose keys */
} qp_chain_app_view_ctx_t;
void qp_chain_reader_app_view(qp_chain_reader_t *r, const char *app,
                              qp_chain_app_view_ctx_t *view_ctx, qp_chain_view_t *view);

/* ---- the committed state ------------------------------------------------ */

/* A sender's last committed nonce (0 when none).  Any thread.  Matches
 * qp_chain_nonce_fn with ctx = the state.  Returns 0, QP_EDB, QP_ECORRUPT. */
int qp_chain_state_nonce(void *state, const uint8_t *sender, size_t sender_len,
                         uint64_t *nonce);

/* Answers a query of app on the committed state (POST /v1/chain/query,
 * GET /v1/chain/kv/{key}): args is JSON text that must be an object.
 * Returns 0 with *result (the caller's, json_decref), QP_EINVAL or
 * QP_ENOTFOUND with code ("bad_args", "unknown_method", "not_found") and
 * detail, or an operating error.  Any thread. */
int qp_chain_app_query(const qp_chain_app_t *app, qp_chain_state_t *st, const char *method,
                       const char *args, size_t args_len, json_t **result,
                       char code[QP_CHAIN_CODE_MAX + 1], char *detail, size_t detail_size);

/* The committed height and state root (the store's head).  Any thread. */
void qp_chain_state_head(qp_chain_state_t *st, uint64_t *height, uint8_t root[QP_HASH_SIZE]);

/* The committed head block's timestamp in seconds (the clock queries see:
 * qp_chain_view_t.time_s); 0 until the node knows it.  Any thread. */
uint64_t qp_chain_state_time(qp_chain_state_t *st);

/* Sets it (the store after a commit; the node when it resumes). */
void qp__chain_state_set_time(qp_chain_state_t *st, uint64_t time_s);

/* The committed height and a reference to the committed tree (the
 * caller's: qp_smt_release), taken together.  Any thread. */
void qp_chain_state_tree(qp_chain_state_t *st, uint64_t *height, qp_smt_t *tree);

/* The suite of the state's network. */
qp_suite_t qp_chain_state_suite(const qp_chain_state_t *st);

/* The state's network's genesis (owned by the state). */
const qp_chain_genesis_t *qp_chain_state_genesis(const qp_chain_state_t *st);

/* ---- for the block store (store.c) -------------------------------------- */

/* Creates the state over kv's table dbi.  Returns 0 or QP_ENOMEM. */
int qp__chain_state_new(qp_kv_t *kv, MDB_dbi dbi, const qp_chain_genesis_t *g,
                        qp_chain_state_t **out);
void qp__chain_state_free(qp_chain_state_t *st);

/* Sets the committed height, root and tree (after each commit; the tree
 * is retained). */
void qp__chain_state_set_head(qp_chain_state_t *st, uint64_t height,
                              const uint8_t root[QP_HASH_SIZE], const qp_smt_t *tree);

/* At open: builds the committed tree from the state table and checks that
 * its root is root (the head's).  Returns 0, QP_ECORRUPT (another root:
 * detail says so), QP_ENOMEM or QP_EDB. */
int qp__chain_state_load(qp_chain_state_t *st, uint64_t height, const uint8_t root[QP_HASH_SIZE],
                         char *detail, size_t detail_size);

/* Calls fn for each write of b (any order), stopping at a non-zero code. */
int qp__chain_batch_each(const qp_chain_batch_t *b,
                         int (*fn)(void *ctx, const uint8_t *key, size_t key_len,
                                   const uint8_t *value, size_t value_len, bool del),
                         void *ctx);

/* Writes b into the state table inside the store's write transaction.
 * Returns 0 or an LMDB code. */
int qp__chain_state_apply(qp_chain_state_t *st, MDB_txn *txn, const qp_chain_batch_t *b);

#endif
