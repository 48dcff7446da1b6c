/*
 * intents_risk.c - payment intents and the risk module (docs/auth.md,
 * "Risk"): when the node runs the risk engine, creating an intent asks for
 * a decision first and records it on the intent.  block: the intent is
 * refused with the explanation and no money moves.  review: the hold is
 * made but the intent waits (status requires_review) for an operator's
 * POST /v1/payment-intents/{id}/approve (then the payer confirms with the
 * passkey as usual) or /decline (the hold is voided).  challenge: the
 * passkey confirmation, as always.  allow: the passkey too, unless the
 * node's modules.risk.frictionless_below is above the amount: then the
 * hold is posted at once (status succeeded, frictionless true).
 */
#include <string.h>

#include "auth/intents_int.h"
#include "base/err.h"
#include "risk/service.h"

/* The event the engine sees for an intent. */
static json_t *intent_event(const json_t *intent) {
  json_t *e = json_object();
  static const char *const copy[] = {"id", "user_id", "amount", "ledger", "currency",
                                     "payee_name", "order_id", "payee_origin", NULL};
  for (size_t i = 0; copy[i] != NULL; i++) {
    json_t *v = json_object_get(intent, copy[i]);
    if (v != NULL) json_object_set(e, strcmp(copy[i], "user_id") == 0 ? "user" : copy[i], v);
  }
  json_object_set_new(e, "type", json_string("payment_intent"));
  json_object_set_new(e, "time", json_integer(qp__auth_now_s()));
  json_object_set(e, "payer", json_object_get(intent, "debit_account_id"));
  json_object_set(e, "payee", json_object_get(intent, "credit_account_id"));
  return e;
}

int qp__auth_intent_risk(json_t *intent, qp_http_reply_t *r) {
  if (!qp_risk_service_enabled()) return QP_AUTH_RISK_NONE;
  json_t *event = intent_event(intent), *decision = NULL;
  qp_risk_outcome_t outcome = QP_RISK_ALLOW;
  char err[200];
  int rc = event != NULL ? qp_risk_service_decide(event, &outcome, &decision, err, sizeof err)
                         : QP_ENOMEM;
  json_decref(event);
  if (rc == QP_ENOTFOUND) return QP_AUTH_RISK_NONE; /* stopping: as without the module */
  if (rc != 0) {
    qp_http_reply_fail(r, 503, "risk_unavailable", "", "the risk engine could not decide; "
                       "no money moved");
    return -1;
  }
  json_object_set_new(intent, "risk", decision);
  if (outcome != QP_RISK_BLOCK) return (int)outcome;
  qp_http_error_t e = {0};
  qp_http_error_set(&e, 422, "risk_blocked", "", "the risk engine blocked this payment; no "
                    "money moved (the fired rules and their reasons are in error.risk)");
  json_t *body = qp_http_error_json(&e);
  json_object_set(json_object_get(body, "error"), "risk", decision);
  qp_http_reply_json(r, 422, body);
  return -1;
}

bool qp__auth_intent_frictionless(const json_t *intent) {
  int64_t below = qp_risk_service_frictionless_below();
  qp_u128 amount = 0;
  if (below < 0 || qp__auth_u128_member(intent, "amount", &amount) != 0) return false;
  return amount < (qp_u128)below;
}

int qp__auth_intent_post(json_t *intent, uint32_t *result) {
  qp_transfer_t post;
  memset(&post, 0, sizeof post);
  post.flags = QP_TRANSFER_POST_PENDING_TRANSFER;
  int rc = qp__auth_u128_member(intent, "transfer_id", &post.pending_id);
  post.id = qp__auth_settle_transfer_id(post.pending_id, 'P');
  if (rc == 0) rc = qp__auth_ledger_move(&post, result);
  if (rc == 0 && *result == QP_CREATE_TRANSFER_OK) {
    json_object_set_new(intent, "status", json_string("succeeded"));
    json_object_set_new(intent, "confirmed_at", qp__auth_time_json(qp__auth_now_s()));
    json_object_set_new(intent, "post_transfer_id", qp__auth_u128_json(post.id));
  }
  return rc;
}

/* The operator's optional {"note": "…"} (at most 256 bytes); false after a reply. */
static bool review_note(qp_http_request_t *req, qp_http_reply_t *r, json_t **note) {
  static const char *const allowed[] = {"note", NULL};
  size_t len = 0;
  *note = NULL;
  if (qp_http_body(req, &len) == NULL || len == 0) return true;
  json_t *body = qp_http_body_object(req, r, allowed, 0);
  if (body == NULL) return false;
  json_t *n = json_object_get(body, "note");
  bool ok = n == NULL || (json_is_string(n) && json_string_length(n) <= 256);
  if (!ok) qp_http_reply_fail(r, 400, "invalid_value", "note", "note is a string of at most "
                              "256 bytes");
  else if (n != NULL) *note = json_incref(n);
  json_decref(body);
  return ok;
}

static bool in_review(const json_t *intent, qp_http_reply_t *r) {
  const char *status = qp__auth_intent_status(intent);
  if (strcmp(status, "requires_review") == 0) return true;
  qp_http_error_t e = {0};
  qp_http_error_set(&e, 409, "payment_intent_not_in_review", "", "the payment intent is %s, "
                    "not requires_review", status);
  qp_http_reply_error(r, &e);
  return false;
}

/* Approve: the intent goes on to the passkey confirmation.  Decline: its
 * hold is voided and it is canceled. */
static void review(qp__auth_t *a, qp_http_request_t *req, qp_http_reply_t *r, bool approve) {
  uint8_t id[QP_AUTH_ID_SIZE];
  json_t *intent = NULL, *note = NULL;
  if (!review_note(req, r, &note)) return;
  pthread_mutex_t *lock = qp__auth_intent_lock(a, req);
  pthread_mutex_lock(lock);
  if (qp__auth_intent_load(a, req, r, id, &intent) && in_review(intent, r)) {
    const char *who = qp_http_caller_key_id(req);
    json_t *rv = json_pack("{s:s, s:s, s:o}", "outcome", approve ? "approved" : "declined", "by",
                           who != NULL && who[0] ? who : "anonymous", "at",
                           qp__auth_time_json(qp__auth_now_s()));
    if (note != NULL) json_object_set(rv, "note", note);
    qp_transfer_t v;
    memset(&v, 0, sizeof v);
    uint32_t result = QP_CREATE_TRANSFER_OK;
    int rc = 0;
    if (!approve) {
      v.flags = QP_TRANSFER_VOID_PENDING_TRANSFER;
      rc = qp__auth_u128_member(intent, "transfer_id", &v.pending_id);
      v.id = qp__auth_settle_transfer_id(v.pending_id, 'V');
      if (rc == 0) rc = qp__auth_ledger_move(&v, &result);
      json_object_set_new(intent, "void_transfer_id", qp__auth_u128_json(v.id));
      json_object_set_new(intent, "canceled_at", qp__auth_time_json(qp__auth_now_s()));
    }
    json_object_set_new(intent, "status",
                        json_string(approve ? "requires_confirmation" : "canceled"));
    json_object_set_new(intent, "review", rv);
    if (rc != 0 || result != QP_CREATE_TRANSFER_OK) qp__auth_reply_ledger(r, rc, result);
    else if ((rc = qp__auth_intent_put(a, id, intent, false)) != 0)
      qp__auth_reply_store(r, rc, "cannot store the payment intent");
    else qp_http_reply_json(r, 200, qp__auth_intent_public(intent));
  }
  pthread_mutex_unlock(lock);
  json_decref(intent);
  json_decref(note);
}

void qp__auth_intents_approve(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  review(ctx, req, r, true);
}

void qp__auth_intents_decline(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  review(ctx, req, r, false);
}
