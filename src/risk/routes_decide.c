/*
 * routes_decide.c - POST /v1/risk/decide: one event (a JSON object) gets
 * one decision; a JSON array of 1 to 8,190 events gets an array of
 * decisions in order, each seeing the features updated by the ones before
 * it.  Every event of a batch is checked before any is decided, so a bad
 * one refuses the whole batch and counts nothing.  The whole request runs
 * under the engine's lock: on one ruleset, never half of a swap.
 */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "risk/module_int.h"

void qp__risk_who(qp_http_request_t *req, char out[QP_RISK_WHO_MAX + 1]) {
  const char *id = qp_http_caller_key_id(req);
  snprintf(out, QP_RISK_WHO_MAX + 1, "%s", id != NULL && id[0] != '\0' ? id : "anonymous");
}

static json_t *parse_events(qp_http_request_t *req, qp_http_reply_t *r) {
  json_t *j = qp_http_body_object(req, r, NULL, QP_HTTP_BODY_ARRAY);
  if (j == NULL) return NULL;
  qp_http_error_t err = {0};
  if (json_is_array(j) && (json_array_size(j) == 0 || json_array_size(j) > QP_RISK_BATCH_MAX)) {
    qp_http_error_set(&err, 400, "batch_size", "", "a batch holds 1 to %u events, not %zu",
                      QP_RISK_BATCH_MAX, json_array_size(j));
    qp_http_reply_error(r, &err);
    json_decref(j);
    return NULL;
  }
  return j;
}

/* Checks every event; 0, or a 400 reply naming the first bad one. */
static int check_all(const json_t *j, qp_http_reply_t *r) {
  bool batch = json_is_array(j);
  size_t n = batch ? json_array_size(j) : 1;
  for (size_t i = 0; i < n; i++) {
    const char *field;
    char msg[200], path[64];
    const json_t *e = batch ? json_array_get(j, i) : j;
    if (qp_risk_event_check(e, &field, msg, sizeof msg) == 0) continue;
    if (batch) snprintf(path, sizeof path, "[%zu]%s%s", i, field[0] ? "." : "", field);
    else snprintf(path, sizeof path, "%s", field);
    qp_http_reply_fail(r, 400, "invalid_event", path, msg);
    return QP_EINVAL;
  }
  return 0;
}

/* Decides every event in order under the lock, rendering each decision as
 * text at once (qp_risk_decision_text): a batch's answer holds no JSON
 * objects, so the request's JSON budget is its events alone. */
static int decide_all(qp__risk_mod_t *m, const json_t *j, qp_buf_t *out) {
  bool batch = json_is_array(j);
  size_t n = batch ? json_array_size(j) : 1;
  int rc = 0;
  if (batch) qp_buf_append(out, "[", 1);
  pthread_mutex_lock(&m->lock);
  qp__risk_snoozes_apply(m, (int64_t)(qp_clock_wall_ns() / 1000000000u));
  for (size_t i = 0; i < n && rc == 0; i++) {
    uint64_t t0 = qp_clock_mono_ns();
    if (i > 0) qp_buf_append(out, ",", 1);
    rc = qp__risk_decide_text(m, batch ? json_array_get(j, i) : j, out);
    qp_http_histogram_observe(&m->latency, (qp_clock_mono_ns() - t0) / 1000u);
  }
  pthread_mutex_unlock(&m->lock);
  if (batch && rc == 0 && !qp_buf_append(out, "]", 1)) rc = QP_ENOMEM;
  return rc;
}

void qp__risk_route_decide(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__risk_mod_t *m = ctx;
  json_t *j = parse_events(req, r);
  if (j == NULL) return;
  if (check_all(j, r) != 0) {
    atomic_fetch_add(&m->refused, 1);
    json_decref(j);
    return;
  }
  qp_buf_t out = {.max = (size_t)1 << 30};
  int rc = decide_all(m, j, &out);
  json_decref(j);
  if (rc != 0 || out.failed) {
    qp_buf_free(&out);
    qp_http_reply_fail(r, 503, "engine_error", "", "the engine ran out of memory; the request "
                       "stopped at an event (the ones before it were counted)");
    return;
  }
  qp_http_reply_text(r, 200, out.data, "application/json");
}
