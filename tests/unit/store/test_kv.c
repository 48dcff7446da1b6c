/*
 * test_kv.c - store/kv, the LMDB wrapper: open, tables, a write through
 * qp_kv_write, reading back with the read helper and a cursor, the error
 * mapping, and what a write does when the map is full - QP_ENOSPC by
 * default (the ledger's index relies on that), the map doubled and the
 * write run again when the opener allows growth, and no growth while a
 * read transaction of the wrapper is open.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/kv.h"
#include "test_util.h"

enum { TINY_MAP = 64u << 10, VALUE_BYTES = 1000 };

typedef struct fixture {
  char dir[256];
  qp_kv_t *kv;
  MDB_dbi dbi;
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  qp_test_tmpdir(f->dir, sizeof f->dir);
  char detail[256];
  assert_int_equal(qp_kv_open(f->dir, TINY_MAP, MDB_NOTLS, 4, &f->kv, detail, sizeof detail), 0);
  assert_int_equal(qp_kv_dbi(f->kv, "things", MDB_CREATE, &f->dbi), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  qp_kv_close(f->kv);
  qp_test_rmdir(f->dir);
  free(f);
  return 0;
}

typedef struct put_ctx {
  MDB_dbi dbi;
  uint32_t first, count; /* keys first..first+count-1 */
  uint32_t runs;         /* times fn ran */
} put_ctx_t;

/* Puts `count` big-endian u32 keys, each with a 1000-byte value. */
static int put_many(void *vctx, MDB_txn *txn) {
  put_ctx_t *c = vctx;
  c->runs++;
  uint8_t value[VALUE_BYTES];
  for (uint32_t i = 0; i < c->count; i++) {
    uint32_t k = c->first + i;
    uint8_t key[4] = {(uint8_t)(k >> 24), (uint8_t)(k >> 16), (uint8_t)(k >> 8), (uint8_t)k};
    memset(value, (int)(k & 0xFF), sizeof value);
    MDB_val kv = {sizeof key, key}, vv = {sizeof value, value};
    int rc = mdb_put(txn, c->dbi, &kv, &vv, 0);
    if (rc != 0) return rc;
  }
  return 0;
}

static uint32_t count_rows(fixture_t *f) {
  MDB_txn *txn;
  MDB_cursor *cur;
  assert_int_equal(qp_kv_read_begin(f->kv, f->dbi, &txn, &cur), 0);
  MDB_val k, v;
  uint32_t n = 0, last = 0;
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    const uint8_t *p = k.mv_data;
    uint32_t key = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    assert_true(n == 0 || key > last); /* in key order */
    assert_int_equal(v.mv_size, VALUE_BYTES);
    assert_int_equal(((const uint8_t *)v.mv_data)[VALUE_BYTES - 1], key & 0xFF);
    last = key;
    n++;
  }
  qp_kv_read_end(f->kv, txn, cur);
  return n;
}

static void test_put_get_iterate(void **state) {
  fixture_t *f = *state;
  put_ctx_t c = {f->dbi, 1, 10, 0};
  assert_int_equal(qp_kv_write(f->kv, put_many, &c), 0);
  assert_int_equal(c.runs, 1);
  MDB_txn *txn;
  assert_int_equal(qp_kv_read_begin(f->kv, f->dbi, &txn, NULL), 0);
  uint8_t key[4] = {0, 0, 0, 7}, missing[4] = {0, 0, 0, 99};
  MDB_val k = {sizeof key, key}, v;
  assert_int_equal(mdb_get(txn, f->dbi, &k, &v), 0);
  assert_int_equal(v.mv_size, VALUE_BYTES);
  k.mv_data = missing;
  assert_int_equal(qp_kv_err(mdb_get(txn, f->dbi, &k, &v)), QP_ENOTFOUND);
  qp_kv_read_end(f->kv, txn, NULL);
  assert_int_equal(count_rows(f), 10);
  /* Close and reopen read-only: the data is there; a missing table is
   * QP_ENOTFOUND. */
  qp_kv_close(f->kv);
  assert_int_equal(qp_kv_open(f->dir, TINY_MAP, MDB_RDONLY | MDB_NOTLS, 4, &f->kv, NULL, 0), 0);
  assert_int_equal(qp_kv_dbi(f->kv, "things", 0, &f->dbi), 0);
  MDB_dbi other;
  assert_int_equal(qp_kv_dbi(f->kv, "absent", 0, &other), QP_ENOTFOUND);
  assert_int_equal(count_rows(f), 10);
}

/* fn's own error aborts the transaction: nothing of it stays. */
static int put_then_fail(void *vctx, MDB_txn *txn) {
  int rc = put_many(vctx, txn);
  return rc != 0 ? rc : QP_EINVAL;
}

static void test_failed_write_leaves_nothing(void **state) {
  fixture_t *f = *state;
  put_ctx_t c = {f->dbi, 1, 5, 0};
  assert_int_equal(qp_kv_write(f->kv, put_then_fail, &c), QP_EINVAL);
  assert_int_equal(count_rows(f), 0);
}

static void test_map_full_default_is_enospc(void **state) {
  fixture_t *f = *state;
  put_ctx_t c = {f->dbi, 1, 500, 0}; /* ~500 KB into a 64 KiB map */
  assert_int_equal(qp_kv_write(f->kv, put_many, &c), QP_ENOSPC);
  assert_int_equal(c.runs, 1);
  assert_int_equal(qp_kv_map_size(f->kv), TINY_MAP);
  assert_int_equal(count_rows(f), 0);
}

static void test_map_grows(void **state) {
  fixture_t *f = *state;
  qp_kv_write_policy_t p = {.map_size_max = 16u << 20};
  qp_kv_set_write_policy(f->kv, &p);
  put_ctx_t c = {f->dbi, 1, 500, 0};
  assert_int_equal(qp_kv_write(f->kv, put_many, &c), 0);
  assert_true(c.runs > 1); /* ran again after each growth */
  size_t grown = qp_kv_map_size(f->kv);
  assert_true(grown > TINY_MAP && grown <= p.map_size_max);
  assert_int_equal(count_rows(f), 500);
  /* Not past the limit. */
  put_ctx_t more = {f->dbi, 1000, 40000, 0}; /* ~40 MB */
  assert_int_equal(qp_kv_write(f->kv, put_many, &more), QP_ENOSPC);
  assert_int_equal(qp_kv_map_size(f->kv), p.map_size_max);
  assert_int_equal(count_rows(f), 500);
}

/* Growing the map while a read transaction is open breaks LMDB's rule:
 * the write gives up with QP_ENOSPC instead. */
static void test_no_growth_while_reading(void **state) {
  fixture_t *f = *state;
  qp_kv_write_policy_t p = {.map_size_max = 16u << 20};
  qp_kv_set_write_policy(f->kv, &p);
  MDB_txn *txn;
  assert_int_equal(qp_kv_read_begin(f->kv, f->dbi, &txn, NULL), 0);
  put_ctx_t c = {f->dbi, 1, 500, 0};
  assert_int_equal(qp_kv_write(f->kv, put_many, &c), QP_ENOSPC);
  qp_kv_read_end(f->kv, txn, NULL);
  assert_int_equal(qp_kv_write(f->kv, put_many, &c), 0);
}

typedef struct enospc_ctx {
  uint32_t fail_times, runs;
} enospc_ctx_t;

static int disk_full_for_a_while(void *vctx, MDB_txn *txn) {
  (void)txn;
  enospc_ctx_t *c = vctx;
  return c->runs++ < c->fail_times ? ENOSPC : 0;
}

static void test_enospc_retries_with_backoff(void **state) {
  fixture_t *f = *state;
  enospc_ctx_t c = {2, 0};
  assert_int_equal(qp_kv_write(f->kv, disk_full_for_a_while, &c), QP_ENOSPC); /* default: none */
  assert_int_equal(c.runs, 1);
  qp_kv_write_policy_t p = {.enospc_retries_max = 2};
  qp_kv_set_write_policy(f->kv, &p);
  c = (enospc_ctx_t){2, 0};
  assert_int_equal(qp_kv_write(f->kv, disk_full_for_a_while, &c), 0); /* 50 + 100 ms */
  assert_int_equal(c.runs, 3);
  c = (enospc_ctx_t){5, 0};
  assert_int_equal(qp_kv_write(f->kv, disk_full_for_a_while, &c), QP_ENOSPC);
  assert_int_equal(c.runs, 3);
}

static void test_error_mapping_and_backoff(void **state) {
  (void)state;
  assert_int_equal(qp_kv_err(0), 0);
  assert_int_equal(qp_kv_err(MDB_MAP_FULL), QP_ENOSPC);
  assert_int_equal(qp_kv_err(ENOSPC), QP_ENOSPC);
  assert_int_equal(qp_kv_err(MDB_NOTFOUND), QP_ENOTFOUND);
  assert_int_equal(qp_kv_err(MDB_CORRUPTED), QP_EDB);
  assert_int_equal(qp_kv_err(EIO), QP_EDB);
  assert_int_equal(qp_kv_err(QP_ECORRUPT), QP_ECORRUPT);
  uint32_t ms = 0, seen[8];
  for (int i = 0; i < 8; i++) seen[i] = ms = qp_kv_backoff_next_ms(ms);
  assert_int_equal(seen[0], 50);
  assert_int_equal(seen[1], 100);
  assert_int_equal(seen[5], 1600);
  assert_int_equal(seen[6], 2000);
  assert_int_equal(seen[7], 2000);
  char detail[256] = "";
  qp_kv_t *kv;
  assert_int_equal(qp_kv_open("/nonexistent/quipu-kv", TINY_MAP, 0, 1, &kv, detail, sizeof detail),
                   QP_EDB);
  assert_non_null(strstr(detail, "/nonexistent/quipu-kv"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_put_get_iterate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_write_leaves_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_map_full_default_is_enospc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_map_grows, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_growth_while_reading, setup, teardown),
      cmocka_unit_test_setup_teardown(test_enospc_retries_with_backoff, setup, teardown),
      cmocka_unit_test(test_error_mapping_and_backoff),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
