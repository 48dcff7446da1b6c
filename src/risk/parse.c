/*
 * parse.c - the ruleset's declarations (list, feature, rule, threshold),
 * one per line, and the names they declare.  qp_risk_compile (compile.c)
 * calls qp__risk_parse_line for every line; the first error on a line is
 * recorded with its column and parsing goes on with the next line.
 */
#include <string.h>

#include "base/alloc.h"
#include "risk/parse.h"

#define FIELDS_MAX 1024u

static int32_t find_name(const qp_array_t *a, size_t stride_off, const char *name,
                         uint32_t len) {
  for (size_t i = 0; i < a->count; i++) {
    const char *n = *(char *const *)((const char *)qp_array_at(a, i) + stride_off);
    if (strlen(n) == len && memcmp(n, name, len) == 0) return (int32_t)i;
  }
  return -1;
}

int32_t qp__risk_feature_index(const qp_risk_ruleset_t *rs, const char *name, uint32_t len) {
  return find_name(&rs->features, offsetof(qp__risk_feature_t, name), name, len);
}

int32_t qp__risk_list_index(const qp_risk_ruleset_t *rs, const char *name, uint32_t len) {
  return find_name(&rs->lists, offsetof(qp__risk_list_decl_t, name), name, len);
}

int32_t qp__risk_field_index(qp__risk_parser_t *ps, const char *name, uint32_t len) {
  int32_t i = find_name(&ps->rs->fields, 0, name, len);
  if (i >= 0) return i;
  if (ps->rs->fields.count >= FIELDS_MAX)
    return qp__risk_fail_at(ps, ps->tok.column, "too many event fields (at most %u)", FIELDS_MAX),
           -1;
  char *copy = qp__risk_strndup(name, len);
  char **slot = copy != NULL ? qp_array_push(&ps->rs->fields) : NULL;
  if (slot == NULL) {
    qp_free(copy);
    ps->oom = QP_ENOMEM;
    return qp__risk_fail_at(ps, ps->tok.column, "out of memory"), -1;
  }
  *slot = copy;
  return (int32_t)ps->rs->fields.count - 1;
}

/* A new name at the current token (not reserved, not declared, not a field
 * already); *name gets a copy.  Rule names have their own namespace. */
static bool new_name(qp__risk_parser_t *ps, const char *what, bool rule, char **name) {
  const qp__risk_tok_t *t = &ps->tok;
  if (t->kind != QP__RISK_T_IDENT || qp__risk_reserved(t->p, t->len))
    return qp__risk_expected(ps, what);
  bool taken = rule ? find_name(&ps->rs->rules, offsetof(qp__risk_rule_t, name), t->p, t->len) >= 0
                    : qp__risk_feature_index(ps->rs, t->p, t->len) >= 0 ||
                          qp__risk_list_index(ps->rs, t->p, t->len) >= 0;
  if (taken)
    return qp__risk_fail_at(ps, t->column, "'%.*s' is already declared", (int)t->len, t->p);
  if (!rule && find_name(&ps->rs->fields, 0, t->p, t->len) >= 0)
    return qp__risk_fail_at(ps, t->column, "'%.*s' is already used as an event field above",
                            (int)t->len, t->p);
  *name = qp__risk_strndup(t->p, t->len);
  if (*name == NULL) return ps->oom = QP_ENOMEM, qp__risk_fail_at(ps, t->column, "out of memory");
  qp__risk_next(ps);
  return true;
}

static bool expect(qp__risk_parser_t *ps, const char *s, const char *what) {
  if (!qp__risk_is(ps, s)) return qp__risk_expected(ps, what);
  qp__risk_next(ps);
  return true;
}

static bool parse_list(qp__risk_parser_t *ps) {
  char *name = NULL;
  if (!new_name(ps, "a list name", false, &name)) return false;
  qp_risk_list_kind_t kind = qp__risk_is(ps, "set")    ? QP_RISK_LIST_SET
                             : qp__risk_is(ps, "cidr") ? QP_RISK_LIST_CIDR
                                                       : 0;
  qp__risk_list_decl_t *d = kind != 0 ? qp_array_push(&ps->rs->lists) : NULL;
  if (d == NULL) {
    qp_free(name);
    if (kind == 0) return qp__risk_expected(ps, "a list kind ('set' or 'cidr')");
    return qp__risk_fail_at(ps, ps->tok.column, "too many lists (at most %u)", QP_RISK_LISTS_MAX);
  }
  *d = (qp__risk_list_decl_t){.name = name, .kind = kind};
  qp__risk_next(ps);
  return true;
}

/* A duration token (Ns, Nm, Nh, Nd): a multiple of 60 s, at most 30 d. */
static bool parse_window(qp__risk_parser_t *ps, int64_t *out) {
  const qp__risk_tok_t *t = &ps->tok;
  static const char units[] = "smhd";
  static const int64_t mult[] = {1, 60, 3600, 86400};
  if (t->kind != QP__RISK_T_NUM || t->len < 2 || t->len > 12 ||
      strchr(units, t->p[t->len - 1]) == NULL || t->p[t->len - 2] < '0' || t->p[t->len - 2] > '9')
    return qp__risk_expected(ps, "a duration (Ns, Nm, Nh or Nd)");
  int64_t v = 0;
  for (uint32_t i = 0; i + 1 < t->len; i++) v = v * 10 + (t->p[i] - '0');
  v *= mult[strchr(units, t->p[t->len - 1]) - units];
  if (v <= 0 || v % 60 != 0)
    return qp__risk_fail_at(ps, t->column, "expected a window that is a multiple of 60 s, "
                            "found '%.*s'", (int)t->len, t->p);
  if (v > QP_RISK_WINDOW_S_MAX)
    return qp__risk_fail_at(ps, t->column, "expected a window of at most 30d, found '%.*s'",
                            (int)t->len, t->p);
  *out = v;
  qp__risk_next(ps);
  return true;
}

static bool parse_field_ref(qp__risk_parser_t *ps, const char *what, uint32_t *out) {
  if (ps->tok.kind != QP__RISK_T_IDENT || qp__risk_reserved(ps->tok.p, ps->tok.len) ||
      qp__risk_feature_index(ps->rs, ps->tok.p, ps->tok.len) >= 0 ||
      qp__risk_list_index(ps->rs, ps->tok.p, ps->tok.len) >= 0)
    return qp__risk_expected(ps, what);
  int32_t i = qp__risk_field_index(ps, ps->tok.p, ps->tok.len);
  if (i < 0) return false;
  *out = (uint32_t)i;
  qp__risk_next(ps);
  return true;
}

static bool parse_feature_body(qp__risk_parser_t *ps, qp__risk_feature_t *f) {
  if (qp__risk_is(ps, "count")) {
    f->kind = QP__RISK_COUNT;
    qp__risk_next(ps);
  } else if (qp__risk_is(ps, "sum") || qp__risk_is(ps, "distinct")) {
    f->kind = qp__risk_is(ps, "sum") ? QP__RISK_SUM : QP__RISK_DISTINCT;
    qp__risk_next(ps);
    if (!expect(ps, "(", "'('") || !parse_field_ref(ps, "a field name", &f->field) ||
        !expect(ps, ")", "')'"))
      return false;
  } else {
    return qp__risk_expected(ps, "a feature kind ('count', 'sum(FIELD)' or 'distinct(FIELD)')");
  }
  if (!expect(ps, "by", "'by'") || !parse_field_ref(ps, "a field name after 'by'", &f->key) ||
      !expect(ps, "over", "'over'"))
    return false;
  if (!parse_window(ps, &f->window_s)) return false;
  f->bucket_s = f->window_s / QP_RISK_BUCKETS;
  return true;
}

static bool parse_feature(qp__risk_parser_t *ps) {
  qp__risk_feature_t f = {0};
  if (ps->rs->features.count >= QP_RISK_FEATURES_MAX)
    return qp__risk_fail_at(ps, ps->tok.column, "too many features (at most %u)",
                            QP_RISK_FEATURES_MAX);
  if (!new_name(ps, "a feature name", false, &f.name)) return false;
  if (!expect(ps, "=", "'='") || !parse_feature_body(ps, &f)) {
    qp_free(f.name);
    return false;
  }
  qp__risk_feature_t *slot = qp_array_push(&ps->rs->features);
  if (slot == NULL) {
    qp_free(f.name);
    return ps->oom = QP_ENOMEM, qp__risk_fail_at(ps, ps->tok.column, "out of memory");
  }
  *slot = f;
  return true;
}

static bool parse_outcome(qp__risk_parser_t *ps, qp_risk_outcome_t *out) {
  static const char *const names[] = {"challenge", "review", "block"};
  for (int k = 0; k < 3; k++)
    if (ps->tok.kind == QP__RISK_T_IDENT && qp__risk_is(ps, names[k])) {
      *out = (qp_risk_outcome_t)(k + 1);
      qp__risk_next(ps);
      return true;
    }
  return qp__risk_expected(ps, "an outcome ('challenge', 'review' or 'block')");
}

/* An integer with an optional minus, in [lo, hi]. */
static bool parse_number(qp__risk_parser_t *ps, int64_t lo, int64_t hi, int64_t *out) {
  uint32_t col = ps->tok.column;
  bool neg = qp__risk_is(ps, "-");
  if (neg) qp__risk_next(ps);
  const qp__risk_tok_t *t = &ps->tok;
  int64_t v = 0;
  if (t->kind != QP__RISK_T_NUM) return qp__risk_expected(ps, "an integer");
  for (uint32_t i = 0; i < t->len; i++) {
    if (t->p[i] < '0' || t->p[i] > '9') return qp__risk_expected(ps, "an integer");
    if (v > (INT64_MAX - 9) / 10) return qp__risk_fail_at(ps, col, "integer out of range");
    v = v * 10 + (t->p[i] - '0');
  }
  if (neg) v = -v;
  if (v < lo || v > hi)
    return qp__risk_fail_at(ps, col, "expected an integer from %lld to %lld", (long long)lo,
                            (long long)hi);
  *out = v;
  qp__risk_next(ps);
  return true;
}

/* The reason: a string literal, unescaped into a new copy. */
static bool parse_reason(qp__risk_parser_t *ps, char **out) {
  const qp__risk_tok_t *t = &ps->tok;
  if (t->len - 2 > QP_RISK_STRING_BYTES_MAX)
    return qp__risk_fail_at(ps, t->column, "reason longer than %u bytes",
                            QP_RISK_STRING_BYTES_MAX);
  char *s = qp_malloc(t->len);
  if (s == NULL) return ps->oom = QP_ENOMEM, qp__risk_fail_at(ps, t->column, "out of memory");
  uint32_t n = 0;
  for (uint32_t i = 1; i + 1 < t->len; i++) {
    if (t->p[i] == '\\' && t->p[i + 1] != '"' && t->p[i + 1] != '\\') {
      qp_free(s);
      return qp__risk_fail_at(ps, t->column + i, "expected \\\" or \\\\ in a string");
    }
    if (t->p[i] == '\\') i++;
    s[n++] = t->p[i];
  }
  s[n] = '\0';
  *out = s;
  qp__risk_next(ps);
  return true;
}

static bool parse_rule_tail(qp__risk_parser_t *ps, qp__risk_rule_t *r) {
  if (!expect(ps, "=>", "'=>' after the condition") || !parse_outcome(ps, &r->outcome))
    return false;
  if (qp__risk_is(ps, "score")) {
    qp__risk_next(ps);
    int64_t v;
    if (!parse_number(ps, 0, QP_RISK_SCORE_MAX, &v)) return false;
    r->score = (int32_t)v;
  }
  if (ps->tok.kind == QP__RISK_T_STR) return parse_reason(ps, &r->reason);
  if (ps->tok.kind != QP__RISK_T_EOL)
    return qp__risk_expected(ps, "'score', a reason string or end of line");
  r->reason = qp__risk_strndup("", 0);
  if (r->reason == NULL) return ps->oom = QP_ENOMEM, qp__risk_fail_at(ps, 1, "out of memory");
  return true;
}

static bool parse_rule(qp__risk_parser_t *ps) {
  qp__risk_rule_t r = {0};
  if (ps->rs->rules.count >= QP_RISK_RULES_MAX)
    return qp__risk_fail_at(ps, ps->tok.column, "too many rules (at most %u)", QP_RISK_RULES_MAX);
  if (!new_name(ps, "a rule name", true, &r.name)) return false;
  ps->code_start = (uint32_t)ps->rs->code.count;
  bool ok = expect(ps, ":", "':' after the rule name") && qp__risk_parse_condition(ps) &&
            parse_rule_tail(ps, &r);
  qp__risk_rule_t *slot = ok ? qp_array_push(&ps->rs->rules) : NULL;
  if (slot == NULL) {
    if (ok) ps->oom = QP_ENOMEM, qp__risk_fail_at(ps, 1, "out of memory");
    qp_free(r.name);
    qp_free(r.reason);
    ps->rs->code.count = ps->code_start;
    return false;
  }
  qp__risk_fuse(ps->rs, ps->code_start);
  r.code = ps->code_start;
  r.code_len = (uint32_t)ps->rs->code.count - ps->code_start;
  r.node = qp__risk_tree_build(ps->rs, r.code, r.code_len);
  r.leaf = r.node == UINT32_MAX ? UINT32_MAX : qp__risk_leaves_build(ps->rs, r.node);
  *slot = r;
  return true;
}

static bool parse_threshold(qp__risk_parser_t *ps) {
  static const char *const ops[] = {"=", "!=", "<", "<=", ">", ">="};
  qp__risk_threshold_t th = {0};
  if (!expect(ps, "score", "'score'")) return false;
  int op = -1;
  for (int k = 0; k < 6 && ps->tok.kind == QP__RISK_T_PUNCT; k++)
    if (qp__risk_is(ps, ops[k])) op = k;
  if (op < 0) return qp__risk_expected(ps, "a comparison (= != < <= > >=)");
  th.cmp = (uint8_t)op;
  qp__risk_next(ps);
  if (!parse_number(ps, INT64_MIN + 1, INT64_MAX, &th.value) ||
      !expect(ps, "=>", "'=>' after the comparison") || !parse_outcome(ps, &th.outcome))
    return false;
  qp__risk_threshold_t *slot = qp_array_push(&ps->rs->thresholds);
  if (slot == NULL)
    return qp__risk_fail_at(ps, 1, "too many thresholds (at most %u)", QP_RISK_THRESHOLDS_MAX);
  *slot = th;
  return true;
}

/* Parses one line into ps->rs; false after recording its error. */
bool qp__risk_parse_line(qp__risk_parser_t *ps) {
  qp__risk_next(ps);
  if (ps->tok.kind == QP__RISK_T_EOL) return true;
  bool ok;
  const char *word = "a declaration ('list', 'feature', 'rule' or 'threshold')";
  if (qp__risk_is(ps, "list")) qp__risk_next(ps), ok = parse_list(ps);
  else if (qp__risk_is(ps, "feature")) qp__risk_next(ps), ok = parse_feature(ps);
  else if (qp__risk_is(ps, "rule")) qp__risk_next(ps), ok = parse_rule(ps);
  else if (qp__risk_is(ps, "threshold")) qp__risk_next(ps), ok = parse_threshold(ps);
  else ok = qp__risk_expected(ps, word);
  if (ok && ps->tok.kind != QP__RISK_T_EOL) ok = qp__risk_expected(ps, "end of line");
  return ok;
}
