/*
 * net_int.h - the transport's insides, shared by its files (private to
 * net/).
 *
 *   net.c        create/destroy, start/stop, the loop thread, metrics
 *   send.c       the cross-thread send queue, per-peer budgets, writes
 *   conn.c       connections: accept, dial, redial, read, close
 *   handshake.c  HELLO and AUTH on a connection, sessions up and down
 *   addr.c       "host:port" text to and from socket addresses
 *
 * Threads: everything in struct qp_net below the "loop thread" line is
 * touched only by the loop thread (and by start/stop while the loop
 * thread does not run).  The queue and the run flags are under mu.  The
 * per-peer budgets, up flags and the counters are atomics, read from any
 * thread.
 */
#ifndef QP_NET_NET_INT_H
#define QP_NET_NET_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "crypto/crypto.h"
#include "net/frame.h"
#include "net/hello.h"
#include "net/net.h"

#define QP__NET_READ_BYTES (64u << 10)     /* one connection's read buffer */
#define QP__NET_INBOUND_PENDING_MAX 64u    /* inbound connections still in their handshake */
#define QP__NET_ADDR_TEXT_MAX 64u          /* "[v6]:port" and its NUL */
#define QP__NET_KEEPALIVE_S 10u            /* TCP keepalive idle time */
#define QP__NET_NO_PEER (-1)               /* a connection whose validator is not known yet */

/* One outgoing frame, header included, as one allocation.  Broadcast
 * writes share it; refs counts the holders (the queue entry while queued,
 * then each write in flight).  Loop thread only once dequeued. */
typedef struct qp__net_out {
  struct qp__net_out *next; /* the next queued frame (under mu) */
  int32_t peer;             /* the destination, or QP__NET_NO_PEER for a broadcast */
  uint64_t charged;         /* bit i: peer i's budget carries len for this frame */
  uint32_t refs;            /* holders; freed at 0 */
  uint32_t len;             /* bytes at data */
  uint8_t data[];           /* header and payload */
} qp__net_out_t;

typedef enum {
  QP__NET_CONN_CONNECTING = 0, /* dialer: connect not done */
  QP__NET_CONN_HELLO = 1,      /* our HELLO sent; waiting for theirs */
  QP__NET_CONN_AUTH = 2,       /* our AUTH sent; waiting for theirs */
  QP__NET_CONN_UP = 3,         /* authenticated; messages flow */
} qp__net_conn_state_t;

/* Invariants: peer is QP__NET_NO_PEER only for an acceptor before the
 * peer's HELLO; a connection is some peer's session only in state UP;
 * handles_open counts tcp and timer until their close callbacks ran, and
 * the struct is freed when it reaches 0 after closing. */
typedef struct qp__net_conn {
  uv_tcp_t tcp;                 /* the socket; data = this */
  uv_timer_t timer;             /* the handshake deadline; data = this */
  uv_connect_t connect_req;     /* the dialer's connect */
  struct qp_net *net;           /* the owner */
  struct qp__net_conn *prev;    /* in net->conns */
  struct qp__net_conn *next;    /* in net->conns */
  uint32_t handles_open;        /* 0..2 */
  bool closing;                 /* close started; ignore everything else */
  bool dialer;                  /* this side called connect */
  bool pending_counted;         /* counted in net->inbound_pending */
  qp__net_conn_state_t state;   /* where the handshake is */
  int32_t peer;                 /* the validator index, or QP__NET_NO_PEER */
  qp__net_hello_t mine;         /* the HELLO we sent */
  qp__net_hello_t theirs;       /* the HELLO we got (state >= AUTH) */
  qp__net_decoder_t decoder;    /* frames in */
  char addr[QP__NET_ADDR_TEXT_MAX]; /* the remote end, for logs */
  uint8_t read_buf[QP__NET_READ_BYTES]; /* what libuv reads into */
} qp__net_conn_t;

/* One genesis validator, this node included. */
typedef struct qp__net_peer {
  struct qp_net *net;            /* the owner */
  uint32_t index;                /* in net->peers */
  qp_net_peer_config_t config;   /* key and address, copied at create */
  struct sockaddr_storage sa;    /* config.address parsed; has_address */
  bool has_address;              /* config.address was not empty */
  bool dialable;                 /* index > self and has_address: this node dials it */
  uv_timer_t redial;             /* the backoff timer (dialable only) */
  uint32_t backoff_ms;           /* the next redial delay */
  uint32_t dial_failures_row;    /* failed dials since the last session (logs the first) */
  qp__net_conn_t *session;       /* the UP connection, or NULL (loop thread) */
  qp__net_conn_t *dialing;       /* the outbound connection in its handshake, or NULL */
  _Atomic uint64_t queued_bytes; /* frame bytes accepted by send, not yet written or dropped */
  atomic_bool up;                /* session != NULL, for other threads */
  atomic_bool slow;              /* send found the budget full: disconnect it */
} qp__net_peer_t;

typedef struct qp__net_counters {
  _Atomic uint64_t frames_in, frames_out, bytes_in, bytes_out, messages_in;
  _Atomic uint64_t connections_in, dials, dial_failures, handshakes_ok;
  _Atomic uint64_t send_dropped_down, send_dropped_full;
  _Atomic uint64_t disconnects[QP_NET_REASON_COUNT];
  _Atomic uint32_t peers_up;
} qp__net_counters_t;

typedef enum { QP__NET_CREATED = 0, QP__NET_RUNNING = 1, QP__NET_STOPPED = 2 } qp__net_run_t;

struct qp_net {
  /* fixed by create */
  const qp_sign_key_t *key;        /* borrowed */
  qp_suite_t suite;                /* the key's suite; every validator key is of it */
  uint32_t self;                   /* this node's index */
  uint32_t count;                  /* validators */
  qp__net_peer_t peers[QP_NET_VALIDATORS_MAX]; /* by index */
  uint8_t network_id[QP_NET_NETWORK_ID_SIZE]; /* the genesis hash */
  bool has_listener;               /* a listen address was given */
  struct sockaddr_storage listen_sa; /* parsed listen address */
  char listen_text[QP_NET_ADDRESS_MAX + 1]; /* as given, for logs */
  uint32_t frame_bytes_max;        /* largest MSG payload */
  uint64_t send_queue_bytes_max;   /* per peer budget */
  uint32_t handshake_timeout_ms;   /* deadline from connect to UP */
  uint32_t reconnect_min_ms;       /* first redial delay */
  uint32_t reconnect_max_ms;       /* the cap of the doubling */
  qp_net_on_message_fn on_message; /* loop thread */
  qp_net_on_peer_fn on_peer;       /* loop thread; may be NULL */
  void *ctx;                       /* for both */
  /* shared, under mu */
  pthread_mutex_t mu;              /* guards queue_head/tail and run */
  qp__net_out_t *queue_head;       /* frames from send/broadcast, oldest first */
  qp__net_out_t *queue_tail;       /* last queued */
  qp__net_run_t run;               /* lifecycle */
  bool loop_open;                  /* loop initialised: close it at stop */
  atomic_bool stopping;            /* stop was requested: no more callbacks */
  _Atomic uint32_t listen_port;    /* bound port, 0 before start */
  qp__net_counters_t counters;     /* metrics */
  /* loop thread */
  uv_loop_t loop;                  /* the loop */
  uv_async_t wake;                 /* send, broadcast and stop poke the loop here */
  uv_tcp_t listener;               /* when has_listener */
  uv_thread_t thread;              /* runs the loop */
  qp__net_conn_t *conns;           /* every open or closing connection */
  uint32_t inbound_pending;        /* accepted connections not yet UP */
};

#define QP__NET_COUNT(net, field, n) \
  atomic_fetch_add_explicit(&(net)->counters.field, (n), memory_order_relaxed)

/* addr.c */
/* Parses "1.2.3.4:port" or "[v6]:port" (numeric hosts only).  Returns 0,
 * or QP_EINVAL with a reason in detail. */
int qp__net_addr_parse(const char *text, struct sockaddr_storage *out, char *detail,
                       size_t detail_size);
/* Formats sa as "ip:port" / "[ip]:port" into out (always NUL-terminated). */
void qp__net_addr_format(const struct sockaddr *sa, char *out, size_t size);
/* The port of sa. */
uint16_t qp__net_addr_port(const struct sockaddr *sa);

/* send.c (loop thread unless noted) */
/* Takes the queued frames and writes or drops each; disconnects slow peers. */
void qp__net_drain(struct qp_net *net);
/* Frees whatever is still queued (stop, after the loop ended). */
void qp__net_drop_queue(struct qp_net *net);
/* Builds and writes one handshake frame on conn (no budget); closes conn
 * on failure. */
void qp__net_write_control(qp__net_conn_t *conn, uint8_t type, const uint8_t *payload,
                           uint32_t len);

/* conn.c (loop thread) */
void qp__net_on_connection(uv_stream_t *listener, int status);
void qp__net_dial(struct qp_net *net, uint32_t peer);
void qp__net_on_redial(uv_timer_t *timer);
/* Closes conn once, logging one line and counting reason; fires on_peer
 * down if it was a session and schedules a redial for a peer this node
 * dials.  conn stays valid until its handles' close callbacks ran. */
void qp__net_conn_close(qp__net_conn_t *conn, qp_net_reason_t reason);
/* Closes the redial timers and every connection (stop). */
void qp__net_close_all(struct qp_net *net);
/* Describes conn for a log line: "1.2.3.4:5 (validator 2, key ab12cd34)". */
void qp__net_conn_describe(const qp__net_conn_t *conn, char *out, size_t size);
/* Schedules the next dial of peer after its backoff, doubling the backoff. */
void qp__net_redial_later(struct qp_net *net, uint32_t peer);

/* handshake.c (loop thread) */
/* The socket is connected: sends our HELLO and starts the deadline. */
void qp__net_handshake_start(qp__net_conn_t *conn);
/* Handles one decoded frame according to conn->state. */
void qp__net_on_frame(qp__net_conn_t *conn, const qp__net_frame_t *frame);


#endif
