/*
 * order_paid.c - an order paid by scanning: a payment intent (src/auth)
 * made for the order that has succeeded.  The auth module's door
 * (qp_auth_order_intents) lists the intents made for an order id; the first
 * succeeded one that matches the order (its amount, ledger, currency, and
 * the merchant's settlement account as the credit account) pays it.  The
 * transition is persisted the first time it is observed (GET, a list, a
 * cancel, a refund, or the module's tick over the watch table), in one
 * transaction with its order.paid event (and the intent's
 * payment_intent.succeeded, intent_events.c), so the webhooks see it once.
 *
 * The money has moved when an intent succeeds, whatever the order's state:
 * an order that was canceled or had expired becomes paid all the same, with
 * paid_while naming the state it was in, so the merchant sees the money and
 * can refund it (POST /v1/refunds).  Leaving it canceled would hide money
 * the merchant holds and make it unrefundable.
 */
#include <string.h>

#include "auth/auth.h"
#include "base/alloc.h"
#include "base/err.h"
#include "ledger/api.h"
#include "payments/payments_int.h"

static bool u128_member(const json_t *o, const char *name, qp_u128 *out) {
  const char *s = json_string_value(json_object_get(o, name));
  return s != NULL && qp_u128_parse(s, strlen(s), out) == 0;
}

bool qp__pay_intent_pays(const json_t *order, qp_u128 settlement,
                         const qp_auth_order_intent_t *in) {
  qp_u128 amount = 0;
  const char *currency = json_string_value(json_object_get(order, "currency"));
  json_int_t ledger = json_integer_value(json_object_get(order, "ledger"));
  return strcmp(in->status, "succeeded") == 0 && u128_member(order, "amount", &amount) &&
         amount == in->amount && currency != NULL && strcmp(currency, in->currency) == 0 &&
         ledger == (json_int_t)in->ledger && in->credit_account_id == settlement &&
         settlement != 0; /* post_transfer_id may be 0: see qp__pay_order_mark_paid */
}

bool qp__pay_order_payable(const json_t *order) {
  const char *status = json_string_value(json_object_get(order, "status"));
  return status != NULL && (strcmp(status, "open") == 0 || strcmp(status, "canceled") == 0 ||
                            strcmp(status, "requires_confirmation") == 0); /* a collect's */
}

int qp__pay_order_mark_paid(json_t *order, const qp_auth_order_intent_t *in, int64_t now_s) {
  if (!qp__pay_order_payable(order)) return QP_EINVAL;
  const char *was = qp__pay_order_status(order, now_s);
  int rc = json_object_set_new(order, "paid_while", json_string(was));
  rc |= json_object_set_new(order, "status", json_string("paid"));
  rc |= json_object_set_new(order, "paid_at", qp__pay_time_json(now_s));
  if (in->id[0] != 0) rc |= json_object_set_new(order, "payment_intent_id", json_string(in->id));
  else { /* a collect's transfer (routes_collect.c): no intent */
    rc |= json_object_set_new(order, "payment_intent_id", json_null());
    rc |= json_object_set_new(order, "paid_by", json_string("payment_code"));
  }
  /* "succeeded" is the ledger's word (the hold is posted); a crash between
   * the post and the auth module's record of it leaves the post's id
   * unknown (null) while the money has moved: the order is paid all the
   * same (found by tests/torture/payments_torture.py). */
  rc |= json_object_set_new(order, "post_transfer_id",
                            in->post_transfer_id != 0 ? qp__pay_u128_json(in->post_transfer_id)
                                                      : json_null());
  rc |= json_object_set_new(order, "payer_account_id", qp__pay_u128_json(in->debit_account_id));
  rc |= json_object_set_new(order, "amount_refunded", json_string("0"));
  rc |= json_object_set_new(order, "settlement_account_id",
                            qp__pay_u128_json(in->credit_account_id));
  return rc != 0 ? QP_ENOMEM : 0;
}

/* The settlement account the order's intents must credit: the order's
 * (orders made since this slice carry it) or its merchant's. */
static int settlement_of(qp__pay_t *p, const json_t *order, qp_u128 *out) {
  if (u128_member(order, "settlement_account_id", out)) return 0;
  uint8_t mid[QP_PAY_ID_SIZE];
  json_t *m = NULL;
  if (!qp__pay_id_parse(json_string_value(json_object_get(order, "merchant_id")), mid))
    return QP_ECORRUPT;
  int rc = qp__pay_store_get_json(p, p->merchants, mid, QP_PAY_ID_SIZE, &m);
  if (rc == 0 && !u128_member(m, "settlement_account_id", out)) rc = QP_ECORRUPT;
  json_decref(m);
  return rc;
}

/* A collect's transfer (routes_collect.c) the ledger has made for order
 * while the order was not stored paid (a crash in between): as a payment
 * found, so money that arrived is never hidden.  Its id comes from the
 * order id; only a transfer of the order's amount to settlement counts. */
static bool collected(const json_t *order, qp_u128 settlement, qp_auth_order_intent_t *found) {
  uint8_t id[QP_PAY_ID_SIZE];
  qp_transfer_t t;
  qp_pending_state_t state = QP_PENDING_NONE;
  qp_ledger_service_t *svc = qp_ledger_service();
  qp_u128 amount = 0;
  if (svc == NULL || !u128_member(order, "amount", &amount) ||
      !qp__pay_id_parse(json_string_value(json_object_get(order, "id")), id) ||
      qp_ledger_service_transfer(svc, qp__pay_collect_transfer_id(id), &t, &state) != 0 ||
      t.amount != amount || t.credit_account_id != settlement || (t.flags & QP_TRANSFER_PENDING))
    return false;
  memset(found, 0, sizeof *found);
  snprintf(found->status, sizeof found->status, "succeeded");
  found->amount = t.amount;
  found->debit_account_id = t.debit_account_id;
  found->credit_account_id = t.credit_account_id;
  found->post_transfer_id = t.id;
  found->ledger = t.ledger;
  return true;
}

/* The first succeeded intent that pays *order (into *found), or none; the
 * canceled ones are journaled (a collect's reopens *order, replacing it). */
static int find_payment(qp__pay_t *p, json_t **order_io, qp_auth_order_intent_t *found,
                        bool *has) {
  const json_t *order = *order_io;
  static _Thread_local qp_auth_order_intent_t in[QP_AUTH_ORDER_INTENTS_MAX];
  uint32_t n = 0;
  qp_u128 settlement = 0;
  *has = false;
  int rc = qp_auth_order_intents(json_string_value(json_object_get(order, "id")), in,
                                 QP_AUTH_ORDER_INTENTS_MAX, &n);
  if (rc == QP_ENOTFOUND) n = 0; /* no auth module: no intent pays it */
  rc = rc == QP_ENOTFOUND ? 0 : rc;
  if (rc == 0) rc = settlement_of(p, order, &settlement);
  if (rc == 0 && collected(order, settlement, found)) {
    *has = true;
    return 0;
  }
  for (uint32_t i = 0; rc == 0 && i < n && !*has; i++)
    if (qp__pay_intent_pays(order, settlement, &in[i])) {
      *found = in[i];
      *has = true;
    }
  if (rc == 0) rc = qp__pay_intents_canceled(p, order_io, in, n);
  return rc;
}

/* Stores order paid by in, with its order.paid event and, for an intent
 * (not a collect's transfer), the intent's payment_intent.succeeded. */
static int persist_paid(qp__pay_t *p, const uint8_t id[QP_PAY_ID_SIZE], json_t *order,
                        const qp_auth_order_intent_t *in, int64_t now) {
  uint8_t watch[8 + QP_PAY_ID_SIZE];
  uint64_t expires = (uint64_t)json_integer_value(json_object_get(order, "expires_at_s"));
  for (int i = 7; i >= 0; i--, expires >>= 8) watch[i] = (uint8_t)expires;
  memcpy(watch + 8, id, QP_PAY_ID_SIZE);
  char *text = json_dumps(order, JSON_COMPACT | JSON_SORT_KEYS);
  json_t *pub = qp__pay_order_public(order, now);
  json_t *intent = in->id[0] != 0 ? qp__pay_intent_object(order, in) : NULL;
  int rc = QP_ENOMEM;
  if (text != NULL && pub != NULL && (intent != NULL || in->id[0] == 0)) {
    qp__pay_put_t puts[2] = {{p->orders, id, QP_PAY_ID_SIZE, text, strlen(text), false, false},
                             {p->watch, watch, sizeof watch, NULL, 0, false, true}};
    qp__pay_change_t c = {puts, 2, "order.paid", pub, NULL, 0, NULL,
                          intent != NULL ? "payment_intent.succeeded" : NULL, intent};
    rc = qp__pay_store_write(p, &c);
  }
  json_decref(intent);
  json_decref(pub);
  qp_http_json_free(text);
  return rc;
}

int qp__pay_order_observe_locked(qp__pay_t *p, const uint8_t id[QP_PAY_ID_SIZE], json_t **out) {
  json_t *o = NULL;
  qp_auth_order_intent_t in;
  bool has = false;
  int64_t now = qp__pay_now_s();
  *out = NULL;
  int rc = qp__pay_store_get_json(p, p->orders, id, QP_PAY_ID_SIZE, &o);
  if (rc == 0 && qp__pay_order_payable(o)) rc = find_payment(p, &o, &in, &has);
  if (rc == 0 && has) {
    json_t *paid = json_deep_copy(o);
    rc = paid != NULL ? qp__pay_order_mark_paid(paid, &in, now) : QP_ENOMEM;
    if (rc == 0) rc = persist_paid(p, id, paid, &in, now);
    if (rc == 0) {
      json_decref(o);
      o = json_incref(paid);
    }
    json_decref(paid);
  }
  if (rc == 0) *out = o;
  else json_decref(o);
  return rc;
}

int qp__pay_order_observe(qp__pay_t *p, const uint8_t id[QP_PAY_ID_SIZE], json_t **out) {
  pthread_mutex_lock(&p->order_lock);
  int rc = qp__pay_order_observe_locked(p, id, out);
  pthread_mutex_unlock(&p->order_lock);
  return rc;
}

void qp__pay_paid_sweep(qp__pay_t *p, int64_t now_s) {
  enum { KEY = 8 + QP_PAY_ID_SIZE };
  static uint8_t keys[QP_PAY_PAID_SWEEP_MAX][KEY]; /* only the one tick thread sweeps */
  uint32_t n = 0;
  bool from_start = true;
  for (int i = 0; i < KEY; i++) from_start &= p->watch_next[i] == 0;
  if (qp__pay_store_keys(p, p->watch, from_start ? NULL : p->watch_next, KEY, &keys[0][0],
                         QP_PAY_PAID_SWEEP_MAX, &n) != 0)
    return;
  memset(p->watch_next, 0, KEY); /* at the end: the next tick starts over */
  if (n == QP_PAY_PAID_SWEEP_MAX) memcpy(p->watch_next, keys[n - 1], KEY);
  for (uint32_t i = 0; i < n; i++) {
    int64_t expires = 0;
    for (int b = 0; b < 8; b++) expires = (expires << 8) | keys[i][b];
    json_t *o = NULL;
    if (now_s > expires + QP_PAY_WATCH_GRACE_S) { /* watched long enough: GET still looks */
      qp__pay_put_t del = {p->watch, keys[i], KEY, NULL, 0, false, true};
      qp__pay_change_t c = {&del, 1, NULL, NULL, NULL, 0, NULL, NULL, NULL};
      (void)qp__pay_store_write(p, &c);
      continue;
    }
    if (qp__pay_order_observe(p, keys[i] + 8, &o) == 0) json_decref(o);
  }
}
