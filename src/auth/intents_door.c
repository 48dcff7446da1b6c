/*
 * intents_door.c - the door through which another module of the node
 * creates a payment intent (auth.h, qp_auth_intent_create): the payments
 * module's collect by payment code, when the amount or the risk decision
 * needs the user's passkey.  The record is the one POST
 * /v1/payment-intents makes (intents.c describes it), with the same hold
 * and the same store, so the challenge, the confirmation, the cancel and
 * the orders-paid-by-intents machinery treat it as any other intent.
 */
#include <sodium.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/intents_int.h"
#include "base/err.h"

#define EXPIRES_IN_S_MAX (7 * 86400)

static bool args_ok(const qp_auth_intent_args_t *a, const json_t *risk, bool review) {
  return a->user_id != NULL && a->debit != 0 && a->credit != 0 && a->amount != 0 &&
         a->ledger != 0 && a->currency != NULL && qp_auth_currency_decimals(a->currency) >= 0 &&
         a->payee_name != NULL && a->payee_name[0] != 0 &&
         strlen(a->payee_name) <= QP_AUTH_PAYEE_MAX && a->order_id != NULL &&
         a->order_id[0] != 0 && strlen(a->order_id) <= QP_AUTH_ORDER_ID_MAX &&
         a->expires_in_s >= 1 && a->expires_in_s <= EXPIRES_IN_S_MAX &&
         (!review || risk != NULL);
}

/* The new intent's record (as routes_intents.c makes it), without its id. */
static json_t *record(const qp_auth_intent_args_t *a, const json_t *decision, bool review,
                      const qp_transfer_t *hold) {
  int64_t now = qp__auth_now_s();
  json_t *risk = decision != NULL ? json_deep_copy(decision) : json_null();
  return json_pack(
      "{s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:s, s:s, s:s, s:I, s:o, s:I, s:o, s:o, s:b, s:o}",
      "status", review ? "requires_review" : "requires_confirmation", "user_id", a->user_id,
      "debit_account_id",
      qp__auth_u128_json(hold->debit_account_id), "credit_account_id",
      qp__auth_u128_json(hold->credit_account_id), "amount", qp__auth_u128_json(hold->amount),
      "ledger", (json_int_t)hold->ledger, "code", (json_int_t)hold->code, "currency",
      a->currency, "payee_name", a->payee_name, "order_id", a->order_id, "expires_in_s",
      (json_int_t)hold->timeout, "expires_at", qp__auth_time_json(now + hold->timeout),
      "expires_at_s", (json_int_t)(now + hold->timeout), "created", qp__auth_time_json(now),
      "risk", risk, "collect", 1, "transfer_id", qp__auth_u128_json(hold->id));
}

int qp_auth_intent_create(const qp_auth_intent_args_t *args, const json_t *risk, bool review,
                          char intent_id[33], uint32_t *result) {
  qp__auth_t *a = qp__auth_service_get();
  uint8_t uid[QP_AUTH_ID_SIZE], id[QP_AUTH_ID_SIZE];
  json_t *user = NULL;
  *result = QP_CREATE_TRANSFER_OK;
  if (a == NULL) return QP_ENOTSUP;
  if (!args_ok(args, risk, review)) return QP_EINVAL;
  if (!qp__auth_id_parse(args->user_id, uid)) return QP_ENOTFOUND;
  int rc = qp__auth_user_get(a, uid, &user);
  json_decref(user);
  if (rc != 0) return rc;
  qp_transfer_t hold;
  memset(&hold, 0, sizeof hold);
  hold.id = qp__auth_new_transfer_id();
  hold.debit_account_id = args->debit;
  hold.credit_account_id = args->credit;
  hold.amount = args->amount;
  hold.ledger = args->ledger;
  hold.code = 1;
  hold.timeout = args->expires_in_s;
  hold.flags = QP_TRANSFER_PENDING;
  randombytes_buf(id, sizeof id);
  memcpy(&hold.user_data_128, id, sizeof id); /* the hold names its intent (a wallet's bill) */
  json_t *intent = record(args, risk, review, &hold);
  if (intent == NULL) return QP_ENOMEM;
  qp__auth_id_hex(id, intent_id);
  json_object_set_new(intent, "id", json_string(intent_id));
  rc = qp__auth_ledger_move(&hold, result);
  if (rc == 0 && *result == QP_CREATE_TRANSFER_OK) rc = qp__auth_intent_put(a, id, intent, true);
  json_decref(intent);
  return rc;
}
