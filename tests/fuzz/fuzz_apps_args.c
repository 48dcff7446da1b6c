/*
 * fuzz_apps_args.c - libFuzzer target for the registry and receivable
 * apps' argument decoding (src/apps/args.c) and everything behind it: the
 * args JSON any client sends in a transaction or a query.  Input: byte 0
 * picks the method (a transaction or a query of either app), byte 1 the
 * sender (a registrar, core, suppliers, funders, clearing or strangers),
 * the rest is the args text.  Calls run against a fixed state (parties
 * registered, a credit line, a voucher tree split, financed and settling)
 * at a block time past its maturity.  Properties: no crash, no leak; a
 * transaction answers ok or a failed receipt with a documented code, no
 * writes when failed; a query answers a result object or a documented
 * code, never an operating error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/apps.h"
#include "base/assert.h"
#include "base/err.h"
#include "chain/chain.h"

#define PARTIES 10

static const char *const METHODS[] = {
    "register", "grant_credit", "participant", "participants",       /* registry */
    "issue", "transfer", "finance", "accept_finance", "settle",       /* receivable */
    "confirm_settlement", "report_shortfall", "voucher", "holdings", "exposure",
    "history", "settlement", "settlements", "nope"};
#define METHODS_COUNT (sizeof METHODS / sizeof METHODS[0])

static const char *const CODES[] = {
    "ok", "bad_args", "amount_invalid", "not_registrar", "already_registered",
    "registry_full", "not_registered", "not_funder", "not_core", "too_many_lines",
    "unknown_method", "query_only", "not_holder", "unknown_voucher", "voucher_not_active",
    "credit_line_exceeded", "not_mature", "already_financed", "no_offer", "tree_full",
    "settlement_pending", "too_many_attempts", "not_clearing", "unknown_settlement",
    "settlement_not_pending", "not_found"};

static qp_chain_genesis_t genesis;
static json_t *map;                         /* "app|key" -> value string */
static uint8_t pub[PARTIES][32];
static char hex[PARTIES][65];

typedef struct fz_view {
  const char *app; /* whose keys */
} fz_view_t;

static int get_app(void *ctx, const char *app, const uint8_t *key, size_t key_len,
                   const uint8_t **value, size_t *value_len) {
  (void)ctx;
  char k[512];
  snprintf(k, sizeof k, "%s|%.*s", app, (int)key_len, (const char *)key);
  json_t *s = json_object_get(map, k);
  if (s == NULL) return QP_ENOTFOUND;
  *value = (const uint8_t *)json_string_value(s);
  *value_len = json_string_length(s);
  return 0;
}

static int get(void *ctx, const uint8_t *key, size_t key_len, const uint8_t **value,
               size_t *value_len) {
  return get_app(ctx, ((fz_view_t *)ctx)->app, key, key_len, value, value_len);
}

static void view_of(const char *app, fz_view_t *ctx, qp_chain_view_t *v) {
  ctx->app = app;
  *v = (qp_chain_view_t){.get = get, .get_app = get_app, .ctx = ctx, .height = 50,
                         .time_s = 6000, .genesis = &genesis};
}

static bool code_known(const char *code) {
  for (size_t i = 0; i < sizeof CODES / sizeof CODES[0]; i++)
    if (strcmp(CODES[i], code) == 0) return true;
  return false;
}

/* Runs one transaction; applies its writes when apply (the setup). */
static void call(int who, const char *app, const char *method, const char *args, size_t len,
                 bool apply) {
  qp_chain_tx_t tx;
  memset(&tx, 0, sizeof tx);
  tx.suite = QP_SUITE_ED25519;
  memcpy(tx.sender, pub[who], 32);
  tx.sender_len = 32;
  snprintf(tx.app, sizeof tx.app, "%s", app);
  snprintf(tx.method, sizeof tx.method, "%s", method);
  json_t *j = json_loadb(args, len, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(j)) {
    json_decref(j);
    return; /* exec refuses it before any app runs */
  }
  qp_chain_effects_t e;
  QP_ASSERT(qp_chain_effects_init(&e) == 0);
  fz_view_t ctx;
  qp_chain_view_t v;
  view_of(app, &ctx, &v);
  int rc = qp_chain_app_find(app)->execute(&v, &tx, j, &e);
  QP_ASSERT(rc == 0);
  QP_ASSERT(code_known(e.code) && json_is_object(e.result) && json_is_array(e.events));
  QP_ASSERT(!e.failed || e.writes_count == 0);
  QP_ASSERT(!apply || !e.failed);
  for (uint32_t i = 0; apply && i < e.writes_count; i++) {
    const qp_chain_write_t *w = &e.writes[i];
    const char *d = e.data.data;
    char k[512];
    snprintf(k, sizeof k, "%s|%.*s", app, (int)w->key_len, d + w->key_off);
    json_object_set_new(map, k, json_stringn(d + w->value_off, w->value_len));
  }
  qp_chain_effects_deinit(&e);
  json_decref(j);
}

static void setup_call(int who, const char *app, const char *method, const char *fmt, ...) {
  char args[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  call(who, app, method, args, strlen(args), true);
}

static void setup(void) {
  QP_ASSERT(qp_crypto_init() == 0);
  genesis.suite = QP_SUITE_ED25519;
  for (int i = 0; i < PARTIES; i++) {
    uint8_t secret[QP_SIGN_SECRET_SIZE];
    memset(secret, i + 1, sizeof secret);
    qp_sign_key_t *k = NULL;
    QP_ASSERT(qp_sign_key_from_secret(QP_SUITE_ED25519, secret, sizeof secret, &k) == 0);
    size_t len = 0;
    qp_sign_public(k, pub[i], &len);
    qp_chain_hex(hex[i], pub[i], len);
    qp_sign_key_free(k);
  }
  memcpy(genesis.registrar, pub[0], 32);
  genesis.registrar_len = 32;
  map = json_object();
  static const char *const roles[PARTIES] = {NULL, "core", "supplier", "supplier", "funder",
                                             "clearing", NULL, "core", "funder", NULL};
  for (int i = 1; i < PARTIES; i++)
    if (roles[i] != NULL)
      setup_call(0, "registry", "register", "{\"key\":\"%s\",\"name\":\"p%d\",\"role\":\"%s\"}",
                 hex[i], i, roles[i]);
  setup_call(4, "registry", "grant_credit",
             "{\"core\":\"%s\",\"amount\":\"100000\",\"ledger\":1,\"expiry\":100000}", hex[1]);
  setup_call(1, "receivable", "issue", "{\"to\":\"%s\",\"amount\":\"1000\",\"ledger\":1,"
             "\"maturity\":5000,\"reference\":\"INV\"}", hex[2]);
  setup_call(2, "receivable", "transfer", "{\"voucher\":\"v1\",\"to\":\"%s\",\"amount\":\"300\"}",
             hex[3]);
  setup_call(3, "receivable", "finance", "{\"voucher\":\"v2\",\"funder\":\"%s\",\"amount\":"
             "\"100\",\"discount_bps\":50}", hex[4]);
  setup_call(4, "receivable", "accept_finance", "{\"voucher\":\"v4\"}");
  setup_call(1, "receivable", "issue", "{\"to\":\"%s\",\"amount\":\"50\",\"ledger\":1,"
             "\"maturity\":4000,\"reference\":\"INV2\"}", hex[3]);
  setup_call(3, "receivable", "settle", "{\"voucher\":\"v6\"}");
}

static void query(const char *app, const char *method, const char *args, size_t len) {
  json_t *j = json_loadb(args, len, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(j)) {
    json_decref(j);
    return; /* qp_chain_app_query answers bad_args before the app */
  }
  fz_view_t ctx;
  qp_chain_view_t v;
  view_of(app, &ctx, &v);
  json_t *result = NULL;
  char code[QP_CHAIN_CODE_MAX + 1] = "", detail[256];
  int rc = qp_chain_app_find(app)->query(&v, method, j, &result, code, detail, sizeof detail);
  QP_ASSERT(rc == 0 || rc == QP_EINVAL || rc == QP_ENOTFOUND);
  QP_ASSERT(code_known(code) && (rc == 0) == (result != NULL));
  QP_ASSERT(rc != 0 || json_is_object(result));
  json_decref(result);
  json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool ready;
  if (!ready) {
    setup();
    ready = true;
  }
  if (size < 2) return 0;
  size_t m = data[0] % METHODS_COUNT;
  int who = data[1] % PARTIES;
  const char *app = m < 4 ? "registry" : "receivable";
  const char *args = (const char *)data + 2;
  call(who, app, METHODS[m], args, size - 2, false);
  query(app, METHODS[m], args, size - 2);
  return 0;
}
