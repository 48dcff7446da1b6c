/*
 * index.h - (private to ledger/) the LMDB index under <data>/ledger/state/.
 *
 * The index is derived data: the redo log of the accounts file
 * (accounts.h), transfers (with their pending
 * state) in timestamp order with an id -> timestamp index, the transfers
 * still pending, each account's transfers, and the balance history of
 * accounts with the `history` flag.  It is also the ledger's cold store:
 * transfers leave memory once stored here (see qp_ledger_evict).  Its
 * `meta` table records the journal seq, hash and byte offset it has applied
 * up to, in the same LMDB transaction as the data, so after any crash the
 * index is exactly "the journal up to seq N" and recovery replays the
 * journal from the record after N.
 */
#ifndef QP_LEDGER_INDEX_H
#define QP_LEDGER_INDEX_H

#include <lmdb.h>

#include "ledger/db.h"
#include "ledger/runs.h"
#include "store/kv.h"

struct qp__subs; /* ledger/submitters.h */

typedef struct qp__index {
  qp_kv_t *kv;         /* the environment, through store/kv */
  MDB_env *env;        /* qp_kv_env(kv), for the raw read transactions of db.c and verify.c */
  MDB_dbi accounts;    /* older indexes kept accounts here; now emptied (see accounts.h) */
  MDB_dbi account_wal; /* seq(8 BE) -> the accounts a round changed (accounts.h) */
  MDB_dbi transfers;   /* timestamp(8 BE) -> transfer (128) + state (1) */
  MDB_dbi transfer_ids; /* id(16 BE) -> timestamp(8 BE) */
  MDB_dbi balances;    /* account(16 BE) ts(8 BE) -> transfer id + 4 balances (80) */
  MDB_dbi pending;     /* id(16 BE) -> timestamp(8 BE), transfers in state pending */
  MDB_dbi account_transfers; /* account(16 BE) -> ts(8 BE) sorted duplicates: both sides */
  MDB_dbi query;       /* the query indexes (ledger/query.h) */
  MDB_dbi submitters;  /* who submitted each batch (ledger/submitters.h) */
  MDB_dbi meta;        /* "applied" -> seq(8) hash(32) last_timestamp(8) offset(8) events(8);
                          "queries" -> "1" once the query table is kept */
  qp__runs_t runs;     /* a round's sets grouped by value, kept across rounds (runs.h) */
  void *map_addr;      /* where LMDB mapped data.mdb (NULL if not found), for trim */
  size_t map_len;      /* its length */
} qp__index_t;

/* The LMDB map size when the caller gives none: address space only (the
 * file grows as data is written), large enough for 10M accounts and 20M
 * transfers with room to spare. */
#define QP__INDEX_MAP_SIZE_DEFAULT ((size_t)64 << 30)

typedef struct qp__index_meta {
  uint64_t applied_seq;             /* last journal record applied (0 = none) */
  uint8_t applied_hash[QP_HASH_SIZE]; /* its hash */
  uint64_t last_timestamp;          /* the ledger clock after it */
  uint64_t applied_offset;          /* journal bytes up to the end of that record
                                     * (0 with applied_seq > 0: unknown, older index) */
  uint64_t events;                  /* events in the journal up to that record */
} qp__index_meta_t;


int qp__index_open(qp__index_t *ix, const char *path, size_t map_size, bool read_only,
                   char *detail, size_t detail_size);
void qp__index_close(qp__index_t *ix);
int qp__index_read_meta(qp__index_t *ix, qp__index_meta_t *out);
/* Whether the index keeps the query table (an index written before
 * queries existed does not, and is rebuilt from the journal). */
int qp__index_has_queries(qp__index_t *ix, bool *out);
/* The submitters of the events stamped ts[0, count) into out (0 = none). */
int qp__index_submitters(qp__index_t *ix, const uint64_t *ts, uint32_t count, uint64_t *out);
/* Runs a query (ledger/query.h) in one read transaction. */
int qp__index_query(qp__index_t *ix, bool accounts, const qp_query_filter_t *f,
                    int (*fn)(void *ctx, uint64_t ts, const MDB_val *value), void *ctx);
/* Loads every pending transfer into the state machine; the other
 * transfers stay here (counted with qp_ledger_restore_cold). */
int qp__index_load(qp__index_t *ix, qp_ledger_t *ledger);
/* Empties every table and the position: the next open replays the whole
 * journal into it. */
int qp__index_reset(qp__index_t *ix);
/* Calls fn for each round in the accounts redo log after `after_seq`, in
 * order: blob holds len / QP__ACCOUNT_WAL_ENTRY entries. */
int qp__index_account_wal(qp__index_t *ix, uint64_t after_seq,
                          int (*fn)(void *ctx, uint64_t seq, const uint8_t *blob, size_t len),
                          void *ctx);
/* Calls fn for the id of every transfer with timestamp >= from_ts. */
int qp__index_each_transfer_id(qp__index_t *ix, uint64_t from_ts,
                               int (*fn)(void *ctx, qp_u128 id), void *ctx);
/* get_account_transfers from the index. */
int qp__index_account_transfers(qp__index_t *ix, const qp_account_filter_t *filter,
                                qp_transfer_t *out, uint32_t *count_out);
/* Drops this process's mappings of index pages (they stay in the page
 * cache and fault back in on use), so that scanning or writing the index
 * does not leave gigabytes resident in the process. */
void qp__index_trim(qp__index_t *ix);
/* Applies changes and the new meta in one transaction; the changed
 * accounts go to the redo log under meta->applied_seq, and log rounds up to
 * `wal_done` (already in the accounts file) are dropped. */
int qp__index_apply(qp__index_t *ix, const qp_ledger_changes_t *changes,
                    const struct qp__subs *subs,
                    const qp__index_meta_t *meta, uint64_t wal_done);
int qp__index_account_balances(qp__index_t *ix, const qp_account_filter_t *filter,
                               qp_account_balance_t *out, uint32_t *count_out);
/* Looks up one transfer in the index. */
int qp__index_get_transfer(qp__index_t *ix, MDB_txn *txn, qp_u128 id, qp_transfer_t *out,
                           qp_pending_state_t *state);
/* Row counts (for verify). */
int qp__index_counts(qp__index_t *ix, uint64_t *transfers);
/* Entries in the pending and account_transfers tables (for verify). */
int qp__index_side_counts(qp__index_t *ix, uint64_t *pending, uint64_t *account_transfers);

#endif
