/*
 * lua_vm_box.c - the sandbox's C functions as objects of the state
 * (docs/chain.md, "Deterministic layouts").
 *
 * Lua pushes a C function without upvalues as a "light" value: the
 * function's address itself.  Used as a table key it is hashed by that
 * address, which lies in liblua or in quipu's executable and so differs
 * between validators (ASLR, other builds), and with it the table's layout.
 * A C closure is an object allocated in the state's arena, whose address is
 * the same on every node (lua_vm_arena.c).  So every C function the sandbox
 * hands out is a closure with one unused upvalue: the libraries' fields,
 * and the iterators that ipairs and utf8.codes return.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "chain/lua_vm_int.h"

/* Pushes f as a closure with one unused upvalue. */
static void push_boxed(lua_State *L, lua_CFunction f) {
  lua_pushboolean(L, 0);
  lua_pushcclosure(L, f, 1);
}

/* Whether the value at idx is a light C function. */
static bool is_light(lua_State *L, int idx) {
  if (!lua_iscfunction(L, idx)) return false;
  if (lua_getupvalue(L, idx, 1) == NULL) return true;
  lua_pop(L, 1);
  return false;
}

/* Replaces every light C function among the fields of the table at idx. */
static void box_fields(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    if (is_light(L, -1)) {
      lua_CFunction f = lua_tocfunction(L, -1);
      lua_pushvalue(L, -2);
      push_boxed(L, f);
      lua_rawset(L, idx); /* replacing an existing field keeps the traversal valid */
    }
    lua_pop(L, 1);
  }
}

/* ipairs's iterator: t[i + 1] while it is not nil (as Lua's ipairsaux). */
static int ipairs_step(lua_State *L) {
  lua_Integer i = luaL_intop(+, luaL_checkinteger(L, 2), 1);
  lua_pushinteger(L, i);
  return lua_geti(L, 1, i) == LUA_TNIL ? 1 : 2;
}

/* ipairs(t): the boxed iterator (upvalue 1), t, 0. */
static int sb_ipairs(lua_State *L) {
  luaL_checkany(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  lua_pushinteger(L, 0);
  return 3;
}

/* utf8.codes(s [, lax]): Lua's (upvalue 1), with its iterator boxed. */
static int sb_codes(lua_State *L) {
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, 3);
  if (is_light(L, 1)) {
    lua_CFunction f = lua_tocfunction(L, 1);
    push_boxed(L, f);
    lua_replace(L, 1);
  }
  return 3;
}

void qp__lua_box_functions(lua_State *L) {
  push_boxed(L, ipairs_step);
  lua_pushcclosure(L, sb_ipairs, 1);
  lua_setglobal(L, "ipairs");
  if (lua_getglobal(L, LUA_UTF8LIBNAME) == LUA_TTABLE) {
    lua_getfield(L, -1, "codes");
    lua_pushcclosure(L, sb_codes, 1);
    lua_setfield(L, -2, "codes");
  }
  lua_pop(L, 1);
  lua_pushglobaltable(L);
  box_fields(L, -1);
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    if (lua_type(L, -1) == LUA_TTABLE) box_fields(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}
