/*
 * payment.c - the canonical payment encoding, the payment challenge, ISO
 * 4217 minor units and SPC's "payment" check (see payment.h).
 */
#include "auth/payment.h"

#include <stdbool.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"

static size_t put_u128(uint8_t *out, qp_u128 v) {
  for (int i = 15; i >= 0; i--, v >>= 8) out[i] = (uint8_t)v;
  return 16;
}

static size_t put_u64(uint8_t *out, uint64_t v, size_t width) {
  for (size_t i = width; i-- > 0; v >>= 8) out[i] = (uint8_t)v;
  return width;
}

static size_t put_text(uint8_t *out, const char *text, size_t len) {
  put_u64(out, len, 2);
  if (len) memcpy(out + 2, text, len);
  return 2 + len;
}

int qp_auth_payment_encode(const qp_auth_payment_t *p, uint8_t out[QP_AUTH_PAYMENT_CANONICAL_MAX],
                           size_t *len) {
  size_t payee_len = p->payee_name ? strlen(p->payee_name) : 0;
  size_t order_len = p->order_id ? strlen(p->order_id) : 0;
  if (payee_len > QP_AUTH_PAYEE_MAX || order_len > QP_AUTH_ORDER_ID_MAX ||
      qp_auth_currency_decimals(p->currency) < 0)
    return QP_EINVAL;
  size_t n = 0;
  memcpy(out, QP_AUTH_PAYMENT_TAG, 16);
  n += 16;
  n += put_u128(out + n, p->amount);
  n += put_u64(out + n, p->ledger, 4);
  memcpy(out + n, p->currency, 3);
  n += 3;
  n += put_text(out + n, p->payee_name, payee_len);
  n += put_u128(out + n, p->debit_account_id);
  n += put_u128(out + n, p->credit_account_id);
  n += put_text(out + n, p->order_id, order_len);
  n += put_u64(out + n, p->expires_at_s, 8);
  *len = n;
  return 0;
}

void qp_auth_payment_challenge(const uint8_t nonce[QP_AUTH_NONCE_SIZE], const uint8_t *canonical,
                               size_t len, uint8_t out[32]) {
  uint8_t buf[QP_AUTH_NONCE_SIZE + QP_AUTH_PAYMENT_CANONICAL_MAX];
  memcpy(buf, nonce, QP_AUTH_NONCE_SIZE);
  memcpy(buf + QP_AUTH_NONCE_SIZE, canonical, len);
  qp_sha256(out, buf, QP_AUTH_NONCE_SIZE + len);
}

int qp_auth_currency_decimals(const char *c) {
  static const char *const zero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW",
                                     "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF",
                                     "XPF"};
  static const char *const three[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"};
  if (c == NULL || strlen(c) != 3) return -1;
  for (int i = 0; i < 3; i++)
    if (c[i] < 'A' || c[i] > 'Z') return -1;
  for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
    if (strcmp(c, zero[i]) == 0) return 0;
  for (size_t i = 0; i < sizeof three / sizeof three[0]; i++)
    if (strcmp(c, three[i]) == 0) return 3;
  if (strcmp(c, "CLF") == 0 || strcmp(c, "UYW") == 0) return 4;
  return 2;
}

int qp_auth_amount_major(qp_u128 amount, const char *currency, char out[QP_AUTH_AMOUNT_TEXT_MAX]) {
  int decimals = qp_auth_currency_decimals(currency);
  if (decimals < 0) return QP_EINVAL;
  char digits[QP_U128_BUF_SIZE];
  size_t n = qp_u128_format(amount, digits);
  char padded[QP_U128_BUF_SIZE + 4];
  size_t pad = n <= (size_t)decimals ? (size_t)decimals + 1 - n : 0;
  memset(padded, '0', pad);
  memcpy(padded + pad, digits, n + 1);
  n += pad;
  size_t whole = n - (size_t)decimals;
  memcpy(out, padded, whole);
  if (decimals > 0) {
    out[whole] = '.';
    memcpy(out + whole + 1, padded + whole, (size_t)decimals);
  }
  out[whole + (decimals > 0 ? 1 + (size_t)decimals : 0)] = '\0';
  return 0;
}

static bool text_is(const json_t *v, const char *want) {
  return json_is_string(v) && strlen(want) == json_string_length(v) &&
         memcmp(json_string_value(v), want, json_string_length(v)) == 0;
}

/* An optional member: equal to want, or absent when want is NULL or "". */
static bool optional_is(const json_t *v, const char *want) {
  if (want == NULL || want[0] == '\0') return v == NULL;
  return text_is(v, want);
}

static int mismatch(qp_auth_fail_t *fail, const char *member) {
  return qp__auth_fail(fail, QP_AUTH_PAYMENT_MISMATCH, "clientDataJSON: payment.%s does not "
                       "match the payment intent", member);
}

int qp_auth_spc_check(const json_t *client_data, const qp_auth_spc_expect_t *ex,
                      qp_auth_fail_t *fail) {
  const json_t *p = json_object_get(client_data, "payment");
  if (!json_is_object(p))
    return qp__auth_fail(fail, QP_AUTH_PAYMENT_MISMATCH, "clientDataJSON: a payment.get "
                         "assertion needs the \"payment\" member");
  if (!text_is(json_object_get(p, "rpId"), ex->rp_id)) return mismatch(fail, "rpId");
  const json_t *top = json_object_get(p, "topOrigin");
  bool top_ok = false;
  for (size_t i = 0; i < ex->top_origins_count && json_is_string(top); i++)
    top_ok = top_ok || text_is(top, ex->top_origins[i]);
  if (!top_ok) return mismatch(fail, "topOrigin");
  if (!optional_is(json_object_get(p, "payeeName"), ex->payee_name))
    return mismatch(fail, "payeeName");
  if (!optional_is(json_object_get(p, "payeeOrigin"), ex->payee_origin))
    return mismatch(fail, "payeeOrigin");
  const json_t *total = json_object_get(p, "total");
  if (!text_is(json_object_get(total, "currency"), ex->currency))
    return mismatch(fail, "total.currency");
  if (!text_is(json_object_get(total, "value"), ex->value)) return mismatch(fail, "total.value");
  const json_t *instrument = json_object_get(p, "instrument");
  if (ex->instrument_name != NULL &&
      !text_is(json_object_get(instrument, "displayName"), ex->instrument_name))
    return mismatch(fail, "instrument.displayName");
  if (ex->instrument_icon != NULL &&
      !text_is(json_object_get(instrument, "icon"), ex->instrument_icon))
    return mismatch(fail, "instrument.icon");
  return 0;
}
