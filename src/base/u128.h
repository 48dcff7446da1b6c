/*
 * u128.h - 128-bit unsigned integers for money.
 *
 * Amounts and ids are 128-bit unsigned.  Arithmetic on them is always
 * overflow-checked; nothing ever wraps silently.  Decimal text is the only
 * textual form (JSON carries them as strings, DESIGN.md section 5).
 */
#ifndef QP_BASE_U128_H
#define QP_BASE_U128_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef unsigned __int128 qp_u128;

#define QP_U128_MAX (~(qp_u128)0)
/* Longest decimal form: 340282366920938463463374607431768211455 (39 digits). */
#define QP_U128_DEC_MAX 39
#define QP_U128_BUF_SIZE (QP_U128_DEC_MAX + 1)

/* Parses exactly `len` bytes of ASCII decimal digits (no sign, no spaces, no
 * leading '+', leading zeros allowed, at least one digit) into *out.
 * Returns 0, QP_EPARSE for any non-digit or empty input, QP_ERANGE when the
 * value exceeds 2^128-1.  *out is written only on success. */
int qp_u128_parse(const char *text, size_t len, qp_u128 *out);

/* Writes the decimal form of v and a NUL into buf (>= QP_U128_BUF_SIZE
 * bytes); returns the number of digits written. */
size_t qp_u128_format(qp_u128 v, char buf[QP_U128_BUF_SIZE]);

/* Checked arithmetic: return true and leave *out unchanged on overflow. */
static inline bool qp_u128_add_overflow(qp_u128 a, qp_u128 b, qp_u128 *out) {
  return __builtin_add_overflow(a, b, out);
}
static inline bool qp_u128_sub_overflow(qp_u128 a, qp_u128 b, qp_u128 *out) {
  return __builtin_sub_overflow(a, b, out);
}

/* Fixed little-endian encoding for disk and hashes (never a struct copy). */
void qp_u128_store_le(uint8_t out[16], qp_u128 v);
qp_u128 qp_u128_load_le(const uint8_t in[16]);
/* Big-endian form: sorts bytewise in numeric order (index keys). */
void qp_u128_store_be(uint8_t out[16], qp_u128 v);
qp_u128 qp_u128_load_be(const uint8_t in[16]);

#endif
