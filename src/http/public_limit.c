/*
 * public_limit.c - a rate limit per client address on the routes that need
 * no key (node.json http.public_rate_limit; docs/http.md, "Rate limits
 * per address"): wallet and operator sign-in options and verifies, chain
 * transaction submission, the web module's files.  Keyed routes have their
 * key's and scopes' limits; these had none, so one address could fill the
 * shared ceremony table or the mempool at will.  GET /healthz and
 * GET /metrics are never limited (monitors poll them).
 *
 * Each address gets the token bucket of ratelimit.c in a fixed table of
 * QP__HTTP_PUBLIC_SLOTS slots (direct-mapped by a hash of the address, in
 * stripes with their own mutex): memory does not grow with the number of
 * addresses; an address whose slot another took starts again with a full
 * bucket, which only ever lets a request through, never refuses one that
 * its own bucket would have admitted.  An IPv6 client is counted by its
 * /64 (one host usually holds the whole /64, so per address it would have
 * 2^64 buckets).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "base/clock.h"
#include "base/err.h"
#include "http/http_int.h"

void qp__http_public_table_init(qp__http_public_table_t *t) {
  memset(t, 0, sizeof *t);
  for (uint32_t i = 0; i < QP__HTTP_PUBLIC_STRIPES; i++) pthread_mutex_init(&t->mutex[i], NULL);
}

void qp__http_public_table_deinit(qp__http_public_table_t *t) {
  for (uint32_t i = 0; i < QP__HTTP_PUBLIC_STRIPES; i++) pthread_mutex_destroy(&t->mutex[i]);
}

static uint32_t hash_address(const char *a) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *a; a++) h = (h ^ (uint8_t)*a) * 16777619u;
  return h;
}

int qp__http_public_take(qp__http_public_table_t *t, const char *address, uint32_t rate_per_s,
                         uint32_t burst, uint64_t now_ns, uint32_t *retry_after_s) {
  uint32_t slot = hash_address(address) % QP__HTTP_PUBLIC_SLOTS;
  pthread_mutex_t *m = &t->mutex[slot % QP__HTTP_PUBLIC_STRIPES];
  qp__http_public_slot_t *s = &t->slots[slot];
  pthread_mutex_lock(m);
  if (strncmp(s->address, address, sizeof s->address) != 0) { /* a new tenant: a full bucket */
    memset(s, 0, sizeof *s);
    snprintf(s->address, sizeof s->address, "%s", address);
  }
  bool ok = qp__http_bucket_take(&s->bucket, rate_per_s, burst, now_ns, retry_after_s);
  pthread_mutex_unlock(m);
  if (ok) return 0;
  atomic_fetch_add_explicit(&t->refused, 1, memory_order_relaxed);
  return QP_ELIMIT;
}

/* An IPv6 address as its /64 ("2001:db8:1:2::"); anything else as is. */
static void limit_key(char *address, size_t size) {
  struct in6_addr a6;
  if (strchr(address, ':') == NULL || inet_pton(AF_INET6, address, &a6) != 1) return;
  memset(a6.s6_addr + 8, 0, 8);
  if (inet_ntop(AF_INET6, &a6, address, (socklen_t)size) == NULL) address[0] = '\0';
}

bool qp__http_public_admit(qp_http_server_t *s, struct MHD_Connection *conn,
                           const qp_http_route_t *route, qp_http_error_t *err,
                           uint32_t *retry_after_s) {
  const qp_http_options_t *o = &s->options;
  if (o->public_rate_per_s == 0 || strcmp(route->pattern, "/healthz") == 0 ||
      strcmp(route->pattern, "/metrics") == 0)
    return true;
  char address[48];
  qp__http_client_address(conn, address, sizeof address);
  limit_key(address, sizeof address);
  if (qp__http_public_take(&s->public_buckets, address, o->public_rate_per_s, o->public_burst,
                           qp_clock_mono_ns(), retry_after_s) == 0)
    return true;
  qp_http_error_set(err, 429, "rate_limited", "",
                    "this address may make %u requests a second to the routes that need no "
                    "key (%u at once); retry after %u s",
                    o->public_rate_per_s, o->public_burst, *retry_after_s);
  return false;
}

void qp__http_public_metrics(qp_http_server_t *s, qp_http_text_t *t) {
  if (s->options.public_rate_per_s == 0) return;
  qp_http_metric_header(t, "quipu_http_public_rate_limited_total", "counter",
                        "Requests to routes that need no key refused 429 rate_limited by the "
                        "per-address limit.");
  qp_http_text_put(t, "quipu_http_public_rate_limited_total %llu\n",
                   (unsigned long long)atomic_load_explicit(&s->public_buckets.refused,
                                                            memory_order_relaxed));
}
