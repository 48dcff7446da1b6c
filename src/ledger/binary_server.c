/*
 * binary_server.c - the binary protocol's listener (docs/binary.md): TCP
 * on its own libuv loop and thread, beside the HTTP server.
 *
 * The loop moves bytes: it reads into a per-connection buffer, feeds the
 * streaming decoder (binary_frame.c) and, when a whole checked frame is
 * in, stops reading for that connection.  A create is decoded right there
 * and posted to the same group-commit writer as HTTP's; the writer's
 * thread hands the connection back through the `done` async handle once
 * its batch is fsynced (no thread waits for it: a batch of 1 costs two
 * thread wake-ups per group commit, not four per request as when a pool
 * thread blocked for each).  Auth and lookups run on libuv's thread pool.
 * The reply is written back on the loop; only then is the next frame of
 * that connection decoded, so a connection's frames are answered in order,
 * one at a time, and several connections' creates share one commit.  A
 * refused frame gets an error frame, then the connection closes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "ledger/binary_int.h"

#define READ_BYTES (256u << 10) /* one read at most */

typedef struct qp__bin_server qp__bin_server_t;

struct qp__bin_server {
  qp__ledger_api_t *api; /* borrowed */
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_async_t wake;     /* stop */
  uv_async_t done;     /* the writer finished posted creates (done_head) */
  pthread_mutex_t done_mutex;  /* guards done_head */
  qp__bin_conn_t *done_head;   /* connections whose create is done, from the writer */
  uint32_t inflight;           /* creates posted and not yet back (loop thread) */
  uv_thread_t thread;  /* runs the loop */
  bool stopping;       /* set on the loop thread by on_wake */
  qp__bin_metrics_t metrics;
  char listen[64];     /* as configured */
};

/* Frees the connection once both its handles (tcp, timer) are closed. */
static void conn_free(uv_handle_t *handle) {
  qp__bin_conn_t *c = handle->data;
  if (--c->handles_open > 0) return;
  if (c->counted) atomic_fetch_sub(&c->metrics->connections, 1);
  qp_bin_decoder_deinit(&c->decoder);
  qp_free(c->in);
  qp_free(c->reply);
  qp_free(c);
}

static void conn_close(qp__bin_conn_t *c) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, conn_free);
  if (!uv_is_closing((uv_handle_t *)&c->timer)) uv_close((uv_handle_t *)&c->timer, conn_free);
}

/* A frame was begun binary_frame_timeout_ms ago and is still not complete. */
static void on_stall(uv_timer_t *timer) {
  qp__bin_conn_t *c = timer->data;
  if (!c->busy) conn_close(c);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  qp__bin_conn_t *c = handle->data;
  *buf = uv_buf_init((char *)c->in, READ_BYTES);
}

static void pump(qp__bin_conn_t *c);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void on_written(uv_write_t *req, int status) {
  qp__bin_conn_t *c = req->data;
  c->busy = false;
  if (status != 0 || c->close_after || c->server->stopping) {
    conn_close(c);
    return;
  }
  pump(c);
}

static void send_reply(qp__bin_conn_t *c) {
  uv_buf_t b = uv_buf_init((char *)c->reply, c->reply_len);
  c->write.data = c;
  if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) conn_close(c);
}

static void on_work(uv_work_t *req) { qp__bin_run(req->data); }

static void after_work(uv_work_t *req, int status) {
  qp__bin_conn_t *c = req->data;
  if (status != 0) {
    c->busy = false;
    conn_close(c);
    return;
  }
  send_reply(c); /* even when stopping: a committed batch gets its answer, then the close */
}

/* Decodes what is buffered until a frame is handed to the pool, the input
 * runs out (then reads again) or the stream is refused. */
static void pump(qp__bin_conn_t *c) {
  while (c->in_off < c->in_len) {
    size_t used = 0;
    uint32_t error = 0;
    char message[QP_BIN_MESSAGE_BYTES_MAX];
    int rc = qp_bin_decoder_feed(&c->decoder, c->in + c->in_off, c->in_len - c->in_off, &used,
                                 &c->h, &c->body, &error, message, sizeof message);
    c->in_off += used;
    if (rc == 0) { /* a frame begun: it must be complete within the deadline */
      if (!uv_is_active((uv_handle_t *)&c->timer))
        uv_timer_start(&c->timer, on_stall, c->api->settings.binary_frame_timeout_ms, 0);
      break;
    }
    uv_timer_stop(&c->timer);
    c->busy = true;
    if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    if (rc < 0) {
      qp__bin_error(c, 0, error, message);
      c->close_after = true; /* the decoder stays failed */
      send_reply(c);
      return;
    }
    qp__bin_start_t how = qp__bin_start(c);
    if (how == QP__BIN_REPLY_READY) {
      send_reply(c);
    } else if (how == QP__BIN_POSTED) {
      c->server->inflight++; /* back through on_done */
    } else {
      c->work.data = c;
      if (uv_queue_work(&c->server->loop, &c->work, on_work, after_work) != 0) conn_close(c);
    }
    return;
  }
  c->in_off = c->in_len = 0;
  if (!c->reading) c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  qp__bin_conn_t *c = stream->data;
  if (nread < 0) {
    conn_close(c);
    return;
  }
  if (nread == 0) return;
  c->in_len = (size_t)nread;
  c->in_off = 0;
  pump(c);
}

static void on_connection(uv_stream_t *listener, int status) {
  qp__bin_server_t *s = listener->data;
  if (status != 0 || s->stopping) return;
  qp__bin_conn_t *c = qp_calloc(1, sizeof *c);
  if (c == NULL) return;
  c->server = s;
  c->api = s->api;
  c->metrics = &s->metrics;
  c->in = qp_malloc(READ_BYTES);
  c->reply = qp_malloc(QP_BIN_HEADER_SIZE + QP_BIN_BODY_MAX);
  bool ok = c->in != NULL && c->reply != NULL && qp_bin_decoder_init(&c->decoder) == 0;
  uv_tcp_init(&s->loop, &c->tcp);
  uv_timer_init(&s->loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->handles_open = 2;
  if (atomic_load(&s->metrics.connections) >= QP__BIN_CONNECTIONS_MAX) {
    ok = false; /* accepted only to be closed */
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) == 0)
      atomic_fetch_add(&s->metrics.refused, 1);
  }
  if (!ok || uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  c->counted = true;
  atomic_fetch_add(&s->metrics.connections, 1);
  atomic_fetch_add(&s->metrics.accepted, 1);
  c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
  if (!c->reading) conn_close(c);
}

void qp__bin_server_done(qp__bin_conn_t *c) {
  qp__bin_server_t *s = c->server;
  pthread_mutex_lock(&s->done_mutex);
  c->done_next = s->done_head;
  s->done_head = c;
  /* Sent under the mutex: the loop cannot take c, count it back and close
   * the handle (nothing out, stopping) before this send is over. */
  uv_async_send(&s->done); /* several sends before the loop runs make one call */
  pthread_mutex_unlock(&s->done_mutex);
}

/* The loop's side: replies to every connection whose create is done (also
 * when stopping: a committed batch gets its answer, then the close), and
 * closes the handle once stopping and nothing is out. */
static void on_done(uv_async_t *done) {
  qp__bin_server_t *s = done->data;
  pthread_mutex_lock(&s->done_mutex);
  qp__bin_conn_t *c = s->done_head;
  s->done_head = NULL;
  pthread_mutex_unlock(&s->done_mutex);
  for (qp__bin_conn_t *next; c != NULL; c = next) {
    next = c->done_next;
    s->inflight--;
    qp__bin_finish_create(c);
    send_reply(c);
  }
  if (s->stopping && s->inflight == 0 && !uv_is_closing((uv_handle_t *)done))
    uv_close((uv_handle_t *)done, NULL);
}

static void close_any(uv_handle_t *handle, void *arg) {
  qp__bin_server_t *s = arg;
  if (handle->type == UV_TIMER) return; /* a connection's: closed with it */
  if (handle == (uv_handle_t *)&s->done) { /* open while creates are with the writer */
    if (s->inflight == 0 && !uv_is_closing(handle)) uv_close(handle, NULL);
    return;
  }
  if (handle->type == UV_TCP && handle != (uv_handle_t *)&((qp__bin_server_t *)arg)->listener) {
    qp__bin_conn_t *c = handle->data;
    if (!c->busy) conn_close(c); /* a busy one closes when its work or write ends */
    return;
  }
  if (!uv_is_closing(handle)) uv_close(handle, NULL);
}

static void on_wake(uv_async_t *wake) {
  qp__bin_server_t *s = wake->data;
  s->stopping = true;
  uv_walk(&s->loop, close_any, s);
}

static void loop_main(void *arg) {
  qp__bin_server_t *s = arg;
  uv_run(&s->loop, UV_RUN_DEFAULT);
}

/* "host:port" or "[v6]:port" into sa; 0 or QP_EINVAL. */
static int parse_address(const char *text, struct sockaddr_storage *sa) {
  const char *colon = strrchr(text, ':');
  if (colon == NULL || colon == text || colon[1] == '\0') return QP_EINVAL;
  char host[64];
  size_t n = (size_t)(colon - text);
  if (n >= sizeof host) return QP_EINVAL;
  memcpy(host, text, n);
  host[n] = '\0';
  char *end = NULL;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (*end != '\0' || port > 65535) return QP_EINVAL;
  if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
    host[n - 1] = '\0';
    return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)sa) == 0 ? 0 : QP_EINVAL;
  }
  return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)sa) == 0 ? 0 : QP_EINVAL;
}

static int bind_listener(qp__bin_server_t *s, const struct sockaddr_storage *sa, char *detail,
                         size_t detail_size) {
  int rc = uv_tcp_init(&s->loop, &s->listener);
  s->listener.data = s;
  if (rc == 0) rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)sa, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&s->listener, 128, on_connection);
  struct sockaddr_storage bound;
  int len = sizeof bound;
  if (rc == 0) rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
  if (rc != 0) {
    snprintf(detail, detail_size, "modules.ledger.binary_listen: cannot listen on %s: %s",
             s->listen, uv_strerror(rc));
    return QP_EIO;
  }
  char ip[64] = "?";
  int port = 0;
  if (bound.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *)&bound, ip, sizeof ip);
    port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
  } else {
    uv_ip4_name((struct sockaddr_in *)&bound, ip, sizeof ip);
    port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  }
  QP_LOG_INFO("ledger", "binary protocol listening on %s:%d", ip, port);
  return 0;
}

int qp__bin_server_start(qp__ledger_api_t *api, const char *listen, qp__bin_server_t **out,
                         char *detail, size_t detail_size) {
  *out = NULL;
  struct sockaddr_storage sa;
  memset(&sa, 0, sizeof sa);
  if (strlen(listen) >= 64 || parse_address(listen, &sa) != 0) {
    snprintf(detail, detail_size,
             "modules.ledger.binary_listen must be \"host:port\" or \"[v6]:port\"");
    return QP_EINVAL;
  }
  qp__bin_server_t *s = qp_calloc(1, sizeof *s);
  if (s == NULL) return QP_ENOMEM;
  s->api = api;
  snprintf(s->listen, sizeof s->listen, "%s", listen);
  if (uv_loop_init(&s->loop) != 0) {
    qp_free(s);
    return QP_ENOMEM;
  }
  uv_async_init(&s->loop, &s->wake, on_wake);
  s->wake.data = s;
  pthread_mutex_init(&s->done_mutex, NULL);
  uv_async_init(&s->loop, &s->done, on_done);
  s->done.data = s;
  int rc = bind_listener(s, &sa, detail, detail_size);
  if (rc == 0 && uv_thread_create(&s->thread, loop_main, s) != 0) rc = QP_ENOMEM;
  if (rc != 0) {
    uv_walk(&s->loop, close_any, s);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    pthread_mutex_destroy(&s->done_mutex);
    qp_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

void qp__bin_server_stop(qp__bin_server_t *s) {
  if (s == NULL) return;
  uv_async_send(&s->wake);
  uv_thread_join(&s->thread);
  int rc = uv_loop_close(&s->loop);
  if (rc != 0) QP_LOG_ERROR("ledger", "binary loop close: %s", uv_strerror(rc));
  pthread_mutex_destroy(&s->done_mutex);
  qp_free(s);
}

void qp__bin_metrics_render(const qp__bin_server_t *s, qp_http_text_t *out) {
  static const char *const ops[] = {"", "auth", "create_accounts", "create_transfers",
                                    "lookup_accounts", "lookup_transfers"};
  qp__bin_metrics_t *m = (qp__bin_metrics_t *)&s->metrics;
  qp_http_metric_u64(out, "quipu_binary_connections", "gauge",
                     "Open connections to the ledger's binary listener.",
                     atomic_load(&m->connections));
  qp_http_metric_u64(out, "quipu_binary_connections_accepted_total", "counter",
                     "Connections the binary listener accepted.", atomic_load(&m->accepted));
  qp_http_metric_u64(out, "quipu_binary_connections_refused_total", "counter",
                     "Connections closed at once: the connection limit was reached.",
                     atomic_load(&m->refused));
  qp_http_metric_header(out, "quipu_binary_frames_total", "counter",
                        "Binary protocol frames run, by op.");
  for (uint32_t op = 1; op < 6; op++)
    qp_http_text_put(out, "quipu_binary_frames_total{op=\"%s\"} %llu\n", ops[op],
                     (unsigned long long)atomic_load(&m->frames[op]));
  qp_http_metric_header(out, "quipu_binary_errors_total", "counter",
                        "Binary protocol error frames sent, by error.");
  for (uint32_t e = 1; e < 256; e++)
    if (qp_bin_error_name(e) != NULL)
      qp_http_text_put(out, "quipu_binary_errors_total{error=\"%s\"} %llu\n",
                       qp_bin_error_name(e), (unsigned long long)atomic_load(&m->errors[e]));
}
