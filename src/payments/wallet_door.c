/*
 * wallet_door.c - the payments module as the wallet module sees it
 * (payments.h, "the wallet's door"): an order's summary and payee, the
 * order an EMV payload names, a merchant's name by settlement account, a
 * user's payment-code device and its current code, a QR of a text.
 */
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "payments/payments.h"
#include "payments/payments_int.h"

#define MERCHANT_SCAN_MAX 10000u /* merchants one name lookup looks at */

static _Atomic(qp__pay_t *) current;

void qp__pay_service_set(qp__pay_t *p) { atomic_store(&current, p); }

int qp_payments_order_summary(const char *order_id, json_t **out, qp_u128 *settlement) {
  qp__pay_t *p = atomic_load(&current);
  uint8_t id[QP_PAY_ID_SIZE], mid[QP_PAY_ID_SIZE];
  json_t *o = NULL, *m = NULL;
  *out = NULL;
  if (p == NULL) return QP_ENOTSUP;
  if (order_id == NULL || !qp__pay_id_parse(order_id, id)) return QP_ENOTFOUND;
  int rc = qp__pay_order_observe(p, id, &o);
  if (rc == 0 && !qp__pay_id_parse(json_string_value(json_object_get(o, "merchant_id")), mid))
    rc = QP_ECORRUPT;
  if (rc == 0) rc = qp__pay_store_get_json(p, p->merchants, mid, QP_PAY_ID_SIZE, &m);
  if (rc == 0 && !qp__pay_member_u128(m, "settlement_account_id", settlement)) rc = QP_ECORRUPT;
  if (rc == 0) {
    json_t *desc = json_object_get(o, "description");
    *out = json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:s, s:O}", "id", json_object_get(o, "id"),
                     "merchant_name", json_object_get(m, "name"), "amount",
                     json_object_get(o, "amount"), "currency", json_object_get(o, "currency"),
                     "ledger", json_object_get(o, "ledger"), "description",
                     desc != NULL ? desc : json_null(), "status",
                     qp__pay_order_status(o, qp__pay_now_s()), "expires_at",
                     json_object_get(o, "expires_at"));
    if (*out == NULL) rc = QP_ENOMEM;
  }
  json_decref(o);
  json_decref(m);
  return rc;
}

int qp_payments_emv_order(const char *payload, char order_id[33], char *path, size_t path_size,
                          char *message, size_t message_size) {
  static _Thread_local qp_emv_payload_t e; /* 7 KiB: kept off the handler's stack */
  qp__pay_t *p = atomic_load(&current);
  if (p == NULL) return QP_ENOTSUP;
  qp_emv_error_t err;
  if (qp_emv_parse(payload, strlen(payload), &e, &err) != 0) {
    snprintf(path, path_size, "%s", err.path);
    snprintf(message, message_size, "%s", err.message);
    return QP_EINVAL;
  }
  const qp_emv_object_t *gui = qp_emv_find(&e, "26.00"), *order = qp_emv_find(&e, "26.01");
  if (gui == NULL || order == NULL || gui->value_bytes != strlen(p->settings.gui) ||
      memcmp(gui->value, p->settings.gui, gui->value_bytes) != 0 ||
      order->value_bytes != QP_PAY_ID_HEX)
    return QP_ENOTFOUND;
  memcpy(order_id, order->value, QP_PAY_ID_HEX);
  order_id[QP_PAY_ID_HEX] = '\0';
  return 0;
}

int qp_payments_merchant_name(qp_u128 account, char *name, size_t size) {
  qp__pay_t *p = atomic_load(&current);
  if (p == NULL) return QP_ENOTSUP;
  uint8_t keys[64 * QP_PAY_ID_SIZE], after[QP_PAY_ID_SIZE];
  uint32_t seen = 0, count = 0;
  bool first = true;
  do {
    if (qp__pay_store_keys(p, p->merchants, first ? NULL : after, QP_PAY_ID_SIZE, keys, 64,
                           &count) != 0)
      return QP_ENOTFOUND;
    for (uint32_t i = 0; i < count; i++) {
      json_t *m = NULL;
      qp_u128 acc = 0;
      if (qp__pay_store_get_json(p, p->merchants, keys + i * QP_PAY_ID_SIZE, QP_PAY_ID_SIZE,
                                 &m) == 0 &&
          qp__pay_member_u128(m, "settlement_account_id", &acc) && acc == account) {
        snprintf(name, size, "%s", json_string_value(json_object_get(m, "name")));
        json_decref(m);
        return 0;
      }
      json_decref(m);
    }
    if (count > 0) memcpy(after, keys + (count - 1) * QP_PAY_ID_SIZE, QP_PAY_ID_SIZE);
    first = false;
    seen += count;
  } while (count == 64 && seen < MERCHANT_SCAN_MAX);
  return QP_ENOTFOUND;
}

int qp_payments_device_enrol(const char *user_id, qp_u128 account, uint32_t ledger,
                             char device_id[33]) {
  qp__pay_t *p = atomic_load(&current);
  if (p == NULL) return QP_ENOTSUP;
  uint8_t id[QP_PAY_ID_SIZE], secret[QP_PAYCODE_SECRET_SIZE], key[4];
  char shex[2 * QP_PAYCODE_SECRET_SIZE + 1];
  uint32_t number = 0;
  qp__pay_new_id(id);
  qp__pay_id_hex(id, device_id);
  randombytes_buf(secret, sizeof secret);
  sodium_bin2hex(shex, sizeof shex, secret, sizeof secret);
  sodium_memzero(secret, sizeof secret);
  pthread_mutex_lock(&p->order_lock);
  int rc = qp__pay_device_number_free(p, key, &number);
  json_t *d = rc == 0 ? json_pack("{s:s, s:s, s:o, s:I, s:s, s:s, s:s, s:o, s:I}", "id",
                                  device_id, "user_id", user_id, "account_id",
                                  qp__pay_u128_json(account), "ledger", (json_int_t)ledger,
                                  "name", "wallet", "status", "active", "secret", shex,
                                  "created", qp__pay_time_json(qp__pay_now_s()), "number",
                                  (json_int_t)number)
                      : NULL;
  char *text = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  if (rc == 0 && text == NULL) rc = QP_ENOMEM;
  if (rc == 0) {
    qp__pay_put_t puts[2] = {{p->devices, id, QP_PAY_ID_SIZE, text, strlen(text), true, false},
                             {p->device_numbers, key, sizeof key, id, QP_PAY_ID_SIZE, true,
                              false}};
    qp__pay_change_t c = {puts, 2, NULL, NULL, NULL, 0, NULL, NULL, NULL};
    rc = qp__pay_store_write(p, &c);
  }
  pthread_mutex_unlock(&p->order_lock);
  sodium_memzero(shex, sizeof shex);
  if (text != NULL) sodium_memzero(text, strlen(text));
  qp_http_json_free(text);
  json_decref(d);
  return rc;
}

int qp_payments_device_code(const char *device_id, char code[QP_PAYCODE_DIGITS + 1],
                            int64_t *expires_at) {
  qp__pay_t *p = atomic_load(&current);
  uint8_t id[QP_PAY_ID_SIZE], secret[32];
  json_t *d = NULL;
  if (p == NULL) return QP_ENOTSUP;
  int rc = qp__pay_id_parse(device_id, id)
               ? qp__pay_store_get_json(p, p->devices, id, QP_PAY_ID_SIZE, &d)
               : QP_ENOTFOUND;
  int64_t now = qp__pay_now_s();
  const char *status = rc == 0 ? json_string_value(json_object_get(d, "status")) : NULL;
  if (rc == 0 && (status == NULL || strcmp(status, "active") != 0)) rc = QP_EINVAL;
  if (rc == 0 && (!qp__pay_device_secret(d, secret) ||
                  qp_paycode_make(secret, sizeof secret,
                                  (uint32_t)json_integer_value(json_object_get(d, "number")),
                                  now, code) != 0))
    rc = QP_ECORRUPT;
  *expires_at = (now / QP_PAYCODE_STEP_S + 2) * QP_PAYCODE_STEP_S;
  sodium_memzero(secret, sizeof secret);
  json_decref(d);
  return rc;
}

int qp_payments_qr_svg(const char *text, char **out, size_t *len) {
  return qp__pay_qr_svg(text, out, len);
}
