/*
 * test_merkle.c - Merkle roots, audit paths and their verification, for
 * both suites.
 *
 * Roots for 0, 1, 2, 3, 5 and 8 leaves are composed by hand here from
 * qp_suite_hash calls, following RFC 6962's definition, and two roots are
 * pinned as hex computed with Python's hashlib so the construction cannot
 * drift.  Beyond that a recursive reference (recursion is fine in a test)
 * checks every size up to 40, every leaf's path verifies, and every tampered
 * path, leaf, index, size or root is refused.
 */
#include <string.h>

#include "hex.h"
#include "test_util.h"
#include "base/err.h"
#include "crypto/crypto.h"

#define LEAVES_MAX 40
#define H QP_HASH_SIZE

static const qp_suite_t suites[] = {QP_SUITE_ED25519, QP_SUITE_SM2};

/* Leaf i is 32 bytes of the value i. */
static uint8_t leaves[LEAVES_MAX][QP_MERKLE_LEAF_SIZE];

static int setup(void **state) {
  (void)state;
  for (int i = 0; i < LEAVES_MAX; i++) memset(leaves[i], i, QP_MERKLE_LEAF_SIZE);
  return 0;
}

static void leaf(qp_suite_t suite, int i, uint8_t out[H]) {
  uint8_t buf[1 + QP_MERKLE_LEAF_SIZE];
  buf[0] = 0x00;
  memcpy(buf + 1, leaves[i], QP_MERKLE_LEAF_SIZE);
  assert_int_equal(qp_suite_hash(suite, out, buf, sizeof buf), 0);
}

static void node(qp_suite_t suite, const uint8_t l[H], const uint8_t r[H], uint8_t out[H]) {
  uint8_t buf[1 + 2 * H];
  buf[0] = 0x01;
  memcpy(buf + 1, l, H);
  memcpy(buf + 1 + H, r, H);
  assert_int_equal(qp_suite_hash(suite, out, buf, sizeof buf), 0);
}

static void root_of(qp_suite_t suite, size_t n, uint8_t out[H]) {
  assert_int_equal(qp_merkle_root(suite, n ? leaves[0] : NULL, n, out), 0);
}

static void test_roots_composed_by_hand(void **state) {
  (void)state;
  for (size_t s = 0; s < 2; s++) {
    qp_suite_t su = suites[s];
    uint8_t l[8][H], n01[H], n23[H], n45[H], n67[H], n0123[H], n4567[H], want[H], got[H];
    for (int i = 0; i < 8; i++) leaf(su, i, l[i]);
    assert_int_equal(qp_suite_hash(su, want, "", 0), 0);
    root_of(su, 0, got);
    assert_memory_equal(got, want, H); /* empty tree: H("") */
    root_of(su, 1, got);
    assert_memory_equal(got, l[0], H);
    node(su, l[0], l[1], n01);
    root_of(su, 2, got);
    assert_memory_equal(got, n01, H);
    node(su, n01, l[2], want); /* 3 leaves: l2 rises, never paired with itself */
    root_of(su, 3, got);
    assert_memory_equal(got, want, H);
    node(su, l[2], l[3], n23);
    node(su, n01, n23, n0123);
    node(su, n0123, l[4], want); /* 5 leaves: split at 4 */
    root_of(su, 5, got);
    assert_memory_equal(got, want, H);
    node(su, l[4], l[5], n45);
    node(su, l[6], l[7], n67);
    node(su, n45, n67, n4567);
    node(su, n0123, n4567, want);
    root_of(su, 8, got);
    assert_memory_equal(got, want, H);
  }
}

/* Pinned with Python: hashlib.blake2b(digest_size=32) and hashlib.new("sm3"). */
static void test_pinned_roots(void **state) {
  (void)state;
  uint8_t got[H];
  root_of(QP_SUITE_ED25519, 5, got);
  assert_hex_equal(got, H, "b2b047a37695b94e83200507cffb4c86d2b66739b9e1bd1ae53f9bc091378465");
  root_of(QP_SUITE_SM2, 5, got);
  assert_hex_equal(got, H, "79dfa0cfc884c5e3f0339390a260bb7eb9bcaad7228ecc26dada4b51e24f398a");
  root_of(QP_SUITE_ED25519, 0, got);
  assert_hex_equal(got, H, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  root_of(QP_SUITE_SM2, 0, got);
  assert_hex_equal(got, H, "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b");
}

/* RFC 6962 section 2.1, recursively: MTH(D[lo, lo+n)). */
static void reference_root(qp_suite_t suite, size_t lo, size_t n, uint8_t out[H]) {
  if (n == 1) {
    leaf(suite, (int)lo, out);
    return;
  }
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  uint8_t l[H], r[H];
  reference_root(suite, lo, k, l);
  reference_root(suite, lo + k, n - k, r);
  node(suite, l, r, out);
}

static void test_roots_match_the_recursive_definition(void **state) {
  (void)state;
  for (size_t s = 0; s < 2; s++) {
    for (size_t n = 1; n <= LEAVES_MAX; n++) {
      uint8_t want[H], got[H];
      reference_root(suites[s], 0, n, want);
      root_of(suites[s], n, got);
      assert_memory_equal(got, want, H);
    }
    /* The Bitcoin ambiguity: [0, 1, 2] and [0, 1, 2, 2] differ here. */
    uint8_t three[H], four[H], dup[4][QP_MERKLE_LEAF_SIZE];
    memcpy(dup, leaves, 3 * QP_MERKLE_LEAF_SIZE);
    memcpy(dup[3], leaves[2], QP_MERKLE_LEAF_SIZE);
    root_of(suites[s], 3, three);
    assert_int_equal(qp_merkle_root(suites[s], dup[0], 4, four), 0);
    assert_memory_not_equal(three, four, H);
  }
}

/* Path length is the number of splits above the leaf. */
static size_t expected_path_len(size_t n, size_t i) {
  size_t depth = 0;
  while (n > 1) {
    size_t k = 1;
    while (k * 2 < n) k *= 2;
    if (i < k) {
      n = k;
    } else {
      i -= k;
      n -= k;
    }
    depth++;
  }
  return depth;
}

/* Every tampering of one proof must fail; the untouched proof must pass. */
static void assert_tampering_fails(qp_suite_t su, size_t n, size_t i, uint8_t *path,
                                   size_t len, const uint8_t root[H]) {
  const uint8_t *lf = leaves[i];
  assert_int_equal(qp_merkle_verify_proof(su, lf, i, n, path, len, root), 0);
  for (size_t b = 0; b < len * H * 8; b += 5) {
    path[b / 8] ^= (uint8_t)(1u << (b % 8));
    assert_int_equal(qp_merkle_verify_proof(su, lf, i, n, path, len, root), QP_EBADPROOF);
    path[b / 8] ^= (uint8_t)(1u << (b % 8));
  }
  uint8_t bad[H];
  memcpy(bad, root, H);
  bad[H - 1] ^= 0x80;
  assert_int_equal(qp_merkle_verify_proof(su, lf, i, n, path, len, bad), QP_EBADPROOF);
  memcpy(bad, lf, H);
  bad[0] ^= 1;
  assert_int_equal(qp_merkle_verify_proof(su, bad, i, n, path, len, root), QP_EBADPROOF);
  if (len > 0)
    assert_int_equal(qp_merkle_verify_proof(su, lf, i, n, path, len - 1, root), QP_EBADPROOF);
  uint8_t longer[(QP_MERKLE_PATH_MAX + 1) * H] = {0};
  memcpy(longer, path, len * H);
  assert_int_equal(qp_merkle_verify_proof(su, lf, i, n, longer, len + 1, root), QP_EBADPROOF);
  if (n > 1) {
    size_t j = (i + 1) % n; /* another position, same leaf */
    int rc = qp_merkle_verify_proof(su, lf, j, n, path, len, root);
    assert_int_equal(rc, QP_EBADPROOF);
  }
  /* The same path against the next tree, one leaf longer.  (Against this
   * tree's root with a larger count it can pass: the count must come from
   * the same signed header as the root, see docs/crypto.md.) */
  uint8_t next_root[H];
  root_of(su, n + 1, next_root);
  int rc = qp_merkle_verify_proof(su, lf, i, n + 1, path, len, next_root);
  assert_int_equal(rc, QP_EBADPROOF);
}

static void test_every_proof_verifies_and_tampering_fails(void **state) {
  (void)state;
  for (size_t s = 0; s < 2; s++) {
    for (size_t n = 1; n <= 17; n++) {
      uint8_t root[H], path[QP_MERKLE_PATH_MAX * H];
      root_of(suites[s], n, root);
      for (size_t i = 0; i < n; i++) {
        size_t len = 99;
        assert_int_equal(qp_merkle_proof(suites[s], leaves[0], n, i, path, &len), 0);
        assert_int_equal(len, expected_path_len(n, i));
        assert_tampering_fails(suites[s], n, i, path, len, root);
      }
    }
    /* A proof from one suite does not verify under the other. */
    uint8_t root[H], path[QP_MERKLE_PATH_MAX * H];
    size_t len = 0;
    root_of(suites[s], 5, root);
    assert_int_equal(qp_merkle_proof(suites[s], leaves[0], 5, 2, path, &len), 0);
    assert_int_equal(qp_merkle_verify_proof(suites[1 - s], leaves[2], 2, 5, path, len, root),
                     QP_EBADPROOF);
  }
}

static void test_proofs_at_size_40(void **state) {
  (void)state;
  for (size_t s = 0; s < 2; s++) {
    uint8_t root[H], path[QP_MERKLE_PATH_MAX * H];
    root_of(suites[s], LEAVES_MAX, root);
    for (size_t i = 0; i < LEAVES_MAX; i++) {
      size_t len = 0;
      assert_int_equal(qp_merkle_proof(suites[s], leaves[0], LEAVES_MAX, i, path, &len), 0);
      assert_int_equal(qp_merkle_verify_proof(suites[s], leaves[i], i, LEAVES_MAX, path, len,
                                              root),
                       0);
    }
  }
}

static void test_bad_arguments(void **state) {
  (void)state;
  uint8_t root[H], path[QP_MERKLE_PATH_MAX * H];
  size_t len = 7;
  const qp_suite_t ed = QP_SUITE_ED25519;
  assert_int_equal(qp_merkle_root((qp_suite_t)0, leaves[0], 3, root), QP_EINVAL);
  assert_int_equal(qp_merkle_root(ed, leaves[0], QP_MERKLE_LEAF_COUNT_MAX + 1, root),
                   QP_ELIMIT);
  assert_int_equal(qp_merkle_proof(ed, leaves[0], 3, 3, path, &len), QP_EINVAL);
  assert_int_equal(len, 0);
  assert_int_equal(qp_merkle_proof(ed, NULL, 0, 0, path, &len), QP_EINVAL);
  assert_int_equal(qp_merkle_proof((qp_suite_t)5, leaves[0], 3, 0, path, &len), QP_EINVAL);
  assert_int_equal(qp_merkle_proof(ed, leaves[0], QP_MERKLE_LEAF_COUNT_MAX + 1, 0, path, &len),
                   QP_ELIMIT);
  /* A single leaf: empty path, the root is the leaf hash. */
  root_of(ed, 1, root);
  assert_int_equal(qp_merkle_proof(ed, leaves[0], 1, 0, path, &len), 0);
  assert_int_equal(len, 0);
  assert_int_equal(qp_merkle_verify_proof(ed, leaves[0], 0, 1, NULL, 0, root), 0);
  /* Verification inputs come from peers. */
  assert_int_equal(qp_merkle_verify_proof(ed, leaves[0], 0, 0, NULL, 0, root), QP_EINVAL);
  assert_int_equal(qp_merkle_verify_proof(ed, leaves[0], 1, 1, NULL, 0, root), QP_EINVAL);
  assert_int_equal(qp_merkle_verify_proof(ed, leaves[0], 0, 1, NULL, 1, root), QP_EINVAL);
  assert_int_equal(qp_merkle_verify_proof(ed, NULL, 0, 1, NULL, 0, root), QP_EINVAL);
  assert_int_equal(qp_merkle_verify_proof(ed, leaves[0], 0, 1, NULL, 0, NULL), QP_EINVAL);
  assert_int_equal(qp_merkle_verify_proof((qp_suite_t)3, leaves[0], 0, 1, NULL, 0, root),
                   QP_EINVAL);
  uint8_t huge[(QP_MERKLE_PATH_MAX + 1) * H] = {0};
  assert_int_equal(
      qp_merkle_verify_proof(ed, leaves[0], 0, 2, huge, QP_MERKLE_PATH_MAX + 1, root),
      QP_EINVAL);
  assert_int_equal(
      qp_merkle_verify_proof(ed, leaves[0], 0, QP_MERKLE_LEAF_COUNT_MAX + 1, huge, 1, root),
      QP_ELIMIT);
  /* The deepest tree allowed takes a full-length path (all zero: no match). */
  assert_int_equal(qp_merkle_verify_proof(ed, leaves[0], 0, QP_MERKLE_LEAF_COUNT_MAX, huge,
                                          QP_MERKLE_PATH_MAX, root),
                   QP_EBADPROOF);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roots_composed_by_hand),
      cmocka_unit_test(test_pinned_roots),
      cmocka_unit_test(test_roots_match_the_recursive_definition),
      cmocka_unit_test(test_every_proof_verifies_and_tampering_fails),
      cmocka_unit_test(test_proofs_at_size_40),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
