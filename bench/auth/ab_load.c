/*
 * ab_load.c - payments over HTTP: libcurl's multi interface in one thread,
 * one keep-alive connection per lane, each lane taking its payments in
 * order (payment i on lane i % lanes; user i % users, and users are a
 * multiple of lanes, so a user's payments share a lane and its signCount
 * rises in the order the node sees them).  A payment's steps: POST
 * /v1/payment-intents, POST .../challenge, the authenticator signs an
 * assertion over the challenge the node returned, POST .../confirm.  The
 * phase says which of them run (auth_bench.h).  Any answer other than the
 * expected one stops the phase and is printed: the run fails.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_bench.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"

#define NONE UINT32_MAX

typedef enum step { STEP_INTENT, STEP_CHALLENGE, STEP_CONFIRM } step_t;

/* One connection and the payment it is working on. */
typedef struct lane {
  CURL *e;          /* its easy handle (keep-alive) */
  uint32_t next;    /* the next payment it takes */
  uint32_t cur;     /* the payment in progress, or NONE */
  step_t step;      /* cur's step in flight */
  char body[512];   /* the intent or challenge request body */
  qp_buf_t resp;    /* the answer */
} lane_t;

typedef struct run {
  const qab_config_t *cfg;   /* flags */
  const qab_node_t *n;       /* the node */
  qab_user_t *users;         /* payers */
  qab_pay_t *pays;           /* the phase's payments */
  uint32_t count;            /* of pays */
  qab_phase_t phase;         /* which steps run */
  CURLM *m;                  /* the multi handle */
  struct curl_slist *hdrs;   /* Authorization, Content-Type */
  lane_t *lanes;             /* cfg->lanes */
  uint32_t active;           /* requests in flight */
  int failed;                /* the first failure, 0 = none */
} run_t;

static size_t on_body(char *p, size_t size, size_t count, void *ctx) {
  return qp_buf_append(ctx, p, size * count) ? size * count : 0;
}

/* Hands lane's request for its current step to curl. */
static void send_step(run_t *r, lane_t *l) {
  qab_pay_t *p = &r->pays[l->cur];
  char url[200];
  const char *body = l->body;
  if (l->step == STEP_INTENT) {
    const qab_user_t *u = &r->users[p->user];
    snprintf(url, sizeof url, "%s/v1/payment-intents", r->n->url);
    snprintf(l->body, sizeof l->body, "{\"user_id\":\"%s\",\"debit_account_id\":\"%llu\","
             "\"credit_account_id\":\"%u\",\"amount\":\"%llu\",\"ledger\":%u,\"currency\":"
             "\"USD\",\"payee_name\":\"Bench Shop\",\"order_id\":\"bench-%u-%u\","
             "\"expires_in_s\":600}", u->id, (unsigned long long)u->account,
             QAB_MERCHANT_ACCOUNT, (unsigned long long)p->amount, QAB_LEDGER, r->phase,
             l->cur);
    p->start_ns = qp_clock_mono_ns();
  } else {
    snprintf(url, sizeof url, "%s/v1/payment-intents/%s/%s", r->n->url, p->intent,
             l->step == STEP_CHALLENGE ? "challenge" : "confirm");
    if (l->step == STEP_CHALLENGE) snprintf(l->body, sizeof l->body, "{}");
    else body = p->confirm_body;
  }
  qp_buf_reset(&l->resp);
  curl_easy_setopt(l->e, CURLOPT_URL, url);
  curl_easy_setopt(l->e, CURLOPT_POSTFIELDS, body);
  if (l->step == STEP_CONFIRM) p->confirm_start_ns = qp_clock_mono_ns();
  if (curl_multi_add_handle(r->m, l->e) != CURLM_OK) r->failed = QP_EIO;
  else r->active++;
}

/* The lane's next payment, if any is left and nothing failed. */
static void start_next(run_t *r, lane_t *l) {
  l->cur = NONE;
  if (r->failed != 0 || l->next >= r->count) return;
  l->cur = l->next;
  l->next += r->cfg->lanes;
  l->step = r->phase == QAB_PHASE_CONFIRM ? STEP_CONFIRM : STEP_INTENT;
  send_step(r, l);
}

/* Signs an assertion over the node's challenge and keeps the confirm
 * request on the payment. */
static int sign_confirm(run_t *r, qab_pay_t *p, const char *challenge, const char *rp_id) {
  qp_free(p->confirm_body);
  return qb_authn_confirm_body(&r->users[p->user].authn, r->n->origin, challenge, rp_id, false,
                          &p->confirm_body);
}

/* Takes what the step's answer carries; false when it is not what a
 * payment that goes right gets. */
static bool take_answer(run_t *r, lane_t *l, const json_t *a) {
  qab_pay_t *p = &r->pays[l->cur];
  if (l->step == STEP_INTENT) {
    const char *id = json_string_value(json_object_get(a, "id"));
    const char *tid = json_string_value(json_object_get(a, "transfer_id"));
    if (id == NULL || tid == NULL) return false;
    snprintf(p->intent, sizeof p->intent, "%s", id);
    snprintf(p->transfer_id, sizeof p->transfer_id, "%s", tid);
    return true;
  }
  if (l->step == STEP_CHALLENGE) {
    const json_t *pk = json_object_get(a, "publicKey");
    const char *ch = json_string_value(json_object_get(pk, "challenge"));
    const char *rp = json_string_value(json_object_get(pk, "rpId"));
    return ch != NULL && rp != NULL && sign_confirm(r, p, ch, rp) == 0;
  }
  const char *status = json_string_value(json_object_get(a, "status"));
  if (status == NULL || strcmp(status, "succeeded") != 0) return false;
  uint64_t now = qp_clock_mono_ns();
  p->confirm_ns = now - p->confirm_start_ns;
  p->flow_ns = r->phase == QAB_PHASE_FLOW ? now - p->start_ns : 0;
  p->confirmed = true;
  r->users[p->user].paid += p->amount;
  return true;
}

/* A request of lane finished: the next step, the next payment, or failure. */
static void on_done(run_t *r, lane_t *l, CURLcode res) {
  static const char *const names[] = {"intent", "challenge", "confirm"};
  long code = 0;
  r->active--;
  curl_multi_remove_handle(r->m, l->e);
  if (res == CURLE_OK) curl_easy_getinfo(l->e, CURLINFO_RESPONSE_CODE, &code);
  json_t *a = code == 200 ? json_loadb(l->resp.data, l->resp.len, 0, NULL) : NULL;
  bool ok = a != NULL && take_answer(r, l, a);
  json_decref(a);
  if (!ok) {
    if (r->failed == 0)
      fprintf(stderr, "auth-bench: payment %u, %s: %s, HTTP %ld: %.300s\n", l->cur,
              names[l->step], curl_easy_strerror(res), code, l->resp.data ? l->resp.data : "");
    r->failed = QP_EIO;
    l->cur = NONE;
    return;
  }
  bool more = l->step == STEP_INTENT ||
              (l->step == STEP_CHALLENGE && r->phase == QAB_PHASE_FLOW);
  if (!more) {
    start_next(r, l);
    return;
  }
  l->step = l->step == STEP_INTENT ? STEP_CHALLENGE : STEP_CONFIRM;
  send_step(r, l);
}

static int lanes_init(run_t *r) {
  r->hdrs = curl_slist_append(NULL, r->n->auth);
  r->hdrs = curl_slist_append(r->hdrs, "Content-Type: application/json");
  r->lanes = qp_calloc(r->cfg->lanes, sizeof *r->lanes);
  r->m = curl_multi_init();
  if (r->hdrs == NULL || r->lanes == NULL || r->m == NULL) return QP_ENOMEM;
  for (uint32_t i = 0; i < r->cfg->lanes; i++) {
    lane_t *l = &r->lanes[i];
    l->next = i;
    l->cur = NONE;
    l->resp.max = QAB_BODY_MAX;
    l->e = curl_easy_init();
    if (l->e == NULL) return QP_ENOMEM;
    curl_easy_setopt(l->e, CURLOPT_HTTPHEADER, r->hdrs);
    curl_easy_setopt(l->e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(l->e, CURLOPT_WRITEDATA, &l->resp);
    curl_easy_setopt(l->e, CURLOPT_PRIVATE, l);
    curl_easy_setopt(l->e, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(l->e, CURLOPT_TCP_NODELAY, 1L);
  }
  return 0;
}

static void lanes_free(run_t *r) {
  for (uint32_t i = 0; r->lanes != NULL && i < r->cfg->lanes; i++) {
    lane_t *l = &r->lanes[i];
    if (l->e != NULL && l->cur != NONE) curl_multi_remove_handle(r->m, l->e);
    if (l->e != NULL) curl_easy_cleanup(l->e);
    qp_buf_free(&l->resp);
  }
  if (r->m != NULL) curl_multi_cleanup(r->m);
  curl_slist_free_all(r->hdrs);
  qp_free(r->lanes);
}

/* Drives curl until no request is in flight. */
static void pump(run_t *r) {
  while (r->active > 0) {
    int running = 0, left = 0;
    if (curl_multi_perform(r->m, &running) != CURLM_OK) {
      r->failed = QP_EIO;
      return;
    }
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(r->m, &left)) != NULL) {
      if (msg->msg != CURLMSG_DONE) continue;
      lane_t *l = NULL;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&l);
      on_done(r, l, msg->data.result);
    }
    if (r->active > 0) curl_multi_poll(r->m, NULL, 0, 100, NULL);
  }
}

int qab_load_run(const qab_config_t *cfg, const qab_node_t *n, qab_user_t *users,
                 qab_pay_t *pays, uint32_t count, qab_phase_t phase, uint64_t *elapsed_ns) {
  run_t r = {.cfg = cfg, .n = n, .users = users, .pays = pays, .count = count, .phase = phase};
  int rc = lanes_init(&r);
  uint64_t t0 = qp_clock_mono_ns();
  for (uint32_t i = 0; rc == 0 && i < cfg->lanes && r.failed == 0; i++)
    start_next(&r, &r.lanes[i]);
  if (rc == 0) pump(&r);
  *elapsed_ns = qp_clock_mono_ns() - t0;
  lanes_free(&r);
  return rc != 0 ? rc : r.failed;
}
