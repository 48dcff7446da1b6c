/*
 * runs.c - a round's timestamps grouped by value (runs.h): a counting
 * sort.  add() finds each value's run in an open-addressing table and
 * counts it; put() lays every run's timestamps out contiguously (one pass
 * over the entries, in the order added) and hands each run to LMDB.
 */
#include "ledger/runs.h"

#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"

void qp__runs_free(qp__runs_t *r) {
  qp_free(r->values), qp_free(r->count), qp_free(r->start), qp_free(r->order);
  qp_free(r->ts), qp_free(r->run), qp_free(r->slot), qp_free(r->buf);
  memset(r, 0, sizeof *r);
}

/* Fresh arrays for max entries (r's old ones freed); 0 or QP_ENOMEM (then
 * r is empty). */
static int alloc_arrays(qp__runs_t *r, uint32_t max) {
  qp__runs_free(r);
  r->max = max;
  r->cap = 16;
  while (r->cap < 2u * max) r->cap *= 2;
  r->values = qp_malloc((size_t)max * sizeof *r->values);
  r->count = qp_malloc((size_t)max * sizeof *r->count);
  r->start = qp_malloc((size_t)max * sizeof *r->start);
  r->order = qp_malloc((size_t)max * sizeof *r->order);
  r->ts = qp_malloc((size_t)max * sizeof *r->ts);
  r->run = qp_malloc((size_t)max * sizeof *r->run);
  r->buf = qp_malloc((size_t)max * 8u);
  r->slot = qp_malloc((size_t)r->cap * sizeof *r->slot);
  if (r->values && r->count && r->start && r->order && r->ts && r->run && r->buf && r->slot) {
    memset(r->slot, 0xff, (size_t)r->cap * sizeof *r->slot);
    r->entries = r->used = 0;
    return 0;
  }
  qp__runs_free(r);
  return QP_ENOMEM;
}

int qp__runs_reserve(qp__runs_t *r, uint32_t max) {
  if (max <= r->max && r->slot != NULL) {
    qp__runs_reset(r);
    return 0;
  }
  uint64_t want = r->max > 0 ? 2u * (uint64_t)r->max : 1024u; /* grow by doubling */
  while (want < max) want *= 2;
  if (want > UINT32_MAX / 4u) want = max; /* cap stays a u32 power of two */
  return alloc_arrays(r, (uint32_t)want);
}

void qp__runs_reset(qp__runs_t *r) {
  for (uint32_t u = 0; u < r->used; u++) r->slot[r->order[u]] = UINT32_MAX;
  r->entries = r->used = 0;
}

void qp__runs_add(qp__runs_t *r, qp_u128 v, uint64_t ts) {
  QP_ASSERT(r->entries < r->max);
  uint64_t h = ((uint64_t)v ^ (uint64_t)(v >> 64)) * 0x9e3779b97f4a7c15ull;
  uint32_t i = (uint32_t)(h >> 32) & (r->cap - 1);
  while (r->slot[i] != UINT32_MAX && r->values[r->slot[i]] != v) i = (i + 1) & (r->cap - 1);
  uint32_t u = r->slot[i];
  if (u == UINT32_MAX) { /* a new run */
    u = r->used++;
    r->slot[i] = u;
    r->order[u] = i;
    r->values[u] = v;
    r->count[u] = 0;
  }
  r->count[u]++;
  uint32_t e = r->entries++;
  r->ts[e] = ts;
  r->run[e] = u;
}

/* Lays the runs out in buf, run after run, each in the order added. */
static void lay_out(qp__runs_t *r) {
  uint32_t at = 0;
  for (uint32_t u = 0; u < r->used; u++) r->start[u] = at, at += r->count[u];
  for (uint32_t e = 0; e < r->entries; e++)
    qp_store_u64_be(r->buf + 8u * (size_t)r->start[r->run[e]]++, r->ts[e]);
}

int qp__runs_put(qp__runs_t *r, MDB_cursor *cur,
                 size_t (*key_of)(qp_u128 v, uint8_t key[32], const void *ctx), const void *ctx) {
  lay_out(r); /* start[u] is now the end of run u */
  int rc = 0;
  for (uint32_t u = 0; u < r->used && rc == 0; u++) {
    uint32_t n = r->count[u], first = r->start[u] - n;
    uint8_t key[32];
    MDB_val k = {key_of(r->values[u], key, ctx), key};
    MDB_val data[2] = {{8, r->buf + 8u * (size_t)first}, {n, NULL}};
    rc = mdb_cursor_put(cur, &k, data, MDB_MULTIPLE | MDB_APPENDDUP);
  }
  return rc;
}
