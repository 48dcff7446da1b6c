/*
 * test_receivable_prop.c - a seeded property test of the receivable app:
 * random issue / transfer / finance / accept_finance / settle /
 * confirm_settlement / report_shortfall calls (and the clock moving) by
 * random senders against a small reference model kept here.  Every call's
 * receipt code must be the one the model predicts (so every refusal is
 * exercised in context), and at intervals the whole state is compared:
 * each voucher's amount, holder and state; children sum to their parent;
 * the live amount equals issued minus settled; no voucher financed twice;
 * each core's outstanding amount equals the model's and stayed within its
 * credit lines.  QP_APPS_PROP_OPS (default 100000) and QP_APPS_PROP_SEED
 * (default 13) choose the run; a failure prints the seed and the step.
 */
#include "apps/apps_int.h"
#include "base/assert.h"
#include "base/rng.h"
#include "rcv_test.h"

enum { ACTIVE, SPLIT, FINANCING, FINANCED };              /* stored voucher states */
enum { OPEN, SETTLING, SETTLED, OVERDUE };                /* tree status */
enum { FIN_NONE, FIN_PENDING, FIN_CONFIRMED, FIN_SHORT }; /* a voucher's finance */
static const char *const STATE_NAMES[] = {"active", "split", "financing", "financed",
                                          "settling", "settled", "overdue"};

typedef struct m_voucher {
  uint32_t tree;     /* index of its tree */
  int holder;        /* party */
  uint64_t amount;   /* minor units */
  int state;         /* ACTIVE .. FINANCED */
  int funder;        /* the offer's funder (FINANCING) */
  int seller;        /* who sold it (FINANCED) */
  int finance;       /* FIN_* */
  uint32_t kids[2];  /* children ids (0: none) */
} m_voucher_t;

typedef struct m_tree {
  uint32_t root;             /* voucher id */
  int obligor;               /* the core */
  uint32_t ledger;           /* 1 or 2 */
  uint64_t maturity, amount; /* terms */
  int status;                /* OPEN .. OVERDUE */
  uint32_t count, attempts;  /* vouchers, settle records */
  uint32_t ids[QP_APPS_TREE_VOUCHERS_MAX]; /* its vouchers, in id order */
} m_tree_t;

typedef struct m_settlement {
  char id[ID_MAX];  /* fin-v.. or mat-v..-k */
  bool maturity;    /* kind */
  uint32_t target;  /* tree index (maturity) or voucher id (finance) */
  int status;       /* 0 pending, 1 confirmed, 2 short */
  size_t payments;  /* count */
} m_settlement_t;

typedef struct model {
  m_voucher_t *v;             /* by id (1-based) */
  uint32_t nv, cap;           /* vouchers */
  m_tree_t *t;                /* trees */
  uint32_t nt;
  m_settlement_t *s;          /* settlement records */
  uint32_t ns;
  uint32_t *pending;          /* indices of the pending ones */
  uint32_t npending;
  uint64_t owed[W_PARTIES][3]; /* outstanding per core and ledger */
  uint64_t issued, settled;   /* totals */
  uint64_t ok_calls;          /* calls that succeeded */
} model_t;

static const bool REGISTERED[W_PARTIES] = {false, true, true, true, true,
                                           true,  false, true, true, false};
static const char *const ROLE[W_PARTIES] = {"", "core", "supplier", "supplier", "funder",
                                            "clearing", "", "core", "funder", ""};

/* The live credit of a core on a ledger at time t (the lines w_prop_cast grants). */
static uint64_t credit(int core, uint32_t ledger, uint64_t t) {
  if (core == 1 && ledger == 1) return 2000000;
  if (core == 7 && ledger == 1) return t < 20000 ? 30000 : 0;
  if (core == 7 && ledger == 2) return 500000;
  return 0;
}

static void prop_cast(world_t *w) {
  w_cast(w, "2000000");
  char a[512];
  snprintf(a, sizeof a, "{\"core\":\"%s\",\"amount\":\"30000\",\"ledger\":1,\"expiry\":20000}",
           w->hex[7]);
  w_expect(w, 8, "registry", "grant_credit", a, "ok");
  snprintf(a, sizeof a,
           "{\"core\":\"%s\",\"amount\":\"500000\",\"ledger\":2,\"expiry\":1000000000}",
           w->hex[7]);
  w_expect(w, 4, "registry", "grant_credit", a, "ok");
}

static const char *derived(const model_t *m, uint32_t id) {
  const m_voucher_t *v = &m->v[id];
  int status = m->t[v->tree].status;
  if (v->state == SPLIT || status == OPEN) return STATE_NAMES[v->state];
  return STATE_NAMES[status + 3]; /* settling, settled, overdue */
}

static uint32_t new_voucher(model_t *m, uint32_t tree, int holder, uint64_t amount) {
  QP_ASSERT(m->nv + 1 < m->cap);
  m_voucher_t *v = &m->v[++m->nv];
  memset(v, 0, sizeof *v);
  v->tree = tree;
  v->holder = holder;
  v->amount = amount;
  m->t[tree].ids[m->t[tree].count++] = m->nv;
  return m->nv;
}

/* Splits id: part to `to`, rest (if any) to the holder; returns the part. */
static uint32_t split(model_t *m, uint32_t id, uint64_t amount, int to) {
  m_voucher_t *v = &m->v[id];
  uint32_t part = new_voucher(m, v->tree, to, amount);
  v = &m->v[id];
  v->kids[0] = part;
  if (amount < v->amount) v->kids[1] = new_voucher(m, v->tree, v->holder, v->amount - amount);
  m->v[id].state = SPLIT;
  return part;
}

#define EXPECT(cond, c) \
  if (cond) return c

static const char *want_holder_move(const model_t *m, int who, uint32_t id, bool finance) {
  const char *st = derived(m, id);
  EXPECT(m->v[id].holder != who, "not_holder");
  EXPECT(finance && (strcmp(st, "financing") == 0 || strcmp(st, "financed") == 0),
         "already_financed");
  EXPECT(strcmp(st, "active") != 0, "voucher_not_active");
  return NULL;
}

static const char *want_transfer(const model_t *m, int who, uint32_t id, int to,
                                 uint64_t amount) {
  EXPECT(!REGISTERED[who], "not_registered");
  EXPECT(id == 0 || id > m->nv, "unknown_voucher");
  EXPECT(!REGISTERED[to], "not_registered");
  const char *c = want_holder_move(m, who, id, false);
  EXPECT(c != NULL, c);
  EXPECT(amount > m->v[id].amount, "amount_invalid");
  uint32_t need = amount < m->v[id].amount ? 2 : 1;
  EXPECT(m->t[m->v[id].tree].count + need > QP_APPS_TREE_VOUCHERS_MAX, "tree_full");
  return "ok";
}

static const char *want_finance(const model_t *m, int who, uint32_t id, int funder,
                                uint64_t amount, uint32_t bps) {
  EXPECT(qp__apps_discounted(amount, bps) == 0, "amount_invalid");
  EXPECT(!REGISTERED[who], "not_registered");
  EXPECT(id == 0 || id > m->nv, "unknown_voucher");
  EXPECT(!REGISTERED[funder], "not_registered");
  EXPECT(strcmp(ROLE[funder], "funder") != 0, "not_funder");
  const char *c = want_holder_move(m, who, id, true);
  EXPECT(c != NULL, c);
  EXPECT(m->v[id].finance != FIN_NONE, "already_financed");
  EXPECT(amount > m->v[id].amount, "amount_invalid");
  EXPECT(amount < m->v[id].amount &&
             m->t[m->v[id].tree].count + 2 > QP_APPS_TREE_VOUCHERS_MAX, "tree_full");
  return "ok";
}

static const char *want_accept(const model_t *m, int who, uint32_t id) {
  EXPECT(!REGISTERED[who], "not_registered");
  EXPECT(id == 0 || id > m->nv, "unknown_voucher");
  const char *st = derived(m, id);
  EXPECT(strcmp(st, "financed") == 0, "already_financed");
  EXPECT(strcmp(st, "financing") != 0 && m->t[m->v[id].tree].status != OPEN,
         "voucher_not_active");
  EXPECT(strcmp(st, "financing") != 0, "no_offer");
  EXPECT(m->v[id].funder != who, "not_funder");
  return "ok";
}

static const char *want_settle(const model_t *m, int who, uint32_t id, uint64_t now) {
  EXPECT(!REGISTERED[who], "not_registered");
  EXPECT(id == 0 || id > m->nv, "unknown_voucher");
  const m_tree_t *t = &m->t[m->v[id].tree];
  EXPECT(t->status == SETTLED, "voucher_not_active");
  EXPECT(t->status == SETTLING, "settlement_pending");
  EXPECT(now < t->maturity, "not_mature");
  EXPECT(t->attempts >= QP_APPS_TREE_ATTEMPTS_MAX, "too_many_attempts");
  for (uint32_t i = 0; i < t->count; i++)
    EXPECT(m->v[t->ids[i]].state != SPLIT && m->v[t->ids[i]].finance == FIN_PENDING,
           "settlement_pending");
  return "ok";
}

static const char *want_decide(const model_t *m, int who, uint32_t s) {
  EXPECT(strcmp(ROLE[who], "clearing") != 0, "not_clearing");
  EXPECT(s >= m->ns, "unknown_settlement");
  EXPECT(m->s[s].status != 0, "settlement_not_pending");
  return "ok";
}

/* ---- the run ------------------------------------------------------------------ */

typedef struct run {
  world_t w;         /* the app's side */
  model_t m;         /* the model's */
  qp_rng_t rng;      /* the seeded stream */
  uint64_t step;     /* the call being made */
  uint64_t seed;     /* for the failure message */
  char args[4096];   /* the call's args */
} run_t;

#define CODES_MAX 32
static struct {
  char code[QP_CHAIN_CODE_MAX + 1]; /* a receipt code */
  uint64_t count;                   /* how often the run saw it */
} codes[CODES_MAX];

static void count_code(const char *code) {
  for (size_t i = 0; i < CODES_MAX; i++) {
    if (codes[i].code[0] == '\0') snprintf(codes[i].code, sizeof codes[i].code, "%s", code);
    if (strcmp(codes[i].code, code) == 0) {
      codes[i].count++;
      return;
    }
  }
}

static void check_code(run_t *r, const char *method, const char *got, const char *want) {
  count_code(got);
  if (strcmp(got, want) != 0) {
    char *res = json_dumps(r->w.e.result, 0);
    fail_msg("seed %llu step %llu: %s %s gave %s (%s), the model says %s",
             (unsigned long long)r->seed, (unsigned long long)r->step, method, r->args, got,
             res, want);
  }
}

static int party(run_t *r) { return (int)qp_rng_below(&r->rng, W_PARTIES - 1) + 1; }

/* A voucher id: mostly a known one, sometimes one past the last. */
static uint32_t pick_voucher(run_t *r) {
  if (r->m.nv == 0 || qp_rng_chance(&r->rng, 1, 100)) return r->m.nv + 1;
  /* Recent vouchers more often: they are the live leaves. */
  uint32_t span = r->m.nv < 400 ? r->m.nv : 400;
  if (qp_rng_chance(&r->rng, 1, 4)) return (uint32_t)qp_rng_range(&r->rng, 1, r->m.nv);
  return r->m.nv - (uint32_t)qp_rng_below(&r->rng, span);
}

static void op_issue(run_t *r) {
  model_t *m = &r->m;
  int core = qp_rng_chance(&r->rng, 1, 10) ? party(r) : (qp_rng_chance(&r->rng, 1, 2) ? 1 : 7);
  int to = qp_rng_chance(&r->rng, 1, 20) ? party(r) : 2 + (int)qp_rng_below(&r->rng, 2);
  uint32_t ledger = 1 + (uint32_t)qp_rng_below(&r->rng, 2);
  uint64_t amount = qp_rng_range(&r->rng, 1, 3000), maturity = r->w.time_s +
                                                               qp_rng_below(&r->rng, 300);
  snprintf(r->args, sizeof r->args, "{\"to\":\"%s\",\"amount\":\"%llu\",\"ledger\":%u,"
           "\"maturity\":%llu,\"reference\":\"R\"}", r->w.hex[to], (unsigned long long)amount,
           ledger, (unsigned long long)maturity);
  const char *want = !REGISTERED[core] ? "not_registered"
                     : strcmp(ROLE[core], "core") != 0 ? "not_core"
                     : !REGISTERED[to] ? "not_registered"
                     : m->owed[core][ledger] + amount > credit(core, ledger, r->w.time_s)
                         ? "credit_line_exceeded" : "ok";
  check_code(r, "issue", w_call(&r->w, core, "receivable", "issue", r->args), want);
  if (strcmp(want, "ok") != 0) return;
  m_tree_t *t = &m->t[m->nt];
  memset(t, 0, sizeof *t);
  *t = (m_tree_t){.obligor = core, .ledger = ledger, .maturity = maturity, .amount = amount};
  t->root = new_voucher(m, m->nt++, to, amount);
  m->owed[core][ledger] += amount;
  m->issued += amount;
  char id[ID_MAX];
  snprintf(id, sizeof id, "v%u", t->root);
  assert_string_equal(w_result(&r->w, "voucher"), id);
}

static void op_transfer(run_t *r) {
  model_t *m = &r->m;
  uint32_t id = pick_voucher(r);
  bool known = id <= m->nv;
  int who = known && qp_rng_chance(&r->rng, 9, 10) ? m->v[id].holder : party(r);
  int to = party(r);
  uint64_t have = known ? m->v[id].amount : 10;
  uint64_t amount = qp_rng_chance(&r->rng, 1, 5) ? have : qp_rng_range(&r->rng, 1, have + 2);
  snprintf(r->args, sizeof r->args, "{\"voucher\":\"v%u\",\"to\":\"%s\",\"amount\":\"%llu\"}",
           id, r->w.hex[to], (unsigned long long)amount);
  const char *want = want_transfer(m, who, id, to, amount);
  check_code(r, "transfer", w_call(&r->w, who, "receivable", "transfer", r->args), want);
  if (strcmp(want, "ok") != 0) return;
  uint32_t part = split(m, id, amount, to);
  char got[ID_MAX];
  snprintf(got, sizeof got, "v%u", part);
  assert_string_equal(w_result(&r->w, "to_voucher"), got);
}

static void op_finance(run_t *r) {
  model_t *m = &r->m;
  uint32_t id = pick_voucher(r);
  bool known = id <= m->nv;
  int who = known && qp_rng_chance(&r->rng, 9, 10) ? m->v[id].holder : party(r);
  int funder = qp_rng_chance(&r->rng, 1, 10) ? party(r) : (qp_rng_chance(&r->rng, 1, 2) ? 4 : 8);
  uint64_t have = known ? m->v[id].amount : 10;
  uint64_t amount = qp_rng_chance(&r->rng, 1, 3) ? have : qp_rng_range(&r->rng, 1, have + 1);
  uint32_t bps = (uint32_t)qp_rng_below(&r->rng, 800);
  snprintf(r->args, sizeof r->args, "{\"voucher\":\"v%u\",\"funder\":\"%s\",\"amount\":\"%llu\","
           "\"discount_bps\":%u}", id, r->w.hex[funder], (unsigned long long)amount, bps);
  const char *want = want_finance(m, who, id, funder, amount, bps);
  check_code(r, "finance", w_call(&r->w, who, "receivable", "finance", r->args), want);
  if (strcmp(want, "ok") != 0) return;
  uint32_t target = amount < m->v[id].amount ? split(m, id, amount, who) : id;
  m->v[target].state = FINANCING;
  m->v[target].funder = funder;
  char price[QP_U128_BUF_SIZE];
  qp_u128_format(qp__apps_discounted(amount, bps), price);
  assert_string_equal(w_result(&r->w, "price"), price);
}

static void op_accept(run_t *r) {
  model_t *m = &r->m;
  uint32_t id = pick_voucher(r);
  bool offered = id <= m->nv && m->v[id].state == FINANCING;
  int who = offered && qp_rng_chance(&r->rng, 9, 10) ? m->v[id].funder : party(r);
  snprintf(r->args, sizeof r->args, "{\"voucher\":\"v%u\"}", id);
  const char *want = want_accept(m, who, id);
  check_code(r, "accept_finance", w_call(&r->w, who, "receivable", "accept_finance", r->args),
             want);
  if (strcmp(want, "ok") != 0) return;
  m_voucher_t *v = &m->v[id];
  assert_int_equal(v->finance, FIN_NONE); /* never financed twice */
  v->seller = v->holder;
  v->holder = who;
  v->state = FINANCED;
  v->finance = FIN_PENDING;
  m->pending[m->npending++] = m->ns;
  m_settlement_t *s = &m->s[m->ns++];
  *s = (m_settlement_t){.maturity = false, .target = id, .status = 0, .payments = 1};
  snprintf(s->id, sizeof s->id, "fin-v%u", id);
  assert_string_equal(w_result(&r->w, "settlement"), s->id);
}

/* The payments settle must list: the live leaves of tree t in id order. */
static void check_payments(run_t *r, const m_tree_t *t) {
  const json_t *ev = json_array_get(r->w.e.events, 0);
  const json_t *pays = json_object_get(ev, "payments");
  size_t k = 0;
  for (uint32_t i = 0; i < t->count; i++) {
    const m_voucher_t *v = &r->m.v[t->ids[i]];
    if (v->state == SPLIT) continue;
    const json_t *p = json_array_get(pays, k++);
    char id[ID_MAX];
    snprintf(id, sizeof id, "v%u", t->ids[i]);
    assert_string_equal(json_string_value(json_object_get(p, "voucher")), id);
    assert_string_equal(json_string_value(json_object_get(p, "to")), r->w.hex[v->holder]);
    assert_string_equal(json_string_value(json_object_get(p, "from")), r->w.hex[t->obligor]);
    assert_int_equal(strtoull(json_string_value(json_object_get(p, "amount")), NULL, 10),
                     v->amount);
  }
  assert_int_equal(json_array_size(pays), k);
}

static void op_settle(run_t *r) {
  model_t *m = &r->m;
  uint32_t id = pick_voucher(r);
  int who = party(r);
  snprintf(r->args, sizeof r->args, "{\"voucher\":\"v%u\"}", id);
  const char *want = want_settle(m, who, id, r->w.time_s);
  check_code(r, "settle", w_call(&r->w, who, "receivable", "settle", r->args), want);
  if (strcmp(want, "ok") != 0) return;
  m_tree_t *t = &m->t[m->v[id].tree];
  check_payments(r, t);
  t->status = SETTLING;
  t->attempts++;
  m->pending[m->npending++] = m->ns;
  m_settlement_t *s = &m->s[m->ns++];
  *s = (m_settlement_t){.maturity = true, .target = m->v[id].tree,
                        .payments = json_array_size(json_object_get(
                            json_array_get(r->w.e.events, 0), "payments"))};
  snprintf(s->id, sizeof s->id, "mat-v%u-%u", t->root, t->attempts);
  assert_string_equal(w_result(&r->w, "settlement"), s->id);
}

static void decide_model(model_t *m, m_settlement_t *s, bool confirm) {
  s->status = confirm ? 1 : 2;
  for (uint32_t i = 0; i < m->npending; i++)
    if (&m->s[m->pending[i]] == s) m->pending[i] = m->pending[--m->npending];
  if (s->maturity) {
    m_tree_t *t = &m->t[s->target];
    t->status = confirm ? SETTLED : OVERDUE;
    if (confirm) {
      m->owed[t->obligor][t->ledger] -= t->amount;
      m->settled += t->amount;
    }
    return;
  }
  m_voucher_t *v = &m->v[s->target];
  v->finance = confirm ? FIN_CONFIRMED : FIN_SHORT;
  if (!confirm) {
    v->holder = v->seller;
    v->state = ACTIVE;
  }
}

static void op_decide(run_t *r, bool confirm) {
  model_t *m = &r->m;
  /* Mostly a pending one (the agent's usual call), sometimes any or none. */
  uint32_t k = m->ns;
  if (m->npending > 0 && qp_rng_chance(&r->rng, 4, 5))
    k = m->pending[qp_rng_below(&r->rng, m->npending)];
  else if (m->ns > 0 && qp_rng_chance(&r->rng, 9, 10))
    k = (uint32_t)qp_rng_below(&r->rng, m->ns);
  int who = qp_rng_chance(&r->rng, 9, 10) ? 5 : party(r);
  size_t count = k < m->ns ? m->s[k].payments : 1;
  bool wrong = qp_rng_chance(&r->rng, 1, 40);
  int n = snprintf(r->args, sizeof r->args, "{\"settlement\":\"%s\",",
                   k < m->ns ? m->s[k].id : "fin-v999999");
  if (confirm) {
    n += snprintf(r->args + n, sizeof r->args - (size_t)n, "\"transfers\":[");
    for (size_t i = 0; i < count + (wrong ? 1 : 0); i++)
      n += snprintf(r->args + n, sizeof r->args - (size_t)n, "%s\"%zu\"", i ? "," : "",
                    1000 * (size_t)r->step + i + 1);
    snprintf(r->args + n, sizeof r->args - (size_t)n, "]}");
  } else {
    snprintf(r->args + n, sizeof r->args - (size_t)n, "\"reason\":\"short\"}");
  }
  const char *want = want_decide(m, who, k);
  if (confirm && strcmp(want, "ok") == 0 && wrong) want = "bad_args";
  const char *method = confirm ? "confirm_settlement" : "report_shortfall";
  check_code(r, method, w_call(&r->w, who, "receivable", method, r->args), want);
  if (strcmp(want, "ok") == 0) decide_model(m, &m->s[k], confirm);
}

/* The app's record of voucher id, parsed (the caller's). */
static json_t *app_voucher(run_t *r, uint32_t id) {
  char k[64];
  snprintf(k, sizeof k, "receivable|v/v%u", id);
  json_t *s = json_object_get(r->w.map, k);
  assert_non_null(s);
  json_t *o = json_loads(json_string_value(s), 0, NULL);
  assert_non_null(o);
  return o;
}

static uint64_t dec(const json_t *o, const char *field) {
  return strtoull(json_string_value(json_object_get(o, field)), NULL, 10);
}

/* Everything the model knows, against the app's records, and the
 * invariants of the issue. */
static void check_all(run_t *r) {
  model_t *m = &r->m;
  uint64_t live = 0;
  for (uint32_t id = 1; id <= m->nv; id++) {
    const m_voucher_t *v = &m->v[id];
    json_t *o = app_voucher(r, id);
    assert_int_equal(dec(o, "amount"), v->amount);
    assert_string_equal(json_string_value(json_object_get(o, "holder")), r->w.hex[v->holder]);
    assert_string_equal(json_string_value(json_object_get(o, "state")), STATE_NAMES[v->state]);
    assert_int_equal(json_object_get(o, "finance") != NULL, v->finance != FIN_NONE);
    if (v->state == SPLIT) { /* children sum exactly to the parent */
      const json_t *kids = json_object_get(o, "children");
      uint64_t sum = 0;
      for (size_t i = 0; i < json_array_size(kids); i++) {
        uint32_t kid = (uint32_t)strtoul(json_string_value(json_array_get(kids, i)) + 1, NULL,
                                         10);
        assert_int_equal(kid, v->kids[i]);
        sum += m->v[kid].amount;
      }
      assert_int_equal(sum, v->amount);
    } else if (m->t[v->tree].status != SETTLED) {
      live += v->amount;
    }
    json_decref(o);
  }
  assert_int_equal(live, m->issued - m->settled); /* live = issued - settled */
  for (int core = 1; core < W_PARTIES; core++)
    for (uint32_t ledger = 1; ledger <= 2; ledger++) {
      char k[256];
      snprintf(k, sizeof k, "receivable|o/%s/%u", r->w.hex[core], ledger);
      json_t *s = json_object_get(r->w.map, k);
      uint64_t owed = s != NULL ? strtoull(json_string_value(s), NULL, 10) : 0;
      assert_int_equal(owed, m->owed[core][ledger]);
      assert_true(owed <= credit(core, ledger, 0)); /* within the lines granted */
    }
}

static void run_step(run_t *r) {
  uint64_t dice = qp_rng_below(&r->rng, 100);
  if (dice < 10) op_issue(r);
  else if (dice < 42) op_transfer(r);
  else if (dice < 58) op_finance(r);
  else if (dice < 70) op_accept(r);
  else if (dice < 79) op_settle(r);
  else if (dice < 89) op_decide(r, true);
  else if (dice < 94) op_decide(r, false);
  else r->w.time_s += qp_rng_below(&r->rng, 30);
}

static void test_property(void **state) {
  (void)state;
  run_t *r = qp_calloc(1, sizeof *r);
  uint64_t ops = qp_test_env_u64("QP_APPS_PROP_OPS", 100000);
  r->seed = qp_test_env_u64("QP_APPS_PROP_SEED", 13);
  qp_rng_seed(&r->rng, r->seed);
  w_init(&r->w);
  prop_cast(&r->w);
  r->m.cap = (uint32_t)(2 * ops + 16);
  r->m.v = qp_calloc(r->m.cap, sizeof *r->m.v);
  r->m.t = qp_calloc(ops + 1, sizeof *r->m.t);
  r->m.s = qp_calloc(ops + 1, sizeof *r->m.s);
  r->m.pending = qp_calloc(ops + 1, sizeof *r->m.pending);
  assert_true(r->m.v != NULL && r->m.t != NULL && r->m.s != NULL && r->m.pending != NULL);
  uint64_t every = ops / 10 > 0 ? ops / 10 : 1;
  for (r->step = 1; r->step <= ops; r->step++) {
    run_step(r);
    if (r->step % every == 0) check_all(r);
  }
  check_all(r);
  print_message("%llu calls (seed %llu): %u vouchers, %u trees, %u settlement records\n",
                (unsigned long long)ops, (unsigned long long)r->seed, r->m.nv, r->m.nt, r->m.ns);
  for (size_t i = 0; i < CODES_MAX && codes[i].code[0] != '\0'; i++)
    print_message("  %-24s %llu\n", codes[i].code, (unsigned long long)codes[i].count);
  w_deinit(&r->w);
  qp_free(r->m.v);
  qp_free(r->m.t);
  qp_free(r->m.s);
  qp_free(r->m.pending);
  qp_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_property),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
