/*
 * api_query.c - POST /v1/accounts/query and POST /v1/transfers/query
 * (TigerBeetle's query_accounts / query_transfers): a filter body in, one
 * page of records out, with the cursor of the next page.
 */
#include <string.h>

#include <jansson.h>

#include "ledger/api_int.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"

/* {"<key>":[first `want` rows],"next":cursor|null}, as the history routes
 * answer: the query asked for one row more than the limit to know whether
 * a next page exists, and its timestamp is the cursor (timestamp_min of the
 * next request, or timestamp_max when reversed).  At the 8190-row maximum
 * there is no extra row: a full page gets the cursor just past its last
 * row (the next page may be empty). */
static json_t *page(const void *rows, const qp_pending_state_t *states, uint32_t count,
                    uint32_t want, bool accounts, bool reversed) {
  json_t *arr = json_array(), *root = json_object();
  if (arr == NULL || root == NULL) {
    json_decref(arr);
    json_decref(root);
    return NULL;
  }
  uint32_t shown = count > want ? want : count;
  for (uint32_t i = 0; i < shown; i++)
    json_array_append_new(arr, accounts
                                   ? qp_ledger_account_json((const qp_account_t *)rows + i)
                                   : qp_ledger_transfer_json((const qp_transfer_t *)rows + i,
                                                             states[i]));
  uint32_t at = count > want ? want : count - 1;
  uint64_t ts = count == 0 ? 0
                : accounts ? ((const qp_account_t *)rows)[at].timestamp
                           : ((const qp_transfer_t *)rows)[at].timestamp;
  uint64_t next = qp__ledger_next_cursor(count, want, ts, reversed);
  json_object_set_new(root, accounts ? "accounts" : "transfers", arr);
  json_object_set_new(root, "next", next != 0 ? qp_ledger_u128_json(next) : json_null());
  return root;
}

/* A key restricted to some ledgers queries one of them, named in the
 * filter (a query without `ledger` would reach every ledger): false with a
 * 403 otherwise. */
static bool ledger_allowed(qp_http_request_t *req, qp_http_reply_t *r, uint32_t ledger) {
  if (!qp_http_caller_ledgers_restricted(req) || qp_http_caller_ledger_allowed(req, ledger))
    return true;
  const uint32_t *ledgers = NULL;
  uint32_t count = qp_http_caller_ledgers(req, &ledgers);
  char allowed[128];
  qp_http_ledgers_format(ledgers, count, ", ", allowed, sizeof allowed);
  qp_http_error_t err;
  if (ledger == 0)
    qp_http_error_set(&err, 403, "ledger_not_allowed", "ledger",
                      "this API key is restricted to ledgers %s: a query must name one of them "
                      "in \"ledger\"",
                      allowed);
  else
    qp_http_error_set(&err, 403, "ledger_not_allowed", "ledger",
                      "ledger %u is not allowed for this API key, which may use ledgers %s",
                      ledger, allowed);
  qp_http_reply_error(r, &err);
  return false;
}

int qp__ledger_set_submitters(qp_db_t *db, json_t *arr) {
  size_t n = json_array_size(arr);
  if (n == 0) return 0;
  uint64_t *ts = qp_calloc(2 * n, sizeof *ts);
  if (ts == NULL) return QP_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const char *text = json_string_value(json_object_get(json_array_get(arr, i), "timestamp"));
    qp_u128 v = 0;
    if (text != NULL && qp_u128_parse(text, strlen(text), &v) == 0) ts[i] = (uint64_t)v;
  }
  int rc = qp_db_submitters(db, ts, (uint32_t)n, ts + n);
  for (size_t i = 0; i < n && rc == 0; i++)
    json_object_set_new(json_array_get(arr, i), "submitted_by",
                        qp_ledger_submitter_json(ts[n + i]));
  qp_free(ts);
  return rc;
}

static void query(qp__ledger_api_t *s, qp_http_request_t *req, qp_http_reply_t *r,
                  bool accounts) {
  size_t len = 0;
  const char *body = qp_http_body(req, &len);
  qp_query_filter_t f;
  qp_http_error_t err;
  int rc = qp_ledger_decode_query(body ? body : "", len, &f, &err);
  if (rc != 0) {
    qp_http_reply_error(r, &err);
    return;
  }
  if (!ledger_allowed(req, r, f.ledger)) return;
  uint32_t want = f.limit;
  if (f.limit < QP_QUERY_LIMIT_MAX) f.limit++;
  void *rows = qp_calloc(f.limit, accounts ? sizeof(qp_account_t) : sizeof(qp_transfer_t));
  qp_pending_state_t *states = accounts ? NULL : qp_calloc(f.limit, sizeof *states);
  uint32_t count = 0;
  if (rows == NULL || (!accounts && states == NULL)) rc = QP_ENOMEM;
  else if (accounts) rc = qp_db_query_accounts(s->db, &f, rows, &count);
  else rc = qp_db_query_transfers(s->db, &f, rows, states, &count);
  json_t *answer = NULL;
  if (rc == 0) answer = page(rows, states, count, want, accounts, f.flags & QP_QUERY_REVERSED);
  if (rc == 0 && answer == NULL) rc = QP_ENOMEM;
  if (rc == 0 && !accounts)
    rc = qp__ledger_set_submitters(s->db, json_object_get(answer, "transfers"));
  if (rc == 0) {
    qp_http_reply_json(r, 200, answer);
    answer = NULL;
  } else if (rc == QP_ESTOPPED) {
    qp_http_reply_fail(r, 503, "stopped", "",
                       "the ledger stopped after a journal write failure");
  } else {
    QP_LOG_ERROR("ledger", "query failed: %s", qp_strerror(rc));
    qp_http_reply_fail(r, 500, "internal", "", qp_strerror(rc));
  }
  json_decref(answer);
  qp_free(rows);
  qp_free(states);
}

void qp__ledger_query_accounts(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  query(ctx, req, r, true);
}

void qp__ledger_query_transfers(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  query(ctx, req, r, false);
}
