/*
 * mempool.h - the transactions a node holds between admission and commit
 * (docs/chain.md, "Mempool").
 *
 * Admission refuses at the door, each refusal with its own code: too
 * large, malformed, bound to another chain, a duplicate, a nonce already
 * used (a replay or a stale transaction), a nonce too far ahead of the
 * sender's committed one, a bad signature, a nonce already held by another
 * pending transaction of the sender, a full pool.  The pool is bounded in
 * transactions and bytes.  Block building takes transactions in arrival
 * order across senders and in nonce order within a sender (never a gap);
 * taken transactions stay in the pool, marked, until their block commits
 * (qp_chain_mempool_committed removes them and drops whatever the new
 * nonces made stale) or the block is abandoned (qp_chain_mempool_untake).
 *
 * Every signature is verified at most once per node: at admission, outside
 * the lock, and the hash of each verified transaction goes into a bounded
 * cache that block validation consults (qp_chain_mempool_verify), so the
 * txs of a proposal this node already admitted are not verified again.  A
 * transaction admitted on f + 1 validators' vouches (QP_CHAIN_SIG_VOUCHED,
 * vouch.h) enters the cache without a check.
 *
 * Thread-safety: every function may be called from any thread; one mutex
 * inside guards the pool and the cache, and is never held across a
 * signature verification.  The nonce callback runs under that mutex.
 */
#ifndef QP_CHAIN_MEMPOOL_H
#define QP_CHAIN_MEMPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "chain/tx.h"

/* Admission results: X(ENUM, "code", "message").  The codes are part of the
 * HTTP API (POST /v1/chain/txs) and never change. */
#define QP_CHAIN_ADMIT_MAP(XX)                                                                  \
  XX(OK, "ok", "accepted into the mempool")                                                     \
  XX(TOO_LARGE, "tx_too_large", "the transaction is longer than the genesis tx_bytes_max")      \
  XX(MALFORMED, "tx_malformed", "the transaction's encoding is not valid")                      \
  XX(WRONG_CHAIN, "wrong_chain", "the transaction is bound to another chain's genesis hash")    \
  XX(WRONG_SUITE, "wrong_suite",                                                                \
     "the transaction is signed in another suite than this network's (genesis suite)")         \
  XX(DUPLICATE, "duplicate", "this transaction is already in the mempool")                      \
  XX(NONCE_USED, "nonce_used",                                                                  \
     "the nonce is not above the sender's last committed nonce (a replay or a stale tx)")       \
  XX(NONCE_TOO_FAR, "nonce_too_far",                                                            \
     "the nonce is too far ahead of the sender's last committed nonce")                         \
  XX(BAD_SIGNATURE, "bad_signature", "the signature does not verify for the sender's key")      \
  XX(NONCE_PENDING, "nonce_pending",                                                            \
     "another transaction of this sender with this nonce is already in the mempool")            \
  XX(FULL, "mempool_full", "the mempool is full; retry later")                                  \
  XX(GAS_TOO_HIGH, "gas_too_high",                                                              \
     "the Lua call's gas limit is above the block's gas budget (genesis block_gas_max)")

typedef enum {
#define QP__CHAIN_ADMIT_ENUM(name, code, msg) QP_CHAIN_ADMIT_##name,
  QP_CHAIN_ADMIT_MAP(QP__CHAIN_ADMIT_ENUM)
#undef QP__CHAIN_ADMIT_ENUM
  QP_CHAIN_ADMIT__COUNT
} qp_chain_admit_t;

/* The code ("nonce_used") and message of an admission result; static
 * storage, never NULL ("unknown" for a value out of range). */
const char *qp_chain_admit_code(qp_chain_admit_t a);
const char *qp_chain_admit_message(qp_chain_admit_t a);

/* Reads the sender's last committed nonce (0 when it never sent one) into
 * *nonce; returns 0 or a QP_E* code.  The node passes a function over
 * qp_chain_state_nonce. */
typedef int (*qp_chain_nonce_fn)(void *ctx, const uint8_t *sender, size_t sender_len,
                                 uint64_t *nonce);

#define QP_CHAIN_NONCE_WINDOW_DEFAULT 64u /* pending nonces a sender may have ahead */
#define QP_CHAIN_NONCE_WINDOW_MAX 4096u
#define QP_CHAIN_MEMPOOL_TXS_MAX (1u << 22) /* the most txs_max may say */

typedef struct qp_chain_mempool_config {
  qp_suite_t suite;                /* the network's suite */
  uint8_t chain[QP_HASH_SIZE];     /* the genesis hash: transactions must carry it */
  uint32_t tx_bytes_max;           /* genesis params.tx_bytes_max */
  uint32_t txs_max;                /* transactions held at most (taken ones count), >= 1 */
  uint64_t bytes_max;              /* encoded bytes held at most, >= tx_bytes_max */
  uint32_t nonce_window;           /* admitted nonces: committed + 1 .. committed + window */
  uint32_t verified_max;           /* hashes the verified cache remembers, >= 1 */
  uint64_t block_gas_max;          /* genesis params.block_gas_max: the stated gas of one
                                      block's Lua calls at most (0: no budget) */
  qp_chain_nonce_fn nonce_fn;      /* the committed nonces */
  void *nonce_ctx;                 /* its context */
} qp_chain_mempool_config_t;

/* Fills c with defaults for genesis params (txs_max 65536, bytes_max 64
 * MiB, the default window, verified_max 2 * txs_max); the caller sets suite,
 * chain and the nonce callback. */
void qp_chain_mempool_config_default(qp_chain_mempool_config_t *c, uint32_t tx_bytes_max);

typedef struct qp_chain_mempool qp_chain_mempool_t;

/* Creates a pool (config copied).  *out is the caller's; qp_chain_mempool_free
 * releases it.  Returns 0, QP_EINVAL (a bound out of range) or QP_ENOMEM. */
int qp_chain_mempool_new(const qp_chain_mempool_config_t *config, qp_chain_mempool_t **out);

/* Releases the pool and every transaction in it; NULL is a no-op. */
void qp_chain_mempool_free(qp_chain_mempool_t *mp);

/* Admits one encoded transaction from a client or a peer (copied).  Returns
 * 0 with *result QP_CHAIN_ADMIT_OK and hash_out (may be NULL) the tx hash;
 * QP_EINVAL with *result the reason and detail the specifics (hash_out set
 * when the transaction decoded); or an operating error (QP_ENOMEM, the nonce
 * callback's code) with *result OK and nothing admitted. */
int qp_chain_mempool_add(qp_chain_mempool_t *mp, const uint8_t *bytes, size_t len,
                         qp_chain_admit_t *result, uint8_t hash_out[QP_HASH_SIZE], char *detail,
                         size_t detail_size);

/* How an admission treats the transaction's signature. */
typedef enum {
  QP_CHAIN_SIG_VERIFY,  /* verified unless the cache knows it (qp_chain_mempool_add) */
  QP_CHAIN_SIG_ATTEST,  /* the same, and also verified when the pool refuses the transaction
                           for its nonce or for room, so that *sig_ok answers for every
                           transaction that decoded (a checker's vouch, vouch.h) */
  QP_CHAIN_SIG_VOUCHED, /* f + 1 validators vouched for it (vouch.h): cached as verified
                           without a check */
} qp_chain_sig_mode_t;

/* qp_chain_mempool_add with a mode for the signature; *sig_ok is true when
 * the signature is known valid afterwards (verified now or before, vouched
 * for, or a duplicate of a held transaction). */
int qp_chain_mempool_admit(qp_chain_mempool_t *mp, const uint8_t *bytes, size_t len,
                           qp_chain_sig_mode_t mode, qp_chain_admit_t *result, bool *sig_ok,
                           uint8_t hash_out[QP_HASH_SIZE], char *detail, size_t detail_size);

/* Builds a block body (tx.h) into body: pending transactions in arrival
 * order across senders, each sender's in nonce order from its next nonce
 * with no gap, at most txs_max of them, a body of at most bytes_max bytes
 * and Lua calls whose stated gas (qp_chain_tx_gas) sums to at most the
 * config's block_gas_max (a call that would pass it ends its sender's run
 * in this block; others' transactions still go in).  They are marked
 * taken and not offered again until untaken.  *count_out gets their
 * number (may be 0).  Returns 0, QP_ENOMEM or QP_ELIMIT (body's own max;
 * nothing is taken then). */
int qp_chain_mempool_take(qp_chain_mempool_t *mp, uint32_t txs_max, uint32_t bytes_max,
                          qp_buf_t *body, uint32_t *count_out);

/* Marks the transactions of blocks not yet committed that a new block will
 * build on as taken (those present; each sender's next nonce to take moves
 * past them), so that the new block does not carry them again.  Call
 * oldest block first. */
void qp_chain_mempool_hold(qp_chain_mempool_t *mp, const qp_chain_tx_t *txs, size_t count);

/* Returns every taken transaction to pending (its block was abandoned). */
void qp_chain_mempool_untake(qp_chain_mempool_t *mp);

/* After a block commits: removes its transactions (those present), then
 * re-reads the committed nonce of each of their senders and drops that
 * sender's transactions whose nonce is now used.  Returns 0 or the nonce
 * callback's code (the pool stays consistent either way). */
int qp_chain_mempool_committed(qp_chain_mempool_t *mp, const qp_chain_tx_t *txs, size_t count);

/* The same from what an execution kept (exec.h): the transactions' hashes
 * and their senders' ids (qp_hash256 of the sender's key), QP_HASH_SIZE
 * bytes each, count of each, in block order - no decoding of the block. */
int qp_chain_mempool_committed_ids(qp_chain_mempool_t *mp, const uint8_t *hashes,
                                   const uint8_t *sender_ids, size_t count);

/* Verifies tx's signature unless its hash is in the verified cache (then
 * it returns 0 without any cryptography); a fresh success is cached.  For
 * block validation.  Returns like qp_chain_tx_verify. */
int qp_chain_mempool_verify(qp_chain_mempool_t *mp, const qp_chain_tx_t *tx);

/* The sender's last nonce counting what the pool holds: `committed`, then
 * every held nonce that follows it without a gap (what a client's next
 * transaction should carry, minus one). */
uint64_t qp_chain_mempool_last_nonce(qp_chain_mempool_t *mp, const uint8_t *sender,
                                     size_t sender_len, uint64_t committed);

/* True when hash is in the verified cache. */
bool qp_chain_mempool_verified(qp_chain_mempool_t *mp, const uint8_t hash[QP_HASH_SIZE]);

typedef struct qp_chain_mempool_stats {
  uint32_t txs;             /* held (pending + taken) */
  uint32_t taken;           /* of which taken into a block not yet committed */
  uint64_t bytes;           /* encoded bytes held */
  uint32_t senders;         /* distinct senders held */
  uint64_t verifications;   /* signatures verified (all time) */
  uint64_t verified_hits;   /* verifications skipped thanks to the cache */
  uint64_t block_verifications; /* of those verified, by qp_chain_mempool_verify (a block's
                                   check, on the consensus thread) */
  uint64_t vouched;         /* admitted on f + 1 validators' vouches, not verified here */
  uint64_t evicted;         /* held after a nonce gap, removed to make room for one a block
                               could take (a full pool) */
  uint64_t rejected[QP_CHAIN_ADMIT__COUNT]; /* refusals per reason ([OK] = admitted) */
} qp_chain_mempool_stats_t;

/* Calls fn with each transaction's encoding, oldest first (taken ones
 * too), until fn returns false; returns how many it was called with.  Under
 * the pool's lock: fn must be quick and must not call the pool.  For a
 * node handing its pool to a peer that just connected (docs/chain.md, "The
 * node"). */
typedef bool (*qp_chain_mempool_each_fn)(void *ctx, const uint8_t *bytes, size_t len);
uint32_t qp_chain_mempool_each(qp_chain_mempool_t *mp, qp_chain_mempool_each_fn fn, void *ctx);

/* True when a block could take a transaction now: one not taken whose
 * nonce is its sender's next (qp_chain_mempool_take's rule, gas aside).  A
 * pool holding only transactions after a nonce gap has none: the consensus
 * waits for the gap to fill instead of changing views for them.  Walks the
 * pool in arrival order up to the first such transaction (no walk when
 * every transaction is taken). */
bool qp_chain_mempool_ready(qp_chain_mempool_t *mp);

/* A consistent snapshot of the counters. */
void qp_chain_mempool_stats(qp_chain_mempool_t *mp, qp_chain_mempool_stats_t *out);

#endif
