/*
 * runs.h - a round's timestamps grouped by a 128-bit value (runs.c), for
 * the index's sets that a round appends to: the query sets (query.c, per
 * field value) and each account's transfers (index.c).  A set gets its
 * whole run with one MDB_MULTIPLE put instead of one put per entry.
 * Private to src/ledger/.
 */
#ifndef QP_LEDGER_RUNS_H
#define QP_LEDGER_RUNS_H

#include <lmdb.h>
#include <stdint.h>

#include "base/u128.h"

/* Entries (value, ts) in the order added, grouped into runs (one per
 * distinct value, in the order the values first came) by an
 * open-addressing table from value to run; put() lays the runs out with a
 * counting sort.  The index keeps one across rounds (index.h). */
typedef struct qp__runs {
  qp_u128 *values;   /* per run: its value */
  uint32_t *count;   /* per run: its entries */
  uint32_t *start;   /* per run: scratch for put's layout */
  uint32_t *order;   /* per run: its table slot (reset clears only these) */
  uint64_t *ts;      /* per entry: its timestamp */
  uint32_t *run;     /* per entry: its run */
  uint32_t *slot;    /* table: a value's run, UINT32_MAX empty */
  uint8_t *buf;      /* scratch: the runs' timestamps as 8-byte big-endian values */
  uint32_t cap;      /* table slots, a power of two >= 2 * max */
  uint32_t max;      /* entries (and runs) it has room for */
  uint32_t entries;  /* entries added since the reset */
  uint32_t used;     /* runs (distinct values) since the reset */
} qp__runs_t;

/* Empties r and makes room for max entries, keeping its arrays when they
 * are big enough (they grow by doubling and are kept: a round's arrays are
 * not allocated and page-faulted in again every round).  r starts zeroed.
 * 0 or QP_ENOMEM (then r is empty, its arrays freed). */
int qp__runs_reserve(qp__runs_t *r, uint32_t max);
void qp__runs_free(qp__runs_t *r);
/* Empties it: clears the table slots its runs used, not the whole table. */
void qp__runs_reset(qp__runs_t *r);
/* Adds (v, ts); at most max entries between resets. */
void qp__runs_add(qp__runs_t *r, qp_u128 v, uint64_t ts);

/* Puts every run into the MDB_DUPFIXED table of cur, each with one
 * mdb_cursor_put(MDB_MULTIPLE | MDB_APPENDDUP) under the key that key_of
 * writes for its value (at most 32 bytes, its length returned): each run's
 * timestamps ascend and follow every one its set has.  Returns 0 or
 * LMDB's error. */
int qp__runs_put(qp__runs_t *r, MDB_cursor *cur, size_t (*key_of)(qp_u128 v, uint8_t key[32],
                                                                   const void *ctx),
                 const void *ctx);

#endif
