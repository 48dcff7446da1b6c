/*
 * state_int.h - (private to ledger/) the layout of the pure state machine.
 *
 * Accounts and transfers live in arrays of fixed records, in creation
 * order, found through id indexes (table.h).  With a cold store
 * (config.cold) the transfer array holds only the transfers that may still
 * change or are not yet stored; qp_ledger_evict() compacts it.  Pending transfers with a
 * timeout are also in a min-heap ordered by expiry.  A linked chain is
 * applied optimistically with an undo log, and rolled back if any of its
 * events fails.
 *
 * Invariants between batches: for every ledger, sum(debits_posted) ==
 * sum(credits_posted) and sum(debits_pending) == sum(credits_pending) ==
 * sum(amount of transfers in state PENDING), and `totals` holds exactly
 * those sums and the ledger's account count; every timestamp is unique and
 * increases with creation order; the undo log is empty.
 */
#ifndef QP_LEDGER_STATE_INT_H
#define QP_LEDGER_STATE_INT_H

#include "ledger/ledger.h"
#include "ledger/table.h"

typedef enum {
  QP__UNDO_ACCOUNT_CREATED = 1,  /* row was appended to accounts */
  QP__UNDO_ACCOUNT_BALANCES = 2, /* row's balances (and flags) were changed */
  QP__UNDO_TRANSFER_CREATED = 3, /* row was appended to transfers */
  QP__UNDO_TRANSFER_STATE = 4    /* row's pending state was changed */
} qp__undo_kind_t;

typedef struct qp__undo {
  uint32_t kind;        /* qp__undo_kind_t */
  uint32_t row;         /* account or transfer row */
  qp_u128 balances[4];  /* previous dp, dpo, cp, cpo (ACCOUNT_BALANCES) */
  uint16_t flags;       /* previous account flags: `closed` (ACCOUNT_BALANCES) */
  uint8_t state;        /* previous state (TRANSFER_STATE) */
} qp__undo_t;

typedef struct qp__expiry {
  uint64_t expires_at_ns; /* timestamp + timeout */
  qp_u128 transfer_id;    /* validated on pop: the row may be gone */
} qp__expiry_t;

#define QP__UNDO_PER_EVENT 4u

struct qp_ledger {
  qp_ledger_config_t config;   /* limits */
  qp_account_t *accounts;      /* rows in creation order */
  uint64_t accounts_count;     /* rows used */
  uint64_t accounts_capacity;  /* rows allocated */
  qp__table_t account_index;   /* id -> row */
  qp_transfer_t *transfers;    /* rows in creation order */
  uint8_t *transfer_states;    /* qp_pending_state_t per row */
  uint64_t transfers_count;    /* rows used */
  uint64_t transfers_capacity; /* rows allocated */
  qp__table_t transfer_index;  /* id -> row */
  uint64_t transfers_cold;     /* transfers only in the cold store */
  int cold_error;              /* first failed cold lookup since last asked */
  qp__expiry_t *expiries;      /* min-heap by expires_at_ns */
  uint64_t expiries_count;     /* entries used */
  uint64_t expiries_capacity;  /* entries allocated */
  qp__undo_t *undo;            /* undo log of the open linked chain */
  uint32_t undo_count;         /* entries used */
  uint64_t undo_capacity;      /* entries allocated (grown per batch size) */
  qp_ledger_totals_t *totals;  /* per ledger with accounts, sorted by ledger; kept as
                                  batches apply (audit.c) */
  uint32_t totals_count;       /* rows used */
  uint32_t totals_capacity;    /* rows allocated (reserved before each account batch) */
  uint64_t last_timestamp;     /* timestamp of the last event */
  bool in_chain;               /* recording undo for an open chain */
  bool batch_imported;         /* the batch being applied carries its own timestamps */
  uint64_t batch_begin;        /* the first timestamp the ledger would assign in it */
  uint64_t batch_clock;        /* the last timestamp created in it (imported batches) */

  /* Changes since the last qp_ledger_take_changes() (config.track_changes):
   * what the index must be told.  New transfers are the rows from
   * taken_transfer_rows on, since rows are only ever appended. */
  uint8_t *account_dirty;          /* per account row: in dirty_accounts */
  uint32_t *dirty_accounts;        /* rows changed since the last take */
  uint64_t dirty_accounts_count;   /* entries used */
  uint64_t dirty_capacity;         /* capacity of account_dirty and dirty_accounts */
  uint64_t taken_transfer_rows;    /* rows below this were taken */
  qp_u128 *dirty_pending;          /* older transfers whose pending state changed (ids:
                                    * rows move when the array is compacted) */
  uint64_t dirty_pending_count;    /* entries used (may repeat a row) */
  uint64_t dirty_pending_capacity; /* entries allocated */
  qp_account_balance_t *history;   /* history rows since the last take */
  uint64_t history_count;          /* entries used */
  uint64_t history_capacity;       /* entries allocated */
};

/* The running per-ledger totals (audit.c).  reserve makes room for `more`
 * new ledgers, so that nothing allocates mid-batch; row finds (or, with
 * create, inserts) a ledger's row - the pointer is valid until the next
 * insert or removal; account_gone undoes an account's creation (dropping
 * the row with its last account); add_account counts an account and adds
 * its balances; set_balances changes an account's balances and its
 * ledger's sums by the same amounts. */
int qp__totals_reserve(qp_ledger_t *l, uint32_t more);
qp_ledger_totals_t *qp__totals_row(qp_ledger_t *l, uint32_t ledger, bool create);
void qp__totals_account_gone(qp_ledger_t *l, const qp_account_t *a);
void qp__totals_add_account(qp_ledger_totals_t *t, const qp_account_t *a);
void qp__totals_set_balances(qp_ledger_t *l, qp_account_t *a, const qp_u128 balances[4]);

#endif
