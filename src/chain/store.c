/*
 * store.c - the block store (store.h) in one LMDB environment:
 *
 *   blocks    u64 BE height -> u8 version 1 || hash || parent hash ||
 *             state root || receipts root || u32 header_len || header ||
 *             u32 qc_len || qc || u32 body_len || body
 *   txs       tx hash -> u64 LE height || u32 LE index (first inclusion)
 *   receipts_at  u64 BE height || u32 BE index -> receipt JSON (first
 *             inclusion; appended in commit order, so a block's receipts
 *             fill pages one after the other instead of one random leaf each)
 *   receipts  tx hash -> receipt JSON: only in stores written before
 *             receipts_at, read when receipts_at lacks a transaction
 *   hashes    block hash -> u64 BE height
 *   state     the state (state.h)
 *   meta      "genesis" -> the genesis hash; "head" -> u64 LE height ||
 *             hash || state root
 *
 * A commit writes all of them in one LMDB transaction, so the head, the
 * state and the blocks always agree, even after a crash.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "chain/store_int.h"
#include "store/store.h"

void qp__chain_head_encode(const qp_chain_head_t *h, uint8_t out[QP_CHAIN_HEAD_BYTES]) {
  qp_store_u64(out, h->height);
  memcpy(out + 8, h->hash, QP_HASH_SIZE);
  memcpy(out + 8 + QP_HASH_SIZE, h->state_root, QP_HASH_SIZE);
}

typedef struct init_ctx {
  qp_chain_store_t *s; /* the store */
  bool fresh;          /* no genesis was recorded: record it */
} init_ctx_t;

/* Records the genesis and the head at height 0 in a fresh store. */
static int init_fresh(void *vctx, MDB_txn *txn) {
  init_ctx_t *c = vctx;
  qp_chain_head_t h = {0};
  memcpy(h.hash, c->s->genesis, QP_HASH_SIZE); /* state_root: the empty tree's, zeros */
  uint8_t head[QP_CHAIN_HEAD_BYTES];
  qp__chain_head_encode(&h, head);
  MDB_val gk = {7, "genesis"}, gv = {QP_HASH_SIZE, c->s->genesis};
  MDB_val hk = {4, "head"}, hv = {QP_CHAIN_HEAD_BYTES, head};
  int rc = mdb_put(txn, c->s->meta, &gk, &gv, MDB_NOOVERWRITE);
  return rc != 0 ? rc : mdb_put(txn, c->s->meta, &hk, &hv, 0);
}

/* Reads genesis and head; a fresh store gets them written. */
static int load_meta(qp_chain_store_t *s, char *detail, size_t detail_size) {
  MDB_txn *txn = NULL;
  int rc = qp_kv_read_begin(s->kv, s->meta, &txn, NULL);
  if (rc != 0) return rc;
  MDB_val gk = {7, "genesis"}, hk = {4, "head"}, gv, hv;
  int grc = mdb_get(txn, s->meta, &gk, &gv), hrc = mdb_get(txn, s->meta, &hk, &hv);
  rc = 0;
  if (grc == 0 && (gv.mv_size != QP_HASH_SIZE || hrc != 0 || hv.mv_size != QP_CHAIN_HEAD_BYTES)) {
    snprintf(detail, detail_size, "the chain store's meta table is damaged");
    rc = QP_ECORRUPT;
  } else if (grc == 0 && memcmp(gv.mv_data, s->genesis, QP_HASH_SIZE) != 0) {
    snprintf(detail, detail_size, "this chain store belongs to another network (genesis hash)");
    rc = QP_EINVAL;
  } else if (grc == 0) {
    const uint8_t *p = hv.mv_data;
    s->head.height = qp_load_u64(p);
    memcpy(s->head.hash, p + 8, QP_HASH_SIZE);
    memcpy(s->head.state_root, p + 8 + QP_HASH_SIZE, QP_HASH_SIZE);
  } else if (grc != MDB_NOTFOUND) {
    rc = qp_kv_err(grc);
  }
  qp_kv_read_end(s->kv, txn, NULL);
  if (rc != 0 || grc == 0) return rc;
  init_ctx_t c = {s, true};
  rc = qp_kv_write(s->kv, init_fresh, &c);
  if (rc == 0) {
    s->head.height = 0;
    memcpy(s->head.hash, s->genesis, QP_HASH_SIZE);
    memset(s->head.state_root, 0, QP_HASH_SIZE);
  }
  return rc;
}

static int open_tables(qp_chain_store_t *s, char *detail, size_t detail_size) {
  const qp_kv_table_t tables[] = {
      {"blocks", MDB_CREATE, &s->blocks}, {"txs", MDB_CREATE, &s->txs},
      {"receipts", MDB_CREATE, &s->receipts}, {"receipts_at", MDB_CREATE, &s->receipts_at},
      {"state", MDB_CREATE, &s->state},
      {"meta", MDB_CREATE, &s->meta}, {"hashes", MDB_CREATE, &s->hashes},
  };
  const char *failed = NULL;
  int rc = qp_kv_dbis(s->kv, tables, sizeof tables / sizeof tables[0], &failed);
  if (rc != 0) snprintf(detail, detail_size, "chain store table %s: %s", failed ? failed : "?",
                        qp_strerror(rc));
  return rc;
}

int qp_chain_store_open(const char *dir, const qp_chain_genesis_t *g, size_t map_size,
                        qp_chain_store_t **out, char *detail, size_t detail_size) {
  QP_ASSERT(dir != NULL && g != NULL && out != NULL);
  *out = NULL;
  char scratch[8];
  if (detail == NULL || detail_size == 0) {
    detail = scratch;
    detail_size = sizeof scratch;
  }
  qp_chain_store_t *s = qp_calloc(1, sizeof *s);
  if (s == NULL) return QP_ENOMEM;
  memcpy(s->genesis, g->hash, QP_HASH_SIZE);
  int rc = pthread_mutex_init(&s->mu, NULL) != 0 ? QP_ENOMEM : 0;
  if (rc != 0) {
    qp_free(s);
    return rc;
  }
  if (qp_mkdir_p(dir) != 0) rc = QP_EIO;
  if (rc == 0)
    rc = qp_kv_open(dir, map_size ? map_size : QP_CHAIN_STORE_MAP_DEFAULT, MDB_NOTLS, 8, &s->kv,
                    detail, detail_size);
  if (rc == 0) {
    qp_kv_write_policy_t policy = {.map_size_max = QP_CHAIN_STORE_MAP_MAX};
    qp_kv_set_write_policy(s->kv, &policy);
    rc = open_tables(s, detail, detail_size);
  }
  if (rc == 0) rc = load_meta(s, detail, detail_size);
  if (rc == 0) rc = qp__chain_state_new(s->kv, s->state, g, &s->st);
  if (rc == 0)
    rc = qp__chain_state_load(s->st, s->head.height, s->head.state_root, detail, detail_size);
  if (rc != 0) {
    qp_chain_store_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

void qp_chain_store_close(qp_chain_store_t *s) {
  if (s == NULL) return;
  qp__chain_state_free(s->st);
  qp_kv_close(s->kv);
  pthread_mutex_destroy(&s->mu);
  qp_free(s);
}

qp_chain_state_t *qp_chain_store_state(qp_chain_store_t *s) { return s->st; }

void qp_chain_store_head(qp_chain_store_t *s, qp_chain_head_t *out) {
  pthread_mutex_lock(&s->mu);
  *out = s->head;
  pthread_mutex_unlock(&s->mu);
}
