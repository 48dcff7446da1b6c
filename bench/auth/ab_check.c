/*
 * ab_check.c - after the payments, the ledger read back through the node's
 * API: every confirmed payment's hold (the pending transfer the intent
 * made) is found with pending_state "posted" and the payment's amount;
 * every payer's account shows its funding credited, exactly what the bench
 * saw it pay as debits_posted and nothing pending; the merchant was
 * credited the sum.  A payment the node did not confirm is a failure too.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_bench.h"
#include "base/alloc.h"
#include "base/err.h"

#define IDS_PER_LOOKUP 4000u

/* POST path {"ids":[…]} (ids stolen); *out is the answer's member. */
static int lookup(void *e, const qab_node_t *n, const char *path, const char *member,
                  json_t *ids, json_t **root, json_t **out) {
  long code = 0;
  json_t *body = json_pack("{s:o}", "ids", ids);
  int rc = body != NULL ? qab_call(e, n, "POST", path, body, root, &code) : QP_ENOMEM;
  json_decref(body);
  *out = json_object_get(*root, member);
  if (rc == 0 && (code != 200 || !json_is_array(*out))) {
    fprintf(stderr, "auth-bench: POST %s: HTTP %ld\n", path, code);
    rc = QP_EIO;
  }
  return rc;
}

static bool str_is(const json_t *o, const char *key, const char *want) {
  const char *s = json_string_value(json_object_get(o, key));
  return s != NULL && strcmp(s, want) == 0;
}

/* The holds of pays[from, to): found, posted, the payment's amount. */
static int check_holds(void *e, const qab_node_t *n, const qab_pay_t *pays, uint32_t from,
                       uint32_t to, uint32_t *bad) {
  json_t *ids = json_array(), *root = NULL, *got = NULL;
  for (uint32_t i = from; i < to; i++)
    if (pays[i].confirmed) json_array_append_new(ids, json_string(pays[i].transfer_id));
  int rc = lookup(e, n, "/v1/transfers/lookup", "transfers", ids, &root, &got);
  size_t j = 0;
  for (uint32_t i = from; rc == 0 && i < to; i++) {
    char amount[24];
    snprintf(amount, sizeof amount, "%llu", (unsigned long long)pays[i].amount);
    const json_t *t = json_array_get(got, j);
    if (!pays[i].confirmed) {
      (*bad)++;
      fprintf(stderr, "auth-bench: payment %s was not confirmed\n", pays[i].intent);
    } else if (!str_is(t, "id", pays[i].transfer_id)) {
      (*bad)++;
      fprintf(stderr, "auth-bench: hold %s of payment %s: not in the ledger\n",
              pays[i].transfer_id, pays[i].intent);
    } else {
      j++;
      if (str_is(t, "pending_state", "posted") && str_is(t, "amount", amount)) continue;
      (*bad)++;
      fprintf(stderr, "auth-bench: hold %s of payment %s: not posted, or not %s\n",
              pays[i].transfer_id, pays[i].intent, amount);
    }
  }
  json_decref(root);
  return rc;
}

/* The account's four balances as the bench expects them. */
static bool balances_are(const json_t *a, uint64_t debits_posted, uint64_t credits_posted) {
  char dp[24], cp[24];
  snprintf(dp, sizeof dp, "%llu", (unsigned long long)debits_posted);
  snprintf(cp, sizeof cp, "%llu", (unsigned long long)credits_posted);
  return str_is(a, "debits_posted", dp) && str_is(a, "credits_posted", cp) &&
         str_is(a, "debits_pending", "0") && str_is(a, "credits_pending", "0");
}

/* Payers' balances and, in the first chunk, the merchant's. */
static int check_accounts(const qab_config_t *cfg, void *e, const qab_node_t *n,
                          const qab_user_t *users, uint64_t total, uint32_t *bad) {
  int rc = 0;
  for (uint32_t u0 = 0; rc == 0 && u0 < cfg->users; u0 += IDS_PER_LOOKUP) {
    uint32_t u1 = u0 + IDS_PER_LOOKUP < cfg->users ? u0 + IDS_PER_LOOKUP : cfg->users;
    json_t *ids = json_array(), *root = NULL, *got = NULL;
    char id[24];
    json_array_append_new(ids, json_string(u0 == 0 ? "2" : "1"));
    for (uint32_t u = u0; u < u1; u++) {
      snprintf(id, sizeof id, "%llu", (unsigned long long)users[u].account);
      json_array_append_new(ids, json_string(id));
    }
    rc = lookup(e, n, "/v1/accounts/lookup", "accounts", ids, &root, &got);
    if (rc == 0 && json_array_size(got) != (size_t)(u1 - u0) + 1) {
      fprintf(stderr, "auth-bench: %zu accounts found of %u\n", json_array_size(got),
              u1 - u0 + 1);
      (*bad)++;
    }
    if (rc == 0 && u0 == 0 && !balances_are(json_array_get(got, 0), 0, total)) {
      fprintf(stderr, "auth-bench: the merchant was not credited %llu\n",
              (unsigned long long)total);
      (*bad)++;
    }
    for (uint32_t u = u0; rc == 0 && u < u1 && u - u0 + 1 < json_array_size(got); u++) {
      if (balances_are(json_array_get(got, u - u0 + 1), users[u].paid, QAB_FUNDING))
        continue;
      fprintf(stderr, "auth-bench: payer %llu: debits_posted is not %llu (or something is "
              "pending)\n", (unsigned long long)users[u].account,
              (unsigned long long)users[u].paid);
      (*bad)++;
    }
    json_decref(root);
  }
  return rc;
}

int qab_check_ledger(const qab_config_t *cfg, const qab_node_t *n, const qab_user_t *users,
                     const qab_pay_t *pays, uint32_t count) {
  CURL *e = curl_easy_init();
  uint32_t bad = 0;
  uint64_t total = 0;
  for (uint32_t u = 0; u < cfg->users; u++) total += users[u].paid;
  int rc = e != NULL ? 0 : QP_ENOMEM;
  for (uint32_t i = 0; rc == 0 && i < count; i += IDS_PER_LOOKUP)
    rc = check_holds(e, n, pays, i, i + IDS_PER_LOOKUP < count ? i + IDS_PER_LOOKUP : count,
                     &bad);
  if (rc == 0) rc = check_accounts(cfg, e, n, users, total, &bad);
  curl_easy_cleanup(e);
  if (rc == 0 && bad > 0) {
    fprintf(stderr, "auth-bench: the ledger differs from the confirmed payments in %u "
            "places\n", bad);
    rc = QP_ECORRUPT;
  }
  return rc;
}

/* POST path (body stolen) expecting HTTP want; *out is the answer. */
static int expect(void *e, const qab_node_t *n, const char *path, json_t *body, long want,
                  json_t **out) {
  long code = 0;
  int rc = body != NULL ? qab_call(e, n, "POST", path, body, out, &code) : QP_ENOMEM;
  json_decref(body);
  if (rc == 0 && code != want) {
    char *text = *out != NULL ? json_dumps(*out, JSON_COMPACT) : NULL;
    fprintf(stderr, "auth-bench: POST %s: HTTP %ld, not %ld: %.300s\n", path, code, want,
            text != NULL ? text : "");
    free(text); /* jansson's allocation */
    rc = QP_ECORRUPT;
  }
  return rc;
}

/* The hold's pending_state is want. */
static int hold_is(void *e, const qab_node_t *n, const char *transfer_id, const char *want) {
  char path[96];
  json_t *t = NULL;
  long code = 0;
  snprintf(path, sizeof path, "/v1/transfers/%s", transfer_id);
  int rc = qab_call(e, n, "GET", path, NULL, &t, &code);
  if (rc == 0 && (code != 200 || !str_is(t, "pending_state", want))) {
    fprintf(stderr, "auth-bench: hold %s is not %s after a refused confirm\n", transfer_id,
            want);
    rc = QP_ECORRUPT;
  }
  json_decref(t);
  return rc;
}

/* Intent, challenge, then a confirm whose signature has one bit flipped. */
static int refused_confirm(void *e, const qab_node_t *n, qab_user_t *u, json_t **intent) {
  json_t *ch = NULL, *no = NULL;
  char path[128], payer[24], *body = NULL;
  snprintf(payer, sizeof payer, "%llu", (unsigned long long)u->account);
  int rc = expect(e, n, "/v1/payment-intents", json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, "
                  "s:s, s:s, s:i}", "user_id", u->id, "debit_account_id", payer,
                  "credit_account_id", "2", "amount", "77", "ledger", QAB_LEDGER, "currency",
                  "USD", "payee_name", "Bench Shop", "order_id", "bench-refused",
                  "expires_in_s", 600), 200, intent);
  const char *id = json_string_value(json_object_get(*intent, "id"));
  snprintf(path, sizeof path, "/v1/payment-intents/%s/challenge", id != NULL ? id : "-");
  if (rc == 0) rc = expect(e, n, path, json_object(), 200, &ch);
  json_t *pk = json_object_get(ch, "publicKey");
  const char *c = json_string_value(json_object_get(pk, "challenge"));
  const char *rp = json_string_value(json_object_get(pk, "rpId"));
  if (rc == 0)
    rc = c != NULL && rp != NULL ? qb_authn_confirm_body(&u->authn, n->origin, c, rp, true, &body)
                                 : QP_ECORRUPT;
  snprintf(path, sizeof path, "/v1/payment-intents/%s/confirm", id != NULL ? id : "-");
  if (rc == 0) rc = expect(e, n, path, json_loads(body, 0, NULL), 400, &no);
  const char *code = json_string_value(json_object_get(json_object_get(no, "error"), "code"));
  if (rc == 0 && (code == NULL || strcmp(code, "signature_invalid") != 0)) {
    fprintf(stderr, "auth-bench: a bad signature was refused with %s\n", code ? code : "?");
    rc = QP_ECORRUPT;
  }
  qp_free(body);
  json_decref(ch);
  json_decref(no);
  return rc;
}

int qab_check_refusal(const qab_node_t *n, qab_user_t *u) {
  CURL *e = curl_easy_init();
  json_t *intent = NULL, *gone = NULL;
  int rc = e != NULL ? refused_confirm(e, n, u, &intent) : QP_ENOMEM;
  const char *tid = json_string_value(json_object_get(intent, "transfer_id"));
  if (rc == 0) rc = hold_is(e, n, tid, "pending");
  char path[128];
  snprintf(path, sizeof path, "/v1/payment-intents/%s/cancel",
           json_string_value(json_object_get(intent, "id")));
  if (rc == 0) rc = expect(e, n, path, json_object(), 200, &gone);
  if (rc == 0) rc = hold_is(e, n, tid, "voided");
  json_decref(intent);
  json_decref(gone);
  curl_easy_cleanup(e);
  return rc;
}
