/*
 * test_config.c - node.json (src/node/config.c): the smallest file runs
 * the ledger on the given address with the data in the home; every key is
 * checked, and a wrong one is refused with its full name and what is
 * allowed; the module table and its scopes are what `quipu keys` offers.
 */
#include <stdio.h>
#include <string.h>

#include "test_util.h"
#include "base/err.h"
#include "node/node.h"

static int parse(const char *text, qp_node_config_t *c, char *detail, size_t size) {
  detail[0] = '\0';
  return qp_node_config_parse(text, strlen(text), "/srv/bank", c, detail, size);
}

static void test_smallest(void **state) {
  (void)state;
  qp_node_config_t c;
  char detail[512];
  assert_int_equal(
      parse("{\"listen\": \"127.0.0.1:7171\", \"modules\": {\"ledger\": {}}}", &c, detail,
            sizeof detail),
      0);
  assert_string_equal(c.listen, "127.0.0.1:7171");
  assert_string_equal(c.data_dir, "/srv/bank");
  assert_string_equal(c.home, "/srv/bank");
  assert_int_equal(c.modules_count, 1);
  assert_string_equal(c.modules[0].module->name, "ledger");
  assert_int_equal(c.http.connections_max, QP_HTTP_CONNECTIONS_MAX_DEFAULT);
  qp_node_config_deinit(&c);
}

static void test_every_key(void **state) {
  (void)state;
  qp_node_config_t c;
  char detail[512];
  const char *text =
      "{\"listen\": \"[::1]:0\", \"data\": \"d\", \"log_level\": \"warn\","
      " \"http\": {\"max_body_bytes\": 1024, \"max_inflight_bytes\": 8192, \"max_connections\": 9,"
      " \"timeout_s\": 3, \"body_timeout_s\": 4, \"shutdown_grace_ms\": 5,"
      " \"insecure_no_auth\": true},"
      " \"modules\": {\"ledger\": {\"max_batch_events\": 10, \"queue_max\": 7}}}";
  assert_int_equal(parse(text, &c, detail, sizeof detail), 0);
  assert_string_equal(c.data_dir, "/srv/bank/d");
  assert_int_equal(c.log_level, QP_LOG_WARN);
  assert_int_equal(c.http.body_bytes_max, 1024);
  assert_int_equal(c.http.inflight_bytes_max, 8192);
  assert_int_equal(c.http.connections_max, 9);
  assert_int_equal(c.http.timeout_s, 3);
  assert_int_equal(c.http.body_timeout_s, 4);
  assert_int_equal(c.http.shutdown_grace_ms, 5);
  assert_true(c.http.insecure_no_auth);
  assert_non_null(c.modules[0].settings);
  qp_node_config_deinit(&c);
  assert_int_equal(parse("{\"data\": \"/var/q\", \"modules\": {\"ledger\": {}}}", &c, detail,
                         sizeof detail),
                   0);
  assert_string_equal(c.data_dir, "/var/q");
  qp_node_config_deinit(&c);
}

/* TLS files are paths from the home (or absolute); plaintext off loopback
 * is a boolean. */
static void test_tls_keys(void **state) {
  (void)state;
  qp_node_config_t c;
  char detail[512];
  assert_int_equal(parse("{\"modules\": {\"ledger\": {}}}", &c, detail, sizeof detail), 0);
  assert_null(c.http.tls_cert);
  assert_null(c.http.tls_key);
  assert_false(c.http.insecure_plaintext);
  qp_node_config_deinit(&c);
  const char *text = "{\"modules\": {\"ledger\": {}}, \"http\": {\"tls_cert\": \"tls/cert.pem\","
                     " \"tls_key\": \"/etc/quipu/key.pem\", \"insecure_plaintext\": true}}";
  assert_int_equal(parse(text, &c, detail, sizeof detail), 0);
  assert_string_equal(c.tls_cert, "/srv/bank/tls/cert.pem");
  assert_string_equal(c.tls_key, "/etc/quipu/key.pem");
  assert_ptr_equal(c.http.tls_cert, c.tls_cert);
  assert_ptr_equal(c.http.tls_key, c.tls_key);
  assert_true(c.http.insecure_plaintext);
  qp_node_config_deinit(&c);
}

/* text must be refused, and detail must contain want. */
static void refused(const char *text, const char *want) {
  qp_node_config_t c;
  char detail[512];
  int rc = parse(text, &c, detail, sizeof detail);
  if (rc == 0 || strstr(detail, want) == NULL)
    fprintf(stderr, "text: %s\ndetail: %s\nwanted: %s\n", text, detail, want);
  assert_int_equal(rc, QP_EINVAL);
  assert_non_null(strstr(detail, want));
}

static void test_errors_name_the_key(void **state) {
  (void)state;
  refused("{\"modules\": {\"ledger\": {}}, \"listn\": \"x:1\"}", "unknown key listn");
  refused("{\"modules\": {\"ledger\": {}}, \"http\": {\"max_conections\": 3}}",
          "unknown key http.max_conections");
  refused("{\"modules\": {\"ledger\": {}}, \"http\": {\"max_connections\": 0}}",
          "http.max_connections must be an integer from 1 to 65536");
  refused("{\"modules\": {\"ledger\": {}}, \"http\": {\"timeout_s\": \"3\"}}", "http.timeout_s");
  refused("{\"modules\": {\"ledgr\": {}}}", "unknown module modules.ledgr; known modules: ledger");
  refused("{\"modules\": {\"ledger\": 1}}", "modules.ledger must be an object");
  refused("{\"modules\": {}}", "enables no module");
  refused("{\"listen\": \"127.0.0.1:7070\"}", "modules is missing");
  refused("{\"modules\": {\"ledger\": {}}, \"listen\": 7070}", "listen must be a non-empty string");
  refused("{\"modules\": {\"ledger\": {}}, \"log_level\": \"loud\"}", "log_level must be one of");
  refused("{\"modules\": {\"ledger\": {}}", "not valid JSON at line 1");
  refused("[1]", "the top level must be an object");
  refused("{\"modules\": {\"ledger\": {}}, \"http\": {\"tls_cert\": 1}}",
          "http.tls_cert must be a non-empty path");
  refused("{\"modules\": {\"ledger\": {}}, \"http\": {\"tls_key\": \"\"}}",
          "http.tls_key must be a non-empty path");
  refused("{\"modules\": {\"ledger\": {}}, \"http\": {\"insecure_plaintext\": 1}}",
          "http.insecure_plaintext must be true or false");
  refused("{\"modules\": {\"ledger\": {}}, \"http\": {\"tls_crt\": \"c\"}}",
          "tls_cert, tls_key, insecure_plaintext");
  refused("{\"modules\": {\"ledger\": {}}, \"modules\": {\"ledger\": {}}}", "not valid JSON");
}

/* http.rate_limits: per-scope limits land in the HTTP options; the burst
 * defaults to the rate; a bad scope, field or value is refused naming it. */
static void test_rate_limits(void **state) {
  (void)state;
  qp_node_config_t c;
  char detail[512];
  const char *text = "{\"modules\": {\"ledger\": {}}, \"http\": {\"rate_limits\": {"
                     "\"ledger:write\": {\"rate_per_s\": 50, \"burst\": 80}, "
                     "\"ledger:read\": {\"rate_per_s\": 7}}}}";
  assert_int_equal(parse(text, &c, detail, sizeof detail), 0);
  assert_int_equal(c.http.scope_limits_count, 2);
  assert_string_equal(c.http.scope_limits[0].scope, "ledger:write");
  assert_int_equal(c.http.scope_limits[0].rate_per_s, 50);
  assert_int_equal(c.http.scope_limits[0].burst, 80);
  assert_string_equal(c.http.scope_limits[1].scope, "ledger:read");
  assert_int_equal(c.http.scope_limits[1].burst, 7);
  assert_int_equal(qp_http_scope_limits_check(c.http.scope_limits, 2, detail, sizeof detail), 0);
  qp_node_config_deinit(&c);
  refused("{\"modules\": {\"ledger\": {}}, \"http\": {\"rate_limits\": "
          "{\"ledger:wrte\": {\"rate_per_s\": 1}}}}",
          "http.rate_limits.ledger:wrte: not a scope of this build");
  refused("{\"modules\": {\"ledger\": {}}, \"http\": {\"rate_limits\": "
          "{\"ledger:write\": {\"rate_per_s\": 0}}}}",
          "http.rate_limits.ledger:write.rate_per_s must be an integer from 1 to 1000000");
  refused("{\"modules\": {\"ledger\": {}}, \"http\": {\"rate_limits\": "
          "{\"ledger:write\": {\"rate_per_s\": 5, \"burst\": 1000001}}}}",
          "http.rate_limits.ledger:write.burst");
  refused("{\"modules\": {\"ledger\": {}}, \"http\": {\"rate_limits\": "
          "{\"ledger:write\": {\"rate\": 5}}}}",
          "unknown key http.rate_limits.ledger:write.rate; allowed: rate_per_s, burst");
  refused("{\"modules\": {\"ledger\": {}}, \"http\": {\"rate_limits\": "
          "{\"ledger:write\": {}}}}",
          "http.rate_limits.ledger:write.rate_per_s");
  refused("{\"modules\": {\"ledger\": {}}, \"http\": {\"rate_limits\": "
          "{\"ledger:write\": 5}}}",
          "http.rate_limits.ledger:write must be an object");
  refused("{\"modules\": {\"ledger\": {}}, \"http\": {\"rate_limits\": "
          "{\"ledger:read,ledger:write\": {\"rate_per_s\": 5}}}}",
          "http.rate_limits.ledger:read,ledger:write");
  refused("{\"modules\": {\"ledger\": {}}, \"http\": {\"rate_limits\": []}}",
          "http.rate_limits must be an object");
}

static void test_module_table_and_scopes(void **state) {
  (void)state;
  uint32_t count = 0;
  const qp_module_t *const *mods = qp_node_modules(&count);
  assert_true(count >= 1);
  for (uint32_t i = 0; i < count; i++) {
    assert_ptr_equal(qp_node_module_find(mods[i]->name), mods[i]);
    assert_non_null(mods[i]->open);
    assert_non_null(mods[i]->routes);
    assert_non_null(mods[i]->close);
  }
  assert_null(qp_node_module_find("nope"));
  uint32_t n = 0;
  const qp_http_scope_t *scopes = qp_node_scopes(&n);
  bool read = false, write = false;
  for (uint32_t i = 0; i < n; i++) {
    read = read || strcmp(scopes[i].name, "ledger:read") == 0;
    write = write || strcmp(scopes[i].name, "ledger:write") == 0;
  }
  assert_true(read && write);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_smallest),
      cmocka_unit_test(test_every_key),
      cmocka_unit_test(test_tls_keys),
      cmocka_unit_test(test_errors_name_the_key),
      cmocka_unit_test(test_rate_limits),
      cmocka_unit_test(test_module_table_and_scopes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
