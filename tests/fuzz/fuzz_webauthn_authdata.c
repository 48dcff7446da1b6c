/*
 * fuzz_webauthn_authdata.c - libFuzzer target for what a browser posts at
 * registration and authentication: the attestation object (strict CBOR,
 * the statement formats, the certificates in x5c) and authenticator data
 * (src/auth/attest.c, authdata.c).  The input is tried as both.  Seeds: the
 * WebAuthn L3 test vectors' attestationObject and authenticatorData
 * (tests/fuzz/corpus/webauthn_authdata).  Properties: no crash or sanitizer
 * report; every refusal is QP_EINVAL with a code and a message; what is
 * accepted is consistent (the credential id is 1..1023 bytes, the stored
 * COSE_Key decodes again to the same algorithm, parsed fields lie inside
 * the input).
 */
#include <stdint.h>
#include <string.h>

#include "auth/attest.h"
#include "auth/authdata.h"
#include "base/assert.h"
#include "base/err.h"

static qp_auth_registration_t reg; /* static: 3 KiB is too big for every frame */

static void check_refusal(int rc, const qp_auth_fail_t *fail) {
  QP_ASSERT(rc == QP_EINVAL || rc == QP_ENOMEM);
  QP_ASSERT(fail->code != NULL && fail->message[0] != '\0');
}

static void fuzz_attestation(const uint8_t *data, size_t size) {
  uint8_t cdh[32] = {0};
  qp_auth_fail_t fail = {0};
  int rc = qp_auth_attestation_check(data, size, cdh, &reg, &fail);
  if (rc != 0) {
    check_refusal(rc, &fail);
    return;
  }
  QP_ASSERT(reg.credential_id_len >= 1 && reg.credential_id_len <= QP_AUTH_CREDENTIAL_ID_MAX);
  qp_auth_cose_key_t key;
  size_t used = 0;
  QP_ASSERT(qp_auth_cose_decode(reg.cose_key, reg.cose_key_len, &used, &key, NULL) == 0);
  QP_ASSERT(used == reg.cose_key_len && key.alg == reg.alg);
  qp_auth_cose_key_deinit(&key);
}

static void fuzz_authdata(const uint8_t *data, size_t size) {
  qp_auth_authdata_t ad;
  qp_auth_fail_t fail = {0};
  int rc = qp_auth_authdata_parse(data, size, &ad, &fail);
  if (rc != 0) {
    check_refusal(rc, &fail);
    QP_ASSERT(ad.key.pkey == NULL);
    return;
  }
  QP_ASSERT(size >= 37 && ad.rp_id_hash == data);
  QP_ASSERT(ad.attested == ((ad.flags & QP_AUTH_FLAG_AT) != 0));
  QP_ASSERT((ad.extensions != NULL) == ((ad.flags & QP_AUTH_FLAG_ED) != 0));
  if (ad.attested) {
    QP_ASSERT(ad.key.pkey != NULL && ad.cose_key + ad.cose_key_len <= data + size);
    QP_ASSERT(ad.credential_id_len >= 1 && ad.credential_id_len <= QP_AUTH_CREDENTIAL_ID_MAX);
  }
  qp_auth_flags_check(ad.flags, true, 0, NULL);
  qp_auth_authdata_deinit(&ad);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_attestation(data, size);
  fuzz_authdata(data, size);
  return 0;
}
