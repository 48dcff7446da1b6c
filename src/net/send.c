/*
 * send.c - messages out: the cross-thread queue, each peer's byte budget,
 * and the writes.
 *
 * qp_net_send and qp_net_broadcast run on the caller's thread.  They build
 * the whole frame (header and payload) in one allocation, charge its
 * length to the budget of each destination, append it to the queue and
 * poke the loop.  A budget counts bytes accepted but not yet written or
 * dropped, so it bounds both the queue and libuv's write queue behind a
 * peer that does not read.  A send that would overrun a budget is refused
 * and marks the peer slow; the loop then disconnects it, which cancels its
 * writes and so empties its budget, and the peer's next session starts
 * clean.  (Dropping the one message and keeping a wedged connection would
 * keep the memory; consensus copes with a disconnect and a re-sync better
 * than with a silent gap in the middle of a connection.)
 *
 * The loop takes the whole queue at once and writes each frame to its
 * peer's session, or drops it, uncharged and counted, when the peer is not
 * up.  A broadcast frame is written once per peer from the same buffer.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "base/log.h"
#include "net/net_int.h"

/* A write in flight: the libuv request, its frame and whose budget pays. */
typedef struct {
  uv_write_t req;       /* data unused; the struct is found by its first member */
  qp__net_out_t *out;   /* the frame; one ref held */
  int32_t charged;      /* the peer whose budget carries out->len, or QP__NET_NO_PEER */
  qp_net_t *net;        /* the owner */
} write_t;

static void uncharge(qp_net_t *net, int32_t peer, uint32_t len) {
  if (peer == QP__NET_NO_PEER) return;
  uint64_t before = atomic_fetch_sub(&net->peers[peer].queued_bytes, (uint64_t)len);
  QP_ASSERT(before >= len);
}

static void out_release(qp__net_out_t *out) {
  QP_ASSERT(out->refs > 0);
  if (--out->refs == 0) qp_free(out);
}

/* Charges len to peer's budget; false (and the peer marked slow) when full. */
static bool charge(qp_net_t *net, uint32_t peer, uint32_t len) {
  qp__net_peer_t *p = &net->peers[peer];
  uint64_t before = atomic_fetch_add(&p->queued_bytes, (uint64_t)len);
  if (before + len <= net->send_queue_bytes_max) return true;
  atomic_fetch_sub(&p->queued_bytes, (uint64_t)len);
  atomic_store(&p->slow, true);
  QP__NET_COUNT(net, send_dropped_full, 1);
  return false;
}

static qp__net_out_t *out_new(int32_t peer, uint8_t type, const void *payload, uint32_t len) {
  qp__net_out_t *out = qp_malloc(sizeof *out + QP_NET_FRAME_HEADER_SIZE + (size_t)len);
  if (out == NULL) return NULL;
  memset(out, 0, sizeof *out);
  out->peer = peer;
  out->refs = 1;
  out->len = QP_NET_FRAME_HEADER_SIZE + len;
  qp__net_frame_header(out->data, type, len);
  memcpy(out->data + QP_NET_FRAME_HEADER_SIZE, payload, len);
  return out;
}

/* Wakes the loop if it runs; false when the net is not running. */
static bool poke(qp_net_t *net) {
  pthread_mutex_lock(&net->mu);
  bool running = net->run == QP__NET_RUNNING;
  if (running) uv_async_send(&net->wake);
  pthread_mutex_unlock(&net->mu);
  return running;
}

/* Queues out (charged already) and pokes the loop; QP_ESTOPPED when the
 * net is not running, and then undoes the charges and frees out. */
static int enqueue(qp_net_t *net, qp__net_out_t *out) {
  pthread_mutex_lock(&net->mu);
  bool running = net->run == QP__NET_RUNNING;
  if (running) {
    if (net->queue_tail != NULL)
      net->queue_tail->next = out;
    else
      net->queue_head = out;
    net->queue_tail = out;
    uv_async_send(&net->wake);
  }
  pthread_mutex_unlock(&net->mu);
  if (running) return 0;
  for (uint32_t i = 0; i < net->count; i++)
    if (out->charged & (1ull << i)) uncharge(net, (int32_t)i, out->len);
  qp_free(out);
  return QP_ESTOPPED;
}

int qp_net_send(qp_net_t *net, uint32_t peer, const void *bytes, size_t len) {
  QP_ASSERT(net != NULL);
  if (peer >= net->count || peer == net->self || bytes == NULL || len == 0 ||
      len > net->frame_bytes_max)
    return QP_EINVAL;
  qp__net_out_t *out = out_new((int32_t)peer, QP__NET_FRAME_MSG, bytes, (uint32_t)len);
  if (out == NULL) return QP_ENOMEM;
  if (!charge(net, peer, out->len)) {
    qp_free(out);
    return poke(net) ? QP_ELIMIT : QP_ESTOPPED; /* the loop disconnects the slow peer */
  }
  out->charged = 1ull << peer;
  return enqueue(net, out);
}

int qp_net_broadcast(qp_net_t *net, const void *bytes, size_t len) {
  QP_ASSERT(net != NULL);
  if (bytes == NULL || len == 0 || len > net->frame_bytes_max) return QP_EINVAL;
  qp__net_out_t *out = out_new(QP__NET_NO_PEER, QP__NET_FRAME_MSG, bytes, (uint32_t)len);
  if (out == NULL) return QP_ENOMEM;
  for (uint32_t i = 0; i < net->count; i++)
    if (i != net->self && charge(net, i, out->len)) out->charged |= 1ull << i;
  return enqueue(net, out);
}

/* ---- loop thread ------------------------------------------------------ */

static void on_write(uv_write_t *req, int status) {
  write_t *w = (write_t *)req;
  qp_net_t *net = w->net;
  if (status == 0) {
    QP__NET_COUNT(net, frames_out, 1);
    QP__NET_COUNT(net, bytes_out, w->out->len);
  }
  uncharge(net, w->charged, w->out->len);
  out_release(w->out);
  qp_free(w);
  /* A failed write also fails the read side, which closes the connection
   * and logs once; nothing to do here. */
}

/* Writes out on conn, charged to `charged`; takes a ref while in flight.
 * On failure the charge is undone and conn closed. */
static void write_out(qp__net_conn_t *conn, qp__net_out_t *out, int32_t charged) {
  qp_net_t *net = conn->net;
  write_t *w = qp_malloc(sizeof *w);
  int rc = UV_ENOMEM;
  if (w != NULL) {
    w->out = out;
    w->charged = charged;
    w->net = net;
    uv_buf_t buf = uv_buf_init((char *)out->data, out->len);
    rc = uv_write(&w->req, (uv_stream_t *)&conn->tcp, &buf, 1, on_write);
  }
  if (rc == 0) {
    out->refs++;
    return;
  }
  qp_free(w);
  uncharge(net, charged, out->len);
  qp__net_conn_close(conn, QP_NET_REASON_LOCAL_ERROR);
}

void qp__net_write_control(qp__net_conn_t *conn, uint8_t type, const uint8_t *payload,
                           uint32_t len) {
  QP_ASSERT(conn != NULL && len > 0);
  if (conn->closing) return;
  qp__net_out_t *out = out_new(QP__NET_NO_PEER, type, payload, len);
  if (out == NULL) {
    qp__net_conn_close(conn, QP_NET_REASON_LOCAL_ERROR);
    return;
  }
  write_out(conn, out, QP__NET_NO_PEER);
  out_release(out);
}

/* Writes out to peer i if it is up, else drops it; either way releases
 * peer i's charge exactly once (the write's completion does, if written). */
static void deliver(qp_net_t *net, qp__net_out_t *out, uint32_t i) {
  qp__net_conn_t *session = net->peers[i].session;
  if (session != NULL && !session->closing) {
    write_out(session, out, (int32_t)i);
    return;
  }
  uncharge(net, (int32_t)i, out->len);
  QP__NET_COUNT(net, send_dropped_down, 1);
}

static qp__net_out_t *take_queue(qp_net_t *net) {
  pthread_mutex_lock(&net->mu);
  qp__net_out_t *list = net->queue_head;
  net->queue_head = NULL;
  net->queue_tail = NULL;
  pthread_mutex_unlock(&net->mu);
  return list;
}

/* Disconnects the peers whose budget ran out. */
static void disconnect_slow(qp_net_t *net) {
  for (uint32_t i = 0; i < net->count; i++) {
    qp__net_peer_t *p = &net->peers[i];
    if (!atomic_exchange(&p->slow, false)) continue;
    if (p->session != NULL) qp__net_conn_close(p->session, QP_NET_REASON_SLOW_PEER);
  }
}

void qp__net_drain(qp_net_t *net) {
  qp__net_out_t *out = take_queue(net);
  uint32_t frames = 0;
  while (out != NULL) {
    qp__net_out_t *next = out->next;
    out->next = NULL;
    for (uint32_t i = 0; i < net->count; i++)
      if (out->charged & (1ull << i)) deliver(net, out, i);
    out_release(out); /* the queue's ref */
    out = next;
    frames++;
  }
  QP_ASSERT(frames < UINT32_MAX);
  disconnect_slow(net);
}

void qp__net_drop_queue(qp_net_t *net) {
  qp__net_out_t *out = take_queue(net);
  while (out != NULL) {
    qp__net_out_t *next = out->next;
    for (uint32_t i = 0; i < net->count; i++)
      if (out->charged & (1ull << i)) uncharge(net, (int32_t)i, out->len);
    QP_ASSERT(out->refs == 1);
    qp_free(out);
    out = next;
  }
}
