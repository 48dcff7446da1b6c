/*
 * consensus.h - the consortium chain's BFT consensus core: a pure state
 * machine of the HotStuff family (two-chain commit with timeout
 * certificates, as in Jolteon / DiemBFT v4 and HotStuff-2), its wire
 * encodings and its safety record (docs/chain.md, "Consensus").
 *
 * n = 3f + 1 validators (genesis.h) tolerate f Byzantine ones.  The leader
 * of view v is validator v mod n.  It proposes a block extending its
 * highest quorum certificate (QC); validators vote for it, sending their
 * signed votes to the leader of v + 1, who forms a QC of n - f votes and
 * proposes in v + 1.  A block B is final when a QC certifies a child of B
 * whose view is B's view + 1 (two-chain rule): then B and its ancestors are
 * committed, in height order, exactly once, and never reverted.  When a
 * view makes no progress, validators broadcast signed timeouts carrying
 * their highest QC; n - f of them form a timeout certificate (TC) that
 * moves everyone to the next view, and the next leader must extend a QC at
 * least as high as any in the TC.
 *
 * Purity: the core reads no clock, no socket, no file and no randomness.
 * Inputs are a message (bytes from a peer, with the caller's current time
 * in ms), a tick (the time), a "transactions are waiting" flag and a
 * payload to propose.  Each input call leaves a list of actions that the
 * caller performs in order (qp_hs_actions): persist the safety record (the
 * caller makes it durable BEFORE performing any later action: that is what
 * stops a crash-and-restart from voting twice), send or broadcast bytes,
 * deliver a committed block, ask for a payload, arm the timer.
 *
 * Peer input never crashes the core: every malformed or invalid message is
 * refused with a status code and changes nothing that matters.  Signatures
 * (votes, timeouts, proposals, QCs, TCs) are always verified, each distinct
 * one once: a small cache remembers those already checked.
 */
#ifndef QP_CHAIN_CONSENSUS_H
#define QP_CHAIN_CONSENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chain/genesis.h"
#include "crypto/crypto.h"

#define QP_HS_WIRE_VERSION 1u     /* first byte of every message and record */
#define QP_HS_SIG_SIZE 64u        /* every suite's signature (crypto.h) */
#define QP_HS_FETCH_BLOCKS_MAX 8u /* blocks one BLOCK_RESPONSE carries at most */
#define QP_HS_TIMEOUT_SHIFT_MAX 6u /* the view timeout doubles at most 6 times (x64) */
#define QP_HS_CLOCK_SKEW_MS_MAX 10000u /* a proposal's timestamp may lead our clock by this */

/* ------------------------------------------------------------- data */

/* A quorum certificate: n - f validators signed a vote for (view, height,
 * block_hash).  The genesis QC is the one exception: view 0, height 0, the
 * genesis block's hash and no signers.  sigs[k] is the signature of the
 * k-th set bit of signers, in increasing validator index. */
typedef struct qp_hs_qc {
  uint64_t view;                                          /* the certified block's view */
  uint64_t height;                                        /* ... and height */
  uint8_t block_hash[QP_HASH_SIZE];                       /* ... and hash */
  uint64_t signers;                                       /* bit i: validator i signed */
  uint8_t sigs[QP_CHAIN_VALIDATORS_MAX][QP_HS_SIG_SIZE];  /* popcount(signers) used */
} qp_hs_qc_t;

/* A timeout certificate: n - f validators timed out in `view`, each saying
 * the view of its highest QC (signed with the view). */
typedef struct qp_hs_tc {
  uint64_t view;                                          /* the view that failed */
  uint64_t signers;                                       /* bit i: validator i signed */
  uint64_t high_qc_views[QP_CHAIN_VALIDATORS_MAX];        /* per signer, in index order */
  uint8_t sigs[QP_CHAIN_VALIDATORS_MAX][QP_HS_SIG_SIZE];  /* per signer, in index order */
} qp_hs_tc_t;

/* A block header.  Its hash (qp_hs_block_hash) covers every field but the
 * justify QC's signatures and the proposer's signature, so neither can be
 * malleated into another block hash.  tx_root, state_root and receipts_root
 * are opaque to consensus: the node fills them when it proposes and checks
 * them in its block_valid callback (docs/chain.md, "Blocks and
 * certificates"). */
typedef struct qp_hs_header {
  uint64_t height;                      /* parent's height + 1; genesis is 0 */
  uint64_t view;                        /* the view it was proposed in; > justify.view */
  uint64_t timestamp_ms;                /* proposer's clock; >= parent's, <= voter's + skew */
  uint32_t proposer;                    /* validator index == view mod n */
  uint8_t parent_hash[QP_HASH_SIZE];    /* == justify.block_hash */
  uint8_t payload_hash[QP_HASH_SIZE];   /* suite hash of the payload bytes */
  uint8_t tx_root[QP_HASH_SIZE];        /* the node's Merkle root of the transactions */
  uint8_t state_root[QP_HASH_SIZE];     /* the node's state root after this block */
  uint8_t receipts_root[QP_HASH_SIZE];  /* the node's Merkle root of this block's receipts */
  qp_hs_qc_t justify;                   /* the QC of the parent */
  uint8_t signature[QP_HS_SIG_SIZE];    /* proposer's, over the block hash */
} qp_hs_header_t;

/* A block: header, payload (opaque bytes: the node's encoded
 * transactions) and the header's hash.  Who owns `payload` is said where a
 * block is handed out. */
typedef struct qp_hs_block {
  qp_hs_header_t header;              /* as above */
  const uint8_t *payload;             /* payload_len bytes (NULL when 0) */
  uint32_t payload_len;               /* <= genesis params.block_bytes_max */
  uint8_t hash[QP_HASH_SIZE];         /* qp_hs_block_hash(header) */
} qp_hs_block_t;

/* A vote for a block. */
typedef struct qp_hs_vote {
  uint64_t view;                      /* the block's view */
  uint64_t height;                    /* the block's height */
  uint8_t block_hash[QP_HASH_SIZE];   /* the block */
  uint32_t voter;                     /* validator index */
  uint8_t sig[QP_HS_SIG_SIZE];        /* over qp_hs_vote_digest */
} qp_hs_vote_t;

/* A timeout: `sender` gives up on `view`; its highest QC travels along. */
typedef struct qp_hs_timeout {
  uint64_t view;                      /* the view given up */
  uint32_t sender;                    /* validator index */
  uint8_t sig[QP_HS_SIG_SIZE];        /* over (view, high_qc.view) */
  qp_hs_qc_t high_qc;                 /* sender's highest QC; its view < view */
} qp_hs_timeout_t;

/* Message types: the second byte of every message. */
typedef enum {
  QP_HS_MSG_PROPOSAL = 1,       /* block (+ the TC that let its view start) */
  QP_HS_MSG_VOTE = 2,           /* a vote, to the next leader */
  QP_HS_MSG_TIMEOUT = 3,        /* a timeout, to everyone */
  QP_HS_MSG_SYNC = 4,           /* a high QC (+ last TC) for a validator that is behind */
  QP_HS_MSG_BLOCK_REQUEST = 5,  /* "send me this block and some ancestors" */
  QP_HS_MSG_BLOCK_RESPONSE = 6, /* blocks, newest first, each the parent of the one before */
} qp_hs_msg_type_t;

/* A decoded message.  Which fields are set depends on type.  The blocks'
 * payload pointers borrow the decoded bytes.  Large (tens of KiB): keep
 * one per decoder, not on small stacks. */
typedef struct qp_hs_msg {
  qp_hs_msg_type_t type;                          /* which of the below */
  qp_hs_block_t blocks[QP_HS_FETCH_BLOCKS_MAX];   /* PROPOSAL: [0]; RESPONSE: [0..count) */
  uint32_t blocks_count;                          /* 1 for PROPOSAL */
  bool has_tc;                                    /* PROPOSAL, SYNC: tc is set */
  qp_hs_tc_t tc;                                  /* PROPOSAL, SYNC */
  qp_hs_qc_t qc;                                  /* SYNC: the sender's high QC */
  qp_hs_vote_t vote;                              /* VOTE */
  qp_hs_timeout_t timeout;                        /* TIMEOUT */
  uint8_t request_hash[QP_HASH_SIZE];             /* BLOCK_REQUEST: newest block wanted */
  uint32_t request_count;                         /* BLOCK_REQUEST: 1..QP_HS_FETCH_BLOCKS_MAX */
} qp_hs_msg_t;

/* What makes a block B final, for anyone to check (docs/chain.md, "State
 * proofs"): B's child C, proposed in B's view + 1 (so C.justify is B's QC),
 * and a QC over C.  That is the two-chain rule's evidence; every ancestor
 * of B is final with it. */
typedef struct qp_hs_commit_cert {
  qp_hs_header_t child; /* C's header (its justify certifies B) */
  qp_hs_qc_t qc;        /* n - f votes for C */
} qp_hs_commit_cert_t;

/* ------------------------------------------------------------ codec */

/* The longest message any peer of this genesis may send (a proposal with
 * the largest payload and a TC, or a response of full blocks). */
size_t qp_hs_msg_bytes_max(const qp_chain_genesis_t *g);

/* Decodes one message strictly: version byte, type, every length bounded
 * by g (signers only among g's validators, payload <= block_bytes_max,
 * counts in range), internal consistency (parent_hash == justify hash,
 * height == justify height + 1, view > justify view, payload_hash ==
 * hash(payload), TC high-QC views < its view, proposer == view mod n) and
 * no trailing byte.  Signatures are NOT verified here (the core does).
 * Returns 0, QP_EPARSE (malformed), QP_EINVAL (well-formed but
 * inconsistent) or QP_ENOMEM (SM3 only).  out's payloads borrow bytes. */
int qp_hs_msg_decode(const qp_chain_genesis_t *g, const uint8_t *bytes, size_t len,
                     qp_hs_msg_t *out);

/* Encoders.  Each writes a fresh qp_malloc'ed buffer into *out (the caller
 * frees it with qp_free) and its length into *out_len.  Returns 0 or
 * QP_ENOMEM.  Inputs are trusted (asserted), not checked like peer bytes. */
int qp_hs_encode_proposal(const qp_chain_genesis_t *g, const qp_hs_block_t *b,
                          const qp_hs_tc_t *tc_or_null, uint8_t **out, size_t *out_len);
int qp_hs_encode_vote(const qp_chain_genesis_t *g, const qp_hs_vote_t *v, uint8_t **out,
                      size_t *out_len);
int qp_hs_encode_timeout(const qp_chain_genesis_t *g, const qp_hs_timeout_t *t, uint8_t **out,
                         size_t *out_len);
int qp_hs_encode_sync(const qp_chain_genesis_t *g, const qp_hs_qc_t *high_qc,
                      const qp_hs_tc_t *tc_or_null, uint8_t **out, size_t *out_len);
int qp_hs_encode_block_request(const uint8_t hash[QP_HASH_SIZE], uint32_t count, uint8_t **out,
                               size_t *out_len);
int qp_hs_encode_block_response(const qp_chain_genesis_t *g, const qp_hs_block_t *const *blocks,
                                uint32_t count, uint8_t **out, size_t *out_len);

/* One block alone (header, signature, payload; no message header), for
 * the block store: the same bytes as inside a proposal.  decode is as
 * strict as qp_hs_msg_decode; b->payload borrows bytes. */
int qp_hs_encode_block(const qp_chain_genesis_t *g, const qp_hs_block_t *b, uint8_t **out,
                       size_t *out_len);
int qp_hs_decode_block(const qp_chain_genesis_t *g, const uint8_t *bytes, size_t len,
                       qp_hs_block_t *b);

/* A header alone (no payload), as proofs carry it: the bytes a block's
 * encoding starts with.  decode is strict (bounds, the relations
 * qp_hs_msg_decode checks, no trailing byte); signatures are not checked.
 * Returns 0, QP_EPARSE, QP_EINVAL or QP_ENOMEM; encode 0 or QP_ENOMEM. */
int qp_hs_encode_header(const qp_chain_genesis_t *g, const qp_hs_header_t *h, uint8_t **out,
                        size_t *out_len);
int qp_hs_decode_header(const qp_chain_genesis_t *g, const uint8_t *bytes, size_t len,
                        qp_hs_header_t *h);

/* A commit certificate: the child's header, then the QC.  Same rules. */
int qp_hs_encode_cert(const qp_chain_genesis_t *g, const qp_hs_commit_cert_t *cert,
                      uint8_t **out, size_t *out_len);
int qp_hs_decode_cert(const qp_chain_genesis_t *g, const uint8_t *bytes, size_t len,
                      qp_hs_commit_cert_t *cert);

/* Checks that cert makes the block `header` (hash `hash`) final under g,
 * with no core: cert's child extends it and was proposed in the very next
 * view (the two-chain rule), cert's QC is for that child, and both QCs
 * (the child's justify and cert's) carry valid signatures of n - f of g's
 * validators.  Returns 0; QP_EBADPROOF with detail naming the step that
 * fails ("cert: …"); QP_ENOMEM.  Offline proofs and the end of an epoch. */
int qp_hs_cert_check(const qp_chain_genesis_t *g, const qp_hs_header_t *header,
                     const uint8_t hash[QP_HASH_SIZE], const qp_hs_commit_cert_t *cert,
                     char *detail, size_t detail_size);

/* Checks a QC's signatures against g's validators with no core and no
 * cache (offline proof checks).  Returns 0, QP_EINVAL (fewer than n - f
 * signers, or a signer outside g; the genesis QC has none and is refused
 * here), QP_EBADSIG (detail names the validator whose signature is bad) or
 * QP_ENOMEM. */
int qp_hs_qc_check(const qp_chain_genesis_t *g, const qp_hs_qc_t *qc, char *detail,
                   size_t detail_size);

/* The block hash of h under g (see qp_hs_header_t).  Returns 0, QP_EINVAL
 * (unknown suite) or QP_ENOMEM. */
int qp_hs_block_hash(const qp_chain_genesis_t *g, const qp_hs_header_t *h,
                     uint8_t out[QP_HASH_SIZE]);

/* The genesis block (height 0, view 0, parent = the genesis hash, empty)
 * and the QC that certifies it (no signers).  For an epoch's
 * configuration (g->epoch >= 1, valset.h) the QC certifies the epoch's
 * base block instead: (base_view, base_height, base_hash), no signers. */
void qp_hs_genesis_block(const qp_chain_genesis_t *g, qp_hs_block_t *out);
void qp_hs_genesis_qc(const qp_chain_genesis_t *g, qp_hs_qc_t *out);

/* Completes a block for proposal by `key` (validator `proposer`): sets
 * payload_hash from payload, then hash, then the proposer's signature.
 * b->header's other fields and b->payload must be set.  Returns 0,
 * QP_ENOMEM or QP_EIO (the signer failed).  Used by the core, and by the
 * simulator's Byzantine leaders to equivocate. */
int qp_hs_block_seal(const qp_chain_genesis_t *g, const qp_sign_key_t *key, qp_hs_block_t *b);

/* Signs a vote for (view, height, hash) as validator `voter` into *out.
 * Returns 0, QP_ENOMEM or QP_EIO. */
int qp_hs_vote_sign(const qp_chain_genesis_t *g, const qp_sign_key_t *key, uint32_t voter,
                    uint64_t view, uint64_t height, const uint8_t hash[QP_HASH_SIZE],
                    qp_hs_vote_t *out);

/* ---------------------------------------------------- safety record */

/* What a validator must remember across crashes so that it never signs two
 * conflicting things: the highest view it voted or timed out in, and its
 * highest QC (which its timeouts report: a restarted validator that
 * reported an older one could help a conflicting block through). */
typedef struct qp_hs_safety {
  uint64_t last_voted_view;  /* never vote or time out below or (vote) at it again */
  qp_hs_qc_t high_qc;        /* highest QC seen when last signing */
} qp_hs_safety_t;

#define QP_HS_SAFETY_BYTES_MAX (1u + 8u + 56u + QP_CHAIN_VALIDATORS_MAX * QP_HS_SIG_SIZE + 16u)

/* Encodes s: version, last_voted_view, high_qc, BLAKE2b-128 checksum of
 * everything before it.  out must hold QP_HS_SAFETY_BYTES_MAX; returns the
 * length written. */
size_t qp_hs_safety_encode(const qp_hs_safety_t *s, uint8_t *out);

/* Decodes a record strictly (checksum, version, QC bounds under g, no
 * trailing bytes).  Returns 0, QP_ECORRUPT (checksum) or QP_EPARSE. */
int qp_hs_safety_decode(const qp_chain_genesis_t *g, const uint8_t *bytes, size_t len,
                        qp_hs_safety_t *out);

/* -------------------------------------------------------- the core */

typedef struct qp_hs qp_hs_t;

/* What the caller must do, in this order. */
typedef enum {
  QP_HS_ACT_PERSIST = 1,  /* make bytes (a safety record) durable BEFORE any later action */
  QP_HS_ACT_SEND,         /* send bytes to validator `to` */
  QP_HS_ACT_BROADCAST,    /* send bytes to every other validator */
  QP_HS_ACT_COMMIT,       /* block is final: heights ascend by 1, each exactly once; cert */
  QP_HS_ACT_NEED_PAYLOAD, /* this validator leads `view`: call qp_hs_propose (see there) */
  QP_HS_ACT_TIMER,        /* call qp_hs_on_tick at or after at_ms (UINT64_MAX: not needed) */
} qp_hs_action_kind_t;

/* One action.  Every pointer is owned by the core and valid until the next
 * call into the core (any qp_hs_* call taking a qp_hs_t * but the const
 * accessors). */
typedef struct qp_hs_action {
  qp_hs_action_kind_t kind;          /* what */
  uint32_t to;                       /* SEND: the validator */
  const uint8_t *bytes;              /* PERSIST, SEND, BROADCAST */
  size_t len;                        /* their length */
  const qp_hs_block_t *block;        /* COMMIT: header, payload and hash */
  const qp_hs_commit_cert_t *cert;   /* COMMIT: the evidence that made block (and its
                                        ancestors in this call) final */
  uint64_t view;                     /* NEED_PAYLOAD: the view to propose in */
  uint64_t height;                   /* NEED_PAYLOAD: the new block's height */
  uint8_t parent_hash[QP_HASH_SIZE]; /* NEED_PAYLOAD: the block to extend */
  bool empty_ok;                     /* NEED_PAYLOAD: an empty payload is allowed now */
  uint64_t at_ms;                    /* TIMER: the deadline */
} qp_hs_action_t;

/* The node's check of a proposed block's content: transactions well-formed
 * and signed, nonces and balances against the state after the parent,
 * tx_root and state_root right (qp_hs_block_find gives the ancestors).
 * Must be deterministic and must not call into the core.  true = valid. */
typedef bool (*qp_hs_block_valid_fn)(void *ctx, const qp_hs_block_t *block);

typedef struct qp_hs_config {
  const qp_chain_genesis_t *genesis;  /* borrowed: must outlive the core */
  int32_t self;                       /* own validator index, or -1 (observer: never signs) */
  const qp_sign_key_t *key;           /* borrowed; own key (NULL when self is -1) */
  const uint8_t *safety;              /* the last PERSISTed record, or NULL when fresh */
  size_t safety_len;                  /* its length */
  const qp_hs_block_t *committed;     /* the last committed block (NULL: genesis); copied */
  qp_hs_block_valid_fn block_valid;   /* see above; NULL accepts every payload */
  void *ctx;                          /* passed to block_valid */
  uint32_t retain_committed;          /* committed blocks kept to serve fetches (0: 256) */
  uint32_t blocks_max;                /* uncommitted blocks held at most (0: 1024) */
} qp_hs_config_t;

/* Creates a core at time now_ms.  With a safety record, the validator
 * resumes from it: it will not vote in any view <= last_voted_view.  The
 * first actions (the timer; NEED_PAYLOAD when it leads the first view) are
 * waiting in qp_hs_actions.  Returns 0, QP_EINVAL (bad config: self out of
 * range, no key, a key whose public key is not validator self's),
 * QP_ECORRUPT/QP_EPARSE (the safety record), QP_EBADSIG (its QC) or
 * QP_ENOMEM.  The caller owns *out: qp_hs_destroy. */
int qp_hs_create(const qp_hs_config_t *config, uint64_t now_ms, qp_hs_t **out);

/* Frees the core; NULL is allowed. */
void qp_hs_destroy(qp_hs_t *core);

/* A message from validator `from` (as the transport authenticated it;
 * the core trusts only signatures, never `from`, except for whom to
 * answer).  Returns 0 (used or harmlessly ignored: stale, duplicate),
 * QP_EPARSE (malformed), QP_EINVAL (violates the protocol), QP_EBADSIG,
 * QP_ELIMIT (no room) or QP_ENOMEM.  Whatever it returns, drain the
 * actions. */
int qp_hs_on_message(qp_hs_t *core, uint32_t from, const uint8_t *bytes, size_t len,
                     uint64_t now_ms);

/* Time passes (call at the TIMER deadline; earlier or extra calls are
 * harmless).  Returns 0 or QP_ENOMEM. */
int qp_hs_on_tick(qp_hs_t *core, uint64_t now_ms);

/* Tells the core whether the node has transactions waiting.  With none
 * and no uncommitted non-empty block, the pacemaker sleeps: an idle chain
 * sends nothing and makes no empty blocks.  Returns 0 or QP_ENOMEM. */
int qp_hs_set_pending(qp_hs_t *core, bool pending, uint64_t now_ms);

/* Answers NEED_PAYLOAD: proposes payload (len bytes, copied; len 0 only
 * when empty_ok) with the node's tx_root, state_root and receipts_root.  May be called
 * any time after the NEED_PAYLOAD while the view lasts (e.g. when
 * transactions arrive).  Returns 0, QP_EINVAL (not leading a view that
 * still waits for a proposal, or an empty payload not allowed, or len past
 * block_bytes_max) or QP_ENOMEM. */
int qp_hs_propose(qp_hs_t *core, const uint8_t *payload, uint32_t len,
                  const uint8_t tx_root[QP_HASH_SIZE], const uint8_t state_root[QP_HASH_SIZE],
                  const uint8_t receipts_root[QP_HASH_SIZE], uint64_t now_ms);

/* The timestamp (ms) qp_hs_propose(..., now_ms) gives the block it builds,
 * so the node can execute the payload at the block's time before it calls
 * it: the later of the core's clock, now_ms and the parent's timestamp.
 * Only meaningful while the core waits for a payload. */
uint64_t qp_hs_proposal_time_ms(const qp_hs_t *core, uint64_t now_ms);

/* The actions of the last call, in order; *out points to core memory valid
 * until the next call.  Returns their number. */
size_t qp_hs_actions(const qp_hs_t *core, const qp_hs_action_t **out);

/* A block the core holds (uncommitted, or among the last committed), or
 * NULL.  Valid until the next call into the core. */
const qp_hs_block_t *qp_hs_block_find(const qp_hs_t *core, const uint8_t hash[QP_HASH_SIZE]);

/* Introspection (status pages, tests, the simulator). */
uint64_t qp_hs_view(const qp_hs_t *core);                    /* current view */
uint64_t qp_hs_last_voted_view(const qp_hs_t *core);         /* the safety record's */
uint64_t qp_hs_views_by_timeout(const qp_hs_t *core);        /* views entered on a TC */
uint64_t qp_hs_local_timeouts(const qp_hs_t *core);          /* timeouts this one (re)sent */
const qp_hs_qc_t *qp_hs_high_qc(const qp_hs_t *core);        /* highest QC */
const qp_hs_block_t *qp_hs_committed(const qp_hs_t *core);   /* last committed block */
const qp_hs_tc_t *qp_hs_last_tc(const qp_hs_t *core);        /* highest TC, or NULL */

/* The leader of a view. */
static inline uint32_t qp_hs_leader(const qp_chain_genesis_t *g, uint64_t view) {
  return (uint32_t)(view % g->validators_count);
}

#endif
