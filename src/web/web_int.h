/*
 * web_int.h - the web module's state and handlers, shared by module.c
 * (settings, routes) and serve.c (the answers).  Private to src/web.
 */
#ifndef QP_WEB_WEB_INT_H
#define QP_WEB_WEB_INT_H

#include "node/module.h"
#include "web/web.h"

typedef struct qp__web {
  char root[QP_WEB_ROOT_MAX];    /* the pages' directory */
  char clients[QP_WEB_ROOT_MAX]; /* the JS client's directory; "" = none */
  qp_http_module_t http;
} qp__web_t;

/* GET /web/{app}/{file}. */
void qp__web_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *reply);
/* GET /<app>/: root/<app>/index.html. */
void qp__web_app_index(void *ctx, qp_http_request_t *req, qp_http_reply_t *reply);
/* GET /<app>: 308 to /<app>/. */
void qp__web_app_bare(void *ctx, qp_http_request_t *req, qp_http_reply_t *reply);
/* GET /<app>/{file}. */
void qp__web_app_file(void *ctx, qp_http_request_t *req, qp_http_reply_t *reply);
/* GET /<app>/{dir}/{file}. */
void qp__web_app_nested(void *ctx, qp_http_request_t *req, qp_http_reply_t *reply);
/* GET /clients/js/{file}. */
void qp__web_client_file(void *ctx, qp_http_request_t *req, qp_http_reply_t *reply);

#endif
