/*
 * client_load.c - `quipu client load`: measures the server over HTTP the
 * way a bank's integration would use it.  Each of N threads keeps one
 * keep-alive connection and sends create-transfer batches back to back
 * (each transfer a fresh id, between two of a set of accounts), checks that
 * every request got 200 and every event "ok", and records the latency of
 * each request.  At the end it prints requests/s, transfers/s and the
 * p50/p99/max latency.
 *
 * With --binary the same batches go as 128-byte records over the ledger's
 * binary protocol (docs/binary.md), one connection per thread; a reply
 * with an empty body means every event was ok.
 *
 * With --rate R the load is open: connection i sends its k-th request at
 * start + (k x connections + i) / R seconds and a request's latency counts
 * from that scheduled time, not from when it could be sent, so a server
 * that falls behind shows its queue in the percentiles (a closed loop
 * would slow down with it and hide it: coordinated omission).  The report
 * says how many requests left more than 1 ms after their time.
 *
 * Bodies are formatted with snprintf into a per-thread buffer and answers
 * are checked by counting "result":"ok" rather than parsing JSON, so the
 * generator spends as little CPU as possible: on a small machine it shares
 * the cores with the server it measures.
 */
#include "cli/client_load.h"
#include "cli/client_binary.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/rng.h"

#define LOAD_SAMPLES_MAX (1u << 22) /* latencies kept per thread, at most */
#define LOAD_TRANSFER_JSON_MAX 200u /* bytes of one formatted transfer */
#define LOAD_RESPONSE_BYTES_MAX (8u << 20)
#define LOAD_LEDGER 77u

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
  return qp_buf_append(userdata, ptr, size * nmemb) ? size * nmemb : 0;
}

typedef struct load_shared {
  const qp_cli_load_options_t *o; /* options */
  uint64_t id_base;               /* random, so runs never collide */
  _Atomic uint64_t next_id;       /* transfer ids handed out */
  uint64_t account_base;          /* first account id */
  uint64_t start_ns;              /* when the threads start sending */
  uint64_t stop_ns;               /* when the threads stop sending */
  _Atomic uint64_t failures;      /* requests that were not 200/all ok */
} load_shared_t;

typedef struct load_thread {
  load_shared_t *shared; /* common state */
  uint32_t index;        /* its place among the connections (the open loop's phase) */
  uint64_t sent;         /* requests sent (the open loop's k) */
  uint64_t late;         /* ... of them sent more than 1 ms after their scheduled time */
  pthread_t thread;      /* the sender */
  qp_rng_t rng;          /* for account choice */
  uint64_t *samples_ns;  /* request latencies */
  uint32_t samples;      /* how many */
  uint32_t samples_cap;  /* room in samples_ns */
  uint64_t transfers;    /* transfers acknowledged ok */
} load_thread_t;

/* A handle for one keep-alive connection; trusts o->cacert for https. */
static CURL *new_handle(const qp_cli_load_options_t *o) {
  CURL *curl = curl_easy_init();
  if (curl != NULL && o->cacert != NULL) curl_easy_setopt(curl, CURLOPT_CAINFO, o->cacert);
  return curl;
}

/* POSTs body to url with the handle's connection; 0 when 200 and `expect`
 * events are ok. */
static int post(CURL *curl, const char *url, struct curl_slist *headers, const char *body,
                size_t len, qp_buf_t *resp, uint32_t expect) {
  qp_buf_reset(resp);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
  if (curl_easy_perform(curl) != CURLE_OK) return 1;
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200 || resp->data == NULL) return 1;
  uint32_t ok = 0;
  for (const char *p = resp->data; (p = strstr(p, "\"result\":\"ok\"")) != NULL; p += 13) ok++;
  return ok == expect ? 0 : 1;
}

static struct curl_slist *make_headers(const char *key) {
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip for big bodies */
  if (key != NULL) {
    char auth[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    h = curl_slist_append(h, auth);
  }
  return h;
}

/* Formats a batch of `n` transfers with fresh ids into buf. */
static size_t format_batch(load_thread_t *t, char *buf, size_t cap, uint32_t n) {
  load_shared_t *s = t->shared;
  uint64_t first = atomic_fetch_add(&s->next_id, n);
  size_t len = 0;
  buf[len++] = '[';
  for (uint32_t i = 0; i < n; i++) {
    uint32_t a = (uint32_t)qp_rng_below(&t->rng, s->o->accounts);
    uint32_t b = (a + 1 + (uint32_t)qp_rng_below(&t->rng, s->o->accounts - 1)) % s->o->accounts;
    int w =
        snprintf(buf + len, cap - len,
                 "%s{\"id\":\"%llu\",\"debit_account_id\":\"%llu\",\"credit_account_id\":\"%llu\","
                 "\"amount\":\"1\",\"ledger\":%u,\"code\":1}",
                 i ? "," : "", (unsigned long long)(s->id_base + first + i),
                 (unsigned long long)(s->account_base + a),
                 (unsigned long long)(s->account_base + b), LOAD_LEDGER);
    if (w < 0 || (size_t)w >= cap - len) return 0;
    len += (size_t)w;
  }
  buf[len++] = ']';
  buf[len] = '\0';
  return len;
}

/* Encodes a batch of n transfers with fresh ids into buf (n * 128 bytes). */
static void encode_batch(load_thread_t *t, uint8_t *buf, uint32_t n) {
  load_shared_t *s = t->shared;
  uint64_t first = atomic_fetch_add(&s->next_id, n);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t a = (uint32_t)qp_rng_below(&t->rng, s->o->accounts);
    uint32_t b = (a + 1 + (uint32_t)qp_rng_below(&t->rng, s->o->accounts - 1)) % s->o->accounts;
    qp_transfer_t tr = {.id = s->id_base + first + i,
                        .debit_account_id = s->account_base + a,
                        .credit_account_id = s->account_base + b,
                        .amount = 1,
                        .ledger = LOAD_LEDGER,
                        .code = 1};
    qp_transfer_encode(buf + (size_t)i * QP_BIN_RECORD_SIZE, &tr);
  }
}

/* The open loop's clock: waits until this thread's next request is due
 * and returns when it was due (closed loop: now).  0 once the run ends. */
static uint64_t next_due(load_thread_t *t) {
  const load_shared_t *s = t->shared;
  uint64_t now = qp_clock_mono_ns();
  if (s->o->rate == 0) return now < s->stop_ns ? now : 0;
  uint64_t step = ((uint64_t)t->sent * s->o->connections + t->index) * 1000000000ull;
  uint64_t due = s->start_ns + step / s->o->rate;
  if (due >= s->stop_ns) return 0;
  if (now < due) {
    struct timespec ts = {.tv_sec = (time_t)((due - now) / 1000000000ull),
                          .tv_nsec = (long)((due - now) % 1000000000ull)};
    nanosleep(&ts, NULL);
  } else if (now - due > 1000000ull) {
    t->late++;
  }
  t->sent++;
  return due;
}

static void *binary_main(void *arg) {
  load_thread_t *t = arg;
  load_shared_t *s = t->shared;
  uint32_t n = s->o->batch;
  uint8_t *body = qp_malloc((size_t)n * QP_BIN_RECORD_SIZE);
  qp_cli_bin_t b;
  int rc = body != NULL ? qp_cli_bin_open(&b, s->o->binary, s->o->key) : 1;
  if (rc != 0) atomic_fetch_add(&s->failures, 1);
  uint64_t t0 = 0;
  while (rc == 0 && t->samples < t->samples_cap && (t0 = next_due(t)) != 0) {
    encode_batch(t, body, n);
    int bad = qp_cli_bin_call(&b, QP_BIN_OP_CREATE_TRANSFERS, body, n * QP_BIN_RECORD_SIZE);
    t->samples_ns[t->samples++] = qp_clock_mono_ns() - t0;
    if (bad != 0 || b.h.body_len != 0)
      atomic_fetch_add(&s->failures, 1);
    else
      t->transfers += n;
    if (bad != 0) break; /* the connection is gone */
  }
  qp_cli_bin_close(&b);
  qp_free(body);
  return NULL;
}

/* Creates the accounts over the binary protocol. */
static int binary_accounts(load_shared_t *s) {
  const qp_cli_load_options_t *o = s->o;
  uint8_t *body = qp_malloc((size_t)o->accounts * QP_BIN_RECORD_SIZE);
  qp_cli_bin_t b;
  int rc = body != NULL ? qp_cli_bin_open(&b, o->binary, o->key) : 1;
  for (uint32_t i = 0; rc == 0 && i < o->accounts; i++) {
    qp_account_t a = {.id = s->account_base + i, .ledger = LOAD_LEDGER, .code = 1};
    qp_account_encode(body + (size_t)i * QP_BIN_RECORD_SIZE, &a);
  }
  if (rc == 0)
    rc = qp_cli_bin_call(&b, QP_BIN_OP_CREATE_ACCOUNTS, body, o->accounts * QP_BIN_RECORD_SIZE);
  if (rc == 0 && b.h.body_len != 0) rc = 1;
  if (rc != 0) fprintf(stderr, "quipu client load: cannot create the accounts\n");
  qp_cli_bin_close(&b);
  qp_free(body);
  return rc;
}

static void *load_main(void *arg) {
  load_thread_t *t = arg;
  load_shared_t *s = t->shared;
  uint32_t n = s->o->batch;
  size_t cap = (size_t)n * LOAD_TRANSFER_JSON_MAX + 16;
  char *body = qp_malloc(cap);
  qp_buf_t resp = {.max = LOAD_RESPONSE_BYTES_MAX};
  CURL *curl = new_handle(s->o);
  struct curl_slist *headers = make_headers(s->o->key);
  char url[1100];
  snprintf(url, sizeof url, "%s/v1/transfers", s->o->url);
  uint64_t t0 = 0;
  while (body != NULL && curl != NULL && t->samples < t->samples_cap &&
         (t0 = next_due(t)) != 0) {
    size_t len = format_batch(t, body, cap, n);
    int rc = post(curl, url, headers, body, len, &resp, n);
    t->samples_ns[t->samples++] = qp_clock_mono_ns() - t0;
    if (rc != 0)
      atomic_fetch_add(&s->failures, 1);
    else
      t->transfers += n;
  }
  curl_slist_free_all(headers);
  if (curl != NULL) curl_easy_cleanup(curl);
  qp_buf_free(&resp);
  qp_free(body);
  return NULL;
}

/* Creates the accounts the transfers move money between. */
static int create_accounts(load_shared_t *s) {
  const qp_cli_load_options_t *o = s->o;
  if (o->binary != NULL) return binary_accounts(s);
  size_t cap = (size_t)o->accounts * 96 + 16, len = 0;
  char *body = qp_malloc(cap);
  if (body == NULL) return 1;
  body[len++] = '[';
  for (uint32_t i = 0; i < o->accounts; i++) {
    int w = snprintf(body + len, cap - len, "%s{\"id\":\"%llu\",\"ledger\":%u,\"code\":1}",
                     i ? "," : "", (unsigned long long)(s->account_base + i), LOAD_LEDGER);
    len += (size_t)w;
  }
  body[len++] = ']';
  body[len] = '\0';
  CURL *curl = new_handle(o);
  struct curl_slist *headers = make_headers(o->key);
  qp_buf_t resp = {.max = LOAD_RESPONSE_BYTES_MAX};
  char url[1100];
  snprintf(url, sizeof url, "%s/v1/accounts", o->url);
  int rc = curl ? post(curl, url, headers, body, len, &resp, o->accounts) : 1;
  if (rc != 0)
    fprintf(stderr, "quipu client load: cannot create the accounts: %s\n",
            resp.data ? resp.data : "no answer");
  curl_slist_free_all(headers);
  if (curl != NULL) curl_easy_cleanup(curl);
  qp_buf_free(&resp);
  qp_free(body);
  return rc;
}

static int compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void report(load_thread_t *threads, uint32_t count, uint64_t elapsed_ns, uint64_t failures,
                   const qp_cli_load_options_t *o) {
  uint64_t total = 0, transfers = 0, late = 0;
  for (uint32_t i = 0; i < count; i++) {
    total += threads[i].samples;
    transfers += threads[i].transfers;
    late += threads[i].late;
  }
  uint64_t *all = qp_calloc(total ? total : 1, sizeof *all);
  if (all == NULL) return;
  uint64_t k = 0;
  for (uint32_t i = 0; i < count; i++)
    for (uint32_t j = 0; j < threads[i].samples; j++) all[k++] = threads[i].samples_ns[j];
  qsort(all, total, sizeof *all, compare_u64);
  double secs = (double)elapsed_ns / 1e9;
  double p50 = total ? (double)all[total / 2] / 1e6 : 0;
  double p99 =
      total ? (double)all[(total * 99) / 100 < total ? (total * 99) / 100 : total - 1] / 1e6 : 0;
  double max = total ? (double)all[total - 1] / 1e6 : 0;
  printf("load: %s%s, batch %u, %u connections, %.1f s", o->binary ? "binary " : "",
         o->binary ? o->binary : o->url, o->batch, o->connections, secs);
  if (o->rate != 0)
    printf(", offered %u requests/s (open loop; latency from each request's scheduled time; "
           "%llu sent more than 1 ms late)", o->rate, (unsigned long long)late);
  printf("\n");
  printf("requests:  %llu (%.0f/s), failed %llu\n", (unsigned long long)total, (double)total / secs,
         (unsigned long long)failures);
  printf("transfers: %llu ok (%.0f/s)\n", (unsigned long long)transfers, (double)transfers / secs);
  printf("latency:   p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", p50, p99, max);
  qp_free(all);
}

int qp_cli_client_load(const qp_cli_load_options_t *o) {
  if (o->batch == 0 || o->batch > 8190 || o->connections == 0 || o->connections > 1024 ||
      o->accounts < 2 || o->accounts > 8190 || o->duration_s == 0) {
    fprintf(
        stderr,
        "quipu client load: batch 1..8190, connections 1..1024, accounts 2..8190, duration >= 1\n");
    return 2;
  }
  if (sodium_init() < 0) return 1;
  load_shared_t s = {.o = o};
  randombytes_buf(&s.id_base, sizeof s.id_base);
  s.id_base = (s.id_base >> 2) | 1; /* far from 0 and from 2^64 */
  s.account_base = s.id_base;
  atomic_store(&s.next_id, o->accounts);
  if (create_accounts(&s) != 0) return 1;
  load_thread_t *threads = qp_calloc(o->connections, sizeof *threads);
  if (threads == NULL) return 1;
  uint32_t samples_max =
      o->duration_s * 200000u < LOAD_SAMPLES_MAX ? o->duration_s * 200000u : LOAD_SAMPLES_MAX;
  uint64_t start = qp_clock_mono_ns();
  s.start_ns = start;
  s.stop_ns = start + (uint64_t)o->duration_s * 1000000000u;
  uint32_t started = 0;
  for (uint32_t i = 0; i < o->connections; i++) {
    threads[i].shared = &s;
    threads[i].index = i;
    qp_rng_seed(&threads[i].rng, i);
    threads[i].samples_ns = qp_calloc(samples_max, sizeof(uint64_t));
    threads[i].samples_cap = samples_max;
    if (threads[i].samples_ns == NULL) break;
    if (pthread_create(&threads[i].thread, NULL, o->binary ? binary_main : load_main,
                       &threads[i]) != 0) break;
    started++;
  }
  for (uint32_t i = 0; i < started; i++) pthread_join(threads[i].thread, NULL);
  uint64_t elapsed = qp_clock_mono_ns() - start;
  uint64_t failures = atomic_load(&s.failures);
  report(threads, started, elapsed, failures, o);
  for (uint32_t i = 0; i < o->connections; i++) qp_free(threads[i].samples_ns);
  qp_free(threads);
  return failures == 0 && started == o->connections ? 0 : 1;
}
