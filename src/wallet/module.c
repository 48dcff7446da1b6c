/*
 * module.c - the wallet module of the node (docs/wallet.md): a bank's
 * customers sign up and in with a passkey, see their account and bills,
 * pay other users and shops.  It needs the auth and ledger modules (it
 * comes after them in the module table); its routes are public in the
 * HTTP core (no API key) and it checks its own session cookie, except the
 * operators' routes, which need an API key with scope admin.
 */
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "base/alloc.h"
#include "base/err.h"
#include "ledger/api.h"
#include "node/module.h"
#include "wallet/wallet_int.h"

#define B QP_WALLET_BODY_MAX
#define ADMIN QP_HTTP_SCOPE_ADMIN

static const qp_http_route_t ROUTES[] = {
    {"POST", "/v1/wallet/signup/options", NULL, true, 4096, qp__wallet_signup_options},
    {"POST", "/v1/wallet/signup/verify", NULL, true, B, qp__wallet_signup_verify},
    {"POST", "/v1/wallet/login/options", NULL, true, 4096, qp__wallet_login_options},
    {"POST", "/v1/wallet/login/verify", NULL, true, B, qp__wallet_login_verify},
    {"POST", "/v1/wallet/logout", NULL, true, 1024, qp__wallet_logout},
    {"GET", "/v1/wallet/me", NULL, true, 0, qp__wallet_me_get},
    {"GET", "/v1/wallet/bills", NULL, true, 0, qp__wallet_bills_list},
    {"GET", "/v1/wallet/bills/{id}", NULL, true, 0, qp__wallet_bills_get},
    {"GET", "/v1/wallet/users/{handle}", NULL, true, 0, qp__wallet_user_get},
    {"POST", "/v1/wallet/transfers", NULL, true, 4096, qp__wallet_transfers_create},
    {"GET", "/v1/wallet/intents/{id}", NULL, true, 0, qp__wallet_intents_get},
    {"POST", "/v1/wallet/intents/{id}/challenge", NULL, true, 1024, qp__wallet_intents_challenge},
    {"POST", "/v1/wallet/intents/{id}/confirm", NULL, true, B, qp__wallet_intents_confirm},
    {"POST", "/v1/wallet/intents/{id}/cancel", NULL, true, 1024, qp__wallet_intents_cancel},
    {"POST", "/v1/wallet/scan", NULL, true, 4096, qp__wallet_scan},
    {"GET", "/v1/wallet/orders/{id}", NULL, true, 0, qp__wallet_orders_get},
    {"POST", "/v1/wallet/orders/{id}/pay", NULL, true, 1024, qp__wallet_orders_pay},
    {"POST", "/v1/wallet/paycode/unlock", NULL, true, 1024, qp__wallet_paycode_unlock},
    {"POST", "/v1/wallet/paycode", NULL, true, B, qp__wallet_paycode},
    {"GET", "/v1/wallet/events", NULL, true, 0, qp__wallet_events},
    {"GET", "/v1/wallet/users", ADMIN, false, 0, qp__wallet_admin_user},
    {"POST", "/v1/wallet/users/{handle}/deposit", ADMIN, false, 1024, qp__wallet_admin_deposit},
    {"DELETE", "/v1/wallet/users/{handle}/sessions", ADMIN, false, 0, qp__wallet_admin_sessions},
};

void qp__wallet_metrics(void *ctx, qp_http_text_t *out) {
  qp__wallet_t *w = ctx;
  qp_http_metric_u64(out, "quipu_wallet_signups_total", "counter",
                     "Wallet users signed up (passkey verified, account made)",
                     atomic_load(&w->signups_total));
  qp_http_metric_u64(out, "quipu_wallet_logins_total", "counter",
                     "Wallet sign-ins with a passkey", atomic_load(&w->logins_total));
  qp_http_metric_u64(out, "quipu_wallet_sessions_refused_total", "counter",
                     "Wallet requests refused 401 session_required",
                     atomic_load(&w->sessions_refused));
  qp_http_metric_u64(out, "quipu_wallet_intents_total", "counter",
                     "Payment intents the wallet made (transfers, orders)",
                     atomic_load(&w->transfers_total));
  qp_http_metric_u64(out, "quipu_wallet_streams_open", "gauge",
                     "Wallet event streams open now", atomic_load(&w->streams_open));
  qp_http_metric_u64(out, "quipu_wallet_events_total", "counter",
                     "Wallet events sent on the streams (bill, balance, intent)",
                     atomic_load(&w->events_sent));
}

static int wallet_open(const qp_node_env_t *env, const json_t *settings, void **state,
                       char *detail, size_t detail_size) {
  if (qp_ledger_service() == NULL || !qp_auth_service_enabled()) {
    snprintf(detail, detail_size, "wallet needs the auth and ledger modules: add \"auth\": {} "
             "and \"ledger\": {} to modules");
    return QP_EINVAL;
  }
  qp__wallet_t *w = qp_calloc(1, sizeof *w);
  if (w == NULL) return QP_ENOMEM;
  int rc = qp__wallet_settings_parse(settings, &w->settings, detail, detail_size);
  if (rc == 0) rc = qp__wallet_store_open(w, env->data_dir, detail, detail_size);
  if (rc != 0) {
    qp_free(w);
    return rc;
  }
  pthread_mutex_init(&w->lock, NULL);
  w->server = env->server;
  qp__wallet_treasury_ensure(w); /* again at the first deposit, if the ledger was not ready */
  w->http = (qp_http_module_t){.name = "wallet", .routes = ROUTES,
                               .routes_count = sizeof ROUTES / sizeof ROUTES[0], .ctx = w,
                               .openapi = qp_wallet_openapi_json, .metrics = qp__wallet_metrics};
  *state = w;
  return 0;
}

/* Every minute: expired and revoked sessions leave the store. */
static void wallet_tick(void *state, uint64_t now_ns) {
  (void)now_ns; /* sessions expire by the wall clock */
  qp__wallet_t *w = state;
  int64_t now = qp__wallet_now_s();
  if (now - w->swept_s < 60) return;
  w->swept_s = now;
  uint32_t deleted = 0;
  qp__wallet_sessions_sweep(w, now, &deleted);
}

static const qp_http_module_t *wallet_routes(void *state) {
  return &((qp__wallet_t *)state)->http;
}

static void wallet_close(void *state) {
  qp__wallet_t *w = state;
  qp__wallet_store_close(w);
  pthread_mutex_destroy(&w->lock);
  qp_free(w);
}

const qp_module_t qp_wallet_module = {
    .name = "wallet",
    .summary = "a bank's customers: passkey sign-up and sign-in, sessions, bills, transfers "
               "and payments confirmed by passkey (docs/wallet.md)",
    .scopes = NULL,
    .scopes_count = 0,
    .open = wallet_open,
    .routes = wallet_routes,
    .tick_ms = 1000,
    .tick = wallet_tick,
    .close = wallet_close,
};
