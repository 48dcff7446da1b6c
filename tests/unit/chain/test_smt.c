/*
 * test_smt.c - the state's sparse Merkle tree against a reference model
 * kept here (the root of a key set computed from the definition in smt.h,
 * recursively and from scratch): empty, one-key and large trees built in
 * random batches of puts and deletes, old versions untouched by updates,
 * inclusion and non-inclusion proofs for every key and for absent ones,
 * every way of tampering a proof refused, and no node leaked - even when
 * allocations fail half-way through an update.
 */
#include "base/rng.h"
#include "chain/smt.h"
#include "chain_test.h"

#define SUITE QP_SUITE_ED25519

typedef struct pair {
  uint8_t key[QP_HASH_SIZE];
  uint8_t value[QP_HASH_SIZE];
} pair_t;

static bool bit(const uint8_t *h, uint32_t d) { return (h[d / 8] >> (7u - d % 8u)) & 1u; }

/* The reference: the root of pairs (any order) at depth d, by definition. */
static void ref_root(const pair_t *p, size_t n, uint32_t d, uint8_t out[QP_HASH_SIZE]) {
  if (n == 0) {
    memset(out, 0, QP_HASH_SIZE);
    return;
  }
  if (n == 1) {
    assert_int_equal(qp_smt_leaf_hash(SUITE, p[0].key, p[0].value, out), 0);
    return;
  }
  pair_t *l = qp_malloc(n * sizeof *l), *r = qp_malloc(n * sizeof *r);
  size_t nl = 0, nr = 0;
  for (size_t i = 0; i < n; i++) {
    if (bit(p[i].key, d)) r[nr++] = p[i];
    else l[nl++] = p[i];
  }
  if (nl == 0 || nr == 0) { /* all on one side: the same node one level down */
    ref_root(nl ? l : r, n, d + 1, out);
    uint8_t buf[1 + 2 * QP_HASH_SIZE] = {0x01};
    memcpy(nl ? buf + 1 : buf + 1 + QP_HASH_SIZE, out, QP_HASH_SIZE);
    qp_hash256(out, buf, sizeof buf);
  } else {
    uint8_t buf[1 + 2 * QP_HASH_SIZE] = {0x01};
    ref_root(l, nl, d + 1, buf + 1);
    ref_root(r, nr, d + 1, buf + 1 + QP_HASH_SIZE);
    qp_hash256(out, buf, sizeof buf);
  }
  qp_free(l);
  qp_free(r);
}

static void random_hash(qp_rng_t *rng, uint8_t out[QP_HASH_SIZE]) {
  for (int i = 0; i < 4; i++) {
    uint64_t x = qp_rng_next(rng);
    memcpy(out + 8 * i, &x, 8);
  }
}

static void check_root(const qp_smt_t *t, const pair_t *p, size_t n) {
  uint8_t want[QP_HASH_SIZE], got[QP_HASH_SIZE];
  ref_root(p, n, 0, want);
  qp_smt_root(t, got);
  assert_memory_equal(got, want, QP_HASH_SIZE);
}

static int verify(const qp_smt_t *t, const uint8_t *key, const uint8_t *value,
                  const qp_smt_proof_t *p) {
  uint8_t root[QP_HASH_SIZE];
  qp_smt_root(t, root);
  char detail[128] = "";
  return qp_smt_verify(SUITE, root, key, value, p, detail, sizeof detail);
}

static void test_empty_and_one(void **state) {
  (void)state;
  uint64_t alive = qp_smt_nodes_alive();
  qp_smt_t t, one;
  qp_smt_empty(SUITE, &t);
  check_root(&t, NULL, 0);
  pair_t p = {.key = {1, 2, 3}, .value = {9}};
  qp_smt_proof_t proof;
  qp_smt_prove(&t, p.key, &proof);
  assert_int_equal(verify(&t, p.key, NULL, &proof), 0);
  assert_int_equal(verify(&t, p.key, p.value, &proof), QP_EBADPROOF);
  qp_smt_update_t u = {.del = false};
  memcpy(u.key_hash, p.key, QP_HASH_SIZE);
  memcpy(u.value_hash, p.value, QP_HASH_SIZE);
  assert_int_equal(qp_smt_update(&t, &u, 1, &one), 0);
  check_root(&one, &p, 1);
  check_root(&t, NULL, 0); /* the old version is untouched */
  qp_smt_prove(&one, p.key, &proof);
  assert_int_equal(proof.depth, 0);
  assert_int_equal(verify(&one, p.key, p.value, &proof), 0);
  uint8_t other[QP_HASH_SIZE] = {0xff};
  qp_smt_prove(&one, other, &proof);
  assert_int_equal(verify(&one, other, NULL, &proof), 0);
  /* Deleting the only key gives the empty root back; deleting an absent one is no change. */
  qp_smt_t gone, same;
  u.del = true;
  assert_int_equal(qp_smt_update(&one, &u, 1, &gone), 0);
  check_root(&gone, NULL, 0);
  memcpy(u.key_hash, other, QP_HASH_SIZE);
  assert_int_equal(qp_smt_update(&one, &u, 1, &same), 0);
  check_root(&same, &p, 1);
  qp_smt_release(&same);
  qp_smt_release(&gone);
  qp_smt_release(&one);
  assert_int_equal(qp_smt_nodes_alive(), alive);
}

/* Applies a random batch (puts of new and old keys, deletes of present and
 * absent ones) to t and to the model. */
static void random_batch(qp_rng_t *rng, qp_smt_t *t, pair_t *model, size_t *n, size_t size) {
  qp_smt_update_t *u = qp_calloc(size, sizeof *u);
  size_t count = 0;
  for (size_t i = 0; i < size; i++) {
    uint64_t what = qp_rng_next(rng) % 8; /* 0 change, 1 delete, 2-6 add, 7 delete absent */
    if (*n > 0 && what < 2) memcpy(u[count].key_hash, model[qp_rng_next(rng) % *n].key, 32);
    else random_hash(rng, u[count].key_hash);
    u[count].del = what == 1 || what == 7;
    random_hash(rng, u[count].value_hash);
    bool dup = false;
    for (size_t j = 0; j < count; j++) dup |= memcmp(u[j].key_hash, u[count].key_hash, 32) == 0;
    count += dup ? 0 : 1;
  }
  qp_smt_sort(u, count);
  qp_smt_t next;
  assert_int_equal(qp_smt_update(t, u, count, &next), 0);
  qp_smt_release(t);
  *t = next;
  for (size_t i = 0; i < count; i++) {
    size_t at = *n;
    for (size_t j = 0; j < *n; j++)
      if (memcmp(model[j].key, u[i].key_hash, 32) == 0) at = j;
    if (u[i].del && at < *n) model[at] = model[--*n];
    else if (!u[i].del) {
      memcpy(model[at].key, u[i].key_hash, 32);
      memcpy(model[at].value, u[i].value_hash, 32);
      *n += at == *n ? 1 : 0;
    }
  }
  qp_free(u);
}

static void test_large_against_model(void **state) {
  (void)state;
  uint64_t alive = qp_smt_nodes_alive();
  qp_rng_t rng;
  qp_rng_seed(&rng, 20261202);
  pair_t *model = qp_calloc(4000, sizeof *model);
  size_t n = 0;
  qp_smt_t t, old;
  qp_smt_empty(SUITE, &t);
  for (int round = 0; round < 40; round++) {
    qp_smt_retain(&t, &old);
    pair_t *before = qp_malloc((n + 1) * sizeof *before);
    memcpy(before, model, n * sizeof *model);
    size_t n_before = n;
    random_batch(&rng, &t, model, &n, 1 + qp_rng_next(&rng) % 150);
    check_root(&t, model, n);
    check_root(&old, before, n_before); /* persistence */
    qp_smt_release(&old);
    qp_free(before);
  }
  assert_true(n > 1000);
  qp_smt_proof_t proof;
  for (size_t i = 0; i < n; i++) {
    qp_smt_prove(&t, model[i].key, &proof);
    assert_int_equal(verify(&t, model[i].key, model[i].value, &proof), 0);
    assert_int_equal(verify(&t, model[i].key, NULL, &proof), QP_EBADPROOF);
  }
  for (int i = 0; i < 500; i++) {
    uint8_t key[QP_HASH_SIZE], value[QP_HASH_SIZE] = {0};
    random_hash(&rng, key);
    qp_smt_prove(&t, key, &proof);
    assert_int_equal(verify(&t, key, NULL, &proof), 0);
    assert_int_equal(verify(&t, key, value, &proof), QP_EBADPROOF);
  }
  qp_smt_release(&t);
  qp_free(model);
  assert_int_equal(qp_smt_nodes_alive(), alive);
}

/* Builds a tree of n random keys; model gets them. */
static void make_tree(qp_smt_t *t, pair_t *model, size_t n, uint64_t seed) {
  qp_rng_t rng;
  qp_rng_seed(&rng, seed);
  qp_smt_update_t *u = qp_calloc(n, sizeof *u);
  for (size_t i = 0; i < n; i++) {
    random_hash(&rng, u[i].key_hash);
    random_hash(&rng, u[i].value_hash);
  }
  qp_smt_sort(u, n);
  for (size_t i = 0; i < n; i++) {
    memcpy(model[i].key, u[i].key_hash, 32);
    memcpy(model[i].value, u[i].value_hash, 32);
  }
  qp_smt_t empty;
  qp_smt_empty(SUITE, &empty);
  assert_int_equal(qp_smt_update(&empty, u, n, t), 0);
  qp_free(u);
}

static void test_tampering(void **state) {
  (void)state;
  pair_t model[300];
  qp_smt_t t;
  make_tree(&t, model, 300, 7);
  qp_smt_proof_t good, bad;
  qp_smt_prove(&t, model[5].key, &good);
  assert_true(good.depth >= 8);
  assert_int_equal(verify(&t, model[5].key, model[5].value, &good), 0);
  for (uint32_t d = 0; d < good.depth; d++) { /* every sibling, one bit */
    bad = good;
    bad.siblings[d][d % 32] ^= 0x10;
    assert_int_equal(verify(&t, model[5].key, model[5].value, &bad), QP_EBADPROOF);
  }
  bad = good;
  bad.leaf_value_hash[0] ^= 1;
  assert_int_equal(verify(&t, model[5].key, bad.leaf_value_hash, &bad), QP_EBADPROOF);
  uint8_t value[QP_HASH_SIZE];
  memcpy(value, model[5].value, 32);
  value[31] ^= 1;
  assert_int_equal(verify(&t, model[5].key, value, &good), QP_EBADPROOF);
  bad = good;
  bad.depth--;
  assert_int_equal(verify(&t, model[5].key, model[5].value, &bad), QP_EBADPROOF);
  bad = good;
  bad.depth++;
  assert_int_equal(verify(&t, model[5].key, model[5].value, &bad), QP_EBADPROOF);
  bad = good; /* an absence claimed by dropping the leaf */
  bad.leaf = false;
  assert_int_equal(verify(&t, model[5].key, NULL, &bad), QP_EBADPROOF);
  /* Another key's proof presented as this key's absence or presence. */
  qp_smt_prove(&t, model[6].key, &bad);
  assert_int_equal(verify(&t, model[5].key, NULL, &bad), QP_EBADPROOF);
  assert_int_equal(verify(&t, model[5].key, model[5].value, &bad), QP_EBADPROOF);
  bad = good;
  bad.depth = QP_SMT_DEPTH;
  assert_int_equal(verify(&t, model[5].key, model[5].value, &bad), QP_EINVAL);
  uint8_t root[QP_HASH_SIZE];
  qp_smt_root(&t, root);
  root[3] ^= 4;
  assert_int_equal(qp_smt_verify(SUITE, root, model[5].key, model[5].value, &good, NULL, 0),
                   QP_EBADPROOF);
  qp_smt_release(&t);
}

static void test_order_independent_and_refusals(void **state) {
  (void)state;
  pair_t model[200];
  qp_smt_t whole, parts, next;
  make_tree(&whole, model, 200, 11);
  qp_smt_empty(SUITE, &parts);
  for (size_t i = 200; i-- > 0;) { /* one key at a time, backwards */
    qp_smt_update_t u = {.del = false};
    memcpy(u.key_hash, model[i].key, 32);
    memcpy(u.value_hash, model[i].value, 32);
    assert_int_equal(qp_smt_update(&parts, &u, 1, &next), 0);
    qp_smt_release(&parts);
    parts = next;
  }
  uint8_t a[QP_HASH_SIZE], b[QP_HASH_SIZE];
  qp_smt_root(&whole, a);
  qp_smt_root(&parts, b);
  assert_memory_equal(a, b, QP_HASH_SIZE);
  qp_smt_update_t two[2] = {{.del = true}, {.del = true}};
  memcpy(two[0].key_hash, model[9].key, 32);
  memcpy(two[1].key_hash, model[3].key, 32); /* out of order */
  assert_int_equal(qp_smt_update(&whole, two, 2, &next), QP_EINVAL);
  memcpy(two[1].key_hash, model[9].key, 32); /* twice */
  assert_int_equal(qp_smt_update(&whole, two, 2, &next), QP_EINVAL);
  qp_smt_release(&whole);
  qp_smt_release(&parts);
}

static void test_allocation_failures(void **state) {
  (void)state;
  pair_t model[64];
  qp_smt_t base;
  make_tree(&base, model, 64, 3);
  uint64_t alive = qp_smt_nodes_alive();
  uint8_t root[QP_HASH_SIZE], after[QP_HASH_SIZE];
  qp_smt_root(&base, root);
  qp_smt_update_t u[8];
  qp_rng_t rng;
  qp_rng_seed(&rng, 5);
  for (int i = 0; i < 8; i++) {
    random_hash(&rng, u[i].key_hash);
    random_hash(&rng, u[i].value_hash);
    u[i].del = false;
  }
  qp_smt_sort(u, 8);
  int failures = 0;
  for (int64_t k = 0; k < 200; k++) {
    qp_smt_t out;
    qp_smt_cache_trim(); /* every node from malloc, so that the failures reach the update */
    qp_alloc_fail_after(k);
    int rc = qp_smt_update(&base, u, 8, &out);
    qp_alloc_fail_after(-1);
    if (rc == QP_ENOMEM) {
      failures++;
      assert_null(out.root);
      assert_int_equal(qp_smt_nodes_alive(), alive);
      continue;
    }
    assert_int_equal(rc, 0);
    qp_smt_release(&out);
    break;
  }
  assert_true(failures > 8);
  qp_smt_root(&base, after);
  assert_memory_equal(root, after, QP_HASH_SIZE);
  qp_smt_release(&base);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_and_one),
      cmocka_unit_test(test_large_against_model),
      cmocka_unit_test(test_tampering),
      cmocka_unit_test(test_order_independent_and_refusals),
      cmocka_unit_test(test_allocation_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
