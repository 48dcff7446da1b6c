/*
 * routes_confirm.c - the signature that moves the money.  POST
 * /v1/payment-intents/{id}/challenge issues a challenge that commits to the
 * payment (payment.h: SHA-256(nonce || canonical payment)) as
 * PublicKeyCredentialRequestOptionsJSON with userVerification "required"
 * and the user's credentials; POST /v1/payment-intents/{id}/confirm takes
 * the AuthenticationResponseJSON, verifies it against that exact payment
 * (§7.2, and SPC's "payment" member for type payment.get), stores the new
 * signature count and posts the pending transfer.  Any refusal leaves the
 * hold as it was: no money moves.
 */
#include <sodium.h>
#include <string.h>

#include "auth/intents_int.h"
#include "base/err.h"

static json_t *allow_list(json_t *creds) {
  json_t *out = json_array();
  size_t i;
  json_t *rec;
  json_array_foreach(creds, i, rec) {
    json_t *d = json_pack("{s:s, s:O}", "type", "public-key", "id", json_object_get(rec, "id"));
    json_t *tr = json_object_get(rec, "transports");
    if (d != NULL && json_array_size(tr) > 0) json_object_set(d, "transports", tr);
    json_array_append_new(out, d);
  }
  return out;
}

/* What a page passes to PaymentRequest for SPC ("secure-payment-confirmation"). */
static json_t *spc_data(qp__auth_t *a, const json_t *intent, json_t *creds, json_t *challenge) {
  json_t *ids = json_array();
  size_t i;
  json_t *rec;
  json_array_foreach(creds, i, rec) json_array_append(ids, json_object_get(rec, "id"));
  qp_auth_payment_t p;
  char value[QP_AUTH_AMOUNT_TEXT_MAX] = "";
  if (qp__auth_intent_payment(intent, &p) == 0) qp_auth_amount_major(p.amount, p.currency, value);
  json_t *out = json_pack("{s:s, s:o, s:O, s:O, s:{s:s, s:s}, s:I}", "rpId", a->settings.rp_id,
                          "credentialIds", ids, "challenge", challenge, "payeeName",
                          json_object_get(intent, "payee_name"), "total", "currency", p.currency,
                          "value", value, "timeout",
                          (json_int_t)a->settings.challenge_ttl_s * 1000);
  const json_t *origin = json_object_get(intent, "payee_origin");
  const json_t *instr = json_object_get(intent, "instrument");
  if (out && origin) json_object_set(out, "payeeOrigin", (json_t *)origin);
  if (out && instr)
    json_object_set_new(out, "instrument",
                        json_pack("{s:O, s:O}", "displayName",
                                  json_object_get(instr, "display_name"), "icon",
                                  json_object_get(instr, "icon")));
  return out;
}

/* The challenge of a payment: fresh nonce, canonical payment, hash. */
static int payment_challenge(const json_t *intent, uint8_t out[32]) {
  qp_auth_payment_t p;
  uint8_t canonical[QP_AUTH_PAYMENT_CANONICAL_MAX], nonce[QP_AUTH_NONCE_SIZE];
  size_t len = 0;
  int rc = qp__auth_intent_payment(intent, &p);
  if (rc == 0) rc = qp_auth_payment_encode(&p, canonical, &len);
  if (rc != 0) return rc;
  randombytes_buf(nonce, sizeof nonce);
  qp_auth_payment_challenge(nonce, canonical, len, out);
  return 0;
}

static void reply_challenge(qp__auth_t *a, const json_t *intent, json_t *creds,
                            const qp__auth_ceremony_t *c, qp_http_reply_t *r) {
  json_t *challenge = qp__auth_b64url_json(c->challenge, sizeof c->challenge);
  json_t *options = json_pack("{s:O, s:s, s:o, s:s, s:I}", "challenge", challenge, "rpId",
                              a->settings.rp_id, "allowCredentials", allow_list(creds),
                              "userVerification", "required", "timeout",
                              (json_int_t)(c->expires_wall_s - qp__auth_now_s()) * 1000);
  qp_http_reply_json(r, 200, json_pack("{s:o, s:o, s:o}", "publicKey", options, "expires_at",
                                       qp__auth_time_json(c->expires_wall_s),
                                       "secure_payment_confirmation",
                                       spc_data(a, intent, creds, challenge)));
  json_decref(challenge);
}

void qp__auth_intent_challenge_run(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE],
                                   json_t *intent, qp_http_reply_t *r) {
  uint8_t user_id[QP_AUTH_ID_SIZE], challenge[32];
  json_t *creds = NULL;
  if (!qp__auth_intent_confirmable(intent, r)) return;
  qp__auth_ceremony_t c;
  int rc = qp__auth_id_parse(json_string_value(json_object_get(intent, "user_id")), user_id)
               ? qp__auth_cred_list(a, user_id, &creds)
               : QP_ECORRUPT;
  if (rc == 0 && json_array_size(creds) == 0)
    qp_http_reply_fail(r, 409, "no_credentials", "",
                       "the user has no registered credential to confirm with");
  else if (rc == 0 && (rc = payment_challenge(intent, challenge)) == 0 &&
           (rc = qp__auth_ceremony_new_payment(
                a, user_id, id, challenge,
                json_integer_value(json_object_get(intent, "expires_at_s")), &c)) == 0)
    reply_challenge(a, intent, creds, &c, r);
  else if (rc == QP_ELIMIT)
    qp_http_reply_fail(r, 429, "too_many_ceremonies", "", "too many challenges outstanding");
  else if (rc != 0)
    qp__auth_reply_store(r, rc, "cannot issue the challenge");
  json_decref(creds);
}

void qp__auth_intents_challenge(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__auth_t *a = ctx;
  uint8_t id[QP_AUTH_ID_SIZE];
  json_t *intent = NULL;
  if (!qp__auth_empty_body(req, r) || !qp__auth_intent_load(a, req, r, id, &intent)) return;
  qp__auth_intent_challenge_run(a, id, intent, r);
  json_decref(intent);
}
