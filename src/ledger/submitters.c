/*
 * submitters.c - who submitted each batch (see submitters.h).
 */
#include "ledger/submitters.h"

#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/err.h"

void qp__subs_deinit(qp__subs_t *s) {
  qp_free(s->rows);
  memset(s, 0, sizeof *s);
}

int qp__subs_note(qp__subs_t *s, uint64_t key, uint64_t after_ts, uint64_t last_ts,
                  const uint32_t *results, uint32_t count) {
  if (key == 0 || last_ts <= after_ts) return 0;
  bool created = false;
  for (uint32_t i = 0; i < count && !created; i++) created = results[i] == 0;
  if (!created) return 0;
  qp__sub_t *prev = s->count > 0 ? &s->rows[s->count - 1] : NULL;
  if (prev != NULL && prev->key == key && prev->last_ts == after_ts) {
    prev->last_ts = last_ts;
    return 0;
  }
  if (s->count == s->capacity) {
    uint32_t cap = s->capacity ? 2 * s->capacity : 64;
    qp__sub_t *rows = qp_realloc(s->rows, (size_t)cap * sizeof *rows);
    if (rows == NULL) return QP_ENOMEM;
    s->rows = rows;
    s->capacity = cap;
  }
  s->rows[s->count++] = (qp__sub_t){after_ts, last_ts, key};
  return 0;
}

void qp__subs_take(qp__subs_t *from, qp__subs_t *to) {
  qp__subs_t swap = *to;
  *to = *from;
  *from = swap;
  from->count = 0;
}

uint64_t qp__subs_from_tag(const uint8_t tag[QP_JOURNAL_TAG_SIZE]) { return qp_load_u64(tag); }

void qp__subs_to_tag(uint64_t key, uint8_t tag[QP_JOURNAL_TAG_SIZE]) {
  memset(tag, 0, QP_JOURNAL_TAG_SIZE);
  qp_store_u64(tag, key);
}

int qp__subs_store(MDB_txn *txn, MDB_dbi dbi, const qp__subs_t *s) {
  int rc = 0;
  for (uint32_t i = 0; i < s->count && rc == 0; i++) {
    uint8_t k[8], v[16];
    qp_store_u64_be(k, s->rows[i].last_ts);
    qp_store_u64(v, s->rows[i].after_ts);
    qp_store_u64(v + 8, s->rows[i].key);
    MDB_val key = {sizeof k, k}, val = {sizeof v, v};
    rc = mdb_put(txn, dbi, &key, &val, 0);
  }
  return rc;
}

int qp__subs_lookup(MDB_txn *txn, MDB_dbi dbi, uint64_t ts, uint64_t *key) {
  *key = 0;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc != 0) return rc;
  uint8_t k[8];
  qp_store_u64_be(k, ts);
  MDB_val mk = {sizeof k, k}, mv;
  rc = mdb_cursor_get(cur, &mk, &mv, MDB_SET_RANGE);
  if (rc == 0 && mv.mv_size == 16 && qp_load_u64(mv.mv_data) < ts)
    *key = qp_load_u64((const uint8_t *)mv.mv_data + 8);
  else if (rc == 0 && mv.mv_size != 16)
    rc = MDB_CORRUPTED;
  mdb_cursor_close(cur);
  return rc == MDB_NOTFOUND ? 0 : rc;
}
