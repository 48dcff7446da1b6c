/*
 * routes_webhooks.c - POST /v1/webhooks (an endpoint and its signing
 * secret, shown once), GET /v1/webhooks, DELETE /v1/webhooks/{id} and
 * GET /v1/webhooks/{id}/deliveries (the delivery log, newest first).  A
 * merchant key's endpoints get its merchant's events only, and it reaches
 * only them; an operator's get every event.  Deliveries: webhook_worker.c.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "payments/payments_int.h"

#define DELIVERIES_DEFAULT 50u

static json_t *webhook_public(const json_t *wh) {
  return json_pack("{s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "object",
                   "webhook_endpoint", "id", json_object_get(wh, "id"), "url",
                   json_object_get(wh, "url"), "events", json_object_get(wh, "events"),
                   "merchant_id", json_object_get(wh, "merchant_id"), "status",
                   json_object_get(wh, "status"), "disabled_reason",
                   json_object_get(wh, "disabled_reason"), "created",
                   json_object_get(wh, "created"), "delivered_through",
                   json_object_get(wh, "cursor"), "failing_attempts",
                   json_object_get(wh, "attempts"));
}

static json_t *events_json(const qp__pay_webhook_req_t *w) {
  json_t *a = json_array();
  if (w->all) json_array_append_new(a, json_string("*"));
  for (uint32_t i = 0; !w->all && i < QP__PAY_WEBHOOK_EVENTS; i++)
    if (w->wanted[i]) json_array_append_new(a, json_string(qp__pay_webhook_events[i]));
  return a;
}

static json_t *new_webhook(qp__pay_t *p, const qp__pay_webhook_req_t *w,
                           const qp__pay_caller_t *caller, uint8_t id[QP_PAY_ID_SIZE]) {
  uint8_t raw[32];
  char hex[QP_PAY_ID_HEX + 1], secret[6 + 64 + 1] = "whsec_", mid[QP_PAY_ID_HEX + 1];
  qp__pay_new_id(id);
  qp__pay_id_hex(id, hex);
  randombytes_buf(raw, sizeof raw);
  sodium_bin2hex(secret + 6, 65, raw, sizeof raw);
  if (caller->merchant_only) qp__pay_id_hex(caller->merchant_id, mid);
  return json_pack("{s:s, s:s, s:o, s:s?, s:s, s:s, s:n, s:o, s:I, s:i, s:I, s:I}", "id", hex,
                   "url", w->url, "events", events_json(w), "merchant_id",
                   caller->merchant_only ? mid : NULL, "secret", secret, "status", "enabled",
                   "disabled_reason", "created", qp__pay_time_json(qp__pay_now_s()), "cursor",
                   (json_int_t)qp__pay_store_events(p), "attempts", 0, "next_attempt_ms",
                   (json_int_t)0, "failing_since_ms", (json_int_t)0);
}

static uint32_t count_webhooks(qp__pay_t *p) {
  static _Thread_local uint8_t ids[QP_PAY_WEBHOOKS_MAX][QP_PAY_ID_SIZE];
  uint32_t n = 0;
  return qp__pay_store_keys(p, p->webhooks, NULL, QP_PAY_ID_SIZE, &ids[0][0],
                            QP_PAY_WEBHOOKS_MAX, &n) == 0 ? n : QP_PAY_WEBHOOKS_MAX;
}

static void create(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r,
                   const qp__pay_caller_t *caller, const qp__pay_idem_t *idem) {
  static _Thread_local qp__pay_webhook_req_t w;
  qp_http_error_t err = {0};
  size_t len = 0;
  const char *body = qp_http_body(req, &len);
  if (qp__pay_webhook_decode(body != NULL ? body : "", len, QP__PAY_ALLOW_OF(p), &w, &err) != 0) {
    qp_http_reply_error(r, &err);
    return;
  }
  uint8_t id[QP_PAY_ID_SIZE];
  pthread_mutex_lock(&p->webhook_lock);
  json_t *wh = count_webhooks(p) < QP_PAY_WEBHOOKS_MAX ? new_webhook(p, &w, caller, id) : NULL;
  char *text = wh != NULL ? json_dumps(wh, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  if (wh == NULL)
    qp_http_reply_fail(r, 409, "too_many_webhooks", "", "this node has 100 webhook endpoints; "
                       "delete one first");
  else if (text == NULL) qp_http_reply_fail(r, 500, "internal", "", "out of memory");
  else {
    json_t *pub = webhook_public(wh);
    json_object_set(pub, "secret", json_object_get(wh, "secret"));
    qp__pay_put_t put = {p->webhooks, id, QP_PAY_ID_SIZE, text, strlen(text), true, false};
    qp__pay_change_t c = {&put, 1, NULL, NULL, idem, 0, NULL, NULL, NULL};
    qp__pay_commit(p, &c, 200, pub, r);
  }
  pthread_mutex_unlock(&p->webhook_lock);
  qp_http_json_free(text);
  json_decref(wh);
}

void qp__pay_webhooks_create(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_idem_write(ctx, req, r, true, create);
}

static bool sees(const qp__pay_caller_t *c, const json_t *wh) {
  uint8_t m[QP_PAY_ID_SIZE];
  if (!c->merchant_only) return true;
  return qp__pay_id_parse(json_string_value(json_object_get(wh, "merchant_id")), m) &&
         memcmp(m, c->merchant_id, QP_PAY_ID_SIZE) == 0;
}

void qp__pay_webhooks_list(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static _Thread_local uint8_t ids[QP_PAY_WEBHOOKS_MAX][QP_PAY_ID_SIZE];
  qp__pay_t *p = ctx;
  qp__pay_caller_t caller;
  uint32_t n = 0;
  if (!qp__pay_caller(p, req, r, false, &caller)) return;
  int rc = qp__pay_store_keys(p, p->webhooks, NULL, QP_PAY_ID_SIZE, &ids[0][0],
                              QP_PAY_WEBHOOKS_MAX, &n);
  json_t *data = json_array();
  for (uint32_t i = 0; rc == 0 && i < n; i++) {
    json_t *wh = NULL;
    rc = qp__pay_store_get_json(p, p->webhooks, ids[i], QP_PAY_ID_SIZE, &wh);
    if (rc == QP_ENOTFOUND) rc = 0; /* deleted meanwhile */
    else if (rc == 0 && sees(&caller, wh)) json_array_append_new(data, webhook_public(wh));
    json_decref(wh);
  }
  qp__pay_reply_list(r, rc, data, NULL);
}

/* The endpoint of the path's {id} the caller may see; false after a reply. */
static bool load(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r,
                 const qp__pay_caller_t *caller, uint8_t id[QP_PAY_ID_SIZE], json_t **wh) {
  *wh = NULL;
  int rc = qp__pay_id_parse(qp_http_param(req, "id"), id)
               ? qp__pay_store_get_json(p, p->webhooks, id, QP_PAY_ID_SIZE, wh) : QP_ENOTFOUND;
  if (rc == 0 && !sees(caller, *wh)) rc = QP_ENOTFOUND;
  if (rc == 0) return true;
  json_decref(*wh);
  *wh = NULL;
  if (rc == QP_ENOTFOUND) qp_http_reply_fail(r, 404, "webhook_not_found", "id", "no such webhook");
  else qp__pay_reply_store(r, rc);
  return false;
}

void qp__pay_webhooks_delete(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_t *p = ctx;
  qp__pay_caller_t caller;
  uint8_t id[QP_PAY_ID_SIZE];
  json_t *wh = NULL;
  if (!qp__pay_caller(p, req, r, true, &caller)) return;
  pthread_mutex_lock(&p->webhook_lock); /* the worker never writes a deleted endpoint back */
  if (load(p, req, r, &caller, id, &wh)) {
    qp__pay_put_t del = {p->webhooks, id, QP_PAY_ID_SIZE, NULL, 0, false, true};
    qp__pay_change_t c = {&del, 1, NULL, NULL, NULL, 0, NULL, NULL, NULL};
    json_t *pub = webhook_public(wh);
    json_object_set_new(pub, "deleted", json_true());
    qp__pay_commit(p, &c, 200, pub, r);
  }
  pthread_mutex_unlock(&p->webhook_lock);
  json_decref(wh);
}

static bool limit_param(void *ctx, const char *key, const char *v) {
  long *limit = ctx;
  char *end = NULL;
  if (strcmp(key, "limit") != 0 || v == NULL || *v < '0' || *v > '9' || strlen(v) > 4) {
    *limit = -1;
    return false;
  }
  *limit = strtol(v, &end, 10);
  if (*end != '\0' || *limit < 1 || *limit > QP_HTTP_LIST_LIMIT_MAX) *limit = -1;
  return *limit > 0;
}

/* The newest limit attempts of endpoint id, newest first. */
static int deliveries(qp__pay_t *p, const uint8_t id[QP_PAY_ID_SIZE], long limit, json_t *data) {
  MDB_txn *txn = NULL;
  MDB_cursor *cur = NULL;
  int rc = qp_kv_read_begin(p->kv, p->deliveries, &txn, &cur);
  if (rc != 0) return rc;
  uint8_t end[QP_PAY_ID_SIZE + 12];
  memcpy(end, id, QP_PAY_ID_SIZE);
  memset(end + QP_PAY_ID_SIZE, 0xFF, 12);
  MDB_val k = {sizeof end, end}, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  rc = mdb_cursor_get(cur, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
  while (rc == 0 && (long)json_array_size(data) < limit && k.mv_size == sizeof end &&
         memcmp(k.mv_data, id, QP_PAY_ID_SIZE) == 0) {
    json_t *d = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    if (d == NULL || json_array_append_new(data, d) != 0) rc = QP_ECORRUPT;
    if (rc == 0) rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
  }
  qp_kv_read_end(p->kv, txn, cur);
  return rc == 0 || rc == MDB_NOTFOUND ? 0 : qp_kv_err(rc);
}

void qp__pay_webhooks_deliveries(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_t *p = ctx;
  qp__pay_caller_t caller;
  uint8_t id[QP_PAY_ID_SIZE];
  json_t *wh = NULL;
  long limit = DELIVERIES_DEFAULT;
  if (!qp__pay_caller(p, req, r, false, &caller)) return;
  if (!qp_http_query_each(req, limit_param, &limit) || limit < 1) {
    qp_http_reply_fail(r, 400, "invalid_parameter", "limit",
                       "the only query parameter is limit, 1 to 500");
    return;
  }
  if (!load(p, req, r, &caller, id, &wh)) return;
  json_decref(wh);
  json_t *data = json_array();
  int rc = data != NULL ? deliveries(p, id, limit, data) : QP_ENOMEM;
  qp__pay_reply_list(r, rc, data, NULL);
}
