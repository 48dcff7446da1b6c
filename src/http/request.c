/*
 * request.c - one request's way through the core, and what a handler can
 * ask about it.
 *
 * libmicrohttpd calls on_uri when it has read the request line (the
 * request's context is made there, so the raw target can be looked at),
 * then on_request several times per request: once with the headers, then
 * once per chunk of body, then once more with nothing left.  On the first
 * call the request gets its id, its head is checked (head.c: version,
 * sizes, and the shapes of request smuggling: 505, 414, 431, 400), then the
 * drain state, the connection limit and its route's body limit (from
 * Content-Length, before any byte of body is read: 503, 413); the body is
 * then accumulated within that limit and within the budget for all bodies
 * held at once.  On the last call it goes through the route table
 * (404/405), the API key (401; an expired one too), its rate limit (429),
 * its scopes (403), the per-scope rate limit (429), the body checks and
 * the content type of a POST (415), and only then the handler.  Every
 * answer, errors included, carries X-Request-Id and is counted under its
 * route.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "http/http_int.h"

#define REQUEST_ID_MAX 64u       /* longest X-Request-Id echoed back */
#define BODY_INITIAL_BYTES 4096u /* first allocation for a body */

/* Per-request state, libmicrohttpd's *con_cls. */
typedef struct request_ctx {
  uint64_t start_ns;          /* monotonic, request line read */
  bool started;               /* the first call ran */
  qp__http_target_t target;   /* the raw request target, as on_uri saw it */
  char request_id[REQUEST_ID_MAX + 1]; /* X-Request-Id */
  int route;                  /* table index, or -1 (404), -2 (405), -3 (out of memory) */
  qp__http_params_t params;   /* named segments of the match */
  char allow[64];             /* methods for a 405 */
  uint64_t body_bytes_max;    /* the route's limit, or the server's */
  char *body;                 /* qp_malloc'ed, grows up to body_bytes_max */
  size_t body_len;            /* bytes in body */
  size_t body_cap;            /* bytes allocated */
  bool too_large;             /* body passed the limit: answer 413 */
  bool overloaded;            /* bodies in flight passed their budget: answer 503 */
  bool answered;              /* a response was queued */
  bool working;               /* admitted (counted in the server's `working`) */
} request_ctx_t;

/* ------------------------------------------------------------- replies */

void qp_http_reply_text(qp_http_reply_t *r, unsigned status, char *text,
                        const char *content_type) {
  qp__http_reply_stream_drop(r);
  qp_free(r->body);
  r->status = status;
  r->body = text;
  r->body_len = 0;
  r->content_type = content_type;
  if (text == NULL) qp_http_reply_fail(r, 500, "internal", "", "out of memory");
}

void qp_http_reply_bytes(qp_http_reply_t *r, unsigned status, void *data, size_t len,
                         const char *content_type) {
  qp_http_reply_text(r, status, data, content_type);
  if (data != NULL) r->body_len = len;
}

void qp_http_reply_error(qp_http_reply_t *r, const qp_http_error_t *err) {
  qp__http_reply_stream_drop(r);
  qp_free(r->body);
  r->body_len = 0;
  r->body = qp_http_error_text(err);
  r->content_type = NULL;
  r->status = err->status != 0 ? err->status : 500;
}

void qp_http_reply_fail(qp_http_reply_t *r, unsigned status, const char *code, const char *path,
                        const char *message) {
  qp_http_error_t err;
  qp_http_error_set(&err, status, code, path, "%s", message);
  qp_http_reply_error(r, &err);
}


/* A stream's response; a refused one becomes 503 too_many_streams. */
static struct MHD_Response *make_stream(qp_http_server_t *s, struct MHD_Connection *conn,
                                        qp_http_reply_t *r) {
  bool refused = false;
  struct MHD_Response *resp = qp__http_stream_response(s, r, &refused);
  if (resp != NULL) {
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    return resp;
  }
  char detail[96];
  snprintf(detail, sizeof detail, "%u event streams are open already (http.max_streams)",
           s->options.streams_max);
  if (refused) qp_http_reply_fail(r, 503, "too_many_streams", "", detail);
  else qp_http_reply_fail(r, 500, "internal", "", "out of memory");
  r->retry_after_s = 5;
  return NULL;
}

static struct MHD_Response *make_response(qp_http_server_t *s, struct MHD_Connection *conn,
                                          qp_http_reply_t *r) {
  static const char oom[] =
      "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\",\"path\":\"\"}}";
  struct MHD_Response *resp = NULL;
  if (r->stream != NULL) {
    resp = make_stream(s, conn, r);
    if (resp != NULL) return resp;
  }
  if (r->body != NULL) {
    size_t len = r->body_len != 0 ? r->body_len : strlen(r->body);
    resp = MHD_create_response_from_buffer_with_free_callback(len, r->body, qp_free);
    if (resp == NULL) qp_free(r->body);
  } else {
    if (r->status == 0 || r->status >= 500) {
      r->status = 500;
      r->content_type = NULL;
    }
    resp = MHD_create_response_from_buffer(r->status == 500 ? sizeof oom - 1 : 0, (void *)oom,
                                           MHD_RESPMEM_PERSISTENT);
  }
  r->body = NULL;
  return resp;
}

/* Sends the reply and counts it under route slot `slot`.  Consumes r. */
static enum MHD_Result send_reply(qp_http_server_t *s, struct MHD_Connection *conn,
                                  const request_ctx_t *ctx, uint32_t slot, qp_http_reply_t *r) {
  struct MHD_Response *resp = make_response(s, conn, r);
  if (resp == NULL) {
    qp__http_reply_headers_free(r);
    return MHD_NO;
  }
  const char *type = r->content_type != NULL ? r->content_type : "application/json";
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  for (uint32_t i = 0; i < r->headers_count; i++)
    MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
  qp__http_reply_headers_free(r);
  MHD_add_response_header(resp, "X-Request-Id", ctx->request_id);
  if (r->allow != NULL) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
  if (r->status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
  if (r->status == 429 || r->status == 503) {
    char seconds[16];
    snprintf(seconds, sizeof seconds, "%u", r->retry_after_s != 0 ? r->retry_after_s : 1u);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
  }
  if (r->close || atomic_load(&s->draining))
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  enum MHD_Result ok = MHD_queue_response(conn, r->status, resp);
  MHD_destroy_response(resp);
  uint64_t us = (qp_clock_mono_ns() - ctx->start_ns) / 1000u;
  qp__http_entry_t *e = &s->table.entries[slot];
  atomic_fetch_add_explicit(&e->requests[qp__http_status_slot(r->status)], 1,
                            memory_order_relaxed);
  qp_http_histogram_observe(&e->latency, us);
  if (r->status >= 500)
    QP_LOG_WARN("http", "request %s answered %u", ctx->request_id, r->status);
  else
    QP_LOG_DEBUG("http", "request %s answered %u in %llu us", ctx->request_id, r->status,
                 (unsigned long long)us);
  return ok;
}

static enum MHD_Result send_error(qp_http_server_t *s, struct MHD_Connection *conn,
                                  const request_ctx_t *ctx, uint32_t slot,
                                  const qp_http_error_t *err, bool close) {
  qp_http_reply_t r = {0};
  qp_http_reply_error(&r, err);
  r.close = close;
  return send_reply(s, conn, ctx, slot, &r);
}

/* ------------------------------------------------------- first call */

static bool valid_request_id(const char *v) {
  size_t n = strlen(v);
  if (n == 0 || n > REQUEST_ID_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = v[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.'))
      return false;
  }
  return true;
}

/* The client's X-Request-Id when it is sane, else a fresh one. */
static void assign_request_id(qp_http_server_t *s, struct MHD_Connection *conn,
                              request_ctx_t *ctx) {
  const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
  if (given != NULL && valid_request_id(given)) {
    memcpy(ctx->request_id, given, strlen(given) + 1);
    return;
  }
  uint64_t seq = atomic_fetch_add(&s->request_seq, 1);
  snprintf(ctx->request_id, sizeof ctx->request_id, "%016llx%08llx",
           (unsigned long long)s->request_id_salt, (unsigned long long)(seq & 0xffffffffu));
}

/* Checks done on the first call, before any body byte is read. */
static bool early_checks(qp_http_server_t *s, struct MHD_Connection *conn, request_ctx_t *ctx,
                         qp_http_error_t *err) {
  bool over_address_limit = qp__http_conn_head_complete(s, conn); /* stops the head deadline */
  if (atomic_load(&s->draining)) {
    qp_http_error_set(err, 503, "shutting_down", "", "the server is shutting down");
    return false;
  }
  if (atomic_load(&s->connections) - atomic_load(&s->connections_over_address) >
      s->options.connections_max) {
    atomic_fetch_add(&s->connections_refused, 1);
    qp_http_error_set(err, 503, "too_many_connections", "",
                      "the server has %u connections open, its limit; retry later",
                      s->options.connections_max);
    return false;
  }
  if (over_address_limit) {
    qp_http_error_set(err, 503, "too_many_connections", "",
                      "your address has %u connections open, the limit for one address; "
                      "retry later",
                      s->options.connections_per_address_max);
    return false;
  }
  const char *cl =
      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  unsigned long long declared = 0;
  if (cl != NULL && sscanf(cl, "%20llu", &declared) == 1 && declared > ctx->body_bytes_max) {
    qp_http_error_set(err, 413, "body_too_large", "",
                      "the body has %s bytes; at most %llu are allowed here", cl,
                      (unsigned long long)ctx->body_bytes_max);
    return false;
  }
  return true;
}

void *qp__http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
  (void)cls;
  (void)conn;
  request_ctx_t *ctx = qp_calloc(1, sizeof *ctx);
  if (ctx == NULL) return NULL; /* the first call then closes the connection */
  ctx->start_ns = qp_clock_mono_ns();
  ctx->target.raw_len = strlen(uri);
  ctx->target.nul = strstr(uri, "%00") != NULL;
  return ctx;
}

/* Sets up the request context (made by on_uri) on the first call; false
 * when it was answered already (*rc then says what to do). */
static bool first_call(qp_http_server_t *s, struct MHD_Connection *conn, const char *url,
                       const char *method, const char *version, request_ctx_t *ctx,
                       enum MHD_Result *rc) {
  ctx->started = true;
  assign_request_id(s, conn, ctx);
  ctx->route = qp__http_match(&s->table, method, url, &ctx->params, ctx->allow, sizeof ctx->allow);
  ctx->body_bytes_max = s->options.body_bytes_max;
  if (ctx->route >= 0) {
    uint64_t limit = s->table.entries[ctx->route].route.body_bytes_max;
    if (limit != 0 && limit < ctx->body_bytes_max) ctx->body_bytes_max = limit;
  }
  qp_http_error_t err;
  if (!qp__http_head_check(conn, method, url, version, &ctx->target, &err) ||
      !early_checks(s, conn, ctx, &err)) {
    ctx->answered = true;
    uint32_t slot = ctx->route >= 0 ? (uint32_t)ctx->route : s->table.count;
    *rc = send_error(s, conn, ctx, slot, &err, true);
    return false;
  }
  ctx->working = true;
  atomic_fetch_add(&s->working, 1);
  *rc = MHD_YES;
  return true;
}

/* ----------------------------------------------------------------- body */

/* Drops the body read so far and gives its bytes back to the budget. */
static void release_body(qp_http_server_t *s, request_ctx_t *ctx) {
  atomic_fetch_sub(&s->body_bytes_held, ctx->body_cap);
  qp_free(ctx->body);
  ctx->body = NULL;
  ctx->body_len = ctx->body_cap = 0;
}

/* Appends upload data to the body, up to the route's limit and within the
 * budget for all bodies held at once (a body of N bytes becomes a JSON tree
 * several times larger, so many big bodies at once are what would exhaust
 * memory; past the budget a request gets 503, not a crash). */
static void accumulate(qp_http_server_t *s, request_ctx_t *ctx, const char *data, size_t size) {
  if (ctx->too_large || ctx->overloaded) return;
  if (ctx->body_len + size > ctx->body_bytes_max) {
    ctx->too_large = true;
    release_body(s, ctx);
    return;
  }
  if (ctx->body_len + size + 1 > ctx->body_cap) {
    size_t cap = ctx->body_cap ? ctx->body_cap : BODY_INITIAL_BYTES;
    while (cap < ctx->body_len + size + 1) cap *= 2;
    if (cap > ctx->body_bytes_max + 1) cap = (size_t)ctx->body_bytes_max + 1;
    size_t more = cap - ctx->body_cap;
    uint64_t held = atomic_fetch_add(&s->body_bytes_held, more) + more;
    char *grown = held <= s->options.inflight_bytes_max ? qp_realloc(ctx->body, cap) : NULL;
    if (grown == NULL) {
      atomic_fetch_sub(&s->body_bytes_held, more);
      ctx->overloaded = true;
      release_body(s, ctx);
      return;
    }
    ctx->body = grown;
    ctx->body_cap = cap;
  }
  memcpy(ctx->body + ctx->body_len, data, size);
  ctx->body_len += size;
  ctx->body[ctx->body_len] = '\0'; /* handlers may treat it as a string */
}

static bool is_json_content_type(struct MHD_Connection *conn) {
  const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  if (ct == NULL) return false;
  static const char want[] = "application/json";
  if (strncasecmp(ct, want, sizeof want - 1) != 0) return false;
  char next = ct[sizeof want - 1];
  return next == '\0' || next == ';' || next == ' ';
}

/* ------------------------------------------------------------- dispatch */

/* The checks between routing and the handler: the key (with its expiry
 * and rate limit), the scope (and its limit: bit i of *charged is set when
 * scope_limits[i] was charged), the body, the content type.  false with err
 * set (*retry_after_s for a 429; *close when the connection should not be
 * reused). */
static bool admit(qp_http_server_t *s, struct MHD_Connection *conn, const request_ctx_t *ctx,
                  const qp__http_entry_t *e, qp__http_caller_t *caller, qp_http_error_t *err,
                  uint32_t *retry_after_s, uint32_t *charged, bool *close) {
  *close = false;
  if (e->route.public_route && !qp__http_public_admit(s, conn, &e->route, err, retry_after_s))
    return false;
  if (!e->route.public_route && !qp__http_authenticate(s, conn, caller, err, retry_after_s))
    return false;
  if (!e->route.public_route && !qp_http_scopes_grant(caller->scopes, e->route.scope)) {
    qp_http_error_set(err, 403, "forbidden", "", "this API key lacks the scope %s (or admin)",
                      e->route.scope);
    return false;
  }
  if (!e->route.public_route &&
      !qp__http_scope_admit(s, caller->key_id, e->route.scope, charged, err, retry_after_s))
    return false;
  *close = true;
  if (ctx->overloaded) {
    qp_http_error_set(err, 503, "overloaded", "",
                      "the server holds too many request bodies at once; retry shortly");
    return false;
  }
  if (ctx->too_large) {
    qp_http_error_set(err, 413, "body_too_large", "", "the body exceeds %llu bytes",
                      (unsigned long long)ctx->body_bytes_max);
    return false;
  }
  *close = false;
  if (strcmp(e->route.method, "POST") == 0 && !is_json_content_type(conn)) {
    qp_http_error_set(err, 415, "unsupported_media_type", "",
                      "the body must be sent with Content-Type: application/json");
    return false;
  }
  return true;
}

/* Answers a request whose path matched no route (or no method). */
static enum MHD_Result unrouted(qp_http_server_t *s, struct MHD_Connection *conn,
                                request_ctx_t *ctx, const char *method) {
  qp_http_error_t err;
  qp_http_reply_t r = {0};
  if (ctx->route == -2) {
    qp_http_error_set(&err, 405, "method_not_allowed", "", "%s is not allowed here; allowed: %s",
                      method, ctx->allow);
    r.allow = ctx->allow;
  } else if (ctx->route == -3) {
    qp_http_error_set(&err, 500, "internal", "", "out of memory");
  } else {
    qp_http_error_set(&err, 404, "not_found", "", "no such route; see GET /v1/openapi.json");
  }
  qp_http_reply_error(&r, &err);
  return send_reply(s, conn, ctx, s->table.count, &r);
}

static enum MHD_Result dispatch(qp_http_server_t *s, struct MHD_Connection *conn,
                                request_ctx_t *ctx, const char *url, const char *method) {
  if (ctx->route < 0) return unrouted(s, conn, ctx, method);
  uint32_t slot = (uint32_t)ctx->route;
  const qp__http_entry_t *e = &s->table.entries[slot];
  qp__http_caller_t caller; /* public routes: no key id, no scopes, every ledger */
  memset(&caller, 0, sizeof caller);
  qp_http_error_t err;
  bool close = false;
  uint32_t retry_after_s = 0;
  uint32_t charged = 0;
  qp_http_reply_t r = {0};
  if (!admit(s, conn, ctx, e, &caller, &err, &retry_after_s, &charged, &close)) {
    qp_http_reply_error(&r, &err);
    r.close = close;
    r.retry_after_s = retry_after_s;
    return send_reply(s, conn, ctx, slot, &r);
  }
  qp_http_request_t req = {.conn = conn,
                           .method = method,
                           .path = url,
                           .request_id = ctx->request_id,
                           .body = ctx->body,
                           .body_len = ctx->body_len,
                           .caller = &caller,
                           .server = s,
                           .scopes_charged = charged,
                           .params = ctx->params};
  void *module_ctx = e->module != NULL ? e->module->ctx : s;
  /* The handler's jansson memory is bounded (json_budget.c): a parse that
   * would pass it fails as out of memory, and the module answers 413/503. */
  qp__http_json_budget_begin_shared(
      qp_http_json_budget_for(ctx->body_len, s->options.json_request_bytes_max),
      &s->json_bytes_held, s->options.json_bytes_max);
  e->route.handler(module_ctx, &req, &r);
  qp_http_json_budget_end();
  return send_reply(s, conn, ctx, slot, &r);
}

enum MHD_Result qp__http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls) {
  qp_http_server_t *s = cls;
  request_ctx_t *ctx = *con_cls;
  if (ctx == NULL) return MHD_NO; /* on_uri ran out of memory: close */
  if (!ctx->started) {
    enum MHD_Result rc;
    first_call(s, conn, url, method, version, ctx, &rc);
    return rc;
  }
  if (ctx->answered) {
    *upload_data_size = 0; /* discard whatever still arrives */
    return MHD_YES;
  }
  if (*upload_data_size > 0) {
    /* The idle timeout alone lets a client trickle a byte every few
     * seconds forever; this bounds the whole body.  libmicrohttpd cannot
     * answer in the middle of an upload, so the connection is closed. */
    if (qp_clock_mono_ns() - ctx->start_ns > (uint64_t)s->options.body_timeout_s * 1000000000u) {
      QP_LOG_WARN("http", "request %s: body not complete after %u s; closing the connection",
                  ctx->request_id, s->options.body_timeout_s);
      return MHD_NO;
    }
    accumulate(s, ctx, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  ctx->answered = true;
  return dispatch(s, conn, ctx, url, method);
}

void qp__http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe) {
  (void)toe;
  qp_http_server_t *s = cls;
  request_ctx_t *ctx = *con_cls;
  if (ctx == NULL) return;
  release_body(s, ctx);
  qp__http_params_free(&ctx->params);
  if (ctx->working) atomic_fetch_sub(&s->working, 1);
  qp_free(ctx);
  *con_cls = NULL;
  qp__http_conn_request_done(s, conn);
}

/* --------------------------------------------------------- accessors */

const char *qp_http_method(const qp_http_request_t *req) { return req->method; }
const char *qp_http_path(const qp_http_request_t *req) { return req->path; }
const char *qp_http_request_id(const qp_http_request_t *req) { return req->request_id; }
const char *qp_http_caller_scopes(const qp_http_request_t *req) { return req->caller->scopes; }
const char *qp_http_caller_key_id(const qp_http_request_t *req) { return req->caller->key_id; }

bool qp_http_caller_ledgers_restricted(const qp_http_request_t *req) {
  return req->caller->ledgers_count != 0;
}

bool qp_http_caller_ledger_allowed(const qp_http_request_t *req, uint32_t ledger) {
  const qp__http_caller_t *c = req->caller;
  if (c->ledgers_count == 0) return true;
  for (uint32_t i = 0; i < c->ledgers_count; i++)
    if (c->ledgers[i] == ledger) return true;
  return false;
}

uint32_t qp_http_caller_ledgers(const qp_http_request_t *req, const uint32_t **out) {
  *out = req->caller->ledgers;
  return req->caller->ledgers_count;
}

const char *qp_http_body(const qp_http_request_t *req, size_t *len_out) {
  *len_out = req->body_len;
  return req->body;
}

bool qp_http_caller_may(const qp_http_request_t *req, const char *scope) {
  return qp_http_scopes_grant(req->caller->scopes, scope);
}

const char *qp_http_param(const qp_http_request_t *req, const char *name) {
  for (uint32_t i = 0; i < req->params.count; i++)
    if (strcmp(req->params.names[i], name) == 0) return req->params.values[i];
  return NULL;
}

const char *qp_http_header(const qp_http_request_t *req, const char *name) {
  return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *qp_http_cookie(const qp_http_request_t *req, const char *name) {
  return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

typedef struct query_walk {
  bool (*fn)(void *ctx, const char *key, const char *value); /* the caller's */
  void *ctx;                                                  /* its context */
  bool stopped;                                               /* fn returned false */
} query_walk_t;

static enum MHD_Result query_arg(void *vctx, enum MHD_ValueKind kind, const char *key,
                                 const char *value) {
  (void)kind;
  query_walk_t *w = vctx;
  if (w->stopped) return MHD_NO;
  if (!w->fn(w->ctx, key, value)) w->stopped = true;
  return w->stopped ? MHD_NO : MHD_YES;
}

bool qp_http_query_each(const qp_http_request_t *req,
                        bool (*fn)(void *ctx, const char *key, const char *value), void *ctx) {
  query_walk_t w = {.fn = fn, .ctx = ctx};
  MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_arg, &w);
  return !w.stopped;
}
