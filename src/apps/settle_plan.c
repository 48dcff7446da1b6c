/*
 * settle_plan.c - settlement record + account map -> one linked batch of
 * ledger transfers with ids derived from the record (settle_plan.h).
 *
 * Why the ids are derived and not random: the agent may crash after the
 * ledger committed the batch and before the chain heard of it.  The next
 * agent (or the same one restarted, or a second one running beside it)
 * rebuilds the identical batch, the ledger answers `exists` for the first
 * transfer (and `linked_event_failed` for the rest of the chain), and a
 * lookup of the ids shows the payment was made: nothing is paid twice.
 * The hash is SHA-256 whatever the chain's suite, so the ids of a
 * settlement do not depend on which suite's tooling computes them.
 *
 * The record and the map come from outside (a node's answer, a file):
 * every field is checked and a refusal names it (fuzzed by
 * tests/fuzz/fuzz_settle_plan.c).
 */
#include "apps/settle_plan.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "crypto/crypto.h"

static const char DOMAIN[] = "quipu-settle-v1"; /* 15 bytes, no NUL */

qp_u128 qp_settle_transfer_id(const uint8_t genesis[QP_SETTLE_GENESIS_SIZE],
                              const char *settlement, uint32_t index) {
  size_t id_len = strnlen(settlement, QP_SETTLE_ID_MAX);
  uint8_t msg[sizeof DOMAIN - 1 + QP_SETTLE_GENESIS_SIZE + QP_SETTLE_ID_MAX + 4];
  size_t n = 0;
  memcpy(msg, DOMAIN, sizeof DOMAIN - 1);
  n += sizeof DOMAIN - 1;
  memcpy(msg + n, genesis, QP_SETTLE_GENESIS_SIZE);
  n += QP_SETTLE_GENESIS_SIZE;
  memcpy(msg + n, settlement, id_len);
  n += id_len;
  for (int i = 0; i < 4; i++) msg[n++] = (uint8_t)(index >> (8 * i));
  uint8_t digest[QP_HASH_SIZE];
  qp_sha256(digest, msg, n);
  qp_u128 id = qp_u128_load_le(digest);
  if (id == 0 || id == QP_U128_MAX) id = qp_u128_load_le(digest + 16);
  QP_ASSERT(id != 0 && id != QP_U128_MAX); /* both halves degenerate: 2^-254 */
  return id;
}

/* A decimal string of a u128 in [1, 2^128-2] (a ledger id or an amount). */
static bool decimal_nonzero(const json_t *v, qp_u128 *out) {
  const char *s = json_string_value(v);
  size_t len = s != NULL ? strlen(s) : 0;
  if (len == 0 || len > QP_U128_DEC_MAX || (len > 1 && s[0] == '0')) return false;
  return qp_u128_parse(s, len, out) == 0 && *out != 0 && *out != QP_U128_MAX;
}

/* Lower-case hex of an even length, 2..QP_SETTLE_KEY_HEX_MAX digits. */
static bool key_hex(const char *s) {
  size_t len = strlen(s);
  if (len < 2 || len > QP_SETTLE_KEY_HEX_MAX || len % 2 != 0) return false;
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

/* A ledger number as written in the map's keys: 1..4294967295, no zeros
 * in front. */
static bool ledger_text(const char *s, uint32_t *out) {
  size_t len = strlen(s);
  qp_u128 v = 0;
  if (len == 0 || len > 10 || s[0] == '0' || qp_u128_parse(s, len, &v) != 0) return false;
  if (v > UINT32_MAX) return false;
  *out = (uint32_t)v;
  return true;
}

int qp_settle_map_check(const json_t *map, char *detail, size_t detail_size) {
  if (!json_is_object(map)) {
    snprintf(detail, detail_size, "the map must be a JSON object {\"<public key hex>\": "
                                  "{\"<ledger>\": \"<account id>\"}}");
    return QP_EINVAL;
  }
  const char *key, *ledger;
  const json_t *ledgers, *account;
  json_object_foreach((json_t *)map, key, ledgers) {
    if (!key_hex(key)) {
      snprintf(detail, detail_size, "map key \"%.140s\" is not a public key in lower-case hex",
               key);
      return QP_EINVAL;
    }
    if (!json_is_object(ledgers) || json_object_size(ledgers) == 0) {
      snprintf(detail, detail_size, "map[%.140s] must be an object of ledger -> account id",
               key);
      return QP_EINVAL;
    }
    json_object_foreach((json_t *)ledgers, ledger, account) {
      uint32_t l;
      qp_u128 id;
      if (!ledger_text(ledger, &l)) {
        snprintf(detail, detail_size, "map[%.140s]: \"%.32s\" is not a ledger (1..4294967295)",
                 key, ledger);
        return QP_EINVAL;
      }
      if (!decimal_nonzero(account, &id)) {
        snprintf(detail, detail_size, "map[%.140s][%s] must be an account id: a decimal "
                                      "string, not 0", key, ledger);
        return QP_EINVAL;
      }
    }
  }
  return 0;
}

/* The account of participant key on ledger, from a checked map. */
static int map_account(const json_t *map, const char *key, uint32_t ledger, qp_u128 *out,
                       char *detail, size_t detail_size) {
  char text[16];
  snprintf(text, sizeof text, "%u", ledger);
  const json_t *ledgers = json_object_get(map, key);
  const json_t *account = json_object_get(ledgers, text);
  if (account == NULL || !decimal_nonzero(account, out)) {
    snprintf(detail, detail_size, "participant %.140s has no account on ledger %u in the map%s",
             key, ledger, ledgers == NULL ? " (the participant is not in it)" : "");
    return QP_ENOTFOUND;
  }
  return 0;
}

/* A string field of obj as a key of the map: lower-case hex. */
static int key_field(const json_t *obj, const char *field, char out[QP_SETTLE_KEY_HEX_MAX + 1],
                     uint32_t index, char *detail, size_t detail_size) {
  const char *s = json_string_value(json_object_get(obj, field));
  if (s == NULL || !key_hex(s)) {
    snprintf(detail, detail_size, "payments[%u].%s must be a public key in lower-case hex",
             index, field);
    return QP_EINVAL;
  }
  snprintf(out, QP_SETTLE_KEY_HEX_MAX + 1, "%s", s);
  return 0;
}

/* Payment i of the record into p (accounts from the map). */
static int payment_make(const json_t *v, uint32_t i, const json_t *map, uint32_t ledger,
                        qp_settle_payment_t *p, char *detail, size_t detail_size) {
  const json_t *index = json_object_get(v, "index");
  if (!json_is_object(v) || !json_is_integer(index) || json_integer_value(index) != i) {
    snprintf(detail, detail_size, "payments[%u] must be an object with \"index\": %u", i, i);
    return QP_EINVAL;
  }
  int rc = key_field(v, "from", p->from, i, detail, detail_size);
  if (rc == 0) rc = key_field(v, "to", p->to, i, detail, detail_size);
  if (rc == 0 && !decimal_nonzero(json_object_get(v, "amount"), &p->amount)) {
    snprintf(detail, detail_size, "payments[%u].amount must be a decimal string > 0", i);
    rc = QP_EINVAL;
  }
  if (rc == 0 && strcmp(p->from, p->to) == 0) {
    snprintf(detail, detail_size, "payments[%u]: from and to are the same participant", i);
    rc = QP_EINVAL;
  }
  if (rc == 0) rc = map_account(map, p->from, ledger, &p->debit_account, detail, detail_size);
  if (rc == 0) rc = map_account(map, p->to, ledger, &p->credit_account, detail, detail_size);
  return rc;
}

/* The record's scalar fields into out. */
static int header_make(const json_t *record, qp_settle_plan_t *out, char *detail,
                       size_t detail_size) {
  const char *id = json_string_value(json_object_get(record, "settlement"));
  const char *kind = json_string_value(json_object_get(record, "kind"));
  const char *status = json_string_value(json_object_get(record, "status"));
  const json_t *ledger = json_object_get(record, "ledger");
  size_t id_len = id != NULL ? strlen(id) : 0;
  if (!json_is_object(record) || id_len == 0 || id_len > QP_SETTLE_ID_MAX) {
    snprintf(detail, detail_size, "settlement must be a string of 1..%u bytes",
             QP_SETTLE_ID_MAX);
    return QP_EINVAL;
  }
  if (kind == NULL || (strcmp(kind, "finance") != 0 && strcmp(kind, "maturity") != 0)) {
    snprintf(detail, detail_size, "kind must be \"finance\" or \"maturity\"");
    return QP_EINVAL;
  }
  if (!json_is_integer(ledger) || json_integer_value(ledger) < 1 ||
      json_integer_value(ledger) > UINT32_MAX) {
    snprintf(detail, detail_size, "ledger must be an integer 1..4294967295");
    return QP_EINVAL;
  }
  if (status == NULL || strlen(status) >= sizeof out->status) {
    snprintf(detail, detail_size, "status must be \"pending\", \"confirmed\" or \"short\"");
    return QP_EINVAL;
  }
  memcpy(out->settlement, id, id_len + 1);
  out->maturity = strcmp(kind, "maturity") == 0;
  out->ledger = (uint32_t)json_integer_value(ledger);
  snprintf(out->status, sizeof out->status, "%s", status);
  return 0;
}

int qp_settle_plan_make(const json_t *record, const json_t *map,
                        const uint8_t genesis[QP_SETTLE_GENESIS_SIZE], qp_settle_plan_t *out,
                        char *detail, size_t detail_size) {
  memset(out, 0, sizeof *out);
  int rc = header_make(record, out, detail, detail_size);
  const json_t *payments = json_object_get(record, "payments");
  size_t count = json_array_size(payments);
  if (rc == 0 && (count == 0 || count > QP_SETTLE_PAYMENTS_MAX)) {
    snprintf(detail, detail_size, "payments must be an array of 1..%u payments",
             QP_SETTLE_PAYMENTS_MAX);
    rc = QP_EINVAL;
  }
  if (rc == 0 && (out->payments = qp_calloc(count, sizeof *out->payments)) == NULL)
    rc = QP_ENOMEM;
  for (uint32_t i = 0; rc == 0 && i < count; i++) {
    qp_settle_payment_t *p = &out->payments[i];
    rc = payment_make(json_array_get(payments, i), i, map, out->ledger, p, detail, detail_size);
    p->transfer_id = qp_settle_transfer_id(genesis, out->settlement, i);
  }
  if (rc != 0) {
    qp_settle_plan_free(out);
    return rc;
  }
  out->count = (uint32_t)count;
  return 0;
}

void qp_settle_plan_free(qp_settle_plan_t *plan) {
  qp_free(plan->payments);
  memset(plan, 0, sizeof *plan);
}

/* A u128 as a JSON decimal string. */
static json_t *u128_json(qp_u128 v) {
  char text[QP_U128_BUF_SIZE];
  qp_u128_format(v, text);
  return json_string(text);
}

json_t *qp_settle_plan_transfers(const qp_settle_plan_t *plan) {
  json_t *batch = json_array();
  uint32_t code = plan->maturity ? QP_SETTLE_CODE_MATURITY : QP_SETTLE_CODE_FINANCE;
  for (uint32_t i = 0; batch != NULL && i < plan->count; i++) {
    const qp_settle_payment_t *p = &plan->payments[i];
    json_t *t = json_pack("{s:o, s:o, s:o, s:o, s:I, s:I, s:I}", "id",
                          u128_json(p->transfer_id), "debit_account_id",
                          u128_json(p->debit_account), "credit_account_id",
                          u128_json(p->credit_account), "amount", u128_json(p->amount),
                          "ledger", (json_int_t)plan->ledger, "code", (json_int_t)code,
                          "user_data_32", (json_int_t)i);
    if (t != NULL && i + 1 < plan->count)
      json_object_set_new(t, "flags", json_pack("[s]", "linked"));
    if (t == NULL || json_array_append_new(batch, t) != 0) {
      json_decref(batch);
      return NULL;
    }
  }
  return batch;
}

/* The transfer ids in payment order, as decimal strings. */
static json_t *ids_json(const qp_settle_plan_t *plan) {
  json_t *ids = json_array();
  for (uint32_t i = 0; ids != NULL && i < plan->count; i++)
    if (json_array_append_new(ids, u128_json(plan->payments[i].transfer_id)) != 0) {
      json_decref(ids);
      return NULL;
    }
  return ids;
}

json_t *qp_settle_plan_lookup(const qp_settle_plan_t *plan) {
  json_t *ids = ids_json(plan);
  return ids != NULL ? json_pack("{s:o}", "ids", ids) : NULL;
}

json_t *qp_settle_plan_confirm_args(const qp_settle_plan_t *plan) {
  json_t *ids = ids_json(plan);
  return ids != NULL ? json_pack("{s:s, s:o}", "settlement", plan->settlement, "transfers", ids)
                     : NULL;
}

qp_settle_outcome_t qp_settle_plan_results(const qp_settle_plan_t *plan, const json_t *answer,
                                           char *detail, size_t detail_size) {
  const json_t *results = json_object_get(answer, "results");
  if (json_array_size(results) != plan->count) {
    snprintf(detail, detail_size, "the ledger answered %zu results for %u transfers",
             json_array_size(results), plan->count);
    return QP_SETTLE_REFUSED;
  }
  uint32_t ok = 0;
  bool exists = false, short_funds = false;
  const char *other = NULL;
  for (uint32_t i = 0; i < plan->count; i++) {
    const char *r = json_string_value(json_object_get(json_array_get(results, i), "result"));
    if (r == NULL) r = "(none)";
    if (strcmp(r, "ok") == 0) ok++;
    else if (strcmp(r, "exists") == 0) exists = true;
    else if (strcmp(r, "exceeds_credits") == 0) short_funds = true;
    else if (strcmp(r, "linked_event_failed") != 0 && other == NULL) other = r;
  }
  if (ok == plan->count) return QP_SETTLE_PAID;
  if (other != NULL) {
    snprintf(detail, detail_size, "the ledger refused the batch: %.80s", other);
    return QP_SETTLE_REFUSED;
  }
  if (exists) return QP_SETTLE_RETRY; /* paid before: the lookup confirms */
  if (short_funds) return QP_SETTLE_SHORT;
  snprintf(detail, detail_size, "the ledger refused the batch without a reason");
  return QP_SETTLE_REFUSED;
}

/* Whether transfer t (the ledger's JSON) is payment p of the plan. */
static bool same_transfer(const qp_settle_plan_t *plan, const qp_settle_payment_t *p,
                          const json_t *t) {
  qp_u128 debit = 0, credit = 0, amount = 0;
  uint32_t code = plan->maturity ? QP_SETTLE_CODE_MATURITY : QP_SETTLE_CODE_FINANCE;
  return decimal_nonzero(json_object_get(t, "debit_account_id"), &debit) &&
         decimal_nonzero(json_object_get(t, "credit_account_id"), &credit) &&
         decimal_nonzero(json_object_get(t, "amount"), &amount) && debit == p->debit_account &&
         credit == p->credit_account && amount == p->amount &&
         json_integer_value(json_object_get(t, "ledger")) == plan->ledger &&
         json_integer_value(json_object_get(t, "code")) == code;
}

qp_settle_outcome_t qp_settle_plan_found(const qp_settle_plan_t *plan, const json_t *answer,
                                         char *detail, size_t detail_size) {
  const json_t *found = json_object_get(answer, "transfers");
  uint32_t present = 0, same = 0;
  for (uint32_t i = 0; i < plan->count; i++) {
    const qp_settle_payment_t *p = &plan->payments[i];
    size_t k;
    const json_t *t;
    json_array_foreach((json_t *)found, k, t) {
      qp_u128 id = 0;
      if (!decimal_nonzero(json_object_get(t, "id"), &id) || id != p->transfer_id) continue;
      present++;
      same += same_transfer(plan, p, t) ? 1u : 0u;
      break;
    }
  }
  if (present == 0) return QP_SETTLE_RETRY;
  if (same == plan->count) return QP_SETTLE_PAID;
  snprintf(detail, detail_size, "%u of %u transfer ids of %s are on the ledger, %u as planned: "
                                "refusing to pay around them", present, plan->count,
           plan->settlement, same);
  return QP_SETTLE_REFUSED;
}
