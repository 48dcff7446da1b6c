/*
 * session.c - session tokens and cookies (docs/wallet.md, "Sessions"),
 * pure: a token is 32 random bytes as base64url without padding; the
 * store keeps only its SHA-256, so a copy of the data directory opens no
 * session.  The cookie is quipu_session=<token>; Path=/; HttpOnly;
 * SameSite=Strict; Max-Age=<session_ttl_s> (and Secure over TLS).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "wallet/wallet_int.h"

void qp__wallet_token_new(char out[QP_WALLET_TOKEN_TEXT]) {
  uint8_t raw[QP_WALLET_TOKEN_SIZE];
  randombytes_buf(raw, sizeof raw);
  sodium_bin2base64(out, QP_WALLET_TOKEN_TEXT, raw, sizeof raw,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof raw);
}

bool qp__wallet_token_ok(const char *text) {
  if (text == NULL || strlen(text) != QP_WALLET_TOKEN_TEXT - 1) return false;
  for (const char *p = text; *p; p++) {
    char c = *p;
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '_'))
      return false;
  }
  return true;
}

void qp__wallet_token_hash(const char *token, uint8_t out[QP_WALLET_HASH_SIZE]) {
  qp_sha256(out, token, strlen(token));
}

int qp__wallet_cookie(const char *token, uint32_t max_age_s, bool secure, char *out,
                      size_t size) {
  bool clear = token == NULL || token[0] == '\0';
  int n = snprintf(out, size, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%u%s",
                   QP_WALLET_COOKIE, clear ? "" : token, clear ? 0u : max_age_s,
                   secure ? "; Secure" : "");
  return n > 0 && (size_t)n < size ? 0 : QP_ERANGE;
}

bool qp__wallet_session_live(const qp__wallet_session_t *s, int64_t now_s) {
  return !s->revoked && now_s < s->expires_s && s->user_id[0] != '\0';
}

json_t *qp__wallet_session_json(const qp__wallet_session_t *s) {
  return json_pack("{s:s, s:I, s:I, s:I, s:b, s:s}", "user_id", s->user_id, "created_s",
                   (json_int_t)s->created_s, "expires_s", (json_int_t)s->expires_s,
                   "unlocked_until_s", (json_int_t)s->unlocked_until_s, "revoked", s->revoked,
                   "unlock", s->unlock);
}

int qp__wallet_session_from_json(const json_t *j, qp__wallet_session_t *s) {
  memset(s, 0, sizeof *s);
  const char *uid = json_string_value(json_object_get(j, "user_id"));
  if (uid == NULL || strlen(uid) != QP_WALLET_ID_HEX) return QP_ECORRUPT;
  memcpy(s->user_id, uid, QP_WALLET_ID_HEX + 1);
  s->created_s = json_integer_value(json_object_get(j, "created_s"));
  s->expires_s = json_integer_value(json_object_get(j, "expires_s"));
  s->unlocked_until_s = json_integer_value(json_object_get(j, "unlocked_until_s"));
  s->revoked = json_is_true(json_object_get(j, "revoked"));
  const char *unlock = json_string_value(json_object_get(j, "unlock"));
  if (unlock != NULL && strlen(unlock) == QP_WALLET_ID_HEX)
    memcpy(s->unlock, unlock, QP_WALLET_ID_HEX + 1);
  return 0;
}
