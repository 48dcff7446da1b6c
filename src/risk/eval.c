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

static inline bool negate(value_t *a) {
  if (a->tag == QP__RISK_ABSENT) return true;
  value_t b = *a;
  *a = (value_t){.tag = QP__RISK_INT, .i = 0};
  return arith(QP__RISK_OP_SUB, a, &b);
}

/* One operator on the stack (sp values); false for an evaluation error. */
static bool apply(const qp__risk_insn_t *in, value_t *st, uint32_t *sp,
                  const qp__risk_env_t *env) {
  value_t *a = &st[*sp - 1];
  switch (in->op) {
  case QP__RISK_OP_NEG: return negate(a);
  case QP__RISK_OP_NOT: a->i = !a->i; return true;
  case QP__RISK_OP_IN: return in_list(a, env, in->arg);
  case QP__RISK_OP_CMP: (*sp)--; return compare(in->cmp, a - 1, a);
  default: (*sp)--; return arith(in->op, a - 1, a);
  }
}

/* ---------------------------------------------------------- the tree */

/* A value node (tree.c) into *out, as the program's pushes and arithmetic
 * leave it; false for an evaluation error. */
static bool tree_value(const qp_risk_ruleset_t *rs, uint32_t node, const qp__risk_env_t *env,
                       value_t *out) {
  const qp__risk_node_t *n = (const qp__risk_node_t *)rs->nodes.items + node;
  const qp__risk_insn_t *code = rs->code.items;
  value_t b;
  switch (n->kind) {
  case QP__RISK_T_LIT:
  case QP__RISK_T_STR_LIT:
  case QP__RISK_T_FIELD_V:
  case QP__RISK_T_FEAT_V: return push_operand(rs, &code[n->b], env, out);
  case QP__RISK_T_NEG: return tree_value(rs, n->a, env, out) && negate(out);
  default:
    return tree_value(rs, n->a, env, out) && tree_value(rs, n->b, env, &b) &&
           arith(n->cmp, out, &b);
  }
}

static inline int int_cmp(uint8_t cmp, int64_t x, int64_t y) { return int_result(cmp, x, y); }

enum { I_ERROR = -1, I_ABSENT = 0, I_INT = 1, I_NOT_INT = 2 };

static int int_arith(uint8_t op, int64_t *x, int64_t y) {
  bool over = op == QP__RISK_OP_ADD   ? __builtin_add_overflow(*x, y, x)
              : op == QP__RISK_OP_SUB ? __builtin_sub_overflow(*x, y, x)
                                      : __builtin_mul_overflow(*x, y, x);
  return over ? I_ERROR : I_INT;
}

/* A value node as an integer, with the program's rules: I_INT (in *x),
 * I_ABSENT, I_NOT_INT (a string that is no decimal, a real, a boolean: an
 * error once used as an integer, unless the other side is absent), or
 * I_ERROR (a feature's error, an overflow: the rule stops). */
static inline int tree_int_leaf(const qp_risk_ruleset_t *rs, const qp__risk_node_t *n,
                                const qp__risk_env_t *env, int64_t *x) {
  switch (n->kind) {
  case QP__RISK_T_LIT: *x = n->imm; return I_INT;
  case QP__RISK_T_FEAT_V: {
    const qp_risk_feature_value_t *f = &env->features[n->a];
    if (f->error) return I_ERROR;
    *x = f->value;
    return f->present ? I_INT : I_ABSENT;
  }
  case QP__RISK_T_FIELD_V: {
    const value_t *v = &env->fields[n->a];
    if (v->tag == QP__RISK_ABSENT) return I_ABSENT;
    return to_int(v, x) ? I_INT : I_NOT_INT;
  }
  default: { /* QP__RISK_T_STR_LIT */
    const qp__risk_string_t *s = (const qp__risk_string_t *)rs->strings.items + n->a;
    *x = s->i;
    return s->num == QP__RISK_NUM_OK ? I_INT : I_NOT_INT;
  }
  }
}

static int tree_int(const qp_risk_ruleset_t *rs, uint32_t node, const qp__risk_env_t *env,
                    int64_t *x) {
  const qp__risk_node_t *n = (const qp__risk_node_t *)rs->nodes.items + node;
  int64_t y;
  int a, b;
  switch (n->kind) {
  case QP__RISK_T_NEG:
    a = tree_int(rs, n->a, env, &y);
    if (a != I_INT) return a == I_NOT_INT ? I_ERROR : a;
    *x = 0;
    return int_arith(QP__RISK_OP_SUB, x, y);
  case QP__RISK_T_ARITH:
    a = tree_int(rs, n->a, env, x);
    b = a == I_ERROR ? I_ERROR : tree_int(rs, n->b, env, &y);
    if (a == I_ERROR || b == I_ERROR) return I_ERROR;
    if (a == I_ABSENT || b == I_ABSENT) return I_ABSENT;
    return a == I_NOT_INT || b == I_NOT_INT ? I_ERROR : int_arith(n->cmp, x, y);
  default: return tree_int_leaf(rs, n, env, x);
  }
}

/* A comparison of two values, one an integer by its kind. */
static int tree_cmp_int(const qp_risk_ruleset_t *rs, const qp__risk_node_t *n,
                        const qp__risk_env_t *env) {
  int64_t x, y;
  int a = tree_int(rs, n->a, env, &x);
  int b = a == I_ERROR ? I_ERROR : tree_int(rs, n->b, env, &y);
  if (a == I_ERROR || b == I_ERROR) return -1;
  if (a == I_ABSENT || b == I_ABSENT) return 0;
  return a == I_NOT_INT || b == I_NOT_INT ? -1 : int_cmp(n->cmp, x, y);
}

/* A boolean node: 1, 0, or -1 for an evaluation error. */
static int tree_bool(const qp_risk_ruleset_t *rs, uint32_t node, const qp__risk_env_t *env) {
  const qp__risk_node_t *n = (const qp__risk_node_t *)rs->nodes.items + node;
  value_t a, b;
  int r;
  switch (n->kind) {
  case QP__RISK_T_AND: r = tree_bool(rs, n->a, env); return r <= 0 ? r : tree_bool(rs, n->b, env);
  case QP__RISK_T_OR: r = tree_bool(rs, n->a, env); return r != 0 ? r : tree_bool(rs, n->b, env);
  case QP__RISK_T_NOT: r = tree_bool(rs, n->a, env); return r < 0 ? r : !r;
  case QP__RISK_T_FEAT_INT: {
    const qp_risk_feature_value_t *f = &env->features[n->a];
    if (f->error) return -1;
    return f->present && int_cmp(n->cmp, f->value, n->imm);
  }
  case QP__RISK_T_FIELD_INT: {
    const value_t *v = &env->fields[n->a];
    int64_t x;
    if (v->tag == QP__RISK_ABSENT) return 0;
    return to_int(v, &x) ? int_cmp(n->cmp, x, n->imm) : -1;
  }
  case QP__RISK_T_CMP2: return cmp2(rs, (const qp__risk_insn_t *)rs->code.items + n->a, env, &a)
                                   ? a.i != 0 : -1;
  case QP__RISK_T_IN_FIELD: a = env->fields[n->a]; return in_list(&a, env, n->b) ? a.i != 0 : -1;
  case QP__RISK_T_IN:
    return tree_value(rs, n->a, env, &a) && in_list(&a, env, n->b) ? a.i != 0 : -1;
  case QP__RISK_T_CMP_INT: return tree_cmp_int(rs, n, env);
  default: /* QP__RISK_T_CMP */
    return tree_value(rs, n->a, env, &a) && tree_value(rs, n->b, env, &b) &&
                   compare(n->cmp, &a, &b)
               ? a.i != 0
               : -1;
  }
}

/* One operation of an integer program on its stack (v values, st their
 * I_* states; *sp of them); false for an evaluation error. */
static inline bool iop_run(const qp_risk_ruleset_t *rs, const qp__risk_iop_t *op,
                           const qp__risk_env_t *env, int64_t *v, int8_t *st, uint32_t *sp) {
  uint32_t i = *sp;
  switch (op->kind) {
  case QP__RISK_T_NEG:
    if (st[i - 1] == I_NOT_INT) return false;
    if (st[i - 1] == I_INT) {
      int64_t y = v[i - 1];
      v[i - 1] = 0;
      return int_arith(QP__RISK_OP_SUB, &v[i - 1], y) == I_INT;
    }
    return true;
  case QP__RISK_T_ARITH:
    *sp = i - 1;
    if (st[i - 2] == I_ABSENT || st[i - 1] == I_ABSENT) return st[i - 2] = I_ABSENT, true;
    if (st[i - 2] == I_NOT_INT || st[i - 1] == I_NOT_INT) return false;
    return int_arith(op->op, &v[i - 2], v[i - 1]) == I_INT;
  default: {
    qp__risk_node_t n = {.kind = op->kind, .a = op->a, .imm = op->imm};
    int r = tree_int_leaf(rs, &n, env, &v[i]);
    if (r == I_ERROR) return false;
    st[i] = (int8_t)r;
    *sp = i + 1;
    return true;
  }
  }
}

/* A comparison of two integer expressions, from its program. */
static int cmp_int_program(const qp_risk_ruleset_t *rs, const qp__risk_leaf_t *l,
                           const qp__risk_env_t *env) {
  int64_t v[QP_RISK_STACK_MAX];
  int8_t st[QP_RISK_STACK_MAX];
  uint32_t sp = 0;
  const qp__risk_iop_t *ops = (const qp__risk_iop_t *)rs->iops.items + l->a;
  for (uint32_t i = 0; i < l->b; i++)
    if (!iop_run(rs, &ops[i], env, v, st, &sp)) return -1;
  QP_ASSERT(sp == 2);
  if (st[0] == I_ABSENT || st[1] == I_ABSENT) return 0;
  return st[0] == I_NOT_INT || st[1] == I_NOT_INT ? -1 : int_cmp(l->cmp, v[0], v[1]);
}

/* One leaf's test: 1, 0, or -1 for an evaluation error. */
static inline int leaf_test(const qp_risk_ruleset_t *rs, const qp__risk_leaf_t *l,
                            const qp__risk_env_t *env) {
  value_t a;
  switch (l->kind) {
  case QP__RISK_T_FEAT_INT: {
    const qp_risk_feature_value_t *f = &env->features[l->a];
    if (f->error) return -1;
    return f->present && int_cmp(l->cmp, f->value, l->imm);
  }
  case QP__RISK_T_FIELD_INT: {
    const value_t *v = &env->fields[l->a];
    int64_t x;
    if (v->tag == QP__RISK_ABSENT) return 0;
    return to_int(v, &x) ? int_cmp(l->cmp, x, l->imm) : -1;
  }
  case QP__RISK_T_CMP2:
    return cmp2(rs, (const qp__risk_insn_t *)rs->code.items + l->a, env, &a) ? a.i != 0 : -1;
  case QP__RISK_T_IN_FIELD: a = env->fields[l->a]; return in_list(&a, env, l->b) ? a.i != 0 : -1;
  case QP__RISK_T_CMP_INT: return cmp_int_program(rs, l, env);
  default: return tree_bool(rs, l->a, env);
  }
}

/* ------------------------------------------------------- the program */

int qp__risk_eval_rule(const qp_risk_ruleset_t *rs, const qp__risk_rule_t *r,
                       const qp__risk_env_t *env) {
  if (r->leaf != UINT32_MAX) {
    const qp__risk_leaf_t *leaves = rs->leaves.items;
    uint32_t i = r->leaf;
    for (;;) {
      int t = leaf_test(rs, &leaves[i], env);
      if (t < 0) return -1;
      i = leaves[i].next[t];
      if (i >= QP__RISK_LEAF_FALSE) return i == QP__RISK_LEAF_TRUE;
    }
  }
  if (r->node != UINT32_MAX) return tree_bool(rs, r->node, env);
  return qp__risk_eval_code(rs, r->code, r->code + r->code_len, env);
}

int qp__risk_eval_code(const qp_risk_ruleset_t *rs, uint32_t lo, uint32_t end,
                       const qp__risk_env_t *env) {
  value_t st[QP_RISK_STACK_MAX];
  uint32_t sp = 0;
  const qp__risk_insn_t *code = rs->code.items;
  for (uint32_t pc = lo; pc < end; pc++) {
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
