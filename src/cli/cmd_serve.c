/*
 * cmd_serve.c - `quipu serve`: the node with only the ledger enabled and
 * its configuration taken from flags and the environment instead of a
 * node.json (docs/node.md).  It serves the ledger's HTTP/JSON API until
 * SIGTERM or SIGINT, then stops accepting, commits what is queued, closes
 * the ledger and exits 0.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/err.h"
#include "base/log.h"
#include "cli/cli.h"
#include "ledger/api.h"
#include "node/node.h"

static const char USAGE[] =
    "usage: quipu serve [--data DIR] [--listen HOST:PORT] [options]\n"
    "\n"
    "Serves the ledger in DIR (default $QUIPU_DATA or ./quipu-data) over HTTP/JSON\n"
    "on HOST:PORT (default $QUIPU_LISTEN or 127.0.0.1:7070; port 0 = any free port).\n"
    "SIGTERM/SIGINT stop it cleanly.  Requests need an API key: see `quipu keys`.\n"
    "HTTPS with --tls-cert and --tls-key; plaintext is refused on a non-loopback\n"
    "address unless --insecure-plaintext is given.\n"
    "\n"
    "  --data DIR               data directory\n"
    "  --listen HOST:PORT       address to listen on\n"
    "  --tls-cert FILE          PEM certificate (chain): serve HTTPS (needs --tls-key)\n"
    "  --tls-key FILE           PEM private key of that certificate (keep it mode 0600)\n"
    "  --insecure-plaintext     allow plain HTTP on a non-loopback address (a TLS proxy\n"
    "                           in front); loopback needs no flag\n"
    "  --log-level LEVEL        debug, info, warn, error, off (default info)\n"
    "  --insecure-no-auth       no API keys needed (loopback addresses only; demos)\n"
    "  --metrics-key-required   GET /metrics needs a valid API key (any scope)\n"
    "  --max-body-bytes N       largest request body (default 16777216)\n"
    "  --max-inflight-bytes N   all request bodies held at once before 503 (default 268435456)\n"
    "  --max-batch-events N     events per create request, 1..8190 (default 8190)\n"
    "  --max-connections N      open connections before 503 (default 256)\n"
    "  --timeout-s N            idle connection timeout, seconds (default 10)\n"
    "  --body-timeout-s N       time allowed for a whole request body (default 60)\n"
    "  --head-timeout-s N       time allowed for a whole request head (default 10)\n"
    "  --max-json-request-bytes N  JSON memory one request may use (default 50331648)\n"
    "  --max-json-bytes N       JSON memory all requests may use at once (default 268435456)\n"
    "  --max-connections-per-address N\n"
    "                           open connections from one client address (default 128)\n"
    "  --queue-max N            create requests waiting to commit before 429 (default 1024)\n"
    "  --shutdown-grace-ms N    wait for in-flight requests on stop (default 10000)\n"
    "  --evict-after N          stored transfers leave memory once N have accumulated\n"
    "                           (default 262144; small values exercise the cold path)\n";

enum {
  OPT_LOG_LEVEL = 256,
  OPT_INSECURE,
  OPT_METRICS_KEY,
  OPT_BODY,
  OPT_INFLIGHT,
  OPT_EVENTS,
  OPT_CONNECTIONS,
  OPT_TIMEOUT,
  OPT_BODY_TIMEOUT,
  OPT_HEAD_TIMEOUT,
  OPT_JSON_REQUEST,
  OPT_JSON_ALL,
  OPT_PER_ADDRESS,
  OPT_QUEUE,
  OPT_GRACE,
  OPT_EVICT,
  OPT_TLS_CERT,
  OPT_TLS_KEY,
  OPT_PLAINTEXT
};

/* Parses a decimal integer in [min, max] from a flag value. */
static int parse_number(const char *flag, const char *text, uint64_t min, uint64_t max,
                        uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max) {
    fprintf(stderr, "quipu serve: %s must be an integer from %llu to %llu, not '%s'\n", flag,
            (unsigned long long)min, (unsigned long long)max, text);
    return QP_EINVAL;
  }
  *out = v;
  return 0;
}

typedef struct serve_args {
  const char *data;             /* --data */
  qp_http_options_t api;        /* HTTP core options */
  qp_ledger_settings_t ledger;  /* the ledger module's settings */
  qp_log_level_t log_level;     /* --log-level */
} serve_args_t;

static int parse_numeric_flag(int c, const char *v, qp_http_options_t *o,
                              qp_ledger_settings_t *l) {
  uint64_t n = 0;
  int rc = 0;
  switch (c) {
    case OPT_BODY:
      rc = parse_number("--max-body-bytes", v, 64, 1ull << 32, &n);
      o->body_bytes_max = n;
      break;
    case OPT_INFLIGHT:
      rc = parse_number("--max-inflight-bytes", v, 4096, 1ull << 40, &n);
      o->inflight_bytes_max = n;
      break;
    case OPT_EVENTS:
      rc = parse_number("--max-batch-events", v, 1, QP_BATCH_EVENTS_MAX, &n);
      l->events_max = (uint32_t)n;
      break;
    case OPT_CONNECTIONS:
      rc = parse_number("--max-connections", v, 1, 65536, &n);
      o->connections_max = (uint32_t)n;
      break;
    case OPT_TIMEOUT:
      rc = parse_number("--timeout-s", v, 1, 3600, &n);
      o->timeout_s = (uint32_t)n;
      break;
    case OPT_BODY_TIMEOUT:
      rc = parse_number("--body-timeout-s", v, 1, 3600, &n);
      o->body_timeout_s = (uint32_t)n;
      break;
    case OPT_HEAD_TIMEOUT:
      rc = parse_number("--head-timeout-s", v, 1, 3600, &n);
      o->head_timeout_s = (uint32_t)n;
      break;
    case OPT_JSON_REQUEST:
      rc = parse_number("--max-json-request-bytes", v, 1ull << 20, 1ull << 34, &n);
      o->json_request_bytes_max = n;
      break;
    case OPT_JSON_ALL:
      rc = parse_number("--max-json-bytes", v, 1ull << 16, 1ull << 40, &n);
      o->json_bytes_max = n;
      break;
    case OPT_PER_ADDRESS:
      rc = parse_number("--max-connections-per-address", v, 1, 65536, &n);
      o->connections_per_address_max = (uint32_t)n;
      break;
    case OPT_QUEUE:
      rc = parse_number("--queue-max", v, 1, 1u << 20, &n);
      l->queue_max = (uint32_t)n;
      break;
    case OPT_GRACE:
      rc = parse_number("--shutdown-grace-ms", v, 0, 600000, &n);
      o->shutdown_grace_ms = (uint32_t)n;
      break;
    default: rc = QP_EINVAL;
  }
  return rc;
}

/* Returns -1 to go on, or the exit code. */
static int parse_args(int argc, char **argv, serve_args_t *a) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'},
      {"listen", required_argument, NULL, 'l'},
      {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
      {"insecure-no-auth", no_argument, NULL, OPT_INSECURE},
      {"metrics-key-required", no_argument, NULL, OPT_METRICS_KEY},
      {"max-body-bytes", required_argument, NULL, OPT_BODY},
      {"max-inflight-bytes", required_argument, NULL, OPT_INFLIGHT},
      {"max-batch-events", required_argument, NULL, OPT_EVENTS},
      {"max-connections", required_argument, NULL, OPT_CONNECTIONS},
      {"timeout-s", required_argument, NULL, OPT_TIMEOUT},
      {"body-timeout-s", required_argument, NULL, OPT_BODY_TIMEOUT},
      {"head-timeout-s", required_argument, NULL, OPT_HEAD_TIMEOUT},
      {"max-json-request-bytes", required_argument, NULL, OPT_JSON_REQUEST},
      {"max-json-bytes", required_argument, NULL, OPT_JSON_ALL},
      {"max-connections-per-address", required_argument, NULL, OPT_PER_ADDRESS},
      {"queue-max", required_argument, NULL, OPT_QUEUE},
      {"shutdown-grace-ms", required_argument, NULL, OPT_GRACE},
      {"evict-after", required_argument, NULL, OPT_EVICT},
      {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
      {"tls-key", required_argument, NULL, OPT_TLS_KEY},
      {"insecure-plaintext", no_argument, NULL, OPT_PLAINTEXT},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  memset(a, 0, sizeof *a);
  qp_http_options_default(&a->api);
  qp_ledger_settings_default(&a->ledger);
  a->log_level = QP_LOG_INFO;
  const char *env_listen = getenv("QUIPU_LISTEN");
  if (env_listen != NULL && env_listen[0] != '\0') a->api.listen = env_listen;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "d:l:h", opts, NULL)) != -1) {
    if (c == 'd')
      a->data = optarg;
    else if (c == 'l')
      a->api.listen = optarg;
    else if (c == OPT_INSECURE)
      a->api.insecure_no_auth = true;
    else if (c == OPT_METRICS_KEY)
      a->api.metrics_key_required = true;
    else if (c == OPT_TLS_CERT)
      a->api.tls_cert = optarg;
    else if (c == OPT_TLS_KEY)
      a->api.tls_key = optarg;
    else if (c == OPT_PLAINTEXT)
      a->api.insecure_plaintext = true;
    else if (c == OPT_LOG_LEVEL) {
      if (qp_log_level_parse(optarg, &a->log_level) != 0) {
        fprintf(stderr, "quipu serve: --log-level must be debug, info, warn, error or off\n");
        return 2;
      }
    } else if (c == OPT_EVICT) {
      if (parse_number("--evict-after", optarg, 1, 1ull << 32, &a->ledger.evict_after) != 0)
        return 2;
    } else if (c == 'h') {
      fputs(USAGE, stdout);
      return 0;
    } else if (c == '?' || parse_numeric_flag(c, optarg, &a->api, &a->ledger) != 0) {
      fputs(USAGE, stderr);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "quipu serve: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  return -1;
}

/* The ledger module's settings as the object node.json would hold. */
static json_t *ledger_settings(const qp_ledger_settings_t *l) {
  json_t *o = json_object();
  if (o == NULL) return NULL;
  json_object_set_new(o, "max_batch_events", json_integer(l->events_max));
  json_object_set_new(o, "queue_max", json_integer(l->queue_max));
  if (l->evict_after != 0)
    json_object_set_new(o, "evict_after", json_integer((json_int_t)l->evict_after));
  return o;
}

int qp_cmd_serve(int argc, char **argv) {
  serve_args_t a;
  int code = parse_args(argc, argv, &a);
  if (code >= 0) return code;
  qp_node_config_t config;
  qp_node_config_init(&config);
  const char *dir = qp_cli_data_dir(a.data);
  const char *cert = a.api.tls_cert ? a.api.tls_cert : "";
  const char *key = a.api.tls_key ? a.api.tls_key : "";
  if (strlen(dir) >= sizeof config.data_dir || strlen(a.api.listen) >= sizeof config.listen ||
      strlen(cert) >= sizeof config.tls_cert || strlen(key) >= sizeof config.tls_key) {
    fprintf(stderr, "quipu serve: the data directory, listen address or a TLS path is too long\n");
    return 2;
  }
  memcpy(config.data_dir, dir, strlen(dir) + 1);
  memcpy(config.listen, a.api.listen, strlen(a.api.listen) + 1);
  memcpy(config.tls_cert, cert, strlen(cert) + 1); /* qp_node_run points http.tls_* here */
  memcpy(config.tls_key, key, strlen(key) + 1);
  config.http = a.api;
  config.http.listen = config.listen;
  config.log_level = a.log_level;
  json_t *settings = ledger_settings(&a.ledger);
  const qp_module_t *ledger = qp_node_module_find("ledger");
  if (settings == NULL || ledger == NULL || qp_node_config_enable(&config, ledger, settings) != 0) {
    json_decref(settings);
    fprintf(stderr, "quipu serve: out of memory\n");
    return 1;
  }
  json_decref(settings);
  int rc = qp_node_run(&config);
  qp_node_config_deinit(&config);
  return rc;
}
