/*
 * pb_collect.c - collect by payment code, as a wallet and a shop do it:
 * the wallet's backend enrolls a device for its user (POST /v1/devices,
 * the secret shown once), the wallet derives the current 18-digit code from
 * the secret (qp_paycode_make, the reference of docs/payments.md), and the
 * shop makes an order and collects it with the scanned code (POST
 * /v1/orders/{id}/collect), which answers the order paid.  One device per
 * collect: a code is good once per device and 30 s step.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pay_bench.h"
#include "base/clock.h"
#include "base/err.h"
#include "payments/payments.h"

static const char *field(json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

int pb_enroll_one(void *e, const qb_node_t *n, const pb_user_t *users, pb_order_t *o) {
  const pb_user_t *u = &users[o->user];
  char account[24];
  snprintf(account, sizeof account, "%llu", (unsigned long long)u->account);
  json_t *dev = NULL;
  int rc = pb_expect(e, n, "POST", "/v1/devices",
                     json_pack("{s:s, s:s, s:i, s:s}", "user_id", u->id, "account_id", account,
                               "ledger", PB_LEDGER, "name", "bench phone"),
                     200, &dev);
  const char *secret = field(dev, "secret");
  json_int_t number = json_integer_value(json_object_get(dev, "number"));
  size_t len = 0;
  if (rc == 0 && (secret == NULL || number < 0 || number > QP_PAYCODE_DEVICE_MAX ||
                  sodium_hex2bin(o->secret, sizeof o->secret, secret, strlen(secret), NULL,
                                 &len, NULL) != 0 || len != sizeof o->secret)) {
    fprintf(stderr, "payments-bench: POST /v1/devices answered no secret or number\n");
    rc = QP_EIO;
  }
  o->device = (uint32_t)number;
  json_decref(dev);
  return rc;
}

/* POST /v1/orders/{id}/collect with the device's code now: the order paid. */
static int collect(void *e, const qb_node_t *n, pb_order_t *o) {
  char code[QP_PAYCODE_DIGITS + 1], path[96], amount[24];
  int rc = qp_paycode_make(o->secret, sizeof o->secret, o->device, (int64_t)time(NULL), code);
  if (rc != 0) return rc;
  snprintf(path, sizeof path, "/v1/orders/%s/collect", o->id);
  snprintf(amount, sizeof amount, "%llu", (unsigned long long)o->amount);
  json_t *paid = NULL;
  uint64_t t0 = qp_clock_mono_ns();
  rc = pb_expect(e, n, "POST", path, json_pack("{s:s}", "payment_code", code), 200, &paid);
  o->call_ns = qp_clock_mono_ns() - t0;
  const char *status = field(paid, "status"), *have = field(paid, "amount");
  o->paid = rc == 0 && status != NULL && strcmp(status, "paid") == 0 && have != NULL &&
            strcmp(have, amount) == 0;
  if (rc == 0 && !o->paid) {
    fprintf(stderr, "payments-bench: collect of %s answered status %s\n", o->id,
            status != NULL ? status : "?");
    rc = QP_EIO;
  }
  json_decref(paid);
  return rc;
}

int pb_collect_one(void *e, const qb_node_t *n, const char *merchant_id, pb_order_t *o) {
  char amount[24];
  snprintf(amount, sizeof amount, "%llu", (unsigned long long)o->amount);
  uint64_t t0 = qp_clock_mono_ns();
  json_t *order = NULL;
  int rc = pb_expect(e, n, "POST", "/v1/orders",
                     json_pack("{s:s, s:s, s:i, s:s}", "merchant_id", merchant_id, "amount",
                               amount, "ledger", PB_LEDGER, "currency", "USD"),
                     200, &order);
  const char *id = field(order, "id");
  if (rc == 0 && id == NULL) rc = QP_EIO;
  if (rc == 0) snprintf(o->id, sizeof o->id, "%s", id);
  json_decref(order);
  if (rc == 0) rc = collect(e, n, o);
  o->flow_ns = qp_clock_mono_ns() - t0;
  return rc;
}
