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

/* POST path with body (stolen); every entry of "results" must be "ok". */
static int post_events(void *e, const qab_node_t *n, const char *path, json_t *body) {
  json_t *out = NULL;
  long code = 0;
  size_t want = json_array_size(body);
  int rc = qab_call(e, n, "POST", path, body, &out, &code);
  json_t *results = json_object_get(out, "results");
  size_t i = 0;
  while (rc == 0 && code == 200 && i < json_array_size(results)) {
    const char *r = json_string_value(json_object_get(json_array_get(results, i), "result"));
    if (r == NULL || strcmp(r, "ok") != 0) break;
    i++;
  }
  if (rc == 0 && (code != 200 || i != want || json_array_size(results) != want)) {
    char *text = out != NULL ? json_dumps(out, JSON_COMPACT) : NULL;
    fprintf(stderr, "auth-bench: POST %s: HTTP %ld, event %zu: %.300s\n", path, code, i,
            text != NULL ? text : "");
    free(text); /* jansson's allocation */
    rc = QP_EIO;
  }
  json_decref(out);
  json_decref(body);
  return rc;
}

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
  int rc = two != NULL ? post_events(e, n, "/v1/accounts", two) : QP_ENOMEM;
  for (uint32_t u0 = 0; rc == 0 && u0 < cfg->users; u0 += EVENTS_PER_REQUEST) {
    json_t *accts = json_array(), *fund = json_array();
    for (uint32_t u = u0; u < cfg->users && u < u0 + EVENTS_PER_REQUEST; u++) {
      users[u].account = PAYER_ACCOUNT0 + u;
      json_array_append_new(accts, account(users[u].account, true));
      json_array_append_new(fund, funding(2000000000ull + u, users[u].account));
    }
    rc = post_events(e, n, "/v1/accounts", accts);
    rc = rc == 0 ? post_events(e, n, "/v1/transfers", fund) : (json_decref(fund), rc);
  }
  return rc;
}

/* The RegistrationResponseJSON of user's credential for these options. */
static json_t *registration(const qab_user_t *u, const char *challenge, const char *rp_id,
                            const char *origin) {
  char cd[QAB_CLIENT_DATA_MAX], cd64[QAB_CLIENT_DATA_MAX * 2], id64[64], att64[2048];
  uint8_t *att = NULL;
  size_t att_len = 0;
  size_t cd_len = qab_client_data(cd, sizeof cd, "webauthn.create", challenge, origin);
  int rc = cd_len > 0 ? qab_authn_attestation(&u->authn, rp_id, &att, &att_len) : QP_ERANGE;
  if (rc == 0) rc = qab_b64u(att, att_len, att64, sizeof att64);
  if (rc == 0) rc = qab_b64u((const uint8_t *)cd, cd_len, cd64, sizeof cd64);
  if (rc == 0) rc = qab_b64u(u->authn.cred_id, sizeof u->authn.cred_id, id64, sizeof id64);
  free(att); /* libcbor's allocation */
  if (rc != 0) return NULL;
  return json_pack("{s:s, s:s, s:s, s:s, s:{}, s:{s:s, s:s, s:[s]}}", "id", id64, "rawId",
                   id64, "type", "public-key", "authenticatorAttachment", "platform",
                   "clientExtensionResults", "response", "clientDataJSON", cd64,
                   "attestationObject", att64, "transports", "internal");
}

/* The user, then the ceremony: options, the authenticator's answer, verify. */
static int make_user(void *e, const qab_node_t *n, uint32_t i, qab_user_t *u) {
  json_t *out = NULL, *opts = NULL, *done = NULL;
  long code = 0, c2 = 0, c3 = 0;
  int rc = qab_authn_init(&u->authn, i % 2 == 0 ? -7 : -8);
  char handle[32], name[32];
  snprintf(handle, sizeof handle, "bench-%u", i);
  snprintf(name, sizeof name, "Bench user %u", i);
  json_t *body = json_pack("{s:s, s:s}", "handle", handle, "display_name", name);
  if (rc == 0) rc = qab_call(e, n, "POST", "/v1/users", body, &out, &code);
  json_decref(body);
  const char *id = json_string_value(json_object_get(out, "id"));
  if (rc == 0 && code == 200 && id != NULL) {
    snprintf(u->id, sizeof u->id, "%s", id);
    body = json_pack("{s:s}", "user_id", u->id);
    rc = qab_call(e, n, "POST", "/v1/webauthn/register/options", body, &opts, &c2);
    json_decref(body);
  }
  json_t *pk = json_object_get(opts, "publicKey");
  const char *ch = json_string_value(json_object_get(pk, "challenge"));
  const char *rp = json_string_value(json_object_get(json_object_get(pk, "rp"), "id"));
  json_t *cred = ch != NULL && rp != NULL ? registration(u, ch, rp, n->origin) : NULL;
  if (rc == 0 && cred != NULL) {
    body = json_pack("{s:O, s:o}", "ceremony", json_object_get(opts, "ceremony"), "credential",
                     cred);
    rc = qab_call(e, n, "POST", "/v1/webauthn/register/verify", body, &done, &c3);
    json_decref(body);
  }
  if (rc == 0 && (code != 200 || c2 != 200 || c3 != 200)) {
    fprintf(stderr, "auth-bench: user %u: users %ld, options %ld, verify %ld\n", i, code, c2,
            c3);
    rc = QP_EIO;
  }
  json_decref(out);
  json_decref(opts);
  json_decref(done);
  return rc;
}

int qab_setup(const qab_config_t *cfg, const qab_node_t *n, qab_user_t *users) {
  CURL *e = curl_easy_init();
  int rc = e != NULL ? make_accounts(cfg, e, n, users) : QP_ENOMEM;
  for (uint32_t i = 0; rc == 0 && i < cfg->users; i++) rc = make_user(e, n, i, &users[i]);
  curl_easy_cleanup(e);
  return rc;
}
