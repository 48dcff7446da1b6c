/*
 * lua_vm_int.h - what the pieces of the Lua sandbox share (lua_vm.h):
 * the per-call context reached from the lua_State, gas charging, aborts,
 * the deterministic key order and the JSON <-> Lua conversions.
 * lua_vm.c runs a call; lua_vm_lib.c builds the sandbox's libraries and
 * the host API; lua_vm_json.c converts values.
 */
#ifndef QP_CHAIN_LUA_VM_INT_H
#define QP_CHAIN_LUA_VM_INT_H

#include <lua.h>

#include "chain/lua_vm.h"

/* Why a call is being torn down; once set it never goes back to NONE. */
typedef enum qp__lua_abort {
  QP__LUA_ABORT_NONE = 0, /* running normally */
  QP__LUA_ABORT_GAS,      /* the gas limit was reached */
  QP__LUA_ABORT_MEMORY,   /* the allocator refused to pass the cap */
  QP__LUA_ABORT_HOST,     /* an operating error (host_rc): not a receipt */
} qp__lua_abort_t;

/* One call's context: the allocator's user data, hence reachable from
 * every function of the state (qp__lua_vm).  Invariants: mem_used <=
 * mem_max; gas_used <= gas_limit. */
typedef struct qp__lua_vm {
  const qp_lua_host_t *host; /* the world outside */
  size_t mem_used;           /* bytes the state holds */
  size_t mem_max;            /* the cap */
  uint64_t gas_used;         /* charged so far */
  uint64_t gas_limit;        /* the call's limit */
  bool unmetered;            /* no count hook (benchmark only) */
  qp__lua_abort_t abort;     /* why the call is being torn down */
  int host_rc;               /* for ABORT_HOST: the operating error */
  bool closed;               /* the call is over: the host API refuses */
  bool refused;              /* the last growth asked for was refused (the cap) */
  bool string_too_long;      /* a refusal was a string over QP_LUA_STRING_MAX */
  size_t seed_offset;        /* where lua_newstate keeps the seed (qp__lua_seed_offset) */
  void *seed_block;          /* lua_newstate's first block, until the seed is pinned */
  unsigned seed_step;        /* 0: no block yet, 1: block given, 2: seed pinned */
  uint32_t seed;             /* the seed pinned (qp_lua_call_t.seed) */
  struct qp__lua_arena *arena; /* where the state's memory comes from (lua_vm_arena.c) */
  json_t *pending;           /* a conversion under way (freed if it throws) */
  json_t *value;             /* the call's converted return value */
} qp__lua_vm_t;

/* This thread's arena for one state (lua_vm_arena.c): memory whose
 * addresses' low 32 bits are a pure function of the allocations made, so
 * tables, functions and userdata hash alike as keys on every node.  open
 * empties it for a new state (none of this thread's may still live in it):
 * 0 or QP_ENOMEM.  realloc follows lua_Alloc (osize is the
 * block's size when ptr is set; nsize 0 frees) and answers NULL when the
 * arena is full; shrinking never fails.  close ends the state's use. */
typedef struct qp__lua_arena qp__lua_arena_t;
int qp__lua_arena_open(qp__lua_arena_t **out);
void *qp__lua_arena_realloc(qp__lua_arena_t *a, void *ptr, size_t osize, size_t nsize);
void qp__lua_arena_close(qp__lua_arena_t *a);

/* Makes every C function the sandbox hands out a closure (an object in
 * the arena) rather than a light C function (an address in the executable),
 * so that functions hash alike as table keys on every node (lua_vm_box.c).
 * Run last when the sandbox is opened. */
void qp__lua_box_functions(lua_State *L);

/* The context of L's call. */
qp__lua_vm_t *qp__lua_vm(lua_State *L);

/* Charges gas; on exhaustion sets gas_used to the limit and aborts (does
 * not return). */
void qp__lua_charge(lua_State *L, uint64_t gas);

/* Marks the call aborted for why (keeping an earlier reason) and raises an
 * error no sandbox pcall can keep (does not return).  For HOST, rc is the
 * operating error. */
int qp__lua_abort(lua_State *L, qp__lua_abort_t why, int rc);

/* The byte offset of the seed in lua_newstate's first block, learnt once
 * per process.  Returns 0, or QP_ENOTSUP (logged) when this liblua does not
 * behave as expected: then no state may run a contract. */
int qp__lua_seed_offset(size_t *offset);

/* Writes seed at offset into lua_newstate's first block.  Called by the
 * allocator at the state's second allocation: after lua_newstate has
 * computed its own seed, before it hashes any string. */
void qp__lua_seed_pin(void *block, size_t offset, uint32_t seed);

/* Opens the sandbox's libraries and host API into L's globals. */
void qp__lua_open_sandbox(lua_State *L);

/* Opens the host API (state, tx, emit) into L's globals (lua_vm_host.c). */
void qp__lua_host_open(lua_State *L);

/* table.sort(t [, less]) in the sandbox: stable, deterministic, charged
 * (lua_vm_sort.c). */
int qp__lua_sort(lua_State *L);

/* Pushes a new array of t's keys (t at idx, raw) in the deterministic
 * order: integers ascending, then strings by bytes (a prefix first), then
 * false, true.  Any other key raises an error naming `what`.  Charges
 * QP_LUA_GAS_KEY per key.  Returns the number of keys. */
lua_Integer qp__lua_sorted_keys(lua_State *L, int idx, const char *what);

/* Pushes v (qp_lua_args_check passed) as a Lua value. */
void qp__lua_push_json(lua_State *L, const json_t *v, unsigned depth);

/* Converts the value at idx into new JSON (integers, strings in UTF-8,
 * booleans, nil as null at the top only, arrays 1..n and string-keyed
 * tables), at most bytes_max bytes of strings; raises an error naming
 * `what` for anything else (a float: "float not allowed").  Returns a new
 * reference. */
json_t *qp__lua_to_json(lua_State *L, int idx, const char *what, size_t bytes_max);

#endif
