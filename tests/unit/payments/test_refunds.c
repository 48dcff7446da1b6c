/*
 * test_refunds.c - refund arithmetic and the order's refund transitions
 * (src/payments/refunds.c): what is left to refund, the status after
 * refunds, the three steps on the stored order, and the deterministic
 * transfer id of a refund.
 */
#include <string.h>

#include "test_util.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "payments/payments_int.h"

static void test_check(void **state) {
  (void)state;
  qp_u128 left = 0;
  assert_int_equal(qp__pay_refund_check(1234, 0, 0, 1234, &left), 0);
  assert_true(left == 1234);
  assert_int_equal(qp__pay_refund_check(1234, 0, 0, 1235, &left), QP_ERANGE);
  assert_int_equal(qp__pay_refund_check(1234, 400, 0, 834, &left), 0);
  assert_true(left == 834);
  assert_int_equal(qp__pay_refund_check(1234, 400, 0, 835, &left), QP_ERANGE);
  /* Pending refunds count: two in flight cannot overshoot together. */
  assert_int_equal(qp__pay_refund_check(1234, 400, 800, 35, &left), QP_ERANGE);
  assert_true(left == 34);
  assert_int_equal(qp__pay_refund_check(1234, 400, 800, 34, &left), 0);
  assert_int_equal(qp__pay_refund_check(1234, 1234, 0, 1, &left), QP_ERANGE);
  assert_true(left == 0);
  assert_int_equal(qp__pay_refund_check(1234, 0, 0, 0, &left), QP_ERANGE);
  assert_int_equal(qp__pay_refund_check(1234, 1000, 1000, 1, &left), QP_ECORRUPT);
  assert_int_equal(qp__pay_refund_check(QP_U128_MAX, QP_U128_MAX, 1, 1, &left), QP_ECORRUPT);
  assert_int_equal(qp__pay_refund_check(QP_U128_MAX, 0, 0, QP_U128_MAX, &left), 0);
}

static void test_status(void **state) {
  (void)state;
  assert_string_equal(qp__pay_refunded_status(1234, 0), "paid");
  assert_string_equal(qp__pay_refunded_status(1234, 1), "partially_refunded");
  assert_string_equal(qp__pay_refunded_status(1234, 1233), "partially_refunded");
  assert_string_equal(qp__pay_refunded_status(1234, 1234), "refunded");
}

static const char *member(const json_t *o, const char *name) {
  return json_string_value(json_object_get(o, name));
}

static void test_steps(void **state) {
  (void)state;
  json_t *o = json_pack("{s:s, s:s, s:s}", "status", "paid", "amount", "1234",
                        "amount_refunded", "0");
  assert_int_equal(qp__pay_order_refund_apply(o, 400, QP__PAY_REFUND_RESERVE), 0);
  assert_string_equal(member(o, "amount_refunding"), "400");
  assert_string_equal(member(o, "status"), "paid");
  assert_int_equal(qp__pay_order_refund_apply(o, 400, QP__PAY_REFUND_SUCCEED), 0);
  assert_string_equal(member(o, "amount_refunding"), "0");
  assert_string_equal(member(o, "amount_refunded"), "400");
  assert_string_equal(member(o, "status"), "partially_refunded");
  assert_int_equal(qp__pay_order_refund_apply(o, 834, QP__PAY_REFUND_RESERVE), 0);
  assert_int_equal(qp__pay_order_refund_apply(o, 834, QP__PAY_REFUND_RELEASE), 0);
  assert_string_equal(member(o, "amount_refunding"), "0");
  assert_string_equal(member(o, "amount_refunded"), "400");
  assert_string_equal(member(o, "status"), "partially_refunded");
  assert_int_equal(qp__pay_order_refund_apply(o, 834, QP__PAY_REFUND_RESERVE), 0);
  assert_int_equal(qp__pay_order_refund_apply(o, 834, QP__PAY_REFUND_SUCCEED), 0);
  assert_string_equal(member(o, "status"), "refunded");
  /* Releasing what was never reserved is corruption, not a negative sum. */
  assert_int_equal(qp__pay_order_refund_apply(o, 1, QP__PAY_REFUND_RELEASE), QP_ECORRUPT);
  json_decref(o);
}

static void test_transfer_id(void **state) {
  (void)state;
  uint8_t id[QP_PAY_ID_SIZE], other[QP_PAY_ID_SIZE], in[24 + QP_PAY_ID_SIZE], h[QP_HASH_SIZE];
  for (int i = 0; i < QP_PAY_ID_SIZE; i++) id[i] = (uint8_t)i, other[i] = (uint8_t)i;
  other[15] ^= 1;
  memcpy(in, "quipu-refund-transfer-v1", 24);
  memcpy(in + 24, id, QP_PAY_ID_SIZE);
  qp_sha256(h, in, sizeof in);
  assert_true(qp__pay_refund_transfer_id(id) == qp_u128_load_be(h));
  assert_true(qp__pay_refund_transfer_id(id) == qp__pay_refund_transfer_id(id));
  assert_true(qp__pay_refund_transfer_id(id) != qp__pay_refund_transfer_id(other));
  assert_true(qp__pay_refund_transfer_id(id) != 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check),
      cmocka_unit_test(test_status),
      cmocka_unit_test(test_steps),
      cmocka_unit_test(test_transfer_id),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
