/*
 * test_raft_entry.c - the replicated ledger's pure parts (raft_int.h): the
 * bytes of one Raft entry (round trip, and every way a damaged entry is
 * refused), the skip rule that keeps a replayed entry from being applied
 * twice, and that the journal keeps the Raft position across a reopen.
 */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "base/err.h"
#include "ledger/raft_int.h"

#define ROOM QP__RAFT_ENTRY_EVENTS_MAX

typedef struct scratch {
  qp_db_request_t reqs[QP__RAFT_ENTRY_REQUESTS_MAX]; /* decoded requests */
  qp_transfer_t events[ROOM];                        /* decoded events */
  uint32_t results[ROOM];                            /* results room */
} scratch_t;

static scratch_t scratch;

static qp_account_t accounts[2] = {{.id = 1, .ledger = 7, .code = 1},
                                   {.id = 2, .ledger = 7, .code = 1, .user_data_64 = 99}};
static qp_transfer_t transfers[3] = {
    {.id = 10, .debit_account_id = 1, .credit_account_id = 2, .amount = 5, .ledger = 7, .code = 1},
    {.id = 11, .debit_account_id = 2, .credit_account_id = 1, .amount = (qp_u128)1 << 100,
     .ledger = 7, .code = 2},
    {.id = 12, .debit_account_id = 1, .credit_account_id = 2, .amount = 1, .ledger = 7, .code = 3,
     .timeout = 30}};

/* Three requests: accounts, transfers, a sweep; the entry in *out. */
static uint8_t *sample(qp_db_request_t reqs[3], size_t *size) {
  uint32_t res[8];
  reqs[0] = (qp_db_request_t){.op = QP_OP_CREATE_ACCOUNTS, .events = accounts, .count = 2,
                              .results = res, .submitter = 0xabcdef};
  reqs[1] = (qp_db_request_t){
      .op = QP_OP_CREATE_TRANSFERS, .events = transfers, .count = 3, .results = res};
  reqs[2] = (qp_db_request_t){.op = QP_OP_EXPIRE};
  *size = qp__raft_entry_size(reqs, 3);
  assert_int_equal(*size, QP__RAFT_ENTRY_HEADER + 3 * QP__RAFT_REQUEST_HEADER + 5 * QP_RECORD_SIZE);
  uint8_t *buf = malloc(*size);
  assert_int_equal(qp__raft_entry_encode(1234567, reqs, 3, buf, *size), 0);
  return buf;
}

static void test_round_trip(void **state) {
  (void)state;
  qp_db_request_t reqs[3];
  size_t size;
  uint8_t *buf = sample(reqs, &size);
  uint64_t now = 0;
  uint32_t count = 0;
  assert_int_equal(qp__raft_entry_decode(buf, size, &now, scratch.reqs, &count, scratch.events,
                                         scratch.results), 0);
  assert_int_equal(now, 1234567);
  assert_int_equal(count, 3);
  assert_int_equal(scratch.reqs[0].op, QP_OP_CREATE_ACCOUNTS);
  assert_int_equal(scratch.reqs[0].submitter, 0xabcdef);
  assert_int_equal(scratch.reqs[0].count, 2);
  assert_memory_equal(scratch.reqs[0].events, accounts, sizeof accounts);
  assert_int_equal(scratch.reqs[1].op, QP_OP_CREATE_TRANSFERS);
  assert_memory_equal(scratch.reqs[1].events, transfers, sizeof transfers);
  assert_true(scratch.reqs[1].results == scratch.results + 2); /* results do not overlap */
  assert_int_equal(scratch.reqs[2].op, QP_OP_EXPIRE);
  assert_int_equal(scratch.reqs[2].count, 0);
  free(buf);
}

static void expect_corrupt(const uint8_t *buf, size_t size) {
  uint64_t now;
  uint32_t count;
  assert_int_equal(qp__raft_entry_decode(buf, size, &now, scratch.reqs, &count, scratch.events,
                                         scratch.results), QP_ECORRUPT);
}

static void test_damaged_entries_are_refused(void **state) {
  (void)state;
  qp_db_request_t reqs[3];
  size_t size;
  uint8_t *buf = sample(reqs, &size);
  uint8_t *copy = malloc(size + 1);
  expect_corrupt(buf, size - 1);                     /* truncated */
  expect_corrupt(buf, QP__RAFT_ENTRY_HEADER - 1);    /* no header */
  memcpy(copy, buf, size);
  copy[size] = 0;
  expect_corrupt(copy, size + 1);                    /* a trailing byte */
  memcpy(copy, buf, size);
  copy[0] ^= 1;
  expect_corrupt(copy, size);                        /* magic */
  memcpy(copy, buf, size);
  copy[QP__RAFT_ENTRY_HEADER] = 9;
  expect_corrupt(copy, size);                        /* unknown op */
  memcpy(copy, buf, size);
  copy[QP__RAFT_ENTRY_HEADER + 4] = 0;
  expect_corrupt(copy, size);                        /* a create with no events */
  memcpy(copy, buf, size);
  copy[4] = 4;
  expect_corrupt(copy, size);                        /* more requests than there are */
  free(copy);
  free(buf);
}

static void test_too_big_for_one_entry(void **state) {
  (void)state;
  static qp_transfer_t many[QP_BATCH_EVENTS_MAX];
  uint32_t res[1];
  qp_db_request_t reqs[5];
  for (int i = 0; i < 5; i++)
    reqs[i] = (qp_db_request_t){.op = QP_OP_CREATE_TRANSFERS, .events = many,
                                .count = QP_BATCH_EVENTS_MAX, .results = res};
  size_t size = qp__raft_entry_size(reqs, 5);
  uint8_t *buf = malloc(size);
  assert_int_equal(qp__raft_entry_encode(1, reqs, 5, buf, size), QP_ELIMIT);
  size = qp__raft_entry_size(reqs, 4);
  assert_int_equal(qp__raft_entry_encode(1, reqs, 4, buf, size), 0);
  free(buf);
}

static void test_first_missing(void **state) {
  (void)state;
  assert_int_equal(qp__raft_first_missing(5, 0, 3), 1);                 /* nothing journaled */
  assert_int_equal(qp__raft_first_missing(5, (4ull << 16) | 2, 3), 1);  /* a later entry */
  assert_int_equal(qp__raft_first_missing(5, (6ull << 16) | 1, 3), 4);  /* an earlier entry */
  assert_int_equal(qp__raft_first_missing(5, (5ull << 16) | 3, 3), 4);  /* all of it */
  assert_int_equal(qp__raft_first_missing(5, (5ull << 16) | 1, 3), 2);  /* a torn group */
  assert_int_equal(qp__raft_first_missing(5, 5ull << 16, 3), 1);        /* only its sweep */
}

static uint64_t fixed_clock(void *ctx) { return *(uint64_t *)ctx; }

static qp_db_t *open_at(const char *dir, uint64_t *clock) {
  qp_db_options_t opt = {.clock_ns = fixed_clock, .clock_ctx = clock,
                         .index_map_size = (size_t)1 << 28, .replicated = true};
  qp_db_t *db = NULL;
  char detail[256];
  assert_int_equal(qp_db_open(dir, &opt, &db, NULL, detail, sizeof detail), 0);
  return db;
}

static void test_journal_keeps_the_raft_position(void **state) {
  (void)state;
  char dir[512];
  qp_test_tmpdir(dir, sizeof dir);
  uint64_t clock = 1000;
  qp_db_t *db = open_at(dir, &clock);
  assert_int_equal(qp_db_replica_pos(db), 0);
  uint32_t res[3];
  qp_db_request_t reqs[2] = {
      {.op = QP_OP_CREATE_ACCOUNTS, .events = accounts, .count = 2, .results = res,
       .replica_pos = (7ull << 16) | 1},
      {.op = QP_OP_CREATE_TRANSFERS, .events = transfers, .count = 1, .results = res + 2,
       .replica_pos = (7ull << 16) | 2}};
  assert_int_equal(qp_db_execute(db, reqs, 2), 0);
  assert_int_equal(reqs[1].status, 0);
  assert_int_equal(res[2], 0); /* ok */
  assert_int_equal(qp_db_replica_pos(db), (7ull << 16) | 2);
  qp_db_close(db);
  db = open_at(dir, &clock);
  assert_int_equal(qp_db_replica_pos(db), (7ull << 16) | 2); /* from the journal's tags */
  assert_int_equal(qp__raft_first_missing(7, qp_db_replica_pos(db), 2), 3);
  qp_db_close(db);
  qp_test_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_damaged_entries_are_refused),
      cmocka_unit_test(test_too_big_for_one_entry),
      cmocka_unit_test(test_first_missing),
      cmocka_unit_test(test_journal_keeps_the_raft_position),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
