/*
 * test_oom.c - allocation failure injected at every allocation of a batch
 * and of an open: each either succeeds or fails with QP_ENOMEM leaving the
 * state exactly as it was (no partial batch), never crashes, never leaks
 * (LeakSanitizer runs with the ASan build).
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "ledger/db.h"
#include "test_util.h"

enum { ACCOUNTS = 3000, BATCH = 4000 };

static void make_accounts(qp_ledger_t *l) {
  static qp_account_t a[ACCOUNTS];
  static uint32_t r[ACCOUNTS];
  for (uint32_t i = 0; i < ACCOUNTS; i++) {
    memset(&a[i], 0, sizeof a[i]);
    a[i].id = i + 1;
    a[i].ledger = 1;
    a[i].code = 1;
  }
  assert_int_equal(qp_ledger_create_accounts(l, 1, a, ACCOUNTS, r), 0);
}

static uint64_t digest(const qp_ledger_t *l) {
  uint64_t h = qp_ledger_transfer_count(l) * 1000003u + qp_ledger_last_timestamp(l);
  for (qp_u128 id = 1; id <= ACCOUNTS; id++) {
    qp_account_t a;
    assert_int_equal(qp_ledger_lookup_account(l, id, &a), 0);
    h = h * 31 + (uint64_t)(a.debits_posted + 7 * a.credits_posted + 13 * a.debits_pending);
  }
  return h;
}

static void test_batch_under_oom(void **state) {
  (void)state;
  static qp_transfer_t t[BATCH];
  static uint32_t r[BATCH];
  for (uint32_t i = 0; i < BATCH; i++) {
    memset(&t[i], 0, sizeof t[i]);
    t[i].id = 100000 + i;
    t[i].debit_account_id = 1 + i % ACCOUNTS;
    t[i].credit_account_id = 1 + (i + 1) % ACCOUNTS;
    t[i].amount = 1 + i;
    t[i].ledger = 1;
    t[i].code = 1;
    t[i].flags = (uint16_t)((i % 3 == 0) ? QP_TRANSFER_PENDING : 0);
    t[i].timeout = (i % 6 == 0) ? 5 : 0;
  }
  uint32_t failures = 0;
  for (int64_t k = 0; k < 64; k++) {
    qp_ledger_config_t cfg = {.track_changes = (k % 2) == 0};
    qp_ledger_t *l;
    assert_int_equal(qp_ledger_create(&cfg, &l), 0);
    make_accounts(l);
    uint64_t before = digest(l);
    qp_alloc_fail_after(k);
    int rc = qp_ledger_create_transfers(l, 1000, t, BATCH, r);
    qp_alloc_fail_after(-1);
    if (rc != 0) {
      assert_true(rc == QP_ENOMEM);
      assert_true(digest(l) == before); /* nothing of the batch was applied */
      failures++;
      assert_int_equal(qp_ledger_create_transfers(l, 1000, t, BATCH, r), 0);
    }
    assert_true(qp_ledger_check(l));
    assert_int_equal(qp_ledger_transfer_count(l), BATCH);
    qp_ledger_destroy(l);
  }
  assert_true(failures > 0); /* the injection did reach the batch path */
}

static void test_open_under_oom(void **state) {
  (void)state;
  char dir[256];
  qp_test_tmpdir(dir, sizeof dir);
  qp_db_t *db;
  char detail[256];
  assert_int_equal(qp_db_open(dir, NULL, &db, NULL, detail, sizeof detail), 0);
  qp_account_t a[2];
  memset(a, 0, sizeof a);
  a[0].id = 1, a[1].id = 2;
  a[0].ledger = a[1].ledger = 1;
  a[0].code = a[1].code = 1;
  uint32_t r[2];
  assert_int_equal(qp_db_create_accounts(db, a, 2, r), 0);
  qp_db_close(db);
  uint32_t ok = 0, failed = 0;
  for (int64_t k = 0; k < 40; k++) {
    qp_alloc_fail_after(k);
    int rc = qp_db_open(dir, NULL, &db, NULL, detail, sizeof detail);
    qp_alloc_fail_after(-1);
    if (rc == 0) {
      qp_u128 ids[2] = {1, 2};
      qp_account_t out[2];
      uint32_t found;
      assert_int_equal(qp_db_lookup_accounts(db, ids, 2, out, &found), 0);
      assert_int_equal(found, 2);
      qp_db_close(db);
      ok++;
    } else {
      assert_int_equal(rc, QP_ENOMEM);
      failed++;
    }
  }
  assert_true(ok > 0 && failed > 0);
  qp_test_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_batch_under_oom),
      cmocka_unit_test(test_open_under_oom),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
