/*
 * routes_paycode.c - the pay code a shop scans (docs/wallet.md): POST
 * /v1/wallet/paycode/unlock issues a plain passkey challenge (kept in the
 * session); POST /v1/wallet/paycode with its assertion unlocks the code
 * for paycode_unlock_s, and while unlocked answers the user's current
 * code (the payments module's device, enrolled once per user), its expiry
 * and a QR of it.  Locked and no valid assertion: 401 passkey_required.
 */
#include <string.h>

#include "auth/auth.h"
#include "base/alloc.h"
#include "base/err.h"
#include "payments/payments.h"
#include "wallet/wallet_int.h"

void qp__wallet_paycode_unlock(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const none[] = {NULL};
  qp__wallet_t *w = ctx;
  qp__wallet_session_t s;
  uint8_t hash[QP_WALLET_HASH_SIZE];
  if (!qp__wallet_session(w, req, r, &s, hash)) return;
  json_t *body = qp_http_body_object(req, r, none, QP_HTTP_BODY_EMPTY_OBJECT);
  if (body == NULL) return;
  json_decref(body);
  qp_http_reply_t door = {0};
  qp_auth_door_login_options(s.user_id, &door);
  json_t *opts = qp__wallet_reply_body(&door);
  const char *ceremony = json_string_value(json_object_get(opts, "ceremony"));
  if (ceremony == NULL) {
    qp__wallet_reply_move(r, &door);
  } else {
    snprintf(s.unlock, sizeof s.unlock, "%s", ceremony);
    int rc = qp__wallet_session_put(w, hash, &s, false);
    if (rc == QP_ENOTFOUND)
      qp_http_reply_fail(r, 401, "session_required", "", "the session ended");
    else if (rc != 0)
      qp_http_reply_fail(r, 503, "store_unavailable", "", "cannot keep the challenge");
    else
      qp_http_reply_json(r, 200, json_pack("{s:O, s:O}", "publicKey",
                                           json_object_get(opts, "publicKey"), "expires_at",
                                           json_object_get(opts, "expires_at")));
    qp__wallet_reply_drop(&door);
  }
  json_decref(opts);
}

/* Checks the assertion over the session's unlock challenge; true after
 * storing the unlock, false after a reply. */
static bool unlock(qp__wallet_t *w, qp__wallet_session_t *s, const uint8_t *hash,
                   const json_t *cred, qp_http_reply_t *r) {
  qp_http_reply_t door = {0};
  if (s->unlock[0] == '\0') {
    qp_http_reply_fail(r, 401, "passkey_required", "credential",
                       "ask POST /v1/wallet/paycode/unlock for a challenge first");
    return false;
  }
  qp_auth_door_login_verify(s->unlock, cred, &door);
  json_t *who = qp__wallet_reply_body(&door);
  const char *uid = json_string_value(json_object_get(who, "user_id"));
  bool ok = uid != NULL && strcmp(uid, s->user_id) == 0;
  if (!ok && door.status == 200)
    qp_http_reply_fail(r, 401, "passkey_required", "credential", "not this user's passkey");
  else if (!ok)
    qp__wallet_reply_move(r, &door);
  qp__wallet_reply_drop(&door);
  json_decref(who);
  if (!ok) return false;
  s->unlock[0] = '\0';
  s->unlocked_until_s = qp__wallet_now_s() + w->settings.paycode_unlock_s;
  int rc = qp__wallet_session_put(w, hash, s, false);
  if (rc == 0) return true;
  if (rc == QP_ENOTFOUND) qp_http_reply_fail(r, 401, "session_required", "", "the session ended");
  else qp_http_reply_fail(r, 503, "store_unavailable", "", "cannot keep the unlock");
  return false;
}

static json_t *time_json(int64_t t) {
  char buf[32];
  qp_http_utc_format(t, buf, sizeof buf);
  return json_string(buf);
}

/* The user's device (enrolled on first use) and its code as a reply. */
static void code(qp__wallet_t *w, const qp__wallet_session_t *s, qp_http_reply_t *r) {
  char device[QP_WALLET_ID_HEX + 1], text[QP_PAYCODE_DIGITS + 1];
  qp_u128 account = 0;
  int64_t expires = 0;
  int rc = qp__wallet_device_of(w, s->user_id, device);
  if (rc == QP_ENOTFOUND && (rc = qp__wallet_account_of(w, s->user_id, &account)) == 0 &&
      (rc = qp_payments_device_enrol(s->user_id, account, w->settings.ledger, device)) == 0)
    rc = qp__wallet_device_put(w, s->user_id, device);
  if (rc == 0) rc = qp_payments_device_code(device, text, &expires);
  char *svg = NULL;
  size_t len = 0;
  if (rc == 0) rc = qp_payments_qr_svg(text, &svg, &len);
  if (rc == QP_ENOTSUP)
    qp_http_reply_fail(r, 503, "payments_unavailable", "", "pay codes need the payments module");
  else if (rc != 0)
    qp_http_reply_fail(r, 503, "payments_unavailable", "", "cannot make the pay code now");
  else
    qp_http_reply_json(r, 200, json_pack("{s:s, s:o, s:s%, s:o}", "code", text, "expires_at",
                                         time_json(expires), "qr_svg", svg, len,
                                         "unlocked_until", time_json(s->unlocked_until_s)));
  qp_free(svg);
}

void qp__wallet_paycode(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const allowed[] = {"credential", NULL};
  qp__wallet_t *w = ctx;
  qp__wallet_session_t s;
  uint8_t hash[QP_WALLET_HASH_SIZE];
  if (!qp__wallet_session(w, req, r, &s, hash)) return;
  json_t *body = qp_http_body_object(req, r, allowed, QP_HTTP_BODY_EMPTY_OBJECT);
  if (body == NULL) return;
  const json_t *cred = json_object_get(body, "credential");
  bool ok = cred != NULL ? unlock(w, &s, hash, cred, r) : s.unlocked_until_s > qp__wallet_now_s();
  if (!ok && cred == NULL)
    qp_http_reply_fail(r, 401, "passkey_required", "credential",
                       "the pay code is locked: unlock it with the passkey");
  if (ok) code(w, &s, r);
  json_decref(body);
}
