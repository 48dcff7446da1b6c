/*
 * fuzz_payments_list_query.c - libFuzzer target for the query parameters
 * of GET /v1/orders (src/payments/routes_orders_list.c): limit, cursor (an
 * opaque base64url key), status, created_from, created_to, merchant_id.
 * The input is split like a query string ('&' between parameters, the
 * first '=' between name and value).  Seeds: good and bad queries
 * (tests/fuzz/corpus/payments_list_query).  Properties: no crash or
 * sanitizer report; a refusal is a 400 naming a path; an acceptance keeps
 * the invariant of qp__pay_list_query_t.
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
  qp__pay_list_query_t q;
  qp__pay_list_query_init(&q);
  bool ok = true;
  char *save = NULL;
  for (char *part = strtok_r(text, "&", &save); ok && part != NULL;
       part = strtok_r(NULL, "&", &save)) {
    char *eq = strchr(part, '=');
    if (eq != NULL) *eq = '\0';
    ok = qp__pay_list_param(&q, part, eq != NULL ? eq + 1 : NULL);
  }
  ok = ok && qp__pay_list_query_check(&q);
  if (!ok) {
    QP_ASSERT(q.list.err.status == 400 && q.list.err.code[0] != '\0' && q.list.err.path[0] != '\0');
    return 0;
  }
  QP_ASSERT(q.list.limit >= 1 && q.list.limit <= QP_HTTP_LIST_LIMIT_MAX);
  QP_ASSERT(q.list.to_ns == 0 || q.list.to_ns > q.list.from_ns);
  static const char *const statuses[] = {"open", "expired", "canceled", "paid",
                                         "partially_refunded", "refunded"};
  bool known = q.status == NULL;
  for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
    known |= q.status != NULL && strcmp(q.status, statuses[i]) == 0;
  QP_ASSERT(known);
  return 0;
}
