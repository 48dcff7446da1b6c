/*
 * test_alloc.c - unit tests of base/alloc's fault injection.
 *
 * Every error path in quipu that handles QP_ENOMEM is tested by arming
 * qp_alloc_fail_after(); if the injection itself miscounted, those tests
 * would pass without ever reaching the path they claim to cover.  So this
 * file pins the countdown: exactly the Nth allocation fails, once, for each
 * of the three allocating calls, the failure counter moves by one, and a
 * negative countdown disarms it.  The last test uses it the way the other
 * tests do, on qp_ledger_create, and relies on LeakSanitizer (in the ASan
 * build) to catch anything a failed create leaves behind.
 */
#include <string.h>

#include "test_util.h"
#include "base/alloc.h"
#include "base/err.h"
#include "ledger/ledger.h"

/* Every test leaves injection disarmed, whatever happened. */
static int disarm(void **state) {
  (void)state;
  qp_alloc_fail_after(-1);
  return 0;
}

static void test_zero_fails_the_very_next_allocation(void **state) {
  (void)state;
  uint64_t before = qp_alloc_injected_failures();
  qp_alloc_fail_after(0);
  assert_null(qp_malloc(16));
  assert_int_equal(qp_alloc_injected_failures(), before + 1);
  /* One shot: the next ones succeed again. */
  void *p = qp_malloc(16);
  assert_non_null(p);
  qp_free(p);
  assert_int_equal(qp_alloc_injected_failures(), before + 1);
}

static void test_nth_allocation_fails(void **state) {
  (void)state;
  for (int64_t n = 0; n < 6; n++) {
    uint64_t before = qp_alloc_injected_failures();
    qp_alloc_fail_after(n);
    void *ok[6] = {0};
    for (int64_t i = 0; i < n; i++) {
      ok[i] = qp_malloc(8);
      assert_non_null(ok[i]);
      assert_int_equal(qp_alloc_injected_failures(), before);
    }
    assert_null(qp_malloc(8));
    assert_int_equal(qp_alloc_injected_failures(), before + 1);
    void *after = qp_malloc(8);
    assert_non_null(after);
    qp_free(after);
    for (int64_t i = 0; i < n; i++) qp_free(ok[i]);
  }
}

static void test_calloc_and_realloc_are_injected_too(void **state) {
  (void)state;
  uint64_t before = qp_alloc_injected_failures();
  qp_alloc_fail_after(0);
  assert_null(qp_calloc(4, 4));
  assert_int_equal(qp_alloc_injected_failures(), before + 1);

  char *p = qp_malloc(4);
  assert_non_null(p);
  memcpy(p, "abc", 4);
  qp_alloc_fail_after(0);
  assert_null(qp_realloc(p, 4096));
  assert_int_equal(qp_alloc_injected_failures(), before + 2);
  /* A failed realloc leaves the old block valid and owned by the caller. */
  assert_string_equal(p, "abc");
  char *q = qp_realloc(p, 4096);
  assert_non_null(q);
  assert_string_equal(q, "abc");
  qp_free(q);

  /* Mixed calls share one countdown. */
  qp_alloc_fail_after(2);
  void *a = qp_malloc(1);
  void *b = qp_calloc(1, 1);
  assert_non_null(a);
  assert_non_null(b);
  assert_null(qp_realloc(NULL, 1));
  assert_int_equal(qp_alloc_injected_failures(), before + 3);
  qp_free(a);
  qp_free(b);
}

static void test_negative_disarms(void **state) {
  (void)state;
  uint64_t before = qp_alloc_injected_failures();
  qp_alloc_fail_after(3);
  qp_alloc_fail_after(-1);
  for (int i = 0; i < 100; i++) {
    void *p = qp_malloc(32);
    assert_non_null(p);
    qp_free(p);
  }
  qp_alloc_fail_after(-12345);
  void *p = qp_calloc(2, 2);
  assert_non_null(p);
  qp_free(p);
  assert_int_equal(qp_alloc_injected_failures(), before);
}

static void test_rearming_replaces_the_countdown(void **state) {
  (void)state;
  uint64_t before = qp_alloc_injected_failures();
  qp_alloc_fail_after(100);
  qp_alloc_fail_after(1);
  void *p = qp_malloc(1);
  assert_non_null(p);
  assert_null(qp_malloc(1));
  assert_int_equal(qp_alloc_injected_failures(), before + 1);
  qp_free(p);
}

/* Fails each allocation of qp_ledger_create in turn: every failure must
 * return QP_ENOMEM and leak nothing, and some countdown lets it succeed. */
static void test_ledger_create_survives_every_allocation_failure(void **state) {
  (void)state;
  int64_t n = 0;
  for (;; n++) {
    assert_true(n < 1000);
    uint64_t before = qp_alloc_injected_failures();
    qp_ledger_t *ledger = NULL;
    qp_alloc_fail_after(n);
    int rc = qp_ledger_create(NULL, &ledger);
    bool injected = qp_alloc_injected_failures() != before;
    qp_alloc_fail_after(-1);
    if (!injected) {
      assert_int_equal(rc, 0);
      assert_non_null(ledger);
      assert_true(qp_ledger_check(ledger));
      qp_ledger_destroy(ledger);
      break;
    }
    assert_int_equal(rc, QP_ENOMEM);
  }
  assert_true(n > 0); /* create allocates, so at least one failure was seen */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_zero_fails_the_very_next_allocation, disarm),
      cmocka_unit_test_teardown(test_nth_allocation_fails, disarm),
      cmocka_unit_test_teardown(test_calloc_and_realloc_are_injected_too, disarm),
      cmocka_unit_test_teardown(test_negative_disarms, disarm),
      cmocka_unit_test_teardown(test_rearming_replaces_the_countdown, disarm),
      cmocka_unit_test_teardown(test_ledger_create_survives_every_allocation_failure, disarm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
