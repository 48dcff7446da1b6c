/*
 * submitters.h - (private to ledger/) who submitted each batch: the API
 * key id a request carried (qp_db_request_t.submitter), kept per run of
 * timestamps so that any transfer's or account's submitter is one lookup.
 *
 * The journal is the truth here too: each record carries its submitter in
 * its header tag (bytes 0..7, little-endian; zero = none), so recovery and
 * an index rebuilt from the journal get the same answer.  The index keeps
 * one row per batch (contiguous batches of one key merge) in its
 * `submitters` table:
 *
 *   key   last_ts (8 BE)      value   after_ts (8 LE) key_id (8 LE)
 *
 * meaning: the events stamped in (after_ts, last_ts] were submitted by
 * key_id.  A lookup of timestamp t seeks the first row with last_ts >= t.
 */
#ifndef QP_LEDGER_SUBMITTERS_H
#define QP_LEDGER_SUBMITTERS_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

typedef struct qp__sub {
  uint64_t after_ts; /* the ledger's clock before the batch */
  uint64_t last_ts;  /* and after it */
  uint64_t key;      /* the submitter (never 0 here) */
} qp__sub_t;

typedef struct qp__subs {
  qp__sub_t *rows;
  uint32_t count;
  uint32_t capacity;
} qp__subs_t;

void qp__subs_deinit(qp__subs_t *s);

/* Notes that `key` submitted the batch that moved the clock from after_ts
 * to last_ts, if it created anything (some results[i] == 0).  A batch
 * right after the previous one of the same key extends its row.  Returns 0
 * or QP_ENOMEM (then the note is lost and the caller says so). */
int qp__subs_note(qp__subs_t *s, uint64_t key, uint64_t after_ts, uint64_t last_ts,
                  const uint32_t *results, uint32_t count);

/* Moves everything noted in *from to *to (emptied first). */
void qp__subs_take(qp__subs_t *from, qp__subs_t *to);

/* The submitter in a journal record's tag, and the tag for a submitter. */
uint64_t qp__subs_from_tag(const uint8_t tag[QP_JOURNAL_TAG_SIZE]);
void qp__subs_to_tag(uint64_t key, uint8_t tag[QP_JOURNAL_TAG_SIZE]);

/* Writes the rows into the index's table. */
int qp__subs_store(MDB_txn *txn, MDB_dbi dbi, const qp__subs_t *s);

/* The submitter of the event stamped `ts` (0 = none recorded).  Returns 0
 * or an LMDB error. */
int qp__subs_lookup(MDB_txn *txn, MDB_dbi dbi, uint64_t ts, uint64_t *key);

#endif
