/*
 * smt.c - the state's sparse Merkle tree (smt.h): persistent nodes with
 * atomic reference counts, batch updates by path copying, proofs and their
 * offline check.  Every recursion follows one path bit per level, so it is
 * at most QP_SMT_DEPTH + 1 deep.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "chain/smt.h"

struct qp_smt_node {
  atomic_uint refs;          /* references: parents and versions */
  bool leaf;                 /* a leaf, else an inner node */
  uint8_t hash[QP_HASH_SIZE]; /* the node's hash */
  union {
    struct {
      qp_smt_node_t *l, *r; /* children (NULL: empty); at least one is an inner or both set */
    } in;
    struct {
      uint8_t key_hash[QP_HASH_SIZE];
      uint8_t value_hash[QP_HASH_SIZE];
    } lf;
  } u;
};

static atomic_uint_fast64_t nodes_alive;

uint64_t qp_smt_nodes_alive(void) { return atomic_load(&nodes_alive); }

static bool bit_at(const uint8_t h[QP_HASH_SIZE], uint32_t depth) {
  return (h[depth / 8] >> (7u - depth % 8u)) & 1u;
}

static qp_smt_node_t *node_retain(qp_smt_node_t *n) {
  if (n != NULL) atomic_fetch_add_explicit(&n->refs, 1, memory_order_relaxed);
  return n;
}

/* ---- node memory ---------------------------------------------------------
 * A block's update makes thousands of nodes and the version it replaces
 * frees as many, nearly all on the consensus thread.  Freed nodes wait in
 * a per-thread list (linked through u.in.l) for the next node_new instead
 * of going back to malloc; a thread's list is freed when it exits. */

#define NODE_CACHE_MAX 65536u /* nodes a thread keeps (~7 MiB) */

typedef struct node_cache {
  qp_smt_node_t *head;
  uint32_t count;
  bool builds; /* this thread has made nodes: only such threads keep freed ones (a reader
                  dropping the last reference to an old version frees straight away) */
} node_cache_t;

static __thread node_cache_t cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_drop(void *arg) {
  node_cache_t *c = arg;
  for (qp_smt_node_t *n = c->head, *next; n != NULL; n = next) {
    next = n->u.in.l;
    qp_free(n);
  }
  c->head = NULL;
  c->count = 0;
}

void qp_smt_cache_trim(void) { cache_drop(&cache); }

static void cache_key_make(void) { QP_ASSERT(pthread_key_create(&cache_key, cache_drop) == 0); }

static void node_free(qp_smt_node_t *n) {
  atomic_fetch_sub_explicit(&nodes_alive, 1, memory_order_relaxed);
  if (!cache.builds || cache.count >= NODE_CACHE_MAX) {
    qp_free(n);
    return;
  }
  if (cache.head == NULL) { /* this thread's first: its list is freed at its exit */
    pthread_once(&cache_once, cache_key_make);
    (void)pthread_setspecific(cache_key, &cache);
  }
  n->u.in.l = cache.head;
  cache.head = n;
  cache.count++;
}

static qp_smt_node_t *node_alloc(void) {
  cache.builds = true;
  qp_smt_node_t *n = cache.head;
  if (n == NULL) return qp_malloc(sizeof *n);
  cache.head = n->u.in.l;
  cache.count--;
  return n;
}

static void node_release(qp_smt_node_t *n) {
  while (n != NULL) {
    if (atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) != 1) return;
    qp_smt_node_t *l = n->leaf ? NULL : n->u.in.l, *r = n->leaf ? NULL : n->u.in.r;
    node_free(n);
    node_release(l);
    n = r; /* the second child without growing the stack */
  }
}

static const uint8_t EMPTY[QP_HASH_SIZE];

static const uint8_t *node_hash(const qp_smt_node_t *n) { return n != NULL ? n->hash : EMPTY; }

int qp_smt_leaf_hash(qp_suite_t suite, const uint8_t key_hash[QP_HASH_SIZE],
                     const uint8_t value_hash[QP_HASH_SIZE], uint8_t out[QP_HASH_SIZE]) {
  uint8_t buf[1 + 2 * QP_HASH_SIZE];
  buf[0] = 0x00;
  memcpy(buf + 1, key_hash, QP_HASH_SIZE);
  memcpy(buf + 1 + QP_HASH_SIZE, value_hash, QP_HASH_SIZE);
  return qp_suite_hash(suite, out, buf, sizeof buf);
}

static int inner_hash(qp_suite_t suite, const uint8_t l[QP_HASH_SIZE],
                      const uint8_t r[QP_HASH_SIZE],
                      uint8_t out[QP_HASH_SIZE]) {
  uint8_t buf[1 + 2 * QP_HASH_SIZE];
  buf[0] = 0x01;
  memcpy(buf + 1, l, QP_HASH_SIZE);
  memcpy(buf + 1 + QP_HASH_SIZE, r, QP_HASH_SIZE);
  return qp_suite_hash(suite, out, buf, sizeof buf);
}

/* ---- versions ------------------------------------------------------------ */

void qp_smt_empty(qp_suite_t suite, qp_smt_t *out) {
  out->suite = suite;
  out->root = NULL;
}

void qp_smt_retain(const qp_smt_t *t, qp_smt_t *out) {
  out->suite = t->suite;
  out->root = node_retain(t->root);
}

void qp_smt_release(qp_smt_t *t) {
  node_release(t->root);
  t->root = NULL;
}

void qp_smt_root(const qp_smt_t *t, uint8_t out[QP_HASH_SIZE]) {
  memcpy(out, node_hash(t->root), QP_HASH_SIZE);
}

/* ---- building ------------------------------------------------------------ */

typedef struct build {
  qp_suite_t suite;
  int rc; /* the first failure; once set, every step returns NULL */
} build_t;

static qp_smt_node_t *node_new(build_t *b) {
  qp_smt_node_t *n = node_alloc();
  if (n == NULL) {
    b->rc = QP_ENOMEM;
    return NULL;
  }
  memset(n, 0, sizeof *n);
  atomic_init(&n->refs, 1);
  atomic_fetch_add_explicit(&nodes_alive, 1, memory_order_relaxed);
  return n;
}

static qp_smt_node_t *leaf_new(build_t *b, const qp_smt_update_t *u) {
  qp_smt_node_t *n = node_new(b);
  if (n == NULL) return NULL;
  n->leaf = true;
  memcpy(n->u.lf.key_hash, u->key_hash, QP_HASH_SIZE);
  memcpy(n->u.lf.value_hash, u->value_hash, QP_HASH_SIZE);
  int rc = qp_smt_leaf_hash(b->suite, u->key_hash, u->value_hash, n->hash);
  if (rc != 0) {
    b->rc = rc;
    node_release(n);
    return NULL;
  }
  return n;
}

/* The canonical join of two subtrees (references taken over): nothing
 * from two empties, the leaf itself when the other side is empty (it rises
 * to where its subtree begins), else an inner node. */
static qp_smt_node_t *join(build_t *b, qp_smt_node_t *l, qp_smt_node_t *r) {
  if (b->rc != 0) {
    node_release(l);
    node_release(r);
    return NULL;
  }
  if (l == NULL && (r == NULL || r->leaf)) return r;
  if (r == NULL && l->leaf) return l;
  qp_smt_node_t *n = node_new(b);
  int rc = n == NULL ? b->rc : inner_hash(b->suite, node_hash(l), node_hash(r), n->hash);
  if (rc != 0) {
    b->rc = rc;
    node_release(n);
    node_release(l);
    node_release(r);
    return NULL;
  }
  n->u.in.l = l;
  n->u.in.r = r;
  return n;
}

/* The first index in u[0, count) whose key hash has bit `depth` set.  The
 * updates are sorted and share their first `depth` bits (they are under
 * one subtree), so those with the bit clear come first: a binary search. */
static size_t split_at(const qp_smt_update_t *u, size_t count, uint32_t depth) {
  size_t lo = 0, hi = count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (bit_at(u[mid].key_hash, depth))
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

static size_t puts_in(const qp_smt_update_t *u, size_t count) {
  size_t puts = 0;
  for (size_t i = 0; i < count; i++) puts += u[i].del ? 0 : 1;
  return puts;
}

/* The subtree at `depth` holding the puts of u and, unless an update names
 * its key, the existing leaf `keep` (borrowed). */
static qp_smt_node_t *build(build_t *b, uint32_t depth, const qp_smt_update_t *u, size_t count,
                            qp_smt_node_t *keep) {
  size_t puts = puts_in(u, count) + (keep != NULL ? 1 : 0);
  if (b->rc != 0 || puts == 0) return NULL;
  if (puts == 1) {
    if (keep != NULL) return node_retain(keep);
    size_t i = 0;
    while (u[i].del) i++;
    return leaf_new(b, &u[i]);
  }
  QP_ASSERT(depth < QP_SMT_DEPTH); /* two distinct 256-bit paths part before */
  size_t mid = split_at(u, count, depth);
  bool keep_right = keep != NULL && bit_at(keep->u.lf.key_hash, depth);
  qp_smt_node_t *l = build(b, depth + 1, u, mid, keep_right ? NULL : keep);
  qp_smt_node_t *r = build(b, depth + 1, u + mid, count - mid, keep_right ? keep : NULL);
  return join(b, l, r);
}

static bool names_key(const qp_smt_update_t *u, size_t count, const uint8_t key[QP_HASH_SIZE]) {
  for (size_t i = 0; i < count; i++)
    if (memcmp(u[i].key_hash, key, QP_HASH_SIZE) == 0) return true;
  return false;
}

/* The subtree at `depth` that n (borrowed) becomes under updates u. */
static qp_smt_node_t *apply(build_t *b, uint32_t depth, qp_smt_node_t *n, const qp_smt_update_t *u,
                            size_t count) {
  if (b->rc != 0) return NULL;
  if (count == 0) return node_retain(n);
  if (n == NULL) return build(b, depth, u, count, NULL);
  if (n->leaf) return build(b, depth, u, count, names_key(u, count, n->u.lf.key_hash) ? NULL : n);
  size_t mid = split_at(u, count, depth);
  qp_smt_node_t *l = apply(b, depth + 1, n->u.in.l, u, mid);
  qp_smt_node_t *r = apply(b, depth + 1, n->u.in.r, u + mid, count - mid);
  return join(b, l, r);
}

static int cmp_update(const void *a, const void *b) {
  return memcmp(((const qp_smt_update_t *)a)->key_hash, ((const qp_smt_update_t *)b)->key_hash,
                QP_HASH_SIZE);
}

void qp_smt_sort(qp_smt_update_t *updates, size_t count) {
  if (count > 1) qsort(updates, count, sizeof *updates, cmp_update);
}

int qp_smt_update(const qp_smt_t *base, const qp_smt_update_t *updates, size_t count,
                  qp_smt_t *out) {
  qp_smt_empty(base->suite, out);
  for (size_t i = 1; i < count; i++)
    if (memcmp(updates[i - 1].key_hash, updates[i].key_hash, QP_HASH_SIZE) >= 0)
      return QP_EINVAL;
  build_t b = {.suite = base->suite, .rc = 0};
  qp_smt_node_t *root = apply(&b, 0, base->root, updates, count);
  if (b.rc != 0) {
    node_release(root);
    return b.rc;
  }
  out->root = root;
  return 0;
}

/* ---- proofs -------------------------------------------------------------- */

void qp_smt_prove(const qp_smt_t *t, const uint8_t key_hash[QP_HASH_SIZE], qp_smt_proof_t *out) {
  memset(out, 0, sizeof *out);
  const qp_smt_node_t *n = t->root;
  while (n != NULL && !n->leaf) {
    QP_ASSERT(out->depth < QP_SMT_DEPTH);
    bool right = bit_at(key_hash, out->depth);
    memcpy(out->siblings[out->depth], node_hash(right ? n->u.in.l : n->u.in.r), QP_HASH_SIZE);
    out->depth++;
    n = right ? n->u.in.r : n->u.in.l;
  }
  if (n == NULL) return;
  out->leaf = true;
  memcpy(out->leaf_key_hash, n->u.lf.key_hash, QP_HASH_SIZE);
  memcpy(out->leaf_value_hash, n->u.lf.value_hash, QP_HASH_SIZE);
}

static int refuse(char *detail, size_t size, const char *what) {
  if (detail != NULL && size > 0) snprintf(detail, size, "%s", what);
  return QP_EBADPROOF;
}

/* What the path ends at, against what the proof claims about the key. */
static int check_end(const uint8_t key_hash[QP_HASH_SIZE], const uint8_t *value_hash,
                     const qp_smt_proof_t *p, char *detail, size_t size) {
  bool own = p->leaf && memcmp(p->leaf_key_hash, key_hash, QP_HASH_SIZE) == 0;
  if (value_hash != NULL) {
    if (!p->leaf) return refuse(detail, size, "smt: the path ends at an empty subtree");
    if (!own) return refuse(detail, size, "smt: the path ends at another key's leaf");
    if (memcmp(p->leaf_value_hash, value_hash, QP_HASH_SIZE) != 0)
      return refuse(detail, size, "smt: the leaf holds another value");
    return 0;
  }
  if (own) return refuse(detail, size, "smt: the key is present, the proof claims absence");
  for (uint32_t d = 0; p->leaf && d < p->depth; d++)
    if (bit_at(p->leaf_key_hash, d) != bit_at(key_hash, d))
      return refuse(detail, size, "smt: the other key's leaf is not on the key's path");
  return 0;
}

int qp_smt_verify(qp_suite_t suite, const uint8_t root[QP_HASH_SIZE],
                  const uint8_t key_hash[QP_HASH_SIZE], const uint8_t *value_hash,
                  const qp_smt_proof_t *proof, char *detail, size_t detail_size) {
  if (qp_suite_name(suite) == NULL || proof->depth >= QP_SMT_DEPTH) return QP_EINVAL;
  int rc = check_end(key_hash, value_hash, proof, detail, detail_size);
  if (rc != 0) return rc;
  /* An inner node has two non-empty sides or an inner one, so a path never
   * ends (at a leaf or an empty subtree) beside an empty sibling. */
  if (proof->depth > 0 && memcmp(proof->siblings[proof->depth - 1], EMPTY, QP_HASH_SIZE) == 0)
    return refuse(detail, detail_size, "smt: the path ends beside an empty sibling");
  uint8_t h[QP_HASH_SIZE];
  memcpy(h, EMPTY, QP_HASH_SIZE);
  if (proof->leaf) rc = qp_smt_leaf_hash(suite, proof->leaf_key_hash, proof->leaf_value_hash, h);
  for (uint32_t d = proof->depth; d-- > 0 && rc == 0;) {
    const uint8_t *s = proof->siblings[d];
    rc = bit_at(key_hash, d) ? inner_hash(suite, s, h, h) : inner_hash(suite, h, s, h);
  }
  if (rc != 0) return rc;
  if (memcmp(h, root, QP_HASH_SIZE) != 0)
    return refuse(detail, detail_size, "smt: the path does not hash to the state root");
  return 0;
}
