/*
 * cose.c - COSE_Key decoding and signature verification (see cose.h).
 * Labels are RFC 9052 §7 and RFC 9053 §7: 1 kty, 3 alg, -1 crv, -2 x / n,
 * -3 y / e.  OpenSSL 3 builds and checks the keys; libsodium checks Ed25519
 * points (canonical encoding, main subgroup, not of small order).
 */
#include "auth/cose.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <sodium.h>
#include <string.h>

#include "auth/cbor_strict.h"
#include "base/alloc.h"
#include "base/err.h"
#include "crypto/crypto.h"

enum { KTY_OKP = 1, KTY_EC2 = 2, KTY_RSA = 3, CRV_P256 = 1, CRV_ED25519 = 6 };

const char *qp_auth_alg_name(int64_t alg) {
  switch (alg) {
    case QP_AUTH_COSE_ES256: return "ES256";
    case QP_AUTH_COSE_EDDSA: return "EdDSA";
    case QP_AUTH_COSE_RS256: return "RS256";
    default: return "unknown";
  }
}

void qp_auth_cose_key_deinit(qp_auth_cose_key_t *key) {
  EVP_PKEY_free(key->pkey);
  key->pkey = NULL;
}

/* The byte string under label, which must be exactly want bytes (0: any
 * length from 1 to max).  NULL after recording a refusal. */
static const uint8_t *key_bytes(const cbor_item_t *map, int64_t label, size_t want, size_t max,
                                size_t *len, qp_auth_fail_t *fail) {
  const cbor_item_t *v = qp__auth_cbor_map_int(map, label);
  if (v == NULL || !cbor_isa_bytestring(v)) {
    qp__auth_fail(fail, QP_AUTH_COSE_KEY_INVALID, "credential public key: parameter %lld is "
                  "missing or not a byte string", (long long)label);
    return NULL;
  }
  *len = cbor_bytestring_length(v);
  if ((want != 0 && *len != want) || *len == 0 || *len > max) {
    qp__auth_fail(fail, QP_AUTH_COSE_KEY_INVALID, "credential public key: parameter %lld has "
                  "%zu bytes (expected %zu)", (long long)label, *len, want ? want : max);
    return NULL;
  }
  return cbor_bytestring_handle(v);
}

static int check_crv(const cbor_item_t *map, int64_t want, const char *name,
                     qp_auth_fail_t *fail) {
  const cbor_item_t *v = qp__auth_cbor_map_int(map, -1);
  int64_t crv = 0;
  if (v == NULL || qp__auth_cbor_int(v, &crv) != 0 || crv != want)
    return qp__auth_fail(fail, QP_AUTH_COSE_KEY_INVALID,
                         "credential public key: crv (-1) must be %lld (%s)", (long long)want,
                         name);
  return 0;
}

static int point_invalid(qp_auth_fail_t *fail, const char *what) {
  ERR_clear_error();
  return qp__auth_fail(fail, QP_AUTH_COSE_KEY_INVALID, "credential public key: %s", what);
}

static int ec2_key(const cbor_item_t *map, EVP_PKEY **out, qp_auth_fail_t *fail) {
  size_t xl = 0, yl = 0;
  int rc = check_crv(map, CRV_P256, "P-256", fail);
  if (rc != 0) return rc;
  const uint8_t *x = key_bytes(map, -2, 32, 32, &xl, fail);
  const uint8_t *y = x ? key_bytes(map, -3, 32, 32, &yl, fail) : NULL;
  if (y == NULL) return QP_EINVAL;
  uint8_t point[65] = {0x04};
  memcpy(point + 1, x, 32);
  memcpy(point + 33, y, 32);
  char group[] = "P-256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point),
      OSSL_PARAM_construct_end()};
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
  if (ctx == NULL) return qp__auth_nomem(fail);
  if (EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    EVP_PKEY_CTX_free(ctx);
    return point_invalid(fail, "the EC2 point (x, y) is not on P-256");
  }
  EVP_PKEY_CTX_free(ctx);
  ctx = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL);
  if (ctx == NULL) return qp__auth_nomem(fail);
  rc = EVP_PKEY_public_check(ctx) == 1 ? 0 : QP_EINVAL;
  EVP_PKEY_CTX_free(ctx);
  if (rc != 0) return point_invalid(fail, "the EC2 point (x, y) is not on P-256");
  return 0;
}

static int okp_key(const cbor_item_t *map, EVP_PKEY **out, qp_auth_fail_t *fail) {
  size_t xl = 0;
  int rc = check_crv(map, CRV_ED25519, "Ed25519", fail);
  if (rc != 0) return rc;
  const uint8_t *x = key_bytes(map, -2, 32, 32, &xl, fail);
  if (x == NULL) return QP_EINVAL;
  if (sodium_init() < 0) return qp__auth_nomem(fail);
  if (crypto_core_ed25519_is_valid_point(x) != 1)
    return point_invalid(fail, "the Ed25519 point x is not canonical, not on the curve or of "
                               "small order");
  *out = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, 32);
  if (*out == NULL) return point_invalid(fail, "the Ed25519 point x was refused by OpenSSL");
  return 0;
}

static int rsa_build(const uint8_t *n, size_t nl, const uint8_t *e, size_t el, EVP_PKEY **out) {
  BIGNUM *bn = BN_bin2bn(n, (int)nl, NULL), *be = BN_bin2bn(e, (int)el, NULL);
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM *params = NULL;
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
  int rc = QP_ENOMEM;
  if (bn && be && bld && ctx && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1 &&
      (params = OSSL_PARAM_BLD_to_param(bld)) != NULL) {
    rc = EVP_PKEY_fromdata_init(ctx) == 1 &&
                 EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) == 1
             ? 0
             : QP_EINVAL;
  }
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  EVP_PKEY_CTX_free(ctx);
  BN_free(bn);
  BN_free(be);
  return rc;
}

static int rsa_key(const cbor_item_t *map, EVP_PKEY **out, qp_auth_fail_t *fail) {
  size_t nl = 0, el = 0;
  const uint8_t *n = key_bytes(map, -1, 0, QP_AUTH_RSA_BITS_MAX / 8, &nl, fail);
  const uint8_t *e = n ? key_bytes(map, -2, 0, 8, &el, fail) : NULL;
  if (e == NULL) return QP_EINVAL;
  if (n[0] == 0 || nl * 8 < QP_AUTH_RSA_BITS_MIN)
    return qp__auth_fail(fail, QP_AUTH_COSE_KEY_INVALID, "credential public key: the RSA modulus "
                         "n (-1) must be at least %d bits without leading zero bytes",
                         QP_AUTH_RSA_BITS_MIN);
  if (e[0] == 0 || (e[el - 1] & 1) == 0 || (el == 1 && e[0] == 1))
    return qp__auth_fail(fail, QP_AUTH_COSE_KEY_INVALID, "credential public key: the RSA "
                         "exponent e (-2) must be odd, above 1, without leading zero bytes");
  int rc = rsa_build(n, nl, e, el, out);
  if (rc == QP_ENOMEM) return qp__auth_nomem(fail);
  if (rc != 0) return point_invalid(fail, "OpenSSL refused the RSA key");
  return 0;
}

int qp__auth_cose_from_item(const cbor_item_t *map, qp_auth_cose_key_t *key,
                            qp_auth_fail_t *fail) {
  key->pkey = NULL;
  if (!cbor_isa_map(map))
    return qp__auth_fail(fail, QP_AUTH_COSE_KEY_INVALID, "credential public key: not a CBOR map");
  const cbor_item_t *kv = qp__auth_cbor_map_int(map, 1), *av = qp__auth_cbor_map_int(map, 3);
  int64_t kty = 0, alg = 0;
  if (kv == NULL || qp__auth_cbor_int(kv, &kty) != 0)
    return qp__auth_fail(fail, QP_AUTH_COSE_KEY_INVALID,
                         "credential public key: kty (1) is missing or not an integer");
  if (av == NULL || qp__auth_cbor_int(av, &alg) != 0)
    return qp__auth_fail(fail, QP_AUTH_COSE_KEY_INVALID,
                         "credential public key: alg (3) is missing or not an integer");
  int64_t want_kty = alg == QP_AUTH_COSE_ES256   ? KTY_EC2
                     : alg == QP_AUTH_COSE_EDDSA ? KTY_OKP
                     : alg == QP_AUTH_COSE_RS256 ? KTY_RSA
                                                 : 0;
  if (want_kty == 0)
    return qp__auth_fail(fail, QP_AUTH_ALGORITHM_NOT_ALLOWED, "credential public key: alg %lld "
                         "is not allowed (ES256 -7, EdDSA -8, RS256 -257)", (long long)alg);
  if (kty != want_kty)
    return qp__auth_fail(fail, QP_AUTH_COSE_KEY_INVALID, "credential public key: kty %lld does "
                         "not fit alg %s (expected kty %lld)", (long long)kty,
                         qp_auth_alg_name(alg), (long long)want_kty);
  int rc = kty == KTY_EC2   ? ec2_key(map, &key->pkey, fail)
           : kty == KTY_OKP ? okp_key(map, &key->pkey, fail)
                            : rsa_key(map, &key->pkey, fail);
  if (rc != 0) {
    qp_auth_cose_key_deinit(key);
    return rc;
  }
  key->alg = alg;
  return 0;
}

int qp_auth_cose_decode(const uint8_t *buf, size_t len, size_t *used, qp_auth_cose_key_t *key,
                        qp_auth_fail_t *fail) {
  key->pkey = NULL;
  cbor_item_t *item = NULL;
  int rc = qp__auth_cbor_load(buf, len, "credential public key", &item, used, fail);
  if (rc != 0) return rc;
  rc = qp__auth_cose_from_item(item, key, fail);
  cbor_decref(&item);
  return rc;
}

static int verify_digest(EVP_MD_CTX *md, EVP_PKEY *pkey, int64_t alg, const uint8_t *head,
                         size_t head_len, const uint8_t *tail, size_t tail_len,
                         const uint8_t *sig, size_t sig_len) {
  if (alg != QP_AUTH_COSE_EDDSA) {
    return EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
                   EVP_DigestVerifyUpdate(md, head, head_len) == 1 &&
                   EVP_DigestVerifyUpdate(md, tail, tail_len) == 1 &&
                   EVP_DigestVerifyFinal(md, sig, sig_len) == 1
               ? 0
               : QP_EBADSIG;
  }
  /* Ed25519 is one-shot (PureEdDSA hashes the message twice): join the
   * parts; libsodium verifies at about twice OpenSSL's rate here
   * (make bench-auth) and refuses small-order keys and non-canonical
   * signatures as well. */
  (void)md;
  uint8_t pub[crypto_sign_PUBLICKEYBYTES];
  size_t pub_len = sizeof pub;
  if (sig_len != crypto_sign_BYTES || head_len > SIZE_MAX - tail_len - 1 ||
      EVP_PKEY_get_raw_public_key(pkey, pub, &pub_len) != 1 || pub_len != sizeof pub ||
      qp_crypto_init() != 0)
    return QP_EBADSIG;
  uint8_t *msg = qp_malloc(head_len + tail_len + 1);
  if (msg == NULL) return QP_ENOMEM;
  if (head_len) memcpy(msg, head, head_len);
  if (tail_len) memcpy(msg + head_len, tail, tail_len);
  int rc = crypto_sign_verify_detached(sig, msg, head_len + tail_len, pub) == 0 ? 0 : QP_EBADSIG;
  qp_free(msg);
  return rc;
}

/* Whether pkey is of the kind alg signs with (an attestation certificate's
 * key must fit the alg its statement names). */
static bool pkey_fits(EVP_PKEY *pkey, int64_t alg) {
  char group[32] = "";
  switch (alg) {
    case QP_AUTH_COSE_ES256:
      return EVP_PKEY_is_a(pkey, "EC") &&
             EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                            sizeof group, NULL) == 1 &&
             strcmp(group, "prime256v1") == 0;
    case QP_AUTH_COSE_EDDSA: return EVP_PKEY_is_a(pkey, "ED25519");
    case QP_AUTH_COSE_RS256: return EVP_PKEY_is_a(pkey, "RSA");
    default: return false;
  }
}

int qp_auth_verify(EVP_PKEY *pkey, int64_t alg, const uint8_t *head, size_t head_len,
                   const uint8_t *tail, size_t tail_len, const uint8_t *sig, size_t sig_len) {
  if (pkey == NULL || sig_len == 0 || !pkey_fits(pkey, alg)) return QP_EBADSIG;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (md == NULL) return QP_ENOMEM;
  int rc = verify_digest(md, pkey, alg, head, head_len, tail, tail_len, sig, sig_len);
  EVP_MD_CTX_free(md);
  ERR_clear_error();
  return rc;
}
