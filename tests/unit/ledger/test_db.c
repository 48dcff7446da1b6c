/*
 * test_db.c - the durable ledger: reopen gives identical state and head
 * hash; a torn tail is truncated and reported; damage inside committed
 * history is refused with the record's offset; every single-byte change in
 * the journal is caught by verify; a lost index is rebuilt from the
 * journal; the directory lock; history queries; group commit; expiry.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "ledger/db.h"
#include "store/store.h"
#include "test_util.h"

typedef struct fixture {
  char dir[256];
  uint64_t clock; /* the fake wall clock, ns */
  uint64_t evict_min_rows;  /* options.evict_min_rows (0 = default) */
  uint64_t verify_sync_max; /* options.verify_sync_max (0 = default) */
} fixture_t;

static uint64_t fake_clock(void *ctx) { return ((fixture_t *)ctx)->clock; }

static qp_db_t *open_db(fixture_t *f, qp_db_recovery_t *rec) {
  qp_db_options_t opt = {.clock_ns = fake_clock,
                         .clock_ctx = f,
                         .index_map_size = (size_t)1 << 30,
                         .evict_min_rows = f->evict_min_rows,
                         .verify_sync_max = f->verify_sync_max};
  qp_db_t *db = NULL;
  char detail[512];
  int rc = qp_db_open(f->dir, &opt, &db, rec, detail, sizeof detail);
  if (rc != 0) fprintf(stderr, "open: %s\n", detail);
  assert_int_equal(rc, 0);
  return db;
}

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  qp_test_tmpdir(f->dir, sizeof f->dir);
  f->clock = 1000000000000ull;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  qp_test_rmdir(f->dir);
  free(f);
  return 0;
}

static qp_account_t account(qp_u128 id, uint16_t flags) {
  qp_account_t a;
  memset(&a, 0, sizeof a);
  a.id = id;
  a.ledger = 1;
  a.code = 1;
  a.flags = flags;
  return a;
}

static qp_transfer_t transfer(qp_u128 id, qp_u128 dr, qp_u128 cr, qp_u128 amount, uint16_t flags) {
  qp_transfer_t t;
  memset(&t, 0, sizeof t);
  t.id = id;
  t.debit_account_id = dr;
  t.credit_account_id = cr;
  t.amount = amount;
  t.ledger = 1;
  t.code = 7;
  t.flags = flags;
  return t;
}

/* Accounts 1..4 and `batches` batches of 10 transfers, one a pending. */
static void populate(fixture_t *f, qp_db_t *db, uint32_t batches) {
  qp_account_t a[4] = {account(1, 0), account(2, QP_ACCOUNT_HISTORY), account(3, 0), account(4, 0)};
  uint32_t r[16];
  assert_int_equal(qp_db_create_accounts(db, a, 4, r), 0);
  for (int i = 0; i < 4; i++) assert_int_equal(r[i], QP_CREATE_ACCOUNT_OK);
  for (uint32_t b = 0; b < batches; b++) {
    qp_transfer_t t[10];
    for (uint32_t i = 0; i < 10; i++) {
      qp_u128 id = 100 + b * 10 + i;
      t[i] =
          transfer(id, 1 + (id % 4), 1 + ((id + 1) % 4), 10 + i, i == 9 ? QP_TRANSFER_PENDING : 0);
    }
    f->clock += 1000;
    assert_int_equal(qp_db_create_transfers(db, t, 10, r), 0);
    for (int i = 0; i < 10; i++) assert_int_equal(r[i], QP_CREATE_TRANSFER_OK);
  }
}

static void snapshot(qp_db_t *db, qp_account_t out[4], qp_db_audit_t *audit) {
  qp_u128 ids[4] = {1, 2, 3, 4};
  uint32_t found;
  assert_int_equal(qp_db_lookup_accounts(db, ids, 4, out, &found), 0);
  assert_int_equal(found, 4);
  assert_int_equal(qp_db_audit(db, audit, NULL, 0, NULL), 0);
  assert_true(audit->invariant_ok);
}

static void assert_same(const qp_account_t a[4], const qp_db_audit_t *x, const qp_account_t b[4],
                        const qp_db_audit_t *y) {
  assert_memory_equal(a, b, 4 * sizeof *a);
  assert_memory_equal(x->head_hash, y->head_hash, QP_HASH_SIZE);
  assert_int_equal(x->batches, y->batches);
  assert_int_equal(x->transfers, y->transfers);
}

static void journal_path(const fixture_t *f, char *out, size_t size) {
  snprintf(out, size, "%s/ledger/journal", f->dir);
}

static long file_size(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return (long)st.st_size;
}

static void flip_byte(const char *path, long offset) {
  FILE *fp = fopen(path, "r+b");
  assert_non_null(fp);
  assert_int_equal(fseek(fp, offset, SEEK_SET), 0);
  int c = fgetc(fp);
  assert_int_equal(fseek(fp, offset, SEEK_SET), 0);
  fputc(c ^ 0x20, fp);
  fclose(fp);
}

static void test_reopen_identical(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f, NULL);
  populate(f, db, 5);
  qp_account_t before[4], after[4];
  qp_db_audit_t a1, a2;
  snapshot(db, before, &a1);
  qp_db_close(db);
  qp_db_recovery_t rec;
  db = open_db(f, &rec);
  assert_int_equal(rec.torn_bytes, 0);
  assert_int_equal(rec.batches, 6);
  snapshot(db, after, &a2);
  assert_same(before, &a1, after, &a2);
  /* Ids stay idempotency keys across a restart. */
  qp_transfer_t t = transfer(100, 1, 2, 10, 0);
  uint32_t r;
  assert_int_equal(qp_db_create_transfers(db, &t, 1, &r), 0);
  assert_int_not_equal(r, QP_CREATE_TRANSFER_OK);
  assert_int_equal(qp_db_audit(db, &a2, NULL, 0, NULL), 0); /* the retry is journaled too */
  qp_db_close(db);
  qp_verify_report_t rep;
  char detail[256];
  assert_int_equal(qp_db_verify(f->dir, &rep, detail, sizeof detail), 0);
  assert_true(rep.index_ok);
  assert_memory_equal(rep.head_hash, a2.head_hash, QP_HASH_SIZE);
}

static void test_torn_tail_truncated(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f, NULL);
  populate(f, db, 3);
  qp_account_t before[4], after[4];
  qp_db_audit_t a1, a2;
  snapshot(db, before, &a1);
  qp_db_close(db);
  char path[512], cmd[1200];
  journal_path(f, path, sizeof path);
  long end = file_size(path);
  /* Keep the index as it is now, append one more batch, then put the old
   * index back and cut the new record short: exactly what a crash in the
   * middle of that append leaves (the index never saw it). */
  snprintf(cmd, sizeof cmd, "cp -r '%s/ledger/state' '%s/state.bak'", f->dir, f->dir);
  assert_int_equal(system(cmd), 0);
  db = open_db(f, NULL);
  qp_transfer_t t = transfer(999, 1, 2, 5, 0);
  uint32_t r;
  assert_int_equal(qp_db_create_transfers(db, &t, 1, &r), 0);
  qp_db_close(db);
  snprintf(cmd, sizeof cmd, "rm -rf '%s/ledger/state' && mv '%s/state.bak' '%s/ledger/state'",
           f->dir, f->dir, f->dir);
  assert_int_equal(system(cmd), 0);
  assert_int_equal(truncate(path, end + 200), 0);
  qp_verify_report_t rep;
  char detail[256];
  assert_int_equal(qp_db_verify(f->dir, &rep, detail, sizeof detail), QP_ETORN);
  assert_non_null(strstr(detail, "torn"));
  qp_db_recovery_t rec;
  db = open_db(f, &rec);
  assert_int_equal(rec.torn_bytes, 200);
  assert_int_equal((long)rec.torn_offset, end);
  snapshot(db, after, &a2);
  assert_same(before, &a1, after, &a2);
  qp_db_close(db);
  assert_int_equal(file_size(path), end);
  assert_int_equal(qp_db_verify(f->dir, &rep, detail, sizeof detail), 0);
}

static void test_torn_header_and_zeros(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f, NULL);
  populate(f, db, 2);
  qp_db_close(db);
  char path[512];
  journal_path(f, path, sizeof path);
  long end = file_size(path);
  /* A file system that extended the file but never wrote the data. */
  FILE *fp = fopen(path, "ab");
  for (int i = 0; i < 4096; i++) fputc(0, fp);
  fclose(fp);
  qp_db_recovery_t rec;
  db = open_db(f, &rec);
  assert_int_equal(rec.torn_bytes, 4096);
  qp_db_close(db);
  assert_int_equal(file_size(path), end);
  /* Half a header. */
  fp = fopen(path, "ab");
  for (int i = 0; i < 50; i++) fputc(i + 1, fp);
  fclose(fp);
  db = open_db(f, &rec);
  assert_int_equal(rec.torn_bytes, 50);
  qp_db_close(db);
}

static void test_corrupt_middle_refused(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f, NULL);
  populate(f, db, 4);
  qp_db_close(db);
  char path[512];
  journal_path(f, path, sizeof path);
  long size = file_size(path);
  flip_byte(path, 128 + 300); /* inside record 1's body (4 accounts) */
  qp_db_options_t opt = {.clock_ns = fake_clock, .clock_ctx = f};
  char detail[512];
  db = NULL;
  assert_int_equal(qp_db_open(f->dir, &opt, &db, NULL, detail, sizeof detail), QP_ECORRUPT);
  assert_null(db);
  assert_non_null(strstr(detail, "offset 0"));
  assert_int_equal(file_size(path), size); /* nothing was cut off */
  qp_verify_report_t rep;
  assert_int_equal(qp_db_verify(f->dir, &rep, detail, sizeof detail), QP_ECORRUPT);
  assert_non_null(strstr(detail, "offset 0"));
}

static void test_every_byte_flip_detected(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f, NULL);
  populate(f, db, 2);
  qp_db_close(db);
  char path[512];
  journal_path(f, path, sizeof path);
  long size = file_size(path);
  qp_verify_report_t rep;
  char detail[256];
  for (long off = 0; off < size; off++) {
    flip_byte(path, off);
    int rc = qp_db_verify(f->dir, &rep, detail, sizeof detail);
    if (rc == 0) fprintf(stderr, "flip at offset %ld not detected\n", off);
    assert_int_not_equal(rc, 0);
    flip_byte(path, off);
  }
  assert_int_equal(qp_db_verify(f->dir, &rep, detail, sizeof detail), 0);
}

static void test_index_rebuilt_from_journal(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f, NULL);
  populate(f, db, 3);
  qp_account_t before[4], after[4];
  qp_db_audit_t a1, a2;
  snapshot(db, before, &a1);
  qp_db_close(db);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s/ledger/state'", f->dir);
  assert_int_equal(system(cmd), 0);
  qp_db_recovery_t rec;
  db = open_db(f, &rec);
  assert_int_equal(rec.replayed_batches, 4);
  snapshot(db, after, &a2);
  assert_same(before, &a1, after, &a2);
  qp_account_filter_t filter = {.account_id = 2, .limit = 100};
  qp_transfer_t rows[100];
  uint32_t n;
  assert_int_equal(qp_db_get_account_transfers(db, &filter, rows, &n), 0);
  assert_true(n > 0);
  qp_db_close(db);
  qp_verify_report_t rep;
  char detail[256];
  assert_int_equal(qp_db_verify(f->dir, &rep, detail, sizeof detail), 0);
}

/* The timestamps of transfers 100.. as stored. */
static void transfer_stamps(qp_db_t *db, uint32_t n, uint64_t *ts) {
  for (uint32_t i = 0; i < n; i++) {
    qp_u128 id = 100 + i;
    qp_transfer_t t;
    uint32_t found;
    assert_int_equal(qp_db_lookup_transfers(db, &id, 1, &t, NULL, &found), 0);
    assert_int_equal(found, 1);
    ts[i] = t.timestamp;
  }
}

/* Who submitted each batch comes from the journal: the same answers live,
 * after a restart and from an index rebuilt by replay. */
static void test_submitters(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f, NULL);
  qp_account_t a[2] = {account(1, 0), account(2, 0)};
  uint32_t r[8];
  assert_int_equal(qp_db_create_accounts(db, a, 2, r), 0);
  const uint64_t who[3] = {0xabcdef0123456789ull, 0, 0x42};
  for (uint32_t b = 0; b < 3; b++) {
    qp_transfer_t t[2] = {transfer(100 + 2 * b, 1, 2, 5, 0), transfer(101 + 2 * b, 2, 1, 1, 0)};
    qp_db_request_t req = {.op = QP_OP_CREATE_TRANSFERS, .events = t, .count = 2,
                           .results = r, .submitter = who[b]};
    f->clock += 1000;
    assert_int_equal(qp_db_execute(db, &req, 1), 0);
    assert_int_equal(r[0] + r[1], 0);
  }
  uint64_t ts[6], got[6];
  for (int round = 0; round < 3; round++) {
    transfer_stamps(db, 6, ts);
    assert_int_equal(qp_db_submitters(db, ts, 6, got), 0);
    for (uint32_t i = 0; i < 6; i++) assert_int_equal(got[i], who[i / 2]);
    qp_db_close(db);
    if (round == 1) {
      char cmd[600];
      snprintf(cmd, sizeof cmd, "rm -rf '%s/ledger/state'", f->dir);
      assert_int_equal(system(cmd), 0);
    }
    db = open_db(f, NULL);
  }
  qp_db_close(db);
}

static void test_index_backpressure(void **state) {
  fixture_t *f = *state;
  /* A lag bound of 1 makes every group wait for the index: it must never
   * deadlock, and the index must end up complete. */
  qp_db_options_t opt = {.clock_ns = fake_clock, .clock_ctx = f, .index_lag_max = 1};
  qp_db_t *db;
  char detail[256];
  assert_int_equal(qp_db_open(f->dir, &opt, &db, NULL, detail, sizeof detail), 0);
  populate(f, db, 20);
  qp_account_t before[4], after[4];
  qp_db_audit_t a1, a2;
  snapshot(db, before, &a1);
  qp_db_close(db);
  qp_verify_report_t rep;
  assert_int_equal(qp_db_verify(f->dir, &rep, detail, sizeof detail), 0);
  assert_true(rep.index_ok);
  db = open_db(f, NULL);
  snapshot(db, after, &a2);
  assert_same(before, &a1, after, &a2);
  qp_db_close(db);
}

/* A gate the applier passes before storing each round (the test seam). */
typedef struct gate {
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  bool open;         /* rounds may be stored */
  uint32_t entered;  /* rounds that reached the gate */
} gate_t;

static void gate_hook(void *ctx) {
  gate_t *g = ctx;
  pthread_mutex_lock(&g->mutex);
  g->entered++;
  pthread_cond_broadcast(&g->cond);
  while (!g->open) pthread_cond_wait(&g->cond, &g->mutex);
  pthread_mutex_unlock(&g->mutex);
}

typedef struct writer_run {
  fixture_t *f;
  qp_db_t *db;
  _Atomic uint32_t done; /* batches committed */
  _Atomic int failed;    /* a commit or a result was wrong */
} writer_run_t;

/* Commits 20 batches of 10 transfers between accounts 1..4. */
static void *writer_main(void *arg) {
  writer_run_t *w = arg;
  for (uint32_t b = 0; b < 20; b++) {
    qp_transfer_t t[10];
    uint32_t r[10];
    for (uint32_t i = 0; i < 10; i++) {
      qp_u128 id = 1000 + b * 10 + i;
      t[i] = transfer(id, 1 + (id % 4), 1 + ((id + 1) % 4), 1, 0);
    }
    w->f->clock += 1000;
    if (qp_db_create_transfers(w->db, t, 10, r) != 0) w->failed = 1;
    for (int i = 0; i < 10; i++)
      if (r[i] != QP_CREATE_TRANSFER_OK) w->failed = 1;
    w->done++;
  }
  return NULL;
}

/* Polls (1 ms steps, up to 20 s) until the writer has waited for the index. */
static void wait_for_backpressure(qp_db_t *db, qp_db_health_t *h) {
  for (int i = 0; i < 20000; i++) {
    qp_db_health(db, h);
    if (h->index_waits > 0) return;
    nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
  }
  fail_msg("the writer never waited for the index");
}

/* With the applier held at the gate, the writer stops at the lag bound
 * (durable, but no further commits) and resumes once the index moves. */
static void test_index_backpressure_waits_and_resumes(void **state) {
  fixture_t *f = *state;
  gate_t g = {.mutex = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
  qp_db_options_t opt = {.clock_ns = fake_clock, .clock_ctx = f, .index_lag_max = 40,
                         .index_map_size = (size_t)1 << 30, .applier_round_hook = gate_hook,
                         .applier_round_hook_ctx = &g};
  qp_db_t *db;
  char detail[256];
  assert_int_equal(qp_db_open(f->dir, &opt, &db, NULL, detail, sizeof detail), 0);
  qp_account_t a[4] = {account(1, 0), account(2, 0), account(3, 0), account(4, 0)};
  uint32_t r[4];
  assert_int_equal(qp_db_create_accounts(db, a, 4, r), 0);
  writer_run_t w = {.f = f, .db = db};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
  qp_db_health_t h;
  wait_for_backpressure(db, &h);
  /* Waiting: the index holds none of the transfers, the writer is stuck
   * part-way, and the bound is what the options said. */
  uint32_t stuck = w.done;
  assert_true(stuck < 20);
  assert_int_equal(h.index_lag_max, 40);
  assert_true(h.index_lag_events >= 10);
  pthread_mutex_lock(&g.mutex);
  assert_true(g.entered >= 1);
  qp_db_health(db, &h);
  assert_int_equal(w.done, stuck); /* still waiting: nothing let it through */
  g.open = true;
  pthread_cond_broadcast(&g.cond);
  pthread_mutex_unlock(&g.mutex);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_int_equal(w.done, 20);
  assert_int_equal(w.failed, 0);
  assert_int_equal(qp_db_sync_index(db), 0);
  qp_db_health(db, &h);
  assert_int_equal(h.index_lag_events, 0);
  assert_int_equal(h.index_seq, h.journal_seq);
  assert_true(h.index_waits >= 1);
  assert_true(h.index_wait_ns > 0);
  qp_db_close(db);
  qp_verify_report_t rep;
  assert_int_equal(qp_db_verify(f->dir, &rep, detail, sizeof detail), 0);
  assert_true(rep.index_ok);
}

static void test_lock(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f, NULL), *db2 = NULL;
  char detail[512];
  assert_int_equal(qp_db_open(f->dir, NULL, &db2, NULL, detail, sizeof detail), QP_ELOCKED);
  assert_non_null(strstr(detail, "in use"));
  qp_db_close(db);
  db2 = open_db(f, NULL);
  qp_db_close(db2);
}

/* Offline verify refuses while the db is open (it holds the lock), naming
 * the holder; the live form runs beside it, compares no index contents,
 * and leaves out a tail after the index's position that does not check
 * out (a record being written) - but not damage before that position. */
static void test_verify_beside_an_open_db(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f, NULL);
  populate(f, db, 3);
  assert_int_equal(qp_db_sync_index(db), 0);
  qp_verify_report_t rep;
  char detail[512], pid[64];
  assert_int_equal(qp_db_verify(f->dir, &rep, detail, sizeof detail), QP_ELOCKED);
  snprintf(pid, sizeof pid, "a quipu process (pid %ld) holds", (long)getpid());
  assert_non_null(strstr(detail, pid));
  assert_int_equal(qp_db_verify_live(f->dir, &rep, detail, sizeof detail), 0);
  assert_true(rep.live && rep.invariant_ok && !rep.index_compared);
  assert_int_equal(rep.index_applied_seq, rep.batches);
  assert_int_equal(rep.tail_unchecked_bytes, 0);
  assert_int_equal(rep.transfers, 30);
  char path[512];
  journal_path(f, path, sizeof path);
  long end = file_size(path);
  FILE *fp = fopen(path, "ab"); /* half a record, as if being appended */
  assert_non_null(fp);
  for (int i = 0; i < 200; i++) fputc(i + 1, fp);
  fclose(fp);
  assert_int_equal(qp_db_verify_live(f->dir, &rep, detail, sizeof detail), 0);
  assert_int_equal(rep.tail_unchecked_bytes, 200);
  assert_int_equal((long)rep.journal_bytes, end);
  assert_int_equal((long)rep.live_end, end + 200);
  qp_db_close(db);
  /* With the server stopped the same bytes are damage: a whole header that
   * does not check out. */
  assert_int_equal(qp_db_verify(f->dir, &rep, detail, sizeof detail), QP_ECORRUPT);
  assert_int_equal(truncate(path, end), 0);
  assert_int_equal(qp_db_verify(f->dir, &rep, detail, sizeof detail), 0);
  assert_true(rep.index_compared && rep.index_ok && !rep.live);
  flip_byte(path, 128 + 300); /* record 1, which the index has applied */
  assert_int_equal(qp_db_verify_live(f->dir, &rep, detail, sizeof detail), QP_ECORRUPT);
  assert_non_null(strstr(detail, "offset 0"));
}

/* The id filter file of a small ledger is sized for growth (tens of MB
 * apparent) but sparse: only the pages holding set bits, the header and
 * the checksum take disk blocks. */
static void test_idfilter_small_on_disk(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f, NULL);
  populate(f, db, 1); /* 4 accounts, 10 transfers */
  qp_db_close(db);
  char path[512];
  snprintf(path, sizeof path, "%s/ledger/state/idfilter", f->dir);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  uint64_t allocated = (uint64_t)st.st_blocks * 512u;
  fprintf(stderr, "idfilter: %lld bytes apparent, %llu allocated\n", (long long)st.st_size,
          (unsigned long long)allocated);
  assert_true(allocated <= 256u * 1024u);
}

static void test_history_queries(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f, NULL);
  populate(f, db, 3);
  qp_account_filter_t filter = {.account_id = 2, .limit = 1000};
  qp_transfer_t rows[1000];
  uint32_t n_all, n_dr, n_cr, n_rev;
  assert_int_equal(qp_db_get_account_transfers(db, &filter, rows, &n_all), 0);
  for (uint32_t i = 0; i < n_all; i++) {
    assert_true(rows[i].debit_account_id == 2 || rows[i].credit_account_id == 2);
    if (i) assert_true(rows[i].timestamp > rows[i - 1].timestamp);
  }
  uint64_t first_ts = rows[0].timestamp, last_ts = rows[n_all - 1].timestamp;
  filter.flags = QP_FILTER_DEBITS;
  assert_int_equal(qp_db_get_account_transfers(db, &filter, rows, &n_dr), 0);
  for (uint32_t i = 0; i < n_dr; i++) assert_true(rows[i].debit_account_id == 2);
  filter.flags = QP_FILTER_CREDITS;
  assert_int_equal(qp_db_get_account_transfers(db, &filter, rows, &n_cr), 0);
  assert_int_equal(n_dr + n_cr, n_all);
  filter.flags = QP_FILTER_REVERSED;
  filter.limit = 2;
  assert_int_equal(qp_db_get_account_transfers(db, &filter, rows, &n_rev), 0);
  assert_int_equal(n_rev, 2);
  assert_true(rows[0].timestamp == last_ts && rows[1].timestamp < last_ts);
  filter.flags = 0;
  filter.limit = 1000;
  filter.timestamp_min = first_ts + 1;
  filter.timestamp_max = last_ts - 1;
  assert_int_equal(qp_db_get_account_transfers(db, &filter, rows, &n_rev), 0);
  assert_int_equal(n_rev, n_all - 2);
  /* Balances after each transfer, for the account with `history`. */
  qp_account_balance_t bal[1000];
  uint32_t nb;
  filter.timestamp_min = filter.timestamp_max = 0;
  assert_int_equal(qp_db_get_account_balances(db, &filter, bal, &nb), 0);
  assert_int_equal(nb, n_all);
  qp_account_t now;
  qp_u128 id = 2;
  uint32_t found;
  assert_int_equal(qp_db_lookup_accounts(db, &id, 1, &now, &found), 0);
  assert_true(bal[nb - 1].credits_posted == now.credits_posted &&
              bal[nb - 1].debits_posted == now.debits_posted &&
              bal[nb - 1].debits_pending == now.debits_pending);
  /* Accounts without `history` have none. */
  filter.account_id = 1;
  assert_int_equal(qp_db_get_account_balances(db, &filter, bal, &nb), 0);
  assert_int_equal(nb, 0);
  /* Bad filters are refused. */
  filter.limit = 0;
  assert_int_equal(qp_db_get_account_transfers(db, &filter, rows, &n_all), QP_EINVAL);
  filter.limit = 10;
  filter.account_id = 0;
  assert_int_equal(qp_db_get_account_transfers(db, &filter, rows, &n_all), QP_EINVAL);
  qp_db_close(db);
}

static void test_group_commit(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f, NULL);
  populate(f, db, 0);
  qp_transfer_t t[3][2];
  uint32_t r[3][2];
  qp_db_request_t reqs[4];
  for (int i = 0; i < 3; i++) {
    t[i][0] = transfer((qp_u128)(500 + 2 * i), 1, 2, 5, 0);
    t[i][1] = transfer((qp_u128)(501 + 2 * i), 3, 4, 5, 0);
    reqs[i] = (qp_db_request_t){
        .op = QP_OP_CREATE_TRANSFERS, .events = t[i], .count = 2, .results = r[i]};
  }
  reqs[3] =
      (qp_db_request_t){.op = QP_OP_CREATE_TRANSFERS, .events = t[0], .count = 0, .results = r[0]};
  assert_int_equal(qp_db_execute(db, reqs, 4), 0);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(reqs[i].status, 0);
    assert_int_equal(r[i][0], QP_CREATE_TRANSFER_OK);
  }
  assert_int_equal(reqs[3].status, QP_EINVAL);
  qp_db_audit_t audit;
  assert_int_equal(qp_db_audit(db, &audit, NULL, 0, NULL), 0);
  assert_int_equal(audit.batches, 4); /* accounts + 3 requests; the bad one not journaled */
  assert_int_equal(audit.transfers, 6);
  qp_db_close(db);
}

static void test_expiry_is_journaled(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f, NULL);
  populate(f, db, 0);
  qp_transfer_t t = transfer(700, 1, 2, 50, QP_TRANSFER_PENDING);
  t.timeout = 2;
  uint32_t r;
  assert_int_equal(qp_db_create_transfers(db, &t, 1, &r), 0);
  assert_int_equal(r, QP_CREATE_TRANSFER_OK);
  f->clock += 3000000000ull; /* 3 s later */
  qp_db_request_t sweep = {.op = QP_OP_EXPIRE};
  assert_int_equal(qp_db_execute(db, &sweep, 1), 0);
  qp_transfer_t got;
  qp_pending_state_t st;
  qp_u128 id = 700;
  uint32_t found;
  assert_int_equal(qp_db_lookup_transfers(db, &id, 1, &got, &st, &found), 0);
  assert_int_equal(st, QP_PENDING_EXPIRED);
  qp_transfer_t post = transfer(701, 0, 0, 0, QP_TRANSFER_POST_PENDING_TRANSFER);
  post.pending_id = 700;
  post.ledger = 0;
  post.code = 0;
  assert_int_equal(qp_db_create_transfers(db, &post, 1, &r), 0);
  assert_int_equal(r, QP_CREATE_TRANSFER_PENDING_TRANSFER_EXPIRED);
  qp_db_close(db);
  /* The expiry replays: after reopen the transfer is still expired. */
  db = open_db(f, NULL);
  assert_int_equal(qp_db_lookup_transfers(db, &id, 1, &got, &st, &found), 0);
  assert_int_equal(st, QP_PENDING_EXPIRED);
  qp_account_t a;
  qp_u128 aid = 1;
  assert_int_equal(qp_db_lookup_accounts(db, &aid, 1, &a, &found), 0);
  assert_true(a.debits_pending == 0);
  qp_db_close(db);
  qp_verify_report_t rep;
  char detail[256];
  assert_int_equal(qp_db_verify(f->dir, &rep, detail, sizeof detail), 0);
}

static uint16_t account_flags(qp_db_t *db, qp_u128 id) {
  qp_account_t a;
  uint32_t found = 0;
  assert_int_equal(qp_db_lookup_accounts(db, &id, 1, &a, &found), 0);
  assert_int_equal(found, 1);
  return a.flags;
}

static uint32_t one_transfer(fixture_t *f, qp_db_t *db, qp_transfer_t t) {
  uint32_t r = UINT32_MAX;
  f->clock += 1000;
  assert_int_equal(qp_db_create_transfers(db, &t, 1, &r), 0);
  return r;
}

/* An account's `closed` flag survives a restart, from the index and from
 * the journal alone (state removed), and a void after the restart still
 * re-opens it. */
static void test_closed_survives_restart(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f, NULL);
  populate(f, db, 1);
  qp_transfer_t close = transfer(800, 1, 2, 0, QP_TRANSFER_PENDING | QP_TRANSFER_CLOSING_DEBIT);
  assert_int_equal(one_transfer(f, db, close), QP_CREATE_TRANSFER_OK);
  assert_true(account_flags(db, 1) & QP_ACCOUNT_CLOSED);
  qp_db_close(db);
  for (int from_journal = 0; from_journal < 2; from_journal++) {
    if (from_journal) {
      char cmd[600];
      snprintf(cmd, sizeof cmd, "rm -rf '%s/ledger/state'", f->dir);
      assert_int_equal(system(cmd), 0);
    }
    db = open_db(f, NULL);
    assert_int_equal(account_flags(db, 1), QP_ACCOUNT_CLOSED);
    assert_int_equal(account_flags(db, 2), QP_ACCOUNT_HISTORY);
    assert_int_equal(one_transfer(f, db, transfer(801, 1, 3, 5, 0)),
                     QP_CREATE_TRANSFER_DEBIT_ACCOUNT_ALREADY_CLOSED);
    qp_db_close(db);
  }
  db = open_db(f, NULL);
  qp_transfer_t reopen = transfer(802, 0, 0, 0, QP_TRANSFER_VOID_PENDING_TRANSFER);
  reopen.pending_id = 800;
  reopen.ledger = 0;
  reopen.code = 0;
  assert_int_equal(one_transfer(f, db, reopen), QP_CREATE_TRANSFER_OK);
  qp_db_close(db);
  db = open_db(f, NULL);
  assert_int_equal(account_flags(db, 1), 0);
  assert_int_equal(one_transfer(f, db, transfer(803, 1, 3, 5, 0)), QP_CREATE_TRANSFER_OK);
  qp_db_close(db);
  qp_verify_report_t rep;
  char detail[256];
  assert_int_equal(qp_db_verify(f->dir, &rep, detail, sizeof detail), 0);
  assert_true(rep.index_ok);
}

/* Re-sends transfers 100..100+n-1 exactly as populate() made them: every
 * one must come back `exists`, wherever it is held. */
static void resend_all(fixture_t *f, qp_db_t *db, uint32_t n) {
  for (uint32_t b = 0; b < n / 10; b++) {
    qp_transfer_t t[10];
    uint32_t r[10];
    for (uint32_t i = 0; i < 10; i++) {
      qp_u128 id = 100 + b * 10 + i;
      t[i] =
          transfer(id, 1 + (id % 4), 1 + ((id + 1) % 4), 10 + i, i == 9 ? QP_TRANSFER_PENDING : 0);
    }
    t[3].amount++; /* one per batch with a different amount */
    f->clock += 1000;
    assert_int_equal(qp_db_create_transfers(db, t, 10, r), 0);
    for (uint32_t i = 0; i < 10; i++)
      assert_int_equal(r[i], i == 3 ? QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_AMOUNT
                                    : QP_CREATE_TRANSFER_EXISTS);
  }
}

static uint32_t post(fixture_t *f, qp_db_t *db, qp_u128 id, qp_u128 pending_id) {
  qp_transfer_t p = transfer(id, 0, 0, 0, QP_TRANSFER_POST_PENDING_TRANSFER);
  p.pending_id = pending_id;
  p.ledger = 0;
  p.code = 0;
  uint32_t r = UINT32_MAX;
  f->clock += 1000;
  assert_int_equal(qp_db_create_transfers(db, &p, 1, &r), 0);
  return r;
}

/* Every stored transfer that can no longer change leaves memory, and is
 * still found, deduplicated, refused for a second post and listed - also
 * after a restart, with the id filter saved, missing or damaged. */
static void test_cold_store(void **state) {
  fixture_t *f = *state;
  f->evict_min_rows = 1;
  qp_db_t *db = open_db(f, NULL);
  populate(f, db, 20); /* transfers 100..299; 109, 119, ... pending */
  assert_int_equal(qp_db_sync_index(db), 0);
  qp_db_audit_t audit;
  assert_int_equal(qp_db_audit(db, &audit, NULL, 0, NULL), 0);
  assert_int_equal(audit.transfers, 200);
  assert_true(audit.transfers_in_memory < 200); /* the applier evicted */
  assert_true(audit.transfers_in_memory >= 20); /* pending ones stay */
  resend_all(f, db, 200);
  assert_int_equal(post(f, db, 1000, 109), QP_CREATE_TRANSFER_OK);
  assert_int_equal(qp_db_sync_index(db), 0);
  /* Another stored round, so the resolved pending transfer leaves too. */
  assert_int_equal(post(f, db, 1001, 119), QP_CREATE_TRANSFER_OK);
  assert_int_equal(qp_db_sync_index(db), 0);
  assert_int_equal(post(f, db, 1002, 109), QP_CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_POSTED);
  assert_int_equal(post(f, db, 1000, 109), QP_CREATE_TRANSFER_EXISTS);
  /* Lookups reach the index for what is not in memory. */
  qp_u128 ids[3] = {100, 109, 5555};
  qp_transfer_t got[3];
  qp_pending_state_t st[3];
  uint32_t found;
  assert_int_equal(qp_db_lookup_transfers(db, ids, 3, got, st, &found), 0);
  assert_int_equal(found, 2);
  assert_true(got[0].id == 100 && st[0] == QP_PENDING_NONE && got[0].amount == 10);
  assert_true(got[1].id == 109 && st[1] == QP_PENDING_POSTED);
  /* Each account's transfers come from the index. */
  qp_account_filter_t filter = {.account_id = 2, .limit = 1000};
  qp_transfer_t rows[1000];
  uint32_t n;
  assert_int_equal(qp_db_get_account_transfers(db, &filter, rows, &n), 0);
  uint32_t want = 0;
  for (uint32_t id = 100; id < 300; id++) want += (1 + id % 4 == 2) || (1 + (id + 1) % 4 == 2);
  for (uint32_t pid = 109; pid <= 119; pid += 10) /* the posts 1000 and 1001 */
    want += (1 + pid % 4 == 2) || (1 + (pid + 1) % 4 == 2);
  assert_int_equal(n, want);
  qp_db_close(db);

  /* Restart: the pending ones are back in memory, the rest stays stored. */
  db = open_db(f, NULL);
  assert_int_equal(qp_db_audit(db, &audit, NULL, 0, NULL), 0);
  assert_int_equal(audit.transfers, 202);
  assert_int_equal(audit.transfers_in_memory, 18); /* 20 pending, 2 posted */
  resend_all(f, db, 200);
  assert_int_equal(post(f, db, 1002, 109), QP_CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_POSTED);
  assert_int_equal(post(f, db, 1003, 129), QP_CREATE_TRANSFER_OK);
  qp_db_close(db);

  /* Without the filter file, or with a damaged one, open rebuilds it. */
  char path[512];
  snprintf(path, sizeof path, "%s/ledger/state/idfilter", f->dir);
  assert_int_equal(access(path, F_OK), 0);
  assert_int_equal(unlink(path), 0);
  db = open_db(f, NULL);
  resend_all(f, db, 200);
  qp_db_close(db);
  assert_int_equal(access(path, F_OK), 0); /* saved again at close */
  flip_byte(path, 100);
  db = open_db(f, NULL);
  resend_all(f, db, 200);
  assert_int_equal(post(f, db, 1004, 129), QP_CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_POSTED);
  qp_db_close(db);
  qp_verify_report_t rep;
  char detail[256];
  assert_int_equal(qp_db_verify(f->dir, &rep, detail, sizeof detail), 0);
}

/* Open reads only the journal after the index's position; the prefix is
 * re-hashed before open returns, or in the background for a long one, and
 * damage there is refused or fail-stops the db. */
static void test_prefix_verified(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f, NULL);
  populate(f, db, 5);
  assert_int_equal(qp_db_sync_index(db), 0);
  qp_db_close(db);
  char path[512];
  journal_path(f, path, sizeof path);
  flip_byte(path, 128 + 300); /* inside record 1, long since in the index */
  qp_db_options_t opt = {.clock_ns = fake_clock, .clock_ctx = f, .index_map_size = (size_t)1 << 30};
  char detail[512];
  assert_int_equal(qp_db_open(f->dir, &opt, &db, NULL, detail, sizeof detail), QP_ECORRUPT);
  assert_non_null(strstr(detail, "record 1"));
  /* A prefix longer than verify_sync_max: open succeeds, the check fails
   * in the background and stops the db. */
  f->verify_sync_max = 1;
  qp_db_recovery_t rec;
  db = open_db(f, &rec);
  assert_true(rec.verify_background > 0);
  bool done = false;
  char why[512];
  int rc = 0;
  for (int i = 0; i < 2000 && !done; i++) {
    rc = qp_db_verify_status(db, &done, why, sizeof why);
    if (!done) usleep(1000);
  }
  assert_true(done);
  assert_int_equal(rc, QP_ECORRUPT);
  assert_non_null(strstr(why, "record 1"));
  assert_true(qp_db_stopped(db));
  qp_db_close(db);
  flip_byte(path, 128 + 300); /* repaired: both ways pass */
  db = open_db(f, &rec);
  for (int i = 0; i < 2000 && !done; i++) {
    rc = qp_db_verify_status(db, &done, why, sizeof why);
    if (!done) usleep(1000);
  }
  done = false;
  for (int i = 0; i < 2000 && !done; i++) {
    rc = qp_db_verify_status(db, &done, why, sizeof why);
    if (!done) usleep(1000);
  }
  assert_true(done);
  assert_int_equal(rc, 0);
  assert_false(qp_db_stopped(db));
  qp_db_close(db);
}

static void write_at(const char *path, long offset, const void *data, size_t len) {
  FILE *fp = fopen(path, "r+b");
  assert_non_null(fp);
  assert_int_equal(fseek(fp, offset, SEEK_SET), 0);
  assert_int_equal(fwrite(data, 1, len, fp), len);
  fclose(fp);
}

/* Checks that a lost header write (with garbled rows) or a damaged older slot is redone. */
static void check_lost_file_writes_redone(fixture_t *f, const char *path,
                                          const qp_account_t before[4], const qp_db_audit_t *a1) {
  qp_db_t *db;
  qp_account_t after[4];
  qp_db_audit_t a2;
  uint8_t junk[2 * 128];
  memset(junk, 0xA5, sizeof junk);
  uint64_t writes[2];
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  for (int slot = 0; slot < 2; slot++) {
    assert_int_equal(fseek(fp, slot * 512 + 24, SEEK_SET), 0);
    assert_int_equal(fread(&writes[slot], 8, 1, fp), 1);
  }
  fclose(fp);
  int newest = writes[1] > writes[0];
  for (int slot = 0; slot < 2; slot++) {
    char copy[1200];
    snprintf(copy, sizeof copy, "cp '%s' '%s.bak'", path, path);
    assert_int_equal(system(copy), 0);
    flip_byte(path, slot * 512 + 3);
    if (slot == newest) write_at(path, 4096, junk, sizeof junk);
    /* verify reads the accounts as open does: the redo log covers the rows. */
    qp_verify_report_t vrep;
    char vdetail[512];
    assert_int_equal(qp_db_verify(f->dir, &vrep, vdetail, sizeof vdetail), 0);
    assert_true(vrep.index_compared && vrep.index_ok);
    db = open_db(f, NULL);
    snapshot(db, after, &a2);
    assert_same(before, a1, after, &a2);
    qp_db_close(db);
    snprintf(copy, sizeof copy, "mv '%s.bak' '%s'", path, path);
    assert_int_equal(system(copy), 0);
  }
}

/* The accounts file is brought forward by the redo log in the index: a
 * lost header write and lost row writes of the last round are redone at
 * open.  Damage the log cannot explain is refused. */
static void test_accounts_file_redo(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f, NULL);
  populate(f, db, 2);
  assert_int_equal(qp_db_sync_index(db), 0);
  /* One more round, touching accounts 1 and 2 (rows 0 and 1). */
  qp_transfer_t t = transfer(900, 1, 2, 77, 0);
  uint32_t r;
  f->clock += 1000;
  assert_int_equal(qp_db_create_transfers(db, &t, 1, &r), 0);
  assert_int_equal(qp_db_sync_index(db), 0);
  qp_account_t before[4], after[4];
  qp_db_audit_t a1, a2;
  snapshot(db, before, &a1);
  qp_db_close(db);

  /* As if the process died writing the last round into the file: its
   * header write lost (the newest slot is the one with more writes at byte
   * 24) and its rows garbled.  Or only the older header slot damaged. */
  char path[512];
  snprintf(path, sizeof path, "%s/ledger/state/accounts", f->dir);
  check_lost_file_writes_redone(f, path, before, &a1);
  qp_verify_report_t rep;
  char detail[512];
  assert_int_equal(qp_db_verify(f->dir, &rep, detail, sizeof detail), 0);

  /* A balance changed in the file (not by a lost write): the ledger no
   * longer balances, so open refuses and verify names the account. */
  uint8_t one = 1;
  write_at(path, 4096 + 128 * 2 + 64, &one, 1); /* row 2: account 3's balances */
  qp_db_options_t opt = {.clock_ns = fake_clock, .clock_ctx = f, .index_map_size = (size_t)1 << 30};
  assert_int_equal(qp_db_open(f->dir, &opt, &db, NULL, detail, sizeof detail), QP_ECORRUPT);
  assert_non_null(strstr(detail, "invariant"));
  assert_int_not_equal(qp_db_verify(f->dir, &rep, detail, sizeof detail), 0);
  assert_non_null(strstr(detail, "account"));

  /* The file gone while the index remains (or an index from before the
   * file existed): the index is rebuilt from the journal, whole. */
  assert_int_equal(unlink(path), 0);
  qp_db_recovery_t rec;
  db = open_db(f, &rec);
  assert_int_equal(rec.replayed_batches, rec.batches);
  snapshot(db, after, &a2);
  assert_same(before, &a1, after, &a2);
  qp_db_close(db);
  assert_int_equal(qp_db_verify(f->dir, &rep, detail, sizeof detail), 0);
  assert_true(rep.index_compared && rep.index_ok);
}

/* The audit reads the running totals (O(ledgers)) and says which journal
 * record it reflects; the full recomputation runs at open, on demand and
 * in the background, and the audit reports where it last ran. */
static void test_audit_position_and_full_check(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f, NULL);
  populate(f, db, 3);
  qp_db_audit_t a;
  qp_ledger_totals_t totals[4];
  uint32_t ledgers = 0;
  assert_int_equal(qp_db_audit(db, &a, totals, 4, &ledgers), 0);
  assert_int_equal(a.journal_seq, 4); /* one account batch, three transfer batches */
  assert_int_equal(a.batches, a.journal_seq);
  assert_true(a.totals_balanced && a.full_check_ok && a.invariant_ok);
  assert_int_equal(a.full_check_seq, 0); /* at open, on an empty journal */
  assert_int_equal(ledgers, 1);
  assert_int_equal(totals[0].accounts, 4);
  assert_true(totals[0].debits_posted == totals[0].credits_posted);
  assert_true(totals[0].debits_pending == 3 * 19); /* one pending of 19 per batch */
  bool holds = false;
  assert_int_equal(qp_db_check(db, &holds), 0);
  assert_true(holds);
  assert_int_equal(qp_db_audit(db, &a, NULL, 0, NULL), 0);
  assert_int_equal(a.full_check_seq, 4);
  qp_db_close(db);

  /* A reopen checks the recovered state; the background check follows
   * later commits by itself. */
  qp_db_options_t opt = {.clock_ns = fake_clock, .clock_ctx = f, .index_map_size = (size_t)1 << 30,
                         .check_every_ms = 5};
  assert_int_equal(qp_db_open(f->dir, &opt, &db, NULL, NULL, 0), 0);
  assert_int_equal(qp_db_audit(db, &a, NULL, 0, NULL), 0);
  assert_int_equal(a.full_check_seq, 4);
  qp_transfer_t t = transfer(9000, 1, 2, 5, 0);
  uint32_t r;
  f->clock += 1000;
  assert_int_equal(qp_db_create_transfers(db, &t, 1, &r), 0);
  for (int i = 0; i < 400; i++) {
    assert_int_equal(qp_db_audit(db, &a, NULL, 0, NULL), 0);
    if (a.full_check_seq == a.journal_seq) break;
    struct timespec ms = {0, 5000000};
    nanosleep(&ms, NULL);
  }
  assert_int_equal(a.journal_seq, 5);
  assert_int_equal(a.full_check_seq, 5);
  assert_true(a.invariant_ok);
  qp_db_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_reopen_identical, setup, teardown),
      cmocka_unit_test_setup_teardown(test_audit_position_and_full_check, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_tail_truncated, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_header_and_zeros, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_middle_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_every_byte_flip_detected, setup, teardown),
      cmocka_unit_test_setup_teardown(test_index_rebuilt_from_journal, setup, teardown),
      cmocka_unit_test_setup_teardown(test_index_backpressure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_index_backpressure_waits_and_resumes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_submitters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_beside_an_open_db, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idfilter_small_on_disk, setup, teardown),
      cmocka_unit_test_setup_teardown(test_history_queries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expiry_is_journaled, setup, teardown),
      cmocka_unit_test_setup_teardown(test_closed_survives_restart, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cold_store, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prefix_verified, setup, teardown),
      cmocka_unit_test_setup_teardown(test_accounts_file_redo, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
