/*
 * fuzz_webhook_request.c - libFuzzer target for the body of POST
 * /v1/webhooks (src/payments/webhook_request.c): JSON, the URL through
 * libcurl's URL parser, the SSRF check of IP-literal hosts
 * (webhook_target.c), the event types.  The first input byte's two low
 * bits choose what is allowed (QP__PAY_ALLOW_LOOPBACK, _PRIVATE).  Seeds:
 * good and bad bodies (tests/fuzz/corpus/webhook_request).  Properties: no crash or sanitizer
 * report; a refusal is a 400 with a code; an acceptance has a URL of 1 to
 * QP_PAY_WEBHOOK_URL_MAX bytes starting https:// (or http:// when allowed)
 * and at least one event type.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "payments/payments_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static qp__pay_webhook_req_t w;
  if (size < 1 || size > 8192) return 0;
  uint32_t allow = data[0] & (QP__PAY_ALLOW_LOOPBACK | QP__PAY_ALLOW_PRIVATE);
  bool loopback = (allow & QP__PAY_ALLOW_LOOPBACK) != 0;
  qp_http_error_t err = {0};
  int rc = qp__pay_webhook_decode((const char *)data + 1, size - 1, allow, &w, &err);
  if (rc != 0) {
    QP_ASSERT(err.status == 400 && err.code[0] != '\0');
    return 0;
  }
  size_t len = strlen(w.url);
  QP_ASSERT(len >= 1 && len <= QP_PAY_WEBHOOK_URL_MAX);
  bool https = strncmp(w.url, "https://", 8) == 0;
  QP_ASSERT(https || (loopback && strncmp(w.url, "http://", 7) == 0));
  bool any = w.all;
  for (uint32_t i = 0; i < QP__PAY_WEBHOOK_EVENTS; i++) any |= w.wanted[i];
  QP_ASSERT(any);
  return 0;
}
