/*
 * qr_render.c - an order's EMV payload drawn as a QR code: the matrix
 * comes from libqrencode (error correction level M, byte mode as EMV
 * payloads are), the two writers are ours and small.  SVG: one path of
 * unit squares in a viewBox of the symbol's width plus a 4-module quiet
 * zone on each side.  PNG: 8-bit greyscale, 8 pixels per module, rows with
 * filter 0, deflated by zlib (its crc32 for the chunk CRCs).
 */
#include <qrencode.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/err.h"
#include "payments/payments_int.h"

#define QUIET 4        /* modules of quiet zone on each side */
#define PNG_SCALE 8    /* pixels per module */
#define SVG_MAX (512u * 1024u) /* the largest symbol (version 40) is well below */

static int encode(const char *payload, QRcode **out) {
  *out = QRcode_encodeString(payload, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  return *out != NULL ? 0 : QP_EINVAL;
}

int qp__pay_qr_svg(const char *payload, char **out, size_t *len) {
  QRcode *qr = NULL;
  int rc = encode(payload, &qr);
  if (rc != 0) return rc;
  int w = qr->width, size = qr->width + 2 * QUIET;
  qp_buf_t b = {.max = SVG_MAX};
  char line[160];
  snprintf(line, sizeof line,
           "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
           "height=\"%d\" shape-rendering=\"crispEdges\">", size, size, size * 8, size * 8);
  qp_buf_append(&b, line, strlen(line));
  snprintf(line, sizeof line, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path d=\"",
           size, size);
  qp_buf_append(&b, line, strlen(line));
  for (int y = 0; y < w; y++)
    for (int x = 0; x < w; x++)
      if (qr->data[y * w + x] & 1) {
        int n = snprintf(line, sizeof line, "M%d %dh1v1h-1z", x + QUIET, y + QUIET);
        qp_buf_append(&b, line, (size_t)n);
      }
  static const char tail[] = "\" fill=\"#000\"/></svg>\n";
  qp_buf_append(&b, tail, sizeof tail - 1);
  QRcode_free(qr);
  if (b.failed) {
    qp_buf_free(&b);
    return QP_ENOMEM;
  }
  *len = b.len;
  *out = b.data; /* NUL-terminated by the buffer */
  return 0;
}

static void put_be32(uint8_t *out, uint32_t v) {
  for (int i = 0; i < 4; i++) out[i] = (uint8_t)(v >> (24 - 8 * i));
}

/* Appends a chunk: length, type, data, CRC-32 of type and data. */
static void chunk(qp_buf_t *b, const char type[4], const uint8_t *data, size_t len) {
  uint8_t head[8], crc[4];
  put_be32(head, (uint32_t)len);
  memcpy(head + 4, type, 4);
  uLong c = crc32(0L, (const Bytef *)type, 4);
  if (len > 0) c = crc32(c, data, (uInt)len);
  put_be32(crc, (uint32_t)c);
  qp_buf_append(b, head, 8);
  if (len > 0) qp_buf_append(b, data, len);
  qp_buf_append(b, crc, 4);
}

/* The image's rows, each a filter byte 0 and one grey byte per pixel. */
static uint8_t *raster(const QRcode *qr, uint32_t px, size_t *len) {
  size_t row = 1 + (size_t)px;
  uint8_t *raw = qp_malloc(row * px);
  if (raw == NULL) return NULL;
  memset(raw, 0xFF, row * px);
  for (uint32_t y = 0; y < px; y++) {
    raw[y * row] = 0;
    int my = (int)(y / PNG_SCALE) - QUIET;
    for (uint32_t x = 0; x < px && my >= 0 && my < qr->width; x++) {
      int mx = (int)(x / PNG_SCALE) - QUIET;
      if (mx >= 0 && mx < qr->width && (qr->data[my * qr->width + mx] & 1))
        raw[y * row + 1 + x] = 0;
    }
  }
  *len = row * px;
  return raw;
}

int qp__pay_qr_png(const char *payload, uint8_t **out, size_t *len) {
  QRcode *qr = NULL;
  int rc = encode(payload, &qr);
  if (rc != 0) return rc;
  uint32_t px = (uint32_t)(qr->width + 2 * QUIET) * PNG_SCALE;
  size_t raw_len = 0;
  uint8_t *raw = raster(qr, px, &raw_len);
  QRcode_free(qr);
  uLongf zlen = compressBound((uLong)raw_len);
  uint8_t *z = raw != NULL ? qp_malloc(zlen) : NULL;
  if (z == NULL || compress2(z, &zlen, raw, (uLong)raw_len, 9) != Z_OK) {
    qp_free(raw);
    qp_free(z);
    return QP_ENOMEM;
  }
  qp_free(raw);
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  uint8_t ihdr[13] = {0};
  put_be32(ihdr, px);
  put_be32(ihdr + 4, px);
  ihdr[8] = 8; /* bit depth; colour type 0 (grey), compression, filter, interlace 0 */
  qp_buf_t b = {.max = (size_t)zlen + 128};
  qp_buf_append(&b, sig, sizeof sig);
  chunk(&b, "IHDR", ihdr, sizeof ihdr);
  chunk(&b, "IDAT", z, zlen);
  chunk(&b, "IEND", NULL, 0);
  qp_free(z);
  if (b.failed) {
    qp_buf_free(&b);
    return QP_ENOMEM;
  }
  *len = b.len;
  *out = (uint8_t *)b.data;
  return 0;
}
