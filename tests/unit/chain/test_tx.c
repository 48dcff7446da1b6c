/*
 * test_tx.c - transactions: make/decode round trips in both suites, the
 * hash, every single-byte tamper and every truncation caught, the bounds
 * of each field, trailing bytes, args that are not an object, and block
 * bodies (round trip, refusals, the Merkle root); decoding with a known-hash
 * callback (args not parsed again for a known hash).
 */
#include "chain_test.h"

static const uint8_t CHAIN[QP_HASH_SIZE] = {7, 7, 7};

static void test_round_trip(void **state) {
  (void)state;
  qp_suite_t suites[] = {QP_SUITE_ED25519, QP_SUITE_SM2};
  for (size_t s = 0; s < 2; s++) {
    qp_sign_key_t *key = test_key(suites[s], 9);
    size_t len = 0;
    uint8_t *bytes = test_tx(key, CHAIN, 42, "kv", "put", "{\"key\":\"a\",\"value\":\"b\"}", &len);
    qp_chain_tx_t tx;
    char detail[256] = "";
    assert_int_equal(qp_chain_tx_decode(suites[s], bytes, len, len, &tx, detail, sizeof detail),
                     0);
    assert_int_equal(tx.nonce, 42);
    assert_string_equal(tx.app, "kv");
    assert_string_equal(tx.method, "put");
    assert_int_equal(tx.args_len, strlen("{\"key\":\"a\",\"value\":\"b\"}"));
    assert_memory_equal(tx.args, "{\"key\":\"a\"", 10);
    assert_memory_equal(tx.chain, CHAIN, QP_HASH_SIZE);
    uint8_t pub[QP_SIGN_PUBLIC_MAX], hash[QP_HASH_SIZE];
    size_t pub_len = 0;
    qp_sign_public(key, pub, &pub_len);
    assert_int_equal(tx.sender_len, pub_len);
    assert_memory_equal(tx.sender, pub, pub_len);
    assert_int_equal(qp_suite_hash(suites[s], hash, bytes, len), 0);
    assert_memory_equal(tx.hash, hash, QP_HASH_SIZE);
    assert_int_equal(qp_chain_tx_verify(&tx), 0);
    /* Decoding under the other suite refuses the sender's key length. */
    assert_int_equal(qp_chain_tx_decode(suites[1 - s], bytes, len, len, &tx, detail,
                                        sizeof detail), QP_EPARSE);
    assert_true(strncmp(detail, "sender: ", 8) == 0);
    char want[96];
    snprintf(want, sizeof want, "is a %zu-byte %s public key, but this network uses the %s suite",
             pub_len, qp_suite_name(suites[s]), qp_suite_name(suites[1 - s]));
    assert_non_null(strstr(detail, want));
    assert_int_equal(qp_chain_tx_sender_suite(bytes, len), suites[s]);
    qp_free(bytes);
    qp_sign_key_free(key);
  }
}

/* Every single-byte change is refused by the decoder or the verifier, and
 * every truncation and any trailing byte by the decoder. */
static void test_every_tamper(void **state) {
  (void)state;
  qp_sign_key_t *key = test_key(QP_SUITE_ED25519, 3);
  size_t len = 0;
  uint8_t *bytes = test_tx(key, CHAIN, 1, "kv", "delete", "{\"key\":\"k\"}", &len);
  uint8_t *copy = malloc(len + 1);
  qp_chain_tx_t tx;
  for (size_t i = 0; i < len; i++) {
    for (int bit = 0; bit < 8; bit += 3) {
      memcpy(copy, bytes, len);
      copy[i] ^= (uint8_t)(1u << bit);
      int rc = qp_chain_tx_decode(QP_SUITE_ED25519, copy, len, len, &tx, NULL, 0);
      if (rc == 0) {
        rc = qp_chain_tx_verify(&tx);
        assert_true(rc == QP_EBADSIG || rc == QP_EINVAL);
      } else {
        assert_int_equal(rc, QP_EPARSE);
      }
    }
  }
  for (size_t n = 0; n < len; n++)
    assert_int_equal(qp_chain_tx_decode(QP_SUITE_ED25519, bytes, n, len, &tx, NULL, 0),
                     QP_EPARSE);
  memcpy(copy, bytes, len);
  copy[len] = 0;
  char detail[128] = "";
  assert_int_equal(qp_chain_tx_decode(QP_SUITE_ED25519, copy, len + 1, len + 1, &tx, detail,
                                      sizeof detail), QP_EPARSE);
  assert_non_null(strstr(detail, "trailing"));
  assert_int_equal(qp_chain_tx_decode(QP_SUITE_ED25519, bytes, len, len - 1, &tx, NULL, 0),
                   QP_ELIMIT);
  free(copy);
  qp_free(bytes);
  qp_sign_key_free(key);
}

/* Re-signs bytes[0, body_len) in place (the signature follows the body). */
static void resign(const qp_sign_key_t *key, uint8_t *bytes, size_t body_len) {
  qp_chain_tx_t tx = {.suite = qp_sign_key_suite(key), .bytes = bytes,
                      .body_len = (uint32_t)body_len, .bytes_len = (uint32_t)body_len + 65};
  uint8_t msg[QP_CHAIN_TX_SIGNED_LEN];
  qp_chain_tx_signed_message(&tx, msg);
  size_t sig_len = 0;
  assert_int_equal(qp_sign(key, msg, sizeof msg, bytes + body_len + 1, &sig_len), 0);
  bytes[body_len] = (uint8_t)sig_len;
}

static void expect_field(const uint8_t *bytes, size_t len, const char *needle) {
  qp_chain_tx_t tx;
  char detail[256] = "";
  assert_int_equal(qp_chain_tx_decode(QP_SUITE_ED25519, bytes, len, 65536, &tx, detail,
                                      sizeof detail), QP_EPARSE);
  if (strstr(detail, needle) == NULL) fail_msg("detail \"%s\" lacks \"%s\"", detail, needle);
}

/* Properly signed transactions whose fields break the rules. */
static void test_field_bounds(void **state) {
  (void)state;
  qp_sign_key_t *key = test_key(QP_SUITE_ED25519, 3);
  size_t len = 0;
  /* layout: 0 version, 1 chain, 33 sender_len, 34 sender, 66 nonce, 74 app_len ("kv"),
   * 77 method_len ("put"), 81 args_len, 85 args ("[1]" after editing) */
  uint8_t *b = test_tx(key, CHAIN, 5, "kv", "put", "{ }", &len);
  assert_int_equal(b[74], 2);
  assert_int_equal(b[77], 3);
  memcpy(b + 85, "[1]", 3);
  resign(key, b, len - 65);
  expect_field(b, len, "args: must be a JSON object");
  memcpy(b + 85, "{ }", 3);
  b[78] = 'P'; /* "Put" */
  resign(key, b, len - 65);
  expect_field(b, len, "method");
  b[78] = 'p';
  memset(b + 66, 0, 8); /* nonce 0 */
  resign(key, b, len - 65);
  expect_field(b, len, "nonce");
  b[66] = 5;
  b[0] = 2;
  expect_field(b, len, "version");
  b[0] = 1;
  b[33] = 31;
  expect_field(b, len, "sender");
  b[33] = 32;
  b[81] = 4; /* args one byte longer than there is before the signature */
  expect_field(b, len, "");
  b[81] = 3;
  b[len - 65] = 63;
  expect_field(b, len, "signature");
  b[len - 65] = 64;
  resign(key, b, len - 65);
  qp_chain_tx_t tx;
  assert_int_equal(qp_chain_tx_decode(QP_SUITE_ED25519, b, len, len, &tx, NULL, 0), 0);
  assert_int_equal(qp_chain_tx_verify(&tx), 0);
  qp_free(b);
  qp_sign_key_free(key);
}

static void test_make_refuses(void **state) {
  (void)state;
  qp_sign_key_t *key = test_key(QP_SUITE_ED25519, 3);
  uint8_t *out = NULL;
  size_t len = 0;
  char detail[256] = "";
  qp_chain_tx_spec_t spec = {CHAIN, 1, "kv", "put", "[]", 2};
  assert_int_equal(qp_chain_tx_make(key, &spec, 65536, &out, &len, detail, sizeof detail),
                   QP_EINVAL);
  assert_non_null(strstr(detail, "args"));
  spec.args = "{}";
  spec.nonce = 0;
  assert_int_equal(qp_chain_tx_make(key, &spec, 65536, &out, &len, detail, sizeof detail),
                   QP_EINVAL);
  spec.nonce = 1;
  spec.app = "a_very_long_app_name";
  assert_int_equal(qp_chain_tx_make(key, &spec, 65536, &out, &len, detail, sizeof detail),
                   QP_EINVAL);
  spec.app = "kv";
  assert_int_equal(qp_chain_tx_make(key, &spec, 100, &out, &len, detail, sizeof detail),
                   QP_ELIMIT);
  assert_null(out);
  assert_int_equal(qp_chain_tx_make(key, &spec, 65536, &out, &len, detail, sizeof detail), 0);
  qp_free(out);
  qp_sign_key_free(key);
}

static void test_body(void **state) {
  (void)state;
  qp_sign_key_t *key = test_key(QP_SUITE_ED25519, 3);
  qp_buf_t body = {.max = 1 << 20};
  assert_int_equal(qp_chain_txs_begin(&body), 0);
  uint8_t leaves[3 * QP_HASH_SIZE];
  for (uint64_t n = 1; n <= 3; n++) {
    size_t len = 0;
    uint8_t *b = test_tx(key, CHAIN, n, "kv", "put", "{\"key\":\"k\",\"value\":\"v\"}", &len);
    assert_int_equal(qp_chain_txs_add(&body, b, len), 0);
    qp_suite_hash(QP_SUITE_ED25519, leaves + (n - 1) * QP_HASH_SIZE, b, len);
    qp_free(b);
  }
  qp_chain_tx_t txs[3];
  size_t count = 0;
  char detail[256] = "";
  const uint8_t *p = (const uint8_t *)body.data;
  assert_int_equal(qp_chain_txs_decode(QP_SUITE_ED25519, CHAIN, p, body.len, body.len, 65536,
                                       txs, 3, &count, detail, sizeof detail), 0);
  assert_int_equal(count, 3);
  assert_int_equal(txs[2].nonce, 3);
  uint8_t root[QP_HASH_SIZE], want[QP_HASH_SIZE];
  assert_int_equal(qp_chain_txs_root(QP_SUITE_ED25519, txs, 3, root), 0);
  assert_int_equal(qp_merkle_root(QP_SUITE_ED25519, leaves, 3, want), 0);
  assert_memory_equal(root, want, QP_HASH_SIZE);
  assert_int_equal(qp_chain_txs_decode(QP_SUITE_ED25519, CHAIN, p, body.len, body.len, 65536,
                                       txs, 2, &count, detail, sizeof detail), QP_ELIMIT);
  assert_int_equal(qp_chain_txs_decode(QP_SUITE_ED25519, CHAIN, p, body.len - 1, body.len,
                                       65536, txs, 3, &count, detail, sizeof detail), QP_EPARSE);
  uint8_t other[QP_HASH_SIZE] = {8};
  assert_int_equal(qp_chain_txs_decode(QP_SUITE_ED25519, other, p, body.len, body.len, 65536,
                                       txs, 3, &count, detail, sizeof detail), QP_EPARSE);
  assert_non_null(strstr(detail, "txs[0]: chain"));
  assert_true(qp_buf_append(&body, "x", 1));
  assert_int_equal(qp_chain_txs_decode(QP_SUITE_ED25519, CHAIN, p = (const uint8_t *)body.data,
                                       body.len, body.len, 65536, txs, 3, &count, detail,
                                       sizeof detail), QP_EPARSE);
  assert_non_null(strstr(detail, "trailing"));
  assert_int_equal(count, 0);
  qp_buf_free(&body);
  qp_sign_key_free(key);
}

/* A known-hash callback: says yes for `yes` and counts its calls. */
typedef struct known {
  uint8_t yes[QP_HASH_SIZE];
  int calls;
} known_t;

static bool known_fn(void *ctx, const uint8_t hash[QP_HASH_SIZE]) {
  known_t *k = ctx;
  k->calls++;
  return memcmp(hash, k->yes, QP_HASH_SIZE) == 0;
}

/* qp_chain_tx_decode_known: the same transaction as qp_chain_tx_decode,
 * args parsed unless the hash is known (tampered args show which). */
static void test_decode_known(void **state) {
  (void)state;
  qp_sign_key_t *key = test_key(QP_SUITE_ED25519, 5);
  size_t len = 0;
  const char *args = "{\"key\":\"a\",\"value\":\"b\"}";
  uint8_t *bytes = test_tx(key, CHAIN, 7, "kv", "put", args, &len);
  qp_chain_tx_t plain, tx;
  char detail[256] = "";
  known_t k = {.calls = 0};
  assert_int_equal(qp_chain_tx_decode(QP_SUITE_ED25519, bytes, len, len, &plain, detail,
                                      sizeof detail), 0);
  assert_int_equal(qp_chain_tx_decode_known(QP_SUITE_ED25519, bytes, len, len, known_fn, &k, &tx,
                                            detail, sizeof detail), 0);
  assert_int_equal(k.calls, 1);
  assert_memory_equal(tx.hash, plain.hash, QP_HASH_SIZE);
  assert_int_equal(tx.nonce, plain.nonce);
  assert_int_equal(tx.bytes_len, plain.bytes_len);
  assert_int_equal(tx.args_len, plain.args_len);
  assert_ptr_equal(tx.args, plain.args);
  /* args made an array: refused, unless its hash is known. */
  uint8_t *at = memmem(bytes, len, args, strlen(args));
  assert_non_null(at);
  at[0] = '[';
  assert_int_equal(qp_chain_tx_decode(QP_SUITE_ED25519, bytes, len, len, &tx, detail,
                                      sizeof detail), QP_EPARSE);
  assert_non_null(strstr(detail, "args"));
  assert_int_equal(qp_chain_tx_decode_known(QP_SUITE_ED25519, bytes, len, len, known_fn, &k, &tx,
                                            detail, sizeof detail), QP_EPARSE);
  assert_int_equal(qp_suite_hash(QP_SUITE_ED25519, k.yes, bytes, len), 0);
  assert_int_equal(qp_chain_tx_decode_known(QP_SUITE_ED25519, bytes, len, len, known_fn, &k, &tx,
                                            detail, sizeof detail), 0);
  assert_memory_equal(tx.hash, k.yes, QP_HASH_SIZE);
  /* In a body, the same. */
  qp_buf_t body = {.max = 1 << 20};
  assert_int_equal(qp_chain_txs_begin(&body), 0);
  assert_int_equal(qp_chain_txs_add(&body, bytes, len), 0);
  size_t count = 0;
  const uint8_t *p = (const uint8_t *)body.data;
  assert_int_equal(qp_chain_txs_decode(QP_SUITE_ED25519, CHAIN, p, body.len, body.len, 65536,
                                       &tx, 1, &count, detail, sizeof detail), QP_EPARSE);
  assert_int_equal(qp_chain_txs_decode_known(QP_SUITE_ED25519, CHAIN, p, body.len, body.len,
                                             65536, known_fn, &k, &tx, 1, &count, detail,
                                             sizeof detail), 0);
  assert_int_equal(count, 1);
  qp_buf_free(&body);
  qp_free(bytes);
  qp_sign_key_free(key);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_every_tamper),
      cmocka_unit_test(test_field_bounds), cmocka_unit_test(test_make_refuses),
      cmocka_unit_test(test_body),         cmocka_unit_test(test_decode_known),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
