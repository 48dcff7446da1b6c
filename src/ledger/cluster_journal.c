/*
 * cluster_journal.c - GET /v1/cluster/journal (docs/cluster.md): raw
 * journal records after a position the caller holds, for a replica that
 * catches up to a snapshot (raft_snapshot.c).  The caller names its head
 * (after_seq, after_bytes, after_hash); the records that follow it here
 * are read from the journal file, up to what is durable (the audit's
 * position), at most PAGE_BYTES of whole records, and checked on the way
 * (header checksums, hashes, the chain from the caller's head: a caller
 * whose head is not in this journal gets 409 journal_diverged).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/alloc.h"
#include "base/err.h"
#include "ledger/api_int.h"
#include "ledger/replay.h"

#define PAGE_BYTES ((uint64_t)8 << 20) /* one answer, whole records (at least one) */
#define STOP_PAGE_FULL 2 /* a visitor's stop (1 means "problem found" to the scan) */

typedef struct after {
  uint64_t seq, bytes;
  uint8_t hash[QP_HASH_SIZE];
  unsigned given;   /* bit 0 seq, 1 bytes, 2 hash */
  const char *bad;  /* the argument that is wrong */
} after_t;

static bool parse_u64(const char *v, uint64_t *out) {
  if (v == NULL || *v < '0' || *v > '9') return false;
  char *end;
  errno = 0;
  unsigned long long x = strtoull(v, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = x;
  return true;
}

static bool take_arg(void *ctx, const char *key, const char *value) {
  after_t *a = ctx;
  size_t bin = 0;
  bool ok;
  if (strcmp(key, "after_seq") == 0) ok = parse_u64(value, &a->seq), a->given |= 1;
  else if (strcmp(key, "after_bytes") == 0) ok = parse_u64(value, &a->bytes), a->given |= 2;
  else if (strcmp(key, "after_hash") == 0) {
    ok = value != NULL && strlen(value) == 2 * QP_HASH_SIZE &&
         sodium_hex2bin(a->hash, QP_HASH_SIZE, value, strlen(value), NULL, &bin, NULL) == 0 &&
         bin == QP_HASH_SIZE;
    a->given |= 4;
  } else ok = false;
  if (!ok) a->bad = key;
  return ok;
}

typedef struct page_scan {
  uint64_t start;   /* the caller's after_bytes */
  uint64_t end;     /* end of the last record taken */
  uint64_t seq;     /* its seq */
} page_scan_t;

static int take_record(void *ctx, const qp_journal_record_t *rec) {
  page_scan_t *p = ctx;
  if (p->end > p->start && rec->offset + rec->size - p->start > PAGE_BYTES) return STOP_PAGE_FULL;
  p->end = rec->offset + rec->size;
  p->seq = rec->seq;
  return 0;
}

typedef struct capped {
  qp_io_t file;
  uint64_t end;
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

/* Finds the page after *a in the journal's durable prefix [0, end) and
 * reads it into *out.  0, QP_ECORRUPT (a is not a head of this journal),
 * or an I/O error. */
static int read_page(const char *data_dir, const after_t *a, uint64_t end, uint8_t **out,
                     page_scan_t *p) {
  char path[1200];
  snprintf(path, sizeof path, "%s/ledger/journal", data_dir);
  capped_t c = {.end = end};
  int rc = qp_io_open_file(path, false, true, &c.file);
  if (rc != 0) return rc;
  qp_io_t io = {.ctx = &c, .read_at = capped_read_at, .size = capped_size};
  qp_journal_scan_t scan;
  *p = (page_scan_t){.start = a->bytes, .end = a->bytes, .seq = a->seq};
  rc = qp_journal_scan_from_fmt(&io, &qp__ledger_journal_format, a->bytes, a->seq, a->hash,
                                take_record, p, &scan);
  if (rc == STOP_PAGE_FULL) rc = 0;
  else if (rc == 0 && scan.problem != 0) rc = QP_ECORRUPT;
  size_t len = (size_t)(p->end - p->start), got = 0;
  /* + 1: an empty page is the body "" (a reply's body_len 0 means strlen) */
  *out = rc == 0 ? qp_calloc(1, len + 1) : NULL;
  if (rc == 0 && *out == NULL) rc = QP_ENOMEM;
  if (rc == 0 && len > 0) rc = c.file.read_at(c.file.ctx, *out, len, p->start, &got);
  if (rc == 0 && got != len) rc = QP_EIO;
  c.file.close(c.file.ctx);
  if (rc != 0) {
    qp_free(*out);
    *out = NULL;
  }
  return rc;
}

static void reply_page(qp_http_reply_t *r, uint8_t *data, const page_scan_t *p) {
  char seq[24], bytes[24];
  snprintf(seq, sizeof seq, "%llu", (unsigned long long)p->seq);
  snprintf(bytes, sizeof bytes, "%llu", (unsigned long long)p->end);
  qp_http_reply_bytes(r, 200, data, (size_t)(p->end - p->start), "application/octet-stream");
  qp_http_reply_header(r, "X-Quipu-Journal-Seq", seq);
  qp_http_reply_header(r, "X-Quipu-Journal-Bytes", bytes);
}

void qp__ledger_cluster_journal(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__ledger_api_t *api = ctx;
  after_t a = {0};
  if (!qp_http_query_each(req, take_arg, &a) || a.given != 7) {
    const char *field = a.bad ? a.bad : !(a.given & 1) ? "after_seq"
                                      : !(a.given & 2) ? "after_bytes" : "after_hash";
    qp_http_reply_fail(r, 400, "invalid_query", field,
                       "after_seq and after_bytes (decimal) and after_hash (64 hex digits) "
                       "name the caller's journal head; nothing else is taken");
    return;
  }
  if ((a.seq == 0) != (a.bytes == 0)) {
    qp_http_reply_fail(r, 400, "invalid_query", "after_bytes",
                       "after_bytes is 0 exactly when after_seq is 0 (an empty journal)");
    return;
  }
  qp_db_audit_t audit;
  uint32_t ledgers = 0;
  qp_db_audit(api->db, &audit, NULL, 0, &ledgers);
  bool at_end = a.bytes == audit.journal_bytes;
  if (at_end && (a.seq != audit.journal_seq ||
                 (a.seq != 0 && memcmp(a.hash, audit.head_hash, QP_HASH_SIZE) != 0))) {
    qp_http_reply_fail(r, 409, "journal_diverged", "after_hash",
                       "no record of this journal ends at that position with that hash");
    return;
  }
  if (a.seq > audit.journal_seq || a.bytes > audit.journal_bytes) {
    qp_http_reply_fail(r, 404, "position_unknown", "after_seq",
                       "this replica's journal does not reach that position yet");
    return;
  }
  uint8_t *data = NULL;
  page_scan_t p;
  int rc = read_page(api->data_dir, &a, audit.journal_bytes, &data, &p);
  if (rc == QP_ECORRUPT) {
    qp_http_reply_fail(r, 409, "journal_diverged", "after_hash",
                       "no record of this journal ends at that position with that hash");
    return;
  }
  if (rc != 0) {
    qp_http_reply_fail(r, 500, "internal", "", qp_strerror(rc));
    return;
  }
  reply_page(r, data, &p);
}
