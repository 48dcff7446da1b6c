/*
 * test_risk_state.c - feature state across rulesets and restarts: a swap
 * carries the windows of unchanged features (and only those); a snapshot
 * saved and loaded gives the same decisions afterwards as never stopping,
 * for count, sum and distinct (exact and estimating); altered snapshot
 * bytes are refused; snoozed rules are evaluated but never fire; list
 * checks change nothing; list items read back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/rng.h"
#include "risk/risk.h"
#include "test_util.h"

static const char *RULES_A =
    "feature n = count by payer over 1h\n"
    "feature s = sum(amount) by payer over 1d\n"
    "feature d = distinct(payee) by payer over 1h\n"
    "rule many: n > 3 => review score 10\n"
    "rule wide: d >= 3 => challenge\n";
/* n unchanged, s changed (window), d unchanged, a new feature. */
static const char *RULES_B =
    "feature d = distinct(payee) by payer over 1h\n"
    "feature s = sum(amount) by payer over 2d\n"
    "feature n = count by payer over 1h\n"
    "feature c = count by payee over 1h\n"
    "rule many: n > 3 => block\n";

static qp_risk_ruleset_t *compile(const char *text) {
  qp_risk_ruleset_t *rs = NULL;
  qp_risk_errors_t errs;
  assert_int_equal(qp_risk_compile(text, strlen(text), &rs, &errs), 0);
  return rs;
}

static void decide(qp_risk_ruleset_t *rs, qp_risk_state_t *st, qp_risk_decision_t *d, int i,
                   int64_t t, const char *payer, int payee, int amount) {
  char p[16], err[200];
  snprintf(p, sizeof p, "p%d", payee);
  json_t *e = json_pack("{s:i, s:I, s:s, s:s, s:i}", "id", i, "time", (json_int_t)t, "payer",
                        payer, "payee", p, "amount", amount);
  assert_int_equal(qp_risk_decide(rs, st, e, d, err, sizeof err), 0);
  json_decref(e);
}

static void test_carry_keeps_unchanged_features(void **unused) {
  (void)unused;
  qp_risk_ruleset_t *a = compile(RULES_A), *b = compile(RULES_B);
  qp_risk_lists_t *lists;
  qp_risk_state_t *sa, *sb;
  qp_risk_decision_t da, db;
  assert_int_equal(qp_risk_lists_new(&lists), 0);
  assert_int_equal(qp_risk_state_new(a, lists, &sa), 0);
  assert_int_equal(qp_risk_state_new(b, lists, &sb), 0);
  assert_int_equal(qp_risk_decision_init(&da, a), 0);
  assert_int_equal(qp_risk_decision_init(&db, b), 0);
  for (int i = 0; i < 5; i++) decide(a, sa, &da, i, 1000 + i, "alice", i, 100);
  assert_int_equal(qp_risk_state_carry(sb, sa), 2); /* n and d */
  decide(b, sb, &db, 9, 1010, "alice", 7, 5);
  assert_int_equal(db.features[2].value, 6);  /* n: 5 before + this one */
  assert_int_equal(db.features[0].value, 6);  /* d: payees 0..4 and 7 */
  assert_int_equal(db.features[1].value, 5);  /* s: a new window (definition changed) */
  assert_int_equal(db.features[3].value, 1);  /* c: new */
  assert_int_equal(db.fired_count, 1);
  assert_int_equal(db.decision, QP_RISK_BLOCK);
  /* The old state lost what it gave: its n starts again. */
  decide(a, sa, &da, 10, 1011, "alice", 1, 1);
  assert_int_equal(da.features[0].value, 1);
  assert_int_equal(da.features[1].value, 501); /* s stayed with a */
  qp_risk_decision_deinit(&da);
  qp_risk_decision_deinit(&db);
  qp_risk_state_free(sa);
  qp_risk_state_free(sb);
  qp_risk_lists_free(lists);
  qp_risk_ruleset_free(a);
  qp_risk_ruleset_free(b);
}

/* Two features with one definition: each keeps its own windows. */
static void test_carry_twins(void **unused) {
  (void)unused;
  const char *text = "feature a = count by payer over 1h\nfeature b = count by payer over 1h\n"
                     "rule r: a > 100 => review\n";
  qp_risk_ruleset_t *x = compile(text), *y = compile(text);
  qp_risk_lists_t *lists;
  qp_risk_state_t *sx, *sy;
  qp_risk_decision_t dx, dy;
  assert_int_equal(qp_risk_lists_new(&lists), 0);
  assert_int_equal(qp_risk_state_new(x, lists, &sx), 0);
  assert_int_equal(qp_risk_state_new(y, lists, &sy), 0);
  assert_int_equal(qp_risk_decision_init(&dx, x), 0);
  assert_int_equal(qp_risk_decision_init(&dy, y), 0);
  for (int i = 0; i < 3; i++) decide(x, sx, &dx, i, 50, "p", i, 1);
  assert_int_equal(qp_risk_state_carry(sy, sx), 2);
  decide(y, sy, &dy, 9, 60, "p", 1, 1);
  assert_int_equal(dy.features[0].value, 4);
  assert_int_equal(dy.features[1].value, 4);
  qp_buf_t b = {.max = 1 << 20};
  uint32_t loaded = 0;
  assert_int_equal(qp_risk_state_save(sy, &b), 0);
  qp_risk_state_free(sx);
  assert_int_equal(qp_risk_state_new(x, lists, &sx), 0);
  assert_int_equal(qp_risk_state_load(sx, (const uint8_t *)b.data, b.len, &loaded), 0);
  assert_int_equal(loaded, 2);
  decide(x, sx, &dx, 10, 61, "p", 1, 1);
  assert_int_equal(dx.features[0].value, 5);
  assert_int_equal(dx.features[1].value, 5);
  qp_buf_free(&b);
  qp_risk_decision_deinit(&dx);
  qp_risk_decision_deinit(&dy);
  qp_risk_state_free(sx);
  qp_risk_state_free(sy);
  qp_risk_lists_free(lists);
  qp_risk_ruleset_free(x);
  qp_risk_ruleset_free(y);
}

/* Two states fed the same events; one is saved and reloaded half way: the
 * decisions after that must be identical, feature by feature. */
static void test_snapshot_round_trip(void **unused) {
  (void)unused;
  qp_risk_ruleset_t *rs = compile(RULES_A);
  qp_risk_lists_t *lists;
  qp_risk_state_t *ref, *st;
  qp_risk_decision_t dr, ds;
  assert_int_equal(qp_risk_lists_new(&lists), 0);
  assert_int_equal(qp_risk_state_new(rs, lists, &ref), 0);
  assert_int_equal(qp_risk_state_new(rs, lists, &st), 0);
  assert_int_equal(qp_risk_decision_init(&dr, rs), 0);
  assert_int_equal(qp_risk_decision_init(&ds, rs), 0);
  qp_rng_t rng;
  qp_rng_seed(&rng, 42);
  for (int i = 0; i < 40000; i++) {
    char payer[16];
    /* "big" sees 2,000 payees in an hour: its distinct goes estimating. */
    snprintf(payer, sizeof payer, i % 3 == 0 ? "big" : "p%u", (unsigned)qp_rng_below(&rng, 300));
    int payee = (int)qp_rng_below(&rng, i % 3 == 0 ? 2000 : 7);
    int64_t t = 1000000 + i / 10;
    int amount = (int)qp_rng_below(&rng, 1000);
    decide(rs, ref, &dr, i, t, payer, payee, amount);
    decide(rs, st, &ds, i, t, payer, payee, amount);
    if (i == 25000) {
      qp_buf_t b = {.max = (size_t)1 << 30};
      uint32_t loaded = 0;
      assert_int_equal(qp_risk_state_save(ref, &b), 0);
      qp_risk_state_free(st);
      assert_int_equal(qp_risk_state_new(rs, lists, &st), 0);
      assert_int_equal(qp_risk_state_load(st, (const uint8_t *)b.data, b.len, &loaded), 0);
      assert_int_equal(loaded, 3);
      qp_buf_free(&b);
    }
    if (i > 25000) {
      assert_int_equal(dr.decision, ds.decision);
      for (int f = 0; f < 3; f++) assert_int_equal(dr.features[f].value, ds.features[f].value);
    }
  }
  qp_risk_decision_deinit(&dr);
  qp_risk_decision_deinit(&ds);
  qp_risk_state_free(ref);
  qp_risk_state_free(st);
  qp_risk_lists_free(lists);
  qp_risk_ruleset_free(rs);
}

static void test_snapshot_altered_is_refused(void **unused) {
  (void)unused;
  qp_risk_ruleset_t *rs = compile(RULES_A);
  qp_risk_lists_t *lists;
  qp_risk_state_t *st;
  qp_risk_decision_t d;
  assert_int_equal(qp_risk_lists_new(&lists), 0);
  assert_int_equal(qp_risk_state_new(rs, lists, &st), 0);
  assert_int_equal(qp_risk_decision_init(&d, rs), 0);
  for (int i = 0; i < 50; i++) decide(rs, st, &d, i, 500 + i, i % 2 ? "a" : "b", i, 3);
  qp_buf_t b = {.max = 1 << 24};
  assert_int_equal(qp_risk_state_save(st, &b), 0);
  uint8_t *bytes = (uint8_t *)b.data;
  for (size_t k = 0; k < b.len; k += 7) {
    bytes[k] ^= 0x10;
    qp_risk_state_t *fresh;
    uint32_t loaded;
    assert_int_equal(qp_risk_state_new(rs, lists, &fresh), 0);
    assert_int_equal(qp_risk_state_load(fresh, bytes, b.len, &loaded), QP_ECORRUPT);
    qp_risk_state_free(fresh);
    bytes[k] ^= 0x10;
  }
  for (size_t cut = 0; cut < b.len; cut += 13) {
    qp_risk_state_t *fresh;
    uint32_t loaded;
    assert_int_equal(qp_risk_state_new(rs, lists, &fresh), 0);
    assert_int_equal(qp_risk_state_load(fresh, bytes, cut, &loaded), QP_ECORRUPT);
    qp_risk_state_free(fresh);
  }
  qp_buf_free(&b);
  qp_risk_decision_deinit(&d);
  qp_risk_state_free(st);
  qp_risk_lists_free(lists);
  qp_risk_ruleset_free(rs);
}

static void test_snooze_skips_firing(void **unused) {
  (void)unused;
  qp_risk_ruleset_t *rs = compile(RULES_A);
  qp_risk_lists_t *lists;
  qp_risk_state_t *st;
  qp_risk_decision_t d;
  assert_int_equal(qp_risk_lists_new(&lists), 0);
  assert_int_equal(qp_risk_state_new(rs, lists, &st), 0);
  assert_int_equal(qp_risk_decision_init(&d, rs), 0);
  uint8_t skip[2] = {1, 0}; /* "many" snoozed */
  d.skip = skip;
  for (int i = 0; i < 5; i++) decide(rs, st, &d, i, 100, "a", i, 1);
  assert_int_equal(d.decision, QP_RISK_CHALLENGE); /* wide only */
  assert_int_equal(d.fired_count, 1);
  assert_int_equal(d.snoozed_count, 1);
  assert_int_equal(d.snoozed[0].rule, 0);
  assert_int_equal(d.score, 0);
  json_t *j = qp_risk_decision_json(rs, &d, NULL);
  assert_string_equal(json_string_value(json_array_get(json_object_get(j, "snoozed"), 0)),
                      "many");
  json_decref(j);
  d.skip = NULL;
  decide(rs, st, &d, 6, 100, "a", 1, 1);
  assert_int_equal(d.decision, QP_RISK_REVIEW);
  assert_int_equal(d.snoozed_count, 0);
  qp_risk_decision_deinit(&d);
  qp_risk_state_free(st);
  qp_risk_lists_free(lists);
  qp_risk_ruleset_free(rs);
}

static void test_list_check_info_items(void **unused) {
  (void)unused;
  qp_risk_lists_t *lists;
  char err[200], item[80];
  assert_int_equal(qp_risk_lists_new(&lists), 0);
  assert_int_equal(qp_risk_lists_declare(lists, "ips", QP_RISK_LIST_CIDR, err, sizeof err), 0);
  assert_int_equal(qp_risk_lists_declare(lists, "names", QP_RISK_LIST_SET, err, sizeof err), 0);
  assert_int_equal(qp_risk_list_check(lists, "ips", "10.0.0.0/33", err, sizeof err), QP_EINVAL);
  assert_non_null(strstr(err, "10.0.0.0/33"));
  assert_int_equal(qp_risk_list_check(lists, "nope", "x", err, sizeof err), QP_ENOTFOUND);
  assert_int_equal(qp_risk_list_check(lists, "ips", "2001:db8::/32", err, sizeof err), 0);
  assert_int_equal(qp_risk_list_check(lists, "names", "anything", err, sizeof err), 0);
  qp_risk_list_kind_t kind;
  uint64_t size = 9;
  assert_int_equal(qp_risk_list_info(lists, "ips", &kind, &size), 0);
  assert_int_equal(size, 0); /* check changed nothing */
  assert_int_equal(qp_risk_list_update(lists, "ips", "10.1.2.3/8", true, err, sizeof err), 0);
  assert_int_equal(qp_risk_list_update(lists, "ips", "2001:db8::1", true, err, sizeof err), 0);
  assert_int_equal(qp_risk_list_item(lists, "ips", 0, item, sizeof item), 0);
  assert_string_equal(item, "10.0.0.0/8");
  assert_int_equal(qp_risk_list_item(lists, "ips", 1, item, sizeof item), 0);
  assert_string_equal(item, "2001:db8::1/128");
  assert_int_equal(qp_risk_list_item(lists, "ips", 2, item, sizeof item), QP_ENOTFOUND);
  assert_string_equal(qp_risk_lists_name(lists, 1), "names");
  assert_null(qp_risk_lists_name(lists, 2));
  qp_risk_lists_free(lists);
}

/* qp_risk_decision_text gives the bytes json_dumps gives for the decision
 * object: ids of both kinds (with characters to escape), null features,
 * evaluation errors, snoozed rules, reasons with quotes and non-ASCII. */
static void test_text_equals_json(void **unused) {
  (void)unused;
  const char *src = "feature n = count by payer over 1h\n"
                    "feature s = sum(amount) by payer over 1h\n"
                    "rule r1: n >= 1 => review score 3 \"say \\\"hi\\\" caf\xc3\xa9\"\n"
                    "rule r2: amount * 2 > 10 => challenge\n"
                    "rule r3: n >= 2 => block\n";
  qp_risk_ruleset_t *rs = compile(src);
  qp_risk_lists_t *lists;
  qp_risk_state_t *st;
  qp_risk_decision_t d;
  assert_int_equal(qp_risk_lists_new(&lists), 0);
  assert_int_equal(qp_risk_state_new(rs, lists, &st), 0);
  assert_int_equal(qp_risk_decision_init(&d, rs), 0);
  static const char *const events[] = {
      "{\"id\":\"a\\\"b\\n\",\"time\":5,\"payer\":\"p\",\"amount\":7}",
      "{\"id\":-12,\"time\":6,\"payer\":\"p\",\"amount\":\"x\"}",
      "{\"id\":\"no-payer\",\"time\":7,\"amount\":9223372036854775807}",
  };
  uint8_t skip[3] = {0, 0, 1};
  for (size_t k = 0; k < 3; k++) {
    char err[200];
    json_t *e = json_loads(events[k], 0, NULL);
    assert_non_null(e);
    d.skip = k == 1 ? skip : NULL;
    assert_int_equal(qp_risk_decide(rs, st, e, &d, err, sizeof err), 0);
    json_t *o = qp_risk_decision_json(rs, &d, e);
    char *want = json_dumps(o, JSON_COMPACT);
    qp_buf_t b = {.max = 1 << 20};
    assert_int_equal(qp_risk_decision_text(rs, &d, e, &b), 0);
    assert_string_equal(b.data, want);
    free(want);
    json_decref(o);
    json_decref(e);
    qp_buf_free(&b);
  }
  qp_risk_decision_deinit(&d);
  qp_risk_state_free(st);
  qp_risk_lists_free(lists);
  qp_risk_ruleset_free(rs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_carry_keeps_unchanged_features),
      cmocka_unit_test(test_carry_twins),
      cmocka_unit_test(test_snapshot_round_trip),
      cmocka_unit_test(test_snapshot_altered_is_refused),
      cmocka_unit_test(test_snooze_skips_firing),
      cmocka_unit_test(test_list_check_info_items),
      cmocka_unit_test(test_text_equals_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
