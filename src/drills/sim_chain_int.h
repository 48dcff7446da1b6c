/*
 * sim_chain_int.h - the chain simulator's private state, shared by its two
 * files: sim_chain.c (the world: network, clock, clients, crashes, checks)
 * and sim_chain_byz.c (what the Byzantine validators do).
 */
#ifndef QP_DRILLS_SIM_CHAIN_INT_H
#define QP_DRILLS_SIM_CHAIN_INT_H

#include "base/rng.h"
#include "chain/consensus.h"
#include "drills/drills.h"

#define QP__SIM_TX_BYTES 24u      /* id u64 | random u64 | tag u64 */
#define QP__SIM_TXS_MAX 8192u     /* transactions one run submits at most */
#define QP__SIM_BLOCK_TXS_MAX 16u /* transactions a leader puts in one block */
#define QP__SIM_STEP_MS 10u       /* one step of simulated time */
#define QP__SIM_HEIGHTS_MAX 65536u /* committed heights one run tracks */

/* One validator as the simulator sees it. */
typedef struct qp__sim_node {
  qp_hs_t *core;                          /* NULL while down */
  bool byz;                               /* Byzantine (never crashes, never checked) */
  uint64_t restart_at_ms;                 /* when a down node comes back */
  uint8_t safety[QP_HS_SAFETY_BYTES_MAX]; /* its durable safety record */
  size_t safety_len;                      /* 0: none yet */
  uint64_t height;                        /* committed height */
  qp_hs_block_t last;                     /* last committed block (payload dropped) */
  uint64_t timer_at_ms;                   /* the core's deadline */
  bool want_payload;                      /* a NEED_PAYLOAD is open */
  bool empty_ok;                          /* ... and allows an empty block */
  uint64_t want_view;                     /* ... for this view */
  uint64_t want_height;                   /* ... at this height */
  uint8_t want_parent[QP_HASH_SIZE];      /* ... on this parent */
  bool told_pending;                      /* what qp_hs_set_pending last said */
  uint8_t *committed;                     /* per transaction: committed here */
  uint32_t committed_count;               /* distinct transactions committed here */
  uint32_t index;                         /* validator index */
  struct qp__sim_chain *world;            /* back pointer (block_valid's ctx) */
} qp__sim_node_t;

typedef struct qp__sim_chain {
  const qp_sim_chain_config_t *cfg;                 /* the run */
  qp_sim_chain_stats_t *stats;                      /* its counters */
  qp_chain_genesis_t g;                             /* the network */
  qp_sign_key_t *keys[QP_SIM_CHAIN_VALIDATORS_MAX]; /* every validator's key */
  qp__sim_node_t nodes[QP_SIM_CHAIN_VALIDATORS_MAX]; /* the validators */
  qp_rng_t rng;                                     /* faults and clients */
  qp_rng_t byz_rng;                                 /* Byzantine choices */
  qp_sim_clock_t clock;                             /* simulated time */
  qp_clock_t clock_view;                            /* as the network reads it */
  qp_sim_net_t *net;                                /* the network */
  uint64_t now_ms;                                  /* clock in ms */
  bool healed;                                      /* fault phase over */
  uint64_t heal_ms;                                 /* when */
  bool partitioned;                                 /* a partition is on */
  uint64_t partition_end_ms;                        /* ... until */
  uint8_t (*txs)[QP__SIM_TX_BYTES];                 /* submitted transactions */
  uint32_t txs_count;                               /* how many */
  uint8_t *tx_done;                                 /* committed by anyone (stats) */
  uint8_t tx_key[QP_HASH_SIZE];                     /* the clients' signing secret */
  uint8_t (*heights)[QP_HASH_SIZE];                 /* committed hash per height */
  uint64_t heights_known;                           /* heights set in it */
  qp_hash_ctx_t digest;                             /* over every commit */
  char *detail;                                     /* first violation, for humans */
  size_t detail_size;                               /* its size */
  bool failed;                                      /* a violation happened */
} qp__sim_chain_t;

/* sim_chain.c */
void qp__sim_trace(qp__sim_chain_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void qp__sim_send(qp__sim_chain_t *w, uint32_t from, uint32_t to, const uint8_t *bytes,
                  size_t len);
bool qp__sim_tx_valid(const qp__sim_chain_t *w, const uint8_t *tx);
/* Fills payload with up to QP__SIM_BLOCK_TXS_MAX transactions node i has
 * not committed and that no ancestor of its wanted parent holds. */
uint32_t qp__sim_select(qp__sim_chain_t *w, uint32_t i, uint8_t *payload);
void qp__sim_tx_root(const qp__sim_chain_t *w, const uint8_t *payload, uint32_t len,
                     uint8_t root[QP_HASH_SIZE]);

/* sim_chain_byz.c */
/* A Byzantine node's outgoing message: returns false to withhold it; may
 * send garbage or a double vote besides. */
bool qp__sim_byz_outgoing(qp__sim_chain_t *w, uint32_t from, uint32_t to, const uint8_t *bytes,
                          size_t len);
/* A Byzantine leader's turn: returns true when it did something of its own
 * (equivocated, proposed garbage, stayed silent) instead of proposing. */
bool qp__sim_byz_propose(qp__sim_chain_t *w, uint32_t i);

#endif
