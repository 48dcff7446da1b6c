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

int qp__table_init(qp__table_t *t, uint64_t capacity) {
  uint64_t cap = 1024;
  while (cap < capacity) cap <<= 1;
  memset(t, 0, sizeof *t);
  t->keys = qp_malloc(cap * sizeof *t->keys);
  t->rows = qp_malloc(cap * sizeof *t->rows);
  if (t->keys == NULL || t->rows == NULL) {
    qp__table_deinit(t);
    return QP_ENOMEM;
  }
  memset(t->rows, 0xFF, cap * sizeof *t->rows);
  t->capacity = cap;
  return 0;
}

void qp__table_deinit(qp__table_t *t) {
  qp_free(t->keys);
  qp_free(t->rows);
  memset(t, 0, sizeof *t);
}

uint32_t qp__table_get(const qp__table_t *t, qp_u128 id) {
  uint64_t mask = t->capacity - 1;
  for (uint64_t i = hash_id(id) & mask, probes = 0; probes < t->capacity;
       i = (i + 1) & mask, probes++) {
    if (t->rows[i] == QP__TABLE_EMPTY) return QP__TABLE_EMPTY;
    if (t->keys[i] == id) return t->rows[i];
  }
  return QP__TABLE_EMPTY;
}

static void insert_slot(qp_u128 *keys, uint32_t *rows, uint64_t cap, qp_u128 id, uint32_t row) {
  uint64_t mask = cap - 1;
  uint64_t i = hash_id(id) & mask;
  while (rows[i] != QP__TABLE_EMPTY) i = (i + 1) & mask;
  keys[i] = id;
  rows[i] = row;
}

int qp__table_reserve(qp__table_t *t, uint64_t more) {
  uint64_t need = (t->count + more) * 2;
  if (need <= t->capacity) return 0;
  uint64_t cap = t->capacity;
  while (cap < need) cap <<= 1;
  qp_u128 *keys = qp_malloc(cap * sizeof *keys);
  uint32_t *rows = qp_malloc(cap * sizeof *rows);
  if (keys == NULL || rows == NULL) {
    qp_free(keys);
    qp_free(rows);
    return QP_ENOMEM;
  }
  memset(rows, 0xFF, cap * sizeof *rows);
  for (uint64_t i = 0; i < t->capacity; i++) {
    if (t->rows[i] != QP__TABLE_EMPTY) insert_slot(keys, rows, cap, t->keys[i], t->rows[i]);
  }
  qp_free(t->keys);
  qp_free(t->rows);
  t->keys = keys;
  t->rows = rows;
  t->capacity = cap;
  return 0;
}

void qp__table_put(qp__table_t *t, qp_u128 id, uint32_t row) {
  QP_ASSERT((t->count + 1) * 2 <= t->capacity);
  QP_ASSERT(row != QP__TABLE_EMPTY);
  insert_slot(t->keys, t->rows, t->capacity, id, row);
  t->count++;
}

void qp__table_remove(qp__table_t *t, qp_u128 id) {
  uint64_t mask = t->capacity - 1;
  uint64_t i = hash_id(id) & mask;
  while (t->rows[i] != QP__TABLE_EMPTY && t->keys[i] != id) i = (i + 1) & mask;
  QP_ASSERT(t->rows[i] != QP__TABLE_EMPTY);
  /* Backward-shift deletion keeps every probe chain unbroken. */
  uint64_t hole = i;
  for (uint64_t j = (i + 1) & mask; t->rows[j] != QP__TABLE_EMPTY; j = (j + 1) & mask) {
    uint64_t home = hash_id(t->keys[j]) & mask;
    bool movable = (hole <= j) ? (home <= hole || home > j) : (home <= hole && home > j);
    if (movable) {
      t->keys[hole] = t->keys[j];
      t->rows[hole] = t->rows[j];
      hole = j;
    }
  }
  t->rows[hole] = QP__TABLE_EMPTY;
  t->count--;
}
