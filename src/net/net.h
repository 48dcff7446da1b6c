/*
 * net.h - the peer transport of the consortium chain's validators: TCP on
 * libuv, length-prefixed frames, and a handshake in which each side proves
 * that it holds one of the genesis validators' keys (docs/net.md).
 *
 * A qp_net_t runs its own libuv loop on its own thread.  The consensus
 * thread (or any thread) hands it messages with qp_net_send and
 * qp_net_broadcast, which copy the bytes into a bounded per-peer queue and
 * wake the loop; the loop hands received messages and peer up/down events
 * to two callbacks, on its own thread.  Peers are the validators of
 * genesis, named by their index there (the same index on every node).
 *
 * Who dials whom: validator i dials validator j when i < j and j has an
 * address, so each pair has exactly one dialer and no duplicate
 * connections have to be resolved.  An inbound connection that
 * authenticates as a validator of a higher index than this node's is
 * refused (reason "direction"): this node dials that one itself.  When an
 * inbound connection authenticates as a validator that already has a
 * session (the dialer restarted before this side noticed the old socket
 * die), the new one wins and the old one is closed ("replaced"): only the
 * key holder can complete a handshake, so only it can replace its session.
 *
 * What it guarantees: every message handed to on_message came, in order,
 * over a connection whose far end proved possession of validator `peer`'s
 * secret key during this connection's handshake (the signature binds both
 * sides' fresh nonces, both keys and the network id).  What it does not:
 * confidentiality and per-frame integrity.  There is no TLS and no
 * per-frame MAC: validators exchange votes and blocks that are public and
 * signed by their authors at the consensus layer, and the deployments we
 * target run validators over private links.  An attacker who can rewrite
 * TCP segments can still inject frames into an authenticated connection;
 * consensus must (and does) verify every vote and proposal signature
 * itself.  Delivery is best effort: messages to a peer that is down, or
 * that go down while queued, are dropped and counted.
 *
 * Malformed input from a peer (a zero or oversized length, an unknown
 * frame type, a frame out of order, a bad HELLO or signature, a handshake
 * that does not finish in time) closes that connection and logs one line
 * naming the remote address, the key when known and the reason; it never
 * crashes the process.
 */
#ifndef QP_NET_NET_H
#define QP_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"

#define QP_NET_VALIDATORS_MAX 64u               /* peers of one network, self included */
#define QP_NET_ADDRESS_MAX 63u                  /* bytes of "host:port" or "[v6]:port" */
#define QP_NET_NETWORK_ID_SIZE 32u              /* the genesis hash */
#define QP_NET_FRAME_HEADER_SIZE 5u             /* u32 length (LE) + u8 type */
#define QP_NET_FRAME_BYTES_DEFAULT (16u << 20)  /* message payload bytes: 16 MiB */
#define QP_NET_FRAME_BYTES_LIMIT (64u << 20)    /* the largest frame_bytes_max allowed */
#define QP_NET_SEND_QUEUE_BYTES_DEFAULT (64u << 20) /* per peer, queued but unwritten */
#define QP_NET_HANDSHAKE_TIMEOUT_MS_DEFAULT 5000u
#define QP_NET_RECONNECT_MIN_MS_DEFAULT 100u    /* first redial delay */
#define QP_NET_RECONNECT_MAX_MS_DEFAULT 5000u   /* the delay doubles up to this */

/* Why a connection ended: the label of the disconnect counters and the
 * word in the log line.  XX(NAME, "label", "what happened"). */
#define QP_NET_REASON_MAP(XX)                                                          \
  XX(CLOSED, "closed", "the peer closed the connection or the socket failed")          \
  XX(FRAME_EMPTY, "frame_empty", "a frame with length 0")                              \
  XX(FRAME_OVERSIZED, "frame_oversized", "a frame longer than allowed for its type")  \
  XX(FRAME_TYPE, "frame_type", "a frame of an unknown type")                           \
  XX(UNEXPECTED, "unexpected_frame", "a frame out of order: a message before the "     \
                                     "handshake, a second HELLO")                      \
  XX(HELLO_MALFORMED, "hello_malformed", "a HELLO that does not parse")                \
  XX(VERSION, "version", "a protocol version this node does not speak")               \
  XX(SUITE, "suite", "a signing suite other than this network's")                     \
  XX(NETWORK_ID, "network_id", "a network id (genesis hash) other than this node's")  \
  XX(UNKNOWN_KEY, "unknown_key", "a key that is not a genesis validator's")           \
  XX(WRONG_KEY, "wrong_key", "the dialled peer is another validator, or this node")   \
  XX(DIRECTION, "direction", "an inbound connection from a validator this node dials") \
  XX(BAD_SIGNATURE, "bad_signature", "the handshake signature does not verify")        \
  XX(HANDSHAKE_TIMEOUT, "handshake_timeout", "the handshake did not finish in time")  \
  XX(REPLACED, "replaced", "a newer authenticated connection of the same validator")  \
  XX(SLOW_PEER, "slow_peer", "the peer's send queue is full")                          \
  XX(TOO_MANY, "too_many", "too many connections still in their handshake")            \
  XX(LOCAL_ERROR, "local_error", "out of memory or a socket call failed on this side") \
  XX(SHUTDOWN, "shutdown", "this node is stopping")

typedef enum {
#define QP__NET_REASON_ENUM(name, label, text) QP_NET_REASON_##name,
  QP_NET_REASON_MAP(QP__NET_REASON_ENUM)
#undef QP__NET_REASON_ENUM
  QP_NET_REASON_COUNT
} qp_net_reason_t;

/* The reason's label ("frame_oversized"), static storage; "unknown" when
 * reason is out of range. */
const char *qp_net_reason_name(qp_net_reason_t reason);

/* Called on the net thread for every message received from an
 * authenticated peer (its genesis index).  bytes is valid only during the
 * call (copy what you keep); len is 1..frame_bytes_max.  The callback may
 * call qp_net_send and qp_net_broadcast, but not qp_net_stop or
 * qp_net_destroy, and should return quickly: it holds up all peers. */
typedef void (*qp_net_on_message_fn)(void *ctx, uint32_t peer, const uint8_t *bytes,
                                     size_t len);

/* Called on the net thread when a peer's session comes up (handshake done)
 * or goes down.  Every up is followed by exactly one down, except that no
 * callback runs once qp_net_stop has been called.  Same rules as above. */
typedef void (*qp_net_on_peer_fn)(void *ctx, uint32_t peer, bool up);

/* One genesis validator as the transport sees it.  Index i of the array
 * is validator i of genesis. */
typedef struct qp_net_peer_config {
  uint8_t public_key[QP_SIGN_PUBLIC_MAX]; /* the suite's encoding, as in genesis */
  uint32_t public_key_len;                /* bytes used */
  char address[QP_NET_ADDRESS_MAX + 1];   /* "1.2.3.4:7100" / "[::1]:7100" to dial; "" = never */
} qp_net_peer_config_t;

/* Everything qp_net_create needs.  Zero limits take the defaults above. */
typedef struct qp_net_config {
  const char *listen_address;         /* "127.0.0.1:7100"; port 0 = any; NULL/"" = no listener */
  const qp_sign_key_t *key;           /* this node's key; borrowed, must outlive the net */
  const qp_net_peer_config_t *validators; /* genesis validators, this node's key among them */
  uint32_t validators_count;          /* 1..QP_NET_VALIDATORS_MAX; copied by create */
  uint8_t network_id[QP_NET_NETWORK_ID_SIZE]; /* the genesis hash; both sides must match */
  uint32_t frame_bytes_max;           /* largest message payload; 0 = default, <= LIMIT */
  uint64_t send_queue_bytes_max;      /* per peer; 0 = default; >= frame_bytes_max + 5 */
  uint32_t handshake_timeout_ms;      /* 0 = default */
  uint32_t reconnect_min_ms;          /* 0 = default */
  uint32_t reconnect_max_ms;          /* 0 = default; >= reconnect_min_ms */
  qp_net_on_message_fn on_message;    /* required */
  qp_net_on_peer_fn on_peer;          /* may be NULL */
  void *ctx;                          /* passed to both callbacks */
} qp_net_config_t;

/* Counters since create; all monotonic except peers_up. */
typedef struct qp_net_metrics {
  uint64_t frames_in;            /* frames received, handshake frames included */
  uint64_t frames_out;           /* frames whose write completed */
  uint64_t bytes_in;             /* bytes read from sockets */
  uint64_t bytes_out;            /* bytes written to sockets (frames_out's bytes) */
  uint64_t messages_in;          /* messages handed to on_message */
  uint64_t connections_in;       /* connections accepted */
  uint64_t dials;                /* outbound connection attempts */
  uint64_t dial_failures;        /* attempts that did not connect */
  uint64_t handshakes_ok;        /* sessions that came up */
  uint64_t send_dropped_down;    /* messages dropped: the peer was not up */
  uint64_t send_dropped_full;    /* messages refused: the peer's queue was full */
  uint64_t disconnects[QP_NET_REASON_COUNT]; /* connections closed, by reason */
  uint32_t peers_up;             /* peers with a session now */
} qp_net_metrics_t;

/* The transport; opaque. */
typedef struct qp_net qp_net_t;

/* Checks config and builds a stopped transport: finds this node's index
 * (the validator whose key is config->key's public key), copies the
 * validator list and parses every address.  Binds nothing yet.  Returns 0
 * and *out, QP_EINVAL with detail naming the field (no validators, too
 * many, a key of the wrong length or twice, this node's key absent, a bad
 * address, limits out of range, no on_message) or QP_ENOMEM.  The caller
 * owns *out and releases it with qp_net_destroy. */
int qp_net_create(const qp_net_config_t *config, qp_net_t **out, char *detail,
                  size_t detail_size);

/* Binds the listener (on the calling thread, so a busy port is reported
 * here), then starts the loop thread, which dials the validators of a
 * higher index that have an address.  Call once.  Returns 0, QP_EIO (bind
 * or listen failed: logged with the address), QP_ENOMEM or QP_EINVAL
 * (already started). */
int qp_net_start(qp_net_t *net);

/* Stops the loop: closes every connection and handle, joins the thread
 * and drops whatever was still queued.  Callbacks that would start after
 * the call are skipped, and none is running when it returns.  Idempotent;
 * a net never started is fine.  Must not be called from a callback. */
void qp_net_stop(qp_net_t *net);

/* Stops (if needed) and releases the net; NULL is allowed. */
void qp_net_destroy(qp_net_t *net);

/* Queues a copy of bytes[0..len) as one message to validator `peer`.
 * Thread-safe; returns without waiting for the socket.  Returns 0 when
 * queued (delivery is not guaranteed: if the peer is not up when the loop
 * takes the message it is dropped and counted); QP_EINVAL (peer out of
 * range or this node, len 0 or over frame_bytes_max); QP_ELIMIT (the
 * peer's queue is full: the message is refused, counted, and the peer is
 * disconnected as slow so that its queue empties); QP_ESTOPPED (not
 * running); QP_ENOMEM.  The caller keeps ownership of bytes. */
int qp_net_send(qp_net_t *net, uint32_t peer, const void *bytes, size_t len);

/* Queues one copy of bytes[0..len) to every other validator (one buffer,
 * shared by all the writes).  Thread-safe.  Peers whose queue is full are
 * skipped and handled as in qp_net_send.  Returns 0 when queued for at
 * least the peers with room, QP_EINVAL, QP_ESTOPPED or QP_ENOMEM. */
int qp_net_broadcast(qp_net_t *net, const void *bytes, size_t len);

/* This node's index among the validators (fixed by create). */
uint32_t qp_net_self_index(const qp_net_t *net);

/* The port the listener is bound to (useful after "host:0"); 0 before a
 * successful qp_net_start or without a listener. */
uint16_t qp_net_listen_port(const qp_net_t *net);

/* Whether validator `peer` has a session now.  Thread-safe; a snapshot. */
bool qp_net_peer_is_up(const qp_net_t *net, uint32_t peer);

/* Copies the counters into *out.  Thread-safe; each counter is read
 * atomically, the set is not one instant. */
void qp_net_metrics_read(const qp_net_t *net, qp_net_metrics_t *out);

#endif
