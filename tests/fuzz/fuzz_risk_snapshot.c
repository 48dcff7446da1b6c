/*
 * fuzz_risk_snapshot.c - libFuzzer target for the loader of feature-state
 * snapshots (src/risk/state.c, feature_snap.c, distinct.c).  The input is
 * the snapshot's body; the target seals it with the right trailing hash so
 * that the structural checks behind the hash are what gets fuzzed.
 * Properties: no crash, no leak; a load either fails with QP_ECORRUPT (or
 * QP_ENOMEM) or gives a state that decides events and saves again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "crypto/crypto.h"
#include "risk/risk.h"

static const char RULESET[] =
    "feature c = count by payer over 1h\nfeature s = sum(amount) by payer over 24h\n"
    "feature d = distinct(payee) by payer over 1d\n"
    "rule r1: c > 3 and d >= 2 => review score 30\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static qp_risk_ruleset_t *rs;
  static qp_risk_errors_t errs;
  if (rs == NULL) QP_ASSERT(qp_risk_compile(RULESET, strlen(RULESET), &rs, &errs) == 0);
  if (size > (1u << 20)) return 0;
  uint8_t *buf = malloc(size + 8 + QP_HASH_SIZE);
  QP_ASSERT(buf != NULL);
  memcpy(buf, "QPRISKS1", 8);
  memcpy(buf + 8, data, size);
  qp_hash256(buf + 8 + size, buf, 8 + size);
  qp_risk_lists_t *lists;
  qp_risk_state_t *st;
  QP_ASSERT(qp_risk_lists_new(&lists) == 0 && qp_risk_state_new(rs, lists, &st) == 0);
  uint32_t loaded = 0;
  int rc = qp_risk_state_load(st, buf, size + 8 + QP_HASH_SIZE, &loaded);
  QP_ASSERT(rc == 0 || rc == QP_ECORRUPT || rc == QP_ENOMEM);
  if (rc == 0) {
    qp_risk_decision_t d;
    char err[200];
    QP_ASSERT(qp_risk_decision_init(&d, rs) == 0);
    json_t *e = json_pack("{s:i, s:i, s:s, s:s, s:i}", "id", 1, "time", 1000, "payer", "a",
                          "payee", "b", "amount", 5);
    QP_ASSERT(qp_risk_decide(rs, st, e, &d, err, sizeof err) == 0);
    json_decref(e);
    qp_risk_decision_deinit(&d);
    qp_buf_t b = {.max = 1u << 28};
    QP_ASSERT(qp_risk_state_save(st, &b) == 0);
    qp_buf_free(&b);
  }
  qp_risk_state_free(st);
  qp_risk_lists_free(lists);
  free(buf);
  return 0;
}
