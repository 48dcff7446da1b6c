/*
 * rk_node.c - the node the HTTP part of quipu-risk-bench talks to
 * (bench_node.c runs it): node.json with only the risk module on a free
 * loopback port and the generated ruleset as its ruleset_file, and one
 * request over a keep-alive libcurl easy handle.
 */
#include <stdio.h>
#include <string.h>

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

int rk_call(void *e, const rk_node_t *n, const char *method, const char *path,
            const char *content_type, const char *body, size_t len, char **out, long *code) {
  return qb_node_request(e, n, method, path, content_type, body, len, BODY_MAX, 120000L, out,
                         code);
}
