/*
 * epoch_proof.c - the end of an epoch, for validators that missed it
 * (docs/chain.md, "Governance").  Every validator switches to the new set
 * when it commits the block that changed it; one that did not see that
 * block's commit certificate in time (it was slow, or down) still speaks
 * the old epoch, whose messages the others no longer take.  So a node that
 * switched shows such a peer the end as a catch-up run (catchup.h): the
 * block, the blocks committed with it above it up to the certified one
 * (when a view change came right after it), and the commit certificate;
 * the peer, when the block is the next one it would commit, checks the
 * run with the old epoch's validators (the two-chain rule, 2f+1 signatures
 * on both QCs), commits the block and switches too; further behind, it
 * asks for the blocks it lacks first.  Older nodes sent a channel-4 frame
 *   u8 4 | u32 epoch (the one that ended) | u32 len | the block | the cert
 * which is still taken.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "chain/catchup.h"
#include "chain/node_int.h"

#define OFFER_EVERY_MS 1000u
#define CAST_FOR_MS 30000u /* how long after a switch the proof is broadcast */

int qp__chain_epoch_proof_make(qp__chain_node_t *n, const qp_hs_block_t *b,
                               const qp_hs_block_t *const *above, uint32_t above_count,
                               const qp_hs_commit_cert_t *cert) {
  if (above_count + 1 > QP_CHAIN_CATCHUP_BLOCKS_MAX) return QP_ELIMIT;
  uint8_t *encs[QP_CHAIN_CATCHUP_BLOCKS_MAX] = {0}, *c = NULL, *frame = NULL;
  size_t lens[QP_CHAIN_CATCHUP_BLOCKS_MAX] = {0}, c_len = 0, frame_len = 0;
  int rc = qp_hs_encode_block(n->cfg, b, &encs[0], &lens[0]);
  for (uint32_t i = 0; rc == 0 && i < above_count; i++)
    rc = qp_hs_encode_block(n->cfg, above[i], &encs[i + 1], &lens[i + 1]);
  if (rc == 0) rc = qp_hs_encode_cert(n->cfg, cert, &c, &c_len);
  if (rc == 0)
    rc = qp_chain_catchup_response(n->cfg->epoch + 1, b->header.height,
                                   (const uint8_t *const *)encs, lens, above_count + 1, c, c_len,
                                   1, &frame, &frame_len);
  if (rc == 0) {
    frame[0] = QP__CHAIN_CHANNEL_CATCHUP;
    qp_free(n->epoch_proof);
    n->epoch_proof = frame;
    n->epoch_proof_len = frame_len;
    memset(n->epoch_proof_sent_ms, 0, sizeof n->epoch_proof_sent_ms);
    n->epoch_proof_until_ms = qp_clock_mono_ns() / 1000000u + CAST_FOR_MS;
    n->epoch_proof_cast_ms = 0;
  }
  for (uint32_t i = 0; i <= above_count; i++) qp_free(encs[i]);
  qp_free(c);
  return rc;
}

void qp__chain_epoch_proof_offer(qp__chain_node_t *n, uint32_t peer, uint64_t now_ms) {
  if (n->epoch_proof == NULL || peer >= QP_CHAIN_VALIDATORS_MAX) return;
  if (now_ms < n->epoch_proof_sent_ms[peer] + OFFER_EVERY_MS) return;
  n->epoch_proof_sent_ms[peer] = now_ms;
  qp_net_send(n->net, peer, n->epoch_proof, n->epoch_proof_len);
}

void qp__chain_epoch_proof_cast(qp__chain_node_t *n, uint64_t now_ms) {
  if (n->epoch_proof == NULL || now_ms >= n->epoch_proof_until_ms ||
      now_ms < n->epoch_proof_cast_ms + OFFER_EVERY_MS)
    return;
  n->epoch_proof_cast_ms = now_ms;
  int rc = qp_net_broadcast(n->net, n->epoch_proof, n->epoch_proof_len);
  QP_LOG_DEBUG("chain", "the end of the last epoch to every peer: %s", qp_strerror(rc));
}

uint64_t qp__chain_epoch_proof_wait_ms(const qp__chain_node_t *n, uint64_t now_ms) {
  if (n->epoch_proof == NULL || now_ms >= n->epoch_proof_until_ms) return UINT64_MAX;
  uint64_t next = n->epoch_proof_cast_ms + OFFER_EVERY_MS;
  return next > now_ms ? next - now_ms : 0;
}

void qp__chain_epoch_proof_apply(qp__chain_node_t *n, uint32_t peer, const uint8_t *bytes,
                                 size_t len, bool *new_epoch) {
  QP_LOG_DEBUG("chain", "the end of epoch %u from %s (%zu bytes)",
               len >= 5 ? qp_load_u32(bytes + 1) : 0, n->epochs.peers.validators[peer].name, len);
  if (len < 9 || qp_load_u32(bytes + 1) != n->cfg->epoch) return; /* not the end of ours */
  size_t block_len = qp_load_u32(bytes + 5);
  if (block_len > len - 9) return;
  qp_hs_block_t b;
  qp_hs_commit_cert_t *cert = qp_malloc(sizeof *cert);
  qp_chain_head_t head;
  qp_chain_store_head(n->store, &head);
  bool ok = cert != NULL && qp_hs_decode_block(n->cfg, bytes + 9, block_len, &b) == 0 &&
            qp_hs_decode_cert(n->cfg, bytes + 9 + block_len, len - 9 - block_len, cert) == 0 &&
            b.header.height == head.height + 1 &&
            memcmp(b.header.parent_hash, n->committed_hash, QP_HASH_SIZE) == 0 &&
            qp_hs_cert_check(n->cfg, &b.header, b.hash, cert, NULL, 0) == 0;
  if (!ok)
    QP_LOG_DEBUG("chain", "the end of epoch %u from %s does not apply here (at height %llu)",
                 n->cfg->epoch, n->epochs.peers.validators[peer].name,
                 (unsigned long long)head.height);
  if (ok) {
    QP_LOG_INFO("chain", "validator %s shows epoch %u ended at block %llu: committing it",
                n->epochs.peers.validators[peer].name, n->cfg->epoch,
                (unsigned long long)b.header.height);
    ok = qp__chain_commit(n, &b, cert, NULL, 0, new_epoch) == 0 && *new_epoch;
    if (ok) qp__chain_epoch_proof_make(n, &b, NULL, 0, cert); /* to pass on in turn */
    if (!ok) QP_LOG_WARN("chain", "the block that ended epoch %u did not change the set here",
                         n->cfg->epoch);
  }
  qp_free(cert);
}
