/*
 * paycode.c - payment codes: generation and verification (payments.h).
 * HMAC-SHA256 is libsodium's; the truncation is RFC 4226's, on 8 bytes so
 * that 10 digits are reachable (4 bytes give at most 2^31).
 */
#include "payments/payments.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

#define OTP_MOD 10000000000ull /* 10^10 */

uint64_t qp_paycode_otp(const uint8_t *secret, size_t secret_len, uint64_t step) {
  uint8_t msg[8], mac[crypto_auth_hmacsha256_BYTES];
  for (int i = 7; i >= 0; i--, step >>= 8) msg[i] = (uint8_t)step;
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, secret, secret_len);
  crypto_auth_hmacsha256_update(&st, msg, sizeof msg);
  crypto_auth_hmacsha256_final(&st, mac);
  unsigned off = mac[sizeof mac - 1] & 0x0fu; /* 0..15: off + 8 <= 23 < 32 */
  uint64_t v = 0;
  for (unsigned i = 0; i < 8; i++) v = (v << 8) | mac[off + i];
  sodium_memzero(&st, sizeof st);
  return (v & 0x7fffffffffffffffull) % OTP_MOD;
}

int qp_paycode_make(const uint8_t *secret, size_t secret_len, uint32_t device, int64_t t,
                    char out[QP_PAYCODE_DIGITS + 1]) {
  if (device > QP_PAYCODE_DEVICE_MAX || t < 0) return QP_ERANGE;
  uint64_t otp = qp_paycode_otp(secret, secret_len, (uint64_t)t / QP_PAYCODE_STEP_S);
  snprintf(out, QP_PAYCODE_DIGITS + 1, "%s%06u%010llu", QP_PAYCODE_PREFIX, (unsigned)device,
           (unsigned long long)otp);
  return 0;
}

int qp_paycode_parse(const char *text, size_t len, uint32_t *device, uint64_t *otp) {
  if (text == NULL || len != QP_PAYCODE_DIGITS || memcmp(text, QP_PAYCODE_PREFIX, 2) != 0)
    return QP_EINVAL;
  uint64_t d = 0, o = 0;
  for (size_t i = 2; i < len; i++) {
    if (text[i] < '0' || text[i] > '9') return QP_EINVAL;
    if (i < 8) d = d * 10 + (uint64_t)(text[i] - '0');
    else o = o * 10 + (uint64_t)(text[i] - '0');
  }
  *device = (uint32_t)d;
  *otp = o;
  return 0;
}

/* Constant-time equality of two OTPs (as 8 bytes). */
static int otp_equal(uint64_t a, uint64_t b) {
  return sodium_memcmp(&a, &b, sizeof a) == 0;
}

qp_paycode_verdict_t qp_paycode_check(const uint8_t *secret, size_t secret_len, uint64_t otp,
                                      int64_t now, uint64_t *step) {
  if (now < 0) return QP_PAYCODE_INVALID;
  uint64_t cur = (uint64_t)now / QP_PAYCODE_STEP_S;
  for (uint64_t back = 0; back <= QP_PAYCODE_EXPIRED_STEPS && back <= cur; back++) {
    if (!otp_equal(qp_paycode_otp(secret, secret_len, cur - back), otp)) continue;
    *step = cur - back;
    return back <= 1 ? QP_PAYCODE_VALID : QP_PAYCODE_EXPIRED;
  }
  return QP_PAYCODE_INVALID;
}
