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
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "payments/payments_int.h"

#define KEY_SIZE QP_PAY_LIST_KEY_SIZE
#define CURSOR_TEXT_MAX 40          /* its base64url text, NUL included */
#define SECONDS_MAX 253402300799LL  /* 9999-12-31T23:59:59Z */

typedef qp__pay_list_query_t query_t;

static bool number(const char *v, long long min, long long max, long long *out) {
  char *end = NULL;
  if (v == NULL || *v < '0' || *v > '9' || strlen(v) > 15) return false;
  *out = strtoll(v, &end, 10);
  return *end == '\0' && *out >= min && *out <= max;
}

static bool status_known(const char *v) {
  static const char *const known[] = {"open", "expired", "canceled", "paid",
                                      "partially_refunded", "refunded"};
  for (size_t i = 0; v != NULL && i < sizeof known / sizeof known[0]; i++)
    if (strcmp(v, known[i]) == 0) return true;
  return false;
}

static bool bad(query_t *q, const char *key, const char *what) {
  qp_http_error_set(&q->err, 400, "invalid_parameter", key, "query parameter %s %s", key, what);
  return false;
}

bool qp__pay_list_param(qp__pay_list_query_t *q, const char *key, const char *v) {
  long long n = 0;
  size_t len = 0;
  if (strcmp(key, "limit") == 0) {
    if (!number(v, 1, QP_PAY_LIST_LIMIT_MAX, &n)) return bad(q, key, "must be 1 to 500");
    q->limit = (uint32_t)n;
  } else if (strcmp(key, "status") == 0) {
    if (!status_known(v))
      return bad(q, key, "must be open, expired, canceled, paid, partially_refunded or "
                 "refunded");
    q->status = v;
  } else if (strcmp(key, "created_from") == 0 || strcmp(key, "created_to") == 0) {
    if (!number(v, 0, SECONDS_MAX, &n)) return bad(q, key, "must be unix seconds");
    *(key[8] == 'f' ? &q->from_ns : &q->to_ns) = (uint64_t)n * 1000000000u;
  } else if (strcmp(key, "cursor") == 0) {
    if (v == NULL || strlen(v) >= CURSOR_TEXT_MAX ||
        sodium_base642bin(q->cursor, KEY_SIZE, v, strlen(v), NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || len != KEY_SIZE)
      return bad(q, key, "must be a next_cursor this API returned");
    q->has_cursor = true;
  } else if (strcmp(key, "merchant_id") == 0) {
    if (!qp__pay_id_parse(v, q->merchant)) return bad(q, key, "must be 32 hex digits");
    q->has_merchant = true;
  } else {
    qp_http_error_set(&q->err, 400, "unknown_parameter", key[0] != '\0' ? key : "query",
                      "unknown query parameter \"%.40s\"; "
                      "allowed: limit, cursor, status, created_from, created_to, merchant_id",
                      key);
    return false;
  }
  return true;
}

static bool one_param(void *ctx, const char *key, const char *v) {
  return qp__pay_list_param(ctx, key, v);
}

static uint64_t key_ns(const uint8_t *k) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | k[i];
  return v;
}

void qp__pay_list_query_init(qp__pay_list_query_t *q) {
  memset(q, 0, sizeof *q);
  q->limit = QP_PAY_LIST_LIMIT_DEFAULT;
}

bool qp__pay_list_query_check(qp__pay_list_query_t *q) {
  if (q->to_ns == 0 || q->to_ns > q->from_ns) return true;
  qp_http_error_set(&q->err, 400, "invalid_parameter", "created_to",
                    "query parameter created_to must be after created_from");
  return false;
}

/* Does the stored order o pass the filters?  Appends its public form. */
static int take(const query_t *q, const qp__pay_caller_t *caller, const MDB_val *v,
                json_t *data, int64_t now) {
  json_t *o = json_loadb(v->mv_data, v->mv_size, 0, NULL);
  uint8_t m[QP_PAY_ID_SIZE];
  if (o == NULL || !qp__pay_id_parse(json_string_value(json_object_get(o, "merchant_id")), m)) {
    json_decref(o);
    return QP_ECORRUPT;
  }
  bool pass = qp__pay_caller_sees(caller, m) &&
              (!q->has_merchant || memcmp(m, q->merchant, QP_PAY_ID_SIZE) == 0) &&
              (q->status == NULL || strcmp(qp__pay_order_status(o, now), q->status) == 0);
  int rc = pass ? json_array_append_new(data, qp__pay_order_public(o, now)) : 0;
  json_decref(o);
  return rc != 0 ? QP_ENOMEM : 0;
}

/* Positions cur at the first key of the page: after the cursor and not
 * before from_ns. */
static int first(MDB_cursor *cur, const query_t *q, MDB_val *k, MDB_val *v) {
  uint8_t start[KEY_SIZE] = {0};
  for (int i = 7; i >= 0; i--) start[i] = (uint8_t)(q->from_ns >> (8 * (7 - i)));
  bool after = q->has_cursor && memcmp(q->cursor, start, KEY_SIZE) >= 0;
  k->mv_size = KEY_SIZE;
  k->mv_data = after ? (void *)q->cursor : (void *)start;
  int rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
  if (rc == 0 && after && k->mv_size == KEY_SIZE && memcmp(k->mv_data, q->cursor, KEY_SIZE) == 0)
    rc = mdb_cursor_get(cur, k, v, MDB_NEXT);
  return rc;
}

static bool in_range(const query_t *q, const MDB_val *k) {
  return k->mv_size == KEY_SIZE && (q->to_ns == 0 || key_ns(k->mv_data) < q->to_ns);
}

/* Fills data with one page; *next gets the last key looked at when more
 * may follow. */
static int page(qp__pay_t *p, const query_t *q, const qp__pay_caller_t *caller, json_t *data,
                uint8_t next[KEY_SIZE], bool *more) {
  MDB_txn *txn = NULL;
  MDB_cursor *cur = NULL;
  int rc = qp_kv_read_begin(p->kv, p->by_created, &txn, &cur);
  if (rc != 0) return rc;
  MDB_val k, v, ov;
  uint32_t looked = 0;
  int64_t now = qp__pay_now_s();
  *more = false;
  rc = first(cur, q, &k, &v);
  while (rc == 0 && in_range(q, &k)) {
    if (json_array_size(data) >= q->limit || looked >= QP_PAY_LIST_SCAN_MAX) {
      *more = true;
      break;
    }
    looked++;
    memcpy(next, k.mv_data, KEY_SIZE);
    MDB_val ok = {QP_PAY_ID_SIZE, (uint8_t *)k.mv_data + 8};
    rc = mdb_get(txn, p->orders, &ok, &ov);
    if (rc == 0) rc = take(q, caller, &ov, data, now);
    else rc = rc == MDB_NOTFOUND ? QP_ECORRUPT : rc;
    if (rc == 0) rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  qp_kv_read_end(p->kv, txn, cur);
  return rc == MDB_NOTFOUND || rc == 0 ? 0 : qp_kv_err(rc);
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
    qp_http_reply_error(r, &q.err);
    return;
  }
  json_t *data = json_array();
  uint8_t next[KEY_SIZE];
  bool more = false;
  int rc = data != NULL ? page(p, &q, &caller, data, next, &more) : QP_ENOMEM;
  if (rc == 0) rc = observe_page(p, &q, data);
  qp__pay_reply_list(r, rc, data, more ? next : NULL);
}
