/*
 * module.c - the web module of the node: static pages of one directory,
 * read-only and public (docs/web.md).
 *
 *   "web": {"root": "web", "clients": "clients/js"}
 *
 * `root` is the directory served (relative paths are taken from the node
 * home; default "<home>/web"); it must exist when the node starts.
 * `clients` is the JS client's directory served at /clients/js/ (default
 * "<root>/../clients/js", skipped when missing; when given it must exist).
 * The apps wallet, shop, console and common are served at their own roots
 * (serve.c); GET /web/{app}/{file} serves any app.  No key is needed: a
 * page holds no secret and asks the user for the API key it uses.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/err.h"
#include "web/web_int.h"

#define APP_ROUTES(app)                                                        \
  {"GET", "/" app, NULL, true, 0, qp__web_app_bare},                           \
  {"GET", "/" app "/", NULL, true, 0, qp__web_app_index},                      \
  {"GET", "/" app "/{file}", NULL, true, 0, qp__web_app_file},                 \
  {"GET", "/" app "/{dir}/{file}", NULL, true, 0, qp__web_app_nested}

static const qp_http_route_t ROUTES[] = {
    {"GET", "/web/{app}/{file}", NULL, true, 0, qp__web_get},
    {"GET", "/clients/js/{file}", NULL, true, 0, qp__web_client_file},
    APP_ROUTES("wallet"),
    APP_ROUTES("shop"),
    APP_ROUTES("console"),
    APP_ROUTES("common"),
};

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Sets out to path (relative to home unless absolute); 0 or QP_EINVAL. */
static int set_path(char *out, const char *home, const char *path, const char *key,
                    char *detail, size_t size) {
  int n = path[0] == '/' ? snprintf(out, QP_WEB_ROOT_MAX, "%s", path)
                         : snprintf(out, QP_WEB_ROOT_MAX, "%s/%s", home, path);
  if (n < 0 || (size_t)n >= QP_WEB_ROOT_MAX) {
    snprintf(detail, size, "modules.web.%s is longer than %u bytes", key, QP_WEB_ROOT_MAX - 1);
    return QP_EINVAL;
  }
  if (!is_dir(out)) {
    snprintf(detail, size, "modules.web.%s %s is not a directory", key, out);
    return QP_EINVAL;
  }
  return 0;
}

static int parse_settings(const qp_node_env_t *env, const json_t *settings, qp__web_t *w,
                          char *detail, size_t size) {
  const char *root = "web", *clients = NULL;
  if (settings != NULL && !json_is_object(settings)) {
    snprintf(detail, size, "modules.web must be an object");
    return QP_EINVAL;
  }
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)settings, key, v) {
    if (strcmp(key, "root") != 0 && strcmp(key, "clients") != 0) {
      snprintf(detail, size, "unknown key modules.web.%s; allowed: root, clients", key);
      return QP_EINVAL;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
      snprintf(detail, size, "modules.web.%s must be a non-empty string (a directory)", key);
      return QP_EINVAL;
    }
    *(strcmp(key, "root") == 0 ? &root : &clients) = json_string_value(v);
  }
  int rc = set_path(w->root, env->home, root, "root", detail, size);
  if (rc != 0 || clients != NULL)
    return rc != 0 ? rc : set_path(w->clients, env->home, clients, "clients", detail, size);
  int n = snprintf(w->clients, sizeof w->clients, "%s/../clients/js", w->root);
  if (n < 0 || (size_t)n >= sizeof w->clients || !is_dir(w->clients)) w->clients[0] = '\0';
  return 0;
}

static int web_open(const qp_node_env_t *env, const json_t *settings, void **state,
                    char *detail, size_t detail_size) {
  qp__web_t *w = qp_calloc(1, sizeof *w);
  if (w == NULL) return QP_ENOMEM;
  int rc = parse_settings(env, settings, w, detail, detail_size);
  if (rc != 0) {
    qp_free(w);
    return rc;
  }
  w->http = (qp_http_module_t){.name = "web", .routes = ROUTES,
                               .routes_count = sizeof ROUTES / sizeof ROUTES[0], .ctx = w,
                               .openapi = qp_web_openapi_json};
  *state = w;
  return 0;
}

static const qp_http_module_t *web_routes(void *state) { return &((qp__web_t *)state)->http; }

static void web_close(void *state) { qp_free(state); }

const qp_module_t qp_web_module = {
    .name = "web",
    .summary = "static pages: /wallet/, /shop/, /console/, /web/{app}/{file}, /clients/js/ "
               "(docs/web.md)",
    .scopes = NULL,
    .scopes_count = 0,
    .open = web_open,
    .routes = web_routes,
    .close = web_close,
};
