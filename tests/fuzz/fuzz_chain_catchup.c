/*
 * fuzz_chain_catchup.c - libFuzzer target for the catch-up messages peers
 * send a node behind an epoch change (src/chain/catchup.c): the strict
 * decoder under a fixed 4-validator genesis, then the check of a decoded
 * run against the genesis head.  Properties: no crash and no sanitizer
 * report whatever the bytes; the decoder answers 0 or a refusal code; a run
 * that decodes re-encodes to exactly the input (the encoding is
 * canonical), and its check answers 0 or QP_EBADPROOF with a detail.
 */
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "chain/catchup.h"

static qp_chain_genesis_t genesis;

/* The genesis of tests/unit/chain/test_catchup.c (the seeds come from it). */
static void setup(void) {
  QP_ASSERT(qp_crypto_init() == 0);
  genesis.suite = QP_SUITE_ED25519;
  genesis.validators_count = 4;
  genesis.params = (qp_chain_params_t){.block_txs_max = 64, .block_bytes_max = 4096,
                                       .tx_bytes_max = 1024, .view_timeout_ms = 100};
  for (uint32_t i = 0; i < 4; i++) {
    uint8_t secret[QP_SIGN_SECRET_SIZE];
    qp_sign_key_t *key = NULL;
    memset(secret, (int)(i + 1), sizeof secret);
    QP_ASSERT(qp_sign_key_from_secret(QP_SUITE_ED25519, secret, 32, &key) == 0);
    size_t len = 0;
    qp_sign_public(key, genesis.validators[i].public_key, &len);
    genesis.validators[i].public_key_len = (uint32_t)len;
    qp_sign_key_free(key);
  }
  qp_hash256(genesis.hash, "test-genesis", 12);
}

static void check_canonical(const qp_chain_catchup_msg_t *m, const uint8_t *data, size_t size) {
  uint8_t *encs[QP_CHAIN_CATCHUP_BLOCKS_MAX] = {0}, *cert = NULL, *out = NULL;
  size_t lens[QP_CHAIN_CATCHUP_BLOCKS_MAX] = {0}, cert_len = 0, len = 0;
  for (uint32_t i = 0; i < m->count; i++)
    QP_ASSERT(qp_hs_encode_block(&genesis, &m->blocks[i], &encs[i], &lens[i]) == 0);
  QP_ASSERT(qp_hs_encode_cert(&genesis, &m->cert, &cert, &cert_len) == 0);
  QP_ASSERT(qp_chain_catchup_response(m->epoch, m->head, (const uint8_t *const *)encs, lens,
                                      m->count, cert, cert_len, 0, &out, &len) == 0);
  QP_ASSERT(len == size && memcmp(out, data, size) == 0);
  for (uint32_t i = 0; i < m->count; i++) qp_free(encs[i]);
  qp_free(cert);
  qp_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  static qp_chain_catchup_msg_t m;
  if (!ready) {
    setup();
    ready = 1;
  }
  int rc = qp_chain_catchup_decode(&genesis, data, size, &m);
  QP_ASSERT(rc == 0 || rc == QP_EPARSE || rc == QP_EINVAL || rc == QP_ENOMEM);
  if (rc != 0 || m.type != QP_CHAIN_CATCHUP_RESPONSE) return 0;
  check_canonical(&m, data, size);
  qp_hs_block_t gb;
  qp_hs_genesis_block(&genesis, &gb);
  char detail[256] = "";
  rc = qp_chain_catchup_check(&genesis, 0, gb.hash, &m, detail, sizeof detail);
  QP_ASSERT(rc == 0 || rc == QP_ENOMEM || (rc == QP_EBADPROOF && detail[0] != '\0'));
  return 0;
}
