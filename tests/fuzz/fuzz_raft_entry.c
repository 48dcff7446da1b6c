/*
 * fuzz_raft_entry.c - libFuzzer target for what a replica of the
 * replicated ledger decodes from its peers (src/ledger/raft_entry.c,
 * raft_members.c, raft_snapshot.c): the first byte picks the decoder -
 * 0 a QPR1 entry (a group of client batches), 1 a QPM1 entry (a replica's
 * addresses), 2 a snapshot descriptor (with its members section) - and the
 * rest is the bytes.  Properties: no crash or sanitizer report whatever the
 * bytes; what decodes re-encodes to bytes that decode to the same thing,
 * and encoding that again gives the same bytes (a fixed point), within the
 * decoder's bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "ledger/raft_int.h"

static qp_db_request_t reqs[QP__RAFT_ENTRY_REQUESTS_MAX];
static qp_transfer_t events[QP__RAFT_ENTRY_EVENTS_MAX];
static uint32_t results[QP__RAFT_ENTRY_EVENTS_MAX];

static void entry(const uint8_t *in, size_t size) {
  uint64_t now = 0;
  uint32_t count = 0;
  if (qp__raft_entry_decode(in, size, &now, reqs, &count, events, results) != 0) return;
  QP_ASSERT(count <= QP__RAFT_ENTRY_REQUESTS_MAX);
  size_t len = qp__raft_entry_size(reqs, count);
  uint8_t *once = malloc(len), *twice = malloc(len);
  QP_ASSERT(once != NULL && twice != NULL);
  QP_ASSERT(qp__raft_entry_encode(now, reqs, count, once, len) == 0);
  uint64_t now2 = 0;
  uint32_t count2 = 0;
  QP_ASSERT(qp__raft_entry_decode(once, len, &now2, reqs, &count2, events, results) == 0);
  QP_ASSERT(now2 == now && count2 == count && qp__raft_entry_size(reqs, count2) == len);
  QP_ASSERT(qp__raft_entry_encode(now2, reqs, count2, twice, len) == 0);
  QP_ASSERT(memcmp(once, twice, len) == 0);
  free(once);
  free(twice);
}

static void member(const uint8_t *in, size_t size) {
  qp_ledger_replica_t r, again;
  if (qp__raft_member_entry_decode(in, size, &r) != 0) return;
  QP_ASSERT(r.id != 0 && qp__raft_member_entry_size(&r) == size);
  uint8_t *out = malloc(size);
  QP_ASSERT(out != NULL);
  qp__raft_member_entry_encode(&r, out, size);
  QP_ASSERT(qp__raft_member_entry_decode(out, size, &again) == 0);
  QP_ASSERT(again.id == r.id && strcmp(again.raft, r.raft) == 0);
  QP_ASSERT(strcmp(again.http, r.http) == 0);
  free(out);
}

static void snapshot(const uint8_t *in, size_t size) {
  static qp__raft_snapshot_t s, again;
  if (qp__raft_snapshot_decode(in, size, &s) != 0) return;
  QP_ASSERT(s.members.count <= QP__RAFT_MEMBERS_MAX);
  size_t len = qp__raft_snapshot_size(&s);
  uint8_t *once = malloc(len), *twice = malloc(len);
  QP_ASSERT(once != NULL && twice != NULL);
  qp__raft_snapshot_encode(&s, once);
  QP_ASSERT(qp__raft_snapshot_decode(once, len, &again) == 0);
  QP_ASSERT(again.seq == s.seq && again.journal_bytes == s.journal_bytes);
  QP_ASSERT(again.members.count == s.members.count && strcmp(again.http, s.http) == 0);
  QP_ASSERT(qp__raft_snapshot_size(&again) == len);
  qp__raft_snapshot_encode(&again, twice);
  QP_ASSERT(memcmp(once, twice, len) == 0);
  free(once);
  free(twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  switch (data[0] % 3) {
  case 0: entry(data + 1, size - 1); break;
  case 1: member(data + 1, size - 1); break;
  default: snapshot(data + 1, size - 1); break;
  }
  return 0;
}
