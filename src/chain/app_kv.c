/*
 * app_kv.c - the built-in `kv` app (docs/chain.md, "Apps and the kv app"):
 * a key-value map where a key belongs to the first sender that wrote it.
 *
 *   put    {"key": k, "value": v}  creates k or replaces its value (owner only)
 *   delete {"key": k}              removes the value (owner only); k stays owned
 *   get    {"key": k}              a query only, answered from committed state
 *
 * k is 1..128 bytes of UTF-8, v 0..4096.  A key's record keeps its owner
 * after a delete (a tombstone), so ownership is forever, as "first writer"
 * promises: nobody can take over a key by waiting for its owner to delete
 * it.  Record: u8 version 1 || u8 present (0/1) || u8 owner_len || owner ||
 * value bytes.  Failed receipts' codes: bad_args, key_too_long,
 * value_too_long, not_owner, not_found, unknown_method, query_only.
 */
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "chain/app.h"

#define KV_RECORD_MAX (3u + QP_SIGN_PUBLIC_MAX + QP_CHAIN_KV_VALUE_MAX)

typedef struct kv_record {
  bool present;              /* a value is there (false: a tombstone) */
  const uint8_t *owner;      /* the first writer's key */
  size_t owner_len;          /* its bytes */
  const uint8_t *value;      /* the value */
  size_t value_len;          /* its bytes */
} kv_record_t;

/* Reads k's record: 0, QP_ENOTFOUND (never written), QP_ECORRUPT, or the
 * view's error. */
static int record_get(const qp_chain_view_t *view, const char *key, size_t key_len,
                      kv_record_t *r) {
  const uint8_t *v = NULL;
  size_t n = 0;
  int rc = view->get(view->ctx, (const uint8_t *)key, key_len, &v, &n);
  if (rc != 0) return rc;
  if (n < 3 || v[0] != 1 || v[1] > 1 || n < 3u + v[2]) return QP_ECORRUPT;
  *r = (kv_record_t){.present = v[1] == 1, .owner = v + 3, .owner_len = v[2],
                     .value = v + 3 + v[2], .value_len = n - 3 - v[2]};
  return 0;
}

/* Records a failed receipt for bad args: 1, or QP_ENOMEM. */
static int arg_refused(qp_chain_effects_t *e, const char *code, const char *message) {
  int rc = qp_chain_effects_fail(e, code, message);
  return rc != 0 ? rc : 1;
}

/* The args: exactly the keys named, strings within bounds.  Returns 0, or
 * 1 after recording a failed receipt, or QP_ENOMEM. */
static int read_args(const json_t *args, bool with_value, const char **key, size_t *key_len,
                     const char **value, size_t *value_len, qp_chain_effects_t *e) {
  json_t *k = json_object_get(args, "key"), *v = json_object_get(args, "value");
  size_t want = with_value ? 2 : 1;
  if (!json_is_string(k) || (with_value && !json_is_string(v)) || json_object_size(args) != want)
    return arg_refused(e, "bad_args", with_value
                                                    ? "args must be {\"key\": string, "
                                                      "\"value\": string} and nothing else"
                                                    : "args must be {\"key\": string} and "
                                                      "nothing else");
  *key = json_string_value(k);
  *key_len = json_string_length(k);
  if (*key_len == 0 || *key_len > QP_CHAIN_KV_KEY_MAX)
    return arg_refused(e, "key_too_long", "key must be 1 to 128 bytes");
  if (with_value) {
    *value = json_string_value(v);
    *value_len = json_string_length(v);
    if (*value_len > QP_CHAIN_KV_VALUE_MAX)
      return arg_refused(e, "value_too_long", "value must be at most 4096 bytes");
  }
  return 0;
}

/* Writes k's record with owner and value (present) or as a tombstone. */
static int record_put(qp_chain_effects_t *e, const char *key, size_t key_len,
                      const uint8_t *owner, size_t owner_len, const char *value,
                      size_t value_len, bool present) {
  uint8_t rec[KV_RECORD_MAX];
  QP_ASSERT(owner_len <= QP_SIGN_PUBLIC_MAX && value_len <= QP_CHAIN_KV_VALUE_MAX);
  rec[0] = 1;
  rec[1] = present ? 1 : 0;
  rec[2] = (uint8_t)owner_len;
  memcpy(rec + 3, owner, owner_len);
  if (value_len > 0) memcpy(rec + 3 + owner_len, value, value_len);
  return qp_chain_effects_put(e, (const uint8_t *)key, key_len, rec, 3 + owner_len + value_len);
}

static int event(qp_chain_effects_t *e, const char *type, const char *key, size_t key_len) {
  json_t *f = json_pack("{s:s%}", "key", key, key_len);
  if (f == NULL) return QP_ENOMEM;
  return qp_chain_effects_event(e, type, f);
}

static int kv_write(const qp_chain_view_t *view, const qp_chain_tx_t *tx, const json_t *args,
                    qp_chain_effects_t *e, bool del) {
  const char *key = NULL, *value = NULL;
  size_t key_len = 0, value_len = 0;
  int rc = read_args(args, !del, &key, &key_len, &value, &value_len, e);
  if (rc != 0) return rc > 0 ? 0 : rc;
  kv_record_t r;
  rc = record_get(view, key, key_len, &r);
  if (rc != 0 && rc != QP_ENOTFOUND) return rc;
  bool exists = rc == 0;
  if (exists && (r.owner_len != tx->sender_len || memcmp(r.owner, tx->sender, r.owner_len) != 0))
    return qp_chain_effects_fail(e, "not_owner", "the key belongs to another sender");
  if (del && (!exists || !r.present))
    return qp_chain_effects_fail(e, "not_found", "the key has no value to delete");
  rc = record_put(e, key, key_len, tx->sender, tx->sender_len, value, value_len, !del);
  if (rc == 0) rc = event(e, del ? "kv.delete" : "kv.put", key, key_len);
  if (rc == 0 && json_object_set_new(e->result, "key", json_stringn(key, key_len)) != 0)
    rc = QP_ENOMEM;
  if (rc == 0 && !del &&
      json_object_set_new(e->result, "created", json_boolean(!exists || !r.present)) != 0)
    rc = QP_ENOMEM;
  return rc;
}

static int kv_execute(const qp_chain_view_t *view, const qp_chain_tx_t *tx, const json_t *args,
                      qp_chain_effects_t *e) {
  if (strcmp(tx->method, "put") == 0) return kv_write(view, tx, args, e, false);
  if (strcmp(tx->method, "delete") == 0) return kv_write(view, tx, args, e, true);
  if (strcmp(tx->method, "get") == 0)
    return qp_chain_effects_fail(e, "query_only",
                                 "get is a query (POST /v1/chain/query), not a transaction");
  return qp_chain_effects_fail(e, "unknown_method", "kv has put and delete (and the query get)");
}

static int query_fail(char code[QP_CHAIN_CODE_MAX + 1], const char *c, char *detail,
                      size_t detail_size, const char *msg, int rc) {
  snprintf(code, QP_CHAIN_CODE_MAX + 1, "%s", c);
  snprintf(detail, detail_size, "%s", msg);
  return rc;
}

static int kv_query(const qp_chain_view_t *view, const char *method, const json_t *args,
                    json_t **result, char code[QP_CHAIN_CODE_MAX + 1], char *detail,
                    size_t detail_size) {
  if (strcmp(method, "get") != 0)
    return query_fail(code, "unknown_method", detail, detail_size, "kv answers the query get",
                      QP_EINVAL);
  json_t *k = json_object_get(args, "key");
  if (!json_is_string(k) || json_object_size(args) != 1 || json_string_length(k) == 0 ||
      json_string_length(k) > QP_CHAIN_KV_KEY_MAX)
    return query_fail(code, "bad_args", detail, detail_size,
                      "args must be {\"key\": string of 1 to 128 bytes}", QP_EINVAL);
  kv_record_t r;
  int rc = record_get(view, json_string_value(k), json_string_length(k), &r);
  if (rc == QP_ENOTFOUND || (rc == 0 && !r.present))
    return query_fail(code, "not_found", detail, detail_size, "the key has no value",
                      QP_ENOTFOUND);
  if (rc != 0) return rc;
  char owner[2 * QP_SIGN_PUBLIC_MAX + 1];
  qp_hex(owner, r.owner, r.owner_len);
  *result = json_pack("{s:O, s:s%, s:s}", "key", k, "value", (const char *)r.value, r.value_len,
                      "owner", owner);
  if (*result == NULL) return QP_ENOMEM;
  snprintf(code, QP_CHAIN_CODE_MAX + 1, "ok");
  return 0;
}

const qp_chain_app_t qp_chain_app_kv = {"kv", kv_execute, kv_query};
