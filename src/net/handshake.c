/*
 * handshake.c - the handshake on one connection, and sessions coming up.
 *
 * Both sides speak at once: each sends HELLO as soon as the socket is
 * connected, and answers the other's HELLO with AUTH, its signature over
 * the transcript of both HELLOs (hello.h).  A side is up when the other's
 * AUTH verifies under the key that the other's HELLO named, which must be
 * a genesis validator's.  The decoder's allowed types follow the state
 * (HELLO, then AUTH, then only MSG), so a frame out of order never gets
 * here: it is refused by the decoder with "unexpected_frame".  Every
 * refusal closes the connection through qp__net_conn_close, which logs it.
 */
#include <string.h>

#include <sodium.h>

#include "base/assert.h"
#include "base/err.h"
#include "base/log.h"
#include "net/net_int.h"

void qp__net_handshake_start(qp__net_conn_t *conn) {
  qp_net_t *net = conn->net;
  qp__net_hello_t *h = &conn->mine;
  memset(h, 0, sizeof *h);
  h->version = QP__NET_VERSION;
  h->suite = (uint8_t)net->suite;
  memcpy(h->network_id, net->network_id, sizeof h->network_id);
  randombytes_buf(h->nonce, sizeof h->nonce);
  size_t key_len = 0;
  qp_sign_public(net->key, h->key, &key_len);
  h->key_len = (uint32_t)key_len;
  uint8_t payload[QP__NET_HELLO_BYTES_MAX];
  size_t len = qp__net_hello_encode(h, payload);
  conn->state = QP__NET_CONN_HELLO;
  qp__net_write_control(conn, QP__NET_FRAME_HELLO, payload, (uint32_t)len);
}

/* The validator index of key, or -1. */
static int32_t find_key(const qp_net_t *net, const uint8_t *key, uint32_t key_len) {
  for (uint32_t i = 0; i < net->count; i++) {
    const qp_net_peer_config_t *c = &net->peers[i].config;
    if (c->public_key_len == key_len && memcmp(c->public_key, key, key_len) == 0)
      return (int32_t)i;
  }
  return -1;
}

/* Checks their HELLO; 0 and conn->peer set, or the reason to refuse it. */
static int hello_check(qp__net_conn_t *conn, const qp__net_frame_t *frame,
                       qp_net_reason_t *reason) {
  qp_net_t *net = conn->net;
  int rc = qp__net_hello_decode(frame->payload, frame->len, &conn->theirs);
  *reason = rc == QP_ENOTSUP ? QP_NET_REASON_VERSION : QP_NET_REASON_HELLO_MALFORMED;
  if (rc != 0) return -1;
  *reason = QP_NET_REASON_SUITE;
  if (conn->theirs.suite != (uint8_t)net->suite) return -1;
  *reason = QP_NET_REASON_NETWORK_ID;
  if (memcmp(conn->theirs.network_id, net->network_id, sizeof net->network_id) != 0) return -1;
  int32_t index = find_key(net, conn->theirs.key, conn->theirs.key_len);
  *reason = QP_NET_REASON_UNKNOWN_KEY;
  if (index < 0) return -1;
  *reason = QP_NET_REASON_WRONG_KEY;
  if (conn->dialer && index != conn->peer) return -1;
  if (index == (int32_t)net->self) return -1;
  *reason = QP_NET_REASON_DIRECTION;
  if (!conn->dialer && index > (int32_t)net->self) return -1;
  conn->peer = index;
  return 0;
}

static size_t transcript(const qp__net_conn_t *conn, uint8_t role,
                         uint8_t out[QP__NET_TRANSCRIPT_BYTES_MAX]) {
  const qp__net_hello_t *dialer = conn->dialer ? &conn->mine : &conn->theirs;
  const qp__net_hello_t *acceptor = conn->dialer ? &conn->theirs : &conn->mine;
  return qp__net_transcript(out, role, conn->net->network_id, dialer, acceptor);
}

static void on_hello(qp__net_conn_t *conn, const qp__net_frame_t *frame) {
  qp_net_reason_t reason = QP_NET_REASON_HELLO_MALFORMED;
  if (hello_check(conn, frame, &reason) != 0) {
    qp__net_conn_close(conn, reason);
    return;
  }
  uint8_t t[QP__NET_TRANSCRIPT_BYTES_MAX];
  size_t len = transcript(conn, conn->dialer ? QP__NET_ROLE_DIALER : QP__NET_ROLE_ACCEPTOR, t);
  uint8_t sig[QP_SIGN_SIG_MAX];
  size_t sig_len = 0;
  if (qp_sign(conn->net->key, t, len, sig, &sig_len) != 0) {
    qp__net_conn_close(conn, QP_NET_REASON_LOCAL_ERROR);
    return;
  }
  conn->state = QP__NET_CONN_AUTH;
  conn->decoder.types_allowed = QP__NET_FRAME_TYPE_BIT(QP__NET_FRAME_AUTH);
  qp__net_write_control(conn, QP__NET_FRAME_AUTH, sig, (uint32_t)sig_len);
}

/* conn authenticated as validator conn->peer: make it the session. */
static void session_up(qp__net_conn_t *conn) {
  qp_net_t *net = conn->net;
  qp__net_peer_t *p = &net->peers[conn->peer];
  uv_timer_stop(&conn->timer);
  conn->state = QP__NET_CONN_UP;
  conn->decoder.types_allowed = QP__NET_FRAME_TYPE_BIT(QP__NET_FRAME_MSG);
  if (conn->pending_counted) {
    conn->pending_counted = false;
    net->inbound_pending--;
  }
  if (p->session != NULL) qp__net_conn_close(p->session, QP_NET_REASON_REPLACED);
  QP_ASSERT(p->session == NULL);
  if (p->dialing == conn) p->dialing = NULL;
  p->session = conn;
  p->backoff_ms = net->reconnect_min_ms;
  p->dial_failures_row = 0;
  atomic_store(&p->up, true);
  atomic_fetch_add(&net->counters.peers_up, 1);
  QP__NET_COUNT(net, handshakes_ok, 1);
  char who[160];
  qp__net_conn_describe(conn, who, sizeof who);
  QP_LOG_INFO("net", "peer %s: session up (%s)", who, conn->dialer ? "dialled" : "accepted");
  if (net->on_peer != NULL && !atomic_load(&net->stopping))
    net->on_peer(net->ctx, (uint32_t)conn->peer, true);
}

static void on_auth(qp__net_conn_t *conn, const qp__net_frame_t *frame) {
  uint8_t t[QP__NET_TRANSCRIPT_BYTES_MAX];
  size_t len = transcript(conn, conn->dialer ? QP__NET_ROLE_ACCEPTOR : QP__NET_ROLE_DIALER, t);
  int rc = qp_verify(conn->net->suite, conn->theirs.key, conn->theirs.key_len, t, len,
                     frame->payload, frame->len);
  if (rc != 0) {
    qp__net_conn_close(conn, QP_NET_REASON_BAD_SIGNATURE);
    return;
  }
  session_up(conn);
}

void qp__net_on_frame(qp__net_conn_t *conn, const qp__net_frame_t *frame) {
  QP_ASSERT(!conn->closing);
  qp_net_t *net = conn->net;
  switch (conn->state) {
  case QP__NET_CONN_HELLO:
    QP_ASSERT(frame->type == QP__NET_FRAME_HELLO); /* the decoder allows nothing else */
    on_hello(conn, frame);
    return;
  case QP__NET_CONN_AUTH:
    QP_ASSERT(frame->type == QP__NET_FRAME_AUTH);
    on_auth(conn, frame);
    return;
  case QP__NET_CONN_UP:
    QP_ASSERT(frame->type == QP__NET_FRAME_MSG);
    QP__NET_COUNT(net, messages_in, 1);
    if (!atomic_load(&net->stopping))
      net->on_message(net->ctx, (uint32_t)conn->peer, frame->payload, frame->len);
    return;
  case QP__NET_CONN_CONNECTING:
  default:
    QP_UNREACHABLE();
  }
}
