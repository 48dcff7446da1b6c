/*
 * conn.c - connections on the loop thread: accepting, dialling with
 * backoff, reading frames, and closing exactly once.
 *
 * A connection owns two handles (its socket and its handshake timer) and
 * is freed when both close callbacks have run, so code that closes a
 * connection may keep using the pointer until it returns to libuv.  That
 * is what lets the read callback stop in the middle of a buffer when a
 * frame closes the connection.  Closing is the one place that logs the
 * reason, counts it, takes a session down (on_peer down) and schedules a
 * redial when this node is the dialer.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "base/log.h"
#include "net/net_int.h"

static const char *const reason_texts[] = {
#define QP__NET_REASON_TEXT(name, label, text) text,
    QP_NET_REASON_MAP(QP__NET_REASON_TEXT)
#undef QP__NET_REASON_TEXT
};

static void on_handle_closed(uv_handle_t *handle) {
  qp__net_conn_t *conn = handle->data;
  QP_ASSERT(conn->handles_open > 0);
  if (--conn->handles_open > 0) return;
  qp_net_t *net = conn->net;
  if (conn->prev != NULL)
    conn->prev->next = conn->next;
  else
    net->conns = conn->next;
  if (conn->next != NULL) conn->next->prev = conn->prev;
  qp__net_decoder_deinit(&conn->decoder);
  qp_free(conn);
}

/* The handshake did not finish in time (the deadline covers the dialer's
 * connect too, so a peer that swallows SYNs does not hold a dial for the
 * kernel's two minutes). */
static void on_deadline(uv_timer_t *timer) {
  qp__net_conn_t *conn = timer->data;
  if (conn->state == QP__NET_CONN_CONNECTING) { /* a dial that never connected */
    qp__net_peer_t *p = &conn->net->peers[conn->peer];
    QP__NET_COUNT(conn->net, dial_failures, 1);
    if (p->dial_failures_row < UINT32_MAX) p->dial_failures_row++;
  }
  qp__net_conn_close(conn, QP_NET_REASON_HANDSHAKE_TIMEOUT);
}

/* A new connection with both handles open and linked into net->conns, its
 * handshake deadline running. */
static qp__net_conn_t *conn_new(qp_net_t *net, bool dialer, int32_t peer) {
  qp__net_conn_t *conn = qp_calloc(1, sizeof *conn);
  if (conn == NULL) return NULL;
  conn->net = net;
  conn->dialer = dialer;
  conn->peer = peer;
  conn->state = dialer ? QP__NET_CONN_CONNECTING : QP__NET_CONN_HELLO;
  snprintf(conn->addr, sizeof conn->addr, "?");
  if (uv_tcp_init(&net->loop, &conn->tcp) != 0) {
    qp_free(conn);
    return NULL;
  }
  QP_ASSERT(uv_timer_init(&net->loop, &conn->timer) == 0); /* cannot fail on Unix */
  conn->tcp.data = conn;
  conn->timer.data = conn;
  conn->connect_req.data = conn;
  conn->handles_open = 2;
  uv_timer_start(&conn->timer, on_deadline, net->handshake_timeout_ms, 0);
  qp__net_decoder_init(&conn->decoder, net->frame_bytes_max,
                       QP__NET_FRAME_TYPE_BIT(QP__NET_FRAME_HELLO));
  conn->next = net->conns;
  if (net->conns != NULL) net->conns->prev = conn;
  net->conns = conn;
  return conn;
}

void qp__net_conn_describe(const qp__net_conn_t *conn, char *out, size_t size) {
  const qp_net_t *net = conn->net;
  const uint8_t *key = NULL;
  if (conn->theirs.key_len >= 4)
    key = conn->theirs.key;
  else if (conn->peer != QP__NET_NO_PEER)
    key = net->peers[conn->peer].config.public_key;
  char tag[9] = "unknown";
  if (key != NULL) qp_hex(tag, key, 4);
  if (conn->peer != QP__NET_NO_PEER)
    snprintf(out, size, "%s (validator %d, key %s)", conn->addr, conn->peer, tag);
  else
    snprintf(out, size, "%s (key %s)", conn->addr, tag);
}

static void log_close(const qp__net_conn_t *conn, qp_net_reason_t reason) {
  qp_log_level_t level = QP_LOG_WARN;
  if (reason == QP_NET_REASON_SHUTDOWN) level = QP_LOG_DEBUG;
  if (reason == QP_NET_REASON_CLOSED || reason == QP_NET_REASON_REPLACED) level = QP_LOG_INFO;
  if (conn->state == QP__NET_CONN_CONNECTING && conn->net->peers[conn->peer].dial_failures_row > 1)
    level = QP_LOG_DEBUG; /* the same unreachable peer again */
  char who[160];
  qp__net_conn_describe(conn, who, sizeof who);
  qp_log(level, "net", "peer %s disconnected: %s (%s)", who, qp_net_reason_name(reason),
         reason_texts[reason]);
}

/* Takes conn out of its peer's slots; fires on_peer down for a session. */
static void peer_detach(qp__net_conn_t *conn) {
  qp_net_t *net = conn->net;
  if (conn->peer == QP__NET_NO_PEER) return;
  qp__net_peer_t *p = &net->peers[conn->peer];
  if (p->dialing == conn) p->dialing = NULL;
  if (p->session != conn) return;
  p->session = NULL;
  atomic_store(&p->up, false);
  atomic_fetch_sub(&net->counters.peers_up, 1);
  if (net->on_peer != NULL && !atomic_load(&net->stopping))
    net->on_peer(net->ctx, (uint32_t)conn->peer, false);
}

/* Closes the handles; the struct goes when both callbacks ran. */
static void handles_close(qp__net_conn_t *conn) {
  conn->closing = true;
  uv_close((uv_handle_t *)&conn->tcp, on_handle_closed);
  uv_close((uv_handle_t *)&conn->timer, on_handle_closed);
}

void qp__net_conn_close(qp__net_conn_t *conn, qp_net_reason_t reason) {
  QP_ASSERT(conn != NULL && (unsigned)reason < QP_NET_REASON_COUNT);
  if (conn->closing) return;
  qp_net_t *net = conn->net;
  log_close(conn, reason);
  QP__NET_COUNT(net, disconnects[reason], 1);
  if (conn->pending_counted) {
    conn->pending_counted = false;
    net->inbound_pending--;
  }
  handles_close(conn);
  peer_detach(conn);
  if (conn->dialer && !atomic_load(&net->stopping))
    qp__net_redial_later(net, (uint32_t)conn->peer);
}

void qp__net_redial_later(qp_net_t *net, uint32_t peer) {
  qp__net_peer_t *p = &net->peers[peer];
  QP_ASSERT(p->dialable);
  if (uv_is_closing((uv_handle_t *)&p->redial)) return;
  uv_timer_start(&p->redial, qp__net_on_redial, p->backoff_ms, 0);
  uint64_t next = (uint64_t)p->backoff_ms * 2;
  p->backoff_ms = next > net->reconnect_max_ms ? net->reconnect_max_ms : (uint32_t)next;
}

void qp__net_on_redial(uv_timer_t *timer) {
  qp__net_peer_t *p = timer->data;
  qp_net_t *net = p->net;
  if (atomic_load(&net->stopping) || p->session != NULL || p->dialing != NULL) return;
  qp__net_dial(net, p->index);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  qp__net_conn_t *conn = handle->data;
  *buf = uv_buf_init((char *)conn->read_buf, sizeof conn->read_buf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  qp__net_conn_t *conn = stream->data;
  if (conn->closing) return;
  if (nread < 0) {
    qp__net_conn_close(conn, QP_NET_REASON_CLOSED);
    return;
  }
  QP__NET_COUNT(conn->net, bytes_in, (uint64_t)nread);
  const uint8_t *data = (const uint8_t *)buf->base;
  size_t left = (size_t)nread;
  while (left > 0 && !conn->closing) {
    size_t used = 0;
    qp__net_frame_t frame;
    qp_net_reason_t reason = QP_NET_REASON_CLOSED;
    int rc = qp__net_decoder_feed(&conn->decoder, data, left, &used, &frame, &reason);
    if (rc < 0) {
      qp__net_conn_close(conn, reason);
      return;
    }
    QP_ASSERT(used <= left);
    data += used;
    left -= used;
    if (rc == 0) break;
    QP__NET_COUNT(conn->net, frames_in, 1);
    qp__net_on_frame(conn, &frame);
  }
}

/* The socket is connected (either way): tune it, read, say HELLO. */
static void conn_open(qp__net_conn_t *conn) {
  uv_tcp_nodelay(&conn->tcp, 1);
  uv_tcp_keepalive(&conn->tcp, 1, QP__NET_KEEPALIVE_S);
  if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) != 0) {
    qp__net_conn_close(conn, QP_NET_REASON_LOCAL_ERROR);
    return;
  }
  qp__net_handshake_start(conn);
}

void qp__net_on_connection(uv_stream_t *listener, int status) {
  qp_net_t *net = listener->data;
  if (status < 0) {
    QP_LOG_WARN("net", "accept on %s: %s", net->listen_text, uv_strerror(status));
    return;
  }
  qp__net_conn_t *conn = conn_new(net, false, QP__NET_NO_PEER);
  if (conn == NULL) {
    /* Not accepting makes libuv pause the listener until the next accept,
     * which never comes: out of memory here stops new inbound sessions
     * (dialled ones still work).  Known limit; the process is in trouble. */
    QP_LOG_ERROR("net", "accept on %s: out of memory", net->listen_text);
    return;
  }
  if (uv_accept(listener, (uv_stream_t *)&conn->tcp) != 0) {
    handles_close(conn);
    return;
  }
  QP__NET_COUNT(net, connections_in, 1);
  struct sockaddr_storage sa;
  int sa_len = (int)sizeof sa;
  if (uv_tcp_getpeername(&conn->tcp, (struct sockaddr *)&sa, &sa_len) == 0)
    qp__net_addr_format((const struct sockaddr *)&sa, conn->addr, sizeof conn->addr);
  if (net->inbound_pending >= QP__NET_INBOUND_PENDING_MAX) {
    qp__net_conn_close(conn, QP_NET_REASON_TOO_MANY);
    return;
  }
  net->inbound_pending++;
  conn->pending_counted = true;
  conn_open(conn);
}

static void on_connect(uv_connect_t *req, int status) {
  qp__net_conn_t *conn = req->data;
  if (conn->closing) return; /* UV_ECANCELED: closed while connecting */
  if (status == 0) {
    conn_open(conn);
    return;
  }
  qp_net_t *net = conn->net;
  qp__net_peer_t *p = &net->peers[conn->peer];
  QP__NET_COUNT(net, dial_failures, 1);
  if (p->dial_failures_row < UINT32_MAX) p->dial_failures_row++;
  /* The first failure in a row is news; the retries every few seconds are not. */
  qp_log(p->dial_failures_row == 1 ? QP_LOG_INFO : QP_LOG_DEBUG, "net",
         "dial %s (validator %d): %s; retrying in %u ms", conn->addr, conn->peer,
         uv_strerror(status), p->backoff_ms);
  p->dialing = NULL;
  handles_close(conn);
  qp__net_redial_later(net, (uint32_t)conn->peer);
}

void qp__net_dial(qp_net_t *net, uint32_t peer) {
  qp__net_peer_t *p = &net->peers[peer];
  QP_ASSERT(p->dialable && p->session == NULL && p->dialing == NULL);
  QP__NET_COUNT(net, dials, 1);
  qp__net_conn_t *conn = conn_new(net, true, (int32_t)peer);
  if (conn == NULL) {
    QP_LOG_ERROR("net", "dial validator %u: out of memory", peer);
    qp__net_redial_later(net, peer);
    return;
  }
  snprintf(conn->addr, sizeof conn->addr, "%s", p->config.address);
  p->dialing = conn;
  int rc = uv_tcp_connect(&conn->connect_req, &conn->tcp, (const struct sockaddr *)&p->sa,
                          on_connect);
  if (rc != 0) on_connect(&conn->connect_req, rc);
}

void qp__net_close_all(qp_net_t *net) {
  for (uint32_t i = 0; i < net->count; i++) {
    qp__net_peer_t *p = &net->peers[i];
    if (p->dialable && !uv_is_closing((uv_handle_t *)&p->redial))
      uv_close((uv_handle_t *)&p->redial, NULL);
  }
  for (qp__net_conn_t *conn = net->conns; conn != NULL; conn = conn->next)
    qp__net_conn_close(conn, QP_NET_REASON_SHUTDOWN);
}
