/*
 * cmd_keys.c - `quipu keys create|list|revoke`: manages the API keys of a
 * data directory.  Works whether or not a server is running on it: the
 * store is edited atomically under its own lock, and a running server
 * picks the change up within a second.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "http/http.h"
#include "node/module.h"
#include "base/alloc.h"
#include "base/err.h"
#include "cli/cli.h"

static const char USAGE[] =
    "usage: quipu keys create [--data DIR] --name NAME --scope SCOPE[,SCOPE...]\n"
    "       quipu keys list   [--data DIR]\n"
    "       quipu keys revoke [--data DIR] NAME_OR_ID\n"
    "\n"
    "`create` prints the new key once, on stdout; only its hash is stored, in\n"
    "DIR/keys/api_keys.  Scopes are owned by the modules of this build:\n";

/* The usage text with every known scope. */
static void usage(FILE *out) {
  fputs(USAGE, out);
  fprintf(out, "  %-16s %s\n", QP_HTTP_SCOPE_ADMIN, "everything");
  uint32_t count = 0;
  const qp_http_scope_t *scopes = qp_node_scopes(&count);
  for (uint32_t i = 0; i < count; i++)
    fprintf(out, "  %-16s %s\n", scopes[i].name, scopes[i].description);
}

typedef struct keys_args {
  const char *data;  /* --data */
  const char *name;  /* --name */
  const char *scope; /* --scope */
  const char *arg;   /* positional (revoke) */
} keys_args_t;

static int parse(int argc, char **argv, keys_args_t *a) {
  static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                       {"name", required_argument, NULL, 'n'},
                                       {"scope", required_argument, NULL, 's'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  memset(a, 0, sizeof *a);
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "d:n:s:h", opts, NULL)) != -1) {
    if (c == 'd')
      a->data = optarg;
    else if (c == 'n')
      a->name = optarg;
    else if (c == 's')
      a->scope = optarg;
    else if (c == 'h') {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (optind < argc) a->arg = argv[optind++];
  if (optind < argc) {
    fprintf(stderr, "quipu keys: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  return -1;
}

static int keys_create(const keys_args_t *a, const char *dir) {
  if (a->name == NULL || a->scope == NULL || a->arg != NULL) {
    usage(stderr);
    return 2;
  }
  uint32_t known_count = 0;
  const qp_http_scope_t *known = qp_node_scopes(&known_count);
  char detail[1024] = "";
  if (qp_http_scopes_check(a->scope, known, known_count, detail, sizeof detail) != 0) {
    fprintf(stderr, "quipu keys: bad --scope '%s': %s\n", a->scope, detail);
    return 2;
  }
  char key[QP_HTTP_KEY_TEXT_SIZE];
  qp_http_key_t created;
  int rc = qp_http_keys_create(dir, a->name, a->scope, key, &created, detail, sizeof detail);
  if (rc != 0) {
    fprintf(stderr, "quipu keys: cannot create the key: %s\n",
            detail[0] ? detail : qp_strerror(rc));
    return 1;
  }
  printf("%s\n", key);
  fflush(stdout);
  sodium_memzero(key, sizeof key);
  fprintf(stderr, "created key '%s' (id %s, scopes %s) in %s; it is shown only this once\n",
          created.name, created.id, created.scopes, dir);
  return 0;
}

static int keys_list(const char *dir) {
  qp_http_key_t *keys = NULL;
  uint32_t count = 0;
  char detail[512] = "";
  int rc = qp_http_keys_load(dir, &keys, &count, detail, sizeof detail);
  if (rc != 0) {
    fprintf(stderr, "quipu keys: %s\n", detail[0] ? detail : qp_strerror(rc));
    return 1;
  }
  printf("%-16s  %-24s  %-32s  %-20s  %s\n", "ID", "NAME", "SCOPES", "CREATED (UTC)", "STATE");
  for (uint32_t i = 0; i < count; i++) {
    char when[32] = "?";
    time_t t = (time_t)keys[i].created_s;
    struct tm tm;
    if (gmtime_r(&t, &tm) != NULL) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    printf("%-16s  %-24s  %-32s  %-20s  %s\n", keys[i].id, keys[i].name, keys[i].scopes, when,
           keys[i].revoked ? "revoked" : "active");
  }
  qp_free(keys);
  return 0;
}

static int keys_revoke(const keys_args_t *a, const char *dir) {
  if (a->arg == NULL) {
    usage(stderr);
    return 2;
  }
  uint32_t revoked = 0;
  char detail[512] = "";
  int rc = qp_http_keys_revoke(dir, a->arg, &revoked, detail, sizeof detail);
  if (rc != 0) {
    fprintf(stderr, "quipu keys: %s\n", detail[0] ? detail : qp_strerror(rc));
    return 1;
  }
  printf("revoked %u key%s matching '%s'\n", revoked, revoked == 1 ? "" : "s", a->arg);
  return 0;
}

int qp_cmd_keys(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *sub = argv[1];
  keys_args_t a;
  int code = parse(argc - 1, argv + 1, &a);
  if (code >= 0) return code;
  const char *dir = qp_cli_data_dir(a.data);
  if (strcmp(sub, "create") == 0) return keys_create(&a, dir);
  if (strcmp(sub, "list") == 0) return keys_list(dir);
  if (strcmp(sub, "revoke") == 0) return keys_revoke(&a, dir);
  fprintf(stderr, "quipu keys: unknown subcommand '%s'\n\n", sub);
  usage(stderr);
  return 2;
}
