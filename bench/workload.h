/*
 * workload.h - the seeded workload that every system in the benchmark runs:
 * quipu in-process, quipu over HTTP and PostgreSQL.
 *
 * The workload is a stream of transfers between N accounts, generated from a
 * seed, together with the outcome each transfer must have.  It is built so
 * that its outcome does not depend on the order in which *independent*
 * transfers are applied: a system may split the stream into shards (by
 * qb_shard_key) and run the shards concurrently, and every correct ledger
 * still ends with exactly the balances the generator's own model predicts.
 * That is what lets the benchmark check every system against the model and
 * so against the others, including PostgreSQL driven from 8 connections:
 *
 *  - ordinary accounts (ids 1..O) have no limit flags and small amounts, so
 *    transfers between them always succeed;
 *  - limited accounts (ids O+1..N, 1 % of them) carry
 *    debits_must_not_exceed_credits, are credited only by the setup
 *    transfers (QB_FUND_AMOUNT each) and never by the stream, and are
 *    debited either within a per-account budget that never exceeds their
 *    funding (always ok) or by more than their funding (always
 *    exceeds_credits);
 *  - unknown accounts (ids above N) fail with *_account_not_found;
 *  - a pending transfer is posted (full or partial) or voided later in the
 *    stream by an event whose shard key is the pending transfer's id, so
 *    the pair always runs in order on one shard;
 *  - a duplicate re-sends a transfer that succeeded earlier, with the same
 *    id (same shard, after it), and must return `exists`.
 *
 * Credits go to accounts chosen uniformly or by a Zipf law (s = 1) over the
 * hottest min(O, 2^20) accounts; the Zipf sampler is integer-only: a
 * precomputed cumulative table of floor(2^32 / rank) and a binary search.
 * No floating point anywhere in the generator or the model.
 */
#ifndef QB_WORKLOAD_H
#define QB_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger/ledger.h"

#define QB_LEDGER 1u                  /* the one ledger (asset) used */
#define QB_CODE 1u                    /* account and transfer code used */
#define QB_FUND_AMOUNT 1000000u       /* setup credit of every limited account */
#define QB_AMOUNT_MAX 1000u           /* largest ordinary transfer amount */
#define QB_ZIPF_RANKS_MAX (1u << 20)  /* ranks in the Zipf table */
#define QB_PENDING_QUEUE_MAX 65536u   /* pending transfers awaiting post/void */
#define QB_RECENT_MAX 1024u           /* recent successes kept for duplicates */
#define QB_SETUP_ID_BASE (1ull << 62) /* ids of setup transfers: base + j */

typedef enum { QB_MIX_UNIFORM = 0, QB_MIX_ZIPF = 1 } qb_mix_t;

/* What to generate.  Rates are per mille of stream events. */
typedef struct qb_workload_config {
  uint64_t accounts;             /* N, ids 1..N; at least 200 */
  uint64_t seed;                 /* the stream is a function of this */
  qb_mix_t mix;                  /* how credit accounts are chosen */
  uint32_t pending_permille;     /* new pending transfers (each posted/voided later) */
  uint32_t fail_permille;        /* transfers that fail on purpose */
  uint32_t duplicate_permille;   /* re-sends of earlier successes (exists) */
  uint32_t limited_ok_permille;  /* in-budget debits of limited accounts */
} qb_workload_config_t;

/* Fills *c with the defaults: 100,000 accounts, Zipf, 2.5 % pending (so about
 * 5 % of events are two-phase), 1 % failing, 0.2 % duplicates. */
void qb_workload_config_default(qb_workload_config_t *c);

/* Expected balances per account, the generator's own model of the outcome.
 * u64 suffices: amounts are at most QB_FUND_AMOUNT and streams are at most a
 * few 10^8 events long (asserted). */
typedef struct qb_balances {
  uint64_t debits_pending;  /* as in qp_account_t */
  uint64_t debits_posted;   /* " */
  uint64_t credits_pending; /* " */
  uint64_t credits_posted;  /* " */
} qb_balances_t;

/* An outstanding pending transfer, waiting for its post or void. */
typedef struct qb_pending {
  uint64_t id;          /* the pending transfer's id */
  uint64_t debit;       /* its accounts */
  uint64_t credit;      /* " */
  uint64_t amount;      /* its amount */
  uint64_t due_event;   /* stream position from which it is resolved */
} qb_pending_t;

/* Counts of expected outcomes so far. */
typedef struct qb_outcome_counts {
  uint64_t ok;              /* events expected to return ok */
  uint64_t exists;          /* duplicates */
  uint64_t exceeds_credits; /* limit breaks */
  uint64_t not_found;       /* debit or credit account not found */
  uint64_t pending;         /* pending transfers created */
  uint64_t posted;          /* post_pending_transfer events */
  uint64_t voided;          /* void_pending_transfer events */
} qb_outcome_counts_t;

/* The generator and its model.  Caller-allocated; qb_workload_init/deinit.
 * Invariant: model == effect of the setup transfers and of events
 * [0, events) on empty accounts. */
typedef struct qb_workload {
  qb_workload_config_t config;  /* copy of the config */
  uint64_t ordinary;            /* O: ids 1..O are ordinary */
  uint64_t limited;             /* N - O limited accounts */
  uint64_t rng;                 /* splitmix64 state */
  uint64_t events;              /* stream events generated so far */
  uint64_t *zipf_cdf;           /* cumulative weights, zipf_ranks entries */
  uint32_t zipf_ranks;          /* min(O, QB_ZIPF_RANKS_MAX) */
  uint64_t *budget;             /* remaining in-budget debit per limited account */
  qb_pending_t *pending;        /* ring of outstanding pending transfers */
  uint32_t pending_head;        /* oldest */
  uint32_t pending_count;       /* outstanding */
  qp_transfer_t *recent;        /* ring of recent plain successes */
  uint32_t recent_next;         /* next slot to overwrite */
  uint32_t recent_count;        /* valid slots */
  qb_balances_t *model;         /* N + 1 entries, index = account id */
  qb_outcome_counts_t counts;   /* expected outcomes so far */
} qb_workload_t;

/* Builds the generator (tables sized from c->accounts).  Returns 0, or
 * QP_EINVAL (too few accounts, rates over 1000), QP_ENOMEM. */
int qb_workload_init(qb_workload_t *w, const qb_workload_config_t *c);
void qb_workload_deinit(qb_workload_t *w);

/* Account `id` (1..N) as the setup creates it. */
void qb_workload_account(const qb_workload_t *w, uint64_t id, qp_account_t *out);

/* Setup transfers: one funding transfer per limited account, applied after
 * the accounts and before the stream; qb_workload_setup_count() of them.
 * qb_workload_setup_transfer fills setup transfer j (0-based) and, the first
 * time per j when apply_model is true, applies it to the model. */
uint64_t qb_workload_setup_count(const qb_workload_t *w);
void qb_workload_setup_transfer(qb_workload_t *w, uint64_t j, bool apply_model,
                                qp_transfer_t *out);

/* The next stream event into *out and its expected result (a
 * qp_create_transfer_result_t) into *expect; advances the model. */
void qb_workload_next(qb_workload_t *w, qp_transfer_t *out, uint32_t *expect);

/* The key that decides a stream event's shard: events with equal keys must
 * run in stream order; events with different keys commute. */
static inline uint64_t qb_shard_key(const qp_transfer_t *t) {
  bool resolves =
      t->flags & (QP_TRANSFER_POST_PENDING_TRANSFER | QP_TRANSFER_VOID_PENDING_TRANSFER);
  return (uint64_t)(resolves ? t->pending_id : t->id);
}

/* Shard of an event among `shards` (a mixing hash of the key). */
uint32_t qb_shard_of(const qp_transfer_t *t, uint32_t shards);

/* Compares a system's balances for account `id` with the model; returns true
 * when equal. */
bool qb_workload_balances_match(const qb_workload_t *w, uint64_t id, const qp_account_t *got);

#endif
