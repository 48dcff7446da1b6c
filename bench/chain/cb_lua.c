/*
 * cb_lua.c - the cost of Lua contract calls in-process (docs/bench.md,
 * "Chain benchmark"; `quipu-chain-bench --lua-only` runs only these and the
 * verify bound): the counter contract's calls per second through
 * qp_lua_run with the gas hook and without it (same run, interleaved
 * rounds), and a loop-heavy call's VM instructions per second both ways,
 * which is where metering costs most.  A call is a fresh lua_State, the
 * sandbox's libraries, compiling the code and one state read and write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/clock.h"
#include "base/err.h"
#include "bench.h"
#include "chain/chain.h"
#include "chain_bench.h"

#define LUA_ROUNDS 4u          /* metered and unmetered rounds, interleaved */
#define LUA_LOOP_N 200000      /* iterations of the loop call */

const char qcb_lua_counter[] =
    "function inc(a)\n"
    "  local n = (state.get('n') or 0) + 1\n"
    "  state.put('n', n)\n"
    "  return n\n"
    "end\n"
    "function loop(a)\n"
    "  local s = 0\n"
    "  for i = 1, a.n do s = s + (i % 7) end\n"
    "  return s\n"
    "end\n";

/* One key's worth of state: the counter. */
typedef struct one_key {
  uint8_t value[16]; /* the VM's encoding of n */
  size_t len;        /* 0 = absent */
} one_key_t;

static int k_get(void *ctx, const uint8_t *k, size_t kl, const uint8_t **v, size_t *vl) {
  (void)k, (void)kl;
  one_key_t *s = ctx;
  if (s->len == 0) return QP_ENOTFOUND;
  *v = s->value;
  *vl = s->len;
  return 0;
}
static int k_put(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)k, (void)kl;
  one_key_t *s = ctx;
  if (vl > sizeof s->value) return QP_ELIMIT;
  memcpy(s->value, v, vl);
  s->len = vl;
  return 0;
}
static int k_del(void *ctx, const uint8_t *k, size_t kl) {
  (void)k, (void)kl;
  ((one_key_t *)ctx)->len = 0;
  return 0;
}
static int k_emit(void *ctx, json_t *ev) {
  (void)ctx;
  json_decref(ev);
  return 0;
}

/* Runs method count times; *ns the time taken, *gas the last call's gas. */
static int calls(const char *method, const json_t *args, bool unmetered, uint32_t count,
                 uint64_t *ns, uint64_t *gas) {
  one_key_t s = {{0}, 0};
  qp_lua_host_t host = {k_get, k_put, k_del, k_emit, &s, "00", 1};
  qp_lua_call_t call = {.code = qcb_lua_counter, .code_len = strlen(qcb_lua_counter),
                        .method = method,
                        .args = args, .gas_limit = QP_LUA_GAS_MAX,
                        .memory_max = QP_LUA_MEMORY_MAX, .unmetered = unmetered};
  uint64_t t0 = qp_clock_mono_ns();
  for (uint32_t i = 0; i < count; i++) {
    qp_lua_result_t r;
    int rc = qp_lua_run(&call, &host, &r);
    if (rc != 0 || r.status != QP_LUA_OK) {
      fprintf(stderr, "chain-bench: lua %s: %s %s\n", method,
              rc != 0 ? qp_strerror(rc) : qp_lua_status_name(r.status), r.message);
      json_decref(r.value);
      return rc != 0 ? rc : QP_EINVAL;
    }
    *gas = r.gas_used;
    json_decref(r.value);
  }
  *ns += qp_clock_mono_ns() - t0;
  return 0;
}

/* Per second from a count and nanoseconds. */
static double per_s(double count, uint64_t ns) { return ns > 0 ? count * 1e9 / (double)ns : 0; }

int qcb_lua_rates(qb_report_t *rep, bool quick) {
  uint32_t n = quick ? 2000 : 10000, loops = quick ? 5 : 20;
  uint64_t ns[2] = {0, 0}, loop_ns[2] = {0, 0}, gas[2] = {0, 0}, loop_gas[2] = {0, 0};
  json_t *loop_args = json_pack("{s:i}", "n", LUA_LOOP_N);
  int rc = loop_args != NULL ? 0 : QP_ENOMEM;
  for (uint32_t r = 0; rc == 0 && r < LUA_ROUNDS; r++)
    for (int m = 0; rc == 0 && m < 2; m++) {
      rc = calls("inc", NULL, m == 1, n / LUA_ROUNDS, &ns[m], &gas[m]);
      if (rc == 0) rc = calls("loop", loop_args, m == 1, loops / LUA_ROUNDS + 1, &loop_ns[m],
                              &loop_gas[m]);
    }
  json_decref(loop_args);
  if (rc != 0) return rc;
  double metered = per_s(n / LUA_ROUNDS * LUA_ROUNDS, ns[0]);
  double unmetered = per_s(n / LUA_ROUNDS * LUA_ROUNDS, ns[1]);
  double loop_calls = (double)((loops / LUA_ROUNDS + 1) * LUA_ROUNDS);
  /* The metered loop call's gas is its instruction count (to within a
   * block, plus the call's fixed charge). */
  double instr = (double)(loop_gas[0] - QP_LUA_GAS_CALL);
  double instr_metered = per_s(loop_calls * instr, loop_ns[0]);
  double instr_unmetered = per_s(loop_calls * instr, loop_ns[1]);
  printf("-- lua in-process: counter %.0f calls/s metered, %.0f unmetered (%.3f); "
         "%llu gas per call\n", metered, unmetered, unmetered > 0 ? metered / unmetered : 0,
         (unsigned long long)gas[0]);
  printf("   loop of %d: %.0f M instructions/s metered, %.0f M unmetered (%.3f)\n", LUA_LOOP_N,
         instr_metered / 1e6, instr_unmetered / 1e6,
         instr_unmetered > 0 ? instr_metered / instr_unmetered : 0);
  qb_report_add(rep, "lua_calls_per_s_metered", metered, "calls/s", 0);
  qb_report_add(rep, "lua_calls_per_s_unmetered", unmetered, "calls/s", 0);
  qb_report_add(rep, "lua_metering_ratio", unmetered > 0 ? metered / unmetered : 0, "x", 3);
  qb_report_add(rep, "lua_instr_per_s_metered", instr_metered, "instructions/s", 0);
  qb_report_add(rep, "lua_instr_per_s_unmetered", instr_unmetered, "instructions/s", 0);
  return 0;
}

int qcb_lua_deploy(const qcb_config_t *cfg, const qcb_net_t *net) {
  char code[600], key[600], cmd[2200];
  snprintf(code, sizeof code, "%s/counter.lua", net->dir);
  snprintf(key, sizeof key, "%s/deployer.key", net->dir);
  FILE *f = fopen(code, "w");
  if (f == NULL) return QP_EIO;
  bool ok = fputs(qcb_lua_counter, f) >= 0;
  ok = fclose(f) == 0 && ok;
  /* Paths are the bench's own temp dir (no quotes in them). */
  snprintf(cmd, sizeof cmd, "'%s' chain keygen --out '%s' >/dev/null && '%s' chain deploy "
           "--node http://127.0.0.1:%u --key '%s' --code '%s' --wait >/dev/null",
           cfg->quipu, key, cfg->quipu, net->base_port, key, code);
  if (!ok || system(cmd) != 0) {
    fprintf(stderr, "chain-bench: deploying the counter failed: %s\n", cmd);
    return QP_EIO;
  }
  printf("-- deployed the counter contract (quipu chain deploy --wait)\n");
  return 0;
}
