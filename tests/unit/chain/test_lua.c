/*
 * test_lua.c - Lua contracts: the sandbox (lua_vm.h) with an in-memory
 * host, and the `lua` app through block execution on real stores.
 * Counter and token contracts; an endless loop stops out of gas with
 * exactly its limit used; memory bombs stop out of memory; escapes through
 * os, io, load, loadstring, dofile, require, debug, package, coroutine,
 * string.dump, the string metatable, pcall and xpcall all fail; pairs and
 * next have one order; a call gives the same gas and result every time;
 * floats are refused at the boundary; a failed call writes nothing; bad
 * args, gas and code are refused with their codes; two stores fed the same
 * blocks agree on the state root.
 */
#include "base/clock.h"
#include "chain/exec.h"
#include "chain/lua_vm.h"
#include "chain/store.h"
#include "chain_test.h"

/* ---- the sandbox with an in-memory host ----------------------------------- */

#define MEM_ENTRIES 64

typedef struct mem_host {
  uint8_t keys[MEM_ENTRIES][QP_LUA_KEY_MAX];
  size_t key_lens[MEM_ENTRIES];
  uint8_t values[MEM_ENTRIES][QP_LUA_VALUE_MAX + 1];
  size_t value_lens[MEM_ENTRIES];
  size_t count;
  json_t *events;
  int fail_get; /* when non-zero, get answers it */
} mem_host_t;

static int mem_find(mem_host_t *h, const uint8_t *key, size_t len) {
  for (size_t i = 0; i < h->count; i++)
    if (h->key_lens[i] == len && memcmp(h->keys[i], key, len) == 0) return (int)i;
  return -1;
}

static int mem_get(void *ctx, const uint8_t *key, size_t len, const uint8_t **v, size_t *n) {
  mem_host_t *h = ctx;
  if (h->fail_get != 0) return h->fail_get;
  int i = mem_find(h, key, len);
  if (i < 0 || h->value_lens[i] == 0) return QP_ENOTFOUND;
  *v = h->values[i];
  *n = h->value_lens[i];
  return 0;
}

static int mem_put(void *ctx, const uint8_t *key, size_t len, const uint8_t *v, size_t n) {
  mem_host_t *h = ctx;
  int i = mem_find(h, key, len);
  if (i < 0) {
    assert_true(h->count < MEM_ENTRIES);
    i = (int)h->count++;
    memcpy(h->keys[i], key, len);
    h->key_lens[i] = len;
  }
  memcpy(h->values[i], v, n);
  h->value_lens[i] = n;
  return 0;
}

static int mem_del(void *ctx, const uint8_t *key, size_t len) {
  mem_host_t *h = ctx;
  int i = mem_find(h, key, len);
  if (i >= 0) h->value_lens[i] = 0;
  return 0;
}

static int mem_emit(void *ctx, json_t *ev) {
  mem_host_t *h = ctx;
  if (json_array_size(h->events) == QP_LUA_EVENTS_MAX) {
    json_decref(ev);
    return QP_ELIMIT;
  }
  return json_array_append_new(h->events, ev) == 0 ? 0 : QP_ENOMEM;
}

static void mem_init(mem_host_t *h) {
  memset(h, 0, sizeof *h);
  h->events = json_array();
}

/* Runs method(args) of code; args is JSON text or NULL. */
static int run_on(mem_host_t *h, const char *code, const char *method, const char *args,
                  uint64_t gas, qp_lua_result_t *r) {
  json_t *a = NULL;
  char detail[256] = "";
  if (args != NULL && qp_lua_args_parse(args, strlen(args), &a, detail, sizeof detail) != 0)
    fail_msg("args: %s", detail);
  qp_lua_host_t host = {mem_get, mem_put, mem_del, mem_emit, h, "abcd", 7};
  qp_lua_call_t call = {.code = code, .code_len = strlen(code), .method = method, .args = a,
                        .gas_limit = gas, .memory_max = QP_LUA_MEMORY_MAX};
  int rc = qp_lua_run(&call, &host, r);
  json_decref(a);
  return rc;
}

/* Runs `function f(a) <body> end` on a fresh host; expects status. */
static void expect_status(const char *body, qp_lua_status_t status, const char *message_part) {
  char code[2048];
  snprintf(code, sizeof code, "function f(a)\n%s\nend\n", body);
  mem_host_t *h = qp_malloc(sizeof *h);
  mem_init(h);
  qp_lua_result_t r;
  assert_int_equal(run_on(h, code, "f", NULL, 1000000, &r), 0);
  if (r.status != status || (message_part != NULL && strstr(r.message, message_part) == NULL))
    fail_msg("%s\n=> %s: %s", body, qp_lua_status_name(r.status), r.message);
  if (status != QP_LUA_OK) assert_int_equal(h->count, 0); /* the test host writes directly */
  json_decref(r.value);
  json_decref(h->events);
  qp_free(h);
}

/* Runs `return <expr>` and compares the JSON of the result with want. */
static void expect_json(const char *body, const char *want) {
  char code[2048];
  snprintf(code, sizeof code, "function f(a)\n%s\nend\n", body);
  mem_host_t *h = qp_malloc(sizeof *h);
  mem_init(h);
  qp_lua_result_t r;
  assert_int_equal(run_on(h, code, "f", NULL, 1000000, &r), 0);
  if (r.status != QP_LUA_OK) fail_msg("%s\n=> %s: %s", body, qp_lua_status_name(r.status),
                                      r.message);
  char *got = json_dumps(r.value, JSON_COMPACT | JSON_ENCODE_ANY);
  if (strcmp(got, want) != 0) fail_msg("%s\n=> %s, want %s", body, got, want);
  free(got); /* lint-ok: jansson's allocation */
  json_decref(r.value);
  json_decref(h->events);
  qp_free(h);
}

static const char COUNTER[] =
    "function inc(a)\n"
    "  local n = state.get('n') or 0\n"
    "  n = n + ((a and a.by) or 1)\n"
    "  state.put('n', n)\n"
    "  emit({count = n, by = tx.sender, height = tx.height})\n"
    "  return n\n"
    "end\n"
    "function get() return state.get('n') or 0 end\n";

static void test_counter(void **state) {
  (void)state;
  mem_host_t *h = qp_malloc(sizeof *h);
  mem_init(h);
  qp_lua_result_t r;
  uint64_t gas[3];
  for (int i = 1; i <= 3; i++) {
    assert_int_equal(run_on(h, COUNTER, "inc", NULL, 100000, &r), 0);
    assert_int_equal(r.status, QP_LUA_OK);
    assert_int_equal(json_integer_value(r.value), i);
    gas[i - 1] = r.gas_used;
    assert_true(r.gas_used > QP_LUA_GAS_CALL && r.gas_used < 100000);
    json_decref(r.value);
  }
  assert_int_equal(gas[1], gas[2]);
  assert_int_equal(run_on(h, COUNTER, "inc", "{\"by\":40}", 100000, &r), 0);
  assert_int_equal(json_integer_value(r.value), 43);
  json_decref(r.value);
  assert_int_equal(json_array_size(h->events), 4);
  char *ev = json_dumps(json_array_get(h->events, 3), JSON_COMPACT);
  assert_string_equal(ev, "{\"by\":\"abcd\",\"count\":43,\"height\":7}");
  free(ev); /* lint-ok: jansson's allocation */
  assert_int_equal(run_on(h, COUNTER, "get", NULL, 100000, &r), 0);
  assert_int_equal(json_integer_value(r.value), 43);
  json_decref(r.value);
  /* A method the contract lacks, and the host's operating error. */
  assert_int_equal(run_on(h, COUNTER, "nope", NULL, 100000, &r), 0);
  assert_int_equal(r.status, QP_LUA_ERROR);
  assert_non_null(strstr(r.message, "no function 'nope'"));
  h->fail_get = QP_EDB;
  assert_int_equal(run_on(h, COUNTER, "inc", NULL, 100000, &r), QP_EDB);
  assert_null(r.value);
  json_decref(h->events);
  qp_free(h);
}

static void test_out_of_gas_uses_the_limit(void **state) {
  (void)state;
  const char *loops[] = {"while true do end", "local i = 0 repeat i = i + 1 until false",
                         "local function r() return r() end return r()",
                         "pcall(function() while true do end end) return 1",
                         "xpcall(function() while true do end end, function() "
                         "while true do end end) return 1",
                         "while true do pcall(error, 'x') end"};
  const uint64_t limits[] = {1, 999, 1000, 1001, 2000, 12345, 500000};
  for (size_t i = 0; i < sizeof loops / sizeof loops[0]; i++)
    for (size_t j = 0; j < sizeof limits / sizeof limits[0]; j++) {
      char code[512];
      snprintf(code, sizeof code, "function f()\nstate.put('k', 1)\n%s\nend", loops[i]);
      mem_host_t *h = qp_malloc(sizeof *h);
      mem_init(h);
      qp_lua_result_t r;
      assert_int_equal(run_on(h, code, "f", NULL, limits[j], &r), 0);
      if (r.status != QP_LUA_OUT_OF_GAS || r.gas_used != limits[j])
        fail_msg("%s gas %llu => %s %llu: %s", loops[i], (unsigned long long)limits[j],
                 qp_lua_status_name(r.status), (unsigned long long)r.gas_used, r.message);
      assert_null(r.value);
      json_decref(h->events);
      qp_free(h);
    }
}

static void test_memory_bombs(void **state) {
  (void)state;
  expect_status("local s = 'x' while true do s = s .. s end", QP_LUA_OUT_OF_MEMORY, NULL);
  expect_status("local t = {} for i = 1, 1 << 40 do t[i] = i end", QP_LUA_OUT_OF_MEMORY, NULL);
  expect_status("return string.rep('x', 1 << 30)", QP_LUA_OUT_OF_MEMORY, NULL);
  expect_status("local ok = pcall(string.rep, 'x', 1 << 30) state.put('k', 'escaped') return 1",
         QP_LUA_OUT_OF_MEMORY, NULL);
  expect_status("local t = {} while true do t = {t} end", QP_LUA_OUT_OF_MEMORY, NULL);
  /* Deep recursion is bounded by Lua (an error) or by the cap. */
  char code[] = "function f() local function r(n) return 1 + r(n + 1) end return r(1) end";
  mem_host_t *h = qp_malloc(sizeof *h);
  mem_init(h);
  qp_lua_result_t r;
  assert_int_equal(run_on(h, code, "f", NULL, QP_LUA_GAS_MAX, &r), 0);
  assert_true(r.status == QP_LUA_ERROR || r.status == QP_LUA_OUT_OF_MEMORY);
  json_decref(h->events);
  qp_free(h);
}

/* Work done inside one C function is paid: patterns by their worst case,
 * strings by the bytes read and returned.  Each bomb ends out of gas,
 * quickly, instead of stalling every node. */
static void test_cpu_bombs_pay(void **state) {
  (void)state;
  const char *bombs[] = {
      "return string.find(string.rep('a', 5000), string.rep('a*', 20) .. 'b')",
      "return ('a'):rep(3000):gsub('(a-)(a-)(a-)(a-)b', '%1')",
      "for i = 1, 1e9 do local t = string.rep('x', 16000) end",
      "local t = {} for i = 1, 15 do t[i] = string.rep('x', 1000) end "
      "for i = 1, 1e9 do local s = table.concat(t) end",
      "local s = string.rep('x', 16000) for i = 1, 1e9 do local n = utf8.len(s) end",
      "local s = string.rep('x', 16000) for i = 1, 1e9 do local n = s:find('y', 1, true) end",
      "local s = string.rep('9', 16000) for i = 1, 1e9 do local n = tonumber(s) end",
      "local s = string.rep('x', 16000) for i = 1, 1e9 do local t = s .. i end",
      "local t = {} for i = 1, 1e9 do t[i % 10 + 1] = string.rep('z', 16000) end",
      "local a, b = string.rep('x', 16000), string.rep('x', 16000) "
      "for i = 1, 1e9 do local e = a < b end",
      "local t = {} for i = 1, 100000 do t[i] = (i * 7919) % 1000 end "
      "for i = 1, 1e9 do table.sort(t) end"};
  for (size_t i = 0; i < sizeof bombs / sizeof bombs[0]; i++) {
    char code[512];
    snprintf(code, sizeof code, "function f()\n%s\nend", bombs[i]);
    mem_host_t *h = qp_malloc(sizeof *h);
    mem_init(h);
    qp_lua_result_t r;
    uint64_t t0 = qp_clock_mono_ns();
    assert_int_equal(run_on(h, code, "f", NULL, QP_LUA_GAS_MAX, &r), 0);
    uint64_t ms = (qp_clock_mono_ns() - t0) / 1000000;
    if (r.status != QP_LUA_OUT_OF_GAS || r.gas_used != QP_LUA_GAS_MAX || ms > 30000)
      fail_msg("%s => %s after %llu ms: %s", bombs[i], qp_lua_status_name(r.status),
               (unsigned long long)ms, r.message);
    json_decref(h->events);
    qp_free(h);
  }
  /* Library calls return at most 256 values. */
  expect_status("local t = {} for i = 1, 1000 do t[i] = i end return select('#', "
                "table.unpack(t))", QP_LUA_ERROR, "too many results (at most 256)");
  expect_status("return select('#', string.byte(string.rep('x', 300), 1, -1))", QP_LUA_ERROR,
                "too many results");
  expect_json("return select('#', table.unpack({1, 2, 3}))", "3");
  /* A string is at most 16 KiB, which bounds what comparing two costs. */
  expect_status("local s = string.rep('x', 10000) return #(s .. s)", QP_LUA_OUT_OF_MEMORY,
                "a string longer than 16384 bytes");
  expect_status("local ok = pcall(string.rep, 'x', 70000) return 1", QP_LUA_OUT_OF_MEMORY,
                NULL);
  /* Ordinary pattern use stays cheap. */
  expect_json("return {string.match('abc123', '%d+'), (('a,b,c'):gsub(',', ';'))}",
              "[\"123\",\"a;b;c\"]");
  expect_json("local n = 0 for w in ('one two three'):gmatch('%a+') do n = n + 1 end return n",
              "3");
  /* Memory a loop lets go of is collected, not counted against the cap. */
  expect_json("local s = string.rep('x', 16000) for i = 1, 300 do local t = s .. i end "
              "return 1", "1");
}

static void test_escapes_fail(void **state) {
  (void)state;
  const char *nil_globals[] = {"os", "io", "load", "loadstring", "dofile", "loadfile",
                               "require", "debug", "package", "coroutine", "collectgarbage",
                               "print", "warn", "module", "setfenv", "getfenv", "unpack"};
  for (size_t i = 0; i < sizeof nil_globals / sizeof nil_globals[0]; i++) {
    char body[128];
    snprintf(body, sizeof body, "return %s == nil", nil_globals[i]);
    expect_json(body, "true");
    snprintf(body, sizeof body, "return %s()", nil_globals[i]);
    expect_status(body, QP_LUA_ERROR, "nil value");
  }
  expect_status("return os.time()", QP_LUA_ERROR, "global 'os'");
  expect_status("return io.open('/etc/passwd')", QP_LUA_ERROR, "global 'io'");
  expect_status("return debug.getinfo(1)", QP_LUA_ERROR, "global 'debug'");
  expect_status("return string.dump(f)", QP_LUA_ERROR, "dump");
  expect_status("return _G.load('return 1')()", QP_LUA_ERROR, NULL);
  expect_status("return rawget(_G, 'require')('os')", QP_LUA_ERROR, NULL);
  /* The string metatable cannot be reached nor replaced. */
  expect_json("return getmetatable('')", "false");
  expect_status("getmetatable('').__index.upper = nil", QP_LUA_ERROR, "boolean value");
  expect_status("setmetatable('', {})", QP_LUA_ERROR, "table expected");
  expect_json("return ('abc'):upper()", "\"ABC\"");
  /* math keeps its integer functions only. */
  expect_json("return {math.random == nil, math.sqrt == nil, math.pi == nil, "
               "math.huge == nil, math.randomseed == nil, math.max(3, 9), "
               "math.tointeger(4.0), math.maxinteger}",
               "[true,true,true,true,true,9,4,9223372036854775807]");
  /* No addresses, no finalizers. */
  expect_json("return tostring({}) .. ',' .. tostring(pairs) .. ',' .. tostring(12)",
               "\"table,function,12\"");
  expect_status("return string.format('%p', {})", QP_LUA_ERROR, "%p");
  expect_status("return string.format('%s', {})", QP_LUA_ERROR, "only numbers");
  expect_json("return string.format('%d-%s', 5, 'x')", "\"5-x\"");
  expect_status("setmetatable({}, {__gc = function() end})", QP_LUA_ERROR, "__gc");
  /* An ordinary error stays catchable; its message is the contract's. */
  expect_json("local ok, e = pcall(error, 'boom') return {ok, e}", "[false,\"boom\"]");
  expect_status("error('insufficient balance')", QP_LUA_ERROR, "insufficient balance");
  expect_status("error({})", QP_LUA_ERROR, "error object is a table");
}

static void test_floats_refused(void **state) {
  (void)state;
  expect_status("return 1.5", QP_LUA_ERROR, "return value: float not allowed");
  expect_status("return 3 / 1", QP_LUA_ERROR, "float not allowed");
  expect_status("return {a = {0.5}}", QP_LUA_ERROR, "float not allowed");
  expect_status("state.put('k', 0.5)", QP_LUA_ERROR, "state.put: float not allowed");
  expect_status("emit({x = 1.25})", QP_LUA_ERROR, "emit: float not allowed");
  expect_status("return {[1.5] = 1}", QP_LUA_ERROR, "float");
  expect_status("return {1, 2, x = 3}", QP_LUA_ERROR, "array (keys 1..n)");
  expect_status("return {[2] = 1}", QP_LUA_ERROR, "array (keys 1..n)");
  expect_status("return pairs", QP_LUA_ERROR, "a function cannot cross to JSON");
  expect_status("return string.upper", QP_LUA_ERROR, "cannot cross to JSON");
  expect_status("return '\\255'", QP_LUA_ERROR, "UTF-8");
  expect_status("return {string.rep('x', 10000), string.rep('y', 10000)}", QP_LUA_ERROR,
                "return value: longer than 16384 bytes");
  expect_status("local t = {} for i = 1, 17 do t = {t} end return t", QP_LUA_ERROR, "deeper");
  expect_json("return 7 // 2", "3");
  expect_json("return {}", "{}");
  expect_json("return nil", "null");
}

static void test_deterministic_order(void **state) {
  (void)state;
  /* table.sort is a stable merge sort: ties keep their order. */
  expect_json("local t = {} for i = 1, 300 do t[i] = {k = (i * 7) % 5, i = i} end "
              "table.sort(t, function(a, b) return a.k < b.k end) "
              "local o = {} for i = 1, 6 do o[i] = t[i].i end o[7] = t[300].k return o",
              "[5,10,15,20,25,30,4]");
  expect_json("local t = {'b', 'a', 'c', 'aa'} table.sort(t) return t",
              "[\"a\",\"aa\",\"b\",\"c\"]");
  expect_json("local t = {3, 1, 2} table.sort(t, function(a, b) return a > b end) return t",
              "[3,2,1]");
  expect_json("local t = {3, 1, 2, 5, 4} table.sort(t, function() return true end) return #t",
              "5");
  expect_status("table.sort({1, 'x'})", QP_LUA_ERROR, "attempt to compare");
  const char *fill = "local t = {} t.b = 1 t.a = 2 t[3] = 3 t[1] = 4 t[true] = 5 t.aa = 6 "
                     "t[-7] = 7 t[false] = 8 t.B = 9 ";
  char body[1024];
  snprintf(body, sizeof body, "%s local o = {} for k in pairs(t) do o[#o + 1] = tostring(k) "
                              "end return table.concat(o, ',')", fill);
  expect_json(body, "\"-7,1,3,B,a,aa,b,false,true\"");
  snprintf(body, sizeof body, "%s local o, k = {}, nil repeat k = next(t, k) "
                              "if k ~= nil then o[#o + 1] = tostring(k) end until k == nil "
                              "return table.concat(o, ',')", fill);
  expect_json(body, "\"-7,1,3,B,a,aa,b,false,true\"");
  /* Removing keys during the loop skips them, as raw next does. */
  expect_json("local t = {a = 1, b = 2, c = 3} local o = {} for k in pairs(t) do "
               "o[#o + 1] = k t.b = nil end return table.concat(o)", "\"ac\"");
  expect_status("for k in pairs({[{}] = 1}) do end", QP_LUA_ERROR, "pairs: a table key is a table");
  /* Objects come out with their keys in the same order. */
  expect_json("return {zeta = 1, alpha = {b = true, a = 'x'}, mid = {3, 2, 1}}",
               "{\"alpha\":{\"a\":\"x\",\"b\":true},\"mid\":[3,2,1],\"zeta\":1}");
}

static void test_same_call_same_result(void **state) {
  (void)state;
  const char *code = "function f(a) local t = {} for i = 1, a.n do t['k' .. i] = i * i end "
                     "local s = 0 for k, v in pairs(t) do s = s + v end "
                     "state.put('s', s) return {sum = s, keys = #a.list} end";
  char *first = NULL;
  uint64_t gas = 0;
  for (int i = 0; i < 3; i++) {
    mem_host_t *h = qp_malloc(sizeof *h);
    mem_init(h);
    qp_lua_result_t r;
    assert_int_equal(run_on(h, code, "f", "{\"n\":500,\"list\":[1,2,3]}", 1000000, &r), 0);
    assert_int_equal(r.status, QP_LUA_OK);
    char *got = json_dumps(r.value, JSON_COMPACT);
    if (first == NULL) {
      first = got;
      gas = r.gas_used;
    } else {
      assert_string_equal(got, first);
      assert_int_equal(r.gas_used, gas);
      free(got); /* lint-ok: jansson's allocation */
    }
    json_decref(r.value);
    json_decref(h->events);
    qp_free(h);
  }
  assert_string_equal(first, "{\"keys\":3,\"sum\":41791750}");
  free(first); /* lint-ok: jansson's allocation */
}

static void test_args_decoder(void **state) {
  (void)state;
  json_t *v = NULL;
  char detail[256] = "";
  const char *refused[][2] = {{"1.5", "real"},          {"{\"a\":[1,2.0]}", "real"},
                              {"null", "null"},         {"[1,null]", "null"},
                              {"{\"a\":1,\"a\":2}", "duplicate"}, {"{", "not JSON"},
                              {"[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]", "deeper"}};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    assert_int_equal(qp_lua_args_parse(refused[i][0], strlen(refused[i][0]), &v, detail,
                                       sizeof detail), QP_EINVAL);
    if (strstr(detail, refused[i][1]) == NULL) fail_msg("%s => %s", refused[i][0], detail);
    assert_null(v);
  }
  const char *ok = "{\"s\":\"h\\u00e9\",\"n\":-9007199254740993,\"b\":[true,false],"
                   "\"o\":{\"x\":{\"y\":[1,[2]]}}}";
  assert_int_equal(qp_lua_args_parse(ok, strlen(ok), &v, detail, sizeof detail), 0);
  mem_host_t *h = qp_malloc(sizeof *h);
  mem_init(h);
  qp_lua_result_t r;
  assert_int_equal(run_on(h, "function echo(a) return a end", "echo", ok, 100000, &r), 0);
  assert_int_equal(r.status, QP_LUA_OK);
  assert_true(json_equal(r.value, v));
  json_decref(r.value);
  json_decref(v);
  json_decref(h->events);
  qp_free(h);
}

static void test_compile(void **state) {
  (void)state;
  char detail[256] = "";
  assert_int_equal(qp_lua_compile(COUNTER, strlen(COUNTER), detail, sizeof detail), 0);
  assert_int_equal(qp_lua_compile("function f(\n", 12, detail, sizeof detail), QP_EPARSE);
  assert_non_null(strstr(detail, "contract:"));
  static const char binary[] = "\x1bLua\x54\x00\x19\x93\r\n\x1a\n";
  assert_int_equal(qp_lua_compile(binary, sizeof binary - 1, detail, sizeof detail), QP_EPARSE);
  assert_non_null(strstr(detail, "binary"));
  /* Code with a top-level loop compiles; running it runs out of gas. */
  assert_int_equal(qp_lua_compile("while true do end", 17, detail, sizeof detail), 0);
}

/* ---- the lua app through blocks on real stores ------------------------------- */

typedef struct node {
  char dir[256];
  qp_chain_genesis_t g;
  qp_chain_store_t *store;
} node_t;

static void node_open(node_t *n, const qp_chain_genesis_t *g) {
  qp_test_tmpdir(n->dir, sizeof n->dir);
  n->g = *g;
  char detail[256] = "";
  int rc = qp_chain_store_open(n->dir, &n->g, 64u << 20, &n->store, detail, sizeof detail);
  if (rc != 0) fail_msg("open: %s", detail);
}

static void node_close(node_t *n) {
  qp_chain_store_close(n->store);
  qp_test_rmdir(n->dir);
}

/* Executes and commits one block of the given txs; receipts into out[]
 * (qp_malloc'ed copies, the caller's). */
static void run_block(node_t *n, uint8_t **txs, size_t *lens, size_t count, char **out) {
  qp_buf_t body = {.max = 1 << 20};
  assert_int_equal(qp_chain_txs_begin(&body), 0);
  for (size_t i = 0; i < count; i++) assert_int_equal(qp_chain_txs_add(&body, txs[i], lens[i]), 0);
  qp_chain_tx_t decoded[16];
  size_t got = 0;
  char detail[256] = "";
  int rc = qp_chain_txs_decode(QP_SUITE_ED25519, n->g.hash, (const uint8_t *)body.data, body.len,
                               1 << 20, 1 << 20, decoded, 16, &got, detail, sizeof detail);
  if (rc != 0) fail_msg("body: %s", detail);
  qp_chain_head_t head;
  qp_chain_store_head(n->store, &head);
  qp_chain_exec_t exec;
  assert_int_equal(qp_chain_execute_block(qp_chain_store_state(n->store), NULL, decoded, got,
                                          head.height + 1, 0, &exec), 0);
  for (size_t i = 0; i < count; i++) {
    const qp_chain_receipt_t *r = qp_array_at(&exec.receipts, i);
    out[i] = qp_malloc(r->json_len + 1);
    memcpy(out[i], r->json, r->json_len + 1);
  }
  qp_chain_block_in_t in = {.height = exec.height, .header = (const uint8_t *)"hdr",
                            .header_len = 3, .qc = (const uint8_t *)"qc!", .qc_len = 3,
                            .body = (const uint8_t *)body.data, .body_len = body.len};
  qp_hash256(in.hash, &in.height, sizeof in.height);
  memcpy(in.parent_hash, head.hash, QP_HASH_SIZE);
  rc = qp_chain_store_commit(n->store, &in, &exec, detail, sizeof detail);
  if (rc != 0) fail_msg("commit: %s", detail);
  qp_chain_exec_deinit(&exec);
  qp_buf_free(&body);
}

static json_t *lua_query(node_t *n, const char *method, const char *args, char *code) {
  json_t *result = NULL;
  char detail[256];
  qp_chain_app_query(&qp_chain_app_lua, qp_chain_store_state(n->store), method, args,
                     strlen(args), &result, code, detail, sizeof detail);
  return result;
}

static const char TOKEN[] =
    "function mint(a)\n"
    "  if state.get('minted') then error('minted already') end\n"
    "  state.put('minted', 1)\n"
    "  state.put('bal:' .. tx.sender, a.supply)\n"
    "  return a.supply\n"
    "end\n"
    "function transfer(a)\n"
    "  if math.type(a.amount) ~= 'integer' or a.amount <= 0 then error('bad amount') end\n"
    "  local from, to = 'bal:' .. tx.sender, 'bal:' .. a.to\n"
    "  local have = state.get(from) or 0\n"
    "  if have < a.amount then error('insufficient balance') end\n"
    "  state.put(from, have - a.amount)\n"
    "  state.put(to, (state.get(to) or 0) + a.amount)\n"
    "  emit({from = tx.sender, to = a.to, amount = a.amount})\n"
    "  return have - a.amount\n"
    "end\n";

/* A JSON args text (qp_malloc'ed) {"code": src}. */
static char *deploy_args(const char *src) {
  json_t *a = json_pack("{s:s}", "code", src);
  char *text = json_dumps(a, JSON_COMPACT);
  json_decref(a);
  char *copy = qp_malloc(strlen(text) + 1);
  memcpy(copy, text, strlen(text) + 1);
  free(text); /* lint-ok: jansson's allocation */
  return copy;
}

static void expect_receipt(const char *json, const char *part) {
  if (strstr(json, part) == NULL) fail_msg("receipt %s lacks %s", json, part);
}

static void address_of(const char *src, char out[65]) {
  uint8_t h[QP_HASH_SIZE];
  assert_int_equal(qp_suite_hash(QP_SUITE_ED25519, h, src, strlen(src)), 0);
  qp_hex(out, h, QP_HASH_SIZE);
}

/* The block script both nodes run; receipts are compared by the caller. */
static void run_script(node_t *n, char *rec[][16]) {
  qp_sign_key_t *alice = test_key(QP_SUITE_ED25519, 21), *bob = test_key(QP_SUITE_ED25519, 22);
  uint8_t pub[QP_SIGN_PUBLIC_MAX];
  size_t pub_len = 0;
  char bob_hex[2 * QP_SIGN_PUBLIC_MAX + 1], tok[65], ctr[65], args[1024];
  qp_sign_public(bob, pub, &pub_len);
  qp_hex(bob_hex, pub, pub_len);
  address_of(TOKEN, tok);
  address_of(COUNTER, ctr);
  char *d1 = deploy_args(TOKEN), *d2 = deploy_args(COUNTER), *d3 = deploy_args("function (");
  uint8_t *txs[16];
  size_t lens[16], k = 0;
  txs[k] = test_tx(alice, n->g.hash, 1, "lua", "deploy", d1, &lens[k]), k++;
  txs[k] = test_tx(alice, n->g.hash, 2, "lua", "deploy", d2, &lens[k]), k++;
  txs[k] = test_tx(alice, n->g.hash, 3, "lua", "deploy", d2, &lens[k]), k++;
  txs[k] = test_tx(alice, n->g.hash, 4, "lua", "deploy", d3, &lens[k]), k++;
  run_block(n, txs, lens, k, rec[0]);
  for (size_t i = 0; i < k; i++) qp_free(txs[i]);
  k = 0;
#define CALL(key, nonce, fmt, ...)                                                  \
  snprintf(args, sizeof args, fmt, __VA_ARGS__);                                  \
  txs[k] = test_tx(key, n->g.hash, nonce, "lua", "call", args, &lens[k]), k++
  CALL(alice, 5, "{\"contract\":\"%s\",\"method\":\"mint\",\"args\":{\"supply\":100},"
                 "\"gas\":100000}", tok);
  CALL(alice, 6, "{\"contract\":\"%s\",\"method\":\"transfer\",\"args\":{\"to\":\"%s\","
                 "\"amount\":30},\"gas\":100000}", tok, bob_hex);
  CALL(bob, 1, "{\"contract\":\"%s\",\"method\":\"transfer\",\"args\":{\"to\":\"%s\","
               "\"amount\":31},\"gas\":100000}", tok, bob_hex);
  CALL(alice, 7, "{\"contract\":\"%s\",\"method\":\"inc\",\"gas\":100000}%s", ctr, "");
  CALL(alice, 8, "{\"contract\":\"%s\",\"method\":\"inc\",\"gas\":0}%s", ctr, "");
  CALL(alice, 9, "{\"contract\":\"%s\",\"method\":\"inc\",\"gas\":10000001}%s", ctr, "");
  CALL(alice, 10, "{\"contract\":\"%s\",\"method\":\"inc\",\"gas\":5000,\"args\":1.5}%s", ctr,
       "");
  CALL(alice, 11, "{\"contract\":\"%s\",\"method\":\"inc\",\"gas\":5000}%s", tok, "");
  CALL(alice, 12, "{\"contract\":\"%064d\",\"method\":\"inc\",\"gas\":100}", 0);
  CALL(alice, 13, "{\"contract\":\"%s\",\"method\":\"inc\",\"gas\":1500}%s", ctr, "");
  run_block(n, txs, lens, k, rec[1]);
  for (size_t i = 0; i < k; i++) qp_free(txs[i]);
#undef CALL
  qp_free(d1);
  qp_free(d2);
  qp_free(d3);
  qp_sign_key_free(alice);
  qp_sign_key_free(bob);
}

static void test_app_through_blocks(void **state) {
  (void)state;
  qp_chain_genesis_t g;
  test_genesis(QP_SUITE_ED25519, &g);
  node_t a, b;
  node_open(&a, &g);
  node_open(&b, &g);
  char *ra[2][16] = {{0}}, *rb[2][16] = {{0}};
  run_script(&a, ra);
  run_script(&b, rb);
  for (int blk = 0; blk < 2; blk++)
    for (int i = 0; i < 16 && ra[blk][i] != NULL; i++) assert_string_equal(ra[blk][i], rb[blk][i]);
  qp_chain_head_t ha, hb;
  qp_chain_store_head(a.store, &ha);
  qp_chain_store_head(b.store, &hb);
  assert_int_equal(ha.height, 2);
  assert_memory_equal(ha.state_root, hb.state_root, QP_HASH_SIZE);
  char tok[65], ctr[65];
  address_of(TOKEN, tok);
  address_of(COUNTER, ctr);
  expect_receipt(ra[0][0], "\"status\":\"ok\"");
  expect_receipt(ra[0][0], tok);
  expect_receipt(ra[0][1], ctr);
  expect_receipt(ra[0][2], "\"code\":\"already_deployed\"");
  expect_receipt(ra[0][3], "\"code\":\"compile_error\"");
  expect_receipt(ra[0][3], "contract:1:");
  expect_receipt(ra[1][0], "\"value\":100");
  expect_receipt(ra[1][1], "\"value\":70");
  expect_receipt(ra[1][1], "\"type\":\"lua.emit\"");
  expect_receipt(ra[1][2], "\"code\":\"error\"");
  expect_receipt(ra[1][2], "insufficient balance");
  expect_receipt(ra[1][3], "\"value\":1");
  expect_receipt(ra[1][3], "\"count\":1,\"height\":2}"); /* tx.height is the block's */
  expect_receipt(ra[1][4], "\"code\":\"bad_args\"");
  expect_receipt(ra[1][4], "gas must be");
  expect_receipt(ra[1][5], "gas must be");
  expect_receipt(ra[1][6], "real number");
  expect_receipt(ra[1][7], "no function 'inc'");
  expect_receipt(ra[1][8], "\"code\":\"not_found\"");
  expect_receipt(ra[1][9], "\"code\":\"out_of_gas\"");
  expect_receipt(ra[1][9], "\"gas_used\":1500");
  /* State: the failed transfer and the out-of-gas inc wrote nothing. */
  char code[QP_CHAIN_CODE_MAX + 1], args[512];
  snprintf(args, sizeof args, "{\"contract\":\"%s\",\"key\":\"n\"}", ctr);
  json_t *r = lua_query(&a, "get", args, code);
  assert_non_null(r);
  assert_int_equal(json_integer_value(json_object_get(r, "value")), 1);
  json_decref(r);
  snprintf(args, sizeof args, "{\"contract\":\"%s\",\"key\":\"nothing\"}", ctr);
  assert_null(lua_query(&a, "get", args, code));
  assert_string_equal(code, "not_found");
  snprintf(args, sizeof args, "{\"contract\":\"%s\"}", ctr);
  r = lua_query(&a, "code", args, code);
  assert_string_equal(json_string_value(json_object_get(r, "code")), COUNTER);
  json_decref(r);
  assert_null(lua_query(&a, "code", "{\"contract\":\"zz\"}", code));
  assert_string_equal(code, "bad_args");
  for (int blk = 0; blk < 2; blk++)
    for (int i = 0; i < 16; i++) {
      qp_free(ra[blk][i]);
      qp_free(rb[blk][i]);
    }
  node_close(&a);
  node_close(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counter),
      cmocka_unit_test(test_out_of_gas_uses_the_limit),
      cmocka_unit_test(test_memory_bombs),
      cmocka_unit_test(test_cpu_bombs_pay),
      cmocka_unit_test(test_escapes_fail),
      cmocka_unit_test(test_floats_refused),
      cmocka_unit_test(test_deterministic_order),
      cmocka_unit_test(test_same_call_same_result),
      cmocka_unit_test(test_args_decoder),
      cmocka_unit_test(test_compile),
      cmocka_unit_test(test_app_through_blocks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
