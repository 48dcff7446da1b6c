/*
 * replay.c - decodes a journal record's body into events and applies them
 * with the record's own time input, so replay reproduces the original run.
 */
#include "ledger/replay.h"

#include "base/err.h"

int qp__replay_record(qp_ledger_t *ledger, const qp_journal_record_t *rec,
                      qp__replay_scratch_t *s) {
  if (rec->count > QP_BATCH_EVENTS_MAX || rec->body_size != rec->count * QP_RECORD_SIZE)
    return QP_ECORRUPT;
  switch (rec->op) {
  case QP_OP_CREATE_ACCOUNTS:
    if (rec->count == 0) return QP_ECORRUPT;
    for (uint32_t i = 0; i < rec->count; i++)
      qp_account_decode(rec->body + (size_t)i * QP_RECORD_SIZE, &s->accounts[i]);
    return qp_ledger_create_accounts(ledger, rec->now_ns, s->accounts, rec->count, s->results);
  case QP_OP_CREATE_TRANSFERS:
    if (rec->count == 0) return QP_ECORRUPT;
    for (uint32_t i = 0; i < rec->count; i++)
      qp_transfer_decode(rec->body + (size_t)i * QP_RECORD_SIZE, &s->transfers[i]);
    return qp_ledger_create_transfers(ledger, rec->now_ns, s->transfers, rec->count, s->results);
  case QP_OP_EXPIRE:
    if (rec->count != 0) return QP_ECORRUPT;
    return qp_ledger_expire(ledger, rec->now_ns, NULL);
  default:
    return QP_ECORRUPT;
  }
}
