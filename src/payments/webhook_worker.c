/*
 * webhook_worker.c - delivers the event journal (the outbox) to webhook
 * endpoints from one background thread.  Each endpoint has a cursor: the
 * last event sequence it acknowledged (or that it does not want).  The
 * worker posts the next wanted event after the cursor, signed
 * (webhook_sign.c), and records the attempt in the delivery log together
 * with the endpoint's new state in one LMDB transaction:
 *
 *   2xx   the cursor moves to the event: the next one goes out;
 *   else  the same event is tried again after the backoff
 *         (webhook_retry_base_ms doubling up to webhook_retry_cap_ms); an
 *         endpoint failing for webhook_disable_after_s is disabled with the
 *         reason.
 *
 * One event at a time per endpoint, in sequence order: deliveries are
 * ordered (per object too).  While some endpoint's cursor moves the worker
 * goes round again at once; it sleeps (IDLE_MS, or until an event is
 * written) only when nothing was delivered.  The cursor moves only after a 2xx, and both
 * live in LMDB: a crash may deliver an event again (at-least-once;
 * receivers dedupe on its id) but never loses one.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <sys/socket.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "payments/payments_int.h"

#define IDLE_MS 50 /* how long the worker sleeps when nothing is due */

static uint64_t now_ms(void) { return qp_clock_wall_ns() / 1000000u; }

bool qp__pay_webhook_wants(const json_t *wh, const json_t *ev) {
  const char *type = json_string_value(json_object_get(ev, "type"));
  const json_t *mid = json_object_get(wh, "merchant_id");
  bool typed = false;
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(wh, "events"), i, e) {
    const char *want = json_string_value(e);
    typed |= want != NULL && type != NULL && (strcmp(want, "*") == 0 || strcmp(want, type) == 0);
  }
  if (!typed || !json_is_string(mid)) return typed;
  const json_t *obj = json_object_get(ev, "object");
  const char *om = json_string_value(json_object_get(obj, "merchant_id"));
  return om != NULL && strcmp(om, json_string_value(mid)) == 0;
}

/* The next event after wh's cursor that it wants (*ev, or NULL), and the
 * last sequence looked at (*last). */
static int next_event(qp__pay_t *p, const json_t *wh, json_t **ev, uint64_t *last) {
  MDB_txn *txn = NULL;
  MDB_cursor *cur = NULL;
  uint64_t seq = (uint64_t)json_integer_value(json_object_get(wh, "cursor")) + 1;
  uint8_t key[8];
  *ev = NULL;
  *last = seq - 1;
  int rc = qp_kv_read_begin(p->kv, p->events, &txn, &cur);
  if (rc != 0) return rc;
  for (int i = 7; i >= 0; i--, seq >>= 8) key[i] = (uint8_t)seq;
  MDB_val k = {8, key}, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  for (uint32_t n = 0; rc == 0 && n < QP_PAY_WEBHOOK_SCAN_MAX; n++) {
    json_t *e = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    if (e == NULL || k.mv_size != 8) {
      json_decref(e);
      rc = QP_ECORRUPT;
      break;
    }
    if (qp__pay_webhook_wants(wh, e)) {
      *ev = e;
      break;
    }
    json_decref(e);
    uint64_t s = 0;
    for (int i = 0; i < 8; i++) s = (s << 8) | ((const uint8_t *)k.mv_data)[i];
    *last = s; /* not wanted: the cursor may pass it */
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  qp_kv_read_end(p->kv, txn, cur);
  return rc == 0 || rc == MDB_NOTFOUND ? 0 : qp_kv_err(rc);
}

/* The delivery's body: {"id","type","created","data":{"object":…}}. */
static char *event_body(const json_t *ev) {
  char id[32];
  snprintf(id, sizeof id, "evt_%016llx",
           (unsigned long long)json_integer_value(json_object_get(ev, "seq")));
  json_t *b = json_pack("{s:s, s:O, s:O, s:{s:O}}", "id", id, "type", json_object_get(ev, "type"),
                        "created", json_object_get(ev, "created"), "data", "object",
                        json_object_get(ev, "object"));
  char *text = b != NULL ? json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(b);
  return text;
}

static size_t discard(char *ptr, size_t size, size_t n, void *ctx) {
  (void)ptr;
  (void)ctx;
  return size * n;
}

/* curl's socket callback: the last check of the address it is about to
 * connect to (webhook_target.c), whatever resolved it. */
static curl_socket_t open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *address) {
  uint32_t allow = *(const uint32_t *)ctx;
  const struct sockaddr *sa = &address->addr;
  const void *a = sa->sa_family == AF_INET
                      ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                      : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
  if (purpose != CURLSOCKTYPE_IPCXN ||
      (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
      !qp__pay_addr_allowed(qp__pay_addr_class(sa->sa_family, a), allow))
    return CURL_SOCKET_BAD; /* curl reports "Couldn't connect" */
  return socket(address->family, address->socktype, address->protocol);
}

/* POSTs body to url with its signature: the HTTP status (0: none) and, on
 * a transport failure or a target not allowed, why. */
static long post(const char *url, uint32_t allow, const char *secret, const char *body,
                 char *error, size_t error_size) {
  char sig[160], header[200];
  long status = 0;
  struct curl_slist *pin = NULL;
  if (qp__pay_webhook_pin(url, allow, &pin, error, error_size) != 0) return 0;
  CURL *c = curl_easy_init();
  if (c == NULL || qp__pay_webhook_signature(secret, (int64_t)(now_ms() / 1000), body,
                                             strlen(body), sig, sizeof sig) != 0) {
    snprintf(error, error_size, "cannot start the request");
    curl_easy_cleanup(c);
    curl_slist_free_all(pin);
    return 0;
  }
  curl_easy_setopt(c, CURLOPT_RESOLVE, pin); /* connect to the addresses checked */
  curl_easy_setopt(c, CURLOPT_PROXY, "");    /* never through a proxy from the environment */
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &allow);
  snprintf(header, sizeof header, "Quipu-Signature: %s", sig);
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  h = curl_slist_append(h, header);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)QP_PAY_WEBHOOK_TIMEOUT_S);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "quipu-webhooks/1");
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  else snprintf(error, error_size, "%s", curl_easy_strerror(rc));
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  curl_slist_free_all(pin);
  return status;
}

/* The endpoint after an attempt on event seq: moved on, or waiting to
 * retry (disabled when failing too long). */
static void after_attempt(const qp__pay_t *p, json_t *wh, uint64_t seq, bool ok,
                          const char *why, uint64_t t) {
  if (ok) {
    json_object_set_new(wh, "cursor", json_integer((json_int_t)seq));
    json_object_set_new(wh, "attempts", json_integer(0));
    json_object_set_new(wh, "next_attempt_ms", json_integer(0));
    json_object_set_new(wh, "failing_since_ms", json_integer(0));
    return;
  }
  json_int_t attempts = json_integer_value(json_object_get(wh, "attempts")) + 1;
  json_int_t since = json_integer_value(json_object_get(wh, "failing_since_ms"));
  if (since == 0) since = (json_int_t)t;
  uint64_t wait = qp__pay_webhook_backoff_ms((uint32_t)attempts, p->settings.webhook_retry_base_ms,
                                             p->settings.webhook_retry_cap_ms);
  json_object_set_new(wh, "attempts", json_integer(attempts));
  json_object_set_new(wh, "failing_since_ms", json_integer(since));
  json_object_set_new(wh, "next_attempt_ms", json_integer((json_int_t)(t + wait)));
  if (t - (uint64_t)since >= (uint64_t)p->settings.webhook_disable_after_s * 1000u) {
    char reason[300];
    snprintf(reason, sizeof reason, "deliveries failed for %u s (%lld attempts); last: %s",
             p->settings.webhook_disable_after_s, (long long)attempts, why);
    json_object_set_new(wh, "status", json_string("disabled"));
    json_object_set_new(wh, "disabled_reason", json_string(reason));
  }
}

/* Writes the attempt's log record and the endpoint, unless it was deleted
 * meanwhile. */
static int record(qp__pay_t *p, const uint8_t id[QP_PAY_ID_SIZE], json_t *wh, json_t *log,
                  uint64_t seq, uint32_t attempt) {
  uint8_t key[QP_PAY_ID_SIZE + 12];
  memcpy(key, id, QP_PAY_ID_SIZE);
  for (int i = 7; i >= 0; i--, seq >>= 8) key[QP_PAY_ID_SIZE + i] = (uint8_t)seq;
  for (int i = 3; i >= 0; i--, attempt >>= 8) key[QP_PAY_ID_SIZE + 8 + i] = (uint8_t)attempt;
  char *wt = json_dumps(wh, JSON_COMPACT | JSON_SORT_KEYS);
  char *lt = log != NULL ? json_dumps(log, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  int rc = wt != NULL && (log == NULL || lt != NULL) ? 0 : QP_ENOMEM;
  json_t *still = NULL;
  pthread_mutex_lock(&p->webhook_lock);
  if (rc == 0) rc = qp__pay_store_get_json(p, p->webhooks, id, QP_PAY_ID_SIZE, &still);
  if (rc == 0) {
    qp__pay_put_t puts[2] = {{p->webhooks, id, QP_PAY_ID_SIZE, wt, strlen(wt), false, false},
                             {p->deliveries, key, sizeof key, lt, lt ? strlen(lt) : 0, false,
                              false}};
    qp__pay_change_t c = {puts, log != NULL ? 2 : 1, NULL, NULL, NULL, 0, NULL, NULL, NULL};
    rc = qp__pay_store_write(p, &c);
  }
  pthread_mutex_unlock(&p->webhook_lock);
  json_decref(still);
  qp_http_json_free(wt);
  qp_http_json_free(lt);
  return rc;
}

static json_t *attempt_log(const json_t *ev, uint32_t attempt, long status, const char *error,
                           uint64_t started, uint64_t t) {
  char id[32];
  snprintf(id, sizeof id, "evt_%016llx",
           (unsigned long long)json_integer_value(json_object_get(ev, "seq")));
  return json_pack("{s:s, s:s, s:O, s:i, s:s, s:I, s:s?, s:o, s:I}", "object", "delivery",
                   "event_id", id, "type", json_object_get(ev, "type"), "attempt", (int)attempt,
                   "outcome", status >= 200 && status < 300 ? "succeeded" : "failed",
                   "http_status", (json_int_t)status, "error", error[0] ? error : NULL,
                   "at", qp__pay_time_json((int64_t)(t / 1000)), "duration_ms",
                   (json_int_t)(t - started));
}

/* One step for endpoint id: deliver its next event when due.  True when
 * the endpoint's cursor moved (an event delivered or passed over), so that
 * more may be due at once. */
static bool serve_endpoint(qp__pay_t *p, const uint8_t id[QP_PAY_ID_SIZE]) {
  bool moved = false;
  json_t *wh = NULL, *ev = NULL;
  uint64_t last = 0, t = now_ms();
  if (qp__pay_store_get_json(p, p->webhooks, id, QP_PAY_ID_SIZE, &wh) != 0) return false;
  const char *status = json_string_value(json_object_get(wh, "status"));
  bool due = status != NULL && strcmp(status, "enabled") == 0 &&
             (uint64_t)json_integer_value(json_object_get(wh, "next_attempt_ms")) <= t;
  if (due && next_event(p, wh, &ev, &last) == 0) {
    uint64_t cursor = (uint64_t)json_integer_value(json_object_get(wh, "cursor"));
    if (ev == NULL && last > cursor) { /* only unwanted events: pass them */
      json_object_set_new(wh, "cursor", json_integer((json_int_t)last));
      moved = record(p, id, wh, NULL, 0, 0) == 0;
    } else if (ev != NULL) {
      char *body = event_body(ev), error[200] = "";
      uint32_t attempt = (uint32_t)json_integer_value(json_object_get(wh, "attempts")) + 1;
      long code = body != NULL ? post(json_string_value(json_object_get(wh, "url")),
                                      QP__PAY_ALLOW_OF(p),
                                      json_string_value(json_object_get(wh, "secret")), body,
                                      error, sizeof error) : 0;
      uint64_t end = now_ms();
      bool ok = code >= 200 && code < 300;
      if (!ok && error[0] == '\0') snprintf(error, sizeof error, "HTTP %ld", code);
      json_t *log = attempt_log(ev, attempt, code, ok ? "" : error, t, end);
      uint64_t seq = (uint64_t)json_integer_value(json_object_get(ev, "seq"));
      after_attempt(p, wh, seq, ok, error, end);
      atomic_fetch_add(ok ? &p->deliveries_ok : &p->deliveries_failed, 1);
      if (record(p, id, wh, log, seq, attempt) != 0)
        QP_LOG_WARN("payments", "cannot record a webhook delivery; it will be retried");
      else moved = ok;
      json_decref(log);
      qp_http_json_free(body);
    }
  }
  json_decref(ev);
  json_decref(wh);
  return moved;
}

static void *worker_main(void *arg) {
  static uint8_t ids[QP_PAY_WEBHOOKS_MAX][QP_PAY_ID_SIZE]; /* only this thread uses it */
  qp__pay_t *p = arg;
  pthread_mutex_lock(&p->worker_lock);
  while (!p->stopping) {
    pthread_mutex_unlock(&p->worker_lock);
    uint32_t n = 0;
    bool moved = false;
    if (qp__pay_store_keys(p, p->webhooks, NULL, QP_PAY_ID_SIZE, &ids[0][0],
                           QP_PAY_WEBHOOKS_MAX, &n) == 0)
      for (uint32_t i = 0; i < n; i++) moved |= serve_endpoint(p, ids[i]);
    pthread_mutex_lock(&p->worker_lock);
    if (moved) continue; /* a backlog (after a restart, a burst) drains at once, not one
                            event per endpoint every IDLE_MS */
    pthread_mutex_unlock(&p->worker_lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += IDLE_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->worker_lock);
    if (!p->stopping) pthread_cond_timedwait(&p->worker_wake, &p->worker_lock, &until);
  }
  pthread_mutex_unlock(&p->worker_lock);
  return NULL;
}

int qp__pay_worker_start(qp__pay_t *p) {
  if (pthread_create(&p->worker, NULL, worker_main, p) != 0) return QP_ENOMEM;
  p->worker_started = true;
  return 0;
}

void qp__pay_worker_stop(qp__pay_t *p) {
  if (!p->worker_started) return;
  pthread_mutex_lock(&p->worker_lock);
  p->stopping = true;
  pthread_cond_signal(&p->worker_wake);
  pthread_mutex_unlock(&p->worker_lock);
  pthread_join(p->worker, NULL);
  p->worker_started = false;
}
