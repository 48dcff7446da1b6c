/*
 * cmd_node.c - `quipu node --home DIR`: runs one institution's node from
 * DIR/node.json (docs/node.md) until SIGTERM or SIGINT.  Exit codes: 0
 * after a clean stop, 1 when the node could not start (lock held, port
 * taken, a module failed to open), 2 for bad arguments or a bad node.json.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "cli/cli.h"
#include "node/node.h"

static const char USAGE[] =
    "usage: quipu node --home DIR [--listen HOST:PORT] [--log-level LEVEL]\n"
    "\n"
    "Runs the node whose configuration is DIR/node.json: the modules it enables,\n"
    "served on one HTTP listener.  The smallest node.json is\n"
    "  {\"listen\": \"127.0.0.1:7070\", \"modules\": {\"ledger\": {}}}\n"
    "(docs/node.md lists every key).  SIGTERM/SIGINT stop it cleanly.\n"
    "\n"
    "  --home DIR          the node home (required)\n"
    "  --listen HOST:PORT  overrides \"listen\" (port 0 = any free port)\n"
    "  --log-level LEVEL   overrides \"log_level\": debug, info, warn, error, off\n"
    "\n"
    "Modules in this build:\n";

static void usage(FILE *out) {
  fputs(USAGE, out);
  uint32_t count = 0;
  const qp_module_t *const *mods = qp_node_modules(&count);
  for (uint32_t i = 0; i < count; i++)
    fprintf(out, "  %-10s %s\n", mods[i]->name, mods[i]->summary);
}

typedef struct node_args {
  const char *home;      /* --home */
  const char *listen;    /* --listen, or NULL */
  const char *log_level; /* --log-level, or NULL */
} node_args_t;

/* Returns -1 to go on, or the exit code. */
static int parse_args(int argc, char **argv, node_args_t *a) {
  static const struct option opts[] = {{"home", required_argument, NULL, 'H'},
                                       {"listen", required_argument, NULL, 'l'},
                                       {"log-level", required_argument, NULL, 'L'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  memset(a, 0, sizeof *a);
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'H') a->home = optarg;
    else if (c == 'l') a->listen = optarg;
    else if (c == 'L') a->log_level = optarg;
    else if (c == 'h') {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "quipu node: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  if (a->home == NULL || a->home[0] == '\0') {
    fprintf(stderr, "quipu node: --home DIR is required\n\n");
    usage(stderr);
    return 2;
  }
  return -1;
}

/* Applies the command-line overrides; returns 0 or the exit code. */
static int apply_overrides(const node_args_t *a, qp_node_config_t *c) {
  if (a->listen != NULL) {
    if (strlen(a->listen) >= sizeof c->listen) {
      fprintf(stderr, "quipu node: --listen is too long\n");
      return 2;
    }
    memcpy(c->listen, a->listen, strlen(a->listen) + 1);
  }
  if (a->log_level != NULL && qp_log_level_parse(a->log_level, &c->log_level) != 0) {
    fprintf(stderr, "quipu node: --log-level must be debug, info, warn, error or off\n");
    return 2;
  }
  return 0;
}

int qp_cmd_node(int argc, char **argv) {
  node_args_t a;
  int code = parse_args(argc, argv, &a);
  if (code >= 0) return code;
  qp_node_config_t config;
  char detail[1024] = "";
  int rc = qp_node_config_load(a.home, &config, detail, sizeof detail);
  if (rc != 0) {
    fprintf(stderr, "quipu node: %s\n", detail[0] ? detail : qp_strerror(rc));
    if (rc == QP_ENOTFOUND)
      fprintf(stderr, "quipu node: write %s/node.json first, e.g. "
              "{\"listen\": \"127.0.0.1:7070\", \"modules\": {\"ledger\": {}}}\n", a.home);
    return 2;
  }
  code = apply_overrides(&a, &config);
  if (code == 0) code = qp_node_run(&config);
  qp_node_config_deinit(&config);
  return code;
}
