/*
 * fuzz_wallet_request.c - libFuzzer target for the wallet's request
 * decoders (src/wallet): the first byte chooses one.  0: a JSON body
 * through qp_http_body_decode (an empty body is {}, as the wallet reads
 * it) with the transfer route's members, then the "to" string and the
 * "amount" (a decimal string of minor units); 1: a
 * cookie value through the token check and hash; 2: a query string
 * ("k=v&k2=v2") through the bills query.  Seeds: tests/fuzz/corpus/
 * wallet_request.  Properties: no crash or sanitizer report; a refusal is
 * a 4xx with a code; an accepted amount is 1..2^128-2; an accepted query
 * has a limit of 1..200 and reads newest first (a window with max < min,
 * a cursor before the month, is an empty page in the handler).
 */
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "wallet/wallet_int.h"

static void body(const char *data, size_t size) {
  static const char *const allowed[] = {"to", "amount", "note", NULL};
  qp_http_error_t err = {0};
  json_t *obj = NULL;
  if (qp_http_body_decode(data, size, allowed, QP_HTTP_BODY_EMPTY_OBJECT, &obj, &err) != 0) {
    QP_ASSERT(err.status >= 400 && err.status < 600 && err.code[0] != '\0');
    return;
  }
  qp_http_reply_t r = {0};
  qp_u128 amount = 0;
  const char *to = NULL;
  qp_http_member_string(obj, "to", NULL, QP_WALLET_HANDLE_MAX, false, &to, &r);
  QP_ASSERT(to == NULL || (strlen(to) >= 1 && strlen(to) <= QP_WALLET_HANDLE_MAX));
  qp_free(r.body);
  r.body = NULL;
  if (qp__wallet_amount(obj, "amount", &amount, &r))
    QP_ASSERT(amount != 0 && amount != ~(qp_u128)0);
  else
    QP_ASSERT(r.status == 400);
  qp_free(r.body);
  json_decref(obj);
}

static void cookie(const char *data, size_t size) {
  char text[64];
  if (size >= sizeof text) return;
  memcpy(text, data, size);
  text[size] = '\0';
  if (!qp__wallet_token_ok(text)) return;
  QP_ASSERT(strlen(text) == QP_WALLET_TOKEN_TEXT - 1);
  uint8_t h[QP_WALLET_HASH_SIZE];
  qp__wallet_token_hash(text, h);
}

static void query(const char *data, size_t size) {
  char text[1024];
  if (size >= sizeof text) return;
  memcpy(text, data, size);
  text[size] = '\0';
  qp__wallet_bills_query_t q;
  memset(&q, 0, sizeof q);
  for (char *part = text, *next; part != NULL; part = next) {
    next = strchr(part, '&');
    if (next != NULL) *next++ = '\0';
    char *eq = strchr(part, '=');
    if (eq != NULL) *eq++ = '\0';
    if (!qp__wallet_bills_arg(&q, part, eq)) break;
  }
  qp_account_filter_t f;
  memset(&f, 0, sizeof f);
  qp_http_reply_t r = {0};
  uint32_t limit = 0;
  if (qp__wallet_bills_filter(&q, &f, &limit, &r)) {
    QP_ASSERT(limit >= 1 && limit <= QP_WALLET_BILLS_LIMIT_MAX);
    QP_ASSERT(f.limit == QP_WALLET_SCAN_ROWS && (f.flags & QP_FILTER_REVERSED) != 0);
    /* a cursor before the month gives max < min: the handler answers an empty page */
  } else {
    QP_ASSERT(r.status == 400);
  }
  qp_free(r.body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 8192) return 0;
  const char *rest = (const char *)data + 1;
  if (data[0] % 3 == 0) body(rest, size - 1);
  else if (data[0] % 3 == 1) cookie(rest, size - 1);
  else query(rest, size - 1);
  return 0;
}
