/*
 * parse_expr.c - recursive descent over a rule's condition, emitting its
 * postfix program as it goes.  Precedence, loosest first: or, and, not,
 * comparisons and `in`, + and -, *, unary minus.  Types are checked here,
 * so that a program never meets a condition where it needs a value or the
 * reverse: fields are of any type until the event says, features and
 * arithmetic are integers, literals are what they look like.  Recursion is
 * bounded by QP_RISK_DEPTH_MAX and the stack a program needs by
 * QP_RISK_STACK_MAX, both checked while parsing.
 */
#include <string.h>

#include "base/alloc.h"
#include "risk/parse.h"

enum { TY_BOOL, TY_INT, TY_STR, TY_ANY };

static bool parse_or(qp__risk_parser_t *ps, int *ty);

static bool emit(qp__risk_parser_t *ps, uint8_t op, uint8_t cmp, uint32_t arg, int64_t imm,
                 int delta) {
  if (ps->rs->code.count - ps->code_start >= QP_RISK_PROGRAM_MAX)
    return qp__risk_fail_at(ps, ps->tok.column, "rule too long (at most %u operations)",
                            QP_RISK_PROGRAM_MAX);
  ps->sp = (uint32_t)((int32_t)ps->sp + delta);
  if (ps->sp > QP_RISK_STACK_MAX)
    return qp__risk_fail_at(ps, ps->tok.column, "expression too deep (at most %u values pending)",
                            QP_RISK_STACK_MAX);
  qp__risk_insn_t *in = qp_array_push(&ps->rs->code);
  if (in == NULL) {
    ps->oom = QP_ENOMEM;
    return qp__risk_fail_at(ps, ps->tok.column, "out of memory");
  }
  *in = (qp__risk_insn_t){.op = op, .cmp = cmp, .arg = arg, .imm = imm};
  return true;
}

static bool need_bool(qp__risk_parser_t *ps, int ty, uint32_t column) {
  if (ty == TY_BOOL) return true;
  return qp__risk_fail_at(ps, column,
                          "expected a condition (a comparison, 'in', 'not' or one in "
                          "parentheses), found a value");
}

static bool need_value(qp__risk_parser_t *ps, int ty, uint32_t column, bool integer) {
  if (ty == TY_BOOL)
    return qp__risk_fail_at(ps, column, "expected a value, found a condition");
  if (integer && ty == TY_STR)
    return qp__risk_fail_at(ps, column, "expected an integer, found a string");
  return true;
}

static bool enter(qp__risk_parser_t *ps) {
  if (++ps->depth <= QP_RISK_DEPTH_MAX) return true;
  return qp__risk_fail_at(ps, ps->tok.column, "expression nested too deep (at most %u levels)",
                          QP_RISK_DEPTH_MAX);
}

/* An integer literal, negated when neg (so that the most negative fits). */
static bool parse_int(qp__risk_parser_t *ps, bool neg, int64_t *out) {
  const qp__risk_tok_t *t = &ps->tok;
  uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (uint32_t i = 0; i < t->len; i++) {
    char c = t->p[i];
    if (c < '0' || c > '9') return qp__risk_expected(ps, "an integer");
    if (v > (lim - (uint64_t)(c - '0')) / 10)
      return qp__risk_fail_at(ps, t->column, "integer out of range (64-bit signed)");
    v = v * 10 + (uint64_t)(c - '0');
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  qp__risk_next(ps);
  return true;
}

static bool parse_string(qp__risk_parser_t *ps) {
  const qp__risk_tok_t *t = &ps->tok;
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
  qp__risk_string_t *slot = n <= QP_RISK_STRING_BYTES_MAX ? qp_array_push(&ps->rs->strings) : NULL;
  if (slot == NULL) {
    qp_free(s);
    if (n > QP_RISK_STRING_BYTES_MAX)
      return qp__risk_fail_at(ps, t->column, "string longer than %u bytes",
                              QP_RISK_STRING_BYTES_MAX);
    return ps->oom = QP_ENOMEM, qp__risk_fail_at(ps, t->column, "out of memory");
  }
  *slot = (qp__risk_string_t){.bytes = s, .len = n};
  slot->num = qp__risk_parse_decimal(s, n, &slot->i);
  qp__risk_next(ps);
  return emit(ps, QP__RISK_OP_STR, 0, (uint32_t)(ps->rs->strings.count - 1), 0, 1);
}

static bool parse_name(qp__risk_parser_t *ps, int *ty) {
  const qp__risk_tok_t *t = &ps->tok;
  if (qp__risk_reserved(t->p, t->len)) return qp__risk_expected(ps, "a value");
  int32_t i = qp__risk_feature_index(ps->rs, t->p, t->len);
  if (i >= 0) {
    *ty = TY_INT;
    qp__risk_next(ps);
    return emit(ps, QP__RISK_OP_FEATURE, 0, (uint32_t)i, 0, 1);
  }
  if (qp__risk_list_index(ps->rs, t->p, t->len) >= 0)
    return qp__risk_fail_at(ps, t->column, "expected a value, found the list '%.*s' (use 'in')",
                            (int)t->len, t->p);
  i = qp__risk_field_index(ps, t->p, t->len);
  if (i < 0) return false;
  *ty = TY_ANY;
  qp__risk_next(ps);
  return emit(ps, QP__RISK_OP_FIELD, 0, (uint32_t)i, 0, 1);
}

static bool parse_primary(qp__risk_parser_t *ps, int *ty) {
  int64_t v;
  switch (ps->tok.kind) {
  case QP__RISK_T_NUM:
    *ty = TY_INT;
    return parse_int(ps, false, &v) && emit(ps, QP__RISK_OP_INT, 0, 0, v, 1);
  case QP__RISK_T_STR: *ty = TY_STR; return parse_string(ps);
  case QP__RISK_T_IDENT: return parse_name(ps, ty);
  default: break;
  }
  if (!qp__risk_is(ps, "("))
    return qp__risk_expected(ps, "a value (a number, a string, a field, a feature or '(')");
  if (!enter(ps)) return false;
  qp__risk_next(ps);
  if (!parse_or(ps, ty)) return false;
  if (!qp__risk_is(ps, ")")) return qp__risk_expected(ps, "')'");
  ps->depth--;
  qp__risk_next(ps);
  return true;
}

static bool parse_unary(qp__risk_parser_t *ps, int *ty) {
  if (!qp__risk_is(ps, "-")) return parse_primary(ps, ty);
  if (!enter(ps)) return false;
  qp__risk_next(ps);
  int64_t v;
  *ty = TY_INT;
  if (ps->tok.kind == QP__RISK_T_NUM) {
    ps->depth--;
    return parse_int(ps, true, &v) && emit(ps, QP__RISK_OP_INT, 0, 0, v, 1);
  }
  uint32_t col = ps->tok.column;
  int t;
  if (!parse_unary(ps, &t) || !need_value(ps, t, col, true)) return false;
  ps->depth--;
  return emit(ps, QP__RISK_OP_NEG, 0, 0, 0, 0);
}

static bool parse_product(qp__risk_parser_t *ps, int *ty) {
  uint32_t col = ps->tok.column;
  if (!parse_unary(ps, ty)) return false;
  while (qp__risk_is(ps, "*")) {
    if (!need_value(ps, *ty, col, true)) return false;
    qp__risk_next(ps);
    col = ps->tok.column;
    int rt;
    if (!parse_unary(ps, &rt) || !need_value(ps, rt, col, true)) return false;
    if (!emit(ps, QP__RISK_OP_MUL, 0, 0, 0, -1)) return false;
    *ty = TY_INT;
  }
  return true;
}

static bool parse_sum(qp__risk_parser_t *ps, int *ty) {
  uint32_t col = ps->tok.column;
  if (!parse_product(ps, ty)) return false;
  while (qp__risk_is(ps, "+") || qp__risk_is(ps, "-")) {
    uint8_t op = qp__risk_is(ps, "+") ? QP__RISK_OP_ADD : QP__RISK_OP_SUB;
    if (!need_value(ps, *ty, col, true)) return false;
    qp__risk_next(ps);
    col = ps->tok.column;
    int rt;
    if (!parse_product(ps, &rt) || !need_value(ps, rt, col, true)) return false;
    if (!emit(ps, op, 0, 0, 0, -1)) return false;
    *ty = TY_INT;
  }
  return true;
}

/* A comparison operator at the current token: QP__RISK_EQ.., or -1. */
static int cmp_op(const qp__risk_parser_t *ps) {
  static const char *const ops[] = {"=", "!=", "<", "<=", ">", ">="};
  for (int k = 0; k < 6; k++)
    if (ps->tok.kind == QP__RISK_T_PUNCT && qp__risk_is(ps, ops[k])) return k;
  return -1;
}

static bool parse_in(qp__risk_parser_t *ps) {
  qp__risk_next(ps);
  if (ps->tok.kind != QP__RISK_T_IDENT) return qp__risk_expected(ps, "a list name after 'in'");
  int32_t l = qp__risk_list_index(ps->rs, ps->tok.p, ps->tok.len);
  if (l < 0)
    return qp__risk_fail_at(ps, ps->tok.column, "expected a declared list, found '%.*s'",
                            (int)(ps->tok.len > 40 ? 40 : ps->tok.len), ps->tok.p);
  qp__risk_next(ps);
  return emit(ps, QP__RISK_OP_IN, 0, (uint32_t)l, 0, 0);
}

static bool parse_cmp(qp__risk_parser_t *ps, int *ty) {
  uint32_t col = ps->tok.column;
  if (!parse_sum(ps, ty)) return false;
  int op = cmp_op(ps);
  if (op < 0 && !qp__risk_is(ps, "in")) return true;
  if (!need_value(ps, *ty, col, false)) return false;
  int lt = *ty;
  *ty = TY_BOOL;
  if (op < 0) return parse_in(ps);
  qp__risk_next(ps);
  uint32_t rcol = ps->tok.column;
  int rt;
  if (!parse_sum(ps, &rt) || !need_value(ps, rt, rcol, false)) return false;
  if ((lt == TY_STR && rt == TY_INT) || (lt == TY_INT && rt == TY_STR))
    return qp__risk_fail_at(ps, col, "cannot compare a string with an integer");
  return emit(ps, QP__RISK_OP_CMP, (uint8_t)op, 0, 0, -1);
}

static bool parse_not(qp__risk_parser_t *ps, int *ty) {
  if (!qp__risk_is(ps, "not")) return parse_cmp(ps, ty);
  if (!enter(ps)) return false;
  qp__risk_next(ps);
  uint32_t col = ps->tok.column;
  if (!parse_not(ps, ty) || !need_bool(ps, *ty, col)) return false;
  ps->depth--;
  return emit(ps, QP__RISK_OP_NOT, 0, 0, 0, 0);
}

/* Left-associative `and` (is_and) or `or` with short-circuit jumps. */
static bool parse_chain(qp__risk_parser_t *ps, int *ty, bool is_and) {
  uint32_t col = ps->tok.column;
  if (!(is_and ? parse_not(ps, ty) : parse_chain(ps, ty, true))) return false;
  const char *word = is_and ? "and" : "or";
  while (qp__risk_is(ps, word)) {
    if (!need_bool(ps, *ty, col)) return false;
    size_t jump = ps->rs->code.count;
    if (!emit(ps, is_and ? QP__RISK_OP_AND : QP__RISK_OP_OR, 0, 0, 0, -1)) return false;
    qp__risk_next(ps);
    col = ps->tok.column;
    if (!(is_and ? parse_not(ps, ty) : parse_chain(ps, ty, true))) return false;
    if (!need_bool(ps, *ty, col)) return false;
    ((qp__risk_insn_t *)qp_array_at(&ps->rs->code, jump))->arg = (uint32_t)ps->rs->code.count;
  }
  return true;
}

static bool parse_or(qp__risk_parser_t *ps, int *ty) { return parse_chain(ps, ty, false); }

bool qp__risk_parse_condition(qp__risk_parser_t *ps) {
  uint32_t col = ps->tok.column;
  int ty;
  ps->depth = 0;
  ps->sp = 0;
  if (!parse_or(ps, &ty)) return false;
  return need_bool(ps, ty, col);
}
