/*
 * test_settle_plan.c - the settlement agent's pure core: transfer ids are
 * SHA-256 of exactly the documented bytes (checked against OpenSSL's
 * SHA-256, computed here independently), differ for every input and are
 * never 0; a record and a map become one linked chain with the map's
 * accounts; every malformed record or map is refused naming the field; a
 * participant missing from the map is QP_ENOTFOUND; the ledger's answers
 * read as paid, short, "look it up" or refused; a lookup proves a payment
 * only when every planned transfer is there as planned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "apps/settle_plan.h"
#include "base/err.h"
#include "test_util.h"

static const uint8_t GENESIS[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
static const char CORE[] = "aa01", T1[] = "bb02", T2[] = "cc03", BANK[] = "dd04";

static json_t *parse(const char *text) {
  json_error_t e;
  json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &e);
  assert_non_null(v);
  return v;
}

static json_t *test_map(void) {
  return parse("{\"aa01\":{\"7\":\"100\"},\"bb02\":{\"7\":\"201\",\"8\":\"202\"},"
               "\"cc03\":{\"7\":\"300\"},\"dd04\":{\"7\":\"400\"}}");
}

/* A maturity record: core pays T1 500 and T2 250 on ledger 7. */
static json_t *test_record(void) {
  char text[1024];
  snprintf(text, sizeof text,
           "{\"type\":\"settlement_requested\",\"settlement\":\"mat-v1-1\",\"kind\":\"maturity\","
           "\"ledger\":7,\"status\":\"pending\",\"height\":9,\"transfers\":[],\"payments\":["
           "{\"index\":0,\"from\":\"%s\",\"to\":\"%s\",\"amount\":\"500\",\"voucher\":\"v3\"},"
           "{\"index\":1,\"from\":\"%s\",\"to\":\"%s\",\"amount\":\"250\",\"voucher\":\"v4\"}]}",
           CORE, T1, CORE, T2);
  return parse(text);
}

/* The documented derivation, computed with OpenSSL. */
static qp_u128 reference_id(const uint8_t genesis[32], const char *id, uint32_t index) {
  uint8_t msg[256], digest[32];
  size_t n = 0;
  memcpy(msg, "quipu-settle-v1", 15);
  n += 15;
  memcpy(msg + n, genesis, 32);
  n += 32;
  memcpy(msg + n, id, strlen(id));
  n += strlen(id);
  for (int i = 0; i < 4; i++) msg[n++] = (uint8_t)(index >> (8 * i));
  unsigned int len = 0;
  assert_int_equal(EVP_Digest(msg, n, digest, &len, EVP_sha256(), NULL), 1);
  qp_u128 v = 0;
  for (int i = 15; i >= 0; i--) v = (v << 8) | digest[i];
  return v;
}

static void test_transfer_ids(void **state) {
  (void)state;
  uint8_t other[32];
  memcpy(other, GENESIS, 32);
  other[31] ^= 1;
  qp_u128 a = qp_settle_transfer_id(GENESIS, "mat-v1-1", 0);
  assert_true(a == reference_id(GENESIS, "mat-v1-1", 0));
  assert_true(a == qp_settle_transfer_id(GENESIS, "mat-v1-1", 0)); /* deterministic */
  assert_true(a != qp_settle_transfer_id(GENESIS, "mat-v1-1", 1));
  assert_true(a != qp_settle_transfer_id(GENESIS, "mat-v1-2", 0));
  assert_true(a != qp_settle_transfer_id(other, "mat-v1-1", 0));
  char id[32];
  for (uint32_t i = 0; i < 2000; i++) {
    snprintf(id, sizeof id, "fin-v%u", i);
    qp_u128 v = qp_settle_transfer_id(GENESIS, id, i % 7);
    assert_true(v == reference_id(GENESIS, id, i % 7));
    assert_true(v != 0 && v != QP_U128_MAX);
  }
}

static void test_map_check(void **state) {
  (void)state;
  char detail[512];
  json_t *good = test_map();
  assert_int_equal(qp_settle_map_check(good, detail, sizeof detail), 0);
  json_decref(good);
  static const struct {
    const char *text, *says;
  } bad[] = {
      {"[]", "JSON object"},
      {"{\"AA01\":{\"7\":\"1\"}}", "lower-case hex"},
      {"{\"a\":{\"7\":\"1\"}}", "lower-case hex"},
      {"{\"aa01\":{}}", "ledger -> account"},
      {"{\"aa01\":\"7\"}", "ledger -> account"},
      {"{\"aa01\":{\"0\":\"1\"}}", "is not a ledger"},
      {"{\"aa01\":{\"4294967296\":\"1\"}}", "is not a ledger"},
      {"{\"aa01\":{\"07\":\"1\"}}", "is not a ledger"},
      {"{\"aa01\":{\"7\":\"0\"}}", "account id"},
      {"{\"aa01\":{\"7\":1}}", "account id"},
      {"{\"aa01\":{\"7\":\"01\"}}", "account id"},
      {"{\"aa01\":{\"7\":\"-1\"}}", "account id"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_t *m = parse(bad[i].text);
    detail[0] = '\0';
    assert_int_equal(qp_settle_map_check(m, detail, sizeof detail), QP_EINVAL);
    if (strstr(detail, bad[i].says) == NULL) fail_msg("%s: %s", bad[i].text, detail);
    json_decref(m);
  }
}

static void test_plan_makes_one_linked_chain(void **state) {
  (void)state;
  json_t *map = test_map(), *record = test_record();
  qp_settle_plan_t plan;
  char detail[512];
  assert_int_equal(qp_settle_plan_make(record, map, GENESIS, &plan, detail, sizeof detail), 0);
  assert_string_equal(plan.settlement, "mat-v1-1");
  assert_true(plan.maturity);
  assert_int_equal(plan.ledger, 7);
  assert_int_equal(plan.count, 2);
  assert_true(plan.payments[1].debit_account == 100 && plan.payments[1].credit_account == 300);
  json_t *batch = qp_settle_plan_transfers(&plan);
  assert_int_equal(json_array_size(batch), 2);
  json_t *t0 = json_array_get(batch, 0), *t1 = json_array_get(batch, 1);
  assert_string_equal(json_string_value(json_array_get(json_object_get(t0, "flags"), 0)),
                      "linked");
  assert_null(json_object_get(t1, "flags")); /* the chain closes on the last */
  assert_string_equal(json_string_value(json_object_get(t0, "debit_account_id")), "100");
  assert_string_equal(json_string_value(json_object_get(t0, "credit_account_id")), "201");
  assert_string_equal(json_string_value(json_object_get(t1, "amount")), "250");
  assert_int_equal(json_integer_value(json_object_get(t1, "code")), QP_SETTLE_CODE_MATURITY);
  char id[QP_U128_BUF_SIZE];
  qp_u128_format(reference_id(GENESIS, "mat-v1-1", 1), id);
  assert_string_equal(json_string_value(json_object_get(t1, "id")), id);
  json_t *confirm = qp_settle_plan_confirm_args(&plan);
  assert_string_equal(json_string_value(json_object_get(confirm, "settlement")), "mat-v1-1");
  assert_string_equal(json_string_value(json_array_get(json_object_get(confirm, "transfers"),
                                                       1)), id);
  json_decref(confirm);
  json_decref(batch);
  qp_settle_plan_free(&plan);
  json_decref(record);
  json_decref(map);
}

static void test_finance_record(void **state) {
  (void)state;
  char text[512];
  snprintf(text, sizeof text,
           "{\"settlement\":\"fin-v5\",\"kind\":\"finance\",\"ledger\":7,"
           "\"status\":\"pending\",\"payments\":[{\"index\":0,\"from\":\"%s\","
           "\"to\":\"%s\",\"amount\":\"97\",\"voucher\":\"v5\"}]}", BANK, T2);
  json_t *map = test_map(), *record = parse(text);
  qp_settle_plan_t plan;
  char detail[256];
  assert_int_equal(qp_settle_plan_make(record, map, GENESIS, &plan, detail, sizeof detail), 0);
  assert_false(plan.maturity);
  json_t *batch = qp_settle_plan_transfers(&plan);
  json_t *t = json_array_get(batch, 0);
  assert_null(json_object_get(t, "flags")); /* a chain of one is not linked */
  assert_int_equal(json_integer_value(json_object_get(t, "code")), QP_SETTLE_CODE_FINANCE);
  assert_string_equal(json_string_value(json_object_get(t, "debit_account_id")), "400");
  assert_string_equal(json_string_value(json_object_get(t, "credit_account_id")), "300");
  json_decref(batch);
  qp_settle_plan_free(&plan);
  json_decref(record);
  json_decref(map);
}

/* The record with field set to value (JSON text; NULL deletes it). */
static json_t *record_with(const char *field, const char *value) {
  json_t *r = test_record();
  if (value == NULL) json_object_del(r, field);
  else json_object_set_new(r, field, parse(value));
  return r;
}

static void test_bad_records_name_the_field(void **state) {
  (void)state;
  static const struct {
    const char *field, *value, *says;
    int rc;
  } bad[] = {
      {"settlement", NULL, "settlement", QP_EINVAL},
      {"settlement", "[\"\"]", "settlement", QP_EINVAL},
      {"kind", "[\"other\"]", "kind", QP_EINVAL},
      {"ledger", "[0]", "ledger", QP_EINVAL},
      {"ledger", "[4294967296]", "ledger", QP_EINVAL},
      {"status", NULL, "status", QP_EINVAL},
      {"payments", "[]", "payments", QP_EINVAL},
      {"payments", "[{\"index\":1,\"from\":\"aa01\",\"to\":\"bb02\",\"amount\":\"5\"}]",
       "payments[0]", QP_EINVAL},
      {"payments", "[{\"index\":0,\"from\":\"aa01\",\"to\":\"bb02\",\"amount\":\"0\"}]",
       "payments[0].amount", QP_EINVAL},
      {"payments", "[{\"index\":0,\"from\":\"aa01\",\"to\":\"bb02\",\"amount\":5}]",
       "payments[0].amount", QP_EINVAL},
      {"payments", "[{\"index\":0,\"from\":\"zz\",\"to\":\"bb02\",\"amount\":\"5\"}]",
       "payments[0].from", QP_EINVAL},
      {"payments", "[{\"index\":0,\"from\":\"aa01\",\"to\":\"aa01\",\"amount\":\"5\"}]",
       "same participant", QP_EINVAL},
      {"payments", "[{\"index\":0,\"from\":\"aa01\",\"to\":\"ee05\",\"amount\":\"5\"}]",
       "ee05", QP_ENOTFOUND},
      {"ledger", "[8]", "aa01 has no account on ledger 8", QP_ENOTFOUND},
  };
  json_t *map = test_map();
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_t *r = record_with(bad[i].field, bad[i].value);
    if (bad[i].value != NULL && bad[i].value[0] == '[' && strcmp(bad[i].field, "payments") != 0)
      json_object_set(r, bad[i].field, json_array_get(json_object_get(r, bad[i].field), 0));
    qp_settle_plan_t plan;
    char detail[512] = "";
    assert_int_equal(qp_settle_plan_make(r, map, GENESIS, &plan, detail, sizeof detail),
                     bad[i].rc);
    if (strstr(detail, bad[i].says) == NULL) fail_msg("case %zu: %s", i, detail);
    assert_null(plan.payments);
    json_decref(r);
  }
  json_decref(map);
}

/* The ledger's answer with these results, one per transfer. */
static json_t *answer(const char *r0, const char *r1) {
  return json_pack("{s:[{s:s},{s:s}]}", "results", "result", r0, "result", r1);
}

static void test_results(void **state) {
  (void)state;
  json_t *map = test_map(), *record = test_record();
  qp_settle_plan_t plan;
  char detail[256];
  assert_int_equal(qp_settle_plan_make(record, map, GENESIS, &plan, detail, sizeof detail), 0);
  static const struct {
    const char *r0, *r1;
    qp_settle_outcome_t out;
  } cases[] = {
      {"ok", "ok", QP_SETTLE_PAID},
      {"exists", "linked_event_failed", QP_SETTLE_RETRY},
      {"linked_event_failed", "exceeds_credits", QP_SETTLE_SHORT},
      {"exceeds_credits", "linked_event_failed", QP_SETTLE_SHORT},
      {"linked_event_failed", "debit_account_not_found", QP_SETTLE_REFUSED},
      {"exists_with_different_amount", "linked_event_failed", QP_SETTLE_REFUSED},
      {"ok", "linked_event_failed", QP_SETTLE_REFUSED},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *a = answer(cases[i].r0, cases[i].r1);
    assert_int_equal(qp_settle_plan_results(&plan, a, detail, sizeof detail), cases[i].out);
    json_decref(a);
  }
  json_t *short_answer = json_pack("{s:[{s:s}]}", "results", "result", "ok");
  assert_int_equal(qp_settle_plan_results(&plan, short_answer, detail, sizeof detail),
                   QP_SETTLE_REFUSED);
  assert_non_null(strstr(detail, "1 results for 2"));
  json_decref(short_answer);
  qp_settle_plan_free(&plan);
  json_decref(record);
  json_decref(map);
}

/* What the ledger's lookup would answer for the plan's transfers,
 * amount_1 being the second transfer's amount; only the first `count`. */
static json_t *lookup_answer(const qp_settle_plan_t *plan, const char *amount_1, size_t count) {
  json_t *list = json_array();
  for (size_t i = 0; i < count; i++) {
    const qp_settle_payment_t *p = &plan->payments[i];
    char id[QP_U128_BUF_SIZE], d[QP_U128_BUF_SIZE], c[QP_U128_BUF_SIZE], amt[QP_U128_BUF_SIZE];
    qp_u128_format(p->transfer_id, id);
    qp_u128_format(p->debit_account, d);
    qp_u128_format(p->credit_account, c);
    qp_u128_format(p->amount, amt);
    json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:i,s:i}", "id", id,
                                          "debit_account_id", d, "credit_account_id", c,
                                          "amount", i == 1 ? amount_1 : amt, "ledger", 7,
                                          "code", QP_SETTLE_CODE_MATURITY));
  }
  return json_pack("{s:o}", "transfers", list);
}

static void test_lookup_proves_payment(void **state) {
  (void)state;
  json_t *map = test_map(), *record = test_record();
  qp_settle_plan_t plan;
  char detail[256];
  assert_int_equal(qp_settle_plan_make(record, map, GENESIS, &plan, detail, sizeof detail), 0);
  json_t *all = lookup_answer(&plan, "250", 2), *none = lookup_answer(&plan, "250", 0);
  json_t *half = lookup_answer(&plan, "250", 1), *other = lookup_answer(&plan, "251", 2);
  assert_int_equal(qp_settle_plan_found(&plan, all, detail, sizeof detail), QP_SETTLE_PAID);
  assert_int_equal(qp_settle_plan_found(&plan, none, detail, sizeof detail), QP_SETTLE_RETRY);
  assert_int_equal(qp_settle_plan_found(&plan, half, detail, sizeof detail), QP_SETTLE_REFUSED);
  assert_int_equal(qp_settle_plan_found(&plan, other, detail, sizeof detail),
                   QP_SETTLE_REFUSED);
  assert_non_null(strstr(detail, "2 of 2 transfer ids of mat-v1-1 are on the ledger, 1 as"));
  json_decref(all);
  json_decref(none);
  json_decref(half);
  json_decref(other);
  qp_settle_plan_free(&plan);
  json_decref(record);
  json_decref(map);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_transfer_ids),
      cmocka_unit_test(test_map_check),
      cmocka_unit_test(test_plan_makes_one_linked_chain),
      cmocka_unit_test(test_finance_record),
      cmocka_unit_test(test_bad_records_name_the_field),
      cmocka_unit_test(test_results),
      cmocka_unit_test(test_lookup_proves_payment),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
