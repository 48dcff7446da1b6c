/*
 * attest.h - the registration ceremony's checks (WebAuthn §7.1) over an
 * attestation object (§6.5).
 *
 * The attestation object is a CBOR map of exactly "fmt" (text), "attStmt"
 * (map) and "authData" (bytes), decoded strictly (cbor_strict.h) with no
 * byte after it.  Formats: "none" (empty statement), "packed" (§8.2: self
 * attestation with the credential key, or x5c with a certificate meeting
 * §8.2.1) and "fido-u2f" (§8.6).  Any other format is refused with
 * "attestation_format_unsupported" naming it.  A certificate chain is parsed
 * and its leaf checked; the node keeps no attestation trust anchors, so x5c
 * attestation is reported as "basic" with an untrusted path (the RP asks for
 * attestation "none" by default, as issue 14 says).
 */
#ifndef QP_AUTH_ATTEST_H
#define QP_AUTH_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/authdata.h"
#include "auth/clientdata.h"
#include "auth/cose.h"
#include "auth/fail.h"

#define QP_AUTH_ATTESTATION_OBJECT_MAX 32768 /* bytes of an attestation object */
#define QP_AUTH_FMT_MAX 32                   /* bytes of a format name, NUL included */
#define QP_AUTH_X5C_MAX 4                    /* certificates in an x5c chain */

/* What the relying party expects of a registration. */
typedef struct {
  const char *rp_id;                  /* its SHA-256 must be the rpIdHash */
  const int64_t *algs;                /* pubKeyCredParams offered (COSE ids) */
  size_t algs_count;                  /* entries of algs */
  bool uv_required;                   /* userVerification was "required" */
  qp_auth_clientdata_expect_t client; /* types {"webauthn.create"}, challenge, origins */
} qp_auth_register_expect_t;

/* A verified registration: everything §7.1 step 27 says to store. */
typedef struct {
  char fmt[QP_AUTH_FMT_MAX];                       /* "none", "packed", "fido-u2f" */
  const char *attestation_type;                    /* "none", "self", "basic"; static */
  uint8_t aaguid[QP_AUTH_AAGUID_SIZE];             /* authenticator model */
  uint8_t credential_id[QP_AUTH_CREDENTIAL_ID_MAX]; /* the id, credential_id_len bytes */
  size_t credential_id_len;                        /* 1..QP_AUTH_CREDENTIAL_ID_MAX */
  uint8_t cose_key[QP_AUTH_COSE_KEY_MAX];          /* the encoded public key, to store */
  size_t cose_key_len;                             /* its length */
  int64_t alg;                                     /* the key's COSE algorithm */
  uint8_t flags;                                   /* authenticator data flags */
  uint32_t sign_count;                             /* the initial signature counter */
} qp_auth_registration_t;

/* Runs §7.1 over clientDataJSON and attestationObject (raw bytes, already
 * base64url-decoded).  Order of checks: clientDataJSON (type, challenge,
 * origin, topOrigin), attestation object decoding, rpIdHash, flags (UP, UV,
 * BE/BS), alg among those offered, format and statement.  Returns 0,
 * QP_EINVAL (fail has the code) or QP_ENOMEM. */
int qp_auth_register_verify(const qp_auth_register_expect_t *expect, const uint8_t *client_data,
                            size_t client_data_len, const uint8_t *att_obj, size_t att_obj_len,
                            qp_auth_registration_t *out, qp_auth_fail_t *fail);

/* Decodes an attestation object and checks its statement against the
 * clientDataHash, without the ceremony's other checks: the part the fuzz
 * target drives.  Same refusals as above for the object and statement. */
int qp_auth_attestation_check(const uint8_t *att_obj, size_t att_obj_len,
                              const uint8_t client_data_hash[32], qp_auth_registration_t *out,
                              qp_auth_fail_t *fail);

#endif
