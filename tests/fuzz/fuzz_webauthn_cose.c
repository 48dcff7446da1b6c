/*
 * fuzz_webauthn_cose.c - libFuzzer target for the COSE_Key decoder
 * (src/auth/cose.c over the strict CBOR of cbor_strict.c).  Seeds: the
 * credential public keys of the WebAuthn L3 test vectors
 * (tests/fuzz/corpus/webauthn_cose).  Properties: no crash or sanitizer
 * report; a refusal is QP_EINVAL with one of the codes a key can earn; an
 * accepted key took 1..size bytes, has one of the three algorithms, and
 * refuses a signature made of the input's own bytes without crashing.
 */
#include <stdint.h>
#include <string.h>

#include "auth/cose.h"
#include "base/assert.h"
#include "base/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  qp_auth_cose_key_t key;
  qp_auth_fail_t fail = {0};
  size_t used = 0;
  int rc = qp_auth_cose_decode(data, size, &used, &key, &fail);
  if (rc != 0) {
    QP_ASSERT(rc == QP_EINVAL || rc == QP_ENOMEM);
    QP_ASSERT(fail.code != NULL);
    QP_ASSERT(strcmp(fail.code, QP_AUTH_CBOR_INVALID) == 0 ||
              strcmp(fail.code, QP_AUTH_COSE_KEY_INVALID) == 0 ||
              strcmp(fail.code, QP_AUTH_ALGORITHM_NOT_ALLOWED) == 0 ||
              strcmp(fail.code, QP_AUTH_INTERNAL) == 0);
    QP_ASSERT(key.pkey == NULL);
    return 0;
  }
  QP_ASSERT(used >= 1 && used <= size && key.pkey != NULL);
  QP_ASSERT(key.alg == QP_AUTH_COSE_ES256 || key.alg == QP_AUTH_COSE_EDDSA ||
            key.alg == QP_AUTH_COSE_RS256);
  size_t sig_len = size - used;
  rc = qp_auth_verify(key.pkey, key.alg, data, used, NULL, 0, data + used, sig_len);
  QP_ASSERT(rc == QP_EBADSIG || rc == QP_ENOMEM || rc == 0);
  qp_auth_cose_key_deinit(&key);
  return 0;
}
