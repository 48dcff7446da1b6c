/*
 * lua_vm_host.c - the host API a contract calls (docs/chain.md, "The host
 * API"): state.get/put/delete on the contract's own keys, tx.sender,
 * tx.height and emit(event).  Each call is charged gas (lua_vm.h) before
 * it reaches the host.  Values in state are strings (up to
 * QP_LUA_VALUE_MAX bytes) or integers, stored as u8 tag ('s' or 'i') ||
 * the bytes, or the integer as 8 bytes little-endian.
 */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/err.h"
#include "chain/keyfile.h"
#include "chain/lua_vm_int.h"

#define TAG_STRING 's'
#define TAG_INTEGER 'i'

/* The host of L's call, refusing once the call is over or aborted. */
static const qp_lua_host_t *host_of(lua_State *L) {
  qp__lua_vm_t *vm = qp__lua_vm(L);
  if (vm->abort != QP__LUA_ABORT_NONE) qp__lua_abort(L, vm->abort, vm->host_rc);
  if (vm->closed) luaL_error(L, "the call is over");
  return vm->host;
}

/* A host answer other than 0, QP_ENOTFOUND, QP_ELIMIT is not the
 * contract's doing: the call aborts and the block stops. */
static void host_check(lua_State *L, int rc, const char *what) {
  if (rc == QP_ELIMIT)
    luaL_error(L, "%s: the call may write at most %d keys and %d bytes", what,
               (int)QP_LUA_WRITES_MAX, (int)QP_LUA_WRITE_BYTES_MAX);
  if (rc != 0 && rc != QP_ENOTFOUND) qp__lua_abort(L, QP__LUA_ABORT_HOST, rc);
}

static const char *check_key(lua_State *L, const char *what, size_t *len) {
  if (lua_type(L, 1) != LUA_TSTRING)
    luaL_error(L, "%s: the key must be a string (got a %s)", what, luaL_typename(L, 1));
  const char *key = lua_tolstring(L, 1, len);
  if (*len == 0 || *len > QP_LUA_KEY_MAX)
    luaL_error(L, "%s: the key must be 1 to %d bytes", what, (int)QP_LUA_KEY_MAX);
  return key;
}

static int state_get(lua_State *L) {
  const qp_lua_host_t *h = host_of(L);
  size_t key_len = 0;
  const char *key = check_key(L, "state.get", &key_len);
  const uint8_t *v = NULL;
  size_t n = 0;
  int rc = h->get(h->ctx, (const uint8_t *)key, key_len, &v, &n);
  host_check(L, rc, "state.get");
  qp__lua_charge(L, QP_LUA_GAS_GET + (rc == 0 ? n : 0));
  if (rc == QP_ENOTFOUND) {
    lua_pushnil(L);
  } else if (n >= 1 && v[0] == TAG_STRING && n - 1 <= QP_LUA_VALUE_MAX) {
    lua_pushlstring(L, (const char *)v + 1, n - 1);
  } else if (n == 9 && v[0] == TAG_INTEGER) {
    lua_pushinteger(L, (lua_Integer)qp_load_u64(v + 1));
  } else {
    qp__lua_abort(L, QP__LUA_ABORT_HOST, QP_ECORRUPT);
  }
  return 1;
}

static int state_put(lua_State *L) {
  const qp_lua_host_t *h = host_of(L);
  size_t key_len = 0, len = 0;
  const char *key = check_key(L, "state.put", &key_len);
  uint8_t value[1 + QP_LUA_VALUE_MAX];
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *s = lua_tolstring(L, 2, &len);
    if (len > QP_LUA_VALUE_MAX)
      return luaL_error(L, "state.put: a string value is at most %d bytes",
                        (int)QP_LUA_VALUE_MAX);
    value[0] = TAG_STRING;
    memcpy(value + 1, s, len);
    len += 1;
  } else if (lua_isinteger(L, 2)) {
    value[0] = TAG_INTEGER;
    qp_store_u64(value + 1, (uint64_t)lua_tointeger(L, 2));
    len = 9;
  } else {
    return luaL_error(L, "state.put: %s not allowed; a value is a string or an integer",
                      lua_type(L, 2) == LUA_TNUMBER ? "float" : luaL_typename(L, 2));
  }
  qp__lua_charge(L, QP_LUA_GAS_WRITE + QP_LUA_GAS_WRITE_BYTE * (key_len + len));
  host_check(L, h->put(h->ctx, (const uint8_t *)key, key_len, value, len), "state.put");
  return 0;
}

static int state_delete(lua_State *L) {
  const qp_lua_host_t *h = host_of(L);
  size_t key_len = 0;
  const char *key = check_key(L, "state.delete", &key_len);
  qp__lua_charge(L, QP_LUA_GAS_WRITE + QP_LUA_GAS_WRITE_BYTE * key_len);
  host_check(L, h->del(h->ctx, (const uint8_t *)key, key_len), "state.delete");
  return 0;
}

/* emit(event): event (a table, string, integer or boolean) goes into the
 * receipt's events. */
static int emit(lua_State *L) {
  const qp_lua_host_t *h = host_of(L);
  luaL_checkany(L, 1);
  json_t *ev = qp__lua_to_json(L, 1, "emit", QP_LUA_EVENT_BYTES_MAX);
  size_t size = json_dumpb(ev, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
  if (size > QP_LUA_EVENT_BYTES_MAX) {
    json_decref(ev);
    return luaL_error(L, "emit: an event is at most %d bytes of JSON",
                      (int)QP_LUA_EVENT_BYTES_MAX);
  }
  qp__lua_vm(L)->pending = ev; /* freed by the run if the charge throws */
  qp__lua_charge(L, QP_LUA_GAS_EMIT + QP_LUA_GAS_WRITE_BYTE * size);
  qp__lua_vm(L)->pending = NULL;
  int rc = h->emit(h->ctx, ev);
  if (rc == QP_ELIMIT)
    return luaL_error(L, "emit: a call may emit at most %d events", (int)QP_LUA_EVENTS_MAX);
  host_check(L, rc, "emit");
  return 0;
}

int qp_lua_value_json(const uint8_t *value, size_t len, json_t **out) {
  *out = NULL;
  if (len >= 1 && value[0] == TAG_STRING && len - 1 <= QP_LUA_VALUE_MAX) {
    *out = json_stringn((const char *)value + 1, len - 1);
    if (*out == NULL) {
      /* Not UTF-8 (or no memory: the unchecked copy tells): {"hex": ...}. */
      json_t *raw = json_stringn_nocheck((const char *)value + 1, len - 1);
      char *hex = raw != NULL ? qp_malloc(2 * len + 1) : NULL;
      if (hex != NULL) qp_chain_hex(hex, value + 1, len - 1);
      *out = hex != NULL ? json_pack("{s:s}", "hex", hex) : NULL;
      json_decref(raw);
      qp_free(hex);
    }
  } else if (len == 9 && value[0] == TAG_INTEGER) {
    *out = json_integer((json_int_t)qp_load_u64(value + 1));
  } else {
    return QP_ECORRUPT;
  }
  return *out != NULL ? 0 : QP_ENOMEM;
}

void qp__lua_host_open(lua_State *L) {
  const qp_lua_host_t *h = qp__lua_vm(L)->host;
  static const luaL_Reg state[] = {
      {"get", state_get}, {"put", state_put}, {"delete", state_delete}, {NULL, NULL}};
  luaL_newlib(L, state);
  lua_setglobal(L, "state");
  lua_createtable(L, 0, 2);
  lua_pushstring(L, h->sender_hex != NULL ? h->sender_hex : "");
  lua_setfield(L, -2, "sender");
  lua_pushinteger(L, (lua_Integer)h->height);
  lua_setfield(L, -2, "height");
  lua_setglobal(L, "tx");
  lua_register(L, "emit", emit);
}
