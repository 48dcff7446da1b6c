/*
 * forward.c - transactions a node admitted from its clients travel to the
 * other validators in batches (forward.h has the frame; docs/chain.md,
 * "The node"), so that whichever leader comes next can include them.
 *
 * Admission appends each transaction to an outbox; the outbox leaves as one
 * peer frame when an HTTP request ends (qp__chain_forward_flush), when the
 * driver thread wakes, or at once when it reaches QP__CHAIN_FORWARD_BYTES.
 * A receiver admits the transactions in order, each on its own merits, and
 * stops at the first element that does not fit the frame.
 */
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "chain/forward.h"
#include "chain/node_int.h"

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- the frame (forward.h) ---------------------------------------------- */

bool qp_chain_fwd_append(qp_buf_t *buf, uint32_t *count, const uint8_t *tx, size_t len) {
  size_t before = buf->len;
  uint8_t header[QP_CHAIN_FWD_HEADER] = {QP_CHAIN_FWD_CHANNEL}, size[4];
  put_u32(size, (uint32_t)len);
  buf->failed = false;
  bool ok = len > 0 && len <= UINT32_MAX &&
            (before > 0 || qp_buf_append(buf, header, sizeof header)) &&
            qp_buf_append(buf, size, sizeof size) && qp_buf_append(buf, tx, len);
  if (!ok) {
    buf->len = before;
    return false;
  }
  (*count)++;
  return true;
}

void qp_chain_fwd_seal(qp_buf_t *buf, uint32_t count) {
  put_u32((uint8_t *)buf->data + 1, count);
}

bool qp_chain_fwd_open(qp_chain_fwd_reader_t *r, const uint8_t *bytes, size_t len) {
  memset(r, 0, sizeof *r);
  if (len < QP_CHAIN_FWD_HEADER || bytes[0] != QP_CHAIN_FWD_CHANNEL) return false;
  r->bytes = bytes;
  r->len = len;
  r->at = QP_CHAIN_FWD_HEADER;
  r->left = get_u32(bytes + 1);
  return true;
}

bool qp_chain_fwd_next(qp_chain_fwd_reader_t *r, const uint8_t **tx, size_t *tx_len) {
  if (r->left == 0 || r->len - r->at < 4) return false;
  uint32_t n = get_u32(r->bytes + r->at);
  if (n == 0 || n > r->len - r->at - 4) return false;
  *tx = r->bytes + r->at + 4;
  *tx_len = n;
  r->at += 4 + (size_t)n;
  r->left--;
  return true;
}

bool qp_chain_fwd_done(const qp_chain_fwd_reader_t *r) {
  return r->bytes != NULL && r->left == 0 && r->at == r->len;
}

/* ---- the node's outbox ---------------------------------------------------- */

/* Sends the outbox as one frame (fwd_mutex held). */
static void flush_locked(qp__chain_node_t *n) {
  if (n->fwd_count == 0) return;
  qp_chain_fwd_seal(&n->fwd, n->fwd_count);
  qp_net_broadcast(n->net, n->fwd.data, n->fwd.len);
  n->fwd.len = 0;
  n->fwd_count = 0;
}

void qp__chain_forward_tx(qp__chain_node_t *n, const uint8_t *bytes, size_t len) {
  pthread_mutex_lock(&n->fwd_mutex);
  n->fwd.max = QP__CHAIN_FORWARD_BYTES + QP_CHAIN_TX_BYTES_MAX + 64;
  if (!qp_chain_fwd_append(&n->fwd, &n->fwd_count, bytes, len))
    QP_LOG_WARN("chain", "out of memory forwarding a transaction; it stays in this mempool");
  if (n->fwd.len >= QP__CHAIN_FORWARD_BYTES) flush_locked(n);
  pthread_mutex_unlock(&n->fwd_mutex);
}

void qp__chain_forward_flush(qp__chain_node_t *n) {
  pthread_mutex_lock(&n->fwd_mutex);
  flush_locked(n);
  pthread_mutex_unlock(&n->fwd_mutex);
}

size_t qp__chain_admit_forwarded(qp__chain_node_t *n, const uint8_t *bytes, size_t len) {
  qp_chain_fwd_reader_t r;
  if (!qp_chain_fwd_open(&r, bytes, len)) return 0;
  const uint8_t *tx = NULL;
  size_t tx_len = 0, admitted = 0;
  while (qp_chain_fwd_next(&r, &tx, &tx_len)) {
    qp_chain_admit_t result = QP_CHAIN_ADMIT_OK;
    if (qp_chain_mempool_add(n->mempool, tx, tx_len, &result, NULL, NULL, 0) == 0) admitted++;
  }
  if (!qp_chain_fwd_done(&r))
    QP_LOG_DEBUG("chain", "a malformed forwarded-transactions frame (the rest was dropped)");
  return admitted;
}
