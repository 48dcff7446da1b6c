/*
 * routes_collect.c - POST /v1/orders/{id}/collect {"payment_code"}: the
 * shop scans the code a customer's wallet shows (docs/payments.md, "Paying
 * by payment code").  Under the order lock: the order must be open; the
 * code must name an active device on the order's ledger and be its current
 * or previous step's, not used yet; the risk module decides (block: 422);
 * then either the money moves at once (an allowed amount up to
 * collect_without_confirmation_max: one ledger transfer whose id comes from
 * the order id, so a retry never pays twice) and the order is paid, or a
 * payment intent is made for the user (auth.h's door) and the order waits in
 * requires_confirmation until the intent succeeds (order_paid.c).  The
 * code is marked used in the transaction that changes the order; every
 * refusal changes nothing.
 */
#include <string.h>

#include "auth/auth.h"
#include "base/err.h"
#include "ledger/api.h"
#include "payments/payments.h"
#include "payments/payments_int.h"
#include "risk/service.h"

#define RISK_NONE 100 /* no risk module: as allow */

/* What one collect works on. */
typedef struct {
  uint8_t id[QP_PAY_ID_SIZE];  /* the order's id */
  json_t *order;               /* its record */
  json_t *device;              /* the code's device */
  uint64_t step;               /* the code's time step */
  qp_u128 amount, payer, payee; /* the order's amount, the device's account, the settlement */
} collect_t;

static void refuse(qp_http_reply_t *r, const char *code, const char *what) {
  qp_http_reply_fail(r, 422, code, "payment_code", what);
}

/* The code's device and step into c; false after a reply. */
static bool verify_code(qp__pay_t *p, uint32_t number, uint64_t otp, collect_t *c,
                        qp_http_reply_t *r) {
  int rc = qp__pay_device_by_number(p, number, &c->device);
  if (rc == QP_ENOTFOUND) return refuse(r, "payment_code_invalid", "no device has this code"),
                          false;
  if (rc != 0) return qp__pay_reply_store(r, rc), false;
  const char *why = qp__pay_code_refusal(c->device, otp, qp__pay_now_s(),
                                         qp__pay_code_used_store, p, &c->step, &rc);
  if (rc != 0) return qp__pay_reply_store(r, rc), false;
  if (why == NULL) return true;
  if (strcmp(why, "payment_code_revoked") == 0)
    refuse(r, why, "the code's device is revoked");
  else if (strcmp(why, "payment_code_expired") == 0)
    refuse(r, why, "the code's 60 s are over; show a new one");
  else if (strcmp(why, "payment_code_used") == 0)
    qp_http_reply_fail(r, 409, why, "payment_code", "the code was used already; show a new one");
  else refuse(r, why, "the code is not valid (mistyped, or not this device's code now)");
  return false;
}

/* Whether the order is open; false after a 409 with its status. */
static bool order_open(const collect_t *c, qp_http_reply_t *r) {
  const char *status = qp__pay_order_status(c->order, qp__pay_now_s());
  if (strcmp(status, "open") == 0) return true;
  qp__pay_reply_state(r, status, "collected");
  return false;
}

/* Checks the order is on the device's ledger and fills c's amount and
 * accounts; false after a reply. */
static bool check_order(collect_t *c, qp_http_reply_t *r) {
  json_int_t ol = json_integer_value(json_object_get(c->order, "ledger"));
  json_int_t dl = json_integer_value(json_object_get(c->device, "ledger"));
  if (ol != dl) {
    qp_http_error_t err = {0};
    qp_http_error_set(&err, 422, "payment_code_invalid", "payment_code", "the code's account "
                      "is on ledger %lld, the order on ledger %lld", (long long)dl, (long long)ol);
    qp_http_reply_error(r, &err);
    return false;
  }
  if (!qp__pay_member_u128(c->order, "amount", &c->amount) ||
      !qp__pay_member_u128(c->device, "account_id", &c->payer) ||
      !qp__pay_member_u128(c->order, "settlement_account_id", &c->payee) || c->payee == 0)
    return qp__pay_reply_store(r, QP_ECORRUPT), false;
  return true;
}

/* The risk module's outcome (RISK_NONE without it); -1 after a reply
 * (block: 422 risk_blocked with error.risk; or 503).  *decision: its JSON. */
static int decide(const collect_t *c, json_t **decision, qp_http_reply_t *r) {
  *decision = NULL;
  if (!qp_risk_service_enabled()) return RISK_NONE;
  json_t *e = json_pack("{s:O, s:s, s:I, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "id",
                        json_object_get(c->order, "id"), "type", "payment_code", "time",
                        (json_int_t)qp__pay_now_s(), "user", json_object_get(c->device,
                        "user_id"), "amount", json_object_get(c->order, "amount"), "ledger",
                        json_object_get(c->order, "ledger"), "currency",
                        json_object_get(c->order, "currency"), "order_id",
                        json_object_get(c->order, "id"), "payer",
                        json_object_get(c->device, "account_id"), "payee",
                        json_object_get(c->order, "settlement_account_id"));
  qp_risk_outcome_t outcome = QP_RISK_ALLOW;
  char err[200];
  int rc = e != NULL ? qp_risk_service_decide(e, &outcome, decision, err, sizeof err)
                     : QP_ENOMEM;
  json_decref(e);
  if (rc == QP_ENOTFOUND) return RISK_NONE;
  if (rc != 0)
    return qp_http_reply_fail(r, 503, "risk_unavailable", "", "the risk engine could not "
                              "decide; no money moved"), -1;
  if (outcome != QP_RISK_BLOCK) return (int)outcome;
  qp_http_error_t x = {0};
  qp_http_error_set(&x, 422, "risk_blocked", "", "the risk engine blocked this payment; no "
                    "money moved (the fired rules and their reasons are in error.risk)");
  json_t *body = qp_http_error_json(&x);
  json_object_set(json_object_get(body, "error"), "risk", *decision);
  qp_http_reply_json(r, 422, body);
  return -1;
}

/* The ledger's refusal or failure as a reply (nothing changed). */
static void reply_ledger(qp_http_reply_t *r, int rc, uint32_t result) {
  qp_http_error_t err = {0};
  if (rc == 0)
    qp_http_error_set(&err, 422, qp_create_transfer_result_name(result), "", "the ledger "
                      "refused the payment: %s (nothing changed)",
                      qp_create_transfer_result_name(result));
  else if (rc == QP_ELIMIT)
    qp_http_error_set(&err, 429, "too_many_requests", "", "the ledger's queue is full");
  else
    qp_http_error_set(&err, 503, "ledger_unavailable", "", "the ledger did not answer (%s); "
                      "retry the request", qp_strerror(rc));
  qp_http_reply_error(r, &err);
}

/* Commits the order (changed), its code's use and, paid, its watch row's
 * removal and the order.paid event; replies with the order. */
static void commit(qp__pay_t *p, const collect_t *c, bool paid, const qp__pay_idem_t *idem,
                   qp_http_reply_t *r) {
  uint8_t used[24], watch[8 + QP_PAY_ID_SIZE];
  uint64_t expires = (uint64_t)json_integer_value(json_object_get(c->order, "expires_at_s"));
  for (int i = 7; i >= 0; i--, expires >>= 8) watch[i] = (uint8_t)expires;
  memcpy(watch + 8, c->id, QP_PAY_ID_SIZE);
  qp__pay_code_used_key(c->device, c->step, used);
  char *text = json_dumps(c->order, JSON_COMPACT | JSON_SORT_KEYS);
  json_t *pub = qp__pay_order_public(c->order, qp__pay_now_s());
  if (text == NULL || pub == NULL) {
    json_decref(pub);
    qp_http_json_free(text);
    qp__pay_reply_store(r, QP_ENOMEM);
    return;
  }
  qp__pay_put_t puts[3] = {{p->orders, c->id, QP_PAY_ID_SIZE, text, strlen(text), false, false},
                           {p->codes_used, used, sizeof used, c->id, QP_PAY_ID_SIZE, true, false},
                           {p->watch, watch, sizeof watch, NULL, 0, false, true}};
  qp__pay_change_t ch = {puts, paid ? 3 : 2, paid ? "order.paid" : NULL, pub, idem, 0, NULL,
                         NULL, NULL};
  (void)qp__pay_commit(p, &ch, 200, json_incref(pub), r); /* replies, also on failure */
  json_decref(pub);
  qp_http_json_free(text);
}

/* The money at once: the transfer, then the order paid. */
static void pay_now(qp__pay_t *p, collect_t *c, const qp__pay_idem_t *idem, qp_http_reply_t *r) {
  qp_transfer_t t;
  memset(&t, 0, sizeof t);
  t.id = qp__pay_collect_transfer_id(c->id);
  t.debit_account_id = c->payer;
  t.credit_account_id = c->payee;
  t.amount = c->amount;
  t.ledger = (uint32_t)json_integer_value(json_object_get(c->order, "ledger"));
  t.code = QP_PAY_COLLECT_TRANSFER_CODE;
  t.user_data_128 = qp_u128_load_be(c->id);
  uint32_t result = 0;
  qp_ledger_service_t *svc = qp_ledger_service();
  int rc = svc != NULL ? qp_ledger_service_transfers(svc, &t, 1, &result) : QP_ENOTSUP;
  if (rc == 0 && result == QP_CREATE_TRANSFER_EXISTS) result = QP_CREATE_TRANSFER_OK; /* retry */
  if (rc != 0 || result != QP_CREATE_TRANSFER_OK) {
    reply_ledger(r, rc, result);
    return;
  }
  qp_auth_order_intent_t in;
  memset(&in, 0, sizeof in);
  snprintf(in.status, sizeof in.status, "succeeded");
  in.amount = c->amount;
  in.debit_account_id = c->payer;
  in.credit_account_id = c->payee;
  in.post_transfer_id = t.id;
  in.ledger = t.ledger;
  int64_t now = qp__pay_now_s();
  rc = qp__pay_order_mark_paid(c->order, &in, now);
  rc |= json_object_set(c->order, "device_id", json_object_get(c->device, "id"));
  if (rc != 0) qp__pay_reply_store(r, QP_ENOMEM);
  else commit(p, c, true, idem, r);
}

/* The user confirms: a payment intent through auth's door, the order in
 * requires_confirmation (the intent first waits for an operator when the
 * risk decision was review). */
static void via_intent(qp__pay_t *p, collect_t *c, const json_t *risk, bool review,
                       const qp__pay_idem_t *idem, qp_http_reply_t *r) {
  int64_t left = json_integer_value(json_object_get(c->order, "expires_at_s")) - qp__pay_now_s();
  uint8_t mid[QP_PAY_ID_SIZE];
  json_t *m = NULL;
  int rc = qp__pay_id_parse(json_string_value(json_object_get(c->order, "merchant_id")), mid)
               ? qp__pay_store_get_json(p, p->merchants, mid, QP_PAY_ID_SIZE, &m) : QP_ECORRUPT;
  if (rc != 0) {
    qp__pay_reply_store(r, rc);
    return;
  }
  char intent[33];
  uint32_t result = 0;
  qp_auth_intent_args_t args = {
      .user_id = json_string_value(json_object_get(c->device, "user_id")),
      .debit = c->payer, .credit = c->payee, .amount = c->amount,
      .ledger = (uint32_t)json_integer_value(json_object_get(c->order, "ledger")),
      .currency = json_string_value(json_object_get(c->order, "currency")),
      .payee_name = json_string_value(json_object_get(m, "name")),
      .order_id = json_string_value(json_object_get(c->order, "id")),
      .expires_in_s = (uint32_t)(left < QP_PAY_COLLECT_INTENT_S ? (left < 1 ? 1 : left)
                                                                : QP_PAY_COLLECT_INTENT_S),
  };
  rc = qp_auth_intent_create(&args, risk, review, intent, &result);
  json_decref(m);
  if (rc == QP_ENOTSUP)
    qp_http_reply_fail(r, 503, "confirmation_unavailable", "", "this collect needs the user's "
                       "confirmation: the node must run the auth module (modules.auth)");
  else if (rc == QP_ENOTFOUND)
    refuse(r, "user_not_found", "the code's device belongs to a user the auth module does not "
           "know");
  else if (rc != 0 || result != QP_CREATE_TRANSFER_OK) reply_ledger(r, rc, result);
  else if (json_object_set_new(c->order, "status", json_string("requires_confirmation")) ||
           json_object_set_new(c->order, "payment_intent_id", json_string(intent)) ||
           json_object_set(c->order, "device_id", json_object_get(c->device, "id")))
    qp__pay_reply_store(r, QP_ENOMEM);
  else commit(p, c, false, idem, r);
}

static void collect(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r,
                    const qp__pay_caller_t *caller, const qp__pay_idem_t *idem) {
  json_t *decision = NULL;
  size_t len = 0;
  const char *body = qp_http_body(req, &len);
  uint32_t number = 0;
  uint64_t otp = 0;
  qp_http_error_t err = {0};
  collect_t c;
  memset(&c, 0, sizeof c);
  if (qp__pay_collect_decode(body != NULL ? body : "", body != NULL ? len : 0, &number, &otp,
                             &err) != 0) {
    qp_http_reply_error(r, &err);
    return;
  }
  pthread_mutex_lock(&p->order_lock);
  json_t *loaded = NULL;
  int rc = 0;
  if (qp__pay_order_load(p, req, r, caller, c.id, &loaded)) {
    rc = qp__pay_order_observe_locked(p, c.id, &c.order); /* paid since it was stored? */
    if (rc != 0) qp__pay_reply_store(r, rc);
  }
  json_decref(loaded);
  bool ok = c.order != NULL && order_open(&c, r) && verify_code(p, number, otp, &c, r) &&
            check_order(&c, r);
  int verdict = ok ? decide(&c, &decision, r) : -1;
  uint64_t max = p->settings.collect_without_confirmation_max;
  if (verdict >= 0 && decision != NULL) json_object_set(c.order, "risk", decision);
  if (verdict < 0) { /* refused: replied */
  } else if ((verdict == RISK_NONE || verdict == QP_RISK_ALLOW) && c.amount <= (qp_u128)max)
    pay_now(p, &c, idem, r);
  else via_intent(p, &c, decision, verdict == QP_RISK_REVIEW, idem, r);
  pthread_mutex_unlock(&p->order_lock);
  json_decref(decision);
  json_decref(c.device);
  json_decref(c.order);
}

void qp__pay_orders_collect(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_idem_write(ctx, req, r, true, collect);
}
