/*
 * store_read.c - reading the block store (store.h): a block by height, a
 * transaction's place, a receipt.  Every record read back is checked
 * against its layout (store.c) and a mismatch is QP_ECORRUPT, never a
 * read past the record.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "chain/store_int.h"

/* One part: u32 len || bytes, within [*at, len). */
static bool get_part(const uint8_t *p, size_t len, size_t *at, const uint8_t **out,
                     uint32_t *out_len) {
  if (len - *at < 4) return false;
  uint32_t n = qp_load_u32(p + *at);
  if (n > len - *at - 4) return false;
  *out = p + *at + 4;
  *out_len = n;
  *at += 4 + (size_t)n;
  return true;
}

static int block_decode(uint64_t height, uint8_t *mem, size_t len, qp_chain_block_t *out) {
  if (len < QP_CHAIN_BLOCK_FIXED || mem[0] != QP_CHAIN_BLOCK_VERSION) return QP_ECORRUPT;
  out->height = height;
  memcpy(out->hash, mem + 1, QP_HASH_SIZE);
  memcpy(out->parent_hash, mem + 1 + QP_HASH_SIZE, QP_HASH_SIZE);
  memcpy(out->state_root, mem + 1 + 2 * QP_HASH_SIZE, QP_HASH_SIZE);
  memcpy(out->receipts_root, mem + 1 + 3 * QP_HASH_SIZE, QP_HASH_SIZE);
  size_t at = 1 + 4 * QP_HASH_SIZE;
  if (!get_part(mem, len, &at, &out->header, &out->header_len) ||
      !get_part(mem, len, &at, &out->qc, &out->qc_len) ||
      !get_part(mem, len, &at, &out->body, &out->body_len) ||
      !get_part(mem, len, &at, &out->receipt_hashes, &out->receipt_hashes_len) || at != len ||
      out->receipt_hashes_len % QP_HASH_SIZE != 0)
    return QP_ECORRUPT;
  return 0;
}

int qp_chain_store_block(qp_chain_store_t *s, uint64_t height, qp_chain_block_t *out) {
  QP_ASSERT(s != NULL && out != NULL);
  memset(out, 0, sizeof *out);
  MDB_txn *txn = NULL;
  int rc = qp_kv_read_begin(s->kv, s->blocks, &txn, NULL);
  if (rc != 0) return rc;
  uint8_t key[8];
  qp_store_u64_be(key, height);
  MDB_val k = {sizeof key, key}, v;
  rc = qp_kv_err(mdb_get(txn, s->blocks, &k, &v));
  if (rc == 0) {
    out->mem = qp_malloc(v.mv_size > 0 ? v.mv_size : 1);
    if (out->mem == NULL) rc = QP_ENOMEM;
    else memcpy(out->mem, v.mv_data, v.mv_size);
  }
  qp_kv_read_end(s->kv, txn, NULL);
  if (rc == 0) rc = block_decode(height, out->mem, v.mv_size, out);
  if (rc != 0) qp_chain_block_deinit(out);
  return rc;
}

void qp_chain_block_deinit(qp_chain_block_t *b) {
  if (b == NULL) return;
  qp_free(b->mem);
  memset(b, 0, sizeof *b);
}

int qp_chain_store_above(qp_chain_store_t *s, uint64_t height, uint8_t **out, size_t *len) {
  *out = NULL;
  *len = 0;
  MDB_txn *txn = NULL;
  int rc = qp_kv_read_begin(s->kv, s->meta, &txn, NULL);
  if (rc != 0) return rc;
  uint8_t key[13] = {'a', 'b', 'o', 'v', 'e'};
  qp_store_u64_be(key + 5, height);
  MDB_val k = {sizeof key, key}, v;
  rc = qp_kv_err(mdb_get(txn, s->meta, &k, &v));
  if (rc == 0 && (*out = qp_malloc(v.mv_size > 0 ? v.mv_size : 1)) == NULL) rc = QP_ENOMEM;
  if (rc == 0) {
    memcpy(*out, v.mv_data, v.mv_size);
    *len = v.mv_size;
  }
  qp_kv_read_end(s->kv, txn, NULL);
  return rc;
}

int qp_chain_store_height_of(qp_chain_store_t *s, const uint8_t hash[QP_HASH_SIZE],
                             uint64_t *height) {
  MDB_txn *txn = NULL;
  int rc = qp_kv_read_begin(s->kv, s->hashes, &txn, NULL);
  if (rc != 0) return rc;
  MDB_val k = {QP_HASH_SIZE, (void *)hash}, v;
  rc = qp_kv_err(mdb_get(txn, s->hashes, &k, &v));
  if (rc == 0 && v.mv_size != 8) rc = QP_ECORRUPT;
  if (rc == 0) *height = qp_load_u64_be(v.mv_data);
  qp_kv_read_end(s->kv, txn, NULL);
  return rc;
}

/* A transaction's place (the txs table: u64 LE height || u32 LE index) in
 * an open read transaction. */
static int place_get(qp_chain_store_t *s, MDB_txn *txn, const uint8_t hash[QP_HASH_SIZE],
                     uint64_t *height, uint32_t *index) {
  MDB_val k = {QP_HASH_SIZE, (void *)hash}, v;
  int rc = qp_kv_err(mdb_get(txn, s->txs, &k, &v));
  if (rc == 0 && v.mv_size != 12) rc = QP_ECORRUPT;
  if (rc == 0) {
    *height = qp_load_u64(v.mv_data);
    *index = qp_load_u32((const uint8_t *)v.mv_data + 8);
  }
  return rc;
}

int qp_chain_store_tx(qp_chain_store_t *s, const uint8_t hash[QP_HASH_SIZE], uint64_t *height,
                      uint32_t *index) {
  MDB_txn *txn = NULL;
  int rc = qp_kv_read_begin(s->kv, s->txs, &txn, NULL);
  if (rc != 0) return rc;
  rc = place_get(s, txn, hash, height, index);
  qp_kv_read_end(s->kv, txn, NULL);
  return rc;
}

/* The receipt of the transaction, kept under its place, or under its hash
 * in a store written before receipts_at. */
static int receipt_get(qp_chain_store_t *s, MDB_txn *txn, const uint8_t hash[QP_HASH_SIZE],
                       MDB_val *v) {
  uint64_t height = 0;
  uint32_t index = 0;
  int rc = place_get(s, txn, hash, &height, &index);
  if (rc != 0) return rc;
  uint8_t at[QP__CHAIN_RECEIPT_KEY];
  qp__chain_receipt_key(height, index, at);
  MDB_val a = {sizeof at, at}, k = {QP_HASH_SIZE, (void *)hash};
  rc = qp_kv_err(mdb_get(txn, s->receipts_at, &a, v));
  if (rc == QP_ENOTFOUND) rc = qp_kv_err(mdb_get(txn, s->receipts, &k, v));
  return rc;
}

int qp_chain_store_receipt(qp_chain_store_t *s, const uint8_t hash[QP_HASH_SIZE], char **json,
                           size_t *len) {
  *json = NULL;
  *len = 0;
  MDB_txn *txn = NULL;
  int rc = qp_kv_read_begin(s->kv, s->receipts_at, &txn, NULL);
  if (rc != 0) return rc;
  MDB_val v;
  rc = receipt_get(s, txn, hash, &v);
  if (rc == 0) {
    *json = qp_malloc(v.mv_size + 1);
    if (*json == NULL) {
      rc = QP_ENOMEM;
    } else {
      memcpy(*json, v.mv_data, v.mv_size);
      (*json)[v.mv_size] = '\0';
      *len = v.mv_size;
    }
  }
  qp_kv_read_end(s->kv, txn, NULL);
  return rc;
}
