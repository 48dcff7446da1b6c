/*
 * array.h - a growable array of fixed-size items that always has a maximum
 * (the curl habit, as base/buf.h for bytes): it grows by doubling, never
 * past items_max, and a push past the maximum fails instead of growing.
 * Growth reallocates, so pointers into the array are valid only until the
 * next push or reserve.
 */
#ifndef QP_BASE_ARRAY_H
#define QP_BASE_ARRAY_H

#include <stddef.h>

/* Invariant: count <= cap <= items_max; items holds cap * item_size bytes
 * (NULL while cap is 0). */
typedef struct qp_array {
  void *items;       /* qp_malloc'ed; cap items */
  size_t item_size;  /* bytes per item, > 0 */
  size_t count;      /* items in use: [0, count) */
  size_t cap;        /* items allocated */
  size_t items_max;  /* the array never holds more; set at init */
} qp_array_t;

/* Makes *a empty, for items of item_size bytes, at most items_max of them.
 * Allocates nothing.  item_size > 0, items_max > 0, and items_max *
 * item_size must fit in a size_t. */
void qp_array_init(qp_array_t *a, size_t item_size, size_t items_max);

/* Makes room for at least `items` items in all (not `items` more).
 * Returns 0, QP_ELIMIT when items > items_max, or QP_ENOMEM; on failure
 * the array is unchanged. */
int qp_array_reserve(qp_array_t *a, size_t items);

/* Appends one zeroed item and returns a pointer to it (owned by the array,
 * valid until the next push, reserve or deinit), or NULL when the array
 * holds items_max items or memory ran out; nothing changes on failure. */
void *qp_array_push(qp_array_t *a);

/* The i-th item; i < count (asserted).  Owned by the array. */
void *qp_array_at(const qp_array_t *a, size_t i);

/* Removes the last item (count > 0, asserted). */
void qp_array_pop(qp_array_t *a);

/* Removes every item; keeps the memory for reuse. */
void qp_array_clear(qp_array_t *a);

/* Releases the memory; the array is empty afterwards and may be reused
 * (item_size and items_max are kept). */
void qp_array_deinit(qp_array_t *a);

#endif
