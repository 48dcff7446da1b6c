/*
 * db_commit.c - the commit path.
 *
 * The commit point is the journal.  qp_db_execute() applies a group of
 * batches to the in-memory state, stages their events as journal records,
 * and writes and fdatasyncs them once; only then are results returned.
 * The state lock is held across that fsync, so no reader can observe a
 * batch that is not yet durable.
 *
 * Disk-full is detected before anything is applied (journal space is
 * reserved ahead with fallocate), so it is an ordinary, recoverable error.
 * A failed write or fsync is not: the state in memory is then ahead of
 * what is known to be on disk, so the db stops accepting writes for good
 * (fail-stop) and recovery at the next open decides what survived.  So is
 * a failed read of a stored transfer (the cold store): the group's results
 * may be wrong, so none of it may become durable.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "base/log.h"
#include "base/bytes.h"
#include "ledger/db_int.h"

/* ----------------------------------------------------------- cold store */

/* The state machine's cold store: the filter rules out nearly every new
 * id in one cache miss; a possible match is looked up in the index through
 * one read transaction per group, renewed at the group's first use (so it
 * sees every round stored - and so every eviction made - before the group
 * started). */
int qp__db_cold_lookup(void *ctx, qp_u128 id, qp_transfer_t *out, qp_pending_state_t *state) {
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
void qp__db_cold_release(qp_db_t *db) {
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

/* The staged body holds exactly the request's events, in order: the first
 * and the last are decoded again and must encode to the bytes staged and
 * carry the ids sent (two records per batch: cheap on the commit path). */
static void assert_staged(const qp_db_request_t *r, const uint8_t *body) {
  if (r->count == 0) return;
  const uint32_t rows[2] = {0, r->count - 1};
  for (int k = 0; k < 2; k++) {
    const uint8_t *at = body + (size_t)rows[k] * QP_RECORD_SIZE;
    uint8_t again[QP_RECORD_SIZE];
    if (r->op == QP_OP_CREATE_ACCOUNTS) {
      qp_account_t a;
      qp_account_decode(at, &a);
      QP_ASSERT(a.id == ((const qp_account_t *)r->events)[rows[k]].id);
      qp_account_encode(again, &a);
    } else {
      qp_transfer_t t;
      qp_transfer_decode(at, &t);
      QP_ASSERT(t.id == ((const qp_transfer_t *)r->events)[rows[k]].id);
      qp_transfer_encode(again, &t);
    }
    QP_ASSERT(memcmp(again, at, QP_RECORD_SIZE) == 0);
  }
}

/* Applies one request and stages its journal record. */
static int apply_request(qp_db_t *db, qp_db_request_t *r, uint64_t now) {
  int rc;
  uint64_t before = qp_ledger_last_timestamp(db->ledger);
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
  uint8_t tag[QP_JOURNAL_TAG_SIZE];
  qp__subs_to_tag(r->submitter, tag);
  qp_store_u64(tag + 8, r->replica_pos);
  if (r->replica_pos != 0) db->replica_pos = r->replica_pos;
  uint8_t *body =
      qp_journal_stage_tagged(db->journal, r->op, r->count, now, tag, r->count * QP_RECORD_SIZE);
  QP_ASSERT(body != NULL); /* room was checked before applying */
  if (r->op != QP_OP_EXPIRE &&
      qp__subs_note(&db->subs, r->submitter, before, qp_ledger_last_timestamp(db->ledger),
                    r->results, r->count) != 0)
    QP_LOG_ERROR("ledger", "out of memory noting who submitted a batch (the journal has it)");
  for (uint32_t i = 0; i < r->count; i++) {
    if (r->op == QP_OP_CREATE_ACCOUNTS)
      qp_account_encode(body + (size_t)i * QP_RECORD_SIZE, (const qp_account_t *)r->events + i);
    else
      qp_transfer_encode(body + (size_t)i * QP_RECORD_SIZE, (const qp_transfer_t *)r->events + i);
  }
  assert_staged(r, body);
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
  qp__db_wait_for_index_room(db);
  pthread_rwlock_wrlock(&db->state_lock);
  uint64_t due = qp_ledger_next_expiry(db->ledger);
  if (due != 0 && due <= now) {
    /* In cluster mode the sweep takes ordinal 0 of the first request's entry. */
    qp_db_request_t sweep = {.op = QP_OP_EXPIRE,
                             .replica_pos = n > 0 ? reqs[0].replica_pos & ~0xffffull : 0};
    rc = apply_request(db, &sweep, now);
    QP_ASSERT(rc == 0);
  }
  for (uint32_t i = 0; i < n; i++)
    if (reqs[i].status == 0) reqs[i].status = apply_request(db, &reqs[i], now);
  if (db->options.open_journal != NULL && qp__history_update(&db->history, db->ledger) != 0)
    QP_LOG_ERROR("ledger", "out of memory for the account history index; history queries fail");
  qp__db_cold_release(db);
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
  qp__db_publish_durable(db, qp_journal_last_seq(db->journal));
  if (db->options.open_journal == NULL) qp__db_maybe_trim(db);
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
  qp_db_request_t r = {
      .op = QP_OP_CREATE_ACCOUNTS, .events = events, .count = count, .results = results};
  int rc = qp_db_execute(db, &r, 1);
  return rc != 0 ? rc : r.status;
}

int qp_db_create_transfers(qp_db_t *db, const qp_transfer_t *events, uint32_t count,
                           uint32_t *results) {
  qp_db_request_t r = {
      .op = QP_OP_CREATE_TRANSFERS, .events = events, .count = count, .results = results};
  int rc = qp_db_execute(db, &r, 1);
  return rc != 0 ? rc : r.status;
}

bool qp_db_stopped(const qp_db_t *db) { return db->stopped; }

uint64_t qp_db_replica_pos(qp_db_t *db) { return db->replica_pos; }

uint64_t qp_db_next_expiry(qp_db_t *db) {
  pthread_rwlock_rdlock(&db->state_lock);
  uint64_t due = qp_ledger_next_expiry(db->ledger);
  pthread_rwlock_unlock(&db->state_lock);
  return due;
}
