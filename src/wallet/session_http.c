/*
 * session_http.c - the session of a request: the quipu_session cookie,
 * hashed and looked up; missing, unknown, expired or revoked is 401
 * session_required (one code for all four, so a probe learns nothing).
 * Opening a session makes a token, stores its hash and sets the cookie.
 */
#include <sodium.h>
#include <string.h>

#include "base/err.h"
#include "wallet/wallet_int.h"

bool qp__wallet_session(qp__wallet_t *w, qp_http_request_t *req, qp_http_reply_t *r,
                        qp__wallet_session_t *s, uint8_t hash[QP_WALLET_HASH_SIZE]) {
  const char *token = qp_http_cookie(req, QP_WALLET_COOKIE);
  int rc = QP_ENOTFOUND;
  if (qp__wallet_token_ok(token)) {
    qp__wallet_token_hash(token, hash);
    rc = qp__wallet_session_get(w, hash, s);
  }
  if (rc == 0 && qp__wallet_session_live(s, qp__wallet_now_s())) return true;
  atomic_fetch_add(&w->sessions_refused, 1);
  if (rc != 0 && rc != QP_ENOTFOUND)
    qp_http_reply_fail(r, 503, "store_unavailable", "", "cannot read the session");
  else
    qp_http_reply_fail(r, 401, "session_required", "",
                       "sign in: this needs a live wallet session (the quipu_session cookie)");
  return false;
}

int qp__wallet_session_open(qp__wallet_t *w, const char *user_id, char *cookie, size_t size) {
  char token[QP_WALLET_TOKEN_TEXT];
  uint8_t hash[QP_WALLET_HASH_SIZE];
  qp__wallet_session_t s;
  memset(&s, 0, sizeof s);
  snprintf(s.user_id, sizeof s.user_id, "%s", user_id);
  s.created_s = qp__wallet_now_s();
  s.expires_s = s.created_s + w->settings.session_ttl_s;
  qp__wallet_token_new(token);
  qp__wallet_token_hash(token, hash);
  int rc = qp__wallet_session_put(w, hash, &s, true);
  bool tls = w->server != NULL && qp_http_server_tls(w->server);
  if (rc == 0)
    rc = qp__wallet_cookie(token, w->settings.session_ttl_s, tls, cookie, size);
  sodium_memzero(token, sizeof token);
  return rc;
}
