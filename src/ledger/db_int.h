/*
 * db_int.h - (private to ledger/db_*.c) the layout of qp_db_t and what its
 * files share.
 *
 * The durable ledger is split by concern: db_commit.c (the commit path:
 * group commit, the cold store the state machine reads through, fail-stop),
 * db_applier.c (the background thread that brings the LMDB index up to
 * date and evicts stored transfers), db_recover.c (replaying the journal
 * tail at open), db_open.c (open, close and the journal prefix check),
 * db_query.c (lookups, history and the audit) and db_check.c (the full
 * invariant check, off the audit's path).
 *
 * Locks: state_lock (a writer-preferring rwlock) guards the state machine
 * and the journal's position; the writer holds it from apply to fsync, so
 * readers never see a batch that is not yet durable.  write_mutex admits
 * one group commit at a time.  ring_mutex guards the sequence numbers the
 * writer and the applier exchange.
 */
#ifndef QP_LEDGER_DB_INT_H
#define QP_LEDGER_DB_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "base/clock.h"
#include "ledger/accounts.h"
#include "ledger/db.h"
#include "ledger/history.h"
#include "ledger/idfilter.h"
#include "ledger/index.h"
#include "ledger/submitters.h"
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
/* The full invariant check runs in the background this often by default. */
#define CHECK_EVERY_MS_DEFAULT 60000u
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
  _Atomic uint64_t replica_pos;    /* last journaled qp_db_request_t.replica_pos (0 = none) */

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

  /* The full invariant check (db_check.c): at open, then in the background
   * every options.check_every_ms, and on demand (qp_db_check). */
  pthread_t checker;               /* thread (not in simulated mode) */
  bool checker_started;            /* thread exists */
  pthread_mutex_t check_mutex;     /* guards the fields below */
  pthread_cond_t check_cond;       /* wakes the checker when closing */
  bool check_closing;              /* close asks the checker to stop */
  uint64_t checked_seq;            /* journal seq the last full check saw */
  bool checked_ok;                 /* every full check so far held */

  /* The applier thread and what it shares with the writer. */
  pthread_t applier;               /* thread */
  bool applier_started;            /* thread exists */
  qp_ledger_changes_t snapshot;    /* the applier's buffer */
  pthread_mutex_t ring_mutex;      /* guards the fields below */
  pthread_cond_t ring_cond;        /* signalled on any change below */
  uint64_t durable_seq;            /* last journal seq on disk */
  uint64_t taken_seq;              /* last journal seq the applier took */
  uint64_t applied_seq;            /* last journal seq in the index */
  uint64_t last_commit_ns;         /* monotonic time of the last durable commit (0 = none) */
  uint64_t behind_since_ns;        /* the index has been behind the journal since (0 = not) */
  int applier_error;               /* the last index write failed with this (0 = healthy) */
  bool closing;                    /* applier should drain and exit */
  uint64_t applied_ts;             /* the ledger clock the index holds up to */
  uint64_t durable_events;         /* events in the journal at durable_seq */
  uint64_t applied_events;         /* events the index holds (at applied_seq) */
  uint32_t index_readers;          /* reads waiting for the index (qp_db_sync_index) */
  uint64_t index_waits;            /* times the writer waited for the index (back-pressure) */
  uint64_t index_wait_ns;          /* total time it waited */

  /* Who submitted the batches (submitters.h): noted by the writer and by
   * recovery under the state lock, taken with each round's changes. */
  qp__subs_t subs;                 /* noted since the last take (state_lock) */
  qp__subs_t snapshot_subs;        /* the applier's round */
};

static inline uint64_t qp__db_monotonic_ns(void) { return qp_clock_mono_ns(); }

/* db_open.c: formats a failure's detail (if detail is not NULL). */
void qp__db_set_detail(char *detail, size_t size, const char *fmt, const char *a, const char *b);

/* db_applier.c: the applier thread, and the steps recovery shares with it. */
void *qp__db_applier_main(void *arg);
int qp__db_store_round(qp_db_t *db, const qp__index_meta_t *meta, int *stage);
void qp__db_after_store(qp_db_t *db, uint64_t stored_rows, bool evict);
void qp__db_release_large_snapshot(qp_db_t *db);
void qp__db_maybe_trim(qp_db_t *db);
void qp__db_save_filter(qp_db_t *db);
void qp__db_wait_for_index_room(qp_db_t *db);
void qp__db_publish_durable(qp_db_t *db, uint64_t seq);

/* db_commit.c: the state machine's cold store (config.cold.lookup) and the
 * end of a group's read transaction. */
int qp__db_cold_lookup(void *ctx, qp_u128 id, qp_transfer_t *out, qp_pending_state_t *state);
void qp__db_cold_release(qp_db_t *db);

/* db_check.c: records a full check's verdict; the checker thread. */
void qp__db_check_record(qp_db_t *db, uint64_t seq, bool holds);
void *qp__db_checker_main(void *arg);

/* db_recover.c: reads the journal, replays what the index lacks, cuts a
 * torn tail; *scan receives where the journal ends. */
int qp__db_recover(qp_db_t *db, qp_io_t *io, qp_db_recovery_t *rep, char *detail,
                   size_t detail_size, qp_journal_scan_t *scan);

#endif
