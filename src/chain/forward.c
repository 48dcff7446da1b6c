/*
 * forward.c - transactions a node admitted from its clients travel to the
 * other validators in batches (forward.h has the frame; docs/chain.md,
 * "The node"), so that whichever leader comes next can include them.
 *
 * Admission appends each transaction to an outbox; the outbox leaves as one
 * peer frame once its first transaction has waited QP__CHAIN_FORWARD_LINGER_MS
 * or it holds QP__CHAIN_FORWARD_DUE_BYTES (checked when an HTTP request ends
 * and when the driver wakes: the driver sets its wait by the outbox's due
 * time), and at once when it reaches QP__CHAIN_FORWARD_BYTES.  Lingering a
 * few milliseconds turns a thousand small requests a second into a few
 * hundred frames, and as many fewer wakes on every peer.
 *
 * A frame of QP__CHAIN_VOUCH_TXS_MIN transactions or more leaves with this
 * node's vouch, so that the validators that are not its checkers can admit
 * it without verifying every signature again (vouch.h).  Receivers admit
 * frames on their admission thread (admit.c).
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/array.h"
#include "base/clock.h"

#include "base/err.h"
#include "base/log.h"
#include "chain/forward.h"
#include "chain/node_int.h"
#include "chain/vouch.h"

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

void qp_chain_fwd_seal(qp_buf_t *buf, uint32_t count) { put_u32((uint8_t *)buf->data + 1, count); }

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

/* A frame in the making never grows past this: it leaves once it holds
 * QP__CHAIN_FORWARD_BYTES, so one more transaction at most. */
#define FRAME_BYTES_MAX (QP__CHAIN_FORWARD_BYTES + QP_CHAIN_TX_BYTES_MAX + 64)

/* Sends frame to one transport peer, or to all (UINT32_MAX). */
static void send_to(qp__chain_node_t *n, uint32_t peer, const void *bytes, size_t len) {
  if (peer == UINT32_MAX)
    (void)qp_net_broadcast(n->net, bytes, len);
  else
    (void)qp_net_send(n->net, peer, bytes, len);
}

/* Sends frame with this node's vouch (vouch.h) to peer (UINT32_MAX: all);
 * false when it cannot (not a member of the current epoch, out of memory):
 * it then goes as it is. */
static bool send_vouched(qp__chain_node_t *n, uint32_t peer, const uint8_t *frame, size_t len) {
  qp__chain_roster_t r;
  qp__chain_roster(n, UINT32_MAX, &r);
  if (r.self < 0 || r.count < 2) return false;
  uint8_t digest[QP_HASH_SIZE], sig[QP_CHAIN_VOUCH_SIG_SIZE];
  if (qp_chain_vouch_digest(n->genesis.suite, frame, len, digest) != 0 ||
      qp_chain_vouch_sign(n->key, n->genesis.hash, digest, sig) != 0)
    return false;
  uint8_t *out = qp_malloc(QP_CHAIN_VOUCHED_HEADER + len);
  if (out == NULL) return false;
  qp_chain_vouched_write(sig, frame, len, out);
  send_to(n, peer, out, QP_CHAIN_VOUCHED_HEADER + len);
  qp_free(out);
  atomic_fetch_add(&n->vouches_sent, 1);
  return true;
}

/* Sends a sealed forward frame to peer (UINT32_MAX: all): with this node's
 * vouch when it carries enough transactions to be worth one. */
static void send_frame(qp__chain_node_t *n, uint32_t peer, const qp_buf_t *frame) {
  const uint8_t *bytes = (const uint8_t *)frame->data;
  if (get_u32(bytes + 1) < QP__CHAIN_VOUCH_TXS_MIN || !send_vouched(n, peer, bytes, frame->len))
    send_to(n, peer, bytes, frame->len);
}

/* Sends the outbox as one frame (fwd_mutex held). */
static void flush_locked(qp__chain_node_t *n) {
  if (n->fwd_count == 0) return;
  qp_chain_fwd_seal(&n->fwd, n->fwd_count);
  send_frame(n, UINT32_MAX, &n->fwd);
  n->fwd.len = 0;
  n->fwd_count = 0;
  atomic_store(&n->fwd_due_ms, 0);
}

static uint64_t now_ms(void) { return qp_clock_mono_ns() / 1000000u; }

void qp__chain_forward_tx(qp__chain_node_t *n, const uint8_t *bytes, size_t len) {
  pthread_mutex_lock(&n->fwd_mutex);
  bool was_empty = n->fwd_count == 0;
  n->fwd.max = FRAME_BYTES_MAX;
  if (!qp_chain_fwd_append(&n->fwd, &n->fwd_count, bytes, len))
    QP_LOG_WARN("chain", "out of memory forwarding a transaction; it stays in this mempool");
  bool started = was_empty && n->fwd_count > 0;
  if (started) atomic_store(&n->fwd_due_ms, now_ms() + QP__CHAIN_FORWARD_LINGER_MS);
  if (n->fwd.len >= QP__CHAIN_FORWARD_BYTES) flush_locked(n);
  pthread_mutex_unlock(&n->fwd_mutex);
  if (started) { /* a waiting driver sets its deadline by the new due time */
    pthread_mutex_lock(&n->mutex);
    if (n->driver_waiting) pthread_cond_signal(&n->cond);
    pthread_mutex_unlock(&n->mutex);
  }
}

void qp__chain_forward_flush_due(qp__chain_node_t *n) {
  uint64_t due = atomic_load(&n->fwd_due_ms);
  if (due == 0) return;
  pthread_mutex_lock(&n->fwd_mutex);
  if (now_ms() >= due || n->fwd.len >= QP__CHAIN_FORWARD_DUE_BYTES) flush_locked(n);
  pthread_mutex_unlock(&n->fwd_mutex);
}

uint64_t qp__chain_forward_wait_ms(qp__chain_node_t *n) {
  uint64_t due = atomic_load(&n->fwd_due_ms), now = now_ms();
  return due == 0 ? UINT64_MAX : due > now ? due - now : 0;
}

/* ---- the pool for a peer that connected ------------------------------------ */

/* The pool copied into forward frames, so that nothing is sent under its lock. */
typedef struct pool_copy {
  qp_array_t frames; /* of qp_buf_t, sealed */
  qp_buf_t cur;      /* the frame being filled */
  uint32_t cur_count;
  size_t bytes; /* transaction bytes copied so far */
  uint32_t txs; /* transactions copied so far */
  bool failed;  /* out of memory: what was copied still goes */
} pool_copy_t;

static bool seal_frame(pool_copy_t *c) {
  if (c->cur_count == 0) return true;
  qp_buf_t *slot = qp_array_push(&c->frames);
  if (slot == NULL) return false;
  qp_chain_fwd_seal(&c->cur, c->cur_count);
  *slot = c->cur;
  c->cur = (qp_buf_t){.max = c->cur.max};
  c->cur_count = 0;
  return true;
}

static bool copy_tx(void *ctx, const uint8_t *bytes, size_t len) {
  pool_copy_t *c = ctx;
  if (c->bytes + len > QP__CHAIN_POOL_RESEND_BYTES) return false;
  if (!qp_chain_fwd_append(&c->cur, &c->cur_count, bytes, len)) {
    c->failed = true;
    return false;
  }
  c->bytes += len;
  c->txs++;
  if (c->cur.len >= QP__CHAIN_FORWARD_BYTES && !seal_frame(c)) c->failed = true;
  return !c->failed;
}

void qp__chain_forward_pool_to(qp__chain_node_t *n, uint32_t peer) {
  pool_copy_t c;
  memset(&c, 0, sizeof c);
  c.cur.max = FRAME_BYTES_MAX;
  qp_array_init(&c.frames, sizeof(qp_buf_t),
                QP__CHAIN_POOL_RESEND_BYTES / QP__CHAIN_FORWARD_BYTES + 2);
  (void)qp_chain_mempool_each(n->mempool, copy_tx, &c);
  if (!seal_frame(&c)) c.failed = true;
  for (size_t i = 0; i < c.frames.count; i++) {
    qp_buf_t *f = qp_array_at(&c.frames, i);
    send_frame(n, peer, f);
    qp_buf_free(f);
  }
  qp_buf_free(&c.cur);
  qp_array_deinit(&c.frames);
  if (c.txs > 0)
    QP_LOG_INFO("chain", "handed %u transactions of this node's pool (%zu bytes%s) to %s", c.txs,
                c.bytes, c.failed ? "; out of memory, not all" : "",
                peer == UINT32_MAX ? "every peer" : n->epochs.peers.validators[peer].name);
}
