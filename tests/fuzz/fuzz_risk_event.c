/*
 * fuzz_risk_event.c - libFuzzer target for the risk engine's event decoder
 * and evaluator (src/risk/decide.c, eval.c, feature.c, distinct.c): the
 * input is JSON lines of events, decided in order on a ruleset that uses
 * every feature kind, every operator and both list kinds.  Properties: no
 * crash; an event is either refused with a message or decided with a
 * decision on the lattice, a score that is the sum of the fired rules', and
 * the JSON rendering of every decision.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "risk/risk.h"

static const char RULESET[] =
    "list bad set\nlist nets cidr\n"
    "feature c = count by payer over 1h\nfeature s = sum(amount) by payer over 24h\n"
    "feature d = distinct(payee) by payer over 1d\nfeature c2 = count by ip over 1m\n"
    "rule r1: amount >= 1000000 and d >= 2 => review score 30 \"big\"\n"
    "rule r2: c > 3 or s * 2 > 5000 => challenge score 20\n"
    "rule r3: payee in bad or ip in nets => block\n"
    "rule r4: not (amount - -5 < 10) and country != \"AR\" => challenge score 7\n"
    "rule r5: device = payer or c2 >= 2 => review score 1\n"
    "threshold score >= 50 => block\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static qp_risk_ruleset_t *rs;
  static qp_risk_errors_t errs;
  if (rs == NULL) QP_ASSERT(qp_risk_compile(RULESET, strlen(RULESET), &rs, &errs) == 0);
  qp_risk_lists_t *lists;
  qp_risk_state_t *st;
  qp_risk_decision_t d;
  char err[256];
  QP_ASSERT(qp_risk_lists_new(&lists) == 0 && qp_risk_state_new(rs, lists, &st) == 0 &&
            qp_risk_decision_init(&d, rs) == 0);
  QP_ASSERT(qp_risk_list_update(lists, "bad", "mallory", true, err, sizeof err) == 0);
  QP_ASSERT(qp_risk_list_update(lists, "nets", "10.0.0.0/8", true, err, sizeof err) == 0);
  QP_ASSERT(qp_risk_list_update(lists, "nets", "2001:db8::/32", true, err, sizeof err) == 0);
  size_t at = 0;
  for (int n = 0; at < size && n < 64; n++) {
    const uint8_t *nl = memchr(data + at, '\n', size - at);
    size_t end = nl != NULL ? (size_t)(nl - data) : size;
    json_t *ev = json_loadb((const char *)data + at, end - at, 0, NULL);
    int rc = ev != NULL ? qp_risk_decide(rs, st, ev, &d, err, sizeof err) : QP_EINVAL;
    QP_ASSERT(rc == 0 || rc == QP_EINVAL || rc == QP_ENOMEM);
    if (rc == QP_EINVAL && ev != NULL) QP_ASSERT(strncmp(err, "event: ", 7) == 0);
    if (rc == 0) {
      int64_t score = 0;
      for (uint32_t i = 0; i < d.fired_count; i++) score += d.fired[i].score;
      QP_ASSERT(score == d.score && d.decision <= QP_RISK_BLOCK);
      json_decref(qp_risk_decision_json(rs, &d, ev));
    }
    json_decref(ev);
    at = end + 1;
  }
  qp_risk_decision_deinit(&d);
  qp_risk_state_free(st);
  qp_risk_lists_free(lists);
  return 0;
}
