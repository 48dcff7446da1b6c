/*
 * routes_devices.c - wallet devices (docs/payments.md, "Paying by payment
 * code"): POST /v1/devices enrolls one for a user whose money is in an
 * account (its secret shown once), GET /v1/devices/{id} reads it, DELETE
 * revokes it (its codes are refused from then on), GET
 * /v1/devices/{id}/code is the code to show now.
 */
#include <sodium.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "ledger/api.h"
#include "payments/payments.h"
#include "payments/payments_int.h"

#define NUMBER_TRIES 16 /* random device numbers tried before giving up */

static const char *const DEVICE_FIELDS[] = {"user_id", "account_id", "ledger", "name", NULL};

static json_t *device_public(const json_t *d) {
  json_t *out = json_deep_copy(d);
  if (out == NULL) return NULL;
  json_object_del(out, "secret");
  json_object_set_new(out, "object", json_string("device"));
  return out;
}

/* Reads and checks the body into a new device record (no id, number, secret). */
static json_t *read_device(qp_http_request_t *req, const json_t *body, qp_http_reply_t *r) {
  const char *user = NULL, *name = NULL;
  qp_u128 account = 0;
  json_int_t ledger = 0;
  uint8_t uid[QP_PAY_ID_SIZE];
  if (!qp_http_member_string(body, "user_id", NULL, QP_PAY_ID_HEX, true, &user, r) ||
      !qp_http_member_u128(body, "account_id", &account, r) ||
      !qp_http_member_int(body, "ledger", 1, UINT32_MAX, 0, &ledger, r) ||
      !qp_http_member_string(body, "name", NULL, QP_PAY_DEVICE_NAME_MAX, false, &name, r))
    return NULL;
  if (!qp__pay_id_parse(user, uid))
    return qp_http_fail_value(r, "user_id", "user_id must be a user id: 32 lower-case hex "
                              "digits"), NULL;
  if (!qp_http_caller_ledger_allowed(req, (uint32_t)ledger)) {
    qp_http_reply_fail(r, 403, "ledger_not_allowed", "ledger",
                       "this API key may not touch this ledger");
    return NULL;
  }
  qp_account_t a;
  int rc = qp_ledger_service_account(qp_ledger_service(), account, &a);
  if (rc == QP_ENOTFOUND) {
    qp_http_reply_fail(r, 400, "account_not_found", "account_id",
                       "account_id names no account of the ledger");
    return NULL;
  }
  if (rc != 0) {
    qp_http_reply_fail(r, 503, "ledger_unavailable", "", "the ledger cannot be read now");
    return NULL;
  }
  if (a.ledger != (uint32_t)ledger) {
    char what[96];
    snprintf(what, sizeof what, "must be the account's ledger (%u)", a.ledger);
    return qp_http_fail_value(r, "ledger", "ledger %s", what), NULL;
  }
  return json_pack("{s:s, s:o, s:I, s:s?, s:s, s:o}", "user_id", user, "account_id",
                   qp__pay_u128_json(account), "ledger", ledger, "name", name, "status",
                   "active", "created", qp__pay_time_json(qp__pay_now_s()));
}

/* A free random device number (the caller holds order_lock, so no other
 * enrolment takes it meanwhile): 0, QP_EEXISTS (none found), a store error. */
int qp__pay_device_number_free(qp__pay_t *p, uint8_t key[4], uint32_t *number) {
  for (int i = 0; i < NUMBER_TRIES; i++) {
    uint8_t *v = NULL;
    size_t len = 0;
    *number = randombytes_uniform(QP_PAYCODE_DEVICE_MAX + 1);
    for (int b = 3, n = (int)*number; b >= 0; b--, n >>= 8) key[b] = (uint8_t)n;
    int rc = qp__pay_store_get_raw(p, p->device_numbers, key, 4, &v, &len);
    qp_free(v);
    if (rc == QP_ENOTFOUND) return 0;
    if (rc != 0) return rc;
  }
  return QP_EEXISTS;
}

/* Stores d (its id is id) under a free number and replies with it and
 * its secret. */
static void store_device(qp__pay_t *p, json_t *d, const uint8_t id[QP_PAY_ID_SIZE],
                         const qp__pay_idem_t *idem, qp_http_reply_t *r) {
  uint8_t key[4];
  uint32_t number = 0;
  pthread_mutex_lock(&p->order_lock);
  int rc = qp__pay_device_number_free(p, key, &number);
  json_object_set_new(d, "number", json_integer(number));
  char *text = rc == 0 ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_t *pub = text != NULL ? device_public(d) : NULL;
  if (rc == QP_EEXISTS)
    qp_http_reply_fail(r, 503, "device_numbers_full", "", "no free device number was found; "
                       "revoke unused devices");
  else if (rc != 0) qp__pay_reply_store(r, rc);
  else if (pub == NULL) qp__pay_reply_store(r, QP_ENOMEM);
  else {
    json_object_set(pub, "secret", json_object_get(d, "secret"));
    qp__pay_put_t puts[2] = {{p->devices, id, QP_PAY_ID_SIZE, text, strlen(text), true, false},
                             {p->device_numbers, key, sizeof key, id, QP_PAY_ID_SIZE, true,
                              false}};
    qp__pay_change_t c = {puts, 2, NULL, NULL, idem, 0, NULL, NULL, NULL};
    (void)qp__pay_commit(p, &c, 200, pub, r); /* replies, also on failure */
  }
  pthread_mutex_unlock(&p->order_lock);
  if (text != NULL) sodium_memzero(text, strlen(text));
  qp_http_json_free(text);
}

static void create(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r,
                   const qp__pay_idem_t *idem) {
  json_t *body = qp_http_body_object(req, r, DEVICE_FIELDS, 0);
  json_t *d = body != NULL ? read_device(req, body, r) : NULL;
  json_decref(body);
  if (d == NULL) return;
  uint8_t id[QP_PAY_ID_SIZE], secret[QP_PAYCODE_SECRET_SIZE];
  char hex[QP_PAY_ID_HEX + 1], shex[2 * QP_PAYCODE_SECRET_SIZE + 1];
  qp__pay_new_id(id);
  qp__pay_id_hex(id, hex);
  randombytes_buf(secret, sizeof secret);
  sodium_bin2hex(shex, sizeof shex, secret, sizeof secret);
  sodium_memzero(secret, sizeof secret);
  json_object_set_new(d, "id", json_string(hex));
  json_object_set_new(d, "secret", json_string(shex));
  sodium_memzero(shex, sizeof shex);
  store_device(p, d, id, idem, r);
  json_decref(d);
}

void qp__pay_devices_create(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_t *p = ctx;
  qp__pay_idem_t idem;
  if (!qp__pay_idem_begin(p, req, r, &idem)) return;
  create(p, req, r, &idem);
  qp__pay_idem_end(p, &idem);
}

/* The device named by the path's {id}; false after a 404/500 reply. */
static bool load(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r,
                 uint8_t id[QP_PAY_ID_SIZE], json_t **out) {
  *out = NULL;
  int rc = qp__pay_id_parse(qp_http_param(req, "id"), id)
               ? qp__pay_store_get_json(p, p->devices, id, QP_PAY_ID_SIZE, out) : QP_ENOTFOUND;
  json_int_t ledger = rc == 0 ? json_integer_value(json_object_get(*out, "ledger")) : 0;
  if (rc == 0 && !qp_http_caller_ledger_allowed(req, (uint32_t)ledger)) rc = QP_ENOTFOUND;
  if (rc == QP_ENOTFOUND) qp_http_reply_fail(r, 404, "device_not_found", "id", "no such device");
  else if (rc != 0) qp__pay_reply_store(r, rc);
  if (rc != 0) {
    json_decref(*out);
    *out = NULL;
  }
  return rc == 0;
}

void qp__pay_devices_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  uint8_t id[QP_PAY_ID_SIZE];
  json_t *d = NULL;
  if (!load(ctx, req, r, id, &d)) return;
  qp_http_reply_json(r, 200, device_public(d));
  json_decref(d);
}

void qp__pay_devices_delete(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_t *p = ctx;
  uint8_t id[QP_PAY_ID_SIZE];
  json_t *d = NULL;
  pthread_mutex_lock(&p->order_lock); /* a collect verifying this device's code waits */
  if (load(p, req, r, id, &d)) {
    if (strcmp(json_string_value(json_object_get(d, "status")), "revoked") != 0) {
      json_object_set_new(d, "status", json_string("revoked"));
      json_object_set_new(d, "revoked_at", qp__pay_time_json(qp__pay_now_s()));
    }
    char *text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    qp__pay_put_t put = {p->devices, id, QP_PAY_ID_SIZE, text, text ? strlen(text) : 0, false,
                         false};
    qp__pay_change_t c = {&put, 1, NULL, NULL, NULL, 0, NULL, NULL, NULL};
    int rc = text != NULL ? qp__pay_store_write(p, &c) : QP_ENOMEM;
    if (rc == 0) qp_http_reply_json(r, 200, device_public(d));
    else qp__pay_reply_store(r, rc);
    qp_http_json_free(text);
  }
  pthread_mutex_unlock(&p->order_lock);
  json_decref(d);
}

void qp__pay_devices_code(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  uint8_t id[QP_PAY_ID_SIZE], secret[32];
  json_t *d = NULL;
  char code[QP_PAYCODE_DIGITS + 1];
  if (!load(ctx, req, r, id, &d)) return;
  int64_t now = qp__pay_now_s();
  json_int_t number = json_integer_value(json_object_get(d, "number"));
  if (strcmp(json_string_value(json_object_get(d, "status")), "active") != 0)
    qp_http_reply_fail(r, 409, "device_revoked", "id", "the device is revoked: it has no codes");
  else if (!qp__pay_device_secret(d, secret) ||
           qp_paycode_make(secret, sizeof secret, (uint32_t)number, now, code) != 0)
    qp__pay_reply_store(r, QP_ECORRUPT);
  else {
    int64_t step = now / QP_PAYCODE_STEP_S;
    qp_http_reply_json(r, 200, json_pack("{s:s, s:O, s:s, s:I, s:o}", "object", "payment_code",
                                         "device_id", json_object_get(d, "id"), "payment_code",
                                         code, "step", (json_int_t)step, "expires_at",
                                         qp__pay_time_json((step + 2) * QP_PAYCODE_STEP_S)));
  }
  sodium_memzero(secret, sizeof secret);
  json_decref(d);
}
