/*
 * routes_recent.c - what the engine decided lately, for the console:
 * GET /v1/risk/decisions?limit=&outcome= (the latest decisions, newest
 * first, from a ring of QP_RISK_RECENT_MAX) and GET
 * /v1/risk/stats?bucket_s=&buckets= (decisions per outcome per time bucket
 * by the node's clock, over the last QP_RISK_STATS_SECONDS).  In memory
 * only: a restart starts them empty.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "risk/module_int.h"

typedef struct args {
  uint64_t limit, bucket_s, buckets; /* the numbers asked for */
  int outcome;                       /* -1 = any */
  bool stats;                        /* which route */
  char bad[64];                      /* the first argument refused ("" = none) */
  bool bad_value;                    /* ... for its value (else its name) */
} args_t;

static bool number(const char *v, uint64_t min, uint64_t max, uint64_t *out) {
  char *end;
  if (v == NULL || v[0] < '0' || v[0] > '9') return false;
  unsigned long long n = strtoull(v, &end, 10);
  if (*end != '\0' || n < min || n > max) return false;
  *out = n;
  return true;
}

static int outcome_of(const char *v) {
  for (int o = 0; v != NULL && o < 4; o++)
    if (strcmp(v, qp_risk_outcome_name((qp_risk_outcome_t)o)) == 0) return o;
  return -1;
}

static bool one_arg(void *ctx, const char *key, const char *value) {
  args_t *a = ctx;
  bool ok = true, known = true;
  if (!a->stats && strcmp(key, "limit") == 0) {
    ok = number(value, 1, QP_RISK_RECENT_MAX, &a->limit);
  } else if (!a->stats && strcmp(key, "outcome") == 0) {
    a->outcome = outcome_of(value);
    ok = a->outcome >= 0;
  } else if (a->stats && strcmp(key, "bucket_s") == 0) {
    ok = number(value, 1, 3600, &a->bucket_s);
  } else if (a->stats && strcmp(key, "buckets") == 0) {
    ok = number(value, 1, 1440, &a->buckets);
  } else {
    known = false;
  }
  if (ok && known) return true;
  snprintf(a->bad, sizeof a->bad, "%s", key);
  a->bad_value = known;
  return false;
}

static bool parse_args(qp_http_request_t *req, qp_http_reply_t *r, args_t *a) {
  bool ok = qp_http_query_each(req, one_arg, a);
  if (ok && a->stats && a->bucket_s * a->buckets > QP_RISK_STATS_SECONDS) {
    snprintf(a->bad, sizeof a->bad, "buckets");
    a->bad_value = ok = false;
    char msg[160];
    snprintf(msg, sizeof msg, "bucket_s x buckets is at most %u seconds (the counts kept)",
             QP_RISK_STATS_SECONDS);
    qp_http_reply_fail(r, 400, "invalid_argument", "buckets", msg);
    return false;
  }
  if (ok) return true;
  char msg[200];
  if (!a->bad_value)
    snprintf(msg, sizeof msg, "unknown query argument \"%.40s\"", a->bad);
  else if (strcmp(a->bad, "outcome") == 0)
    snprintf(msg, sizeof msg, "outcome is allow, challenge, review or block");
  else if (strcmp(a->bad, "limit") == 0)
    snprintf(msg, sizeof msg, "limit is 1 to %u", QP_RISK_RECENT_MAX);
  else
    snprintf(msg, sizeof msg, "%s is %s", a->bad,
             strcmp(a->bad, "bucket_s") == 0 ? "1 to 3600 seconds" : "1 to 1440");
  qp_http_reply_fail(r, 400, "invalid_argument", a->bad, msg);
  return false;
}

void qp__risk_route_decisions_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__risk_mod_t *m = ctx;
  args_t a = {.limit = 50, .outcome = -1};
  if (!parse_args(req, r, &a)) return;
  qp_buf_t out = {.max = (size_t)1 << 30};
  pthread_mutex_lock(&m->lock);
  int rc = qp__risk_recent_list(m->recent, (uint32_t)a.limit, a.outcome, &out);
  pthread_mutex_unlock(&m->lock);
  if (rc != 0) {
    qp_buf_free(&out);
    qp_http_reply_fail(r, 503, "overloaded", "", "out of memory, try again");
    return;
  }
  qp_http_reply_text(r, 200, out.data, "application/json");
}

static json_t *bucket_json(int64_t start, const uint64_t counts[4]) {
  json_t *b = json_object();
  json_object_set_new(b, "start", json_integer(start));
  for (int o = 0; o < 4; o++)
    json_object_set_new(b, qp_risk_outcome_name((qp_risk_outcome_t)o),
                        json_integer((json_int_t)counts[o]));
  return b;
}

void qp__risk_route_stats_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__risk_mod_t *m = ctx;
  args_t a = {.bucket_s = 60, .buckets = 60, .outcome = -1, .stats = true};
  if (!parse_args(req, r, &a)) return;
  int64_t now = (int64_t)(qp_clock_wall_ns() / 1000000000u);
  int64_t bs = (int64_t)a.bucket_s, last = now - now % bs;
  json_t *buckets = json_array(), *totals = json_object();
  uint64_t sum[4] = {0};
  pthread_mutex_lock(&m->lock);
  for (int64_t i = (int64_t)a.buckets - 1; i >= 0; i--) {
    uint64_t c[4];
    int64_t start = last - i * bs;
    qp__risk_recent_counts(m->recent, start, start + bs, c);
    for (int o = 0; o < 4; o++) sum[o] += c[o];
    json_array_append_new(buckets, bucket_json(start, c));
  }
  pthread_mutex_unlock(&m->lock);
  for (int o = 0; o < 4; o++)
    json_object_set_new(totals, qp_risk_outcome_name((qp_risk_outcome_t)o),
                        json_integer((json_int_t)sum[o]));
  json_t *j = json_object();
  json_object_set_new(j, "bucket_s", json_integer(bs));
  json_object_set_new(j, "now", json_integer(now));
  json_object_set_new(j, "buckets", buckets);
  json_object_set_new(j, "totals", totals);
  qp_http_reply_json(r, 200, j);
}
