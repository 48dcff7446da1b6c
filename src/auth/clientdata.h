/*
 * clientdata.h - the client's account of a ceremony: clientDataJSON
 * (WebAuthn §5.8.1, checked as §7.1 steps 7-10 and §7.2 steps 11-14 say).
 *
 * The JSON is parsed (jansson, duplicate names refused) and checked in the
 * spec's order: type, challenge (the base64url text must equal the encoding
 * of the challenge the server issued, byte for byte), origin (exact match
 * against the allow-list; native-app origins such as
 * "android:apk-key-hash:..." are ordinary entries), crossOrigin and
 * topOrigin (refused unless the policy allows embedding and lists the top
 * origin).  The SHA-256 of the raw bytes is what the authenticator signed.
 */
#ifndef QP_AUTH_CLIENTDATA_H
#define QP_AUTH_CLIENTDATA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/fail.h"

#define QP_AUTH_CLIENT_DATA_MAX 8192 /* bytes of clientDataJSON quipu reads */
#define QP_AUTH_CHALLENGE_MAX 128    /* bytes of a challenge the RP issued */

/* Where a ceremony may come from.  The arrays are the caller's. */
typedef struct {
  const char *const *origins;     /* allowed origins, exact strings */
  size_t origins_count;           /* entries of origins */
  bool cross_origin_allowed;      /* accept crossOrigin: true (an embedding iframe) */
  const char *const *top_origins; /* allowed topOrigin values when embedding is allowed */
  size_t top_origins_count;       /* entries of top_origins */
} qp_auth_origin_policy_t;

/* What the ceremony expects. */
typedef struct {
  const char *const *types;  /* accepted "type" values ("webauthn.get", "payment.get") */
  size_t types_count;        /* entries of types */
  const uint8_t *challenge;  /* the challenge the server issued */
  size_t challenge_len;      /* its length, 16..QP_AUTH_CHALLENGE_MAX */
  const qp_auth_origin_policy_t *policy; /* the origin rules */
} qp_auth_clientdata_expect_t;

/* A checked clientDataJSON. */
typedef struct {
  uint8_t hash[32]; /* SHA-256 of the raw bytes */
  json_t *json;     /* the parsed object; owned, released by qp_auth_clientdata_deinit */
  const char *type; /* the accepted type; points into json */
} qp_auth_clientdata_t;

/* Checks raw[0..len) against expect.  Refusals: "client_data_invalid",
 * "type_mismatch", "challenge_mismatch", "origin_not_allowed",
 * "cross_origin_not_allowed", "top_origin_not_allowed".  Returns 0,
 * QP_EINVAL or QP_ENOMEM; on failure out holds nothing to release. */
int qp_auth_clientdata_check(const uint8_t *raw, size_t len,
                             const qp_auth_clientdata_expect_t *expect,
                             qp_auth_clientdata_t *out, qp_auth_fail_t *fail);

void qp_auth_clientdata_deinit(qp_auth_clientdata_t *cd);

#endif
