/*
 * ledger.h - the double-entry ledger: public contract (DESIGN.md section 4),
 * the module's main header.
 *
 * This header holds the pure core: the records, flags and result codes,
 * their fixed encodings, and qp_ledger_t, the state machine.  It takes a
 * batch of events and the current time as a number and returns one result
 * per event.  It never reads a clock, a socket or a file, so the same code
 * runs in the server, in `quipu verify` (replaying the journal) and in the
 * seeded simulator.
 *
 * The durable ledger built on it - qp_db_t, with the journal and the LMDB
 * index - is in ledger/db.h, the module's second public header.
 *
 * Field names, flags and result codes follow TigerBeetle's public model.
 */
#ifndef QP_LEDGER_LEDGER_H
#define QP_LEDGER_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/u128.h"

/* ---------------------------------------------------------------- limits */

#define QP_BATCH_EVENTS_MAX 8190u        /* events in one create/lookup batch */
#define QP_EXPIRIES_PER_BATCH_MAX 8190u  /* pending timeouts swept per batch */
#define QP_QUERY_LIMIT_MAX 8190u         /* rows returned by one history query */

/* ----------------------------------------------------------------- flags */

/* Bit positions are TigerBeetle's, and new flags only ever take bits that
 * were reserved (refused with reserved_flag) before, so every stored record
 * and journaled event keeps its meaning.  `closed` is set and cleared by the
 * ledger through closing transfers (and may be given at creation, as in
 * TigerBeetle): a closed account refuses every transfer except voiding a
 * pending one.  `imported` (accounts and transfers) carries the event's own
 * timestamp instead of the ledger's: for migrating history (see
 * docs/ledger.md, "Imported events"). */

#define QP_ACCOUNT_FLAGS_MAP(XX)                                              \
  XX(LINKED, linked, 1u << 0)                                                 \
  XX(DEBITS_MUST_NOT_EXCEED_CREDITS, debits_must_not_exceed_credits, 1u << 1) \
  XX(CREDITS_MUST_NOT_EXCEED_DEBITS, credits_must_not_exceed_debits, 1u << 2) \
  XX(HISTORY, history, 1u << 3)                                               \
  XX(IMPORTED, imported, 1u << 4)                                             \
  XX(CLOSED, closed, 1u << 5)

#define QP_TRANSFER_FLAGS_MAP(XX)                                             \
  XX(LINKED, linked, 1u << 0)                                                 \
  XX(PENDING, pending, 1u << 1)                                               \
  XX(POST_PENDING_TRANSFER, post_pending_transfer, 1u << 2)                   \
  XX(VOID_PENDING_TRANSFER, void_pending_transfer, 1u << 3)                   \
  XX(BALANCING_DEBIT, balancing_debit, 1u << 4)                               \
  XX(BALANCING_CREDIT, balancing_credit, 1u << 5)                             \
  XX(CLOSING_DEBIT, closing_debit, 1u << 6)                                   \
  XX(CLOSING_CREDIT, closing_credit, 1u << 7)                                 \
  XX(IMPORTED, imported, 1u << 8)

enum {
#define QP__AF(NAME, name, bit) QP_ACCOUNT_##NAME = bit,
  QP_ACCOUNT_FLAGS_MAP(QP__AF)
#undef QP__AF
  QP_ACCOUNT_FLAGS_ALL = 0x3F /* every bit above that names a flag */
};

enum {
#define QP__TF(NAME, name, bit) QP_TRANSFER_##NAME = bit,
  QP_TRANSFER_FLAGS_MAP(QP__TF)
#undef QP__TF
  QP_TRANSFER_FLAGS_ALL = 0x1FF /* every bit above that names a flag */
};

/* --------------------------------------------------------------- records */

/* An account.  The four balances and the timestamp are kept by the ledger;
 * on input they must be zero.  Invariant: an account's ledger and code never
 * change after creation. */
typedef struct qp_account {
  qp_u128 id;              /* unique, not 0, not 2^128-1 */
  qp_u128 debits_pending;  /* sum of pending debits not yet posted/voided */
  qp_u128 debits_posted;   /* sum of posted debits */
  qp_u128 credits_pending; /* sum of pending credits */
  qp_u128 credits_posted;  /* sum of posted credits */
  qp_u128 user_data_128;   /* opaque to the ledger */
  uint64_t user_data_64;   /* opaque to the ledger */
  uint32_t user_data_32;   /* opaque to the ledger */
  uint32_t reserved;       /* must be zero */
  uint32_t ledger;         /* asset/currency; not 0 */
  uint16_t code;           /* account type; not 0 */
  uint16_t flags;          /* QP_ACCOUNT_* */
  uint64_t timestamp;      /* ns, assigned by the ledger; 0 on input */
} qp_account_t;

/* A transfer.  For post/void, zero debit/credit/ledger/code mean "as the
 * pending transfer"; a post with amount 0 posts the full pending amount. */
typedef struct qp_transfer {
  qp_u128 id;                /* unique, not 0, not 2^128-1 */
  qp_u128 debit_account_id;  /* account debited */
  qp_u128 credit_account_id; /* account credited */
  qp_u128 amount;            /* units of the ledger's asset */
  qp_u128 pending_id;        /* the pending transfer posted or voided */
  qp_u128 user_data_128;     /* opaque to the ledger */
  uint64_t user_data_64;     /* opaque to the ledger */
  uint32_t user_data_32;     /* opaque to the ledger */
  uint32_t timeout;          /* seconds until a pending transfer expires; 0 = never */
  uint32_t ledger;           /* must equal both accounts' ledger */
  uint16_t code;             /* transfer type; not 0 */
  uint16_t flags;            /* QP_TRANSFER_* */
  uint64_t timestamp;        /* ns, assigned by the ledger; 0 on input */
} qp_transfer_t;

#define QP_RECORD_SIZE 128u /* encoded size of an account or a transfer */

/* What became of a transfer created with the `pending` flag. */
typedef enum {
  QP_PENDING_NONE = 0,    /* not a pending transfer */
  QP_PENDING_PENDING = 1, /* still holding its amount */
  QP_PENDING_POSTED = 2,  /* posted by a post_pending_transfer */
  QP_PENDING_VOIDED = 3,  /* voided by a void_pending_transfer */
  QP_PENDING_EXPIRED = 4  /* voided by the ledger when its timeout passed */
} qp_pending_state_t;

/* --------------------------------------------------------- result codes */

#define QP_CREATE_ACCOUNT_RESULTS(XX)                                         \
  XX(OK, ok)                                                                  \
  XX(LINKED_EVENT_FAILED, linked_event_failed)                                \
  XX(LINKED_EVENT_CHAIN_OPEN, linked_event_chain_open)                        \
  XX(TIMESTAMP_MUST_BE_ZERO, timestamp_must_be_zero)                          \
  XX(RESERVED_FIELD, reserved_field)                                          \
  XX(RESERVED_FLAG, reserved_flag)                                            \
  XX(ID_MUST_NOT_BE_ZERO, id_must_not_be_zero)                                \
  XX(ID_MUST_NOT_BE_INT_MAX, id_must_not_be_int_max)                          \
  XX(FLAGS_ARE_MUTUALLY_EXCLUSIVE, flags_are_mutually_exclusive)              \
  XX(DEBITS_PENDING_MUST_BE_ZERO, debits_pending_must_be_zero)                \
  XX(DEBITS_POSTED_MUST_BE_ZERO, debits_posted_must_be_zero)                  \
  XX(CREDITS_PENDING_MUST_BE_ZERO, credits_pending_must_be_zero)              \
  XX(CREDITS_POSTED_MUST_BE_ZERO, credits_posted_must_be_zero)                \
  XX(LEDGER_MUST_NOT_BE_ZERO, ledger_must_not_be_zero)                        \
  XX(CODE_MUST_NOT_BE_ZERO, code_must_not_be_zero)                            \
  XX(EXISTS_WITH_DIFFERENT_FLAGS, exists_with_different_flags)                \
  XX(EXISTS_WITH_DIFFERENT_USER_DATA_128, exists_with_different_user_data_128) \
  XX(EXISTS_WITH_DIFFERENT_USER_DATA_64, exists_with_different_user_data_64)  \
  XX(EXISTS_WITH_DIFFERENT_USER_DATA_32, exists_with_different_user_data_32)  \
  XX(EXISTS_WITH_DIFFERENT_LEDGER, exists_with_different_ledger)              \
  XX(EXISTS_WITH_DIFFERENT_CODE, exists_with_different_code)                  \
  XX(EXISTS, exists)                                                          \
  XX(IMPORTED_EVENT_EXPECTED, imported_event_expected)                        \
  XX(IMPORTED_EVENT_NOT_EXPECTED, imported_event_not_expected)                \
  XX(IMPORTED_EVENT_TIMESTAMP_OUT_OF_RANGE, imported_event_timestamp_out_of_range) \
  XX(IMPORTED_EVENT_TIMESTAMP_MUST_NOT_ADVANCE, imported_event_timestamp_must_not_advance) \
  XX(IMPORTED_EVENT_TIMESTAMP_MUST_NOT_REGRESS, imported_event_timestamp_must_not_regress)

#define QP_CREATE_TRANSFER_RESULTS(XX)                                                             \
  XX(OK, ok)                                                                                       \
  XX(LINKED_EVENT_FAILED, linked_event_failed)                                                     \
  XX(LINKED_EVENT_CHAIN_OPEN, linked_event_chain_open)                                             \
  XX(TIMESTAMP_MUST_BE_ZERO, timestamp_must_be_zero)                                               \
  XX(RESERVED_FLAG, reserved_flag)                                                                 \
  XX(ID_MUST_NOT_BE_ZERO, id_must_not_be_zero)                                                     \
  XX(ID_MUST_NOT_BE_INT_MAX, id_must_not_be_int_max)                                               \
  XX(FLAGS_ARE_MUTUALLY_EXCLUSIVE, flags_are_mutually_exclusive)                                   \
  XX(DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO, debit_account_id_must_not_be_zero)                         \
  XX(DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX, debit_account_id_must_not_be_int_max)                   \
  XX(CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO, credit_account_id_must_not_be_zero)                       \
  XX(CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX, credit_account_id_must_not_be_int_max)                 \
  XX(ACCOUNTS_MUST_BE_DIFFERENT, accounts_must_be_different)                                       \
  XX(PENDING_ID_MUST_BE_ZERO, pending_id_must_be_zero)                                             \
  XX(PENDING_ID_MUST_NOT_BE_ZERO, pending_id_must_not_be_zero)                                     \
  XX(PENDING_ID_MUST_NOT_BE_INT_MAX, pending_id_must_not_be_int_max)                               \
  XX(PENDING_ID_MUST_BE_DIFFERENT, pending_id_must_be_different)                                   \
  XX(TIMEOUT_RESERVED_FOR_PENDING_TRANSFER, timeout_reserved_for_pending_transfer)                 \
  XX(AMOUNT_MUST_NOT_BE_ZERO, amount_must_not_be_zero)                                             \
  XX(LEDGER_MUST_NOT_BE_ZERO, ledger_must_not_be_zero)                                             \
  XX(CODE_MUST_NOT_BE_ZERO, code_must_not_be_zero)                                                 \
  XX(DEBIT_ACCOUNT_NOT_FOUND, debit_account_not_found)                                             \
  XX(CREDIT_ACCOUNT_NOT_FOUND, credit_account_not_found)                                           \
  XX(ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER, accounts_must_have_the_same_ledger)                       \
  XX(TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS,                                               \
     transfer_must_have_the_same_ledger_as_accounts)                                               \
  XX(PENDING_TRANSFER_NOT_FOUND, pending_transfer_not_found)                                       \
  XX(PENDING_TRANSFER_NOT_PENDING, pending_transfer_not_pending)                                   \
  XX(PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID,                                              \
     pending_transfer_has_different_debit_account_id)                                              \
  XX(PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID,                                             \
     pending_transfer_has_different_credit_account_id)                                             \
  XX(PENDING_TRANSFER_HAS_DIFFERENT_LEDGER, pending_transfer_has_different_ledger)                 \
  XX(PENDING_TRANSFER_HAS_DIFFERENT_CODE, pending_transfer_has_different_code)                     \
  XX(EXCEEDS_PENDING_TRANSFER_AMOUNT, exceeds_pending_transfer_amount)                             \
  XX(PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT, pending_transfer_has_different_amount)                 \
  XX(PENDING_TRANSFER_ALREADY_POSTED, pending_transfer_already_posted)                             \
  XX(PENDING_TRANSFER_ALREADY_VOIDED, pending_transfer_already_voided)                             \
  XX(PENDING_TRANSFER_EXPIRED, pending_transfer_expired)                                           \
  XX(EXISTS_WITH_DIFFERENT_FLAGS, exists_with_different_flags)                                     \
  XX(EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID, exists_with_different_debit_account_id)               \
  XX(EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID, exists_with_different_credit_account_id)             \
  XX(EXISTS_WITH_DIFFERENT_AMOUNT, exists_with_different_amount)                                   \
  XX(EXISTS_WITH_DIFFERENT_PENDING_ID, exists_with_different_pending_id)                           \
  XX(EXISTS_WITH_DIFFERENT_USER_DATA_128, exists_with_different_user_data_128)                     \
  XX(EXISTS_WITH_DIFFERENT_USER_DATA_64, exists_with_different_user_data_64)                       \
  XX(EXISTS_WITH_DIFFERENT_USER_DATA_32, exists_with_different_user_data_32)                       \
  XX(EXISTS_WITH_DIFFERENT_TIMEOUT, exists_with_different_timeout)                                 \
  XX(EXISTS_WITH_DIFFERENT_LEDGER, exists_with_different_ledger)                                   \
  XX(EXISTS_WITH_DIFFERENT_CODE, exists_with_different_code)                                       \
  XX(EXISTS, exists)                                                                               \
  XX(OVERFLOWS_DEBITS_PENDING, overflows_debits_pending)                                           \
  XX(OVERFLOWS_CREDITS_PENDING, overflows_credits_pending)                                         \
  XX(OVERFLOWS_DEBITS_POSTED, overflows_debits_posted)                                             \
  XX(OVERFLOWS_CREDITS_POSTED, overflows_credits_posted)                                           \
  XX(OVERFLOWS_DEBITS, overflows_debits)                                                           \
  XX(OVERFLOWS_CREDITS, overflows_credits)                                                         \
  XX(OVERFLOWS_TIMEOUT, overflows_timeout)                                                         \
  XX(EXCEEDS_CREDITS, exceeds_credits)                                                             \
  XX(EXCEEDS_DEBITS, exceeds_debits)                                                               \
  XX(CLOSING_TRANSFER_MUST_BE_PENDING, closing_transfer_must_be_pending)                           \
  XX(DEBIT_ACCOUNT_ALREADY_CLOSED, debit_account_already_closed)                                   \
  XX(CREDIT_ACCOUNT_ALREADY_CLOSED, credit_account_already_closed)                                 \
  XX(IMPORTED_EVENT_EXPECTED, imported_event_expected)                                             \
  XX(IMPORTED_EVENT_NOT_EXPECTED, imported_event_not_expected)                                     \
  XX(IMPORTED_EVENT_TIMESTAMP_OUT_OF_RANGE, imported_event_timestamp_out_of_range)                 \
  XX(IMPORTED_EVENT_TIMESTAMP_MUST_NOT_ADVANCE, imported_event_timestamp_must_not_advance)         \
  XX(IMPORTED_EVENT_TIMESTAMP_MUST_NOT_REGRESS, imported_event_timestamp_must_not_regress)         \
  XX(IMPORTED_EVENT_TIMEOUT_MUST_BE_ZERO, imported_event_timeout_must_be_zero)

typedef enum {
#define QP__CAR(NAME, name) QP_CREATE_ACCOUNT_##NAME,
  QP_CREATE_ACCOUNT_RESULTS(QP__CAR)
#undef QP__CAR
  QP_CREATE_ACCOUNT_RESULT_COUNT
} qp_create_account_result_t;

typedef enum {
#define QP__CTR(NAME, name) QP_CREATE_TRANSFER_##NAME,
  QP_CREATE_TRANSFER_RESULTS(QP__CTR)
#undef QP__CTR
  QP_CREATE_TRANSFER_RESULT_COUNT
} qp_create_transfer_result_t;

/* snake_case names as used on the wire; NULL for an out-of-range value. */
const char *qp_create_account_result_name(uint32_t result);
const char *qp_create_transfer_result_name(uint32_t result);
/* Flag names for bit `bit` (a power of two); NULL if not a flag. */
const char *qp_account_flag_name(uint32_t bit);
const char *qp_transfer_flag_name(uint32_t bit);
const char *qp_pending_state_name(qp_pending_state_t state);

/* --------------------------------------------------------------- changes */

/* An account's balances right after one of its transfers (accounts with the
 * `history` flag only); what get_account_balances returns. */
typedef struct qp_account_balance {
  qp_u128 account_id;      /* the account */
  qp_u128 transfer_id;     /* the transfer (or expired pending) that changed it */
  qp_u128 debits_pending;  /* balances after that transfer */
  qp_u128 debits_posted;   /* " */
  qp_u128 credits_pending; /* " */
  qp_u128 credits_posted;  /* " */
  uint64_t timestamp;      /* the transfer's timestamp (or the expiry's) */
} qp_account_balance_t;

/* A pending transfer whose state changed (posted, voided, expired). */
typedef struct qp_pending_update {
  qp_u128 transfer_id; /* the pending transfer */
  uint8_t state;       /* qp_pending_state_t */
} qp_pending_update_t;

/* What the batches applied since the last qp_ledger_take_changes() changed,
 * for the index: every record here is a copy taken at the take.  Filled by
 * qp_ledger_take_changes(), which grows the arrays as needed; owned by the
 * caller (start from a zeroed struct, release with deinit). */
typedef struct qp_ledger_changes {
  qp_account_t *accounts;           /* current state of every account touched */
  uint32_t accounts_count;          /* rows used */
  uint32_t accounts_capacity;       /* rows allocated */
  uint32_t *account_rows;           /* each one's row in creation order */
  uint32_t account_rows_capacity;   /* entries allocated */
  qp_transfer_t *transfers;         /* transfers created, in creation order */
  uint8_t *transfer_states;         /* per created transfer: its pending state at the take */
  uint32_t transfers_count;         /* rows used */
  uint32_t transfers_capacity;      /* rows allocated */
  qp_pending_update_t *pending;     /* state changes of transfers taken before (may repeat) */
  uint32_t pending_count;           /* rows used */
  uint32_t pending_capacity;        /* rows allocated */
  qp_account_balance_t *balances;   /* history rows */
  uint32_t balances_count;          /* rows used */
  uint32_t balances_capacity;       /* rows allocated */
} qp_ledger_changes_t;

/* deinit releases every array (safe on a zeroed struct) and zeroes *c;
 * clear empties it and keeps the arrays. */
void qp_ledger_changes_deinit(qp_ledger_changes_t *c);
void qp_ledger_changes_clear(qp_ledger_changes_t *c);

/* ------------------------------------------------ the pure state machine */

typedef struct qp_ledger qp_ledger_t; /* opaque */

/* Where transfers go once they leave memory (qp_ledger_evict).  The state
 * machine keeps in memory only the transfers it may still change (pending
 * ones) and those the caller has not yet stored; every other transfer is
 * asked of the cold store by id when an event names it (an idempotent
 * re-send, a post/void of a pending transfer already resolved).  The store
 * must answer exactly what the state machine would have held: the record
 * and its final pending state.  Answers decide results, so a store that
 * fails (I/O) must not be papered over: `lookup` returns an error, the
 * event is treated as if the id were absent, and qp_ledger_cold_error()
 * reports the error so the caller discards the batch (the durable layer
 * fail-stops before journaling it). */
typedef struct qp_ledger_cold {
  void *ctx;
  /* 0 with out and state filled, QP_ENOTFOUND, or another QP_E* error. */
  int (*lookup)(void *ctx, qp_u128 id, qp_transfer_t *out, qp_pending_state_t *state);
} qp_ledger_cold_t;

typedef struct qp_ledger_config {
  uint32_t accounts_max;  /* hard cap on accounts (0 = 1<<26) */
  uint32_t transfers_max; /* hard cap on transfers held in memory (0 = 1<<28) */
  bool track_changes;     /* accumulate changes for qp_ledger_take_changes() */
  qp_ledger_cold_t cold;  /* lookup == NULL: every transfer stays in memory */
} qp_ledger_config_t;

/* Per-ledger totals, for the audit. */
typedef struct qp_ledger_totals {
  uint32_t ledger;         /* the ledger (asset) */
  uint32_t accounts;       /* accounts in it */
  qp_u128 debits_pending;  /* sums over its accounts */
  qp_u128 debits_posted;
  qp_u128 credits_pending;
  qp_u128 credits_posted;
} qp_ledger_totals_t;

/* Creates an empty state machine in *out.  Returns 0 or QP_ENOMEM. The
 * caller owns it and frees it with qp_ledger_destroy(). */
int qp_ledger_create(const qp_ledger_config_t *config, qp_ledger_t **out);
void qp_ledger_destroy(qp_ledger_t *ledger);

/* Applies a batch of 1..QP_BATCH_EVENTS_MAX account events at time now_ns.
 * results[i] receives a qp_create_account_result_t for events[i] (caller-
 * owned, `count` entries).  Event i gets timestamp max(now_ns, last+1) + i,
 * or - when the batch's first event is `imported` - its own timestamp, which
 * must be after every timestamp assigned so far and before that first one
 * (TigerBeetle's imported_event_* results).  Returns 0, QP_EINVAL (bad
 * count), or QP_ELIMIT when the account table is full (then nothing was
 * applied).  Pure: deterministic in its inputs. */
int qp_ledger_create_accounts(qp_ledger_t *ledger, uint64_t now_ns,
                              const qp_account_t *events, uint32_t count,
                              uint32_t *results);

/* As above, for transfers; results are qp_create_transfer_result_t. */
int qp_ledger_create_transfers(qp_ledger_t *ledger, uint64_t now_ns,
                               const qp_transfer_t *events, uint32_t count,
                               uint32_t *results);

/* Sweeps pending transfers whose timeout has passed at now_ns (at most
 * QP_EXPIRIES_PER_BATCH_MAX, each voided at a timestamp of its own);
 * *expired_out receives how many.  Create batches do not sweep: a post or
 * void of a pending transfer that is due but not yet swept already gets
 * pending_transfer_expired, and the durable layer runs this sweep as its own
 * journaled batch whenever qp_ledger_next_expiry() is due. */
int qp_ledger_expire(qp_ledger_t *ledger, uint64_t now_ns, uint32_t *expired_out);

/* With config.track_changes: moves everything changed since the last call
 * (accounts touched, transfers created, pending states changed, history
 * rows) into *out, growing its arrays as needed, and starts afresh.  The one
 * way changes leave the state machine: the durable layer checkpoints into
 * the index this way in large, coalesced transactions off the commit path,
 * and tests take after each batch to see that batch's effects.  Returns 0
 * or QP_ENOMEM (then nothing was taken).  Call after restoring state to set
 * the baseline. */
int qp_ledger_take_changes(qp_ledger_t *ledger, qp_ledger_changes_t *out);

/* Drops from memory the transfers the cold store now holds: those among the
 * first `stored_rows` taken rows (the rows the last qp_ledger_take_changes
 * returned, once written to the store) that are not pending and whose state
 * did not change since that take.  O(transfers in memory); call between
 * batches, before the next take.  Returns how many were dropped (0 also when
 * memory for the new id index is short: then nothing changes).  Requires
 * config.cold.lookup. */
uint64_t qp_ledger_evict(qp_ledger_t *ledger, uint64_t stored_rows);

/* The taken-row boundary: rows below it were returned by take_changes. */
uint64_t qp_ledger_taken_rows(const qp_ledger_t *ledger);

/* Transfers held in memory (the rest are in the cold store). */
uint64_t qp_ledger_transfers_in_memory(const qp_ledger_t *ledger);

/* The first error a cold lookup returned since the last call (0 = none),
 * cleared by the call.  Non-zero means the batches applied since then may
 * have wrong results and must not be made durable. */
int qp_ledger_cold_error(qp_ledger_t *ledger);

/* How much is waiting to be taken, in transfer-sized units: new transfers
 * plus three per changed account (an account costs the taker a copy, a
 * redo record and a file write, about three times a transfer's memory).
 * With millions of accounts, where each transfer changes two accounts not
 * changed yet, a bound on this bounds the taker's round at a seventh of it
 * in transfers; with few accounts, nearly all of it is transfers. */
uint64_t qp_ledger_untaken(const qp_ledger_t *ledger);

/* The earliest timeout in the expiry queue, or 0 if none.  May be that of a
 * transfer already posted or voided (entries are dropped lazily), so it is
 * never later than the true earliest expiry. */
uint64_t qp_ledger_next_expiry(const qp_ledger_t *ledger);

/* Copies the account with `id` into *out; returns 0 or QP_ENOTFOUND. */
int qp_ledger_lookup_account(const qp_ledger_t *ledger, qp_u128 id, qp_account_t *out);

/* Accounts are held in timestamp order (creation order; imported ones too),
 * so they can be found by timestamp: the account stamped `ts` into *out,
 * 0 or QP_ENOTFOUND (O(log accounts)). */
int qp_ledger_account_at(const qp_ledger_t *ledger, uint64_t ts, qp_account_t *out);

/* Up to `limit` accounts stamped in [ts_min, ts_max] (ts_max 0 = no bound),
 * oldest first or (newest_first) newest first, into out; returns how many. */
uint32_t qp_ledger_accounts_between(const qp_ledger_t *ledger, uint64_t ts_min, uint64_t ts_max,
                                    bool newest_first, qp_account_t *out, uint32_t limit);

/* Copies the transfer with `id` (and its pending state, if state != NULL). */
int qp_ledger_lookup_transfer(const qp_ledger_t *ledger, qp_u128 id, qp_transfer_t *out,
                              qp_pending_state_t *state);

/* Counts (transfers: in memory and in the cold store) and the timestamp of
 * the last event applied. */
uint64_t qp_ledger_account_count(const qp_ledger_t *ledger);
uint64_t qp_ledger_transfer_count(const qp_ledger_t *ledger);
uint64_t qp_ledger_last_timestamp(const qp_ledger_t *ledger);

/* Calls fn for every account (every transfer held in memory), in creation
 * order; stops early if fn returns non-zero and returns that value. */
int qp_ledger_each_account(const qp_ledger_t *ledger,
                           int (*fn)(void *ctx, const qp_account_t *account), void *ctx);
int qp_ledger_each_transfer(const qp_ledger_t *ledger,
                            int (*fn)(void *ctx, const qp_transfer_t *transfer,
                                      qp_pending_state_t state),
                            void *ctx);

/* Restores state from an index snapshot (used at open): inserts an account
 * or transfer as-is.  Returns 0, QP_EEXISTS or QP_ELIMIT/QP_ENOMEM.
 * reserve_accounts makes room for `count` more first (one allocation for a
 * bulk load); restore_cold counts transfers that stay in the cold store. */
int qp_ledger_reserve_accounts(qp_ledger_t *ledger, uint64_t count);
int qp_ledger_restore_account(qp_ledger_t *ledger, const qp_account_t *account);
void qp_ledger_restore_cold(qp_ledger_t *ledger, uint64_t transfers);
/* Appends n accounts in one go (ids must be new: else QP_EEXISTS and none
 * is added). */
int qp_ledger_restore_accounts(qp_ledger_t *ledger, const qp_account_t *accounts, uint32_t n);

int qp_ledger_restore_transfer(qp_ledger_t *ledger, const qp_transfer_t *transfer,
                               qp_pending_state_t state);
void qp_ledger_restore_clock(qp_ledger_t *ledger, uint64_t last_timestamp);

/* Per-ledger totals, sorted by ledger number: kept up to date as batches
 * apply, so this costs O(ledgers).  Fills up to `capacity` rows of the
 * caller's `rows` and returns the number of distinct ledgers (those with
 * accounts) in *count_out.  Returns 0. */
int qp_ledger_totals(const qp_ledger_t *ledger, qp_ledger_totals_t *rows, uint32_t capacity,
                     uint32_t *count_out);

/* Whether the running totals balance: in every ledger, debits equal credits,
 * posted and pending.  O(ledgers); what the audit reports between full
 * checks. */
bool qp_ledger_totals_balanced(const qp_ledger_t *ledger);

/* The invariant checker, recomputing from scratch: every ledger's debits
 * equal its credits (posted and pending), every pending transfer's amount
 * is held, and the running totals (qp_ledger_totals) equal the recomputed
 * sums.  Returns true when it holds.  Used by asserts, tests, verify and
 * the durable layer's background check; O(accounts + transfers). */
bool qp_ledger_check(const qp_ledger_t *ledger);

/* The same check, telling "does not hold" apart from "could not check":
 * returns 0 with *holds set, or QP_ENOMEM. */
int qp_ledger_check_invariant(const qp_ledger_t *ledger, bool *holds);

/* --------------------------------------------------------- encoding */

/* Fixed little-endian 128-byte encodings (journal, index). */
void qp_account_encode(uint8_t out[QP_RECORD_SIZE], const qp_account_t *a);
void qp_account_decode(const uint8_t in[QP_RECORD_SIZE], qp_account_t *a);
void qp_transfer_encode(uint8_t out[QP_RECORD_SIZE], const qp_transfer_t *t);
void qp_transfer_decode(const uint8_t in[QP_RECORD_SIZE], qp_transfer_t *t);

#endif
