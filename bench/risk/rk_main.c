/*
 * rk_main.c - `make bench-risk`: the risk engine in-process on one core
 * (issue 15, docs/risk.md "Speed").  Generates a ruleset of 250 rules over
 * 20 features (count, sum and distinct by payer, payee, device and ip, over
 * windows from 1 m to 30 d) and two lists, then decides 1,000,000 seeded
 * events in order and prints decisions/s and the p50/p99/max time of one
 * qp_risk_decide (the event already a jansson object: decoding its fields,
 * updating 20 windows, running 250 programs, the lattice).  --quick decides
 * 100,000.  Integer arithmetic only; prints `RESULT name value unit` lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/rng.h"
#include "risk/risk.h"

#define POOL 4096
#define RULES 250
#define FEATURES 20

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *const KEYS[] = {"payer", "payee", "device", "ip"};
static const char *const WINDOWS[] = {"1m", "10m", "1h", "6h", "24h", "7d", "30d"};

/* A limit a feature seldom passes: counts and distincts a few dozen, sums
 * tens of millions (amounts are 1..2,000,000). */
static uint64_t limit(qp_rng_t *rng, int f) {
  return f % 3 == 1 ? 20000000 + qp_rng_below(rng, 30000000) : 8 + qp_rng_below(rng, 40);
}

/* The ruleset text into buf; returns its length. */
static size_t gen_ruleset(qp_rng_t *rng, char *buf, size_t size) {
  size_t k = 0;
  k += (size_t)snprintf(buf + k, size - k, "list blocked set\nlist bad_ips cidr\n");
  for (int f = 0; f < FEATURES; f++) {
    const char *key = KEYS[f % 4], *w = WINDOWS[qp_rng_below(rng, 7)];
    int kind = f % 3;
    k += (size_t)snprintf(buf + k, size - k, "feature f%d = %s by %s over %s\n", f,
                          kind == 0 ? "count" : kind == 1 ? "sum(amount)" : "distinct(payee)",
                          key, w);
  }
  static const char *const outs[] = {"challenge", "review", "block"};
  for (int r = 0; r < RULES; r++) {
    int f1 = (int)qp_rng_below(rng, FEATURES), f2 = (int)qp_rng_below(rng, FEATURES);
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
static void gen_pool(qp_rng_t *rng, json_t **pool) {
  static const char *const types[] = {"transfer", "payment", "withdrawal"};
  for (int i = 0; i < POOL; i++) {
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

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

typedef struct run {
  uint64_t events;       /* to decide */
  uint32_t *lat_ns;      /* per decision */
  uint64_t total_ns;     /* sum of lat_ns */
  uint64_t outcome[4];   /* per decision */
  uint64_t fired;        /* rules fired over the run */
  uint64_t eval_errors;  /* over the run */
} run_t;

static int decide_all(const qp_risk_ruleset_t *rs, qp_risk_state_t *st, json_t **pool,
                      qp_rng_t *rng, run_t *r) {
  qp_risk_decision_t d;
  char err[256], amount[24];
  if (qp_risk_decision_init(&d, rs) != 0) return 1;
  const uint64_t t0 = 1764633600, span_s = 2 * 86400;
  for (uint64_t i = 0; i < r->events; i++) {
    json_t *ev = pool[i % POOL];
    json_integer_set(json_object_get(ev, "id"), (json_int_t)i);
    json_integer_set(json_object_get(ev, "time"), (json_int_t)(t0 + i * span_s / r->events));
    snprintf(amount, sizeof amount, "%llu", (unsigned long long)(1 + qp_rng_below(rng, 2000000)));
    json_string_set(json_object_get(ev, "amount"), amount);
    uint64_t a = now_ns();
    int rc = qp_risk_decide(rs, st, ev, &d, err, sizeof err);
    uint64_t b = now_ns();
    if (rc != 0) {
      fprintf(stderr, "quipu-risk-bench: event %llu: %s\n", (unsigned long long)i, err);
      qp_risk_decision_deinit(&d);
      return 1;
    }
    r->lat_ns[i] = (uint32_t)(b - a > UINT32_MAX ? UINT32_MAX : b - a);
    r->total_ns += b - a;
    r->outcome[d.decision]++;
    r->fired += d.fired_count;
    r->eval_errors += d.eval_errors;
  }
  qp_risk_decision_deinit(&d);
  return 0;
}

static void report(const run_t *r, uint64_t keys) {
  qsort(r->lat_ns, r->events, sizeof *r->lat_ns, cmp_u32);
  uint64_t p50 = r->lat_ns[r->events / 2], p99 = r->lat_ns[r->events * 99 / 100];
  uint64_t max = r->lat_ns[r->events - 1];
  uint64_t per_s = r->events * 1000000000ull / (r->total_ns ? r->total_ns : 1);
  printf("decisions: %llu (allow %llu, challenge %llu, review %llu, block %llu); %llu rules "
         "fired, %llu evaluation errors; %llu keys held at the end\n",
         (unsigned long long)r->events, (unsigned long long)r->outcome[0],
         (unsigned long long)r->outcome[1], (unsigned long long)r->outcome[2],
         (unsigned long long)r->outcome[3], (unsigned long long)r->fired,
         (unsigned long long)r->eval_errors, (unsigned long long)keys);
  printf("RESULT risk_decisions_per_s %llu decisions/s\n", (unsigned long long)per_s);
  printf("RESULT risk_decide_p50_us %llu.%03llu us\n", (unsigned long long)(p50 / 1000),
         (unsigned long long)(p50 % 1000));
  printf("RESULT risk_decide_p99_us %llu.%03llu us\n", (unsigned long long)(p99 / 1000),
         (unsigned long long)(p99 % 1000));
  printf("RESULT risk_decide_max_us %llu.%03llu us\n", (unsigned long long)(max / 1000),
         (unsigned long long)(max % 1000));
  printf("floor (issue 15): >= 100000 decisions/s and p99 <= 100 us: %s\n",
         per_s >= 100000 && p99 <= 100000 ? "met" : "NOT met");
}

static int setup(qp_rng_t *rng, qp_risk_ruleset_t **rs, qp_risk_lists_t **lists,
                 qp_risk_state_t **st) {
  static char text[1 << 17];
  qp_risk_errors_t *errs = qp_malloc(sizeof *errs);
  size_t len = gen_ruleset(rng, text, sizeof text);
  uint64_t a = now_ns();
  int rc = errs != NULL ? qp_risk_compile(text, len, rs, errs) : QP_ENOMEM;
  uint64_t b = now_ns();
  if (rc != 0) {
    fprintf(stderr, "quipu-risk-bench: the generated ruleset does not compile: %s\n",
            rc == QP_EPARSE ? errs->items[0].message : qp_strerror(rc));
    qp_free(errs);
    return 1;
  }
  qp_free(errs);
  printf("ruleset: %u rules, %u features, %zu bytes, compiled in %llu us, hash %.16s...\n",
         qp_risk_ruleset_rules(*rs), qp_risk_ruleset_features(*rs), len,
         (unsigned long long)((b - a) / 1000), qp_risk_ruleset_hash(*rs));
  char err[160], item[24];
  if (qp_risk_lists_new(lists) != 0 || qp_risk_state_new(*rs, *lists, st) != 0) return 1;
  for (int i = 0; i < 200; i++) {
    snprintf(item, sizeof item, "m%d", i * 97);
    if (qp_risk_list_update(*lists, "blocked", item, true, err, sizeof err) != 0) return 1;
  }
  return qp_risk_list_update(*lists, "bad_ips", "10.3.0.0/16", true, err, sizeof err) != 0;
}

int main(int argc, char **argv) {
  run_t r = {.events = 1000000};
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) r.events = 100000;
    else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc)
      r.events = strtoull(argv[++i], NULL, 10);
    else {
      fprintf(stderr, "usage: quipu-risk-bench [--quick] [--events N]\n");
      return 2;
    }
  }
  if (r.events == 0 || r.events > 100000000) return fprintf(stderr, "--events 1..1e8\n"), 2;
  qp_rng_t rng;
  qp_rng_seed(&rng, 15);
  qp_risk_ruleset_t *rs = NULL;
  qp_risk_lists_t *lists = NULL;
  qp_risk_state_t *st = NULL;
  static json_t *pool[POOL];
  r.lat_ns = qp_calloc(r.events, sizeof *r.lat_ns);
  int rc = r.lat_ns == NULL || setup(&rng, &rs, &lists, &st) != 0;
  if (rc == 0) {
    gen_pool(&rng, pool);
    printf("events: %llu, in order, over 2 days of event time, one core, in-process\n",
           (unsigned long long)r.events);
    rc = decide_all(rs, st, pool, &rng, &r);
  }
  if (rc == 0) report(&r, qp_risk_state_keys(st));
  for (int i = 0; i < POOL; i++) json_decref(pool[i]);
  qp_free(r.lat_ns);
  qp_risk_state_free(st);
  qp_risk_lists_free(lists);
  qp_risk_ruleset_free(rs);
  return rc;
}
