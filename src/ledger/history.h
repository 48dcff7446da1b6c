/*
 * history.h - (private to ledger/) the in-memory index of each account's
 * transfers, for get_account_transfers in simulated mode (no LMDB index,
 * every transfer in memory; with an index the query reads its
 * account_transfers table, see index.h).
 *
 * Transfer rows are appended in timestamp order, so each account's list of
 * rows is sorted by timestamp too, and a time range is two binary searches.
 * This index is derived from the transfer rows alone: it is rebuilt at open
 * from the state and extended after each batch.  Keeping it in memory
 * (8 bytes per transfer) rather than in LMDB avoids a random B-tree insert
 * per transfer side on the write path.
 */
#ifndef QP_LEDGER_HISTORY_H
#define QP_LEDGER_HISTORY_H

#include "ledger/db.h"
#include "ledger/state_int.h"

typedef struct qp__rows {
  uint32_t *rows;     /* transfer rows, ascending */
  uint32_t count;     /* used */
  uint32_t capacity;  /* allocated */
} qp__rows_t;

typedef struct qp__history {
  qp__rows_t *by_account;  /* indexed by account row */
  uint64_t accounts;       /* entries allocated in by_account */
  uint64_t indexed_rows;   /* transfer rows [0, indexed_rows) are indexed */
  bool broken;             /* an allocation failed: queries refuse */
} qp__history_t;

void qp__history_init(qp__history_t *h);
void qp__history_deinit(qp__history_t *h);
/* Indexes every transfer row the ledger has that is not indexed yet.
 * Returns 0 or QP_ENOMEM (then h is marked broken). */
int qp__history_update(qp__history_t *h, const qp_ledger_t *l);
/* Runs a get_account_transfers query against the ledger's rows. */
int qp__history_query(const qp__history_t *h, const qp_ledger_t *l, const qp_account_filter_t *f,
                      qp_transfer_t *out, uint32_t *count_out);

#endif
