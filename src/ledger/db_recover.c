/*
 * db_recover.c - recovery at open: the journal after the index's position.
 *
 * Reads the journal from where the index says it is (or from the start),
 * replays every record the index lacks into the state machine, stores them
 * in the index in one round, and tells a torn tail (a crash mid-write: cut
 * it) from damage inside committed history (refuse to open, naming the
 * record).
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "base/log.h"
#include "base/bytes.h"
#include "ledger/db_int.h"
#include "ledger/replay.h"

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
  uint64_t pos = qp_load_u64(rec->tag + 8);
  if (pos != 0) c->db->replica_pos = pos;
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
  uint64_t before = qp_ledger_last_timestamp(c->db->ledger);
  int rc = qp__replay_record(c->db->ledger, rec, c->scratch);
  if (rc == 0 && rec->op != QP_OP_EXPIRE &&
      qp__subs_note(&c->db->subs, qp__subs_from_tag(rec->tag), before,
                    qp_ledger_last_timestamp(c->db->ledger), c->scratch->results,
                    rec->count) != 0)
    QP_LOG_ERROR("ledger", "out of memory noting who submitted a batch (the journal has it)");
  if (rc != 0 && c->detail)
    snprintf(c->detail, c->detail_size, "replaying journal record %llu at offset %llu: %s",
             (unsigned long long)rec->seq, (unsigned long long)rec->offset, qp_strerror(rc));
  c->replayed += rc == 0;
  return rc;
}

static int note_replica_pos(void *ctx, const qp_journal_record_t *rec) {
  uint64_t pos = qp_load_u64(rec->tag + 8);
  if (pos != 0) ((qp_db_t *)ctx)->replica_pos = pos;
  return 0;
}

/* Cluster mode, when the tail after the index's position carried no Raft
 * position: the last one is in the prefix, which is read once for it. */
static int find_replica_pos(qp_db_t *db, const qp_io_t *io) {
  qp_journal_scan_t *all = qp_malloc(sizeof *all);
  if (all == NULL) return QP_ENOMEM;
  int rc = qp_journal_scan_fmt(io, &qp__ledger_journal_format, note_replica_pos, db, all);
  qp_free(all);
  return rc;
}

/* Decides what a damaged journal means; 0 if it is a torn tail to cut. */
static int judge_damage(const qp_journal_scan_t *scan, uint64_t index_seq, char *detail,
                        size_t detail_size) {
  if (scan->problem != 0) {
    bool committed = scan->problem_seq <= index_seq;
    if (scan->problem == QP_ECORRUPT || committed) {
      if (detail)
        snprintf(detail, detail_size, "journal damaged inside committed history: %s%s",
                 scan->detail, committed ? " (the index shows this record was committed)" : "");
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
int qp__db_recover(qp_db_t *db, qp_io_t *io, qp_db_recovery_t *rep, char *detail,
                   size_t detail_size, qp_journal_scan_t *scan) {
  recover_ctx_t c = {.db = db, .detail = detail, .detail_size = detail_size};
  bool indexed = db->options.open_journal == NULL;
  int rc = indexed ? qp__index_read_meta(&db->index, &c.meta) : 0;
  if (rc != 0) {
    qp__db_set_detail(detail, detail_size, "%s%s", "index metadata is unreadable", "");
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
    rc = qp_journal_scan_from_fmt(io, &qp__ledger_journal_format, c.meta.applied_offset,
                                  c.meta.applied_seq, c.meta.applied_hash, recover_visit, &c, scan);
  else rc = qp_journal_scan_fmt(io, &qp__ledger_journal_format, recover_visit, &c, scan);
  qp_free(c.scratch);
  /* Replay may have read stored transfers: release that snapshot of the
   * index, and refuse a replay whose reads failed (its state is suspect). */
  qp__db_cold_release(db);
  int cold_rc = qp_ledger_cold_error(db->ledger);
  if (rc == 0 && cold_rc != 0) {
    qp__db_set_detail(detail, detail_size, "reading stored transfers during replay failed: %s%s",
               qp_strerror(cold_rc), "");
    rc = cold_rc;
  }
  if (rc == 0) rc = judge_damage(scan, index_seq, detail, detail_size);
  if (rc == 0 && tail_only && db->options.replicated && db->replica_pos == 0)
    rc = find_replica_pos(db, io);
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
    qp__subs_take(&db->subs, &db->snapshot_subs);
    if (rc == 0) rc = qp__db_store_round(db, &c.meta, &stage);
    if (rc == 0) qp__db_after_store(db, 0, false);
    qp__db_release_large_snapshot(db);
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
