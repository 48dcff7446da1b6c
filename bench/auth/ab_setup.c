/*
 * ab_setup.c - what the payments need, made through the node's own API
 * before any clock starts: a funding account, the merchant, one payer
 * account per user (debits_must_not_exceed_credits, so an unfunded or
 * doubly posted payment would be refused by the ledger) funded by one
 * transfer each, and the users, each registering one credential of the
 * software authenticator (alternately ES256 and EdDSA) through the real
 * registration ceremony (options, then verify with fmt "none").
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_bench.h"
#include "base/err.h"


#define PAYER_ACCOUNT0 1000u   /* user u pays from account PAYER_ACCOUNT0 + u */
#define EVENTS_PER_REQUEST 4000u

static json_t *account(uint64_t id, bool limited) {
  char text[24];
  snprintf(text, sizeof text, "%llu", (unsigned long long)id);
  return json_pack("{s:s, s:i, s:i, s:[s*]}", "id", text, "ledger", QAB_LEDGER, "code", 1,
                   "flags", limited ? "debits_must_not_exceed_credits" : NULL);
}

static json_t *funding(uint64_t id, uint64_t payer) {
  char tid[24], credit[24], amount[24];
  snprintf(tid, sizeof tid, "%llu", (unsigned long long)id);
  snprintf(credit, sizeof credit, "%llu", (unsigned long long)payer);
  snprintf(amount, sizeof amount, "%llu", QAB_FUNDING);
  return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:[]}", "id", tid, "debit_account_id", "1",
                   "credit_account_id", credit, "amount", amount, "ledger", QAB_LEDGER, "code",
                   1, "flags");
}

/* The funding and merchant accounts, then each payer's account and its
 * funding transfer, EVENTS_PER_REQUEST at a time. */
static int make_accounts(const qab_config_t *cfg, void *e, const qab_node_t *n,
                         qab_user_t *users) {
  json_t *two = json_pack("[o, o]", account(QAB_FUNDING_ACCOUNT, false),
                          account(QAB_MERCHANT_ACCOUNT, false));
  int rc = two != NULL ? qb_node_post_events(e, n, "/v1/accounts", two) : QP_ENOMEM;
  for (uint32_t u0 = 0; rc == 0 && u0 < cfg->users; u0 += EVENTS_PER_REQUEST) {
    json_t *accts = json_array(), *fund = json_array();
    for (uint32_t u = u0; u < cfg->users && u < u0 + EVENTS_PER_REQUEST; u++) {
      users[u].account = PAYER_ACCOUNT0 + u;
      json_array_append_new(accts, account(users[u].account, true));
      json_array_append_new(fund, funding(2000000000ull + u, users[u].account));
    }
    rc = qb_node_post_events(e, n, "/v1/accounts", accts);
    rc = rc == 0 ? qb_node_post_events(e, n, "/v1/transfers", fund) : (json_decref(fund), rc);
  }
  return rc;
}

int qab_setup(const qab_config_t *cfg, const qab_node_t *n, qab_user_t *users) {
  CURL *e = curl_easy_init();
  int rc = e != NULL ? make_accounts(cfg, e, n, users) : QP_ENOMEM;
  for (uint32_t i = 0; rc == 0 && i < cfg->users; i++)
    rc = qb_authn_enroll(e, n, i, &users[i].authn, users[i].id, sizeof users[i].id);
  curl_easy_cleanup(e);
  return rc;
}
