/*
 * lua_vm_lib.c - the libraries a contract sees (docs/chain.md, "The
 * sandbox"): Lua's base library without load, loadfile, dofile,
 * collectgarbage, print and warn, and with pcall/xpcall that cannot keep
 * an abort, pairs/next in a fixed key order, a tostring and string.format
 * that never print an address, and a setmetatable that refuses __gc; string
 * without dump and with its metatable locked; table with a deterministic
 * sort (lua_vm_sort.c); utf8; math reduced to its integer-safe functions.
 * No io, os, debug, package or coroutine.  Whatever could differ between
 * two nodes (the per-process string hash seed behind raw next, addresses,
 * time, randomness) is out of reach.  The C functions of string, utf8 and
 * table pay gas for the bytes they handle, the pattern functions for their
 * worst case, since each is a single VM instruction to the count hook.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "base/assert.h"
#include "base/err.h"
#include "chain/lua_vm_int.h"

/* Base library names taken away. */
static const char *const BASE_REMOVED[] = {"load",  "loadfile", "dofile", "collectgarbage",
                                           "print", "warn",     "require"};
/* The math functions kept: exact on integers, no randomness, no float-only
 * functions (sqrt, exp, log, trigonometry, modf) nor huge and pi. */
static const char *const MATH_KEPT[] = {"abs", "ceil", "floor", "fmod", "max", "maxinteger",
                                        "min", "mininteger", "tointeger", "type", "ult"};

/* ---- aborts cannot be caught ------------------------------------------- */

/* As Lua's finishpcall, but an aborted call's error goes on up, and a
 * memory error aborts the call (the cap was reached). */
static int finish_pcall(lua_State *L, int status, int extra) {
  qp__lua_vm_t *vm = qp__lua_vm(L);
  if (status == LUA_ERRMEM && vm->abort == QP__LUA_ABORT_NONE) vm->abort = QP__LUA_ABORT_MEMORY;
  if (vm->abort != QP__LUA_ABORT_NONE) return lua_error(L);
  if (status != LUA_OK) {
    lua_pushboolean(L, 0);
    lua_pushvalue(L, -2);
    return 2;
  }
  return lua_gettop(L) - extra;
}

static int sb_pcall(lua_State *L) {
  luaL_checkany(L, 1);
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  return finish_pcall(L, lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0), 0);
}

/* xpcall(f, handler, ...): the handler runs after the unwinding, as an
 * ordinary metered call on the error object, never as Lua's message
 * handler, which runs with hooks off (a loop there would escape gas).  An
 * error in the handler gives false and that error. */
static int sb_xpcall(lua_State *L) {
  int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushboolean(L, 1);
  lua_pushvalue(L, 1);
  lua_rotate(L, 3, 2);
  int status = lua_pcall(L, n - 2, LUA_MULTRET, 0);
  if (status == LUA_OK || status == LUA_ERRMEM || qp__lua_vm(L)->abort != QP__LUA_ABORT_NONE)
    return finish_pcall(L, status, 2);
  lua_pushvalue(L, 2);
  lua_insert(L, -2);
  status = lua_pcall(L, 1, 1, 0);
  if (status == LUA_ERRMEM || qp__lua_vm(L)->abort != QP__LUA_ABORT_NONE)
    return finish_pcall(L, status, 2);
  lua_pushboolean(L, 0);
  lua_insert(L, -2);
  return 2;
}

/* ---- deterministic key order -------------------------------------------- */

typedef struct sort_key {
  int kind;          /* 0 integer, 1 string, 2 boolean */
  lua_Integer i;     /* kind 0: the integer; kind 2: 0 false, 1 true */
  const char *s;     /* kind 1: the bytes (held by the raw key table) */
  size_t len;        /* kind 1: their count */
  lua_Integer raw;   /* index in the raw key table */
} sort_key_t;

static int key_cmp(const void *a, const void *b) {
  const sort_key_t *x = a, *y = b;
  if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
  if (x->kind != 1) return x->i < y->i ? -1 : x->i > y->i;
  int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
  if (c != 0) return c;
  return x->len < y->len ? -1 : x->len > y->len;
}

/* Fills k from the key at the top (raw index raw), or raises. */
static void key_classify(lua_State *L, sort_key_t *k, lua_Integer raw, const char *what) {
  k->raw = raw;
  int t = lua_type(L, -1);
  if (t == LUA_TNUMBER && lua_isinteger(L, -1)) {
    k->kind = 0;
    k->i = lua_tointeger(L, -1);
  } else if (t == LUA_TSTRING) {
    k->kind = 1;
    k->s = lua_tolstring(L, -1, &k->len);
  } else if (t == LUA_TBOOLEAN) {
    k->kind = 2;
    k->i = lua_toboolean(L, -1);
  } else {
    luaL_error(L, "%s: a table key is a %s; only integer, string and boolean keys have an "
                  "order", what, t == LUA_TNUMBER ? "float" : lua_typename(L, t));
  }
}

lua_Integer qp__lua_sorted_keys(lua_State *L, int idx, const char *what) {
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 6, "sorted keys");
  lua_Integer n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pop(L, 1);
    n++;
  }
  qp__lua_charge(L, (uint64_t)n * QP_LUA_GAS_KEY);
  lua_createtable(L, (int)n, 0); /* raw keys, holding the strings sort_key_t points to */
  int raw = lua_gettop(L);
  sort_key_t *keys = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *keys, 0);
  lua_Integer i = 0;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, raw, ++i);
    key_classify(L, &keys[i - 1], i, what);
  }
  QP_ASSERT(i == n);
  qsort(keys, (size_t)n, sizeof *keys, key_cmp);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, raw, keys[i].raw);
    lua_rawseti(L, -2, i + 1);
  }
  lua_replace(L, raw); /* the sorted table takes the raw one's slot */
  lua_pop(L, 1);       /* the userdata */
  return n;
}

/* The pairs iterator: upvalues t, sorted keys, next position.  Skips keys
 * whose value was removed during the loop, as raw next does. */
static int pairs_step(lua_State *L) {
  lua_Integer pos = lua_tointeger(L, lua_upvalueindex(3));
  for (;;) {
    pos++;
    if (lua_rawgeti(L, lua_upvalueindex(2), pos) == LUA_TNIL) return 1;
    lua_pushvalue(L, -1);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) break;
    lua_pop(L, 2);
  }
  lua_pushinteger(L, pos);
  lua_replace(L, lua_upvalueindex(3));
  return 2;
}

/* pairs(t): t's keys in the fixed order (__pairs is not consulted). */
static int sb_pairs(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_pushvalue(L, 1);
  qp__lua_sorted_keys(L, 1, "pairs");
  lua_pushinteger(L, 0);
  lua_pushcclosure(L, pairs_step, 3);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

/* next(t, k): the key after k in the fixed order, and its value. */
static int sb_next(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  lua_Integer n = qp__lua_sorted_keys(L, 1, "next"), pos = 0;
  if (!lua_isnil(L, 2)) {
    for (pos = 1; pos <= n; pos++) {
      lua_rawgeti(L, 3, pos);
      bool same = lua_rawequal(L, -1, 2);
      lua_pop(L, 1);
      if (same) break;
    }
    if (pos > n) return luaL_error(L, "invalid key to 'next'");
  }
  for (pos++; pos <= n; pos++) {
    lua_rawgeti(L, 3, pos);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, 1) != LUA_TNIL) return 2;
    lua_pop(L, 2);
  }
  lua_pushnil(L);
  return 1;
}

/* ---- no addresses, no finalizers ---------------------------------------- */

/* tostring(v): numbers, strings, booleans and nil as Lua writes them, a
 * value with __tostring through it, anything else by its type's name only
 * (Lua would add its address, which differs between nodes). */
static int sb_tostring(lua_State *L) {
  luaL_checkany(L, 1);
  int t = lua_type(L, 1);
  if (t == LUA_TNUMBER || t == LUA_TSTRING || t == LUA_TBOOLEAN || t == LUA_TNIL ||
      luaL_getmetafield(L, 1, "__tostring") != LUA_TNIL) {
    if (t != LUA_TNUMBER && t != LUA_TSTRING && t != LUA_TBOOLEAN && t != LUA_TNIL)
      lua_pop(L, 1);
    luaL_tolstring(L, 1, NULL);
    return 1;
  }
  lua_pushstring(L, luaL_typename(L, 1));
  return 1;
}

/* string.format without %p, and with numbers, strings and booleans only
 * (its %s would print a table's address). */
static int sb_format(lua_State *L) {
  size_t len = 0;
  const char *f = luaL_checklstring(L, 1, &len);
  for (size_t i = 0; i < len; i++) {
    if (f[i] != '%') continue;
    size_t j = i + 1;
    while (j < len && strchr("-+ #0123456789.", f[j]) != NULL) j++;
    if (j < len && f[j] == 'p') return luaL_error(L, "string.format: %%p is not allowed");
    i = j;
  }
  for (int a = 2; a <= lua_gettop(L); a++) {
    int t = lua_type(L, a);
    if (t != LUA_TNUMBER && t != LUA_TSTRING && t != LUA_TBOOLEAN && t != LUA_TNIL)
      return luaL_error(L, "string.format: argument %d is a %s; only numbers, strings and "
                           "booleans are allowed", a, lua_typename(L, t));
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

/* setmetatable(t, mt) as Lua's, refusing __gc (a finalizer would run when
 * the state closes, after the outcome is decided). */
static int sb_setmetatable(lua_State *L) {
  int t = lua_type(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
  if (t == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    bool gc = lua_rawget(L, 2) != LUA_TNIL;
    lua_pop(L, 1);
    if (gc) return luaL_error(L, "setmetatable: __gc is not allowed");
  }
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
    return luaL_error(L, "cannot change a protected metatable");
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

/* ---- library calls pay for what they read ------------------------------- */

/* Bytes of the strings at from..to (a table's: its string values). */
static uint64_t string_bytes(lua_State *L, int from, int to) {
  uint64_t bytes = 0;
  for (int i = from; i <= to; i++)
    if (lua_type(L, i) == LUA_TSTRING) bytes += lua_rawlen(L, i);
  return bytes;
}

/* Calls upvalue 1 with the arguments, then charges what it returned: the
 * strings by their bytes (string.rep, table.concat, gsub: one VM
 * instruction, any length) and 1 per value (table.unpack, string.byte).
 * More than QP_LUA_RESULTS_MAX values is an error: a vararg that long
 * would be copied whole by each `...` for the price of one instruction. */
static int call_and_charge_results(lua_State *L) {
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  int results = lua_gettop(L);
  qp__lua_charge(L, (uint64_t)results +
                        string_bytes(L, 1, results) / QP_LUA_SCAN_BYTES_PER_GAS);
  if (results > (int)QP_LUA_RESULTS_MAX)
    return luaL_error(L, "too many results (at most %d)", (int)QP_LUA_RESULTS_MAX);
  return results;
}

/* A library function (upvalue 1) run after charging 1 gas plus 1 per
 * QP_LUA_SCAN_BYTES_PER_GAS bytes of its string arguments, and then as
 * much for the strings it returns: a C function is one VM instruction, but
 * utf8.len or tonumber of a long string reads all of it. */
static int charged_call(lua_State *L) {
  qp__lua_charge(L, 1 + string_bytes(L, 1, lua_gettop(L)) / QP_LUA_SCAN_BYTES_PER_GAS);
  return call_and_charge_results(L);
}

static uint64_t mul_sat(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* The most steps Lua's matcher may take on a subject of n bytes with the
 * pattern p (m bytes): every start (n + 1), times the paths (each *, + or
 * - may try n + 1 lengths, each ? two), times a path's length (m + 1, and
 * n + 1 more for each %b or back-reference, which scan).  Every such
 * character counts, escaped or not: an overestimate costs gas, never
 * safety.  A pattern of k quantifiers is O(n^k) for Lua, so this is what
 * keeps a contract from stalling every node with one string.find. */
static uint64_t match_steps(uint64_t n, const char *p, size_t m, bool plain) {
  if (plain) return mul_sat(n + 1, m + 1);
  uint64_t paths = 1, scans = 0;
  for (size_t i = 0; i < m; i++) {
    if (p[i] == '*' || p[i] == '+' || p[i] == '-') paths = mul_sat(paths, n + 1);
    else if (p[i] == '?') paths = mul_sat(paths, 2);
    else if (p[i] == '%' && i + 1 < m && (p[i + 1] == 'b' || (p[i + 1] >= '1' && p[i + 1] <= '9')))
      scans++;
  }
  uint64_t per_path = mul_sat(scans, n + 1);
  per_path = per_path > UINT64_MAX - (m + 1) ? UINT64_MAX : per_path + m + 1;
  return mul_sat(mul_sat(n + 1, paths), per_path);
}

/* find, match, gmatch, gsub (upvalue 1; upvalue 2 true for find, whose
 * 4th argument asks for a plain search): charged their worst case first. */
static int charged_match(lua_State *L) {
  size_t m = 0;
  uint64_t n = lua_type(L, 1) == LUA_TSTRING ? lua_rawlen(L, 1) : 64; /* numbers: short */
  const char *p = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &m) : "";
  if (lua_type(L, 2) == LUA_TNUMBER) m = 64;
  bool plain = lua_toboolean(L, lua_upvalueindex(2)) && lua_toboolean(L, 4);
  qp__lua_charge(L, 1 + match_steps(n, p, m, plain) / QP_LUA_MATCH_STEPS_PER_GAS);
  return call_and_charge_results(L);
}

/* Wraps every function of the table at idx in charged_call (the pattern
 * functions in charged_match). */
static void charge_library(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    if (lua_type(L, -1) != LUA_TFUNCTION || lua_type(L, -2) != LUA_TSTRING) {
      lua_pop(L, 1);
      continue;
    }
    const char *name = lua_tostring(L, -2);
    if (strcmp(name, "find") == 0 || strcmp(name, "match") == 0 ||
        strcmp(name, "gmatch") == 0 || strcmp(name, "gsub") == 0) {
      lua_pushboolean(L, strcmp(name, "find") == 0);
      lua_pushcclosure(L, charged_match, 2);
    } else {
      lua_pushcclosure(L, charged_call, 1);
    }
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, idx); /* replacing an existing field keeps the traversal valid */
  }
}

/* ---- opening ------------------------------------------------------------ */

static void open_base(lua_State *L) {
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  lua_pop(L, 1);
  for (size_t i = 0; i < sizeof BASE_REMOVED / sizeof BASE_REMOVED[0]; i++) {
    lua_pushnil(L);
    lua_setglobal(L, BASE_REMOVED[i]);
  }
  static const luaL_Reg replaced[] = {
      {"pcall", sb_pcall},       {"xpcall", sb_xpcall},     {"pairs", sb_pairs},
      {"next", sb_next},         {"tostring", sb_tostring}, {"setmetatable", sb_setmetatable},
      {NULL, NULL}};
  lua_pushglobaltable(L);
  luaL_setfuncs(L, replaced, 0);
  lua_pop(L, 1);
}

static void open_string(lua_State *L) {
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_getfield(L, -1, "format");
  lua_pushcclosure(L, sb_format, 1);
  lua_setfield(L, -2, "format");
  charge_library(L, -1);
  lua_pop(L, 1);
  /* getmetatable("") answers false and the metatable cannot be reached. */
  lua_pushliteral(L, "");
  int has = lua_getmetatable(L, -1);
  QP_ASSERT(has);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 2);
}

static void open_math(lua_State *L) {
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 0);
  lua_newtable(L);
  for (size_t i = 0; i < sizeof MATH_KEPT / sizeof MATH_KEPT[0]; i++) {
    lua_getfield(L, -2, MATH_KEPT[i]);
    lua_setfield(L, -2, MATH_KEPT[i]);
  }
  lua_setglobal(L, LUA_MATHLIBNAME);
  lua_pop(L, 1);
}

void qp__lua_open_sandbox(lua_State *L) {
  open_base(L);
  open_string(L);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  lua_getfield(L, -1, "concat");
  lua_pushcclosure(L, call_and_charge_results, 1);
  lua_setfield(L, -2, "concat");
  lua_pushcfunction(L, qp__lua_sort);
  lua_setfield(L, -2, "sort");
  lua_getfield(L, -1, "unpack");
  lua_pushcclosure(L, call_and_charge_results, 1);
  lua_setfield(L, -2, "unpack");
  lua_pop(L, 1);
  luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  charge_library(L, -1);
  lua_pop(L, 1);
  lua_getglobal(L, "tonumber");
  lua_pushcclosure(L, charged_call, 1);
  lua_setglobal(L, "tonumber");
  open_math(L);
  qp__lua_host_open(L);
  qp__lua_box_functions(L);
}
