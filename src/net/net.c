/*
 * net.c - the transport's lifecycle: checking the configuration, the loop
 * thread, starting and stopping, and the read-only accessors (metrics).
 *
 * Start does everything that can fail for a reason an operator must see
 * (the bind) on the caller's thread, so that a busy port is an error code
 * and not a log line from another thread.  Stop is a request through the
 * wake handle; the loop thread closes every handle it owns, uv_run
 * returns once their close callbacks have run, and the caller joins.  The
 * mutex orders the request against the loop closing the wake handle: a
 * sender checks the run state and pokes the loop under it, and the loop
 * reads "stopping" under it, so nobody pokes a closed handle.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "base/log.h"
#include "net/net_int.h"

static const char *const reason_names[] = {
#define QP__NET_REASON_NAME(name, label, text) label,
    QP_NET_REASON_MAP(QP__NET_REASON_NAME)
#undef QP__NET_REASON_NAME
};

const char *qp_net_reason_name(qp_net_reason_t reason) {
  if ((unsigned)reason >= QP_NET_REASON_COUNT) return "unknown";
  return reason_names[reason];
}

static int config_fail(char *detail, size_t size, const char *what) {
  if (detail != NULL && size > 0) snprintf(detail, size, "%s", what);
  return QP_EINVAL;
}

/* Copies and checks the validators; finds self. */
static int peers_load(qp_net_t *net, const qp_net_config_t *c, char *detail, size_t size) {
  uint8_t mine[QP_SIGN_PUBLIC_MAX];
  size_t mine_len = 0;
  qp_sign_public(c->key, mine, &mine_len);
  size_t key_size = net->suite == QP_SUITE_SM2 ? QP_SM2_PUBLIC_SIZE : QP_ED25519_PUBLIC_SIZE;
  bool found = false;
  for (uint32_t i = 0; i < c->validators_count; i++) {
    qp__net_peer_t *p = &net->peers[i];
    p->net = net;
    p->index = i;
    p->config = c->validators[i];
    if (p->config.public_key_len != key_size)
      return config_fail(detail, size, "validators: a key of the wrong length for the suite");
    for (uint32_t j = 0; j < i; j++)
      if (memcmp(net->peers[j].config.public_key, p->config.public_key, key_size) == 0)
        return config_fail(detail, size, "validators: the same key twice");
    if (memchr(p->config.address, '\0', sizeof p->config.address) == NULL)
      return config_fail(detail, size, "validators: an address without its NUL");
    p->has_address = p->config.address[0] != '\0';
    if (p->has_address && qp__net_addr_parse(p->config.address, &p->sa, detail, size) != 0)
      return QP_EINVAL;
    if (key_size == mine_len && memcmp(p->config.public_key, mine, mine_len) == 0) {
      net->self = i;
      found = true;
    }
  }
  if (!found) return config_fail(detail, size, "validators: this node's key is not among them");
  for (uint32_t i = net->self + 1; i < c->validators_count; i++)
    net->peers[i].dialable = net->peers[i].has_address;
  return 0;
}

/* Copies and checks the limits, applying the defaults. */
static int limits_load(qp_net_t *net, const qp_net_config_t *c, char *detail, size_t size) {
  net->frame_bytes_max = c->frame_bytes_max ? c->frame_bytes_max : QP_NET_FRAME_BYTES_DEFAULT;
  if (net->frame_bytes_max > QP_NET_FRAME_BYTES_LIMIT)
    return config_fail(detail, size, "frame_bytes_max: at most 64 MiB");
  uint64_t floor = (uint64_t)net->frame_bytes_max + QP_NET_FRAME_HEADER_SIZE;
  net->send_queue_bytes_max = c->send_queue_bytes_max;
  if (net->send_queue_bytes_max == 0)
    net->send_queue_bytes_max = floor > QP_NET_SEND_QUEUE_BYTES_DEFAULT
                                    ? floor : QP_NET_SEND_QUEUE_BYTES_DEFAULT;
  if (net->send_queue_bytes_max < floor)
    return config_fail(detail, size, "send_queue_bytes_max: below one largest frame");
  net->handshake_timeout_ms = c->handshake_timeout_ms ? c->handshake_timeout_ms
                                                      : QP_NET_HANDSHAKE_TIMEOUT_MS_DEFAULT;
  net->reconnect_min_ms = c->reconnect_min_ms ? c->reconnect_min_ms
                                              : QP_NET_RECONNECT_MIN_MS_DEFAULT;
  net->reconnect_max_ms = c->reconnect_max_ms ? c->reconnect_max_ms
                                              : QP_NET_RECONNECT_MAX_MS_DEFAULT;
  if (net->reconnect_max_ms < net->reconnect_min_ms)
    return config_fail(detail, size, "reconnect_max_ms: below reconnect_min_ms");
  return 0;
}

static int config_load(qp_net_t *net, const qp_net_config_t *c, char *detail, size_t size) {
  if (c->key == NULL) return config_fail(detail, size, "key: required");
  if (c->on_message == NULL) return config_fail(detail, size, "on_message: required");
  if (c->validators == NULL || c->validators_count == 0 ||
      c->validators_count > QP_NET_VALIDATORS_MAX)
    return config_fail(detail, size, "validators: 1 to 64 required");
  net->key = c->key;
  net->suite = qp_sign_key_suite(c->key);
  net->count = c->validators_count;
  memcpy(net->network_id, c->network_id, sizeof net->network_id);
  net->on_message = c->on_message;
  net->on_peer = c->on_peer;
  net->ctx = c->ctx;
  int rc = peers_load(net, c, detail, size);
  if (rc == 0) rc = limits_load(net, c, detail, size);
  if (rc != 0 || c->listen_address == NULL || c->listen_address[0] == '\0') return rc;
  net->has_listener = true;
  snprintf(net->listen_text, sizeof net->listen_text, "%s", c->listen_address);
  return qp__net_addr_parse(c->listen_address, &net->listen_sa, detail, size);
}

int qp_net_create(const qp_net_config_t *config, qp_net_t **out, char *detail,
                  size_t detail_size) {
  QP_ASSERT(config != NULL && out != NULL);
  *out = NULL;
  if (detail != NULL && detail_size > 0) detail[0] = '\0';
  qp_net_t *net = qp_calloc(1, sizeof *net);
  if (net == NULL) return QP_ENOMEM;
  int rc = config_load(net, config, detail, detail_size);
  if (rc == 0 && pthread_mutex_init(&net->mu, NULL) != 0) rc = QP_ENOMEM;
  if (rc != 0) {
    qp_free(net);
    return rc;
  }
  net->run = QP__NET_CREATED;
  QP_ASSERT(net->self < net->count);
  *out = net;
  return 0;
}

/* The wake handle: new frames to write, slow peers, or the stop request. */
static void on_wake(uv_async_t *wake) {
  qp_net_t *net = wake->data;
  pthread_mutex_lock(&net->mu);
  bool stopping = atomic_load(&net->stopping);
  pthread_mutex_unlock(&net->mu);
  if (!stopping) {
    qp__net_drain(net);
    return;
  }
  qp__net_close_all(net);
  if (net->has_listener && !uv_is_closing((uv_handle_t *)&net->listener))
    uv_close((uv_handle_t *)&net->listener, NULL);
  uv_close((uv_handle_t *)&net->wake, NULL);
}

static void loop_main(void *arg) {
  qp_net_t *net = arg;
  for (uint32_t i = 0; i < net->count; i++)
    if (net->peers[i].dialable) qp__net_dial(net, i);
  int rc = uv_run(&net->loop, UV_RUN_DEFAULT);
  if (rc != 0) QP_LOG_ERROR("net", "loop ended with %d handles still active", rc);
}

/* Binds and listens; logs the failure with the address. */
static int listen_open(qp_net_t *net) {
  int rc = uv_tcp_init(&net->loop, &net->listener);
  if (rc != 0) return QP_ENOMEM;
  net->listener.data = net;
  rc = uv_tcp_bind(&net->listener, (const struct sockaddr *)&net->listen_sa, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&net->listener, 128, qp__net_on_connection);
  struct sockaddr_storage bound;
  int bound_len = (int)sizeof bound;
  if (rc == 0) rc = uv_tcp_getsockname(&net->listener, (struct sockaddr *)&bound, &bound_len);
  if (rc != 0) {
    QP_LOG_ERROR("net", "cannot listen on %s: %s", net->listen_text, uv_strerror(rc));
    return QP_EIO;
  }
  atomic_store(&net->listen_port, qp__net_addr_port((const struct sockaddr *)&bound));
  char text[QP__NET_ADDR_TEXT_MAX];
  qp__net_addr_format((const struct sockaddr *)&bound, text, sizeof text);
  QP_LOG_INFO("net", "listening on %s (validator %u of %u)", text, net->self, net->count);
  return 0;
}

static int loop_open(qp_net_t *net) {
  if (uv_loop_init(&net->loop) != 0) return QP_ENOMEM;
  net->loop_open = true;
  if (uv_async_init(&net->loop, &net->wake, on_wake) != 0) return QP_ENOMEM;
  net->wake.data = net;
  for (uint32_t i = 0; i < net->count; i++) {
    qp__net_peer_t *p = &net->peers[i];
    p->backoff_ms = net->reconnect_min_ms;
    if (!p->dialable) continue;
    if (uv_timer_init(&net->loop, &p->redial) != 0) return QP_ENOMEM;
    p->redial.data = p;
  }
  return net->has_listener ? listen_open(net) : 0;
}

static void close_any(uv_handle_t *handle, void *arg) {
  (void)arg;
  if (!uv_is_closing(handle)) uv_close(handle, NULL);
}

/* Closes whatever handles exist, lets their callbacks run, closes the loop. */
static void loop_close(qp_net_t *net) {
  if (!net->loop_open) return;
  uv_walk(&net->loop, close_any, NULL);
  uv_run(&net->loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&net->loop);
  if (rc != 0) QP_LOG_ERROR("net", "loop close: %s", uv_strerror(rc));
  net->loop_open = false;
}

int qp_net_start(qp_net_t *net) {
  QP_ASSERT(net != NULL);
  pthread_mutex_lock(&net->mu);
  bool fresh = net->run == QP__NET_CREATED;
  pthread_mutex_unlock(&net->mu);
  if (!fresh) return QP_EINVAL;
  int rc = loop_open(net);
  if (rc == 0) {
    pthread_mutex_lock(&net->mu);
    net->run = QP__NET_RUNNING;
    pthread_mutex_unlock(&net->mu);
    if (uv_thread_create(&net->thread, loop_main, net) == 0) return 0;
    rc = QP_ENOMEM;
  }
  pthread_mutex_lock(&net->mu);
  net->run = QP__NET_STOPPED;
  pthread_mutex_unlock(&net->mu);
  qp__net_drop_queue(net);
  loop_close(net);
  return rc;
}

void qp_net_stop(qp_net_t *net) {
  QP_ASSERT(net != NULL);
  pthread_mutex_lock(&net->mu);
  bool running = net->run == QP__NET_RUNNING;
  if (running) {
    uv_thread_t me = uv_thread_self();
    QP_ASSERT(!uv_thread_equal(&me, &net->thread)); /* not from a callback */
    atomic_store(&net->stopping, true);
    uv_async_send(&net->wake);
  }
  net->run = QP__NET_STOPPED;
  pthread_mutex_unlock(&net->mu);
  if (!running) return;
  uv_thread_join(&net->thread);
  qp__net_drop_queue(net);
  loop_close(net);
}

void qp_net_destroy(qp_net_t *net) {
  if (net == NULL) return;
  qp_net_stop(net);
  QP_ASSERT(net->queue_head == NULL && net->conns == NULL);
  pthread_mutex_destroy(&net->mu);
  qp_free(net);
}

uint32_t qp_net_self_index(const qp_net_t *net) {
  QP_ASSERT(net != NULL);
  return net->self;
}

uint16_t qp_net_listen_port(const qp_net_t *net) {
  QP_ASSERT(net != NULL);
  return (uint16_t)atomic_load(&((qp_net_t *)net)->listen_port);
}

bool qp_net_peer_is_up(const qp_net_t *net, uint32_t peer) {
  QP_ASSERT(net != NULL);
  if (peer >= net->count) return false;
  return atomic_load(&((qp_net_t *)net)->peers[peer].up);
}

#define LOAD(field) atomic_load_explicit(&c->field, memory_order_relaxed)

void qp_net_metrics_read(const qp_net_t *net, qp_net_metrics_t *out) {
  QP_ASSERT(net != NULL && out != NULL);
  qp__net_counters_t *c = &((qp_net_t *)net)->counters;
  memset(out, 0, sizeof *out);
  out->frames_in = LOAD(frames_in);
  out->frames_out = LOAD(frames_out);
  out->bytes_in = LOAD(bytes_in);
  out->bytes_out = LOAD(bytes_out);
  out->messages_in = LOAD(messages_in);
  out->connections_in = LOAD(connections_in);
  out->dials = LOAD(dials);
  out->dial_failures = LOAD(dial_failures);
  out->handshakes_ok = LOAD(handshakes_ok);
  out->send_dropped_down = LOAD(send_dropped_down);
  out->send_dropped_full = LOAD(send_dropped_full);
  for (uint32_t i = 0; i < QP_NET_REASON_COUNT; i++) out->disconnects[i] = LOAD(disconnects[i]);
  out->peers_up = LOAD(peers_up);
}
