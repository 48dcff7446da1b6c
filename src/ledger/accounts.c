/*
 * accounts.c - the accounts checkpoint file (see accounts.h).
 *
 * Layout: two 512-byte header slots at offsets 0 and 512, rows from 4096.
 * A header slot is
 *
 *   offset size  field
 *        0    8  magic "QPACCT01"
 *        8    8  seq     journal seq of the round the rows are complete up to
 *       16    8  rows    rows in the file
 *       24    8  writes  header writes so far (the slot is writes % 2)
 *       32   16  BLAKE2b-256 of bytes [0, 32), first 16 bytes
 *
 * all little-endian.  The valid slot with the most writes wins.
 */
#include "ledger/accounts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/err.h"
#include "base/assert.h"
#include "crypto/crypto.h"
#include "ledger/index.h"

enum { SLOT_BYTES = 512, DATA_AT = 4096, CHECK_AT = 32, CHECK_BYTES = 16, READ_ROWS = 8192 };
static const char MAGIC[8] = {'Q', 'P', 'A', 'C', 'C', 'T', '0', '1'};

typedef struct header {
  uint64_t seq, rows, writes;
} header_t;

static void header_encode(uint8_t out[SLOT_BYTES], const header_t *h) {
  memset(out, 0, SLOT_BYTES);
  memcpy(out, MAGIC, sizeof MAGIC);
  qp_store_u64(out + 8, h->seq);
  qp_store_u64(out + 16, h->rows);
  qp_store_u64(out + 24, h->writes);
  uint8_t sum[QP_HASH_SIZE];
  qp_hash256(sum, out, CHECK_AT);
  memcpy(out + CHECK_AT, sum, CHECK_BYTES);
}

static bool header_decode(const uint8_t in[SLOT_BYTES], header_t *h) {
  uint8_t sum[QP_HASH_SIZE];
  qp_hash256(sum, in, CHECK_AT);
  if (memcmp(in, MAGIC, sizeof MAGIC) != 0 || memcmp(in + CHECK_AT, sum, CHECK_BYTES) != 0)
    return false;
  h->seq = qp_load_u64(in + 8);
  h->rows = qp_load_u64(in + 16);
  h->writes = qp_load_u64(in + 24);
  return true;
}

static int write_header(qp__accounts_file_t *af, uint64_t seq, uint64_t rows) {
  header_t h = {seq, rows, af->writes + 1};
  uint8_t slot[SLOT_BYTES];
  header_encode(slot, &h);
  int rc = af->io.write_at(af->io.ctx, slot, sizeof slot, (h.writes % 2) * SLOT_BYTES);
  if (rc == 0) rc = af->io.sync(af->io.ctx);
  if (rc != 0) return rc;
  af->seq = seq;
  af->rows = rows;
  af->writes = h.writes;
  return 0;
}

int qp__accounts_open(qp__accounts_file_t *af, const char *dir, bool read_only, bool *created,
                      char *detail, size_t detail_size) {
  memset(af, 0, sizeof *af);
  *created = false;
  snprintf(af->path, sizeof af->path, "%s/accounts", dir);
  int rc = qp_io_open_file(af->path, false, read_only, &af->io);
  if (rc == QP_ENOTFOUND && !read_only) {
    rc = qp_io_open_file(af->path, true, false, &af->io);
    if (rc == 0) {
      af->open = true;
      *created = true;
      rc = write_header(af, 0, 0);
      if (rc == 0) rc = write_header(af, 0, 0); /* both slots valid */
      if (rc == 0) rc = qp_fsync_dir(dir);
      if (rc != 0 && detail)
        snprintf(detail, detail_size, "cannot create %s: %s", af->path, qp_strerror(rc));
      return rc;
    }
  }
  if (rc != 0) {
    if (detail) snprintf(detail, detail_size, "cannot open %s: %s", af->path, qp_strerror(rc));
    return rc;
  }
  af->open = true;
  uint8_t slots[2 * SLOT_BYTES];
  size_t got = 0;
  rc = af->io.read_at(af->io.ctx, slots, sizeof slots, 0, &got);
  if (rc != 0) {
    if (detail) snprintf(detail, detail_size, "cannot read %s: %s", af->path, qp_strerror(rc));
    return rc;
  }
  header_t h[2];
  bool ok[2] = {got == sizeof slots && header_decode(slots, &h[0]),
                got == sizeof slots && header_decode(slots + SLOT_BYTES, &h[1])};
  if (!ok[0] && !ok[1]) {
    if (detail)
      snprintf(detail, detail_size, "%s: no valid header (both copies damaged)", af->path);
    return QP_ECORRUPT;
  }
  const header_t *best = !ok[1] || (ok[0] && h[0].writes > h[1].writes) ? &h[0] : &h[1];
  uint64_t size = 0;
  rc = af->io.size(af->io.ctx, &size);
  if (rc == 0 && best->rows > 0 && size < DATA_AT + best->rows * QP_RECORD_SIZE) {
    if (detail)
      snprintf(detail, detail_size, "%s holds %llu bytes, its header promises %llu rows", af->path,
               (unsigned long long)size, (unsigned long long)best->rows);
    return QP_ECORRUPT;
  }
  af->seq = best->seq;
  af->rows = best->rows;
  af->writes = best->writes;
  return rc;
}

void qp__accounts_close(qp__accounts_file_t *af) {
  if (af->open) af->io.close(af->io.ctx);
  af->open = false;
}

int qp__accounts_read(const qp__accounts_file_t *af,
                      int (*fn)(void *ctx, uint64_t first, qp_account_t *rows, uint32_t n),
                      void *ctx) {
  uint8_t *buf = qp_malloc((size_t)READ_ROWS * QP_RECORD_SIZE);
  qp_account_t *rows = qp_malloc((size_t)READ_ROWS * sizeof *rows);
  int rc = buf && rows ? 0 : QP_ENOMEM;
  for (uint64_t row = 0; row < af->rows && rc == 0;) {
    uint64_t n = af->rows - row < READ_ROWS ? af->rows - row : READ_ROWS;
    size_t got = 0;
    rc = af->io.read_at(af->io.ctx, buf, (size_t)n * QP_RECORD_SIZE, DATA_AT + row * QP_RECORD_SIZE,
                        &got);
    if (rc == 0 && got != n * QP_RECORD_SIZE) rc = QP_ECORRUPT;
    for (uint64_t i = 0; i < n && rc == 0; i++)
      qp_account_decode(buf + i * QP_RECORD_SIZE, &rows[i]);
    if (rc == 0) rc = fn(ctx, row, rows, (uint32_t)n);
    row += n;
  }
  qp_free(buf);
  qp_free(rows);
  return rc;
}

typedef struct by_row {
  uint32_t row;
  uint32_t at; /* index into the caller's arrays */
} by_row_t;

static int cmp_row(const void *x, const void *y) {
  const by_row_t *a = x, *b = y;
  if (a->row != b->row) return a->row < b->row ? -1 : 1;
  return a->at < b->at ? -1 : a->at > b->at; /* equal rows: the caller's order */
}

/* Rows are written in row order, runs of consecutive rows with one pwrite
 * each: a busy round touches most rows of a small ledger, and one write per
 * 128-byte record would cost a system call each. */
int qp__accounts_write(qp__accounts_file_t *af, const qp_account_t *accounts, const uint32_t *rows,
                       uint32_t count, uint64_t seq) {
  enum { RUN_MAX = 512 };
  uint64_t end = af->rows;
  by_row_t *order = count ? qp_malloc((size_t)count * sizeof *order) : NULL;
  uint8_t *run = count ? qp_malloc((size_t)RUN_MAX * QP_RECORD_SIZE) : NULL;
  int rc = count && (order == NULL || run == NULL) ? QP_ENOMEM : 0;
  for (uint32_t i = 0; i < count && rc == 0; i++) order[i] = (by_row_t){rows[i], i};
  if (rc == 0 && count) qsort(order, count, sizeof *order, cmp_row);
  for (uint32_t i = 0; i < count && rc == 0;) {
    uint32_t first = order[i].row, n = 0;
    while (i < count && n < RUN_MAX && order[i].row == first + n) {
      qp_account_encode(run + (size_t)n * QP_RECORD_SIZE, &accounts[order[i].at]);
      n++;
      i++;
      /* A row listed twice keeps its last record, in the caller's order. */
      while (i < count && order[i].row == first + n - 1) {
        qp_account_encode(run + (size_t)(n - 1) * QP_RECORD_SIZE, &accounts[order[i].at]);
        i++;
      }
    }
    rc = af->io.write_at(af->io.ctx, run, (size_t)n * QP_RECORD_SIZE,
                         DATA_AT + (uint64_t)first * QP_RECORD_SIZE);
    if ((uint64_t)first + n > end) end = (uint64_t)first + n;
  }
  qp_free(order);
  qp_free(run);
  /* The rows are durable before the header claims them. */
  if (rc == 0 && count > 0) rc = af->io.sync(af->io.ctx);
  if (rc == 0) rc = write_header(af, seq, end);
  return rc;
}

void qp__accounts_wal_encode(uint8_t *out, const qp_account_t *accounts, const uint32_t *rows,
                             uint32_t count) {
  for (uint32_t i = 0; i < count; i++) {
    uint8_t *p = out + (size_t)i * QP__ACCOUNT_WAL_ENTRY;
    qp_store_u32(p, rows[i]);
    qp_account_encode(p + 4, &accounts[i]);
  }
}

void qp__accounts_wal_entry(const uint8_t *blob, uint32_t i, uint32_t *row, qp_account_t *a) {
  const uint8_t *p = blob + (size_t)i * QP__ACCOUNT_WAL_ENTRY;
  *row = qp_load_u32(p);
  qp_account_decode(p + 4, a);
}

/* Loading: the redo log's rounds after the file's, merged - for each row
 * its latest record, sorted by row - and applied while the file is read. */
typedef struct wal_merge {
  qp__accounts_redo_t *redo; /* entries in log order, then sorted and merged */
  uint64_t capacity;         /* entries allocated */
  uint64_t next;             /* while reading the file: the next entry to use */
  qp_ledger_t *ledger;
} wal_merge_t;

static int collect_wal(void *vctx, uint64_t seq, const uint8_t *blob, size_t len) {
  wal_merge_t *w = vctx;
  qp__accounts_redo_t *r = w->redo;
  uint64_t n = len / QP__ACCOUNT_WAL_ENTRY;
  if (r->count + n > w->capacity) {
    uint64_t cap = w->capacity ? w->capacity : 1024;
    while (cap < r->count + n) cap *= 2;
    qp_account_t *a = qp_realloc(r->accounts, cap * sizeof *a);
    if (a == NULL) return QP_ENOMEM;
    r->accounts = a;
    uint32_t *rows = qp_realloc(r->rows, cap * sizeof *rows);
    if (rows == NULL) return QP_ENOMEM;
    r->rows = rows;
    w->capacity = cap;
  }
  for (uint32_t i = 0; i < n; i++)
    qp__accounts_wal_entry(blob, i, &r->rows[r->count + i], &r->accounts[r->count + i]);
  r->count += n;
  r->last_seq = seq;
  return 0;
}

typedef struct row_pos {
  uint32_t row;
  uint64_t pos;
} row_pos_t;

static int by_row_then_pos(const void *x, const void *y) {
  const row_pos_t *a = x, *b = y;
  if (a->row != b->row) return a->row < b->row ? -1 : 1;
  return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* Keeps each row's last record, in row order. */
static int merge_wal(qp__accounts_redo_t *w) {
  if (w->count == 0) return 0;
  row_pos_t *order = qp_malloc(w->count * sizeof *order);
  qp_account_t *accounts = qp_malloc(w->count * sizeof *accounts);
  uint32_t *rows = qp_malloc(w->count * sizeof *rows);
  if (order == NULL || accounts == NULL || rows == NULL) {
    qp_free(order);
    qp_free(accounts);
    qp_free(rows);
    return QP_ENOMEM;
  }
  for (uint64_t i = 0; i < w->count; i++) order[i] = (row_pos_t){w->rows[i], i};
  qsort(order, w->count, sizeof *order, by_row_then_pos);
  uint64_t n = 0;
  for (uint64_t i = 0; i < w->count; i++) {
    if (i + 1 < w->count && order[i + 1].row == order[i].row) continue; /* a later one follows */
    rows[n] = order[i].row;
    accounts[n++] = w->accounts[order[i].pos];
  }
  qp_free(order);
  qp_free(w->accounts);
  qp_free(w->rows);
  w->accounts = accounts;
  w->rows = rows;
  w->count = n;
  return 0;
}

/* Rows from the file - each replaced by the redo log's record if it has
 * one (the file's bytes for that row may be a torn or lost write) - are
 * appended in bulk. */
static int restore_rows(void *ctx, uint64_t first, qp_account_t *rows, uint32_t n) {
  wal_merge_t *w = ctx;
  const qp__accounts_redo_t *r = w->redo;
  while (w->next < r->count && r->rows[w->next] < first + n) {
    QP_ASSERT(r->rows[w->next] >= first);
    rows[r->rows[w->next] - first] = r->accounts[w->next];
    w->next++;
  }
  return qp_ledger_restore_accounts(w->ledger, rows, n);
}

int qp__accounts_load(const qp__accounts_file_t *af, struct qp__index *ix, qp_ledger_t *ledger,
                      qp__accounts_redo_t *redo) {
  memset(redo, 0, sizeof *redo);
  wal_merge_t w = {.redo = redo, .ledger = ledger};
  int rc = qp__index_account_wal(ix, af->seq, collect_wal, &w);
  if (rc == 0) rc = merge_wal(redo);
  if (rc == 0) rc = qp_ledger_reserve_accounts(ledger, af->rows);
  if (rc == 0) rc = qp__accounts_read(af, restore_rows, &w);
  /* Rows the file never had (created in the rounds it lacks) follow it. */
  for (; rc == 0 && w.next < redo->count; w.next++) {
    if (redo->rows[w.next] != qp_ledger_account_count(ledger)) rc = QP_ECORRUPT;
    else rc = qp_ledger_restore_accounts(ledger, &redo->accounts[w.next], 1);
  }
  return rc;
}

void qp__accounts_redo_free(qp__accounts_redo_t *r) {
  qp_free(r->accounts);
  qp_free(r->rows);
  memset(r, 0, sizeof *r);
}
