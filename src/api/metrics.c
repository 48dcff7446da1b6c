/*
 * metrics.c - counters and histograms for GET /metrics, in the Prometheus
 * text format: requests by route and status, request and commit latency,
 * events per create request, requests per group commit, events by result
 * code, journal bytes, open connections and queue depth.
 *
 * Everything is a relaxed atomic updated in place by the request threads
 * and the writer: no lock on the hot path.  A scrape reads the counters one
 * by one, so it is not a consistent snapshot, which Prometheus does not
 * need.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "base/alloc.h"

#define METRICS_TEXT_MAX (1u << 20) /* a scrape never grows past this */

const unsigned qp__api_statuses[QP__API_STATUSES_MAX] = {200, 400, 401, 403, 404, 405, 408, 413,
                                                         415, 429, 500, 503, 0,   0,   0,   0};

/* Upper bounds, in microseconds, of the latency buckets. */
static const uint64_t LATENCY_BOUNDS_US[QP__API_LATENCY_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 5000000};

static const uint64_t BATCH_BOUNDS[QP__API_BATCH_BUCKETS] = {1,   2,    5,    10,   50,  100,
                                                             500, 1000, 2000, 5000, 8190};

static uint32_t status_slot(unsigned status) {
  for (uint32_t i = 0; i < QP__API_STATUSES_MAX && qp__api_statuses[i] != 0; i++)
    if (qp__api_statuses[i] == status) return i;
  return 10; /* counted as 500: every status we send is in the table */
}

void qp__api_histogram_observe(qp__api_histogram_t *h, uint64_t us) {
  uint32_t b = 0;
  while (b < QP__API_LATENCY_BUCKETS && us > LATENCY_BOUNDS_US[b]) b++;
  atomic_fetch_add_explicit(&h->counts[b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

void qp__api_metrics_request(qp__api_metrics_t *m, uint32_t route, unsigned status,
                             uint64_t latency_us) {
  if (route >= QP__API_ROUTES_MAX) route = QP__API_ROUTES_MAX - 1;
  atomic_fetch_add_explicit(&m->requests[route][status_slot(status)], 1, memory_order_relaxed);
  qp__api_histogram_observe(&m->request_latency, latency_us);
}

void qp__api_metrics_batch(qp__api_metrics_t *m, qp_op_t op, const uint32_t *results,
                           uint32_t count) {
  if (op != QP_OP_CREATE_ACCOUNTS && op != QP_OP_CREATE_TRANSFERS) return;
  uint32_t b = 0;
  while (b < QP__API_BATCH_BUCKETS && count > BATCH_BOUNDS[b]) b++;
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

/* ------------------------------------------------------------- render */

typedef struct text_buf {
  char *data;  /* qp_malloc'ed */
  size_t len;  /* bytes used, without the NUL */
  size_t cap;  /* bytes allocated */
  bool failed; /* an allocation failed or METRICS_TEXT_MAX was reached */
} text_buf_t;

static void put(text_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_buf_t *b, const char *fmt, ...) {
  if (b->failed) return;
  for (int attempt = 0; attempt < 2; attempt++) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) break;
    if ((size_t)n < b->cap - b->len) {
      b->len += (size_t)n;
      return;
    }
    size_t want = b->cap * 2 + (size_t)n;
    char *grown = want <= METRICS_TEXT_MAX ? qp_realloc(b->data, want) : NULL;
    if (grown == NULL) break;
    b->data = grown;
    b->cap = want;
  }
  b->failed = true;
}

static uint64_t load(const _Atomic uint64_t *v) {
  return atomic_load_explicit(v, memory_order_relaxed);
}

static void put_histogram(text_buf_t *b, const char *name, const char *help,
                          const qp__api_histogram_t *h) {
  put(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (uint32_t i = 0; i < QP__API_LATENCY_BUCKETS; i++) {
    cumulative += load(&h->counts[i]);
    put(b, "%s_bucket{le=\"%llu.%06llu\"} %llu\n", name,
        (unsigned long long)(LATENCY_BOUNDS_US[i] / 1000000u),
        (unsigned long long)(LATENCY_BOUNDS_US[i] % 1000000u), (unsigned long long)cumulative);
  }
  cumulative += load(&h->counts[QP__API_LATENCY_BUCKETS]);
  uint64_t sum = load(&h->sum_us);
  put(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %llu.%06llu\n%s_count %llu\n", name,
      (unsigned long long)cumulative, name, (unsigned long long)(sum / 1000000u),
      (unsigned long long)(sum % 1000000u), name, (unsigned long long)load(&h->count));
}

static void put_requests(text_buf_t *b, const qp__api_metrics_t *m) {
  put(b,
      "# HELP quipu_http_requests_total HTTP requests by route and status.\n"
      "# TYPE quipu_http_requests_total counter\n");
  uint32_t routes = qp__api_routes_count();
  for (uint32_t r = 0; r <= routes && r < QP__API_ROUTES_MAX; r++) {
    const qp__api_route_t *route = r < routes ? qp__api_route_get(r) : NULL;
    for (uint32_t s = 0; s < QP__API_STATUSES_MAX && qp__api_statuses[s] != 0; s++) {
      uint64_t n = load(&m->requests[r == routes ? QP__API_ROUTES_MAX - 1 : r][s]);
      if (n == 0) continue;
      put(b, "quipu_http_requests_total{method=\"%s\",route=\"%s\",status=\"%u\"} %llu\n",
          route ? route->method : "", route ? route->pattern : "unmatched", qp__api_statuses[s],
          (unsigned long long)n);
    }
  }
}

static void put_batches(text_buf_t *b, const qp__api_metrics_t *m) {
  put(b,
      "# HELP quipu_batch_events Events per create request.\n"
      "# TYPE quipu_batch_events histogram\n");
  uint64_t cumulative = 0;
  for (uint32_t i = 0; i < QP__API_BATCH_BUCKETS; i++) {
    cumulative += load(&m->batch_events[i]);
    put(b, "quipu_batch_events_bucket{le=\"%llu\"} %llu\n", (unsigned long long)BATCH_BOUNDS[i],
        (unsigned long long)cumulative);
  }
  cumulative += load(&m->batch_events[QP__API_BATCH_BUCKETS]);
  put(b,
      "quipu_batch_events_bucket{le=\"+Inf\"} %llu\nquipu_batch_events_sum %llu\n"
      "quipu_batch_events_count %llu\n",
      (unsigned long long)cumulative, (unsigned long long)load(&m->batch_events_sum),
      (unsigned long long)load(&m->batch_count));
  put(b,
      "# HELP quipu_commits_total Group commits (one journal append and fdatasync each).\n"
      "# TYPE quipu_commits_total counter\nquipu_commits_total %llu\n"
      "# HELP quipu_commit_requests_total Create requests committed in those groups.\n"
      "# TYPE quipu_commit_requests_total counter\nquipu_commit_requests_total %llu\n",
      (unsigned long long)load(&m->commits), (unsigned long long)load(&m->commit_requests));
}

static void put_results(text_buf_t *b, const qp__api_metrics_t *m) {
  static const char *const account_names[] = {
#define QP__N(NAME, name) #name,
      QP_CREATE_ACCOUNT_RESULTS(QP__N)};
  static const char *const transfer_names[] = {QP_CREATE_TRANSFER_RESULTS(QP__N)
#undef QP__N
  };
  put(b,
      "# HELP quipu_events_total Events applied, by kind and result code.\n"
      "# TYPE quipu_events_total counter\n");
  for (uint32_t i = 0; i < QP_CREATE_ACCOUNT_RESULT_COUNT; i++)
    put(b, "quipu_events_total{kind=\"account\",result=\"%s\"} %llu\n", account_names[i],
        (unsigned long long)load(&m->account_results[i]));
  for (uint32_t i = 0; i < QP_CREATE_TRANSFER_RESULT_COUNT; i++)
    put(b, "quipu_events_total{kind=\"transfer\",result=\"%s\"} %llu\n", transfer_names[i],
        (unsigned long long)load(&m->transfer_results[i]));
}

char *qp__api_metrics_render(const qp__api_metrics_t *m, uint64_t journal_bytes,
                             uint32_t connections_open, uint32_t queue_depth) {
  text_buf_t b = {.data = qp_malloc(16384), .cap = 16384};
  if (b.data == NULL) return NULL;
  b.data[0] = '\0';
  put_requests(&b, m);
  put_histogram(&b, "quipu_http_request_duration_seconds", "Time from request to response.",
                &m->request_latency);
  put_histogram(&b, "quipu_commit_duration_seconds",
                "Time of one group commit (apply, journal append, fdatasync).", &m->commit_latency);
  put_batches(&b, m);
  put_results(&b, m);
  put(&b,
      "# HELP quipu_journal_bytes Size of the journal.\n# TYPE quipu_journal_bytes gauge\n"
      "quipu_journal_bytes %llu\n"
      "# HELP quipu_connections_open Open HTTP connections.\n"
      "# TYPE quipu_connections_open gauge\nquipu_connections_open %u\n"
      "# HELP quipu_connections_refused_total Connections refused past the limit.\n"
      "# TYPE quipu_connections_refused_total counter\nquipu_connections_refused_total %llu\n"
      "# HELP quipu_queue_depth Create requests waiting for the writer.\n"
      "# TYPE quipu_queue_depth gauge\nquipu_queue_depth %u\n",
      (unsigned long long)journal_bytes, connections_open,
      (unsigned long long)load(&m->connections_refused), queue_depth);
  if (b.failed) {
    qp_free(b.data);
    return NULL;
  }
  return b.data;
}
