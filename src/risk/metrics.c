/*
 * metrics.c - the risk module's lines of /metrics: decisions by outcome,
 * fires per live rule, evaluation errors, refused events, the latency of a
 * decision (inside the engine, microseconds), the shadow's comparisons and
 * the feature keys held.
 */
#include <stdio.h>

#include "risk/module_int.h"

void qp__risk_metrics(void *ctx, qp_http_text_t *out) {
  qp__risk_mod_t *m = ctx;
  qp_http_metric_header(out, "quipu_risk_decisions_total", "counter",
                        "Decisions made, by outcome.");
  for (int i = 0; i < 4; i++)
    qp_http_text_put(out, "quipu_risk_decisions_total{decision=\"%s\"} %llu\n",
                     qp_risk_outcome_name((qp_risk_outcome_t)i),
                     (unsigned long long)atomic_load(&m->decisions[i]));
  qp_http_metric_u64(out, "quipu_risk_eval_errors_total", "counter",
                     "Rules that hit an evaluation error (they did not fire).",
                     atomic_load(&m->eval_errors));
  qp_http_metric_u64(out, "quipu_risk_events_refused_total", "counter",
                     "Requests refused for a bad event (no id or time).",
                     atomic_load(&m->refused));
  qp_http_metric_header(out, "quipu_risk_decision_duration_seconds", "histogram",
                        "Time to decide one event inside the engine.");
  qp_http_histogram_put(out, "quipu_risk_decision_duration_seconds", "", &m->latency);
  pthread_mutex_lock(&m->lock);
  const qp__risk_slot_t *s = &m->live;
  char labels[160];
  qp_http_metric_header(out, "quipu_risk_rule_fired_total", "counter",
                        "Times each rule of the live ruleset fired since it went live.");
  for (uint32_t i = 0; i < qp_risk_ruleset_rules(s->rs); i++) {
    snprintf(labels, sizeof labels, "%.100s", qp_risk_ruleset_rule_name(s->rs, i));
    qp_http_text_put(out, "quipu_risk_rule_fired_total{rule=\"%s\",ruleset=\"%.12s\"} %llu\n",
                     labels, qp_risk_ruleset_hash(s->rs), (unsigned long long)s->fired[i]);
  }
  qp_http_metric_u64(out, "quipu_risk_feature_keys", "gauge",
                     "Keys held in the live ruleset's feature windows.",
                     qp_risk_state_keys(s->st));
  qp_http_metric_u64(out, "quipu_risk_shadow_events_total", "counter",
                     "Events the shadow ruleset was compared on (since it was installed).",
                     m->shadow.rs != NULL ? m->shadow_events : 0);
  qp_http_metric_u64(out, "quipu_risk_shadow_disagreements_total", "counter",
                     "Events on which the shadow ruleset decided otherwise.",
                     m->shadow.rs != NULL ? m->shadow_events - m->shadow_agree : 0);
  pthread_mutex_unlock(&m->lock);
}
