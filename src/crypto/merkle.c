/*
 * merkle.c - binary Merkle roots, audit paths and their verification, in
 * the RFC 6962 / RFC 9162 shape, over either suite's hash.
 *
 * Leaves and inner nodes are hashed with different one-byte prefixes (0x00,
 * 0x01) so that no inner node can pass for a leaf.  A tree of n leaves
 * splits at the largest power of two below n, so an unpaired subtree moves
 * up unchanged instead of being paired with a copy of itself: the Bitcoin
 * duplication, where [a, b, c] and [a, b, c, c] share a root, cannot occur.
 * Nothing recurses: a root is built left to right on a stack of perfect
 * subtrees (at most one per bit of the leaf count), a path top-down by
 * halving the range, and a path is checked with RFC 9162's loop.
 */
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "crypto/crypto.h"

#define PREFIX_LEAF 0x00
#define PREFIX_NODE 0x01
#define STACK_MAX (QP_MERKLE_PATH_MAX + 1) /* perfect subtrees of < 2^25 leaves */

_Static_assert(QP_MERKLE_LEAF_COUNT_MAX == (size_t)1 << QP_MERKLE_PATH_MAX,
               "path length bound matches the leaf count bound");

static int leaf_hash(qp_suite_t suite, const uint8_t leaf[QP_MERKLE_LEAF_SIZE],
                     uint8_t out[QP_HASH_SIZE]) {
  uint8_t buf[1 + QP_MERKLE_LEAF_SIZE];
  buf[0] = PREFIX_LEAF;
  memcpy(buf + 1, leaf, QP_MERKLE_LEAF_SIZE);
  return qp_suite_hash(suite, out, buf, sizeof buf);
}

/* out may alias left or right. */
static int node_hash(qp_suite_t suite, const uint8_t *left, const uint8_t *right,
                     uint8_t out[QP_HASH_SIZE]) {
  uint8_t buf[1 + 2 * QP_HASH_SIZE];
  buf[0] = PREFIX_NODE;
  memcpy(buf + 1, left, QP_HASH_SIZE);
  memcpy(buf + 1 + QP_HASH_SIZE, right, QP_HASH_SIZE);
  return qp_suite_hash(suite, out, buf, sizeof buf);
}

/* Root of count leaves starting at leaves.  After leaf i the stack holds
 * one perfect subtree per set bit of i+1, largest at the bottom; the root
 * folds them from the top, which is exactly the split at the largest power
 * of two. */
static int range_root(qp_suite_t suite, const uint8_t *leaves, size_t count,
                      uint8_t out[QP_HASH_SIZE]) {
  QP_ASSERT(count <= QP_MERKLE_LEAF_COUNT_MAX);
  if (count == 0) return qp_suite_hash(suite, out, NULL, 0);
  uint8_t stack[STACK_MAX][QP_HASH_SIZE];
  size_t top = 0; /* entries in use */
  for (size_t i = 0; i < count; i++) {
    QP_ASSERT(top < STACK_MAX);
    int rc = leaf_hash(suite, leaves + i * QP_MERKLE_LEAF_SIZE, stack[top]);
    if (rc != 0) return rc;
    top++;
    for (size_t done = i + 1; (done & 1) == 0; done >>= 1) {
      QP_ASSERT(top >= 2);
      rc = node_hash(suite, stack[top - 2], stack[top - 1], stack[top - 2]);
      if (rc != 0) return rc;
      top--;
    }
  }
  QP_ASSERT(top >= 1 && top <= STACK_MAX);
  for (; top > 1; top--) {
    int rc = node_hash(suite, stack[top - 2], stack[top - 1], stack[top - 2]);
    if (rc != 0) return rc;
  }
  memcpy(out, stack[0], QP_HASH_SIZE);
  return 0;
}

/* The largest power of two strictly below n (n >= 2). */
static size_t split_point(size_t n) {
  QP_ASSERT(n >= 2);
  size_t k = 1;
  while (k < n - k) k <<= 1; /* stops at k >= n/2, k < n */
  QP_ASSERT(k < n && k * 2 >= n);
  return k;
}

int qp_merkle_root(qp_suite_t suite, const uint8_t *leaves, size_t leaf_count,
                   uint8_t root_out[QP_HASH_SIZE]) {
  QP_ASSERT(root_out != NULL);
  QP_ASSERT(leaves != NULL || leaf_count == 0);
  memset(root_out, 0, QP_HASH_SIZE);
  if (qp_suite_name(suite) == NULL) return QP_EINVAL;
  if (leaf_count > QP_MERKLE_LEAF_COUNT_MAX) return QP_ELIMIT;
  return range_root(suite, leaves, leaf_count, root_out);
}

int qp_merkle_proof(qp_suite_t suite, const uint8_t *leaves, size_t leaf_count, size_t index,
                    uint8_t path_out[QP_MERKLE_PATH_MAX * QP_HASH_SIZE], size_t *path_len_out) {
  QP_ASSERT(path_out != NULL && path_len_out != NULL);
  QP_ASSERT(leaves != NULL || leaf_count == 0);
  *path_len_out = 0;
  if (qp_suite_name(suite) == NULL || index >= leaf_count) return QP_EINVAL;
  if (leaf_count > QP_MERKLE_LEAF_COUNT_MAX) return QP_ELIMIT;
  /* Walk down from the root; siblings come out top first. */
  uint8_t siblings[QP_MERKLE_PATH_MAX][QP_HASH_SIZE];
  size_t depth = 0, lo = 0, n = leaf_count, m = index;
  while (n > 1) {
    QP_ASSERT(depth < QP_MERKLE_PATH_MAX && m < n);
    size_t k = split_point(n);
    int rc;
    if (m < k) {
      rc = range_root(suite, leaves + (lo + k) * QP_MERKLE_LEAF_SIZE, n - k, siblings[depth]);
      n = k;
    } else {
      rc = range_root(suite, leaves + lo * QP_MERKLE_LEAF_SIZE, k, siblings[depth]);
      lo += k;
      m -= k;
      n -= k;
    }
    if (rc != 0) return rc;
    depth++;
  }
  QP_ASSERT(m == 0 && lo == index);
  for (size_t i = 0; i < depth; i++)
    memcpy(path_out + i * QP_HASH_SIZE, siblings[depth - 1 - i], QP_HASH_SIZE);
  *path_len_out = depth;
  return 0;
}

int qp_merkle_verify_proof(qp_suite_t suite, const uint8_t leaf[QP_MERKLE_LEAF_SIZE],
                           size_t index, size_t leaf_count, const uint8_t *path,
                           size_t path_len, const uint8_t root[QP_HASH_SIZE]) {
  if (leaf == NULL || root == NULL || (path == NULL && path_len != 0)) return QP_EINVAL;
  if (qp_suite_name(suite) == NULL || index >= leaf_count) return QP_EINVAL;
  if (path_len > QP_MERKLE_PATH_MAX) return QP_EINVAL;
  if (leaf_count > QP_MERKLE_LEAF_COUNT_MAX) return QP_ELIMIT;
  /* RFC 9162 section 2.1.3.2: fn is the node's index at the current level,
   * sn the last index at that level. */
  size_t fn = index, sn = leaf_count - 1;
  uint8_t r[QP_HASH_SIZE];
  int rc = leaf_hash(suite, leaf, r);
  for (size_t i = 0; rc == 0 && i < path_len; i++) {
    const uint8_t *p = path + i * QP_HASH_SIZE;
    if (sn == 0) return QP_EBADPROOF; /* longer than the tree is deep */
    if ((fn & 1) != 0 || fn == sn) {
      rc = node_hash(suite, p, r, r);
      /* A last node without a right sibling rises unchanged. */
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      rc = node_hash(suite, r, p, r);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (rc != 0) return rc;
  if (sn != 0) return QP_EBADPROOF; /* shorter than the tree is deep */
  return memcmp(r, root, QP_HASH_SIZE) == 0 ? 0 : QP_EBADPROOF;
}
