/*
 * api_metrics.c - the ledger's metrics on GET /metrics (the HTTP core
 * writes the per-route request counters and latencies itself): commit
 * latency, events per create request, requests per group commit, events by
 * result code, expiry sweeps, journal bytes and the writer's queue depth.
 *
 * Everything is a relaxed atomic updated in place by the request threads
 * and the writer: no lock on the hot path.
 */
#include <stdio.h>
#include <string.h>

#include "ledger/api_int.h"

static const uint64_t BATCH_BOUNDS[QP__LEDGER_BATCH_BUCKETS] = {1,   2,    5,    10,   50,  100,
                                                                500, 1000, 2000, 5000, 8190};

void qp__ledger_metrics_batch(qp__ledger_metrics_t *m, qp_op_t op, const uint32_t *results,
                              uint32_t count) {
  if (op != QP_OP_CREATE_ACCOUNTS && op != QP_OP_CREATE_TRANSFERS) return;
  uint32_t b = 0;
  while (b < QP__LEDGER_BATCH_BUCKETS && count > BATCH_BOUNDS[b]) b++;
  atomic_fetch_add_explicit(&m->batch_events[b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&m->batch_events_sum, count, memory_order_relaxed);
  atomic_fetch_add_explicit(&m->batch_count, 1, memory_order_relaxed);
  for (uint32_t i = 0; i < count; i++) {
    uint32_t r = results[i];
    if (op == QP_OP_CREATE_ACCOUNTS && r < QP_CREATE_ACCOUNT_RESULT_COUNT)
      atomic_fetch_add_explicit(&m->account_results[r], 1, memory_order_relaxed);
    else if (op == QP_OP_CREATE_TRANSFERS && r < QP_CREATE_TRANSFER_RESULT_COUNT)
      atomic_fetch_add_explicit(&m->transfer_results[r], 1, memory_order_relaxed);
  }
}

static unsigned long long load(const _Atomic uint64_t *v) {
  return (unsigned long long)atomic_load_explicit(v, memory_order_relaxed);
}

static void put_batches(qp_http_text_t *t, const qp__ledger_metrics_t *m) {
  qp_http_metric_header(t, "quipu_batch_events", "histogram", "Events per create request.");
  unsigned long long cumulative = 0;
  for (uint32_t i = 0; i < QP__LEDGER_BATCH_BUCKETS; i++) {
    cumulative += load(&m->batch_events[i]);
    qp_http_text_put(t, "quipu_batch_events_bucket{le=\"%llu\"} %llu\n",
                     (unsigned long long)BATCH_BOUNDS[i], cumulative);
  }
  cumulative += load(&m->batch_events[QP__LEDGER_BATCH_BUCKETS]);
  qp_http_text_put(t, "quipu_batch_events_bucket{le=\"+Inf\"} %llu\n", cumulative);
  qp_http_text_put(t, "quipu_batch_events_sum %llu\nquipu_batch_events_count %llu\n",
                   load(&m->batch_events_sum), load(&m->batch_count));
  qp_http_metric_u64(t, "quipu_commits_total", "counter",
                     "Group commits (one journal append and fdatasync each).", load(&m->commits));
  qp_http_metric_u64(t, "quipu_commit_requests_total", "counter",
                     "Create requests committed in those groups.", load(&m->commit_requests));
  qp_http_metric_u64(t, "quipu_expiry_sweeps_total", "counter",
                     "Expiry sweeps of pending transfers run by the periodic tick.",
                     load(&m->sweeps));
}

static void put_results(qp_http_text_t *t, const qp__ledger_metrics_t *m) {
  qp_http_metric_header(t, "quipu_events_total", "counter",
                        "Events applied, by kind and result code.");
  for (uint32_t i = 0; i < QP_CREATE_ACCOUNT_RESULT_COUNT; i++)
    qp_http_text_put(t, "quipu_events_total{kind=\"account\",result=\"%s\"} %llu\n",
                     qp_create_account_result_name(i), load(&m->account_results[i]));
  for (uint32_t i = 0; i < QP_CREATE_TRANSFER_RESULT_COUNT; i++)
    qp_http_text_put(t, "quipu_events_total{kind=\"transfer\",result=\"%s\"} %llu\n",
                     qp_create_transfer_result_name(i), load(&m->transfer_results[i]));
}

void qp__ledger_metrics_render(const qp__ledger_metrics_t *m, qp_http_text_t *out,
                               uint64_t journal_bytes, uint32_t queue_depth) {
  qp_http_metric_header(out, "quipu_commit_duration_seconds", "histogram",
                        "Time of one group commit (apply, journal append, fdatasync).");
  qp_http_histogram_put(out, "quipu_commit_duration_seconds", "", &m->commit_latency);
  put_batches(out, m);
  put_results(out, m);
  qp_http_metric_u64(out, "quipu_journal_bytes", "gauge",
                     "Size of the ledger's journal.", journal_bytes);
  qp_http_metric_u64(out, "quipu_queue_depth", "gauge",
                     "Create requests waiting for the ledger's writer.", queue_depth);
}

/* Nanoseconds as seconds with millisecond precision, integer-only. */
static void put_seconds(qp_http_text_t *t, const char *name, uint64_t ns) {
  qp_http_text_put(t, "%s %llu.%03llu\n", name, (unsigned long long)(ns / 1000000000u),
                   (unsigned long long)(ns % 1000000000u / 1000000u));
}

void qp__ledger_health_render(const qp_db_health_t *h, qp_http_text_t *out) {
  qp_http_metric_header(out, "quipu_ledger_stopped", "gauge",
                        "1 once a journal write failed and the ledger refuses writes.");
  qp_http_text_put(out, "quipu_ledger_stopped %d\n", h->stopped ? 1 : 0);
  qp_http_metric_header(out, "quipu_ledger_journal_check", "gauge",
                        "The journal re-hash after a restart: 1 passed, 0 running, -1 damage.");
  qp_http_text_put(out, "quipu_ledger_journal_check %d\n", h->journal_check);
  qp_http_metric_u64(out, "quipu_ledger_index_lag_batches", "gauge",
                     "Journal records committed but not yet in the LMDB index.",
                     h->journal_seq - h->index_seq);
  qp_http_metric_u64(out, "quipu_ledger_index_lag_events", "gauge",
                     "Events committed but not yet in the LMDB index.", h->index_lag_events);
  qp_http_metric_u64(out, "quipu_ledger_index_lag_max", "gauge",
                     "Back-pressure bound: commits wait while this many changes are untaken.",
                     h->index_lag_max);
  qp_http_metric_u64(out, "quipu_ledger_index_waits_total", "counter",
                     "Commits that waited for the index at the back-pressure bound.",
                     h->index_waits);
  qp_http_metric_header(out, "quipu_ledger_index_wait_seconds_total", "counter",
                        "Total time commits waited for the index.");
  put_seconds(out, "quipu_ledger_index_wait_seconds_total", h->index_wait_ns);
  qp_http_metric_header(out, "quipu_ledger_index_lag_seconds", "gauge",
                        "How long the index has been behind the journal (0 = caught up).");
  put_seconds(out, "quipu_ledger_index_lag_seconds", h->index_lag_ns);
  qp_http_metric_header(out, "quipu_ledger_last_commit_age_seconds", "gauge",
                        "Time since the last commit (-1 = none since the node started).");
  if (h->last_commit_age_ns == UINT64_MAX)
    qp_http_text_put(out, "quipu_ledger_last_commit_age_seconds -1\n");
  else
    put_seconds(out, "quipu_ledger_last_commit_age_seconds", h->last_commit_age_ns);
}
