/*
 * test_risk_prop.c - a seeded property test: random rulesets (random
 * expression trees over fields, features and a list, printed with only the
 * parentheses precedence needs) and random event streams (late events,
 * absent fields, decimal strings, values that overflow) are decided by the
 * engine and by the small reference interpreter below, which walks the
 * trees and recomputes every feature by scanning the events in the window.
 * Every decision, score, fired rule, evaluation error count and feature
 * value must agree.  QP_RISK_PROP_SEED and QP_RISK_PROP_EVENTS (default
 * 100,000) change the run; a failure prints the seed and the ruleset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "risk/risk.h"
#include "test_util.h"

#define RULES_MAX 8
#define EVENTS_PER_RULESET 1000
#define STREAM_MAX EVENTS_PER_RULESET

enum { N_INT, N_FIELD, N_FEAT, N_STRLIT, N_ADD, N_SUB, N_MUL, N_NEG,
       N_CMP, N_IN, N_NOT, N_AND, N_OR };
enum { V_ABS, V_INT, V_STR, V_BAD, V_ERR, V_BOOL };

typedef struct node {
  int kind, op;          /* N_*; comparison 0..5 for N_CMP */
  int64_t i;             /* N_INT value; field/feature index */
  const char *s;         /* N_STRLIT */
  struct node *l, *r;    /* children */
} node_t;

typedef struct val {
  int tag;        /* V_* */
  int64_t i;      /* V_INT, V_BOOL */
  const char *s;  /* V_STR */
} val_t;

typedef struct event {
  int64_t t;         /* engine time after it */
  val_t f[4];        /* a, b, s, q */
  int key;           /* -1 absent, else 0..7 */
} event_t;

static const char *const FIELDS[] = {"a", "b", "s", "q"};
static const char *const CMPS[] = {"=", "!=", "<", "<=", ">", ">="};
static const char *const STRS[] = {"p", "k1", "zz", "12", "0"};
static const char *const KEYS[] = {"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"};
static const int64_t WINDOWS[] = {60, 300, 600, 3600};

typedef struct world {
  qp_rng_t rng;
  node_t pool[4096];
  int used;
  node_t *rules[RULES_MAX];
  int outcome[RULES_MAX], score[RULES_MAX], nrules;
  int th_cmp[2], th_out[2], nth;
  int64_t th_val[2];
  int64_t window[3];
  event_t ev[STREAM_MAX];
  int nev;
  int64_t engine_time; /* the largest time of the events so far */
  char text[16384];
} world_t;

static node_t *mk(world_t *w, int kind) {
  assert_true(w->used < 4096);
  node_t *n = &w->pool[w->used++];
  memset(n, 0, sizeof *n);
  n->kind = kind;
  return n;
}

static node_t *gen_val(world_t *w, int depth) {
  uint64_t c = qp_rng_below(&w->rng, depth > 0 ? 9 : 4);
  node_t *n;
  if (c == 0) n = mk(w, N_INT), n->i = (int64_t)qp_rng_below(&w->rng, 200) - 100;
  else if (c == 1) n = mk(w, N_FIELD), n->i = (int64_t)qp_rng_below(&w->rng, 4);
  else if (c == 2) n = mk(w, N_FEAT), n->i = (int64_t)qp_rng_below(&w->rng, 3);
  else if (c == 3 && qp_rng_chance(&w->rng, 1, 8)) n = mk(w, N_INT), n->i = INT64_MAX / 3;
  else if (c == 3) n = mk(w, N_FIELD), n->i = 0;
  else if (c == 8) n = mk(w, N_NEG), n->l = gen_val(w, depth - 1);
  else {
    n = mk(w, c <= 5 ? N_ADD : c == 6 ? N_SUB : N_MUL);
    n->l = gen_val(w, depth - 1);
    n->r = gen_val(w, depth - 1);
  }
  return n;
}

static node_t *gen_bool(world_t *w, int depth) {
  uint64_t c = qp_rng_below(&w->rng, depth > 0 ? 7 : 3);
  node_t *n;
  if (c == 0 || c == 3) {
    n = mk(w, N_CMP);
    n->op = (int)qp_rng_below(&w->rng, 6);
    n->l = gen_val(w, depth);
    n->r = gen_val(w, depth);
  } else if (c == 1) {
    n = mk(w, N_CMP);
    n->op = (int)qp_rng_below(&w->rng, 6);
    n->l = mk(w, N_FIELD);
    n->l->i = qp_rng_chance(&w->rng, 1, 2) ? 2 : 3;
    n->r = mk(w, N_STRLIT);
    n->r->s = STRS[qp_rng_below(&w->rng, 5)];
  } else if (c == 2) {
    n = mk(w, N_IN);
    n->l = mk(w, N_FIELD);
    n->l->i = (int64_t)qp_rng_below(&w->rng, 4);
  } else if (c == 4) {
    n = mk(w, N_NOT);
    n->l = gen_bool(w, depth - 1);
  } else {
    n = mk(w, c == 5 ? N_AND : N_OR);
    n->l = gen_bool(w, depth - 1);
    n->r = gen_bool(w, depth - 1);
  }
  return n;
}

static int prec(const node_t *n) {
  switch (n->kind) {
  case N_OR: return 1;
  case N_AND: return 2;
  case N_NOT: return 3;
  case N_CMP: case N_IN: return 4;
  case N_ADD: case N_SUB: return 5;
  case N_MUL: return 6;
  case N_NEG: return 7;
  default: return 8;
  }
}

static int print(char *out, size_t size, const node_t *n);

static int print_child(char *out, size_t size, const node_t *c, bool parens) {
  int k = 0;
  if (parens) k += snprintf(out, size, "(");
  k += print(out + k, size - (size_t)k, c);
  if (parens) k += snprintf(out + k, size - (size_t)k, ")");
  return k;
}

static int print(char *out, size_t size, const node_t *n) {
  static const char *const ops[] = {[N_ADD] = " + ", [N_SUB] = " - ", [N_MUL] = " * ",
                                    [N_AND] = " and ", [N_OR] = " or "};
  switch (n->kind) {
  case N_INT: return snprintf(out, size, "%lld", (long long)n->i);
  case N_FIELD: return snprintf(out, size, "%s", FIELDS[n->i]);
  case N_FEAT: return snprintf(out, size, "f%lld", (long long)n->i);
  case N_STRLIT: return snprintf(out, size, "\"%s\"", n->s);
  case N_NEG: return snprintf(out, size, "-") + print_child(out + 1, size - 1, n->l,
                                                             prec(n->l) < 7);
  case N_NOT: return snprintf(out, size, "not ") + print_child(out + 4, size - 4, n->l,
                                                                prec(n->l) < 3);
  case N_IN: return print(out, size, n->l) + snprintf(out + strlen(out), size - strlen(out),
                                                        " in L");
  default: break;
  }
  int k = print_child(out, size, n->l, prec(n->l) < prec(n));
  k += snprintf(out + k, size - (size_t)k, "%s", n->kind == N_CMP ? "" : ops[n->kind]);
  if (n->kind == N_CMP) k += snprintf(out + k, size - (size_t)k, " %s ", CMPS[n->op]);
  return k + print_child(out + k, size - (size_t)k, n->r, prec(n->r) <= prec(n));
}

static void gen_ruleset(world_t *w) {
  w->used = 0;
  static const char *const outs[] = {"", "challenge", "review", "block"};
  int k = 0;
  for (int f = 0; f < 3; f++) w->window[f] = WINDOWS[qp_rng_below(&w->rng, 4)];
  k += snprintf(w->text + k, sizeof w->text - (size_t)k,
                "list L set\nfeature f0 = count by p over %llds\n"
                "feature f1 = sum(a) by p over %llds\nfeature f2 = distinct(q) by p over %llds\n",
                (long long)w->window[0], (long long)w->window[1], (long long)w->window[2]);
  w->nrules = 1 + (int)qp_rng_below(&w->rng, RULES_MAX);
  for (int r = 0; r < w->nrules; r++) {
    w->rules[r] = gen_bool(w, (int)qp_rng_below(&w->rng, 4));
    w->outcome[r] = 1 + (int)qp_rng_below(&w->rng, 3);
    w->score[r] = (int)qp_rng_below(&w->rng, 60);
    k += snprintf(w->text + k, sizeof w->text - (size_t)k, "rule r%d: ", r);
    k += print(w->text + k, sizeof w->text - (size_t)k, w->rules[r]);
    k += snprintf(w->text + k, sizeof w->text - (size_t)k, " => %s score %d\n",
                  outs[w->outcome[r]], w->score[r]);
  }
  w->nth = (int)qp_rng_below(&w->rng, 3);
  for (int t = 0; t < w->nth; t++) {
    w->th_cmp[t] = (int)qp_rng_below(&w->rng, 6);
    w->th_val[t] = (int64_t)qp_rng_below(&w->rng, 120);
    w->th_out[t] = 1 + (int)qp_rng_below(&w->rng, 3);
    k += snprintf(w->text + k, sizeof w->text - (size_t)k, "threshold score %s %lld => %s\n",
                  CMPS[w->th_cmp[t]], (long long)w->th_val[t], outs[w->th_out[t]]);
  }
  assert_true((size_t)k < sizeof w->text - 1);
}

/* ---- the reference interpreter ---- */

static bool ref_decimal(const char *s, int64_t *out) {
  size_t n = strlen(s);
  if (n == 0 || n > 19 || (n > 1 && s[0] == '0')) return false;
  __int128 v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  if (v > INT64_MAX) return false;
  *out = (int64_t)v;
  return true;
}

static bool ref_int(val_t v, int64_t *out) {
  if (v.tag == V_INT) return *out = v.i, true;
  return v.tag == V_STR && ref_decimal(v.s, out);
}

/* Feature f for the last event (w->ev[w->nev - 1]). */
static val_t ref_feature(const world_t *w, int f) {
  const event_t *cur = &w->ev[w->nev - 1];
  if (cur->key < 0) return (val_t){.tag = V_ABS};
  int64_t bs = w->window[f] / 60, b = cur->t / bs;
  __int128 sum = 0;
  int64_t count = 0;
  bool seen[64] = {false};
  for (int i = w->nev - 1; i >= 0 && w->ev[i].t / bs > b - 60; i--) {
    const event_t *e = &w->ev[i];
    if (e->key != cur->key) continue;
    int64_t x;
    if (f == 0) count++;
    if (f == 1 && ref_int(e->f[0], &x)) sum += x;
    if (f == 2 && e->f[3].tag == V_INT && !seen[e->f[3].i]) seen[e->f[3].i] = true, count++;
  }
  if (f == 1 && (sum > INT64_MAX || sum < INT64_MIN)) return (val_t){.tag = V_ERR};
  return (val_t){.tag = V_INT, .i = f == 1 ? (int64_t)sum : count};
}

static bool ref_cmp(int op, int c) {
  int r[] = {c == 0, c != 0, c < 0, c <= 0, c > 0, c >= 0};
  return r[op];
}

static val_t ref_eval(const world_t *w, const node_t *n) {
  val_t l, r, out = {.tag = V_BOOL};
  int64_t x, y, z;
  switch (n->kind) {
  case N_INT: return (val_t){.tag = V_INT, .i = n->i};
  case N_STRLIT: return (val_t){.tag = V_STR, .s = n->s};
  case N_FIELD: return w->ev[w->nev - 1].f[n->i];
  case N_FEAT: return ref_feature(w, (int)n->i);
  case N_NOT:
    l = ref_eval(w, n->l);
    return l.tag == V_ERR ? l : (val_t){.tag = V_BOOL, .i = !l.i};
  case N_AND: case N_OR:
    l = ref_eval(w, n->l);
    if (l.tag == V_ERR || (l.i != 0) == (n->kind == N_OR)) return l;
    return ref_eval(w, n->r);
  case N_IN:
    l = ref_eval(w, n->l);
    if (l.tag == V_BAD) return (val_t){.tag = V_ERR};
    if (l.tag == V_STR) out.i = strcmp(l.s, "p") == 0 || strcmp(l.s, "k1") == 0 ||
                                strcmp(l.s, "12") == 0 || strcmp(l.s, "0") == 0;
    if (l.tag == V_INT) out.i = l.i == 12 || l.i == 0;
    return out;
  default: break;
  }
  l = ref_eval(w, n->l);
  if (l.tag == V_ERR) return l;
  if (n->kind == N_NEG) {
    if (l.tag == V_ABS) return l;
    if (!ref_int(l, &x) || x == INT64_MIN) return (val_t){.tag = V_ERR};
    return (val_t){.tag = V_INT, .i = -x};
  }
  r = ref_eval(w, n->r);
  if (r.tag == V_ERR) return r;
  if (n->kind == N_CMP) {
    if (l.tag == V_ABS || r.tag == V_ABS) return out;
    if (l.tag == V_STR && r.tag == V_STR) return out.i = ref_cmp(n->op, strcmp(l.s, r.s)), out;
    if (!ref_int(l, &x) || !ref_int(r, &y)) return (val_t){.tag = V_ERR};
    return out.i = ref_cmp(n->op, x < y ? -1 : x > y), out;
  }
  if (l.tag == V_ABS || r.tag == V_ABS) return (val_t){.tag = V_ABS};
  if (!ref_int(l, &x) || !ref_int(r, &y)) return (val_t){.tag = V_ERR};
  bool over = n->kind == N_ADD   ? __builtin_add_overflow(x, y, &z)
              : n->kind == N_SUB ? __builtin_sub_overflow(x, y, &z)
                                 : __builtin_mul_overflow(x, y, &z);
  return over ? (val_t){.tag = V_ERR} : (val_t){.tag = V_INT, .i = z};
}

static val_t gen_field(world_t *w, int f) {
  static const char *const strs[] = {"p", "k1", "12", "0", "007", "-5", "99999999999999999999",
                                     "abc", "9223372036854775807"};
  uint64_t c = qp_rng_below(&w->rng, 10);
  if (f == 3 && c < 2) return (val_t){.tag = V_ABS};
  if (f == 3) return (val_t){.tag = V_INT, .i = (int64_t)qp_rng_below(&w->rng, 40)};
  if (c == 0) return (val_t){.tag = V_ABS};
  if (c == 1 && f != 2) return (val_t){.tag = V_BAD};
  if (c <= 4 || f == 2) return (val_t){.tag = V_STR, .s = strs[qp_rng_below(&w->rng, 9)]};
  if (c == 5) return (val_t){.tag = V_INT, .i = INT64_MAX / 2 + (int64_t)qp_rng_below(&w->rng, 9)};
  return (val_t){.tag = V_INT, .i = (int64_t)qp_rng_below(&w->rng, 2001) - 1000};
}

/* A new event into w->ev (its JSON into json) at time t. */
static void gen_event(world_t *w, int64_t *clock, char *json, size_t size) {
  event_t *e = &w->ev[w->nev++];
  int64_t t = *clock + (int64_t)qp_rng_below(&w->rng, 25);
  if (qp_rng_chance(&w->rng, 1, 20)) t -= (int64_t)qp_rng_below(&w->rng, 200);
  if (t < 0) t = 0;
  if (t > *clock) *clock = t;
  if (t > w->engine_time) w->engine_time = t; /* the engine has only seen the events */
  e->t = w->engine_time;
  e->key = qp_rng_chance(&w->rng, 1, 10) ? -1 : (int)qp_rng_below(&w->rng, 8);
  int k = snprintf(json, size, "{\"id\":%d,\"time\":%lld", w->nev, (long long)t);
  if (e->key >= 0) k += snprintf(json + k, size - (size_t)k, ",\"p\":\"%s\"", KEYS[e->key]);
  for (int f = 0; f < 4; f++) {
    e->f[f] = gen_field(w, f);
    const val_t *v = &e->f[f];
    if (v->tag == V_INT)
      k += snprintf(json + k, size - (size_t)k, ",\"%s\":%lld", FIELDS[f], (long long)v->i);
    else if (v->tag == V_STR)
      k += snprintf(json + k, size - (size_t)k, ",\"%s\":\"%s\"", FIELDS[f], v->s);
    else if (v->tag == V_BAD) k += snprintf(json + k, size - (size_t)k, ",\"%s\":1.5", FIELDS[f]);
  }
  snprintf(json + k, size - (size_t)k, "}");
}

static uint64_t tally_fired, tally_errors, tally_decisions[4];

static void check_event(world_t *w, const qp_risk_decision_t *d,
                        uint64_t seed) {
  tally_fired += d->fired_count;
  tally_errors += d->eval_errors;
  tally_decisions[d->decision]++;
  int64_t score = 0;
  int decision = 0, errors = 0;
  uint32_t nf = 0;
  for (int r = 0; r < w->nrules; r++) {
    val_t v = ref_eval(w, w->rules[r]);
    if (v.tag == V_ERR) errors++;
    if (v.tag != V_BOOL || !v.i) continue;
    if (nf >= d->fired_count || d->fired[nf].rule != (uint32_t)r)
      fail_msg("seed %llu event %d: rule r%d should fire\n%s", (unsigned long long)seed, w->nev,
               r, w->text);
    nf++;
    score += w->score[r];
    if (w->outcome[r] > decision) decision = w->outcome[r];
  }
  for (int t = 0; t < w->nth; t++)
    if (ref_cmp(w->th_cmp[t], score < w->th_val[t] ? -1 : score > w->th_val[t]) &&
        w->th_out[t] > decision)
      decision = w->th_out[t];
  if (nf != d->fired_count || score != d->score || decision != (int)d->decision ||
      errors != (int)d->eval_errors)
    fail_msg("seed %llu event %d: fired %u/%u score %lld/%lld decision %d/%d errors %d/%u\n%s",
             (unsigned long long)seed, w->nev, nf, d->fired_count, (long long)score,
             (long long)d->score, decision, d->decision, errors, d->eval_errors, w->text);
  for (int f = 0; f < 3; f++) {
    val_t v = ref_feature(w, f);
    const qp_risk_feature_value_t *e = &d->features[f];
    bool same = v.tag == V_ABS ? !e->present
                : v.tag == V_ERR ? e->present && e->error
                                 : e->present && !e->error && e->value == v.i;
    if (!same)
      fail_msg("seed %llu event %d: feature f%d is %lld, engine %lld\n%s",
               (unsigned long long)seed, w->nev, f, (long long)v.i, (long long)e->value, w->text);
  }
}

static void run_ruleset(world_t *w, uint64_t seed, int events) {
  gen_ruleset(w);
  qp_risk_ruleset_t *rs;
  qp_risk_errors_t errs;
  if (qp_risk_compile(w->text, strlen(w->text), &rs, &errs) != 0)
    fail_msg("seed %llu: %u:%u %s\n%s", (unsigned long long)seed, errs.items[0].line,
             errs.items[0].column, errs.items[0].message, w->text);
  qp_risk_lists_t *lists;
  qp_risk_state_t *st;
  qp_risk_decision_t d;
  char err[256], json[512];
  assert_int_equal(qp_risk_lists_new(&lists), 0);
  assert_int_equal(qp_risk_state_new(rs, lists, &st), 0);
  assert_int_equal(qp_risk_decision_init(&d, rs), 0);
  for (size_t i = 0; i < 4; i++)
    assert_int_equal(qp_risk_list_update(lists, "L", STRS[i == 2 ? 3 : i == 3 ? 4 : i], true,
                                         err, sizeof err), 0);
  int64_t clock = (int64_t)qp_rng_below(&w->rng, 1000000);
  w->nev = 0;
  w->engine_time = -1;
  for (int i = 0; i < events; i++) {
    gen_event(w, &clock, json, sizeof json);
    if (getenv("QP_RISK_PROP_TRACE") != NULL) print_message("%s\n", json);
    json_t *ev = json_loads(json, 0, NULL);
    assert_non_null(ev);
    if (qp_risk_decide(rs, st, ev, &d, err, sizeof err) != 0) fail_msg("%s: %s", json, err);
    json_decref(ev);
    check_event(w, &d, seed);
  }
  qp_risk_decision_deinit(&d);
  qp_risk_state_free(st);
  qp_risk_lists_free(lists);
  qp_risk_ruleset_free(rs);
}

static void test_engine_matches_reference(void **state) {
  (void)state;
  static world_t w;
  uint64_t seed = qp_test_env_u64("QP_RISK_PROP_SEED", 15);
  uint64_t events = qp_test_env_u64("QP_RISK_PROP_EVENTS", 100000);
  qp_rng_seed(&w.rng, seed);
  for (uint64_t done = 0; done < events; done += EVENTS_PER_RULESET) {
    uint64_t n = events - done < EVENTS_PER_RULESET ? events - done : EVENTS_PER_RULESET;
    run_ruleset(&w, seed, (int)n);
  }
  print_message("risk property: %llu events, seed %llu, all equal to the reference (%llu rules "
                "fired, %llu evaluation errors; allow %llu challenge %llu review %llu block "
                "%llu)\n",
                (unsigned long long)events, (unsigned long long)seed,
                (unsigned long long)tally_fired, (unsigned long long)tally_errors,
                (unsigned long long)tally_decisions[0], (unsigned long long)tally_decisions[1],
                (unsigned long long)tally_decisions[2], (unsigned long long)tally_decisions[3]);
  /* The generator reaches every outcome and both error and non-error paths. */
  for (int o = 0; o < 4; o++) assert_true(tally_decisions[o] > 0);
  assert_true(tally_errors > 0 && tally_fired > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_engine_matches_reference)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
