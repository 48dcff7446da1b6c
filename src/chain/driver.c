/*
 * driver.c - the thread that runs the consensus core (docs/chain.md, "The
 * node"): it takes peer messages, arrived transactions and timer
 * deadlines, feeds them to the core, and performs the core's actions in
 * order - persisting the safety record before anything that follows it,
 * sending, committing, proposing.
 *
 * Peer frames carry a one-byte channel first: consensus messages (the
 * core's bytes) or transactions that a node admitted from a client and
 * forwards to every validator, so that whichever leader comes next can
 * include them.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "chain/catchup.h"
#include "chain/node_int.h"
#include "store/store.h"

/* Proposals one wake may make back to back (propose_all): a single
 * validator certifies its own, so the next view asks again at once. */
#define PROPOSALS_PER_WAKE_MAX 8u

static uint64_t now_ms(void) { return qp_clock_wall_ns() / 1000000u; }

/* ------------------------------------------------------------ inputs */

void qp__chain_on_message(void *ctx, uint32_t peer, const uint8_t *bytes, size_t len) {
  qp__chain_node_t *n = ctx;
  if (len < 2) return;
  if (bytes[0] == QP__CHAIN_CHANNEL_TXS || bytes[0] == QP__CHAIN_CHANNEL_VOUCHED ||
      bytes[0] == QP__CHAIN_CHANNEL_VOUCH) { /* admitted on the admission thread (admit.c) */
    qp__chain_admit_forwarded(n, peer, bytes, len);
    return;
  }
  if (bytes[0] != QP__CHAIN_CHANNEL_CONSENSUS && bytes[0] != QP__CHAIN_CHANNEL_TX &&
      bytes[0] != QP__CHAIN_CHANNEL_EPOCH && bytes[0] != QP__CHAIN_CHANNEL_CATCHUP)
    return;
  if (bytes[0] == QP__CHAIN_CHANNEL_TX) { /* admitted here, on the transport's thread */
    qp_chain_admit_t result = QP_CHAIN_ADMIT_OK;
    if (qp_chain_mempool_add(n->mempool, bytes + 1, len - 1, &result, NULL, NULL, 0) == 0)
      qp__chain_wake(n);
    return;
  }
  qp__chain_queue_t q = {&n->mutex, &n->cond, &n->head, &n->tail, &n->queued_bytes, &n->stopping};
  qp__chain_enqueue(n, &q, peer, bytes, len);
}

void qp__chain_enqueue(qp__chain_node_t *n, const qp__chain_queue_t *q, uint32_t from,
                       const uint8_t *bytes, size_t len) {
  qp__chain_event_t *e = qp_malloc(sizeof *e + len);
  bool room = e != NULL;
  if (room) {
    e->next = NULL;
    e->from = from;
    e->len = len;
    memcpy(e->bytes, bytes, len);
    pthread_mutex_lock(q->mutex);
    room = *q->bytes + len <= QP__CHAIN_QUEUE_BYTES_MAX && !*q->stopping;
    if (room) {
      if (*q->tail)
        (*q->tail)->next = e;
      else
        *q->head = e;
      *q->tail = e;
      *q->bytes += len;
      pthread_cond_signal(q->cond);
    }
    pthread_mutex_unlock(q->mutex);
  }
  if (!room) {
    qp_free(e);
    atomic_fetch_add(&n->dropped_messages, 1);
  }
}

void qp__chain_on_peer(void *ctx, uint32_t peer, bool up) {
  qp__chain_node_t *n = ctx;
  QP_LOG_INFO("chain", "peer %s (validator %u) %s", n->epochs.peers.validators[peer].name, peer,
              up ? "connected" : "disconnected");
  if (!up || peer >= 64) return;
  pthread_mutex_lock(&n->mutex); /* the driver asks it whether we are behind an epoch change */
  n->catchup_peers |= 1ull << peer;
  pthread_cond_signal(&n->cond);
  pthread_mutex_unlock(&n->mutex);
}

void qp__chain_wake(qp__chain_node_t *n) {
  /* The driver only waits for transactions while it knows of none pending
   * or leads a view that waits for them; otherwise it reads the mempool at
   * its next wake anyway, and a wake per arrival would cost more than it
   * tells. */
  if (!atomic_load_explicit(&n->tx_wake_wanted, memory_order_acquire)) return;
  pthread_mutex_lock(&n->mutex);
  n->txs_arrived = true;
  pthread_cond_signal(&n->cond);
  pthread_mutex_unlock(&n->mutex);
}

/* Sends bytes on a channel to one transport peer, or to all (UINT32_MAX). */
static void send_peer(qp__chain_node_t *n, uint8_t channel, uint32_t peer, const uint8_t *bytes,
                      size_t len) {
  uint8_t *frame = qp_malloc(len + 1);
  if (frame == NULL) return;
  frame[0] = channel;
  memcpy(frame + 1, bytes, len);
  if (peer == UINT32_MAX)
    qp_net_broadcast(n->net, frame, len + 1);
  else
    qp_net_send(n->net, peer, frame, len + 1);
  qp_free(frame);
}

/* The same to a validator of the current epoch (the core's index). */
static void send_member(qp__chain_node_t *n, uint32_t member, const uint8_t *bytes, size_t len) {
  uint32_t peer = qp__chain_peer_of(n, member);
  if (peer != UINT32_MAX) send_peer(n, QP__CHAIN_CHANNEL_CONSENSUS, peer, bytes, len);
}

/* ----------------------------------------------------------- actions */

typedef struct driver_state {
  uint64_t timer_at;       /* the core's next deadline */
  bool failed;             /* a PERSIST or COMMIT failed: the driver stops */
  bool new_epoch;          /* a committed block changed the validator set: a new core */
  bool pending_known;      /* pending below was told to the core */
  bool pending;            /* the last thing told */
  uint64_t ask;            /* peers that came up: ask them for catch-up (bit i) */
  uint64_t timeouts_seen;  /* the core's local timeouts when last looked at */
  uint64_t timeout_height; /* the committed height at the last local timeout */
  uint64_t stalled;        /* local timeouts in a row at that height, less one */
} driver_state_t;

static void publish(qp__chain_node_t *n, const qp_hs_block_t *committed) {
  pthread_mutex_lock(&n->pub_mutex);
  n->pub.view = qp_hs_view(n->core);
  n->pub.certified_height = qp_hs_high_qc(n->core)->height;
  n->pub.views_changed = n->views_changed_before + qp_hs_views_by_timeout(n->core);
  if (committed != NULL) {
    qp_chain_head_t head;
    qp_chain_store_head(n->store, &head);
    n->pub.height = head.height;
    memcpy(n->pub.head_hash, committed->hash, QP_HASH_SIZE);
    memcpy(n->pub.state_root, head.state_root, QP_HASH_SIZE);
    n->pub.commits++;
    uint64_t now = now_ms(), ts = committed->header.timestamp_ms;
    n->pub.commit_ms_sum += now > ts ? now - ts : 0;
  }
  pthread_mutex_unlock(&n->pub_mutex);
}

/* The blocks the actions after acts[i] commit, up to the one a's cert
 * certifies (the rest of this commit), into above; returns how many. */
static uint32_t rest_of_commit(const qp_hs_action_t *acts, size_t i, size_t count,
                               const qp_hs_block_t **above) {
  const qp_hs_commit_cert_t *cert = acts[i].cert;
  uint32_t k = 0;
  if (memcmp(cert->child.parent_hash, acts[i].block->hash, QP_HASH_SIZE) == 0) return 0;
  for (size_t j = i + 1; j < count && k + 1 < QP_CHAIN_CATCHUP_BLOCKS_MAX; j++) {
    if (acts[j].kind != QP_HS_ACT_COMMIT) continue;
    above[k++] = acts[j].block;
    if (memcmp(acts[j].block->hash, cert->child.parent_hash, QP_HASH_SIZE) == 0) break;
  }
  return k;
}

static void perform_one(qp__chain_node_t *n, const qp_hs_action_t *acts, size_t i, size_t count,
                        driver_state_t *d) {
  char detail[256];
  const qp_hs_action_t *a = &acts[i];
  const qp_hs_block_t *above[QP_CHAIN_CATCHUP_BLOCKS_MAX];
  uint32_t n_above = 0;
  switch (a->kind) {
    case QP_HS_ACT_PERSIST:
      if (qp_slot_file_write(n->safety, a->bytes, a->len, detail, sizeof detail) != 0) {
        QP_LOG_ERROR("chain", "cannot persist the safety record (%s): stopping consensus", detail);
        d->failed = true;
      }
      break;
    case QP_HS_ACT_SEND: send_member(n, a->to, a->bytes, a->len); break;
    case QP_HS_ACT_BROADCAST:
      send_peer(n, QP__CHAIN_CHANNEL_CONSENSUS, UINT32_MAX, a->bytes, a->len);
      break;
    case QP_HS_ACT_COMMIT:
      n_above = rest_of_commit(acts, i, count, above);
      if (qp__chain_commit(n, a->block, a->cert, above, n_above, &d->new_epoch) != 0)
        d->failed = true;
      else
        publish(n, a->block);
      if (d->new_epoch && !d->failed &&
          qp__chain_epoch_proof_make(n, a->block, above, n_above, a->cert) != 0)
        QP_LOG_WARN("chain", "cannot keep the end of epoch %u to show late peers", n->cfg->epoch);
      break;
    case QP_HS_ACT_NEED_PAYLOAD:
      n->need_payload = true;
      n->empty_ok = a->empty_ok;
      n->payload_held = false;
      n->payload_deferred = false;
      n->payload_asked_ms = now_ms();
      memcpy(n->payload_parent, a->parent_hash, QP_HASH_SIZE);
      qp_chain_mempool_untake(n->mempool); /* what earlier proposals took and did not commit */
      break;
    case QP_HS_ACT_TIMER: d->timer_at = a->at_ms; break;
  }
}

static void drain(qp__chain_node_t *n, driver_state_t *d);

/* A new core on top of the committed head: after the block that changed
 * the validator set (advance: consensus goes on with the new set from the
 * next height; nothing the old core held above it is committed by anyone,
 * every validator switches at this block), or after blocks committed by
 * catching up (the old core's tree is behind them).  What the old core's
 * proposals took returns to the pool. */
static void restart_core(qp__chain_node_t *n, driver_state_t *d, bool advance) {
  d->new_epoch = false;
  bool grew = false;
  char detail[256] = "";
  n->views_changed_before += qp_hs_views_by_timeout(n->core);
  qp_hs_destroy(n->core);
  n->core = NULL;
  qp__chain_execs_clear(n);
  qp_chain_mempool_untake(n->mempool);
  n->need_payload = false;
  int rc = advance ? qp__chain_epochs_advance(n, &grew) : 0;
  if (rc == 0 && grew) { /* a new validator: the transport learns its key and address */
    pthread_mutex_lock(&n->fwd_mutex); /* the outbox and the HTTP reads use n->net under it */
    qp_net_stop(n->net);
    qp_net_destroy(n->net);
    n->net = NULL;
    rc = qp__chain_open_net(n, detail, sizeof detail);
    pthread_mutex_unlock(&n->fwd_mutex);
  }
  if (rc == 0) rc = qp__chain_open_core(n, detail, sizeof detail);
  if (rc != 0) {
    QP_LOG_ERROR("chain", "cannot restart consensus%s: %s %s", advance ? " in the new epoch" : "",
                 qp_strerror(rc), detail);
    d->failed = true;
    return;
  }
  d->timer_at = UINT64_MAX;
  d->pending_known = false;
  qp__chain_epoch_proof_cast(n, qp_clock_mono_ns() / 1000000u);
  publish(n, NULL);
  drain(n, d); /* what creating the core asked for */
}

/* Performs the actions of the last core call; a failure stops the rest,
 * and so does a new epoch (the old core's later actions are moot).
 *
 * Commits go last.  The core emits them as soon as a QC completes a
 * two-chain, before it checks and votes for the proposal carrying that QC,
 * but nothing about the vote depends on the commit being stored: the
 * proposal was executed on top of its uncommitted ancestors, and what
 * decides that a block is committed is the QC chain, not this node's disk.
 * Storing a commit (an LMDB transaction with its fdatasync, the mempool's
 * sweep) is the largest step of a view, so the vote - after its safety
 * record - leaves first, and the next leader can build its QC while every
 * validator stores the commit.  The rest keeps the core's order: the
 * safety record before the vote or timeout it covers. */
static void drain(qp__chain_node_t *n, driver_state_t *d) {
  const qp_hs_action_t *acts = NULL;
  size_t count = qp_hs_actions(n->core, &acts);
  for (size_t i = 0; i < count && !d->failed; i++)
    if (acts[i].kind != QP_HS_ACT_COMMIT) perform_one(n, acts, i, count, d);
  for (size_t i = 0; i < count && !d->failed && !d->new_epoch; i++)
    if (acts[i].kind == QP_HS_ACT_COMMIT) perform_one(n, acts, i, count, d);
  if (d->new_epoch && !d->failed) restart_core(n, d, true);
}

/* Holds back what the uncommitted blocks under the new one carry: walks
 * from its parent down to the committed head (oldest held first). */
static void hold_ancestors(qp__chain_node_t *n) {
  const qp_hs_block_t *chain[16];
  uint32_t depth = 0;
  const uint8_t *at = n->payload_parent;
  while (depth < 16 && memcmp(at, n->committed_hash, QP_HASH_SIZE) != 0) {
    const qp_hs_block_t *b = qp_hs_block_find(n->core, at);
    if (b == NULL) break;
    chain[depth++] = b;
    at = b->header.parent_hash;
  }
  qp_chain_tx_t *txs = depth ? qp__chain_txs_take(n) : NULL;
  for (uint32_t i = depth; i-- > 0 && txs != NULL;) {
    size_t count = 0;
    if (qp__chain_payload_txs(n, chain[i], txs, &count) == 0)
      qp_chain_mempool_hold(n->mempool, txs, count);
  }
  qp__chain_txs_give(n, txs);
}

/* The transactions a fuller block is worth waiting for. */
static uint32_t fill_target(const qp__chain_node_t *n) {
  uint32_t txs_max = n->settings.propose_txs_max < n->genesis.params.block_txs_max
                         ? n->settings.propose_txs_max
                         : n->genesis.params.block_txs_max;
  return txs_max > 1 ? txs_max / 2 : 1;
}

/* True while the leader should wait for more transactions (docs/chain.md,
 * "The node"): some are ready, fewer than the fill target, and the linger
 * since the core asked has not passed.  Nothing ready: the empty-block
 * rules decide, as without a linger. */
static bool lingering(qp__chain_node_t *n) {
  uint32_t linger = n->settings.propose_linger_ms;
  if (linger == 0 || now_ms() >= n->payload_asked_ms + linger) return false;
  qp_chain_mempool_stats_t st;
  qp_chain_mempool_stats(n->mempool, &st);
  uint32_t ready = st.txs > st.taken ? st.txs - st.taken : 0;
  return ready > 0 && ready < fill_target(n);
}

/* Proposes what the mempool holds when leading a view that waits for it;
 * true when it did. */
static bool try_propose(qp__chain_node_t *n, driver_state_t *d) {
  if (!n->need_payload || d->failed) return false;
  if (!n->payload_held) { /* once per view: the ancestors' transactions stay out */
    hold_ancestors(n);
    n->payload_held = true;
  }
  n->payload_deferred = lingering(n);
  if (n->payload_deferred) return false;
  qp_buf_t body = {.max = n->genesis.params.block_bytes_max};
  uint32_t count = 0;
  const qp_chain_params_t *p = &n->genesis.params;
  uint32_t txs_max = n->settings.propose_txs_max < p->block_txs_max ? n->settings.propose_txs_max
                                                                    : p->block_txs_max;
  int rc = qp_chain_mempool_take(n->mempool, txs_max, p->block_bytes_max, &body, &count);
  if (rc != 0 || (count == 0 && !n->empty_ok)) {
    qp_buf_free(&body);
    return false; /* nothing to say yet: wait for transactions */
  }
  qp_hs_block_t probe; /* the payload as a block, to reuse the block checks' decoder */
  memset(&probe, 0, sizeof probe);
  probe.payload = count ? (const uint8_t *)body.data : NULL;
  probe.payload_len = count ? (uint32_t)body.len : 0;
  uint8_t tx_root[QP_HASH_SIZE];
  const qp_chain_exec_t *x = NULL;
  /* The block's timestamp is known before it is built: apps execute at it. */
  uint64_t now = now_ms(), stamp_ms = qp_hs_proposal_time_ms(n->core, now);
  rc = qp__chain_exec_proposal(n, n->payload_parent, &probe, stamp_ms / 1000u, tx_root, &x);
  if (rc == 0)
    rc = qp_hs_propose(n->core, probe.payload, probe.payload_len, tx_root, x->state_root,
                       x->receipts_root, now);
  qp_buf_free(&body);
  if (rc != 0) {
    QP_LOG_WARN("chain", "could not propose in view %llu: %s",
                (unsigned long long)qp_hs_view(n->core), qp_strerror(rc));
    qp_chain_mempool_untake(n->mempool);
    return false;
  }
  n->need_payload = false;
  drain(n, d);
  return true;
}

/* Proposes while the core asks for payloads.  Our own proposal can end its
 * view at once (one validator: our vote is the quorum) and the next view,
 * ours again, asks at once: it is served now, not when some other wake
 * happens to come, else that view times out, no two consecutive views are
 * ever certified and nothing commits.  Bounded: the core asks again only
 * while a proposal certifies in the same call. */
static void propose_all(qp__chain_node_t *n, driver_state_t *d) {
  for (uint32_t k = 0; k < PROPOSALS_PER_WAKE_MAX && try_propose(n, d); k++) {
  }
}

/* Answers a BLOCK_REQUEST for blocks the core no longer holds from the
 * block store (a validator catching up from far behind); true when it did. */
static bool serve_from_store(qp__chain_node_t *n, uint32_t from, const uint8_t *bytes, size_t len) {
  if (len < 2 || bytes[1] != QP_HS_MSG_BLOCK_REQUEST) return false;
  qp_hs_msg_t *m = qp_malloc(sizeof *m);
  qp_chain_genesis_t *at = qp_malloc(sizeof *at);
  uint64_t height = 0;
  bool ours = m != NULL && at != NULL && qp_hs_msg_decode(n->cfg, bytes, len, m) == 0 &&
              qp_hs_block_find(n->core, m->request_hash) == NULL &&
              qp_chain_store_height_of(n->store, m->request_hash, &height) == 0;
  uint32_t want = ours ? m->request_count : 0, got = 0;
  qp_chain_block_t stored[QP_HS_FETCH_BLOCKS_MAX];
  qp_hs_block_t blocks[QP_HS_FETCH_BLOCKS_MAX];
  const qp_hs_block_t *list[QP_HS_FETCH_BLOCKS_MAX];
  memset(stored, 0, sizeof stored);
  uint32_t epoch = UINT32_MAX;
  for (; got < want && height >= 1; got++, height--) {
    qp__chain_cfg_at(n, height, at); /* a response never crosses an epoch's start */
    if (epoch == UINT32_MAX) epoch = at->epoch;
    if (at->epoch != epoch || qp_chain_store_block(n->store, height, &stored[got]) != 0 ||
        qp_hs_decode_block(at, stored[got].header, stored[got].header_len, &blocks[got]) != 0)
      break;
    list[got] = &blocks[got];
  }
  uint8_t *out = NULL;
  size_t out_len = 0;
  if (got > 0 && qp_hs_encode_block_response(n->cfg, list, got, &out, &out_len) == 0)
    send_peer(n, QP__CHAIN_CHANNEL_CONSENSUS, from, out, out_len);
  qp_free(out);
  for (uint32_t i = 0; i < QP_HS_FETCH_BLOCKS_MAX; i++) qp_chain_block_deinit(&stored[i]);
  qp_free(m);
  qp_free(at);
  return ours;
}

/* A catch-up request served, or a run committed: then the core restarts
 * on the new head, and the peer is asked for more while it is further. */
static void on_catchup(qp__chain_node_t *n, qp__chain_event_t *e, driver_state_t *d) {
  qp__chain_catchup_result_t r;
  qp__chain_catchup_on_message(n, e->from, e->bytes + 1, e->len - 1, &r);
  if (r.failed) d->failed = true;
  if (r.committed == 0 || d->failed) return;
  publish(n, &r.last);
  restart_core(n, d, r.new_epoch);
  if (!d->failed && r.ask_again) qp__chain_catchup_ask(n, e->from, now_ms(), true);
}

/* Feeds one queued peer message to the core (or the mempool). */
static void handle_event(qp__chain_node_t *n, qp__chain_event_t *e, driver_state_t *d) {
  if (e->bytes[0] == QP__CHAIN_CHANNEL_CATCHUP) {
    on_catchup(n, e, d);
    return;
  }
  if (e->bytes[0] == QP__CHAIN_CHANNEL_EPOCH) {
    qp__chain_epoch_proof_apply(n, e->from, e->bytes, e->len, &d->new_epoch);
    if (d->new_epoch)
      restart_core(n, d, true);
    else
      qp__chain_catchup_ask(n, e->from, now_ms(), false); /* further behind than that? */
    return;
  }
  if (serve_from_store(n, e->from, e->bytes + 1, e->len - 1)) return;
  /* The core knows the validators of the current epoch by their index in
   * it; a peer that is none of them (removed, or not added yet) has
   * nothing to say to it but may be behind an epoch change. */
  int32_t member = qp__chain_member_of(n, e->from);
  int rc = member < 0
               ? QP_EINVAL
               : qp_hs_on_message(n->core, (uint32_t)member, e->bytes + 1, e->len - 1, now_ms());
  if (rc != 0 && rc != QP_ENOMEM) {
    QP_LOG_DEBUG("chain", "message from %s refused: %s", n->epochs.peers.validators[e->from].name,
                 qp_strerror(rc));
    qp__chain_epoch_proof_offer(n, e->from, now_ms());  /* a message of an epoch that ended? */
    qp__chain_catchup_ask(n, e->from, now_ms(), false); /* ... or of one we have not reached? */
  }
  /* The core keeps its last call's actions until the next call: a message
   * it was not given (a peer outside the epoch) must not perform them
   * again (a second COMMIT of a block stops the node). */
  if (member >= 0) drain(n, d);
}

/* True when the pool holds a transaction a block could take now (not one
 * waiting behind a nonce gap: those make no view change). */
static bool pool_ready(qp__chain_node_t *n) { return qp_chain_mempool_ready(n->mempool); }

/* This validator gave up on a view again while it holds transactions and
 * nothing committed since it last gave up: perhaps only it knows them (a
 * peer refused their forward, its pool full, or dropped it, its queue
 * full), and one validator's timeouts alone never change the view.  It
 * hands its pool to every peer again (docs/chain.md, "A peer that connects
 * gets the pool"), which refuse what they already hold: at the 1st, 2nd,
 * 4th, 8th... such timeout in a row, so that a network that cannot commit
 * (too few validators up) is not flooded with copies. */
static void rehand_pool_if_stalled(qp__chain_node_t *n, driver_state_t *d) {
  uint64_t t = qp_hs_local_timeouts(n->core), h = qp_hs_committed(n->core)->header.height;
  if (t == d->timeouts_seen) return;
  bool same = d->timeouts_seen != 0 && h == d->timeout_height;
  d->timeouts_seen = t;
  d->timeout_height = h;
  d->stalled = same ? d->stalled + 1 : 0;
  if (d->stalled > 0 && (d->stalled & (d->stalled - 1)) == 0 && pool_ready(n))
    qp__chain_forward_pool_to(n, UINT32_MAX);
}

/* Tells the core whether transactions wait, when that changed. */
static void tell_pending(qp__chain_node_t *n, driver_state_t *d) {
  bool pending = pool_ready(n);
  if (d->pending_known && pending == d->pending) return;
  d->pending_known = true;
  d->pending = pending;
  qp_hs_set_pending(n->core, pending, now_ms());
  drain(n, d);
}

/* How long to wait: until the core's deadline or the outbox's, at most 1 s. */
static uint64_t wait_ms(qp__chain_node_t *n, const driver_state_t *d, bool *due) {
  uint64_t fwd = qp__chain_forward_wait_ms(n);
  uint64_t cast = qp__chain_epoch_proof_wait_ms(n, qp_clock_mono_ns() / 1000000u);
  if (cast < fwd) fwd = cast;
  uint64_t now = now_ms(), wait = d->timer_at == UINT64_MAX ? 1000 : d->timer_at - now;
  if (n->need_payload && n->payload_deferred) { /* a proposal waits for the linger's end */
    uint64_t end = n->payload_asked_ms + n->settings.propose_linger_ms;
    fwd = end <= now ? 0 : end - now < fwd ? end - now : fwd;
  }
  *due = fwd == 0;
  if (fwd < wait) wait = fwd;
  return wait < 1000 ? wait : 1000;
}

/* A transaction admitted after tell_pending read the pool but before the
 * driver said it wants wakes again went in without one: look once more. */
static bool pending_unseen(qp__chain_node_t *n, const driver_state_t *d) {
  if (!d->pending_known || d->pending) return false;
  return pool_ready(n);
}

/* Waits for input or a deadline; takes the queued events. */
static qp__chain_event_t *wait_input(qp__chain_node_t *n, driver_state_t *d, bool *txs) {
  bool unseen = pending_unseen(n, d);
  pthread_mutex_lock(&n->mutex);
  bool due = false;
  uint64_t wait = 0;
  while (!unseen && n->head == NULL && !n->txs_arrived && !n->stopping && !n->catchup_peers &&
         now_ms() < d->timer_at && (wait = wait_ms(n, d, &due), !due)) {
    struct timespec ts;
    qp_clock_deadline_ts(wait, &ts);
    n->driver_waiting = true;
    pthread_cond_timedwait(&n->cond, &n->mutex, &ts);
    n->driver_waiting = false;
  }
  qp__chain_event_t *list = n->head;
  n->head = n->tail = NULL;
  n->queued_bytes = 0;
  *txs = n->txs_arrived;
  n->txs_arrived = false;
  d->ask = n->catchup_peers;
  n->catchup_peers = 0;
  pthread_mutex_unlock(&n->mutex);
  return list;
}

static void *driver_main(void *arg) {
  qp__chain_node_t *n = arg;
  (void)pthread_setname_np(pthread_self(), "chain-driver"); /* for top -H, perf, the bench */
  driver_state_t d = {.timer_at = UINT64_MAX};
  drain(n, &d); /* what creating the core asked for */
  while (!d.failed) {
    bool txs = false;
    qp__chain_event_t *list = wait_input(n, &d, &txs);
    qp__chain_forward_flush_due(n); /* what clients sent lately, as one frame */
    qp__chain_epoch_proof_cast(n, qp_clock_mono_ns() / 1000000u);
    if (n->stopping) {
      for (qp__chain_event_t *e = list, *next; e != NULL; e = next) next = e->next, qp_free(e);
      break;
    }
    for (uint32_t p = 0; p < 64 && d.ask != 0; p++) /* peers whose session came up */
      if (d.ask & (1ull << p)) {
        qp__chain_forward_pool_to(n, p);
        qp__chain_catchup_ask(n, p, now_ms(), true);
      }
    d.ask = 0;
    for (qp__chain_event_t *e = list, *next; e != NULL; e = next) {
      next = e->next;
      if (!d.failed) handle_event(n, e, &d);
      qp_free(e);
    }
    if (!d.failed && now_ms() >= d.timer_at) {
      d.timer_at = UINT64_MAX;
      qp_hs_on_tick(n->core, now_ms());
      drain(n, &d);
      if (!d.failed) rehand_pool_if_stalled(n, &d);
    }
    if (!d.failed) tell_pending(n, &d);
    propose_all(n, &d);
    if (!d.failed) publish(n, NULL);
    atomic_store_explicit(&n->tx_wake_wanted, n->need_payload || !(d.pending_known && d.pending),
                          memory_order_release);
  }
  if (d.failed) QP_LOG_ERROR("chain", "consensus stopped on this node (see the errors above)");
  return NULL;
}

int qp__chain_driver_start(qp__chain_node_t *n, char *detail, size_t detail_size) {
  if (pthread_create(&n->driver, NULL, driver_main, n) != 0) {
    snprintf(detail, detail_size, "cannot start the consensus thread");
    return QP_ENOMEM;
  }
  n->driver_started = true;
  return 0;
}

void qp__chain_driver_stop(qp__chain_node_t *n) {
  if (!n->driver_started) return;
  pthread_mutex_lock(&n->mutex);
  n->stopping = true;
  pthread_cond_signal(&n->cond);
  pthread_mutex_unlock(&n->mutex);
  pthread_join(n->driver, NULL);
  n->driver_started = false;
}
