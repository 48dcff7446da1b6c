/*
 * replay.c - decodes a journal record's body into events and applies them
 * with the record's own time input, so replay reproduces the original run.
 *
 * What comes back from disk is checked where it is first seen: the
 * header's count and body size must agree, and the first and last events
 * must encode back to the very bytes read (the encoder writes every byte,
 * so anything else is a record this code did not write).  Damage is
 * reported as QP_ECORRUPT, not asserted: replay also reads hostile input
 * (the fuzzer, a damaged disk).
 */
#include <string.h>

#include "ledger/replay.h"

#include "base/err.h"

_Static_assert(QP_BATCH_EVENTS_MAX * QP_RECORD_SIZE == QP_JOURNAL_BODY_MAX,
               "the ledger's batches are the journal's events format");

const qp_journal_format_t qp__ledger_journal_format = {
    .body_max = QP_BATCH_EVENTS_MAX * QP_RECORD_SIZE, .count_unit = QP_RECORD_SIZE};

/* The first and last of the decoded events re-encode to the bytes read. */
static bool reencodes(const qp_journal_record_t *rec, const qp__replay_scratch_t *s) {
  const uint32_t rows[2] = {0, rec->count - 1};
  for (int k = 0; k < 2; k++) {
    uint8_t again[QP_RECORD_SIZE];
    if (rec->op == QP_OP_CREATE_ACCOUNTS) qp_account_encode(again, &s->accounts[rows[k]]);
    else qp_transfer_encode(again, &s->transfers[rows[k]]);
    if (memcmp(again, rec->body + (size_t)rows[k] * QP_RECORD_SIZE, QP_RECORD_SIZE) != 0)
      return false;
  }
  return true;
}

int qp__replay_record(qp_ledger_t *ledger, const qp_journal_record_t *rec,
                      qp__replay_scratch_t *s) {
  if (rec->count > QP_BATCH_EVENTS_MAX || rec->body_size != rec->count * QP_RECORD_SIZE)
    return QP_ECORRUPT;
  switch (rec->op) {
  case QP_OP_CREATE_ACCOUNTS:
    if (rec->count == 0) return QP_ECORRUPT;
    for (uint32_t i = 0; i < rec->count; i++)
      qp_account_decode(rec->body + (size_t)i * QP_RECORD_SIZE, &s->accounts[i]);
    if (!reencodes(rec, s)) return QP_ECORRUPT;
    return qp_ledger_create_accounts(ledger, rec->now_ns, s->accounts, rec->count, s->results);
  case QP_OP_CREATE_TRANSFERS:
    if (rec->count == 0) return QP_ECORRUPT;
    for (uint32_t i = 0; i < rec->count; i++)
      qp_transfer_decode(rec->body + (size_t)i * QP_RECORD_SIZE, &s->transfers[i]);
    if (!reencodes(rec, s)) return QP_ECORRUPT;
    return qp_ledger_create_transfers(ledger, rec->now_ns, s->transfers, rec->count, s->results);
  case QP_OP_EXPIRE:
    if (rec->count != 0) return QP_ECORRUPT;
    return qp_ledger_expire(ledger, rec->now_ns, NULL);
  default:
    return QP_ECORRUPT;
  }
}
