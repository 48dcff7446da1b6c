/*
 * test_risk_engine.c - decisions: each feature kind at its window edges
 * (60 buckets of D/60), late events, idle keys dropped, distinct exact to
 * 1,024 and estimated above; the outcome lattice and thresholds; set and
 * CIDR lists (IPv4/IPv6 edges); overflow and too-large decimals as
 * evaluation errors; absent fields; short-circuit; bad events refused.
 */
#include <stdio.h>
#include <string.h>

#include "risk/risk.h"
#include "test_util.h"

typedef struct eng {
  qp_risk_ruleset_t *rs;
  qp_risk_lists_t *lists;
  qp_risk_state_t *st;
  qp_risk_decision_t d;
} eng_t;

static void eng_open(eng_t *e, const char *text) {
  qp_risk_errors_t errs;
  int rc = qp_risk_compile(text, strlen(text), &e->rs, &errs);
  if (rc != 0) fail_msg("compile: %u:%u %s", errs.items[0].line, errs.items[0].column,
                        errs.items[0].message);
  assert_int_equal(qp_risk_lists_new(&e->lists), 0);
  assert_int_equal(qp_risk_state_new(e->rs, e->lists, &e->st), 0);
  assert_int_equal(qp_risk_decision_init(&e->d, e->rs), 0);
}

static void eng_close(eng_t *e) {
  qp_risk_decision_deinit(&e->d);
  qp_risk_state_free(e->st);
  qp_risk_lists_free(e->lists);
  qp_risk_ruleset_free(e->rs);
}

static int eng_try(eng_t *e, const char *json, char *err, size_t err_size) {
  json_error_t jerr;
  json_t *ev = json_loads(json, 0, &jerr);
  assert_non_null(ev);
  int rc = qp_risk_decide(e->rs, e->st, ev, &e->d, err, err_size);
  json_decref(ev);
  return rc;
}

static void eng_decide(eng_t *e, const char *json) {
  char err[256];
  int rc = eng_try(e, json, err, sizeof err);
  if (rc != 0) fail_msg("decide %s: %s", json, err);
}

static int64_t feat(const eng_t *e, uint32_t i) {
  assert_true(e->d.features[i].present && !e->d.features[i].error);
  return e->d.features[i].value;
}

static bool fired(const eng_t *e, const char *rule) {
  for (uint32_t i = 0; i < e->d.fired_count; i++)
    if (strcmp(qp_risk_ruleset_rule_name(e->rs, e->d.fired[i].rule), rule) == 0) return true;
  return false;
}

static void test_window_edges(void **state) {
  (void)state;
  eng_t e;
  eng_open(&e, "feature c = count by p over 1h\nfeature s = sum(a) by p over 1h\n"
               "feature d = distinct(q) by p over 1h\n");
  /* time, amount, payee: count, sum, distinct after it */
  static const struct { int t, a; const char *q; int64_t c, s, d; } steps[] = {
      {0, 1, "x", 1, 1, 1},          {59, 2, "y", 2, 3, 2},      /* bucket 0 */
      {60, 4, "x", 3, 7, 2},                                      /* bucket 1 */
      {3599, 8, "z", 4, 15, 3},                                   /* bucket 59 */
      {3600, 16, "w", 3, 28, 3},     /* bucket 60: bucket 0 (t 0, 59) left: x stays (t 60) */
      {3659, 32, "w", 4, 60, 3},     {3660, 64, "v", 4, 120, 3}, /* bucket 61: t 60 left */
      {100, 128, "u", 5, 248, 4},    /* late: counted at engine time 3660 */
      {3660 + 3600, 1, "x", 1, 1, 1}, /* everything older left the window */
  };
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    char json[160];
    snprintf(json, sizeof json, "{\"id\":%zu,\"time\":%d,\"p\":\"k\",\"a\":%d,\"q\":\"%s\"}", i,
             steps[i].t, steps[i].a, steps[i].q);
    eng_decide(&e, json);
    if (feat(&e, 0) != steps[i].c || feat(&e, 1) != steps[i].s || feat(&e, 2) != steps[i].d)
      fail_msg("step %zu (t %d): count %lld sum %lld distinct %lld", i, steps[i].t,
               (long long)feat(&e, 0), (long long)feat(&e, 1), (long long)feat(&e, 2));
  }
  assert_int_equal(e.d.engine_time, 7260);
  /* Another key has its own window; an event without the key is not counted. */
  eng_decide(&e, "{\"id\":\"o\",\"time\":7260,\"p\":\"other\",\"a\":\"5\",\"q\":7}");
  assert_int_equal(feat(&e, 0), 1);
  assert_int_equal(feat(&e, 1), 5);
  eng_decide(&e, "{\"id\":\"n\",\"time\":7260,\"a\":5}");
  assert_false(e.d.features[0].present);
  eng_decide(&e, "{\"id\":\"n\",\"time\":7260,\"p\":\"k\",\"a\":5}");
  assert_int_equal(feat(&e, 0), 2);
  assert_int_equal(feat(&e, 2), 1); /* absent q adds no value */
  eng_close(&e);
}

static void test_idle_keys_dropped(void **state) {
  (void)state;
  eng_t e;
  eng_open(&e, "feature c = count by p over 1m\n");
  char json[96];
  for (int i = 0; i < 1000; i++) {
    snprintf(json, sizeof json, "{\"id\":%d,\"time\":%d,\"p\":\"k%d\"}", i, i, i);
    eng_decide(&e, json);
    assert_int_equal(feat(&e, 0), 1);
  }
  /* 1-second buckets: at most ~60 keys are live, and the map never holds
   * much more than what is live when it last had to grow. */
  assert_true(qp_risk_state_keys(e.st) < 200);
  eng_close(&e);
}

static void test_distinct_exact_then_estimate(void **state) {
  (void)state;
  eng_t e;
  eng_open(&e, "feature d = distinct(q) by p over 1d\n");
  char json[96];
  for (int i = 0; i < 1024; i++) {
    snprintf(json, sizeof json, "{\"id\":%d,\"time\":1000,\"p\":\"k\",\"q\":\"v%d\"}", i, i);
    eng_decide(&e, json);
    assert_int_equal(feat(&e, 0), i + 1);
  }
  eng_decide(&e, "{\"id\":1,\"time\":1000,\"p\":\"k\",\"q\":\"v5\"}");
  assert_int_equal(feat(&e, 0), 1024);
  for (int i = 1024; i < 20000; i++) {
    snprintf(json, sizeof json, "{\"id\":%d,\"time\":1000,\"p\":\"k\",\"q\":\"v%d\"}", i, i);
    eng_decide(&e, json);
  }
  int64_t est = feat(&e, 0);
  if (est < 20000 * 7 / 10 || est > 20000 * 13 / 10) fail_msg("estimate %lld", (long long)est);
  eng_close(&e);
}

static void test_lattice_and_thresholds(void **state) {
  (void)state;
  eng_t e;
  eng_open(&e, "rule c: x >= 1 => challenge score 10 \"c\"\n"
               "rule r: x >= 2 => review score 20\n"
               "rule b: x >= 3 => block\n"
               "rule s: y > 0 => challenge score 45\n"
               "threshold score >= 50 => review\n"
               "threshold score >= 100 => block\n");
  static const struct { const char *ev; qp_risk_outcome_t want; int64_t score; } cases[] = {
      {"{\"id\":1,\"time\":1}", QP_RISK_ALLOW, 0},
      {"{\"id\":1,\"time\":1,\"x\":1}", QP_RISK_CHALLENGE, 10},
      {"{\"id\":1,\"time\":1,\"x\":2}", QP_RISK_REVIEW, 30},
      {"{\"id\":1,\"time\":1,\"x\":3}", QP_RISK_BLOCK, 30},
      {"{\"id\":1,\"time\":1,\"y\":1}", QP_RISK_CHALLENGE, 45},
      {"{\"id\":1,\"time\":1,\"y\":1,\"x\":1}", QP_RISK_REVIEW, 55},
      {"{\"id\":1,\"time\":1,\"y\":1,\"x\":2}", QP_RISK_REVIEW, 75},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    eng_decide(&e, cases[i].ev);
    assert_int_equal(e.d.decision, cases[i].want);
    assert_int_equal(e.d.score, cases[i].score);
  }
  json_t *ev = json_pack("{s:i, s:i, s:i}", "id", 9, "time", 1, "x", 1);
  char err[128];
  assert_int_equal(qp_risk_decide(e.rs, e.st, ev, &e.d, err, sizeof err), 0);
  json_t *o = qp_risk_decision_json(e.rs, &e.d, NULL);
  char *text = json_dumps(o, JSON_COMPACT);
  assert_non_null(strstr(text, "\"decision\":\"challenge\",\"score\":10,\"fired\":[{\"rule\":"
                               "\"c\",\"outcome\":\"challenge\",\"score\":10,\"reason\":\"c\"}]"));
  assert_non_null(strstr(text, qp_risk_ruleset_hash(e.rs)));
  json_free_t freer;
  json_get_alloc_funcs(NULL, &freer);
  freer(text);
  json_decref(o);
  json_decref(ev);
  eng_close(&e);
}

static void test_lists(void **state) {
  (void)state;
  eng_t e;
  eng_open(&e, "list ips cidr\nlist who set\nrule bad_ip: ip in ips => block\n"
               "rule bad_who: user in who => review\n");
  char err[160];
  const char *add[] = {"10.0.0.0/8", "192.168.1.7", "2001:db8::/32", "fe80::1/128",
                       "2001:db8:ffff::/127", "172.16.0.0/12"};
  for (size_t i = 0; i < 6; i++)
    assert_int_equal(qp_risk_list_update(e.lists, "ips", add[i], true, err, sizeof err), 0);
  static const struct { const char *ip; bool in; } ips[] = {
      {"10.0.0.0", true},        {"10.255.255.255", true}, {"11.0.0.0", false},
      {"9.255.255.255", false},  {"192.168.1.7", true},    {"192.168.1.8", false},
      {"172.31.255.255", true},  {"172.32.0.0", false},    {"2001:db8::", true},
      {"2001:db8:ffff:ffff::1", true}, {"2001:db9::", false}, {"2001:db7:ffff::", false},
      {"fe80::1", true},         {"fe80::2", false},       {"::ffff:10.0.0.1", false},
      {"not an ip", false},      {"10.0.0.1/8", false},    {"", false},
  };
  for (size_t i = 0; i < sizeof ips / sizeof ips[0]; i++)
    if (qp_risk_list_contains(e.lists, "ips", ips[i].ip) != ips[i].in)
      fail_msg("%s: expected %s", ips[i].ip, ips[i].in ? "in" : "out");
  static const char *const bad[] = {"10.0.0.0/33", "10.0.0.0/08", "1.2.3", "::/129", "abc",
                                    "10.0.0.0/", "/8", "10.0.0.0/-1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(qp_risk_list_update(e.lists, "ips", bad[i], true, err, sizeof err),
                     QP_EINVAL);
    assert_non_null(strstr(err, "is not an IPv4/IPv6 address or prefix"));
  }
  assert_int_equal(qp_risk_list_update(e.lists, "nope", "x", true, err, sizeof err),
                   QP_ENOTFOUND);
  assert_int_equal(qp_risk_list_update(e.lists, "ips", "10.1.2.3/8", false, err, sizeof err), 0);
  assert_false(qp_risk_list_contains(e.lists, "ips", "10.0.0.1"));
  assert_int_equal(qp_risk_list_update(e.lists, "ips", "0.0.0.0/0", true, err, sizeof err), 0);
  assert_true(qp_risk_list_contains(e.lists, "ips", "11.0.0.0"));
  assert_false(qp_risk_list_contains(e.lists, "ips", "2001:db9::"));
  /* Sets: strings, integers by their digits, remove, the rule sees it. */
  assert_int_equal(qp_risk_list_update(e.lists, "who", "mallory", true, err, sizeof err), 0);
  assert_int_equal(qp_risk_list_update(e.lists, "who", "42", true, err, sizeof err), 0);
  eng_decide(&e, "{\"id\":1,\"time\":1,\"user\":\"mallory\",\"ip\":\"8.8.8.8\"}");
  assert_true(fired(&e, "bad_who") && fired(&e, "bad_ip")); /* 0.0.0.0/0 */
  eng_decide(&e, "{\"id\":1,\"time\":1,\"user\":42,\"ip\":\"2001:db9::\"}");
  assert_true(fired(&e, "bad_who") && !fired(&e, "bad_ip"));
  assert_int_equal(qp_risk_list_update(e.lists, "who", "mallory", false, err, sizeof err), 0);
  eng_decide(&e, "{\"id\":1,\"time\":1,\"user\":\"mallory\"}");
  assert_int_equal(e.d.fired_count, 0);
  assert_int_equal(e.d.eval_errors, 0);
  /* Kinds are fixed by the first declaration. */
  assert_int_equal(qp_risk_lists_declare(e.lists, "who", QP_RISK_LIST_CIDR, err, sizeof err),
                   QP_EEXISTS);
  eng_close(&e);
}

static void test_overflow_and_errors(void **state) {
  (void)state;
  eng_t e;
  eng_open(&e, "feature s = sum(a) by p over 1h\n"
               "rule mul: a * 3 > 1 => challenge\n"
               "rule neg: -a < 0 => challenge\n"
               "rule big: a > 5 => review\n"
               "rule sum: s > 0 => block\n"
               "rule sc: x = 1 and a * 3 > 1 => challenge\n"
               "rule so: x = 1 or a * 3 > 1 => challenge\n");
  eng_decide(&e, "{\"id\":1,\"time\":1,\"p\":\"k\",\"a\":4611686018427387904,\"x\":1}");
  assert_false(fired(&e, "mul"));
  assert_true(fired(&e, "neg") && fired(&e, "big") && fired(&e, "sum") && fired(&e, "so"));
  assert_false(fired(&e, "sc"));
  assert_int_equal(e.d.eval_errors, 2); /* mul, and sc's second term */
  eng_decide(&e, "{\"id\":2,\"time\":1,\"p\":\"k\",\"a\":\"9223372036854775807\",\"x\":2}");
  assert_true(e.d.features[0].error); /* the window's sum passed 64 bits */
  assert_false(fired(&e, "sum"));
  assert_false(fired(&e, "sc")); /* x = 1 false: the overflowing term is not evaluated */
  assert_int_equal(e.d.eval_errors, 3); /* mul, sum, so */
  eng_decide(&e, "{\"id\":3,\"time\":1,\"p\":\"j\",\"a\":\"9223372036854775808\"}");
  assert_false(fired(&e, "big"));
  assert_int_equal(e.d.eval_errors, 4); /* mul, neg, big, so; sum() added 0 */
  assert_int_equal(feat(&e, 0), 0);
  eng_close(&e);
}

static void test_absent_and_types(void **state) {
  (void)state;
  eng_t e;
  eng_open(&e, "list l set\nfeature c = count by p over 1h\n"
               "rule lt: x < 5 => challenge\n"
               "rule nlt: not (x < 5) => challenge\n"
               "rule ne: x != 5 => challenge\n"
               "rule ar: x + 1 > 0 => challenge\n"
               "rule inl: x in l => challenge\n"
               "rule feat: c >= 1 => challenge\n"
               "rule str: s = \"abc\" => review\n"
               "rule strlt: s < \"b\" => review\n"
               "rule num: x = \"12\" => review\n");
  eng_decide(&e, "{\"id\":\"a\",\"time\":1}");
  assert_int_equal(e.d.fired_count, 1);
  assert_true(fired(&e, "nlt")); /* absent: every comparison false, so its negation true */
  assert_int_equal(e.d.eval_errors, 0);
  assert_false(e.d.features[0].present);
  eng_decide(&e, "{\"id\":\"a\",\"time\":1,\"x\":null,\"s\":null}");
  assert_int_equal(e.d.fired_count, 1);
  eng_decide(&e, "{\"id\":\"a\",\"time\":1,\"x\":\"12\",\"s\":\"abc\",\"p\":1}");
  assert_true(fired(&e, "num") && fired(&e, "str") && fired(&e, "strlt") && fired(&e, "ne") &&
              fired(&e, "ar") && fired(&e, "feat") && fired(&e, "nlt"));
  assert_false(fired(&e, "lt"));
  /* Decimal strings: "0" or digits without a leading zero; no sign, no space. */
  static const char *const not_numbers[] = {"\"012\"", "\"-5\"", "\"+5\"", "\" 5\"", "\"5 \"",
                                            "\"\"", "\"1e3\"", "1.5", "true", "[1]", "{}"};
  for (size_t i = 0; i < sizeof not_numbers / sizeof not_numbers[0]; i++) {
    char json[96];
    snprintf(json, sizeof json, "{\"id\":\"a\",\"time\":1,\"x\":%s}", not_numbers[i]);
    eng_decide(&e, json);
    if (fired(&e, "lt") || e.d.eval_errors < 4)
      fail_msg("x = %s: %u errors", not_numbers[i], e.d.eval_errors);
  }
  eng_decide(&e, "{\"id\":\"a\",\"time\":1,\"x\":\"0\"}");
  assert_true(fired(&e, "lt"));
  eng_decide(&e, "{\"id\":\"a\",\"time\":1,\"x\":-3}");
  assert_true(fired(&e, "lt"));
  eng_close(&e);
}

static void test_bad_events(void **state) {
  (void)state;
  eng_t e;
  eng_open(&e, "feature c = count by p over 1h\nrule r: c > 0 => block\n");
  static const struct { const char *ev; const char *err; } bad[] = {
      {"[1]", "expected a JSON object"},
      {"{\"time\":1}", "'id' must be a string"},
      {"{\"id\":\"\",\"time\":1}", "'id' must be a string"},
      {"{\"id\":1.5,\"time\":1}", "'id' must be a string"},
      {"{\"id\":1}", "'time' must be an integer"},
      {"{\"id\":1,\"time\":-1}", "'time' must be an integer"},
      {"{\"id\":1,\"time\":\"5\"}", "'time' must be an integer"},
      {"{\"id\":1,\"time\":1099511627777}", "'time' must be an integer"},
  };
  char err[256];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(eng_try(&e, bad[i].ev, err, sizeof err), QP_EINVAL);
    assert_non_null(strstr(err, bad[i].err));
  }
  eng_decide(&e, "{\"id\":1,\"time\":1099511627776,\"p\":\"k\"}");
  assert_int_equal(feat(&e, 0), 1); /* refused events were not counted */
  eng_close(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_window_edges),
      cmocka_unit_test(test_idle_keys_dropped),
      cmocka_unit_test(test_distinct_exact_then_estimate),
      cmocka_unit_test(test_lattice_and_thresholds),
      cmocka_unit_test(test_lists),
      cmocka_unit_test(test_overflow_and_errors),
      cmocka_unit_test(test_absent_and_types),
      cmocka_unit_test(test_bad_events),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
