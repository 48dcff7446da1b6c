/*
 * http_json.c - the wallet's request and reply helpers: amount members
 * (decimal strings of minor units only), and the replies of the auth
 * module's doors (which answer into a reply of their own that a handler
 * passes on or reads).  Bodies and string members are the HTTP core's
 * (src/http/body.c; an empty body reads as {}).
 */
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/err.h"
#include "wallet/wallet_int.h"

bool qp__wallet_amount(const json_t *obj, const char *name, qp_u128 *out, qp_http_reply_t *r) {
  json_t *v = json_object_get(obj, name);
  const char *t = json_string_value(v);
  bool digits = t != NULL && t[0] != '\0' && strspn(t, "0123456789") == strlen(t);
  if (v == NULL) {
    qp_http_reply_fail(r, 400, "missing_field", name, "an amount is required");
    return false;
  }
  if (!digits || qp_u128_parse(t, strlen(t), out) != 0 || *out == 0 || *out == ~(qp_u128)0) {
    qp_http_reply_fail(r, 400, "invalid_value", name, "an amount is a decimal string of minor "
                       "units from 1 to 2^128-2, e.g. \"1234\" for 12.34");
    return false;
  }
  return true;
}

json_t *qp__wallet_u128_json(qp_u128 v) {
  char buf[QP_U128_BUF_SIZE];
  qp_u128_format(v, buf);
  return json_string(buf);
}

int64_t qp__wallet_now_s(void) { return (int64_t)time(NULL); }

void qp__wallet_reply_move(qp_http_reply_t *r, qp_http_reply_t *from) {
  qp_free(r->body); /* r's headers stay; a door's reply has none */
  r->status = from->status;
  r->body = from->body;
  r->body_len = from->body_len;
  r->content_type = from->content_type;
  r->retry_after_s = from->retry_after_s;
  from->body = NULL;
}

json_t *qp__wallet_reply_body(const qp_http_reply_t *from) {
  if (from->status != 200 || from->body == NULL) return NULL;
  return json_loads(from->body, 0, NULL);
}

void qp__wallet_reply_drop(qp_http_reply_t *from) {
  qp_free(from->body);
  from->body = NULL;
}
