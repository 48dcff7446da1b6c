/*
 * receivable_query.c - the receivable app's queries (docs/apps.md):
 *   voucher {id}             {"voucher": V, "tree": the root's V with nested "children"}
 *   holdings {key}           {"key", "vouchers": [V of each leaf it holds]}
 *   history {voucher}        {"voucher", "events": [...] in order}
 *   settlement {id}          the record (the CONTRACT's form)
 *   settlements {status?}    {"settlements": [records in creation order]}
 *   exposure {core}          receivable_exposure.c
 * V is a voucher as stored without its history, with the state it reads
 * as.  Lists stop at QP_APPS_LISTED_MAX elements, scans at
 * QP_APPS_SCAN_MAX records ("truncated": true says so).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/receivable_int.h"
#include "base/alloc.h"
#include "base/err.h"

int rcv_exposure(const qp_chain_view_t *v, const json_t *args, json_t **result,
                 qp__apps_why_t *w);

/* The view of a stored voucher (the caller's). */
static json_t *voucher_view(const json_t *stored, const json_t *tree) {
  json_t *o = json_deep_copy(stored);
  if (o != NULL && (json_object_del(o, "history") != 0 ||
                    json_object_set_new(o, "state", json_string(rcv_state(stored, tree))) != 0)) {
    json_decref(o);
    o = NULL;
  }
  return o;
}

/* The tree of t as nested views: built leaves first (children have larger
 * ids than their parent), so no recursion is needed. */
static int tree_nested(const qp_chain_view_t *v, const json_t *t, json_t **out) {
  const json_t *ids = json_object_get(t, "vouchers");
  size_t n = json_array_size(ids);
  json_t **nodes = qp_calloc(n > 0 ? n : 1, sizeof *nodes);
  int rc = nodes == NULL || n == 0 ? (nodes == NULL ? QP_ENOMEM : QP_ECORRUPT) : 0;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    json_t *s = rcv_get(v, "v/", json_string_value(json_array_get(ids, i)), &rc);
    nodes[i] = s != NULL ? voucher_view(s, t) : NULL;
    if (rc == 0 && nodes[i] == NULL) rc = QP_ENOMEM;
    json_decref(s);
  }
  for (size_t i = n; rc == 0 && i-- > 0;) {
    json_t *kids = json_object_get(nodes[i], "children"), *nested = json_array();
    for (size_t k = 0; nested != NULL && k < json_array_size(kids); k++) {
      const char *kid = json_string_value(json_array_get(kids, k));
      for (size_t j = i + 1; j < n; j++)
        if (strcmp(json_string_value(json_array_get(ids, j)), kid) == 0)
          json_array_append(nested, nodes[j]);
    }
    if (nested == NULL || json_object_set_new(nodes[i], "children", nested) != 0) rc = QP_ENOMEM;
  }
  *out = rc == 0 ? json_incref(nodes[0]) : NULL;
  for (size_t i = 0; nodes != NULL && i < n; i++) json_decref(nodes[i]);
  qp_free(nodes);
  return rc == QP_ENOTFOUND ? QP_ECORRUPT : rc;
}

static int query_voucher(const qp_chain_view_t *v, const char *id, json_t **result) {
  int rc = 0;
  json_t *s = rcv_get(v, "v/", id, &rc), *t = NULL, *nested = NULL;
  if (s != NULL) t = rcv_get(v, "t/", qp__apps_str(s, "root"), &rc);
  if (t != NULL) rc = tree_nested(v, t, &nested);
  json_t *view = rc == 0 ? voucher_view(s, t) : NULL;
  if (rc == 0) *result = json_pack("{s:o, s:o}", "voucher", view, "tree", nested);
  else json_decref(nested);
  if (rc == 0 && *result == NULL) rc = QP_ENOMEM;
  json_decref(s);
  json_decref(t);
  return rc;
}

/* Appends the leaf vouchers key holds to list (a scan of every voucher). */
static int holdings_scan(const qp_chain_view_t *v, const char *key, json_t *list,
                         bool *truncated) {
  uint64_t n = 0;
  int rc = qp__apps_counter(v, "vn", &n);
  json_t *t = NULL;
  for (uint64_t i = 1; rc == 0 && i <= n; i++) {
    if (i > QP_APPS_SCAN_MAX || json_array_size(list) == QP_APPS_LISTED_MAX) {
      *truncated = true;
      break;
    }
    char id[QP__APPS_ID_MAX + 1];
    snprintf(id, sizeof id, "v%llu", (unsigned long long)i);
    json_t *s = rcv_get(v, "v/", id, &rc);
    if (s != NULL && strcmp(qp__apps_str(s, "holder"), key) == 0 &&
        strcmp(qp__apps_str(s, "state"), "split") != 0) {
      if (t == NULL || strcmp(qp__apps_str(t, "root"), qp__apps_str(s, "root")) != 0) {
        json_decref(t);
        t = rcv_get(v, "t/", qp__apps_str(s, "root"), &rc);
      }
      json_t *view = t != NULL ? voucher_view(s, t) : NULL;
      if (rc == 0 && (view == NULL || json_array_append_new(list, view) != 0)) rc = QP_ENOMEM;
    }
    json_decref(s);
  }
  json_decref(t);
  return rc == QP_ENOTFOUND ? QP_ECORRUPT : rc;
}

static int by_seq(const void *a, const void *b) {
  json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "seq"));
  json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "seq"));
  return (x > y) - (x < y);
}

/* Sorts the events of list by their tree sequence number. */
static int sort_events(json_t *list) {
  size_t n = json_array_size(list);
  json_t **items = qp_calloc(n > 0 ? n : 1, sizeof *items);
  if (items == NULL) return QP_ENOMEM;
  for (size_t i = 0; i < n; i++) items[i] = json_incref(json_array_get(list, i));
  qsort(items, n, sizeof *items, by_seq);
  json_array_clear(list);
  int rc = 0;
  for (size_t i = 0; i < n; i++)
    if (json_array_append_new(list, items[i]) != 0) rc = QP_ENOMEM;
  qp_free(items);
  return rc;
}

/* The events of maturity record sid as a leaf sees them, into list. */
static int maturity_events(const qp_chain_view_t *v, const char *sid, json_t *list) {
  int rc = 0;
  json_t *s = rcv_settlement_get(v, sid, &rc);
  if (s == NULL) return rc == QP_ENOTFOUND ? QP_ECORRUPT : rc;
  const json_t *r = json_object_get(s, "record");
  json_t *ev = json_pack("{s:O, s:O, s:s, s:s}", "seq", json_object_get(s, "seq"), "height",
                         json_object_get(r, "height"), "type", "settlement_requested",
                         "settlement", sid);
  rc = ev != NULL && json_array_append_new(list, ev) == 0 ? 0 : QP_ENOMEM;
  const char *status = qp__apps_str(r, "status");
  if (rc == 0 && strcmp(status, "pending") != 0) {
    ev = json_pack("{s:O, s:O, s:s, s:s}", "seq", json_object_get(s, "decided_seq"), "height",
                   json_object_get(s, "decided_height"), "type",
                   strcmp(status, "confirmed") == 0 ? "settlement_confirmed"
                                                    : "settlement_short",
                   "settlement", sid);
    rc = ev != NULL && json_array_append_new(list, ev) == 0 ? 0 : QP_ENOMEM;
  }
  json_decref(s);
  return rc;
}

static int query_history(const qp_chain_view_t *v, const char *id, json_t **result) {
  int rc = 0;
  json_t *s = rcv_get(v, "v/", id, &rc), *t = NULL;
  if (s != NULL) t = rcv_get(v, "t/", qp__apps_str(s, "root"), &rc);
  json_t *list = t != NULL ? json_deep_copy(json_object_get(s, "history")) : NULL;
  if (t != NULL && list == NULL) rc = QP_ENOMEM;
  bool leaf = rc == 0 && strcmp(qp__apps_str(s, "state"), "split") != 0;
  const json_t *sids = json_object_get(t, "settlements");
  for (size_t i = 0; leaf && rc == 0 && i < json_array_size(sids); i++)
    rc = maturity_events(v, json_string_value(json_array_get(sids, i)), list);
  if (rc == 0) rc = sort_events(list);
  if (rc == 0) {
    *result = json_pack("{s:s, s:o}", "voucher", id, "events", list);
    list = NULL;
    if (*result == NULL) rc = QP_ENOMEM;
  }
  json_decref(list);
  json_decref(s);
  json_decref(t);
  return rc == QP_ENOTFOUND && s != NULL ? QP_ECORRUPT : rc;
}

static int query_settlements(const qp_chain_view_t *v, const char *status, json_t **result) {
  uint64_t n = 0;
  int rc = qp__apps_counter(v, "sn", &n);
  json_t *list = json_array();
  bool truncated = false;
  if (list == NULL) rc = QP_ENOMEM;
  for (uint64_t i = 1; rc == 0 && i <= n; i++) {
    if (i > QP_APPS_SCAN_MAX || json_array_size(list) == QP_APPS_LISTED_MAX) {
      truncated = true;
      break;
    }
    char key[RCV_KEY_MAX];
    snprintf(key, sizeof key, "si/%llu", (unsigned long long)i);
    json_t *index = qp__apps_get(v, NULL, key, &rc);
    json_t *s = index != NULL ? rcv_settlement_get(v, qp__apps_str(index, "id"), &rc) : NULL;
    json_t *r = json_object_get(s, "record");
    if (r != NULL && (status == NULL || strcmp(qp__apps_str(r, "status"), status) == 0) &&
        json_array_append(list, r) != 0)
      rc = QP_ENOMEM;
    json_decref(s);
    json_decref(index);
  }
  if (rc == 0) {
    *result = json_pack("{s:o, s:b}", "settlements", list, "truncated", truncated);
    list = NULL;
    if (*result == NULL) rc = QP_ENOMEM;
  }
  json_decref(list);
  return rc == QP_ENOTFOUND ? QP_ECORRUPT : rc;
}

/* Decodes the one argument of a query method: a voucher id, a key, a
 * settlement id or an optional status. */
static int one_arg(const qp_chain_view_t *v, const char *method, const json_t *args,
                   char out[QP__APPS_HEX_MAX + 1], qp__apps_why_t *w) {
  uint64_t n = 0;
  const char *status = NULL;
  const char *field = strcmp(method, "holdings") == 0 ? "key"
                      : strcmp(method, "history") == 0 ? "voucher"
                      : strcmp(method, "settlements") == 0 ? "status" : "id";
  const char *const allowed[] = {field};
  if (qp__apps_args_only(args, allowed, 1, w)) return QP__APPS_REFUSED;
  if (strcmp(field, "key") == 0) return qp__apps_arg_key(args, field, v->genesis->suite, out, w);
  if (strcmp(method, "settlement") == 0) return qp__apps_arg_settlement(args, field, out, w);
  if (strcmp(field, "status") != 0) return qp__apps_arg_id(args, field, "v", out, &n, w);
  if (qp__apps_arg_text(args, field, 1, 16, true, &status, w)) return QP__APPS_REFUSED;
  out[0] = '\0';
  if (status != NULL && strcmp(status, "pending") != 0 && strcmp(status, "confirmed") != 0 &&
      strcmp(status, "short") != 0)
    return qp__apps_why(w, "bad_args", "args.status must be pending, confirmed or short");
  if (status != NULL) snprintf(out, QP__APPS_HEX_MAX + 1, "%s", status);
  return 0;
}

static int run_query(const qp_chain_view_t *v, const char *method, const char *arg,
                     json_t **result) {
  if (strcmp(method, "voucher") == 0) return query_voucher(v, arg, result);
  if (strcmp(method, "history") == 0) return query_history(v, arg, result);
  if (strcmp(method, "settlements") == 0)
    return query_settlements(v, arg[0] != '\0' ? arg : NULL, result);
  if (strcmp(method, "settlement") == 0) {
    int rc = 0;
    json_t *s = rcv_settlement_get(v, arg, &rc);
    if (s != NULL) *result = json_incref(json_object_get(s, "record"));
    json_decref(s);
    return rc;
  }
  json_t *list = json_array();
  bool truncated = false;
  int rc = list == NULL ? QP_ENOMEM : holdings_scan(v, arg, list, &truncated);
  if (rc == 0) *result = json_pack("{s:s, s:O, s:b}", "key", arg, "vouchers", list, "truncated",
                                   truncated);
  json_decref(list);
  return rc == 0 && *result == NULL ? QP_ENOMEM : rc;
}

int qp__apps_receivable_query(const qp_chain_view_t *v, const char *method, const json_t *args,
                              json_t **result, char code[QP_CHAIN_CODE_MAX + 1], char *detail,
                              size_t detail_size) {
  static const char *const METHODS[] = {"voucher", "holdings", "history", "settlement",
                                        "settlements"};
  qp__apps_why_t w;
  char arg[QP__APPS_HEX_MAX + 1];
  bool known = false;
  for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++)
    known |= strcmp(method, METHODS[i]) == 0;
  int rc;
  if (strcmp(method, "exposure") == 0) {
    rc = rcv_exposure(v, args, result, &w);
  } else if (!known) {
    rc = qp__apps_why(&w, "unknown_method", "receivable answers the queries voucher, holdings, "
                      "exposure, history, settlement and settlements");
  } else {
    rc = one_arg(v, method, args, arg, &w);
    if (rc == 0) rc = run_query(v, method, arg, result);
  }
  if (rc == QP__APPS_REFUSED)
    return qp__apps_query_refuse(&w, code, detail, detail_size, QP_EINVAL);
  if (rc == QP_ENOTFOUND) {
    qp__apps_why(&w, "not_found", "no %s has this id", method);
    return qp__apps_query_refuse(&w, code, detail, detail_size, QP_ENOTFOUND);
  }
  if (rc == 0) snprintf(code, QP_CHAIN_CODE_MAX + 1, "ok");
  return rc;
}
