/*
 * lua_vm.h - the sandbox that runs one call of a user contract written in
 * Lua 5.4 (docs/chain.md, "Contracts (Lua)"; DESIGN.md section 6).
 *
 * A contract is a Lua chunk defining global functions; calling method M
 * runs M(args) in a fresh lua_State with a capped allocator, the libraries
 * string (without dump), table, utf8, an integer-only math and a reduced
 * base library (no load, loadfile, dofile, require, collectgarbage, print,
 * warn), deterministic pairs/next, and the host API (state.get/put/delete,
 * tx.sender, tx.height, emit).  A count hook charges gas; when gas or
 * memory runs out, or the host fails, a flag makes the call abort in a way
 * no pcall inside the contract can catch, and the outcome is decided by
 * the flag, not by what the contract returned.  The same call gives the
 * same status, gas, result and host calls on every node.
 *
 * This layer knows nothing of the chain: the host interface stores bytes
 * under contract keys, and app_lua.c gives it a namespace and buffering.
 */
#ifndef QP_CHAIN_LUA_VM_H
#define QP_CHAIN_LUA_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define QP_LUA_GAS_MAX 10000000u      /* a call's gas limit at most ("the block's limit") */
#define QP_LUA_GAS_BLOCK 1000u        /* VM instructions charged at once by the hook */
#define QP_LUA_GAS_CALL 1000u         /* charged before the contract runs */
#define QP_LUA_GAS_GET 100u           /* state.get, plus 1 per byte read */
#define QP_LUA_GAS_WRITE 500u         /* state.put / delete, plus 10 per byte written */
#define QP_LUA_GAS_WRITE_BYTE 10u     /* per key and value byte of a write */
#define QP_LUA_GAS_EMIT 200u          /* emit, plus 10 per byte of the event's JSON */
#define QP_LUA_GAS_KEY 10u            /* per key that pairs/next sort */
#define QP_LUA_SCAN_BYTES_PER_GAS 64u  /* string bytes a library call reads or returns, per gas */
#define QP_LUA_STRING_BYTES_PER_GAS 64u /* bytes of each new long string, per gas */
#define QP_LUA_STRING_MAX 16384u       /* bytes of one Lua string (longer: out_of_memory) */
#define QP_LUA_RESULTS_MAX 256u        /* values a library call may return (unpack, byte) */
#define QP_LUA_MATCH_STEPS_PER_GAS 64u /* pattern-matcher steps (worst case) per gas */
#define QP_LUA_MEMORY_MAX (8u << 20)  /* bytes a call's Lua state may hold */
#define QP_LUA_CODE_MAX 65536u        /* bytes of a contract's source */
#define QP_LUA_KEY_MAX 128u           /* bytes of a contract state key */
#define QP_LUA_VALUE_MAX 1024u        /* bytes of a string value in contract state */
#define QP_LUA_WRITES_MAX 16u        /* distinct keys one call may write (the chain's tx max) */
#define QP_LUA_WRITE_BYTES_MAX 4096u  /* key and stored value bytes one call may write */
#define QP_LUA_EVENTS_MAX 16u         /* events one call may emit (the receipt's max) */
#define QP_LUA_MESSAGE_MAX 256u       /* bytes of an error message kept */
#define QP_LUA_JSON_DEPTH_MAX 16u     /* nesting of args, results and events */
#define QP_LUA_JSON_VALUES_MAX 4096u  /* values in args, a result or an event */
#define QP_LUA_RESULT_BYTES_MAX 16384u /* JSON bytes of a call's return value */
#define QP_LUA_EVENT_BYTES_MAX 1024u  /* JSON bytes of one emitted event */

/* A call's outcome. */
typedef enum qp_lua_status {
  QP_LUA_OK = 0,            /* the function returned; its value is the result */
  QP_LUA_OUT_OF_GAS,        /* the gas limit was reached */
  QP_LUA_OUT_OF_MEMORY,     /* the memory cap was reached */
  QP_LUA_ERROR,             /* a Lua error, a refused value or a host refusal */
} qp_lua_status_t;

/*
 * What the contract may reach of the world.  Keys are 1..QP_LUA_KEY_MAX
 * bytes; values are the VM's own encoding (opaque to the host).  get gives
 * 0 with a borrowed value (valid until the next host call), QP_ENOTFOUND,
 * or an operating error; put and del give 0, QP_ELIMIT (a per-call limit of
 * the host: the call fails with an error naming it) or an operating error;
 * emit takes an event value (stolen, whatever it answers) and gives 0, QP_ELIMIT or an operating
 * error.  An operating error (anything else) aborts the call and
 * qp_lua_run returns it: it is not the contract's doing.
 */
typedef struct qp_lua_host {
  int (*get)(void *ctx, const uint8_t *key, size_t key_len, const uint8_t **value,
             size_t *value_len);
  int (*put)(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
             size_t value_len);
  int (*del)(void *ctx, const uint8_t *key, size_t key_len);
  int (*emit)(void *ctx, json_t *event);
  void *ctx;              /* the host's own */
  const char *sender_hex; /* tx.sender: the sender's public key in hex */
  uint64_t height;        /* tx.height: the block being executed */
} qp_lua_host_t;

/* One call. */
typedef struct qp_lua_call {
  const char *code;      /* the contract's source (text only) */
  size_t code_len;       /* its bytes */
  const char *method;    /* the global function to call, NUL-terminated */
  const json_t *args;    /* its argument (qp_lua_args_check passed), or NULL for nil */
  uint64_t gas_limit;    /* 1..QP_LUA_GAS_MAX */
  size_t memory_max;     /* the allocator's cap in bytes */
  uint32_t seed;         /* the string-hash seed: the same on every node for this call,
                          * and not one its sender could know when signing (chain.md) */
  bool unmetered;        /* no gas hook at all: only for measuring its cost */
} qp_lua_call_t;

/* What a call did.  value is owned (json_decref) and set only for OK. */
typedef struct qp_lua_result {
  qp_lua_status_t status;                 /* the outcome */
  uint64_t gas_used;                      /* gas charged; gas_limit when out of gas */
  json_t *value;                          /* the returned value as JSON (null for nil) */
  char message[QP_LUA_MESSAGE_MAX + 1];   /* ERROR, OUT_OF_MEMORY: what went wrong */
} qp_lua_result_t;

/* Runs call with host.  Returns 0 with *out filled (any status), or an
 * operating error of the host, QP_ENOMEM when the process itself ran
 * short, or QP_ENOTSUP when this liblua's hash seed cannot be pinned
 * (docs/chain.md, "Deterministic layouts"; never a receipt).  out->value
 * is the caller's. */
int qp_lua_run(const qp_lua_call_t *call, const qp_lua_host_t *host, qp_lua_result_t *out);

/* Compiles code as text (binary chunks refused) in a throw-away capped
 * state, without running it.  Returns 0, QP_EPARSE with Lua's message
 * (chunk name and line) in detail, QP_ELIMIT (longer than QP_LUA_CODE_MAX),
 * QP_ENOMEM or QP_ENOTSUP (the seed cannot be pinned: an operating error). */
int qp_lua_compile(const char *code, size_t code_len, char *detail, size_t detail_size);

/* Parses contract-call arguments from JSON text (any JSON value, duplicate
 * keys refused) and checks them (qp_lua_args_check).  *out is the caller's.
 * Returns 0, QP_EINVAL with detail, or QP_ENOMEM. */
int qp_lua_args_parse(const char *text, size_t len, json_t **out, char *detail,
                      size_t detail_size);

/* Checks that v may become a contract's argument: integers, strings,
 * booleans, arrays and objects only (no reals, no null), at most
 * QP_LUA_JSON_DEPTH_MAX deep and QP_LUA_JSON_VALUES_MAX values.  Returns
 * 0 or QP_EINVAL with detail naming what is wrong. */
int qp_lua_args_check(const json_t *v, char *detail, size_t detail_size);

/* The JSON of a value a contract stored (a string or an integer) into
 * *out (the caller's).  Returns 0, QP_ECORRUPT or QP_ENOMEM. */
int qp_lua_value_json(const uint8_t *value, size_t len, json_t **out);

/* "ok", "out_of_gas", "out_of_memory" or "error". */
const char *qp_lua_status_name(qp_lua_status_t s);

#endif
