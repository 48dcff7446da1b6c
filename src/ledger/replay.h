/*
 * replay.h - (private to ledger/) applying a journal record to the state
 * machine: the one place that turns journal bytes back into a batch, shared
 * by recovery at open and by `quipu verify`.
 */
#ifndef QP_LEDGER_REPLAY_H
#define QP_LEDGER_REPLAY_H

#include "ledger/db.h"
#include "store/store.h"

/* The ledger journal's format: a body is `count` 128-byte events, at most
 * QP_BATCH_EVENTS_MAX of them.  Every open, scan and prefix check of the
 * ledger's journal passes it, so that the journal reader refuses a record
 * whose size disagrees with its count as corruption naming the record. */
extern const qp_journal_format_t qp__ledger_journal_format;

/* Scratch space for one decoded batch. */
typedef struct qp__replay_scratch {
  qp_account_t accounts[QP_BATCH_EVENTS_MAX];   /* decoded account events */
  qp_transfer_t transfers[QP_BATCH_EVENTS_MAX]; /* decoded transfer events */
  uint32_t results[QP_BATCH_EVENTS_MAX];        /* results (discarded) */
} qp__replay_scratch_t;

/* Applies rec to ledger at its recorded now_ns.  Returns 0, QP_ECORRUPT for
 * an unknown op or bad count, or the state machine's error. */
int qp__replay_record(qp_ledger_t *ledger, const qp_journal_record_t *rec,
                      qp__replay_scratch_t *scratch);

#endif
