/*
 * test_public_limit.c - the per-address limit of the routes that need no
 * key (src/http/public_limit.c), with a made-up clock: each address has its
 * own bucket (burst at once, then the rate), refusals are counted, another
 * address is not charged, and an address whose slot another address took
 * comes back with a full bucket (never refused for the other's use).
 */
#include <stdio.h>
#include <string.h>

#include "test_util.h"
#include "base/err.h"
#include "http/http_int.h"

#define S 1000000000ull /* a second in nanoseconds */

static qp__http_public_table_t t;

static void test_burst_then_rate_per_address(void **state) {
  (void)state;
  qp__http_public_table_init(&t);
  uint32_t retry = 0;
  for (int i = 0; i < 3; i++)
    assert_int_equal(qp__http_public_take(&t, "203.0.113.7", 1, 3, 10 * S, &retry), 0);
  assert_int_equal(qp__http_public_take(&t, "203.0.113.7", 1, 3, 10 * S, &retry), QP_ELIMIT);
  assert_int_equal(retry, 1);
  assert_int_equal(qp__http_public_take(&t, "2001:db8::1", 1, 3, 10 * S, &retry), 0);
  assert_int_equal(qp__http_public_take(&t, "203.0.113.7", 1, 3, 11 * S, &retry), 0);
  assert_int_equal(qp__http_public_take(&t, "203.0.113.7", 1, 3, 11 * S, &retry), QP_ELIMIT);
  assert_int_equal(atomic_load(&t.refused), 2);
  qp__http_public_table_deinit(&t);
}

static void test_a_slot_taken_by_another_starts_full(void **state) {
  (void)state;
  qp__http_public_table_init(&t);
  uint32_t retry = 0;
  assert_int_equal(qp__http_public_take(&t, "198.51.100.1", 1, 1, S, &retry), 0);
  assert_int_equal(qp__http_public_take(&t, "198.51.100.1", 1, 1, S, &retry), QP_ELIMIT);
  uint32_t mine = QP__HTTP_PUBLIC_SLOTS;
  for (uint32_t i = 0; i < QP__HTTP_PUBLIC_SLOTS; i++)
    if (strcmp(t.slots[i].address, "198.51.100.1") == 0) mine = i;
  assert_true(mine < QP__HTTP_PUBLIC_SLOTS);
  /* Other addresses until one lands in 198.51.100.1's slot and evicts it. */
  char a[48];
  int i = 0;
  for (; strcmp(t.slots[mine].address, "198.51.100.1") == 0 && i < 1 << 20; i++) {
    snprintf(a, sizeof a, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    assert_int_equal(qp__http_public_take(&t, a, 1, 1, S, &retry), 0); /* each its first */
  }
  assert_true(i < 1 << 20);
  assert_int_equal(qp__http_public_take(&t, "198.51.100.1", 1, 1, S, &retry), 0);
  qp__http_public_table_deinit(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_burst_then_rate_per_address),
      cmocka_unit_test(test_a_slot_taken_by_another_starts_full),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
