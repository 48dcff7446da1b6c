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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/u128.h"

struct json_t; /* jansson's object type */

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

/* ---- the wallet's door (src/payments/wallet_door.c).  Each returns
 * QP_ENOTSUP when the node runs no payments module. ---- */

/* The order as a wallet shows it: a new {"id","merchant_name","amount",
 * "currency","ledger","description","status","expires_at"} (status as of
 * now, paid once its intent succeeded) and the merchant's settlement
 * account: 0, QP_ENOTFOUND, a store error. */
int qp_payments_order_summary(const char *order_id, struct json_t **out, qp_u128 *settlement);

/* The order id an EMV MPM payload of this node names (tags 26.00 = the
 * node's GUI, 26.01 = the order): 0; QP_EINVAL with path (the first bad
 * tag, "63") and message; QP_ENOTFOUND (a valid payload of someone else). */
int qp_payments_emv_order(const char *payload, char order_id[33], char *path, size_t path_size,
                          char *message, size_t message_size);

/* The name of the merchant whose settlement account is account (a scan of
 * the merchants: bills name their shop): 0 or QP_ENOTFOUND. */
int qp_payments_merchant_name(qp_u128 account, char *name, size_t size);

/* Enrols a payments device for user_id paying from account on ledger:
 * 0 with its id (32 hex digits). */
int qp_payments_device_enrol(const char *user_id, qp_u128 account, uint32_t ledger,
                             char device_id[33]);

/* The current code of device_id: 0 with code and its expiry (unix s),
 * QP_ENOTFOUND, QP_EINVAL (revoked). */
int qp_payments_device_code(const char *device_id, char code[QP_PAYCODE_DIGITS + 1],
                            int64_t *expires_at);

/* text as a QR code in SVG (qp_malloc'ed, the caller's): 0, QP_EINVAL. */
int qp_payments_qr_svg(const char *text, char **out, size_t *len);

#endif
