/*
 * risk_bench.h - quipu-risk-bench (issue 15, "Speed"; docs/risk.md): the
 * generated workload both parts share, and the HTTP part.
 *
 * rk_gen.c generates the ruleset (250 rules over 20 features, two lists),
 * the pool of events and the per-event id, time and amount; rk_main.c is
 * the in-process part (one core, qp_risk_decide); rk_node.c starts a real
 * `quipu node` with the risk module; rk_http.c sends the same workload to
 * POST /v1/risk/decide in batches over concurrent keep-alive connections.
 */
#ifndef QRK_RISK_BENCH_H
#define QRK_RISK_BENCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench_int.h"

#include "base/rng.h"

#define RK_POOL 4096      /* distinct events the run cycles through */
#define RK_RULES 250      /* rules of the generated ruleset */
#define RK_FEATURES 20    /* features of the generated ruleset */
#define RK_BLOCKED 200    /* items of the list "blocked" */
#define RK_BAD_IPS "10.3.0.0/16" /* the one prefix of the list "bad_ips" */
#define RK_SEED 15        /* the rng seed of both parts: the same ruleset and events */

/* The ruleset text into buf (size bytes); returns its length. */
size_t rk_gen_ruleset(qp_rng_t *rng, char *buf, size_t size);

/* RK_POOL events (payer, payee, device, ip, country, type) into pool. */
void rk_gen_pool(qp_rng_t *rng, json_t **pool);

/* Rewrites ev as event i of n: id i, time spread over 2 days in order, a
 * random amount 1..2,000,000 (a decimal string). */
void rk_event_set(json_t *ev, uint64_t i, uint64_t n, qp_rng_t *rng);

/* The i-th item of the list "blocked" into buf. */
void rk_blocked_item(uint32_t i, char *buf, size_t size);

/* ------------------------------------------------------------- HTTP */

typedef struct rk_http_config {
  const char *quipu;     /* the quipu binary */
  const char *tmp_dir;   /* where the node's home goes */
  uint64_t events;       /* decided over HTTP */
  uint32_t batch;        /* events per request (1..8190) */
  uint32_t connections;  /* client threads, one keep-alive connection each */
  bool keep;             /* keep the node's home */
} rk_http_config_t;

/* A running `quipu node` with the risk module (bench_node.c). */
typedef qb_node_t rk_node_t;

/* Writes node.json and rules.txt (the ruleset, as modules.risk.ruleset_file)
 * into a temp dir, makes a key, starts the node, waits for /healthz.
 * Returns 0 or QP_EIO (the node's log tail is printed). */
int rk_node_start(const rk_http_config_t *cfg, const char *ruleset, size_t len, rk_node_t *n);

/* SIGTERM and wait (SIGKILL after 20 s); removes the dir unless keep.
 * Returns 0, or QP_EIO when the node did not exit with 0. */
int rk_node_stop(rk_node_t *n, bool keep);

/* One request on the keep-alive curl easy handle e: body (may be NULL) sent
 * with content_type; the answer's bytes into *out (qp_malloc'ed, NUL
 * terminated; the caller qp_free()s it), the status into *code.  Returns 0
 * or QP_EIO (transport). */
int rk_call(void *e, const rk_node_t *n, const char *method, const char *path,
            const char *content_type, const char *body, size_t len, char **out, long *code);

/* The HTTP part: node, lists, the batches, the check, RESULT lines.
 * Returns 0, or 1 on any failure (said on stderr). */
int rk_http_run(const rk_http_config_t *cfg);

#endif
