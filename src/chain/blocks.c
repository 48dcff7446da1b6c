/*
 * blocks.c - blocks as the node sees them (driver thread only): checking a
 * proposed block's content for the consensus core, executing blocks that
 * are not committed yet (speculatively, on top of their parent's
 * execution), and committing a final block to the store.
 *
 * A block's header carries the state root and the receipts root after the
 * block itself (docs/chain.md, "The node"): the proposer executes its
 * payload on top of the parent (the committed head, or the parent's
 * speculative execution) before it seals the block, and every validator
 * executes it again before voting and refuses a block whose roots are not
 * its own.  An execution is named by (parent hash, tx root, the header's
 * timestamp in seconds: apps' clock), which is all it depends on.  The
 * consensus genesis block (height 0) stands for the store's head before
 * block 1, whose hash is the genesis hash.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "chain/app.h"
#include "chain/node_int.h"

#define TXS_PER_BLOCK_MAX 65536u /* genesis caps block_txs_max at this */

static qp__chain_exec_slot_t *slot_find(qp__chain_node_t *n, const uint8_t parent[QP_HASH_SIZE],
                                        const uint8_t tx_root[QP_HASH_SIZE], uint64_t time_s) {
  for (uint32_t i = 0; i < QP__CHAIN_EXECS_MAX; i++)
    if (n->execs[i].used && memcmp(n->execs[i].parent, parent, QP_HASH_SIZE) == 0 &&
        memcmp(n->execs[i].tx_root, tx_root, QP_HASH_SIZE) == 0 &&
        n->execs[i].exec.time_s == time_s)
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

qp_chain_tx_t *qp__chain_txs_take(qp__chain_node_t *n) {
  qp_chain_tx_t *txs = NULL;
  pthread_mutex_lock(&n->txs_mutex);
  for (uint32_t i = 0; i < QP__CHAIN_TXS_ARRAYS && txs == NULL; i++) {
    if (n->txs_busy[i]) continue;
    if (n->txs_arrays[i] == NULL)
      n->txs_arrays[i] = qp_malloc(n->genesis.params.block_txs_max * sizeof *txs);
    if (n->txs_arrays[i] == NULL) break;
    n->txs_busy[i] = true;
    txs = n->txs_arrays[i];
  }
  pthread_mutex_unlock(&n->txs_mutex);
  return txs != NULL ? txs : qp_malloc(n->genesis.params.block_txs_max * sizeof *txs);
}

void qp__chain_txs_give(qp__chain_node_t *n, qp_chain_tx_t *txs) {
  if (txs == NULL) return;
  pthread_mutex_lock(&n->txs_mutex);
  bool kept = false;
  for (uint32_t i = 0; i < QP__CHAIN_TXS_ARRAYS && !kept; i++)
    if (n->txs_arrays[i] == txs) kept = true, n->txs_busy[i] = false;
  pthread_mutex_unlock(&n->txs_mutex);
  if (!kept) qp_free(txs);
}

void qp__chain_txs_free(qp__chain_node_t *n) {
  for (uint32_t i = 0; i < QP__CHAIN_TXS_ARRAYS; i++) {
    qp_free(n->txs_arrays[i]);
    n->txs_arrays[i] = NULL;
    n->txs_busy[i] = false;
  }
}

/* Decodes a block's payload into txs (caller's array of block_txs_max). */
/* A transaction this node verified: its bytes decoded in full at admission
 * (or in an earlier block), so a block's decode need not parse its args. */
static bool verified(void *ctx, const uint8_t hash[QP_HASH_SIZE]) {
  return qp_chain_mempool_verified(ctx, hash);
}

static int decode_txs(qp__chain_node_t *n, const qp_hs_block_t *b, qp_chain_tx_t *txs,
                      size_t *count) {
  const qp_chain_params_t *p = &n->genesis.params;
  static const uint8_t empty[QP_CHAIN_TXS_HEADER] = {0};
  const uint8_t *body = b->payload_len ? b->payload : empty;
  size_t len = b->payload_len ? b->payload_len : sizeof empty;
  char detail[256];
  int rc = qp_chain_txs_decode_known(n->genesis.suite, n->genesis.hash, body, len,
                                     p->block_bytes_max, p->tx_bytes_max, verified, n->mempool,
                                     txs, p->block_txs_max, count, detail, sizeof detail);
  if (rc != 0) QP_LOG_WARN("chain", "block %llu: bad payload: %s",
                           (unsigned long long)b->header.height, detail);
  return rc;
}

/* The execution of the block `parent`: NULL with *committed when it is
 * the committed head; NULL without it when unknown or abandoned. */
static const qp_chain_exec_t *parent_exec(qp__chain_node_t *n, const uint8_t parent[QP_HASH_SIZE],
                                          bool *committed) {
  *committed = memcmp(parent, n->committed_hash, QP_HASH_SIZE) == 0;
  if (*committed) return NULL;
  const qp_hs_block_t *pb = qp_hs_block_find(n->core, parent); /* read-only */
  qp_chain_head_t head;
  qp_chain_store_head(n->store, &head);
  /* A parent at or below the committed height that is not the head is on
   * an abandoned fork: nothing executes on it. */
  if (pb == NULL || pb->header.height <= head.height) {
    QP_LOG_DEBUG("chain", "parent %02x%02x… %s (head %llu)", parent[0], parent[1],
                 pb == NULL ? "unknown" : "at or below the head, not it",
                 (unsigned long long)head.height);
    return NULL;
  }
  return qp__chain_exec_for(n, pb);
}

/* Executes txs (count) of a block of `height` on parent's execution pe
 * (NULL: the committed state) into a free slot named (parent, tx_root). */
static const qp_chain_exec_t *execute(qp__chain_node_t *n, const uint8_t parent[QP_HASH_SIZE],
                                      const uint8_t tx_root[QP_HASH_SIZE], uint64_t height,
                                      uint64_t time_s, const qp_chain_exec_t *pe,
                                      const qp_chain_tx_t *txs, size_t count) {
  qp__chain_exec_slot_t *s = slot_free(n);
  int rc = s == NULL ? QP_ELIMIT : 0;
  uint64_t t0 = qp_clock_mono_ns();
  if (rc == 0) {
    memset(&s->exec, 0, sizeof s->exec);
    rc = qp_chain_execute_block(qp_chain_store_state(n->store), pe, txs, count, height, time_s,
                                &s->exec);
    if (rc != 0) qp_chain_exec_deinit(&s->exec);
  }
  uint64_t ms = (qp_clock_mono_ns() - t0) / 1000000u;
  if (rc == 0 && ms >= 100)
    QP_LOG_INFO("chain", "executing block %llu (%zu transactions) took %llu ms",
                (unsigned long long)height, count, (unsigned long long)ms);
  if (rc == QP_ELIMIT) { /* catching up: deeper than the overlays or the slots reach */
    QP_LOG_DEBUG("chain", "block %llu not executed yet (%s): it runs when it commits",
                 (unsigned long long)height, qp_strerror(rc));
    return NULL;
  }
  if (rc != 0) {
    QP_LOG_WARN("chain", "cannot execute block %llu: %s", (unsigned long long)height,
                qp_strerror(rc));
    return NULL;
  }
  s->used = true;
  memcpy(s->parent, parent, QP_HASH_SIZE);
  memcpy(s->tx_root, tx_root, QP_HASH_SIZE);
  return &s->exec;
}

/* The execution of txs on parent, found or made; NULL when the parent is
 * unknown or it cannot run yet. */
static const qp_chain_exec_t *exec_on(qp__chain_node_t *n, const uint8_t parent[QP_HASH_SIZE],
                                      const uint8_t tx_root[QP_HASH_SIZE], uint64_t time_s,
                                      const qp_chain_tx_t *txs, size_t count) {
  qp__chain_exec_slot_t *s = slot_find(n, parent, tx_root, time_s);
  if (s != NULL) return &s->exec;
  bool committed = false;
  const qp_chain_exec_t *pe = parent_exec(n, parent, &committed);
  if (pe == NULL && !committed) return NULL;
  qp_chain_head_t head;
  qp_chain_store_head(n->store, &head);
  uint64_t height = pe != NULL ? pe->height + 1 : head.height + 1;
  return execute(n, parent, tx_root, height, time_s, pe, txs, count);
}

const qp_chain_exec_t *qp__chain_exec_for(qp__chain_node_t *n, const qp_hs_block_t *b) {
  uint64_t time_s = b->header.timestamp_ms / 1000u;
  qp__chain_exec_slot_t *s = slot_find(n, b->header.parent_hash, b->header.tx_root, time_s);
  if (s != NULL) return &s->exec;
  qp_chain_tx_t *txs = qp__chain_txs_take(n);
  size_t count = 0;
  const qp_chain_exec_t *done = NULL;
  if (txs != NULL && decode_txs(n, b, txs, &count) == 0)
    done = exec_on(n, b->header.parent_hash, b->header.tx_root, time_s, txs, count);
  qp__chain_txs_give(n, txs);
  return done;
}

int qp__chain_exec_proposal(qp__chain_node_t *n, const uint8_t parent[QP_HASH_SIZE],
                            const qp_hs_block_t *probe, uint64_t time_s,
                            uint8_t tx_root[QP_HASH_SIZE], const qp_chain_exec_t **exec) {
  *exec = NULL;
  qp_chain_tx_t *txs = qp__chain_txs_take(n);
  size_t count = 0;
  int rc = txs == NULL ? QP_ENOMEM : decode_txs(n, probe, txs, &count);
  if (rc == 0) rc = qp_chain_txs_root(n->genesis.suite, txs, count, tx_root);
  if (rc == 0) {
    *exec = exec_on(n, parent, tx_root, time_s, txs, count);
    if (*exec == NULL) rc = QP_ENOTFOUND;
  }
  qp__chain_txs_give(n, txs);
  return rc;
}

int qp__chain_payload_txs(qp__chain_node_t *n, const qp_hs_block_t *b, qp_chain_tx_t *txs,
                          size_t *count) {
  return decode_txs(n, b, txs, count);
}

/* Every transaction signed (each distinct one verified once, thanks to
 * the mempool's cache), the Lua calls' stated gas within the block's
 * budget, and the transaction root right. */
static bool txs_valid(qp__chain_node_t *n, const qp_hs_block_t *b, const qp_chain_tx_t *txs,
                      size_t count) {
  uint64_t gas_max = n->genesis.params.block_gas_max;
  if (qp_chain_txs_gas(txs, count, gas_max) > gas_max) {
    QP_LOG_WARN("chain", "refusing block %llu of view %llu: its Lua calls state more gas than "
                "the block's budget of %llu", (unsigned long long)b->header.height,
                (unsigned long long)b->header.view, (unsigned long long)gas_max);
    return false;
  }
  for (size_t i = 0; i < count; i++)
    if (qp_chain_mempool_verify(n->mempool, &txs[i]) != 0) return false;
  uint8_t root[QP_HASH_SIZE];
  return qp_chain_txs_root(n->genesis.suite, txs, count, root) == 0 &&
         memcmp(root, b->header.tx_root, QP_HASH_SIZE) == 0;
}

/* The block's content against its header: its transactions, and the
 * roots after executing it on its parent (executed once, kept). */
static bool content_valid(qp__chain_node_t *n, const qp_hs_block_t *b, qp_chain_tx_t *txs) {
  size_t count = 0;
  if (decode_txs(n, b, txs, &count) != 0 || !txs_valid(n, b, txs, count)) {
    QP_LOG_WARN("chain", "refusing block %llu of view %llu: a transaction or the tx root is bad",
                (unsigned long long)b->header.height, (unsigned long long)b->header.view);
    return false;
  }
  const qp_chain_exec_t *x = exec_on(n, b->header.parent_hash, b->header.tx_root,
                                     b->header.timestamp_ms / 1000u, txs, count);
  if (x == NULL || memcmp(x->state_root, b->header.state_root, QP_HASH_SIZE) != 0 ||
      memcmp(x->receipts_root, b->header.receipts_root, QP_HASH_SIZE) != 0) {
    QP_LOG_WARN("chain", "refusing block %llu of view %llu: %s",
                (unsigned long long)b->header.height, (unsigned long long)b->header.view,
                x == NULL ? "it cannot be executed on its parent"
                          : "its state or receipts root is not ours");
    return false;
  }
  return true;
}

bool qp__chain_block_valid(void *ctx, const qp_hs_block_t *b) {
  qp__chain_node_t *n = ctx;
  qp_chain_tx_t *txs = qp__chain_txs_take(n);
  bool ok = txs != NULL && content_valid(n, b, txs);
  qp__chain_txs_give(n, txs);
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

/* Hands the committed transactions to the mempool (it drops them), by the
 * hashes and sender ids their execution kept. */
static void mempool_after_commit(qp__chain_node_t *n, const qp_chain_exec_t *x) {
  size_t count = x->receipts.count;
  (void)qp_chain_mempool_committed_ids(n->mempool, x->tx_ids, x->tx_ids + count * QP_HASH_SIZE,
                                       count);
}

/* A final block's execution, checked against its header's roots. */
static const qp_chain_exec_t *final_exec(qp__chain_node_t *n, const qp_hs_block_t *b) {
  const qp_chain_exec_t *exec = qp__chain_exec_for(n, b);
  if (exec != NULL && memcmp(exec->state_root, b->header.state_root, QP_HASH_SIZE) == 0 &&
      memcmp(exec->receipts_root, b->header.receipts_root, QP_HASH_SIZE) == 0)
    return exec;
  QP_LOG_ERROR("chain", "final block %llu %s: stopping consensus",
               (unsigned long long)b->header.height,
               exec == NULL ? "cannot be executed" : "has other roots than our execution");
  return NULL;
}

/* The blocks above b up to the one cert certifies (above[0..count), each
 * the child of the one before), as the store keeps them: n x (u32 len |
 * block).  QP_EINVAL when they do not reach it. */
static int encode_above(qp__chain_node_t *n, const qp_hs_block_t *b,
                        const qp_hs_commit_cert_t *cert, const qp_hs_block_t *const *above,
                        uint32_t count, qp_buf_t *out) {
  const uint8_t *parent = b->hash;
  int rc = 0;
  for (uint32_t i = 0; rc == 0 && i < count; i++) {
    if (memcmp(above[i]->header.parent_hash, parent, QP_HASH_SIZE) != 0) return QP_EINVAL;
    uint8_t *enc = NULL, len[4];
    size_t enc_len = 0;
    rc = qp_hs_encode_block(n->cfg, above[i], &enc, &enc_len);
    qp_store_u32(len, (uint32_t)enc_len);
    if (rc == 0 && (!qp_buf_append(out, len, sizeof len) || !qp_buf_append(out, enc, enc_len)))
      rc = QP_ENOMEM;
    qp_free(enc);
    parent = above[i]->hash;
  }
  if (rc == 0 && memcmp(cert->child.parent_hash, parent, QP_HASH_SIZE) != 0) rc = QP_EINVAL;
  return rc;
}

int qp__chain_commit(qp__chain_node_t *n, const qp_hs_block_t *b,
                     const qp_hs_commit_cert_t *cert, const qp_hs_block_t *const *above,
                     uint32_t above_count, bool *new_epoch) {
  const qp_chain_exec_t *exec = final_exec(n, b);
  if (exec == NULL) return QP_ECORRUPT; /* a final block we cannot execute: stop */
  uint8_t *enc = NULL, *cert_enc = NULL;
  size_t enc_len = 0, cert_len = 0;
  int rc = qp_hs_encode_block(n->cfg, b, &enc, &enc_len);
  /* The evidence is kept with the highest block it made final. */
  bool own = memcmp(cert->child.parent_hash, b->hash, QP_HASH_SIZE) == 0, top = own;
  /* The block that changes the validator set keeps the certificate too
   * (nothing above it in this epoch is ever committed), and when it is not
   * its own, the blocks up to the one it certifies (catch-up shows them). */
  top |= exec->reconfig;
  qp_buf_t up = {.max = SIZE_MAX};
  if (rc == 0 && exec->reconfig && !own &&
      encode_above(n, b, cert, above, above_count, &up) != 0)
    QP_LOG_WARN("chain", "block %llu ends epoch %u without the blocks its certificate needs",
                (unsigned long long)b->header.height, n->cfg->epoch);
  if (rc == 0 && top) rc = qp_hs_encode_cert(n->cfg, cert, &cert_enc, &cert_len);
  qp_chain_head_t head;
  qp_chain_store_head(n->store, &head);
  static const uint8_t empty[QP_CHAIN_TXS_HEADER] = {0}; /* a body of no transactions */
  qp_chain_block_in_t in = {.height = b->header.height, .header = enc, .header_len = enc_len,
                            .body = b->payload_len ? b->payload : empty,
                            .body_len = b->payload_len ? b->payload_len : sizeof empty,
                            .qc = cert_enc, .qc_len = cert_len,
                            .above = (const uint8_t *)up.data, .above_len = up.len};
  memcpy(in.hash, b->hash, QP_HASH_SIZE);
  /* Block 1's consensus parent is the genesis block: the store's head hash. */
  memcpy(in.parent_hash, b->header.height == 1 ? head.hash : b->header.parent_hash,
         QP_HASH_SIZE);
  char detail[256] = "";
  if (rc == 0) rc = qp_chain_store_commit(n->store, &in, exec, detail, sizeof detail);
  qp_free(enc);
  qp_free(cert_enc);
  qp_buf_free(&up);
  if (rc != 0) {
    QP_LOG_ERROR("chain", "cannot store committed block %llu: %s %s",
                 (unsigned long long)b->header.height, qp_strerror(rc), detail);
    return rc;
  }
  memcpy(n->committed_hash, b->hash, QP_HASH_SIZE);
  pthread_mutex_lock(&n->pub_mutex); /* every path that commits passes here */
  n->pub.txs_committed += exec->receipts.count;
  pthread_mutex_unlock(&n->pub_mutex);
  *new_epoch = exec->reconfig;
  mempool_after_commit(n, exec);
  execs_after_commit(n, exec, b->header.height);
  return 0;
}
