/*
 * fuzz_net_frame.c - libFuzzer target for what an unauthenticated peer
 * sends first: the frame stream (src/net/frame.c) and HELLO payloads
 * (src/net/hello.c).  Input: [allowed types][message max][chunk seed]
 * then the stream.  Properties: no crash and no sanitizer report whatever
 * the bytes; the stream decodes to the same frames, and fails with the
 * same reason at the same frame, whether fed in one piece or in pieces of
 * seeded random sizes; every frame is of an allowed type and within its
 * type's maximum; a HELLO that decodes re-encodes to the same bytes.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "base/rng.h"
#include "net/frame.h"
#include "net/hello.h"

#define FRAMES_MAX 4096

typedef struct {
  uint64_t digest;  /* type, length and payload of every frame, folded */
  size_t count;     /* frames */
  int last;         /* the last feed's result */
  qp_net_reason_t reason; /* when last == -1 */
} outcome_t;

static void check_hello(const uint8_t *data, size_t len) {
  qp__net_hello_t h;
  int rc = qp__net_hello_decode(data, len, &h);
  QP_ASSERT(rc == 0 || rc == QP_EPARSE || rc == QP_ENOTSUP);
  if (rc != 0) return;
  uint8_t back[QP__NET_HELLO_BYTES_MAX];
  size_t n = qp__net_hello_encode(&h, back);
  QP_ASSERT(n == len && memcmp(back, data, len) == 0);
  uint8_t t[QP__NET_TRANSCRIPT_BYTES_MAX];
  QP_ASSERT(qp__net_transcript(t, QP__NET_ROLE_DIALER, h.network_id, &h, &h) > 0);
}

static void fold(outcome_t *o, const qp__net_decoder_t *d, const qp__net_frame_t *f) {
  QP_ASSERT(d->types_allowed & QP__NET_FRAME_TYPE_BIT(f->type));
  QP_ASSERT(f->len >= 1 && f->len <= qp__net_frame_bytes_max(f->type, d->msg_bytes_max));
  uint64_t h = o->digest ^ ((uint64_t)f->type << 32 | f->len);
  for (uint32_t i = 0; i < f->len; i++) h = (h ^ f->payload[i]) * 0x100000001b3ull;
  o->digest = h;
  o->count++;
  if (f->type == QP__NET_FRAME_HELLO) check_hello(f->payload, f->len);
}

/* Feeds data in pieces of at most piece_max bytes (0 = one piece). */
static outcome_t run(const uint8_t *data, size_t len, uint32_t allowed, uint32_t max,
                     uint64_t seed, size_t piece_max) {
  outcome_t o = {0, 0, 0, QP_NET_REASON_CLOSED};
  qp__net_decoder_t d;
  qp__net_decoder_init(&d, max, allowed);
  qp_rng_t rng;
  qp_rng_seed(&rng, seed);
  size_t at = 0;
  while (at < len && o.last >= 0 && o.count < FRAMES_MAX) {
    size_t piece = piece_max == 0 ? len - at : (size_t)qp_rng_range(&rng, 1, piece_max);
    if (piece > len - at) piece = len - at;
    size_t end = at + piece;
    while (at < end) {
      size_t used = 0;
      qp__net_frame_t f;
      o.last = qp__net_decoder_feed(&d, data + at, end - at, &used, &f, &o.reason);
      QP_ASSERT(used <= end - at);
      at += used;
      if (o.last <= 0) break;
      fold(&o, &d, &f);
    }
  }
  qp__net_decoder_deinit(&d);
  return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  uint32_t allowed = (uint32_t)(data[0] & 0x0e); /* bits of types 1..3 */
  uint32_t max = 1u + data[1] * 4u;
  uint64_t seed = data[2];
  data += 3;
  size -= 3;
  check_hello(data, size);
  outcome_t whole = run(data, size, allowed, max, seed, 0);
  outcome_t split = run(data, size, allowed, max, seed, 1 + seed % 17);
  if (whole.count < FRAMES_MAX && split.count < FRAMES_MAX) {
    QP_ASSERT(whole.count == split.count && whole.digest == split.digest);
    QP_ASSERT((whole.last < 0) == (split.last < 0));
    if (whole.last < 0) QP_ASSERT(whole.reason == split.reason);
  }
  return 0;
}
