/*
 * routes_intents.c - payment intents: POST /v1/payment-intents (the hold:
 * a pending ledger transfer with the intent's expiry as its timeout), GET
 * /v1/payment-intents/{id} and POST /v1/payment-intents/{id}/cancel (void
 * the hold).  The challenge and the confirmation are in routes_confirm.c.
 */
#include <sodium.h>
#include <string.h>

#include "auth/intents_int.h"
#include "base/err.h"
#include "risk/service.h"

#define EXPIRES_IN_S_DEFAULT 900
#define EXPIRES_IN_S_MAX (7 * 86400)
#define PAYEE_ORIGIN_MAX 256

/* The optional SPC members: payee_origin (string), instrument {display_name, icon}. */
static bool spc_fields(const json_t *body, json_t *intent, qp_http_reply_t *r) {
  const json_t *origin = json_object_get(body, "payee_origin");
  const json_t *instr = json_object_get(body, "instrument");
  if (origin != NULL && (!json_is_string(origin) || json_string_length(origin) == 0 ||
                         json_string_length(origin) > PAYEE_ORIGIN_MAX))
    return qp_http_fail_value(r, "payee_origin",
                              "payee_origin must be an origin string of 1 to 256 bytes");
  const json_t *name = json_object_get(instr, "display_name");
  const json_t *icon = json_object_get(instr, "icon");
  if (instr != NULL && (!json_is_object(instr) || json_object_size(instr) != 2 ||
                        !json_is_string(name) || !json_is_string(icon)))
    return qp_http_fail_value(r, "instrument",
                              "instrument must be {\"display_name\": string, \"icon\": string}");
  if (origin) json_object_set(intent, "payee_origin", (json_t *)origin);
  if (instr) json_object_set(intent, "instrument", (json_t *)instr);
  return true;
}

/* Reads and checks the body into a new intent record (without the hold). */
static json_t *read_intent(qp__auth_t *a, qp_http_request_t *req, const json_t *body,
                           qp_transfer_t *hold, qp_http_reply_t *r) {
  json_int_t ledger = 0, code = 0, expires_in = 0;
  const char *uid = NULL, *cur = NULL, *payee = NULL, *order = NULL;
  if (!qp_http_member_string(body, "user_id", NULL, QP_AUTH_ID_HEX, true, &uid, r) ||
      !qp_http_member_string(body, "currency", NULL, 3, true, &cur, r) ||
      !qp_http_member_string(body, "payee_name", NULL, QP_AUTH_PAYEE_MAX, true, &payee, r) ||
      !qp_http_member_string(body, "order_id", NULL, QP_AUTH_ORDER_ID_MAX, true, &order, r) ||
      !qp_http_member_u128(body, "debit_account_id", &hold->debit_account_id, r) ||
      !qp_http_member_u128(body, "credit_account_id", &hold->credit_account_id, r) ||
      !qp_http_member_u128(body, "amount", &hold->amount, r) ||
      !qp_http_member_int(body, "ledger", 1, UINT32_MAX, 0, &ledger, r) ||
      !qp_http_member_int(body, "code", 1, UINT16_MAX, 1, &code, r) ||
      !qp_http_member_int(body, "expires_in_s", 1, EXPIRES_IN_S_MAX, EXPIRES_IN_S_DEFAULT,
                          &expires_in, r))
    return NULL;
  if (qp_auth_currency_decimals(cur) < 0) {
    qp_http_fail_value(r, "currency",
                       "currency must be an ISO 4217 code: three upper-case letters");
    return NULL;
  }
  if (!qp_http_caller_ledger_allowed(req, (uint32_t)ledger)) {
    qp_http_reply_fail(r, 403, "ledger_not_allowed", "ledger",
                       "this API key may not touch this ledger");
    return NULL;
  }
  uint8_t user_id[QP_AUTH_ID_SIZE];
  json_t *user = NULL;
  if (!qp__auth_id_parse(uid, user_id) || qp__auth_user_get(a, user_id, &user) != 0) {
    qp_http_reply_fail(r, 404, "user_not_found", "user_id", "no such user");
    return NULL;
  }
  json_decref(user);
  int64_t now = qp__auth_now_s();
  hold->ledger = (uint32_t)ledger;
  hold->code = (uint16_t)code;
  hold->timeout = (uint32_t)expires_in;
  json_t *intent = json_pack(
      "{s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:s, s:s, s:s, s:I, s:o, s:I, s:o, s:n}", "status",
      "requires_confirmation", "user_id", uid, "debit_account_id",
      qp__auth_u128_json(hold->debit_account_id), "credit_account_id",
      qp__auth_u128_json(hold->credit_account_id), "amount", qp__auth_u128_json(hold->amount),
      "ledger", ledger, "code", code, "currency", cur, "payee_name", payee, "order_id", order,
      "expires_in_s", expires_in, "expires_at", qp__auth_time_json(now + expires_in),
      "expires_at_s", (json_int_t)(now + expires_in), "created", qp__auth_time_json(now), "risk");
  if (intent != NULL && !spc_fields(body, intent, r)) {
    json_decref(intent);
    return NULL;
  }
  return intent;
}

/* After the hold: an intent in review waits for an operator; an allowed
 * one below the frictionless amount is posted at once. */
static void after_hold(json_t *intent, int verdict) {
  if (verdict == QP_RISK_REVIEW) {
    json_object_set_new(intent, "status", json_string("requires_review"));
  } else if (verdict == QP_RISK_ALLOW && qp__auth_intent_frictionless(intent)) {
    uint32_t result = 0;
    if (qp__auth_intent_post(intent, &result) == 0 && result == QP_CREATE_TRANSFER_OK)
      json_object_set_new(intent, "frictionless", json_true());
  }
}

void qp__auth_intents_create(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const allowed[] = {"user_id", "debit_account_id", "credit_account_id",
                                        "amount", "ledger", "currency", "payee_name",
                                        "payee_origin", "instrument", "order_id",
                                        "expires_in_s", "code", NULL};
  qp__auth_t *a = ctx;
  json_t *body = qp_http_body_object(req, r, allowed, 0);
  qp_transfer_t hold;
  memset(&hold, 0, sizeof hold);
  json_t *intent = body ? read_intent(a, req, body, &hold, r) : NULL;
  json_decref(body);
  if (intent == NULL) return;
  uint8_t id[QP_AUTH_ID_SIZE];
  char hex[QP_AUTH_ID_HEX + 1];
  randombytes_buf(id, sizeof id);
  qp__auth_id_hex(id, hex);
  hold.id = qp__auth_new_transfer_id();
  hold.flags = QP_TRANSFER_PENDING;
  json_object_set_new(intent, "id", json_string(hex));
  json_object_set_new(intent, "transfer_id", qp__auth_u128_json(hold.id));
  int verdict = qp__auth_intent_risk(intent, r);
  uint32_t result = 0;
  int rc = verdict >= 0 ? qp__auth_ledger_move(&hold, &result) : 0;
  if (verdict < 0) { /* refused: the reply is made */
  } else if (rc != 0 || result != QP_CREATE_TRANSFER_OK) {
    qp__auth_reply_ledger(r, rc, result);
  } else {
    after_hold(intent, verdict);
    if ((rc = qp__auth_intent_put(a, id, intent, true)) != 0)
      qp__auth_reply_store(r, rc, "cannot store the payment intent (its hold expires unused)");
    else
      qp_http_reply_json(r, 200, qp__auth_intent_public(intent));
  }
  json_decref(intent);
}

void qp__auth_intents_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  uint8_t id[QP_AUTH_ID_SIZE];
  json_t *intent = NULL;
  if (!qp__auth_intent_load(ctx, req, r, id, &intent)) return;
  qp_http_reply_json(r, 200, qp__auth_intent_public(intent));
  json_decref(intent);
}

/* An optional empty body ({} or nothing); false after an error reply. */
bool qp__auth_empty_body(qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const none[] = {NULL};
  size_t len = 0;
  if (qp_http_body(req, &len) == NULL || len == 0) return true;
  json_t *body = qp_http_body_object(req, r, none, 0);
  json_decref(body);
  return body != NULL;
}

void qp__auth_intent_cancel_run(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE], json_t *intent,
                                qp_http_reply_t *r) {
  if (!qp__auth_intent_cancelable(intent, r)) return;
  qp_transfer_t v;
  memset(&v, 0, sizeof v);
  v.flags = QP_TRANSFER_VOID_PENDING_TRANSFER;
  uint32_t result = 0;
  int rc = qp__auth_u128_member(intent, "transfer_id", &v.pending_id);
  v.id = qp__auth_settle_transfer_id(v.pending_id, 'V');
  if (rc == 0) rc = qp__auth_ledger_move(&v, &result);
  qp__auth_ceremony_t used;
  qp__auth_ceremony_take_intent(a, id, &used); /* its challenge dies with it */
  bool voided = rc == 0 && result == QP_CREATE_TRANSFER_OK;
  json_object_set_new(intent, "status", json_string(voided ? "canceled" : "expired"));
  json_object_set_new(intent, "canceled_at", qp__auth_time_json(qp__auth_now_s()));
  json_object_set_new(intent, "void_transfer_id", qp__auth_u128_json(v.id));
  if (rc == 0 && (voided || result == QP_CREATE_TRANSFER_PENDING_TRANSFER_EXPIRED))
    rc = qp__auth_intent_put(a, id, intent, false);
  if (rc == 0 && voided) qp_http_reply_json(r, 200, qp__auth_intent_public(intent));
  else if (rc == 0 && result == QP_CREATE_TRANSFER_PENDING_TRANSFER_EXPIRED)
    qp__auth_intent_confirmable(intent, r);
  else qp__auth_reply_ledger(r, rc, result);
}

void qp__auth_intents_cancel(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__auth_t *a = ctx;
  uint8_t id[QP_AUTH_ID_SIZE];
  json_t *intent = NULL;
  if (!qp__auth_empty_body(req, r)) return;
  pthread_mutex_t *lock = qp__auth_intent_lock(a, req);
  pthread_mutex_lock(lock);
  if (qp__auth_intent_load(a, req, r, id, &intent)) qp__auth_intent_cancel_run(a, id, intent, r);
  pthread_mutex_unlock(lock);
  json_decref(intent);
}
