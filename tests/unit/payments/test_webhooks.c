/*
 * test_webhooks.c - what webhook receivers rely on (src/payments/
 * webhook_sign.c, webhook_request.c, webhook_worker.c): the
 * Quipu-Signature header (checked against Python's hmac module), the
 * backoff schedule, the registration decoder's refusals naming the member,
 * and which endpoint wants which event.
 */
#include <arpa/inet.h>
#include <stdio.h>
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

static void refused(const char *body, uint32_t loopback, const char *path) {
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

/* Registration refuses hosts that are non-public IP literals or localhost
 * names unless the settings allow them; public literals and names pass. */
static void test_url_targets(void **state) {
  (void)state;
  static const char *const never[] = {
      "https://10.0.0.1/h", "https://172.16.5.4/h", "https://172.31.255.255/h",
      "https://192.168.1.1/h", "https://169.254.169.254/latest/meta-data", "https://0.0.0.0/h",
      "https://100.64.0.1/h", "https://224.0.0.1/h", "https://255.255.255.255/h",
      "https://[fe80::1]/h", "https://[fd00::1]/h", "https://[::]/h", "https://[ff02::1]/h",
      "https://[::ffff:10.0.0.1]/h", "https://[64:ff9b::a9fe:a9fe]/h",
      "https://[2002:c0a8:101::]/h"};
  static const char *const loop[] = {"https://127.0.0.1/h", "https://127.9.9.9:444/h",
                                     "https://[::1]/h", "https://localhost/h",
                                     "https://LOCALHOST./h", "https://a.localhost/h",
                                     "https://[::ffff:127.0.0.1]/h"};
  char body[300];
  qp__pay_webhook_req_t w;
  qp_http_error_t err = {0};
  for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
    snprintf(body, sizeof body, "{\"url\":\"%s\",\"events\":[\"*\"]}", never[i]);
    refused(body, 0, "url");
    refused(body, QP__PAY_ALLOW_LOOPBACK, "url");
    if (qp__pay_webhook_decode(body, strlen(body), QP__PAY_ALLOW_PRIVATE, &w, &err) != 0)
      fail_msg("private allowed, refused %s: %s", never[i], err.message);
  }
  for (size_t i = 0; i < sizeof loop / sizeof loop[0]; i++) {
    snprintf(body, sizeof body, "{\"url\":\"%s\",\"events\":[\"*\"]}", loop[i]);
    refused(body, 0, "url");
    refused(body, QP__PAY_ALLOW_PRIVATE, "url");
    if (qp__pay_webhook_decode(body, strlen(body), QP__PAY_ALLOW_LOOPBACK, &w, &err) != 0)
      fail_msg("loopback allowed, refused %s: %s", loop[i], err.message);
  }
  const char *pub = "{\"url\":\"https://8.8.8.8/h\",\"events\":[\"*\"]}";
  assert_int_equal(qp__pay_webhook_decode(pub, strlen(pub), 0, &w, &err), 0);
  pub = "{\"url\":\"https://[2001:db8::1]:8443/h\",\"events\":[\"*\"]}";
  assert_int_equal(qp__pay_webhook_decode(pub, strlen(pub), 0, &w, &err), 0);
  refused("{\"url\":\"gopher://x.example/\",\"events\":[\"*\"]}", 3, "url");
  refused("{\"url\":\"http://172.16.0.1/\",\"events\":[\"*\"]}", 3, "url");
  refused("{\"url\":\"https://u@x.example/\",\"events\":[\"*\"]}", 3, "url");
}

/* The classes at their boundaries, and what delivery-time resolution of a
 * name does with them: localhost resolves to loopback and is refused
 * unless allowed, then pinned to what was checked. */
static void test_addr_classes(void **state) {
  (void)state;
  static const struct { const char *a; qp__pay_addr_class_t c; } v4[] = {
      {"9.255.255.255", QP__PAY_ADDR_PUBLIC},  {"10.0.0.0", QP__PAY_ADDR_PRIVATE},
      {"11.0.0.0", QP__PAY_ADDR_PUBLIC},       {"100.63.255.255", QP__PAY_ADDR_PUBLIC},
      {"100.64.0.0", QP__PAY_ADDR_PRIVATE},    {"100.127.255.255", QP__PAY_ADDR_PRIVATE},
      {"100.128.0.0", QP__PAY_ADDR_PUBLIC},    {"127.0.0.1", QP__PAY_ADDR_LOOPBACK},
      {"172.15.255.255", QP__PAY_ADDR_PUBLIC}, {"172.16.0.0", QP__PAY_ADDR_PRIVATE},
      {"172.32.0.0", QP__PAY_ADDR_PUBLIC},     {"198.18.0.1", QP__PAY_ADDR_PRIVATE},
      {"198.20.0.1", QP__PAY_ADDR_PUBLIC},     {"223.255.255.255", QP__PAY_ADDR_PUBLIC},
      {"1.1.1.1", QP__PAY_ADDR_PUBLIC}};
  uint8_t a[16];
  for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; i++) {
    assert_int_equal(inet_pton(AF_INET, v4[i].a, a), 1);
    if (qp__pay_addr_class(AF_INET, a) != v4[i].c) fail_msg("%s misclassified", v4[i].a);
  }
  assert_int_equal(inet_pton(AF_INET6, "2606:4700::1111", a), 1);
  assert_int_equal(qp__pay_addr_class(AF_INET6, a), QP__PAY_ADDR_PUBLIC);
  assert_int_equal(inet_pton(AF_INET6, "::ffff:8.8.8.8", a), 1);
  assert_int_equal(qp__pay_addr_class(AF_INET6, a), QP__PAY_ADDR_PUBLIC);
  char pin[200], why[200];
  assert_int_equal(qp__pay_webhook_resolve("localhost", 443, 0, pin, sizeof pin, why,
                                           sizeof why), QP_EINVAL);
  assert_non_null(strstr(why, "loopback"));
  assert_int_equal(qp__pay_webhook_resolve("localhost", 8443, QP__PAY_ALLOW_LOOPBACK, pin,
                                           sizeof pin, why, sizeof why), 0);
  assert_int_equal(strncmp(pin, "localhost:8443:", 15), 0);
  assert_true(strstr(pin, "127.0.0.1") != NULL || strstr(pin, "[::1]") != NULL);
  assert_int_equal(qp__pay_webhook_resolve("no-such-host.invalid", 443, 3, pin, sizeof pin, why,
                                           sizeof why), QP_ENOTFOUND);
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
      cmocka_unit_test(test_url_targets),
      cmocka_unit_test(test_addr_classes),
      cmocka_unit_test(test_wants),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
