/*
 * test_emv.c - EMV(R) QR Code Merchant-Presented Mode (src/payments/emv.c,
 * emv_parse.c): the CRC-16/CCITT-FALSE check value, EMVCo's own example
 * payload and a published Indonesian (QRIS) payload parsed with their CRCs,
 * an order's payload encoded and parsed back, amounts in major units, and
 * every refusal naming its tag.
 */
#include <stdio.h>
#include <string.h>

#include "test_util.h"
#include "base/err.h"
#include "payments/emv.h"

/* The example payload of the EMV QRCPS MPM specification: templates 29,
 * 31, 62, 64 and 91, Chinese characters counted as characters in 64,
 * objects not in ascending order, CRC A13A. */
static const char EMVCO_EXAMPLE[] =
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678"
    "520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104\xe6\x9c\x80\xe4\xbd\xb3"
    "\xe8\xbf\x90\xe8\xbe\x93" "0202\xe5\x8c\x97\xe4\xba\xac"
    "540523.7253031565502016233030412340603***0708A60086670902ME91320016A011223344998877"
    "0708123456786304A13A";

/* A QRIS payload published by a payment gateway (CRC B00A). */
static const char QRIS_EXAMPLE[] =
    "00020101021226570011ID.DANA.WWW011893600915015706056102091570605610303UME51440014ID.CO."
    "QRIS.WWW0215ID20210807329890303UME5204893153033605405100005802ID5906XENDIT6015Kota "
    "Jakarta Se61051219062720115SzW8BPHhw35i1vT60490011ID.DANA.WWW0425MER202107140077450960"
    "8641050116304B00A";

static void test_crc_check_value(void **state) {
  (void)state;
  assert_int_equal(qp_emv_crc16((const uint8_t *)"123456789", 9), 0x29B1);
  assert_int_equal(qp_emv_crc16((const uint8_t *)"", 0), 0xFFFF);
}

static void want_value(const qp_emv_payload_t *p, const char *path, const char *want) {
  const qp_emv_object_t *o = qp_emv_find(p, path);
  if (o == NULL) fail_msg("no %s", path);
  if (o->value_bytes != strlen(want) || memcmp(o->value, want, o->value_bytes) != 0)
    fail_msg("%s: %.*s, want %s", path, (int)o->value_bytes, o->value, want);
}

static void test_published_examples(void **state) {
  (void)state;
  static qp_emv_payload_t p;
  qp_emv_error_t err;
  int rc = qp_emv_parse(EMVCO_EXAMPLE, strlen(EMVCO_EXAMPLE), &p, &err);
  if (rc != 0) fail_msg("%s: %s", err.path, err.message);
  assert_int_equal(p.crc, 0xA13A);
  want_value(&p, "29.00", "D15600000000");
  want_value(&p, "31.03", "12345678");
  want_value(&p, "54", "23.72");
  want_value(&p, "53", "156");
  want_value(&p, "64.01", "\xe6\x9c\x80\xe4\xbd\xb3\xe8\xbf\x90\xe8\xbe\x93");
  assert_int_equal(qp_emv_find(&p, "64.01")->value_chars, 4);
  assert_int_equal(qp_emv_find(&p, "64.01")->value_bytes, 12);
  assert_true(qp_emv_find(&p, "62")->is_template);
  assert_int_equal(qp_emv_find(&p, "62")->children, 4);
  rc = qp_emv_parse(QRIS_EXAMPLE, strlen(QRIS_EXAMPLE), &p, &err);
  if (rc != 0) fail_msg("%s: %s", err.path, err.message);
  assert_int_equal(p.crc, 0xB00A);
  want_value(&p, "26.00", "ID.DANA.WWW");
  want_value(&p, "60", "Kota Jakarta Se");
}

static void test_order_round_trip(void **state) {
  (void)state;
  char amount[QP_EMV_AMOUNT_TEXT_MAX], out[QP_EMV_PAYLOAD_BYTES_MAX + 1], detail[200];
  assert_int_equal(qp_emv_amount_format(1234, 2, amount), 0);
  qp_emv_order_t o = {"com.quipu.pay", "0123456789abcdef0123456789abcdef", "5812", 840,
                      amount, "US", "Coffee Shop", "Lima", "INV-7"};
  assert_int_equal(qp_emv_encode_order(&o, out, detail, sizeof detail), 0);
  /* Every object spelled out by hand; only the CRC is left to the check below. */
  const char *want = "000201010212"
                     "26530013com.quipu.pay01320123456789abcdef0123456789abcdef"
                     "52045812530384054051" "2.345802US5911Coffee Shop6004Lima62090505INV-76304";
  assert_int_equal(strlen(out), strlen(want) + 4);
  assert_memory_equal(out, want, strlen(want));
  static qp_emv_payload_t p;
  qp_emv_error_t err;
  assert_int_equal(qp_emv_parse(out, strlen(out), &p, &err), 0);
  want_value(&p, "01", "12");
  want_value(&p, "26.01", "0123456789abcdef0123456789abcdef");
  want_value(&p, "62.05", "INV-7");
  char crc[5];
  snprintf(crc, sizeof crc, "%04X", (unsigned)qp_emv_crc16((const uint8_t *)out,
                                                          strlen(out) - 4));
  assert_string_equal(out + strlen(out) - 4, crc);
  o.reference = NULL;
  assert_int_equal(qp_emv_encode_order(&o, out, detail, sizeof detail), 0);
  assert_non_null(strstr(out, "6004Lima6304"));
  o.name = "A name that is longer than twenty-five";
  assert_int_equal(qp_emv_encode_order(&o, out, detail, sizeof detail), QP_EINVAL);
  assert_non_null(strstr(detail, "59"));
  o.name = "Caf\xc3\xa9";
  assert_int_equal(qp_emv_encode_order(&o, out, detail, sizeof detail), QP_EINVAL);
  o.name = "Cafe";
  o.mcc = "58";
  assert_int_equal(qp_emv_encode_order(&o, out, detail, sizeof detail), QP_EINVAL);
  assert_non_null(strstr(detail, "52"));
}

static void test_amounts(void **state) {
  (void)state;
  char out[QP_EMV_AMOUNT_TEXT_MAX];
  struct { qp_u128 amount; int decimals; const char *want; } ok[] = {
      {1234, 2, "12.34"}, {5, 2, "0.05"}, {0, 2, "0.00"}, {7, 0, "7"}, {5, 3, "0.005"},
      {12345, 4, "1.2345"}, {100, 2, "1.00"}, {1234567890123ull, 0, "1234567890123"},
      {99999999999ull, 2, "999999999.99"}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    if (qp_emv_amount_format(ok[i].amount, ok[i].decimals, out) != 0) fail_msg("%zu", i);
    assert_string_equal(out, ok[i].want);
  }
  assert_int_equal(qp_emv_amount_format(10000000000000ull, 0, out), QP_ERANGE);
  assert_int_equal(qp_emv_amount_format(1000000000000ull, 2, out), QP_ERANGE);
  assert_int_equal(qp_emv_amount_format(1, 5, out), QP_EINVAL);
}

/* body + "6304" + its correct CRC. */
static const char *with_crc(const char *body) {
  static char buf[QP_EMV_PAYLOAD_BYTES_MAX + 16];
  int n = snprintf(buf, sizeof buf, "%s6304", body);
  snprintf(buf + n, sizeof buf - (size_t)n, "%04X",
           (unsigned)qp_emv_crc16((const uint8_t *)buf, (size_t)n));
  return buf;
}

#define HEAD "000201010212"
#define ACCT "26170013com.quipu.pay"
#define TAIL "5204581253038405802US5904Cafe6004Lima"

static void expect_refused(const char *payload, const char *path) {
  static qp_emv_payload_t p;
  qp_emv_error_t err;
  int rc = qp_emv_parse(payload, strlen(payload), &p, &err);
  if (rc != QP_EPARSE) fail_msg("accepted: %s", payload);
  if (strcmp(err.path, path) != 0) fail_msg("%s: path %s (%s), want %s", payload, err.path,
                                            err.message, path);
  assert_true(strlen(err.message) > 0);
  assert_int_equal(p.count, 0);
}

static void test_refusals(void **state) {
  (void)state;
  static qp_emv_payload_t p;
  qp_emv_error_t err;
  char good[QP_EMV_PAYLOAD_BYTES_MAX + 16];
  snprintf(good, sizeof good, "%s", with_crc(HEAD ACCT TAIL));
  assert_int_equal(qp_emv_parse(good, strlen(good), &p, &err), 0);
  char bad[QP_EMV_PAYLOAD_BYTES_MAX + 32];
  expect_refused("", "00");
  expect_refused(with_crc("010212" ACCT TAIL), "01");
  expect_refused(with_crc("000202" ACCT TAIL), "00");
  expect_refused(with_crc("0002010102" ACCT TAIL), "01");
  expect_refused("00A1", "00");
  expect_refused("000501", "00");
  expect_refused("0000", "00");
  expect_refused("X00201", "@0");
  expect_refused("0002010102125", "@12");
  expect_refused("000201010212X", "@12");
  expect_refused(with_crc(HEAD "010211" ACCT TAIL), "01");
  expect_refused(with_crc("000201010213" ACCT TAIL), "01");
  expect_refused(with_crc(HEAD "26080104abcd" TAIL), "26.00");
  expect_refused(with_crc(HEAD "26060013ab" TAIL), "26.00");
  expect_refused(with_crc(HEAD "26080002ab01" TAIL), "26.01");
  expect_refused(with_crc(HEAD "261200020a0002bb" TAIL), "26.00");
  expect_refused(with_crc(HEAD ACCT TAIL "52045812"), "52");
  expect_refused(with_crc(HEAD ACCT "520441A153038405802US5904Cafe6004Lima"), "52");
  expect_refused(with_crc(HEAD ACCT "5204581253028405802US5904Cafe6004Lima"), "53");
  expect_refused(with_crc(HEAD ACCT TAIL "540612.3.4"), "54");
  expect_refused(with_crc(HEAD ACCT TAIL "54021."), "54");
  expect_refused(with_crc(HEAD ACCT TAIL "5414123456789012.0"), "54");
  expect_refused(with_crc(HEAD ACCT "5204581253038405803USA5904Cafe6004Lima"), "58");
  expect_refused(with_crc(HEAD ACCT "5204581253038405802US5926abcdefghijklmnopqrstuvwxyz"
                          "6004Lima"), "59");
  expect_refused(with_crc(HEAD ACCT "5204581253038405802US5902\xff\xfe" "6004Lima"), "59");
  expect_refused(with_crc(HEAD ACCT "5204581253038405802US5902a\x01" "6004Lima"), "59");
  expect_refused(with_crc(HEAD ACCT "5204581253038405802US5902\xc0\xaf" "6004Lima"), "59");
  expect_refused(with_crc(HEAD ACCT "5204581253038405802US5904Cafe6016abcdefghijklmnop"),
                 "60");
  expect_refused(with_crc(HEAD ACCT TAIL "550204"), "55");
  snprintf(bad, sizeof bad, "%s", good);
  bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
  expect_refused(bad, "63");
  snprintf(bad, sizeof bad, "%s", HEAD ACCT TAIL "6304abcd");
  expect_refused(bad, "63");
  snprintf(bad, sizeof bad, "%s0702ab", good);
  expect_refused(bad, "63");
  snprintf(bad, sizeof bad, "%s", HEAD ACCT TAIL "63030000");
  expect_refused(bad, "63");
  expect_refused(with_crc(HEAD ACCT "53038405802US5904Cafe6004Lima"), "52");
  expect_refused(with_crc(HEAD ACCT "5204581253038405802US6004Lima"), "59");
  expect_refused(with_crc(HEAD TAIL), "26");
  expect_refused(HEAD ACCT TAIL, "63");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crc_check_value), cmocka_unit_test(test_published_examples),
      cmocka_unit_test(test_order_round_trip), cmocka_unit_test(test_amounts),
      cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
