/*
 * pb_setup.c - what the orders need, made through the node's own API
 * before any clock starts: node.json with the ledger, auth and payments
 * modules; the funding, settlement and raw-phase accounts; one payer
 * account per user (debits_must_not_exceed_credits, so an unfunded or
 * doubly posted payment would be refused by the ledger) funded by one
 * transfer each; the users, each registering a passkey through the real
 * ceremony (bench_authn.c); and the merchant on the settlement account.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "pay_bench.h"
#include "base/err.h"

#define SCOPES "auth:read,auth:write,ledger:read,ledger:write,payments:read,payments:write"
#define EVENTS_PER_REQUEST 4000u

static int node_start(const pb_config_t *cfg, qb_node_t *n) {
  int rc = qb_node_prepare(cfg->tmp_dir, "payments", "payments-bench", n);
  char json[300];
  /* Every collect's amount (<= 10000) is paid at once, without a passkey. */
  int len = snprintf(json, sizeof json, "{\"listen\": \"127.0.0.1:%u\", \"modules\": "
                     "{\"ledger\": {}, \"auth\": {}, \"payments\": "
                     "{\"collect_without_confirmation_max\": 1000000}}}\n", n->port);
  if (rc == 0) rc = qb_node_write(n, "node.json", json, (size_t)len);
  return rc == 0 ? qb_node_launch(cfg->quipu, SCOPES, n) : rc;
}

static json_t *account(uint64_t id, bool limited) {
  char text[24];
  snprintf(text, sizeof text, "%llu", (unsigned long long)id);
  return json_pack("{s:s, s:i, s:i, s:[s*]}", "id", text, "ledger", PB_LEDGER, "code", 1,
                   "flags", limited ? "debits_must_not_exceed_credits" : NULL);
}

static json_t *funding(uint64_t id, uint64_t payer) {
  char tid[24], credit[24], amount[24];
  snprintf(tid, sizeof tid, "%llu", (unsigned long long)id);
  snprintf(credit, sizeof credit, "%llu", (unsigned long long)payer);
  snprintf(amount, sizeof amount, "%llu", PB_FUNDING);
  return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:[]}", "id", tid, "debit_account_id", "1",
                   "credit_account_id", credit, "amount", amount, "ledger", PB_LEDGER, "code",
                   1, "flags");
}

static int make_accounts(const pb_config_t *cfg, void *e, const qb_node_t *n, pb_user_t *users) {
  json_t *four = json_pack("[o, o, o, o]", account(PB_FUNDING_ACCOUNT, false),
                           account(PB_SETTLEMENT_ACCOUNT, false), account(PB_RAW_DEBIT, false),
                           account(PB_RAW_CREDIT, false));
  int rc = four != NULL ? qb_node_post_events(e, n, "/v1/accounts", four) : QP_ENOMEM;
  for (uint32_t u0 = 0; rc == 0 && u0 < cfg->users; u0 += EVENTS_PER_REQUEST) {
    json_t *accts = json_array(), *fund = json_array();
    for (uint32_t u = u0; u < cfg->users && u < u0 + EVENTS_PER_REQUEST; u++) {
      users[u].account = PB_PAYER0 + u;
      json_array_append_new(accts, account(users[u].account, true));
      json_array_append_new(fund, funding(2000000000ull + u, users[u].account));
    }
    rc = qb_node_post_events(e, n, "/v1/accounts", accts);
    rc = rc == 0 ? qb_node_post_events(e, n, "/v1/transfers", fund) : (json_decref(fund), rc);
  }
  return rc;
}

static int make_merchant(void *e, const qb_node_t *n, char *merchant_id, size_t size) {
  char settlement[24];
  snprintf(settlement, sizeof settlement, "%u", PB_SETTLEMENT_ACCOUNT);
  json_t *body = json_pack("{s:s, s:s, s:i, s:s}", "name", "Bench Shop",
                           "settlement_account_id", settlement, "ledger", PB_LEDGER, "currency",
                           "USD");
  json_t *out = NULL;
  long code = 0;
  int rc = body != NULL ? qb_node_call(e, n, "POST", "/v1/merchants", body, &out, &code)
                        : QP_ENOMEM;
  json_decref(body);
  const char *id = json_string_value(json_object_get(out, "id"));
  if (rc == 0 && (code != 200 || id == NULL)) {
    fprintf(stderr, "payments-bench: POST /v1/merchants answered %ld\n", code);
    rc = QP_EIO;
  }
  if (rc == 0) snprintf(merchant_id, size, "%s", id);
  json_decref(out);
  return rc;
}

int pb_setup(const pb_config_t *cfg, qb_node_t *n, pb_user_t *users, char *merchant_id,
             size_t merchant_id_size) {
  int rc = node_start(cfg, n);
  if (rc != 0) return rc;
  CURL *e = curl_easy_init();
  rc = e != NULL ? make_accounts(cfg, e, n, users) : QP_ENOMEM;
  for (uint32_t i = 0; rc == 0 && i < cfg->users; i++)
    rc = qb_authn_enroll(e, n, i, &users[i].authn, users[i].id, sizeof users[i].id);
  if (rc == 0) rc = make_merchant(e, n, merchant_id, merchant_id_size);
  curl_easy_cleanup(e);
  return rc;
}
