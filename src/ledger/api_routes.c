/*
 * api_routes.c - the ledger's v1 routes: what each one reads from the
 * request, which ledger call it makes and what it answers.  The HTTP core
 * (src/http) has already checked
 * the key, the scope, the content type and the body size when a handler
 * runs; a handler only turns a well-formed request into a ledger call and
 * the outcome into JSON.
 *
 * Creates go through the writer (group commit); everything else reads the
 * db directly, which is safe from any thread.
 *
 * A key may be restricted to some ledgers (src/http/key_limits.c): its
 * creates must name allowed ledgers (else 403 ledger_not_allowed, nothing
 * applied), its reads see records of other ledgers as unknown, and it may
 * not read the audit, which covers every ledger, unless it has scope admin.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "ledger/api_int.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"

#define AUDIT_LEDGERS_MAX 4096u /* per-ledger rows in one audit answer */

static json_t *u64_json(uint64_t v) { return qp_ledger_u128_json((qp_u128)v); }

/* -------------------------------------------------------------- creates */

static void reply_results(qp_http_reply_t *r, const qp__ledger_job_t *job) {
  size_t len = 0;
  char *text = qp_ledger_results_text(job->request.op, job->request.events, job->request.results,
                                      job->request.count, &len);
  qp_http_reply_text(r, 200, text, "application/json");
}

/* The {id} segment of the path as a u128; false with an error reply when
 * it is not a decimal integer below 2^128. */
static bool path_id(qp_http_request_t *req, qp_http_reply_t *r, qp_u128 *out) {
  int rc = qp_ledger_parse_id(qp_http_param(req, "id"), out);
  if (rc == 0) return true;
  qp_http_reply_fail(r, 400, rc == QP_ERANGE ? "out_of_range" : "invalid_value", "id",
                     "the id in the path must be a decimal integer below 2^128");
  return false;
}

/* Maps what the writer reported to an answer for a create request. */
static void reply_create(qp_http_reply_t *r, const qp__ledger_job_t *job, int submit_rc) {
  int status = job->request.status;
  if (submit_rc == QP_ELIMIT)
    qp_http_reply_fail(r, 429, "too_many_requests", "",
                       "the commit queue is full; retry after a short pause");
  else if (submit_rc == QP_ESTOPPED)
    qp_http_reply_fail(r, 503, "shutting_down", "",
                       "the server is shutting down; nothing was applied");
  else if (status == 0)
    reply_results(r, job);
  else if (status == QP_ENOSPC || (status == QP_ESTOPPED && job->execute_rc == QP_ENOSPC))
    qp_http_reply_fail(r, 503, "disk_full", "",
                       "the disk holding the journal is full; nothing of this request was applied");
  else if (status == QP_ESTOPPED)
    qp_http_reply_fail(r, 503, "stopped", "",
                       "the ledger stopped after a journal write failure and refuses writes until "
                       "it is restarted; nothing of this request was applied");
  else if (status == QP_ELIMIT)
    qp_http_reply_fail(r, 503, "ledger_full", "",
                       "the ledger's account or transfer table is full; nothing was applied");
  else
    qp_http_reply_fail(r, 500, "internal", "", qp_strerror(status));
}

/* -------------------------------------------------------- ledger keys */

/* The ledgers the caller's key is restricted to, "1, 2, 840", for messages. */
static void allowed_text(qp_http_request_t *req, char *buf, size_t size) {
  const uint32_t *ledgers = NULL;
  uint32_t count = qp_http_caller_ledgers(req, &ledgers);
  qp_http_ledgers_format(ledgers, count, ", ", buf, size);
}

/* With a key restricted to some ledgers (docs/api.md, "Keys restricted to
 * ledgers"), every event must name one of them in `ledger`: a zero ledger
 * (absent, as a post/void may leave it) is refused too, because only a
 * named ledger is checked by the state machine against the accounts' and
 * the pending transfer's.  One event outside refuses the whole request,
 * before anything is queued: false with a 403. */
static bool events_allowed(qp_http_request_t *req, qp_http_reply_t *r, qp_op_t op,
                           const void *events, uint32_t count) {
  if (!qp_http_caller_ledgers_restricted(req)) return true;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t ledger = op == QP_OP_CREATE_ACCOUNTS ? ((const qp_account_t *)events)[i].ledger
                                                  : ((const qp_transfer_t *)events)[i].ledger;
    if (ledger != 0 && qp_http_caller_ledger_allowed(req, ledger)) continue;
    char allowed[128], path[32];
    allowed_text(req, allowed, sizeof allowed);
    snprintf(path, sizeof path, "[%u].ledger", i);
    qp_http_error_t err;
    if (ledger == 0)
      qp_http_error_set(&err, 403, "ledger_not_allowed", path,
                        "this API key is restricted to ledgers %s: every event must name one of "
                        "them in \"ledger\"; nothing was applied",
                        allowed);
    else
      qp_http_error_set(&err, 403, "ledger_not_allowed", path,
                        "ledger %u is not allowed for this API key, which may use ledgers %s; "
                        "nothing was applied",
                        ledger, allowed);
    qp_http_reply_error(r, &err);
    return false;
  }
  return true;
}

/* The caller's API key id as a number (its 16 hex digits), journaled with
 * the batch as its submitter; 0 without a key (--insecure-no-auth). */
static uint64_t caller_key(const qp_http_request_t *req) {
  const char *id = qp_http_caller_key_id(req);
  uint64_t v = 0;
  for (const char *p = id; p != NULL && *p != '\0'; p++) {
    int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
    if (d < 0) return 0;
    v = (v << 4) | (uint64_t)d;
  }
  return v;
}

static void handle_create(qp__ledger_api_t *s, qp_http_request_t *req, qp_http_reply_t *r,
                          qp_op_t op) {
  qp_http_error_t err;
  size_t body_len = 0;
  const char *body = qp_http_body(req, &body_len);
  void *events = NULL;
  uint32_t count = 0;
  int rc;
  if (op == QP_OP_CREATE_ACCOUNTS) {
    qp_account_t *a;
    rc = qp_ledger_decode_accounts(body, body_len, s->settings.events_max, &a, &count, &err);
    events = a;
  } else {
    qp_transfer_t *t;
    rc = qp_ledger_decode_transfers(body, body_len, s->settings.events_max, &t, &count, &err);
    events = t;
  }
  if (rc != 0) {
    qp_http_reply_error(r, &err);
    return;
  }
  if (!events_allowed(req, r, op, events, count)) {
    qp_free(events);
    return;
  }
  uint32_t *results = qp_calloc(count, sizeof *results);
  if (results == NULL) {
    qp_free(events);
    qp_http_reply_fail(r, 500, "internal", "", "out of memory");
    return;
  }
  qp__ledger_job_t job = {
      .request = {.op = op,
                  .events = events,
                  .count = count,
                  .results = results,
                  .submitter = caller_key(req)}};
  rc = qp__ledger_writer_submit(&s->writer, &job);
  if (rc == 0 && job.request.status == QP_EAGAIN) /* cluster: not (or no longer) the leader */
    qp__ledger_cluster_redirect(s, req, r);
  else
    reply_create(r, &job, rc);
  qp_free(results);
  qp_free(events);
}

static void create_accounts(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  handle_create(ctx, req, r, QP_OP_CREATE_ACCOUNTS);
}

static void create_transfers(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  handle_create(ctx, req, r, QP_OP_CREATE_TRANSFERS);
}

/* -------------------------------------------------------------- lookups */

static void reply_stopped(qp_http_reply_t *r) {
  qp_http_reply_fail(r, 503, "stopped", "", "the ledger stopped after a journal write failure");
}

static void lookup(qp__ledger_api_t *s, qp_http_request_t *req, qp_http_reply_t *r, bool accounts) {
  qp_http_error_t err;
  qp_u128 *ids;
  uint32_t count;
  size_t body_len = 0;
  const char *body = qp_http_body(req, &body_len);
  if (qp_ledger_decode_ids(body, body_len, s->settings.events_max, &ids, &count, &err) != 0) {
    qp_http_reply_error(r, &err);
    return;
  }
  size_t row = accounts ? sizeof(qp_account_t) : sizeof(qp_transfer_t) + sizeof(qp_pending_state_t);
  uint8_t *rows = qp_calloc(count, row);
  json_t *arr = json_array();
  uint32_t found = 0;
  int rc = (rows == NULL || arr == NULL) ? QP_ENOMEM : 0;
  if (rc == 0 && accounts) {
    qp_account_t *out = (qp_account_t *)(void *)rows;
    rc = qp_db_lookup_accounts(s->db, ids, count, out, &found);
    for (uint32_t i = 0; rc == 0 && i < found; i++)
      if (qp_http_caller_ledger_allowed(req, out[i].ledger)) /* others: as if unknown */
        json_array_append_new(arr, qp_ledger_account_json(&out[i]));
  } else if (rc == 0) {
    qp_transfer_t *out = (qp_transfer_t *)(void *)rows;
    qp_pending_state_t *states =
        (qp_pending_state_t *)(void *)(rows + count * sizeof(qp_transfer_t));
    rc = qp_db_lookup_transfers(s->db, ids, count, out, states, &found);
    for (uint32_t i = 0; rc == 0 && i < found; i++)
      if (qp_http_caller_ledger_allowed(req, out[i].ledger))
        json_array_append_new(arr, qp_ledger_transfer_json(&out[i], states[i]));
    if (rc == 0) rc = qp__ledger_set_submitters(s->db, arr);
  }
  qp_free(rows);
  qp_free(ids);
  if (rc != 0) {
    json_decref(arr);
    if (rc == QP_ESTOPPED)
      reply_stopped(r);
    else
      qp_http_reply_fail(r, 500, "internal", "", qp_strerror(rc));
    return;
  }
  json_t *root = json_object();
  if (root != NULL)
    json_object_set_new(root, accounts ? "accounts" : "transfers", arr);
  else
    json_decref(arr);
  qp_http_reply_json(r, 200, root);
}

static void lookup_accounts(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  lookup(ctx, req, r, true);
}

static void lookup_transfers(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  lookup(ctx, req, r, false);
}

/* The answer for a single lookup that did not find a row or failed; false
 * when there is a row to show. */
static bool single_lookup_failed(qp_http_reply_t *r, int rc, uint32_t found, const char *what) {
  if (rc == QP_ESTOPPED)
    reply_stopped(r);
  else if (rc != 0)
    qp_http_reply_fail(r, 500, "internal", "", qp_strerror(rc));
  else if (found == 0)
    qp_http_reply_fail(r, 404, "not_found", "id", what);
  return rc != 0 || found == 0;
}

static void get_account(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__ledger_api_t *s = ctx;
  qp_account_t a;
  uint32_t found = 0;
  qp_u128 id = 0;
  if (!path_id(req, r, &id)) return;
  int rc = qp_db_lookup_accounts(s->db, &id, 1, &a, &found);
  if (rc == 0 && found == 1 && !qp_http_caller_ledger_allowed(req, a.ledger)) found = 0;
  if (single_lookup_failed(r, rc, found, "no account has this id")) return;
  qp_http_reply_json(r, 200, qp_ledger_account_json(&a));
}

static void get_transfer(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__ledger_api_t *s = ctx;
  qp_transfer_t t;
  qp_pending_state_t state = QP_PENDING_NONE;
  uint32_t found = 0;
  qp_u128 id = 0;
  if (!path_id(req, r, &id)) return;
  int rc = qp_db_lookup_transfers(s->db, &id, 1, &t, &state, &found);
  if (rc == 0 && found == 1 && !qp_http_caller_ledger_allowed(req, t.ledger)) found = 0;
  if (single_lookup_failed(r, rc, found, "no transfer has this id")) return;
  json_t *one = json_array();
  json_t *obj = qp_ledger_transfer_json(&t, state);
  rc = one == NULL || obj == NULL || json_array_append(one, obj) != 0 ? QP_ENOMEM : 0;
  if (rc == 0) rc = qp__ledger_set_submitters(s->db, one);
  json_decref(one);
  if (rc == 0) {
    qp_http_reply_json(r, 200, obj);
    return;
  }
  json_decref(obj);
  if (rc == QP_ESTOPPED) reply_stopped(r);
  else qp_http_reply_fail(r, 500, "internal", "", qp_strerror(rc));
}

/* -------------------------------------------------------------- history */

typedef struct query_ctx {
  qp_account_filter_t filter; /* being filled */
  bool debits;                /* ?debits=true */
  bool credits;               /* ?credits=true */
  qp_http_error_t err;        /* first problem */
  bool failed;                /* err is set */
} query_ctx_t;

static int parse_bool(const char *v, bool *out) {
  if (v == NULL || strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || v[0] == '\0')
    *out = true;
  else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
    *out = false;
  else
    return QP_EINVAL;
  return 0;
}

static bool query_arg(void *vctx, const char *key, const char *value) {
  query_ctx_t *q = vctx;
  if (q->failed) return false;
  qp_u128 n = 0;
  int rc = 0;
  bool flag = false;
  if (strcmp(key, "limit") == 0) {
    rc = qp_ledger_parse_id(value, &n);
    if (rc == 0 && (n == 0 || n > QP_QUERY_LIMIT_MAX)) rc = QP_ERANGE;
    if (rc == 0) q->filter.limit = (uint32_t)n;
  } else if (strcmp(key, "from") == 0 || strcmp(key, "to") == 0) {
    rc = qp_ledger_parse_id(value, &n);
    if (rc == 0 && n > UINT64_MAX) rc = QP_ERANGE;
    if (rc == 0 && key[0] == 'f') q->filter.timestamp_min = (uint64_t)n;
    if (rc == 0 && key[0] == 't') q->filter.timestamp_max = (uint64_t)n;
  } else if (strcmp(key, "reversed") == 0 || strcmp(key, "debits") == 0 ||
             strcmp(key, "credits") == 0) {
    rc = parse_bool(value, &flag);
    if (rc == 0 && key[0] == 'r' && flag) q->filter.flags |= QP_FILTER_REVERSED;
    if (rc == 0 && key[0] == 'd') q->debits = flag;
    if (rc == 0 && key[0] == 'c') q->credits = flag;
  } else {
    char shown[48];
    snprintf(shown, sizeof shown, "%.40s", key);
    qp_http_error_set(
        &q->err, 400, "unknown_field", shown,
        "unknown query parameter; allowed: limit, from, to, reversed, debits, credits");
    q->failed = true;
    return false;
  }
  if (rc != 0) {
    qp_http_error_set(&q->err, 400, rc == QP_ERANGE ? "out_of_range" : "invalid_value", key,
                      strcmp(key, "limit") == 0 ? "limit must be an integer from 1 to 8190"
                      : (key[0] == 'f' || key[0] == 't')
                          ? "must be a timestamp (decimal ns, < 2^64)"
                          : "must be true or false");
    q->failed = true;
    return false;
  }
  return true;
}

/* Parses the history query string into a filter; false with *err set when
 * it is not understood. */
static bool parse_history_query(qp_http_request_t *req, qp_u128 account_id, query_ctx_t *q) {
  memset(q, 0, sizeof *q);
  q->filter.account_id = account_id;
  q->filter.limit = QP_LEDGER_API_QUERY_LIMIT_DEFAULT;
  q->debits = true;
  q->credits = true;
  qp_http_query_each(req, query_arg, q);
  if (q->failed) return false;
  if (q->filter.timestamp_max != 0 && q->filter.timestamp_min > q->filter.timestamp_max) {
    qp_http_error_set(&q->err, 400, "invalid_value", "from", "from must not be after to");
    return false;
  }
  if (!q->debits && !q->credits) {
    qp_http_error_set(&q->err, 400, "invalid_value", "debits",
                      "debits and credits cannot both be false");
    return false;
  }
  if (q->debits) q->filter.flags |= QP_FILTER_DEBITS;
  if (q->credits) q->filter.flags |= QP_FILTER_CREDITS;
  return true;
}

static uint64_t row_timestamp(const void *rows, uint32_t i, bool balances) {
  return balances ? ((const qp_account_balance_t *)rows)[i].timestamp
                  : ((const qp_transfer_t *)rows)[i].timestamp;
}

/* {"<key>":[first `want` rows],"next":cursor|null}.  The query asked for
 * one row more than the limit to know whether a next page exists; its
 * timestamp is then the cursor (pass it as `from`, or as `to` when
 * reversed).  At the 8190-row maximum there is no extra row, so a full page
 * gets the cursor just past its last row (the next page may be empty). */
/* The current pending state of a transfer created with `pending` (the
 * index keeps transfers as created; the state lives in the ledger). */
static qp_pending_state_t pending_state(qp_db_t *db, const qp_transfer_t *t) {
  if ((t->flags & QP_TRANSFER_PENDING) == 0) return QP_PENDING_NONE;
  qp_transfer_t copy;
  qp_pending_state_t state = QP_PENDING_NONE;
  uint32_t found = 0;
  if (qp_db_lookup_transfers(db, &t->id, 1, &copy, &state, &found) != 0 || found == 0)
    return QP_PENDING_NONE;
  return state;
}

uint64_t qp__ledger_next_cursor(uint32_t count, uint32_t want, uint64_t ts, bool reversed) {
  if (count > want) return ts;
  if (count == QP_QUERY_LIMIT_MAX) return reversed ? ts - 1 : ts + 1;
  return 0;
}

static json_t *history_page(qp_db_t *db, const void *rows, uint32_t count, uint32_t want,
                            bool balances, bool reversed) {
  json_t *arr = json_array();
  json_t *root = json_object();
  if (arr == NULL || root == NULL) {
    json_decref(arr);
    json_decref(root);
    return NULL;
  }
  uint32_t shown = count > want ? want : count;
  for (uint32_t i = 0; i < shown; i++) {
    const qp_transfer_t *t = (const qp_transfer_t *)rows + i;
    json_t *row = balances ? qp_ledger_balance_json((const qp_account_balance_t *)rows + i)
                           : qp_ledger_transfer_json(t, pending_state(db, t));
    json_array_append_new(arr, row);
  }
  uint64_t ts = count == 0 ? 0 : row_timestamp(rows, count > want ? want : count - 1, balances);
  uint64_t next = qp__ledger_next_cursor(count, want, ts, reversed);
  json_object_set_new(root, balances ? "balances" : "transfers", arr);
  json_object_set_new(root, "next", next != 0 ? u64_json(next) : json_null());
  if (!balances && qp__ledger_set_submitters(db, arr) != 0) {
    json_decref(root);
    return NULL; /* answered as a 500 */
  }
  return root;
}

static void history(qp__ledger_api_t *s, qp_http_request_t *req, qp_http_reply_t *r,
                    bool balances) {
  query_ctx_t q;
  qp_u128 id = 0;
  if (!path_id(req, r, &id)) return;
  if (!parse_history_query(req, id, &q)) {
    qp_http_reply_error(r, &q.err);
    return;
  }
  qp_account_t account;
  uint32_t found = 0;
  int rc = qp_db_lookup_accounts(s->db, &id, 1, &account, &found);
  /* An account of another ledger is, to a restricted key, an unknown one;
   * its transfers are all in its ledger, so the rows need no filter. */
  if (rc == 0 && found == 1 && !qp_http_caller_ledger_allowed(req, account.ledger)) found = 0;
  if (rc == 0 && found == 0) {
    qp_http_reply_fail(r, 404, "not_found", "id", "no account has this id");
    return;
  }
  uint32_t want = q.filter.limit;
  if (q.filter.limit < QP_QUERY_LIMIT_MAX) q.filter.limit++;
  size_t row = balances ? sizeof(qp_account_balance_t) : sizeof(qp_transfer_t);
  void *rows = qp_calloc(q.filter.limit, row);
  uint32_t count = 0;
  if (rc == 0 && rows == NULL) rc = QP_ENOMEM;
  if (rc == 0 && balances)
    rc = qp_db_get_account_balances(s->db, &q.filter, rows, &count);
  else if (rc == 0)
    rc = qp_db_get_account_transfers(s->db, &q.filter, rows, &count);
  if (rc == 0)
    qp_http_reply_json(
        r, 200,
        history_page(s->db, rows, count, want, balances, q.filter.flags & QP_FILTER_REVERSED));
  else if (rc == QP_ESTOPPED)
    reply_stopped(r);
  else {
    QP_LOG_ERROR("ledger", "history query failed: %s", qp_strerror(rc));
    qp_http_reply_fail(r, 500, "internal", "", qp_strerror(rc));
  }
  qp_free(rows);
}

static void account_transfers(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  history(ctx, req, r, false);
}

static void account_balances(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  history(ctx, req, r, true);
}

/* ---------------------------------------------------------------- audit */

static json_t *totals_json(const qp_ledger_totals_t *t) {
  json_t *o = json_object();
  if (o == NULL) return NULL;
  json_object_set_new(o, "ledger", json_integer(t->ledger));
  json_object_set_new(o, "accounts", json_integer(t->accounts));
  json_object_set_new(o, "debits_pending", qp_ledger_u128_json(t->debits_pending));
  json_object_set_new(o, "debits_posted", qp_ledger_u128_json(t->debits_posted));
  json_object_set_new(o, "credits_pending", qp_ledger_u128_json(t->credits_pending));
  json_object_set_new(o, "credits_posted", qp_ledger_u128_json(t->credits_posted));
  json_object_set_new(o, "balanced",
                      json_boolean(t->debits_posted == t->credits_posted &&
                                   t->debits_pending == t->credits_pending));
  return o;
}

/* The audit covers every ledger (journal counts, the head hash, totals per
 * ledger): a key restricted to some ledgers may read it only with the
 * admin scope.  false with a 403. */
static bool audit_allowed(qp_http_request_t *req, qp_http_reply_t *r) {
  if (!qp_http_caller_ledgers_restricted(req) || qp_http_caller_may(req, QP_HTTP_SCOPE_ADMIN))
    return true;
  char allowed[128];
  allowed_text(req, allowed, sizeof allowed);
  qp_http_error_t err;
  qp_http_error_set(&err, 403, "ledger_not_allowed", "",
                    "the audit covers every ledger; this API key is restricted to ledgers %s "
                    "(a key without that restriction, or with scope admin, may read it)",
                    allowed);
  qp_http_reply_error(r, &err);
  return false;
}

static void audit(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__ledger_api_t *s = ctx;
  if (!audit_allowed(req, r)) return;
  qp_db_audit_t a;
  uint32_t ledgers = 0;
  qp_ledger_totals_t *totals = qp_calloc(AUDIT_LEDGERS_MAX, sizeof *totals);
  if (totals == NULL) {
    qp_http_reply_fail(r, 500, "internal", "", "out of memory");
    return;
  }
  int rc = qp_db_audit(s->db, &a, totals, AUDIT_LEDGERS_MAX, &ledgers);
  if (rc != 0) {
    qp_free(totals);
    qp_http_reply_fail(r, 500, "internal", "", qp_strerror(rc));
    return;
  }
  char hash[2 * QP_HASH_SIZE + 1];
  qp_hex(hash, a.head_hash, QP_HASH_SIZE);
  json_t *o = json_object();
  json_t *rows = json_array();
  uint32_t shown = ledgers < AUDIT_LEDGERS_MAX ? ledgers : AUDIT_LEDGERS_MAX;
  for (uint32_t i = 0; rows != NULL && i < shown; i++)
    json_array_append_new(rows, totals_json(&totals[i]));
  qp_free(totals);
  if (o == NULL || rows == NULL) {
    json_decref(o);
    json_decref(rows);
    qp_http_reply_json(r, 500, NULL);
    return;
  }
  json_object_set_new(o, "head_hash", json_string(hash));
  json_object_set_new(o, "batches", u64_json(a.batches));
  json_object_set_new(o, "events", u64_json(a.events));
  json_object_set_new(o, "journal_bytes", u64_json(a.journal_bytes));
  json_object_set_new(o, "accounts", u64_json(a.accounts));
  json_object_set_new(o, "transfers", u64_json(a.transfers));
  json_object_set_new(o, "transfers_in_memory", u64_json(a.transfers_in_memory));
  json_object_set_new(o, "invariant_ok", json_boolean(a.invariant_ok));
  json_object_set_new(o, "journal_seq", u64_json(a.journal_seq));
  json_object_set_new(o, "totals_balanced", json_boolean(a.totals_balanced));
  json_object_set_new(o, "full_check_seq", u64_json(a.full_check_seq));
  json_object_set_new(o, "full_check_ok", json_boolean(a.full_check_ok));
  json_object_set_new(o, "ledgers", rows);
  json_object_set_new(o, "ledgers_count", json_integer(ledgers));
  json_object_set_new(o, "stopped", json_boolean(qp_db_stopped(s->db)));
  qp_db_health_t h;
  qp_db_health(s->db, &h);
  json_object_set_new(o, "index_lag_events", u64_json(h.index_lag_events));
  json_object_set_new(o, "index_lag_seconds", json_real((double)h.index_lag_ns / 1e9));
  json_object_set_new(o, "index_waits", u64_json(h.index_waits));
  bool checked = false;
  int vrc = qp_db_verify_status(s->db, &checked, NULL, 0);
  json_object_set_new(o, "journal_check",
                      json_string(vrc != 0  ? "failed"
                                  : checked ? "passed"
                                            : "running"));
  qp_http_reply_json(r, 200, o);
}

/* ---------------------------------------------------------------- table */

#define R QP_LEDGER_SCOPE_READ
#define W QP_LEDGER_SCOPE_WRITE

/* Every route behind the cluster gate (qp__ledger_cluster_serves): in
 * single-node mode it lets everything through. */
#define GATED(name, write)                                                        \
  static void gated_##name(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) { \
    if (qp__ledger_cluster_serves(ctx, req, r, write)) name(ctx, req, r);           \
  }
GATED(create_accounts, true)
GATED(create_transfers, true)
GATED(lookup_accounts, false)
GATED(lookup_transfers, false)
GATED(qp__ledger_query_accounts, false)
GATED(qp__ledger_query_transfers, false)
GATED(audit, false)
GATED(get_account, false)
GATED(get_transfer, false)
GATED(account_transfers, false)
GATED(account_balances, false)

static const qp_http_route_t ROUTES[] = {
    {"POST", "/v1/accounts", W, false, 0, gated_create_accounts},
    {"POST", "/v1/transfers", W, false, 0, gated_create_transfers},
    {"POST", "/v1/accounts/lookup", R, false, 0, gated_lookup_accounts},
    {"POST", "/v1/transfers/lookup", R, false, 0, gated_lookup_transfers},
    {"POST", "/v1/accounts/query", R, false, 0, gated_qp__ledger_query_accounts},
    {"POST", "/v1/transfers/query", R, false, 0, gated_qp__ledger_query_transfers},
    {"GET", "/v1/audit", R, false, 0, gated_audit},
    {"GET", "/v1/accounts/{id}", R, false, 0, gated_get_account},
    {"GET", "/v1/transfers/{id}", R, false, 0, gated_get_transfer},
    {"GET", "/v1/accounts/{id}/transfers", R, false, 0, gated_account_transfers},
    {"GET", "/v1/accounts/{id}/balances", R, false, 0, gated_account_balances},
    {"GET", "/v1/cluster/status", R, false, 0, qp__ledger_cluster_status},
    {"POST", "/v1/cluster/replicas", QP_HTTP_SCOPE_ADMIN, false, 0, qp__ledger_cluster_add},
    {"DELETE", "/v1/cluster/replicas/{id}", QP_HTTP_SCOPE_ADMIN, false, 0,
     qp__ledger_cluster_remove},
    {"GET", "/v1/cluster/journal", QP_HTTP_SCOPE_ADMIN, false, 0, qp__ledger_cluster_journal},
};

const qp_http_route_t *qp__ledger_routes(uint32_t *count_out) {
  *count_out = (uint32_t)(sizeof ROUTES / sizeof ROUTES[0]);
  return ROUTES;
}
