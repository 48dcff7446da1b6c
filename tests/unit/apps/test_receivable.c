/*
 * test_receivable.c - the receivable app's voucher moves: issue within
 * credit, transfer whole or in part (children sum to the parent and
 * inherit its terms), finance and accept_finance (the price rounded down,
 * financed once); every refusal code, each changing nothing.
 */
#include "apps/apps_int.h"
#include "rcv_test.h"

static void test_issue(void **state) {
  (void)state;
  world_t w;
  char v1[ID_MAX], v2[ID_MAX], st[32];
  w_init(&w);
  w_cast(&w, "1000");
  r_issue(&w, 1, 2, "600", 5000, "ok", v1);
  assert_string_equal(v1, "v1");
  json_t *ev = json_array_get(w.e.events, 0);
  assert_string_equal(json_string_value(json_object_get(ev, "type")), "voucher_issued");
  assert_string_equal(json_string_value(json_object_get(ev, "holder")), w.hex[2]);
  assert_string_equal(r_state(&w, "v1", st), "active");
  r_issue(&w, 1, 3, "401", 5000, "credit_line_exceeded", NULL);
  r_issue(&w, 1, 3, "400", 5000, "ok", v2);
  assert_string_equal(v2, "v2");
  r_issue(&w, 1, 3, "1", 5000, "credit_line_exceeded", NULL);
  r_issue(&w, 7, 3, "1", 5000, "credit_line_exceeded", NULL); /* core 7 has no line */
  r_issue(&w, 2, 3, "1", 5000, "not_core", NULL);
  r_issue(&w, 6, 3, "1", 5000, "not_registered", NULL);
  r_issue(&w, 1, 6, "1", 5000, "not_registered", NULL);
  r_issue(&w, 1, 3, "0", 5000, "amount_invalid", NULL);
  r_issue(&w, 1, 3, "x", 5000, "amount_invalid", NULL);
  r_issue(&w, 1, 3, "1", -1, "bad_args", NULL);
  w_expect(&w, 1, "receivable", "issue", "{\"amount\":\"1\"}", "bad_args");
  w_expect(&w, 1, "receivable", "issue", "{\"bogus\":1}", "bad_args");
  /* A line that expired no longer covers new issues. */
  w.time_s = 1000000000;
  r_issue(&w, 7, 3, "1", 5000, "credit_line_exceeded", NULL);
  w_expect(&w, 1, "receivable", "voucher", "{}", "query_only");
  w_expect(&w, 1, "receivable", "burn", "{}", "unknown_method");
  w_deinit(&w);
}

static void test_transfer(void **state) {
  (void)state;
  world_t w;
  char v[ID_MAX], to[ID_MAX], rest[ID_MAX], to2[ID_MAX], rest2[ID_MAX], st[32];
  w_init(&w);
  w_cast(&w, "1000");
  r_issue(&w, 1, 2, "1000", 5000, "ok", v);
  r_transfer(&w, 2, v, 3, "300", "ok", to, rest);
  assert_string_equal(to, "v2");
  assert_string_equal(rest, "v3");
  assert_string_equal(r_state(&w, "v1", st), "split");
  json_t *r = r_query(&w, "voucher", "{\"id\":\"v2\"}");
  json_t *vv = json_object_get(r, "voucher");
  assert_string_equal(json_string_value(json_object_get(vv, "holder")), w.hex[3]);
  assert_string_equal(json_string_value(json_object_get(vv, "amount")), "300");
  assert_string_equal(json_string_value(json_object_get(vv, "parent")), "v1");
  assert_string_equal(json_string_value(json_object_get(vv, "obligor")), w.hex[1]);
  assert_int_equal(json_integer_value(json_object_get(vv, "maturity")), 5000);
  json_t *tree = json_object_get(r, "tree");
  assert_string_equal(json_string_value(json_object_get(tree, "voucher")), "v1");
  assert_int_equal(json_array_size(json_object_get(tree, "children")), 2);
  json_decref(r);
  r_transfer(&w, 2, "v1", 3, "1", "voucher_not_active", NULL, NULL); /* split */
  r_transfer(&w, 2, "v2", 3, "1", "not_holder", NULL, NULL);
  r_transfer(&w, 2, "v3", 3, "701", "amount_invalid", NULL, NULL);
  r_transfer(&w, 2, "v3", 3, "0", "amount_invalid", NULL, NULL);
  r_transfer(&w, 2, "v9", 3, "1", "unknown_voucher", NULL, NULL);
  r_transfer(&w, 2, "v3", 6, "1", "not_registered", NULL, NULL);
  r_transfer(&w, 6, "v3", 3, "1", "not_registered", NULL, NULL);
  r_transfer(&w, 2, "x3", 3, "1", "bad_args", NULL, NULL);
  /* The whole of it: one child, held by the receiver. */
  r_transfer(&w, 2, "v3", 3, "700", "ok", to2, rest2);
  assert_string_equal(to2, "v4");
  assert_string_equal(rest2, "");
  char a[256];
  snprintf(a, sizeof a, "{\"key\":\"%s\"}", w.hex[3]);
  r = r_query(&w, "holdings", a);
  json_t *held = json_object_get(r, "vouchers");
  assert_int_equal(json_array_size(held), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(held, 0), "voucher")),
                      "v2");
  assert_string_equal(json_string_value(json_object_get(json_array_get(held, 1), "voucher")),
                      "v4");
  json_decref(r);
  w_deinit(&w);
}

static void test_tree_full(void **state) {
  (void)state;
  world_t w;
  char v[ID_MAX], to[ID_MAX], rest[ID_MAX];
  w_init(&w);
  w_cast(&w, "1000");
  r_issue(&w, 1, 2, "1000", 5000, "ok", v);
  for (int i = 0; i < 63; i++) { /* 1 + 2 * 63 = 127 vouchers */
    r_transfer(&w, 2, v, 3, "1", "ok", to, rest);
    snprintf(v, sizeof v, "%s", rest);
  }
  r_transfer(&w, 2, v, 3, "1", "tree_full", NULL, NULL);
  r_transfer(&w, 3, to, 2, "1", "tree_full", NULL, NULL);
  w_deinit(&w);
}

static void test_finance(void **state) {
  (void)state;
  world_t w;
  char v[ID_MAX], f[ID_MAX], st[32];
  w_init(&w);
  w_cast(&w, "100000");
  r_issue(&w, 1, 2, "10001", 5000, "ok", v);
  r_finance(&w, 2, v, 4, "9999", 250, "ok", f);
  assert_string_equal(f, "v2");
  assert_string_equal(w_result(&w, "rest_voucher"), "v3");
  /* 9999 * 9750 / 10000 = 9749.025: the funder pays 9749. */
  assert_string_equal(w_result(&w, "price"), "9749");
  assert_string_equal(r_state(&w, "v2", st), "financing");
  r_finance(&w, 2, "v2", 4, "1", 0, "already_financed", NULL);
  r_transfer(&w, 2, "v2", 3, "1", "voucher_not_active", NULL, NULL); /* financing */
  r_finance(&w, 2, "v3", 3, "1", 0, "not_funder", NULL); /* 3 is a supplier */
  r_finance(&w, 2, "v3", 6, "1", 0, "not_registered", NULL);
  r_finance(&w, 3, "v3", 4, "1", 0, "not_holder", NULL);
  r_finance(&w, 2, "v3", 4, "3", 0, "amount_invalid", NULL);
  r_finance(&w, 2, "v3", 4, "1", 9999, "amount_invalid", NULL); /* pays 0 */
  r_finance(&w, 2, "v3", 4, "1", 10000, "bad_args", NULL);
  r_one(&w, 8, "accept_finance", "voucher", "v2", "not_funder");
  r_one(&w, 4, "accept_finance", "voucher", "v3", "no_offer");
  r_one(&w, 4, "accept_finance", "voucher", "v7", "unknown_voucher");
  r_one(&w, 4, "accept_finance", "voucher", "v2", "ok");
  assert_string_equal(w_result(&w, "settlement"), "fin-v2");
  json_t *ev = json_array_get(w.e.events, 0);
  assert_string_equal(json_string_value(json_object_get(ev, "type")), "settlement_requested");
  assert_string_equal(json_string_value(json_object_get(ev, "kind")), "finance");
  assert_string_equal(json_string_value(json_object_get(ev, "status")), "pending");
  json_t *pay = json_array_get(json_object_get(ev, "payments"), 0);
  assert_string_equal(json_string_value(json_object_get(pay, "from")), w.hex[4]);
  assert_string_equal(json_string_value(json_object_get(pay, "to")), w.hex[2]);
  assert_string_equal(json_string_value(json_object_get(pay, "amount")), "9749");
  assert_string_equal(json_string_value(json_object_get(pay, "voucher")), "v2");
  assert_int_equal(json_integer_value(json_object_get(pay, "index")), 0);
  assert_string_equal(r_state(&w, "v2", st), "financed");
  r_one(&w, 4, "accept_finance", "voucher", "v2", "already_financed");
  r_finance(&w, 4, "v2", 8, "1", 0, "already_financed", NULL);
  r_transfer(&w, 4, "v2", 3, "1", "voucher_not_active", NULL, NULL); /* financed */
  /* The whole voucher: offered in place, no new id. */
  r_finance(&w, 2, "v3", 8, "2", 0, "ok", f);
  assert_string_equal(f, "v3");
  assert_null(json_object_get(w.e.result, "rest_voucher"));
  w_deinit(&w);
}

static void test_discount_exact(void **state) {
  (void)state;
  /* floor(a * (10000 - bps) / 10000) without overflow, for the largest amounts too. */
  qp_u128 max = QP_U128_MAX;
  assert_true(qp__apps_discounted(max, 0) == max);
  qp_u128 want = max / 10000u * 9999u + (max % 10000u) * 9999u / 10000u;
  assert_true(qp__apps_discounted(max, 1) == want);
  assert_true(qp__apps_discounted(10000, 1) == 9999);
  assert_true(qp__apps_discounted(9999, 1) == 9998); /* 9998.0001 */
  assert_true(qp__apps_discounted(1, 1) == 0);
  for (uint32_t a = 1; a < 3000; a += 7)
    for (uint32_t b = 0; b < 10000; b += 613)
      assert_true(qp__apps_discounted(a, b) == (qp_u128)((uint64_t)a * (10000 - b) / 10000));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_issue),   cmocka_unit_test(test_transfer),
      cmocka_unit_test(test_tree_full), cmocka_unit_test(test_finance),
      cmocka_unit_test(test_discount_exact),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
