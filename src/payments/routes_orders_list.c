/*
 * routes_orders_list.c - GET /v1/orders: orders by creation time, oldest
 * first, a page at a time.  Query: limit (1..500, default 50), cursor (the
 * opaque next_cursor of the previous page), status (open, expired,
 * canceled), created_from and created_to (unix seconds: from inclusive, to
 * exclusive), merchant_id.  A merchant key sees its own merchant's orders
 * only.  The answer is {"data":[…],"next_cursor":…} with next_cursor null on
 * the last page.  A page looks at no more than QP_PAY_LIST_SCAN_MAX index
 * rows: with a filter that matches rarely it may hold fewer than limit
 * orders and still have a next_cursor.
 *
 * The cursor is the base64url text of the last index key looked at
 * (creation ns || order id): a new order never shifts a page already read.
 */
#include <string.h>

#include "base/err.h"
#include "payments/payments_int.h"

#define KEY_SIZE QP_PAY_LIST_KEY_SIZE
#define ALLOWED "limit, cursor, status, created_from, created_to, merchant_id"

typedef qp__pay_list_query_t query_t;

static bool status_known(const char *v) {
  static const char *const known[] = {"open", "expired", "canceled", "paid",
                                      "partially_refunded", "refunded"};
  for (size_t i = 0; v != NULL && i < sizeof known / sizeof known[0]; i++)
    if (strcmp(v, known[i]) == 0) return true;
  return false;
}

static int refuse(query_t *q, const char *key, const char *what) {
  qp_http_list_bad(&q->list, key, what);
  return -1;
}

/* GET /v1/orders's own parameters (status, merchant_id), then the shared
 * ones: 1 taken, -1 refused, 0 unknown to both. */
static int own_param(query_t *q, const char *key, const char *v) {
  if (strcmp(key, "status") == 0) {
    if (!status_known(v))
      return refuse(q, key, "must be open, expired, canceled, paid, partially_refunded or "
                    "refunded");
    q->status = v;
    return 1;
  }
  if (strcmp(key, "merchant_id") == 0) {
    q->has_merchant = qp__pay_id_parse(v, q->merchant);
    return q->has_merchant ? 1 : refuse(q, key, "must be 32 hex digits");
  }
  return qp_http_list_param(&q->list, key, v);
}

bool qp__pay_list_param(qp__pay_list_query_t *q, const char *key, const char *v) {
  int taken = own_param(q, key, v);
  return taken == 0 ? qp_http_list_unknown(&q->list, key, ALLOWED) : taken > 0;
}

static bool one_param(void *ctx, const char *key, const char *v) {
  return qp__pay_list_param(ctx, key, v);
}

void qp__pay_list_query_init(qp__pay_list_query_t *q) {
  memset(q, 0, sizeof *q);
  qp_http_list_init(&q->list, KEY_SIZE);
}

bool qp__pay_list_query_check(qp__pay_list_query_t *q) { return qp_http_list_check(&q->list); }

typedef struct {
  const query_t *q;
  const qp__pay_caller_t *caller;
  qp__pay_t *p;
  json_t *data;
  int64_t now;
} page_t;

/* One by_created key (creation ns || order id): its order, when it passes
 * the filters, in its public form. */
static int visit(void *ctx, MDB_txn *txn, const MDB_val *key, bool *shown) {
  page_t *g = ctx;
  MDB_val ok = {QP_PAY_ID_SIZE, (uint8_t *)key->mv_data + 8}, ov;
  int rc = mdb_get(txn, g->p->orders, &ok, &ov);
  if (rc != 0) return rc == MDB_NOTFOUND ? QP_ECORRUPT : rc;
  json_t *o = json_loadb(ov.mv_data, ov.mv_size, 0, NULL);
  uint8_t m[QP_PAY_ID_SIZE];
  if (o == NULL || !qp__pay_id_parse(json_string_value(json_object_get(o, "merchant_id")), m)) {
    json_decref(o);
    return QP_ECORRUPT;
  }
  *shown = qp__pay_caller_sees(g->caller, m) &&
           (!g->q->has_merchant || memcmp(m, g->q->merchant, QP_PAY_ID_SIZE) == 0) &&
           (g->q->status == NULL || strcmp(qp__pay_order_status(o, g->now), g->q->status) == 0);
  rc = *shown ? json_array_append_new(g->data, qp__pay_order_public(o, g->now)) : 0;
  json_decref(o);
  return rc != 0 ? QP_ENOMEM : 0;
}

/* Fills data with one page; *next gets the last key looked at when more
 * may follow. */
static int page(qp__pay_t *p, const query_t *q, const qp__pay_caller_t *caller, json_t *data,
                uint8_t next[KEY_SIZE], bool *more) {
  page_t g = {q, caller, p, data, qp__pay_now_s()};
  qp_kv_page_t pg = {p->by_created, KEY_SIZE, q->list.from_ns, q->list.to_ns,
                     q->list.has_cursor ? q->list.cursor : NULL, q->list.limit,
                     QP_PAY_LIST_SCAN_MAX};
  return qp_kv_page(p->kv, &pg, visit, &g, next, more);
}

/* Looks for the payment of the page's orders that may have been paid since
 * they were stored (the tick does it within a second as well), and drops
 * those no longer matching the status filter. */
static int observe_page(qp__pay_t *p, const query_t *q, json_t *data) {
  int64_t now = qp__pay_now_s();
  for (size_t i = 0; i < json_array_size(data);) {
    json_t *row = json_array_get(data, i), *o = NULL;
    uint8_t id[QP_PAY_ID_SIZE];
    const char *st = json_string_value(json_object_get(row, "status"));
    bool maybe = st != NULL && (strcmp(st, "open") == 0 || strcmp(st, "expired") == 0 ||
                                strcmp(st, "canceled") == 0);
    if (!maybe || !qp__pay_id_parse(json_string_value(json_object_get(row, "id")), id)) {
      i++;
      continue;
    }
    int rc = qp__pay_order_observe(p, id, &o);
    if (rc != 0) return rc;
    json_t *pub = qp__pay_order_public(o, now);
    json_decref(o);
    if (pub == NULL) return QP_ENOMEM;
    const char *now_st = json_string_value(json_object_get(pub, "status"));
    if (q->status != NULL && strcmp(now_st, q->status) != 0) {
      json_decref(pub);
      json_array_remove(data, i);
      continue;
    }
    json_array_set_new(data, i++, pub);
  }
  return 0;
}

void qp__pay_orders_list(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_t *p = ctx;
  qp__pay_caller_t caller;
  query_t q;
  qp__pay_list_query_init(&q);
  if (!qp__pay_caller(p, req, r, false, &caller)) return;
  if (!qp_http_query_each(req, one_param, &q) || !qp__pay_list_query_check(&q)) {
    qp_http_reply_error(r, &q.list.err);
    return;
  }
  json_t *data = json_array();
  uint8_t next[KEY_SIZE];
  bool more = false;
  int rc = data != NULL ? page(p, &q, &caller, data, next, &more) : QP_ENOMEM;
  if (rc == 0) rc = observe_page(p, &q, data);
  qp__pay_reply_list(r, rc, data, more ? next : NULL);
}
