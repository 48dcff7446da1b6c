/*
 * webhook_sign.c - what a webhook receiver checks, and when a failed
 * delivery is tried again.
 *
 * Quipu-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 * (the key is the secret's text, whsec_… as shown once; libsodium's HMAC).
 * Retries: attempt n (1 = the first retry) waits min(cap, base * 2^(n-1)).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "payments/payments_int.h"

int qp__pay_webhook_signature(const char *secret, int64_t t, const char *body, size_t len,
                              char *out, size_t out_size) {
  crypto_auth_hmacsha256_state st;
  uint8_t mac[crypto_auth_hmacsha256_BYTES];
  char ts[24], hex[2 * crypto_auth_hmacsha256_BYTES + 1];
  int n = snprintf(ts, sizeof ts, "%lld.", (long long)t);
  crypto_auth_hmacsha256_init(&st, (const uint8_t *)secret, strlen(secret));
  crypto_auth_hmacsha256_update(&st, (const uint8_t *)ts, (size_t)n);
  crypto_auth_hmacsha256_update(&st, (const uint8_t *)body, len);
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  sodium_memzero(&st, sizeof st);
  int w = snprintf(out, out_size, "t=%lld,v1=%s", (long long)t, hex);
  return w > 0 && (size_t)w < out_size ? 0 : QP_ERANGE;
}

uint64_t qp__pay_webhook_backoff_ms(uint32_t attempt, uint64_t base_ms, uint64_t cap_ms) {
  if (attempt == 0) return 0;
  uint64_t d = base_ms;
  for (uint32_t i = 1; i < attempt && d < cap_ms; i++) d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
  return d < cap_ms ? d : cap_ms;
}
