/*
 * cmd_chain_query.c - `quipu chain query`: asks a node to run an app's
 * read-only method on its committed state (POST /v1/chain/query) and
 * prints the answer, {"height":…,"result":…}, as one JSON line.  Nothing is
 * signed: a query changes nothing and any node answers it.  Exit 0 on an
 * answer, 1 when the node refused (its error envelope on stderr) or could
 * not be reached, 2 on a usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "cli/chain_http.h"
#include "cli/cli.h"

#define QUERY_PROG "quipu chain query"
#define QUERY_TIMEOUT_MS 30000L

static const char USAGE[] =
    "usage: quipu chain query --node URL --app APP --method M [--args JSON]\n"
    "\n"
    "Runs APP's read-only method M with the JSON object --args (default {}) on the\n"
    "node's committed state; prints {\"height\":…,\"result\":…}.\n"
    "Example: quipu chain query --node http://127.0.0.1:7100 --app kv --method get \\\n"
    "           --args '{\"key\":\"k1\"}'\n"
    "Exit 0 with an answer, 1 when the node refused or could not be reached, 2 usage.\n"
    "A node that requires an API key reads it from $QUIPU_KEY (scope chain:read).\n";

typedef struct query_args {
  const char *node;   /* --node URL */
  const char *app;    /* --app */
  const char *method; /* --method */
  const char *args;   /* --args, JSON object text */
} query_args_t;

static int usage_error(const char *what) {
  fprintf(stderr, QUERY_PROG ": %s\n%s", what, USAGE);
  return 2;
}

/* Returns -1 to go on, else the exit code. */
static int parse(int argc, char **argv, query_args_t *a) {
  static const struct option opts[] = {
      {"node", required_argument, NULL, 'u'}, {"app", required_argument, NULL, 'a'},
      {"method", required_argument, NULL, 'm'}, {"args", required_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "u:a:m:j:h", opts, NULL)) != -1) {
    if (c == 'u') a->node = optarg;
    else if (c == 'a') a->app = optarg;
    else if (c == 'm') a->method = optarg;
    else if (c == 'j') a->args = optarg;
    else if (c == 'h') {
      fputs(USAGE, stdout);
      return 0;
    } else return usage_error("unknown option");
  }
  if (optind < argc) return usage_error("unexpected argument");
  if (a->node == NULL || a->app == NULL || a->method == NULL)
    return usage_error("--node, --app and --method are required");
  return -1;
}

/* The request body {"app","method","args"}, or NULL after saying why. */
static json_t *request_body(const query_args_t *a) {
  json_error_t jerr;
  json_t *args = json_loads(a->args, JSON_REJECT_DUPLICATES, &jerr);
  if (args == NULL) {
    fprintf(stderr, QUERY_PROG ": --args is not valid JSON: %s (line %d, column %d)\n",
            jerr.text, jerr.line, jerr.column);
    return NULL;
  }
  if (!json_is_object(args)) {
    fprintf(stderr, QUERY_PROG ": --args must be a JSON object, like {\"key\":\"k1\"}\n");
    json_decref(args);
    return NULL;
  }
  return json_pack("{s:s, s:s, s:o}", "app", a->app, "method", a->method, "args", args);
}

/* Posts the query; prints the answer (stdout) or the refusal (stderr). */
static int run(qp_cli_chain_http_t *h, json_t *body) {
  char text[65536];
  size_t len = json_dumpb(body, text, sizeof text, JSON_COMPACT);
  if (len == 0 || len >= sizeof text) {
    fprintf(stderr, QUERY_PROG ": the query is longer than %zu bytes\n", sizeof text - 1);
    return 2;
  }
  if (qp_cli_chain_http_request(h, "POST", "/v1/chain/query", text, len, QUERY_TIMEOUT_MS) != 0 ||
      h->status != 200) {
    qp_cli_chain_http_print_error(h, QUERY_PROG, "the node refused the query");
    return 1;
  }
  json_t *answer = qp_cli_chain_http_json(h);
  if (answer == NULL) {
    fprintf(stderr, QUERY_PROG ": the node's answer is not JSON: %.300s\n",
            h->response.data ? h->response.data : "");
    return 1;
  }
  json_dumpf(answer, stdout, JSON_COMPACT);
  fputc('\n', stdout);
  json_decref(answer);
  return 0;
}

int qp_cmd_chain_query(int argc, char **argv) {
  query_args_t a = {.args = "{}"};
  int code = parse(argc, argv, &a);
  if (code >= 0) return code;
  json_t *body = request_body(&a);
  if (body == NULL) return 2;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fprintf(stderr, QUERY_PROG ": cannot initialise libcurl\n");
    json_decref(body);
    return 1;
  }
  qp_cli_chain_http_t h;
  code = qp_cli_chain_http_init(&h, a.node) == 0 ? run(&h, body) : usage_error(h.error);
  qp_cli_chain_http_deinit(&h);
  curl_global_cleanup();
  json_decref(body);
  return code;
}
