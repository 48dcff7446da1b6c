/*
 * test_raft_tcp.c - the Raft transport wrapper (src/ledger/raft_tcp.c):
 * a connection it makes and the one it accepts both have TCP_NODELAY
 * set (libraft's own transport leaves Nagle's algorithm on), libraft's
 * handshake still goes through (the accept callback learns the dialer's
 * id and address), and a connect to a closed port fails through the
 * callback with the wrapper's request freed (ASan would say otherwise).
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "ledger/raft_tcp.h"
#include "test_util.h"

typedef struct seen {
  int accepted, connected, failed; /* callbacks */
  int accepted_nodelay, connected_nodelay; /* TCP_NODELAY as read back */
  unsigned long long accepted_id;
  char accepted_address[64];
  uv_stream_t *streams[2];
} seen_t;

static seen_t seen;

static int nodelay_of(uv_stream_t *stream) {
  uv_os_fd_t fd;
  assert_int_equal(uv_fileno((uv_handle_t *)stream, &fd), 0);
  int on = -1;
  socklen_t len = sizeof on;
  assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
  return on;
}

static void on_accept(struct raft_uv_transport *t, raft_id id, const char *address,
                      uv_stream_t *stream) {
  (void)t;
  seen.accepted++;
  seen.accepted_id = id;
  snprintf(seen.accepted_address, sizeof seen.accepted_address, "%s", address);
  seen.accepted_nodelay = nodelay_of(stream);
  seen.streams[0] = stream;
}

static void on_connect(struct raft_uv_connect *req, uv_stream_t *stream, int status) {
  (void)req;
  if (status != 0) {
    seen.failed++;
    return;
  }
  seen.connected++;
  seen.connected_nodelay = nodelay_of(stream);
  seen.streams[1] = stream;
}

static void freed(uv_handle_t *h) { raft_free(h); }
static void transport_closed(struct raft_uv_transport *t) { (void)t; }

/* A free loopback port (bound and released). */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t len = sizeof a;
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

static void run_until(uv_loop_t *loop, const int *count, int want) {
  for (int i = 0; i < 2000 && *count < want; i++) uv_run(loop, UV_RUN_NOWAIT), usleep(1000);
}

static void test_nodelay_both_ends(void **state) {
  (void)state;
  memset(&seen, 0, sizeof seen);
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  qp__raft_tcp_t server, client;
  assert_int_equal(qp__raft_tcp_init(&server, &loop), 0);
  assert_int_equal(qp__raft_tcp_init(&client, &loop), 0);
  char address[32];
  snprintf(address, sizeof address, "127.0.0.1:%d", free_port());
  assert_int_equal(server.transport.init(&server.transport, 1, address), 0);
  assert_int_equal(client.transport.init(&client.transport, 2, "127.0.0.1:9"), 0);
  assert_int_equal(server.transport.listen(&server.transport, on_accept), 0);
  struct raft_uv_connect req;
  assert_int_equal(client.transport.connect(&client.transport, &req, 1, address, on_connect), 0);
  run_until(&loop, &seen.accepted, 1);
  run_until(&loop, &seen.connected, 1);
  assert_int_equal(seen.connected, 1);
  assert_int_equal(seen.accepted, 1);
  assert_true(seen.connected_nodelay != 0);
  assert_true(seen.accepted_nodelay != 0);
  assert_int_equal(seen.accepted_id, 2); /* libraft's handshake, through the wrapper */
  assert_string_equal(seen.accepted_address, "127.0.0.1:9");
  assert_int_equal(server.nodelay_failed + client.nodelay_failed, 0);
  /* A port nobody listens on: the failure comes through the callback. */
  snprintf(address, sizeof address, "127.0.0.1:%d", free_port());
  struct raft_uv_connect refused;
  int rv = client.transport.connect(&client.transport, &refused, 1, address, on_connect);
  if (rv == 0) run_until(&loop, &seen.failed, 1);
  assert_true(rv != 0 || seen.failed == 1);
  for (int i = 0; i < 2; i++) uv_close((uv_handle_t *)seen.streams[i], freed);
  server.transport.close(&server.transport, transport_closed);
  client.transport.close(&client.transport, transport_closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  raft_uv_tcp_close(&server.transport);
  raft_uv_tcp_close(&client.transport);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_nodelay_both_ends)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
