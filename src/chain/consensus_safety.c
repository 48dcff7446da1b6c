/*
 * consensus_safety.c - the safety record: the little a validator must
 * never forget, encoded for the disk.
 *
 *   version u8 | last_voted_view u64 | high QC (as on the wire) |
 *   BLAKE2b-128 checksum of everything before it
 *
 * The core emits it in a PERSIST action before every vote or timeout it
 * signs; the node writes it durably (write + fdatasync, or a rename of a
 * synced file) before performing the next action.  After a crash the node
 * hands the last record back to qp_hs_create, so the validator never signs
 * a vote in a view it already voted or timed out in, and its timeouts never
 * report a QC older than one it voted on top of.  A record that fails its
 * checksum is refused (QP_ECORRUPT): starting fresh instead would let the
 * validator vote twice, so the operator must decide.
 */
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "chain/consensus.h"
#include "chain/consensus_int.h"

size_t qp_hs_safety_encode(const qp_hs_safety_t *s, uint8_t *out) {
  QP_ASSERT(s != NULL && out != NULL);
  size_t off = 0;
  out[off++] = QP_HS_WIRE_VERSION;
  qp_store_u64(out + off, s->last_voted_view);
  off += 8;
  qp__hs_qc_put(out + off, &s->high_qc);
  off += qp__hs_qc_size(&s->high_qc);
  qp_checksum128(out + off, out, off);
  off += QP_CHECKSUM_SIZE;
  QP_ASSERT(off <= QP_HS_SAFETY_BYTES_MAX);
  return off;
}

int qp_hs_safety_decode(const qp_chain_genesis_t *g, const uint8_t *bytes, size_t len,
                        qp_hs_safety_t *out) {
  QP_ASSERT(g != NULL && out != NULL);
  memset(out, 0, sizeof *out);
  if (bytes == NULL || len < 1u + 8u + QP_CHECKSUM_SIZE || len > QP_HS_SAFETY_BYTES_MAX)
    return QP_EPARSE;
  uint8_t sum[QP_CHECKSUM_SIZE];
  size_t body = len - QP_CHECKSUM_SIZE;
  qp_checksum128(sum, bytes, body);
  if (memcmp(sum, bytes + body, QP_CHECKSUM_SIZE) != 0) return QP_ECORRUPT;
  if (bytes[0] != QP_HS_WIRE_VERSION) return QP_EPARSE;
  out->last_voted_view = qp_load_u64(bytes + 1);
  size_t used = 0;
  int rc = qp__hs_qc_get(g, bytes + 9, body - 9, &out->high_qc, &used);
  if (rc != 0 || 9 + used != body) return QP_EPARSE;
  return 0;
}
