/*
 * receivable_finance.c - selling a voucher to a funder (docs/apps.md,
 * "Finance"): the holder offers a voucher, or a part it splits off, to a
 * registered funder at a discount; the funder's accept_finance moves it to
 * the funder (financed) and makes the settlement record "fin-<voucher>":
 * the funder pays the seller amount * (10000 - discount_bps) / 10000,
 * rounded down (the remainder stays with the funder).  A voucher is
 * financed once: after an accepted finance (even one undone by a
 * shortfall) it cannot be offered again.
 */
#include <stdio.h>
#include <string.h>

#include "apps/receivable_int.h"
#include "base/err.h"

/* The decoded arguments of finance. */
typedef struct offer {
  char funder[QP__APPS_HEX_MAX + 1]; /* who may accept */
  qp_u128 amount, price;             /* the part offered and what the funder pays */
  uint64_t bps;                      /* the discount in basis points */
} offer_t;

static int finance_args(rcv_t *c, const json_t *args, offer_t *o) {
  static const char *const allowed[] = {"voucher", "funder", "amount", "discount_bps"};
  qp__apps_why_t w;
  char role[16];
  if (qp__apps_args_only(args, allowed, 4, &w) ||
      qp__apps_arg_amount(args, "amount", &o->amount, &w) ||
      qp__apps_arg_uint(args, "discount_bps", 0, 9999, &o->bps, &w))
    return qp__apps_fail(c->e, &w);
  o->price = qp__apps_discounted(o->amount, (uint32_t)o->bps);
  if (o->price == 0)
    return qp__apps_refuse(c->e, "amount_invalid", "args.amount at this discount pays nothing "
                           "(the price rounds down to 0)");
  int rc = rcv_sender(c);
  if (rc == 0) rc = rcv_load(c, args);
  if (rc == 0) rc = rcv_party(c, args, "funder", o->funder, role);
  if (rc == 0 && strcmp(role, "funder") != 0)
    rc = qp__apps_refuse(c->e, "not_funder", "args.funder is registered as %s, not funder",
                         role);
  if (rc == 0) rc = rcv_holder_active(c, true);
  if (rc == 0 && json_object_get(c->voucher, "finance") != NULL)
    rc = qp__apps_refuse(c->e, "already_financed", "%s was financed once already",
                         qp__apps_str(c->voucher, "voucher"));
  return rc;
}

/* Makes target the open offer of o. */
static int offer_open(rcv_t *c, json_t *target, const offer_t *o) {
  json_t *offer = json_pack("{s:s, s:I, s:o}", "funder", o->funder, "discount_bps",
                            (json_int_t)o->bps, "price", qp__apps_u128_json(o->price));
  if (offer == NULL || json_object_set_new(target, "offer", offer) != 0 ||
      json_object_set_new(target, "state", json_string("financing")) != 0)
    return QP_ENOMEM;
  return rcv_history(c, target, "finance_offered", json_deep_copy(offer));
}

int rcv_finance(rcv_t *c, const json_t *args) {
  offer_t o;
  qp_u128 have = 0;
  int rc = finance_args(c, args, &o);
  if (rc != 0) return rc;
  if (!qp__apps_u128_of(c->voucher, "amount", &have)) return QP_ECORRUPT;
  json_t *part = NULL, *rest = NULL;
  if (o.amount != have) rc = rcv_split(c, o.amount, c->sender, &part, &rest);
  json_t *target = part != NULL ? part : c->voucher;
  if (rc == 0) rc = offer_open(c, target, &o);
  if (rc == 0) rc = rcv_put_voucher(c, c->voucher);
  if (rc == 0 && part != NULL) rc = rcv_put_voucher(c, part);
  if (rc == 0 && rest != NULL) rc = rcv_put_voucher(c, rest);
  if (rc == 0) rc = rcv_put_tree(c);
  if (rc == 0) rc = rcv_put_next(c);
  json_t *r = rc == 0 ? json_pack("{s:O, s:o}", "voucher", json_object_get(target, "voucher"),
                                  "price", qp__apps_u128_json(o.price))
                      : NULL;
  if (r != NULL && rest != NULL)
    json_object_set(r, "rest_voucher", json_object_get(rest, "voucher"));
  if (rc == 0 && (r == NULL || json_object_update(c->e->result, r) != 0)) rc = QP_ENOMEM;
  if (rc == 0 && (json_object_set_new(r, "holder", json_string(c->sender)) != 0 ||
                  json_object_set_new(r, "funder", json_string(o.funder)) != 0 ||
                  json_object_set(r, "amount", json_object_get(target, "amount")) != 0 ||
                  json_object_set_new(r, "discount_bps", json_integer((json_int_t)o.bps)) != 0))
    rc = QP_ENOMEM;
  if (rc == 0) rc = qp_chain_effects_event(c->e, "finance_offered", json_incref(r));
  json_decref(r);
  json_decref(part);
  json_decref(rest);
  return rc;
}

/* The accept's checks: an open offer to the sender. */
static int accept_check(rcv_t *c) {
  const char *state = rcv_state(c->voucher, c->tree), *id = qp__apps_str(c->voucher, "voucher");
  if (strcmp(state, "financed") == 0)
    return qp__apps_refuse(c->e, "already_financed", "%s is financed already", id);
  if (strcmp(state, "financing") != 0 && strcmp(qp__apps_str(c->tree, "status"), "open") != 0)
    return qp__apps_refuse(c->e, "voucher_not_active", "%s is %s", id, state);
  if (strcmp(state, "financing") != 0)
    return qp__apps_refuse(c->e, "no_offer", "%s has no open finance offer", id);
  const json_t *offer = json_object_get(c->voucher, "offer");
  if (strcmp(qp__apps_str(offer, "funder"), c->sender) != 0)
    return qp__apps_refuse(c->e, "not_funder", "the offer of %s is to another funder", id);
  return 0;
}

/* The finance settlement record of the accepted offer (stored form). */
static json_t *finance_record(rcv_t *c, const char *sid, const char *seller,
                              const json_t *price) {
  const json_t *v = c->voucher;
  return json_pack("{s:{s:s, s:s, s:O, s:s, s:[{s:i, s:s, s:s, s:O, s:O}], s:[], s:I}, s:O, "
                   "s:O, s:O}",
                   "record", "settlement", sid, "kind", "finance", "ledger",
                   json_object_get(v, "ledger"), "status", "pending", "payments", "index", 0,
                   "from", c->sender, "to", seller, "amount", price, "voucher",
                   json_object_get(v, "voucher"), "transfers", "height",
                   (json_int_t)c->v->height, "root", json_object_get(v, "root"), "voucher",
                   json_object_get(v, "voucher"), "seq", json_object_get(c->tree, "seq"));
}

int rcv_accept(rcv_t *c, const json_t *args) {
  static const char *const allowed[] = {"voucher"};
  qp__apps_why_t w;
  if (qp__apps_args_only(args, allowed, 1, &w)) return qp__apps_fail(c->e, &w);
  int rc = rcv_sender(c);
  if (rc == 0) rc = rcv_load(c, args);
  if (rc == 0) rc = accept_check(c);
  if (rc != 0) return rc;
  char sid[QP__APPS_ID_MAX + 1], seller[QP__APPS_HEX_MAX + 1];
  json_t *v = c->voucher, *offer = json_incref(json_object_get(v, "offer"));
  snprintf(sid, sizeof sid, "fin-%s", qp__apps_str(v, "voucher"));
  snprintf(seller, sizeof seller, "%s", qp__apps_str(v, "holder"));
  json_t *fin = json_pack("{s:s, s:s, s:O, s:O}", "settlement", sid, "status", "pending",
                          "discount_bps", json_object_get(offer, "discount_bps"), "price",
                          json_object_get(offer, "price"));
  if (fin == NULL || json_object_set_new(v, "finance", fin) != 0 ||
      json_object_set_new(v, "seller", json_string(seller)) != 0 ||
      json_object_set_new(v, "holder", json_string(c->sender)) != 0 ||
      json_object_set_new(v, "state", json_string("financed")) != 0 ||
      json_object_del(v, "offer") != 0)
    rc = QP_ENOMEM;
  if (rc == 0) rc = rcv_history(c, v, "finance_accepted", json_pack("{s:s, s:s, s:s}",
                                "settlement", sid, "funder", c->sender, "seller", seller));
  json_t *stored = rc == 0 ? finance_record(c, sid, seller, json_object_get(offer, "price"))
                           : NULL;
  if (rc == 0 && stored == NULL) rc = QP_ENOMEM;
  if (rc == 0) rc = rcv_put_voucher(c, v);
  if (rc == 0) rc = rcv_put_tree(c);
  if (rc == 0) rc = rcv_settlement_new(c, stored);
  else json_decref(stored);
  json_decref(offer);
  return rc;
}
