/*
 * test_totals.c - the running per-ledger totals against a full recomputation.
 *
 * The state machine keeps each ledger's account count and balance sums up
 * to date as batches apply, so that the audit costs O(ledgers).  Here a
 * seeded random workload - plain, pending, balancing and limit-breaking
 * transfers, full and partial posts, voids, expiry sweeps, linked chains
 * that fail part-way (rolling back accounts and balances), accounts that
 * open new ledgers inside failed chains - runs against one qp_ledger_t, and
 * after every batch qp_ledger_totals() must equal the sums recomputed from
 * every account (qp_ledger_each_account), qp_ledger_check() (which compares
 * the same) must hold, and a ledger restored from the accounts must start
 * with the same totals.
 *
 * Environment: SEED (default 7) and BATCHES (default 3000).
 */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "ledger/ledger.h"
#include "test_util.h"
#include "base/rng.h"

#define NS_PER_S 1000000000ull
#define LEDGERS_MAX 64u       /* distinct ledger numbers the recomputation holds */
#define ACCOUNT_IDS 39u       /* account ids are 1..ACCOUNT_IDS, in ledger 1 + id % 3 */
#define BATCH_MAX 24u         /* events in one generated batch */
#define FIRST_TRANSFER_ID 1000u

typedef struct sums {
  qp_ledger_totals_t rows[LEDGERS_MAX]; /* sorted by ledger */
  uint32_t count;                       /* rows used */
} sums_t;

static int add_account(void *ctx, const qp_account_t *a) {
  sums_t *s = ctx;
  uint32_t i = 0;
  while (i < s->count && s->rows[i].ledger < a->ledger) i++;
  if (i == s->count || s->rows[i].ledger != a->ledger) {
    if (s->count == LEDGERS_MAX) return 1;
    memmove(&s->rows[i + 1], &s->rows[i], (s->count - i) * sizeof s->rows[0]);
    memset(&s->rows[i], 0, sizeof s->rows[i]);
    s->rows[i].ledger = a->ledger;
    s->count++;
  }
  qp_ledger_totals_t *t = &s->rows[i];
  t->accounts++;
  t->debits_pending += a->debits_pending;
  t->debits_posted += a->debits_posted;
  t->credits_pending += a->credits_pending;
  t->credits_posted += a->credits_posted;
  return 0;
}

/* qp_ledger_totals() equals the sums over every account, row for row. */
static void assert_totals_recomputed(const qp_ledger_t *l) {
  sums_t want = {.count = 0};
  assert_int_equal(qp_ledger_each_account(l, add_account, &want), 0);
  qp_ledger_totals_t got[LEDGERS_MAX];
  uint32_t got_count = 0;
  assert_int_equal(qp_ledger_totals(l, got, LEDGERS_MAX, &got_count), 0);
  assert_int_equal(got_count, want.count);
  for (uint32_t i = 0; i < want.count; i++) {
    assert_int_equal(got[i].ledger, want.rows[i].ledger);
    assert_int_equal(got[i].accounts, want.rows[i].accounts);
    assert_true(got[i].debits_pending == want.rows[i].debits_pending);
    assert_true(got[i].debits_posted == want.rows[i].debits_posted);
    assert_true(got[i].credits_pending == want.rows[i].credits_pending);
    assert_true(got[i].credits_posted == want.rows[i].credits_posted);
  }
  assert_true(qp_ledger_totals_balanced(l));
  assert_true(qp_ledger_check(l));
}

typedef struct gen {
  qp_rng_t rng;          /* the workload's randomness */
  uint64_t now_ns;       /* time input of the next batch */
  qp_u128 next_transfer; /* next fresh transfer id */
} gen_t;

static uint64_t below(gen_t *g, uint64_t n) { return qp_rng_below(&g->rng, n); }

/* An account event: mostly in ledger 1 + id % 3, sometimes (ids 200..)
 * in a rare ledger that only this event opens, so that a failed chain must
 * take the ledger away again. */
static qp_account_t gen_account(gen_t *g) {
  qp_account_t a;
  memset(&a, 0, sizeof a);
  a.id = 1 + below(g, ACCOUNT_IDS);
  a.ledger = 1 + (uint32_t)(a.id % 3);
  if (below(g, 6) == 0) {
    a.id = 200 + below(g, 30);
    a.ledger = (uint32_t)a.id;
  }
  a.code = 1;
  uint64_t f = below(g, 6);
  if (f == 0) a.flags = QP_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS;
  if (f == 1) a.flags = QP_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
  if (below(g, 4) == 0) a.flags |= QP_ACCOUNT_LINKED;
  if (below(g, 10) == 0) a.code = 0; /* fails, breaking its chain */
  return a;
}

static qp_transfer_t gen_transfer(gen_t *g) {
  qp_transfer_t t;
  memset(&t, 0, sizeof t);
  t.id = g->next_transfer++;
  t.code = 1;
  uint64_t kind = below(g, 10);
  if (kind < 2) { /* post or void an earlier (maybe pending) transfer */
    t.flags = kind == 0 ? QP_TRANSFER_POST_PENDING_TRANSFER : QP_TRANSFER_VOID_PENDING_TRANSFER;
    uint64_t back = 1 + below(g, 8); /* a recent one: likely still pending */
    uint64_t made = (uint64_t)(t.id - FIRST_TRANSFER_ID);
    t.pending_id = t.id - (back < made ? back : made + 1);
    if (kind == 0 && below(g, 2)) t.amount = 1 + below(g, 50);
  } else {
    uint64_t dr = 1 + below(g, ACCOUNT_IDS), step = 3 * (1 + below(g, ACCOUNT_IDS / 3 - 1));
    t.debit_account_id = below(g, 20) == 0 ? 999 : dr; /* sometimes unknown */
    t.credit_account_id = 1 + (dr - 1 + step) % ACCOUNT_IDS; /* same ledger */
    t.ledger = 1 + (uint32_t)(dr % 3);
    t.amount = 1 + below(g, 100);
    if (kind < 5) {
      t.flags = QP_TRANSFER_PENDING;
      t.timeout = (uint32_t)below(g, 4);
    } else if (kind == 5) {
      t.flags = QP_TRANSFER_BALANCING_DEBIT;
    } else if (kind == 6) {
      t.flags = QP_TRANSFER_BALANCING_CREDIT;
    }
  }
  if (below(g, 3) == 0) t.flags |= QP_TRANSFER_LINKED;
  return t;
}

/* A ledger restored from l's accounts starts with l's totals. */
typedef struct collect {
  qp_account_t rows[ACCOUNT_IDS + 64]; /* every account, in creation order */
  uint32_t count;                      /* rows used */
} collect_t;

static int collect_account(void *ctx, const qp_account_t *a) {
  collect_t *c = ctx;
  if (c->count == sizeof c->rows / sizeof c->rows[0]) return 1;
  c->rows[c->count++] = *a;
  return 0;
}

static void assert_restore_keeps_totals(const qp_ledger_t *l) {
  static collect_t c;
  c.count = 0;
  assert_int_equal(qp_ledger_each_account(l, collect_account, &c), 0);
  qp_account_t *rows = c.rows;
  uint32_t n = c.count;
  qp_ledger_t *copy;
  assert_int_equal(qp_ledger_create(NULL, &copy), 0);
  if (n > 1) assert_int_equal(qp_ledger_restore_accounts(copy, rows, n - 1), 0);
  if (n > 0) assert_int_equal(qp_ledger_restore_account(copy, &rows[n - 1]), 0);
  qp_ledger_totals_t a[LEDGERS_MAX], b[LEDGERS_MAX];
  uint32_t na = 0, nb = 0;
  assert_int_equal(qp_ledger_totals(l, a, LEDGERS_MAX, &na), 0);
  assert_int_equal(qp_ledger_totals(copy, b, LEDGERS_MAX, &nb), 0);
  assert_int_equal(na, nb);
  assert_memory_equal(a, b, na * sizeof a[0]);
  /* (Not qp_ledger_check: the copy lacks the pending transfers.) */
  assert_true(qp_ledger_totals_balanced(copy));
  qp_ledger_destroy(copy);
}

static void test_running_totals_equal_recomputation(void **state) {
  (void)state;
  gen_t g = {.now_ns = 1000 * NS_PER_S,
             .next_transfer = FIRST_TRANSFER_ID};
  qp_rng_seed(&g.rng, qp_test_env_u64("SEED", 7));
  uint64_t batches = qp_test_env_u64("BATCHES", 3000);
  qp_ledger_t *l;
  assert_int_equal(qp_ledger_create(NULL, &l), 0);
  static qp_account_t accounts[BATCH_MAX];
  static qp_transfer_t transfers[BATCH_MAX];
  uint32_t results[BATCH_MAX];
  uint64_t expired_total = 0;
  for (uint64_t b = 0; b < batches; b++) {
    g.now_ns += below(&g, 2 * NS_PER_S);
    uint32_t n = 1 + (uint32_t)below(&g, BATCH_MAX);
    uint64_t what = below(&g, 8);
    if (what == 0 || b < 5) {
      for (uint32_t i = 0; i < n; i++) accounts[i] = gen_account(&g);
      assert_int_equal(qp_ledger_create_accounts(l, g.now_ns, accounts, n, results), 0);
    } else if (what == 1) {
      uint32_t expired = 0;
      assert_int_equal(qp_ledger_expire(l, g.now_ns, &expired), 0);
      expired_total += expired;
    } else {
      for (uint32_t i = 0; i < n; i++) transfers[i] = gen_transfer(&g);
      assert_int_equal(qp_ledger_create_transfers(l, g.now_ns, transfers, n, results), 0);
    }
    assert_totals_recomputed(l);
    if (b % 100 == 0) assert_restore_keeps_totals(l);
  }
  /* The workload must have reached what it is meant to exercise. */
  assert_true(expired_total > 0);
  assert_true(qp_ledger_transfer_count(l) > batches);
  qp_ledger_destroy(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_running_totals_equal_recomputation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
