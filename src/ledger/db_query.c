/*
 * db_query.c - reads: lookups (from memory, falling back to the index for
 * transfers that left it), account history (from the index, after waiting
 * for it to hold every acknowledged batch) and the audit.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "base/log.h"
#include "ledger/db_int.h"
#include "ledger/query.h"

/* -------------------------------------------------------------- queries */

int qp_db_lookup_accounts(qp_db_t *db, const qp_u128 *ids, uint32_t count, qp_account_t *out,
                          uint32_t *found_out) {
  if (db->stopped) return QP_ESTOPPED;
  uint32_t found = 0;
  pthread_rwlock_rdlock(&db->state_lock);
  for (uint32_t i = 0; i < count; i++)
    if (qp_ledger_lookup_account(db->ledger, ids[i], &out[found]) == 0) found++;
  pthread_rwlock_unlock(&db->state_lock);
  *found_out = found;
  return 0;
}

int qp_db_lookup_transfers(qp_db_t *db, const qp_u128 *ids, uint32_t count, qp_transfer_t *out,
                           qp_pending_state_t *states_out, uint32_t *found_out) {
  if (db->stopped) return QP_ESTOPPED;
  uint32_t found = 0;
  int rc = 0;
  MDB_txn *txn = NULL;
  pthread_rwlock_rdlock(&db->state_lock);
  for (uint32_t i = 0; i < count && rc == 0; i++) {
    qp_pending_state_t state;
    int got = qp_ledger_lookup_transfer(db->ledger, ids[i], &out[found], &state);
    /* Not in memory: stored in the index, if anywhere.  The transaction
     * starts under the state lock, so it sees every evicted row. */
    if (got == QP_ENOTFOUND && db->filter_on) {
      if (txn == NULL && mdb_txn_begin(db->index.env, NULL, MDB_RDONLY, &txn) != 0) {
        txn = NULL;
        rc = QP_EDB;
        break;
      }
      got = qp__index_get_transfer(&db->index, txn, ids[i], &out[found], &state);
      if (got != 0 && got != QP_ENOTFOUND) rc = got;
    }
    if (got == 0) {
      if (states_out) states_out[found] = state;
      found++;
    }
  }
  pthread_rwlock_unlock(&db->state_lock);
  if (txn) mdb_txn_abort(txn);
  *found_out = found;
  return rc;
}

static int check_filter(const qp_account_filter_t *f) {
  if (f->account_id == 0 || f->account_id == QP_U128_MAX) return QP_EINVAL;
  if (f->limit == 0 || f->limit > QP_QUERY_LIMIT_MAX) return QP_EINVAL;
  if (f->timestamp_max != 0 && f->timestamp_min > f->timestamp_max) return QP_EINVAL;
  if (f->flags & ~(QP_FILTER_DEBITS | QP_FILTER_CREDITS | QP_FILTER_REVERSED)) return QP_EINVAL;
  return 0;
}

int qp_db_get_account_transfers(qp_db_t *db, const qp_account_filter_t *f, qp_transfer_t *out,
                                uint32_t *count_out) {
  *count_out = 0;
  int rc = check_filter(f);
  if (rc != 0) return rc;
  if (db->stopped) return QP_ESTOPPED;
  if (db->options.open_journal == NULL) {
    /* Read-your-writes: wait until the index holds every acknowledged batch. */
    rc = qp_db_sync_index(db);
    if (rc == 0) rc = qp__index_account_transfers(&db->index, f, out, count_out);
    return rc;
  }
  pthread_rwlock_rdlock(&db->state_lock);
  rc = qp__history_query(&db->history, db->ledger, f, out, count_out);
  pthread_rwlock_unlock(&db->state_lock);
  return rc;
}

int qp_db_get_account_balances(qp_db_t *db, const qp_account_filter_t *f,
                               qp_account_balance_t *out, uint32_t *count_out) {
  *count_out = 0;
  int rc = check_filter(f);
  if (rc == 0 && db->options.open_journal != NULL) rc = QP_ENOTSUP; /* no index */
  if (rc == 0) rc = qp_db_sync_index(db);
  if (rc == 0) rc = qp__index_account_balances(&db->index, f, out, count_out);
  return rc;
}

/* ----------------------------------------------------------- submitters */

int qp_db_submitters(qp_db_t *db, const uint64_t *timestamps, uint32_t count, uint64_t *out) {
  for (uint32_t i = 0; i < count; i++) out[i] = 0;
  if (db->stopped) return QP_ESTOPPED;
  if (db->options.open_journal != NULL || count == 0) return 0; /* no index: none recorded */
  uint64_t newest = 0;
  for (uint32_t i = 0; i < count; i++)
    if (timestamps[i] > newest) newest = timestamps[i];
  pthread_mutex_lock(&db->ring_mutex);
  bool held = db->applied_ts >= newest;
  pthread_mutex_unlock(&db->ring_mutex);
  int rc = held ? 0 : qp_db_sync_index(db);
  if (rc == 0) rc = qp__index_submitters(&db->index, timestamps, count, out);
  return rc;
}

/* ---------------------------------------------------------------- query */

static int check_query(const qp_query_filter_t *f) {
  if (f->limit == 0 || f->limit > QP_QUERY_LIMIT_MAX) return QP_EINVAL;
  if (f->timestamp_max != 0 && f->timestamp_min > f->timestamp_max) return QP_EINVAL;
  if (f->flags & ~QP_QUERY_REVERSED) return QP_EINVAL;
  return 0;
}

typedef struct query_out {
  qp_db_t *db;
  void *rows;                  /* qp_account_t[] or qp_transfer_t[] */
  qp_pending_state_t *states;  /* transfers: may be NULL */
  uint32_t count;              /* rows filled */
} query_out_t;

/* An account row: its current state, from memory, where accounts are held
 * in timestamp order (the index gave the timestamp). */
static int account_row(void *ctx, uint64_t ts, const MDB_val *value) {
  query_out_t *q = ctx;
  (void)value;
  qp_account_t *out = (qp_account_t *)q->rows + q->count;
  pthread_rwlock_rdlock(&q->db->state_lock);
  int rc = qp_ledger_account_at(q->db->ledger, ts, out);
  pthread_rwlock_unlock(&q->db->state_lock);
  if (rc != 0) return QP_ECORRUPT; /* an entry for no such account */
  q->count++;
  return 0;
}

/* A transfer row, as stored (record and pending state). */
static int transfer_row(void *ctx, uint64_t ts, const MDB_val *value) {
  query_out_t *q = ctx;
  if (value->mv_size != QP_RECORD_SIZE + 1) return QP_ECORRUPT;
  qp_transfer_t *out = (qp_transfer_t *)q->rows + q->count;
  qp_transfer_decode(value->mv_data, out);
  if (out->timestamp != ts) return QP_ECORRUPT;
  if (q->states) q->states[q->count] = ((const uint8_t *)value->mv_data)[QP_RECORD_SIZE];
  q->count++;
  return 0;
}

static int run_query(qp_db_t *db, const qp_query_filter_t *f, bool accounts, query_out_t *q) {
  int rc = check_query(f);
  if (rc != 0) return rc;
  if (db->stopped) return QP_ESTOPPED;
  if (db->options.open_journal != NULL) return QP_ENOTSUP; /* no index */
  if (accounts && !qp__query_has_fields(f)) { /* every account: walked in memory */
    pthread_rwlock_rdlock(&db->state_lock);
    q->count = qp_ledger_accounts_between(db->ledger, f->timestamp_min, f->timestamp_max,
                                          f->flags & QP_QUERY_REVERSED, q->rows, f->limit);
    pthread_rwlock_unlock(&db->state_lock);
    return 0;
  }
  rc = qp_db_sync_index(db);
  if (rc == 0)
    rc = qp__index_query(&db->index, accounts, f, accounts ? account_row : transfer_row, q);
  return rc;
}

int qp_db_query_accounts(qp_db_t *db, const qp_query_filter_t *f, qp_account_t *out,
                         uint32_t *count_out) {
  query_out_t q = {db, out, NULL, 0};
  int rc = run_query(db, f, true, &q);
  *count_out = q.count;
  return rc;
}

int qp_db_query_transfers(qp_db_t *db, const qp_query_filter_t *f, qp_transfer_t *out,
                          qp_pending_state_t *states, uint32_t *count_out) {
  query_out_t q = {db, out, states, 0};
  int rc = run_query(db, f, false, &q);
  *count_out = q.count;
  return rc;
}

int qp_db_audit(qp_db_t *db, qp_db_audit_t *out, qp_ledger_totals_t *totals,
                uint32_t totals_capacity, uint32_t *totals_count) {
  memset(out, 0, sizeof *out);
  pthread_rwlock_rdlock(&db->state_lock);
  out->journal_seq = qp_journal_last_seq(db->journal);
  out->batches = out->journal_seq;
  out->events = db->stats_events;
  out->journal_bytes = qp_journal_size(db->journal);
  out->accounts = qp_ledger_account_count(db->ledger);
  out->transfers = qp_ledger_transfer_count(db->ledger);
  out->transfers_in_memory = qp_ledger_transfers_in_memory(db->ledger);
  qp_journal_head_hash(db->journal, out->head_hash);
  out->totals_balanced = qp_ledger_totals_balanced(db->ledger);
  int rc = 0;
  if (totals != NULL) rc = qp_ledger_totals(db->ledger, totals, totals_capacity, totals_count);
  pthread_rwlock_unlock(&db->state_lock);
  pthread_mutex_lock(&db->check_mutex);
  out->full_check_seq = db->checked_seq;
  out->full_check_ok = db->checked_ok;
  pthread_mutex_unlock(&db->check_mutex);
  QP_ASSERT(out->full_check_seq <= out->journal_seq);
  out->invariant_ok = out->totals_balanced && out->full_check_ok;
  return rc;
}

int qp_db_health(qp_db_t *db, qp_db_health_t *out) {
  memset(out, 0, sizeof *out);
  uint64_t now = qp__db_monotonic_ns();
  pthread_mutex_lock(&db->ring_mutex);
  out->journal_seq = db->durable_seq;
  out->index_seq = db->applied_seq;
  out->index_lag_ns = db->behind_since_ns != 0 ? now - db->behind_since_ns : 0;
  out->index_lag_events = db->durable_events - db->applied_events;
  out->index_lag_max = db->options.index_lag_max;
  out->index_waits = db->index_waits;
  out->index_wait_ns = db->index_wait_ns;
  out->last_commit_age_ns = db->last_commit_ns != 0 ? now - db->last_commit_ns : UINT64_MAX;
  pthread_mutex_unlock(&db->ring_mutex);
  out->stopped = qp_db_stopped(db);
  bool done = false;
  int rc = qp_db_verify_status(db, &done, NULL, 0);
  out->journal_check = rc != 0 ? -1 : done ? 1 : 0;
  return 0;
}
