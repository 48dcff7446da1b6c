/*
 * routes_refunds_list.c - GET /v1/refunds: refunds by creation time, oldest
 * first, a page at a time, as GET /v1/orders lists orders (the same limit,
 * cursor, created_from, created_to and merchant_id parameters), with the
 * filters status (pending, succeeded, failed) and order_id.  A merchant key
 * sees its own merchant's refunds only.
 */
#include <string.h>

#include "base/err.h"
#include "payments/payments_int.h"

#define KEY_SIZE QP_PAY_LIST_KEY_SIZE

static bool refused(qp__pay_refund_query_t *x, const char *key, const char *what) {
  return qp_http_list_bad(&x->q.list, key, what);
}

bool qp__pay_refund_list_param(qp__pay_refund_query_t *x, const char *key, const char *v) {
  if (strcmp(key, "status") == 0) {
    if (v == NULL || (strcmp(v, "pending") != 0 && strcmp(v, "succeeded") != 0 &&
                      strcmp(v, "failed") != 0))
      return refused(x, key, "must be pending, succeeded or failed");
    x->status = v;
    return true;
  }
  if (strcmp(key, "order_id") == 0) {
    x->has_order = qp__pay_id_parse(v, x->order);
    return x->has_order || refused(x, key, "must be 32 hex digits");
  }
  if (qp__pay_list_param(&x->q, key, v)) return true;
  if (strcmp(x->q.list.err.code, "unknown_parameter") == 0)
    qp_http_list_unknown(&x->q.list, key, "limit, cursor, status, order_id, created_from, "
                         "created_to, merchant_id");
  return false;
}

static bool one_param(void *ctx, const char *key, const char *v) {
  return qp__pay_refund_list_param(ctx, key, v);
}

static bool passes(const qp__pay_refund_query_t *x, const qp__pay_caller_t *caller,
                   const json_t *rf) {
  uint8_t m[QP_PAY_ID_SIZE], o[QP_PAY_ID_SIZE];
  const char *status = json_string_value(json_object_get(rf, "status"));
  return qp__pay_id_parse(json_string_value(json_object_get(rf, "merchant_id")), m) &&
         qp__pay_id_parse(json_string_value(json_object_get(rf, "order_id")), o) &&
         qp__pay_caller_sees(caller, m) &&
         (!x->q.has_merchant || memcmp(m, x->q.merchant, QP_PAY_ID_SIZE) == 0) &&
         (!x->has_order || memcmp(o, x->order, QP_PAY_ID_SIZE) == 0) &&
         (x->status == NULL || (status != NULL && strcmp(status, x->status) == 0));
}

typedef struct {
  const qp__pay_refund_query_t *x;
  const qp__pay_caller_t *caller;
  qp__pay_t *p;
  json_t *data;
} page_t;

/* One refunds_by_created key (creation ns || refund id): its refund, when
 * it passes the filters, in its public form. */
static int visit(void *ctx, MDB_txn *txn, const MDB_val *key, bool *shown) {
  page_t *g = ctx;
  MDB_val rk = {QP_PAY_ID_SIZE, (uint8_t *)key->mv_data + 8}, rv;
  int rc = mdb_get(txn, g->p->refunds, &rk, &rv);
  if (rc != 0) return rc == MDB_NOTFOUND ? QP_ECORRUPT : rc;
  json_t *rf = json_loadb(rv.mv_data, rv.mv_size, 0, NULL);
  if (rf == NULL) return QP_ECORRUPT;
  *shown = passes(g->x, g->caller, rf);
  if (*shown && json_array_append_new(g->data, qp__pay_refund_public(rf)) != 0) rc = QP_ENOMEM;
  json_decref(rf);
  return rc;
}

/* One page into data; *more with next when more may follow. */
static int page(qp__pay_t *p, const qp__pay_refund_query_t *x, const qp__pay_caller_t *caller,
                json_t *data, uint8_t next[KEY_SIZE], bool *more) {
  page_t g = {x, caller, p, data};
  const qp_http_list_t *l = &x->q.list;
  qp_kv_page_t pg = {p->refunds_by_created, KEY_SIZE, l->from_ns, l->to_ns,
                     l->has_cursor ? l->cursor : NULL, l->limit, QP_PAY_LIST_SCAN_MAX};
  return qp_kv_page(p->kv, &pg, visit, &g, next, more);
}

void qp__pay_refunds_list(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_t *p = ctx;
  qp__pay_caller_t caller;
  qp__pay_refund_query_t x;
  memset(&x, 0, sizeof x);
  qp__pay_list_query_init(&x.q);
  if (!qp__pay_caller(p, req, r, false, &caller)) return;
  if (!qp_http_query_each(req, one_param, &x) || !qp__pay_list_query_check(&x.q)) {
    qp_http_reply_error(r, &x.q.list.err);
    return;
  }
  json_t *data = json_array();
  uint8_t next[KEY_SIZE];
  bool more = false;
  int rc = data != NULL ? page(p, &x, &caller, data, next, &more) : QP_ENOMEM;
  qp__pay_reply_list(r, rc, data, more ? next : NULL);
}
