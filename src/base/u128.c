/*
 * u128.c - decimal text and fixed byte orders for 128-bit integers.
 */
#include "base/u128.h"

#include "base/err.h"

#include <string.h>

int qp_u128_parse(const char *text, size_t len, qp_u128 *out) {
  if (text == NULL || len == 0) return QP_EPARSE;
  /* Shape first, then range: "99...9x" is not a number, whatever its size
   * (found by tests/fuzz/fuzz_u128.c). */
  for (size_t i = 0; i < len; i++)
    if (text[i] < '0' || text[i] > '9') return QP_EPARSE;
  qp_u128 v = 0;
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    qp_u128 digit = (qp_u128)(unsigned)(c - '0');
    qp_u128 times10;
    if (__builtin_mul_overflow(v, (qp_u128)10, &times10)) return QP_ERANGE;
    if (__builtin_add_overflow(times10, digit, &v)) return QP_ERANGE;
  }
  *out = v;
  return 0;
}

size_t qp_u128_format(qp_u128 v, char buf[QP_U128_BUF_SIZE]) {
  char tmp[QP_U128_DEC_MAX];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + (int)(v % 10));
    v /= 10;
  } while (v != 0 && n < sizeof tmp);
  for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  buf[n] = '\0';
  return n;
}

/* The byte order is fixed (little-endian) whatever the host; on
 * little-endian hosts that is a plain copy, which the compiler turns into
 * two 64-bit moves instead of sixteen 128-bit shifts. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
void qp_u128_store_le(uint8_t out[16], qp_u128 v) { memcpy(out, &v, 16); }

qp_u128 qp_u128_load_le(const uint8_t in[16]) {
  qp_u128 v;
  memcpy(&v, in, 16);
  return v;
}
#else
void qp_u128_store_le(uint8_t out[16], qp_u128 v) {
  for (int i = 0; i < 16; i++) out[i] = (uint8_t)(v >> (8 * i));
}

qp_u128 qp_u128_load_le(const uint8_t in[16]) {
  qp_u128 v = 0;
  for (int i = 15; i >= 0; i--) v = (v << 8) | in[i];
  return v;
}
#endif

void qp_u128_store_be(uint8_t out[16], qp_u128 v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  /* Two byte swaps: this runs several times per transfer in the index. */
  uint64_t hi = __builtin_bswap64((uint64_t)(v >> 64)), lo = __builtin_bswap64((uint64_t)v);
  memcpy(out, &hi, 8);
  memcpy(out + 8, &lo, 8);
#else
  for (int i = 0; i < 16; i++) out[15 - i] = (uint8_t)(v >> (8 * i));
#endif
}

qp_u128 qp_u128_load_be(const uint8_t in[16]) {
  qp_u128 v = 0;
  for (int i = 0; i < 16; i++) v = (v << 8) | in[i];
  return v;
}
