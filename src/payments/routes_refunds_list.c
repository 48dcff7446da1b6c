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
  qp_http_error_set(&x->q.err, 400, "invalid_parameter", key, "query parameter %s %s", key,
                    what);
  return false;
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
  if (strcmp(x->q.err.code, "unknown_parameter") == 0)
    qp_http_error_set(&x->q.err, 400, "unknown_parameter", key[0] != '\0' ? key : "query",
                      "unknown query parameter \"%.40s\"; allowed: limit, cursor, status, "
                      "order_id, created_from, created_to, merchant_id", key);
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

static uint64_t key_ns(const uint8_t *k) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | k[i];
  return v;
}

/* One page into data; *more with next when more may follow. */
static int page(qp__pay_t *p, const qp__pay_refund_query_t *x, const qp__pay_caller_t *caller,
                json_t *data, uint8_t next[KEY_SIZE], bool *more) {
  MDB_txn *txn = NULL;
  MDB_cursor *cur = NULL;
  int rc = qp_kv_read_begin(p->kv, p->refunds_by_created, &txn, &cur);
  if (rc != 0) return rc;
  uint8_t start[KEY_SIZE] = {0};
  for (int i = 7; i >= 0; i--) start[i] = (uint8_t)(x->q.from_ns >> (8 * (7 - i)));
  bool after = x->q.has_cursor && memcmp(x->q.cursor, start, KEY_SIZE) >= 0;
  MDB_val k = {KEY_SIZE, after ? (void *)x->q.cursor : (void *)start}, v, rv;
  uint32_t looked = 0;
  *more = false;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  if (rc == 0 && after && k.mv_size == KEY_SIZE && memcmp(k.mv_data, x->q.cursor, KEY_SIZE) == 0)
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  while (rc == 0 && k.mv_size == KEY_SIZE &&
         (x->q.to_ns == 0 || key_ns(k.mv_data) < x->q.to_ns)) {
    if (json_array_size(data) >= x->q.limit || looked++ >= QP_PAY_LIST_SCAN_MAX) {
      *more = true;
      break;
    }
    memcpy(next, k.mv_data, KEY_SIZE);
    MDB_val rk = {QP_PAY_ID_SIZE, (uint8_t *)k.mv_data + 8};
    rc = mdb_get(txn, p->refunds, &rk, &rv);
    json_t *rf = rc == 0 ? json_loadb(rv.mv_data, rv.mv_size, 0, NULL) : NULL;
    if (rc == 0 && rf == NULL) rc = QP_ECORRUPT;
    if (rc == 0 && passes(x, caller, rf) &&
        json_array_append_new(data, qp__pay_refund_public(rf)) != 0)
      rc = QP_ENOMEM;
    json_decref(rf);
    if (rc == 0) rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  qp_kv_read_end(p->kv, txn, cur);
  return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc == MDB_NOTFOUND ? QP_ECORRUPT : qp_kv_err(rc);
}

void qp__pay_refunds_list(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_t *p = ctx;
  qp__pay_caller_t caller;
  qp__pay_refund_query_t x;
  memset(&x, 0, sizeof x);
  qp__pay_list_query_init(&x.q);
  if (!qp__pay_caller(p, req, r, false, &caller)) return;
  if (!qp_http_query_each(req, one_param, &x) || !qp__pay_list_query_check(&x.q)) {
    qp_http_reply_error(r, &x.q.err);
    return;
  }
  json_t *data = json_array();
  uint8_t next[KEY_SIZE];
  bool more = false;
  int rc = data != NULL ? page(p, &x, &caller, data, next, &more) : QP_ENOMEM;
  qp__pay_reply_list(r, rc, data, more ? next : NULL);
}
