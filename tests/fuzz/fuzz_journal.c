/*
 * fuzz_journal.c - libFuzzer target for the journal reader: the input is a
 * whole journal file.  Every record the scanner accepts is replayed into a
 * ledger, so the record decoder and the state machine see arbitrary bytes
 * that passed the checksums (the fuzzer cannot forge BLAKE2b, so the seed
 * corpus holds real journals it can splice and truncate).  Properties: no
 * crash; a problem is always reported at or after the valid prefix; the
 * replayed state always satisfies the ledger invariant.
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
      for (size_t b = 0; b < (size_t)count * QP_RECORD_SIZE; b++) body[b] = at < size ? data[at++] : 0;
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
  return 0;
}
