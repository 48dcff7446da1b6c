/*
 * routes_admin.c - the operators' wallet routes (API key with scope
 * admin): GET /v1/wallet/users?handle=H (the user and its accounts), POST
 * /v1/wallet/users/{handle}/deposit (a transfer from the treasury to the
 * user's account: a bill of kind deposit), DELETE
 * /v1/wallet/users/{handle}/sessions (revokes every session of the user).
 */
#include <sodium.h>
#include <string.h>

#include "auth/auth.h"
#include "base/err.h"
#include "ledger/api.h"
#include "wallet/wallet_int.h"

static bool handle_arg(void *ctx, const char *key, const char *value) {
  const char **out = ctx;
  if (strcmp(key, "handle") == 0 && value != NULL) *out = value;
  return true;
}

/* The user and account of a handle; false after a 404. */
static bool user_of(qp__wallet_t *w, const char *handle, char uid[QP_WALLET_ID_HEX + 1],
                    qp_u128 *account, qp_http_reply_t *r) {
  char name[QP_WALLET_NAME_MAX + 1];
  if (handle != NULL && qp_auth_user_find(handle, uid, name, sizeof name) == 0 &&
      qp__wallet_account_of(w, uid, account) == 0)
    return true;
  qp_http_reply_fail(r, 404, "user_not_found", "handle", "no wallet user has this handle");
  return false;
}

void qp__wallet_admin_user(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__wallet_t *w = ctx;
  const char *handle = NULL;
  char uid[QP_WALLET_ID_HEX + 1];
  qp_u128 account = 0;
  qp_http_query_each(req, handle_arg, &handle);
  if (handle == NULL) {
    qp_http_reply_fail(r, 400, "missing_field", "handle", "?handle=H is required");
    return;
  }
  if (!user_of(w, handle, uid, &account, r)) return;
  json_t *me = qp__wallet_me(w, uid, r);
  if (me != NULL) qp_http_reply_json(r, 200, me);
}

void qp__wallet_admin_deposit(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const allowed[] = {"amount", NULL};
  qp__wallet_t *w = ctx;
  char uid[QP_WALLET_ID_HEX + 1];
  qp_transfer_t t;
  memset(&t, 0, sizeof t);
  json_t *body = qp_http_body_object(req, r, allowed, QP_HTTP_BODY_EMPTY_OBJECT);
  bool ok = body != NULL && qp__wallet_amount(body, "amount", &t.amount, r) &&
            user_of(w, qp_http_param(req, "handle"), uid, &t.credit_account_id, r);
  json_decref(body);
  if (!ok) return;
  uint32_t result = 0;
  int rc = qp__wallet_deposit(w, t.credit_account_id, t.amount, &t.id, &result);
  if (rc != 0 || result != QP_CREATE_TRANSFER_OK) {
    qp_http_error_t err = {0};
    qp_http_error_set(&err, rc != 0 ? 503 : 422,
                      rc != 0 ? "ledger_unavailable" : qp_create_transfer_result_name(result),
                      "", "the ledger refused the deposit (%s)",
                      rc != 0 ? qp_strerror(rc) : qp_create_transfer_result_name(result));
    qp_http_reply_error(r, &err);
    return;
  }
  qp__wallet_bill_reply(w, uid, t.id, false, r);
}

void qp__wallet_admin_sessions(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__wallet_t *w = ctx;
  char uid[QP_WALLET_ID_HEX + 1];
  qp_u128 account = 0;
  uint32_t n = 0;
  if (!user_of(w, qp_http_param(req, "handle"), uid, &account, r)) return;
  if (qp__wallet_sessions_revoke(w, uid, &n) != 0) {
    qp_http_reply_fail(r, 503, "store_unavailable", "", "cannot revoke the sessions");
    return;
  }
  qp_http_reply_json(r, 200, json_pack("{s:I}", "revoked", (json_int_t)n));
}
