/*
 * lua_vm.c - running one contract call (lua_vm.h): a fresh lua_State whose
 * allocator refuses to pass the memory cap, a count hook that charges gas
 * block by block, and the decision of the outcome from the abort flag.
 *
 * Gas: QP_LUA_GAS_CALL first, then each block of up to QP_LUA_GAS_BLOCK VM
 * instructions is charged before it runs (the hook's count is the block's
 * size, the last block being what the limit has left), so a call that
 * never stops uses exactly its limit.  Host calls charge more (lua_vm.h).
 * Everything the contract can run happens inside one lua_pcall of a C
 * function, so an error anywhere ends there and nothing leaks.
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "chain/lua_vm_int.h"
#include "crypto/crypto.h"

#define CHUNK_NAME "=contract" /* Lua's messages say "contract:LINE:" */
/* A string object of at least this many bytes is a long string (Lua 5.4's
 * short ones hold at most 40 bytes after a header of about 24): never
 * interned, so each one made is one allocation on every node. */
#define STRING_CHARGED_MIN 128u
#define STRING_HEADER_MAX 64u /* a string object's bytes beyond its contents, at most */

qp__lua_vm_t *qp__lua_vm(lua_State *L) {
  void *ud = NULL;
  lua_getallocf(L, &ud);
  return ud;
}

/* Charges a new long string of size bytes: false (and the call out of gas)
 * when the gas is not there. */
static bool string_charge(qp__lua_vm_t *vm, size_t size) {
  uint64_t gas = size / QP_LUA_STRING_BYTES_PER_GAS;
  if (vm->gas_limit - vm->gas_used >= gas) {
    vm->gas_used += gas;
    return true;
  }
  if (vm->abort == QP__LUA_ABORT_NONE) vm->abort = QP__LUA_ABORT_GAS;
  vm->gas_used = vm->gas_limit;
  return false;
}

/* The allocator: growth past the cap is refused, a refusal of the
 * process's own heap is an operating error.  Shrinking and freeing never
 * fail.  Lua answers a refusal with a full collection and asks again: a
 * second refusal in a row marks the call out of memory (the garbage did not
 * make room), and a memory error reaching the sandbox's pcall does too.
 * Memory comes from this thread's arena (lua_vm_arena.c), so the same call
 * makes the same allocations at the same offsets on every node; the first
 * two calls of a state pin the call's string-hash seed (lua_vm_seed.c).
 * Allocations in general are not charged gas (their sizes follow Lua's
 * growth policy, docs/chain.md).  New long strings are (every one is a
 * fresh allocation of a size the program decides): that pays for `..`, and
 * a string over QP_LUA_STRING_MAX is refused, which bounds what one
 * comparison of two strings can cost. */
static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  qp__lua_vm_t *vm = ud;
  size_t old = ptr != NULL ? osize : 0;
  if (vm->seed_step == 1) {
    qp__lua_seed_pin(vm->seed_block, vm->seed_offset, vm->seed);
    vm->seed_step = 2;
    vm->seed_block = NULL;
  }
  if (nsize == 0) {
    qp__lua_arena_realloc(vm->arena, ptr, osize, 0);
    vm->mem_used -= old;
    return NULL;
  }
  if (ptr == NULL && osize == LUA_TSTRING && nsize >= STRING_CHARGED_MIN) {
    if (nsize > QP_LUA_STRING_MAX + STRING_HEADER_MAX) {
      vm->string_too_long = true;
      if (vm->abort == QP__LUA_ABORT_NONE) vm->abort = QP__LUA_ABORT_MEMORY;
      return NULL;
    }
    if (!string_charge(vm, nsize)) return NULL;
  }
  if (nsize > old && nsize - old > vm->mem_max - vm->mem_used) {
    if (vm->refused && vm->abort == QP__LUA_ABORT_NONE) vm->abort = QP__LUA_ABORT_MEMORY;
    vm->refused = true;
    return NULL;
  }
  void *p = qp__lua_arena_realloc(vm->arena, ptr, old, nsize);
  if (p == NULL) { /* the arena is full: the same on every node, so like the cap */
    if (vm->refused && vm->abort == QP__LUA_ABORT_NONE) vm->abort = QP__LUA_ABORT_MEMORY;
    vm->refused = true;
    return NULL;
  }
  if (nsize > old) vm->refused = false;
  vm->mem_used = vm->mem_used - old + nsize;
  if (vm->seed_step == 0) {
    vm->seed_block = p; /* lua_newstate's first block: the next call pins the seed */
    vm->seed_step = 1;
  }
  return p;
}

/* A new state in this thread's arena (lua_vm_arena.c) whose string hash
 * has the pinned seed (lua_vm_seed.c), or NULL with *rc. */
static lua_State *new_state(qp__lua_vm_t *vm, int *rc) {
  *rc = qp__lua_seed_offset(&vm->seed_offset);
  if (*rc == 0) *rc = qp__lua_arena_open(&vm->arena);
  if (*rc != 0) return NULL;
  lua_State *L = lua_newstate(vm_alloc, vm);
  if (L == NULL) {
    qp__lua_arena_close(vm->arena);
    *rc = vm->abort == QP__LUA_ABORT_HOST ? vm->host_rc : QP_ENOMEM;
    return NULL;
  }
  QP_ASSERT(vm->seed_step == 2);
  return L;
}

/* The count hook: the block that just ran was paid for; charge the next,
 * or stop.  Once the call is aborted it raises at every instruction. */
static void gas_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  qp__lua_vm_t *vm = qp__lua_vm(L);
  if (vm->abort != QP__LUA_ABORT_NONE) qp__lua_abort(L, vm->abort, vm->host_rc);
  uint64_t left = vm->gas_limit - vm->gas_used;
  if (left == 0) qp__lua_abort(L, QP__LUA_ABORT_GAS, 0);
  uint64_t block = left < QP_LUA_GAS_BLOCK ? left : QP_LUA_GAS_BLOCK;
  vm->gas_used += block;
  lua_sethook(L, gas_hook, LUA_MASKCOUNT, (int)block);
}

void qp__lua_charge(lua_State *L, uint64_t gas) {
  qp__lua_vm_t *vm = qp__lua_vm(L);
  if (vm->gas_limit - vm->gas_used < gas) qp__lua_abort(L, QP__LUA_ABORT_GAS, 0);
  vm->gas_used += gas;
}

int qp__lua_abort(lua_State *L, qp__lua_abort_t why, int rc) {
  qp__lua_vm_t *vm = qp__lua_vm(L);
  if (why == QP__LUA_ABORT_HOST && vm->abort != QP__LUA_ABORT_HOST) {
    vm->abort = why; /* an operating error outranks the contract's troubles */
    vm->host_rc = rc;
  } else if (vm->abort == QP__LUA_ABORT_NONE) {
    vm->abort = why;
  }
  if (vm->abort == QP__LUA_ABORT_GAS) vm->gas_used = vm->gas_limit;
  if (!vm->unmetered) lua_sethook(L, gas_hook, LUA_MASKCOUNT, 1);
  return luaL_error(L, "%s", vm->abort == QP__LUA_ABORT_GAS      ? "out of gas"
                             : vm->abort == QP__LUA_ABORT_MEMORY ? "out of memory"
                                                                 : "host failure");
}

/* Converts the return value (top) with the result's limits. */
static void take_result(lua_State *L, qp__lua_vm_t *vm) {
  json_t *v = qp__lua_to_json(L, -1, "return value", QP_LUA_RESULT_BYTES_MAX);
  size_t size = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
  if (size > QP_LUA_RESULT_BYTES_MAX) {
    json_decref(v);
    luaL_error(L, "return value: longer than %d bytes of JSON", (int)QP_LUA_RESULT_BYTES_MAX);
  }
  vm->value = v;
}

/* The protected body of a call: sandbox, chunk, method(args), result. */
static int vm_main(lua_State *L) {
  const qp_lua_call_t *call = lua_touserdata(L, 1);
  qp__lua_vm_t *vm = qp__lua_vm(L);
  lua_settop(L, 0);
  qp__lua_open_sandbox(L);
  qp__lua_charge(L, QP_LUA_GAS_CALL);
  if (!vm->unmetered) {
    /* The first block is paid for here, the hook pays for the next ones. */
    uint64_t left = vm->gas_limit - vm->gas_used;
    if (left == 0) qp__lua_abort(L, QP__LUA_ABORT_GAS, 0);
    uint64_t block = left < QP_LUA_GAS_BLOCK ? left : QP_LUA_GAS_BLOCK;
    vm->gas_used += block;
    lua_sethook(L, gas_hook, LUA_MASKCOUNT, (int)block);
  }
  if (luaL_loadbufferx(L, call->code, call->code_len, CHUNK_NAME, "t") != LUA_OK)
    return lua_error(L);
  lua_call(L, 0, 0);
  if (lua_getglobal(L, call->method) != LUA_TFUNCTION)
    return luaL_error(L, "the contract has no function '%s'", call->method);
  if (call->args != NULL) qp__lua_push_json(L, call->args, 0);
  else lua_pushnil(L);
  lua_call(L, 1, 1);
  take_result(L, vm);
  return 0;
}

/* The error object at the top as a message. */
static void error_message(lua_State *L, char *out, size_t size) {
  size_t len = 0;
  const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
  if (s != NULL) snprintf(out, size, "%.*s", (int)(len < size ? len : size - 1), s);
  else snprintf(out, size, "error object is a %s value", luaL_typename(L, -1));
}

/* Decides the outcome from the flag, then the Lua status. */
static int outcome(lua_State *L, int status, qp__lua_vm_t *vm, qp_lua_result_t *out) {
  out->gas_used = vm->gas_used;
  switch (vm->abort) {
  case QP__LUA_ABORT_HOST: return vm->host_rc != 0 ? vm->host_rc : QP_ENOMEM;
  case QP__LUA_ABORT_GAS:
    out->status = QP_LUA_OUT_OF_GAS;
    out->gas_used = vm->gas_limit;
    return 0;
  case QP__LUA_ABORT_MEMORY: break;
  case QP__LUA_ABORT_NONE: break;
  }
  if (vm->abort == QP__LUA_ABORT_MEMORY || status == LUA_ERRMEM) {
    out->status = QP_LUA_OUT_OF_MEMORY;
    if (vm->string_too_long)
      snprintf(out->message, sizeof out->message, "a string longer than %u bytes",
               QP_LUA_STRING_MAX);
    else
      snprintf(out->message, sizeof out->message, "the call passed the %zu-byte memory cap",
               vm->mem_max);
  } else if (status != LUA_OK) {
    out->status = QP_LUA_ERROR;
    error_message(L, out->message, sizeof out->message);
  } else {
    QP_ASSERT(vm->value != NULL);
    out->status = QP_LUA_OK;
    out->value = vm->value;
    vm->value = NULL;
  }
  return 0;
}

int qp_lua_run(const qp_lua_call_t *call, const qp_lua_host_t *host, qp_lua_result_t *out) {
  QP_ASSERT(call != NULL && host != NULL && out != NULL && call->method != NULL);
  memset(out, 0, sizeof *out);
  qp__lua_vm_t vm = {.host = host, .mem_max = call->memory_max, .gas_limit = call->gas_limit,
                     .unmetered = call->unmetered, .seed = call->seed};
  int rc = 0;
  lua_State *L = new_state(&vm, &rc);
  if (L == NULL) return rc;
  lua_pushcfunction(L, vm_main);
  lua_pushlightuserdata(L, (void *)call);
  int status = lua_pcall(L, 1, 0, 0);
  rc = outcome(L, status, &vm, out);
  vm.closed = true;
  lua_close(L);
  qp__lua_arena_close(vm.arena);
  json_decref(vm.pending);
  json_decref(vm.value);
  QP_ASSERT(vm.mem_used == 0);
  if (rc != 0) {
    json_decref(out->value);
    memset(out, 0, sizeof *out);
  }
  return rc;
}

/* Loads the chunk without running it (a protected C function). */
static int compile_main(lua_State *L) {
  const char *code = lua_touserdata(L, 1);
  size_t len = (size_t)lua_tointeger(L, 2);
  if (luaL_loadbufferx(L, code, len, CHUNK_NAME, "t") != LUA_OK) return lua_error(L);
  return 0;
}

int qp_lua_compile(const char *code, size_t code_len, char *detail, size_t detail_size) {
  if (code_len > QP_LUA_CODE_MAX) {
    snprintf(detail, detail_size, "code is longer than %u bytes", QP_LUA_CODE_MAX);
    return QP_ELIMIT;
  }
  /* The seed is drawn from the code: whoever wrote strings that collide
   * under some seed changed the code, hence the seed, by doing so. */
  uint8_t h[QP_HASH_SIZE];
  qp_hash256(h, code, code_len);
  qp__lua_vm_t vm = {.mem_max = QP_LUA_MEMORY_MAX, .gas_limit = 0, .unmetered = true,
                     .seed = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
                             (uint32_t)h[3] << 24};
  int rc = 0;
  lua_State *L = new_state(&vm, &rc);
  if (L == NULL) {
    if (rc == QP_ENOTSUP)
      snprintf(detail, detail_size, "this liblua5.4 cannot have its hash seed pinned");
    return rc;
  }
  lua_pushcfunction(L, compile_main);
  lua_pushlightuserdata(L, (void *)code);
  lua_pushinteger(L, (lua_Integer)code_len);
  int status = lua_pcall(L, 2, 0, 0);
  if (vm.abort == QP__LUA_ABORT_HOST) rc = QP_ENOMEM;
  else if (status == LUA_ERRMEM && vm.string_too_long) {
    snprintf(detail, detail_size, "a string constant is longer than %u bytes", QP_LUA_STRING_MAX);
    rc = QP_EPARSE;
  } else if (status == LUA_ERRMEM) {
    snprintf(detail, detail_size, "compiling needs more than %u bytes", QP_LUA_MEMORY_MAX);
    rc = QP_EPARSE;
  } else if (status != LUA_OK) {
    error_message(L, detail, detail_size);
    rc = QP_EPARSE;
  }
  lua_close(L);
  qp__lua_arena_close(vm.arena);
  return rc;
}

const char *qp_lua_status_name(qp_lua_status_t s) {
  switch (s) {
  case QP_LUA_OK: return "ok";
  case QP_LUA_OUT_OF_GAS: return "out_of_gas";
  case QP_LUA_OUT_OF_MEMORY: return "out_of_memory";
  case QP_LUA_ERROR: return "error";
  }
  return "error";
}
