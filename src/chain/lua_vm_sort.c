/*
 * lua_vm_sort.c - the sandbox's table.sort (docs/chain.md, "The
 * sandbox"): a stable bottom-up merge sort of t[1..n] (n the raw length),
 * charged 1 gas per comparison and per element moved.  Lua's own sort
 * cannot stay: it picks a "random" pivot from clock() and time() when a
 * partition is unbalanced, so two nodes could order equal elements
 * differently and call the comparator a different number of times (gas),
 * and a whole sort is one VM instruction, which a loop would repeat for
 * free.  A merge sort has neither problem and needs no pivot at all.
 */
#include <lauxlib.h>
#include <lua.h>

#include "base/assert.h"
#include "chain/lua_vm_int.h"

#define SORT_N_MAX (1 << 24) /* elements at most (the memory cap holds far fewer) */

/* Whether src[j] < src[i]: the comparator (index 2) if given, else <. */
static bool sort_less(lua_State *L, int src, lua_Integer j, lua_Integer i) {
  qp__lua_charge(L, 1);
  bool custom = !lua_isnil(L, 2);
  if (custom) lua_pushvalue(L, 2);
  lua_rawgeti(L, src, j);
  lua_rawgeti(L, src, i);
  bool less = false;
  if (custom) {
    lua_call(L, 2, 1);
    less = lua_toboolean(L, -1);
    lua_pop(L, 1);
  } else {
    less = lua_compare(L, -2, -1, LUA_OPLT);
    lua_pop(L, 2);
  }
  return less;
}

/* Merges src[lo, mid) and src[mid, hi) into dst[lo, hi), left first on
 * ties (stable). */
static void sort_merge(lua_State *L, int src, int dst, lua_Integer lo, lua_Integer mid,
                       lua_Integer hi) {
  lua_Integer i = lo, j = mid;
  for (lua_Integer k = lo; k < hi; k++) {
    bool right = i >= mid || (j < hi && sort_less(L, src, j, i));
    lua_rawgeti(L, src, right ? j++ : i++);
    lua_rawseti(L, dst, k);
  }
}

int qp__lua_sort(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
  if (n > SORT_N_MAX) return luaL_error(L, "table.sort: more than %d elements", SORT_N_MAX);
  if (n < 2) return 0;
  lua_createtable(L, (int)n, 0); /* 3: a copy of t */
  lua_createtable(L, (int)n, 0); /* 4: the other buffer */
  qp__lua_charge(L, (uint64_t)n);
  for (lua_Integer k = 1; k <= n; k++) {
    lua_rawgeti(L, 1, k);
    lua_rawseti(L, 3, k);
  }
  int src = 3, dst = 4;
  for (lua_Integer width = 1; width < n; width *= 2) {
    qp__lua_charge(L, (uint64_t)n);
    for (lua_Integer lo = 1; lo <= n; lo += 2 * width) {
      lua_Integer mid = lo + width <= n + 1 ? lo + width : n + 1;
      lua_Integer hi = lo + 2 * width <= n + 1 ? lo + 2 * width : n + 1;
      sort_merge(L, src, dst, lo, mid, hi);
    }
    int t = src;
    src = dst;
    dst = t;
  }
  for (lua_Integer k = 1; k <= n; k++) {
    lua_rawgeti(L, src, k);
    lua_rawseti(L, 1, k);
  }
  QP_ASSERT(lua_gettop(L) == 4);
  return 0;
}
