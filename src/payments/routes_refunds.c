/*
 * routes_refunds.c - POST /v1/refunds (money back from a paid order, in
 * the three steps of refunds.c, under the order lock so that concurrent
 * refunds cannot overshoot) and GET /v1/refunds/{id}.  The list is in
 * routes_refunds_list.c.
 */
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "ledger/ledger.h"
#include "payments/payments_int.h"

static const char *const REFUND_FIELDS[] = {"order_id", "amount", "reason", NULL};

/* The body's order, visible to the caller, into id; false after a 404/400. */
static bool body_order(qp__pay_t *p, const json_t *body, const qp__pay_caller_t *caller,
                       uint8_t id[QP_PAY_ID_SIZE], qp_http_reply_t *r) {
  const char *text = NULL;
  json_t *o = NULL;
  uint8_t m[QP_PAY_ID_SIZE];
  if (!qp_http_member_string(body, "order_id", NULL, QP_PAY_ID_HEX, true, &text, r)) return false;
  int rc = qp__pay_id_parse(text, id) ? qp__pay_store_get_json(p, p->orders, id,
                                                               QP_PAY_ID_SIZE, &o)
                                      : QP_ENOTFOUND;
  if (rc == 0 && (!qp__pay_id_parse(json_string_value(json_object_get(o, "merchant_id")), m) ||
                  !qp__pay_caller_sees(caller, m)))
    rc = QP_ENOTFOUND;
  json_decref(o);
  if (rc == QP_ENOTFOUND)
    qp_http_reply_fail(r, 404, "order_not_found", "order_id", "no such order");
  else if (rc != 0)
    qp__pay_reply_store(r, rc);
  return rc == 0;
}

static bool refundable(const json_t *o, qp_u128 amount, qp_http_reply_t *r) {
  const char *status = json_string_value(json_object_get(o, "status"));
  qp_u128 paid = 0, done = 0, pending = 0, left = 0;
  qp_http_error_t err = {0};
  if (strcmp(status, "paid") != 0 && strcmp(status, "partially_refunded") != 0 &&
      strcmp(status, "refunded") != 0) { /* refunded: refused below, nothing is left */
    const char *now = qp__pay_order_status(o, qp__pay_now_s());
    qp_http_error_set(&err, 409, "order_not_paid", "order_id", "the order is %s; only a paid "
                      "order can be refunded", now);
    json_t *e = qp_http_error_json(&err);
    json_object_set_new(json_object_get(e, "error"), "status", json_string(now));
    qp_http_reply_json(r, 409, e);
    return false;
  }
  int rc = qp__pay_member_u128(o, "amount", &paid) &&
           qp__pay_member_u128(o, "amount_refunded", &done) &&
           qp__pay_member_u128(o, "amount_refunding", &pending)
               ? qp__pay_refund_check(paid, done, pending, amount, &left) : QP_ECORRUPT;
  if (rc == 0) return true;
  if (rc != QP_ERANGE) {
    qp__pay_reply_store(r, rc);
    return false;
  }
  char buf[QP_U128_BUF_SIZE];
  qp_u128_format(left, buf);
  qp_http_error_set(&err, 422, "refund_exceeds_payment", "amount", "amount exceeds what is "
                    "left to refund of this order (%s)", buf);
  json_t *e = qp_http_error_json(&err);
  json_object_set_new(json_object_get(e, "error"), "refundable", json_string(buf));
  qp_http_reply_json(r, 422, e);
  return false;
}

static json_t *new_refund(const json_t *o, qp_u128 amount, const char *reason) {
  uint8_t id[QP_PAY_ID_SIZE];
  char hex[QP_PAY_ID_HEX + 1];
  qp__pay_new_id(id);
  qp__pay_id_hex(id, hex);
  uint64_t now_ns = qp_clock_wall_ns();
  return json_pack("{s:s, s:O, s:O, s:o, s:O, s:O, s:s?, s:s, s:o, s:O, s:O, s:o, s:I}", "id",
                   hex, "order_id", json_object_get(o, "id"), "merchant_id",
                   json_object_get(o, "merchant_id"), "amount", qp__pay_u128_json(amount),
                   "currency", json_object_get(o, "currency"), "ledger",
                   json_object_get(o, "ledger"), "reason", reason, "status", "pending",
                   "transfer_id", qp__pay_u128_json(qp__pay_refund_transfer_id(id)),
                   "debit_account_id", json_object_get(o, "settlement_account_id"),
                   "credit_account_id", json_object_get(o, "payer_account_id"), "created",
                   qp__pay_time_json((int64_t)(now_ns / 1000000000u)), "created_ns",
                   (json_int_t)now_ns);
}

/* Steps 2 and 3 after the reservation, and the reply. */
static void move_and_finish(qp__pay_t *p, json_t *o, json_t *rf, const qp__pay_idem_t *idem,
                            qp_http_reply_t *r) {
  uint32_t result = 0;
  int rc = qp__pay_refund_move(rf, &result);
  if (rc == 0 && result == QP_CREATE_TRANSFER_OK) {
    (void)qp__pay_refund_finish(p, o, rf, QP__PAY_REFUND_SUCCEED, idem, r);
    return;
  }
  qp_http_error_t err = {0};
  if (rc == 0 || rc == QP_ELIMIT) { /* refused, or never ran: undo the reservation */
    int undo = qp__pay_refund_finish(p, o, rf, QP__PAY_REFUND_RELEASE, idem, r);
    if (rc == 0)
      qp_http_error_set(&err, 422, qp_create_transfer_result_name(result), "amount",
                        "the ledger refused the refund's transfer: %s (nothing changed)",
                        qp_create_transfer_result_name(result));
    else qp_http_error_set(&err, 429, "too_many_requests", "", "the ledger's queue is full");
    if (undo != 0) qp__pay_reply_store(r, undo);
    else qp_http_reply_error(r, &err);
    return;
  }
  qp_http_error_set(&err, 503, "ledger_unavailable", "", "the refund %s is pending: the ledger "
                    "did not answer (%s); the node finishes it", json_string_value(
                        json_object_get(rf, "id")), qp_strerror(rc));
  qp_http_reply_error(r, &err);
}

static void create(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r,
                   const qp__pay_caller_t *caller, const qp__pay_idem_t *idem) {
  json_t *body = qp_http_body_object(req, r, REFUND_FIELDS, 0), *o = NULL, *rf = NULL;
  uint8_t id[QP_PAY_ID_SIZE];
  qp_u128 amount = 0;
  const char *reason = NULL;
  if (body == NULL || !body_order(p, body, caller, id, r) ||
      !qp_http_member_u128(body, "amount", &amount, r) ||
      !qp_http_member_string(body, "reason", NULL, QP_PAY_REASON_MAX, false, &reason, r)) {
    json_decref(body);
    return;
  }
  pthread_mutex_lock(&p->order_lock);
  int rc = qp__pay_order_observe_locked(p, id, &o);
  if (rc != 0) qp__pay_reply_store(r, rc);
  else if (refundable(o, amount, r)) {
    rf = new_refund(o, amount, reason);
    rc = rf != NULL ? qp__pay_refund_reserve(p, o, rf, idem) : QP_ENOMEM;
    if (rc == 0) move_and_finish(p, o, rf, idem, r);
    else qp__pay_reply_store(r, rc);
  }
  pthread_mutex_unlock(&p->order_lock);
  json_decref(rf);
  json_decref(o);
  json_decref(body);
}

void qp__pay_refunds_create(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_idem_write(ctx, req, r, true, create);
}

void qp__pay_refunds_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_t *p = ctx;
  qp__pay_caller_t caller;
  uint8_t id[QP_PAY_ID_SIZE], m[QP_PAY_ID_SIZE];
  json_t *rf = NULL;
  if (!qp__pay_caller(p, req, r, false, &caller)) return;
  int rc = qp__pay_id_parse(qp_http_param(req, "id"), id)
               ? qp__pay_store_get_json(p, p->refunds, id, QP_PAY_ID_SIZE, &rf) : QP_ENOTFOUND;
  if (rc == 0 && (!qp__pay_id_parse(json_string_value(json_object_get(rf, "merchant_id")), m) ||
                  !qp__pay_caller_sees(&caller, m)))
    rc = QP_ENOTFOUND;
  if (rc == 0) qp_http_reply_json(r, 200, qp__pay_refund_public(rf));
  else if (rc == QP_ENOTFOUND) qp_http_reply_fail(r, 404, "refund_not_found", "id",
                                                  "no such refund");
  else qp__pay_reply_store(r, rc);
  json_decref(rf);
}
