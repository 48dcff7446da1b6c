/*
 * routes_merchants.c - POST /v1/merchants (a merchant: its name, city and
 * country as the QR code shows them, and the ledger account its sales
 * settle to, checked through the ledger's door), GET /v1/merchants/{id},
 * and POST /v1/merchants/{id}/keys (an API key limited to that merchant).
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "ledger/api.h"
#include "payments/payments_int.h"

static const char *const MERCHANT_FIELDS[] = {"name", "settlement_account_id", "ledger",
                                              "currency", "mcc", "city", "country", NULL};

static bool ascii_printable(const char *s) {
  for (; *s != '\0'; s++)
    if (*s < 0x20 || *s > 0x7E) return false;
  return true;
}

/* An optional EMV text member: 1..max printable ASCII, fallback when absent. */
static bool emv_text(const json_t *body, const char *name, size_t max, const char *fallback,
                     const char **out, qp_http_reply_t *r) {
  if (!qp_http_member_string(body, name, NULL, max, fallback == NULL, out, r)) return false;
  if (*out == NULL) *out = fallback;
  if (ascii_printable(*out)) return true;
  char what[96];
  snprintf(what, sizeof what, "must be 1 to %zu printable ASCII characters (the QR code's)", max);
  return qp_http_fail_value(r, name, "%s %s", name, what);
}

static bool code_text(const char *s, size_t len, bool digits_only) {
  if (strlen(s) != len) return false;
  for (size_t i = 0; i < len; i++)
    if (digits_only ? (s[i] < '0' || s[i] > '9') : (s[i] < 'A' || s[i] > 'Z')) return false;
  return true;
}

/* Reads and checks the body into a new merchant record (without id). */
static json_t *read_merchant(qp__pay_t *p, qp_http_request_t *req, const json_t *body,
                             qp_http_reply_t *r) {
  const qp__pay_settings_t *s = &p->settings;
  const char *name, *currency, *mcc, *city, *country;
  qp_u128 account = 0;
  json_int_t ledger = 0;
  if (!emv_text(body, "name", QP_PAY_NAME_MAX, NULL, &name, r) ||
      !qp_http_member_u128(body, "settlement_account_id", &account, r) ||
      !qp_http_member_int(body, "ledger", 1, UINT32_MAX, 0, &ledger, r) ||
      !qp_http_member_string(body, "currency", NULL, 3, true, &currency, r) ||
      !emv_text(body, "mcc", 4, s->mcc, &mcc, r) ||
      !emv_text(body, "city", QP_PAY_CITY_MAX, s->city, &city, r) ||
      !emv_text(body, "country", 2, s->country, &country, r))
    return NULL;
  if (qp__pay_currency_numeric(currency) == 0)
    return qp_http_fail_value(r, "currency", "currency must be an ISO 4217 code quipu knows "
                              "(docs/payments.md, \"Currencies\")"), NULL;
  if (!code_text(mcc, 4, true))
    return qp_http_fail_value(r, "mcc", "mcc must be 4 digits (ISO 18245 merchant category "
                              "code)"), NULL;
  if (!code_text(country, 2, false))
    return qp_http_fail_value(r, "country", "country must be 2 upper-case letters (ISO 3166-1 "
                              "alpha-2)"), NULL;
  if (!qp_http_caller_ledger_allowed(req, (uint32_t)ledger)) {
    qp_http_reply_fail(r, 403, "ledger_not_allowed", "ledger",
                       "this API key may not touch this ledger");
    return NULL;
  }
  qp_account_t a;
  int rc = qp_ledger_service_account(qp_ledger_service(), account, &a);
  if (rc == QP_ENOTFOUND) {
    qp_http_reply_fail(r, 400, "account_not_found", "settlement_account_id",
                       "settlement_account_id names no account of the ledger");
    return NULL;
  }
  if (rc != 0) {
    qp_http_reply_fail(r, 503, "ledger_unavailable", "", "the ledger cannot be read now");
    return NULL;
  }
  if (a.ledger != (uint32_t)ledger) {
    char what[96];
    snprintf(what, sizeof what, "must be the settlement account's ledger (%u)", a.ledger);
    return qp_http_fail_value(r, "ledger", "ledger %s", what), NULL;
  }
  return json_pack("{s:s, s:o, s:I, s:s, s:i, s:s, s:s, s:s, s:o}", "name", name,
                   "settlement_account_id", qp__pay_u128_json(account), "ledger", ledger,
                   "currency", currency, "currency_numeric",
                   (int)qp__pay_currency_numeric(currency), "mcc", mcc, "city", city,
                   "country", country, "created", qp__pay_time_json(qp__pay_now_s()));
}

static json_t *merchant_public(const json_t *m) {
  json_t *out = json_deep_copy(m);
  if (out != NULL) json_object_set_new(out, "object", json_string("merchant"));
  return out;
}

static void create(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r,
                   qp__pay_idem_t *idem) {
  json_t *body = qp_http_body_object(req, r, MERCHANT_FIELDS, 0);
  json_t *m = body != NULL ? read_merchant(p, req, body, r) : NULL;
  json_decref(body);
  if (m == NULL) return;
  uint8_t id[QP_PAY_ID_SIZE];
  char hex[QP_PAY_ID_HEX + 1];
  qp__pay_new_id(id);
  qp__pay_id_hex(id, hex);
  json_object_set_new(m, "id", json_string(hex));
  char *text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
  if (text == NULL) {
    json_decref(m);
    qp_http_reply_fail(r, 500, "internal", "", "out of memory");
    return;
  }
  qp__pay_put_t put = {p->merchants, id, sizeof id, text, strlen(text), true, false};
  json_t *pub = merchant_public(m);
  qp__pay_change_t c = {&put, 1, "merchant.created", pub, idem, 0, NULL, NULL, NULL};
  qp__pay_commit(p, &c, 200, json_incref(pub), r);
  json_decref(pub);
  json_decref(m);
  qp_http_json_free(text);
}

void qp__pay_merchants_create(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_t *p = ctx;
  qp__pay_caller_t caller;
  qp__pay_idem_t idem;
  if (!qp__pay_caller(p, req, r, true, &caller)) return;
  if (caller.merchant_only) {
    qp_http_reply_fail(r, 403, "forbidden", "", "a merchant key cannot create merchants");
    return;
  }
  if (!qp__pay_idem_begin(p, req, r, &idem)) return;
  create(p, req, r, &idem);
  qp__pay_idem_end(p, &idem);
}

/* The merchant named by the path's {id} that the caller may see. */
json_t *qp__pay_merchant_load(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r,
                              const qp__pay_caller_t *caller, uint8_t id[QP_PAY_ID_SIZE]) {
  json_t *m = NULL;
  int rc = QP_ENOTFOUND;
  if (qp__pay_id_parse(qp_http_param(req, "id"), id) && qp__pay_caller_sees(caller, id))
    rc = qp__pay_store_get_json(p, p->merchants, id, QP_PAY_ID_SIZE, &m);
  if (rc == QP_ENOTFOUND)
    qp_http_reply_fail(r, 404, "merchant_not_found", "id", "no such merchant");
  else if (rc != 0)
    qp__pay_reply_store(r, rc);
  return rc == 0 ? m : NULL;
}

void qp__pay_merchants_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_t *p = ctx;
  qp__pay_caller_t caller;
  uint8_t id[QP_PAY_ID_SIZE];
  if (!qp__pay_caller(p, req, r, false, &caller)) return;
  json_t *m = qp__pay_merchant_load(p, req, r, &caller, id);
  if (m != NULL) qp_http_reply_json(r, 200, merchant_public(m));
  json_decref(m);
}
