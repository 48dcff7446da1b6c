/*
 * routes.c - the v1 routes: what each one reads from the request, which
 * ledger call it makes and what it answers.  server.c has already checked
 * the key, the scope, the content type and the body size when a handler
 * runs; a handler only turns a well-formed request into a ledger call and
 * the outcome into JSON.
 *
 * Creates go through the writer (group commit); everything else reads the
 * db directly, which is safe from any thread.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "api/api_int.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"

#define AUDIT_LEDGERS_MAX 4096u /* per-ledger rows in one audit answer */

static void reply_json(qp__api_reply_t *r, unsigned status, json_t *json) {
  r->status = status;
  r->json = json;
  if (json == NULL) {
    qp_api_error_t err;
    qp_api_error_set(&err, 500, "internal", "", "out of memory while building the response");
    qp__api_reply_error(r, &err);
  }
}

static void reply_error(qp__api_reply_t *r, unsigned status, const char *code, const char *path,
                        const char *message) {
  qp_api_error_t err;
  qp_api_error_set(&err, status, code, path, "%s", message);
  qp__api_reply_error(r, &err);
}

static json_t *u64_json(uint64_t v) { return qp_api_u128_json((qp_u128)v); }

/* -------------------------------------------------------------- creates */

static void reply_results(qp__api_reply_t *r, const qp__api_job_t *job) {
  size_t len = 0;
  r->text = qp_api_results_text(job->request.op, job->request.events, job->request.results,
                                job->request.count, &len);
  if (r->text == NULL) {
    reply_json(r, 500, NULL);
    return;
  }
  r->status = 200;
  r->content_type = "application/json";
}

/* Maps what the writer reported to an answer for a create request. */
static void reply_create(qp__api_reply_t *r, const qp__api_job_t *job, int submit_rc) {
  int status = job->request.status;
  if (submit_rc == QP_ELIMIT)
    reply_error(r, 429, "too_many_requests", "",
                "the commit queue is full; retry after a short pause");
  else if (submit_rc == QP_ESTOPPED)
    reply_error(r, 503, "shutting_down", "", "the server is shutting down; nothing was applied");
  else if (status == 0)
    reply_results(r, job);
  else if (status == QP_ENOSPC || (status == QP_ESTOPPED && job->execute_rc == QP_ENOSPC))
    reply_error(r, 503, "disk_full", "",
                "the disk holding the journal is full; nothing of this request was applied");
  else if (status == QP_ESTOPPED)
    reply_error(r, 503, "stopped", "",
                "the ledger stopped after a journal write failure and refuses writes until "
                "it is restarted; nothing of this request was applied");
  else if (status == QP_ELIMIT)
    reply_error(r, 503, "ledger_full", "",
                "the ledger's account or transfer table is full; nothing was applied");
  else
    reply_error(r, 500, "internal", "", qp_strerror(status));
}

static void handle_create(qp_api_server_t *s, qp__api_request_t *req, qp__api_reply_t *r,
                          qp_op_t op) {
  qp_api_error_t err;
  void *events = NULL;
  uint32_t count = 0;
  int rc;
  if (op == QP_OP_CREATE_ACCOUNTS) {
    qp_account_t *a;
    rc = qp_api_decode_accounts(req->body, req->body_len, s->options.events_max, &a, &count, &err);
    events = a;
  } else {
    qp_transfer_t *t;
    rc = qp_api_decode_transfers(req->body, req->body_len, s->options.events_max, &t, &count, &err);
    events = t;
  }
  if (rc != 0) {
    qp__api_reply_error(r, &err);
    return;
  }
  uint32_t *results = qp_calloc(count, sizeof *results);
  if (results == NULL) {
    qp_free(events);
    reply_error(r, 500, "internal", "", "out of memory");
    return;
  }
  qp__api_job_t job = {.request = {.op = op, .events = events, .count = count, .results = results}};
  rc = qp__api_writer_submit(&s->writer, &job);
  reply_create(r, &job, rc);
  qp_free(results);
  qp_free(events);
}

static void create_accounts(qp_api_server_t *s, qp__api_request_t *req, qp__api_reply_t *r) {
  handle_create(s, req, r, QP_OP_CREATE_ACCOUNTS);
}

static void create_transfers(qp_api_server_t *s, qp__api_request_t *req, qp__api_reply_t *r) {
  handle_create(s, req, r, QP_OP_CREATE_TRANSFERS);
}

/* -------------------------------------------------------------- lookups */

static void reply_stopped(qp__api_reply_t *r) {
  reply_error(r, 503, "stopped", "", "the ledger stopped after a journal write failure");
}

static void lookup(qp_api_server_t *s, qp__api_request_t *req, qp__api_reply_t *r, bool accounts) {
  qp_api_error_t err;
  qp_u128 *ids;
  uint32_t count;
  if (qp_api_decode_ids(req->body, req->body_len, s->options.events_max, &ids, &count, &err) != 0) {
    qp__api_reply_error(r, &err);
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
      json_array_append_new(arr, qp_api_account_json(&out[i]));
  } else if (rc == 0) {
    qp_transfer_t *out = (qp_transfer_t *)(void *)rows;
    qp_pending_state_t *states =
        (qp_pending_state_t *)(void *)(rows + count * sizeof(qp_transfer_t));
    rc = qp_db_lookup_transfers(s->db, ids, count, out, states, &found);
    for (uint32_t i = 0; rc == 0 && i < found; i++)
      json_array_append_new(arr, qp_api_transfer_json(&out[i], states[i]));
  }
  qp_free(rows);
  qp_free(ids);
  if (rc != 0) {
    json_decref(arr);
    if (rc == QP_ESTOPPED)
      reply_stopped(r);
    else
      reply_error(r, 500, "internal", "", qp_strerror(rc));
    return;
  }
  json_t *root = json_object();
  if (root != NULL)
    json_object_set_new(root, accounts ? "accounts" : "transfers", arr);
  else
    json_decref(arr);
  reply_json(r, 200, root);
}

static void lookup_accounts(qp_api_server_t *s, qp__api_request_t *req, qp__api_reply_t *r) {
  lookup(s, req, r, true);
}

static void lookup_transfers(qp_api_server_t *s, qp__api_request_t *req, qp__api_reply_t *r) {
  lookup(s, req, r, false);
}

static void get_account(qp_api_server_t *s, qp__api_request_t *req, qp__api_reply_t *r) {
  qp_account_t a;
  uint32_t found = 0;
  int rc = qp_db_lookup_accounts(s->db, &req->path_id, 1, &a, &found);
  if (rc == QP_ESTOPPED) {
    reply_stopped(r);
    return;
  }
  if (rc != 0) {
    reply_error(r, 500, "internal", "", qp_strerror(rc));
    return;
  }
  if (found == 0) {
    reply_error(r, 404, "not_found", "id", "no account has this id");
    return;
  }
  reply_json(r, 200, qp_api_account_json(&a));
}

static void get_transfer(qp_api_server_t *s, qp__api_request_t *req, qp__api_reply_t *r) {
  qp_transfer_t t;
  qp_pending_state_t state = QP_PENDING_NONE;
  uint32_t found = 0;
  int rc = qp_db_lookup_transfers(s->db, &req->path_id, 1, &t, &state, &found);
  if (rc == QP_ESTOPPED) {
    reply_stopped(r);
    return;
  }
  if (rc != 0) {
    reply_error(r, 500, "internal", "", qp_strerror(rc));
    return;
  }
  if (found == 0) {
    reply_error(r, 404, "not_found", "id", "no transfer has this id");
    return;
  }
  reply_json(r, 200, qp_api_transfer_json(&t, state));
}

/* -------------------------------------------------------------- history */

typedef struct query_ctx {
  qp_account_filter_t filter; /* being filled */
  bool debits;                /* ?debits=true */
  bool credits;               /* ?credits=true */
  qp_api_error_t err;         /* first problem */
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

static enum MHD_Result query_arg(void *vctx, enum MHD_ValueKind kind, const char *key,
                                 const char *value) {
  (void)kind;
  query_ctx_t *q = vctx;
  if (q->failed) return MHD_NO;
  qp_u128 n = 0;
  int rc = 0;
  bool flag = false;
  if (strcmp(key, "limit") == 0) {
    rc = qp_api_parse_u128(value, &n);
    if (rc == 0 && (n == 0 || n > QP_QUERY_LIMIT_MAX)) rc = QP_ERANGE;
    if (rc == 0) q->filter.limit = (uint32_t)n;
  } else if (strcmp(key, "from") == 0 || strcmp(key, "to") == 0) {
    rc = qp_api_parse_u128(value, &n);
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
    qp_api_error_set(
        &q->err, 400, "unknown_field", shown,
        "unknown query parameter; allowed: limit, from, to, reversed, debits, credits");
    q->failed = true;
    return MHD_NO;
  }
  if (rc != 0) {
    qp_api_error_set(&q->err, 400, rc == QP_ERANGE ? "out_of_range" : "invalid_value", key,
                     strcmp(key, "limit") == 0          ? "limit must be an integer from 1 to 8190"
                     : (key[0] == 'f' || key[0] == 't') ? "must be a timestamp (decimal ns, < 2^64)"
                                                        : "must be true or false");
    q->failed = true;
    return MHD_NO;
  }
  return MHD_YES;
}

/* Parses the history query string into a filter; false with *err set when
 * it is not understood. */
static bool parse_history_query(qp__api_request_t *req, query_ctx_t *q) {
  memset(q, 0, sizeof *q);
  q->filter.account_id = req->path_id;
  q->filter.limit = QP_API_QUERY_LIMIT_DEFAULT;
  q->debits = true;
  q->credits = true;
  MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_arg, q);
  if (q->failed) return false;
  if (q->filter.timestamp_max != 0 && q->filter.timestamp_min > q->filter.timestamp_max) {
    qp_api_error_set(&q->err, 400, "invalid_value", "from", "from must not be after to");
    return false;
  }
  if (!q->debits && !q->credits) {
    qp_api_error_set(&q->err, 400, "invalid_value", "debits",
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
    json_t *row = balances ? qp_api_balance_json((const qp_account_balance_t *)rows + i)
                           : qp_api_transfer_json(t, pending_state(db, t));
    json_array_append_new(arr, row);
  }
  uint64_t next = 0;
  if (count > want) {
    next = row_timestamp(rows, want, balances);
  } else if (count == QP_QUERY_LIMIT_MAX) {
    uint64_t last = row_timestamp(rows, count - 1, balances);
    next = reversed ? last - 1 : last + 1;
  }
  json_object_set_new(root, balances ? "balances" : "transfers", arr);
  json_object_set_new(root, "next", next != 0 ? u64_json(next) : json_null());
  return root;
}

static void history(qp_api_server_t *s, qp__api_request_t *req, qp__api_reply_t *r, bool balances) {
  query_ctx_t q;
  if (!parse_history_query(req, &q)) {
    qp__api_reply_error(r, &q.err);
    return;
  }
  qp_account_t account;
  uint32_t found = 0;
  int rc = qp_db_lookup_accounts(s->db, &req->path_id, 1, &account, &found);
  if (rc == 0 && found == 0) {
    reply_error(r, 404, "not_found", "id", "no account has this id");
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
    reply_json(r, 200,
               history_page(s->db, rows, count, want, balances, q.filter.flags & QP_FILTER_REVERSED));
  else if (rc == QP_ESTOPPED)
    reply_stopped(r);
  else {
    QP_LOG_ERROR("api", "history query failed: %s", qp_strerror(rc));
    reply_error(r, 500, "internal", "", qp_strerror(rc));
  }
  qp_free(rows);
}

static void account_transfers(qp_api_server_t *s, qp__api_request_t *req, qp__api_reply_t *r) {
  history(s, req, r, false);
}

static void account_balances(qp_api_server_t *s, qp__api_request_t *req, qp__api_reply_t *r) {
  history(s, req, r, true);
}

/* ---------------------------------------------------------------- audit */

static json_t *totals_json(const qp_ledger_totals_t *t) {
  json_t *o = json_object();
  if (o == NULL) return NULL;
  json_object_set_new(o, "ledger", json_integer(t->ledger));
  json_object_set_new(o, "accounts", json_integer(t->accounts));
  json_object_set_new(o, "debits_pending", qp_api_u128_json(t->debits_pending));
  json_object_set_new(o, "debits_posted", qp_api_u128_json(t->debits_posted));
  json_object_set_new(o, "credits_pending", qp_api_u128_json(t->credits_pending));
  json_object_set_new(o, "credits_posted", qp_api_u128_json(t->credits_posted));
  json_object_set_new(o, "balanced",
                      json_boolean(t->debits_posted == t->credits_posted &&
                                   t->debits_pending == t->credits_pending));
  return o;
}

static void audit(qp_api_server_t *s, qp__api_request_t *req, qp__api_reply_t *r) {
  (void)req;
  qp_db_audit_t a;
  uint32_t ledgers = 0;
  qp_ledger_totals_t *totals = qp_calloc(AUDIT_LEDGERS_MAX, sizeof *totals);
  if (totals == NULL) {
    reply_error(r, 500, "internal", "", "out of memory");
    return;
  }
  int rc = qp_db_audit(s->db, &a, totals, AUDIT_LEDGERS_MAX, &ledgers);
  if (rc != 0) {
    qp_free(totals);
    reply_error(r, 500, "internal", "", qp_strerror(rc));
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
    reply_json(r, 500, NULL);
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
  bool checked = false;
  int vrc = qp_db_verify_status(s->db, &checked, NULL, 0);
  json_object_set_new(o, "journal_check",
                      json_string(vrc != 0 ? "failed" : checked ? "passed" : "running"));
  reply_json(r, 200, o);
}

/* ------------------------------------------------------- service routes */

static void healthz(qp_api_server_t *s, qp__api_request_t *req, qp__api_reply_t *r) {
  (void)req;
  bool checked = false;
  char why[512];
  /* The re-hash of the journal after a restart (docs/journal.md) found damage. */
  if (qp_db_verify_status(s->db, &checked, why, sizeof why) != 0) {
    reply_error(r, 503, "journal_damaged", "", why);
    return;
  }
  if (qp_db_stopped(s->db)) {
    reply_error(r, 503, "stopped", "", "the ledger refuses writes");
    return;
  }
  json_t *o = json_object();
  if (o != NULL) json_object_set_new(o, "status", json_string("ok"));
  reply_json(r, 200, o);
}

static uint64_t journal_bytes(const qp_api_server_t *s) {
  char path[1200];
  struct stat st;
  snprintf(path, sizeof path, "%s/ledger/journal", s->data_dir);
  return stat(path, &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
}

static void metrics(qp_api_server_t *s, qp__api_request_t *req, qp__api_reply_t *r) {
  (void)req;
  char *text = qp__api_metrics_render(&s->metrics, journal_bytes(s), atomic_load(&s->connections),
                                      qp__api_writer_depth(&s->writer));
  if (text == NULL) {
    reply_error(r, 500, "internal", "", "out of memory");
    return;
  }
  r->status = 200;
  r->text = text;
  r->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void openapi(qp_api_server_t *s, qp__api_request_t *req, qp__api_reply_t *r) {
  (void)s;
  (void)req;
  size_t n = strlen(qp_api_openapi_json);
  char *text = qp_malloc(n + 1);
  if (text == NULL) {
    reply_error(r, 500, "internal", "", "out of memory");
    return;
  }
  memcpy(text, qp_api_openapi_json, n + 1);
  r->status = 200;
  r->text = text;
  r->content_type = "application/json";
}

/* ---------------------------------------------------------------- table */

#define R QP_API_SCOPE_READ
#define W QP_API_SCOPE_WRITE

/* Literal patterns come before {id} patterns so /v1/accounts/lookup is not
 * taken for an account id. */
static const qp__api_route_t ROUTES[] = {
    {"POST", "/v1/accounts", "create_accounts", W, false, create_accounts},
    {"POST", "/v1/transfers", "create_transfers", W, false, create_transfers},
    {"POST", "/v1/accounts/lookup", "lookup_accounts", R, false, lookup_accounts},
    {"POST", "/v1/transfers/lookup", "lookup_transfers", R, false, lookup_transfers},
    {"GET", "/v1/audit", "audit", R, false, audit},
    {"GET", "/v1/openapi.json", "openapi", 0, false, openapi},
    {"GET", "/healthz", "healthz", 0, true, healthz},
    {"GET", "/metrics", "metrics", 0, true, metrics},
    {"GET", "/v1/accounts/{id}", "get_account", R, false, get_account},
    {"GET", "/v1/transfers/{id}", "get_transfer", R, false, get_transfer},
    {"GET", "/v1/accounts/{id}/transfers", "account_transfers", R, false, account_transfers},
    {"GET", "/v1/accounts/{id}/balances", "account_balances", R, false, account_balances},
};
#define ROUTES_COUNT ((uint32_t)(sizeof ROUTES / sizeof ROUTES[0]))
_Static_assert(sizeof ROUTES / sizeof ROUTES[0] < QP__API_ROUTES_MAX, "route table too big");

const qp__api_route_t *qp__api_route_get(uint32_t index) {
  return index < ROUTES_COUNT ? &ROUTES[index] : NULL;
}

uint32_t qp__api_routes_count(void) { return ROUTES_COUNT; }

const qp_api_route_info_t *qp_api_routes(uint32_t *count_out) {
  static qp_api_route_info_t info[sizeof ROUTES / sizeof ROUTES[0]];
  for (uint32_t i = 0; i < ROUTES_COUNT; i++) {
    info[i].method = ROUTES[i].method;
    info[i].pattern = ROUTES[i].pattern;
  }
  *count_out = ROUTES_COUNT;
  return info;
}

/* Does url match pattern?  {id} matches one non-empty segment, whose text
 * goes to *id_text / *id_len. */
static bool pattern_match(const char *pattern, const char *url, const char **id_text,
                          size_t *id_len) {
  const char *p = pattern, *u = url;
  while (*p != '\0' && *u != '\0') {
    if (strncmp(p, "{id}", 4) == 0) {
      size_t n = strcspn(u, "/");
      if (n == 0) return false;
      *id_text = u;
      *id_len = n;
      p += 4;
      u += n;
      continue;
    }
    if (*p != *u) return false;
    p++;
    u++;
  }
  return *p == '\0' && *u == '\0';
}

int qp__api_route_match(const char *method, const char *url, const char **allow, qp_u128 *id_out,
                        qp_api_error_t *err) {
  static const char *const allow_get = "GET", *const allow_post = "POST";
  *allow = NULL;
  const char *matched_pattern = NULL;
  for (uint32_t i = 0; i < ROUTES_COUNT; i++) {
    const char *id_text = NULL;
    size_t id_len = 0;
    if (matched_pattern != NULL && strcmp(matched_pattern, ROUTES[i].pattern) != 0) continue;
    if (!pattern_match(ROUTES[i].pattern, url, &id_text, &id_len)) continue;
    matched_pattern = ROUTES[i].pattern;
    if (strcmp(ROUTES[i].method, method) != 0) {
      *allow = strcmp(ROUTES[i].method, "GET") == 0 ? allow_get : allow_post;
      continue;
    }
    *allow = NULL;
    if (id_text != NULL) {
      int rc = qp_u128_parse(id_text, id_len, id_out);
      if (rc != 0) {
        qp_api_error_set(err, 400, rc == QP_ERANGE ? "out_of_range" : "invalid_value", "id",
                         "the id in the path must be a decimal integer below 2^128");
        return -2;
      }
    }
    return (int)i;
  }
  if (*allow != NULL)
    qp_api_error_set(err, 405, "method_not_allowed", "", "%s is not allowed here; allowed: %s",
                     method, *allow);
  else
    qp_api_error_set(err, 404, "not_found", "", "no such route; see GET /v1/openapi.json");
  return -1;
}
