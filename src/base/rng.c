/*
 * rng.c - see rng.h.  xoshiro256** and SplitMix64 follow the reference C
 * code at prng.di.unimi.it; qp_rng_below is Lemire's "Fast random integer
 * generation in an interval" (2019): the high word of a 128-bit product,
 * redrawing only when the low word falls in the short leftover range.
 */
#include "base/rng.h"

#include "base/assert.h"

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t qp_splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t qp_splitmix64_below(uint64_t *state, uint64_t bound) {
  return bound ? qp_splitmix64(state) % bound : 0;
}

bool qp_splitmix64_chance_ppm(uint64_t *state, uint32_t ppm) {
  if (ppm == 0) return false;
  return qp_splitmix64_below(state, 1000000u) < ppm;
}

void qp_rng_seed(qp_rng_t *rng, uint64_t seed) {
  uint64_t sm = seed;
  for (int i = 0; i < 4; i++) rng->s[i] = qp_splitmix64(&sm);
  /* SplitMix64 is a bijection of consecutive states, so four outputs are
   * never all zero; the assert documents the invariant xoshiro needs. */
  QP_ASSERT((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) != 0);
}

uint64_t qp_rng_next(qp_rng_t *rng) {
  uint64_t *s = rng->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

uint64_t qp_rng_below(qp_rng_t *rng, uint64_t bound) {
  QP_ASSERT(bound > 0);
  unsigned __int128 m = (unsigned __int128)qp_rng_next(rng) * bound;
  uint64_t low = (uint64_t)m;
  if (low < bound) {
    uint64_t threshold = (0 - bound) % bound; /* 2^64 mod bound */
    while (low < threshold) {
      m = (unsigned __int128)qp_rng_next(rng) * bound;
      low = (uint64_t)m;
    }
  }
  uint64_t r = (uint64_t)(m >> 64);
  QP_ASSERT(r < bound);
  return r;
}

uint64_t qp_rng_range(qp_rng_t *rng, uint64_t lo, uint64_t hi) {
  QP_ASSERT(lo <= hi);
  uint64_t span = hi - lo;
  if (span == UINT64_MAX) return qp_rng_next(rng);
  return lo + qp_rng_below(rng, span + 1);
}

bool qp_rng_chance(qp_rng_t *rng, uint64_t numerator, uint64_t denominator) {
  QP_ASSERT(denominator > 0);
  if (numerator == 0) return false;
  if (numerator >= denominator) return true;
  return qp_rng_below(rng, denominator) < numerator;
}

void qp_rng_bytes(qp_rng_t *rng, void *out, size_t len) {
  uint8_t *p = out;
  QP_ASSERT(p != NULL || len == 0);
  while (len > 0) {
    uint64_t x = qp_rng_next(rng);
    size_t n = len < 8 ? len : 8;
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(x >> (8 * i));
    p += n;
    len -= n;
  }
}
