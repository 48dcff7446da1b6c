/*
 * query.c - the query indexes and the leapfrog intersection over them
 * (layout and rules in query.h).
 */
#include "ledger/query.h"

#include <stdint.h>
#include <string.h>

#include "base/bytes.h"
#include "base/err.h"
#include "ledger/runs.h"

enum { PREFIX_SIZE = 18, FIELDS_MAX = 5 };
_Static_assert(PREFIX_SIZE == 2 + 16, "kind, field, value");

static void make_prefix(uint8_t out[PREFIX_SIZE], char kind, qp__query_field_t field,
                        qp_u128 value) {
  out[0] = (uint8_t)kind;
  out[1] = (uint8_t)field;
  qp_u128_store_be(out + 2, value);
}

/* An account's entry in the set of (field, value), one put per entry
 * (transfers' sets are written a run at a time, qp__query_add_transfers). */
static int add_account(MDB_cursor *cur, qp__query_field_t field, qp_u128 value, uint64_t ts) {
  uint8_t key[PREFIX_SIZE], data[8];
  make_prefix(key, 'a', field, value);
  qp_store_u64_be(data, ts);
  MDB_val k = {sizeof key, key}, v = {sizeof data, data};
  return mdb_cursor_put(cur, &k, &v, 0);
}

/* The fields a record is indexed under: (field, value) pairs, zero
 * user data left out.  Returns how many. */
static uint32_t record_fields(qp_u128 ud128, uint64_t ud64, uint32_t ud32, uint32_t ledger,
                              uint16_t code, qp__query_field_t fields[FIELDS_MAX],
                              qp_u128 values[FIELDS_MAX]) {
  uint32_t n = 0;
  if (ud128 != 0) fields[n] = QP__QUERY_USER_DATA_128, values[n++] = ud128;
  if (ud64 != 0) fields[n] = QP__QUERY_USER_DATA_64, values[n++] = ud64;
  if (ud32 != 0) fields[n] = QP__QUERY_USER_DATA_32, values[n++] = ud32;
  if (ledger != 0) fields[n] = QP__QUERY_LEDGER, values[n++] = ledger;
  if (code != 0) fields[n] = QP__QUERY_CODE, values[n++] = code;
  return n;
}

int qp__query_add_accounts(MDB_txn *txn, MDB_dbi dbi, const qp_ledger_changes_t *c,
                           uint64_t after_ts) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc != 0) return rc;
  for (uint32_t i = 0; i < c->accounts_count && rc == 0; i++) {
    const qp_account_t *a = &c->accounts[i];
    if (a->timestamp <= after_ts) continue; /* created in an earlier round */
    qp__query_field_t fields[FIELDS_MAX];
    qp_u128 values[FIELDS_MAX];
    uint32_t n = record_fields(a->user_data_128, a->user_data_64, a->user_data_32, a->ledger,
                               a->code, fields, values);
    for (uint32_t k = 0; k < n && rc == 0; k++)
      rc = add_account(cur, fields[k], values[k], a->timestamp);
  }
  mdb_cursor_close(cur);
  return rc;
}

/* A transfer query set's key: ('t', field, value). */
static size_t set_key(qp_u128 v, uint8_t key[32], const void *ctx) {
  make_prefix(key, 't', *(const qp__query_field_t *)ctx, v);
  return PREFIX_SIZE;
}

/* The round's transfers into the query sets, grouped per (field, value)
 * (runs.h): the sets a round touches most (`ledger`, `code`) get one put
 * per value instead of one per transfer.  The sets hold what one put per
 * entry makes. */
int qp__query_add_transfers(MDB_txn *txn, MDB_dbi dbi, const qp_ledger_changes_t *c,
                            qp__runs_t *r) {
  static const qp__query_field_t FIELDS[] = {QP__QUERY_USER_DATA_128, QP__QUERY_USER_DATA_64,
                                             QP__QUERY_USER_DATA_32, QP__QUERY_LEDGER,
                                             QP__QUERY_CODE};
  if (c->transfers_count == 0) return 0;
  int rc = qp__runs_reserve(r, c->transfers_count);
  if (rc != 0) return rc;
  MDB_cursor *cur = NULL;
  rc = mdb_cursor_open(txn, dbi, &cur);
  for (size_t f = 0; f < sizeof FIELDS / sizeof FIELDS[0] && rc == 0; f++) {
    qp__runs_reset(r);
    for (uint32_t i = 0; i < c->transfers_count; i++) {
      const qp_transfer_t *t = &c->transfers[i];
      qp__query_field_t fields[FIELDS_MAX];
      qp_u128 values[FIELDS_MAX];
      uint32_t m = record_fields(t->user_data_128, t->user_data_64, t->user_data_32, t->ledger,
                                 t->code, fields, values);
      for (uint32_t k = 0; k < m; k++)
        if (fields[k] == FIELDS[f]) qp__runs_add(r, values[k], t->timestamp);
    }
    rc = qp__runs_put(r, cur, set_key, &FIELDS[f]);
  }
  if (cur != NULL) mdb_cursor_close(cur);
  return rc;
}

/* ---------------------------------------------------------------- query */

/* One sorted run of timestamps: the duplicates of one key of the query
 * table, or (dup false) the keys of the transfers table. */
typedef struct source {
  MDB_cursor *cur;
  uint8_t prefix[PREFIX_SIZE];
  bool dup; /* a query-table run */
} source_t;

/* The timestamp the cursor stands on (its data in a run, its key in the
 * transfers table); false if it is not one. */
static bool stamp_of(const source_t *s, const MDB_val *k, const MDB_val *v, uint64_t *ts) {
  const MDB_val *at = s->dup ? v : k;
  if (at->mv_size != 8) return false;
  *ts = qp_load_u64_be(at->mv_data);
  return true;
}

/* The transfers table: keys are the timestamps themselves. */
static int seek_table(source_t *s, uint64_t at, bool backward, uint64_t *ts) {
  uint8_t key[8];
  qp_store_u64_be(key, at);
  MDB_val k = {sizeof key, key}, v;
  int rc = mdb_cursor_get(s->cur, &k, &v, MDB_SET_RANGE);
  if (backward && !(rc == 0 && stamp_of(s, &k, &v, ts) && *ts == at)) {
    rc = rc == 0 ? mdb_cursor_get(s->cur, &k, &v, MDB_PREV)
         : rc == MDB_NOTFOUND ? mdb_cursor_get(s->cur, &k, &v, MDB_LAST) : rc;
  }
  if (rc != 0) return rc;
  return stamp_of(s, &k, &v, ts) ? 0 : MDB_CORRUPTED;
}

/* Moves s to its first timestamp at or after `at` (forward) or its last at
 * or before it (backward).  Returns 0 with *ts, MDB_NOTFOUND when there is
 * none, or an LMDB error. */
static int seek(source_t *s, uint64_t at, bool backward, uint64_t *ts) {
  if (!s->dup) return seek_table(s, at, backward, ts);
  uint8_t data[8];
  qp_store_u64_be(data, at);
  MDB_val k = {PREFIX_SIZE, s->prefix}, v = {sizeof data, data};
  int rc = mdb_cursor_get(s->cur, &k, &v, MDB_GET_BOTH_RANGE);
  if (backward && rc == 0 && stamp_of(s, &k, &v, ts) && *ts != at)
    rc = mdb_cursor_get(s->cur, &k, &v, MDB_PREV_DUP);
  else if (backward && rc == MDB_NOTFOUND) {
    /* Every duplicate is before `at` (or the key is absent): the last one. */
    k = (MDB_val){PREFIX_SIZE, s->prefix};
    rc = mdb_cursor_get(s->cur, &k, &v, MDB_SET);
    if (rc == 0) rc = mdb_cursor_get(s->cur, &k, &v, MDB_LAST_DUP);
  }
  if (rc != 0) return rc;
  return stamp_of(s, &k, &v, ts) ? 0 : MDB_CORRUPTED;
}

/* The sources a filter needs; returns how many (none: walk everything,
 * which accounts do in memory and transfers in their table). */
static uint32_t make_sources(const qp_query_filter_t *f, bool accounts, source_t *src) {
  qp__query_field_t fields[FIELDS_MAX];
  qp_u128 values[FIELDS_MAX];
  uint32_t n = record_fields(f->user_data_128, f->user_data_64, f->user_data_32, f->ledger,
                             f->code, fields, values);
  for (uint32_t i = 0; i < n; i++) {
    make_prefix(src[i].prefix, accounts ? 'a' : 't', fields[i], values[i]);
    src[i].dup = true;
  }
  if (n == 0 && !accounts) n = 1; /* the transfers table itself */
  return n;
}

/* Hands one agreed row to fn: the stored transfer, or (accounts) nothing
 * but the timestamp. */
static int emit(MDB_txn *txn, MDB_dbi transfers, source_t *s, bool accounts, uint64_t ts,
                qp__query_row_fn fn, void *ctx) {
  MDB_val k, v = {0, NULL};
  int rc = 0;
  if (!accounts && !s->dup) {
    rc = mdb_cursor_get(s->cur, &k, &v, MDB_GET_CURRENT);
  } else if (!accounts) {
    uint8_t key[8];
    qp_store_u64_be(key, ts);
    MDB_val tk = {sizeof key, key};
    rc = mdb_get(txn, transfers, &tk, &v);
    if (rc == MDB_NOTFOUND) rc = MDB_CORRUPTED; /* an entry without its transfer */
  }
  if (rc != 0) return rc;
  return fn(ctx, ts, &v);
}

/* The leapfrog: each source in turn seeks to the candidate timestamp; one
 * that lands further on moves the candidate there; when all n agree the
 * row matches every field. */
static int leapfrog(MDB_txn *txn, MDB_dbi transfers, source_t *src, uint32_t n, bool accounts,
                    const qp_query_filter_t *f, qp__query_row_fn fn, void *ctx) {
  bool back = f->flags & QP_QUERY_REVERSED;
  uint64_t lo = f->timestamp_min, hi = f->timestamp_max != 0 ? f->timestamp_max : UINT64_MAX;
  uint64_t cand = back ? hi : lo;
  uint32_t agree = 0, emitted = 0;
  for (uint32_t k = 0; emitted < f->limit; k = (k + 1) % n) {
    uint64_t ts;
    int rc = seek(&src[k], cand, back, &ts);
    if (rc == MDB_NOTFOUND || (rc == 0 && (back ? ts < lo : ts > hi))) return 0;
    if (rc != 0) return rc;
    agree = ts == cand ? agree + 1 : 1;
    cand = ts;
    if (agree < n) continue;
    rc = emit(txn, transfers, &src[k], accounts, cand, fn, ctx);
    if (rc != 0) return rc == 1 ? 0 : rc;
    emitted++;
    agree = 0;
    if (back ? cand == 0 : cand == UINT64_MAX) return 0;
    cand = back ? cand - 1 : cand + 1;
  }
  return 0;
}

bool qp__query_has_fields(const qp_query_filter_t *f) {
  qp__query_field_t fields[FIELDS_MAX];
  qp_u128 values[FIELDS_MAX];
  return record_fields(f->user_data_128, f->user_data_64, f->user_data_32, f->ledger, f->code,
                       fields, values) > 0;
}

int qp__query_run(MDB_txn *txn, MDB_dbi query, MDB_dbi transfers, bool accounts,
                  const qp_query_filter_t *f, qp__query_row_fn fn, void *ctx) {
  source_t src[FIELDS_MAX];
  memset(src, 0, sizeof src);
  uint32_t n = make_sources(f, accounts, src);
  int rc = 0;
  if (n == 0) return 0; /* accounts without a field: the caller walks memory */
  uint32_t opened = 0;
  for (; opened < n && rc == 0; opened++)
    rc = mdb_cursor_open(txn, src[opened].dup ? query : transfers, &src[opened].cur);
  if (rc == 0) rc = leapfrog(txn, transfers, src, n, accounts, f, fn, ctx);
  for (uint32_t i = 0; i < opened; i++)
    if (src[i].cur) mdb_cursor_close(src[i].cur);
  return rc;
}
