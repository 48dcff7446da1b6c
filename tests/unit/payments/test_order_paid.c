/*
 * test_order_paid.c - which payment intent pays an order
 * (src/payments/order_paid.c): only a succeeded, posted intent with the
 * order's amount, ledger and currency crediting the merchant's settlement
 * account; and the paid transition from open, expired or canceled, never
 * from paid.
 */
#include <stdio.h>
#include <string.h>

#include "test_util.h"
#include "auth/auth.h"
#include "base/err.h"
#include "payments/payments_int.h"

static json_t *order(const char *status, json_int_t expires_at_s) {
  return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "id", "0123456789abcdef0123456789abcdef",
                   "status", status, "amount", "1234", "currency", "USD", "ledger",
                   (json_int_t)840, "expires_at_s", expires_at_s);
}

static qp_auth_order_intent_t intent(void) {
  qp_auth_order_intent_t in;
  memset(&in, 0, sizeof in);
  snprintf(in.id, sizeof in.id, "%s", "ffeeddccbbaa99887766554433221100");
  snprintf(in.status, sizeof in.status, "%s", "succeeded");
  snprintf(in.currency, sizeof in.currency, "%s", "USD");
  in.amount = 1234;
  in.ledger = 840;
  in.debit_account_id = 7;
  in.credit_account_id = 9;
  in.post_transfer_id = 42;
  return in;
}

static void test_which_intent_pays(void **state) {
  (void)state;
  json_t *o = order("open", 2000000000);
  qp_auth_order_intent_t in = intent();
  assert_true(qp__pay_intent_pays(o, 9, &in));
  assert_false(qp__pay_intent_pays(o, 8, &in)); /* credits another account */
  assert_false(qp__pay_intent_pays(o, 0, &in));
  const char *statuses[] = {"requires_confirmation", "requires_review", "canceled", "expired"};
  for (size_t i = 0; i < 4; i++) {
    in = intent();
    snprintf(in.status, sizeof in.status, "%s", statuses[i]);
    assert_false(qp__pay_intent_pays(o, 9, &in));
  }
  in = intent();
  in.amount = 1233;
  assert_false(qp__pay_intent_pays(o, 9, &in));
  in = intent();
  in.amount = 1235;
  assert_false(qp__pay_intent_pays(o, 9, &in));
  in = intent();
  in.ledger = 978;
  assert_false(qp__pay_intent_pays(o, 9, &in));
  in = intent();
  snprintf(in.currency, sizeof in.currency, "%s", "EUR");
  assert_false(qp__pay_intent_pays(o, 9, &in));
  /* Succeeded (the ledger posted the hold) but the auth module's record of
   * the post was lost to a crash: it pays, with post_transfer_id null. */
  in = intent();
  in.post_transfer_id = 0;
  assert_true(qp__pay_intent_pays(o, 9, &in));
  assert_int_equal(qp__pay_order_mark_paid(o, &in, 1900000000), 0);
  assert_true(json_is_null(json_object_get(o, "post_transfer_id")));
  json_decref(o);
}

static void paid_from(const char *status, json_int_t expires, const char *want_while) {
  json_t *o = order(status, expires);
  qp_auth_order_intent_t in = intent();
  assert_int_equal(qp__pay_order_mark_paid(o, &in, 1900000000), 0);
  assert_string_equal(json_string_value(json_object_get(o, "status")), "paid");
  assert_string_equal(json_string_value(json_object_get(o, "paid_while")), want_while);
  assert_string_equal(json_string_value(json_object_get(o, "payment_intent_id")), in.id);
  assert_string_equal(json_string_value(json_object_get(o, "post_transfer_id")), "42");
  assert_string_equal(json_string_value(json_object_get(o, "payer_account_id")), "7");
  assert_string_equal(json_string_value(json_object_get(o, "amount_refunded")), "0");
  assert_string_equal(json_string_value(json_object_get(o, "paid_at")), "2030-03-17T17:46:40Z");
  /* Paid once: a second intent cannot pay it again. */
  assert_int_equal(qp__pay_order_mark_paid(o, &in, 1900000001), QP_EINVAL);
  assert_false(qp__pay_order_payable(o));
  json_decref(o);
}

static void test_transitions(void **state) {
  (void)state;
  paid_from("open", 2000000000, "open");
  paid_from("open", 1800000000, "expired");
  paid_from("canceled", 2000000000, "canceled");
  const char *never[] = {"paid", "partially_refunded", "refunded"};
  for (size_t i = 0; i < 3; i++) {
    json_t *o = order(never[i], 2000000000);
    qp_auth_order_intent_t in = intent();
    assert_false(qp__pay_order_payable(o));
    assert_int_equal(qp__pay_order_mark_paid(o, &in, 1900000000), QP_EINVAL);
    assert_string_equal(json_string_value(json_object_get(o, "status")), never[i]);
    json_decref(o);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_which_intent_pays),
      cmocka_unit_test(test_transitions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
