/*
 * array.c - see array.h.  Growth doubles from ARRAY_FIRST_BYTES worth of
 * items (at least one) and is clamped to items_max, as qp_buf's is.
 */
#include "base/array.h"

#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"

#define ARRAY_FIRST_BYTES 256u /* the first allocation, in bytes (rounded to items) */

void qp_array_init(qp_array_t *a, size_t item_size, size_t items_max) {
  QP_ASSERT(item_size > 0 && items_max > 0);
  QP_ASSERT(items_max <= SIZE_MAX / item_size);
  a->items = NULL;
  a->item_size = item_size;
  a->count = 0;
  a->cap = 0;
  a->items_max = items_max;
}

int qp_array_reserve(qp_array_t *a, size_t items) {
  QP_ASSERT(a->item_size > 0 && a->count <= a->cap && a->cap <= a->items_max);
  if (items <= a->cap) return 0;
  if (items > a->items_max) return QP_ELIMIT;
  size_t first = ARRAY_FIRST_BYTES / a->item_size;
  size_t cap = a->cap ? a->cap : (first ? first : 1);
  while (cap < items) cap = cap > a->items_max / 2 ? a->items_max : cap * 2;
  if (cap > a->items_max) cap = a->items_max;
  void *grown = qp_realloc(a->items, cap * a->item_size);
  if (grown == NULL) return QP_ENOMEM;
  a->items = grown;
  a->cap = cap;
  QP_ASSERT(a->cap >= items);
  return 0;
}

void *qp_array_push(qp_array_t *a) {
  if (a->count == a->items_max) return NULL;
  if (a->count == a->cap && qp_array_reserve(a, a->count + 1) != 0) return NULL;
  void *slot = (char *)a->items + a->count * a->item_size;
  memset(slot, 0, a->item_size);
  a->count++;
  QP_ASSERT(a->count <= a->cap);
  return slot;
}

void *qp_array_at(const qp_array_t *a, size_t i) {
  QP_ASSERT(i < a->count);
  return (char *)a->items + i * a->item_size;
}

void qp_array_pop(qp_array_t *a) {
  QP_ASSERT(a->count > 0);
  a->count--;
}

void qp_array_clear(qp_array_t *a) { a->count = 0; }

void qp_array_deinit(qp_array_t *a) {
  qp_free(a->items);
  a->items = NULL;
  a->count = 0;
  a->cap = 0;
}
