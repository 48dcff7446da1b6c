/*
 * routes_rules.c - GET /v1/risk/rules (every live rule: outcome, score,
 * reason, times fired since it went live, its snooze), POST /v1/risk/rules/
 * {name}/snooze {"reason", "until" | "duration_s"} (aliases expires_at and
 * expires_in_s; the rule is evaluated
 * but never fires until then; decisions list it under "snoozed" when it
 * would have) and DELETE /v1/risk/rules/{name}/snooze.  Snoozes are
 * journaled with who made them, and survive a restart.
 */
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "risk/module_int.h"

static int64_t now_s(void) { return (int64_t)(qp_clock_wall_ns() / 1000000000u); }

static const qp__risk_snooze_t *snooze_of(const qp__risk_mod_t *m, const char *rule) {
  for (uint32_t i = 0; i < m->snoozes_count; i++)
    if (strcmp(m->snoozes[i].rule, rule) == 0) return &m->snoozes[i];
  return NULL;
}

static json_t *snooze_json(const qp__risk_snooze_t *z) {
  if (z == NULL) return json_null();
  return json_pack("{s:s, s:s, s:s, s:I, s:I}", "rule", z->rule, "reason", z->reason, "by",
                   z->by, "at", (json_int_t)z->at_s, "until", (json_int_t)z->until_s);
}

void qp__risk_route_rules_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__risk_mod_t *m = ctx;
  (void)req;
  json_t *a = json_array();
  pthread_mutex_lock(&m->lock);
  qp__risk_snoozes_apply(m, now_s());
  const qp_risk_ruleset_t *rs = m->live.rs;
  for (uint32_t i = 0; i < qp_risk_ruleset_rules(rs); i++) {
    qp_risk_outcome_t o;
    int32_t score;
    const char *reason, *name = qp_risk_ruleset_rule_name(rs, i);
    qp_risk_ruleset_rule(rs, i, &o, &score, &reason);
    json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:s, s:I, s:o}", "rule", name,
                                       "outcome", qp_risk_outcome_name(o), "score", score,
                                       "reason", reason, "fired", (json_int_t)m->live.fired[i],
                                       "snooze", snooze_json(snooze_of(m, name))));
  }
  json_t *o = json_pack("{s:s, s:o}", "ruleset", qp_risk_ruleset_hash(rs), "rules", a);
  pthread_mutex_unlock(&m->lock);
  qp_http_reply_json(r, 200, o);
}

static bool live_rule(const qp__risk_mod_t *m, const char *name) {
  for (uint32_t i = 0; i < qp_risk_ruleset_rules(m->live.rs); i++)
    if (strcmp(qp_risk_ruleset_rule_name(m->live.rs, i), name) == 0) return true;
  return false;
}

/* The members that say when a snooze ends: Unix seconds, or seconds from
 * now (each with an alias, the names payment intents use). */
static const char *const ENDS[] = {"until", "expires_at", "duration_s", "expires_in_s"};

/* The snooze's end: exactly one of ENDS; 0 with *until, or a 400 reply. */
static int snooze_end(json_t *b, int64_t now, int64_t *until, qp_http_reply_t *r) {
  int which = -1, given = 0;
  for (int k = 0; k < 4; k++)
    if (json_object_get(b, ENDS[k]) != NULL) which = k, given++;
  if (given != 1) {
    qp_http_reply_fail(r, 400, given == 0 ? "missing_field" : "invalid_value",
                       given == 0 ? "until" : ENDS[which],
                       "give exactly one of until or expires_at (Unix seconds), duration_s or "
                       "expires_in_s (seconds from now)");
    return QP_EINVAL;
  }
  json_t *v = json_object_get(b, ENDS[which]);
  int64_t x = json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
  *until = which < 2 ? x : now + (x > 0 && x <= QP_RISK_SNOOZE_S_MAX ? x : 0);
  if (x <= 0 || *until <= now || *until > now + QP_RISK_SNOOZE_S_MAX) {
    qp_http_reply_fail(r, 400, "invalid_value", ENDS[which],
                       "a snooze ends in the future, at most 366 days from now");
    return QP_EINVAL;
  }
  return 0;
}

/* The snooze's reason and end from the body; 0, or a 400 reply. */
static int snooze_args(json_t *b, int64_t now, int64_t *until, const char **reason,
                       qp_http_reply_t *r) {
  const char *key;
  json_t *v;
  json_object_foreach(b, key, v) {
    bool known = strcmp(key, "reason") == 0;
    for (int k = 0; k < 4; k++) known |= strcmp(key, ENDS[k]) == 0;
    if (!known) {
      qp_http_reply_fail(r, 400, "unknown_field", key, "a snooze has \"reason\" and one of "
                         "\"until\", \"expires_at\", \"duration_s\" or \"expires_in_s\"");
      return QP_EINVAL;
    }
  }
  json_t *rs = json_object_get(b, "reason");
  if (!json_is_string(rs) || json_string_length(rs) == 0 ||
      json_string_length(rs) > QP_RISK_REASON_MAX ||
      strlen(json_string_value(rs)) != json_string_length(rs)) {
    qp_http_reply_fail(r, 400, rs == NULL ? "missing_field" : "invalid_value", "reason",
                       "a reason is required: a string of 1 to 256 bytes");
    return QP_EINVAL;
  }
  *reason = json_string_value(rs);
  return snooze_end(b, now, until, r);
}

void qp__risk_route_snooze_post(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__risk_mod_t *m = ctx;
  const char *rule = qp_http_param(req, "name");
  size_t len = 0;
  const char *text = qp_http_body(req, &len);
  json_t *b = len > 0 ? json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
  if (!json_is_object(b)) {
    json_decref(b);
    qp_http_reply_fail(r, 400, "invalid_json", "", "the body must be a JSON object "
                       "{\"reason\", \"until\" | \"duration_s\"}");
    return;
  }
  int64_t now = now_s(), until;
  const char *reason;
  char who[QP_RISK_WHO_MAX + 1];
  qp__risk_who(req, who);
  if (snooze_args(b, now, &until, &reason, r) != 0) {
    json_decref(b);
    return;
  }
  json_t *rec = json_pack("{s:s, s:s, s:I}", "rule", rule, "reason", reason, "until",
                          (json_int_t)until);
  pthread_mutex_lock(&m->lock);
  bool known = live_rule(m, rule);
  int rc = !known ? QP_ENOTFOUND
           : m->snoozes_count >= QP_RISK_SNOOZES_MAX && snooze_of(m, rule) == NULL
               ? QP_ELIMIT
               : qp__risk_journal_append(m, QP__RISK_J_SNOOZE, rec, who);
  if (rc == 0) rc = qp__risk_snooze_set(m, rule, reason, until, who, now);
  json_t *out = rc == 0 ? snooze_json(snooze_of(m, rule)) : NULL;
  pthread_mutex_unlock(&m->lock);
  json_decref(rec);
  json_decref(b);
  if (rc == QP_ENOTFOUND)
    qp_http_reply_fail(r, 404, "unknown_rule", "name", "the live ruleset has no such rule");
  else if (rc == QP_ELIMIT)
    qp_http_reply_fail(r, 409, "too_many_snoozes", "", "at most 1024 rules are snoozed at once");
  else if (rc != 0)
    qp_http_reply_fail(r, 503, "not_changed", "", "the change could not be made durable");
  else
    qp_http_reply_json(r, 200, out);
}

void qp__risk_route_snooze_delete(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__risk_mod_t *m = ctx;
  const char *rule = qp_http_param(req, "name");
  char who[QP_RISK_WHO_MAX + 1];
  qp__risk_who(req, who);
  json_t *rec = json_pack("{s:s}", "rule", rule);
  pthread_mutex_lock(&m->lock);
  qp__risk_snoozes_apply(m, now_s());
  bool snoozed = snooze_of(m, rule) != NULL;
  int rc = snoozed ? qp__risk_journal_append(m, QP__RISK_J_UNSNOOZE, rec, who) : 0;
  if (snoozed && rc == 0) qp__risk_snooze_clear(m, rule);
  pthread_mutex_unlock(&m->lock);
  json_decref(rec);
  if (!snoozed)
    qp_http_reply_fail(r, 404, "not_snoozed", "name", "the rule is not snoozed");
  else if (rc != 0)
    qp_http_reply_fail(r, 503, "not_changed", "", "the change could not be made durable");
  else
    qp_http_reply_json(r, 200, json_pack("{s:s, s:b}", "rule", rule, "snoozed", 0));
}
