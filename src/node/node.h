/*
 * node.h - the node runtime (DESIGN.md section 1, docs/node.md): one
 * institution's process.  It reads the node's configuration (node.json in
 * the node home, or the flags of `quipu serve`), takes the one
 * data-directory lock, opens each enabled module in table order, serves
 * them all on one HTTP listener, runs their periodic duties from one timer
 * thread, and on SIGTERM or SIGINT drains the HTTP server and closes the
 * modules in reverse order.
 */
#ifndef QP_NODE_NODE_H
#define QP_NODE_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/log.h"
#include "http/http.h"
#include "node/module.h"

#define QP_NODE_CONFIG_FILE "node.json"
#define QP_NODE_CONFIG_BYTES_MAX (1u << 20) /* a larger node.json is refused */
#define QP_NODE_PATH_MAX 1024u              /* bytes of the home and data paths */
#define QP_NODE_MODULES_MAX 32u             /* modules one node enables */

/* One enabled module and its settings. */
typedef struct qp_node_module_config {
  const qp_module_t *module; /* from the module table */
  struct json_t *settings;   /* its object in "modules" (owned reference; NULL = none) */
} qp_node_module_config_t;

/* Everything a node needs to run.  Invariant: modules[i].module are
 * distinct and appear in the order of the module table. */
typedef struct qp_node_config {
  char home[QP_NODE_PATH_MAX];     /* node home ("" for `quipu serve`) */
  char data_dir[QP_NODE_PATH_MAX]; /* data directory (the lock lives here) */
  char listen[256];                /* "HOST:PORT" (http.listen points here) */
  char tls_cert[QP_NODE_PATH_MAX]; /* PEM certificate file, "" = none (http.tls_cert) */
  char tls_key[QP_NODE_PATH_MAX];  /* PEM key file, "" = none (http.tls_key) */
  qp_http_options_t http;          /* HTTP core options */
  qp_log_level_t log_level;        /* minimum level logged */
  qp_node_module_config_t modules[QP_NODE_MODULES_MAX]; /* enabled modules */
  uint32_t modules_count;          /* rows in modules */
} qp_node_config_t;

/* Fills *c with the defaults (listen 127.0.0.1:7070, data "", no module). */
void qp_node_config_init(qp_node_config_t *c);

/* Parses node.json text for the node home `home`: unknown keys, wrong
 * types, values out of range and unknown modules are QP_EINVAL with detail
 * naming the key ("http.max_connections", "modules.ledgr") and what is
 * allowed.  Relative data and TLS file paths are taken from the home.  Release with
 * qp_node_config_deinit.  Pure apart from memory: safe to fuzz. */
int qp_node_config_parse(const char *text, size_t len, const char *home, qp_node_config_t *c,
                         char *detail, size_t detail_size);

/* Reads and parses home/node.json.  Returns 0, QP_ENOTFOUND (no file),
 * QP_EIO, QP_EINVAL (see above). */
int qp_node_config_load(const char *home, qp_node_config_t *c, char *detail, size_t detail_size);

/* Enables `module` with settings (a new reference is taken; may be NULL).
 * Returns 0, QP_EEXISTS, QP_ELIMIT. */
int qp_node_config_enable(qp_node_config_t *c, const qp_module_t *module, struct json_t *settings);

/* Releases the module settings. */
void qp_node_config_deinit(qp_node_config_t *c);

/* Runs the node until SIGTERM or SIGINT: returns 0 after a clean stop, 1
 * when it could not start (the reason is logged).  Blocks SIGINT/SIGTERM
 * in every thread and ignores SIGPIPE; call before starting any thread. */
int qp_node_run(const qp_node_config_t *c);

#endif
