/*
 * fail.h - how the WebAuthn verification core says no.
 *
 * Every check in src/auth refuses with a stable error code string taken from
 * issue 14 and docs/auth.md ("challenge_mismatch", "signature_invalid", ...)
 * that an API client can branch on, plus a message for a human naming the
 * field, what was wrong and what is allowed.  The int status the functions
 * return stays in quipu's one namespace (base/err.h): QP_EINVAL for a refused
 * input, QP_ENOMEM when memory ran out; the code string says which check.
 */
#ifndef QP_AUTH_FAIL_H
#define QP_AUTH_FAIL_H

#include <stddef.h>

#define QP_AUTH_MESSAGE_MAX 256 /* bytes of a refusal message, NUL included */

/* The codes of docs/auth.md ("Error codes").  Static strings. */
#define QP_AUTH_CBOR_INVALID "cbor_invalid"
#define QP_AUTH_ATTESTATION_OBJECT_INVALID "attestation_object_invalid"
#define QP_AUTH_AUTHENTICATOR_DATA_INVALID "authenticator_data_invalid"
#define QP_AUTH_CREDENTIAL_ID_TOO_LONG "credential_id_too_long"
#define QP_AUTH_COSE_KEY_INVALID "cose_key_invalid"
#define QP_AUTH_ALGORITHM_NOT_ALLOWED "algorithm_not_allowed"
#define QP_AUTH_FORMAT_UNSUPPORTED "attestation_format_unsupported"
#define QP_AUTH_ATTESTATION_INVALID "attestation_invalid"
#define QP_AUTH_CLIENT_DATA_INVALID "client_data_invalid"
#define QP_AUTH_TYPE_MISMATCH "type_mismatch"
#define QP_AUTH_CHALLENGE_MISMATCH "challenge_mismatch"
#define QP_AUTH_ORIGIN_NOT_ALLOWED "origin_not_allowed"
#define QP_AUTH_CROSS_ORIGIN_NOT_ALLOWED "cross_origin_not_allowed"
#define QP_AUTH_TOP_ORIGIN_NOT_ALLOWED "top_origin_not_allowed"
#define QP_AUTH_RP_ID_MISMATCH "rp_id_mismatch"
#define QP_AUTH_USER_PRESENCE_REQUIRED "user_presence_required"
#define QP_AUTH_USER_VERIFICATION_REQUIRED "user_verification_required"
#define QP_AUTH_BACKUP_STATE_INVALID "backup_state_invalid"
#define QP_AUTH_SIGNATURE_INVALID "signature_invalid"
#define QP_AUTH_SIGN_COUNT_REGRESSED "sign_count_regressed"
#define QP_AUTH_INTERNAL "internal_error"

/* A refusal: set by the function that refused, read by the caller. */
typedef struct {
  const char *code;                  /* one of the QP_AUTH_* codes; NULL when nothing failed */
  char message[QP_AUTH_MESSAGE_MAX]; /* for humans: the field, what was wrong, what is allowed */
} qp_auth_fail_t;

/* Records a refusal in fail (which may be NULL) and returns QP_EINVAL, so a
 * check reads `return qp__auth_fail(fail, CODE, "...", ...)`. */
int qp__auth_fail(qp_auth_fail_t *fail, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records that memory ran out and returns QP_ENOMEM. */
int qp__auth_nomem(qp_auth_fail_t *fail);

#endif
