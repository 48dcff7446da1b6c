/*
 * server.c - the HTTP server's life: options, the route table built from
 * every module's routes, libmicrohttpd's daemon, and the graceful stop.
 *
 * One thread per connection (libmicrohttpd's own), so a handler may block
 * (the ledger's wait for their group commit) without stalling other
 * connections.  The route table and the OpenAPI document are built once,
 * at start, and only read afterwards.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "http/http_int.h"

/* libmicrohttpd accepts up to twice the connection limit plus this, so
 * that connections past a client address's share (which do not count
 * against the limit, conns.c) and those past the limit can be answered 503
 * rather than refused. */
#define CONNECTIONS_HEADROOM 32u
#define DRAIN_FLUSH_MS 50        /* after the drain, for the last answers to leave */

void qp_http_options_default(qp_http_options_t *o) {
  memset(o, 0, sizeof *o);
  o->listen = QP_HTTP_LISTEN_DEFAULT;
  o->body_bytes_max = QP_HTTP_BODY_BYTES_MAX_DEFAULT;
  o->inflight_bytes_max = QP_HTTP_INFLIGHT_BYTES_MAX_DEFAULT;
  o->json_request_bytes_max = QP_HTTP_JSON_REQUEST_BYTES_MAX_DEFAULT;
  o->json_bytes_max = QP_HTTP_JSON_BYTES_MAX_DEFAULT;
  o->connections_max = QP_HTTP_CONNECTIONS_MAX_DEFAULT;
  o->timeout_s = QP_HTTP_TIMEOUT_S_DEFAULT;
  o->body_timeout_s = QP_HTTP_BODY_TIMEOUT_S_DEFAULT;
  o->head_timeout_s = QP_HTTP_HEAD_TIMEOUT_S_DEFAULT;
  o->connections_per_address_max = QP_HTTP_CONNECTIONS_PER_ADDRESS_MAX_DEFAULT;
  o->shutdown_grace_ms = QP_HTTP_SHUTDOWN_GRACE_MS_DEFAULT;
  o->streams_max = QP_HTTP_STREAMS_MAX_DEFAULT;
}

uint16_t qp_http_server_port(const qp_http_server_t *s) { return s->port; }

bool qp_http_server_tls(const qp_http_server_t *s) { return s->tls; }

const char *qp_http_server_openapi(const qp_http_server_t *s) { return s->openapi; }

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
  qp_http_server_t *s = cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED)
    qp__http_conn_opened(s, conn, socket_context);
  else
    qp__http_conn_closed(s, socket_context);
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
  unsigned long port = 0;
  char *end = NULL;
  port = strtoul(colon + 1, &end, 10);
  if (end == colon + 1 || *end != '\0' || colon[1] == '-' || port > 65535) {
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

static int check_options(const qp_http_options_t *o, char *detail, size_t detail_size) {
  if (o->listen == NULL || strlen(o->listen) >= sizeof(((qp_http_server_t *)0)->listen)) {
    snprintf(detail, detail_size, "a listen address HOST:PORT is needed");
    return QP_EINVAL;
  }
  if (o->body_bytes_max < 64 || o->connections_max == 0 || o->timeout_s == 0 ||
      o->inflight_bytes_max < 4096 || o->body_timeout_s == 0 || o->head_timeout_s == 0 ||
      o->connections_per_address_max == 0) {
    snprintf(detail, detail_size,
             "body limit >= 64 bytes, in-flight budget >= 4096, connections and timeouts >= 1");
    return QP_EINVAL;
  }
  if (o->public_rate_per_s > QP_HTTP_KEY_RATE_MAX ||
      (o->public_rate_per_s > 0 && (o->public_burst == 0 || o->public_burst >
                                    QP_HTTP_KEY_RATE_MAX))) {
    snprintf(detail, detail_size, "the per-address limit's rate and burst are 1..%u",
             QP_HTTP_KEY_RATE_MAX);
    return QP_EINVAL;
  }
  return qp_http_scope_limits_check(o->scope_limits, o->scope_limits_count, detail, detail_size);
}

int qp_http_server_create(const char *data_dir, const qp_http_options_t *options,
                          qp_http_server_t **out, char *detail, size_t detail_size) {
  *out = NULL;
  int rc = check_options(options, detail, detail_size);
  if (rc != 0) return rc;
  if (strlen(data_dir) >= sizeof(((qp_http_server_t *)0)->data_dir)) return QP_ERANGE;
  if (qp_crypto_init() != 0) return QP_EIO;
  qp_http_json_alloc_install();
  qp_http_server_t *s = qp_calloc(1, sizeof *s);
  if (s == NULL) return QP_ENOMEM;
  memcpy(s->data_dir, data_dir, strlen(data_dir) + 1);
  s->options = *options;
  memcpy(s->listen, options->listen, strlen(options->listen) + 1);
  s->options.listen = s->listen;
  /* 0 = the default, for callers that fill the struct themselves. */
  if (s->options.json_request_bytes_max == 0)
    s->options.json_request_bytes_max = QP_HTTP_JSON_REQUEST_BYTES_MAX_DEFAULT;
  if (s->options.json_bytes_max == 0) s->options.json_bytes_max = QP_HTTP_JSON_BYTES_MAX_DEFAULT;
  randombytes_buf(&s->request_id_salt, sizeof s->request_id_salt);
  pthread_mutex_init(&s->keys.mutex, NULL);
  qp__http_scope_table_init(&s->scope_buckets);
  qp__http_public_table_init(&s->public_buckets);
  pthread_mutex_init(&s->conns_mutex, NULL);
  pthread_mutex_init(&s->reaper_mutex, NULL);
  pthread_cond_init(&s->reaper_cond, NULL);
  qp__http_core_init(s);
  s->modules[s->modules_count++] = &s->core;
  *out = s;
  return 0;
}

/* Is method+pattern served already (by any module added so far)? */
static const qp_http_module_t *route_owner(const qp_http_server_t *s, const qp_http_route_t *r) {
  for (uint32_t m = 0; m < s->modules_count; m++)
    for (uint32_t i = 0; i < s->modules[m]->routes_count; i++) {
      const qp_http_route_t *o = &s->modules[m]->routes[i];
      if (strcmp(o->method, r->method) == 0 && strcmp(o->pattern, r->pattern) == 0)
        return s->modules[m];
    }
  return NULL;
}

int qp_http_server_add(qp_http_server_t *s, const qp_http_module_t *module, char *detail,
                       size_t detail_size) {
  QP_ASSERT(s->daemon == NULL);
  if (s->modules_count == QP__HTTP_MODULES_MAX) {
    snprintf(detail, detail_size, "too many modules (at most %u)", QP__HTTP_MODULES_MAX);
    return QP_ELIMIT;
  }
  for (uint32_t i = 0; i < module->routes_count; i++) {
    const qp_http_route_t *r = &module->routes[i];
    uint32_t literals = 0, params = 0;
    if (r->handler == NULL || qp__http_pattern_check(r->pattern, &literals, &params) != 0) {
      snprintf(detail, detail_size, "module %s: bad route %s %s", module->name, r->method,
               r->pattern != NULL ? r->pattern : "(null)");
      return QP_EINVAL;
    }
    const qp_http_module_t *owner = route_owner(s, r);
    if (owner != NULL) {
      snprintf(detail, detail_size, "module %s: %s %s is served by module %s already",
               module->name, r->method, r->pattern, owner->name);
      return QP_EEXISTS;
    }
  }
  s->modules[s->modules_count++] = module;
  return 0;
}

/* Builds the route table from every module, in order. */
static int build_table(qp_http_server_t *s) {
  uint32_t count = 0;
  for (uint32_t m = 0; m < s->modules_count; m++) count += s->modules[m]->routes_count;
  if (count > QP__HTTP_ROUTES_MAX) return QP_ELIMIT;
  s->table.entries = qp_calloc(count + 1, sizeof *s->table.entries);
  if (s->table.entries == NULL) return QP_ENOMEM;
  uint32_t n = 0;
  for (uint32_t m = 0; m < s->modules_count; m++)
    for (uint32_t i = 0; i < s->modules[m]->routes_count; i++, n++) {
      qp__http_entry_t *e = &s->table.entries[n];
      e->route = s->modules[m]->routes[i];
      e->module = s->modules[m] == &s->core ? NULL : s->modules[m];
      if (e->module == NULL && s->options.metrics_key_required &&
          strcmp(e->route.pattern, "/metrics") == 0)
        e->route.public_route = false;
      int rc = qp__http_pattern_check(e->route.pattern, &e->literals, &e->params_count);
      QP_ASSERT(rc == 0); /* checked by qp_http_server_add */
    }
  s->table.count = n;
  return 0;
}

static int start_daemon(qp_http_server_t *s, const struct sockaddr_storage *addr,
                        const qp__http_tls_t *tls, char *detail, size_t detail_size) {
  unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                       MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  if (addr->ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  /* libmicrohttpd keeps these pointers without copying and reads them only
   * while it starts (tls.c), so the caller frees them right after. */
  struct MHD_OptionItem tls_options[] = {
      {MHD_OPTION_HTTPS_MEM_CERT, 0, tls->cert_pem},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, tls->key_pem},
      {MHD_OPTION_END, 0, NULL}};
  if (tls->cert_pem != NULL)
    flags |= MHD_USE_TLS;
  else
    tls_options[0].option = MHD_OPTION_END;
  s->daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, qp__http_on_request, s, MHD_OPTION_SOCK_ADDR,
      (const struct sockaddr *)addr, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned int)(2 * s->options.connections_max + CONNECTIONS_HEADROOM),
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)s->options.timeout_s,
      MHD_OPTION_NOTIFY_COMPLETED, qp__http_on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
      on_connection, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
      MHD_OPTION_LISTEN_BACKLOG_SIZE, 512u, MHD_OPTION_URI_LOG_CALLBACK, qp__http_on_uri, s,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)QP__HTTP_CONNECTION_MEMORY_BYTES,
      MHD_OPTION_ARRAY, tls_options, MHD_OPTION_END);
  if (s->daemon == NULL) {
    snprintf(detail, detail_size, "cannot listen on %s (address in use, or not permitted)",
             s->options.listen);
    return QP_EIO;
  }
  s->tls = tls->cert_pem != NULL;
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info != NULL ? info->port : 0;
  return 0;
}

/* HTTPS when both PEM files are given (they are read into tls); plaintext
 * only on loopback unless insecure_plaintext says a network is fine. */
static int check_transport(const qp_http_server_t *s, const struct sockaddr_storage *addr,
                           qp__http_tls_t *tls, char *detail, size_t detail_size) {
  const qp_http_options_t *o = &s->options;
  bool cert = o->tls_cert != NULL && o->tls_cert[0] != '\0';
  bool key = o->tls_key != NULL && o->tls_key[0] != '\0';
  if (cert != key) {
    snprintf(detail, detail_size,
             "TLS needs both a certificate and its key: give --tls-cert FILE and --tls-key FILE "
             "(node.json http.tls_cert and http.tls_key); %s is missing",
             cert ? "the key" : "the certificate");
    return QP_EINVAL;
  }
  if (cert) return qp__http_tls_load(tls, o->tls_cert, o->tls_key, detail, detail_size);
  if (!is_loopback(addr) && !o->insecure_plaintext) {
    snprintf(detail, detail_size,
             "refusing plaintext HTTP on %s, a non-loopback address: API keys and balances "
             "would cross the network unencrypted; give --tls-cert FILE and --tls-key FILE "
             "(node.json http.tls_cert, http.tls_key), or --insecure-plaintext "
             "(http.insecure_plaintext) when a TLS proxy in front terminates it",
             o->listen);
    return QP_EINVAL;
  }
  return 0;
}

int qp_http_server_start(qp_http_server_t *s, char *detail, size_t detail_size) {
  struct sockaddr_storage addr;
  socklen_t addr_len = 0;
  int rc = resolve_listen(s->options.listen, &addr, &addr_len, detail, detail_size);
  if (rc != 0) return rc;
  if (s->options.insecure_no_auth && !is_loopback(&addr)) {
    snprintf(detail, detail_size,
             "--insecure-no-auth is only allowed on a loopback address, not %s",
             s->options.listen);
    return QP_EINVAL;
  }
  qp__http_tls_t tls = {0};
  rc = check_transport(s, &addr, &tls, detail, detail_size);
  if (rc == 0) rc = build_table(s);
  if (rc == 0) rc = qp__http_openapi_assemble(s, detail, detail_size);
  if (rc != 0) {
    qp__http_tls_deinit(&tls);
    return rc;
  }
  pthread_mutex_lock(&s->keys.mutex);
  rc = qp__http_keys_refresh(&s->keys, s->data_dir, true, detail, detail_size);
  uint32_t keys_at_start = s->keys.count; /* request threads may reload it later */
  pthread_mutex_unlock(&s->keys.mutex);
  if (rc != 0 && !s->options.insecure_no_auth) {
    qp__http_tls_deinit(&tls);
    return rc; /* detail says why */
  }
  rc = start_daemon(s, &addr, &tls, detail, detail_size);
  qp__http_tls_deinit(&tls); /* GnuTLS holds its own copy now; ours is wiped */
  if (rc == 0) rc = qp__http_reaper_start(s);
  if (rc != 0) return rc;
  if (!s->tls && !is_loopback(&addr))
    QP_LOG_WARN("http", "--insecure-plaintext: serving plaintext HTTP on %s", s->options.listen);
  if (s->options.insecure_no_auth)
    QP_LOG_WARN("http", "--insecure-no-auth: every request is allowed everything, without a key");
  else if (keys_at_start == 0)
    QP_LOG_WARN("http",
                "no API keys yet: create one with `quipu keys create --data %s --name NAME "
                "--scope SCOPE` (`quipu keys --help` lists the scopes)",
                s->data_dir);
  return 0;
}

void qp_http_server_each_route(const qp_http_server_t *s,
                               void (*fn)(void *ctx, const char *method, const char *pattern),
                               void *ctx) {
  for (uint32_t m = 0; m < s->modules_count; m++)
    for (uint32_t i = 0; i < s->modules[m]->routes_count; i++)
      fn(ctx, s->modules[m]->routes[i].method, s->modules[m]->routes[i].pattern);
}

/* Waits, up to the grace period, until no admitted request is left.  New
 * requests keep being accepted meanwhile, and answered 503 shutting_down
 * with Connection: close, so a client is told, never left hanging. */
static void drain(qp_http_server_t *s) {
  atomic_store(&s->draining, true);
  uint64_t deadline = qp_clock_mono_ns() + (uint64_t)s->options.shutdown_grace_ms * 1000000u;
  while (atomic_load(&s->working) > 0 && qp_clock_mono_ns() < deadline) {
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  if (atomic_load(&s->working) > 0)
    QP_LOG_WARN("http", "%u requests still in flight after the grace period; closing them",
                atomic_load(&s->working));
  /* Let the last answers (503s included) leave before the sockets close. */
  struct timespec flush = {0, DRAIN_FLUSH_MS * 1000 * 1000};
  nanosleep(&flush, NULL);
}

void qp_http_server_stop(qp_http_server_t *s) {
  if (s == NULL || s->stopped) return;
  s->stopped = true;
  if (s->daemon == NULL) return;
  drain(s);
  MHD_socket listen_fd = MHD_quiesce_daemon(s->daemon);
  /* Joins every connection thread, so no handler is still running in a
   * module when the node closes it. */
  MHD_stop_daemon(s->daemon);
  s->daemon = NULL;
  if (listen_fd != MHD_INVALID_SOCKET) close(listen_fd);
  qp__http_reaper_stop(s);
}

void qp_http_server_destroy(qp_http_server_t *s) {
  if (s == NULL) return;
  qp_http_server_stop(s);
  pthread_mutex_destroy(&s->keys.mutex);
  qp__http_scope_table_deinit(&s->scope_buckets);
  qp__http_public_table_deinit(&s->public_buckets);
  pthread_mutex_destroy(&s->conns_mutex);
  pthread_mutex_destroy(&s->reaper_mutex);
  pthread_cond_destroy(&s->reaper_cond);
  qp_free(s->keys.keys);
  qp_free(s->keys.states);
  qp_free(s->table.entries);
  qp_free(s->openapi);
  qp_free(s);
}
