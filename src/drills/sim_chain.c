/*
 * sim_chain.c - the chain simulator: n real consensus cores
 * (src/chain/consensus.h) over the simulated network (sim_net.c) and a
 * simulated clock, all drawn from one seed (docs/chain.md, "Simulator").
 *
 * The run has two phases.  During the fault phase (cfg->steps steps of
 * 10 ms) clients submit transactions; the network delays, duplicates and
 * reorders every message, loses some, and is cut by partitions that heal
 * after a while; honest nodes crash (sometimes exactly at a PERSIST, which
 * is then lost with everything after it) and restart from their durable
 * safety record and last committed block; the Byzantine validators
 * (sim_chain_byz.c) equivocate, double-vote, propose and vote for invalid
 * transactions, withhold messages and send garbage.  Then everything heals
 * (Byzantine nodes keep misbehaving) and every honest node must commit
 * every transaction within cfg->liveness_ms.
 *
 * Checked on every commit: safety (one block per height across honest
 * nodes), order (height + 1, parent = previous commit) and validity (every
 * committed transaction carries its client's tag: the sim's stand-in for a
 * signature, a keyed BLAKE2b that Byzantine nodes cannot produce).
 * Persistence is memory that survives the simulated crash; actions after
 * a crash point are never performed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "drills/sim_chain_int.h"

#define PPM 1000000u
#define EVENTS_PER_STEP_MAX 200000u

/* ------------------------------------------------------------- helpers */

void qp__sim_trace(qp__sim_chain_t *w, const char *fmt, ...) {
  if (w->cfg->trace == NULL) return;
  char line[256], full[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  snprintf(full, sizeof full, "%7llu ms  %s", (unsigned long long)w->now_ms, line);
  w->cfg->trace(w->cfg->trace_ctx, full);
}

static void violation(qp__sim_chain_t *w, uint64_t *counter, const char *fmt, ...) {
  (*counter)++;
  if (w->failed) return;
  w->failed = true;
  if (w->detail == NULL || w->detail_size == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(w->detail, w->detail_size, fmt, ap);
  va_end(ap);
}

static bool chance(qp__sim_chain_t *w, uint32_t ppm) { return qp_rng_chance(&w->rng, ppm, PPM); }

static uint32_t faults_max(const qp__sim_chain_t *w) { return qp_chain_faults(w->cfg->validators); }

/* ------------------------------------------------------- transactions */

static void tx_tag(const qp__sim_chain_t *w, const uint8_t *tx, uint8_t tag[8]) {
  uint8_t in[QP_HASH_SIZE + 16], h[QP_HASH_SIZE];
  memcpy(in, w->tx_key, QP_HASH_SIZE);
  memcpy(in + QP_HASH_SIZE, tx, 16);
  qp_hash256(h, in, sizeof in);
  memcpy(tag, h, 8);
}

bool qp__sim_tx_valid(const qp__sim_chain_t *w, const uint8_t *tx) {
  uint8_t tag[8];
  tx_tag(w, tx, tag);
  return memcmp(tag, tx + 16, 8) == 0 && qp_load_u64(tx) < w->txs_count;
}

void qp__sim_tx_root(const qp__sim_chain_t *w, const uint8_t *payload, uint32_t len,
                     uint8_t root[QP_HASH_SIZE]) {
  uint8_t leaves[QP__SIM_BLOCK_TXS_MAX * 2][QP_HASH_SIZE];
  uint32_t count = len / QP__SIM_TX_BYTES;
  QP_ASSERT(count <= QP__SIM_BLOCK_TXS_MAX * 2);
  for (uint32_t k = 0; k < count; k++)
    QP_ASSERT(qp_suite_hash(w->g.suite, leaves[k], payload + k * QP__SIM_TX_BYTES,
                            QP__SIM_TX_BYTES) == 0);
  QP_ASSERT(qp_merkle_root(w->g.suite, count ? leaves[0] : NULL, count, root) == 0);
}

static void submit(qp__sim_chain_t *w, uint32_t count) {
  for (uint32_t k = 0; k < count && w->txs_count < QP__SIM_TXS_MAX; k++) {
    uint8_t *tx = w->txs[w->txs_count];
    qp_store_u64(tx, w->txs_count);
    qp_store_u64(tx + 8, qp_rng_next(&w->rng));
    w->txs_count++;
    tx_tag(w, tx, tx + 16);
    w->stats->txs_submitted++;
  }
}

/* The node's verdict on a proposal: well-formed, tagged, no repeats inside,
 * tx_root right. */
static bool block_valid(void *ctx, const qp_hs_block_t *b) {
  const qp__sim_node_t *node = ctx;
  const qp__sim_chain_t *w = node->world;
  if (b->payload_len % QP__SIM_TX_BYTES != 0) return false;
  uint32_t count = b->payload_len / QP__SIM_TX_BYTES;
  if (count > QP__SIM_BLOCK_TXS_MAX) return false;
  for (uint32_t k = 0; k < count; k++) {
    const uint8_t *tx = b->payload + k * QP__SIM_TX_BYTES;
    if (!qp__sim_tx_valid(w, tx)) return false;
    for (uint32_t j = 0; j < k; j++)
      if (memcmp(tx, b->payload + j * QP__SIM_TX_BYTES, 8) == 0) return false;
  }
  uint8_t root[QP_HASH_SIZE];
  qp__sim_tx_root(w, b->payload, b->payload_len, root);
  return memcmp(root, b->header.tx_root, QP_HASH_SIZE) == 0;
}

/* True if tx id is in a block between the wanted parent and the node's
 * committed height. */
static bool in_ancestors(qp__sim_chain_t *w, uint32_t i, uint64_t id) {
  qp__sim_node_t *n = &w->nodes[i];
  const qp_hs_block_t *b = qp_hs_block_find(n->core, n->want_parent);
  for (; b != NULL && b->header.height > n->height;
       b = qp_hs_block_find(n->core, b->header.parent_hash))
    for (uint32_t k = 0; k < b->payload_len / QP__SIM_TX_BYTES; k++)
      if (qp_load_u64(b->payload + k * QP__SIM_TX_BYTES) == id) return true;
  return false;
}

uint32_t qp__sim_select(qp__sim_chain_t *w, uint32_t i, uint8_t *payload) {
  qp__sim_node_t *n = &w->nodes[i];
  uint32_t count = 0;
  for (uint32_t id = 0; id < w->txs_count && count < QP__SIM_BLOCK_TXS_MAX; id++) {
    if (n->committed[id] || in_ancestors(w, i, id)) continue;
    memcpy(payload + count * QP__SIM_TX_BYTES, w->txs[id], QP__SIM_TX_BYTES);
    count++;
  }
  return count * QP__SIM_TX_BYTES;
}

/* ------------------------------------------------------------- the nodes */

static void drain(qp__sim_chain_t *w, uint32_t i);

static int start(qp__sim_chain_t *w, uint32_t i) {
  qp__sim_node_t *n = &w->nodes[i];
  qp_hs_config_t cfg = {.genesis = &w->g,
                        .self = (int32_t)i,
                        .key = w->keys[i],
                        .safety = n->safety_len ? n->safety : NULL,
                        .safety_len = n->safety_len,
                        .committed = n->height ? &n->last : NULL,
                        .block_valid = block_valid,
                        .ctx = n,
                        .retain_committed = QP__SIM_HEIGHTS_MAX};
  int rc = qp_hs_create(&cfg, w->now_ms, &n->core);
  if (rc != 0) return rc;
  n->timer_at_ms = UINT64_MAX;
  n->want_payload = false;
  n->told_pending = false;
  drain(w, i);
  return 0;
}

static void crash(qp__sim_chain_t *w, uint32_t i, bool at_persist) {
  qp__sim_node_t *n = &w->nodes[i];
  qp_hs_destroy(n->core);
  n->core = NULL;
  n->restart_at_ms = w->now_ms + qp_rng_range(&w->rng, 50, 2000);
  w->stats->crashes++;
  if (at_persist) w->stats->crashes_at_persist++;
  qp__sim_trace(w, "node %u crashes%s; back at %llu ms", i, at_persist ? " at a PERSIST" : "",
                (unsigned long long)n->restart_at_ms);
}

static void restart(qp__sim_chain_t *w, uint32_t i) {
  int rc = start(w, i);
  qp__sim_trace(w, "node %u restarts at height %llu (%s)", i,
                (unsigned long long)w->nodes[i].height, qp_err_name(rc));
  if (rc != 0) violation(w, &w->stats->other, "node %u cannot restart: %s", i, qp_strerror(rc));
}

static void check_commit(qp__sim_chain_t *w, uint32_t i, const qp_hs_block_t *b) {
  qp__sim_node_t *n = &w->nodes[i];
  uint64_t h = b->header.height;
  if (h != n->height + 1 || (n->height > 0 && memcmp(b->header.parent_hash, n->last.hash, 32)))
    violation(w, &w->stats->other, "node %u committed height %llu after %llu", i,
              (unsigned long long)h, (unsigned long long)n->height);
  if (h >= QP__SIM_HEIGHTS_MAX) return;
  if (h > w->heights_known) {
    memcpy(w->heights[h], b->hash, QP_HASH_SIZE);
    w->heights_known = h;
  } else if (memcmp(w->heights[h], b->hash, QP_HASH_SIZE) != 0) {
    violation(w, &w->stats->safety, "node %u committed a different block at height %llu", i,
              (unsigned long long)h);
  }
}

static void on_commit(qp__sim_chain_t *w, uint32_t i, const qp_hs_block_t *b) {
  qp__sim_node_t *n = &w->nodes[i];
  if (!n->byz) check_commit(w, i, b);
  uint32_t count = b->payload_len / QP__SIM_TX_BYTES;
  if (b->payload_len % QP__SIM_TX_BYTES != 0)
    violation(w, &w->stats->validity, "node %u committed a malformed payload at height %llu", i,
              (unsigned long long)b->header.height);
  for (uint32_t k = 0; k < count; k++) {
    const uint8_t *tx = b->payload + k * QP__SIM_TX_BYTES;
    if (!qp__sim_tx_valid(w, tx)) {
      violation(w, &w->stats->validity, "node %u committed an unsigned transaction at %llu", i,
                (unsigned long long)b->header.height);
      continue;
    }
    uint64_t id = qp_load_u64(tx);
    if (n->committed[id]) continue;
    n->committed[id] = 1;
    n->committed_count++;
    if (!w->tx_done[id]) w->stats->txs_committed++;
    w->tx_done[id] = 1;
  }
  n->height = b->header.height;
  n->last = *b;
  n->last.payload = NULL;
  uint8_t rec[12];
  qp_store_u32(rec, i);
  qp_store_u64(rec + 4, b->header.height);
  qp_hash256_update(&w->digest, rec, sizeof rec);
  qp_hash256_update(&w->digest, b->hash, QP_HASH_SIZE);
}

static void propose(qp__sim_chain_t *w, uint32_t i) {
  qp__sim_node_t *n = &w->nodes[i];
  if (n->core == NULL || !n->want_payload) return;
  if (n->byz && qp__sim_byz_propose(w, i)) {
    n->want_payload = false;
    return;
  }
  static uint8_t payload[QP__SIM_BLOCK_TXS_MAX * QP__SIM_TX_BYTES];
  uint32_t len = qp__sim_select(w, i, payload);
  if (len == 0 && !n->empty_ok) return;
  uint8_t tx_root[QP_HASH_SIZE], state_root[QP_HASH_SIZE] = {0};
  qp__sim_tx_root(w, payload, len, tx_root);
  n->want_payload = false;
  int rc = qp_hs_propose(n->core, payload, len, tx_root, state_root, state_root, w->now_ms);
  qp__sim_trace(w, "node %u proposes %u txs in view %llu: %s", i, len / QP__SIM_TX_BYTES,
                (unsigned long long)n->want_view, qp_err_name(rc));
  drain(w, i);
}

/* Tells node i's core whether transactions wait, when that changed, and
 * performs what it answers; true when it told. */
static bool tell_pending(qp__sim_chain_t *w, uint32_t i) {
  qp__sim_node_t *n = &w->nodes[i];
  bool pending = n->committed_count < w->txs_count;
  if (pending == n->told_pending) return false;
  n->told_pending = pending;
  if (qp_hs_set_pending(n->core, pending, w->now_ms) != 0)
    violation(w, &w->stats->other, "node %u: set_pending failed", i);
  drain(w, i);
  return true;
}

/* Performs node i's actions in order.  A crash at a PERSIST loses that
 * record and every later action. */
static void drain(qp__sim_chain_t *w, uint32_t i) {
  qp__sim_node_t *n = &w->nodes[i];
  const qp_hs_action_t *acts;
  size_t count = qp_hs_actions(n->core, &acts);
  bool need = false;
  for (size_t k = 0; k < count; k++) {
    const qp_hs_action_t *a = &acts[k];
    if (a->kind == QP_HS_ACT_PERSIST) {
      if (!n->byz && !w->healed && chance(w, w->cfg->crash_ppm / 8)) {
        crash(w, i, true);
        return;
      }
      QP_ASSERT(a->len <= sizeof n->safety);
      memcpy(n->safety, a->bytes, a->len);
      n->safety_len = a->len;
    } else if (a->kind == QP_HS_ACT_SEND) {
      qp__sim_send(w, i, a->to, a->bytes, a->len);
    } else if (a->kind == QP_HS_ACT_BROADCAST) {
      for (uint32_t to = 0; to < w->cfg->validators; to++)
        if (to != i) qp__sim_send(w, i, to, a->bytes, a->len);
    } else if (a->kind == QP_HS_ACT_COMMIT) {
      on_commit(w, i, a->block);
    } else if (a->kind == QP_HS_ACT_NEED_PAYLOAD) {
      need = true;
      n->want_view = a->view;
      n->want_height = a->height;
      n->empty_ok = a->empty_ok;
      memcpy(n->want_parent, a->parent_hash, QP_HASH_SIZE);
    } else if (a->kind == QP_HS_ACT_TIMER) {
      n->timer_at_ms = a->at_ms;
    }
  }
  if (tell_pending(w, i) && n->core == NULL) return;
  if (need) n->want_payload = true;
  if (n->want_payload) propose(w, i);
}

/* ----------------------------------------------------------- the network */

void qp__sim_send(qp__sim_chain_t *w, uint32_t from, uint32_t to, const uint8_t *bytes,
                  size_t len) {
  if (to >= w->cfg->validators || to == from) return;
  if (w->nodes[from].byz && !qp__sim_byz_outgoing(w, from, to, bytes, len)) return;
  if (!w->healed && chance(w, w->cfg->loss_ppm)) {
    w->stats->messages_lost++;
    return;
  }
  if (qp_sim_net_send(w->net, from, to, bytes, len) != 0)
    violation(w, &w->stats->other, "network refused a %zu-byte message", len);
}

static void deliver(qp__sim_chain_t *w, const qp_sim_net_message_t *m) {
  qp__sim_node_t *n = &w->nodes[m->to];
  if (n->core == NULL) {
    w->stats->messages_lost++;
    return;
  }
  w->stats->messages++;
  int rc = qp_hs_on_message(n->core, m->from, m->data, m->len, w->now_ms);
  if (rc == QP_ENOMEM || rc == QP_ECORRUPT)
    violation(w, &w->stats->other, "node %u: %s on a message from %u", m->to, qp_err_name(rc),
              m->from);
  else if (rc != 0)
    w->stats->messages_refused++;
  drain(w, m->to);
}

static void partition_start(qp__sim_chain_t *w) {
  uint32_t side[QP_SIM_CHAIN_VALIDATORS_MAX];
  for (uint32_t i = 0; i < w->cfg->validators; i++) side[i] = (uint32_t)qp_rng_below(&w->rng, 2);
  QP_ASSERT(qp_sim_net_partition(w->net, side, w->cfg->validators) == 0);
  w->partitioned = true;
  w->partition_end_ms = w->now_ms + qp_rng_range(&w->rng, 100, 3000);
  w->stats->partitions++;
  qp__sim_trace(w, "partition until %llu ms", (unsigned long long)w->partition_end_ms);
}

static uint32_t honest_down(const qp__sim_chain_t *w) {
  uint32_t down = 0;
  for (uint32_t i = 0; i < w->cfg->validators; i++) down += w->nodes[i].core == NULL ? 1 : 0;
  return down;
}

/* What happens at the start of a fault-phase step. */
static void step_faults(qp__sim_chain_t *w) {
  const qp_sim_chain_config_t *cfg = w->cfg;
  if (chance(w, cfg->tx_ppm)) submit(w, (uint32_t)qp_rng_range(&w->rng, 1, 4));
  if (w->partitioned && w->now_ms >= w->partition_end_ms) {
    qp_sim_net_heal(w->net);
    w->partitioned = false;
    qp__sim_trace(w, "partition heals");
  } else if (!w->partitioned && chance(w, cfg->partition_ppm)) {
    partition_start(w);
  }
  uint32_t honest = cfg->validators - cfg->byzantine;
  if (honest > 0 && honest_down(w) < 1 && chance(w, cfg->crash_ppm)) {
    uint32_t i = (uint32_t)qp_rng_below(&w->rng, honest);
    if (w->nodes[i].core != NULL) crash(w, i, false);
  }
  (void)faults_max;
}

static void heal(qp__sim_chain_t *w) {
  w->healed = true;
  w->heal_ms = w->now_ms;
  qp_sim_net_heal(w->net);
  w->partitioned = false;
  submit(w, 1); /* a last transaction that must get through */
  qp__sim_trace(w, "heal: no more loss, partitions or crashes; %u transactions submitted",
                w->txs_count);
  for (uint32_t i = 0; i < w->cfg->validators; i++)
    if (w->nodes[i].core == NULL) w->nodes[i].restart_at_ms = w->now_ms;
}

static bool all_committed(const qp__sim_chain_t *w) {
  for (uint32_t i = 0; i < w->cfg->validators; i++) {
    const qp__sim_node_t *n = &w->nodes[i];
    if (!n->byz && (n->core == NULL || n->committed_count < w->txs_count)) return false;
  }
  return true;
}

/* Tells node i about new transactions and lets an idle leader propose. */
static void poke(qp__sim_chain_t *w, uint32_t i) {
  qp__sim_node_t *n = &w->nodes[i];
  if (n->core == NULL) return;
  if (!tell_pending(w, i) && n->want_payload) propose(w, i);
}

/* ------------------------------------------------------------- the loop */

static uint64_t next_event_ns(const qp__sim_chain_t *w) {
  uint64_t next = qp_sim_net_next_delivery_ns(w->net);
  for (uint32_t i = 0; i < w->cfg->validators; i++) {
    const qp__sim_node_t *n = &w->nodes[i];
    uint64_t at = n->core != NULL ? n->timer_at_ms : n->restart_at_ms;
    if (at != UINT64_MAX && at * QP_NS_PER_MS < next) next = at * QP_NS_PER_MS;
  }
  return next;
}

/* Runs every event due up to end_ns, in time order. */
static void advance(qp__sim_chain_t *w, uint64_t end_ns) {
  for (uint32_t events = 0; !w->failed; events++) {
    if (events == EVENTS_PER_STEP_MAX) {
      violation(w, &w->stats->other, "more than %u events in one step", EVENTS_PER_STEP_MAX);
      return;
    }
    uint64_t next = next_event_ns(w);
    if (next > end_ns) break;
    qp_sim_clock_advance_to(&w->clock, next);
    uint64_t now_ns = w->clock.mono_ns;
    w->now_ms = now_ns / QP_NS_PER_MS;
    for (uint32_t i = 0; i < w->cfg->validators; i++)
      if (w->nodes[i].core == NULL && w->nodes[i].restart_at_ms * QP_NS_PER_MS <= now_ns)
        restart(w, i);
    qp_sim_net_message_t m;
    while (!w->failed && qp_sim_net_poll(w->net, now_ns, &m)) deliver(w, &m);
    for (uint32_t i = 0; i < w->cfg->validators && !w->failed; i++) {
      qp__sim_node_t *n = &w->nodes[i];
      if (n->core == NULL || n->timer_at_ms == UINT64_MAX) continue;
      if (n->timer_at_ms * QP_NS_PER_MS > now_ns) continue;
      if (qp_hs_on_tick(n->core, w->now_ms) != 0)
        violation(w, &w->stats->other, "node %u: tick failed", i);
      drain(w, i);
    }
  }
  qp_sim_clock_advance_to(&w->clock, end_ns);
  w->now_ms = w->clock.mono_ns / QP_NS_PER_MS;
}

static void run_steps(qp__sim_chain_t *w) {
  const qp_sim_chain_config_t *cfg = w->cfg;
  uint64_t total = (uint64_t)cfg->steps + cfg->liveness_ms / QP__SIM_STEP_MS + 1;
  for (uint64_t step = 0; step < total && !w->failed; step++) {
    if (step == cfg->steps) heal(w);
    uint32_t before = w->txs_count;
    if (step < cfg->steps) step_faults(w);
    if (w->txs_count != before || step == cfg->steps)
      for (uint32_t i = 0; i < cfg->validators; i++) poke(w, i);
    advance(w, w->clock.mono_ns + QP__SIM_STEP_MS * QP_NS_PER_MS);
    w->stats->steps++;
    if (w->healed && all_committed(w)) {
      uint64_t took = w->now_ms - w->heal_ms;
      if (took > w->stats->heal_commit_ms_max) w->stats->heal_commit_ms_max = took;
      return;
    }
  }
  if (w->failed) return;
  for (uint32_t i = 0; i < cfg->validators; i++) { /* where each node stands (--trace) */
    const qp__sim_node_t *n = &w->nodes[i];
    if (n->core == NULL) continue;
    qp__sim_trace(w,
                  "node %u%s: height %llu, %u of %u transactions, view %llu, high QC view "
                  "%llu, last voted view %llu, %llu local timeouts, timer at %lld ms",
                  i, n->byz ? " (byzantine)" : "", (unsigned long long)n->height,
                  n->committed_count, w->txs_count, (unsigned long long)qp_hs_view(n->core),
                  (unsigned long long)qp_hs_high_qc(n->core)->view,
                  (unsigned long long)qp_hs_last_voted_view(n->core),
                  (unsigned long long)qp_hs_local_timeouts(n->core),
                  n->timer_at_ms == UINT64_MAX ? -1ll : (long long)n->timer_at_ms);
  }
  violation(w, &w->stats->liveness,
            "not every transaction committed on every honest node "
            "within %u ms of the heal",
            cfg->liveness_ms);
}

/* ------------------------------------------------------------ set-up */

static int make_genesis(qp__sim_chain_t *w) {
  qp_chain_genesis_t *g = &w->g;
  snprintf(g->chain_id, sizeof g->chain_id, "sim-%llu", (unsigned long long)w->cfg->seed);
  g->suite = w->cfg->suite;
  g->validators_count = w->cfg->validators;
  g->params = (qp_chain_params_t){.block_txs_max = QP__SIM_BLOCK_TXS_MAX,
                                  .block_bytes_max = QP__SIM_BLOCK_TXS_MAX * QP__SIM_TX_BYTES,
                                  .tx_bytes_max = QP__SIM_TX_BYTES,
                                  .view_timeout_ms = 100};
  qp_hash_ctx_t h;
  qp_hash256_init(&h);
  qp_hash256_update(&h, g->chain_id, strlen(g->chain_id));
  for (uint32_t i = 0; i < g->validators_count; i++) {
    uint8_t secret[QP_SIGN_SECRET_SIZE];
    qp_rng_bytes(&w->rng, secret, sizeof secret);
    if (g->suite == QP_SUITE_SM2) secret[0] &= 0x7f; /* d < n - 1, as SM2 requires */
    int rc = qp_sign_key_from_secret(g->suite, secret, sizeof secret, &w->keys[i]);
    if (rc != 0) return rc;
    size_t len = 0;
    qp_sign_public(w->keys[i], g->validators[i].public_key, &len);
    g->validators[i].public_key_len = (uint32_t)len;
    snprintf(g->validators[i].name, sizeof g->validators[i].name, "node%u", i);
    qp_hash256_update(&h, g->validators[i].public_key, len);
  }
  qp_hash256_final(&h, g->hash);
  qp_rng_bytes(&w->rng, w->tx_key, sizeof w->tx_key);
  return 0;
}

static int make_world(qp__sim_chain_t *w) {
  const qp_sim_chain_config_t *cfg = w->cfg;
  qp_rng_seed(&w->rng, cfg->seed);
  qp_rng_seed(&w->byz_rng, cfg->seed ^ 0x5bd1e995u);
  qp_sim_clock_init(&w->clock, QP_NS_PER_S);
  qp_sim_clock_as_clock(&w->clock, &w->clock_view);
  w->now_ms = QP_NS_PER_S / QP_NS_PER_MS;
  qp_hash256_init(&w->digest);
  w->txs = qp_calloc(QP__SIM_TXS_MAX, QP__SIM_TX_BYTES);
  w->tx_done = qp_calloc(QP__SIM_TXS_MAX, 1);
  w->heights = qp_calloc(QP__SIM_HEIGHTS_MAX, QP_HASH_SIZE);
  if (w->txs == NULL || w->tx_done == NULL || w->heights == NULL) return QP_ENOMEM;
  int rc = make_genesis(w);
  if (rc != 0) return rc;
  qp_sim_net_config_t net = {.nodes = cfg->validators,
                             .delay_min_ns = 1 * QP_NS_PER_MS,
                             .delay_max_ns = 15 * QP_NS_PER_MS,
                             .duplicate_ppm = 10000,
                             .reorder_ppm = 50000,
                             .in_flight_max = 65536,
                             .message_bytes_max = (uint32_t)qp_hs_msg_bytes_max(&w->g)};
  rc = qp_sim_net_create(&net, qp_rng_next(&w->rng), &w->clock_view, &w->net);
  for (uint32_t i = 0; rc == 0 && i < cfg->validators; i++) {
    qp__sim_node_t *n = &w->nodes[i];
    n->index = i;
    n->world = w;
    n->byz = i >= cfg->validators - cfg->byzantine;
    n->committed = qp_calloc(QP__SIM_TXS_MAX, 1);
    if (n->committed == NULL) rc = QP_ENOMEM;
  }
  for (uint32_t i = 0; rc == 0 && i < cfg->validators; i++) rc = start(w, i);
  return rc;
}

static void free_world(qp__sim_chain_t *w) {
  for (uint32_t i = 0; i < QP_SIM_CHAIN_VALIDATORS_MAX; i++) {
    qp_hs_destroy(w->nodes[i].core);
    qp_free(w->nodes[i].committed);
    qp_sign_key_free(w->keys[i]);
  }
  qp_sim_net_destroy(w->net);
  qp_free(w->txs);
  qp_free(w->tx_done);
  qp_free(w->heights);
  qp_free(w);
}

static void collect(qp__sim_chain_t *w) {
  qp_sim_net_stats_t ns;
  qp_sim_net_stats(w->net, &ns);
  w->stats->duplicated = ns.duplicated;
  w->stats->reordered = ns.reordered;
  w->stats->messages_lost += ns.dropped_partition + ns.dropped_overflow;
  w->stats->blocks_committed = w->heights_known;
  for (uint32_t i = 0; i < w->cfg->validators; i++)
    if (w->nodes[i].core != NULL && qp_hs_view(w->nodes[i].core) > w->stats->views)
      w->stats->views = qp_hs_view(w->nodes[i].core);
}

int qp_sim_chain_run(const qp_sim_chain_config_t *cfg, qp_sim_chain_stats_t *stats,
                     uint8_t digest[QP_HASH_SIZE], char *detail, size_t detail_size) {
  QP_ASSERT(cfg != NULL && stats != NULL && digest != NULL);
  memset(stats, 0, sizeof *stats);
  if (detail != NULL && detail_size > 0) detail[0] = '\0';
  if (cfg->validators == 0 || cfg->validators > QP_SIM_CHAIN_VALIDATORS_MAX) return QP_EINVAL;
  if (cfg->byzantine > qp_chain_faults(cfg->validators) || cfg->steps == 0) return QP_EINVAL;
  if (qp_suite_name(cfg->suite) == NULL) return QP_EINVAL;
  if (qp_crypto_init() != 0) return QP_EIO;
  qp__sim_chain_t *w = qp_calloc(1, sizeof *w);
  if (w == NULL) return QP_ENOMEM;
  w->cfg = cfg;
  w->stats = stats;
  w->detail = detail;
  w->detail_size = detail_size;
  stats->seeds = 1;
  int rc = make_world(w);
  if (rc == 0) {
    run_steps(w);
    collect(w);
    qp_hash256_final(&w->digest, digest);
  }
  free_world(w);
  return rc;
}

void qp_sim_chain_config_default(qp_sim_chain_config_t *c, uint64_t seed, uint32_t validators,
                                 uint32_t byzantine, uint32_t steps) {
  memset(c, 0, sizeof *c);
  c->seed = seed;
  c->validators = validators;
  c->byzantine = byzantine;
  c->steps = steps;
  c->liveness_ms = 60000;
  c->loss_ppm = 20000;
  c->crash_ppm = 4000;
  c->partition_ppm = 3000;
  c->tx_ppm = 100000;
  c->byz_ppm = 300000;
  c->suite = QP_SUITE_ED25519;
}

uint64_t qp_sim_chain_violations(const qp_sim_chain_stats_t *s) {
  return s->safety + s->validity + s->liveness + s->other;
}

void qp_sim_chain_stats_add(qp_sim_chain_stats_t *into, const qp_sim_chain_stats_t *from) {
  uint64_t *a = (uint64_t *)into;
  const uint64_t *b = (const uint64_t *)from;
  size_t count = sizeof *into / sizeof(uint64_t);
  for (size_t k = 0; k < count; k++) {
    if (&a[k] == &into->heal_commit_ms_max)
      a[k] = a[k] > b[k] ? a[k] : b[k];
    else
      a[k] += b[k];
  }
}
