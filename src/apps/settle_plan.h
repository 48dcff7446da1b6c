/*
 * settle_plan.h - the pure core of the settlement agent (`quipu settle`,
 * docs/apps.md, "Settlement"): a settlement record of the receivable app
 * and the participants' account map become one linked batch of ledger
 * transfers whose ids are derived from the record alone, so a retry, a
 * restart or a second agent sends the very same transfers and the ledger
 * answers `exists` instead of paying twice.  It also reads the ledger's
 * answers (created, already there, short of funds, refused).  No I/O and
 * no clock: the agent (src/cli/cmd_settle.c) does the talking.
 */
#ifndef QP_APPS_SETTLE_PLAN_H
#define QP_APPS_SETTLE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/u128.h"

#define QP_SETTLE_PAYMENTS_MAX 8190u  /* one ledger batch (QP_BATCH_EVENTS_MAX) */
#define QP_SETTLE_ID_MAX 64u          /* bytes of a settlement id */
#define QP_SETTLE_KEY_HEX_MAX 130u    /* hex digits of a public key (sm2: 65 bytes) */
#define QP_SETTLE_GENESIS_SIZE 32u    /* the network's genesis hash */
#define QP_SETTLE_CODE_FINANCE 1u     /* ledger transfer code of a finance payment */
#define QP_SETTLE_CODE_MATURITY 2u    /* ledger transfer code of a maturity payment */

/* One payment of a record, with the ledger transfer that carries it. */
typedef struct qp_settle_payment {
  char from[QP_SETTLE_KEY_HEX_MAX + 1]; /* payer's public key hex */
  char to[QP_SETTLE_KEY_HEX_MAX + 1];   /* payee's public key hex */
  qp_u128 amount;                       /* > 0, minor units */
  qp_u128 transfer_id;                  /* derived: qp_settle_transfer_id */
  qp_u128 debit_account;                /* the payer's account on the ledger (MAP) */
  qp_u128 credit_account;               /* the payee's account on the ledger (MAP) */
} qp_settle_payment_t;

/* A record made ready for the ledger.  Invariant: 1 <= count <=
 * QP_SETTLE_PAYMENTS_MAX and payments[i] is the record's payment i. */
typedef struct qp_settle_plan {
  char settlement[QP_SETTLE_ID_MAX + 1]; /* the record's id, e.g. "mat-v1-1" */
  bool maturity;                         /* kind: maturity (else finance) */
  uint32_t ledger;                       /* the ledger the payments are on */
  char status[16];                       /* the record's status when read */
  uint32_t count;                        /* payments */
  qp_settle_payment_t *payments;         /* count of them; owned (qp_settle_plan_free) */
} qp_settle_plan_t;

/* What the ledger's answer to the batch (or a lookup) says. */
typedef enum {
  QP_SETTLE_PAID = 0,    /* every transfer created now or found as planned */
  QP_SETTLE_SHORT = 1,   /* refused for lack of funds (exceeds_credits): nothing moved */
  QP_SETTLE_RETRY = 2,   /* not all done: look the ids up (e.g. `exists`) */
  QP_SETTLE_REFUSED = 3  /* refused for another reason: detail names it */
} qp_settle_outcome_t;

/* The ledger transfer id of payment index of settlement in the network of
 * genesis: the first 16 bytes (little-endian) of SHA-256("quipu-settle-v1"
 * || genesis hash || settlement id || u32 LE index); should they be 0 or
 * 2^128-1 (ids the ledger refuses) the last 16 bytes are used.  Always a
 * valid ledger id. */
qp_u128 qp_settle_transfer_id(const uint8_t genesis[QP_SETTLE_GENESIS_SIZE],
                              const char *settlement, uint32_t index);

/* Checks an account map: {"<public key hex>": {"<ledger u32>": "<account
 * id>"}, …} (ids decimal strings, not 0).  Returns 0 or QP_EINVAL with the
 * field and what is allowed in detail. */
int qp_settle_map_check(const json_t *map, char *detail, size_t detail_size);

/* Makes *out from a settlement record (the receivable app's query answer
 * or the settlement_requested event: extra keys such as "type" are
 * ignored) and a checked map.  Returns 0; QP_EINVAL when the record is not
 * one (detail names the field); QP_ENOTFOUND when a participant or its
 * ledger is missing from the map (detail names them); QP_ENOMEM.  On
 * failure *out holds nothing to free. */
int qp_settle_plan_make(const json_t *record, const json_t *map,
                        const uint8_t genesis[QP_SETTLE_GENESIS_SIZE], qp_settle_plan_t *out,
                        char *detail, size_t detail_size);

/* Releases what plan_make allocated. */
void qp_settle_plan_free(qp_settle_plan_t *plan);

/* The body of POST /v1/transfers: the payments as one linked chain.  New
 * reference (NULL on no memory). */
json_t *qp_settle_plan_transfers(const qp_settle_plan_t *plan);

/* The body of POST /v1/transfers/lookup: {"ids":[…]}.  New reference. */
json_t *qp_settle_plan_lookup(const qp_settle_plan_t *plan);

/* The args of confirm_settlement: {"settlement", "transfers":[ids]}. */
json_t *qp_settle_plan_confirm_args(const qp_settle_plan_t *plan);

/* Reads the ledger's answer to the batch ({"results":[{"index","id",
 * "result"}]}).  detail says what was refused for QP_SETTLE_REFUSED. */
qp_settle_outcome_t qp_settle_plan_results(const qp_settle_plan_t *plan, const json_t *answer,
                                           char *detail, size_t detail_size);

/* Reads the answer to the lookup ({"transfers":[…]}): QP_SETTLE_PAID when
 * every planned transfer is there with its accounts, amount, ledger and
 * code; QP_SETTLE_RETRY when none is; QP_SETTLE_REFUSED (detail) when some
 * are missing or differ. */
qp_settle_outcome_t qp_settle_plan_found(const qp_settle_plan_t *plan, const json_t *answer,
                                         char *detail, size_t detail_size);

#endif
