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
 * however often it is seen, and a crash leaves both or neither.
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

/* Journals one canceled intent unless intent_events has it already. */
static int journal_canceled(qp__pay_t *p, const json_t *order, const qp_auth_order_intent_t *in) {
  char key[sizeof in->id + sizeof CANCELED + 1];
  uint8_t *seen = NULL;
  size_t seen_len = 0;
  snprintf(key, sizeof key, "%s/%s", in->id, CANCELED);
  int rc = qp__pay_store_get_raw(p, p->intent_events, key, strlen(key), &seen, &seen_len);
  qp_free(seen);
  if (rc != QP_ENOTFOUND) return rc; /* 0: journaled before */
  json_t *obj = qp__pay_intent_object(order, in);
  if (obj == NULL || json_object_set_new(obj, "cancellation_reason", json_string(in->status))) {
    json_decref(obj);
    return QP_ENOMEM;
  }
  qp__pay_put_t put = {p->intent_events, key, strlen(key), "", 0, true, false};
  qp__pay_change_t c = {&put, 1, CANCELED, obj, NULL, 0, NULL, NULL, NULL};
  rc = qp__pay_store_write(p, &c);
  json_decref(obj);
  return rc == QP_EEXISTS ? 0 : rc;
}

int qp__pay_intents_canceled(qp__pay_t *p, const json_t *order,
                             const qp_auth_order_intent_t *in, uint32_t n) {
  QP_ASSERT(n <= QP_AUTH_ORDER_INTENTS_MAX);
  int rc = 0;
  for (uint32_t i = 0; rc == 0 && i < n; i++)
    if (in[i].id[0] != 0 &&
        (strcmp(in[i].status, "canceled") == 0 || strcmp(in[i].status, "expired") == 0))
      rc = journal_canceled(p, order, &in[i]);
  return rc;
}
