/*
 * test_array.c - the bounded growable array: pushes hand back zeroed slots
 * that keep their contents across growth, capacity never passes the
 * maximum, a push at the maximum or under an injected allocation failure
 * fails and changes nothing, and clear/deinit leave a reusable array.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/array.h"
#include "base/err.h"
#include "test_util.h"

typedef struct item {
  uint64_t key;   /* the push index */
  char pad[20];   /* makes the item an odd size */
} item_t;

static int disarm(void **state) {
  (void)state;
  qp_alloc_fail_after(-1);
  return 0;
}

static void test_push_grow_and_read_back(void **state) {
  (void)state;
  qp_array_t a;
  qp_array_init(&a, sizeof(item_t), 100000);
  assert_null(a.items);
  for (uint64_t i = 0; i < 10000; i++) {
    item_t *it = qp_array_push(&a);
    assert_non_null(it);
    assert_int_equal(it->key, 0); /* zeroed */
    it->key = i;
    assert_true(a.count <= a.cap && a.cap <= a.items_max);
  }
  assert_int_equal(a.count, 10000);
  for (uint64_t i = 0; i < 10000; i++) assert_int_equal(((item_t *)qp_array_at(&a, i))->key, i);
  qp_array_pop(&a);
  assert_int_equal(a.count, 9999);
  size_t cap = a.cap;
  qp_array_clear(&a);
  assert_int_equal(a.count, 0);
  assert_int_equal(a.cap, cap); /* memory kept */
  item_t *again = qp_array_push(&a);
  assert_non_null(again);
  assert_int_equal(again->key, 0); /* a reused slot is zeroed too */
  qp_array_deinit(&a);
  assert_null(a.items);
  assert_int_equal(a.cap, 0);
  assert_non_null(qp_array_push(&a)); /* reusable after deinit */
  qp_array_deinit(&a);
}

static void test_max_is_never_passed(void **state) {
  (void)state;
  qp_array_t a;
  qp_array_init(&a, 1000, 5); /* items bigger than the first allocation */
  for (int i = 0; i < 5; i++) assert_non_null(qp_array_push(&a));
  assert_int_equal(a.cap, 5);
  assert_null(qp_array_push(&a));
  assert_int_equal(a.count, 5);
  assert_int_equal(qp_array_reserve(&a, 6), QP_ELIMIT);
  assert_int_equal(qp_array_reserve(&a, 5), 0);
  qp_array_deinit(&a);
  qp_array_init(&a, sizeof(uint32_t), 3);
  assert_int_equal(qp_array_reserve(&a, 3), 0);
  assert_int_equal(a.cap, 3);
  qp_array_deinit(&a);
}

static void test_allocation_failure_changes_nothing(void **state) {
  (void)state;
  qp_array_t a;
  qp_array_init(&a, sizeof(item_t), 1000);
  qp_alloc_fail_after(0);
  assert_null(qp_array_push(&a)); /* the first allocation fails */
  assert_int_equal(a.count, 0);
  assert_null(a.items);
  for (uint64_t i = 0; a.count < a.cap || a.cap == 0; i++) {
    item_t *it = qp_array_push(&a);
    assert_non_null(it);
    it->key = i + 1;
  }
  size_t count = a.count, cap = a.cap;
  qp_alloc_fail_after(0);
  assert_null(qp_array_push(&a)); /* growth fails: the old items survive */
  assert_int_equal(a.count, count);
  assert_int_equal(a.cap, cap);
  qp_alloc_fail_after(0);
  assert_int_equal(qp_array_reserve(&a, cap + 1), QP_ENOMEM);
  assert_int_equal(a.cap, cap);
  for (size_t i = 0; i < count; i++) assert_int_equal(((item_t *)qp_array_at(&a, i))->key, i + 1);
  qp_alloc_fail_after(-1);
  assert_non_null(qp_array_push(&a)); /* and the next push grows */
  assert_true(a.cap > cap);
  qp_array_deinit(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_push_grow_and_read_back, disarm),
      cmocka_unit_test_teardown(test_max_is_never_passed, disarm),
      cmocka_unit_test_teardown(test_allocation_failure_changes_nothing, disarm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
