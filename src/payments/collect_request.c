/*
 * collect_request.c - the body of POST /v1/orders/{id}/collect, decoded
 * strictly: {"payment_code": "<18 digits>"} and nothing else; the code is
 * split into its device number and OTP (payments.h's layout).  Pure: bytes
 * in, the parts or an error naming the member out
 * (tests/fuzz/fuzz_payment_code.c).
 */
#include <string.h>

#include "base/err.h"
#include "payments/payments.h"
#include "payments/payments_int.h"

static int fail(qp_http_error_t *err, const char *code, const char *path, const char *what) {
  qp_http_error_set(err, 400, code, path, "%s", what);
  return QP_EINVAL;
}

int qp__pay_collect_decode(const char *body, size_t len, uint32_t *device, uint64_t *otp,
                           qp_http_error_t *err) {
  static const char *const allowed[] = {"payment_code", NULL};
  json_t *obj = NULL;
  int rc = qp_http_body_decode(body, len, allowed, 0, &obj, err);
  if (rc != 0) return rc;
  const json_t *v = json_object_get(obj, "payment_code");
  if (rc == 0 && v == NULL)
    rc = fail(err, "missing_field", "payment_code", "field \"payment_code\" is required");
  else if (rc == 0 && !json_is_string(v))
    rc = fail(err, "invalid_type", "payment_code", "payment_code must be a string");
  else if (rc == 0 &&
           qp_paycode_parse(json_string_value(v), json_string_length(v), device, otp) != 0)
    rc = fail(err, "invalid_value", "payment_code",
              "payment_code must be 18 digits starting with 28");
  json_decref(obj);
  return rc;
}
