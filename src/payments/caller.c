/*
 * caller.c - what an API key may reach in the payments module.  A key with
 * payments:write (or payments:read, for reads) reaches every merchant; a
 * merchant key (payments:merchant, made by POST /v1/merchants/{id}/keys)
 * reaches only the merchant it was made for: the payments store maps its
 * key id to that merchant (the key file has no field for it).  A
 * payments:merchant key without a mapping (made by hand with `quipu keys
 * create`, or left by a crash between creating the key and storing the
 * mapping) reaches nothing.  The scope a request needs is decided here, so
 * its per-scope rate limit (node.json http.rate_limits) is charged here.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "payments/payments_int.h"

bool qp__pay_caller(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r, bool write,
                    qp__pay_caller_t *out) {
  memset(out, 0, sizeof *out);
  if (qp_http_caller_may(req, QP_PAY_SCOPE_WRITE) ||
      (!write && qp_http_caller_may(req, QP_PAY_SCOPE_READ)))
    return qp_http_rate_limit(req, write ? QP_PAY_SCOPE_WRITE : QP_PAY_SCOPE_READ, r);
  if (!qp_http_caller_may(req, QP_PAY_SCOPE_MERCHANT)) {
    qp_http_reply_fail(r, 403, "forbidden", "", write
                       ? "this API key lacks the scope payments:write (or payments:merchant)"
                       : "this API key lacks the scope payments:read (or payments:merchant)");
    return false;
  }
  const char *key_id = qp_http_caller_key_id(req);
  uint8_t *merchant = NULL;
  size_t len = 0;
  int rc = qp__pay_store_get_raw(p, p->merchant_keys, key_id, strlen(key_id), &merchant, &len);
  if (rc == 0 && len == QP_PAY_ID_SIZE) {
    memcpy(out->merchant_id, merchant, QP_PAY_ID_SIZE);
    out->merchant_only = true;
  }
  qp_free(merchant);
  if (out->merchant_only) return qp_http_rate_limit(req, QP_PAY_SCOPE_MERCHANT, r);
  if (rc != 0 && rc != QP_ENOTFOUND) {
    qp__pay_reply_store(r, rc);
    return false;
  }
  qp_http_reply_fail(r, 403, "merchant_key_unknown", "",
                     "this payments:merchant key belongs to no merchant; make merchant keys "
                     "with POST /v1/merchants/{id}/keys");
  return false;
}

bool qp__pay_caller_sees(const qp__pay_caller_t *c, const uint8_t merchant_id[QP_PAY_ID_SIZE]) {
  return !c->merchant_only || memcmp(c->merchant_id, merchant_id, QP_PAY_ID_SIZE) == 0;
}
