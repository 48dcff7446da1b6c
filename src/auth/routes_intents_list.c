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
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "auth/intents_int.h"
#include "base/err.h"

#define KEY_SIZE (8 + QP_AUTH_ID_SIZE)
#define LIMIT_MAX 500u
#define LIMIT_DEFAULT 50u
#define SCAN_MAX 5000u
#define CURSOR_TEXT_MAX 40
#define SECONDS_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

typedef struct query {
  uint32_t limit;
  const char *status;   /* NULL = any */
  const char *user_id;  /* NULL = any */
  uint64_t from_ns, to_ns; /* to_ns 0 = no end */
  uint8_t cursor[KEY_SIZE];
  bool has_cursor;
  qp_http_error_t err;
  const qp_http_request_t *req;
} query_t;

static bool number(const char *v, long long max, long long *out) {
  char *end = NULL;
  if (v == NULL || *v < '0' || *v > '9' || strlen(v) > 15) return false;
  *out = strtoll(v, &end, 10);
  return *end == '\0' && *out >= 0 && *out <= max;
}

static bool bad(query_t *q, const char *key, const char *what) {
  qp_http_error_set(&q->err, 400, "invalid_parameter", key, "query parameter %s %s", key, what);
  return false;
}

static bool status_known(const char *v) {
  static const char *const known[] = {"requires_confirmation", "requires_review", "succeeded",
                                      "canceled", "expired"};
  for (size_t i = 0; v != NULL && i < sizeof known / sizeof known[0]; i++)
    if (strcmp(v, known[i]) == 0) return true;
  return false;
}

static bool param(void *ctx, const char *key, const char *v) {
  query_t *q = ctx;
  long long n = 0;
  size_t len = 0;
  if (strcmp(key, "limit") == 0) {
    if (!number(v, LIMIT_MAX, &n) || n < 1) return bad(q, key, "must be 1 to 500");
    q->limit = (uint32_t)n;
  } else if (strcmp(key, "status") == 0) {
    if (!status_known(v))
      return bad(q, key, "must be requires_confirmation, requires_review, succeeded, "
                 "canceled or expired");
    q->status = v;
  } else if (strcmp(key, "created_from") == 0 || strcmp(key, "created_to") == 0) {
    if (!number(v, SECONDS_MAX, &n)) return bad(q, key, "must be unix seconds");
    *(key[8] == 'f' ? &q->from_ns : &q->to_ns) = (uint64_t)n * 1000000000u;
  } else if (strcmp(key, "user_id") == 0) {
    uint8_t id[QP_AUTH_ID_SIZE];
    if (v == NULL || !qp__auth_id_parse(v, id)) return bad(q, key, "must be 32 hex digits");
    q->user_id = v;
  } else if (strcmp(key, "cursor") == 0) {
    if (v == NULL || strlen(v) >= CURSOR_TEXT_MAX ||
        sodium_base642bin(q->cursor, KEY_SIZE, v, strlen(v), NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || len != KEY_SIZE)
      return bad(q, key, "must be a next_cursor this API returned");
    q->has_cursor = true;
  } else {
    qp_http_error_set(&q->err, 400, "unknown_parameter", key[0] != '\0' ? key : "query",
                      "unknown query parameter \"%.40s\"; allowed: limit, cursor, status, "
                      "created_from, created_to, user_id", key);
    return false;
  }
  return true;
}

/* Appends the intent stored as v when it passes the filters. */
static int take(const query_t *q, const MDB_val *v, json_t *data) {
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
  return json_array_append_new(data, pub) != 0 ? QP_ENOMEM : 0;
}

/* Positions cur at the page's first key: after the cursor, not before from. */
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
  uint64_t ns = 0;
  for (int i = 0; i < 8 && k->mv_size == KEY_SIZE; i++)
    ns = (ns << 8) | ((const uint8_t *)k->mv_data)[i];
  return k->mv_size == KEY_SIZE && (q->to_ns == 0 || ns < q->to_ns);
}

static int page(qp__auth_t *a, const query_t *q, json_t *data, uint8_t next[KEY_SIZE],
                bool *more) {
  MDB_txn *txn = NULL;
  MDB_cursor *cur = NULL;
  int rc = qp_kv_read_begin(a->kv, a->by_created, &txn, &cur);
  if (rc != 0) return rc;
  MDB_val k, v, iv;
  uint32_t looked = 0;
  *more = false;
  rc = first(cur, q, &k, &v);
  while (rc == 0 && in_range(q, &k)) {
    if (json_array_size(data) >= q->limit || looked >= SCAN_MAX) {
      *more = true;
      break;
    }
    looked++;
    memcpy(next, k.mv_data, KEY_SIZE);
    MDB_val ik = {QP_AUTH_ID_SIZE, (uint8_t *)k.mv_data + 8};
    rc = mdb_get(txn, a->intents, &ik, &iv);
    if (rc == 0) rc = take(q, &iv, data);
    else rc = rc == MDB_NOTFOUND ? QP_ECORRUPT : rc;
    if (rc == 0) rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  qp_kv_read_end(a->kv, txn, cur);
  return rc == MDB_NOTFOUND || rc == 0 ? 0 : qp_kv_err(rc);
}

void qp__auth_intents_list(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  query_t q = {.limit = LIMIT_DEFAULT, .req = req};
  if (!qp_http_query_each(req, param, &q)) {
    qp_http_reply_error(r, &q.err);
    return;
  }
  if (q.to_ns != 0 && q.to_ns <= q.from_ns) {
    qp_http_reply_fail(r, 400, "invalid_parameter", "created_to",
                       "query parameter created_to must be after created_from");
    return;
  }
  json_t *data = json_array();
  uint8_t next[KEY_SIZE];
  bool more = false;
  int rc = data == NULL ? QP_ENOMEM : page(ctx, &q, data, next, &more);
  if (rc != 0) {
    json_decref(data);
    qp__auth_reply_store(r, rc, "cannot list the payment intents");
    return;
  }
  char cursor[CURSOR_TEXT_MAX];
  if (more)
    sodium_bin2base64(cursor, sizeof cursor, next, KEY_SIZE,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  qp_http_reply_json(r, 200, json_pack("{s:s, s:o, s:o}", "object", "list", "data", data,
                                       "next_cursor", more ? json_string(cursor) : json_null()));
}
