/*
 * module.h - what a module is to the node runtime (docs/node.md): a small
 * vtable, registered in one table (src/node/modules.c).  Adding a module
 * is one new folder under src/ with its vtable, plus one line there.
 *
 * The runtime drives every module the same way:
 *
 *   open(env, settings)   when the node starts, in table order; settings is
 *                         the module's object from node.json (NULL when it
 *                         has none); unknown keys are the module's to refuse
 *   routes(state)         once, after open: the routes, OpenAPI fragment,
 *                         metrics and health check served by the HTTP core
 *   tick(state, now)      every tick_ms from the runtime's one timer thread
 *                         (the ledger's expiry sweep; later the chain's
 *                         pacemaker, the risk engine's window roll-over,
 *                         webhook retries)
 *   close(state)          on SIGTERM, after the HTTP server has drained, in
 *                         reverse order of open
 *
 * A module never takes the data-directory lock (the node holds it) and
 * keeps its files under env->data_dir/<module name>/.
 */
#ifndef QP_NODE_MODULE_H
#define QP_NODE_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

struct json_t; /* jansson's object type: a module's settings */

/* What the runtime tells a module when opening it. */
typedef struct qp_node_env {
  const char *home;     /* the node home (where node.json is) */
  const char *data_dir; /* the data directory (lock held by the node) */
  const qp_http_options_t *http; /* the HTTP core's options (read-only) */
  const qp_http_server_t *server; /* the server, not yet listening: its port is known once
                                     it does (qp_http_server_port, from a handler) */
} qp_node_env_t;

typedef struct qp_module {
  const char *name;              /* "ledger": the key under "modules" in node.json */
  const char *summary;           /* one line for `quipu node --help` and docs */
  const qp_http_scope_t *scopes; /* the scopes the module owns */
  uint32_t scopes_count;         /* rows in scopes */
  /* Opens the module: 0 and *state, or an error with detail (which names
   * the offending setting, if that was it). */
  int (*open)(const qp_node_env_t *env, const struct json_t *settings, void **state,
              char *detail, size_t detail_size);
  /* What the HTTP core serves for it (pointer valid until close). */
  const qp_http_module_t *(*routes)(void *state);
  uint32_t tick_ms;                         /* period of tick; 0 = no tick */
  void (*tick)(void *state, uint64_t now_ns); /* periodic duty; may be NULL */
  void (*close)(void *state);               /* releases everything; state is gone */
} qp_module_t;

/* The table of every module this build has (static storage). */
const qp_module_t *const *qp_node_modules(uint32_t *count_out);

/* The module named name, or NULL. */
const qp_module_t *qp_node_module_find(const char *name);

/* Every scope of every module (static storage, built once; thread-safe). */
const qp_http_scope_t *qp_node_scopes(uint32_t *count_out);

#endif
