/*
 * payments.h - the payments module as the CLI and other modules see it:
 * payment codes (docs/payments.md, "Paying by payment code"):
 * the 18 digits a wallet shows and a shop scans.  Layout:
 *
 *   "28" | device number (6 digits, 000000..999999) | OTP (10 digits)
 *
 * OTP = RFC 4226 dynamic truncation of HMAC-SHA256(secret, step as a u64
 * big-endian), widened to 8 bytes: offset = last byte & 0x0f, the 8 bytes
 * from offset big-endian with the top bit cleared, mod 10^10.  step =
 * unix time / 30 (RFC 6238).  A code is accepted in its step and the next
 * one (60 s); older codes are expired.  Pure functions, no I/O.
 */
#ifndef QP_PAYMENTS_PAYMENTS_H
#define QP_PAYMENTS_PAYMENTS_H

#include <stddef.h>
#include <stdint.h>

#define QP_PAYCODE_DIGITS 18          /* characters of a code */
#define QP_PAYCODE_PREFIX "28"        /* its first two */
#define QP_PAYCODE_DEVICE_MAX 999999u /* the largest device number */
#define QP_PAYCODE_STEP_S 30          /* seconds of one time step */
#define QP_PAYCODE_SECRET_SIZE 32     /* bytes of a device secret */
#define QP_PAYCODE_EXPIRED_STEPS 20   /* steps looked back to tell expired from invalid */

/* The 10-digit OTP of secret at step. */
uint64_t qp_paycode_otp(const uint8_t *secret, size_t secret_len, uint64_t step);

/* The code of device at unix time t into out (18 digits and NUL).  Returns
 * 0 or QP_ERANGE (device above QP_PAYCODE_DEVICE_MAX, t negative). */
int qp_paycode_make(const uint8_t *secret, size_t secret_len, uint32_t device, int64_t t,
                    char out[QP_PAYCODE_DIGITS + 1]);

/* Splits a code: 0 with *device and *otp, or QP_EINVAL (not 18 digits, or
 * not starting with the prefix). */
int qp_paycode_parse(const char *text, size_t len, uint32_t *device, uint64_t *otp);

/* What a code is at a time. */
typedef enum {
  QP_PAYCODE_VALID = 0,   /* otp is the current or the previous step's: *step says which */
  QP_PAYCODE_EXPIRED = 1, /* an older step's (up to QP_PAYCODE_EXPIRED_STEPS back) */
  QP_PAYCODE_INVALID = 2, /* none of these (another device's, a typo, a future step) */
} qp_paycode_verdict_t;

/* Checks otp against secret at unix time now (constant time per step). */
qp_paycode_verdict_t qp_paycode_check(const uint8_t *secret, size_t secret_len, uint64_t otp,
                                      int64_t now, uint64_t *step);

#endif
