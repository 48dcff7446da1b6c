/*
 * consensus_int.h - the consensus core's private parts, shared by its
 * files: the core's state (struct qp_hs), the block tree, the signature
 * cache and certificate checks, the pacemaker and the action queue.
 *
 *   consensus_msg.c        the wire format (public codec + signed statements)
 *   consensus_safety.c     the safety record
 *   consensus_cert.c       signature cache, QC/TC verification, vote and timeout sets
 *   consensus_tree.c       blocks held in memory, orphans, fetching, commits
 *   consensus_pacemaker.c  views, timers, timeouts, TCs, sync
 *   consensus.c            lifecycle, actions, proposals and votes
 */
#ifndef QP_CHAIN_CONSENSUS_INT_H
#define QP_CHAIN_CONSENSUS_INT_H

#include "base/array.h"
#include "chain/consensus.h"

#define QP__HS_STATEMENT_MAX 128u      /* the longest signed statement */
#define QP__HS_SIG_CACHE_SLOTS 4096u   /* verified signatures remembered (direct-mapped) */
#define QP__HS_VOTE_SETS 8u            /* views whose votes a leader collects at once */
#define QP__HS_TIMEOUT_SETS 4u         /* views whose timeouts are collected at once */
#define QP__HS_ORPHANS_MAX 512u        /* blocks waiting for their parent */
#define QP__HS_FETCH_MAX 8u            /* blocks wanted from peers at once */
#define QP__HS_ACTIONS_MAX 65536u      /* actions one call may leave */
#define QP__HS_RETAIN_DEFAULT 256u     /* committed blocks kept when the config says 0 */
#define QP__HS_BLOCKS_DEFAULT 1024u    /* uncommitted blocks held when the config says 0 */

/* A block the core holds.  block.payload points into payload (owned). */
typedef struct qp__hs_entry {
  qp_hs_block_t block;  /* header, payload view, hash */
  uint8_t *payload;     /* qp_malloc'ed copy (NULL when empty) */
  bool committed;       /* part of the committed chain */
} qp__hs_entry_t;

/* Votes for one (view, block) that this validator, as the next leader,
 * collects.  sigs are indexed by validator. */
typedef struct qp__hs_vote_set {
  uint64_t view;                                          /* 0 = free slot */
  uint64_t height;                                        /* the block's height */
  uint8_t hash[QP_HASH_SIZE];                             /* the block */
  uint64_t signers;                                       /* who voted */
  uint8_t sigs[QP_CHAIN_VALIDATORS_MAX][QP_HS_SIG_SIZE];  /* by validator index */
  bool done;                                              /* a QC was formed */
} qp__hs_vote_set_t;

/* Timeouts for one view, indexed by validator. */
typedef struct qp__hs_timeout_set {
  uint64_t view;                                          /* 0 = free slot */
  uint64_t signers;                                       /* who timed out */
  uint64_t high_qc_views[QP_CHAIN_VALIDATORS_MAX];        /* by validator index */
  uint8_t sigs[QP_CHAIN_VALIDATORS_MAX][QP_HS_SIG_SIZE];  /* by validator index */
  bool done;                                              /* a TC was formed */
} qp__hs_timeout_set_t;

/* A block that arrived before its parent: its encoded message, replayed
 * when the parent is there. */
typedef struct qp__hs_orphan {
  uint8_t *bytes;                 /* a PROPOSAL message or one block (fetched) */
  size_t len;                     /* their length */
  uint32_t from;                  /* who sent it */
  bool fetched;                   /* bytes are a bare block from a BLOCK_RESPONSE */
  uint64_t height;                /* the block's height */
  uint8_t hash[QP_HASH_SIZE];     /* the block's hash */
  uint8_t parent[QP_HASH_SIZE];   /* what it waits for */
} qp__hs_orphan_t;

/* A block wanted from peers. */
typedef struct qp__hs_fetch {
  uint8_t hash[QP_HASH_SIZE];  /* the block */
  uint32_t peer;               /* whom to ask next */
  bool used;                   /* slot in use */
} qp__hs_fetch_t;

/* Invariants: safety.last_voted_view only grows, and a PERSIST action with
 * it precedes every action that sends a signature made under it;
 * high_qc.view >= safety.high_qc.view; every uncommitted entry's parent is
 * in the tree or is the root; root is the last committed block. */
struct qp_hs {
  const qp_chain_genesis_t *g;          /* borrowed */
  int32_t self;                         /* own index or -1 */
  const qp_sign_key_t *key;             /* borrowed */
  qp_hs_block_valid_fn block_valid;     /* payload check (NULL: accept) */
  void *ctx;                            /* for block_valid */
  uint32_t n;                           /* validators */
  uint32_t quorum;                      /* n - f */
  uint32_t retain_committed;            /* committed blocks kept */
  uint32_t blocks_max;                  /* uncommitted blocks held at most */
  qp_hs_safety_t safety;                /* what was last persisted */
  qp_hs_qc_t high_qc;                   /* highest QC known */
  qp_hs_tc_t last_tc;                   /* highest TC known */
  bool has_tc;                          /* last_tc is set */
  uint64_t view;                        /* current view */
  uint64_t now_ms;                      /* the time of the current call */
  uint64_t view_started_ms;             /* when the timer of this view started */
  uint64_t timeout_sent_ms;             /* when our timeout for timeout_view went out */
  uint64_t timer_at_ms;                 /* the deadline last announced (UINT64_MAX: none) */
  uint32_t failures;                    /* consecutive views ended by a TC */
  uint64_t views_by_timeout;            /* views entered on a TC since creation */
  uint64_t local_timeouts;              /* timeouts this validator sent (or sent again) */
  bool pending;                         /* the node has transactions waiting */
  bool armed;                           /* the pacemaker is running (there is work) */
  bool proposed;                        /* proposed in this view */
  bool need_payload;                    /* NEED_PAYLOAD was announced for this view */
  bool empty_ok;                        /* ... and said an empty block may be proposed */
  qp_hs_qc_t propose_qc;                /* ... on the block this QC certifies */
  uint64_t timeout_view;                /* the view of timeout_msg (0: none) */
  uint8_t *timeout_msg;                 /* our last encoded timeout, for resending */
  size_t timeout_len;                   /* its length */
  qp_hs_block_t root;                   /* the last committed block (payload not kept) */
  qp_array_t entries;                   /* qp__hs_entry_t: the tree and retained commits */
  qp__hs_vote_set_t votes[QP__HS_VOTE_SETS];           /* as the next leader */
  qp__hs_timeout_set_t timeouts[QP__HS_TIMEOUT_SETS];  /* per view */
  qp__hs_orphan_t orphans[QP__HS_ORPHANS_MAX];         /* waiting for a parent */
  uint32_t orphans_count;                              /* used */
  qp__hs_fetch_t fetches[QP__HS_FETCH_MAX];            /* wanted blocks */
  uint8_t (*sig_cache)[QP_HASH_SIZE];                  /* QP__HS_SIG_CACHE_SLOTS keys */
  qp_array_t actions;                   /* qp_hs_action_t of the current call */
  qp_array_t owned;                     /* void *: freed when the actions are cleared */
  qp_hs_msg_t *msg;                     /* decode scratch */
  bool prune_due;                       /* a commit happened: prune at the next call */
};

/* ---- codec internals (consensus_msg.c) */
uint32_t qp__hs_popcount(uint64_t x);
size_t qp__hs_proposal_statement(const qp_chain_genesis_t *g, const uint8_t hash[QP_HASH_SIZE],
                                 uint8_t out[QP__HS_STATEMENT_MAX]);
size_t qp__hs_vote_statement(const qp_chain_genesis_t *g, uint64_t view, uint64_t height,
                             const uint8_t hash[QP_HASH_SIZE],
                             uint8_t out[QP__HS_STATEMENT_MAX]);
size_t qp__hs_timeout_statement(const qp_chain_genesis_t *g, uint64_t view,
                                uint64_t high_qc_view, uint8_t out[QP__HS_STATEMENT_MAX]);
int qp__hs_timeout_sign(const qp_chain_genesis_t *g, const qp_sign_key_t *key,
                        qp_hs_timeout_t *t);
size_t qp__hs_qc_size(const qp_hs_qc_t *qc);
void qp__hs_qc_put(uint8_t *out, const qp_hs_qc_t *qc);
int qp__hs_qc_get(const qp_chain_genesis_t *g, const uint8_t *bytes, size_t len,
                  qp_hs_qc_t *qc, size_t *used);

/* ---- actions (consensus.c) */
int qp__hs_act_bytes(qp_hs_t *c, qp_hs_action_kind_t kind, uint32_t to, uint8_t *bytes,
                     size_t len);
int qp__hs_act_commit(qp_hs_t *c, const qp_hs_block_t *b, const qp_hs_commit_cert_t *cert);
int qp__hs_persist(qp_hs_t *c);
int qp__hs_on_vote(qp_hs_t *c, const qp_hs_vote_t *v);
int qp__hs_maybe_request_payload(qp_hs_t *c);

/* ---- certificates (consensus_cert.c) */
int qp__hs_verify_sig(qp_hs_t *c, uint32_t signer, const uint8_t *statement, size_t len,
                      const uint8_t sig[QP_HS_SIG_SIZE]);
int qp__hs_qc_verify(qp_hs_t *c, const qp_hs_qc_t *qc);
int qp__hs_tc_verify(qp_hs_t *c, const qp_hs_tc_t *tc);
uint64_t qp__hs_tc_max_high_qc(const qp_hs_tc_t *tc);
/* Adds a verified vote; returns true and fills *qc when it completes a QC. */
bool qp__hs_vote_add(qp_hs_t *c, const qp_hs_vote_t *v, qp_hs_qc_t *qc);
/* Adds a verified timeout; *count_out = timeouts for its view; true and
 * *tc when it completes a TC. */
bool qp__hs_timeout_add(qp_hs_t *c, const qp_hs_timeout_t *t, uint32_t *count_out,
                        qp_hs_tc_t *tc);

/* ---- the tree (consensus_tree.c) */
qp__hs_entry_t *qp__hs_find(const qp_hs_t *c, const uint8_t hash[QP_HASH_SIZE]);
/* The header of a block in the tree or the root, or NULL. */
const qp_hs_block_t *qp__hs_find_block(const qp_hs_t *c, const uint8_t hash[QP_HASH_SIZE]);
int qp__hs_tree_add(qp_hs_t *c, const qp_hs_block_t *b);
bool qp__hs_view_taken(const qp_hs_t *c, uint64_t view, const uint8_t hash[QP_HASH_SIZE]);
int qp__hs_try_commit(qp_hs_t *c, const qp_hs_qc_t *qc);
void qp__hs_prune(qp_hs_t *c);
bool qp__hs_empty_allowed(const qp_hs_t *c, const qp_hs_block_t *parent);
bool qp__hs_has_work(const qp_hs_t *c);
int qp__hs_want(qp_hs_t *c, const uint8_t hash[QP_HASH_SIZE], uint32_t peer);
bool qp__hs_wanted(const qp_hs_t *c, const uint8_t hash[QP_HASH_SIZE]);
int qp__hs_fetch_resend(qp_hs_t *c);
/* True when the block of hash waits as an orphan. */
bool qp__hs_orphan_held(const qp_hs_t *c, const uint8_t hash[QP_HASH_SIZE]);
int qp__hs_orphan_add(qp_hs_t *c, const uint8_t *bytes, size_t len, uint32_t from,
                      bool fetched, const qp_hs_block_t *b);
int qp__hs_on_request(qp_hs_t *c, uint32_t from, const uint8_t hash[QP_HASH_SIZE],
                      uint32_t count);
void qp__hs_orphans_free(qp_hs_t *c);
/* Takes one orphan whose parent is now known (or that is stale: *stale).
 * Returns false when there is none.  The caller owns *bytes (qp_free). */
bool qp__hs_orphan_take(qp_hs_t *c, qp__hs_orphan_t *out, bool *stale);

/* ---- the pacemaker (consensus_pacemaker.c) */
int qp__hs_process_qc(qp_hs_t *c, const qp_hs_qc_t *qc, uint32_t from);
int qp__hs_process_tc(qp_hs_t *c, const qp_hs_tc_t *tc);
int qp__hs_enter_view(qp_hs_t *c, uint64_t view, bool progress);
int qp__hs_on_timeout(qp_hs_t *c, uint32_t from, const qp_hs_timeout_t *t);
int qp__hs_on_sync(qp_hs_t *c, uint32_t from, const qp_hs_msg_t *m);
int qp__hs_tick(qp_hs_t *c);
int qp__hs_timer_update(qp_hs_t *c);
uint64_t qp__hs_timeout_ms(const qp_hs_t *c);

#endif
