/*
 * routes_pay.c - moving a user's money (docs/wallet.md): GET
 * /v1/wallet/users/{handle} (the payee check), POST /v1/wallet/transfers
 * (a payment intent from the user's account to the payee's, and its
 * challenge: the signature covers amount and payee), and the user's own
 * intents: GET /v1/wallet/intents/{id}, POST .../challenge, .../confirm,
 * .../cancel through auth's door, which answers 404 for another user's.
 */
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "base/err.h"
#include "ledger/api.h"
#include "wallet/wallet_int.h"

void qp__wallet_user_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__wallet_t *w = ctx;
  qp__wallet_session_t s;
  uint8_t hash[QP_WALLET_HASH_SIZE];
  char uid[QP_WALLET_ID_HEX + 1], name[QP_WALLET_NAME_MAX + 1];
  qp_u128 account = 0;
  if (!qp__wallet_session(w, req, r, &s, hash)) return;
  const char *handle = qp_http_param(req, "handle");
  if (qp_auth_user_find(handle, uid, name, sizeof name) != 0 ||
      qp__wallet_account_of(w, uid, &account) != 0)
    qp_http_reply_fail(r, 404, "user_not_found", "handle", "no wallet user has this handle");
  else
    qp_http_reply_json(r, 200, json_pack("{s:s, s:s}", "handle", handle, "display_name", name));
}

void qp__wallet_me_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__wallet_t *w = ctx;
  qp__wallet_session_t s;
  uint8_t hash[QP_WALLET_HASH_SIZE];
  if (!qp__wallet_session(w, req, r, &s, hash)) return;
  json_t *me = qp__wallet_me(w, s.user_id, r);
  if (me != NULL) qp_http_reply_json(r, 200, me);
}

/* The payee of a transfer: its user id, name and account; false after a reply. */
static bool payee(qp__wallet_t *w, const char *me, const char *handle, char uid[33],
                  char *name, size_t size, qp_u128 *account, qp_http_reply_t *r) {
  if (qp_auth_user_find(handle, uid, name, size) != 0 ||
      qp__wallet_account_of(w, uid, account) != 0) {
    qp_http_reply_fail(r, 404, "payee_not_found", "to", "no wallet user has this handle");
    return false;
  }
  if (strcmp(uid, me) == 0) {
    qp_http_reply_fail(r, 400, "cannot_pay_self", "to", "a transfer goes to another user");
    return false;
  }
  return true;
}

/* Replies {"intent", "publicKey"} for a new intent (door reply in intent). */
static void with_challenge(const char *user_id, qp_http_reply_t *made, qp_http_reply_t *r) {
  json_t *intent = qp__wallet_reply_body(made);
  const char *id = json_string_value(json_object_get(intent, "id"));
  if (id == NULL) {
    qp__wallet_reply_move(r, made);
    json_decref(intent);
    return;
  }
  qp__wallet_reply_drop(made);
  qp_http_reply_t door = {0};
  qp_auth_door_intent_challenge(user_id, id, &door);
  json_t *ch = qp__wallet_reply_body(&door);
  if (ch == NULL) {
    qp_http_reply_json(r, 200, json_pack("{s:O, s:n}", "intent", intent, "publicKey"));
  } else {
    qp_http_reply_json(r, 200, json_pack("{s:O, s:O}", "intent", intent, "publicKey",
                                         json_object_get(ch, "publicKey")));
  }
  qp__wallet_reply_drop(&door);
  json_decref(ch);
  json_decref(intent);
}

/* The intent from the session user's account: made and challenged. */
void qp__wallet_pay(qp__wallet_t *w, const char *user_id, qp_u128 credit, qp_u128 amount,
                    const char *payee_name, const char *order_id, qp_http_reply_t *r) {
  qp_u128 debit = 0;
  if (qp__wallet_account_of(w, user_id, &debit) != 0) {
    qp_http_reply_fail(r, 409, "account_missing", "", "the user has no wallet account");
    return;
  }
  qp_auth_intent_args_t args = {user_id, debit, credit, amount, w->settings.ledger,
                                w->settings.currency, payee_name, order_id,
                                QP_WALLET_INTENT_TTL_S};
  qp_http_reply_t made = {0};
  qp_auth_door_intent_new(&args, &made);
  if (made.status == 200) atomic_fetch_add(&w->transfers_total, 1);
  with_challenge(user_id, &made, r);
}

void qp__wallet_transfers_create(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const allowed[] = {"to", "amount", "note", NULL};
  qp__wallet_t *w = ctx;
  qp__wallet_session_t s;
  uint8_t hash[QP_WALLET_HASH_SIZE];
  char uid[QP_WALLET_ID_HEX + 1], name[QP_WALLET_NAME_MAX + 1];
  qp_u128 credit = 0, amount = 0;
  if (!qp__wallet_session(w, req, r, &s, hash)) return;
  json_t *body = qp_http_body_object(req, r, allowed, QP_HTTP_BODY_EMPTY_OBJECT);
  const char *to = NULL, *note = NULL;
  if (body != NULL && qp_http_member_string(body, "to", NULL, QP_WALLET_HANDLE_MAX, true, &to, r) &&
      !qp_http_member_string(body, "note", NULL, 140, false, &note, r))
    to = NULL;
  if (to != NULL && qp__wallet_amount(body, "amount", &amount, r) &&
      payee(w, s.user_id, to, uid, name, sizeof name, &credit, r)) {
    char ref[8 + QP_WALLET_ID_HEX];
    snprintf(ref, sizeof ref, "p2p-%s", uid); /* not an order: a bill shows no order_id */
    qp__wallet_pay(w, s.user_id, credit, amount, name, ref, r);
  }
  json_decref(body);
}

typedef enum { GET, CHALLENGE, CONFIRM, CANCEL } intent_op_t;

static void intent_op(void *ctx, qp_http_request_t *req, qp_http_reply_t *r, intent_op_t op) {
  static const char *const none[] = {NULL};
  static const char *const cred[] = {"credential", NULL};
  qp__wallet_t *w = ctx;
  qp__wallet_session_t s;
  uint8_t hash[QP_WALLET_HASH_SIZE];
  if (!qp__wallet_session(w, req, r, &s, hash)) return;
  json_t *body = op == GET ? json_object()
                           : qp_http_body_object(req, r, op == CONFIRM ? cred : none,
                                                 QP_HTTP_BODY_EMPTY_OBJECT);
  if (body == NULL) return;
  const char *id = qp_http_param(req, "id");
  qp_http_reply_t door = {0};
  if (op == GET) qp_auth_door_intent_get(s.user_id, id, &door);
  else if (op == CHALLENGE) qp_auth_door_intent_challenge(s.user_id, id, &door);
  else if (op == CANCEL) qp_auth_door_intent_cancel(s.user_id, id, &door);
  else if (json_object_get(body, "credential") == NULL)
    qp_http_reply_fail(&door, 400, "missing_field", "credential",
                       "field \"credential\" is required");
  else qp_auth_door_intent_confirm(s.user_id, id, json_object_get(body, "credential"), &door);
  qp__wallet_reply_move(r, &door);
  json_decref(body);
}

void qp__wallet_intents_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  intent_op(ctx, req, r, GET);
}
void qp__wallet_intents_challenge(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  intent_op(ctx, req, r, CHALLENGE);
}
void qp__wallet_intents_confirm(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  intent_op(ctx, req, r, CONFIRM);
}
void qp__wallet_intents_cancel(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  intent_op(ctx, req, r, CANCEL);
}
