/*
 * serve.c - the web module's GET handlers (docs/web.md): the apps at their
 * roots (/wallet/, /shop/, /console/, /common/), their files one nested
 * directory deep, GET /web/{app}/{file} as before, and the JS client at
 * /clients/js/{file}.  Every answer carries the pages' security headers
 * (CSP, nosniff, no referrer) and Cache-Control: no-cache with an ETag, so
 * a browser revalidates each time and gets a 304 when nothing changed.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "web/web_int.h"

static const char CSP[] =
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

static void security_headers(qp_http_reply_t *reply) {
  qp_http_reply_header(reply, "Content-Security-Policy", CSP);
  qp_http_reply_header(reply, "X-Content-Type-Options", "nosniff");
  qp_http_reply_header(reply, "Referrer-Policy", "no-referrer");
  qp_http_reply_header(reply, "Cache-Control", "no-cache");
}

/* Does the If-None-Match header (a list of ETags, or "*") name etag? */
static int etag_matches(const char *header, const char *etag) {
  if (header == NULL) return 0;
  size_t n = strlen(etag);
  for (const char *p = header; (p = strstr(p, etag)) != NULL; p += n)
    if (p == header || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/') return 1;
  return strcmp(header, "*") == 0;
}

static void serve(const char *root, const char *const *names, size_t count,
                  qp_http_request_t *req, qp_http_reply_t *reply) {
  security_headers(reply);
  qp_web_file_t f;
  char detail[256] = "";
  int rc = QP_ENOMEM; /* a NULL name is the router's copy failing */
  int have_all = 1;
  for (size_t i = 0; i < count; i++) have_all = have_all && names[i] != NULL;
  if (have_all) rc = qp_web_read(root, names, count, &f, detail, sizeof detail);
  if (rc == 0) {
    qp_http_reply_header(reply, "ETag", f.etag);
    if (etag_matches(qp_http_header(req, "If-None-Match"), f.etag)) {
      qp_free(f.body);
      reply->status = 304;
      reply->content_type = f.type;
      return;
    }
    qp_http_reply_bytes(reply, 200, f.body, f.len, f.type);
    return;
  }
  if (rc == QP_ELIMIT) QP_LOG_WARN("web", "%s not served: %s", qp_http_path(req), detail);
  if (rc == QP_ENOTFOUND || rc == QP_ELIMIT) {
    qp_http_reply_fail(reply, 404, "not_found", "", "no such page");
  } else if (rc == QP_ENOMEM) {
    qp_http_reply_fail(reply, 503, "overloaded", "", "out of memory, try again");
  } else {
    QP_LOG_WARN("web", "%s: %s", qp_http_path(req), detail);
    qp_http_reply_fail(reply, 500, "internal", "", "cannot read the page");
  }
}

/* The app of a path "/<app>/…" (copied into app, at most QP_WEB_NAME_MAX bytes). */
static void path_app(const qp_http_request_t *req, char *app, size_t size) {
  const char *p = qp_http_path(req) + 1;
  size_t n = strcspn(p, "/");
  if (n >= size) n = 0;
  memcpy(app, p, n);
  app[n] = '\0';
}

void qp__web_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *reply) {
  const qp__web_t *w = ctx;
  const char *names[] = {qp_http_param(req, "app"), qp_http_param(req, "file")};
  serve(w->root, names, 2, req, reply);
}

void qp__web_app_index(void *ctx, qp_http_request_t *req, qp_http_reply_t *reply) {
  const qp__web_t *w = ctx;
  char app[QP_WEB_NAME_MAX + 1];
  path_app(req, app, sizeof app);
  const char *names[] = {app, "index.html"};
  serve(w->root, names, 2, req, reply);
}

void qp__web_app_bare(void *ctx, qp_http_request_t *req, qp_http_reply_t *reply) {
  (void)ctx;
  char location[QP_WEB_NAME_MAX + 3];
  snprintf(location, sizeof location, "%s/", qp_http_path(req));
  security_headers(reply);
  qp_http_reply_header(reply, "Location", location);
  char *empty = qp_malloc(1);
  if (empty != NULL) empty[0] = '\0';
  qp_http_reply_text(reply, 308, empty, "text/plain; charset=utf-8");
}

void qp__web_app_file(void *ctx, qp_http_request_t *req, qp_http_reply_t *reply) {
  const qp__web_t *w = ctx;
  char app[QP_WEB_NAME_MAX + 1];
  path_app(req, app, sizeof app);
  const char *names[] = {app, qp_http_param(req, "file")};
  serve(w->root, names, 2, req, reply);
}

void qp__web_app_nested(void *ctx, qp_http_request_t *req, qp_http_reply_t *reply) {
  const qp__web_t *w = ctx;
  char app[QP_WEB_NAME_MAX + 1];
  path_app(req, app, sizeof app);
  const char *names[] = {app, qp_http_param(req, "dir"), qp_http_param(req, "file")};
  serve(w->root, names, 3, req, reply);
}

void qp__web_client_file(void *ctx, qp_http_request_t *req, qp_http_reply_t *reply) {
  const qp__web_t *w = ctx;
  const char *names[] = {qp_http_param(req, "file")};
  if (w->clients[0] == '\0') {
    security_headers(reply);
    qp_http_reply_fail(reply, 404, "not_found", "", "no such page");
    return;
  }
  serve(w->clients, names, 1, req, reply);
}
