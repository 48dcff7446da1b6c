/*
 * module.c - the payments module of the node (docs/payments.md): its
 * settings in node.json, opening the store, and what it hands the HTTP
 * core.
 *
 *   "payments": {"gui": "com.quipu.pay", "country": "CN", "city": "Hangzhou",
 *                "mcc": "5999", "order_expires_in_s_default": 900,
 *                "order_expires_in_s_max": 86400, "idempotency_ttl_s": 86400}
 *
 * It needs the ledger module (a merchant's settlement account is checked
 * through the ledger's door), so it comes after it in the module table.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "ledger/api.h"
#include "node/module.h"
#include "payments/payments_int.h"

#define SETTINGS_ALLOWED "gui, country, city, mcc, order_expires_in_s_default, " \
                         "order_expires_in_s_max, idempotency_ttl_s, " \
                         "webhooks_allow_loopback_http, webhooks_allow_private_networks, " \
                         "webhook_retry_base_ms, webhook_retry_cap_ms, webhook_disable_after_s, " \
                         "collect_without_confirmation_max"

static bool text_ok(const char *s, size_t len, int kind) {
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    bool ok = kind == 'd' ? (c >= '0' && c <= '9') : kind == 'A' ? (c >= 'A' && c <= 'Z')
              : (c >= 0x20 && c <= 0x7E);
    if (!ok) return false;
  }
  return true;
}

/* A string setting of min..max characters of kind ('d' digits, 'A' upper
 * case letters, 'p' printable ASCII). */
static int text_setting(json_t *v, const char *key, size_t min, size_t max, int kind, char *out,
                        const char *what, char *detail, size_t size) {
  size_t len = json_is_string(v) ? json_string_length(v) : 0;
  if (!json_is_string(v) || len < min || len > max || !text_ok(json_string_value(v), len, kind)) {
    snprintf(detail, size, "modules.payments.%s must be %s", key, what);
    return QP_EINVAL;
  }
  memcpy(out, json_string_value(v), len + 1);
  return 0;
}

static int int_setting(json_t *v, const char *key, json_int_t min, json_int_t max, uint32_t *out,
                       char *detail, size_t size) {
  json_int_t n = json_is_integer(v) ? json_integer_value(v) : min - 1;
  if (n < min || n > max) {
    snprintf(detail, size, "modules.payments.%s must be an integer from %lld to %lld", key,
             (long long)min, (long long)max);
    return QP_EINVAL;
  }
  *out = (uint32_t)n;
  return 0;
}

static int one_setting(qp__pay_settings_t *s, const char *key, json_t *v, char *d, size_t n) {
  if (strcmp(key, "gui") == 0)
    return text_setting(v, key, 1, QP_EMV_GUI_MAX, 'p', s->gui, "1 to 32 printable ASCII "
                        "characters (a reverse domain name or a UUID)", d, n);
  if (strcmp(key, "country") == 0)
    return text_setting(v, key, 2, 2, 'A', s->country, "2 upper-case letters (ISO 3166-1)", d, n);
  if (strcmp(key, "city") == 0)
    return text_setting(v, key, 1, QP_PAY_CITY_MAX, 'p', s->city, "1 to 15 printable ASCII "
                        "characters", d, n);
  if (strcmp(key, "mcc") == 0)
    return text_setting(v, key, 4, 4, 'd', s->mcc, "4 digits (ISO 18245)", d, n);
  if (strcmp(key, "order_expires_in_s_default") == 0)
    return int_setting(v, key, 1, QP_PAY_EXPIRES_IN_S_MAX, &s->order_expires_in_s_default, d, n);
  if (strcmp(key, "order_expires_in_s_max") == 0)
    return int_setting(v, key, 1, QP_PAY_EXPIRES_IN_S_MAX, &s->order_expires_in_s_max, d, n);
  if (strcmp(key, "idempotency_ttl_s") == 0)
    return int_setting(v, key, 60, 30 * 86400, &s->idempotency_ttl_s, d, n);
  if (strcmp(key, "webhook_retry_base_ms") == 0)
    return int_setting(v, key, 10, 3600000, &s->webhook_retry_base_ms, d, n);
  if (strcmp(key, "webhook_retry_cap_ms") == 0)
    return int_setting(v, key, 10, 86400000, &s->webhook_retry_cap_ms, d, n);
  if (strcmp(key, "webhook_disable_after_s") == 0)
    return int_setting(v, key, 1, 30 * 86400, &s->webhook_disable_after_s, d, n);
  if (strcmp(key, "collect_without_confirmation_max") == 0) {
    json_int_t m = json_is_integer(v) ? json_integer_value(v) : -1;
    if (m < 0)
      return snprintf(d, n, "modules.payments.%s must be an integer from 0 (minor units)", key),
             QP_EINVAL;
    s->collect_without_confirmation_max = (uint64_t)m;
    return 0;
  }
  bool *flag = strcmp(key, "webhooks_allow_loopback_http") == 0 ? &s->webhooks_allow_loopback_http
               : strcmp(key, "webhooks_allow_private_networks") == 0
                   ? &s->webhooks_allow_private_networks
                   : NULL;
  if (flag != NULL) {
    if (!json_is_boolean(v))
      return snprintf(d, n, "modules.payments.%s must be true or false", key), QP_EINVAL;
    *flag = json_is_true(v);
    return 0;
  }
  snprintf(d, n, "unknown key modules.payments.%s; allowed: " SETTINGS_ALLOWED, key);
  return QP_EINVAL;
}

static int parse_settings(const json_t *obj, qp__pay_settings_t *s, char *detail, size_t size) {
  memset(s, 0, sizeof *s);
  snprintf(s->gui, sizeof s->gui, "com.quipu.pay");
  snprintf(s->country, sizeof s->country, "CN");
  snprintf(s->city, sizeof s->city, "Hangzhou");
  snprintf(s->mcc, sizeof s->mcc, "5999");
  s->order_expires_in_s_default = QP_PAY_EXPIRES_IN_S_DEFAULT;
  s->order_expires_in_s_max = 86400;
  s->idempotency_ttl_s = QP_PAY_IDEM_TTL_S_DEFAULT;
  s->webhook_retry_base_ms = 5000;
  s->webhook_retry_cap_ms = 3600000;
  s->webhook_disable_after_s = 86400;
  if (obj != NULL && !json_is_object(obj)) {
    snprintf(detail, size, "modules.payments must be an object");
    return QP_EINVAL;
  }
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)obj, key, v) {
    int rc = one_setting(s, key, v, detail, size);
    if (rc != 0) return rc;
  }
  if (s->order_expires_in_s_default > s->order_expires_in_s_max) {
    snprintf(detail, size, "modules.payments.order_expires_in_s_default must not exceed "
             "order_expires_in_s_max (%u)", s->order_expires_in_s_max);
    return QP_EINVAL;
  }
  return 0;
}

static const qp_http_route_t ROUTES[] = {
    {"POST", "/v1/merchants", QP_PAY_SCOPE_WRITE, false, 4096, qp__pay_merchants_create},
    {"GET", "/v1/merchants/{id}", NULL, false, 0, qp__pay_merchants_get},
    {"GET", "/v1/merchants/{id}/settlements", NULL, false, 0, qp__pay_settlements_list},
    {"POST", "/v1/merchants/{id}/keys", QP_PAY_SCOPE_WRITE, false, 1024,
     qp__pay_merchant_keys_create},
    {"POST", "/v1/orders", NULL, false, QP_PAY_BODY_BYTES_MAX, qp__pay_orders_create},
    {"GET", "/v1/orders", NULL, false, 0, qp__pay_orders_list},
    {"GET", "/v1/orders/{id}", NULL, false, 0, qp__pay_orders_get},
    {"POST", "/v1/orders/{id}/cancel", NULL, false, 1024, qp__pay_orders_cancel},
    {"GET", "/v1/orders/{id}/qr.svg", NULL, false, 0, qp__pay_orders_qr_svg},
    {"GET", "/v1/orders/{id}/events", NULL, false, 0, qp__pay_orders_events},
    {"GET", "/v1/orders/{id}/qr.png", NULL, false, 0, qp__pay_orders_qr_png},
    {"POST", "/v1/refunds", NULL, false, 2048, qp__pay_refunds_create},
    {"GET", "/v1/refunds", NULL, false, 0, qp__pay_refunds_list},
    {"GET", "/v1/refunds/{id}", NULL, false, 0, qp__pay_refunds_get},
    {"POST", "/v1/webhooks", NULL, false, 4096, qp__pay_webhooks_create},
    {"GET", "/v1/webhooks", NULL, false, 0, qp__pay_webhooks_list},
    {"DELETE", "/v1/webhooks/{id}", NULL, false, 0, qp__pay_webhooks_delete},
    {"GET", "/v1/webhooks/{id}/deliveries", NULL, false, 0, qp__pay_webhooks_deliveries},
    {"POST", "/v1/devices", QP_PAY_SCOPE_WRITE, false, 2048, qp__pay_devices_create},
    {"GET", "/v1/devices/{id}", QP_PAY_SCOPE_READ, false, 0, qp__pay_devices_get},
    {"DELETE", "/v1/devices/{id}", QP_PAY_SCOPE_WRITE, false, 0, qp__pay_devices_delete},
    {"GET", "/v1/devices/{id}/code", QP_PAY_SCOPE_WRITE, false, 0, qp__pay_devices_code},
    {"POST", "/v1/orders/{id}/collect", NULL, false, 1024, qp__pay_orders_collect},
    {"POST", "/v1/qr/parse", NULL, false, QP_PAY_BODY_BYTES_MAX, qp__pay_qr_parse},
};

static void payments_close(void *state) {
  qp__pay_t *p = state;
  qp__pay_service_set(NULL);
  qp__pay_worker_stop(p);
  qp__pay_store_close(p);
  pthread_mutex_destroy(&p->lock);
  pthread_mutex_destroy(&p->order_lock);
  pthread_mutex_destroy(&p->webhook_lock);
  pthread_mutex_destroy(&p->worker_lock);
  pthread_cond_destroy(&p->worker_wake);
  pthread_mutex_destroy(&p->change_lock);
  pthread_cond_destroy(&p->change_cond);
  qp_free(p);
}

static int payments_open(const qp_node_env_t *env, const json_t *settings, void **state,
                         char *detail, size_t detail_size) {
  if (qp_ledger_service() == NULL) {
    snprintf(detail, detail_size, "payments needs the ledger module: add \"ledger\": {} to "
             "modules");
    return QP_EINVAL;
  }
  qp__pay_t *p = qp_calloc(1, sizeof *p);
  if (p == NULL) return QP_ENOMEM;
  int rc = parse_settings(settings, &p->settings, detail, detail_size);
  if (rc == 0 && snprintf(p->data_dir, sizeof p->data_dir, "%s", env->data_dir) >=
                     (int)sizeof p->data_dir)
    rc = QP_ERANGE;
  if (rc == 0) rc = qp__pay_store_open(p, env->data_dir, detail, detail_size);
  if (rc != 0) {
    qp_free(p);
    return rc;
  }
  pthread_mutex_init(&p->lock, NULL);
  pthread_mutex_init(&p->order_lock, NULL);
  pthread_mutex_init(&p->webhook_lock, NULL);
  pthread_mutex_init(&p->worker_lock, NULL);
  pthread_cond_init(&p->worker_wake, NULL);
  pthread_mutex_init(&p->change_lock, NULL);
  pthread_cond_init(&p->change_cond, NULL);
  rc = qp__pay_worker_start(p);
  if (rc != 0) {
    snprintf(detail, detail_size, "payments: cannot start the webhook worker");
    payments_close(p);
    return rc;
  }
  p->http = (qp_http_module_t){.name = "payments", .routes = ROUTES,
                               .routes_count = sizeof ROUTES / sizeof ROUTES[0], .ctx = p,
                               .openapi = qp_payments_openapi_json,
                               .metrics = qp__pay_metrics};
  qp__pay_service_set(p);
  *state = p;
  return 0;
}

static const qp_http_module_t *payments_routes(void *state) {
  return &((qp__pay_t *)state)->http;
}

static void payments_tick(void *state, uint64_t now_ns) {
  (void)now_ns; /* the sweeps compare with the wall clock, as the records do */
  qp__pay_t *p = state;
  int64_t now = qp__pay_now_s();
  qp__pay_paid_sweep(p, now);
  qp__pay_refunds_recover(p);
  if (now - p->idem_swept_s < QP_PAY_IDEM_SWEEP_S) return;
  p->idem_swept_s = now;
  qp__pay_idem_sweep(p, now);
  (void)qp__pay_codes_sweep(p, now);
}


static const qp_http_scope_t SCOPES[] = {
    {QP_PAY_SCOPE_WRITE, "create merchants, merchant keys, orders, refunds and webhooks; "
                         "cancel orders; delete webhooks"},
    {QP_PAY_SCOPE_READ, "read merchants, orders, refunds and webhooks; parse QR payloads"},
    {QP_PAY_SCOPE_MERCHANT, "a merchant's own key: its orders, refunds and webhooks only "
                            "(made by POST /v1/merchants/{id}/keys)"},
};

const qp_module_t qp_payments_module = {
    .name = "payments",
    .summary = "merchants, orders and their EMV QR codes, refunds, signed webhooks, "
               "idempotency keys (docs/payments.md)",
    .scopes = SCOPES,
    .scopes_count = 3,
    .open = payments_open,
    .routes = payments_routes,
    .tick_ms = QP_PAY_TICK_MS,
    .tick = payments_tick,
    .close = payments_close,
};
