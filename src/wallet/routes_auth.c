/*
 * routes_auth.c - signing up and in (docs/wallet.md): POST
 * /v1/wallet/signup/options and /verify (a discoverable passkey; the auth
 * user, its credential and its ledger account are made only once the
 * passkey verifies), POST /v1/wallet/login/options and /verify (a plain
 * assertion over a random challenge), POST /v1/wallet/logout.  A verify
 * answers Me and sets the session cookie.
 */
#include <string.h>

#include "auth/auth.h"
#include "base/err.h"
#include "wallet/wallet_int.h"

static bool handle_ok(const char *text) {
  for (const unsigned char *p = (const unsigned char *)text; *p; p++)
    if (*p < 0x21 || *p == 0x7f) return false;
  return true;
}

void qp__wallet_signup_options(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const allowed[] = {"handle", "display_name", NULL};
  qp__wallet_t *w = ctx;
  json_t *body = qp_http_body_object(req, r, allowed, QP_HTTP_BODY_EMPTY_OBJECT);
  const char *handle = NULL, *name = NULL;
  if (body != NULL &&
      qp_http_member_string(body, "handle", NULL, QP_WALLET_HANDLE_MAX, true, &handle, r))
    qp_http_member_string(body, "display_name", NULL, QP_WALLET_NAME_MAX, true, &name, r);
  char uid[QP_WALLET_ID_HEX + 1], other[QP_WALLET_NAME_MAX + 1];
  if (name != NULL && !handle_ok(handle)) {
    qp_http_reply_fail(r, 400, "invalid_value", "handle",
                       "handle must be 1 to 64 bytes without spaces or control characters");
  } else if (name != NULL && qp_auth_user_find(handle, uid, other, sizeof other) == 0) {
    qp_http_reply_fail(r, 409, "handle_taken", "handle", "a user with this handle exists");
  } else if (name != NULL) {
    qp_http_reply_t door = {0};
    qp__wallet_signup_t s;
    memset(&s, 0, sizeof s);
    qp_auth_door_signup_options(handle, name, s.user_id, &door);
    json_t *opts = qp__wallet_reply_body(&door);
    const char *ceremony = json_string_value(json_object_get(opts, "ceremony"));
    if (ceremony == NULL) {
      qp__wallet_reply_move(r, &door);
    } else {
      snprintf(s.ceremony, sizeof s.ceremony, "%s", ceremony);
      snprintf(s.handle, sizeof s.handle, "%s", handle);
      snprintf(s.display_name, sizeof s.display_name, "%s", name);
      if (qp__wallet_signup_add(w, &s) != 0)
        qp_http_reply_fail(r, 429, "too_many_signups", "", "too many signups are outstanding");
      else
        qp_http_reply_json(r, 200, json_pack("{s:s, s:O, s:O}", "signup_id", ceremony,
                                             "publicKey", json_object_get(opts, "publicKey"),
                                             "expires_at", json_object_get(opts, "expires_at")));
      qp__wallet_reply_drop(&door);
    }
    json_decref(opts);
  }
  json_decref(body);
}

/* After a verified passkey: the user's ledger account, a session, Me. */
static void signed_in(qp__wallet_t *w, const char *user_id, bool new_user, qp_http_reply_t *r) {
  qp_u128 account = 0;
  char cookie[QP_WALLET_COOKIE_MAX];
  int rc = 0;
  if (qp__wallet_account_of(w, user_id, &account) == QP_ENOTFOUND) {
    rc = qp__wallet_account_create(w, user_id, &account);
    if (rc == 0) qp__wallet_welcome(w, account);
  }
  if (rc == 0) rc = qp__wallet_session_open(w, user_id, cookie, sizeof cookie);
  if (rc != 0) {
    qp_http_reply_fail(r, 503, "wallet_unavailable", "",
                       "cannot open the account or the session; try again");
    return;
  }
  atomic_fetch_add(new_user ? &w->signups_total : &w->logins_total, 1);
  json_t *me = qp__wallet_me(w, user_id, r);
  if (me == NULL) return;
  qp_http_reply_json(r, 200, me);
  if (qp_http_reply_header(r, "Set-Cookie", cookie) != 0)
    qp_http_reply_fail(r, 500, "internal", "", "cannot set the session cookie");
}

void qp__wallet_signup_verify(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const allowed[] = {"signup_id", "credential", NULL};
  qp__wallet_t *w = ctx;
  json_t *body = qp_http_body_object(req, r, allowed, QP_HTTP_BODY_EMPTY_OBJECT);
  const char *id = NULL;
  if (body != NULL) qp_http_member_string(body, "signup_id", NULL, QP_WALLET_ID_HEX, true, &id, r);
  qp__wallet_signup_t s;
  if (id != NULL && json_object_get(body, "credential") == NULL) {
    qp_http_reply_fail(r, 400, "missing_field", "credential", "field \"credential\" is required");
  } else if (id != NULL && qp__wallet_signup_take(w, id, &s) != 0) {
    qp_http_reply_fail(r, 404, "signup_not_found", "signup_id",
                       "no such signup (or it expired): ask for new options");
  } else if (id != NULL) {
    qp_http_reply_t door = {0};
    qp_auth_door_signup_verify(s.user_id, s.handle, s.display_name, s.ceremony,
                               json_object_get(body, "credential"), &door);
    if (door.status == 200) {
      qp__wallet_reply_drop(&door);
      signed_in(w, s.user_id, true, r);
    } else {
      qp__wallet_reply_move(r, &door);
    }
  }
  json_decref(body);
}

void qp__wallet_login_options(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const allowed[] = {"handle", NULL};
  (void)ctx;
  json_t *body = qp_http_body_object(req, r, allowed, QP_HTTP_BODY_EMPTY_OBJECT);
  if (body == NULL) return;
  const char *handle = NULL;
  char uid[QP_WALLET_ID_HEX + 1], name[QP_WALLET_NAME_MAX + 1];
  qp_http_reply_t door = {0};
  if (!qp_http_member_string(body, "handle", NULL, QP_WALLET_HANDLE_MAX, false, &handle, r)) {
    json_decref(body); /* a bad handle: replied */
    return;
  }
  if (handle != NULL && qp_auth_user_find(handle, uid, name, sizeof name) != 0) {
    qp_http_reply_fail(r, 404, "user_not_found", "handle", "no user has this handle");
    json_decref(body);
    return;
  }
  qp_auth_door_login_options(handle != NULL ? uid : NULL, &door);
  json_t *opts = qp__wallet_reply_body(&door);
  if (opts == NULL) {
    qp__wallet_reply_move(r, &door);
  } else {
    qp_http_reply_json(r, 200, json_pack("{s:O, s:O, s:O}", "login_id",
                                         json_object_get(opts, "ceremony"), "publicKey",
                                         json_object_get(opts, "publicKey"), "expires_at",
                                         json_object_get(opts, "expires_at")));
    qp__wallet_reply_drop(&door);
  }
  json_decref(opts);
  json_decref(body);
}

void qp__wallet_login_verify(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const allowed[] = {"login_id", "credential", NULL};
  qp__wallet_t *w = ctx;
  json_t *body = qp_http_body_object(req, r, allowed, QP_HTTP_BODY_EMPTY_OBJECT);
  const char *id = NULL;
  if (body != NULL) qp_http_member_string(body, "login_id", NULL, QP_WALLET_ID_HEX, true, &id, r);
  if (id != NULL && json_object_get(body, "credential") == NULL) {
    qp_http_reply_fail(r, 400, "missing_field", "credential", "field \"credential\" is required");
  } else if (id != NULL) {
    qp_http_reply_t door = {0};
    qp_auth_door_login_verify(id, json_object_get(body, "credential"), &door);
    json_t *who = qp__wallet_reply_body(&door);
    const char *uid = json_string_value(json_object_get(who, "user_id"));
    if (uid != NULL) {
      qp__wallet_reply_drop(&door);
      signed_in(w, uid, false, r);
    } else {
      qp__wallet_reply_move(r, &door);
    }
    json_decref(who);
  }
  json_decref(body);
}

void qp__wallet_logout(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const none[] = {NULL};
  qp__wallet_t *w = ctx;
  qp__wallet_session_t s;
  uint8_t hash[QP_WALLET_HASH_SIZE];
  json_t *body = qp_http_body_object(req, r, none, QP_HTTP_BODY_EMPTY_OBJECT);
  if (body == NULL || !qp__wallet_session(w, req, r, &s, hash)) {
    json_decref(body);
    return;
  }
  json_decref(body);
  s.revoked = true;
  if (qp__wallet_session_put(w, hash, &s, false) != 0) {
    qp_http_reply_fail(r, 503, "store_unavailable", "", "cannot revoke the session");
    return;
  }
  char cookie[QP_WALLET_COOKIE_MAX];
  qp__wallet_cookie(NULL, 0, w->server != NULL && qp_http_server_tls(w->server), cookie,
                    sizeof cookie);
  qp_http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
  qp_http_reply_header(r, "Set-Cookie", cookie);
}
