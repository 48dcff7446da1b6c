/*
 * vouch.c - the vouching frames and who checks a frame (vouch.h).
 */
#include <string.h>

#include "base/err.h"
#include "chain/forward.h"
#include "chain/vouch.h"

#define DOMAIN "quipu/chain/vouch/v1" /* 20 bytes */

int qp_chain_vouch_digest(qp_suite_t suite, const uint8_t *frame, size_t len,
                          uint8_t digest[QP_HASH_SIZE]) {
  return qp_suite_hash(suite, digest, frame, len);
}

void qp_chain_vouch_message(const uint8_t chain[QP_HASH_SIZE], const uint8_t digest[QP_HASH_SIZE],
                            uint8_t out[QP_CHAIN_VOUCH_MESSAGE_BYTES]) {
  _Static_assert(sizeof DOMAIN - 1 == 20, "the domain is 20 bytes");
  memcpy(out, DOMAIN, 20);
  memcpy(out + 20, chain, QP_HASH_SIZE);
  memcpy(out + 20 + QP_HASH_SIZE, digest, QP_HASH_SIZE);
}

int qp_chain_vouch_sign(const qp_sign_key_t *key, const uint8_t chain[QP_HASH_SIZE],
                        const uint8_t digest[QP_HASH_SIZE], uint8_t sig[QP_CHAIN_VOUCH_SIG_SIZE]) {
  uint8_t msg[QP_CHAIN_VOUCH_MESSAGE_BYTES], out[QP_SIGN_SIG_MAX];
  size_t len = 0;
  qp_chain_vouch_message(chain, digest, msg);
  int rc = qp_sign(key, msg, sizeof msg, out, &len);
  if (rc == 0 && len != QP_CHAIN_VOUCH_SIG_SIZE) rc = QP_EIO;
  if (rc == 0) memcpy(sig, out, QP_CHAIN_VOUCH_SIG_SIZE);
  return rc;
}

bool qp_chain_vouch_check(qp_suite_t suite, const uint8_t *pub, size_t pub_len,
                          const uint8_t chain[QP_HASH_SIZE], const uint8_t digest[QP_HASH_SIZE],
                          const uint8_t *sig) {
  uint8_t msg[QP_CHAIN_VOUCH_MESSAGE_BYTES];
  qp_chain_vouch_message(chain, digest, msg);
  return qp_verify_key_checked(suite, pub, pub_len, msg, sizeof msg, sig,
                               QP_CHAIN_VOUCH_SIG_SIZE) == 0;
}

void qp_chain_vouched_write(const uint8_t sig[QP_CHAIN_VOUCH_SIG_SIZE], const uint8_t *frame,
                            size_t len, uint8_t *out) {
  out[0] = QP_CHAIN_VOUCHED_CHANNEL;
  memcpy(out + 1, sig, QP_CHAIN_VOUCH_SIG_SIZE);
  memcpy(out + QP_CHAIN_VOUCHED_HEADER, frame, len);
}

bool qp_chain_vouched_read(const uint8_t *bytes, size_t len, const uint8_t **sig,
                           const uint8_t **frame, size_t *frame_len) {
  if (len < QP_CHAIN_VOUCHED_HEADER + QP_CHAIN_FWD_HEADER || bytes[0] != QP_CHAIN_VOUCHED_CHANNEL ||
      bytes[QP_CHAIN_VOUCHED_HEADER] != QP_CHAIN_FWD_CHANNEL)
    return false;
  *sig = bytes + 1;
  *frame = bytes + QP_CHAIN_VOUCHED_HEADER;
  *frame_len = len - QP_CHAIN_VOUCHED_HEADER;
  return true;
}

void qp_chain_vouch_write(const uint8_t digest[QP_HASH_SIZE],
                          const uint8_t sig[QP_CHAIN_VOUCH_SIG_SIZE],
                          uint8_t out[QP_CHAIN_VOUCH_BYTES]) {
  out[0] = QP_CHAIN_VOUCH_CHANNEL;
  memcpy(out + 1, digest, QP_HASH_SIZE);
  memcpy(out + 1 + QP_HASH_SIZE, sig, QP_CHAIN_VOUCH_SIG_SIZE);
}

bool qp_chain_vouch_read(const uint8_t *bytes, size_t len, const uint8_t **digest,
                         const uint8_t **sig) {
  if (len != QP_CHAIN_VOUCH_BYTES || bytes[0] != QP_CHAIN_VOUCH_CHANNEL) return false;
  *digest = bytes + 1;
  *sig = bytes + 1 + QP_HASH_SIZE;
  return true;
}

uint32_t qp_chain_vouch_quorum(uint32_t count) { return count == 0 ? 1 : (count - 1) / 3 + 1; }

bool qp_chain_vouch_is_checker(uint32_t count, uint32_t origin, uint32_t member) {
  if (count == 0 || origin >= count || member >= count || member == origin) return false;
  uint32_t after = (member + count - origin) % count; /* 1 .. count - 1 */
  return after <= (count - 1) / 3;
}
