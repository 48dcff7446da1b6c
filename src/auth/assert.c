/*
 * assert.c - assertion verification (see assert.h for the order of checks
 * and the signCount policy).
 */
#include "auth/assert.h"

#include <string.h>

#include "auth/authdata.h"
#include "base/err.h"
#include "crypto/crypto.h"

int qp_auth_sign_count_check(uint32_t stored_count, uint32_t new_count, qp_auth_fail_t *fail) {
  if (new_count > stored_count || (new_count == 0 && stored_count == 0)) return 0;
  return qp__auth_fail(fail, QP_AUTH_SIGN_COUNT_REGRESSED, "authenticatorData: signCount %u is "
                       "not greater than the stored %u (a cloned authenticator?)", new_count,
                       stored_count);
}

/* Steps 15-22 once clientDataJSON passed; cdh is its SHA-256. */
static int check_authenticator(const qp_auth_assert_expect_t *expect, const uint8_t *cdh,
                               const uint8_t *auth_data, size_t auth_data_len, const uint8_t *sig,
                               size_t sig_len, qp_auth_assertion_t *out, qp_auth_fail_t *fail) {
  qp_auth_authdata_t ad;
  int rc = qp_auth_authdata_parse(auth_data, auth_data_len, &ad, fail);
  if (rc != 0) return rc;
  uint8_t rp_hash[32];
  qp_sha256(rp_hash, expect->rp_id, strlen(expect->rp_id));
  if (memcmp(rp_hash, ad.rp_id_hash, sizeof rp_hash) != 0)
    rc = qp__auth_fail(fail, QP_AUTH_RP_ID_MISMATCH, "authenticatorData: rpIdHash is not the "
                       "SHA-256 of the RP ID \"%.100s\"", expect->rp_id);
  if (rc == 0) rc = qp_auth_flags_check(ad.flags, expect->uv_required, expect->backup_eligible,
                                        fail);
  if (rc == 0 && sig_len > QP_AUTH_SIGNATURE_MAX)
    rc = qp__auth_fail(fail, QP_AUTH_SIGNATURE_INVALID, "signature: %zu bytes (at most %d)",
                       sig_len, QP_AUTH_SIGNATURE_MAX);
  if (rc == 0) {
    rc = qp_auth_verify(expect->pkey, expect->alg, auth_data, auth_data_len, cdh, 32, sig,
                        sig_len);
    if (rc == QP_ENOMEM) rc = qp__auth_nomem(fail);
    else if (rc != 0)
      rc = qp__auth_fail(fail, QP_AUTH_SIGNATURE_INVALID, "signature: does not verify over "
                         "authenticatorData and the hash of clientDataJSON with the %s "
                         "credential key", qp_auth_alg_name(expect->alg));
  }
  if (rc == 0) rc = qp_auth_sign_count_check(expect->sign_count, ad.sign_count, fail);
  if (rc == 0) {
    out->flags = ad.flags;
    out->sign_count = ad.sign_count;
  }
  qp_auth_authdata_deinit(&ad);
  return rc;
}

int qp_auth_assert_verify(const qp_auth_assert_expect_t *expect, const uint8_t *client_data,
                          size_t client_data_len, const uint8_t *auth_data, size_t auth_data_len,
                          const uint8_t *sig, size_t sig_len, qp_auth_assertion_t *out,
                          qp_auth_clientdata_t *cd_out, qp_auth_fail_t *fail) {
  memset(out, 0, sizeof *out);
  qp_auth_clientdata_t cd;
  int rc = qp_auth_clientdata_check(client_data, client_data_len, &expect->client, &cd, fail);
  if (rc != 0) return rc;
  rc = check_authenticator(expect, cd.hash, auth_data, auth_data_len, sig, sig_len, out, fail);
  if (rc == 0 && cd_out != NULL) {
    *cd_out = cd;
    return 0;
  }
  qp_auth_clientdata_deinit(&cd);
  return rc;
}
