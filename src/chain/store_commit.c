/*
 * store_commit.c - committing a block with its execution (store.h): the
 * checks that it follows the head, then one LMDB write transaction with
 * the block record, the tx index, the receipts, the state writes and the
 * new head.  The in-memory head moves only after LMDB committed.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "chain/store_int.h"

typedef struct commit_ctx {
  qp_chain_store_t *s;             /* the store */
  const qp_chain_block_in_t *b;    /* the block */
  const qp_chain_exec_t *exec;     /* its execution */
  const uint8_t *record;           /* the encoded block record */
  size_t record_len;               /* its bytes */
  qp_chain_head_t head;            /* the new head */
} commit_ctx_t;

static void put_part(uint8_t *out, size_t *n, const uint8_t *p, size_t len) {
  qp_store_u32(out + *n, (uint32_t)len);
  if (len > 0) memcpy(out + *n + 4, p, len);
  *n += 4 + len;
}

/* The block record (store.c), qp_malloc'ed. */
static uint8_t *record_encode(const qp_chain_block_in_t *b, const qp_chain_exec_t *x,
                              size_t *len_out) {
  size_t hashes_len = x->receipts.count * QP_HASH_SIZE;
  size_t len = QP_CHAIN_BLOCK_FIXED + b->header_len + b->qc_len + b->body_len + hashes_len, n = 0;
  uint8_t *out = qp_malloc(len);
  if (out == NULL) return NULL;
  out[n++] = QP_CHAIN_BLOCK_VERSION;
  memcpy(out + n, b->hash, QP_HASH_SIZE);
  memcpy(out + n + QP_HASH_SIZE, b->parent_hash, QP_HASH_SIZE);
  memcpy(out + n + 2 * QP_HASH_SIZE, x->state_root, QP_HASH_SIZE);
  memcpy(out + n + 3 * QP_HASH_SIZE, x->receipts_root, QP_HASH_SIZE);
  n += 4 * QP_HASH_SIZE;
  put_part(out, &n, b->header, b->header_len);
  put_part(out, &n, b->qc, b->qc_len);
  put_part(out, &n, b->body, b->body_len);
  put_part(out, &n, x->receipt_hashes, hashes_len);
  QP_ASSERT(n == len);
  *len_out = len;
  return out;
}

/* One tx's index entry and receipt; a hash seen before keeps its first.
 * The receipt is appended under the tx's place (height, index): keys grow
 * with every commit, so MDB_APPEND fills pages in order. */
static int put_tx(commit_ctx_t *c, MDB_txn *txn, uint32_t index) {
  const qp_chain_receipt_t *r = qp_array_at(&c->exec->receipts, index);
  uint8_t where[12], at[QP__CHAIN_RECEIPT_KEY];
  qp_store_u64(where, c->b->height);
  qp_store_u32(where + 8, index);
  MDB_val k = {QP_HASH_SIZE, (void *)r->tx}, w = {sizeof where, where};
  int rc = mdb_put(txn, c->s->txs, &k, &w, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) return 0;
  if (rc != 0) return rc;
  qp__chain_receipt_key(c->b->height, index, at);
  MDB_val a = {sizeof at, at}, v = {r->json_len, r->json};
  return mdb_put(txn, c->s->receipts_at, &a, &v, MDB_APPEND);
}

static int commit_fn(void *vctx, MDB_txn *txn) {
  commit_ctx_t *c = vctx;
  uint8_t height[8], head[QP_CHAIN_HEAD_BYTES];
  qp_store_u64_be(height, c->b->height);
  MDB_val k = {sizeof height, height}, v = {c->record_len, (void *)c->record};
  int rc = mdb_put(txn, c->s->blocks, &k, &v, MDB_NOOVERWRITE);
  MDB_val bk = {QP_HASH_SIZE, (void *)c->b->hash}, bv = {sizeof height, height};
  if (rc == 0) rc = mdb_put(txn, c->s->hashes, &bk, &bv, 0);
  for (size_t i = 0; rc == 0 && i < c->exec->receipts.count; i++)
    rc = put_tx(c, txn, (uint32_t)i);
  if (rc == 0) rc = qp__chain_state_apply(c->s->st, txn, c->exec->batch);
  uint8_t above[13] = {'a', 'b', 'o', 'v', 'e'};
  qp_store_u64_be(above + 5, c->b->height);
  MDB_val ak = {sizeof above, above}, av = {c->b->above_len, (void *)c->b->above};
  if (rc == 0 && c->b->above_len > 0) rc = mdb_put(txn, c->s->meta, &ak, &av, 0);
  qp__chain_head_encode(&c->head, head);
  MDB_val hk = {4, "head"}, hv = {sizeof head, head};
  if (rc == 0) rc = mdb_put(txn, c->s->meta, &hk, &hv, 0);
  return rc;
}

/* The checks that b and exec follow the head; detail says which fails. */
static int follows(const qp_chain_head_t *h, const qp_chain_block_in_t *b,
                   const qp_chain_exec_t *x, char *detail, size_t detail_size) {
  const char *why = NULL;
  if (b->height != h->height + 1) why = "the block's height is not the head's + 1";
  else if (memcmp(b->parent_hash, h->hash, QP_HASH_SIZE) != 0)
    why = "the block's parent hash is not the head's hash";
  else if (x->height != b->height) why = "the execution is of another height";
  else if (memcmp(x->prev_root, h->state_root, QP_HASH_SIZE) != 0)
    why = "the execution did not start from the head's state root";
  else if (x->parent != NULL && x->parent->height != h->height)
    why = "the execution builds on a block that is not the head";
  else if (b->header_len > QP_CHAIN_BLOCK_PART_MAX || b->qc_len > QP_CHAIN_BLOCK_PART_MAX ||
           b->body_len > QP_CHAIN_BLOCK_PART_MAX)
    why = "a part of the block is longer than QP_CHAIN_BLOCK_PART_MAX";
  if (why == NULL) return 0;
  snprintf(detail, detail_size, "%s", why);
  return QP_EINVAL;
}

int qp_chain_store_commit(qp_chain_store_t *s, const qp_chain_block_in_t *b,
                          const qp_chain_exec_t *exec, char *detail, size_t detail_size) {
  QP_ASSERT(s != NULL && b != NULL && exec != NULL && exec->batch != NULL);
  char scratch[8];
  if (detail == NULL || detail_size == 0) {
    detail = scratch;
    detail_size = sizeof scratch;
  }
  qp_chain_head_t head;
  qp_chain_store_head(s, &head);
  int rc = follows(&head, b, exec, detail, detail_size);
  if (rc != 0) return rc;
  commit_ctx_t c = {.s = s, .b = b, .exec = exec};
  c.record = record_encode(b, exec, &c.record_len);
  if (c.record == NULL) return QP_ENOMEM;
  c.head.height = b->height;
  memcpy(c.head.hash, b->hash, QP_HASH_SIZE);
  memcpy(c.head.state_root, exec->state_root, QP_HASH_SIZE);
  rc = qp_kv_write(s->kv, commit_fn, &c);
  qp_free((void *)c.record);
  if (rc != 0) {
    snprintf(detail, detail_size, "writing block %llu: %s", (unsigned long long)b->height,
             qp_strerror(rc));
    return rc;
  }
  pthread_mutex_lock(&s->mu);
  s->head = c.head;
  pthread_mutex_unlock(&s->mu);
  qp__chain_state_set_head(s->st, c.head.height, c.head.state_root, &exec->tree);
  qp__chain_state_set_time(s->st, exec->time_s);
  return 0;
}
