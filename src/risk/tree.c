/*
 * tree.c - a rule's program as a small tree of typed nodes, for speed.
 *
 * The postfix program (eval.c) is general but pays for its value stack and
 * its dispatch loop on every step.  At compile time the rule's program is
 * parsed back into a tree: and, or, not; comparisons and `in`; arithmetic
 * and operands; with the commonest leaves (a feature or an integer field
 * against an integer literal, a field against a string literal, `field in
 * list`) as single nodes.  eval.c walks the tree with the same helpers the
 * program uses (push_operand, arith, compare, in_list), so results,
 * short-circuits and evaluation errors are those of the program: and/or
 * evaluate their right side only when the program would, and an error
 * stops the rule (tests/unit/risk's property test checks the engine
 * against an independent reference).  A program the builder does not
 * understand keeps no tree and runs as before.
 *
 * The tree is then laid out as a chain of leaves (qp__risk_leaf_t): and,
 * or and not become the links between tests (`a and b`: a false ends the
 * rule false, a true goes on to b; `not a` swaps a's links), so a rule runs
 * as a loop over its leaves, without recursion.  A comparison of integer
 * expressions (`amount - f * 2 > 100`) is one leaf whose expression runs as
 * a flat program over a small stack of integers (qp__risk_iop_t).
 */
#include <string.h>

#include "risk/risk_int.h"

#define NO_NODE UINT32_MAX

/* What one stack slot of the program holds while it is parsed back. */
typedef struct part {
  uint32_t node; /* its tree node, or NO_NODE */
  uint32_t lo;   /* its first instruction */
  bool boolean;  /* it is a boolean */
} part_t;

typedef struct builder {
  qp_risk_ruleset_t *rs;
  part_t stack[QP_RISK_STACK_MAX];
  uint32_t depth;
} builder_t;

static uint32_t add(qp_risk_ruleset_t *rs, qp__risk_node_t n) {
  qp__risk_node_t *slot = qp_array_push(&rs->nodes);
  if (slot == NULL) return NO_NODE;
  *slot = n;
  return (uint32_t)rs->nodes.count - 1;
}

/* A leaf for OP_CMP2 at pc: in place for feature or integer field against
 * an integer, else through the instruction. */
static uint32_t leaf(qp_risk_ruleset_t *rs, uint32_t pc) {
  const qp__risk_insn_t *in = (const qp__risk_insn_t *)rs->code.items + pc;
  uint8_t kind = QP__RISK_T_CMP2;
  if (in->op2 == QP__RISK_OP_INT)
    kind = in->sub == QP__RISK_OP_FEATURE ? QP__RISK_T_FEAT_INT : QP__RISK_T_FIELD_INT;
  uint32_t a = kind == QP__RISK_T_CMP2 ? pc : in->arg;
  return add(rs, (qp__risk_node_t){.kind = kind, .cmp = in->cmp, .a = a, .imm = in->imm});
}

/* The node of a boolean part. */
static uint32_t node_of(const part_t *p) { return p->boolean ? p->node : NO_NODE; }

static uint32_t build_range(qp_risk_ruleset_t *rs, uint32_t lo, uint32_t hi, int depth);

/* and/or at pc: the left part is on the stack, the right one is
 * [pc + 1, target).  Returns the target, or 0 on failure. */
static uint32_t junction(builder_t *b, uint32_t pc, int depth) {
  const qp__risk_insn_t *in = (const qp__risk_insn_t *)b->rs->code.items + pc;
  uint32_t target = in->arg;
  if (b->depth == 0 || target <= pc + 1) return 0;
  part_t *left = &b->stack[b->depth - 1];
  uint32_t l = node_of(left);
  uint32_t r = build_range(b->rs, pc + 1, target, depth + 1);
  if (l == NO_NODE || r == NO_NODE) return 0;
  uint8_t kind = in->op == QP__RISK_OP_AND ? QP__RISK_T_AND : QP__RISK_T_OR;
  uint32_t n = add(b->rs, (qp__risk_node_t){.kind = kind, .a = l, .b = r});
  if (n == NO_NODE) return 0;
  *left = (part_t){n, left->lo, true};
  return target;
}

/* A value node for an operand instruction. */
static uint32_t operand(qp_risk_ruleset_t *rs, uint32_t pc, const qp__risk_insn_t *in) {
  static const uint8_t kinds[] = {QP__RISK_T_LIT, QP__RISK_T_STR_LIT, QP__RISK_T_FIELD_V,
                                  QP__RISK_T_FEAT_V};
  return add(rs, (qp__risk_node_t){.kind = kinds[in->op - QP__RISK_OP_INT], .a = in->arg,
                                   .b = pc, .imm = in->imm});
}

/* Whether a value node is an integer or absent by its kind (never a
 * string): a comparison with it compares integers. */
static bool integer_kind(const qp_risk_ruleset_t *rs, uint32_t node) {
  uint8_t k = ((const qp__risk_node_t *)rs->nodes.items)[node].kind;
  return k == QP__RISK_T_LIT || k == QP__RISK_T_FEAT_V || k == QP__RISK_T_NEG ||
         k == QP__RISK_T_ARITH;
}

/* A node for an operator over the top parts (its operands). */
static uint32_t operator_node(builder_t *b, uint32_t pc, const qp__risk_insn_t *in) {
  part_t *top = &b->stack[b->depth - 1];
  const qp__risk_insn_t *prev = (const qp__risk_insn_t *)b->rs->code.items + pc - 1;
  qp__risk_node_t n = {.cmp = in->cmp, .a = top->node};
  switch (in->op) {
  case QP__RISK_OP_NOT: n.kind = QP__RISK_T_NOT; break;
  case QP__RISK_OP_NEG: n.kind = QP__RISK_T_NEG; break;
  case QP__RISK_OP_IN:
    n.kind = QP__RISK_T_IN, n.b = in->arg;
    if (top->lo == pc - 1 && prev->op == QP__RISK_OP_FIELD)
      n.kind = QP__RISK_T_IN_FIELD, n.a = prev->arg;
    break;
  default: /* binary: the left operand is one below */
    n.a = top[-1].node, n.b = top->node;
    n.kind = in->op == QP__RISK_OP_CMP ? QP__RISK_T_CMP : QP__RISK_T_ARITH;
    if (n.kind == QP__RISK_T_ARITH) n.cmp = in->op;
    if (n.kind == QP__RISK_T_CMP && n.a != NO_NODE && n.b != NO_NODE &&
        (integer_kind(b->rs, n.a) || integer_kind(b->rs, n.b)))
      n.kind = QP__RISK_T_CMP_INT;
  }
  return add(b->rs, n);
}

/* One instruction other than and/or; false when the shape is not known. */
static bool step(builder_t *b, uint32_t pc) {
  const qp__risk_insn_t *in = (const qp__risk_insn_t *)b->rs->code.items + pc;
  if (in->op <= QP__RISK_OP_FEATURE || in->op == QP__RISK_OP_CMP2) {
    if (b->depth == QP_RISK_STACK_MAX) return false;
    bool cmp2 = in->op == QP__RISK_OP_CMP2;
    uint32_t n = cmp2 ? leaf(b->rs, pc) : operand(b->rs, pc, in);
    b->stack[b->depth++] = (part_t){n, pc, cmp2};
    return n != NO_NODE;
  }
  bool binary = in->op >= QP__RISK_OP_ADD && in->op <= QP__RISK_OP_CMP;
  if (b->depth < (binary ? 2u : 1u) || in->op > QP__RISK_OP_NOT) return false;
  bool boolean = in->op == QP__RISK_OP_CMP || in->op == QP__RISK_OP_IN ||
                 in->op == QP__RISK_OP_NOT;
  if (in->op == QP__RISK_OP_NOT && !b->stack[b->depth - 1].boolean) return false;
  uint32_t n = operator_node(b, pc, in);
  if (binary) b->depth--;
  part_t *top = &b->stack[b->depth - 1];
  *top = (part_t){n, top->lo, boolean};
  return n != NO_NODE;
}

/* The tree of code [lo, hi), one boolean expression, or NO_NODE. */
static uint32_t build_range(qp_risk_ruleset_t *rs, uint32_t lo, uint32_t hi, int depth) {
  if (depth > 64) return NO_NODE;
  builder_t b = {.rs = rs};
  for (uint32_t pc = lo; pc < hi;) {
    const qp__risk_insn_t *in = (const qp__risk_insn_t *)rs->code.items + pc;
    if (in->op == QP__RISK_OP_AND || in->op == QP__RISK_OP_OR) {
      pc = junction(&b, pc, depth);
      if (pc == 0 || pc > hi) return NO_NODE;
      continue;
    }
    if (!step(&b, pc)) return NO_NODE;
    pc++;
  }
  if (b.depth != 1) return NO_NODE;
  return node_of(&b.stack[0]);
}

uint32_t qp__risk_tree_build(qp_risk_ruleset_t *rs, uint32_t code, uint32_t code_len) {
  size_t mark = rs->nodes.count;
  uint32_t n = build_range(rs, code, code + code_len, 0);
  if (n == NO_NODE) rs->nodes.count = mark; /* the interpreter runs it */
  return n;
}

/* Appends the integer program of value node (postfix); false when out of
 * memory or too deep. */
static bool emit_int(qp_risk_ruleset_t *rs, uint32_t node, int depth) {
  const qp__risk_node_t n = ((const qp__risk_node_t *)rs->nodes.items)[node];
  if (depth > 64) return false;
  if (n.kind == QP__RISK_T_NEG && !emit_int(rs, n.a, depth + 1)) return false;
  if (n.kind == QP__RISK_T_ARITH &&
      !(emit_int(rs, n.a, depth + 1) && emit_int(rs, n.b, depth + 1)))
    return false;
  qp__risk_iop_t *op = qp_array_push(&rs->iops);
  if (op == NULL) return false;
  *op = (qp__risk_iop_t){.kind = n.kind, .op = n.cmp, .a = n.a, .imm = n.imm};
  return true;
}

/* Emits the leaves of node, whose outcome leads to next[0] (false) or
 * next[1] (true); returns its entry leaf, or NO_NODE.  The right side of
 * and/or is emitted first, so that the left one knows where it leads. */
static uint32_t emit(qp_risk_ruleset_t *rs, uint32_t node, uint32_t on_false, uint32_t on_true,
                     int depth) {
  qp__risk_node_t n = ((const qp__risk_node_t *)rs->nodes.items)[node];
  if (depth > 64) return NO_NODE;
  if (n.kind == QP__RISK_T_NOT) return emit(rs, n.a, on_true, on_false, depth + 1);
  if (n.kind == QP__RISK_T_AND || n.kind == QP__RISK_T_OR) {
    uint32_t right = emit(rs, n.b, on_false, on_true, depth + 1);
    if (right == NO_NODE) return NO_NODE;
    return n.kind == QP__RISK_T_AND ? emit(rs, n.a, on_false, right, depth + 1)
                                    : emit(rs, n.a, right, on_true, depth + 1);
  }
  uint32_t first = (uint32_t)rs->iops.count;
  if (n.kind == QP__RISK_T_CMP_INT &&
      !(emit_int(rs, n.a, depth + 1) && emit_int(rs, n.b, depth + 1)))
    return NO_NODE;
  if (n.kind == QP__RISK_T_CMP_INT) n.a = first, n.b = (uint32_t)rs->iops.count - first;
  qp__risk_leaf_t *l = qp_array_push(&rs->leaves);
  if (l == NULL) return NO_NODE;
  bool in_place = n.kind == QP__RISK_T_FEAT_INT || n.kind == QP__RISK_T_FIELD_INT ||
                  n.kind == QP__RISK_T_CMP2 || n.kind == QP__RISK_T_IN_FIELD ||
                  n.kind == QP__RISK_T_CMP_INT;
  *l = (qp__risk_leaf_t){.kind = n.kind, .cmp = n.cmp, .a = in_place ? n.a : node, .b = n.b,
                         .next = {on_false, on_true}, .imm = n.imm};
  return (uint32_t)rs->leaves.count - 1;
}

uint32_t qp__risk_leaves_build(qp_risk_ruleset_t *rs, uint32_t node) {
  size_t mark = rs->leaves.count, iops = rs->iops.count;
  uint32_t first = emit(rs, node, QP__RISK_LEAF_FALSE, QP__RISK_LEAF_TRUE, 0);
  if (first == NO_NODE) rs->leaves.count = mark, rs->iops.count = iops;
  return first;
}
