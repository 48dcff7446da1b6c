/*
 * binary.h - the ledger's binary protocol (docs/binary.md): a second
 * listener beside HTTP/JSON that carries the ledger's fixed 128-byte
 * account and transfer records (the journal's layout, codec.c) over TCP.
 *
 * Every frame, either way, is a 40-byte header and a body:
 *
 *   0  magic "QPB1"        4 bytes
 *   4  version             u16 LE (1)
 *   6  op                  u16 LE (QP_BIN_OP_*)
 *   8  request id          u64 LE (the client's; a reply echoes it)
 *  16  body length         u32 LE (bytes after the header)
 *  20  status              u32 LE (0 in requests; a reply's QP_BIN_E_* or 0)
 *  24  checksum            BLAKE2b-128 of header bytes [0, 24) then the body
 *
 * The framing here is pure (no I/O): a streaming decoder that takes bytes
 * in any pieces, checks each header as soon as its 40 bytes are in (so a
 * peer can never make the server buffer more than one allowed body) and
 * the checksum once the body is in; and the encoder of a frame header.
 * It is unit-tested and fuzzed (tests/fuzz/fuzz_binary_frame.c); the
 * server (binary_server.c) and `quipu client --binary` share it.
 */
#ifndef QP_LEDGER_BINARY_H
#define QP_LEDGER_BINARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QP_BIN_MAGIC "QPB1"
#define QP_BIN_VERSION 1u
#define QP_BIN_HEADER_SIZE 40u
#define QP_BIN_CHECKSUM_SIZE 16u
#define QP_BIN_RECORD_SIZE 128u                   /* an account or a transfer */
#define QP_BIN_ID_SIZE 16u                        /* a u128 id, little-endian */
#define QP_BIN_RESULT_SIZE 8u                     /* u32 index, u32 result */
#define QP_BIN_EVENTS_MAX 8190u                   /* records or ids in one frame */
#define QP_BIN_AUTH_BYTES_MAX 256u                /* an API key's text */
#define QP_BIN_MESSAGE_BYTES_MAX 512u             /* an error frame's text */
#define QP_BIN_BODY_MAX (QP_BIN_EVENTS_MAX * QP_BIN_RECORD_SIZE) /* 1,048,320 */

/* Operations.  Numbers are on the wire and never change. */
enum {
  QP_BIN_OP_AUTH = 1,             /* body: the API key text */
  QP_BIN_OP_CREATE_ACCOUNTS = 2,  /* body: n x 128-byte accounts; reply: non-ok results */
  QP_BIN_OP_CREATE_TRANSFERS = 3, /* body: n x 128-byte transfers; reply: non-ok results */
  QP_BIN_OP_LOOKUP_ACCOUNTS = 4,  /* body: n x 16-byte ids; reply: the accounts found */
  QP_BIN_OP_LOOKUP_TRANSFERS = 5, /* body: n x 16-byte ids; reply: the transfers found */
  QP_BIN_OP_ERROR = 255,          /* server to client only: status + message */
};

/* Error statuses (an error frame's status).  Those below QP_BIN_E_BUSY are
 * about the frame or the session and close the connection after the error
 * frame; BUSY and later are the server's state and leave it open.  Nothing
 * of a refused frame is applied. */
#define QP_BIN_ERRORS(XX)                                                     \
  XX(BAD_MAGIC, 1, bad_magic)                                                 \
  XX(BAD_VERSION, 2, bad_version)                                             \
  XX(BAD_OP, 3, bad_op)                                                       \
  XX(BAD_STATUS, 4, bad_status)                                               \
  XX(BODY_TOO_LARGE, 5, body_too_large)                                       \
  XX(BAD_BODY_LENGTH, 6, bad_body_length)                                     \
  XX(BAD_CHECKSUM, 7, bad_checksum)                                           \
  XX(AUTH_REQUIRED, 8, auth_required)                                         \
  XX(BAD_KEY, 9, bad_key)                                                     \
  XX(FORBIDDEN, 10, forbidden)                                                \
  XX(LEDGER_FORBIDDEN, 11, ledger_forbidden)                                  \
  XX(BUSY, 64, busy)                                                          \
  XX(STOPPED, 65, stopped)                                                    \
  XX(DISK_FULL, 66, disk_full)                                                \
  XX(LEDGER_FULL, 67, ledger_full)                                            \
  XX(INTERNAL, 68, internal)

enum {
#define QP__BIN_E(NAME, n, name) QP_BIN_E_##NAME = n,
  QP_BIN_ERRORS(QP__BIN_E)
#undef QP__BIN_E
};

/* The wire name of an error status ("bad_checksum"), or NULL. */
const char *qp_bin_error_name(uint32_t status);
/* Does an error of this status close the connection? */
bool qp_bin_error_fatal(uint32_t status);

/* A decoded header. */
typedef struct qp_bin_header {
  uint16_t version;
  uint16_t op;
  uint64_t request_id;
  uint32_t body_len;
  uint32_t status;
  uint8_t checksum[QP_BIN_CHECKSUM_SIZE];
} qp_bin_header_t;

/* Writes a whole header for op/request_id/status and body[0, len), its
 * checksum included. */
void qp_bin_header_encode(uint8_t out[QP_BIN_HEADER_SIZE], uint16_t op, uint64_t request_id,
                          uint32_t status, const void *body, uint32_t len);

/* Reads a header without checking it. */
void qp_bin_header_decode(const uint8_t in[QP_BIN_HEADER_SIZE], qp_bin_header_t *h);

/* Checks a request header (as the server receives it): magic, version, a
 * known request op, status 0, and the body length the op allows (auth:
 * 1..QP_BIN_AUTH_BYTES_MAX; creates: a multiple of 128, 1..8190 records;
 * lookups: a multiple of 16, 1..8190 ids).  Returns 0 or a QP_BIN_E_*
 * with message (NUL-terminated) saying what was wrong. */
uint32_t qp_bin_request_check(const uint8_t in[QP_BIN_HEADER_SIZE], qp_bin_header_t *h,
                              char *message, size_t message_size);

/* Does the checksum in h cover raw header bytes [0, 24) and body? */
bool qp_bin_checksum_ok(const uint8_t in[QP_BIN_HEADER_SIZE], const qp_bin_header_t *h,
                        const uint8_t *body);

/* The streaming request decoder.  Invariant: have <= QP_BIN_HEADER_SIZE +
 * the current header's body_len; failed is sticky. */
typedef struct qp_bin_decoder {
  uint8_t *buf;      /* qp_malloc'ed; grows to the largest frame seen */
  uint32_t cap;      /* bytes at buf */
  uint32_t have;     /* bytes of the current frame in buf, <= cap */
  bool header_ok;    /* the current header was checked */
  qp_bin_header_t h; /* the current header, when header_ok */
  uint32_t failed;   /* 0, or the QP_BIN_E_* that refused the stream */
} qp_bin_decoder_t;

/* 0 or QP_ENOMEM. */
int qp_bin_decoder_init(qp_bin_decoder_t *d);
void qp_bin_decoder_deinit(qp_bin_decoder_t *d);

/* Consumes data[0, len) up to the end of the next frame.  Returns 1 with
 * *h and *body (inside the decoder, valid until the next feed) when a
 * whole, checked frame is in; 0 when every byte was consumed and no frame
 * is complete; -1 when the stream is refused (*error a QP_BIN_E_*, or
 * QP_BIN_E_INTERNAL when out of memory; message
 * set; the decoder then stays failed).  *used says how many bytes were
 * consumed. */
int qp_bin_decoder_feed(qp_bin_decoder_t *d, const uint8_t *data, size_t len, size_t *used,
                        qp_bin_header_t *h, const uint8_t **body, uint32_t *error,
                        char *message, size_t message_size);

#endif
