/*
 * test_frame.c - the peer frame decoder (src/net/frame.c) and the HELLO
 * codec (src/net/hello.c): streams split at every byte, many frames in
 * one read, random chunking against a seeded stream, and the refusals
 * (zero length, oversized for the type, unknown type, a type out of
 * order), which must stick.
 */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "base/err.h"
#include "base/rng.h"
#include "net/frame.h"
#include "net/hello.h"

#define ALL_TYPES                                                                  \
  (QP__NET_FRAME_TYPE_BIT(QP__NET_FRAME_HELLO) | QP__NET_FRAME_TYPE_BIT(QP__NET_FRAME_AUTH) | \
   QP__NET_FRAME_TYPE_BIT(QP__NET_FRAME_MSG))
#define FRAMES_MAX 1200
#define STREAM_MAX (1u << 20)

typedef struct {
  uint8_t type[FRAMES_MAX];
  uint32_t len[FRAMES_MAX];
  uint32_t sum[FRAMES_MAX]; /* a cheap digest of the payload */
  size_t count;
} frames_t;

static uint8_t stream[STREAM_MAX];

static uint32_t digest(const uint8_t *p, uint32_t len) {
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < len; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

/* Appends a frame whose payload is len bytes of a pattern seeded by seed. */
static size_t put_frame(size_t pos, uint8_t type, uint32_t len, uint8_t seed, frames_t *want) {
  assert_true(pos + QP_NET_FRAME_HEADER_SIZE + len <= STREAM_MAX);
  qp__net_frame_header(stream + pos, type, len);
  uint8_t *p = stream + pos + QP_NET_FRAME_HEADER_SIZE;
  for (uint32_t i = 0; i < len; i++) p[i] = (uint8_t)(seed + i * 7u);
  if (want != NULL) {
    assert_true(want->count < FRAMES_MAX);
    want->type[want->count] = type;
    want->len[want->count] = len;
    want->sum[want->count] = digest(p, len);
    want->count++;
  }
  return pos + QP_NET_FRAME_HEADER_SIZE + len;
}

/* Feeds data[0..len) in one piece; appends the frames; returns the feed's
 * last result (0 when everything was consumed, -1 on refusal). */
static int feed_all(qp__net_decoder_t *d, const uint8_t *data, size_t len, frames_t *got,
                    qp_net_reason_t *reason) {
  while (len > 0) {
    size_t used = 0;
    qp__net_frame_t f;
    int rc = qp__net_decoder_feed(d, data, len, &used, &f, reason);
    if (rc < 0) return rc;
    assert_true(used <= len);
    if (rc == 0) {
      assert_int_equal(used, len);
      return 0;
    }
    assert_true(got->count < FRAMES_MAX);
    got->type[got->count] = f.type;
    got->len[got->count] = f.len;
    got->sum[got->count] = digest(f.payload, f.len);
    got->count++;
    data += used;
    len -= used;
  }
  return 0;
}

static void assert_frames_equal(const frames_t *a, const frames_t *b) {
  assert_int_equal(a->count, b->count);
  for (size_t i = 0; i < a->count; i++) {
    assert_int_equal(a->type[i], b->type[i]);
    assert_int_equal(a->len[i], b->len[i]);
    assert_int_equal(a->sum[i], b->sum[i]);
  }
}

static size_t three_frames(frames_t *want) {
  size_t pos = put_frame(0, QP__NET_FRAME_HELLO, QP__NET_HELLO_BYTES_MAX, 1, want);
  pos = put_frame(pos, QP__NET_FRAME_MSG, 1, 2, want);
  return put_frame(pos, QP__NET_FRAME_MSG, 300, 3, want);
}

static void test_split_at_every_byte(void **state) {
  (void)state;
  static frames_t want, got;
  memset(&want, 0, sizeof want);
  size_t total = three_frames(&want);
  for (size_t cut = 0; cut <= total; cut++) {
    qp__net_decoder_t d;
    qp__net_decoder_init(&d, 1000, ALL_TYPES);
    qp_net_reason_t reason;
    memset(&got, 0, sizeof got);
    assert_int_equal(feed_all(&d, stream, cut, &got, &reason), 0);
    assert_int_equal(feed_all(&d, stream + cut, total - cut, &got, &reason), 0);
    assert_frames_equal(&want, &got);
    assert_int_equal(d.header_have, 0);
    qp__net_decoder_deinit(&d);
  }
  /* One byte at a time. */
  qp__net_decoder_t d;
  qp__net_decoder_init(&d, 1000, ALL_TYPES);
  qp_net_reason_t reason;
  memset(&got, 0, sizeof got);
  for (size_t i = 0; i < total; i++)
    assert_int_equal(feed_all(&d, stream + i, 1, &got, &reason), 0);
  assert_frames_equal(&want, &got);
  qp__net_decoder_deinit(&d);
}

static void test_many_frames_in_one_read_are_not_copied(void **state) {
  (void)state;
  static frames_t want, got;
  memset(&want, 0, sizeof want);
  memset(&got, 0, sizeof got);
  size_t pos = 0;
  for (uint32_t i = 0; i < 1000; i++)
    pos = put_frame(pos, QP__NET_FRAME_MSG, 1 + i % 97, (uint8_t)i, &want);
  qp__net_decoder_t d;
  qp__net_decoder_init(&d, 1000, ALL_TYPES);
  size_t at = 0;
  while (at < pos) {
    size_t used = 0;
    qp__net_frame_t f;
    qp_net_reason_t reason;
    assert_int_equal(qp__net_decoder_feed(&d, stream + at, pos - at, &used, &f, &reason), 1);
    assert_ptr_equal(f.payload, stream + at + QP_NET_FRAME_HEADER_SIZE); /* zero copy */
    got.type[got.count] = f.type;
    got.len[got.count] = f.len;
    got.sum[got.count++] = digest(f.payload, f.len);
    at += used;
  }
  assert_frames_equal(&want, &got);
  assert_null(d.buf); /* nothing was ever buffered */
  qp__net_decoder_deinit(&d);
}

static void test_random_chunks_match_one_piece(void **state) {
  (void)state;
  static frames_t want, got;
  qp_rng_t rng;
  qp_rng_seed(&rng, qp_test_env_u64("QP_TEST_SEED", 42));
  for (int round = 0; round < 50; round++) {
    memset(&want, 0, sizeof want);
    memset(&got, 0, sizeof got);
    size_t pos = 0;
    for (int i = 0; i < 40; i++) {
      uint8_t type = (uint8_t)qp_rng_range(&rng, QP__NET_FRAME_HELLO, QP__NET_FRAME_MSG);
      uint32_t max = qp__net_frame_bytes_max(type, 20000);
      pos = put_frame(pos, type, (uint32_t)qp_rng_range(&rng, 1, max), (uint8_t)i, &want);
    }
    qp__net_decoder_t d;
    qp__net_decoder_init(&d, 20000, ALL_TYPES);
    qp_net_reason_t reason;
    for (size_t at = 0; at < pos;) {
      size_t n = (size_t)qp_rng_range(&rng, 1, 30000);
      if (n > pos - at) n = pos - at;
      assert_int_equal(feed_all(&d, stream + at, n, &got, &reason), 0);
      at += n;
    }
    assert_frames_equal(&want, &got);
    qp__net_decoder_deinit(&d);
  }
}

/* Feeds stream[0..len) to a fresh decoder and expects refusal for reason. */
static void expect_refusal(size_t len, uint32_t allowed, qp_net_reason_t want) {
  qp__net_decoder_t d;
  qp__net_decoder_init(&d, 1000, allowed);
  frames_t *got = calloc(1, sizeof *got); /* test code: plain calloc is fine */
  assert_non_null(got);
  qp_net_reason_t reason = QP_NET_REASON_CLOSED;
  assert_int_equal(feed_all(&d, stream, len, got, &reason), -1);
  assert_int_equal(reason, want);
  /* Refusal sticks, whatever comes next. */
  size_t used = 1;
  qp__net_frame_t f;
  reason = QP_NET_REASON_CLOSED;
  assert_int_equal(qp__net_decoder_feed(&d, stream, 1, &used, &f, &reason), -1);
  assert_int_equal(reason, want);
  assert_int_equal(used, 0);
  qp__net_decoder_deinit(&d);
  free(got);
}

static void test_zero_length_is_refused(void **state) {
  (void)state;
  memset(stream, 0, 16);
  stream[4] = QP__NET_FRAME_MSG;
  expect_refusal(5, ALL_TYPES, QP_NET_REASON_FRAME_EMPTY);
  /* Even after a good frame. */
  size_t pos = put_frame(0, QP__NET_FRAME_MSG, 10, 1, NULL);
  memset(stream + pos, 0, 5);
  stream[pos + 4] = QP__NET_FRAME_MSG;
  expect_refusal(pos + 5, ALL_TYPES, QP_NET_REASON_FRAME_EMPTY);
}

static void test_oversized_is_refused_at_the_header(void **state) {
  (void)state;
  /* Header only: the payload never needs to arrive for the refusal. */
  qp__net_frame_header(stream, QP__NET_FRAME_MSG, 1001);
  expect_refusal(5, ALL_TYPES, QP_NET_REASON_FRAME_OVERSIZED);
  qp__net_frame_header(stream, QP__NET_FRAME_MSG, UINT32_MAX);
  expect_refusal(5, ALL_TYPES, QP_NET_REASON_FRAME_OVERSIZED);
  qp__net_frame_header(stream, QP__NET_FRAME_HELLO, QP__NET_HELLO_BYTES_MAX + 1);
  expect_refusal(5, ALL_TYPES, QP_NET_REASON_FRAME_OVERSIZED);
  qp__net_frame_header(stream, QP__NET_FRAME_AUTH, QP__NET_AUTH_BYTES_MAX + 1);
  expect_refusal(5, ALL_TYPES, QP_NET_REASON_FRAME_OVERSIZED);
  /* Exactly the maximum is fine. */
  static frames_t want, got;
  memset(&want, 0, sizeof want);
  memset(&got, 0, sizeof got);
  size_t len = put_frame(0, QP__NET_FRAME_MSG, 1000, 9, &want);
  qp__net_decoder_t d;
  qp__net_decoder_init(&d, 1000, ALL_TYPES);
  qp_net_reason_t reason;
  assert_int_equal(feed_all(&d, stream, len, &got, &reason), 0);
  assert_frames_equal(&want, &got);
  qp__net_decoder_deinit(&d);
}

static void test_unknown_type_is_refused(void **state) {
  (void)state;
  const uint8_t types[] = {0, 4, 7, 128, 255};
  for (size_t i = 0; i < sizeof types; i++) {
    put_frame(0, types[i], 3, 1, NULL);
    expect_refusal(8, ALL_TYPES, QP_NET_REASON_FRAME_TYPE);
  }
}

static void test_type_out_of_order_is_refused(void **state) {
  (void)state;
  /* A message before the handshake: only HELLO is allowed. */
  put_frame(0, QP__NET_FRAME_MSG, 3, 1, NULL);
  expect_refusal(8, QP__NET_FRAME_TYPE_BIT(QP__NET_FRAME_HELLO), QP_NET_REASON_UNEXPECTED);
  /* A HELLO after it: only MSG is allowed. */
  put_frame(0, QP__NET_FRAME_HELLO, 70, 1, NULL);
  expect_refusal(75, QP__NET_FRAME_TYPE_BIT(QP__NET_FRAME_MSG), QP_NET_REASON_UNEXPECTED);
}

static void test_large_split_frame_buffer_is_released(void **state) {
  (void)state;
  uint32_t big = 3 * QP__NET_DECODER_KEEP_BYTES;
  size_t pos = put_frame(0, QP__NET_FRAME_MSG, big, 5, NULL);
  pos = put_frame(pos, QP__NET_FRAME_MSG, 10, 6, NULL);
  qp__net_decoder_t d;
  qp__net_decoder_init(&d, big, ALL_TYPES);
  static frames_t got;
  memset(&got, 0, sizeof got);
  qp_net_reason_t reason;
  assert_int_equal(feed_all(&d, stream, 1000, &got, &reason), 0);
  assert_int_equal(feed_all(&d, stream + 1000, big + 5 - 1000, &got, &reason), 0);
  assert_int_equal(got.count, 1);
  assert_non_null(d.buf);
  assert_int_equal(feed_all(&d, stream + big + 5, pos - big - 5, &got, &reason), 0);
  assert_int_equal(got.count, 2);
  assert_null(d.buf);
  qp__net_decoder_deinit(&d);
}

static void fill_hello(qp__net_hello_t *h, uint32_t key_len) {
  memset(h, 0, sizeof *h);
  h->version = QP__NET_VERSION;
  h->suite = QP_SUITE_ED25519;
  for (int i = 0; i < 32; i++) h->network_id[i] = (uint8_t)i, h->nonce[i] = (uint8_t)(100 + i);
  h->key_len = key_len;
  for (uint32_t i = 0; i < key_len; i++) h->key[i] = (uint8_t)(200 + i);
}

static void test_hello_round_trip_and_refusals(void **state) {
  (void)state;
  qp__net_hello_t h, back;
  uint8_t buf[QP__NET_HELLO_BYTES_MAX + 1];
  fill_hello(&h, QP_ED25519_PUBLIC_SIZE);
  size_t len = qp__net_hello_encode(&h, buf);
  assert_int_equal(len, QP__NET_HELLO_FIXED_BYTES + 32);
  assert_int_equal(qp__net_hello_decode(buf, len, &back), 0);
  assert_memory_equal(&h, &back, sizeof h);
  for (size_t cut = 0; cut < len; cut++)
    assert_int_not_equal(qp__net_hello_decode(buf, cut, &back), 0);
  buf[len] = 0;
  assert_int_equal(qp__net_hello_decode(buf, len + 1, &back), QP_EPARSE); /* trailing byte */
  buf[67] = 0;
  assert_int_equal(qp__net_hello_decode(buf, QP__NET_HELLO_FIXED_BYTES, &back), QP_EPARSE);
  buf[67] = QP_SIGN_PUBLIC_MAX + 1;
  assert_int_equal(qp__net_hello_decode(buf, len, &back), QP_EPARSE);
  buf[0] = 2; /* another version: refused before its layout is assumed */
  assert_int_equal(qp__net_hello_decode(buf, 2, &back), QP_ENOTSUP);
  assert_int_equal(back.version, 2);
  fill_hello(&h, QP_SM2_PUBLIC_SIZE);
  len = qp__net_hello_encode(&h, buf);
  assert_int_equal(len, QP__NET_HELLO_BYTES_MAX);
  assert_int_equal(qp__net_hello_decode(buf, len, &back), 0);
  assert_memory_equal(&h, &back, sizeof h);
}

static void test_transcript_binds_role_nonces_and_keys(void **state) {
  (void)state;
  qp__net_hello_t a, b;
  fill_hello(&a, 32);
  fill_hello(&b, 32);
  b.key[0] ^= 1;
  b.nonce[0] ^= 1;
  uint8_t id[QP_NET_NETWORK_ID_SIZE] = {7};
  uint8_t t0[QP__NET_TRANSCRIPT_BYTES_MAX], t1[QP__NET_TRANSCRIPT_BYTES_MAX];
  uint8_t t2[QP__NET_TRANSCRIPT_BYTES_MAX];
  size_t n0 = qp__net_transcript(t0, QP__NET_ROLE_DIALER, id, &a, &b);
  size_t n1 = qp__net_transcript(t1, QP__NET_ROLE_ACCEPTOR, id, &a, &b);
  size_t n2 = qp__net_transcript(t2, QP__NET_ROLE_DIALER, id, &b, &a);
  assert_int_equal(n0, sizeof QP__NET_TRANSCRIPT_DOMAIN - 1 + 1 + 32 + 1 + 2 * (1 + 32 + 32));
  assert_int_equal(n0, n1);
  assert_memory_not_equal(t0, t1, n0);
  assert_int_equal(n0, n2);
  assert_memory_not_equal(t0, t2, n0);
  assert_memory_equal(t0, QP__NET_TRANSCRIPT_DOMAIN, sizeof QP__NET_TRANSCRIPT_DOMAIN - 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_split_at_every_byte),
      cmocka_unit_test(test_many_frames_in_one_read_are_not_copied),
      cmocka_unit_test(test_random_chunks_match_one_piece),
      cmocka_unit_test(test_zero_length_is_refused),
      cmocka_unit_test(test_oversized_is_refused_at_the_header),
      cmocka_unit_test(test_unknown_type_is_refused),
      cmocka_unit_test(test_type_out_of_order_is_refused),
      cmocka_unit_test(test_large_split_frame_buffer_is_released),
      cmocka_unit_test(test_hello_round_trip_and_refusals),
      cmocka_unit_test(test_transcript_binds_role_nonces_and_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
