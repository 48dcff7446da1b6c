/*
 * changes.c - the buffer in which the state machine hands a batch's effects
 * to the index applier.  Capacities are the worst case of one batch (every
 * event touches two accounts, plus a full sweep of expiries) times the
 * number of batches a group commit may hold.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "ledger/ledger.h"

int qp_ledger_changes_init(qp_ledger_changes_t *c, uint32_t events_max) {
  memset(c, 0, sizeof *c);
  if (events_max == 0) return QP_EINVAL;
  uint64_t events = events_max;
  if (events * 2 > UINT32_MAX) return QP_ERANGE;
  c->accounts_capacity = (uint32_t)(events * 2);
  c->transfers_capacity = (uint32_t)events;
  c->pending_capacity = (uint32_t)events;
  c->balances_capacity = (uint32_t)(events * 2);
  c->accounts = qp_malloc(c->accounts_capacity * sizeof *c->accounts);
  c->transfers = qp_malloc(c->transfers_capacity * sizeof *c->transfers);
  c->transfer_states = qp_malloc(c->transfers_capacity);
  c->pending = qp_malloc(c->pending_capacity * sizeof *c->pending);
  c->balances = qp_malloc(c->balances_capacity * sizeof *c->balances);
  if (!c->accounts || !c->transfers || !c->transfer_states || !c->pending || !c->balances) {
    qp_ledger_changes_deinit(c);
    return QP_ENOMEM;
  }
  return 0;
}

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
