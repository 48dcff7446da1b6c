/*
 * kv_page.c - one page of a time-ordered index: the walk every list route
 * makes over a table whose keys are (creation ns, 8 bytes big-endian) ||
 * an id, from a creation time or after the previous page's last key, up
 * to an end time, until the page is full or it has looked at scan_max
 * keys.  What a key stands for, and whether it is shown, is the visitor's.
 */
#include <string.h>

#include "base/assert.h"
#include "store/kv.h"

static uint64_t key_ns(const MDB_val *k) {
  uint64_t ns = 0;
  for (int i = 0; i < 8; i++) ns = (ns << 8) | ((const uint8_t *)k->mv_data)[i];
  return ns;
}

/* Positions cur at the page's first key: after the cursor, not before from. */
static int first(MDB_cursor *cur, const qp_kv_page_t *p, MDB_val *k, MDB_val *v) {
  uint8_t start[QP_KV_PAGE_KEY_MAX] = {0};
  for (int i = 7; i >= 0; i--) start[i] = (uint8_t)(p->from_ns >> (8 * (7 - i)));
  bool after = p->after != NULL && memcmp(p->after, start, p->key_size) >= 0;
  k->mv_size = p->key_size;
  k->mv_data = after ? (void *)p->after : (void *)start;
  int rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
  if (rc == 0 && after && k->mv_size == p->key_size &&
      memcmp(k->mv_data, p->after, p->key_size) == 0)
    rc = mdb_cursor_get(cur, k, v, MDB_NEXT);
  return rc;
}

static bool in_range(const qp_kv_page_t *p, const MDB_val *k) {
  return k->mv_size == p->key_size && (p->to_ns == 0 || key_ns(k) < p->to_ns);
}

int qp_kv_page(qp_kv_t *kv, const qp_kv_page_t *p, qp_kv_page_visit_fn visit, void *ctx,
               uint8_t *next, bool *more) {
  QP_ASSERT(p->key_size >= 8 && p->key_size <= QP_KV_PAGE_KEY_MAX && p->limit > 0);
  MDB_txn *txn = NULL;
  MDB_cursor *cur = NULL;
  *more = false;
  int rc = qp_kv_read_begin(kv, p->dbi, &txn, &cur);
  if (rc != 0) return rc;
  MDB_val k, v;
  uint32_t looked = 0, taken = 0;
  rc = first(cur, p, &k, &v);
  while (rc == 0 && in_range(p, &k)) {
    if (taken >= p->limit || looked >= p->scan_max) {
      *more = true;
      break;
    }
    looked++;
    memcpy(next, k.mv_data, p->key_size);
    bool shown = false;
    rc = visit(ctx, txn, &k, &shown);
    taken += shown ? 1u : 0u;
    if (rc == 0) rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  qp_kv_read_end(kv, txn, cur);
  return rc == MDB_NOTFOUND ? 0 : qp_kv_err(rc);
}
