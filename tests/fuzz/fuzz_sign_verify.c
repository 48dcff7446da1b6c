/*
 * fuzz_sign_verify.c - libFuzzer target for what peers will send the
 * crypto suites: public keys, signatures and Merkle proofs of either suite
 * (src/crypto).  Input: [suite][pub_len][sig_len][path_len][index][count]
 * then the public key, signature, path and message.  Properties: no crash
 * and no sanitizer report whatever the bytes; verify answers 0, QP_EINVAL
 * or QP_EBADSIG; a signature this process makes itself over the message
 * verifies, and a forged one (first byte flipped) does not.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "crypto/crypto.h"

static void check_own_signature(qp_suite_t suite, const uint8_t *msg, size_t len) {
  static qp_sign_key_t *keys[3];
  if (keys[suite] == NULL) QP_ASSERT(qp_sign_keygen(suite, &keys[suite]) == 0);
  uint8_t pub[QP_SIGN_PUBLIC_MAX], sig[QP_SIGN_SIG_MAX];
  size_t pub_len = 0, sig_len = 0;
  qp_sign_public(keys[suite], pub, &pub_len);
  QP_ASSERT(qp_sign(keys[suite], msg, len, sig, &sig_len) == 0);
  QP_ASSERT(qp_verify(suite, pub, pub_len, msg, len, sig, sig_len) == 0);
  sig[0] ^= 1;
  QP_ASSERT(qp_verify(suite, pub, pub_len, msg, len, sig, sig_len) != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (qp_crypto_init() != 0 || size < 6) return 0;
  qp_suite_t suite = (data[0] & 1) ? QP_SUITE_SM2 : QP_SUITE_ED25519;
  size_t pub_len = data[1] % (QP_SIGN_PUBLIC_MAX + 2), sig_len = data[2] % (QP_SIGN_SIG_MAX + 2);
  size_t path_len = (size_t)data[3] % (QP_MERKLE_PATH_MAX + 2) * QP_HASH_SIZE;
  size_t index = data[4], count = (size_t)data[5] + 1;
  data += 6;
  size -= 6;
  if (size < pub_len + sig_len + path_len) return 0;
  const uint8_t *pub = data, *sig = data + pub_len, *path = sig + sig_len;
  const uint8_t *msg = path + path_len;
  size_t len = size - pub_len - sig_len - path_len;
  int rc = qp_verify(suite, pub, pub_len, msg, len, sig, sig_len);
  QP_ASSERT(rc == 0 || rc == QP_EINVAL || rc == QP_EBADSIG);
  uint8_t leaf[QP_MERKLE_LEAF_SIZE] = {0}, root[QP_HASH_SIZE] = {0};
  memcpy(leaf, msg, len < sizeof leaf ? len : sizeof leaf);
  rc = qp_merkle_verify_proof(suite, leaf, index, count, path, path_len, root);
  QP_ASSERT(rc == 0 || rc == QP_EINVAL || rc == QP_EBADPROOF);
  check_own_signature(suite, msg, len);
  return 0;
}
