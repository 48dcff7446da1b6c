/*
 * auth.h - the auth module as the other modules of its node see it: the
 * payments module asks which payment intents were made for one of its
 * orders (docs/auth.md, "For other modules").
 */
#ifndef QP_AUTH_AUTH_H
#define QP_AUTH_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "base/u128.h"

#define QP_AUTH_ORDER_INTENTS_MAX 64u /* intents one order lists at most */

/* One payment intent made for an order, as of now. */
typedef struct qp_auth_order_intent {
  char id[33];                /* the intent's id (hex) */
  char status[24];            /* requires_confirmation, requires_review, succeeded, canceled,
                                 expired: as GET /v1/payment-intents/{id} says it now */
  qp_u128 amount;             /* minor units */
  qp_u128 debit_account_id;   /* the payer's account */
  qp_u128 credit_account_id;  /* the payee's account */
  qp_u128 post_transfer_id;   /* the ledger transfer that posted it (0 unless succeeded) */
  uint32_t ledger;            /* its ledger */
  char currency[4];           /* ISO 4217 */
} qp_auth_order_intent_t;

/* Whether this process runs the auth module (open, not yet closed). */
bool qp_auth_service_enabled(void);

/* The intents whose order_id is order_id, oldest first, at most max (and
 * QP_AUTH_ORDER_INTENTS_MAX) in out: 0 with *count, QP_ENOTFOUND when the
 * module is not running, or a store error.  Intents made before this index
 * existed (an older data directory) are not listed. */
int qp_auth_order_intents(const char *order_id, qp_auth_order_intent_t *out, uint32_t max,
                          uint32_t *count);

/* Creates a payment intent for user_id (the payments module's collect by
 * payment code, docs/payments.md): the hold of amount from debit to credit
 * on ledger (code 1), status requires_confirmation, expiring in
 * expires_in_s (1..604800), confirmed by the user's passkey as any intent
 * (POST /v1/payment-intents/{id}/challenge, /confirm).  The caller has
 * asked the risk module already; the intent records "collect": true.
 * Returns 0 with *result (QP_CREATE_TRANSFER_OK: the intent's id in
 * intent_id; else the ledger refused the hold and nothing was made),
 * QP_ENOTSUP (no auth or ledger module), QP_ENOTFOUND (no such user),
 * QP_EINVAL (a bad argument), or a store or ledger error. */
int qp_auth_intent_create(const char *user_id, qp_u128 debit, qp_u128 credit, qp_u128 amount,
                          uint32_t ledger, const char *currency, const char *payee_name,
                          const char *order_id, uint32_t expires_in_s, char intent_id[33],
                          uint32_t *result);

#endif
