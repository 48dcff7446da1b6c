/*
 * intent_events.c - the payment_intent.succeeded and payment_intent.canceled
 * webhook events of the intents made for an order (order_paid.c).  The
 * intents live in the auth module; payments only sees them through the
 * door qp_auth_order_intents, when it looks at an unpaid order (a GET, a
 * list, a cancel, a refund, or the tick over the watch table).  An intent
 * that pays the order is journaled as payment_intent.succeeded in the same
 * transaction as its order.paid (persist_paid); an intent found canceled or
 * expired (its hold voided by the ledger's timeout) is journaled as
 * payment_intent.canceled, with a cancellation_reason ("canceled" or
 * "expired"), in a transaction that also records
 * "intent id/type" in the intent_events table, so it is journaled once
 * however often it is seen, and a crash leaves both or neither.  When that
 * intent was a collect's (the order waits in requires_confirmation with it
 * as payment_intent_id), the same transaction opens the order again, so
 * the shop can collect another code instead of waiting for the order to
 * expire.
 */
#include <string.h>

#include "auth/auth.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "payments/payments_int.h"

#define CANCELED "payment_intent.canceled"

json_t *qp__pay_intent_object(const json_t *order, const qp_auth_order_intent_t *in) {
  json_t *o = json_object();
  int rc = o != NULL ? 0 : -1;
  rc |= json_object_set_new(o, "id", json_string(in->id));
  rc |= json_object_set_new(o, "object", json_string("payment_intent"));
  rc |= json_object_set_new(o, "status", json_string(in->status));
  rc |= json_object_set_new(o, "amount", qp__pay_u128_json(in->amount));
  rc |= json_object_set_new(o, "currency", json_string(in->currency));
  rc |= json_object_set_new(o, "ledger", json_integer((json_int_t)in->ledger));
  rc |= json_object_set_new(o, "debit_account_id", qp__pay_u128_json(in->debit_account_id));
  rc |= json_object_set_new(o, "credit_account_id", qp__pay_u128_json(in->credit_account_id));
  rc |= json_object_set_new(o, "post_transfer_id", in->post_transfer_id != 0
                                ? qp__pay_u128_json(in->post_transfer_id) : json_null());
  rc |= json_object_set(o, "order_id", json_object_get(order, "id"));
  rc |= json_object_set(o, "merchant_id", json_object_get(order, "merchant_id"));
  if (rc != 0) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* Does in's end leave order, a collect waiting for it, open again? */
static bool reopens(const json_t *order, const qp_auth_order_intent_t *in) {
  const char *st = json_string_value(json_object_get(order, "status"));
  const char *pid = json_string_value(json_object_get(order, "payment_intent_id"));
  return st != NULL && strcmp(st, "requires_confirmation") == 0 && pid != NULL &&
         strcmp(pid, in->id) == 0;
}

/* The order open again: no intent, no device; reopened_at says when. */
static json_t *reopened(const json_t *order) {
  json_t *o = json_deep_copy(order);
  if (o == NULL || json_object_set_new(o, "status", json_string("open")) ||
      json_object_set_new(o, "payment_intent_id", json_null()) ||
      json_object_set_new(o, "reopened_at", qp__pay_time_json(qp__pay_now_s()))) {
    json_decref(o);
    return NULL;
  }
  json_object_del(o, "device_id");
  return o;
}

/* Journals one canceled intent unless intent_events has it already, with
 * the order reopened when it was the collect's; *order follows. */
static int journal_canceled(qp__pay_t *p, json_t **order, const qp_auth_order_intent_t *in) {
  char key[sizeof in->id + sizeof CANCELED + 1];
  uint8_t *seen = NULL, id[QP_PAY_ID_SIZE] = {0};
  size_t seen_len = 0;
  snprintf(key, sizeof key, "%s/%s", in->id, CANCELED);
  int rc = qp__pay_store_get_raw(p, p->intent_events, key, strlen(key), &seen, &seen_len);
  qp_free(seen);
  if (rc != QP_ENOTFOUND) return rc; /* 0: journaled before */
  bool reopen = reopens(*order, in);
  json_t *obj = qp__pay_intent_object(*order, in);
  json_t *open = reopen ? reopened(*order) : NULL;
  char *text = open != NULL ? json_dumps(open, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  bool ok = obj != NULL &&
            !json_object_set_new(obj, "cancellation_reason", json_string(in->status)) &&
            (!reopen || (text != NULL &&
                         qp__pay_id_parse(json_string_value(json_object_get(*order, "id")), id)));
  rc = QP_ENOMEM;
  if (ok) {
    qp__pay_put_t puts[2] = {{p->intent_events, key, strlen(key), "", 0, true, false},
                             {p->orders, id, QP_PAY_ID_SIZE, text, reopen ? strlen(text) : 0,
                              false, false}};
    qp__pay_change_t c = {puts, reopen ? 2 : 1, CANCELED, obj, NULL, 0, NULL, NULL, NULL};
    rc = qp__pay_store_write(p, &c);
  }
  if (rc == 0 && reopen) {
    json_decref(*order);
    *order = json_incref(open);
  }
  qp_http_json_free(text);
  json_decref(open);
  json_decref(obj);
  return rc == QP_EEXISTS ? 0 : rc;
}

int qp__pay_intents_canceled(qp__pay_t *p, json_t **order, const qp_auth_order_intent_t *in,
                             uint32_t n) {
  QP_ASSERT(n <= QP_AUTH_ORDER_INTENTS_MAX);
  int rc = 0;
  for (uint32_t i = 0; rc == 0 && i < n; i++)
    if (in[i].id[0] != 0 &&
        (strcmp(in[i].status, "canceled") == 0 || strcmp(in[i].status, "expired") == 0))
      rc = journal_canceled(p, order, &in[i]);
  return rc;
}
