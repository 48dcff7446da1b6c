/*
 * cmd_chain_init.c - `quipu chain init`: a local network of validators in
 * one directory, DIR/node0 … DIR/node<N-1>, each a node home with its
 * validator key (keys/validator.key, 0600), the one genesis.json they all
 * share and a node.json enabling the chain module (docs/chain.md), plus
 * DIR/registrar.key, the client key genesis names as the registry app's
 * registrar (docs/apps.md).  Node i
 * serves HTTP on 127.0.0.1:P+2i and listens for peers on 127.0.0.1:P+2i+1.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/err.h"
#include "chain/chain.h"
#include "cli/cli.h"
#include "store/store.h"

static const char USAGE[] =
    "usage: quipu chain init --validators N --dir DIR [--base-port P] [--chain-id ID]\n"
    "                        [--crypto ed25519|sm2] [--with-ledger] [--force]\n"
    "\n"
    "Writes DIR/node0..node<N-1>: validator keys, one genesis.json, node.json each,\n"
    "and DIR/registrar.key: the registrar of the registry app (docs/apps.md).\n"
    "--crypto fixes the network's suite in genesis: ed25519 (default; Ed25519 with\n"
    "BLAKE2b-256) or sm2 (the GM/T suite: SM2 signatures, SM3 hashes); --suite is a\n"
    "synonym.  Client keys for it: quipu chain keygen --crypto SUITE.\n"
    "Node i serves HTTP on 127.0.0.1:P+2i and peers on 127.0.0.1:P+2i+1 (P = 7100).\n";

typedef struct init_args {
  uint32_t validators;
  const char *dir;
  uint32_t base_port;
  const char *chain_id;
  qp_suite_t suite;
  bool with_ledger;
  bool force;
} init_args_t;

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out) {
  uint64_t v = 0;
  if (qp_cli_parse_u64(s, min, max, &v) != 0) return -1;
  *out = (uint32_t)v;
  return 0;
}
static int usage_error(const char *what) {
  fprintf(stderr, "quipu chain init: %s\n%s", what, USAGE);
  return 2;
}

/* Returns -1 to go on, else the exit code. */
static int parse(int argc, char **argv, init_args_t *a) {
  static const struct option opts[] = {
      {"validators", required_argument, NULL, 'n'}, {"dir", required_argument, NULL, 'd'},
      {"base-port", required_argument, NULL, 'p'},  {"chain-id", required_argument, NULL, 'c'},
      {"crypto", required_argument, NULL, 's'},     {"suite", required_argument, NULL, 's'},
      {"with-ledger", no_argument, NULL, 'l'},
      {"force", no_argument, NULL, 'f'},            {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "n:d:p:c:s:lfh", opts, NULL)) != -1) {
    if (c == 'n' && parse_u32(optarg, 1, QP_CHAIN_VALIDATORS_MAX, &a->validators) != 0)
      return usage_error("--validators must be 1..64 (4 tolerates one faulty validator)");
    if (c == 'p' && parse_u32(optarg, 1024, 65535 - 2 * QP_CHAIN_VALIDATORS_MAX, &a->base_port))
      return usage_error("--base-port must be 1024..65407");
    if (c == 's' && qp_suite_parse(optarg, strlen(optarg), &a->suite) != 0) {
      fprintf(stderr, "quipu chain init: --crypto must be ed25519 or sm2, not '%.64s'\n%s",
              optarg, USAGE);
      return 2;
    }
    if (c == 'd') a->dir = optarg;
    else if (c == 'c') a->chain_id = optarg;
    else if (c == 'l') a->with_ledger = true;
    else if (c == 'f') a->force = true;
    else if (c == 'h') {
      fputs(USAGE, stdout);
      return 0;
    } else if (c == '?') return usage_error("unknown option");
  }
  if (optind < argc) return usage_error("unexpected argument");
  if (a->validators == 0 || a->dir == NULL)
    return usage_error("--validators and --dir are required");
  if (a->base_port + 2 * a->validators > 65535) return usage_error("ports past 65535");
  return -1;
}

/* Creates DIR/node<i>/keys/validator.key and puts its public key in g. */
static int make_validator(const init_args_t *a, uint32_t i, qp_chain_genesis_t *g) {
  char path[4200], detail[512];
  snprintf(path, sizeof path, "%s/node%u/keys", a->dir, i);
  int rc = qp_mkdir_p(path);
  qp_sign_key_t *key = NULL;
  if (rc == 0) rc = qp_sign_keygen(a->suite, &key);
  snprintf(path, sizeof path, "%s/node%u/keys/validator.key", a->dir, i);
  if (rc == 0) rc = qp_chain_keyfile_write(path, key, a->force, detail, sizeof detail);
  if (rc != 0) {
    fprintf(stderr, "quipu chain init: node%u: %s\n", i,
            rc == QP_EEXISTS ? detail : qp_strerror(rc));
    qp_sign_key_free(key);
    return rc;
  }
  qp_chain_validator_t *v = &g->validators[i];
  snprintf(v->name, sizeof v->name, "node%u", i);
  size_t len = 0;
  qp_sign_public(key, v->public_key, &len);
  v->public_key_len = (uint32_t)len;
  qp_sign_key_free(key);
  return 0;
}

/* Creates DIR/registrar.key (a client key, 0600) and names it in g. */
static int make_registrar(const init_args_t *a, qp_chain_genesis_t *g) {
  char path[4200], detail[512];
  snprintf(path, sizeof path, "%s/registrar.key", a->dir);
  qp_sign_key_t *key = NULL;
  int rc = qp_sign_keygen(a->suite, &key);
  if (rc == 0) rc = qp_chain_keyfile_write(path, key, a->force, detail, sizeof detail);
  if (rc != 0) {
    fprintf(stderr, "quipu chain init: registrar: %s\n",
            rc == QP_EEXISTS ? detail : qp_strerror(rc));
    qp_sign_key_free(key);
    return rc;
  }
  size_t len = 0;
  qp_sign_public(key, g->registrar, &len);
  g->registrar_len = (uint32_t)len;
  qp_sign_key_free(key);
  return 0;
}

/* node.json of node i: its HTTP and peer addresses and every other peer. */
static int node_json(const init_args_t *a, uint32_t i, char *out, size_t size) {
  size_t n = 0;
  n += (size_t)snprintf(out + n, size - n, "{\n  \"listen\": \"127.0.0.1:%u\",\n  \"modules\": {\n",
                        a->base_port + 2 * i);
  if (a->with_ledger) n += (size_t)snprintf(out + n, size - n, "    \"ledger\": {},\n");
  n += (size_t)snprintf(out + n, size - n,
                        "    \"chain\": {\n      \"peer_listen\": \"127.0.0.1:%u\",\n"
                        "      \"peers\": [",
                        a->base_port + 2 * i + 1);
  for (uint32_t k = 0, first = 1; k < a->validators && n < size; k++) {
    n += (size_t)snprintf(out + n, size - n, "%s\"127.0.0.1:%u\"", first ? "" : ", ",
                          a->base_port + 2 * k + 1);
    first = 0;
  }
  n += (size_t)snprintf(out + n, size - n, "]\n    }\n  }\n}\n");
  return n < size ? 0 : QP_ERANGE;
}

static int write_node(const init_args_t *a, uint32_t i, const char *genesis) {
  char path[4200], text[8192], detail[512];
  int rc = node_json(a, i, text, sizeof text);
  snprintf(path, sizeof path, "%s/node%u/node.json", a->dir, i);
  if (rc == 0) rc = qp_file_replace(path, text, strlen(text), 0600, detail, sizeof detail);
  snprintf(path, sizeof path, "%s/node%u/genesis.json", a->dir, i);
  if (rc == 0) rc = qp_file_replace(path, genesis, strlen(genesis), 0644, detail, sizeof detail);
  if (rc != 0) fprintf(stderr, "quipu chain init: node%u: %s\n", i, detail);
  return rc;
}

/* The genesis text, checked by the parser every node will run. */
static int make_genesis(const init_args_t *a, qp_chain_genesis_t *g, char **text) {
  snprintf(g->chain_id, sizeof g->chain_id, "%s", a->chain_id);
  g->suite = a->suite;
  g->validators_count = a->validators;
  qp_chain_params_default(&g->params);
  int rc = qp_chain_genesis_format(g, text);
  char detail[512];
  qp_chain_genesis_t check;
  if (rc == 0) rc = qp_chain_genesis_parse(*text, strlen(*text), &check, detail, sizeof detail);
  if (rc != 0) fprintf(stderr, "quipu chain init: genesis: %s\n", qp_strerror(rc));
  if (rc == 0) memcpy(g->hash, check.hash, sizeof g->hash);
  return rc;
}

static void print_next_steps(const init_args_t *a, const qp_chain_genesis_t *g) {
  char hash[2 * QP_HASH_SIZE + 1];
  qp_chain_hex(hash, g->hash, QP_HASH_SIZE);
  printf("chain %s: %u validators (tolerates %u faulty), suite %s, genesis %.16s…\n",
         g->chain_id, g->validators_count, qp_chain_faults(g->validators_count),
         qp_suite_name(g->suite), hash);
  for (uint32_t i = 0; i < a->validators; i++)
    printf("  %s/node%u  http://127.0.0.1:%u  peers 127.0.0.1:%u\n", a->dir, i,
           a->base_port + 2 * i, a->base_port + 2 * i + 1);
  printf("registrar key:   %s/registrar.key (registers participants: docs/apps.md)\n", a->dir);
  printf("start them all:  quipu chain up --dir %s\n", a->dir);
  printf("or one by one:   quipu node --home %s/node0   (and node1, …)\n", a->dir);
}

int qp_cmd_chain_init(int argc, char **argv) {
  init_args_t a = {.base_port = 7100, .chain_id = "quipu-local", .suite = QP_SUITE_ED25519};
  int rc = parse(argc, argv, &a);
  if (rc >= 0) return rc;
  if (qp_crypto_init() != 0) return 1;
  qp_chain_genesis_t *g = qp_calloc(1, sizeof *g);
  char *text = NULL;
  rc = g == NULL ? QP_ENOMEM : qp_mkdir_p(a.dir);
  for (uint32_t i = 0; i < a.validators && rc == 0; i++) rc = make_validator(&a, i, g);
  if (rc == 0) rc = make_registrar(&a, g);
  if (rc == 0) rc = make_genesis(&a, g, &text);
  for (uint32_t i = 0; i < a.validators && rc == 0; i++) rc = write_node(&a, i, text);
  if (rc == 0) print_next_steps(&a, g);
  qp_free(text);
  qp_free(g);
  return rc == 0 ? 0 : 1;
}
