/*
 * args.c - decoding the apps' arguments (apps_int.h): every field is typed
 * and bounded here, and a bad one is refused with the code the docs name
 * (bad_args, or amount_invalid for amounts) and a message that says which
 * field and what is allowed.  Nothing here reads state: the decoders are
 * pure, which is what the fuzz target (tests/fuzz/fuzz_apps_args.c) drives.
 */
#include <stdio.h>
#include <string.h>

#include "apps/apps_int.h"
#include "base/err.h"
#include "chain/chain.h"

#define SAFE_INT_MAX ((uint64_t)1 << 53) /* integers JSON readers keep exact */

int qp__apps_why(qp__apps_why_t *w, const char *code, const char *fmt, ...) {
  snprintf(w->code, sizeof w->code, "%s", code);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(w->message, sizeof w->message, fmt, ap);
  va_end(ap);
  return QP__APPS_REFUSED;
}

int qp__apps_args_only(const json_t *args, const char *const *allowed, size_t count,
                       qp__apps_why_t *w) {
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)args, key, value) {
    size_t i = 0;
    while (i < count && strcmp(allowed[i], key) != 0) i++;
    if (i == count) return qp__apps_why(w, "bad_args", "args.%.64s is not an argument of this "
                                        "method (docs/apps.md)", key);
  }
  return 0;
}

int qp__apps_arg_key(const json_t *args, const char *field, qp_suite_t suite,
                     char hex[QP__APPS_HEX_MAX + 1], qp__apps_why_t *w) {
  const json_t *j = json_object_get(args, field);
  size_t want = suite == QP_SUITE_SM2 ? QP_SM2_PUBLIC_SIZE : QP_ED25519_PUBLIC_SIZE;
  uint8_t key[QP_SIGN_PUBLIC_MAX];
  if (!json_is_string(j) || json_string_length(j) != 2 * want ||
      qp_chain_unhex(json_string_value(j), 2 * want, key, want) != 0)
    return qp__apps_why(w, "bad_args", "args.%s must be a %s public key: %zu hex digits",
                        field, qp_suite_name(suite), 2 * want);
  if (!qp_chain_key_valid(suite, key, want))
    return qp__apps_why(w, "bad_args", "args.%s is not a valid %s public key", field,
                        qp_suite_name(suite));
  qp_chain_hex(hex, key, want);
  return 0;
}

int qp__apps_arg_amount(const json_t *args, const char *field, qp_u128 *out,
                        qp__apps_why_t *w) {
  const json_t *j = json_object_get(args, field);
  qp_u128 v = 0;
  if (!json_is_string(j) ||
      qp_u128_parse(json_string_value(j), json_string_length(j), &v) != 0 || v == 0)
    return qp__apps_why(w, "amount_invalid",
                        "args.%s must be a decimal string of an integer from 1 to 2^128-1 "
                        "(minor units)", field);
  *out = v;
  return 0;
}

int qp__apps_arg_uint(const json_t *args, const char *field, uint64_t min, uint64_t max,
                      uint64_t *out, qp__apps_why_t *w) {
  const json_t *j = json_object_get(args, field);
  json_int_t n = json_is_integer(j) ? json_integer_value(j) : -1;
  if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
    return qp__apps_why(w, "bad_args", "args.%s must be an integer from %llu to %llu", field,
                        (unsigned long long)min, (unsigned long long)max);
  *out = (uint64_t)n;
  return 0;
}

int qp__apps_arg_text(const json_t *args, const char *field, size_t min, size_t max,
                      bool optional, const char **out, qp__apps_why_t *w) {
  const json_t *j = json_object_get(args, field);
  *out = NULL;
  if (j == NULL && optional) return 0;
  size_t n = json_is_string(j) ? json_string_length(j) : 0;
  const char *s = json_is_string(j) ? json_string_value(j) : NULL;
  bool ok = s != NULL && n >= min && n <= max && strlen(s) == n;
  for (size_t i = 0; ok && i < n; i++) ok = (unsigned char)s[i] >= 0x20 && s[i] != 0x7f;
  if (!ok)
    return qp__apps_why(w, "bad_args",
                        "args.%s must be a string of %zu to %zu bytes without control "
                        "characters", field, min, max);
  *out = s;
  return 0;
}

/* Parses decimal digits s[0, len) (1..2^53, no leading zero) into *n. */
static bool id_number(const char *s, size_t len, uint64_t *n) {
  if (len == 0 || len > 16 || s[0] == '0') return false;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (v > SAFE_INT_MAX) return false;
  *n = v;
  return true;
}

int qp__apps_arg_id(const json_t *args, const char *field, const char *prefix,
                    char out[QP__APPS_ID_MAX + 1], uint64_t *n, qp__apps_why_t *w) {
  const json_t *j = json_object_get(args, field);
  const char *s = json_string_value(j);
  size_t len = s != NULL ? json_string_length(j) : 0, plen = strlen(prefix);
  if (s == NULL || len <= plen || len > QP__APPS_ID_MAX || strncmp(s, prefix, plen) != 0 ||
      !id_number(s + plen, len - plen, n))
    return qp__apps_why(w, "bad_args", "args.%s must be an id \"%s<n>\" (n from 1)", field,
                        prefix);
  memcpy(out, s, len + 1);
  return 0;
}

int qp__apps_arg_settlement(const json_t *args, const char *field,
                            char out[QP__APPS_ID_MAX + 1], qp__apps_why_t *w) {
  const json_t *j = json_object_get(args, field);
  const char *s = json_string_value(j);
  size_t len = s != NULL ? json_string_length(j) : 0;
  uint64_t n = 0, k = 0;
  bool ok = s != NULL && len <= QP__APPS_ID_MAX && strlen(s) == len;
  if (ok && strncmp(s, "fin-v", 5) == 0) {
    ok = id_number(s + 5, len - 5, &n);
  } else if (ok && strncmp(s, "mat-v", 5) == 0) {
    const char *dash = memchr(s + 5, '-', len - 5);
    ok = dash != NULL && id_number(s + 5, (size_t)(dash - s - 5), &n) &&
         id_number(dash + 1, len - (size_t)(dash + 1 - s), &k);
  } else {
    ok = false;
  }
  if (!ok)
    return qp__apps_why(w, "bad_args",
                        "args.%s must be a settlement id: \"fin-v<n>\" or \"mat-v<n>-<k>\"",
                        field);
  memcpy(out, s, len + 1);
  return 0;
}

int qp__apps_arg_decimals(const json_t *args, const char *field, size_t count,
                          const json_t **out, qp__apps_why_t *w) {
  const json_t *j = json_object_get(args, field);
  bool ok = json_is_array(j) && json_array_size(j) == count;
  for (size_t i = 0; ok && i < count; i++) {
    const json_t *x = json_array_get(j, i);
    qp_u128 v = 0;
    ok = json_is_string(x) && qp_u128_parse(json_string_value(x), json_string_length(x), &v) == 0 &&
         v > 0;
  }
  if (!ok)
    return qp__apps_why(w, "bad_args",
                        "args.%s must be an array of %zu decimal strings (ledger transfer ids "
                        "from 1 to 2^128-1), one per payment in order", field, count);
  *out = j;
  return 0;
}
