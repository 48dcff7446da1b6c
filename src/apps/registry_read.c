/*
 * registry_read.c - the registry's records as any app reads them
 * (apps_int.h): a participant's role and a core enterprise's live credit
 * on a ledger.  Reads go through the view's get_app, so the receivable app
 * sees the registry exactly as the block left it so far.
 *
 * Registry keys:  "p/" hex  -> {"key","name","role","height"}
 *                 "r/" role -> {"keys":[hex, ...]} in registration order
 *                 "cl/" hex -> {"lines":[{"line","funder","core","amount",
 *                                         "ledger","expiry","height"}, ...]}
 *                 "cn"      -> the last credit line number (decimal text)
 */
#include <stdio.h>
#include <string.h>

#include "apps/apps_int.h"
#include "base/err.h"

void qp__apps_participant_key(const char *hex, char out[3 + QP__APPS_HEX_MAX]) {
  snprintf(out, 3 + QP__APPS_HEX_MAX, "p/%s", hex);
}

void qp__apps_lines_key(const char *hex, char out[4 + QP__APPS_HEX_MAX]) {
  snprintf(out, 4 + QP__APPS_HEX_MAX, "cl/%s", hex);
}

int qp__apps_role(const qp_chain_view_t *v, const char *hex, char role[16]) {
  char key[3 + QP__APPS_HEX_MAX];
  qp__apps_participant_key(hex, key);
  int rc = 0;
  json_t *p = qp__apps_get(v, QP_APPS_REGISTRY, key, &rc);
  if (p == NULL) return rc;
  const char *r = qp__apps_str(p, "role");
  rc = strlen(r) > 0 && strlen(r) < 16 ? 0 : QP_ECORRUPT;
  if (rc == 0) snprintf(role, 16, "%s", r);
  json_decref(p);
  return rc;
}

int qp__apps_credit_live(const qp_chain_view_t *v, const char *core_hex, uint32_t ledger,
                         uint64_t time_s, qp_u128 *sum) {
  char key[4 + QP__APPS_HEX_MAX];
  qp__apps_lines_key(core_hex, key);
  int rc = 0;
  *sum = 0;
  json_t *o = qp__apps_get(v, QP_APPS_REGISTRY, key, &rc);
  if (o == NULL) return rc == QP_ENOTFOUND ? 0 : rc;
  const json_t *lines = json_object_get(o, "lines");
  for (size_t i = 0; rc == 0 && i < json_array_size(lines); i++) {
    const json_t *l = json_array_get(lines, i);
    qp_u128 amount = 0;
    if (!qp__apps_u128_of(l, "amount", &amount)) rc = QP_ECORRUPT;
    else if (qp__apps_uint(l, "ledger") == ledger && qp__apps_uint(l, "expiry") > time_s &&
             qp_u128_add_overflow(*sum, amount, sum))
      *sum = QP_U128_MAX;
  }
  json_decref(o);
  return rc;
}
