/*
 * sign.c - secret keys and the one signing interface over both suites.
 *
 * A qp_sign_key_t holds the secret and everything derived from it in one
 * sodium_malloc'd block: guard pages around it, mlock'd so it never reaches
 * swap, read-only except while it is being built, and wiped by sodium_free.
 * Ed25519 is libsodium's; SM2 is OpenSSL's, reached through sm2.c.  Both
 * suites produce 64-byte signatures so that quorum certificates have a fixed
 * layout.  Verification is the peer-facing half: every length and encoding
 * is checked here before a library sees the bytes.
 */
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "base/assert.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

/* Invariant: public_key is derived from secret under suite, and pub_len is
 * the suite's public key size.  The block is read-only outside key_build. */
struct qp_sign_key {
  qp_suite_t suite;                        /* QP_SUITE_ED25519 or QP_SUITE_SM2 */
  uint8_t secret[QP_SIGN_SECRET_SIZE];     /* ed25519 seed, or sm2 scalar d big-endian */
  uint8_t ed_secret[crypto_sign_SECRETKEYBYTES]; /* libsodium's seed || A; ed25519 only */
  uint8_t public_key[QP_SIGN_PUBLIC_MAX];  /* encoded public key, pub_len bytes used */
  size_t pub_len;                          /* QP_ED25519_PUBLIC_SIZE or QP_SM2_PUBLIC_SIZE */
};

_Static_assert(crypto_sign_SEEDBYTES == QP_SIGN_SECRET_SIZE, "Ed25519 seed is 32 bytes");
_Static_assert(crypto_sign_PUBLICKEYBYTES == QP_ED25519_PUBLIC_SIZE, "Ed25519 A is 32 bytes");
_Static_assert(crypto_sign_BYTES == QP_ED25519_SIG_SIZE, "Ed25519 signature is 64 bytes");

/* Fills a fresh writable key block from secret; on failure the caller frees. */
static int key_build(qp_sign_key_t *key, qp_suite_t suite, const uint8_t *secret) {
  key->suite = suite;
  memcpy(key->secret, secret, QP_SIGN_SECRET_SIZE);
  if (suite == QP_SUITE_ED25519) {
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    if (crypto_sign_seed_keypair(pk, key->ed_secret, secret) != 0) return QP_EIO;
    memcpy(key->public_key, pk, sizeof pk);
    key->pub_len = QP_ED25519_PUBLIC_SIZE;
    return 0;
  }
  QP_ASSERT(suite == QP_SUITE_SM2);
  key->pub_len = QP_SM2_PUBLIC_SIZE;
  return qp__sm2_public(secret, key->public_key);
}

int qp_sign_key_from_secret(qp_suite_t suite, const uint8_t *secret, size_t len,
                            qp_sign_key_t **out) {
  QP_ASSERT(out != NULL);
  *out = NULL;
  if (qp_suite_name(suite) == NULL || secret == NULL || len != QP_SIGN_SECRET_SIZE)
    return QP_EINVAL;
  if (qp_crypto_init() != 0) return QP_EIO;
  qp_sign_key_t *key = sodium_malloc(sizeof *key);
  if (key == NULL) return QP_ENOMEM;
  sodium_memzero(key, sizeof *key);
  int rc = key_build(key, suite, secret);
  if (rc != 0) {
    sodium_free(key); /* wipes whatever key_build copied in */
    return rc;
  }
  QP_ASSERT(key->pub_len > 0 && key->pub_len <= QP_SIGN_PUBLIC_MAX);
  int ro = sodium_mprotect_readonly(key);
  QP_ASSERT(ro == 0);
  *out = key;
  return 0;
}

int qp_sign_keygen(qp_suite_t suite, qp_sign_key_t **out) {
  QP_ASSERT(out != NULL);
  *out = NULL;
  if (qp_suite_name(suite) == NULL) return QP_EINVAL;
  if (qp_crypto_init() != 0) return QP_EIO;
  uint8_t secret[QP_SIGN_SECRET_SIZE];
  int rc = 0;
  if (suite == QP_SUITE_ED25519)
    randombytes_buf(secret, sizeof secret);
  else
    rc = qp__sm2_keygen(secret);
  if (rc == 0) rc = qp_sign_key_from_secret(suite, secret, sizeof secret, out);
  sodium_memzero(secret, sizeof secret);
  return rc;
}

void qp_sign_key_free(qp_sign_key_t *key) {
  if (key == NULL) return;
  sodium_free(key); /* makes the block writable, zeroes it, unmaps it */
}

qp_suite_t qp_sign_key_suite(const qp_sign_key_t *key) {
  QP_ASSERT(key != NULL);
  return key->suite;
}

void qp_sign_key_secret(const qp_sign_key_t *key, uint8_t out[QP_SIGN_SECRET_SIZE]) {
  QP_ASSERT(key != NULL && out != NULL);
  memcpy(out, key->secret, QP_SIGN_SECRET_SIZE);
}

void qp_sign_public(const qp_sign_key_t *key, uint8_t out[QP_SIGN_PUBLIC_MAX],
                    size_t *len_out) {
  QP_ASSERT(key != NULL && out != NULL && len_out != NULL);
  QP_ASSERT(key->pub_len > 0 && key->pub_len <= QP_SIGN_PUBLIC_MAX);
  memcpy(out, key->public_key, key->pub_len);
  *len_out = key->pub_len;
}

int qp_sign(const qp_sign_key_t *key, const void *msg, size_t len,
            uint8_t sig_out[QP_SIGN_SIG_MAX], size_t *sig_len_out) {
  QP_ASSERT(key != NULL && sig_out != NULL && sig_len_out != NULL);
  QP_ASSERT(msg != NULL || len == 0);
  static const uint8_t empty[1] = {0};
  if (msg == NULL) msg = empty;
  *sig_len_out = 0;
  int rc = 0;
  if (key->suite == QP_SUITE_ED25519) {
    rc = crypto_sign_detached(sig_out, NULL, msg, len, key->ed_secret) == 0 ? 0 : QP_EIO;
  } else {
    QP_ASSERT(key->suite == QP_SUITE_SM2);
    rc = qp__sm2_sign(key->secret, key->public_key, msg, len, sig_out);
  }
  if (rc != 0) {
    memset(sig_out, 0, QP_SIGN_SIG_MAX);
    return rc;
  }
  *sig_len_out = key->suite == QP_SUITE_ED25519 ? QP_ED25519_SIG_SIZE : QP_SM2_SIG_SIZE;
  return 0;
}

static int verify(qp_suite_t suite, const uint8_t *pub, size_t pub_len, const void *msg,
                  size_t len, const uint8_t *sig, size_t sig_len, bool key_checked);

int qp_verify(qp_suite_t suite, const uint8_t *pub, size_t pub_len, const void *msg, size_t len,
              const uint8_t *sig, size_t sig_len) {
  return verify(suite, pub, pub_len, msg, len, sig, sig_len, false);
}

int qp_verify_key_checked(qp_suite_t suite, const uint8_t *pub, size_t pub_len, const void *msg,
                          size_t len, const uint8_t *sig, size_t sig_len) {
  return verify(suite, pub, pub_len, msg, len, sig, sig_len, true);
}

static int verify(qp_suite_t suite, const uint8_t *pub, size_t pub_len, const void *msg,
                  size_t len, const uint8_t *sig, size_t sig_len, bool key_checked) {
  static const uint8_t empty[1] = {0};
  if (msg == NULL && len != 0) return QP_EINVAL;
  if (msg == NULL) msg = empty;
  if (pub == NULL || sig == NULL) return QP_EINVAL;
  if (suite == QP_SUITE_ED25519) {
    if (pub_len != QP_ED25519_PUBLIC_SIZE || sig_len != QP_ED25519_SIG_SIZE) return QP_EINVAL;
    if (qp_crypto_init() != 0) return QP_EIO;
    /* A must be a canonical point of the prime-order subgroup, never of small
     * order: stricter than verification alone, and the same on every node. */
    if (!key_checked && crypto_core_ed25519_is_valid_point(pub) != 1) return QP_EINVAL;
    /* libsodium also refuses a non-canonical S (no malleable signatures). */
    return crypto_sign_verify_detached(sig, msg, len, pub) == 0 ? 0 : QP_EBADSIG;
  }
  if (suite == QP_SUITE_SM2) {
    if (pub_len != QP_SM2_PUBLIC_SIZE || sig_len != QP_SM2_SIG_SIZE) return QP_EINVAL;
    return qp__sm2_verify(pub, msg, len, sig);
  }
  return QP_EINVAL;
}
