/*
 * ratelimit.c - the token bucket behind a key's rate limit.
 *
 * A key with rate R and burst B may make B requests at once and then R a
 * second: its bucket holds up to B tokens, each request takes one, and
 * tokens flow back at R a second.  Integers only: the level is kept in
 * nano-tokens (a token is 10^9 of them), so R tokens a second is exactly R
 * nano-tokens a nanosecond and a refill is one multiplication, with no
 * rounding to accumulate.  B <= 10^6 keeps the level below 10^15, far from
 * 2^64.
 *
 * The bucket is a pure function of the time it is given, so tests drive it
 * with a made-up clock; the server passes the monotonic clock and keeps one
 * bucket per key next to the key cache (auth.c), under the cache's mutex.
 */
#include "http/http_int.h"
#include "base/assert.h"

#define NANO 1000000000ull /* nano-tokens in a token, nanoseconds in a second */

void qp__http_bucket_refill(qp__http_bucket_t *b, uint32_t rate_per_s, uint32_t burst,
                            uint64_t now_ns) {
  QP_ASSERT(rate_per_s > 0 && rate_per_s <= QP_HTTP_KEY_RATE_MAX);
  QP_ASSERT(burst > 0 && burst <= QP_HTTP_KEY_RATE_MAX);
  uint64_t capacity = (uint64_t)burst * NANO;
  if (!b->started) { /* a key's first request finds its bucket full */
    b->started = true;
    b->level = capacity;
    b->last_ns = now_ns;
  }
  /* Threads read the clock before taking the lock, so a later caller may
   * bring an earlier time: that refills nothing and never moves back. */
  if (now_ns > b->last_ns) {
    uint64_t elapsed_ns = now_ns - b->last_ns;
    b->last_ns = now_ns;
    /* Past the time an empty bucket takes to fill, it is full; below it,
     * elapsed_ns x rate <= capacity + rate, which cannot overflow. */
    if (elapsed_ns > capacity / rate_per_s)
      b->level = capacity;
    else
      b->level += elapsed_ns * rate_per_s;
  }
  if (b->level > capacity) b->level = capacity; /* also when a reload lowered the burst */
}

bool qp__http_bucket_take(qp__http_bucket_t *b, uint32_t rate_per_s, uint32_t burst,
                          uint64_t now_ns, uint32_t *retry_after_s) {
  qp__http_bucket_refill(b, rate_per_s, burst, now_ns);
  *retry_after_s = 0;
  if (b->level >= NANO) {
    b->level -= NANO;
    return true;
  }
  /* Refused requests take nothing.  The wait for the missing part of one
   * token, rounded up to whole seconds, and at least 1 (Retry-After has
   * no finer unit, and 0 would invite an immediate retry). */
  uint64_t missing = NANO - b->level;
  uint64_t wait_ns = (missing + rate_per_s - 1) / rate_per_s;
  uint64_t wait_s = (wait_ns + NANO - 1) / NANO;
  *retry_after_s = wait_s == 0 ? 1u : (uint32_t)wait_s;
  QP_ASSERT(*retry_after_s >= 1);
  return false;
}
