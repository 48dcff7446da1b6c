/*
 * lua_vm_json.c - values crossing the sandbox's boundary (docs/chain.md,
 * "Values"): a call's JSON arguments into Lua, and a contract's return
 * value and events back into JSON.  Integer-only: a JSON real or a Lua
 * float is refused, as is JSON null inside args.  Tables become arrays
 * (keys exactly 1..n) or objects (string keys only, written in the fixed
 * key order so that every node produces the same bytes); an empty table is
 * {}.  Depth, value count and bytes are bounded, and recursion with them.
 */
#include <stdio.h>

#include <lauxlib.h>
#include <lua.h>

#include "base/assert.h"
#include "base/err.h"
#include "chain/lua_vm_int.h"

#define ARGS_BYTES_MAX 65536u /* bytes of args text, and of strings in args */

/* ---- args: JSON -> Lua --------------------------------------------------- */

typedef struct args_count {
  size_t values; /* values seen */
  size_t bytes;  /* string and key bytes seen */
} args_count_t;

static int refuse(char *detail, size_t size, const char *what) {
  snprintf(detail, size, "args: %s", what);
  return QP_EINVAL;
}

static int check_value(const json_t *v, unsigned depth, args_count_t *c, char *detail,
                       size_t size) {
  if (depth > QP_LUA_JSON_DEPTH_MAX)
    return refuse(detail, size, "nested deeper than 16 levels");
  if (++c->values > QP_LUA_JSON_VALUES_MAX)
    return refuse(detail, size, "more than 4096 values");
  const char *key = NULL;
  json_t *child = NULL;
  size_t i = 0;
  int rc = 0;
  switch (json_typeof(v)) {
  case JSON_REAL: return refuse(detail, size, "a real number is not allowed (integers only)");
  case JSON_NULL: return refuse(detail, size, "null is not allowed");
  case JSON_STRING:
    if (json_string_length(v) > QP_LUA_STRING_MAX)
      return refuse(detail, size, "a string is longer than 16384 bytes");
    c->bytes += json_string_length(v);
    break;
  case JSON_OBJECT:
    json_object_foreach((json_t *)v, key, child) {
      size_t key_len = json_object_iter_key_len(json_object_key_to_iter(key));
      if (rc == 0 && key_len > QP_LUA_STRING_MAX)
        rc = refuse(detail, size, "a key is longer than 16384 bytes");
      c->bytes += key_len;
      if (rc == 0) rc = check_value(child, depth + 1, c, detail, size);
    }
    break;
  case JSON_ARRAY:
    json_array_foreach(v, i, child) {
      if (rc == 0) rc = check_value(child, depth + 1, c, detail, size);
    }
    break;
  default: break;
  }
  if (rc == 0 && c->bytes > ARGS_BYTES_MAX)
    return refuse(detail, size, "more than 65536 bytes of strings");
  return rc;
}

int qp_lua_args_check(const json_t *v, char *detail, size_t detail_size) {
  QP_ASSERT(v != NULL);
  args_count_t c = {0, 0};
  return check_value(v, 0, &c, detail, detail_size);
}

int qp_lua_args_parse(const char *text, size_t len, json_t **out, char *detail,
                      size_t detail_size) {
  *out = NULL;
  if (len > ARGS_BYTES_MAX) return refuse(detail, detail_size, "longer than 65536 bytes");
  json_error_t jerr;
  json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
  if (v == NULL) {
    if (json_error_code(&jerr) == json_error_out_of_memory) return QP_ENOMEM;
    snprintf(detail, detail_size, "args: not JSON: %s (line %d, column %d)", jerr.text,
             jerr.line, jerr.column);
    return QP_EINVAL;
  }
  int rc = qp_lua_args_check(v, detail, detail_size);
  if (rc != 0) json_decref(v);
  else *out = v;
  return rc;
}

void qp__lua_push_json(lua_State *L, const json_t *v, unsigned depth) {
  QP_ASSERT(depth <= QP_LUA_JSON_DEPTH_MAX);
  luaL_checkstack(L, 3, "args");
  const char *key = NULL;
  json_t *child = NULL;
  size_t i = 0;
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    lua_createtable(L, 0, (int)json_object_size(v));
    json_object_foreach((json_t *)v, key, child) {
      lua_pushlstring(L, key, json_object_iter_key_len(json_object_key_to_iter(key)));
      qp__lua_push_json(L, child, depth + 1);
      lua_rawset(L, -3);
    }
    break;
  case JSON_ARRAY:
    lua_createtable(L, (int)json_array_size(v), 0);
    json_array_foreach(v, i, child) {
      qp__lua_push_json(L, child, depth + 1);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    break;
  case JSON_STRING: lua_pushlstring(L, json_string_value(v), json_string_length(v)); break;
  case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(v)); break;
  case JSON_TRUE: lua_pushboolean(L, 1); break;
  case JSON_FALSE: lua_pushboolean(L, 0); break;
  default: luaL_error(L, "args: only integers, strings, booleans, arrays and objects"); break;
  }
}

/* ---- results and events: Lua -> JSON -------------------------------------- */

typedef struct conv {
  const char *what;  /* "return value", "emit": named in errors */
  size_t bytes;      /* string and key bytes so far */
  size_t bytes_max;  /* their limit */
  size_t values;     /* values so far */
} conv_t;

static void out_of_memory(lua_State *L) { qp__lua_abort(L, QP__LUA_ABORT_HOST, QP_ENOMEM); }

/* A JSON string of s, refusing bytes that are not UTF-8 (jansson checks;
 * the unchecked copy tells a refusal from a lack of memory). */
static json_t *new_string(lua_State *L, conv_t *c, const char *s, size_t len) {
  c->bytes += len;
  if (c->bytes > c->bytes_max)
    luaL_error(L, "%s: longer than %d bytes", c->what, (int)c->bytes_max);
  json_t *j = json_stringn(s, len);
  if (j != NULL) return j;
  j = json_stringn_nocheck(s, len);
  if (j == NULL) out_of_memory(L);
  json_decref(j);
  luaL_error(L, "%s: a string is not valid UTF-8", c->what);
  return NULL;
}

/* Attaches child (stolen) to parent: appended to an array (key NULL), or
 * set under key (key_len bytes, UTF-8 checked) in an object. */
static void attach(lua_State *L, json_t *parent, const char *key, size_t key_len,
                   json_t *child) {
  if (child == NULL) out_of_memory(L);
  int rc = key == NULL ? json_array_append_new(parent, child)
                       : json_object_setn_new_nocheck(parent, key, key_len, child);
  if (rc != 0) out_of_memory(L);
}

static void convert(lua_State *L, int idx, conv_t *c, json_t *parent, const char *key,
                    size_t key_len, unsigned depth);

/* A table at idx: an array (keys 1..n), an object (string keys), or {}. */
static void convert_table(lua_State *L, int idx, conv_t *c, json_t *parent, const char *key,
                          size_t key_len, unsigned depth) {
  lua_Integer n = qp__lua_sorted_keys(L, idx, c->what);
  int ks = lua_gettop(L);
  bool array = false, object = n == 0;
  if (n > 0) {
    int first = lua_rawgeti(L, ks, 1), last = lua_rawgeti(L, ks, n);
    array = lua_isinteger(L, -2) && lua_tointeger(L, -2) == 1 && lua_isinteger(L, -1) &&
            lua_tointeger(L, -1) == n;
    object = first == LUA_TSTRING && last == LUA_TSTRING;
    lua_pop(L, 2);
  }
  if (!array && !object)
    luaL_error(L, "%s: a table must be an array (keys 1..n) or have string keys only",
               c->what);
  json_t *node = array ? json_array() : json_object();
  attach(L, parent, key, key_len, node);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, ks, i);
    size_t len = 0;
    const char *s = object ? lua_tolstring(L, -1, &len) : NULL; /* held on the stack */
    if (object) json_decref(new_string(L, c, s, len));      /* counts and checks it */
    lua_pushvalue(L, -1);
    lua_rawget(L, idx);
    convert(L, lua_gettop(L), c, node, s, len, depth + 1);
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
}

static void convert(lua_State *L, int idx, conv_t *c, json_t *parent, const char *key,
                    size_t key_len, unsigned depth) {
  if (depth > QP_LUA_JSON_DEPTH_MAX)
    luaL_error(L, "%s: nested deeper than %d levels", c->what, (int)QP_LUA_JSON_DEPTH_MAX);
  if (++c->values > QP_LUA_JSON_VALUES_MAX)
    luaL_error(L, "%s: more than %d values", c->what, (int)QP_LUA_JSON_VALUES_MAX);
  luaL_checkstack(L, 8, c->what);
  size_t len = 0;
  const char *s = NULL;
  switch (lua_type(L, idx)) {
  case LUA_TNIL: attach(L, parent, key, key_len, json_null()); break;
  case LUA_TBOOLEAN: attach(L, parent, key, key_len, json_boolean(lua_toboolean(L, idx))); break;
  case LUA_TNUMBER:
    if (!lua_isinteger(L, idx))
      luaL_error(L, "%s: float not allowed (integers only)", c->what);
    attach(L, parent, key, key_len, json_integer((json_int_t)lua_tointeger(L, idx)));
    break;
  case LUA_TSTRING:
    s = lua_tolstring(L, idx, &len);
    attach(L, parent, key, key_len, new_string(L, c, s, len));
    break;
  case LUA_TTABLE: convert_table(L, idx, c, parent, key, key_len, depth); break;
  default:
    luaL_error(L, "%s: a %s cannot cross to JSON (integers, strings, booleans and tables "
                  "only)", c->what, luaL_typename(L, idx));
  }
}

json_t *qp__lua_to_json(lua_State *L, int idx, const char *what, size_t bytes_max) {
  qp__lua_vm_t *vm = qp__lua_vm(L);
  idx = lua_absindex(L, idx);
  json_decref(vm->pending);
  vm->pending = json_array(); /* holds the value while it is built: freed if it throws */
  if (vm->pending == NULL) out_of_memory(L);
  conv_t c = {.what = what, .bytes_max = bytes_max};
  convert(L, idx, &c, vm->pending, NULL, 0, 0);
  json_t *v = json_incref(json_array_get(vm->pending, 0));
  json_decref(vm->pending);
  vm->pending = NULL;
  return v;
}
