/*
 * bench.h - what the parts of quipu-bench share: the figures it reports,
 * the clock, and the three drivers (quipu in-process, quipu over HTTP,
 * PostgreSQL) that each run the same workload (workload.h) and hand back
 * their final balances for checking against the workload's model.
 *
 * Floating point appears only here, in the reporting of rates and ratios;
 * the workload, the model and every amount are integers.
 */
#ifndef QB_BENCH_H
#define QB_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/db.h"
#include "workload.h"

#define QB_RESULTS_MAX 128u /* figures one run reports */

/* One reported figure: becomes `RESULT <name> <value> <unit>` and a JSON
 * member of bench/results/latest.json. */
typedef struct qb_figure {
  char name[64];    /* snake_case */
  double value;     /* the figure */
  char unit[24];    /* "transfers/s", "ms", "x", "MiB", ... */
  int decimals;     /* digits after the point when printed */
} qb_figure_t;

/* Every figure of the run, in the order measured. */
typedef struct qb_report {
  qb_figure_t figures[QB_RESULTS_MAX]; /* figures[0, count) */
  uint32_t count;                      /* used */
  bool failed;                         /* a check failed: the run fails */
} qb_report_t;

/* Adds (or, if `name` is there already, replaces) a figure and prints its
 * RESULT line at once, so a partial run still leaves its figures behind. */
void qb_report_add(qb_report_t *r, const char *name, double value, const char *unit, int decimals);
/* The figure's value, or -1 when absent. */
double qb_report_get(const qb_report_t *r, const char *name);


/* p-th percentile (0..100) of n sorted values. */
uint64_t qb_percentile(const uint64_t *sorted, uint64_t n, uint32_t p);
/* Sorts n u64 values ascending. */
void qb_sort_u64(uint64_t *v, uint64_t n);

/* utime + stime of a /proc/<pid>[/task/<tid>]/stat file, in seconds; -1
 * when unreadable. */
double qb_proc_stat_cpu_s(const char *path);

/* Which system's final state is being checked. */
typedef struct qb_checker {
  const qb_workload_t *workload; /* the model to compare with */
  uint64_t checked;              /* accounts compared */
  uint64_t mismatches;           /* accounts that differed */
  char first[256];               /* the first difference, for humans */
} qb_checker_t;

/* Compares one account as a system reports it with the model. */
void qb_check_account(qb_checker_t *c, const char *system, const qp_account_t *got);

/* Counts of actual results, compared with the model's counts. */
typedef struct qb_result_counts {
  uint64_t ok;           /* ok */
  uint64_t exists;       /* exists */
  uint64_t failed;       /* anything else */
  uint64_t unexpected;   /* results that differ from the expected one */
} qb_result_counts_t;

/* Tallies one result against its expectation. */
void qb_count_result(qb_result_counts_t *c, uint32_t got, uint32_t expect);

/* The run's configuration, from flags and BENCH_QUICK. */
typedef struct qb_config {
  bool quick;                 /* BENCH_QUICK=1: small sizes, < 2 minutes */
  uint64_t accounts;          /* N for the comparison runs */
  uint64_t seed;              /* workload seed */
  uint64_t inproc_transfers;  /* events of the in-process runs */
  uint64_t http_transfers;    /* events of the HTTP batch-8190 run */
  uint64_t http1_transfers;   /* events of the HTTP batch-of-1 run */
  uint32_t http_connections;  /* concurrent connections, batches of 8190 */
  uint32_t http1_connections; /* concurrent connections, batches of 1 */
  uint64_t pg_tx_transfers;   /* events of PostgreSQL (a) */
  uint64_t pg_batch_transfers;/* events of PostgreSQL (b) */
  uint32_t pg_connections;    /* connections of PostgreSQL (a) */
  uint64_t big_accounts;      /* accounts of the RSS/restart run (0 = skip) */
  uint64_t big_transfers;     /* transfers of the RSS/restart run */
  const char *quipu;          /* path of the quipu binary */
  const char *pg_conninfo;    /* libpq connection string (NULL = skip PostgreSQL) */
  const char *pg_schema;      /* bench/pg_ledger.sql */
  const char *json_path;      /* where to write the JSON results */
  const char *tmp_dir;        /* where data directories go */
} qb_config_t;

/* ------------------------------------------------------------ drivers */

/* quipu in-process: opens a durable db in a fresh directory under tmp_dir,
 * creates the accounts and setup transfers, then times `transfers` stream
 * events in batches of `batch` (one qp_db_create_transfers per batch), checks
 * every result and every balance, and reports figures prefixed `prefix`. */
int qb_run_inprocess(const qb_config_t *cfg, qb_report_t *rep, const char *prefix,
                     qb_mix_t mix, uint64_t accounts, uint64_t transfers, uint32_t batch);

/* quipu over HTTP: starts `quipu serve` in a fresh directory, runs the
 * batch-8190 and the batch-of-1 phases, checks results and balances (over
 * HTTP lookups), and reports figures. */
int qb_run_http(const qb_config_t *cfg, qb_report_t *rep);

/* The 10M-account run: fills a server with big_accounts accounts and
 * big_transfers transfers over HTTP, reports its peak RSS, restarts it and
 * reports the time until it serves again, then checks the balances. */
int qb_run_big(const qb_config_t *cfg, qb_report_t *rep);

/* Query latency (bench_query.c) against a filled server at base_url with
 * the header `auth`: figures <prefix>_<kind>_p50/_p99 (us) and each
 * query's p50 over the lookup baseline's.  Returns 0 or an error (then the
 * report is failed). */
int qb_query_latency(const char *base_url, const char *auth, uint64_t accounts,
                     const char *prefix, qb_report_t *rep);

/* PostgreSQL on a fresh schema: (a) one transfer per transaction from
 * pg_connections connections, then, if `batched`, (b) a PL/pgSQL loop over
 * batches of 8190 in one transaction each; checks results and balances. */
int qb_run_pg(const qb_config_t *cfg, qb_report_t *rep, qb_mix_t mix, bool batched);

#endif
