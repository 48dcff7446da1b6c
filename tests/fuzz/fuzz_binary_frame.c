/*
 * fuzz_binary_frame.c - libFuzzer target for what an unauthenticated
 * client of the ledger's binary listener sends first: the request frame
 * stream (src/ledger/binary_frame.c).  Input: [chunk seed] then the stream.
 * Properties: no crash and no sanitizer report whatever the bytes; the
 * stream gives the same frames, and fails with the same error at the same
 * place, fed whole or in seeded random pieces; every frame delivered has a
 * valid header (qp_bin_request_check passes), a body within its op's
 * limit, and a checksum that verifies.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "base/rng.h"
#include "ledger/binary.h"

typedef struct {
  uint64_t digest; /* op, id and length of every frame, folded */
  uint32_t frames;
  int last;        /* the last feed's answer */
  uint32_t error;  /* when last == -1 */
} outcome_t;

static void check_frame(const qp_bin_header_t *h, const uint8_t *body) {
  uint8_t head[QP_BIN_HEADER_SIZE];
  qp_bin_header_encode(head, h->op, h->request_id, h->status, body, h->body_len);
  qp_bin_header_t again;
  char message[QP_BIN_MESSAGE_BYTES_MAX];
  QP_ASSERT(qp_bin_request_check(head, &again, message, sizeof message) == 0);
  QP_ASSERT(memcmp(again.checksum, h->checksum, QP_BIN_CHECKSUM_SIZE) == 0);
  QP_ASSERT(h->body_len > 0 && h->body_len <= QP_BIN_BODY_MAX);
}

static void run(const uint8_t *data, size_t len, uint64_t seed, outcome_t *o) {
  memset(o, 0, sizeof *o);
  qp_bin_decoder_t d;
  if (qp_bin_decoder_init(&d) != 0) return;
  qp_rng_t rng;
  qp_rng_seed(&rng, seed);
  size_t off = 0;
  while (off < len) {
    size_t piece = seed == 0 ? len - off : 1 + (size_t)qp_rng_below(&rng, 64);
    if (piece > len - off) piece = len - off;
    size_t end = off + piece;
    while (off < end) {
      size_t used = 0;
      qp_bin_header_t h;
      const uint8_t *body = NULL;
      char message[QP_BIN_MESSAGE_BYTES_MAX];
      o->last = qp_bin_decoder_feed(&d, data + off, end - off, &used, &h, &body, &o->error,
                                    message, sizeof message);
      off += used;
      if (o->last < 0) goto done;
      if (o->last == 1) {
        check_frame(&h, body);
        o->frames++;
        o->digest = o->digest * 1000003u + h.op * 31u + h.request_id + h.body_len;
      }
    }
  }
done:
  qp_bin_decoder_deinit(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint64_t seed = data[0] | 1u;
  outcome_t whole, pieces;
  run(data + 1, size - 1, 0, &whole);
  run(data + 1, size - 1, seed, &pieces);
  QP_ASSERT(whole.frames == pieces.frames && whole.digest == pieces.digest);
  QP_ASSERT((whole.last < 0) == (pieces.last < 0));
  if (whole.last < 0) QP_ASSERT(whole.error == pieces.error);
  return 0;
}
