/*
 * cmd_serve.c - `quipu serve`: opens the durable ledger under the data
 * directory and serves the HTTP/JSON API until SIGTERM or SIGINT, then
 * stops accepting, commits what is queued, closes the ledger and exits 0.
 *
 * Signals are blocked in every thread (the mask is set before any thread
 * starts, and threads inherit it) and taken synchronously with sigwait() in
 * the main thread, so shutdown runs as ordinary code, not in a handler.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "base/err.h"
#include "base/log.h"
#include "cli/cli.h"
#include "ledger/db.h"

static const char USAGE[] =
    "usage: quipu serve [--data DIR] [--listen HOST:PORT] [options]\n"
    "\n"
    "Serves the ledger in DIR (default $QUIPU_DATA or ./quipu-data) over HTTP/JSON\n"
    "on HOST:PORT (default $QUIPU_LISTEN or 127.0.0.1:7070; port 0 = any free port).\n"
    "SIGTERM/SIGINT stop it cleanly.  Requests need an API key: see `quipu keys`.\n"
    "\n"
    "  --data DIR               data directory\n"
    "  --listen HOST:PORT       address to listen on\n"
    "  --log-level LEVEL        debug, info, warn, error, off (default info)\n"
    "  --insecure-no-auth       no API keys needed (loopback addresses only; demos)\n"
    "  --max-body-bytes N       largest request body (default 16777216)\n"
    "  --max-inflight-bytes N   all request bodies held at once before 503 (default 268435456)\n"
    "  --max-batch-events N     events per create request, 1..8190 (default 8190)\n"
    "  --max-connections N      open connections before 503 (default 256)\n"
    "  --timeout-s N            idle connection timeout, seconds (default 10)\n"
    "  --body-timeout-s N       time allowed for a whole request body (default 60)\n"
    "  --queue-max N            create requests waiting to commit before 429 (default 1024)\n"
    "  --shutdown-grace-ms N    wait for in-flight requests on stop (default 10000)\n"
    "  --evict-after N          stored transfers leave memory once N have accumulated\n"
    "                           (default 262144; small values exercise the cold path)\n";

enum {
  OPT_LOG_LEVEL = 256,
  OPT_INSECURE,
  OPT_BODY,
  OPT_INFLIGHT,
  OPT_EVENTS,
  OPT_CONNECTIONS,
  OPT_TIMEOUT,
  OPT_BODY_TIMEOUT,
  OPT_QUEUE,
  OPT_GRACE,
  OPT_EVICT
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
  const char *data;         /* --data */
  qp_api_options_t api;     /* server options */
  qp_log_level_t log_level; /* --log-level */
  uint64_t evict_after;     /* --evict-after (0 = the ledger's default) */
} serve_args_t;

static int parse_numeric_flag(int c, const char *v, qp_api_options_t *o) {
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
      o->events_max = (uint32_t)n;
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
    case OPT_QUEUE:
      rc = parse_number("--queue-max", v, 1, 1u << 20, &n);
      o->queue_max = (uint32_t)n;
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
      {"max-body-bytes", required_argument, NULL, OPT_BODY},
      {"max-inflight-bytes", required_argument, NULL, OPT_INFLIGHT},
      {"max-batch-events", required_argument, NULL, OPT_EVENTS},
      {"max-connections", required_argument, NULL, OPT_CONNECTIONS},
      {"timeout-s", required_argument, NULL, OPT_TIMEOUT},
      {"body-timeout-s", required_argument, NULL, OPT_BODY_TIMEOUT},
      {"queue-max", required_argument, NULL, OPT_QUEUE},
      {"shutdown-grace-ms", required_argument, NULL, OPT_GRACE},
      {"evict-after", required_argument, NULL, OPT_EVICT},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  memset(a, 0, sizeof *a);
  qp_api_options_default(&a->api);
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
    else if (c == OPT_LOG_LEVEL) {
      if (qp_log_level_parse(optarg, &a->log_level) != 0) {
        fprintf(stderr, "quipu serve: --log-level must be debug, info, warn, error or off\n");
        return 2;
      }
    } else if (c == OPT_EVICT) {
      if (parse_number("--evict-after", optarg, 1, 1ull << 32, &a->evict_after) != 0) return 2;
    } else if (c == 'h') {
      fputs(USAGE, stdout);
      return 0;
    } else if (c == '?' || parse_numeric_flag(c, optarg, &a->api) != 0) {
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

static int open_db(const char *dir, uint64_t evict_after, qp_db_t **db) {
  qp_db_options_t opts;
  memset(&opts, 0, sizeof opts);
  opts.evict_min_rows = evict_after;
  qp_db_recovery_t rec;
  memset(&rec, 0, sizeof rec);
  char detail[512] = "";
  int rc = qp_db_open(dir, &opts, db, &rec, detail, sizeof detail);
  if (rc == QP_ELOCKED) {
    fprintf(stderr, "quipu serve: %s\n", detail[0] ? detail : qp_strerror(rc));
    return rc;
  }
  if (rc != 0) {
    QP_LOG_ERROR("serve", "cannot open the ledger in %s: %s%s%s", dir, qp_strerror(rc),
                 detail[0] ? ": " : "", detail);
    return rc;
  }
  if (rec.torn_bytes > 0)
    QP_LOG_WARN("serve",
                "recovered from a crash: truncated a torn tail of %llu bytes at offset %llu",
                (unsigned long long)rec.torn_bytes, (unsigned long long)rec.torn_offset);
  QP_LOG_INFO("serve",
              "ledger open: %s (%llu batches, %llu journal bytes, %llu replayed into the index)",
              dir, (unsigned long long)rec.batches, (unsigned long long)rec.journal_bytes,
              (unsigned long long)rec.replayed_batches);
  return 0;
}

int qp_cmd_serve(int argc, char **argv) {
  serve_args_t a;
  int code = parse_args(argc, argv, &a);
  if (code >= 0) return code;
  qp_log_set_level(a.log_level);
  const char *dir = qp_cli_data_dir(a.data);

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  signal(SIGPIPE, SIG_IGN);
#ifdef __GLIBC__
  /* glibc gives each thread that allocates its own 64 MiB heap arena; the
   * HTTP threads' request and reply buffers then sit in many half-used
   * arenas.  Two arenas keep the server's memory close to what it uses. */
  mallopt(M_ARENA_MAX, 2);
#endif

  qp_db_t *db = NULL;
  if (open_db(dir, a.evict_after, &db) != 0) return 1;
  qp_api_server_t *server = NULL;
  char detail[512] = "";
  int rc = qp_api_server_start(db, dir, &a.api, &server, detail, sizeof detail);
  if (rc != 0) {
    QP_LOG_ERROR("serve", "cannot start the server: %s", detail[0] ? detail : qp_strerror(rc));
    qp_db_close(db);
    return 1;
  }
  const char *colon = strrchr(a.api.listen, ':');
  QP_LOG_INFO("serve", "listening on http://%.*s:%u (data %s)", (int)(colon - a.api.listen),
              a.api.listen, qp_api_server_port(server), dir);

  int sig = 0;
  while (sigwait(&stop_signals, &sig) != 0) {
  }
  QP_LOG_INFO("serve", "%s received: draining (no new requests; committing what is queued)",
              sig == SIGINT ? "SIGINT" : "SIGTERM");
  qp_api_server_stop(server);
  qp_db_close(db);
  QP_LOG_INFO("serve", "stopped cleanly");
  return 0;
}
