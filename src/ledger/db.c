/*
 * db.c - the durable ledger: the pure state machine, the journal and the
 * LMDB index put together.
 *
 * The commit point is the journal.  qp_db_execute() applies a group of
 * batches to the in-memory state, stages their events as journal records,
 * and writes and fdatasyncs them once; only then are results returned.
 * The state lock is held across that fsync, so no reader can observe a
 * batch that is not yet durable.  The LMDB index is brought up to date by a
 * background thread: it takes everything changed since its last round
 * (qp_ledger_take_changes) and writes it in one transaction, so the slower
 * the index, the larger and cheaper per event its transactions get, and
 * the commit path never waits for it (unless it falls more than
 * options.index_lag_max changes behind).  After a crash the journal replays
 * whatever the index missed.
 *
 * The index is also where transfers go when they leave memory: once the
 * applier has stored a round, it evicts from the state machine the
 * transfers that can no longer change (qp_ledger_evict), adds their ids to
 * an in-memory filter (idfilter.h), and the state machine asks the index
 * for an id only when the filter says it may be there.  So memory holds the
 * accounts, the pending transfers and the not-yet-stored tail; a restart
 * loads just those from the index and replays the journal after the index's
 * position.  The journal before that position is re-hashed at open, or for
 * a long journal by a background thread that fail-stops the db if it finds
 * damage (options.verify_sync_max).
 *
 * Disk-full is detected before anything is applied (journal space is
 * reserved ahead with fallocate), so it is an ordinary, recoverable error.
 * A failed write or fsync is not: the state in memory is then ahead of
 * what is known to be on disk, so the db stops accepting writes for good
 * (fail-stop) and recovery at the next open decides what survived.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "base/log.h"
#include "ledger/accounts.h"
#include "ledger/history.h"
#include "ledger/idfilter.h"
#include "ledger/index.h"
#include "ledger/replay.h"
#include "store/store.h"

/* One group commit holds at most this many events and records. */
#define GROUP_EVENTS_MAX (4u * QP_BATCH_EVENTS_MAX)
#define GROUP_RECORDS_MAX 4096u
/* By default the writer waits for the index once this many changes are
 * untaken (bounds the applier's snapshot memory). */
#define INDEX_LAG_MAX_DEFAULT (4u << 20)
/* The applier evicts once a round leaves at least this many stored rows in
 * memory: each eviction is O(rows in memory), so it runs in large steps. */
#define EVICT_MIN_ROWS (256u << 10)
/* The id filter is saved (for a fast restart) after this many new ids. */
#define FILTER_SAVE_EVERY (4u << 20)
/* The id filter's first generation (grows by doubling past it). */
#define FILTER_CAPACITY (32u << 20)
#define VERIFY_SYNC_MAX_DEFAULT ((uint64_t)256 << 20)
#define TRIM_EVERY_NS 250000000ull
#define PATH_MAX_LEN 4096

struct qp_db {
  char dir[PATH_MAX_LEN];          /* data directory */
  int lock_fd;                     /* quipu.lock, or -1 */
  qp_db_options_t options;         /* as given, defaults filled */
  qp_ledger_t *ledger;             /* the state */
  qp_journal_t *journal;           /* the truth */
  qp__index_t index;               /* derived */
  qp__accounts_file_t accounts;    /* derived: the accounts checkpoint (accounts.h) */
  pthread_rwlock_t state_lock;     /* readers vs the committing writer */
  pthread_mutex_t write_mutex;     /* one group commit at a time */
  uint64_t stats_events;           /* events in the journal */
  _Atomic bool stopped;            /* fail-stop after a write/sync error */

  qp__history_t history;           /* each account's transfers, simulated mode only (state_lock) */

  /* The cold store (not in simulated mode). */
  qp__idfilter_t filter;           /* ids of every stored transfer; the applier adds */
  bool filter_on;                  /* filter initialised (not in simulated mode) */
  MDB_txn *cold_txn;               /* the writer's read transaction for cold lookups */
  bool cold_txn_live;              /* renewed during the current group */
  char filter_path[PATH_MAX_LEN + 64]; /* where the filter is saved */
  uint64_t filter_cover;           /* transfers up to this timestamp are in the filter */
  uint64_t filter_unsaved;         /* ids added since the last save */

  _Atomic uint64_t trimmed_at;    /* last qp__index_trim (monotonic ns) */

  /* The background check of the journal prefix. */
  pthread_t verifier;              /* thread */
  bool verifier_started;           /* thread exists */
  _Atomic bool verifier_stop;      /* close asks it to stop */
  _Atomic int verify_rc;           /* 0 running/passed, else what it found */
  _Atomic bool verify_done;        /* finished */
  char verify_detail[512];         /* what it found (written before verify_done) */
  qp__index_meta_t opened;         /* the index's position at open */

  /* The applier thread and what it shares with the writer. */
  pthread_t applier;               /* thread */
  bool applier_started;            /* thread exists */
  qp_ledger_changes_t snapshot;    /* the applier's buffer */
  pthread_mutex_t ring_mutex;      /* guards the fields below */
  pthread_cond_t ring_cond;        /* signalled on any change below */
  uint64_t durable_seq;            /* last journal seq on disk */
  uint64_t taken_seq;              /* last journal seq the applier took */
  uint64_t applied_seq;            /* last journal seq in the index */
  int applier_error;               /* the last index write failed with this (0 = healthy) */
  bool closing;                    /* applier should drain and exit */
};

static uint64_t default_clock(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void set_detail(char *detail, size_t size, const char *fmt, const char *a, const char *b) {
  if (detail && size) snprintf(detail, size, fmt, a, b);
}

/* -------------------------------------------------------------- applier */

/* Takes everything changed since the last round, at a durable point: the
 * writer holds state_lock from apply to fsync, so holding it here means no
 * group is half done. */
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
  }
  pthread_rwlock_unlock(&db->state_lock);
  return rc;
}

/* Stores a taken round: the index, with the changed accounts in its redo
 * log, in one LMDB transaction; then the accounts file.  *stage records how
 * far it got, so that a retry after a failure resumes there - the LMDB part
 * must not run twice, and no later round may be stored before the accounts
 * file has this one (its header would claim rows it lacks). */
static int store_round(qp_db_t *db, const qp__index_meta_t *meta, int *stage) {
  int rc = 0;
  if (*stage == 0) {
    rc = qp__index_apply(&db->index, &db->snapshot, meta, db->accounts.seq);
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
static void after_store(qp_db_t *db, uint64_t stored_rows, bool evict) {
  const qp_ledger_changes_t *c = &db->snapshot;
  for (uint32_t i = 0; i < c->transfers_count; i++) {
    if (qp__idfilter_add(&db->filter, c->transfers[i].id) != 0) {
      /* Without the id in the filter the row must stay in memory. */
      QP_LOG_ERROR("ledger", "out of memory growing the transfer id filter; transfers stay in memory");
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
static void maybe_trim(qp_db_t *db) {
  uint64_t now = monotonic_ns(), last = atomic_load(&db->trimmed_at);
  if (now - last < TRIM_EVERY_NS || !atomic_compare_exchange_strong(&db->trimmed_at, &last, now))
    return;
  qp__index_trim(&db->index);
}

/* Saves the id filter so that a restart need not rebuild it from the whole
 * index: it covers every transfer up to filter_cover, and the restart adds
 * the index's transfers after that. */
static void save_filter(qp_db_t *db) {
  if (!db->filter_on || db->filter_unsaved == 0) return;
  int rc = qp__idfilter_save(&db->filter, db->filter_path, db->filter_cover);
  if (rc != 0) {
    QP_LOG_WARN("ledger", "cannot save the transfer id filter to %s (%s); the next start rebuilds it",
                db->filter_path, qp_strerror(rc));
    return;
  }
  db->filter_unsaved = 0;
}

/* A round after a bulk load (10M new accounts, say) leaves the snapshot's
 * arrays holding gigabytes that steady traffic never needs again: give
 * them back rather than keep the peak resident. */
static void release_large_snapshot(qp_db_t *db) {
  const uint32_t rows_max = 1u << 17;
  const qp_ledger_changes_t *c = &db->snapshot;
  if (c->accounts_capacity > rows_max || c->transfers_capacity > rows_max ||
      c->pending_capacity > rows_max || c->balances_capacity > rows_max)
    qp_ledger_changes_deinit(&db->snapshot);
}

/* Waits up to ms on ring_cond (ring_mutex held). */
static void wait_ms(qp_db_t *db, uint32_t ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_cond_timedwait(&db->ring_cond, &db->ring_mutex, &until);
}

/* The applier: takes what changed, writes it to LMDB, repeats.  A failed
 * write (a full disk, say) keeps the snapshot and is retried with backoff,
 * so the index catches up by itself once space returns; meanwhile history
 * reads report the error.  Only fail-stop ends it early. */
static void *applier_main(void *arg) {
  qp_db_t *db = arg;
  qp__index_meta_t meta;
  bool held = false; /* a snapshot taken but not yet written */
  uint32_t backoff_ms = 0;
  uint64_t stored_rows = 0;
  int stage = 0; /* of the held snapshot, see store_round */
  pthread_mutex_lock(&db->ring_mutex);
  for (;;) {
    if (!held) {
      while (db->taken_seq == db->durable_seq && !db->closing && backoff_ms == 0)
        pthread_cond_wait(&db->ring_cond, &db->ring_mutex);
      if (db->taken_seq == db->durable_seq && db->closing) break;
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
    if (held) rc = store_round(db, &meta, &stage);
    if (held && rc == 0) {
      after_store(db, stored_rows, true);
      if (db->filter_unsaved >= FILTER_SAVE_EVERY) save_filter(db);
      maybe_trim(db);
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
    release_large_snapshot(db);
    held = false;
    backoff_ms = 0;
    db->applier_error = 0;
    db->applied_seq = meta.applied_seq;
    pthread_cond_broadcast(&db->ring_cond);
  }
  pthread_mutex_unlock(&db->ring_mutex);
  if (db->applier_error == 0) save_filter(db);
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
static void wait_for_index_room(qp_db_t *db) {
  if (!db->applier_started) return;
  for (;;) {
    pthread_mutex_lock(&db->ring_mutex);
    uint64_t round = db->applied_seq;
    bool failed = db->applier_error != 0;
    pthread_mutex_unlock(&db->ring_mutex);
    if (failed || untaken(db) < db->options.index_lag_max) return;
    pthread_mutex_lock(&db->ring_mutex);
    while (db->applied_seq == round && db->applier_error == 0)
      pthread_cond_wait(&db->ring_cond, &db->ring_mutex);
    pthread_mutex_unlock(&db->ring_mutex);
  }
}

static void publish_durable(qp_db_t *db, uint64_t seq) {
  pthread_mutex_lock(&db->ring_mutex);
  db->durable_seq = seq;
  if (!db->applier_started) db->applied_seq = db->taken_seq = seq; /* no index */
  pthread_cond_broadcast(&db->ring_cond);
  pthread_mutex_unlock(&db->ring_mutex);
}

int qp_db_sync_index(qp_db_t *db) {
  pthread_mutex_lock(&db->ring_mutex);
  uint64_t target = db->durable_seq;
  while (db->applied_seq < target && db->applier_error == 0)
    pthread_cond_wait(&db->ring_cond, &db->ring_mutex);
  int rc = db->applier_error;
  pthread_mutex_unlock(&db->ring_mutex);
  return rc;
}

/* ----------------------------------------------------------- cold store */

/* The state machine's cold store: the filter rules out nearly every new
 * id in one cache miss; a possible match is looked up in the index through
 * one read transaction per group, renewed at the group's first use (so it
 * sees every round stored - and so every eviction made - before the group
 * started). */
static int cold_lookup(void *ctx, qp_u128 id, qp_transfer_t *out, qp_pending_state_t *state) {
  qp_db_t *db = ctx;
  if (!qp__idfilter_may_contain(&db->filter, id)) return QP_ENOTFOUND;
  if (!db->cold_txn_live) {
    int rc = db->cold_txn ? mdb_txn_renew(db->cold_txn)
                          : mdb_txn_begin(db->index.env, NULL, MDB_RDONLY, &db->cold_txn);
    if (rc != 0) return QP_EDB;
    db->cold_txn_live = true;
  }
  return qp__index_get_transfer(&db->index, db->cold_txn, id, out, state);
}

/* Ends the group's read transaction, so it does not pin old index pages. */
static void cold_release(qp_db_t *db) {
  if (!db->cold_txn_live) return;
  mdb_txn_reset(db->cold_txn);
  db->cold_txn_live = false;
}

/* --------------------------------------------------------- group commit */

static uint32_t request_bytes(const qp_db_request_t *r) {
  return QP_JOURNAL_HEADER_SIZE + r->count * QP_RECORD_SIZE;
}

static bool request_valid(const qp_db_request_t *r) {
  if (r->op == QP_OP_EXPIRE) return r->count == 0;
  if (r->op != QP_OP_CREATE_ACCOUNTS && r->op != QP_OP_CREATE_TRANSFERS) return false;
  return r->count >= 1 && r->count <= QP_BATCH_EVENTS_MAX && r->events && r->results;
}

/* Applies one request and stages its journal record. */
static int apply_request(qp_db_t *db, qp_db_request_t *r, uint64_t now) {
  int rc;
  if (r->op == QP_OP_CREATE_ACCOUNTS)
    rc = qp_ledger_create_accounts(db->ledger, now, r->events, r->count, r->results);
  else if (r->op == QP_OP_CREATE_TRANSFERS)
    rc = qp_ledger_create_transfers(db->ledger, now, r->events, r->count, r->results);
  else {
    uint32_t expired = 0;
    rc = qp_ledger_expire(db->ledger, now, &expired);
    if (rc == 0 && expired == 0) return 0; /* nothing to journal */
  }
  if (rc != 0) return rc;
  uint8_t *body = qp_journal_stage(db->journal, r->op, r->count, now, r->count * QP_RECORD_SIZE);
  QP_ASSERT(body != NULL); /* room was checked before applying */
  for (uint32_t i = 0; i < r->count; i++) {
    if (r->op == QP_OP_CREATE_ACCOUNTS)
      qp_account_encode(body + (size_t)i * QP_RECORD_SIZE, (const qp_account_t *)r->events + i);
    else
      qp_transfer_encode(body + (size_t)i * QP_RECORD_SIZE, (const qp_transfer_t *)r->events + i);
  }
  db->stats_events += r->count;
  return 0;
}

/* Commits requests [0, n) as one group: n was chosen to fit. */
static int commit_group(qp_db_t *db, qp_db_request_t *reqs, uint32_t n, uint64_t bytes) {
  uint64_t now = db->options.clock_ns(db->options.clock_ctx);
  int rc = qp_journal_reserve(db->journal, bytes + QP_JOURNAL_HEADER_SIZE);
  if (rc != 0) {
    for (uint32_t i = 0; i < n; i++)
      if (reqs[i].status == 0) reqs[i].status = rc; /* keep a malformed request's QP_EINVAL */
    return rc;
  }
  wait_for_index_room(db);
  pthread_rwlock_wrlock(&db->state_lock);
  uint64_t due = qp_ledger_next_expiry(db->ledger);
  if (due != 0 && due <= now) {
    qp_db_request_t sweep = {.op = QP_OP_EXPIRE};
    rc = apply_request(db, &sweep, now);
    QP_ASSERT(rc == 0);
  }
  for (uint32_t i = 0; i < n; i++)
    if (reqs[i].status == 0) reqs[i].status = apply_request(db, &reqs[i], now);
  if (db->options.open_journal != NULL && qp__history_update(&db->history, db->ledger) != 0)
    QP_LOG_ERROR("ledger", "out of memory for the account history index; history queries fail");
  cold_release(db);
  rc = qp_ledger_cold_error(db->ledger);
  if (rc != 0) {
    /* A transfer the index holds could not be read: results may be wrong,
     * so nothing of this group may become durable. */
    db->stopped = true;
    QP_LOG_ERROR("ledger", "reading a stored transfer from the index failed (%s): refusing all "
                 "writes from now on (fail-stop); restart to recover from the journal",
                 qp_strerror(rc));
  }
  if (rc == 0) rc = qp_journal_commit(db->journal);
  if (rc != 0 && !db->stopped) {
    db->stopped = true;
    QP_LOG_ERROR("ledger", "journal write/fsync failed (%s): refusing all writes from now on "
                 "(fail-stop); restart to recover from the journal", qp_strerror(rc));
  }
  pthread_rwlock_unlock(&db->state_lock);
  if (rc != 0) {
    for (uint32_t i = 0; i < n; i++)
      if (reqs[i].status == 0) reqs[i].status = QP_ESTOPPED;
    return rc;
  }
  publish_durable(db, qp_journal_last_seq(db->journal));
  if (db->options.open_journal == NULL) maybe_trim(db);
  return 0;
}

int qp_db_execute(qp_db_t *db, qp_db_request_t *reqs, uint32_t count) {
  pthread_mutex_lock(&db->write_mutex);
  int rc = 0;
  for (uint32_t i = 0; i < count; i++) reqs[i].status = request_valid(&reqs[i]) ? 0 : QP_EINVAL;
  uint32_t start = 0;
  while (start < count && rc == 0) {
    if (db->stopped) {
      rc = QP_ESTOPPED;
      break;
    }
    uint32_t n = 0, events = 0;
    uint64_t bytes = 0;
    while (start + n < count && n < GROUP_RECORDS_MAX - 1) {
      const qp_db_request_t *r = &reqs[start + n];
      uint32_t c = r->status == 0 ? r->count : 0;
      if (n > 0 && events + c > GROUP_EVENTS_MAX) break;
      events += c;
      bytes += r->status == 0 ? request_bytes(r) : 0;
      n++;
    }
    rc = commit_group(db, reqs + start, n, bytes);
    start += n;
  }
  for (uint32_t i = start; i < count; i++)
    if (reqs[i].status == 0) reqs[i].status = rc;
  pthread_mutex_unlock(&db->write_mutex);
  return rc;
}

int qp_db_create_accounts(qp_db_t *db, const qp_account_t *events, uint32_t count,
                          uint32_t *results) {
  qp_db_request_t r = {.op = QP_OP_CREATE_ACCOUNTS, .events = events, .count = count, .results = results};
  int rc = qp_db_execute(db, &r, 1);
  return rc != 0 ? rc : r.status;
}

int qp_db_create_transfers(qp_db_t *db, const qp_transfer_t *events, uint32_t count,
                           uint32_t *results) {
  qp_db_request_t r = {.op = QP_OP_CREATE_TRANSFERS, .events = events, .count = count, .results = results};
  int rc = qp_db_execute(db, &r, 1);
  return rc != 0 ? rc : r.status;
}

bool qp_db_stopped(const qp_db_t *db) { return db->stopped; }

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

int qp_db_audit(qp_db_t *db, qp_db_audit_t *out, qp_ledger_totals_t *totals,
                uint32_t totals_capacity, uint32_t *totals_count) {
  memset(out, 0, sizeof *out);
  pthread_rwlock_rdlock(&db->state_lock);
  out->batches = qp_journal_last_seq(db->journal);
  out->events = db->stats_events;
  out->journal_bytes = qp_journal_size(db->journal);
  out->accounts = qp_ledger_account_count(db->ledger);
  out->transfers = qp_ledger_transfer_count(db->ledger);
  out->transfers_in_memory = qp_ledger_transfers_in_memory(db->ledger);
  qp_journal_head_hash(db->journal, out->head_hash);
  out->invariant_ok = qp_ledger_check(db->ledger);
  int rc = 0;
  if (totals != NULL) rc = qp_ledger_totals(db->ledger, totals, totals_capacity, totals_count);
  pthread_rwlock_unlock(&db->state_lock);
  return rc;
}

/* ------------------------------------------------------------ recovery */

typedef struct recover_ctx {
  qp_db_t *db;
  qp__index_meta_t meta;         /* the index's position */
  qp__replay_scratch_t *scratch; /* decode space */
  uint64_t replayed;             /* records replayed */
  char *detail;                  /* error detail */
  size_t detail_size;
} recover_ctx_t;

static int recover_visit(void *vctx, const qp_journal_record_t *rec) {
  recover_ctx_t *c = vctx;
  c->db->stats_events += rec->count;
  if (rec->seq < c->meta.applied_seq) return 0;
  if (rec->seq == c->meta.applied_seq) {
    if (memcmp(rec->hash, c->meta.applied_hash, QP_HASH_SIZE) != 0) {
      if (c->detail)
        snprintf(c->detail, c->detail_size,
                 "journal record %llu at offset %llu does not match the index (different hash): "
                 "the journal or the index was altered",
                 (unsigned long long)rec->seq, (unsigned long long)rec->offset);
      return QP_ECORRUPT;
    }
    return 0;
  }
  int rc = qp__replay_record(c->db->ledger, rec, c->scratch);
  if (rc != 0 && c->detail)
    snprintf(c->detail, c->detail_size, "replaying journal record %llu at offset %llu: %s",
             (unsigned long long)rec->seq, (unsigned long long)rec->offset, qp_strerror(rc));
  c->replayed += rc == 0;
  return rc;
}

/* Decides what a damaged journal means; 0 if it is a torn tail to cut. */
static int judge_damage(const qp_journal_scan_t *scan, uint64_t index_seq, char *detail,
                        size_t detail_size) {
  if (scan->problem != 0) {
    bool committed = scan->problem_seq <= index_seq;
    if (scan->problem == QP_ECORRUPT || committed) {
      if (detail)
        snprintf(detail, detail_size, "journal damaged inside committed history: %s%s", scan->detail,
                 committed ? " (the index shows this record was committed)" : "");
      return QP_ECORRUPT;
    }
  }
  if (index_seq > scan->last_seq) {
    if (detail)
      snprintf(detail, detail_size,
               "journal ends at record %llu but the index has applied record %llu: committed "
               "records are missing from the journal",
               (unsigned long long)scan->last_seq, (unsigned long long)index_seq);
    return QP_ECORRUPT;
  }
  return 0;
}

/* Reads the journal, replays what the index lacks, cuts a torn tail. */
static int recover(qp_db_t *db, qp_io_t *io, qp_db_recovery_t *rep, char *detail,
                   size_t detail_size, qp_journal_scan_t *scan) {
  recover_ctx_t c = {.db = db, .detail = detail, .detail_size = detail_size};
  bool indexed = db->options.open_journal == NULL;
  int rc = indexed ? qp__index_read_meta(&db->index, &c.meta) : 0;
  if (rc != 0) {
    set_detail(detail, detail_size, "%s%s", "index metadata is unreadable", "");
    return rc;
  }
  qp_ledger_restore_clock(db->ledger, c.meta.last_timestamp);
  uint64_t index_seq = c.meta.applied_seq;
  /* The index knows where its last record ends: read only what follows
   * (the prefix is re-hashed separately, see verify_prefix). */
  bool tail_only = indexed && c.meta.applied_seq > 0 && c.meta.applied_offset > 0;
  if (tail_only) db->stats_events = c.meta.events;
  else c.meta.applied_offset = 0;
  db->opened = c.meta;
  c.scratch = qp_malloc(sizeof *c.scratch);
  if (c.scratch == NULL) rc = QP_ENOMEM;
  else if (tail_only)
    rc = qp_journal_scan_from(io, c.meta.applied_offset, c.meta.applied_seq, c.meta.applied_hash,
                              recover_visit, &c, scan);
  else rc = qp_journal_scan(io, recover_visit, &c, scan);
  qp_free(c.scratch);
  /* Replay may have read stored transfers: release that snapshot of the
   * index, and refuse a replay whose reads failed (its state is suspect). */
  cold_release(db);
  int cold_rc = qp_ledger_cold_error(db->ledger);
  if (rc == 0 && cold_rc != 0) {
    set_detail(detail, detail_size, "reading stored transfers during replay failed: %s%s",
               qp_strerror(cold_rc), "");
    rc = cold_rc;
  }
  if (rc == 0) rc = judge_damage(scan, index_seq, detail, detail_size);
  /* What was just read may exist only in the page cache: a process killed
   * between its journal write and its fdatasync leaves such records behind.
   * Make them durable before the index, a reader or the next append relies
   * on them, or a power loss now would take back what this process served
   * (and leave the index ahead of the journal: refused as corruption). */
  if (rc == 0) rc = io->sync(io->ctx);
  if (rc == 0 && c.replayed > 0 && indexed) {
    /* One transaction brings the index to the end of the journal. */
    c.meta.applied_seq = scan->last_seq;
    memcpy(c.meta.applied_hash, scan->last_hash, QP_HASH_SIZE);
    c.meta.last_timestamp = qp_ledger_last_timestamp(db->ledger);
    c.meta.applied_offset = scan->valid_bytes;
    c.meta.events = db->stats_events;
    int stage = 0;
    rc = qp_ledger_take_changes(db->ledger, &db->snapshot);
    if (rc == 0) rc = store_round(db, &c.meta, &stage);
    if (rc == 0) after_store(db, 0, false);
    release_large_snapshot(db);
  }
  if (rc != 0) return rc;
  rep->journal_bytes = scan->valid_bytes;
  rep->batches = scan->last_seq;
  rep->replayed_batches = c.replayed;
  if (scan->problem == QP_ETORN) {
    rep->torn_offset = scan->problem_offset;
    rep->torn_bytes = scan->file_size - scan->valid_bytes;
    QP_LOG_WARN("ledger", "journal: %s; truncating %llu bytes of unacknowledged tail", scan->detail,
                (unsigned long long)rep->torn_bytes);
    rc = io->truncate(io->ctx, scan->valid_bytes);
    if (rc == 0) rc = io->sync(io->ctx);
  }
  return rc;
}

/* ---------------------------------------------------------------- open */

static int init_sync(qp_db_t *db) {
  if (pthread_rwlock_init(&db->state_lock, NULL) != 0) return QP_ENOMEM;
  if (pthread_mutex_init(&db->write_mutex, NULL) != 0) return QP_ENOMEM;
  if (pthread_mutex_init(&db->ring_mutex, NULL) != 0) return QP_ENOMEM;
  if (pthread_cond_init(&db->ring_cond, NULL) != 0) return QP_ENOMEM;
  qp__history_init(&db->history);
  return 0;
}

static int filter_add(void *ctx, qp_u128 id) { return qp__idfilter_add(ctx, id); }

/* Loads the saved id filter and adds the index's transfers stored after
 * it was saved - or, without a usable file, builds it from every stored
 * id (slower: a full pass over the id table). */
static int open_filter(qp_db_t *db, const char *state_dir, char *detail, size_t detail_size) {
  snprintf(db->filter_path, sizeof db->filter_path, "%s/idfilter", state_dir);
  qp__index_meta_t meta;
  int rc = qp__index_read_meta(&db->index, &meta);
  if (rc != 0) return rc;
  uint64_t cover = 0, from = 0;
  char why[256] = "";
  rc = qp__idfilter_load(db->filter_path, &db->filter, &cover, why, sizeof why);
  db->filter_on = rc == 0;
  if (rc == 0) {
    from = cover + 1;
  } else {
    if (rc != QP_ENOTFOUND)
      QP_LOG_WARN("ledger", "transfer id filter %s unusable (%s); rebuilding it from the index",
                  db->filter_path, why);
    rc = qp__idfilter_init(&db->filter, FILTER_CAPACITY);
    db->filter_on = rc == 0;
    cover = 0;
  }
  uint64_t before = rc == 0 ? qp__idfilter_count(&db->filter) : 0;
  if (rc == 0) rc = qp__index_each_transfer_id(&db->index, from, filter_add, &db->filter);
  if (rc != 0) {
    set_detail(detail, detail_size, "cannot build the transfer id filter from %s: %s", state_dir,
               qp_strerror(rc));
    return rc;
  }
  db->filter_unsaved = qp__idfilter_count(&db->filter) - before;
  db->filter_cover = meta.last_timestamp > cover ? meta.last_timestamp : cover;
  return 0;
}

/* Loads the accounts: the accounts file, then the rounds of the redo log it
 * lacks (written back to it). */
static int load_accounts(qp_db_t *db, const char *state_dir, char *detail, size_t detail_size) {
  qp__index_meta_t meta;
  bool created = false;
  int rc = qp__index_read_meta(&db->index, &meta);
  if (rc == 0) rc = qp__accounts_open(&db->accounts, state_dir, false, &created, detail, detail_size);
  if (rc != 0) return rc;
  if (created && meta.applied_seq > 0) {
    /* An index without its accounts file - written by an older version,
     * or the file was lost - cannot be trusted as a whole: start it again
     * and let recovery replay the whole journal into it. */
    QP_LOG_WARN("ledger", "%s: the index has no accounts file (an older version wrote it, or the file "
                "was lost); rebuilding the index from the journal", state_dir);
    rc = qp__index_reset(&db->index);
    if (rc != 0) set_detail(detail, detail_size, "cannot reset the index in %s: %s", state_dir,
                            qp_strerror(rc));
    return rc;
  }
  if (created) return 0;
  if (db->accounts.seq > meta.applied_seq) {
    set_detail(detail, detail_size, "%s is ahead of the index (it was rebuilt or replaced); remove "
               "%s to rebuild the index from the journal", db->accounts.path, state_dir);
    return QP_ECORRUPT;
  }
  qp__accounts_redo_t redo;
  rc = qp__accounts_load(&db->accounts, &db->index, db->ledger, &redo);
  /* The file brought up to the log's last round. */
  if (rc == 0 && redo.count > 0)
    rc = qp__accounts_write(&db->accounts, redo.accounts, redo.rows, (uint32_t)redo.count,
                            redo.last_seq);
  qp__accounts_redo_free(&redo);
  if (rc != 0) set_detail(detail, detail_size, "cannot load the accounts from %s: %s",
                          db->accounts.path, qp_strerror(rc));
  return rc;
}

/* Opens the LMDB index and loads the state from it. */
static int open_index(qp_db_t *db, char *detail, size_t detail_size) {
  char state_dir[PATH_MAX_LEN + 32];
  snprintf(state_dir, sizeof state_dir, "%s/ledger/state", db->dir);
  int rc = qp_mkdir_p(state_dir);
  if (rc != 0) {
    set_detail(detail, detail_size, "cannot create %s: %s", state_dir, qp_strerror(rc));
    return rc;
  }
  uint64_t t0 = monotonic_ns();
  rc = qp__index_open(&db->index, state_dir, db->options.index_map_size, false, detail, detail_size);
  if (rc != 0) return rc;
  rc = load_accounts(db, state_dir, detail, detail_size);
  if (rc != 0) return rc;
  uint64_t t1 = monotonic_ns();
  rc = qp__index_load(&db->index, db->ledger);
  if (rc != 0) set_detail(detail, detail_size, "cannot load the index in %s: %s", state_dir, qp_strerror(rc));
  uint64_t t2 = monotonic_ns();
  if (rc == 0) rc = open_filter(db, state_dir, detail, detail_size);
  qp__index_trim(&db->index); /* the loads read many index pages */
  if (rc == 0)
    QP_LOG_INFO("ledger", "loaded %llu accounts in %llu ms, %llu pending transfers in %llu ms, the "
                "transfer id filter (%llu ids) in %llu ms",
                (unsigned long long)qp_ledger_account_count(db->ledger),
                (unsigned long long)((t1 - t0) / 1000000u),
                (unsigned long long)qp_ledger_transfers_in_memory(db->ledger),
                (unsigned long long)((t2 - t1) / 1000000u),
                (unsigned long long)qp__idfilter_count(&db->filter),
                (unsigned long long)((monotonic_ns() - t2) / 1000000u));
  return rc;
}

/* Where the journal lives (the writer's handle and the prefix check). */
static void journal_path(const qp_db_t *db, char *out, size_t size) {
  snprintf(out, size, "%s/ledger/journal", db->dir);
}

static int open_journal_file(qp_db_t *db, qp_io_t *io, char *detail, size_t detail_size) {
  if (db->options.open_journal != NULL) return db->options.open_journal(db->options.open_journal_ctx, io);
  char ledger_dir[PATH_MAX_LEN + 16], journal[PATH_MAX_LEN + 32];
  snprintf(ledger_dir, sizeof ledger_dir, "%s/ledger", db->dir);
  journal_path(db, journal, sizeof journal);
  int rc = qp_io_open_file(journal, true, false, io);
  if (rc != 0) {
    set_detail(detail, detail_size, "cannot open %s: %s", journal, qp_strerror(rc));
    return rc;
  }
  return qp_fsync_dir(ledger_dir);
}

/* The journal prefix the index already holds, [0, opened.applied_offset),
 * was not read by recovery; it is re-hashed here (before open returns) or,
 * when longer than verify_sync_max, by a background thread that fail-stops
 * the db on damage - a restart of a large ledger need not wait for it. */
static int check_prefix(qp_db_t *db, const _Atomic bool *stop, char *detail, size_t detail_size) {
  char path[PATH_MAX_LEN + 32];
  journal_path(db, path, sizeof path);
  qp_io_t io;
  int rc = qp_io_open_file(path, false, true, &io);
  if (rc != 0) {
    set_detail(detail, detail_size, "cannot open %s: %s", path, qp_strerror(rc));
    return rc;
  }
  uint64_t events = 0;
  const qp__index_meta_t *m = &db->opened;
  rc = qp_journal_verify_prefix(&io, m->applied_offset, m->applied_seq, m->applied_hash, stop,
                                &events, detail, detail_size);
  io.close(io.ctx);
  if (rc == 0 && events != m->events) {
    if (detail)
      snprintf(detail, detail_size, "journal holds %llu events up to record %llu, the index %llu: "
               "the journal or the index was altered", (unsigned long long)events,
               (unsigned long long)m->applied_seq, (unsigned long long)m->events);
    rc = QP_ECORRUPT;
  }
  return rc;
}

static void *verifier_main(void *arg) {
  qp_db_t *db = arg;
  char detail[sizeof db->verify_detail];
  detail[0] = '\0';
  uint64_t t0 = monotonic_ns();
  int rc = check_prefix(db, &db->verifier_stop, detail, sizeof detail);
  if (db->verifier_stop) return NULL; /* closing: not a verdict */
  if (rc != 0) {
    snprintf(db->verify_detail, sizeof db->verify_detail, "%s", detail);
    db->verify_rc = rc;
    db->stopped = true;
    QP_LOG_ERROR("ledger", "background journal check: %s; refusing all writes from now on "
                 "(fail-stop)", detail);
  } else {
    QP_LOG_INFO("ledger", "background journal check passed: %llu bytes in %llu ms",
                (unsigned long long)db->opened.applied_offset,
                (unsigned long long)((monotonic_ns() - t0) / 1000000u));
  }
  db->verify_done = true;
  return NULL;
}

static int verify_prefix(qp_db_t *db, qp_db_recovery_t *rep, char *detail, size_t detail_size) {
  uint64_t bytes = db->opened.applied_offset;
  if (bytes == 0) {
    db->verify_done = true;
    return 0;
  }
  if (bytes <= db->options.verify_sync_max) {
    int rc = check_prefix(db, NULL, detail, detail_size);
    db->verify_rc = rc;
    db->verify_done = true;
    return rc;
  }
  if (pthread_create(&db->verifier, NULL, verifier_main, db) != 0) return QP_ENOMEM;
  db->verifier_started = true;
  rep->verify_background = bytes;
  return 0;
}

int qp_db_verify_status(qp_db_t *db, bool *done, char *detail, size_t detail_size) {
  *done = db->verify_done;
  int rc = *done ? db->verify_rc : 0;
  if (detail && detail_size) snprintf(detail, detail_size, "%s", rc ? db->verify_detail : "");
  return rc;
}

static int open_files(qp_db_t *db, qp_db_recovery_t *rep, char *detail, size_t detail_size) {
  int rc = db->options.open_journal != NULL ? 0 : open_index(db, detail, detail_size);
  if (rc != 0) return rc;
  qp_io_t io;
  rc = open_journal_file(db, &io, detail, detail_size);
  if (rc != 0) return rc;
  qp_journal_scan_t scan;
  uint64_t t0 = monotonic_ns();
  rc = recover(db, &io, rep, detail, detail_size, &scan);
  if (rc == 0 && db->options.open_journal == NULL)
    QP_LOG_INFO("ledger", "journal: read %llu bytes after the index's position, replayed %llu "
                "records, in %llu ms", (unsigned long long)(scan.valid_bytes - db->opened.applied_offset),
                (unsigned long long)rep->replayed_batches,
                (unsigned long long)((monotonic_ns() - t0) / 1000000u));
  if (rc == 0) {
    size_t group_bytes = (size_t)GROUP_EVENTS_MAX * QP_RECORD_SIZE + (size_t)GROUP_RECORDS_MAX * QP_JOURNAL_HEADER_SIZE;
    rc = qp_journal_open(&io, scan.valid_bytes, scan.last_seq, scan.last_hash, group_bytes, &db->journal);
  }
  if (rc != 0) {
    io.close(io.ctx);
    return rc;
  }
  db->durable_seq = db->applied_seq = db->taken_seq = scan.last_seq;
  if (db->options.open_journal != NULL) return qp__history_update(&db->history, db->ledger);
  return verify_prefix(db, rep, detail, detail_size);
}

int qp_db_open(const char *dir, const qp_db_options_t *options, qp_db_t **out,
               qp_db_recovery_t *recovery, char *detail, size_t detail_size) {
  qp_db_recovery_t rep_local;
  qp_db_recovery_t *rep = recovery ? recovery : &rep_local;
  memset(rep, 0, sizeof *rep);
  if (detail && detail_size) detail[0] = '\0';
  if (strlen(dir) >= PATH_MAX_LEN - 64) return QP_EINVAL;
  if (qp_crypto_init() != 0) return QP_EIO;
  qp_db_t *db = qp_calloc(1, sizeof *db);
  if (db == NULL) return QP_ENOMEM;
  db->lock_fd = -1;
  snprintf(db->dir, sizeof db->dir, "%s", dir);
  if (options) db->options = *options;
  bool simulated = db->options.open_journal != NULL;
  db->options.ledger.track_changes = !simulated;
  if (db->options.clock_ns == NULL) db->options.clock_ns = default_clock;
  if (db->options.index_map_size == 0) db->options.index_map_size = QP__INDEX_MAP_SIZE_DEFAULT;
  if (db->options.index_lag_max == 0) db->options.index_lag_max = INDEX_LAG_MAX_DEFAULT;
  if (db->options.verify_sync_max == 0) db->options.verify_sync_max = VERIFY_SYNC_MAX_DEFAULT;
  if (db->options.evict_min_rows == 0) db->options.evict_min_rows = EVICT_MIN_ROWS;
  if (!simulated) {
    db->options.ledger.cold.ctx = db;
    db->options.ledger.cold.lookup = cold_lookup;
  }
  int rc = init_sync(db);
  if (rc == 0 && !simulated) rc = qp_mkdir_p(dir);
  if (rc == 0 && !simulated) rc = qp_lock_acquire(dir, &db->lock_fd, detail, detail_size);
  if (rc == 0) rc = qp_ledger_create(&db->options.ledger, &db->ledger);
  if (rc == 0) rc = open_files(db, rep, detail, detail_size);
  bool holds = true;
  if (rc == 0) rc = qp_ledger_check_invariant(db->ledger, &holds);
  if (rc == 0 && !holds) {
    set_detail(detail, detail_size, "%s%s", "recovered state breaks the ledger invariant", "");
    rc = QP_ECORRUPT;
  }
  if (rc == 0 && !simulated && pthread_create(&db->applier, NULL, applier_main, db) != 0) rc = QP_ENOMEM;
  if (rc != 0) {
    if (detail && detail_size && detail[0] == '\0')
      snprintf(detail, detail_size, "cannot open ledger in %s: %s", dir, qp_strerror(rc));
    qp_db_close(db);
    return rc;
  }
  db->applier_started = !simulated;
  *out = db;
  return 0;
}

void qp_db_close(qp_db_t *db) {
  if (db == NULL) return;
  if (db->verifier_started) {
    db->verifier_stop = true;
    pthread_join(db->verifier, NULL);
  }
  if (db->applier_started) {
    pthread_mutex_lock(&db->ring_mutex);
    db->closing = true;
    pthread_cond_broadcast(&db->ring_cond);
    pthread_mutex_unlock(&db->ring_mutex);
    pthread_join(db->applier, NULL);
  }
  qp_journal_close(db->journal);
  if (db->cold_txn) mdb_txn_abort(db->cold_txn);
  qp__index_close(&db->index);
  qp__accounts_close(&db->accounts);
  if (db->filter_on) qp__idfilter_deinit(&db->filter);
  qp_ledger_destroy(db->ledger);
  qp_ledger_changes_deinit(&db->snapshot);
  qp__history_deinit(&db->history);
  qp_lock_release(db->lock_fd);
  pthread_rwlock_destroy(&db->state_lock);
  pthread_mutex_destroy(&db->write_mutex);
  pthread_mutex_destroy(&db->ring_mutex);
  pthread_cond_destroy(&db->ring_cond);
  qp_free(db);
}
