/*
 * test_idfilter.c - the id filter in front of the idempotency lookup: no
 * false negatives for random and sequential ids across many generations; a
 * measured false-positive rate within the bound the design predicts; save
 * and load round-trip every answer and the cover; a missing file is
 * QP_ENOTFOUND, a flipped byte or a truncated file QP_ECORRUPT; a leftover
 * .tmp never breaks a load; growth that cannot allocate still records the
 * id; save runs safely while another thread adds.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/rng.h"
#include "ledger/idfilter.h"
#include "test_util.h"

enum { MILLION = 1000000 };

typedef struct fixture {
  char dir[256];  /* temporary directory, removed by teardown */
  char path[300]; /* dir/ids.filter */
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  qp_test_tmpdir(f->dir, sizeof f->dir);
  snprintf(f->path, sizeof f->path, "%s/ids.filter", f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  qp_test_rmdir(f->dir);
  free(f);
  return 0;
}

/* Random ids for the filter have the top bit clear, absent ones have it
 * set, so "absent" is certain, not merely likely. */
static qp_u128 random_id(qp_rng_t *rng, bool absent) {
  qp_u128 hi = qp_rng_next(rng) >> 1;
  if (absent) hi |= (uint64_t)1 << 63;
  return (hi << 64) | qp_rng_next(rng);
}

/* The i-th id of a deterministic random sequence (for threads that must
 * agree on ids without sharing an array). */
static qp_u128 nth_id(uint64_t i) {
  qp_rng_t rng;
  qp_rng_seed(&rng, 0x5EED0000u + i * 2);
  return random_id(&rng, false);
}

static void add_all_ok(qp__idfilter_t *f, const qp_u128 *ids, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) assert_int_equal(qp__idfilter_add(f, ids[i]), 0);
}

static void assert_all_present(const qp__idfilter_t *f, const qp_u128 *ids, uint64_t n) {
  uint64_t missing = 0;
  for (uint64_t i = 0; i < n; i++) missing += !qp__idfilter_may_contain(f, ids[i]);
  assert_int_equal(missing, 0);
}

/* False positives among n absent ids (random, or sequential from `first`),
 * in parts per 100 000. */
static uint64_t fp_random_pcm(const qp__idfilter_t *f, uint64_t seed, uint64_t n) {
  qp_rng_t rng;
  qp_rng_seed(&rng, seed);
  uint64_t hits = 0;
  for (uint64_t i = 0; i < n; i++) hits += qp__idfilter_may_contain(f, random_id(&rng, true));
  return hits * 100000 / n;
}

static uint64_t fp_sequential_pcm(const qp__idfilter_t *f, qp_u128 first, uint64_t n) {
  uint64_t hits = 0;
  for (uint64_t i = 0; i < n; i++) hits += qp__idfilter_may_contain(f, first + i);
  return hits * 100000 / n;
}

static void print_rates(const char *what, uint64_t random_pcm, uint64_t sequential_pcm) {
  print_message("%s: false positives %llu.%03llu %% of random, %llu.%03llu %% of sequential ids\n",
                what, (unsigned long long)random_pcm / 1000, (unsigned long long)random_pcm % 1000,
                (unsigned long long)sequential_pcm / 1000,
                (unsigned long long)sequential_pcm % 1000);
}

static qp_u128 *random_ids(uint64_t seed, uint64_t n) {
  qp_u128 *ids = malloc(n * sizeof *ids);
  assert_non_null(ids);
  qp_rng_t rng;
  qp_rng_seed(&rng, seed);
  for (uint64_t i = 0; i < n; i++) ids[i] = random_id(&rng, false);
  return ids;
}

/* ------------------------------------------------------------ answers */

static void test_no_false_negatives_random(void **state) {
  (void)state;
  qp__idfilter_t f;
  assert_int_equal(qp__idfilter_init(&f, 1), 0); /* raised to CAPACITY_MIN */
  qp_u128 *ids = random_ids(1, MILLION);
  for (uint64_t i = 0; i < MILLION; i++) {
    assert_int_equal(qp__idfilter_add(&f, ids[i]), 0);
    /* The id just added answers at once, even right after a growth. */
    assert_true(qp__idfilter_may_contain(&f, ids[i]));
  }
  /* Capacities 4096 * 2^g: 4096 * (2^7 - 1) < 1M <= 4096 * (2^8 - 1). */
  assert_int_equal(qp__idfilter_generations(&f), 8);
  assert_true(qp__idfilter_check(&f));
  assert_all_present(&f, ids, MILLION);
  free(ids);
  qp__idfilter_deinit(&f);
}

static void test_no_false_negatives_sequential(void **state) {
  (void)state;
  /* Sequential in the low half (counters), then in the high half with a
   * fixed low half (time-ordered ids). */
  for (int shift = 0; shift <= 64; shift += 64) {
    qp__idfilter_t f;
    assert_int_equal(qp__idfilter_init(&f, QP__IDFILTER_CAPACITY_MIN), 0);
    qp_u128 *ids = malloc(MILLION * sizeof *ids);
    assert_non_null(ids);
    for (uint64_t i = 0; i < MILLION; i++)
      ids[i] = ((qp_u128)(i + 1) << shift) | (shift ? 12345 : 0);
    add_all_ok(&f, ids, MILLION);
    assert_true(qp__idfilter_generations(&f) >= 8);
    assert_all_present(&f, ids, MILLION);
    free(ids);
    qp__idfilter_deinit(&f);
  }
}

/* One generation filled to its design capacity: the split-block formula
 * (Poisson over 44 ids a block, one bit in each of 8 words of 64 bits)
 * predicts 0.49 %, i.e. about 4900 of 1M with a standard deviation of
 * about 70.  The bound, 1 %, is 70 deviations away from noise, yet a hash
 * that clusters sequential ids or a bit-position bug blows through it. */
static void test_false_positive_rate_one_generation(void **state) {
  (void)state;
  qp__idfilter_t f;
  assert_int_equal(qp__idfilter_init(&f, MILLION), 0);
  qp_u128 *ids = random_ids(2, MILLION);
  add_all_ok(&f, ids, MILLION);
  assert_int_equal(qp__idfilter_generations(&f), 1);
  uint64_t random_pcm = fp_random_pcm(&f, 3, MILLION);
  qp__idfilter_deinit(&f);
  free(ids);

  /* The ledger's case: ids 1..1M present, the next 1M asked about. */
  assert_int_equal(qp__idfilter_init(&f, MILLION), 0);
  for (qp_u128 id = 1; id <= MILLION; id++) assert_int_equal(qp__idfilter_add(&f, id), 0);
  uint64_t sequential_pcm = fp_sequential_pcm(&f, MILLION + 1, MILLION);
  uint64_t centibits = qp__idfilter_bytes(&f) * 800 / MILLION;
  print_rates("one generation at capacity", random_pcm, sequential_pcm);
  print_message("  %llu.%02llu bits per id\n", (unsigned long long)centibits / 100,
                (unsigned long long)centibits % 100);
  assert_true(random_pcm < 1000);
  assert_true(sequential_pcm < 1000);
  /* And far from zero: a filter that answers "maybe" too rarely would be
   * the sign of a test that is not measuring what it claims. */
  assert_true(random_pcm > 200 && sequential_pcm > 200);
  qp__idfilter_deinit(&f);
}

/* From 131072, 1M ids fill generations of 128K, 256K and 512K (0.49 %
 * each) and put ~83K in the 1M generation (8 % load: ~0.000 %), so the
 * rate is about 1 - 0.9951^3 = 1.46 %, ~14600 +- 120 of 1M.  Bound: 2 %,
 * which a fourth full generation's worth of extra positives would break. */
static void test_false_positive_rate_across_generations(void **state) {
  (void)state;
  qp__idfilter_t f;
  assert_int_equal(qp__idfilter_init(&f, 131072), 0);
  qp_u128 *ids = random_ids(4, MILLION);
  add_all_ok(&f, ids, MILLION);
  assert_int_equal(qp__idfilter_generations(&f), 4);
  uint64_t random_pcm = fp_random_pcm(&f, 5, MILLION);
  qp__idfilter_deinit(&f);
  free(ids);

  assert_int_equal(qp__idfilter_init(&f, 131072), 0);
  for (qp_u128 id = 1; id <= MILLION; id++) assert_int_equal(qp__idfilter_add(&f, id), 0);
  uint64_t sequential_pcm = fp_sequential_pcm(&f, MILLION + 1, MILLION);
  print_rates("4 generations, 1M ids", random_pcm, sequential_pcm);
  assert_true(random_pcm < 2000);
  assert_true(sequential_pcm < 2000);
  qp__idfilter_deinit(&f);
}

static void test_count_and_bytes(void **state) {
  (void)state;
  qp__idfilter_t f;
  assert_int_equal(qp__idfilter_init(&f, 0), 0);
  assert_int_equal(qp__idfilter_count(&f), 0);
  assert_int_equal(qp__idfilter_bytes(&f), ((QP__IDFILTER_CAPACITY_DEFAULT + 43) / 44 + 1) * 64);
  for (int round = 0; round < 3; round++) {
    for (qp_u128 id = 1; id <= 10; id++) assert_int_equal(qp__idfilter_add(&f, id << 64 | id), 0);
  }
  assert_int_equal(qp__idfilter_count(&f), 10); /* repeats count once */
  qp__idfilter_deinit(&f);

  /* Distinct ids: only those whose bits were all set already go uncounted. */
  assert_int_equal(qp__idfilter_init(&f, QP__IDFILTER_CAPACITY_MIN), 0);
  qp_u128 *ids = random_ids(6, MILLION);
  add_all_ok(&f, ids, MILLION);
  assert_true(qp__idfilter_count(&f) <= MILLION);
  assert_true(qp__idfilter_count(&f) >= MILLION - MILLION / 100);
  size_t bytes = 0;
  for (uint32_t g = 0; g < qp__idfilter_generations(&f); g++)
    bytes += (((uint64_t)QP__IDFILTER_CAPACITY_MIN << g) + 43) / 44 * 64 + 64;
  assert_int_equal(qp__idfilter_bytes(&f), bytes);
  free(ids);
  qp__idfilter_deinit(&f);

  /* The budget: 20M ids in one generation within 32 MB. */
  assert_int_equal(qp__idfilter_init(&f, 20 * MILLION), 0);
  uint64_t centibits = qp__idfilter_bytes(&f) * 800 / (20 * MILLION);
  print_message("20M-id generation: %zu bytes, %llu.%02llu bits per id\n", qp__idfilter_bytes(&f),
                (unsigned long long)centibits / 100, (unsigned long long)centibits % 100);
  assert_true(qp__idfilter_bytes(&f) <= 32 * MILLION);
  qp__idfilter_deinit(&f);
}

static void test_init_limits(void **state) {
  (void)state;
  qp__idfilter_t f;
  assert_int_equal(qp__idfilter_init(&f, QP__IDFILTER_CAPACITY_MAX + 1), QP_EINVAL);
  qp__idfilter_deinit(&f); /* harmless after a failed init */
  assert_int_equal(qp__idfilter_init(&f, 1), 0);
  assert_int_equal(qp__idfilter_bytes(&f), ((QP__IDFILTER_CAPACITY_MIN + 43) / 44 + 1) * 64);
  assert_false(qp__idfilter_may_contain(&f, 1));
  qp__idfilter_deinit(&f);
  qp__idfilter_deinit(&f); /* twice is harmless too */
  qp_alloc_fail_after(0);
  assert_int_equal(qp__idfilter_init(&f, 0), QP_ENOMEM);
  qp_alloc_fail_after(-1);
  qp__idfilter_deinit(&f);
}

/* Growth that cannot allocate still records the id, and the next add grows. */
static void test_add_when_growth_fails(void **state) {
  (void)state;
  qp__idfilter_t f;
  assert_int_equal(qp__idfilter_init(&f, QP__IDFILTER_CAPACITY_MIN), 0);
  qp_rng_t rng;
  qp_rng_seed(&rng, 7);
  while (qp__idfilter_count(&f) < QP__IDFILTER_CAPACITY_MIN)
    assert_int_equal(qp__idfilter_add(&f, random_id(&rng, false)), 0);
  assert_int_equal(qp__idfilter_generations(&f), 1);
  qp_u128 unlucky = random_id(&rng, false);
  qp_alloc_fail_after(0);
  assert_int_equal(qp__idfilter_add(&f, unlucky), QP_ENOMEM);
  qp_alloc_fail_after(-1);
  assert_int_equal(qp__idfilter_generations(&f), 1);
  assert_true(qp__idfilter_may_contain(&f, unlucky));
  qp_u128 next = random_id(&rng, false);
  assert_int_equal(qp__idfilter_add(&f, next), 0);
  assert_int_equal(qp__idfilter_generations(&f), 2);
  assert_true(qp__idfilter_may_contain(&f, unlucky));
  assert_true(qp__idfilter_may_contain(&f, next));
  assert_true(qp__idfilter_check(&f));
  qp__idfilter_deinit(&f);
}

/* --------------------------------------------------------------- file */

static void build(qp__idfilter_t *f, uint64_t hint, uint64_t seed, uint64_t n) {
  assert_int_equal(qp__idfilter_init(f, hint), 0);
  qp_rng_t rng;
  qp_rng_seed(&rng, seed);
  for (uint64_t i = 0; i < n; i++) assert_int_equal(qp__idfilter_add(f, random_id(&rng, false)), 0);
}

static void assert_same_filter(const qp__idfilter_t *a, const qp__idfilter_t *b) {
  assert_int_equal(qp__idfilter_generations(a), qp__idfilter_generations(b));
  assert_int_equal(qp__idfilter_count(a), qp__idfilter_count(b));
  assert_int_equal(qp__idfilter_bytes(a), qp__idfilter_bytes(b));
  for (uint32_t g = 0; g < qp__idfilter_generations(a); g++) {
    assert_int_equal(a->gens[g].capacity, b->gens[g].capacity);
    assert_int_equal(a->gens[g].count, b->gens[g].count);
    assert_memory_equal((const void *)a->gens[g].words, (const void *)b->gens[g].words,
                        a->gens[g].blocks * 64);
  }
}

static void test_save_load_round_trip(void **state) {
  fixture_t *fx = *state;
  qp__idfilter_t f, g;
  build(&f, QP__IDFILTER_CAPACITY_MIN, 8, 200000);
  assert_true(qp__idfilter_generations(&f) >= 5);
  uint64_t cover = 0xC0FFEE0123456789ull;
  assert_int_equal(qp__idfilter_save(&f, fx->path, cover), 0);
  uint64_t loaded_cover = 0;
  char detail[512];
  int rc = qp__idfilter_load(fx->path, &g, &loaded_cover, detail, sizeof detail);
  if (rc != 0) print_message("load: %s\n", detail);
  assert_int_equal(rc, 0);
  assert_int_equal(loaded_cover, cover);
  assert_same_filter(&f, &g);
  /* Every answer, for present and for absent ids. */
  qp_rng_t rng;
  qp_rng_seed(&rng, 8);
  for (int i = 0; i < 200000; i++)
    assert_true(qp__idfilter_may_contain(&g, random_id(&rng, false)));
  qp_rng_t absent;
  qp_rng_seed(&absent, 9);
  for (int i = 0; i < MILLION; i++) {
    qp_u128 id = random_id(&absent, true);
    assert_int_equal(qp__idfilter_may_contain(&f, id), qp__idfilter_may_contain(&g, id));
  }
  /* A loaded filter keeps growing as the original would. */
  assert_int_equal(qp__idfilter_add(&g, 42), 0);
  assert_true(qp__idfilter_may_contain(&g, 42));
  struct stat st;
  assert_int_equal(stat(fx->path, &st), 0);
  print_message("file: %lld bytes, %lld allocated\n", (long long)st.st_size,
                (long long)st.st_blocks * 512);
  qp__idfilter_deinit(&f);
  qp__idfilter_deinit(&g);
}

/* All-zero pages are holes: an empty 1M-id filter is 1.4 MB long but
 * allocates almost nothing (and still loads back). */
static void test_save_is_sparse(void **state) {
  fixture_t *fx = *state;
  qp__idfilter_t f, g;
  build(&f, MILLION, 10, 3);
  assert_int_equal(qp__idfilter_save(&f, fx->path, 1), 0);
  struct stat st;
  assert_int_equal(stat(fx->path, &st), 0);
  assert_true(st.st_size > MILLION);
  assert_true((long long)st.st_blocks * 512 <= 64 * 1024);
  uint64_t cover;
  assert_int_equal(qp__idfilter_load(fx->path, &g, &cover, NULL, 0), 0);
  assert_same_filter(&f, &g);
  qp__idfilter_deinit(&f);
  qp__idfilter_deinit(&g);
}

static void test_load_missing_file(void **state) {
  fixture_t *fx = *state;
  qp__idfilter_t g;
  uint64_t cover = 77;
  char detail[512];
  assert_int_equal(qp__idfilter_load(fx->path, &g, &cover, detail, sizeof detail), QP_ENOTFOUND);
  assert_int_equal(cover, 77);
  assert_int_equal(qp__idfilter_generations(&g), 0);
  qp__idfilter_deinit(&g);
}

static uint8_t *read_whole(const char *path, size_t *size) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  assert_int_equal(fseek(fp, 0, SEEK_END), 0);
  long len = ftell(fp);
  assert_true(len > 0);
  rewind(fp);
  uint8_t *buf = malloc((size_t)len);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
  fclose(fp);
  *size = (size_t)len;
  return buf;
}

static void write_whole(const char *path, const uint8_t *buf, size_t size) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(buf, 1, size, fp), size);
  assert_int_equal(fclose(fp), 0);
}

/* Loads path expecting QP_ECORRUPT, a detail, no filter and no cover. */
static void assert_corrupt(const char *path, const char *what, size_t where) {
  qp__idfilter_t g;
  uint64_t cover = 5;
  char detail[512];
  int rc = qp__idfilter_load(path, &g, &cover, detail, sizeof detail);
  if (rc != QP_ECORRUPT)
    print_message("%s at %zu: load returned %s\n", what, where, qp_err_name(rc));
  assert_int_equal(rc, QP_ECORRUPT);
  assert_true(strlen(detail) > strlen(path) + 2);
  assert_int_equal(cover, 5);
  assert_int_equal(qp__idfilter_generations(&g), 0);
  assert_null(g.gens[0].raw);
}

static void test_load_rejects_flipped_bytes(void **state) {
  fixture_t *fx = *state;
  qp__idfilter_t f;
  build(&f, QP__IDFILTER_CAPACITY_MIN, 11, 6000); /* two generations */
  assert_int_equal(qp__idfilter_generations(&f), 2);
  assert_int_equal(qp__idfilter_save(&f, fx->path, 99), 0);
  qp__idfilter_deinit(&f);
  size_t size;
  uint8_t *orig = read_whole(fx->path, &size);
  uint8_t *copy = malloc(size);
  assert_non_null(copy);
  uint64_t tried = 0;
  for (size_t off = 0; off < size; off++) {
    /* Every byte of the header, table and checksum; a sample elsewhere,
     * including the zero padding and zero pages of the bodies. */
    bool sample = off < 64 + 2 * 32 || off >= size - 32 || off % 37 == 0;
    if (!sample) continue;
    memcpy(copy, orig, size);
    copy[off] ^= (uint8_t)(1u << (off % 8));
    write_whole(fx->path, copy, size);
    assert_corrupt(fx->path, "flipped byte", off);
    tried++;
  }
  assert_true(tried > 700);
  /* The untouched file still loads: the refusals were about the flips. */
  write_whole(fx->path, orig, size);
  qp__idfilter_t g;
  uint64_t cover = 0;
  assert_int_equal(qp__idfilter_load(fx->path, &g, &cover, NULL, 0), 0);
  assert_int_equal(cover, 99);
  qp__idfilter_deinit(&g);
  free(copy);
  free(orig);
}

static void test_load_rejects_truncated_and_extended(void **state) {
  fixture_t *fx = *state;
  qp__idfilter_t f;
  build(&f, QP__IDFILTER_CAPACITY_MIN, 12, 6000);
  assert_int_equal(qp__idfilter_save(&f, fx->path, 3), 0);
  qp__idfilter_deinit(&f);
  size_t size;
  uint8_t *orig = read_whole(fx->path, &size);
  size_t lengths[] = {0,    1,    8,        63,        64,        4095,     4096,
                      4127, 4128, 4200, size / 2, size - 33, size - 32, size - 1};
  for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
    write_whole(fx->path, orig, lengths[i]);
    assert_corrupt(fx->path, "truncated to", lengths[i]);
  }
  uint8_t *longer = calloc(1, size + 4096);
  assert_non_null(longer);
  memcpy(longer, orig, size);
  write_whole(fx->path, longer, size + 1);
  assert_corrupt(fx->path, "extended to", size + 1);
  write_whole(fx->path, longer, size + 4096);
  assert_corrupt(fx->path, "extended to", size + 4096);
  free(longer);
  free(orig);
}

/* A crash mid-save leaves path.tmp with anything in it: load reads path,
 * and the next save replaces both; a failed save leaves path as it was. */
static void test_save_atomic_with_leftover_tmp(void **state) {
  fixture_t *fx = *state;
  char tmp[320];
  snprintf(tmp, sizeof tmp, "%s.tmp", fx->path);
  qp__idfilter_t f, g;
  build(&f, QP__IDFILTER_CAPACITY_MIN, 13, 5000);
  assert_int_equal(qp__idfilter_save(&f, fx->path, 1), 0);
  assert_int_equal(access(tmp, F_OK), -1); /* renamed away */

  /* A torn save: a long garbage tmp file beside the good one. */
  size_t junk_size = 100000;
  uint8_t *junk = malloc(junk_size);
  assert_non_null(junk);
  memset(junk, 0xA5, junk_size);
  write_whole(tmp, junk, junk_size);
  uint64_t cover = 0;
  assert_int_equal(qp__idfilter_load(fx->path, &g, &cover, NULL, 0), 0);
  assert_int_equal(cover, 1);
  assert_same_filter(&f, &g);
  qp__idfilter_deinit(&g);

  /* The next save overwrites the leftover from the start: the garbage must
   * not survive in the holes of the sparse file. */
  assert_int_equal(qp__idfilter_add(&f, 4242), 0);
  assert_int_equal(qp__idfilter_save(&f, fx->path, 2), 0);
  assert_int_equal(access(tmp, F_OK), -1);
  assert_int_equal(qp__idfilter_load(fx->path, &g, &cover, NULL, 0), 0);
  assert_int_equal(cover, 2);
  assert_same_filter(&f, &g);
  assert_true(qp__idfilter_may_contain(&g, 4242));
  qp__idfilter_deinit(&g);

  /* A save that fails (here path.tmp cannot be created: it is a directory)
   * leaves the previous file whole. */
  assert_int_equal(mkdir(tmp, 0700), 0);
  assert_int_equal(qp__idfilter_add(&f, 4343), 0);
  assert_true(qp__idfilter_save(&f, fx->path, 3) != 0);
  assert_int_equal(qp__idfilter_load(fx->path, &g, &cover, NULL, 0), 0);
  assert_int_equal(cover, 2);
  assert_true(qp__idfilter_may_contain(&g, 4242));
  qp__idfilter_deinit(&g);
  qp__idfilter_deinit(&f);
  free(junk);
}

static void test_save_into_missing_directory(void **state) {
  fixture_t *fx = *state;
  char path[400];
  snprintf(path, sizeof path, "%s/no/such/dir/ids.filter", fx->dir);
  qp__idfilter_t f;
  build(&f, 0, 14, 10);
  assert_int_equal(qp__idfilter_save(&f, path, 1), QP_ENOTFOUND);
  qp__idfilter_deinit(&f);
}

/* Injected allocation failures at every allocation of a load: QP_ENOMEM,
 * nothing half-loaded, nothing leaked (LeakSanitizer in the ASan build). */
static void test_load_under_oom(void **state) {
  fixture_t *fx = *state;
  qp__idfilter_t f, g;
  build(&f, QP__IDFILTER_CAPACITY_MIN, 15, 30000);
  uint32_t generations = qp__idfilter_generations(&f);
  assert_true(generations >= 3);
  assert_int_equal(qp__idfilter_save(&f, fx->path, 6), 0);
  uint32_t failures = 0;
  for (int64_t k = 0; k < 64; k++) {
    uint64_t cover = 0;
    qp_alloc_fail_after(k);
    int rc = qp__idfilter_load(fx->path, &g, &cover, NULL, 0);
    qp_alloc_fail_after(-1);
    if (rc == 0) {
      assert_int_equal(cover, 6);
      assert_same_filter(&f, &g);
      qp__idfilter_deinit(&g);
      break;
    }
    assert_int_equal(rc, QP_ENOMEM);
    assert_int_equal(qp__idfilter_generations(&g), 0);
    assert_int_equal(cover, 0);
    failures++;
  }
  /* One allocation per generation, plus the file handle's. */
  assert_true(failures >= generations);
  qp__idfilter_deinit(&f);
}

/* ------------------------------------------------------- concurrency */

/* The adder may run at most one window of ids ahead of the saves. */
enum { CONCURRENT_IDS = 400000, CONCURRENT_WINDOW = 25000, CONCURRENT_SAMPLE = 20000 };

typedef struct shared {
  qp__idfilter_t filter;      /* written by the main thread only */
  _Atomic uint64_t added;     /* nth_id(0 .. added) have been added */
  _Atomic bool done;          /* the main thread has finished adding */
  _Atomic uint64_t saves;     /* saves the saver has verified */
  _Atomic bool stopped;       /* the saver has returned */
  const char *path;           /* where the saver saves */
  uint64_t overlapped;        /* saves during which ids were added */
  uint64_t grown;             /* saves during which the filter grew */
  uint64_t checks_failed;     /* ids missing, as the saver saw them */
} shared_t;

/* Saves while the main thread adds (and grows); every id added before the
 * save started must be in the file, and in the live filter. */
static void *saver(void *arg) {
  shared_t *s = arg;
  while (!atomic_load(&s->done)) {
    uint64_t cover = atomic_load_explicit(&s->added, memory_order_acquire);
    uint32_t generations = qp__idfilter_generations(&s->filter);
    if (qp__idfilter_save(&s->filter, s->path, cover) != 0) {
      s->checks_failed++;
      break;
    }
    s->overlapped += atomic_load_explicit(&s->added, memory_order_acquire) > cover;
    s->grown += qp__idfilter_generations(&s->filter) > generations;
    qp__idfilter_t loaded;
    uint64_t got = 0;
    if (qp__idfilter_load(s->path, &loaded, &got, NULL, 0) != 0 || got != cover) {
      s->checks_failed++;
      break;
    }
    for (uint64_t i = 0; i < cover; i += cover / CONCURRENT_SAMPLE + 1) {
      s->checks_failed += !qp__idfilter_may_contain(&loaded, nth_id(i));
      s->checks_failed += !qp__idfilter_may_contain(&s->filter, nth_id(i));
    }
    qp__idfilter_deinit(&loaded);
    atomic_fetch_add(&s->saves, 1);
  }
  atomic_store(&s->stopped, true);
  return NULL;
}

static void test_save_while_adding(void **state) {
  fixture_t *fx = *state;
  shared_t *s = calloc(1, sizeof *s);
  assert_non_null(s);
  s->path = fx->path;
  assert_int_equal(qp__idfilter_init(&s->filter, QP__IDFILTER_CAPACITY_MIN), 0);
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, saver, s), 0);
  /* Paced so that saves and adds interleave whatever the threads' speeds:
   * after each save the adder runs a window ahead while the next save
   * reads.  No assert until the saver is joined. */
  uint64_t i = 0;
  int add_rc = 0;
  while (i < CONCURRENT_IDS) {
    if (i >= (atomic_load(&s->saves) + 1) * CONCURRENT_WINDOW) {
      if (atomic_load(&s->stopped)) break;
      sched_yield();
      continue;
    }
    add_rc |= qp__idfilter_add(&s->filter, nth_id(i));
    atomic_store_explicit(&s->added, ++i, memory_order_release);
  }
  atomic_store(&s->done, true);
  assert_int_equal(pthread_join(thread, NULL), 0);
  print_message("%llu saves verified while adding %llu ids (%llu overlapped adds, %llu a growth), "
                "%u generations\n",
                (unsigned long long)atomic_load(&s->saves), (unsigned long long)i,
                (unsigned long long)s->overlapped, (unsigned long long)s->grown,
                qp__idfilter_generations(&s->filter));
  assert_int_equal(add_rc, 0);
  assert_int_equal(i, CONCURRENT_IDS);
  assert_int_equal(s->checks_failed, 0);
  assert_true(atomic_load(&s->saves) >= CONCURRENT_IDS / CONCURRENT_WINDOW - 1);
  assert_true(s->overlapped >= 1);
  assert_true(qp__idfilter_generations(&s->filter) >= 6);
  qp__idfilter_deinit(&s->filter);
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_false_negatives_random),
      cmocka_unit_test(test_no_false_negatives_sequential),
      cmocka_unit_test(test_false_positive_rate_one_generation),
      cmocka_unit_test(test_false_positive_rate_across_generations),
      cmocka_unit_test(test_count_and_bytes),
      cmocka_unit_test(test_init_limits),
      cmocka_unit_test(test_add_when_growth_fails),
      cmocka_unit_test_setup_teardown(test_save_load_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_save_is_sparse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_load_missing_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_load_rejects_flipped_bytes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_load_rejects_truncated_and_extended, setup, teardown),
      cmocka_unit_test_setup_teardown(test_save_atomic_with_leftover_tmp, setup, teardown),
      cmocka_unit_test_setup_teardown(test_save_into_missing_directory, setup, teardown),
      cmocka_unit_test_setup_teardown(test_load_under_oom, setup, teardown),
      cmocka_unit_test_setup_teardown(test_save_while_adding, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
