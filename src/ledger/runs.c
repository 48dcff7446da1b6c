/*
 * runs.c - a round's timestamps grouped by value (runs.h).
 */
#include "ledger/runs.h"

#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"

void qp__runs_free(qp__runs_t *r) {
  qp_free(r->values), qp_free(r->ts), qp_free(r->next), qp_free(r->slot);
  qp_free(r->last), qp_free(r->order), qp_free(r->buf);
  memset(r, 0, sizeof *r);
}

int qp__runs_alloc(qp__runs_t *r, uint32_t max) {
  memset(r, 0, sizeof *r);
  r->max = max;
  r->cap = 16;
  while (r->cap < 2u * max) r->cap *= 2;
  r->values = qp_malloc((size_t)max * sizeof *r->values);
  r->ts = qp_malloc((size_t)max * sizeof *r->ts);
  r->next = qp_malloc((size_t)max * sizeof *r->next);
  r->buf = qp_malloc((size_t)max * 8u);
  r->slot = qp_malloc((size_t)r->cap * sizeof *r->slot);
  r->last = qp_malloc((size_t)r->cap * sizeof *r->last);
  r->order = qp_malloc((size_t)r->cap * sizeof *r->order);
  if (r->values && r->ts && r->next && r->buf && r->slot && r->last && r->order) {
    qp__runs_reset(r);
    return 0;
  }
  qp__runs_free(r);
  return QP_ENOMEM;
}

void qp__runs_reset(qp__runs_t *r) {
  memset(r->slot, 0xff, (size_t)r->cap * sizeof *r->slot);
  r->entries = r->used = 0;
}

void qp__runs_add(qp__runs_t *r, qp_u128 v, uint64_t ts) {
  QP_ASSERT(r->entries < r->max);
  uint64_t h = ((uint64_t)v ^ (uint64_t)(v >> 64)) * 0x9e3779b97f4a7c15ull;
  uint32_t i = (uint32_t)(h >> 32) & (r->cap - 1);
  while (r->slot[i] != UINT32_MAX && r->values[r->slot[i]] != v) i = (i + 1) & (r->cap - 1);
  uint32_t e = r->entries++;
  r->values[e] = v, r->ts[e] = ts, r->next[e] = UINT32_MAX;
  if (r->slot[i] == UINT32_MAX) {
    r->slot[i] = e;
    r->order[r->used++] = i;
  } else {
    r->next[r->last[i]] = e;
  }
  r->last[i] = e;
}

int qp__runs_put(qp__runs_t *r, MDB_cursor *cur, size_t (*key_of)(qp_u128 v, uint8_t key[32],
                                                                   const void *ctx),
                 const void *ctx) {
  int rc = 0;
  for (uint32_t u = 0; u < r->used && rc == 0; u++) {
    uint32_t n = 0, first = r->slot[r->order[u]];
    for (uint32_t e = first; e != UINT32_MAX; e = r->next[e])
      qp_store_u64_be(r->buf + 8u * n++, r->ts[e]);
    uint8_t key[32];
    MDB_val k = {key_of(r->values[first], key, ctx), key};
    MDB_val data[2] = {{8, r->buf}, {n, NULL}};
    rc = mdb_cursor_put(cur, &k, data, MDB_MULTIPLE | MDB_APPENDDUP);
  }
  return rc;
}
