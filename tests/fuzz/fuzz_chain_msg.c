/*
 * fuzz_chain_msg.c - libFuzzer target for what peers send the consensus
 * core (src/chain/consensus_msg.c): every message type, a bare block and a
 * safety record, through their strict decoders, and then through a live
 * core of a fixed 4-validator genesis.  Input: [selector] then bytes.
 * Properties: no crash and no sanitizer report whatever the bytes; every
 * decoder answers 0 or a refusal code; whatever decodes re-encodes to
 * exactly the input (the encoding is canonical); a core fed the message
 * answers 0 or a refusal code and never emits a signed message of its own
 * before a PERSIST.
 */
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "chain/consensus.h"

static qp_chain_genesis_t genesis;
static qp_sign_key_t *keys[4];
static qp_hs_t *core;

static void setup(void) {
  QP_ASSERT(qp_crypto_init() == 0);
  genesis.suite = QP_SUITE_ED25519;
  genesis.validators_count = 4;
  genesis.params = (qp_chain_params_t){.block_txs_max = 16, .block_bytes_max = 512,
                                       .tx_bytes_max = 64, .view_timeout_ms = 100};
  for (uint32_t i = 0; i < 4; i++) {
    uint8_t secret[QP_SIGN_SECRET_SIZE];
    memset(secret, (int)(i + 1), sizeof secret);
    QP_ASSERT(qp_sign_key_from_secret(QP_SUITE_ED25519, secret, 32, &keys[i]) == 0);
    size_t len = 0;
    qp_sign_public(keys[i], genesis.validators[i].public_key, &len);
    genesis.validators[i].public_key_len = (uint32_t)len;
  }
  qp_hash256(genesis.hash, "fuzz", 4);
}

static bool refusal(int rc) {
  return rc == QP_EPARSE || rc == QP_EINVAL || rc == QP_EBADSIG || rc == QP_ELIMIT ||
         rc == QP_ECORRUPT;
}

/* A message that decodes must re-encode to the same bytes. */
static void check_canonical(const qp_hs_msg_t *m, const uint8_t *data, size_t size) {
  uint8_t *out = NULL;
  size_t len = 0;
  int rc = QP_EINVAL;
  const qp_hs_tc_t *tc = m->has_tc ? &m->tc : NULL;
  const qp_hs_block_t *list[QP_HS_FETCH_BLOCKS_MAX];
  for (uint32_t i = 0; i < m->blocks_count; i++) list[i] = &m->blocks[i];
  switch (m->type) {
  case QP_HS_MSG_PROPOSAL: rc = qp_hs_encode_proposal(&genesis, &m->blocks[0], tc, &out, &len);
    break;
  case QP_HS_MSG_VOTE: rc = qp_hs_encode_vote(&genesis, &m->vote, &out, &len); break;
  case QP_HS_MSG_TIMEOUT: rc = qp_hs_encode_timeout(&genesis, &m->timeout, &out, &len); break;
  case QP_HS_MSG_SYNC: rc = qp_hs_encode_sync(&genesis, &m->qc, tc, &out, &len); break;
  case QP_HS_MSG_BLOCK_REQUEST:
    rc = qp_hs_encode_block_request(m->request_hash, m->request_count, &out, &len);
    break;
  case QP_HS_MSG_BLOCK_RESPONSE:
    rc = qp_hs_encode_block_response(&genesis, list, m->blocks_count, &out, &len);
    break;
  }
  QP_ASSERT(rc == 0 && len == size && memcmp(out, data, size) == 0);
  qp_free(out);
}

static void feed_core(uint32_t from, const uint8_t *data, size_t size) {
  if (core == NULL) {
    qp_hs_config_t cfg = {.genesis = &genesis, .self = 0, .key = keys[0]};
    QP_ASSERT(qp_hs_create(&cfg, 1000, &core) == 0);
  }
  int rc = qp_hs_on_message(core, from, data, size, 2000);
  QP_ASSERT(rc == 0 || refusal(rc));
  const qp_hs_action_t *acts;
  size_t n = qp_hs_actions(core, &acts);
  bool persisted = false;
  for (size_t k = 0; k < n; k++) {
    if (acts[k].kind == QP_HS_ACT_PERSIST) persisted = true;
    if (acts[k].kind == QP_HS_ACT_SEND && acts[k].len > 1 && acts[k].bytes[1] == QP_HS_MSG_VOTE)
      QP_ASSERT(persisted);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static qp_hs_msg_t m;
  if (genesis.validators_count == 0) setup();
  if (size < 1) return 0;
  uint8_t selector = data[0];
  data++;
  size--;
  if (selector % 3 == 0) {
    int rc = qp_hs_msg_decode(&genesis, data, size, &m);
    QP_ASSERT(rc == 0 || refusal(rc));
    if (rc == 0) check_canonical(&m, data, size);
    feed_core(selector / 3 % 4, data, size);
  } else if (selector % 3 == 1) {
    qp_hs_block_t b;
    int rc = qp_hs_decode_block(&genesis, data, size, &b);
    QP_ASSERT(rc == 0 || refusal(rc));
  } else {
    qp_hs_safety_t s;
    int rc = qp_hs_safety_decode(&genesis, data, size, &s);
    QP_ASSERT(rc == 0 || refusal(rc));
    if (rc == 0) {
      uint8_t out[QP_HS_SAFETY_BYTES_MAX];
      QP_ASSERT(qp_hs_safety_encode(&s, out) == size && memcmp(out, data, size) == 0);
    }
  }
  return 0;
}
