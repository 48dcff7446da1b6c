/*
 * frame.c - the streaming decoder of peer frames and the header encoder.
 *
 * Frames arrive in socket-sized pieces.  When a whole frame sits inside
 * the piece being fed (the usual case: many small votes per read), the
 * frame handed back points straight into the caller's bytes and nothing
 * is copied.  Only a frame split across pieces is gathered in the
 * decoder's buffer, sized to that frame's announced length, which was
 * checked against the type's maximum before a byte of payload was
 * accepted.  Everything a peer can send ends in a frame or a reason;
 * nothing here asserts on input.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "net/frame.h"

uint32_t qp__net_frame_bytes_max(uint8_t type, uint32_t msg_bytes_max) {
  switch (type) {
  case QP__NET_FRAME_HELLO: return QP__NET_HELLO_BYTES_MAX;
  case QP__NET_FRAME_AUTH: return QP__NET_AUTH_BYTES_MAX;
  case QP__NET_FRAME_MSG: return msg_bytes_max;
  default: return 0;
  }
}

void qp__net_frame_header(uint8_t out[QP_NET_FRAME_HEADER_SIZE], uint8_t type, uint32_t len) {
  QP_ASSERT(len > 0);
  qp_store_u32(out, len);
  out[4] = type;
}

void qp__net_decoder_init(qp__net_decoder_t *d, uint32_t msg_bytes_max, uint32_t types_allowed) {
  QP_ASSERT(d != NULL);
  QP_ASSERT(msg_bytes_max > 0 && msg_bytes_max <= QP_NET_FRAME_BYTES_LIMIT);
  memset(d, 0, sizeof *d);
  d->msg_bytes_max = msg_bytes_max;
  d->types_allowed = types_allowed;
}

void qp__net_decoder_deinit(qp__net_decoder_t *d) {
  QP_ASSERT(d != NULL);
  qp_free(d->buf);
  d->buf = NULL;
  d->buf_cap = 0;
  d->have = 0;
}

static int refuse(qp__net_decoder_t *d, qp_net_reason_t reason, qp_net_reason_t *out) {
  d->failed = true;
  d->reason = reason;
  *out = reason;
  return -1;
}

/* Checks a complete header; 0 or the reason to refuse it. */
static int header_check(qp__net_decoder_t *d, qp_net_reason_t *reason) {
  QP_ASSERT(d->header_have == QP_NET_FRAME_HEADER_SIZE);
  d->len = qp_load_u32(d->header);
  d->type = d->header[4];
  uint32_t max = qp__net_frame_bytes_max(d->type, d->msg_bytes_max);
  if (max == 0) return refuse(d, QP_NET_REASON_FRAME_TYPE, reason);
  if (d->len == 0) return refuse(d, QP_NET_REASON_FRAME_EMPTY, reason);
  if (d->len > max) return refuse(d, QP_NET_REASON_FRAME_OVERSIZED, reason);
  if ((d->types_allowed & QP__NET_FRAME_TYPE_BIT(d->type)) == 0)
    return refuse(d, QP_NET_REASON_UNEXPECTED, reason);
  return 0;
}

/* Forgets the frame handed out last from buf, shrinking an oversized buf. */
static void release_delivered(qp__net_decoder_t *d) {
  if (!d->delivered) return;
  d->delivered = false;
  d->have = 0;
  if (d->buf_cap > QP__NET_DECODER_KEEP_BYTES) {
    qp_free(d->buf);
    d->buf = NULL;
    d->buf_cap = 0;
  }
}

/* Makes buf hold the whole current frame; false when out of memory. */
static bool reserve(qp__net_decoder_t *d) {
  if (d->buf_cap >= d->len) return true;
  uint8_t *grown = qp_realloc(d->buf, d->len);
  if (grown == NULL) return false;
  d->buf = grown;
  d->buf_cap = d->len;
  return true;
}

static void frame_out(qp__net_decoder_t *d, const uint8_t *payload, qp__net_frame_t *out) {
  out->type = d->type;
  out->payload = payload;
  out->len = d->len;
  d->header_have = 0;
}

int qp__net_decoder_feed(qp__net_decoder_t *d, const uint8_t *data, size_t len, size_t *used,
                         qp__net_frame_t *out, qp_net_reason_t *reason) {
  QP_ASSERT(d != NULL && used != NULL && out != NULL && reason != NULL);
  QP_ASSERT(data != NULL || len == 0);
  *used = 0;
  if (d->failed) return refuse(d, d->reason, reason);
  release_delivered(d);
  size_t pos = 0;
  if (d->header_have < QP_NET_FRAME_HEADER_SIZE) {
    size_t want = QP_NET_FRAME_HEADER_SIZE - d->header_have;
    size_t take = len < want ? len : want;
    if (take > 0) memcpy(d->header + d->header_have, data, take);
    d->header_have += (uint32_t)take;
    pos = take;
    *used = pos;
    if (d->header_have < QP_NET_FRAME_HEADER_SIZE) return 0;
    if (header_check(d, reason) != 0) return -1;
  }
  size_t avail = len - pos;
  if (avail == 0) return 0; /* the header ended the piece: nothing to buffer yet */
  if (d->have == 0 && avail >= d->len) { /* the whole payload is here: no copy */
    frame_out(d, data + pos, out);
    *used = pos + out->len;
    return 1;
  }
  if (!reserve(d)) return refuse(d, QP_NET_REASON_LOCAL_ERROR, reason);
  size_t take = d->len - d->have < avail ? d->len - d->have : avail;
  if (take > 0) memcpy(d->buf + d->have, data + pos, take);
  d->have += (uint32_t)take;
  *used = pos + take;
  QP_ASSERT(d->have <= d->len && *used <= len);
  if (d->have < d->len) return 0;
  frame_out(d, d->buf, out);
  d->delivered = true;
  return 1;
}
