/*
 * state.c - the ledger's pure state machine: the rules of money.
 *
 * Everything that decides whether money moves is in this file.  It reads
 * no clock, no file and no socket: time arrives as `now_ns`, and the only
 * outputs are the result codes and the new state (with config.track_changes,
 * also a log of what changed for qp_ledger_take_changes, see changes.c).
 * Replaying the same batches with the same `now_ns` values yields the same
 * state, byte for byte; the journal, the verifier and the simulator all
 * rely on that.
 *
 * The rule order for each event is: static checks on the event alone, then
 * the idempotency check (an existing id returns `exists` or the first field
 * that differs), then checks against the state, then overflow and limit
 * checks, and only then any mutation.  So a failing event never changes
 * anything, and a linked chain only needs to undo the events before it.
 */
#include <stddef.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "ledger/state_int.h"

#define NS_PER_S 1000000000ull

static const uint32_t ACCOUNTS_MAX_DEFAULT = 1u << 26;
static const uint32_t TRANSFERS_MAX_DEFAULT = 1u << 28;

/* ------------------------------------------------------------ lifecycle */

int qp_ledger_create(const qp_ledger_config_t *config, qp_ledger_t **out) {
  qp_ledger_t *l = qp_calloc(1, sizeof *l);
  if (l == NULL) return QP_ENOMEM;
  if (config) l->config = *config;
  if (l->config.accounts_max == 0) l->config.accounts_max = ACCOUNTS_MAX_DEFAULT;
  if (l->config.transfers_max == 0) l->config.transfers_max = TRANSFERS_MAX_DEFAULT;
  _Static_assert(offsetof(qp_account_t, id) == 0 && offsetof(qp_transfer_t, id) == 0,
                 "the id index reads ids at the start of each record");
  if (qp__table_init(&l->account_index, 1024, (const void *const *)&l->accounts,
                     sizeof *l->accounts) != 0 ||
      qp__table_init(&l->transfer_index, 1024, (const void *const *)&l->transfers,
                     sizeof *l->transfers) != 0) {
    qp_ledger_destroy(l);
    return QP_ENOMEM;
  }
  *out = l;
  return 0;
}

void qp_ledger_destroy(qp_ledger_t *l) {
  if (l == NULL) return;
  qp_free(l->accounts);
  qp_free(l->transfers);
  qp_free(l->transfer_states);
  qp_free(l->expiries);
  qp_free(l->undo);
  qp__table_deinit(&l->account_index);
  qp__table_deinit(&l->transfer_index);
  qp_free(l->account_dirty);
  qp_free(l->dirty_accounts);
  qp_free(l->dirty_pending);
  qp_free(l->history);
  qp_free(l->totals);
  qp_free(l);
}

/* Grows *array (of `size`-byte rows) so that it holds `need` rows. */
static int grow(void **array, uint64_t *capacity, uint64_t need, size_t size) {
  if (need <= *capacity) return 0;
  uint64_t cap = *capacity ? *capacity : 1024;
  while (cap < need) cap *= 2;
  void *p = qp_realloc(*array, cap * size);
  if (p == NULL) return QP_ENOMEM;
  *array = p;
  *capacity = cap;
  return 0;
}

/* Makes room for `count` more accounts; nothing changes on failure. */
static int reserve_accounts(qp_ledger_t *l, uint64_t count) {
  uint64_t need = l->accounts_count + count;
  if (need > l->config.accounts_max) return QP_ELIMIT;
  int rc = grow((void **)&l->accounts, &l->accounts_capacity, need, sizeof *l->accounts);
  if (rc == 0) rc = qp__table_reserve(&l->account_index, count);
  if (rc != 0) return rc;
  if (l->config.track_changes && l->dirty_capacity < l->accounts_capacity) {
    uint8_t *flags = qp_realloc(l->account_dirty, l->accounts_capacity);
    if (flags == NULL) return QP_ENOMEM;
    memset(flags + l->dirty_capacity, 0, l->accounts_capacity - l->dirty_capacity);
    l->account_dirty = flags;
    uint32_t *rows = qp_realloc(l->dirty_accounts, l->accounts_capacity * sizeof *rows);
    if (rows == NULL) return QP_ENOMEM;
    l->dirty_accounts = rows;
    l->dirty_capacity = l->accounts_capacity;
  }
  return 0;
}

/* The undo log holds at most QP__UNDO_PER_EVENT entries per event of a
 * batch; it grows with the largest batch seen rather than starting at the
 * maximum, so small ledgers (and fuzzers) stay small. */
static int reserve_undo(qp_ledger_t *l, uint32_t count) {
  return grow((void **)&l->undo, &l->undo_capacity, (uint64_t)count * QP__UNDO_PER_EVENT,
              sizeof *l->undo);
}

/* Makes room in the change-tracking logs for one batch's worth. */
static int reserve_tracking(qp_ledger_t *l, uint64_t pending_more, uint64_t history_more) {
  if (!l->config.track_changes) return 0;
  int rc = grow((void **)&l->dirty_pending, &l->dirty_pending_capacity,
                l->dirty_pending_count + pending_more, sizeof *l->dirty_pending);
  if (rc == 0)
    rc = grow((void **)&l->history, &l->history_capacity, l->history_count + history_more,
              sizeof *l->history);
  return rc;
}

static int reserve_transfers(qp_ledger_t *l, uint64_t count) {
  uint64_t need = l->transfers_count + count;
  if (need > l->config.transfers_max) return QP_ELIMIT;
  uint64_t cap = l->transfers_capacity, cap2 = l->transfers_capacity;
  int rc = grow((void **)&l->transfers, &cap, need, sizeof *l->transfers);
  if (rc == 0) rc = grow((void **)&l->transfer_states, &cap2, need, 1);
  if (rc == 0) rc = qp__table_reserve(&l->transfer_index, count);
  if (rc == 0) rc = grow((void **)&l->expiries, &l->expiries_capacity, l->expiries_count + count,
                         sizeof *l->expiries);
  if (rc == 0) rc = reserve_tracking(l, count, 2 * count);
  if (rc != 0) return rc;
  l->transfers_capacity = cap < cap2 ? cap : cap2;
  return 0;
}

/* ---------------------------------------------------------- expiry heap */

/* Heap order is total - by expiry, then by id - so that the sweep expires
 * transfers due at the same instant in the same order whatever the heap's
 * shape; live runs and replays can leave different stale entries behind. */
static bool expiry_before(const qp__expiry_t *a, const qp__expiry_t *b) {
  if (a->expires_at_ns != b->expires_at_ns) return a->expires_at_ns < b->expires_at_ns;
  return a->transfer_id < b->transfer_id;
}

static void heap_push(qp_ledger_t *l, uint64_t expires_at_ns, qp_u128 id) {
  QP_ASSERT(l->expiries_count < l->expiries_capacity);
  qp__expiry_t e = {.expires_at_ns = expires_at_ns, .transfer_id = id};
  uint64_t i = l->expiries_count++;
  while (i > 0) {
    uint64_t parent = (i - 1) / 2;
    if (!expiry_before(&e, &l->expiries[parent])) break;
    l->expiries[i] = l->expiries[parent];
    i = parent;
  }
  l->expiries[i] = e;
}

static void heap_pop(qp_ledger_t *l) {
  QP_ASSERT(l->expiries_count > 0);
  qp__expiry_t last = l->expiries[--l->expiries_count];
  uint64_t n = l->expiries_count, i = 0;
  for (;;) {
    uint64_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && expiry_before(&l->expiries[child + 1], &l->expiries[child])) child++;
    if (!expiry_before(&l->expiries[child], &last)) break;
    l->expiries[i] = l->expiries[child];
    i = child;
  }
  if (n > 0) l->expiries[i] = last;
}

uint64_t qp_ledger_next_expiry(const qp_ledger_t *l) {
  return l->expiries_count ? l->expiries[0].expires_at_ns : 0;
}

/* --------------------------------------------------------- bookkeeping */

/* Notes that an account row changed, for the next take (track_changes). */
static void touch(qp_ledger_t *l, uint32_t row) {
  if (!l->config.track_changes || l->account_dirty[row]) return;
  l->account_dirty[row] = 1;
  QP_ASSERT(l->dirty_accounts_count < l->dirty_capacity);
  l->dirty_accounts[l->dirty_accounts_count++] = row;
}

/* Notes that an older transfer's pending state changed. */
static void track_pending(qp_ledger_t *l, uint32_t row) {
  if (!l->config.track_changes || row >= l->taken_transfer_rows) return;
  QP_ASSERT(l->dirty_pending_count < l->dirty_pending_capacity);
  l->dirty_pending[l->dirty_pending_count++] = l->transfers[row].id;
}

static void save_balances(qp_ledger_t *l, uint32_t row) {
  touch(l, row);
  if (!l->in_chain) return;
  QP_ASSERT(l->undo_count < l->undo_capacity);
  qp__undo_t *u = &l->undo[l->undo_count++];
  const qp_account_t *a = &l->accounts[row];
  u->kind = QP__UNDO_ACCOUNT_BALANCES;
  u->row = row;
  u->balances[0] = a->debits_pending;
  u->balances[1] = a->debits_posted;
  u->balances[2] = a->credits_pending;
  u->balances[3] = a->credits_posted;
  u->flags = a->flags;
}

static void record_undo(qp_ledger_t *l, qp__undo_kind_t kind, uint32_t row, uint8_t state) {
  if (!l->in_chain) return;
  QP_ASSERT(l->undo_count < l->undo_capacity);
  qp__undo_t *u = &l->undo[l->undo_count++];
  u->kind = kind;
  u->row = row;
  u->state = state;
}

static void fill_balance(qp_account_balance_t *b, const qp_account_t *a, qp_u128 transfer_id,
                         uint64_t ts) {
  b->account_id = a->id;
  b->transfer_id = transfer_id;
  b->debits_pending = a->debits_pending;
  b->debits_posted = a->debits_posted;
  b->credits_pending = a->credits_pending;
  b->credits_posted = a->credits_posted;
  b->timestamp = ts;
}

static void record_history(qp_ledger_t *l, uint32_t row, qp_u128 transfer_id, uint64_t ts) {
  const qp_account_t *a = &l->accounts[row];
  if (!(a->flags & QP_ACCOUNT_HISTORY) || !l->config.track_changes) return;
  QP_ASSERT(l->history_count < l->history_capacity);
  fill_balance(&l->history[l->history_count++], a, transfer_id, ts);
}

/* How long the change logs were when a linked chain began: a rolled-back
 * chain leaves no history rows and no pending updates behind.  (Accounts it
 * touched stay listed; the take copies their restored state, which is
 * harmless.) */
typedef struct changes_mark {
  uint64_t history; /* history_count */
  uint64_t pending; /* dirty_pending_count */
  uint64_t clock;   /* batch_clock */
} changes_mark_t;

static changes_mark_t changes_mark(const qp_ledger_t *l) {
  changes_mark_t m = {l->history_count, l->dirty_pending_count, l->batch_clock};
  return m;
}

/* Undoes every event of the open chain, newest first. */
static void rollback(qp_ledger_t *l, changes_mark_t mark) {
  while (l->undo_count > 0) {
    const qp__undo_t *u = &l->undo[--l->undo_count];
    switch (u->kind) {
    case QP__UNDO_ACCOUNT_CREATED:
      QP_ASSERT(u->row + 1 == l->accounts_count);
      qp__totals_account_gone(l, &l->accounts[u->row]);
      qp__table_remove(&l->account_index, l->accounts[u->row].id);
      l->accounts_count--;
      break;
    case QP__UNDO_ACCOUNT_BALANCES:
      qp__totals_set_balances(l, &l->accounts[u->row], u->balances);
      l->accounts[u->row].flags = u->flags;
      break;
    case QP__UNDO_TRANSFER_CREATED:
      QP_ASSERT(u->row + 1 == l->transfers_count);
      qp__table_remove(&l->transfer_index, l->transfers[u->row].id);
      l->transfers_count--;
      break;
    case QP__UNDO_TRANSFER_STATE:
      l->transfer_states[u->row] = u->state;
      break;
    default:
      QP_UNREACHABLE();
    }
  }
  l->history_count = mark.history;
  l->dirty_pending_count = mark.pending;
  l->batch_clock = mark.clock;
}

/* ------------------------------------------------------------- accounts */

static uint32_t account_exists(const qp_account_t *e, const qp_account_t *a) {
  if ((e->flags & ~QP_ACCOUNT_LINKED) != (a->flags & ~QP_ACCOUNT_LINKED))
    return QP_CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_FLAGS;
  if (e->user_data_128 != a->user_data_128)
    return QP_CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_USER_DATA_128;
  if (e->user_data_64 != a->user_data_64)
    return QP_CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_USER_DATA_64;
  if (e->user_data_32 != a->user_data_32)
    return QP_CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_USER_DATA_32;
  if (e->ledger != a->ledger) return QP_CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_LEDGER;
  if (e->code != a->code) return QP_CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_CODE;
  return QP_CREATE_ACCOUNT_EXISTS;
}

static uint32_t create_account(qp_ledger_t *l, const qp_account_t *e, uint64_t ts) {
  if (e->flags & ~QP_ACCOUNT_FLAGS_ALL) return QP_CREATE_ACCOUNT_RESERVED_FLAG;
  if (e->reserved != 0) return QP_CREATE_ACCOUNT_RESERVED_FIELD;
  if (e->id == 0) return QP_CREATE_ACCOUNT_ID_MUST_NOT_BE_ZERO;
  if (e->id == QP_U128_MAX) return QP_CREATE_ACCOUNT_ID_MUST_NOT_BE_INT_MAX;
  if ((e->flags & QP_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) &&
      (e->flags & QP_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS))
    return QP_CREATE_ACCOUNT_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
  if (e->debits_pending != 0) return QP_CREATE_ACCOUNT_DEBITS_PENDING_MUST_BE_ZERO;
  if (e->debits_posted != 0) return QP_CREATE_ACCOUNT_DEBITS_POSTED_MUST_BE_ZERO;
  if (e->credits_pending != 0) return QP_CREATE_ACCOUNT_CREDITS_PENDING_MUST_BE_ZERO;
  if (e->credits_posted != 0) return QP_CREATE_ACCOUNT_CREDITS_POSTED_MUST_BE_ZERO;
  if (e->ledger == 0) return QP_CREATE_ACCOUNT_LEDGER_MUST_NOT_BE_ZERO;
  if (e->code == 0) return QP_CREATE_ACCOUNT_CODE_MUST_NOT_BE_ZERO;
  uint32_t row = qp__table_get(&l->account_index, e->id);
  if (row != QP__TABLE_EMPTY) return account_exists(e, &l->accounts[row]);
  if (l->batch_imported && ts <= l->batch_clock)
    return QP_CREATE_ACCOUNT_IMPORTED_EVENT_TIMESTAMP_MUST_NOT_REGRESS;

  QP_ASSERT(l->accounts_count < l->accounts_capacity);
  row = (uint32_t)l->accounts_count++;
  qp_account_t *a = &l->accounts[row];
  *a = *e;
  a->timestamp = ts;
  qp__table_put(&l->account_index, a->id, row);
  qp__totals_add_account(qp__totals_row(l, a->ledger, true), a);
  record_undo(l, QP__UNDO_ACCOUNT_CREATED, row, 0);
  touch(l, row);
  return QP_CREATE_ACCOUNT_OK;
}

/* ------------------------------------------------------------ transfers */

/* The transfer with `id`: from memory (*row is its row) or else from the
 * cold store (*row = QP__TABLE_EMPTY, the record copied to *cold); NULL if
 * neither has it.  A failing cold store is remembered for the caller (see
 * qp_ledger_cold_error) and the id treated as absent. */
static const qp_transfer_t *find_transfer(qp_ledger_t *l, qp_u128 id, qp_transfer_t *cold,
                                          qp_pending_state_t *state, uint32_t *row) {
  uint32_t r = qp__table_get(&l->transfer_index, id);
  *row = r;
  if (r != QP__TABLE_EMPTY) {
    *state = (qp_pending_state_t)l->transfer_states[r];
    return &l->transfers[r];
  }
  if (l->config.cold.lookup == NULL) return NULL;
  int rc = l->config.cold.lookup(l->config.cold.ctx, id, cold, state);
  if (rc == 0 && *state == QP_PENDING_PENDING) rc = QP_ECORRUPT; /* pending ones never leave */
  if (rc == 0) return cold;
  if (rc != QP_ENOTFOUND && l->cold_error == 0) l->cold_error = rc;
  return NULL;
}

/* The flags that must agree when an id is re-sent: `linked` describes the
 * batch the event came in, not the transfer, so it is not compared. */
static uint16_t sticky_flags(uint16_t flags) { return (uint16_t)(flags & ~QP_TRANSFER_LINKED); }

static uint32_t transfer_exists(qp_ledger_t *l, const qp_transfer_t *e, const qp_transfer_t *t) {
  bool post_or_void =
      e->flags & (QP_TRANSFER_POST_PENDING_TRANSFER | QP_TRANSFER_VOID_PENDING_TRANSFER);
  if (sticky_flags(e->flags) != sticky_flags(t->flags))
    return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_FLAGS;
  /* For post/void, zero fields mean "as the pending transfer". */
  if ((e->debit_account_id != 0 || !post_or_void) && e->debit_account_id != t->debit_account_id)
    return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID;
  if ((e->credit_account_id != 0 || !post_or_void) && e->credit_account_id != t->credit_account_id)
    return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID;
  if (e->flags & (QP_TRANSFER_BALANCING_DEBIT | QP_TRANSFER_BALANCING_CREDIT)) {
    if (e->amount < t->amount) return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_AMOUNT;
  } else if (post_or_void && e->amount == 0) {
    if (e->flags & QP_TRANSFER_POST_PENDING_TRANSFER) {
      qp_transfer_t cold;
      qp_pending_state_t state;
      uint32_t prow;
      const qp_transfer_t *p = find_transfer(l, t->pending_id, &cold, &state, &prow);
      if (p == NULL || p->amount != t->amount)
        return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_AMOUNT;
    }
  } else if (e->amount != t->amount) {
    return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_AMOUNT;
  }
  if (e->pending_id != t->pending_id) return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_PENDING_ID;
  if (e->user_data_128 != t->user_data_128)
    return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_USER_DATA_128;
  if (e->user_data_64 != t->user_data_64)
    return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_USER_DATA_64;
  if (e->user_data_32 != t->user_data_32)
    return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_USER_DATA_32;
  if (e->timeout != t->timeout) return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_TIMEOUT;
  if ((e->ledger != 0 || !post_or_void) && e->ledger != t->ledger)
    return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_LEDGER;
  if ((e->code != 0 || !post_or_void) && e->code != t->code)
    return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_CODE;
  return QP_CREATE_TRANSFER_EXISTS;
}

/* Checks on the event alone, shared by every kind of transfer. */
static uint32_t transfer_static_checks(const qp_transfer_t *e) {
  if (e->flags & ~QP_TRANSFER_FLAGS_ALL) return QP_CREATE_TRANSFER_RESERVED_FLAG;
  if (e->id == 0) return QP_CREATE_TRANSFER_ID_MUST_NOT_BE_ZERO;
  if (e->id == QP_U128_MAX) return QP_CREATE_TRANSFER_ID_MUST_NOT_BE_INT_MAX;
  uint32_t kinds = !!(e->flags & QP_TRANSFER_PENDING) +
                   !!(e->flags & QP_TRANSFER_POST_PENDING_TRANSFER) +
                   !!(e->flags & QP_TRANSFER_VOID_PENDING_TRANSFER);
  bool balancing = e->flags & (QP_TRANSFER_BALANCING_DEBIT | QP_TRANSFER_BALANCING_CREDIT);
  bool closing = e->flags & (QP_TRANSFER_CLOSING_DEBIT | QP_TRANSFER_CLOSING_CREDIT);
  bool post_or_void =
      e->flags & (QP_TRANSFER_POST_PENDING_TRANSFER | QP_TRANSFER_VOID_PENDING_TRANSFER);
  if (kinds > 1 || ((balancing || closing) && post_or_void))
    return QP_CREATE_TRANSFER_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
  if (post_or_void) {
    if (e->pending_id == 0) return QP_CREATE_TRANSFER_PENDING_ID_MUST_NOT_BE_ZERO;
    if (e->pending_id == QP_U128_MAX) return QP_CREATE_TRANSFER_PENDING_ID_MUST_NOT_BE_INT_MAX;
    if (e->pending_id == e->id) return QP_CREATE_TRANSFER_PENDING_ID_MUST_BE_DIFFERENT;
    if (e->timeout != 0) return QP_CREATE_TRANSFER_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER;
    return QP_CREATE_TRANSFER_OK;
  }
  if (e->pending_id != 0) return QP_CREATE_TRANSFER_PENDING_ID_MUST_BE_ZERO;
  bool pending = e->flags & QP_TRANSFER_PENDING;
  if (e->timeout != 0 && !pending) return QP_CREATE_TRANSFER_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER;
  if (e->debit_account_id == 0) return QP_CREATE_TRANSFER_DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO;
  if (e->debit_account_id == QP_U128_MAX)
    return QP_CREATE_TRANSFER_DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX;
  if (e->credit_account_id == 0) return QP_CREATE_TRANSFER_CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO;
  if (e->credit_account_id == QP_U128_MAX)
    return QP_CREATE_TRANSFER_CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX;
  if (e->debit_account_id == e->credit_account_id)
    return QP_CREATE_TRANSFER_ACCOUNTS_MUST_BE_DIFFERENT;
  /* Pending, so that voiding it can re-open the account; checked after the
   * ids and the timeout and before ledger and code, as in TigerBeetle. */
  if (closing && !pending) return QP_CREATE_TRANSFER_CLOSING_TRANSFER_MUST_BE_PENDING;
  /* A closing transfer may hold nothing: it closes an account whose balance
   * is already settled (TigerBeetle's close-account recipe uses amount 0). */
  if (e->amount == 0 && !closing) return QP_CREATE_TRANSFER_AMOUNT_MUST_NOT_BE_ZERO;
  if (e->ledger == 0) return QP_CREATE_TRANSFER_LEDGER_MUST_NOT_BE_ZERO;
  if (e->code == 0) return QP_CREATE_TRANSFER_CODE_MUST_NOT_BE_ZERO;
  return QP_CREATE_TRANSFER_OK;
}

/* Appends the transfer row (and its expiry) once every check has passed. */
static void insert_transfer(qp_ledger_t *l, const qp_transfer_t *t, qp_pending_state_t state,
                            uint64_t expires_at_ns) {
  QP_ASSERT(l->transfers_count < l->transfers_capacity);
  uint32_t row = (uint32_t)l->transfers_count++;
  l->transfers[row] = *t;
  l->transfer_states[row] = (uint8_t)state;
  qp__table_put(&l->transfer_index, t->id, row);
  record_undo(l, QP__UNDO_TRANSFER_CREATED, row, 0);
  if (expires_at_ns != 0) heap_push(l, expires_at_ns, t->id);
}

static qp_u128 min_u128(qp_u128 a, qp_u128 b) { return a < b ? a : b; }

/* What a balancing flag lets through: the room left under the limit, or 0. */
static qp_u128 room(qp_u128 limit, qp_u128 used_a, qp_u128 used_b) {
  qp_u128 used;
  if (qp_u128_add_overflow(used_a, used_b, &used) || used >= limit) return 0;
  return limit - used;
}

/* An imported transfer's place in time, checked after the accounts and the
 * pending transfer are known (TigerBeetle's precedence).  Timestamps are one
 * sequence for accounts and transfers here, so a transfer that does not
 * regress always postdates both its accounts (TigerBeetle's
 * imported_event_timestamp_must_postdate_* cannot happen). */
static uint32_t imported_order_checks(const qp_ledger_t *l, const qp_transfer_t *e,
                                      const qp_account_t *dr, const qp_account_t *cr,
                                      uint64_t ts) {
  if (!l->batch_imported) return QP_CREATE_TRANSFER_OK;
  if (ts <= l->batch_clock) return QP_CREATE_TRANSFER_IMPORTED_EVENT_TIMESTAMP_MUST_NOT_REGRESS;
  QP_ASSERT(dr->timestamp < ts && cr->timestamp < ts);
  if (e->timeout != 0) return QP_CREATE_TRANSFER_IMPORTED_EVENT_TIMEOUT_MUST_BE_ZERO;
  return QP_CREATE_TRANSFER_OK;
}

static uint32_t create_plain_transfer(qp_ledger_t *l, const qp_transfer_t *e, uint64_t ts) {
  uint32_t dr_row = qp__table_get(&l->account_index, e->debit_account_id);
  if (dr_row == QP__TABLE_EMPTY) return QP_CREATE_TRANSFER_DEBIT_ACCOUNT_NOT_FOUND;
  uint32_t cr_row = qp__table_get(&l->account_index, e->credit_account_id);
  if (cr_row == QP__TABLE_EMPTY) return QP_CREATE_TRANSFER_CREDIT_ACCOUNT_NOT_FOUND;
  qp_account_t *dr = &l->accounts[dr_row], *cr = &l->accounts[cr_row];
  if (dr->ledger != cr->ledger) return QP_CREATE_TRANSFER_ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER;
  if (e->ledger != dr->ledger)
    return QP_CREATE_TRANSFER_TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS;
  uint32_t r = imported_order_checks(l, e, dr, cr, ts);
  if (r != QP_CREATE_TRANSFER_OK) return r;
  if (dr->flags & QP_ACCOUNT_CLOSED) return QP_CREATE_TRANSFER_DEBIT_ACCOUNT_ALREADY_CLOSED;
  if (cr->flags & QP_ACCOUNT_CLOSED) return QP_CREATE_TRANSFER_CREDIT_ACCOUNT_ALREADY_CLOSED;

  qp_u128 amount = e->amount;
  if (e->flags & QP_TRANSFER_BALANCING_DEBIT)
    amount = min_u128(amount, room(dr->credits_posted, dr->debits_pending, dr->debits_posted));
  if (e->flags & QP_TRANSFER_BALANCING_CREDIT)
    amount = min_u128(amount, room(cr->debits_posted, cr->credits_pending, cr->credits_posted));
  bool pending = e->flags & QP_TRANSFER_PENDING;
  qp_u128 dr_pending = dr->debits_pending, dr_posted = dr->debits_posted;
  qp_u128 cr_pending = cr->credits_pending, cr_posted = cr->credits_posted;
  if (pending) {
    if (qp_u128_add_overflow(dr_pending, amount, &dr_pending))
      return QP_CREATE_TRANSFER_OVERFLOWS_DEBITS_PENDING;
    if (qp_u128_add_overflow(cr_pending, amount, &cr_pending))
      return QP_CREATE_TRANSFER_OVERFLOWS_CREDITS_PENDING;
  } else {
    if (qp_u128_add_overflow(dr_posted, amount, &dr_posted))
      return QP_CREATE_TRANSFER_OVERFLOWS_DEBITS_POSTED;
    if (qp_u128_add_overflow(cr_posted, amount, &cr_posted))
      return QP_CREATE_TRANSFER_OVERFLOWS_CREDITS_POSTED;
  }
  qp_u128 dr_total, cr_total;
  if (qp_u128_add_overflow(dr_pending, dr_posted, &dr_total))
    return QP_CREATE_TRANSFER_OVERFLOWS_DEBITS;
  if (qp_u128_add_overflow(cr_pending, cr_posted, &cr_total))
    return QP_CREATE_TRANSFER_OVERFLOWS_CREDITS;
  uint64_t expires_at_ns = 0;
  if (pending && e->timeout != 0) {
    uint64_t timeout_ns;
    if (__builtin_mul_overflow((uint64_t)e->timeout, NS_PER_S, &timeout_ns) ||
        __builtin_add_overflow(ts, timeout_ns, &expires_at_ns))
      return QP_CREATE_TRANSFER_OVERFLOWS_TIMEOUT;
  }
  if ((dr->flags & QP_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) && dr_total > dr->credits_posted)
    return QP_CREATE_TRANSFER_EXCEEDS_CREDITS;
  if ((cr->flags & QP_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS) && cr_total > cr->debits_posted)
    return QP_CREATE_TRANSFER_EXCEEDS_DEBITS;

  qp_transfer_t t = *e;
  t.amount = amount;
  t.timestamp = ts;
  save_balances(l, dr_row);
  save_balances(l, cr_row);
  const qp_u128 dr_new[4] = {dr_pending, dr_posted, dr->credits_pending, dr->credits_posted};
  const qp_u128 cr_new[4] = {cr->debits_pending, cr->debits_posted, cr_pending, cr_posted};
  qp__totals_set_balances(l, dr, dr_new);
  qp__totals_set_balances(l, cr, cr_new);
  if (e->flags & QP_TRANSFER_CLOSING_DEBIT) dr->flags |= QP_ACCOUNT_CLOSED;
  if (e->flags & QP_TRANSFER_CLOSING_CREDIT) cr->flags |= QP_ACCOUNT_CLOSED;
  insert_transfer(l, &t, pending ? QP_PENDING_PENDING : QP_PENDING_NONE, expires_at_ns);
  record_history(l, dr_row, t.id, ts);
  record_history(l, cr_row, t.id, ts);
  return QP_CREATE_TRANSFER_OK;
}

/* Checks a post/void against the pending transfer it names. */
static uint32_t check_against_pending(const qp_transfer_t *e, const qp_transfer_t *p,
                                      qp_pending_state_t state, uint64_t ts) {
  if (!(p->flags & QP_TRANSFER_PENDING)) return QP_CREATE_TRANSFER_PENDING_TRANSFER_NOT_PENDING;
  if (e->debit_account_id != 0 && e->debit_account_id != p->debit_account_id)
    return QP_CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID;
  if (e->credit_account_id != 0 && e->credit_account_id != p->credit_account_id)
    return QP_CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID;
  if (e->ledger != 0 && e->ledger != p->ledger)
    return QP_CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_LEDGER;
  if (e->code != 0 && e->code != p->code)
    return QP_CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_CODE;
  if (e->flags & QP_TRANSFER_POST_PENDING_TRANSFER) {
    if (e->amount > p->amount) return QP_CREATE_TRANSFER_EXCEEDS_PENDING_TRANSFER_AMOUNT;
  } else if (e->amount != 0 && e->amount != p->amount) {
    return QP_CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT;
  }
  switch (state) {
  case QP_PENDING_PENDING:
    /* Due but not yet swept: it can no longer be posted or voided. */
    if (p->timeout != 0 && p->timestamp + (uint64_t)p->timeout * NS_PER_S <= ts)
      return QP_CREATE_TRANSFER_PENDING_TRANSFER_EXPIRED;
    return QP_CREATE_TRANSFER_OK;
  case QP_PENDING_POSTED: return QP_CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_POSTED;
  case QP_PENDING_VOIDED: return QP_CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_VOIDED;
  case QP_PENDING_EXPIRED: return QP_CREATE_TRANSFER_PENDING_TRANSFER_EXPIRED;
  case QP_PENDING_NONE: break;
  }
  QP_UNREACHABLE();
}

/* Voiding (or the expiry of) a closing transfer re-opens what it closed.
 * Nothing else can clear `closed` meanwhile: a closed account takes no new
 * closing transfer and the pending one is resolved only once. */
static void reopen_accounts(const qp_transfer_t *p, qp_account_t *dr, qp_account_t *cr) {
  if (p->flags & QP_TRANSFER_CLOSING_DEBIT) {
    QP_ASSERT(dr->flags & QP_ACCOUNT_CLOSED);
    dr->flags = (uint16_t)(dr->flags & ~QP_ACCOUNT_CLOSED);
  }
  if (p->flags & QP_TRANSFER_CLOSING_CREDIT) {
    QP_ASSERT(cr->flags & QP_ACCOUNT_CLOSED);
    cr->flags = (uint16_t)(cr->flags & ~QP_ACCOUNT_CLOSED);
  }
}

static void set_pending_state(qp_ledger_t *l, uint32_t prow, qp_pending_state_t state) {
  record_undo(l, QP__UNDO_TRANSFER_STATE, prow, l->transfer_states[prow]);
  l->transfer_states[prow] = (uint8_t)state;
  track_pending(l, prow);
}

static uint32_t post_or_void(qp_ledger_t *l, const qp_transfer_t *e, uint64_t ts) {
  qp_transfer_t cold;
  qp_pending_state_t state;
  uint32_t prow;
  const qp_transfer_t *p = find_transfer(l, e->pending_id, &cold, &state, &prow);
  if (p == NULL) return QP_CREATE_TRANSFER_PENDING_TRANSFER_NOT_FOUND;
  uint32_t r = check_against_pending(e, p, state, ts);
  if (r != QP_CREATE_TRANSFER_OK) return r;
  QP_ASSERT(prow != QP__TABLE_EMPTY); /* only a pending transfer passes, and those stay */
  bool post = e->flags & QP_TRANSFER_POST_PENDING_TRANSFER;
  qp_u128 amount = post ? (e->amount == 0 ? p->amount : e->amount) : p->amount;
  uint32_t dr_row = qp__table_get(&l->account_index, p->debit_account_id);
  uint32_t cr_row = qp__table_get(&l->account_index, p->credit_account_id);
  QP_ASSERT(dr_row != QP__TABLE_EMPTY && cr_row != QP__TABLE_EMPTY);
  qp_account_t *dr = &l->accounts[dr_row], *cr = &l->accounts[cr_row];
  QP_ASSERT(dr->debits_pending >= p->amount && cr->credits_pending >= p->amount);
  r = imported_order_checks(l, e, dr, cr, ts);
  if (r != QP_CREATE_TRANSFER_OK) return r;
  /* The only movement a closed account allows is a void (TigerBeetle): a
   * closing transfer itself can be voided, never posted. */
  if (post && (dr->flags & QP_ACCOUNT_CLOSED))
    return QP_CREATE_TRANSFER_DEBIT_ACCOUNT_ALREADY_CLOSED;
  if (post && (cr->flags & QP_ACCOUNT_CLOSED))
    return QP_CREATE_TRANSFER_CREDIT_ACCOUNT_ALREADY_CLOSED;
  qp_u128 dr_posted = dr->debits_posted, cr_posted = cr->credits_posted;
  if (post) {
    if (qp_u128_add_overflow(dr_posted, amount, &dr_posted))
      return QP_CREATE_TRANSFER_OVERFLOWS_DEBITS_POSTED;
    if (qp_u128_add_overflow(cr_posted, amount, &cr_posted))
      return QP_CREATE_TRANSFER_OVERFLOWS_CREDITS_POSTED;
  }
  qp_transfer_t t = *e;
  t.debit_account_id = p->debit_account_id;
  t.credit_account_id = p->credit_account_id;
  t.ledger = p->ledger;
  t.code = p->code;
  t.amount = amount;
  t.timestamp = ts;
  save_balances(l, dr_row);
  save_balances(l, cr_row);
  const qp_u128 dr_new[4] = {dr->debits_pending - p->amount, dr_posted, dr->credits_pending,
                             dr->credits_posted};
  const qp_u128 cr_new[4] = {cr->debits_pending, cr->debits_posted,
                             cr->credits_pending - p->amount, cr_posted};
  qp__totals_set_balances(l, dr, dr_new);
  qp__totals_set_balances(l, cr, cr_new);
  if (!post) reopen_accounts(p, dr, cr);
  set_pending_state(l, prow, post ? QP_PENDING_POSTED : QP_PENDING_VOIDED);
  insert_transfer(l, &t, QP_PENDING_NONE, 0);
  record_history(l, dr_row, t.id, ts);
  record_history(l, cr_row, t.id, ts);
  return QP_CREATE_TRANSFER_OK;
}

static uint32_t create_transfer(qp_ledger_t *l, const qp_transfer_t *e, uint64_t ts) {
  uint32_t r = transfer_static_checks(e);
  if (r != QP_CREATE_TRANSFER_OK) return r;
  qp_transfer_t cold;
  qp_pending_state_t state;
  uint32_t row;
  const qp_transfer_t *t = find_transfer(l, e->id, &cold, &state, &row);
  if (t != NULL) return transfer_exists(l, e, t);
  if (e->flags & (QP_TRANSFER_POST_PENDING_TRANSFER | QP_TRANSFER_VOID_PENDING_TRANSFER))
    return post_or_void(l, e, ts);
  return create_plain_transfer(l, e, ts);
}

/* --------------------------------------------------------------- expiry */

/* Voids pending transfers whose timeout is at or before `now`, each at its
 * own timestamp taken from *ts.  Bounded per batch; the rest wait. */
static uint32_t sweep_expired(qp_ledger_t *l, uint64_t now, uint64_t *ts) {
  uint32_t expired = 0;
  while (l->expiries_count > 0 && l->expiries[0].expires_at_ns <= now &&
         expired < QP_EXPIRIES_PER_BATCH_MAX) {
    qp__expiry_t top = l->expiries[0];
    heap_pop(l);
    uint32_t row = qp__table_get(&l->transfer_index, top.transfer_id);
    if (row == QP__TABLE_EMPTY || l->transfer_states[row] != QP_PENDING_PENDING) continue;
    const qp_transfer_t *p = &l->transfers[row];
    if (p->timestamp + (uint64_t)p->timeout * NS_PER_S != top.expires_at_ns) continue;
    uint32_t dr_row = qp__table_get(&l->account_index, p->debit_account_id);
    uint32_t cr_row = qp__table_get(&l->account_index, p->credit_account_id);
    QP_ASSERT(dr_row != QP__TABLE_EMPTY && cr_row != QP__TABLE_EMPTY);
    touch(l, dr_row);
    touch(l, cr_row);
    QP_ASSERT(l->accounts[dr_row].debits_pending >= p->amount);
    QP_ASSERT(l->accounts[cr_row].credits_pending >= p->amount);
    qp_account_t *dr = &l->accounts[dr_row], *cr = &l->accounts[cr_row];
    const qp_u128 dr_new[4] = {dr->debits_pending - p->amount, dr->debits_posted,
                               dr->credits_pending, dr->credits_posted};
    const qp_u128 cr_new[4] = {cr->debits_pending, cr->debits_posted,
                               cr->credits_pending - p->amount, cr->credits_posted};
    qp__totals_set_balances(l, dr, dr_new);
    qp__totals_set_balances(l, cr, cr_new);
    reopen_accounts(p, dr, cr);
    l->transfer_states[row] = QP_PENDING_EXPIRED;
    track_pending(l, row);
    uint64_t at = (*ts)++;
    record_history(l, dr_row, p->id, at);
    record_history(l, cr_row, p->id, at);
    expired++;
  }
  return expired;
}

/* ----------------------------------------------------------- batch loop */

typedef uint32_t (*apply_fn)(qp_ledger_t *l, const void *event, uint64_t ts);
typedef bool (*linked_fn)(const void *event);

static bool account_linked(const void *event) {
  return ((const qp_account_t *)event)->flags & QP_ACCOUNT_LINKED;
}
static bool transfer_linked(const void *event) {
  return ((const qp_transfer_t *)event)->flags & QP_TRANSFER_LINKED;
}

/* The rules of imported events that need nothing but the event and the
 * batch (TigerBeetle's, in its precedence): the first event decides whether
 * the whole batch imports; an imported timestamp lies in [1, 2^63) and
 * before the time the batch would otherwise start at; any other event's
 * timestamp is 0.  Returns 0 or an index into `codes`: expected,
 * not_expected, timestamp_must_be_zero, out_of_range, must_not_advance. */
static uint32_t imported_static_checks(const qp_ledger_t *l, bool imported, uint64_t ts) {
  if (l->batch_imported && !imported) return 1;
  if (!l->batch_imported && imported) return 2;
  if (!imported) return ts != 0 ? 3 : 0;
  if (ts == 0 || ts >= (UINT64_C(1) << 63)) return 4;
  if (ts >= l->batch_begin) return 5;
  return 0;
}

static uint32_t apply_account(qp_ledger_t *l, const void *event, uint64_t ts) {
  static const uint32_t codes[6] = {
      QP_CREATE_ACCOUNT_OK,
      QP_CREATE_ACCOUNT_IMPORTED_EVENT_EXPECTED,
      QP_CREATE_ACCOUNT_IMPORTED_EVENT_NOT_EXPECTED,
      QP_CREATE_ACCOUNT_TIMESTAMP_MUST_BE_ZERO,
      QP_CREATE_ACCOUNT_IMPORTED_EVENT_TIMESTAMP_OUT_OF_RANGE,
      QP_CREATE_ACCOUNT_IMPORTED_EVENT_TIMESTAMP_MUST_NOT_ADVANCE};
  const qp_account_t *e = event;
  uint32_t c = imported_static_checks(l, e->flags & QP_ACCOUNT_IMPORTED, e->timestamp);
  if (c != 0) return codes[c];
  uint64_t at = l->batch_imported ? e->timestamp : ts;
  uint32_t r = create_account(l, e, at);
  if (r == QP_CREATE_ACCOUNT_OK && l->batch_imported) l->batch_clock = at;
  return r;
}

static uint32_t apply_transfer(qp_ledger_t *l, const void *event, uint64_t ts) {
  static const uint32_t codes[6] = {
      QP_CREATE_TRANSFER_OK,
      QP_CREATE_TRANSFER_IMPORTED_EVENT_EXPECTED,
      QP_CREATE_TRANSFER_IMPORTED_EVENT_NOT_EXPECTED,
      QP_CREATE_TRANSFER_TIMESTAMP_MUST_BE_ZERO,
      QP_CREATE_TRANSFER_IMPORTED_EVENT_TIMESTAMP_OUT_OF_RANGE,
      QP_CREATE_TRANSFER_IMPORTED_EVENT_TIMESTAMP_MUST_NOT_ADVANCE};
  const qp_transfer_t *e = event;
  uint32_t c = imported_static_checks(l, e->flags & QP_TRANSFER_IMPORTED, e->timestamp);
  if (c != 0) return codes[c];
  uint64_t at = l->batch_imported ? e->timestamp : ts;
  uint32_t r = create_transfer(l, e, at);
  if (r == QP_CREATE_TRANSFER_OK && l->batch_imported) l->batch_clock = at;
  return r;
}

/* Starts a batch: the clock advanced.  Expiries are not swept here but by
 * qp_ledger_expire(), which the durable layer runs as its own journaled
 * batch whenever a timeout is due, so that one batch's changes stay bounded
 * by its own events. */
static uint64_t begin_batch(qp_ledger_t *l, uint64_t now_ns, bool imported) {
  QP_ASSERT(l->undo_count == 0 && !l->in_chain);
  l->batch_begin = now_ns > l->last_timestamp ? now_ns : l->last_timestamp + 1;
  l->batch_imported = imported;
  l->batch_clock = l->last_timestamp;
  return l->batch_begin;
}

/* Ends a batch: the clock moves to its last event (for an imported batch,
 * to the last event it created: the timestamps it skipped stay free). */
static void end_batch(qp_ledger_t *l, uint64_t next_ts) {
  QP_ASSERT(l->undo_count == 0 && !l->in_chain);
  if (l->batch_imported) {
    QP_ASSERT(l->batch_clock >= l->last_timestamp);
    l->last_timestamp = l->batch_clock;
    l->batch_imported = false;
    return;
  }
  if (next_ts - 1 > l->last_timestamp) l->last_timestamp = next_ts - 1;
}

static void apply_batch(qp_ledger_t *l, const uint8_t *events, size_t event_size, uint32_t count,
                        uint64_t ts, uint32_t *results, apply_fn apply, linked_fn is_linked,
                        uint32_t failed_code,
                        uint32_t open_code, uint32_t ok_code) {
  uint32_t chain_start = 0;
  bool chain_broken = false;
  changes_mark_t mark = changes_mark(l);
  for (uint32_t i = 0; i < count; i++, ts++) {
    const void *e = events + (size_t)i * event_size;
    bool linked = is_linked(e);
    if (!l->in_chain && linked) {
      l->in_chain = true;
      chain_start = i;
      chain_broken = false;
      mark = changes_mark(l);
    }
    uint32_t r;
    if (chain_broken) r = failed_code;
    else if (linked && i == count - 1) r = open_code;
    else r = apply(l, e, ts);
    if (r != ok_code && l->in_chain && !chain_broken) {
      chain_broken = true;
      rollback(l, mark);
      for (uint32_t j = chain_start; j < i; j++) results[j] = failed_code;
    }
    results[i] = r;
    if (l->in_chain && !linked) { /* this event closed the chain */
      l->in_chain = false;
      l->undo_count = 0;
      chain_broken = false; /* the events after the chain are independent of it */
    }
  }
  if (l->in_chain) { /* the last event was linked: already rolled back */
    l->in_chain = false;
    l->undo_count = 0;
  }
}

int qp_ledger_create_accounts(qp_ledger_t *l, uint64_t now_ns, const qp_account_t *events,
                              uint32_t count, uint32_t *results) {
  if (count == 0 || count > QP_BATCH_EVENTS_MAX || events == NULL || results == NULL)
    return QP_EINVAL;
  int rc = reserve_accounts(l, count);
  if (rc == 0) rc = reserve_undo(l, count);
  if (rc == 0) rc = qp__totals_reserve(l, count); /* each event may open a ledger */
  if (rc != 0) return rc;
  uint64_t ts = begin_batch(l, now_ns, events[0].flags & QP_ACCOUNT_IMPORTED);
  apply_batch(l, (const uint8_t *)events, sizeof *events, count, ts, results, apply_account,
              account_linked, QP_CREATE_ACCOUNT_LINKED_EVENT_FAILED,
              QP_CREATE_ACCOUNT_LINKED_EVENT_CHAIN_OPEN, QP_CREATE_ACCOUNT_OK);
  end_batch(l, ts + count);
  return 0;
}

int qp_ledger_create_transfers(qp_ledger_t *l, uint64_t now_ns, const qp_transfer_t *events,
                               uint32_t count, uint32_t *results) {
  if (count == 0 || count > QP_BATCH_EVENTS_MAX || events == NULL || results == NULL)
    return QP_EINVAL;
  int rc = reserve_transfers(l, count);
  if (rc == 0) rc = reserve_undo(l, count);
  if (rc != 0) return rc;
  uint64_t ts = begin_batch(l, now_ns, events[0].flags & QP_TRANSFER_IMPORTED);
  apply_batch(l, (const uint8_t *)events, sizeof *events, count, ts, results, apply_transfer,
              transfer_linked, QP_CREATE_TRANSFER_LINKED_EVENT_FAILED,
              QP_CREATE_TRANSFER_LINKED_EVENT_CHAIN_OPEN, QP_CREATE_TRANSFER_OK);
  end_batch(l, ts + count);
  return 0;
}

int qp_ledger_expire(qp_ledger_t *l, uint64_t now_ns, uint32_t *expired_out) {
  int rc = reserve_tracking(l, QP_EXPIRIES_PER_BATCH_MAX, 2 * QP_EXPIRIES_PER_BATCH_MAX);
  if (rc != 0) return rc;
  uint64_t ts = begin_batch(l, now_ns, false);
  uint32_t expired = sweep_expired(l, ts, &ts);
  /* A sweep that voided nothing applied no event, so it leaves the clock
   * alone: the durable layer does not journal an empty sweep, and replay
   * must assign the same timestamps as the live run. */
  end_batch(l, expired > 0 ? ts : l->last_timestamp + 1);
  if (expired_out) *expired_out = expired;
  return 0;
}

/* -------------------------------------------------------------- lookups */

int qp_ledger_lookup_account(const qp_ledger_t *l, qp_u128 id, qp_account_t *out) {
  uint32_t row = qp__table_get(&l->account_index, id);
  if (row == QP__TABLE_EMPTY) return QP_ENOTFOUND;
  *out = l->accounts[row];
  return 0;
}

/* The first row stamped at or after ts (accounts_count if none). */
static uint64_t account_row_from(const qp_ledger_t *l, uint64_t ts) {
  uint64_t lo = 0, hi = l->accounts_count;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (l->accounts[mid].timestamp < ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

int qp_ledger_account_at(const qp_ledger_t *l, uint64_t ts, qp_account_t *out) {
  uint64_t row = account_row_from(l, ts);
  if (row == l->accounts_count || l->accounts[row].timestamp != ts) return QP_ENOTFOUND;
  *out = l->accounts[row];
  return 0;
}

uint32_t qp_ledger_accounts_between(const qp_ledger_t *l, uint64_t ts_min, uint64_t ts_max,
                                    bool newest_first, qp_account_t *out, uint32_t limit) {
  uint64_t first = account_row_from(l, ts_min);
  uint64_t end = ts_max == 0 || ts_max == UINT64_MAX ? l->accounts_count
                                                     : account_row_from(l, ts_max + 1);
  uint32_t n = 0;
  for (uint64_t k = 0; first + k < end && n < limit; k++)
    out[n++] = l->accounts[newest_first ? end - 1 - k : first + k];
  return n;
}

int qp_ledger_lookup_transfer(const qp_ledger_t *l, qp_u128 id, qp_transfer_t *out,
                              qp_pending_state_t *state) {
  uint32_t row = qp__table_get(&l->transfer_index, id);
  if (row == QP__TABLE_EMPTY) return QP_ENOTFOUND;
  *out = l->transfers[row];
  if (state) *state = (qp_pending_state_t)l->transfer_states[row];
  return 0;
}

uint64_t qp_ledger_account_count(const qp_ledger_t *l) { return l->accounts_count; }
uint64_t qp_ledger_transfer_count(const qp_ledger_t *l) {
  return l->transfers_cold + l->transfers_count;
}
uint64_t qp_ledger_transfers_in_memory(const qp_ledger_t *l) { return l->transfers_count; }
uint64_t qp_ledger_taken_rows(const qp_ledger_t *l) { return l->taken_transfer_rows; }

int qp_ledger_cold_error(qp_ledger_t *l) {
  int rc = l->cold_error;
  l->cold_error = 0;
  return rc;
}
uint64_t qp_ledger_last_timestamp(const qp_ledger_t *l) { return l->last_timestamp; }

int qp_ledger_each_account(const qp_ledger_t *l, int (*fn)(void *, const qp_account_t *),
                           void *ctx) {
  for (uint64_t i = 0; i < l->accounts_count; i++) {
    int rc = fn(ctx, &l->accounts[i]);
    if (rc != 0) return rc;
  }
  return 0;
}

int qp_ledger_each_transfer(const qp_ledger_t *l,
                            int (*fn)(void *, const qp_transfer_t *, qp_pending_state_t),
                            void *ctx) {
  for (uint64_t i = 0; i < l->transfers_count; i++) {
    int rc = fn(ctx, &l->transfers[i], (qp_pending_state_t)l->transfer_states[i]);
    if (rc != 0) return rc;
  }
  return 0;
}

/* ------------------------------------------------------------- restore */

int qp_ledger_reserve_accounts(qp_ledger_t *l, uint64_t count) {
  return reserve_accounts(l, count);
}

void qp_ledger_restore_cold(qp_ledger_t *l, uint64_t transfers) { l->transfers_cold += transfers; }

/* Makes sure every ledger of a[0..n) has a running-totals row, so that
 * counting the accounts in afterwards cannot fail.  (A failure leaves rows
 * without accounts, which the totals ignore.) */
static int totals_make_rows(qp_ledger_t *l, const qp_account_t *a, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    if (i > 0 && a[i].ledger == a[i - 1].ledger) continue;
    int rc = qp__totals_reserve(l, 1);
    if (rc != 0) return rc;
    qp__totals_row(l, a[i].ledger, true);
  }
  return 0;
}

static void totals_count_accounts(qp_ledger_t *l, const qp_account_t *a, uint32_t n) {
  qp_ledger_totals_t *t = NULL;
  for (uint32_t i = 0; i < n; i++) {
    if (t == NULL || t->ledger != a[i].ledger) t = qp__totals_row(l, a[i].ledger, false);
    qp__totals_add_account(t, &a[i]);
  }
}

int qp_ledger_restore_accounts(qp_ledger_t *l, const qp_account_t *a, uint32_t n) {
  int rc = reserve_accounts(l, n);
  if (rc == 0) rc = totals_make_rows(l, a, n);
  if (rc != 0) return rc;
  uint64_t base = l->accounts_count;
  /* The records go in place first: the index confirms ids against them. */
  memcpy(&l->accounts[base], a, (size_t)n * sizeof *a);
  /* Each insert lands on a random slot of a large table: fetch the slots a
   * few inserts ahead so the misses overlap (about 3x faster at 10M). */
  enum { AHEAD = 16 };
  for (uint32_t i = 0; i < n && i < AHEAD; i++) qp__table_prefetch(&l->account_index, a[i].id);
  uint64_t last = l->last_timestamp;
  for (uint32_t i = 0; i < n; i++) {
    if (i + AHEAD < n) qp__table_prefetch(&l->account_index, a[i + AHEAD].id);
    if (qp__table_get(&l->account_index, a[i].id) != QP__TABLE_EMPTY) {
      while (i-- > 0) qp__table_remove(&l->account_index, a[i].id);
      return QP_EEXISTS;
    }
    qp__table_put(&l->account_index, a[i].id, (uint32_t)(base + i));
    if (a[i].timestamp > last) last = a[i].timestamp;
  }
  l->accounts_count += n;
  l->last_timestamp = last;
  totals_count_accounts(l, a, n);
  return 0;
}

int qp_ledger_restore_account(qp_ledger_t *l, const qp_account_t *a) {
  if (qp__table_get(&l->account_index, a->id) != QP__TABLE_EMPTY) return QP_EEXISTS;
  int rc = reserve_accounts(l, 1);
  if (rc == 0) rc = totals_make_rows(l, a, 1);
  if (rc != 0) return rc;
  uint32_t row = (uint32_t)l->accounts_count++;
  l->accounts[row] = *a;
  totals_count_accounts(l, a, 1);
  qp__table_put(&l->account_index, a->id, row);
  if (a->timestamp > l->last_timestamp) l->last_timestamp = a->timestamp;
  return 0;
}

int qp_ledger_restore_transfer(qp_ledger_t *l, const qp_transfer_t *t, qp_pending_state_t state) {
  if (qp__table_get(&l->transfer_index, t->id) != QP__TABLE_EMPTY) return QP_EEXISTS;
  int rc = reserve_transfers(l, 1);
  if (rc != 0) return rc;
  uint64_t expires_at_ns = 0;
  if (state == QP_PENDING_PENDING && t->timeout != 0)
    expires_at_ns = t->timestamp + (uint64_t)t->timeout * NS_PER_S;
  bool in_chain = l->in_chain;
  l->in_chain = false;
  insert_transfer(l, t, state, expires_at_ns);
  l->in_chain = in_chain;
  l->taken_transfer_rows = l->transfers_count; /* already in the index */
  if (t->timestamp > l->last_timestamp) l->last_timestamp = t->timestamp;
  return 0;
}

void qp_ledger_restore_clock(qp_ledger_t *l, uint64_t last_timestamp) {
  if (last_timestamp > l->last_timestamp) l->last_timestamp = last_timestamp;
}

/* ------------------------------------------------------------- eviction */

/* A transfer row may leave memory once the cold store holds it as it is
 * now: it was among the stored rows, it is not pending (pending transfers
 * change when posted, voided or expired), and its state did not change
 * after the take that stored it (those rows are in dirty_pending). */
enum { KEEP_MARK = 0x80 }; /* set in transfer_states during an eviction */

static bool evictable(const qp_ledger_t *l, uint64_t row, uint64_t stored_rows) {
  uint8_t st = l->transfer_states[row];
  return row < stored_rows && !(st & KEEP_MARK) && st != QP_PENDING_PENDING;
}

uint64_t qp_ledger_evict(qp_ledger_t *l, uint64_t stored_rows) {
  QP_ASSERT(l->config.cold.lookup != NULL && l->undo_count == 0 && !l->in_chain);
  if (stored_rows > l->taken_transfer_rows) stored_rows = l->taken_transfer_rows;
  for (uint64_t i = 0; i < l->dirty_pending_count; i++) {
    uint32_t row = qp__table_get(&l->transfer_index, l->dirty_pending[i]);
    if (row != QP__TABLE_EMPTY) l->transfer_states[row] |= KEEP_MARK;
  }
  uint64_t keep = 0;
  for (uint64_t r = 0; r < l->transfers_count; r++) keep += !evictable(l, r, stored_rows);
  uint64_t dropped = l->transfers_count - keep;
  /* The new index is built before anything moves, so running out of memory
   * leaves the state exactly as it was. */
  qp__table_t index;
  bool ok = dropped > 0 && qp__table_init(&index, 1024, (const void *const *)&l->transfers,
                                          sizeof *l->transfers) == 0;
  /* Sized for as many rows as before, not just those kept: the next rounds
   * refill it, and growing it again would rehash every row each time. */
  if (ok && qp__table_reserve(&index, l->transfers_count) != 0) {
    qp__table_deinit(&index);
    ok = false;
  }
  if (!ok) {
    for (uint64_t r = 0; r < l->transfers_count; r++) l->transfer_states[r] &= (uint8_t)~KEEP_MARK;
    return 0;
  }
  uint64_t w = 0, taken = 0;
  for (uint64_t r = 0; r < l->transfers_count; r++) {
    if (evictable(l, r, stored_rows)) continue;
    if (r < l->taken_transfer_rows) taken++;
    l->transfers[w] = l->transfers[r];
    l->transfer_states[w] = (uint8_t)(l->transfer_states[r] & ~KEEP_MARK);
    qp__table_put(&index, l->transfers[w].id, (uint32_t)w);
    w++;
  }
  QP_ASSERT(w == keep);
  qp__table_deinit(&l->transfer_index);
  l->transfer_index = index;
  l->transfers_count = keep;
  l->taken_transfer_rows = taken;
  l->transfers_cold += dropped;
  /* Give the memory back: the array only needs to hold what stayed and the
   * next rounds' worth of new rows (it grows again by doubling). */
  uint64_t cap = 1024;
  while (cap < 2 * keep) cap <<= 1;
  if (2 * cap < l->transfers_capacity) { /* only when most of it is idle */
    /* Both arrays hold at least `cap` rows after either outcome. */
    qp_transfer_t *t = qp_realloc(l->transfers, cap * sizeof *t);
    if (t != NULL) {
      l->transfers = t;
      l->transfers_capacity = cap;
      uint8_t *s = qp_realloc(l->transfer_states, cap);
      if (s != NULL) l->transfer_states = s;
    }
  }
  return dropped;
}
