/*
 * test_raft_snapshot.c - Raft snapshots of the replicated ledger
 * (raft_snapshot.c): the descriptor's bytes (round trip, damage refused),
 * and the catch-up's core - another replica's journal records re-executed
 * into an empty ledger give byte-identical records (the same head hash),
 * expiry sweeps and multi-request groups included, page by page; a
 * damaged record is refused; a journal that holds the snapshot's position
 * needs nothing, one that diverged is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "base/err.h"
#include "ledger/raft_int.h"

static uint64_t fixed_clock(void *ctx) { return *(uint64_t *)ctx; }

static qp_db_t *open_at(const char *dir, uint64_t *clock) {
  qp_db_options_t opt = {.clock_ns = fixed_clock, .clock_ctx = clock,
                         .index_map_size = (size_t)1 << 28, .replicated = true};
  qp_db_t *db = NULL;
  char detail[256];
  assert_int_equal(qp_db_open(dir, &opt, &db, NULL, detail, sizeof detail), 0);
  return db;
}

static void assert_same(const qp__raft_snapshot_t *d, const qp__raft_snapshot_t *s) {
  assert_true(d->seq == s->seq && d->journal_bytes == s->journal_bytes);
  assert_true(d->replica_pos == s->replica_pos);
  assert_memory_equal(d->head_hash, s->head_hash, QP_HASH_SIZE);
  assert_string_equal(d->http, s->http);
  assert_int_equal(d->members.count, s->members.count);
  for (uint32_t i = 0; i < s->members.count; i++) {
    assert_true(d->members.replicas[i].id == s->members.replicas[i].id);
    assert_string_equal(d->members.replicas[i].raft, s->members.replicas[i].raft);
    assert_string_equal(d->members.replicas[i].http, s->members.replicas[i].http);
  }
}

static void test_descriptor_round_trip_and_damage(void **state) {
  (void)state;
  qp__raft_snapshot_t s = {.seq = 42, .journal_bytes = 9000, .replica_pos = (17ull << 16) | 3};
  for (int i = 0; i < QP_HASH_SIZE; i++) s.head_hash[i] = (uint8_t)(i * 7 + 1);
  snprintf(s.http, sizeof s.http, "http://127.0.0.1:7402");
  size_t size = qp__raft_snapshot_size(&s);
  uint8_t buf[2048];
  qp__raft_snapshot_encode(&s, buf);
  static qp__raft_snapshot_t d;
  assert_int_equal(qp__raft_snapshot_decode(buf, size, &d), 0);
  assert_same(&d, &s);
  assert_int_equal(qp__raft_snapshot_decode(buf, size - 1, &d), QP_ECORRUPT);
  assert_int_equal(qp__raft_snapshot_decode(buf, size + 1, &d), QP_ECORRUPT);
  assert_int_equal(qp__raft_snapshot_decode(buf, 10, &d), QP_ECORRUPT);
  buf[0] ^= 1; /* magic */
  assert_int_equal(qp__raft_snapshot_decode(buf, size, &d), QP_ECORRUPT);
  buf[0] ^= 1;
  buf[size - 5] = '\0'; /* a NUL inside the URL (before the 2-byte members count) */
  assert_int_equal(qp__raft_snapshot_decode(buf, size, &d), QP_ECORRUPT);
  s.journal_bytes = 0; /* a record that ends at byte 0 */
  qp__raft_snapshot_encode(&s, buf);
  assert_int_equal(qp__raft_snapshot_decode(buf, size, &d), QP_ECORRUPT);
}

/* The members section: the replicas' addresses travel with the snapshot;
 * a descriptor of the first version (no section) still decodes. */
static void test_descriptor_carries_the_members(void **state) {
  (void)state;
  static qp__raft_snapshot_t s, d;
  s.seq = 7, s.journal_bytes = 700;
  snprintf(s.http, sizeof s.http, "http://10.0.0.1:7400");
  for (uint32_t i = 0; i < 5; i++) {
    qp_ledger_replica_t *r = &s.members.replicas[i];
    r->id = 10 + i;
    snprintf(r->raft, sizeof r->raft, "10.0.0.%u:7%u01", i + 1, i);
    snprintf(r->http, sizeof r->http, "http://replica-%u.bank.example:7400", i);
  }
  s.members.count = 5;
  static uint8_t buf[8192];
  size_t size = qp__raft_snapshot_size(&s);
  qp__raft_snapshot_encode(&s, buf);
  assert_int_equal(qp__raft_snapshot_decode(buf, size, &d), 0);
  assert_same(&d, &s);
  size_t old = size - (size - 4 - 3 * 8 - QP_HASH_SIZE - 2 - strlen(s.http));
  assert_int_equal(qp__raft_snapshot_decode(buf, old, &d), 0); /* version 1: no members */
  assert_int_equal(d.members.count, 0);
  assert_string_equal(d.http, s.http);
  for (size_t cut = old + 1; cut < size; cut += 3) /* every truncation of the section */
    assert_int_equal(qp__raft_snapshot_decode(buf, cut, &d), QP_ECORRUPT);
  s.members.replicas[3].id = s.members.replicas[1].id; /* the same replica twice */
  qp__raft_snapshot_encode(&s, buf);
  assert_int_equal(qp__raft_snapshot_decode(buf, size, &d), QP_ECORRUPT);
  s.members.replicas[3].id = 13;
  qp__raft_snapshot_encode(&s, buf);
  buf[old] = 33; /* more members than a replica remembers */
  assert_int_equal(qp__raft_snapshot_decode(buf, size, &d), QP_ECORRUPT);
}

/* ------------------------------------------------------- re-execution */

static qp_account_t accounts[3] = {{.id = 1, .ledger = 7, .code = 1},
                                   {.id = 2, .ledger = 7, .code = 1},
                                   {.id = 3, .ledger = 7, .code = 1, .user_data_64 = 5}};
static uint32_t res[64];

static qp_transfer_t xfer(uint64_t id, uint64_t from, uint64_t to, uint32_t timeout) {
  return (qp_transfer_t){.id = id, .debit_account_id = from, .credit_account_id = to,
                         .amount = id, .ledger = 7, .code = 1, .timeout = timeout,
                         .flags = timeout ? QP_TRANSFER_PENDING : 0};
}

/* A history like the FSM's: entries of several requests with Raft
 * positions, pending transfers that time out, a swept entry and a group
 * whose first request finds a timeout due (the sweep comes first). */
static void history(qp_db_t *db, uint64_t *clock) {
  static qp_transfer_t t1[3], t2[2], t3[2];
  t1[0] = xfer(10, 1, 2, 0), t1[1] = xfer(11, 2, 3, 1), t1[2] = xfer(12, 3, 1, 0);
  t2[0] = xfer(20, 1, 3, 2), t2[1] = xfer(21, 2, 1, 0);
  t3[0] = xfer(30, 3, 2, 0), t3[1] = xfer(31, 1, 2, 0);
  qp_db_request_t e1[2] = {
      {.op = QP_OP_CREATE_ACCOUNTS, .events = accounts, .count = 3, .results = res,
       .submitter = 9, .replica_pos = (2ull << 16) | 1},
      {.op = QP_OP_CREATE_TRANSFERS, .events = t1, .count = 3, .results = res + 3,
       .replica_pos = (2ull << 16) | 2}};
  *clock = 1000;
  assert_int_equal(qp_db_execute(db, e1, 2), 0);
  *clock = 2000;
  qp_db_request_t e2 = {.op = QP_OP_CREATE_TRANSFERS, .events = t2, .count = 2, .results = res,
                        .submitter = 4, .replica_pos = (3ull << 16) | 1};
  assert_int_equal(qp_db_execute(db, &e2, 1), 0);
  *clock = 1500000000ull; /* 11's timeout is due: the leader's sweep entry */
  qp_db_request_t e3 = {.op = QP_OP_EXPIRE, .replica_pos = (4ull << 16) | 1};
  assert_int_equal(qp_db_execute(db, &e3, 1), 0);
  *clock = 3000000000ull; /* 20's is due too: swept before the entry's first request */
  qp_db_request_t e4[2] = {
      {.op = QP_OP_CREATE_TRANSFERS, .events = t3, .count = 1, .results = res,
       .replica_pos = (5ull << 16) | 1},
      {.op = QP_OP_CREATE_TRANSFERS, .events = t3 + 1, .count = 1, .results = res + 1,
       .replica_pos = (5ull << 16) | 2}};
  assert_int_equal(qp_db_execute(db, e4, 2), 0);
}

static uint8_t *journal_bytes(const char *dir, size_t len) {
  char path[1200];
  snprintf(path, sizeof path, "%s/ledger/journal", dir);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  uint8_t *data = malloc(len);
  assert_int_equal(fread(data, 1, len, f), len);
  fclose(f);
  return data;
}

static void audit_of(qp_db_t *db, qp_db_audit_t *a) {
  uint32_t ledgers = 0;
  assert_int_equal(qp_db_audit(db, a, NULL, 0, &ledgers), 0);
}

static void test_records_re_execute_to_the_same_journal(void **state) {
  (void)state;
  char da[512], db_dir[512], detail[512];
  qp_test_tmpdir(da, sizeof da);
  qp_test_tmpdir(db_dir, sizeof db_dir);
  uint64_t clock_a = 0, clock_b = 0;
  qp_db_t *a = open_at(da, &clock_a);
  history(a, &clock_a);
  qp__raft_snapshot_t s;
  assert_int_equal(qp__raft_snapshot_take(a, "http://a", &s), 0);
  assert_int_equal(s.seq, 7); /* accounts, 2 transfer batches, 2 sweeps, 2 batches */
  assert_int_equal(s.replica_pos, (5ull << 16) | 2);
  uint8_t *data = journal_bytes(da, (size_t)s.journal_bytes);
  qp_db_t *b = open_at(db_dir, &clock_b);
  qp__raft_catchup_t c = {.db = b, .clock_ns = &clock_b, .data_dir = db_dir};
  /* the first page: up to record 2 only */
  qp__raft_snapshot_t mid = s;
  mid.seq = 2;
  assert_int_equal(qp__raft_snapshot_apply(&c, &mid, data, (size_t)s.journal_bytes, detail,
                                           sizeof detail), 0);
  qp_db_audit_t ab, aa;
  audit_of(b, &ab);
  assert_int_equal(ab.journal_seq, 2);
  mid.journal_bytes = ab.journal_bytes; /* the position record 2 really is */
  memcpy(mid.head_hash, ab.head_hash, QP_HASH_SIZE);
  /* the rest, as the next page from where b stands */
  assert_int_equal(qp__raft_snapshot_apply(&c, &s, data + ab.journal_bytes,
                                           (size_t)(s.journal_bytes - ab.journal_bytes), detail,
                                           sizeof detail), 0);
  audit_of(a, &aa);
  audit_of(b, &ab);
  assert_int_equal(ab.journal_seq, aa.journal_seq);
  assert_int_equal(ab.journal_bytes, aa.journal_bytes);
  assert_memory_equal(ab.head_hash, aa.head_hash, QP_HASH_SIZE);
  assert_int_equal(qp_db_replica_pos(b), s.replica_pos);
  assert_int_equal(ab.transfers, aa.transfers);
  /* b now holds the position: install needs nothing (no peer is asked) */
  assert_int_equal(qp__raft_snapshot_install(&c, &s, 0, detail, sizeof detail), 0);
  assert_int_equal(qp__raft_snapshot_install(&c, &mid, 0, detail, sizeof detail), 0);
  qp__raft_snapshot_t other = mid;
  other.head_hash[0] ^= 1; /* a position this journal does not hold */
  assert_int_equal(qp__raft_snapshot_install(&c, &other, 0, detail, sizeof detail), QP_ECORRUPT);
  assert_non_null(strstr(detail, "diverged"));
  other = s;
  other.head_hash[0] ^= 1;
  assert_int_equal(qp__raft_snapshot_install(&c, &other, 0, detail, sizeof detail), QP_ECORRUPT);
  qp_db_close(b);
  free(data);
  qp_db_close(a);
  qp_test_rmdir(da);
  qp_test_rmdir(db_dir);
}

static void test_a_damaged_record_is_refused(void **state) {
  (void)state;
  char da[512], db_dir[512], detail[512];
  qp_test_tmpdir(da, sizeof da);
  qp_test_tmpdir(db_dir, sizeof db_dir);
  uint64_t clock_a = 0, clock_b = 0;
  qp_db_t *a = open_at(da, &clock_a);
  history(a, &clock_a);
  qp__raft_snapshot_t s;
  assert_int_equal(qp__raft_snapshot_take(a, "http://a", &s), 0);
  uint8_t *data = journal_bytes(da, (size_t)s.journal_bytes);
  data[QP_JOURNAL_HEADER_SIZE + 20] ^= 1; /* the first record's body */
  qp_db_t *b = open_at(db_dir, &clock_b);
  qp__raft_catchup_t c = {.db = b, .clock_ns = &clock_b, .data_dir = db_dir};
  assert_int_equal(qp__raft_snapshot_apply(&c, &s, data, (size_t)s.journal_bytes, detail,
                                           sizeof detail), QP_ECORRUPT);
  qp_db_audit_t ab;
  audit_of(b, &ab);
  assert_int_equal(ab.journal_seq, 0); /* nothing applied */
  /* no peer to fetch from and no key: install gives up (the leader retries) */
  assert_int_equal(qp__raft_snapshot_install(&c, &s, 0, detail, sizeof detail), QP_EAGAIN);
  qp_db_close(b);
  free(data);
  qp_db_close(a);
  qp_test_rmdir(da);
  qp_test_rmdir(db_dir);
}

/* The threshold sized by bytes: 1 MB entries keep the configured 256,
 * batches of one get the maximum, mid-sized entries ~64 MiB of log; the
 * trailing entries are a quarter, never fewer than configured; a move of
 * less than a third changes nothing; no mean yet changes nothing. */
static void test_sized_thresholds(void **state) {
  (void)state;
  uint32_t th = 0, tr = 0;
  assert_false(qp__raft_snapshot_sizes(0, 256, 64, 0, &th, &tr));
  assert_true(qp__raft_snapshot_sizes(1u << 20, 256, 64, 0, &th, &tr));
  assert_int_equal(th, 256);
  assert_int_equal(tr, 64);
  assert_true(qp__raft_snapshot_sizes(300, 256, 64, 256, &th, &tr));
  assert_int_equal(th, QP_LEDGER_SNAPSHOT_THRESHOLD_MAX);
  assert_int_equal(tr, QP_LEDGER_SNAPSHOT_THRESHOLD_MAX / 4);
  assert_true(qp__raft_snapshot_sizes(64u << 10, 256, 64, 256, &th, &tr));
  assert_int_equal(th, QP_LEDGER_SNAPSHOT_LOG_BYTES / (64u << 10));
  assert_int_equal(tr, th / 4);
  uint32_t keep = th; /* within a third: no change */
  assert_false(qp__raft_snapshot_sizes((64u << 10) + (16u << 10), 256, 64, keep, &th, &tr));
  assert_int_equal(th, keep);
  assert_true(qp__raft_snapshot_sizes(16u << 10, 256, 64, keep, &th, &tr));
  assert_int_equal(th, 4 * keep);
  assert_true(qp__raft_snapshot_sizes(1u << 20, 256, 5000, th, &th, &tr));
  assert_int_equal(th, 256); /* back to big entries */
  assert_int_equal(tr, 5000); /* the configured trailing is a floor */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_descriptor_round_trip_and_damage),
      cmocka_unit_test(test_descriptor_carries_the_members),
      cmocka_unit_test(test_records_re_execute_to_the_same_journal),
      cmocka_unit_test(test_a_damaged_record_is_refused),
      cmocka_unit_test(test_sized_thresholds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
