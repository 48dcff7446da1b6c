/*
 * batch.c - a block's write batch (state.h): the last write to each state
 * key, found by the BLAKE2b of the key in a bounded hash map (hashed once
 * per write, and reused as the SMT key under Ed25519's suite), and hashed in
 * ascending key order for the state root.  The slots and the map start small
 * and double up to writes_max (a block sized for its worst case would
 * otherwise fault in megabytes of map it never uses).  Key and value bytes go into one
 * growing area; a rewrite of a key appends its new value and leaves the old
 * bytes behind (bounded by bytes_max).
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "chain/hmap.h"
#include "chain/state.h"

#define BATCH_CAP_FIRST 256u /* slots before the first doubling */

typedef struct batch_write {
  uint8_t id[QP_HASH_SIZE];      /* BLAKE2b of the key: the map's key */
  uint32_t key_off, key_len;     /* in data */
  uint32_t value_off, value_len; /* in data (0, 0 for a delete) */
  bool del;                      /* a delete */
} batch_write_t;

struct qp_chain_batch {
  batch_write_t *writes; /* cap slots, count used */
  uint32_t count;        /* distinct keys */
  uint32_t cap;          /* slots of writes, and the map's count_max */
  uint32_t writes_max;   /* distinct keys at most */
  uint8_t *data;         /* key and value bytes */
  uint64_t data_len;     /* used */
  uint64_t data_cap;     /* allocated */
  uint64_t bytes_max;    /* data_len never passes it */
  qp__chain_hmap_t by_key; /* BLAKE2b(key) -> write */
};

int qp_chain_batch_new(uint32_t writes_max, uint64_t bytes_max, qp_chain_batch_t **out) {
  *out = NULL;
  if (writes_max == 0 || bytes_max == 0 || bytes_max > UINT32_MAX) return QP_EINVAL;
  qp_chain_batch_t *b = qp_calloc(1, sizeof *b);
  if (b == NULL) return QP_ENOMEM;
  b->writes_max = writes_max;
  b->bytes_max = bytes_max;
  b->cap = writes_max < BATCH_CAP_FIRST ? writes_max : BATCH_CAP_FIRST;
  b->writes = qp_malloc((size_t)b->cap * sizeof *b->writes);
  int rc = b->writes == NULL ? QP_ENOMEM
                                                   : qp__chain_hmap_init(&b->by_key, b->cap);
  if (rc != 0) {
    qp_chain_batch_free(b);
    return rc;
  }
  *out = b;
  return 0;
}

void qp_chain_batch_free(qp_chain_batch_t *b) {
  if (b == NULL) return;
  qp__chain_hmap_deinit(&b->by_key);
  qp_free(b->writes);
  qp_free(b->data);
  qp_free(b);
}

uint32_t qp_chain_batch_count(const qp_chain_batch_t *b) { return b->count; }

/* Appends n bytes to data; returns their offset or UINT64_MAX. */
static uint64_t data_append(qp_chain_batch_t *b, const uint8_t *p, size_t n) {
  if (b->data_len + n > b->bytes_max) return UINT64_MAX;
  if (b->data_len + n > b->data_cap) {
    uint64_t cap = b->data_cap ? b->data_cap : 4096;
    while (cap < b->data_len + n) cap *= 2;
    if (cap > b->bytes_max) cap = b->bytes_max;
    uint8_t *grown = qp_realloc(b->data, cap);
    if (grown == NULL) return UINT64_MAX - 1;
    b->data = grown;
    b->data_cap = cap;
  }
  uint64_t at = b->data_len;
  if (n > 0) memcpy(b->data + at, p, n);
  b->data_len += n;
  return at;
}

/* Doubles the slots (up to writes_max) and rebuilds the map at the new size. */
static int grow(qp_chain_batch_t *b) {
  uint32_t cap = b->cap > b->writes_max / 2 ? b->writes_max : b->cap * 2;
  batch_write_t *writes = qp_realloc(b->writes, (size_t)cap * sizeof *writes);
  if (writes == NULL) return QP_ENOMEM;
  b->writes = writes;
  qp__chain_hmap_t map;
  int rc = qp__chain_hmap_init(&map, cap);
  if (rc != 0) return rc;
  for (uint32_t i = 0; i < b->count; i++)
    QP_ASSERT(qp__chain_hmap_put(&map, b->writes[i].id, i) == 0);
  qp__chain_hmap_deinit(&b->by_key);
  b->by_key = map;
  b->cap = cap;
  return 0;
}

int qp_chain_batch_set(qp_chain_batch_t *b, const uint8_t *key, size_t key_len,
                       const uint8_t *value, size_t value_len, bool del) {
  QP_ASSERT(b != NULL && key != NULL && key_len > 0 && (value != NULL || value_len == 0));
  uint8_t id[QP_HASH_SIZE];
  qp_hash256(id, key, key_len);
  uint32_t i = 0;
  bool held = qp__chain_hmap_get(&b->by_key, id, &i);
  if (!held && b->count == b->writes_max) return QP_ELIMIT;
  if (!held && b->count == b->cap) {
    int rc = grow(b);
    if (rc != 0) return rc;
  }
  uint64_t before = b->data_len;
  uint64_t key_off = held ? b->writes[i].key_off : data_append(b, key, key_len);
  uint64_t value_off = del ? 0 : data_append(b, value, value_len);
  if (key_off >= UINT64_MAX - 1 || value_off >= UINT64_MAX - 1) {
    bool oom = key_off == UINT64_MAX - 1 || value_off == UINT64_MAX - 1;
    b->data_len = before;
    return oom ? QP_ENOMEM : QP_ELIMIT;
  }
  if (!held) {
    i = b->count++;
    QP_ASSERT(qp__chain_hmap_put(&b->by_key, id, i) == 0);
  }
  batch_write_t *w = &b->writes[i];
  if (!held) memcpy(w->id, id, QP_HASH_SIZE);
  w->key_off = (uint32_t)key_off;
  w->key_len = (uint32_t)key_len;
  w->value_off = (uint32_t)value_off;
  w->value_len = del ? 0 : (uint32_t)value_len;
  w->del = del;
  return 0;
}

int qp_chain_batch_get(const qp_chain_batch_t *b, const uint8_t *key, size_t key_len,
                       const uint8_t **value, size_t *value_len, bool *del) {
  uint8_t id[QP_HASH_SIZE];
  qp_hash256(id, key, key_len);
  uint32_t i = 0;
  if (!qp__chain_hmap_get(&b->by_key, id, &i)) return QP_ENOTFOUND;
  const batch_write_t *w = &b->writes[i];
  QP_ASSERT(w->key_len == key_len && memcmp(b->data + w->key_off, key, key_len) == 0);
  *del = w->del;
  *value = b->data + w->value_off;
  *value_len = w->value_len;
  return 0;
}

int qp_chain_batch_updates(const qp_chain_batch_t *b, qp_suite_t suite, qp_smt_update_t **out,
                           size_t *count) {
  *out = NULL;
  *count = 0;
  qp_smt_update_t *u = b->count > 0 ? qp_malloc((size_t)b->count * sizeof *u) : NULL;
  if (b->count > 0 && u == NULL) return QP_ENOMEM;
  int rc = 0;
  for (uint32_t i = 0; rc == 0 && i < b->count; i++) {
    const batch_write_t *w = &b->writes[i];
    u[i].del = w->del;
    memset(u[i].value_hash, 0, QP_HASH_SIZE);
    if (suite == QP_SUITE_ED25519) /* its suite hash is BLAKE2b-256: the map's id */
      memcpy(u[i].key_hash, w->id, QP_HASH_SIZE);
    else
      rc = qp_suite_hash(suite, u[i].key_hash, b->data + w->key_off, w->key_len);
    if (rc == 0 && !w->del)
      rc = qp_suite_hash(suite, u[i].value_hash, b->data + w->value_off, w->value_len);
  }
  if (rc != 0) {
    qp_free(u);
    return rc;
  }
  qp_smt_sort(u, b->count);
  *out = u;
  *count = b->count;
  return 0;
}

/* For the block store: each write, in the order first made. */
int qp__chain_batch_each(const qp_chain_batch_t *b,
                         int (*fn)(void *ctx, const uint8_t *key, size_t key_len,
                                   const uint8_t *value, size_t value_len, bool del),
                         void *ctx) {
  for (uint32_t i = 0; i < b->count; i++) {
    const batch_write_t *w = &b->writes[i];
    int rc = fn(ctx, b->data + w->key_off, w->key_len, b->data + w->value_off, w->value_len,
                w->del);
    if (rc != 0) return rc;
  }
  return 0;
}
