/*
 * pb_flow.c - the lanes: cfg->lanes threads, each with its own keep-alive
 * connection (a libcurl easy handle), item i on lane i % lanes, each lane's
 * items in order.  Users are a multiple of lanes and order i is paid by
 * user i % users, so a user's orders share a lane and its passkey's
 * signCount rises in the order the node sees.  An order's steps are those
 * of a shop and a wallet (pay_bench.h); a transfer is one POST
 * /v1/transfers of one simple transfer.  Any unexpected answer stops every
 * lane and is printed: the run fails.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pay_bench.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"

#define POLLS_MAX 2000u /* GETs of an order before giving up on "paid" */

typedef struct run {
  const pb_config_t *cfg;   /* flags */
  const qb_node_t *n;       /* the node */
  pb_user_t *users;         /* payers */
  const char *merchant_id;  /* the merchant */
  pb_order_t *orders;       /* the phase's orders (PAY) */
  uint32_t count;           /* items of the phase */
  pb_phase_t phase;         /* what each item is */
  _Atomic int failed;       /* the first failure, 0 = none */
} run_t;

typedef struct lane {
  run_t *r;     /* the run */
  uint32_t i;   /* the lane's index */
} lane_t;

int pb_expect(void *e, const qb_node_t *n, const char *method, const char *path,
              json_t *body, long want, json_t **out) {
  long code = 0;
  int rc = qb_node_call(e, n, method, path, body, out, &code);
  json_decref(body);
  if (rc == 0 && code == want) return 0;
  char *text = *out != NULL ? json_dumps(*out, JSON_COMPACT) : NULL;
  fprintf(stderr, "payments-bench: %s %s answered %ld: %.300s\n", method, path, code,
          text != NULL ? text : "");
  free(text); /* jansson's allocation */
  return QP_EIO;
}

static const char *field(json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

/* POST /v1/orders, then the wallet's intent for it: the intent in *intent. */
static int order_and_intent(void *e, run_t *r, pb_order_t *o, json_t **intent) {
  const pb_user_t *u = &r->users[o->user];
  char amount[24], payer[24], settlement[24];
  snprintf(amount, sizeof amount, "%llu", (unsigned long long)o->amount);
  snprintf(payer, sizeof payer, "%llu", (unsigned long long)u->account);
  snprintf(settlement, sizeof settlement, "%u", PB_SETTLEMENT_ACCOUNT);
  json_t *order = NULL;
  int rc = pb_expect(e, r->n, "POST", "/v1/orders",
                  json_pack("{s:s, s:s, s:i, s:s}", "merchant_id", r->merchant_id, "amount",
                            amount, "ledger", PB_LEDGER, "currency", "USD"),
                  200, &order);
  const char *id = field(order, "id");
  if (rc == 0 && id == NULL) rc = QP_EIO;
  if (rc == 0) snprintf(o->id, sizeof o->id, "%s", id);
  json_decref(order);
  if (rc != 0) return rc;
  return pb_expect(e, r->n, "POST", "/v1/payment-intents",
                json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s}", "user_id", u->id,
                          "debit_account_id", payer, "credit_account_id", settlement, "amount",
                          amount, "ledger", PB_LEDGER, "currency", "USD", "payee_name",
                          "Bench Shop", "order_id", o->id),
                200, intent);
}

/* The challenge, the passkey's assertion over it, the confirm. */
static int confirm(void *e, run_t *r, pb_order_t *o, const char *intent_id) {
  char path[128];
  json_t *ch = NULL, *done = NULL;
  snprintf(path, sizeof path, "/v1/payment-intents/%s/challenge", intent_id);
  int rc = pb_expect(e, r->n, "POST", path, json_object(), 200, &ch);
  json_t *pk = json_object_get(ch, "publicKey");
  const char *challenge = field(pk, "challenge"), *rp_id = field(pk, "rpId");
  char *body = NULL;
  if (rc == 0)
    rc = challenge != NULL && rp_id != NULL
             ? qb_authn_confirm_body(&r->users[o->user].authn, r->n->origin, challenge, rp_id,
                                     false, &body)
             : QP_EIO;
  snprintf(path, sizeof path, "/v1/payment-intents/%s/confirm", intent_id);
  if (rc == 0) rc = pb_expect(e, r->n, "POST", path, json_loads(body, 0, NULL), 200, &done);
  const char *status = field(done, "status");
  if (rc == 0 && (status == NULL || strcmp(status, "succeeded") != 0)) {
    fprintf(stderr, "payments-bench: intent %s confirmed as %s\n", intent_id,
            status != NULL ? status : "?");
    rc = QP_EIO;
  }
  qp_free(body);
  json_decref(ch);
  json_decref(done);
  return rc;
}

/* GET /v1/orders/{id} until it reads paid (with its amount). */
static int until_paid(void *e, run_t *r, pb_order_t *o) {
  char path[96], amount[24];
  snprintf(path, sizeof path, "/v1/orders/%s", o->id);
  snprintf(amount, sizeof amount, "%llu", (unsigned long long)o->amount);
  for (o->polls = 1; o->polls <= POLLS_MAX; o->polls++) {
    json_t *got = NULL;
    int rc = pb_expect(e, r->n, "GET", path, NULL, 200, &got);
    const char *status = field(got, "status"), *have = field(got, "amount");
    o->paid = rc == 0 && status != NULL && strcmp(status, "paid") == 0 && have != NULL &&
              strcmp(have, amount) == 0;
    json_decref(got);
    if (rc != 0 || o->paid) return rc;
  }
  fprintf(stderr, "payments-bench: order %s not paid after %u reads\n", o->id, POLLS_MAX);
  return QP_EIO;
}

static int pay_one(void *e, run_t *r, pb_order_t *o) {
  uint64_t t0 = qp_clock_mono_ns();
  json_t *intent = NULL;
  int rc = order_and_intent(e, r, o, &intent);
  const char *intent_id = field(intent, "id");
  if (rc == 0) rc = intent_id != NULL ? confirm(e, r, o, intent_id) : QP_EIO;
  json_decref(intent);
  if (rc == 0) rc = until_paid(e, r, o);
  o->flow_ns = qp_clock_mono_ns() - t0;
  return rc;
}

static int transfer_one(void *e, run_t *r, uint32_t i) {
  char id[24], debit[24], credit[24];
  snprintf(id, sizeof id, "%llu", 3000000000ull + i);
  snprintf(debit, sizeof debit, "%u", PB_RAW_DEBIT);
  snprintf(credit, sizeof credit, "%u", PB_RAW_CREDIT);
  json_t *body = json_pack("[{s:s, s:s, s:s, s:s, s:i, s:i, s:[]}]", "id", id,
                           "debit_account_id", debit, "credit_account_id", credit, "amount",
                           "1", "ledger", PB_LEDGER, "code", 1, "flags");
  return body != NULL ? qb_node_post_events(e, r->n, "/v1/transfers", body) : QP_ENOMEM;
}

static void *lane_main(void *arg) {
  lane_t *l = arg;
  run_t *r = l->r;
  CURL *e = curl_easy_init();
  int rc = e != NULL ? 0 : QP_ENOMEM;
  for (uint32_t i = l->i; rc == 0 && i < r->count; i += r->cfg->lanes) {
    if (atomic_load(&r->failed) != 0) break;
    rc = r->phase == PB_PHASE_PAY        ? pay_one(e, r, &r->orders[i])
         : r->phase == PB_PHASE_ENROLL   ? pb_enroll_one(e, r->n, r->users, &r->orders[i])
         : r->phase == PB_PHASE_COLLECT  ? pb_collect_one(e, r->n, r->merchant_id, &r->orders[i])
                                         : transfer_one(e, r, i);
  }
  int none = 0;
  if (rc != 0) atomic_compare_exchange_strong(&r->failed, &none, rc);
  curl_easy_cleanup(e);
  return NULL;
}

int pb_run(const pb_config_t *cfg, const qb_node_t *n, pb_user_t *users, const char *merchant_id,
           pb_order_t *orders, uint32_t count, pb_phase_t phase, uint64_t *elapsed_ns) {
  run_t r = {.cfg = cfg, .n = n, .users = users, .merchant_id = merchant_id, .orders = orders,
             .count = count, .phase = phase};
  pthread_t threads[PB_LANES_MAX];
  lane_t lanes[PB_LANES_MAX];
  uint32_t started = 0;
  uint64_t t0 = qp_clock_mono_ns();
  for (; started < cfg->lanes; started++) {
    lanes[started] = (lane_t){.r = &r, .i = started};
    if (pthread_create(&threads[started], NULL, lane_main, &lanes[started]) != 0) {
      atomic_store(&r.failed, QP_ENOMEM);
      break;
    }
  }
  for (uint32_t i = 0; i < started; i++) pthread_join(threads[i], NULL);
  *elapsed_ns = qp_clock_mono_ns() - t0;
  return atomic_load(&r.failed);
}
