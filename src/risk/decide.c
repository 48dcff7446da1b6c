/*
 * decide.c - the feature state of a ruleset and qp_risk_decide: checks the
 * event's id and time, moves the engine time (the largest time seen: late
 * events count as now), decodes the fields the ruleset uses, counts the
 * event in every feature that has its key, runs every rule, and combines
 * the fired rules' outcomes and the thresholds met by the score on the
 * lattice allow < challenge < review < block.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "risk/risk_int.h"

int qp_risk_decision_init(qp_risk_decision_t *d, const qp_risk_ruleset_t *rs) {
  memset(d, 0, sizeof *d);
  d->fired = qp_calloc(rs->rules.count + 1, sizeof *d->fired);
  d->features = qp_calloc(rs->features.count + 1, sizeof *d->features);
  d->snoozed = qp_calloc(rs->rules.count + 1, sizeof *d->snoozed);
  if (d->fired == NULL || d->features == NULL || d->snoozed == NULL) {
    qp_risk_decision_deinit(d);
    return QP_ENOMEM;
  }
  return 0;
}

void qp_risk_decision_deinit(qp_risk_decision_t *d) {
  qp_free(d->fired);
  qp_free(d->features);
  qp_free(d->snoozed);
  memset(d, 0, sizeof *d);
}

int qp_risk_event_check(const json_t *event, const char **field, char *err, size_t err_size) {
  *field = "";
  if (!json_is_object(event)) {
    snprintf(err, err_size, "event: expected a JSON object");
    return QP_EINVAL;
  }
  const json_t *id = json_object_get(event, "id");
  if (!(json_is_integer(id) ||
        (json_is_string(id) && json_string_length(id) > 0 &&
         json_string_length(id) <= QP_RISK_STRING_BYTES_MAX))) {
    *field = "id";
    snprintf(err, err_size, "event: 'id' must be a string of 1 to %u bytes or an integer",
             QP_RISK_STRING_BYTES_MAX);
    return QP_EINVAL;
  }
  const json_t *t = json_object_get(event, "time");
  if (!json_is_integer(t) || json_integer_value(t) < 0 ||
      json_integer_value(t) > QP_RISK_TIME_MAX) {
    *field = "time";
    snprintf(err, err_size, "event: 'time' must be an integer of Unix seconds from 0 to %lld",
             (long long)QP_RISK_TIME_MAX);
    return QP_EINVAL;
  }
  return 0;
}

static void decode_fields(const qp_risk_ruleset_t *rs, const json_t *event,
                          qp__risk_value_t *vals) {
  for (size_t i = 0; i < rs->fields.count; i++) {
    const json_t *v = json_object_get(event, *(char **)qp_array_at(&rs->fields, i));
    qp__risk_value_t *out = &vals[i];
    *out = (qp__risk_value_t){.tag = QP__RISK_BAD};
    if (v == NULL || json_is_null(v)) {
      out->tag = QP__RISK_ABSENT;
    } else if (json_is_integer(v)) {
      out->tag = QP__RISK_INT;
      out->i = (int64_t)json_integer_value(v);
    } else if (json_is_string(v)) {
      out->tag = QP__RISK_STR;
      out->s = json_string_value(v);
      out->len = (uint32_t)json_string_length(v);
      out->num = qp__risk_parse_decimal(out->s, out->len, &out->i);
    }
  }
}

static const qp__risk_keytext_t *key_of(qp_risk_state_t *st, uint32_t field) {
  qp__risk_keytext_t *k = &st->keys[field];
  if (k->decision == st->decisions) return k;
  k->decision = st->decisions;
  k->ok = qp__risk_key_text(&st->fields[field], k->buf, &k->p, &k->len) &&
          k->len <= QP_RISK_STRING_BYTES_MAX;
  if (k->ok) k->hash = qp__risk_hash(k->p, k->len);
  return k;
}

/* Counts the event in every feature whose key it has.  The maps' slots and
 * entries are prefetched for all features first: the cache misses of 20
 * independent maps then overlap instead of following one another. */
static int count_features(qp_risk_state_t *st, int64_t t, qp_risk_decision_t *d) {
  const qp_risk_ruleset_t *rs = st->rs;
  const qp__risk_feature_t *fs = rs->features.items;
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < rs->features.count; i++) {
      const qp__risk_keytext_t *k = key_of(st, fs[i].key);
      if (k->ok) qp__risk_fstate_prefetch(st->features[i], k->hash, pass == 1);
    }
  for (size_t i = 0; i < rs->features.count; i++) {
    const qp__risk_keytext_t *k = key_of(st, fs[i].key);
    d->features[i] = (qp_risk_feature_value_t){0};
    if (!k->ok) continue;
    const qp__risk_value_t *field = fs[i].kind == QP__RISK_COUNT ? NULL : &st->fields[fs[i].field];
    int rc = qp__risk_fstate_add(st->features[i], k->p, k->len, k->hash, field, t,
                                 &d->features[i]);
    if (rc != 0) return rc;
  }
  d->feature_count = (uint32_t)rs->features.count;
  return 0;
}

static bool threshold_met(const qp__risk_threshold_t *th, int64_t score) {
  switch (th->cmp) {
  case QP__RISK_EQ: return score == th->value;
  case QP__RISK_NE: return score != th->value;
  case QP__RISK_LT: return score < th->value;
  case QP__RISK_LE: return score <= th->value;
  case QP__RISK_GT: return score > th->value;
  default: return score >= th->value;
  }
}

static void run_rules(const qp_risk_ruleset_t *rs, qp_risk_state_t *st,
                      qp_risk_decision_t *d) {
  const qp__risk_env_t env = {.fields = st->fields, .features = d->features,
                              .lists = st->lists, .in_cache = st->in_cache,
                              .event = st->decisions};
  d->fired_count = 0;
  d->snoozed_count = 0;
  d->eval_errors = 0;
  d->score = 0;
  d->decision = QP_RISK_ALLOW;
  const qp__risk_rule_t *rules = rs->rules.items;
  for (uint32_t i = 0; i < rs->rules.count; i++) {
    int r = qp__risk_eval_rule(rs, &rules[i], &env);
    if (r < 0) d->eval_errors++;
    if (r <= 0) continue;
    if (d->skip != NULL && d->skip[i] != 0) {
      d->snoozed[d->snoozed_count++] =
          (qp_risk_fired_t){.rule = i, .outcome = rules[i].outcome, .score = rules[i].score};
      continue;
    }
    d->fired[d->fired_count++] =
        (qp_risk_fired_t){.rule = i, .outcome = rules[i].outcome, .score = rules[i].score};
    d->score += rules[i].score;
    if (rules[i].outcome > d->decision) d->decision = rules[i].outcome;
  }
  for (size_t i = 0; i < rs->thresholds.count; i++) {
    const qp__risk_threshold_t *th = qp_array_at(&rs->thresholds, i);
    if (th->outcome > d->decision && threshold_met(th, d->score)) d->decision = th->outcome;
  }
}

int qp_risk_decide(const qp_risk_ruleset_t *rs, qp_risk_state_t *st, const json_t *event,
                   qp_risk_decision_t *d, char *err, size_t err_size) {
  if (st->rs != rs) {
    snprintf(err, err_size, "feature state made for another ruleset");
    return QP_EINVAL;
  }
  const char *field;
  int rc = qp_risk_event_check(event, &field, err, err_size);
  if (rc != 0) return rc;
  int64_t t = (int64_t)json_integer_value(json_object_get(event, "time"));
  if (t > st->engine_time) st->engine_time = t;
  st->decisions++; /* numbers this decision's caches (key texts, list answers) */
  d->engine_time = st->engine_time;
  decode_fields(rs, event, st->fields);
  rc = count_features(st, st->engine_time, d);
  if (rc != 0) {
    snprintf(err, err_size, "out of memory counting the event in its features");
    return rc;
  }
  run_rules(rs, st, d);
  return 0;
}

json_t *qp_risk_decision_json(const qp_risk_ruleset_t *rs, const qp_risk_decision_t *d,
                              const json_t *event) {
  json_t *o = json_object(), *fired = json_array(), *feats = json_object();
  if (event != NULL) json_object_set(o, "id", json_object_get(event, "id"));
  json_object_set_new(o, "decision", json_string(qp_risk_outcome_name(d->decision)));
  json_object_set_new(o, "score", json_integer(d->score));
  for (uint32_t i = 0; i < d->fired_count; i++) {
    const qp__risk_rule_t *r = qp_array_at(&rs->rules, d->fired[i].rule);
    json_array_append_new(fired, json_pack("{s:s, s:s, s:i, s:s}", "rule", r->name, "outcome",
                                           qp_risk_outcome_name(r->outcome), "score", r->score,
                                           "reason", r->reason));
  }
  json_object_set_new(o, "fired", fired);
  for (uint32_t i = 0; i < d->feature_count; i++) {
    const qp__risk_feature_t *f = qp_array_at(&rs->features, i);
    const qp_risk_feature_value_t *v = &d->features[i];
    json_object_set_new(feats, f->name,
                        v->present && !v->error ? json_integer(v->value) : json_null());
  }
  json_object_set_new(o, "features", feats);
  json_object_set_new(o, "ruleset", json_string(rs->hash));
  if (d->eval_errors > 0) json_object_set_new(o, "eval_errors", json_integer(d->eval_errors));
  if (d->snoozed_count > 0) {
    json_t *sn = json_array();
    for (uint32_t i = 0; i < d->snoozed_count; i++)
      json_array_append_new(sn, json_string(qp_risk_ruleset_rule_name(rs, d->snoozed[i].rule)));
    json_object_set_new(o, "snoozed", sn);
  }
  return o;
}
