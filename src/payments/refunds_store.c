/*
 * refunds_store.c - the durable steps of a refund (refunds.c says why
 * three): reserve, finish (succeeded, released or failed), each one LMDB
 * transaction holding the order, the refund and its index rows; and the
 * tick's recovery of refunds left pending.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "ledger/ledger.h"
#include "payments/payments_int.h"

typedef struct {
  char *order_text, *refund_text;
  uint8_t order_id[QP_PAY_ID_SIZE], refund_id[QP_PAY_ID_SIZE];
  uint8_t created[8 + QP_PAY_ID_SIZE];
  qp__pay_put_t puts[5];
} rows_t;

static int rows_init(rows_t *w, const json_t *order, const json_t *rf) {
  memset(w, 0, sizeof *w);
  uint64_t ns = (uint64_t)json_integer_value(json_object_get(rf, "created_ns"));
  if (!qp__pay_id_parse(json_string_value(json_object_get(order, "id")), w->order_id) ||
      !qp__pay_id_parse(json_string_value(json_object_get(rf, "id")), w->refund_id))
    return QP_ECORRUPT;
  for (int i = 7; i >= 0; i--, ns >>= 8) w->created[i] = (uint8_t)ns;
  memcpy(w->created + 8, w->refund_id, QP_PAY_ID_SIZE);
  w->order_text = json_dumps(order, JSON_COMPACT | JSON_SORT_KEYS);
  w->refund_text = json_dumps(rf, JSON_COMPACT | JSON_SORT_KEYS);
  return w->order_text != NULL && w->refund_text != NULL ? 0 : QP_ENOMEM;
}

static void rows_free(rows_t *w) {
  qp_http_json_free(w->order_text);
  qp_http_json_free(w->refund_text);
}

/* The rows of a step: the order; the refund (kept or deleted); its list
 * row; its pending row (put while pending, deleted after). */
static void rows_fill(qp__pay_t *p, rows_t *w, bool is_new, bool keep, bool pending) {
  w->puts[0] = (qp__pay_put_t){p->orders, w->order_id, QP_PAY_ID_SIZE, w->order_text,
                               strlen(w->order_text), false, false};
  w->puts[1] = (qp__pay_put_t){p->refunds, w->refund_id, QP_PAY_ID_SIZE, w->refund_text,
                               strlen(w->refund_text), is_new, !keep};
  w->puts[2] = (qp__pay_put_t){p->refunds_by_created, w->created, sizeof w->created, "", 0,
                               is_new, !keep};
  w->puts[3] = (qp__pay_put_t){p->refunds_pending, w->refund_id, QP_PAY_ID_SIZE, "", 0, false,
                               !pending};
}

int qp__pay_refund_reserve(qp__pay_t *p, json_t *order, const json_t *rf,
                           const qp__pay_idem_t *idem) {
  qp_u128 amount = 0;
  rows_t w;
  char *pending = NULL;
  int rc = qp__pay_member_u128(rf, "amount", &amount) ? 0 : QP_ECORRUPT;
  if (rc == 0) rc = qp__pay_order_refund_apply(order, amount, QP__PAY_REFUND_RESERVE);
  if (rc == 0) rc = rows_init(&w, order, rf);
  json_t *pub = rc == 0 ? qp__pay_refund_public(rf) : NULL;
  if (pub != NULL) pending = json_dumps(pub, JSON_COMPACT);
  if (rc == 0 && pending == NULL) rc = QP_ENOMEM;
  if (rc == 0) {
    /* A retry after a crash replays 202 and the pending refund (which the
     * tick finishes), never makes a second refund. */
    rows_fill(p, &w, true, true, true);
    qp__pay_change_t c = {w.puts, 4, NULL, NULL, idem, 202, pending, NULL, NULL};
    rc = qp__pay_store_write(p, &c);
  }
  json_decref(pub);
  qp_http_json_free(pending);
  rows_free(&w);
  return rc;
}

int qp__pay_refund_finish(qp__pay_t *p, json_t *order, json_t *rf, qp__pay_refund_step_t step,
                          const qp__pay_idem_t *idem, qp_http_reply_t *r) {
  qp_u128 amount = 0;
  rows_t w;
  int64_t now = qp__pay_now_s();
  int rc = qp__pay_member_u128(rf, "amount", &amount) ? 0 : QP_ECORRUPT;
  if (rc == 0) rc = qp__pay_order_refund_apply(order, amount, step);
  bool ok = step == QP__PAY_REFUND_SUCCEED;
  json_object_set_new(rf, "status", json_string(ok ? "succeeded" : "failed"));
  json_object_set_new(rf, ok ? "succeeded_at" : "failed_at", qp__pay_time_json(now));
  if (rc == 0) rc = rows_init(&w, order, rf);
  if (rc == 0) {
    /* A refused request's refund leaves nothing; a recovered one reads failed. */
    rows_fill(p, &w, false, ok || r == NULL, false);
    uint32_t n = 4;
    if (!ok && r != NULL && idem != NULL && idem->active) /* a refusal is not replayed */
      w.puts[n++] = (qp__pay_put_t){p->idempotency, idem->key, sizeof idem->key, NULL, 0, false,
                                    true};
    json_t *pub = qp__pay_refund_public(rf);
    qp__pay_change_t c = {w.puts, n, ok ? "refund.succeeded" : NULL, pub, ok ? idem : NULL, 0,
                          NULL, NULL, NULL};
    if (r != NULL && ok) rc = qp__pay_commit(p, &c, 200, json_incref(pub), r);
    else rc = qp__pay_store_write(p, &c);
    json_decref(pub);
  }
  rows_free(&w);
  return rc;
}

/* Finishes the pending refund id: retries its transfer (the same id). */
static void recover_one(qp__pay_t *p, const uint8_t id[QP_PAY_ID_SIZE]) {
  json_t *rf = NULL, *order = NULL;
  uint8_t oid[QP_PAY_ID_SIZE];
  uint32_t result = 0;
  pthread_mutex_lock(&p->order_lock);
  int rc = qp__pay_store_get_json(p, p->refunds, id, QP_PAY_ID_SIZE, &rf);
  if (rc == 0 && strcmp(json_string_value(json_object_get(rf, "status")), "pending") != 0)
    rc = QP_EEXISTS;
  if (rc == 0 && !qp__pay_id_parse(json_string_value(json_object_get(rf, "order_id")), oid))
    rc = QP_ECORRUPT;
  if (rc == 0) rc = qp__pay_store_get_json(p, p->orders, oid, QP_PAY_ID_SIZE, &order);
  if (rc == 0) rc = qp__pay_refund_move(rf, &result);
  if (rc == 0 && result != QP_CREATE_TRANSFER_OK)
    json_object_set_new(rf, "failure_code", json_string(qp_create_transfer_result_name(result)));
  if (rc == 0)
    rc = qp__pay_refund_finish(p, order, rf, result == QP_CREATE_TRANSFER_OK
                               ? QP__PAY_REFUND_SUCCEED : QP__PAY_REFUND_RELEASE, NULL, NULL);
  pthread_mutex_unlock(&p->order_lock);
  if (rc != 0 && rc != QP_EEXISTS && rc != QP_ENOTFOUND) /* finished meanwhile: done */
    QP_LOG_WARN("payments", "a pending refund waits: %s", qp_strerror(rc));
  json_decref(rf);
  json_decref(order);
}

void qp__pay_refunds_recover(qp__pay_t *p) {
  static uint8_t ids[QP_PAY_PAID_SWEEP_MAX][QP_PAY_ID_SIZE]; /* only the tick thread runs it */
  uint32_t n = 0;
  if (qp__pay_store_keys(p, p->refunds_pending, NULL, QP_PAY_ID_SIZE, &ids[0][0],
                         QP_PAY_PAID_SWEEP_MAX, &n) != 0)
    return;
  for (uint32_t i = 0; i < n; i++) recover_one(p, ids[i]);
}
