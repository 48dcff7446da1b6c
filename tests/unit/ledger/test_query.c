/*
 * test_query.c - qp_db_query_accounts / qp_db_query_transfers against a
 * brute-force reference: random records over small value domains (so
 * that filters match something), random filters of zero to five fields,
 * timestamp ranges, limits and direction; the same answers after a reopen,
 * after the index is rebuilt from the journal, and after an index written
 * before queries existed is upgraded.
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/rng.h"
#include "ledger/db.h"
#include "test_util.h"

#define ACCOUNTS 600u
#define TRANSFERS 6000u
#define FILTERS 400u

typedef struct fixture {
  char dir[256];
  uint64_t clock;
  uint64_t rng;
  qp_account_t accounts[ACCOUNTS]; /* as created (timestamps filled after) */
  qp_transfer_t transfers[TRANSFERS];
} fixture_t;

static uint64_t fake_clock(void *ctx) { return ((fixture_t *)ctx)->clock; }

static qp_db_t *open_db(fixture_t *f) {
  qp_db_options_t opt = {
      .clock_ns = fake_clock, .clock_ctx = f, .index_map_size = (size_t)1 << 30};
  qp_db_t *db = NULL;
  char detail[512];
  int rc = qp_db_open(f->dir, &opt, &db, NULL, detail, sizeof detail);
  if (rc != 0) fprintf(stderr, "open: %s\n", detail);
  assert_int_equal(rc, 0);
  return db;
}

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  qp_test_tmpdir(f->dir, sizeof f->dir);
  f->clock = 1000000000000ull;
  f->rng = qp_test_env_u64("SEED", 7);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  qp_test_rmdir(f->dir);
  free(f);
  return 0;
}

static uint64_t pick(fixture_t *f, uint64_t n) { return qp_splitmix64_below(&f->rng, n); }

/* Small domains with zeros among them: zero user data is "not indexed". */
static void random_fields(fixture_t *f, qp_u128 *ud128, uint64_t *ud64, uint32_t *ud32,
                          uint32_t *ledger, uint16_t *code) {
  *ud128 = pick(f, 4) == 0 ? 0 : ((qp_u128)pick(f, 3) << 100) + pick(f, 3);
  *ud64 = pick(f, 5);
  *ud32 = (uint32_t)pick(f, 4);
  *ledger = 1 + (uint32_t)pick(f, 3);
  *code = (uint16_t)(1 + pick(f, 4));
}

static void populate(fixture_t *f, qp_db_t *db) {
  uint32_t r[QP_BATCH_EVENTS_MAX];
  for (uint32_t i = 0; i < ACCOUNTS; i++) {
    qp_account_t *a = &f->accounts[i];
    memset(a, 0, sizeof *a);
    a->id = i + 1;
    random_fields(f, &a->user_data_128, &a->user_data_64, &a->user_data_32, &a->ledger, &a->code);
  }
  for (uint32_t i = 0; i < ACCOUNTS; i += 100) {
    f->clock += 1000;
    assert_int_equal(qp_db_create_accounts(db, f->accounts + i, 100, r), 0);
    for (uint32_t k = 0; k < 100; k++) assert_int_equal(r[k], QP_CREATE_ACCOUNT_OK);
  }
  for (uint32_t i = 0; i < TRANSFERS; i++) {
    qp_transfer_t *t = &f->transfers[i];
    memset(t, 0, sizeof *t);
    t->id = 10000 + i;
    uint32_t ledger;
    random_fields(f, &t->user_data_128, &t->user_data_64, &t->user_data_32, &ledger, &t->code);
    /* Two accounts of one ledger: account i sits in ledger accounts[i].ledger. */
    uint32_t dr, cr;
    do dr = (uint32_t)pick(f, ACCOUNTS); while (f->accounts[dr].ledger != ledger);
    do cr = (uint32_t)pick(f, ACCOUNTS); while (cr == dr || f->accounts[cr].ledger != ledger);
    t->debit_account_id = dr + 1;
    t->credit_account_id = cr + 1;
    t->amount = 1 + pick(f, 100);
    t->ledger = ledger;
    t->flags = pick(f, 10) == 0 ? QP_TRANSFER_PENDING : 0;
  }
  for (uint32_t i = 0; i < TRANSFERS; i += 500) {
    f->clock += 1000;
    assert_int_equal(qp_db_create_transfers(db, f->transfers + i, 500, r), 0);
    for (uint32_t k = 0; k < 500; k++) assert_int_equal(r[k], QP_CREATE_TRANSFER_OK);
  }
}

/* The stored timestamps, which the reference orders by. */
static void fill_timestamps(fixture_t *f, qp_db_t *db) {
  for (uint32_t i = 0; i < ACCOUNTS; i++) {
    uint32_t found;
    assert_int_equal(qp_db_lookup_accounts(db, &f->accounts[i].id, 1, &f->accounts[i], &found), 0);
    assert_int_equal(found, 1);
  }
  for (uint32_t i = 0; i < TRANSFERS; i++) {
    uint32_t found;
    qp_u128 id = f->transfers[i].id;
    assert_int_equal(qp_db_lookup_transfers(db, &id, 1, &f->transfers[i], NULL, &found), 0);
    assert_int_equal(found, 1);
  }
}

static bool matches(const qp_query_filter_t *q, qp_u128 ud128, uint64_t ud64, uint32_t ud32,
                    uint32_t ledger, uint16_t code, uint64_t ts) {
  return (q->user_data_128 == 0 || q->user_data_128 == ud128) &&
         (q->user_data_64 == 0 || q->user_data_64 == ud64) &&
         (q->user_data_32 == 0 || q->user_data_32 == ud32) &&
         (q->ledger == 0 || q->ledger == ledger) && (q->code == 0 || q->code == code) &&
         ts >= q->timestamp_min && (q->timestamp_max == 0 || ts <= q->timestamp_max);
}

/* Timestamps of the reference answer (records are created in timestamp
 * order, so walking the arrays is walking time). */
static uint32_t reference(const fixture_t *f, const qp_query_filter_t *q, bool accounts,
                          uint64_t *out) {
  uint32_t n = accounts ? ACCOUNTS : TRANSFERS, count = 0;
  bool back = q->flags & QP_QUERY_REVERSED;
  for (uint32_t k = 0; k < n && count < q->limit; k++) {
    uint32_t i = back ? n - 1 - k : k;
    bool hit;
    uint64_t ts;
    if (accounts) {
      const qp_account_t *a = &f->accounts[i];
      ts = a->timestamp;
      hit = matches(q, a->user_data_128, a->user_data_64, a->user_data_32, a->ledger, a->code, ts);
    } else {
      const qp_transfer_t *t = &f->transfers[i];
      ts = t->timestamp;
      hit = matches(q, t->user_data_128, t->user_data_64, t->user_data_32, t->ledger, t->code, ts);
    }
    if (hit) out[count++] = ts;
  }
  return count;
}

static qp_query_filter_t random_filter(fixture_t *f, bool accounts) {
  qp_query_filter_t q;
  memset(&q, 0, sizeof q);
  qp_u128 ud128;
  uint64_t ud64;
  uint32_t ud32, ledger;
  uint16_t code;
  random_fields(f, &ud128, &ud64, &ud32, &ledger, &code);
  if (pick(f, 3) == 0) q.user_data_128 = ud128;
  if (pick(f, 3) == 0) q.user_data_64 = ud64;
  if (pick(f, 3) == 0) q.user_data_32 = ud32;
  if (pick(f, 2) == 0) q.ledger = ledger;
  if (pick(f, 2) == 0) q.code = code;
  const uint64_t lo = accounts ? f->accounts[0].timestamp : f->transfers[0].timestamp;
  const uint64_t hi =
      accounts ? f->accounts[ACCOUNTS - 1].timestamp : f->transfers[TRANSFERS - 1].timestamp;
  if (pick(f, 3) == 0) q.timestamp_min = lo + pick(f, hi - lo + 2);
  if (pick(f, 3) == 0) q.timestamp_max = q.timestamp_min + pick(f, hi - lo + 2);
  if (q.timestamp_max == 0 && q.timestamp_min > 0 && pick(f, 2) == 0) q.timestamp_max = hi + 5;
  q.limit = pick(f, 4) == 0 ? QP_QUERY_LIMIT_MAX : 1 + (uint32_t)pick(f, 40);
  q.flags = pick(f, 2) == 0 ? QP_QUERY_REVERSED : 0;
  return q;
}

/* Every random filter answers exactly as the reference, records intact. */
static void check_filters(fixture_t *f, qp_db_t *db) {
  static qp_account_t accounts[QP_QUERY_LIMIT_MAX];
  static qp_transfer_t transfers[QP_QUERY_LIMIT_MAX];
  static uint64_t want[QP_QUERY_LIMIT_MAX];
  for (uint32_t i = 0; i < FILTERS; i++) {
    bool acc = i % 2 == 0;
    qp_query_filter_t q = random_filter(f, acc);
    uint32_t got = 0, n = reference(f, &q, acc, want);
    if (acc) assert_int_equal(qp_db_query_accounts(db, &q, accounts, &got), 0);
    else assert_int_equal(qp_db_query_transfers(db, &q, transfers, NULL, &got), 0);
    assert_int_equal(got, n);
    for (uint32_t k = 0; k < n; k++) {
      if (acc) {
        assert_int_equal(accounts[k].timestamp, want[k]);
        const qp_account_t *ref = &f->accounts[accounts[k].id - 1];
        assert_memory_equal(&accounts[k], ref, sizeof *ref);
      } else {
        assert_int_equal(transfers[k].timestamp, want[k]);
        const qp_transfer_t *ref = &f->transfers[transfers[k].id - 10000];
        assert_memory_equal(&transfers[k], ref, sizeof *ref);
      }
    }
  }
}

static void test_queries_match_reference(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f);
  populate(f, db);
  fill_timestamps(f, db);
  check_filters(f, db);
  qp_db_close(db);
  db = open_db(f); /* the same answers from the index on disk */
  check_filters(f, db);
  qp_db_close(db);
}

static void test_bad_filters_refused(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f);
  qp_account_t out[2];
  uint32_t n;
  qp_query_filter_t q = {.limit = 0};
  assert_int_equal(qp_db_query_accounts(db, &q, out, &n), QP_EINVAL);
  q.limit = QP_QUERY_LIMIT_MAX + 1;
  assert_int_equal(qp_db_query_accounts(db, &q, out, &n), QP_EINVAL);
  q.limit = 2;
  q.timestamp_min = 10;
  q.timestamp_max = 9;
  assert_int_equal(qp_db_query_accounts(db, &q, out, &n), QP_EINVAL);
  q.timestamp_min = 0;
  q.flags = 2;
  assert_int_equal(qp_db_query_accounts(db, &q, out, &n), QP_EINVAL);
  q.flags = 0;
  assert_int_equal(qp_db_query_accounts(db, &q, out, &n), 0);
  assert_int_equal(n, 0); /* an empty ledger */
  qp_db_close(db);
}

/* Drops the query table and its marker, as an index written before
 * queries existed looks; the next open must rebuild it. */
static void strip_queries(const fixture_t *f) {
  char path[512];
  snprintf(path, sizeof path, "%s/ledger/state", f->dir);
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi query, meta;
  assert_int_equal(mdb_env_create(&env), 0);
  assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
  assert_int_equal(mdb_env_set_mapsize(env, (size_t)1 << 30), 0);
  assert_int_equal(mdb_env_open(env, path, 0, 0600), 0);
  assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
  assert_int_equal(mdb_dbi_open(txn, "query", 0, &query), 0);
  assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
  assert_int_equal(mdb_drop(txn, query, 0), 0);
  MDB_val k = {7, (void *)"queries"};
  assert_int_equal(mdb_del(txn, meta, &k, NULL), 0);
  assert_int_equal(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

static void test_old_index_upgraded(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f);
  populate(f, db);
  fill_timestamps(f, db);
  qp_db_close(db);
  strip_queries(f);
  db = open_db(f);
  check_filters(f, db);
  qp_db_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_queries_match_reference, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_filters_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_old_index_upgraded, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
