/*
 * receivable_record.c - the receivable app's money records: a core
 * enterprise's outstanding amount per ledger (what its credit lines must
 * cover), and the settlement records of the CONTRACT with the settlement
 * agent (docs/apps.md, "Settlement records"), listed in creation order
 * through "sn" and "si/<n>".
 */
#include <stdio.h>
#include <string.h>

#include "apps/receivable_int.h"
#include "base/err.h"

int rcv_outstanding(const qp_chain_view_t *v, const char *core, uint64_t ledger, qp_u128 *out,
                    char key[RCV_KEY_MAX]) {
  snprintf(key, RCV_KEY_MAX, "o/%s/%llu", core, (unsigned long long)ledger);
  const uint8_t *p = NULL;
  size_t n = 0;
  *out = 0;
  int rc = v->get(v->ctx, (const uint8_t *)key, strlen(key), &p, &n);
  if (rc == QP_ENOTFOUND) return 0;
  if (rc != 0) return rc;
  return qp_u128_parse((const char *)p, n, out) == 0 ? 0 : QP_ECORRUPT;
}

int rcv_put_amount(rcv_t *c, const char *key, qp_u128 amount) {
  char text[QP_U128_BUF_SIZE];
  size_t n = qp_u128_format(amount, text);
  return qp_chain_effects_put(c->e, (const uint8_t *)key, strlen(key), (const uint8_t *)text, n);
}

json_t *rcv_settlement_get(const qp_chain_view_t *v, const char *id, int *rc) {
  json_t *s = rcv_get(v, "s/", id, rc);
  if (s != NULL && !json_is_object(json_object_get(s, "record"))) {
    json_decref(s);
    *rc = QP_ECORRUPT;
    return NULL;
  }
  return s;
}

int rcv_settlement_new(rcv_t *c, json_t *stored) {
  uint64_t n = 0;
  int rc = qp__apps_counter(c->v, "sn", &n);
  const json_t *record = json_object_get(stored, "record");
  const char *id = qp__apps_str(record, "settlement");
  char key[RCV_KEY_MAX];
  json_t *index = json_pack("{s:s}", "id", id);
  if (rc == 0 && index == NULL) rc = QP_ENOMEM;
  snprintf(key, sizeof key, "si/%llu", (unsigned long long)(n + 1));
  if (rc == 0) rc = qp__apps_put(c->e, key, index);
  if (rc == 0) rc = qp__apps_put_counter(c->e, "sn", n + 1);
  snprintf(key, sizeof key, "s/%s", id);
  if (rc == 0) rc = qp__apps_put(c->e, key, stored);
  json_t *ev = rc == 0 ? json_deep_copy(record) : NULL;
  if (rc == 0) rc = ev == NULL ? QP_ENOMEM : qp_chain_effects_event(c->e, "settlement_requested",
                                                                    ev);
  if (rc == 0 && json_object_set_new(c->e->result, "settlement", json_string(id)) != 0)
    rc = QP_ENOMEM;
  json_decref(index);
  json_decref(stored);
  return rc;
}
