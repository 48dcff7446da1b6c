/*
 * fuzz_chain_vouch.c - libFuzzer target for vouching (src/chain/vouch.h),
 * whose frames come from any peer.  The input is read as a vouched frame
 * (the forward frame inside is walked: every element inside the input)
 * and as a vouch (only its exact size passes); a refusal leaves the out
 * parameters untouched.  Then the input drives a vouch book as a program
 * (frames, vouches, readiness checks and clock steps from its bytes), and
 * after every step the book keeps its invariants: the frames' bytes add
 * up, no more entries than its bound, deadlines in the entries, a frame
 * handed out as ready holds its quorum among the members asked, one handed
 * out as due has a deadline not after the clock (and may be put back to
 * wait again), and nothing leaks.
 */
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "chain/forward.h"
#include "chain/vouch.h"

static void frames(const uint8_t *data, size_t size) {
  const uint8_t *sig = (const uint8_t *)1, *frame = (const uint8_t *)1;
  size_t frame_len = 7;
  if (qp_chain_vouched_read(data, size, &sig, &frame, &frame_len)) {
    QP_ASSERT(sig == data + 1 && frame == data + QP_CHAIN_VOUCHED_HEADER);
    QP_ASSERT(frame_len == size - QP_CHAIN_VOUCHED_HEADER && frame[0] == QP_CHAIN_FWD_CHANNEL);
    qp_chain_fwd_reader_t r;
    if (qp_chain_fwd_open(&r, frame, frame_len)) {
      const uint8_t *tx = NULL;
      size_t len = 0;
      while (qp_chain_fwd_next(&r, &tx, &len)) QP_ASSERT(len > 0 && tx + len <= data + size);
    }
  } else {
    QP_ASSERT(sig == (const uint8_t *)1 && frame == (const uint8_t *)1 && frame_len == 7);
  }
  const uint8_t *digest = NULL;
  bool vouch = qp_chain_vouch_read(data, size, &digest, &sig);
  QP_ASSERT(vouch == (size == QP_CHAIN_VOUCH_BYTES && data[0] == QP_CHAIN_VOUCH_CHANNEL));
}

static void invariants(const qp_chain_vouch_book_t *b) {
  size_t bytes = 0;
  QP_ASSERT(b->count <= QP_CHAIN_VOUCH_BOOK_ENTRIES && b->count <= b->cap);
  for (uint32_t i = 0; i < b->count; i++) {
    bytes += b->entries[i].len;
    QP_ASSERT((b->entries[i].frame == NULL) == (b->entries[i].len == 0));
    QP_ASSERT(qp_chain_vouch_book_next(b) <= b->entries[i].deadline_ms);
  }
  QP_ASSERT(bytes == b->bytes && bytes <= QP_CHAIN_VOUCH_BOOK_BYTES);
}

/* Each step: op, digest seed, member, length or quorum. */
static void program(const uint8_t *data, size_t size) {
  qp_chain_vouch_book_t b = {0};
  uint64_t now = 0;
  for (size_t at = 0; at + 4 <= size; at += 4) {
    uint8_t op = data[at] % 5, seed = data[at + 1] % 16, member = data[at + 2] % 70;
    uint8_t arg = data[at + 3];
    uint8_t digest[QP_HASH_SIZE];
    memset(digest, seed, sizeof digest);
    qp_chain_vouch_entry_t e;
    uint64_t members = arg == 0 ? UINT64_MAX : ((UINT64_C(1) << (arg % 64)) - 1) | 1;
    uint32_t quorum = 1 + arg % 5;
    if (op == 0) {
      (void)qp_chain_vouch_book_frame(&b, digest, member, member, data, size - at, now + arg);
    } else if (op == 1) {
      (void)qp_chain_vouch_book_vouch(&b, digest, member, now + arg);
    } else if (op == 2 && qp_chain_vouch_book_ready(&b, members, quorum, &e)) {
      QP_ASSERT(e.frame != NULL && (uint32_t)__builtin_popcountll(e.vouchers & members) >= quorum);
      qp_free(e.frame);
    } else if (op == 3 && qp_chain_vouch_book_due(&b, now, &e)) {
      QP_ASSERT(e.frame != NULL && e.deadline_ms <= now);
      if (arg % 2 == 0 || qp_chain_vouch_book_requeue(&b, &e, now + 1 + arg) != 0)
        qp_free(e.frame); /* verified here, or put back to wait again (the book owns it) */
    } else if (op == 4) {
      now += arg;
    }
    invariants(&b);
  }
  qp_chain_vouch_book_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  frames(data, size);
  program(data, size);
  return 0;
}
