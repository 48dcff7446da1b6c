/*
 * app_lua.c - the built-in `lua` app (docs/chain.md, "Contracts (Lua)"):
 * user contracts in Lua 5.4, run by the sandbox of lua_vm.h.
 *
 *   deploy {"code": src}                      stores src, compiled first;
 *                                             result {"contract": address}
 *   call   {"contract": a, "method": m,       runs m(args) with a gas limit;
 *           "args": v, "gas": n}              result {"value", "gas_used"}
 *   code   {"contract": a}                    a query: the source
 *   get    {"contract": a, "key": k}          a query: a key of a's state
 *
 * A contract's address is the lower-case hex of the suite hash of its code,
 * so the same code deployed twice has the same address (the second deploy
 * gets the failed receipt already_deployed).  Keys in the app's key space:
 * 'c' || hash -> the code; 's' || hash || key -> a value of the contract's
 * state (the VM's encoding).  A call's writes are buffered (last write to a
 * key wins, reads see them) and become effects only when the call ends ok.
 * Failed receipts' codes: bad_args, deploy_forbidden (the gov app's rule
 * for the sender), compile_error, already_deployed, not_found, out_of_gas,
 * out_of_memory, error, unknown_method.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "chain/app.h"
#include "chain/keyfile.h"
#include "chain/lua_vm.h"
#include "crypto/crypto.h"

#define KEY_CODE 'c'                      /* 'c' || hash: a contract's code */
#define KEY_STATE 's'                     /* 's' || hash || key: its state */
#define ADDRESS_HEX (2 * QP_HASH_SIZE)    /* characters of an address */
#define METHOD_MAX 64u                    /* bytes of a called method's name */
#define APP_KEY_MAX (1 + QP_HASH_SIZE + QP_LUA_KEY_MAX)

/* A call's writes and events must fit one transaction's effects, a key the
 * app's key space, the code one value. */
_Static_assert(QP_LUA_WRITES_MAX <= QP_CHAIN_TX_WRITES_MAX, "writes");
_Static_assert(QP_LUA_EVENTS_MAX <= QP_CHAIN_TX_EVENTS_MAX, "events");
_Static_assert(APP_KEY_MAX <= QP_CHAIN_APP_KEY_MAX, "keys");
_Static_assert(QP_LUA_CODE_MAX <= QP_CHAIN_APP_VALUE_MAX, "code");

/* One buffered write of a call. */
typedef struct call_write {
  uint8_t key[QP_LUA_KEY_MAX];     /* the contract's key */
  size_t key_len;                  /* its bytes */
  uint8_t value[1 + QP_LUA_VALUE_MAX]; /* the VM's encoded value */
  size_t value_len;                /* its bytes */
  bool del;                        /* a delete */
} call_write_t;

/* The host side of one call.  Invariant: bytes is the sum of key_len +
 * value_len over writes[0, count). */
typedef struct call_host {
  const qp_chain_view_t *view;                /* the app's keys */
  uint8_t contract[QP_HASH_SIZE];             /* whose state */
  call_write_t writes[QP_LUA_WRITES_MAX];     /* distinct keys, first write's order */
  size_t count;                               /* used */
  size_t bytes;                               /* key and value bytes buffered */
  json_t *events;                             /* emitted values, in order */
} call_host_t;

static size_t state_key(uint8_t out[APP_KEY_MAX], const uint8_t contract[QP_HASH_SIZE],
                        const uint8_t *key, size_t key_len) {
  QP_ASSERT(key_len <= QP_LUA_KEY_MAX);
  out[0] = KEY_STATE;
  memcpy(out + 1, contract, QP_HASH_SIZE);
  memcpy(out + 1 + QP_HASH_SIZE, key, key_len);
  return 1 + QP_HASH_SIZE + key_len;
}

static call_write_t *find_write(call_host_t *h, const uint8_t *key, size_t key_len) {
  for (size_t i = 0; i < h->count; i++)
    if (h->writes[i].key_len == key_len && memcmp(h->writes[i].key, key, key_len) == 0)
      return &h->writes[i];
  return NULL;
}

static int host_get(void *ctx, const uint8_t *key, size_t key_len, const uint8_t **value,
                    size_t *value_len) {
  call_host_t *h = ctx;
  const call_write_t *w = find_write(h, key, key_len);
  if (w != NULL && w->del) return QP_ENOTFOUND;
  if (w != NULL) {
    *value = w->value;
    *value_len = w->value_len;
    return 0;
  }
  uint8_t full[APP_KEY_MAX];
  size_t n = state_key(full, h->contract, key, key_len);
  return h->view->get(h->view->ctx, full, n, value, value_len);
}

/* Buffers a put (value) or a delete (value NULL). */
static int host_write(call_host_t *h, const uint8_t *key, size_t key_len, const uint8_t *value,
                      size_t value_len) {
  QP_ASSERT(key_len >= 1 && key_len <= QP_LUA_KEY_MAX && value_len <= 1 + QP_LUA_VALUE_MAX);
  call_write_t *w = find_write(h, key, key_len);
  size_t old = w != NULL ? w->key_len + w->value_len : 0;
  if (h->bytes - old + key_len + value_len > QP_LUA_WRITE_BYTES_MAX) return QP_ELIMIT;
  if (w == NULL && h->count == QP_LUA_WRITES_MAX) return QP_ELIMIT;
  if (w == NULL) w = &h->writes[h->count++];
  memcpy(w->key, key, key_len);
  w->key_len = key_len;
  if (value_len > 0) memcpy(w->value, value, value_len);
  w->value_len = value_len;
  w->del = value == NULL;
  h->bytes = h->bytes - old + key_len + value_len;
  return 0;
}

static int host_put(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                    size_t value_len) {
  return host_write(ctx, key, key_len, value, value_len);
}

static int host_del(void *ctx, const uint8_t *key, size_t key_len) {
  return host_write(ctx, key, key_len, NULL, 0);
}

static int host_emit(void *ctx, json_t *event) {
  call_host_t *h = ctx;
  if (json_array_size(h->events) == QP_LUA_EVENTS_MAX) {
    json_decref(event);
    return QP_ELIMIT;
  }
  return json_array_append_new(h->events, event) == 0 ? 0 : QP_ENOMEM;
}

/* ---- args --------------------------------------------------------------- */

/* Records a failed bad_args receipt: 1, or QP_ENOMEM. */
static int bad_args(qp_chain_effects_t *e, const char *message) {
  int rc = qp_chain_effects_fail(e, "bad_args", message);
  return rc != 0 ? rc : 1;
}

/* The call's string-hash seed: H(prev_root || tx hash).  Every node has
 * both; a sender knows neither the state root its transaction will run on
 * nor, before choosing its arguments, its hash, so it cannot pick strings
 * that collide in the state's string table (docs/chain.md). */
static uint32_t call_seed(const qp_chain_view_t *view, const qp_chain_tx_t *tx) {
  uint8_t in[2 * QP_HASH_SIZE] = {0}, h[QP_HASH_SIZE];
  if (view->prev_root != NULL) memcpy(in, view->prev_root, QP_HASH_SIZE);
  memcpy(in + QP_HASH_SIZE, tx->hash, QP_HASH_SIZE);
  qp_hash256(h, in, sizeof in);
  return (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
}

/* args.contract: 64 hex digits into hash.  0, 1 (refused) or QP_ENOMEM. */
static int read_address(const json_t *args, uint8_t hash[QP_HASH_SIZE],
                        qp_chain_effects_t *e) {
  json_t *a = json_object_get(args, "contract");
  if (!json_is_string(a) || json_string_length(a) != ADDRESS_HEX ||
      qp_chain_unhex(json_string_value(a), ADDRESS_HEX, hash, QP_HASH_SIZE) != 0)
    return bad_args(e, "contract must be the contract's address: 64 hex digits");
  return 0;
}

/* Whether name is a Lua identifier (what a called method may be). */
static bool is_identifier(const char *name, size_t len) {
  if (len == 0 || len > METHOD_MAX || (name[0] >= '0' && name[0] <= '9')) return false;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_'))
      return false;
  }
  return true;
}

uint64_t qp_chain_tx_gas(const qp_chain_tx_t *tx) {
  if (strcmp(tx->app, "lua") != 0 || strcmp(tx->method, "call") != 0) return 0;
  json_t *args = json_loadb(tx->args, tx->args_len, JSON_REJECT_DUPLICATES, NULL);
  json_t *g = json_object_get(args, "gas");
  json_int_t n = json_is_integer(g) ? json_integer_value(g) : 0;
  json_decref(args);
  return n > 0 ? (uint64_t)n : 0;
}

uint64_t qp_chain_txs_gas(const qp_chain_tx_t *txs, size_t count, uint64_t cap) {
  uint64_t gas = 0;
  for (size_t i = 0; i < count && gas <= cap; i++) gas += qp_chain_tx_gas(&txs[i]);
  return gas;
}

/* The call's args: 0, 1 after a failed receipt, or QP_ENOMEM. */
static int read_call(const json_t *args, uint8_t hash[QP_HASH_SIZE], const char **method,
                     uint64_t *gas, qp_chain_effects_t *e) {
  static const char *const known[] = {"contract", "method", "args", "gas"};
  size_t seen = 0;
  for (size_t i = 0; i < 4; i++) seen += json_object_get(args, known[i]) != NULL;
  if (seen != json_object_size(args))
    return bad_args(e, "args may have only contract, method, args and gas");
  int rc = read_address(args, hash, e);
  if (rc != 0) return rc;
  json_t *m = json_object_get(args, "method"), *g = json_object_get(args, "gas");
  if (!json_is_string(m) || !is_identifier(json_string_value(m), json_string_length(m)))
    return bad_args(e, "method must be the name of a function of the contract "
                       "(a Lua identifier of 1 to 64 bytes)");
  *method = json_string_value(m);
  if (!json_is_integer(g) || json_integer_value(g) < 1 ||
      (uint64_t)json_integer_value(g) > QP_LUA_GAS_MAX) {
    char msg[128];
    snprintf(msg, sizeof msg, "gas must be an integer from 1 to %u (the block's limit)",
             QP_LUA_GAS_MAX);
    return bad_args(e, msg);
  }
  *gas = (uint64_t)json_integer_value(g);
  json_t *v = json_object_get(args, "args");
  char detail[256];
  if (v != NULL && qp_lua_args_check(v, detail, sizeof detail) != 0) return bad_args(e, detail);
  return 0;
}

/* ---- deploy --------------------------------------------------------------- */

static int lua_deploy(const qp_chain_view_t *view, const qp_chain_tx_t *tx, const json_t *args,
                      qp_chain_effects_t *e) {
  json_t *c = json_object_get(args, "code");
  if (!json_is_string(c) || json_object_size(args) != 1)
    return bad_args(e, "args must be {\"code\": Lua source} and nothing else") > 0 ? 0
                                                                                    : QP_ENOMEM;
  bool allowed = false; /* governance decides who deploys (app_gov.c) */
  int grc = qp_chain_gov_may_deploy(view, tx->sender, tx->sender_len, &allowed);
  if (grc != 0) return grc;
  if (!allowed)
    return qp_chain_effects_fail(e, "deploy_forbidden",
                                 "governance forbids this key to deploy contracts");
  const char *code = json_string_value(c);
  size_t len = json_string_length(c);
  char detail[QP_LUA_MESSAGE_MAX + 64];
  int rc = len > 0 ? qp_lua_compile(code, len, detail, sizeof detail) : QP_ELIMIT;
  if (len == 0) snprintf(detail, sizeof detail, "code is empty");
  if (rc != 0 && rc != QP_ELIMIT && rc != QP_EPARSE) return rc; /* operating errors */
  if (rc != 0) return qp_chain_effects_fail(e, rc == QP_ELIMIT ? "bad_args" : "compile_error",
                                            detail);
  uint8_t key[1 + QP_HASH_SIZE];
  key[0] = KEY_CODE;
  rc = qp_suite_hash(tx->suite, key + 1, code, len);
  if (rc != 0) return rc;
  char address[ADDRESS_HEX + 1];
  qp_chain_hex(address, key + 1, QP_HASH_SIZE);
  const uint8_t *old = NULL;
  size_t old_len = 0;
  rc = view->get(view->ctx, key, sizeof key, &old, &old_len);
  if (rc == 0) {
    rc = qp_chain_effects_fail(e, "already_deployed", "this code is deployed already");
  } else if (rc == QP_ENOTFOUND) {
    rc = qp_chain_effects_put(e, key, sizeof key, (const uint8_t *)code, len);
    if (rc == 0) rc = qp_chain_effects_event(e, "lua.deploy", json_pack("{s:s}", "contract",
                                                                         address));
  }
  if (rc == 0 && json_object_set_new(e->result, "contract", json_string(address)) != 0)
    rc = QP_ENOMEM;
  return rc;
}

/* ---- call ----------------------------------------------------------------- */

/* The ok call's writes into the effects, its events into the receipt. */
static int call_commit(const call_host_t *h, const char *address, qp_chain_effects_t *e) {
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < h->count; i++) {
    const call_write_t *w = &h->writes[i];
    uint8_t full[APP_KEY_MAX];
    size_t n = state_key(full, h->contract, w->key, w->key_len);
    rc = w->del ? qp_chain_effects_delete(e, full, n)
                : qp_chain_effects_put(e, full, n, w->value, w->value_len);
  }
  size_t i = 0;
  json_t *ev = NULL;
  json_array_foreach(h->events, i, ev) {
    if (rc == 0)
      rc = qp_chain_effects_event(e, "lua.emit", json_pack("{s:s, s:O}", "contract", address,
                                                            "data", ev));
  }
  return rc;
}

/* The receipt of a finished call. */
static int call_receipt(const call_host_t *h, const char *address, qp_lua_result_t *r,
                        qp_chain_effects_t *e) {
  int rc = 0;
  if (r->status == QP_LUA_OK) {
    rc = call_commit(h, address, e);
    if (rc == 0 && json_object_set(e->result, "value", r->value) != 0) rc = QP_ENOMEM;
  } else {
    char msg[QP_LUA_MESSAGE_MAX + 64];
    if (r->status == QP_LUA_ERROR) snprintf(msg, sizeof msg, "error: %s", r->message);
    else if (r->status == QP_LUA_OUT_OF_GAS)
      snprintf(msg, sizeof msg, "out_of_gas: the call used all of its %llu gas",
               (unsigned long long)r->gas_used);
    else snprintf(msg, sizeof msg, "out_of_memory: %s", r->message);
    rc = qp_chain_effects_fail(e, qp_lua_status_name(r->status), msg);
  }
  if (rc == 0 && json_object_set_new(e->result, "gas_used",
                                     json_integer((json_int_t)r->gas_used)) != 0)
    rc = QP_ENOMEM;
  return rc;
}

static int lua_call(const qp_chain_view_t *view, const qp_chain_tx_t *tx, const json_t *args,
                    qp_chain_effects_t *e) {
  call_host_t *h = qp_calloc(1, sizeof *h);
  if (h == NULL) return QP_ENOMEM;
  const char *method = NULL;
  uint64_t gas = 0;
  int rc = read_call(args, h->contract, &method, &gas, e);
  uint8_t key[1 + QP_HASH_SIZE] = {KEY_CODE};
  const uint8_t *code = NULL;
  size_t code_len = 0;
  if (rc == 0) {
    memcpy(key + 1, h->contract, QP_HASH_SIZE);
    rc = view->get(view->ctx, key, sizeof key, &code, &code_len);
    if (rc == QP_ENOTFOUND) {
      rc = qp_chain_effects_fail(e, "not_found", "no contract at this address");
      if (rc == 0) rc = 1;
    }
  }
  /* The code is borrowed until the view's next call: the run reads state. */
  char *copy = rc == 0 ? qp_malloc(code_len + 1) : NULL;
  if (rc == 0 && copy == NULL) rc = QP_ENOMEM;
  char sender[2 * QP_SIGN_PUBLIC_MAX + 1], address[ADDRESS_HEX + 1];
  qp_lua_result_t r = {0};
  if (rc == 0 && (h->events = json_array()) == NULL) rc = QP_ENOMEM;
  if (rc == 0) {
    memcpy(copy, code, code_len);
    qp_chain_hex(sender, tx->sender, tx->sender_len);
    qp_chain_hex(address, h->contract, QP_HASH_SIZE);
    h->view = view;
    qp_lua_host_t host = {host_get, host_put, host_del, host_emit, h, sender, view->height};
    qp_lua_call_t call = {.code = copy, .code_len = code_len, .method = method,
                          .args = json_object_get(args, "args"), .gas_limit = gas,
                          .memory_max = QP_LUA_MEMORY_MAX, .seed = call_seed(view, tx)};
    rc = qp_lua_run(&call, &host, &r);
    if (rc == 0) rc = call_receipt(h, address, &r, e);
  }
  json_decref(r.value);
  json_decref(h->events);
  qp_free(copy);
  qp_free(h);
  return rc > 0 ? 0 : rc;
}

static int lua_execute(const qp_chain_view_t *view, const qp_chain_tx_t *tx, const json_t *args,
                       qp_chain_effects_t *e) {
  if (strcmp(tx->method, "deploy") == 0) return lua_deploy(view, tx, args, e);
  if (strcmp(tx->method, "call") == 0) return lua_call(view, tx, args, e);
  if (strcmp(tx->method, "code") == 0 || strcmp(tx->method, "get") == 0)
    return qp_chain_effects_fail(e, "query_only", "code and get are queries "
                                                  "(POST /v1/chain/query), not transactions");
  return qp_chain_effects_fail(e, "unknown_method", "lua has deploy and call (and the queries "
                                                    "code and get)");
}

/* ---- queries ---------------------------------------------------------------- */

static int query_fail(char code[QP_CHAIN_CODE_MAX + 1], const char *c, char *detail,
                      size_t detail_size, const char *msg, int rc) {
  snprintf(code, QP_CHAIN_CODE_MAX + 1, "%s", c);
  snprintf(detail, detail_size, "%s", msg);
  return rc;
}

/* args {"contract"} (and "key" when with_key): the app key to read. */
static int query_key(const json_t *args, bool with_key, uint8_t out[APP_KEY_MAX], size_t *len) {
  json_t *a = json_object_get(args, "contract"), *k = json_object_get(args, "key");
  uint8_t hash[QP_HASH_SIZE];
  if (!json_is_string(a) || json_string_length(a) != ADDRESS_HEX ||
      qp_chain_unhex(json_string_value(a), ADDRESS_HEX, hash, QP_HASH_SIZE) != 0 ||
      json_object_size(args) != (with_key ? 2u : 1u))
    return QP_EINVAL;
  if (!with_key) {
    out[0] = KEY_CODE;
    memcpy(out + 1, hash, QP_HASH_SIZE);
    *len = 1 + QP_HASH_SIZE;
    return 0;
  }
  if (!json_is_string(k) || json_string_length(k) == 0 ||
      json_string_length(k) > QP_LUA_KEY_MAX)
    return QP_EINVAL;
  *len = state_key(out, hash, (const uint8_t *)json_string_value(k), json_string_length(k));
  return 0;
}

static int lua_query(const qp_chain_view_t *view, const char *method, const json_t *args,
                     json_t **result, char code[QP_CHAIN_CODE_MAX + 1], char *detail,
                     size_t detail_size) {
  bool get = strcmp(method, "get") == 0;
  if (!get && strcmp(method, "code") != 0)
    return query_fail(code, "unknown_method", detail, detail_size,
                      "lua answers the queries code and get", QP_EINVAL);
  uint8_t key[APP_KEY_MAX];
  size_t key_len = 0;
  if (query_key(args, get, key, &key_len) != 0)
    return query_fail(code, "bad_args", detail, detail_size,
                      get ? "args must be {\"contract\": 64 hex digits, \"key\": string of 1 "
                            "to 128 bytes}"
                          : "args must be {\"contract\": 64 hex digits}", QP_EINVAL);
  const uint8_t *v = NULL;
  size_t n = 0;
  int rc = view->get(view->ctx, key, key_len, &v, &n);
  if (rc == QP_ENOTFOUND)
    return query_fail(code, "not_found", detail, detail_size,
                      get ? "the contract has no value at this key" : "no contract at this "
                                                                      "address", QP_ENOTFOUND);
  if (rc != 0) return rc;
  json_t *value = get ? NULL : json_stringn((const char *)v, n);
  if (get && (rc = qp_lua_value_json(v, n, &value)) != 0) return rc;
  *result = json_pack("{s:O, s:o}", "contract", json_object_get(args, "contract"),
                      get ? "value" : "code", value);
  if (*result != NULL && get)
    json_object_set(*result, "key", json_object_get(args, "key"));
  if (*result == NULL) return QP_ENOMEM;
  snprintf(code, QP_CHAIN_CODE_MAX + 1, "ok");
  return 0;
}

const qp_chain_app_t qp_chain_app_lua = {"lua", lua_execute, lua_query};
