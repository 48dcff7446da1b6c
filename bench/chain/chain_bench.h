/*
 * chain_bench.h - quipu-chain-bench (issue 11, "Speed"): a local network of
 * validators started from the real `quipu` binary, a load client sending
 * signed kv transactions over HTTP, and the figures: committed tx/s, commit
 * latency p50/p99 and, measured in the same run, the suite's signature
 * verifications per second on one core - the bound the throughput is
 * compared with.  --crypto sm2 runs the GM/T suite (SM2/SM3) instead of
 * Ed25519; --crypto both runs the two one after the other and prints their
 * figures side by side.
 *
 * The pieces: cb_net.c (the network's processes, its HTTP reads), cb_txs.c
 * (keys and signed transactions, made before the clock starts), cb_load.c
 * (submission over libcurl's multi interface while polling every node's
 * height), cb_check.c (blocks, receipts, nonces, agreement of the nodes),
 * cb_main.c (flags, the verify bound, the report).  docs/bench.md, "Chain
 * benchmark", says how to run it and what it measured.
 */
#ifndef QCB_CHAIN_BENCH_H
#define QCB_CHAIN_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "crypto/crypto.h"

#define QCB_NODES_MAX 16u          /* validators the bench can start */
#define QCB_LANES_PER_NODE_MAX 64u /* connections to one node */
#define QCB_HEIGHTS_MAX (1u << 18) /* blocks one run may commit */
#define QCB_TXS_MAX 2000000u       /* transactions one run may send */

/* The run's configuration, from flags. */
typedef struct qcb_config {
  const char *quipu;        /* path of the quipu binary */
  const char *tmp_dir;      /* where the network's homes go */
  uint32_t nodes;           /* validators (4) */
  uint32_t txs;             /* transactions sent */
  uint32_t senders;         /* client keys; each sends txs / senders nonces (or one more) */
  uint32_t lanes_per_node;  /* HTTP connections to each node */
  uint32_t batch;           /* transactions per request at most (1 = {"tx":…}) */
  uint32_t rate;            /* offered tx/s; 0 = as fast as admission allows */
  uint32_t poll_ms;         /* status poll period per node */
  uint32_t linger_ms;       /* with a rate: fresh transactions leave once a batch is due or the
                               oldest due one waited this long (0: every loop turn) */
  uint32_t propose_max;     /* --propose-max: each node.json's propose_txs_max (0: its default) */
  int32_t propose_linger;   /* --propose-linger-ms: each node.json's propose_linger_ms (-1: its
                               default) */
  uint32_t cores;           /* cores the bound assumes (online CPUs) */
  qp_suite_t suite;         /* --crypto: the network's suite and the senders' keys */
  bool quick;               /* --quick: the small run */
  bool keep;                /* keep the network's directory (BENCH_KEEP) */
  bool timeline;            /* print every block: proposal and commit times */
  bool lua_only;            /* --lua-only: in-process figures only, no network */
  bool lua;                 /* --lua: the run's txs are counter-contract calls, not kv puts */
  bool receivable;          /* --receivable: the run's txs are receivable issues by cores */
  bool headline;            /* no --quick, --rate, --txs, --lua: the floor's fixed-rate run,
                               then a flood (figures flood_*) for the capacity */
  const char *prefix;       /* the run's figures are named prefix + name ("", "flood_" or
                               "receivable_"); only the "" run measures proofs */
} qcb_config_t;

/* ---------------------------------------------------------- network */

/* A running network.  Node k serves HTTP on 127.0.0.1:base_port + 2k. */
typedef struct qcb_net {
  uint32_t count;                  /* nodes */
  uint32_t base_port;              /* P */
  pid_t pids[QCB_NODES_MAX];       /* 0 = not running */
  char base[400];                  /* the temp directory (removed at the end) */
  char dir[460];                   /* base/net: what `chain init --dir` got */
  char url[QCB_NODES_MAX][48];     /* http://127.0.0.1:PORT */
  uint8_t genesis[QP_HASH_SIZE];   /* the genesis hash, from node 0's status */
} qcb_net_t;

/* One node's status, as GET /v1/chain/status says it. */
typedef struct qcb_status {
  uint64_t height;        /* committed height */
  uint64_t view;          /* consensus view */
  uint64_t mempool_txs;   /* transactions held */
  uint32_t peers_up;      /* other validators connected */
  char head_hash[65];     /* hex */
  char state_root[65];    /* hex */
  char genesis_hash[65];  /* hex */
} qcb_status_t;

/* `quipu chain init` into a fresh temp dir on free ports, then starts every
 * node (`quipu node --home`, stderr to <dir>/node<k>.log) and waits until
 * each answers /healthz and sees every peer up.  Returns 0 or QP_EIO (the
 * failing node's log tail is printed). */
int qcb_net_start(const qcb_config_t *cfg, qcb_net_t *net);

/* SIGTERM to every node, waits (SIGKILL after 10 s); removes the directory
 * unless keep.  Returns 0, or QP_EIO when a node did not exit cleanly. */
int qcb_net_stop(qcb_net_t *net, bool keep);

/* Prints the last lines of node k's log to stderr. */
void qcb_net_log_tail(const qcb_net_t *net, uint32_t k);

/* GET url into body (reset first).  *code is the HTTP status (0 when the
 * transfer failed).  e is a reusable easy handle (keep-alive). */
int qcb_http_get(void *e, const char *url, qp_buf_t *body, long *code);

/* Parses a status body.  Returns 0 or QP_EPARSE. */
int qcb_status_parse(const char *body, size_t len, qcb_status_t *out);

/* Reads node k's status with a one-off request.  Returns 0, QP_EIO, QP_EPARSE. */
int qcb_status_get(const qcb_net_t *net, uint32_t k, qcb_status_t *out);

/* A counter of node k's /metrics ("name value" line); -1 when absent. */
double qcb_metric(const qcb_net_t *net, uint32_t k, const char *name);

/* CPU seconds (user + system) a process used so far; -1 when unknown. */
double qcb_cpu_s(pid_t pid);

#define QCB_THREADS_MAX 256u /* threads of one node the bench looks at */

/* One thread of a node and the CPU seconds it used so far. */
typedef struct qcb_thread {
  int tid;       /* its id */
  char name[16]; /* its name (/proc/.../comm): chain-driver, chain-admit, … */
  double cpu_s;  /* user + system */
} qcb_thread_t;

/* The threads of pid (at most QCB_THREADS_MAX) into out; returns how many. */
uint32_t qcb_threads(pid_t pid, qcb_thread_t *out);

/* ------------------------------------------------------ transactions */

/* One transaction of the run and what happened to it. */
typedef struct qcb_tx {
  uint64_t body_off;          /* its request body in qcb_txs_t.bodies */
  uint32_t body_len;          /* bytes of the body */
  uint32_t sender;            /* index of its sender */
  uint64_t nonce;             /* the sender's nonce */
  uint8_t hash[QP_HASH_SIZE]; /* the transaction's hash (its name) */
  uint64_t submit_ns;         /* monotonic: the accepted request was handed to curl */
  uint64_t admitted_ns;       /* monotonic: its 202 arrived */
  uint64_t height;            /* the block it committed in (0 = not found) */
  uint32_t node;              /* the node it was submitted to */
} qcb_tx_t;

/* Every transaction of the run, made and signed before the clock starts. */
typedef struct qcb_txs {
  qcb_tx_t *txs;           /* count, in submission order: nonce j of every sender, j = 1, 2, … */
  uint32_t count;          /* transactions */
  uint32_t senders;        /* client keys */
  uint8_t *sender_keys;    /* senders * QP_SIGN_PUBLIC_MAX bytes: their public keys */
  size_t sender_key_len;   /* bytes used of each (32 ed25519, 65 sm2) */
  uint64_t *sender_nonces; /* senders: the last nonce each one sends */
  char *bodies;            /* {"tx":"<hex>"} of each, back to back */
  uint32_t *by_hash;       /* indexes into txs sorted by hash (for block lookups) */
  uint32_t setup_txs;      /* committed before the run (--receivable's setup): not the run's */
} qcb_txs_t;

/* --receivable (cb_receivable.c): the cores that send the run's issues,
 * registered with credit lines before the clock starts. */
typedef struct qcb_rcv {
  qp_sign_key_t **keys;                      /* count: the cores' keys (owned) */
  char (*cores)[2 * QP_SIGN_PUBLIC_MAX + 1]; /* count: their public keys, hex */
  uint32_t count;                            /* cores = the run's senders */
  char funder[2 * QP_SIGN_PUBLIC_MAX + 1];   /* who granted the credit lines */
  char supplier[2 * QP_SIGN_PUBLIC_MAX + 1]; /* whom every voucher is issued to */
  uint32_t setup_txs;                        /* committed before the run: not the run's */
} qcb_rcv_t;

/* Registers a funder, a supplier and cfg->senders cores (with the
 * network's registrar.key) and grants each core a credit line; every
 * receipt must be ok.  Returns 0, QP_EIO or QP_ENOMEM. */
int qcb_rcv_setup(const qcb_config_t *cfg, const qcb_net_t *net, qcb_rcv_t *r);
void qcb_rcv_free(qcb_rcv_t *r);

/* The args of core s's issue with this nonce into out; returns the length
 * or -1 when it does not fit. */
int qcb_rcv_issue_args(const qcb_rcv_t *r, uint64_t run, uint32_t s, uint64_t nonce, char *out,
                       size_t size);

/* Generates cfg->senders keys in memory (qp_sign_keygen) and signs
 * (with rcv: the registered cores' keys and receivable issues instead)
 * cfg->txs kv puts with distinct keys (`run`-tagged) and nonces 1..k per
 * sender, bound to `genesis`.  Returns 0, QP_ENOMEM or the signer's error. */
int qcb_txs_make(const qcb_config_t *cfg, const uint8_t genesis[QP_HASH_SIZE], uint64_t run,
                 const qcb_rcv_t *rcv, qcb_txs_t *out);
void qcb_txs_free(qcb_txs_t *t);
/* Index of the transaction with this hash, or UINT32_MAX. */
uint32_t qcb_txs_find(const qcb_txs_t *t, const uint8_t hash[QP_HASH_SIZE]);

/* ------------------------------------------------------------- load */

/* What one load run saw, besides the per-transaction times in qcb_txs_t. */
typedef struct qcb_load {
  uint64_t *commit_ns;       /* [node * QCB_HEIGHTS_MAX + h]: when node first showed height h */
  uint64_t heights_seen;     /* the highest height any poll saw */
  uint64_t start_ns;         /* the first request was handed to curl */
  uint64_t submitted_ns;     /* the last 202 arrived */
  uint64_t end_ns;           /* every node showed an empty mempool at one height */
  uint64_t retries;          /* requests sent again (503 full, nonce_too_far) */
  uint64_t refused;          /* requests refused for good (the run fails) */
  uint64_t polls;            /* status polls answered */
  char first_error[512];     /* the first refusal, for humans */
} qcb_load_t;

/* Submits every transaction, spread over cfg->lanes_per_node connections
 * to each node, at cfg->rate (0 = as fast as admission allows), polling
 * each node's status every cfg->poll_ms; returns when all were admitted and
 * every node's mempool is empty at the same height, or after a stall of
 * 60 s; at_end(ctx) runs then, before the connections close (their
 * server threads' CPU time can still be read).  Returns 0, QP_EIO
 * (transport failure, refusal, stall) or QP_ENOMEM.  load->commit_ns is
 * qp_malloc'ed (qcb_load_free). */
int qcb_load_run(const qcb_config_t *cfg, const qcb_net_t *net, qcb_txs_t *txs,
                 qcb_load_t *load, void (*at_end)(void *ctx), void *ctx);
void qcb_load_free(qcb_load_t *load);

/* ------------------------------------------------------------ check */

/* One block as read back, for the timeline (--timeline). */
typedef struct qcb_block {
  uint64_t view;          /* its consensus view */
  uint64_t timestamp_ms;  /* the proposer's wall clock at proposal */
  uint32_t proposer;      /* validator index */
  uint32_t entries;       /* transactions it carries */
  uint32_t fresh;         /* ... of which first seen here */
} qcb_block_t;

#define QCB_GAPS 8u /* histogram of duplicate inclusions by block distance (last: more) */

/* What the checks found. */
typedef struct qcb_check {
  uint64_t height;          /* the final height every node agrees on */
  uint64_t blocks_with_txs; /* blocks carrying transactions of the run */
  uint64_t committed;       /* transactions found in blocks */
  uint64_t block_entries;   /* transaction entries in blocks 1..height */
  uint64_t duplicates;      /* found a second time (a later copy, bad_nonce) */
  uint64_t duplicate_gaps[QCB_GAPS]; /* ... by distance from the first block */
  uint64_t foreign;         /* block entries that are not the run's */
  uint64_t receipts_checked;/* receipts read back and found ok at the right height */
  uint64_t nonces_checked;  /* senders whose committed nonce is their last */
  qcb_block_t *blocks;      /* [1..height], qp_calloc'ed (qcb_check_free) */
  bool ok;                  /* every check held */
} qcb_check_t;

/* cb_proof.c: the proofs of a committed transaction, its kv key and an
 * absent key from node 0, their sizes and offline check times (RESULT
 * proof_*), beside the same number of verifications at verify_per_s. */
struct qb_report;
int qcb_proofs_run(const qcb_net_t *net, const qcb_txs_t *txs, double verify_per_s,
                   struct qb_report *rep);

/* Waits for the nodes to agree (height, head hash, state root), reads every
 * block 1..height from node 0 and maps the run's transactions to heights,
 * reads a sample of receipts (spread over the nodes) and every sender's
 * committed nonce.  Failures are printed and leave chk->ok false. */
/* The counter contract's calls/s in-process with and without the gas hook,
 * and a loop's instructions/s both ways (cb_lua.c); RESULT lines into rep.
 * Returns 0 or the failing call's error. */
/* The counter contract both Lua figures use (cb_lua.c), and the gas limit
 * of the network run's calls. */
extern const char qcb_lua_counter[];
#define QCB_LUA_CALL_GAS 100000u

/* Deploys the counter on node 0 through `quipu chain deploy --wait` (a key
 * made in net->dir); 0 or QP_EIO. */
struct qcb_net;
int qcb_lua_deploy(const qcb_config_t *cfg, const struct qcb_net *net);

struct qb_report;
int qcb_lua_rates(struct qb_report *rep, bool quick);

int qcb_check_run(const qcb_config_t *cfg, const qcb_net_t *net, qcb_txs_t *txs,
                  qcb_check_t *chk);
void qcb_check_free(qcb_check_t *chk);

#endif
