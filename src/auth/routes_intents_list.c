/*
 * routes_intents_list.c - GET /v1/payment-intents: intents by creation
 * time, oldest first, a page at a time (the conventions of GET /v1/orders,
 * docs/payments.md).  Query: limit (1..500, default 50), cursor (the opaque
 * next_cursor of the previous page), status (requires_confirmation,
 * requires_review, succeeded, canceled, expired: as GET
 * /v1/payment-intents/{id} computes it, the ledger being the truth about
 * the hold), created_from and created_to (unix seconds: from inclusive, to
 * exclusive), user_id.  A key restricted to ledgers sees only their
 * intents.  The answer is {"data":[…],"next_cursor":…}, next_cursor null on
 * the last page; a page looks at no more than SCAN_MAX index rows, so with
 * a filter that matches rarely it may hold fewer than limit intents and
 * still have a next_cursor.  The cursor is the base64url text of the last
 * by_created key looked at (creation ns || intent id): a new intent never
 * shifts a page already read.  Intents made before the index existed are
 * not listed.
 */
#include <string.h>

#include "auth/intents_int.h"
#include "base/err.h"

#define KEY_SIZE (8 + QP_AUTH_ID_SIZE)
#define SCAN_MAX 5000u
#define ALLOWED "limit, cursor, status, created_from, created_to, user_id"

typedef struct query {
  qp_http_list_t list;  /* limit, cursor, created range; list.err */
  const char *status;   /* NULL = any */
  const char *user_id;  /* NULL = any */
  const qp_http_request_t *req;
  json_t *data;         /* the page */
  qp__auth_t *a;
} query_t;

static bool status_known(const char *v) {
  static const char *const known[] = {"requires_confirmation", "requires_review", "succeeded",
                                      "canceled", "expired"};
  for (size_t i = 0; v != NULL && i < sizeof known / sizeof known[0]; i++)
    if (strcmp(v, known[i]) == 0) return true;
  return false;
}

static bool param(void *ctx, const char *key, const char *v) {
  query_t *q = ctx;
  if (strcmp(key, "status") == 0) {
    if (!status_known(v))
      return qp_http_list_bad(&q->list, key, "must be requires_confirmation, requires_review, "
                              "succeeded, canceled or expired");
    q->status = v;
    return true;
  }
  if (strcmp(key, "user_id") == 0) {
    uint8_t id[QP_AUTH_ID_SIZE];
    if (v == NULL || !qp__auth_id_parse(v, id))
      return qp_http_list_bad(&q->list, key, "must be 32 hex digits");
    q->user_id = v;
    return true;
  }
  int taken = qp_http_list_param(&q->list, key, v);
  return taken == 0 ? qp_http_list_unknown(&q->list, key, ALLOWED) : taken > 0;
}

/* Appends the intent stored as v when it passes the filters. */
static int take(const query_t *q, const MDB_val *v, bool *shown) {
  json_t *o = json_loadb(v->mv_data, v->mv_size, 0, NULL);
  if (o == NULL) return QP_ECORRUPT;
  const char *user = json_string_value(json_object_get(o, "user_id"));
  json_int_t ledger = json_integer_value(json_object_get(o, "ledger"));
  bool pass = qp_http_caller_ledger_allowed(q->req, (uint32_t)ledger) &&
              (q->user_id == NULL || (user != NULL && strcmp(user, q->user_id) == 0));
  json_t *pub = pass ? qp__auth_intent_public(o) : NULL;
  json_decref(o);
  if (!pass) return 0;
  if (pub == NULL) return QP_ENOMEM;
  const char *st = json_string_value(json_object_get(pub, "status"));
  if (q->status != NULL && (st == NULL || strcmp(st, q->status) != 0)) {
    json_decref(pub);
    return 0;
  }
  *shown = true;
  return json_array_append_new(q->data, pub) != 0 ? QP_ENOMEM : 0;
}

/* One by_created key (creation ns || intent id): its intent, if it passes. */
static int visit(void *ctx, MDB_txn *txn, const MDB_val *key, bool *shown) {
  query_t *q = ctx;
  MDB_val ik = {QP_AUTH_ID_SIZE, (uint8_t *)key->mv_data + 8}, iv;
  int rc = mdb_get(txn, q->a->intents, &ik, &iv);
  if (rc != 0) return rc == MDB_NOTFOUND ? QP_ECORRUPT : rc;
  return take(q, &iv, shown);
}

void qp__auth_intents_list(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  query_t q = {.req = req, .a = ctx};
  qp_http_list_init(&q.list, KEY_SIZE);
  if (!qp_http_query_each(req, param, &q) || !qp_http_list_check(&q.list)) {
    qp_http_reply_error(r, &q.list.err);
    return;
  }
  qp_kv_page_t page = {q.a->by_created, KEY_SIZE, q.list.from_ns, q.list.to_ns,
                       q.list.has_cursor ? q.list.cursor : NULL, q.list.limit, SCAN_MAX};
  uint8_t next[KEY_SIZE];
  bool more = false;
  q.data = json_array();
  int rc = q.data == NULL ? QP_ENOMEM : qp_kv_page(q.a->kv, &page, visit, &q, next, &more);
  if (rc != 0) {
    json_decref(q.data);
    qp__auth_reply_store(r, rc, "cannot list the payment intents");
    return;
  }
  qp_http_list_reply(r, q.data, more ? next : NULL, KEY_SIZE);
}
