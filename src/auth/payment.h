/*
 * payment.h - what a payment confirmation signs.
 *
 * The challenge of a payment is H(server nonce || canonical payment), so an
 * assertion over it is a signature over that exact payment: change the
 * amount, the currency, the payee, an account, the order or the expiry and
 * the challenge is another.  The canonical payment is a fixed byte layout
 * (docs/auth.md, "Canonical payment encoding"), every field in a fixed
 * order and width, big-endian, strings with a two-byte length:
 *
 *   "QUIPU-PAYMENT-V1"  16 bytes, the version tag
 *   amount              16  u128, minor units of the ledger's asset
 *   ledger               4  u32
 *   currency             3  ISO 4217 code, ASCII upper case
 *   payee_name       2 + n  UTF-8
 *   debit_account_id    16  u128
 *   credit_account_id   16  u128
 *   order_id         2 + n  UTF-8
 *   expires_at           8  u64, unix seconds
 *
 * H is SHA-256 and the nonce 32 random bytes from the server.  Also here:
 * an amount in major units for SPC's total.value ("12.34", the currency's
 * ISO 4217 decimals), and SPC's check of clientDataJSON's "payment".
 */
#ifndef QP_AUTH_PAYMENT_H
#define QP_AUTH_PAYMENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/fail.h"
#include "base/u128.h"

#define QP_AUTH_PAYMENT_TAG "QUIPU-PAYMENT-V1"
#define QP_AUTH_PAYEE_MAX 128   /* bytes of payee_name */
#define QP_AUTH_ORDER_ID_MAX 128 /* bytes of order_id */
#define QP_AUTH_PAYMENT_CANONICAL_MAX (16 + 16 + 4 + 3 + 2 + 128 + 16 + 16 + 2 + 128 + 8)
#define QP_AUTH_NONCE_SIZE 32
#define QP_AUTH_AMOUNT_TEXT_MAX 48 /* "340282366920938463463374607431768211455" with a point */
#define QP_AUTH_PAYMENT_MISMATCH "payment_mismatch"

/* The fields the signature covers. */
typedef struct {
  qp_u128 amount;              /* minor units */
  uint32_t ledger;             /* the ledger (asset) */
  char currency[4];            /* ISO 4217, NUL-terminated */
  const char *payee_name;      /* 0..QP_AUTH_PAYEE_MAX bytes */
  qp_u128 debit_account_id;    /* the payer's account */
  qp_u128 credit_account_id;   /* the payee's account */
  const char *order_id;        /* 0..QP_AUTH_ORDER_ID_MAX bytes */
  uint64_t expires_at_s;       /* unix seconds */
} qp_auth_payment_t;

/* Encodes p into out (QP_AUTH_PAYMENT_CANONICAL_MAX bytes); *len is the
 * length.  QP_EINVAL when a string is too long or the currency is not
 * three upper-case letters. */
int qp_auth_payment_encode(const qp_auth_payment_t *p, uint8_t out[QP_AUTH_PAYMENT_CANONICAL_MAX],
                           size_t *len);

/* challenge = SHA-256(nonce || canonical). */
void qp_auth_payment_challenge(const uint8_t nonce[QP_AUTH_NONCE_SIZE], const uint8_t *canonical,
                               size_t len, uint8_t out[32]);

/* The ISO 4217 minor-unit digits of currency (2 unless listed as 0, 3 or
 * 4), or -1 when currency is not three upper-case letters. */
int qp_auth_currency_decimals(const char *currency);

/* amount (minor units) in major units with the currency's decimals:
 * 1234 USD -> "12.34", 5 JPY -> "5", 7 USD -> "0.07".  QP_EINVAL for a
 * bad currency. */
int qp_auth_amount_major(qp_u128 amount, const char *currency, char out[QP_AUTH_AMOUNT_TEXT_MAX]);

/* What SPC's "payment" member of clientDataJSON must say. */
typedef struct {
  const char *rp_id;                 /* payment.rpId */
  const char *const *top_origins;    /* payment.topOrigin must be one of them */
  size_t top_origins_count;
  const char *payee_name;            /* payment.payeeName ("" or NULL: must be absent) */
  const char *payee_origin;          /* payment.payeeOrigin (NULL: must be absent) */
  const char *currency;              /* payment.total.currency */
  const char *value;                 /* payment.total.value, major units */
  const char *instrument_name;       /* payment.instrument.displayName (NULL: not checked) */
  const char *instrument_icon;       /* payment.instrument.icon (NULL: not checked) */
} qp_auth_spc_expect_t;

/* Checks clientDataJSON's "payment" member against expect; refuses with
 * "payment_mismatch" naming the member.  Returns 0 or QP_EINVAL. */
int qp_auth_spc_check(const json_t *client_data, const qp_auth_spc_expect_t *expect,
                      qp_auth_fail_t *fail);

#endif
