/*
 * node_int.h - (private to chain/) the chain module as a node runs it: the
 * consensus core driven by one thread, the peer transport, the mempool,
 * the block store and the executions of blocks not yet committed
 * (docs/chain.md, "The node").
 *
 * Threads: the driver thread owns the core, the executions and every
 * write to the store; the transport's thread only queues messages for it;
 * HTTP threads admit transactions into the mempool (thread-safe), read the
 * store (LMDB readers) and read the driver's published figures under
 * `pub_mutex`.
 */
#ifndef QP_CHAIN_NODE_INT_H
#define QP_CHAIN_NODE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "chain/consensus.h"
#include "chain/exec.h"
#include "chain/proof.h"
#include "chain/valset.h"
#include "chain/forward.h"
#include "chain/genesis.h"
#include "chain/mempool.h"
#include "chain/store.h"
#include "chain/vouch.h"
#include "http/http.h"
#include "net/net.h"
#include "store/store.h"

#define QP__CHAIN_EXECS_MAX 64u                 /* executions of uncommitted blocks held */
#define QP__CHAIN_TXS_ARRAYS 4u                 /* decoded-block arrays kept for reuse (blocks.c) */
#define QP__CHAIN_QUEUE_BYTES_MAX (256u << 20)  /* peer messages waiting for the driver */
#define QP_CHAIN_SUBMIT_BATCH_MAX 8190u         /* transactions in one POST /v1/chain/txs batch */
#define QP__CHAIN_FORWARD_BYTES (512u << 10)    /* an outbox this full is sent at once */
#define QP__CHAIN_FORWARD_DUE_BYTES (64u << 10) /* ... this full, at the next check */
#define QP__CHAIN_FORWARD_LINGER_MS 20u         /* ... else once its first tx waited this long */
#define QP__CHAIN_POOL_RESEND_BYTES (16u << 20) /* the pool handed to a peer that connects */

/* The first byte of every peer frame says what follows. */
enum {
  QP__CHAIN_CHANNEL_CONSENSUS = 1, /* the consensus core's message */
  QP__CHAIN_CHANNEL_TX = 2,        /* one forwarded transaction (older nodes send it) */
  QP__CHAIN_CHANNEL_TXS = QP_CHAIN_FWD_CHANNEL, /* forwarded transactions, batched (forward.h) */
  QP__CHAIN_CHANNEL_EPOCH = 4,   /* the end of an epoch: its last block and commit certificate */
  QP__CHAIN_CHANNEL_CATCHUP = 5, /* catching up across epochs: a request or a run (catchup.h) */
  QP__CHAIN_CHANNEL_VOUCHED = QP_CHAIN_VOUCHED_CHANNEL, /* forwarded txs, vouched (vouch.h) */
  QP__CHAIN_CHANNEL_VOUCH = QP_CHAIN_VOUCH_CHANNEL,     /* a checker's vouch (vouch.h) */
};

/* A forward frame this small goes without a vouch: signing and checking
 * two vouches would cost more than verifying its few signatures. */
#define QP__CHAIN_VOUCH_TXS_MIN 8u
/* How long a frame waits for its checkers' vouches before this node
 * verifies it itself (at once when a checker's connection is down; under a
 * flood a checker's queue can hold seconds of work, and verifying here
 * then would double the work that put it behind); how long vouches wait
 * for a frame that has not come. */
#define QP__CHAIN_VOUCH_WAIT_MS 5000u
#define QP__CHAIN_VOUCH_KEEP_MS 5000u
/* A frame whose checkers are alive (each vouched for some frame within the
 * last QP__CHAIN_VOUCH_WAIT_MS) but behind (their admission queue holds
 * seconds of work under a flood) waits again, up to this many times, before
 * this node verifies it itself: verifying it here then would only repeat
 * the work that put them behind. */
#define QP__CHAIN_VOUCH_WAITS_MAX 6u

/* The module's settings ("modules": {"chain": {…}} in node.json). */
typedef struct qp__chain_settings {
  char peer_listen[64];                    /* "127.0.0.1:7101": where peers connect */
  char peers[QP_CHAIN_VALIDATORS_MAX][64]; /* each validator's peer address, genesis order */
  uint32_t peers_count;                    /* entries in peers (0 or the validators' count) */
  char validator_key[1024];                /* path, relative to the home: "keys/validator.key" */
  char genesis[1024];                      /* path, relative to the home: "genesis.json" */
  bool require_api_key;                    /* chain routes need a key with chain:* scopes */
  uint32_t propose_txs_max;   /* transactions this node puts in a block it proposes (at most
                                genesis block_txs_max, which every block is checked against) */
  uint32_t propose_linger_ms; /* how long a leader may wait for a fuller block (driver.c) */
  uint32_t mempool_txs_max;   /* transactions this node's pool holds at most (mempool.h) */
} qp__chain_settings_t;

/* propose_txs_max's default (docs/chain.md, "The node"; docs/bench.md,
 * "Chain benchmark"): a block that each validator checks and executes in
 * a fraction of a second even on a busy machine, so that blocks keep
 * coming every few hundred milliseconds instead of growing without bound. */
#define QP__CHAIN_PROPOSE_TXS_DEFAULT 2048u

/* propose_linger_ms's default and bound (docs/chain.md, "The node"): a
 * leader with fewer than half of propose_txs_max transactions ready waits
 * up to this long from when its view asked for a block, so that a busy
 * network commits fewer, fuller blocks (each block costs every validator a
 * fixed share: its LMDB commit and fsync, the state tree's upper levels,
 * signatures).  The bound stays well under the view timeout. */
#define QP__CHAIN_PROPOSE_LINGER_DEFAULT 100u
#define QP__CHAIN_PROPOSE_LINGER_MAX 500u

/* mempool_txs_max's default (docs/chain.md, "The node"): what the pool
 * holds at most, taken transactions included; its bytes are bounded too
 * (64 MiB, mempool.h). */
#define QP__CHAIN_MEMPOOL_TXS_DEFAULT 65536u

/* One queued input for the driver. */
typedef struct qp__chain_event {
  struct qp__chain_event *next;
  uint32_t from;   /* the validator it came from */
  size_t len;      /* bytes that follow */
  uint8_t bytes[]; /* the message */
} qp__chain_event_t;

/* The execution of one uncommitted block, named by what determines it:
 * its parent and its transactions (the tx root).  A proposal is executed
 * before its hash exists (the header carries the roots after it). */
typedef struct qp__chain_exec_slot {
  bool used;
  uint8_t parent[QP_HASH_SIZE];  /* the parent block's hash */
  uint8_t tx_root[QP_HASH_SIZE]; /* the block's transaction root */
  qp_chain_exec_t exec;
} qp__chain_exec_slot_t;

/* What the driver publishes for the HTTP threads and /metrics. */
typedef struct qp__chain_public {
  uint64_t height;                  /* committed */
  uint8_t head_hash[QP_HASH_SIZE];  /* the committed block's consensus hash */
  uint8_t state_root[QP_HASH_SIZE]; /* after it */
  uint64_t view;                    /* the core's */
  uint64_t certified_height;        /* the height of the core's highest QC */
  uint64_t commits;                 /* blocks committed since start */
  uint64_t txs_committed;           /* transactions in them */
  uint64_t views_changed;           /* views entered by timeout (a TC), every core since start */
  uint64_t commit_ms_sum;           /* proposal timestamp -> local commit, summed */
} qp__chain_public_t;

/* The validator sets the chain has had (epochs.c, valset.h). */
typedef struct qp__chain_epochs {
  pthread_mutex_t mutex;     /* guards cfgs and count against the HTTP threads' reads */
  qp_chain_genesis_t **cfgs; /* [e]: epoch e's consensus configuration; [0]: the genesis's */
  uint32_t count;            /* epochs so far */
  qp_chain_valset_t peers;   /* every validator ever (genesis first): the transport's peers */
} qp__chain_epochs_t;

typedef struct qp__chain_node {
  qp__chain_settings_t settings;
  char home[1024];
  qp_chain_genesis_t genesis;    /* the network's (transactions, store) */
  qp_sign_key_t *key;            /* the validator key */
  int32_t self;                  /* its index among the transport's peers */
  qp__chain_epochs_t epochs;     /* the validator sets so far */
  const qp_chain_genesis_t *cfg; /* the current epoch's consensus configuration */
  int32_t member;                /* this node's index in it, -1: not a validator now */
  qp_chain_store_t *store;       /* <data>/chain */
  qp_chain_mempool_t *mempool;
  qp_net_t *net;
  qp_hs_t *core;                        /* driver thread only */
  char chain_dir[1200];                 /* <data>/chain */
  char safety_path[1300];               /* <data>/chain/safety.slots (epoch e: safety.<e>.slots) */
  qp_slot_file_t *safety;               /* that file, open; driver thread only */
  uint8_t committed_hash[QP_HASH_SIZE]; /* consensus hash of the last committed block */
  qp__chain_exec_slot_t execs[QP__CHAIN_EXECS_MAX]; /* driver thread only */
  pthread_mutex_t txs_mutex;                        /* guards txs_arrays, txs_busy */
  qp_chain_tx_t *txs_arrays[QP__CHAIN_TXS_ARRAYS];  /* block_txs_max each, made on first use */
  bool txs_busy[QP__CHAIN_TXS_ARRAYS];              /* taken by a decode in progress */
  bool need_payload;                                /* leading a view that waits for a proposal */
  bool empty_ok;                                    /* ... where an empty one is allowed */
  uint64_t views_changed_before;        /* by the cores replaced since start (driver thread) */
  bool payload_held;                    /* the ancestors' transactions are held back for it */
  bool payload_deferred;                /* the driver waits for the linger's end to propose */
  uint64_t payload_asked_ms;            /* when the core asked for it (wall clock) */
  uint8_t payload_parent[QP_HASH_SIZE]; /* ... on top of this block */

  pthread_t driver;
  bool driver_started;
  pthread_mutex_t mutex;          /* guards the queue below */
  pthread_cond_t cond;            /* wakes the driver */
  qp__chain_event_t *head, *tail; /* peer messages, oldest first */
  size_t queued_bytes;
  bool txs_arrived;            /* the mempool got something */
  _Atomic bool tx_wake_wanted; /* the driver waits for transactions (qp__chain_wake) */
  bool stopping;

  pthread_mutex_t pub_mutex; /* guards pub */
  qp__chain_public_t pub;
  pthread_t admit_thread; /* admits forwarded transactions (forward.c) */
  bool admit_started;
  pthread_mutex_t admit_mutex;                /* guards the frames below */
  pthread_cond_t admit_cond;                  /* wakes the admission thread */
  qp__chain_event_t *admit_head, *admit_tail; /* forwarded frames, oldest first */
  size_t admit_bytes;                         /* ... their bytes */
  bool admit_stopping;
  qp_chain_vouch_book_t vouch_book; /* frames waiting for vouches (admission thread) */
  uint64_t vouch_seen_ms[QP_CHAIN_VALIDATORS_MAX]; /* per member: its last valid vouch
                                                       (monotonic ms; admission thread) */
  _Atomic uint64_t vouches_sent;     /* vouches this node signed: its frames' and as checker */
  _Atomic uint64_t vouch_timeouts;   /* frames verified here after their vouches did not come */
  _Atomic uint64_t vouch_refused;    /* vouched frames or vouches refused (bad signature,
                                        not a member, a frame with a bad transaction) */
  pthread_mutex_t fwd_mutex;         /* guards the outbox below */
  qp_buf_t fwd;                      /* transactions to forward: one frame (forward.c) */
  uint32_t fwd_count;                /* ... how many */
  _Atomic uint64_t fwd_due_ms;       /* ... when it is due (monotonic ms; 0 = empty) */
  bool driver_waiting;               /* the driver waits on cond (under mutex) */
  _Atomic uint64_t dropped_messages; /* peer messages refused: the queue was full */

  uint8_t *epoch_proof; /* the last epoch change as a channel-4 frame (driver) */
  size_t epoch_proof_len;
  uint64_t epoch_proof_sent_ms[QP_CHAIN_VALIDATORS_MAX]; /* per peer, when last sent */
  uint64_t epoch_proof_until_ms;                         /* broadcast it every second until then */
  uint64_t epoch_proof_cast_ms;                          /* ... last done then */
  uint64_t catchup_asked_ms[QP_CHAIN_VALIDATORS_MAX];    /* per peer, when last asked (driver) */
  uint64_t catchup_peers; /* peers that came up: ask them (bit i; under mutex) */

  qp_http_module_t http;
} qp__chain_node_t;

/* driver.c: starts and stops the thread that runs the core. */
int qp__chain_driver_start(qp__chain_node_t *n, char *detail, size_t detail_size);
void qp__chain_driver_stop(qp__chain_node_t *n);
/* The transport's callbacks (ctx is the node). */
void qp__chain_on_message(void *ctx, uint32_t peer, const uint8_t *bytes, size_t len);
void qp__chain_on_peer(void *ctx, uint32_t peer, bool up);
/* Tells the driver that transactions arrived. */
void qp__chain_wake(qp__chain_node_t *n);

/* A queue of copied peer messages (the driver's, the admission thread's):
 * its mutex, the condition that wakes its consumer, its list, its bytes and
 * its stop flag, all owned by the node.  enqueue copies bytes and appends
 * them, or counts a dropped message (queue full past
 * QP__CHAIN_QUEUE_BYTES_MAX, stopping, out of memory). */
typedef struct qp__chain_queue {
  pthread_mutex_t *mutex;
  pthread_cond_t *cond;
  qp__chain_event_t **head, **tail;
  size_t *bytes;
  const bool *stopping;
} qp__chain_queue_t;
void qp__chain_enqueue(qp__chain_node_t *n, const qp__chain_queue_t *q, uint32_t from,
                       const uint8_t *bytes, size_t len);
/* Forwarding (forward.c): a transaction this node admitted goes into the
 * outbox for every other validator; flush_due sends the outbox as one frame
 * when it is due (lingered QP__CHAIN_FORWARD_LINGER_MS or holds
 * QP__CHAIN_FORWARD_DUE_BYTES); wait_ms is how long until it is (0 = due,
 * UINT64_MAX = empty); it also leaves by itself past QP__CHAIN_FORWARD_BYTES.  admit_forwarded
 * queues a transactions-channel frame from a peer (copied) for the
 * admission thread, which admitter_start starts and admitter_stop joins
 * (then frees what is still queued). */
void qp__chain_forward_tx(qp__chain_node_t *n, const uint8_t *bytes, size_t len);
void qp__chain_forward_flush_due(qp__chain_node_t *n);
/* Sends the transactions of this node's pool, oldest first, up to
 * QP__CHAIN_POOL_RESEND_BYTES, to a peer whose session just came up (what
 * it was forwarded while the connection was down never reached it), or to
 * every peer (UINT32_MAX) when this node's timeouts go unanswered while it
 * holds transactions: a transaction only one validator knows never commits
 * (docs/chain.md, "A peer that connects gets the pool").  A peer drops
 * what it already holds. */
void qp__chain_forward_pool_to(qp__chain_node_t *n, uint32_t peer);
uint64_t qp__chain_forward_wait_ms(qp__chain_node_t *n);
void qp__chain_admit_forwarded(qp__chain_node_t *n, uint32_t from, const uint8_t *bytes,
                               size_t len);
int qp__chain_admitter_start(qp__chain_node_t *n, char *detail, size_t detail_size);
void qp__chain_admitter_stop(qp__chain_node_t *n);

/* The current epoch as seen from any thread (epochs.c): its members'
 * count and mask, this node's member index and a transport peer's (-1:
 * not a member now), that peer's key, the transport's peer count, and
 * when the peer is a member, the checkers of the frames it forwards
 * (vouch.h) with whether each is this node or a peer whose connection is
 * up (their vouches can come). */
typedef struct qp__chain_roster {
  uint32_t count;
  uint64_t members;
  int32_t self;
  int32_t origin;
  uint8_t origin_key[QP_SIGN_PUBLIC_MAX];
  size_t origin_key_len;
  uint32_t peers;
  uint64_t checkers; /* member mask */
  bool checkers_up;
} qp__chain_roster_t;
void qp__chain_roster(qp__chain_node_t *n, uint32_t peer, qp__chain_roster_t *out);

/* epochs.c: the validator sets.  open reads them from the committed state
 * (after the store opened) and sets cfg, member and self; advance takes the
 * set a committed block changed (driver thread), *peers_grew when a new
 * validator joined the transport's peers; cfg_at copies the configuration
 * of the epoch of a height (any thread); peer_of and member_of translate an
 * index of the current epoch to the transport's and back (UINT32_MAX / -1
 * when none; driver thread). */
int qp__chain_epochs_open(qp__chain_node_t *n, char *detail, size_t detail_size);
/* blocks.c: an array of block_txs_max transactions to decode a block into
 * (its contents undefined), and its return.  A block's decode needs ~1.2
 * MiB: allocating it each time cost an mmap, page faults and a munmap with
 * a TLB shootdown on every decode, several per view.  Nested decodes (a
 * parent executed on the way) take the next array; past
 * QP__CHAIN_TXS_ARRAYS they allocate.  NULL when out of memory. */
qp_chain_tx_t *qp__chain_txs_take(qp__chain_node_t *n);
void qp__chain_txs_give(qp__chain_node_t *n, qp_chain_tx_t *txs);
void qp__chain_txs_free(qp__chain_node_t *n);

/* module.c: the safety record's path for the current epoch; the transport
 * over every validator the chain ever had (again after one joined). */
void qp__chain_safety_path(qp__chain_node_t *n);
int qp__chain_open_net(qp__chain_node_t *n, char *detail, size_t detail_size);
/* module.c: a core for the current epoch on top of committed (NULL: the
 * store's head), resumed from the epoch's safety record. */
int qp__chain_open_core(qp__chain_node_t *n, char *detail, size_t detail_size);
void qp__chain_epochs_close(qp__chain_node_t *n);
int qp__chain_epochs_advance(qp__chain_node_t *n, bool *peers_grew);
void qp__chain_cfg_at(qp__chain_node_t *n, uint64_t height, qp_chain_genesis_t *out);
uint32_t qp__chain_peer_of(const qp__chain_node_t *n, uint32_t member);
/* The epochs as proof builders read them (proof.h). */
void qp__chain_epoch_source(qp__chain_node_t *n, qp_chain_epoch_source_t *out);
int32_t qp__chain_member_of(const qp__chain_node_t *n, uint32_t peer);

/* epoch_proof.c: telling a validator still in the epoch before that it
 * ended.  make keeps the frame for the block just committed that ended it
 * (driver); offer sends it to a peer whose consensus message was refused
 * (at most once a second each); apply checks a received one against the
 * current epoch and commits its block when it is the next one (sets
 * *new_epoch); a frame that shows nothing new is ignored. */
int qp__chain_epoch_proof_make(qp__chain_node_t *n, const qp_hs_block_t *b,
                               const qp_hs_block_t *const *above, uint32_t above_count,
                               const qp_hs_commit_cert_t *cert);
void qp__chain_epoch_proof_offer(qp__chain_node_t *n, uint32_t peer, uint64_t now_ms);
/* For a while after an epoch ended, every second to every peer (observers
 * send nothing to be answered; connections to a new validator take time). */
void qp__chain_epoch_proof_cast(qp__chain_node_t *n, uint64_t now_ms);
/* How long until the next cast is due (0: now; UINT64_MAX: none). */
uint64_t qp__chain_epoch_proof_wait_ms(const qp__chain_node_t *n, uint64_t now_ms);
void qp__chain_epoch_proof_apply(qp__chain_node_t *n, uint32_t peer, const uint8_t *bytes,
                                 size_t len, bool *new_epoch);

/* catchup_node.c: catching up across epoch changes (catchup.h), on the
 * driver thread.  ask sends peer a request for the blocks after our head
 * (at most once a second each, unless now: then also up to the peer's
 * head within its epoch); on_message serves a request
 * from the block store, or checks a run and commits it, saying in *out
 * what happened: the driver then publishes the head and restarts the core
 * on it (in the new epoch when one began), and asks the same peer again
 * when it said it is further. */
typedef struct qp__chain_catchup_result {
  uint32_t committed; /* blocks committed */
  qp_hs_block_t last; /* ... the last of them (no payload) */
  bool new_epoch;     /* the last one changed the validator set */
  bool failed;        /* a commit failed: consensus stops */
  bool ask_again;     /* the peer is in a later epoch still */
} qp__chain_catchup_result_t;
void qp__chain_catchup_ask(qp__chain_node_t *n, uint32_t peer, uint64_t now_ms, bool now);
void qp__chain_catchup_on_message(qp__chain_node_t *n, uint32_t peer, const uint8_t *bytes,
                                  size_t len, qp__chain_catchup_result_t *out);

/* blocks.c: executions of uncommitted blocks and the commit path (driver). */
bool qp__chain_block_valid(void *ctx, const qp_hs_block_t *block);
const qp_chain_exec_t *qp__chain_exec_for(qp__chain_node_t *n, const qp_hs_block_t *block);
/* commit stores a final block; above (above_count) are the blocks from its
 * child up to the one cert certifies, when it is not the block itself (the
 * rest of its commit; kept when the block ends an epoch). */
int qp__chain_commit(qp__chain_node_t *n, const qp_hs_block_t *block,
                     const qp_hs_commit_cert_t *cert, const qp_hs_block_t *const *above,
                     uint32_t above_count, bool *new_epoch);
/* Executes a payload to propose on parent at time_s (the block's coming
 * timestamp in seconds): the tx root into tx_root and the execution (held
 * until commit) into *exec.  Returns 0, QP_ENOTFOUND (an unknown or
 * abandoned parent) or the decoder's or execution's error. */
int qp__chain_exec_proposal(qp__chain_node_t *n, const uint8_t parent[QP_HASH_SIZE],
                            const qp_hs_block_t *probe, uint64_t time_s,
                            uint8_t tx_root[QP_HASH_SIZE], const qp_chain_exec_t **exec);
void qp__chain_execs_clear(qp__chain_node_t *n);
/* A block's transactions, decoded (txs holds block_txs_max; they borrow
 * the block's payload).  Returns 0 or the decoder's error. */
int qp__chain_payload_txs(qp__chain_node_t *n, const qp_hs_block_t *b, qp_chain_tx_t *txs,
                          size_t *count);

/* routes_proof.c: `?proof=1`.  want_proof reads the query (false after
 * replying 400 to a bad one); proof_failed replies for a failed build
 * (true when rc is an error). */
bool qp__chain_want_proof(qp_http_request_t *req, qp_http_reply_t *r, bool *want);
/* query_proof.c: the app key a query's answer rests on, for the queries
 * that offer a proof: 0 with key, or QP_ENOTSUP. */
int qp__chain_query_proof_key(const char *app, const char *method, const json_t *args, char *key,
                              size_t size);
bool qp__chain_proof_failed(int rc, const char *detail, qp_http_reply_t *r);

/* routes.c: the HTTP routes and the OpenAPI fragment. */
/* POST /v1/chain/txs: one transaction or a batch (routes_submit.c). */
void qp__chain_submit_txs(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
const qp_http_route_t *qp__chain_routes(bool keyed, uint32_t *count_out);
extern const char qp__chain_openapi_json[];
void qp__chain_metrics(void *ctx, qp_http_text_t *out);

#endif
