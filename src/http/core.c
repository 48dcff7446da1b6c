/*
 * core.c - the routes every node serves whatever its modules: GET /healthz
 * (200 when every module says it is healthy, else 503 with the first
 * module's reason), GET /metrics (Prometheus text: the core's counters,
 * then each module's) and GET /v1/openapi.json (the document assembled at
 * start from the base and each module's fragment).
 */
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "http/http_int.h"

static void healthz(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  (void)req;
  qp_http_server_t *s = ctx;
  for (uint32_t m = 0; m < s->modules_count; m++) {
    const qp_http_module_t *mod = s->modules[m];
    if (mod->health == NULL) continue;
    char code[40] = "unhealthy", message[512] = "";
    if (mod->health(mod->ctx, code, sizeof code, message, sizeof message) != 0) {
      qp_http_error_t err;
      qp_http_error_set(&err, 503, code, "", "%s: %s", mod->name, message);
      qp_http_reply_error(r, &err);
      return;
    }
  }
  json_t *o = json_object();
  if (o != NULL) json_object_set_new(o, "status", json_string("ok"));
  qp_http_reply_json(r, 200, o);
}

static void metrics(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  (void)req;
  qp_http_reply_text(r, 200, qp__http_metrics_render(ctx),
                     "text/plain; version=0.0.4; charset=utf-8");
}

static void openapi(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  (void)req;
  qp_http_server_t *s = ctx;
  size_t n = strlen(s->openapi);
  char *text = qp_malloc(n + 1);
  if (text != NULL) memcpy(text, s->openapi, n + 1);
  qp_http_reply_text(r, 200, text, "application/json");
}

static const qp_http_route_t CORE_ROUTES[] = {
    {"GET", "/healthz", NULL, true, 0, healthz},
    {"GET", "/metrics", NULL, true, 0, metrics},
    {"GET", "/v1/openapi.json", NULL, false, 0, openapi},
};

void qp__http_core_init(qp_http_server_t *s) {
  s->core = (qp_http_module_t){.name = "http",
                               .routes = CORE_ROUTES,
                               .routes_count = sizeof CORE_ROUTES / sizeof CORE_ROUTES[0],
                               .ctx = s,
                               .openapi = qp__http_openapi_base};
}
