/*
 * encode.c - ledger records to JSON.  u128 and u64 values go out as
 * decimal strings (JSON numbers lose precision past 2^53 in most clients),
 * narrower integers as numbers, flags as arrays of names, result codes as
 * their snake_case names: the same shapes the decoder accepts, so a record
 * read from the API can be sent back unchanged.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ledger/api.h"
#include "base/alloc.h"
#include "base/assert.h"

json_t *qp_ledger_submitter_json(uint64_t key) {
  if (key == 0) return json_null();
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)key);
  return json_string(hex);
}

json_t *qp_ledger_u128_json(qp_u128 v) {
  char buf[QP_U128_BUF_SIZE];
  qp_u128_format(v, buf);
  return json_string(buf);
}

static json_t *flags_json(uint32_t flags, const char *(*name_of)(uint32_t bit)) {
  json_t *arr = json_array();
  if (arr == NULL) return NULL;
  for (uint32_t bit = 1; bit != 0 && bit <= flags; bit <<= 1) {
    if ((flags & bit) == 0) continue;
    const char *name = name_of(bit);
    if (name != NULL) json_array_append_new(arr, json_string(name));
  }
  return arr;
}

/* Sets a u128 member; a NULL from a failed allocation is caught when the
 * caller dumps the object (json_dumps of an incomplete object still works,
 * and the server maps a failed dump to 500). */
static void set_u128(json_t *obj, const char *key, qp_u128 v) {
  json_object_set_new(obj, key, qp_ledger_u128_json(v));
}

json_t *qp_ledger_account_json(const qp_account_t *a) {
  json_t *o = json_object();
  if (o == NULL) return NULL;
  set_u128(o, "id", a->id);
  set_u128(o, "debits_pending", a->debits_pending);
  set_u128(o, "debits_posted", a->debits_posted);
  set_u128(o, "credits_pending", a->credits_pending);
  set_u128(o, "credits_posted", a->credits_posted);
  set_u128(o, "user_data_128", a->user_data_128);
  set_u128(o, "user_data_64", a->user_data_64);
  json_object_set_new(o, "user_data_32", json_integer(a->user_data_32));
  json_object_set_new(o, "ledger", json_integer(a->ledger));
  json_object_set_new(o, "code", json_integer(a->code));
  json_object_set_new(o, "flags", flags_json(a->flags, qp_account_flag_name));
  set_u128(o, "timestamp", a->timestamp);
  return o;
}

json_t *qp_ledger_transfer_json(const qp_transfer_t *t, qp_pending_state_t state) {
  json_t *o = json_object();
  if (o == NULL) return NULL;
  set_u128(o, "id", t->id);
  set_u128(o, "debit_account_id", t->debit_account_id);
  set_u128(o, "credit_account_id", t->credit_account_id);
  set_u128(o, "amount", t->amount);
  set_u128(o, "pending_id", t->pending_id);
  set_u128(o, "user_data_128", t->user_data_128);
  set_u128(o, "user_data_64", t->user_data_64);
  json_object_set_new(o, "user_data_32", json_integer(t->user_data_32));
  json_object_set_new(o, "timeout", json_integer(t->timeout));
  json_object_set_new(o, "ledger", json_integer(t->ledger));
  json_object_set_new(o, "code", json_integer(t->code));
  json_object_set_new(o, "flags", flags_json(t->flags, qp_transfer_flag_name));
  set_u128(o, "timestamp", t->timestamp);
  if ((t->flags & QP_TRANSFER_PENDING) && state != QP_PENDING_NONE) {
    const char *name = qp_pending_state_name(state);
    if (name != NULL) json_object_set_new(o, "pending_state", json_string(name));
  }
  return o;
}

json_t *qp_ledger_balance_json(const qp_account_balance_t *b) {
  json_t *o = json_object();
  if (o == NULL) return NULL;
  set_u128(o, "account_id", b->account_id);
  set_u128(o, "transfer_id", b->transfer_id);
  set_u128(o, "debits_pending", b->debits_pending);
  set_u128(o, "debits_posted", b->debits_posted);
  set_u128(o, "credits_pending", b->credits_pending);
  set_u128(o, "credits_posted", b->credits_posted);
  set_u128(o, "timestamp", b->timestamp);
  return o;
}

/* Longest row: {"index":8189,"id":"<39 digits>","result":"<longest name>"}, */
#define RESULT_ROW_BYTES_MAX (64u + QP_U128_DEC_MAX + 64u)

char *qp_ledger_results_text(qp_op_t op, const void *events, const uint32_t *results,
                             uint32_t count, size_t *len_out) {
  /* Written directly rather than through a jansson tree: for a batch of
   * 8190 events the tree costs tens of thousands of allocations, and this
   * is the answer to every create request. */
  size_t cap = 16u + (size_t)count * RESULT_ROW_BYTES_MAX;
  char *out = qp_malloc(cap);
  if (out == NULL) return NULL;
  size_t len = 0;
  memcpy(out, "{\"results\":[", 12);
  len = 12;
  for (uint32_t i = 0; i < count; i++) {
    qp_u128 id;
    const char *name;
    if (op == QP_OP_CREATE_ACCOUNTS) {
      id = ((const qp_account_t *)events)[i].id;
      name = qp_create_account_result_name(results[i]);
    } else {
      id = ((const qp_transfer_t *)events)[i].id;
      name = qp_create_transfer_result_name(results[i]);
    }
    char digits[QP_U128_BUF_SIZE];
    qp_u128_format(id, digits);
    int n = snprintf(out + len, cap - len, "%s{\"index\":%u,\"id\":\"%s\",\"result\":\"%s\"}",
                     i ? "," : "", i, digits, name != NULL ? name : "unknown");
    QP_ASSERT(n > 0 && (size_t)n < cap - len); /* RESULT_ROW_BYTES_MAX bounds every row */
    len += (size_t)n;
  }
  QP_ASSERT(len + 3 <= cap);
  memcpy(out + len, "]}", 3);
  *len_out = len + 2;
  return out;
}
