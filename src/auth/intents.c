/*
 * intents.c - what the payment-intent handlers share: the record of an
 * intent (JSON in the intents table), its path id, its status as of now,
 * the payment its challenge commits to, and the ledger moves (hold, post,
 * void) through the ledger module's door (ledger/api.h).
 *
 * An intent's record: id, status (requires_confirmation, requires_review,
 * succeeded, canceled, expired), user_id, debit_account_id, credit_account_id, amount
 * (decimal strings), ledger, code, currency, payee_name, payee_origin and
 * instrument (optional, for SPC), order_id, expires_in_s, expires_at (ISO
 * 8601) and expires_at_s (unix seconds), transfer_id (the pending
 * transfer: the hold), created, risk (null: no risk module; else the
 * engine's decision, intents_risk.c), review (an operator's), and once
 * settled confirmed_at, credential_id, post_transfer_id or canceled_at,
 * void_transfer_id.
 */
#include <sodium.h>
#include <string.h>

#include "auth/intents_int.h"
#include "base/err.h"
#include "crypto/crypto.h"

json_t *qp__auth_u128_json(qp_u128 v) {
  char buf[QP_U128_BUF_SIZE];
  qp_u128_format(v, buf);
  return json_string(buf);
}

int qp__auth_u128_member(const json_t *obj, const char *name, qp_u128 *out) {
  const json_t *v = json_object_get(obj, name);
  char buf[QP_U128_BUF_SIZE];
  const char *text = json_string_value(v);
  if (json_is_integer(v) && json_integer_value(v) >= 0) {
    snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    text = buf;
  }
  if (text == NULL) return v == NULL ? QP_ENOTFOUND : QP_EINVAL;
  return qp_u128_parse(text, strlen(text), out);
}

qp_u128 qp__auth_new_transfer_id(void) {
  qp_u128 id = 0;
  while (id == 0 || id == ~(qp_u128)0) randombytes_buf(&id, sizeof id);
  return id;
}

qp_u128 qp__auth_settle_transfer_id(qp_u128 hold, char kind) {
  static const char tag[] = "quipu-intent-settle-v1";
  enum { TAG = sizeof tag - 1 };
  uint8_t in[TAG + 1 + 16], h[QP_HASH_SIZE];
  memcpy(in, tag, TAG);
  in[TAG] = (uint8_t)kind;
  for (int i = 0; i < 16; i++) in[TAG + 1 + i] = (uint8_t)(hold >> (8 * (15 - i)));
  qp_sha256(h, in, sizeof in);
  qp_u128 id = 0;
  for (int i = 0; i < 16; i++) id = (id << 8) | h[i];
  return id == 0 || id == ~(qp_u128)0 ? 1 : id;
}

pthread_mutex_t *qp__auth_intent_lock(qp__auth_t *a, qp_http_request_t *req) {
  uint8_t id[QP_AUTH_ID_SIZE] = {0};
  qp__auth_id_parse(qp_http_param(req, "id"), id);
  return &a->intent_locks[id[0] % QP_AUTH_INTENT_LOCKS];
}

bool qp__auth_intent_load(qp__auth_t *a, qp_http_request_t *req, qp_http_reply_t *r,
                          uint8_t id[QP_AUTH_ID_SIZE], json_t **out) {
  *out = NULL;
  int rc = qp__auth_id_parse(qp_http_param(req, "id"), id) ? qp__auth_intent_get(a, id, out)
                                                            : QP_ENOTFOUND;
  json_int_t ledger = rc == 0 ? json_integer_value(json_object_get(*out, "ledger")) : 0;
  if (rc == 0 && !qp_http_caller_ledger_allowed(req, (uint32_t)ledger)) {
    json_decref(*out);
    *out = NULL;
    rc = QP_ENOTFOUND; /* as the ledger does: another ledger's records are unknown */
  }
  if (rc == QP_ENOTFOUND)
    qp_http_reply_fail(r, 404, "payment_intent_not_found", "id", "no such payment intent");
  else if (rc != 0)
    qp__auth_reply_store(r, rc, "cannot read the payment intent");
  return rc == 0;
}

const char *qp__auth_intent_status(const json_t *intent) {
  const char *status = json_string_value(json_object_get(intent, "status"));
  if (status == NULL) return "unknown";
  if (strcmp(status, "requires_confirmation") != 0 && strcmp(status, "requires_review") != 0)
    return status;
  /* The ledger is the truth about the hold: a crash between posting it and
   * storing the intent, or a post or void through the ledger's own API,
   * shows here. */
  qp_ledger_service_t *svc = qp_ledger_service();
  qp_transfer_t t;
  qp_pending_state_t state = QP_PENDING_PENDING;
  qp_u128 id = 0;
  if (svc != NULL && qp__auth_u128_member(intent, "transfer_id", &id) == 0 &&
      qp_ledger_service_transfer(svc, id, &t, &state) == 0) {
    if (state == QP_PENDING_POSTED) return "succeeded";
    if (state == QP_PENDING_VOIDED) return "canceled";
    if (state == QP_PENDING_EXPIRED) return "expired";
  }
  json_int_t expires = json_integer_value(json_object_get(intent, "expires_at_s"));
  return qp__auth_now_s() >= expires ? "expired" : status; /* the ledger voids it soon */
}

/* A hold the ledger settled while the record did not follow (a crash
 * between the two): the settling transfer's id, when the ledger has it. */
static void settled_by_ledger(json_t *out, const char *status) {
  bool posted = strcmp(status, "succeeded") == 0, voided = strcmp(status, "canceled") == 0;
  const char *member = posted ? "post_transfer_id" : "void_transfer_id";
  qp_ledger_service_t *svc = qp_ledger_service();
  qp_u128 hold = 0;
  if ((!posted && !voided) || json_object_get(out, member) != NULL || svc == NULL ||
      qp__auth_u128_member(out, "transfer_id", &hold) != 0)
    return;
  qp_transfer_t t;
  qp_pending_state_t state;
  qp_u128 id = qp__auth_settle_transfer_id(hold, posted ? 'P' : 'V');
  if (qp_ledger_service_transfer(svc, id, &t, &state) == 0 && t.pending_id == hold)
    json_object_set_new(out, member, qp__auth_u128_json(id));
}

json_t *qp__auth_intent_public(const json_t *intent) {
  json_t *out = json_deep_copy(intent);
  if (out == NULL) return NULL;
  const char *status = qp__auth_intent_status(intent);
  json_object_set_new(out, "status", json_string(status));
  settled_by_ledger(out, status);
  json_object_del(out, "expires_at_s");
  return out;
}

bool qp__auth_intent_confirmable(const json_t *intent, qp_http_reply_t *r) {
  const char *status = qp__auth_intent_status(intent);
  if (strcmp(status, "requires_confirmation") == 0) return true;
  if (strcmp(status, "requires_review") == 0)
    qp_http_reply_fail(r, 409, "payment_intent_in_review", "", "the risk engine sent this "
                       "payment to review: it waits for an operator's approve or decline");
  else if (strcmp(status, "expired") == 0)
    qp_http_reply_fail(r, 409, "payment_intent_expired", "",
                       "the payment intent expired; its hold is voided and no money moves");
  else {
    qp_http_error_t err = {0};
    qp_http_error_set(&err, 409, "payment_intent_not_confirmable", "",
                      "the payment intent is %s, not requires_confirmation", status);
    qp_http_reply_error(r, &err);
  }
  return false;
}

bool qp__auth_intent_cancelable(const json_t *intent, qp_http_reply_t *r) {
  if (strcmp(qp__auth_intent_status(intent), "requires_review") == 0) return true;
  return qp__auth_intent_confirmable(intent, r);
}

int qp__auth_intent_payment(const json_t *intent, qp_auth_payment_t *p) {
  memset(p, 0, sizeof *p);
  const char *currency = json_string_value(json_object_get(intent, "currency"));
  if (currency == NULL || strlen(currency) != 3) return QP_ECORRUPT;
  memcpy(p->currency, currency, 4);
  p->ledger = (uint32_t)json_integer_value(json_object_get(intent, "ledger"));
  p->payee_name = json_string_value(json_object_get(intent, "payee_name"));
  p->order_id = json_string_value(json_object_get(intent, "order_id"));
  p->expires_at_s = (uint64_t)json_integer_value(json_object_get(intent, "expires_at_s"));
  if (qp__auth_u128_member(intent, "amount", &p->amount) != 0 ||
      qp__auth_u128_member(intent, "debit_account_id", &p->debit_account_id) != 0 ||
      qp__auth_u128_member(intent, "credit_account_id", &p->credit_account_id) != 0)
    return QP_ECORRUPT;
  return 0;
}

int qp__auth_ledger_move(const qp_transfer_t *t, uint32_t *result) {
  qp_ledger_service_t *svc = qp_ledger_service();
  if (svc == NULL) return QP_ENOTSUP;
  return qp_ledger_service_transfers(svc, t, 1, result);
}

void qp__auth_reply_ledger(qp_http_reply_t *r, int rc, uint32_t result) {
  qp_http_error_t err = {0};
  if (rc == QP_ENOTSUP)
    qp_http_error_set(&err, 503, "ledger_unavailable", "", "payment intents need the ledger "
                      "module enabled on this node (modules.ledger)");
  else if (rc == QP_ELIMIT)
    qp_http_error_set(&err, 429, "too_many_requests", "", "the ledger's commit queue is full");
  else if (rc == QP_ENOSPC)
    qp_http_error_set(&err, 503, "disk_full", "", "the disk holding the journal is full");
  else if (rc != 0)
    qp_http_error_set(&err, 503, "ledger_unavailable", "", "the ledger refused writes: %s",
                      qp_strerror(rc));
  else
    qp_http_error_set(&err, 422, qp_create_transfer_result_name(result), "",
                      "the ledger refused the transfer: %s",
                      qp_create_transfer_result_name(result));
  qp_http_reply_error(r, &err);
}
