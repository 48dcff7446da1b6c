/*
 * auth_test.h - what the auth unit tests share: hex decoding of the
 * specification's vectors, the relying party of the WebAuthn test vectors
 * (RP ID example.org, origin https://example.org, top origin
 * https://example.com) and a small software authenticator built on OpenSSL
 * and libcbor, which makes keys, COSE_Keys, authenticator data and
 * signatures so that each refusal can be provoked on its own.
 */
#ifndef QP_TEST_AUTH_TEST_H
#define QP_TEST_AUTH_TEST_H

#include <cbor.h>
#include <openssl/core_names.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "auth/assert.h"
#include "auth/attest.h"
#include "crypto/crypto.h"

typedef struct {
  uint8_t *data; /* owned (free) */
  size_t len;
} bytes_t;

static inline int hex_nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Decodes hex text (fails the test on bad text); the caller frees .data. */
static inline bytes_t unhex(const char *hex) {
  size_t n = strlen(hex);
  assert_int_equal(n % 2, 0);
  bytes_t b = {malloc(n / 2 + 1), n / 2};
  assert_non_null(b.data);
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);
    assert_true(hi >= 0 && lo >= 0);
    b.data[i] = (uint8_t)(hi << 4 | lo);
  }
  return b;
}

static const char *const TEST_ORIGINS[] = {"https://example.org",
                                           "android:apk-key-hash:Jr7-zbW5E5lxbW1Y8TI7j9cA8_xJ"};
static const char *const TEST_TOP_ORIGINS[] = {"https://example.com"};
static const char *const TEST_CREATE[] = {"webauthn.create"};
static const char *const TEST_GET[] = {"webauthn.get"};
static const int64_t TEST_ALGS[] = {QP_AUTH_COSE_ES256, QP_AUTH_COSE_EDDSA, QP_AUTH_COSE_RS256};

static inline qp_auth_origin_policy_t test_policy(bool cross_origin) {
  qp_auth_origin_policy_t p = {TEST_ORIGINS, 2, cross_origin, TEST_TOP_ORIGINS, 1};
  return p;
}

/* ---- the software authenticator ---- */

/* A fresh key pair: "EC" (P-256), "ED25519" or "RSA" (2048 bits). */
static inline EVP_PKEY *soft_keygen(int64_t alg) {
  EVP_PKEY *k = alg == QP_AUTH_COSE_ES256   ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                : alg == QP_AUTH_COSE_EDDSA ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
                                            : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  assert_non_null(k);
  return k;
}

static inline void map_add(cbor_item_t *map, cbor_item_t *key, cbor_item_t *value) {
  assert_true(cbor_map_add(map, (struct cbor_pair){cbor_move(key), cbor_move(value)}));
}

static inline cbor_item_t *cbor_int64(int64_t v) {
  return v >= 0 ? cbor_build_uint64((uint64_t)v) : cbor_build_negint64((uint64_t)(-1 - v));
}

/* The COSE_Key of pkey's public half, as a libcbor map. */
static inline cbor_item_t *soft_cose_item(EVP_PKEY *pkey, int64_t alg) {
  cbor_item_t *m = cbor_new_definite_map(alg == QP_AUTH_COSE_EDDSA ? 4 : 5);
  uint8_t buf[600];
  size_t n = 0;
  if (alg == QP_AUTH_COSE_ES256) {
    assert_int_equal(EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, buf, 65, &n),
                     1);
    map_add(m, cbor_int64(1), cbor_int64(2));
    map_add(m, cbor_int64(3), cbor_int64(alg));
    map_add(m, cbor_int64(-1), cbor_int64(1));
    map_add(m, cbor_int64(-2), cbor_build_bytestring(buf + 1, 32));
    map_add(m, cbor_int64(-3), cbor_build_bytestring(buf + 33, 32));
  } else if (alg == QP_AUTH_COSE_EDDSA) {
    n = 32;
    assert_int_equal(EVP_PKEY_get_raw_public_key(pkey, buf, &n), 1);
    map_add(m, cbor_int64(1), cbor_int64(1));
    map_add(m, cbor_int64(3), cbor_int64(alg));
    map_add(m, cbor_int64(-1), cbor_int64(6));
    map_add(m, cbor_int64(-2), cbor_build_bytestring(buf, 32));
  } else {
    BIGNUM *bn = NULL, *be = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &bn), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &be), 1);
    uint8_t e[8];
    int nl = BN_bn2bin(bn, buf), el = BN_bn2bin(be, e);
    map_add(m, cbor_int64(1), cbor_int64(3));
    map_add(m, cbor_int64(3), cbor_int64(alg));
    map_add(m, cbor_int64(-1), cbor_build_bytestring(buf, (size_t)nl));
    map_add(m, cbor_int64(-2), cbor_build_bytestring(e, (size_t)el));
    BN_free(bn);
    BN_free(be);
  }
  return m;
}

/* Serializes item into a malloc'd buffer and releases item. */
static inline bytes_t soft_encode(cbor_item_t *item) {
  bytes_t b = {NULL, 0};
  size_t cap = 0;
  b.len = cbor_serialize_alloc(item, &b.data, &cap);
  assert_true(b.len > 0);
  cbor_decref(&item);
  return b;
}

/* Authenticator data: rpIdHash of rp_id, flags, count; with attested
 * credential data when cose is not NULL (flags should then carry AT). */
static inline bytes_t soft_authdata(const char *rp_id, uint8_t flags, uint32_t count,
                                    const uint8_t *cred_id, size_t cred_id_len,
                                    const bytes_t *cose) {
  bytes_t b = {malloc(37 + 18 + cred_id_len + (cose ? cose->len : 0)), 37};
  assert_non_null(b.data);
  qp_sha256(b.data, rp_id, strlen(rp_id));
  b.data[32] = flags;
  for (int i = 0; i < 4; i++) b.data[33 + i] = (uint8_t)(count >> (24 - 8 * i));
  if (cose != NULL) {
    memset(b.data + 37, 0xA5, 16); /* aaguid */
    b.data[53] = (uint8_t)(cred_id_len >> 8);
    b.data[54] = (uint8_t)cred_id_len;
    memcpy(b.data + 55, cred_id, cred_id_len);
    memcpy(b.data + 55 + cred_id_len, cose->data, cose->len);
    b.len = 55 + cred_id_len + cose->len;
  }
  return b;
}

/* Signs head || SHA-256(client_data) as alg does. */
static inline bytes_t soft_sign(EVP_PKEY *pkey, int64_t alg, const bytes_t *head,
                                const char *client_data) {
  uint8_t cdh[32];
  qp_sha256(cdh, client_data, strlen(client_data));
  size_t len = head->len + 32;
  uint8_t *msg = malloc(len);
  assert_non_null(msg);
  memcpy(msg, head->data, head->len);
  memcpy(msg + head->len, cdh, 32);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  assert_int_equal(EVP_DigestSignInit(md, NULL, alg == QP_AUTH_COSE_EDDSA ? NULL : EVP_sha256(),
                                      NULL, pkey), 1);
  bytes_t sig = {malloc(600), 600};
  assert_int_equal(EVP_DigestSign(md, sig.data, &sig.len, msg, len), 1);
  EVP_MD_CTX_free(md);
  free(msg);
  return sig;
}

/* clientDataJSON text for type, challenge bytes and origin, plus extra
 * members (", ..." or ""); into buf. */
static inline const char *soft_client_data(char *buf, size_t size, const char *type,
                                           const uint8_t *challenge, size_t challenge_len,
                                           const char *origin, const char *extra) {
  char b64[100];
  sodium_bin2base64(b64, sizeof b64, challenge, challenge_len,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  snprintf(buf, size, "{\"type\":\"%s\",\"challenge\":\"%s\",\"origin\":\"%s\"%s}", type, b64,
           origin, extra);
  return buf;
}

#endif
