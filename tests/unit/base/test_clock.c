/*
 * test_clock.c - base/clock: the system clocks move the right way and agree
 * with time(2), an injected clock is the one read, a simulated clock moves
 * only when told (and its monotonic reading never backwards, while its wall
 * reading can be stepped back), and deadlines for pthread_cond_timedwait
 * are normalised and in the future.
 */
#include <time.h>

#include "test_util.h"
#include "base/clock.h"

static void test_system_clocks(void **state) {
  (void)state;
  uint64_t a = qp_clock_mono_ns(), b = qp_clock_mono_ns();
  assert_true(b >= a);
  uint64_t wall_s = qp_clock_wall_ns() / QP_NS_PER_S, t = (uint64_t)time(NULL);
  assert_true(wall_s + 2 >= t && wall_s <= t + 2);
  const qp_clock_t *sys = qp_clock_system();
  assert_non_null(sys);
  assert_true(qp_clock_now_mono(sys) >= b);
  assert_true(qp_clock_now_mono(NULL) >= b);
  assert_true(qp_clock_now_wall(NULL) / QP_NS_PER_S + 2 >= t);
  qp_clock_t partial = {0}; /* no functions: the system clock answers */
  assert_true(qp_clock_now_mono(&partial) >= b);
}

static void test_sim_clock_moves_only_when_told(void **state) {
  (void)state;
  qp_sim_clock_t sc;
  qp_sim_clock_init(&sc, 1000);
  qp_clock_t c;
  qp_sim_clock_as_clock(&sc, &c);
  assert_int_equal(qp_clock_now_mono(&c), 1000);
  assert_int_equal(qp_clock_now_mono(&c), 1000);
  assert_int_equal(qp_clock_now_wall(&c), 1000);
  assert_int_equal(sc.reads, 3);
  qp_sim_clock_advance(&sc, 500);
  assert_int_equal(qp_clock_now_mono(&c), 1500);
  assert_int_equal(qp_clock_now_wall(&c), 1500);
  qp_sim_clock_advance_to(&sc, 1200); /* earlier: no-op */
  assert_int_equal(sc.mono_ns, 1500);
  qp_sim_clock_advance_to(&sc, 4000);
  assert_int_equal(sc.mono_ns, 4000);
  assert_int_equal(sc.wall_ns, 4000);
  qp_sim_clock_set_wall(&sc, 10); /* an NTP step back */
  assert_int_equal(qp_clock_now_wall(&c), 10);
  assert_int_equal(qp_clock_now_mono(&c), 4000);
  qp_sim_clock_advance(&sc, 5);
  assert_int_equal(sc.wall_ns, 15);
  assert_int_equal(sc.mono_ns, 4005);
}

static void test_deadline_is_normalised_and_ahead(void **state) {
  (void)state;
  const uint64_t timeouts_ms[] = {0, 1, 999, 1000, 1999, 86400000};
  for (size_t i = 0; i < sizeof timeouts_ms / sizeof timeouts_ms[0]; i++) {
    struct timespec now, ts;
    clock_gettime(CLOCK_REALTIME, &now);
    qp_clock_deadline_ts(timeouts_ms[i], &ts);
    assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
    uint64_t now_ns = (uint64_t)now.tv_sec * QP_NS_PER_S + (uint64_t)now.tv_nsec;
    uint64_t at_ns = (uint64_t)ts.tv_sec * QP_NS_PER_S + (uint64_t)ts.tv_nsec;
    uint64_t want = timeouts_ms[i] * QP_NS_PER_MS;
    assert_true(at_ns >= now_ns + want);
    assert_true(at_ns <= now_ns + want + QP_NS_PER_S); /* read within a second */
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_system_clocks),
      cmocka_unit_test(test_sim_clock_moves_only_when_told),
      cmocka_unit_test(test_deadline_is_normalised_and_ahead),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
