/*
 * runs.h - a round's timestamps grouped by a 128-bit value without sorting
 * (runs.c), for the index's sets that a round appends to: the query sets
 * (query.c, per field value) and each account's transfers (index.c).  A
 * set gets its whole run with one MDB_MULTIPLE put instead of one put per
 * entry.  Private to src/ledger/.
 */
#ifndef QP_LEDGER_RUNS_H
#define QP_LEDGER_RUNS_H

#include <lmdb.h>
#include <stdint.h>

#include "base/u128.h"

/* Entries (value, ts) in the order added; per value, its entries in that
 * order (an open-addressing table from value to a list through next[]). */
typedef struct qp__runs {
  qp_u128 *values;   /* per entry: its value */
  uint64_t *ts;      /* per entry: its timestamp */
  uint32_t *next;    /* per entry: the next of its value's run, UINT32_MAX at the end */
  uint32_t *slot;    /* table: first entry of a value's run, UINT32_MAX empty */
  uint32_t *last;    /* table: last entry of that run */
  uint32_t *order;   /* the used slots, in the order their values first came */
  uint8_t *buf;      /* scratch: one run's timestamps as 8-byte big-endian values */
  uint32_t cap;      /* table slots, a power of two >= 2 * max */
  uint32_t max;      /* entries it has room for */
  uint32_t entries;  /* entries added since the reset */
  uint32_t used;     /* runs (distinct values) since the reset */
} qp__runs_t;

/* Room for max entries: 0 or QP_ENOMEM (then nothing to free). */
int qp__runs_alloc(qp__runs_t *r, uint32_t max);
void qp__runs_free(qp__runs_t *r);
/* Empties it. */
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
