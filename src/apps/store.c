/*
 * store.c - records of the apps in their key spaces (apps_int.h): JSON
 * objects written compact with sorted keys (the same bytes on every node),
 * counters as decimal text, amounts as decimal strings; plus the refusal
 * helpers and the exact discount of a finance.
 */
#include <stdio.h>
#include <string.h>

#include "apps/apps_int.h"
#include "base/err.h"
#include "chain/chain.h"

int qp__apps_fail(qp_chain_effects_t *e, const qp__apps_why_t *w) {
  int rc = qp_chain_effects_fail(e, w->code, w->message);
  return rc != 0 ? rc : QP__APPS_REFUSED;
}

int qp__apps_refuse(qp_chain_effects_t *e, const char *code, const char *fmt, ...) {
  qp__apps_why_t w;
  snprintf(w.code, sizeof w.code, "%s", code);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(w.message, sizeof w.message, fmt, ap);
  va_end(ap);
  return qp__apps_fail(e, &w);
}

int qp__apps_query_refuse(const qp__apps_why_t *w, char code[QP_CHAIN_CODE_MAX + 1],
                          char *detail, size_t detail_size, int rc) {
  snprintf(code, QP_CHAIN_CODE_MAX + 1, "%s", w->code);
  snprintf(detail, detail_size, "%s", w->message);
  return rc;
}

json_t *qp__apps_get(const qp_chain_view_t *v, const char *app, const char *key, int *rc) {
  const uint8_t *p = NULL;
  size_t n = 0;
  *rc = app == NULL ? v->get(v->ctx, (const uint8_t *)key, strlen(key), &p, &n)
                    : v->get_app(v->ctx, app, (const uint8_t *)key, strlen(key), &p, &n);
  if (*rc != 0) return NULL;
  json_error_t jerr;
  json_t *o = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &jerr);
  if (json_is_object(o)) return o;
  json_decref(o);
  *rc = o == NULL && json_error_code(&jerr) == json_error_out_of_memory ? QP_ENOMEM
                                                                         : QP_ECORRUPT;
  return NULL;
}

int qp__apps_put(qp_chain_effects_t *e, const char *key, const json_t *o) {
  return qp_chain_effects_put_json(e, (const uint8_t *)key, strlen(key), o);
}

int qp__apps_counter(const qp_chain_view_t *v, const char *key, uint64_t *value) {
  const uint8_t *p = NULL;
  size_t n = 0;
  *value = 0;
  int rc = v->get(v->ctx, (const uint8_t *)key, strlen(key), &p, &n);
  if (rc == QP_ENOTFOUND) return 0;
  if (rc != 0) return rc;
  qp_u128 x = 0;
  if (qp_u128_parse((const char *)p, n, &x) != 0 || x > UINT64_MAX) return QP_ECORRUPT;
  *value = (uint64_t)x;
  return 0;
}

int qp__apps_put_counter(qp_chain_effects_t *e, const char *key, uint64_t value) {
  char text[24];
  int n = snprintf(text, sizeof text, "%llu", (unsigned long long)value);
  return qp_chain_effects_put(e, (const uint8_t *)key, strlen(key), (const uint8_t *)text,
                              (size_t)n);
}

bool qp__apps_u128_of(const json_t *o, const char *field, qp_u128 *out) {
  const json_t *j = json_object_get(o, field);
  return json_is_string(j) &&
         qp_u128_parse(json_string_value(j), json_string_length(j), out) == 0;
}

json_t *qp__apps_u128_json(qp_u128 v) {
  char text[QP_U128_BUF_SIZE];
  qp_u128_format(v, text);
  return json_string(text);
}

const char *qp__apps_str(const json_t *o, const char *field) {
  const char *s = json_string_value(json_object_get(o, field));
  return s != NULL ? s : "";
}

uint64_t qp__apps_uint(const json_t *o, const char *field) {
  json_int_t n = json_integer_value(json_object_get(o, field));
  return n > 0 ? (uint64_t)n : 0;
}

void qp__apps_sender_hex(const qp_chain_tx_t *tx, char hex[QP__APPS_HEX_MAX + 1]) {
  qp_chain_hex(hex, tx->sender, tx->sender_len);
}

qp_u128 qp__apps_discounted(qp_u128 amount, uint32_t bps) {
  /* amount = q * 10000 + r: floor(amount * k / 10000) = q * k + floor(r * k / 10000),
   * with no intermediate past amount itself. */
  qp_u128 k = 10000u - (bps > 10000u ? 10000u : bps);
  qp_u128 q = amount / 10000u, r = amount % 10000u;
  return q * k + r * k / 10000u;
}
