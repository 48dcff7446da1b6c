/*
 * db_applier.c - the applier: the background thread that keeps the LMDB
 * index up to date.
 *
 * It takes everything changed since its last round (qp_ledger_take_changes)
 * and writes it in one transaction, so the slower the index, the larger and
 * cheaper per event its transactions get, and the commit path never waits
 * for it (unless it falls more than options.index_lag_max changes behind).
 * Once a round is stored, its transfer ids go into the id filter and - in
 * large steps - the stored transfers that can no longer change leave
 * memory (qp_ledger_evict).  After a crash the journal replays whatever
 * the index missed.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "base/log.h"
#include "ledger/db_int.h"

/* -------------------------------------------------------------- applier */

/* Takes everything changed since the last round, at a durable point: the
 * writer holds state_lock from apply to fsync, so holding it here means no
 * group is half done. */
/* What a round hands the index must follow the last round: the journal
 * position only advances, and the new transfers are in strictly increasing
 * timestamp order, all after the transfers already stored. */
static void assert_round(const qp_db_t *db, const qp__index_meta_t *meta, uint64_t prev_seq) {
  const qp_ledger_changes_t *c = &db->snapshot;
  QP_ASSERT(meta->applied_seq >= prev_seq);
  QP_ASSERT(meta->applied_seq > prev_seq || c->transfers_count == 0);
  uint64_t last = db->filter_cover;
  for (uint32_t i = 0; i < c->transfers_count; i++) {
    QP_ASSERT(c->transfers[i].timestamp > last);
    last = c->transfers[i].timestamp;
  }
  QP_ASSERT(last <= meta->last_timestamp);
}

static int take_snapshot(qp_db_t *db, qp__index_meta_t *meta, uint64_t *stored_rows) {
  pthread_rwlock_wrlock(&db->state_lock);
  int rc = db->stopped ? QP_ESTOPPED : qp_ledger_take_changes(db->ledger, &db->snapshot);
  if (rc == 0) {
    meta->applied_seq = qp_journal_last_seq(db->journal);
    qp_journal_head_hash(db->journal, meta->applied_hash);
    meta->last_timestamp = qp_ledger_last_timestamp(db->ledger);
    meta->applied_offset = qp_journal_size(db->journal);
    meta->events = db->stats_events;
    *stored_rows = qp_ledger_taken_rows(db->ledger);
    qp__subs_take(&db->subs, &db->snapshot_subs);
  }
  pthread_rwlock_unlock(&db->state_lock);
  if (rc == 0) assert_round(db, meta, db->taken_seq); /* taken_seq: only this thread writes it */
  return rc;
}

/* Stores a taken round: the index, with the changed accounts in its redo
 * log, in one LMDB transaction; then the accounts file.  *stage records how
 * far it got, so that a retry after a failure resumes there - the LMDB part
 * must not run twice, and no later round may be stored before the accounts
 * file has this one (its header would claim rows it lacks). */
int qp__db_store_round(qp_db_t *db, const qp__index_meta_t *meta, int *stage) {
  int rc = 0;
  if (*stage == 0) {
    rc = qp__index_apply(&db->index, &db->snapshot, &db->snapshot_subs, meta, db->accounts.seq);
    if (rc == 0) *stage = 1;
  }
  if (rc == 0 && *stage == 1) {
    const qp_ledger_changes_t *c = &db->snapshot;
    rc = qp__accounts_write(&db->accounts, c->accounts, c->account_rows, c->accounts_count,
                            meta->applied_seq);
    if (rc == 0) *stage = 2;
  }
  return rc;
}

/* After a round is stored: its transfer ids go into the filter (before
 * any of them can leave memory), then - in large steps - the stored rows
 * leave memory.  Only this thread adds to the filter; the writer reads it
 * concurrently (idfilter.h allows that), and eviction runs under the state
 * lock so the writer sees the additions before it can miss a row. */
void qp__db_after_store(qp_db_t *db, uint64_t stored_rows, bool evict) {
  const qp_ledger_changes_t *c = &db->snapshot;
  for (uint32_t i = 0; i < c->transfers_count; i++) {
    if (qp__idfilter_add(&db->filter, c->transfers[i].id) != 0) {
      /* Without the id in the filter the row must stay in memory. */
      QP_LOG_ERROR("ledger",
                   "out of memory growing the transfer id filter; transfers stay in memory");
      return;
    }
  }
  if (c->transfers_count) db->filter_cover = c->transfers[c->transfers_count - 1].timestamp;
  db->filter_unsaved += c->transfers_count;
  if (evict && stored_rows >= db->options.evict_min_rows) {
    pthread_rwlock_wrlock(&db->state_lock);
    if (!db->stopped) qp_ledger_evict(db->ledger, stored_rows);
    pthread_rwlock_unlock(&db->state_lock);
  }
}

/* Drops the index pages this process has mapped, at most every
 * TRIM_EVERY_NS: a long applier round reads pages all over the index, and
 * the writer calls this too so that they do not pile up within a round. */
void qp__db_maybe_trim(qp_db_t *db) {
  uint64_t now = qp__db_monotonic_ns(), last = atomic_load(&db->trimmed_at);
  if (now - last < TRIM_EVERY_NS || !atomic_compare_exchange_strong(&db->trimmed_at, &last, now))
    return;
  qp__index_trim(&db->index);
}

/* Saves the id filter so that a restart need not rebuild it from the whole
 * index: it covers every transfer up to filter_cover, and the restart adds
 * the index's transfers after that. */
void qp__db_save_filter(qp_db_t *db) {
  if (!db->filter_on || db->filter_unsaved == 0) return;
  int rc = qp__idfilter_save(&db->filter, db->filter_path, db->filter_cover);
  if (rc != 0) {
    QP_LOG_WARN("ledger",
                "cannot save the transfer id filter to %s (%s); the next start rebuilds it",
                db->filter_path, qp_strerror(rc));
    return;
  }
  db->filter_unsaved = 0;
}

/* A round after a bulk load (10M new accounts, say) leaves the snapshot's
 * arrays holding gigabytes that steady traffic never needs again: give
 * them back rather than keep the peak resident. */
void qp__db_release_large_snapshot(qp_db_t *db) {
  const uint32_t rows_max = 1u << 17;
  const qp_ledger_changes_t *c = &db->snapshot;
  if (c->accounts_capacity > rows_max || c->transfers_capacity > rows_max ||
      c->pending_capacity > rows_max || c->balances_capacity > rows_max)
    qp_ledger_changes_deinit(&db->snapshot);
}

/* Waits up to ms on ring_cond (ring_mutex held). */
static void wait_ms(qp_db_t *db, uint32_t ms) {
  struct timespec until;
  qp_clock_deadline_ts(ms, &until);
  pthread_cond_timedwait(&db->ring_cond, &db->ring_mutex, &until);
}

/* Small rounds are paced: under a trickle of small commits (batches of 1
 * from many connections: a thousand group commits a second) a round per
 * commit made the index an LMDB transaction and an fdatasync per commit,
 * a fifth of the machine's CPU on its own.  After a round the applier lets
 * changes gather for up to INDEX_PACE_MS, unless INDEX_PACE_EVENTS are
 * already waiting, a read waits for the index (qp_db_sync_index) or the
 * db closes: a bulk load never waits, a read never waits for the pace. */
#define INDEX_PACE_NS (5ull * 1000000ull)
#define INDEX_PACE_EVENTS 4096u

static void pace(qp_db_t *db, uint64_t last_round_ns) {
  uint64_t until = last_round_ns + INDEX_PACE_NS;
  for (;;) {
    if (db->closing || db->index_readers > 0) return;
    if (db->durable_events - db->applied_events >= INDEX_PACE_EVENTS) return;
    uint64_t now = qp__db_monotonic_ns();
    if (now >= until) return;
    uint32_t ms = (uint32_t)((until - now + 999999u) / 1000000u);
    wait_ms(db, ms);
  }
}

/* The applier: takes what changed, writes it to LMDB, repeats.  A failed
 * write (a full disk, say) keeps the snapshot and is retried with backoff,
 * so the index catches up by itself once space returns; meanwhile history
 * reads report the error.  Only fail-stop ends it early. */
void *qp__db_applier_main(void *arg) {
  qp_db_t *db = arg;
  (void)pthread_setname_np(pthread_self(), "ledger-index"); /* top -H, perf */
  qp__index_meta_t meta;
  bool held = false; /* a snapshot taken but not yet written */
  uint32_t backoff_ms = 0;
  uint64_t stored_rows = 0;
  int stage = 0; /* of the held snapshot, see store_round */
  uint64_t last_round_ns = 0;
  pthread_mutex_lock(&db->ring_mutex);
  for (;;) {
    if (!held) {
      while (db->taken_seq == db->durable_seq && !db->closing && backoff_ms == 0)
        pthread_cond_wait(&db->ring_cond, &db->ring_mutex);
      if (db->taken_seq == db->durable_seq && db->closing) break;
      if (backoff_ms == 0) pace(db, last_round_ns);
    }
    if (backoff_ms != 0) {
      if (db->closing && held) break; /* the next start replays it from the journal */
      wait_ms(db, backoff_ms);
    }
    pthread_mutex_unlock(&db->ring_mutex);
    int rc = 0;
    if (!held && (rc = take_snapshot(db, &meta, &stored_rows)) == 0) {
      held = true;
      stage = 0;
    }
    if (held && stage == 0 && db->options.applier_round_hook != NULL)
      db->options.applier_round_hook(db->options.applier_round_hook_ctx);
    if (held) rc = qp__db_store_round(db, &meta, &stage);
    if (held && rc == 0) {
      qp__db_after_store(db, stored_rows, true);
      if (db->filter_unsaved >= FILTER_SAVE_EVERY) qp__db_save_filter(db);
      qp__db_maybe_trim(db);
    }
    pthread_mutex_lock(&db->ring_mutex);
    if (held) db->taken_seq = meta.applied_seq;
    if (rc == QP_ESTOPPED) {
      db->applier_error = rc;
      pthread_cond_broadcast(&db->ring_cond);
      break;
    }
    if (rc != 0) {
      if (db->applier_error == 0)
        QP_LOG_ERROR("ledger", "index update failed (%s); retrying - the journal stays the truth",
                     qp_strerror(rc));
      db->applier_error = rc;
      backoff_ms = backoff_ms ? (backoff_ms * 2 > 2000 ? 2000 : backoff_ms * 2) : 50;
      pthread_cond_broadcast(&db->ring_cond);
      continue;
    }
    if (db->applier_error != 0) QP_LOG_INFO("ledger", "index caught up again");
    qp__db_release_large_snapshot(db);
    held = false;
    last_round_ns = qp__db_monotonic_ns();
    backoff_ms = 0;
    db->applier_error = 0;
    db->applied_seq = meta.applied_seq;
    db->applied_ts = meta.last_timestamp;
    db->applied_events = meta.events;
    if (db->applied_seq >= db->durable_seq) db->behind_since_ns = 0;
    pthread_cond_broadcast(&db->ring_cond);
  }
  pthread_mutex_unlock(&db->ring_mutex);
  if (db->applier_error == 0) qp__db_save_filter(db);
  return NULL;
}

static uint64_t untaken(qp_db_t *db) {
  pthread_rwlock_rdlock(&db->state_lock);
  uint64_t n = qp_ledger_untaken(db->ledger);
  pthread_rwlock_unlock(&db->state_lock);
  return n;
}

/* Blocks the writer while the index lags too far behind.  The round is
 * read before the lag: if the lag is still large then, the applier has not
 * taken those changes yet and will end its round by bumping applied_seq. */
void qp__db_wait_for_index_room(qp_db_t *db) {
  if (!db->applier_started) return;
  uint64_t since = 0;
  for (;;) {
    pthread_mutex_lock(&db->ring_mutex);
    uint64_t round = db->applied_seq;
    bool failed = db->applier_error != 0;
    pthread_mutex_unlock(&db->ring_mutex);
    if (failed || untaken(db) < db->options.index_lag_max) break;
    pthread_mutex_lock(&db->ring_mutex);
    if (since == 0) {
      since = qp__db_monotonic_ns();
      db->index_waits++;
    }
    while (db->applied_seq == round && db->applier_error == 0)
      pthread_cond_wait(&db->ring_cond, &db->ring_mutex);
    pthread_mutex_unlock(&db->ring_mutex);
  }
  if (since == 0) return;
  pthread_mutex_lock(&db->ring_mutex);
  db->index_wait_ns += qp__db_monotonic_ns() - since;
  pthread_mutex_unlock(&db->ring_mutex);
}

void qp__db_publish_durable(qp_db_t *db, uint64_t seq) {
  pthread_mutex_lock(&db->ring_mutex);
  db->durable_seq = seq;
  db->durable_events = db->stats_events; /* the writer's: it holds write_mutex */
  if (!db->applier_started) db->applied_seq = db->taken_seq = seq; /* no index */
  db->last_commit_ns = qp__db_monotonic_ns();
  if (db->applied_seq < seq && db->behind_since_ns == 0) db->behind_since_ns = db->last_commit_ns;
  pthread_cond_broadcast(&db->ring_cond);
  pthread_mutex_unlock(&db->ring_mutex);
}

int qp_db_sync_index(qp_db_t *db) {
  pthread_mutex_lock(&db->ring_mutex);
  uint64_t target = db->durable_seq;
  if (db->applied_seq < target && db->applier_error == 0) {
    db->index_readers++; /* the applier stops pacing (pace) */
    pthread_cond_broadcast(&db->ring_cond);
    while (db->applied_seq < target && db->applier_error == 0)
      pthread_cond_wait(&db->ring_cond, &db->ring_mutex);
    db->index_readers--;
  }
  int rc = db->applier_error;
  pthread_mutex_unlock(&db->ring_mutex);
  return rc;
}
