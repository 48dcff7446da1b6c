/*
 * txs.c - a block's body: the list of encoded transactions it carries, its
 * strict decoder and its Merkle root (tx.h).
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "chain/tx.h"

int qp_chain_txs_begin(qp_buf_t *buf) {
  QP_ASSERT(buf != NULL);
  qp_buf_reset(buf);
  static const uint8_t zero[QP_CHAIN_TXS_HEADER];
  if (!qp_buf_append(buf, zero, sizeof zero)) {
    bool limit = buf->max < sizeof zero + 1;
    qp_buf_reset(buf);
    return limit ? QP_ELIMIT : QP_ENOMEM;
  }
  return 0;
}

int qp_chain_txs_add(qp_buf_t *buf, const uint8_t *tx, size_t len) {
  QP_ASSERT(buf != NULL && buf->len >= QP_CHAIN_TXS_HEADER && tx != NULL);
  if (len > UINT32_MAX || buf->len + QP_CHAIN_TXS_FRAME + len + 1 > buf->max) return QP_ELIMIT;
  uint32_t count = qp_load_u32((const uint8_t *)buf->data);
  if (count == UINT32_MAX) return QP_ELIMIT;
  size_t before = buf->len;
  uint8_t frame[QP_CHAIN_TXS_FRAME];
  qp_store_u32(frame, (uint32_t)len);
  if (!qp_buf_append(buf, frame, sizeof frame) || !qp_buf_append(buf, tx, len)) {
    buf->len = before;
    buf->data[before] = '\0';
    buf->failed = false;
    return QP_ENOMEM;
  }
  qp_store_u32((uint8_t *)buf->data, count + 1);
  return 0;
}

int qp_chain_txs_decode(qp_suite_t suite, const uint8_t chain[QP_HASH_SIZE],
                        const uint8_t *body, size_t len, size_t bytes_max, size_t tx_bytes_max,
                        qp_chain_tx_t *txs, size_t txs_max, size_t *count_out, char *detail,
                        size_t detail_size) {
  return qp_chain_txs_decode_known(suite, chain, body, len, bytes_max, tx_bytes_max, NULL, NULL,
                                   txs, txs_max, count_out, detail, detail_size);
}

int qp_chain_txs_decode_known(qp_suite_t suite, const uint8_t chain[QP_HASH_SIZE],
                              const uint8_t *body, size_t len, size_t bytes_max,
                              size_t tx_bytes_max, qp_chain_tx_known_fn known, void *known_ctx,
                              qp_chain_tx_t *txs, size_t txs_max, size_t *count_out,
                              char *detail, size_t detail_size) {
  QP_ASSERT(chain != NULL && count_out != NULL && (body != NULL || len == 0));
  *count_out = 0;
  char scratch[8];
  if (detail == NULL || detail_size == 0) {
    detail = scratch;
    detail_size = sizeof scratch;
  }
  if (len > bytes_max) {
    snprintf(detail, detail_size, "the body is %zu bytes; at most %zu", len, bytes_max);
    return QP_ELIMIT;
  }
  if (len < QP_CHAIN_TXS_HEADER) {
    snprintf(detail, detail_size, "the body is shorter than its count");
    return QP_EPARSE;
  }
  uint32_t count = qp_load_u32(body);
  if (count > txs_max) {
    snprintf(detail, detail_size, "the body holds %u transactions; at most %zu", count, txs_max);
    return QP_ELIMIT;
  }
  size_t at = QP_CHAIN_TXS_HEADER;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t n = len - at >= QP_CHAIN_TXS_FRAME ? qp_load_u32(body + at) : UINT32_MAX;
    if (n == UINT32_MAX || n > len - at - QP_CHAIN_TXS_FRAME) {
      snprintf(detail, detail_size, "txs[%u]: its length passes the end of the body", i);
      return QP_EPARSE;
    }
    at += QP_CHAIN_TXS_FRAME;
    char inner[160] = "";
    int rc = qp_chain_tx_decode_known(suite, body + at, n, tx_bytes_max, known, known_ctx,
                                      &txs[i], inner, sizeof inner);
    if (rc == 0 && memcmp(txs[i].chain, chain, QP_HASH_SIZE) != 0) {
      snprintf(inner, sizeof inner, "chain: bound to another genesis");
      rc = QP_EPARSE;
    }
    if (rc != 0) {
      snprintf(detail, detail_size, "txs[%u]: %s", i, inner);
      return rc;
    }
    at += n;
  }
  if (at != len) {
    snprintf(detail, detail_size, "%zu trailing bytes after the last transaction", len - at);
    return QP_EPARSE;
  }
  *count_out = count;
  return 0;
}

int qp_chain_txs_root(qp_suite_t suite, const qp_chain_tx_t *txs, size_t count,
                      uint8_t root[QP_HASH_SIZE]) {
  QP_ASSERT(txs != NULL || count == 0);
  if (count == 0) return qp_merkle_root(suite, NULL, 0, root);
  if (count > QP_MERKLE_LEAF_COUNT_MAX) return QP_ELIMIT;
  uint8_t *leaves = qp_malloc(count * QP_HASH_SIZE);
  if (leaves == NULL) return QP_ENOMEM;
  for (size_t i = 0; i < count; i++) memcpy(leaves + i * QP_HASH_SIZE, txs[i].hash, QP_HASH_SIZE);
  int rc = qp_merkle_root(suite, leaves, count, root);
  qp_free(leaves);
  return rc;
}
