/*
 * audit.c - per-ledger totals and the invariant checker.
 *
 * qp_ledger_check() is the SQLite-style sanity checker: it recomputes from
 * scratch what the rules of money promise (for every ledger, debits equal
 * credits, posted and pending, and the pending balances are exactly the
 * amounts of the transfers still pending) and says whether it holds.
 * Sums wrap modulo 2^128: the check compares sums, so equality modulo 2^128
 * still catches any single unbalanced movement.
 */
#include <string.h>

#include "base/alloc.h"
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

int qp_ledger_totals(const qp_ledger_t *l, qp_ledger_totals_t *rows, uint32_t capacity,
                     uint32_t *count_out) {
  totals_set_t s = {0};
  int rc = compute(l, &s);
  if (rc == 0) {
    uint32_t n = s.count < capacity ? s.count : capacity;
    if (n) memcpy(rows, s.rows, n * sizeof *rows);
    *count_out = s.count;
  }
  totals_free(&s);
  return rc;
}

int qp_ledger_check_invariant(const qp_ledger_t *l, bool *holds) {
  totals_set_t s = {0};
  int rc = compute(l, &s);
  bool ok = rc == 0;
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
