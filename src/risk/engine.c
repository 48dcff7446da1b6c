/*
 * engine.c - the risk module's engine, always under m->lock: installing a
 * ruleset live (its feature state takes over the windows of every feature
 * whose definition is unchanged) or in shadow (its state starts as a copy
 * of the live one's), deciding one event on the live ruleset and, beside
 * it, on the shadow, list updates (all items checked before any applies)
 * and snoozes.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "risk/module_int.h"

void qp__risk_slot_free(qp__risk_slot_t *s) {
  qp_risk_decision_deinit(&s->d);
  qp_risk_state_free(s->st);
  qp_risk_ruleset_free(s->rs);
  qp_free(s->text);
  qp_free(s->skip);
  qp_free((void *)s->fired);
  qp_free((void *)s->disagreed);
  memset(s, 0, sizeof *s);
}

static int slot_make(qp__risk_mod_t *m, qp__risk_slot_t *s, const char *text, size_t len,
                     qp_risk_ruleset_t *rs) {
  memset(s, 0, sizeof *s);
  uint32_t rules = qp_risk_ruleset_rules(rs) + 1;
  s->rs = rs;
  s->text = qp_malloc(len + 1);
  s->skip = qp_calloc(rules, 1);
  s->fired = qp_calloc(rules, sizeof *s->fired);
  s->disagreed = qp_calloc(rules, sizeof *s->disagreed);
  int rc = s->text && s->skip && s->fired && s->disagreed ? 0 : QP_ENOMEM;
  if (rc == 0) rc = qp_risk_state_new(rs, m->lists, &s->st);
  if (rc == 0) rc = qp_risk_decision_init(&s->d, rs);
  if (rc != 0) {
    s->rs = NULL; /* the caller still owns rs */
    qp__risk_slot_free(s);
    return rc;
  }
  memcpy(s->text, text, len);
  s->text[len] = '\0';
  s->text_len = len;
  return 0;
}

/* The shadow's windows start as a copy of the live ones (same definitions);
 * on any failure, empty. */
static void shadow_seed(qp__risk_mod_t *m, qp__risk_slot_t *s) {
  qp_buf_t b = {.max = (size_t)1 << 34};
  uint32_t loaded = 0;
  qp_risk_state_t *fresh;
  if (qp_risk_state_new(s->rs, m->lists, &fresh) != 0) return;
  if (qp_risk_state_save(m->live.st, &b) == 0 &&
      qp_risk_state_load(fresh, (const uint8_t *)b.data, b.len, &loaded) != 0) {
    qp_risk_state_free(fresh);
    fresh = NULL;
  }
  qp_buf_free(&b);
  if (fresh == NULL) return;
  qp_risk_state_free(s->st);
  s->st = fresh;
}

void qp__risk_shadow_reseed(qp__risk_mod_t *m) {
  if (m->shadow.rs != NULL && m->live.rs != NULL) shadow_seed(m, &m->shadow);
}

int qp__risk_install(qp__risk_mod_t *m, bool shadow, const char *text, size_t len,
                     qp_risk_ruleset_t *rs, const char *by, int64_t at_s) {
  qp__risk_slot_t s;
  int rc = slot_make(m, &s, text, len, rs);
  if (rc != 0) return rc;
  snprintf(s.by, sizeof s.by, "%s", by);
  s.at_s = at_s;
  if (shadow) {
    if (m->live.rs != NULL) shadow_seed(m, &s);
    qp__risk_slot_free(&m->shadow);
    m->shadow = s;
    m->shadow_events = m->shadow_agree = 0;
    memset(m->shadow_matrix, 0, sizeof m->shadow_matrix);
  } else {
    if (m->live.st != NULL) qp_risk_state_carry(s.st, m->live.st);
    qp__risk_slot_free(&m->live);
    m->live = s;
  }
  return 0;
}

void qp__risk_shadow_stop(qp__risk_mod_t *m) { qp__risk_slot_free(&m->shadow); }

/* Marks the live rules snoozed at now_s and drops expired snoozes. */
void qp__risk_snoozes_apply(qp__risk_mod_t *m, int64_t now_s) {
  uint32_t kept = 0;
  for (uint32_t i = 0; i < m->snoozes_count; i++)
    if (m->snoozes[i].until_s > now_s) m->snoozes[kept++] = m->snoozes[i];
  m->snoozes_count = kept;
  if (m->live.rs == NULL) return;
  uint32_t n = qp_risk_ruleset_rules(m->live.rs);
  memset(m->live.skip, 0, n);
  for (uint32_t k = 0; k < m->snoozes_count; k++)
    for (uint32_t i = 0; i < n; i++)
      if (strcmp(qp_risk_ruleset_rule_name(m->live.rs, i), m->snoozes[k].rule) == 0)
        m->live.skip[i] = 1;
}

static void shadow_compare(qp__risk_mod_t *m, const json_t *event) {
  qp__risk_slot_t *s = &m->shadow;
  char err[160];
  if (qp_risk_decide(s->rs, s->st, event, &s->d, err, sizeof err) != 0) return;
  qp_risk_outcome_t a = m->live.d.decision, b = s->d.decision;
  m->shadow_events++;
  m->shadow_agree += a == b;
  m->shadow_matrix[a][b]++;
  for (uint32_t i = 0; i < s->d.fired_count; i++) {
    s->fired[s->d.fired[i].rule]++;
    if (a != b) s->disagreed[s->d.fired[i].rule]++;
  }
}

/* Decides event on the live ruleset (and the shadow beside it). */
static int decide(qp__risk_mod_t *m, const json_t *event) {
  qp__risk_slot_t *s = &m->live;
  char err[200];
  s->d.skip = s->skip;
  int rc = qp_risk_decide(s->rs, s->st, event, &s->d, err, sizeof err);
  if (rc != 0) return rc;
  atomic_fetch_add(&m->decisions[s->d.decision], 1);
  if (s->d.eval_errors > 0) atomic_fetch_add(&m->eval_errors, s->d.eval_errors);
  for (uint32_t i = 0; i < s->d.fired_count; i++) s->fired[s->d.fired[i].rule]++;
  if (m->shadow.rs != NULL) shadow_compare(m, event);
  return 0;
}

static void remember(qp__risk_mod_t *m, const char *text, size_t len) {
  int64_t now_s = (int64_t)(qp_clock_wall_ns() / 1000000000u);
  qp__risk_recent_add(m->recent, now_s, m->live.d.decision, text, len);
}

int qp__risk_decide_one(qp__risk_mod_t *m, const json_t *event, json_t **out) {
  int rc = decide(m, event);
  if (rc != 0) return rc;
  *out = qp_risk_decision_json(m->live.rs, &m->live.d, event);
  if (*out == NULL) return QP_ENOMEM;
  char *text = json_dumps(*out, JSON_COMPACT);
  if (text != NULL) remember(m, text, strlen(text));
  qp_http_json_free(text);
  return 0;
}

int qp__risk_decide_text(qp__risk_mod_t *m, const json_t *event, qp_buf_t *out) {
  int rc = decide(m, event);
  size_t before = out->len;
  if (rc == 0) rc = qp_risk_decision_text(m->live.rs, &m->live.d, event, out);
  if (rc == 0 && !out->failed) remember(m, out->data + before, out->len - before);
  return rc;
}

static int items_check(qp__risk_mod_t *m, const char *name, const json_t *items) {
  size_t i;
  json_t *v;
  char err[200];
  json_array_foreach(items, i, v) {
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
      return QP_EINVAL;
    if (qp_risk_list_check(m->lists, name, json_string_value(v), err, sizeof err) != 0)
      return QP_EINVAL;
  }
  return 0;
}

int qp__risk_list_apply(qp__risk_mod_t *m, const char *name, const json_t *add,
                        const json_t *remove) {
  if ((add != NULL && items_check(m, name, add) != 0) ||
      (remove != NULL && items_check(m, name, remove) != 0))
    return QP_EINVAL;
  char err[200];
  size_t i;
  json_t *v;
  /* Removals first, then additions: an item in both ends up present. */
  if (remove != NULL)
    json_array_foreach(remove, i, v) {
      int rc = qp_risk_list_update(m->lists, name, json_string_value(v), false, err, sizeof err);
      if (rc != 0) return rc;
    }
  if (add != NULL)
    json_array_foreach(add, i, v) {
      int rc = qp_risk_list_update(m->lists, name, json_string_value(v), true, err, sizeof err);
      if (rc != 0) return rc;
    }
  return 0;
}

int qp__risk_snooze_set(qp__risk_mod_t *m, const char *rule, const char *reason, int64_t until,
                        const char *by, int64_t at_s) {
  qp__risk_snooze_t *z = NULL;
  for (uint32_t i = 0; i < m->snoozes_count; i++)
    if (strcmp(m->snoozes[i].rule, rule) == 0) z = &m->snoozes[i];
  if (z == NULL) {
    if (m->snoozes_count == QP_RISK_SNOOZES_MAX) return QP_ELIMIT;
    z = &m->snoozes[m->snoozes_count++];
  }
  memset(z, 0, sizeof *z);
  snprintf(z->rule, sizeof z->rule, "%s", rule);
  snprintf(z->reason, sizeof z->reason, "%s", reason);
  snprintf(z->by, sizeof z->by, "%s", by);
  z->at_s = at_s;
  z->until_s = until;
  return 0;
}

bool qp__risk_snooze_clear(qp__risk_mod_t *m, const char *rule) {
  for (uint32_t i = 0; i < m->snoozes_count; i++)
    if (strcmp(m->snoozes[i].rule, rule) == 0) {
      m->snoozes[i] = m->snoozes[--m->snoozes_count];
      return true;
    }
  return false;
}

static const char *outcome(int i) { return qp_risk_outcome_name((qp_risk_outcome_t)i); }

json_t *qp__risk_shadow_report(qp__risk_mod_t *m) {
  qp__risk_slot_t *s = &m->shadow;
  json_t *by_outcome = json_array(), *by_rule = json_array();
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 4; b++)
      if (a != b && m->shadow_matrix[a][b] > 0)
        json_array_append_new(by_outcome, json_pack("{s:s, s:s, s:I}", "live", outcome(a),
                                                    "shadow", outcome(b), "count",
                                                    (json_int_t)m->shadow_matrix[a][b]));
  for (uint32_t i = 0; i < qp_risk_ruleset_rules(s->rs); i++)
    json_array_append_new(by_rule, json_pack("{s:s, s:I, s:I}", "rule",
                                             qp_risk_ruleset_rule_name(s->rs, i), "fired",
                                             (json_int_t)s->fired[i], "disagreements",
                                             (json_int_t)s->disagreed[i]));
  return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:o}", "live",
                   qp_risk_ruleset_hash(m->live.rs), "shadow", qp_risk_ruleset_hash(s->rs),
                   "installed_by", s->by, "installed_at", (json_int_t)s->at_s, "events",
                   (json_int_t)m->shadow_events, "agreements", (json_int_t)m->shadow_agree,
                   "disagreements", (json_int_t)(m->shadow_events - m->shadow_agree),
                   "by_outcome", by_outcome, "by_rule", by_rule);
}
