/*
 * workload.c - the benchmark's seeded transfer stream and its model of the
 * outcome (see workload.h for why the outcome is order-independent across
 * shards).  Everything here is integer arithmetic on a splitmix64 stream, so
 * the same seed gives the same events and the same expected balances on any
 * machine.
 */
#include "workload.h"

#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "base/rng.h"

#define EVENTS_MAX (1ull << 40)  /* keeps the u64 model far from overflow */
#define PENDING_DELAY_MIN 64u    /* events between a pending and its post/void */
#define PENDING_DELAY_SPAN 8192u /* ... plus up to this many */
#define LIMITED_DEBIT_MAX 100u   /* largest in-budget debit of a limited account */
#define UNKNOWN_SPAN 1000u       /* unknown ids are N+1 .. N+UNKNOWN_SPAN */

void qb_workload_config_default(qb_workload_config_t *c) {
  memset(c, 0, sizeof *c);
  c->accounts = 100000;
  c->seed = 42;
  c->mix = QB_MIX_ZIPF;
  c->pending_permille = 25;
  c->fail_permille = 10;
  c->duplicate_permille = 2;
  c->limited_ok_permille = 5;
}

/* Uniform in [0, n) without modulo bias worth worrying about: n is far below
 * 2^64, and the bias of r % n is at most n / 2^64.  The stream stays on
 * SplitMix64 (base/rng.h) so that a seed gives the workload it always gave
 * and recorded figures stay comparable. */
static uint64_t rng_below(uint64_t *s, uint64_t n) {
  QP_ASSERT(n > 0);
  return qp_splitmix64_below(s, n);
}

/* Cumulative Zipf(s=1) weights floor(2^32 / rank), rank 1..ranks. */
static void zipf_build(uint64_t *cdf, uint32_t ranks) {
  uint64_t total = 0;
  for (uint32_t k = 1; k <= ranks; k++) {
    total += (1ull << 32) / k;
    cdf[k - 1] = total;
  }
  QP_ASSERT(cdf[ranks - 1] > 0);
}

/* The rank (1-based) whose cumulative interval holds u in [0, total). */
static uint32_t zipf_rank(const uint64_t *cdf, uint32_t ranks, uint64_t u) {
  uint32_t lo = 0, hi = ranks - 1;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (cdf[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  QP_ASSERT(cdf[lo] > u);
  return lo + 1;
}

int qb_workload_init(qb_workload_t *w, const qb_workload_config_t *c) {
  memset(w, 0, sizeof *w);
  uint32_t rates = c->pending_permille + c->fail_permille + c->duplicate_permille +
                   c->limited_ok_permille;
  if (c->accounts < 200 || c->accounts > (1ull << 40) || rates > 1000) return QP_EINVAL;
  w->config = *c;
  w->limited = c->accounts / 100;
  w->ordinary = c->accounts - w->limited;
  w->rng = c->seed;
  w->zipf_ranks = w->ordinary < QB_ZIPF_RANKS_MAX ? (uint32_t)w->ordinary : QB_ZIPF_RANKS_MAX;
  w->zipf_cdf = qp_malloc(w->zipf_ranks * sizeof *w->zipf_cdf);
  w->budget = qp_malloc(w->limited * sizeof *w->budget);
  w->pending = qp_malloc(QB_PENDING_QUEUE_MAX * sizeof *w->pending);
  w->recent = qp_malloc(QB_RECENT_MAX * sizeof *w->recent);
  w->model = qp_calloc(c->accounts + 1, sizeof *w->model);
  if (!w->zipf_cdf || !w->budget || !w->pending || !w->recent || !w->model) {
    qb_workload_deinit(w);
    return QP_ENOMEM;
  }
  zipf_build(w->zipf_cdf, w->zipf_ranks);
  for (uint64_t i = 0; i < w->limited; i++) w->budget[i] = QB_FUND_AMOUNT;
  return 0;
}

void qb_workload_deinit(qb_workload_t *w) {
  qp_free(w->zipf_cdf);
  qp_free(w->budget);
  qp_free(w->pending);
  qp_free(w->recent);
  qp_free(w->model);
  memset(w, 0, sizeof *w);
}

void qb_workload_account(const qb_workload_t *w, uint64_t id, qp_account_t *out) {
  QP_ASSERT(id >= 1 && id <= w->config.accounts);
  memset(out, 0, sizeof *out);
  out->id = id;
  out->ledger = QB_LEDGER;
  out->code = QB_CODE;
  out->flags = id > w->ordinary ? QP_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS : 0;
}

uint64_t qb_workload_setup_count(const qb_workload_t *w) { return w->limited; }

static void transfer_init(qp_transfer_t *t, uint64_t id, uint64_t debit, uint64_t credit,
                          uint64_t amount, uint16_t flags) {
  memset(t, 0, sizeof *t);
  t->id = id;
  t->debit_account_id = debit;
  t->credit_account_id = credit;
  t->amount = amount;
  t->ledger = QB_LEDGER;
  t->code = QB_CODE;
  t->flags = flags;
}

static void model_post(qb_workload_t *w, uint64_t debit, uint64_t credit, uint64_t amount) {
  w->model[debit].debits_posted += amount;
  w->model[credit].credits_posted += amount;
}

void qb_workload_setup_transfer(qb_workload_t *w, uint64_t j, bool apply_model,
                                qp_transfer_t *out) {
  QP_ASSERT(j < w->limited);
  uint64_t limited_id = w->ordinary + 1 + j;
  transfer_init(out, QB_SETUP_ID_BASE + j, 1, limited_id, QB_FUND_AMOUNT, 0);
  if (apply_model) model_post(w, 1, limited_id, QB_FUND_AMOUNT);
}

/* A credit account by the configured mix, never `avoid`. */
static uint64_t pick_credit(qb_workload_t *w, uint64_t avoid) {
  uint64_t id;
  if (w->config.mix == QB_MIX_ZIPF) {
    uint64_t total = w->zipf_cdf[w->zipf_ranks - 1];
    id = zipf_rank(w->zipf_cdf, w->zipf_ranks, rng_below(&w->rng, total));
  } else {
    id = 1 + rng_below(&w->rng, w->ordinary);
  }
  if (id == avoid) id = id % w->ordinary + 1;
  QP_ASSERT(id >= 1 && id <= w->ordinary && id != avoid);
  return id;
}

/* Resolves the oldest pending transfer: post it in full (70 %), in part
 * (15 %) or void it (15 %). */
static void resolve_pending(qb_workload_t *w, uint64_t id, qp_transfer_t *out) {
  qb_pending_t *p = &w->pending[w->pending_head];
  w->pending_head = (w->pending_head + 1) % QB_PENDING_QUEUE_MAX;
  w->pending_count--;
  uint64_t r = rng_below(&w->rng, 100);
  memset(out, 0, sizeof *out);
  out->id = id;
  out->pending_id = p->id;
  w->model[p->debit].debits_pending -= p->amount;
  w->model[p->credit].credits_pending -= p->amount;
  if (r < 85) {
    uint64_t posted = (r >= 70 && p->amount >= 2) ? p->amount / 2 : p->amount;
    out->flags = QP_TRANSFER_POST_PENDING_TRANSFER;
    out->amount = posted == p->amount ? 0 : posted; /* 0 = the full amount */
    model_post(w, p->debit, p->credit, posted);
    w->counts.posted++;
  } else {
    out->flags = QP_TRANSFER_VOID_PENDING_TRANSFER;
    w->counts.voided++;
  }
  w->counts.ok++;
}

static void make_pending(qb_workload_t *w, uint64_t id, qp_transfer_t *out) {
  QP_ASSERT(w->pending_count < QB_PENDING_QUEUE_MAX);
  uint64_t debit = 1 + rng_below(&w->rng, w->ordinary);
  uint64_t credit = pick_credit(w, debit);
  uint64_t amount = 1 + rng_below(&w->rng, QB_AMOUNT_MAX);
  transfer_init(out, id, debit, credit, amount, QP_TRANSFER_PENDING);
  qb_pending_t *p = &w->pending[(w->pending_head + w->pending_count) % QB_PENDING_QUEUE_MAX];
  p->id = id;
  p->debit = debit;
  p->credit = credit;
  p->amount = amount;
  p->due_event = w->events + PENDING_DELAY_MIN + rng_below(&w->rng, PENDING_DELAY_SPAN);
  w->pending_count++;
  w->model[debit].debits_pending += amount;
  w->model[credit].credits_pending += amount;
  w->counts.pending++;
  w->counts.ok++;
}

/* A transfer that fails on purpose: an unknown account (half) or a debit of
 * a limited account beyond its funding (half). */
static uint32_t make_failure(qb_workload_t *w, uint64_t id, qp_transfer_t *out) {
  uint64_t r = rng_below(&w->rng, 4);
  uint64_t unknown = w->config.accounts + 1 + rng_below(&w->rng, UNKNOWN_SPAN);
  uint64_t ordinary = 1 + rng_below(&w->rng, w->ordinary);
  if (r == 0) {
    transfer_init(out, id, unknown, ordinary, 1 + rng_below(&w->rng, QB_AMOUNT_MAX), 0);
    w->counts.not_found++;
    return QP_CREATE_TRANSFER_DEBIT_ACCOUNT_NOT_FOUND;
  }
  if (r == 1) {
    transfer_init(out, id, ordinary, unknown, 1 + rng_below(&w->rng, QB_AMOUNT_MAX), 0);
    w->counts.not_found++;
    return QP_CREATE_TRANSFER_CREDIT_ACCOUNT_NOT_FOUND;
  }
  uint64_t limited = w->ordinary + 1 + rng_below(&w->rng, w->limited);
  uint64_t amount = QB_FUND_AMOUNT + 1 + rng_below(&w->rng, QB_AMOUNT_MAX);
  transfer_init(out, id, limited, ordinary, amount, 0);
  w->counts.exceeds_credits++;
  return QP_CREATE_TRANSFER_EXCEEDS_CREDITS;
}

/* An in-budget debit of a limited account; false when its budget is spent. */
static bool make_limited_ok(qb_workload_t *w, uint64_t id, qp_transfer_t *out) {
  uint64_t j = rng_below(&w->rng, w->limited);
  uint64_t amount = 1 + rng_below(&w->rng, LIMITED_DEBIT_MAX);
  if (w->budget[j] < amount) return false;
  w->budget[j] -= amount;
  uint64_t debit = w->ordinary + 1 + j;
  uint64_t credit = pick_credit(w, 0);
  transfer_init(out, id, debit, credit, amount, 0);
  model_post(w, debit, credit, amount);
  w->counts.ok++;
  return true;
}

static void make_plain(qb_workload_t *w, uint64_t id, qp_transfer_t *out) {
  uint64_t debit = 1 + rng_below(&w->rng, w->ordinary);
  uint64_t credit = pick_credit(w, debit);
  uint64_t amount = 1 + rng_below(&w->rng, QB_AMOUNT_MAX);
  transfer_init(out, id, debit, credit, amount, 0);
  model_post(w, debit, credit, amount);
  w->counts.ok++;
  w->recent[w->recent_next] = *out;
  w->recent_next = (w->recent_next + 1) % QB_RECENT_MAX;
  if (w->recent_count < QB_RECENT_MAX) w->recent_count++;
}

void qb_workload_next(qb_workload_t *w, qp_transfer_t *out, uint32_t *expect) {
  QP_ASSERT(w->events < EVENTS_MAX);
  uint64_t id = w->events + 1; /* stream event k has id k + 1 */
  *expect = QP_CREATE_TRANSFER_OK;
  const qb_workload_config_t *c = &w->config;
  bool due = w->pending_count > 0 && w->pending[w->pending_head].due_event <= w->events;
  if (due || w->pending_count == QB_PENDING_QUEUE_MAX) {
    resolve_pending(w, id, out);
  } else {
    uint64_t r = rng_below(&w->rng, 1000);
    uint64_t fail_end = c->fail_permille, pending_end = fail_end + c->pending_permille;
    uint64_t dup_end = pending_end + c->duplicate_permille;
    uint64_t limited_end = dup_end + c->limited_ok_permille;
    if (r < fail_end) {
      *expect = make_failure(w, id, out);
    } else if (r < pending_end) {
      make_pending(w, id, out);
    } else if (r < dup_end && w->recent_count > 0) {
      *out = w->recent[rng_below(&w->rng, w->recent_count)];
      *expect = QP_CREATE_TRANSFER_EXISTS;
      w->counts.exists++;
    } else if (r < dup_end || r >= limited_end || !make_limited_ok(w, id, out)) {
      make_plain(w, id, out);
    }
  }
  w->events++;
  QP_ASSERT(out->id != 0);
}

uint32_t qb_shard_of(const qp_transfer_t *t, uint32_t shards) {
  QP_ASSERT(shards > 0);
  uint64_t h = qb_shard_key(t) * 0x9E3779B97F4A7C15ull;
  return (uint32_t)((h >> 32) % shards);
}

bool qb_workload_balances_match(const qb_workload_t *w, uint64_t id, const qp_account_t *got) {
  QP_ASSERT(id >= 1 && id <= w->config.accounts);
  const qb_balances_t *m = &w->model[id];
  return got->id == id && got->debits_pending == m->debits_pending &&
         got->debits_posted == m->debits_posted && got->credits_pending == m->credits_pending &&
         got->credits_posted == m->credits_posted;
}
