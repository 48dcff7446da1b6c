/*
 * cmd_chain_send.c - `quipu chain send`: signs a transaction with a client
 * key and submits it to a node (docs/chain.md, "Transactions").  The node
 * tells the client what it cannot know offline: the network's genesis hash
 * and suite (GET /v1/chain/status) and the sender's next nonce, counting
 * the ones pending in its mempool (GET /v1/chain/nonce/{sender}).  The
 * transaction is built and signed here, so the key never leaves the machine.
 *
 * --dry-run prints the signed transaction's hex instead of submitting it
 * (to inspect it, or submit it later or elsewhere).
 *
 * With --wait it polls GET /v1/chain/txs/{hash} until the transaction is
 * committed and prints its receipt.  Exit codes: 0 committed ok (or, without
 * --wait, accepted into the mempool), 1 committed with a failed receipt, 2
 * refused by the node, not committed in time, node unreachable, or usage.
 *
 * --count N (for load tests, not in the usage text) signs and submits N
 * transactions with consecutive nonces; each one's args are --args with
 * every "{i}" replaced by its index 0..N-1.  While the node answers
 * nonce_too_far (the sender is 64 nonces ahead of the chain) or mempool_full
 * it waits and retries, until --timeout.  It prints one hash per line, and
 * with --wait one receipt per line.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "chain/chain.h"
#include "cli/chain_http.h"
#include "cli/chain_send.h"
#include "cli/cli.h"

#define SEND_OK 0          /* committed ok, or accepted (no --wait) */
#define SEND_FAILED 1      /* committed with a failed receipt */
#define SEND_NOT_DONE 2    /* refused, not committed in time, unreachable, usage */
#define SEND_TIMEOUT_S 30u /* --timeout's default */
#define SEND_TIMEOUT_S_MAX 86400u
#define SEND_COUNT_MAX 1000000u
#define SEND_POLL_MS 100L          /* between two looks at a pending transaction */
#define SEND_REQUEST_MS_MAX 10000L /* one request's own timeout */
#define SEND_ARGS_BYTES_MAX QP_CHAIN_TX_BYTES_MAX
#define HASH_HEX (2 * QP_HASH_SIZE + 1)

static const char USAGE[] =
    "usage: quipu chain send --node URL --key FILE --app APP --method M [--args JSON]\n"
    "                        [--nonce N] [--wait] [--timeout S] [--dry-run]\n"
    "       quipu chain send --node URL --key FILE --contract ADDR --method NAME\n"
    "                        [--args JSON] [--gas N] [--nonce N] [--wait] [--timeout S]\n"
    "\n"
    "Signs a transaction with the client key FILE (`quipu chain keygen`) and submits it\n"
    "to the node at URL; prints its hash.  --args is a JSON object (default {}).  The\n"
    "nonce defaults to the sender's next one as the node sees it (committed + pending).\n"
    "--wait polls until the transaction is committed (at most S seconds, default 30)\n"
    "and prints its receipt instead: {\"height\",\"tx\",\"status\",\"code\",\"result\","
    "\"events\"}.\n"
    "--dry-run prints the signed transaction (hex, the body of POST /v1/chain/txs as\n"
    "{\"tx\":\"<hex>\"}) instead of submitting it.\n"
    "Exit 0 committed ok (without --wait: accepted), 1 committed with a failed receipt,\n"
    "2 refused by the node (its message on stderr), not committed in time, or usage.\n"
    "A node that requires an API key (modules.chain.require_api_key) reads it from\n"
    "$QUIPU_KEY (a key with chain:submit and chain:read).\n"
    "--contract calls the function NAME of the Lua contract at ADDR (`quipu chain\n"
    "deploy` prints it) with --args as its argument (any JSON value without reals or\n"
    "null; default none) and a gas limit of N (1..10000000, default 1000000): the\n"
    "transaction is app lua, method call (docs/chain.md, \"Contracts (Lua)\").\n"
    "Example: quipu chain send --node http://127.0.0.1:7100 --key me.key --app kv \\\n"
    "           --method put --args '{\"key\":\"k1\",\"value\":\"v1\"}' --wait\n";

typedef qp_cli_chain_send_t send_args_t;

/* What the node says about its network. */
typedef struct network {
  qp_suite_t suite;              /* signature suite */
  uint8_t genesis[QP_HASH_SIZE]; /* genesis hash: every tx is bound to it */
  size_t tx_bytes_max;           /* genesis params.tx_bytes_max */
} network_t;

static const char *prog = "quipu chain send"; /* the command named in messages */
static const char *usage_text = USAGE;        /* printed after a usage error */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One message on stderr, after the command's name. */
static void say(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: ", prog);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
}

static int usage_error(const char *what) {
  say("%s\n%s", what, usage_text);
  return SEND_NOT_DONE;
}

/* Returns -1 to go on, else the exit code. */
static int parse(int argc, char **argv, send_args_t *a) {
  static const struct option opts[] = {
      {"node", required_argument, NULL, 'u'},   {"key", required_argument, NULL, 'k'},
      {"app", required_argument, NULL, 'a'},    {"method", required_argument, NULL, 'm'},
      {"args", required_argument, NULL, 'j'},   {"nonce", required_argument, NULL, 'n'},
      {"wait", no_argument, NULL, 'w'},         {"timeout", required_argument, NULL, 't'},
      {"count", required_argument, NULL, 'c'},  {"dry-run", no_argument, NULL, 'd'},
      {"contract", required_argument, NULL, 'C'}, {"gas", required_argument, NULL, 'g'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
  uint64_t v = 0;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "u:k:a:m:j:n:wt:c:h", opts, NULL)) != -1) {
    if (c == 'u') a->node = optarg;
    else if (c == 'k') a->key_path = optarg;
    else if (c == 'a') a->app = optarg;
    else if (c == 'm') a->method = optarg;
    else if (c == 'j') a->args = optarg;
    else if (c == 'w') a->wait = true;
    else if (c == 'd') a->dry_run = true;
    else if (c == 'n' && qp_cli_parse_u64(optarg, 1, UINT64_MAX, &a->nonce) != 0)
      return usage_error("--nonce must be an integer >= 1");
    else if (c == 't' && qp_cli_parse_u64(optarg, 1, SEND_TIMEOUT_S_MAX, &v) != 0)
      return usage_error("--timeout must be 1..86400 seconds");
    else if (c == 't') a->timeout_s = (uint32_t)v;
    else if (c == 'c' && qp_cli_parse_u64(optarg, 1, SEND_COUNT_MAX, &v) != 0)
      return usage_error("--count must be 1..1000000");
    else if (c == 'c') a->count = (uint32_t)v;
    else if (c == 'C') a->contract = optarg;
    else if (c == 'g' && qp_cli_parse_u64(optarg, 1, QP_LUA_GAS_MAX, &a->gas) != 0)
      return usage_error("--gas must be an integer from 1 to 10000000 (the block's limit)");
    else if (c == 'h') {
      fputs(USAGE, stdout);
      return SEND_OK;
    } else if (c == '?') return usage_error("unknown option");
  }
  if (optind < argc) return usage_error("unexpected argument");
  if (a->wait && a->dry_run) return usage_error("--wait and --dry-run exclude each other");
  if (a->contract != NULL && a->app != NULL)
    return usage_error("--contract calls a Lua contract: it excludes --app");
  if (a->gas != 0 && a->contract == NULL) return usage_error("--gas needs --contract");
  if (a->node == NULL || a->key_path == NULL || (a->app == NULL && a->contract == NULL) ||
      a->method == NULL)
    return usage_error("--node, --key, --method and --app or --contract are required");
  return -1;
}

/* --contract: checks the address and --args (the contract's argument),
 * then makes the lua call's args {"contract","method","args","gas"} into
 * *text (the caller qp_free()s it). */
static int contract_args(send_args_t *a, char **text) {
  uint8_t hash[QP_HASH_SIZE];
  if (strlen(a->contract) != 2 * QP_HASH_SIZE ||
      qp_chain_unhex(a->contract, strlen(a->contract), hash, sizeof hash) != 0)
    return usage_error("--contract must be a contract address: 64 hex digits");
  json_t *args = NULL;
  char detail[256] = "";
  if (a->args != NULL && a->count == 0 &&
      qp_lua_args_parse(a->args, strlen(a->args), &args, detail, sizeof detail) != 0) {
    say("--%s\n", detail);
    return SEND_NOT_DONE;
  }
  json_t *call = json_pack("{s:s, s:s, s:I}", "contract", a->contract, "method", a->method,
                           "gas", (json_int_t)(a->gas != 0 ? a->gas : QP_CLI_LUA_GAS_DEFAULT));
  if (call != NULL && args != NULL) json_object_set_new(call, "args", args);
  else json_decref(args);
  /* A --count template is spliced in as text ("{i}" is replaced later and
   * the node checks what results). */
  size_t n = call != NULL ? json_dumpb(call, NULL, 0, JSON_COMPACT) : 0;
  size_t extra = a->count > 0 && a->args != NULL ? strlen(a->args) + 16 : 0;
  *text = n > 0 ? qp_malloc(n + extra + 1) : NULL;
  if (*text != NULL) {
    json_dumpb(call, *text, n, JSON_COMPACT);
    (*text)[n] = '\0';
    if (extra > 0) snprintf(*text + n - 1, extra + 2, ",\"args\":%s}", a->args);
  }
  json_decref(call);
  if (*text == NULL) return SEND_NOT_DONE;
  a->app = "lua";
  a->method = "call";
  a->args = *text;
  return 0;
}

/* Checks that text is one JSON object without repeated keys, as the node
 * will; says what is wrong otherwise. */
static int check_args(const char *text, size_t len) {
  json_error_t jerr;
  json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (v == NULL) {
    say("--args is not valid JSON: %s (line %d, column %d)\n", jerr.text,
            jerr.line, jerr.column);
    return SEND_NOT_DONE;
  }
  bool object = json_is_object(v);
  json_decref(v);
  if (!object) {
    say("--args must be a JSON object, like {\"key\":\"k1\"}\n");
    return SEND_NOT_DONE;
  }
  return 0;
}

/* The args of transaction i: the template with "{i}" replaced (--count),
 * else the text as given. */
static int args_text(const send_args_t *a, uint32_t i, qp_buf_t *out) {
  qp_buf_reset(out);
  const char *p = a->args;
  char index[16];
  int index_len = snprintf(index, sizeof index, "%u", i);
  while (*p != '\0') {
    const char *hit = a->count > 0 ? strstr(p, "{i}") : NULL;
    size_t n = hit != NULL ? (size_t)(hit - p) : strlen(p);
    qp_buf_append(out, p, n);
    if (hit == NULL) break;
    qp_buf_append(out, index, (size_t)index_len);
    p = hit + 3;
  }
  if (out->failed) {
    say("--args is longer than %u bytes\n", SEND_ARGS_BYTES_MAX);
    return SEND_NOT_DONE;
  }
  if (out->data == NULL) qp_buf_append(out, "", 0);
  return check_args(out->data != NULL ? out->data : "", out->len);
}

/* GET /v1/chain/status: the network's suite, genesis hash, tx size limit. */
static int fetch_network(qp_cli_chain_http_t *h, network_t *net) {
  if (qp_cli_chain_http_request(h, "GET", "/v1/chain/status", NULL, 0, SEND_REQUEST_MS_MAX) != 0 ||
      h->status != 200) {
    qp_cli_chain_http_print_error(h, prog, "cannot read the node's chain status");
    return SEND_NOT_DONE;
  }
  json_t *root = qp_cli_chain_http_json(h);
  const char *suite = json_string_value(json_object_get(root, "suite"));
  const char *genesis = json_string_value(json_object_get(root, "genesis_hash"));
  json_int_t bytes_max = json_integer_value(json_object_get(root, "tx_bytes_max"));
  int rc = suite != NULL && genesis != NULL ? 0 : QP_EPARSE;
  if (rc == 0) rc = qp_suite_parse(suite, strlen(suite), &net->suite);
  if (rc == 0) rc = qp_chain_unhex(genesis, strlen(genesis), net->genesis, QP_HASH_SIZE);
  net->tx_bytes_max = bytes_max >= QP_CHAIN_TX_BYTES_MIN && bytes_max <= QP_CHAIN_TX_BYTES_MAX
                          ? (size_t)bytes_max
                          : QP_CHAIN_TX_BYTES_MAX;
  json_decref(root);
  if (rc != 0) {
    say("the node's /v1/chain/status lacks a valid suite or "
                    "genesis_hash: %.300s\n", h->response.data ? h->response.data : "");
    return SEND_NOT_DONE;
  }
  return 0;
}

/* GET /v1/chain/nonce/{sender}: the sender's next nonce, pending ones
 * counted. */
static int fetch_nonce(qp_cli_chain_http_t *h, const char *sender_hex, uint64_t *next) {
  char path[64 + 2 * QP_SIGN_PUBLIC_MAX];
  snprintf(path, sizeof path, "/v1/chain/nonce/%s", sender_hex);
  if (qp_cli_chain_http_request(h, "GET", path, NULL, 0, SEND_REQUEST_MS_MAX) != 0 ||
      h->status != 200) {
    qp_cli_chain_http_print_error(h, prog, "cannot read the sender's next nonce");
    return SEND_NOT_DONE;
  }
  json_t *root = qp_cli_chain_http_json(h);
  json_t *v = json_object_get(root, "next_nonce");
  bool ok = json_is_integer(v) && json_integer_value(v) >= 1;
  if (ok) *next = (uint64_t)json_integer_value(v);
  json_decref(root);
  if (!ok) {
    say("the node's nonce answer lacks next_nonce: %.300s\n",
            h->response.data ? h->response.data : "");
    return SEND_NOT_DONE;
  }
  return 0;
}

static void sleep_ms(long ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Milliseconds left before deadline_ns (0 when it has passed). */
static long left_ms(uint64_t deadline_ns) {
  uint64_t now = qp_clock_mono_ns();
  return now >= deadline_ns ? 0 : (long)((deadline_ns - now) / QP_NS_PER_MS);
}

/* The body {"tx":"<hex>"} of an encoded transaction; qp_free it. */
static char *tx_body(const uint8_t *tx, size_t len) {
  static const char head[] = "{\"tx\":\"", tail[] = "\"}";
  size_t size = sizeof head - 1 + 2 * len + sizeof tail;
  char *body = qp_malloc(size);
  if (body == NULL) return NULL;
  memcpy(body, head, sizeof head - 1);
  qp_chain_hex(body + sizeof head - 1, tx, len);
  memcpy(body + sizeof head - 1 + 2 * len, tail, sizeof tail);
  return body;
}

/* Whether a refusal is worth a retry in --count mode: the node is only
 * asking the sender to slow down. */
static bool is_backpressure(const qp_cli_chain_http_t *h) {
  char code[64];
  qp_cli_chain_http_error_code(h, code, sizeof code);
  return strcmp(code, "nonce_too_far") == 0 || strcmp(code, "mempool_full") == 0;
}

/* POSTs one encoded transaction; expects 202 and its hash (checked against
 * the local one).  Retries back-pressure in --count mode until deadline. */
static int submit(qp_cli_chain_http_t *h, const send_args_t *a, const uint8_t *tx, size_t len,
                  const char hash_hex[HASH_HEX], uint64_t deadline_ns) {
  char *body = tx_body(tx, len);
  if (body == NULL) return SEND_NOT_DONE;
  int rc;
  for (;;) {
    rc = qp_cli_chain_http_request(h, "POST", "/v1/chain/txs", body, strlen(body),
                                   SEND_REQUEST_MS_MAX);
    if (rc != 0 || h->status == 202 || a->count == 0 || !is_backpressure(h) ||
        left_ms(deadline_ns) < SEND_POLL_MS)
      break;
    sleep_ms(SEND_POLL_MS);
  }
  qp_free(body);
  if (rc != 0 || h->status != 202) {
    qp_cli_chain_http_print_error(h, prog, "the node refused the transaction");
    return SEND_NOT_DONE;
  }
  json_t *root = qp_cli_chain_http_json(h);
  const char *hash = json_string_value(json_object_get(root, "hash"));
  bool same = hash != NULL && strcmp(hash, hash_hex) == 0;
  if (!same)
    say("the node accepted the transaction but answered hash %.80s, "
                    "not %s\n", hash != NULL ? hash : "(none)", hash_hex);
  json_decref(root);
  return same ? SEND_OK : SEND_NOT_DONE;
}

/* --dry-run: the encoded transaction in hex on one line. */
static int print_hex(const uint8_t *tx, size_t len) {
  char *hex = qp_malloc(2 * len + 1);
  if (hex == NULL) return SEND_NOT_DONE;
  qp_chain_hex(hex, tx, len);
  printf("%s\n", hex);
  qp_free(hex);
  return SEND_OK;
}

/* Signs transaction i (nonce first_nonce + i) and submits it; hash_hex
 * receives its hash. */
static int send_one(qp_cli_chain_http_t *h, const send_args_t *a, const qp_sign_key_t *key,
                    const network_t *net, uint32_t i, uint64_t nonce, char hash_hex[HASH_HEX],
                    uint64_t deadline_ns) {
  qp_buf_t args = {.max = SEND_ARGS_BYTES_MAX};
  int code = args_text(a, i, &args);
  qp_chain_tx_spec_t spec = {.chain = net->genesis, .nonce = nonce, .app = a->app,
                             .method = a->method, .args = args.data, .args_len = args.len};
  uint8_t *tx = NULL;
  size_t len = 0;
  char detail[512] = "";
  int rc = code == 0 ? qp_chain_tx_make(key, &spec, net->tx_bytes_max, &tx, &len, detail,
                                        sizeof detail)
                     : 0;
  if (code == 0 && rc != 0) {
    say("cannot make the transaction: %s\n",
            rc == QP_ELIMIT ? "longer than the network's tx_bytes_max"
            : detail[0] != '\0' ? detail
                                : qp_strerror(rc));
    code = SEND_NOT_DONE;
  }
  qp_chain_tx_t decoded;
  if (code == 0 && qp_chain_tx_decode(net->suite, tx, len, net->tx_bytes_max, &decoded, detail,
                                      sizeof detail) != 0) {
    say("the transaction made does not decode: %s\n", detail);
    code = SEND_NOT_DONE;
  }
  if (code == 0) {
    qp_chain_hex(hash_hex, decoded.hash, QP_HASH_SIZE);
    code = a->dry_run ? print_hex(tx, len) : submit(h, a, tx, len, hash_hex, deadline_ns);
  }
  qp_free(tx);
  qp_buf_free(&args);
  return code;
}

/* Polls GET /v1/chain/txs/{hash} until committed or deadline; prints the
 * receipt as one JSON line. */
static int wait_receipt(qp_cli_chain_http_t *h, const char *hash_hex, uint64_t deadline_ns) {
  char path[64 + HASH_HEX];
  snprintf(path, sizeof path, "/v1/chain/txs/%s", hash_hex);
  for (;;) {
    long left = left_ms(deadline_ns);
    long budget = left < SEND_REQUEST_MS_MAX ? left : SEND_REQUEST_MS_MAX;
    if (budget > 0 && qp_cli_chain_http_request(h, "GET", path, NULL, 0, budget) == 0 &&
        h->status == 200)
      break;
    if (left_ms(deadline_ns) < SEND_POLL_MS) {
      say("%s was not committed in time (last answer: %s)\n", hash_hex,
              h->status != 0 ? (h->response.data ? h->response.data : "") : h->error);
      return SEND_NOT_DONE;
    }
    sleep_ms(SEND_POLL_MS);
  }
  json_t *root = qp_cli_chain_http_json(h);
  json_t *receipt = json_object_get(root, "receipt");
  const char *status = json_string_value(json_object_get(receipt, "status"));
  int code = SEND_NOT_DONE;
  if (json_is_object(receipt) && status != NULL) {
    json_dumpf(receipt, stdout, JSON_COMPACT); /* jansson keeps the node's key order */
    fputc('\n', stdout);
    code = strcmp(status, "ok") == 0 ? SEND_OK : SEND_FAILED;
    if (code == SEND_FAILED)
      say("%s committed with a failed receipt (%s)\n", hash_hex,
              json_string_value(json_object_get(receipt, "code")));
  } else {
    say("the node's answer for %s has no receipt: %.300s\n", hash_hex,
            h->response.data ? h->response.data : "");
  }
  json_decref(root);
  return code;
}

/* Sends every transaction, then waits for them when asked to.  The
 * sender's key and the node's network are known by now. */
static int send_all(qp_cli_chain_http_t *h, const send_args_t *a, const qp_sign_key_t *key,
                    const network_t *net, uint64_t first_nonce) {
  uint32_t n = a->count > 0 ? a->count : 1;
  char(*hashes)[HASH_HEX] = qp_calloc(n, sizeof *hashes);
  if (hashes == NULL) return SEND_NOT_DONE;
  uint64_t deadline = qp_clock_mono_ns() + (uint64_t)a->timeout_s * QP_NS_PER_S;
  int code = SEND_OK;
  uint32_t sent = 0;
  for (; sent < n && code == SEND_OK; sent++) {
    code = send_one(h, a, key, net, sent, first_nonce + sent, hashes[sent], deadline);
    if (code == SEND_OK && !a->wait && !a->dry_run) printf("%s\n", hashes[sent]);
    if (code == SEND_OK && a->wait && a->count == 0)
      fprintf(stderr, "submitted %s; waiting for its block\n", hashes[sent]);
  }
  if (code != SEND_OK) sent--;
  deadline = qp_clock_mono_ns() + (uint64_t)a->timeout_s * QP_NS_PER_S;
  for (uint32_t i = 0; a->wait && i < sent && code != SEND_NOT_DONE; i++) {
    int one = wait_receipt(h, hashes[i], deadline);
    if (one != SEND_OK) code = one;
  }
  qp_free(hashes);
  return code;
}

/* Loads the key, asks the node about its network and the nonce, sends. */
static int run(const send_args_t *a) {
  qp_sign_key_t *key = NULL;
  char detail[512];
  if (qp_chain_keyfile_read(a->key_path, &key, detail, sizeof detail) != 0) {
    say("%s\n", detail);
    return SEND_NOT_DONE;
  }
  uint8_t pub[QP_SIGN_PUBLIC_MAX];
  size_t pub_len = 0;
  char sender[2 * QP_SIGN_PUBLIC_MAX + 1];
  qp_sign_public(key, pub, &pub_len);
  qp_chain_hex(sender, pub, pub_len);
  qp_cli_chain_http_t h;
  network_t net;
  uint64_t nonce = a->nonce;
  int code = qp_cli_chain_http_init(&h, a->node) == 0 ? 0 : usage_error(h.error);
  if (code == 0) code = fetch_network(&h, &net);
  if (code == 0 && net.suite != qp_sign_key_suite(key)) {
    say("%s is a %s key but the network's suite is %s\n", a->key_path,
            qp_suite_name(qp_sign_key_suite(key)), qp_suite_name(net.suite));
    code = SEND_NOT_DONE;
  }
  if (code == 0 && a->code != NULL) {
    uint8_t address[QP_HASH_SIZE];
    char hex[HASH_HEX];
    code = qp_suite_hash(net.suite, address, a->code, a->code_len) == 0 ? 0 : SEND_NOT_DONE;
    qp_chain_hex(hex, address, QP_HASH_SIZE);
    if (code == 0) printf("%s\n", hex);
  }
  if (code == 0 && nonce == 0) code = fetch_nonce(&h, sender, &nonce);
  if (code == 0) code = send_all(&h, a, key, &net, nonce);
  qp_cli_chain_http_deinit(&h);
  qp_sign_key_free(key);
  return code;
}

int qp_cli_chain_send_run(const qp_cli_chain_send_t *a, const char *prog_name,
                          const char *usage) {
  prog = prog_name;
  usage_text = usage;
  if (a->count == 0 && check_args(a->args, strlen(a->args)) != 0) return SEND_NOT_DONE;
  if (qp_crypto_init() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    say("cannot initialise the crypto or HTTP library\n");
    return SEND_NOT_DONE;
  }
  int code = run(a);
  curl_global_cleanup();
  fflush(stdout);
  return code;
}

int qp_cmd_chain_send(int argc, char **argv) {
  send_args_t a = {.timeout_s = SEND_TIMEOUT_S};
  int code = parse(argc, argv, &a);
  if (code >= 0) return code;
  char *text = NULL; /* a contract call's args */
  if (a.contract != NULL && (code = contract_args(&a, &text)) != 0) return code;
  if (a.args == NULL) a.args = "{}";
  code = qp_cli_chain_send_run(&a, "quipu chain send", USAGE);
  qp_free(text);
  return code;
}
