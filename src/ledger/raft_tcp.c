/*
 * raft_tcp.c - libraft's TCP transport with TCP_NODELAY on every
 * connection (raft_tcp.h).
 */
#include "ledger/raft_tcp.h"

#include <stddef.h>
#include <string.h>
#include <uv.h>

#include "base/alloc.h"

/* A connect request of libraft's, carried through the inner transport. */
typedef struct connect_req {
  struct raft_uv_connect inner; /* handed to the inner transport */
  struct raft_uv_connect *outer; /* libraft's request */
  raft_uv_connect_cb cb;        /* libraft's callback */
  qp__raft_tcp_t *tcp;          /* the wrapper */
} connect_req_t;

static void nodelay(qp__raft_tcp_t *t, struct uv_stream_s *stream) {
  if (stream->type != UV_TCP || uv_tcp_nodelay((uv_tcp_t *)stream, 1) != 0) t->nodelay_failed++;
}

static void accepted(struct raft_uv_transport *transport, raft_id id, const char *address,
                     struct uv_stream_s *stream) {
  qp__raft_tcp_t *t = (qp__raft_tcp_t *)transport;
  nodelay(t, stream);
  t->accept_cb(transport, id, address, stream);
}

static int listen_nodelay(struct raft_uv_transport *transport, raft_uv_accept_cb cb) {
  qp__raft_tcp_t *t = (qp__raft_tcp_t *)transport;
  t->accept_cb = cb;
  return t->inner_listen(transport, accepted);
}

/* Called once per request, also when it fails or is cancelled by close. */
static void connected(struct raft_uv_connect *inner, struct uv_stream_s *stream, int status) {
  connect_req_t *r = (connect_req_t *)((char *)inner - offsetof(connect_req_t, inner));
  if (status == 0 && stream != NULL) nodelay(r->tcp, stream);
  struct raft_uv_connect *outer = r->outer;
  raft_uv_connect_cb cb = r->cb;
  qp_free(r);
  cb(outer, stream, status);
}

static int connect_nodelay(struct raft_uv_transport *transport, struct raft_uv_connect *req,
                           raft_id id, const char *address, raft_uv_connect_cb cb) {
  qp__raft_tcp_t *t = (qp__raft_tcp_t *)transport;
  connect_req_t *r = qp_calloc(1, sizeof *r);
  if (r == NULL) return RAFT_NOMEM;
  r->outer = req;
  r->cb = cb;
  req->cb = cb; /* what libraft's own transport does to the request it is given */
  r->tcp = t;
  int rv = t->inner_connect(transport, &r->inner, id, address, connected);
  if (rv != 0) qp_free(r); /* not started: the callback never comes */
  return rv;
}

int qp__raft_tcp_init(qp__raft_tcp_t *t, struct uv_loop_s *loop) {
  memset(t, 0, sizeof *t);
  int rv = raft_uv_tcp_init(&t->transport, loop);
  if (rv != 0) return rv;
  t->inner_listen = t->transport.listen;
  t->inner_connect = t->transport.connect;
  t->transport.listen = listen_nodelay;
  t->transport.connect = connect_nodelay;
  return 0;
}
