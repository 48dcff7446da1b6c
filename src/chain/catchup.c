/*
 * catchup.c - the catch-up messages and the check of a run of committed
 * blocks (catchup.h).  Pure: no node, no store, no clock; the node's side
 * (asking, serving, committing) is in catchup_node.c.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/err.h"
#include "chain/catchup.h"

#define RESPONSE_FIXED 14u /* type, epoch, head, count */

void qp_chain_catchup_request(uint32_t epoch, uint64_t from, bool to_head,
                              uint8_t out[QP_CHAIN_CATCHUP_REQUEST_BYTES]) {
  out[0] = QP_CHAIN_CATCHUP_REQUEST;
  qp_store_u32(out + 1, epoch);
  qp_store_u64(out + 5, from);
  out[13] = to_head ? 1 : 0;
}

int qp_chain_catchup_response(uint32_t epoch, uint64_t head, const uint8_t *const *blocks,
                              const size_t *lens, uint32_t count, const uint8_t *cert,
                              size_t cert_len, size_t prefix, uint8_t **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (count == 0 || count > QP_CHAIN_CATCHUP_BLOCKS_MAX || cert_len > UINT32_MAX)
    return QP_EINVAL;
  size_t total = prefix + RESPONSE_FIXED + 4u + cert_len;
  for (uint32_t i = 0; i < count; i++) {
    if (lens[i] > UINT32_MAX) return QP_EINVAL;
    total += 4u + lens[i];
  }
  uint8_t *b = qp_malloc(total);
  if (b == NULL) return QP_ENOMEM;
  size_t at = prefix;
  b[at] = QP_CHAIN_CATCHUP_RESPONSE;
  qp_store_u32(b + at + 1, epoch);
  qp_store_u64(b + at + 5, head);
  b[at + 13] = (uint8_t)count;
  at += RESPONSE_FIXED;
  for (uint32_t i = 0; i < count; i++) {
    qp_store_u32(b + at, (uint32_t)lens[i]);
    memcpy(b + at + 4, blocks[i], lens[i]);
    at += 4u + lens[i];
  }
  qp_store_u32(b + at, (uint32_t)cert_len);
  memcpy(b + at + 4, cert, cert_len);
  *out = b;
  *out_len = total;
  return 0;
}

/* One u32-length-prefixed part at *at: its bytes and length. */
static bool part(const uint8_t *b, size_t len, size_t *at, const uint8_t **p, size_t *n) {
  if (len - *at < 4) return false;
  *n = qp_load_u32(b + *at);
  *at += 4;
  if (*n > len - *at) return false;
  *p = b + *at;
  *at += *n;
  return true;
}

static int decode_response(const qp_chain_genesis_t *g, const uint8_t *b, size_t len,
                           qp_chain_catchup_msg_t *m) {
  if (len < RESPONSE_FIXED) return QP_EPARSE;
  m->epoch = qp_load_u32(b + 1);
  m->head = qp_load_u64(b + 5);
  m->count = b[13];
  if (m->count == 0 || m->count > QP_CHAIN_CATCHUP_BLOCKS_MAX) return QP_EPARSE;
  size_t at = RESPONSE_FIXED, n = 0;
  const uint8_t *p = NULL;
  for (uint32_t i = 0; i < m->count; i++) {
    if (!part(b, len, &at, &p, &n)) return QP_EPARSE;
    int rc = qp_hs_decode_block(g, p, n, &m->blocks[i]);
    if (rc != 0) return rc;
  }
  if (!part(b, len, &at, &p, &n) || at != len) return QP_EPARSE;
  return qp_hs_decode_cert(g, p, n, &m->cert);
}

int qp_chain_catchup_decode(const qp_chain_genesis_t *g, const uint8_t *bytes, size_t len,
                            qp_chain_catchup_msg_t *m) {
  memset(m, 0, sizeof *m);
  if (len < 1) return QP_EPARSE;
  if (bytes[0] == QP_CHAIN_CATCHUP_REQUEST) {
    if (len != QP_CHAIN_CATCHUP_REQUEST_BYTES) return QP_EPARSE;
    m->type = QP_CHAIN_CATCHUP_REQUEST;
    m->epoch = qp_load_u32(bytes + 1);
    m->from = qp_load_u64(bytes + 5);
    m->to_head = bytes[13] == 1;
    return m->from >= 1 && bytes[13] <= 1 ? 0 : QP_EPARSE;
  }
  if (bytes[0] != QP_CHAIN_CATCHUP_RESPONSE) return QP_EPARSE;
  m->type = QP_CHAIN_CATCHUP_RESPONSE;
  return decode_response(g, bytes, len, m);
}

static int refuse(char *detail, size_t detail_size, const char *why, uint64_t height) {
  if (detail_size > 0) snprintf(detail, detail_size, "block %llu: %s",
                                (unsigned long long)height, why);
  return QP_EBADPROOF;
}

int qp_chain_catchup_check(const qp_chain_genesis_t *g, uint64_t head_height,
                           const uint8_t head_hash[QP_HASH_SIZE],
                           const qp_chain_catchup_msg_t *m, char *detail, size_t detail_size) {
  if (m->type != QP_CHAIN_CATCHUP_RESPONSE || m->count == 0 ||
      m->count > QP_CHAIN_CATCHUP_BLOCKS_MAX)
    return refuse(detail, detail_size, "not a run of blocks", head_height + 1);
  const uint8_t *parent = head_hash;
  for (uint32_t i = 0; i < m->count; i++) {
    const qp_hs_header_t *h = &m->blocks[i].header;
    if (h->height != head_height + 1 + i)
      return refuse(detail, detail_size, "not the next height", h->height);
    if (memcmp(h->parent_hash, parent, QP_HASH_SIZE) != 0)
      return refuse(detail, detail_size, "its parent is not the block before", h->height);
    parent = m->blocks[i].hash;
  }
  const qp_hs_block_t *last = &m->blocks[m->count - 1];
  char why[200] = "";
  int rc = qp_hs_cert_check(g, &last->header, last->hash, &m->cert, why, sizeof why);
  if (rc == QP_EBADPROOF) return refuse(detail, detail_size, why, last->header.height);
  return rc;
}
