/*
 * operator_keys.c - an operator's console sessions are API keys in the
 * node's key file (src/http/keys.c): named console-<operator>-<n>, scope
 * admin, expiring after modules.auth.operator_session_ttl_s.  The HTTP
 * core checks them like any key (it notices a new or revoked key within a
 * fraction of a second), so a session needs no store of its own: its name
 * says whose it is.  Each sign-in first drops the console keys that can
 * never work again (expired or revoked), so the file does not grow with
 * every sign-in; deleting an operator revokes the live ones.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth/operators.h"
#include "base/alloc.h"
#include "base/err.h"

bool qp__auth_operator_name_ok(const char *name) {
  size_t n = name != NULL ? strlen(name) : 0;
  if (n == 0 || n > QP_AUTH_OPERATOR_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

bool qp__auth_console_key_of(const char *key_name, char *op) {
  const size_t prefix = sizeof QP_AUTH_CONSOLE_KEY_PREFIX - 1;
  if (strncmp(key_name, QP_AUTH_CONSOLE_KEY_PREFIX, prefix) != 0) return false;
  const char *rest = key_name + prefix, *dash = strrchr(rest, '-');
  if (dash == NULL || dash == rest || dash[1] == '\0') return false;
  for (const char *p = dash + 1; *p; p++)
    if (*p < '0' || *p > '9') return false;
  size_t n = (size_t)(dash - rest);
  if (n > QP_AUTH_OPERATOR_NAME_MAX) return false;
  char name[QP_AUTH_OPERATOR_NAME_MAX + 1];
  memcpy(name, rest, n);
  name[n] = '\0';
  if (!qp__auth_operator_name_ok(name)) return false;
  if (op != NULL) memcpy(op, name, n + 1);
  return true;
}

typedef struct {
  const char *op;  /* the operator whose keys to revoke, or NULL */
  int64_t now_s;   /* for expiry */
  const char *id;  /* the one key id to revoke, or NULL */
} pick_t;

/* Sign-in's sweep: console keys that expired or were revoked go. */
static qp_http_key_action_t pick_dead(void *ctx, const qp_http_key_t *k) {
  const pick_t *p = ctx;
  if (!qp__auth_console_key_of(k->name, NULL)) return QP_HTTP_KEY_KEEP;
  return k->revoked || qp_http_key_expired(k, p->now_s) ? QP_HTTP_KEY_REMOVE : QP_HTTP_KEY_KEEP;
}

/* An operator's deletion: its live console keys are revoked. */
static qp_http_key_action_t pick_operator(void *ctx, const qp_http_key_t *k) {
  const pick_t *p = ctx;
  char op[QP_AUTH_OPERATOR_NAME_MAX + 1];
  if (!qp__auth_console_key_of(k->name, op) || strcmp(op, p->op) != 0) return QP_HTTP_KEY_KEEP;
  return k->revoked ? QP_HTTP_KEY_KEEP : QP_HTTP_KEY_REVOKE;
}

/* A sign-out: the caller's key, when it is a console key. */
static qp_http_key_action_t pick_id(void *ctx, const qp_http_key_t *k) {
  const pick_t *p = ctx;
  if (strcmp(k->id, p->id) != 0 || k->revoked || !qp__auth_console_key_of(k->name, NULL))
    return QP_HTTP_KEY_KEEP;
  return QP_HTTP_KEY_REVOKE;
}

int qp__auth_console_key_mint(qp__auth_t *a, const char *op, uint64_t n, char *key_text,
                              int64_t *expires_s, char *detail, size_t detail_size) {
  pick_t p = {NULL, (int64_t)time(NULL), NULL};
  int rc = qp_http_keys_sweep(a->data_dir, pick_dead, &p, NULL, NULL, detail, detail_size);
  if (rc != 0) return rc;
  char name[QP_HTTP_KEY_NAME_MAX + 1];
  int len = snprintf(name, sizeof name, QP_AUTH_CONSOLE_KEY_PREFIX "%s-%llu", op,
                     (unsigned long long)n);
  if (len < 0 || (size_t)len >= sizeof name) return QP_ERANGE; /* names are at most 48 bytes */
  qp_http_key_limits_t limits = {0};
  limits.expires_s = p.now_s + a->settings.operator_session_ttl_s;
  *expires_s = limits.expires_s;
  return qp_http_keys_create_limited(a->data_dir, name, "admin", &limits, key_text, NULL, detail,
                                     detail_size);
}

int qp__auth_console_keys_revoke(qp__auth_t *a, const char *op, uint32_t *revoked, char *detail,
                                 size_t detail_size) {
  pick_t p = {op, (int64_t)time(NULL), NULL};
  return qp_http_keys_sweep(a->data_dir, pick_operator, &p, revoked, NULL, detail, detail_size);
}

int qp__auth_console_key_logout(qp__auth_t *a, const char *key_id, bool *revoked,
                                char *detail, size_t detail_size) {
  pick_t p = {NULL, 0, key_id};
  uint32_t n = 0;
  *revoked = false;
  if (key_id == NULL || key_id[0] == '\0') return 0;
  int rc = qp_http_keys_sweep(a->data_dir, pick_id, &p, &n, NULL, detail, detail_size);
  *revoked = rc == 0 && n > 0;
  return rc;
}

json_t *qp__auth_console_sessions(qp__auth_t *a) {
  qp_http_key_t *keys = NULL;
  uint32_t count = 0;
  char detail[256];
  json_t *out = json_object();
  if (out == NULL || qp_http_keys_load(a->data_dir, &keys, &count, detail, sizeof detail) != 0)
    return out;
  int64_t now_s = (int64_t)time(NULL);
  for (uint32_t i = 0; i < count; i++) {
    char op[QP_AUTH_OPERATOR_NAME_MAX + 1];
    if (keys[i].revoked || qp_http_key_expired(&keys[i], now_s) ||
        !qp__auth_console_key_of(keys[i].name, op))
      continue;
    json_int_t n = json_integer_value(json_object_get(out, op));
    json_object_set_new(out, op, json_integer(n + 1));
  }
  qp_free(keys);
  return out;
}
