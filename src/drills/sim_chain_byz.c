/*
 * sim_chain_byz.c - what the simulator's Byzantine validators do.
 *
 * A Byzantine validator runs an honest core (so that it knows the chain
 * and can hurt it in ways that pass the first checks) and the simulator
 * corrupts what it does, with probability byz_ppm per opportunity, from
 * its own seeded stream:
 *   - as leader: stay silent; equivocate (two valid blocks for the view,
 *     one to each half of the validators, and every Byzantine validator
 *     votes for both); propose a block with an unsigned transaction
 *     (correct tx_root, so only the payload check catches it) that every
 *     Byzantine validator votes for; or fork: a block on the
 *     parent of the high QC's block, with the view's TC if any, that
 *     every Byzantine validator votes for;
 *   - on every message it sends: withhold it; send garbage bytes or a copy
 *     with one byte flipped besides; or, for a vote, also vote for a
 *     random block of the same view (a double vote).
 * The colluders share their keys: any of them can sign for all of them.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "drills/sim_chain_int.h"

#define PPM 1000000u
#define GARBAGE_BYTES_MAX 300u

static bool byz_chance(qp__sim_chain_t *w) {
  return qp_rng_chance(&w->byz_rng, w->cfg->byz_ppm, PPM);
}

static void raw_send(qp__sim_chain_t *w, uint32_t from, uint32_t to, const uint8_t *bytes,
                     size_t len) {
  if (from == to || to >= w->cfg->validators) return;
  (void)qp_sim_net_send(w->net, from, to, bytes, len);
}

static void send_garbage(qp__sim_chain_t *w, uint32_t from, uint32_t to, const uint8_t *bytes,
                         size_t len) {
  uint8_t junk[GARBAGE_BYTES_MAX];
  w->stats->garbage++;
  if (len > 0 && qp_rng_below(&w->byz_rng, 2) == 0) {
    uint8_t *copy = qp_malloc(len);
    if (copy == NULL) return;
    memcpy(copy, bytes, len);
    copy[qp_rng_below(&w->byz_rng, len)] ^= (uint8_t)(1u << qp_rng_below(&w->byz_rng, 8));
    raw_send(w, from, to, copy, len);
    qp_free(copy);
    return;
  }
  size_t junk_len = (size_t)qp_rng_below(&w->byz_rng, GARBAGE_BYTES_MAX + 1);
  qp_rng_bytes(&w->byz_rng, junk, junk_len);
  if (junk_len >= 2 && qp_rng_below(&w->byz_rng, 2) == 0) {
    junk[0] = QP_HS_WIRE_VERSION; /* get past the first check */
    junk[1] = (uint8_t)qp_rng_range(&w->byz_rng, 1, 6);
  }
  raw_send(w, from, to, junk, junk_len);
}

/* Every Byzantine validator votes for b, sending to the next leader. */
static void colluders_vote(qp__sim_chain_t *w, const qp_hs_block_t *b) {
  uint32_t next = qp_hs_leader(&w->g, b->header.view + 1);
  for (uint32_t j = 0; j < w->cfg->validators; j++) {
    if (!w->nodes[j].byz || j == next) continue;
    qp_hs_vote_t v;
    uint8_t *bytes;
    size_t len;
    if (qp_hs_vote_sign(&w->g, w->keys[j], j, b->header.view, b->header.height, b->hash, &v))
      continue;
    if (qp_hs_encode_vote(&w->g, &v, &bytes, &len) != 0) continue;
    raw_send(w, j, next, bytes, len);
    qp_free(bytes);
  }
}

static void double_vote(qp__sim_chain_t *w, uint32_t from, uint32_t to, const uint8_t *bytes,
                        size_t len) {
  static qp_hs_msg_t m;
  if (qp_hs_msg_decode(&w->g, bytes, len, &m) != 0 || m.type != QP_HS_MSG_VOTE) return;
  uint8_t other[QP_HASH_SIZE];
  qp_rng_bytes(&w->byz_rng, other, sizeof other);
  qp_hs_vote_t v;
  uint8_t *out;
  size_t out_len;
  if (qp_hs_vote_sign(&w->g, w->keys[from], from, m.vote.view, m.vote.height, other, &v)) return;
  if (qp_hs_encode_vote(&w->g, &v, &out, &out_len) != 0) return;
  raw_send(w, from, to, out, out_len);
  qp_free(out);
  w->stats->double_votes++;
}

bool qp__sim_byz_outgoing(qp__sim_chain_t *w, uint32_t from, uint32_t to, const uint8_t *bytes,
                          size_t len) {
  if (!byz_chance(w)) return true;
  switch (qp_rng_below(&w->byz_rng, 4)) {
  case 0: w->stats->withheld++; return false;
  case 1: send_garbage(w, from, to, bytes, len); return true;
  case 2: double_vote(w, from, to, bytes, len); return true;
  default: return true;
  }
}

/* A block for node i's open NEED_PAYLOAD, on its high QC, sealed with its
 * key; false when the view began with a TC (the sim does not forge that
 * path) or the QC is not the wanted parent's. */
static bool build(qp__sim_chain_t *w, uint32_t i, const uint8_t *payload, uint32_t len,
                  uint64_t skew_ms, qp_hs_block_t *b) {
  const qp__sim_node_t *n = &w->nodes[i];
  const qp_hs_qc_t *qc = qp_hs_high_qc(n->core);
  if (qc->view + 1 != n->want_view || memcmp(qc->block_hash, n->want_parent, 32) != 0)
    return false;
  memset(b, 0, sizeof *b);
  b->header.height = n->want_height;
  b->header.view = n->want_view;
  b->header.timestamp_ms = w->now_ms + skew_ms;
  b->header.proposer = i;
  memcpy(b->header.parent_hash, n->want_parent, QP_HASH_SIZE);
  b->header.justify = *qc;
  qp__sim_tx_root(w, payload, len, b->header.tx_root);
  b->payload = len ? payload : NULL;
  b->payload_len = len;
  return qp_hs_block_seal(&w->g, w->keys[i], b) == 0;
}

static void send_block(qp__sim_chain_t *w, uint32_t i, const qp_hs_block_t *b, uint32_t parity) {
  uint8_t *bytes;
  size_t len;
  if (qp_hs_encode_proposal(&w->g, b, NULL, &bytes, &len) != 0) return;
  for (uint32_t to = 0; to < w->cfg->validators; to++)
    if (parity == 2 || to % 2 == parity) raw_send(w, i, to, bytes, len);
  qp_free(bytes);
}

static bool equivocate(qp__sim_chain_t *w, uint32_t i) {
  static uint8_t payload[QP__SIM_BLOCK_TXS_MAX * QP__SIM_TX_BYTES];
  uint32_t len = qp__sim_select(w, i, payload);
  if (len == 0 && !w->nodes[i].empty_ok) return false;
  qp_hs_block_t a, b;
  if (!build(w, i, payload, len, 0, &a) || !build(w, i, payload, len, 1, &b)) return false;
  send_block(w, i, &a, 0);
  send_block(w, i, &b, 1);
  colluders_vote(w, &a);
  colluders_vote(w, &b);
  w->stats->equivocations++;
  w->stats->double_votes += w->cfg->byzantine;
  qp__sim_trace(w, "byzantine node %u equivocates in view %llu", i,
                (unsigned long long)a.header.view);
  return true;
}

static bool invalid_proposal(qp__sim_chain_t *w, uint32_t i) {
  static uint8_t payload[(QP__SIM_BLOCK_TXS_MAX + 1) * QP__SIM_TX_BYTES];
  uint32_t len = qp__sim_select(w, i, payload) >= QP__SIM_TX_BYTES ? QP__SIM_TX_BYTES : 0;
  uint8_t *forged = payload + len;
  qp_rng_bytes(&w->byz_rng, forged, QP__SIM_TX_BYTES);
  qp_store_u64(forged, w->txs_count > 0 ? qp_rng_below(&w->byz_rng, w->txs_count) : 0);
  len += QP__SIM_TX_BYTES;
  qp_hs_block_t b;
  if (!build(w, i, payload, len, 0, &b)) return false;
  send_block(w, i, &b, 2);
  colluders_vote(w, &b);
  w->stats->invalid_proposals++;
  w->stats->invalid_votes += w->cfg->byzantine;
  qp__sim_trace(w, "byzantine node %u proposes an unsigned transaction in view %llu", i,
                (unsigned long long)b.header.view);
  return true;
}

/* A block that skips the high QC's block: it extends that block's parent,
 * with the view's TC when there is one (a reorganisation attempt that
 * honest validators must refuse: the TC says a higher QC exists). */
static bool fork(qp__sim_chain_t *w, uint32_t i) {
  qp__sim_node_t *n = &w->nodes[i];
  const qp_hs_qc_t *high = qp_hs_high_qc(n->core);
  const qp_hs_block_t *top = qp_hs_block_find(n->core, high->block_hash);
  if (top == NULL || top->header.height == 0) return false;
  const qp_hs_tc_t *tc = qp_hs_last_tc(n->core);
  if (tc != NULL && tc->view + 1 != n->want_view) tc = NULL;
  static uint8_t payload[QP__SIM_BLOCK_TXS_MAX * QP__SIM_TX_BYTES];
  uint32_t len = qp__sim_select(w, i, payload);
  qp_hs_block_t b;
  memset(&b, 0, sizeof b);
  b.payload = len ? payload : NULL;
  b.payload_len = len;
  b.header.justify = top->header.justify;
  b.header.height = top->header.height;
  b.header.view = n->want_view;
  b.header.timestamp_ms = w->now_ms;
  b.header.proposer = i;
  memcpy(b.header.parent_hash, top->header.parent_hash, QP_HASH_SIZE);
  qp__sim_tx_root(w, payload, len, b.header.tx_root);
  if (qp_hs_block_seal(&w->g, w->keys[i], &b) != 0) return false;
  uint8_t *bytes;
  size_t bytes_len;
  if (qp_hs_encode_proposal(&w->g, &b, tc, &bytes, &bytes_len) != 0) return false;
  for (uint32_t to = 0; to < w->cfg->validators; to++) raw_send(w, i, to, bytes, bytes_len);
  qp_free(bytes);
  colluders_vote(w, &b);
  w->stats->forks++;
  qp__sim_trace(w, "byzantine node %u forks below the high QC in view %llu", i,
                (unsigned long long)b.header.view);
  return true;
}

bool qp__sim_byz_propose(qp__sim_chain_t *w, uint32_t i) {
  if (!byz_chance(w)) return false;
  switch (qp_rng_below(&w->byz_rng, 4)) {
  case 3: return fork(w, i);
  case 0:
    w->stats->withheld++;
    qp__sim_trace(w, "byzantine node %u stays silent as leader", i);
    return true;
  case 1: return equivocate(w, i);
  default: return invalid_proposal(w, i);
  }
}
