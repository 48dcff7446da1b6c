/*
 * intents_int.h - the payment-intent handlers' shared helpers (intents.c).
 */
#ifndef QP_AUTH_INTENTS_INT_H
#define QP_AUTH_INTENTS_INT_H

#include "auth/assert.h"
#include "auth/auth_int.h"
#include "auth/payment.h"
#include "ledger/api.h"

/* A u128 as a decimal JSON string. */
json_t *qp__auth_u128_json(qp_u128 v);
/* A u128 member given as a decimal string or a non-negative JSON integer:
 * 0, QP_ENOTFOUND (absent), QP_EINVAL or QP_ERANGE. */
int qp__auth_u128_member(const json_t *obj, const char *name, qp_u128 *out);
/* A fresh random transfer id (not 0, not 2^128-1). */
qp_u128 qp__auth_new_transfer_id(void);
/* The id of the transfer that posts ('P') or voids ('V') the hold: derived
 * from the hold's id (the first 16 bytes, big-endian, of SHA-256 of the
 * ASCII "quipu-intent-settle-v1", the kind's byte and the hold's id as 16
 * big-endian bytes), so that after a crash between the ledger's answer and the
 * intent's record the settling transfer is still found by its id. */
qp_u128 qp__auth_settle_transfer_id(qp_u128 hold, char kind);

/* The lock of the intent named by the path's {id}: a confirm and a cancel of
 * one intent never run at once; different intents mostly do. */
pthread_mutex_t *qp__auth_intent_lock(qp__auth_t *a, qp_http_request_t *req);

/* The intent named by the path's {id}; false after a 404/500 reply.  An
 * intent on a ledger the caller's key may not touch is not found. */
bool qp__auth_intent_load(qp__auth_t *a, qp_http_request_t *req, qp_http_reply_t *r,
                          uint8_t id[QP_AUTH_ID_SIZE], json_t **out);
/* Its status now: the stored one, unless the ledger's hold says otherwise
 * (posted: succeeded, voided: canceled, expired) or expires_at passed. */
const char *qp__auth_intent_status(const json_t *intent);
/* The record as the API shows it (a new object). */
json_t *qp__auth_intent_public(const json_t *intent);
/* True when it may still be confirmed or cancelled; else a 409 reply. */
bool qp__auth_intent_confirmable(const json_t *intent, qp_http_reply_t *r);
/* True when it may be cancelled (also while in review); else a 409 reply. */
bool qp__auth_intent_cancelable(const json_t *intent, qp_http_reply_t *r);
/* The payment its challenge commits to (strings point into intent). */
int qp__auth_intent_payment(const json_t *intent, qp_auth_payment_t *p);

/* An optional empty body ({} or nothing); false after an error reply. */
bool qp__auth_empty_body(qp_http_request_t *req, qp_http_reply_t *r);

/* Creates one transfer through the ledger module: 0 with *result, or
 * QP_ENOTSUP when the node runs no ledger, or the writer's error. */
int qp__auth_ledger_move(const qp_transfer_t *t, uint32_t *result);
/* The reply for a ledger move that failed (rc) or was refused (result). */
void qp__auth_reply_ledger(qp_http_reply_t *r, int rc, uint32_t result);

/* intents_risk.c: asks the risk module (when the node runs it) for a
 * decision on a new intent and records it as intent.risk.  Returns
 * QP_AUTH_RISK_NONE (no module), the outcome (QP_RISK_ALLOW..REVIEW), or -1
 * after a reply (block: 422 risk_blocked with the explanation; or 503). */
#define QP_AUTH_RISK_NONE 100
int qp__auth_intent_risk(json_t *intent, qp_http_reply_t *r);
/* Whether the node lets an allowed intent of this amount skip the passkey. */
bool qp__auth_intent_frictionless(const json_t *intent);
/* Posts the intent's hold: 0 with *result (OK: the intent is succeeded),
 * or the ledger door's error. */
int qp__auth_intent_post(json_t *intent, uint32_t *result);

/* ---- confirm.c, for the doors ---- */

/* The byte strings of an AuthenticationResponseJSON. */
typedef struct {
  uint8_t client_data[QP_AUTH_CLIENT_DATA_MAX];
  size_t client_data_len;
  uint8_t auth_data[QP_AUTH_AUTHDATA_MAX];
  size_t auth_data_len;
  uint8_t sig[QP_AUTH_SIGNATURE_MAX];
  size_t sig_len;
  uint8_t raw_id[QP_AUTH_CREDENTIAL_ID_MAX];
  size_t raw_id_len;
  uint8_t user_handle[64];
  size_t user_handle_len;
  bool has_user_handle;
} qp__auth_assertion_in_t;

/* Reads credential (AuthenticationResponseJSON); false after a 400 reply. */
bool qp__auth_read_assertion(const json_t *cred, qp__auth_assertion_in_t *as, qp_http_reply_t *r);
/* The stored credential of the assertion, which must be user_id's, and its
 * key (caller deinits it); false after a 400 credential_unknown (or 500). */
bool qp__auth_find_credential(qp__auth_t *a, const uint8_t user_id[QP_AUTH_ID_SIZE],
                              const qp__auth_assertion_in_t *as, json_t **rec,
                              qp_auth_cose_key_t *key, qp_http_reply_t *r);
/* The same in realm (the operators' credentials name their operator's id
 * as "user_id"). */
bool qp__auth_find_credential_in(qp__auth_t *a, qp__auth_realm_t realm,
                                 const uint8_t user_id[QP_AUTH_ID_SIZE],
                                 const qp__auth_assertion_in_t *as, json_t **rec,
                                 qp_auth_cose_key_t *key, qp_http_reply_t *r);
/* login_door.c: WebAuthn §7.2 of as over ceremony c's challenge (type
 * webauthn.get, user verification required, the signature count checked)
 * with the stored credential rec and its key; on success rec's sign_count,
 * last_used and flags are updated (in memory: the caller stores it) and it
 * returns true, else false after a 400 reply with the core's code. */
bool qp__auth_assertion_check(qp__auth_t *a, const qp__auth_ceremony_t *c,
                              const qp__auth_assertion_in_t *as, json_t *rec,
                              const qp_auth_cose_key_t *key, qp_http_reply_t *r);
/* Authenticator flags as {"up","uv","be","bs"}. */
json_t *qp__auth_flags_json(uint8_t f);
/* The confirm of intent id (lock held): the body's credential over its
 * challenge, then the hold posted; replies the intent or the refusal. */
void qp__auth_intent_confirm_run(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE], json_t *intent,
                                 const json_t *body, qp__auth_assertion_in_t *as,
                                 qp_http_reply_t *r);
/* routes_confirm.c: a fresh challenge for intent (confirmable or a 409). */
void qp__auth_intent_challenge_run(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE],
                                   json_t *intent, qp_http_reply_t *r);
/* routes_intents.c: voids intent's hold (lock held); replies the intent. */
void qp__auth_intent_cancel_run(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE], json_t *intent,
                                qp_http_reply_t *r);

#endif
