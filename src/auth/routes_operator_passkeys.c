/*
 * routes_operator_passkeys.c - DELETE
 * /v1/operators/{name}/passkeys/{credential_id} (scope admin): one passkey
 * of an operator removed (a lost or replaced device) while the operator
 * and their other passkeys stay.  The operator's console sessions are not
 * tied to a passkey and run until they expire; deleting the operator
 * (routes_operators.c) ends them.
 */
#include <string.h>

#include "auth/operators.h"
#include "base/err.h"

void qp__auth_operators_passkey_delete(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__auth_t *a = ctx;
  const char *name = qp_http_param(req, "name"), *text = qp_http_param(req, "credential_id");
  json_t *op = NULL;
  uint8_t owner[QP_AUTH_ID_SIZE], cred[QP_AUTH_CREDENTIAL_ID_MAX];
  size_t len = 0;
  int rc = qp__auth_operator_name_ok(name) ? qp__auth_operator_get(a, name, &op) : QP_ENOTFOUND;
  if (rc == 0 && !qp__auth_id_parse(json_string_value(json_object_get(op, "id")), owner))
    rc = QP_ECORRUPT;
  json_decref(op);
  if (rc == QP_ENOTFOUND) {
    qp_http_reply_fail(r, 404, "operator_not_found", "name", "no such operator");
    return;
  }
  if (rc == 0)
    rc = text != NULL && qp__auth_b64url_decode(text, cred, sizeof cred, &len) == 0
             ? qp__auth_realm_cred_delete(a, QP__AUTH_OPERATORS, owner, cred, len)
             : QP_ENOTFOUND;
  if (rc == 0)
    qp_http_reply_json(r, 200, json_pack("{s:s, s:s, s:b}", "operator", name, "credential_id",
                                         text, "deleted", true));
  else if (rc == QP_ENOTFOUND)
    qp_http_reply_fail(r, 404, "credential_not_found", "credential_id",
                       "this operator has no such passkey");
  else
    qp__auth_reply_store(r, rc, "cannot delete the passkey");
}
