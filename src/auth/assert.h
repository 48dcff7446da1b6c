/*
 * assert.h - the authentication ceremony's checks (WebAuthn §7.2) over an
 * assertion: clientDataJSON, authenticatorData and signature.
 *
 * Order of checks, so that when several fail the code is the first failing
 * step of §7.2: clientDataJSON (type, challenge, origin, topOrigin; steps
 * 11-14), authenticatorData decoding, rpIdHash (15), UP (16), UV (17),
 * BE/BS (18), signature over authData || SHA-256(clientDataJSON) (21),
 * signCount (22).  Finding the credential (steps 5-7: "credential_unknown")
 * is the caller's, before this runs.
 *
 * signCount policy: a counter that moves forward is accepted and stored.
 * An authenticator that always reports 0 (synced passkeys do) is accepted as
 * long as every count it ever reported was 0: such credentials have no clone
 * detection, which quipu states rather than hides.  Any other count that is
 * not greater than the stored one (including 0 after a non-zero count) is
 * refused with "sign_count_regressed": a sign of a cloned authenticator.
 */
#ifndef QP_AUTH_ASSERT_H
#define QP_AUTH_ASSERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/clientdata.h"
#include "auth/cose.h"
#include "auth/fail.h"

#define QP_AUTH_SIGNATURE_MAX 1024 /* bytes of an assertion signature (RSA-8192 fits) */

/* What the relying party expects of an assertion, and the stored credential. */
typedef struct {
  const char *rp_id;                  /* its SHA-256 must be the rpIdHash */
  bool uv_required;                   /* payments: true */
  qp_auth_clientdata_expect_t client; /* types, challenge, origins */
  EVP_PKEY *pkey;                     /* the credential public key (caller's) */
  int64_t alg;                        /* its COSE algorithm */
  uint32_t sign_count;                /* the count stored with the credential */
  bool backup_eligible;               /* BE recorded at registration */
} qp_auth_assert_expect_t;

/* A verified assertion: what the caller stores back. */
typedef struct {
  uint8_t flags;       /* authenticator data flags */
  uint32_t sign_count; /* the new count to store */
} qp_auth_assertion_t;

/* Runs the checks above.  Returns 0, QP_EINVAL (fail has the code) or
 * QP_ENOMEM.  When it returns 0 and expect->client.types holds
 * "payment.get", *cd_out (if not NULL) receives the parsed clientDataJSON
 * so that the caller can check its "payment" member; the caller then
 * releases it with qp_auth_clientdata_deinit. */
int qp_auth_assert_verify(const qp_auth_assert_expect_t *expect, const uint8_t *client_data,
                          size_t client_data_len, const uint8_t *auth_data, size_t auth_data_len,
                          const uint8_t *sig, size_t sig_len, qp_auth_assertion_t *out,
                          qp_auth_clientdata_t *cd_out, qp_auth_fail_t *fail);

/* The signCount rule above: 0 when new_count may follow stored_count. */
int qp_auth_sign_count_check(uint32_t stored_count, uint32_t new_count, qp_auth_fail_t *fail);

#endif
