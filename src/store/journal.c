/*
 * journal.c - the append-only, checksummed, hash-chained journal: the
 * ledger's truth, and any module's log of typed records with opaque
 * bodies.  The format is in store.h; what a body may be (its maximum, an
 * optional item size) is the journal's qp_journal_format_t, checked by the
 * reader like any other header field.
 *
 * Reading tells two kinds of damage apart.  A crash in the middle of an
 * append can only leave damage at the very end of the file: a record cut
 * short, a region of zeros the file system extended but never wrote, or
 * (on a disk that reorders page writes) a last record whose body does not
 * match its hash.  That is a torn tail, and recovery may cut it off, since
 * it was never acknowledged.  Anything else - a bad header checksum with
 * data after it, a bad record followed by more records, a broken chain - is
 * damage to committed history and must never be cut off silently.
 *
 * Startup need not re-hash all history before serving: the index records
 * where in the journal it stands, so only the tail after that point is
 * read at once (qp_journal_scan_from, same rules), and the committed
 * prefix before it is checked later, off the startup path
 * (qp_journal_verify_prefix).  There nothing is a torn tail - those
 * records were acknowledged - so every problem is corruption.  Both run
 * the scan's own record reader, so the two can never judge differently.
 *
 * Writing stages whole records in one group buffer and commits them with a
 * single write and a single sync (group commit).  Any failure poisons the
 * journal: after a failed write or fsync nobody knows what the tail holds,
 * so the only safe move is to stop and let recovery read it back.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "store/store.h"

#include <stdio.h>

enum {
  OFF_HEADER_CHECKSUM = 0,
  OFF_HASH = 16,
  OFF_PREV_HASH = 48,
  OFF_MAGIC = 80,
  OFF_VERSION = 84,
  OFF_OP = 86,
  OFF_SIZE = 88,
  OFF_COUNT = 92,
  OFF_SEQ = 96,
  OFF_NOW = 104,
  OFF_TAG = 112,
  READ_BUFFER_SIZE = 4u << 20,
  RESERVE_STEP = 64u << 20
};

/* The events format reads with the default window; larger formats widen it. */
_Static_assert(READ_BUFFER_SIZE >= QP_JOURNAL_RECORD_MAX, "read buffer holds a record");

/* Seals a record in place: chain hash, then header checksum over it. */
static void seal(uint8_t *rec, uint32_t size, const uint8_t prev_hash[QP_HASH_SIZE]) {
  memcpy(rec + OFF_PREV_HASH, prev_hash, QP_HASH_SIZE);
  qp_hash256(rec + OFF_HASH, rec + OFF_PREV_HASH, size - OFF_PREV_HASH);
  qp_checksum128(rec + OFF_HEADER_CHECKSUM, rec + OFF_HASH, QP_JOURNAL_HEADER_SIZE - OFF_HASH);
}

/* ------------------------------------------------------------- reading */

/* A reader never reads at or past `limit`, the end of the bytes it judges
 * (the file size for a scan, the end of the committed prefix for a prefix
 * check).  Beyond a prefix another thread may be appending, and bytes from
 * there must not decide anything - so they are never even read. */
typedef struct reader {
  const qp_io_t *io;   /* the file */
  qp_journal_format_t fmt; /* what the bodies may be */
  uint8_t *buf;        /* window of the file */
  uint64_t buf_offset; /* file offset of buf[0] */
  size_t buf_len;      /* valid bytes in buf */
  size_t buf_cap;      /* bytes allocated: READ_BUFFER_SIZE or the largest
                          record if bigger, or the span read when smaller */
  uint64_t limit;      /* reads stop here */
  const char *what;    /* why the last problem was recorded (a literal) */
} reader_t;

static bool format_valid(const qp_journal_format_t *fmt) {
  return fmt != NULL && fmt->body_max <= QP_JOURNAL_BODY_LIMIT;
}

/* Allocates a window for reading [from, limit) of a journal of format fmt:
 * it holds any whole record that fits in the span. */
static int reader_open(reader_t *r, const qp_io_t *io, const qp_journal_format_t *fmt,
                       uint64_t from, uint64_t limit) {
  QP_ASSERT(format_valid(fmt));
  uint64_t span = limit > from ? limit - from : 0;
  uint64_t window = (uint64_t)QP_JOURNAL_HEADER_SIZE + fmt->body_max;
  if (window < READ_BUFFER_SIZE) window = READ_BUFFER_SIZE;
  size_t cap = span < window ? (size_t)span : (size_t)window;
  if (cap < QP_JOURNAL_HEADER_SIZE) cap = QP_JOURNAL_HEADER_SIZE;
  *r = (reader_t){.io = io, .fmt = *fmt, .buf = qp_malloc(cap), .buf_cap = cap, .limit = limit};
  return r->buf != NULL ? 0 : QP_ENOMEM;
}

/* True if a header's size and count fit the reader's format. */
static bool body_fits(const reader_t *r, uint32_t size, uint32_t count) {
  if (size < QP_JOURNAL_HEADER_SIZE) return false;
  uint64_t body = (uint64_t)size - QP_JOURNAL_HEADER_SIZE;
  if (body > r->fmt.body_max) return false;
  return r->fmt.count_unit == 0 || body == (uint64_t)count * r->fmt.count_unit;
}

/* Makes [offset, offset+len) available in the window; *avail says how much
 * of it exists before the end of the file (or the reader's limit). */
static int reader_fill(reader_t *r, uint64_t offset, size_t len, const uint8_t **out,
                       size_t *avail) {
  QP_ASSERT(len <= r->buf_cap);
  if (offset < r->buf_offset || offset + len > r->buf_offset + r->buf_len) {
    size_t want = r->buf_cap, got = 0;
    if (offset >= r->limit) want = 0;
    else if (r->limit - offset < want) want = (size_t)(r->limit - offset);
    int rc = want > 0 ? r->io->read_at(r->io->ctx, r->buf, want, offset, &got) : 0;
    if (rc != 0) return rc;
    QP_ASSERT(got <= want);
    r->buf_offset = offset;
    r->buf_len = got;
  }
  size_t have = (size_t)(r->buf_offset + r->buf_len - offset);
  *avail = have < len ? have : len;
  *out = r->buf + (offset - r->buf_offset);
  return 0;
}

static bool all_zero(const uint8_t *p, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (p[i] != 0) return false;
  return true;
}

/* True if every byte from offset to the end of the file is zero. */
static int zeros_to_end(reader_t *r, uint64_t offset, uint64_t file_size, bool *out) {
  *out = true;
  while (offset < file_size) {
    size_t want = file_size - offset < r->buf_cap ? (size_t)(file_size - offset) : r->buf_cap;
    const uint8_t *p;
    size_t avail;
    int rc = reader_fill(r, offset, want, &p, &avail);
    if (rc != 0) return rc;
    if (avail == 0) break;
    if (!all_zero(p, avail)) {
      *out = false;
      return 0;
    }
    offset += avail;
  }
  return 0;
}

static void problem(reader_t *r, qp_journal_scan_t *s, int kind, uint64_t offset,
                    const char *what) {
  r->what = what;
  s->problem = kind;
  s->problem_offset = offset;
  s->problem_seq = s->last_seq + 1;
  snprintf(s->detail, sizeof s->detail, "%s record %llu at offset %llu: %s",
           kind == QP_ETORN ? "torn" : "corrupt", (unsigned long long)(s->last_seq + 1),
           (unsigned long long)offset, what);
}

/* Reads the `size`-byte record at `offset` afresh (not from the window)
 * and hashes it as the chain does; *p points at the fresh bytes. */
static int reread_record(reader_t *r, uint64_t offset, uint32_t size, const uint8_t **p,
                         uint8_t hash[QP_HASH_SIZE]) {
  size_t avail;
  r->buf_len = 0; /* drop the window */
  int rc = reader_fill(r, offset, size, p, &avail);
  if (rc != 0) return rc;
  if (avail != size) return QP_EIO; /* the file changed under the reader */
  qp_hash256(hash, *p + OFF_PREV_HASH, size - OFF_PREV_HASH);
  return 0;
}

/* A torn append leaves the sectors that did not make it reading as zeros
 * (the journal appends into fresh or fallocated space).  True if some
 * sector's share of the record at `offset` (bytes rec[0..size)) is all
 * zero; the header's sector never is. */
static bool missing_sector(const uint8_t *rec, uint64_t offset, uint32_t size) {
  enum { SECTOR = 512 };
  uint64_t end = offset + size;
  for (uint64_t start = offset - offset % SECTOR; start < end; start += SECTOR) {
    uint64_t lo = start > offset ? start : offset, hi = start + SECTOR < end ? start + SECTOR : end;
    if (all_zero(rec + (lo - offset), (size_t)(hi - lo))) return true;
  }
  return false;
}

/* The record at `offset` does not match its hash.  A crash in the middle
 * of its append can leave exactly that - when it is the last record, or
 * when only zeros follow it (a file system that extended the size before
 * the data landed) - and then it is a torn tail, which recovery cuts off
 * for good.  So that verdict needs evidence.  It must not rest on a bad
 * read - a bit flipped on the way would destroy a record that may have
 * been acknowledged - so the record is read again: if it now matches, the
 * first read was wrong (returns 0, with *p and hash from the good read);
 * if the two reads disagree, the device cannot be trusted right now
 * (QP_EIO).  And the bytes must look torn: a sector that never landed
 * reads as zeros (the journal appends into fresh or fallocated space),
 * while foreign bytes mean the record was damaged after it was written -
 * by a wild write onto the last acknowledged record, say, whose own lost
 * bytes leave zeros behind it - and cutting it would lose acknowledged
 * history without a word: corruption.  Records the problem in s and
 * returns 1. */
static int judge_bad_body(reader_t *r, uint64_t offset, uint32_t size, qp_journal_scan_t *s,
                          uint8_t hash[QP_HASH_SIZE], const uint8_t **p) {
  uint8_t first_hash[QP_HASH_SIZE], first_stored[QP_HASH_SIZE];
  memcpy(first_hash, hash, QP_HASH_SIZE);
  memcpy(first_stored, *p + OFF_HASH, QP_HASH_SIZE);
  bool last = offset + size == s->file_size, tail = last;
  int rc = last ? 0 : zeros_to_end(r, offset + size, s->file_size, &tail); /* moves the window */
  if (rc != 0) return rc;
  if (!tail) {
    problem(r, s, QP_ECORRUPT, offset, "body does not match its hash");
    return 1;
  }
  if ((rc = reread_record(r, offset, size, p, hash)) != 0) return rc;
  if (memcmp(hash, *p + OFF_HASH, QP_HASH_SIZE) == 0) return 0;
  if (memcmp(hash, first_hash, QP_HASH_SIZE) != 0 ||
      memcmp(*p + OFF_HASH, first_stored, QP_HASH_SIZE) != 0)
    return QP_EIO;
  if (!missing_sector(*p, offset, size)) {
    problem(r, s, QP_ECORRUPT, offset,
            "body does not match its hash, and no sector of it is missing as a torn append would "
            "leave it: damaged after it was written");
    return 1;
  }
  problem(
      r, s, QP_ETORN, offset,
      last ? "last record's body does not match its hash" : "body cut short and only zeros follow");
  return 1;
}

/* Classifies the record at `offset`; returns 0 with rec filled if good,
 * 1 if a problem was recorded in s, or a negative error. */
static int read_record(reader_t *r, uint64_t offset, qp_journal_scan_t *s,
                       qp_journal_record_t *rec) {
  uint64_t left = s->file_size - offset;
  const uint8_t *h;
  size_t avail;
  int rc = reader_fill(r, offset, QP_JOURNAL_HEADER_SIZE, &h, &avail);
  if (rc != 0) return rc;
  bool zeros;
  if (avail < QP_JOURNAL_HEADER_SIZE || all_zero(h, QP_JOURNAL_HEADER_SIZE)) {
    if ((rc = zeros_to_end(r, offset, s->file_size, &zeros)) != 0) return rc;
    if (avail < QP_JOURNAL_HEADER_SIZE || zeros) {
      problem(r, s, QP_ETORN, offset,
              avail < QP_JOURNAL_HEADER_SIZE ? "header cut short" : "zeros to the end of the file");
      return 1;
    }
  }
  if ((rc = reader_fill(r, offset, QP_JOURNAL_HEADER_SIZE, &h, &avail)) != 0) return rc;
  uint8_t sum[QP_CHECKSUM_SIZE];
  qp_checksum128(sum, h + OFF_HASH, QP_JOURNAL_HEADER_SIZE - OFF_HASH);
  if (memcmp(sum, h + OFF_HEADER_CHECKSUM, sizeof sum) != 0) {
    problem(r, s, QP_ECORRUPT, offset, "header checksum mismatch");
    return 1;
  }
  uint32_t size = qp_load_u32(h + OFF_SIZE), count = qp_load_u32(h + OFF_COUNT);
  if (qp_load_u32(h + OFF_MAGIC) != QP_JOURNAL_MAGIC ||
      qp_load_u16(h + OFF_VERSION) != QP_JOURNAL_VERSION || !body_fits(r, size, count)) {
    problem(r, s, QP_ECORRUPT, offset, "header fields out of range");
    return 1;
  }
  uint64_t seq = qp_load_u64(h + OFF_SEQ);
  if (seq != s->last_seq + 1 || memcmp(h + OFF_PREV_HASH, s->last_hash, QP_HASH_SIZE) != 0) {
    problem(r, s, QP_ECORRUPT, offset, "hash chain broken (sequence or previous hash mismatch)");
    return 1;
  }
  if (size > left) {
    problem(r, s, QP_ETORN, offset, "record extends past the end of the file");
    return 1;
  }
  const uint8_t *p;
  if ((rc = reader_fill(r, offset, size, &p, &avail)) != 0) return rc;
  QP_ASSERT(avail == size);
  uint8_t hash[QP_HASH_SIZE];
  qp_hash256(hash, p + OFF_PREV_HASH, size - OFF_PREV_HASH);
  if (memcmp(hash, p + OFF_HASH, QP_HASH_SIZE) != 0 &&
      (rc = judge_bad_body(r, offset, size, s, hash, &p)) != 0)
    return rc;
  rec->offset = offset;
  rec->seq = seq;
  rec->now_ns = qp_load_u64(p + OFF_NOW);
  rec->op = qp_load_u16(p + OFF_OP);
  rec->count = count;
  rec->size = size;
  memcpy(rec->tag, p + OFF_TAG, QP_JOURNAL_TAG_SIZE);
  rec->body = p + QP_JOURNAL_HEADER_SIZE;
  rec->body_size = size - QP_JOURNAL_HEADER_SIZE;
  memcpy(rec->hash, hash, QP_HASH_SIZE);
  return 0;
}

/* Reads records from s->valid_bytes up to s->file_size, the chain so far
 * being s->last_seq/last_hash, and extends s with each good one.  Returns 0
 * at the end, 1 if a problem was recorded in s, an I/O error, or the
 * visitor's non-zero value.  Both the scan and the prefix check run on
 * this loop, so that they judge records by the same rules. */
static int scan_records(reader_t *r, qp_journal_scan_t *s, qp_journal_visit_fn visit, void *ctx) {
  uint64_t offset = s->valid_bytes;
  int rc = 0;
  while (offset < s->file_size) {
    qp_journal_record_t rec;
    rc = read_record(r, offset, s, &rec);
    if (rc != 0) break;
    if (visit != NULL && (rc = visit(ctx, &rec)) != 0) break;
    offset += rec.size;
    s->valid_bytes = offset;
    s->records++;
    s->events += rec.count;
    s->last_seq = rec.seq;
    memcpy(s->last_hash, rec.hash, QP_HASH_SIZE);
  }
  QP_ASSERT(rc != 0 || s->valid_bytes == s->file_size);
  return rc;
}

/* The file ends before `start`: records the index counts as committed are
 * gone.  That is never a torn tail (they were acknowledged), so it is
 * corruption, pinned on the record that should end at `start`. */
static void missing_prefix(qp_journal_scan_t *s, uint64_t start) {
  s->problem = QP_ECORRUPT;
  s->problem_offset = s->file_size;
  s->problem_seq = s->last_seq;
  snprintf(s->detail, sizeof s->detail,
           "corrupt journal: it is %llu bytes, but committed record %llu ends at offset %llu: "
           "committed records are missing",
           (unsigned long long)s->file_size, (unsigned long long)s->last_seq,
           (unsigned long long)start);
}

int qp_journal_scan_from_fmt(const qp_io_t *io, const qp_journal_format_t *fmt, uint64_t start,
                             uint64_t start_seq, const uint8_t start_hash[QP_HASH_SIZE],
                             qp_journal_visit_fn visit, void *ctx, qp_journal_scan_t *s) {
  memset(s, 0, sizeof *s);
  if (!format_valid(fmt)) return QP_EINVAL;
  /* Offset 0 is before the first record; anywhere else is after one. */
  if (start == 0 ? start_seq != 0 || !all_zero(start_hash, QP_HASH_SIZE) : start_seq == 0)
    return QP_EINVAL;
  int rc = io->size(io->ctx, &s->file_size);
  if (rc != 0) return rc;
  s->valid_bytes = start;
  s->last_seq = start_seq;
  memcpy(s->last_hash, start_hash, QP_HASH_SIZE);
  if (s->file_size < start) {
    missing_prefix(s, start);
    return 0;
  }
  reader_t r;
  if ((rc = reader_open(&r, io, fmt, start, s->file_size)) != 0) return rc;
  rc = scan_records(&r, s, visit, ctx);
  qp_free(r.buf);
  return rc == 1 ? 0 : rc;
}

int qp_journal_scan_from(const qp_io_t *io, uint64_t start, uint64_t start_seq,
                         const uint8_t start_hash[QP_HASH_SIZE], qp_journal_visit_fn visit,
                         void *ctx, qp_journal_scan_t *s) {
  const qp_journal_format_t fmt = QP_JOURNAL_FORMAT_EVENTS;
  return qp_journal_scan_from_fmt(io, &fmt, start, start_seq, start_hash, visit, ctx, s);
}

int qp_journal_scan_fmt(const qp_io_t *io, const qp_journal_format_t *fmt,
                        qp_journal_visit_fn visit, void *ctx, qp_journal_scan_t *s) {
  static const uint8_t zeros[QP_HASH_SIZE];
  return qp_journal_scan_from_fmt(io, fmt, 0, 0, zeros, visit, ctx, s);
}

int qp_journal_scan(const qp_io_t *io, qp_journal_visit_fn visit, void *ctx,
                    qp_journal_scan_t *s) {
  const qp_journal_format_t fmt = QP_JOURNAL_FORMAT_EVENTS;
  return qp_journal_scan_fmt(io, &fmt, visit, ctx, s);
}

/* ------------------------------------------------------ prefix checking */

typedef struct prefix_check {
  const _Atomic bool *stop; /* the caller's cancel flag, or NULL */
  uint64_t last_offset;     /* where the last good record starts */
} prefix_check_t;

/* Runs between records: remembers where the last one starts (for the
 * detail) and gives up if the caller asked it to. */
static int prefix_visit(void *ctx, const qp_journal_record_t *rec) {
  prefix_check_t *c = ctx;
  c->last_offset = rec->offset;
  if (c->stop != NULL && atomic_load_explicit(c->stop, memory_order_relaxed)) return QP_ESTOPPED;
  return 0;
}

/* Writes "journal record N at offset O: " and the formatted reason into
 * detail (may be NULL); returns QP_ECORRUPT. */
static int prefix_corrupt(char *detail, size_t detail_size, uint64_t seq, uint64_t offset,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int prefix_corrupt(char *detail, size_t detail_size, uint64_t seq, uint64_t offset,
                          const char *fmt, ...) {
  if (detail == NULL || detail_size == 0) return QP_ECORRUPT;
  int n = snprintf(detail, detail_size, "journal record %llu at offset %llu: ",
                   (unsigned long long)seq, (unsigned long long)offset);
  if (n >= 0 && (size_t)n < detail_size) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail + n, detail_size - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return QP_ECORRUPT;
}

/* Judges a finished read of [0, min(file size, end)) against what the
 * caller says the prefix holds.  Every deviation is corruption: the caller
 * knows these records were committed, so there is no torn tail to forgive,
 * and the reason the scan would have forgiven it is kept in the detail. */
static int judge_prefix(const char *what, const qp_journal_scan_t *s, const prefix_check_t *c,
                        uint64_t file_size, uint64_t end, uint64_t end_seq,
                        const uint8_t end_hash[QP_HASH_SIZE], char *detail, size_t detail_size) {
  if (s->problem != 0 && file_size < end)
    return prefix_corrupt(detail, detail_size, s->problem_seq, s->problem_offset,
                          "%s (the file is %llu bytes, shorter than the committed prefix of %llu)",
                          what, (unsigned long long)file_size, (unsigned long long)end);
  if (s->problem != 0)
    return prefix_corrupt(detail, detail_size, s->problem_seq, s->problem_offset,
                          "%s (inside the committed prefix, which ends at offset %llu)", what,
                          (unsigned long long)end);
  if (s->valid_bytes < end) /* the file ends on a boundary before `end` */
    return prefix_corrupt(detail, detail_size, s->last_seq + 1, s->valid_bytes,
                          "missing: the file ends here (%llu bytes) inside the committed prefix "
                          "of %llu bytes",
                          (unsigned long long)file_size, (unsigned long long)end);
  if (s->last_seq < end_seq)
    return prefix_corrupt(detail, detail_size, s->last_seq + 1, end,
                          "missing: the committed prefix should end with record %llu, but its "
                          "last record is %llu",
                          (unsigned long long)end_seq, (unsigned long long)s->last_seq);
  if (s->last_seq > end_seq)
    return prefix_corrupt(detail, detail_size, s->last_seq, c->last_offset,
                          "ends the committed prefix at offset %llu, where record %llu should end",
                          (unsigned long long)end, (unsigned long long)end_seq);
  if (memcmp(s->last_hash, end_hash, QP_HASH_SIZE) != 0)
    return prefix_corrupt(detail, detail_size, s->last_seq, c->last_offset,
                          "its hash is not the committed head hash (the history differs)");
  return 0;
}

int qp_journal_verify_prefix_fmt(const qp_io_t *io, const qp_journal_format_t *fmt, uint64_t end,
                                 uint64_t end_seq, const uint8_t end_hash[QP_HASH_SIZE],
                                 const _Atomic bool *stop, uint64_t *events_out, char *detail,
                                 size_t detail_size) {
  if (events_out != NULL) *events_out = 0;
  if (detail != NULL && detail_size > 0) detail[0] = '\0';
  if (!format_valid(fmt)) return QP_EINVAL;
  prefix_check_t c = {.stop = stop};
  if (stop != NULL && atomic_load_explicit(stop, memory_order_relaxed)) return QP_ESTOPPED;
  uint64_t file_size;
  int rc = io->size(io->ctx, &file_size);
  if (rc != 0) return rc;
  /* Judge the prefix as if the file ended at `end`: what lies beyond is
   * another thread's business, and bytes missing below `end` show up as a
   * record cut short. */
  qp_journal_scan_t s;
  memset(&s, 0, sizeof s);
  s.file_size = file_size < end ? file_size : end;
  reader_t r;
  if ((rc = reader_open(&r, io, fmt, 0, s.file_size)) != 0) return rc;
  rc = scan_records(&r, &s, prefix_visit, &c);
  qp_free(r.buf);
  if (events_out != NULL) *events_out = s.events;
  if (rc < 0) return rc; /* an I/O error, or QP_ESTOPPED from prefix_visit */
  return judge_prefix(r.what, &s, &c, file_size, end, end_seq, end_hash, detail, detail_size);
}

int qp_journal_verify_prefix(const qp_io_t *io, uint64_t end, uint64_t end_seq,
                             const uint8_t end_hash[QP_HASH_SIZE], const _Atomic bool *stop,
                             uint64_t *events_out, char *detail, size_t detail_size) {
  const qp_journal_format_t fmt = QP_JOURNAL_FORMAT_EVENTS;
  return qp_journal_verify_prefix_fmt(io, &fmt, end, end_seq, end_hash, stop, events_out, detail,
                                      detail_size);
}

/* ------------------------------------------------------------- writing */

typedef struct staged {
  size_t offset; /* in the group buffer */
  uint32_t size; /* whole record */
} staged_t;

struct qp_journal {
  qp_io_t io;                      /* the file, owned */
  qp_journal_format_t fmt;         /* what staged bodies must fit */
  uint64_t end;                    /* durable end of the journal */
  uint64_t reserved_end;           /* blocks allocated up to here */
  uint64_t last_seq;               /* seq of the last durable record */
  uint8_t last_hash[QP_HASH_SIZE]; /* its hash */
  uint8_t *group;                  /* staged records */
  size_t group_len;                /* bytes staged */
  size_t group_max;                /* capacity of group */
  staged_t *staged;                /* staged records, in order */
  uint32_t staged_count;           /* records staged */
  uint32_t staged_max;             /* capacity of staged */
  bool poisoned;                   /* a write or sync failed */
};

int qp_journal_open_fmt(qp_io_t *io, const qp_journal_format_t *fmt, uint64_t end,
                        uint64_t last_seq, const uint8_t last_hash[QP_HASH_SIZE],
                        size_t group_bytes_max, qp_journal_t **out) {
  if (!format_valid(fmt)) return QP_EINVAL;
  size_t record_max = (size_t)QP_JOURNAL_HEADER_SIZE + fmt->body_max;
  if (group_bytes_max < record_max) group_bytes_max = record_max;
  qp_journal_t *j = qp_calloc(1, sizeof *j);
  if (j == NULL) return QP_ENOMEM;
  j->fmt = *fmt;
  j->group_max = group_bytes_max;
  j->staged_max = (uint32_t)(group_bytes_max / QP_JOURNAL_HEADER_SIZE);
  j->group = qp_malloc(group_bytes_max);
  j->staged = qp_malloc(j->staged_max * sizeof *j->staged);
  if (j->group == NULL || j->staged == NULL) {
    qp_free(j->group);
    qp_free(j->staged);
    qp_free(j);
    return QP_ENOMEM;
  }
  j->io = *io;
  j->end = end;
  j->reserved_end = end;
  j->last_seq = last_seq;
  memcpy(j->last_hash, last_hash, QP_HASH_SIZE);
  *out = j;
  return 0;
}

int qp_journal_open(qp_io_t *io, uint64_t end, uint64_t last_seq,
                    const uint8_t last_hash[QP_HASH_SIZE], size_t group_bytes_max,
                    qp_journal_t **out) {
  const qp_journal_format_t fmt = QP_JOURNAL_FORMAT_EVENTS;
  return qp_journal_open_fmt(io, &fmt, end, last_seq, last_hash, group_bytes_max, out);
}

void qp_journal_close(qp_journal_t *j) {
  if (j == NULL) return;
  j->io.close(j->io.ctx);
  qp_free(j->group);
  qp_free(j->staged);
  qp_free(j);
}

int qp_journal_reserve(qp_journal_t *j, uint64_t bytes) {
  if (j->poisoned) return QP_ESTOPPED;
  uint64_t need = j->end + j->group_len + bytes;
  if (need <= j->reserved_end || j->io.reserve == NULL) return 0;
  uint64_t target = (need + RESERVE_STEP - 1) / RESERVE_STEP * RESERVE_STEP;
  int rc = j->io.reserve(j->io.ctx, target);
  if (rc == QP_ENOSPC) { /* a nearly full disk: at least this group */
    target = need;
    rc = j->io.reserve(j->io.ctx, target);
  }
  if (rc != 0) return rc;
  j->reserved_end = target; /* what was really reserved (found by the disk-full test) */
  return 0;
}

size_t qp_journal_group_room(const qp_journal_t *j) {
  size_t used = j->group_len + QP_JOURNAL_HEADER_SIZE;
  if (used > j->group_max || j->staged_count == j->staged_max) return 0;
  return j->group_max - used;
}

uint8_t *qp_journal_stage(qp_journal_t *j, uint32_t op, uint32_t count, uint64_t now_ns,
                          uint32_t body_size) {
  return qp_journal_stage_tagged(j, op, count, now_ns, NULL, body_size);
}

uint8_t *qp_journal_stage_tagged(qp_journal_t *j, uint32_t op, uint32_t count, uint64_t now_ns,
                                 const uint8_t tag[QP_JOURNAL_TAG_SIZE], uint32_t body_size) {
  QP_ASSERT(op <= UINT16_MAX && body_size <= j->fmt.body_max);
  QP_ASSERT(j->fmt.count_unit == 0 || body_size == (uint64_t)count * j->fmt.count_unit);
  /* Not qp_journal_group_room(j) < body_size: a room of 0 also means "not
   * even a header fits", which an empty body must not take for a yes. */
  QP_ASSERT(j->group_len <= j->group_max);
  if (j->poisoned || j->staged_count == j->staged_max ||
      j->group_max - j->group_len < (size_t)QP_JOURNAL_HEADER_SIZE + body_size)
    return NULL;
  uint32_t size = QP_JOURNAL_HEADER_SIZE + body_size;
  uint8_t *rec = j->group + j->group_len;
  memset(rec, 0, QP_JOURNAL_HEADER_SIZE);
  qp_store_u32(rec + OFF_MAGIC, QP_JOURNAL_MAGIC);
  qp_store_u16(rec + OFF_VERSION, QP_JOURNAL_VERSION);
  qp_store_u16(rec + OFF_OP, (uint16_t)op);
  qp_store_u32(rec + OFF_SIZE, size);
  qp_store_u32(rec + OFF_COUNT, count);
  qp_store_u64(rec + OFF_SEQ, j->last_seq + j->staged_count + 1);
  qp_store_u64(rec + OFF_NOW, now_ns);
  if (tag != NULL) memcpy(rec + OFF_TAG, tag, QP_JOURNAL_TAG_SIZE);
  j->staged[j->staged_count].offset = j->group_len;
  j->staged[j->staged_count].size = size;
  j->staged_count++;
  j->group_len += size;
  return rec + QP_JOURNAL_HEADER_SIZE;
}

int qp_journal_commit(qp_journal_t *j) {
  if (j->poisoned) return QP_ESTOPPED;
  if (j->staged_count == 0) return 0;
  uint8_t prev[QP_HASH_SIZE];
  memcpy(prev, j->last_hash, QP_HASH_SIZE);
  for (uint32_t i = 0; i < j->staged_count; i++) {
    uint8_t *rec = j->group + j->staged[i].offset;
    seal(rec, j->staged[i].size, prev);
    memcpy(prev, rec + OFF_HASH, QP_HASH_SIZE);
  }
  int rc = j->io.write_at(j->io.ctx, j->group, j->group_len, j->end);
  if (rc == 0) rc = j->io.sync(j->io.ctx);
  if (rc != 0) {
    j->poisoned = true;
    return rc;
  }
  j->end += j->group_len;
  j->last_seq += j->staged_count;
  memcpy(j->last_hash, prev, QP_HASH_SIZE);
  j->group_len = 0;
  j->staged_count = 0;
  return 0;
}

uint64_t qp_journal_size(const qp_journal_t *j) { return j->end; }
uint64_t qp_journal_last_seq(const qp_journal_t *j) { return j->last_seq; }
void qp_journal_head_hash(const qp_journal_t *j, uint8_t out[QP_HASH_SIZE]) {
  memcpy(out, j->last_hash, QP_HASH_SIZE);
}
bool qp_journal_poisoned(const qp_journal_t *j) { return j->poisoned; }
