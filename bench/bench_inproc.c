/*
 * bench_inproc.c - quipu in-process: the library's durable db (journal,
 * fdatasync per group commit, LMDB index maintained in the background),
 * driven by one thread that hands it batches of the workload.
 *
 * Only the qp_db calls are timed: each batch is generated before its clock
 * starts, so the figure is the ledger's throughput, not the generator's.
 * The clock stops when the LMDB index has caught up with the journal (issue
 * 18): the wait for it after the last call is counted, and the index's lag
 * (largest seen, at the last call, and the catch-up time) is reported.
 * With batch 1, `group` one-event requests go to one qp_db_execute (the
 * shape the HTTP writer produces under load).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_int.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"

/* Creates the workload's accounts and setup transfers in db. */
static int setup_db(qp_db_t *db, qb_workload_t *w) {
  qp_account_t *a = qp_malloc(QP_BATCH_EVENTS_MAX * sizeof *a);
  qp_transfer_t *t = qp_malloc(QP_BATCH_EVENTS_MAX * sizeof *t);
  uint32_t *r = qp_malloc(QP_BATCH_EVENTS_MAX * sizeof *r);
  int rc = a && t && r ? 0 : QP_ENOMEM;
  uint64_t n = w->config.accounts;
  for (uint64_t next = 1; rc == 0 && next <= n;) {
    uint32_t k = 0;
    for (; k < QP_BATCH_EVENTS_MAX && next <= n; k++) qb_workload_account(w, next++, &a[k]);
    rc = qp_db_create_accounts(db, a, k, r);
    for (uint32_t i = 0; rc == 0 && i < k; i++)
      if (r[i] != QP_CREATE_ACCOUNT_OK) rc = QP_ECORRUPT;
  }
  uint64_t setup = qb_workload_setup_count(w);
  for (uint64_t j = 0; rc == 0 && j < setup;) {
    uint32_t k = 0;
    for (; k < QP_BATCH_EVENTS_MAX && j < setup; k++)
      qb_workload_setup_transfer(w, j++, true, &t[k]);
    rc = qp_db_create_transfers(db, t, k, r);
    for (uint32_t i = 0; rc == 0 && i < k; i++)
      if (r[i] != QP_CREATE_TRANSFER_OK) rc = QP_ECORRUPT;
  }
  qp_free(a);
  qp_free(t);
  qp_free(r);
  return rc;
}

/* Reads every account back and compares it with the model. */
static int check_db(qp_db_t *db, const qb_workload_t *w, const char *system, qb_report_t *rep) {
  qp_u128 *ids = qp_malloc(QP_BATCH_EVENTS_MAX * sizeof *ids);
  qp_account_t *out = qp_malloc(QP_BATCH_EVENTS_MAX * sizeof *out);
  qb_checker_t c = {.workload = w};
  int rc = ids && out ? 0 : QP_ENOMEM;
  for (uint64_t next = 1; rc == 0 && next <= w->config.accounts;) {
    uint32_t k = 0, found = 0;
    for (; k < QP_BATCH_EVENTS_MAX && next <= w->config.accounts; k++) ids[k] = next++;
    rc = qp_db_lookup_accounts(db, ids, k, out, &found);
    if (rc == 0 && found != k) rc = QP_ECORRUPT;
    for (uint32_t i = 0; rc == 0 && i < found; i++) qb_check_account(&c, system, &out[i]);
  }
  qp_free(ids);
  qp_free(out);
  return qb_finish_check(rep, system, &c, rc);
}

/* The index's lag behind the journal, in events. */
static uint64_t lag_events(qp_db_t *db) {
  qp_db_health_t h;
  qp_db_health(db, &h);
  return h.index_lag_events;
}

typedef struct timed_run {
  uint64_t busy_ns;      /* sum of qp_db call times */
  uint64_t wall_ns;      /* first call to last return, generation included */
  uint64_t *lat_ns;      /* one per call */
  uint64_t calls;        /* qp_db calls made */
  uint64_t lag_max;      /* the index's largest lag (events) seen after a call */
  uint64_t lag_end;      /* its lag when the last call returned */
  uint64_t catchup_ns;   /* from then until the index caught up (counted in both times) */
  qb_result_counts_t counts; /* results against expectations */
} timed_run_t;

/* Runs `transfers` events as calls of `group` requests of `batch` events. */
static int run_timed(qp_db_t *db, qb_workload_t *w, uint64_t transfers, uint32_t batch,
                     uint32_t group, timed_run_t *tr) {
  uint32_t per_call = batch * group;
  qp_transfer_t *ev = qp_malloc(per_call * sizeof *ev);
  uint32_t *expect = qp_malloc(per_call * sizeof *expect);
  uint32_t *results = qp_malloc(per_call * sizeof *results);
  qp_db_request_t *reqs = qp_malloc(group * sizeof *reqs);
  tr->lat_ns = qp_malloc(((transfers + per_call - 1) / per_call + 1) * sizeof *tr->lat_ns);
  int rc = ev && expect && results && reqs && tr->lat_ns ? 0 : QP_ENOMEM;
  uint64_t done = 0, t_start = qp_clock_mono_ns();
  while (rc == 0 && done < transfers) {
    uint32_t n = transfers - done < per_call ? (uint32_t)(transfers - done) : per_call;
    for (uint32_t i = 0; i < n; i++) qb_workload_next(w, &ev[i], &expect[i]);
    uint32_t nreq = 0;
    for (uint32_t off = 0; off < n; off += batch, nreq++) {
      reqs[nreq] = (qp_db_request_t){.op = QP_OP_CREATE_TRANSFERS, .events = &ev[off],
                                     .count = n - off < batch ? n - off : batch,
                                     .results = &results[off]};
    }
    uint64_t t0 = qp_clock_mono_ns();
    rc = qp_db_execute(db, reqs, nreq);
    uint64_t dt = qp_clock_mono_ns() - t0;
    for (uint32_t q = 0; rc == 0 && q < nreq; q++)
      if (reqs[q].status != 0) rc = reqs[q].status;
    tr->busy_ns += dt;
    tr->lat_ns[tr->calls++] = dt;
    uint64_t lag = lag_events(db);
    if (lag > tr->lag_max) tr->lag_max = lag;
    for (uint32_t i = 0; rc == 0 && i < n; i++) qb_count_result(&tr->counts, results[i], expect[i]);
    done += n;
  }
  /* Work to completion: the clock stops when the index holds every batch. */
  uint64_t t_fsync = qp_clock_mono_ns();
  tr->lag_end = lag_events(db);
  if (rc == 0) rc = qp_db_sync_index(db);
  tr->catchup_ns = qp_clock_mono_ns() - t_fsync;
  tr->busy_ns += tr->catchup_ns;
  tr->wall_ns = qp_clock_mono_ns() - t_start;
  qp_free(ev);
  qp_free(expect);
  qp_free(results);
  qp_free(reqs);
  return rc;
}

/* The index's lag: bounded during the run, and caught up before the clock stopped. */
static void report_lag(qb_report_t *rep, const char *prefix, const timed_run_t *tr) {
  char name[96];
  snprintf(name, sizeof name, "%s_index_lag_max_events", prefix);
  qb_report_add(rep, name, (double)tr->lag_max, "events", 0);
  snprintf(name, sizeof name, "%s_index_lag_end_events", prefix);
  qb_report_add(rep, name, (double)tr->lag_end, "events", 0);
  snprintf(name, sizeof name, "%s_index_lag_end_ms", prefix);
  qb_report_add(rep, name, (double)tr->catchup_ns / 1e6, "ms", 1);
}

int qb_run_inprocess(const qb_config_t *cfg, qb_report_t *rep, const char *prefix, qb_mix_t mix,
                     uint64_t accounts, uint64_t transfers, uint32_t batch) {
  char dir[512], detail[512] = "", name[96];
  int rc = qb_make_temp_dir(cfg->tmp_dir, "inproc", dir, sizeof dir);
  if (rc != 0) return rc;
  qb_workload_config_t wc;
  qb_workload_config_default(&wc);
  wc.accounts = accounts;
  wc.seed = cfg->seed;
  wc.mix = mix;
  qb_workload_t w;
  qp_db_t *db = NULL;
  timed_run_t tr = {0};
  uint32_t group = batch == 1 ? QP_BATCH_EVENTS_MAX : 1;
  printf("-- %s: quipu in-process, %llu accounts, %s, %llu transfers, batch %u x %u per commit\n",
         prefix, (unsigned long long)accounts, mix == QB_MIX_ZIPF ? "zipf" : "uniform",
         (unsigned long long)transfers, batch, group);
  fflush(stdout);
  if ((rc = qb_workload_init(&w, &wc)) != 0) return rc;
  /* Valgrind cannot map LMDB's default 64 GiB; BENCH_INDEX_MAP_MB shrinks it. */
  qp_db_options_t opts;
  memset(&opts, 0, sizeof opts);
  const char *map_mb = getenv("BENCH_INDEX_MAP_MB");
  if (map_mb != NULL) opts.index_map_size = (size_t)strtoull(map_mb, NULL, 10) << 20;
  rc = qp_db_open(dir, &opts, &db, NULL, detail, sizeof detail);
  if (rc != 0) fprintf(stderr, "bench: cannot open %s: %s %s\n", dir, qp_strerror(rc), detail);
  if (rc == 0) rc = setup_db(db, &w);
  if (rc == 0) rc = qp_db_sync_index(db); /* the timed run starts with the index caught up */
  if (rc == 0) rc = run_timed(db, &w, transfers, batch, group, &tr);
  if (rc == 0) report_lag(rep, prefix, &tr);
  if (rc == 0) {
    double tps = (double)transfers * 1e9 / (double)tr.busy_ns;
    qb_sort_u64(tr.lat_ns, tr.calls);
    snprintf(name, sizeof name, "%s_transfers_per_s", prefix);
    qb_report_add(rep, name, tps, "transfers/s", 0);
    snprintf(name, sizeof name, "%s_commit_p50", prefix);
    qb_report_add(rep, name, (double)qb_percentile(tr.lat_ns, tr.calls, 50) / 1e6, "ms", 3);
    snprintf(name, sizeof name, "%s_commit_p99", prefix);
    qb_report_add(rep, name, (double)qb_percentile(tr.lat_ns, tr.calls, 99) / 1e6, "ms", 3);
    rc = qb_check_counts(rep, prefix, &tr.counts, &w);
  }
  if (rc == 0) rc = check_db(db, &w, prefix, rep);
  qp_db_close(db);
  qp_free(tr.lat_ns);
  qb_workload_deinit(&w);
  qb_remove_tree(dir);
  return rc;
}
