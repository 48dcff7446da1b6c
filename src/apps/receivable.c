/*
 * receivable.c - the `receivable` app (docs/apps.md, "receivable"):
 * receivable vouchers a core enterprise issues to a supplier, split and
 * transferred down the tiers, financed at a funder and settled into the
 * ledger at maturity.  This file dispatches the methods and holds issue
 * and transfer; finance and accept_finance are in receivable_finance.c,
 * settle, confirm_settlement and report_shortfall in receivable_settle.c.
 */
#include <stdio.h>
#include <string.h>

#include "apps/receivable_int.h"
#include "base/err.h"

/* The decoded arguments of issue. */
typedef struct issue {
  char to[QP__APPS_HEX_MAX + 1]; /* the first holder */
  qp_u128 amount;                /* the amount owed */
  uint64_t ledger, maturity;     /* where and when it is paid */
  const char *reference;         /* the invoice's reference (borrowed from args) */
} issue_t;

static int issue_args(rcv_t *c, const json_t *args, issue_t *a) {
  static const char *const allowed[] = {"to", "amount", "ledger", "maturity", "reference"};
  qp__apps_why_t w;
  char role[16];
  if (qp__apps_args_only(args, allowed, 5, &w) || qp__apps_arg_amount(args, "amount",
                                                                      &a->amount, &w) ||
      qp__apps_arg_uint(args, "ledger", 1, UINT32_MAX, &a->ledger, &w) ||
      qp__apps_arg_uint(args, "maturity", 0, (uint64_t)1 << 53, &a->maturity, &w) ||
      qp__apps_arg_text(args, "reference", 1, QP_APPS_TEXT_MAX, false, &a->reference, &w))
    return qp__apps_fail(c->e, &w);
  int rc = rcv_sender(c);
  if (rc == 0 && strcmp(c->role, "core") != 0)
    rc = qp__apps_refuse(c->e, "not_core", "only a core enterprise issues vouchers (the sender "
                         "is registered as %s)", c->role);
  if (rc == 0) rc = rcv_party(c, args, "to", a->to, role);
  return rc;
}

/* The core's outstanding total on the ledger after this issue must stay
 * within its live credit lines there; *after and key for the write. */
static int credit_check(rcv_t *c, const issue_t *a, qp_u128 *after, char key[RCV_KEY_MAX]) {
  qp_u128 before = 0, live = 0;
  int rc = rcv_outstanding(c->v, c->sender, a->ledger, &before, key);
  if (rc == 0) rc = qp__apps_credit_live(c->v, c->sender, (uint32_t)a->ledger, c->v->time_s,
                                         &live);
  if (rc != 0) return rc;
  if (qp_u128_add_overflow(before, a->amount, after) || *after > live) {
    char b[QP_U128_BUF_SIZE], l[QP_U128_BUF_SIZE];
    qp_u128_format(before, b);
    qp_u128_format(live, l);
    return qp__apps_refuse(c->e, "credit_line_exceeded", "the core's outstanding %s plus "
                           "args.amount would pass its live credit lines on ledger %llu (%s)",
                           b, (unsigned long long)a->ledger, l);
  }
  return 0;
}

/* The tree index entry of a new tree. */
static int tree_index(rcv_t *c, const char *root) {
  uint64_t n = 0;
  char key[RCV_KEY_MAX];
  int rc = qp__apps_counter(c->v, "tn", &n);
  json_t *o = json_pack("{s:s}", "id", root);
  snprintf(key, sizeof key, "ti/%llu", (unsigned long long)(n + 1));
  if (rc == 0) rc = o == NULL ? QP_ENOMEM : qp__apps_put(c->e, key, o);
  if (rc == 0) rc = qp__apps_put_counter(c->e, "tn", n + 1);
  json_decref(o);
  return rc;
}

int rcv_issue(rcv_t *c, const json_t *args) {
  issue_t a;
  char key[RCV_KEY_MAX];
  qp_u128 after = 0;
  int rc = issue_args(c, args, &a);
  if (rc == 0) rc = credit_check(c, &a, &after, key);
  if (rc != 0) return rc;
  c->tree = json_pack("{s:s, s:s, s:I, s:I, s:s, s:o, s:[], s:s, s:I, s:[], s:I}", "root", "",
                      "obligor", c->sender, "ledger", (json_int_t)a.ledger, "maturity",
                      (json_int_t)a.maturity, "reference", a.reference, "amount",
                      qp__apps_u128_json(a.amount), "vouchers", "status", "open", "attempts",
                      (json_int_t)0, "settlements", "seq", (json_int_t)0);
  if (c->tree == NULL) return QP_ENOMEM;
  rc = rcv_child(c, NULL, a.to, a.amount, &c->voucher);
  const char *id = qp__apps_str(c->voucher, "voucher");
  if (rc == 0) rc = rcv_put_voucher(c, c->voucher);
  if (rc == 0) rc = rcv_put_tree(c);
  if (rc == 0) rc = rcv_put_next(c);
  if (rc == 0) rc = tree_index(c, id);
  if (rc == 0) rc = rcv_put_amount(c, key, after);
  if (rc == 0 && json_object_set_new(c->e->result, "voucher", json_string(id)) != 0)
    rc = QP_ENOMEM;
  json_t *ev = rc == 0 ? json_pack("{s:s, s:s, s:s, s:O, s:I, s:I, s:s}", "voucher", id,
                                   "obligor", c->sender, "holder", a.to, "amount",
                                   json_object_get(c->voucher, "amount"), "ledger",
                                   (json_int_t)a.ledger, "maturity", (json_int_t)a.maturity,
                                   "reference", a.reference)
                       : NULL;
  if (rc == 0) rc = ev == NULL ? QP_ENOMEM : qp_chain_effects_event(c->e, "voucher_issued", ev);
  return rc;
}

int rcv_transfer(rcv_t *c, const json_t *args) {
  static const char *const allowed[] = {"voucher", "to", "amount"};
  qp__apps_why_t w;
  char to[QP__APPS_HEX_MAX + 1], role[16];
  qp_u128 amount = 0;
  if (qp__apps_args_only(args, allowed, 3, &w) ||
      qp__apps_arg_amount(args, "amount", &amount, &w))
    return qp__apps_fail(c->e, &w);
  int rc = rcv_sender(c);
  if (rc == 0) rc = rcv_load(c, args);
  if (rc == 0) rc = rcv_party(c, args, "to", to, role);
  if (rc == 0) rc = rcv_holder_active(c, false);
  json_t *part = NULL, *rest = NULL;
  if (rc == 0) rc = rcv_split(c, amount, to, &part, &rest);
  if (rc == 0) rc = rcv_put_voucher(c, c->voucher);
  if (rc == 0) rc = rcv_put_voucher(c, part);
  if (rc == 0 && rest != NULL) rc = rcv_put_voucher(c, rest);
  if (rc == 0) rc = rcv_put_tree(c);
  if (rc == 0) rc = rcv_put_next(c);
  json_t *r = rc == 0 ? json_pack("{s:O}", "to_voucher", json_object_get(part, "voucher"))
                      : NULL;
  if (r != NULL && rest != NULL) json_object_set(r, "rest_voucher",
                                                 json_object_get(rest, "voucher"));
  if (rc == 0 && (r == NULL || json_object_update(c->e->result, r) != 0)) rc = QP_ENOMEM;
  if (rc == 0 && (json_object_set(r, "voucher", json_object_get(c->voucher, "voucher")) != 0 ||
                  json_object_set_new(r, "from", json_string(c->sender)) != 0 ||
                  json_object_set_new(r, "to", json_string(to)) != 0 ||
                  json_object_set(r, "amount", json_object_get(part, "amount")) != 0))
    rc = QP_ENOMEM;
  if (rc == 0) rc = qp_chain_effects_event(c->e, "voucher_transferred", json_incref(r));
  json_decref(r);
  json_decref(part);
  json_decref(rest);
  return rc;
}

static int receivable_method(rcv_t *c, const json_t *args) {
  static const struct {
    const char *name;                        /* the method */
    int (*run)(rcv_t *c, const json_t *args); /* what it does */
  } METHODS[] = {{"issue", rcv_issue},         {"transfer", rcv_transfer},
                 {"finance", rcv_finance},     {"accept_finance", rcv_accept},
                 {"settle", rcv_settle},       {"confirm_settlement", rcv_confirm},
                 {"report_shortfall", rcv_shortfall}};
  static const char *const QUERIES[] = {"voucher", "holdings", "exposure", "history",
                                        "settlements", "settlement"};
  for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++)
    if (strcmp(c->tx->method, METHODS[i].name) == 0) return METHODS[i].run(c, args);
  for (size_t i = 0; i < sizeof QUERIES / sizeof QUERIES[0]; i++)
    if (strcmp(c->tx->method, QUERIES[i]) == 0)
      return qp__apps_refuse(c->e, "query_only", "%s is a query (POST /v1/chain/query)",
                             QUERIES[i]);
  return qp__apps_refuse(c->e, "unknown_method", "receivable has issue, transfer, finance, "
                         "accept_finance, settle, confirm_settlement and report_shortfall");
}

int qp__apps_receivable_execute(const qp_chain_view_t *v, const qp_chain_tx_t *tx,
                                const json_t *args, qp_chain_effects_t *e) {
  rcv_t c;
  rcv_init(&c, v, tx, e);
  int rc = receivable_method(&c, args);
  rcv_deinit(&c);
  return rc > 0 ? 0 : rc;
}

const qp_chain_app_t qp_apps_receivable = {QP_APPS_RECEIVABLE, qp__apps_receivable_execute,
                                           qp__apps_receivable_query};
