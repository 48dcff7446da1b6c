/*
 * test_runs.c - a round's timestamps grouped by value (src/ledger/runs.h):
 * what put() writes into a sorted-duplicates table is, per value, exactly
 * the timestamps added for it, in order, after what the set held; the
 * arrays are kept and reused across rounds of any size.
 */
#include <lmdb.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/bytes.h"
#include "base/rng.h"
#include "ledger/runs.h"
#include "test_util.h"

#define VALUES 50u

static size_t key_of(qp_u128 v, uint8_t key[32], const void *ctx) {
  (void)ctx;
  qp_u128_store_be(key, v);
  return 16;
}

typedef struct table {
  char dir[256];
  MDB_env *env;
  MDB_dbi dbi;
} table_t;

static void open_table(table_t *t) {
  qp_test_tmpdir(t->dir, sizeof t->dir);
  assert_int_equal(mdb_env_create(&t->env), 0);
  assert_int_equal(mdb_env_set_mapsize(t->env, 64u << 20), 0);
  assert_int_equal(mdb_env_set_maxdbs(t->env, 2), 0);
  assert_int_equal(mdb_env_open(t->env, t->dir, MDB_NOSYNC, 0600), 0);
  MDB_txn *txn;
  assert_int_equal(mdb_txn_begin(t->env, NULL, 0, &txn), 0);
  assert_int_equal(mdb_dbi_open(txn, "sets", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &t->dbi), 0);
  assert_int_equal(mdb_txn_commit(txn), 0);
}

static void close_table(table_t *t) {
  mdb_env_close(t->env);
  qp_test_rmdir(t->dir);
}

/* One round of n entries over VALUES values (value i: `want` keeps every
 * timestamp added per value, as the reference); ts continues from *ts. */
static void round_of(table_t *t, qp__runs_t *r, qp_rng_t *rng, uint32_t n, uint64_t *ts,
                     uint64_t want[VALUES][4096], uint32_t want_n[VALUES]) {
  assert_int_equal(qp__runs_reserve(r, n), 0);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t v = (uint32_t)(qp_rng_next(rng) % VALUES);
    qp_u128 value = ((qp_u128)v << 70) | (qp_u128)(v * 7919u + 1u);
    qp__runs_add(r, value, ++*ts);
    want[v][want_n[v]++] = *ts;
  }
  MDB_txn *txn;
  MDB_cursor *cur;
  assert_int_equal(mdb_txn_begin(t->env, NULL, 0, &txn), 0);
  assert_int_equal(mdb_cursor_open(txn, t->dbi, &cur), 0);
  assert_int_equal(qp__runs_put(r, cur, key_of, NULL), 0);
  mdb_cursor_close(cur);
  assert_int_equal(mdb_txn_commit(txn), 0);
}

/* The table holds exactly the reference. */
static void check(table_t *t, uint64_t want[VALUES][4096], const uint32_t want_n[VALUES]) {
  MDB_txn *txn;
  MDB_cursor *cur;
  assert_int_equal(mdb_txn_begin(t->env, NULL, MDB_RDONLY, &txn), 0);
  assert_int_equal(mdb_cursor_open(txn, t->dbi, &cur), 0);
  for (uint32_t v = 0; v < VALUES; v++) {
    uint8_t key[16];
    qp_u128_store_be(key, ((qp_u128)v << 70) | (qp_u128)(v * 7919u + 1u));
    MDB_val k = {16, key}, d;
    int rc = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY);
    if (want_n[v] == 0) {
      assert_int_equal(rc, MDB_NOTFOUND);
      continue;
    }
    assert_int_equal(rc, 0);
    for (uint32_t i = 0; i < want_n[v]; i++) {
      assert_int_equal(rc, 0);
      assert_int_equal(d.mv_size, 8);
      assert_int_equal(qp_load_u64_be(d.mv_data), want[v][i]);
      rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT_DUP);
    }
    assert_int_equal(rc, MDB_NOTFOUND); /* nothing more in the set */
  }
  mdb_cursor_close(cur);
  mdb_txn_abort(txn);
}

static uint64_t want[VALUES][4096];

/* Rounds that grow (the arrays double), then shrink (they are kept; reset
 * clears only the slots used), then an empty one. */
static void test_rounds(void **state) {
  (void)state;
  table_t t;
  open_table(&t);
  qp__runs_t r;
  memset(&r, 0, sizeof r);
  qp_rng_t rng;
  qp_rng_seed(&rng, 7);
  uint32_t want_n[VALUES] = {0};
  uint64_t ts = 1000;
  const uint32_t sizes[] = {1, 10, 3000, 20000, 5, 700, 0, 40};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    round_of(&t, &r, &rng, sizes[i], &ts, want, want_n);
    check(&t, want, want_n);
    assert_true(r.max >= sizes[i]);
  }
  assert_true(r.max >= 20000 && r.max < 2 * 32768);
  qp__runs_free(&r);
  assert_null(r.slot);
  close_table(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_rounds)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
