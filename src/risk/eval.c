/*
 * eval.c - runs one rule's compiled program over an event's fields and the
 * feature values: a loop over postfix instructions and a small value stack
 * (its depth was bounded at compile time).  Semantics (docs/risk.md): a
 * comparison with an absent value is false, arithmetic on an absent value
 * gives absent, `x in L` with x absent is false; an evaluation error (a
 * string that is not a decimal used as an integer, a decimal past 64 bits,
 * a real or boolean field, overflow) stops the rule: it does not fire.
 */
#include <string.h>

#include "base/assert.h"
#include "risk/risk_int.h"

#define TAG_BOOL 4

typedef qp__risk_value_t value_t;

/* The value as an integer; false for an evaluation error. */
static bool to_int(const value_t *v, int64_t *out) {
  if (v->tag == QP__RISK_INT) return *out = v->i, true;
  if (v->tag == QP__RISK_STR && v->num == QP__RISK_NUM_OK) return *out = v->i, true;
  return false;
}

static bool arith(uint8_t op, value_t *a, const value_t *b) {
  if (a->tag == QP__RISK_ABSENT || b->tag == QP__RISK_ABSENT) {
    a->tag = QP__RISK_ABSENT;
    return true;
  }
  int64_t x, y, r;
  if (!to_int(a, &x) || !to_int(b, &y)) return false;
  bool over = op == QP__RISK_OP_ADD   ? __builtin_add_overflow(x, y, &r)
              : op == QP__RISK_OP_SUB ? __builtin_sub_overflow(x, y, &r)
                                      : __builtin_mul_overflow(x, y, &r);
  if (over) return false;
  *a = (value_t){.tag = QP__RISK_INT, .i = r};
  return true;
}

static bool cmp_result(uint8_t cmp, int c) {
  switch (cmp) {
  case QP__RISK_EQ: return c == 0;
  case QP__RISK_NE: return c != 0;
  case QP__RISK_LT: return c < 0;
  case QP__RISK_LE: return c <= 0;
  case QP__RISK_GT: return c > 0;
  default: return c >= 0;
  }
}

static bool compare(uint8_t cmp, value_t *a, const value_t *b) {
  bool r = false;
  if (a->tag == QP__RISK_ABSENT || b->tag == QP__RISK_ABSENT) {
    r = false;
  } else if (a->tag == QP__RISK_STR && b->tag == QP__RISK_STR &&
             (cmp == QP__RISK_EQ || cmp == QP__RISK_NE) &&
             (a->len != b->len || (a->len > 0 && a->s[0] != b->s[0]))) {
    r = cmp == QP__RISK_NE; /* differ in length or first byte: no memcmp needed */
  } else if (a->tag == QP__RISK_STR && b->tag == QP__RISK_STR) {
    uint32_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, n);
    if (c == 0) c = a->len < b->len ? -1 : a->len > b->len;
    r = cmp_result(cmp, c);
  } else {
    int64_t x, y;
    if (!to_int(a, &x) || !to_int(b, &y)) return false;
    r = cmp_result(cmp, x < y ? -1 : x > y);
  }
  *a = (value_t){.tag = TAG_BOOL, .i = r};
  return true;
}

static bool in_list(value_t *a, const qp__risk_env_t *env, uint32_t list) {
  bool r = false;
  if (a->tag == QP__RISK_BAD) return false;
  qp__risk_in_cache_t *c = &env->in_cache[list];
  if (a->tag == QP__RISK_ABSENT) {
    r = false;
  } else if (c->event == env->event && c->tag == a->tag &&
             (a->tag == QP__RISK_STR ? c->s == a->s : c->i == a->i)) {
    r = c->result;
  } else {
    char buf[24];
    const char *text;
    uint32_t len;
    if (qp__risk_key_text(a, buf, &text, &len)) r = qp__risk_list_has(env->lists[list], text, len);
    *c = (qp__risk_in_cache_t){.event = env->event, .s = a->s, .i = a->i, .tag = a->tag,
                               .result = r};
  }
  *a = (value_t){.tag = TAG_BOOL, .i = r};
  return true;
}

static bool push_operand(const qp_risk_ruleset_t *rs, const qp__risk_insn_t *in,
                         const qp__risk_env_t *env, value_t *out) {
  if (in->op == QP__RISK_OP_INT) {
    *out = (value_t){.tag = QP__RISK_INT, .i = in->imm};
  } else if (in->op == QP__RISK_OP_STR) {
    const qp__risk_string_t *s = (const qp__risk_string_t *)rs->strings.items + in->arg;
    *out = (value_t){.tag = QP__RISK_STR, .num = s->num, .len = s->len, .i = s->i, .s = s->bytes};
  } else if (in->op == QP__RISK_OP_FIELD) {
    *out = env->fields[in->arg];
  } else {
    const qp_risk_feature_value_t *f = &env->features[in->arg];
    if (f->error) return false;
    *out = f->present ? (value_t){.tag = QP__RISK_INT, .i = f->value}
                      : (value_t){.tag = QP__RISK_ABSENT};
  }
  return true;
}

static inline bool int_result(uint8_t cmp, int64_t x, int64_t y) {
  return cmp_result(cmp, x < y ? -1 : x > y);
}

/* OP_CMP2: the value its unfused pushes and OP_CMP would leave (a boolean
 * in *out), false for an evaluation error.  Fast paths for a feature or an
 * integer field against an integer literal; the rest through compare(). */
static inline bool cmp2(const qp_risk_ruleset_t *rs, const qp__risk_insn_t *in,
                        const qp__risk_env_t *env, value_t *out) {
  if (in->op2 == QP__RISK_OP_INT) {
    int64_t x;
    bool absent = false;
    if (in->sub == QP__RISK_OP_FEATURE) {
      const qp_risk_feature_value_t *f = &env->features[in->arg];
      if (f->error) return false;
      absent = !f->present;
      x = f->value;
    } else {
      const value_t *v = &env->fields[in->arg];
      absent = v->tag == QP__RISK_ABSENT;
      if (!absent && !to_int(v, &x)) return false;
    }
    *out = (value_t){.tag = TAG_BOOL, .i = !absent && int_result(in->cmp, x, in->imm)};
    return true;
  }
  const value_t *v = &env->fields[in->arg];
  bool eq = in->cmp == QP__RISK_EQ || in->cmp == QP__RISK_NE;
  if (in->sub == QP__RISK_OP_FIELD && eq &&
      (v->tag == QP__RISK_STR || v->tag == QP__RISK_ABSENT)) {
    const qp__risk_string_t *lit = (const qp__risk_string_t *)rs->strings.items + in->imm;
    bool same = v->tag == QP__RISK_STR && v->len == lit->len &&
                qp__risk_bytes_eq(v->s, lit->bytes, v->len);
    *out = (value_t){.tag = TAG_BOOL,
                     .i = v->tag == QP__RISK_STR && (in->cmp == QP__RISK_EQ) == same};
    return true;
  }
  qp__risk_insn_t first = {.op = in->sub, .arg = in->arg};
  qp__risk_insn_t second = {.op = in->op2, .arg = (uint32_t)in->imm, .imm = in->imm};
  value_t b;
  if (!push_operand(rs, &first, env, out)) return false;
  push_operand(rs, &second, env, &b); /* a literal: never an error */
  return compare(in->cmp, out, &b);
}

/* One operator on the stack (sp values); false for an evaluation error. */
static bool apply(const qp__risk_insn_t *in, value_t *st, uint32_t *sp,
                  const qp__risk_env_t *env) {
  value_t *a = &st[*sp - 1];
  switch (in->op) {
  case QP__RISK_OP_NEG: {
    value_t zero = {.tag = QP__RISK_INT, .i = 0};
    if (a->tag == QP__RISK_ABSENT) return true;
    value_t b = *a;
    *a = zero;
    return arith(QP__RISK_OP_SUB, a, &b);
  }
  case QP__RISK_OP_NOT: a->i = !a->i; return true;
  case QP__RISK_OP_IN: return in_list(a, env, in->arg);
  case QP__RISK_OP_CMP: (*sp)--; return compare(in->cmp, a - 1, a);
  default: (*sp)--; return arith(in->op, a - 1, a);
  }
}

int qp__risk_eval_rule(const qp_risk_ruleset_t *rs, const qp__risk_rule_t *r,
                       const qp__risk_env_t *env) {
  value_t st[QP_RISK_STACK_MAX];
  uint32_t sp = 0, end = r->code + r->code_len;
  const qp__risk_insn_t *code = rs->code.items;
  for (uint32_t pc = r->code; pc < end; pc++) {
    const qp__risk_insn_t *in = &code[pc];
    if (in->op <= QP__RISK_OP_FEATURE) {
      QP_ASSERT(sp < QP_RISK_STACK_MAX);
      if (!push_operand(rs, in, env, &st[sp++])) return -1;
    } else if (in->op == QP__RISK_OP_CMP2) {
      QP_ASSERT(sp < QP_RISK_STACK_MAX);
      if (!cmp2(rs, in, env, &st[sp++])) return -1;
    } else if (in->op == QP__RISK_OP_AND || in->op == QP__RISK_OP_OR) {
      bool top = st[sp - 1].i != 0;
      if (top == (in->op == QP__RISK_OP_OR)) pc = in->arg - 1;
      else sp--;
    } else if (!apply(in, st, &sp, env)) {
      return -1;
    }
  }
  QP_ASSERT(sp == 1 && st[0].tag == TAG_BOOL);
  return st[0].i != 0;
}
