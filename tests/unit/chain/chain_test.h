/*
 * chain_test.h - helpers for the chain module's unit tests: deterministic
 * keys, a genesis of four validators, and signed kv transactions.
 */
#ifndef QP_TEST_CHAIN_TEST_H
#define QP_TEST_CHAIN_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "chain/genesis.h"
#include "chain/tx.h"
#include "test_util.h"

/* A key whose secret is 32 bytes of `seed` (ed25519 or sm2). */
static inline qp_sign_key_t *test_key(qp_suite_t suite, uint8_t seed) {
  uint8_t secret[QP_SIGN_SECRET_SIZE];
  memset(secret, seed, sizeof secret);
  secret[0] = 0x01; /* keeps an SM2 scalar below n */
  qp_sign_key_t *key = NULL;
  assert_int_equal(qp_sign_key_from_secret(suite, secret, sizeof secret, &key), 0);
  return key;
}

/* A genesis "test" of four validators with keys of seeds 1..4. */
static inline void test_genesis(qp_suite_t suite, qp_chain_genesis_t *g) {
  memset(g, 0, sizeof *g);
  snprintf(g->chain_id, sizeof g->chain_id, "test");
  g->suite = suite;
  qp_chain_params_default(&g->params);
  g->validators_count = 4;
  for (uint32_t i = 0; i < 4; i++) {
    qp_sign_key_t *k = test_key(suite, (uint8_t)(i + 1));
    size_t len = 0;
    qp_sign_public(k, g->validators[i].public_key, &len);
    g->validators[i].public_key_len = (uint32_t)len;
    snprintf(g->validators[i].name, sizeof g->validators[i].name, "node%u", i);
    qp_sign_key_free(k);
  }
  char *text = NULL;
  assert_int_equal(qp_chain_genesis_format(g, &text), 0);
  char detail[256] = "";
  int rc = qp_chain_genesis_parse(text, strlen(text), g, detail, sizeof detail);
  if (rc != 0) fail_msg("genesis: %s", detail);
  qp_free(text);
}

/* A signed transaction (qp_malloc'ed, the caller's) from key. */
static inline uint8_t *test_tx(const qp_sign_key_t *key, const uint8_t *chain, uint64_t nonce,
                               const char *app, const char *method, const char *args,
                               size_t *len) {
  qp_chain_tx_spec_t spec = {chain, nonce, app, method, args, strlen(args)};
  uint8_t *out = NULL;
  char detail[256] = "";
  int rc = qp_chain_tx_make(key, &spec, QP_CHAIN_TX_BYTES_MAX, &out, len, detail, sizeof detail);
  if (rc != 0) fail_msg("tx_make: %s", detail);
  return out;
}

#endif
