/*
 * test_registry.c - the registry app: the registrar registers participants
 * once each with a known role; a registered funder grants a registered
 * core credit lines; every refusal has its code and changes nothing; the
 * queries answer what was registered, with lines live by the head's time.
 */
#include "apps_test.h"

static char args[1024];

static const char *reg(world_t *w, int key, const char *name, const char *role) {
  snprintf(args, sizeof args, "{\"key\":\"%s\",\"name\":\"%s\",\"role\":\"%s\"}", w->hex[key],
           name, role);
  return args;
}

static void test_register(void **state) {
  (void)state;
  world_t w;
  w_init(&w);
  w_expect(&w, 0, "registry", "register", reg(&w, 1, "Core", "core"), "ok");
  assert_string_equal(w_result(&w, "role"), "core");
  assert_string_equal(w_result(&w, "key"), w.hex[1]);
  assert_string_equal(json_string_value(json_object_get(json_array_get(w.e.events, 0), "type")),
                      "participant_registered");
  w_expect(&w, 0, "registry", "register", reg(&w, 1, "Again", "supplier"), "already_registered");
  w_expect(&w, 2, "registry", "register", reg(&w, 2, "Me", "supplier"), "not_registrar");
  w_expect(&w, 0, "registry", "register", reg(&w, 2, "X", "owner"), "bad_args");
  w_expect(&w, 0, "registry", "register", reg(&w, 2, "", "supplier"), "bad_args");
  w_expect(&w, 0, "registry", "register", "{\"key\":\"abcd\",\"name\":\"n\",\"role\":\"core\"}",
           "bad_args");
  snprintf(args, sizeof args, "{\"key\":\"%s\",\"name\":\"n\",\"role\":\"core\",\"x\":1}",
           w.hex[2]);
  w_expect(&w, 0, "registry", "register", args, "bad_args");
  assert_non_null(strstr(w_result(&w, "message"), "args.x"));
  snprintf(args, sizeof args, "{\"key\":\"%s\",\"role\":\"core\"}", w.hex[2]);
  w_expect(&w, 0, "registry", "register", args, "bad_args");
  assert_non_null(strstr(w_result(&w, "message"), "args.name"));
  w_expect(&w, 0, "registry", "register", reg(&w, 2, "Tab\\there", "core"), "bad_args");
  w_expect(&w, 0, "registry", "nope", "{}", "unknown_method");
  w_expect(&w, 0, "registry", "participant", "{}", "query_only");
  /* A genesis without a registrar: nobody registers. */
  w.g.registrar_len = 0;
  w_expect(&w, 0, "registry", "register", reg(&w, 3, "Nobody", "core"), "not_registrar");
  w_deinit(&w);
}

static const char *grant(world_t *w, int core, const char *amount, long ledger, long expiry) {
  snprintf(args, sizeof args,
           "{\"core\":\"%s\",\"amount\":\"%s\",\"ledger\":%ld,\"expiry\":%ld}", w->hex[core],
           amount, ledger, expiry);
  return args;
}

static void test_grant_credit(void **state) {
  (void)state;
  world_t w;
  w_init(&w);
  w_expect(&w, 0, "registry", "register", reg(&w, 1, "Core", "core"), "ok");
  w_expect(&w, 0, "registry", "register", reg(&w, 2, "Sup", "supplier"), "ok");
  w_expect(&w, 0, "registry", "register", reg(&w, 4, "Bank", "funder"), "ok");
  w_expect(&w, 4, "registry", "grant_credit", grant(&w, 1, "1000", 1, 5000), "ok");
  assert_string_equal(w_result(&w, "line"), "c1");
  assert_string_equal(w_result(&w, "amount"), "1000");
  w_expect(&w, 4, "registry", "grant_credit",
           grant(&w, 1, "340282366920938463463374607431768211455", 2, 5000), "ok");
  assert_string_equal(w_result(&w, "line"), "c2");
  w_expect(&w, 2, "registry", "grant_credit", grant(&w, 1, "1", 1, 5000), "not_funder");
  w_expect(&w, 6, "registry", "grant_credit", grant(&w, 1, "1", 1, 5000), "not_registered");
  w_expect(&w, 4, "registry", "grant_credit", grant(&w, 6, "1", 1, 5000), "not_registered");
  w_expect(&w, 4, "registry", "grant_credit", grant(&w, 2, "1", 1, 5000), "not_core");
  w_expect(&w, 4, "registry", "grant_credit", grant(&w, 1, "0", 1, 5000), "amount_invalid");
  w_expect(&w, 4, "registry", "grant_credit", grant(&w, 1, "-5", 1, 5000), "amount_invalid");
  w_expect(&w, 4, "registry", "grant_credit", grant(&w, 1, "1.5", 1, 5000), "amount_invalid");
  w_expect(&w, 4, "registry", "grant_credit",
           grant(&w, 1, "340282366920938463463374607431768211456", 1, 5000), "amount_invalid");
  w_expect(&w, 4, "registry", "grant_credit", grant(&w, 1, "1", 0, 5000), "bad_args");
  w_expect(&w, 4, "registry", "grant_credit", grant(&w, 1, "1", 4294967296, 5000), "bad_args");
  w_expect(&w, 4, "registry", "grant_credit", grant(&w, 1, "1", 1, -1), "bad_args");
  for (int i = 2; i < 64; i++)
    w_expect(&w, 4, "registry", "grant_credit", grant(&w, 1, "1", 3, 5000), "ok");
  w_expect(&w, 4, "registry", "grant_credit", grant(&w, 1, "1", 3, 5000), "too_many_lines");
  w_deinit(&w);
}

static void test_queries(void **state) {
  (void)state;
  world_t w;
  char code[QP_CHAIN_CODE_MAX + 1];
  w_init(&w);
  w_cast(&w, "500");
  w.time_s = 999999999;
  snprintf(args, sizeof args, "{\"key\":\"%s\"}", w.hex[1]);
  json_t *p = w_query(&w, "registry", "participant", args, code);
  assert_non_null(p);
  assert_string_equal(json_string_value(json_object_get(p, "name")), "Core One");
  json_t *lines = json_object_get(p, "credit_lines");
  assert_int_equal(json_array_size(lines), 1);
  assert_true(json_is_true(json_object_get(json_array_get(lines, 0), "live")));
  json_decref(p);
  w.time_s = 1000000000; /* the line ends: not live any more */
  p = w_query(&w, "registry", "participant", args, code);
  assert_true(json_is_false(json_object_get(json_array_get(json_object_get(p, "credit_lines"),
                                                           0), "live")));
  json_decref(p);
  json_t *all = w_query(&w, "registry", "participants", "{}", code);
  assert_int_equal(json_array_size(json_object_get(all, "participants")), 7);
  json_decref(all);
  json_t *cores = w_query(&w, "registry", "participants", "{\"role\":\"core\"}", code);
  json_t *list = json_object_get(cores, "participants");
  assert_int_equal(json_array_size(list), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "key")),
                      w.hex[7]);
  json_decref(cores);
  assert_null(w_query(&w, "registry", "participants", "{\"role\":\"boss\"}", code));
  assert_string_equal(code, "bad_args");
  snprintf(args, sizeof args, "{\"key\":\"%s\"}", w.hex[6]);
  assert_null(w_query(&w, "registry", "participant", args, code));
  assert_string_equal(code, "not_found");
  assert_null(w_query(&w, "registry", "participant", "{\"key\":7}", code));
  assert_string_equal(code, "bad_args");
  assert_null(w_query(&w, "registry", "who", "{}", code));
  assert_string_equal(code, "unknown_method");
  w_deinit(&w);
}

static void test_registry_full(void **state) {
  (void)state;
  world_t w;
  w_init(&w);
  for (uint32_t i = 0; i <= QP_APPS_ROLE_MEMBERS_MAX; i++) {
    uint8_t secret[QP_SIGN_SECRET_SIZE], pub[QP_SIGN_PUBLIC_MAX];
    memset(secret, 0x5a, sizeof secret);
    secret[0] = (uint8_t)i;
    secret[1] = (uint8_t)(i >> 8);
    qp_sign_key_t *k = NULL;
    assert_int_equal(qp_sign_key_from_secret(QP_SUITE_ED25519, secret, sizeof secret, &k), 0);
    size_t len = 0;
    char hex[2 * QP_SIGN_PUBLIC_MAX + 1];
    qp_sign_public(k, pub, &len);
    qp_chain_hex(hex, pub, len);
    qp_sign_key_free(k);
    snprintf(args, sizeof args, "{\"key\":\"%s\",\"name\":\"s%u\",\"role\":\"supplier\"}",
             hex, i);
    const char *want = i < QP_APPS_ROLE_MEMBERS_MAX ? "ok" : "registry_full";
    if (i + 1 < QP_APPS_ROLE_MEMBERS_MAX) assert_string_equal(w_call(&w, 0, "registry",
                                                                     "register", args), want);
    else w_expect(&w, 0, "registry", "register", args, want);
  }
  /* Another role still has room. */
  w_expect(&w, 0, "registry", "register", reg(&w, 1, "Core", "core"), "ok");
  w_deinit(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_register),
      cmocka_unit_test(test_grant_credit),
      cmocka_unit_test(test_queries),
      cmocka_unit_test(test_registry_full),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
