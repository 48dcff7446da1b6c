/*
 * rng.h - the one seeded pseudo-random generator of tests, simulators and
 * benchmarks: xoshiro256** (Blackman and Vigna), its 256-bit state filled
 * from the seed by SplitMix64 as its authors recommend.  Not for secrets
 * (keys and nonces come from libsodium's randombytes).
 *
 * Everything here is integer arithmetic, the same on every host: a seed
 * names a stream, and a stream is a recorded result (a failing simulator
 * seed, a benchmark's workload).  That is also why the bare SplitMix64 step
 * is public, with its modulo helpers: the ledger simulator, the disk
 * simulator, the property tests and the benchmark workloads drew from
 * SplitMix64 before this module existed, and their recorded seeds (the
 * regression seeds in docs/drills.md, bench figures) replay only on that
 * exact stream.  New code uses qp_rng_t.
 */
#ifndef QP_BASE_RNG_H
#define QP_BASE_RNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* xoshiro256** state.  Caller-allocated; seed before use; nothing to free.
 * Invariant: the four words are never all zero (seeding guarantees it). */
typedef struct qp_rng {
  uint64_t s[4]; /* the generator state */
} qp_rng_t;

/* Seeds *rng from `seed` (four SplitMix64 outputs of a state starting at
 * seed).  Every seed, 0 included, gives a valid, distinct stream. */
void qp_rng_seed(qp_rng_t *rng, uint64_t seed);

/* The next 64 uniform bits. */
uint64_t qp_rng_next(qp_rng_t *rng);

/* Uniform in [0, bound), without bias (Lemire's multiply-and-reject).
 * bound must not be 0. */
uint64_t qp_rng_below(qp_rng_t *rng, uint64_t bound);

/* Uniform in [lo, hi], both included; lo <= hi.  [0, UINT64_MAX] works. */
uint64_t qp_rng_range(qp_rng_t *rng, uint64_t lo, uint64_t hi);

/* True with probability numerator / denominator, in integers only.
 * denominator must not be 0.  numerator 0 is false and numerator >=
 * denominator is true, neither drawing; otherwise exactly one draw. */
bool qp_rng_chance(qp_rng_t *rng, uint64_t numerator, uint64_t denominator);

/* Fills out[0..len) with pseudo-random bytes (each draw's 8 bytes, least
 * significant first, so the bytes do not depend on host byte order). */
void qp_rng_bytes(qp_rng_t *rng, void *out, size_t len);

/* One SplitMix64 step (Steele, Lea and Flood): advances *state by the
 * golden-ratio increment and returns the mixed value.  From state 0 the
 * outputs are 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f. */
uint64_t qp_splitmix64(uint64_t *state);

/* qp_splitmix64(state) % bound, or 0 without a draw when bound is 0.  The
 * modulo is biased by at most bound / 2^64; it is kept because the recorded
 * streams above were drawn exactly this way.  New code: qp_rng_below. */
uint64_t qp_splitmix64_below(uint64_t *state, uint64_t bound);

/* True with probability ppm / 1e6: qp_splitmix64_below(state, 1e6) < ppm,
 * and false without a draw when ppm is 0 (the simulators' fault rolls). */
bool qp_splitmix64_chance_ppm(uint64_t *state, uint32_t ppm);

#endif
