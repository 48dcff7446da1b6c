/*
 * server.c - the HTTP side: libmicrohttpd setup, per-request bookkeeping,
 * the checks every request passes before a route handler sees it, and the
 * graceful stop.
 *
 * One thread per connection (libmicrohttpd's own), so a handler may block
 * while the writer commits its batch without stalling other connections.
 * Before a handler runs, a request goes through, in order: the drain and
 * connection-limit checks (503), the body-size limit (413, from
 * Content-Length before any byte is read, else while reading), the route
 * table (404/405), the API key (401) and its scopes (403), and the content
 * type of a POST (415).  Every answer, errors included, carries
 * X-Request-Id and is counted in the metrics.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "api/api_int.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "base/log.h"

#define CONNECTIONS_HEADROOM 32u /* accepted past the limit, to answer 503 */
#define REQUEST_ID_MAX 64u       /* longest X-Request-Id echoed back */
#define BODY_INITIAL_BYTES 4096u /* first allocation for a body */

/* Per-request state, libmicrohttpd's *con_cls. */
typedef struct request_ctx {
  uint64_t start_ns;   /* monotonic, first call */
  char request_id[40]; /* X-Request-Id */
  char *body;          /* qp_malloc'ed, grows to body_bytes_max */
  size_t body_len;     /* bytes in body */
  size_t body_cap;     /* bytes allocated */
  bool too_large;      /* body passed the limit: answer 413 */
  bool overloaded;     /* bodies in flight passed their budget: answer 503 */
  bool answered;       /* a response was queued on the first call */
} request_ctx_t;

void qp_api_options_default(qp_api_options_t *o) {
  memset(o, 0, sizeof *o);
  o->listen = QP_API_LISTEN_DEFAULT;
  o->body_bytes_max = QP_API_BODY_BYTES_MAX_DEFAULT;
  o->inflight_bytes_max = QP_API_INFLIGHT_BYTES_MAX_DEFAULT;
  o->events_max = QP_API_EVENTS_MAX_DEFAULT;
  o->connections_max = QP_API_CONNECTIONS_MAX_DEFAULT;
  o->timeout_s = QP_API_TIMEOUT_S_DEFAULT;
  o->body_timeout_s = QP_API_BODY_TIMEOUT_S_DEFAULT;
  o->queue_max = QP_API_QUEUE_MAX_DEFAULT;
  o->shutdown_grace_ms = QP_API_SHUTDOWN_GRACE_MS_DEFAULT;
}

uint16_t qp_api_server_port(const qp_api_server_t *s) { return s->port; }

void qp__api_reply_error(qp__api_reply_t *r, const qp_api_error_t *err) {
  json_decref(r->json);
  r->json = qp_api_error_json(err);
  r->status = err->status != 0 ? err->status : 500;
}

/* ------------------------------------------------------------------ keys */

static uint64_t stat_identity(const char *path, struct stat *st) {
  if (stat(path, st) != 0) {
    memset(st, 0, sizeof *st);
    return 0;
  }
  return 1;
}

/* Reloads the key file if it changed since the last look, at most every
 * QP__API_KEYS_CHECK_MS.  Called with the cache mutex held. */
static void keys_refresh(qp_api_server_t *s, bool force) {
  qp__api_keycache_t *c = &s->keys;
  uint64_t now = qp__api_now_ns();
  if (!force && now - c->checked_ns < (uint64_t)QP__API_KEYS_CHECK_MS * 1000000u) return;
  c->checked_ns = now;
  char path[1200];
  if (qp_api_keys_path(s->data_dir, path, sizeof path) != 0) return;
  struct stat st;
  stat_identity(path, &st);
  int64_t mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
  if (!force && (uint64_t)st.st_ino == c->file_ino && mtime_ns == c->file_mtime_ns &&
      (int64_t)st.st_size == c->file_size)
    return;
  qp_api_key_t *keys = NULL;
  uint32_t count = 0;
  char detail[256];
  int rc = qp_api_keys_load(s->data_dir, &keys, &count, detail, sizeof detail);
  if (rc != 0) {
    /* Keep the keys we had: a damaged file must not lock everyone out, nor
     * let anyone in. */
    QP_LOG_ERROR("api", "cannot reload API keys (keeping the previous set): %s", detail);
    return;
  }
  qp_free(c->keys);
  c->keys = keys;
  c->count = count;
  c->file_ino = (uint64_t)st.st_ino;
  c->file_mtime_ns = mtime_ns;
  c->file_size = (int64_t)st.st_size;
  if (!force) QP_LOG_INFO("api", "API keys reloaded: %u keys", count);
}

/* Authenticates the request: fills *scopes, or returns false with err set. */
static bool authenticate(qp_api_server_t *s, struct MHD_Connection *conn, uint32_t *scopes,
                         qp_api_error_t *err) {
  if (s->options.insecure_no_auth) {
    *scopes = QP_API_SCOPES_ALL;
    return true;
  }
  const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (h == NULL) {
    qp_api_error_set(err, 401, "unauthorized", "", "missing Authorization: Bearer <api key>");
    return false;
  }
  if (strncasecmp(h, "Bearer ", 7) != 0) {
    qp_api_error_set(err, 401, "unauthorized", "",
                     "the Authorization header must be 'Bearer <api key>'");
    return false;
  }
  const char *key = h + 7;
  while (*key == ' ') key++;
  size_t len = strlen(key);
  while (len > 0 && key[len - 1] == ' ') len--;
  pthread_mutex_lock(&s->keys.mutex);
  keys_refresh(s, false);
  int i = qp_api_keys_match(s->keys.keys, s->keys.count, key, len);
  if (i >= 0) *scopes = s->keys.keys[i].scopes;
  pthread_mutex_unlock(&s->keys.mutex);
  if (i < 0) {
    qp_api_error_set(err, 401, "unauthorized", "", "the API key is not valid (unknown or revoked)");
    return false;
  }
  return true;
}

static bool has_scope(uint32_t have, uint32_t need) {
  if (have & QP_API_SCOPE_ADMIN) return true;
  return (have & need) == need;
}

/* ------------------------------------------------------------- replies */

static const char *retry_after(unsigned status) {
  return (status == 429 || status == 503) ? "1" : NULL;
}

/* Sends the reply and counts it.  Consumes r's body. */
static enum MHD_Result send_reply(qp_api_server_t *s, struct MHD_Connection *conn,
                                  const request_ctx_t *ctx, uint32_t route, qp__api_reply_t *r) {
  struct MHD_Response *resp = NULL;
  if (r->text != NULL) {
    resp = MHD_create_response_from_buffer_with_free_callback(strlen(r->text), r->text, qp_free);
    if (resp == NULL) qp_free(r->text);
  } else {
    char *text = r->json != NULL ? json_dumps(r->json, JSON_COMPACT) : NULL;
    json_decref(r->json);
    if (text == NULL) {
      static const char oom[] =
          "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\",\"path\":\"\"}}";
      r->status = 500;
      resp = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
    } else {
      resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    }
    r->content_type = "application/json";
  }
  r->text = NULL;
  r->json = NULL;
  if (resp == NULL) return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
  MHD_add_response_header(resp, "X-Request-Id", ctx->request_id);
  if (r->allow != NULL) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
  if (r->status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
  if (retry_after(r->status) != NULL)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, retry_after(r->status));
  if (r->close || atomic_load(&s->draining))
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  enum MHD_Result ok = MHD_queue_response(conn, r->status, resp);
  MHD_destroy_response(resp);
  uint64_t us = (qp__api_now_ns() - ctx->start_ns) / 1000u;
  qp__api_metrics_request(&s->metrics, route, r->status, us);
  if (r->status >= 500)
    QP_LOG_WARN("api", "request %s answered %u", ctx->request_id, r->status);
  else
    QP_LOG_DEBUG("api", "request %s answered %u in %llu us", ctx->request_id, r->status,
                 (unsigned long long)us);
  return ok;
}

static enum MHD_Result send_error(qp_api_server_t *s, struct MHD_Connection *conn,
                                  const request_ctx_t *ctx, uint32_t route,
                                  const qp_api_error_t *err, bool close) {
  qp__api_reply_t r = {0};
  qp__api_reply_error(&r, err);
  r.close = close;
  return send_reply(s, conn, ctx, route, &r);
}

/* -------------------------------------------------------- request flow */

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
static void assign_request_id(qp_api_server_t *s, struct MHD_Connection *conn, request_ctx_t *ctx) {
  const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
  if (given != NULL && valid_request_id(given) && strlen(given) < sizeof ctx->request_id) {
    memcpy(ctx->request_id, given, strlen(given) + 1);
    return;
  }
  uint64_t seq = atomic_fetch_add(&s->request_seq, 1);
  snprintf(ctx->request_id, sizeof ctx->request_id, "%016llx%08llx",
           (unsigned long long)s->request_id_salt, (unsigned long long)(seq & 0xffffffffu));
}

/* Checks done on the first call, before any body byte is read. */
static bool early_checks(qp_api_server_t *s, struct MHD_Connection *conn, qp_api_error_t *err,
                         bool *close) {
  *close = true;
  if (atomic_load(&s->draining)) {
    qp_api_error_set(err, 503, "shutting_down", "", "the server is shutting down");
    return false;
  }
  if (atomic_load(&s->connections) > s->options.connections_max) {
    atomic_fetch_add(&s->metrics.connections_refused, 1);
    qp_api_error_set(err, 503, "too_many_connections", "",
                     "the server has %u connections open, its limit; retry later",
                     s->options.connections_max);
    return false;
  }
  const char *cl =
      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (cl != NULL) {
    qp_u128 declared = 0;
    if (qp_api_parse_u128(cl, &declared) == 0 && declared > s->options.body_bytes_max) {
      qp_api_error_set(err, 413, "body_too_large", "",
                       "the body has %s bytes; at most %llu are allowed", cl,
                       (unsigned long long)s->options.body_bytes_max);
      return false;
    }
  }
  *close = false;
  return true;
}

/* Drops the body read so far and gives its bytes back to the budget. */
static void release_body(qp_api_server_t *s, request_ctx_t *ctx) {
  atomic_fetch_sub(&s->body_bytes_held, ctx->body_cap);
  qp_free(ctx->body);
  ctx->body = NULL;
  ctx->body_len = ctx->body_cap = 0;
}

/* Appends upload data to the body, up to the per-request limit and within
 * the budget for all bodies held at once (a body of N bytes becomes a JSON
 * tree several times larger, so many big bodies at once are what would
 * exhaust memory; past the budget a request gets 503, not a crash). */
static void accumulate(qp_api_server_t *s, request_ctx_t *ctx, const char *data, size_t size) {
  if (ctx->too_large || ctx->overloaded) return;
  if (ctx->body_len + size > s->options.body_bytes_max) {
    ctx->too_large = true;
    release_body(s, ctx);
    return;
  }
  if (ctx->body_len + size > ctx->body_cap) {
    size_t cap = ctx->body_cap ? ctx->body_cap : BODY_INITIAL_BYTES;
    while (cap < ctx->body_len + size) cap *= 2;
    if (cap > s->options.body_bytes_max) cap = (size_t)s->options.body_bytes_max;
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
}

static bool is_json_content_type(struct MHD_Connection *conn) {
  const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  if (ct == NULL) return false;
  static const char want[] = "application/json";
  if (strncasecmp(ct, want, sizeof want - 1) != 0) return false;
  char next = ct[sizeof want - 1];
  return next == '\0' || next == ';' || next == ' ';
}

/* Runs the request through route, auth and content checks, then its handler. */
static enum MHD_Result dispatch(qp_api_server_t *s, struct MHD_Connection *conn, request_ctx_t *ctx,
                                const char *url, const char *method) {
  const uint32_t unmatched = QP__API_ROUTES_MAX - 1;
  qp_api_error_t err;
  const char *allow = NULL;
  qp__api_request_t req = {.conn = conn, .method = method, .url = url, .route = unmatched};
  int route = qp__api_route_match(method, url, &allow, &req.path_id, &err);
  if (route == -1) {
    qp__api_reply_t r = {.allow = allow};
    qp__api_reply_error(&r, &err);
    return send_reply(s, conn, ctx, unmatched, &r);
  }
  uint32_t slot = route >= 0 ? (uint32_t)route : unmatched;
  const qp__api_route_t *rt = route >= 0 ? qp__api_route_get((uint32_t)route) : NULL;
  bool public_route = rt != NULL && rt->public_route;
  if (!public_route && !authenticate(s, conn, &req.scopes, &err))
    return send_error(s, conn, ctx, slot, &err, false);
  if (route == -2) return send_error(s, conn, ctx, slot, &err, false); /* bad {id} */
  if (!public_route && !has_scope(req.scopes, rt->scope)) {
    char need[64];
    qp_api_scopes_format(rt->scope, need, sizeof need);
    qp_api_error_set(&err, 403, "forbidden", "", "this API key lacks the scope %s (or admin)",
                     need);
    return send_error(s, conn, ctx, slot, &err, false);
  }
  if (ctx->overloaded) {
    qp_api_error_set(&err, 503, "overloaded", "",
                     "the server holds too many request bodies at once; retry shortly");
    return send_error(s, conn, ctx, slot, &err, true);
  }
  if (ctx->too_large) {
    qp_api_error_set(&err, 413, "body_too_large", "", "the body exceeds %llu bytes",
                     (unsigned long long)s->options.body_bytes_max);
    return send_error(s, conn, ctx, slot, &err, true);
  }
  if (strcmp(method, "POST") == 0 && !is_json_content_type(conn)) {
    qp_api_error_set(&err, 415, "unsupported_media_type", "",
                     "the body must be sent with Content-Type: application/json");
    return send_error(s, conn, ctx, slot, &err, false);
  }
  req.route = slot;
  req.body = ctx->body;
  req.body_len = ctx->body_len;
  memcpy(req.request_id, ctx->request_id, sizeof req.request_id);
  qp__api_reply_t r = {0};
  rt->handler(s, &req, &r);
  return send_reply(s, conn, ctx, slot, &r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
  (void)version;
  qp_api_server_t *s = cls;
  request_ctx_t *ctx = *con_cls;
  if (ctx == NULL) {
    ctx = qp_calloc(1, sizeof *ctx);
    if (ctx == NULL) return MHD_NO;
    ctx->start_ns = qp__api_now_ns();
    atomic_fetch_add(&s->in_flight, 1);
    *con_cls = ctx;
    assign_request_id(s, conn, ctx);
    qp_api_error_t err;
    bool close;
    if (!early_checks(s, conn, &err, &close)) {
      ctx->answered = true;
      return send_error(s, conn, ctx, QP__API_ROUTES_MAX - 1, &err, close);
    }
    return MHD_YES;
  }
  if (ctx->answered) {
    *upload_data_size = 0; /* discard whatever still arrives */
    return MHD_YES;
  }
  if (*upload_data_size > 0) {
    /* The idle timeout alone lets a client trickle a byte every few
     * seconds forever; this bounds the whole body.  libmicrohttpd cannot
     * answer in the middle of an upload, so the connection is closed. */
    if (qp__api_now_ns() - ctx->start_ns > (uint64_t)s->options.body_timeout_s * 1000000000u) {
      QP_LOG_WARN("api", "request %s: body not complete after %u s; closing the connection",
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

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)conn;
  (void)toe;
  qp_api_server_t *s = cls;
  request_ctx_t *ctx = *con_cls;
  if (ctx == NULL) return;
  release_body(s, ctx);
  qp_free(ctx);
  *con_cls = NULL;
  atomic_fetch_sub(&s->in_flight, 1);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
  (void)conn;
  (void)socket_context;
  qp_api_server_t *s = cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED)
    atomic_fetch_add(&s->connections, 1);
  else
    atomic_fetch_sub(&s->connections, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  size_t n = strlen(line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
  QP_LOG_DEBUG("http", "%s", line);
}

/* ------------------------------------------------------------ lifecycle */

/* Splits "HOST:PORT" or "[V6]:PORT" and resolves it (numeric port). */
static int resolve_listen(const char *listen, struct sockaddr_storage *addr, socklen_t *addr_len,
                          char *detail, size_t detail_size) {
  char host[256];
  const char *colon = strrchr(listen, ':');
  if (colon == NULL || colon == listen || colon[1] == '\0') {
    snprintf(detail, detail_size, "bad listen address '%s': expected HOST:PORT", listen);
    return QP_EINVAL;
  }
  const char *h = listen;
  size_t hlen = (size_t)(colon - listen);
  if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
    h++;
    hlen -= 2;
  }
  if (hlen == 0 || hlen >= sizeof host) {
    snprintf(detail, detail_size, "bad listen address '%s'", listen);
    return QP_EINVAL;
  }
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  qp_u128 port = 0;
  if (qp_api_parse_u128(colon + 1, &port) != 0 || port > 65535) {
    snprintf(detail, detail_size, "bad port in '%s': expected 0..65535", listen);
    return QP_EINVAL;
  }
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
  struct addrinfo *res = NULL;
  int g = getaddrinfo(host, colon + 1, &hints, &res);
  if (g != 0 || res == NULL) {
    snprintf(detail, detail_size, "cannot resolve listen address '%s': %s", listen,
             gai_strerror(g));
    return QP_EINVAL;
  }
  memcpy(addr, res->ai_addr, res->ai_addrlen);
  *addr_len = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

static bool is_loopback(const struct sockaddr_storage *addr) {
  if (addr->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)addr;
    return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  }
  if (addr->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)addr;
    return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
  }
  return false;
}

static int start_daemon(qp_api_server_t *s, const struct sockaddr_storage *addr, char *detail,
                        size_t detail_size) {
  unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                       MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  if (addr->ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  s->daemon =
      MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                       (const struct sockaddr *)addr, MHD_OPTION_CONNECTION_LIMIT,
                       (unsigned int)(s->options.connections_max + CONNECTIONS_HEADROOM),
                       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)s->options.timeout_s,
                       MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
                       on_connection, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                       MHD_OPTION_LISTEN_BACKLOG_SIZE, 512u, MHD_OPTION_END);
  if (s->daemon == NULL) {
    snprintf(detail, detail_size, "cannot listen on %s (address in use, or not permitted)",
             s->options.listen);
    return QP_EIO;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info != NULL ? info->port : 0;
  return 0;
}

static int check_options(const qp_api_options_t *o, char *detail, size_t detail_size) {
  if (o->events_max == 0 || o->events_max > QP_BATCH_EVENTS_MAX) {
    snprintf(detail, detail_size, "events per batch must be 1..%u", QP_BATCH_EVENTS_MAX);
    return QP_EINVAL;
  }
  if (o->body_bytes_max < 64 || o->connections_max == 0 || o->queue_max == 0 || o->timeout_s == 0 ||
      o->inflight_bytes_max < BODY_INITIAL_BYTES ||
      o->body_timeout_s == 0) {
    snprintf(detail, detail_size, "body limit >= 64 bytes, connections, queue and timeout >= 1");
    return QP_EINVAL;
  }
  return 0;
}

int qp_api_server_start(qp_db_t *db, const char *data_dir, const qp_api_options_t *options,
                        qp_api_server_t **out, char *detail, size_t detail_size) {
  *out = NULL;
  int rc = check_options(options, detail, detail_size);
  struct sockaddr_storage addr;
  socklen_t addr_len = 0;
  if (rc == 0) rc = resolve_listen(options->listen, &addr, &addr_len, detail, detail_size);
  if (rc != 0) return rc;
  if (options->insecure_no_auth && !is_loopback(&addr)) {
    snprintf(detail, detail_size,
             "--insecure-no-auth is only allowed on a loopback address, not %s", options->listen);
    return QP_EINVAL;
  }
  if (strlen(data_dir) >= sizeof(((qp_api_server_t *)0)->data_dir)) return QP_ERANGE;
  if (qp_crypto_init() != 0) return QP_EIO;
  qp_api_server_t *s = qp_calloc(1, sizeof *s);
  if (s == NULL) return QP_ENOMEM;
  s->db = db;
  memcpy(s->data_dir, data_dir, strlen(data_dir) + 1);
  s->options = *options;
  randombytes_buf(&s->request_id_salt, sizeof s->request_id_salt);
  pthread_mutex_init(&s->keys.mutex, NULL);
  pthread_mutex_lock(&s->keys.mutex);
  keys_refresh(s, true);
  uint32_t keys_at_start = s->keys.count; /* request threads may reload it later */
  pthread_mutex_unlock(&s->keys.mutex);
  rc = qp__api_writer_start(&s->writer, db, options->queue_max, &s->metrics);
  if (rc == 0) {
    rc = start_daemon(s, &addr, detail, detail_size);
    if (rc != 0) qp__api_writer_stop(&s->writer);
  }
  if (rc != 0) {
    pthread_mutex_destroy(&s->keys.mutex);
    qp_free(s->keys.keys);
    qp_free(s);
    return rc;
  }
  if (options->insecure_no_auth)
    QP_LOG_WARN("api", "--insecure-no-auth: every request is allowed everything, without a key");
  else if (keys_at_start == 0)
    QP_LOG_WARN("api",
                "no API keys yet: create one with `quipu keys create --data %s --name NAME "
                "--scope ledger:read,ledger:write`",
                data_dir);
  *out = s;
  return 0;
}

void qp_api_server_stop(qp_api_server_t *s) {
  if (s == NULL) return;
  atomic_store(&s->draining, true);
  MHD_socket listen_fd = MHD_quiesce_daemon(s->daemon);
  uint64_t deadline = qp__api_now_ns() + (uint64_t)s->options.shutdown_grace_ms * 1000000u;
  while (atomic_load(&s->in_flight) > 0 && qp__api_now_ns() < deadline) {
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  if (atomic_load(&s->in_flight) > 0)
    QP_LOG_WARN("api", "%u requests still in flight after the grace period; closing them",
                atomic_load(&s->in_flight));
  /* Joins every connection thread, so no handler is left waiting on the
   * writer when it stops below. */
  MHD_stop_daemon(s->daemon);
  if (listen_fd != MHD_INVALID_SOCKET) close(listen_fd);
  qp__api_writer_stop(&s->writer);
  pthread_mutex_destroy(&s->keys.mutex);
  qp_free(s->keys.keys);
  qp_free(s);
}
