/*
 * test_cose.c - COSE_Key decoding and the strict CBOR subset: each wrong key
 * type, curve, length, point off the curve, small-order Ed25519 point, short
 * RSA modulus and unknown algorithm is refused with its code; duplicate map
 * keys, indefinite lengths, huge lengths, tags, floats, deep nesting and
 * truncation are refused as "cbor_invalid"; a key followed by more bytes
 * reports how many bytes it took.
 */
#include "auth_test.h"

#include "auth/cbor_strict.h"
#include "base/err.h"

/* Decodes the COSE_Key in b and returns the status; *code gets the refusal. */
static int decode(const bytes_t *b, const char **code) {
  qp_auth_cose_key_t key;
  qp_auth_fail_t fail = {0};
  size_t used = 0;
  int rc = qp_auth_cose_decode(b->data, b->len, &used, &key, &fail);
  *code = fail.code;
  if (rc == 0) {
    assert_non_null(key.pkey);
    assert_int_equal(used, b->len);
    qp_auth_cose_key_deinit(&key);
  }
  return rc;
}

static void expect_code(cbor_item_t *item, const char *want) {
  bytes_t b = soft_encode(item);
  const char *code = NULL;
  assert_int_equal(decode(&b, &code), QP_EINVAL);
  assert_string_equal(code, want);
  free(b.data);
}

static void expect_hex(const char *hex, const char *want) {
  bytes_t b = unhex(hex);
  const char *code = NULL;
  assert_int_equal(decode(&b, &code), QP_EINVAL);
  assert_string_equal(code, want);
  free(b.data);
}

static void test_generated_keys_decode(void **state) {
  (void)state;
  const int64_t algs[] = {QP_AUTH_COSE_ES256, QP_AUTH_COSE_EDDSA, QP_AUTH_COSE_RS256};
  for (size_t i = 0; i < 3; i++) {
    EVP_PKEY *k = soft_keygen(algs[i]);
    bytes_t b = soft_encode(soft_cose_item(k, algs[i]));
    const char *code = NULL;
    assert_int_equal(decode(&b, &code), 0);
    free(b.data);
    EVP_PKEY_free(k);
  }
}

/* An EC2 map with the given kty, alg, crv, x and y lengths; y_len 0: no y. */
static cbor_item_t *ec2(int64_t kty, int64_t alg, int64_t crv, size_t x_len, size_t y_len,
                        uint8_t fill) {
  uint8_t coord[64];
  memset(coord, fill, sizeof coord);
  cbor_item_t *m = cbor_new_definite_map(5);
  map_add(m, cbor_int64(1), cbor_int64(kty));
  map_add(m, cbor_int64(3), cbor_int64(alg));
  map_add(m, cbor_int64(-1), cbor_int64(crv));
  map_add(m, cbor_int64(-2), cbor_build_bytestring(coord, x_len));
  if (y_len) map_add(m, cbor_int64(-3), cbor_build_bytestring(coord, y_len));
  return m;
}

static void test_wrong_key_types_and_curves(void **state) {
  (void)state;
  expect_code(ec2(2, QP_AUTH_COSE_EDDSA, 1, 32, 32, 1), QP_AUTH_COSE_KEY_INVALID); /* EC2+EdDSA */
  expect_code(ec2(1, QP_AUTH_COSE_ES256, 1, 32, 32, 1), QP_AUTH_COSE_KEY_INVALID); /* OKP+ES256 */
  expect_code(ec2(3, QP_AUTH_COSE_ES256, 1, 32, 32, 1), QP_AUTH_COSE_KEY_INVALID); /* RSA+ES256 */
  expect_code(ec2(2, QP_AUTH_COSE_ES256, 2, 32, 32, 1), QP_AUTH_COSE_KEY_INVALID); /* P-384 */
  expect_code(ec2(1, QP_AUTH_COSE_EDDSA, 7, 32, 0, 1), QP_AUTH_COSE_KEY_INVALID);  /* Ed448 */
  expect_code(ec2(2, -35, 2, 48, 48, 1), QP_AUTH_ALGORITHM_NOT_ALLOWED);           /* ES384 */
  expect_code(ec2(2, -999, 1, 32, 32, 1), QP_AUTH_ALGORITHM_NOT_ALLOWED);
  /* kty as text, alg missing. */
  cbor_item_t *m = cbor_new_definite_map(2);
  map_add(m, cbor_int64(1), cbor_build_string("EC2"));
  map_add(m, cbor_int64(3), cbor_int64(-7));
  expect_code(m, QP_AUTH_COSE_KEY_INVALID);
  m = cbor_new_definite_map(1);
  map_add(m, cbor_int64(1), cbor_int64(2));
  expect_code(m, QP_AUTH_COSE_KEY_INVALID);
  expect_code(cbor_build_bytestring((const uint8_t *)"k", 1), QP_AUTH_COSE_KEY_INVALID);
}

static void test_wrong_lengths_and_points(void **state) {
  (void)state;
  expect_code(ec2(2, QP_AUTH_COSE_ES256, 1, 31, 32, 1), QP_AUTH_COSE_KEY_INVALID);
  expect_code(ec2(2, QP_AUTH_COSE_ES256, 1, 32, 33, 1), QP_AUTH_COSE_KEY_INVALID);
  expect_code(ec2(2, QP_AUTH_COSE_ES256, 1, 32, 0, 1), QP_AUTH_COSE_KEY_INVALID); /* no y */
  /* (1..1, 1..1) and (0, 0) are not points of P-256. */
  expect_code(ec2(2, QP_AUTH_COSE_ES256, 1, 32, 32, 1), QP_AUTH_COSE_KEY_INVALID);
  expect_code(ec2(2, QP_AUTH_COSE_ES256, 1, 32, 32, 0), QP_AUTH_COSE_KEY_INVALID);
  /* A real key with y changed by one bit is off the curve. */
  EVP_PKEY *k = soft_keygen(QP_AUTH_COSE_ES256);
  bytes_t b = soft_encode(soft_cose_item(k, QP_AUTH_COSE_ES256));
  b.data[b.len - 1] ^= 1;
  const char *code = NULL;
  assert_int_equal(decode(&b, &code), QP_EINVAL);
  assert_string_equal(code, QP_AUTH_COSE_KEY_INVALID);
  free(b.data);
  EVP_PKEY_free(k);
  /* Ed25519: the identity (small order) and a non-canonical encoding. */
  cbor_item_t *m = ec2(1, QP_AUTH_COSE_EDDSA, 6, 32, 0, 0);
  bytes_t id = soft_encode(m);
  id.data[id.len - 32] = 1; /* y = 1: the neutral element */
  assert_int_equal(decode(&id, &code), QP_EINVAL);
  assert_string_equal(code, QP_AUTH_COSE_KEY_INVALID);
  free(id.data);
  expect_code(ec2(1, QP_AUTH_COSE_EDDSA, 6, 32, 0, 0xFF), QP_AUTH_COSE_KEY_INVALID);
  expect_code(ec2(1, QP_AUTH_COSE_EDDSA, 6, 31, 0, 3), QP_AUTH_COSE_KEY_INVALID);
}

static cbor_item_t *rsa(size_t n_len, const uint8_t *e, size_t e_len) {
  uint8_t n[512];
  memset(n, 0xC3, sizeof n);
  cbor_item_t *m = cbor_new_definite_map(4);
  map_add(m, cbor_int64(1), cbor_int64(3));
  map_add(m, cbor_int64(3), cbor_int64(QP_AUTH_COSE_RS256));
  map_add(m, cbor_int64(-1), cbor_build_bytestring(n, n_len));
  map_add(m, cbor_int64(-2), cbor_build_bytestring(e, e_len));
  return m;
}

static void test_rsa_limits(void **state) {
  (void)state;
  const uint8_t f4[] = {1, 0, 1}, even[] = {1, 0, 2}, one[] = {1}, lead0[] = {0, 1, 0, 1};
  expect_code(rsa(128, f4, 3), QP_AUTH_COSE_KEY_INVALID); /* 1024 bits */
  expect_code(rsa(255, f4, 3), QP_AUTH_COSE_KEY_INVALID); /* 2040 bits */
  expect_code(rsa(256, even, 3), QP_AUTH_COSE_KEY_INVALID);
  expect_code(rsa(256, one, 1), QP_AUTH_COSE_KEY_INVALID);
  expect_code(rsa(256, lead0, 4), QP_AUTH_COSE_KEY_INVALID);
  bytes_t ok = soft_encode(rsa(256, f4, 3));
  const char *code = NULL;
  assert_int_equal(decode(&ok, &code), 0);
  free(ok.data);
}

/* The strict CBOR subset, on a COSE_Key's bytes. */
static void test_cbor_edge_cases(void **state) {
  (void)state;
  /* {1: 2, 1: 2}: the same key twice. */
  expect_hex("a201020102", QP_AUTH_CBOR_INVALID);
  /* {"a": 1, "a": 1} */
  expect_hex("a2616101616101", QP_AUTH_CBOR_INVALID);
  /* Indefinite-length map {_ 1: 2}, array, byte string and text string. */
  expect_hex("bf0102ff", QP_AUTH_CBOR_INVALID);
  expect_hex("a1019f01ff", QP_AUTH_CBOR_INVALID);
  expect_hex("a1015f4101ff", QP_AUTH_CBOR_INVALID);
  expect_hex("a1017f6161ff", QP_AUTH_CBOR_INVALID);
  /* Huge lengths: an array of 2^32-1 entries, a map of 2^63 pairs, a byte
   * string of 2^64-1 bytes, all with a few bytes behind them. */
  expect_hex("a1019affffffff0102", QP_AUTH_CBOR_INVALID);
  expect_hex("bb800000000000000001", QP_AUTH_CBOR_INVALID);
  expect_hex("a1015bffffffffffffffff00", QP_AUTH_CBOR_INVALID);
  /* A tag, a float, undefined, a lone break. */
  expect_hex("a101c10102", QP_AUTH_CBOR_INVALID);
  expect_hex("a101f93c00", QP_AUTH_CBOR_INVALID);
  expect_hex("a101f7", QP_AUTH_CBOR_INVALID);
  expect_hex("ff", QP_AUTH_CBOR_INVALID);
  /* Truncated: a map of two pairs with one; reserved additional info 28. */
  expect_hex("a20102", QP_AUTH_CBOR_INVALID);
  expect_hex("a1011c", QP_AUTH_CBOR_INVALID);
  /* Nested 9 deep. */
  expect_hex("a10181818181818181818101", QP_AUTH_CBOR_INVALID);
  expect_hex("", QP_AUTH_CBOR_INVALID);
}

/* A key followed by other bytes: the decoder says where the key ends. */
static void test_used_bytes(void **state) {
  (void)state;
  EVP_PKEY *k = soft_keygen(QP_AUTH_COSE_EDDSA);
  bytes_t b = soft_encode(soft_cose_item(k, QP_AUTH_COSE_EDDSA));
  uint8_t *more = malloc(b.len + 3);
  memcpy(more, b.data, b.len);
  memcpy(more + b.len, "\xa0\x01\x02", 3);
  qp_auth_cose_key_t key;
  size_t used = 0;
  assert_int_equal(qp_auth_cose_decode(more, b.len + 3, &used, &key, NULL), 0);
  assert_int_equal(used, b.len);
  assert_int_equal(key.alg, QP_AUTH_COSE_EDDSA);
  qp_auth_cose_key_deinit(&key);
  qp_auth_cose_key_deinit(&key); /* twice is safe */
  free(more);
  free(b.data);
  EVP_PKEY_free(k);
}

/* Signatures: each algorithm verifies its own and refuses a changed message,
 * the wrong algorithm and a raw r||s ECDSA signature (WebAuthn uses DER). */
static void test_verify(void **state) {
  (void)state;
  const int64_t algs[] = {QP_AUTH_COSE_ES256, QP_AUTH_COSE_EDDSA, QP_AUTH_COSE_RS256};
  bytes_t head = {(uint8_t *)"authenticator data", 18};
  uint8_t cdh[32];
  qp_sha256(cdh, "{}", 2);
  for (size_t i = 0; i < 3; i++) {
    EVP_PKEY *k = soft_keygen(algs[i]);
    bytes_t sig = soft_sign(k, algs[i], &head, "{}");
    assert_int_equal(qp_auth_verify(k, algs[i], head.data, head.len, cdh, 32, sig.data, sig.len),
                     0);
    cdh[0] ^= 1;
    assert_int_equal(qp_auth_verify(k, algs[i], head.data, head.len, cdh, 32, sig.data, sig.len),
                     QP_EBADSIG);
    cdh[0] ^= 1;
    assert_int_equal(qp_auth_verify(k, algs[(i + 1) % 3], head.data, head.len, cdh, 32, sig.data,
                                    sig.len), QP_EBADSIG);
    assert_int_equal(qp_auth_verify(k, algs[i], head.data, head.len, cdh, 32, sig.data, 0),
                     QP_EBADSIG);
    free(sig.data);
    EVP_PKEY_free(k);
  }
  uint8_t raw[64];
  memset(raw, 0x42, sizeof raw);
  EVP_PKEY *k = soft_keygen(QP_AUTH_COSE_ES256);
  assert_int_equal(qp_auth_verify(k, QP_AUTH_COSE_ES256, head.data, head.len, cdh, 32, raw, 64),
                   QP_EBADSIG);
  EVP_PKEY_free(k);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_generated_keys_decode),
      cmocka_unit_test(test_wrong_key_types_and_curves),
      cmocka_unit_test(test_wrong_lengths_and_points),
      cmocka_unit_test(test_rsa_limits),
      cmocka_unit_test(test_cbor_edge_cases),
      cmocka_unit_test(test_used_bytes),
      cmocka_unit_test(test_verify),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
