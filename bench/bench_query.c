/*
 * bench_query.c - query latency over HTTP against a server the run has
 * filled: POST /v1/accounts/query and /v1/transfers/query, one request at
 * a time on one keep-alive connection, each answer checked, beside the
 * baseline of the same run and connection: GET /v1/accounts/{id}, the
 * cheapest read there is.
 *
 * The HTTP drivers create every account with user_data_32 = id % 10000 + 1
 * (bench_http.c), so one value selects accounts/10000 accounts: 10 at
 * 100k, 1,000 at 10M.  Kinds:
 *   lookup                     GET /v1/accounts/{random id}            (baseline)
 *   lookup100                  POST /v1/accounts/lookup, 100 random ids (baseline: as many rows
 *                              as a query page)
 *   query_accounts_ud32        {"user_data_32":v,"limit":100}
 *   query_accounts_ud32_code   {"user_data_32":v,"code":C,"limit":100} (two runs intersected)
 *   query_transfers_newest     {"ledger":L,"flags":["reversed"],"limit":100}
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "bench_int.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/rng.h"

#define QUERIES_PER_KIND 300u
#define UD32_VALUES 10000u

typedef struct qconn {
  CURL *curl;
  struct curl_slist *headers;
  qp_buf_t body; /* the last answer */
} qconn_t;

static size_t on_data(char *p, size_t size, size_t n, void *ctx) {
  return qp_buf_append(ctx, p, size * n) ? size * n : 0;
}

/* One request; its answer in c->body (NUL-terminated) and *ns its time. */
static int request(qconn_t *c, const char *url, const char *post, uint64_t *ns) {
  qp_buf_reset(&c->body);
  curl_easy_setopt(c->curl, CURLOPT_URL, url);
  curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
  if (post != NULL) curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, post);
  uint64_t t0 = qp_clock_mono_ns();
  CURLcode rc = curl_easy_perform(c->curl);
  *ns = qp_clock_mono_ns() - t0;
  long status = 0;
  curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK || status != 200 || c->body.data == NULL) {
    fprintf(stderr, "query bench: %s: %s, status %ld\n", url, curl_easy_strerror(rc), status);
    return QP_EIO;
  }
  return 0;
}

/* Checks an answer: rows under `key`, each with `field` equal to `want`
 * (when field is not NULL), at least `min_rows` of them. */
static int check_rows(const qconn_t *c, const char *key, const char *field, json_int_t want,
                      size_t min_rows) {
  json_t *root = json_loads((const char *)c->body.data, 0, NULL);
  json_t *rows = json_object_get(root, key);
  size_t n = json_array_size(rows);
  int rc = rows != NULL && n >= min_rows ? 0 : QP_ECORRUPT;
  for (size_t i = 0; i < n && rc == 0 && field != NULL; i++)
    if (json_integer_value(json_object_get(json_array_get(rows, i), field)) != want)
      rc = QP_ECORRUPT;
  json_decref(root);
  if (rc != 0) fprintf(stderr, "query bench: a wrong %s answer: %.300s\n", key, c->body.data);
  return rc;
}

/* Runs QUERIES_PER_KIND requests of one kind; latencies into lat. */
static int run_kind(qconn_t *c, const char *base, uint64_t accounts, int kind, uint64_t *rng,
                    uint64_t *lat) {
  char url[256], post[2048];
  int rc = 0;
  for (uint32_t i = 0; i < QUERIES_PER_KIND && rc == 0; i++) {
    uint64_t r = qp_splitmix64(rng);
    json_int_t v = (json_int_t)(r % UD32_VALUES) + 1;
    const char *body = post;
    if (kind == 0) {
      snprintf(url, sizeof url, "%s/v1/accounts/%llu", base,
               (unsigned long long)(1 + r % accounts));
      body = NULL;
    } else if (kind == 4) {
      snprintf(url, sizeof url, "%s/v1/accounts/lookup", base);
      size_t at = (size_t)snprintf(post, sizeof post, "{\"ids\":[");
      for (int k = 0; k < 100; k++) {
        uint64_t id = 1 + qp_splitmix64(rng) % accounts;
        at += (size_t)snprintf(post + at, sizeof post - at, "%s%llu", k ? "," : "",
                               (unsigned long long)id);
      }
      snprintf(post + at, sizeof post - at, "]}");
    } else if (kind == 3) {
      snprintf(url, sizeof url, "%s/v1/transfers/query", base);
      snprintf(post, sizeof post, "{\"ledger\":%u,\"flags\":[\"reversed\"],\"limit\":100}",
               QB_LEDGER);
    } else {
      snprintf(url, sizeof url, "%s/v1/accounts/query", base);
      snprintf(post, sizeof post, "{\"user_data_32\":%lld,%s\"limit\":100}", (long long)v,
               kind == 2 ? "\"code\":1," : "");
    }
    rc = request(c, url, body, &lat[i]);
    size_t expect = accounts / UD32_VALUES < 100 ? accounts / UD32_VALUES : 100;
    if (rc == 0 && kind == 1) rc = check_rows(c, "accounts", "user_data_32", v, expect);
    if (rc == 0 && kind == 2) rc = check_rows(c, "accounts", "user_data_32", v, expect);
    if (rc == 0 && kind == 3) rc = check_rows(c, "transfers", NULL, 0, 100);
    if (rc == 0 && kind == 4) rc = check_rows(c, "accounts", NULL, 0, 100);
  }
  return rc;
}

static void report(qb_report_t *rep, const char *prefix, const char *kind, uint64_t *lat,
                   uint64_t base_p50) {
  char name[128];
  qb_sort_u64(lat, QUERIES_PER_KIND);
  uint64_t p50 = qb_percentile(lat, QUERIES_PER_KIND, 50);
  snprintf(name, sizeof name, "%s_%s_p50", prefix, kind);
  qb_report_add(rep, name, (double)p50 / 1e3, "us", 0);
  snprintf(name, sizeof name, "%s_%s_p99", prefix, kind);
  qb_report_add(rep, name, (double)qb_percentile(lat, QUERIES_PER_KIND, 99) / 1e3, "us", 0);
  if (base_p50 == 0) return;
  snprintf(name, sizeof name, "%s_%s_p50_vs_lookup100", prefix, kind);
  qb_report_add(rep, name, (double)p50 / (double)base_p50, "x", 2);
}

int qb_query_latency(const char *base_url, const char *auth, uint64_t accounts,
                     const char *prefix, qb_report_t *rep) {
  /* The two baselines first; queries are compared with the 100-row one. */
  static const char *const kinds[] = {"lookup", "lookup100", "query_accounts_ud32",
                                      "query_accounts_ud32_code", "query_transfers_newest"};
  static const int order[] = {0, 4, 1, 2, 3};
  _Static_assert(QB_CODE == 1, "the two-field query names code 1");
  qconn_t c = {.curl = curl_easy_init(), .body = {.max = 64u << 20}};
  c.headers = curl_slist_append(NULL, auth);
  c.headers = curl_slist_append(c.headers, "Content-Type: application/json");
  if (c.curl == NULL || c.headers == NULL) return QP_ENOMEM;
  curl_easy_setopt(c.curl, CURLOPT_HTTPHEADER, c.headers);
  curl_easy_setopt(c.curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c.curl, CURLOPT_WRITEDATA, &c.body);
  uint64_t lat[QUERIES_PER_KIND], rng = 7, base_p50 = 0;
  int rc = 0;
  for (int k = 0; k < 5 && rc == 0; k++) {
    rc = run_kind(&c, base_url, accounts, order[k], &rng, lat);
    if (rc != 0) break;
    report(rep, prefix, kinds[k], lat, k >= 2 ? base_p50 : 0);
    if (k == 1) base_p50 = qb_percentile(lat, QUERIES_PER_KIND, 50);
  }
  if (rc != 0) {
    fprintf(stderr, "query bench: FAILED (a query failed or answered wrongly)\n");
    rep->failed = true;
  }
  qp_buf_free(&c.body);
  curl_slist_free_all(c.headers);
  curl_easy_cleanup(c.curl);
  return rc;
}
