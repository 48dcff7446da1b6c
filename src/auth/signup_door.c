/*
 * signup_door.c - users and registration for the wallet module (auth.h,
 * "the wallet's door"): a user is looked up by handle or id, and a signup
 * registers the passkey first and creates the user only once its
 * attestation verified (routes_register.c's checks, unchanged), so an
 * abandoned signup leaves no user and no taken handle behind.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/auth_int.h"
#include "base/err.h"

static void unavailable(qp_http_reply_t *r) {
  qp_http_reply_fail(r, 503, "auth_unavailable", "", "the wallet needs the auth module");
}

static void copy(char *out, size_t size, const json_t *v) {
  snprintf(out, size, "%s", json_string_value(v) ? json_string_value(v) : "");
}

int qp_auth_user_find(const char *handle, char user_id[33], char *display_name, size_t size) {
  qp__auth_t *a = qp__auth_service_get();
  uint8_t id[QP_AUTH_ID_SIZE];
  json_t *user = NULL;
  if (a == NULL) return QP_ENOTSUP;
  int rc = qp__auth_user_by_handle(a, handle, id);
  if (rc == 0) rc = qp__auth_user_get(a, id, &user);
  if (rc != 0) return rc;
  qp__auth_id_hex(id, user_id);
  copy(display_name, size, json_object_get(user, "display_name"));
  json_decref(user);
  return 0;
}

int qp_auth_user_names(const char *user_id, char *handle, size_t handle_size, char *display_name,
                       size_t display_size) {
  qp__auth_t *a = qp__auth_service_get();
  uint8_t id[QP_AUTH_ID_SIZE];
  json_t *user = NULL;
  if (a == NULL) return QP_ENOTSUP;
  if (!qp__auth_id_parse(user_id, id)) return QP_ENOTFOUND;
  int rc = qp__auth_user_get(a, id, &user);
  if (rc != 0) return rc;
  copy(handle, handle_size, json_object_get(user, "handle"));
  copy(display_name, display_size, json_object_get(user, "display_name"));
  json_decref(user);
  return 0;
}

void qp_auth_door_signup_options(const char *handle, const char *display_name,
                                 char user_id[33], qp_http_reply_t *r) {
  qp__auth_t *a = qp__auth_service_get();
  if (a == NULL) {
    unavailable(r);
    return;
  }
  uint8_t id[QP_AUTH_ID_SIZE];
  randombytes_buf(id, sizeof id);
  qp__auth_id_hex(id, user_id);
  qp__auth_ceremony_t c;
  if (qp__auth_ceremony_new(a, QP__AUTH_REGISTER, id, &c) != 0) {
    qp_http_reply_fail(r, 429, "too_many_ceremonies", "",
                       "too many challenges are outstanding; retry when some have expired");
    return;
  }
  json_t *user = json_pack("{s:s, s:s}", "handle", handle, "display_name", display_name);
  char hex[QP_AUTH_ID_HEX + 1];
  qp__auth_id_hex(c.id, hex);
  json_t *options = user ? qp__auth_creation_options(a, &c, user, true) : NULL;
  json_decref(user);
  qp_http_reply_json(r, 200, json_pack("{s:s, s:o, s:o}", "ceremony", hex, "publicKey", options,
                                       "expires_at", qp__auth_time_json(c.expires_wall_s)));
}

typedef struct {
  qp__auth_t *a;
  uint8_t id[QP_AUTH_ID_SIZE];
  const char *handle, *display_name;
} signup_t;

/* After the attestation verified: the ceremony must be this signup's; the
 * user is created (the handle may have been taken meanwhile). */
static bool create_user(void *ctx, const qp__auth_ceremony_t *c, qp_http_reply_t *r) {
  signup_t *s = ctx;
  if (sodium_memcmp(c->user_id, s->id, QP_AUTH_ID_SIZE) != 0) {
    qp_http_reply_fail(r, 404, "ceremony_not_found", "signup_id", "no such signup");
    return false;
  }
  char hex[QP_AUTH_ID_HEX + 1];
  qp__auth_id_hex(s->id, hex);
  json_t *user = json_pack("{s:s, s:s, s:s, s:o}", "id", hex, "handle", s->handle,
                           "display_name", s->display_name, "created",
                           qp__auth_time_json(qp__auth_now_s()));
  int rc = user ? qp__auth_user_put(s->a, s->id, s->handle, user) : QP_ENOMEM;
  json_decref(user);
  if (rc == QP_EEXISTS)
    qp_http_reply_fail(r, 409, "handle_taken", "handle", "a user with this handle exists");
  else if (rc != 0)
    qp__auth_reply_store(r, rc, "cannot store the user");
  return rc == 0;
}

void qp_auth_door_signup_verify(const char *user_id, const char *handle,
                                const char *display_name, const char *ceremony,
                                const json_t *credential, qp_http_reply_t *r) {
  signup_t s = {qp__auth_service_get(), {0}, handle, display_name};
  if (s.a == NULL) {
    unavailable(r);
    return;
  }
  if (!qp__auth_id_parse(user_id, s.id)) {
    qp_http_reply_fail(r, 404, "ceremony_not_found", "signup_id", "no such signup");
    return;
  }
  json_t *body = json_pack("{s:s, s:O}", "ceremony", ceremony, "credential", credential);
  if (body == NULL) {
    qp_http_reply_fail(r, 500, "internal", "", "out of memory");
    return;
  }
  qp__auth_register_run(s.a, body, create_user, &s, r);
  json_decref(body);
}
