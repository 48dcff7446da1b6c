/*
 * pb_check.c - the ledger read back after the run: every paid or collected
 * order moved
 * exactly its amount once (the settlement account was credited the sum of
 * the orders, each payer debited the sum of its own, nothing is left
 * pending: an order paid twice, or a hold left behind, shows as a
 * difference), the raw phase's transfers all landed, every order was read
 * paid with its amount, and the ledger audit's invariant holds.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pay_bench.h"
#include "base/err.h"

/* A u64 field of a JSON object given as a decimal string; false if absent. */
static bool u64_field(json_t *o, const char *key, uint64_t *out) {
  const char *s = json_string_value(json_object_get(o, key));
  if (s == NULL) return false;
  char *end = NULL;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || *end != '\0') return false;
  *out = v;
  return true;
}

/* Account id must read debits_posted / credits_posted as given, and
 * nothing pending. */
static int account_is(void *e, const qb_node_t *n, uint64_t id, uint64_t debits,
                      uint64_t credits) {
  char path[64];
  snprintf(path, sizeof path, "/v1/accounts/%llu", (unsigned long long)id);
  json_t *a = NULL;
  long code = 0;
  int rc = qb_node_call(e, n, "GET", path, NULL, &a, &code);
  uint64_t dp = 0, cp = 0, dq = 1, cq = 1;
  bool ok = rc == 0 && code == 200 && u64_field(a, "debits_posted", &dp) &&
            u64_field(a, "credits_posted", &cp) && u64_field(a, "debits_pending", &dq) &&
            u64_field(a, "credits_pending", &cq);
  json_decref(a);
  if (rc != 0) return rc;
  if (ok && dp == debits && cp == credits && dq == 0 && cq == 0) return 0;
  fprintf(stderr, "payments-bench: account %llu: HTTP %ld, debits_posted %llu (want %llu), "
          "credits_posted %llu (want %llu), pending %llu/%llu (want 0)\n",
          (unsigned long long)id, code, (unsigned long long)dp, (unsigned long long)debits,
          (unsigned long long)cp, (unsigned long long)credits, (unsigned long long)dq,
          (unsigned long long)cq);
  return QP_ECORRUPT;
}

static int audit_ok(void *e, const qb_node_t *n) {
  json_t *a = NULL;
  long code = 0;
  int rc = qb_node_call(e, n, "GET", "/v1/audit", NULL, &a, &code);
  bool ok = rc == 0 && code == 200 && json_is_true(json_object_get(a, "invariant_ok"));
  json_decref(a);
  if (rc != 0) return rc;
  if (ok) return 0;
  fprintf(stderr, "payments-bench: GET /v1/audit: HTTP %ld, invariant_ok is not true\n", code);
  return QP_ECORRUPT;
}

/* The sum of count orders' amounts; QP_ECORRUPT (printed) if one was not paid. */
static int paid_sum(const pb_order_t *orders, uint32_t count, const char *what, uint64_t *sum) {
  int rc = 0;
  for (uint32_t i = 0; i < count; i++) {
    *sum += orders[i].amount;
    if (!orders[i].paid) {
      fprintf(stderr, "payments-bench: %s %u (%s) was not read paid\n", what, i, orders[i].id);
      rc = QP_ECORRUPT;
    }
  }
  return rc;
}

int pb_check(const pb_config_t *cfg, const qb_node_t *n, const pb_user_t *users,
             const pb_order_t *orders, const pb_order_t *collects, uint32_t transfers) {
  uint64_t sum = 0;
  int rc = paid_sum(orders, cfg->orders, "order", &sum);
  int c = paid_sum(collects, cfg->collects, "collect", &sum);
  if (rc == 0) rc = c;
  CURL *e = curl_easy_init();
  if (e == NULL) return QP_ENOMEM;
  int r = account_is(e, n, PB_SETTLEMENT_ACCOUNT, 0, sum);
  if (rc == 0) rc = r;
  r = account_is(e, n, PB_RAW_CREDIT, 0, transfers);
  if (rc == 0) rc = r;
  for (uint32_t u = 0; u < cfg->users; u++) {
    r = account_is(e, n, users[u].account, users[u].paid, PB_FUNDING);
    if (rc == 0) rc = r;
  }
  r = audit_ok(e, n);
  if (rc == 0) rc = r;
  curl_easy_cleanup(e);
  return rc;
}
