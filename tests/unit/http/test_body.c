/*
 * test_body.c - request bodies and their members (src/http/body.c), the
 * one copy every module's handlers use: an empty, malformed, non-object or
 * over-budget body is refused with the envelope's code, an unknown member
 * is named, an empty body reads as {} only when asked, and each member
 * getter refuses a missing, mistyped or out-of-range member naming it
 * (path), while leaving absent optional members alone.
 */
#include <string.h>

#include <jansson.h>

#include "test_util.h"
#include "base/alloc.h"
#include "base/err.h"
#include "http/http.h"

static const char *const ALLOWED[] = {"name", "amount", "n", NULL};

static int decode(const char *text, unsigned flags, json_t **out, qp_http_error_t *err) {
  memset(err, 0, sizeof *err);
  return qp_http_body_decode(text, text != NULL ? strlen(text) : 0, ALLOWED, flags, out, err);
}

static void refused(const char *text, unsigned flags, unsigned status, const char *code,
                    const char *path) {
  json_t *out = (json_t *)1;
  qp_http_error_t err;
  assert_int_equal(decode(text, flags, &out, &err), QP_EINVAL);
  assert_null(out);
  assert_int_equal(err.status, status);
  assert_string_equal(err.code, code);
  assert_string_equal(err.path, path);
}

static void test_decode_refusals(void **state) {
  (void)state;
  refused(NULL, 0, 400, "invalid_json", "");
  refused("", 0, 400, "invalid_json", "");
  refused("{\"name\":", 0, 400, "invalid_json", "");
  refused("{\"name\":\"a\",\"name\":\"b\"}", 0, 400, "invalid_json", ""); /* duplicates */
  refused("[1]", 0, 400, "invalid_type", "");
  refused("{\"name\":\"a\",\"color\":1}", 0, 400, "unknown_field", "color");
  refused("[1]", QP_HTTP_BODY_EMPTY_OBJECT, 400, "invalid_type", "");
  qp_http_error_t err;
  json_t *out = NULL;
  assert_int_equal(decode("{\"name\":", 0, &out, &err), QP_EINVAL);
  assert_int_equal(err.line, 0); /* position is in the message, not the fields */
  assert_non_null(strstr(err.message, "malformed JSON (line 1"));
}

static void test_decode_accepts(void **state) {
  (void)state;
  qp_http_error_t err;
  json_t *out = NULL;
  assert_int_equal(decode("{\"name\":\"a\",\"n\":2}", 0, &out, &err), 0);
  assert_int_equal(json_object_size(out), 2);
  json_decref(out);
  assert_int_equal(decode("", QP_HTTP_BODY_EMPTY_OBJECT, &out, &err), 0);
  assert_true(json_is_object(out) && json_object_size(out) == 0);
  json_decref(out);
  assert_int_equal(decode("[{\"x\":1}]", QP_HTTP_BODY_ARRAY, &out, &err), 0);
  assert_true(json_is_array(out)); /* elements are the caller's to check */
  json_decref(out);
  assert_int_equal(qp_http_body_decode("{\"x\":1}", 7, NULL, 0, &out, &err), 0); /* any member */
  json_decref(out);
}

static void test_decode_over_budget(void **state) {
  (void)state;
  char text[4096] = "[";
  for (size_t i = 1; i < sizeof text - 3; i += 3) memcpy(text + i, "{},", 3);
  text[sizeof text - 3] = '{';
  text[sizeof text - 2] = '}';
  text[sizeof text - 1] = '\0';
  text[strlen(text) - 3] = ',';
  json_t *out = NULL;
  qp_http_error_t err = {0};
  qp_http_json_budget_begin(2048);
  int rc = qp_http_body_decode(text, strlen(text), NULL, QP_HTTP_BODY_ARRAY, &out, &err);
  qp_http_json_budget_end();
  assert_int_equal(rc, QP_EINVAL);
  assert_null(out);
  assert_int_equal(err.status, 413);
  assert_string_equal(err.code, "too_complex");
}

/* The reply's envelope: its code and path; the reply is reset. */
static void envelope(qp_http_reply_t *r, unsigned status, const char *code, const char *path) {
  assert_int_equal(r->status, status);
  json_t *j = json_loads(r->body, 0, NULL);
  json_t *e = json_object_get(j, "error");
  assert_string_equal(json_string_value(json_object_get(e, "code")), code);
  assert_string_equal(json_string_value(json_object_get(e, "path")), path);
  json_decref(j);
  qp_free(r->body);
  memset(r, 0, sizeof *r);
}

static void test_member_string(void **state) {
  (void)state;
  json_t *o = json_pack("{s:s, s:i, s:s, s:s#}", "name", "bob", "n", 7, "empty", "", "nul",
                        "a\0b", (size_t)3);
  qp_http_reply_t r = {0};
  const char *s = NULL;
  assert_true(qp_http_member_string(o, "name", NULL, 3, true, &s, &r));
  assert_string_equal(s, "bob");
  assert_true(qp_http_member_string(o, "absent", NULL, 3, false, &s, &r));
  assert_null(s);
  assert_int_equal(r.status, 0);
  assert_false(qp_http_member_string(o, "absent", NULL, 3, true, &s, &r));
  envelope(&r, 400, "missing_field", "absent");
  assert_false(qp_http_member_string(o, "n", "x.n", 3, true, &s, &r));
  envelope(&r, 400, "invalid_type", "x.n");
  assert_false(qp_http_member_string(o, "name", NULL, 2, true, &s, &r)); /* too long */
  assert_null(s);
  envelope(&r, 400, "invalid_value", "name");
  assert_false(qp_http_member_string(o, "empty", NULL, 2, false, &s, &r));
  envelope(&r, 400, "invalid_value", "empty");
  assert_false(qp_http_member_string(o, "nul", NULL, 8, true, &s, &r));
  envelope(&r, 400, "invalid_value", "nul");
  json_decref(o);
}

static void test_member_u128(void **state) {
  (void)state;
  json_t *o = json_pack("{s:s, s:i, s:s, s:i, s:s, s:s, s:b}", "big",
                        "340282366920938463463374607431768211455", "int", 42, "zero", "0", "neg",
                        -1, "over", "340282366920938463463374607431768211456", "sign", "+5",
                        "bool", 1);
  qp_http_reply_t r = {0};
  qp_u128 v = 0;
  assert_true(qp_http_member_u128(o, "big", &v, &r));
  assert_true(v == ~(qp_u128)0);
  assert_true(qp_http_member_u128(o, "int", &v, &r));
  assert_true(v == 42);
  assert_false(qp_http_member_u128(o, "absent", &v, &r));
  envelope(&r, 400, "missing_field", "absent");
  const char *bad[] = {"zero", "neg", "over", "sign", "bool"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_false(qp_http_member_u128(o, bad[i], &v, &r));
    envelope(&r, 400, "invalid_value", bad[i]);
  }
  json_decref(o);
}

static void test_member_int_and_bool(void **state) {
  (void)state;
  json_t *o = json_pack("{s:i, s:s, s:b, s:i}", "n", 5, "s", "5", "yes", 1, "one", 1);
  qp_http_reply_t r = {0};
  long long n = 0;
  assert_true(qp_http_member_int(o, "n", 1, 5, 0, &n, &r));
  assert_int_equal(n, 5);
  assert_true(qp_http_member_int(o, "absent", 1, 5, 3, &n, &r)); /* the fallback */
  assert_int_equal(n, 3);
  assert_false(qp_http_member_int(o, "absent", 1, 5, 0, &n, &r)); /* required */
  envelope(&r, 400, "missing_field", "absent");
  assert_false(qp_http_member_int(o, "n", 6, 9, 7, &n, &r));
  envelope(&r, 400, "invalid_value", "n");
  assert_false(qp_http_member_int(o, "s", 1, 9, 0, &n, &r));
  envelope(&r, 400, "invalid_value", "s");
  bool b = false;
  assert_true(qp_http_member_bool(o, "yes", false, &b, &r) && b);
  assert_true(qp_http_member_bool(o, "absent", true, &b, &r) && b);
  assert_false(qp_http_member_bool(o, "one", false, &b, &r));
  envelope(&r, 400, "invalid_type", "one");
  json_decref(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode_refusals),   cmocka_unit_test(test_decode_accepts),
      cmocka_unit_test(test_decode_over_budget), cmocka_unit_test(test_member_string),
      cmocka_unit_test(test_member_u128),       cmocka_unit_test(test_member_int_and_bool),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
