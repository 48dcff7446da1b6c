/*
 * suite.c - the two signing suites' names and hashes, and the plain SHA-256
 * and SM3 functions.
 *
 * A suite fixes which hash goes with which signature scheme, so code that
 * commits to data (block hashes, Merkle roots) asks qp_suite_hash and never
 * names a primitive itself: a chain running the GM/T suite then uses SM3
 * throughout without a second code path.  SHA-256 comes from libsodium, SM3
 * from OpenSSL 3's default provider.
 */
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "base/assert.h"
#include "base/err.h"
#include "crypto/crypto.h"

void qp_sha256(uint8_t out[QP_HASH_SIZE], const void *data, size_t len) {
  _Static_assert(crypto_hash_sha256_BYTES == QP_HASH_SIZE, "SHA-256 is 32 bytes");
  int rc = crypto_hash_sha256(out, data, len);
  QP_ASSERT(rc == 0);
}

int qp_sm3(uint8_t out[QP_HASH_SIZE], const void *data, size_t len) {
  QP_ASSERT(out != NULL);
  QP_ASSERT(data != NULL || len == 0);
  static const uint8_t empty[1] = {0};
  unsigned int out_len = 0;
  /* EVP_Digest fails only when OpenSSL cannot allocate or fetch SM3. */
  if (EVP_Digest(len ? data : empty, len, out, &out_len, EVP_sm3(), NULL) != 1) {
    memset(out, 0, QP_HASH_SIZE);
    return QP_ENOMEM;
  }
  QP_ASSERT(out_len == QP_HASH_SIZE);
  return 0;
}

int qp_suite_parse(const char *name, size_t len, qp_suite_t *out) {
  QP_ASSERT(out != NULL);
  if (name == NULL) return QP_EINVAL;
  if (len == 7 && memcmp(name, "ed25519", 7) == 0) {
    *out = QP_SUITE_ED25519;
    return 0;
  }
  if (len == 3 && memcmp(name, "sm2", 3) == 0) {
    *out = QP_SUITE_SM2;
    return 0;
  }
  return QP_EINVAL;
}

const char *qp_suite_name(qp_suite_t suite) {
  switch (suite) {
  case QP_SUITE_ED25519:
    return "ed25519";
  case QP_SUITE_SM2:
    return "sm2";
  }
  return NULL;
}

int qp_suite_hash(qp_suite_t suite, uint8_t out[QP_HASH_SIZE], const void *data, size_t len) {
  QP_ASSERT(out != NULL);
  QP_ASSERT(data != NULL || len == 0);
  switch (suite) {
  case QP_SUITE_ED25519:
    qp_hash256(out, data, len);
    return 0;
  case QP_SUITE_SM2:
    return qp_sm3(out, data, len);
  }
  memset(out, 0, QP_HASH_SIZE);
  return QP_EINVAL;
}
