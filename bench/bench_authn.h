/*
 * bench_authn.h - a software WebAuthn authenticator for the benches that
 * confirm payments against a real node (auth, payments): key pairs from
 * OpenSSL (ES256) and libsodium (EdDSA), the attestation object of a
 * registration, assertions, and the JSON bodies the node's registration
 * and confirm routes take.  bench_authn.c.
 */
#ifndef QB_BENCH_AUTHN_H
#define QB_BENCH_AUTHN_H

#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QB_CLIENT_DATA_MAX 512u /* clientDataJSON the authenticator writes */
#define QB_AUTH_DATA_LEN 37u    /* rpIdHash 32 + flags 1 + signCount 4 (no AT, no ED) */
#define QB_SIG_MAX 80u          /* a DER ECDSA P-256 signature (72) or Ed25519 (64) */
#define QB_CRED_ID_LEN 32u      /* bytes of each credential id */

/* One credential on one software authenticator.  The private key stays
 * here; the node only ever sees the COSE public key and signatures. */
typedef struct qb_authn {
  int64_t alg;                          /* -7 (ES256) or -8 (EdDSA) */
  EVP_PKEY *p256;                       /* ES256: the key pair (OpenSSL) */
  uint8_t ed_pk[crypto_sign_PUBLICKEYBYTES]; /* EdDSA: the public key */
  uint8_t *ed_sk;                       /* EdDSA: sodium_malloc'ed secret key */
  uint8_t cred_id[QB_CRED_ID_LEN];     /* the credential id (random) */
  uint32_t sign_count;                  /* the last count it signed */
} qb_authn_t;

/* Makes a fresh key pair and credential id for alg (-7 or -8).  Returns 0,
 * QP_EINVAL (another alg) or QP_ENOMEM.  qb_authn_deinit releases it. */
int qb_authn_init(qb_authn_t *a, int64_t alg);
void qb_authn_deinit(qb_authn_t *a);

/* The credential's public key as a COSE_Key (libcbor).  *out is malloc'ed
 * by libcbor: the caller free()s it.  Returns 0 or QP_ENOMEM. */
int qb_authn_cose_key(const qb_authn_t *a, uint8_t **out, size_t *len);

/* The attestation object of a registration, fmt "none": authData with UP,
 * UV and AT, signCount 0, a zero AAGUID, the credential id and COSE key.
 * *out is malloc'ed by libcbor (free()).  Returns 0 or QP_ENOMEM. */
int qb_authn_attestation(const qb_authn_t *a, const char *rp_id, uint8_t **out, size_t *len);

/* clientDataJSON {"type","challenge","origin","crossOrigin":false} into
 * out (max bytes).  Returns its length, or 0 when it does not fit. */
size_t qb_client_data(char *out, size_t max, const char *type, const char *challenge_b64u,
                       const char *origin);

/* An assertion: the next signCount, authData = SHA-256(rp_id) || UP|UV ||
 * count, and the signature over authData || SHA-256(client_data).
 * sig holds QB_SIG_MAX bytes.  Returns 0 or QP_EIO (the signer failed). */
int qb_authn_assert(qb_authn_t *a, const char *rp_id, const uint8_t *client_data,
                     size_t client_data_len, uint8_t auth_data[QB_AUTH_DATA_LEN],
                     uint8_t *sig, size_t *sig_len);

/* base64url without padding of in[0..len) into out (max bytes, NUL
 * terminated).  Returns 0 or QP_ERANGE. */
int qb_b64u(const uint8_t *in, size_t len, char *out, size_t max);

/* The RegistrationResponseJSON of a's credential for the options'
 * challenge (base64url, as the node sent it), rp_id and origin, for POST
 * /v1/webauthn/register/verify.  NULL when out of memory. */
json_t *qb_authn_registration(const qb_authn_t *a, const char *challenge, const char *rp_id,
                              const char *origin);

/* The confirm request body (an AuthenticationResponseJSON) with a's next
 * assertion over challenge (base64url, as the node sent it) for rp_id and
 * origin; bad_signature flips one bit of the signature.  *out is
 * qp_malloc'ed (qp_free).  Returns 0, QP_EIO (signer), QP_ERANGE or
 * QP_ENOMEM. */
int qb_authn_confirm_body(qb_authn_t *a, const char *origin, const char *challenge,
                          const char *rp_id, bool bad_signature, char **out);

struct qb_node;

/* Makes the user "bench-<i>" (POST /v1/users) and registers a's credential
 * (a is initialised here: ES256 for even i, EdDSA for odd) through the real
 * ceremony: options, the attestation, verify.  user_id receives the user's
 * id.  e is a CURL easy handle.  Returns 0, QP_EIO (a refusal: printed) or
 * QP_ENOMEM. */
int qb_authn_enroll(void *e, const struct qb_node *n, uint32_t i, qb_authn_t *a, char *user_id,
                    size_t user_id_size);

#endif
