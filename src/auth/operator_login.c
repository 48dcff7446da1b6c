/*
 * operator_login.c - an operator signs in to the console with a passkey
 * (no API key needed): POST /v1/operators/login/options {"name"?} answers
 * assertion options (allowCredentials: the named operator's passkeys, or
 * none for a discoverable one) and a ceremony id; POST
 * /v1/operators/login/verify {"ceremony_id", "credential"} checks the
 * assertion with the wallet login's code (login_door.c: WebAuthn §7.2,
 * user verification required, the signature count checked and stored, the
 * challenge single-use) against the operators' passkeys only, and mints a
 * console key (operator_keys.c).  POST /v1/operators/logout revokes the
 * caller's console key.
 *
 * A name no operator has gets options like a real operator's (one made-up
 * passkey id).  Whatever is wrong with the passkey itself - unknown, another operator's,
 * a bad signature, no user verification - is one 401 passkey_refused, so a
 * probe cannot tell an unknown operator from a wrong passkey; the node's
 * log says which check refused.
 */
#include <sodium.h>
#include <string.h>

#include "auth/intents_int.h"
#include "auth/operators.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"

/* allowCredentials for a name no operator has: one made-up passkey id,
 * the same for the same name while the node runs, so the options look like
 * a real operator's (one passkey, the usual case) and tell a probe nothing. */
static json_t *decoy_descriptors(qp__auth_t *a, const char *name) {
  uint8_t id[32];
  crypto_generichash(id, sizeof id, (const uint8_t *)name, strlen(name), a->decoy_key,
                     sizeof a->decoy_key);
  return json_pack("[{s:s, s:o, s:[s]}]", "type", "public-key", "id",
                   qp__auth_b64url_json(id, sizeof id), "transports", "internal");
}

void qp__auth_operators_login_options(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const allowed[] = {"name", NULL};
  qp__auth_t *a = ctx;
  json_t *body = qp_http_body_object(req, r, allowed, QP_HTTP_BODY_EMPTY_OBJECT);
  const char *name = NULL;
  bool ok = body != NULL && qp_http_member_string(body, "name", NULL, 256, false, &name, r);
  if (ok && name != NULL && !qp__auth_operator_name_ok(name)) {
    qp_http_reply_fail(r, 400, "invalid_value", "name",
                       "name must be 1 to 48 of a-z, 0-9, '.', '_' and '-'");
    ok = false;
  }
  uint8_t id[QP_AUTH_ID_SIZE] = {0};
  json_t *op = NULL;
  /* An unknown name gets options like any other (and a refusal at verify). */
  if (ok && name != NULL && qp__auth_operator_get(a, name, &op) == 0 &&
      !qp__auth_id_parse(json_string_value(json_object_get(op, "id")), id))
    memset(id, 0, sizeof id);
  qp__auth_ceremony_t c;
  int rc = ok ? qp__auth_ceremony_new_named(a, QP__AUTH_OP_LOGIN, id, name ? name : "", &c)
              : QP_EINVAL;
  json_decref(op);
  json_decref(body);
  if (rc == QP_ELIMIT)
    qp_http_reply_fail(r, 429, "too_many_ceremonies", "", "too many challenges outstanding");
  if (rc != 0) return;
  static const uint8_t none[QP_AUTH_ID_SIZE] = {0};
  json_t *allow = memcmp(id, none, sizeof id) != 0
                      ? qp__auth_realm_descriptors(a, QP__AUTH_OPERATORS, id)
                      : c.name[0] != '\0' ? decoy_descriptors(a, c.name) : json_array();
  char hex[QP_AUTH_ID_HEX + 1];
  qp__auth_id_hex(c.id, hex);
  json_t *options = json_pack("{s:o, s:s, s:o, s:s, s:I}", "challenge",
                              qp__auth_b64url_json(c.challenge, sizeof c.challenge), "rpId",
                              a->settings.rp_id, "allowCredentials", allow, "userVerification",
                              "required", "timeout",
                              (json_int_t)a->settings.challenge_ttl_s * 1000);
  qp_http_reply_json(r, 200, json_pack("{s:s, s:o, s:o}", "ceremony_id", hex, "publicKey",
                                       options, "expires_at",
                                       qp__auth_time_json(c.expires_wall_s)));
}

/* The passkey's checks, into scratch (any refusal there becomes the one
 * 401): the operators' credential, the ceremony's operator when it named
 * one, §7.2, the new count stored.  0 with op (the operator's name), 1
 * when refused, or a store error (negative). */
static int check_passkey(qp__auth_t *a, const qp__auth_ceremony_t *c,
                         const qp__auth_assertion_in_t *as, char *op, qp_http_reply_t *scratch) {
  json_t *rec = NULL;
  qp_auth_cose_key_t key = {0, NULL};
  uint8_t owner[QP_AUTH_ID_SIZE];
  int rc = qp__auth_realm_cred_get(a, QP__AUTH_OPERATORS, as->raw_id, as->raw_id_len, &rec);
  const char *name = json_string_value(json_object_get(rec, "operator"));
  bool ok = rc == 0 && name != NULL && strlen(name) <= QP_AUTH_OPERATOR_NAME_MAX &&
            qp__auth_id_parse(json_string_value(json_object_get(rec, "user_id")), owner) &&
            (c->name[0] == '\0' || strcmp(c->name, name) == 0);
  if (ok) memcpy(op, name, strlen(name) + 1);
  json_decref(rec);
  rec = NULL;
  if (!ok) qp_http_reply_fail(scratch, 400, "credential_unknown", "credential.id",
                              "no such operator passkey (or not the named operator's)");
  ok = ok && qp__auth_find_credential_in(a, QP__AUTH_OPERATORS, owner, as, &rec, &key, scratch) &&
       qp__auth_assertion_check(a, c, as, rec, &key, scratch);
  rc = ok ? qp__auth_realm_cred_update(a, QP__AUTH_OPERATORS, as->raw_id, as->raw_id_len, rec)
          : 1;
  if (rc == QP_ENOTFOUND) { /* deleted meanwhile */
    qp_http_reply_fail(scratch, 400, "credential_unknown", "credential.id", "deleted meanwhile");
    rc = 1;
  }
  qp_auth_cose_key_deinit(&key);
  json_decref(rec);
  return rc;
}

/* The console key of op: 200 {key, key_id?, expires_at, operator}. */
static void mint(qp__auth_t *a, const char *op, qp_http_reply_t *r) {
  uint64_t n = 0;
  int64_t expires_s = 0;
  char text[QP_HTTP_KEY_TEXT_SIZE], detail[256] = "";
  int rc = qp__auth_operator_next_session(a, op, &n);
  for (int tries = 0; rc == 0 && tries < 2; tries++) { /* a key file restored from a backup */
    rc = qp__auth_console_key_mint(a, op, n, text, &expires_s, detail, sizeof detail);
    if (rc != QP_EEXISTS) break;
    rc = qp__auth_operator_next_session(a, op, &n);
  }
  if (rc == QP_ENOTFOUND) {
    qp_http_reply_fail(r, 401, "passkey_refused", "credential", "the passkey was not accepted");
    return;
  }
  if (rc != 0) {
    QP_LOG_ERROR("auth", "cannot mint a console key for operator %s: %s", op, detail);
    qp_http_reply_fail(r, 503, "keys_unavailable", "", "the key file cannot be written now");
    return;
  }
  atomic_fetch_add(&a->operator_signins_ok, 1);
  QP_LOG_INFO("auth", "operator %s signed in to the console (key console-%s-%llu)", op, op,
              (unsigned long long)n);
  qp_http_reply_json(r, 200, json_pack("{s:s, s:o, s:s}", "key", text, "expires_at",
                                       qp__auth_time_json(expires_s), "operator", op));
  sodium_memzero(text, sizeof text);
}

void qp__auth_operators_login_verify(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const allowed[] = {"ceremony_id", "credential", NULL};
  qp__auth_t *a = ctx;
  json_t *body = qp_http_body_object(req, r, allowed, 0);
  qp__auth_assertion_in_t *as = body != NULL ? qp_calloc(1, sizeof *as) : NULL;
  qp__auth_ceremony_t c;
  char op[QP_AUTH_OPERATOR_NAME_MAX + 1] = "";
  qp_http_reply_t scratch = {0};
  bool ok = false;
  if (body != NULL && as == NULL) qp_http_reply_fail(r, 500, "internal", "", "out of memory");
  if (as != NULL && qp__auth_read_assertion(json_object_get(body, "credential"), as, r) &&
      qp__auth_take_ceremony(a, body, "ceremony_id", QP__AUTH_OP_LOGIN, &c, r)) {
    int rc = check_passkey(a, &c, as, op, &scratch);
    ok = rc == 0;
    if (rc < 0) qp__auth_reply_store(r, rc, "cannot store the signature count");
    if (rc > 0) {
      QP_LOG_INFO("auth", "operator sign-in refused: %s",
                  scratch.body != NULL ? scratch.body : "?");
      qp_http_reply_fail(r, 401, "passkey_refused", "credential",
                         "the passkey was not accepted: sign in with an enrolled operator "
                         "passkey, with user verification");
    }
  }
  qp_free(scratch.body);
  if (ok) mint(a, op, r);
  else atomic_fetch_add(&a->operator_signins_refused, 1);
  qp_free(as);
  json_decref(body);
}

void qp__auth_operators_logout(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__auth_t *a = ctx;
  if (!qp__auth_empty_body(req, r)) return;
  bool revoked = false;
  char detail[256] = "";
  if (qp__auth_console_key_logout(a, qp_http_caller_key_id(req), &revoked, detail,
                                  sizeof detail) != 0) {
    QP_LOG_ERROR("auth", "cannot revoke a console key: %s", detail);
    qp_http_reply_fail(r, 503, "keys_unavailable", "", "the key file cannot be written now");
    return;
  }
  qp_http_reply_json(r, 200, json_pack("{s:b}", "revoked", revoked));
}

void qp__auth_metrics(void *ctx, qp_http_text_t *out) {
  qp__auth_t *a = ctx;
  qp_http_metric_header(out, "quipu_auth_operator_signins_total", "counter",
                        "Operator console sign-ins with a passkey, by result");
  qp_http_text_put(out, "quipu_auth_operator_signins_total{result=\"ok\"} %llu\n",
                   (unsigned long long)atomic_load(&a->operator_signins_ok));
  qp_http_text_put(out, "quipu_auth_operator_signins_total{result=\"refused\"} %llu\n",
                   (unsigned long long)atomic_load(&a->operator_signins_refused));
}
