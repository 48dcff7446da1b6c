/*
 * table.c - the id index behind the ledger's account and transfer arrays.
 * See table.h for the design; the hash mixes all 128 bits because ids are
 * often sequential or time-based and must not cluster.
 */
#include "ledger/table.h"

#include <stdbool.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"

static uint64_t hash_id(qp_u128 id) {
  uint64_t lo = (uint64_t)id, hi = (uint64_t)(id >> 64);
  uint64_t h = lo * 0x9E3779B97F4A7C15ull ^ (hi + 0xC2B2AE3D27D4EB4Full);
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 29;
  return h;
}

static uint32_t tag_of(uint64_t h) { return (uint32_t)(h >> 32); }

/* The id stored in the record at row (ids are the records' first field). */
static qp_u128 key_of(const qp__table_t *t, uint32_t row) {
  qp_u128 id;
  memcpy(&id, (const uint8_t *)*t->records + (size_t)row * t->stride, sizeof id);
  return id;
}

int qp__table_init(qp__table_t *t, uint64_t capacity, const void *const *records, size_t stride) {
  uint64_t cap = 1024;
  while (cap < capacity) cap <<= 1;
  memset(t, 0, sizeof *t);
  t->records = records;
  t->stride = stride;
  t->rows = qp_malloc(cap * sizeof *t->rows);
  t->tags = qp_malloc(cap * sizeof *t->tags);
  if (t->rows == NULL || t->tags == NULL) {
    qp__table_deinit(t);
    return QP_ENOMEM;
  }
  memset(t->rows, 0xFF, cap * sizeof *t->rows);
  t->capacity = cap;
  return 0;
}

void qp__table_deinit(qp__table_t *t) {
  qp_free(t->rows);
  qp_free(t->tags);
  t->rows = NULL;
  t->tags = NULL;
  t->capacity = t->count = 0;
}

void qp__table_prefetch(const qp__table_t *t, qp_u128 id) {
  uint64_t i = hash_id(id) & (t->capacity - 1);
  __builtin_prefetch(&t->rows[i]);
  __builtin_prefetch(&t->tags[i]);
}

uint32_t qp__table_get(const qp__table_t *t, qp_u128 id) {
  uint64_t mask = t->capacity - 1, h = hash_id(id);
  uint32_t tag = tag_of(h);
  for (uint64_t i = h & mask, probes = 0; probes < t->capacity; i = (i + 1) & mask, probes++) {
    uint32_t row = t->rows[i];
    if (row == QP__TABLE_EMPTY) return QP__TABLE_EMPTY;
    if (t->tags[i] == tag && key_of(t, row) == id) return row;
  }
  return QP__TABLE_EMPTY;
}

static void insert_slot(uint32_t *rows, uint32_t *tags, uint64_t cap, uint64_t h, uint32_t row) {
  uint64_t mask = cap - 1;
  uint64_t i = h & mask;
  while (rows[i] != QP__TABLE_EMPTY) i = (i + 1) & mask;
  rows[i] = row;
  tags[i] = tag_of(h);
}

int qp__table_reserve(qp__table_t *t, uint64_t more) {
  /* At most three quarters full: with the 32-bit tags a probe rarely reads
   * a record it does not want, and 10M accounts fit in 2^24 slots. */
  uint64_t need = (t->count + more) * 4 / 3 + 1;
  if (need <= t->capacity) return 0;
  uint64_t cap = t->capacity;
  while (cap < need) cap <<= 1;
  uint32_t *rows = qp_malloc(cap * sizeof *rows);
  uint32_t *tags = qp_malloc(cap * sizeof *tags);
  if (rows == NULL || tags == NULL) {
    qp_free(rows);
    qp_free(tags);
    return QP_ENOMEM;
  }
  memset(rows, 0xFF, cap * sizeof *rows);
  for (uint64_t i = 0; i < t->capacity; i++) {
    if (t->rows[i] != QP__TABLE_EMPTY)
      insert_slot(rows, tags, cap, hash_id(key_of(t, t->rows[i])), t->rows[i]);
  }
  qp_free(t->rows);
  qp_free(t->tags);
  t->rows = rows;
  t->tags = tags;
  t->capacity = cap;
  return 0;
}

void qp__table_put(qp__table_t *t, qp_u128 id, uint32_t row) {
  QP_ASSERT((t->count + 1) * 4 / 3 + 1 <= t->capacity);
  QP_ASSERT(row != QP__TABLE_EMPTY);
  QP_ASSERT(key_of(t, row) == id);
  insert_slot(t->rows, t->tags, t->capacity, hash_id(id), row);
  t->count++;
}

void qp__table_remove(qp__table_t *t, qp_u128 id) {
  uint64_t mask = t->capacity - 1;
  uint64_t i = hash_id(id) & mask;
  while (t->rows[i] != QP__TABLE_EMPTY && key_of(t, t->rows[i]) != id) i = (i + 1) & mask;
  QP_ASSERT(t->rows[i] != QP__TABLE_EMPTY);
  /* Backward-shift deletion keeps every probe chain unbroken. */
  uint64_t hole = i;
  for (uint64_t j = (i + 1) & mask; t->rows[j] != QP__TABLE_EMPTY; j = (j + 1) & mask) {
    uint64_t home = hash_id(key_of(t, t->rows[j])) & mask;
    bool movable = (hole <= j) ? (home <= hole || home > j) : (home <= hole && home > j);
    if (movable) {
      t->rows[hole] = t->rows[j];
      t->tags[hole] = t->tags[j];
      hole = j;
    }
  }
  t->rows[hole] = QP__TABLE_EMPTY;
  t->count--;
}
