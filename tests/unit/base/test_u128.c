/*
 * test_u128.c - unit tests of base/u128: decimal parsing and formatting,
 * checked arithmetic and the fixed byte orders.
 *
 * Money and ids cross every boundary of quipu as 128-bit integers, as
 * decimal text (JSON) or as fixed-order bytes (journal, index keys).  These
 * tests pin the edges: 0, 1, 2^64, 2^128-1, one past the maximum, and every
 * shape of text the parser must refuse rather than half-read.
 */
#include <string.h>

#include "test_util.h"
#include "base/err.h"
#include "base/u128.h"

#define U128_2_64 ((qp_u128)1 << 64)
#define U128_MAX_TEXT "340282366920938463463374607431768211455"
#define U128_MAX_PLUS_1_TEXT "340282366920938463463374607431768211456"

#define assert_u128_equal(a, b) assert_u128_equal_at((a), (b), __FILE__, __LINE__)

/* Fails with both values in decimal: cmocka's integer asserts stop at 64 bits. */
static void assert_u128_equal_at(qp_u128 a, qp_u128 b, const char *file, int line) {
  if (a == b) return;
  char x[QP_U128_BUF_SIZE], y[QP_U128_BUF_SIZE];
  qp_u128_format(a, x);
  qp_u128_format(b, y);
  print_error("%s != %s\n", x, y);
  _fail(file, line);
}

/* Parses a NUL-terminated string; returns the status, value in *out. */
static int parse(const char *text, qp_u128 *out) { return qp_u128_parse(text, strlen(text), out); }

static void test_round_trips(void **state) {
  (void)state;
  static const struct {
    qp_u128 value;
    const char *text;
  } cases[] = {
      {0, "0"},
      {1, "1"},
      {9, "9"},
      {10, "10"},
      {U128_2_64 - 1, "18446744073709551615"},
      {U128_2_64, "18446744073709551616"},
      {U128_2_64 + 1, "18446744073709551617"},
      {QP_U128_MAX - 1, "340282366920938463463374607431768211454"},
      {QP_U128_MAX, U128_MAX_TEXT},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[QP_U128_BUF_SIZE];
    memset(buf, 'x', sizeof buf);
    size_t n = qp_u128_format(cases[i].value, buf);
    assert_string_equal(buf, cases[i].text);
    assert_int_equal(n, strlen(cases[i].text));
    qp_u128 back = 12345;
    assert_int_equal(parse(buf, &back), 0);
    assert_u128_equal(back, cases[i].value);
  }
}

static void test_max_uses_the_whole_buffer(void **state) {
  (void)state;
  char buf[QP_U128_BUF_SIZE];
  size_t n = qp_u128_format(QP_U128_MAX, buf);
  assert_int_equal(n, QP_U128_DEC_MAX);
  assert_int_equal(buf[QP_U128_DEC_MAX], '\0');
}

static void test_parse_reads_exactly_len_bytes(void **state) {
  (void)state;
  qp_u128 v = 0;
  assert_int_equal(qp_u128_parse("12x", 2, &v), 0);
  assert_u128_equal(v, 12);
  /* A NUL inside the counted length is a non-digit, not an end. */
  assert_int_equal(qp_u128_parse("1\0"
                                 "2",
                                 3, &v),
                   QP_EPARSE);
}

static void test_leading_zeros_are_allowed(void **state) {
  (void)state;
  qp_u128 v = 0;
  assert_int_equal(parse("000123", &v), 0);
  assert_u128_equal(v, 123);
  assert_int_equal(parse("0000", &v), 0);
  assert_u128_equal(v, 0);
  /* 40 digits, but the value fits: the limit is on the value, not the text. */
  assert_int_equal(parse("0" U128_MAX_TEXT, &v), 0);
  assert_u128_equal(v, QP_U128_MAX);
}

static void test_rejects_malformed_text(void **state) {
  (void)state;
  static const char *const bad[] = {"",    "-1",  "+1",  " 1", "1 ",  "1a", "a1",
                                    "0x1", "1.0", "1e3", "１", "\t1", "1\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    qp_u128 v = 777;
    int rc = parse(bad[i], &v);
    if (rc != QP_EPARSE) print_error("input \"%s\" gave %d\n", bad[i], rc);
    assert_int_equal(rc, QP_EPARSE);
    assert_u128_equal(v, 777); /* untouched on failure */
  }
  /* Regression (tests/fuzz/fuzz_u128.c): digits that overflow before a
   * non-digit are still "not a number", not "out of range". */
  static const char *const overflow_then_junk[] = {
      "3400066902823669209384634633746074317682209346001x",
      "99999999999999999999999999999999999999999-",
  };
  for (size_t i = 0; i < sizeof overflow_then_junk / sizeof overflow_then_junk[0]; i++) {
    qp_u128 w = 777;
    assert_int_equal(parse(overflow_then_junk[i], &w), QP_EPARSE);
    assert_u128_equal(w, 777);
  }
  qp_u128 v = 777;
  assert_int_equal(qp_u128_parse(NULL, 3, &v), QP_EPARSE);
  assert_int_equal(qp_u128_parse("1", 0, &v), QP_EPARSE);
  assert_u128_equal(v, 777);
}

static void test_rejects_out_of_range(void **state) {
  (void)state;
  static const char *const big[] = {
      U128_MAX_PLUS_1_TEXT,                       /* 2^128 */
      "340282366920938463463374607431768211465",  /* overflows in the last add */
      "999999999999999999999999999999999999999",  /* 39 nines */
      "1000000000000000000000000000000000000000", /* 40 digits: 10^39 */
      "3402823669209384634633746074317682114550", /* 40 digits: max * 10 */
      "99999999999999999999999999999999999999999999999999",
  };
  for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
    qp_u128 v = 777;
    int rc = parse(big[i], &v);
    if (rc != QP_ERANGE) print_error("input \"%s\" gave %d\n", big[i], rc);
    assert_int_equal(rc, QP_ERANGE);
    assert_u128_equal(v, 777);
  }
}

static void test_checked_arithmetic(void **state) {
  (void)state;
  qp_u128 out = 5;
  assert_false(qp_u128_add_overflow(QP_U128_MAX - 1, 1, &out));
  assert_u128_equal(out, QP_U128_MAX);
  out = 5;
  assert_true(qp_u128_add_overflow(QP_U128_MAX, 1, &out));
  assert_true(qp_u128_add_overflow(QP_U128_MAX, QP_U128_MAX, &out));
  assert_true(qp_u128_add_overflow((qp_u128)1 << 127, (qp_u128)1 << 127, &out));
  assert_false(qp_u128_add_overflow(U128_2_64 - 1, 1, &out)); /* carries into the high word */
  assert_u128_equal(out, U128_2_64);

  assert_false(qp_u128_sub_overflow(1, 1, &out));
  assert_u128_equal(out, 0);
  assert_false(qp_u128_sub_overflow(QP_U128_MAX, QP_U128_MAX, &out));
  assert_u128_equal(out, 0);
  assert_false(qp_u128_sub_overflow(U128_2_64, 1, &out)); /* borrows from the high word */
  assert_u128_equal(out, U128_2_64 - 1);
  out = 5;
  assert_true(qp_u128_sub_overflow(0, 1, &out));
  assert_true(qp_u128_sub_overflow(U128_2_64, U128_2_64 + 1, &out));
}

static void test_byte_orders(void **state) {
  (void)state;
  static const qp_u128 values[] = {0,
                                   1,
                                   0xFF,
                                   0x100,
                                   U128_2_64 - 1,
                                   U128_2_64,
                                   ((qp_u128)0x0123456789ABCDEFull << 64) | 0xFEDCBA9876543210ull,
                                   QP_U128_MAX - 1,
                                   QP_U128_MAX};
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    uint8_t le[16], be[16];
    qp_u128_store_le(le, values[i]);
    qp_u128_store_be(be, values[i]);
    assert_u128_equal(qp_u128_load_le(le), values[i]);
    assert_u128_equal(qp_u128_load_be(be), values[i]);
    for (int b = 0; b < 16; b++) assert_int_equal(le[b], be[15 - b]);
  }
  uint8_t out[16];
  qp_u128_store_le(out, 1);
  assert_int_equal(out[0], 1);
  assert_int_equal(out[15], 0);
  qp_u128_store_be(out, 1);
  assert_int_equal(out[0], 0);
  assert_int_equal(out[15], 1);
  qp_u128_store_le(out, ((qp_u128)0x0123456789ABCDEFull << 64) | 0xFEDCBA9876543210ull);
  assert_int_equal(out[0], 0x10);
  assert_int_equal(out[7], 0xFE);
  assert_int_equal(out[8], 0xEF);
  assert_int_equal(out[15], 0x01);
}

/* Big-endian keys must sort bytewise in numeric order (LMDB index keys). */
static void test_big_endian_sorts_numerically(void **state) {
  (void)state;
  static const qp_u128 ascending[] = {
      0, 1, 0xFF, 0x100, U128_2_64 - 1, U128_2_64, U128_2_64 + 1, (qp_u128)1 << 127, QP_U128_MAX};
  size_t n = sizeof ascending / sizeof ascending[0];
  for (size_t i = 0; i + 1 < n; i++) {
    uint8_t a[16], b[16];
    qp_u128_store_be(a, ascending[i]);
    qp_u128_store_be(b, ascending[i + 1]);
    assert_true(memcmp(a, b, 16) < 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trips),
      cmocka_unit_test(test_max_uses_the_whole_buffer),
      cmocka_unit_test(test_parse_reads_exactly_len_bytes),
      cmocka_unit_test(test_leading_zeros_are_allowed),
      cmocka_unit_test(test_rejects_malformed_text),
      cmocka_unit_test(test_rejects_out_of_range),
      cmocka_unit_test(test_checked_arithmetic),
      cmocka_unit_test(test_byte_orders),
      cmocka_unit_test(test_big_endian_sorts_numerically),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
