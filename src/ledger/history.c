/*
 * history.c - per-account transfer lists over the ledger's transfer rows.
 */
#include "ledger/history.h"

#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"

void qp__history_init(qp__history_t *h) { memset(h, 0, sizeof *h); }

void qp__history_deinit(qp__history_t *h) {
  for (uint64_t i = 0; i < h->accounts; i++) qp_free(h->by_account[i].rows);
  qp_free(h->by_account);
  memset(h, 0, sizeof *h);
}

static int append(qp__rows_t *r, uint32_t row) {
  if (r->count == r->capacity) {
    uint32_t cap = r->capacity ? r->capacity * 2 : 4;
    uint32_t *p = qp_realloc(r->rows, cap * sizeof *p);
    if (p == NULL) return QP_ENOMEM;
    r->rows = p;
    r->capacity = cap;
  }
  QP_ASSERT(r->count == 0 || r->rows[r->count - 1] < row);
  r->rows[r->count++] = row;
  return 0;
}

int qp__history_update(qp__history_t *h, const qp_ledger_t *l) {
  if (h->broken) return QP_ENOMEM;
  if (h->accounts < l->accounts_count) {
    uint64_t cap = l->accounts_capacity;
    qp__rows_t *p = qp_realloc(h->by_account, cap * sizeof *p);
    if (p == NULL) {
      h->broken = true;
      return QP_ENOMEM;
    }
    memset(p + h->accounts, 0, (cap - h->accounts) * sizeof *p);
    h->by_account = p;
    h->accounts = cap;
  }
  for (uint64_t row = h->indexed_rows; row < l->transfers_count; row++) {
    const qp_transfer_t *t = &l->transfers[row];
    uint32_t dr = qp__table_get(&l->account_index, t->debit_account_id);
    uint32_t cr = qp__table_get(&l->account_index, t->credit_account_id);
    QP_ASSERT(dr != QP__TABLE_EMPTY && cr != QP__TABLE_EMPTY);
    if (append(&h->by_account[dr], (uint32_t)row) != 0 ||
        append(&h->by_account[cr], (uint32_t)row) != 0) {
      h->broken = true;
      return QP_ENOMEM;
    }
    h->indexed_rows = row + 1;
  }
  return 0;
}

/* First position in r whose transfer timestamp is >= ts. */
static uint32_t lower_bound(const qp__rows_t *r, const qp_ledger_t *l, uint64_t ts) {
  uint32_t lo = 0, hi = r->count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (l->transfers[r->rows[mid]].timestamp < ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

int qp__history_query(const qp__history_t *h, const qp_ledger_t *l, const qp_account_filter_t *f,
                      qp_transfer_t *out, uint32_t *count_out) {
  *count_out = 0;
  if (h->broken) return QP_ENOMEM;
  uint32_t arow = qp__table_get(&l->account_index, f->account_id);
  if (arow == QP__TABLE_EMPTY || arow >= h->accounts) return 0;
  const qp__rows_t *r = &h->by_account[arow];
  uint32_t begin = lower_bound(r, l, f->timestamp_min);
  uint32_t end = f->timestamp_max ? lower_bound(r, l, f->timestamp_max + 1) : r->count;
  if (f->timestamp_max == UINT64_MAX) end = r->count;
  bool debits =
      (f->flags & QP_FILTER_DEBITS) || !(f->flags & (QP_FILTER_DEBITS | QP_FILTER_CREDITS));
  bool credits =
      (f->flags & QP_FILTER_CREDITS) || !(f->flags & (QP_FILTER_DEBITS | QP_FILTER_CREDITS));
  bool reversed = f->flags & QP_FILTER_REVERSED;
  uint32_t n = 0;
  for (uint32_t k = 0; k < end - begin && n < f->limit; k++) {
    const qp_transfer_t *t = &l->transfers[r->rows[reversed ? end - 1 - k : begin + k]];
    if ((debits && t->debit_account_id == f->account_id) ||
        (credits && t->credit_account_id == f->account_id))
      out[n++] = *t;
  }
  *count_out = n;
  return 0;
}
