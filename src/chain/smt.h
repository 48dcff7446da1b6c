/*
 * smt.h - the sparse Merkle tree that commits the chain's state
 * (docs/chain.md, "State proofs"): a map from 256-bit key hashes to value
 * hashes whose root is a block's state root, with proofs that a key has a
 * value, or has none, checkable by anyone who trusts the root.
 *
 * With H the network's suite hash, for a state key k and its value v:
 *   path(k)      = H(k): 256 bits, bit 0 the most significant of byte 0
 *   empty        = 32 zero bytes (a subtree with no key)
 *   leaf(k, v)   = H(0x00 || H(k) || H(v))
 *   inner(l, r)  = H(0x01 || l || r)      (l: bit 0 side, r: bit 1 side)
 * A subtree holding exactly one key is that key's leaf, wherever it sits
 * (no chain of inner nodes down to depth 256); a subtree holding two or
 * more is an inner node.  The shape, hence the root, depends only on the
 * set of (key, value) pairs.  The empty state's root is `empty`.
 *
 * Versions are persistent: an update makes a new version sharing every
 * untouched subtree with the old one, so the node keeps one version per
 * block not yet committed at the cost of the paths they change.  Nodes are
 * immutable once built and reference-counted (atomically): a version may
 * be read and released on any thread while the driver builds the next.
 *
 * Proofs and their check (qp_smt_verify) are pure and take bytes from
 * anyone: `quipu chain verify-proof` runs them offline.
 */
#ifndef QP_CHAIN_SMT_H
#define QP_CHAIN_SMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"

#define QP_SMT_DEPTH 256u /* bits of a path */

typedef struct qp_smt_node qp_smt_node_t;

/* One version of the tree: its root node (NULL for the empty tree). */
typedef struct qp_smt {
  qp_suite_t suite;    /* whose hash */
  qp_smt_node_t *root; /* owned reference, or NULL */
} qp_smt_t;

/* One change: set key_hash's value hash, or remove key_hash (del). */
typedef struct qp_smt_update {
  uint8_t key_hash[QP_HASH_SIZE];   /* H(state key) */
  uint8_t value_hash[QP_HASH_SIZE]; /* H(value); ignored when del */
  bool del;                         /* remove the key (absent: no change) */
} qp_smt_update_t;

/* The empty tree of suite. */
void qp_smt_empty(qp_suite_t suite, qp_smt_t *out);

/* Another reference to t's version (out shares its nodes). */
void qp_smt_retain(const qp_smt_t *t, qp_smt_t *out);

/* Drops t's reference; t becomes the empty tree.  Any thread. */
void qp_smt_release(qp_smt_t *t);

/* The root hash of t. */
void qp_smt_root(const qp_smt_t *t, uint8_t out[QP_HASH_SIZE]);

/* The leaf hash of (key_hash, value_hash) under suite. */
int qp_smt_leaf_hash(qp_suite_t suite, const uint8_t key_hash[QP_HASH_SIZE],
                     const uint8_t value_hash[QP_HASH_SIZE], uint8_t out[QP_HASH_SIZE]);

/* Sorts updates by key_hash (memcmp order) in place; the form
 * qp_smt_update takes. */
void qp_smt_sort(qp_smt_update_t *updates, size_t count);

/* Applies count updates, sorted by key_hash with no key twice, to base
 * (left untouched) and writes the new version into *out (the caller's:
 * qp_smt_release).  Returns 0, QP_EINVAL (not sorted or a key twice:
 * nothing made) or QP_ENOMEM (*out empty, base untouched). */
int qp_smt_update(const qp_smt_t *base, const qp_smt_update_t *updates, size_t count,
                  qp_smt_t *out);

/* ---- proofs -------------------------------------------------------- */

/*
 * A proof for one key hash: the siblings on its path from the root down to
 * where the path ends (depth = siblings_count), and what it ends at: an
 * empty subtree, or a leaf - the key's own (inclusion) or another key's
 * that shares the path's first `depth` bits (non-inclusion).
 */
typedef struct qp_smt_proof {
  uint32_t depth;                              /* siblings used, < QP_SMT_DEPTH */
  uint8_t siblings[QP_SMT_DEPTH][QP_HASH_SIZE]; /* [0] next to the root */
  bool leaf;                                   /* the path ends at a leaf */
  uint8_t leaf_key_hash[QP_HASH_SIZE];         /* that leaf's key hash */
  uint8_t leaf_value_hash[QP_HASH_SIZE];       /* ... and value hash */
} qp_smt_proof_t;

/* The proof for key_hash in t.  Any thread (t must stay referenced). */
void qp_smt_prove(const qp_smt_t *t, const uint8_t key_hash[QP_HASH_SIZE], qp_smt_proof_t *out);

/* What a proof shows about key_hash, checked against root: 0 when it shows
 * the key holding value_hash (value_hash non-NULL) or being absent
 * (value_hash NULL).  QP_EBADPROOF with detail naming the failing step
 * otherwise: the leaf is another key's but claims inclusion, the leaf's
 * value differs, another key's leaf does not share the path, a leaf or
 * empty end where the tree cannot have one, the path does not hash to
 * root.  QP_EINVAL for an unknown suite or depth >= QP_SMT_DEPTH. */
int qp_smt_verify(qp_suite_t suite, const uint8_t root[QP_HASH_SIZE],
                  const uint8_t key_hash[QP_HASH_SIZE], const uint8_t *value_hash,
                  const qp_smt_proof_t *proof, char *detail, size_t detail_size);

/* Nodes alive in the process (every version), for tests and metrics. */
uint64_t qp_smt_nodes_alive(void);

/* Frees the nodes the calling thread keeps for reuse (each thread keeps up
 * to 65,536 freed nodes for its next updates; they are freed when it
 * exits).  For tests of allocation failures, and to give memory back. */
void qp_smt_cache_trim(void);

#endif
