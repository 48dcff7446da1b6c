/*
 * module.c - the web module of the node: static pages of one directory,
 * read-only and public (docs/web.md).
 *
 *   "web": {"root": "web"}
 *
 * `root` is the directory served (relative paths are taken from the node
 * home; default "<home>/web"); it must exist when the node starts.  GET
 * /web/{app}/{file} answers root/app/file with its Content-Type, 404
 * not_found for anything else (web.h lists what is allowed).  No key is
 * needed: a page holds no secret and asks the user for the API key it uses.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "node/module.h"
#include "web/web.h"

typedef struct web {
  char root[QP_WEB_ROOT_MAX];
  qp_http_module_t http;
} web_t;

static void web_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *reply) {
  const web_t *w = ctx;
  char *body = NULL;
  const char *type = NULL;
  char detail[256] = "";
  const char *app = qp_http_param(req, "app"), *file = qp_http_param(req, "file");
  int rc = app == NULL || file == NULL /* the router's copies: out of memory */
               ? QP_ENOMEM
               : qp_web_file_read(w->root, app, file, &body, &type, detail, sizeof detail);
  if (rc == 0) {
    qp_http_reply_text(reply, 200, body, type);
    return;
  }
  if (rc == QP_ELIMIT) QP_LOG_WARN("web", "%s not served: %s", qp_http_path(req), detail);
  if (rc == QP_ENOTFOUND || rc == QP_ELIMIT) {
    qp_http_reply_fail(reply, 404, "not_found", "", "no such page");
    return;
  }
  if (rc == QP_ENOMEM) {
    qp_http_reply_fail(reply, 503, "overloaded", "", "out of memory, try again");
    return;
  }
  QP_LOG_WARN("web", "%s: %s", qp_http_path(req), detail);
  qp_http_reply_fail(reply, 500, "internal", "", "cannot read the page");
}

static const qp_http_route_t ROUTES[] = {
    {"GET", "/web/{app}/{file}", NULL, true, 0, web_get},
};

static int parse_root(const qp_node_env_t *env, const json_t *settings, web_t *w, char *detail,
                      size_t size) {
  const char *root = "web";
  if (settings != NULL && !json_is_object(settings)) {
    snprintf(detail, size, "modules.web must be an object");
    return QP_EINVAL;
  }
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)settings, key, v) {
    if (strcmp(key, "root") != 0) {
      snprintf(detail, size, "unknown key modules.web.%s; allowed: root", key);
      return QP_EINVAL;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
      snprintf(detail, size, "modules.web.root must be a non-empty string (a directory)");
      return QP_EINVAL;
    }
    root = json_string_value(v);
  }
  int n = root[0] == '/' ? snprintf(w->root, sizeof w->root, "%s", root)
                         : snprintf(w->root, sizeof w->root, "%s/%s", env->home, root);
  struct stat st;
  if (n < 0 || (size_t)n >= sizeof w->root) {
    snprintf(detail, size, "modules.web.root is longer than %u bytes", QP_WEB_ROOT_MAX - 1);
    return QP_EINVAL;
  }
  if (stat(w->root, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(detail, size, "modules.web.root %s is not a directory", w->root);
    return QP_EINVAL;
  }
  return 0;
}

static int web_open(const qp_node_env_t *env, const json_t *settings, void **state,
                    char *detail, size_t detail_size) {
  web_t *w = qp_calloc(1, sizeof *w);
  if (w == NULL) return QP_ENOMEM;
  int rc = parse_root(env, settings, w, detail, detail_size);
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

static const qp_http_module_t *web_routes(void *state) { return &((web_t *)state)->http; }

static void web_close(void *state) { qp_free(state); }

const qp_module_t qp_web_module = {
    .name = "web",
    .summary = "static pages of one directory at GET /web/{app}/{file} (docs/web.md)",
    .scopes = NULL,
    .scopes_count = 0,
    .open = web_open,
    .routes = web_routes,
    .close = web_close,
};
