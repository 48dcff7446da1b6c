/*
 * blocks.c - blocks as the node sees them (driver thread only): checking a
 * proposed block's content for the consensus core, executing blocks that
 * are not committed yet (speculatively, on top of their parent's
 * execution), and committing a final block to the store.
 *
 * A block's header carries the state root after its parent (deferred
 * execution, docs/chain.md, "The node"): after the committed head when the
 * parent is the last committed block, else after the parent's speculative
 * execution.  The consensus genesis block (height 0) stands for the store's
 * head before block 1, whose hash is the genesis hash.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "chain/node_int.h"

#define TXS_PER_BLOCK_MAX 65536u /* genesis caps block_txs_max at this */

static qp__chain_exec_slot_t *slot_find(qp__chain_node_t *n, const uint8_t hash[QP_HASH_SIZE]) {
  for (uint32_t i = 0; i < QP__CHAIN_EXECS_MAX; i++)
    if (n->execs[i].used && memcmp(n->execs[i].hash, hash, QP_HASH_SIZE) == 0)
      return &n->execs[i];
  return NULL;
}

static qp__chain_exec_slot_t *slot_free(qp__chain_node_t *n) {
  for (uint32_t i = 0; i < QP__CHAIN_EXECS_MAX; i++)
    if (!n->execs[i].used) return &n->execs[i];
  return NULL;
}

void qp__chain_execs_clear(qp__chain_node_t *n) {
  for (uint32_t i = 0; i < QP__CHAIN_EXECS_MAX; i++) {
    if (!n->execs[i].used) continue;
    qp_chain_exec_deinit(&n->execs[i].exec);
    n->execs[i].used = false;
  }
}

/* Decodes a block's payload into txs (caller's array of block_txs_max). */
static int decode_txs(qp__chain_node_t *n, const qp_hs_block_t *b, qp_chain_tx_t *txs,
                      size_t *count) {
  const qp_chain_params_t *p = &n->genesis.params;
  static const uint8_t empty[QP_CHAIN_TXS_HEADER] = {0};
  const uint8_t *body = b->payload_len ? b->payload : empty;
  size_t len = b->payload_len ? b->payload_len : sizeof empty;
  char detail[256];
  int rc = qp_chain_txs_decode(n->genesis.suite, n->genesis.hash, body, len, p->block_bytes_max,
                               p->tx_bytes_max, txs, p->block_txs_max, count, detail,
                               sizeof detail);
  if (rc != 0) QP_LOG_WARN("chain", "block %llu: bad payload: %s",
                           (unsigned long long)b->header.height, detail);
  return rc;
}

/* The execution of the block's parent: NULL with *committed when the
 * parent is the committed head; NULL without it when unknown. */
static const qp_chain_exec_t *parent_exec(qp__chain_node_t *n, const uint8_t parent[QP_HASH_SIZE],
                                          bool *committed) {
  *committed = memcmp(parent, n->committed_hash, QP_HASH_SIZE) == 0;
  if (*committed) return NULL;
  qp__chain_exec_slot_t *s = slot_find(n, parent);
  if (s != NULL) return &s->exec;
  const qp_hs_block_t *pb = qp_hs_block_find(n->core, parent); /* read-only */
  qp_chain_head_t head;
  qp_chain_store_head(n->store, &head);
  /* A parent at or below the committed height that is not the head is on
   * an abandoned fork: nothing executes on it. */
  if (pb == NULL || pb->header.height <= head.height) return NULL;
  return qp__chain_exec_for(n, pb);
}

/* The state root after the parent: the committed head's, or the root of
 * the parent's execution (*pe, NULL when the parent is committed).
 * Returns 0 or QP_ENOTFOUND (an unknown or abandoned parent). */
static int parent_state(qp__chain_node_t *n, const uint8_t parent[QP_HASH_SIZE],
                        const qp_chain_exec_t **pe, uint8_t root[QP_HASH_SIZE]) {
  bool committed = false;
  *pe = parent_exec(n, parent, &committed);
  if (committed) {
    qp_chain_head_t head;
    qp_chain_store_head(n->store, &head);
    memcpy(root, head.state_root, QP_HASH_SIZE);
    return 0;
  }
  if (*pe == NULL) return QP_ENOTFOUND;
  memcpy(root, (*pe)->state_root, QP_HASH_SIZE);
  return 0;
}

int qp__chain_parent_root(qp__chain_node_t *n, const uint8_t parent[QP_HASH_SIZE],
                          uint8_t root[QP_HASH_SIZE]) {
  const qp_chain_exec_t *pe = NULL;
  return parent_state(n, parent, &pe, root);
}

/* Executes b's decoded transactions over pe (NULL: the committed state)
 * into a free slot named by b's hash. */
static const qp_chain_exec_t *execute(qp__chain_node_t *n, const qp_hs_block_t *b,
                                      const qp_chain_exec_t *pe, const qp_chain_tx_t *txs,
                                      size_t count) {
  qp__chain_exec_slot_t *s = slot_free(n);
  int rc = s == NULL ? QP_ELIMIT : 0;
  uint64_t t0 = qp_clock_mono_ns();
  if (rc == 0) {
    memset(&s->exec, 0, sizeof s->exec);
    rc = qp_chain_execute_block(qp_chain_store_state(n->store), pe, txs, count,
                                b->header.height, &s->exec);
    if (rc != 0) qp_chain_exec_deinit(&s->exec);
  }
  uint64_t ms = (qp_clock_mono_ns() - t0) / 1000000u;
  if (rc == 0 && ms >= 100)
    QP_LOG_INFO("chain", "executing block %llu (%zu transactions) took %llu ms",
                (unsigned long long)b->header.height, count, (unsigned long long)ms);
  if (rc == QP_ELIMIT) { /* catching up: deeper than the overlays or the slots reach */
    QP_LOG_DEBUG("chain", "block %llu not executed yet (%s): it runs when it commits",
                 (unsigned long long)b->header.height, qp_strerror(rc));
    return NULL;
  }
  if (rc != 0) {
    QP_LOG_WARN("chain", "cannot execute block %llu: %s", (unsigned long long)b->header.height,
                qp_strerror(rc));
    return NULL;
  }
  s->used = true;
  memcpy(s->hash, b->hash, QP_HASH_SIZE);
  return &s->exec;
}

const qp_chain_exec_t *qp__chain_exec_for(qp__chain_node_t *n, const qp_hs_block_t *b) {
  qp__chain_exec_slot_t *s = slot_find(n, b->hash);
  if (s != NULL) return &s->exec;
  bool committed = false;
  const qp_chain_exec_t *pe = parent_exec(n, b->header.parent_hash, &committed);
  if (pe == NULL && !committed) return NULL;
  qp_chain_tx_t *txs = qp_calloc(n->genesis.params.block_txs_max, sizeof *txs);
  size_t count = 0;
  const qp_chain_exec_t *done = NULL;
  if (txs != NULL && decode_txs(n, b, txs, &count) == 0) done = execute(n, b, pe, txs, count);
  qp_free(txs);
  return done;
}

int qp__chain_payload_txs(qp__chain_node_t *n, const qp_hs_block_t *b, qp_chain_tx_t *txs,
                          size_t *count) {
  return decode_txs(n, b, txs, count);
}

int qp__chain_payload_root(qp__chain_node_t *n, const qp_hs_block_t *b,
                           uint8_t root[QP_HASH_SIZE]) {
  qp_chain_tx_t *txs = qp_calloc(n->genesis.params.block_txs_max, sizeof *txs);
  size_t count = 0;
  int rc = txs == NULL ? QP_ENOMEM : decode_txs(n, b, txs, &count);
  if (rc == 0) rc = qp_chain_txs_root(n->genesis.suite, txs, count, root);
  qp_free(txs);
  return rc;
}

/* Every transaction signed (each distinct one verified once, thanks to
 * the mempool's cache) and the transaction root right. */
static bool txs_valid(qp__chain_node_t *n, const qp_hs_block_t *b, const qp_chain_tx_t *txs,
                      size_t count) {
  for (size_t i = 0; i < count; i++)
    if (qp_chain_mempool_verify(n->mempool, &txs[i]) != 0) return false;
  uint8_t root[QP_HASH_SIZE];
  return qp_chain_txs_root(n->genesis.suite, txs, count, root) == 0 &&
         memcmp(root, b->header.tx_root, QP_HASH_SIZE) == 0;
}

/* The block's content against its header and parent; on success it is
 * executed (its payload decoded once for both). */
static bool content_valid(qp__chain_node_t *n, const qp_hs_block_t *b, qp_chain_tx_t *txs) {
  size_t count = 0;
  if (decode_txs(n, b, txs, &count) != 0 || !txs_valid(n, b, txs, count)) {
    QP_LOG_WARN("chain", "refusing block %llu of view %llu: a transaction or the tx root is bad",
                (unsigned long long)b->header.height, (unsigned long long)b->header.view);
    return false;
  }
  const qp_chain_exec_t *pe = NULL;
  uint8_t root[QP_HASH_SIZE];
  if (parent_state(n, b->header.parent_hash, &pe, root) != 0 ||
      memcmp(root, b->header.state_root, QP_HASH_SIZE) != 0) {
    QP_LOG_WARN("chain", "refusing block %llu of view %llu: its state root is not ours",
                (unsigned long long)b->header.height, (unsigned long long)b->header.view);
    return false;
  }
  return slot_find(n, b->hash) != NULL || execute(n, b, pe, txs, count) != NULL;
}

bool qp__chain_block_valid(void *ctx, const qp_hs_block_t *b) {
  qp__chain_node_t *n = ctx;
  qp_chain_tx_t *txs = qp_calloc(n->genesis.params.block_txs_max, sizeof *txs);
  bool ok = txs != NULL && content_valid(n, b, txs);
  qp_free(txs);
  return ok;
}

/* After block b (height h) committed: its children now execute over the
 * committed state, and executions at or below h are done with. */
static void execs_after_commit(qp__chain_node_t *n, const qp_chain_exec_t *done, uint64_t h) {
  for (uint32_t i = 0; i < QP__CHAIN_EXECS_MAX; i++)
    if (n->execs[i].used && n->execs[i].exec.parent == done) n->execs[i].exec.parent = NULL;
  for (uint32_t i = 0; i < QP__CHAIN_EXECS_MAX; i++) {
    if (!n->execs[i].used || n->execs[i].exec.height > h) continue;
    qp_chain_exec_deinit(&n->execs[i].exec);
    n->execs[i].used = false;
  }
}

/* Hands the committed transactions to the mempool (it drops them). */
static void mempool_after_commit(qp__chain_node_t *n, const qp_hs_block_t *b) {
  qp_chain_tx_t *txs = qp_calloc(n->genesis.params.block_txs_max, sizeof *txs);
  size_t count = 0;
  if (txs != NULL && decode_txs(n, b, txs, &count) == 0)
    qp_chain_mempool_committed(n->mempool, txs, count);
  qp_free(txs);
}

int qp__chain_commit(qp__chain_node_t *n, const qp_hs_block_t *b) {
  const qp_chain_exec_t *exec = qp__chain_exec_for(n, b);
  if (exec == NULL) return QP_ECORRUPT; /* a final block we cannot execute: stop */
  uint8_t *enc = NULL;
  size_t enc_len = 0;
  int rc = qp_hs_encode_block(&n->genesis, b, &enc, &enc_len);
  qp_chain_head_t head;
  qp_chain_store_head(n->store, &head);
  static const uint8_t empty[QP_CHAIN_TXS_HEADER] = {0}; /* a body of no transactions */
  qp_chain_block_in_t in = {.height = b->header.height, .header = enc, .header_len = enc_len,
                            .body = b->payload_len ? b->payload : empty,
                            .body_len = b->payload_len ? b->payload_len : sizeof empty};
  memcpy(in.hash, b->hash, QP_HASH_SIZE);
  /* Block 1's consensus parent is the genesis block: the store's head hash. */
  memcpy(in.parent_hash, b->header.height == 1 ? head.hash : b->header.parent_hash,
         QP_HASH_SIZE);
  char detail[256] = "";
  if (rc == 0) rc = qp_chain_store_commit(n->store, &in, exec, detail, sizeof detail);
  qp_free(enc);
  if (rc != 0) {
    QP_LOG_ERROR("chain", "cannot store committed block %llu: %s %s",
                 (unsigned long long)b->header.height, qp_strerror(rc), detail);
    return rc;
  }
  memcpy(n->committed_hash, b->hash, QP_HASH_SIZE);
  mempool_after_commit(n, b);
  execs_after_commit(n, exec, b->header.height);
  return 0;
}
