/*
 * raft_tcp.h - libraft's TCP transport with Nagle's algorithm off
 * (private to src/ledger/).
 *
 * libraft 0.15's libuv TCP transport never sets TCP_NODELAY, so once one
 * AppendEntries message is unacknowledged on a connection, the next small
 * one waits in the kernel until the peer's delayed ACK (~40 ms on Linux):
 * under concurrent writes a Raft round sometimes took 40-50 ms instead of
 * under one.  This wraps the transport's listen and connect so that every
 * connection it accepts or makes gets TCP_NODELAY before libraft uses it;
 * everything else is libraft's own transport, unchanged.
 */
#ifndef QP_LEDGER_RAFT_TCP_H
#define QP_LEDGER_RAFT_TCP_H

#include <raft.h>
#include <raft/uv.h>

typedef struct qp__raft_tcp {
  struct raft_uv_transport transport; /* what raft_uv_init is given (the first member) */
  int (*inner_listen)(struct raft_uv_transport *t, raft_uv_accept_cb cb);
  int (*inner_connect)(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                       const char *address, raft_uv_connect_cb cb);
  raft_uv_accept_cb accept_cb; /* libraft's, called after TCP_NODELAY */
  unsigned nodelay_failed;     /* connections on which setting it failed (used as they are) */
} qp__raft_tcp_t;

/* raft_uv_tcp_init on loop, with the wrapping; returns its code.  Close
 * with raft_uv_tcp_close(&t->transport). */
int qp__raft_tcp_init(qp__raft_tcp_t *t, struct uv_loop_s *loop);

#endif
