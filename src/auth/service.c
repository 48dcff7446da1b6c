/*
 * service.c - the auth module's door for the other modules of its node
 * (auth.h): the module registers itself when it opens and unregisters when
 * it closes; the payments module reads an order's intents through it, with
 * each intent's status computed as the API computes it (the ledger's hold
 * is the truth).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/intents_int.h"
#include "base/err.h"

static _Atomic(qp__auth_t *) current;

void qp__auth_service_set(qp__auth_t *a) { atomic_store(&current, a); }

qp__auth_t *qp__auth_service_get(void) { return atomic_load(&current); }

bool qp_auth_service_enabled(void) { return atomic_load(&current) != NULL; }

static int fill(const json_t *intent, qp_auth_order_intent_t *o) {
  memset(o, 0, sizeof *o);
  const char *id = json_string_value(json_object_get(intent, "id"));
  const char *cur = json_string_value(json_object_get(intent, "currency"));
  if (id == NULL || cur == NULL || strlen(id) >= sizeof o->id || strlen(cur) != 3)
    return QP_ECORRUPT;
  snprintf(o->id, sizeof o->id, "%s", id);
  snprintf(o->status, sizeof o->status, "%s", qp__auth_intent_status(intent));
  memcpy(o->currency, cur, 4);
  o->ledger = (uint32_t)json_integer_value(json_object_get(intent, "ledger"));
  if (qp__auth_u128_member(intent, "amount", &o->amount) != 0 ||
      qp__auth_u128_member(intent, "debit_account_id", &o->debit_account_id) != 0 ||
      qp__auth_u128_member(intent, "credit_account_id", &o->credit_account_id) != 0)
    return QP_ECORRUPT;
  if (qp__auth_u128_member(intent, "post_transfer_id", &o->post_transfer_id) != 0)
    o->post_transfer_id = 0;
  return 0;
}

int qp_auth_order_intents(const char *order_id, qp_auth_order_intent_t *out, uint32_t max,
                          uint32_t *count) {
  *count = 0;
  qp__auth_t *a = atomic_load(&current);
  if (a == NULL) return QP_ENOTFOUND;
  if (max > QP_AUTH_ORDER_INTENTS_MAX) max = QP_AUTH_ORDER_INTENTS_MAX;
  uint8_t ids[QP_AUTH_ORDER_INTENTS_MAX][QP_AUTH_ID_SIZE];
  uint32_t n = 0;
  int rc = qp__auth_order_intent_ids(a, order_id, ids, max, &n);
  for (uint32_t i = 0; rc == 0 && i < n; i++) {
    json_t *intent = NULL;
    rc = qp__auth_intent_get(a, ids[i], &intent);
    if (rc == 0) rc = fill(intent, &out[*count]);
    if (rc == 0) (*count)++;
    json_decref(intent);
  }
  return rc;
}
