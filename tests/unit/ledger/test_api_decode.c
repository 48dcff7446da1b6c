/*
 * test_decode.c - unit tests of the API's strict JSON decoder (api.h):
 * every field of accounts and transfers, both encodings of big integers,
 * flags, required fields, and each error class with its code, HTTP status
 * and path.  The decoder is pure, so these need no server.
 */
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include <jansson.h>

#include "test_util.h"
#include "ledger/api.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/err.h"

#define U128_MAX_TEXT "340282366920938463463374607431768211455"
#define U128_OVER_TEXT "340282366920938463463374607431768211456"

/* Decodes transfers from a C string, expecting success. */
static qp_transfer_t *transfers_ok(const char *json, uint32_t expect_count) {
  qp_transfer_t *out = NULL;
  uint32_t n = 0;
  qp_http_error_t err;
  int rc = qp_ledger_decode_transfers(json, strlen(json), QP_BATCH_EVENTS_MAX, &out, &n, &err);
  if (rc != 0) fprintf(stderr, "unexpected error %s at %s: %s\n", err.code, err.path, err.message);
  assert_int_equal(rc, 0);
  assert_int_equal(n, expect_count);
  assert_non_null(out);
  return out;
}

/* Decodes transfers, expecting the error (status, code, path). */
static void transfers_err(const char *json, unsigned status, const char *code, const char *path) {
  qp_transfer_t *out = (qp_transfer_t *)(uintptr_t)1;
  uint32_t n = 7;
  qp_http_error_t err;
  int rc = qp_ledger_decode_transfers(json, strlen(json), QP_BATCH_EVENTS_MAX, &out, &n, &err);
  if (rc == 0 || strcmp(err.code, code) != 0 || strcmp(err.path, path) != 0)
    fprintf(stderr, "for %s\n  got rc=%d code=%s path=%s message=%s\n", json, rc, err.code,
            err.path, err.message);
  assert_int_equal(rc, QP_EPARSE);
  assert_null(out);
  assert_int_equal(n, 0);
  assert_int_equal(err.status, status);
  assert_string_equal(err.code, code);
  assert_string_equal(err.path, path);
  assert_true(strlen(err.message) > 0);
}

static void accounts_err(const char *json, unsigned status, const char *code, const char *path) {
  qp_account_t *out = NULL;
  uint32_t n = 0;
  qp_http_error_t err;
  int rc = qp_ledger_decode_accounts(json, strlen(json), QP_BATCH_EVENTS_MAX, &out, &n, &err);
  if (rc == 0 || strcmp(err.code, code) != 0 || strcmp(err.path, path) != 0)
    fprintf(stderr, "for %s\n  got rc=%d code=%s path=%s\n", json, rc, err.code, err.path);
  assert_int_equal(rc, QP_EPARSE);
  assert_null(out);
  assert_int_equal(err.status, status);
  assert_string_equal(err.code, code);
  assert_string_equal(err.path, path);
}

#define T_BASE "\"debit_account_id\":\"1\",\"credit_account_id\":\"2\",\"ledger\":1,\"code\":1"

static void test_account_all_fields(void **state) {
  (void)state;
  const char *json =
      "[{\"id\":\"" U128_MAX_TEXT
      "\",\"debits_pending\":1,\"debits_posted\":\"2\","
      "\"credits_pending\":3,\"credits_posted\":\"4\",\"user_data_128\":\"5\","
      "\"user_data_64\":\"18446744073709551615\",\"user_data_32\":4294967295,\"reserved\":0,"
      "\"ledger\":840,\"code\":65535,\"flags\":[\"linked\",\"history\"],\"timestamp\":\"0\"},"
      "{\"id\":7,\"ledger\":1,\"code\":2}]";
  qp_account_t *a = NULL;
  uint32_t n = 0;
  qp_http_error_t err;
  assert_int_equal(qp_ledger_decode_accounts(json, strlen(json), 10, &a, &n, &err), 0);
  assert_int_equal(n, 2);
  assert_true(a[0].id == QP_U128_MAX);
  assert_true(a[0].debits_pending == 1 && a[0].debits_posted == 2);
  assert_true(a[0].credits_pending == 3 && a[0].credits_posted == 4);
  assert_true(a[0].user_data_128 == 5);
  assert_true(a[0].user_data_64 == UINT64_MAX);
  assert_int_equal(a[0].user_data_32, UINT32_MAX);
  assert_int_equal(a[0].ledger, 840);
  assert_int_equal(a[0].code, 65535);
  assert_int_equal(a[0].flags, QP_ACCOUNT_LINKED | QP_ACCOUNT_HISTORY);
  assert_true(a[1].id == 7 && a[1].flags == 0 && a[1].timestamp == 0);
  qp_free(a);
}

static void test_transfer_fields_and_flags(void **state) {
  (void)state;
  qp_transfer_t *t = transfers_ok(
      "[{\"id\":\"10\"," T_BASE ",\"amount\":\"" U128_MAX_TEXT
      "\",\"timeout\":60,"
      "\"flags\":[\"pending\",\"linked\"],\"user_data_32\":9},"
      "{\"id\":11,\"pending_id\":\"10\",\"flags\":[\"post_pending_transfer\"]},"
      "{\"id\":12,\"pending_id\":10,\"flags\":[\"void_pending_transfer\"]},"
      "{\"id\":13," T_BASE ",\"amount\":0,\"flags\":[\"balancing_debit\",\"balancing_credit\"]}]",
      4);
  assert_true(t[0].id == 10 && t[0].debit_account_id == 1 && t[0].credit_account_id == 2);
  assert_true(t[0].amount == QP_U128_MAX);
  assert_int_equal(t[0].timeout, 60);
  assert_int_equal(t[0].flags, QP_TRANSFER_PENDING | QP_TRANSFER_LINKED);
  assert_int_equal(t[0].user_data_32, 9);
  assert_true(t[1].pending_id == 10 && t[1].amount == 0 && t[1].debit_account_id == 0);
  assert_int_equal(t[1].flags, QP_TRANSFER_POST_PENDING_TRANSFER);
  assert_int_equal(t[2].flags, QP_TRANSFER_VOID_PENDING_TRANSFER);
  assert_int_equal(t[3].flags, QP_TRANSFER_BALANCING_DEBIT | QP_TRANSFER_BALANCING_CREDIT);
  qp_free(t);
}

/* Ledger rule violations are not decoding errors: they reach the ledger. */
static void test_rule_violations_pass_through(void **state) {
  (void)state;
  qp_transfer_t *t = transfers_ok("[{\"id\":0," T_BASE
                                  ",\"amount\":1,\"timestamp\":\"5\"},"
                                  "{\"id\":\"" U128_MAX_TEXT
                                  "\",\"debit_account_id\":3,\"credit_account_id\":3,"
                                  "\"amount\":\"0\",\"ledger\":0,\"code\":0}]",
                                  2);
  assert_true(t[0].id == 0 && t[0].timestamp == 5);
  assert_true(t[1].id == QP_U128_MAX && t[1].ledger == 0);
  qp_free(t);
}

static void test_leading_zeros_and_big_json_integers(void **state) {
  (void)state;
  qp_transfer_t *t = transfers_ok(
      "[{\"id\":\"42\"," T_BASE ",\"amount\":9223372036854775807,\"pending_id\":\"0\"}]", 1);
  assert_true(t[0].id == 42);
  assert_true(t[0].amount == (qp_u128)INT64_MAX);
  qp_free(t);
}

/* docs/api.md "Numbers and flags": each refused with the field's path. */
static void test_numbers_and_flags_strictness(void **state) {
  (void)state;
  transfers_err("[{\"id\":\"000042\"," T_BASE ",\"amount\":1}]", 400, "invalid_value", "[0].id");
  transfers_err("[{\"id\":\"01\"," T_BASE ",\"amount\":1}]", 400, "invalid_value", "[0].id");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":\"010\"}]", 400, "invalid_value", "[0].amount");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":01}]", 400, "invalid_json", "");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":-0}]", 400, "invalid_value", "[0].amount");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":\"-0\"}]", 400, "invalid_value", "[0].amount");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":1},{\"id\":2," T_BASE ",\"amount\":1,"
                "\"timeout\":-0}]",
                400, "invalid_value", "[1].timeout");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":1e400}]", 400, "out_of_range", "[0].amount");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":1.5}]", 400, "invalid_type", "[0].amount");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":1e2}]", 400, "invalid_type", "[0].amount");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":1,\"flags\":[\"pending\",\"linked\","
                "\"pending\"]}]",
                400, "invalid_value", "[0].flags[2]");
  /* "-0" inside a string value, and "0" alone, are not negative zero. */
  qp_transfer_t *t =
      transfers_ok("[{\"id\":1," T_BASE ",\"amount\":0,\"user_data_128\":\"0\"}]", 1);
  assert_true(t[0].amount == 0);
  qp_free(t);
  qp_u128 *ids = NULL;
  uint32_t n = 0;
  qp_http_error_t err;
  const char *lookup = "{\"ids\":[\"1\",-0]}";
  assert_int_equal(qp_ledger_decode_ids(lookup, strlen(lookup), 10, &ids, &n, &err), QP_EPARSE);
  assert_string_equal(err.path, "ids[1]");
  const char *big = "{\"ids\":[1,\n 2, 1e400]}";
  assert_int_equal(qp_ledger_decode_ids(big, strlen(big), 10, &ids, &n, &err), QP_EPARSE);
  assert_string_equal(err.code, "out_of_range");
  assert_string_equal(err.path, "ids[2]");
  assert_int_equal(err.line, 2);
}

static void test_malformed_json_has_line_and_column(void **state) {
  (void)state;
  const char *json = "[\n  {\"id\": \"1\",\n   \"amount\": }\n]";
  qp_transfer_t *out = NULL;
  uint32_t n = 0;
  qp_http_error_t err;
  assert_int_equal(qp_ledger_decode_transfers(json, strlen(json), 10, &out, &n, &err), QP_EPARSE);
  assert_string_equal(err.code, "invalid_json");
  assert_int_equal(err.status, 400);
  assert_int_equal(err.line, 3);
  assert_true(err.column > 0);
  json_t *env = qp_http_error_json(&err);
  json_t *inner = json_object_get(env, "error");
  assert_int_equal(json_integer_value(json_object_get(inner, "line")), 3);
  assert_string_equal(json_string_value(json_object_get(inner, "code")), "invalid_json");
  assert_non_null(json_object_get(inner, "path"));
  json_decref(env);
  transfers_err("", 400, "invalid_json", "");
  transfers_err("[{\"id\":1}", 400, "invalid_json", "");
  transfers_err("[1] x", 400, "invalid_json", "");
  transfers_err("[{\"id\":1,\"id\":2}]", 400, "invalid_json", "");
}

static void test_wrong_types(void **state) {
  (void)state;
  transfers_err("{\"id\":1}", 400, "invalid_type", "");
  transfers_err("\"x\"", 400, "invalid_type", "");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":1}, 5]", 400, "invalid_type", "[1]");
  transfers_err("[{\"id\":true," T_BASE ",\"amount\":1}]", 400, "invalid_type", "[0].id");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":1.5}]", 400, "invalid_type", "[0].amount");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":1e3}]", 400, "invalid_type", "[0].amount");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":null}]", 400, "invalid_type", "[0].amount");
  transfers_err(
      "[{\"id\":1,\"debit_account_id\":1,\"credit_account_id\":2,\"ledger\":\"1\","
      "\"code\":1,\"amount\":1}]",
      400, "invalid_type", "[0].ledger");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":1,\"flags\":\"pending\"}]", 400, "invalid_type",
                "[0].flags");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":1,\"flags\":[\"pending\",3]}]", 400,
                "invalid_type", "[0].flags[1]");
}

static void test_unknown_and_missing_fields(void **state) {
  (void)state;
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":1,\"memo\":\"x\"}]", 400, "unknown_field",
                "[0].memo");
  transfers_err("[{\"id\":1," T_BASE "}]", 400, "missing_field", "[0].amount");
  transfers_err("[{\"id\":1,\"credit_account_id\":2,\"amount\":1,\"ledger\":1,\"code\":1}]", 400,
                "missing_field", "[0].debit_account_id");
  transfers_err("[{" T_BASE ",\"amount\":1}]", 400, "missing_field", "[0].id");
  transfers_err("[{\"id\":5,\"flags\":[\"post_pending_transfer\"]}]", 400, "missing_field",
                "[0].pending_id");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":1,\"flags\":[\"pendingg\"]}]", 400,
                "invalid_value", "[0].flags[0]");
  accounts_err("[{\"id\":1,\"ledger\":1}]", 400, "missing_field", "[0].code");
  accounts_err("[{\"id\":1,\"ledger\":1,\"code\":1,\"flags\":[\"pending\"]}]", 400, "invalid_value",
               "[0].flags[0]");
  accounts_err("[{\"id\":1,\"ledger\":1,\"code\":1,\"amount\":5}]", 400, "unknown_field",
               "[0].amount");
}

static void test_numbers_out_of_range(void **state) {
  (void)state;
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":-5}]", 400, "out_of_range", "[0].amount");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":\"-5\"}]", 400, "out_of_range", "[0].amount");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":\"" U128_OVER_TEXT "\"}]", 400, "out_of_range",
                "[0].amount");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":\"12x\"}]", 400, "invalid_value", "[0].amount");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":\"\"}]", 400, "invalid_value", "[0].amount");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":\" 1\"}]", 400, "invalid_value", "[0].amount");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":\"0x10\"}]", 400, "invalid_value", "[0].amount");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":1,\"user_data_64\":\"18446744073709551616\"}]",
                400, "out_of_range", "[0].user_data_64");
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":1,\"timeout\":4294967296}]", 400, "out_of_range",
                "[0].timeout");
  transfers_err(
      "[{\"id\":1,\"debit_account_id\":1,\"credit_account_id\":2,\"ledger\":1,"
      "\"code\":65536,\"amount\":1}]",
      400, "out_of_range", "[0].code");
  /* Beyond int64 as a bare JSON number: jansson refuses it while parsing;
   * the path comes from the text (api_path.c). */
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":99999999999999999999}]", 400, "out_of_range",
                "[0].amount");
}

static void test_batch_sizes(void **state) {
  (void)state;
  transfers_err("[]", 400, "empty_batch", "");
  qp_transfer_t *out = NULL;
  uint32_t n = 0;
  qp_http_error_t err;
  const char *three = "[{\"id\":1," T_BASE ",\"amount\":1},{\"id\":2," T_BASE
                      ",\"amount\":1},"
                      "{\"id\":3," T_BASE ",\"amount\":1}]";
  assert_int_equal(qp_ledger_decode_transfers(three, strlen(three), 2, &out, &n, &err), QP_EPARSE);
  assert_int_equal(err.status, 413);
  assert_string_equal(err.code, "batch_too_large");
  assert_int_equal(qp_ledger_decode_transfers(three, strlen(three), 3, &out, &n, &err), 0);
  assert_int_equal(n, 3);
  qp_free(out);
}

/* The first bad event is reported, not a later one, and paths name it. */
static void test_error_names_the_event(void **state) {
  (void)state;
  transfers_err("[{\"id\":1," T_BASE ",\"amount\":1},{\"id\":2," T_BASE
                ",\"amount\":1},"
                "{\"id\":3," T_BASE ",\"amount\":1},{\"id\":4," T_BASE
                ",\"amount\":\"abc\"},"
                "{\"id\":5," T_BASE ",\"amount\":true}]",
                400, "invalid_value", "[3].amount");
}

static void test_ids(void **state) {
  (void)state;
  const char *json = "{\"ids\":[\"1\",2,\"" U128_MAX_TEXT "\"]}";
  qp_u128 *ids = NULL;
  uint32_t n = 0;
  qp_http_error_t err;
  assert_int_equal(qp_ledger_decode_ids(json, strlen(json), 10, &ids, &n, &err), 0);
  assert_int_equal(n, 3);
  assert_true(ids[0] == 1 && ids[1] == 2 && ids[2] == QP_U128_MAX);
  qp_free(ids);
  struct {
    const char *json, *code, *path;
  } bad[] = {
      {"[1]", "invalid_type", ""},
      {"{}", "missing_field", "ids"},
      {"{\"ids\":[1],\"x\":1}", "unknown_field", "x"},
      {"{\"ids\":[]}", "empty_batch", "ids"},
      {"{\"ids\":\"1\"}", "invalid_type", "ids"},
      {"{\"ids\":[1,\"a\"]}", "invalid_value", "ids[1]"},
      {"{\"ids\":[1,-1]}", "out_of_range", "ids[1]"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(qp_ledger_decode_ids(bad[i].json, strlen(bad[i].json), 10, &ids, &n, &err),
                     QP_EPARSE);
    assert_null(ids);
    assert_string_equal(err.code, bad[i].code);
    assert_string_equal(err.path, bad[i].path);
  }
}

/* Hostile field names stay printable in the envelope. */
static void test_unknown_field_name_is_sanitized(void **state) {
  (void)state;
  const char *json = "[{\"\\u00e9\\\"x\\n\":1}]";
  qp_transfer_t *out = NULL;
  uint32_t n = 0;
  qp_http_error_t err;
  assert_int_equal(qp_ledger_decode_transfers(json, strlen(json), 10, &out, &n, &err), QP_EPARSE);
  assert_string_equal(err.code, "unknown_field");
  for (const char *p = err.path; *p; p++) assert_true(*p >= 0x20 && *p < 0x7f && *p != '"');
  json_t *env = qp_http_error_json(&err);
  char *text = json_dumps(env, JSON_COMPACT);
  assert_non_null(text);
  json_error_t jerr;
  json_t *back = json_loads(text, 0, &jerr);
  assert_non_null(back);
  json_decref(back);
  qp_http_json_free(text);
  json_decref(env);
}

/* An allocation failure is reported as such and leaks nothing. */
static void test_out_of_memory(void **state) {
  (void)state;
  const char *json = "[{\"id\":1," T_BASE ",\"amount\":1}]";
  qp_transfer_t *out = NULL;
  uint32_t n = 0;
  qp_http_error_t err;
  qp_alloc_fail_after(0);
  int rc = qp_ledger_decode_transfers(json, strlen(json), 10, &out, &n, &err);
  qp_alloc_fail_after(-1);
  assert_int_equal(rc, QP_ENOMEM);
  assert_null(out);
  assert_int_equal(err.status, 500);
}

static void test_encode_round_trip(void **state) {
  (void)state;
  qp_transfer_t *t = transfers_ok("[{\"id\":\"" U128_MAX_TEXT "\"," T_BASE
                                  ",\"amount\":\"77\","
                                  "\"flags\":[\"pending\"],\"timeout\":5,\"user_data_64\":\"9\"}]",
                                  1);
  json_t *o = qp_ledger_transfer_json(&t[0], QP_PENDING_POSTED);
  assert_string_equal(json_string_value(json_object_get(o, "id")), U128_MAX_TEXT);
  assert_string_equal(json_string_value(json_object_get(o, "amount")), "77");
  assert_string_equal(json_string_value(json_object_get(o, "pending_state")), "posted");
  assert_string_equal(json_string_value(json_array_get(json_object_get(o, "flags"), 0)), "pending");
  /* What the API emits, minus the output-only field, decodes back to the same event. */
  json_object_del(o, "pending_state");
  json_t *arr = json_array();
  json_array_append_new(arr, o);
  char *text = json_dumps(arr, JSON_COMPACT);
  qp_transfer_t *back = transfers_ok(text, 1);
  assert_memory_equal(&back[0], &t[0], sizeof t[0]);
  qp_http_json_free(text);
  json_decref(arr);
  qp_free(back);
  qp_free(t);
}

static void test_results_json(void **state) {
  (void)state;
  qp_account_t a[2];
  memset(a, 0, sizeof a);
  a[0].id = 5;
  a[1].id = QP_U128_MAX;
  uint32_t results[2] = {QP_CREATE_ACCOUNT_OK, QP_CREATE_ACCOUNT_EXISTS};
  size_t len = 0;
  char *text = qp_ledger_results_text(QP_OP_CREATE_ACCOUNTS, a, results, 2, &len);
  assert_non_null(text);
  assert_int_equal(len, strlen(text));
  json_error_t jerr;
  json_t *r = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  assert_non_null(r);
  qp_free(text);
  json_t *rows = json_object_get(r, "results");
  assert_int_equal(json_array_size(rows), 2);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 1), "index")), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "id")),
                      U128_MAX_TEXT);
  assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "result")), "ok");
  assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "result")),
                      "exists");
  json_decref(r);
}

/* Every result name, the longest id and the largest index fit the row bound. */
static void test_results_text_full_batch(void **state) {
  (void)state;
  uint32_t n = QP_BATCH_EVENTS_MAX;
  qp_transfer_t *t = qp_calloc(n, sizeof *t);
  uint32_t *results = qp_calloc(n, sizeof *results);
  for (uint32_t i = 0; i < n; i++) {
    t[i].id = QP_U128_MAX - i;
    results[i] = i % QP_CREATE_TRANSFER_RESULT_COUNT;
  }
  size_t len = 0;
  char *text = qp_ledger_results_text(QP_OP_CREATE_TRANSFERS, t, results, n, &len);
  json_error_t jerr;
  json_t *r = json_loads(text, 0, &jerr);
  assert_non_null(r);
  json_t *rows = json_object_get(r, "results");
  assert_int_equal(json_array_size(rows), n);
  for (uint32_t i = 0; i < n; i++) {
    json_t *row = json_array_get(rows, i);
    assert_int_equal(json_integer_value(json_object_get(row, "index")), i);
    assert_string_equal(json_string_value(json_object_get(row, "result")),
                        qp_create_transfer_result_name(results[i]));
  }
  json_decref(r);
  qp_free(text);
  qp_free(t);
  qp_free(results);
}

/* Builds "[{},{},…]" (count elements) in a qp_malloc'ed buffer. */
static char *empty_objects(size_t count, size_t *len_out) {
  size_t len = 2 + count * 3 - 1;
  char *text = qp_malloc(len + 1);
  assert_non_null(text);
  text[0] = '[';
  for (size_t i = 0; i < count; i++) memcpy(text + 1 + i * 3, i + 1 < count ? "{}," : "{}]", 3);
  text[len] = '\0';
  *len_out = len;
  return text;
}

/* A document far bigger as a tree than its text is refused by the budget
 * before it is built (413 too_complex), and everything is freed (ASan). */
static void test_json_budget_refuses_amplification(void **state) {
  (void)state;
  size_t len = 0;
  char *text = empty_objects(1000000, &len);
  qp_transfer_t *out = NULL;
  uint32_t n = 0;
  qp_http_error_t err;
  uint64_t budget = qp_http_json_budget_for(len, 16u * 1024u * 1024u);
  assert_true(budget == 16u * 1024u * 1024u);
  qp_http_json_budget_begin(budget);
  int rc = qp_ledger_decode_transfers(text, len, QP_BATCH_EVENTS_MAX, &out, &n, &err);
  uint64_t peak = qp_http_json_budget_end();
  assert_int_equal(rc, QP_EPARSE);
  assert_null(out);
  assert_int_equal(err.status, 413);
  assert_string_equal(err.code, "too_complex");
  assert_string_equal(err.path, "");
  assert_true(peak <= budget);
  /* The same text without a budget parses (and is then refused as a batch). */
  rc = qp_ledger_decode_transfers(text, len, QP_BATCH_EVENTS_MAX, &out, &n, &err);
  assert_int_equal(rc, QP_EPARSE);
  assert_string_equal(err.code, "batch_too_large");
  qp_free(text);
}

/* The largest legitimate batch, every field set, fits the budget of its
 * body with room to spare; the figures are in docs/http.md. */
static void test_json_budget_fits_a_full_batch(void **state) {
  (void)state;
  qp_buf_t b = {.max = 16u * 1024u * 1024u};
  qp_buf_append(&b, "[", 1);
  for (uint32_t i = 0; i < QP_BATCH_EVENTS_MAX; i++) {
    char row[512];
    int k = snprintf(row, sizeof row,
                     "%s{\"id\":\"%u\",\"debit_account_id\":\"%s\",\"credit_account_id\":"
                     "\"2\",\"amount\":\"%s\",\"pending_id\":\"0\",\"user_data_128\":\"%s\","
                     "\"user_data_64\":\"18446744073709551615\",\"user_data_32\":4294967295,"
                     "\"timeout\":0,\"ledger\":1,\"code\":1,\"flags\":[\"linked\",\"pending\"],"
                     "\"timestamp\":\"0\"}",
                     i ? "," : "", i + 1, U128_MAX_TEXT, U128_MAX_TEXT, U128_MAX_TEXT);
    qp_buf_append(&b, row, (size_t)k);
  }
  qp_buf_append(&b, "]", 1);
  uint64_t budget = qp_http_json_budget_for(b.len, QP_HTTP_JSON_REQUEST_BYTES_MAX_DEFAULT);
  qp_http_json_budget_begin(budget);
  qp_transfer_t *out = NULL;
  uint32_t n = 0;
  qp_http_error_t err;
  int rc = qp_ledger_decode_transfers(b.data, b.len, QP_BATCH_EVENTS_MAX, &out, &n,
                                      &err);
  uint64_t peak = qp_http_json_budget_end();
  printf("full batch: %zu bytes of body, %llu bytes of tree at most, budget %llu\n", b.len,
         (unsigned long long)peak, (unsigned long long)budget);
  assert_int_equal(rc, 0);
  assert_int_equal(n, QP_BATCH_EVENTS_MAX);
  assert_true(peak * 2 < budget);
  qp_free(out);
  qp_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_account_all_fields),
      cmocka_unit_test(test_transfer_fields_and_flags),
      cmocka_unit_test(test_rule_violations_pass_through),
      cmocka_unit_test(test_leading_zeros_and_big_json_integers),
      cmocka_unit_test(test_numbers_and_flags_strictness),
      cmocka_unit_test(test_malformed_json_has_line_and_column),
      cmocka_unit_test(test_wrong_types),
      cmocka_unit_test(test_unknown_and_missing_fields),
      cmocka_unit_test(test_numbers_out_of_range),
      cmocka_unit_test(test_batch_sizes),
      cmocka_unit_test(test_error_names_the_event),
      cmocka_unit_test(test_ids),
      cmocka_unit_test(test_unknown_field_name_is_sanitized),
      cmocka_unit_test(test_out_of_memory),
      cmocka_unit_test(test_encode_round_trip),
      cmocka_unit_test(test_results_json),
      cmocka_unit_test(test_results_text_full_batch),
      cmocka_unit_test(test_json_budget_refuses_amplification),
      cmocka_unit_test(test_json_budget_fits_a_full_batch),
  };
  return cmocka_run_group_tests_name("api_decode", tests, NULL, NULL);
}
