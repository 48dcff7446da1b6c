/*
 * rk_node.c - the node the HTTP part of quipu-risk-bench talks to
 * (bench_node.c runs it): node.json with only the risk module on a free
 * loopback port and the generated ruleset as its ruleset_file, and one
 * request over a keep-alive libcurl easy handle.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/err.h"
#include "bench_int.h"
#include "risk_bench.h"

#define BODY_MAX (256u << 20)
#define SCOPES "risk:admin,risk:decide"

int rk_node_start(const rk_http_config_t *cfg, const char *ruleset, size_t len, rk_node_t *n) {
  int rc = qb_node_prepare(cfg->tmp_dir, "risk", "risk-bench", n);
  char config[200];
  int k = snprintf(config, sizeof config, "{\"listen\": \"127.0.0.1:%u\", \"modules\": "
                   "{\"risk\": {\"ruleset_file\": \"rules.txt\"}}}\n", n->port);
  if (rc == 0) rc = qb_node_write(n, "rules.txt", ruleset, len);
  if (rc == 0) rc = qb_node_write(n, "node.json", config, (size_t)k);
  return rc == 0 ? qb_node_launch(cfg->quipu, SCOPES, n) : rc;
}

int rk_node_stop(rk_node_t *n, bool keep) { return qb_node_stop(n, keep); }

static size_t on_body(char *p, size_t size, size_t count, void *ctx) {
  return qp_buf_append(ctx, p, size * count) ? size * count : 0;
}

int rk_call(void *e, const rk_node_t *n, const char *method, const char *path,
            const char *content_type, const char *body, size_t len, char **out, long *code) {
  char url[256], type[96];
  qp_buf_t got = {.max = BODY_MAX};
  *out = NULL;
  *code = 0;
  snprintf(url, sizeof url, "%s%s", n->url, path);
  snprintf(type, sizeof type, "Content-Type: %s", content_type ? content_type : "text/plain");
  struct curl_slist *h = curl_slist_append(NULL, n->auth);
  h = curl_slist_append(h, type);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body != NULL ? len : 0));
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(e, CURLOPT_HTTPGET, body == NULL ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &got);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 120000L);
  int rc = curl_easy_perform(e) == CURLE_OK ? 0 : QP_EIO;
  if (rc == 0) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, code);
  if (rc == 0 && got.failed) rc = QP_ENOMEM; /* out of memory or past BODY_MAX */
  if (rc == 0) {
    *out = got.data != NULL ? got.data : qp_calloc(1, 1); /* the buffer's NUL-terminated bytes */
    got.data = NULL;
    if (*out == NULL) rc = QP_ENOMEM;
  }
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(h);
  qp_buf_free(&got);
  return rc;
}
