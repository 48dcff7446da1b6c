/*
 * login_door.c - a plain passkey assertion for the wallet module (auth.h,
 * "the wallet's door"): a random challenge of its own ceremony (kind
 * login), verified with the same WebAuthn §7.2 checks as a payment's
 * confirmation (assert.c: origin, rpIdHash, UP, UV required, signature,
 * signCount), the new signature count stored.  Without a user the
 * credential must be discoverable: its record names the user.
 */
#include <string.h>

#include "auth/auth.h"
#include "auth/intents_int.h"
#include "base/alloc.h"
#include "base/err.h"

static const char *const GET_TYPES[] = {"webauthn.get"};

void qp_auth_door_login_options(const char *user_id, qp_http_reply_t *r) {
  qp__auth_t *a = qp__auth_service_get();
  uint8_t uid[QP_AUTH_ID_SIZE] = {0};
  if (a == NULL) {
    qp_http_reply_fail(r, 503, "auth_unavailable", "", "the wallet needs the auth module");
    return;
  }
  if (user_id != NULL && !qp__auth_id_parse(user_id, uid)) {
    qp_http_reply_fail(r, 404, "user_not_found", "handle", "no such user");
    return;
  }
  qp__auth_ceremony_t c;
  if (qp__auth_ceremony_new(a, QP__AUTH_LOGIN, uid, &c) != 0) {
    qp_http_reply_fail(r, 429, "too_many_ceremonies", "", "too many challenges outstanding");
    return;
  }
  char hex[QP_AUTH_ID_HEX + 1];
  qp__auth_id_hex(c.id, hex);
  json_t *allow = user_id != NULL ? qp__auth_cred_descriptors(a, uid) : json_array();
  json_t *options = json_pack("{s:o, s:s, s:o, s:s, s:I}", "challenge",
                              qp__auth_b64url_json(c.challenge, sizeof c.challenge), "rpId",
                              a->settings.rp_id, "allowCredentials", allow, "userVerification",
                              "required", "timeout",
                              (json_int_t)a->settings.challenge_ttl_s * 1000);
  qp_http_reply_json(r, 200, json_pack("{s:s, s:o, s:o}", "ceremony", hex, "publicKey", options,
                                       "expires_at", qp__auth_time_json(c.expires_wall_s)));
}

static bool take(qp__auth_t *a, const char *ceremony, qp__auth_ceremony_t *c,
                 qp_http_reply_t *r) {
  uint8_t id[QP_AUTH_ID_SIZE];
  int rc = ceremony != NULL && qp__auth_id_parse(ceremony, id)
               ? qp__auth_ceremony_take(a, id, QP__AUTH_LOGIN, c)
               : QP_ENOTFOUND;
  if (rc == QP_ENOTFOUND)
    qp_http_reply_fail(r, 404, "ceremony_not_found", "login_id", "no such login: ask again");
  else if (rc == QP_EEXISTS)
    qp_http_reply_fail(r, 400, "challenge_used", "login_id", "this challenge was used already");
  else if (rc == QP_ERANGE)
    qp_http_reply_fail(r, 400, "challenge_expired", "login_id", "this challenge expired");
  return rc == 0;
}

/* The user the assertion is for: the ceremony's, or the credential's own. */
static bool whose(qp__auth_t *a, const qp__auth_ceremony_t *c, const qp__auth_assertion_in_t *as,
                  uint8_t user_id[QP_AUTH_ID_SIZE], qp_http_reply_t *r) {
  static const uint8_t none[QP_AUTH_ID_SIZE] = {0};
  memcpy(user_id, c->user_id, QP_AUTH_ID_SIZE);
  if (memcmp(user_id, none, QP_AUTH_ID_SIZE) != 0) return true;
  json_t *rec = NULL;
  int rc = qp__auth_cred_get(a, as->raw_id, as->raw_id_len, &rec);
  bool ok = rc == 0 && qp__auth_id_parse(json_string_value(json_object_get(rec, "user_id")),
                                         user_id);
  json_decref(rec);
  if (!ok)
    qp_http_reply_fail(r, 400, "credential_unknown", "credential.id",
                       "no such credential is registered");
  return ok;
}

bool qp__auth_assertion_check(qp__auth_t *a, const qp__auth_ceremony_t *c,
                              const qp__auth_assertion_in_t *as, json_t *rec,
                              const qp_auth_cose_key_t *key, qp_http_reply_t *r) {
  char buf[2][QP_AUTH_ORIGIN_MAX];
  const char *origins[QP_AUTH_ORIGINS_MAX], *tops[QP_AUTH_ORIGINS_MAX];
  qp_auth_origin_policy_t policy;
  qp__auth_policy(a, buf, origins, tops, &policy);
  const json_t *flags = json_object_get(rec, "flags");
  qp_auth_assert_expect_t ex = {
      a->settings.rp_id, true, {GET_TYPES, 1, c->challenge, sizeof c->challenge, &policy},
      key->pkey, key->alg, (uint32_t)json_integer_value(json_object_get(rec, "sign_count")),
      json_is_true(json_object_get(flags, "be"))};
  qp_auth_fail_t fail = {0};
  qp_auth_assertion_t out;
  int rc = qp_auth_assert_verify(&ex, as->client_data, as->client_data_len, as->auth_data,
                                 as->auth_data_len, as->sig, as->sig_len, &out, NULL, &fail);
  if (rc != 0) {
    qp__auth_reply_refusal(r, rc, &fail, "credential");
    return false;
  }
  json_object_set_new(rec, "sign_count", json_integer(out.sign_count));
  json_object_set_new(rec, "last_used", qp__auth_time_json(qp__auth_now_s()));
  json_object_set_new(rec, "flags", qp__auth_flags_json(out.flags));
  return true;
}

static bool check(qp__auth_t *a, const qp__auth_ceremony_t *c, const qp__auth_assertion_in_t *as,
                  json_t *rec, const qp_auth_cose_key_t *key, qp_http_reply_t *r) {
  if (!qp__auth_assertion_check(a, c, as, rec, key, r)) return false;
  int rc = qp__auth_cred_update(a, as->raw_id, as->raw_id_len, rec);
  if (rc != 0) qp__auth_reply_store(r, rc, "cannot store the signature count");
  return rc == 0;
}

void qp_auth_door_login_verify(const char *ceremony, const json_t *credential,
                               qp_http_reply_t *r) {
  qp__auth_t *a = qp__auth_service_get();
  if (a == NULL) {
    qp_http_reply_fail(r, 503, "auth_unavailable", "", "the wallet needs the auth module");
    return;
  }
  qp__auth_assertion_in_t *as = qp_calloc(1, sizeof *as);
  qp__auth_ceremony_t c;
  uint8_t user_id[QP_AUTH_ID_SIZE];
  json_t *rec = NULL;
  qp_auth_cose_key_t key = {0, NULL};
  if (as == NULL) qp_http_reply_fail(r, 500, "internal", "", "out of memory");
  else if (qp__auth_read_assertion(credential, as, r) && take(a, ceremony, &c, r) &&
           whose(a, &c, as, user_id, r) &&
           qp__auth_find_credential(a, user_id, as, &rec, &key, r) &&
           check(a, &c, as, rec, &key, r)) {
    char hex[QP_AUTH_ID_HEX + 1];
    qp__auth_id_hex(user_id, hex);
    qp_http_reply_json(r, 200, json_pack("{s:s}", "user_id", hex));
  }
  qp_auth_cose_key_deinit(&key);
  json_decref(rec);
  qp_free(as);
}
