/*
 * test_kv_page.c - store/kv_page.c, one page of a time-ordered index: 40
 * keys (creation second s*10, id byte) walked page by page with every
 * limit, from/to range and filter, against a brute-force reference: the
 * pages together are exactly the keys in range that pass, in order, with
 * none twice; a page never shows more than its limit nor looks at more
 * than scan_max keys; a visitor's error ends the walk with that error.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/kv.h"
#include "test_util.h"

enum { KEYS = 40, KEY = 12 };

typedef struct fixture {
  char dir[256];
  qp_kv_t *kv;
  MDB_dbi dbi;
} fixture_t;

static void make_key(uint32_t i, uint8_t key[KEY]) {
  uint64_t ns = (uint64_t)(i / 2) * 10u * 1000000000u; /* two keys per instant */
  for (int b = 7; b >= 0; b--, ns >>= 8) key[b] = (uint8_t)ns;
  memset(key + 8, 0, KEY - 8);
  key[11] = (uint8_t)i;
}

static int put_all(void *ctx, MDB_txn *txn) {
  fixture_t *f = ctx;
  int rc = 0;
  for (uint32_t i = 0; i < KEYS && rc == 0; i++) {
    uint8_t key[KEY];
    make_key(i, key);
    MDB_val k = {KEY, key}, v = {1, key + 11};
    rc = mdb_put(txn, f->dbi, &k, &v, 0);
  }
  return rc;
}

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  qp_test_tmpdir(f->dir, sizeof f->dir);
  char detail[256];
  assert_int_equal(qp_kv_open(f->dir, 1u << 20, MDB_NOTLS, 2, &f->kv, detail, sizeof detail), 0);
  assert_int_equal(qp_kv_dbi(f->kv, "by_created", MDB_CREATE, &f->dbi), 0);
  assert_int_equal(qp_kv_write(f->kv, put_all, f), 0);
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

typedef struct walk {
  uint32_t modulo;        /* show keys whose id % modulo == 0 */
  uint32_t seen[KEYS];    /* times each id was shown */
  uint32_t order[KEYS];   /* ids shown, in order */
  uint32_t shown, looked; /* over the whole walk */
  int fail_at;            /* id whose visit fails (-1: none) */
} walk_t;

static int visit(void *ctx, MDB_txn *txn, const MDB_val *key, bool *shown) {
  walk_t *w = ctx;
  (void)txn;
  assert_int_equal(key->mv_size, KEY);
  uint32_t id = ((const uint8_t *)key->mv_data)[11];
  w->looked++;
  if ((int)id == w->fail_at) return QP_ECORRUPT;
  *shown = id % w->modulo == 0;
  if (*shown) {
    w->seen[id]++;
    w->order[w->shown++] = id;
  }
  return 0;
}

/* Walks every page of [from_s, to_s) and checks it against the reference. */
static void walk_all(fixture_t *f, uint32_t limit, uint32_t scan_max, uint32_t modulo,
                     uint64_t from_s, uint64_t to_s) {
  walk_t w = {.modulo = modulo, .fail_at = -1};
  uint8_t next[KEY], after[KEY];
  bool more = true, has_after = false;
  for (int pages = 0; more; pages++) {
    assert_true(pages <= KEYS + 1);
    qp_kv_page_t p = {f->dbi, KEY, from_s * 1000000000u, to_s * 1000000000u,
                      has_after ? after : NULL, limit, scan_max};
    uint32_t shown_before = w.shown, looked_before = w.looked;
    assert_int_equal(qp_kv_page(f->kv, &p, visit, &w, next, &more), 0);
    assert_true(w.shown - shown_before <= limit);
    assert_true(w.looked - looked_before <= scan_max);
    memcpy(after, next, KEY);
    has_after = more;
  }
  uint32_t want = 0;
  for (uint32_t i = 0; i < KEYS; i++) {
    uint64_t s = (uint64_t)(i / 2) * 10u;
    bool in = s >= from_s && (to_s == 0 || s < to_s) && i % modulo == 0;
    assert_int_equal(w.seen[i], in ? 1 : 0);
    if (in) assert_int_equal(w.order[want++], i);
  }
  assert_int_equal(w.shown, want);
}

static void test_every_page_shape(void **state) {
  fixture_t *f = *state;
  static const uint64_t ranges[][2] = {{0, 0}, {0, 50}, {30, 0}, {30, 31}, {35, 100}, {500, 0}};
  for (uint32_t limit = 1; limit <= 7; limit++)
    for (uint32_t modulo = 1; modulo <= 5; modulo += 2)
      for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        walk_all(f, limit, 1000, modulo, ranges[r][0], ranges[r][1]);
        walk_all(f, limit, 3, modulo, ranges[r][0], ranges[r][1]); /* scan-bound pages */
      }
}

static void test_a_cursor_before_from_starts_at_from(void **state) {
  fixture_t *f = *state;
  walk_t w = {.modulo = 1, .fail_at = -1};
  uint8_t early[KEY], next[KEY];
  make_key(0, early);
  bool more = false;
  qp_kv_page_t p = {f->dbi, KEY, 100ull * 1000000000u, 0, early, 3, 1000};
  assert_int_equal(qp_kv_page(f->kv, &p, visit, &w, next, &more), 0);
  assert_true(more);
  assert_int_equal(w.shown, 3);
  assert_int_equal(w.order[0], 20); /* the first key at 100 s */
}

static void test_a_visitor_error_ends_the_walk(void **state) {
  fixture_t *f = *state;
  walk_t w = {.modulo = 1, .fail_at = 4};
  uint8_t next[KEY];
  bool more = false;
  qp_kv_page_t p = {f->dbi, KEY, 0, 0, NULL, 10, 1000};
  assert_int_equal(qp_kv_page(f->kv, &p, visit, &w, next, &more), QP_ECORRUPT);
  assert_int_equal(w.shown, 4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_every_page_shape, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_cursor_before_from_starts_at_from, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_visitor_error_ends_the_walk, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
