/*
 * cmd_cluster.c - `quipu cluster init|up` (docs/cluster.md): writes the
 * node homes of a ledger replicated on Raft, and runs them.
 *
 * init writes DIR/node<K>/node.json for K = 0 .. replicas-1, each with the
 * ledger in cluster mode (the same cluster id and replica list, its own
 * `self`), HTTP on base_port + 2K and Raft on base_port + 2K + 1, all on
 * loopback; then creates one admin API key (and the "cluster" key replicas
 * present to each other, written to every home as keys/cluster_key) and
 * copies the key file into
 * every home, so every replica accepts it, and prints the key once.  up is
 * `quipu chain up`'s supervisor, which runs every DIR/node<K> it finds.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/err.h"
#include <sodium.h>

#include "cli/cli.h"
#include "http/http.h"
#include "ledger/api.h"
#include "store/store.h"

#define INIT_PROG "quipu cluster init"

static const char USAGE[] =
    "usage: quipu cluster init --replicas N --dir DIR [--base-port P]\n"
    "       quipu cluster up --dir DIR\n"
    "       quipu cluster add --dir DIR [--leader URL]\n"
    "       quipu cluster remove --dir DIR (--id N | --replica K) [--leader URL]\n"
    "\n"
    "init writes DIR/node0 .. DIR/node<N-1> (N = 1..7, default base port 7400):\n"
    "replica K serves HTTP on 127.0.0.1:P+2K and Raft on 127.0.0.1:P+2K+1; prints an\n"
    "admin API key every replica accepts.  up runs them (Ctrl-C stops them);\n"
    "`quipu node --home DIR/nodeK` runs one.  add writes the next DIR/nodeK (ports\n"
    "following the others') and asks the leader to add it; start it then.  remove asks\n"
    "the leader to remove a replica (then stop it and move its home away).  add and\n"
    "remove need an admin key in $QUIPU_KEY.\n";

typedef struct init_args {
  uint32_t replicas;  /* --replicas */
  const char *dir;    /* --dir */
  uint32_t base_port; /* --base-port */
} init_args_t;

static int usage_error(const char *what) {
  fprintf(stderr, INIT_PROG ": %s\n%s", what, USAGE);
  return 2;
}

static int parse(int argc, char **argv, init_args_t *a) {
  static const struct option opts[] = {{"replicas", required_argument, NULL, 'r'},
                                       {"dir", required_argument, NULL, 'd'},
                                       {"base-port", required_argument, NULL, 'p'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "r:d:p:h", opts, NULL)) != -1) {
    if (c == 'r') a->replicas = (uint32_t)strtoul(optarg, NULL, 10);
    else if (c == 'd') a->dir = optarg;
    else if (c == 'p') a->base_port = (uint32_t)strtoul(optarg, NULL, 10);
    else if (c == 'h') {
      fputs(USAGE, stdout);
      return 0;
    } else return usage_error("unknown option");
  }
  if (optind < argc) return usage_error("unexpected argument");
  if (a->dir == NULL) return usage_error("--dir is required");
  if (a->replicas < 1 || a->replicas > QP_LEDGER_REPLICAS_MAX)
    return usage_error("--replicas must be 1 to 7");
  if (a->base_port < 1024 || a->base_port + 2 * a->replicas > 65535)
    return usage_error("--base-port must be 1024 or more, with every port below 65536");
  return -1;
}

/* {"id","self","replicas":[…]} for replica self. */
static json_t *cluster_json(const init_args_t *a, const char *id, uint32_t self) {
  json_t *replicas = json_array();
  for (uint32_t k = 0; k < a->replicas; k++) {
    char raft[64], http[64];
    snprintf(raft, sizeof raft, "127.0.0.1:%u", a->base_port + 2 * k + 1);
    snprintf(http, sizeof http, "http://127.0.0.1:%u", a->base_port + 2 * k);
    json_array_append_new(replicas,
                          json_pack("{s:i,s:s,s:s}", "id", (int)k + 1, "raft", raft, "http", http));
  }
  return json_pack("{s:s,s:i,s:o}", "id", id, "self", (int)self, "replicas", replicas);
}

static int write_home(const init_args_t *a, const char *id, uint32_t k) {
  char home[4200], path[4300], listen[64];
  snprintf(home, sizeof home, "%s/node%u", a->dir, k);
  snprintf(path, sizeof path, "%s/node.json", home);
  if (access(path, F_OK) == 0) {
    fprintf(stderr, INIT_PROG ": %s exists; use a new --dir\n", path);
    return QP_EEXISTS;
  }
  int rc = qp_mkdir_p(home);
  snprintf(listen, sizeof listen, "127.0.0.1:%u", a->base_port + 2 * k);
  json_t *cfg = json_pack("{s:s,s:{s:{s:o}}}", "listen", listen, "modules", "ledger", "cluster",
                          cluster_json(a, id, k));
  if (rc == 0 && (cfg == NULL || json_dump_file(cfg, path, JSON_INDENT(2)) != 0)) rc = QP_EIO;
  json_decref(cfg);
  if (rc != 0) fprintf(stderr, INIT_PROG ": cannot write %s: %s\n", path, qp_strerror(rc));
  return rc;
}

/* Copies the file from into to (a new file, mode 0600). */
static int copy_file(const char *from, const char *to, const char *prog) {
  FILE *in = fopen(from, "rb");
  int fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  FILE *out = fd >= 0 ? fdopen(fd, "wb") : NULL;
  int rc = in != NULL && out != NULL ? 0 : QP_EIO;
  char buf[4096];
  size_t n;
  while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, out) != n) rc = QP_EIO;
  if (in != NULL) fclose(in);
  if (out != NULL && fclose(out) != 0) rc = QP_EIO;
  else if (out == NULL && fd >= 0) close(fd);
  if (rc != 0) fprintf(stderr, "%s: cannot copy %s to %s: %s\n", prog, from, to, strerror(errno));
  return rc;
}

int qp__cli_cluster_copy_keys(const char *from_home, const char *to_home, const char *prog) {
  char from[4300], to[4300];
  if (qp_http_keys_path(from_home, from, sizeof from) != 0) return QP_ERANGE;
  if (qp_http_keys_path(to_home, to, sizeof to) != 0) return QP_ERANGE;
  char *slash = strrchr(to, '/');
  *slash = '\0';
  int mk = qp_mkdir_p(to);
  *slash = '/';
  if (mk != 0) return mk;
  int rc = copy_file(from, to, prog);
  /* The key replicas present to each other (a catch-up from a snapshot). */
  char peer_from[4400], peer_to[4400];
  snprintf(peer_from, sizeof peer_from, "%s/keys/cluster_key", from_home);
  snprintf(peer_to, sizeof peer_to, "%s/keys/cluster_key", to_home);
  if (rc == 0 && access(peer_from, F_OK) == 0) rc = copy_file(peer_from, peer_to, prog);
  return rc;
}

/* Copies node0's key file into DIR/node<k> (mode 0600). */
static int copy_keys(const init_args_t *a, uint32_t k) {
  char from[4200], to[4200];
  snprintf(from, sizeof from, "%s/node0", a->dir);
  snprintf(to, sizeof to, "%s/node%u", a->dir, k);
  return qp__cli_cluster_copy_keys(from, to, INIT_PROG);
}

/* DIR/node<k>/keys/cluster_key: the key a replica presents to the others
 * when it fetches their journal (GET /v1/cluster/journal, a catch-up). */
static int write_cluster_key(const init_args_t *a, uint32_t k, const char *key) {
  char path[4300], detail[512];
  snprintf(path, sizeof path, "%s/node%u/keys/cluster_key", a->dir, k);
  int rc = qp_file_replace(path, key, strlen(key), 0600, detail, sizeof detail);
  if (rc != 0) fprintf(stderr, INIT_PROG ": %s\n", detail);
  return rc;
}

static int cluster_init(int argc, char **argv) {
  init_args_t a = {.base_port = 7400};
  int code = parse(argc, argv, &a);
  if (code >= 0) return code;
  uint8_t raw[8];
  randombytes_buf(raw, sizeof raw);
  char id[32];
  snprintf(id, sizeof id, "quipu-%02x%02x%02x%02x%02x%02x%02x%02x", raw[0], raw[1], raw[2],
           raw[3], raw[4], raw[5], raw[6], raw[7]);
  int rc = 0;
  for (uint32_t k = 0; k < a.replicas && rc == 0; k++) rc = write_home(&a, id, k);
  char home[4200], key[QP_HTTP_KEY_TEXT_SIZE], detail[512];
  snprintf(home, sizeof home, "%s/node0", a.dir);
  if (rc == 0) {
    rc = qp_http_keys_create(home, "admin", "admin", key, NULL, detail, sizeof detail);
    if (rc != 0) fprintf(stderr, INIT_PROG ": creating the admin key: %s\n", detail);
  }
  char peer[QP_HTTP_KEY_TEXT_SIZE];
  if (rc == 0) {
    rc = qp_http_keys_create(home, "cluster", "admin", peer, NULL, detail, sizeof detail);
    if (rc != 0) fprintf(stderr, INIT_PROG ": creating the cluster key: %s\n", detail);
  }
  for (uint32_t k = 1; k < a.replicas && rc == 0; k++) rc = copy_keys(&a, k);
  for (uint32_t k = 0; k < a.replicas && rc == 0; k++) rc = write_cluster_key(&a, k, peer);
  if (rc != 0) return 1;
  printf("cluster %s: %u replicas in %s\n", id, a.replicas, a.dir);
  for (uint32_t k = 0; k < a.replicas; k++)
    printf("  node%u  http://127.0.0.1:%u  raft 127.0.0.1:%u\n", k, a.base_port + 2 * k,
           a.base_port + 2 * k + 1);
  printf("admin API key (shown once; every replica accepts it):\n%s\n", key);
  printf("run them: quipu cluster up --dir %s\n", a.dir);
  return 0;
}

int qp_cmd_cluster(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "init") == 0) return cluster_init(argc - 1, argv + 1);
  if (strcmp(argv[1], "up") == 0) return qp_cmd_chain_up(argc - 1, argv + 1);
  if (strcmp(argv[1], "add") == 0) return qp__cli_cluster_add(argc - 1, argv + 1);
  if (strcmp(argv[1], "remove") == 0) return qp__cli_cluster_remove(argc - 1, argv + 1);
  fprintf(stderr, "quipu cluster: unknown command %s\n%s", argv[1], USAGE);
  return 2;
}
