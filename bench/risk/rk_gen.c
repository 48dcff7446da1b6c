/*
 * rk_gen.c - the workload of quipu-risk-bench, the same for the in-process
 * and the HTTP parts: a ruleset of 250 rules over 20 features (count, sum
 * and distinct by payer, payee, device and ip, over windows from 1 m to
 * 30 d) and two lists, a pool of events, and each event's id, time and
 * amount.  Seeded: every run generates the same.
 */
#include <stdio.h>

#include "risk_bench.h"

static const char *const KEYS[] = {"payer", "payee", "device", "ip"};
static const char *const WINDOWS[] = {"1m", "10m", "1h", "6h", "24h", "7d", "30d"};

/* A limit a feature seldom passes: counts and distincts a few dozen, sums
 * tens of millions (amounts are 1..2,000,000). */
static uint64_t limit(qp_rng_t *rng, int f) {
  return f % 3 == 1 ? 20000000 + qp_rng_below(rng, 30000000) : 8 + qp_rng_below(rng, 40);
}

/* The ruleset text into buf; returns its length. */
size_t rk_gen_ruleset(qp_rng_t *rng, char *buf, size_t size) {
  size_t k = 0;
  k += (size_t)snprintf(buf + k, size - k, "list blocked set\nlist bad_ips cidr\n");
  for (int f = 0; f < RK_FEATURES; f++) {
    const char *key = KEYS[f % 4], *w = WINDOWS[qp_rng_below(rng, 7)];
    int kind = f % 3;
    k += (size_t)snprintf(buf + k, size - k, "feature f%d = %s by %s over %s\n", f,
                          kind == 0 ? "count" : kind == 1 ? "sum(amount)" : "distinct(payee)",
                          key, w);
  }
  static const char *const outs[] = {"challenge", "review", "block"};
  for (int r = 0; r < RK_RULES; r++) {
    int f1 = (int)qp_rng_below(rng, RK_FEATURES), f2 = (int)qp_rng_below(rng, RK_FEATURES);
    uint64_t shape = qp_rng_below(rng, 5);
    k += (size_t)snprintf(buf + k, size - k, "rule r%d: ", r);
    if (shape == 0)
      k += (size_t)snprintf(buf + k, size - k, "amount >= %llu and f%d > %llu",
                            (unsigned long long)(1000000 + qp_rng_below(rng, 900000)), f1,
                            (unsigned long long)limit(rng, f1));
    else if (shape == 1)
      k += (size_t)snprintf(buf + k, size - k, "f%d > %llu or country = \"X%llu\"", f1,
                            (unsigned long long)limit(rng, f1),
                            (unsigned long long)(60 + qp_rng_below(rng, 50)));
    else if (shape == 2)
      k += (size_t)snprintf(buf + k, size - k, "payee in blocked or (ip in bad_ips and f%d > %llu)",
                            f1, (unsigned long long)limit(rng, f1));
    else if (shape == 3)
      k += (size_t)snprintf(buf + k, size - k, "not (type = \"transfer\") and f%d >= %llu", f1,
                            (unsigned long long)limit(rng, f1));
    else
      k += (size_t)snprintf(buf + k, size - k, "amount - f%d * 2 > %llu and f%d < %llu", f1,
                            (unsigned long long)(1900000 + qp_rng_below(rng, 100000)), f2,
                            (unsigned long long)limit(rng, f2));
    k += (size_t)snprintf(buf + k, size - k, " => %s score %llu \"rule %d\"\n",
                          outs[qp_rng_below(rng, 3)], (unsigned long long)qp_rng_below(rng, 40),
                          r);
  }
  k += (size_t)snprintf(buf + k, size - k, "threshold score >= 80 => block\n"
                                           "threshold score >= 50 => review\n");
  return k;
}

/* A pool of events; the loop rewrites id, time and amount in place. */
void rk_gen_pool(qp_rng_t *rng, json_t **pool) {
  static const char *const types[] = {"transfer", "payment", "withdrawal"};
  for (int i = 0; i < RK_POOL; i++) {
    char payer[24], payee[24], device[24], ip[40], country[8];
    snprintf(payer, sizeof payer, "u%llu", (unsigned long long)qp_rng_below(rng, 100000));
    snprintf(payee, sizeof payee, "m%llu", (unsigned long long)qp_rng_below(rng, 20000));
    snprintf(device, sizeof device, "d%llu", (unsigned long long)qp_rng_below(rng, 150000));
    snprintf(ip, sizeof ip, "10.%llu.%llu.%llu", (unsigned long long)qp_rng_below(rng, 4),
             (unsigned long long)qp_rng_below(rng, 256),
             (unsigned long long)qp_rng_below(rng, 256));
    snprintf(country, sizeof country, "X%llu", (unsigned long long)qp_rng_below(rng, 60));
    pool[i] = json_pack("{s:i, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", i, "time", 0,
                        "type", types[qp_rng_below(rng, 3)], "payer", payer, "payee", payee,
                        "device", device, "ip", ip, "country", country, "amount", "0");
  }
}

void rk_event_set(json_t *ev, uint64_t i, uint64_t n, qp_rng_t *rng) {
  const uint64_t t0 = 1764633600, span_s = 2 * 86400;
  char amount[24];
  json_integer_set(json_object_get(ev, "id"), (json_int_t)i);
  json_integer_set(json_object_get(ev, "time"), (json_int_t)(t0 + i * span_s / n));
  snprintf(amount, sizeof amount, "%llu", (unsigned long long)(1 + qp_rng_below(rng, 2000000)));
  json_string_set(json_object_get(ev, "amount"), amount);
}

void rk_blocked_item(uint32_t i, char *buf, size_t size) {
  snprintf(buf, size, "m%u", i * 97u);
}
