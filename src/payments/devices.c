/*
 * devices.c - wallet devices and their payment codes, the parts the
 * handlers share (docs/payments.md, "Paying by payment code"): a device's
 * record (JSON in the devices table: id, number, user_id, account_id,
 * ledger, name, secret (64 hex digits: the node needs it to verify codes),
 * status active or revoked, created, revoked_at), the number index
 * (device_numbers: number (4 bytes, big-endian) -> id), the used codes
 * (codes_used: device id || step -> order id), why a code is refused, and
 * the deterministic transfer id of a collect.
 */
#include <sodium.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "payments/payments.h"
#include "payments/payments_int.h"

bool qp__pay_device_secret(const json_t *device, uint8_t out[32]) {
  const char *hex = json_string_value(json_object_get(device, "secret"));
  size_t len = 0;
  return hex != NULL && strlen(hex) == 64 &&
         sodium_hex2bin(out, 32, hex, 64, NULL, &len, NULL) == 0 && len == 32;
}

void qp__pay_code_used_key(const json_t *device, uint64_t step, uint8_t key[24]) {
  memset(key, 0, 24);
  (void)qp__pay_id_parse(json_string_value(json_object_get(device, "id")), key);
  for (int i = 23; i >= 16; i--, step >>= 8) key[i] = (uint8_t)step;
}

const char *qp__pay_code_refusal(const json_t *device, uint64_t otp, int64_t now,
                                 qp__pay_code_used_fn used, void *ctx, uint64_t *step, int *rc) {
  uint8_t secret[32];
  *rc = 0;
  const char *status = json_string_value(json_object_get(device, "status"));
  if (!qp__pay_device_secret(device, secret)) return "payment_code_invalid";
  qp_paycode_verdict_t v = qp_paycode_check(secret, sizeof secret, otp, now, step);
  sodium_memzero(secret, sizeof secret);
  if (v == QP_PAYCODE_INVALID) return "payment_code_invalid";
  if (status == NULL || strcmp(status, "active") != 0) return "payment_code_revoked";
  if (v == QP_PAYCODE_EXPIRED) return "payment_code_expired";
  bool was_used = false;
  *rc = used(ctx, device, *step, &was_used);
  if (*rc != 0) return NULL;
  return was_used ? "payment_code_used" : NULL;
}

int qp__pay_device_by_number(qp__pay_t *p, uint32_t number, json_t **out) {
  uint8_t key[4] = {(uint8_t)(number >> 24), (uint8_t)(number >> 16), (uint8_t)(number >> 8),
                    (uint8_t)number};
  uint8_t *id = NULL;
  size_t len = 0;
  *out = NULL;
  int rc = qp__pay_store_get_raw(p, p->device_numbers, key, sizeof key, &id, &len);
  if (rc == 0 && len != QP_PAY_ID_SIZE) rc = QP_ECORRUPT;
  if (rc == 0) rc = qp__pay_store_get_json(p, p->devices, id, QP_PAY_ID_SIZE, out);
  qp_free(id);
  return rc;
}

int qp__pay_code_used_store(void *ctx, const json_t *device, uint64_t step, bool *used) {
  qp__pay_t *p = ctx;
  uint8_t key[24], *v = NULL;
  size_t len = 0;
  qp__pay_code_used_key(device, step, key);
  int rc = qp__pay_store_get_raw(p, p->codes_used, key, sizeof key, &v, &len);
  qp_free(v);
  *used = rc == 0;
  return rc == QP_ENOTFOUND ? 0 : rc;
}

qp_u128 qp__pay_collect_transfer_id(const uint8_t order_id[QP_PAY_ID_SIZE]) {
  static const char tag[] = "quipu-collect-transfer-v1";
  uint8_t in[sizeof tag - 1 + QP_PAY_ID_SIZE], h[QP_HASH_SIZE];
  memcpy(in, tag, sizeof tag - 1);
  memcpy(in + sizeof tag - 1, order_id, QP_PAY_ID_SIZE);
  qp_sha256(h, in, sizeof in);
  qp_u128 id = qp_u128_load_be(h);
  return id == 0 || id == QP_U128_MAX ? 1 : id; /* 0 and 2^128-1 are not transfer ids */
}

/* ------------------------------------------------ sweeping used codes */

/* A used code's row (device id || step, big-endian) whose step is before
 * *ctx. */
static bool code_gone(void *ctx, const MDB_val *k, const MDB_val *v) {
  (void)v;
  uint64_t step = 0;
  if (k->mv_size != 24) return false;
  for (size_t i = 16; i < 24; i++) step = (step << 8) | ((const uint8_t *)k->mv_data)[i];
  return step < *(const uint64_t *)ctx;
}

uint32_t qp__pay_codes_sweep(qp__pay_t *p, int64_t now_s) {
  uint64_t cur = now_s > 0 ? (uint64_t)now_s / QP_PAYCODE_STEP_S : 0;
  if (cur <= QP_PAYCODE_EXPIRED_STEPS + 1) return 0;
  uint64_t before = cur - QP_PAYCODE_EXPIRED_STEPS - 1;
  return qp__pay_store_sweep(p, p->codes_used, code_gone, &before);
}
