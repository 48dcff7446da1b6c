/*
 * user_intents_door.c - payment intents on behalf of one user, for the
 * wallet module (auth.h, "the wallet's door"): the record, hold, risk
 * decision, challenge, confirmation and cancel of POST /v1/payment-intents
 * and its sub-routes (routes_intents.c, routes_confirm.c, confirm.c), with
 * one more rule: an intent that is not the user's is not found.  The
 * hold's user_data_128 is the intent's id (its 16 bytes), so a bill names
 * its intent.
 */
#include <sodium.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/intents_int.h"
#include "base/alloc.h"
#include "base/err.h"
#include "risk/service.h"

static bool door(qp__auth_t **a, qp_http_reply_t *r) {
  *a = qp__auth_service_get();
  if (*a == NULL)
    qp_http_reply_fail(r, 503, "auth_unavailable", "", "the wallet needs the auth module");
  return *a != NULL;
}

static json_t *record(const qp_auth_intent_args_t *x, const qp_transfer_t *hold) {
  int64_t now = qp__auth_now_s();
  return json_pack(
      "{s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:s, s:s, s:s, s:I, s:o, s:I, s:o, s:n, s:o}",
      "status", "requires_confirmation", "user_id", x->user_id, "debit_account_id",
      qp__auth_u128_json(hold->debit_account_id), "credit_account_id",
      qp__auth_u128_json(hold->credit_account_id), "amount", qp__auth_u128_json(hold->amount),
      "ledger", (json_int_t)hold->ledger, "code", (json_int_t)hold->code, "currency",
      x->currency, "payee_name", x->payee_name, "order_id", x->order_id, "expires_in_s",
      (json_int_t)hold->timeout, "expires_at", qp__auth_time_json(now + hold->timeout),
      "expires_at_s", (json_int_t)(now + hold->timeout), "created", qp__auth_time_json(now),
      "risk", "transfer_id", qp__auth_u128_json(hold->id));
}

void qp_auth_door_intent_new(const qp_auth_intent_args_t *x, qp_http_reply_t *r) {
  qp__auth_t *a;
  if (!door(&a, r)) return;
  qp_transfer_t hold;
  memset(&hold, 0, sizeof hold);
  hold.id = qp__auth_new_transfer_id();
  hold.debit_account_id = x->debit;
  hold.credit_account_id = x->credit;
  hold.amount = x->amount;
  hold.ledger = x->ledger;
  hold.code = 1;
  hold.timeout = x->expires_in_s;
  hold.flags = QP_TRANSFER_PENDING;
  uint8_t id[QP_AUTH_ID_SIZE];
  char hex[QP_AUTH_ID_HEX + 1];
  randombytes_buf(id, sizeof id);
  qp__auth_id_hex(id, hex);
  memcpy(&hold.user_data_128, id, sizeof id); /* the hold names its intent (a wallet's bill) */
  json_t *intent = record(x, &hold);
  if (intent == NULL) {
    qp_http_reply_fail(r, 500, "internal", "", "out of memory");
    return;
  }
  json_object_set_new(intent, "id", json_string(hex));
  int verdict = qp__auth_intent_risk(intent, r);
  uint32_t result = 0;
  int rc = verdict >= 0 ? qp__auth_ledger_move(&hold, &result) : 0;
  if (verdict < 0) { /* refused: the reply is made */
  } else if (rc != 0 || result != QP_CREATE_TRANSFER_OK) {
    qp__auth_reply_ledger(r, rc, result);
  } else {
    if (verdict == QP_RISK_REVIEW)
      json_object_set_new(intent, "status", json_string("requires_review"));
    if ((rc = qp__auth_intent_put(a, id, intent, true)) != 0)
      qp__auth_reply_store(r, rc, "cannot store the payment intent (its hold expires unused)");
    else
      qp_http_reply_json(r, 200, qp__auth_intent_public(intent));
  }
  json_decref(intent);
}

/* The intent of the user; false after a 404 (or a store error). */
static bool load(qp__auth_t *a, const char *user_id, const char *intent_id,
                 uint8_t id[QP_AUTH_ID_SIZE], json_t **out, qp_http_reply_t *r) {
  *out = NULL;
  int rc = intent_id != NULL && qp__auth_id_parse(intent_id, id)
               ? qp__auth_intent_get(a, id, out)
               : QP_ENOTFOUND;
  const char *owner = rc == 0 ? json_string_value(json_object_get(*out, "user_id")) : NULL;
  if (rc == 0 && (owner == NULL || user_id == NULL || strcmp(owner, user_id) != 0)) {
    json_decref(*out);
    *out = NULL;
    rc = QP_ENOTFOUND;
  }
  if (rc == QP_ENOTFOUND)
    qp_http_reply_fail(r, 404, "payment_intent_not_found", "id", "no such payment intent");
  else if (rc != 0)
    qp__auth_reply_store(r, rc, "cannot read the payment intent");
  return rc == 0;
}

void qp_auth_door_intent_get(const char *user_id, const char *intent_id, qp_http_reply_t *r) {
  qp__auth_t *a;
  uint8_t id[QP_AUTH_ID_SIZE];
  json_t *intent = NULL;
  if (!door(&a, r) || !load(a, user_id, intent_id, id, &intent, r)) return;
  qp_http_reply_json(r, 200, qp__auth_intent_public(intent));
  json_decref(intent);
}

void qp_auth_door_intent_challenge(const char *user_id, const char *intent_id,
                                   qp_http_reply_t *r) {
  qp__auth_t *a;
  uint8_t id[QP_AUTH_ID_SIZE];
  json_t *intent = NULL;
  if (!door(&a, r) || !load(a, user_id, intent_id, id, &intent, r)) return;
  qp__auth_intent_challenge_run(a, id, intent, r);
  json_decref(intent);
}

void qp_auth_door_intent_confirm(const char *user_id, const char *intent_id,
                                 const json_t *credential, qp_http_reply_t *r) {
  qp__auth_t *a;
  uint8_t id[QP_AUTH_ID_SIZE];
  json_t *intent = NULL;
  if (!door(&a, r) || !load(a, user_id, intent_id, id, &intent, r)) return;
  json_decref(intent);
  intent = NULL;
  json_t *body = json_pack("{s:O}", "credential", credential);
  qp__auth_assertion_in_t *as = qp_calloc(1, sizeof *as);
  pthread_mutex_t *lock = &a->intent_locks[id[0] % QP_AUTH_INTENT_LOCKS];
  pthread_mutex_lock(lock);
  if (body == NULL || as == NULL) qp_http_reply_fail(r, 500, "internal", "", "out of memory");
  else if (load(a, user_id, intent_id, id, &intent, r))
    qp__auth_intent_confirm_run(a, id, intent, body, as, r);
  pthread_mutex_unlock(lock);
  json_decref(intent);
  json_decref(body);
  qp_free(as);
}

void qp_auth_door_intent_cancel(const char *user_id, const char *intent_id, qp_http_reply_t *r) {
  qp__auth_t *a;
  uint8_t id[QP_AUTH_ID_SIZE];
  json_t *intent = NULL;
  if (!door(&a, r) || !load(a, user_id, intent_id, id, &intent, r)) return;
  json_decref(intent);
  intent = NULL;
  pthread_mutex_t *lock = &a->intent_locks[id[0] % QP_AUTH_INTENT_LOCKS];
  pthread_mutex_lock(lock);
  if (load(a, user_id, intent_id, id, &intent, r)) qp__auth_intent_cancel_run(a, id, intent, r);
  pthread_mutex_unlock(lock);
  json_decref(intent);
}
