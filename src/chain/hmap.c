/*
 * hmap.c - the mempool's bounded hash map (hmap.h).
 */
#include <pthread.h>
#include <string.h>

#include <sodium.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "chain/hmap.h"
#include "crypto/crypto.h"

static uint8_t siphash_key[crypto_shorthash_KEYBYTES];
static pthread_once_t siphash_once = PTHREAD_ONCE_INIT;

static void siphash_init(void) {
  QP_ASSERT(qp_crypto_init() == 0);
  randombytes_buf(siphash_key, sizeof siphash_key);
}

static uint32_t bucket(const qp__chain_hmap_t *m, const uint8_t *key) {
  uint8_t out[crypto_shorthash_BYTES];
  crypto_shorthash(out, key, QP_CHAIN_HMAP_KEY, siphash_key);
  uint64_t h;
  memcpy(&h, out, sizeof h);
  return (uint32_t)h & (m->cap - 1);
}

int qp__chain_hmap_init(qp__chain_hmap_t *m, uint32_t count_max) {
  memset(m, 0, sizeof *m);
  if (count_max == 0 || count_max > (1u << 30)) return QP_EINVAL;
  pthread_once(&siphash_once, siphash_init);
  uint32_t cap = 2;
  while (cap < 2 * (uint64_t)count_max) cap *= 2;
  m->keys = qp_malloc((size_t)cap * QP_CHAIN_HMAP_KEY);
  m->values = qp_malloc((size_t)cap * sizeof *m->values);
  m->used = qp_calloc(cap, 1);
  if (m->keys == NULL || m->values == NULL || m->used == NULL) {
    qp__chain_hmap_deinit(m);
    return QP_ENOMEM;
  }
  m->cap = cap;
  m->count_max = count_max;
  return 0;
}

void qp__chain_hmap_deinit(qp__chain_hmap_t *m) {
  qp_free(m->keys);
  qp_free(m->values);
  qp_free(m->used);
  memset(m, 0, sizeof *m);
}

/* The bucket holding key, or the empty bucket where it would go. */
static uint32_t find(const qp__chain_hmap_t *m, const uint8_t *key, bool *found) {
  uint32_t i = bucket(m, key);
  for (uint32_t probes = 0; probes < m->cap; probes++, i = (i + 1) & (m->cap - 1)) {
    if (!m->used[i]) break;
    if (memcmp(m->keys + (size_t)i * QP_CHAIN_HMAP_KEY, key, QP_CHAIN_HMAP_KEY) == 0) {
      *found = true;
      return i;
    }
  }
  QP_ASSERT(!m->used[i]); /* at most half full: an empty bucket always exists */
  *found = false;
  return i;
}

bool qp__chain_hmap_get(const qp__chain_hmap_t *m, const uint8_t *key, uint32_t *value) {
  bool found = false;
  uint32_t i = find(m, key, &found);
  if (found && value != NULL) *value = m->values[i];
  return found;
}

int qp__chain_hmap_put(qp__chain_hmap_t *m, const uint8_t *key, uint32_t value) {
  bool found = false;
  uint32_t i = find(m, key, &found);
  if (found) return QP_EEXISTS;
  if (m->count == m->count_max) return QP_ELIMIT;
  memcpy(m->keys + (size_t)i * QP_CHAIN_HMAP_KEY, key, QP_CHAIN_HMAP_KEY);
  m->values[i] = value;
  m->used[i] = 1;
  m->count++;
  return 0;
}

bool qp__chain_hmap_del(qp__chain_hmap_t *m, const uint8_t *key) {
  bool found = false;
  uint32_t hole = find(m, key, &found), mask = m->cap - 1;
  if (!found) return false;
  /* Backward shift: move later members of the run into the hole when their
   * home bucket is not between the hole and them (cyclically). */
  for (uint32_t j = (hole + 1) & mask; m->used[j]; j = (j + 1) & mask) {
    uint32_t home = bucket(m, m->keys + (size_t)j * QP_CHAIN_HMAP_KEY);
    bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    memcpy(m->keys + (size_t)hole * QP_CHAIN_HMAP_KEY, m->keys + (size_t)j * QP_CHAIN_HMAP_KEY,
           QP_CHAIN_HMAP_KEY);
    m->values[hole] = m->values[j];
    hole = j;
  }
  m->used[hole] = 0;
  m->count--;
  return true;
}

void qp__chain_hmap_clear(qp__chain_hmap_t *m) {
  if (m->count == 0) return;
  memset(m->used, 0, m->cap);
  m->count = 0;
}
