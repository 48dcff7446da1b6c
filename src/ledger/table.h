/*
 * table.h - (private to ledger/) an open-addressing hash index from 128-bit
 * ids to 32-bit row numbers.
 *
 * The ledger keeps accounts and transfers in arrays of fixed records in
 * creation order; this index finds a row by id in O(1).  Linear probing
 * with backward-shift deletion: deletions happen only when a linked chain
 * is rolled back, newest first.  Capacity is a power of two kept at most
 * half full, and growth is bounded by the configured maximum.
 */
#ifndef QP_LEDGER_TABLE_H
#define QP_LEDGER_TABLE_H

#include <stdint.h>

#include "base/u128.h"

#define QP__TABLE_EMPTY UINT32_MAX

typedef struct qp__table {
  qp_u128 *keys;      /* ids; meaningful where rows[i] != EMPTY */
  uint32_t *rows;     /* row numbers, QP__TABLE_EMPTY for a free slot */
  uint64_t capacity;  /* slots, a power of two */
  uint64_t count;     /* occupied slots */
} qp__table_t;

int qp__table_init(qp__table_t *t, uint64_t capacity);
void qp__table_deinit(qp__table_t *t);
/* Row for id, or QP__TABLE_EMPTY. */
uint32_t qp__table_get(const qp__table_t *t, qp_u128 id);
/* Makes room for `more` insertions; 0 or QP_ENOMEM (then unchanged). */
int qp__table_reserve(qp__table_t *t, uint64_t more);
/* Inserts id -> row; id must be absent and room reserved. */
void qp__table_put(qp__table_t *t, qp_u128 id, uint32_t row);
/* Removes id, which must be present. */
void qp__table_remove(qp__table_t *t, qp_u128 id);

#endif
