/*
 * db_check.c - the full invariant check, kept off the audit's path.
 *
 * The audit (GET /v1/audit) answers from the running per-ledger totals in
 * O(ledgers), so it never walks every account while commits wait.  What
 * the running totals cannot vouch for - that they still equal the sums of
 * the accounts, and that the pending balances are exactly the amounts of
 * the transfers still pending - is what qp_ledger_check() recomputes.  It
 * runs here: at open, in a background thread every options.check_every_ms
 * if anything was committed meanwhile, and on demand (qp_db_check).  It
 * holds the state lock as a reader for O(accounts + transfers), so commits
 * wait for it; that is the price of a check that looks at a consistent
 * state, paid once a minute rather than once per audit.  The audit reports
 * the last verdict and the journal position it was taken at.
 */
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "base/log.h"
#include "ledger/db_int.h"

void qp__db_check_record(qp_db_t *db, uint64_t seq, bool holds) {
  pthread_mutex_lock(&db->check_mutex);
  /* Checks may finish out of order (on demand and background): keep the
   * newest position.  A broken invariant sticks: state that was once
   * wrong is not made right by later batches. */
  if (seq > db->checked_seq) db->checked_seq = seq;
  db->checked_ok = db->checked_ok && holds;
  pthread_mutex_unlock(&db->check_mutex);
}

int qp_db_check(qp_db_t *db, bool *holds) {
  bool ok = false;
  pthread_rwlock_rdlock(&db->state_lock);
  uint64_t seq = qp_journal_last_seq(db->journal);
  int rc = qp_ledger_check_invariant(db->ledger, &ok);
  pthread_rwlock_unlock(&db->state_lock);
  if (rc != 0) return rc;
  if (!ok)
    QP_LOG_ERROR("ledger", "the full invariant check failed at journal record %llu: the running "
                 "totals or the balances disagree with the accounts and pending transfers",
                 (unsigned long long)seq);
  qp__db_check_record(db, seq, ok);
  if (holds) *holds = ok;
  return 0;
}

/* Waits up to ms on check_cond (check_mutex held). */
static void wait_ms(qp_db_t *db, uint32_t ms) {
  struct timespec until;
  qp_clock_deadline_ts(ms, &until);
  pthread_cond_timedwait(&db->check_cond, &db->check_mutex, &until);
}

static uint64_t journal_seq(qp_db_t *db) {
  pthread_rwlock_rdlock(&db->state_lock);
  uint64_t seq = qp_journal_last_seq(db->journal);
  pthread_rwlock_unlock(&db->state_lock);
  return seq;
}

void *qp__db_checker_main(void *arg) {
  qp_db_t *db = arg;
  (void)pthread_setname_np(pthread_self(), "ledger-check"); /* top -H, perf */
  pthread_mutex_lock(&db->check_mutex);
  while (!db->check_closing) {
    wait_ms(db, db->options.check_every_ms);
    if (db->check_closing) break;
    uint64_t checked = db->checked_seq;
    pthread_mutex_unlock(&db->check_mutex);
    if (!db->stopped && journal_seq(db) != checked) {
      int rc = qp_db_check(db, NULL);
      if (rc != 0)
        QP_LOG_WARN("ledger", "background invariant check skipped: %s", qp_strerror(rc));
    }
    pthread_mutex_lock(&db->check_mutex);
  }
  pthread_mutex_unlock(&db->check_mutex);
  return NULL;
}
