/*
 * mempool.c - the mempool's creation, admission and verified-hash cache
 * (mempool.h; the block side is in mempool_block.c).
 *
 * Admission runs its checks cheapest first and takes the mutex only for the
 * lookups and the insertion: the signature is verified with the mutex
 * released, so HTTP threads verify in parallel while the consensus thread
 * builds blocks.  Because the pool may change while a verification runs,
 * the duplicate and nonce checks run again under the mutex before the
 * insertion.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "chain/app.h"
#include "chain/mempool_int.h"

static const char *const ADMIT_CODES[] = {
#define QP__CHAIN_ADMIT_CODE(name, code, msg) code,
    QP_CHAIN_ADMIT_MAP(QP__CHAIN_ADMIT_CODE)
#undef QP__CHAIN_ADMIT_CODE
};
static const char *const ADMIT_MESSAGES[] = {
#define QP__CHAIN_ADMIT_MSG(name, code, msg) msg,
    QP_CHAIN_ADMIT_MAP(QP__CHAIN_ADMIT_MSG)
#undef QP__CHAIN_ADMIT_MSG
};

const char *qp_chain_admit_code(qp_chain_admit_t a) {
  return (unsigned)a < QP_CHAIN_ADMIT__COUNT ? ADMIT_CODES[a] : "unknown";
}

const char *qp_chain_admit_message(qp_chain_admit_t a) {
  return (unsigned)a < QP_CHAIN_ADMIT__COUNT ? ADMIT_MESSAGES[a] : "unknown";
}

void qp_chain_mempool_config_default(qp_chain_mempool_config_t *c, uint32_t tx_bytes_max) {
  memset(c, 0, sizeof *c);
  c->tx_bytes_max = tx_bytes_max;
  c->txs_max = 65536;
  c->bytes_max = 64u << 20;
  if (c->bytes_max < tx_bytes_max) c->bytes_max = tx_bytes_max;
  c->nonce_window = QP_CHAIN_NONCE_WINDOW_DEFAULT;
  c->verified_max = 2 * c->txs_max;
}

void qp__chain_mp_sender_id(const uint8_t *key, size_t len, uint8_t id[QP_HASH_SIZE]) {
  qp_hash256(id, key, len);
}

static bool config_ok(const qp_chain_mempool_config_t *c) {
  return qp_suite_name(c->suite) != NULL && c->txs_max >= 1 &&
         c->txs_max <= QP_CHAIN_MEMPOOL_TXS_MAX && c->tx_bytes_max >= QP_CHAIN_TX_BYTES_MIN &&
         c->tx_bytes_max <= QP_CHAIN_TX_BYTES_MAX && c->bytes_max >= c->tx_bytes_max &&
         c->nonce_window >= 1 && c->nonce_window <= QP_CHAIN_NONCE_WINDOW_MAX &&
         c->verified_max >= 1 && c->verified_max <= QP_CHAIN_MEMPOOL_TXS_MAX && c->nonce_fn != NULL;
}

static int alloc_pool(qp_chain_mempool_t *mp) {
  uint32_t n = mp->config.txs_max;
  mp->entries = qp_calloc(n, sizeof *mp->entries);
  mp->entries_free = qp_malloc((size_t)n * sizeof *mp->entries_free);
  mp->senders = qp_calloc(n, sizeof *mp->senders);
  mp->ring = qp_malloc((size_t)mp->config.verified_max * QP_HASH_SIZE);
  mp->held_next = qp_malloc((size_t)n * sizeof *mp->held_next);
  if (mp->entries == NULL || mp->entries_free == NULL || mp->senders == NULL ||
      mp->ring == NULL || mp->held_next == NULL)
    return QP_ENOMEM;
  int rc = qp__chain_hmap_init(&mp->by_hash, n);
  if (rc == 0) rc = qp__chain_hmap_init(&mp->by_sender, n);
  if (rc == 0) rc = qp__chain_hmap_init(&mp->held_by_sender, n);
  if (rc == 0) rc = qp__chain_hmap_init(&mp->verified, mp->config.verified_max);
  if (rc != 0) return rc;
  for (uint32_t i = 0; i < n; i++) {
    mp->entries_free[i] = n - 1 - i;
    mp->senders[i].next_free = i + 1 < n ? i + 1 : QP_CHAIN_NIL;
  }
  mp->entries_free_count = n;
  mp->senders_free = 0;
  mp->fifo_head = mp->fifo_tail = QP_CHAIN_NIL;
  return 0;
}

/* Frees the pool's arrays and maps and the pool (not the entries' bytes). */
static void release(qp_chain_mempool_t *mp) {
  qp__chain_hmap_deinit(&mp->by_hash);
  qp__chain_hmap_deinit(&mp->by_sender);
  qp__chain_hmap_deinit(&mp->held_by_sender);
  qp__chain_hmap_deinit(&mp->verified);
  qp_free(mp->entries);
  qp_free(mp->entries_free);
  qp_free(mp->senders);
  qp_free(mp->ring);
  qp_free(mp->held_next);
  qp_free(mp);
}

int qp_chain_mempool_new(const qp_chain_mempool_config_t *config, qp_chain_mempool_t **out) {
  QP_ASSERT(config != NULL && out != NULL);
  *out = NULL;
  if (!config_ok(config)) return QP_EINVAL;
  qp_chain_mempool_t *mp = qp_calloc(1, sizeof *mp);
  if (mp == NULL) return QP_ENOMEM;
  mp->config = *config;
  int rc = alloc_pool(mp);
  if (rc == 0 && pthread_mutex_init(&mp->mu, NULL) != 0) rc = QP_ENOMEM;
  if (rc != 0) {
    release(mp);
    return rc;
  }
  *out = mp;
  return 0;
}

void qp_chain_mempool_free(qp_chain_mempool_t *mp) {
  if (mp == NULL) return;
  for (uint32_t i = 0; i < mp->config.txs_max; i++)
    if (mp->entries[i].used) qp_free(mp->entries[i].bytes);
  pthread_mutex_destroy(&mp->mu);
  release(mp);
}

/* ---- the verified cache (mutex held) ----------------------------------- */

static void verified_add(qp_chain_mempool_t *mp, const uint8_t hash[QP_HASH_SIZE]) {
  if (qp__chain_hmap_get(&mp->verified, hash, NULL)) return;
  uint8_t *slot = mp->ring + (size_t)mp->ring_next * QP_HASH_SIZE;
  if (mp->ring_count == mp->config.verified_max) {
    qp__chain_hmap_del(&mp->verified, slot);
  } else {
    mp->ring_count++;
  }
  memcpy(slot, hash, QP_HASH_SIZE);
  QP_ASSERT(qp__chain_hmap_put(&mp->verified, hash, mp->ring_next) == 0);
  mp->ring_next = (mp->ring_next + 1) % mp->config.verified_max;
}

bool qp_chain_mempool_verified(qp_chain_mempool_t *mp, const uint8_t hash[QP_HASH_SIZE]) {
  pthread_mutex_lock(&mp->mu);
  bool held = qp__chain_hmap_get(&mp->verified, hash, NULL);
  pthread_mutex_unlock(&mp->mu);
  return held;
}

/* The cache also remembers sender keys that passed the point check, under
 * a domain-separated name that no transaction hash can take. */
static void key_name(const qp_chain_tx_t *tx, uint8_t out[QP_HASH_SIZE]) {
  qp_hash_ctx_t h;
  qp_hash256_init(&h);
  qp_hash256_update(&h, "quipu/mempool/valid-key", 23);
  qp_hash256_update(&h, tx->sender, tx->sender_len);
  qp_hash256_final(&h, out);
}

/* Verifies tx unless the cache knows it; in_block: for a block's check
 * (counted apart: the consensus thread's share of the verifications). */
static int verify_cached(qp_chain_mempool_t *mp, const qp_chain_tx_t *tx, bool in_block) {
  uint8_t key[QP_HASH_SIZE];
  key_name(tx, key);
  pthread_mutex_lock(&mp->mu);
  bool held = qp__chain_hmap_get(&mp->verified, tx->hash, NULL);
  bool key_ok = qp__chain_hmap_get(&mp->verified, key, NULL);
  if (held) mp->verified_hits++;
  pthread_mutex_unlock(&mp->mu);
  if (held) return 0;
  int rc = key_ok ? qp_chain_tx_verify_key_checked(tx) : qp_chain_tx_verify(tx);
  pthread_mutex_lock(&mp->mu);
  mp->verifications++;
  mp->block_verifications += in_block;
  if (rc == 0) verified_add(mp, tx->hash);
  if (rc == 0 && !key_ok) verified_add(mp, key);
  pthread_mutex_unlock(&mp->mu);
  return rc;
}

int qp_chain_mempool_verify(qp_chain_mempool_t *mp, const qp_chain_tx_t *tx) {
  return verify_cached(mp, tx, true);
}

/* ---- the pool's lists (mutex held) -------------------------------------- */

static void fifo_unlink(qp_chain_mempool_t *mp, uint32_t e) {
  mp_entry_t *x = &mp->entries[e];
  if (x->fifo_prev != QP_CHAIN_NIL)
    mp->entries[x->fifo_prev].fifo_next = x->fifo_next;
  else
    mp->fifo_head = x->fifo_next;
  if (x->fifo_next != QP_CHAIN_NIL)
    mp->entries[x->fifo_next].fifo_prev = x->fifo_prev;
  else
    mp->fifo_tail = x->fifo_prev;
}

static void sender_unlink(qp_chain_mempool_t *mp, uint32_t e) {
  mp_entry_t *x = &mp->entries[e];
  mp_sender_t *s = &mp->senders[x->sender];
  uint32_t *link = &s->head;
  while (*link != e) {
    QP_ASSERT(*link != QP_CHAIN_NIL);
    link = &mp->entries[*link].sender_next;
  }
  *link = x->sender_next;
  s->count--;
  if (s->count == 0) {
    QP_ASSERT(qp__chain_hmap_del(&mp->by_sender, s->id));
    s->next_free = mp->senders_free;
    mp->senders_free = x->sender;
    mp->senders_count--;
  }
}

void qp__chain_mp_remove(qp_chain_mempool_t *mp, uint32_t e) {
  mp_entry_t *x = &mp->entries[e];
  QP_ASSERT(x->used);
  fifo_unlink(mp, e);
  sender_unlink(mp, e);
  QP_ASSERT(qp__chain_hmap_del(&mp->by_hash, x->hash));
  if (x->taken) mp->taken--;
  mp->count--;
  mp->bytes -= x->len;
  qp_free(x->bytes);
  memset(x, 0, sizeof *x);
  mp->entries_free[mp->entries_free_count++] = e;
}

/* The sender's slot (id: its sender id), made (with its committed nonce
 * read) when absent. */
static int sender_get(qp_chain_mempool_t *mp, const qp_chain_tx_t *tx,
                      const uint8_t id[QP_HASH_SIZE], bool make, uint32_t *out,
                      uint64_t *committed) {
  if (qp__chain_hmap_get(&mp->by_sender, id, out)) {
    *committed = mp->senders[*out].committed;
    return 0;
  }
  *out = QP_CHAIN_NIL;
  int rc = mp->config.nonce_fn(mp->config.nonce_ctx, tx->sender, tx->sender_len, committed);
  if (rc != 0 || !make) return rc;
  QP_ASSERT(mp->senders_free != QP_CHAIN_NIL); /* a sender per entry at most */
  uint32_t i = mp->senders_free;
  mp_sender_t *s = &mp->senders[i];
  mp->senders_free = s->next_free;
  memset(s, 0, sizeof *s);
  memcpy(s->id, id, QP_HASH_SIZE);
  memcpy(s->key, tx->sender, tx->sender_len);
  s->key_len = tx->sender_len;
  s->committed = *committed;
  s->next_take = *committed + 1;
  uint32_t held = 0; /* a block being built on carries its earlier nonces */
  if (qp__chain_hmap_get(&mp->held_by_sender, id, &held) && mp->held_next[held] > s->next_take)
    s->next_take = mp->held_next[held];
  s->head = QP_CHAIN_NIL;
  QP_ASSERT(qp__chain_hmap_put(&mp->by_sender, id, i) == 0);
  mp->senders_count++;
  *out = i;
  return 0;
}

/* True when sender s holds an entry of this nonce. */
static bool sender_holds(const qp_chain_mempool_t *mp, uint32_t s, uint64_t nonce) {
  for (uint32_t e = mp->senders[s].head; e != QP_CHAIN_NIL; e = mp->entries[e].sender_next) {
    if (mp->entries[e].nonce == nonce) return true;
    if (mp->entries[e].nonce > nonce) break;
  }
  return false;
}

/* Links entry e into its sender's list by nonce (not held: sender_holds). */
static void sender_link(qp_chain_mempool_t *mp, uint32_t e) {
  mp_entry_t *x = &mp->entries[e];
  mp_sender_t *s = &mp->senders[x->sender];
  uint32_t *link = &s->head;
  while (*link != QP_CHAIN_NIL && mp->entries[*link].nonce < x->nonce)
    link = &mp->entries[*link].sender_next;
  QP_ASSERT(*link == QP_CHAIN_NIL || mp->entries[*link].nonce != x->nonce);
  x->sender_next = *link;
  *link = e;
  s->count++;
}

/* ---- admission ---------------------------------------------------------- */

/* The checks that need the pool (mutex held): duplicate, then nonce used,
 * then too far ahead.  Returns 0 and *a, or the nonce callback's code. */
static int pool_checks(qp_chain_mempool_t *mp, const qp_chain_tx_t *tx,
                       const uint8_t id[QP_HASH_SIZE], qp_chain_admit_t *a, char *detail,
                       size_t detail_size) {
  *a = QP_CHAIN_ADMIT_OK;
  if (qp__chain_hmap_get(&mp->by_hash, tx->hash, NULL)) {
    *a = QP_CHAIN_ADMIT_DUPLICATE;
    return 0;
  }
  uint32_t s = 0;
  uint64_t committed = 0;
  int rc = sender_get(mp, tx, id, false, &s, &committed);
  if (rc != 0) return rc;
  if (tx->nonce <= committed) {
    *a = QP_CHAIN_ADMIT_NONCE_USED;
    snprintf(detail, detail_size, "nonce %llu; the sender's last committed nonce is %llu",
             (unsigned long long)tx->nonce, (unsigned long long)committed);
  } else if (tx->nonce - committed > mp->config.nonce_window) {
    *a = QP_CHAIN_ADMIT_NONCE_TOO_FAR;
    snprintf(detail, detail_size, "nonce %llu; allowed: %llu to %llu (last committed + %u)",
             (unsigned long long)tx->nonce, (unsigned long long)committed + 1,
             (unsigned long long)committed + mp->config.nonce_window, mp->config.nonce_window);
  }
  return 0;
}

/* ---- room for transactions a block can take --------------------------- */

/* Entries looked at, newest first, for one to make room (evict_gapped). */
#define EVICT_SCAN_MAX 64u

static bool fits(const qp_chain_mempool_t *mp, uint32_t len) {
  return mp->count < mp->config.txs_max && mp->bytes + len <= mp->config.bytes_max;
}

/* True when nothing of sender s can be taken until a missing nonce comes:
 * its lowest entry is not taken and is not its next nonce. */
static bool gapped(const qp_chain_mempool_t *mp, uint32_t s) {
  const mp_sender_t *x = &mp->senders[s];
  return x->head != QP_CHAIN_NIL && !mp->entries[x->head].taken &&
         mp->entries[x->head].nonce != x->next_take;
}

/* True when tx would follow what its sender (s, or NIL: none held) can
 * already have taken: its next nonce, or right after an entry of an
 * ungapped sender. */
static bool takeable(const qp_chain_mempool_t *mp, const qp_chain_tx_t *tx, uint32_t s) {
  if (s == QP_CHAIN_NIL) {
    uint64_t committed = 0;
    return mp->config.nonce_fn(mp->config.nonce_ctx, tx->sender, tx->sender_len, &committed) == 0 &&
           tx->nonce == committed + 1;
  }
  if (tx->nonce == mp->senders[s].next_take) return true;
  return !gapped(mp, s) && tx->nonce > 1 && sender_holds(mp, s, tx->nonce - 1);
}

/* Removes the newest entry (of the last EVICT_SCAN_MAX) whose sender is
 * gapped: a full pool makes room for a transaction a block can take rather
 * than keep ones that wait for a nonce that may never come.  False when
 * there is none. */
static bool evict_gapped(qp_chain_mempool_t *mp) {
  uint32_t e = mp->fifo_tail;
  for (uint32_t i = 0; i < EVICT_SCAN_MAX && e != QP_CHAIN_NIL; i++, e = mp->entries[e].fifo_prev)
    if (!mp->entries[e].taken && gapped(mp, mp->entries[e].sender)) {
      qp__chain_mp_remove(mp, e);
      mp->evicted++;
      return true;
    }
  return false;
}

/* Inserts tx (mutex held, pool_checks passed): nonce pending, full, or in. */
static int insert(qp_chain_mempool_t *mp, const qp_chain_tx_t *tx, const uint8_t id[QP_HASH_SIZE],
                  uint64_t gas, qp_chain_admit_t *a) {
  uint32_t s = 0;
  if (qp__chain_hmap_get(&mp->by_sender, id, &s) && sender_holds(mp, s, tx->nonce)) {
    *a = QP_CHAIN_ADMIT_NONCE_PENDING;
    return 0;
  }
  while (!fits(mp, tx->bytes_len)) { /* an eviction may free tx's own sender: look again */
    uint32_t held = QP_CHAIN_NIL;
    if (!qp__chain_hmap_get(&mp->by_sender, id, &held)) held = QP_CHAIN_NIL;
    if (!takeable(mp, tx, held) || !evict_gapped(mp)) break;
  }
  if (!fits(mp, tx->bytes_len)) {
    *a = QP_CHAIN_ADMIT_FULL;
    return 0;
  }
  uint8_t *copy = qp_malloc(tx->bytes_len);
  if (copy == NULL) return QP_ENOMEM;
  uint64_t committed = 0;
  int rc = sender_get(mp, tx, id, true, &s, &committed);
  if (rc != 0) {
    qp_free(copy);
    return rc;
  }
  uint32_t e = mp->entries_free[--mp->entries_free_count];
  mp_entry_t *x = &mp->entries[e];
  *x = (mp_entry_t){.bytes = copy,
                    .len = tx->bytes_len,
                    .nonce = tx->nonce,
                    .gas = gas,
                    .sender = s,
                    .fifo_prev = mp->fifo_tail,
                    .fifo_next = QP_CHAIN_NIL,
                    .used = true};
  memcpy(x->hash, tx->hash, QP_HASH_SIZE);
  memcpy(copy, tx->bytes, tx->bytes_len);
  sender_link(mp, e);
  if (x->nonce < mp->senders[s].next_take) { /* carried by a block under the next one */
    x->taken = true;
    x->round = mp->round;
    mp->taken++;
  }
  if (mp->fifo_tail != QP_CHAIN_NIL)
    mp->entries[mp->fifo_tail].fifo_next = e;
  else
    mp->fifo_head = e;
  mp->fifo_tail = e;
  QP_ASSERT(qp__chain_hmap_put(&mp->by_hash, tx->hash, e) == 0);
  mp->count++;
  mp->bytes += tx->bytes_len;
  *a = QP_CHAIN_ADMIT_OK;
  return 0;
}

/* The signature of tx before it goes in: cached, vouched for (f + 1
 * members said it is valid: cached without a check) or verified now.
 * Returns 0, QP_EBADSIG / QP_EINVAL (not valid) or an operating error. */
static int signature(qp_chain_mempool_t *mp, const qp_chain_tx_t *tx, bool verified,
                     qp_chain_sig_mode_t mode) {
  if (verified) return 0;
  if (mode != QP_CHAIN_SIG_VOUCHED) return verify_cached(mp, tx, false);
  pthread_mutex_lock(&mp->mu);
  verified_add(mp, tx->hash);
  mp->vouched++;
  pthread_mutex_unlock(&mp->mu);
  return 0;
}

/* Pool checks, the signature (mutex released), then the insertion.  The
 * sender id is hashed once here for every lookup of the admission.  *sig_ok
 * says whether the signature is known valid afterwards: a duplicate's is
 * (the pool holds only valid ones), a refusal's before the check is not. */
static int admit_decoded(qp_chain_mempool_t *mp, const qp_chain_tx_t *tx, uint64_t gas,
                         qp_chain_sig_mode_t mode, qp_chain_admit_t *a, bool *sig_ok, char *detail,
                         size_t detail_size) {
  uint8_t id[QP_HASH_SIZE];
  qp__chain_mp_sender_id(tx->sender, tx->sender_len, id);
  pthread_mutex_lock(&mp->mu);
  int rc = pool_checks(mp, tx, id, a, detail, detail_size);
  bool verified = qp__chain_hmap_get(&mp->verified, tx->hash, NULL);
  if (verified && rc == 0 && *a == QP_CHAIN_ADMIT_OK) mp->verified_hits++;
  pthread_mutex_unlock(&mp->mu);
  *sig_ok = verified || *a == QP_CHAIN_ADMIT_DUPLICATE;
  if (rc != 0 || *a != QP_CHAIN_ADMIT_OK) return rc;
  rc = signature(mp, tx, verified, mode);
  if (rc == QP_EBADSIG || rc == QP_EINVAL) {
    *a = QP_CHAIN_ADMIT_BAD_SIGNATURE;
    snprintf(
        detail, detail_size, "%s",
        rc == QP_EINVAL ? "the sender is not a valid public key" : "the signature does not verify");
    return 0;
  }
  if (rc != 0) return rc;
  *sig_ok = true;
  pthread_mutex_lock(&mp->mu);
  rc = pool_checks(mp, tx, id, a, detail, detail_size);
  if (rc == 0 && *a == QP_CHAIN_ADMIT_OK) rc = insert(mp, tx, id, gas, a);
  pthread_mutex_unlock(&mp->mu);
  return rc;
}

/* The checks that need no pool: size, encoding, suite, chain, gas. */
static int door_checks(qp_chain_mempool_t *mp, const uint8_t *bytes, size_t len, qp_chain_tx_t *tx,
                       uint64_t *gas, qp_chain_admit_t *result, char *detail, size_t detail_size) {
  int rc = qp_chain_tx_decode(mp->config.suite, bytes, len, mp->config.tx_bytes_max, tx, detail,
                              detail_size);
  *result = rc == QP_ELIMIT   ? QP_CHAIN_ADMIT_TOO_LARGE
            : rc == QP_EPARSE ? QP_CHAIN_ADMIT_MALFORMED
                              : QP_CHAIN_ADMIT_OK;
  qp_suite_t made = rc == QP_EPARSE ? qp_chain_tx_sender_suite(bytes, len) : mp->config.suite;
  if (made != 0 && made != mp->config.suite) *result = QP_CHAIN_ADMIT_WRONG_SUITE;
  if (rc == 0 && memcmp(tx->chain, mp->config.chain, QP_HASH_SIZE) != 0) {
    *result = QP_CHAIN_ADMIT_WRONG_CHAIN;
    snprintf(detail, detail_size, "the transaction's chain is not this network's genesis hash");
  }
  *gas = rc == 0 && *result == QP_CHAIN_ADMIT_OK ? qp_chain_tx_gas(tx) : 0;
  if (mp->config.block_gas_max > 0 && *gas > mp->config.block_gas_max) {
    *result = QP_CHAIN_ADMIT_GAS_TOO_HIGH;
    snprintf(detail, detail_size,
             "args.gas: %llu is above the block's gas budget of %llu (genesis "
             "params.block_gas_max)",
             (unsigned long long)*gas, (unsigned long long)mp->config.block_gas_max);
  }
  return rc;
}

int qp_chain_mempool_admit(qp_chain_mempool_t *mp, const uint8_t *bytes, size_t len,
                           qp_chain_sig_mode_t mode, qp_chain_admit_t *result, bool *sig_ok,
                           uint8_t hash_out[QP_HASH_SIZE], char *detail, size_t detail_size) {
  QP_ASSERT(mp != NULL && result != NULL && sig_ok != NULL && (bytes != NULL || len == 0));
  char scratch[8];
  if (detail == NULL || detail_size == 0) {
    detail = scratch;
    detail_size = sizeof scratch;
  }
  detail[0] = '\0';
  *sig_ok = false;
  qp_chain_tx_t tx;
  uint64_t gas = 0;
  int rc = door_checks(mp, bytes, len, &tx, &gas, result, detail, detail_size);
  if (rc == 0 && hash_out != NULL) memcpy(hash_out, tx.hash, QP_HASH_SIZE);
  if (rc == 0 && *result == QP_CHAIN_ADMIT_OK)
    rc = admit_decoded(mp, &tx, gas, mode, result, sig_ok, detail, detail_size);
  if (rc == 0 && !*sig_ok && mode == QP_CHAIN_SIG_ATTEST &&
      (*result == QP_CHAIN_ADMIT_OK || *result == QP_CHAIN_ADMIT_NONCE_USED ||
       *result == QP_CHAIN_ADMIT_NONCE_TOO_FAR || *result == QP_CHAIN_ADMIT_NONCE_PENDING ||
       *result == QP_CHAIN_ADMIT_FULL))
    *sig_ok = verify_cached(mp, &tx, false) == 0; /* refused before its check: check it now */
  if (rc != 0 && *result == QP_CHAIN_ADMIT_OK) return rc; /* an operating error */
  pthread_mutex_lock(&mp->mu);
  mp->rejected[*result]++;
  pthread_mutex_unlock(&mp->mu);
  return *result == QP_CHAIN_ADMIT_OK ? 0 : QP_EINVAL;
}

int qp_chain_mempool_add(qp_chain_mempool_t *mp, const uint8_t *bytes, size_t len,
                         qp_chain_admit_t *result, uint8_t hash_out[QP_HASH_SIZE], char *detail,
                         size_t detail_size) {
  bool sig_ok = false;
  return qp_chain_mempool_admit(mp, bytes, len, QP_CHAIN_SIG_VERIFY, result, &sig_ok, hash_out,
                                detail, detail_size);
}

void qp_chain_mempool_stats(qp_chain_mempool_t *mp, qp_chain_mempool_stats_t *out) {
  pthread_mutex_lock(&mp->mu);
  out->txs = mp->count;
  out->taken = mp->taken;
  out->bytes = mp->bytes;
  out->senders = mp->senders_count;
  out->verifications = mp->verifications;
  out->verified_hits = mp->verified_hits;
  out->block_verifications = mp->block_verifications;
  out->vouched = mp->vouched;
  out->evicted = mp->evicted;
  memcpy(out->rejected, mp->rejected, sizeof out->rejected);
  pthread_mutex_unlock(&mp->mu);
}

uint32_t qp_chain_mempool_each(qp_chain_mempool_t *mp, qp_chain_mempool_each_fn fn, void *ctx) {
  QP_ASSERT(mp != NULL && fn != NULL);
  uint32_t called = 0;
  pthread_mutex_lock(&mp->mu);
  for (uint32_t e = mp->fifo_head; e != QP_CHAIN_NIL; e = mp->entries[e].fifo_next) {
    called++;
    if (!fn(ctx, mp->entries[e].bytes, mp->entries[e].len)) break;
  }
  pthread_mutex_unlock(&mp->mu);
  return called;
}

uint64_t qp_chain_mempool_last_nonce(qp_chain_mempool_t *mp, const uint8_t *sender,
                                     size_t sender_len, uint64_t committed) {
  uint8_t id[QP_HASH_SIZE];
  qp__chain_mp_sender_id(sender, sender_len, id);
  uint64_t last = committed;
  pthread_mutex_lock(&mp->mu);
  uint32_t s = QP_CHAIN_NIL;
  if (qp__chain_hmap_get(&mp->by_sender, id, &s))
    for (uint32_t e = mp->senders[s].head; e != QP_CHAIN_NIL; e = mp->entries[e].sender_next) {
      if (mp->entries[e].nonce == last + 1)
        last++;
      else if (mp->entries[e].nonce > last + 1)
        break;
    }
  pthread_mutex_unlock(&mp->mu);
  return last;
}
