/*
 * rk_http.c - the HTTP part of quipu-risk-bench: the generated ruleset on a
 * real `quipu node` (as its ruleset_file), the same two lists loaded over
 * POST /v1/risk/lists/{name}, then the generated events sent to POST
 * /v1/risk/decide in batches (1,000 events by default) over concurrent
 * keep-alive connections, one client thread each.  Every request body is
 * built before the clock starts.  Every answer must be 200 with one
 * decision per event, and afterwards the node's decision counters
 * (/metrics) must add up to the events sent.  Prints decisions/s over the
 * whole run (wall clock), the p50/p99 time of one batch request, and the
 * node's CPU time per decision.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "bench.h"
#include "risk_bench.h"

typedef struct run {
  const rk_http_config_t *cfg;
  const rk_node_t *node;
  qp_buf_t *bodies;         /* one JSON array per batch */
  uint32_t *sizes;          /* events of each batch */
  uint64_t batches;
  uint64_t *lat_ns;         /* per batch request */
  _Atomic uint64_t next;    /* the next batch to send */
  _Atomic bool failed;
} run_t;

/* The request bodies: batch after batch of the generated events in order. */
static int build_bodies(run_t *r, json_t **pool, qp_rng_t *rng) {
  uint64_t n = r->cfg->events, per = r->cfg->batch;
  r->batches = (n + per - 1) / per;
  r->bodies = qp_calloc(r->batches, sizeof *r->bodies);
  r->sizes = qp_calloc(r->batches, sizeof *r->sizes);
  r->lat_ns = qp_calloc(r->batches, sizeof *r->lat_ns);
  if (r->bodies == NULL || r->sizes == NULL || r->lat_ns == NULL) return QP_ENOMEM;
  for (uint64_t b = 0; b < r->batches; b++) {
    qp_buf_t *buf = &r->bodies[b];
    buf->max = (size_t)1 << 30;
    qp_buf_append(buf, "[", 1);
    for (uint64_t i = b * per; i < n && i < (b + 1) * per; i++) {
      json_t *ev = pool[i % RK_POOL];
      rk_event_set(ev, i, n, rng);
      char *text = json_dumps(ev, JSON_COMPACT);
      if (text == NULL) return QP_ENOMEM;
      if (i > b * per) qp_buf_append(buf, ",", 1);
      qp_buf_append(buf, text, strlen(text));
      free(text); /* jansson's allocation */
      r->sizes[b]++;
    }
    qp_buf_append(buf, "]", 1);
    if (buf->failed) return QP_ENOMEM;
  }
  return 0;
}

static uint32_t count_decisions(const char *body) {
  uint32_t k = 0;
  for (const char *p = body; (p = strstr(p, "\"decision\":")) != NULL; p++) k++;
  return k;
}

static void *client(void *arg) {
  run_t *r = arg;
  CURL *e = curl_easy_init();
  if (e == NULL) atomic_store(&r->failed, true);
  uint64_t b;
  while (e != NULL && !atomic_load(&r->failed) &&
         (b = atomic_fetch_add(&r->next, 1)) < r->batches) {
    char *out = NULL;
    long code = 0;
    uint64_t t0 = qp_clock_mono_ns();
    int rc = rk_call(e, r->node, "POST", "/v1/risk/decide", "application/json",
                     r->bodies[b].data, r->bodies[b].len, &out, &code);
    r->lat_ns[b] = qp_clock_mono_ns() - t0;
    uint32_t got = rc == 0 && code == 200 ? count_decisions(out) : 0;
    if (got != r->sizes[b]) {
      fprintf(stderr, "risk-bench: batch %llu: %s, HTTP %ld, %u decisions for %u events: %.300s\n",
              (unsigned long long)b, rc == 0 ? "answered" : qp_strerror(rc), code, got,
              r->sizes[b], out != NULL ? out : "");
      atomic_store(&r->failed, true);
    }
    qp_free(out);
  }
  curl_easy_cleanup(e);
  return NULL;
}

/* One plain request that must answer 200; its body into *out (qp_free). */
static int call_ok(const rk_node_t *n, const char *method, const char *path, const char *body,
                   char **out) {
  CURL *e = curl_easy_init();
  long code = 0;
  *out = NULL;
  int rc = e == NULL ? QP_ENOMEM
                     : rk_call(e, n, method, path, "application/json", body,
                               body ? strlen(body) : 0, out, &code);
  if (e != NULL) curl_easy_cleanup(e);
  if (rc == 0 && code != 200) {
    fprintf(stderr, "risk-bench: %s %s: HTTP %ld: %.300s\n", method, path, code, *out);
    rc = QP_EIO;
  }
  if (rc != 0) {
    qp_free(*out);
    *out = NULL;
  }
  return rc;
}

/* The two lists of the in-process part, over the API. */
static int load_lists(const rk_node_t *n) {
  json_t *blocked = json_array();
  char item[24], *out;
  for (uint32_t i = 0; i < RK_BLOCKED; i++) {
    rk_blocked_item(i, item, sizeof item);
    json_array_append_new(blocked, json_string(item));
  }
  json_t *body = json_pack("{s:o}", "add", blocked);
  char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  int rc = text != NULL ? call_ok(n, "POST", "/v1/risk/lists/blocked", text, &out) : QP_ENOMEM;
  free(text); /* jansson's allocation */
  qp_free(out);
  if (rc == 0) rc = call_ok(n, "POST", "/v1/risk/lists/bad_ips",
                            "{\"add\": [\"" RK_BAD_IPS "\"]}", &out);
  qp_free(out);
  return rc;
}

/* The node's decision counters: their sum into *total, and a summary line. */
static int node_counts(const rk_node_t *n, uint64_t *total, char *line, size_t size) {
  static const char *const names[] = {"allow", "challenge", "review", "block"};
  char *out, want[80];
  int rc = call_ok(n, "GET", "/metrics", NULL, &out);
  size_t k = 0;
  *total = 0;
  for (int i = 0; rc == 0 && i < 4; i++) {
    snprintf(want, sizeof want, "quipu_risk_decisions_total{decision=\"%s\"} ", names[i]);
    const char *p = strstr(out, want);
    unsigned long long v = p != NULL ? strtoull(p + strlen(want), NULL, 10) : 0;
    *total += v;
    k += (size_t)snprintf(line + k, k < size ? size - k : 0, "%s%s %llu", i ? ", " : "",
                          names[i], v);
  }
  qp_free(out);
  return rc;
}

static void report(const run_t *r, uint64_t wall_ns, double cpu_s) {
  uint64_t *sorted = qp_malloc(r->batches * sizeof *sorted);
  if (sorted == NULL) return;
  memcpy(sorted, r->lat_ns, r->batches * sizeof *sorted);
  qb_sort_u64(sorted, r->batches);
  uint64_t p50 = qb_percentile(sorted, r->batches, 50);
  uint64_t p99 = qb_percentile(sorted, r->batches, 99);
  uint64_t per_s = r->cfg->events * 1000000000ull / (wall_ns ? wall_ns : 1);
  printf("RESULT risk_http_decisions_per_s %llu decisions/s\n", (unsigned long long)per_s);
  printf("RESULT risk_http_batch_p50_ms %llu.%03llu ms\n", (unsigned long long)(p50 / 1000000),
         (unsigned long long)(p50 / 1000 % 1000));
  printf("RESULT risk_http_batch_p99_ms %llu.%03llu ms\n", (unsigned long long)(p99 / 1000000),
         (unsigned long long)(p99 / 1000 % 1000));
  if (cpu_s >= 0)
    printf("RESULT risk_http_node_cpu_us_per_decision %.2f us\n",
           cpu_s * 1e6 / (double)r->cfg->events);
  qp_free(sorted);
}


/* The batches over cfg->connections threads; the wall time into *wall_ns. */
static int send_all(run_t *r, uint64_t *wall_ns, double *cpu_s) {
  pthread_t threads[256];
  uint32_t started = 0;
  double cpu0 = qb_node_cpu_s(r->node);
  uint64_t t0 = qp_clock_mono_ns();
  for (; started < r->cfg->connections; started++)
    if (pthread_create(&threads[started], NULL, client, r) != 0) {
      atomic_store(&r->failed, true);
      break;
    }
  for (uint32_t i = 0; i < started; i++) pthread_join(threads[i], NULL);
  *wall_ns = qp_clock_mono_ns() - t0;
  double cpu1 = qb_node_cpu_s(r->node);
  *cpu_s = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
  return atomic_load(&r->failed) ? QP_EIO : 0;
}

static void run_free(run_t *r) {
  for (uint64_t b = 0; r->bodies != NULL && b < r->batches; b++) qp_buf_free(&r->bodies[b]);
  qp_free(r->bodies);
  qp_free(r->sizes);
  qp_free(r->lat_ns);
}

int rk_http_run(const rk_http_config_t *cfg) {
  static char text[1 << 17];
  static json_t *pool[RK_POOL];
  qp_rng_t rng;
  qp_rng_seed(&rng, RK_SEED);
  size_t len = rk_gen_ruleset(&rng, text, sizeof text);
  rk_gen_pool(&rng, pool);
  run_t r = {.cfg = cfg};
  rk_node_t node = {0};
  int rc = build_bodies(&r, pool, &rng);
  if (rc == 0) rc = rk_node_start(cfg, text, len, &node);
  r.node = &node;
  if (rc == 0) rc = load_lists(&node);
  uint64_t wall_ns = 0, total = 0;
  double cpu_s = -1;
  if (rc == 0) {
    printf("http: the generated ruleset (%u rules, %u features, %zu bytes) on a node; %llu "
           "events in %llu batches of %u over %u connections\n", RK_RULES, RK_FEATURES, len,
           (unsigned long long)cfg->events, (unsigned long long)r.batches, cfg->batch,
           cfg->connections);
    rc = send_all(&r, &wall_ns, &cpu_s);
  }
  char line[200] = "";
  if (rc == 0) rc = node_counts(&node, &total, line, sizeof line);
  if (rc == 0) printf("http: the node decided %s\n", line);
  if (rc == 0 && total != cfg->events) {
    fprintf(stderr, "risk-bench: the node counted %llu decisions for %llu events sent\n",
            (unsigned long long)total, (unsigned long long)cfg->events);
    rc = QP_ECORRUPT;
  }
  if (rc == 0) report(&r, wall_ns, cpu_s);
  if (node.pid > 0 && rk_node_stop(&node, cfg->keep) != 0 && rc == 0) rc = QP_EIO;
  for (int i = 0; i < RK_POOL; i++) json_decref(pool[i]);
  run_free(&r);
  return rc == 0 ? 0 : 1;
}
