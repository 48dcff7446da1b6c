/*
 * routes_orders.c - POST /v1/orders (an open order and its EMV payload),
 * GET /v1/orders/{id}, POST /v1/orders/{id}/cancel, and the payload drawn
 * as a QR code: GET /v1/orders/{id}/qr.svg and qr.png.  The list is in
 * routes_orders_list.c.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "payments/payments_int.h"

static const char *const ORDER_FIELDS[] = {"merchant_id", "amount", "ledger", "currency",
                                           "description", "reference", "expires_in_s", NULL};
static const char *const NO_FIELDS[] = {NULL};

/* The order's merchant: named, existing and visible to the caller. */
static json_t *order_merchant(qp__pay_t *p, const json_t *body, const qp__pay_caller_t *caller,
                              qp_http_reply_t *r) {
  const char *text = NULL;
  uint8_t id[QP_PAY_ID_SIZE];
  json_t *m = NULL;
  if (!qp_http_member_string(body, "merchant_id", NULL, QP_PAY_ID_HEX, true, &text, r)) return NULL;
  int rc = QP_ENOTFOUND;
  if (qp__pay_id_parse(text, id) && qp__pay_caller_sees(caller, id))
    rc = qp__pay_store_get_json(p, p->merchants, id, QP_PAY_ID_SIZE, &m);
  if (rc == QP_ENOTFOUND)
    qp_http_reply_fail(r, 404, "merchant_not_found", "merchant_id", "no such merchant");
  else if (rc != 0)
    qp__pay_reply_store(r, rc);
  return m;
}

static bool same_as_merchant(const json_t *body, const json_t *m, qp_http_reply_t *r) {
  const char *currency = json_string_value(json_object_get(m, "currency"));
  json_int_t ledger = json_integer_value(json_object_get(m, "ledger")), n = 0;
  const char *c = NULL;
  char what[96];
  if (!qp_http_member_int(body, "ledger", 1, UINT32_MAX, 0, &n, r) ||
      !qp_http_member_string(body, "currency", NULL, 3, true, &c, r))
    return false;
  snprintf(what, sizeof what, "must be the merchant's ledger (%lld)", (long long)ledger);
  if (n != ledger) return qp_http_fail_value(r, "ledger", "ledger %s", what);
  snprintf(what, sizeof what, "must be the merchant's currency (%s)", currency);
  if (strcmp(c, currency) != 0) return qp_http_fail_value(r, "currency", "currency %s", what);
  return true;
}

/* The order's own members: amount (and its major units), texts, expiry. */
static json_t *order_fields(qp__pay_t *p, const json_t *body, const json_t *m,
                            qp_http_reply_t *r) {
  qp_u128 amount = 0;
  json_int_t expires_in = 0;
  const char *description = NULL, *reference = NULL;
  const char *currency = json_string_value(json_object_get(m, "currency"));
  if (!qp_http_member_u128(body, "amount", &amount, r) ||
      !qp_http_member_string(body, "description", NULL, QP_PAY_DESCRIPTION_MAX, false,
                             &description, r) ||
      !qp_http_member_string(body, "reference", NULL, QP_PAY_REFERENCE_MAX, false, &reference,
                             r) ||
      !qp_http_member_int(body, "expires_in_s", 1, p->settings.order_expires_in_s_max,
                          p->settings.order_expires_in_s_default, &expires_in, r))
    return NULL;
  for (const char *c = reference; c != NULL && *c != '\0'; c++)
    if (*c < 0x20 || *c > 0x7E)
      return qp_http_fail_value(r, "reference", "reference must be 1 to 25 printable ASCII "
                                "characters (EMV tag 62.05)"), NULL;
  char major[QP_EMV_AMOUNT_TEXT_MAX];
  if (qp_emv_amount_format(amount, qp__pay_currency_decimals(currency), major) != 0)
    return qp_http_fail_value(r, "amount", "amount is too large for the QR code (EMV tag 54 "
                              "holds 13 characters with the currency's decimals)"), NULL;
  uint64_t now_ns = qp_clock_wall_ns();
  int64_t now = (int64_t)(now_ns / 1000000000u);
  return json_pack("{s:s, s:o, s:s, s:s, s:O, s:s?, s:s?, s:o, s:I, s:o, s:I}", "status", "open",
                   "amount", qp__pay_u128_json(amount), "amount_major", major, "currency",
                   currency, "ledger", json_object_get(m, "ledger"), "description", description,
                   "reference", reference, "created", qp__pay_time_json(now), "created_ns",
                   (json_int_t)now_ns, "expires_at", qp__pay_time_json(now + expires_in),
                   "expires_at_s", (json_int_t)(now + expires_in));
}

/* The EMV payload of order o of merchant m into o.qr. */
static bool order_qr(qp__pay_t *p, json_t *o, const json_t *m, qp_http_reply_t *r) {
  char payload[QP_EMV_PAYLOAD_BYTES_MAX + 1], detail[200];
#define S(obj, k) json_string_value(json_object_get(obj, k))
  qp_emv_order_t e = {p->settings.gui, S(o, "id"), S(m, "mcc"),
                      (uint16_t)json_integer_value(json_object_get(m, "currency_numeric")),
                      S(o, "amount_major"), S(m, "country"), S(m, "name"), S(m, "city"),
                      S(o, "reference")};
#undef S
  if (qp_emv_encode_order(&e, payload, detail, sizeof detail) != 0) {
    qp_http_error_t err = {0};
    qp_http_error_set(&err, 400, "invalid_value", "", "cannot encode the QR payload: %s", detail);
    qp_http_reply_error(r, &err);
    return false;
  }
  json_object_set_new(o, "qr", json_string(payload));
  return true;
}

/* by_created key: created ns (8 bytes, big-endian) || order id. */
static void created_key(uint64_t created_ns, const uint8_t id[QP_PAY_ID_SIZE], uint8_t out[24]) {
  for (int i = 7; i >= 0; i--, created_ns >>= 8) out[i] = (uint8_t)created_ns;
  memcpy(out + 8, id, QP_PAY_ID_SIZE);
}

static void store_new_order(qp__pay_t *p, json_t *o, const uint8_t id[QP_PAY_ID_SIZE],
                            const qp__pay_idem_t *idem, qp_http_reply_t *r) {
  uint8_t key[24], watch[24];
  created_key((uint64_t)json_integer_value(json_object_get(o, "created_ns")), id, key);
  created_key((uint64_t)json_integer_value(json_object_get(o, "expires_at_s")), id, watch);
  char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  if (text == NULL) {
    qp_http_reply_fail(r, 500, "internal", "", "out of memory");
    return;
  }
  qp__pay_put_t puts[3] = {{p->orders, id, QP_PAY_ID_SIZE, text, strlen(text), true, false},
                           {p->by_created, key, sizeof key, "", 0, true, false},
                           {p->watch, watch, sizeof watch, "", 0, false, false}};
  json_t *pub = qp__pay_order_public(o, qp__pay_now_s());
  qp__pay_change_t c = {puts, 3, "order.created", pub, idem, 0, NULL, NULL, NULL};
  qp__pay_commit(p, &c, 200, json_incref(pub), r);
  json_decref(pub);
  qp_http_json_free(text);
}

static void create(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r,
                   const qp__pay_caller_t *caller, const qp__pay_idem_t *idem) {
  json_t *body = qp_http_body_object(req, r, ORDER_FIELDS, 0);
  json_t *m = body != NULL ? order_merchant(p, body, caller, r) : NULL;
  json_t *o = m != NULL && same_as_merchant(body, m, r) ? order_fields(p, body, m, r) : NULL;
  json_decref(body);
  if (o != NULL && !qp_http_caller_ledger_allowed(
                       req, (uint32_t)json_integer_value(json_object_get(m, "ledger")))) {
    qp_http_reply_fail(r, 403, "ledger_not_allowed", "ledger",
                       "this API key may not touch this ledger");
    json_decref(o);
    o = NULL;
  }
  uint8_t id[QP_PAY_ID_SIZE];
  char hex[QP_PAY_ID_HEX + 1];
  qp__pay_new_id(id);
  qp__pay_id_hex(id, hex);
  if (o != NULL) {
    json_object_set_new(o, "id", json_string(hex));
    json_object_set(o, "merchant_id", json_object_get(m, "id"));
    json_object_set(o, "settlement_account_id", json_object_get(m, "settlement_account_id"));
  }
  if (o != NULL && order_qr(p, o, m, r)) store_new_order(p, o, id, idem, r);
  json_decref(o);
  json_decref(m);
}

void qp__pay_orders_create(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_idem_write(ctx, req, r, true, create);
}

void qp__pay_orders_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_t *p = ctx;
  qp__pay_caller_t caller;
  uint8_t id[QP_PAY_ID_SIZE];
  json_t *o = NULL;
  if (!qp__pay_caller(p, req, r, false, &caller) ||
      !qp__pay_order_load(p, req, r, &caller, id, &o))
    return;
  json_decref(o);
  int rc = qp__pay_order_observe(p, id, &o); /* paid since it was stored? */
  if (rc == 0) qp_http_reply_json(r, 200, qp__pay_order_public(o, qp__pay_now_s()));
  else qp__pay_reply_store(r, rc);
  json_decref(o);
}

void qp__pay_reply_state(qp_http_reply_t *r, const char *status, const char *action) {
  qp_http_error_t err = {0};
  qp_http_error_set(&err, 409, "order_not_open", "status",
                    "the order is %s; only an open order can be %s", status, action);
  json_t *e = qp_http_error_json(&err);
  json_object_set_new(json_object_get(e, "error"), "status", json_string(status));
  qp_http_reply_json(r, 409, e);
}

static void cancel(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r,
                   const qp__pay_caller_t *caller, const qp__pay_idem_t *idem) {
  uint8_t id[QP_PAY_ID_SIZE];
  json_t *o = NULL;
  if (!qp__pay_order_load(p, req, r, caller, id, &o)) return;
  json_decref(o);
  int rc = qp__pay_order_observe_locked(p, id, &o); /* a paid order is no longer open */
  if (rc != 0) {
    qp__pay_reply_store(r, rc);
    return;
  }
  int64_t now = qp__pay_now_s();
  const char *status = qp__pay_order_status(o, now);
  if (strcmp(status, "open") != 0) {
    qp__pay_reply_state(r, status, "canceled");
    json_decref(o);
    return;
  }
  json_object_set_new(o, "status", json_string("canceled"));
  json_object_set_new(o, "canceled_at", qp__pay_time_json(now));
  char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  json_t *pub = qp__pay_order_public(o, now);
  qp__pay_put_t put = {p->orders, id, QP_PAY_ID_SIZE, text, text ? strlen(text) : 0, false,
                       false};
  qp__pay_change_t c = {&put, 1, "order.canceled", pub, idem, 0, NULL, NULL, NULL};
  if (text != NULL) qp__pay_commit(p, &c, 200, json_incref(pub), r);
  else qp_http_reply_fail(r, 500, "internal", "", "out of memory");
  json_decref(pub);
  json_decref(o);
  qp_http_json_free(text);
}

static void cancel_locked(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r,
                          const qp__pay_caller_t *caller, const qp__pay_idem_t *idem) {
  pthread_mutex_lock(&p->order_lock); /* a cancel and a payment of one order never interleave */
  cancel(p, req, r, caller, idem);
  pthread_mutex_unlock(&p->order_lock);
}

void qp__pay_orders_cancel(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  json_t *body = qp_http_body_object(req, r, NO_FIELDS, QP_HTTP_BODY_EMPTY_OBJECT);
  if (body == NULL) return;
  json_decref(body);
  qp__pay_idem_write(ctx, req, r, true, cancel_locked);
}

/* The open order's payload for the image routes; NULL after a reply. */
static json_t *open_order(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_caller_t caller;
  uint8_t id[QP_PAY_ID_SIZE];
  json_t *o = NULL;
  if (!qp__pay_caller(p, req, r, false, &caller) ||
      !qp__pay_order_load(p, req, r, &caller, id, &o))
    return NULL;
  const char *status = qp__pay_order_status(o, qp__pay_now_s());
  if (strcmp(status, "open") == 0) return o;
  qp__pay_reply_state(r, status, "shown as a QR code");
  json_decref(o);
  return NULL;
}

void qp__pay_orders_qr_svg(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  json_t *o = open_order(ctx, req, r);
  if (o == NULL) return;
  char *svg = NULL;
  size_t len = 0;
  int rc = qp__pay_qr_svg(json_string_value(json_object_get(o, "qr")), &svg, &len);
  json_decref(o);
  if (rc == 0) qp_http_reply_text(r, 200, svg, "image/svg+xml");
  else qp_http_reply_fail(r, 500, "internal", "", "cannot draw the QR code");
}

void qp__pay_orders_qr_png(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  json_t *o = open_order(ctx, req, r);
  if (o == NULL) return;
  uint8_t *png = NULL;
  size_t len = 0;
  int rc = qp__pay_qr_png(json_string_value(json_object_get(o, "qr")), &png, &len);
  json_decref(o);
  if (rc == 0) qp_http_reply_bytes(r, 200, png, len, "image/png");
  else qp_http_reply_fail(r, 500, "internal", "", "cannot draw the QR code");
}
