/*
 * emv.c - EMV(R) QR Code Merchant-Presented Mode: the CRC, the encoder of
 * an order's payload and the strict parser of any payload (emv.h says the
 * rules).  Pure: no allocation, no I/O; the parser reads only the bytes it
 * is given and stops at the first bad data object, naming its path.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "payments/emv.h"



uint16_t qp_emv_crc16(const uint8_t *data, size_t len) {
  uint16_t crc = 0xFFFF;
  for (size_t i = 0; i < len; i++) {
    crc ^= (uint16_t)(data[i] << 8);
    for (int bit = 0; bit < 8; bit++) {
      uint16_t shifted = (uint16_t)(crc << 1);
      crc = (crc & 0x8000u) != 0 ? (uint16_t)(shifted ^ 0x1021u) : shifted;
    }
  }
  return crc;
}

/* ------------------------------------------------------------ encoding */

static bool printable_ascii(const char *s) {
  for (; *s != '\0'; s++)
    if (*s < 0x20 || *s > 0x7E) return false;
  return true;
}

/* Appends id, length and value to out[*n]; value 1..max_chars printable ASCII. */
static int put(char *out, size_t *n, size_t size, const char *id, const char *value,
               size_t max_chars, char *detail, size_t detail_size) {
  size_t len = value != NULL ? strlen(value) : 0;
  if (len == 0 || len > max_chars || !printable_ascii(value)) {
    snprintf(detail, detail_size, "%s: the value must be 1 to %zu printable ASCII characters",
             id, max_chars);
    return QP_EINVAL;
  }
  QP_ASSERT(*n + 4 + len < size);
  int w = snprintf(out + *n, size - *n, "%s%02zu%s", id, len, value);
  QP_ASSERT(w == (int)(4 + len));
  *n += 4 + len;
  return 0;
}

static bool digits(const char *s, size_t want) {
  size_t i = 0;
  for (; s != NULL && s[i] != '\0'; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return s != NULL && i == want;
}

int qp_emv_encode_order(const qp_emv_order_t *o, char out[QP_EMV_PAYLOAD_BYTES_MAX + 1],
                        char *detail, size_t detail_size) {
  const size_t size = QP_EMV_PAYLOAD_BYTES_MAX + 1;
  char inner[128], cur[4];
  size_t n = 0, m = 0;
  if (!digits(o->mcc, 4)) return snprintf(detail, detail_size, "52: must be 4 digits"), QP_EINVAL;
  if (o->currency == 0 || o->currency > 999)
    return snprintf(detail, detail_size, "53: must be 1 to 999"), QP_EINVAL;
  snprintf(cur, sizeof cur, "%03u", (unsigned)o->currency);
  int rc = put(inner, &m, sizeof inner, "00", o->gui, QP_EMV_GUI_MAX, detail, detail_size);
  if (rc == 0) rc = put(inner, &m, sizeof inner, "01", o->order_id, 40, detail, detail_size);
  if (rc == 0) rc = put(out, &n, size, "00", "01", 2, detail, detail_size);
  if (rc == 0) rc = put(out, &n, size, "01", "12", 2, detail, detail_size);
  if (rc == 0) rc = put(out, &n, size, "26", inner, 99, detail, detail_size);
  if (rc == 0) rc = put(out, &n, size, "52", o->mcc, 4, detail, detail_size);
  if (rc == 0) rc = put(out, &n, size, "53", cur, 3, detail, detail_size);
  if (rc == 0) rc = put(out, &n, size, "54", o->amount, 13, detail, detail_size);
  if (rc == 0) rc = put(out, &n, size, "58", o->country, 2, detail, detail_size);
  if (rc == 0) rc = put(out, &n, size, "59", o->name, 25, detail, detail_size);
  if (rc == 0) rc = put(out, &n, size, "60", o->city, 15, detail, detail_size);
  if (rc == 0 && o->reference != NULL && o->reference[0] != '\0') {
    m = 0;
    rc = put(inner, &m, sizeof inner, "05", o->reference, 25, detail, detail_size);
    if (rc != 0) snprintf(detail, detail_size, "62.05: the reference label must be 1 to 25 "
                          "printable ASCII characters");
    if (rc == 0) rc = put(out, &n, size, "62", inner, 99, detail, detail_size);
  }
  if (rc != 0) return rc;
  memcpy(out + n, "6304", 5);
  n += 4;
  snprintf(out + n, size - n, "%04X", (unsigned)qp_emv_crc16((const uint8_t *)out, n));
  return 0;
}

int qp_emv_amount_format(qp_u128 amount, int decimals, char out[QP_EMV_AMOUNT_TEXT_MAX]) {
  if (decimals < 0 || decimals > 4) return QP_EINVAL;
  char digits_text[QP_U128_BUF_SIZE];
  size_t n = qp_u128_format(amount, digits_text);
  size_t d = (size_t)decimals;
  size_t whole = n > d ? n - d : 1;               /* digits before the point */
  size_t total = whole + (d > 0 ? 1 + d : 0);     /* characters written */
  if (total > QP_EMV_AMOUNT_TEXT_MAX - 1) return QP_ERANGE;
  char padded[QP_U128_BUF_SIZE + 8];
  size_t pad = n <= d ? d + 1 - n : 0;            /* leading zeros for "0.05" */
  memset(padded, '0', pad);
  memcpy(padded + pad, digits_text, n);
  memcpy(out, padded, whole);
  if (d > 0) {
    out[whole] = '.';
    memcpy(out + whole + 1, padded + whole, d);
  }
  out[total] = '\0';
  return 0;
}
