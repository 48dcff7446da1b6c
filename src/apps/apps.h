/*
 * apps.h - the chain's built-in business apps (docs/apps.md): `registry`
 * (participants and credit lines) and `receivable` (receivable vouchers of
 * supply-chain finance: issued, split, transferred, financed and settled
 * into the ledger).  Like kv, gov and lua (chain/app.h) they are pure
 * functions of (state, transaction): integers only, the block's time as
 * their only clock, every refusal a failed receipt that changes nothing.
 */
#ifndef QP_APPS_APPS_H
#define QP_APPS_APPS_H

#include "chain/app.h"

#define QP_APPS_REGISTRY "registry"     /* the registry app's name */
#define QP_APPS_RECEIVABLE "receivable" /* the receivable app's name */

/* Limits every node applies the same way (docs/apps.md, "Limits"). */
#define QP_APPS_ROLE_MEMBERS_MAX 400u   /* participants of one role (one record < 64 KiB) */
#define QP_APPS_CORE_LINES_MAX 64u      /* credit lines of one core enterprise */
#define QP_APPS_TREE_VOUCHERS_MAX 127u  /* vouchers of one tree (so <= 64 leaves) */
#define QP_APPS_TREE_ATTEMPTS_MAX 64u   /* maturity settlement records of one tree */
#define QP_APPS_TEXT_MAX 128u           /* bytes of a name or a reference */
#define QP_APPS_REASON_MAX 256u         /* bytes of a shortfall's reason */
#define QP_APPS_LISTED_MAX 1000u        /* elements one list query answers */
#define QP_APPS_SCAN_MAX 100000u        /* records one query reads */

/* registry: register {key, name, role}, grant_credit {core, amount,
 * ledger, expiry}; queries participant {key}, participants {role?}. */
extern const qp_chain_app_t qp_apps_registry;

/* receivable: issue, transfer, finance, accept_finance, settle,
 * confirm_settlement, report_shortfall; queries voucher, holdings,
 * exposure, history, settlements, settlement. */
extern const qp_chain_app_t qp_apps_receivable;

#endif
