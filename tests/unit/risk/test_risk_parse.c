/*
 * test_risk_parse.c - the ruleset parser: the example of issue 15 compiles;
 * every error message names its line and column and what was expected; a
 * bad ruleset gives no ruleset at all; one run reports every bad line.
 */
#include <stdio.h>
#include <string.h>

#include "risk/risk.h"
#include "test_util.h"

static const char EXAMPLE[] =
    "list blocked_payees set            # strings, managed over the API\n"
    "list bad_ips cidr                  # IPv4/IPv6 prefixes\n"
    "feature tx_1h      = count by payer over 1h\n"
    "feature spent_24h  = sum(amount) by payer over 24h\n"
    "feature payees_1d  = distinct(payee) by payer over 1d\n"
    "rule big_to_many: amount >= 1000000 and payees_1d >= 5 => review score 30 \"large amount, "
    "many payees\"\n"
    "rule velocity:    tx_1h > 20 => challenge score 20\n"
    "rule blocked:     payee in blocked_payees or ip in bad_ips => block \"blocked party\"\n"
    "threshold score >= 80 => block\n"
    "threshold score >= 50 => review\n";

static void test_example_compiles(void **state) {
  (void)state;
  qp_risk_ruleset_t *rs;
  qp_risk_errors_t errs;
  assert_int_equal(qp_risk_compile(EXAMPLE, strlen(EXAMPLE), &rs, &errs), 0);
  assert_int_equal(qp_risk_ruleset_rules(rs), 3);
  assert_int_equal(qp_risk_ruleset_features(rs), 3);
  assert_int_equal(strlen(qp_risk_ruleset_hash(rs)), 64);
  char hash[65];
  memcpy(hash, qp_risk_ruleset_hash(rs), 65);
  qp_risk_ruleset_free(rs);
  /* The hash is the text's: one more space changes it; the same text gives it again. */
  char other[sizeof EXAMPLE + 1];
  memcpy(other, EXAMPLE, sizeof EXAMPLE - 1);
  other[sizeof EXAMPLE - 1] = ' ';
  assert_int_equal(qp_risk_compile(other, sizeof EXAMPLE, &rs, &errs), 0);
  assert_string_not_equal(qp_risk_ruleset_hash(rs), hash);
  qp_risk_ruleset_free(rs);
  assert_int_equal(qp_risk_compile(EXAMPLE, strlen(EXAMPLE), &rs, &errs), 0);
  assert_string_equal(qp_risk_ruleset_hash(rs), hash);
  qp_risk_ruleset_free(rs);
}

/* Compiles text and checks its single error: line, column and a part of the
 * message. */
static void expect_error(const char *text, uint32_t line, uint32_t column, const char *part) {
  qp_risk_ruleset_t *rs = (qp_risk_ruleset_t *)1;
  qp_risk_errors_t errs;
  int rc = qp_risk_compile(text, strlen(text), &rs, &errs);
  if (rc != QP_EPARSE || errs.count != 1 || errs.items[0].line != line ||
      errs.items[0].column != column || strstr(errs.items[0].message, part) == NULL)
    fail_msg("for <%s>: rc %d, %u errors, first %u:%u %s; wanted %u:%u '%s'", text, rc,
             errs.count, errs.count ? errs.items[0].line : 0, errs.count ? errs.items[0].column : 0,
             errs.count ? errs.items[0].message : "", line, column, part);
  assert_null(rs);
}

static void test_declaration_errors(void **state) {
  (void)state;
  expect_error("bogus", 1, 1, "expected a declaration ('list', 'feature', 'rule' or 'threshold')");
  expect_error("\n\n  list a set extra", 3, 14, "expected end of line, found 'extra'");
  expect_error("list 5 set", 1, 6, "expected a list name, found '5'");
  expect_error("list and set", 1, 6, "expected a list name, found 'and'");
  expect_error("list a sett", 1, 8, "expected a list kind ('set' or 'cidr'), found 'sett'");
  expect_error("list a", 1, 7, "expected a list kind ('set' or 'cidr'), found end of line");
  expect_error("list a set\nlist a cidr", 2, 6, "'a' is already declared");
  expect_error("rule r: x > 1 => block\nfeature x = count by p over 1h", 2, 9,
               "'x' is already used as an event field above");
  expect_error("rule r: x > 1 => block\nrule r: y > 1 => block", 2, 6, "'r' is already declared");
  expect_error("feature f = avg by p over 1h", 1, 13, "expected a feature kind");
  expect_error("feature f count by p over 1h", 1, 11, "expected '=', found 'count'");
  expect_error("feature f = sum amount by p over 1h", 1, 17, "expected '(', found 'amount'");
  expect_error("feature f = sum(1) by p over 1h", 1, 17, "expected a field name, found '1'");
  expect_error("feature f = sum(a by p over 1h", 1, 19, "expected ')', found 'by'");
  expect_error("feature f = count per p over 1h", 1, 19, "expected 'by', found 'per'");
  expect_error("feature f = count by 5 over 1h", 1, 22, "expected a field name after 'by'");
  expect_error("feature f = count by p 1h", 1, 24, "expected 'over', found '1h'");
  expect_error("feature f = count by p over 1x", 1, 29, "expected a duration (Ns, Nm, Nh or Nd)");
  expect_error("feature f = count by p over h", 1, 29, "expected a duration");
  expect_error("feature f = count by p over 90s", 1, 29, "multiple of 60 s, found '90s'");
  expect_error("feature f = count by p over 0m", 1, 29, "multiple of 60 s");
  expect_error("feature f = count by p over 31d", 1, 29, "at most 30d, found '31d'");
  expect_error("feature f = count by p over 721h", 1, 29, "at most 30d");
  expect_error("threshold s >= 1 => block", 1, 11, "expected 'score', found 's'");
  expect_error("threshold score ~ 1 => block", 1, 17, "expected a comparison");
  expect_error("threshold score >= x => block", 1, 20, "expected an integer, found 'x'");
  expect_error("threshold score >= 1 block", 1, 22, "expected '=>' after the comparison");
  expect_error("threshold score >= 1 => allow", 1, 25, "expected an outcome ('challenge', "
                                                       "'review' or 'block'), found 'allow'");
}

static void test_rule_errors(void **state) {
  (void)state;
  expect_error("rule : x > 1 => block", 1, 6, "expected a rule name, found ':'");
  expect_error("rule r x > 1 => block", 1, 8, "expected ':' after the rule name, found 'x'");
  expect_error("rule r: > 1 => block", 1, 9, "expected a value (a number, a string, a field");
  expect_error("rule r: and > 1 => block", 1, 9, "expected a value, found 'and'");
  expect_error("rule r: x => block", 1, 9, "expected a condition (a comparison, 'in', 'not'");
  expect_error("rule r: x > 1 and y => block", 1, 19, "expected a condition");
  expect_error("rule r: not x => block", 1, 13, "expected a condition");
  expect_error("rule r: (x > 1) + 1 > 2 => block", 1, 9, "expected a value, found a condition");
  expect_error("rule r: \"a\" + 1 > 2 => block", 1, 9, "expected an integer, found a string");
  expect_error("rule r: -\"a\" > 2 => block", 1, 10, "expected an integer, found a string");
  expect_error("rule r: \"a\" = 1 => block", 1, 9, "cannot compare a string with an integer");
  expect_error("rule r: (x > 1 => block", 1, 16, "expected ')', found '=>'");
  expect_error("rule r: x in => block", 1, 14, "expected a list name after 'in', found '=>'");
  expect_error("rule r: x in nolist => block", 1, 14, "expected a declared list, found 'nolist'");
  expect_error("list l set\nrule r: l = 1 => block", 2, 9,
               "expected a value, found the list 'l' (use 'in')");
  expect_error("rule r: x > 9223372036854775808 => block", 1, 13, "integer out of range");
  expect_error("rule r: x > 5m => block", 1, 13, "expected an integer, found '5m'");
  expect_error("rule r: x > 1 block", 1, 15, "expected '=>' after the condition, found 'block'");
  expect_error("rule r: x > 1 =>", 1, 17, "expected an outcome");
  expect_error("rule r: x > 1 => allow", 1, 18, "found 'allow'");
  expect_error("rule r: x > 1 => block score 1000001", 1, 30, "from 0 to 1000000");
  expect_error("rule r: x > 1 => block score -1", 1, 30, "from 0 to 1000000");
  expect_error("rule r: x > 1 => block score x", 1, 30, "expected an integer, found 'x'");
  expect_error("rule r: x > 1 => block 5", 1, 24, "expected 'score', a reason string or end");
  expect_error("rule r: x > 1 => block \"a\" \"b\"", 1, 28, "expected end of line, found '\"b\"'");
  expect_error("rule r: x = \"a\\n\" => block", 1, 15, "expected \\\" or \\\\ in a string");
  expect_error("rule r: x = \"abc => block", 1, 13, "found an unclosed string");
  expect_error("rule r: x > 1 @", 1, 15, "found '@'");
  expect_error("rule r: x < y < z => block", 1, 15, "expected '=>' after the condition");
}

static void test_limits(void **state) {
  (void)state;
  char text[8192];
  int n = snprintf(text, sizeof text, "rule r: ");
  for (int i = 0; i < 60; i++) n += snprintf(text + n, sizeof text - (size_t)n, "(");
  snprintf(text + n, sizeof text - (size_t)n, "x > 1");
  expect_error(text, 1, 57, "nested too deep (at most 48 levels)");
  n = snprintf(text, sizeof text, "rule r: x = 1");
  for (int i = 0; i < 700; i++) n += snprintf(text + n, sizeof text - (size_t)n, " + 1");
  snprintf(text + n, sizeof text - (size_t)n, " => block");
  qp_risk_ruleset_t *rs;
  qp_risk_errors_t errs;
  assert_int_equal(qp_risk_compile(text, strlen(text), &rs, &errs), QP_EPARSE);
  assert_non_null(strstr(errs.items[0].message, "rule too long (at most 1024 operations)"));
  n = snprintf(text, sizeof text, "rule r: x = ");
  for (int i = 0; i < 40; i++) n += snprintf(text + n, sizeof text - (size_t)n, "1 + 1 * (");
  snprintf(text + n, sizeof text - (size_t)n, "1");
  assert_int_equal(qp_risk_compile(text, strlen(text), &rs, &errs), QP_EPARSE);
  assert_non_null(strstr(errs.items[0].message, "expression too deep (at most 64 values"));
  memset(text, ' ', 5000);
  text[5000] = '\0';
  expect_error(text, 1, 1, "line longer than 4096 bytes");
  n = snprintf(text, sizeof text, "rule r: x = \"");
  memset(text + n, 'a', 1100);
  snprintf(text + n + 1100, sizeof text - (size_t)n - 1100, "\" => block");
  expect_error(text, 1, 13, "string longer than 1024 bytes");
}

static void test_every_bad_line_reported(void **state) {
  (void)state;
  char text[16384];
  int n = 0;
  for (int i = 0; i < 150; i++) n += snprintf(text + n, sizeof text - (size_t)n, "bad %d\n", i);
  qp_risk_ruleset_t *rs;
  qp_risk_errors_t errs;
  assert_int_equal(qp_risk_compile(text, (size_t)n, &rs, &errs), QP_EPARSE);
  assert_int_equal(errs.count, 100);
  assert_int_equal(errs.more, 50);
  assert_int_equal(errs.items[99].line, 100);
  const char two[] = "rule a: x > => block\n# fine\nrule b: y > 1 => review\nrule c: => block\n";
  assert_int_equal(qp_risk_compile(two, strlen(two), &rs, &errs), QP_EPARSE);
  assert_int_equal(errs.count, 2);
  assert_int_equal(errs.items[0].line, 1);
  assert_int_equal(errs.items[1].line, 4);
  /* Comments, blank lines, CRLF, # inside a string, the most negative literal. */
  const char ok[] = "# a comment\r\n\r\n  \t\nrule a: x = \"#1\" or y > -9223372036854775808 "
                    "=> block # trailing\r\nrule b: not not (x = \"a\\\"b\\\\\") => challenge\n";
  assert_int_equal(qp_risk_compile(ok, strlen(ok), &rs, &errs), 0);
  assert_int_equal(qp_risk_ruleset_rules(rs), 2);
  qp_risk_ruleset_free(rs);
  assert_int_equal(qp_risk_compile("", 0, &rs, &errs), 0);
  assert_int_equal(qp_risk_ruleset_rules(rs), 0);
  qp_risk_ruleset_free(rs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_example_compiles),
      cmocka_unit_test(test_declaration_errors),
      cmocka_unit_test(test_rule_errors),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_every_bad_line_reported),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
