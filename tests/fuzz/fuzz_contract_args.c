/*
 * fuzz_contract_args.c - libFuzzer target for the contract-argument decoder
 * (src/chain/lua_vm_json.c): the JSON a `lua` call carries as "args", from
 * any client.  Properties: no crash, no leak; a refusal is QP_EINVAL with a
 * detail (reals, null, duplicate keys, depth, size); accepted args reach a
 * contract `function echo(a) return a end` and come back equal (an empty
 * array comes back as {}), or are refused by the result's own size limit -
 * never out of gas, out of memory or another error.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "chain/lua_vm.h"

static const char ECHO[] = "function echo(a) return a end";

static int no_get(void *ctx, const uint8_t *k, size_t kl, const uint8_t **v, size_t *vl) {
  (void)ctx, (void)k, (void)kl, (void)v, (void)vl;
  return QP_ENOTFOUND;
}
static int no_put(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  (void)ctx, (void)k, (void)kl, (void)v, (void)vl;
  return QP_ELIMIT;
}
static int no_del(void *ctx, const uint8_t *k, size_t kl) {
  (void)ctx, (void)k, (void)kl;
  return QP_ELIMIT;
}
static int no_emit(void *ctx, json_t *ev) {
  (void)ctx;
  json_decref(ev);
  return QP_ELIMIT;
}

/* Equal as values, an empty array matching an empty object. */
static int same(const json_t *a, const json_t *b) {
  bool ea = (json_is_array(a) && json_array_size(a) == 0) ||
            (json_is_object(a) && json_object_size(a) == 0);
  bool eb = (json_is_array(b) && json_array_size(b) == 0) ||
            (json_is_object(b) && json_object_size(b) == 0);
  if (ea || eb) return ea && eb;
  if (json_typeof(a) != json_typeof(b)) return 0;
  const char *key = NULL;
  json_t *v = NULL;
  size_t i = 0;
  if (json_is_array(a)) {
    if (json_array_size(a) != json_array_size(b)) return 0;
    json_array_foreach(a, i, v) if (!same(v, json_array_get(b, i))) return 0;
    return 1;
  }
  if (json_is_object(a)) {
    if (json_object_size(a) != json_object_size(b)) return 0;
    json_object_foreach((json_t *)a, key, v) {
      size_t len = json_object_iter_key_len(json_object_key_to_iter(key));
      json_t *w = json_object_getn(b, key, len);
      if (w == NULL || !same(v, w)) return 0;
    }
    return 1;
  }
  return json_equal(a, b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *args = NULL;
  char detail[256] = "";
  int rc = qp_lua_args_parse((const char *)data, size, &args, detail, sizeof detail);
  QP_ASSERT(rc == 0 || rc == QP_EINVAL || rc == QP_ENOMEM);
  QP_ASSERT(rc != QP_EINVAL || strncmp(detail, "args: ", 6) == 0);
  if (rc != 0) return 0;
  QP_ASSERT(args != NULL && qp_lua_args_check(args, detail, sizeof detail) == 0);
  qp_lua_host_t host = {no_get, no_put, no_del, no_emit, NULL, "00", 1};
  qp_lua_call_t call = {.code = ECHO, .code_len = sizeof ECHO - 1, .method = "echo",
                        .args = args, .gas_limit = QP_LUA_GAS_MAX,
                        .memory_max = QP_LUA_MEMORY_MAX};
  qp_lua_result_t r;
  QP_ASSERT(qp_lua_run(&call, &host, &r) == 0);
  if (r.status == QP_LUA_OK) QP_ASSERT(same(args, r.value));
  else QP_ASSERT(r.status == QP_LUA_ERROR && strstr(r.message, "longer than") != NULL);
  json_decref(r.value);
  json_decref(args);
  return 0;
}
