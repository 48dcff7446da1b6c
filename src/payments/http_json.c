/*
 * http_json.c - the payments module's request and reply helpers: ids,
 * times, the prologue and epilogue of an idempotent write, a list's reply,
 * and the commit of a change together with its reply (and, for an
 * idempotent request, its stored response).  Bodies and their members are
 * the HTTP core's (src/http/body.c).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "payments/payments_int.h"

bool qp__pay_id_parse(const char *text, uint8_t id[QP_PAY_ID_SIZE]) {
  size_t len = 0;
  if (text == NULL || strlen(text) != QP_PAY_ID_HEX) return false;
  for (size_t i = 0; i < QP_PAY_ID_HEX; i++)
    if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f'))) return false;
  return sodium_hex2bin(id, QP_PAY_ID_SIZE, text, QP_PAY_ID_HEX, NULL, &len, NULL) == 0 &&
         len == QP_PAY_ID_SIZE;
}

void qp__pay_id_hex(const uint8_t id[QP_PAY_ID_SIZE], char out[QP_PAY_ID_HEX + 1]) {
  sodium_bin2hex(out, QP_PAY_ID_HEX + 1, id, QP_PAY_ID_SIZE);
}

void qp__pay_new_id(uint8_t id[QP_PAY_ID_SIZE]) { randombytes_buf(id, QP_PAY_ID_SIZE); }

json_t *qp__pay_u128_json(qp_u128 v) {
  char buf[QP_U128_BUF_SIZE];
  qp_u128_format(v, buf);
  return json_string(buf);
}

json_t *qp__pay_time_json(int64_t unix_s) {
  char buf[32];
  qp_http_utc_format(unix_s, buf, sizeof buf);
  return json_string(buf);
}

int64_t qp__pay_now_s(void) { return (int64_t)(qp_clock_wall_ns() / 1000000000u); }

void qp__pay_reply_store(qp_http_reply_t *r, int rc) {
  if (rc == QP_ENOSPC)
    qp_http_reply_fail(r, 503, "disk_full", "", "the disk holding the payments store is full");
  else if (rc == QP_EEXISTS)
    qp_http_reply_fail(r, 409, "conflict", "", "the record exists already; retry the request");
  else
    qp_http_reply_fail(r, 500, "internal", "", "the payments store failed");
}

void qp__pay_reply_list(qp_http_reply_t *r, int rc, json_t *data, const uint8_t *next) {
  if (rc != 0) {
    json_decref(data);
    qp__pay_reply_store(r, rc);
    return;
  }
  qp_http_list_reply(r, data, next, QP_PAY_LIST_KEY_SIZE);
}

void qp__pay_idem_write(void *ctx, qp_http_request_t *req, qp_http_reply_t *r, bool write,
                        qp__pay_write_fn fn) {
  qp__pay_t *p = ctx;
  qp__pay_caller_t caller;
  qp__pay_idem_t idem;
  if (!qp__pay_caller(p, req, r, write, &caller) || !qp__pay_idem_begin(p, req, r, &idem)) return;
  fn(p, req, r, &caller, &idem);
  qp__pay_idem_end(p, &idem);
}

int qp__pay_commit(qp__pay_t *p, qp__pay_change_t *c, unsigned status, json_t *json,
                   qp_http_reply_t *r) {
  char *text = json != NULL ? json_dumps(json, JSON_COMPACT) : NULL;
  json_decref(json);
  if (text == NULL) {
    qp_http_reply_fail(r, 500, "internal", "", "out of memory");
    return QP_ENOMEM;
  }
  c->status = status;
  c->response = text;
  bool nothing = c->puts_count == 0 && c->event_type == NULL && (c->idem == NULL ||
                                                                 !c->idem->active);
  int rc = nothing ? 0 : qp__pay_store_write(p, c);
  if (rc == 0) {
    size_t n = strlen(text);
    char *body = qp_malloc(n + 1);
    if (body != NULL) memcpy(body, text, n + 1);
    qp_http_reply_text(r, status, body, NULL); /* NULL body: a 500 */
  }
  else qp__pay_reply_store(r, rc);
  qp_http_json_free(text);
  return rc;
}
