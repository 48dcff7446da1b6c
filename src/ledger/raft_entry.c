/*
 * raft_entry.c - the bytes of one Raft entry of the replicated ledger
 * (raft_int.h, docs/cluster.md): a header (magic, request count, the
 * leader's clock) then each request (op, event count, submitter) followed
 * by its events in the journal's record encoding.  Little-endian, field by
 * field, so every replica decodes the same requests whatever its compiler.
 */
#include <string.h>

#include "base/bytes.h"
#include "base/err.h"
#include "ledger/raft_int.h"

_Static_assert(sizeof(qp_account_t) <= sizeof(qp_transfer_t), "accounts share the room");

size_t qp__raft_entry_size(const qp_db_request_t *reqs, uint32_t count) {
  size_t size = QP__RAFT_ENTRY_HEADER;
  for (uint32_t i = 0; i < count; i++)
    size += QP__RAFT_REQUEST_HEADER + (size_t)reqs[i].count * QP_RECORD_SIZE;
  return size;
}

static void encode_events(const qp_db_request_t *r, uint8_t *p) {
  for (uint32_t k = 0; k < r->count; k++, p += QP_RECORD_SIZE) {
    if (r->op == QP_OP_CREATE_ACCOUNTS)
      qp_account_encode(p, (const qp_account_t *)r->events + k);
    else
      qp_transfer_encode(p, (const qp_transfer_t *)r->events + k);
  }
}

int qp__raft_entry_encode(uint64_t now_ns, const qp_db_request_t *reqs, uint32_t count,
                          uint8_t *out, size_t size) {
  uint64_t events = 0;
  for (uint32_t i = 0; i < count; i++) events += reqs[i].count;
  if (count > QP__RAFT_ENTRY_REQUESTS_MAX || events > QP__RAFT_ENTRY_EVENTS_MAX) return QP_ELIMIT;
  if (size != qp__raft_entry_size(reqs, count)) return QP_EINVAL;
  qp_store_u32(out, QP__RAFT_ENTRY_MAGIC);
  qp_store_u32(out + 4, count);
  qp_store_u64(out + 8, now_ns);
  uint8_t *p = out + QP__RAFT_ENTRY_HEADER;
  for (uint32_t i = 0; i < count; i++) {
    qp_store_u32(p, (uint32_t)reqs[i].op);
    qp_store_u32(p + 4, reqs[i].count);
    qp_store_u64(p + 8, reqs[i].submitter);
    p += QP__RAFT_REQUEST_HEADER;
    encode_events(&reqs[i], p);
    p += (size_t)reqs[i].count * QP_RECORD_SIZE;
  }
  return 0;
}

/* Decodes one request at *p (left bytes remain); false when malformed. */
static bool decode_request(const uint8_t **p, size_t *left, qp_db_request_t *r,
                           qp_transfer_t *events, uint32_t *results, uint32_t *used) {
  if (*left < QP__RAFT_REQUEST_HEADER) return false;
  uint32_t op = qp_load_u32(*p), n = qp_load_u32(*p + 4);
  bool ok = (op == QP_OP_EXPIRE && n == 0) ||
            ((op == QP_OP_CREATE_ACCOUNTS || op == QP_OP_CREATE_TRANSFERS) && n >= 1 &&
             n <= QP_BATCH_EVENTS_MAX);
  if (!ok || *used + n > QP__RAFT_ENTRY_EVENTS_MAX) return false;
  if (*left - QP__RAFT_REQUEST_HEADER < (size_t)n * QP_RECORD_SIZE) return false;
  memset(r, 0, sizeof *r);
  r->op = (qp_op_t)op;
  r->count = n;
  r->submitter = qp_load_u64(*p + 8);
  r->results = results + *used;
  const uint8_t *at = *p + QP__RAFT_REQUEST_HEADER;
  if (op == QP_OP_CREATE_ACCOUNTS) {
    qp_account_t *a = (qp_account_t *)(void *)(events + *used);
    for (uint32_t k = 0; k < n; k++) qp_account_decode(at + (size_t)k * QP_RECORD_SIZE, a + k);
    r->events = a;
  } else {
    for (uint32_t k = 0; k < n; k++)
      qp_transfer_decode(at + (size_t)k * QP_RECORD_SIZE, events + *used + k);
    r->events = events + *used;
  }
  *used += n;
  *p += QP__RAFT_REQUEST_HEADER + (size_t)n * QP_RECORD_SIZE;
  *left -= QP__RAFT_REQUEST_HEADER + (size_t)n * QP_RECORD_SIZE;
  return true;
}

int qp__raft_entry_decode(const uint8_t *in, size_t size, uint64_t *now_ns,
                          qp_db_request_t *reqs, uint32_t *count, qp_transfer_t *events,
                          uint32_t *results) {
  if (size < QP__RAFT_ENTRY_HEADER || qp_load_u32(in) != QP__RAFT_ENTRY_MAGIC) return QP_ECORRUPT;
  uint32_t n = qp_load_u32(in + 4);
  if (n > QP__RAFT_ENTRY_REQUESTS_MAX) return QP_ECORRUPT;
  *now_ns = qp_load_u64(in + 8);
  const uint8_t *p = in + QP__RAFT_ENTRY_HEADER;
  size_t left = size - QP__RAFT_ENTRY_HEADER;
  uint32_t used = 0;
  for (uint32_t i = 0; i < n; i++)
    if (!decode_request(&p, &left, &reqs[i], events, results, &used)) return QP_ECORRUPT;
  if (left != 0) return QP_ECORRUPT;
  *count = n;
  return 0;
}

uint32_t qp__raft_first_missing(uint64_t index, uint64_t journal_pos, uint32_t count) {
  uint64_t journal_index = journal_pos >> 16;
  if (index < journal_index) return count + 1;
  if (index > journal_index) return 1;
  return (uint32_t)(journal_pos & 0xffffu) + 1;
}
