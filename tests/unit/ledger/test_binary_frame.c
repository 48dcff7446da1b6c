/*
 * test_binary_frame.c - the binary protocol's framing (src/ledger/binary.h,
 * docs/binary.md): a frame encodes and decodes to itself, whole or in
 * pieces of every size; and every refusal (magic, version, op, status,
 * length, checksum) gives its own error, is sticky, and delivers nothing.
 */
#include <string.h>

#include "test_util.h"
#include "base/alloc.h"
#include "base/bytes.h"
#include "ledger/binary.h"

#define BODY_MAX (QP_BIN_HEADER_SIZE + 4 * QP_BIN_RECORD_SIZE)

/* A request frame of op with a body of len bytes (pattern); returns its size. */
static size_t make(uint8_t *out, uint16_t op, uint64_t id, uint32_t len) {
  for (uint32_t i = 0; i < len; i++) out[QP_BIN_HEADER_SIZE + i] = (uint8_t)(i * 7 + 3);
  qp_bin_header_encode(out, op, id, 0, out + QP_BIN_HEADER_SIZE, len);
  return QP_BIN_HEADER_SIZE + len;
}

/* Feeds the whole stream in pieces of `piece` bytes; returns the decoder's
 * last answer, with frames counted. */
static int feed_pieces(const uint8_t *data, size_t len, size_t piece, uint32_t *frames,
                       uint32_t *error, qp_bin_header_t *last) {
  qp_bin_decoder_t d;
  assert_int_equal(qp_bin_decoder_init(&d), 0);
  int rc = 0;
  *frames = 0;
  for (size_t off = 0; off < len && rc >= 0;) {
    size_t n = len - off < piece ? len - off : piece, used = 0;
    const uint8_t *body;
    char message[QP_BIN_MESSAGE_BYTES_MAX];
    rc = qp_bin_decoder_feed(&d, data + off, n, &used, last, &body, error, message,
                             sizeof message);
    if (rc == 1) {
      (*frames)++;
      assert_memory_equal(body, data + off + used - last->body_len, last->body_len);
    }
    if (rc < 0) assert_true(strlen(message) > 0);
    off += used;
  }
  qp_bin_decoder_deinit(&d);
  return rc;
}

static void test_round_trip(void **state) {
  (void)state;
  uint8_t buf[3 * BODY_MAX];
  size_t len = make(buf, QP_BIN_OP_CREATE_TRANSFERS, 42, 2 * QP_BIN_RECORD_SIZE);
  len += make(buf + len, QP_BIN_OP_LOOKUP_ACCOUNTS, 43, 3 * QP_BIN_ID_SIZE);
  len += make(buf + len, QP_BIN_OP_AUTH, 44, 5);
  for (size_t piece = 1; piece <= len; piece++) {
    uint32_t frames = 0, error = 0;
    qp_bin_header_t h;
    int rc = feed_pieces(buf, len, piece, &frames, &error, &h);
    assert_int_equal(frames, 3);
    assert_true(rc == 1);
    assert_int_equal(h.op, QP_BIN_OP_AUTH);
    assert_int_equal(h.request_id, 44);
    assert_int_equal(h.body_len, 5);
  }
}

/* Changes one thing of a valid frame and expects error. */
static void expect_refused(uint8_t *frame, size_t len, uint32_t want) {
  uint32_t frames = 0, error = 0;
  qp_bin_header_t h;
  for (size_t piece = 1; piece <= len; piece += 13) {
    assert_int_equal(feed_pieces(frame, len, piece, &frames, &error, &h), -1);
    assert_int_equal(error, want);
    assert_int_equal(frames, 0);
  }
  assert_non_null(qp_bin_error_name(want));
  assert_true(qp_bin_error_fatal(want));
}

static void test_refusals(void **state) {
  (void)state;
  uint8_t f[BODY_MAX];
  size_t len = make(f, QP_BIN_OP_CREATE_ACCOUNTS, 1, QP_BIN_RECORD_SIZE);
  f[0] = 'X';
  expect_refused(f, len, QP_BIN_E_BAD_MAGIC);
  make(f, QP_BIN_OP_CREATE_ACCOUNTS, 1, QP_BIN_RECORD_SIZE);
  qp_store_u16(f + 4, 2);
  expect_refused(f, len, QP_BIN_E_BAD_VERSION);
  for (uint16_t op = 0; op < 300; op = (uint16_t)(op + (op == 0 ? 6 : 47))) {
    make(f, QP_BIN_OP_CREATE_ACCOUNTS, 1, QP_BIN_RECORD_SIZE);
    qp_store_u16(f + 6, op);
    expect_refused(f, len, QP_BIN_E_BAD_OP);
  }
  make(f, QP_BIN_OP_CREATE_ACCOUNTS, 1, QP_BIN_RECORD_SIZE);
  qp_store_u32(f + 20, 1);
  expect_refused(f, len, QP_BIN_E_BAD_STATUS);
  make(f, QP_BIN_OP_CREATE_ACCOUNTS, 1, QP_BIN_RECORD_SIZE);
  f[QP_BIN_HEADER_SIZE + 100] ^= 1; /* body */
  expect_refused(f, len, QP_BIN_E_BAD_CHECKSUM);
  make(f, QP_BIN_OP_CREATE_ACCOUNTS, 1, QP_BIN_RECORD_SIZE);
  f[8] ^= 1; /* request id, covered by the checksum */
  expect_refused(f, len, QP_BIN_E_BAD_CHECKSUM);
  make(f, QP_BIN_OP_CREATE_ACCOUNTS, 1, QP_BIN_RECORD_SIZE);
  f[30] ^= 1; /* the checksum itself */
  expect_refused(f, len, QP_BIN_E_BAD_CHECKSUM);
}

static void test_lengths(void **state) {
  (void)state;
  uint8_t f[BODY_MAX];
  struct { uint16_t op; uint32_t len; uint32_t want; } cases[] = {
      {QP_BIN_OP_CREATE_ACCOUNTS, 0, QP_BIN_E_BAD_BODY_LENGTH},
      {QP_BIN_OP_CREATE_ACCOUNTS, 127, QP_BIN_E_BAD_BODY_LENGTH},
      {QP_BIN_OP_CREATE_TRANSFERS, 129, QP_BIN_E_BAD_BODY_LENGTH},
      {QP_BIN_OP_LOOKUP_TRANSFERS, 17, QP_BIN_E_BAD_BODY_LENGTH},
      {QP_BIN_OP_LOOKUP_ACCOUNTS, 0, QP_BIN_E_BAD_BODY_LENGTH},
      {QP_BIN_OP_AUTH, 0, QP_BIN_E_BAD_BODY_LENGTH},
      {QP_BIN_OP_AUTH, QP_BIN_AUTH_BYTES_MAX + 1, QP_BIN_E_BODY_TOO_LARGE},
      {QP_BIN_OP_CREATE_TRANSFERS, 8191u * 128u, QP_BIN_E_BODY_TOO_LARGE},
      {QP_BIN_OP_LOOKUP_ACCOUNTS, 8191u * 16u, QP_BIN_E_BODY_TOO_LARGE},
      {QP_BIN_OP_CREATE_ACCOUNTS, 0xffffffffu, QP_BIN_E_BODY_TOO_LARGE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    make(f, cases[i].op, 9, 0);
    qp_store_u32(f + 16, cases[i].len); /* refused from the header alone */
    expect_refused(f, QP_BIN_HEADER_SIZE, cases[i].want);
  }
  /* the largest bodies are accepted */
  qp_bin_header_t h;
  char message[QP_BIN_MESSAGE_BYTES_MAX];
  make(f, QP_BIN_OP_CREATE_TRANSFERS, 9, 0);
  qp_store_u32(f + 16, QP_BIN_BODY_MAX);
  assert_int_equal(qp_bin_request_check(f, &h, message, sizeof message), 0);
  qp_store_u16(f + 6, QP_BIN_OP_LOOKUP_TRANSFERS);
  qp_store_u32(f + 16, QP_BIN_EVENTS_MAX * QP_BIN_ID_SIZE);
  assert_int_equal(qp_bin_request_check(f, &h, message, sizeof message), 0);
}

static void test_sticky_failure(void **state) {
  (void)state;
  uint8_t f[2 * BODY_MAX];
  size_t len = make(f, QP_BIN_OP_AUTH, 1, 4);
  f[0] = 'Z';
  size_t len2 = make(f + len, QP_BIN_OP_AUTH, 2, 4);
  qp_bin_decoder_t d;
  assert_int_equal(qp_bin_decoder_init(&d), 0);
  size_t used;
  qp_bin_header_t h;
  const uint8_t *body;
  uint32_t error;
  char message[QP_BIN_MESSAGE_BYTES_MAX];
  assert_int_equal(qp_bin_decoder_feed(&d, f, len + len2, &used, &h, &body, &error, message,
                                       sizeof message), -1);
  assert_int_equal(error, QP_BIN_E_BAD_MAGIC);
  assert_int_equal(qp_bin_decoder_feed(&d, f + len, len2, &used, &h, &body, &error, message,
                                       sizeof message), -1);
  assert_int_equal(error, QP_BIN_E_BAD_MAGIC);
  qp_bin_decoder_deinit(&d);
}

/* Out of memory growing the buffer for a body: refused as internal, sticky. */
static void test_out_of_memory(void **state) {
  (void)state;
  uint8_t f[BODY_MAX];
  size_t len = make(f, QP_BIN_OP_CREATE_TRANSFERS, 1, 2 * QP_BIN_RECORD_SIZE);
  qp_bin_decoder_t d;
  assert_int_equal(qp_bin_decoder_init(&d), 0);
  size_t used;
  qp_bin_header_t h;
  const uint8_t *body;
  uint32_t error;
  char message[QP_BIN_MESSAGE_BYTES_MAX];
  qp_alloc_fail_after(0);
  int rc = qp_bin_decoder_feed(&d, f, len, &used, &h, &body, &error, message, sizeof message);
  qp_alloc_fail_after(-1);
  assert_int_equal(rc, -1);
  assert_int_equal(error, QP_BIN_E_INTERNAL);
  assert_int_equal(qp_bin_decoder_feed(&d, f, len, &used, &h, &body, &error, message,
                                       sizeof message), -1);
  qp_bin_decoder_deinit(&d);
}

static void test_error_names(void **state) {
  (void)state;
  assert_string_equal(qp_bin_error_name(QP_BIN_E_BAD_CHECKSUM), "bad_checksum");
  assert_string_equal(qp_bin_error_name(QP_BIN_E_BUSY), "busy");
  assert_null(qp_bin_error_name(0));
  assert_null(qp_bin_error_name(12));
  assert_false(qp_bin_error_fatal(QP_BIN_E_BUSY));
  assert_false(qp_bin_error_fatal(QP_BIN_E_STOPPED));
  assert_true(qp_bin_error_fatal(QP_BIN_E_AUTH_REQUIRED));
  assert_false(qp_bin_error_fatal(0));
  /* a reply header verifies with the same checksum */
  uint8_t f[QP_BIN_HEADER_SIZE + 8];
  memset(f + QP_BIN_HEADER_SIZE, 0xab, 8);
  qp_bin_header_encode(f, QP_BIN_OP_CREATE_TRANSFERS, 7, 0, f + QP_BIN_HEADER_SIZE, 8);
  qp_bin_header_t h;
  qp_bin_header_decode(f, &h);
  assert_int_equal(h.request_id, 7);
  assert_true(qp_bin_checksum_ok(f, &h, f + QP_BIN_HEADER_SIZE));
  f[QP_BIN_HEADER_SIZE + 7] = 0;
  assert_false(qp_bin_checksum_ok(f, &h, f + QP_BIN_HEADER_SIZE));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_lengths),        cmocka_unit_test(test_sticky_failure),
      cmocka_unit_test(test_error_names),    cmocka_unit_test(test_out_of_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
