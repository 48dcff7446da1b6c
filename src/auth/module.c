/*
 * module.c - the auth module of the node (docs/auth.md): its settings in
 * node.json, opening the store, and what it hands the HTTP core.
 *
 *   "auth": {"rp_id": "pay.example", "rp_name": "Example Pay",
 *            "origins": ["https://pay.example", "android:apk-key-hash:…"],
 *            "top_origins": [], "challenge_ttl_s": 300,
 *            "operator_session_ttl_s": 28800}
 *
 * With a loopback listen address and none given, the RP id is "localhost"
 * and the allowed origins are http://localhost:<port> and
 * http://127.0.0.1:<port> for the port the node actually bound (known only
 * once it listens, so the list is made when a ceremony needs it).  On any
 * other address rp_id and origins are required.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth_int.h"
#include "auth/operators.h"
#include "base/alloc.h"
#include "base/err.h"
#include "node/module.h"

static int bad(char *detail, size_t size, const char *key, const char *what) {
  snprintf(detail, size, "modules.auth.%s %s", key, what);
  return QP_EINVAL;
}

static int copy_string(json_t *v, const char *key, char *out, size_t size, char *detail,
                       size_t detail_size) {
  if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= size ||
      strlen(json_string_value(v)) != json_string_length(v)) {
    snprintf(detail, detail_size, "modules.auth.%s must be a non-empty string (< %zu bytes)",
             key, size);
    return QP_EINVAL;
  }
  memcpy(out, json_string_value(v), json_string_length(v) + 1);
  return 0;
}

static int origin_list(json_t *v, const char *key, char out[][QP_AUTH_ORIGIN_MAX],
                       uint32_t *count, char *detail, size_t detail_size) {
  if (!json_is_array(v) || json_array_size(v) > QP_AUTH_ORIGINS_MAX)
    return bad(detail, detail_size, key, "must be an array of at most 16 origins");
  *count = (uint32_t)json_array_size(v);
  for (uint32_t i = 0; i < *count; i++)
    if (copy_string(json_array_get(v, i), key, out[i], QP_AUTH_ORIGIN_MAX, detail,
                    detail_size) != 0)
      return QP_EINVAL;
  return 0;
}

static int one_setting(qp__auth_settings_t *s, const char *key, json_t *v, char *detail,
                       size_t size) {
  if (strcmp(key, "rp_id") == 0)
    return copy_string(v, key, s->rp_id, sizeof s->rp_id, detail, size);
  if (strcmp(key, "rp_name") == 0)
    return copy_string(v, key, s->rp_name, sizeof s->rp_name, detail, size);
  if (strcmp(key, "origins") == 0)
    return origin_list(v, key, s->origins, &s->origins_count, detail, size);
  if (strcmp(key, "top_origins") == 0)
    return origin_list(v, key, s->top_origins, &s->top_origins_count, detail, size);
  if (strcmp(key, "challenge_ttl_s") == 0) {
    json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;
    if (n < 1 || n > QP_AUTH_CHALLENGE_TTL_S_MAX)
      return bad(detail, size, key, "must be an integer from 1 to 3600");
    s->challenge_ttl_s = (uint32_t)n;
    return 0;
  }
  if (strcmp(key, "operator_session_ttl_s") == 0) {
    json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;
    if (n < 1 || n > QP_AUTH_OPERATOR_TTL_S_MAX)
      return bad(detail, size, key, "must be an integer from 1 to 86400 (seconds)");
    s->operator_session_ttl_s = (uint32_t)n;
    return 0;
  }
  snprintf(detail, size, "unknown key modules.auth.%s; allowed: rp_id, rp_name, origins, "
           "top_origins, challenge_ttl_s, operator_session_ttl_s", key);
  return QP_EINVAL;
}

static bool loopback(const char *listen) {
  return strncmp(listen, "127.", 4) == 0 || strncmp(listen, "[::1]:", 6) == 0 ||
         strncmp(listen, "localhost:", 10) == 0;
}

static int parse_settings(const json_t *obj, const char *listen, qp__auth_settings_t *s,
                          char *detail, size_t size) {
  memset(s, 0, sizeof *s);
  s->challenge_ttl_s = QP_AUTH_CHALLENGE_TTL_S_DEFAULT;
  s->operator_session_ttl_s = QP_AUTH_OPERATOR_TTL_S_DEFAULT;
  if (obj != NULL && !json_is_object(obj)) {
    snprintf(detail, size, "modules.auth must be an object");
    return QP_EINVAL;
  }
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)obj, key, v) {
    int rc = one_setting(s, key, v, detail, size);
    if (rc != 0) return rc;
  }
  if (!loopback(listen) && (s->rp_id[0] == '\0' || s->origins_count == 0))
    return bad(detail, size, "rp_id", "and modules.auth.origins are required when the node "
               "listens on a non-loopback address");
  if (s->rp_id[0] == '\0') snprintf(s->rp_id, sizeof s->rp_id, "localhost");
  if (s->rp_name[0] == '\0') snprintf(s->rp_name, sizeof s->rp_name, "quipu");
  return 0;
}

void qp__auth_policy(qp__auth_t *a, char buf[2][QP_AUTH_ORIGIN_MAX],
                     const char *ptrs[QP_AUTH_ORIGINS_MAX], const char *tops[QP_AUTH_ORIGINS_MAX],
                     qp_auth_origin_policy_t *policy) {
  const qp__auth_settings_t *s = &a->settings;
  uint32_t n = s->origins_count;
  for (uint32_t i = 0; i < n; i++) ptrs[i] = s->origins[i];
  if (n == 0) {
    unsigned port = a->server != NULL ? qp_http_server_port(a->server) : 0;
    snprintf(buf[0], QP_AUTH_ORIGIN_MAX, "http://localhost:%u", port);
    snprintf(buf[1], QP_AUTH_ORIGIN_MAX, "http://127.0.0.1:%u", port);
    ptrs[0] = buf[0];
    ptrs[1] = buf[1];
    n = 2;
  }
  for (uint32_t i = 0; i < s->top_origins_count; i++) tops[i] = s->top_origins[i];
  *policy = (qp_auth_origin_policy_t){ptrs, n, s->top_origins_count > 0, tops,
                                      s->top_origins_count};
}

static const qp_http_route_t ROUTES[] = {
    {"POST", "/v1/users", "auth:write", false, 4096, qp__auth_users_create},
    {"GET", "/v1/users/{id}/credentials", "auth:read", false, 0, qp__auth_credentials_list},
    {"DELETE", "/v1/users/{id}/credentials/{credential_id}", "auth:write", false, 0,
     qp__auth_credentials_delete},
    {"POST", "/v1/webauthn/register/options", "auth:write", false, 4096,
     qp__auth_register_options},
    {"POST", "/v1/webauthn/register/verify", "auth:write", false, QP_AUTH_BODY_BYTES_MAX,
     qp__auth_register_verify},
    {"POST", "/v1/payment-intents", "auth:write", false, 8192, qp__auth_intents_create},
    {"GET", "/v1/payment-intents", "auth:read", false, 0, qp__auth_intents_list},
    {"GET", "/v1/payment-intents/{id}", "auth:read", false, 0, qp__auth_intents_get},
    {"POST", "/v1/payment-intents/{id}/challenge", "auth:write", false, 1024,
     qp__auth_intents_challenge},
    {"POST", "/v1/payment-intents/{id}/confirm", "auth:write", false, QP_AUTH_BODY_BYTES_MAX,
     qp__auth_intents_confirm},
    {"POST", "/v1/payment-intents/{id}/cancel", "auth:write", false, 1024,
     qp__auth_intents_cancel},
    {"POST", "/v1/payment-intents/{id}/approve", "risk:admin", false, 1024,
     qp__auth_intents_approve},
    {"POST", "/v1/payment-intents/{id}/decline", "risk:admin", false, 1024,
     qp__auth_intents_decline},
    {"POST", "/v1/operators/passkeys/options", "admin", false, 1024,
     qp__auth_operators_passkey_options},
    {"POST", "/v1/operators/passkeys/verify", "admin", false, QP_AUTH_BODY_BYTES_MAX,
     qp__auth_operators_passkey_verify},
    {"GET", "/v1/operators", "admin", false, 0, qp__auth_operators_list},
    {"DELETE", "/v1/operators/{name}", "admin", false, 0, qp__auth_operators_delete},
    {"DELETE", "/v1/operators/{name}/passkeys/{credential_id}", "admin", false, 0,
     qp__auth_operators_passkey_delete},
    {"POST", "/v1/operators/login/options", NULL, true, 1024, qp__auth_operators_login_options},
    {"POST", "/v1/operators/login/verify", NULL, true, QP_AUTH_BODY_BYTES_MAX,
     qp__auth_operators_login_verify},
    {"POST", "/v1/operators/logout", "admin", false, 1024, qp__auth_operators_logout},
};

static int auth_open(const qp_node_env_t *env, const json_t *settings, void **state,
                     char *detail, size_t detail_size) {
  qp__auth_t *a = qp_calloc(1, sizeof *a);
  if (a == NULL) return QP_ENOMEM;
  int rc = parse_settings(settings, env->http->listen, &a->settings, detail, detail_size);
  if (rc == 0 && strlen(env->data_dir) >= sizeof a->data_dir) {
    snprintf(detail, detail_size, "auth: the data directory's path is too long");
    rc = QP_ERANGE;
  }
  if (rc == 0) memcpy(a->data_dir, env->data_dir, strlen(env->data_dir) + 1);
  if (rc == 0) rc = qp__auth_store_open(a, env->data_dir, detail, detail_size);
  if (rc != 0) {
    qp_free(a);
    return rc;
  }
  pthread_mutex_init(&a->lock, NULL);
  for (uint32_t i = 0; i < QP_AUTH_INTENT_LOCKS; i++) pthread_mutex_init(&a->intent_locks[i], NULL);
  a->server = env->server;
  randombytes_buf(a->decoy_key, sizeof a->decoy_key);
  qp__auth_service_set(a);
  a->http = (qp_http_module_t){.name = "auth", .routes = ROUTES,
                               .routes_count = sizeof ROUTES / sizeof ROUTES[0], .ctx = a,
                               .openapi = qp_auth_openapi_json,
                               .metrics = qp__auth_metrics};
  *state = a;
  return 0;
}

static const qp_http_module_t *auth_routes(void *state) { return &((qp__auth_t *)state)->http; }

static void auth_close(void *state) {
  qp__auth_t *a = state;
  qp__auth_service_set(NULL);
  qp__auth_store_close(a);
  pthread_mutex_destroy(&a->lock);
  for (uint32_t i = 0; i < QP_AUTH_INTENT_LOCKS; i++) pthread_mutex_destroy(&a->intent_locks[i]);
  qp_free(a);
}

static const qp_http_scope_t SCOPES[] = {
    {"auth:write", "create users, run WebAuthn registrations, delete credentials, create, "
                   "confirm and cancel payment intents"},
    {"auth:read", "read users' credentials and payment intents"},
};

const qp_module_t qp_auth_module = {
    .name = "auth",
    .summary = "WebAuthn relying party: users, passkeys, payment intents (docs/auth.md)",
    .scopes = SCOPES,
    .scopes_count = 2,
    .open = auth_open,
    .routes = auth_routes,
    .close = auth_close,
};
