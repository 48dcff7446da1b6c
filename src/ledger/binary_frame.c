/*
 * binary_frame.c - the binary protocol's frames (binary.h, docs/binary.md):
 * header encode/decode, the request checks and the streaming decoder.
 * Pure: no I/O, no clock.  The checksum is libsodium's BLAKE2b with a
 * 16-byte output.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/err.h"
#include "ledger/binary.h"

#define CHECKED_BYTES 24u /* header bytes covered by the checksum */

const char *qp_bin_error_name(uint32_t status) {
  switch (status) {
#define QP__BIN_N(NAME, n, name)                                              \
  case n:                                                                     \
    return #name;
    QP_BIN_ERRORS(QP__BIN_N)
#undef QP__BIN_N
  default:
    return NULL;
  }
}

bool qp_bin_error_fatal(uint32_t status) { return status != 0 && status < QP_BIN_E_BUSY; }

static void checksum(uint8_t out[QP_BIN_CHECKSUM_SIZE], const uint8_t *head, const void *body,
                     uint32_t len) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, QP_BIN_CHECKSUM_SIZE);
  crypto_generichash_update(&st, head, CHECKED_BYTES);
  if (len > 0) crypto_generichash_update(&st, body, len);
  crypto_generichash_final(&st, out, QP_BIN_CHECKSUM_SIZE);
}

void qp_bin_header_encode(uint8_t out[QP_BIN_HEADER_SIZE], uint16_t op, uint64_t request_id,
                          uint32_t status, const void *body, uint32_t len) {
  memcpy(out, QP_BIN_MAGIC, 4);
  qp_store_u16(out + 4, QP_BIN_VERSION);
  qp_store_u16(out + 6, op);
  qp_store_u64(out + 8, request_id);
  qp_store_u32(out + 16, len);
  qp_store_u32(out + 20, status);
  checksum(out + CHECKED_BYTES, out, body, len);
}

void qp_bin_header_decode(const uint8_t in[QP_BIN_HEADER_SIZE], qp_bin_header_t *h) {
  h->version = qp_load_u16(in + 4);
  h->op = qp_load_u16(in + 6);
  h->request_id = qp_load_u64(in + 8);
  h->body_len = qp_load_u32(in + 16);
  h->status = qp_load_u32(in + 20);
  memcpy(h->checksum, in + CHECKED_BYTES, QP_BIN_CHECKSUM_SIZE);
}

/* The body length the op allows: 0 or QP_BIN_E_* with message. */
static uint32_t check_length(const qp_bin_header_t *h, char *message, size_t size) {
  uint32_t unit = h->op == QP_BIN_OP_AUTH ? 1u
                  : h->op <= QP_BIN_OP_CREATE_TRANSFERS ? QP_BIN_RECORD_SIZE
                                                        : QP_BIN_ID_SIZE;
  uint32_t max = h->op == QP_BIN_OP_AUTH ? QP_BIN_AUTH_BYTES_MAX : QP_BIN_EVENTS_MAX * unit;
  if (h->body_len > max) {
    snprintf(message, size, "body length %u is over the op's maximum of %u bytes", h->body_len,
             max);
    return QP_BIN_E_BODY_TOO_LARGE;
  }
  if (h->body_len == 0 || h->body_len % unit != 0) {
    snprintf(message, size, "body length %u must be a non-zero multiple of %u bytes",
             h->body_len, unit);
    return QP_BIN_E_BAD_BODY_LENGTH;
  }
  return 0;
}

uint32_t qp_bin_request_check(const uint8_t in[QP_BIN_HEADER_SIZE], qp_bin_header_t *h,
                              char *message, size_t message_size) {
  qp_bin_header_decode(in, h);
  if (memcmp(in, QP_BIN_MAGIC, 4) != 0) {
    snprintf(message, message_size, "magic must be \"QPB1\"");
    return QP_BIN_E_BAD_MAGIC;
  }
  if (h->version != QP_BIN_VERSION) {
    snprintf(message, message_size, "version %u is not supported (only %u)", h->version,
             QP_BIN_VERSION);
    return QP_BIN_E_BAD_VERSION;
  }
  if (h->op < QP_BIN_OP_AUTH || h->op > QP_BIN_OP_LOOKUP_TRANSFERS) {
    snprintf(message, message_size, "op %u is not a request op (1..5)", h->op);
    return QP_BIN_E_BAD_OP;
  }
  if (h->status != 0) {
    snprintf(message, message_size, "status must be 0 in a request, not %u", h->status);
    return QP_BIN_E_BAD_STATUS;
  }
  return check_length(h, message, message_size);
}

bool qp_bin_checksum_ok(const uint8_t in[QP_BIN_HEADER_SIZE], const qp_bin_header_t *h,
                        const uint8_t *body) {
  uint8_t want[QP_BIN_CHECKSUM_SIZE];
  checksum(want, in, body, h->body_len);
  return sodium_memcmp(want, h->checksum, QP_BIN_CHECKSUM_SIZE) == 0;
}

int qp_bin_decoder_init(qp_bin_decoder_t *d) {
  memset(d, 0, sizeof *d);
  d->buf = qp_malloc(QP_BIN_HEADER_SIZE);
  d->cap = QP_BIN_HEADER_SIZE;
  return d->buf == NULL ? QP_ENOMEM : 0;
}

/* Room for the checked header's whole frame (grows, never shrinks: a
 * client that sent one big batch will likely send another). */
static bool reserve(qp_bin_decoder_t *d) {
  uint32_t need = QP_BIN_HEADER_SIZE + d->h.body_len;
  if (need <= d->cap) return true;
  uint8_t *grown = qp_realloc(d->buf, need);
  if (grown == NULL) return false;
  d->buf = grown;
  d->cap = need;
  return true;
}

void qp_bin_decoder_deinit(qp_bin_decoder_t *d) {
  qp_free(d->buf);
  d->buf = NULL;
}

static int refuse(qp_bin_decoder_t *d, uint32_t error, uint32_t *error_out) {
  d->failed = error;
  *error_out = error;
  return -1;
}

int qp_bin_decoder_feed(qp_bin_decoder_t *d, const uint8_t *data, size_t len, size_t *used,
                        qp_bin_header_t *h, const uint8_t **body, uint32_t *error,
                        char *message, size_t message_size) {
  *used = 0;
  if (d->failed != 0) {
    snprintf(message, message_size, "the stream was refused before");
    *error = d->failed;
    return -1;
  }
  if (d->header_ok && d->have == QP_BIN_HEADER_SIZE + d->h.body_len) { /* delivered last time */
    d->have = 0;
    d->header_ok = false;
  }
  while (*used < len) {
    uint32_t want = d->header_ok ? QP_BIN_HEADER_SIZE + d->h.body_len : QP_BIN_HEADER_SIZE;
    size_t take = want - d->have;
    if (take > len - *used) take = len - *used;
    memcpy(d->buf + d->have, data + *used, take);
    d->have += (uint32_t)take;
    *used += take;
    if (d->have < want) return 0;
    if (!d->header_ok) {
      uint32_t e = qp_bin_request_check(d->buf, &d->h, message, message_size);
      if (e != 0) return refuse(d, e, error);
      if (!reserve(d)) {
        snprintf(message, message_size, "out of memory");
        return refuse(d, QP_BIN_E_INTERNAL, error);
      }
      d->header_ok = true;
      continue;
    }
    if (!qp_bin_checksum_ok(d->buf, &d->h, d->buf + QP_BIN_HEADER_SIZE)) {
      snprintf(message, message_size, "checksum does not match the header and body");
      return refuse(d, QP_BIN_E_BAD_CHECKSUM, error);
    }
    *h = d->h;
    *body = d->buf + QP_BIN_HEADER_SIZE;
    return 1;
  }
  return 0;
}
