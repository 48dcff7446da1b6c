/*
 * test_paycode.c - payment codes (src/payments/paycode.c, devices.c): the
 * OTP against Python's hmac (vectors computed with hmac.new(secret,
 * struct.pack('>Q', step), sha256) and the 8-byte dynamic truncation), the
 * layout, parsing, the 60 s window at its edges, another device's code, a
 * used code, a revoked device, and the collect transfer id.
 */
#include <string.h>

#include "test_util.h"
#include "base/err.h"
#include "payments/payments.h"
#include "payments/payments_int.h"

static uint8_t SECRET[32];

static int setup(void **state) {
  (void)state;
  for (int i = 0; i < 32; i++) SECRET[i] = (uint8_t)i;
  return 0;
}

static void test_otp_vectors(void **state) {
  (void)state;
  assert_true(qp_paycode_otp(SECRET, 32, 0) == 8890535993ull);
  assert_true(qp_paycode_otp(SECRET, 32, 1) == 2382601302ull);
  assert_true(qp_paycode_otp(SECRET, 32, 59000000) == 2026686063ull);
  assert_true(qp_paycode_otp(SECRET, 32, 59000001) == 4908991303ull);
}

static void test_make_and_parse(void **state) {
  (void)state;
  char code[QP_PAYCODE_DIGITS + 1];
  assert_int_equal(qp_paycode_make(SECRET, 32, 42, 1770000000, code), 0);
  assert_string_equal(code, "280000422026686063");
  uint32_t device = 0;
  uint64_t otp = 0;
  assert_int_equal(qp_paycode_parse(code, strlen(code), &device, &otp), 0);
  assert_int_equal(device, 42);
  assert_true(otp == 2026686063ull);
  assert_int_equal(qp_paycode_make(SECRET, 32, 999999, 0, code), 0);
  assert_memory_equal(code, "28999999", 8);
  assert_int_equal(qp_paycode_make(SECRET, 32, 1000000, 0, code), QP_ERANGE);
  assert_int_equal(qp_paycode_make(SECRET, 32, 1, -1, code), QP_ERANGE);
  static const char *const bad[] = {"", "28000042202668606", "2800004220266860633",
                                    "180000422026686063", "28000042202668606x",
                                    "28 000042202668606", "-80000422026686063"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(qp_paycode_parse(bad[i], strlen(bad[i]), &device, &otp), QP_EINVAL);
}

static void test_window_edges(void **state) {
  (void)state;
  const int64_t t0 = 59000000LL * 30; /* the first second of step 59000000 */
  uint64_t otp = qp_paycode_otp(SECRET, 32, 59000000), step = 0;
  /* Valid from the first second of its step to the last of the next. */
  assert_int_equal(qp_paycode_check(SECRET, 32, otp, t0, &step), QP_PAYCODE_VALID);
  assert_true(step == 59000000);
  assert_int_equal(qp_paycode_check(SECRET, 32, otp, t0 + 59, &step), QP_PAYCODE_VALID);
  assert_int_equal(qp_paycode_check(SECRET, 32, otp, t0 + 60, &step), QP_PAYCODE_EXPIRED);
  assert_int_equal(qp_paycode_check(SECRET, 32, otp, t0 + 30 * 20 + 29, &step),
                   QP_PAYCODE_EXPIRED);
  /* Too old to tell from a typo, and a code from the future: invalid. */
  assert_int_equal(qp_paycode_check(SECRET, 32, otp, t0 + 30 * 21, &step), QP_PAYCODE_INVALID);
  assert_int_equal(qp_paycode_check(SECRET, 32, otp, t0 - 1, &step), QP_PAYCODE_INVALID);
  assert_int_equal(qp_paycode_check(SECRET, 32, otp + 1, t0, &step), QP_PAYCODE_INVALID);
  /* Another device's secret never accepts it. */
  uint8_t other[32];
  memcpy(other, SECRET, 32);
  other[31] ^= 1;
  assert_int_equal(qp_paycode_check(other, 32, otp, t0, &step), QP_PAYCODE_INVALID);
}

/* A fake codes_used table: one used (device, step). */
static uint64_t used_step = UINT64_MAX;
static int fake_used(void *ctx, const json_t *device, uint64_t step, bool *used) {
  (void)ctx;
  (void)device;
  *used = step == used_step;
  return 0;
}

static json_t *device(const char *status) {
  char hex[65];
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", SECRET[i]);
  return json_pack("{s:s, s:i, s:s, s:s}", "id", "0a7543ca23799bb067ab0ea5bc98b41a", "number",
                   42, "secret", hex, "status", status);
}

static void test_refusals(void **state) {
  (void)state;
  const int64_t t0 = 59000000LL * 30;
  uint64_t otp = qp_paycode_otp(SECRET, 32, 59000000), step = 0;
  int rc = -1;
  json_t *d = device("active");
  used_step = UINT64_MAX;
  assert_null(qp__pay_code_refusal(d, otp, t0 + 31, fake_used, NULL, &step, &rc));
  assert_int_equal(rc, 0);
  assert_true(step == 59000000);
  used_step = 59000000; /* used once: refused in its whole window */
  assert_string_equal(qp__pay_code_refusal(d, otp, t0 + 1, fake_used, NULL, &step, &rc),
                      "payment_code_used");
  assert_string_equal(qp__pay_code_refusal(d, otp, t0 + 59, fake_used, NULL, &step, &rc),
                      "payment_code_used");
  assert_string_equal(qp__pay_code_refusal(d, otp, t0 + 60, fake_used, NULL, &step, &rc),
                      "payment_code_expired");
  assert_string_equal(qp__pay_code_refusal(d, otp ^ 1, t0, fake_used, NULL, &step, &rc),
                      "payment_code_invalid");
  json_decref(d);
  d = device("revoked");
  used_step = UINT64_MAX;
  assert_string_equal(qp__pay_code_refusal(d, otp, t0, fake_used, NULL, &step, &rc),
                      "payment_code_revoked");
  json_decref(d);
}

static void test_used_key_and_transfer_id(void **state) {
  (void)state;
  json_t *d = device("active");
  uint8_t key[24];
  qp__pay_code_used_key(d, 0x0102030405060708ull, key);
  assert_int_equal(key[0], 0x0a);
  assert_int_equal(key[15], 0x1a);
  assert_int_equal(key[16], 0x01);
  assert_int_equal(key[23], 0x08);
  json_decref(d);
  uint8_t a[QP_PAY_ID_SIZE] = {1}, b[QP_PAY_ID_SIZE] = {2};
  qp_u128 ta = qp__pay_collect_transfer_id(a);
  assert_true(ta == qp__pay_collect_transfer_id(a));
  assert_true(ta != qp__pay_collect_transfer_id(b));
  assert_true(ta != qp__pay_refund_transfer_id(a)); /* another tag, another id */
}

static void test_collect_body(void **state) {
  (void)state;
  uint32_t device = 0;
  uint64_t otp = 0;
  qp_http_error_t err = {0};
  const char *good = "{\"payment_code\": \"280000422026686063\"}";
  assert_int_equal(qp__pay_collect_decode(good, strlen(good), &device, &otp, &err), 0);
  assert_int_equal(device, 42);
  assert_true(otp == 2026686063ull);
  static const struct {
    const char *body, *code, *path;
  } bad[] = {{"", "invalid_json", ""},
             {"[1]", "invalid_type", ""},
             {"{}", "missing_field", "payment_code"},
             {"{\"payment_code\": 280000422026686063}", "invalid_type", "payment_code"},
             {"{\"payment_code\": \"2800004220266860\"}", "invalid_value", "payment_code"},
             {"{\"payment_code\": \"380000422026686063\"}", "invalid_value", "payment_code"},
             {"{\"payment_code\": \"280000422026686063\", \"amount\": 1}", "unknown_field",
              "amount"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(&err, 0, sizeof err);
    assert_int_equal(qp__pay_collect_decode(bad[i].body, strlen(bad[i].body), &device, &otp,
                                            &err), QP_EINVAL);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.code, bad[i].code);
    assert_string_equal(err.path, bad[i].path);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_otp_vectors),      cmocka_unit_test(test_make_and_parse),
      cmocka_unit_test(test_window_edges),     cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_used_key_and_transfer_id), cmocka_unit_test(test_collect_body),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
