/*
 * bills_query.c - the query of GET /v1/wallet/bills, pure: month=YYYY-MM
 * (UTC), q=TEXT, limit=1..200 (default 50), cursor=C (a next_cursor: the
 * ledger timestamp of the last row read, decimal ns).  Any other argument,
 * or one without a value, is 400 invalid_query naming it.
 */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "wallet/wallet_int.h"

bool qp__wallet_bills_arg(void *ctx, const char *key, const char *value) {
  qp__wallet_bills_query_t *q = ctx;
  const char **slot = strcmp(key, "month") == 0    ? &q->month
                      : strcmp(key, "q") == 0      ? &q->q
                      : strcmp(key, "cursor") == 0 ? &q->cursor
                      : strcmp(key, "limit") == 0  ? &q->limit
                                                   : NULL;
  if (slot == NULL || value == NULL) {
    q->bad = true;
    snprintf(q->bad_key, sizeof q->bad_key, "%s", key);
    return false;
  }
  *slot = value;
  return true;
}

/* Only decimal digits, 1 to 19 of them (sscanf alone takes "-1", " 1", "+1"). */
static bool digits(const char *t) {
  size_t n = strlen(t);
  return n >= 1 && n <= 19 && strspn(t, "0123456789") == n;
}

bool qp__wallet_bills_filter(const qp__wallet_bills_query_t *q, qp_account_filter_t *f,
                             uint32_t *limit, qp_http_reply_t *r) {
  unsigned long long n = QP_WALLET_BILLS_LIMIT_DEFAULT, c = 0;
  char tail = 0;
  if (q->bad) {
    qp_http_reply_fail(r, 400, "invalid_query", q->bad_key,
                       "allowed: month=YYYY-MM, q=TEXT, limit=1..200, cursor=C");
    return false;
  }
  if (q->month != NULL && qp__wallet_month_range(q->month, &f->timestamp_min,
                                                 &f->timestamp_max) != 0) {
    qp_http_reply_fail(r, 400, "invalid_value", "month", "month is YYYY-MM");
    return false;
  }
  if (q->limit != NULL &&
      (!digits(q->limit) || sscanf(q->limit, "%llu%c", &n, &tail) != 1 || n < 1 ||
       n > QP_WALLET_BILLS_LIMIT_MAX)) {
    qp_http_reply_fail(r, 400, "invalid_value", "limit", "limit is an integer from 1 to 200");
    return false;
  }
  if (q->cursor != NULL &&
      (!digits(q->cursor) || sscanf(q->cursor, "%llu%c", &c, &tail) != 1 || c < 2)) {
    qp_http_reply_fail(r, 400, "invalid_value", "cursor", "cursor is a previous next_cursor");
    return false;
  }
  if (c != 0 && (f->timestamp_max == 0 || c - 1 < f->timestamp_max)) f->timestamp_max = c - 1;
  *limit = (uint32_t)n;
  f->limit = QP_WALLET_SCAN_ROWS;
  f->flags = QP_FILTER_REVERSED;
  return true;
}

