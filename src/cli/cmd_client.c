/*
 * cmd_client.c - `quipu client`: a thin command-line client of a running
 * server.  It sends the request with libcurl, prints the JSON answer
 * (indented) on stdout, and turns the outcome into an exit code a script
 * can use: 0 when everything succeeded, 1 when the server refused the
 * request, could not be reached, or any event of a batch did not get "ok"
 * (or the audit found the invariant broken), 2 on a usage error.
 *
 * Input for `accounts|transfers create` is first run through the server's
 * own strict decoder (qp_ledger_check_batch), so a malformed file is refused
 * locally with the same error envelope - which field, what is wrong - and
 * nothing is sent; the server still decides everything else.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ledger/api.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "cli/cli.h"
#include "cli/client_binary.h"
#include "cli/client_load.h"

#define CLIENT_URL_DEFAULT "http://127.0.0.1:7070"
#define CLIENT_BODY_BYTES_MAX (64u * 1024u * 1024u)      /* request read from a file/stdin */
#define CLIENT_RESPONSE_BYTES_MAX (256u * 1024u * 1024u) /* answer kept in memory */
#define CLIENT_TIMEOUT_S 120L

static const char USAGE[] =
    "usage: quipu client [--url URL] [--cacert FILE] COMMAND\n"
    "\n"
    "  accounts create [FILE]    POST /v1/accounts with the JSON array in FILE (or stdin)\n"
    "  transfers create [FILE]   POST /v1/transfers, likewise\n"
    "  account ID                GET /v1/accounts/ID\n"
    "  transfer ID               GET /v1/transfers/ID\n"
    "  history ID [--limit N] [--from TS] [--to TS] [--reversed]\n"
    "                            GET /v1/accounts/ID/transfers\n"
    "  balances ID [same options] GET /v1/accounts/ID/balances\n"
    "  audit                     GET /v1/audit\n"
    "  load [--batch N] [--connections N] [--duration S] [--accounts N] [--rate R]\n"
    "                            load generator: transfer batches of N (default 8190) from\n"
    "                            N connections (default 2) for S seconds (default 10);\n"
    "                            --rate R offers R requests/s in all (open loop: latency\n"
    "                            counts from each request's scheduled time)\n"
    "  --binary HOST:PORT load [same options]\n"
    "                            the same load over the ledger's binary protocol\n"
    "  --binary HOST:PORT smoke  two accounts, a transfer and lookups over it (docs/binary.md)\n"
    "\n"
    "The URL defaults to $QUIPU_URL (else " CLIENT_URL_DEFAULT "); https:// works.\n"
    "The API key is read from $QUIPU_KEY (export QUIPU_KEY=qpk_...): --key KEY also\n"
    "works but puts the key where `ps` shows it to every user of the machine.\n"
    "--cacert FILE (or $QUIPU_CACERT) trusts a private CA or self-signed certificate\n"
    "(PEM) for https; otherwise the system's CAs are used.\n"
    "Exit 0 when all went well; 1 when the server refused the request, could not be\n"
    "reached, or any event's result was not \"ok\"; 2 on a usage error.\n";

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
  return qp_buf_append(userdata, ptr, size * nmemb) ? size * nmemb : 0;
}

/* Reads FILE ("-" or NULL = stdin) whole. */
static int read_input(const char *path, qp_buf_t *out) {
  FILE *f = (path == NULL || strcmp(path, "-") == 0) ? stdin : fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    return 1;
  }
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    if (!qp_buf_append(out, chunk, n)) break;
  bool err = ferror(f) != 0;
  if (f != stdin) fclose(f);
  if (err || out->failed) {
    fprintf(stderr, "quipu client: cannot read %s (or it exceeds %u bytes)\n",
            path ? path : "stdin", CLIENT_BODY_BYTES_MAX);
    return 1;
  }
  return 0;
}

typedef struct client {
  const char *url;    /* base URL, no trailing slash needed */
  const char *key;    /* API key or NULL */
  const char *cacert; /* PEM file of CAs to trust for https, or NULL (the system's) */
  long status;       /* HTTP status of the last answer */
  qp_buf_t response; /* its body */
} client_t;

/* Sends one request; returns 0 when an HTTP answer (of any status) came. */
static int http(client_t *c, const char *method, const char *path, const qp_buf_t *body) {
  CURL *curl = curl_easy_init();
  if (curl == NULL) return 1;
  char url[2048], auth[256];
  snprintf(url, sizeof url, "%s%s", c->url, path);
  struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
  if (body != NULL) headers = curl_slist_append(headers, "Content-Type: application/json");
  if (c->key != NULL) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->key);
    headers = curl_slist_append(headers, auth);
  }
  c->response = (qp_buf_t){.max = CLIENT_RESPONSE_BYTES_MAX};
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &c->response);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, CLIENT_TIMEOUT_S);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  /* A cluster's follower answers 307 with the leader's URL (docs/cluster.md):
   * follow it with the same method, body and key (the replicas share keys). */
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 3L);
  curl_easy_setopt(curl, CURLOPT_UNRESTRICTED_AUTH, 1L);
  if (c->cacert != NULL) curl_easy_setopt(curl, CURLOPT_CAINFO, c->cacert);
  if (body != NULL) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data ? body->data : "");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
  }
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK)
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &c->status);
  else
    fprintf(stderr, "quipu client: %s %s: %s\n", method, url, curl_easy_strerror(rc));
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return rc == CURLE_OK ? 0 : 1;
}

/* Prints the answer; returns the exit code it deserves. */
static int report(client_t *c, bool check_results, bool check_audit) {
  const char *text = c->response.data ? c->response.data : "";
  json_error_t jerr;
  json_t *root = json_loads(text, 0, &jerr);
  FILE *out = (c->status == 200) ? stdout : stderr;
  if (root != NULL) {
    json_dumpf(root, out, JSON_INDENT(2));
    fputc('\n', out);
  } else {
    fprintf(out, "%s\n", text);
  }
  int code = c->status == 200 ? 0 : 1;
  if (code == 0 && root != NULL && check_results) {
    size_t i, failed = 0;
    json_t *row;
    json_array_foreach(json_object_get(root, "results"), i, row) {
      const char *r = json_string_value(json_object_get(row, "result"));
      if (r == NULL || strcmp(r, "ok") != 0) failed++;
    }
    if (failed > 0) {
      fprintf(stderr, "quipu client: %zu event%s not ok\n", failed, failed == 1 ? "" : "s");
      code = 1;
    }
  }
  if (code == 0 && root != NULL && check_audit &&
      !json_is_true(json_object_get(root, "invariant_ok"))) {
    fprintf(stderr, "quipu client: the audit reports the invariant BROKEN\n");
    code = 1;
  }
  if (c->status != 200) fprintf(stderr, "quipu client: HTTP %ld\n", c->status);
  json_decref(root);
  return code;
}

typedef struct client_args {
  const char *url;            /* --url */
  const char *binary;         /* --binary host:port */
  const char *key;            /* --key */
  const char *cacert;         /* --cacert */
  const char *limit;          /* --limit */
  const char *from;           /* --from */
  const char *to;             /* --to */
  bool reversed;              /* --reversed */
  qp_cli_load_options_t load; /* load's options */
  const char *positional[4];  /* the command and its arguments */
  int positional_count;       /* how many */
} client_args_t;

/* A load option's value (a positive decimal below 2^32). */
static int parse_u32(int opt, const char *text, qp_cli_load_options_t *o) {
  char *end = NULL;
  unsigned long long v = strtoull(text, &end, 10);
  if (end == text || *end != '\0' || text[0] == '-' || v == 0 || v > UINT32_MAX) {
    fprintf(stderr, "quipu client: '%s' is not a positive integer\n", text);
    return 2;
  }
  if (opt == 'A' && v < 2) { /* a transfer needs two distinct accounts */
    fprintf(stderr, "quipu client: --accounts must be at least 2\n");
    return 2;
  }
  if (opt == 'B')
    o->batch = (uint32_t)v;
  else if (opt == 'C')
    o->connections = (uint32_t)v;
  else if (opt == 'D')
    o->duration_s = (uint32_t)v;
  else if (opt == 'R')
    o->rate = (uint32_t)v;
  else
    o->accounts = (uint32_t)v;
  return 0;
}

static int parse(int argc, char **argv, client_args_t *a) {
  static const struct option opts[] = {
      {"url", required_argument, NULL, 'u'},      {"key", required_argument, NULL, 'k'},
      {"limit", required_argument, NULL, 'n'},    {"from", required_argument, NULL, 'f'},
      {"to", required_argument, NULL, 't'},       {"reversed", no_argument, NULL, 'r'},
      {"batch", required_argument, NULL, 'B'},    {"connections", required_argument, NULL, 'C'},
      {"duration", required_argument, NULL, 'D'}, {"accounts", required_argument, NULL, 'A'},
      {"cacert", required_argument, NULL, 'c'},   {"help", no_argument, NULL, 'h'},
      {"binary", required_argument, NULL, 'Y'},   {"rate", required_argument, NULL, 'R'},
      {NULL, 0, NULL, 0}};
  memset(a, 0, sizeof *a);
  a->load =
      (qp_cli_load_options_t){.batch = 8190, .connections = 2, .duration_s = 10, .accounts = 1000};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "u:k:c:n:f:t:rhB:C:D:A:R:", opts, NULL)) != -1) {
    switch (c) {
      case 'u': a->url = optarg; break;
      case 'Y': a->binary = optarg; break;
      case 'k': a->key = optarg; break;
      case 'c': a->cacert = optarg; break;
      case 'n': a->limit = optarg; break;
      case 'f': a->from = optarg; break;
      case 't': a->to = optarg; break;
      case 'r': a->reversed = true; break;
      case 'B':
      case 'C':
      case 'D':
      case 'A':
      case 'R':
        if (parse_u32(c, optarg, &a->load) != 0) return 2;
        break;
      case 'h': fputs(USAGE, stdout); return 0;
      default: fputs(USAGE, stderr); return 2;
    }
  }
  for (; optind < argc; optind++) {
    if (a->positional_count == 4) {
      fputs(USAGE, stderr);
      return 2;
    }
    a->positional[a->positional_count++] = argv[optind];
  }
  if (a->positional_count == 0) {
    fputs(USAGE, stderr);
    return 2;
  }
  if (a->url == NULL) a->url = getenv("QUIPU_URL");
  if (a->url == NULL || a->url[0] == '\0') a->url = CLIENT_URL_DEFAULT;
  if (a->key == NULL) a->key = getenv("QUIPU_KEY");
  if (a->key != NULL && a->key[0] == '\0') a->key = NULL;
  if (a->cacert == NULL) a->cacert = getenv("QUIPU_CACERT");
  if (a->cacert != NULL && a->cacert[0] == '\0') a->cacert = NULL;
  return -1;
}

/* An id for a path: decimal digits only, so nothing can be smuggled into
 * the URL. */
static bool is_decimal(const char *s) {
  if (s == NULL || *s == '\0' || strlen(s) > 39) return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

static int run_history(client_t *c, const client_args_t *a, const char *what) {
  const char *id = a->positional[1];
  if (!is_decimal(id) || (a->limit && !is_decimal(a->limit)) || (a->from && !is_decimal(a->from)) ||
      (a->to && !is_decimal(a->to))) {
    fprintf(stderr, "quipu client: ids, --limit, --from and --to are decimal integers\n");
    return 2;
  }
  char path[512];
  int n = snprintf(path, sizeof path, "/v1/accounts/%s/%s?reversed=%s", id, what,
                   a->reversed ? "true" : "false");
  if (a->limit) n += snprintf(path + n, sizeof path - (size_t)n, "&limit=%s", a->limit);
  if (a->from) n += snprintf(path + n, sizeof path - (size_t)n, "&from=%s", a->from);
  if (a->to) snprintf(path + n, sizeof path - (size_t)n, "&to=%s", a->to);
  if (http(c, "GET", path, NULL) != 0) return 1;
  return report(c, false, false);
}

static int run_create(client_t *c, const client_args_t *a, const char *what) {
  if (a->positional_count > 3 || strcmp(a->positional[1], "create") != 0) {
    fputs(USAGE, stderr);
    return 2;
  }
  qp_buf_t body = {.max = CLIENT_BODY_BYTES_MAX};
  int code = read_input(a->positional_count == 3 ? a->positional[2] : NULL, &body);
  qp_http_error_t err;
  if (code == 0 && qp_ledger_check_batch(what, body.data ? body.data : "", body.len, &err) != 0) {
    json_t *env = qp_http_error_json(&err);
    if (env != NULL) json_dumpf(env, stderr, JSON_INDENT(2));
    fprintf(stderr, "\nquipu client: input refused, nothing was sent\n");
    json_decref(env);
    code = 1;
  }
  char path[64];
  snprintf(path, sizeof path, "/v1/%s", what);
  if (code == 0) code = http(c, "POST", path, &body) != 0 ? 1 : report(c, true, false);
  qp_free(body.data);
  return code;
}

static int run_get(client_t *c, const char *kind, const char *id) {
  if (!is_decimal(id)) {
    fprintf(stderr, "quipu client: '%s' is not a decimal id\n", id ? id : "");
    return 2;
  }
  char path[128];
  snprintf(path, sizeof path, "/v1/%s/%s", kind, id);
  if (http(c, "GET", path, NULL) != 0) return 1;
  return report(c, false, false);
}

static int dispatch(client_t *c, const client_args_t *a) {
  const char *cmd = a->positional[0];
  int n = a->positional_count;
  if ((strcmp(cmd, "accounts") == 0 || strcmp(cmd, "transfers") == 0) && n >= 2)
    return run_create(c, a, cmd);
  if (strcmp(cmd, "account") == 0 && n == 2) return run_get(c, "accounts", a->positional[1]);
  if (strcmp(cmd, "transfer") == 0 && n == 2) return run_get(c, "transfers", a->positional[1]);
  if (strcmp(cmd, "history") == 0 && n == 2) return run_history(c, a, "transfers");
  if (strcmp(cmd, "balances") == 0 && n == 2) return run_history(c, a, "balances");
  if (a->binary != NULL && strcmp(cmd, "smoke") == 0 && n == 1)
    return qp_cli_bin_smoke(a->binary, c->key);
  if (a->binary != NULL && strcmp(cmd, "load") != 0) {
    fprintf(stderr, "quipu client: --binary works with `load` and `smoke` only\n");
    return 2;
  }
  if (strcmp(cmd, "load") == 0 && n == 1) {
    qp_cli_load_options_t o = a->load;
    o.binary = a->binary;
    o.url = c->url;
    o.key = c->key;
    o.cacert = c->cacert;
    return qp_cli_client_load(&o);
  }
  if (strcmp(cmd, "audit") == 0 && n == 1) {
    if (http(c, "GET", "/v1/audit", NULL) != 0) return 1;
    return report(c, false, true);
  }
  fputs(USAGE, stderr);
  return 2;
}

int qp_cmd_client(int argc, char **argv) {
  client_args_t a;
  int code = parse(argc, argv, &a);
  if (code >= 0) return code;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fprintf(stderr, "quipu client: cannot initialise libcurl\n");
    return 1;
  }
  size_t url_len = strlen(a.url);
  char url[1024];
  snprintf(url, sizeof url, "%.*s",
           (int)(url_len > 0 && a.url[url_len - 1] == '/' ? url_len - 1 : url_len), a.url);
  client_t c = {.url = url, .key = a.key, .cacert = a.cacert};
  code = dispatch(&c, &a);
  qp_free(c.response.data);
  curl_global_cleanup();
  return code;
}
