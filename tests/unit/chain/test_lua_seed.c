/*
 * test_lua_seed.c - a contract's table layouts are the same in every
 * process (docs/chain.md, "Deterministic layouts").  Lua 5.4 seeds its
 * string hash per state from the time and addresses (ASLR), and a table's
 * layout follows the hashes of its string keys: whether a new key reuses
 * the slot of a removed one, hence when the table is resized and whether
 * integer keys land in its array part, which `#t` of a table with holes
 * shows.  The test runs itself as separate processes (`--probe` prints the
 * probe contract's result) and asserts that they all print the same; it
 * also checks that in one process, states made at different stack depths
 * agree, and with the result recorded for the pinned seed.  Without the
 * pin the outputs differ from run to run.
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
    "end\n";

/* The probe's result under QP__LUA_SEED with Debian 12's liblua5.4 (5.4.4):
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

/* Runs the probe; its result into out.  Returns 0 or an error. */
static int probe(char *out, size_t size) {
  qp_lua_host_t host = {no_get, no_put, no_del, no_emit, NULL, "abcd", 1};
  qp_lua_call_t call = {.code = PROBE, .code_len = strlen(PROBE), .method = "probe",
                        .gas_limit = 1000000, .memory_max = QP_LUA_MEMORY_MAX};
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
  assert_string_equal(first, PROBE_WANT);
  for (unsigned d = 1; d <= 4; d++) {
    assert_int_equal(probe_deeper(d, other, sizeof other), 0);
    assert_string_equal(other, first);
  }
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
  /* The probe shows both outcomes somewhere, so it does show the layout. */
  assert_non_null(strstr(outs[0], "2"));
  assert_non_null(strstr(outs[0], "4"));
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
      cmocka_unit_test(test_same_layout_across_processes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
