/*
 * state.c - the chain's state (state.h): the state table in the block
 * store's LMDB environment, readers that look through the batches of
 * blocks not yet committed, senders' nonces, apps' views, and the
 * committed head's height, root and sparse Merkle tree kept in memory for
 * every thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "chain/state.h"

struct qp_chain_state {
  qp_kv_t *kv;                  /* the block store's environment */
  MDB_dbi dbi;                  /* the state table */
  qp_suite_t suite;             /* the network's suite */
  qp_chain_genesis_t genesis;   /* the network's genesis (apps' views see it) */
  pthread_mutex_t mu;           /* guards height, root and tree */
  uint64_t height;              /* committed height */
  uint64_t time_s;              /* its block's timestamp in seconds (0: not known yet) */
  uint8_t root[QP_HASH_SIZE];   /* committed state root */
  qp_smt_t tree;                /* committed tree (its root is root) */
};

int qp__chain_state_new(qp_kv_t *kv, MDB_dbi dbi, const qp_chain_genesis_t *g,
                        qp_chain_state_t **out) {
  qp_suite_t suite = g->suite;
  qp_chain_state_t *st = qp_calloc(1, sizeof *st);
  if (st == NULL) return QP_ENOMEM;
  if (pthread_mutex_init(&st->mu, NULL) != 0) {
    qp_free(st);
    return QP_ENOMEM;
  }
  st->kv = kv;
  st->dbi = dbi;
  st->suite = suite;
  st->genesis = *g;
  qp_smt_empty(suite, &st->tree);
  *out = st;
  return 0;
}

void qp__chain_state_free(qp_chain_state_t *st) {
  if (st == NULL) return;
  qp_smt_release(&st->tree);
  pthread_mutex_destroy(&st->mu);
  qp_free(st);
}

qp_suite_t qp_chain_state_suite(const qp_chain_state_t *st) { return st->suite; }

const qp_chain_genesis_t *qp_chain_state_genesis(const qp_chain_state_t *st) {
  return &st->genesis;
}

void qp_chain_state_head(qp_chain_state_t *st, uint64_t *height, uint8_t root[QP_HASH_SIZE]) {
  pthread_mutex_lock(&st->mu);
  *height = st->height;
  memcpy(root, st->root, QP_HASH_SIZE);
  pthread_mutex_unlock(&st->mu);
}

uint64_t qp_chain_state_time(qp_chain_state_t *st) {
  pthread_mutex_lock(&st->mu);
  uint64_t t = st->time_s;
  pthread_mutex_unlock(&st->mu);
  return t;
}

void qp__chain_state_set_time(qp_chain_state_t *st, uint64_t time_s) {
  pthread_mutex_lock(&st->mu);
  st->time_s = time_s;
  pthread_mutex_unlock(&st->mu);
}

void qp_chain_state_tree(qp_chain_state_t *st, uint64_t *height, qp_smt_t *tree) {
  pthread_mutex_lock(&st->mu);
  *height = st->height;
  qp_smt_retain(&st->tree, tree);
  pthread_mutex_unlock(&st->mu);
}

void qp__chain_state_set_head(qp_chain_state_t *st, uint64_t height,
                              const uint8_t root[QP_HASH_SIZE], const qp_smt_t *tree) {
  qp_smt_t next, old;
  qp_smt_retain(tree, &next);
  pthread_mutex_lock(&st->mu);
  st->height = height;
  memcpy(st->root, root, QP_HASH_SIZE);
  old = st->tree;
  st->tree = next;
  pthread_mutex_unlock(&st->mu);
  qp_smt_release(&old); /* outside the lock: it may free a whole old path */
}

/* Every (key, value) of the state table as tree updates into *out. */
static int table_updates(qp_chain_state_t *st, qp_smt_update_t **out, size_t *count) {
  MDB_txn *txn = NULL;
  MDB_cursor *cur = NULL;
  *out = NULL;
  *count = 0;
  int rc = qp_kv_read_begin(st->kv, st->dbi, &txn, &cur);
  if (rc != 0) return rc;
  MDB_stat stat;
  rc = qp_kv_err(mdb_stat(txn, st->dbi, &stat));
  size_t cap = rc == 0 ? stat.ms_entries : 0, n = 0;
  qp_smt_update_t *u = cap > 0 ? qp_malloc(cap * sizeof *u) : NULL;
  if (cap > 0 && u == NULL) rc = QP_ENOMEM;
  MDB_val k, v;
  int mrc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_FIRST) : MDB_NOTFOUND;
  for (; rc == 0 && mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (n == cap) rc = QP_ECORRUPT; /* more entries than the table says */
    if (rc == 0) rc = qp_suite_hash(st->suite, u[n].key_hash, k.mv_data, k.mv_size);
    if (rc == 0) rc = qp_suite_hash(st->suite, u[n].value_hash, v.mv_data, v.mv_size);
    u[n++].del = false;
  }
  if (rc == 0 && mrc != MDB_NOTFOUND) rc = qp_kv_err(mrc);
  qp_kv_read_end(st->kv, txn, cur);
  if (rc != 0) {
    qp_free(u);
    return rc;
  }
  qp_smt_sort(u, n);
  *out = u;
  *count = n;
  return 0;
}

int qp__chain_state_load(qp_chain_state_t *st, uint64_t height, const uint8_t root[QP_HASH_SIZE],
                         char *detail, size_t detail_size) {
  qp_smt_update_t *u = NULL;
  size_t count = 0;
  qp_smt_t empty, tree;
  qp_smt_empty(st->suite, &empty);
  int rc = table_updates(st, &u, &count);
  if (rc == 0) rc = qp_smt_update(&empty, u, count, &tree);
  qp_free(u);
  if (rc != 0) return rc;
  uint8_t got[QP_HASH_SIZE];
  qp_smt_root(&tree, got);
  if (memcmp(got, root, QP_HASH_SIZE) != 0) {
    snprintf(detail, detail_size,
             "the state table's root is not the head's (height %llu): the state is damaged, "
             "or the store was written by an older quipu (re-create it)",
             (unsigned long long)height);
    qp_smt_release(&tree);
    return QP_ECORRUPT;
  }
  qp__chain_state_set_head(st, height, root, &tree);
  qp_smt_release(&tree);
  return 0;
}

int qp_chain_state_app_key(const char *app, const uint8_t *key, size_t key_len,
                           uint8_t out[QP_CHAIN_STATE_KEY_MAX], size_t *len_out) {
  size_t app_len = strlen(app);
  if (app_len == 0 || app_len > QP_CHAIN_APP_NAME_MAX || key_len > QP_CHAIN_APP_KEY_MAX)
    return QP_ELIMIT;
  out[0] = QP_CHAIN_STATE_APP;
  out[1] = (uint8_t)app_len;
  memcpy(out + 2, app, app_len);
  if (key_len > 0) memcpy(out + 2 + app_len, key, key_len);
  *len_out = 2 + app_len + key_len;
  return 0;
}

void qp_chain_state_nonce_key(const uint8_t *sender, size_t sender_len,
                              uint8_t out[1 + QP_SIGN_PUBLIC_MAX], size_t *len_out) {
  QP_ASSERT(sender_len <= QP_SIGN_PUBLIC_MAX);
  out[0] = QP_CHAIN_STATE_NONCE;
  memcpy(out + 1, sender, sender_len);
  *len_out = 1 + sender_len;
}

int qp_chain_reader_begin(qp_chain_state_t *st, const qp_chain_batch_t *const *overlays,
                          size_t count, qp_chain_reader_t *r) {
  memset(r, 0, sizeof *r);
  if (count > QP_CHAIN_READER_OVERLAYS_MAX) return QP_ELIMIT;
  r->state = st;
  for (size_t i = 0; i < count; i++) r->overlays[i] = overlays[i];
  r->overlays_count = (uint32_t)count;
  return qp_kv_read_begin(st->kv, st->dbi, &r->txn, NULL);
}

void qp_chain_reader_end(qp_chain_reader_t *r) {
  if (r->txn != NULL) qp_kv_read_end(r->state->kv, r->txn, NULL);
  r->txn = NULL;
}

int qp_chain_reader_get(qp_chain_reader_t *r, const uint8_t *key, size_t key_len,
                        const uint8_t **value, size_t *value_len) {
  QP_ASSERT(r->txn != NULL);
  for (uint32_t i = r->overlays_count; i-- > 0;) {
    bool del = false;
    if (qp_chain_batch_get(r->overlays[i], key, key_len, value, value_len, &del) == 0)
      return del ? QP_ENOTFOUND : 0;
  }
  MDB_val k = {key_len, (void *)key}, v;
  int rc = mdb_get(r->txn, r->state->dbi, &k, &v);
  if (rc != 0) return qp_kv_err(rc);
  *value = v.mv_data;
  *value_len = v.mv_size;
  return 0;
}

int qp_chain_reader_nonce(qp_chain_reader_t *r, const uint8_t *sender, size_t sender_len,
                          uint64_t *nonce) {
  uint8_t key[1 + QP_SIGN_PUBLIC_MAX];
  size_t key_len = 0;
  *nonce = 0;
  if (sender_len > QP_SIGN_PUBLIC_MAX) return QP_EINVAL;
  qp_chain_state_nonce_key(sender, sender_len, key, &key_len);
  const uint8_t *v = NULL;
  size_t n = 0;
  int rc = qp_chain_reader_get(r, key, key_len, &v, &n);
  if (rc == QP_ENOTFOUND) return 0;
  if (rc != 0) return rc;
  if (n != 8) return QP_ECORRUPT;
  *nonce = qp_load_u64(v);
  return 0;
}

static int app_view_get(void *vctx, const uint8_t *key, size_t key_len, const uint8_t **value,
                        size_t *value_len) {
  qp_chain_app_view_ctx_t *ctx = vctx;
  uint8_t full[QP_CHAIN_STATE_KEY_MAX];
  size_t len = 0;
  int rc = qp_chain_state_app_key(ctx->app, key, key_len, full, &len);
  if (rc != 0) return QP_ENOTFOUND; /* a key too long is never stored */
  return qp_chain_reader_get(ctx->reader, full, len, value, value_len);
}

static int app_view_get_other(void *vctx, const char *app, const uint8_t *key, size_t key_len,
                              const uint8_t **value, size_t *value_len) {
  qp_chain_app_view_ctx_t *ctx = vctx;
  uint8_t full[QP_CHAIN_STATE_KEY_MAX];
  size_t len = 0;
  if (qp_chain_state_app_key(app, key, key_len, full, &len) != 0) return QP_ENOTFOUND;
  return qp_chain_reader_get(ctx->reader, full, len, value, value_len);
}

void qp_chain_reader_app_view(qp_chain_reader_t *r, const char *app,
                              qp_chain_app_view_ctx_t *view_ctx, qp_chain_view_t *view) {
  view_ctx->reader = r;
  view_ctx->app = app;
  view->get = app_view_get;
  view->get_app = app_view_get_other;
  view->ctx = view_ctx;
  view->height = 0;
  view->time_s = 0;
  view->prev_root = NULL;
  view->genesis = &r->state->genesis;
}

int qp_chain_state_nonce(void *state, const uint8_t *sender, size_t sender_len,
                         uint64_t *nonce) {
  qp_chain_reader_t r;
  *nonce = 0;
  int rc = qp_chain_reader_begin(state, NULL, 0, &r);
  if (rc != 0) return rc;
  rc = qp_chain_reader_nonce(&r, sender, sender_len, nonce);
  qp_chain_reader_end(&r);
  return rc;
}

typedef struct apply_ctx {
  MDB_txn *txn; /* the store's write transaction */
  MDB_dbi dbi;  /* the state table */
} apply_ctx_t;

static int apply_one(void *vctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                     size_t value_len, bool del) {
  apply_ctx_t *c = vctx;
  MDB_val k = {key_len, (void *)key}, v = {value_len, (void *)value};
  if (!del) return mdb_put(c->txn, c->dbi, &k, &v, 0);
  int rc = mdb_del(c->txn, c->dbi, &k, NULL);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

int qp__chain_state_apply(qp_chain_state_t *st, MDB_txn *txn, const qp_chain_batch_t *b) {
  apply_ctx_t c = {txn, st->dbi};
  return qp__chain_batch_each(b, apply_one, &c);
}
