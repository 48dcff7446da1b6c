/*
 * receivable_int.h - the receivable app's records and the steps its
 * transactions share (receivable_tree.c).
 *
 * Keys of the app (records are JSON, see docs/apps.md "State"):
 *   "vn"            the last voucher number        "v/" id  -> voucher
 *   "tn"            trees issued                    "ti/" n  -> {"id": root}
 *   "t/" root       the tree of root: its vouchers, maturity status, attempts
 *   "sn"            settlement records made         "si/" n  -> {"id": settlement}
 *   "s/" id         {"record": the record of the CONTRACT, "seq", "root", ...}
 *   "o/" core "/" ledger   the core's outstanding amount on ledger (decimal)
 *
 * A voucher's stored state is active, split, financing or financed; a
 * voucher that is not split is a live leaf of its tree, and while its tree
 * is settling, settled or overdue it reads as that (the tree's status), so
 * a settlement changes one tree record, not every leaf.  Every event of a
 * tree (a voucher's own, kept in its "history", or a maturity settlement's)
 * takes the next number of the tree's "seq": history{} merges them by it.
 */
#ifndef QP_APPS_RECEIVABLE_INT_H
#define QP_APPS_RECEIVABLE_INT_H

#include "apps/apps_int.h"

#define RCV_KEY_MAX (8u + QP__APPS_HEX_MAX + 16u) /* the longest key ("o/" hex "/" u32) */

/* One transaction's working set: the sender and the records it loaded. */
typedef struct rcv {
  const qp_chain_view_t *v;            /* the app's view */
  const qp_chain_tx_t *tx;             /* the transaction */
  qp_chain_effects_t *e;               /* its effects */
  char sender[QP__APPS_HEX_MAX + 1];   /* the sender's key, hex */
  char role[16];                       /* its role (after rcv_sender) */
  json_t *voucher;                     /* owned: the voucher named by the args, or NULL */
  json_t *tree;                        /* owned: its tree, or NULL */
  uint64_t next;                       /* the last voucher number ("vn") */
  bool next_loaded;                    /* next was read */
} rcv_t;

void rcv_init(rcv_t *c, const qp_chain_view_t *v, const qp_chain_tx_t *tx,
              qp_chain_effects_t *e);
void rcv_deinit(rcv_t *c);

/* The sender must be registered (not_registered); its role into c->role. */
int rcv_sender(rcv_t *c);
/* Loads args.voucher and its tree (bad_args, unknown_voucher). */
int rcv_load(rcv_t *c, const json_t *args);
/* The sender must hold the loaded voucher (not_holder) and it must be an
 * active leaf of an open tree (voucher_not_active; for a finance, one
 * financing or financed already is already_financed). */
int rcv_holder_active(rcv_t *c, bool finance);
/* A registered participant named by args.field (bad_args, not_registered);
 * its role into role. */
int rcv_party(rcv_t *c, const json_t *args, const char *field,
              char hex[QP__APPS_HEX_MAX + 1], char role[16]);

/* The state a voucher reads as (its tree's status for a live leaf). */
const char *rcv_state(const json_t *voucher, const json_t *tree);
/* Appends {seq, height, type, ...fields (stolen)} to voucher's history. */
int rcv_history(rcv_t *c, json_t *voucher, const char *type, json_t *fields);
/* A new voucher, child of parent (NULL: a root), held by holder: its id
 * into id, the object (the caller's) into *out; appended to the tree's
 * vouchers and the parent's children (tree_full past the bound). */
int rcv_child(rcv_t *c, json_t *parent, const char *holder, qp_u128 amount, json_t **out);
/* Splits the loaded voucher into a part of amount held by to (and the
 * rest, held by the sender, when amount is less): *part and *rest (NULL
 * when none) are the caller's.  amount_invalid above the voucher. */
int rcv_split(rcv_t *c, qp_u128 amount, const char *to, json_t **part, json_t **rest);
/* Writes a voucher, the tree, the voucher counter. */
int rcv_put_voucher(rcv_t *c, const json_t *voucher);
int rcv_put_tree(rcv_t *c);
int rcv_put_next(rcv_t *c);
/* A voucher or tree record by id (QP_ENOTFOUND when none). */
json_t *rcv_get(const qp_chain_view_t *v, const char *prefix, const char *id, int *rc);
/* The core's outstanding amount on ledger, and its key. */
int rcv_outstanding(const qp_chain_view_t *v, const char *core, uint64_t ledger, qp_u128 *out,
                    char key[RCV_KEY_MAX]);
int rcv_put_amount(rcv_t *c, const char *key, qp_u128 amount);
/* Stores a new settlement record (pending) with the index entries and the
 * settlement_requested event; stored is stolen. */
int rcv_settlement_new(rcv_t *c, json_t *stored);
/* The stored settlement id (QP_ENOTFOUND when none). */
json_t *rcv_settlement_get(const qp_chain_view_t *v, const char *id, int *rc);

/* Methods (receivable.c, receivable_finance.c, receivable_settle.c);
 * each returns 0, QP__APPS_REFUSED or an error. */
int rcv_issue(rcv_t *c, const json_t *args);
int rcv_transfer(rcv_t *c, const json_t *args);
int rcv_finance(rcv_t *c, const json_t *args);
int rcv_accept(rcv_t *c, const json_t *args);
int rcv_settle(rcv_t *c, const json_t *args);
int rcv_confirm(rcv_t *c, const json_t *args);
int rcv_shortfall(rcv_t *c, const json_t *args);

#endif
