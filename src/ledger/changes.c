/*
 * changes.c - change capture: what the state machine hands to the index.
 *
 * With config.track_changes the state machine logs, as batches apply, which
 * account rows changed, which older transfers changed pending state and the
 * history rows of `history` accounts; new transfers need no log, since rows
 * are only ever appended.  qp_ledger_take_changes() moves all of it into a
 * qp_ledger_changes_t and starts afresh: the durable layer's applier calls
 * it once per round, so however many batches a round spans, each changed
 * account is written once.  This is the only way changes leave the state
 * machine; tests take after every batch to see one batch's effects.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "ledger/state_int.h"

void qp_ledger_changes_deinit(qp_ledger_changes_t *c) {
  qp_free(c->accounts);
  qp_free(c->account_rows);
  qp_free(c->transfers);
  qp_free(c->transfer_states);
  qp_free(c->pending);
  qp_free(c->balances);
  memset(c, 0, sizeof *c);
}

void qp_ledger_changes_clear(qp_ledger_changes_t *c) {
  c->accounts_count = 0;
  c->transfers_count = 0;
  c->pending_count = 0;
  c->balances_count = 0;
}

/* Grows *array to hold `need` rows of `size` bytes (capacities are 32-bit). */
static int ensure(void **array, uint32_t *capacity, uint64_t need, size_t size) {
  if (need <= *capacity) return 0;
  if (need > UINT32_MAX) return QP_ENOMEM;
  uint64_t cap = *capacity ? *capacity : 1024;
  while (cap < need) cap *= 2;
  if (cap > UINT32_MAX) cap = UINT32_MAX;
  void *p = qp_realloc(*array, cap * size);
  if (p == NULL) return QP_ENOMEM;
  *array = p;
  *capacity = (uint32_t)cap;
  return 0;
}

uint64_t qp_ledger_untaken(const qp_ledger_t *l) {
  return (l->transfers_count - l->taken_transfer_rows) + 3 * l->dirty_accounts_count;
}

int qp_ledger_take_changes(qp_ledger_t *l, qp_ledger_changes_t *out) {
  uint64_t new_transfers = l->transfers_count - l->taken_transfer_rows;
  uint32_t tcap = out->transfers_capacity;
  int rc = ensure((void **)&out->accounts, &out->accounts_capacity, l->dirty_accounts_count,
                  sizeof *out->accounts);
  if (rc == 0) rc = ensure((void **)&out->account_rows, &out->account_rows_capacity,
                           l->dirty_accounts_count, sizeof *out->account_rows);
  if (rc == 0) rc = ensure((void **)&out->transfers, &out->transfers_capacity, new_transfers,
                           sizeof *out->transfers);
  if (rc == 0) rc = ensure((void **)&out->transfer_states, &tcap, new_transfers, 1);
  if (rc == 0) rc = ensure((void **)&out->pending, &out->pending_capacity, l->dirty_pending_count,
                           sizeof *out->pending);
  if (rc == 0) rc = ensure((void **)&out->balances, &out->balances_capacity, l->history_count,
                           sizeof *out->balances);
  if (rc != 0) return rc;
  QP_ASSERT(tcap >= out->transfers_capacity);
  qp_ledger_changes_clear(out);
  for (uint64_t i = 0; i < l->dirty_accounts_count; i++) {
    uint32_t row = l->dirty_accounts[i];
    l->account_dirty[row] = 0;
    if (row < l->accounts_count) {
      out->account_rows[out->accounts_count] = row;
      out->accounts[out->accounts_count++] = l->accounts[row];
    }
  }
  if (new_transfers) {
    memcpy(out->transfers, l->transfers + l->taken_transfer_rows,
           new_transfers * sizeof *out->transfers);
    memcpy(out->transfer_states, l->transfer_states + l->taken_transfer_rows, new_transfers);
  }
  out->transfers_count = (uint32_t)new_transfers;
  for (uint64_t i = 0; i < l->dirty_pending_count; i++) {
    uint32_t row = qp__table_get(&l->transfer_index, l->dirty_pending[i]);
    QP_ASSERT(row != QP__TABLE_EMPTY); /* eviction keeps changed rows until taken */
    out->pending[out->pending_count].transfer_id = l->dirty_pending[i];
    out->pending[out->pending_count].state = l->transfer_states[row];
    out->pending_count++;
  }
  if (l->history_count) memcpy(out->balances, l->history, l->history_count * sizeof *l->history);
  out->balances_count = (uint32_t)l->history_count;
  l->dirty_accounts_count = 0;
  l->taken_transfer_rows = l->transfers_count;
  l->dirty_pending_count = 0;
  l->history_count = 0;
  return 0;
}
