/*
 * pay_bench.h - quipu-payments-bench (issue 16, "Speed"): orders paid per
 * second end to end over HTTP, beside the same node's raw ledger rate.
 *
 * A real `quipu node` with the ledger, auth and payments modules in a temp
 * dir (bench_node.c), a merchant on a settlement account, payers with
 * funded accounts and one passkey each (the software authenticator of
 * bench_authn.c, ES256 and EdDSA alternately).  Per order, one lane (a
 * thread with its own keep-alive connection) does what a shop and a wallet
 * do: POST /v1/orders, POST /v1/payment-intents for it (order_id = the
 * order, credit = the settlement account), POST .../challenge, signs an
 * assertion over the challenge, POST .../confirm, then GET /v1/orders/{id}
 * until it reads paid.  Then the same lanes send simple transfers (POST
 * /v1/transfers, batches of 1) for the ledger's raw rate in the same run.
 * At the end the ledger is read back: every paid order moved exactly its
 * amount once, and the ledger audit's invariant holds.
 *
 * Collect by payment code: one wallet device per collect is enrolled first
 * (POST /v1/devices for a payer, timed: devices/s), then per collect the
 * shop's lane makes an order and collects it with the device's current
 * code (computed here with qp_paycode_make, as a wallet does): POST
 * /v1/orders/{id}/collect answers the order paid at once (the node's
 * collect_without_confirmation_max is above every amount, no risk module).
 * A code works once per device and 30 s step, hence one device per collect.
 *
 * The pieces: pb_setup.c (node, accounts, users, merchant), pb_flow.c (the
 * lanes), pb_collect.c (devices and collects), pb_check.c (the ledger read
 * back), pb_main.c (flags), pb_phases.c (phases, RESULT lines).
 */
#ifndef QPB_PAY_BENCH_H
#define QPB_PAY_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "bench.h"
#include "bench_authn.h"
#include "bench_int.h"

#define PB_USERS_MAX 4096u    /* payers of one run (the node's challenge slots bound it) */
#define PB_ORDERS_MAX 1000000u /* orders of one run */
#define PB_LANES_MAX 128u     /* concurrent connections (threads) */
#define PB_COLLECTS_MAX 100000u /* collects of one run (a device each: numbers are 6 digits) */
#define PB_LEDGER 840u
#define PB_FUNDING_ACCOUNT 1u    /* funds every payer */
#define PB_SETTLEMENT_ACCOUNT 2u /* the merchant's settlement account */
#define PB_RAW_DEBIT 3u          /* the raw ledger phase's transfers: from */
#define PB_RAW_CREDIT 4u         /* to */
#define PB_PAYER0 1000u          /* user u pays from account PB_PAYER0 + u */
#define PB_FUNDING 1000000000ull /* minor units given to each payer */

typedef struct pb_config {
  const char *quipu;  /* path of the quipu binary */
  const char *tmp_dir; /* where the node's home goes */
  uint32_t orders;    /* orders paid end to end */
  uint32_t collects;  /* orders collected by payment code (one device each) */
  uint32_t transfers; /* simple transfers of the raw ledger phase */
  uint32_t users;     /* payers (a multiple of lanes: a user stays on one lane) */
  uint32_t lanes;     /* concurrent keep-alive connections, one thread each */
  bool quick;         /* --quick */
  bool keep;          /* keep the node's directory */
} pb_config_t;

typedef struct pb_user {
  char id[40];      /* the auth module's user id */
  uint64_t account; /* its payer account */
  qb_authn_t authn; /* its passkey */
  uint64_t paid;    /* sum of its paid orders (checked against the ledger) */
} pb_user_t;

typedef struct pb_order {
  uint32_t user;      /* index of the payer */
  uint64_t amount;    /* minor units, 1..10000 */
  char id[40];        /* the order id */
  uint64_t flow_ns;   /* POST /v1/orders to the GET that read paid */
  uint32_t polls;     /* GETs until paid */
  bool paid;          /* read paid with this amount */
  uint32_t device;    /* collects: the device's number */
  uint8_t secret[32]; /* collects: the device's secret */
  uint64_t call_ns;   /* collects: the POST .../collect alone */
} pb_order_t;

/* What the lanes run. */
typedef enum pb_phase {
  PB_PHASE_PAY,      /* order, intent, challenge, sign, confirm, read until paid */
  PB_PHASE_TRANSFER, /* one simple transfer a request: the ledger's raw rate */
  PB_PHASE_ENROLL,   /* POST /v1/devices: the collect's device for its payer */
  PB_PHASE_COLLECT,  /* order, then POST /v1/orders/{id}/collect with the device's code */
} pb_phase_t;

/* One call that must answer want: its answer in *out (the caller's), or
 * QP_EIO printed.  Takes body. */
int pb_expect(void *e, const qb_node_t *n, const char *method, const char *path, json_t *body,
              long want, json_t **out);
/* Enrolls o's device for its payer (pb_collect.c): o->device, o->secret. */
int pb_enroll_one(void *e, const qb_node_t *n, const pb_user_t *users, pb_order_t *o);
/* Makes order o for merchant_id and collects it with its device's code:
 * o->id, o->paid, o->flow_ns, o->call_ns. */
int pb_collect_one(void *e, const qb_node_t *n, const char *merchant_id, pb_order_t *o);

/* Starts the node (ledger, auth, payments) and makes the accounts, the
 * funded payers, the users with their passkeys and the merchant, whose id
 * goes into merchant_id.  Returns 0, QP_EIO (printed) or QP_ENOMEM. */
int pb_setup(const pb_config_t *cfg, qb_node_t *n, pb_user_t *users, char *merchant_id,
             size_t merchant_id_size);

/* Runs count items of phase over cfg->lanes threads (item i on lane
 * i % lanes).  *elapsed_ns is the first request to the last answer.
 * Returns 0, or QP_EIO (an unexpected answer: printed) or QP_ENOMEM. */
int pb_run(const pb_config_t *cfg, const qb_node_t *n, pb_user_t *users, const char *merchant_id,
           pb_order_t *orders, uint32_t count, pb_phase_t phase, uint64_t *elapsed_ns);

/* Reads the ledger back: the settlement account was credited exactly the
 * sum of the orders and the raw transfers' account their count; every
 * payer's debits_posted is what it paid, nothing pending anywhere; every
 * order reads paid with its amount; the audit's invariant_ok.  Prints each
 * difference.  Returns 0, QP_ECORRUPT or QP_EIO. */
int pb_check(const pb_config_t *cfg, const qb_node_t *n, const pb_user_t *users,
             const pb_order_t *orders, const pb_order_t *collects, uint32_t transfers);

#endif
