/*
 * test_property.c - a seeded property test: the ledger state machine against
 * a reference model of the contract (DESIGN.md section 4, ledger.h).
 *
 * A generator makes random batches over a few hundred accounts on three
 * ledgers: plain, pending, balancing and limit-breaking transfers, posts
 * (full and partial) and voids of earlier pendings, linked chains, events
 * re-sent with or without a changed field, unknown accounts, malformed
 * events, amounts near 2^128, a clock that mostly advances and sometimes
 * goes back, and expiry sweeps.  Each batch goes both to a qp_ledger_t and
 * to the model below, and after every batch the test asserts that every
 * result code, every account, every transfer the batch named, the clock,
 * the history rows and the change records agree, that qp_ledger_check()
 * holds, and that in every ledger the sums of debits and credits (posted
 * and pending) are equal.
 *
 * The model is written for clarity, not speed: arrays indexed by id, linear
 * scans, and a linked chain undone by restoring a copy of every account
 * taken when the chain began.  It follows the contract's rules in the
 * contract's words and shares no code with src/ledger.
 *
 * Environment: SEED (default 1) and EVENTS (default 100000).  A failure
 * prints the command that replays it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "base/err.h"
#include "base/rng.h"
#include "base/u128.h"
#include "ledger/ledger.h"

#define NS_PER_S 1000000000ull
#define MAX QP_U128_MAX

#define LEDGERS 3u             /* ledgers the generator creates accounts in */
#define WHALES_PER_LEDGER 2u   /* accounts that move amounts near 2^128 */
#define ACCOUNT_IDS_MAX 320u   /* account ids are 1..ACCOUNT_IDS_MAX-1 */
#define BATCH_EVENTS_MAX 100u  /* events in one generated transfer batch */
#define RECENT_MAX 512u        /* recent events kept for re-sending */
#define LEDGER_SUMS_MAX 16u    /* distinct ledger numbers the sums can hold */
#define FULL_COMPARE_EVERY 64u /* batches between whole-state comparisons */
#define EVENTS_DEFAULT 100000u
#define SEED_DEFAULT 1u

_Static_assert(QP_CREATE_ACCOUNT_OK == 0 && QP_CREATE_TRANSFER_OK == 0, "ok is 0 for both kinds");

/* ================================================================ model */

typedef struct model_transfer {
  qp_transfer_t t;          /* as stored: final amount, resolved fields, timestamp */
  qp_pending_state_t state; /* QP_PENDING_NONE unless created with `pending` */
} model_transfer_t;

typedef struct model {
  qp_account_t accounts[ACCOUNT_IDS_MAX]; /* in creation order */
  uint32_t accounts_count;                /* rows used */
  int32_t account_row[ACCOUNT_IDS_MAX];   /* id -> row, or -1 */
  model_transfer_t *transfers;            /* in creation order */
  uint64_t transfers_count;               /* rows used */
  int64_t *transfer_row;                  /* id -> row, or -1 */
  uint64_t transfer_ids_max;              /* every id the generator makes is below */
  uint64_t last_timestamp;                /* timestamp of the last event */
  bool imported;                          /* the current batch imports (its first event) */
  uint64_t begin;                         /* the current batch's first ledger timestamp */
  uint64_t clock;                         /* the last imported timestamp created */
  /* What the current batch did, to compare with the taken changes. */
  qp_account_balance_t *history; /* balances after each change, `history` accounts */
  uint32_t history_count;
  qp_pending_update_t *updates; /* pending transfers posted/voided/expired */
  uint32_t updates_count;
  bool expiry_order_ambiguous; /* two expiries due at the same ns */
} model_t;

/* What a linked chain must be able to undo.  Accounts, transfers, history
 * and updates only grow during a batch, so counts undo them; balances are
 * restored from a full copy; a pending's state is put back by undoing the
 * post or void that changed it. */
typedef struct model_mark {
  qp_account_t accounts[ACCOUNT_IDS_MAX];
  uint32_t accounts_count;
  uint64_t transfers_count;
  uint32_t history_count;
  uint32_t updates_count;
  uint64_t clock;
} model_mark_t;

static model_mark_t chain_mark;

static int32_t model_account_row(const model_t *m, qp_u128 id) {
  if (id == 0 || id >= ACCOUNT_IDS_MAX) return -1;
  return m->account_row[(uint32_t)id];
}

static int64_t model_transfer_row(const model_t *m, qp_u128 id) {
  if (id == 0 || id >= m->transfer_ids_max) return -1;
  return m->transfer_row[(uint64_t)id];
}

static void model_init(model_t *m, uint64_t events) {
  memset(m, 0, sizeof *m);
  for (uint32_t i = 0; i < ACCOUNT_IDS_MAX; i++) m->account_row[i] = -1;
  m->transfer_ids_max = events + 2048;
  m->transfers = calloc(events + 16, sizeof *m->transfers);
  m->transfer_row = malloc(m->transfer_ids_max * sizeof *m->transfer_row);
  m->history = calloc(2 * QP_EXPIRIES_PER_BATCH_MAX, sizeof *m->history);
  m->updates = calloc(QP_EXPIRIES_PER_BATCH_MAX, sizeof *m->updates);
  assert_non_null(m->transfers);
  assert_non_null(m->transfer_row);
  assert_non_null(m->history);
  assert_non_null(m->updates);
  for (uint64_t i = 0; i < m->transfer_ids_max; i++) m->transfer_row[i] = -1;
}

static void model_deinit(model_t *m) {
  free(m->transfers);
  free(m->transfer_row);
  free(m->history);
  free(m->updates);
}

static void model_mark(const model_t *m, model_mark_t *mark) {
  memcpy(mark->accounts, m->accounts, m->accounts_count * sizeof m->accounts[0]);
  mark->accounts_count = m->accounts_count;
  mark->transfers_count = m->transfers_count;
  mark->history_count = m->history_count;
  mark->updates_count = m->updates_count;
  mark->clock = m->clock;
}

static bool is_post_or_void(uint16_t flags) {
  return (flags & (QP_TRANSFER_POST_PENDING_TRANSFER | QP_TRANSFER_VOID_PENDING_TRANSFER)) != 0;
}

static void model_rollback(model_t *m, const model_mark_t *mark) {
  while (m->transfers_count > mark->transfers_count) {
    const qp_transfer_t *t = &m->transfers[--m->transfers_count].t;
    if (is_post_or_void(t->flags))
      m->transfers[model_transfer_row(m, t->pending_id)].state = QP_PENDING_PENDING;
    m->transfer_row[(uint64_t)t->id] = -1;
  }
  while (m->accounts_count > mark->accounts_count)
    m->account_row[(uint32_t)m->accounts[--m->accounts_count].id] = -1;
  memcpy(m->accounts, mark->accounts, mark->accounts_count * sizeof m->accounts[0]);
  m->history_count = mark->history_count;
  m->updates_count = mark->updates_count;
  m->clock = mark->clock;
}

/* A history row for the account, if it has the `history` flag. */
static void model_history(model_t *m, const qp_account_t *a, qp_u128 transfer_id, uint64_t ts) {
  if (!(a->flags & QP_ACCOUNT_HISTORY)) return;
  assert_true(m->history_count < 2 * QP_EXPIRIES_PER_BATCH_MAX);
  qp_account_balance_t *b = &m->history[m->history_count++];
  memset(b, 0, sizeof *b);
  b->account_id = a->id;
  b->transfer_id = transfer_id;
  b->debits_pending = a->debits_pending;
  b->debits_posted = a->debits_posted;
  b->credits_pending = a->credits_pending;
  b->credits_posted = a->credits_posted;
  b->timestamp = ts;
}

static void model_update(model_t *m, qp_u128 transfer_id, qp_pending_state_t state) {
  assert_true(m->updates_count < QP_EXPIRIES_PER_BATCH_MAX);
  m->updates[m->updates_count].transfer_id = transfer_id;
  m->updates[m->updates_count].state = (uint8_t)state;
  m->updates_count++;
}

/* ------------------------------------------------------- model: accounts */

/* Imported events (TigerBeetle's rules): which of the batch-level results
 * applies, as an index: 1 expected, 2 not expected, 3 timestamp must be
 * zero, 4 out of range, 5 must not advance; 0 none. */
static uint32_t model_import_rule(const model_t *m, bool imported, uint64_t ts) {
  if (m->imported != imported) return m->imported ? 1 : 2;
  if (!imported) return ts == 0 ? 0 : 3;
  if (ts == 0 || ts > INT64_MAX) return 4;
  return ts >= m->begin ? 5 : 0;
}

static uint32_t model_create_account(model_t *m, const void *event, uint64_t ts) {
  const qp_account_t *e = event;
  static const uint32_t import_codes[6] = {
      0, QP_CREATE_ACCOUNT_IMPORTED_EVENT_EXPECTED, QP_CREATE_ACCOUNT_IMPORTED_EVENT_NOT_EXPECTED,
      QP_CREATE_ACCOUNT_TIMESTAMP_MUST_BE_ZERO,
      QP_CREATE_ACCOUNT_IMPORTED_EVENT_TIMESTAMP_OUT_OF_RANGE,
      QP_CREATE_ACCOUNT_IMPORTED_EVENT_TIMESTAMP_MUST_NOT_ADVANCE};
  uint32_t rule = model_import_rule(m, e->flags & QP_ACCOUNT_IMPORTED, e->timestamp);
  if (rule != 0) return import_codes[rule];
  if (e->flags & ~QP_ACCOUNT_FLAGS_ALL) return QP_CREATE_ACCOUNT_RESERVED_FLAG;
  if (e->reserved != 0) return QP_CREATE_ACCOUNT_RESERVED_FIELD;
  if (e->id == 0) return QP_CREATE_ACCOUNT_ID_MUST_NOT_BE_ZERO;
  if (e->id == MAX) return QP_CREATE_ACCOUNT_ID_MUST_NOT_BE_INT_MAX;
  bool debit_limit = e->flags & QP_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS;
  bool credit_limit = e->flags & QP_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
  if (debit_limit && credit_limit) return QP_CREATE_ACCOUNT_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
  if (e->debits_pending != 0) return QP_CREATE_ACCOUNT_DEBITS_PENDING_MUST_BE_ZERO;
  if (e->debits_posted != 0) return QP_CREATE_ACCOUNT_DEBITS_POSTED_MUST_BE_ZERO;
  if (e->credits_pending != 0) return QP_CREATE_ACCOUNT_CREDITS_PENDING_MUST_BE_ZERO;
  if (e->credits_posted != 0) return QP_CREATE_ACCOUNT_CREDITS_POSTED_MUST_BE_ZERO;
  if (e->ledger == 0) return QP_CREATE_ACCOUNT_LEDGER_MUST_NOT_BE_ZERO;
  if (e->code == 0) return QP_CREATE_ACCOUNT_CODE_MUST_NOT_BE_ZERO;

  int32_t row = model_account_row(m, e->id);
  if (row >= 0) {
    const qp_account_t *a = &m->accounts[row];
    if ((e->flags | QP_ACCOUNT_LINKED) != (a->flags | QP_ACCOUNT_LINKED))
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
  if (m->imported && ts <= m->clock)
    return QP_CREATE_ACCOUNT_IMPORTED_EVENT_TIMESTAMP_MUST_NOT_REGRESS;
  if (m->imported) m->clock = ts;
  assert_true(e->id < ACCOUNT_IDS_MAX); /* the generator keeps to its id space */
  qp_account_t *a = &m->accounts[m->accounts_count];
  *a = *e;
  a->timestamp = ts;
  m->account_row[(uint32_t)e->id] = (int32_t)m->accounts_count++;
  return QP_CREATE_ACCOUNT_OK;
}

/* ------------------------------------------------------ model: transfers */

static uint32_t transfer_static_checks(const qp_transfer_t *e) {
  uint16_t f = e->flags;
  if (f & ~QP_TRANSFER_FLAGS_ALL) return QP_CREATE_TRANSFER_RESERVED_FLAG;
  if (e->id == 0) return QP_CREATE_TRANSFER_ID_MUST_NOT_BE_ZERO;
  if (e->id == MAX) return QP_CREATE_TRANSFER_ID_MUST_NOT_BE_INT_MAX;
  bool pending = f & QP_TRANSFER_PENDING;
  bool post = f & QP_TRANSFER_POST_PENDING_TRANSFER;
  bool void_ = f & QP_TRANSFER_VOID_PENDING_TRANSFER;
  bool balancing = f & (QP_TRANSFER_BALANCING_DEBIT | QP_TRANSFER_BALANCING_CREDIT);
  bool closing = f & (QP_TRANSFER_CLOSING_DEBIT | QP_TRANSFER_CLOSING_CREDIT);
  if ((int)pending + (int)post + (int)void_ > 1)
    return QP_CREATE_TRANSFER_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
  if ((balancing || closing) && (post || void_))
    return QP_CREATE_TRANSFER_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
  if (post || void_) {
    if (e->pending_id == 0) return QP_CREATE_TRANSFER_PENDING_ID_MUST_NOT_BE_ZERO;
    if (e->pending_id == MAX) return QP_CREATE_TRANSFER_PENDING_ID_MUST_NOT_BE_INT_MAX;
    if (e->pending_id == e->id) return QP_CREATE_TRANSFER_PENDING_ID_MUST_BE_DIFFERENT;
    if (e->timeout != 0) return QP_CREATE_TRANSFER_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER;
    return QP_CREATE_TRANSFER_OK;
  }
  if (e->pending_id != 0) return QP_CREATE_TRANSFER_PENDING_ID_MUST_BE_ZERO;
  if (e->timeout != 0 && !pending) return QP_CREATE_TRANSFER_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER;
  if (e->debit_account_id == 0) return QP_CREATE_TRANSFER_DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO;
  if (e->debit_account_id == MAX) return QP_CREATE_TRANSFER_DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX;
  if (e->credit_account_id == 0) return QP_CREATE_TRANSFER_CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO;
  if (e->credit_account_id == MAX) return QP_CREATE_TRANSFER_CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX;
  if (e->debit_account_id == e->credit_account_id)
    return QP_CREATE_TRANSFER_ACCOUNTS_MUST_BE_DIFFERENT;
  /* A closing transfer must be pending, and is the one kind allowed amount 0. */
  if (closing && !pending) return QP_CREATE_TRANSFER_CLOSING_TRANSFER_MUST_BE_PENDING;
  if (e->amount == 0 && !closing) return QP_CREATE_TRANSFER_AMOUNT_MUST_NOT_BE_ZERO;
  if (e->ledger == 0) return QP_CREATE_TRANSFER_LEDGER_MUST_NOT_BE_ZERO;
  if (e->code == 0) return QP_CREATE_TRANSFER_CODE_MUST_NOT_BE_ZERO;
  return QP_CREATE_TRANSFER_OK;
}

/* A re-sent id: `exists`, or the first field that differs.  For a post or
 * void, zero accounts/ledger/code mean "as the pending transfer", and amount
 * 0 means the full pending amount (for a post) or the pending amount (for a
 * void).  A balancing transfer's stored amount may have been clamped, so
 * only a smaller amount than stored counts as different. */
static uint32_t model_transfer_exists(const model_t *m, const qp_transfer_t *e,
                                      const qp_transfer_t *t) {
  bool pv = is_post_or_void(e->flags);
  if ((e->flags | QP_TRANSFER_LINKED) != (t->flags | QP_TRANSFER_LINKED))
    return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_FLAGS;
  if (!(pv && e->debit_account_id == 0) && e->debit_account_id != t->debit_account_id)
    return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID;
  if (!(pv && e->credit_account_id == 0) && e->credit_account_id != t->credit_account_id)
    return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID;
  bool same_amount;
  if (e->flags & (QP_TRANSFER_BALANCING_DEBIT | QP_TRANSFER_BALANCING_CREDIT)) {
    same_amount = e->amount >= t->amount;
  } else if (pv && e->amount == 0) {
    if (e->flags & QP_TRANSFER_POST_PENDING_TRANSFER) {
      /* "The full amount": the stored post must have posted all of it. */
      const qp_transfer_t *p = &m->transfers[model_transfer_row(m, t->pending_id)].t;
      same_amount = t->amount == p->amount;
    } else {
      same_amount = true; /* a void always releases the whole pending amount */
    }
  } else {
    same_amount = e->amount == t->amount;
  }
  if (!same_amount) return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_AMOUNT;
  if (e->pending_id != t->pending_id) return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_PENDING_ID;
  if (e->user_data_128 != t->user_data_128)
    return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_USER_DATA_128;
  if (e->user_data_64 != t->user_data_64)
    return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_USER_DATA_64;
  if (e->user_data_32 != t->user_data_32)
    return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_USER_DATA_32;
  if (e->timeout != t->timeout) return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_TIMEOUT;
  if (!(pv && e->ledger == 0) && e->ledger != t->ledger)
    return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_LEDGER;
  if (!(pv && e->code == 0) && e->code != t->code)
    return QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_CODE;
  return QP_CREATE_TRANSFER_EXISTS;
}

static void model_store_transfer(model_t *m, const qp_transfer_t *t, qp_pending_state_t state) {
  assert_true(t->id < m->transfer_ids_max);
  m->transfers[m->transfers_count].t = *t;
  m->transfers[m->transfers_count].state = state;
  m->transfer_row[(uint64_t)t->id] = (int64_t)m->transfers_count++;
}

/* How much may still be added to `used` before it passes `limit`; 0 when
 * it already has (or when `used` itself does not fit in 128 bits). */
static qp_u128 room_under(qp_u128 limit, qp_u128 used_a, qp_u128 used_b) {
  qp_u128 used;
  if (qp_u128_add_overflow(used_a, used_b, &used)) return 0;
  return used < limit ? limit - used : 0;
}

/* An imported transfer after its accounts and pending transfer checked out. */
static uint32_t model_import_order(const model_t *m, const qp_transfer_t *e, uint64_t ts) {
  if (!m->imported) return 0;
  if (ts <= m->clock) return QP_CREATE_TRANSFER_IMPORTED_EVENT_TIMESTAMP_MUST_NOT_REGRESS;
  if (e->timeout != 0) return QP_CREATE_TRANSFER_IMPORTED_EVENT_TIMEOUT_MUST_BE_ZERO;
  return 0;
}

static uint32_t model_plain_transfer(model_t *m, const qp_transfer_t *e, uint64_t ts) {
  int32_t dr_row = model_account_row(m, e->debit_account_id);
  if (dr_row < 0) return QP_CREATE_TRANSFER_DEBIT_ACCOUNT_NOT_FOUND;
  int32_t cr_row = model_account_row(m, e->credit_account_id);
  if (cr_row < 0) return QP_CREATE_TRANSFER_CREDIT_ACCOUNT_NOT_FOUND;
  qp_account_t *dr = &m->accounts[dr_row], *cr = &m->accounts[cr_row];
  if (dr->ledger != cr->ledger) return QP_CREATE_TRANSFER_ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER;
  if (e->ledger != dr->ledger)
    return QP_CREATE_TRANSFER_TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS;
  uint32_t order = model_import_order(m, e, ts);
  if (order != 0) return order;
  if (dr->flags & QP_ACCOUNT_CLOSED) return QP_CREATE_TRANSFER_DEBIT_ACCOUNT_ALREADY_CLOSED;
  if (cr->flags & QP_ACCOUNT_CLOSED) return QP_CREATE_TRANSFER_CREDIT_ACCOUNT_ALREADY_CLOSED;

  qp_u128 amount = e->amount;
  if (e->flags & QP_TRANSFER_BALANCING_DEBIT) {
    qp_u128 room = room_under(dr->credits_posted, dr->debits_pending, dr->debits_posted);
    if (amount > room) amount = room;
  }
  if (e->flags & QP_TRANSFER_BALANCING_CREDIT) {
    qp_u128 room = room_under(cr->debits_posted, cr->credits_pending, cr->credits_posted);
    if (amount > room) amount = room;
  }
  /* The balances after the transfer, every addition checked. */
  qp_account_t dr_after = *dr, cr_after = *cr;
  if (e->flags & QP_TRANSFER_PENDING) {
    if (qp_u128_add_overflow(dr->debits_pending, amount, &dr_after.debits_pending))
      return QP_CREATE_TRANSFER_OVERFLOWS_DEBITS_PENDING;
    if (qp_u128_add_overflow(cr->credits_pending, amount, &cr_after.credits_pending))
      return QP_CREATE_TRANSFER_OVERFLOWS_CREDITS_PENDING;
  } else {
    if (qp_u128_add_overflow(dr->debits_posted, amount, &dr_after.debits_posted))
      return QP_CREATE_TRANSFER_OVERFLOWS_DEBITS_POSTED;
    if (qp_u128_add_overflow(cr->credits_posted, amount, &cr_after.credits_posted))
      return QP_CREATE_TRANSFER_OVERFLOWS_CREDITS_POSTED;
  }
  qp_u128 dr_debits, cr_credits;
  if (qp_u128_add_overflow(dr_after.debits_pending, dr_after.debits_posted, &dr_debits))
    return QP_CREATE_TRANSFER_OVERFLOWS_DEBITS;
  if (qp_u128_add_overflow(cr_after.credits_pending, cr_after.credits_posted, &cr_credits))
    return QP_CREATE_TRANSFER_OVERFLOWS_CREDITS;
  if ((e->flags & QP_TRANSFER_PENDING) && e->timeout != 0) {
    unsigned __int128 expires_at = (unsigned __int128)ts + (unsigned __int128)e->timeout * NS_PER_S;
    if (expires_at > UINT64_MAX) return QP_CREATE_TRANSFER_OVERFLOWS_TIMEOUT;
  }
  if ((dr->flags & QP_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) && dr_debits > dr->credits_posted)
    return QP_CREATE_TRANSFER_EXCEEDS_CREDITS;
  if ((cr->flags & QP_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS) && cr_credits > cr->debits_posted)
    return QP_CREATE_TRANSFER_EXCEEDS_DEBITS;

  if (e->flags & QP_TRANSFER_CLOSING_DEBIT) dr_after.flags |= QP_ACCOUNT_CLOSED;
  if (e->flags & QP_TRANSFER_CLOSING_CREDIT) cr_after.flags |= QP_ACCOUNT_CLOSED;
  *dr = dr_after;
  *cr = cr_after;
  qp_transfer_t t = *e;
  t.amount = amount;
  t.timestamp = ts;
  model_store_transfer(m, &t,
                       (e->flags & QP_TRANSFER_PENDING) ? QP_PENDING_PENDING : QP_PENDING_NONE);
  model_history(m, dr, t.id, ts);
  model_history(m, cr, t.id, ts);
  return QP_CREATE_TRANSFER_OK;
}

static uint64_t expires_at_ns(const qp_transfer_t *p) {
  return p->timestamp + (uint64_t)p->timeout * NS_PER_S;
}

/* Voiding or expiring a closing transfer re-opens the account(s) it closed. */
static void model_reopen(const qp_transfer_t *p, qp_account_t *dr, qp_account_t *cr) {
  if (p->flags & QP_TRANSFER_CLOSING_DEBIT) {
    assert_true(dr->flags & QP_ACCOUNT_CLOSED);
    dr->flags = (uint16_t)(dr->flags & ~QP_ACCOUNT_CLOSED);
  }
  if (p->flags & QP_TRANSFER_CLOSING_CREDIT) {
    assert_true(cr->flags & QP_ACCOUNT_CLOSED);
    cr->flags = (uint16_t)(cr->flags & ~QP_ACCOUNT_CLOSED);
  }
}

static uint32_t model_post_or_void(model_t *m, const qp_transfer_t *e, uint64_t ts) {
  int64_t prow = model_transfer_row(m, e->pending_id);
  if (prow < 0) return QP_CREATE_TRANSFER_PENDING_TRANSFER_NOT_FOUND;
  model_transfer_t *pending = &m->transfers[prow];
  const qp_transfer_t *p = &pending->t;
  if (!(p->flags & QP_TRANSFER_PENDING)) return QP_CREATE_TRANSFER_PENDING_TRANSFER_NOT_PENDING;
  if (e->debit_account_id != 0 && e->debit_account_id != p->debit_account_id)
    return QP_CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID;
  if (e->credit_account_id != 0 && e->credit_account_id != p->credit_account_id)
    return QP_CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID;
  if (e->ledger != 0 && e->ledger != p->ledger)
    return QP_CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_LEDGER;
  if (e->code != 0 && e->code != p->code)
    return QP_CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_CODE;
  bool post = e->flags & QP_TRANSFER_POST_PENDING_TRANSFER;
  if (post && e->amount > p->amount) return QP_CREATE_TRANSFER_EXCEEDS_PENDING_TRANSFER_AMOUNT;
  if (!post && e->amount != 0 && e->amount != p->amount)
    return QP_CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT;
  if (pending->state == QP_PENDING_POSTED)
    return QP_CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_POSTED;
  if (pending->state == QP_PENDING_VOIDED)
    return QP_CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_VOIDED;
  if (pending->state == QP_PENDING_EXPIRED) return QP_CREATE_TRANSFER_PENDING_TRANSFER_EXPIRED;
  assert_int_equal(pending->state, QP_PENDING_PENDING);
  if (p->timeout != 0 && expires_at_ns(p) <= ts) return QP_CREATE_TRANSFER_PENDING_TRANSFER_EXPIRED;

  qp_u128 amount = post && e->amount != 0 ? e->amount : p->amount;
  qp_account_t *dr = &m->accounts[model_account_row(m, p->debit_account_id)];
  qp_account_t *cr = &m->accounts[model_account_row(m, p->credit_account_id)];
  uint32_t order = model_import_order(m, e, ts);
  if (order != 0) return order;
  /* A closed account allows voids only: even its closing transfer cannot be posted. */
  if (post && (dr->flags & QP_ACCOUNT_CLOSED))
    return QP_CREATE_TRANSFER_DEBIT_ACCOUNT_ALREADY_CLOSED;
  if (post && (cr->flags & QP_ACCOUNT_CLOSED))
    return QP_CREATE_TRANSFER_CREDIT_ACCOUNT_ALREADY_CLOSED;
  qp_account_t dr_after = *dr, cr_after = *cr;
  dr_after.debits_pending -= p->amount;
  cr_after.credits_pending -= p->amount;
  if (!post) model_reopen(p, &dr_after, &cr_after);
  if (post) {
    if (qp_u128_add_overflow(dr->debits_posted, amount, &dr_after.debits_posted))
      return QP_CREATE_TRANSFER_OVERFLOWS_DEBITS_POSTED;
    if (qp_u128_add_overflow(cr->credits_posted, amount, &cr_after.credits_posted))
      return QP_CREATE_TRANSFER_OVERFLOWS_CREDITS_POSTED;
  }
  *dr = dr_after;
  *cr = cr_after;
  pending->state = post ? QP_PENDING_POSTED : QP_PENDING_VOIDED;
  model_update(m, p->id, pending->state);
  qp_transfer_t t = *e;
  t.debit_account_id = p->debit_account_id;
  t.credit_account_id = p->credit_account_id;
  t.ledger = p->ledger;
  t.code = p->code;
  t.amount = amount;
  t.timestamp = ts;
  model_store_transfer(m, &t, QP_PENDING_NONE);
  model_history(m, dr, t.id, ts);
  model_history(m, cr, t.id, ts);
  return QP_CREATE_TRANSFER_OK;
}

static uint32_t model_create_transfer(model_t *m, const void *event, uint64_t ts) {
  const qp_transfer_t *e = event;
  static const uint32_t import_codes[6] = {
      0, QP_CREATE_TRANSFER_IMPORTED_EVENT_EXPECTED,
      QP_CREATE_TRANSFER_IMPORTED_EVENT_NOT_EXPECTED, QP_CREATE_TRANSFER_TIMESTAMP_MUST_BE_ZERO,
      QP_CREATE_TRANSFER_IMPORTED_EVENT_TIMESTAMP_OUT_OF_RANGE,
      QP_CREATE_TRANSFER_IMPORTED_EVENT_TIMESTAMP_MUST_NOT_ADVANCE};
  uint32_t rule = model_import_rule(m, e->flags & QP_TRANSFER_IMPORTED, e->timestamp);
  if (rule != 0) return import_codes[rule];
  uint32_t r = transfer_static_checks(e);
  if (r != QP_CREATE_TRANSFER_OK) return r;
  int64_t row = model_transfer_row(m, e->id);
  if (row >= 0) return model_transfer_exists(m, e, &m->transfers[row].t);
  r = is_post_or_void(e->flags) ? model_post_or_void(m, e, ts) : model_plain_transfer(m, e, ts);
  if (r == QP_CREATE_TRANSFER_OK && m->imported) m->clock = ts;
  return r;
}

/* ---------------------------------------------------------- model: batch */

typedef uint32_t (*model_apply_fn)(model_t *m, const void *event, uint64_t ts);

static bool account_is_linked(const void *e) {
  return ((const qp_account_t *)e)->flags & QP_ACCOUNT_LINKED;
}
static bool transfer_is_linked(const void *e) {
  return ((const qp_transfer_t *)e)->flags & QP_TRANSFER_LINKED;
}

_Static_assert(offsetof(qp_account_t, timestamp) + 8 == sizeof(qp_account_t) &&
                   offsetof(qp_transfer_t, timestamp) + 8 == sizeof(qp_transfer_t),
               "both records end with their timestamp");

static bool account_is_imported(const void *e) {
  return ((const qp_account_t *)e)->flags & QP_ACCOUNT_IMPORTED;
}
static bool transfer_is_imported(const void *e) {
  return ((const qp_transfer_t *)e)->flags & QP_TRANSFER_IMPORTED;
}

/* Applies a batch the way the contract reads: cut it into groups (a linked
 * chain and the event that closes it, or a lone event), apply each group's
 * events until one fails, and if a chain failed undo it all; its failing
 * event keeps its own code and the others get linked_event_failed.  A chain
 * still open at the last event fails with linked_event_chain_open there.
 * Every event consumes one timestamp, failed or not - unless the first
 * event is imported: then each event brings its own, and the clock ends at
 * the last one created. */
static void model_batch(model_t *m, uint64_t now_ns, const void *events, size_t event_size,
                        uint32_t count, uint32_t *results, model_apply_fn apply,
                        bool (*is_linked)(const void *), bool (*is_imported)(const void *),
                        uint32_t failed_code, uint32_t open_code) {
  const uint8_t *base = events;
  uint64_t first_ts = now_ns > m->last_timestamp ? now_ns : m->last_timestamp + 1;
  m->imported = is_imported(events);
  m->begin = first_ts;
  m->clock = m->last_timestamp;
  m->history_count = 0;
  m->updates_count = 0;
  uint32_t start = 0;
  while (start < count) {
    uint32_t end = start;
    while (end < count - 1 && is_linked(base + end * event_size)) end++;
    bool open = is_linked(base + end * event_size);
    bool chain = end > start || open;
    if (chain) model_mark(m, &chain_mark);
    uint32_t failed = UINT32_MAX;
    for (uint32_t i = start; i <= end && failed == UINT32_MAX; i++) {
      const uint8_t *e = base + i * event_size;
      uint64_t ts = first_ts + i;
      if (m->imported) memcpy(&ts, e + event_size - sizeof ts, sizeof ts); /* its timestamp */
      results[i] = open && i == end ? open_code : apply(m, e, ts);
      if (results[i] != 0) failed = i;
    }
    if (chain && failed != UINT32_MAX) {
      model_rollback(m, &chain_mark);
      for (uint32_t i = start; i <= end; i++)
        if (i != failed) results[i] = failed_code;
    }
    start = end + 1;
  }
  m->last_timestamp = m->imported ? m->clock : first_ts + count - 1;
  m->imported = false;
}

/* ---------------------------------------------------------- model: expiry */

static const model_t *sort_model; /* for qsort's comparator */

static int by_expiry(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  uint64_t ea = expires_at_ns(&sort_model->transfers[a].t);
  uint64_t eb = expires_at_ns(&sort_model->transfers[b].t);
  if (ea != eb) return ea < eb ? -1 : 1;
  return a < b ? -1 : a > b; /* ties: creation order (the ledger may pick either) */
}

/* Voids every pending transfer whose timeout has passed at the ledger's
 * time (the clock never goes back), earliest first, each at a timestamp of
 * its own.  A sweep that voids nothing applies no event and leaves the
 * clock alone. */
static uint32_t model_expire(model_t *m, uint64_t now_ns, uint64_t *scratch) {
  uint64_t clock = now_ns > m->last_timestamp ? now_ns : m->last_timestamp + 1;
  m->history_count = 0;
  m->updates_count = 0;
  m->expiry_order_ambiguous = false;
  uint64_t due = 0;
  for (uint64_t row = 0; row < m->transfers_count; row++) {
    const model_transfer_t *x = &m->transfers[row];
    if (x->state == QP_PENDING_PENDING && x->t.timeout != 0 && expires_at_ns(&x->t) <= clock)
      scratch[due++] = row;
  }
  sort_model = m;
  qsort(scratch, due, sizeof scratch[0], by_expiry);
  if (due > QP_EXPIRIES_PER_BATCH_MAX) due = QP_EXPIRIES_PER_BATCH_MAX;
  for (uint64_t i = 0; i < due; i++) {
    model_transfer_t *x = &m->transfers[scratch[i]];
    if (i > 0 && expires_at_ns(&x->t) == expires_at_ns(&m->transfers[scratch[i - 1]].t))
      m->expiry_order_ambiguous = true;
    qp_account_t *dr = &m->accounts[model_account_row(m, x->t.debit_account_id)];
    qp_account_t *cr = &m->accounts[model_account_row(m, x->t.credit_account_id)];
    dr->debits_pending -= x->t.amount;
    cr->credits_pending -= x->t.amount;
    model_reopen(&x->t, dr, cr);
    x->state = QP_PENDING_EXPIRED;
    model_update(m, x->t.id, QP_PENDING_EXPIRED);
    model_history(m, dr, x->t.id, clock + i);
    model_history(m, cr, x->t.id, clock + i);
  }
  if (due > 0) m->last_timestamp = clock + due - 1;
  return (uint32_t)due;
}

/* The earliest expiry of a transfer still pending, or 0. */
static uint64_t model_next_expiry(const model_t *m) {
  uint64_t next = 0;
  for (uint64_t row = 0; row < m->transfers_count; row++) {
    const model_transfer_t *x = &m->transfers[row];
    if (x->state != QP_PENDING_PENDING || x->t.timeout == 0) continue;
    uint64_t at = expires_at_ns(&x->t);
    if (next == 0 || at < next) next = at;
  }
  return next;
}

/* ============================================================ generator */

typedef struct gen {
  uint64_t rng; /* SplitMix64 state: SEED=N replays a reported run on this stream */
  uint64_t now_ns;                  /* time input of the next batch */
  uint32_t next_account_id;         /* fresh account ids */
  uint64_t next_transfer_id;        /* fresh transfer ids */
  qp_transfer_t recent[RECENT_MAX]; /* transfer events sent, for re-sending */
  uint32_t recent_count;
  qp_account_t recent_accounts[RECENT_MAX]; /* account events sent */
  uint32_t recent_accounts_count;
  qp_u128 pendings[RECENT_MAX]; /* ids sent with the `pending` flag */
  uint32_t pendings_count;
  uint32_t whales[LEDGERS * WHALES_PER_LEDGER]; /* ids of the whale accounts */
  qp_u128 boundary_pending; /* the clock is at its expiry: post or void it first */
} gen_t;

static uint64_t below(gen_t *g, uint64_t bound) { return qp_splitmix64_below(&g->rng, bound); }
static bool chance(gen_t *g, uint64_t percent) { return below(g, 100) < percent; }

/* Keeps a sample of recent events: the first RECENT_MAX, then each new one
 * replaces a random slot. */
static void remember(void *ring, uint32_t *count, size_t size, const void *item, gen_t *g) {
  uint32_t slot = *count < RECENT_MAX ? (*count)++ : (uint32_t)below(g, RECENT_MAX);
  memcpy((uint8_t *)ring + slot * size, item, size);
}

static qp_u128 random_u128(gen_t *g) {
  return ((qp_u128)qp_splitmix64(&g->rng) << 64) | qp_splitmix64(&g->rng);
}

/* ----------------------------------------------------- generator: accounts */

static qp_account_t gen_fresh_account(gen_t *g, uint32_t id) {
  qp_account_t a;
  memset(&a, 0, sizeof a);
  a.id = id;
  a.ledger = 1 + (uint32_t)below(g, LEDGERS);
  a.code = (uint16_t)(1 + below(g, 3));
  uint64_t limit = below(g, 100);
  if (limit < 20)
    a.flags |= QP_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS;
  else if (limit < 35)
    a.flags |= QP_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
  if (chance(g, 30)) a.flags |= QP_ACCOUNT_HISTORY;
  a.user_data_128 = below(g, 4);
  a.user_data_64 = below(g, 4);
  a.user_data_32 = (uint32_t)below(g, 4);
  return a;
}

/* Breaks one static rule of an otherwise valid account. */
static void gen_break_account(gen_t *g, qp_account_t *a) {
  switch (below(g, 12)) {
  case 0: a->timestamp = 1 + below(g, 1000); break;
  case 1: a->reserved = 1; break;
  case 2: a->flags |= (uint16_t)(1u << (4 + below(g, 12))); break;
  case 3: a->id = 0; break;
  case 4: a->id = MAX; break;
  case 5:
    a->flags |=
        QP_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS | QP_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
    break;
  case 6: a->debits_pending = 1; break;
  case 7: a->debits_posted = MAX; break;
  case 8: a->credits_pending = 7; break;
  case 9: a->credits_posted = 1; break;
  case 10: a->ledger = 0; break;
  default: a->code = 0; break;
  }
}

/* Changes one field of an account event that was sent before. */
static void gen_mutate_account(gen_t *g, qp_account_t *a) {
  switch (below(g, 7)) {
  case 0: a->flags ^= QP_ACCOUNT_HISTORY; break;
  case 1: a->flags ^= QP_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS; break;
  case 2: a->user_data_128 += 1; break;
  case 3: a->user_data_64 += 1; break;
  case 4: a->user_data_32 += 1; break;
  case 5: a->ledger = 1 + a->ledger % LEDGERS; break;
  default: a->code = (uint16_t)(1 + a->code % 3); break;
  }
}

static qp_account_t gen_account_event(gen_t *g) {
  qp_account_t a;
  uint64_t kind = below(g, 100);
  bool can_resend = g->recent_accounts_count > 0;
  if ((kind < 12 || g->next_account_id >= ACCOUNT_IDS_MAX) && can_resend) {
    a = g->recent_accounts[below(g, g->recent_accounts_count)];
    a.flags &= (uint16_t)~QP_ACCOUNT_LINKED;
    if (chance(g, 50)) gen_mutate_account(g, &a);
  } else if (kind < 30 || g->next_account_id >= ACCOUNT_IDS_MAX) {
    a = gen_fresh_account(g, 1 + (uint32_t)below(g, ACCOUNT_IDS_MAX - 1));
    gen_break_account(g, &a);
  } else {
    a = gen_fresh_account(g, g->next_account_id++);
  }
  if (chance(g, 15)) a.flags |= QP_ACCOUNT_LINKED;
  remember(g->recent_accounts, &g->recent_accounts_count, sizeof a, &a, g);
  return a;
}

/* ---------------------------------------------------- generator: transfers */

/* A random existing account; NULL before any exists (the first batch makes some). */
static const qp_account_t *gen_pick_account(gen_t *g, const model_t *m) {
  if (m->accounts_count == 0) return NULL;
  return &m->accounts[below(g, m->accounts_count)];
}

/* Another account, on the same ledger as `a` nine times out of ten. */
static const qp_account_t *gen_pick_partner(gen_t *g, const model_t *m, const qp_account_t *a) {
  bool same_ledger = chance(g, 90);
  for (int tries = 0; tries < 16; tries++) {
    const qp_account_t *b = gen_pick_account(g, m);
    if (b->id != a->id && (!same_ledger || b->ledger == a->ledger)) return b;
  }
  return gen_pick_account(g, m);
}

static qp_u128 gen_amount(gen_t *g, const qp_account_t *dr, const qp_account_t *cr) {
  uint64_t kind = below(g, 100);
  if (kind < 70) return 1 + below(g, 1000);
  if (kind < 80) return 1 + below(g, 1000000);
  /* Right at a limit: the room left, give or take one. */
  qp_u128 room = kind < 90 ? room_under(dr->credits_posted, dr->debits_pending, dr->debits_posted)
                           : room_under(cr->debits_posted, cr->credits_pending, cr->credits_posted);
  qp_u128 amount = room + below(g, 3);
  amount = amount > 0 ? amount - 1 : 0;
  return amount > 0 ? amount : 1 + below(g, 10);
}

static qp_transfer_t gen_plain(gen_t *g, const model_t *m, uint16_t flags) {
  qp_transfer_t t;
  memset(&t, 0, sizeof t);
  t.id = g->next_transfer_id++;
  const qp_account_t *dr = gen_pick_account(g, m);
  const qp_account_t *cr = gen_pick_partner(g, m, dr);
  t.debit_account_id = dr->id;
  t.credit_account_id = cr->id;
  t.amount = gen_amount(g, dr, cr);
  t.ledger = chance(g, 3) ? 1 + (uint32_t)below(g, LEDGERS) : dr->ledger;
  t.code = (uint16_t)(1 + below(g, 3));
  t.flags = flags;
  if ((flags & QP_TRANSFER_PENDING) && chance(g, 50)) t.timeout = 1 + (uint32_t)below(g, 4);
  t.user_data_128 = below(g, 3);
  t.user_data_64 = below(g, 3);
  t.user_data_32 = (uint32_t)below(g, 3);
  return t;
}

/* A transfer with a whale: between the two whales of a ledger with an
 * amount near 2^128, or between a whale and an ordinary account of its
 * ledger with an ordinary amount, which overflows the whale's side. */
static qp_transfer_t gen_whale(gen_t *g, const model_t *m) {
  uint32_t ledger = (uint32_t)below(g, LEDGERS);
  qp_transfer_t t = gen_plain(g, m, chance(g, 40) ? QP_TRANSFER_PENDING : 0);
  uint32_t first = (uint32_t)below(g, WHALES_PER_LEDGER);
  qp_u128 whale = g->whales[ledger * WHALES_PER_LEDGER + first];
  qp_u128 other = g->whales[ledger * WHALES_PER_LEDGER + (first + 1) % WHALES_PER_LEDGER];
  t.ledger = ledger + 1;
  t.amount = chance(g, 50) ? MAX - below(g, 1000) : (qp_u128)1 << (64 + below(g, 64));
  if (chance(g, 40)) {
    const qp_account_t *a = gen_pick_account(g, m);
    if (a->ledger == t.ledger && a->id != whale) other = a->id;
    t.amount = 1 + below(g, 1000000);
  }
  bool whale_debited = chance(g, 50);
  t.debit_account_id = whale_debited ? whale : other;
  t.credit_account_id = whale_debited ? other : whale;
  return t;
}

/* A post or void of a transfer sent earlier with the `pending` flag. */
static qp_transfer_t gen_post_or_void(gen_t *g, const model_t *m, bool post) {
  qp_transfer_t t;
  memset(&t, 0, sizeof t);
  t.id = g->next_transfer_id++;
  t.flags = post ? QP_TRANSFER_POST_PENDING_TRANSFER : QP_TRANSFER_VOID_PENDING_TRANSFER;
  if (g->pendings_count == 0 || chance(g, 3)) {
    t.pending_id = g->next_transfer_id + 1 + below(g, 512); /* not (yet) created */
    return t;
  }
  t.pending_id = g->pendings[below(g, g->pendings_count)];
  int64_t row = model_transfer_row(m, t.pending_id);
  const qp_transfer_t *p = row >= 0 ? &m->transfers[row].t : NULL;
  qp_u128 full = p ? p->amount : 10;
  uint64_t kind = below(g, 100);
  if (kind < 45)
    t.amount = 0;
  else if (kind < 70 && post)
    t.amount = full > 1 ? 1 + (qp_u128)below(g, (uint64_t)(full > 1000 ? 1000 : full)) : 1;
  else if (kind < 85)
    t.amount = full;
  else if (kind < 92)
    t.amount = full + 1;
  else
    t.amount = 1 + below(g, 1000);
  if (p != NULL && chance(g, 15)) { /* name the pending's fields explicitly */
    t.debit_account_id = p->debit_account_id;
    t.credit_account_id = p->credit_account_id;
    t.ledger = p->ledger;
    t.code = p->code;
    switch (below(g, 8)) { /* and sometimes get one wrong */
    case 0: t.debit_account_id = p->credit_account_id; break;
    case 1: t.credit_account_id = p->debit_account_id; break;
    case 2: t.ledger = p->ledger + 1; break;
    case 3: t.code = (uint16_t)(p->code + 1); break;
    default: break;
    }
  }
  t.user_data_64 = below(g, 3);
  return t;
}

/* Breaks one static rule of a transfer. */
static void gen_break_transfer(gen_t *g, qp_transfer_t *t) {
  switch (below(g, 21)) {
  case 0: t->timestamp = 1; break;
  case 1: t->flags |= (uint16_t)(1u << (8 + below(g, 8))); break;
  case 2: t->id = 0; break;
  case 3: t->id = MAX; break;
  case 4: t->flags |= QP_TRANSFER_PENDING | QP_TRANSFER_POST_PENDING_TRANSFER; break;
  case 5: t->flags |= QP_TRANSFER_POST_PENDING_TRANSFER | QP_TRANSFER_VOID_PENDING_TRANSFER; break;
  case 6: t->flags |= QP_TRANSFER_BALANCING_CREDIT | QP_TRANSFER_VOID_PENDING_TRANSFER; break;
  case 7: t->pending_id = 1 + below(g, 100); break;
  case 8: t->timeout = 1; break;
  case 9: t->credit_account_id = t->debit_account_id; break;
  case 10: t->amount = 0; break;
  case 11: t->ledger = 0; break;
  case 12: t->code = 0; break;
  case 13: t->debit_account_id = 0; break;
  case 14: t->debit_account_id = MAX; break;
  case 15: t->credit_account_id = 0; break;
  case 16: t->credit_account_id = MAX; break;
  case 17:
    t->flags = QP_TRANSFER_POST_PENDING_TRANSFER;
    t->pending_id = 0;
    break;
  case 18:
    t->flags = QP_TRANSFER_VOID_PENDING_TRANSFER;
    t->pending_id = MAX;
    break;
  case 19:
    t->flags = QP_TRANSFER_POST_PENDING_TRANSFER;
    t->pending_id = t->id;
    break;
  default:
    t->flags = QP_TRANSFER_VOID_PENDING_TRANSFER;
    t->pending_id = 5;
    t->timeout = 3;
    break;
  }
}

/* Changes one field of a transfer event that was sent before.  Amounts
 * have the subtlest rules (0 on a post or void, clamped balancing amounts),
 * so they are changed most often. */
static void gen_mutate_transfer(gen_t *g, qp_transfer_t *t) {
  if (chance(g, 30)) {
    t->amount = chance(g, 50) ? 0 : t->amount + 1;
    return;
  }
  switch (below(g, 13)) {
  case 0: t->amount += 1; break;
  case 1: t->amount -= 1; break;
  case 2: t->amount = 0; break;
  case 3: t->user_data_128 += 1; break;
  case 4: t->user_data_64 += 1; break;
  case 5: t->user_data_32 += 1; break;
  case 6: t->timeout += 1; break;
  case 7: t->ledger += 1; break;
  case 8: t->code = (uint16_t)(t->code + 1); break;
  case 9: t->flags ^= QP_TRANSFER_BALANCING_DEBIT; break;
  case 10: t->debit_account_id += 1; break;
  case 11: t->credit_account_id += 1; break;
  default: t->pending_id += 1; break;
  }
}

/* A closing transfer: pending (but now and then not), closing the debit
 * account, the credit account or both, often with amount 0 and nearly
 * always with a timeout, so that expiries (and voids) re-open accounts
 * and the workload is not left with mostly closed accounts. */
static qp_transfer_t gen_closing(gen_t *g, const model_t *m) {
  static const uint16_t closing[] = {QP_TRANSFER_CLOSING_DEBIT, QP_TRANSFER_CLOSING_CREDIT,
                                     QP_TRANSFER_CLOSING_DEBIT | QP_TRANSFER_CLOSING_CREDIT};
  uint16_t flags = closing[below(g, 3)];
  if (!chance(g, 10)) flags |= QP_TRANSFER_PENDING;
  if (chance(g, 15)) flags |= QP_TRANSFER_BALANCING_DEBIT;
  qp_transfer_t t = gen_plain(g, m, flags);
  if (chance(g, 50)) t.amount = 0;
  if ((flags & QP_TRANSFER_PENDING) && chance(g, 90)) t.timeout = 1 + (uint32_t)below(g, 3);
  return t;
}

static qp_transfer_t gen_transfer_event(gen_t *g, const model_t *m) {
  qp_transfer_t t;
  uint64_t kind = below(g, 100);
  if (g->boundary_pending != 0) {
    t = gen_post_or_void(g, m, chance(g, 70));
    t.pending_id = g->boundary_pending;
    t.debit_account_id = t.credit_account_id = 0;
    t.ledger = t.code = 0;
    g->boundary_pending = 0;
  } else if (kind < 30) {
    t = gen_plain(g, m, 0);
  } else if (kind < 46) {
    t = gen_plain(g, m, QP_TRANSFER_PENDING);
  } else if (kind < 58) {
    t = gen_post_or_void(g, m, true);
  } else if (kind < 65) {
    t = gen_post_or_void(g, m, false);
  } else if (kind < 76 && g->recent_count > 0) {
    t = g->recent[below(g, g->recent_count)];
    t.flags &= (uint16_t)~QP_TRANSFER_LINKED;
    if (chance(g, 40)) gen_mutate_transfer(g, &t);
  } else if (kind < 80) {
    t = gen_plain(g, m, chance(g, 30) ? QP_TRANSFER_PENDING : 0);
    qp_u128 unknown = chance(g, 50) ? (qp_u128)(ACCOUNT_IDS_MAX + below(g, 1000)) : random_u128(g);
    if (unknown == MAX || unknown == 0) unknown = ACCOUNT_IDS_MAX;
    if (chance(g, 50))
      t.debit_account_id = unknown;
    else
      t.credit_account_id = unknown;
  } else if (kind < 84) {
    t = gen_plain(g, m, 0);
    gen_break_transfer(g, &t);
  } else if (kind < 93) {
    static const uint16_t balancing[] = {
        QP_TRANSFER_BALANCING_DEBIT, QP_TRANSFER_BALANCING_DEBIT, QP_TRANSFER_BALANCING_CREDIT,
        QP_TRANSFER_BALANCING_DEBIT | QP_TRANSFER_BALANCING_CREDIT};
    uint16_t flags = balancing[below(g, 4)];
    if (chance(g, 30)) flags |= QP_TRANSFER_PENDING;
    t = gen_plain(g, m, flags);
    if (chance(g, 50)) t.amount = 1 + below(g, 100000);
  } else if (kind < 95) {
    t = gen_whale(g, m);
  } else if (kind < 96) {
    t = gen_closing(g, m);
  } else {
    t = gen_plain(g, m, chance(g, 20) ? QP_TRANSFER_PENDING : 0);
  }
  if (chance(g, 15)) t.flags |= QP_TRANSFER_LINKED;
  remember(g->recent, &g->recent_count, sizeof t, &t, g);
  if (t.flags & QP_TRANSFER_PENDING)
    remember(g->pendings, &g->pendings_count, sizeof t.id, &t.id, g);
  return t;
}

/* Moves the clock: mostly forward up to 1.5 s, sometimes back up to 5 s,
 * and sometimes to within a nanosecond of a pending transfer's expiry,
 * where `<` and `<=` part ways. */
static void gen_advance_time(gen_t *g, const model_t *m) {
  g->boundary_pending = 0;
  if (chance(g, 5)) {
    /* A pending transfer still due in the future, picked at random. */
    uint64_t candidates = 0, chosen = UINT64_MAX;
    for (uint64_t row = 0; row < m->transfers_count; row++) {
      const model_transfer_t *x = &m->transfers[row];
      if (x->state != QP_PENDING_PENDING || x->t.timeout == 0) continue;
      if (expires_at_ns(&x->t) <= m->last_timestamp + 2) continue;
      if (below(g, ++candidates) == 0) chosen = row; /* reservoir sampling */
    }
    if (chosen != UINT64_MAX) {
      g->now_ns = expires_at_ns(&m->transfers[chosen].t) + below(g, 3) - 1;
      g->boundary_pending = m->transfers[chosen].t.id;
      return;
    }
  }
  if (chance(g, 3)) {
    uint64_t back = below(g, 5 * NS_PER_S);
    g->now_ns = g->now_ns > back ? g->now_ns - back : 0;
  } else {
    g->now_ns += below(g, 3 * NS_PER_S / 2);
  }
}

/* Turns a generated batch into an import, sometimes (4 %): timestamps from
 * the last one towards `now` with random gaps, now and then out of order,
 * zero, at `now` or missing the flag; a few events of other batches get the
 * flag.  flag is the kind's `imported` bit. */
static void gen_import(gen_t *g, const model_t *m, void *events, size_t size, uint32_t count,
                       uint16_t flag) {
  uint8_t *base = events;
  const size_t flags_at = size - 8 - 2; /* flags (u16) just before the timestamp (u64) */
  bool import = chance(g, 4) && g->now_ns > m->last_timestamp + 2ull * count + 2;
  uint64_t ts = m->last_timestamp, room = import ? g->now_ns - m->last_timestamp - 1 : 0;
  for (uint32_t i = 0; i < count; i++) {
    uint8_t *e = base + i * size;
    uint16_t flags;
    memcpy(&flags, e + flags_at, sizeof flags);
    uint64_t at = 0;
    if (import) {
      ts += 1 + below(g, room / (2ull * count));
      at = ts;
      if (chance(g, 3)) at = m->last_timestamp - below(g, 2); /* regresses */
      if (chance(g, 2)) at = chance(g, 50) ? 0 : g->now_ns + below(g, 2); /* out of range/ahead */
      if (i > 0 && chance(g, 3)) flags = (uint16_t)(flags & ~flag); /* expected */
      else flags |= flag;
    } else if (chance(g, 1)) {
      flags |= flag; /* not expected */
      at = m->last_timestamp + 1;
    } else {
      continue; /* as generated (it may carry a timestamp of its own) */
    }
    memcpy(e + flags_at, &flags, sizeof flags);
    memcpy(e + size - 8, &at, sizeof at);
  }
}

/* ============================================================== checks */

typedef struct run {
  uint64_t seed, events;                         /* the run's inputs, for the replay command */
  uint64_t batch;                                /* batches so far */
  const char *what;                              /* the kind of the current batch */
  qp_ledger_t *ledger;                           /* the implementation */
  qp_ledger_changes_t taken;                     /* qp_ledger_take_changes() after the batch */
  model_t model;                                 /* the reference */
  gen_t gen;                                     /* the workload */
  qp_account_t accounts_before[ACCOUNT_IDS_MAX]; /* model accounts before the batch */
  uint32_t accounts_before_count;
  uint64_t transfers_before_count;                          /* model transfers before the batch */
  uint64_t *scratch;                                        /* for model_expire */
  uint64_t account_codes[QP_CREATE_ACCOUNT_RESULT_COUNT];   /* results produced */
  uint64_t transfer_codes[QP_CREATE_TRANSFER_RESULT_COUNT]; /* results produced */
  /* Eviction mode: the ledger keeps only what it may still change, and a
   * cold store filled from the taken changes (as the durable layer fills
   * LMDB) answers for the rest.  Stores happen at each take; evictions one
   * batch later, so that states changed after the take must be kept. */
  bool evict;                   /* run with a cold store */
  model_transfer_t *cold;       /* id -> record as stored at its last take */
  bool *cold_has;               /* id -> stored */
  uint64_t stored_rows;         /* taken rows at the last take (stored) */
  uint64_t evicted;             /* transfers dropped from memory so far */
} run_t;

static run_t *current_run; /* for the failure report */

static const char *u128_text(qp_u128 v, char buf[QP_U128_BUF_SIZE]) {
  qp_u128_format(v, buf);
  return buf;
}

#define CHECK(cond, ...)                                           \
  do {                                                             \
    if (!(cond)) property_failed(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

static void property_failed(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void property_failed(const char *file, int line, const char *fmt, ...) {
  const run_t *r = current_run;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "\nproperty failed in batch %llu (%s): ", (unsigned long long)r->batch, r->what);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr,
          "\nreplay with:\n  SEED=%llu EVENTS=%llu build/asan/tests/ledger/test_property\n\n",
          (unsigned long long)r->seed, (unsigned long long)r->events);
  fflush(stderr);
  _fail(file, line);
}

static void describe_transfer(const qp_transfer_t *t, char *buf, size_t size) {
  char id[QP_U128_BUF_SIZE], dr[QP_U128_BUF_SIZE], cr[QP_U128_BUF_SIZE], amount[QP_U128_BUF_SIZE],
      pending[QP_U128_BUF_SIZE];
  snprintf(buf, size,
           "{id %s, debit %s, credit %s, amount %s, pending_id %s, ledger %u, code %u, flags 0x%x, "
           "timeout %u, timestamp %llu}",
           u128_text(t->id, id), u128_text(t->debit_account_id, dr),
           u128_text(t->credit_account_id, cr), u128_text(t->amount, amount),
           u128_text(t->pending_id, pending), t->ledger, t->code, t->flags, t->timeout,
           (unsigned long long)t->timestamp);
}

static void describe_account(const qp_account_t *a, char *buf, size_t size) {
  char id[QP_U128_BUF_SIZE], dp[QP_U128_BUF_SIZE], dpo[QP_U128_BUF_SIZE], cp[QP_U128_BUF_SIZE],
      cpo[QP_U128_BUF_SIZE];
  snprintf(buf, size,
           "{id %s, ledger %u, code %u, flags 0x%x, debits_pending %s, debits_posted %s, "
           "credits_pending %s, credits_posted %s, timestamp %llu}",
           u128_text(a->id, id), a->ledger, a->code, a->flags, u128_text(a->debits_pending, dp),
           u128_text(a->debits_posted, dpo), u128_text(a->credits_pending, cp),
           u128_text(a->credits_posted, cpo), (unsigned long long)a->timestamp);
}

static void check_results(run_t *r, const uint32_t *got, const uint32_t *want, uint32_t count,
                          const qp_account_t *accounts, const qp_transfer_t *transfers) {
  for (uint32_t i = 0; i < count; i++) {
    if (got[i] == want[i]) continue;
    char event[512];
    if (accounts)
      describe_account(&accounts[i], event, sizeof event);
    else
      describe_transfer(&transfers[i], event, sizeof event);
    const char *(*name)(uint32_t) =
        accounts ? qp_create_account_result_name : qp_create_transfer_result_name;
    CHECK(false, "event %u of %u %s: ledger says %s, model says %s", i, count, event, name(got[i]),
          name(want[i]));
  }
  (void)r;
}

static void check_account_id(run_t *r, qp_u128 id) {
  qp_account_t got;
  int rc = qp_ledger_lookup_account(r->ledger, id, &got);
  int32_t row = model_account_row(&r->model, id);
  char buf[512], want_buf[512], idt[QP_U128_BUF_SIZE];
  if (row < 0) {
    CHECK(rc == QP_ENOTFOUND, "account %s exists in the ledger but not in the model",
          u128_text(id, idt));
    return;
  }
  CHECK(rc == 0, "account %s missing from the ledger", u128_text(id, idt));
  const qp_account_t *want = &r->model.accounts[row];
  if (memcmp(&got, want, sizeof got) != 0) {
    describe_account(&got, buf, sizeof buf);
    describe_account(want, want_buf, sizeof want_buf);
    CHECK(false, "account differs:\n  ledger %s\n  model  %s", buf, want_buf);
  }
}

static int cold_lookup(void *ctx, qp_u128 id, qp_transfer_t *out, qp_pending_state_t *state) {
  run_t *r = ctx;
  if (id >= r->model.transfer_ids_max || !r->cold_has[(uint64_t)id]) return QP_ENOTFOUND;
  *out = r->cold[(uint64_t)id].t;
  *state = r->cold[(uint64_t)id].state;
  return 0;
}

static void check_transfer_id(run_t *r, qp_u128 id) {
  qp_transfer_t got;
  qp_pending_state_t state = QP_PENDING_NONE;
  int rc = qp_ledger_lookup_transfer(r->ledger, id, &got, &state);
  if (rc == QP_ENOTFOUND && r->evict) rc = cold_lookup(r, id, &got, &state);
  int64_t row = model_transfer_row(&r->model, id);
  char buf[512], want_buf[512], idt[QP_U128_BUF_SIZE];
  if (row < 0) {
    CHECK(rc == QP_ENOTFOUND, "transfer %s exists in the ledger but not in the model",
          u128_text(id, idt));
    return;
  }
  CHECK(rc == 0, "transfer %s missing from the ledger", u128_text(id, idt));
  const model_transfer_t *want = &r->model.transfers[row];
  if (memcmp(&got, &want->t, sizeof got) != 0) {
    describe_transfer(&got, buf, sizeof buf);
    describe_transfer(&want->t, want_buf, sizeof want_buf);
    CHECK(false, "transfer differs:\n  ledger %s\n  model  %s", buf, want_buf);
  }
  CHECK(state == want->state, "transfer %s: ledger state %s, model state %s", u128_text(id, idt),
        qp_pending_state_name(state), qp_pending_state_name(want->state));
}

/* Per-ledger sums over the implementation's accounts. */
typedef struct ledger_sums {
  qp_ledger_totals_t rows[LEDGER_SUMS_MAX];
  uint32_t count;
} ledger_sums_t;

static int sum_account(void *ctx, const qp_account_t *a) {
  ledger_sums_t *s = ctx;
  uint32_t i = 0;
  while (i < s->count && s->rows[i].ledger != a->ledger) i++;
  if (i == s->count) {
    if (s->count == LEDGER_SUMS_MAX) return 1;
    memset(&s->rows[i], 0, sizeof s->rows[i]);
    s->rows[i].ledger = a->ledger;
    s->count++;
  }
  /* Sums are modulo 2^128, as the invariant checker's: equal sums still
   * catch any single movement that is not balanced. */
  s->rows[i].accounts++;
  s->rows[i].debits_pending += a->debits_pending;
  s->rows[i].debits_posted += a->debits_posted;
  s->rows[i].credits_pending += a->credits_pending;
  s->rows[i].credits_posted += a->credits_posted;
  return 0;
}

static void check_invariants(run_t *r) {
  CHECK(qp_ledger_check(r->ledger), "qp_ledger_check() is false");
  ledger_sums_t sums = {.count = 0};
  CHECK(qp_ledger_each_account(r->ledger, sum_account, &sums) == 0, "too many ledgers");
  qp_ledger_totals_t totals[LEDGER_SUMS_MAX];
  uint32_t totals_count = 0;
  CHECK(qp_ledger_totals(r->ledger, totals, LEDGER_SUMS_MAX, &totals_count) == 0, "totals failed");
  CHECK(totals_count == sums.count, "totals list %u ledgers, accounts are in %u", totals_count,
        sums.count);
  for (uint32_t i = 0; i < sums.count; i++) {
    const qp_ledger_totals_t *s = &sums.rows[i];
    CHECK(s->debits_posted == s->credits_posted, "ledger %u: debits_posted != credits_posted",
          s->ledger);
    CHECK(s->debits_pending == s->credits_pending, "ledger %u: debits_pending != credits_pending",
          s->ledger);
    bool found = false;
    for (uint32_t j = 0; j < totals_count; j++) {
      if (totals[j].ledger != s->ledger) continue;
      found = true;
      CHECK(totals[j].accounts == s->accounts && totals[j].debits_posted == s->debits_posted &&
                totals[j].debits_pending == s->debits_pending &&
                totals[j].credits_posted == s->credits_posted &&
                totals[j].credits_pending == s->credits_pending,
            "ledger %u: qp_ledger_totals disagrees with the accounts", s->ledger);
    }
    CHECK(found, "ledger %u missing from qp_ledger_totals", s->ledger);
  }
  CHECK(qp_ledger_last_timestamp(r->ledger) == r->model.last_timestamp,
        "last timestamp: ledger %llu, model %llu",
        (unsigned long long)qp_ledger_last_timestamp(r->ledger),
        (unsigned long long)r->model.last_timestamp);
  CHECK(qp_ledger_account_count(r->ledger) == r->model.accounts_count, "account counts differ");
  CHECK(qp_ledger_transfer_count(r->ledger) == r->model.transfers_count, "transfer counts differ");
  /* The ledger may report an expiry that is no longer due (a posted, voided
   * or rolled-back pending): harmless, a sweep then finds nothing.  It must
   * never report one later than the earliest real one. */
  uint64_t want = model_next_expiry(&r->model), got = qp_ledger_next_expiry(r->ledger);
  CHECK(want == 0 || (got != 0 && got <= want), "next expiry: ledger %llu, model %llu",
        (unsigned long long)got, (unsigned long long)want);
}

static void check_all_accounts(run_t *r) {
  for (uint32_t id = 1; id < ACCOUNT_IDS_MAX; id++) check_account_id(r, id);
}

static int compare_transfer_row(void *ctx, const qp_transfer_t *t, qp_pending_state_t state) {
  run_t *r = ctx;
  int64_t row = model_transfer_row(&r->model, t->id);
  CHECK(row >= 0, "the ledger holds a transfer the model does not");
  CHECK(memcmp(t, &r->model.transfers[row].t, sizeof *t) == 0 &&
            state == r->model.transfers[row].state,
        "a transfer differs in the whole-state comparison");
  return 0;
}

static void check_all_transfers(run_t *r) {
  CHECK(qp_ledger_each_transfer(r->ledger, compare_transfer_row, r) == 0, "each_transfer failed");
  for (uint64_t row = 0; row < r->model.transfers_count; row++)
    check_transfer_id(r, r->model.transfers[row].t.id);
}

static bool balance_row_equal(const qp_account_balance_t *a, const qp_account_balance_t *b) {
  return a->account_id == b->account_id && a->transfer_id == b->transfer_id &&
         a->debits_pending == b->debits_pending && a->debits_posted == b->debits_posted &&
         a->credits_pending == b->credits_pending && a->credits_posted == b->credits_posted &&
         a->timestamp == b->timestamp;
}

/* What qp_ledger_take_changes() hands over after one batch (for the index)
 * agrees with the model: the batch's history rows in order, the transfers
 * it created with their states as they are now, the pending updates of
 * older transfers, and the final state of every account it created or
 * changed. */
static void check_taken_transfers(run_t *r, const qp_ledger_changes_t *t) {
  const model_t *m = &r->model;
  uint64_t created = m->transfers_count - r->transfers_before_count;
  CHECK(t->transfers_count == created, "created transfers: ledger %u, model %llu",
        t->transfers_count, (unsigned long long)created);
  for (uint32_t i = 0; i < t->transfers_count; i++) {
    const model_transfer_t *want = &m->transfers[r->transfers_before_count + i];
    CHECK(memcmp(&t->transfers[i], &want->t, sizeof want->t) == 0, "created transfer %u differs",
          i);
    CHECK(t->transfer_states[i] == want->state, "created transfer %u has a stale state", i);
  }
  /* Pending updates of transfers older than this batch, with today's state. */
  for (uint32_t i = 0; i < t->pending_count; i++) {
    int64_t row = model_transfer_row(m, t->pending[i].transfer_id);
    CHECK(row >= 0 && (uint64_t)row < r->transfers_before_count &&
              t->pending[i].state == m->transfers[row].state,
          "taken pending update %u is wrong", i);
  }
  for (uint32_t i = 0; i < m->updates_count; i++) {
    int64_t row = model_transfer_row(m, m->updates[i].transfer_id);
    if ((uint64_t)row >= r->transfers_before_count) continue;
    bool found = false;
    for (uint32_t j = 0; j < t->pending_count && !found; j++)
      found = t->pending[j].transfer_id == m->updates[i].transfer_id;
    CHECK(found, "a pending update is missing from the taken changes");
  }
}

static void check_taken(run_t *r, bool ordered) {
  qp_ledger_changes_t *t = &r->taken;
  CHECK(qp_ledger_take_changes(r->ledger, t) == 0, "take_changes failed");
  const model_t *m = &r->model;
  char idt[QP_U128_BUF_SIZE];
  CHECK(t->balances_count == m->history_count, "history rows: ledger %u, model %u",
        t->balances_count, m->history_count);
  for (uint32_t i = 0; ordered && i < t->balances_count; i++)
    CHECK(balance_row_equal(&t->balances[i], &m->history[i]), "history row %u differs (account %s)",
          i, u128_text(m->history[i].account_id, idt));
  check_taken_transfers(r, t);
  bool listed[ACCOUNT_IDS_MAX] = {false};
  for (uint32_t i = 0; i < t->accounts_count; i++) {
    int32_t row = model_account_row(m, t->accounts[i].id);
    CHECK(row >= 0, "changes list account %s, which does not exist",
          u128_text(t->accounts[i].id, idt));
    CHECK(memcmp(&t->accounts[i], &m->accounts[row], sizeof t->accounts[i]) == 0,
          "changes hold a stale copy of account %s", u128_text(t->accounts[i].id, idt));
    listed[(uint32_t)t->accounts[i].id] = true;
  }
  for (uint32_t row = 0; row < m->accounts_count; row++) {
    const qp_account_t *a = &m->accounts[row];
    bool changed =
        row >= r->accounts_before_count || memcmp(a, &r->accounts_before[row], sizeof *a) != 0;
    CHECK(!changed || listed[(uint32_t)a->id], "account %s changed but is not in the changes",
          u128_text(a->id, idt));
  }
}

/* ================================================================= run */

static void before_batch(run_t *r, const char *what) {
  r->batch++;
  r->what = what;
  memcpy(r->accounts_before, r->model.accounts,
         r->model.accounts_count * sizeof r->accounts_before[0]);
  r->accounts_before_count = r->model.accounts_count;
  r->transfers_before_count = r->model.transfers_count;
}

/* Stores what the take handed over, as the durable layer's applier does. */
static void store_taken(run_t *r) {
  const qp_ledger_changes_t *t = &r->taken;
  for (uint32_t i = 0; i < t->transfers_count; i++) {
    uint64_t id = (uint64_t)t->transfers[i].id;
    CHECK(id < r->model.transfer_ids_max, "taken transfer id out of range");
    r->cold[id].t = t->transfers[i];
    r->cold[id].state = t->transfer_states[i];
    r->cold_has[id] = true;
  }
  for (uint32_t i = 0; i < t->pending_count; i++) {
    uint64_t id = (uint64_t)t->pending[i].transfer_id;
    CHECK(id < r->model.transfer_ids_max && r->cold_has[id],
          "pending update of an unstored transfer");
    r->cold[id].state = t->pending[i].state;
  }
  r->stored_rows = qp_ledger_taken_rows(r->ledger);
}

static void after_batch(run_t *r, bool ordered) {
  if (r->evict && chance(&r->gen, 40)) {
    uint64_t before = qp_ledger_transfers_in_memory(r->ledger);
    uint64_t dropped = qp_ledger_evict(r->ledger, r->stored_rows);
    CHECK(qp_ledger_transfers_in_memory(r->ledger) + dropped == before, "eviction miscounted");
    r->evicted += dropped;
  }
  check_taken(r, ordered);
  if (r->evict) store_taken(r);
  check_invariants(r);
  if (r->batch % FULL_COMPARE_EVERY == 0) {
    check_all_accounts(r);
    check_all_transfers(r);
  }
}

static void run_accounts(run_t *r, const qp_account_t *events, uint32_t count) {
  uint32_t got[QP_BATCH_EVENTS_MAX], want[QP_BATCH_EVENTS_MAX];
  before_batch(r, "create_accounts");
  CHECK(qp_ledger_create_accounts(r->ledger, r->gen.now_ns, events, count, got) == 0,
        "create_accounts failed");
  model_batch(&r->model, r->gen.now_ns, events, sizeof *events, count, want, model_create_account,
              account_is_linked, account_is_imported, QP_CREATE_ACCOUNT_LINKED_EVENT_FAILED,
              QP_CREATE_ACCOUNT_LINKED_EVENT_CHAIN_OPEN);
  check_results(r, got, want, count, events, NULL);
  for (uint32_t i = 0; i < count; i++) {
    r->account_codes[want[i]]++;
    check_account_id(r, events[i].id);
  }
  after_batch(r, true);
}

static void run_transfers(run_t *r, const qp_transfer_t *events, uint32_t count) {
  uint32_t got[QP_BATCH_EVENTS_MAX], want[QP_BATCH_EVENTS_MAX];
  before_batch(r, "create_transfers");
  CHECK(qp_ledger_create_transfers(r->ledger, r->gen.now_ns, events, count, got) == 0,
        "create_transfers failed");
  model_batch(&r->model, r->gen.now_ns, events, sizeof *events, count, want, model_create_transfer,
              transfer_is_linked, transfer_is_imported, QP_CREATE_TRANSFER_LINKED_EVENT_FAILED,
              QP_CREATE_TRANSFER_LINKED_EVENT_CHAIN_OPEN);
  check_results(r, got, want, count, NULL, events);
  for (uint32_t i = 0; i < count; i++) {
    r->transfer_codes[want[i]]++;
    check_transfer_id(r, events[i].id);
    check_transfer_id(r, events[i].pending_id);
    check_account_id(r, events[i].debit_account_id);
    check_account_id(r, events[i].credit_account_id);
  }
  after_batch(r, true);
}

static void run_expire(run_t *r) {
  before_batch(r, "expire");
  uint32_t got = UINT32_MAX;
  CHECK(qp_ledger_expire(r->ledger, r->gen.now_ns, &got) == 0, "expire failed");
  uint32_t want = model_expire(&r->model, r->gen.now_ns, r->scratch);
  CHECK(got == want, "expired: ledger %u, model %u", got, want);
  for (uint32_t i = 0; i < r->model.updates_count; i++)
    check_transfer_id(r, r->model.updates[i].transfer_id);
  /* Expiries due at the same nanosecond may be swept in either order. */
  after_batch(r, !r->model.expiry_order_ambiguous);
}

/* Says which result codes the workload reached, so that a change to the
 * generator that stops exercising a rule is visible.  Informational: the
 * exact-code unit tests (test_results.c) are what require every code. */
static void report_coverage(const run_t *r) {
  uint32_t reached = 0, total = QP_CREATE_ACCOUNT_RESULT_COUNT + QP_CREATE_TRANSFER_RESULT_COUNT;
  char missing[2048] = "";
  size_t used = 0;
  for (uint32_t i = 0; i < total; i++) {
    bool account = i < QP_CREATE_ACCOUNT_RESULT_COUNT;
    uint32_t code = account ? i : i - QP_CREATE_ACCOUNT_RESULT_COUNT;
    uint64_t n = account ? r->account_codes[code] : r->transfer_codes[code];
    if (n > 0) {
      reached++;
      continue;
    }
    const char *name =
        account ? qp_create_account_result_name(code) : qp_create_transfer_result_name(code);
    int w = snprintf(missing + used, sizeof missing - used, " %s:%s",
                     account ? "account" : "transfer", name);
    if (w > 0 && (size_t)w < sizeof missing - used) used += (size_t)w;
  }
  fprintf(stderr, "property: %u of %u result codes reached; not reached:%s\n", reached, total,
          used ? missing : " none");
}

/* The first batch: the whales, then enough accounts to start with. */
static void run_first_accounts(run_t *r) {
  qp_account_t events[LEDGERS * WHALES_PER_LEDGER + 40];
  uint32_t count = 0;
  for (uint32_t ledger = 0; ledger < LEDGERS; ledger++) {
    for (uint32_t w = 0; w < WHALES_PER_LEDGER; w++) {
      qp_account_t a;
      memset(&a, 0, sizeof a);
      a.id = r->gen.next_account_id++;
      a.ledger = ledger + 1;
      a.code = 1;
      r->gen.whales[ledger * WHALES_PER_LEDGER + w] = (uint32_t)a.id;
      events[count++] = a;
    }
  }
  while (count < sizeof events / sizeof events[0]) {
    events[count] = gen_fresh_account(&r->gen, r->gen.next_account_id++);
    count++;
  }
  run_accounts(r, events, count);
  for (uint32_t i = 0; i < LEDGERS * WHALES_PER_LEDGER; i++)
    CHECK(model_account_row(&r->model, r->gen.whales[i]) >= 0, "a whale was not created");
}

/* Checks random batches and expiries against the model for r->events events; returns expired. */
static uint64_t run_random_batches(run_t *r) {
  uint64_t events_done = 0, expired_total = 0;
  static qp_transfer_t transfers[BATCH_EVENTS_MAX];
  qp_account_t accounts[16];
  while (events_done < r->events) {
    gen_advance_time(&r->gen, &r->model);
    if (chance(&r->gen, r->gen.boundary_pending ? 30 : 15)) {
      run_expire(r);
      expired_total += r->model.updates_count;
    }
    uint64_t left = r->events - events_done;
    if (chance(&r->gen, 5)) {
      uint32_t count = 1 + (uint32_t)below(&r->gen, 16);
      if (count > left) count = (uint32_t)left;
      for (uint32_t i = 0; i < count; i++) accounts[i] = gen_account_event(&r->gen);
      gen_import(&r->gen, &r->model, accounts, sizeof accounts[0], count, QP_ACCOUNT_IMPORTED);
      run_accounts(r, accounts, count);
      events_done += count;
    } else {
      uint32_t count = 1 + (uint32_t)below(&r->gen, BATCH_EVENTS_MAX);
      if (count > left) count = (uint32_t)left;
      for (uint32_t i = 0; i < count; i++) transfers[i] = gen_transfer_event(&r->gen, &r->model);
      gen_import(&r->gen, &r->model, transfers, sizeof transfers[0], count, QP_TRANSFER_IMPORTED);
      if (chance(&r->gen, 80))
        for (uint32_t i = 0; i < count; i++)
          if (transfers[i].flags & QP_TRANSFER_IMPORTED) transfers[i].timeout = 0;
      run_transfers(r, transfers, count);
      events_done += count;
    }
  }
  return expired_total;
}

static void run_property(bool evict) {
  static run_t run; /* large: keep it off the stack */
  run_t *r = &run;
  memset(r, 0, sizeof *r);
  r->evict = evict;
  current_run = r;
  r->seed = qp_test_env_u64("SEED", SEED_DEFAULT);
  r->events = qp_test_env_u64("EVENTS", EVENTS_DEFAULT);
  r->gen.rng = r->seed;
  r->gen.now_ns = 1000 * NS_PER_S;
  r->gen.next_account_id = 1;
  r->gen.next_transfer_id = 1;
  model_init(&r->model, r->events);
  r->scratch = calloc(r->events + 16, sizeof *r->scratch);
  assert_non_null(r->scratch);
  qp_ledger_config_t config = {.track_changes = true};
  if (evict) {
    r->cold = calloc(r->model.transfer_ids_max, sizeof *r->cold);
    r->cold_has = calloc(r->model.transfer_ids_max, sizeof *r->cold_has);
    assert_true(r->cold != NULL && r->cold_has != NULL);
    config.cold.ctx = r;
    config.cold.lookup = cold_lookup;
  }
  assert_int_equal(qp_ledger_create(&config, &r->ledger), 0);
  assert_int_equal(qp_ledger_take_changes(r->ledger, &r->taken), 0);
  fprintf(stderr, "property: SEED=%llu EVENTS=%llu\n", (unsigned long long)r->seed,
          (unsigned long long)r->events);

  run_first_accounts(r);
  uint64_t expired_total = run_random_batches(r);
  run_expire(r);
  check_all_accounts(r);
  check_all_transfers(r);
  fprintf(stderr, "property%s: %llu batches, %llu accounts, %llu transfers, %llu expired, "
          "%llu evicted, %llu in memory at the end\n", evict ? " (evicting)" : "",
          (unsigned long long)r->batch, (unsigned long long)r->model.accounts_count,
          (unsigned long long)r->model.transfers_count, (unsigned long long)expired_total,
          (unsigned long long)r->evicted,
          (unsigned long long)qp_ledger_transfers_in_memory(r->ledger));
  if (evict) {
    /* The mode must actually have moved most transfers out of memory. */
    CHECK(r->evicted * 2 > r->model.transfers_count, "eviction dropped only %llu of %llu",
          (unsigned long long)r->evicted, (unsigned long long)r->model.transfers_count);
  }
  report_coverage(r);

  qp_ledger_changes_deinit(&r->taken);
  qp_ledger_destroy(r->ledger);
  model_deinit(&r->model);
  free(r->scratch);
  free(r->cold);
  free(r->cold_has);
}

static void test_ledger_matches_model(void **state) {
  (void)state;
  run_property(false);
}

/* The same workload with transfers moving to a cold store: every result
 * must still be the model's (idempotent re-sends of evicted transfers,
 * posts and voids of resolved ones, expiries). */
static void test_ledger_matches_model_evicting(void **state) {
  (void)state;
  run_property(true);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ledger_matches_model),
      cmocka_unit_test(test_ledger_matches_model_evicting),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
