/*
 * fuse.c - a peephole pass over a compiled rule: the most common shape of
 * a condition, a field or feature compared with a literal (`amount >=
 * 1000000`, `tx_1h > 20`, `country = "AR"`), is three instructions (push,
 * push, compare); fused into one OP_CMP2 it runs as one step of the
 * evaluation loop, through the same compare() (eval.c), so results and
 * evaluation errors are exactly those of the three.  A triple is fused only
 * when no jump lands inside it.
 */
#include <string.h>

#include "base/alloc.h"
#include "risk/risk_int.h"

static bool is_jump(const qp__risk_insn_t *in) {
  return in->op == QP__RISK_OP_AND || in->op == QP__RISK_OP_OR;
}

static bool fusable(const qp__risk_insn_t *c, uint32_t i, uint32_t n, const uint8_t *target) {
  if (i + 2 >= n || target[i + 1] || target[i + 2]) return false;
  bool first = c[i].op == QP__RISK_OP_FIELD || c[i].op == QP__RISK_OP_FEATURE;
  bool second = c[i + 1].op == QP__RISK_OP_INT || c[i + 1].op == QP__RISK_OP_STR;
  return first && second && c[i + 2].op == QP__RISK_OP_CMP;
}

void qp__risk_fuse(qp_risk_ruleset_t *rs, uint32_t start) {
  uint32_t n = (uint32_t)rs->code.count - start;
  qp__risk_insn_t *c = (qp__risk_insn_t *)rs->code.items + start;
  uint8_t *target = qp_calloc(n + 1, 1);
  uint32_t *moved = qp_calloc(n + 1, sizeof *moved);
  if (target == NULL || moved == NULL) { /* keep the program as it is */
    qp_free(target);
    qp_free(moved);
    return;
  }
  for (uint32_t i = 0; i < n; i++)
    if (is_jump(&c[i])) target[c[i].arg - start] = 1;
  uint32_t out = 0;
  for (uint32_t i = 0; i < n; out++) {
    moved[i] = out;
    if (!fusable(c, i, n, target)) {
      c[out] = c[i++];
      continue;
    }
    qp__risk_insn_t f = {.op = QP__RISK_OP_CMP2, .cmp = c[i + 2].cmp, .sub = c[i].op,
                         .arg = c[i].arg, .op2 = c[i + 1].op,
                         .imm = c[i + 1].op == QP__RISK_OP_INT ? c[i + 1].imm : c[i + 1].arg};
    moved[i + 1] = moved[i + 2] = out; /* never targets */
    c[out] = f;
    i += 3;
  }
  moved[n] = out;
  for (uint32_t i = 0; i < out; i++)
    if (is_jump(&c[i])) c[i].arg = start + moved[c[i].arg - start];
  rs->code.count = start + out;
  qp_free(target);
  qp_free(moved);
}
