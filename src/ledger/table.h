/*
 * table.h - (private to ledger/) an open-addressing hash index from 128-bit
 * ids to 32-bit row numbers.
 *
 * The ledger keeps accounts and transfers in arrays of fixed records in
 * creation order; this index finds a row by id in O(1).  It does not copy
 * the ids: each slot holds the row and a 32-bit tag of the id's hash, and
 * a tag match is confirmed against the record itself (the caller reads that
 * record next anyway).  At 10M accounts that is 8 bytes a slot instead of
 * 20.  Linear probing with backward-shift deletion: deletions happen only
 * when a linked chain is rolled back, newest first.  Capacity is a power of
 * two kept at most three quarters full, and growth is bounded by the configured
 * maximum.
 */
#ifndef QP_LEDGER_TABLE_H
#define QP_LEDGER_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "base/u128.h"

#define QP__TABLE_EMPTY UINT32_MAX

typedef struct qp__table {
  uint32_t *rows;             /* row numbers, QP__TABLE_EMPTY for a free slot */
  uint32_t *tags;             /* high 32 bits of the id's hash, per slot */
  uint64_t capacity;          /* slots, a power of two */
  uint64_t count;             /* occupied slots */
  const void *const *records; /* address of the records array pointer (it moves) */
  size_t stride;              /* bytes per record; the id is its first field */
} qp__table_t;

/* records: the address of the caller's array pointer, read at every call,
 * so the array may be reallocated between calls. */
int qp__table_init(qp__table_t *t, uint64_t capacity, const void *const *records, size_t stride);
void qp__table_deinit(qp__table_t *t);
/* Starts loading the cache lines a lookup of id will read first. */
void qp__table_prefetch(const qp__table_t *t, qp_u128 id);
/* Row for id, or QP__TABLE_EMPTY. */
uint32_t qp__table_get(const qp__table_t *t, qp_u128 id);
/* Makes room for `more` insertions; 0 or QP_ENOMEM (then unchanged). The
 * records of every indexed row must be readable. */
int qp__table_reserve(qp__table_t *t, uint64_t more);
/* Inserts id -> row; id must be absent, room reserved, and the record at
 * `row` must already hold id. */
void qp__table_put(qp__table_t *t, qp_u128 id, uint32_t row);
/* Removes id, which must be present (its record still readable). */
void qp__table_remove(qp__table_t *t, qp_u128 id);

#endif
