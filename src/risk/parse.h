/*
 * parse.h - the ruleset lexer and recursive-descent parser, shared by
 * lex.c, parse.c (declarations) and parse_expr.c (expressions).  A ruleset
 * is parsed one line at a time: the first error on a line is recorded and
 * parsing goes on with the next line, so one run reports every bad line.
 */
#ifndef QP_RISK_PARSE_H
#define QP_RISK_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "risk/risk_int.h"

enum {
  QP__RISK_T_EOL,   /* end of line (or a # comment) */
  QP__RISK_T_IDENT, /* [A-Za-z_][A-Za-z0-9_]* */
  QP__RISK_T_NUM,   /* digits, maybe followed by letters (a duration: 1h) */
  QP__RISK_T_STR,   /* "..." with \" and \\ escapes */
  QP__RISK_T_PUNCT, /* = != < <= > >= + - * ( ) : => */
  QP__RISK_T_BAD,   /* a character that starts no token, or an unclosed string */
};

typedef struct qp__risk_tok {
  int kind;        /* QP__RISK_T_* */
  const char *p;   /* first byte in the line */
  uint32_t len;    /* bytes */
  uint32_t column; /* 1-based */
} qp__risk_tok_t;

/* The parser over one line. */
typedef struct qp__risk_parser {
  const char *line;        /* the line (not NUL-terminated) */
  uint32_t line_len;       /* bytes */
  uint32_t line_no;        /* 1-based */
  uint32_t pos;            /* next byte to lex */
  qp__risk_tok_t tok;      /* the current token */
  qp_risk_ruleset_t *rs;   /* being built */
  qp_risk_errors_t *errs;  /* where errors go */
  bool failed;             /* this line has its error */
  int oom;                 /* QP_ENOMEM/QP_ELIMIT when building failed */
  uint32_t depth;          /* current nesting */
  uint32_t sp;             /* values the program has on its stack here */
  uint32_t code_start;     /* the rule's first instruction */
} qp__risk_parser_t;

/* Moves to the next token. */
void qp__risk_next(qp__risk_parser_t *ps);
/* Whether the current token is the punctuation or word s. */
bool qp__risk_is(const qp__risk_parser_t *ps, const char *s);
/* Records "expected WHAT, found <current token>" at the current token
 * (once per line); returns false so callers can `return qp__risk_expected`. */
bool qp__risk_expected(qp__risk_parser_t *ps, const char *what);
/* Records a message at a column (once per line); returns false. */
bool qp__risk_fail_at(qp__risk_parser_t *ps, uint32_t column, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses one line into ps->rs; false after recording its error. */
bool qp__risk_parse_line(qp__risk_parser_t *ps);
/* Parses a condition (the part of a rule before =>) into rs->code.
 * Returns false after recording an error. */
bool qp__risk_parse_condition(qp__risk_parser_t *ps);
/* Index of a name in rs's features/lists/fields, or -1 (fields: added). */
int32_t qp__risk_feature_index(const qp_risk_ruleset_t *rs, const char *name, uint32_t len);
int32_t qp__risk_list_index(const qp_risk_ruleset_t *rs, const char *name, uint32_t len);
int32_t qp__risk_field_index(qp__risk_parser_t *ps, const char *name, uint32_t len);
/* A reserved word (and or not in) that cannot name anything. */
bool qp__risk_reserved(const char *p, uint32_t len);
/* A copy of n bytes, NUL-terminated (qp_malloc'ed), or NULL. */
char *qp__risk_strndup(const char *p, size_t n);

#endif
