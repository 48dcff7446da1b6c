/*
 * test_list_query.c - the query parameters of GET /v1/orders
 * (src/payments/routes_orders_list.c): defaults, each parameter's accepted
 * values, and each refusal naming its parameter.
 */
#include <string.h>

#include "test_util.h"
#include "payments/payments_int.h"

static bool one(qp__pay_list_query_t *q, const char *key, const char *value) {
  return qp__pay_list_param(q, key, value) && qp__pay_list_query_check(q);
}

static void test_accepted(void **state) {
  (void)state;
  qp__pay_list_query_t q;
  qp__pay_list_query_init(&q);
  assert_int_equal(q.list.limit, QP_HTTP_LIST_LIMIT_DEFAULT);
  assert_true(one(&q, "limit", "1") && q.list.limit == 1);
  assert_true(one(&q, "limit", "500") && q.list.limit == 500);
  assert_true(one(&q, "status", "expired") && strcmp(q.status, "expired") == 0);
  assert_true(one(&q, "status", "partially_refunded") && q.status[0] == 'p');
  assert_true(one(&q, "created_from", "100") && q.list.from_ns == 100000000000ull);
  assert_true(one(&q, "created_to", "101") && q.list.to_ns == 101000000000ull);
  assert_true(one(&q, "merchant_id", "0123456789abcdef0123456789abcdef") && q.has_merchant);
  assert_int_equal(q.merchant[0], 0x01);
  /* 24 bytes 0x00..0x17 as base64url without padding. */
  assert_true(one(&q, "cursor", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX") && q.list.has_cursor);
  for (int i = 0; i < QP_PAY_LIST_KEY_SIZE; i++) assert_int_equal(q.list.cursor[i], i);
}

static void refused(const char *key, const char *value, const char *path) {
  qp__pay_list_query_t q;
  qp__pay_list_query_init(&q);
  if (one(&q, key, value)) fail_msg("accepted %s=%s", key, value ? value : "(none)");
  assert_int_equal(q.list.err.status, 400);
  assert_string_equal(q.list.err.path, path);
}

static void test_refused(void **state) {
  (void)state;
  refused("limit", "0", "limit");
  refused("limit", "501", "limit");
  refused("limit", "-1", "limit");
  refused("limit", "1x", "limit");
  refused("limit", NULL, "limit");
  refused("status", "settled", "status");
  refused("status", NULL, "status");
  refused("created_from", "253402300800", "created_from");
  refused("created_to", "1e3", "created_to");
  refused("merchant_id", "0123", "merchant_id");
  refused("merchant_id", "0123456789ABCDEF0123456789ABCDEF", "merchant_id");
  refused("cursor", "AAEC", "cursor");
  refused("cursor", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX+", "cursor");
  refused("sort", "asc", "sort");
  refused("", "x", "query");
  qp__pay_list_query_t q;
  qp__pay_list_query_init(&q);
  assert_true(qp__pay_list_param(&q, "created_from", "200"));
  assert_true(qp__pay_list_param(&q, "created_to", "200"));
  assert_false(qp__pay_list_query_check(&q));
  assert_string_equal(q.list.err.path, "created_to");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accepted),
      cmocka_unit_test(test_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
