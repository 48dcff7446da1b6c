/*
 * test_buf.c - the bounded growable buffer: appends keep the content
 * NUL-terminated, growth never passes max, a failed append changes nothing
 * and is sticky until reset, and allocation failure is reported.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "test_util.h"

static void test_appends_and_terminates(void **state) {
  (void)state;
  qp_buf_t b = {.max = 1 << 20};
  assert_true(qp_buf_append(&b, "abc", 3));
  assert_true(qp_buf_append(&b, "", 0));
  assert_true(qp_buf_append(&b, "def", 3));
  assert_int_equal(b.len, 6);
  assert_string_equal(b.data, "abcdef");
  char big[10000];
  memset(big, 'x', sizeof big);
  assert_true(qp_buf_append(&b, big, sizeof big)); /* grows past the first 4 KiB */
  assert_int_equal(b.len, 6 + sizeof big);
  assert_true(b.cap >= b.len + 1 && b.cap <= b.max);
  assert_int_equal(b.data[b.len], '\0');
  qp_buf_reset(&b);
  assert_int_equal(b.len, 0);
  assert_string_equal(b.data, "");
  qp_buf_free(&b);
  assert_null(b.data);
}

static void test_max_is_never_passed(void **state) {
  (void)state;
  qp_buf_t b = {.max = 10};
  assert_true(qp_buf_append(&b, "123456789", 9)); /* 9 + NUL = max */
  assert_true(b.cap <= 10);
  assert_false(qp_buf_append(&b, "0", 1));
  assert_true(b.failed);
  assert_string_equal(b.data, "123456789"); /* unchanged */
  assert_false(qp_buf_append(&b, "", 0)); /* sticky */
  qp_buf_reset(&b);
  assert_true(qp_buf_append(&b, "ok", 2));
  qp_buf_free(&b);
}

static void test_allocation_failure(void **state) {
  (void)state;
  qp_buf_t b = {.max = 1 << 20};
  qp_alloc_fail_after(0);
  assert_false(qp_buf_append(&b, "abc", 3));
  qp_alloc_fail_after(-1);
  assert_true(b.failed);
  assert_null(b.data);
  qp_buf_reset(&b);
  assert_true(qp_buf_append(&b, "abc", 3));
  qp_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_appends_and_terminates),
      cmocka_unit_test(test_max_is_never_passed),
      cmocka_unit_test(test_allocation_failure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
