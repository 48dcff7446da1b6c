/*
 * fuzz_payment_code.c - libFuzzer target for the body of POST
 * /v1/orders/{id}/collect and the payment-code parser it uses
 * (src/payments/collect_request.c, paycode.c).  Seeds: good and bad bodies
 * (tests/fuzz/corpus/payment_code).  Properties: no crash or sanitizer
 * report; a refusal is a 400 naming a code; an acceptance is a code that
 * re-made from its parts reads the same (device <= 999999, OTP < 10^10),
 * and the raw input parsed as a code agrees with qp_paycode_parse's rules.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "payments/payments.h"
#include "payments/payments_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint32_t device = 0;
  uint64_t otp = 0;
  qp_http_error_t err = {0};
  int rc = qp__pay_collect_decode((const char *)data, size, &device, &otp, &err);
  if (rc != 0) QP_ASSERT(err.status == 400 && err.code[0] != '\0');
  else QP_ASSERT(device <= QP_PAYCODE_DEVICE_MAX && otp < 10000000000ull);
  /* The bare parser on the raw bytes: accepted only as 28 + 16 digits. */
  if (qp_paycode_parse((const char *)data, size, &device, &otp) == 0) {
    char again[QP_PAYCODE_DIGITS + 1];
    snprintf(again, sizeof again, "28%06u%010llu", (unsigned)device, (unsigned long long)otp);
    QP_ASSERT(size == QP_PAYCODE_DIGITS && memcmp(again, data, size) == 0);
  }
  return 0;
}
