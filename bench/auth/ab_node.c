/*
 * ab_node.c - the node the HTTP part talks to (bench_node.c runs it):
 * node.json with the ledger and auth modules on a free loopback port (the
 * auth module's loopback defaults then allow the origin
 * http://localhost:PORT and RP id "localhost"); plain JSON calls are
 * bench_node.c's.
 */
#include <stdio.h>

#include "auth_bench.h"
#include "bench_int.h"

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

int qab_call(void *e, const qab_node_t *n, const char *method, const char *path,
             json_t *body, json_t **out, long *code) {
  return qb_node_call(e, n, method, path, body, out, code);
}

double qab_node_cpu_s(const qab_node_t *n) { return qb_node_cpu_s(n); }
