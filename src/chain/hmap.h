/*
 * hmap.h - a bounded hash map from 32-byte keys (transaction hashes, sender
 * ids) to u32 values, for the mempool's indexes and its verified-hash
 * cache.  Open addressing with linear probing and backward-shift deletion
 * (no tombstones), at most half full; buckets are chosen by SipHash under a
 * per-process random key, so a client who grinds transaction hashes cannot
 * aim them at one bucket.  Not thread-safe: the mempool's mutex guards it.
 */
#ifndef QP_CHAIN_HMAP_H
#define QP_CHAIN_HMAP_H

#include <stdbool.h>
#include <stdint.h>

#define QP_CHAIN_HMAP_KEY 32u

/* Invariant: count <= count_max <= cap / 2; cap is a power of two. */
typedef struct qp__chain_hmap {
  uint8_t *keys;      /* cap * QP_CHAIN_HMAP_KEY bytes */
  uint32_t *values;   /* cap values */
  uint8_t *used;      /* cap flags */
  uint32_t cap;       /* buckets */
  uint32_t count;     /* keys held */
  uint32_t count_max; /* keys held at most */
} qp__chain_hmap_t;

/* Room for count_max keys (1 .. 2^30).  Returns 0, QP_EINVAL or QP_ENOMEM. */
int qp__chain_hmap_init(qp__chain_hmap_t *m, uint32_t count_max);
void qp__chain_hmap_deinit(qp__chain_hmap_t *m);

/* True, with *value (may be NULL), when key is held. */
bool qp__chain_hmap_get(const qp__chain_hmap_t *m, const uint8_t *key, uint32_t *value);

/* Adds key -> value.  Returns 0, QP_EEXISTS (held; unchanged) or QP_ELIMIT
 * (count_max keys held). */
int qp__chain_hmap_put(qp__chain_hmap_t *m, const uint8_t *key, uint32_t value);

/* Removes key; false when it was not held. */
bool qp__chain_hmap_del(qp__chain_hmap_t *m, const uint8_t *key);

/* Removes every key. */
void qp__chain_hmap_clear(qp__chain_hmap_t *m);

#endif
