/*
 * fuzz_journal.c - libFuzzer target for the journal reader: the input is a
 * whole journal file.  Every record the scanner accepts is replayed into a
 * ledger, so the record decoder and the state machine see arbitrary bytes
 * that passed the checksums (the fuzzer cannot forge BLAKE2b, so the seed
 * corpus holds real journals it can splice and truncate).  Properties: no
 * crash; a problem is always reported at or after the valid prefix; the
 * replayed state always satisfies the ledger invariant.
 *
 * Every input is also read as a journal of opaque, variable-size bodies
 * (what other modules write): every record handed out fits that format,
 * and since the ledger's format is narrower, the opaque reading accepts at
 * least the prefix the ledger's does.  An input starting with 'V' is a
 * recipe for such a journal (type, body size, body bytes), written with
 * the real appender: it must read back whole, record for record.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "ledger/db.h"
#include "store/store.h"
#include "../../src/ledger/replay.h"

typedef struct mem_file {
  const uint8_t *data;
  size_t size;
  uint8_t *buf; /* writable copy, for sealed mode */
  size_t cap;
} mem_file_t;

static int mem_write_at(void *ctx, const void *buf, size_t len, uint64_t offset) {
  mem_file_t *f = ctx;
  if (offset + len > f->cap) return QP_ENOSPC;
  memcpy(f->buf + offset, buf, len);
  if (offset + len > f->size) f->size = (size_t)(offset + len);
  f->data = f->buf;
  return 0;
}
static int mem_ok(void *ctx) { (void)ctx; return 0; }
static void mem_close(void *ctx) { (void)ctx; }

static int mem_read_at(void *ctx, void *buf, size_t len, uint64_t offset, size_t *got) {
  mem_file_t *f = ctx;
  size_t n = offset >= f->size ? 0 : (f->size - offset < len ? f->size - (size_t)offset : len);
  if (n) memcpy(buf, f->data + offset, n);
  *got = n;
  return 0;
}
static int mem_size(void *ctx, uint64_t *out) {
  *out = ((mem_file_t *)ctx)->size;
  return 0;
}

typedef struct replay_ctx {
  qp_ledger_t *ledger;
  qp__replay_scratch_t scratch;
} replay_ctx_t;

static int visit(void *vctx, const qp_journal_record_t *rec) {
  replay_ctx_t *c = vctx;
  int rc = qp__replay_record(c->ledger, rec, &c->scratch);
  return rc == QP_ECORRUPT ? 0 : rc; /* an unknown op is reported, not a crash */
}

static replay_ctx_t ctx;

enum { OPAQUE_BODY_MAX = 3000 };
/* Recipes; and, for any input, a format wider than the ledger's. */
static const qp_journal_format_t opaque = {OPAQUE_BODY_MAX, 0};
static const qp_journal_format_t opaque_wide = {QP_JOURNAL_BODY_MAX, 0};

typedef struct opaque_ctx {
  uint32_t body_max;     /* of the format read with */
  uint64_t records;      /* visited */
  const uint8_t *recipe; /* 'V' inputs: the bytes the bodies were cut from */
  size_t recipe_size;
  size_t at;             /* next recipe byte */
} opaque_ctx_t;

/* Reads one record's recipe at c->at: type, size (two bytes each), then
 * the body bytes (zeros past the end of the input). */
static void recipe_next(opaque_ctx_t *c, uint32_t *type, uint32_t *size) {
  const uint8_t *d = c->recipe;
  *type = (uint32_t)(d[c->at] | d[c->at + 1] << 8);
  *size = (uint32_t)(d[c->at + 2] | d[c->at + 3] << 8) % (OPAQUE_BODY_MAX + 1);
  c->at += 4;
}

static int opaque_visit(void *vctx, const qp_journal_record_t *rec) {
  opaque_ctx_t *c = vctx;
  QP_ASSERT(rec->body_size <= c->body_max && rec->size == QP_JOURNAL_HEADER_SIZE + rec->body_size);
  QP_ASSERT(rec->op <= UINT16_MAX && rec->seq == ++c->records);
  if (c->recipe == NULL) return 0;
  uint32_t type, size;
  recipe_next(c, &type, &size);
  QP_ASSERT(rec->op == type && rec->body_size == size && rec->count == size / 7);
  for (uint32_t b = 0; b < size; b++, c->at++)
    QP_ASSERT(rec->body[b] == (c->at < c->recipe_size ? c->recipe[c->at] : 0));
  return 0;
}

/* Writes the journal a 'V' input describes through io, at most bytes_max
 * of it; returns its records. */
static uint64_t write_recipe(qp_io_t *io, const uint8_t *data, size_t size, size_t bytes_max) {
  qp_journal_t *j;
  uint8_t zero[QP_HASH_SIZE] = {0};
  QP_ASSERT(qp_journal_open_fmt(io, &opaque, 0, 0, zero, 0, &j) == 0);
  opaque_ctx_t c = {OPAQUE_BODY_MAX, 0, data, size, 1};
  uint64_t records = 0, bytes = 0;
  while (c.at + 4 <= size) {
    uint32_t type, body_size;
    recipe_next(&c, &type, &body_size);
    bytes += QP_JOURNAL_HEADER_SIZE + body_size;
    if (bytes > bytes_max) break;
    uint8_t *body = qp_journal_stage(j, type, body_size / 7, records, body_size);
    if (body == NULL) { /* the group is full: commit it and stage again */
      QP_ASSERT(qp_journal_commit(j) == 0);
      body = qp_journal_stage(j, type, body_size / 7, records, body_size);
    }
    QP_ASSERT(body != NULL);
    for (uint32_t b = 0; b < body_size; b++, c.at++) body[b] = c.at < size ? data[c.at] : 0;
    records++;
  }
  QP_ASSERT(qp_journal_commit(j) == 0);
  qp_journal_close(j);
  return records;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  if (!ready) {
    QP_ASSERT(qp_crypto_init() == 0);
    ready = 1;
  }
  static uint8_t sealed[4u << 20];
  mem_file_t f = {data, size, NULL, 0};
  qp_io_t io = {.ctx = &f, .read_at = mem_read_at, .size = mem_size, .write_at = mem_write_at,
                .sync = mem_ok, .close = mem_close};
  if (size > 0 && data[0] == 'V') {
    f = (mem_file_t){sealed, 0, sealed, sizeof sealed};
    uint64_t records = write_recipe(&io, data, size, sizeof sealed);
    qp_journal_scan_t scan;
    opaque_ctx_t c = {OPAQUE_BODY_MAX, 0, data, size, 1};
    QP_ASSERT(qp_journal_scan_fmt(&io, &opaque, opaque_visit, &c, &scan) == 0);
    QP_ASSERT(scan.problem == 0 && scan.records == records && scan.valid_bytes == f.size);
    return 0;
  }
  if (size > 0 && data[0] == 'S') {
    f = (mem_file_t){sealed, 0, sealed, sizeof sealed};
    qp_journal_t *j;
    uint8_t zero[QP_HASH_SIZE] = {0};
    QP_ASSERT(qp_journal_open(&io, 0, 0, zero, 0, &j) == 0);
    for (size_t at = 1; at + 3 <= size;) {
      uint32_t op = data[at] % 4, count = (uint32_t)(data[at + 1] | data[at + 2] << 8) % 64;
      at += 3;
      uint8_t *body = qp_journal_stage(j, op, count, (uint64_t)at * 1000, count * QP_RECORD_SIZE);
      if (body == NULL) break;
      for (size_t b = 0; b < (size_t)count * QP_RECORD_SIZE; b++)
        body[b] = at < size ? data[at++] : 0;
    }
    QP_ASSERT(qp_journal_commit(j) == 0);
    qp_journal_close(j);
    size = f.size;
  }
  QP_ASSERT(qp_ledger_create(NULL, &ctx.ledger) == 0);
  qp_journal_scan_t scan;
  int rc = qp_journal_scan(&io, visit, &ctx, &scan);
  QP_ASSERT(rc == 0 || rc == QP_ENOMEM || rc == QP_ELIMIT);
  QP_ASSERT(scan.valid_bytes <= size);
  if (scan.problem != 0) QP_ASSERT(scan.problem_offset == scan.valid_bytes);
  else QP_ASSERT(rc != 0 || scan.valid_bytes == size);
  QP_ASSERT(qp_ledger_check(ctx.ledger));
  qp_ledger_destroy(ctx.ledger);
  qp_journal_scan_t wide;
  opaque_ctx_t c = {.body_max = QP_JOURNAL_BODY_MAX};
  int wide_rc = qp_journal_scan_fmt(&io, &opaque_wide, opaque_visit, &c, &wide);
  QP_ASSERT(wide_rc == 0 || wide_rc == QP_ENOMEM);
  if (wide_rc == 0 && rc == 0) QP_ASSERT(wide.valid_bytes >= scan.valid_bytes);
  return 0;
}
