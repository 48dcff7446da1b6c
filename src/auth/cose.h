/*
 * cose.h - credential public keys: COSE_Key (RFC 9052/9053) to OpenSSL.
 *
 * WebAuthn carries the credential public key as a COSE_Key CBOR map.  quipu
 * accepts the three algorithms issue 14 names and checks each key the way
 * RFC 9053 and WebAuthn §5.8.5 say: ES256 is an EC2 key on P-256 whose point
 * is on the curve; EdDSA is an OKP key on Ed25519 whose point is canonical
 * and not of small order; RS256 is an RSA key of at least 2048 bits with an
 * odd public exponent above 1.  The key becomes an OpenSSL EVP_PKEY, which
 * verifies signatures: DER ECDSA over SHA-256, Ed25519, RSASSA-PKCS1-v1_5
 * over SHA-256.
 */
#ifndef QP_AUTH_COSE_H
#define QP_AUTH_COSE_H

#include <cbor.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/fail.h"

#define QP_AUTH_COSE_ES256 (-7)    /* ECDSA P-256 with SHA-256 */
#define QP_AUTH_COSE_EDDSA (-8)    /* EdDSA; quipu accepts the Ed25519 curve only */
#define QP_AUTH_COSE_RS256 (-257)  /* RSASSA-PKCS1-v1_5 with SHA-256 */
#define QP_AUTH_RSA_BITS_MIN 2048  /* smaller RSA keys are refused */
#define QP_AUTH_RSA_BITS_MAX 8192  /* larger ones too: they only cost verify time */
#define QP_AUTH_COSE_KEY_MAX 2048  /* bytes of an encoded COSE_Key (RSA-8192 fits) */

/* A decoded credential public key. */
typedef struct {
  int64_t alg;    /* QP_AUTH_COSE_ES256, _EDDSA or _RS256 */
  EVP_PKEY *pkey; /* owned; released by qp_auth_cose_key_deinit */
} qp_auth_cose_key_t;

/* Decodes the COSE_Key at the start of buf[0..len); *used is how many bytes it
 * took (authenticator data continues after it).  On success the caller owns
 * key and calls qp_auth_cose_key_deinit.  Refusals: "cbor_invalid",
 * "cose_key_invalid", "algorithm_not_allowed".  Returns 0, QP_EINVAL or
 * QP_ENOMEM. */
int qp_auth_cose_decode(const uint8_t *buf, size_t len, size_t *used, qp_auth_cose_key_t *key,
                        qp_auth_fail_t *fail);

/* The same for a COSE_Key item already decoded by cbor_strict. */
int qp__auth_cose_from_item(const cbor_item_t *map, qp_auth_cose_key_t *key, qp_auth_fail_t *fail);

/* Releases key->pkey; safe on a zeroed or already released key. */
void qp_auth_cose_key_deinit(qp_auth_cose_key_t *key);

/* Verifies sig over head || tail (WebAuthn signs authData || clientDataHash)
 * with pkey under COSE algorithm alg.  Returns 0 or QP_EBADSIG (also for a
 * malformed signature), QP_ENOMEM. */
int qp_auth_verify(EVP_PKEY *pkey, int64_t alg, const uint8_t *head, size_t head_len,
                   const uint8_t *tail, size_t tail_len, const uint8_t *sig, size_t sig_len);

/* The algorithm's name as COSE registers it ("ES256"); "unknown" otherwise. */
const char *qp_auth_alg_name(int64_t alg);

#endif
