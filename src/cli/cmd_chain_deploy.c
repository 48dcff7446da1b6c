/*
 * cmd_chain_deploy.c - `quipu chain deploy`: stores a Lua contract on the
 * chain (docs/chain.md, "Contracts (Lua)").  The code is read from a file
 * and compiled here first, so a contract that does not compile is refused
 * with Lua's message before anything is signed; then it is sent as app lua,
 * method deploy, by the same path as `quipu chain send` (chain_send.h).
 * The contract's address (the suite hash of the code, in hex) is printed
 * first; with --wait the receipt follows.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "chain/chain.h"
#include "cli/chain_send.h"
#include "cli/cli.h"

#define DEPLOY_PROG "quipu chain deploy"
#define DEPLOY_NOT_DONE 2
#define DEPLOY_TIMEOUT_S 30u

static const char USAGE[] =
    "usage: quipu chain deploy --node URL --key FILE --code FILE [--wait] [--timeout S]\n"
    "                          [--nonce N]\n"
    "\n"
    "Stores the Lua 5.4 contract in --code FILE (text, at most 65536 bytes, and within\n"
    "the network's tx_bytes_max) on the chain, signed with the client key --key, and\n"
    "prints its address (64 hex digits: the suite hash of the code) on the first line.\n"
    "The code is compiled here first: a contract that does not compile is refused with\n"
    "Lua's message (exit 2) and nothing is sent.  --wait polls until the deploy is\n"
    "committed (at most S seconds, default 30) and prints its receipt; a failed one\n"
    "(already_deployed, compile_error) exits 1.  Call it with `quipu chain send\n"
    "--contract ADDR --method NAME --args JSON`.\n"
    "Example: quipu chain deploy --node http://127.0.0.1:7100 --key me.key \\\n"
    "           --code counter.lua --wait\n";

static int usage_error(const char *what) {
  fprintf(stderr, DEPLOY_PROG ": %s\n%s", what, USAGE);
  return DEPLOY_NOT_DONE;
}

/* Returns -1 to go on, else the exit code. */
static int parse(int argc, char **argv, qp_cli_chain_send_t *a, const char **code_path) {
  static const struct option opts[] = {
      {"node", required_argument, NULL, 'u'}, {"key", required_argument, NULL, 'k'},
      {"code", required_argument, NULL, 'f'}, {"wait", no_argument, NULL, 'w'},
      {"timeout", required_argument, NULL, 't'}, {"nonce", required_argument, NULL, 'n'},
      {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
  uint64_t v = 0;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "u:k:f:wt:n:h", opts, NULL)) != -1) {
    if (c == 'u') a->node = optarg;
    else if (c == 'k') a->key_path = optarg;
    else if (c == 'f') *code_path = optarg;
    else if (c == 'w') a->wait = true;
    else if (c == 't' && qp_cli_parse_u64(optarg, 1, 86400, &v) != 0)
      return usage_error("--timeout must be 1..86400 seconds");
    else if (c == 't') a->timeout_s = (uint32_t)v;
    else if (c == 'n' && qp_cli_parse_u64(optarg, 1, UINT64_MAX, &a->nonce) != 0)
      return usage_error("--nonce must be an integer >= 1");
    else if (c == 'h') {
      fputs(USAGE, stdout);
      return 0;
    } else if (c == '?') return usage_error("unknown option");
  }
  if (optind < argc) return usage_error("unexpected argument");
  if (a->node == NULL || a->key_path == NULL || *code_path == NULL)
    return usage_error("--node, --key and --code are required");
  return -1;
}

/* Reads at most QP_LUA_CODE_MAX bytes of path into buf (QP_LUA_CODE_MAX + 1
 * bytes); prints why not. */
static int read_code(const char *path, char *buf, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, DEPLOY_PROG ": cannot open --code %s: %m\n", path);
    return DEPLOY_NOT_DONE;
  }
  *len = fread(buf, 1, QP_LUA_CODE_MAX + 1, f);
  bool error = ferror(f) != 0;
  fclose(f);
  if (error || *len == 0 || *len > QP_LUA_CODE_MAX) {
    fprintf(stderr, DEPLOY_PROG ": --code %s %s\n", path,
            error ? "cannot be read" : *len == 0 ? "is empty" : "is longer than 65536 bytes");
    return DEPLOY_NOT_DONE;
  }
  buf[*len] = '\0';
  return 0;
}

/* Compiles the code and makes the deploy's args {"code": text} into *args
 * (qp_malloc'ed). */
static int deploy_args(const char *path, const char *code, size_t len, char **args) {
  char detail[512] = "";
  if (qp_lua_compile(code, len, detail, sizeof detail) != 0) {
    fprintf(stderr, DEPLOY_PROG ": --code %s does not compile: %s\n", path, detail);
    return DEPLOY_NOT_DONE;
  }
  json_t *o = json_pack("{s:s%}", "code", code, len);
  if (o == NULL) {
    fprintf(stderr, DEPLOY_PROG ": --code %s is not UTF-8 text\n", path);
    return DEPLOY_NOT_DONE;
  }
  size_t n = json_dumpb(o, NULL, 0, JSON_COMPACT);
  *args = qp_malloc(n + 1);
  if (*args != NULL) {
    json_dumpb(o, *args, n, JSON_COMPACT);
    (*args)[n] = '\0';
  }
  json_decref(o);
  return *args != NULL ? 0 : DEPLOY_NOT_DONE;
}

int qp_cmd_chain_deploy(int argc, char **argv) {
  qp_cli_chain_send_t a = {.app = "lua", .method = "deploy", .timeout_s = DEPLOY_TIMEOUT_S};
  const char *path = NULL;
  int code = parse(argc, argv, &a, &path);
  if (code >= 0) return code;
  char *src = qp_malloc(QP_LUA_CODE_MAX + 1), *args = NULL;
  size_t len = 0;
  code = src != NULL ? read_code(path, src, &len) : DEPLOY_NOT_DONE;
  if (code == 0) code = deploy_args(path, src, len, &args);
  if (code == 0) {
    a.args = args;
    a.code = src;
    a.code_len = len;
    code = qp_cli_chain_send_run(&a, DEPLOY_PROG, USAGE);
  }
  qp_free(args);
  qp_free(src);
  return code;
}
