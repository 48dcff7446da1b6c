/*
 * routes_admin.c - the ruleset routes: PUT /v1/risk/ruleset[?mode=shadow]
 * (compile, journal, swap; answers once the new ruleset is live), GET
 * /v1/risk/ruleset, GET and DELETE /v1/risk/shadow, GET /v1/risk/changes
 * (the journal: who changed what, when).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "risk/module_int.h"

typedef struct args {
  const char *mode;   /* "live" or "shadow" */
  uint64_t after;     /* changes: after this seq */
  uint64_t limit;     /* changes: at most this many */
  char bad[64];       /* the first argument refused ("" = none) */
  bool bad_value;     /* ... for its value (else its name) */
} args_t;

static bool number(const char *v, uint64_t max, uint64_t *out) {
  char *end;
  if (v == NULL || v[0] < '0' || v[0] > '9') return false;
  unsigned long long n = strtoull(v, &end, 10);
  if (*end != '\0' || n > max) return false;
  *out = n;
  return true;
}

static bool one_arg(void *ctx, const char *key, const char *value) {
  args_t *a = ctx;
  bool ok = true, known = true;
  if (strcmp(key, "mode") == 0 && a->mode != NULL) {
    ok = value != NULL && (strcmp(value, "live") == 0 || strcmp(value, "shadow") == 0);
    if (ok) a->mode = value;
  } else if (strcmp(key, "after") == 0 && a->mode == NULL) {
    ok = number(value, UINT64_MAX / 2, &a->after);
  } else if (strcmp(key, "limit") == 0 && a->mode == NULL) {
    ok = number(value, 1000, &a->limit) && a->limit > 0;
  } else {
    known = false;
  }
  if (ok && known) return true;
  snprintf(a->bad, sizeof a->bad, "%s", key);
  a->bad_value = known;
  return false;
}

static bool parse_args(qp_http_request_t *req, qp_http_reply_t *r, args_t *a) {
  if (qp_http_query_each(req, one_arg, a)) return true;
  char msg[160];
  if (a->bad_value)
    snprintf(msg, sizeof msg, "%s", strcmp(a->bad, "mode") == 0
                                        ? "mode is live (the default) or shadow"
                                        : "after is a sequence number, limit 1 to 1000");
  else
    snprintf(msg, sizeof msg, "unknown query argument \"%.40s\"", a->bad);
  qp_http_reply_fail(r, 400, a->bad_value ? "invalid_value" : "unknown_parameter", a->bad, msg);
  return false;
}

static void reply_compile_errors(qp_http_reply_t *r, const qp_risk_errors_t *errs) {
  qp_http_error_t e = {0};
  qp_http_error_set(&e, 400, "ruleset_invalid", "", "line %u, column %u: %s%s",
                    errs->items[0].line, errs->items[0].column, errs->items[0].message,
                    errs->count > 1 ? " (and more: see errors)" : "");
  e.line = (int)errs->items[0].line;
  e.column = (int)errs->items[0].column;
  json_t *body = qp_http_error_json(&e), *list = json_array();
  for (uint32_t i = 0; i < errs->count; i++)
    json_array_append_new(list, json_pack("{s:i, s:i, s:s}", "line", errs->items[i].line,
                                          "column", errs->items[i].column, "message",
                                          errs->items[i].message));
  json_object_set_new(json_object_get(body, "error"), "errors", list);
  qp_http_reply_json(r, 400, body);
}

/* Compiles the body: the ruleset, or NULL with the reply made. */
static qp_risk_ruleset_t *compile_body(qp_http_request_t *req, qp_http_reply_t *r,
                                       const char **text, size_t *len) {
  *text = qp_http_body(req, len);
  if (*text == NULL) *text = "";
  qp_risk_errors_t *errs = qp_malloc(sizeof *errs);
  qp_risk_ruleset_t *rs = NULL;
  int rc = errs != NULL ? qp_risk_compile(*text, *len, &rs, errs) : QP_ENOMEM;
  if (rc == QP_EPARSE) reply_compile_errors(r, errs);
  else if (rc == QP_ELIMIT)
    qp_http_reply_fail(r, 413, "ruleset_too_large", "", "a ruleset is at most 4 MiB");
  else if (rc != 0)
    qp_http_reply_fail(r, 503, "out_of_memory", "", "no memory to compile the ruleset");
  qp_free(errs);
  return rc == 0 ? rs : NULL;
}

void qp__risk_route_ruleset_put(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__risk_mod_t *m = ctx;
  args_t a = {.mode = "live"};
  if (!parse_args(req, r, &a)) return;
  const char *text;
  size_t len;
  qp_risk_ruleset_t *rs = compile_body(req, r, &text, &len);
  if (rs == NULL) return;
  bool shadow = strcmp(a.mode, "shadow") == 0;
  char who[QP_RISK_WHO_MAX + 1];
  qp__risk_who(req, who);
  json_t *rec = json_pack("{s:s, s:s#, s:s}", "mode", a.mode, "text", text, len, "hash",
                          qp_risk_ruleset_hash(rs));
  char conflict[300];
  pthread_mutex_lock(&m->lock);
  int rc = qp_risk_lists_compatible(m->lists, rs, conflict, sizeof conflict);
  if (rc == 0)
    rc = rec != NULL ? qp__risk_journal_append(m, QP__RISK_J_RULESET, rec, who) : QP_ENOMEM;
  if (rc == 0)
    rc = qp__risk_install(m, shadow, text, len, rs, who,
                          (int64_t)(qp_clock_wall_ns() / 1000000000u));
  pthread_mutex_unlock(&m->lock);
  json_decref(rec);
  if (rc != 0) {
    qp_risk_ruleset_free(rs);
    if (rc == QP_EEXISTS)
      qp_http_reply_fail(r, 409, "list_kind_conflict", "", conflict);
    else
      qp_http_reply_fail(r, 503, "not_installed", "", "the change could not be made durable; "
                         "the ruleset in force is unchanged");
    return;
  }
  qp_http_reply_json(r, 200, json_pack("{s:s, s:i, s:i, s:s}", "ruleset",
                                       qp_risk_ruleset_hash(rs), "rules",
                                       qp_risk_ruleset_rules(rs), "features",
                                       qp_risk_ruleset_features(rs), "mode", a.mode));
}

static json_t *snoozes_json(const qp__risk_mod_t *m) {
  json_t *a = json_array();
  for (uint32_t i = 0; i < m->snoozes_count; i++) {
    const qp__risk_snooze_t *z = &m->snoozes[i];
    json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:I, s:I}", "rule", z->rule, "reason",
                                       z->reason, "by", z->by, "at", (json_int_t)z->at_s,
                                       "until", (json_int_t)z->until_s));
  }
  return a;
}

void qp__risk_route_ruleset_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__risk_mod_t *m = ctx;
  (void)req;
  pthread_mutex_lock(&m->lock);
  qp__risk_snoozes_apply(m, (int64_t)(qp_clock_wall_ns() / 1000000000u));
  const qp__risk_slot_t *s = &m->live;
  json_t *o = json_pack("{s:s, s:i, s:i, s:s, s:I, s:s#, s:o, s:o}", "ruleset",
                        qp_risk_ruleset_hash(s->rs), "rules", qp_risk_ruleset_rules(s->rs),
                        "features", qp_risk_ruleset_features(s->rs), "installed_by", s->by,
                        "installed_at", (json_int_t)s->at_s, "text", s->text, s->text_len,
                        "shadow",
                        m->shadow.rs != NULL ? json_string(qp_risk_ruleset_hash(m->shadow.rs))
                                             : json_null(),
                        "snoozes", snoozes_json(m));
  pthread_mutex_unlock(&m->lock);
  qp_http_reply_json(r, 200, o);
}

void qp__risk_route_shadow_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__risk_mod_t *m = ctx;
  (void)req;
  pthread_mutex_lock(&m->lock);
  json_t *o = m->shadow.rs != NULL ? qp__risk_shadow_report(m) : NULL;
  pthread_mutex_unlock(&m->lock);
  if (o == NULL)
    qp_http_reply_fail(r, 404, "no_shadow", "", "no shadow ruleset is installed (PUT "
                       "/v1/risk/ruleset?mode=shadow installs one)");
  else
    qp_http_reply_json(r, 200, o);
}

void qp__risk_route_shadow_delete(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__risk_mod_t *m = ctx;
  char who[QP_RISK_WHO_MAX + 1];
  qp__risk_who(req, who);
  json_t *rec = json_object();
  pthread_mutex_lock(&m->lock);
  json_t *report = m->shadow.rs != NULL ? qp__risk_shadow_report(m) : NULL;
  int rc = report != NULL ? qp__risk_journal_append(m, QP__RISK_J_SHADOW_STOP, rec, who) : 0;
  if (report != NULL && rc == 0) qp__risk_shadow_stop(m);
  pthread_mutex_unlock(&m->lock);
  json_decref(rec);
  if (report == NULL) {
    qp_http_reply_fail(r, 404, "no_shadow", "", "no shadow ruleset is installed");
  } else if (rc != 0) {
    json_decref(report);
    qp_http_reply_fail(r, 503, "not_stopped", "", "the change could not be made durable");
  } else {
    qp_http_reply_json(r, 200, json_pack("{s:b, s:o}", "stopped", 1, "report", report));
  }
}

void qp__risk_route_changes_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__risk_mod_t *m = ctx;
  args_t a = {.limit = 100};
  if (!parse_args(req, r, &a)) return;
  json_t *list = json_array();
  pthread_mutex_lock(&m->lock);
  int rc = qp__risk_journal_list(m, a.after, (uint32_t)a.limit, list);
  pthread_mutex_unlock(&m->lock);
  if (rc != 0) {
    json_decref(list);
    qp_http_reply_fail(r, 500, "journal_unreadable", "", qp_strerror(rc));
    return;
  }
  qp_http_reply_json(r, 200, json_pack("{s:o}", "changes", list));
}
