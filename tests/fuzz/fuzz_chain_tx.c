/*
 * fuzz_chain_tx.c - libFuzzer target for the chain's transaction decoder
 * and block-body decoder (src/chain/tx.c, txs.c), which take bytes from any
 * client and any peer.  Properties: no crash, no leak, no read past the
 * input; a refusal is QP_EPARSE or QP_ELIMIT with a detail; an accepted
 * transaction keeps every bound of tx.h, its hash is the suite hash of the
 * input, and decoding it again gives the same fields; the sender's suite
 * read alone (qp_chain_tx_sender_suite) agrees.  The same input is
 * also walked as a forwarded-transactions frame (src/chain/forward.h): every
 * element lies inside the input, and each is decoded as above.  The gas an
 * accepted transaction states (qp_chain_tx_gas, what admission and the
 * per-block budget read from its args) is 0 unless it is a lua call.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "chain/app.h"
#include "chain/forward.h"
#include "chain/tx.h"

#define FUZZ_TX_BYTES_MAX 65536u
#define FUZZ_TXS_MAX 64u

static void check_tx(const qp_chain_tx_t *tx, const uint8_t *data, size_t size) {
  QP_ASSERT(tx->bytes == data && tx->bytes_len == size && tx->body_len < size);
  QP_ASSERT(tx->nonce >= 1 && tx->sig_len == 64);
  size_t app = strlen(tx->app), method = strlen(tx->method);
  QP_ASSERT(app >= 1 && app <= QP_CHAIN_APP_NAME_MAX);
  QP_ASSERT(method >= 1 && method <= QP_CHAIN_METHOD_MAX);
  QP_ASSERT(tx->args >= (const char *)data && tx->args + tx->args_len <= (const char *)data + size);
  uint8_t hash[QP_HASH_SIZE];
  QP_ASSERT(qp_suite_hash(tx->suite, hash, data, size) == 0);
  QP_ASSERT(memcmp(hash, tx->hash, QP_HASH_SIZE) == 0);
  qp_chain_tx_t again;
  QP_ASSERT(qp_chain_tx_decode(tx->suite, data, size, size, &again, NULL, 0) == 0);
  QP_ASSERT(memcmp(&again, tx, sizeof again) == 0);
  int rc = qp_chain_tx_verify(tx);
  QP_ASSERT(rc == 0 || rc == QP_EBADSIG || rc == QP_EINVAL);
}

static void one_suite(qp_suite_t suite, const uint8_t *data, size_t size) {
  qp_chain_tx_t tx;
  char detail[256] = "";
  int rc = qp_chain_tx_decode(suite, data, size, FUZZ_TX_BYTES_MAX, &tx, detail, sizeof detail);
  /* The suite the sender field claims: none, or one of the two; the
   * decoder's own suite whenever it accepts. */
  qp_suite_t made = qp_chain_tx_sender_suite(data, size);
  QP_ASSERT(made == 0 || made == QP_SUITE_ED25519 || made == QP_SUITE_SM2);
  QP_ASSERT(rc != 0 || made == suite);
  if (rc == 0) {
    check_tx(&tx, data, size);
    uint64_t gas = qp_chain_tx_gas(&tx);
    QP_ASSERT(gas == 0 || (strcmp(tx.app, "lua") == 0 && strcmp(tx.method, "call") == 0));
    QP_ASSERT(gas <= INT64_MAX);
    return;
  }
  QP_ASSERT(rc == QP_EPARSE || rc == QP_ELIMIT || rc == QP_ENOMEM);
  QP_ASSERT(rc == QP_ENOMEM || detail[0] != '\0');
}

static void forwarded_frame(const uint8_t *data, size_t size) {
  qp_chain_fwd_reader_t r;
  if (!qp_chain_fwd_open(&r, data, size)) return;
  const uint8_t *tx = NULL;
  size_t len = 0;
  while (qp_chain_fwd_next(&r, &tx, &len)) {
    QP_ASSERT(len > 0 && tx > data && tx + len <= data + size);
    one_suite(QP_SUITE_ED25519, tx, len);
    one_suite(QP_SUITE_SM2, tx, len);
  }
  QP_ASSERT(!qp_chain_fwd_done(&r) || r.at == size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  forwarded_frame(data, size);
  /* Every input under both suites: a transaction of one is refused by the
   * other at its sender field (wrong_suite), never accepted. */
  one_suite(QP_SUITE_ED25519, data, size);
  one_suite(QP_SUITE_SM2, data, size);
  /* The same bytes as a block body, bound to the chain the first tx names. */
  static qp_chain_tx_t txs[FUZZ_TXS_MAX];
  uint8_t chain[QP_HASH_SIZE] = {0};
  if (size >= 4 + 4 + 1 + QP_HASH_SIZE) memcpy(chain, data + 9, QP_HASH_SIZE);
  size_t count = 0;
  char detail[256] = "";
  int rc = qp_chain_txs_decode(QP_SUITE_ED25519, chain, data, size, 1u << 20, FUZZ_TX_BYTES_MAX,
                               txs, FUZZ_TXS_MAX, &count, detail, sizeof detail);
  QP_ASSERT(rc == 0 || rc == QP_EPARSE || rc == QP_ELIMIT || rc == QP_ENOMEM);
  QP_ASSERT(rc == 0 || count == 0);
  for (size_t i = 0; i < count; i++) QP_ASSERT(memcmp(txs[i].chain, chain, QP_HASH_SIZE) == 0);
  return 0;
}
