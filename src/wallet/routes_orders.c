/*
 * routes_orders.c - paying shops (docs/wallet.md): POST /v1/wallet/scan
 * (an EMV MPM payload of this node's orders -> the order), GET
 * /v1/wallet/orders/{id}, POST /v1/wallet/orders/{id}/pay (a payment
 * intent to the merchant's settlement account with the order's id,
 * confirmed like a transfer).  They need the payments module: 503
 * payments_unavailable without it.
 */
#include <string.h>

#include "base/err.h"
#include "payments/payments.h"
#include "wallet/wallet_int.h"

static void unavailable(qp_http_reply_t *r) {
  qp_http_reply_fail(r, 503, "payments_unavailable", "",
                     "orders and pay codes need the payments module on this node");
}

/* The order's summary; false after a 404 or 503. */
static bool order(const char *id, json_t **out, qp_u128 *settlement, qp_http_reply_t *r) {
  int rc = qp_payments_order_summary(id, out, settlement);
  if (rc == QP_ENOTSUP) unavailable(r);
  else if (rc == QP_ENOTFOUND) qp_http_reply_fail(r, 404, "order_not_found", "id", "no such order");
  else if (rc != 0) qp_http_reply_fail(r, 503, "payments_unavailable", "", "cannot read the order");
  return rc == 0;
}

void qp__wallet_scan(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const allowed[] = {"payload", NULL};
  qp__wallet_t *w = ctx;
  qp__wallet_session_t s;
  uint8_t hash[QP_WALLET_HASH_SIZE];
  if (!qp__wallet_session(w, req, r, &s, hash)) return;
  json_t *body = qp_http_body_object(req, r, allowed, QP_HTTP_BODY_EMPTY_OBJECT);
  const char *payload = NULL;
  if (body != NULL) qp_http_member_string(body, "payload", NULL, 2048, true, &payload, r);
  char id[QP_WALLET_ID_HEX + 1], path[64], message[200];
  json_t *o = NULL;
  qp_u128 settlement = 0;
  int rc = payload ? qp_payments_emv_order(payload, id, path, sizeof path, message,
                                           sizeof message)
                   : -1;
  if (rc == QP_ENOTSUP) {
    unavailable(r);
  } else if (rc == QP_EINVAL) {
    qp_http_error_t err = {0};
    qp_http_error_set(&err, 400, "invalid_qr", path, "%s", message);
    qp_http_reply_error(r, &err);
  } else if (rc == QP_ENOTFOUND) {
    qp_http_reply_fail(r, 404, "order_not_found", "payload", "the code names no order of ours");
  } else if (rc == 0 && order(id, &o, &settlement, r)) {
    qp_http_reply_json(r, 200, o);
  }
  json_decref(body);
}

void qp__wallet_orders_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__wallet_t *w = ctx;
  qp__wallet_session_t s;
  uint8_t hash[QP_WALLET_HASH_SIZE];
  json_t *o = NULL;
  qp_u128 settlement = 0;
  if (!qp__wallet_session(w, req, r, &s, hash)) return;
  if (order(qp_http_param(req, "id"), &o, &settlement, r)) qp_http_reply_json(r, 200, o);
}

void qp__wallet_orders_pay(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const none[] = {NULL};
  qp__wallet_t *w = ctx;
  qp__wallet_session_t s;
  uint8_t hash[QP_WALLET_HASH_SIZE];
  json_t *o = NULL;
  qp_u128 settlement = 0, amount = 0;
  if (!qp__wallet_session(w, req, r, &s, hash)) return;
  json_t *body = qp_http_body_object(req, r, none, QP_HTTP_BODY_EMPTY_OBJECT);
  if (body == NULL || !order(qp_http_param(req, "id"), &o, &settlement, r)) {
    json_decref(body);
    return;
  }
  json_decref(body);
  const char *status = json_string_value(json_object_get(o, "status"));
  const char *amount_text = json_string_value(json_object_get(o, "amount"));
  json_int_t ledger = json_integer_value(json_object_get(o, "ledger"));
  if (status == NULL || strcmp(status, "open") != 0 || ledger != (json_int_t)w->settings.ledger ||
      amount_text == NULL || qp_u128_parse(amount_text, strlen(amount_text), &amount) != 0) {
    qp_http_error_t err = {0};
    qp_http_error_set(&err, 409, "order_not_payable", "id", "the order is %s%s",
                      status ? status : "unknown",
                      ledger != (json_int_t)w->settings.ledger ? " (on another ledger)" : "");
    json_t *e = qp_http_error_json(&err);
    json_object_set_new(json_object_get(e, "error"), "status",
                        json_string(status ? status : "unknown"));
    qp_http_reply_json(r, 409, e);
  } else {
    qp__wallet_pay(w, s.user_id, settlement, amount,
                   json_string_value(json_object_get(o, "merchant_name")),
                   json_string_value(json_object_get(o, "id")), r);
  }
  json_decref(o);
}
