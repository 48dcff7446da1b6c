/*
 * mempool_block.c - the mempool's block side (mempool.h): taking
 * transactions for a block, returning them when the block is abandoned,
 * and removing them once committed, with the re-check that drops what the
 * new nonces made stale.  The consensus thread calls these; the mutex is
 * held throughout each call (no cryptography happens here).
 */
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "chain/mempool_int.h"

/* Undoes the takes of round `round` after a failed append. */
static void untake_round(qp_chain_mempool_t *mp, uint32_t round) {
  for (uint32_t e = mp->fifo_head; e != QP_CHAIN_NIL; e = mp->entries[e].fifo_next) {
    mp_entry_t *x = &mp->entries[e];
    if (!x->taken || x->round != round) continue;
    x->taken = false;
    mp->taken--;
    mp_sender_t *s = &mp->senders[x->sender];
    if (x->nonce < s->next_take) s->next_take = x->nonce;
  }
}

/* Takes e and the sender's following nonces while they fit (a call over
 * the gas left ends the run).  Returns 0, 1 when the block is full, or an
 * append error. */
static int take_run(qp_chain_mempool_t *mp, uint32_t e, uint32_t txs_max, uint32_t bytes_max,
                    qp_buf_t *body, uint32_t *count, uint64_t *gas) {
  mp_sender_t *s = &mp->senders[mp->entries[e].sender];
  uint64_t gas_max = mp->config.block_gas_max;
  for (; e != QP_CHAIN_NIL; e = mp->entries[e].sender_next) {
    mp_entry_t *x = &mp->entries[e];
    if (x->nonce != s->next_take) return 0;
    QP_ASSERT(!x->taken);
    if (*count == txs_max || body->len + QP_CHAIN_TXS_FRAME + x->len > bytes_max) return 1;
    if (gas_max > 0 && x->gas > gas_max - *gas) return 0;
    int rc = qp_chain_txs_add(body, x->bytes, x->len);
    if (rc != 0) return rc;
    x->taken = true;
    x->round = mp->round;
    mp->taken++;
    s->next_take++;
    (*count)++;
    *gas += x->gas;
  }
  return 0;
}

int qp_chain_mempool_take(qp_chain_mempool_t *mp, uint32_t txs_max, uint32_t bytes_max,
                          qp_buf_t *body, uint32_t *count_out) {
  QP_ASSERT(mp != NULL && body != NULL && count_out != NULL);
  *count_out = 0;
  int rc = qp_chain_txs_begin(body);
  if (rc != 0) return rc;
  pthread_mutex_lock(&mp->mu);
  mp->round++;
  uint32_t count = 0;
  uint64_t gas = 0;
  for (uint32_t e = mp->fifo_head; e != QP_CHAIN_NIL && rc == 0; e = mp->entries[e].fifo_next) {
    mp_entry_t *x = &mp->entries[e];
    if (x->taken || x->nonce != mp->senders[x->sender].next_take) continue;
    rc = take_run(mp, e, txs_max, bytes_max, body, &count, &gas);
  }
  if (rc < 0) {
    untake_round(mp, mp->round);
    count = 0;
  }
  pthread_mutex_unlock(&mp->mu);
  if (rc < 0) {
    (void)qp_chain_txs_begin(body);
    return rc;
  }
  *count_out = count;
  return 0;
}

bool qp_chain_mempool_ready(qp_chain_mempool_t *mp) {
  QP_ASSERT(mp != NULL);
  bool ready = false;
  pthread_mutex_lock(&mp->mu);
  if (mp->count <= mp->taken) { /* every one is in a proposal: no walk */
    pthread_mutex_unlock(&mp->mu);
    return false;
  }
  for (uint32_t e = mp->fifo_head; e != QP_CHAIN_NIL && !ready; e = mp->entries[e].fifo_next) {
    const mp_entry_t *x = &mp->entries[e];
    ready = !x->taken && x->nonce == mp->senders[x->sender].next_take;
  }
  pthread_mutex_unlock(&mp->mu);
  return ready;
}

void qp_chain_mempool_untake(qp_chain_mempool_t *mp) {
  QP_ASSERT(mp != NULL);
  pthread_mutex_lock(&mp->mu);
  for (uint32_t e = mp->fifo_head; e != QP_CHAIN_NIL; e = mp->entries[e].fifo_next) {
    mp_entry_t *x = &mp->entries[e];
    mp->senders[x->sender].next_take = mp->senders[x->sender].committed + 1;
    x->taken = false;
  }
  mp->taken = 0;
  qp__chain_hmap_clear(&mp->held_by_sender);
  pthread_mutex_unlock(&mp->mu);
}

/* Re-reads sender s's committed nonce (once per commit round) and drops
 * its entries at or below it. */
static int refresh_sender(qp_chain_mempool_t *mp, uint32_t s_index) {
  mp_sender_t *s = &mp->senders[s_index];
  if (s->refreshed == mp->commit_round) return 0;
  uint64_t committed = 0;
  int rc = mp->config.nonce_fn(mp->config.nonce_ctx, s->key, s->key_len, &committed);
  if (rc != 0) return rc;
  s->refreshed = mp->commit_round;
  if (committed > s->committed) s->committed = committed;
  if (s->next_take <= s->committed) s->next_take = s->committed + 1;
  /* Removing the last entry frees s: test the count before each step. */
  while (s->count > 0 && mp->entries[s->head].nonce <= s->committed) {
    bool last = s->count == 1;
    qp__chain_mp_remove(mp, s->head);
    if (last) break;
  }
  return 0;
}

int qp_chain_mempool_committed_ids(qp_chain_mempool_t *mp, const uint8_t *hashes,
                                   const uint8_t *sender_ids, size_t count) {
  QP_ASSERT(mp != NULL && ((hashes != NULL && sender_ids != NULL) || count == 0));
  pthread_mutex_lock(&mp->mu);
  mp->commit_round++;
  uint32_t e = 0;
  for (size_t i = 0; i < count; i++)
    if (qp__chain_hmap_get(&mp->by_hash, hashes + i * QP_HASH_SIZE, &e)) qp__chain_mp_remove(mp, e);
  int first = 0;
  for (size_t i = 0; i < count; i++) {
    uint32_t s = 0;
    if (!qp__chain_hmap_get(&mp->by_sender, sender_ids + i * QP_HASH_SIZE, &s)) continue;
    int rc = refresh_sender(mp, s);
    if (rc != 0 && first == 0) first = rc;
  }
  pthread_mutex_unlock(&mp->mu);
  return first;
}

int qp_chain_mempool_committed(qp_chain_mempool_t *mp, const qp_chain_tx_t *txs, size_t count) {
  QP_ASSERT(mp != NULL && (txs != NULL || count == 0));
  uint8_t *ids = count > 0 ? qp_malloc(2 * count * QP_HASH_SIZE) : NULL;
  if (count > 0 && ids == NULL) return QP_ENOMEM;
  for (size_t i = 0; i < count; i++) {
    memcpy(ids + i * QP_HASH_SIZE, txs[i].hash, QP_HASH_SIZE);
    qp__chain_mp_sender_id(txs[i].sender, txs[i].sender_len, ids + (count + i) * QP_HASH_SIZE);
  }
  int rc = qp_chain_mempool_committed_ids(mp, ids, ids + count * QP_HASH_SIZE, count);
  qp_free(ids);
  return rc;
}

/* Remembers that a block being built on carries nonce of a sender the pool
 * does not hold (a full map forgets it: the later block may then repeat the
 * transaction, which execution refuses as a used nonce). */
static void hold_absent(qp_chain_mempool_t *mp, const uint8_t id[QP_HASH_SIZE], uint64_t nonce) {
  uint32_t h = mp->held_by_sender.count;
  if (qp__chain_hmap_get(&mp->held_by_sender, id, &h)) {
    if (nonce + 1 > mp->held_next[h]) mp->held_next[h] = nonce + 1;
  } else if (qp__chain_hmap_put(&mp->held_by_sender, id, h) == 0) {
    mp->held_next[h] = nonce + 1;
  }
}

void qp_chain_mempool_hold(qp_chain_mempool_t *mp, const qp_chain_tx_t *txs, size_t count) {
  QP_ASSERT(mp != NULL);
  pthread_mutex_lock(&mp->mu);
  for (size_t i = 0; i < count; i++) {
    uint32_t e = QP_CHAIN_NIL, s = QP_CHAIN_NIL;
    if (qp__chain_hmap_get(&mp->by_hash, txs[i].hash, &e) && !mp->entries[e].taken) {
      mp->entries[e].taken = true;
      mp->entries[e].round = mp->round;
      mp->taken++;
    }
    uint8_t id[QP_HASH_SIZE];
    qp__chain_mp_sender_id(txs[i].sender, txs[i].sender_len, id);
    if (qp__chain_hmap_get(&mp->by_sender, id, &s)) {
      if (txs[i].nonce >= mp->senders[s].next_take) mp->senders[s].next_take = txs[i].nonce + 1;
    } else {
      hold_absent(mp, id, txs[i].nonce);
    }
  }
  pthread_mutex_unlock(&mp->mu);
}
