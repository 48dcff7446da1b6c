/*
 * query.h - (private to ledger/) the secondary indexes behind
 * query_accounts and query_transfers (TigerBeetle's QueryFilter), kept in
 * the LMDB index's `query` table.
 *
 * One sorted run of timestamps per (kind, field, value): a DUPSORT table
 * whose fixed-size duplicates are the timestamps, 8 bytes an entry -
 *
 *   key   kind(1) field(1) value(16 BE)      18 bytes
 *   dups  timestamp(8 BE), ascending
 *
 * kind is 'a' or 't'; field is one of qp__query_field_t; integer values are
 * widened to 16 bytes.  user_data_* are indexed only when non-zero (0 in a
 * filter means "any", so a zero value is never looked up); ledger and code
 * never are zero.  A timestamp names its record: transfers are keyed by it
 * in the `transfers` table, and accounts sit in memory in timestamp order
 * (qp_ledger_account_at).  A filter without fields walks the transfers
 * table, or the accounts in memory.  Entries are only ever added: the
 * fields are fixed at creation, and a round's new entries land at the end
 * of their runs.
 *
 * A query walks one cursor per field the filter names and intersects them
 * by leapfrogging on the timestamp (each cursor seeks to the largest
 * timestamp any other has reached), so its cost follows the rows that
 * match the most selective field, not the table.
 */
#ifndef QP_LEDGER_QUERY_H
#define QP_LEDGER_QUERY_H

#include <lmdb.h>

#include "ledger/db.h"
#include "ledger/runs.h"

typedef enum {
  QP__QUERY_USER_DATA_128 = 1,
  QP__QUERY_USER_DATA_64 = 2,
  QP__QUERY_USER_DATA_32 = 3,
  QP__QUERY_LEDGER = 4,
  QP__QUERY_CODE = 5
} qp__query_field_t;

/* Adds the entries of the accounts among c->accounts created after
 * `after_ts` (the index's clock before this round: an account's timestamp
 * is its creation). */
int qp__query_add_accounts(MDB_txn *txn, MDB_dbi dbi, const qp_ledger_changes_t *c,
                           uint64_t after_ts);

/* Adds the entries of every transfer in c->transfers (all new), grouped
 * with r (the index's, kept across rounds). */
int qp__query_add_transfers(MDB_txn *txn, MDB_dbi dbi, const qp_ledger_changes_t *c,
                            qp__runs_t *r);

/* Whether a filter names any field (without one, accounts are walked in
 * memory and qp__query_run finds nothing for them). */
bool qp__query_has_fields(const qp_query_filter_t *f);

/* Called for each row that matches, in the filter's order: its timestamp
 * and (transfers) the stored transfer record and state; accounts get an
 * empty value.  Returns 0 to go on, 1 to stop, or an error. */
typedef int (*qp__query_row_fn)(void *ctx, uint64_t timestamp, const MDB_val *value);

/* Runs filter f (already checked) over the `query` table (and, for a
 * transfer filter without fields, the `transfers` table) in txn, calling
 * fn for at most f->limit rows.  Returns 0, fn's error, or an LMDB code. */
int qp__query_run(MDB_txn *txn, MDB_dbi query, MDB_dbi transfers, bool accounts,
                  const qp_query_filter_t *f, qp__query_row_fn fn, void *ctx);

#endif
