/*
 * routes_order_events.c - GET /v1/orders/{id}/events: the order as a
 * server-sent event stream for a shop's page (the HTTP core's streams,
 * src/http/stream.c).  The first frame is the order as it is; then one
 * `event: order` frame each time its status (or amount_refunded) changes;
 * the stream ends after a final state (refunded, expired, canceled).
 *
 * Changes made by this module (cancel, collect, refund, a payment observed
 * by anyone) wake every stream at once: a committed change with an event
 * bumps p->change_gen and broadcasts change_cond (store.c).  A payment by
 * intent happens in the auth module, which tells nobody, so each wait also
 * ends after the core's wait_ms (250 ms) and the stream observes the order
 * itself (qp__pay_order_observe, which records the payment the first time):
 * a payment shows within about 250 ms.
 */
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/err.h"
#include "payments/payments_int.h"

#define LAST_MAX 96u /* "status/amount_refunded" of the last frame sent */

typedef struct {
  qp__pay_t *p;                 /* the module */
  uint8_t id[QP_PAY_ID_SIZE];   /* the order */
  char last[LAST_MAX];          /* what the last frame said; "" before the first */
  uint64_t gen;                 /* p->change_gen when last looked */
  bool done;                    /* the final frame was sent: end at the next call */
} order_stream_t;

static bool final_status(const char *s) {
  return strcmp(s, "refunded") == 0 || strcmp(s, "expired") == 0 || strcmp(s, "canceled") == 0;
}

/* Appends a frame when the order changed since the last one. */
static int look(order_stream_t *st, qp_buf_t *out) {
  json_t *o = NULL;
  int rc = qp__pay_store_get_json(st->p, st->p->orders, st->id, QP_PAY_ID_SIZE, &o);
  if (rc == 0 && qp__pay_order_payable(o)) { /* only then may a payment be news */
    json_decref(o);
    rc = qp__pay_order_observe(st->p, st->id, &o); /* takes the module's order lock */
  }
  if (rc != 0) return rc;
  json_t *pub = qp__pay_order_public(o, qp__pay_now_s());
  json_decref(o);
  const char *status = json_string_value(json_object_get(pub, "status"));
  const char *refunded = json_string_value(json_object_get(pub, "amount_refunded"));
  char now[LAST_MAX];
  snprintf(now, sizeof now, "%s/%s", status != NULL ? status : "?",
           refunded != NULL ? refunded : "0");
  char *text = NULL;
  if (pub != NULL && strcmp(now, st->last) != 0) {
    text = json_dumps(pub, JSON_COMPACT | JSON_SORT_KEYS);
    rc = text != NULL ? qp_http_sse_frame(out, "order", NULL, text) : QP_ENOMEM;
    if (rc == 0) {
      memcpy(st->last, now, sizeof now);
      st->done = status != NULL && final_status(status);
    }
  } else if (pub == NULL) rc = QP_ENOMEM;
  qp_http_json_free(text);
  json_decref(pub);
  return rc;
}

/* Waits up to wait_ms for a committed change after st->gen. */
static void wait_change(order_stream_t *st, uint32_t wait_ms) {
  qp__pay_t *p = st->p;
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += wait_ms / 1000;
  until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&p->change_lock);
  int rc = 0;
  while (p->change_gen == st->gen && rc == 0)
    rc = pthread_cond_timedwait(&p->change_cond, &p->change_lock, &until);
  st->gen = p->change_gen;
  pthread_mutex_unlock(&p->change_lock);
}

static int next(void *ctx, qp_buf_t *out, uint32_t wait_ms) {
  order_stream_t *st = ctx;
  if (st->done) return QP_ESTOPPED; /* the final frame went out with the last call */
  size_t before = out->len;
  int rc = look(st, out);
  if (rc == 0 && out->len == before && !st->done) {
    wait_change(st, wait_ms);
    rc = look(st, out);
  }
  return rc;
}

static void release(void *ctx) { qp_free(ctx); }

static const qp_http_stream_ops_t OPS = {next, release};

void qp__pay_orders_events(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_t *p = ctx;
  qp__pay_caller_t caller;
  json_t *o = NULL;
  order_stream_t *st = qp_calloc(1, sizeof *st);
  if (st == NULL) {
    qp_http_reply_fail(r, 500, "internal", "", "out of memory");
    return;
  }
  if (!qp__pay_caller(p, req, r, false, &caller) ||
      !qp__pay_order_load(p, req, r, &caller, st->id, &o)) {
    qp_free(st);
    return;
  }
  json_decref(o);
  st->p = p;
  pthread_mutex_lock(&p->change_lock);
  st->gen = p->change_gen;
  pthread_mutex_unlock(&p->change_lock);
  qp_http_reply_stream(r, &OPS, st);
}
