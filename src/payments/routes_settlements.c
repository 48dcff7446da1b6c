/*
 * routes_settlements.c - GET /v1/merchants/{id}/settlements: the money that
 * reached or left the merchant's settlement account, read from the ledger
 * (the truth about money), oldest first, a page at a time.  A settlement
 * is a transfer crediting the account (type "payment": an order paid by a
 * posted hold or by a collect) or debiting it (type "refund", or another
 * transfer the bank made from it); holds still pending and voids are not
 * settlements.  Query: limit (1..500, default 50), cursor (the opaque
 * next_cursor of the previous page), type (payment, refund), created_from
 * and created_to (unix seconds: from inclusive, to exclusive).  A page
 * reads at most limit ledger rows, so it may hold fewer settlements than
 * limit and still have a next_cursor.  The cursor is the base64url text of
 * the last ledger timestamp read.  payments:read, or the merchant's key.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "ledger/api.h"
#include "payments/payments_int.h"

#define CURSOR_TEXT_MAX 16
#define SECONDS_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

typedef struct query {
  uint32_t limit;
  int type; /* 0 any, 1 payments, 2 refunds */
  uint64_t from_ns, to_ns, after; /* after: the cursor's timestamp (0 = none) */
  qp_http_error_t err;
} query_t;

static bool bad(query_t *q, const char *key, const char *what) {
  qp_http_error_set(&q->err, 400, "invalid_parameter", key, "query parameter %s %s", key, what);
  return false;
}

static bool number(const char *v, long long max, long long *out) {
  char *end = NULL;
  if (v == NULL || *v < '0' || *v > '9' || strlen(v) > 15) return false;
  *out = strtoll(v, &end, 10);
  return *end == '\0' && *out >= 0 && *out <= max;
}

static bool param(void *ctx, const char *key, const char *v) {
  query_t *q = ctx;
  long long n = 0;
  uint8_t raw[8];
  size_t len = 0;
  if (strcmp(key, "limit") == 0) {
    if (!number(v, QP_HTTP_LIST_LIMIT_MAX, &n) || n < 1) return bad(q, key, "must be 1 to 500");
    q->limit = (uint32_t)n;
  } else if (strcmp(key, "type") == 0) {
    if (v == NULL || (strcmp(v, "payment") != 0 && strcmp(v, "refund") != 0))
      return bad(q, key, "must be payment or refund");
    q->type = v[0] == 'p' ? 1 : 2;
  } else if (strcmp(key, "created_from") == 0 || strcmp(key, "created_to") == 0) {
    if (!number(v, SECONDS_MAX, &n)) return bad(q, key, "must be unix seconds");
    *(key[8] == 'f' ? &q->from_ns : &q->to_ns) = (uint64_t)n * 1000000000u;
  } else if (strcmp(key, "cursor") == 0) {
    if (v == NULL || strlen(v) >= CURSOR_TEXT_MAX ||
        sodium_base642bin(raw, sizeof raw, v, strlen(v), NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || len != sizeof raw)
      return bad(q, key, "must be a next_cursor this API returned");
    for (int i = 0; i < 8; i++) q->after = (q->after << 8) | raw[i];
  } else {
    qp_http_error_set(&q->err, 400, "unknown_parameter", key[0] != '\0' ? key : "query",
                      "unknown query parameter \"%.40s\"; allowed: limit, cursor, type, "
                      "created_from, created_to", key);
    return false;
  }
  return true;
}

/* One settlement of the account, or NULL when t is none (a hold, a void). */
static json_t *settlement(const qp_transfer_t *t, qp_u128 account, const char *currency) {
  if (t->flags & (QP_TRANSFER_PENDING | QP_TRANSFER_VOID_PENDING_TRANSFER)) return NULL;
  bool credit = t->credit_account_id == account;
  return json_pack("{s:s, s:o, s:s, s:s, s:o, s:I, s:s, s:o, s:o, s:o, s:o}", "object",
                   "settlement", "id", qp__pay_u128_json(t->id), "type",
                   credit ? "payment" : "refund", "direction", credit ? "credit" : "debit",
                   "amount", qp__pay_u128_json(t->amount), "ledger", (json_int_t)t->ledger,
                   "currency", currency, "counterparty_account_id",
                   qp__pay_u128_json(credit ? t->debit_account_id : t->credit_account_id),
                   "pending_id", t->pending_id != 0 ? qp__pay_u128_json(t->pending_id)
                                                    : json_null(),
                   "timestamp", qp__pay_u128_json(t->timestamp), "created",
                   qp__pay_time_json((int64_t)(t->timestamp / 1000000000u)));
}

/* Reads one page of the account's transfers into data; *next is the last
 * timestamp read when more may follow, else 0. */
static int page(const query_t *q, qp_u128 account, const char *currency, json_t *data,
                uint64_t *next) {
  qp_ledger_service_t *svc = qp_ledger_service();
  if (svc == NULL) return QP_ENOTSUP;
  qp_account_filter_t f = {.account_id = account, .limit = q->limit,
                           .timestamp_min = q->after != 0 ? q->after + 1 : q->from_ns,
                           .timestamp_max = q->to_ns != 0 ? q->to_ns - 1 : 0};
  if (q->after != 0 && q->from_ns > q->after) f.timestamp_min = q->from_ns;
  f.flags = q->type == 1 ? QP_FILTER_CREDITS : q->type == 2 ? QP_FILTER_DEBITS : 0;
  qp_transfer_t *rows = qp_calloc(q->limit, sizeof *rows);
  uint32_t count = 0;
  int rc = rows == NULL ? QP_ENOMEM : qp_ledger_service_account_transfers(svc, &f, rows, &count);
  *next = rc == 0 && count == q->limit ? rows[count - 1].timestamp : 0;
  for (uint32_t i = 0; rc == 0 && i < count; i++) {
    json_t *s = settlement(&rows[i], account, currency);
    if (s != NULL && json_array_append_new(data, s) != 0) rc = QP_ENOMEM;
  }
  qp_free(rows);
  return rc;
}

void qp__pay_settlements_list(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_t *p = ctx;
  qp__pay_caller_t caller;
  uint8_t id[QP_PAY_ID_SIZE];
  query_t q = {.limit = QP_HTTP_LIST_LIMIT_DEFAULT};
  if (!qp__pay_caller(p, req, r, false, &caller)) return;
  if (!qp_http_query_each(req, param, &q)) {
    qp_http_reply_error(r, &q.err);
    return;
  }
  if (q.to_ns != 0 && q.to_ns <= q.from_ns) {
    qp_http_reply_fail(r, 400, "invalid_parameter", "created_to",
                       "query parameter created_to must be after created_from");
    return;
  }
  json_t *m = qp__pay_merchant_load(p, req, r, &caller, id);
  if (m == NULL) return;
  qp_u128 account = 0;
  const char *acct = json_string_value(json_object_get(m, "settlement_account_id"));
  const char *currency = json_string_value(json_object_get(m, "currency"));
  json_t *data = json_array();
  uint64_t next = 0;
  int rc = acct == NULL || currency == NULL || qp_u128_parse(acct, strlen(acct), &account) != 0
               ? QP_ECORRUPT : data == NULL ? QP_ENOMEM : page(&q, account, currency, data, &next);
  json_decref(m);
  if (rc != 0) {
    json_decref(data);
    if (rc == QP_ENOTSUP)
      qp_http_reply_fail(r, 503, "ledger_unavailable", "", "the node runs no ledger");
    else
      qp__pay_reply_store(r, rc);
    return;
  }
  uint8_t raw[8];
  char cursor[CURSOR_TEXT_MAX];
  for (int i = 0; i < 8; i++) raw[i] = (uint8_t)(next >> (8 * (7 - i)));
  sodium_bin2base64(cursor, sizeof cursor, raw, 8, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  qp_http_reply_json(r, 200, json_pack("{s:s, s:o, s:o}", "object", "list", "data", data,
                                       "next_cursor", next != 0 ? json_string(cursor)
                                                                : json_null()));
}
