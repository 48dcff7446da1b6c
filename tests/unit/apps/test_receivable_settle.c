/*
 * test_receivable_settle.c - settlement: not before maturity, not while a
 * record of the tree (or a finance of one of its leaves) is pending; one
 * payment per live leaf in id order; confirm and shortfall only by the
 * clearing participant and only once; a shortfall makes the tree overdue
 * (settled again later, attempt 2) or undoes a finance; and the queries
 * (settlement, settlements, history, exposure) that tell it.
 */
#include "rcv_test.h"

static char a[1024];

static const char *confirm_args(const char *sid, const char *transfers) {
  snprintf(a, sizeof a, "{\"settlement\":\"%s\",\"transfers\":%s}", sid, transfers);
  return a;
}

static const char *short_args(const char *sid) {
  snprintf(a, sizeof a, "{\"settlement\":\"%s\",\"reason\":\"insufficient funds\"}", sid);
  return a;
}

/* The story's tree: v1 (1000, core 1 -> 2) split into v2 (300, to 3) and
 * v3 (700, 2); 3 finances v4 (100 of v2) at funder 4, rest v5 (200);
 * the funder accepts: fin-v4 pending. */
static void story(world_t *w) {
  char v[ID_MAX], to[ID_MAX], rest[ID_MAX], f[ID_MAX];
  w_cast(w, "1000");
  r_issue(w, 1, 2, "1000", 5000, "ok", v);
  r_transfer(w, 2, v, 3, "300", "ok", to, rest);
  r_finance(w, 3, to, 4, "100", 100, "ok", f);
  assert_string_equal(f, "v4");
  r_one(w, 4, "accept_finance", "voucher", f, "ok");
}

static void check_maturity_record(world_t *w, const json_t *r, const char *sid) {
  static const struct {
    const char *voucher, *amount;
    int holder;
  } want[] = {{"v3", "700", 2}, {"v4", "100", 4}, {"v5", "200", 3}};
  assert_string_equal(json_string_value(json_object_get(r, "settlement")), sid);
  assert_string_equal(json_string_value(json_object_get(r, "kind")), "maturity");
  assert_int_equal(json_integer_value(json_object_get(r, "ledger")), 1);
  const json_t *pays = json_object_get(r, "payments");
  assert_int_equal(json_array_size(pays), 3);
  for (size_t i = 0; i < 3; i++) {
    const json_t *p = json_array_get(pays, i);
    assert_int_equal(json_integer_value(json_object_get(p, "index")), (json_int_t)i);
    assert_string_equal(json_string_value(json_object_get(p, "from")), w->hex[1]);
    assert_string_equal(json_string_value(json_object_get(p, "to")), w->hex[want[i].holder]);
    assert_string_equal(json_string_value(json_object_get(p, "amount")), want[i].amount);
    assert_string_equal(json_string_value(json_object_get(p, "voucher")), want[i].voucher);
  }
}

static void test_settle_refusals(void **state) {
  (void)state;
  world_t w;
  w_init(&w);
  story(&w);
  r_one(&w, 2, "settle", "voucher", "v3", "not_mature");
  w.time_s = 5000;
  r_one(&w, 2, "settle", "voucher", "v3", "settlement_pending"); /* fin-v4 is pending */
  r_one(&w, 6, "settle", "voucher", "v3", "not_registered");
  r_one(&w, 2, "settle", "voucher", "v99", "unknown_voucher");
  w_expect(&w, 2, "receivable", "confirm_settlement", confirm_args("fin-v4", "[\"11\"]"),
           "not_clearing");
  w_expect(&w, 6, "receivable", "confirm_settlement", confirm_args("fin-v4", "[\"11\"]"),
           "not_clearing");
  w_expect(&w, 5, "receivable", "confirm_settlement", confirm_args("fin-v9", "[\"11\"]"),
           "unknown_settlement");
  w_expect(&w, 5, "receivable", "confirm_settlement", confirm_args("fin-v4", "[]"), "bad_args");
  w_expect(&w, 5, "receivable", "confirm_settlement", confirm_args("fin-v4", "[\"0\"]"),
           "bad_args");
  w_expect(&w, 5, "receivable", "confirm_settlement", confirm_args("fin-v4", "[11]"), "bad_args");
  w_expect(&w, 5, "receivable", "confirm_settlement", confirm_args("v4", "[\"11\"]"), "bad_args");
  w_expect(&w, 5, "receivable", "report_shortfall", "{\"settlement\":\"fin-v4\"}", "bad_args");
  w_expect(&w, 5, "receivable", "confirm_settlement", confirm_args("fin-v4", "[\"11\"]"), "ok");
  assert_string_equal(w_result(&w, "status"), "confirmed");
  assert_string_equal(json_string_value(json_object_get(json_array_get(w.e.events, 0), "type")),
                      "settlement_confirmed");
  w_expect(&w, 5, "receivable", "confirm_settlement", confirm_args("fin-v4", "[\"11\"]"),
           "settlement_not_pending");
  w_expect(&w, 5, "receivable", "report_shortfall", short_args("fin-v4"),
           "settlement_not_pending");
  w_deinit(&w);
}

static void test_settle_story(void **state) {
  (void)state;
  world_t w;
  char st[32];
  w_init(&w);
  story(&w);
  w.time_s = 5000;
  w_expect(&w, 5, "receivable", "confirm_settlement", confirm_args("fin-v4", "[\"11\"]"), "ok");
  r_one(&w, 2, "settle", "voucher", "v5", "ok"); /* any voucher of the tree */
  assert_string_equal(w_result(&w, "settlement"), "mat-v1-1");
  json_t *ev = json_array_get(w.e.events, 0);
  assert_string_equal(json_string_value(json_object_get(ev, "type")), "settlement_requested");
  check_maturity_record(&w, ev, "mat-v1-1");
  assert_string_equal(r_state(&w, "v3", st), "settling");
  assert_string_equal(r_state(&w, "v1", st), "split");
  r_transfer(&w, 2, "v3", 3, "1", "voucher_not_active", NULL, NULL);
  r_one(&w, 2, "settle", "voucher", "v3", "settlement_pending");
  w_expect(&w, 5, "receivable", "report_shortfall", short_args("mat-v1-1"), "ok");
  assert_string_equal(r_state(&w, "v4", st), "overdue");
  r_transfer(&w, 2, "v3", 3, "1", "voucher_not_active", NULL, NULL);
  r_one(&w, 3, "settle", "voucher", "v1", "ok");
  assert_string_equal(w_result(&w, "settlement"), "mat-v1-2");
  json_t *rec = r_query(&w, "settlement", "{\"id\":\"mat-v1-2\"}");
  check_maturity_record(&w, rec, "mat-v1-2");
  assert_int_equal(json_array_size(json_object_get(rec, "transfers")), 0);
  json_decref(rec);
  w_expect(&w, 5, "receivable", "confirm_settlement",
           confirm_args("mat-v1-2", "[\"21\",\"22\",\"23\"]"), "ok");
  assert_string_equal(r_state(&w, "v5", st), "settled");
  r_one(&w, 2, "settle", "voucher", "v3", "voucher_not_active");
  rec = r_query(&w, "settlement", "{\"id\":\"mat-v1-2\"}");
  assert_string_equal(json_string_value(json_object_get(rec, "status")), "confirmed");
  assert_string_equal(json_string_value(json_array_get(json_object_get(rec, "transfers"), 2)),
                      "23");
  json_decref(rec);
  /* Settled: the core owes nothing more, so its line covers a new issue. */
  r_issue(&w, 1, 2, "1000", 9000, "ok", NULL);
  w_deinit(&w);
}

static void test_settlement_queries(void **state) {
  (void)state;
  world_t w;
  w_init(&w);
  story(&w);
  w.time_s = 6000;
  w_expect(&w, 5, "receivable", "confirm_settlement", confirm_args("fin-v4", "[\"11\"]"), "ok");
  r_one(&w, 2, "settle", "voucher", "v5", "ok");
  w_expect(&w, 5, "receivable", "report_shortfall", short_args("mat-v1-1"), "ok");
  r_one(&w, 2, "settle", "voucher", "v5", "ok");
  json_t *all = r_query(&w, "settlements", "{}");
  json_t *list = json_object_get(all, "settlements");
  assert_int_equal(json_array_size(list), 3);
  const char *order[] = {"fin-v4", "mat-v1-1", "mat-v1-2"}, *status[] = {"confirmed", "short",
                                                                         "pending"};
  for (size_t i = 0; i < 3; i++) {
    json_t *r = json_array_get(list, i);
    assert_string_equal(json_string_value(json_object_get(r, "settlement")), order[i]);
    assert_string_equal(json_string_value(json_object_get(r, "status")), status[i]);
  }
  json_decref(all);
  json_t *pending = r_query(&w, "settlements", "{\"status\":\"pending\"}");
  assert_int_equal(json_array_size(json_object_get(pending, "settlements")), 1);
  json_decref(pending);
  char code[QP_CHAIN_CODE_MAX + 1];
  assert_null(w_query(&w, "receivable", "settlements", "{\"status\":\"done\"}", code));
  assert_string_equal(code, "bad_args");
  assert_null(w_query(&w, "receivable", "settlement", "{\"id\":\"mat-v1-9\"}", code));
  assert_string_equal(code, "not_found");
  /* v4's history: its own events and its tree's settlements, in order. */
  json_t *h = r_query(&w, "history", "{\"voucher\":\"v4\"}");
  const char *want[] = {"created", "finance_offered", "finance_accepted", "finance_confirmed",
                        "settlement_requested", "settlement_short", "settlement_requested"};
  json_t *events = json_object_get(h, "events");
  assert_int_equal(json_array_size(events), 7);
  for (size_t i = 0; i < 7; i++)
    assert_string_equal(json_string_value(json_object_get(json_array_get(events, i), "type")),
                        want[i]);
  json_decref(h);
  /* The exposure of core 1: 1000 outstanding on ledger 1 at maturity 5000. */
  snprintf(a, sizeof a, "{\"core\":\"%s\"}", w.hex[1]);
  json_t *x = r_query(&w, "exposure", a);
  json_t *l = json_array_get(json_object_get(x, "ledgers"), 0);
  assert_string_equal(json_string_value(json_object_get(l, "outstanding")), "1000");
  assert_string_equal(json_string_value(json_object_get(l, "credit_live")), "1000");
  json_t *m = json_array_get(json_object_get(l, "maturities"), 0);
  assert_int_equal(json_integer_value(json_object_get(m, "maturity")), 5000);
  assert_string_equal(json_string_value(json_object_get(m, "amount")), "1000");
  json_decref(x);
  assert_null(w_query(&w, "receivable", "voucher", "{\"id\":\"v77\"}", code));
  assert_string_equal(code, "not_found");
  assert_null(w_query(&w, "receivable", "voucher", "{\"voucher\":\"v1\"}", code));
  assert_string_equal(code, "bad_args");
  assert_null(w_query(&w, "receivable", "vouchers", "{}", code));
  assert_string_equal(code, "unknown_method");
  w_deinit(&w);
}

static void test_finance_shortfall(void **state) {
  (void)state;
  world_t w;
  char v[ID_MAX], st[32];
  w_init(&w);
  w_cast(&w, "1000");
  r_issue(&w, 1, 2, "500", 5000, "ok", v);
  r_finance(&w, 2, v, 4, "500", 200, "ok", NULL);
  r_one(&w, 4, "accept_finance", "voucher", v, "ok");
  w_expect(&w, 5, "receivable", "report_shortfall", short_args("fin-v1"), "ok");
  assert_string_equal(w_result(&w, "status"), "short");
  json_t *ev = json_array_get(w.e.events, 0);
  assert_string_equal(json_string_value(json_object_get(ev, "type")), "settlement_short");
  assert_string_equal(json_string_value(json_object_get(ev, "reason")), "insufficient funds");
  json_t *r = r_query(&w, "voucher", "{\"id\":\"v1\"}");
  json_t *vv = json_object_get(r, "voucher");
  assert_string_equal(json_string_value(json_object_get(vv, "holder")), w.hex[2]);
  assert_string_equal(json_string_value(json_object_get(vv, "state")), "active");
  json_decref(r);
  r_finance(&w, 2, v, 8, "100", 0, "already_financed", NULL); /* once, even when undone */
  r_transfer(&w, 2, v, 3, "100", "ok", NULL, NULL);
  assert_string_equal(r_state(&w, "v1", st), "split");
  w_deinit(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_settle_refusals),
      cmocka_unit_test(test_settle_story),
      cmocka_unit_test(test_settlement_queries),
      cmocka_unit_test(test_finance_shortfall),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
