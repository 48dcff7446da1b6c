/*
 * frame.h - the peer frame format and its streaming decoder (private to
 * net/; docs/net.md).
 *
 *   u32 length (little-endian) | u8 type | payload (length bytes)
 *
 * length counts the payload only and is never 0: every frame type carries
 * something.  Each type has its own maximum (HELLO and AUTH are small, a
 * MSG is at most the configured frame_bytes_max), checked as soon as the
 * five header bytes are in, so a peer cannot make us buffer more than the
 * frame it is allowed to send next.  The decoder is pure (no I/O, no
 * clock) and takes bytes in whatever pieces the socket delivers them: a
 * frame split at any byte, or many frames in one read.
 */
#ifndef QP_NET_FRAME_H
#define QP_NET_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "net/net.h"

/* Frame types.  The numbers are on the wire and never change. */
enum {
  QP__NET_FRAME_HELLO = 1, /* version, suite, network id, nonce, public key */
  QP__NET_FRAME_AUTH = 2,  /* the signature over the handshake transcript */
  QP__NET_FRAME_MSG = 3,   /* an application message, after the handshake */
};
#define QP__NET_FRAME_TYPE_BIT(type) (1u << (type))

#define QP__NET_HELLO_FIXED_BYTES 68u /* version 2, suite 1, network id 32, nonce 32, key len 1 */
#define QP__NET_HELLO_BYTES_MAX (QP__NET_HELLO_FIXED_BYTES + QP_SIGN_PUBLIC_MAX)
#define QP__NET_AUTH_BYTES_MAX QP_SIGN_SIG_MAX
/* A buffer kept between frames is released past this size, so an idle
 * peer that once sent a 16 MiB block does not hold 16 MiB forever. */
#define QP__NET_DECODER_KEEP_BYTES (64u << 10)

/* One decoded frame.  payload points into the bytes last fed or into the
 * decoder's buffer; valid until the next feed or deinit. */
typedef struct qp__net_frame {
  uint8_t type;           /* QP__NET_FRAME_* */
  const uint8_t *payload; /* len bytes */
  uint32_t len;           /* 1..the type's maximum */
} qp__net_frame_t;

/* Invariants: header_have <= 5; when header_have == 5, 1 <= len <= the
 * type's maximum and have <= len; have > 0 only with header_have == 5;
 * buf_cap >= have.  failed is sticky. */
typedef struct qp__net_decoder {
  uint32_t msg_bytes_max; /* largest MSG payload (config frame_bytes_max) */
  uint32_t types_allowed; /* QP__NET_FRAME_TYPE_BIT of each type that may come next */
  uint8_t header[QP_NET_FRAME_HEADER_SIZE]; /* the header being read */
  uint32_t header_have;   /* header bytes in */
  uint8_t type;           /* the current frame's type (header complete) */
  uint32_t len;           /* the current frame's payload length (header complete) */
  uint8_t *buf;           /* qp_malloc'ed payload of a frame split across feeds */
  uint32_t buf_cap;       /* bytes allocated at buf */
  uint32_t have;          /* payload bytes in buf */
  bool delivered;         /* the last frame came from buf: reset it at the next feed */
  bool failed;            /* a frame was refused; feed keeps answering reason */
  qp_net_reason_t reason; /* why, when failed */
} qp__net_decoder_t;

/* Starts an empty decoder that accepts the types in types_allowed, MSG
 * payloads up to msg_bytes_max (1..QP_NET_FRAME_BYTES_LIMIT). */
void qp__net_decoder_init(qp__net_decoder_t *d, uint32_t msg_bytes_max, uint32_t types_allowed);

/* Releases the buffer; the decoder must be initialised again to reuse. */
void qp__net_decoder_deinit(qp__net_decoder_t *d);

/* Consumes bytes from data[0..len) up to the end of the next complete
 * frame.  Returns 1 with *out filled and *used the bytes consumed (the
 * caller feeds the rest again); 0 when every byte was consumed and no
 * frame is complete yet (*used == len); -1 when the input is refused, with
 * *reason one of FRAME_TYPE (unknown type), FRAME_EMPTY (length 0),
 * FRAME_OVERSIZED (over the type's maximum), UNEXPECTED (a known type not
 * in types_allowed) or LOCAL_ERROR (out of memory); the decoder then stays
 * failed.  The owner may change types_allowed between calls. */
int qp__net_decoder_feed(qp__net_decoder_t *d, const uint8_t *data, size_t len, size_t *used,
                         qp__net_frame_t *out, qp_net_reason_t *reason);

/* The largest payload of a frame of type under msg_bytes_max; 0 for an
 * unknown type. */
uint32_t qp__net_frame_bytes_max(uint8_t type, uint32_t msg_bytes_max);

/* Writes the 5-byte header of a frame of type with a payload of len bytes. */
void qp__net_frame_header(uint8_t out[QP_NET_FRAME_HEADER_SIZE], uint8_t type, uint32_t len);

#endif
