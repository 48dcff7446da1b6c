/*
 * index.c - the LMDB index: writing a batch's changes, loading the state
 * at open, and the history queries.  Keys are big-endian so that LMDB's
 * byte order is numeric order; values use the fixed record encodings.
 */
#include "ledger/index.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "ledger/accounts.h"
#include "ledger/query.h"
#include "ledger/runs.h"
#include "ledger/submitters.h"
#include "base/err.h"

static const char META_KEY[] = "applied";
static const char QUERIES_KEY[] = "queries";
/* META_SIZE_V1: an index written before the offset and events were kept. */
enum { TRIM_EVERY_OPS = 8192 };
enum { META_SIZE_V1 = 8 + QP_HASH_SIZE + 8, META_SIZE = META_SIZE_V1 + 16, KEY_ACCT_TS = 24,
       BALANCE_SIZE = 80 };

/* The index's error mapping: a full map or disk is QP_ENOSPC (the
 * applier retries), anything else QP_EDB.  Takes LMDB codes and the
 * QP_E* codes of store/kv alike. */
static int db_err(int rc) {
  int err = qp_kv_err(rc);
  return err == 0 || err == QP_ENOSPC ? err : QP_EDB;
}

static void find_map(qp__index_t *ix, const char *dir);

int qp__index_open(qp__index_t *ix, const char *path, size_t map_size, bool read_only,
                   char *detail, size_t detail_size) {
  memset(ix, 0, sizeof *ix);
  char why[512] = "";
  unsigned flags = (read_only ? MDB_RDONLY : 0) | MDB_NOTLS | MDB_NOMETASYNC;
  int rc = qp_kv_open(path, map_size, flags, 10, &ix->kv, why, sizeof why);
  unsigned create = read_only ? 0 : MDB_CREATE;
  /* Each account's transfer timestamps as sorted fixed-size duplicates: 8
   * bytes an entry instead of a 24-byte key, so a round dirties far fewer
   * pages, and a busy account's new entries land at the end of its set. */
  const qp_kv_table_t tables[] = {
      {"accounts", create, &ix->accounts},
      {"account_wal", create, &ix->account_wal},
      {"transfers", create, &ix->transfers},
      {"transfer_ids", create, &ix->transfer_ids},
      {"balances", create, &ix->balances},
      {"pending", create, &ix->pending},
      {"account_transfers", create | MDB_DUPSORT | MDB_DUPFIXED, &ix->account_transfers},
      {"query", create | MDB_DUPSORT | MDB_DUPFIXED, &ix->query},
      {"submitters", create, &ix->submitters},
      {"meta", create, &ix->meta}};
  const char *table = NULL;
  if (rc == 0) rc = qp_kv_dbis(ix->kv, tables, sizeof tables / sizeof tables[0], &table);
  if (rc != 0 && why[0] == '\0')
    snprintf(why, sizeof why, "%s: table %s: %s", path, table ? table : "?", qp_strerror(rc));
  if (rc != 0) {
    if (detail) snprintf(detail, detail_size, "index %s", why);
    qp_kv_close(ix->kv);
    ix->kv = NULL;
    /* QP_ENOMEM: the wrapper's handle could not be allocated. */
    return rc == QP_ENOTFOUND || rc == QP_ENOMEM ? rc : db_err(rc);
  }
  ix->env = qp_kv_env(ix->kv);
  find_map(ix, path);
  return 0;
}

/* A read-only transaction and a cursor on dbi in it; 0 or QP_EDB.  End
 * with qp_kv_read_end. */
static int read_cursor(qp__index_t *ix, MDB_dbi dbi, MDB_txn **txn, MDB_cursor **cur) {
  return db_err(qp_kv_read_begin(ix->kv, dbi, txn, cur));
}

/* A read-only transaction alone; 0 or QP_EDB.  End with qp_kv_read_end. */
static int read_txn(qp__index_t *ix, MDB_txn **txn) {
  return db_err(qp_kv_read_begin(ix->kv, 0, txn, NULL));
}

void qp__index_close(qp__index_t *ix) {
  qp__runs_free(&ix->runs);
  qp_kv_close(ix->kv);
  ix->kv = NULL;
  ix->env = NULL;
}

int qp__index_read_meta(qp__index_t *ix, qp__index_meta_t *out) {
  memset(out, 0, sizeof *out);
  MDB_txn *txn;
  int rc = read_txn(ix, &txn);
  if (rc != 0) return rc;
  MDB_val k = {sizeof META_KEY - 1, (void *)META_KEY}, v;
  rc = mdb_get(txn, ix->meta, &k, &v);
  if (rc == 0 && (v.mv_size == META_SIZE || v.mv_size == META_SIZE_V1)) {
    const uint8_t *p = v.mv_data;
    out->applied_seq = qp_load_u64(p);
    memcpy(out->applied_hash, p + 8, QP_HASH_SIZE);
    out->last_timestamp = qp_load_u64(p + 8 + QP_HASH_SIZE);
    if (v.mv_size == META_SIZE) {
      out->applied_offset = qp_load_u64(p + META_SIZE_V1);
      out->events = qp_load_u64(p + META_SIZE_V1 + 8);
    }
  } else if (rc == 0) {
    rc = -1;
  }
  qp_kv_read_end(ix->kv, txn, NULL);
  if (rc == MDB_NOTFOUND) return 0;
  return rc == 0 ? 0 : QP_ECORRUPT;
}

int qp__index_has_queries(qp__index_t *ix, bool *out) {
  MDB_txn *txn;
  int rc = read_txn(ix, &txn);
  if (rc != 0) return rc;
  MDB_val k = {sizeof QUERIES_KEY - 1, (void *)QUERIES_KEY}, v;
  rc = mdb_get(txn, ix->meta, &k, &v);
  *out = rc == 0;
  qp_kv_read_end(ix->kv, txn, NULL);
  return rc == 0 || rc == MDB_NOTFOUND ? 0 : QP_EDB;
}

int qp__index_submitters(qp__index_t *ix, const uint64_t *ts, uint32_t count, uint64_t *out) {
  MDB_txn *txn;
  int rc = read_txn(ix, &txn);
  if (rc != 0) return rc;
  for (uint32_t i = 0; i < count && rc == 0; i++)
    rc = db_err(qp__subs_lookup(txn, ix->submitters, ts[i], &out[i]));
  qp_kv_read_end(ix->kv, txn, NULL);
  return rc;
}

int qp__index_query(qp__index_t *ix, bool accounts, const qp_query_filter_t *f,
                    int (*fn)(void *ctx, uint64_t ts, const MDB_val *value), void *ctx) {
  MDB_txn *txn;
  int rc = read_txn(ix, &txn);
  if (rc != 0) return rc;
  rc = qp__query_run(txn, ix->query, ix->transfers, accounts, f, fn, ctx);
  qp_kv_read_end(ix->kv, txn, NULL);
  if (rc == MDB_CORRUPTED) return QP_ECORRUPT;
  return rc > 0 ? db_err(rc) : rc;
}

static void acct_ts_key(uint8_t key[KEY_ACCT_TS], qp_u128 account, uint64_t ts) {
  qp_u128_store_be(key, account);
  qp_store_u64_be(key + 16, ts);
}

static int put(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen, const void *v, size_t vlen) {
  MDB_val key = {klen, (void *)k}, val = {vlen, (void *)v};
  return mdb_put(txn, dbi, &key, &val, 0);
}

/* Finds the timestamp key of the transfer with `id`. */
static int transfer_key(qp__index_t *ix, MDB_txn *txn, qp_u128 id, uint8_t ts_key[8]) {
  uint8_t key[16];
  qp_u128_store_be(key, id);
  MDB_val k = {sizeof key, key}, v;
  int rc = mdb_get(txn, ix->transfer_ids, &k, &v);
  if (rc != 0) return rc;
  if (v.mv_size != 8) return MDB_CORRUPTED;
  memcpy(ts_key, v.mv_data, 8);
  return 0;
}

/* An id is put with MDB_APPEND first: ids that grow with time (as most
 * clients make them) then skip the search from the root.  A failed
 * append leaves the transaction intact (LMDB checks before changing
 * anything), and the id goes in with an ordinary put. */
static int put_id(MDB_cursor *cur, const uint8_t id[16], const uint8_t ts[8]) {
  MDB_val k = {16, (void *)id}, v = {8, (void *)ts};
  int rc = mdb_cursor_put(cur, &k, &v, MDB_APPEND);
  if (rc == MDB_KEYEXIST) rc = mdb_cursor_put(cur, &k, &v, 0);
  return rc;
}

/* An account's set's key: its id, big-endian. */
static size_t account_key(qp_u128 account, uint8_t key[32], const void *ctx) {
  (void)ctx;
  qp_u128_store_be(key, account);
  return 16;
}

/* Each account's new timestamps, one put per account (runs.h): they follow
 * every one the account has (a round's transfers follow every stored one,
 * assert_round in db_applier.c), so each run is appended to its set. */
static int add_account_sets(qp__index_t *ix, MDB_txn *txn, const qp_ledger_changes_t *c) {
  if (c->transfers_count == 0) return 0;
  qp__runs_t *r = &ix->runs;
  int rc = qp__runs_reserve(r, 2u * c->transfers_count);
  if (rc != 0) return rc;
  for (uint32_t i = 0; i < c->transfers_count; i++) {
    const qp_transfer_t *t = &c->transfers[i];
    qp__runs_add(r, t->debit_account_id, t->timestamp);
    qp__runs_add(r, t->credit_account_id, t->timestamp);
  }
  MDB_cursor *cur = NULL;
  rc = mdb_cursor_open(txn, ix->account_transfers, &cur);
  if (rc == 0) rc = qp__runs_put(r, cur, account_key, NULL);
  if (cur != NULL) mdb_cursor_close(cur);
  return rc;
}

/* The round's new transfers: by timestamp (appends at the end of the
 * tree), id -> timestamp, the pending ones, and each account's set. */
static int add_transfers(qp__index_t *ix, MDB_txn *txn, const qp_ledger_changes_t *c) {
  MDB_cursor *ids = NULL;
  int rc = mdb_cursor_open(txn, ix->transfer_ids, &ids);
  for (uint32_t i = 0; i < c->transfers_count && rc == 0; i++) {
    const qp_transfer_t *t = &c->transfers[i];
    uint8_t id[16], ts[8], val[QP_RECORD_SIZE + 1];
    /* Each insert reads its leaf through the map before copying it: over a
     * round that is most of a large tree.  Drop the mapped pages as we go
     * (the ones this transaction still uses fault back in unchanged). */
    if (i % TRIM_EVERY_OPS == TRIM_EVERY_OPS - 1) qp__index_trim(ix);
    qp_u128_store_be(id, t->id);
    qp_store_u64_be(ts, t->timestamp);
    qp_transfer_encode(val, t);
    val[QP_RECORD_SIZE] = c->transfer_states[i];
    MDB_val k = {sizeof ts, ts}, v = {sizeof val, val};
    rc = mdb_put(txn, ix->transfers, &k, &v, MDB_APPEND);
    if (rc == 0) rc = put_id(ids, id, ts);
    if (rc == 0 && c->transfer_states[i] == QP_PENDING_PENDING)
      rc = put(txn, ix->pending, id, sizeof id, ts, sizeof ts);
  }
  /* Write cursors are freed with the transaction; closing them is allowed. */
  if (ids) mdb_cursor_close(ids);
  return rc == 0 ? add_account_sets(ix, txn, c) : rc;
}

static int apply_transfers(qp__index_t *ix, MDB_txn *txn, const qp_ledger_changes_t *c) {
  int rc = add_transfers(ix, txn, c);
  /* A pending transfer's state byte is rewritten in place. */
  for (uint32_t i = 0; i < c->pending_count && rc == 0; i++) {
    uint8_t ts[8];
    /* Random reads all over the two largest trees: trim as above. */
    if (i % TRIM_EVERY_OPS == TRIM_EVERY_OPS - 1) qp__index_trim(ix);
    rc = transfer_key(ix, txn, c->pending[i].transfer_id, ts);
    MDB_val k = {sizeof ts, ts}, v;
    if (rc == 0) rc = mdb_get(txn, ix->transfers, &k, &v);
    if (rc == 0 && v.mv_size != QP_RECORD_SIZE + 1) rc = MDB_CORRUPTED;
    if (rc != 0) break;
    uint8_t val[QP_RECORD_SIZE + 1];
    memcpy(val, v.mv_data, sizeof val);
    val[QP_RECORD_SIZE] = c->pending[i].state;
    rc = put(txn, ix->transfers, ts, sizeof ts, val, sizeof val);
    if (rc == 0 && c->pending[i].state != QP_PENDING_PENDING) {
      uint8_t id[16];
      qp_u128_store_be(id, c->pending[i].transfer_id);
      MDB_val pk = {sizeof id, id};
      rc = mdb_del(txn, ix->pending, &pk, NULL);
      if (rc == MDB_NOTFOUND) rc = 0; /* already resolved in an earlier round */
    }
  }
  return rc;
}

/* Drops the redo log's rounds up to wal_done, then logs this round's. */
static int apply_accounts(qp__index_t *ix, MDB_txn *txn, const qp_ledger_changes_t *c,
                          uint64_t seq, uint64_t wal_done) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, ix->account_wal, &cur);
  if (rc != 0) return rc;
  MDB_val k, v;
  while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
    if (k.mv_size != 8 || qp_load_u64_be(k.mv_data) > wal_done) break;
    rc = mdb_cursor_del(cur, 0);
    if (rc != 0) break;
  }
  mdb_cursor_close(cur);
  if (rc == MDB_NOTFOUND) rc = 0;
  if (rc == 0 && c->accounts_count > 0) {
    QP_ASSERT(c->account_rows != NULL);
    uint8_t key[8];
    qp_store_u64_be(key, seq);
    MDB_val wk = {sizeof key, key}, wv = {(size_t)c->accounts_count * QP__ACCOUNT_WAL_ENTRY, NULL};
    rc = mdb_put(txn, ix->account_wal, &wk, &wv, MDB_RESERVE);
    if (rc == 0)
      qp__accounts_wal_encode(wv.mv_data, c->accounts, c->account_rows, c->accounts_count);
  }
  for (uint32_t i = 0; i < c->balances_count && rc == 0; i++) {
    const qp_account_balance_t *b = &c->balances[i];
    uint8_t key[KEY_ACCT_TS], val[BALANCE_SIZE];
    acct_ts_key(key, b->account_id, b->timestamp);
    qp_u128_store_le(val, b->transfer_id);
    qp_u128_store_le(val + 16, b->debits_pending);
    qp_u128_store_le(val + 32, b->debits_posted);
    qp_u128_store_le(val + 48, b->credits_pending);
    qp_u128_store_le(val + 64, b->credits_posted);
    rc = put(txn, ix->balances, key, sizeof key, val, sizeof val);
  }
  return rc;
}

typedef struct apply_args {
  qp__index_t *ix;
  const qp_ledger_changes_t *changes;
  const qp__subs_t *subs;
  const qp__index_meta_t *meta;
  uint64_t wal_done;
} apply_args_t;

/* The one write transaction of a round (run by qp_kv_write). */
static int apply_txn(void *ctx, MDB_txn *txn) {
  const apply_args_t *a = ctx;
  qp__index_t *ix = a->ix;
  const qp_ledger_changes_t *c = a->changes;
  const qp__index_meta_t *meta = a->meta;
  uint64_t wal_done = a->wal_done;
  /* The clock before this round: accounts stamped after it are new. */
  MDB_val mk = {sizeof META_KEY - 1, (void *)META_KEY}, mv;
  int rc = mdb_get(txn, ix->meta, &mk, &mv);
  uint64_t before = 0;
  if (rc == 0 && mv.mv_size >= META_SIZE_V1)
    before = qp_load_u64((const uint8_t *)mv.mv_data + 8 + QP_HASH_SIZE);
  if (rc == MDB_NOTFOUND) rc = 0;
  if (rc == 0) rc = apply_transfers(ix, txn, c);
  if (rc == 0) rc = apply_accounts(ix, txn, c, meta->applied_seq, wal_done);
  if (rc == 0) rc = qp__query_add_transfers(txn, ix->query, c, &ix->runs);
  if (rc == 0) rc = qp__query_add_accounts(txn, ix->query, c, before);
  if (rc == 0) rc = qp__subs_store(txn, ix->submitters, a->subs);
  if (rc == 0) rc = put(txn, ix->meta, QUERIES_KEY, sizeof QUERIES_KEY - 1, "1", 1);
  if (rc == 0) {
    uint8_t val[META_SIZE];
    qp_store_u64(val, meta->applied_seq);
    memcpy(val + 8, meta->applied_hash, QP_HASH_SIZE);
    qp_store_u64(val + 8 + QP_HASH_SIZE, meta->last_timestamp);
    qp_store_u64(val + META_SIZE_V1, meta->applied_offset);
    qp_store_u64(val + META_SIZE_V1 + 8, meta->events);
    rc = put(txn, ix->meta, META_KEY, sizeof META_KEY - 1, val, sizeof val);
  }
  return rc;
}

/* The index's write policy is store/kv's default - no map growth, no
 * retry inside the call: a full map or disk comes back as QP_ENOSPC and
 * the applier retries the round with backoff (db.c), so that close never
 * waits behind a sleeping write. */
int qp__index_apply(qp__index_t *ix, const qp_ledger_changes_t *c, const qp__subs_t *subs,
                    const qp__index_meta_t *meta, uint64_t wal_done) {
  apply_args_t a = {ix, c, subs, meta, wal_done};
  return db_err(qp_kv_write(ix->kv, apply_txn, &a));
}

/* Calls fn for every value of dbi in key order. */
static int each_value(MDB_txn *txn, MDB_dbi dbi, int (*fn)(void *ctx, const MDB_val *v),
                      void *ctx) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc != 0) return db_err(rc);
  MDB_val k, v;
  int err = 0;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && err == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    err = fn(ctx, &v);
  mdb_cursor_close(cur); /* read-only cursors are not freed by the txn */
  if (err != 0) return err;
  return rc == MDB_NOTFOUND ? 0 : db_err(rc);
}

typedef struct pending_load {
  qp__index_t *ix;
  MDB_txn *txn;
  qp_ledger_t *ledger;
  uint64_t loaded;
} pending_load_t;

/* A pending entry's value is the transfer's timestamp key. */
static int load_pending(void *vctx, const MDB_val *v) {
  pending_load_t *c = vctx;
  if (v->mv_size != 8) return QP_ECORRUPT;
  MDB_val k = {8, v->mv_data}, t;
  int rc = mdb_get(c->txn, c->ix->transfers, &k, &t);
  if (rc != 0 || t.mv_size != QP_RECORD_SIZE + 1) return QP_ECORRUPT;
  if (((const uint8_t *)t.mv_data)[QP_RECORD_SIZE] != QP_PENDING_PENDING) return QP_ECORRUPT;
  qp_transfer_t tr;
  qp_transfer_decode(t.mv_data, &tr);
  c->loaded++;
  return qp_ledger_restore_transfer(c->ledger, &tr, QP_PENDING_PENDING);
}

int qp__index_load(qp__index_t *ix, qp_ledger_t *ledger) {
  MDB_txn *txn;
  int rc = read_txn(ix, &txn);
  if (rc != 0) return rc;
  MDB_stat transfers;
  rc = db_err(mdb_stat(txn, ix->transfers, &transfers));
  /* Only pending transfers come back into memory: they are the ones the
   * state machine may still change.  Keyed by id here; restored in time
   * order does not matter for them (rows are not ordered by anything). */
  pending_load_t p = {.ix = ix, .txn = txn, .ledger = ledger};
  if (rc == 0) rc = each_value(txn, ix->pending, load_pending, &p);
  if (rc == 0) qp_ledger_restore_cold(ledger, transfers.ms_entries - p.loaded);
  qp_kv_read_end(ix->kv, txn, NULL);
  return rc;
}

static int reset_txn(void *ctx, MDB_txn *txn) {
  qp__index_t *ix = ctx;
  MDB_dbi all[] = {ix->accounts, ix->account_wal, ix->transfers,         ix->transfer_ids,
                   ix->balances, ix->pending,     ix->account_transfers, ix->query,
                   ix->submitters, ix->meta};
  int rc = 0;
  for (size_t i = 0; i < sizeof all / sizeof all[0] && rc == 0; i++) rc = mdb_drop(txn, all[i], 0);
  return rc;
}

int qp__index_reset(qp__index_t *ix) { return db_err(qp_kv_write(ix->kv, reset_txn, ix)); }

int qp__index_account_wal(qp__index_t *ix, uint64_t after_seq,
                          int (*fn)(void *ctx, uint64_t seq, const uint8_t *blob, size_t len),
                          void *ctx) {
  MDB_txn *txn;
  MDB_cursor *cur;
  int rc = read_cursor(ix, ix->account_wal, &txn, &cur);
  if (rc != 0) return rc;
  uint8_t start[8];
  qp_store_u64_be(start, after_seq + 1);
  MDB_val k = {sizeof start, start}, v;
  int err = 0;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && err == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != 8 || v.mv_size % QP__ACCOUNT_WAL_ENTRY != 0) err = QP_ECORRUPT;
    else err = fn(ctx, qp_load_u64_be(k.mv_data), v.mv_data, v.mv_size);
  }
  qp_kv_read_end(ix->kv, txn, cur);
  if (err != 0) return err;
  return rc == MDB_NOTFOUND ? 0 : db_err(rc);
}

int qp__index_each_transfer_id(qp__index_t *ix, uint64_t from_ts,
                               int (*fn)(void *ctx, qp_u128 id), void *ctx) {
  MDB_txn *txn;
  MDB_cursor *cur;
  /* All of them: the id table's keys are shorter to walk than the records. */
  bool all = from_ts == 0;
  int rc = read_cursor(ix, all ? ix->transfer_ids : ix->transfers, &txn, &cur);
  if (rc != 0) return rc;
  uint8_t start[8];
  qp_store_u64_be(start, from_ts);
  MDB_val k = {sizeof start, start}, v;
  int err = 0;
  for (rc = mdb_cursor_get(cur, &k, &v, all ? MDB_FIRST : MDB_SET_RANGE); rc == 0 && err == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (all) {
      if (k.mv_size != 16) err = QP_ECORRUPT;
      else err = fn(ctx, qp_u128_load_be(k.mv_data));
    } else {
      if (v.mv_size != QP_RECORD_SIZE + 1) err = QP_ECORRUPT;
      else err = fn(ctx, qp_u128_load_le(v.mv_data)); /* the id leads the record */
    }
  }
  qp_kv_read_end(ix->kv, txn, cur);
  if (err != 0) return err;
  return rc == MDB_NOTFOUND ? 0 : db_err(rc);
}

/* LMDB does not say where it mapped the file (mdb_env_info reports an
 * address only with MDB_FIXEDMAP), so find the mapping of data.mdb in
 * /proc/self/maps.  The map never moves: its size is fixed at open. */
static void find_map(qp__index_t *ix, const char *dir) {
  char want[4200], real[PATH_MAX], line[PATH_MAX + 256];
  snprintf(want, sizeof want, "%s/data.mdb", dir);
  if (realpath(want, real) == NULL) return;
  FILE *f = fopen("/proc/self/maps", "r");
  if (f == NULL) return;
  while (fgets(line, sizeof line, f) != NULL) {
    unsigned long lo, hi;
    int path_at = 0;
    if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &path_at) != 2 || path_at == 0)
      continue;
    char *path = line + path_at;
    path[strcspn(path, "\n")] = '\0';
    if (strcmp(path, real) == 0 && hi - lo > ix->map_len) {
      ix->map_addr = (void *)lo;
      ix->map_len = hi - lo;
    }
  }
  fclose(f);
}

void qp__index_trim(qp__index_t *ix) {
  /* The map is a read-only shared file mapping (no MDB_WRITEMAP): dropping
   * its pages loses nothing, the next access reads them from the cache. */
  if (ix->map_addr != NULL) (void)madvise(ix->map_addr, ix->map_len, MADV_DONTNEED);
}

int qp__index_get_transfer(qp__index_t *ix, MDB_txn *txn, qp_u128 id, qp_transfer_t *out,
                           qp_pending_state_t *state) {
  uint8_t ts[8];
  int rc = transfer_key(ix, txn, id, ts);
  MDB_val k = {sizeof ts, ts}, v;
  if (rc == 0) rc = mdb_get(txn, ix->transfers, &k, &v);
  if (rc == MDB_NOTFOUND) return QP_ENOTFOUND;
  if (rc != 0 || v.mv_size != QP_RECORD_SIZE + 1) return QP_EDB;
  qp_transfer_decode(v.mv_data, out);
  if (state) *state = ((const uint8_t *)v.mv_data)[QP_RECORD_SIZE];
  return 0;
}

int qp__index_counts(qp__index_t *ix, uint64_t *transfers) {
  MDB_txn *txn;
  int rc = read_txn(ix, &txn);
  if (rc != 0) return rc;
  MDB_stat st;
  rc = mdb_stat(txn, ix->transfers, &st);
  if (rc == 0) *transfers = st.ms_entries;
  qp_kv_read_end(ix->kv, txn, NULL);
  return db_err(rc);
}

int qp__index_side_counts(qp__index_t *ix, uint64_t *pending, uint64_t *account_transfers) {
  MDB_txn *txn;
  int rc = read_txn(ix, &txn);
  if (rc != 0) return rc;
  MDB_stat st;
  rc = mdb_stat(txn, ix->pending, &st);
  if (rc == 0) *pending = st.ms_entries;
  if (rc == 0) rc = mdb_stat(txn, ix->account_transfers, &st);
  if (rc == 0) *account_transfers = st.ms_entries;
  qp_kv_read_end(ix->kv, txn, NULL);
  return db_err(rc);
}

/* Walks (account, timestamp) keys within the filter's bounds, in order, and
 * calls row() for each; stops after `limit` accepted rows. */
typedef int (*row_fn)(void *ctx, MDB_txn *txn, uint64_t ts, const MDB_val *val, bool *accepted);

static int walk(qp__index_t *ix, MDB_dbi dbi, const qp_account_filter_t *f, row_fn row, void *ctx) {
  MDB_txn *txn;
  MDB_cursor *cur;
  int rc = read_cursor(ix, dbi, &txn, &cur);
  if (rc != 0) return rc;
  uint64_t lo = f->timestamp_min, hi = f->timestamp_max ? f->timestamp_max : UINT64_MAX;
  bool reversed = f->flags & QP_FILTER_REVERSED;
  uint8_t start[KEY_ACCT_TS];
  acct_ts_key(start, f->account_id, reversed ? hi : lo);
  MDB_val k = {sizeof start, start}, v;
  uint32_t taken = 0;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  if (reversed) {
    /* SET_RANGE lands on the first key >= start; step back past it. */
    if (rc == MDB_NOTFOUND) rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    else if (rc == 0 && memcmp(k.mv_data, start, KEY_ACCT_TS) > 0)
      rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
  }
  int err = 0;
  while (rc == 0 && taken < f->limit && err == 0) {
    if (k.mv_size != KEY_ACCT_TS || qp_u128_load_be(k.mv_data) != f->account_id) break;
    uint64_t ts = qp_load_u64_be((const uint8_t *)k.mv_data + 16);
    if (ts < lo || ts > hi) break;
    bool accepted = false;
    err = row(ctx, txn, ts, &v, &accepted);
    if (accepted) taken++;
    rc = mdb_cursor_get(cur, &k, &v, reversed ? MDB_PREV : MDB_NEXT);
  }
  qp_kv_read_end(ix->kv, txn, cur);
  if (err != 0) return err;
  return rc == 0 || rc == MDB_NOTFOUND ? 0 : db_err(rc);
}

typedef struct balances_ctx {
  qp_u128 account_id;
  qp_account_balance_t *out;
  uint32_t count;
} balances_ctx_t;

static int balance_row(void *vctx, MDB_txn *txn, uint64_t ts, const MDB_val *val,
                       bool *accepted) {
  (void)txn;
  balances_ctx_t *c = vctx;
  if (val->mv_size != BALANCE_SIZE) return QP_ECORRUPT;
  const uint8_t *p = val->mv_data;
  qp_account_balance_t *b = &c->out[c->count++];
  b->account_id = c->account_id;
  b->transfer_id = qp_u128_load_le(p);
  b->debits_pending = qp_u128_load_le(p + 16);
  b->debits_posted = qp_u128_load_le(p + 32);
  b->credits_pending = qp_u128_load_le(p + 48);
  b->credits_posted = qp_u128_load_le(p + 64);
  b->timestamp = ts;
  *accepted = true;
  return 0;
}

int qp__index_account_balances(qp__index_t *ix, const qp_account_filter_t *f,
                               qp_account_balance_t *out, uint32_t *count_out) {
  balances_ctx_t c = {f->account_id, out, 0};
  int rc = walk(ix, ix->balances, f, balance_row, &c);
  *count_out = c.count;
  return rc;
}

/* The transfer stored at timestamp `ts`, if the filter's sides accept it. */
static int account_transfer(qp__index_t *ix, MDB_txn *txn, const qp_account_filter_t *f,
                            const uint8_t ts[8], qp_transfer_t *out, bool *accepted) {
  MDB_val k = {8, (void *)ts}, v;
  int rc = mdb_get(txn, ix->transfers, &k, &v);
  if (rc != 0 || v.mv_size != QP_RECORD_SIZE + 1) return QP_ECORRUPT;
  qp_transfer_decode(v.mv_data, out);
  bool both = !(f->flags & (QP_FILTER_DEBITS | QP_FILTER_CREDITS));
  bool debits = both || (f->flags & QP_FILTER_DEBITS),
       credits = both || (f->flags & QP_FILTER_CREDITS);
  *accepted = (debits && out->debit_account_id == f->account_id) ||
              (credits && out->credit_account_id == f->account_id);
  return 0;
}

int qp__index_account_transfers(qp__index_t *ix, const qp_account_filter_t *f, qp_transfer_t *out,
                                uint32_t *count_out) {
  *count_out = 0;
  MDB_txn *txn;
  MDB_cursor *cur;
  int rc = read_cursor(ix, ix->account_transfers, &txn, &cur);
  if (rc != 0) return rc;
  uint64_t lo = f->timestamp_min, hi = f->timestamp_max ? f->timestamp_max : UINT64_MAX;
  bool reversed = f->flags & QP_FILTER_REVERSED;
  uint8_t account[16], start[8];
  qp_u128_store_be(account, f->account_id);
  qp_store_u64_be(start, reversed ? hi : lo);
  MDB_val k = {sizeof account, account}, v = {sizeof start, start};
  /* Lands on the account's first timestamp >= start. */
  rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE);
  if (reversed) {
    if (rc == MDB_NOTFOUND) { /* none >= start: begin at the account's last */
      k.mv_size = sizeof account;
      k.mv_data = account;
      rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
      if (rc == 0) rc = mdb_cursor_get(cur, &k, &v, MDB_LAST_DUP);
    } else if (rc == 0 && memcmp(v.mv_data, start, 8) > 0) {
      rc = mdb_cursor_get(cur, &k, &v, MDB_PREV_DUP);
    }
  }
  uint32_t n = 0;
  int err = 0;
  while (rc == 0 && n < f->limit && err == 0) {
    if (v.mv_size != 8) {
      err = QP_ECORRUPT;
      break;
    }
    uint64_t ts = qp_load_u64_be(v.mv_data);
    if (ts < lo || ts > hi) break;
    bool accepted = false;
    err = account_transfer(ix, txn, f, v.mv_data, &out[n], &accepted);
    n += accepted;
    rc = mdb_cursor_get(cur, &k, &v, reversed ? MDB_PREV_DUP : MDB_NEXT_DUP);
  }
  qp_kv_read_end(ix->kv, txn, cur);
  *count_out = n;
  if (err != 0) return err;
  return rc == 0 || rc == MDB_NOTFOUND ? 0 : db_err(rc);
}
