/*
 * fuzz_chain_proof.c - libFuzzer target for the offline proof checker
 * (src/chain/proof_verify.c), which `quipu chain verify-proof` runs on files
 * from anyone.  The input is the proof's JSON text; the genesis is fixed (the
 * network the seeds in corpus/chain_proof were taken from).  Properties: no
 * crash, no leak, no read past the input; every outcome is 0 with a summary,
 * or QP_EPARSE / QP_EBADPROOF with a detail naming what was wrong.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "chain/genesis.h"
#include "chain/proof.h"
#include "crypto/crypto.h"

static const char GENESIS[] =
    "{\"chain_id\":\"fuzz\",\"suite\":\"ed25519\",\"validators\":[{\"name\""
    ":\"node0\",\"public_key\":\"ba1f66b8a7fa66d7a012069b6e2fe672037dcaa0fe"
    "d0d2f89216a0048038fd61\"},{\"name\":\"node1\",\"public_key\":\"4bc56c4"
    "d7396d3756d85a8e821a0c5de72237f781feb05d673953e4dd29e1d1c\"},{\"name\""
    ":\"node2\",\"public_key\":\"30bf024a130ac7d3a9c23e16ac1e3edede45b98146"
    "4252dd032a87179f6290db\"},{\"name\":\"node3\",\"public_key\":\"adb0112"
    "e93711a62e8556bc50b25a725f1eba24331c5d5b2888aab37f7d3ecff\"}],\"params"
    "\":{\"block_txs_max\":4096,\"block_bytes_max\":4194304,\"tx_bytes_max"
    "\":65536,\"view_timeout_ms\":1000}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static qp_chain_genesis_t g;
  static int ready;
  if (!ready) {
    QP_ASSERT(qp_crypto_init() == 0);
    QP_ASSERT(qp_chain_genesis_parse(GENESIS, strlen(GENESIS), &g, NULL, 0) == 0);
    ready = 1;
  }
  char summary[1024], detail[512];
  int rc = qp_chain_proof_verify(&g, (const char *)data, size, summary, sizeof summary, detail,
                                 sizeof detail);
  if (rc == 0) QP_ASSERT(summary[0] != '\0');
  else QP_ASSERT(rc == QP_ENOMEM || ((rc == QP_EPARSE || rc == QP_EBADPROOF) && detail[0]));
  return 0;
}
