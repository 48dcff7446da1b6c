/*
 * auth.h - the auth module as the other modules of its node see it: the
 * payments module asks which payment intents were made for one of its
 * orders (docs/auth.md, "For other modules").
 */
#ifndef QP_AUTH_AUTH_H
#define QP_AUTH_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "base/u128.h"
#include "http/http.h"

struct json_t; /* jansson's object type */

#define QP_AUTH_ORDER_INTENTS_MAX 64u /* intents one order lists at most */

/* One payment intent made for an order, as of now. */
typedef struct qp_auth_order_intent {
  char id[33];                /* the intent's id (hex) */
  char status[24];            /* requires_confirmation, requires_review, succeeded, canceled,
                                 expired: as GET /v1/payment-intents/{id} says it now */
  qp_u128 amount;             /* minor units */
  qp_u128 debit_account_id;   /* the payer's account */
  qp_u128 credit_account_id;  /* the payee's account */
  qp_u128 post_transfer_id;   /* the ledger transfer that posted it (0 unless succeeded) */
  uint32_t ledger;            /* its ledger */
  char currency[4];           /* ISO 4217 */
} qp_auth_order_intent_t;

/* Whether this process runs the auth module (open, not yet closed). */
bool qp_auth_service_enabled(void);

/* The intents whose order_id is order_id, oldest first, at most max (and
 * QP_AUTH_ORDER_INTENTS_MAX) in out: 0 with *count, QP_ENOTFOUND when the
 * module is not running, or a store error.  Intents made before this index
 * existed (an older data directory) are not listed. */
int qp_auth_order_intents(const char *order_id, qp_auth_order_intent_t *out, uint32_t max,
                          uint32_t *count);

/* Creates a payment intent of args (the payments module's collect by
 * payment code, docs/payments.md; qp_auth_intent_args_t is below): the hold
 * of amount from debit to credit on ledger (code 1), expiring in
 * expires_in_s, confirmed by the user's passkey as
 * any intent (POST /v1/payment-intents/{id}/challenge, /confirm).  The
 * caller has asked the risk module already: the intent records its
 * decision risk (or null) and "collect": true, and with review it waits in
 * requires_review for an operator's approve or decline, as an intent the
 * engine sent to review does (docs/auth.md, "Risk"); else it is
 * requires_confirmation.  Returns 0 with *result (QP_CREATE_TRANSFER_OK:
 * the intent's id in intent_id; else the ledger refused the hold and
 * nothing was made), QP_ENOTSUP (no auth or ledger module), QP_ENOTFOUND
 * (no such user), QP_EINVAL (a bad argument), or a store or ledger error. */
struct qp_auth_intent_args;
int qp_auth_intent_create(const struct qp_auth_intent_args *args, const struct json_t *risk,
                          bool review, char intent_id[33], uint32_t *result);

/* ---- the wallet's door (src/auth/ *_door.c, docs/auth.md "For other
 * modules").  Every qp_auth_door_* answers into r as auth's own routes do:
 * 200 with a JSON body, or auth's error envelope and codes (400
 * signature_invalid, credential_unknown, challenge_used, …).  Without the
 * auth module they answer 503 auth_unavailable. ---- */

/* The user with this handle: 0 with user_id (32 hex digits) and its
 * display name, QP_ENOTFOUND, QP_ENOTSUP (no auth module), a store error. */
int qp_auth_user_find(const char *handle, char user_id[33], char *display_name, size_t size);

/* user_id's handle and display name: 0, QP_ENOTFOUND, QP_ENOTSUP. */
int qp_auth_user_names(const char *user_id, char *handle, size_t handle_size, char *display_name,
                       size_t display_size);

/* Registration options for a user not yet stored: a fresh user id into
 * user_id and {"ceremony","publicKey","expires_at"} (residentKey
 * "required", userVerification "required"). */
void qp_auth_door_signup_options(const char *handle, const char *display_name,
                                 char user_id[33], qp_http_reply_t *r);

/* Verifies the registration of ceremony (which must be user_id's) and only
 * then creates the user (handle, display_name) and stores the credential:
 * 200 with the credential, 409 handle_taken, or auth's refusal. */
void qp_auth_door_signup_verify(const char *user_id, const char *handle,
                                const char *display_name, const char *ceremony,
                                const struct json_t *credential, qp_http_reply_t *r);

/* A plain passkey challenge: {"ceremony","publicKey","expires_at"} with
 * allowCredentials of user_id's credentials, or empty (a discoverable
 * credential) when user_id is NULL. */
void qp_auth_door_login_options(const char *user_id, qp_http_reply_t *r);

/* Checks an AuthenticationResponseJSON over ceremony's challenge (WebAuthn
 * §7.2, user verification required, the signature count stored): 200
 * {"user_id"} (the credential's user), or auth's refusal. */
void qp_auth_door_login_verify(const char *ceremony, const struct json_t *credential,
                               qp_http_reply_t *r);

/* A payment intent of user_id from debit to credit (docs/auth.md): the
 * risk module asked when the node runs it (422 risk_blocked), the hold
 * made (422 with the ledger's result when refused): 200 with the intent. */
typedef struct qp_auth_intent_args {
  const char *user_id;    /* the payer */
  qp_u128 debit, credit;  /* accounts */
  qp_u128 amount;         /* minor units */
  uint32_t ledger;        /* the accounts' ledger */
  const char *currency;   /* ISO 4217 */
  const char *payee_name; /* shown to the user */
  const char *order_id;   /* the payment's reference */
  uint32_t expires_in_s;  /* 1..604800 */
} qp_auth_intent_args_t;
void qp_auth_door_intent_new(const qp_auth_intent_args_t *args, qp_http_reply_t *r);

/* The intent intent_id of user_id: another user's, like one that does not
 * exist, is 404 payment_intent_not_found.  get: 200 intent; challenge:
 * 200 {"publicKey",…} over the payment; confirm: credential verified, the
 * hold posted, 200 intent; cancel: the hold voided, 200 intent. */
void qp_auth_door_intent_get(const char *user_id, const char *intent_id, qp_http_reply_t *r);
void qp_auth_door_intent_challenge(const char *user_id, const char *intent_id,
                                   qp_http_reply_t *r);
void qp_auth_door_intent_confirm(const char *user_id, const char *intent_id,
                                 const struct json_t *credential, qp_http_reply_t *r);
void qp_auth_door_intent_cancel(const char *user_id, const char *intent_id, qp_http_reply_t *r);

#endif
