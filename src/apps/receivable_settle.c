/*
 * receivable_settle.c - settling into the ledger (docs/apps.md,
 * "Settlement"): settle makes a tree's maturity record (one payment per
 * live leaf, obligor -> holder, leaves in id order), all or nothing; the
 * clearing participant that ran the ledger transfers confirms a pending
 * record (the leaves read settled, a finance is paid) or reports a
 * shortfall (the tree is overdue and may be settled again; a finance is
 * undone: the part goes back to the seller, active).
 */
#include <stdio.h>
#include <string.h>

#include "apps/receivable_int.h"
#include "base/err.h"

/* The tree may be settled now: its status, maturity and attempts. */
static int settle_check(rcv_t *c) {
  const json_t *t = c->tree;
  const char *status = qp__apps_str(t, "status"), *root = qp__apps_str(t, "root");
  if (strcmp(status, "settled") == 0)
    return qp__apps_refuse(c->e, "voucher_not_active", "the tree of %s is settled", root);
  if (strcmp(status, "settling") == 0)
    return qp__apps_refuse(c->e, "settlement_pending", "the tree of %s waits for %s", root,
                           qp__apps_str(t, "pending"));
  if (c->v->time_s < qp__apps_uint(t, "maturity"))
    return qp__apps_refuse(c->e, "not_mature", "the tree of %s matures at %llu (block time "
                           "%llu)", root, (unsigned long long)qp__apps_uint(t, "maturity"),
                           (unsigned long long)c->v->time_s);
  if (qp__apps_uint(t, "attempts") >= QP_APPS_TREE_ATTEMPTS_MAX)
    return qp__apps_refuse(c->e, "too_many_attempts", "the tree of %s had %u settlement "
                           "attempts, the most it may have", root, QP_APPS_TREE_ATTEMPTS_MAX);
  return 0;
}

/* The payment of one leaf (NULL for a split voucher); refuses a leaf whose
 * finance is not confirmed or short yet. */
static int leaf_payment(rcv_t *c, const char *id, json_t *payments) {
  int rc = 0;
  json_t *v = rcv_get(c->v, "v/", id, &rc);
  if (v == NULL) return rc == QP_ENOTFOUND ? QP_ECORRUPT : rc;
  const json_t *fin = json_object_get(v, "finance");
  if (strcmp(qp__apps_str(v, "state"), "split") == 0) {
    rc = 0;
  } else if (fin != NULL && strcmp(qp__apps_str(fin, "status"), "pending") == 0) {
    rc = qp__apps_refuse(c->e, "settlement_pending", "the finance of %s (%s) is not settled "
                         "yet", id, qp__apps_str(fin, "settlement"));
  } else {
    json_t *p = json_pack("{s:I, s:s, s:O, s:O, s:s}", "index",
                          (json_int_t)json_array_size(payments), "from",
                          qp__apps_str(c->tree, "obligor"), "to", json_object_get(v, "holder"),
                          "amount", json_object_get(v, "amount"), "voucher", id);
    rc = p != NULL && json_array_append_new(payments, p) == 0 ? 0 : QP_ENOMEM;
  }
  json_decref(v);
  return rc;
}

int rcv_settle(rcv_t *c, const json_t *args) {
  static const char *const allowed[] = {"voucher"};
  qp__apps_why_t w;
  if (qp__apps_args_only(args, allowed, 1, &w)) return qp__apps_fail(c->e, &w);
  int rc = rcv_sender(c);
  if (rc == 0) rc = rcv_load(c, args);
  if (rc == 0) rc = settle_check(c);
  if (rc != 0) return rc;
  json_t *t = c->tree, *payments = json_array(), *vouchers = json_object_get(t, "vouchers");
  rc = payments == NULL ? QP_ENOMEM : 0;
  for (size_t i = 0; rc == 0 && i < json_array_size(vouchers); i++)
    rc = leaf_payment(c, json_string_value(json_array_get(vouchers, i)), payments);
  uint64_t attempt = qp__apps_uint(t, "attempts") + 1, seq = qp__apps_uint(t, "seq") + 1;
  char sid[QP__APPS_ID_MAX + 1];
  snprintf(sid, sizeof sid, "mat-%s-%llu", qp__apps_str(t, "root"), (unsigned long long)attempt);
  json_t *stored = rc == 0 ? json_pack("{s:{s:s, s:s, s:O, s:s, s:O, s:[], s:I}, s:O, s:I}",
                                       "record", "settlement", sid, "kind", "maturity",
                                       "ledger", json_object_get(t, "ledger"), "status",
                                       "pending", "payments", payments, "transfers", "height",
                                       (json_int_t)c->v->height, "root",
                                       json_object_get(t, "root"), "seq", (json_int_t)seq)
                           : NULL;
  if (rc == 0 && (stored == NULL ||
                  json_object_set_new(t, "status", json_string("settling")) != 0 ||
                  json_object_set_new(t, "pending", json_string(sid)) != 0 ||
                  json_object_set_new(t, "attempts", json_integer((json_int_t)attempt)) != 0 ||
                  json_object_set_new(t, "seq", json_integer((json_int_t)seq)) != 0 ||
                  json_array_append_new(json_object_get(t, "settlements"), json_string(sid))))
    rc = QP_ENOMEM;
  json_decref(payments);
  if (rc == 0) rc = rcv_put_tree(c);
  if (rc == 0) rc = rcv_settlement_new(c, stored);
  else json_decref(stored);
  return rc;
}

/* The clearing sender and the pending settlement args.settlement into
 * *stored (the caller's). */
static int decision_load(rcv_t *c, const json_t *args, json_t **stored) {
  qp__apps_why_t w;
  char sid[QP__APPS_ID_MAX + 1];
  *stored = NULL;
  int rc = qp__apps_role(c->v, c->sender, c->role);
  if (rc == QP_ENOTFOUND || (rc == 0 && strcmp(c->role, "clearing") != 0))
    return qp__apps_refuse(c->e, "not_clearing", "only a participant registered as clearing "
                           "confirms settlements and reports shortfalls");
  if (rc != 0) return rc;
  if (qp__apps_arg_settlement(args, "settlement", sid, &w)) return qp__apps_fail(c->e, &w);
  json_t *s = rcv_settlement_get(c->v, sid, &rc);
  if (rc == QP_ENOTFOUND)
    return qp__apps_refuse(c->e, "unknown_settlement", "no settlement record has the id %s",
                           sid);
  if (rc != 0) return rc;
  const json_t *record = json_object_get(s, "record");
  if (strcmp(qp__apps_str(record, "status"), "pending") != 0) {
    rc = qp__apps_refuse(c->e, "settlement_not_pending", "%s is %s already", sid,
                         qp__apps_str(record, "status"));
    json_decref(s);
    return rc;
  }
  c->tree = rcv_get(c->v, "t/", qp__apps_str(s, "root"), &rc);
  if (rc == 0 && json_object_get(s, "voucher") != NULL)
    c->voucher = rcv_get(c->v, "v/", qp__apps_str(s, "voucher"), &rc);
  if (rc != 0) {
    json_decref(s);
    return rc == QP_ENOTFOUND ? QP_ECORRUPT : rc;
  }
  *stored = s;
  return 0;
}

/* Decides the stored settlement: its status, the tree's or the voucher's
 * consequence, the writes and the event. */
static int decide(rcv_t *c, json_t *s, bool confirmed, const char *reason);

int rcv_confirm(rcv_t *c, const json_t *args) {
  static const char *const allowed[] = {"settlement", "transfers"};
  qp__apps_why_t w;
  const json_t *transfers = NULL;
  json_t *s = NULL;
  if (qp__apps_args_only(args, allowed, 2, &w)) return qp__apps_fail(c->e, &w);
  int rc = decision_load(c, args, &s);
  if (rc != 0) return rc;
  json_t *record = json_object_get(s, "record");
  size_t payments = json_array_size(json_object_get(record, "payments"));
  if (qp__apps_arg_decimals(args, "transfers", payments, &transfers, &w)) {
    json_decref(s);
    return qp__apps_fail(c->e, &w);
  }
  rc = json_object_set(record, "transfers", (json_t *)transfers) == 0 ? 0 : QP_ENOMEM;
  if (rc == 0) rc = decide(c, s, true, NULL);
  json_decref(s);
  return rc;
}

int rcv_shortfall(rcv_t *c, const json_t *args) {
  static const char *const allowed[] = {"settlement", "reason"};
  qp__apps_why_t w;
  const char *reason = NULL;
  json_t *s = NULL;
  if (qp__apps_args_only(args, allowed, 2, &w) ||
      qp__apps_arg_text(args, "reason", 1, QP_APPS_REASON_MAX, false, &reason, &w))
    return qp__apps_fail(c->e, &w);
  int rc = decision_load(c, args, &s);
  if (rc == 0) rc = decide(c, s, false, reason);
  json_decref(s);
  return rc;
}

/* A maturity record decided: the tree is settled (and the core owes that
 * much less) or overdue. */
static int decide_maturity(rcv_t *c, bool confirmed) {
  json_t *t = c->tree;
  uint64_t seq = qp__apps_uint(t, "seq") + 1;
  if (json_object_set_new(t, "status", json_string(confirmed ? "settled" : "overdue")) != 0 ||
      json_object_del(t, "pending") != 0 ||
      json_object_set_new(t, "seq", json_integer((json_int_t)seq)) != 0)
    return QP_ENOMEM;
  int rc = rcv_put_tree(c);
  if (rc != 0 || !confirmed) return rc;
  qp_u128 owed = 0, amount = 0;
  char key[RCV_KEY_MAX];
  rc = rcv_outstanding(c->v, qp__apps_str(t, "obligor"), qp__apps_uint(t, "ledger"), &owed,
                       key);
  if (rc == 0 && (!qp__apps_u128_of(t, "amount", &amount) || amount > owed)) rc = QP_ECORRUPT;
  if (rc == 0) rc = rcv_put_amount(c, key, owed - amount);
  return rc;
}

/* A finance record decided: paid, or undone (back to the seller). */
static int decide_finance(rcv_t *c, bool confirmed) {
  json_t *v = c->voucher, *fin = json_object_get(v, "finance");
  int rc = json_is_object(fin) ? 0 : QP_ECORRUPT;
  if (rc == 0 && json_object_set_new(fin, "status",
                                     json_string(confirmed ? "confirmed" : "short")) != 0)
    rc = QP_ENOMEM;
  if (rc == 0 && !confirmed &&
      (json_object_set(v, "holder", json_object_get(v, "seller")) != 0 ||
       json_object_del(v, "seller") != 0 ||
       json_object_set_new(v, "state", json_string("active")) != 0))
    rc = QP_ENOMEM;
  if (rc == 0) rc = rcv_history(c, v, confirmed ? "finance_confirmed" : "finance_short",
                                json_pack("{s:O}", "settlement",
                                          json_object_get(fin, "settlement")));
  if (rc == 0) rc = rcv_put_voucher(c, v);
  if (rc == 0) rc = rcv_put_tree(c);
  return rc;
}

static int decide(rcv_t *c, json_t *s, bool confirmed, const char *reason) {
  json_t *record = json_object_get(s, "record");
  bool maturity = strcmp(qp__apps_str(record, "kind"), "maturity") == 0;
  const char *status = confirmed ? "confirmed" : "short";
  int rc = maturity ? decide_maturity(c, confirmed) : decide_finance(c, confirmed);
  if (rc == 0 && (json_object_set_new(record, "status", json_string(status)) != 0 ||
                  json_object_set_new(s, "decided_height",
                                      json_integer((json_int_t)c->v->height)) != 0 ||
                  json_object_set(s, "decided_seq", json_object_get(c->tree, "seq")) != 0 ||
                  (reason != NULL && json_object_set_new(s, "reason", json_string(reason)))))
    rc = QP_ENOMEM;
  char key[RCV_KEY_MAX];
  snprintf(key, sizeof key, "s/%s", qp__apps_str(record, "settlement"));
  if (rc == 0) rc = qp__apps_put(c->e, key, s);
  json_t *ev = rc == 0 ? json_deep_copy(record) : NULL;
  if (rc == 0 && (ev == NULL ||
                  (reason != NULL && json_object_set_new(ev, "reason", json_string(reason)))))
    rc = QP_ENOMEM;
  if (rc == 0) {
    rc = qp_chain_effects_event(c->e, confirmed ? "settlement_confirmed" : "settlement_short",
                                ev);
    ev = NULL;
  }
  json_decref(ev);
  if (rc == 0 && (json_object_set(c->e->result, "settlement",
                                  json_object_get(record, "settlement")) != 0 ||
                  json_object_set_new(c->e->result, "status", json_string(status)) != 0))
    rc = QP_ENOMEM;
  return rc;
}
