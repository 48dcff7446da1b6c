/*
 * db_open.c - opening and closing the durable ledger.
 *
 * Open takes the directory lock, loads the state from the index (the
 * accounts file, the pending transfers, the transfer id filter), recovers
 * the journal tail (db_recover.c) and starts the applier.  The journal
 * before the index's position is re-hashed too: before open returns when
 * it is short, else by a background thread that fail-stops the db if it
 * finds damage (options.verify_sync_max).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "base/log.h"
#include "ledger/db_int.h"
#include "ledger/replay.h"

static uint64_t default_clock(void *ctx) {
  (void)ctx;
  return qp_clock_wall_ns();
}

void qp__db_set_detail(char *detail, size_t size, const char *fmt, const char *a, const char *b) {
  if (detail && size) snprintf(detail, size, fmt, a, b);
}


/* ---------------------------------------------------------------- open */

/* The state lock prefers writers: a steady stream of lookups (readers)
 * must not starve the commit path. */
static int init_state_lock(qp_db_t *db) {
  pthread_rwlockattr_t attr;
  if (pthread_rwlockattr_init(&attr) != 0) return QP_ENOMEM;
  int rc = pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  if (rc == 0) rc = pthread_rwlock_init(&db->state_lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  return rc == 0 ? 0 : QP_ENOMEM;
}

static int init_sync(qp_db_t *db) {
  if (init_state_lock(db) != 0) return QP_ENOMEM;
  if (pthread_mutex_init(&db->check_mutex, NULL) != 0) return QP_ENOMEM;
  if (pthread_cond_init(&db->check_cond, NULL) != 0) return QP_ENOMEM;
  db->checked_ok = true; /* until a check says otherwise */
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
    qp__db_set_detail(detail, detail_size, "cannot build the transfer id filter from %s: %s",
                      state_dir, qp_strerror(rc));
    return rc;
  }
  db->filter_unsaved = qp__idfilter_count(&db->filter) - before;
  db->filter_cover = meta.last_timestamp > cover ? meta.last_timestamp : cover;
  return 0;
}

/* An index written before the query table existed lacks the entries of
 * everything it holds: empty it (and the accounts file that goes with it)
 * so that recovery replays the whole journal into it. */
static int drop_index_without_queries(qp_db_t *db, const char *state_dir, qp__index_meta_t *meta,
                                      char *detail, size_t detail_size) {
  bool has = false;
  int rc = qp__index_has_queries(&db->index, &has);
  if (rc != 0 || has || meta->applied_seq == 0) return rc;
  QP_LOG_WARN("ledger",
              "%s: the index predates queries; rebuilding it from the journal (once)", state_dir);
  char path[PATH_MAX_LEN + 64];
  snprintf(path, sizeof path, "%s/accounts", state_dir);
  if (unlink(path) != 0 && errno != ENOENT) rc = QP_EIO;
  if (rc == 0) rc = qp__index_reset(&db->index);
  if (rc != 0)
    qp__db_set_detail(detail, detail_size, "cannot rebuild the index in %s: %s", state_dir,
                      qp_strerror(rc));
  memset(meta, 0, sizeof *meta);
  return rc;
}

/* Loads the accounts: the accounts file, then the rounds of the redo log it
 * lacks (written back to it). */
static int load_accounts(qp_db_t *db, const char *state_dir, char *detail, size_t detail_size) {
  qp__index_meta_t meta;
  bool created = false;
  int rc = qp__index_read_meta(&db->index, &meta);
  if (rc == 0) rc = drop_index_without_queries(db, state_dir, &meta, detail, detail_size);
  if (rc == 0)
    rc = qp__accounts_open(&db->accounts, state_dir, false, &created, detail, detail_size);
  if (rc != 0) return rc;
  if (created && meta.applied_seq > 0) {
    /* An index without its accounts file - written by an older version,
     * or the file was lost - cannot be trusted as a whole: start it again
     * and let recovery replay the whole journal into it. */
    QP_LOG_WARN("ledger",
                "%s: the index has no accounts file (an older version wrote it, or the file "
                "was lost); rebuilding the index from the journal",
                state_dir);
    rc = qp__index_reset(&db->index);
    if (rc != 0)
      qp__db_set_detail(detail, detail_size, "cannot reset the index in %s: %s", state_dir,
                        qp_strerror(rc));
    return rc;
  }
  if (created) return 0;
  if (db->accounts.seq > meta.applied_seq) {
    qp__db_set_detail(detail, detail_size,
                      "%s is ahead of the index (it was rebuilt or replaced); remove "
                      "%s to rebuild the index from the journal",
                      db->accounts.path, state_dir);
    return QP_ECORRUPT;
  }
  qp__accounts_redo_t redo;
  rc = qp__accounts_load(&db->accounts, &db->index, db->ledger, &redo);
  /* The file brought up to the log's last round. */
  if (rc == 0 && redo.count > 0)
    rc = qp__accounts_write(&db->accounts, redo.accounts, redo.rows, (uint32_t)redo.count,
                            redo.last_seq);
  qp__accounts_redo_free(&redo);
  if (rc != 0) qp__db_set_detail(detail, detail_size, "cannot load the accounts from %s: %s",
                          db->accounts.path, qp_strerror(rc));
  return rc;
}

/* Opens the LMDB index and loads the state from it. */
static int open_index(qp_db_t *db, char *detail, size_t detail_size) {
  char state_dir[PATH_MAX_LEN + 32];
  snprintf(state_dir, sizeof state_dir, "%s/ledger/state", db->dir);
  int rc = qp_mkdir_p(state_dir);
  if (rc != 0) {
    qp__db_set_detail(detail, detail_size, "cannot create %s: %s", state_dir, qp_strerror(rc));
    return rc;
  }
  uint64_t t0 = qp__db_monotonic_ns();
  rc =
      qp__index_open(&db->index, state_dir, db->options.index_map_size, false, detail, detail_size);
  if (rc != 0) return rc;
  rc = load_accounts(db, state_dir, detail, detail_size);
  if (rc != 0) return rc;
  uint64_t t1 = qp__db_monotonic_ns();
  rc = qp__index_load(&db->index, db->ledger);
  if (rc != 0)
    qp__db_set_detail(detail, detail_size, "cannot load the index in %s: %s", state_dir,
                      qp_strerror(rc));
  uint64_t t2 = qp__db_monotonic_ns();
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
                (unsigned long long)((qp__db_monotonic_ns() - t2) / 1000000u));
  return rc;
}

/* Where the journal lives (the writer's handle and the prefix check). */
static void journal_path(const qp_db_t *db, char *out, size_t size) {
  snprintf(out, size, "%s/ledger/journal", db->dir);
}

static int open_journal_file(qp_db_t *db, qp_io_t *io, char *detail, size_t detail_size) {
  if (db->options.open_journal != NULL)
    return db->options.open_journal(db->options.open_journal_ctx, io);
  char ledger_dir[PATH_MAX_LEN + 16], journal[PATH_MAX_LEN + 32];
  snprintf(ledger_dir, sizeof ledger_dir, "%s/ledger", db->dir);
  journal_path(db, journal, sizeof journal);
  int rc = qp_io_open_file(journal, true, false, io);
  if (rc != 0) {
    qp__db_set_detail(detail, detail_size, "cannot open %s: %s", journal, qp_strerror(rc));
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
    qp__db_set_detail(detail, detail_size, "cannot open %s: %s", path, qp_strerror(rc));
    return rc;
  }
  uint64_t events = 0;
  const qp__index_meta_t *m = &db->opened;
  rc = qp_journal_verify_prefix_fmt(&io, &qp__ledger_journal_format, m->applied_offset,
                                    m->applied_seq, m->applied_hash, stop, &events, detail,
                                    detail_size);
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
  (void)pthread_setname_np(pthread_self(), "ledger-verify"); /* top -H, perf */
  char detail[sizeof db->verify_detail];
  detail[0] = '\0';
  uint64_t t0 = qp__db_monotonic_ns();
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
                (unsigned long long)((qp__db_monotonic_ns() - t0) / 1000000u));
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
  uint64_t t0 = qp__db_monotonic_ns();
  rc = qp__db_recover(db, &io, rep, detail, detail_size, &scan);
  if (rc == 0 && db->options.open_journal == NULL)
    QP_LOG_INFO("ledger",
                "journal: read %llu bytes after the index's position, replayed %llu "
                "records, in %llu ms",
                (unsigned long long)(scan.valid_bytes - db->opened.applied_offset),
                (unsigned long long)rep->replayed_batches,
                (unsigned long long)((qp__db_monotonic_ns() - t0) / 1000000u));
  if (rc == 0) {
    size_t group_bytes = (size_t)GROUP_EVENTS_MAX * QP_RECORD_SIZE +
                         (size_t)GROUP_RECORDS_MAX * QP_JOURNAL_HEADER_SIZE;
    rc = qp_journal_open_fmt(&io, &qp__ledger_journal_format, scan.valid_bytes, scan.last_seq,
                             scan.last_hash, group_bytes, &db->journal);
  }
  if (rc != 0) {
    io.close(io.ctx);
    return rc;
  }
  db->durable_seq = db->applied_seq = db->taken_seq = scan.last_seq;
  db->durable_events = db->applied_events = db->stats_events;
  db->applied_ts = qp_ledger_last_timestamp(db->ledger);
  if (db->options.open_journal != NULL) return qp__history_update(&db->history, db->ledger);
  return verify_prefix(db, rep, detail, detail_size);
}

/* The full invariant check of the recovered state (the first verdict the
 * audit reports), then the applier and checker threads. */
static int check_and_start(qp_db_t *db, char *detail, size_t detail_size) {
  bool holds = true;
  int rc = qp_ledger_check_invariant(db->ledger, &holds);
  if (rc != 0) return rc;
  if (!holds) {
    qp__db_set_detail(detail, detail_size, "%s%s", "recovered state breaks the ledger invariant",
                      "");
    return QP_ECORRUPT;
  }
  qp__db_check_record(db, qp_journal_last_seq(db->journal), true);
  if (db->options.open_journal != NULL) return 0; /* simulated: no threads */
  if (pthread_create(&db->applier, NULL, qp__db_applier_main, db) != 0) return QP_ENOMEM;
  db->applier_started = true;
  if (db->options.check_every_ms != UINT32_MAX) {
    if (pthread_create(&db->checker, NULL, qp__db_checker_main, db) != 0) return QP_ENOMEM;
    db->checker_started = true;
  }
  return 0;
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
  if (db->options.check_every_ms == 0) db->options.check_every_ms = CHECK_EVERY_MS_DEFAULT;
  if (!simulated) {
    db->options.ledger.cold.ctx = db;
    db->options.ledger.cold.lookup = qp__db_cold_lookup;
  }
  int rc = init_sync(db);
  if (rc == 0 && !simulated) rc = qp_mkdir_p(dir);
  if (rc == 0 && !simulated && !db->options.lock_held)
    rc = qp_lock_acquire(dir, &db->lock_fd, detail, detail_size);
  if (rc == 0) rc = qp_ledger_create(&db->options.ledger, &db->ledger);
  if (rc == 0) rc = open_files(db, rep, detail, detail_size);
  if (rc == 0) rc = check_and_start(db, detail, detail_size);
  if (rc != 0) {
    if (detail && detail_size && detail[0] == '\0')
      snprintf(detail, detail_size, "cannot open ledger in %s: %s", dir, qp_strerror(rc));
    qp_db_close(db);
    return rc;
  }
  *out = db;
  return 0;
}

void qp_db_close(qp_db_t *db) {
  if (db == NULL) return;
  if (db->checker_started) {
    pthread_mutex_lock(&db->check_mutex);
    db->check_closing = true;
    pthread_cond_broadcast(&db->check_cond);
    pthread_mutex_unlock(&db->check_mutex);
    pthread_join(db->checker, NULL);
  }
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
  qp__subs_deinit(&db->subs);
  qp__subs_deinit(&db->snapshot_subs);
  qp__history_deinit(&db->history);
  qp_lock_release(db->lock_fd);
  pthread_rwlock_destroy(&db->state_lock);
  pthread_mutex_destroy(&db->write_mutex);
  pthread_mutex_destroy(&db->ring_mutex);
  pthread_cond_destroy(&db->ring_cond);
  pthread_mutex_destroy(&db->check_mutex);
  pthread_cond_destroy(&db->check_cond);
  qp_free(db);
}
