/*
 * fuzz_refunds_list_query.c - libFuzzer target for the query parameters
 * of GET /v1/refunds (src/payments/routes_refunds_list.c): those of
 * GET /v1/orders (limit, cursor, created_from, created_to, merchant_id)
 * with status (pending, succeeded, failed) and order_id.  The input is
 * split like a query string ('&' between parameters, the first '=' between
 * name and value).  Seeds: tests/fuzz/corpus/refunds_list_query.
 * Properties: no crash or sanitizer report; a refusal is a 400 naming a
 * path; an acceptance keeps the query's invariants.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "payments/payments_int.h"

#define QUERY_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char text[QUERY_MAX + 1];
  if (size > QUERY_MAX) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  qp__pay_refund_query_t x;
  memset(&x, 0, sizeof x);
  qp__pay_list_query_init(&x.q);
  bool ok = true;
  char *save = NULL;
  for (char *part = strtok_r(text, "&", &save); ok && part != NULL;
       part = strtok_r(NULL, "&", &save)) {
    char *eq = strchr(part, '=');
    if (eq != NULL) *eq = '\0';
    ok = qp__pay_refund_list_param(&x, part, eq != NULL ? eq + 1 : NULL);
  }
  ok = ok && qp__pay_list_query_check(&x.q);
  if (!ok) {
    const qp_http_error_t *e = &x.q.list.err;
    QP_ASSERT(e->status == 400 && e->code[0] != '\0' && e->path[0] != '\0');
    return 0;
  }
  QP_ASSERT(x.q.list.limit >= 1 && x.q.list.limit <= QP_HTTP_LIST_LIMIT_MAX);
  QP_ASSERT(x.q.list.to_ns == 0 || x.q.list.to_ns > x.q.list.from_ns);
  QP_ASSERT(x.status == NULL || strcmp(x.status, "pending") == 0 ||
            strcmp(x.status, "succeeded") == 0 || strcmp(x.status, "failed") == 0);
  return 0;
}
