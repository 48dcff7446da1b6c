/*
 * lex.c - the ruleset lexer: splits one line into words, numbers (with an
 * optional unit suffix, for durations), string literals and punctuation,
 * stopping at `#` outside a string.  Also the error recording every parser
 * function uses, so that each message says where and what was expected.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "risk/parse.h"

static bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static uint32_t lex_string(const qp__risk_parser_t *ps, uint32_t i, int *kind) {
  i++; /* the opening quote */
  while (i < ps->line_len && ps->line[i] != '"') {
    if (ps->line[i] == '\\' && i + 1 < ps->line_len) i++;
    i++;
  }
  if (i >= ps->line_len) {
    *kind = QP__RISK_T_BAD;
    return i;
  }
  *kind = QP__RISK_T_STR;
  return i + 1;
}

static uint32_t lex_punct(const qp__risk_parser_t *ps, uint32_t i, int *kind) {
  static const char *const two[] = {"!=", "<=", ">=", "=>"};
  for (size_t k = 0; k < sizeof two / sizeof two[0]; k++)
    if (i + 1 < ps->line_len && memcmp(ps->line + i, two[k], 2) == 0) {
      *kind = QP__RISK_T_PUNCT;
      return i + 2;
    }
  *kind = strchr("=<>+-*():", ps->line[i]) != NULL ? QP__RISK_T_PUNCT : QP__RISK_T_BAD;
  return i + 1;
}

void qp__risk_next(qp__risk_parser_t *ps) {
  uint32_t i = ps->pos;
  while (i < ps->line_len && (ps->line[i] == ' ' || ps->line[i] == '\t' || ps->line[i] == '\r'))
    i++;
  qp__risk_tok_t *t = &ps->tok;
  t->p = ps->line + i;
  t->column = i + 1;
  uint32_t end = i;
  if (i >= ps->line_len || ps->line[i] == '#') {
    t->kind = QP__RISK_T_EOL;
  } else if (is_alpha(ps->line[i])) {
    while (end < ps->line_len && (is_alpha(ps->line[end]) || is_digit(ps->line[end]))) end++;
    t->kind = QP__RISK_T_IDENT;
  } else if (is_digit(ps->line[i])) {
    while (end < ps->line_len && is_digit(ps->line[end])) end++;
    while (end < ps->line_len && (is_alpha(ps->line[end]) || is_digit(ps->line[end]))) end++;
    t->kind = QP__RISK_T_NUM;
  } else if (ps->line[i] == '"') {
    end = lex_string(ps, i, &t->kind);
  } else {
    end = lex_punct(ps, i, &t->kind);
  }
  t->len = end - i;
  ps->pos = end;
}

bool qp__risk_is(const qp__risk_parser_t *ps, const char *s) {
  size_t n = strlen(s);
  return (ps->tok.kind == QP__RISK_T_PUNCT || ps->tok.kind == QP__RISK_T_IDENT) &&
         ps->tok.len == n && memcmp(ps->tok.p, s, n) == 0;
}

bool qp__risk_fail_at(qp__risk_parser_t *ps, uint32_t column, const char *fmt, ...) {
  if (ps->failed) return false;
  ps->failed = true;
  qp_risk_errors_t *e = ps->errs;
  if (e->count >= QP_RISK_ERRORS_MAX) {
    e->more++;
    return false;
  }
  qp_risk_error_t *it = &e->items[e->count++];
  it->line = ps->line_no;
  it->column = column;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(it->message, sizeof it->message, fmt, ap);
  va_end(ap);
  return false;
}

bool qp__risk_expected(qp__risk_parser_t *ps, const char *what) {
  const qp__risk_tok_t *t = &ps->tok;
  if (t->kind == QP__RISK_T_EOL)
    return qp__risk_fail_at(ps, t->column, "expected %s, found end of line", what);
  if (t->kind == QP__RISK_T_BAD && t->p[0] == '"')
    return qp__risk_fail_at(ps, t->column, "expected %s, found an unclosed string", what);
  int n = t->len > 40 ? 40 : (int)t->len;
  return qp__risk_fail_at(ps, t->column, "expected %s, found '%.*s'", what, n, t->p);
}

bool qp__risk_reserved(const char *p, uint32_t len) {
  static const char *const words[] = {"and", "or", "not", "in"};
  for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
    if (strlen(words[k]) == len && memcmp(words[k], p, len) == 0) return true;
  return false;
}

char *qp__risk_strndup(const char *p, size_t n) {
  char *s = qp_malloc(n + 1);
  if (s == NULL) return NULL;
  memcpy(s, p, n);
  s[n] = '\0';
  return s;
}
