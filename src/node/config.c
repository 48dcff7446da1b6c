/*
 * config.c - node.json (docs/node.md): which modules a node enables, where
 * it listens, where its data is, and the HTTP core's limits.  The smallest
 * one is {"listen": "127.0.0.1:7070", "modules": {"ledger": {}}}.
 *
 * Strict like the API: an unknown key, a wrong type or a value out of range
 * is refused with the key's full name and what is allowed, so a typo never
 * silently falls back to a default.  A module's own object is checked by
 * the module when it opens.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/err.h"
#include "node/node.h"
#include "store/store.h"

void qp_node_config_init(qp_node_config_t *c) {
  memset(c, 0, sizeof *c);
  qp_http_options_default(&c->http);
  snprintf(c->listen, sizeof c->listen, "%s", QP_HTTP_LISTEN_DEFAULT);
  c->http.listen = c->listen;
  c->log_level = QP_LOG_INFO;
}

void qp_node_config_deinit(qp_node_config_t *c) {
  for (uint32_t i = 0; i < c->modules_count; i++) json_decref(c->modules[i].settings);
  c->modules_count = 0;
}

int qp_node_config_enable(qp_node_config_t *c, const qp_module_t *module, json_t *settings) {
  for (uint32_t i = 0; i < c->modules_count; i++)
    if (c->modules[i].module == module) return QP_EEXISTS;
  if (c->modules_count == QP_NODE_MODULES_MAX) return QP_ELIMIT;
  c->modules[c->modules_count].module = module;
  c->modules[c->modules_count].settings = json_incref(settings);
  c->modules_count++;
  return 0;
}

/* An integer in [min, max] under http.<key>. */
static int http_number(const char *key, json_t *v, uint64_t min, uint64_t max, uint64_t *out,
                       char *detail, size_t detail_size) {
  json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
  if (!json_is_integer(v) || n < 0 || (uint64_t)n < min || (uint64_t)n > max) {
    snprintf(detail, detail_size, "http.%s must be an integer from %llu to %llu", key,
             (unsigned long long)min, (unsigned long long)max);
    return QP_EINVAL;
  }
  *out = (uint64_t)n;
  return 0;
}

static const struct {
  const char *key; /* under "http" */
  uint64_t min;    /* allowed range */
  uint64_t max;    /* " */
} HTTP_NUMBERS[] = {
    {"max_body_bytes", 64, 1ull << 32},        {"max_inflight_bytes", 4096, 1ull << 40},
    {"max_connections", 1, 65536},             {"timeout_s", 1, 3600},
    {"body_timeout_s", 1, 3600},               {"shutdown_grace_ms", 0, 600000},
    {"head_timeout_s", 1, 3600},               {"max_connections_per_address", 1, 65536},
    {"max_json_request_bytes", 1ull << 20, 1ull << 34},
    {"max_json_bytes", 1ull << 16, 1ull << 40},   {"max_streams", 0, 65536},
};
#define HTTP_NUMBERS_COUNT (sizeof HTTP_NUMBERS / sizeof HTTP_NUMBERS[0])

static void set_http_number(qp_http_options_t *o, size_t which, uint64_t n) {
  switch (which) {
    case 0: o->body_bytes_max = n; break;
    case 1: o->inflight_bytes_max = n; break;
    case 2: o->connections_max = (uint32_t)n; break;
    case 3: o->timeout_s = (uint32_t)n; break;
    case 4: o->body_timeout_s = (uint32_t)n; break;
    case 5: o->shutdown_grace_ms = (uint32_t)n; break;
    case 6: o->head_timeout_s = (uint32_t)n; break;
    case 7: o->connections_per_address_max = (uint32_t)n; break;
    case 8: o->json_request_bytes_max = n; break;
    case 9: o->json_bytes_max = n; break;
    default: o->streams_max = (uint32_t)n; break;
  }
}

/* A path under http.<key>: absolute, or relative to the home. */
static int http_path(const char *key, json_t *v, const char *home, char *out, size_t size,
                     char *detail, size_t detail_size) {
  if (!json_is_string(v) || json_string_length(v) == 0 ||
      strlen(json_string_value(v)) != json_string_length(v)) {
    snprintf(detail, detail_size, "http.%s must be a non-empty path (relative to the home)", key);
    return QP_EINVAL;
  }
  const char *p = json_string_value(v);
  int n = p[0] == '/' ? snprintf(out, size, "%s", p) : snprintf(out, size, "%s/%s", home, p);
  if (n < 0 || (size_t)n >= size) {
    snprintf(detail, detail_size, "http.%s: the path is longer than %zu bytes", key, size - 1);
    return QP_EINVAL;
  }
  return 0;
}

/* http.<key> for the boolean and path keys: 1 = not one of them. */
static int http_other(const char *key, json_t *v, qp_node_config_t *c, char *detail,
                      size_t detail_size) {
  if (strcmp(key, "tls_cert") == 0 || strcmp(key, "tls_key") == 0) {
    bool cert = key[4] == 'c';
    return http_path(key, v, c->home, cert ? c->tls_cert : c->tls_key, sizeof c->tls_cert,
                     detail, detail_size);
  }
  bool *flag = strcmp(key, "insecure_no_auth") == 0       ? &c->http.insecure_no_auth
               : strcmp(key, "metrics_key_required") == 0 ? &c->http.metrics_key_required
               : strcmp(key, "insecure_plaintext") == 0   ? &c->http.insecure_plaintext
                                                          : NULL;
  if (flag == NULL) return 1;
  if (!json_is_boolean(v)) {
    snprintf(detail, detail_size, "http.%s must be true or false", key);
    return QP_EINVAL;
  }
  *flag = json_is_true(v);
  return 0;
}

/* One of http.rate_limits.<scope>.{rate_per_s,burst}: 1..1000000. */
static int rate_number(const char *scope, const char *field, json_t *v, uint32_t *out,
                       char *detail, size_t detail_size) {
  json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;
  if (n < 1 || n > (json_int_t)QP_HTTP_KEY_RATE_MAX) {
    snprintf(detail, detail_size, "http.rate_limits.%.48s.%s must be an integer from 1 to %u",
             scope, field, QP_HTTP_KEY_RATE_MAX);
    return QP_EINVAL;
  }
  *out = (uint32_t)n;
  return 0;
}

/* http.rate_limits.<scope>: {"rate_per_s": N, "burst": M} (burst defaults
 * to the rate); the scope must be one some module knows. */
static int rate_limit(const char *scope, json_t *v, qp_http_scope_limit_t *out, char *detail,
                      size_t detail_size) {
  uint32_t known_count = 0;
  const qp_http_scope_t *known = qp_node_scopes(&known_count);
  char why[400];
  if (strlen(scope) >= sizeof out->scope || strchr(scope, ',') != NULL ||
      qp_http_scopes_check(scope, known, known_count, why, sizeof why) != 0) {
    snprintf(detail, detail_size, "http.rate_limits.%.48s: not a scope of this build (%s)", scope,
             why);
    return QP_EINVAL;
  }
  const char *key;
  json_t *field;
  json_object_foreach(v, key, field) {
    if (strcmp(key, "rate_per_s") != 0 && strcmp(key, "burst") != 0) {
      snprintf(detail, detail_size, "unknown key http.rate_limits.%.48s.%.32s; allowed: "
               "rate_per_s, burst", scope, key);
      return QP_EINVAL;
    }
  }
  memset(out, 0, sizeof *out);
  snprintf(out->scope, sizeof out->scope, "%s", scope);
  int rc = rate_number(scope, "rate_per_s", json_object_get(v, "rate_per_s"), &out->rate_per_s,
                       detail, detail_size);
  json_t *burst = json_object_get(v, "burst");
  if (rc == 0 && burst == NULL) out->burst = out->rate_per_s;
  if (rc == 0 && burst != NULL)
    rc = rate_number(scope, "burst", burst, &out->burst, detail, detail_size);
  return rc;
}

/* http.rate_limits: {"<scope>": {"rate_per_s": N, "burst": M}, …}. */
static int parse_rate_limits(json_t *v, qp_http_options_t *o, char *detail, size_t detail_size) {
  if (!json_is_object(v) || json_object_size(v) > QP_HTTP_SCOPE_LIMITS_MAX) {
    snprintf(detail, detail_size, "http.rate_limits must be an object of at most %u scopes: "
             "{\"payments:write\": {\"rate_per_s\": 50, \"burst\": 100}}",
             QP_HTTP_SCOPE_LIMITS_MAX);
    return QP_EINVAL;
  }
  o->scope_limits_count = 0;
  const char *scope;
  json_t *limit;
  json_object_foreach(v, scope, limit) {
    if (!json_is_object(limit)) {
      snprintf(detail, detail_size, "http.rate_limits.%.48s must be an object "
               "{\"rate_per_s\": N, \"burst\": M}", scope);
      return QP_EINVAL;
    }
    int rc = rate_limit(scope, limit, &o->scope_limits[o->scope_limits_count], detail,
                        detail_size);
    if (rc != 0) return rc;
    o->scope_limits_count++;
  }
  return 0;
}

/* http.public_rate_limit: {"rate_per_s": N, "burst": M} per client address
 * on the routes that need no key (burst defaults to the rate). */
static int parse_public_limit(json_t *v, qp_http_options_t *o, char *detail,
                              size_t detail_size) {
  const char *key;
  json_t *field;
  json_int_t rate = 0, burst = 0;
  bool ok = json_is_object(v);
  json_object_foreach(ok ? v : NULL, key, field) {
    json_int_t n = json_is_integer(field) ? json_integer_value(field) : 0;
    bool in_range = n >= 1 && n <= (json_int_t)QP_HTTP_KEY_RATE_MAX;
    if (strcmp(key, "rate_per_s") == 0 && in_range) rate = n;
    else if (strcmp(key, "burst") == 0 && in_range) burst = n;
    else ok = false;
  }
  if (!ok || rate == 0) {
    snprintf(detail, detail_size, "http.public_rate_limit must be {\"rate_per_s\": N, "
             "\"burst\": M} with integers from 1 to %u (requests a second per client address "
             "on the routes that need no key; burst defaults to the rate)",
             QP_HTTP_KEY_RATE_MAX);
    return QP_EINVAL;
  }
  o->public_rate_per_s = (uint32_t)rate;
  o->public_burst = (uint32_t)(burst != 0 ? burst : rate);
  return 0;
}

static int parse_http(json_t *http, qp_node_config_t *c, char *detail, size_t detail_size) {
  if (!json_is_object(http)) {
    snprintf(detail, detail_size, "http must be an object");
    return QP_EINVAL;
  }
  const char *key;
  json_t *v;
  json_object_foreach(http, key, v) {
    int other = strcmp(key, "rate_limits") == 0
                    ? parse_rate_limits(v, &c->http, detail, detail_size)
                : strcmp(key, "public_rate_limit") == 0
                    ? parse_public_limit(v, &c->http, detail, detail_size)
                    : http_other(key, v, c, detail, detail_size);
    if (other <= 0) {
      if (other < 0) return other;
      continue;
    }
    size_t k = 0;
    while (k < HTTP_NUMBERS_COUNT && strcmp(HTTP_NUMBERS[k].key, key) != 0) k++;
    if (k == HTTP_NUMBERS_COUNT) {
      snprintf(detail, detail_size,
               "unknown key http.%.64s; allowed: max_body_bytes, max_inflight_bytes, "
               "max_connections, max_connections_per_address, timeout_s, head_timeout_s, "
               "body_timeout_s, shutdown_grace_ms, insecure_no_auth, metrics_key_required, "
               "tls_cert, tls_key, insecure_plaintext, max_json_request_bytes, max_json_bytes, "
               "max_streams, rate_limits, public_rate_limit",
               key);
      return QP_EINVAL;
    }
    uint64_t n = 0;
    int rc = http_number(key, v, HTTP_NUMBERS[k].min, HTTP_NUMBERS[k].max, &n, detail,
                         detail_size);
    if (rc != 0) return rc;
    set_http_number(&c->http, k, n);
  }
  return 0;
}

/* "ledger, chain, …": the modules this build has. */
static void known_modules(char *buf, size_t size) {
  uint32_t count = 0;
  const qp_module_t *const *mods = qp_node_modules(&count);
  size_t used = 0;
  buf[0] = '\0';
  for (uint32_t i = 0; i < count && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", mods[i]->name);
}

/* Enables the modules named in "modules", in the module table's order. */
static int parse_modules(json_t *modules, qp_node_config_t *c, char *detail, size_t detail_size) {
  char known[512];
  known_modules(known, sizeof known);
  if (!json_is_object(modules)) {
    snprintf(detail, detail_size, "modules must be an object such as {\"ledger\": {}}; known "
             "modules: %s", known);
    return QP_EINVAL;
  }
  const char *key;
  json_t *v;
  json_object_foreach(modules, key, v) {
    if (qp_node_module_find(key) == NULL) {
      snprintf(detail, detail_size, "unknown module modules.%.64s; known modules: %s", key, known);
      return QP_EINVAL;
    }
    if (!json_is_object(v)) {
      snprintf(detail, detail_size, "modules.%s must be an object ({} for the defaults)", key);
      return QP_EINVAL;
    }
  }
  uint32_t count = 0;
  const qp_module_t *const *mods = qp_node_modules(&count);
  for (uint32_t i = 0; i < count; i++) {
    json_t *settings = json_object_get(modules, mods[i]->name);
    if (settings != NULL && qp_node_config_enable(c, mods[i], settings) != 0) return QP_ELIMIT;
  }
  if (c->modules_count == 0) {
    snprintf(detail, detail_size, "modules enables no module; known modules: %s", known);
    return QP_EINVAL;
  }
  return 0;
}

static int parse_string(json_t *v, const char *key, char *out, size_t size, char *detail,
                        size_t detail_size) {
  if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= size) {
    snprintf(detail, detail_size, "%s must be a non-empty string of at most %zu bytes", key,
             size - 1);
    return QP_EINVAL;
  }
  memcpy(out, json_string_value(v), json_string_length(v) + 1);
  return 0;
}

/* "data": absolute, or relative to the home; default: the home itself. */
static int parse_data(json_t *v, const char *home, qp_node_config_t *c, char *detail,
                      size_t detail_size) {
  char data[QP_NODE_PATH_MAX] = ".";
  if (v != NULL && parse_string(v, "data", data, sizeof data, detail, detail_size) != 0)
    return QP_EINVAL;
  int n = data[0] == '/' ? snprintf(c->data_dir, sizeof c->data_dir, "%s", data)
          : strcmp(data, ".") == 0 ? snprintf(c->data_dir, sizeof c->data_dir, "%s", home)
                                   : snprintf(c->data_dir, sizeof c->data_dir, "%s/%s", home, data);
  if (n < 0 || (size_t)n >= sizeof c->data_dir) {
    snprintf(detail, detail_size, "data: the path is longer than %u bytes", QP_NODE_PATH_MAX - 1);
    return QP_EINVAL;
  }
  return 0;
}

static int parse_root_key(const char *key, json_t *v, qp_node_config_t *c, char *detail,
                          size_t detail_size) {
  if (strcmp(key, "listen") == 0)
    return parse_string(v, "listen", c->listen, sizeof c->listen, detail, detail_size);
  if (strcmp(key, "http") == 0) return parse_http(v, c, detail, detail_size);
  if (strcmp(key, "modules") == 0) return parse_modules(v, c, detail, detail_size);
  if (strcmp(key, "data") == 0) return 0; /* parse_data, after the loop */
  if (strcmp(key, "log_level") == 0) {
    if (json_is_string(v) && qp_log_level_parse(json_string_value(v), &c->log_level) == 0)
      return 0;
    snprintf(detail, detail_size, "log_level must be one of debug, info, warn, error, off");
    return QP_EINVAL;
  }
  snprintf(detail, detail_size,
           "unknown key %.64s; allowed: listen, data, log_level, http, modules", key);
  return QP_EINVAL;
}

int qp_node_config_parse(const char *text, size_t len, const char *home, qp_node_config_t *c,
                         char *detail, size_t detail_size) {
  qp_node_config_init(c);
  if (strlen(home) >= sizeof c->home) return QP_EINVAL;
  memcpy(c->home, home, strlen(home) + 1);
  json_error_t jerr;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL || !json_is_object(root)) {
    if (root == NULL)
      snprintf(detail, detail_size, "not valid JSON at line %d, column %d: %s", jerr.line,
               jerr.column, jerr.text);
    else
      snprintf(detail, detail_size, "the top level must be an object");
    json_decref(root);
    return QP_EINVAL;
  }
  int rc = 0;
  const char *key;
  json_t *v;
  json_object_foreach(root, key, v) {
    rc = parse_root_key(key, v, c, detail, detail_size);
    if (rc != 0) break;
  }
  if (rc == 0 && json_object_get(root, "modules") == NULL) {
    snprintf(detail, detail_size, "modules is missing: say which modules the node runs, "
             "e.g. \"modules\": {\"ledger\": {}}");
    rc = QP_EINVAL;
  }
  if (rc == 0) rc = parse_data(json_object_get(root, "data"), home, c, detail, detail_size);
  c->http.tls_cert = c->tls_cert[0] != '\0' ? c->tls_cert : NULL;
  c->http.tls_key = c->tls_key[0] != '\0' ? c->tls_key : NULL;
  json_decref(root);
  if (rc != 0) qp_node_config_deinit(c);
  return rc;
}

int qp_node_config_load(const char *home, qp_node_config_t *c, char *detail, size_t detail_size) {
  char path[QP_NODE_PATH_MAX + 32];
  int n = snprintf(path, sizeof path, "%s/%s", home, QP_NODE_CONFIG_FILE);
  if (n < 0 || (size_t)n >= sizeof path) return QP_EINVAL;
  char *text = NULL;
  size_t len = 0;
  int rc = qp_file_read(path, QP_NODE_CONFIG_BYTES_MAX, &text, &len, NULL, detail, detail_size);
  if (rc != 0) return rc == QP_ENOTFOUND || rc == QP_ENOMEM ? rc : QP_EIO;
  char inner[768];
  rc = qp_node_config_parse(text, len, home, c, inner, sizeof inner);
  qp_free(text);
  if (rc != 0) snprintf(detail, detail_size, "%s: %s", path, inner);
  return rc;
}
