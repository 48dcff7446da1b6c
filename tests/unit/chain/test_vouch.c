/*
 * test_vouch.c - vouching for forwarded transactions (src/chain/vouch.h):
 * the two frames round trip and refuse every truncation, another channel
 * and a vouched frame without a forward frame inside; a vouch signed by a
 * member verifies over the message it names and fails for another chain
 * or digest; the checkers of a frame are the f members after its
 * forwarder (n = 1..10) and the quorum is f + 1; the book admits a frame
 * only with a quorum of vouches from current members, in either arrival
 * order, hands back frames whose deadline passed, forgets vouches whose
 * frame never came, puts a due frame back to wait again, ignores a frame
 * sent twice, and holds its bounds.
 */
#include "chain/forward.h"
#include "chain/vouch.h"
#include "chain_test.h"

static const uint8_t CHAIN[QP_HASH_SIZE] = {7, 7, 7};

static qp_buf_t frame_of(const char *const *txs, size_t n) {
  qp_buf_t b = {.max = 1u << 20};
  uint32_t count = 0;
  for (size_t i = 0; i < n; i++)
    assert_true(qp_chain_fwd_append(&b, &count, (const uint8_t *)txs[i], strlen(txs[i])));
  qp_chain_fwd_seal(&b, count);
  return b;
}

static void test_vouched_frame_round_trip(void **state) {
  (void)state;
  const char *txs[] = {"one", "two"};
  qp_buf_t f = frame_of(txs, 2);
  uint8_t sig[QP_CHAIN_VOUCH_SIG_SIZE];
  memset(sig, 0xab, sizeof sig);
  size_t len = QP_CHAIN_VOUCHED_HEADER + f.len;
  uint8_t *out = qp_malloc(len);
  qp_chain_vouched_write(sig, (const uint8_t *)f.data, f.len, out);
  const uint8_t *s = NULL, *inner = NULL;
  size_t inner_len = 0;
  assert_true(qp_chain_vouched_read(out, len, &s, &inner, &inner_len));
  assert_memory_equal(s, sig, sizeof sig);
  assert_int_equal(inner_len, f.len);
  assert_memory_equal(inner, f.data, f.len);
  for (size_t cut = 0; cut < QP_CHAIN_VOUCHED_HEADER + QP_CHAIN_FWD_HEADER; cut++)
    assert_false(qp_chain_vouched_read(out, cut, &s, &inner, &inner_len));
  out[QP_CHAIN_VOUCHED_HEADER] = 1; /* not a forward frame inside */
  assert_false(qp_chain_vouched_read(out, len, &s, &inner, &inner_len));
  out[QP_CHAIN_VOUCHED_HEADER] = QP_CHAIN_FWD_CHANNEL;
  out[0] = QP_CHAIN_VOUCH_CHANNEL;
  assert_false(qp_chain_vouched_read(out, len, &s, &inner, &inner_len));
  qp_free(out);
  qp_buf_free(&f);
}

static void test_vouch_round_trip(void **state) {
  (void)state;
  uint8_t digest[QP_HASH_SIZE], sig[QP_CHAIN_VOUCH_SIG_SIZE], out[QP_CHAIN_VOUCH_BYTES];
  memset(digest, 0x11, sizeof digest);
  memset(sig, 0x22, sizeof sig);
  qp_chain_vouch_write(digest, sig, out);
  const uint8_t *d = NULL, *s = NULL;
  assert_true(qp_chain_vouch_read(out, sizeof out, &d, &s));
  assert_memory_equal(d, digest, sizeof digest);
  assert_memory_equal(s, sig, sizeof sig);
  for (size_t cut = 0; cut < sizeof out; cut++) assert_false(qp_chain_vouch_read(out, cut, &d, &s));
  uint8_t longer[QP_CHAIN_VOUCH_BYTES + 1];
  memcpy(longer, out, sizeof out);
  longer[sizeof out] = 0;
  assert_false(qp_chain_vouch_read(longer, sizeof longer, &d, &s));
  out[0] = QP_CHAIN_VOUCHED_CHANNEL;
  assert_false(qp_chain_vouch_read(out, sizeof out, &d, &s));
}

/* A vouch signs the domain, the chain and the digest: a signature made
 * for one does not verify for another. */
static void test_vouch_signature_binds_chain_and_digest(void **state) {
  (void)state;
  qp_suite_t suites[] = {QP_SUITE_ED25519, QP_SUITE_SM2};
  for (size_t k = 0; k < 2; k++) {
    qp_sign_key_t *key = test_key(suites[k], 9);
    uint8_t pub[QP_SIGN_PUBLIC_MAX], digest[QP_HASH_SIZE], msg[QP_CHAIN_VOUCH_MESSAGE_BYTES];
    uint8_t sig[QP_SIGN_SIG_MAX];
    size_t pub_len = 0, sig_len = 0;
    qp_sign_public(key, pub, &pub_len);
    const char *txs[] = {"a transaction"};
    qp_buf_t f = frame_of(txs, 1);
    assert_int_equal(qp_chain_vouch_digest(suites[k], (const uint8_t *)f.data, f.len, digest), 0);
    qp_chain_vouch_message(CHAIN, digest, msg);
    assert_int_equal(qp_sign(key, msg, sizeof msg, sig, &sig_len), 0);
    assert_int_equal(sig_len, QP_CHAIN_VOUCH_SIG_SIZE);
    assert_int_equal(qp_verify(suites[k], pub, pub_len, msg, sizeof msg, sig, sig_len), 0);
    /* The node's pair signs and checks exactly that message. */
    uint8_t vsig[QP_CHAIN_VOUCH_SIG_SIZE];
    assert_int_equal(qp_chain_vouch_sign(key, CHAIN, digest, vsig), 0);
    assert_int_equal(qp_verify(suites[k], pub, pub_len, msg, sizeof msg, vsig, sizeof vsig), 0);
    assert_true(qp_chain_vouch_check(suites[k], pub, pub_len, CHAIN, digest, vsig));
    assert_true(qp_chain_vouch_check(suites[k], pub, pub_len, CHAIN, digest, sig));
    uint8_t other_chain[QP_HASH_SIZE] = {8};
    assert_false(qp_chain_vouch_check(suites[k], pub, pub_len, other_chain, digest, vsig));
    qp_chain_vouch_message(other_chain, digest, msg);
    assert_int_not_equal(qp_verify(suites[k], pub, pub_len, msg, sizeof msg, sig, sig_len), 0);
    f.data[f.len - 1] ^= 1; /* another frame, another digest */
    uint8_t digest2[QP_HASH_SIZE];
    assert_int_equal(qp_chain_vouch_digest(suites[k], (const uint8_t *)f.data, f.len, digest2), 0);
    assert_memory_not_equal(digest, digest2, QP_HASH_SIZE);
    qp_chain_vouch_message(CHAIN, digest2, msg);
    assert_int_not_equal(qp_verify(suites[k], pub, pub_len, msg, sizeof msg, sig, sig_len), 0);
    qp_buf_free(&f);
    qp_sign_key_free(key);
  }
}

/* The checkers are the f members after the origin, wrapping around;
 * checked against a direct count for every n, origin and member. */
static void test_checkers_and_quorum(void **state) {
  (void)state;
  uint32_t quorum[] = {1, 1, 1, 2, 2, 2, 3, 3, 3, 4};
  for (uint32_t n = 1; n <= 10; n++) {
    uint32_t f = (n - 1) / 3;
    assert_int_equal(qp_chain_vouch_quorum(n), quorum[n - 1]);
    assert_int_equal(qp_chain_vouch_quorum(n), f + 1);
    for (uint32_t o = 0; o < n; o++) {
      uint32_t checkers = 0;
      for (uint32_t m = 0; m < n; m++) {
        bool expect = false;
        for (uint32_t i = 1; i <= f; i++) expect = expect || m == (o + i) % n;
        assert_int_equal(qp_chain_vouch_is_checker(n, o, m), expect);
        checkers += expect;
      }
      assert_int_equal(checkers, f);
      assert_false(qp_chain_vouch_is_checker(n, o, n));  /* not a member */
      assert_false(qp_chain_vouch_is_checker(n, n, 0));  /* nor the origin */
    }
  }
  assert_true(qp_chain_vouch_is_checker(4, 3, 0));
  assert_false(qp_chain_vouch_is_checker(4, 3, 1));
  assert_true(qp_chain_vouch_is_checker(7, 5, 6));
  assert_true(qp_chain_vouch_is_checker(7, 5, 0));
  assert_false(qp_chain_vouch_is_checker(7, 5, 1));
  assert_false(qp_chain_vouch_is_checker(0, 0, 0));
}

static void digest_of(uint8_t seed, uint8_t out[QP_HASH_SIZE]) { memset(out, seed, QP_HASH_SIZE); }

static void test_book_frame_then_vouches(void **state) {
  (void)state;
  qp_chain_vouch_book_t b = {0};
  uint8_t d[QP_HASH_SIZE];
  digest_of(1, d);
  const uint64_t members = 0x7f; /* 7 members: quorum 3 */
  qp_chain_vouch_entry_t e;
  assert_int_equal(qp_chain_vouch_book_frame(&b, d, 5, 2, (const uint8_t *)"frame", 5, 100), 0);
  assert_int_equal(b.bytes, 5);
  assert_false(qp_chain_vouch_book_ready(&b, members, 3, &e));
  assert_int_equal(qp_chain_vouch_book_vouch(&b, d, 3, 999), 0);
  assert_int_equal(qp_chain_vouch_book_vouch(&b, d, 3, 999), 0); /* the same member twice */
  assert_false(qp_chain_vouch_book_ready(&b, members, 3, &e));
  assert_int_equal(qp_chain_vouch_book_vouch(&b, d, 9, 999), 0); /* not a member: no count */
  assert_false(qp_chain_vouch_book_ready(&b, members, 3, &e));
  assert_int_equal(qp_chain_vouch_book_frame(&b, d, 5, 2, (const uint8_t *)"frame", 5, 100), 0);
  assert_int_equal(b.bytes, 5); /* the same frame again changes nothing */
  assert_int_equal(qp_chain_vouch_book_vouch(&b, d, 4, 999), 0);
  assert_true(qp_chain_vouch_book_ready(&b, members, 3, &e));
  assert_int_equal(e.len, 5);
  assert_memory_equal(e.frame, "frame", 5);
  assert_int_equal(e.from, 5);
  assert_int_equal(e.vouchers, (1u << 2) | (1u << 3) | (1u << 4) | (1u << 9));
  qp_free(e.frame);
  assert_int_equal(b.count, 0);
  assert_int_equal(b.bytes, 0);
  assert_int_equal(qp_chain_vouch_book_next(&b), UINT64_MAX);
  qp_chain_vouch_book_free(&b);
}

static void test_book_vouches_before_frame(void **state) {
  (void)state;
  qp_chain_vouch_book_t b = {0};
  uint8_t d1[QP_HASH_SIZE], d2[QP_HASH_SIZE];
  digest_of(1, d1);
  digest_of(2, d2);
  qp_chain_vouch_entry_t e;
  assert_int_equal(qp_chain_vouch_book_vouch(&b, d1, 1, 50), 0);
  assert_int_equal(qp_chain_vouch_book_vouch(&b, d2, 1, 60), 0);
  assert_false(qp_chain_vouch_book_ready(&b, 0xf, 2, &e)); /* no frame yet */
  assert_int_equal(qp_chain_vouch_book_next(&b), 50);
  assert_int_equal(qp_chain_vouch_book_frame(&b, d1, 0, 0, (const uint8_t *)"abc", 3, 80), 0);
  assert_int_equal(qp_chain_vouch_book_next(&b), 60); /* the frame's deadline replaced 50 */
  assert_true(qp_chain_vouch_book_ready(&b, 0xf, 2, &e));
  assert_memory_equal(e.frame, "abc", 3);
  qp_free(e.frame);
  /* d2's vouch never meets its frame: forgotten at its deadline, never handed back. */
  assert_false(qp_chain_vouch_book_due(&b, 59, &e));
  assert_int_equal(b.count, 1);
  assert_false(qp_chain_vouch_book_due(&b, 60, &e));
  assert_int_equal(b.count, 0);
  qp_chain_vouch_book_free(&b);
}

static void test_book_deadlines(void **state) {
  (void)state;
  qp_chain_vouch_book_t b = {0};
  uint8_t d[3][QP_HASH_SIZE];
  qp_chain_vouch_entry_t e;
  for (uint8_t i = 0; i < 3; i++) {
    digest_of((uint8_t)(i + 1), d[i]);
    assert_int_equal(qp_chain_vouch_book_frame(&b, d[i], i, i, (const uint8_t *)"xy", 2,
                                               100 + 10u * (2 - i)), 0);
  }
  assert_int_equal(qp_chain_vouch_book_next(&b), 100);
  assert_false(qp_chain_vouch_book_due(&b, 99, &e));
  assert_true(qp_chain_vouch_book_due(&b, 115, &e)); /* the oldest due: the second (110) */
  assert_int_equal(e.from, 1);
  qp_free(e.frame);
  assert_true(qp_chain_vouch_book_due(&b, 115, &e)); /* then the third (100) */
  assert_int_equal(e.from, 2);
  qp_free(e.frame);
  assert_false(qp_chain_vouch_book_due(&b, 115, &e));
  assert_int_equal(b.count, 1);
  assert_int_equal(b.bytes, 2);
  qp_chain_vouch_book_free(&b); /* frees the frame still held */
  assert_int_equal(b.count, 0);
}

/* A due frame put back waits again: not due before its new deadline, its
 * waits counted, still admitted once its vouches come; a frame put back
 * into a book that already holds its digest is refused. */
static void test_book_requeue(void **state) {
  (void)state;
  qp_chain_vouch_book_t b = {0};
  uint8_t d[QP_HASH_SIZE];
  digest_of(4, d);
  qp_chain_vouch_entry_t e, again;
  assert_int_equal(qp_chain_vouch_book_frame(&b, d, 3, 3, (const uint8_t *)"body", 4, 10), 0);
  assert_true(qp_chain_vouch_book_due(&b, 10, &e));
  assert_int_equal(e.waits, 0);
  assert_int_equal(b.bytes, 0);
  assert_int_equal(qp_chain_vouch_book_requeue(&b, &e, 20), 0);
  assert_int_equal(b.bytes, 4);
  assert_false(qp_chain_vouch_book_due(&b, 19, &again));
  assert_true(qp_chain_vouch_book_due(&b, 20, &again));
  assert_int_equal(again.waits, 1);
  assert_ptr_equal(again.frame, e.frame); /* the same bytes, not a copy */
  assert_int_equal(qp_chain_vouch_book_requeue(&b, &again, 30), 0);
  assert_int_equal(qp_chain_vouch_book_requeue(&b, &again, 30), QP_ELIMIT); /* held already */
  assert_int_equal(qp_chain_vouch_book_vouch(&b, d, 0, 99), 0);
  assert_true(qp_chain_vouch_book_ready(&b, 0xf, 2, &e));
  assert_int_equal(e.waits, 2);
  assert_memory_equal(e.frame, "body", 4);
  qp_free(e.frame);
  assert_int_equal(b.count, 0);
  qp_chain_vouch_book_free(&b);
}

static void test_book_bounds(void **state) {
  (void)state;
  qp_chain_vouch_book_t b = {0};
  uint8_t d[QP_HASH_SIZE] = {0};
  for (uint32_t i = 0; i < QP_CHAIN_VOUCH_BOOK_ENTRIES; i++) {
    memcpy(d, &i, sizeof i);
    assert_int_equal(qp_chain_vouch_book_vouch(&b, d, 0, 1000), 0);
  }
  uint32_t i = QP_CHAIN_VOUCH_BOOK_ENTRIES;
  memcpy(d, &i, sizeof i);
  assert_int_equal(qp_chain_vouch_book_vouch(&b, d, 0, 1000), QP_ELIMIT);
  assert_int_equal(qp_chain_vouch_book_frame(&b, d, 0, 0, (const uint8_t *)"z", 1, 1000),
                   QP_ELIMIT);
  assert_int_equal(qp_chain_vouch_book_vouch(&b, d, 64, 1000), QP_ELIMIT); /* no such bit */
  qp_chain_vouch_book_free(&b);
  /* Bytes: a frame past the book's byte bound is refused, the book unchanged. */
  uint8_t *big = qp_calloc(1, QP_CHAIN_VOUCH_BOOK_BYTES);
  assert_int_equal(qp_chain_vouch_book_frame(&b, d, 0, 0, big, QP_CHAIN_VOUCH_BOOK_BYTES, 1), 0);
  digest_of(9, d);
  assert_int_equal(qp_chain_vouch_book_frame(&b, d, 0, 0, big, 1, 1), QP_ELIMIT);
  assert_int_equal(qp_chain_vouch_book_frame(&b, d, 0, 0, big, 0, 1), QP_ELIMIT);
  assert_int_equal(b.count, 1);
  qp_free(big);
  qp_chain_vouch_book_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vouched_frame_round_trip),
      cmocka_unit_test(test_vouch_round_trip),
      cmocka_unit_test(test_vouch_signature_binds_chain_and_digest),
      cmocka_unit_test(test_checkers_and_quorum),
      cmocka_unit_test(test_book_frame_then_vouches),
      cmocka_unit_test(test_book_vouches_before_frame),
      cmocka_unit_test(test_book_deadlines),
      cmocka_unit_test(test_book_requeue),
      cmocka_unit_test(test_book_bounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
