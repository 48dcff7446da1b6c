/*
 * test_sim.c - unit tests of the drills module: the simulated disk does
 * what its fault model says (a power loss loses what was not synced, a
 * kill -9 does not, a torn write keeps a prefix, a misdirected write lands
 * elsewhere and is seen as damage, reads flip bits, fsync fails, space
 * runs out), the simulator is deterministic (same seed, same digest), a
 * few hundred seeds run clean, and regression tests for the bugs the
 * simulator found in recovery and in the journal reader.
 *
 * SIM_SEEDS and SIM_STEPS (environment) scale the seed sweep.
 */
#include <string.h>

#include "test_util.h"
#include "base/err.h"
#include "base/log.h"
#include "drills/drills.h"
#include "ledger/db.h"

#define PPM_ALWAYS 1000000u

static qp_sim_disk_t *make_disk(const qp_sim_disk_config_t *cfg, uint64_t seed) {
  qp_sim_disk_t *d = NULL;
  assert_int_equal(qp_sim_disk_create(cfg, seed, &d), 0);
  return d;
}

static void fill(uint8_t *buf, size_t len, uint8_t salt) {
  for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)(i * 7u + salt + 1u);
}

/* -------------------------------------------------------- the sim disk */

static void test_power_loss_loses_unsynced(void **state) {
  (void)state;
  qp_sim_disk_t *d = make_disk(NULL, 1);
  qp_io_t io;
  assert_int_equal(qp_sim_disk_open(d, &io), 0);
  uint8_t a[1000], b[700];
  fill(a, sizeof a, 1);
  fill(b, sizeof b, 2);
  assert_int_equal(io.write_at(io.ctx, a, sizeof a, 0), 0);
  assert_int_equal(io.sync(io.ctx), 0);
  assert_int_equal(io.write_at(io.ctx, b, sizeof b, sizeof a), 0);
  uint64_t size;
  assert_int_equal(io.size(io.ctx, &size), 0);
  assert_int_equal(size, sizeof a + sizeof b);
  io.close(io.ctx);
  qp_sim_disk_kill(d);
  assert_true(qp_sim_disk_dead(d));
  qp_sim_disk_restart(d, true);
  const uint8_t *v = qp_sim_disk_volatile(d, &size);
  assert_int_equal(size, sizeof a);
  assert_memory_equal(v, a, sizeof a);
  qp_sim_disk_durable(d, &size);
  assert_int_equal(size, sizeof a);
  assert_int_equal(qp_sim_disk_faults(d, QP_SIM_FAULT_POWER_LOSS), 1);
  qp_sim_disk_destroy(d);
}

static void test_kill_keeps_page_cache(void **state) {
  (void)state;
  qp_sim_disk_t *d = make_disk(NULL, 2);
  qp_io_t io;
  assert_int_equal(qp_sim_disk_open(d, &io), 0);
  uint8_t a[300];
  fill(a, sizeof a, 3);
  assert_int_equal(io.write_at(io.ctx, a, sizeof a, 0), 0);
  qp_sim_disk_kill(d);
  assert_int_equal(io.write_at(io.ctx, a, sizeof a, 0), QP_EIO); /* the process is dead */
  io.close(io.ctx);
  qp_sim_disk_restart(d, false);
  uint64_t size;
  const uint8_t *v = qp_sim_disk_volatile(d, &size);
  assert_int_equal(size, sizeof a);
  assert_memory_equal(v, a, sizeof a);
  qp_sim_disk_durable(d, &size);
  assert_int_equal(size, 0); /* not synced: a power loss now would lose it */
  qp_sim_disk_destroy(d);
}

/* Over many seeds, a torn write leaves exactly a prefix of the last
 * unsynced write (possibly followed by zeros up to its end). */
static void test_torn_write_keeps_prefix(void **state) {
  (void)state;
  qp_sim_disk_config_t cfg = {.torn_ppm = PPM_ALWAYS};
  uint64_t tears = 0;
  for (uint64_t seed = 0; seed < 64; seed++) {
    qp_sim_disk_t *d = make_disk(&cfg, seed);
    qp_io_t io;
    assert_int_equal(qp_sim_disk_open(d, &io), 0);
    uint8_t a[512], b[3000];
    fill(a, sizeof a, 4);
    fill(b, sizeof b, 5);
    assert_int_equal(io.write_at(io.ctx, a, sizeof a, 0), 0);
    assert_int_equal(io.sync(io.ctx), 0);
    assert_int_equal(io.write_at(io.ctx, b, sizeof b, sizeof a), 0);
    io.close(io.ctx);
    qp_sim_disk_kill(d);
    qp_sim_disk_restart(d, true);
    uint64_t size, dsize;
    const uint8_t *v = qp_sim_disk_volatile(d, &size);
    qp_sim_disk_durable(d, &dsize);
    assert_int_equal(size, dsize); /* what a tear left is on the platters */
    assert_true(size >= sizeof a && size <= sizeof a + sizeof b);
    assert_memory_equal(v, a, sizeof a);
    uint64_t keep = 0;
    while (sizeof a + keep < size && v[sizeof a + keep] == b[keep]) keep++;
    for (uint64_t i = sizeof a + keep; i < size; i++) assert_int_equal(v[i], 0);
    tears += qp_sim_disk_faults(d, QP_SIM_FAULT_TORN);
    assert_false(qp_sim_disk_damaged(d));
    qp_sim_disk_destroy(d);
  }
  assert_true(tears > 32);
}

static void test_misdirected_write_is_damage(void **state) {
  (void)state;
  qp_sim_disk_config_t cfg = {.misdirect_ppm = PPM_ALWAYS};
  qp_sim_disk_t *d = make_disk(&cfg, 3);
  qp_io_t io;
  assert_int_equal(qp_sim_disk_open(d, &io), 0);
  qp_sim_disk_set_faults(d, false);
  uint8_t a[8192], b[1024];
  fill(a, sizeof a, 6);
  fill(b, sizeof b, 7);
  assert_int_equal(io.write_at(io.ctx, a, sizeof a, 0), 0);
  assert_false(qp_sim_disk_damaged(d));
  qp_sim_disk_set_faults(d, true);
  assert_int_equal(io.write_at(io.ctx, b, sizeof b, sizeof a), 0); /* reports success */
  assert_int_equal(qp_sim_disk_faults(d, QP_SIM_FAULT_MISDIRECTED), 1);
  assert_true(qp_sim_disk_damaged(d));
  uint64_t size;
  const uint8_t *v = qp_sim_disk_volatile(d, &size);
  assert_true(size >= sizeof a + sizeof b);
  assert_memory_not_equal(v + sizeof a, b, sizeof b); /* not where it was meant to go */
  assert_int_equal(qp_sim_disk_misdirects_durable(d), 0);
  qp_sim_disk_set_faults(d, false);
  assert_int_equal(io.sync(io.ctx), 0);
  assert_int_equal(qp_sim_disk_misdirects_durable(d), 1);
  io.close(io.ctx);
  qp_sim_disk_destroy(d);
}

static void test_bitflip_on_read(void **state) {
  (void)state;
  qp_sim_disk_config_t cfg = {.bitflip_ppm = PPM_ALWAYS};
  qp_sim_disk_t *d = make_disk(&cfg, 4);
  qp_io_t io;
  assert_int_equal(qp_sim_disk_open(d, &io), 0);
  uint8_t a[5000], got[5000];
  fill(a, sizeof a, 8);
  assert_int_equal(io.write_at(io.ctx, a, sizeof a, 0), 0);
  assert_int_equal(io.sync(io.ctx), 0);
  size_t n = 0;
  assert_int_equal(io.read_at(io.ctx, got, sizeof got, 0, &n), 0);
  assert_int_equal(n, sizeof a);
  unsigned bits = 0;
  for (size_t i = 0; i < n; i++) bits += (unsigned)__builtin_popcount((unsigned)(a[i] ^ got[i]));
  assert_int_equal(bits, 1);
  assert_int_equal(qp_sim_disk_faults(d, QP_SIM_FAULT_BITFLIP), 1);
  assert_int_equal(qp_sim_disk_flips_in_durable(d), 1);
  assert_false(qp_sim_disk_damaged(d)); /* the platters are fine */
  io.close(io.ctx);
  qp_sim_disk_destroy(d);
}

static void test_sync_eio_and_enospc(void **state) {
  (void)state;
  qp_sim_disk_config_t cfg = {.sync_eio_ppm = PPM_ALWAYS, .capacity_bytes = 4096};
  qp_sim_disk_t *d = make_disk(&cfg, 5);
  qp_io_t io;
  assert_int_equal(qp_sim_disk_open(d, &io), 0);
  uint8_t a[1000];
  fill(a, sizeof a, 9);
  assert_int_equal(io.write_at(io.ctx, a, sizeof a, 0), 0);
  assert_int_equal(io.sync(io.ctx), QP_EIO);
  uint64_t size;
  qp_sim_disk_durable(d, &size);
  assert_int_equal(size, 0); /* nothing was made durable */
  assert_int_equal(qp_sim_disk_faults(d, QP_SIM_FAULT_SYNC_EIO), 1);
  assert_int_equal(io.reserve(io.ctx, 4096), 0);
  assert_int_equal(io.reserve(io.ctx, 4097), QP_ENOSPC); /* the device is full */
  assert_int_equal(io.write_at(io.ctx, a, sizeof a, 3500), QP_ENOSPC);
  qp_sim_disk_grow(d, 4096);
  assert_int_equal(io.reserve(io.ctx, 8192), 0);
  assert_int_equal(io.write_at(io.ctx, a, sizeof a, 3500), 0);
  io.close(io.ctx);
  qp_sim_disk_destroy(d);

  qp_sim_disk_config_t full = {.reserve_enospc_ppm = PPM_ALWAYS, .write_enospc_ppm = PPM_ALWAYS};
  d = make_disk(&full, 6);
  assert_int_equal(qp_sim_disk_open(d, &io), 0);
  assert_int_equal(io.reserve(io.ctx, 100), QP_ENOSPC);
  assert_int_equal(io.write_at(io.ctx, a, sizeof a, 0), QP_ENOSPC);
  assert_int_equal(qp_sim_disk_faults(d, QP_SIM_FAULT_RESERVE_ENOSPC), 1);
  assert_int_equal(qp_sim_disk_faults(d, QP_SIM_FAULT_WRITE_ENOSPC), 1);
  io.close(io.ctx);
  qp_sim_disk_destroy(d);
}

static void test_crash_points(void **state) {
  (void)state;
  qp_sim_disk_config_t cfg = {.crash_ppm = PPM_ALWAYS};
  qp_sim_disk_t *d = make_disk(&cfg, 7);
  qp_io_t io;
  assert_int_equal(qp_sim_disk_open(d, &io), QP_EIO); /* died opening */
  assert_true(qp_sim_disk_dead(d));
  qp_sim_disk_restart(d, true);
  qp_sim_disk_set_faults(d, false);
  assert_int_equal(qp_sim_disk_open(d, &io), 0);
  qp_sim_disk_set_faults(d, true);
  uint8_t a[100];
  fill(a, sizeof a, 10);
  assert_int_equal(io.write_at(io.ctx, a, sizeof a, 0), QP_EIO);
  assert_true(qp_sim_disk_dead(d));
  assert_int_equal(io.sync(io.ctx), QP_EIO); /* still dead */
  io.close(io.ctx);
  assert_int_equal(qp_sim_disk_faults(d, QP_SIM_FAULT_CRASH), 2);
  qp_sim_disk_destroy(d);
}

/* ------------------------------------------------------- the simulator */

static void run_seed(uint64_t seed, uint32_t steps, qp_sim_stats_t *st,
                     uint8_t digest[QP_HASH_SIZE]) {
  qp_sim_ledger_config_t cfg;
  qp_sim_ledger_config_default(&cfg, seed, steps);
  char detail[1024];
  assert_int_equal(qp_sim_ledger_run(&cfg, st, digest, detail, sizeof detail), 0);
  if (qp_sim_violations(st) != 0) {
    print_error("%s\nreplay: quipu sim ledger --seed %llu --steps %u\n", detail,
                (unsigned long long)seed, steps);
    fail();
  }
}

static void test_deterministic(void **state) {
  (void)state;
  for (uint64_t seed = 100; seed < 104; seed++) {
    qp_sim_stats_t a, b;
    uint8_t da[QP_HASH_SIZE], db[QP_HASH_SIZE];
    run_seed(seed, 150, &a, da);
    run_seed(seed, 150, &b, db);
    assert_memory_equal(da, db, QP_HASH_SIZE);
    assert_memory_equal(&a, &b, sizeof a);
    qp_sim_stats_t c;
    uint8_t dc[QP_HASH_SIZE];
    run_seed(seed + 1000, 150, &c, dc);
    assert_memory_not_equal(da, dc, QP_HASH_SIZE);
  }
}

/* No faults at all: every group is acknowledged, nothing restarts but the
 * final check, and the reference agrees throughout. */
static void test_fault_free_run(void **state) {
  (void)state;
  qp_sim_ledger_config_t cfg;
  qp_sim_ledger_config_default(&cfg, 7, 200);
  memset(&cfg.disk, 0, sizeof cfg.disk);
  cfg.disk.capacity_bytes = 64u << 20;
  cfg.idle_crash_ppm = 0;
  qp_sim_stats_t st;
  uint8_t digest[QP_HASH_SIZE];
  char detail[1024];
  assert_int_equal(qp_sim_ledger_run(&cfg, &st, digest, detail, sizeof detail), 0);
  assert_int_equal(qp_sim_violations(&st), 0);
  assert_int_equal(st.groups_acked, 200);
  assert_int_equal(st.restarts, 1);
  assert_true(st.transfers_checked > 100);
  for (int k = 0; k < QP_SIM_FAULT_COUNT; k++)
    if (k != QP_SIM_FAULT_POWER_LOSS) assert_int_equal(st.faults[k], 0);
}

static void test_many_seeds(void **state) {
  (void)state;
  uint64_t seeds = qp_test_env_u64("SIM_SEEDS", 300);
  uint32_t steps = (uint32_t)qp_test_env_u64("SIM_STEPS", 120);
  qp_sim_stats_t total;
  memset(&total, 0, sizeof total);
  for (uint64_t seed = 1; seed <= seeds; seed++) {
    qp_sim_stats_t st;
    uint8_t digest[QP_HASH_SIZE];
    run_seed(seed, steps, &st, digest);
    qp_sim_stats_add(&total, &st);
  }
  assert_int_equal(qp_sim_violations(&total), 0);
  /* The sweep must actually have attacked: every kind of fault occurred. */
  for (int k = 0; k < QP_SIM_FAULT_COUNT; k++) assert_true(total.faults[k] > 0);
  assert_true(total.corruptions_detected > 0);
  assert_true(total.unacked_present > 0 && total.unacked_absent > 0);
  assert_true(total.failstops > 0 && total.enospc_rejected > 0);
}

/* ------------------------------------- regressions (bugs the sim found) */

static uint64_t clock_ns = 1000;
static uint64_t test_clock(void *ctx) {
  (void)ctx;
  return clock_ns += 1000;
}

static qp_db_t *open_sim_db(qp_sim_disk_t *d) {
  qp_db_options_t opts = {
      .clock_ns = test_clock, .open_journal = qp_sim_disk_open, .open_journal_ctx = d};
  qp_db_t *db = NULL;
  char detail[256];
  int rc = qp_db_open("sim", &opts, &db, NULL, detail, sizeof detail);
  if (rc != 0) print_error("open: %s: %s\n", qp_err_name(rc), detail);
  assert_int_equal(rc, 0);
  return db;
}

static void create_account(qp_db_t *db, qp_u128 id, int expect) {
  qp_account_t a = {.id = id, .ledger = 1, .code = 1};
  uint32_t result = 99;
  assert_int_equal(qp_db_create_accounts(db, &a, 1, &result), expect);
  if (expect == 0) assert_int_equal(result, QP_CREATE_ACCOUNT_OK);
}

/* Seed 1 (200 steps): a process killed between its journal write and its
 * fdatasync left a record in the page cache; the restarted ledger
 * recovered it and served it without syncing, so a power loss took back
 * what it had served (and, with the LMDB index, would leave the index
 * ahead of the journal: refused as corruption).  Recovery now syncs. */
static void test_recovery_makes_what_it_read_durable(void **state) {
  (void)state;
  qp_sim_disk_config_t cfg = {.sync_eio_ppm = PPM_ALWAYS};
  qp_sim_disk_t *d = make_disk(&cfg, 8);
  qp_sim_disk_set_faults(d, false);
  qp_db_t *db = open_sim_db(d);
  create_account(db, 1, 0);
  qp_sim_disk_set_faults(d, true);
  create_account(db, 2, QP_EIO); /* written, fdatasync failed: fail-stop */
  assert_true(qp_db_stopped(db));
  qp_db_close(db);
  qp_sim_disk_set_faults(d, false);
  qp_sim_disk_restart(d, false); /* the process restarts; the page cache survives */
  db = open_sim_db(d);
  qp_db_audit_t a;
  assert_int_equal(qp_db_audit(db, &a, NULL, 0, NULL), 0);
  assert_int_equal(a.batches, 2); /* the unacknowledged batch survived whole */
  uint64_t durable;
  qp_sim_disk_durable(d, &durable);
  assert_int_equal(durable, a.journal_bytes); /* and what is served is durable */
  qp_db_close(db);
  qp_sim_disk_kill(d);
  qp_sim_disk_restart(d, true);
  db = open_sim_db(d);
  assert_int_equal(qp_db_audit(db, &a, NULL, 0, NULL), 0);
  assert_int_equal(a.batches, 2);
  qp_db_close(db);
  qp_sim_disk_destroy(d);
}

/* A qp_io_t that flips one bit at a chosen offset on the first read only. */
typedef struct flip_io {
  qp_io_t inner;    /* the real file */
  uint64_t offset;  /* byte to flip */
  int reads;        /* read_at calls so far */
} flip_io_t;

static int flip_read(void *ctx, void *buf, size_t len, uint64_t offset, size_t *got) {
  flip_io_t *f = ctx;
  int rc = f->inner.read_at(f->inner.ctx, buf, len, offset, got);
  if (rc == 0 && f->reads++ == 0 && f->offset >= offset && f->offset < offset + *got)
    ((uint8_t *)buf)[f->offset - offset] ^= 0x10;
  return rc;
}

static int flip_size(void *ctx, uint64_t *out) {
  flip_io_t *f = ctx;
  return f->inner.size(f->inner.ctx, out);
}

/* Writes `groups` group commits of `per_group` records of `events` accounts
 * each with the journal API (which closes io); returns the offset where the
 * last group began. */
static uint64_t write_records(qp_io_t *io, uint32_t groups, uint32_t per_group, uint32_t events) {
  qp_journal_t *j = NULL;
  uint8_t zero[QP_HASH_SIZE] = {0};
  assert_int_equal(qp_journal_open(io, 0, 0, zero, QP_JOURNAL_RECORD_MAX, &j), 0);
  uint64_t last_start = 0, id = 1;
  for (uint32_t g = 0; g < groups; g++) {
    last_start = qp_journal_size(j);
    for (uint32_t i = 0; i < per_group; i++) {
      uint8_t *body =
          qp_journal_stage(j, QP_OP_CREATE_ACCOUNTS, events, 1000 + id, events * QP_RECORD_SIZE);
      assert_non_null(body);
      for (uint32_t e = 0; e < events; e++) {
        qp_account_t a = {.id = id++, .ledger = 1, .code = 1};
        qp_account_encode(body + (size_t)e * QP_RECORD_SIZE, &a);
      }
    }
    assert_int_equal(qp_journal_commit(j), 0);
  }
  qp_journal_close(j);
  return last_start;
}

/* Seed 98 (200 steps): a bit flipped while recovery read the body of the
 * last record made it look torn, and recovery cut an acknowledged record
 * off for good.  The reader now reads a seemingly torn record again. */
static void test_read_flip_does_not_cut_last_record(void **state) {
  (void)state;
  qp_sim_disk_t *d = make_disk(NULL, 9);
  qp_io_t io;
  assert_int_equal(qp_sim_disk_open(d, &io), 0);
  write_records(&io, 3, 1, 1);
  assert_int_equal(qp_sim_disk_open(d, &io), 0);
  uint64_t size;
  assert_int_equal(io.size(io.ctx, &size), 0);
  flip_io_t f = {.inner = io, .offset = size - 10};
  qp_io_t flipping = {.ctx = &f, .read_at = flip_read, .size = flip_size};
  qp_journal_scan_t scan;
  assert_int_equal(qp_journal_scan(&flipping, NULL, NULL, &scan), 0);
  assert_int_equal(scan.problem, 0);
  assert_int_equal(scan.records, 3);
  assert_true(f.reads >= 2);
  io.close(io.ctx);
  qp_sim_disk_destroy(d);
}

/* Seed 1987 (200 steps): a misdirected write (its group never landed where
 * it should, the file size grew over it) hit the body of the last
 * acknowledged record.  That looks like a group write cut by a power loss
 * on a file system that extends the size first - a cut record followed by
 * zeros - and an attempt to call such tails torn cut an acknowledged record
 * off without a word.  A damaged record with anything after it, zeros
 * included, stays corruption: refused, never cut. */
static void test_damage_followed_by_zeros_is_refused(void **state) {
  (void)state;
  qp_sim_disk_t *d = make_disk(NULL, 10);
  qp_io_t io;
  assert_int_equal(qp_sim_disk_open(d, &io), 0);
  uint32_t record = QP_JOURNAL_HEADER_SIZE + 4 * QP_RECORD_SIZE;
  uint64_t group = write_records(&io, 3, 1, 4); /* the last group: 1 record */
  assert_int_equal(qp_sim_disk_open(d, &io), 0);
  uint64_t size;
  assert_int_equal(io.size(io.ctx, &size), 0);
  assert_int_equal(size, group + record);
  /* The lost write: the file grew by 512 bytes that never landed... */
  uint8_t zeros[512] = {0};
  assert_int_equal(io.write_at(io.ctx, zeros, sizeof zeros, size), 0);
  /* ...and its bytes hit the body of the last acknowledged record. */
  uint8_t stray[64];
  fill(stray, sizeof stray, 11);
  assert_int_equal(io.write_at(io.ctx, stray, sizeof stray, group + QP_JOURNAL_HEADER_SIZE + 100),
                   0);
  qp_journal_scan_t scan;
  assert_int_equal(qp_journal_scan(&io, NULL, NULL, &scan), 0);
  assert_int_equal(scan.problem, QP_ECORRUPT);
  assert_int_equal(scan.problem_offset, group);
  assert_int_equal(scan.records, 2);
  io.close(io.ctx);
  qp_sim_disk_destroy(d);
}

/* Seed 21 (200 steps): a power loss in the middle of a group write, on a
 * file system that had extended the size before the data landed, left the
 * group's first record cut (its last sectors zeros) and zeros after it:
 * recovery refused to start.  A record that is missing whole sectors and
 * has nothing but zeros after it is a torn tail. */
static void test_torn_group_followed_by_zeros(void **state) {
  (void)state;
  qp_sim_disk_t *d = make_disk(NULL, 12);
  qp_io_t io;
  assert_int_equal(qp_sim_disk_open(d, &io), 0);
  uint32_t record = QP_JOURNAL_HEADER_SIZE + 4 * QP_RECORD_SIZE;
  uint64_t group = write_records(&io, 3, 3, 4); /* the last group: 3 records */
  assert_int_equal(qp_sim_disk_open(d, &io), 0);
  uint64_t size;
  assert_int_equal(io.size(io.ctx, &size), 0);
  assert_int_equal(size, group + 3 * record);
  /* The cut: a sector boundary inside the body of the group's first record. */
  uint64_t cut = (group + QP_JOURNAL_HEADER_SIZE + 511) / 512 * 512;
  assert_true(cut > group + QP_JOURNAL_HEADER_SIZE && cut < group + record);
  uint8_t zeros[4096] = {0};
  assert_true(size - cut <= sizeof zeros);
  assert_int_equal(io.write_at(io.ctx, zeros, (size_t)(size - cut), cut), 0);
  qp_journal_scan_t scan;
  assert_int_equal(qp_journal_scan(&io, NULL, NULL, &scan), 0);
  assert_int_equal(scan.problem, QP_ETORN);
  assert_int_equal(scan.problem_offset, group);
  assert_int_equal(scan.valid_bytes, group);
  assert_int_equal(scan.records, 6);
  io.close(io.ctx);
  qp_sim_disk_destroy(d);
}

/* Seed 2818 (200 steps): a write misdirected onto the body of the last
 * acknowledged record, cut by a power loss before the file grew, left a
 * last record whose body does not match its hash - which recovery took for
 * a torn append and cut off.  A torn append leaves the sectors that did
 * not land reading as zeros; foreign bytes in the last record are damage. */
static void test_wild_write_on_last_record_is_refused(void **state) {
  (void)state;
  qp_sim_disk_t *d = make_disk(NULL, 11);
  qp_io_t io;
  assert_int_equal(qp_sim_disk_open(d, &io), 0);
  uint32_t record = QP_JOURNAL_HEADER_SIZE + 12 * QP_RECORD_SIZE; /* 1664 bytes: 4 sectors */
  uint64_t last = write_records(&io, 3, 1, 12);
  assert_int_equal(qp_sim_disk_open(d, &io), 0);
  uint64_t size;
  assert_int_equal(io.size(io.ctx, &size), 0);
  assert_int_equal(size, last + record);
  /* The wild write: a sector of another record's bytes inside the body. */
  uint64_t sector = (last + QP_JOURNAL_HEADER_SIZE + 511) / 512 * 512;
  assert_true(sector + 512 <= size);
  uint8_t stray[512];
  fill(stray, sizeof stray, 12);
  uint8_t saved[512];
  size_t got = 0;
  assert_int_equal(io.read_at(io.ctx, saved, sizeof saved, sector, &got), 0);
  assert_int_equal(io.write_at(io.ctx, stray, sizeof stray, sector), 0);
  qp_journal_scan_t scan;
  assert_int_equal(qp_journal_scan(&io, NULL, NULL, &scan), 0);
  assert_int_equal(scan.problem, QP_ECORRUPT);
  assert_int_equal(scan.problem_offset, last);
  assert_int_equal(scan.records, 2);
  /* A torn append of the same record: that sector never landed (zeros). */
  uint8_t zeros[512] = {0};
  assert_int_equal(io.write_at(io.ctx, zeros, sizeof zeros, sector), 0);
  assert_int_equal(qp_journal_scan(&io, NULL, NULL, &scan), 0);
  assert_int_equal(scan.problem, QP_ETORN);
  assert_int_equal(scan.valid_bytes, last);
  /* Restored, the record is whole again. */
  assert_int_equal(io.write_at(io.ctx, saved, sizeof saved, sector), 0);
  assert_int_equal(qp_journal_scan(&io, NULL, NULL, &scan), 0);
  assert_int_equal(scan.problem, 0);
  assert_int_equal(scan.records, 3);
  io.close(io.ctx);
  qp_sim_disk_destroy(d);
}

int main(void) {
  qp_log_set_level(QP_LOG_OFF);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_power_loss_loses_unsynced),
      cmocka_unit_test(test_kill_keeps_page_cache),
      cmocka_unit_test(test_torn_write_keeps_prefix),
      cmocka_unit_test(test_misdirected_write_is_damage),
      cmocka_unit_test(test_bitflip_on_read),
      cmocka_unit_test(test_sync_eio_and_enospc),
      cmocka_unit_test(test_crash_points),
      cmocka_unit_test(test_recovery_makes_what_it_read_durable),
      cmocka_unit_test(test_read_flip_does_not_cut_last_record),
      cmocka_unit_test(test_torn_group_followed_by_zeros),
      cmocka_unit_test(test_damage_followed_by_zeros_is_refused),
      cmocka_unit_test(test_wild_write_on_last_record_is_refused),
      cmocka_unit_test(test_deterministic),
      cmocka_unit_test(test_fault_free_run),
      cmocka_unit_test(test_many_seeds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
