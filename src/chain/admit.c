/*
 * admit.c - the admission thread: transactions other validators forwarded
 * (forward.h) enter this node's mempool here, off the transport's thread,
 * so that a consensus message never waits behind thousands of signature
 * verifications (a proposal that carries transactions not admitted yet is
 * checked by the driver itself, through the mempool's verified cache).
 *
 * Frames come three ways (docs/chain.md, "Vouching"; vouch.h):
 *  - a plain forward frame: every signature is verified here;
 *  - a vouched frame (its forwarder signed its digest): when this node is
 *    one of the frame's f checkers, it verifies every signature and, if
 *    all hold, sends its own vouch to the other validators; otherwise it
 *    checks the forwarder's vouch and holds the frame in the vouch book
 *    until f + 1 members vouched for it, then admits its transactions
 *    without verifying them - or verifies them itself when the vouches do
 *    not come within QP__CHAIN_VOUCH_WAIT_MS;
 *  - a vouch: its signature is checked against the sending member's key
 *    and counted for its frame.
 * Each transaction is admitted on its own merits (nonce, room, ...); a
 * walk stops at the first element that does not fit its frame.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "chain/node_int.h"
#include "chain/vouch.h"

static uint64_t now_ms(void) { return qp_clock_mono_ns() / 1000000u; }

/* Admits a forward frame's transactions in mode; *all_signed (may be
 * NULL): every one decoded and has a valid signature (meaningful for
 * QP_CHAIN_SIG_ATTEST). */
static size_t admit_frame(qp__chain_node_t *n, const uint8_t *bytes, size_t len,
                          qp_chain_sig_mode_t mode, bool *all_signed) {
  if (all_signed != NULL) *all_signed = false;
  qp_chain_fwd_reader_t r;
  if (!qp_chain_fwd_open(&r, bytes, len)) return 0;
  const uint8_t *tx = NULL;
  size_t tx_len = 0, admitted = 0;
  bool signed_ok = true;
  while (qp_chain_fwd_next(&r, &tx, &tx_len)) {
    qp_chain_admit_t result = QP_CHAIN_ADMIT_OK;
    bool sig_ok = false;
    int rc = qp_chain_mempool_admit(n->mempool, tx, tx_len, mode, &result, &sig_ok, NULL, NULL, 0);
    if (rc == 0) admitted++;
    signed_ok = signed_ok && sig_ok;
  }
  bool whole = qp_chain_fwd_done(&r);
  if (!whole)
    QP_LOG_DEBUG("chain", "a malformed forwarded-transactions frame (the rest was dropped)");
  if (all_signed != NULL) *all_signed = whole && signed_ok;
  return admitted;
}

static bool verify_vouch(qp__chain_node_t *n, const qp__chain_roster_t *r,
                         const uint8_t digest[QP_HASH_SIZE], const uint8_t *sig) {
  return qp_chain_vouch_check(n->genesis.suite, r->origin_key, r->origin_key_len, n->genesis.hash,
                              digest, sig);
}

/* As a checker: signs a vouch for digest and sends it to every peer but
 * the frame's forwarder. */
static void send_vouch(qp__chain_node_t *n, const qp__chain_roster_t *r, uint32_t from,
                       const uint8_t digest[QP_HASH_SIZE]) {
  uint8_t sig[QP_CHAIN_VOUCH_SIG_SIZE], out[QP_CHAIN_VOUCH_BYTES];
  if (qp_chain_vouch_sign(n->key, n->genesis.hash, digest, sig) != 0)
    return; /* the others verify the frame themselves when no vouch comes */
  qp_chain_vouch_write(digest, sig, out);
  for (uint32_t p = 0; p < r->peers; p++)
    if (p != from && (int32_t)p != n->self) (void)qp_net_send(n->net, p, out, sizeof out);
  atomic_fetch_add(&n->vouches_sent, 1);
}

static void refused(qp__chain_node_t *n, uint32_t from, const char *what) {
  atomic_fetch_add(&n->vouch_refused, 1);
  QP_LOG_WARN("chain", "peer %s (validator %u): %s", n->epochs.peers.validators[from].name, from,
              what);
}

/* Admits every frame of the book that holds its quorum of vouches. */
static size_t admit_ready(qp__chain_node_t *n, const qp__chain_roster_t *r) {
  size_t admitted = 0;
  qp_chain_vouch_entry_t e;
  while (qp_chain_vouch_book_ready(&n->vouch_book, r->members, qp_chain_vouch_quorum(r->count),
                                   &e)) {
    admitted += admit_frame(n, e.frame, e.len, QP_CHAIN_SIG_VOUCHED, NULL);
    qp_free(e.frame);
  }
  return admitted;
}

/* A vouched frame from transport peer `from`. */
static size_t on_vouched(qp__chain_node_t *n, uint32_t from, const uint8_t *bytes, size_t len) {
  const uint8_t *sig = NULL, *frame = NULL;
  size_t frame_len = 0;
  bool all = false;
  if (!qp_chain_vouched_read(bytes, len, &sig, &frame, &frame_len)) {
    refused(n, from, "a malformed vouched frame (dropped)");
    return 0;
  }
  qp__chain_roster_t r;
  qp__chain_roster(n, from, &r);
  uint8_t digest[QP_HASH_SIZE];
  if (r.origin < 0 || qp_chain_vouch_digest(n->genesis.suite, frame, frame_len, digest) != 0)
    return admit_frame(n, frame, frame_len, QP_CHAIN_SIG_VERIFY, NULL); /* not a member now */
  if (r.self >= 0 && (r.checkers >> r.self & 1u)) { /* one of its checkers */
    size_t admitted = admit_frame(n, frame, frame_len, QP_CHAIN_SIG_ATTEST, &all);
    if (all) send_vouch(n, &r, from, digest);
    else refused(n, from, "a vouched frame with a transaction that does not verify (no vouch)");
    return admitted;
  }
  if (!verify_vouch(n, &r, digest, sig)) {
    refused(n, from, "a vouched frame whose vouch does not verify (dropped)");
    return 0;
  }
  if (!r.checkers_up) /* no vouch can come soon */
    return admit_frame(n, frame, frame_len, QP_CHAIN_SIG_VERIFY, NULL);
  int rc = qp_chain_vouch_book_frame(&n->vouch_book, digest, from, (uint32_t)r.origin, frame,
                                     frame_len, now_ms() + QP__CHAIN_VOUCH_WAIT_MS);
  if (rc != 0) return admit_frame(n, frame, frame_len, QP_CHAIN_SIG_VERIFY, NULL); /* book full */
  return admit_ready(n, &r);
}

/* A checker's vouch from transport peer `from`. */
static size_t on_vouch(qp__chain_node_t *n, uint32_t from, const uint8_t *bytes, size_t len) {
  const uint8_t *digest = NULL, *sig = NULL;
  if (!qp_chain_vouch_read(bytes, len, &digest, &sig)) {
    refused(n, from, "a malformed vouch (dropped)");
    return 0;
  }
  qp__chain_roster_t r;
  qp__chain_roster(n, from, &r);
  if (r.origin < 0) return 0; /* not a member of the current epoch: it does not count */
  if (!verify_vouch(n, &r, digest, sig)) {
    refused(n, from, "a vouch whose signature does not verify (dropped)");
    return 0;
  }
  uint64_t now = now_ms();
  n->vouch_seen_ms[r.origin] = now;
  (void)qp_chain_vouch_book_vouch(&n->vouch_book, digest, (uint32_t)r.origin,
                                  now + QP__CHAIN_VOUCH_KEEP_MS);
  return admit_ready(n, &r);
}

/* True when every checker of a frame from transport peer `from` vouched
 * for some frame lately: alive, only behind. */
static bool checkers_vouching(qp__chain_node_t *n, uint32_t from, uint64_t now) {
  qp__chain_roster_t r;
  qp__chain_roster(n, from, &r);
  if (r.origin < 0) return false;
  for (uint64_t c = r.checkers; c != 0; c &= c - 1) {
    uint64_t seen = n->vouch_seen_ms[__builtin_ctzll(c)];
    if (seen == 0 || now - seen >= QP__CHAIN_VOUCH_WAIT_MS) return false;
  }
  return true;
}

/* Frames whose vouches did not come in time: waited for again while their
 * checkers are vouching for others (a bounded number of times), else
 * verified here. */
static size_t admit_due(qp__chain_node_t *n) {
  size_t admitted = 0;
  qp_chain_vouch_entry_t e;
  uint64_t now = now_ms();
  while (qp_chain_vouch_book_due(&n->vouch_book, now, &e)) {
    if (e.waits < QP__CHAIN_VOUCH_WAITS_MAX && checkers_vouching(n, e.from, now) &&
        qp_chain_vouch_book_requeue(&n->vouch_book, &e, now + QP__CHAIN_VOUCH_WAIT_MS) == 0)
      continue;
    atomic_fetch_add(&n->vouch_timeouts, 1);
    admitted += admit_frame(n, e.frame, e.len, QP_CHAIN_SIG_VERIFY, NULL);
    qp_free(e.frame);
  }
  return admitted;
}

static size_t on_frame(qp__chain_node_t *n, const qp__chain_event_t *e) {
  switch (e->bytes[0]) {
  case QP__CHAIN_CHANNEL_TXS: return admit_frame(n, e->bytes, e->len, QP_CHAIN_SIG_VERIFY, NULL);
  case QP__CHAIN_CHANNEL_VOUCHED: return on_vouched(n, e->from, e->bytes, e->len);
  case QP__CHAIN_CHANNEL_VOUCH: return on_vouch(n, e->from, e->bytes, e->len);
  default: return 0;
  }
}

/* ---- the thread ------------------------------------------------------------ */

void qp__chain_admit_forwarded(qp__chain_node_t *n, uint32_t from, const uint8_t *bytes,
                               size_t len) {
  qp__chain_queue_t q = {&n->admit_mutex, &n->admit_cond, &n->admit_head, &n->admit_tail,
                         &n->admit_bytes, &n->admit_stopping};
  qp__chain_enqueue(n, &q, from, bytes, len);
}

/* The next queued frame, or NULL when the book's next deadline came first
 * (admit_mutex held; waits). */
static qp__chain_event_t *next_frame(qp__chain_node_t *n) {
  while (!n->admit_stopping && n->admit_head == NULL) {
    uint64_t next = qp_chain_vouch_book_next(&n->vouch_book), now = now_ms();
    if (next <= now) return NULL;
    if (next == UINT64_MAX) {
      pthread_cond_wait(&n->admit_cond, &n->admit_mutex);
      continue;
    }
    struct timespec ts;
    qp_clock_deadline_ts(next - now, &ts);
    pthread_cond_timedwait(&n->admit_cond, &n->admit_mutex, &ts);
  }
  qp__chain_event_t *e = n->admit_head;
  if (e == NULL) return NULL;
  n->admit_head = e->next;
  if (n->admit_head == NULL) n->admit_tail = NULL;
  n->admit_bytes -= e->len;
  return e;
}

static void *admitter_main(void *arg) {
  qp__chain_node_t *n = arg;
  (void)pthread_setname_np(pthread_self(), "chain-admit"); /* for top -H, perf, the bench */
  pthread_mutex_lock(&n->admit_mutex);
  while (!n->admit_stopping) {
    qp__chain_event_t *e = next_frame(n);
    pthread_mutex_unlock(&n->admit_mutex);
    size_t admitted = e != NULL ? on_frame(n, e) : 0;
    admitted += admit_due(n);
    if (admitted > 0) qp__chain_wake(n);
    qp_free(e);
    pthread_mutex_lock(&n->admit_mutex);
  }
  pthread_mutex_unlock(&n->admit_mutex);
  return NULL;
}

int qp__chain_admitter_start(qp__chain_node_t *n, char *detail, size_t detail_size) {
  if (pthread_create(&n->admit_thread, NULL, admitter_main, n) != 0) {
    snprintf(detail, detail_size, "cannot start the transaction admission thread");
    return QP_ENOMEM;
  }
  n->admit_started = true;
  return 0;
}

void qp__chain_admitter_stop(qp__chain_node_t *n) {
  if (n->admit_started) {
    pthread_mutex_lock(&n->admit_mutex);
    n->admit_stopping = true;
    pthread_cond_signal(&n->admit_cond);
    pthread_mutex_unlock(&n->admit_mutex);
    pthread_join(n->admit_thread, NULL);
    n->admit_started = false;
  }
  for (qp__chain_event_t *e = n->admit_head, *next; e != NULL; e = next) next = e->next, qp_free(e);
  n->admit_head = n->admit_tail = NULL;
  n->admit_bytes = 0;
  qp_chain_vouch_book_free(&n->vouch_book);
}
