/*
 * backup.c - the ledger's part of `quipu backup` and `quipu restore`: where
 * the committed journal ends right now (read beside a running server,
 * without its lock), whether a copy of the journal ends exactly there, and
 * whether a restored directory opens at that position.
 *
 * Only the journal is backed up: it is the truth, and the index and the
 * accounts checkpoint are rebuilt from it.  The committed prefix is found
 * the way `quipu verify --live` finds it: the index's applied position is
 * read first (those bytes were committed before the index recorded them),
 * the journal's size second, and a record that does not check out is left
 * out as being written only if it lies after the index's position and
 * within one group commit of the end (the writer appends one group with
 * one pwrite at a time, so nothing earlier can be in flight).  Anything
 * else is damage and the backup is refused.
 */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "ledger/db_int.h"
#include "ledger/index.h"
#include "ledger/replay.h"
#include "store/store.h"

/* The most bytes one group commit appends: the largest region that may be
 * half-written when the journal's size is read. */
#define GROUP_BYTES_MAX                                   \
  ((uint64_t)GROUP_EVENTS_MAX * QP_RECORD_SIZE +          \
   (uint64_t)GROUP_RECORDS_MAX * QP_JOURNAL_HEADER_SIZE)

/* The index's applied position, or zeros when there is no index (or one
 * that cannot be read: then nothing is known committed beyond offset 0). */
static void index_position(const char *dir, qp__index_meta_t *meta) {
  memset(meta, 0, sizeof *meta);
  char path[PATH_MAX_LEN + 32];
  snprintf(path, sizeof path, "%s/ledger/state/data.mdb", dir);
  FILE *f = fopen(path, "rb");
  if (f == NULL) return;
  fclose(f);
  snprintf(path, sizeof path, "%s/ledger/state", dir);
  qp__index_t index;
  if (qp__index_open(&index, path, QP__INDEX_MAP_SIZE_DEFAULT, true, NULL, 0) != 0) return;
  if (qp__index_read_meta(&index, meta) != 0) memset(meta, 0, sizeof *meta);
  qp__index_close(&index);
}

typedef struct capped {
  qp_io_t file;  /* the journal, read-only */
  uint64_t end;  /* its size when the backup started */
} capped_t;

static int capped_read_at(void *ctx, void *buf, size_t len, uint64_t offset, size_t *got) {
  capped_t *c = ctx;
  *got = 0;
  if (offset >= c->end) return 0;
  if (len > c->end - offset) len = (size_t)(c->end - offset);
  return c->file.read_at(c->file.ctx, buf, len, offset, got);
}

static int capped_size(void *ctx, uint64_t *out) {
  *out = ((capped_t *)ctx)->end;
  return 0;
}

typedef struct position_ctx {
  const qp__index_meta_t *meta; /* the index's position */
  bool index_record_ok;         /* the record it names was seen with its hash */
} position_ctx_t;

static int position_visit(void *vctx, const qp_journal_record_t *rec) {
  position_ctx_t *p = vctx;
  if (rec->seq == p->meta->applied_seq)
    p->index_record_ok = memcmp(rec->hash, p->meta->applied_hash, QP_HASH_SIZE) == 0;
  return 0;
}

/* Judges the scan: the committed prefix, or damage. */
static int judge(const qp_journal_scan_t *scan, const qp__index_meta_t *meta, bool record_ok,
                 uint64_t end, char *detail, size_t detail_size) {
  bool in_flight = scan->problem_offset >= meta->applied_offset &&
                   end - scan->problem_offset <= GROUP_BYTES_MAX;
  if (scan->problem != 0 && !in_flight) {
    if (detail) snprintf(detail, detail_size, "the journal is damaged: %s", scan->detail);
    return QP_ECORRUPT;
  }
  if (meta->applied_seq > scan->last_seq || (meta->applied_seq > 0 && !record_ok)) {
    if (detail)
      snprintf(detail, detail_size,
               "the index has applied record %llu, which the journal (%llu good records) does "
               "not hold with that hash: the journal is damaged",
               (unsigned long long)meta->applied_seq, (unsigned long long)scan->last_seq);
    return QP_ECORRUPT;
  }
  return 0;
}

int qp_db_backup_position(const char *dir, qp_db_position_t *out, char *detail,
                          size_t detail_size) {
  memset(out, 0, sizeof *out);
  if (detail && detail_size) detail[0] = '\0';
  if (qp_crypto_init() != 0) return QP_EIO;
  qp__index_meta_t meta;
  index_position(dir, &meta); /* first: the journal's end read next lies beyond it */
  char path[PATH_MAX_LEN + 32];
  snprintf(path, sizeof path, "%s/ledger/journal", dir);
  capped_t c = {0};
  int rc = qp_io_open_file(path, false, true, &c.file);
  if (rc == 0) rc = c.file.size(c.file.ctx, &c.end);
  if (rc != 0) {
    if (detail) snprintf(detail, detail_size, "cannot open %s: %s", path, qp_strerror(rc));
    if (c.file.close != NULL) c.file.close(c.file.ctx);
    return rc;
  }
  qp_io_t io = {.ctx = &c, .read_at = capped_read_at, .size = capped_size};
  position_ctx_t p = {.meta = &meta};
  qp_journal_scan_t scan;
  rc = qp_journal_scan_fmt(&io, &qp__ledger_journal_format, position_visit, &p, &scan);
  c.file.close(c.file.ctx);
  if (rc != 0) {
    if (detail) snprintf(detail, detail_size, "cannot read %s: %s", path, qp_strerror(rc));
    return rc;
  }
  rc = judge(&scan, &meta, p.index_record_ok, c.end, detail, detail_size);
  if (rc != 0) return rc;
  out->seq = scan.last_seq;
  memcpy(out->head_hash, scan.last_hash, QP_HASH_SIZE);
  out->events = scan.events;
  out->journal_bytes = scan.valid_bytes;
  out->excluded_bytes = c.end - scan.valid_bytes;
  return 0;
}

int qp_db_check_journal(const qp_io_t *io, const qp_db_position_t *pos, char *detail,
                        size_t detail_size) {
  if (detail && detail_size) detail[0] = '\0';
  uint64_t size = 0, events = 0;
  int rc = io->size(io->ctx, &size);
  if (rc != 0) return rc;
  if (size != pos->journal_bytes) {
    if (detail)
      snprintf(detail, detail_size, "the journal has %llu bytes; its position says %llu",
               (unsigned long long)size, (unsigned long long)pos->journal_bytes);
    return QP_ECORRUPT;
  }
  rc = qp_journal_verify_prefix_fmt(io, &qp__ledger_journal_format, pos->journal_bytes, pos->seq,
                                    pos->head_hash, NULL, &events, detail, detail_size);
  if (rc == 0 && events != pos->events) {
    if (detail)
      snprintf(detail, detail_size, "the journal holds %llu events; its position says %llu",
               (unsigned long long)events, (unsigned long long)pos->events);
    rc = QP_ECORRUPT;
  }
  return rc;
}

/* Compares what the opened ledger holds with the position. */
static int compare_opened(qp_db_t *db, const qp_db_recovery_t *rec, const qp_db_position_t *pos,
                          char *detail, size_t detail_size) {
  qp_db_audit_t audit;
  int rc = qp_db_audit(db, &audit, NULL, 0, NULL);
  if (rc != 0) return rc;
  if (rec->torn_bytes == 0 && audit.journal_seq == pos->seq && audit.events == pos->events &&
      audit.journal_bytes == pos->journal_bytes &&
      memcmp(audit.head_hash, pos->head_hash, QP_HASH_SIZE) == 0 && audit.invariant_ok)
    return 0;
  if (detail)
    snprintf(detail, detail_size,
             "the restored ledger opened at record %llu (%llu events, %llu bytes, %llu torn, "
             "invariant %s), not at the backup's record %llu (%llu events, %llu bytes)",
             (unsigned long long)audit.journal_seq, (unsigned long long)audit.events,
             (unsigned long long)audit.journal_bytes, (unsigned long long)rec->torn_bytes,
             audit.invariant_ok ? "holds" : "BROKEN", (unsigned long long)pos->seq,
             (unsigned long long)pos->events, (unsigned long long)pos->journal_bytes);
  return QP_ECORRUPT;
}

int qp_db_check_restored(const char *dir, const qp_db_position_t *pos, qp_db_audit_t *audit,
                         char *detail, size_t detail_size) {
  if (detail && detail_size) detail[0] = '\0';
  qp_db_t *db = NULL;
  qp_db_recovery_t rec;
  int rc = qp_db_open(dir, NULL, &db, &rec, detail, detail_size);
  if (rc != 0) return rc;
  rc = compare_opened(db, &rec, pos, detail, detail_size);
  if (rc == 0) rc = qp_db_sync_index(db);
  if (rc == 0 && audit != NULL) rc = qp_db_audit(db, audit, NULL, 0, NULL);
  qp_db_close(db);
  return rc;
}
