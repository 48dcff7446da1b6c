/*
 * emv.h - EMV(R) QR Code Merchant-Presented Mode (MPM) payloads: a pure
 * encoder for the payloads quipu's orders carry and a strict parser for
 * any MPM payload (docs/payments.md, "The QR payload").  No I/O, no
 * allocation: bytes in, bytes or a flat list of data objects out, so the
 * parser is unit-tested and fuzzed directly (tests/fuzz/fuzz_emv_qr.c).
 *
 * A payload is a sequence of data objects "IIllvalue": a 2-digit id, a
 * 2-digit length and the value.  Lengths count characters (Unicode code
 * points of the UTF-8 text), as EMV's own example with Chinese characters
 * in the language template does; quipu's encoder writes ASCII only, where
 * characters and bytes agree.  Templates (26-51 merchant account
 * information, 62 additional data, 64 merchant information in another
 * language, 80-99 unreserved) hold data objects of the same form, one
 * level deep.  Id 00 ("01") comes first, 63 (the CRC) last; the others may
 * come in any order (EMV's example has 64 before 54), but no id twice at
 * one level.  The CRC is CRC-16/CCITT-FALSE (polynomial 0x1021, initial
 * 0xFFFF, no reflection, no final XOR) over the payload's UTF-8 bytes up to
 * and including "6304", written as 4 upper-case hex digits.
 */
#ifndef QP_PAYMENTS_EMV_H
#define QP_PAYMENTS_EMV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/u128.h"

#define QP_EMV_PAYLOAD_CHARS_MAX 512u  /* EMV's limit on a payload, in characters */
#define QP_EMV_PAYLOAD_BYTES_MAX 2048u /* 512 characters of at most 4 UTF-8 bytes */
#define QP_EMV_OBJECTS_MAX 160u        /* data objects of one payload, templates' included */
#define QP_EMV_PATH_MAX 8u             /* "26.01" and a NUL */
#define QP_EMV_AMOUNT_TEXT_MAX 14u     /* tag 54: 13 characters and a NUL */
#define QP_EMV_GUI_MAX 32u             /* a globally unique identifier, NUL excluded */

/* CRC-16/CCITT-FALSE of data[0, len): check value "123456789" -> 0x29B1. */
uint16_t qp_emv_crc16(const uint8_t *data, size_t len);

/* What an order's payload says.  Strings are NUL-terminated ASCII. */
typedef struct qp_emv_order {
  const char *gui;        /* tag 26.00: quipu's globally unique identifier */
  const char *order_id;   /* tag 26.01: the order's id */
  const char *mcc;        /* tag 52: 4 digits (ISO 18245) */
  uint16_t currency;      /* tag 53: ISO 4217 numeric, 1..999 */
  const char *amount;     /* tag 54: major units, e.g. "12.34" (qp_emv_amount_format) */
  const char *country;    /* tag 58: ISO 3166-1 alpha-2 */
  const char *name;       /* tag 59: 1..25 characters */
  const char *city;       /* tag 60: 1..15 characters */
  const char *reference;  /* tag 62.05: reference label, NULL or "" = none; 1..25 */
} qp_emv_order_t;

/* Encodes o (tags 00 "01", 01 "12" dynamic, 26, 52, 53, 54, 58, 59, 60,
 * 62 when a reference is given, 63) into out (NUL-terminated; room for
 * QP_EMV_PAYLOAD_BYTES_MAX + 1 bytes).  Returns 0, or QP_EINVAL with detail
 * naming the tag ("59: ...") whose value is empty, too long or not
 * printable ASCII. */
int qp_emv_encode_order(const qp_emv_order_t *o, char out[QP_EMV_PAYLOAD_BYTES_MAX + 1],
                        char *detail, size_t detail_size);

/* amount minor units in major units with `decimals` digits after the point
 * ("1234", 2 -> "12.34"; 5, 3 -> "0.005"; 7, 0 -> "7"), integers only.
 * Returns 0, QP_EINVAL (decimals outside 0..4) or QP_ERANGE (more than the
 * 13 characters tag 54 allows). */
int qp_emv_amount_format(qp_u128 amount, int decimals, char out[QP_EMV_AMOUNT_TEXT_MAX]);

/* One data object of a parsed payload.  value points into the payload. */
typedef struct qp_emv_object {
  char path[QP_EMV_PATH_MAX]; /* "54", or "26.01" inside a template */
  const char *value;          /* the value's first byte (not NUL-terminated) */
  size_t value_bytes;         /* its length in bytes */
  uint32_t value_chars;       /* and in characters (the length field) */
  bool is_template;           /* its value was parsed into the objects that follow */
  uint32_t children;          /* is_template: how many objects follow as its children */
} qp_emv_object_t;

/* A parsed payload: objects in payload order, each template followed by
 * its children. */
typedef struct qp_emv_payload {
  qp_emv_object_t objects[QP_EMV_OBJECTS_MAX]; /* [0, count) */
  uint32_t count;                              /* objects found */
  uint16_t crc;                                /* the CRC (tag 63), verified */
} qp_emv_payload_t;

/* Why a payload was refused: the first bad tag, and what was wrong. */
typedef struct qp_emv_error {
  char path[QP_EMV_PATH_MAX]; /* "63", "26.01"; "@12" when no id could be read at offset 12 */
  char message[160];          /* for humans: what was wrong and what is allowed */
} qp_emv_error_t;

/* Parses text[0, len) as an MPM payload: lengths (2 digits, not past the
 * end), UTF-8 without control characters, 00 first and "01", 63 last with
 * 4 upper-case hex digits that match the CRC, no id twice at a level,
 * templates' nesting, the formats of 01, 52, 53, 54, 55, 58, 59, 60 and the
 * mandatory objects (00, a merchant account 02..51, 52, 53, 58, 59, 60,
 * 63).  Returns 0 with *out filled, or QP_EPARSE with *err naming the first
 * bad tag.  Pure: reads only text[0, len). */
int qp_emv_parse(const char *text, size_t len, qp_emv_payload_t *out, qp_emv_error_t *err);

/* The object at path in p (top level "54" or nested "26.01"), or NULL. */
const qp_emv_object_t *qp_emv_find(const qp_emv_payload_t *p, const char *path);

#endif
