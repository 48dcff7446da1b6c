/*
 * ab_node.c - the node the HTTP part talks to (bench_node.c runs it):
 * node.json with the ledger and auth modules on a free loopback port (the
 * auth module's loopback defaults then allow the origin
 * http://localhost:PORT and RP id "localhost"), and one plain JSON call
 * over a keep-alive libcurl easy handle for the setup and the checks.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_bench.h"
#include "bench_int.h"
#include "base/buf.h"
#include "base/err.h"

#define SCOPES "auth:read,auth:write,ledger:read,ledger:write"

int qab_node_start(const qab_config_t *cfg, qab_node_t *n) {
  int rc = qb_node_prepare(cfg->tmp_dir, "auth", "auth-bench", n);
  char json[160];
  int len = snprintf(json, sizeof json, "{\"listen\": \"127.0.0.1:%u\", \"modules\": "
                     "{\"ledger\": {}, \"auth\": {}}}\n", n->port);
  if (rc == 0) rc = qb_node_write(n, "node.json", json, (size_t)len);
  return rc == 0 ? qb_node_launch(cfg->quipu, SCOPES, n) : rc;
}

int qab_node_stop(qab_node_t *n, bool keep) { return qb_node_stop(n, keep); }

static size_t on_body(char *p, size_t size, size_t count, void *ctx) {
  return qp_buf_append(ctx, p, size * count) ? size * count : 0;
}

int qab_call(void *e, const qab_node_t *n, const char *method, const char *path,
             json_t *body, json_t **out, long *code) {
  char url[256];
  char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
  qp_buf_t got = {.max = QAB_BODY_MAX};
  *out = NULL;
  *code = 0;
  snprintf(url, sizeof url, "%s%s", n->url, path);
  struct curl_slist *h = curl_slist_append(NULL, n->auth);
  h = curl_slist_append(h, "Content-Type: application/json");
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, text);
  curl_easy_setopt(e, CURLOPT_HTTPGET, text == NULL ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &got);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
  int rc = curl_easy_perform(e) == CURLE_OK ? 0 : QP_EIO;
  if (rc == 0) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, code);
  if (rc == 0 && got.len > 0) *out = json_loadb(got.data, got.len, 0, NULL);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(h);
  free(text); /* jansson's allocation */
  qp_buf_free(&got);
  return rc;
}

double qab_node_cpu_s(const qab_node_t *n) { return qb_node_cpu_s(n); }
