/*
 * test_lua_seed.c - a contract's table layouts are the same in every
 * process (docs/chain.md, "Deterministic layouts").  Lua 5.4 seeds its
 * string hash per state from the time and addresses (ASLR), and a table's
 * layout follows the hashes of its string keys: whether a new key reuses
 * the slot of a removed one, hence when the table is resized and whether
 * integer keys land in its array part, which `#t` of a table with holes
 * shows.  Tables, closures and C functions used as keys hash by address:
 * the state's arena (lua_vm_arena.c) and the sandbox's boxed functions
 * (lua_vm_box.c) make those the same everywhere.  The test runs itself as
 * separate processes (`--probe` prints the probe contract's three results)
 * and asserts that they all print the same; it also checks that in one
 * process, states made at different stack depths and heap states agree,
 * and the string probe with the result recorded for the pinned seed.
 * Without the pin, the arena or the boxing, a probe's output differs from
 * run to run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/err.h"
#include "chain/lua_vm.h"
#include "test_util.h"

#define PROCESSES 8
#define OUT_MAX 4096

/* 64 tables, each with a few string keys of which every other one is
 * removed, then the integer keys 1, 2 and 4: `#t` is 2 when the table was
 * resized after 2 (4 then lands in the hash part), else 4.  Which happens
 * depends on the string keys' hashes. */
static const char PROBE[] =
    "function probe()\n"
    "  local out = {}\n"
    "  for r = 1, 64 do\n"
    "    local t = {}\n"
    "    local n = 3 + r % 13\n"
    "    for i = 1, n do t['k' .. r .. '_' .. i] = true end\n"
    "    for i = 1, n, 2 do t['k' .. r .. '_' .. i] = nil end\n"
    "    t[1] = 1; t[2] = 2; t[4] = 4\n"
    "    out[#out + 1] = #t\n"
    "  end\n"
    "  return table.concat(out, ',')\n"
    "end\n"
    /* The same with tables and functions as the removed keys: they hash by
     * address (and the library's C functions by an address in the
     * executable, unless the sandbox makes them objects of the state). */
    "function probe_keys()\n"
    "  local out = {}\n"
    "  for r = 1, 128 do\n"
    "    local t, keys = {}, {}\n"
    "    local n = 2 + r % 15\n"
    "    for i = 1, n do\n"
    "      local k = (i + r) % 3 == 0 and function() return i + r end or {}\n"
    "      keys[i] = k\n"
    "      t[k] = true\n"
    "    end\n"
    "    for i = 1, n, 2 do t[keys[i]] = nil end\n"
    "    t[1] = 1; t[2] = 2; t[4] = 4\n"
    "    out[#out + 1] = #t\n"
    "    local junk = {}\n"
    "    for j = 1, r % 5 do junk[j] = {} end\n"
    "  end\n"
    "  return table.concat(out, ',')\n"
    "end\n"
    /* The library's functions as keys: Lua's are light C functions, hashed
     * by their address in the executable unless the sandbox boxes them. */
    "function probe_functions()\n"
    "  local fs = {}\n"
    "  for _, lib in ipairs({string, table, math, utf8}) do\n"
    "    for _, f in pairs(lib) do if type(f) == 'function' then fs[#fs + 1] = f end end\n"
    "  end\n"
    "  fs[#fs + 1] = type; fs[#fs + 1] = select; fs[#fs + 1] = tostring\n"
    "  local out = {}\n"
    "  for r = 1, 128 do\n"
    "    local t, keys = {}, {}\n"
    "    local n = 2 + r % 15\n"
    "    for i = 1, n do\n"
    "      local k = fs[1 + (i * 7 + r) % #fs]\n"
    "      keys[i] = k\n"
    "      t[k] = true\n"
    "    end\n"
    "    for i = 1, n, 2 do t[keys[i]] = nil end\n"
    "    t[1] = 1; t[2] = 2; t[4] = 4\n"
    "    out[#out + 1] = #t\n"
    "  end\n"
    "  return table.concat(out, ',')\n"
    "end\n";

/* The probe's result under SEED with Debian 12's liblua5.4 (5.4.4):
 * a node whose Lua hashes otherwise would disagree with the others. */
static const char PROBE_WANT[] =
    "4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,2,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,"
    "4,4,4,4,4,2,4,4,4,4,4,4,4,4,4,4,4,4,2,4,4,4,4,4,4,4,4,4,4,4,4,4";

static int no_get(void *ctx, const uint8_t *k, size_t n, const uint8_t **v, size_t *vn) {
  (void)ctx, (void)k, (void)n, (void)v, (void)vn;
  return QP_ENOTFOUND;
}
static int no_put(void *ctx, const uint8_t *k, size_t n, const uint8_t *v, size_t vn) {
  (void)ctx, (void)k, (void)n, (void)v, (void)vn;
  return QP_ELIMIT;
}
static int no_del(void *ctx, const uint8_t *k, size_t n) {
  (void)ctx, (void)k, (void)n;
  return QP_ELIMIT;
}
static int no_emit(void *ctx, json_t *ev) {
  (void)ctx;
  json_decref(ev);
  return QP_ELIMIT;
}

#define SEED 0x71757075u /* the seed PROBE_WANT was recorded under */

/* Runs the probe's method under seed; its result into out.  Returns 0 or
 * an error. */
static int probe_seeded(const char *method, uint32_t seed, char *out, size_t size) {
  qp_lua_host_t host = {no_get, no_put, no_del, no_emit, NULL, "abcd", 1};
  qp_lua_call_t call = {.code = PROBE, .code_len = strlen(PROBE), .method = method,
                        .gas_limit = 1000000, .memory_max = QP_LUA_MEMORY_MAX, .seed = seed};
  qp_lua_result_t r;
  int rc = qp_lua_run(&call, &host, &r);
  if (rc != 0) return rc;
  if (r.status != QP_LUA_OK || !json_is_string(r.value)) {
    snprintf(out, size, "%s: %s", qp_lua_status_name(r.status), r.message);
    json_decref(r.value);
    return QP_EINVAL;
  }
  snprintf(out, size, "%s", json_string_value(r.value));
  json_decref(r.value);
  return 0;
}

static const char *const PROBES[] = {"probe", "probe_keys", "probe_functions"};
#define PROBE_COUNT (sizeof PROBES / sizeof PROBES[0])

static int probe_method(const char *method, char *out, size_t size) {
  return probe_seeded(method, SEED, out, size);
}

/* Every probe's result, one per line. */
static int probe(char *out, size_t size) {
  char line[OUT_MAX];
  size_t used = 0;
  for (size_t i = 0; i < PROBE_COUNT; i++) {
    int rc = probe_method(PROBES[i], line, sizeof line);
    size_t len = strlen(line);
    if (rc == 0 && used + len + 2 > size) rc = QP_ELIMIT;
    if (rc != 0) return rc;
    memcpy(out + used, line, len);
    used += len;
    out[used++] = i + 1 < PROBE_COUNT ? '\n' : '\0';
  }
  return 0;
}

/* The probe from deeper in the stack (the state's seed took the address of
 * a local variable of lua_newstate). */
__attribute__((noinline)) static int probe_deeper(unsigned depth, char *out, size_t size) {
  volatile char pad[depth * 1000u + 1u];
  pad[0] = 1;
  return probe(out, size) + pad[0] - 1;
}

static void test_same_layout_in_one_process(void **state) {
  (void)state;
  char first[OUT_MAX], other[OUT_MAX];
  assert_int_equal(probe(first, sizeof first), 0);
  assert_true(strncmp(first, PROBE_WANT, strlen(PROBE_WANT)) == 0);
  assert_int_equal(first[strlen(PROBE_WANT)], '\n');
  void *held[64];
  for (unsigned d = 1; d <= 4; d++) {
    /* Other heap blocks change nothing: the state lives in its arena. */
    for (unsigned i = 0; i < 64; i++) held[i] = qp_malloc(48u * (i + d));
    assert_int_equal(probe_deeper(d, other, sizeof other), 0);
    for (unsigned i = 0; i < 64; i++) qp_free(held[i]);
    assert_string_equal(other, first);
  }
}

/* The call's seed is the one the strings are hashed with: other seeds give
 * other layouts (the string probe differs under some of eight). */
static void test_the_call_seed_is_used(void **state) {
  (void)state;
  char want[OUT_MAX], other[OUT_MAX];
  assert_int_equal(probe_seeded("probe", SEED, want, sizeof want), 0);
  assert_string_equal(want, PROBE_WANT);
  int differ = 0;
  for (uint32_t seed = 1; seed <= 8; seed++) {
    assert_int_equal(probe_seeded("probe", seed * 0x9e3779b9u, other, sizeof other), 0);
    char again[OUT_MAX];
    assert_int_equal(probe_seeded("probe", seed * 0x9e3779b9u, again, sizeof again), 0);
    assert_string_equal(again, other); /* a seed gives one layout */
    differ += strcmp(other, want) != 0;
  }
  assert_true(differ > 0);
}

static void test_same_layout_across_processes(void **state) {
  (void)state;
  char self[1024], cmd[1100];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  assert_true(len > 0);
  self[len] = '\0';
  snprintf(cmd, sizeof cmd, "'%s' --probe", self);
  static char outs[PROCESSES][OUT_MAX];
  for (int i = 0; i < PROCESSES; i++) {
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(outs[i], 1, OUT_MAX - 1, p);
    outs[i][n] = '\0';
    assert_int_equal(pclose(p), 0);
    assert_true(n > 0);
  }
  /* Each probe shows both outcomes somewhere, so it does show the layout. */
  const char *line = outs[0];
  for (size_t i = 0; i < PROBE_COUNT; i++) {
    const char *end = strchr(line, '\n');
    size_t n = end != NULL ? (size_t)(end - line) : strlen(line);
    if (memchr(line, '2', n) == NULL || memchr(line, '4', n) == NULL)
      fail_msg("probe %s shows one outcome only: %.*s", PROBES[i], (int)n, line);
    line = end != NULL ? end + 1 : line + n;
  }
  for (int i = 1; i < PROCESSES; i++)
    if (strcmp(outs[i], outs[0]) != 0)
      fail_msg("process %d printed\n%s\nprocess 0 printed\n%s", i, outs[i], outs[0]);
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--probe") == 0) {
    char out[OUT_MAX];
    int rc = probe(out, sizeof out);
    printf("%s\n", out);
    return rc == 0 ? 0 : 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_layout_in_one_process),
      cmocka_unit_test(test_the_call_seed_is_used),
      cmocka_unit_test(test_same_layout_across_processes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
