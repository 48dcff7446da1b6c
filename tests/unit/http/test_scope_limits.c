/*
 * test_scope_limits.c - rate limits per (API key, scope) (src/http/
 * scope_limits.c), driven with a made-up clock: each (key, scope) pair has
 * its own bucket (burst at once, then the rate, refilled exactly), the
 * Retry-After value is the whole seconds until the next token, refusals
 * are counted per scope, many keys spread over the stripes without losing
 * any bucket, threads taking at once never get more than the burst, and the
 * settings check names the scope and the field.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"
#include "base/err.h"
#include "http/http_int.h"

#define S 1000000000ull /* a second in nanoseconds */

static int take(qp__http_scope_table_t *t, const char *key, uint32_t limit, uint32_t rate,
                uint32_t burst, uint64_t now, uint32_t *retry) {
  return qp__http_scope_take(t, key, limit, rate, burst, now, retry);
}

static void test_burst_refill_and_retry_after(void **state) {
  (void)state;
  static qp__http_scope_table_t t;
  qp__http_scope_table_init(&t);
  uint32_t retry = 0;
  uint64_t now = 7 * S;
  /* rate 2/s, burst 4: four at once, then refused with Retry-After 1. */
  for (int i = 0; i < 4; i++) assert_int_equal(take(&t, "aaaa", 0, 2, 4, now, &retry), 0);
  assert_int_equal(take(&t, "aaaa", 0, 2, 4, now, &retry), QP_ELIMIT);
  assert_int_equal(retry, 1);
  assert_int_equal(atomic_load(&t.refused[0]), 1);
  /* Half a second brings exactly one token back, not two. */
  assert_int_equal(take(&t, "aaaa", 0, 2, 4, now + S / 2 - 1, &retry), QP_ELIMIT);
  assert_int_equal(take(&t, "aaaa", 0, 2, 4, now + S / 2, &retry), 0);
  assert_int_equal(take(&t, "aaaa", 0, 2, 4, now + S / 2, &retry), QP_ELIMIT);
  /* Another scope of the same key, and the same scope of another key:
   * their own full buckets. */
  for (int i = 0; i < 4; i++) assert_int_equal(take(&t, "aaaa", 1, 2, 4, now, &retry), 0);
  for (int i = 0; i < 4; i++) assert_int_equal(take(&t, "bbbb", 0, 2, 4, now, &retry), 0);
  assert_int_equal(take(&t, "bbbb", 0, 2, 4, now, &retry), QP_ELIMIT);
  assert_int_equal(atomic_load(&t.refused[0]), 4); /* three of aaaa, one of bbbb */
  assert_int_equal(atomic_load(&t.refused[1]), 0);
  /* The slowest rate, 1/s with burst 1: an emptied bucket says 1 s. */
  assert_int_equal(take(&t, "slow", 2, 1, 1, now, &retry), 0);
  assert_int_equal(take(&t, "slow", 2, 1, 1, now, &retry), QP_ELIMIT);
  assert_int_equal(retry, 1);
  assert_int_equal(atomic_load(&t.refused[2]), 1);
  /* A long pause refills to the burst and no further. */
  now += 3600 * S;
  for (int i = 0; i < 4; i++) assert_int_equal(take(&t, "aaaa", 0, 2, 4, now, &retry), 0);
  assert_int_equal(take(&t, "aaaa", 0, 2, 4, now, &retry), QP_ELIMIT);
  qp__http_scope_table_deinit(&t);
}

static void test_retry_after_rounds_up(void **state) {
  (void)state;
  /* A bucket of rate 1/s at level 0.25 token: 0.75 s missing, Retry-After 1;
   * rate 1/s just emptied: exactly 1 s; the value is never 0. */
  static qp__http_scope_table_t t;
  qp__http_scope_table_init(&t);
  uint32_t retry = 0;
  assert_int_equal(take(&t, "k", 0, 1, 2, 0, &retry), 0);
  assert_int_equal(take(&t, "k", 0, 1, 2, 0, &retry), 0);
  assert_int_equal(take(&t, "k", 0, 1, 2, S / 4, &retry), QP_ELIMIT);
  assert_int_equal(retry, 1);
  assert_int_equal(take(&t, "k", 0, 1, 2, S - 1, &retry), QP_ELIMIT);
  assert_int_equal(retry, 1);
  assert_int_equal(take(&t, "k", 0, 1, 2, S, &retry), 0);
  qp__http_scope_table_deinit(&t);
}

static void test_many_keys_over_the_stripes(void **state) {
  (void)state;
  static qp__http_scope_table_t t;
  qp__http_scope_table_init(&t);
  uint32_t retry = 0;
  char key[QP_HTTP_KEY_ID_HEX + 1];
  /* 2000 keys x 3 scopes, burst 2: every pair gets exactly its 2. */
  for (int round = 0; round < 3; round++)
    for (uint32_t k = 0; k < 2000; k++)
      for (uint32_t l = 0; l < 3; l++) {
        snprintf(key, sizeof key, "%016x", k * 2654435761u);
        int want = round < 2 ? 0 : QP_ELIMIT;
        assert_int_equal(take(&t, key, l, 1, 2, S, &retry), want);
      }
  uint32_t rows = 0, used = 0;
  for (uint32_t i = 0; i < QP__HTTP_SCOPE_STRIPES; i++) {
    rows += t.stripes[i].count;
    used += t.stripes[i].count > 0 ? 1u : 0u;
  }
  assert_int_equal(rows, 6000);
  assert_true(used > QP__HTTP_SCOPE_STRIPES / 2); /* the hash spreads them */
  qp__http_scope_table_deinit(&t);
}

#define THREADS 8
#define TRIES 5000

typedef struct racer {
  qp__http_scope_table_t *t; /* shared */
  uint32_t granted[4];       /* tokens this thread got, per key */
} racer_t;

/* Every thread asks TRIES times for each of 4 keys at one instant. */
static void *race(void *arg) {
  racer_t *r = arg;
  uint32_t retry = 0;
  static const char *const keys[4] = {"k0", "k1", "k2", "k3"};
  for (uint32_t i = 0; i < TRIES; i++)
    for (uint32_t k = 0; k < 4; k++)
      r->granted[k] += take(r->t, keys[k], k % 2, 1, 1000, 9 * S, &retry) == 0 ? 1u : 0u;
  return NULL;
}

static void test_threads_never_exceed_the_burst(void **state) {
  (void)state;
  static qp__http_scope_table_t t;
  qp__http_scope_table_init(&t);
  racer_t racers[THREADS];
  pthread_t th[THREADS];
  memset(racers, 0, sizeof racers);
  for (int i = 0; i < THREADS; i++) {
    racers[i].t = &t;
    assert_int_equal(pthread_create(&th[i], NULL, race, &racers[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  for (uint32_t k = 0; k < 4; k++) {
    uint32_t sum = 0;
    for (int i = 0; i < THREADS; i++) sum += racers[i].granted[k];
    assert_int_equal(sum, 1000); /* the burst, exactly: the clock did not move */
  }
  assert_int_equal(atomic_load(&t.refused[0]) + atomic_load(&t.refused[1]),
                   (uint64_t)THREADS * TRIES * 4 - 4000);
  qp__http_scope_table_deinit(&t);
}

static void test_check_names_scope_and_field(void **state) {
  (void)state;
  char detail[256];
  qp_http_scope_limit_t l[3];
  memset(l, 0, sizeof l);
  snprintf(l[0].scope, sizeof l[0].scope, "payments:write");
  l[0].rate_per_s = 10;
  l[0].burst = 20;
  snprintf(l[1].scope, sizeof l[1].scope, "ledger:write");
  l[1].rate_per_s = 1;
  l[1].burst = 1;
  assert_int_equal(qp_http_scope_limits_check(l, 2, detail, sizeof detail), 0);
  l[1].rate_per_s = 0;
  assert_int_equal(qp_http_scope_limits_check(l, 2, detail, sizeof detail), QP_EINVAL);
  assert_non_null(strstr(detail, "ledger:write: rate_per_s"));
  l[1].rate_per_s = 1;
  l[1].burst = QP_HTTP_KEY_RATE_MAX + 1;
  assert_int_equal(qp_http_scope_limits_check(l, 2, detail, sizeof detail), QP_EINVAL);
  assert_non_null(strstr(detail, "ledger:write: burst"));
  l[1] = l[0];
  assert_int_equal(qp_http_scope_limits_check(l, 2, detail, sizeof detail), QP_EINVAL);
  assert_non_null(strstr(detail, "listed twice"));
  snprintf(l[1].scope, sizeof l[1].scope, "Bad Scope");
  assert_int_equal(qp_http_scope_limits_check(l, 2, detail, sizeof detail), QP_EINVAL);
  assert_int_equal(qp_http_scope_limits_check(l, QP_HTTP_SCOPE_LIMITS_MAX + 1, detail,
                                              sizeof detail),
                   QP_EINVAL);
  assert_int_equal(qp__http_scope_limit_find(l, 1, "payments:write"), 0);
  assert_int_equal(qp__http_scope_limit_find(l, 1, "payments:read"), -1);
  assert_int_equal(qp__http_scope_limit_find(l, 1, NULL), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_burst_refill_and_retry_after),
      cmocka_unit_test(test_retry_after_rounds_up),
      cmocka_unit_test(test_many_keys_over_the_stripes),
      cmocka_unit_test(test_threads_never_exceed_the_burst),
      cmocka_unit_test(test_check_names_scope_and_field),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
