/*
 * render.c - a decision as JSON text, fast: the pieces that depend only on
 * the ruleset (each rule's fired entry, each feature's key, each rule's
 * name) are rendered once by jansson when the ruleset is compiled, so a
 * decision is a concatenation plus a few integers, with the same bytes
 * json_dumps(qp_risk_decision_json(...), JSON_COMPACT) gives.  A batch of
 * 8,190 decisions then costs no JSON objects at all.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "risk/risk_int.h"

/* jansson's text of v, copied into qp_malloc'ed memory (jansson's own block
 * is freed with whatever allocator jansson has now). */
static char *dump(json_t *v) {
  json_malloc_t m;
  json_free_t f;
  json_get_alloc_funcs(&m, &f);
  char *t = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  json_decref(v);
  if (t == NULL) return NULL;
  size_t n = strlen(t);
  char *copy = qp_malloc(n + 1);
  if (copy != NULL) memcpy(copy, t, n + 1);
  f(t);
  return copy;
}

int qp__risk_render_prepare(qp_risk_ruleset_t *rs) {
  size_t nr = rs->rules.count, nf = rs->features.count;
  rs->fired_text = qp_calloc(nr + 1, sizeof *rs->fired_text);
  rs->rule_text = qp_calloc(nr + 1, sizeof *rs->rule_text);
  rs->feature_text = qp_calloc(nf + 1, sizeof *rs->feature_text);
  if (rs->fired_text == NULL || rs->rule_text == NULL || rs->feature_text == NULL)
    return QP_ENOMEM;
  for (size_t i = 0; i < nr; i++) {
    const qp__risk_rule_t *r = qp_array_at(&rs->rules, i);
    rs->fired_text[i] = dump(json_pack("{s:s, s:s, s:i, s:s}", "rule", r->name, "outcome",
                                       qp_risk_outcome_name(r->outcome), "score", r->score,
                                       "reason", r->reason));
    rs->rule_text[i] = dump(json_string(r->name));
    if (rs->fired_text[i] == NULL || rs->rule_text[i] == NULL) return QP_ENOMEM;
  }
  for (size_t i = 0; i < nf; i++) {
    const qp__risk_feature_t *f = qp_array_at(&rs->features, i);
    rs->feature_text[i] = dump(json_string(f->name));
    if (rs->feature_text[i] == NULL) return QP_ENOMEM;
  }
  return 0;
}

void qp__risk_render_free(qp_risk_ruleset_t *rs) {
  for (size_t i = 0; rs->fired_text != NULL && i < rs->rules.count; i++) {
    qp_free(rs->fired_text[i]);
    qp_free(rs->rule_text[i]);
  }
  for (size_t i = 0; rs->feature_text != NULL && i < rs->features.count; i++)
    qp_free(rs->feature_text[i]);
  qp_free(rs->fired_text);
  qp_free(rs->rule_text);
  qp_free(rs->feature_text);
}

static void put(qp_buf_t *b, const char *s) { qp_buf_append(b, s, strlen(s)); }

static void put_i64(qp_buf_t *b, int64_t v) {
  char n[24];
  qp_buf_append(b, n, (size_t)snprintf(n, sizeof n, "%" PRId64, v));
}

static void put_id(qp_buf_t *b, const json_t *id) {
  if (json_is_integer(id)) {
    put_i64(b, (int64_t)json_integer_value(id));
    return;
  }
  char *t = dump(json_incref((json_t *)id));
  if (t == NULL) b->failed = true;
  else put(b, t);
  qp_free(t);
}

int qp_risk_decision_text(const qp_risk_ruleset_t *rs, const qp_risk_decision_t *d,
                          const json_t *event, qp_buf_t *out) {
  put(out, "{");
  if (event != NULL) {
    put(out, "\"id\":");
    put_id(out, json_object_get(event, "id"));
    put(out, ",");
  }
  put(out, "\"decision\":\"");
  put(out, qp_risk_outcome_name(d->decision));
  put(out, "\",\"score\":");
  put_i64(out, d->score);
  put(out, ",\"fired\":[");
  for (uint32_t i = 0; i < d->fired_count; i++) {
    if (i > 0) put(out, ",");
    put(out, rs->fired_text[d->fired[i].rule]);
  }
  put(out, "],\"features\":{");
  for (uint32_t i = 0; i < d->feature_count; i++) {
    const qp_risk_feature_value_t *v = &d->features[i];
    if (i > 0) put(out, ",");
    put(out, rs->feature_text[i]);
    put(out, ":");
    if (v->present && !v->error) put_i64(out, v->value);
    else put(out, "null");
  }
  put(out, "},\"ruleset\":\"");
  put(out, rs->hash);
  put(out, "\"");
  if (d->eval_errors > 0) {
    put(out, ",\"eval_errors\":");
    put_i64(out, d->eval_errors);
  }
  for (uint32_t i = 0; i < d->snoozed_count; i++) {
    put(out, i == 0 ? ",\"snoozed\":[" : ",");
    put(out, rs->rule_text[d->snoozed[i].rule]);
  }
  put(out, d->snoozed_count > 0 ? "]}" : "}");
  return out->failed ? QP_ENOMEM : 0;
}
