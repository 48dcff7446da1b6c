/*
 * test_hash.c - known answers for the hashes behind the suites: SM3 from
 * GB/T 32905-2016 Appendix A ("abc" and "abcd" x 16), SHA-256 from FIPS
 * 180-4, and the suite names and the hash each suite maps to.
 */
#include <string.h>

#include "hex.h"
#include "test_util.h"
#include "base/err.h"
#include "crypto/crypto.h"

/* GB/T 32905-2016 Appendix A.1 and A.2. */
static void test_sm3_standard_vectors(void **state) {
  (void)state;
  uint8_t out[QP_HASH_SIZE];
  assert_int_equal(qp_sm3(out, "abc", 3), 0);
  assert_hex_equal(out, sizeof out,
                   "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
  char abcd16[65];
  for (int i = 0; i < 16; i++) memcpy(abcd16 + 4 * i, "abcd", 4);
  assert_int_equal(qp_sm3(out, abcd16, 64), 0);
  assert_hex_equal(out, sizeof out,
                   "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
  /* The empty message, with and without a pointer. */
  uint8_t again[QP_HASH_SIZE];
  assert_int_equal(qp_sm3(out, NULL, 0), 0);
  assert_int_equal(qp_sm3(again, "", 0), 0);
  assert_memory_equal(out, again, sizeof out);
  assert_hex_equal(out, sizeof out,
                   "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b");
}

/* FIPS 180-4 examples ("abc", two blocks) and the empty string. */
static void test_sha256_standard_vectors(void **state) {
  (void)state;
  uint8_t out[QP_HASH_SIZE];
  qp_sha256(out, "abc", 3);
  assert_hex_equal(out, sizeof out,
                   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  qp_sha256(out, two, strlen(two));
  assert_hex_equal(out, sizeof out,
                   "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  qp_sha256(out, "", 0);
  assert_hex_equal(out, sizeof out,
                   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_suite_names(void **state) {
  (void)state;
  qp_suite_t suite = 0;
  assert_int_equal(qp_suite_parse("ed25519", 7, &suite), 0);
  assert_int_equal(suite, QP_SUITE_ED25519);
  assert_string_equal(qp_suite_name(suite), "ed25519");
  assert_int_equal(qp_suite_parse("sm2", 3, &suite), 0);
  assert_int_equal(suite, QP_SUITE_SM2);
  assert_string_equal(qp_suite_name(suite), "sm2");
  /* The parser reads exactly len bytes. */
  assert_int_equal(qp_suite_parse("sm2xyz", 3, &suite), 0);
  static const char *const bad[] = {"", "ED25519", "SM2", "sm3", "sm2 ", " sm2", "ed2551",
                                    "ed25519\n", "sm", "ed25519ph"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    suite = QP_SUITE_SM2;
    assert_int_equal(qp_suite_parse(bad[i], strlen(bad[i]), &suite), QP_EINVAL);
    assert_int_equal(suite, QP_SUITE_SM2); /* untouched on failure */
  }
  assert_int_equal(qp_suite_parse(NULL, 3, &suite), QP_EINVAL);
  assert_null(qp_suite_name((qp_suite_t)0));
  assert_null(qp_suite_name((qp_suite_t)3));
}

/* The ed25519 suite hashes with BLAKE2b-256, the sm2 suite with SM3. */
static void test_suite_hash_picks_the_suite_primitive(void **state) {
  (void)state;
  uint8_t got[QP_HASH_SIZE], want[QP_HASH_SIZE];
  assert_int_equal(qp_suite_hash(QP_SUITE_ED25519, got, "abc", 3), 0);
  qp_hash256(want, "abc", 3);
  assert_memory_equal(got, want, sizeof got);
  /* RFC 7693 has no BLAKE2b-256 vector; this one is pinned from libsodium and
   * Python's hashlib.blake2b(b"abc", digest_size=32). */
  assert_hex_equal(got, sizeof got,
                   "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  assert_int_equal(qp_suite_hash(QP_SUITE_SM2, got, "abc", 3), 0);
  assert_hex_equal(got, sizeof got,
                   "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
  memset(got, 0xAA, sizeof got);
  assert_int_equal(qp_suite_hash((qp_suite_t)7, got, "abc", 3), QP_EINVAL);
  uint8_t zero[QP_HASH_SIZE] = {0};
  assert_memory_equal(got, zero, sizeof got);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sm3_standard_vectors),
      cmocka_unit_test(test_sha256_standard_vectors),
      cmocka_unit_test(test_suite_names),
      cmocka_unit_test(test_suite_hash_picks_the_suite_primitive),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
