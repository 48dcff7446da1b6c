/*
 * test_net.c - the peer transport over real sockets on 127.0.0.1, several
 * endpoints in one process: handshakes, messages both ways and in order,
 * broadcast, a large message, strangers and wrong networks refused,
 * garbage before and after the handshake, a handshake that never ends,
 * a session replaced by a newer one, a peer that does not read, and
 * reconnection after either side restarts.  A raw client written here
 * from the format in docs/net.md (blocking sockets, the frame decoder and
 * HELLO codec) plays the misbehaving peers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "test_util.h"

#include "base/bytes.h"
#include "base/err.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "net/frame.h"
#include "net/hello.h"
#include "net/net.h"

#define NODES_MAX 4
#define WAIT_MS 5000

static qp_sign_key_t *keys[NODES_MAX + 1]; /* the last is a stranger's */
static const uint8_t net_id[QP_NET_NETWORK_ID_SIZE] = {0x51, 0x50, 1, 2, 3};

/* ---- a node: a net and what its callbacks saw -------------------------- */

typedef struct node {
  qp_net_t *net;
  pthread_mutex_t mu;
  uint32_t ups[NODES_MAX];       /* on_peer up events per peer */
  uint32_t downs[NODES_MAX];     /* on_peer down events per peer */
  uint64_t msgs[NODES_MAX];      /* messages per sender */
  uint32_t next_seq[NODES_MAX];  /* the next sequence number expected */
  uint32_t bad;                  /* messages out of order or with a wrong body */
  uint64_t largest;              /* the longest message seen */
} node_t;

static void on_message(void *ctx, uint32_t peer, const uint8_t *bytes, size_t len) {
  node_t *n = ctx;
  pthread_mutex_lock(&n->mu);
  bool ok = peer < NODES_MAX && len >= 4;
  uint32_t seq = ok ? qp_load_u32(bytes) : 0;
  if (ok && seq != n->next_seq[peer]) ok = false;
  for (size_t i = 4; ok && i < len; i++) ok = bytes[i] == (uint8_t)(seq + i);
  if (!ok) n->bad++;
  if (peer < NODES_MAX) {
    n->next_seq[peer] = seq + 1;
    n->msgs[peer]++;
  }
  if (len > n->largest) n->largest = len;
  pthread_mutex_unlock(&n->mu);
}

static void on_peer(void *ctx, uint32_t peer, bool up) {
  node_t *n = ctx;
  pthread_mutex_lock(&n->mu);
  if (peer < NODES_MAX) (up ? n->ups : n->downs)[peer]++;
  pthread_mutex_unlock(&n->mu);
}

static uint64_t node_read(node_t *n, const uint64_t *field) {
  pthread_mutex_lock(&n->mu);
  uint64_t v = *field;
  pthread_mutex_unlock(&n->mu);
  return v;
}

static uint32_t node_read32(node_t *n, const uint32_t *field) {
  pthread_mutex_lock(&n->mu);
  uint32_t v = *field;
  pthread_mutex_unlock(&n->mu);
  return v;
}

#define WAIT_UNTIL(cond)                                                  \
  do {                                                                    \
    for (int waited_ = 0; waited_ < WAIT_MS && !(cond); waited_ += 5)     \
      usleep(5000);                                                       \
    assert_true(cond);                                                    \
  } while (0)

/* Fills validators[0..n) with keys 0..n-1 (key_of[i] overrides) and the
 * ports given (0 = no address). */
static void validators_fill(qp_net_peer_config_t *v, uint32_t n, const uint16_t *ports,
                            const int *key_of) {
  memset(v, 0, sizeof *v * n);
  for (uint32_t i = 0; i < n; i++) {
    size_t len = 0;
    qp_sign_public(keys[key_of != NULL ? key_of[i] : (int)i], v[i].public_key, &len);
    v[i].public_key_len = (uint32_t)len;
    if (ports[i] != 0) snprintf(v[i].address, sizeof v[i].address, "127.0.0.1:%u", ports[i]);
  }
}

typedef struct {
  const uint16_t *ports;    /* each validator's port, 0 = not dialled */
  uint32_t count;           /* validators */
  int key;                  /* this node's key (index into keys) */
  const int *key_of;        /* validator keys, NULL = keys[0..count) */
  uint16_t listen_port;     /* 0 = any */
  const uint8_t *id;        /* NULL = net_id */
  uint64_t queue_bytes_max; /* 0 = default */
  uint32_t frame_bytes_max; /* 0 = default */
} setup_t;

static void node_start(node_t *n, const setup_t *s) {
  memset(n, 0, sizeof *n);
  pthread_mutex_init(&n->mu, NULL);
  qp_net_peer_config_t v[NODES_MAX];
  validators_fill(v, s->count, s->ports, s->key_of);
  char listen[32];
  snprintf(listen, sizeof listen, "127.0.0.1:%u", s->listen_port);
  qp_net_config_t c = {.listen_address = listen, .key = keys[s->key], .validators = v,
                       .validators_count = s->count, .handshake_timeout_ms = 1000,
                       .reconnect_min_ms = 10, .reconnect_max_ms = 100,
                       .send_queue_bytes_max = s->queue_bytes_max,
                       .frame_bytes_max = s->frame_bytes_max, .on_message = on_message,
                       .on_peer = on_peer, .ctx = n};
  memcpy(c.network_id, s->id != NULL ? s->id : net_id, sizeof c.network_id);
  char detail[160];
  assert_int_equal(qp_net_create(&c, &n->net, detail, sizeof detail), 0);
  assert_int_equal(qp_net_start(n->net), 0);
  assert_true(qp_net_listen_port(n->net) != 0);
}

static void node_stop(node_t *n) {
  qp_net_destroy(n->net);
  n->net = NULL;
  pthread_mutex_destroy(&n->mu);
}

static uint64_t disconnects(node_t *n, qp_net_reason_t reason) {
  qp_net_metrics_t m;
  qp_net_metrics_read(n->net, &m);
  return m.disconnects[reason];
}

/* A message with sequence number seq and len bytes (len >= 4). */
static int send_seq(node_t *from, uint32_t to, uint32_t seq, size_t len, bool broadcast) {
  static uint8_t buf[2u << 20];
  assert_true(len >= 4 && len <= sizeof buf);
  qp_store_u32(buf, seq);
  for (size_t i = 4; i < len; i++) buf[i] = (uint8_t)(seq + i);
  return broadcast ? qp_net_broadcast(from->net, buf, len) : qp_net_send(from->net, to, buf, len);
}

/* Three validators: 2 listens, 1 listens and dials 2, 0 dials both. */
static void three_start(node_t n[3]) {
  uint16_t ports[3] = {0, 0, 0};
  node_start(&n[2], &(setup_t){.ports = ports, .count = 3, .key = 2});
  ports[2] = qp_net_listen_port(n[2].net);
  node_start(&n[1], &(setup_t){.ports = ports, .count = 3, .key = 1});
  ports[1] = qp_net_listen_port(n[1].net);
  node_start(&n[0], &(setup_t){.ports = ports, .count = 3, .key = 0});
  for (uint32_t i = 0; i < 3; i++)
    for (uint32_t j = 0; j < 3; j++)
      if (i != j) WAIT_UNTIL(qp_net_peer_is_up(n[i].net, j));
}

static void test_three_validators_talk_both_ways(void **state) {
  (void)state;
  node_t n[3];
  three_start(n);
  for (uint32_t seq = 0; seq < 500; seq++) {
    assert_int_equal(send_seq(&n[0], 1, seq, 4 + seq % 300, false), 0);
    assert_int_equal(send_seq(&n[1], 0, seq, 4 + seq % 200, false), 0);
    assert_int_equal(send_seq(&n[2], 0, seq, 4 + seq % 100, false), 0);
    assert_int_equal(send_seq(&n[2], 1, seq, 4 + seq % 100, false), 0);
  }
  WAIT_UNTIL(node_read(&n[1], &n[1].msgs[0]) == 500 && node_read(&n[1], &n[1].msgs[2]) == 500);
  WAIT_UNTIL(node_read(&n[0], &n[0].msgs[1]) == 500 && node_read(&n[0], &n[0].msgs[2]) == 500);
  /* A broadcast reaches both others; a 1 MiB message arrives whole. */
  assert_int_equal(send_seq(&n[2], 0, 500, 1u << 20, true), 0);
  WAIT_UNTIL(node_read(&n[1], &n[1].msgs[2]) == 501);
  WAIT_UNTIL(node_read(&n[0], &n[0].msgs[2]) == 501);
  for (int i = 0; i < 3; i++) assert_int_equal(node_read32(&n[i], &n[i].bad), 0);
  assert_int_equal(node_read(&n[1], &n[1].largest), 1u << 20);
  qp_net_metrics_t m;
  qp_net_metrics_read(n[0].net, &m);
  assert_int_equal(m.peers_up, 2);
  assert_int_equal(m.messages_in, 1001);
  assert_int_equal(m.handshakes_ok, 2);
  assert_true(m.frames_out >= 502 && m.bytes_in > (1u << 20));
  for (int i = 2; i >= 0; i--) node_stop(&n[i]);
}

/* ---- a raw peer: blocking sockets and the documented format ------------ */

typedef struct raw {
  int fd;                   /* the socket */
  qp__net_decoder_t dec;    /* frames in */
  uint8_t buf[4096];        /* bytes read, not yet decoded */
  size_t pos;               /* decoded up to here */
  size_t have;              /* bytes in buf */
  qp__net_hello_t mine;     /* our HELLO */
  qp__net_hello_t theirs;   /* the node's HELLO */
} raw_t;

static void raw_connect(raw_t *r, uint16_t port) {
  memset(r, 0, sizeof *r);
  r->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(r->fd >= 0);
  struct timeval tv = {.tv_sec = 3};
  setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(r->fd, (struct sockaddr *)&sa, sizeof sa), 0);
  qp__net_decoder_init(&r->dec, 1u << 20, 0xe);
}

static void raw_close(raw_t *r) {
  close(r->fd);
  qp__net_decoder_deinit(&r->dec);
}

static void raw_write(raw_t *r, const void *data, size_t len) {
  assert_int_equal(send(r->fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void raw_frame(raw_t *r, uint8_t type, const void *payload, uint32_t len) {
  uint8_t header[QP_NET_FRAME_HEADER_SIZE];
  qp__net_frame_header(header, type, len);
  raw_write(r, header, sizeof header);
  raw_write(r, payload, len);
}

/* Reads the next frame; false on EOF, reset or timeout. */
static bool raw_read_frame(raw_t *r, qp__net_frame_t *f) {
  for (;;) {
    if (r->pos < r->have) {
      size_t used = 0;
      qp_net_reason_t reason;
      int rc = qp__net_decoder_feed(&r->dec, r->buf + r->pos, r->have - r->pos, &used, f, &reason);
      assert_true(rc >= 0);
      r->pos += used;
      if (rc == 1) return true;
    }
    ssize_t n = recv(r->fd, r->buf, sizeof r->buf, 0);
    if (n <= 0) return false;
    r->pos = 0;
    r->have = (size_t)n;
  }
}

/* True when the node closed the connection (EOF or reset) in time. */
static bool raw_closed_by_node(raw_t *r) {
  uint8_t b[4096];
  for (int i = 0; i < 1000; i++) {
    ssize_t n = recv(r->fd, b, sizeof b, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
  return false;
}

static void raw_hello(raw_t *r, int key, const uint8_t *id) {
  qp__net_hello_t *h = &r->mine;
  h->version = QP__NET_VERSION;
  h->suite = QP_SUITE_ED25519;
  memcpy(h->network_id, id, QP_NET_NETWORK_ID_SIZE);
  for (uint32_t i = 0; i < QP__NET_NONCE_SIZE; i++) h->nonce[i] = (uint8_t)(i * 3 + 1);
  size_t len = 0;
  qp_sign_public(keys[key], h->key, &len);
  h->key_len = (uint32_t)len;
  uint8_t payload[QP__NET_HELLO_BYTES_MAX];
  raw_frame(r, QP__NET_FRAME_HELLO, payload, (uint32_t)qp__net_hello_encode(h, payload));
}

/* The whole handshake as the dialer with keys[key]; checks the node's AUTH. */
static void raw_handshake(raw_t *r, int key) {
  raw_hello(r, key, net_id);
  qp__net_frame_t f;
  assert_true(raw_read_frame(r, &f));
  assert_int_equal(f.type, QP__NET_FRAME_HELLO);
  assert_int_equal(qp__net_hello_decode(f.payload, f.len, &r->theirs), 0);
  uint8_t t[QP__NET_TRANSCRIPT_BYTES_MAX], sig[QP_SIGN_SIG_MAX];
  size_t len = qp__net_transcript(t, QP__NET_ROLE_DIALER, net_id, &r->mine, &r->theirs);
  size_t sig_len = 0;
  assert_int_equal(qp_sign(keys[key], t, len, sig, &sig_len), 0);
  raw_frame(r, QP__NET_FRAME_AUTH, sig, (uint32_t)sig_len);
  assert_true(raw_read_frame(r, &f));
  assert_int_equal(f.type, QP__NET_FRAME_AUTH);
  len = qp__net_transcript(t, QP__NET_ROLE_ACCEPTOR, net_id, &r->mine, &r->theirs);
  assert_int_equal(qp_verify(QP_SUITE_ED25519, r->theirs.key, r->theirs.key_len, t, len,
                             f.payload, f.len), 0);
}

/* Validator 1 of two, listening; the raw client plays validator 0. */
static uint16_t listener_start(node_t *n) {
  uint16_t ports[2] = {0, 0};
  node_start(n, &(setup_t){.ports = ports, .count = 2, .key = 1});
  return qp_net_listen_port(n->net);
}

static void test_raw_peer_speaks_the_documented_format(void **state) {
  (void)state;
  node_t n;
  raw_t r;
  raw_connect(&r, listener_start(&n));
  raw_handshake(&r, 0);
  WAIT_UNTIL(qp_net_peer_is_up(n.net, 0));
  assert_int_equal(node_read32(&n, &n.ups[0]), 1);
  uint8_t msg[8] = {0, 0, 0, 0, 4, 5, 6, 7};
  raw_frame(&r, QP__NET_FRAME_MSG, msg, sizeof msg);
  WAIT_UNTIL(node_read(&n, &n.msgs[0]) == 1);
  assert_int_equal(send_seq(&n, 0, 9, 40, false), 0);
  qp__net_frame_t f;
  assert_true(raw_read_frame(&r, &f));
  assert_int_equal(f.type, QP__NET_FRAME_MSG);
  assert_int_equal(f.len, 40);
  assert_int_equal(qp_load_u32(f.payload), 9);
  raw_close(&r);
  WAIT_UNTIL(!qp_net_peer_is_up(n.net, 0));
  assert_int_equal(node_read32(&n, &n.downs[0]), 1);
  assert_int_equal(disconnects(&n, QP_NET_REASON_CLOSED), 1);
  node_stop(&n);
}

/* Sends bytes on a fresh connection (after a handshake when asked) and
 * expects the node to hang up with reason. */
static void expect_hangup(node_t *n, bool handshake, const void *bytes, size_t len,
                          qp_net_reason_t reason) {
  uint64_t before = disconnects(n, reason);
  raw_t r;
  raw_connect(&r, qp_net_listen_port(n->net));
  if (handshake) {
    raw_handshake(&r, 0);
    WAIT_UNTIL(qp_net_peer_is_up(n->net, 0));
  }
  raw_write(&r, bytes, len);
  assert_true(raw_closed_by_node(&r));
  raw_close(&r);
  WAIT_UNTIL(disconnects(n, reason) == before + 1);
  WAIT_UNTIL(!qp_net_peer_is_up(n->net, 0));
}

static void test_garbage_before_and_after_the_handshake(void **state) {
  (void)state;
  node_t n;
  listener_start(&n);
  const uint8_t http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  const uint8_t zero[5] = {0, 0, 0, 0, QP__NET_FRAME_MSG};
  const uint8_t huge[5] = {0xff, 0xff, 0xff, 0x7f, QP__NET_FRAME_MSG};
  const uint8_t early[8] = {3, 0, 0, 0, QP__NET_FRAME_MSG, 1, 2, 3};
  const uint8_t hello2[5] = {70, 0, 0, 0, QP__NET_FRAME_HELLO};
  const uint8_t bad_hello[9] = {4, 0, 0, 0, QP__NET_FRAME_HELLO, 1, 0, 1, 2};
  for (int after = 0; after < 2; after++) {
    expect_hangup(&n, after, http, sizeof http - 1, QP_NET_REASON_FRAME_TYPE);
    expect_hangup(&n, after, zero, sizeof zero, QP_NET_REASON_FRAME_EMPTY);
    expect_hangup(&n, after, huge, sizeof huge, QP_NET_REASON_FRAME_OVERSIZED);
  }
  expect_hangup(&n, false, early, sizeof early, QP_NET_REASON_UNEXPECTED);
  expect_hangup(&n, true, hello2, sizeof hello2, QP_NET_REASON_UNEXPECTED);
  expect_hangup(&n, false, bad_hello, sizeof bad_hello, QP_NET_REASON_HELLO_MALFORMED);
  /* Still serving: a well-behaved peer gets through. */
  raw_t r;
  raw_connect(&r, qp_net_listen_port(n.net));
  raw_handshake(&r, 0);
  WAIT_UNTIL(qp_net_peer_is_up(n.net, 0));
  raw_close(&r);
  node_stop(&n);
}

/* A HELLO from keys[key] with network id id must be refused with reason. */
static void expect_hello_refused(node_t *n, int key, const uint8_t *id, qp_net_reason_t reason) {
  uint64_t before = disconnects(n, reason);
  raw_t r;
  raw_connect(&r, qp_net_listen_port(n->net));
  raw_hello(&r, key, id);
  qp__net_frame_t f;
  assert_true(raw_read_frame(&r, &f)); /* the node's own HELLO */
  assert_false(raw_read_frame(&r, &f)); /* and no AUTH: it hangs up */
  raw_close(&r);
  WAIT_UNTIL(disconnects(n, reason) == before + 1);
  assert_false(qp_net_peer_is_up(n->net, 0));
}

static void test_strangers_and_other_networks_are_refused(void **state) {
  (void)state;
  node_t n;
  listener_start(&n);
  uint8_t other_id[QP_NET_NETWORK_ID_SIZE] = {9};
  expect_hello_refused(&n, NODES_MAX, net_id, QP_NET_REASON_UNKNOWN_KEY);
  expect_hello_refused(&n, 0, other_id, QP_NET_REASON_NETWORK_ID);
  expect_hello_refused(&n, 1, net_id, QP_NET_REASON_WRONG_KEY); /* its own key */
  /* A real node with a stranger's key, and one of another network. */
  uint16_t ports[2] = {0, qp_net_listen_port(n.net)};
  int stranger_keys[2] = {NODES_MAX, 1};
  node_t s;
  node_start(&s, &(setup_t){.ports = ports, .count = 2, .key = NODES_MAX,
                            .key_of = stranger_keys});
  WAIT_UNTIL(disconnects(&n, QP_NET_REASON_UNKNOWN_KEY) >= 3);
  node_stop(&s);
  node_start(&s, &(setup_t){.ports = ports, .count = 2, .key = 0, .id = other_id});
  WAIT_UNTIL(disconnects(&n, QP_NET_REASON_NETWORK_ID) >= 3);
  assert_false(qp_net_peer_is_up(s.net, 1));
  assert_true(disconnects(&s, QP_NET_REASON_NETWORK_ID) >= 1); /* it refuses us too */
  node_stop(&s);
  assert_int_equal(node_read32(&n, &n.ups[0]), 0);
  node_stop(&n);
}

static void test_wrong_direction_is_refused(void **state) {
  (void)state;
  node_t n;
  uint16_t ports[3] = {0, 0, 0};
  node_start(&n, &(setup_t){.ports = ports, .count = 3, .key = 1});
  expect_hello_refused(&n, 2, net_id, QP_NET_REASON_DIRECTION); /* 1 dials 2, not back */
  node_stop(&n);
}

static void test_sm2_validators(void **state) {
  (void)state;
  qp_sign_key_t *ed[2] = {keys[0], keys[1]};
  for (int i = 0; i < 2; i++) assert_int_equal(qp_sign_keygen(QP_SUITE_SM2, &keys[i]), 0);
  node_t a, b;
  uint16_t ports[2] = {0, 0};
  node_start(&b, &(setup_t){.ports = ports, .count = 2, .key = 1});
  ports[1] = qp_net_listen_port(b.net);
  node_start(&a, &(setup_t){.ports = ports, .count = 2, .key = 0});
  WAIT_UNTIL(qp_net_peer_is_up(a.net, 1) && qp_net_peer_is_up(b.net, 0));
  assert_int_equal(send_seq(&b, 0, 0, 1000, false), 0);
  WAIT_UNTIL(node_read(&a, &a.msgs[1]) == 1);
  assert_int_equal(node_read32(&a, &a.bad), 0);
  node_stop(&a);
  node_stop(&b);
  for (int i = 0; i < 2; i++) {
    qp_sign_key_free(keys[i]);
    keys[i] = ed[i];
  }
}

static void test_silent_peer_times_out_and_newer_session_wins(void **state) {
  (void)state;
  node_t n;
  listener_start(&n);
  raw_t silent, first, second;
  raw_connect(&silent, qp_net_listen_port(n.net));
  assert_true(raw_closed_by_node(&silent)); /* 1 s without a HELLO */
  raw_close(&silent);
  WAIT_UNTIL(disconnects(&n, QP_NET_REASON_HANDSHAKE_TIMEOUT) == 1);
  raw_connect(&first, qp_net_listen_port(n.net));
  raw_handshake(&first, 0);
  WAIT_UNTIL(node_read32(&n, &n.ups[0]) == 1);
  raw_connect(&second, qp_net_listen_port(n.net));
  raw_handshake(&second, 0);
  assert_true(raw_closed_by_node(&first));
  WAIT_UNTIL(node_read32(&n, &n.ups[0]) == 2 && node_read32(&n, &n.downs[0]) == 1);
  assert_int_equal(disconnects(&n, QP_NET_REASON_REPLACED), 1);
  assert_true(qp_net_peer_is_up(n.net, 0));
  assert_int_equal(send_seq(&n, 0, 1, 10, false), 0);
  qp__net_frame_t f;
  assert_true(raw_read_frame(&second, &f)); /* the new session carries the traffic */
  assert_int_equal(f.len, 10);
  raw_close(&first);
  raw_close(&second);
  node_stop(&n);
}

static void test_peer_that_does_not_read_is_disconnected(void **state) {
  (void)state;
  node_t n;
  uint16_t ports[2] = {0, 0};
  node_start(&n, &(setup_t){.ports = ports, .count = 2, .key = 1, .frame_bytes_max = 1u << 16,
                            .queue_bytes_max = 1u << 18});
  raw_t r;
  raw_connect(&r, qp_net_listen_port(n.net));
  raw_handshake(&r, 0);
  WAIT_UNTIL(qp_net_peer_is_up(n.net, 0));
  int rc = 0;
  for (uint32_t i = 0; i < 100000 && rc == 0; i++) rc = send_seq(&n, 0, i, 1u << 16, false);
  assert_int_equal(rc, QP_ELIMIT);
  WAIT_UNTIL(!qp_net_peer_is_up(n.net, 0));
  assert_int_equal(disconnects(&n, QP_NET_REASON_SLOW_PEER), 1);
  qp_net_metrics_t m;
  qp_net_metrics_read(n.net, &m);
  assert_true(m.send_dropped_full >= 1);
  /* Messages to a peer that is down are dropped and counted, not queued. */
  assert_int_equal(send_seq(&n, 0, 0, 10, false), 0);
  WAIT_UNTIL((qp_net_metrics_read(n.net, &m), m.send_dropped_down >= 1));
  raw_close(&r);
  node_stop(&n);
}

static void test_reconnect_after_either_side_restarts(void **state) {
  (void)state;
  node_t a, b;
  uint16_t ports[2] = {0, 0};
  node_start(&b, &(setup_t){.ports = ports, .count = 2, .key = 1});
  ports[1] = qp_net_listen_port(b.net);
  node_start(&a, &(setup_t){.ports = ports, .count = 2, .key = 0});
  WAIT_UNTIL(qp_net_peer_is_up(a.net, 1) && qp_net_peer_is_up(b.net, 0));
  /* The listener restarts on the same port: the dialer comes back. */
  node_stop(&b);
  WAIT_UNTIL(node_read32(&a, &a.downs[1]) == 1);
  usleep(50000); /* a few failed dials with backoff */
  node_start(&b, &(setup_t){.ports = ports, .count = 2, .key = 1, .listen_port = ports[1]});
  WAIT_UNTIL(qp_net_peer_is_up(a.net, 1) && qp_net_peer_is_up(b.net, 0));
  assert_int_equal(node_read32(&a, &a.ups[1]), 2);
  qp_net_metrics_t m;
  qp_net_metrics_read(a.net, &m);
  assert_true(m.dials >= 2);
  /* The dialer restarts: the listener sees it go and come back. */
  node_stop(&a);
  WAIT_UNTIL(node_read32(&b, &b.downs[0]) == 1);
  node_start(&a, &(setup_t){.ports = ports, .count = 2, .key = 0});
  WAIT_UNTIL(node_read32(&b, &b.ups[0]) == 2 && qp_net_peer_is_up(a.net, 1));
  assert_int_equal(send_seq(&a, 1, 0, 100, false), 0);
  assert_int_equal(send_seq(&b, 0, 0, 100, false), 0);
  WAIT_UNTIL(node_read(&b, &b.msgs[0]) == 1 && node_read(&a, &a.msgs[1]) == 1);
  node_stop(&a);
  node_stop(&b);
}

static void test_config_and_send_refusals(void **state) {
  (void)state;
  qp_net_peer_config_t v[2];
  uint16_t ports[2] = {0, 0};
  validators_fill(v, 2, ports, NULL);
  qp_net_config_t c = {.key = keys[0], .validators = v, .validators_count = 2,
                       .on_message = on_message};
  qp_net_t *net = NULL;
  char detail[160];
  assert_int_equal(qp_net_create(&c, &net, detail, sizeof detail), 0);
  assert_int_equal(qp_net_self_index(net), 0);
  assert_int_equal(qp_net_listen_port(net), 0);
  uint8_t b[4] = {1, 2, 3, 4};
  assert_int_equal(qp_net_send(net, 1, b, 4), QP_ESTOPPED); /* not started */
  assert_int_equal(qp_net_send(net, 0, b, 4), QP_EINVAL);  /* itself */
  assert_int_equal(qp_net_send(net, 2, b, 4), QP_EINVAL);  /* no such validator */
  assert_int_equal(qp_net_send(net, 1, b, 0), QP_EINVAL);
  assert_int_equal(qp_net_start(net), 0); /* no listener, nobody to dial: idle */
  assert_int_equal(qp_net_start(net), QP_EINVAL);
  assert_int_equal(qp_net_broadcast(net, b, 4), 0);
  qp_net_destroy(net);
  struct { const char *addr; int key; uint32_t frame_max; const char *want; } bad[] = {
      {"127.0.0.1", 0, 0, "address"},   {"127.0.0.1:99999", 0, 0, "address"},
      {"localhost:1", 0, 0, "address"}, {"[::1:1", 0, 0, "address"},
      {"", NODES_MAX, 0, "not among"},  {"", 0, (64u << 20) + 1, "frame_bytes_max"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(v[1].address, sizeof v[1].address, "%s", bad[i].addr);
    c.key = keys[bad[i].key];
    c.frame_bytes_max = bad[i].frame_max;
    assert_int_equal(qp_net_create(&c, &net, detail, sizeof detail), QP_EINVAL);
    assert_non_null(strstr(detail, bad[i].want));
    assert_null(net);
  }
  v[1] = v[0]; /* the same key twice */
  c.key = keys[0];
  c.frame_bytes_max = 0;
  assert_int_equal(qp_net_create(&c, &net, detail, sizeof detail), QP_EINVAL);
  assert_string_equal(qp_net_reason_name(QP_NET_REASON_SLOW_PEER), "slow_peer");
  assert_string_equal(qp_net_reason_name(QP_NET_REASON_COUNT), "unknown");
}

static int setup(void **state) {
  (void)state;
  qp_log_set_level(qp_test_env_u64("QP_TEST_NET_LOG", 0) ? QP_LOG_DEBUG : QP_LOG_ERROR);
  for (int i = 0; i <= NODES_MAX; i++)
    if (qp_sign_keygen(QP_SUITE_ED25519, &keys[i]) != 0) return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  for (int i = 0; i <= NODES_MAX; i++) qp_sign_key_free(keys[i]);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_three_validators_talk_both_ways),
      cmocka_unit_test(test_raw_peer_speaks_the_documented_format),
      cmocka_unit_test(test_garbage_before_and_after_the_handshake),
      cmocka_unit_test(test_strangers_and_other_networks_are_refused),
      cmocka_unit_test(test_wrong_direction_is_refused),
      cmocka_unit_test(test_sm2_validators),
      cmocka_unit_test(test_silent_peer_times_out_and_newer_session_wins),
      cmocka_unit_test(test_peer_that_does_not_read_is_disconnected),
      cmocka_unit_test(test_reconnect_after_either_side_restarts),
      cmocka_unit_test(test_config_and_send_refusals),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
