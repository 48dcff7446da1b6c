/*
 * test_payment.c - the canonical payment encoding (byte for byte, against a
 * layout built independently with Python's int.to_bytes, and each field
 * changing the challenge), the payment challenge H(nonce || canonical),
 * ISO 4217 minor units for SPC's total.value, and SPC's "payment" check
 * refusing a mismatch in each member.
 */
#include "auth_test.h"

#include "auth/payment.h"
#include "base/err.h"

static qp_auth_payment_t sample(void) {
  qp_auth_payment_t p = {1234, 840, "USD", "Coffee", 1, 2, "A-1", 1700000000};
  return p;
}

static void test_canonical_bytes(void **state) {
  (void)state;
  qp_auth_payment_t p = sample();
  uint8_t out[QP_AUTH_PAYMENT_CANONICAL_MAX];
  size_t len = 0;
  assert_int_equal(qp_auth_payment_encode(&p, out, &len), 0);
  /* bytes.hex() of b"QUIPU-PAYMENT-V1" + (1234).to_bytes(16, "big") + (840).to_bytes(4, "big")
   * + b"USD" + (6).to_bytes(2, "big") + b"Coffee" + (1).to_bytes(16, "big")
   * + (2).to_bytes(16, "big") + (3).to_bytes(2, "big") + b"A-1"
   * + (1700000000).to_bytes(8, "big") */
  bytes_t want = unhex("51554950552d5041594d454e542d5631000000000000000000000000000004d2"
                       "000003485553440006436f6666656500000000000000000000000000000001"
                       "000000000000000000000000000000020003412d31000000006553f100");
  assert_int_equal(len, want.len);
  assert_memory_equal(out, want.data, len);
  uint8_t nonce[32], challenge[32];
  for (int i = 0; i < 32; i++) nonce[i] = (uint8_t)i;
  qp_auth_payment_challenge(nonce, out, len, challenge);
  bytes_t ch = unhex("d54fcea4cb93c74d40262e8d25122047b0dce3358da723af1a2b3a4ba5c9197c");
  assert_memory_equal(challenge, ch.data, 32);
  free(ch.data);
  free(want.data);
}

/* Every field is covered: changing any one changes the challenge. */
static void test_every_field_changes_the_challenge(void **state) {
  (void)state;
  uint8_t nonce[32] = {7}, base[32], other[32], buf[QP_AUTH_PAYMENT_CANONICAL_MAX];
  size_t len = 0;
  qp_auth_payment_t p = sample();
  assert_int_equal(qp_auth_payment_encode(&p, buf, &len), 0);
  qp_auth_payment_challenge(nonce, buf, len, base);
  for (int field = 0; field < 9; field++) {
    p = sample();
    switch (field) {
      case 0: p.amount = 1235; break;
      case 1: p.ledger = 978; break;
      case 2: memcpy(p.currency, "EUR", 4); break;
      case 3: p.payee_name = "Coffee!"; break;
      case 4: p.debit_account_id = 3; break;
      case 5: p.credit_account_id = 3; break;
      case 6: p.order_id = "A-2"; break;
      case 7: p.expires_at_s++; break;
      default: p.payee_name = "Coffe"; p.order_id = "eA-1"; break; /* lengths keep it apart */
    }
    assert_int_equal(qp_auth_payment_encode(&p, buf, &len), 0);
    qp_auth_payment_challenge(nonce, buf, len, other);
    assert_memory_not_equal(base, other, 32);
  }
  p = sample();
  nonce[0] ^= 1;
  assert_int_equal(qp_auth_payment_encode(&p, buf, &len), 0);
  qp_auth_payment_challenge(nonce, buf, len, other);
  assert_memory_not_equal(base, other, 32);
}

static void test_bad_fields(void **state) {
  (void)state;
  uint8_t buf[QP_AUTH_PAYMENT_CANONICAL_MAX];
  size_t len = 0;
  char long_text[200];
  memset(long_text, 'x', sizeof long_text - 1);
  long_text[sizeof long_text - 1] = '\0';
  qp_auth_payment_t p = sample();
  p.payee_name = long_text;
  assert_int_equal(qp_auth_payment_encode(&p, buf, &len), QP_EINVAL);
  p = sample();
  p.order_id = long_text;
  assert_int_equal(qp_auth_payment_encode(&p, buf, &len), QP_EINVAL);
  p = sample();
  memcpy(p.currency, "usd", 4);
  assert_int_equal(qp_auth_payment_encode(&p, buf, &len), QP_EINVAL);
  p = sample();
  p.amount = ~(qp_u128)0; /* the largest amount still fits */
  p.payee_name = p.order_id = "";
  assert_int_equal(qp_auth_payment_encode(&p, buf, &len), 0);
  assert_int_equal(len, 16 + 16 + 4 + 3 + 2 + 16 + 16 + 2 + 8);
}

static void test_major_units(void **state) {
  (void)state;
  static const struct {
    unsigned long long amount;
    const char *currency, *want;
  } rows[] = {{1234, "USD", "12.34"}, {7, "USD", "0.07"},   {0, "EUR", "0.00"},
              {100, "EUR", "1.00"},   {5, "JPY", "5"},      {0, "JPY", "0"},
              {1, "KWD", "0.001"},    {12345, "BHD", "12.345"}, {1, "CLF", "0.0001"}};
  char out[QP_AUTH_AMOUNT_TEXT_MAX];
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    assert_int_equal(qp_auth_amount_major(rows[i].amount, rows[i].currency, out), 0);
    assert_string_equal(out, rows[i].want);
  }
  assert_int_equal(qp_auth_amount_major(~(qp_u128)0, "USD", out), 0);
  assert_string_equal(out, "3402823669209384634633746074317682114.55");
  assert_int_equal(qp_auth_amount_major(1, "US", out), QP_EINVAL);
  assert_int_equal(qp_auth_amount_major(1, "U$D", out), QP_EINVAL);
}

static const char *spc(const char *payment_json) {
  static const char *const tops[] = {"https://shop.example"};
  qp_auth_spc_expect_t ex = {"pay.example", tops, 1, "Coffee", NULL, "USD", "12.34",
                             "Card 1234", "https://pay.example/card.png"};
  char text[1024];
  snprintf(text, sizeof text, "{\"type\":\"payment.get\"%s%s}", payment_json ? ",\"payment\":" : "",
           payment_json ? payment_json : "");
  json_t *cd = json_loads(text, 0, NULL);
  assert_non_null(cd);
  static qp_auth_fail_t fail;
  memset(&fail, 0, sizeof fail);
  int rc = qp_auth_spc_check(cd, &ex, &fail);
  json_decref(cd);
  return rc == 0 ? NULL : fail.message;
}

#define GOOD_TOTAL "\"total\":{\"currency\":\"USD\",\"value\":\"12.34\"}"
#define GOOD_INSTR "\"instrument\":{\"displayName\":\"Card 1234\"," \
                   "\"icon\":\"https://pay.example/card.png\"}"
#define GOOD_HEAD "{\"rpId\":\"pay.example\",\"topOrigin\":\"https://shop.example\","

static void test_spc_payment_member(void **state) {
  (void)state;
  assert_null(spc(GOOD_HEAD "\"payeeName\":\"Coffee\"," GOOD_TOTAL "," GOOD_INSTR "}"));
  static const struct {
    const char *json, *member;
  } bad[] = {
      {NULL, "\"payment\""},
      {"{\"rpId\":\"evil.example\",\"topOrigin\":\"https://shop.example\",\"payeeName\":"
       "\"Coffee\"," GOOD_TOTAL "," GOOD_INSTR "}", "rpId"},
      {"{\"rpId\":\"pay.example\",\"topOrigin\":\"https://evil.example\",\"payeeName\":"
       "\"Coffee\"," GOOD_TOTAL "," GOOD_INSTR "}", "topOrigin"},
      {GOOD_HEAD "\"payeeName\":\"Tea\"," GOOD_TOTAL "," GOOD_INSTR "}", "payeeName"},
      {GOOD_HEAD GOOD_TOTAL "," GOOD_INSTR "}", "payeeName"},
      {GOOD_HEAD "\"payeeName\":\"Coffee\",\"payeeOrigin\":\"https://x\"," GOOD_TOTAL ","
       GOOD_INSTR "}", "payeeOrigin"},
      {GOOD_HEAD "\"payeeName\":\"Coffee\",\"total\":{\"currency\":\"EUR\",\"value\":\"12.34\"},"
       GOOD_INSTR "}", "total.currency"},
      {GOOD_HEAD "\"payeeName\":\"Coffee\",\"total\":{\"currency\":\"USD\",\"value\":\"12.35\"},"
       GOOD_INSTR "}", "total.value"},
      {GOOD_HEAD "\"payeeName\":\"Coffee\",\"total\":{\"currency\":\"USD\",\"value\":\"12.340\"},"
       GOOD_INSTR "}", "total.value"},
      {GOOD_HEAD "\"payeeName\":\"Coffee\"," GOOD_TOTAL ",\"instrument\":{\"displayName\":"
       "\"Card 9999\",\"icon\":\"https://pay.example/card.png\"}}", "instrument.displayName"},
      {GOOD_HEAD "\"payeeName\":\"Coffee\"," GOOD_TOTAL ",\"instrument\":{\"displayName\":"
       "\"Card 1234\",\"icon\":\"https://evil/x.png\"}}", "instrument.icon"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *message = spc(bad[i].json);
    assert_non_null(message);
    if (strstr(message, bad[i].member) == NULL) fail_msg("%zu: %s", i, message);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_canonical_bytes),
      cmocka_unit_test(test_every_field_changes_the_challenge),
      cmocka_unit_test(test_bad_fields),
      cmocka_unit_test(test_major_units),
      cmocka_unit_test(test_spc_payment_member),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
