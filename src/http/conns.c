/*
 * conns.c - what the core knows about each open connection, so that no
 * client can hold the server with connections that never finish a request
 * (slowloris).  libmicrohttpd's idle timeout restarts on every byte, so a
 * client sending one header line every few seconds would keep a connection
 * forever; and every connection, finished or not, counts against the
 * connection limit.  Two defences:
 *
 *  - a deadline for each request head (head_timeout_s, from the moment the
 *    connection opens or its previous request ends until the headers are
 *    complete): a reaper thread shuts down the socket of any connection
 *    past it, which libmicrohttpd then closes;
 *  - a limit per client address (connections_per_address_max): a
 *    connection past it is answered 503 too_many_connections as soon as
 *    its head is complete, gets only a short head deadline
 *    (OVER_LIMIT_HEAD_MS) if it never completes one, and does not count
 *    against the server's connection limit, so one address flooding the
 *    server cannot push other addresses' clients past that limit.
 *
 * The list of connections is short (at most the connection limit plus the
 * headroom), so both the per-address count and the reaper scan it.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "http/http_int.h"

#define REAPER_PERIOD_MS 250u   /* how often heads are checked */
#define OVER_LIMIT_HEAD_MS 1000u /* head deadline past the per-address limit */

void qp__http_client_address(struct MHD_Connection *conn, char *out, size_t size) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  out[0] = '\0';
  if (ci == NULL || ci->client_addr == NULL) return;
  const struct sockaddr *sa = ci->client_addr;
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
              (socklen_t)size);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
              (socklen_t)size);
}

void qp__http_conn_opened(qp_http_server_t *s, struct MHD_Connection *conn, void **socket_ctx) {
  atomic_fetch_add(&s->connections, 1);
  qp__http_conn_t *c = qp_calloc(1, sizeof *c);
  *socket_ctx = c;
  if (c == NULL) return; /* untracked: the limits still hold through the total count */
  const union MHD_ConnectionInfo *fd =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  c->fd = fd != NULL ? fd->connect_fd : -1;
  qp__http_client_address(conn, c->address, sizeof c->address);
  c->head_started_ns = qp_clock_mono_ns();
  pthread_mutex_lock(&s->conns_mutex);
  uint32_t same = 0;
  for (const qp__http_conn_t *o = s->conns; o != NULL; o = o->next)
    same += strcmp(o->address, c->address) == 0;
  c->over_limit = same >= s->options.connections_per_address_max;
  if (c->over_limit) atomic_fetch_add(&s->connections_over_address, 1);
  c->next = s->conns;
  if (s->conns != NULL) s->conns->prev = c;
  s->conns = c;
  pthread_mutex_unlock(&s->conns_mutex);
}

void qp__http_conn_closed(qp_http_server_t *s, void **socket_ctx) {
  atomic_fetch_sub(&s->connections, 1);
  qp__http_conn_t *c = *socket_ctx;
  if (c == NULL) return;
  pthread_mutex_lock(&s->conns_mutex);
  if (c->prev != NULL) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next != NULL) c->next->prev = c->prev;
  if (c->over_limit) atomic_fetch_sub(&s->connections_over_address, 1);
  pthread_mutex_unlock(&s->conns_mutex);
  qp_free(c);
  *socket_ctx = NULL;
}

static qp__http_conn_t *conn_of(struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci != NULL ? ci->socket_context : NULL;
}

bool qp__http_conn_head_complete(qp_http_server_t *s, struct MHD_Connection *conn) {
  qp__http_conn_t *c = conn_of(conn);
  if (c == NULL) return false;
  pthread_mutex_lock(&s->conns_mutex);
  c->head_started_ns = 0;
  bool over = c->over_limit;
  pthread_mutex_unlock(&s->conns_mutex);
  if (over) atomic_fetch_add(&s->refused_per_address, 1);
  return over;
}

void qp__http_conn_request_done(qp_http_server_t *s, struct MHD_Connection *conn) {
  qp__http_conn_t *c = conn_of(conn);
  if (c == NULL) return;
  pthread_mutex_lock(&s->conns_mutex);
  c->head_started_ns = qp_clock_mono_ns();
  pthread_mutex_unlock(&s->conns_mutex);
}

/* Shuts down every connection whose head is past its deadline. */
static void reap(qp_http_server_t *s, uint64_t now_ns) {
  uint64_t deadline_ns = (uint64_t)s->options.head_timeout_s * 1000000000u;
  pthread_mutex_lock(&s->conns_mutex);
  for (qp__http_conn_t *c = s->conns; c != NULL; c = c->next) {
    if (c->head_started_ns == 0 || c->reaped || c->fd < 0) continue;
    uint64_t limit = c->over_limit ? (uint64_t)OVER_LIMIT_HEAD_MS * 1000000u : deadline_ns;
    if (now_ns - c->head_started_ns <= limit) continue;
    c->reaped = true;
    shutdown(c->fd, SHUT_RDWR); /* libmicrohttpd sees the end and closes it */
    atomic_fetch_add(&s->heads_timed_out, 1);
  }
  pthread_mutex_unlock(&s->conns_mutex);
}

static void *reaper_main(void *arg) {
  qp_http_server_t *s = arg;
  pthread_mutex_lock(&s->reaper_mutex);
  while (!s->reaper_stop) {
    pthread_mutex_unlock(&s->reaper_mutex);
    reap(s, qp_clock_mono_ns());
    pthread_mutex_lock(&s->reaper_mutex);
    struct timespec until;
    qp_clock_deadline_ts(REAPER_PERIOD_MS, &until);
    if (!s->reaper_stop) pthread_cond_timedwait(&s->reaper_cond, &s->reaper_mutex, &until);
  }
  pthread_mutex_unlock(&s->reaper_mutex);
  return NULL;
}

int qp__http_reaper_start(qp_http_server_t *s) {
  s->reaper_stop = false;
  if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0) return QP_ENOMEM;
  s->reaper_started = true;
  return 0;
}

void qp__http_reaper_stop(qp_http_server_t *s) {
  if (!s->reaper_started) return;
  pthread_mutex_lock(&s->reaper_mutex);
  s->reaper_stop = true;
  pthread_cond_signal(&s->reaper_cond);
  pthread_mutex_unlock(&s->reaper_mutex);
  pthread_join(s->reaper, NULL);
  s->reaper_started = false;
}
