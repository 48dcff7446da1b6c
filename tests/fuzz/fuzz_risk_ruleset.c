/*
 * fuzz_risk_ruleset.c - libFuzzer target for the risk ruleset parser
 * (src/risk/parse*.c, lex.c), which reads ruleset text an operator PUTs.
 * Properties: no crash; a refused ruleset reports 1..100 errors, each with a
 * line and a column inside the text, and no ruleset; an accepted one
 * compiles again to the same hash and decides a few events without error
 * codes other than a refused event.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "risk/risk.h"

static void decide_some(const qp_risk_ruleset_t *rs) {
  qp_risk_lists_t *lists;
  qp_risk_state_t *st;
  qp_risk_decision_t d;
  if (qp_risk_lists_new(&lists) != 0) return;
  if (qp_risk_state_new(rs, lists, &st) == 0) {
    if (qp_risk_decision_init(&d, rs) == 0) {
      static const char *const events[] = {
          "{\"id\":1,\"time\":100,\"payer\":\"a\",\"payee\":\"b\",\"amount\":\"1000000\"}",
          "{\"id\":2,\"time\":50,\"payer\":\"a\",\"amount\":-7,\"ip\":\"10.0.0.1\"}",
          "{\"id\":3,\"time\":100000,\"payer\":1,\"x\":1.5,\"y\":[1],\"amount\":\"01\"}"};
      char err[256];
      for (int i = 0; i < 3; i++) {
        json_t *ev = json_loads(events[i], 0, NULL);
        int rc = qp_risk_decide(rs, st, ev, &d, err, sizeof err);
        QP_ASSERT(rc == 0 || rc == QP_ENOMEM);
        if (rc == 0) QP_ASSERT(d.decision <= QP_RISK_BLOCK && d.score >= 0);
        json_decref(ev);
      }
      qp_risk_decision_deinit(&d);
    }
    qp_risk_state_free(st);
  }
  qp_risk_lists_free(lists);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static qp_risk_errors_t errs;
  qp_risk_ruleset_t *rs = NULL;
  int rc = qp_risk_compile((const char *)data, size, &rs, &errs);
  if (rc != 0) {
    QP_ASSERT(rs == NULL);
    if (rc != QP_EPARSE) return 0;
    QP_ASSERT(errs.count >= 1 && errs.count <= QP_RISK_ERRORS_MAX);
    for (uint32_t i = 0; i < errs.count; i++)
      QP_ASSERT(errs.items[i].line >= 1 && errs.items[i].column >= 1 &&
                errs.items[i].message[0] != '\0');
    return 0;
  }
  qp_risk_ruleset_t *again = NULL;
  QP_ASSERT(qp_risk_compile((const char *)data, size, &again, &errs) == 0);
  QP_ASSERT(strcmp(qp_risk_ruleset_hash(rs), qp_risk_ruleset_hash(again)) == 0);
  QP_ASSERT(qp_risk_ruleset_rules(rs) == qp_risk_ruleset_rules(again));
  qp_risk_ruleset_free(again);
  decide_some(rs);
  qp_risk_ruleset_free(rs);
  return 0;
}
