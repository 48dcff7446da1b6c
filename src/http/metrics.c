/*
 * metrics.c - the Prometheus text exposition of GET /metrics: the core's
 * counters (requests by route and status, request latency per route, open
 * and refused connections), then each module's own.  Also the small
 * helpers modules write their metrics with: a bounded text sink and a
 * lock-free latency histogram.
 *
 * Counters are relaxed atomics updated in place by the request threads: no
 * lock on the hot path.  A scrape reads them one by one, so it is not a
 * consistent snapshot, which Prometheus does not need.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "http/http_int.h"

#define METRICS_TEXT_MAX (4u << 20) /* a scrape never grows past this */

const unsigned qp__http_statuses[QP__HTTP_STATUSES_MAX] = {
    200, 201, 202, 204, 301, 302, 307, 400, 401, 403, 404, 405,
    408, 409, 413, 414, 415, 422, 429, 431, 500, 501, 503, 505};

/* Upper bounds, in microseconds, of the latency buckets. */
static const uint64_t LATENCY_BOUNDS_US[QP_HTTP_LATENCY_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 5000000};

uint32_t qp__http_status_slot(unsigned status) {
  for (uint32_t i = 0; i < QP__HTTP_STATUSES_MAX; i++)
    if (qp__http_statuses[i] == status) return i;
  return QP__HTTP_STATUSES_MAX; /* anything unlisted: status="other" */
}

void qp_http_text_put(qp_http_text_t *t, const char *fmt, ...) {
  if (t->buf.failed) return;
  if (t->buf.max == 0) t->buf.max = METRICS_TEXT_MAX;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof line) {
    t->buf.failed = true;
    return;
  }
  qp_buf_append(&t->buf, line, (size_t)n);
}

void qp_http_metric_header(qp_http_text_t *t, const char *name, const char *type,
                           const char *help) {
  qp_http_text_put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void qp_http_metric_u64(qp_http_text_t *t, const char *name, const char *type, const char *help,
                        uint64_t value) {
  qp_http_metric_header(t, name, type, help);
  qp_http_text_put(t, "%s %llu\n", name, (unsigned long long)value);
}

void qp_http_histogram_observe(qp_http_histogram_t *h, uint64_t us) {
  uint32_t b = 0;
  while (b < QP_HTTP_LATENCY_BUCKETS && us > LATENCY_BOUNDS_US[b]) b++;
  atomic_fetch_add_explicit(&h->counts[b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

static uint64_t load(const _Atomic uint64_t *v) {
  return atomic_load_explicit(v, memory_order_relaxed);
}

void qp_http_histogram_put(qp_http_text_t *t, const char *name, const char *labels,
                           const qp_http_histogram_t *h) {
  const char *sep = labels[0] != '\0' ? "," : "";
  uint64_t cumulative = 0;
  for (uint32_t i = 0; i < QP_HTTP_LATENCY_BUCKETS; i++) {
    cumulative += load(&h->counts[i]);
    qp_http_text_put(t, "%s_bucket{%s%sle=\"%llu.%06llu\"} %llu\n", name, labels, sep,
                     (unsigned long long)(LATENCY_BOUNDS_US[i] / 1000000u),
                     (unsigned long long)(LATENCY_BOUNDS_US[i] % 1000000u),
                     (unsigned long long)cumulative);
  }
  cumulative += load(&h->counts[QP_HTTP_LATENCY_BUCKETS]);
  uint64_t sum = load(&h->sum_us);
  const char *open = labels[0] != '\0' ? "{" : "", *close = labels[0] != '\0' ? "}" : "";
  qp_http_text_put(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                   (unsigned long long)cumulative);
  qp_http_text_put(t, "%s_sum%s%s%s %llu.%06llu\n%s_count%s%s%s %llu\n", name, open, labels, close,
                   (unsigned long long)(sum / 1000000u), (unsigned long long)(sum % 1000000u),
                   name, open, labels, close, (unsigned long long)load(&h->count));
}

/* The label set of entry i (the last one is "unmatched"). */
static void route_labels(const qp__http_table_t *t, uint32_t i, char *buf, size_t size) {
  if (i == t->count)
    snprintf(buf, size, "method=\"\",route=\"unmatched\"");
  else
    snprintf(buf, size, "method=\"%s\",route=\"%s\"", t->entries[i].route.method,
             t->entries[i].route.pattern);
}

static void put_requests(qp_http_text_t *t, const qp__http_table_t *table) {
  qp_http_metric_header(t, "quipu_http_requests_total", "counter",
                        "HTTP requests by route and status.");
  for (uint32_t r = 0; r <= table->count; r++) {
    char labels[300];
    route_labels(table, r, labels, sizeof labels);
    for (uint32_t s = 0; s <= QP__HTTP_STATUSES_MAX; s++) {
      uint64_t n = load(&table->entries[r].requests[s]);
      if (n == 0) continue;
      char status[16];
      if (s < QP__HTTP_STATUSES_MAX)
        snprintf(status, sizeof status, "%u", qp__http_statuses[s]);
      else
        snprintf(status, sizeof status, "other");
      qp_http_text_put(t, "quipu_http_requests_total{%s,status=\"%s\"} %llu\n", labels, status,
                       (unsigned long long)n);
    }
  }
  qp_http_metric_header(t, "quipu_http_request_duration_seconds", "histogram",
                        "Time from request to response, by route.");
  for (uint32_t r = 0; r <= table->count; r++) {
    if (load(&table->entries[r].latency.count) == 0) continue;
    char labels[300];
    route_labels(table, r, labels, sizeof labels);
    qp_http_histogram_put(t, "quipu_http_request_duration_seconds", labels,
                          &table->entries[r].latency);
  }
}

char *qp__http_metrics_render(qp_http_server_t *s) {
  qp_http_text_t t = {.buf = {.max = METRICS_TEXT_MAX}};
  put_requests(&t, &s->table);
  qp_http_metric_header(&t, "quipu_connections_open", "gauge", "Open HTTP connections.");
  qp_http_text_put(&t, "quipu_connections_open %u\n", atomic_load(&s->connections));
  qp_http_metric_header(&t, "quipu_http_streams_open", "gauge",
                        "Open server-sent event streams.");
  qp_http_text_put(&t, "quipu_http_streams_open %u\n", atomic_load(&s->streams));
  qp_http_metric_header(&t, "quipu_connections_refused_total", "counter",
                        "Connections refused past the connection limit.");
  qp_http_text_put(&t, "quipu_connections_refused_total %llu\n",
                   (unsigned long long)atomic_load(&s->connections_refused));
  qp_http_metric_header(&t, "quipu_connections_refused_per_address_total", "counter",
                        "Requests refused because their address had too many connections.");
  qp_http_text_put(&t, "quipu_connections_refused_per_address_total %llu\n",
                   (unsigned long long)atomic_load(&s->refused_per_address));
  qp_http_metric_header(&t, "quipu_http_head_timeouts_total", "counter",
                        "Connections closed because a request head took too long.");
  qp_http_text_put(&t, "quipu_http_head_timeouts_total %llu\n",
                   (unsigned long long)atomic_load(&s->heads_timed_out));
  qp__http_keys_metrics(s, &t);
  qp__http_scope_metrics(s, &t);
  qp__http_public_metrics(s, &t);
  for (uint32_t m = 0; m < s->modules_count; m++)
    if (s->modules[m]->metrics != NULL) s->modules[m]->metrics(s->modules[m]->ctx, &t);
  if (t.buf.failed || t.buf.data == NULL) {
    qp_buf_free(&t.buf);
    return NULL;
  }
  return t.buf.data;
}
