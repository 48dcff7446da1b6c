/*
 * test_webhooks.c - what webhook receivers rely on (src/payments/
 * webhook_sign.c, webhook_request.c, webhook_worker.c): the
 * Quipu-Signature header (checked against Python's hmac module), the
 * backoff schedule, the registration decoder's refusals naming the member,
 * and which endpoint wants which event.
 */
#include <string.h>

#include "test_util.h"
#include "base/err.h"
#include "payments/payments_int.h"

static void test_signature(void **state) {
  (void)state;
  char out[160];
  /* hmac.new(b"whsec_test", b'1700000000.{"a":1}', hashlib.sha256).hexdigest() */
  assert_int_equal(qp__pay_webhook_signature("whsec_test", 1700000000, "{\"a\":1}", 7, out,
                                             sizeof out), 0);
  assert_string_equal(out, "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e"
                           "4cf4ca4d3789");
  assert_int_equal(qp__pay_webhook_signature("whsec_test", 1700000001, "{\"a\":1}", 7, out,
                                             sizeof out), 0);
  assert_null(strstr(out, "38877139021993b8"));
  assert_int_equal(qp__pay_webhook_signature("whsec_test", 1, "{}", 2, out, 20), QP_ERANGE);
}

static void test_backoff(void **state) {
  (void)state;
  assert_true(qp__pay_webhook_backoff_ms(0, 5000, 3600000) == 0);
  assert_true(qp__pay_webhook_backoff_ms(1, 5000, 3600000) == 5000);
  assert_true(qp__pay_webhook_backoff_ms(2, 5000, 3600000) == 10000);
  assert_true(qp__pay_webhook_backoff_ms(3, 5000, 3600000) == 20000);
  assert_true(qp__pay_webhook_backoff_ms(10, 5000, 3600000) == 2560000);
  assert_true(qp__pay_webhook_backoff_ms(11, 5000, 3600000) == 3600000);
  assert_true(qp__pay_webhook_backoff_ms(4000000000u, 5000, 3600000) == 3600000);
  assert_true(qp__pay_webhook_backoff_ms(70, 1u << 30, UINT64_MAX) == UINT64_MAX);
}

static void refused(const char *body, bool loopback, const char *path) {
  qp__pay_webhook_req_t w;
  qp_http_error_t err = {0};
  if (qp__pay_webhook_decode(body, strlen(body), loopback, &w, &err) == 0)
    fail_msg("accepted %s", body);
  assert_int_equal(err.status, 400);
  assert_string_equal(err.path, path);
}

static void test_decode(void **state) {
  (void)state;
  qp__pay_webhook_req_t w;
  qp_http_error_t err = {0};
  const char *ok = "{\"url\":\"https://shop.example/hooks?x=1\",\"events\":[\"order.paid\","
                   "\"refund.succeeded\"]}";
  assert_int_equal(qp__pay_webhook_decode(ok, strlen(ok), false, &w, &err), 0);
  assert_string_equal(w.url, "https://shop.example/hooks?x=1");
  assert_false(w.all);
  assert_true(w.wanted[2] && w.wanted[3] && !w.wanted[0]);
  const char *loop = "{\"url\":\"http://localhost:8080/h\",\"events\":[\"*\"]}";
  assert_int_equal(qp__pay_webhook_decode(loop, strlen(loop), true, &w, &err), 0);
  assert_true(w.all);
  refused(loop, false, "url");
  refused("{\"url\":\"http://10.0.0.1/h\",\"events\":[\"*\"]}", true, "url");
  refused("{\"url\":\"file:///etc/passwd\",\"events\":[\"*\"]}", true, "url");
  refused("{\"url\":\"https://a:b@x.example/\",\"events\":[\"*\"]}", false, "url");
  refused("{\"url\":\"/relative\",\"events\":[\"*\"]}", false, "url");
  refused("{\"url\":\"\",\"events\":[\"*\"]}", false, "url");
  refused("{\"url\":7,\"events\":[\"*\"]}", false, "url");
  refused("{\"events\":[\"*\"]}", false, "url");
  refused("{\"url\":\"https://x.example/\"}", false, "events");
  refused("{\"url\":\"https://x.example/\",\"events\":\"*\"}", false, "events");
  refused("{\"url\":\"https://x.example/\",\"events\":[\"order.paid\",7]}", false, "events[1]");
  refused("{\"url\":\"https://x.example/\",\"events\":[\"a\"]}", false, "events[0]");
  refused("{\"url\":\"https://x.example/\",\"events\":[\"*\",\"*\"]}", false, "events[0]");
  refused("{\"url\":\"https://x.example/\",\"events\":[\"*\"],\"x\":1}", false, "x");
  refused("[1]", false, "");
  refused("{", false, "");
}

static void test_wants(void **state) {
  (void)state;
  json_t *all = json_pack("{s:[s], s:n}", "events", "*", "merchant_id");
  json_t *mine = json_pack("{s:[s], s:s}", "events", "order.paid", "merchant_id", "aa");
  json_t *paid = json_pack("{s:s, s:{s:s}}", "type", "order.paid", "object", "merchant_id", "aa");
  json_t *other = json_pack("{s:s, s:{s:s}}", "type", "order.paid", "object", "merchant_id",
                            "bb");
  json_t *created = json_pack("{s:s, s:{s:s}}", "type", "order.created", "object",
                              "merchant_id", "aa");
  assert_true(qp__pay_webhook_wants(all, paid) && qp__pay_webhook_wants(all, other));
  assert_true(qp__pay_webhook_wants(mine, paid));
  assert_false(qp__pay_webhook_wants(mine, other));   /* another merchant's */
  assert_false(qp__pay_webhook_wants(mine, created)); /* a type it did not ask for */
  json_decref(all);
  json_decref(mine);
  json_decref(paid);
  json_decref(other);
  json_decref(created);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_signature),
      cmocka_unit_test(test_backoff),
      cmocka_unit_test(test_decode),
      cmocka_unit_test(test_wants),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
