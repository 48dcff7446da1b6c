/*
 * audit.c - per-ledger totals and the invariant checker.
 *
 * The totals (accounts and the four balance sums of every ledger) are kept
 * up to date as batches apply: state.c calls qp__totals_* wherever an
 * account is created, rolled back or has its balances changed.  So reading
 * them (qp_ledger_totals, qp_ledger_totals_balanced) costs O(ledgers), and
 * the audit need not walk every account while holding up commits.
 *
 * qp_ledger_check() is the SQLite-style sanity checker: it recomputes from
 * scratch what the rules of money promise (for every ledger, debits equal
 * credits, posted and pending, and the pending balances are exactly the
 * amounts of the transfers still pending), and that the running totals
 * equal the recomputed ones, and says whether it all holds.  Sums wrap
 * modulo 2^128: the check compares sums, so equality modulo 2^128 still
 * catches any single unbalanced movement.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "ledger/state_int.h"

typedef struct totals_set {
  qp_ledger_totals_t *rows; /* sorted by ledger */
  qp_u128 *pending_held;    /* per row: sum of amounts of PENDING transfers */
  uint32_t count;           /* rows used */
  uint32_t capacity;        /* rows allocated */
} totals_set_t;

/* Finds or inserts the row for `ledger`; NULL on allocation failure. */
static uint32_t row_for(totals_set_t *s, uint32_t ledger, int *rc) {
  uint32_t lo = 0, hi = s->count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (s->rows[mid].ledger < ledger) lo = mid + 1;
    else hi = mid;
  }
  if (lo < s->count && s->rows[lo].ledger == ledger) return lo;
  if (s->count == s->capacity) {
    uint32_t cap = s->capacity ? s->capacity * 2 : 16;
    qp_ledger_totals_t *rows = qp_realloc(s->rows, cap * sizeof *rows);
    if (rows == NULL) { *rc = QP_ENOMEM; return 0; }
    s->rows = rows;
    qp_u128 *held = qp_realloc(s->pending_held, cap * sizeof *held);
    if (held == NULL) { *rc = QP_ENOMEM; return 0; }
    s->pending_held = held;
    s->capacity = cap;
  }
  memmove(&s->rows[lo + 1], &s->rows[lo], (s->count - lo) * sizeof *s->rows);
  memmove(&s->pending_held[lo + 1], &s->pending_held[lo],
          (s->count - lo) * sizeof *s->pending_held);
  memset(&s->rows[lo], 0, sizeof *s->rows);
  s->rows[lo].ledger = ledger;
  s->pending_held[lo] = 0;
  s->count++;
  return lo;
}

static int compute(const qp_ledger_t *l, totals_set_t *s) {
  int rc = 0;
  for (uint64_t i = 0; i < l->accounts_count && rc == 0; i++) {
    const qp_account_t *a = &l->accounts[i];
    uint32_t r = row_for(s, a->ledger, &rc);
    if (rc != 0) break;
    qp_ledger_totals_t *t = &s->rows[r];
    t->accounts++;
    t->debits_pending += a->debits_pending;
    t->debits_posted += a->debits_posted;
    t->credits_pending += a->credits_pending;
    t->credits_posted += a->credits_posted;
  }
  for (uint64_t i = 0; i < l->transfers_count && rc == 0; i++) {
    if (l->transfer_states[i] != QP_PENDING_PENDING) continue;
    uint32_t r = row_for(s, l->transfers[i].ledger, &rc);
    if (rc == 0) s->pending_held[r] += l->transfers[i].amount;
  }
  return rc;
}

static void totals_free(totals_set_t *s) {
  qp_free(s->rows);
  qp_free(s->pending_held);
}

/* ------------------------------------------------------ running totals */

/* Index of the first running row whose ledger is >= `ledger`. */
static uint32_t totals_find(const qp_ledger_t *l, uint32_t ledger) {
  uint32_t lo = 0, hi = l->totals_count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (l->totals[mid].ledger < ledger) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

int qp__totals_reserve(qp_ledger_t *l, uint32_t more) {
  uint64_t need = (uint64_t)l->totals_count + more;
  if (need <= l->totals_capacity) return 0;
  uint64_t cap = l->totals_capacity ? l->totals_capacity : 16;
  while (cap < need) cap *= 2;
  if (cap > UINT32_MAX) return QP_ENOMEM;
  qp_ledger_totals_t *rows = qp_realloc(l->totals, cap * sizeof *rows);
  if (rows == NULL) return QP_ENOMEM;
  l->totals = rows;
  l->totals_capacity = (uint32_t)cap;
  return 0;
}

qp_ledger_totals_t *qp__totals_row(qp_ledger_t *l, uint32_t ledger, bool create) {
  uint32_t i = totals_find(l, ledger);
  if (i < l->totals_count && l->totals[i].ledger == ledger) return &l->totals[i];
  QP_ASSERT(create && l->totals_count < l->totals_capacity); /* reserved before the batch */
  memmove(&l->totals[i + 1], &l->totals[i], (l->totals_count - i) * sizeof *l->totals);
  memset(&l->totals[i], 0, sizeof *l->totals);
  l->totals[i].ledger = ledger;
  l->totals_count++;
  return &l->totals[i];
}

void qp__totals_account_gone(qp_ledger_t *l, const qp_account_t *a) {
  qp_ledger_totals_t *t = qp__totals_row(l, a->ledger, false);
  QP_ASSERT(t->accounts > 0);
  t->accounts--;
  if (t->accounts > 0) return;
  /* A ledger whose last account was rolled back leaves no row behind. */
  QP_ASSERT(t->debits_pending == 0 && t->debits_posted == 0 && t->credits_pending == 0 &&
            t->credits_posted == 0);
  uint32_t i = (uint32_t)(t - l->totals);
  memmove(&l->totals[i], &l->totals[i + 1], (l->totals_count - i - 1) * sizeof *l->totals);
  l->totals_count--;
}

void qp__totals_add_account(qp_ledger_totals_t *t, const qp_account_t *a) {
  QP_ASSERT(t->ledger == a->ledger);
  t->accounts++;
  t->debits_pending += a->debits_pending;
  t->debits_posted += a->debits_posted;
  t->credits_pending += a->credits_pending;
  t->credits_posted += a->credits_posted;
}

void qp__totals_set_balances(qp_ledger_t *l, qp_account_t *a, const qp_u128 balances[4]) {
  qp_ledger_totals_t *t = qp__totals_row(l, a->ledger, false);
  /* Differences modulo 2^128: the sums wrap the same way. */
  t->debits_pending += balances[0] - a->debits_pending;
  t->debits_posted += balances[1] - a->debits_posted;
  t->credits_pending += balances[2] - a->credits_pending;
  t->credits_posted += balances[3] - a->credits_posted;
  a->debits_pending = balances[0];
  a->debits_posted = balances[1];
  a->credits_pending = balances[2];
  a->credits_posted = balances[3];
}

int qp_ledger_totals(const qp_ledger_t *l, qp_ledger_totals_t *rows, uint32_t capacity,
                     uint32_t *count_out) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < l->totals_count; i++) {
    if (l->totals[i].accounts == 0) continue; /* left by a failed restore */
    if (n < capacity) rows[n] = l->totals[i];
    n++;
  }
  *count_out = n;
  return 0;
}

bool qp_ledger_totals_balanced(const qp_ledger_t *l) {
  for (uint32_t i = 0; i < l->totals_count; i++) {
    const qp_ledger_totals_t *t = &l->totals[i];
    if (t->debits_posted != t->credits_posted || t->debits_pending != t->credits_pending)
      return false;
  }
  return true;
}

/* ------------------------------------------------------ the full check */

static bool totals_equal(const qp_ledger_totals_t *a, const qp_ledger_totals_t *b) {
  return a->ledger == b->ledger && a->accounts == b->accounts &&
         a->debits_pending == b->debits_pending && a->debits_posted == b->debits_posted &&
         a->credits_pending == b->credits_pending && a->credits_posted == b->credits_posted;
}

/* The running totals equal the recomputed ones, row for row. */
static bool running_match(const qp_ledger_t *l, const totals_set_t *s) {
  uint32_t j = 0;
  for (uint32_t i = 0; i < l->totals_count; i++) {
    if (l->totals[i].accounts == 0) continue;
    if (j == s->count || !totals_equal(&l->totals[i], &s->rows[j])) return false;
    j++;
  }
  return j == s->count;
}

int qp_ledger_check_invariant(const qp_ledger_t *l, bool *holds) {
  totals_set_t s = {0};
  int rc = compute(l, &s);
  bool ok = rc == 0 && running_match(l, &s);
  for (uint32_t i = 0; ok && i < s.count; i++) {
    const qp_ledger_totals_t *t = &s.rows[i];
    ok = t->debits_posted == t->credits_posted && t->debits_pending == t->credits_pending &&
         t->debits_pending == s.pending_held[i];
  }
  totals_free(&s);
  *holds = ok;
  return rc;
}

bool qp_ledger_check(const qp_ledger_t *l) {
  bool holds;
  return qp_ledger_check_invariant(l, &holds) == 0 && holds;
}
