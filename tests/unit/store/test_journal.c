/*
 * test_journal.c - reading the journal from a known position and checking
 * its committed prefix, the two halves of a startup that does not re-hash
 * all history before serving.
 *
 * qp_journal_scan_from must agree with a full qp_journal_scan wherever it
 * starts: same end, head and verdict on damage after the start, and a
 * refusal when the tail does not continue the position it was given.
 * qp_journal_verify_prefix must accept an intact prefix (also while the
 * file grows beyond it, from another thread) and call every deviation in
 * the prefix corruption, naming the record - a flipped byte anywhere, a
 * cut, a wrong end position, even what a scan would forgive as a torn
 * tail, because the index says those records were committed.  Journals are
 * written with the real append API into a temp file; the expected record
 * ends and hashes come from the writer, not from the reader under test.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/rng.h"
#include "store/store.h"
#include "test_util.h"

enum {
  RECORDS_MAX = 1024,
  EVENT_SIZE = 128,
  SMALL_EVENTS_MAX = 4,  /* records of 128..640 bytes: many per sector */
  BIG_EVENTS_MAX = 8190, /* up to the largest record, ~1 MiB */
  WINDOW = 4u << 20      /* journal.c's read window */
};

typedef struct fixture {
  char dir[256];
  char path[320];
  qp_journal_t *j;                             /* the appender, owns its own io */
  qp_io_t io;                                  /* a second handle: reads and damage */
  qp_rng_t rng;                                /* event counts */
  uint32_t n;                                  /* records written */
  uint64_t end[RECORDS_MAX + 1];               /* end[k]: where record k ends; end[0] = 0 */
  uint64_t events[RECORDS_MAX + 1];            /* events in records 1..k */
  uint8_t hash[RECORDS_MAX + 1][QP_HASH_SIZE]; /* hash[k]: head after record k; hash[0] zeros */
} fixture_t;

static const uint8_t zero_hash[QP_HASH_SIZE];

/* Commits record `seq` with `count` events.  Bodies are never zero, so
 * that no sector of a record reads as if it had never been written.  No
 * cmocka asserts: the appender thread runs this too. */
static int commit_record(qp_journal_t *j, uint64_t seq, uint32_t count) {
  uint8_t *body = qp_journal_stage(j, 1, count, 1000u + seq, count * EVENT_SIZE);
  if (body == NULL) return QP_ELIMIT;
  for (uint32_t b = 0; b < count * EVENT_SIZE; b++)
    body[b] = (uint8_t)(1 + (seq * 131u + b) % 251u);
  return qp_journal_commit(j);
}

/* Appends one record, one commit, so that the writer tells us its end and
 * hash independently of the reading code under test. */
static void append_one(fixture_t *f, uint32_t count) {
  assert_true(f->n < RECORDS_MAX);
  uint32_t k = f->n + 1;
  assert_int_equal(commit_record(f->j, k, count), 0);
  f->end[k] = qp_journal_size(f->j);
  f->events[k] = f->events[k - 1] + count;
  qp_journal_head_hash(f->j, f->hash[k]);
  f->n = k;
}

/* Appends `records` records of 0..events_max events. */
static void append(fixture_t *f, uint32_t records, uint32_t events_max) {
  for (uint32_t i = 0; i < records; i++)
    append_one(f, (uint32_t)qp_rng_below(&f->rng, (uint64_t)events_max + 1));
}

static int setup_journal(void **state, uint32_t records, uint32_t events_max) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  qp_test_tmpdir(f->dir, sizeof f->dir);
  snprintf(f->path, sizeof f->path, "%s/journal", f->dir);
  qp_rng_seed(&f->rng, 42);
  qp_io_t wio;
  assert_int_equal(qp_io_open_file(f->path, true, false, &wio), 0);
  assert_int_equal(qp_journal_open(&wio, 0, 0, zero_hash, 0, &f->j), 0);
  assert_int_equal(qp_io_open_file(f->path, false, false, &f->io), 0);
  append(f, records, events_max);
  /* The last two records have 512-byte bodies, so that some sector holds
   * only body bytes of each: zeroing it looks like a torn append. */
  append_one(f, 4);
  append_one(f, 4);
  *state = f;
  return 0;
}

static int setup(void **state) { return setup_journal(state, 22, SMALL_EVENTS_MAX); }

/* Records of up to 1 MiB, so that the prefix spans several read windows
 * and records straddle their edges. */
static int setup_big(void **state) { return setup_journal(state, 22, BIG_EVENTS_MAX); }

static int teardown(void **state) {
  fixture_t *f = *state;
  qp_journal_close(f->j);
  f->io.close(f->io.ctx);
  qp_test_rmdir(f->dir);
  free(f);
  return 0;
}

/* ------------------------------------------------------------- helpers */

static uint64_t file_size(fixture_t *f) {
  uint64_t size;
  assert_int_equal(f->io.size(f->io.ctx, &size), 0);
  return size;
}

static void flip(fixture_t *f, uint64_t offset) {
  uint8_t b;
  size_t got;
  assert_int_equal(f->io.read_at(f->io.ctx, &b, 1, offset, &got), 0);
  assert_int_equal(got, 1);
  b ^= 0xA5;
  assert_int_equal(f->io.write_at(f->io.ctx, &b, 1, offset), 0);
}

/* A copy of the whole file, to undo a cut. */
static uint8_t *snapshot(fixture_t *f, uint64_t *size) {
  *size = file_size(f);
  uint8_t *copy = malloc(*size + 1);
  size_t got;
  assert_non_null(copy);
  assert_int_equal(f->io.read_at(f->io.ctx, copy, (size_t)*size, 0, &got), 0);
  assert_int_equal(got, *size);
  return copy;
}

static void restore(fixture_t *f, const uint8_t *copy, uint64_t size) {
  assert_int_equal(f->io.write_at(f->io.ctx, copy, (size_t)size, 0), 0);
  assert_int_equal(f->io.truncate(f->io.ctx, size), 0);
}

/* Zeroes record k's last sector-sized run of body bytes, as if that
 * sector of its append never landed. */
static void zero_body_sector(fixture_t *f, uint32_t k) {
  uint8_t zeros[512] = {0};
  uint64_t body = f->end[k - 1] + QP_JOURNAL_HEADER_SIZE;
  uint64_t from = (body + 511) / 512 * 512;
  assert_true(from < f->end[k]);
  assert_true(f->end[k] - from <= sizeof zeros);
  assert_int_equal(f->io.write_at(f->io.ctx, zeros, (size_t)(f->end[k] - from), from), 0);
}

/* The record that holds byte `offset`: end[k-1] <= offset < end[k]. */
static uint32_t record_at(const fixture_t *f, uint64_t offset) {
  for (uint32_t k = 1; k <= f->n; k++)
    if (offset < f->end[k]) return k;
  fail_msg("offset %llu is past the journal", (unsigned long long)offset);
  return 0;
}

static bool is_boundary(const fixture_t *f, uint64_t offset) {
  for (uint32_t k = 0; k <= f->n; k++)
    if (f->end[k] == offset) return true;
  return false;
}

static void assert_names(const char *detail, uint64_t seq, uint64_t offset) {
  char want[96];
  snprintf(want, sizeof want, "journal record %llu at offset %llu: ", (unsigned long long)seq,
           (unsigned long long)offset);
  if (strncmp(detail, want, strlen(want)) != 0)
    fail_msg("detail \"%s\" does not start with \"%s\"", detail, want);
}

static int verify(fixture_t *f, uint64_t end, uint64_t seq, const uint8_t hash[QP_HASH_SIZE],
                  char *detail, size_t detail_size) {
  return qp_journal_verify_prefix(&f->io, end, seq, hash, NULL, NULL, detail, detail_size);
}

/* verify must say QP_ECORRUPT, name record seq at offset and, if `why`
 * is not NULL, say why. */
static void assert_corrupt_why(fixture_t *f, uint64_t end, uint64_t end_seq,
                               const uint8_t hash[QP_HASH_SIZE], uint64_t seq, uint64_t offset,
                               const char *why) {
  char detail[512] = "unset";
  int rc = verify(f, end, end_seq, hash, detail, sizeof detail);
  if (rc != QP_ECORRUPT)
    fail_msg("verify_prefix(end %llu, seq %llu) = %s, want QP_ECORRUPT (%s)",
             (unsigned long long)end, (unsigned long long)end_seq, qp_err_name(rc), detail);
  assert_names(detail, seq, offset);
  if (why != NULL && strstr(detail, why) == NULL)
    fail_msg("detail \"%s\" does not say \"%s\"", detail, why);
}

static void assert_corrupt(fixture_t *f, uint64_t end, uint64_t end_seq,
                           const uint8_t hash[QP_HASH_SIZE], uint64_t seq, uint64_t offset) {
  assert_corrupt_why(f, end, end_seq, hash, seq, offset, NULL);
}

/* A visitor that checks it sees exactly records first.. in order, at the
 * offsets and with the hashes the writer produced. */
typedef struct visits {
  const fixture_t *f;
  uint64_t next_seq; /* the seq the next visit must have */
  uint64_t count;    /* visits so far */
} visits_t;

static int check_visit(void *ctx, const qp_journal_record_t *rec) {
  visits_t *v = ctx;
  assert_int_equal(rec->seq, v->next_seq);
  assert_true(rec->seq <= v->f->n);
  assert_int_equal(rec->offset, v->f->end[rec->seq - 1]);
  assert_int_equal(rec->offset + rec->size, v->f->end[rec->seq]);
  assert_memory_equal(rec->hash, v->f->hash[rec->seq], QP_HASH_SIZE);
  v->next_seq++;
  v->count++;
  return 0;
}

static int count_visit(void *ctx, const qp_journal_record_t *rec) {
  (void)rec;
  (*(uint64_t *)ctx)++;
  return 0;
}

/* scan_from at boundary k must reach the verdict a full scan reaches, with
 * only the records after k counted and visited. */
static void assert_scan_from_matches(fixture_t *f, const qp_journal_scan_t *full, uint32_t k) {
  qp_journal_scan_t s;
  uint64_t visited = 0;
  assert_int_equal(
      qp_journal_scan_from(&f->io, f->end[k], k, f->hash[k], count_visit, &visited, &s), 0);
  assert_int_equal(s.file_size, full->file_size);
  assert_int_equal(s.valid_bytes, full->valid_bytes);
  assert_int_equal(s.last_seq, full->last_seq);
  assert_memory_equal(s.last_hash, full->last_hash, QP_HASH_SIZE);
  assert_int_equal(s.records, full->records - k);
  assert_int_equal(s.events, full->events - f->events[k]);
  assert_int_equal(visited, s.records);
  assert_int_equal(s.problem, full->problem);
  assert_int_equal(s.problem_offset, full->problem_offset);
  assert_int_equal(s.problem_seq, full->problem_seq);
  assert_string_equal(s.detail, full->detail);
}

/* ----------------------------------------------------------- scan_from */

static void test_scan_from_every_boundary(void **state) {
  fixture_t *f = *state;
  qp_journal_scan_t full, s;
  assert_int_equal(qp_journal_scan(&f->io, NULL, NULL, &full), 0);
  assert_int_equal(full.problem, 0);
  assert_int_equal(full.last_seq, f->n);
  assert_int_equal(full.valid_bytes, f->end[f->n]);
  /* From 0 it is the full scan, field for field. */
  assert_int_equal(qp_journal_scan_from(&f->io, 0, 0, zero_hash, NULL, NULL, &s), 0);
  assert_memory_equal(&s, &full, sizeof s);
  for (uint32_t k = 0; k <= f->n; k++) {
    visits_t v = {.f = f, .next_seq = k + 1};
    assert_int_equal(qp_journal_scan_from(&f->io, f->end[k], k, f->hash[k], check_visit, &v, &s),
                     0);
    assert_int_equal(s.problem, 0);
    assert_int_equal(s.valid_bytes, full.valid_bytes);
    assert_int_equal(s.last_seq, full.last_seq);
    assert_memory_equal(s.last_hash, full.last_hash, QP_HASH_SIZE);
    assert_int_equal(s.records, f->n - k);
    assert_int_equal(v.count, f->n - k);
    assert_int_equal(s.events, f->events[f->n] - f->events[k]);
  }
}

static void test_scan_from_wrong_position(void **state) {
  fixture_t *f = *state;
  qp_journal_scan_t s;
  uint64_t visited = 0;
  for (uint32_t k = 1; k < f->n; k++) {
    uint8_t wrong[QP_HASH_SIZE];
    memcpy(wrong, f->hash[k], QP_HASH_SIZE);
    wrong[k % QP_HASH_SIZE] ^= 1;
    const uint8_t *hashes[] = {wrong, f->hash[k - 1], f->hash[k + 1], f->hash[k], f->hash[k]};
    const uint64_t seqs[] = {k, k, k, k - 1, k + 1};
    for (size_t c = 0; c < sizeof seqs / sizeof seqs[0]; c++) {
      if (seqs[c] == 0) continue; /* start > 0 with seq 0 is refused as an argument below */
      assert_int_equal(
          qp_journal_scan_from(&f->io, f->end[k], seqs[c], hashes[c], count_visit, &visited, &s),
          0);
      assert_int_equal(s.problem, QP_ECORRUPT);
      assert_int_equal(s.problem_offset, f->end[k]);
      assert_int_equal(s.problem_seq, seqs[c] + 1);
      assert_int_equal(s.valid_bytes, f->end[k]);
      assert_int_equal(s.records, 0);
    }
    /* A start inside a record is not a record header. */
    assert_int_equal(
        qp_journal_scan_from(&f->io, f->end[k] + 64, k, f->hash[k], count_visit, &visited, &s), 0);
    assert_int_equal(s.problem, QP_ECORRUPT);
  }
  assert_int_equal(visited, 0);
  /* Positions no journal can have are the caller's mistake. */
  assert_int_equal(qp_journal_scan_from(&f->io, 0, 1, zero_hash, NULL, NULL, &s), QP_EINVAL);
  assert_int_equal(qp_journal_scan_from(&f->io, 0, 0, f->hash[1], NULL, NULL, &s), QP_EINVAL);
  assert_int_equal(qp_journal_scan_from(&f->io, f->end[1], 0, zero_hash, NULL, NULL, &s),
                   QP_EINVAL);
}

/* Damage after the start gets the full scan's verdict: torn where a crash
 * could have left it, corrupt elsewhere. */
static void test_scan_from_judges_like_scan(void **state) {
  fixture_t *f = *state;
  uint32_t n = f->n;
  uint64_t size;
  uint8_t *copy = snapshot(f, &size);
  enum {
    CUT_BODY,
    CUT_HEADER,
    ZEROS_AFTER,
    ZERO_LAST_SECTOR,
    ZERO_MIDDLE_SECTOR,
    FLIP_LAST,
    FLIP_MIDDLE,
    KINDS
  };
  const int want[KINDS] = {QP_ETORN,    QP_ETORN,    QP_ETORN,   QP_ETORN,
                           QP_ECORRUPT, QP_ECORRUPT, QP_ECORRUPT};
  uint32_t damaged[KINDS] = {n, n, n + 1, n, n - 1, n, n - 3}; /* the record the damage is in */
  for (int kind = 0; kind < KINDS; kind++) {
    uint8_t zeros[700] = {0};
    switch (kind) {
    case CUT_BODY: assert_int_equal(f->io.truncate(f->io.ctx, f->end[n] - 1), 0); break;
    case CUT_HEADER: assert_int_equal(f->io.truncate(f->io.ctx, f->end[n - 1] + 100), 0); break;
    case ZEROS_AFTER:
      assert_int_equal(f->io.write_at(f->io.ctx, zeros, sizeof zeros, size), 0);
      break;
    case ZERO_LAST_SECTOR: zero_body_sector(f, n); break;
    case ZERO_MIDDLE_SECTOR: zero_body_sector(f, n - 1); break; /* intact data follows */
    case FLIP_LAST: flip(f, f->end[n] - 1); break;
    case FLIP_MIDDLE: flip(f, f->end[n - 3] - 1); break;
    }
    qp_journal_scan_t full;
    assert_int_equal(qp_journal_scan(&f->io, NULL, NULL, &full), 0);
    assert_int_equal(full.problem, want[kind]);
    if (kind != ZEROS_AFTER) assert_int_equal(full.problem_seq, damaged[kind]);
    for (uint32_t k = 0; k < damaged[kind] && k <= n; k++) assert_scan_from_matches(f, &full, k);
    restore(f, copy, size);
  }
  free(copy);
}

static void test_scan_from_beyond_end(void **state) {
  fixture_t *f = *state;
  uint32_t n = f->n;
  qp_journal_scan_t s;
  uint64_t visited = 0;
  /* A position past the end of an intact file. */
  assert_int_equal(
      qp_journal_scan_from(&f->io, f->end[n] + 128, n + 1, f->hash[n], count_visit, &visited, &s),
      0);
  assert_int_equal(s.problem, QP_ECORRUPT);
  assert_int_equal(s.problem_seq, n + 1);
  assert_int_equal(s.problem_offset, f->end[n]);
  assert_non_null(strstr(s.detail, "missing"));
  /* Committed records cut off the file: not a torn tail. */
  assert_int_equal(f->io.truncate(f->io.ctx, f->end[n - 2]), 0);
  assert_int_equal(
      qp_journal_scan_from(&f->io, f->end[n], n, f->hash[n], count_visit, &visited, &s), 0);
  assert_int_equal(s.problem, QP_ECORRUPT);
  assert_int_equal(s.problem_seq, n);
  assert_int_equal(s.problem_offset, f->end[n - 2]);
  assert_non_null(strstr(s.detail, "missing"));
  assert_int_equal(visited, 0);
  /* One byte short is short too. */
  assert_int_equal(
      qp_journal_scan_from(&f->io, f->end[n - 2] + 1, n - 1, f->hash[n - 1], NULL, NULL, &s), 0);
  assert_int_equal(s.problem, QP_ECORRUPT);
  /* And exactly at the end is fine. */
  assert_int_equal(
      qp_journal_scan_from(&f->io, f->end[n - 2], n - 2, f->hash[n - 2], NULL, NULL, &s), 0);
  assert_int_equal(s.problem, 0);
  assert_int_equal(s.records, 0);
}

/* ------------------------------------------------------- verify_prefix */

static void test_verify_prefix_intact(void **state) {
  fixture_t *f = *state;
  _Atomic bool stop = false;
  for (uint32_t k = 0; k <= f->n; k++) {
    char detail[256] = "unset";
    uint64_t events = 99999;
    int rc = qp_journal_verify_prefix(&f->io, f->end[k], k, f->hash[k], &stop, &events, detail,
                                      sizeof detail);
    if (rc != 0) fail_msg("prefix of %u records: %s: %s", k, qp_err_name(rc), detail);
    assert_int_equal(events, f->events[k]);
    assert_string_equal(detail, "");
  }
  /* NULL stop, events and detail are allowed. */
  assert_int_equal(qp_journal_verify_prefix(&f->io, f->end[3], 3, f->hash[3], NULL, NULL, NULL, 0),
                   0);
}

static void test_verify_prefix_byte_flips(void **state) {
  fixture_t *f = *state;
  /* With records after the prefix, and with the prefix the whole file
   * (where a bad last record is what a scan might call torn). */
  const uint32_t ms[] = {f->n / 2, f->n};
  for (size_t i = 0; i < 2; i++) {
    uint32_t m = ms[i];
    for (uint64_t o = 0; o < f->end[m]; o++) {
      uint32_t k = record_at(f, o);
      flip(f, o);
      assert_corrupt(f, f->end[m], m, f->hash[m], k, f->end[k - 1]);
      flip(f, o);
    }
    assert_int_equal(verify(f, f->end[m], m, f->hash[m], NULL, 0), 0);
  }
}

static void test_verify_prefix_truncated(void **state) {
  fixture_t *f = *state;
  uint32_t m = f->n - 2;
  uint64_t size;
  uint8_t *copy = snapshot(f, &size);
  const uint64_t cuts[] = {f->end[m] - 1,      f->end[m - 1] + 129, f->end[m - 1] + 127,
                           f->end[m - 1] + 1,  f->end[m - 1],       f->end[m - 1] - 1,
                           f->end[1],          1,                   0};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    if (cuts[i] >= f->end[m]) continue; /* +127, +129 may be past a small record m */
    assert_int_equal(f->io.truncate(f->io.ctx, cuts[i]), 0);
    uint32_t k = record_at(f, cuts[i]); /* the first record not wholly there */
    assert_corrupt_why(
        f, f->end[m], m, f->hash[m], k, f->end[k - 1],
        cuts[i] == f->end[k - 1] ? "the file ends here" : "shorter than the committed prefix");
    restore(f, copy, size);
  }
  assert_int_equal(verify(f, f->end[m], m, f->hash[m], NULL, 0), 0);
  free(copy);
}

/* What a scan forgives as a torn tail is, inside a committed prefix, lost
 * acknowledged data. */
static void test_verify_prefix_torn_tail_is_corrupt(void **state) {
  fixture_t *f = *state;
  uint32_t n = f->n;
  uint64_t end = f->end[n];
  qp_journal_scan_t s;
  uint8_t zeros[700] = {0};
  /* The last record's last sector never landed.  The detail keeps the
   * reason the scan gave, which says what happened to the record. */
  zero_body_sector(f, n);
  assert_int_equal(qp_journal_scan(&f->io, NULL, NULL, &s), 0);
  assert_int_equal(s.problem, QP_ETORN);
  assert_corrupt_why(f, end, n, f->hash[n], n, f->end[n - 1], "body does not match its hash");
  /* The last record cut short. */
  assert_int_equal(f->io.truncate(f->io.ctx, end - 10), 0);
  assert_int_equal(qp_journal_scan(&f->io, NULL, NULL, &s), 0);
  assert_int_equal(s.problem, QP_ETORN);
  assert_corrupt_why(f, end, n, f->hash[n], n, f->end[n - 1], "extends past the end");
  /* Zeros where the prefix says a record is. */
  assert_int_equal(f->io.truncate(f->io.ctx, f->end[n - 1]), 0);
  assert_int_equal(f->io.write_at(f->io.ctx, zeros, (size_t)(end - f->end[n - 1]), f->end[n - 1]),
                   0);
  assert_int_equal(qp_journal_scan(&f->io, NULL, NULL, &s), 0);
  assert_int_equal(s.problem, QP_ETORN);
  assert_corrupt_why(f, end, n, f->hash[n], n, f->end[n - 1], "zeros to the end");
}

static void test_verify_prefix_wrong_end_seq(void **state) {
  fixture_t *f = *state;
  uint32_t m = f->n / 2;
  /* Too few records in the prefix: the expected one is missing at `end`. */
  assert_corrupt(f, f->end[m], m + 1, f->hash[m], m + 1, f->end[m]);
  assert_corrupt(f, f->end[m], m + 5, f->hash[m], m + 1, f->end[m]);
  /* Too many: the last one there should not be. */
  assert_corrupt(f, f->end[m], m - 1, f->hash[m], m, f->end[m - 1]);
  assert_corrupt(f, f->end[m], 0, f->hash[m], m, f->end[m - 1]);
  /* An empty prefix has no records. */
  assert_corrupt(f, 0, 1, f->hash[1], 1, 0);
}

static void test_verify_prefix_wrong_end_hash(void **state) {
  fixture_t *f = *state;
  uint32_t m = f->n / 2;
  for (size_t i = 0; i < QP_HASH_SIZE; i++) {
    uint8_t wrong[QP_HASH_SIZE];
    memcpy(wrong, f->hash[m], QP_HASH_SIZE);
    wrong[i] ^= 0x10;
    assert_corrupt(f, f->end[m], m, wrong, m, f->end[m - 1]);
  }
  assert_corrupt(f, f->end[m], m, f->hash[m - 1], m, f->end[m - 1]);
  assert_corrupt(f, f->end[m], m, zero_hash, m, f->end[m - 1]);
  assert_corrupt(f, 0, 0, f->hash[1], 0, 0);
}

/* An `end` inside a record, whatever seq and hash come with it. */
static void test_verify_prefix_not_boundary(void **state) {
  fixture_t *f = *state;
  for (uint64_t e = 1; e < f->end[f->n]; e++) {
    if (is_boundary(f, e)) continue;
    uint32_t k = record_at(f, e);
    assert_corrupt(f, e, k, f->hash[k], k, f->end[k - 1]);
    assert_corrupt(f, e, k - 1, f->hash[k - 1], k, f->end[k - 1]);
  }
}

/* An io that passes through to the fixture's file and watches the reads. */
typedef struct spy {
  qp_io_t inner;         /* the real file */
  uint64_t reads;        /* calls to read_at */
  uint64_t read_end_max; /* highest offset + len asked for */
  size_t read_len_max;   /* largest single read */
  _Atomic bool *stop;    /* set on the first read, if not NULL */
} spy_t;

static int spy_read_at(void *ctx, void *buf, size_t len, uint64_t offset, size_t *got) {
  spy_t *s = ctx;
  s->reads++;
  if (offset + len > s->read_end_max) s->read_end_max = offset + len;
  if (len > s->read_len_max) s->read_len_max = len;
  if (s->stop != NULL) atomic_store(s->stop, true);
  return s->inner.read_at(s->inner.ctx, buf, len, offset, got);
}

static int spy_size(void *ctx, uint64_t *out) {
  spy_t *s = ctx;
  return s->inner.size(s->inner.ctx, out);
}

static qp_io_t spy_io(spy_t *s) {
  return (qp_io_t){.ctx = s, .read_at = spy_read_at, .size = spy_size};
}

static void test_verify_prefix_stop(void **state) {
  fixture_t *f = *state;
  uint32_t n = f->n;
  _Atomic bool stop = true;
  char detail[256];
  /* Raised before the check: it gives up without reading a byte, even
   * where there is no record to stop between. */
  spy_t spy = {.inner = f->io};
  qp_io_t io = spy_io(&spy);
  assert_int_equal(
      qp_journal_verify_prefix(&io, f->end[n], n, f->hash[n], &stop, NULL, detail, sizeof detail),
      QP_ESTOPPED);
  assert_int_equal(spy.reads, 0);
  assert_int_equal(
      qp_journal_verify_prefix(&io, 0, 0, zero_hash, &stop, NULL, detail, sizeof detail),
      QP_ESTOPPED);
  /* Raised after the check began: it must notice between records.  The
   * whole prefix fits one read, so only polling between records can. */
  spy.stop = &stop;
  atomic_store(&stop, false);
  uint64_t events = 0;
  assert_int_equal(qp_journal_verify_prefix(&io, f->end[n], n, f->hash[n], &stop, &events, detail,
                                            sizeof detail),
                   QP_ESTOPPED);
  assert_true(events < f->events[n] || f->events[n] == 0);
  /* Never raised: the same check passes. */
  spy.stop = NULL;
  atomic_store(&stop, false);
  assert_int_equal(qp_journal_verify_prefix(&io, f->end[n], n, f->hash[n], &stop, &events, detail,
                                            sizeof detail),
                   0);
  assert_int_equal(events, f->events[n]);
}

/* Bytes past `end` may be half-written by the appender: never read them. */
static void test_verify_prefix_reads_below_end(void **state) {
  fixture_t *f = *state;
  for (uint32_t k = 0; k < f->n; k++) {
    spy_t spy = {.inner = f->io};
    qp_io_t io = spy_io(&spy);
    assert_int_equal(qp_journal_verify_prefix(&io, f->end[k], k, f->hash[k], NULL, NULL, NULL, 0),
                     0);
    assert_true(spy.read_end_max <= f->end[k]);
  }
}

typedef struct appender {
  qp_journal_t *j;   /* the fixture's appender */
  uint64_t seq;      /* of the last record before the thread starts */
  uint32_t records;  /* to append */
  int rc;            /* first failure, or 0 */
  _Atomic bool done; /* set when they are all durable */
} appender_t;

static void *append_thread(void *arg) {
  appender_t *a = arg;
  for (uint32_t i = 0; i < a->records && a->rc == 0; i++)
    a->rc = commit_record(a->j, a->seq + 1 + i, i % (SMALL_EVENTS_MAX + 1));
  atomic_store(&a->done, true);
  return NULL;
}

/* The background check runs while the ledger keeps appending. */
static void test_verify_prefix_during_append(void **state) {
  fixture_t *f = *state;
  uint32_t m = f->n;
  uint64_t end = f->end[m], events_want = f->events[m];
  uint8_t hash[QP_HASH_SIZE];
  memcpy(hash, f->hash[m], QP_HASH_SIZE);
  appender_t a = {.j = f->j, .seq = m, .records = 300};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, append_thread, &a), 0);
  uint32_t rounds = 0;
  int rc = 0;
  while (rc == 0 && (!atomic_load(&a.done) || rounds < 3)) {
    char detail[256] = "";
    uint64_t events = 0;
    rc = qp_journal_verify_prefix(&f->io, end, m, hash, NULL, &events, detail, sizeof detail);
    if (rc != 0) fprintf(stderr, "round %u: %s\n", rounds, detail);
    if (rc == 0 && events != events_want) rc = QP_ERANGE;
    rounds++;
  }
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(a.rc, 0);
  assert_int_equal(rc, 0);
  assert_true(rounds >= 3);
  /* And the grown journal still scans whole from the old position. */
  qp_journal_scan_t s;
  assert_int_equal(qp_journal_scan_from(&f->io, end, m, hash, NULL, NULL, &s), 0);
  assert_int_equal(s.problem, 0);
  assert_int_equal(s.records, 300);
  assert_int_equal(s.last_seq, qp_journal_last_seq(f->j));
  uint8_t head[QP_HASH_SIZE];
  qp_journal_head_hash(f->j, head);
  assert_memory_equal(s.last_hash, head, QP_HASH_SIZE);
}

/* ----------------------------------------------- larger than one window */

static void test_big_records_across_windows(void **state) {
  fixture_t *f = *state;
  uint32_t n = f->n;
  assert_true(f->end[n] > 2 * (uint64_t)WINDOW);
  qp_journal_scan_t full;
  assert_int_equal(qp_journal_scan(&f->io, NULL, NULL, &full), 0);
  assert_int_equal(full.problem, 0);
  for (uint32_t k = 0; k <= n; k++) {
    assert_scan_from_matches(f, &full, k);
    spy_t spy = {.inner = f->io};
    qp_io_t io = spy_io(&spy);
    uint64_t events = 0;
    assert_int_equal(
        qp_journal_verify_prefix(&io, f->end[k], k, f->hash[k], NULL, &events, NULL, 0), 0);
    assert_int_equal(events, f->events[k]);
    assert_true(spy.read_end_max <= f->end[k]);
    assert_true(spy.read_len_max <= WINDOW); /* bounded memory, whatever the prefix */
  }
  /* Flips at the window edges and around record starts and ends. */
  uint32_t m = n - 1;
  uint64_t offsets[64];
  size_t count = 0;
  for (uint64_t w = WINDOW; w < f->end[m] && count < 24; w += WINDOW) {
    const uint64_t near[] = {w - 129, w - 1, w, w + 1, w + 127, w + 128};
    for (size_t i = 0; i < 6; i++) offsets[count++] = near[i];
  }
  for (uint32_t k = 1; k <= m && count + 4 <= 64; k += 3) {
    offsets[count++] = f->end[k - 1];
    offsets[count++] = f->end[k - 1] + 100;
    offsets[count++] = f->end[k - 1] + QP_JOURNAL_HEADER_SIZE;
    offsets[count++] = f->end[k] - 1;
  }
  for (size_t i = 0; i < count; i++) {
    if (offsets[i] >= f->end[m]) continue;
    uint32_t k = record_at(f, offsets[i]);
    flip(f, offsets[i]);
    assert_corrupt(f, f->end[m], m, f->hash[m], k, f->end[k - 1]);
    flip(f, offsets[i]);
  }
  assert_int_equal(verify(f, f->end[m], m, f->hash[m], NULL, 0), 0);
}

/* ------------------------------------------ typed, variable-size records */

/* A body limit larger than the reader's default 4 MiB window, so that the
 * largest record makes the reader widen it. */
enum { VAR_BODY_MAX = (4u << 20) + 4096, VAR_RECORDS = 7 };
static const qp_journal_format_t var_fmt = {VAR_BODY_MAX, 0};

typedef struct var_record {
  uint32_t op, count, body_size;
  uint64_t now_ns;
} var_record_t;

/* Mixed types and caller-defined counts; bodies of 0, 1, 1000 and
 * body_max bytes.  The last is 1000 bytes, so some sector holds only its
 * body: zeroing it looks like a torn append. */
static const var_record_t var_plan[VAR_RECORDS] = {
    {7, 0, 0, 11}, {1, 3, 1, 12},  {65535, 0, 1000, 13}, {2, 99, VAR_BODY_MAX, 14},
    {0, 0, 0, 15}, {3, 1, 1, 17},  {9, 5, 1000, 16}};

typedef struct var_journal {
  char dir[256];
  char path[320];
  qp_io_t io;                                 /* reads and damage */
  uint64_t end[VAR_RECORDS + 1];              /* end[k]: where record k ends */
  uint8_t hash_after_3[QP_HASH_SIZE];         /* head after the first group */
  uint8_t head[QP_HASH_SIZE];                 /* head after all */
  uint64_t counts;                            /* sum of the count fields */
} var_journal_t;

static uint8_t var_byte(uint64_t seq, uint32_t b) {
  return (uint8_t)(1 + (seq * 131u + b * 7u) % 251u);
}

static void var_stage(qp_journal_t *j, uint32_t i) {
  const var_record_t *r = &var_plan[i];
  uint8_t *body = qp_journal_stage(j, r->op, r->count, r->now_ns, r->body_size);
  assert_non_null(body);
  for (uint32_t b = 0; b < r->body_size; b++) body[b] = var_byte(i + 1, b);
}

/* Writes var_plan in three groups: records 1-3, record 4 alone (it fills
 * a group), records 5-7. */
static int setup_var(void **state) {
  var_journal_t *v = calloc(1, sizeof *v);
  assert_non_null(v);
  qp_test_tmpdir(v->dir, sizeof v->dir);
  snprintf(v->path, sizeof v->path, "%s/journal", v->dir);
  qp_io_t wio;
  qp_journal_t *j;
  assert_int_equal(qp_io_open_file(v->path, true, false, &wio), 0);
  assert_int_equal(qp_journal_open_fmt(&wio, &var_fmt, 0, 0, zero_hash, 0, &j), 0);
  for (uint32_t i = 0; i < VAR_RECORDS; i++) {
    var_stage(j, i);
    v->end[i + 1] = v->end[i] + QP_JOURNAL_HEADER_SIZE + var_plan[i].body_size;
    v->counts += var_plan[i].count;
    if (i == 2 || i == 3 || i == VAR_RECORDS - 1) assert_int_equal(qp_journal_commit(j), 0);
    if (i == 2) qp_journal_head_hash(j, v->hash_after_3);
  }
  assert_int_equal(qp_journal_size(j), v->end[VAR_RECORDS]);
  assert_int_equal(qp_journal_last_seq(j), VAR_RECORDS);
  qp_journal_head_hash(j, v->head);
  qp_journal_close(j);
  assert_int_equal(qp_io_open_file(v->path, false, false, &v->io), 0);
  *state = v;
  return 0;
}

static int teardown_var(void **state) {
  var_journal_t *v = *state;
  v->io.close(v->io.ctx);
  qp_test_rmdir(v->dir);
  free(v);
  return 0;
}

/* Checks each visited record against var_plan. */
static int var_visit(void *ctx, const qp_journal_record_t *rec) {
  uint64_t *seen = ctx;
  assert_true(rec->seq >= 1 && rec->seq <= VAR_RECORDS);
  const var_record_t *r = &var_plan[rec->seq - 1];
  assert_int_equal(rec->op, r->op);
  assert_int_equal(rec->count, r->count);
  assert_int_equal(rec->now_ns, r->now_ns);
  assert_int_equal(rec->body_size, r->body_size);
  assert_int_equal(rec->size, QP_JOURNAL_HEADER_SIZE + r->body_size);
  for (uint32_t b = 0; b < rec->body_size; b++)
    if (rec->body[b] != var_byte(rec->seq, b))
      fail_msg("record %llu byte %u", (unsigned long long)rec->seq, b);
  *seen |= 1ull << rec->seq;
  return 0;
}

static void var_scan(var_journal_t *v, const qp_journal_format_t *fmt, qp_journal_scan_t *s) {
  uint64_t seen = 0;
  assert_int_equal(qp_journal_scan_fmt(&v->io, fmt, var_visit, &seen, s), 0);
}

static void assert_problem(const qp_journal_scan_t *s, int kind, uint64_t seq, uint64_t offset,
                           const char *why) {
  if (s->problem != kind)
    fail_msg("problem %s, want %s (%s)", qp_err_name(s->problem), qp_err_name(kind), s->detail);
  assert_int_equal(s->problem_seq, seq);
  assert_int_equal(s->problem_offset, offset);
  assert_int_equal(s->valid_bytes, offset);
  assert_int_equal(s->last_seq, seq - 1);
  if (why != NULL && strstr(s->detail, why) == NULL)
    fail_msg("detail \"%s\" does not say \"%s\"", s->detail, why);
}

static void test_var_round_trip(void **state) {
  var_journal_t *v = *state;
  qp_journal_scan_t s;
  uint64_t seen = 0;
  assert_int_equal(qp_journal_scan_fmt(&v->io, &var_fmt, var_visit, &seen, &s), 0);
  assert_int_equal(s.problem, 0);
  assert_int_equal(seen, ((1ull << VAR_RECORDS) - 1) << 1);
  assert_int_equal(s.records, VAR_RECORDS);
  assert_int_equal(s.events, v->counts);
  assert_int_equal(s.valid_bytes, v->end[VAR_RECORDS]);
  assert_memory_equal(s.last_hash, v->head, QP_HASH_SIZE);
  /* From the end of the first group: the same end and head. */
  seen = 0;
  assert_int_equal(qp_journal_scan_from_fmt(&v->io, &var_fmt, v->end[3], 3, v->hash_after_3,
                                            var_visit, &seen, &s), 0);
  assert_int_equal(s.problem, 0);
  assert_int_equal(seen, (((1ull << VAR_RECORDS) - 1) << 1) & ~0xFull); /* records 4..7 */
  assert_memory_equal(s.last_hash, v->head, QP_HASH_SIZE);
  uint64_t counts = 0;
  char detail[256];
  assert_int_equal(qp_journal_verify_prefix_fmt(&v->io, &var_fmt, v->end[VAR_RECORDS], VAR_RECORDS,
                                                v->head, NULL, &counts, detail, sizeof detail), 0);
  assert_int_equal(counts, v->counts);
}

/* A reader with a narrower format calls a record outside it corrupt, and
 * a format beyond the limit is refused. */
static void test_var_format_enforced(void **state) {
  var_journal_t *v = *state;
  qp_journal_scan_t s;
  /* The events format: record 1 (empty body, count 0) fits; record 2 (3
   * events in 1 byte) does not. */
  assert_int_equal(qp_journal_scan(&v->io, NULL, NULL, &s), 0);
  assert_problem(&s, QP_ECORRUPT, 2, v->end[1], "header fields out of range");
  qp_journal_format_t small = {999, 0};
  var_scan(v, &small, &s);
  assert_problem(&s, QP_ECORRUPT, 3, v->end[2], "header fields out of range");
  qp_journal_format_t big = {QP_JOURNAL_BODY_LIMIT + 1, 0};
  assert_int_equal(qp_journal_scan_fmt(&v->io, &big, NULL, NULL, &s), QP_EINVAL);
  assert_int_equal(qp_journal_verify_prefix_fmt(&v->io, &big, 0, 0, zero_hash, NULL, NULL, NULL, 0),
                   QP_EINVAL);
  qp_journal_t *j;
  assert_int_equal(qp_journal_open_fmt(&v->io, &big, 0, 0, zero_hash, 0, &j), QP_EINVAL);
}

static void var_write(var_journal_t *v, const void *bytes, size_t len, uint64_t offset) {
  assert_int_equal(v->io.write_at(v->io.ctx, bytes, len, offset), 0);
}

static void var_flip(var_journal_t *v, uint64_t offset) {
  uint8_t b;
  size_t got;
  assert_int_equal(v->io.read_at(v->io.ctx, &b, 1, offset, &got), 0);
  b ^= 0x5A;
  var_write(v, &b, 1, offset);
}

/* Torn tails of variable-size records: what a crash mid-append leaves. */
static void test_var_torn_tails(void **state) {
  var_journal_t *v = *state;
  const uint64_t end = v->end[VAR_RECORDS], last = v->end[VAR_RECORDS - 1];
  uint64_t size;
  uint8_t *copy = malloc(end);
  size_t got;
  assert_non_null(copy);
  assert_int_equal(v->io.read_at(v->io.ctx, copy, end, 0, &got), 0);
  assert_int_equal(got, end);
  qp_journal_scan_t s;
  /* Shrinking: a cut never extends the file with zeros. */
  const uint64_t cuts[] = {end - 1, last + QP_JOURNAL_HEADER_SIZE + 500, last + 100};
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(v->io.truncate(v->io.ctx, cuts[i]), 0);
    var_scan(v, &var_fmt, &s);
    assert_problem(&s, QP_ETORN, VAR_RECORDS, last, NULL);
  }
  /* The largest record cut in its middle, at the end of the file. */
  assert_int_equal(v->io.truncate(v->io.ctx, v->end[3] + (2u << 20)), 0);
  var_scan(v, &var_fmt, &s);
  assert_problem(&s, QP_ETORN, 4, v->end[3], "extends past the end");
  var_write(v, copy, end, 0);
  /* A sector of the last body that never landed. */
  uint8_t zeros[4096] = {0};
  uint64_t sector = (last + QP_JOURNAL_HEADER_SIZE + 511) / 512 * 512;
  assert_true(sector + 512 <= end);
  var_write(v, zeros, 512, sector);
  var_scan(v, &var_fmt, &s);
  assert_problem(&s, QP_ETORN, VAR_RECORDS, last, "body does not match its hash");
  /* ... is corruption to a prefix check: the record was committed. */
  char detail[256];
  assert_int_equal(qp_journal_verify_prefix_fmt(&v->io, &var_fmt, end, VAR_RECORDS, v->head, NULL,
                                                NULL, detail, sizeof detail), QP_ECORRUPT);
  assert_names(detail, VAR_RECORDS, last);
  var_write(v, copy, end, 0);
  /* Zeros the file system extended past the last record. */
  var_write(v, zeros, sizeof zeros, end);
  var_scan(v, &var_fmt, &s);
  assert_problem(&s, QP_ETORN, VAR_RECORDS + 1, end, "zeros to the end");
  assert_int_equal(v->io.truncate(v->io.ctx, end), 0);
  assert_int_equal(v->io.size(v->io.ctx, &size), 0);
  assert_int_equal(size, end);
  var_scan(v, &var_fmt, &s);
  assert_int_equal(s.problem, 0);
  free(copy);
}

/* Damage with records after it is corruption, whatever the body size. */
static void test_var_corruption(void **state) {
  var_journal_t *v = *state;
  qp_journal_scan_t s;
  struct {
    uint64_t offset;
    uint64_t seq;
    const char *why;
  } cases[] = {
      {v->end[1] + QP_JOURNAL_HEADER_SIZE, 2, "body does not match its hash"},  /* 1-byte body */
      {v->end[3] + QP_JOURNAL_HEADER_SIZE + (3u << 20), 4, "body does not match"}, /* body_max */
      {v->end[2] + 88, 3, "header checksum mismatch"},                          /* size field */
      {v->end[4] + 86, 5, "header checksum mismatch"},                          /* empty body */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    var_flip(v, cases[i].offset);
    var_scan(v, &var_fmt, &s);
    assert_problem(&s, QP_ECORRUPT, cases[i].seq, v->end[cases[i].seq - 1], cases[i].why);
    var_flip(v, cases[i].offset);
  }
  var_scan(v, &var_fmt, &s);
  assert_int_equal(s.problem, 0);
}

/* An empty body still needs a header's room: a group with less left says
 * full (the fuzzer found stage writing a header past the group buffer). */
static void test_stage_empty_body_full_group(void **state) {
  (void)state;
  char dir[256], path[320];
  qp_test_tmpdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/journal", dir);
  const qp_journal_format_t fmt = {200, 0};
  qp_io_t io;
  qp_journal_t *j;
  assert_int_equal(qp_io_open_file(path, true, false, &io), 0);
  assert_int_equal(qp_journal_open_fmt(&io, &fmt, 0, 0, zero_hash, 300, &j), 0);
  assert_non_null(qp_journal_stage(j, 1, 0, 1, 100)); /* 228 of 300 bytes */
  assert_null(qp_journal_stage(j, 2, 0, 2, 0));       /* a header needs 128 */
  assert_int_equal(qp_journal_commit(j), 0);
  assert_non_null(qp_journal_stage(j, 2, 0, 2, 0));
  assert_int_equal(qp_journal_commit(j), 0);
  assert_int_equal(qp_journal_size(j), 228 + 128);
  qp_journal_close(j);
  qp_test_rmdir(dir);
}

/* Journals written before the format became a parameter (the fuzz seed
 * corpus holds real ledger journals) scan as before, with the functions
 * without a format, with the ledger's events format, and as opaque bodies. */
static void test_old_ledger_journals(void **state) {
  (void)state;
  static const struct {
    const char *name;
    uint64_t records, events, valid_bytes;
    int problem;
  } files[] = {{"demo", 4, 11, 1920, 0},
               {"one_record", 1, 4, 640, 0},
               {"torn", 1, 4, 640, QP_ETORN}};
  const qp_journal_format_t events = QP_JOURNAL_FORMAT_EVENTS;
  const qp_journal_format_t opaque = {QP_JOURNAL_BODY_MAX, 0};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char path[256];
    snprintf(path, sizeof path, "tests/fuzz/corpus/journal/%s", files[i].name);
    qp_io_t io;
    if (qp_io_open_file(path, false, true, &io) != 0)
      fail_msg("cannot open %s (run from the repository root)", path);
    qp_journal_scan_t a, b, c;
    assert_int_equal(qp_journal_scan(&io, NULL, NULL, &a), 0);
    assert_int_equal(qp_journal_scan_fmt(&io, &events, NULL, NULL, &b), 0);
    assert_int_equal(qp_journal_scan_fmt(&io, &opaque, NULL, NULL, &c), 0);
    io.close(io.ctx);
    assert_int_equal(a.records, files[i].records);
    assert_int_equal(a.events, files[i].events);
    assert_int_equal(a.valid_bytes, files[i].valid_bytes);
    assert_int_equal(a.problem, files[i].problem);
    assert_memory_equal(&a, &b, sizeof a);
    assert_memory_equal(&a, &c, sizeof a);
  }
}

/* Tags are kept per record and read back; one changed tag byte breaks the
 * header checksum like any other header byte. */
static int collect_tags(void *ctx, const qp_journal_record_t *rec) {
  uint8_t (*tags)[QP_JOURNAL_TAG_SIZE] = ctx;
  memcpy(tags[rec->seq], rec->tag, QP_JOURNAL_TAG_SIZE);
  return 0;
}

static void test_tags_round_trip(void **state) {
  fixture_t *f = *state;
  uint8_t tag[QP_JOURNAL_TAG_SIZE];
  for (uint32_t i = 0; i < sizeof tag; i++) tag[i] = (uint8_t)(0xA0 + i);
  assert_non_null(qp_journal_stage_tagged(f->j, 3, 0, 7, tag, 0));
  assert_int_equal(qp_journal_commit(f->j), 0);
  uint64_t tagged = f->n + 1;
  static uint8_t tags[RECORDS_MAX + 2][QP_JOURNAL_TAG_SIZE];
  memset(tags, 0xFF, sizeof tags);
  qp_journal_scan_t scan;
  assert_int_equal(qp_journal_scan(&f->io, collect_tags, tags, &scan), 0);
  assert_int_equal(scan.problem, 0);
  assert_int_equal(scan.last_seq, tagged);
  assert_memory_equal(tags[tagged], tag, sizeof tag);
  static const uint8_t zero[QP_JOURNAL_TAG_SIZE];
  for (uint64_t k = 1; k < tagged; k++) assert_memory_equal(tags[k], zero, sizeof zero);
  uint8_t byte = 0;
  uint64_t at = f->end[f->n] + 112 + 5; /* a tag byte of the tagged record */
  size_t got = 0;
  assert_int_equal(f->io.read_at(f->io.ctx, &byte, 1, at, &got), 0);
  assert_int_equal(got, 1);
  byte ^= 1;
  assert_int_equal(f->io.write_at(f->io.ctx, &byte, 1, at), 0);
  assert_int_equal(qp_journal_scan(&f->io, collect_tags, tags, &scan), 0);
  assert_int_not_equal(scan.problem, 0);
  assert_int_equal(scan.last_seq, tagged - 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_scan_from_every_boundary, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tags_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scan_from_wrong_position, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scan_from_judges_like_scan, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scan_from_beyond_end, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_prefix_intact, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_prefix_byte_flips, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_prefix_truncated, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_prefix_torn_tail_is_corrupt, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_prefix_wrong_end_seq, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_prefix_wrong_end_hash, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_prefix_not_boundary, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_prefix_stop, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_prefix_reads_below_end, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_prefix_during_append, setup, teardown),
      cmocka_unit_test_setup_teardown(test_big_records_across_windows, setup_big, teardown),
      cmocka_unit_test_setup_teardown(test_var_round_trip, setup_var, teardown_var),
      cmocka_unit_test_setup_teardown(test_var_format_enforced, setup_var, teardown_var),
      cmocka_unit_test_setup_teardown(test_var_torn_tails, setup_var, teardown_var),
      cmocka_unit_test_setup_teardown(test_var_corruption, setup_var, teardown_var),
      cmocka_unit_test(test_stage_empty_body_full_group),
      cmocka_unit_test(test_old_ledger_journals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
