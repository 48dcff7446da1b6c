/*
 * test_forward.c - the forwarded-transactions frame (src/chain/forward.h):
 * a round trip of several transactions; every truncation, a zero length, a
 * length past the end, a count that promises more or fewer elements than
 * the frame holds, trailing bytes and another channel are all caught, and
 * the walk never reads past the frame.
 */
#include "chain_test.h"
#include "chain/forward.h"

static qp_buf_t frame_of(const char *const *txs, size_t n) {
  qp_buf_t b = {.max = 1u << 20};
  uint32_t count = 0;
  for (size_t i = 0; i < n; i++)
    assert_true(qp_chain_fwd_append(&b, &count, (const uint8_t *)txs[i], strlen(txs[i])));
  assert_int_equal(count, n);
  qp_chain_fwd_seal(&b, count);
  return b;
}

/* Walks a frame; returns the elements read, *done whether it was whole. */
static size_t walk(const uint8_t *bytes, size_t len, bool *done) {
  qp_chain_fwd_reader_t r;
  *done = false;
  if (!qp_chain_fwd_open(&r, bytes, len)) return 0;
  const uint8_t *tx = NULL;
  size_t tx_len = 0, n = 0;
  while (qp_chain_fwd_next(&r, &tx, &tx_len)) {
    assert_true(tx >= bytes && tx + tx_len <= bytes + len && tx_len > 0);
    n++;
  }
  *done = qp_chain_fwd_done(&r);
  return n;
}

static void test_round_trip(void **state) {
  (void)state;
  const char *txs[] = {"first", "a second one", "3"};
  qp_buf_t b = frame_of(txs, 3);
  assert_int_equal(b.len, QP_CHAIN_FWD_HEADER + 3 * 4 + 5 + 12 + 1);
  assert_int_equal((uint8_t)b.data[0], QP_CHAIN_FWD_CHANNEL);
  qp_chain_fwd_reader_t r;
  assert_true(qp_chain_fwd_open(&r, (const uint8_t *)b.data, b.len));
  for (size_t i = 0; i < 3; i++) {
    const uint8_t *tx = NULL;
    size_t len = 0;
    assert_true(qp_chain_fwd_next(&r, &tx, &len));
    assert_int_equal(len, strlen(txs[i]));
    assert_memory_equal(tx, txs[i], len);
  }
  const uint8_t *tx = NULL;
  size_t len = 0;
  assert_false(qp_chain_fwd_next(&r, &tx, &len));
  assert_true(qp_chain_fwd_done(&r));
  qp_buf_free(&b);
}

static void test_every_truncation_is_caught(void **state) {
  (void)state;
  const char *txs[] = {"alpha", "beta", "gamma"};
  qp_buf_t b = frame_of(txs, 3);
  for (size_t cut = 0; cut < b.len; cut++) {
    bool done = true;
    size_t n = walk((const uint8_t *)b.data, cut, &done);
    assert_false(done);
    assert_true(n < 3);
  }
  qp_buf_free(&b);
}

static void test_bad_lengths_and_counts(void **state) {
  (void)state;
  const char *txs[] = {"alpha", "beta"};
  qp_buf_t b = frame_of(txs, 2);
  uint8_t *f = (uint8_t *)b.data;
  bool done = false;
  /* A zero length stops the walk at that element. */
  uint8_t saved[4];
  memcpy(saved, f + QP_CHAIN_FWD_HEADER, 4);
  memset(f + QP_CHAIN_FWD_HEADER, 0, 4);
  assert_int_equal(walk(f, b.len, &done), 0);
  assert_false(done);
  /* A length past the end, even by one byte, or near 2^32. */
  f[QP_CHAIN_FWD_HEADER] = (uint8_t)(b.len);
  assert_int_equal(walk(f, b.len, &done), 0);
  memset(f + QP_CHAIN_FWD_HEADER, 0xff, 4);
  assert_int_equal(walk(f, b.len, &done), 0);
  memcpy(f + QP_CHAIN_FWD_HEADER, saved, 4);
  assert_int_equal(walk(f, b.len, &done), 2);
  assert_true(done);
  /* A count promising more, or fewer, than the frame holds. */
  qp_chain_fwd_seal(&b, 3);
  assert_int_equal(walk(f, b.len, &done), 2);
  assert_false(done);
  qp_chain_fwd_seal(&b, 1);
  assert_int_equal(walk(f, b.len, &done), 1);
  assert_false(done);
  qp_chain_fwd_seal(&b, 0xffffffffu);
  assert_int_equal(walk(f, b.len, &done), 2);
  assert_false(done);
  /* Another channel, or a frame shorter than its header. */
  qp_chain_fwd_seal(&b, 2);
  f[0] = 1;
  assert_int_equal(walk(f, b.len, &done), 0);
  assert_false(done);
  f[0] = QP_CHAIN_FWD_CHANNEL;
  assert_int_equal(walk(f, QP_CHAIN_FWD_HEADER - 1, &done), 0);
  qp_buf_free(&b);
}

static void test_append_refusals_leave_the_frame_as_it_was(void **state) {
  (void)state;
  qp_buf_t b = {.max = 32};
  uint32_t count = 0;
  assert_true(qp_chain_fwd_append(&b, &count, (const uint8_t *)"0123456789", 10));
  size_t len = b.len;
  assert_false(qp_chain_fwd_append(&b, &count, (const uint8_t *)"0123456789ABCDEF", 16));
  assert_false(qp_chain_fwd_append(&b, &count, (const uint8_t *)"x", 0));
  assert_int_equal(b.len, len);
  assert_int_equal(count, 1);
  qp_chain_fwd_seal(&b, count);
  bool done = false;
  assert_int_equal(walk((const uint8_t *)b.data, b.len, &done), 1);
  assert_true(done);
  qp_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_every_truncation_is_caught),
      cmocka_unit_test(test_bad_lengths_and_counts),
      cmocka_unit_test(test_append_refusals_leave_the_frame_as_it_was),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
