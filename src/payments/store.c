/*
 * store.c - the payments module's durable state, in LMDB under
 * <data>/payments/.  Every change is one LMDB transaction committed with a
 * synchronous flush (no MDB_NOSYNC): what a request was told is on disk and
 * survives kill -9.  A change writes its records, appends one event to the
 * event journal and, for a request with an Idempotency-Key, stores the
 * response, all in the same transaction: a retry after a crash either
 * finds the response (and the order it created) or finds neither.
 *
 * Tables (records are JSON text written by jansson with sorted keys):
 *   merchants      16-byte id -> merchant
 *   orders         16-byte id -> order
 *   by_created     created ns (8 bytes, big-endian) || order id -> "" (lists)
 *   merchant_keys  API key id (16 hex digits) -> merchant id
 *   idempotency    32-byte key -> created_s (8, BE) || status (4, BE) ||
 *                  body hash (32) || response body
 *   events         sequence (8 bytes, BE, from 1) -> {"seq","type","created",
 *                  "object"}: the journal of state changes, the webhooks'
 *                  outbox to come
 *   watch          expires_at_s (8, BE) || order id -> "": open orders the
 *                  paid sweep looks at (orders.c, order_paid.c)
 *   refunds        16-byte id -> refund
 *   refunds_by_created  created ns (8, BE) || refund id -> "" (lists)
 *   refunds_pending     refund id -> "": refunds whose ledger transfer is not
 *                  known to be done (refunds.c)
 *   webhooks       16-byte id -> endpoint (its secret, events, delivery
 *                  cursor: the last event sequence delivered or skipped)
 *   deliveries     endpoint id || seq (8, BE) || attempt (4, BE) -> one
 *                  delivery attempt (the log)
 *   intent_events  intent id (32 hex) || "/" || event type -> "": the
 *                  payment_intent.* events journaled (intent_events.c)
 */
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "payments/payments_int.h"
#include "store/store.h"

#define TABLES 16

int qp__pay_store_open(qp__pay_t *p, const char *data_dir, char *detail, size_t detail_size) {
  char dir[1200];
  snprintf(dir, sizeof dir, "%s/payments", data_dir);
  int rc = qp_mkdir_p(dir);
  if (rc != 0) {
    snprintf(detail, detail_size, "payments: cannot create %s", dir);
    return rc;
  }
  rc = qp_kv_open(dir, QP_PAY_MAP_SIZE, 0, TABLES, &p->kv, detail, detail_size);
  if (rc != 0) return rc;
  qp_kv_write_policy_t policy = {QP_PAY_MAP_SIZE_MAX, 0};
  qp_kv_set_write_policy(p->kv, &policy);
  const qp_kv_table_t tables[TABLES] = {{"merchants", MDB_CREATE, &p->merchants},
                                        {"orders", MDB_CREATE, &p->orders},
                                        {"by_created", MDB_CREATE, &p->by_created},
                                        {"merchant_keys", MDB_CREATE, &p->merchant_keys},
                                        {"idempotency", MDB_CREATE, &p->idempotency},
                                        {"events", MDB_CREATE, &p->events},
                                        {"watch", MDB_CREATE, &p->watch},
                                        {"refunds", MDB_CREATE, &p->refunds},
                                        {"refunds_by_created", MDB_CREATE,
                                         &p->refunds_by_created},
                                        {"refunds_pending", MDB_CREATE, &p->refunds_pending},
                                        {"webhooks", MDB_CREATE, &p->webhooks},
                                        {"deliveries", MDB_CREATE, &p->deliveries},
                                        {"devices", MDB_CREATE, &p->devices},
                                        {"device_numbers", MDB_CREATE, &p->device_numbers},
                                        {"codes_used", MDB_CREATE, &p->codes_used},
                                        {"intent_events", MDB_CREATE, &p->intent_events}};
  const char *failed = NULL;
  rc = qp_kv_dbis(p->kv, tables, TABLES, &failed);
  if (rc != 0) {
    snprintf(detail, detail_size, "payments: cannot open table %s: %s", failed ? failed : "?",
             qp_strerror(rc));
    qp_kv_close(p->kv);
    p->kv = NULL;
  }
  return rc;
}

void qp__pay_store_close(qp__pay_t *p) {
  qp_kv_close(p->kv);
  p->kv = NULL;
}

typedef struct {
  qp__pay_t *p;
  const qp__pay_change_t *c;
} write_ctx_t;

static void be64(uint8_t out[8], uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) out[i] = (uint8_t)v;
}

static uint64_t load_be64(const uint8_t in[8]) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | in[i];
  return v;
}

/* Appends an event of type about object under the next sequence number. */
static int append_event(write_ctx_t *w, MDB_txn *txn, const char *type, json_t *object) {
  MDB_cursor *cur = NULL;
  int rc = mdb_cursor_open(txn, w->p->events, &cur);
  if (rc != 0) return rc;
  MDB_val k, v;
  uint64_t seq = 1;
  rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
  if (rc == 0 && k.mv_size == 8) seq = load_be64(k.mv_data) + 1;
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  json_t *event = json_pack("{s:I, s:s, s:o, s:O}", "seq", (json_int_t)seq, "type",
                            type, "created", qp__pay_time_json(qp__pay_now_s()), "object",
                            object);
  char *text = event != NULL ? json_dumps(event, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(event);
  if (text == NULL) return QP_ENOMEM;
  uint8_t key[8];
  be64(key, seq);
  MDB_val ek = {8, key}, ev = {strlen(text), text};
  rc = mdb_put(txn, w->p->events, &ek, &ev, MDB_NOOVERWRITE);
  qp_http_json_free(text);
  return rc;
}

static int put_idem(write_ctx_t *w, MDB_txn *txn) {
  const qp__pay_change_t *c = w->c;
  size_t body = strlen(c->response);
  MDB_val k = {sizeof c->idem->key, (void *)c->idem->key}, v = {8 + 4 + 32 + body, NULL};
  int rc = mdb_put(txn, w->p->idempotency, &k, &v, MDB_RESERVE);
  if (rc != 0) return rc;
  uint8_t *out = v.mv_data;
  be64(out, (uint64_t)qp__pay_now_s());
  for (int i = 0; i < 4; i++) out[8 + i] = (uint8_t)(c->status >> (24 - 8 * i));
  memcpy(out + 12, c->idem->body_hash, 32);
  memcpy(out + 44, c->response, body);
  return 0;
}

static int write_fn(void *ctx, MDB_txn *txn) {
  write_ctx_t *w = ctx;
  const qp__pay_change_t *c = w->c;
  for (uint32_t i = 0; i < c->puts_count; i++) {
    const qp__pay_put_t *x = &c->puts[i];
    MDB_val k = {x->key_len, (void *)x->key}, v = {x->value_len, (void *)x->value};
    int rc = x->del ? mdb_del(txn, x->dbi, &k, NULL)
                    : mdb_put(txn, x->dbi, &k, &v, x->is_new ? MDB_NOOVERWRITE : 0);
    if (rc == MDB_KEYEXIST) return QP_EEXISTS;
    if (rc == MDB_NOTFOUND && x->del) rc = 0;
    if (rc != 0) return rc;
  }
  int rc = c->event_type != NULL ? append_event(w, txn, c->event_type, c->event_object) : 0;
  if (rc == 0 && c->event2_type != NULL)
    rc = append_event(w, txn, c->event2_type, c->event2_object);
  if (rc == 0 && c->idem != NULL && c->idem->active && c->response != NULL)
    rc = put_idem(w, txn);
  return rc;
}

int qp__pay_store_write(qp__pay_t *p, const qp__pay_change_t *c) {
  write_ctx_t w = {p, c};
  int rc = qp_kv_write(p->kv, write_fn, &w);
  if (rc == 0) qp__pay_count_change(p, c->event_type);
  if (rc == 0) qp__pay_count_change(p, c->event2_type);
  if (rc == 0 && c->event_type != NULL) { /* wake the order streams (routes_order_events.c) */
    pthread_mutex_lock(&p->change_lock);
    p->change_gen++;
    pthread_cond_broadcast(&p->change_cond);
    pthread_mutex_unlock(&p->change_lock);
  }
  return rc;
}

int qp__pay_store_get_raw(qp__pay_t *p, MDB_dbi dbi, const void *key, size_t key_len,
                          uint8_t **out, size_t *len) {
  MDB_txn *txn = NULL;
  int rc = qp_kv_read_begin(p->kv, dbi, &txn, NULL);
  if (rc != 0) return rc;
  MDB_val k = {key_len, (void *)key}, v;
  rc = qp_kv_err(mdb_get(txn, dbi, &k, &v));
  if (rc == 0) {
    *out = qp_malloc(v.mv_size + 1);
    if (*out == NULL) rc = QP_ENOMEM;
    else {
      memcpy(*out, v.mv_data, v.mv_size);
      (*out)[v.mv_size] = 0;
      *len = v.mv_size;
    }
  }
  qp_kv_read_end(p->kv, txn, NULL);
  return rc;
}

int qp__pay_store_get_json(qp__pay_t *p, MDB_dbi dbi, const void *key, size_t key_len,
                           json_t **out) {
  MDB_txn *txn = NULL;
  int rc = qp_kv_read_begin(p->kv, dbi, &txn, NULL);
  if (rc != 0) return rc;
  MDB_val k = {key_len, (void *)key}, v;
  rc = qp_kv_err(mdb_get(txn, dbi, &k, &v));
  if (rc == 0) {
    *out = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    if (*out == NULL) rc = QP_ECORRUPT;
  }
  qp_kv_read_end(p->kv, txn, NULL);
  return rc;
}

uint64_t qp__pay_store_events(qp__pay_t *p) {
  MDB_txn *txn = NULL;
  MDB_cursor *cur = NULL;
  uint64_t seq = 0;
  if (qp_kv_read_begin(p->kv, p->events, &txn, &cur) != 0) return 0;
  MDB_val k, v;
  if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8) seq = load_be64(k.mv_data);
  qp_kv_read_end(p->kv, txn, cur);
  return seq;
}

int qp__pay_store_keys(qp__pay_t *p, MDB_dbi dbi, const uint8_t *after, size_t key_size,
                       uint8_t *keys, uint32_t max, uint32_t *count) {
  MDB_txn *txn = NULL;
  MDB_cursor *cur = NULL;
  *count = 0;
  int rc = qp_kv_read_begin(p->kv, dbi, &txn, &cur);
  if (rc != 0) return rc;
  MDB_val k = {key_size, (void *)after}, v;
  rc = mdb_cursor_get(cur, &k, &v, after != NULL ? MDB_SET_RANGE : MDB_FIRST);
  if (rc == 0 && after != NULL && k.mv_size == key_size && memcmp(k.mv_data, after, key_size) == 0)
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  while (rc == 0 && *count < max) {
    if (k.mv_size == key_size) memcpy(keys + (size_t)(*count)++ * key_size, k.mv_data, key_size);
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  qp_kv_read_end(p->kv, txn, cur);
  return rc == 0 || rc == MDB_NOTFOUND ? 0 : qp_kv_err(rc);
}

/* ------------------------------------------------------------- sweeps */

typedef struct {
  MDB_dbi dbi;
  qp__pay_sweep_fn gone;
  void *ctx;
  uint32_t deleted;
} sweep_t;

static int sweep_txn(void *vctx, MDB_txn *txn) {
  sweep_t *s = vctx;
  MDB_cursor *cur = NULL;
  s->deleted = 0;
  int rc = mdb_cursor_open(txn, s->dbi, &cur);
  if (rc != 0) return rc;
  MDB_val k, v;
  uint32_t seen = 0;
  rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  while (rc == 0 && seen++ < 100u * QP_PAY_IDEM_SWEEP_MAX && s->deleted < QP_PAY_IDEM_SWEEP_MAX) {
    if (s->gone(s->ctx, &k, &v)) {
      rc = mdb_cursor_del(cur, 0);
      if (rc != 0) break;
      s->deleted++;
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cur);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

uint32_t qp__pay_store_sweep(qp__pay_t *p, MDB_dbi dbi, qp__pay_sweep_fn gone, void *ctx) {
  sweep_t s = {dbi, gone, ctx, 0};
  return qp_kv_write(p->kv, sweep_txn, &s) == 0 ? s.deleted : 0; /* retried next time */
}
