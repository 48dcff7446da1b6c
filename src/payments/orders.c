/*
 * orders.c - an order's status as of now and its public form.  The stored
 * status changes only by a request (open -> canceled); "expired" is
 * computed on read from expires_at, so no timer has to run for an order to
 * expire and a restart cannot miss one.
 *
 *   open --(expires_at passes)--> expired
 *   open --(POST .../cancel)----> canceled
 *   (paid, refunded: later slices)
 */
#include <string.h>

#include "base/err.h"
#include "payments/payments_int.h"

const char *qp__pay_order_status(const json_t *order, int64_t now_s) {
  const char *status = json_string_value(json_object_get(order, "status"));
  json_int_t expires = json_integer_value(json_object_get(order, "expires_at_s"));
  if (status != NULL && now_s >= expires &&
      (strcmp(status, "open") == 0 || strcmp(status, "requires_confirmation") == 0))
    return "expired"; /* a collect's intent expires with the order at the latest */
  return status != NULL ? status : "unknown";
}

json_t *qp__pay_order_public(const json_t *order, int64_t now_s) {
  json_t *out = json_deep_copy(order);
  if (out == NULL) return NULL;
  json_object_set_new(out, "status", json_string(qp__pay_order_status(order, now_s)));
  json_object_del(out, "expires_at_s");
  json_object_del(out, "created_ns");
  json_object_set_new(out, "object", json_string("order"));
  return out;
}

bool qp__pay_order_load(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r,
                        const qp__pay_caller_t *caller, uint8_t id[QP_PAY_ID_SIZE],
                        json_t **out) {
  uint8_t merchant[QP_PAY_ID_SIZE];
  int rc = QP_ENOTFOUND;
  *out = NULL;
  if (qp__pay_id_parse(qp_http_param(req, "id"), id))
    rc = qp__pay_store_get_json(p, p->orders, id, QP_PAY_ID_SIZE, out);
  if (rc == 0 && (!qp__pay_id_parse(json_string_value(json_object_get(*out, "merchant_id")),
                                    merchant) ||
                  !qp__pay_caller_sees(caller, merchant)))
    rc = QP_ENOTFOUND; /* another merchant's order is not found, not forbidden */
  if (rc == 0) return true;
  json_decref(*out);
  *out = NULL;
  if (rc == QP_ENOTFOUND)
    qp_http_reply_fail(r, 404, "order_not_found", "id", "no such order");
  else
    qp__pay_reply_store(r, rc);
  return false;
}
