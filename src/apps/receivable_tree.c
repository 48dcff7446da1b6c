/*
 * receivable_tree.c - the steps the receivable app's transactions share
 * (receivable_int.h): who the sender is, loading a voucher with its tree,
 * the checks a holder's move needs, creating and splitting vouchers, the
 * records' writes and the settlement records with their index.
 */
#include <stdio.h>
#include <string.h>

#include "apps/receivable_int.h"
#include "base/err.h"

void rcv_init(rcv_t *c, const qp_chain_view_t *v, const qp_chain_tx_t *tx,
              qp_chain_effects_t *e) {
  memset(c, 0, sizeof *c);
  c->v = v;
  c->tx = tx;
  c->e = e;
  qp__apps_sender_hex(tx, c->sender);
}

void rcv_deinit(rcv_t *c) {
  json_decref(c->voucher);
  json_decref(c->tree);
  c->voucher = c->tree = NULL;
}

int rcv_sender(rcv_t *c) {
  int rc = qp__apps_role(c->v, c->sender, c->role);
  if (rc == QP_ENOTFOUND)
    return qp__apps_refuse(c->e, "not_registered", "the sender is not a registered "
                           "participant (registry register)");
  return rc;
}

json_t *rcv_get(const qp_chain_view_t *v, const char *prefix, const char *id, int *rc) {
  char key[RCV_KEY_MAX];
  snprintf(key, sizeof key, "%s%s", prefix, id);
  return qp__apps_get(v, NULL, key, rc);
}

int rcv_load(rcv_t *c, const json_t *args) {
  qp__apps_why_t w;
  char id[QP__APPS_ID_MAX + 1];
  uint64_t n = 0;
  if (qp__apps_arg_id(args, "voucher", "v", id, &n, &w)) return qp__apps_fail(c->e, &w);
  int rc = 0;
  c->voucher = rcv_get(c->v, "v/", id, &rc);
  if (rc == QP_ENOTFOUND)
    return qp__apps_refuse(c->e, "unknown_voucher", "no voucher has the id %s", id);
  if (rc == 0) c->tree = rcv_get(c->v, "t/", qp__apps_str(c->voucher, "root"), &rc);
  return rc == QP_ENOTFOUND ? QP_ECORRUPT : rc;
}

const char *rcv_state(const json_t *voucher, const json_t *tree) {
  const char *stored = qp__apps_str(voucher, "state"), *status = qp__apps_str(tree, "status");
  if (strcmp(stored, "split") == 0 || strcmp(status, "open") == 0) return stored;
  return status; /* a live leaf of a tree under settlement */
}

int rcv_holder_active(rcv_t *c, bool finance) {
  const char *state = rcv_state(c->voucher, c->tree);
  if (strcmp(qp__apps_str(c->voucher, "holder"), c->sender) != 0)
    return qp__apps_refuse(c->e, "not_holder", "the sender does not hold %s",
                           qp__apps_str(c->voucher, "voucher"));
  if (finance && (strcmp(state, "financing") == 0 || strcmp(state, "financed") == 0))
    return qp__apps_refuse(c->e, "already_financed", "%s is %s",
                           qp__apps_str(c->voucher, "voucher"), state);
  if (strcmp(state, "active") != 0)
    return qp__apps_refuse(c->e, "voucher_not_active", "%s is %s, not active",
                           qp__apps_str(c->voucher, "voucher"), state);
  return 0;
}

int rcv_party(rcv_t *c, const json_t *args, const char *field,
              char hex[QP__APPS_HEX_MAX + 1], char role[16]) {
  qp__apps_why_t w;
  if (qp__apps_arg_key(args, field, c->v->genesis->suite, hex, &w))
    return qp__apps_fail(c->e, &w);
  int rc = qp__apps_role(c->v, hex, role);
  if (rc == QP_ENOTFOUND)
    return qp__apps_refuse(c->e, "not_registered", "args.%s is not a registered participant",
                           field);
  return rc;
}

int rcv_history(rcv_t *c, json_t *voucher, const char *type, json_t *fields) {
  uint64_t seq = qp__apps_uint(c->tree, "seq") + 1;
  json_t *ev = json_pack("{s:I, s:I, s:s}", "seq", (json_int_t)seq, "height",
                         (json_int_t)c->v->height, "type", type);
  json_t *list = json_object_get(voucher, "history");
  int rc = ev == NULL ? QP_ENOMEM : 0;
  if (rc == 0 && fields != NULL && json_object_update(ev, fields) != 0) rc = QP_ENOMEM;
  if (rc == 0 && list == NULL) {
    list = json_array();
    if (json_object_set_new(voucher, "history", list) != 0) rc = QP_ENOMEM;
  }
  if (rc == 0 && json_array_append(list, ev) != 0) rc = QP_ENOMEM;
  if (rc == 0 && json_object_set_new(c->tree, "seq", json_integer((json_int_t)seq)) != 0)
    rc = QP_ENOMEM;
  json_decref(ev);
  json_decref(fields);
  return rc;
}

/* The voucher object of a new voucher: the parent's terms, or (a root) the
 * tree's. */
static json_t *voucher_new(rcv_t *c, const char *id, const json_t *parent, const char *holder,
                           qp_u128 amount) {
  const json_t *t = c->tree;
  json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:O, s:O, s:O, s:s, s:I, s:[]}", "voucher",
                        id, "root", qp__apps_str(t, "root"), "obligor",
                        qp__apps_str(t, "obligor"), "holder", holder, "amount",
                        qp__apps_u128_json(amount), "ledger", json_object_get(t, "ledger"),
                        "maturity", json_object_get(t, "maturity"), "reference",
                        json_object_get(t, "reference"), "state", "active", "height",
                        (json_int_t)c->v->height, "history");
  if (o != NULL && parent != NULL &&
      json_object_set(o, "parent", json_object_get(parent, "voucher")) != 0) {
    json_decref(o);
    o = NULL;
  }
  return o;
}

int rcv_child(rcv_t *c, json_t *parent, const char *holder, qp_u128 amount, json_t **out) {
  *out = NULL;
  int rc = c->next_loaded ? 0 : qp__apps_counter(c->v, "vn", &c->next);
  if (rc != 0) return rc;
  c->next_loaded = true;
  json_t *list = json_object_get(c->tree, "vouchers");
  if (json_array_size(list) >= QP_APPS_TREE_VOUCHERS_MAX)
    return qp__apps_refuse(c->e, "tree_full", "a voucher tree holds at most %u vouchers",
                           QP_APPS_TREE_VOUCHERS_MAX);
  char id[QP__APPS_ID_MAX + 1];
  snprintf(id, sizeof id, "v%llu", (unsigned long long)++c->next);
  if (parent == NULL) json_object_set_new(c->tree, "root", json_string(id));
  json_t *o = voucher_new(c, id, parent, holder, amount);
  if (o == NULL || json_array_append_new(list, json_string(id)) != 0) rc = QP_ENOMEM;
  json_t *kids = parent != NULL ? json_object_get(parent, "children") : NULL;
  if (rc == 0 && parent != NULL && kids == NULL) {
    kids = json_array();
    if (json_object_set_new(parent, "children", kids) != 0) rc = QP_ENOMEM;
  }
  if (rc == 0 && kids != NULL && json_array_append_new(kids, json_string(id)) != 0)
    rc = QP_ENOMEM;
  if (rc == 0) rc = rcv_history(c, o, parent == NULL ? "issued" : "created",
                                parent == NULL ? NULL
                                               : json_pack("{s:O}", "parent",
                                                           json_object_get(parent, "voucher")));
  if (rc != 0) json_decref(o);
  else *out = o;
  return rc;
}

int rcv_split(rcv_t *c, qp_u128 amount, const char *to, json_t **part, json_t **rest) {
  qp_u128 have = 0;
  *part = *rest = NULL;
  if (!qp__apps_u128_of(c->voucher, "amount", &have)) return QP_ECORRUPT;
  if (amount > have)
    return qp__apps_refuse(c->e, "amount_invalid", "args.amount is more than the voucher's "
                           "amount (%s)", qp__apps_str(c->voucher, "amount"));
  int rc = rcv_child(c, c->voucher, to, amount, part);
  if (rc == 0 && amount < have) rc = rcv_child(c, c->voucher, c->sender, have - amount, rest);
  if (rc == 0 && json_object_set_new(c->voucher, "state", json_string("split")) != 0)
    rc = QP_ENOMEM;
  if (rc == 0) rc = rcv_history(c, c->voucher, "split", json_pack("{s:O}", "children",
                                json_object_get(c->voucher, "children")));
  if (rc != 0) {
    json_decref(*part);
    json_decref(*rest);
    *part = *rest = NULL;
  }
  return rc;
}

int rcv_put_voucher(rcv_t *c, const json_t *voucher) {
  char key[RCV_KEY_MAX];
  snprintf(key, sizeof key, "v/%s", qp__apps_str(voucher, "voucher"));
  return qp__apps_put(c->e, key, voucher);
}

int rcv_put_tree(rcv_t *c) {
  char key[RCV_KEY_MAX];
  snprintf(key, sizeof key, "t/%s", qp__apps_str(c->tree, "root"));
  return qp__apps_put(c->e, key, c->tree);
}

int rcv_put_next(rcv_t *c) {
  return c->next_loaded ? qp__apps_put_counter(c->e, "vn", c->next) : 0;
}
