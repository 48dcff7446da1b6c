/*
 * verify.c - `quipu verify`: trust nothing, recompute everything.
 *
 * Replays the whole journal into a fresh state machine, checking every
 * record's header checksum, hash and place in the chain, then compares the
 * replayed state with the LMDB index at the journal position the index says
 * it holds (the index may lag the journal after a crash; it is compared
 * where it claims to be).  Finally checks the ledger invariant.  Opens
 * everything read-only and holds the data directory's lock meanwhile: a
 * server writing the index while it is compared would look like damage,
 * and an operator must never see a false corruption alarm.
 *
 * The live form (qp_db_verify_live) runs beside a server: no lock, the
 * journal as it stood when the check started, no comparison of the
 * index's contents (only of the position it records, which is exact), and
 * a record after that position that does not check out is left out as
 * possibly being written rather than reported.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "ledger/accounts.h"
#include "ledger/index.h"
#include "ledger/replay.h"
#include "store/store.h"

typedef struct verify_ctx {
  qp_ledger_t *ledger;           /* the replayed state */
  qp__replay_scratch_t *scratch; /* decode space */
  qp__index_t *index;            /* NULL when there is no index */
  qp_ledger_t *checkpoint;       /* accounts as the index's files hold them */
  qp__index_meta_t meta;         /* where the index claims to be */
  qp_verify_report_t *report;    /* out */
  bool compared;                 /* the index was compared */
  bool live;                     /* a server may be writing: see qp_db_verify_live */
  uint64_t committed_end;        /* journal bytes known committed (the index's position) */
  uint64_t events;               /* events replayed so far */
  char *detail;                  /* error detail */
  size_t detail_size;
} verify_ctx_t;

typedef struct compare_ctx {
  qp__index_t *index;
  qp_ledger_t *checkpoint;       /* the accounts file + redo log, as of the index */
  MDB_txn *txn;
  uint64_t mismatches;
  char first[160]; /* the first mismatch, for humans */
} compare_ctx_t;

static void note_mismatch(compare_ctx_t *c, const char *kind, qp_u128 id) {
  if (c->mismatches++ == 0) {
    char idbuf[QP_U128_BUF_SIZE];
    qp_u128_format(id, idbuf);
    snprintf(c->first, sizeof c->first, "%s %s differs between journal replay and index", kind,
             idbuf);
  }
}

static int compare_account(void *vctx, const qp_account_t *a) {
  compare_ctx_t *c = vctx;
  qp_account_t b;
  uint8_t ea[QP_RECORD_SIZE], eb[QP_RECORD_SIZE];
  if (qp_ledger_lookup_account(c->checkpoint, a->id, &b) != 0) {
    note_mismatch(c, "account", a->id);
    return 0;
  }
  qp_account_encode(ea, a);
  qp_account_encode(eb, &b);
  if (memcmp(ea, eb, sizeof ea) != 0) note_mismatch(c, "account", a->id);
  return 0;
}

static int compare_transfer(void *vctx, const qp_transfer_t *t, qp_pending_state_t state) {
  compare_ctx_t *c = vctx;
  qp_transfer_t u;
  qp_pending_state_t ustate;
  uint8_t et[QP_RECORD_SIZE], eu[QP_RECORD_SIZE];
  if (qp__index_get_transfer(c->index, c->txn, t->id, &u, &ustate) != 0) {
    note_mismatch(c, "transfer", t->id);
    return 0;
  }
  qp_transfer_encode(et, t);
  qp_transfer_encode(eu, &u);
  if (memcmp(et, eu, sizeof et) != 0 || state != ustate) note_mismatch(c, "transfer", t->id);
  return 0;
}

typedef struct pending_count {
  uint64_t pending;
} pending_count_t;

static int count_pending(void *vctx, const qp_transfer_t *t, qp_pending_state_t state) {
  (void)t;
  ((pending_count_t *)vctx)->pending += state == QP_PENDING_PENDING;
  return 0;
}

/* Compares the replayed state with the index, both ways (by counts). */
static int compare_with_index(verify_ctx_t *v) {
  compare_ctx_t c = {.index = v->index, .checkpoint = v->checkpoint};
  int rc = qp_kv_read_begin(v->index->kv, 0, &c.txn, NULL);
  if (rc != 0) return QP_EDB;
  qp_ledger_each_account(v->ledger, compare_account, &c);
  qp_ledger_each_transfer(v->ledger, compare_transfer, &c);
  qp_kv_read_end(v->index->kv, c.txn, NULL);
  uint64_t accounts = 0, transfers = 0, pending = 0, sides = 0;
  accounts = qp_ledger_account_count(v->checkpoint);
  rc = qp__index_counts(v->index, &transfers);
  if (rc == 0) rc = qp__index_side_counts(v->index, &pending, &sides);
  if (rc != 0) return rc;
  /* The pending table lists exactly the transfers still pending (each was
   * compared above with its state), and every transfer is listed under
   * both of its accounts. */
  pending_count_t pc = {0};
  qp_ledger_each_transfer(v->ledger, count_pending, &pc);
  if (pending != pc.pending || sides != 2 * qp_ledger_transfer_count(v->ledger)) {
    if (c.mismatches++ == 0)
      snprintf(c.first, sizeof c.first,
               "index lists %llu pending transfers and %llu account entries, replay %llu and %llu",
               (unsigned long long)pending, (unsigned long long)sides,
               (unsigned long long)pc.pending,
               (unsigned long long)(2 * qp_ledger_transfer_count(v->ledger)));
  }
  if (accounts != qp_ledger_account_count(v->ledger) ||
      transfers != qp_ledger_transfer_count(v->ledger)) {
    if (c.mismatches++ == 0)
      snprintf(c.first, sizeof c.first,
               "index holds %llu accounts and %llu transfers, replay %llu and %llu",
               (unsigned long long)accounts, (unsigned long long)transfers,
               (unsigned long long)qp_ledger_account_count(v->ledger),
               (unsigned long long)qp_ledger_transfer_count(v->ledger));
  }
  v->report->index_mismatches = c.mismatches;
  v->report->index_compared = true;
  v->report->index_ok = c.mismatches == 0;
  v->compared = true;
  if (c.mismatches && v->detail) snprintf(v->detail, v->detail_size, "%s", c.first);
  return 0;
}

static int verify_visit(void *vctx, const qp_journal_record_t *rec) {
  verify_ctx_t *v = vctx;
  v->events += rec->count;
  int rc = qp__replay_record(v->ledger, rec, v->scratch);
  if (rc != 0) {
    if (v->detail)
      snprintf(v->detail, v->detail_size, "record %llu at offset %llu cannot be replayed: %s",
               (unsigned long long)rec->seq, (unsigned long long)rec->offset, qp_strerror(rc));
    v->report->bad_offset = rec->offset;
    return QP_ECORRUPT;
  }
  if (v->index && rec->seq == v->meta.applied_seq) {
    v->committed_end = rec->offset + rec->size;
    if (memcmp(rec->hash, v->meta.applied_hash, QP_HASH_SIZE) != 0) {
      v->report->index_ok = false;
      if (v->detail)
        snprintf(v->detail, v->detail_size,
                 "record %llu at offset %llu has a different hash than the index recorded",
                 (unsigned long long)rec->seq, (unsigned long long)rec->offset);
      v->report->bad_offset = rec->offset;
      return QP_ECORRUPT;
    }
    if (v->meta.applied_offset != 0 &&
        (v->meta.applied_offset != rec->offset + rec->size || v->meta.events != v->events)) {
      v->report->index_ok = false;
      if (v->detail)
        snprintf(v->detail, v->detail_size,
                 "the index places record %llu's end at offset %llu after %llu events; the journal "
                 "at %llu after %llu",
                 (unsigned long long)rec->seq, (unsigned long long)v->meta.applied_offset,
                 (unsigned long long)v->meta.events, (unsigned long long)(rec->offset + rec->size),
                 (unsigned long long)v->events);
      v->report->bad_offset = rec->offset;
      return QP_ECORRUPT;
    }
    return v->live ? 0 : compare_with_index(v);
  }
  return 0;
}

/* The accounts as the index holds them: the accounts file plus the rounds
 * of the redo log it lacks, loaded as open loads them. */
static int load_checkpoint(const char *dir, verify_ctx_t *v) {
  int rc = qp_ledger_create(NULL, &v->checkpoint);
  if (rc != 0) return rc;
  char state[4200];
  snprintf(state, sizeof state, "%s/ledger/state", dir);
  qp__accounts_file_t af;
  bool created;
  rc = qp__accounts_open(&af, state, true, &created, v->detail, v->detail_size);
  if (rc == QP_ENOTFOUND) return QP_ENOTFOUND; /* an index of an older version */
  qp__accounts_redo_t redo = {0};
  if (rc == 0) rc = qp__accounts_load(&af, v->index, v->checkpoint, &redo);
  qp__accounts_redo_free(&redo);
  qp__accounts_close(&af);
  if (rc != 0 && v->detail && v->detail[0] == '\0')
    snprintf(v->detail, v->detail_size, "cannot read the accounts file in %s: %s", state,
             qp_strerror(rc));
  return rc;
}

static int open_index(const char *dir, qp__index_t *ix, bool *present) {
  char path[4200];
  snprintf(path, sizeof path, "%s/ledger/state/data.mdb", dir);
  FILE *f = fopen(path, "rb");
  *present = f != NULL;
  if (f) fclose(f);
  if (!*present) return 0;
  snprintf(path, sizeof path, "%s/ledger/state", dir);
  return qp__index_open(ix, path, QP__INDEX_MAP_SIZE_DEFAULT, true, NULL, 0);
}

/* Fills the totals and checks the invariant over the replayed state. */
static int summarise(verify_ctx_t *v, const qp_journal_scan_t *scan) {
  qp_verify_report_t *r = v->report;
  r->batches = scan->records;
  r->events = scan->events;
  r->journal_bytes = scan->valid_bytes;
  memcpy(r->head_hash, scan->last_hash, QP_HASH_SIZE);
  r->accounts = qp_ledger_account_count(v->ledger);
  r->transfers = qp_ledger_transfer_count(v->ledger);
  r->invariant_ok = qp_ledger_check(v->ledger);
  return qp_ledger_totals(v->ledger, r->totals, sizeof r->totals / sizeof r->totals[0],
                          &r->totals_count);
}

/* Live: a problem after the index's position may be the record a server
 * is writing right now, not damage (bytes before it were committed before
 * the index recorded it, so a problem there is damage). */
static bool in_flight(const verify_ctx_t *v, const qp_journal_scan_t *scan) {
  return v->live && scan->problem != 0 && scan->problem_offset >= v->committed_end;
}

static int finish(verify_ctx_t *v, const qp_journal_scan_t *scan, bool have_index) {
  int rc = summarise(v, scan);
  if (rc != 0) return rc;
  if (in_flight(v, scan)) {
    v->report->tail_unchecked_bytes = v->report->live_end - scan->valid_bytes;
  } else if (scan->problem != 0) {
    v->report->bad_offset = scan->problem_offset;
    if (v->detail) snprintf(v->detail, v->detail_size, "%s", scan->detail);
    return scan->problem;
  }
  if (!v->report->invariant_ok) {
    if (v->detail)
      snprintf(v->detail, v->detail_size, "replayed state breaks the ledger invariant");
    return QP_ECORRUPT;
  }
  if (have_index && v->meta.applied_seq > scan->last_seq) {
    if (v->detail)
      snprintf(v->detail, v->detail_size,
               "the index has applied record %llu but the journal ends at record %llu: committed "
               "records are missing from the journal",
               (unsigned long long)v->meta.applied_seq, (unsigned long long)scan->last_seq);
    return QP_ECORRUPT;
  }
  if (have_index && !v->live && v->meta.applied_seq == 0) rc = compare_with_index(v);
  if (rc == 0 && have_index && !v->report->index_ok) return QP_ECORRUPT;
  return rc;
}

/* Opens the index and reads its position (one LMDB read transaction);
 * offline also the accounts as it holds them.  An index written by an
 * older version (tables or the accounts file missing) is not compared: the
 * next open rebuilds it from the journal.  Live, an index that cannot be
 * read is not compared either: only its position was to be checked. */
static int open_index_checked(const char *dir, verify_ctx_t *v, qp__index_t *index) {
  bool present = false;
  int rc = open_index(dir, index, &present);
  if (rc == 0 && present) {
    v->index = index;
    rc = qp__index_read_meta(index, &v->meta);
    if (rc == 0 && !v->live) rc = load_checkpoint(dir, v);
  }
  if (rc == QP_ENOTFOUND || (rc != 0 && v->live)) {
    if (v->index != NULL) qp__index_close(index);
    v->index = NULL;
    memset(&v->meta, 0, sizeof v->meta);
    if (v->detail && v->detail_size) v->detail[0] = '\0';
    rc = 0;
  }
  return rc;
}

/* The journal as it stood when verify started: reads and the size stop at
 * `end`, so records a server appends meanwhile are not seen. */
typedef struct capped_io {
  qp_io_t file; /* the journal, read-only */
  uint64_t end; /* its size at the start */
} capped_io_t;

static int capped_read_at(void *ctx, void *buf, size_t len, uint64_t offset, size_t *got) {
  capped_io_t *c = ctx;
  *got = 0;
  if (offset >= c->end) return 0;
  if (len > c->end - offset) len = (size_t)(c->end - offset);
  return c->file.read_at(c->file.ctx, buf, len, offset, got);
}

static int capped_size(void *ctx, uint64_t *out) {
  *out = ((capped_io_t *)ctx)->end;
  return 0;
}

/* Opens dir/ledger/journal behind *c and *io (only read_at and size). */
static int open_journal(const char *dir, capped_io_t *c, qp_io_t *io, char *detail,
                        size_t detail_size) {
  char journal[4200];
  snprintf(journal, sizeof journal, "%s/ledger/journal", dir);
  int rc = qp_io_open_file(journal, false, true, &c->file);
  if (rc == 0) rc = c->file.size(c->file.ctx, &c->end);
  if (rc != 0) {
    if (detail) snprintf(detail, detail_size, "cannot open %s: %s", journal, qp_strerror(rc));
    return rc;
  }
  *io = (qp_io_t){.ctx = c, .read_at = capped_read_at, .size = capped_size};
  return 0;
}

static int verify_run(const char *dir, bool live, qp_verify_report_t *report, char *detail,
                      size_t detail_size) {
  qp__index_t index;
  verify_ctx_t v = {
      .report = report, .detail = detail, .detail_size = detail_size, .live = live};
  /* The index's position first, the journal's end second: the position is
   * then committed journal bytes below that end. */
  int rc = open_index_checked(dir, &v, &index);
  capped_io_t capped = {0};
  qp_io_t io = {0};
  if (rc == 0) rc = open_journal(dir, &capped, &io, detail, detail_size);
  bool journal_open = rc == 0;
  bool have_index = v.index != NULL;
  report->live_end = live ? capped.end : 0;
  report->index_applied_seq = live ? v.meta.applied_seq : 0;
  report->index_ok = live || !have_index;
  v.committed_end = v.meta.applied_offset;
  v.scratch = rc == 0 ? qp_malloc(sizeof *v.scratch) : NULL;
  if (rc == 0) rc = v.scratch ? qp_ledger_create(NULL, &v.ledger) : QP_ENOMEM;
  qp_journal_scan_t scan;
  if (rc == 0) rc = qp_journal_scan_fmt(&io, &qp__ledger_journal_format, verify_visit, &v, &scan);
  if (rc == 0) rc = finish(&v, &scan, have_index);
  if (rc != 0 && detail && detail[0] == '\0') snprintf(detail, detail_size, "%s", qp_strerror(rc));
  qp_ledger_destroy(v.ledger);
  qp_ledger_destroy(v.checkpoint);
  qp_free(v.scratch);
  if (v.index != NULL) qp__index_close(&index);
  if (journal_open) capped.file.close(capped.file.ctx);
  return rc;
}

static int verify_start(qp_verify_report_t *report, bool live, char *detail, size_t detail_size) {
  memset(report, 0, sizeof *report);
  report->live = live;
  if (detail && detail_size) detail[0] = '\0';
  return qp_crypto_init() != 0 ? QP_EIO : 0;
}

int qp_db_verify(const char *dir, qp_verify_report_t *report, char *detail, size_t detail_size) {
  int rc = verify_start(report, false, detail, detail_size);
  if (rc != 0) return rc;
  int lock_fd = -1;
  rc = qp_lock_try(dir, &lock_fd, detail, detail_size);
  if (rc != 0) return rc;
  rc = verify_run(dir, false, report, detail, detail_size);
  qp_lock_release(lock_fd);
  return rc;
}

int qp_db_verify_live(const char *dir, qp_verify_report_t *report, char *detail,
                      size_t detail_size) {
  int rc = verify_start(report, true, detail, detail_size);
  return rc != 0 ? rc : verify_run(dir, true, report, detail, detail_size);
}
