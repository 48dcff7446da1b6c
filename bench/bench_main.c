/*
 * bench_main.c - quipu-bench: the Double-11 benchmark of issue 4.  Runs the
 * same seeded workload (workload.h) through quipu in-process, quipu over
 * HTTP and PostgreSQL 15, checks that every system ends with the balances
 * the workload's model predicts (so all of them agree), and prints a table,
 * one `RESULT <name> <value> <unit>` line per figure and a JSON file.
 *
 * bench/run.sh starts PostgreSQL in a temp dir and calls this binary; see
 * docs/bench.md.  Exit status: 0 when every check held, 1 otherwise (a
 * figure missing a floor is reported, not a failure: floors are targets).
 */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "base/alloc.h"
#include "base/err.h"

static const char USAGE[] =
    "usage: quipu-bench --quipu PATH [--pg CONNINFO] [--pg-schema FILE] [--json FILE]\n"
    "                   [--tmp DIR] [--quick] [--seed N] [--accounts N] [--big-accounts N]\n"
    "                   [--big-transfers N] [--inproc-transfers N] [--http-transfers N]\n"
    "                   [--only inproc,inproc-zipf,http,pg,big]\n"
    "BENCH_QUICK=1 in the environment is the same as --quick.\n";

static void config_defaults(qb_config_t *c, bool quick) {
  memset(c, 0, sizeof *c);
  c->quick = quick;
  c->accounts = 100000;
  c->seed = 42;
  c->http_connections = 4;
  c->http1_connections = 32;
  c->pg_connections = 8;
  c->json_path = "bench/results/latest.json";
  c->pg_schema = "bench/pg_ledger.sql";
  c->tmp_dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  if (quick) {
    c->inproc_transfers = 1000000;
    c->http_transfers = 500000;
    c->http1_transfers = 20000;
    c->pg_tx_transfers = 16000;
    c->pg_batch_transfers = 3 * QP_BATCH_EVENTS_MAX;
    c->big_accounts = 0;
  } else {
    c->inproc_transfers = 4000000;
    c->http_transfers = 2000000;
    c->http1_transfers = 100000;
    c->pg_tx_transfers = 100000;
    c->pg_batch_transfers = 30 * QP_BATCH_EVENTS_MAX;
    c->big_accounts = 10000000;
    c->big_transfers = 20000000;
  }
}

static int parse_u64(const char *s, uint64_t *out) {
  qp_u128 v;
  if (qp_u128_parse(s, strlen(s), &v) != 0 || v > UINT64_MAX) return -1;
  *out = (uint64_t)v;
  return 0;
}

typedef struct phases {
  bool inproc, http, pg, big; /* which parts to run */
  bool inproc_zipf_only;      /* of inproc, only the zipf run (for profiling) */
} phases_t;

static int parse_args(int argc, char **argv, qb_config_t *c, phases_t *ph) {
  const char *env = getenv("BENCH_QUICK");
  bool quick = env != NULL && env[0] != '\0' && strcmp(env, "0") != 0;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--quick") == 0) quick = true;
  config_defaults(c, quick);
  *ph = (phases_t){true, true, true, true, false};
  static const struct option opts[] = {
      {"quipu", required_argument, NULL, 'q'},      {"pg", required_argument, NULL, 'p'},
      {"pg-schema", required_argument, NULL, 'S'},  {"json", required_argument, NULL, 'j'},
      {"tmp", required_argument, NULL, 't'},        {"quick", no_argument, NULL, 'Q'},
      {"seed", required_argument, NULL, 's'},       {"accounts", required_argument, NULL, 'a'},
      {"big-accounts", required_argument, NULL, 'A'},
      {"big-transfers", required_argument, NULL, 'T'},
      {"only", required_argument, NULL, 'o'},       {"help", no_argument, NULL, 'h'},
      {"inproc-transfers", required_argument, NULL, 'I'},
      {"http-transfers", required_argument, NULL, 'H'},
      {NULL, 0, NULL, 0}};
  int opt;
  while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    int bad = 0;
    switch (opt) {
    case 'q': c->quipu = optarg; break;
    case 'p': c->pg_conninfo = optarg[0] ? optarg : NULL; break;
    case 'S': c->pg_schema = optarg; break;
    case 'j': c->json_path = optarg; break;
    case 't': c->tmp_dir = optarg; break;
    case 'Q': break;
    case 's': bad = parse_u64(optarg, &c->seed); break;
    case 'a': bad = parse_u64(optarg, &c->accounts) || c->accounts < 200; break;
    case 'A': bad = parse_u64(optarg, &c->big_accounts); break;
    case 'T': bad = parse_u64(optarg, &c->big_transfers); break;
    case 'I': bad = parse_u64(optarg, &c->inproc_transfers) || c->inproc_transfers < 4; break;
    case 'H': bad = parse_u64(optarg, &c->http_transfers) || c->http_transfers == 0; break;
    case 'o':
      ph->inproc = strstr(optarg, "inproc") != NULL;
      ph->inproc_zipf_only = strstr(optarg, "inproc-zipf") != NULL;
      ph->http = strstr(optarg, "http") != NULL;
      ph->pg = strstr(optarg, "pg") != NULL;
      ph->big = strstr(optarg, "big") != NULL;
      break;
    case 'h': fputs(USAGE, stdout); return 0;
    default: bad = 1;
    }
    if (bad) {
      fputs(USAGE, stderr);
      return 2;
    }
  }
  if (c->quipu == NULL) {
    fputs(USAGE, stderr);
    return 2;
  }
  return -1;
}

/* ------------------------------------------------------------- output */

static void row(const qb_report_t *r, const char *label, const char *name, const char *floor) {
  double v = qb_report_get(r, name);
  if (v < 0) printf("| %-58s | %14s | %-11s | %-22s |\n", label, "not run", "", floor);
  else {
    const qb_figure_t *f = NULL;
    for (uint32_t i = 0; i < r->count; i++)
      if (strcmp(r->figures[i].name, name) == 0) f = &r->figures[i];
    printf("| %-58s | %14.*f | %-11s | %-22s |\n", label, f->decimals, v, f->unit, floor);
  }
}

static void ratio(qb_report_t *r, const char *name, const char *num, const char *den) {
  double a = qb_report_get(r, num), b = qb_report_get(r, den);
  if (a > 0 && b > 0) qb_report_add(r, name, a / b, "x", 1);
}

static void print_table(const qb_report_t *r) {
  printf("\n| %-58s | %14s | %-11s | %-22s |\n", "figure", "value", "unit", "floor (aim)");
  printf("|%s|%s|%s|%s|\n", "------------------------------------------------------------",
         "----------------", "-------------", "------------------------");
  row(r, "quipu in-process, batch 8190, 100k accounts, zipf", "inproc_zipf_transfers_per_s",
      ">= 500,000 (1,000,000)");
  row(r, "quipu in-process, batch 8190, 100k accounts, uniform", "inproc_uniform_transfers_per_s",
      "");
  row(r, "quipu in-process, 1-event batches x 8190 per commit",
      "inproc_batch1_grouped_transfers_per_s", "");
  row(r, "quipu in-process, batch 8190, commit p99", "inproc_zipf_commit_p99", "");
  row(r, "quipu HTTP, batch 8190", "http_batch8190_transfers_per_s", ">= 200,000 (500,000)");
  row(r, "quipu HTTP, batch 8190, request p99", "http_batch8190_request_p99", "");
  row(r, "quipu HTTP, batch of 1", "http_batch1_requests_per_s", ">= 5,000 (20,000)");
  row(r, "quipu HTTP, batch of 1, p50", "http_batch1_p50", "");
  row(r, "quipu HTTP, batch of 1, p99", "http_batch1_p99", "<= 10 ms");
  row(r, "PostgreSQL (a) one transfer per transaction, 8 conns", "pg_per_tx_transfers_per_s", "");
  row(r, "PostgreSQL (a) p99", "pg_per_tx_p99", "");
  row(r, "PostgreSQL (a) uniform mix (no hot accounts)", "pg_uniform_per_tx_transfers_per_s", "");
  row(r, "PostgreSQL (b) PL/pgSQL loop, 8190 per transaction", "pg_batched_transfers_per_s", "");
  row(r, "ratio in-process / PostgreSQL (a)", "ratio_inprocess_vs_pg_per_tx", ">= 50 (100)");
  row(r, "ratio in-process / PostgreSQL (b)", "ratio_inprocess_vs_pg_batched", ">= 20 (50)");
  row(r, "ratio in-process / PostgreSQL (a), both uniform", "ratio_inprocess_vs_pg_per_tx_uniform",
      "");
  row(r, "ratio HTTP batch 8190 / PostgreSQL (a)", "ratio_http_vs_pg_per_tx", "");
  row(r, "ratio HTTP batch of 1 / PostgreSQL (a)", "ratio_http_batch1_vs_pg_per_tx", "");
  row(r, "quipu in-process, batch 8190, 10M accounts, zipf", "inproc_10m_transfers_per_s", "");
  row(r, "quipu HTTP, 10M accounts, batch 8190", "big_http_transfers_per_s", "");
  row(r, "server RSS with 10M accounts (after creating them)", "big_rss_after_accounts",
      "<= 3072 MiB (2048)");
  row(r, "server RSS after 10M accounts, anonymous only", "big_rss_anon_after_accounts", "");
  row(r, "server peak RSS (VmHWM) during the transfer burst", "big_rss_peak",
      "transient, see docs");
  row(r, "  of which anonymous at the end (heap)", "big_rss_anon_end", "");
  row(r, "  of which file-backed at the end (LMDB map)", "big_rss_file_end", "");
  row(r, "restart to serving, 10M accounts + transfers", "big_restart_to_serving",
      "<= 5000 ms (1000)");
  row(r, "server peak RSS after restart (10M accounts)", "big_rss_after_restart",
      "<= 3072 MiB (2048)");
  row(r, "server RSS after restart, anonymous only", "big_rss_anon_after_restart", "");
  printf("\nchecks: %s\n",
         r->failed ? "FAILED (see above)" : "every system's balances equal the model");
}

static void write_json(const qb_report_t *r, const qb_config_t *c) {
  FILE *f = fopen(c->json_path, "w");
  if (f == NULL) {
    fprintf(stderr, "bench: cannot write %s\n", c->json_path);
    return;
  }
  time_t now = time(NULL);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  fprintf(f,
          "{\n  \"when\": \"%s\",\n  \"mode\": \"%s\",\n  \"seed\": %llu,\n  \"accounts\": %llu,\n",
          when, c->quick ? "quick" : "full", (unsigned long long)c->seed,
          (unsigned long long)c->accounts);
  fprintf(f, "  \"checks_passed\": %s,\n  \"results\": {\n", r->failed ? "false" : "true");
  for (uint32_t i = 0; i < r->count; i++)
    fprintf(f, "    \"%s\": {\"value\": %.*f, \"unit\": \"%s\"}%s\n", r->figures[i].name,
            r->figures[i].decimals, r->figures[i].value, r->figures[i].unit,
            i + 1 < r->count ? "," : "");
  fprintf(f, "  }\n}\n");
  fclose(f);
  printf("results written to %s\n", c->json_path);
}

static int run_all(const qb_config_t *c, const phases_t *ph, qb_report_t *r) {
  int rc = 0;
  if (ph->inproc) {
    rc = qb_run_inprocess(c, r, "inproc_zipf", QB_MIX_ZIPF, c->accounts, c->inproc_transfers,
                          QP_BATCH_EVENTS_MAX);
    if (rc == 0 && !ph->inproc_zipf_only)
      rc = qb_run_inprocess(c, r, "inproc_uniform", QB_MIX_UNIFORM, c->accounts,
                            c->inproc_transfers, QP_BATCH_EVENTS_MAX);
    if (rc == 0 && !ph->inproc_zipf_only)
      rc = qb_run_inprocess(c, r, "inproc_batch1_grouped", QB_MIX_ZIPF, c->accounts,
                            c->inproc_transfers / 4, 1);
  }
  if (rc == 0 && ph->http) rc = qb_run_http(c, r);
  if (rc == 0 && ph->pg && c->pg_conninfo != NULL) {
    rc = qb_run_pg(c, r, QB_MIX_ZIPF, true);
    if (rc == 0) rc = qb_run_pg(c, r, QB_MIX_UNIFORM, false);
  }
  if (rc == 0 && ph->big && c->big_accounts > 0) {
    rc = qb_run_inprocess(c, r, "inproc_10m", QB_MIX_ZIPF, c->big_accounts, c->inproc_transfers,
                          QP_BATCH_EVENTS_MAX);
    if (rc == 0) rc = qb_run_big(c, r);
  }
  return rc;
}

int main(int argc, char **argv) {
  qb_config_t c;
  phases_t ph;
  int code = parse_args(argc, argv, &c, &ph);
  if (code >= 0) return code;
  qp_alloc_tune_process(); /* the in-process runs use the heap as the node sets it */
  curl_global_init(CURL_GLOBAL_DEFAULT);
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("quipu-bench (%s mode): seed %llu, %llu accounts; postgres %s\n",
         c.quick ? "quick" : "full", (unsigned long long)c.seed, (unsigned long long)c.accounts,
         c.pg_conninfo ? c.pg_conninfo : "not run (no --pg)");
  static qb_report_t r;
  int rc = run_all(&c, &ph, &r);
  ratio(&r, "ratio_inprocess_vs_pg_per_tx", "inproc_zipf_transfers_per_s",
        "pg_per_tx_transfers_per_s");
  ratio(&r, "ratio_inprocess_vs_pg_batched", "inproc_zipf_transfers_per_s",
        "pg_batched_transfers_per_s");
  ratio(&r, "ratio_inprocess_vs_pg_per_tx_uniform", "inproc_uniform_transfers_per_s",
        "pg_uniform_per_tx_transfers_per_s");
  ratio(&r, "ratio_http_vs_pg_per_tx", "http_batch8190_transfers_per_s",
        "pg_per_tx_transfers_per_s");
  ratio(&r, "ratio_http_batch1_vs_pg_per_tx", "http_batch1_requests_per_s",
        "pg_per_tx_transfers_per_s");
  if (rc != 0) {
    r.failed = true;
    fprintf(stderr, "quipu-bench: stopped: %s\n", qp_strerror(rc));
  }
  print_table(&r);
  write_json(&r, &c);
  curl_global_cleanup();
  return r.failed ? 1 : 0;
}
