/*
 * sim_ledger.c - the deterministic simulator: the real durable ledger
 * (qp_db_t in simulated mode: real journal, real group commit, real
 * recovery) over a lying disk (sim_disk.c) and a simulated clock, driven by
 * a workload drawn from one seed, checked step by step against a
 * fault-free reference.
 *
 * The reference is a bare qp_ledger_t, the pure state machine, to which the
 * simulator applies exactly what the durable ledger acknowledged, at the
 * same time input, the way the durable layer applies a group (an expiry
 * sweep first when one is due, then each batch).  After each acknowledged
 * group the results and every account must equal the reference's.
 *
 * Groups that were not acknowledged (the process died, or a write/fsync
 * failed) may or may not have reached the journal.  The simulator keeps
 * the last such group aside; after the restart it reads how many records
 * the recovered journal holds (qp_db_audit().batches): fewer than the
 * reference has acknowledged is a loss; more means a prefix of the pending
 * group survived, whole record by whole record, and exactly that prefix is
 * applied to the reference (then every account and every transfer must
 * match, so the survivors had the effects the reference computes, once);
 * more than the pending group could produce is a violation too.
 *
 * Damage is judged against the disk's knowledge of what the writer meant:
 * recovery may refuse to start (QP_ECORRUPT) only when something read was
 * damaged, must never accept damaged bytes, and a verify pass (replay the
 * durable journal, compare with the ledger's head) must report what a
 * misdirected write did before a crash can hide it.  Detected damage ends
 * that disk: the run starts over on a clean one.
 *
 * Everything is a function of the seed: two SplitMix64 streams (workload,
 * disk; base/rng.h - kept on SplitMix64 so recorded seeds still replay),
 * the simulated clock, and no threads (the simulated db has no applier).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "base/rng.h"
#include "drills/drills.h"
#include "ledger/db.h"

#define GROUP_REQUESTS_MAX 4u
#define BATCH_EVENTS_MAX 16u
#define MODEL_ACCOUNTS_MAX 1024u
#define MODEL_RECENT_MAX 256u
#define MODEL_RECENT_ACCOUNTS_MAX 32u
#define MODEL_PENDING_MAX 128u
#define OPEN_ATTEMPTS_MAX 64u
#define VERIFY_EVERY_STEPS 16u
#define HISTORY_ROWS_MAX 1024u
#define HISTORY_ACCOUNTS_CHECKED 4u
#define CLOCK_START_NS 1700000000000000000ull
#define CLOCK_TICK_NS 1000ull
#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull
#define PPM 1000000u

/* ------------------------------------------------------------ the state */

typedef struct request {
  qp_op_t op;                                  /* create accounts or transfers */
  uint32_t count;                              /* events */
  qp_account_t accounts[BATCH_EVENTS_MAX];     /* events, if accounts */
  qp_transfer_t transfers[BATCH_EVENTS_MAX];   /* events, if transfers */
  uint32_t results[BATCH_EVENTS_MAX];          /* from the db */
  uint32_t ref_results[BATCH_EVENTS_MAX];      /* from the reference */
} request_t;

typedef struct group {
  bool valid;                                  /* holds a group */
  uint32_t count;                              /* requests */
  uint64_t now_ns;                             /* the clock reading the db used */
  request_t reqs[GROUP_REQUESTS_MAX];          /* the batches */
} group_t;

typedef struct model_account {
  qp_u128 id;      /* as submitted (creation may have failed) */
  uint32_t ledger; /* its ledger */
} model_account_t;

/* What the workload generator remembers to make duplicates, posts, voids
 * and transfers between existing accounts.  Not a checker: it does not
 * know which events succeeded. */
typedef struct model {
  model_account_t accounts[MODEL_ACCOUNTS_MAX];        /* accounts submitted */
  uint32_t accounts_count;                             /* used */
  qp_account_t recent_accounts[MODEL_RECENT_ACCOUNTS_MAX]; /* ring of account events */
  uint32_t recent_accounts_count;                      /* events ever put in the ring */
  qp_transfer_t recent[MODEL_RECENT_MAX];              /* ring of transfer events */
  uint32_t recent_count;                               /* events ever put in the ring */
  qp_u128 pending[MODEL_PENDING_MAX];                  /* ring of pending transfer ids */
  uint32_t pending_count;                              /* ids ever put in the ring */
  uint64_t next_account;                               /* id counters */
  uint64_t next_transfer;
  uint64_t id_hi;                                      /* high 64 bits of this run's ids */
} model_t;

typedef struct sim {
  const qp_sim_ledger_config_t *cfg; /* settings */
  qp_sim_stats_t *stats;             /* out */
  uint64_t rng;                      /* workload and driver: SplitMix64 state */
  qp_sim_disk_t *disk;               /* the lying disk */
  qp_db_t *db;                       /* the ledger under test (NULL while down) */
  qp_db_options_t options;           /* how it is opened */
  qp_ledger_t *ref;                  /* the fault-free reference */
  uint64_t ref_records;              /* journal records the reference accounts for */
  uint64_t clock_ns;                 /* simulated wall clock */
  uint64_t clock_reads;              /* reads so far */
  uint64_t last_read_ns;             /* the last value read */
  uint64_t misdirects_seen;          /* durable misdirects at the last verify */
  bool incident;                     /* the last open met damage */
  group_t group;                     /* being executed */
  group_t pending;                   /* failed, not yet resolved by a recovery */
  group_t retry;                     /* failed, to be resent by the client */
  model_t model;                     /* workload memory */
  uint32_t step;                     /* current step */
  bool failed;                       /* a violation was recorded: stop */
  uint64_t faults_traced[QP_SIM_FAULT_COUNT]; /* disk counters at the last trace */
  qp_transfer_t history[HISTORY_ROWS_MAX];    /* one account's history, as the ledger returns it */
  char *detail;                      /* first violation, for humans */
  size_t detail_size;
} sim_t;

enum { GO = 0, START_OVER = 1, STOP = -1 };

static void violation(sim_t *s, uint64_t *counter, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void violation(sim_t *s, uint64_t *counter, const char *fmt, ...) {
  (*counter)++;
  if (s->failed) return;
  s->failed = true;
  if (s->detail == NULL || s->detail_size == 0) return;
  int n = snprintf(s->detail, s->detail_size, "seed %llu step %u: ",
                   (unsigned long long)s->cfg->seed, s->step);
  if (n < 0 || (size_t)n >= s->detail_size) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->detail + n, s->detail_size - (size_t)n, fmt, ap);
  va_end(ap);
}

static void trace(sim_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void trace(sim_t *s, const char *fmt, ...) {
  if (s->cfg->trace == NULL) return;
  char line[512];
  int n = snprintf(line, sizeof line, "[step %u] ", s->step);
  if (n < 0 || (size_t)n >= sizeof line) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  s->cfg->trace(s->cfg->trace_ctx, line);
}

/* Traces the faults the disk injected since the last call. */
static void trace_faults(sim_t *s) {
  if (s->cfg->trace == NULL || s->disk == NULL) return;
  char line[256];
  size_t used = 0;
  for (int k = 0; k < QP_SIM_FAULT_COUNT; k++) {
    uint64_t now = qp_sim_disk_faults(s->disk, (qp_sim_fault_t)k);
    if (now != s->faults_traced[k] && used < sizeof line) {
      int n = snprintf(line + used, sizeof line - used, " %s+%llu",
                       qp_sim_fault_name((qp_sim_fault_t)k),
                       (unsigned long long)(now - s->faults_traced[k]));
      if (n > 0) used += (size_t)n;
    }
    s->faults_traced[k] = now;
  }
  if (used > 0) trace(s, "disk faults:%s", line);
}

static uint64_t below(sim_t *s, uint64_t bound) { return qp_splitmix64_below(&s->rng, bound); }
static bool chance(sim_t *s, uint32_t ppm) { return qp_splitmix64_chance_ppm(&s->rng, ppm); }

static uint64_t sim_clock(void *ctx) {
  sim_t *s = ctx;
  s->clock_ns += CLOCK_TICK_NS;
  s->clock_reads++;
  s->last_read_ns = s->clock_ns;
  return s->clock_ns;
}

/* ------------------------------------------------------------ workload */

static qp_u128 make_id(const model_t *m, uint64_t n) { return ((qp_u128)m->id_hi << 64) | n; }

static void remember_account(model_t *m, const qp_account_t *a) {
  m->recent_accounts[m->recent_accounts_count++ % MODEL_RECENT_ACCOUNTS_MAX] = *a;
  if (a->id == 0 || a->id == QP_U128_MAX || m->accounts_count == MODEL_ACCOUNTS_MAX) return;
  m->accounts[m->accounts_count].id = a->id;
  m->accounts[m->accounts_count].ledger = a->ledger;
  m->accounts_count++;
}

/* An account event: mostly new and valid, sometimes a duplicate (exact or
 * with one field changed) or invalid in one field. */
static void gen_account(sim_t *s, qp_account_t *a, bool bank) {
  model_t *m = &s->model;
  uint32_t seen = m->recent_accounts_count < MODEL_RECENT_ACCOUNTS_MAX ? m->recent_accounts_count
                                                                       : MODEL_RECENT_ACCOUNTS_MAX;
  if (!bank && seen > 0 && below(s, 100) < 8) {
    *a = m->recent_accounts[below(s, seen)];
    if (below(s, 2)) a->user_data_64 += 1; /* exists_with_different_user_data_64 */
    return;
  }
  memset(a, 0, sizeof *a);
  a->id = make_id(m, ++m->next_account);
  a->ledger = bank ? (uint32_t)(m->accounts_count % 2 + 1) : (uint32_t)(1 + below(s, 2));
  a->code = (uint16_t)(1 + below(s, 3));
  a->user_data_64 = below(s, 1000);
  uint64_t f = bank ? 0 : below(s, 10);
  if (f >= 5 && f <= 6) a->flags |= QP_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS;
  if (f >= 7 && f <= 8) a->flags |= QP_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
  if (f == 9)
    a->flags |=
        QP_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS | QP_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
  if (!bank && below(s, 8) == 0) a->flags |= QP_ACCOUNT_HISTORY;
  switch (bank ? 100 : below(s, 100)) {
  case 0: a->ledger = 0; break;
  case 1: a->code = 0; break;
  case 2: a->id = 0; break;
  case 3: a->timestamp = 1; break;
  case 4: a->reserved = 1; break;
  case 5: a->debits_posted = 1; break;
  case 6: a->id = QP_U128_MAX; break;
  default: break;
  }
  remember_account(m, a);
}

static const model_account_t *pick_account(sim_t *s) {
  return &s->model.accounts[below(s, s->model.accounts_count)];
}

/* The other side of a transfer: usually an account of the same ledger. */
static const model_account_t *pick_partner(sim_t *s, const model_account_t *dr) {
  const model_account_t *cr = pick_account(s);
  for (int i = 0; i < 4 && (cr->ledger != dr->ledger || cr->id == dr->id); i++)
    cr = pick_account(s);
  return cr;
}

static void remember_transfer(model_t *m, const qp_transfer_t *t) {
  m->recent[m->recent_count++ % MODEL_RECENT_MAX] = *t;
  if (t->flags & QP_TRANSFER_PENDING) m->pending[m->pending_count++ % MODEL_PENDING_MAX] = t->id;
}

/* Fills a post or void of a remembered pending transfer. */
static void gen_post_or_void(sim_t *s, qp_transfer_t *t, bool post) {
  model_t *m = &s->model;
  uint32_t seen = m->pending_count < MODEL_PENDING_MAX ? m->pending_count : MODEL_PENDING_MAX;
  t->pending_id = m->pending[below(s, seen)];
  t->flags = post ? QP_TRANSFER_POST_PENDING_TRANSFER : QP_TRANSFER_VOID_PENDING_TRANSFER;
  t->amount = post && below(s, 3) == 0 ? (qp_u128)(1 + below(s, 800)) : 0;
  t->debit_account_id = t->credit_account_id = 0;
  t->ledger = 0;
  t->code = 0;
  if (below(s, 4) == 0) { /* name the accounts: right or wrong, the ledger decides */
    const model_account_t *dr = pick_account(s);
    t->debit_account_id = dr->id;
    t->credit_account_id = pick_partner(s, dr)->id;
  }
}

/* One of a handful of ways for a transfer to be wrong. */
static void spoil_transfer(sim_t *s, qp_transfer_t *t) {
  switch (below(s, 10)) {
  case 0: t->id = 0; break;
  case 1: t->credit_account_id = t->debit_account_id; break;
  case 2: t->credit_account_id = make_id(&s->model, 1u << 30); break; /* never created */
  case 3: t->pending_id = 5; break;
  case 4: t->timeout = 3; break;
  case 5: t->amount = 0; break;
  case 6: t->ledger = 3; break;
  case 7: t->amount = QP_U128_MAX - below(s, 10); break; /* overflows */
  case 8: t->flags |= 1u << 8; break;                    /* reserved flag */
  default: t->flags |= QP_TRANSFER_PENDING | QP_TRANSFER_POST_PENDING_TRANSFER; break;
  }
}

static void gen_transfer(sim_t *s, qp_transfer_t *t) {
  model_t *m = &s->model;
  uint32_t seen = m->recent_count < MODEL_RECENT_MAX ? m->recent_count : MODEL_RECENT_MAX;
  uint64_t kind = below(s, 100);
  if (kind >= 70 && kind < 80 && seen > 0) { /* a duplicate, as a retrying client sends */
    *t = m->recent[below(s, seen)];
    if (below(s, 3) == 0) t->amount += 1;
    return;
  }
  memset(t, 0, sizeof *t);
  t->id = make_id(m, (1ull << 40) + ++m->next_transfer);
  t->code = (uint16_t)(1 + below(s, 3));
  const model_account_t *dr = pick_account(s);
  const model_account_t *cr = pick_partner(s, dr);
  t->debit_account_id = dr->id;
  t->credit_account_id = cr->id;
  t->ledger = dr->ledger;
  t->amount = 1 + below(s, 1000);
  t->user_data_64 = below(s, 1u << 20);
  bool have_pending = m->pending_count > 0;
  if (kind >= 35 && kind < 50) {
    t->flags = QP_TRANSFER_PENDING;
    t->timeout = (uint32_t)below(s, 12);
    if (below(s, 8) == 0) { /* a closing transfer: it expires and so re-opens the account */
      t->flags |= below(s, 2) ? QP_TRANSFER_CLOSING_DEBIT : QP_TRANSFER_CLOSING_CREDIT;
      t->timeout = 1 + (uint32_t)below(s, 3);
      if (below(s, 2) == 0) t->amount = 0;
    }
  } else if (kind >= 50 && kind < 62 && have_pending) {
    gen_post_or_void(s, t, true);
  } else if (kind >= 62 && kind < 70 && have_pending) {
    gen_post_or_void(s, t, false);
  } else if (kind >= 80 && kind < 86) {
    t->flags = below(s, 2) ? QP_TRANSFER_BALANCING_DEBIT : QP_TRANSFER_BALANCING_CREDIT;
    t->amount = 1 + below(s, 5000);
  } else if (kind >= 86 && kind < 92) {
    spoil_transfer(s, t);
  } else if (kind >= 92) { /* funding from the bank account of the ledger */
    t->debit_account_id = m->accounts[dr->ledger == 2 && m->accounts_count > 1 ? 1 : 0].id;
    t->amount = 1000 + below(s, 10000);
  }
  remember_transfer(m, t);
}

/* Links some events into chains; sometimes leaves the last chain open. */
static void link_events(sim_t *s, request_t *r) {
  for (uint32_t i = 0; i < r->count; i++) {
    uint16_t *flags =
        r->op == QP_OP_CREATE_ACCOUNTS ? &r->accounts[i].flags : &r->transfers[i].flags;
    bool link = below(s, 5) == 0;
    bool last = i + 1 == r->count;
    if (link && (!last || below(s, 3) == 0)) *flags |= QP_TRANSFER_LINKED; /* same bit for both */
  }
}

static void gen_request(sim_t *s, request_t *r, bool first) {
  bool accounts = first || s->model.accounts_count < 4 || below(s, 100) < 12;
  r->op = accounts ? QP_OP_CREATE_ACCOUNTS : QP_OP_CREATE_TRANSFERS;
  r->count = first ? 8u : (uint32_t)(1 + below(s, below(s, 4) == 0 ? BATCH_EVENTS_MAX : 6));
  for (uint32_t i = 0; i < r->count; i++) {
    if (accounts) gen_account(s, &r->accounts[i], first && i < 2);
    else gen_transfer(s, &r->transfers[i]);
  }
  if (!first) link_events(s, r);
}

static void gen_group(sim_t *s, group_t *g) {
  bool first = s->model.accounts_count == 0;
  g->valid = true;
  g->count = first ? 1u : (uint32_t)(1 + (below(s, 4) == 0 ? below(s, GROUP_REQUESTS_MAX) : 0));
  for (uint32_t i = 0; i < g->count; i++) {
    if (!first && below(s, 12) == 0) { /* the server's expiry timer tick */
      g->reqs[i].op = QP_OP_EXPIRE;
      g->reqs[i].count = 0;
      continue;
    }
    if (!first && below(s, 50) == 0) { /* malformed: no events; skipped, never journaled */
      g->reqs[i].op = QP_OP_CREATE_TRANSFERS;
      g->reqs[i].count = 0;
      continue;
    }
    gen_request(s, &g->reqs[i], first && i == 0);
  }
}

/* Create batches in a group (expiry ticks are not batches of events). */
static bool malformed(const request_t *r) { return r->op != QP_OP_EXPIRE && r->count == 0; }

static uint32_t group_batches(const group_t *g) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < g->count; i++)
    n += g->reqs[i].op != QP_OP_EXPIRE && !malformed(&g->reqs[i]);
  return n;
}

static void advance_clock(sim_t *s) {
  if (below(s, 8) == 0) s->clock_ns += below(s, 1000); /* barely moves: timestamps run ahead */
  else s->clock_ns += 1 + below(s, 1500) * NS_PER_MS;
  if (below(s, 40) == 0) s->clock_ns += (5 + below(s, 15)) * NS_PER_S; /* let timeouts pass */
  if (chance(s, s->cfg->clock_back_ppm)) {                            /* NTP steps back */
    uint64_t back = below(s, 2000) * NS_PER_MS;
    s->clock_ns = s->clock_ns - back > CLOCK_START_NS ? s->clock_ns - back : CLOCK_START_NS;
  }
}

/* ----------------------------------------------------------- reference */

/* Applies to the reference what the durable layer applies for group g at
 * g->now_ns: the expiry sweep if one is due, then each request in order -
 * a create batch is one journal record, an expiry sweep (due or asked for)
 * is one only if it voided something - stopping once `records_max` records
 * are accounted for.  Returns the records; sets *batches_out to the create
 * batches applied. */
static uint64_t ref_apply(sim_t *s, group_t *g, uint64_t records_max, uint32_t *batches_out) {
  uint64_t records = 0;
  uint32_t batches = 0;
  uint64_t due = qp_ledger_next_expiry(s->ref);
  if (records_max > 0 && due != 0 && due <= g->now_ns) {
    uint32_t expired = 0;
    int rc = qp_ledger_expire(s->ref, g->now_ns, &expired);
    QP_ASSERT(rc == 0);
    records += expired > 0;
  }
  for (uint32_t i = 0; i < g->count && records < records_max; i++) {
    request_t *r = &g->reqs[i];
    if (malformed(r)) continue; /* refused with QP_EINVAL, never applied */
    if (r->op == QP_OP_EXPIRE) {
      uint32_t expired = 0;
      int rc = qp_ledger_expire(s->ref, g->now_ns, &expired);
      QP_ASSERT(rc == 0);
      records += expired > 0;
      continue;
    }
    int rc =
        r->op == QP_OP_CREATE_ACCOUNTS
            ? qp_ledger_create_accounts(s->ref, g->now_ns, r->accounts, r->count, r->ref_results)
            : qp_ledger_create_transfers(s->ref, g->now_ns, r->transfers, r->count, r->ref_results);
    QP_ASSERT(rc == 0);
    records++;
    batches++;
  }
  s->ref_records += records;
  *batches_out = batches;
  return records;
}

/* ---------------------------------------------------------------- checks */

static const char *u128_text(qp_u128 v, char buf[QP_U128_BUF_SIZE]) {
  qp_u128_format(v, buf);
  return buf;
}

static int compare_account(void *ctx, const qp_account_t *want) {
  sim_t *s = ctx;
  qp_account_t got;
  uint32_t found = 0;
  char id[QP_U128_BUF_SIZE];
  int rc = qp_db_lookup_accounts(s->db, &want->id, 1, &got, &found);
  if (rc != 0 || found != 1) {
    violation(s, &s->stats->losses, "account %s is missing from the ledger (%s)",
              u128_text(want->id, id), qp_err_name(rc));
    return 1;
  }
  uint8_t a[QP_RECORD_SIZE], b[QP_RECORD_SIZE];
  qp_account_encode(a, want);
  qp_account_encode(b, &got);
  if (memcmp(a, b, sizeof a) != 0) {
    violation(s, &s->stats->state_mismatches,
              "account %s differs from the reference (balances or fields)",
              u128_text(want->id, id));
    return 1;
  }
  s->stats->accounts_checked++;
  return 0;
}

typedef struct transfer_check {
  sim_t *s;          /* the run */
  uint64_t checked;  /* transfers compared */
} transfer_check_t;

static int compare_transfer(sim_t *s, const qp_transfer_t *want, qp_pending_state_t want_state) {
  qp_transfer_t got;
  qp_pending_state_t state = QP_PENDING_NONE;
  uint32_t found = 0;
  char id[QP_U128_BUF_SIZE];
  int rc = qp_db_lookup_transfers(s->db, &want->id, 1, &got, &state, &found);
  if (rc != 0 || found != 1) {
    violation(s, &s->stats->losses, "transfer %s is missing from the ledger (%s)",
              u128_text(want->id, id), qp_err_name(rc));
    return 1;
  }
  uint8_t a[QP_RECORD_SIZE], b[QP_RECORD_SIZE];
  qp_transfer_encode(a, want);
  qp_transfer_encode(b, &got);
  if (memcmp(a, b, sizeof a) != 0 || state != want_state) {
    violation(s, &s->stats->state_mismatches, "transfer %s differs from the reference (%s vs %s)",
              u128_text(want->id, id), qp_pending_state_name(state),
              qp_pending_state_name(want_state));
    return 1;
  }
  return 0;
}

static int compare_transfer_visit(void *ctx, const qp_transfer_t *want, qp_pending_state_t state) {
  transfer_check_t *c = ctx;
  if (compare_transfer(c->s, want, state) != 0) return 1;
  c->checked++;
  return 0;
}

/* The ledger's counts, invariant and every account against the reference;
 * with all_transfers, every transfer too (after a recovery).  The full
 * invariant check (qp_db_check, qp_ledger_check) runs after every group:
 * the audit alone reads the running totals and the last full check. */
static void check_state(sim_t *s, bool all_transfers) {
  qp_db_audit_t a;
  bool db_holds = false;
  int rc = qp_db_check(s->db, &db_holds);
  if (rc == 0) rc = qp_db_audit(s->db, &a, NULL, 0, NULL);
  if (rc != 0) {
    violation(s, &s->stats->other_violations, "qp_db_check/audit failed: %s", qp_err_name(rc));
    return;
  }
  bool ref_holds = qp_ledger_check(s->ref);
  if (!a.invariant_ok || !db_holds || !ref_holds) {
    violation(s, &s->stats->invariant_violations, "ledger invariant broken (db %s, reference %s)",
              a.invariant_ok && db_holds ? "ok" : "BROKEN", ref_holds ? "ok" : "BROKEN");
    return;
  }
  if (a.full_check_seq != a.journal_seq || a.journal_seq != a.batches) {
    violation(s, &s->stats->other_violations, "the audit at record %llu reports the full check "
              "at record %llu", (unsigned long long)a.journal_seq,
              (unsigned long long)a.full_check_seq);
    return;
  }
  if (a.batches != s->ref_records || a.accounts != qp_ledger_account_count(s->ref) ||
      a.transfers != qp_ledger_transfer_count(s->ref)) {
    violation(
        s, &s->stats->state_mismatches,
        "ledger holds %llu records, %llu accounts, %llu transfers; reference %llu, %llu, %llu",
        (unsigned long long)a.batches, (unsigned long long)a.accounts,
        (unsigned long long)a.transfers, (unsigned long long)s->ref_records,
        (unsigned long long)qp_ledger_account_count(s->ref),
        (unsigned long long)qp_ledger_transfer_count(s->ref));
    return;
  }
  if (qp_ledger_each_account(s->ref, compare_account, s) != 0 || !all_transfers) return;
  transfer_check_t c = {.s = s};
  if (qp_ledger_each_transfer(s->ref, compare_transfer_visit, &c) == 0)
    s->stats->transfers_checked += c.checked;
}

/* The transfers of an acknowledged group, as the reference has them. */
typedef struct history_check {
  sim_t *s;            /* the run */
  qp_u128 account;     /* whose history */
  uint32_t got;        /* rows the ledger returned */
  uint32_t seen;       /* the reference's transfers of the account so far */
  bool differs;        /* a row differed */
} history_check_t;

static int history_visit(void *ctx, const qp_transfer_t *t, qp_pending_state_t state) {
  (void)state;
  history_check_t *c = ctx;
  if (t->debit_account_id != c->account && t->credit_account_id != c->account) return 0;
  if (c->seen < c->got) {
    uint8_t a[QP_RECORD_SIZE], b[QP_RECORD_SIZE];
    qp_transfer_encode(a, t);
    qp_transfer_encode(b, &c->s->history[c->seen]);
    if (memcmp(a, b, sizeof a) != 0) c->differs = true;
  }
  c->seen++;
  return c->differs;
}

/* A few accounts' transfer histories (the ledger's in-memory history
 * index, rebuilt at every open) against the reference's transfers. */
static void check_history(sim_t *s) {
  for (uint32_t i = 0; i < HISTORY_ACCOUNTS_CHECKED && s->model.accounts_count > 0 && !s->failed;
       i++) {
    history_check_t c = {.s = s, .account = pick_account(s)->id};
    qp_account_filter_t f = {.account_id = c.account, .limit = HISTORY_ROWS_MAX};
    int rc = qp_db_get_account_transfers(s->db, &f, s->history, &c.got);
    if (rc == QP_EINVAL) continue; /* an id the filter refuses (0 or 2^128-1) */
    if (rc == 0) qp_ledger_each_transfer(s->ref, history_visit, &c);
    uint32_t want = c.seen < HISTORY_ROWS_MAX ? c.seen : HISTORY_ROWS_MAX;
    if (rc != 0 || c.differs || c.got != want) {
      char id[QP_U128_BUF_SIZE];
      violation(s, &s->stats->state_mismatches,
                "account %s: history query returned %u transfers (%s), the "
                "reference has %u%s",
                u128_text(c.account, id), c.got, qp_err_name(rc), want,
                c.differs ? " and they differ" : "");
    }
  }
}

static void check_group_transfers(sim_t *s, const group_t *g) {
  for (uint32_t i = 0; i < g->count && !s->failed; i++) {
    const request_t *r = &g->reqs[i];
    if (r->op != QP_OP_CREATE_TRANSFERS) continue;
    for (uint32_t j = 0; j < r->count && !s->failed; j++) {
      if (r->ref_results[j] != QP_CREATE_TRANSFER_OK) continue;
      qp_transfer_t want;
      qp_pending_state_t state;
      QP_ASSERT(qp_ledger_lookup_transfer(s->ref, r->transfers[j].id, &want, &state) == 0);
      compare_transfer(s, &want, state);
    }
  }
}

static void compare_results(sim_t *s, const group_t *g) {
  for (uint32_t i = 0; i < g->count; i++) {
    const request_t *r = &g->reqs[i];
    for (uint32_t j = 0; j < r->count; j++) {
      if (r->results[j] == r->ref_results[j]) continue;
      bool acc = r->op == QP_OP_CREATE_ACCOUNTS;
      const char *got = acc ? qp_create_account_result_name(r->results[j])
                            : qp_create_transfer_result_name(r->results[j]);
      const char *want = acc ? qp_create_account_result_name(r->ref_results[j])
                             : qp_create_transfer_result_name(r->ref_results[j]);
      violation(s, &s->stats->result_mismatches, "batch %u event %u: ledger said %s, reference %s",
                i, j, got ? got : "?", want ? want : "?");
      return;
    }
  }
}

/* Replays the durable journal (fault-free reads) and compares it with the
 * ledger's head, as `quipu verify` does.  Returns START_OVER if it reported
 * damage, GO if all agrees, STOP on a violation. */
static int verify_pass(sim_t *s, const char *when) {
  s->misdirects_seen = qp_sim_disk_misdirects_durable(s->disk);
  qp_io_t io;
  qp_sim_disk_durable_io(s->disk, &io);
  qp_journal_scan_t scan;
  int rc = qp_journal_scan(&io, NULL, NULL, &scan);
  qp_db_audit_t a;
  if (rc == 0) rc = qp_db_audit(s->db, &a, NULL, 0, NULL);
  if (rc != 0) {
    violation(s, &s->stats->other_violations, "verify pass (%s) failed: %s", when, qp_err_name(rc));
    return STOP;
  }
  uint64_t durable_size;
  qp_sim_disk_durable(s->disk, &durable_size);
  if (scan.problem == 0 && scan.last_seq == a.batches && scan.valid_bytes == a.journal_bytes &&
      durable_size == a.journal_bytes && memcmp(scan.last_hash, a.head_hash, QP_HASH_SIZE) == 0)
    return GO;
  if (!qp_sim_disk_damaged(s->disk)) {
    violation(
        s, &s->stats->other_violations,
        "verify pass (%s): the durable journal (%llu records, %llu of %llu bytes valid: %s) does "
        "not hold what the ledger serves (%llu records, %llu bytes), and no fault damaged it",
        when, (unsigned long long)scan.last_seq, (unsigned long long)scan.valid_bytes,
        (unsigned long long)durable_size, scan.problem ? scan.detail : "no problem found",
        (unsigned long long)a.batches, (unsigned long long)a.journal_bytes);
    return STOP;
  }
  s->stats->corruptions_injected++;
  s->stats->corruptions_detected++;
  s->stats->detected_by_verify++;
  trace(s, "verify pass (%s) reports damage: %s", when,
        scan.problem ? scan.detail : "journal shorter than the ledger");
  return START_OVER;
}

/* ------------------------------------------------------- restarts */

static void retire_disk(sim_t *s) {
  for (int k = 0; k < QP_SIM_FAULT_COUNT; k++)
    s->stats->faults[k] += qp_sim_disk_faults(s->disk, (qp_sim_fault_t)k);
  qp_sim_disk_destroy(s->disk);
  s->disk = NULL;
}

static int new_disk(sim_t *s) {
  qp_sim_disk_config_t dc = s->cfg->disk;
  if (dc.capacity_bytes == 0) dc.capacity_bytes = (64u << 10) + below(s, 2u << 20);
  int rc = qp_sim_disk_create(&dc, qp_splitmix64(&s->rng), &s->disk);
  if (rc != 0) return rc;
  s->options.open_journal = qp_sim_disk_open;
  s->options.open_journal_ctx = s->disk;
  s->misdirects_seen = 0;
  memset(s->faults_traced, 0, sizeof s->faults_traced);
  return 0;
}

/* Opens the ledger over the disk, riding out crashes during recovery.
 * A refusal to start (QP_ECORRUPT) is right only if what recovery read was
 * damaged: a bit flip on the way (transient: try again) or bytes a
 * misdirected write changed (persistent: start over on a clean disk). */
static int open_db(sim_t *s) {
  for (uint32_t attempt = 0; attempt < OPEN_ATTEMPTS_MAX; attempt++) {
    uint64_t flips = qp_sim_disk_faults(s->disk, QP_SIM_FAULT_BITFLIP);
    uint64_t syncs_failed = qp_sim_disk_faults(s->disk, QP_SIM_FAULT_SYNC_EIO);
    bool damaged = qp_sim_disk_damaged(s->disk);
    qp_db_recovery_t rec;
    char detail[512];
    int rc = qp_db_open("sim", &s->options, &s->db, &rec, detail, sizeof detail);
    bool flipped = qp_sim_disk_faults(s->disk, QP_SIM_FAULT_BITFLIP) != flips;
    trace_faults(s);
    if (rc == 0) {
      s->incident = flipped || damaged;
      s->stats->torn_tails_cut += rec.torn_bytes > 0;
      trace(s, "open: %llu records, %llu bytes; torn tail cut: %llu bytes at %llu%s",
            (unsigned long long)rec.batches, (unsigned long long)rec.journal_bytes,
            (unsigned long long)rec.torn_bytes, (unsigned long long)rec.torn_offset,
            s->incident ? "; damage was read" : "");
      return GO;
    }
    trace(s, "open failed: %s: %s", qp_err_name(rc), detail);
    s->db = NULL;
    if (qp_sim_disk_dead(s->disk)) { /* died during recovery: restart again */
      qp_sim_disk_restart(s->disk, chance(s, s->cfg->power_loss_ppm));
      continue;
    }
    if (rc == QP_EIO &&
        (flipped || qp_sim_disk_faults(s->disk, QP_SIM_FAULT_SYNC_EIO) != syncs_failed)) {
      /* fdatasync failed during recovery, or reads did not reproduce: the
       * operator starts it again. */
      qp_sim_disk_restart(s->disk, chance(s, s->cfg->power_loss_ppm));
      continue;
    }
    if (rc == QP_ECORRUPT && (flipped || damaged)) {
      s->stats->corruptions_injected++;
      s->stats->corruptions_detected++;
      s->stats->detected_at_open++;
      if (damaged) return START_OVER;
      continue;
    }
    violation(s, rc == QP_ECORRUPT ? &s->stats->silent_corruptions : &s->stats->other_violations,
              "open failed with %s although nothing read was damaged: %s", qp_err_name(rc), detail);
    return STOP;
  }
  violation(s, &s->stats->other_violations, "recovery did not finish in %u attempts",
            OPEN_ATTEMPTS_MAX);
  return STOP;
}

/* After a recovery: the journal must hold every acknowledged record, plus
 * at most a whole-record prefix of the group that was in flight; the
 * reference takes that prefix; then everything must match. */
static int reconcile(sim_t *s) {
  qp_db_audit_t a;
  int rc = qp_db_audit(s->db, &a, NULL, 0, NULL);
  if (rc != 0) {
    violation(s, &s->stats->other_violations, "qp_db_audit failed: %s", qp_err_name(rc));
    return STOP;
  }
  if (a.batches < s->ref_records) {
    violation(s, &s->stats->losses,
              "acknowledged journal records %llu..%llu are missing after recovery",
              (unsigned long long)a.batches + 1, (unsigned long long)s->ref_records);
    return STOP;
  }
  uint64_t extra = a.batches - s->ref_records;
  uint32_t present = 0;
  if (extra > 0 && (!s->pending.valid || ref_apply(s, &s->pending, extra, &present) != extra)) {
    violation(s, &s->stats->losses,
              "the journal holds %llu records more than were acknowledged or in "
              "flight",
              (unsigned long long)(a.batches - s->ref_records));
    return STOP;
  }
  if (s->pending.valid)
    trace(s,
          "recovered %llu acknowledged records and %llu of the group in flight (%u of its %u "
          "batches)",
          (unsigned long long)s->ref_records - extra, (unsigned long long)extra, present,
          group_batches(&s->pending));
  if (s->pending.valid) {
    s->stats->unacked_present += present;
    s->stats->unacked_absent += group_batches(&s->pending) - present;
    s->pending.valid = false;
  }
  if (!qp_sim_disk_intact_below(s->disk, a.journal_bytes)) {
    violation(s, &s->stats->silent_corruptions,
              "recovery accepted %llu journal bytes that include damaged "
              "ones",
              (unsigned long long)a.journal_bytes);
    return STOP;
  }
  check_state(s, true);
  if (!s->failed) check_history(s);
  if (s->failed) return STOP;
  rc = verify_pass(s, "after recovery");
  if (rc == GO && s->incident) {
    s->stats->corruptions_injected++;
    s->stats->corruptions_tolerated++;
  }
  return rc;
}

static int start_over(sim_t *s);

/* The process dies (or stops) and comes back: close, lose the page cache
 * on a power loss, recover, reconcile. */
static int restart(sim_t *s, bool power_loss) {
  trace(s, "restart: %s",
        power_loss ? "power loss (page cache lost)" : "process restart (page cache kept)");
  qp_db_close(s->db);
  s->db = NULL;
  qp_sim_disk_restart(s->disk, power_loss);
  s->stats->restarts++;
  int rc = open_db(s);
  if (rc == GO) rc = reconcile(s);
  return rc == START_OVER ? start_over(s) : rc;
}

static void model_reset(sim_t *s) {
  uint64_t accounts = s->model.next_account, transfers = s->model.next_transfer,
           hi = s->model.id_hi;
  memset(&s->model, 0, sizeof s->model);
  s->model.next_account = accounts;
  s->model.next_transfer = transfers;
  s->model.id_hi = hi;
}

/* Damage was detected: this disk is done.  Start over on a clean one. */
static int start_over(sim_t *s) {
  qp_db_close(s->db);
  s->db = NULL;
  retire_disk(s);
  qp_ledger_destroy(s->ref);
  s->ref = NULL;
  s->ref_records = 0;
  s->pending.valid = s->retry.valid = false;
  model_reset(s);
  s->stats->clean_restarts++;
  trace(s, "damage detected: starting over on a clean disk");
  int rc = new_disk(s);
  if (rc == 0) rc = qp_ledger_create(&s->options.ledger, &s->ref);
  if (rc != 0) {
    violation(s, &s->stats->other_violations, "cannot start over: %s", qp_err_name(rc));
    return STOP;
  }
  rc = open_db(s);
  if (rc == GO) rc = reconcile(s);
  if (rc == START_OVER) {
    violation(s, &s->stats->other_violations, "a fresh disk was reported damaged");
    return STOP;
  }
  return rc;
}

/* ------------------------------------------------------------ one step */

static void build_requests(group_t *g, qp_db_request_t *reqs) {
  for (uint32_t i = 0; i < g->count; i++) {
    request_t *r = &g->reqs[i];
    const void *events =
        r->op == QP_OP_CREATE_ACCOUNTS ? (const void *)r->accounts : (const void *)r->transfers;
    bool expire = r->op == QP_OP_EXPIRE;
    reqs[i] = (qp_db_request_t){.op = r->op,
                                .events = expire ? NULL : events,
                                .count = r->count,
                                .results = expire ? NULL : r->results};
  }
}

static int on_acked(sim_t *s, group_t *g, const qp_db_request_t *reqs, uint64_t reads) {
  if (reads != 1) {
    violation(s, &s->stats->other_violations, "the group read the clock %llu times; the reference "
              "assumes one group commit", (unsigned long long)reads);
    return STOP;
  }
  for (uint32_t i = 0; i < g->count; i++) {
    int want = malformed(&g->reqs[i]) ? QP_EINVAL : 0;
    if (reqs[i].status != want) {
      violation(s, &s->stats->other_violations,
                "acknowledged group has batch %u with status %s, not %s", i,
                qp_err_name(reqs[i].status), qp_err_name(want));
      return STOP;
    }
    if (want != 0) continue;
    s->stats->batches_acked += g->reqs[i].op != QP_OP_EXPIRE;
    s->stats->events_acked += g->reqs[i].count;
  }
  s->stats->groups_acked++;
  uint32_t batches;
  ref_apply(s, g, UINT64_MAX, &batches);
  compare_results(s, g);
  if (!s->failed) check_state(s, false);
  if (!s->failed) check_group_transfers(s, g);
  if (s->failed) return STOP;
  bool misdirected = qp_sim_disk_misdirects_durable(s->disk) != s->misdirects_seen;
  if (s->step % VERIFY_EVERY_STEPS == 0) check_history(s);
  if (s->failed) return STOP;
  if (misdirected || s->step % VERIFY_EVERY_STEPS == 0) {
    int rc = verify_pass(s, "after an acknowledged group");
    return rc == START_OVER ? start_over(s) : rc;
  }
  return GO;
}

/* Not acknowledged because the disk is full: nothing may have changed. */
static int on_enospc(sim_t *s, const group_t *g, const qp_db_request_t *reqs) {
  for (uint32_t i = 0; i < g->count; i++)
    if (reqs[i].status != QP_ENOSPC && !malformed(&g->reqs[i])) {
      violation(s, &s->stats->other_violations,
                "batch %u of a group refused for ENOSPC has status %s", i,
                qp_err_name(reqs[i].status));
      return STOP;
    }
  s->stats->enospc_rejected++;
  check_state(s, false);
  if (s->failed) return STOP;
  if (below(s, 2)) qp_sim_disk_grow(s->disk, (64u << 10) + below(s, 256u << 10)); /* space freed */
  s->retry = *g;
  return GO;
}

/* A write or fsync failed: the ledger must be fail-stop, and must say so
 * to every later write, and must not have acknowledged any batch. */
static int on_failstop(sim_t *s, const group_t *g, const qp_db_request_t *reqs, int rc) {
  s->stats->failstops++;
  if (!qp_db_stopped(s->db)) {
    violation(s, &s->stats->failstop_violations,
              "qp_db_execute failed with %s but the db is not stopped", qp_err_name(rc));
    return STOP;
  }
  for (uint32_t i = 0; i < g->count; i++)
    if (reqs[i].status == 0) {
      violation(s, &s->stats->failstop_violations, "batch %u of a failed group reports success", i);
      return STOP;
    }
  qp_account_t probe = {.id = make_id(&s->model, ++s->model.next_account), .ledger = 1, .code = 1};
  uint32_t result = 0;
  qp_db_request_t req = {
      .op = QP_OP_CREATE_ACCOUNTS, .events = &probe, .count = 1, .results = &result};
  int prc = qp_db_execute(s->db, &req, 1);
  qp_account_t out;
  uint32_t found;
  int lrc = qp_db_lookup_accounts(s->db, &probe.id, 1, &out, &found);
  if (prc != QP_ESTOPPED || req.status != QP_ESTOPPED || lrc != QP_ESTOPPED) {
    violation(s, &s->stats->failstop_violations,
              "a stopped db answered a write with %s (status %s) and a "
              "read with %s",
              qp_err_name(prc), qp_err_name(req.status), qp_err_name(lrc));
    return STOP;
  }
  return GO;
}

static void trace_group(sim_t *s, const group_t *g, int rc) {
  if (s->cfg->trace == NULL) return;
  char what[160];
  size_t used = 0;
  for (uint32_t i = 0; i < g->count && used < sizeof what; i++) {
    const request_t *r = &g->reqs[i];
    int n = snprintf(what + used, sizeof what - used, "%s%s", i ? ", " : "",
                     r->op == QP_OP_EXPIRE            ? "expire"
                     : r->op == QP_OP_CREATE_ACCOUNTS ? "accounts"
                                                      : "transfers");
    if (n > 0) used += (size_t)n;
    if (r->op != QP_OP_EXPIRE && used < sizeof what) {
      n = snprintf(what + used, sizeof what - used, " x%u", r->count);
      if (n > 0) used += (size_t)n;
    }
  }
  if (used == 0) what[0] = '\0';
  trace(s, "group [%s] at %llu ns: %s", what, (unsigned long long)g->now_ns,
        rc == 0 ? "acknowledged" : qp_err_name(rc));
}

static int execute_group(sim_t *s, group_t *g) {
  qp_db_request_t reqs[GROUP_REQUESTS_MAX];
  build_requests(g, reqs);
  uint64_t reads = s->clock_reads;
  int rc = qp_db_execute(s->db, reqs, g->count);
  g->now_ns = s->last_read_ns;
  trace_group(s, g, rc);
  trace_faults(s);
  if (qp_sim_disk_unreserved_writes(s->disk) != 0) {
    violation(s, &s->stats->other_violations,
              "the journal wrote past the space it had reserved (a full "
              "disk would fail the write and stop the ledger instead of refusing the group)");
    return STOP;
  }
  if (rc == 0 && !qp_sim_disk_dead(s->disk)) return on_acked(s, g, reqs, s->clock_reads - reads);
  if (rc == 0) {
    violation(s, &s->stats->other_violations,
              "a group was acknowledged although the disk died under it");
    return STOP;
  }
  bool dead = qp_sim_disk_dead(s->disk);
  if (!dead && rc == QP_ENOSPC && !qp_db_stopped(s->db)) return on_enospc(s, g, reqs);
  s->pending = *g;
  s->retry = *g;
  if (!dead && on_failstop(s, g, reqs, rc) != GO) return STOP;
  return restart(s, chance(s, dead ? s->cfg->power_loss_ppm : PPM / 2));
}

static int run_step(sim_t *s) {
  s->stats->steps++;
  advance_clock(s);
  if (chance(s, s->cfg->idle_crash_ppm)) {
    trace(s, "killed between I/O calls");
    qp_sim_disk_kill(s->disk);
    int rc = restart(s, chance(s, s->cfg->power_loss_ppm));
    if (rc != GO) return rc;
  }
  if (s->retry.valid && chance(s, s->cfg->retry_ppm)) {
    trace(s, "the client resends the group that was not acknowledged");
    s->group = s->retry;
  } else {
    gen_group(s, &s->group);
  }
  s->retry.valid = false;
  return execute_group(s, &s->group);
}

/* ------------------------------------------------------------- the run */

void qp_sim_ledger_config_default(qp_sim_ledger_config_t *c, uint64_t seed, uint32_t steps) {
  memset(c, 0, sizeof *c);
  c->seed = seed;
  c->steps = steps;
  c->disk.crash_ppm = 15000;
  c->disk.torn_ppm = 500000;
  c->disk.misdirect_ppm = 1000;
  c->disk.bitflip_ppm = 30000;
  c->disk.sync_eio_ppm = 8000;
  c->disk.write_eio_ppm = 3000;
  c->disk.reserve_enospc_ppm = 4000; /* the journal reserves twice a group on a small disk */
  c->disk.write_enospc_ppm = 2000;
  c->disk.capacity_bytes = 0; /* drawn per disk: 64 KiB .. 2 MiB */
  c->idle_crash_ppm = 10000;
  c->power_loss_ppm = 500000;
  c->retry_ppm = 750000;
  c->clock_back_ppm = 20000;
}

uint64_t qp_sim_violations(const qp_sim_stats_t *s) {
  return s->losses + s->result_mismatches + s->state_mismatches + s->invariant_violations +
         s->failstop_violations + s->silent_corruptions + s->other_violations;
}

/* The counters in a fixed order, for the digest and for summing. */
#define SIM_COUNTERS(XX)                                                                   \
  XX(seeds) XX(steps) XX(groups_acked) XX(batches_acked) XX(events_acked)                 \
  XX(transfers_checked) XX(accounts_checked) XX(restarts) XX(torn_tails_cut)              \
  XX(unacked_present) XX(unacked_absent) XX(failstops) XX(enospc_rejected)                \
  XX(corruptions_injected) XX(corruptions_detected) XX(detected_at_open)                  \
  XX(detected_by_verify) XX(corruptions_tolerated) XX(clean_restarts) XX(losses)          \
  XX(result_mismatches) XX(state_mismatches) XX(invariant_violations)                     \
  XX(failstop_violations) XX(silent_corruptions) XX(other_violations)

void qp_sim_stats_add(qp_sim_stats_t *into, const qp_sim_stats_t *from) {
#define QP__SIM_ADD(f) into->f += from->f;
  SIM_COUNTERS(QP__SIM_ADD)
#undef QP__SIM_ADD
  for (int k = 0; k < QP_SIM_FAULT_COUNT; k++) into->faults[k] += from->faults[k];
}

static void hash_u64(qp_hash_ctx_t *h, uint64_t v) {
  uint8_t b[8];
  qp_store_u64(b, v);
  qp_hash256_update(h, b, sizeof b);
}

static void digest_run(sim_t *s, uint8_t digest[QP_HASH_SIZE]) {
  qp_hash_ctx_t h;
  qp_hash256_init(&h);
  uint64_t size = 0;
  const uint8_t *bytes = s->disk ? qp_sim_disk_durable(s->disk, &size) : NULL;
  hash_u64(&h, size);
  if (size > 0) qp_hash256_update(&h, bytes, (size_t)size);
  if (s->disk) retire_disk(s); /* its fault counts join the stats first */
  const qp_sim_stats_t *st = s->stats;
#define QP__SIM_HASH(f) hash_u64(&h, st->f);
  SIM_COUNTERS(QP__SIM_HASH)
#undef QP__SIM_HASH
  for (int k = 0; k < QP_SIM_FAULT_COUNT; k++) hash_u64(&h, st->faults[k]);
  hash_u64(&h, s->ref_records);
  hash_u64(&h, s->clock_ns);
  qp_hash256_final(&h, digest);
}

static int setup(sim_t *s) {
  s->rng = s->cfg->seed;
  s->model.id_hi = below(s, 4) == 0 ? qp_splitmix64(&s->rng) : 0;
  s->clock_ns = CLOCK_START_NS;
  s->options.ledger.accounts_max = 1u << 16;
  s->options.ledger.transfers_max = 1u << 20;
  s->options.clock_ns = sim_clock;
  s->options.clock_ctx = s;
  int rc = new_disk(s);
  if (rc == 0) rc = qp_ledger_create(&s->options.ledger, &s->ref);
  return rc;
}

/* The last check: a power loss after the last step, and everything
 * acknowledged must come back. */
static void finish(sim_t *s) {
  if (s->failed || s->db == NULL) return;
  qp_sim_disk_kill(s->disk);
  qp_sim_disk_set_faults(s->disk, false);
  restart(s, true);
}

int qp_sim_ledger_run(const qp_sim_ledger_config_t *config, qp_sim_stats_t *stats,
                      uint8_t digest[QP_HASH_SIZE], char *detail, size_t detail_size) {
  memset(stats, 0, sizeof *stats);
  if (detail && detail_size) detail[0] = '\0';
  if (config->steps == 0) return QP_EINVAL;
  if (qp_crypto_init() != 0) return QP_EIO;
  sim_t *s = qp_calloc(1, sizeof *s);
  if (s == NULL) return QP_ENOMEM;
  s->cfg = config;
  s->stats = stats;
  s->detail = detail;
  s->detail_size = detail_size;
  stats->seeds = 1;
  int rc = setup(s);
  if (rc == 0) {
    int st = open_db(s);
    if (st == GO) st = reconcile(s);
    if (st == START_OVER) st = start_over(s);
    for (s->step = 0; s->step < config->steps && st == GO; s->step++) st = run_step(s);
    finish(s);
    qp_db_close(s->db); /* before the disk it writes to goes */
    s->db = NULL;
    digest_run(s, digest);
  }
  qp_db_close(s->db);
  if (s->disk) retire_disk(s);
  qp_ledger_destroy(s->ref);
  qp_free(s);
  return rc;
}
