/*
 * routes_users.c - users and their credentials: POST /v1/users, GET
 * /v1/users/{id}/credentials, DELETE /v1/users/{id}/credentials/{credential_id}.
 * A user's id is 16 random bytes, shown as 32 hex digits; the same bytes
 * are the WebAuthn user handle (user.id), which carries nothing personal.
 */
#include <sodium.h>
#include <string.h>

#include "auth/auth_int.h"
#include "base/err.h"

static bool handle_ok(const char *text) {
  for (const unsigned char *p = (const unsigned char *)text; *p; p++)
    if (*p < 0x21 || *p == 0x7f) return false; /* no spaces or control characters */
  return true;
}

void qp__auth_users_create(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const allowed[] = {"handle", "display_name", NULL};
  qp__auth_t *a = ctx;
  json_t *body = qp_http_body_object(req, r, allowed, 0);
  if (body == NULL) return;
  const char *handle = NULL, *name = NULL;
  if (qp_http_member_string(body, "handle", NULL, QP_AUTH_HANDLE_MAX, true, &handle, r))
    qp_http_member_string(body, "display_name", NULL, QP_AUTH_DISPLAY_NAME_MAX, true, &name, r);
  if (name != NULL && !handle_ok(handle)) {
    qp_http_reply_fail(r, 400, "invalid_value", "handle",
                       "handle must be 1 to 64 bytes without spaces or control characters");
    name = NULL;
  }
  if (name == NULL) {
    json_decref(body);
    return;
  }
  uint8_t id[QP_AUTH_ID_SIZE];
  char hex[QP_AUTH_ID_HEX + 1];
  randombytes_buf(id, sizeof id);
  qp__auth_id_hex(id, hex);
  json_t *user = json_pack("{s:s, s:s, s:s, s:o}", "id", hex, "handle", handle, "display_name",
                           name, "created", qp__auth_time_json(qp__auth_now_s()));
  int rc = user ? qp__auth_user_put(a, id, handle, user) : QP_ENOMEM;
  json_decref(body);
  if (rc == 0) {
    qp_http_reply_json(r, 200, user);
    return;
  }
  json_decref(user);
  if (rc == QP_EEXISTS)
    qp_http_reply_fail(r, 409, "handle_taken", "handle", "a user with this handle exists");
  else
    qp__auth_reply_store(r, rc, "cannot store the user");
}

/* The {id} of the path as a user that exists; false after an error reply. */
static bool path_user(qp__auth_t *a, qp_http_request_t *req, qp_http_reply_t *r,
                      uint8_t id[QP_AUTH_ID_SIZE]) {
  if (!qp__auth_id_parse(qp_http_param(req, "id"), id)) {
    qp_http_reply_fail(r, 400, "invalid_value", "id",
                       "a user id is 32 lowercase hex digits, as POST /v1/users returned it");
    return false;
  }
  json_t *user = NULL;
  int rc = qp__auth_user_get(a, id, &user);
  json_decref(user);
  if (rc == QP_ENOTFOUND) qp_http_reply_fail(r, 404, "user_not_found", "id", "no such user");
  else if (rc != 0) qp__auth_reply_store(r, rc, "cannot read the user");
  return rc == 0;
}

json_t *qp__auth_credential_public(const json_t *stored) {
  json_t *out = json_deep_copy(stored);
  if (out != NULL) json_object_del(out, "public_key");
  return out;
}

void qp__auth_credentials_list(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__auth_t *a = ctx;
  uint8_t id[QP_AUTH_ID_SIZE];
  if (!path_user(a, req, r, id)) return;
  json_t *list = NULL;
  int rc = qp__auth_cred_list(a, id, &list);
  if (rc != 0) {
    qp__auth_reply_store(r, rc, "cannot read the credentials");
    return;
  }
  json_t *data = json_array();
  size_t i;
  json_t *rec;
  json_array_foreach(list, i, rec) json_array_append_new(data, qp__auth_credential_public(rec));
  json_decref(list);
  qp_http_reply_json(r, 200, json_pack("{s:o, s:n}", "data", data, "next_cursor"));
}

void qp__auth_credentials_delete(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__auth_t *a = ctx;
  uint8_t id[QP_AUTH_ID_SIZE], cred[QP_AUTH_CREDENTIAL_ID_MAX];
  size_t cred_len = 0;
  if (!path_user(a, req, r, id)) return;
  const char *text = qp_http_param(req, "credential_id");
  if (qp__auth_b64url_decode(text, cred, sizeof cred, &cred_len) != 0) {
    qp_http_reply_fail(r, 400, "invalid_value", "credential_id",
                       "a credential id is base64url, 1 to 1023 bytes");
    return;
  }
  int rc = qp__auth_cred_delete(a, id, cred, cred_len);
  if (rc == QP_ENOTFOUND)
    qp_http_reply_fail(r, 404, "credential_not_found", "credential_id",
                       "this user has no credential with this id");
  else if (rc != 0)
    qp__auth_reply_store(r, rc, "cannot delete the credential");
  else
    qp_http_reply_json(r, 200, json_pack("{s:s, s:b}", "id", text, "deleted", 1));
}
