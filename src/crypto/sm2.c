/*
 * sm2.c - SM2 signatures with SM3 (the GM/T suite) through OpenSSL 3.
 *
 * OpenSSL does the curve arithmetic and the signature scheme; this file
 * converts between quipu's fixed encodings and OpenSSL's objects.  A public
 * key is the 65-byte uncompressed point 0x04 || x || y; a signature is r || s,
 * 32 bytes each, big-endian, converted to and from the DER that OpenSSL
 * speaks.  Fixed-width r || s makes every encoding canonical and every
 * signature 64 bytes, like Ed25519.  The distinguishing ID is always set
 * explicitly (QP_SM2_ID): OpenSSL 3.0 hashes an empty ID into Z when none is
 * given, which other SM2 implementations would not verify.  The secret key
 * lives in sodium_malloc'd memory; an EVP_PKEY is built from it for each
 * signature and freed at once, and OpenSSL clears private BIGNUMs on free.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "base/assert.h"
#include "base/err.h"
#include "crypto/crypto_int.h"

#define SM2_SCALAR_SIZE 32 /* bytes in d, r, s and each coordinate */
#define SM2_DER_SIG_MAX 80 /* DER SEQUENCE of two INTEGERs of up to 33 bytes: 72, rounded up */

_Static_assert(QP_SM2_SIG_SIZE == 2 * SM2_SCALAR_SIZE, "r || s");
_Static_assert(QP_SM2_PUBLIC_SIZE == 1 + 2 * SM2_SCALAR_SIZE, "0x04 || x || y");

/* Returns 0 when d is a valid SM2 secret, 1 <= d <= n-2 (1 + d must be
 * invertible mod n), QP_EINVAL when not, QP_ENOMEM when OpenSSL cannot
 * allocate.  Sets *group_out and *d_out (caller frees) on success. */
static int scalar_load(const uint8_t d[SM2_SCALAR_SIZE], EC_GROUP **group_out, BIGNUM **d_out) {
  *group_out = NULL;
  *d_out = NULL;
  EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_sm2);
  BIGNUM *dbn = BN_secure_new();
  BIGNUM *limit = BN_new();
  int rc = QP_ENOMEM;
  if (group != NULL && dbn != NULL && limit != NULL && BN_bin2bn(d, SM2_SCALAR_SIZE, dbn) &&
      BN_copy(limit, EC_GROUP_get0_order(group)) && BN_sub_word(limit, 1)) {
    BN_set_flags(dbn, BN_FLG_CONSTTIME);
    rc = (BN_is_zero(dbn) || BN_cmp(dbn, limit) >= 0) ? QP_EINVAL : 0;
  }
  BN_free(limit);
  if (rc != 0) {
    BN_clear_free(dbn);
    EC_GROUP_free(group);
    return rc;
  }
  *group_out = group;
  *d_out = dbn;
  return 0;
}

int qp__sm2_public(const uint8_t d[QP_SIGN_SECRET_SIZE], uint8_t pub_out[QP_SM2_PUBLIC_SIZE]) {
  QP_ASSERT(d != NULL && pub_out != NULL);
  EC_GROUP *group = NULL;
  BIGNUM *dbn = NULL;
  int rc = scalar_load(d, &group, &dbn);
  if (rc != 0) return rc;
  EC_POINT *point = EC_POINT_new(group);
  rc = QP_ENOMEM;
  /* Only a generator scalar: OpenSSL takes its constant-time ladder. */
  if (point != NULL && EC_POINT_mul(group, point, dbn, NULL, NULL, NULL) == 1) {
    size_t n = EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, pub_out,
                                  QP_SM2_PUBLIC_SIZE, NULL);
    rc = n == QP_SM2_PUBLIC_SIZE ? 0 : QP_EIO;
  }
  EC_POINT_free(point);
  BN_clear_free(dbn);
  EC_GROUP_free(group);
  QP_ASSERT(rc != 0 || pub_out[0] == POINT_CONVERSION_UNCOMPRESSED);
  return rc;
}

int qp__sm2_keygen(uint8_t d_out[QP_SIGN_SECRET_SIZE]) {
  QP_ASSERT(d_out != NULL);
  /* OpenSSL draws d in [1, n-2]; the check and the bounded retry guard
   * against a library that draws from [1, n-1]. */
  for (int attempt = 0; attempt < 8; attempt++) {
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
    BIGNUM *priv = NULL;
    int ok = pkey != NULL && EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &priv) == 1 &&
             BN_bn2binpad(priv, d_out, SM2_SCALAR_SIZE) == SM2_SCALAR_SIZE;
    BN_clear_free(priv);
    EVP_PKEY_free(pkey);
    if (!ok) {
      memset(d_out, 0, SM2_SCALAR_SIZE);
      return QP_ENOMEM;
    }
    EC_GROUP *group = NULL;
    BIGNUM *dbn = NULL;
    int rc = scalar_load(d_out, &group, &dbn);
    BN_clear_free(dbn);
    EC_GROUP_free(group);
    if (rc != QP_EINVAL) return rc;
  }
  memset(d_out, 0, SM2_SCALAR_SIZE);
  return QP_EIO;
}

/* Builds an EVP_PKEY from pub (already checked) and, when d is not NULL, the
 * secret scalar.  Returns the key (caller frees) or NULL. */
static EVP_PKEY *pkey_build(const uint8_t *d, const uint8_t pub[QP_SM2_PUBLIC_SIZE]) {
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  BIGNUM *dbn = d != NULL ? BN_secure_new() : NULL;
  OSSL_PARAM *params = NULL;
  EVP_PKEY_CTX *ctx = NULL;
  EVP_PKEY *pkey = NULL;
  int ok = bld != NULL && (d == NULL || dbn != NULL) &&
           OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, SN_sm2, 0) &&
           OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub,
                                            QP_SM2_PUBLIC_SIZE);
  if (ok && d != NULL)
    ok = BN_bin2bn(d, SM2_SCALAR_SIZE, dbn) != NULL &&
         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, dbn);
  if (ok) params = OSSL_PARAM_BLD_to_param(bld);
  if (params != NULL) ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
  if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1) {
    int selection = d != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
    if (EVP_PKEY_fromdata(ctx, &pkey, selection, params) != 1) pkey = NULL;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params); /* clears the secret copy it holds */
  BN_clear_free(dbn);
  OSSL_PARAM_BLD_free(bld);
  return pkey;
}

/* Converts OpenSSL's DER signature to r || s.  Returns 0 or QP_EIO. */
static int sig_from_der(const uint8_t *der, size_t der_len, uint8_t sig_out[QP_SM2_SIG_SIZE]) {
  const unsigned char *p = der;
  ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
  if (sig == NULL) return QP_EIO;
  const BIGNUM *r = NULL;
  const BIGNUM *s = NULL;
  ECDSA_SIG_get0(sig, &r, &s);
  int ok = BN_bn2binpad(r, sig_out, SM2_SCALAR_SIZE) == SM2_SCALAR_SIZE &&
           BN_bn2binpad(s, sig_out + SM2_SCALAR_SIZE, SM2_SCALAR_SIZE) == SM2_SCALAR_SIZE;
  ECDSA_SIG_free(sig);
  return ok ? 0 : QP_EIO;
}

/* Converts r || s to DER in der_out (SM2_DER_SIG_MAX bytes); any 64 bytes
 * convert, range checks are OpenSSL's.  Returns 0 or QP_ENOMEM. */
static int sig_to_der(const uint8_t sig[QP_SM2_SIG_SIZE], uint8_t der_out[SM2_DER_SIG_MAX],
                      size_t *der_len_out) {
  ECDSA_SIG *esig = ECDSA_SIG_new();
  BIGNUM *r = BN_bin2bn(sig, SM2_SCALAR_SIZE, NULL);
  BIGNUM *s = BN_bin2bn(sig + SM2_SCALAR_SIZE, SM2_SCALAR_SIZE, NULL);
  if (esig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(esig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(esig);
    return QP_ENOMEM;
  }
  /* esig owns r and s now. */
  int n = i2d_ECDSA_SIG(esig, NULL);
  int rc = QP_ENOMEM;
  if (n > 0 && n <= SM2_DER_SIG_MAX) {
    unsigned char *p = der_out;
    if (i2d_ECDSA_SIG(esig, &p) == n) {
      *der_len_out = (size_t)n;
      rc = 0;
    }
  }
  ECDSA_SIG_free(esig);
  return rc;
}

/* Starts a sign or verify operation on mctx with SM3 and QP_SM2_ID.  The ID
 * must be set after init and before the first byte of message (it goes into
 * Z, which OpenSSL hashes first).  Returns 1 on success. */
static int op_init(EVP_MD_CTX *mctx, EVP_PKEY *pkey, int signing) {
  EVP_PKEY_CTX *pctx = NULL; /* owned by mctx */
  int ok = signing ? EVP_DigestSignInit(mctx, &pctx, EVP_sm3(), NULL, pkey)
                   : EVP_DigestVerifyInit(mctx, &pctx, EVP_sm3(), NULL, pkey);
  if (ok != 1 || pctx == NULL) return 0;
  return EVP_PKEY_CTX_set1_id(pctx, QP_SM2_ID, sizeof QP_SM2_ID - 1) > 0;
}

int qp__sm2_sign(const uint8_t d[QP_SIGN_SECRET_SIZE], const uint8_t pub[QP_SM2_PUBLIC_SIZE],
                 const void *msg, size_t len, uint8_t sig_out[QP_SM2_SIG_SIZE]) {
  QP_ASSERT(d != NULL && pub != NULL && msg != NULL && sig_out != NULL);
  EVP_PKEY *pkey = pkey_build(d, pub);
  EVP_MD_CTX *mctx = EVP_MD_CTX_new();
  uint8_t der[SM2_DER_SIG_MAX];
  size_t der_len = sizeof der;
  int rc = QP_ENOMEM;
  if (pkey != NULL && mctx != NULL && op_init(mctx, pkey, 1)) {
    rc = QP_EIO;
    if (EVP_DigestSign(mctx, der, &der_len, msg, len) == 1)
      rc = sig_from_der(der, der_len, sig_out);
  }
  EVP_MD_CTX_free(mctx);
  EVP_PKEY_free(pkey);
  return rc;
}

/* Returns 0 when pub decodes to a point on the SM2 curve (OpenSSL checks
 * this while decoding; the cofactor is 1 and the encoding cannot name the
 * point at infinity), QP_EINVAL when not, QP_ENOMEM. */
static int public_check(const uint8_t pub[QP_SM2_PUBLIC_SIZE]) {
  if (pub[0] != POINT_CONVERSION_UNCOMPRESSED) return QP_EINVAL;
  EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_sm2);
  EC_POINT *point = group != NULL ? EC_POINT_new(group) : NULL;
  int rc = QP_ENOMEM;
  if (point != NULL) {
    rc = EC_POINT_oct2point(group, point, pub, QP_SM2_PUBLIC_SIZE, NULL) == 1 &&
                 EC_POINT_is_on_curve(group, point, NULL) == 1 &&
                 !EC_POINT_is_at_infinity(group, point)
             ? 0
             : QP_EINVAL;
  }
  EC_POINT_free(point);
  EC_GROUP_free(group);
  return rc;
}

int qp__sm2_verify(const uint8_t pub[QP_SM2_PUBLIC_SIZE], const void *msg, size_t len,
                   const uint8_t sig[QP_SM2_SIG_SIZE]) {
  QP_ASSERT(pub != NULL && msg != NULL && sig != NULL);
  int rc = public_check(pub);
  if (rc != 0) return rc;
  uint8_t der[SM2_DER_SIG_MAX];
  size_t der_len = 0;
  rc = sig_to_der(sig, der, &der_len);
  if (rc != 0) return rc;
  EVP_PKEY *pkey = pkey_build(NULL, pub);
  EVP_MD_CTX *mctx = EVP_MD_CTX_new();
  rc = QP_ENOMEM;
  if (pkey != NULL && mctx != NULL && op_init(mctx, pkey, 0)) {
    /* 1 is valid; 0 is a bad signature, negative an error such as r or s
     * out of [1, n-1].  Both are refusals. */
    rc = EVP_DigestVerify(mctx, der, der_len, msg, len) == 1 ? 0 : QP_EBADSIG;
  }
  EVP_MD_CTX_free(mctx);
  EVP_PKEY_free(pkey);
  return rc;
}
