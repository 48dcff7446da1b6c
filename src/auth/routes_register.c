/*
 * routes_register.c - the registration ceremony over HTTP, in WebAuthn's
 * JSON serialization: POST /v1/webauthn/register/options answers
 * {"ceremony", "publicKey": PublicKeyCredentialCreationOptionsJSON} for
 * PublicKeyCredential.parseCreationOptionsFromJSON, and POST
 * /v1/webauthn/register/verify takes {"ceremony", "credential":
 * RegistrationResponseJSON} (credential.toJSON() unchanged), runs §7.1
 * (src/auth/attest.c) and stores the credential.
 */
#include <stdio.h>
#include <string.h>

#include "auth/auth_int.h"
#include "base/alloc.h"
#include "base/err.h"

#define TRANSPORTS_MAX 8 /* entries of response.transports kept */

static const int64_t ALGS[] = {QP_AUTH_COSE_ES256, QP_AUTH_COSE_EDDSA, QP_AUTH_COSE_RS256};
static const char *const CREATE[] = {"webauthn.create"};

static json_t *cred_params(void) {
  json_t *list = json_array();
  for (size_t i = 0; i < 3; i++)
    json_array_append_new(list, json_pack("{s:s, s:I}", "type", "public-key", "alg",
                                          (json_int_t)ALGS[i]));
  return list;
}

/* The user's credentials as descriptors: registration's excludeCredentials
 * (an authenticator that has one already says so instead of making a
 * second) and a wallet login's allowCredentials. */
json_t *qp__auth_cred_descriptors(qp__auth_t *a, const uint8_t user_id[QP_AUTH_ID_SIZE]) {
  return qp__auth_realm_descriptors(a, QP__AUTH_USERS, user_id);
}

json_t *qp__auth_realm_descriptors(qp__auth_t *a, qp__auth_realm_t realm,
                                   const uint8_t owner_id[QP_AUTH_ID_SIZE]) {
  json_t *list = NULL, *out = json_array();
  if (qp__auth_realm_cred_list(a, realm, owner_id, &list) != 0) return out;
  size_t i;
  json_t *rec;
  json_array_foreach(list, i, rec) {
    json_t *d = json_pack("{s:s, s:O}", "type", "public-key", "id", json_object_get(rec, "id"));
    json_t *tr = json_object_get(rec, "transports");
    if (d != NULL && json_array_size(tr) > 0) json_object_set(d, "transports", tr);
    json_array_append_new(out, d);
  }
  json_decref(list);
  return out;
}

json_t *qp__auth_creation_options(qp__auth_t *a, const qp__auth_ceremony_t *c,
                                 const json_t *user, bool resident) {
  return json_pack(
      "{s:{s:s, s:s}, s:{s:o, s:O, s:O}, s:o, s:o, s:I, s:o, s:{s:s, s:b, s:s}, s:s, s:{s:b}}",
      "rp", "id", a->settings.rp_id, "name", a->settings.rp_name,
      "user", "id", qp__auth_b64url_json(c->user_id, QP_AUTH_ID_SIZE), "name",
      json_object_get(user, "handle"), "displayName", json_object_get(user, "display_name"),
      "challenge", qp__auth_b64url_json(c->challenge, sizeof c->challenge),
      "pubKeyCredParams", cred_params(),
      "timeout", (json_int_t)a->settings.challenge_ttl_s * 1000,
      "excludeCredentials",
      qp__auth_realm_descriptors(a, c->kind == QP__AUTH_OP_REGISTER ? QP__AUTH_OPERATORS
                                                                    : QP__AUTH_USERS,
                                 c->user_id),
      "authenticatorSelection", "residentKey", resident ? "required" : "preferred",
      "requireResidentKey", resident,
      "userVerification", "required", "attestation", "none", "extensions", "credProps", 1);
}

/* The user named by body.user_id; NULL after an error reply. */
static json_t *body_user(qp__auth_t *a, const json_t *body, uint8_t id[QP_AUTH_ID_SIZE],
                         qp_http_reply_t *r) {
  const char *text = NULL;
  if (!qp_http_member_string(body, "user_id", NULL, QP_AUTH_ID_HEX, true, &text, r)) return NULL;
  json_t *user = NULL;
  int rc = qp__auth_id_parse(text, id) ? qp__auth_user_get(a, id, &user) : QP_ENOTFOUND;
  if (rc == QP_ENOTFOUND) qp_http_reply_fail(r, 404, "user_not_found", "user_id", "no such user");
  else if (rc != 0) qp__auth_reply_store(r, rc, "cannot read the user");
  return user;
}

void qp__auth_register_options(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const allowed[] = {"user_id", NULL};
  qp__auth_t *a = ctx;
  json_t *body = qp_http_body_object(req, r, allowed, 0);
  uint8_t id[QP_AUTH_ID_SIZE];
  json_t *user = body ? body_user(a, body, id, r) : NULL;
  json_decref(body);
  if (user == NULL) return;
  qp__auth_ceremony_t c;
  if (qp__auth_ceremony_new(a, QP__AUTH_REGISTER, id, &c) != 0) {
    json_decref(user);
    qp_http_reply_fail(r, 429, "too_many_ceremonies", "",
                       "too many challenges are outstanding; retry when some have expired");
    return;
  }
  char hex[QP_AUTH_ID_HEX + 1];
  qp__auth_id_hex(c.id, hex);
  json_t *options = qp__auth_creation_options(a, &c, user, false);
  json_decref(user);
  qp_http_reply_json(r, 200, json_pack("{s:s, s:o, s:o}", "ceremony", hex, "publicKey", options,
                                       "expires_at", qp__auth_time_json(c.expires_wall_s)));
}

/* ---------------------------------------------------------------- verify */

/* The byte strings of a RegistrationResponseJSON. */
typedef struct {
  uint8_t client_data[QP_AUTH_CLIENT_DATA_MAX];
  size_t client_data_len;
  uint8_t att_obj[QP_AUTH_ATTESTATION_OBJECT_MAX];
  size_t att_obj_len;
  uint8_t raw_id[QP_AUTH_CREDENTIAL_ID_MAX];
  size_t raw_id_len;
  json_t *transports; /* borrowed from the body; NULL when absent */
} response_t;

static bool transports_ok(const json_t *t) {
  if (t == NULL) return true;
  if (!json_is_array(t) || json_array_size(t) > TRANSPORTS_MAX) return false;
  size_t i;
  json_t *v;
  json_array_foreach(t, i, v) if (!json_is_string(v) || json_string_length(v) > 32) return false;
  return true;
}

static bool read_response(const json_t *cred, response_t *out, qp_http_reply_t *r) {
  const json_t *resp = json_object_get(cred, "response");
  const char *type = json_string_value(json_object_get(cred, "type"));
  if (!json_is_object(cred) || !json_is_object(resp) || type == NULL ||
      strcmp(type, "public-key") != 0) {
    qp_http_reply_fail(r, 400, "invalid_value", "credential", "credential must be a "
                       "RegistrationResponseJSON: {id, rawId, type: \"public-key\", response}");
    return false;
  }
  out->transports = json_object_get(resp, "transports");
  if (!transports_ok(out->transports)) {
    qp_http_reply_fail(r, 400, "invalid_value", "credential.response.transports",
                       "transports must be an array of at most 8 short strings");
    return false;
  }
  uint8_t id[QP_AUTH_CREDENTIAL_ID_MAX];
  size_t id_len = 0;
  if (!qp__auth_b64_member(cred, "rawId", "credential.rawId", out->raw_id, sizeof out->raw_id,
                           &out->raw_id_len, r) ||
      !qp__auth_b64_member(cred, "id", "credential.id", id, sizeof id, &id_len, r))
    return false;
  if (id_len != out->raw_id_len || memcmp(id, out->raw_id, id_len) != 0) {
    qp_http_reply_fail(r, 400, "credential_id_mismatch", "credential.id",
                       "credential.id and credential.rawId differ");
    return false;
  }
  return qp__auth_b64_member(resp, "clientDataJSON", "credential.response.clientDataJSON",
                             out->client_data, sizeof out->client_data, &out->client_data_len,
                             r) &&
         qp__auth_b64_member(resp, "attestationObject", "credential.response.attestationObject",
                             out->att_obj, sizeof out->att_obj, &out->att_obj_len, r);
}

/* The ceremony named by body.ceremony, taken; false after an error reply. */
bool qp__auth_take_ceremony(qp__auth_t *a, const json_t *body, const char *member,
                            qp__auth_kind_t kind, qp__auth_ceremony_t *c, qp_http_reply_t *r) {
  const char *text = NULL;
  if (!qp_http_member_string(body, member, NULL, QP_AUTH_ID_HEX, true, &text, r)) return false;
  uint8_t id[QP_AUTH_ID_SIZE];
  int rc = qp__auth_id_parse(text, id) ? qp__auth_ceremony_take(a, id, kind, c) : QP_ENOTFOUND;
  if (rc == QP_ENOTFOUND)
    qp_http_reply_fail(r, 404, "ceremony_not_found", member,
                       "no such ceremony: ask for new options");
  else if (rc == QP_EEXISTS)
    qp_http_reply_fail(r, 400, "challenge_used", member,
                       "this ceremony's challenge was used already; ask for new options");
  else if (rc == QP_ERANGE)
    qp_http_reply_fail(r, 400, "challenge_expired", member,
                       "this ceremony's challenge expired; ask for new options");
  return rc == 0;
}

static json_t *flags_json(uint8_t f) {
  return json_pack("{s:b, s:b, s:b, s:b}", "up", (f & QP_AUTH_FLAG_UP) != 0, "uv",
                   (f & QP_AUTH_FLAG_UV) != 0, "be", (f & QP_AUTH_FLAG_BE) != 0, "bs",
                   (f & QP_AUTH_FLAG_BS) != 0);
}

static json_t *uuid_json(const uint8_t g[16]) {
  char s[37];
  snprintf(s, sizeof s,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", g[0], g[1],
           g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], g[14],
           g[15]);
  return json_string(s);
}

json_t *qp__auth_credential_record(const qp_auth_registration_t *reg, const uint8_t *user_id,
                                   json_t *transports) {
  char hex[QP_AUTH_ID_HEX + 1];
  qp__auth_id_hex(user_id, hex);
  json_t *tr = transports ? json_incref(transports) : json_array();
  return json_pack("{s:o, s:s, s:s, s:s, s:o, s:I, s:o, s:I, s:o, s:n, s:o, s:o}", "id",
                   qp__auth_b64url_json(reg->credential_id, reg->credential_id_len), "user_id",
                   hex, "fmt", reg->fmt, "attestation_type", reg->attestation_type, "aaguid",
                   uuid_json(reg->aaguid), "alg", (json_int_t)reg->alg, "flags",
                   flags_json(reg->flags), "sign_count", (json_int_t)reg->sign_count, "created",
                   qp__auth_time_json(qp__auth_now_s()), "last_used", "transports",
                   tr, "public_key",
                   qp__auth_b64url_json(reg->cose_key, reg->cose_key_len));
}

/* Runs §7.1 over the response for ceremony c; true with *reg filled, or
 * false after an error reply. */
static bool verify(qp__auth_t *a, const qp__auth_ceremony_t *c, const response_t *resp,
                   qp_auth_registration_t *reg, qp_http_reply_t *r) {
  char buf[2][QP_AUTH_ORIGIN_MAX];
  const char *origins[QP_AUTH_ORIGINS_MAX], *tops[QP_AUTH_ORIGINS_MAX];
  qp_auth_origin_policy_t policy;
  qp__auth_policy(a, buf, origins, tops, &policy);
  qp_auth_register_expect_t ex = {a->settings.rp_id, ALGS, 3, true,
                                  {CREATE, 1, c->challenge, sizeof c->challenge, &policy}};
  qp_auth_fail_t fail = {0};
  int rc = qp_auth_register_verify(&ex, resp->client_data, resp->client_data_len, resp->att_obj,
                                   resp->att_obj_len, reg, &fail);
  if (rc != 0) {
    qp__auth_reply_refusal(r, rc, &fail, "credential");
    return false;
  }
  if (reg->credential_id_len != resp->raw_id_len ||
      memcmp(reg->credential_id, resp->raw_id, resp->raw_id_len) != 0) {
    qp_http_reply_fail(r, 400, "credential_id_mismatch", "credential.rawId",
                       "rawId is not the credential id in the authenticator data");
    return false;
  }
  return true;
}

/* Stores the verified credential and answers it. */
static void store(qp__auth_t *a, const qp__auth_ceremony_t *c, const qp_auth_registration_t *reg,
                  const response_t *resp, qp_http_reply_t *r) {
  json_t *user = NULL, *list = NULL;
  int rc = qp__auth_user_get(a, c->user_id, &user);
  if (rc == 0) rc = qp__auth_cred_list(a, c->user_id, &list);
  json_decref(user);
  if (rc == 0 && json_array_size(list) >= QP_AUTH_CREDENTIALS_PER_USER_MAX) rc = QP_ELIMIT;
  json_decref(list);
  json_t *rec = rc == 0 ? qp__auth_credential_record(reg, c->user_id, resp->transports) : NULL;
  if (rc == 0) rc = rec ? qp__auth_cred_put(a, c->user_id, reg->credential_id,
                                            reg->credential_id_len, rec)
                        : QP_ENOMEM;
  if (rc == 0) qp_http_reply_json(r, 200, qp__auth_credential_public(rec));
  else if (rc == QP_ENOTFOUND) qp_http_reply_fail(r, 404, "user_not_found", "", "no such user");
  else if (rc == QP_ELIMIT)
    qp_http_reply_fail(r, 409, "too_many_credentials", "", "this user has 64 credentials");
  else if (rc == QP_EEXISTS)
    qp_http_reply_fail(r, 409, "credential_exists", "credential.id",
                       "a credential with this id is registered already");
  else qp__auth_reply_store(r, rc, "cannot store the credential");
  json_decref(rec);
}

void qp__auth_register_run(qp__auth_t *a, const json_t *body, qp__auth_register_prepare_fn prepare,
                           void *ctx, qp_http_reply_t *r) {
  response_t *resp = qp_calloc(1, sizeof *resp);
  qp_auth_registration_t *reg = qp_calloc(1, sizeof *reg);
  qp__auth_ceremony_t c;
  if (resp == NULL || reg == NULL)
    qp_http_reply_fail(r, 500, "internal", "", "out of memory");
  else if (read_response(json_object_get(body, "credential"), resp, r) &&
           qp__auth_take_ceremony(a, body, "ceremony", QP__AUTH_REGISTER, &c, r) &&
           verify(a, &c, resp, reg, r) && (prepare == NULL || prepare(ctx, &c, r)))
    store(a, &c, reg, resp, r);
  qp_free(reg);
  qp_free(resp);
}

bool qp__auth_register_check(qp__auth_t *a, const json_t *body, const char *member,
                             qp__auth_kind_t kind, qp__auth_ceremony_t *c,
                             qp_auth_registration_t *reg, json_t **transports,
                             qp_http_reply_t *r) {
  response_t *resp = qp_calloc(1, sizeof *resp);
  bool ok = false;
  if (resp == NULL)
    qp_http_reply_fail(r, 500, "internal", "", "out of memory");
  else
    ok = read_response(json_object_get(body, "credential"), resp, r) &&
         qp__auth_take_ceremony(a, body, member, kind, c, r) && verify(a, c, resp, reg, r);
  *transports = ok ? resp->transports : NULL;
  qp_free(resp);
  return ok;
}

void qp__auth_register_verify(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const allowed[] = {"ceremony", "credential", NULL};
  qp__auth_t *a = ctx;
  json_t *body = qp_http_body_object(req, r, allowed, 0);
  if (body == NULL) return;
  qp__auth_register_run(a, body, NULL, NULL, r);
  json_decref(body);
}
