/*
 * scope_limits.c - rate limits per (API key, scope), from node.json
 * http.rate_limits (docs/http.md, "Rate limits per scope").
 *
 * A limited scope gives every key its own token bucket for the routes that
 * need the scope (the bucket of ratelimit.c, integers only): a key may make
 * `burst` such requests at once and `rate_per_s` a second after that, and
 * the key's own limit (auth.c) still applies on top.  The core charges a
 * route that names its scope right after the scope check; a handler that
 * decides the scope itself (its route's scope is NULL) charges with
 * qp_http_rate_limit.  A request is charged once per scope, whoever asks.
 *
 * The buckets sit in a table split in QP__HTTP_SCOPE_STRIPES stripes by a
 * hash of (key id, scope), each with its own mutex held for a scan and a
 * few integer operations: there is no global lock on the request path.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/clock.h"
#include "base/err.h"
#include "http/http_int.h"

#define ROWS_FIRST 8u /* rows a stripe allocates first */

static int fail(char *detail, size_t size, const char *scope, const char *message) {
  if (detail != NULL && size > 0) snprintf(detail, size, "%.48s: %s", scope, message);
  return QP_EINVAL;
}

int qp_http_scope_limits_check(const qp_http_scope_limit_t *limits, uint32_t count, char *detail,
                               size_t detail_size) {
  if (count > QP_HTTP_SCOPE_LIMITS_MAX)
    return fail(detail, detail_size, "rate_limits", "at most 16 scopes may have a limit");
  for (uint32_t i = 0; i < count; i++) {
    const qp_http_scope_limit_t *l = &limits[i];
    if (memchr(l->scope, '\0', sizeof l->scope) == NULL || strchr(l->scope, ',') != NULL ||
        !qp__http_scopes_wellformed(l->scope))
      return fail(detail, detail_size, "rate_limits",
                  "a scope name is letters a-z, digits, '_' and ':' (\"payments:write\")");
    if (l->rate_per_s == 0 || l->rate_per_s > QP_HTTP_KEY_RATE_MAX)
      return fail(detail, detail_size, l->scope,
                  "rate_per_s must be an integer from 1 to 1000000 (requests a second per key)");
    if (l->burst == 0 || l->burst > QP_HTTP_KEY_RATE_MAX)
      return fail(detail, detail_size, l->scope,
                  "burst must be an integer from 1 to 1000000 (requests at once per key)");
    for (uint32_t j = 0; j < i; j++)
      if (strcmp(limits[j].scope, l->scope) == 0)
        return fail(detail, detail_size, l->scope, "the scope is listed twice");
  }
  return 0;
}

int qp__http_scope_limit_find(const qp_http_scope_limit_t *limits, uint32_t count,
                              const char *scope) {
  if (scope == NULL) return -1;
  for (uint32_t i = 0; i < count; i++)
    if (strcmp(limits[i].scope, scope) == 0) return (int)i;
  return -1;
}

void qp__http_scope_table_init(qp__http_scope_table_t *t) {
  memset(t, 0, sizeof *t);
  for (uint32_t i = 0; i < QP__HTTP_SCOPE_STRIPES; i++)
    pthread_mutex_init(&t->stripes[i].mutex, NULL);
}

void qp__http_scope_table_deinit(qp__http_scope_table_t *t) {
  for (uint32_t i = 0; i < QP__HTTP_SCOPE_STRIPES; i++) {
    pthread_mutex_destroy(&t->stripes[i].mutex);
    qp_free(t->stripes[i].rows);
    t->stripes[i].rows = NULL;
  }
}

/* FNV-1a over the key id and the limit's index: which stripe holds it. */
static uint32_t stripe_of(const char *key_id, uint32_t limit) {
  uint32_t h = 2166136261u;
  for (const char *p = key_id; *p != '\0'; p++) h = (h ^ (uint8_t)*p) * 16777619u;
  h = (h ^ limit) * 16777619u;
  return h % QP__HTTP_SCOPE_STRIPES;
}

/* The row of (key_id, limit) in stripe st, made (with a full bucket) when
 * missing; NULL when out of memory.  Called with the stripe's mutex held. */
static qp__http_scope_row_t *row_get(qp__http_scope_stripe_t *st, const char *key_id,
                                     uint32_t limit) {
  for (uint32_t i = 0; i < st->count; i++)
    if (st->rows[i].limit == limit && strcmp(st->rows[i].key_id, key_id) == 0)
      return &st->rows[i];
  if (st->count == st->capacity) {
    uint32_t capacity = st->capacity == 0 ? ROWS_FIRST : st->capacity * 2u;
    qp__http_scope_row_t *rows = qp_realloc(st->rows, (size_t)capacity * sizeof *rows);
    if (rows == NULL) return NULL;
    st->rows = rows;
    st->capacity = capacity;
  }
  qp__http_scope_row_t *row = &st->rows[st->count++];
  memset(row, 0, sizeof *row);
  snprintf(row->key_id, sizeof row->key_id, "%s", key_id);
  row->limit = limit;
  return row;
}

int qp__http_scope_take(qp__http_scope_table_t *t, const char *key_id, uint32_t limit,
                        uint32_t rate_per_s, uint32_t burst, uint64_t now_ns,
                        uint32_t *retry_after_s) {
  QP_ASSERT(limit < QP_HTTP_SCOPE_LIMITS_MAX);
  *retry_after_s = 0;
  qp__http_scope_stripe_t *st = &t->stripes[stripe_of(key_id, limit)];
  pthread_mutex_lock(&st->mutex);
  qp__http_scope_row_t *row = row_get(st, key_id, limit);
  bool ok = row != NULL &&
            qp__http_bucket_take(&row->bucket, rate_per_s, burst, now_ns, retry_after_s);
  pthread_mutex_unlock(&st->mutex);
  if (row == NULL) return QP_ENOMEM;
  if (ok) return 0;
  atomic_fetch_add_explicit(&t->refused[limit], 1, memory_order_relaxed);
  return QP_ELIMIT;
}

bool qp__http_scope_admit(qp_http_server_t *s, const char *key_id, const char *scope,
                          uint32_t *charged, qp_http_error_t *err, uint32_t *retry_after_s) {
  const qp_http_options_t *o = &s->options;
  int i = qp__http_scope_limit_find(o->scope_limits, o->scope_limits_count, scope);
  if (i < 0 || (*charged & (1u << i)) != 0) return true;
  *charged |= 1u << i;
  const qp_http_scope_limit_t *l = &o->scope_limits[i];
  int rc = qp__http_scope_take(&s->scope_buckets, key_id, (uint32_t)i, l->rate_per_s, l->burst,
                               qp_clock_mono_ns(), retry_after_s);
  if (rc == QP_ENOMEM) {
    qp_http_error_set(err, 503, "overloaded", "", "out of memory for rate limits; retry shortly");
    return false;
  }
  if (rc != 0) {
    qp_http_error_set(err, 429, "rate_limited", "",
                      "the API key %s may make %u requests a second needing the scope %s (%u "
                      "at once); retry after %u s",
                      key_id[0] != '\0' ? key_id : "(none)", l->rate_per_s, l->scope, l->burst,
                      *retry_after_s);
    return false;
  }
  return true;
}

bool qp_http_rate_limit(qp_http_request_t *req, const char *scope, qp_http_reply_t *r) {
  qp_http_error_t err;
  uint32_t retry_after_s = 0;
  if (qp__http_scope_admit(req->server, req->caller->key_id, scope, &req->scopes_charged, &err,
                           &retry_after_s))
    return true;
  qp_http_reply_error(r, &err);
  r->retry_after_s = retry_after_s;
  return false;
}

void qp__http_scope_metrics(qp_http_server_t *s, qp_http_text_t *t) {
  const qp_http_options_t *o = &s->options;
  if (o->scope_limits_count == 0) return;
  qp_http_metric_header(t, "quipu_http_scope_rate_limited_total", "counter",
                        "Requests refused 429 rate_limited by a per-scope limit, by scope.");
  for (uint32_t i = 0; i < o->scope_limits_count; i++)
    qp_http_text_put(t, "quipu_http_scope_rate_limited_total{scope=\"%s\"} %llu\n",
                     o->scope_limits[i].scope,
                     (unsigned long long)atomic_load_explicit(&s->scope_buckets.refused[i],
                                                              memory_order_relaxed));
}
