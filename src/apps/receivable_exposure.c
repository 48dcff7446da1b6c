/*
 * receivable_exposure.c - the query exposure {core} (docs/apps.md): what a
 * core enterprise owes and has not settled, per ledger (its outstanding
 * total, the credit lines live at the head's time) and per maturity
 * within a ledger (the trees not settled yet, with how many are overdue).
 * A scan of the trees (at most QP_APPS_SCAN_MAX).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/receivable_int.h"
#include "base/alloc.h"
#include "base/err.h"

int rcv_exposure(const qp_chain_view_t *v, const json_t *args, json_t **result,
                 qp__apps_why_t *w);

/* One unsettled tree of the core. */
typedef struct owed {
  uint64_t ledger, maturity; /* where and when */
  qp_u128 amount;            /* the tree's amount */
  bool overdue;              /* a settlement fell short */
} owed_t;

static int by_ledger_maturity(const void *a, const void *b) {
  const owed_t *x = a, *y = b;
  if (x->ledger != y->ledger) return x->ledger < y->ledger ? -1 : 1;
  return (x->maturity > y->maturity) - (x->maturity < y->maturity);
}

/* The unsettled trees of core into *out (qp_malloc'ed), *count of them. */
static int owed_scan(const qp_chain_view_t *v, const char *core, owed_t **out, size_t *count,
                     bool *truncated) {
  uint64_t n = 0;
  int rc = qp__apps_counter(v, "tn", &n);
  size_t cap = n < QP_APPS_SCAN_MAX ? (size_t)n : QP_APPS_SCAN_MAX;
  *truncated = n > QP_APPS_SCAN_MAX;
  *count = 0;
  *out = rc == 0 ? qp_calloc(cap > 0 ? cap : 1, sizeof **out) : NULL;
  if (rc == 0 && *out == NULL) rc = QP_ENOMEM;
  for (uint64_t i = 1; rc == 0 && i <= cap; i++) {
    char key[RCV_KEY_MAX];
    snprintf(key, sizeof key, "ti/%llu", (unsigned long long)i);
    json_t *index = qp__apps_get(v, NULL, key, &rc);
    json_t *t = index != NULL ? rcv_get(v, "t/", qp__apps_str(index, "id"), &rc) : NULL;
    owed_t *o = &(*out)[*count];
    if (t != NULL && strcmp(qp__apps_str(t, "obligor"), core) == 0 &&
        strcmp(qp__apps_str(t, "status"), "settled") != 0) {
      o->ledger = qp__apps_uint(t, "ledger");
      o->maturity = qp__apps_uint(t, "maturity");
      o->overdue = strcmp(qp__apps_str(t, "status"), "overdue") == 0;
      if (!qp__apps_u128_of(t, "amount", &o->amount)) rc = QP_ECORRUPT;
      else (*count)++;
    }
    json_decref(t);
    json_decref(index);
  }
  qsort(*out, *count, sizeof **out, by_ledger_maturity);
  return rc == QP_ENOTFOUND ? QP_ECORRUPT : rc;
}

/* The entry of one ledger: outstanding, live credit, maturities. */
static json_t *ledger_entry(const qp_chain_view_t *v, const char *core, const owed_t *o,
                            size_t count) {
  qp_u128 outstanding = 0, live = 0;
  char key[RCV_KEY_MAX];
  if (rcv_outstanding(v, core, o[0].ledger, &outstanding, key) != 0 ||
      qp__apps_credit_live(v, core, (uint32_t)o[0].ledger, v->time_s, &live) != 0)
    return NULL;
  json_t *list = json_array();
  for (size_t i = 0; list != NULL && i < count;) {
    size_t j = i, overdue = 0;
    qp_u128 sum = 0;
    for (; j < count && o[j].maturity == o[i].maturity; j++) {
      sum += o[j].amount; /* <= the outstanding total, which fits */
      overdue += o[j].overdue;
    }
    json_array_append_new(list, json_pack("{s:I, s:o, s:I, s:I}", "maturity",
                                          (json_int_t)o[i].maturity, "amount",
                                          qp__apps_u128_json(sum), "trees", (json_int_t)(j - i),
                                          "overdue", (json_int_t)overdue));
    i = j;
  }
  return json_pack("{s:I, s:o, s:o, s:o}", "ledger", (json_int_t)o[0].ledger, "outstanding",
                   qp__apps_u128_json(outstanding), "credit_live", qp__apps_u128_json(live),
                   "maturities", list);
}

int rcv_exposure(const qp_chain_view_t *v, const json_t *args, json_t **result,
                 qp__apps_why_t *w) {
  static const char *const allowed[] = {"core"};
  char core[QP__APPS_HEX_MAX + 1];
  if (qp__apps_args_only(args, allowed, 1, w) ||
      qp__apps_arg_key(args, "core", v->genesis->suite, core, w))
    return QP__APPS_REFUSED;
  owed_t *o = NULL;
  size_t count = 0;
  bool truncated = false;
  int rc = owed_scan(v, core, &o, &count, &truncated);
  json_t *ledgers = rc == 0 ? json_array() : NULL;
  if (rc == 0 && ledgers == NULL) rc = QP_ENOMEM;
  for (size_t i = 0; rc == 0 && i < count;) {
    size_t j = i;
    while (j < count && o[j].ledger == o[i].ledger) j++;
    json_t *entry = ledger_entry(v, core, o + i, j - i);
    if (entry == NULL || json_array_append_new(ledgers, entry) != 0) rc = QP_ENOMEM;
    i = j;
  }
  qp_free(o);
  if (rc == 0) {
    *result = json_pack("{s:s, s:o, s:b}", "core", core, "ledgers", ledgers, "truncated",
                        truncated);
    ledgers = NULL;
    if (*result == NULL) rc = QP_ENOMEM;
  }
  json_decref(ledgers);
  return rc;
}
