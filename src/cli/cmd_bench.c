/*
 * cmd_bench.c - `quipu bench ledger`: in-process throughput of the durable
 * ledger (journal + fdatasync per group commit), against a baseline run in
 * the same process on the same workload: the pure state machine with no
 * I/O at all.  The ratio says how much durability costs on this machine.
 * The durable run's clock stops when the LMDB index has caught up with the
 * journal (issue 18), and the index's lag (events, catch-up ms) is printed.
 *
 * Workload (seeded, reproducible): N accounts on one ledger; transfers
 * between random accounts where 80% of credits go to the 1% "merchant"
 * accounts (a hot-spot mix); every 20th transfer is two-phase (pending,
 * then posted in the next batch).  Prints one human table and machine
 * lines `RESULT <name> <value> <unit>`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/rng.h"
#include "cli/cli.h"
#include "ledger/db.h"

typedef struct bench_config {
  uint64_t accounts;  /* accounts created before timing */
  uint64_t transfers; /* transfers timed */
  uint32_t batch;     /* events per batch */
  uint64_t seed;      /* workload seed */
  const char *data;   /* data directory (NULL = a temp dir, removed after) */
} bench_config_t;

/* Fills one batch of transfers; posts the pendings of the previous batch. */
static uint32_t make_batch(const bench_config_t *cfg, uint64_t *rng, uint64_t *next_id,
                           qp_u128 *pendings, uint32_t *pending_count, qp_transfer_t *out) {
  uint32_t n = 0;
  uint64_t hot = cfg->accounts / 100 ? cfg->accounts / 100 : 1;
  for (uint32_t i = 0; i < *pending_count && n < cfg->batch; i++) {
    memset(&out[n], 0, sizeof out[n]);
    out[n].id = (*next_id)++;
    out[n].pending_id = pendings[i];
    out[n].flags = QP_TRANSFER_POST_PENDING_TRANSFER;
    n++;
  }
  *pending_count = 0;
  while (n < cfg->batch) {
    qp_transfer_t *t = &out[n++];
    memset(t, 0, sizeof *t);
    uint64_t r = qp_splitmix64(rng); /* the recorded workload stream */
    uint64_t dr = 1 + r % cfg->accounts;
    uint64_t cr = (r >> 40) % 10 < 8 ? 1 + (r >> 20) % hot : 1 + (r >> 24) % cfg->accounts;
    if (cr == dr) cr = dr % cfg->accounts + 1;
    t->id = (*next_id)++;
    t->debit_account_id = dr;
    t->credit_account_id = cr;
    t->amount = 1 + (r >> 50) % 1000;
    t->ledger = 1;
    t->code = 1;
    if (t->id % 20 == 0) {
      t->flags = QP_TRANSFER_PENDING;
      pendings[(*pending_count)++] = t->id;
    }
  }
  return n;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

typedef struct bench_result {
  double seconds;        /* timed section */
  uint64_t transfers;    /* events submitted */
  uint64_t ok;           /* events that returned ok */
  uint64_t p50_us, p99_us; /* batch latency */
  uint64_t lag_max_events; /* the index's largest lag seen after a batch */
  uint64_t lag_end_events; /* its lag when the last batch was durable */
  double catchup_s;        /* from the last fsync until the index caught up */
  double fsync_s;          /* from the start until the last fsync */
} bench_result_t;

/* The index's lag behind the journal, in events. */
static uint64_t lag_events(qp_db_t *db) {
  qp_db_health_t h;
  qp_db_health(db, &h);
  return h.index_lag_events;
}

/* Stops the durable run's clock only once the index holds every batch:
 * the figure counts the index's work, not just the journal's. */
static int finish_index(qp_db_t *db, uint64_t t_fsync, bench_result_t *res) {
  res->lag_end_events = lag_events(db);
  int rc = qp_db_sync_index(db);
  uint64_t now = qp_clock_mono_ns();
  res->catchup_s = (double)(now - t_fsync) / 1e9;
  return rc;
}

/* Runs the workload against either the durable db or the bare ledger. */
static int run(const bench_config_t *cfg, qp_db_t *db, qp_ledger_t *ledger, bench_result_t *res) {
  uint64_t batches = (cfg->transfers + cfg->batch - 1) / cfg->batch;
  qp_transfer_t *batch = qp_malloc(cfg->batch * sizeof *batch);
  uint32_t *results = qp_malloc(cfg->batch * sizeof *results);
  qp_u128 *pendings = qp_malloc(cfg->batch * sizeof *pendings);
  uint64_t *lat = qp_malloc(batches * sizeof *lat);
  if (!batch || !results || !pendings || !lat) return QP_ENOMEM;
  uint64_t rng = cfg->seed, next_id = 1, submitted = 0, ok = 0, fake_now = 1;
  uint32_t pending_count = 0;
  int rc = 0;
  uint64_t t0 = qp_clock_mono_ns();
  for (uint64_t b = 0; b < batches && rc == 0; b++) {
    uint32_t n = make_batch(cfg, &rng, &next_id, pendings, &pending_count, batch);
    uint64_t s = qp_clock_mono_ns();
    if (db) rc = qp_db_create_transfers(db, batch, n, results);
    else rc = qp_ledger_create_transfers(ledger, fake_now += 1000000, batch, n, results);
    lat[b] = qp_clock_mono_ns() - s;
    if (db) {
      uint64_t lag = lag_events(db);
      if (lag > res->lag_max_events) res->lag_max_events = lag;
    }
    submitted += n;
    for (uint32_t i = 0; i < n; i++) ok += results[i] == QP_CREATE_TRANSFER_OK;
  }
  uint64_t t1 = qp_clock_mono_ns();
  res->fsync_s = (double)(t1 - t0) / 1e9;
  if (db && rc == 0) rc = finish_index(db, t1, res);
  if (db) t1 = qp_clock_mono_ns();
  qsort(lat, batches, sizeof *lat, cmp_u64);
  res->seconds = (double)(t1 - t0) / 1e9;
  res->transfers = submitted;
  res->ok = ok;
  res->p50_us = lat[batches / 2] / 1000;
  res->p99_us = lat[(batches * 99) / 100 < batches ? (batches * 99) / 100 : batches - 1] / 1000;
  qp_free(batch);
  qp_free(results);
  qp_free(pendings);
  qp_free(lat);
  return rc;
}

static int create_accounts(const bench_config_t *cfg, qp_db_t *db, qp_ledger_t *ledger) {
  qp_account_t *a = qp_calloc(QP_BATCH_EVENTS_MAX, sizeof *a);
  uint32_t *r = qp_malloc(QP_BATCH_EVENTS_MAX * sizeof *r);
  int rc = a && r ? 0 : QP_ENOMEM;
  for (uint64_t next = 1; next <= cfg->accounts && rc == 0;) {
    uint32_t n = 0;
    for (; n < QP_BATCH_EVENTS_MAX && next <= cfg->accounts; n++, next++) {
      memset(&a[n], 0, sizeof a[n]);
      a[n].id = next;
      a[n].ledger = 1;
      a[n].code = 1;
    }
    rc = db ? qp_db_create_accounts(db, a, n, r) : qp_ledger_create_accounts(ledger, next, a, n, r);
  }
  qp_free(a);
  qp_free(r);
  return rc;
}

static void report(const char *name, const bench_result_t *r) {
  double tps = (double)r->transfers / r->seconds;
  printf(
      "%-26s %12.0f transfers/s  batch p50 %6llu us  p99 %6llu us  (%llu transfers, %llu ok, %.2f "
      "s)\n",
      name, tps, (unsigned long long)r->p50_us, (unsigned long long)r->p99_us,
      (unsigned long long)r->transfers, (unsigned long long)r->ok, r->seconds);
  printf("RESULT %s_transfers_per_s %.0f transfers/s\n", name, tps);
  printf("RESULT %s_batch_p50 %llu us\n", name, (unsigned long long)r->p50_us);
  printf("RESULT %s_batch_p99 %llu us\n", name, (unsigned long long)r->p99_us);
}

static int bench_ledger(const bench_config_t *cfg) {
  char tmp[] = "/tmp/quipu-bench-XXXXXX";
  const char *dir = cfg->data;
  if (dir == NULL && (dir = mkdtemp(tmp)) == NULL) return QP_EIO;
  printf("quipu bench ledger: %llu accounts, %llu transfers, batches of %u, seed %llu, data %s\n",
         (unsigned long long)cfg->accounts, (unsigned long long)cfg->transfers, cfg->batch,
         (unsigned long long)cfg->seed, dir);
  qp_ledger_t *ledger;
  int rc = qp_ledger_create(NULL, &ledger);
  bench_result_t base = {0}, durable = {0};
  if (rc == 0) rc = create_accounts(cfg, NULL, ledger);
  if (rc == 0) rc = run(cfg, NULL, ledger, &base);
  qp_ledger_destroy(ledger);
  qp_db_t *db = NULL;
  char detail[512];
  /* Valgrind cannot map LMDB's default 64 GiB; BENCH_INDEX_MAP_MB shrinks it. */
  qp_db_options_t opts;
  memset(&opts, 0, sizeof opts);
  const char *map_mb = getenv("BENCH_INDEX_MAP_MB");
  if (map_mb != NULL) opts.index_map_size = (size_t)strtoull(map_mb, NULL, 10) << 20;
  if (rc == 0 && (rc = qp_db_open(dir, &opts, &db, NULL, detail, sizeof detail)) != 0)
    fprintf(stderr, "bench: %s\n", detail);
  if (rc == 0) rc = create_accounts(cfg, db, NULL);
  uint64_t lag_start = 0;
  if (rc == 0) rc = qp_db_sync_index(db); /* the timed run starts with the index caught up */
  if (rc == 0) lag_start = lag_events(db);
  /* The clock stops when the index (history, queries, the cold store)
   * holds every batch, not at the last fsync. */
  if (rc == 0) rc = run(cfg, db, NULL, &durable);
  qp_db_close(db);
  if (rc == 0) {
    report("baseline_state_machine", &base);
    report("inprocess_durable", &durable);
    printf("index lag: %llu events at start, at most %llu after a batch, %llu at the last fsync;"
           " caught up %.0f ms after it (%.0f transfers/s had the clock stopped at the fsync)\n",
           (unsigned long long)lag_start, (unsigned long long)durable.lag_max_events,
           (unsigned long long)durable.lag_end_events, durable.catchup_s * 1e3,
           (double)durable.transfers / durable.fsync_s);
    printf("RESULT inprocess_index_lag_start_events %llu events\n", (unsigned long long)lag_start);
    printf("RESULT inprocess_index_lag_max_events %llu events\n",
           (unsigned long long)durable.lag_max_events);
    printf("RESULT inprocess_index_lag_end_events %llu events\n",
           (unsigned long long)durable.lag_end_events);
    printf("RESULT inprocess_index_lag_end_ms %.0f ms\n", durable.catchup_s * 1e3);
    double ratio =
        ((double)durable.transfers / durable.seconds) / ((double)base.transfers / base.seconds);
    printf("durable / state-machine-only throughput: %.2fx\n", ratio);
    printf("RESULT ratio_durable_vs_state_machine %.3f x\n", ratio);
    if (durable.ok != base.ok) {
      fprintf(stderr, "bench: durable and baseline runs disagree (%llu vs %llu ok)\n",
              (unsigned long long)durable.ok, (unsigned long long)base.ok);
      rc = QP_ECORRUPT;
    }
  }
  if (cfg->data == NULL) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench: could not remove %s\n", dir);
  }
  return rc;
}

static int parse_u64(const char *s, uint64_t *out) {
  qp_u128 v;
  if (qp_u128_parse(s, strlen(s), &v) != 0 || v > UINT64_MAX) return -1;
  *out = (uint64_t)v;
  return 0;
}

int qp_cmd_bench(int argc, char **argv) {
  static const struct option opts[] = {{"accounts", required_argument, NULL, 'a'},
                                       {"transfers", required_argument, NULL, 't'},
                                       {"batch", required_argument, NULL, 'b'},
                                       {"seed", required_argument, NULL, 's'},
                                       {"data", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *usage = "usage: quipu bench ledger [--accounts N] [--transfers N] [--batch N] "
                      "[--seed N] [--data DIR]\n";
  if (argc < 2 || strcmp(argv[1], "ledger") != 0) {
    fprintf(stderr, "%s", usage);
    return 2;
  }
  bench_config_t cfg = {
      .accounts = 100000, .transfers = 4000000, .batch = QP_BATCH_EVENTS_MAX, .seed = 42};
  uint64_t batch = cfg.batch;
  int c;
  optind = 1;
  while ((c = getopt_long(argc - 1, argv + 1, "a:t:b:s:d:h", opts, NULL)) != -1) {
    int bad = 0;
    switch (c) {
    case 'a': bad = parse_u64(optarg, &cfg.accounts) || cfg.accounts < 2; break;
    case 't': bad = parse_u64(optarg, &cfg.transfers) || cfg.transfers == 0; break;
    case 'b': bad = parse_u64(optarg, &batch) || batch == 0 || batch > QP_BATCH_EVENTS_MAX; break;
    case 's': bad = parse_u64(optarg, &cfg.seed); break;
    case 'd': cfg.data = optarg; break;
    case 'h': printf("%s", usage); return 0;
    default: bad = 1;
    }
    if (bad) {
      fprintf(stderr, "quipu bench: bad value for option; %s", usage);
      return 2;
    }
  }
  cfg.batch = (uint32_t)batch;
  qp_alloc_tune_process(); /* the heap as the node sets it (alloc.h) */
  int rc = bench_ledger(&cfg);
  if (rc != 0) fprintf(stderr, "quipu bench: %s\n", qp_strerror(rc));
  return rc == 0 ? 0 : 1;
}
