/*
 * settings.c - modules.wallet in node.json (docs/wallet.md, "Settings"):
 *
 *   "wallet": {"ledger": 840, "currency": "USD", "account_code": 2,
 *              "session_ttl_s": 43200, "paycode_unlock_s": 300,
 *              "treasury_account_id": "1"}
 *
 * Every key is optional; an unknown key stops the node naming it.
 */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "wallet/wallet_int.h"

#define ALLOWED "ledger, currency, account_code, session_ttl_s, paycode_unlock_s, " \
                "treasury_account_id"

void qp__wallet_settings_default(qp__wallet_settings_t *s) {
  memset(s, 0, sizeof *s);
  s->ledger = 840;
  memcpy(s->currency, "USD", 4);
  s->account_code = 2;
  s->session_ttl_s = 43200;
  s->paycode_unlock_s = 300;
  s->treasury_account_id = 1;
}

static int int_key(json_t *v, const char *key, json_int_t min, json_int_t max, json_int_t *out,
                   char *detail, size_t size) {
  *out = json_is_integer(v) ? json_integer_value(v) : min - 1;
  if (*out >= min && *out <= max) return 0;
  snprintf(detail, size, "modules.wallet.%s must be an integer from %lld to %lld", key,
           (long long)min, (long long)max);
  return QP_EINVAL;
}

static bool upper3(const char *s) {
  return strlen(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' &&
         s[2] >= 'A' && s[2] <= 'Z';
}

static int one(qp__wallet_settings_t *s, const char *key, json_t *v, char *detail, size_t size) {
  json_int_t n = 0;
  int rc = 0;
  if (strcmp(key, "ledger") == 0) {
    if ((rc = int_key(v, key, 1, UINT32_MAX, &n, detail, size)) == 0) s->ledger = (uint32_t)n;
  } else if (strcmp(key, "account_code") == 0) {
    if ((rc = int_key(v, key, 1, UINT16_MAX, &n, detail, size)) == 0)
      s->account_code = (uint16_t)n;
  } else if (strcmp(key, "session_ttl_s") == 0) {
    if ((rc = int_key(v, key, 1, 30 * 86400, &n, detail, size)) == 0)
      s->session_ttl_s = (uint32_t)n;
  } else if (strcmp(key, "paycode_unlock_s") == 0) {
    if ((rc = int_key(v, key, 1, 86400, &n, detail, size)) == 0)
      s->paycode_unlock_s = (uint32_t)n;
  } else if (strcmp(key, "currency") == 0) {
    if (!json_is_string(v) || !upper3(json_string_value(v))) {
      snprintf(detail, size, "modules.wallet.currency must be 3 upper-case letters (ISO 4217)");
      return QP_EINVAL;
    }
    memcpy(s->currency, json_string_value(v), 4);
  } else if (strcmp(key, "treasury_account_id") == 0) {
    const char *t = json_string_value(v);
    if (t == NULL || qp_u128_parse(t, strlen(t), &s->treasury_account_id) != 0 ||
        s->treasury_account_id == 0 || s->treasury_account_id == ~(qp_u128)0) {
      snprintf(detail, size, "modules.wallet.treasury_account_id must be a decimal string "
               "from 1 to 2^128-2");
      return QP_EINVAL;
    }
  } else {
    snprintf(detail, size, "unknown key modules.wallet.%s; allowed: " ALLOWED, key);
    return QP_EINVAL;
  }
  return rc;
}

int qp__wallet_settings_parse(const json_t *obj, qp__wallet_settings_t *s, char *detail,
                              size_t size) {
  qp__wallet_settings_default(s);
  if (obj == NULL) return 0;
  if (!json_is_object(obj)) {
    snprintf(detail, size, "modules.wallet must be an object");
    return QP_EINVAL;
  }
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)obj, key, v) {
    int rc = one(s, key, v, detail, size);
    if (rc != 0) return rc;
  }
  return 0;
}
