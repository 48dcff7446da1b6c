/*
 * test_operators.c - the console's operators (src/auth/operator_keys.c,
 * store_operators.c, ceremony.c): well-formed names, which key names are
 * console keys and whose, named ceremonies apart from the wallet's kinds,
 * and the operators' store on a temporary LMDB: enroll (one transaction:
 * a duplicate passkey or a vanished operator leaves nothing), the two
 * realms apart, pages by name, the session counter, delete.
 */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#include "auth/operators.h"
#include "base/err.h"

static void test_names(void **state) {
  (void)state;
  assert_true(qp__auth_operator_name_ok("ops"));
  assert_true(qp__auth_operator_name_ok("a.b_c-9"));
  char longest[QP_AUTH_OPERATOR_NAME_MAX + 2];
  memset(longest, 'a', sizeof longest);
  longest[QP_AUTH_OPERATOR_NAME_MAX] = '\0';
  assert_true(qp__auth_operator_name_ok(longest));
  longest[QP_AUTH_OPERATOR_NAME_MAX] = 'a';
  longest[QP_AUTH_OPERATOR_NAME_MAX + 1] = '\0';
  assert_false(qp__auth_operator_name_ok(longest));
  assert_false(qp__auth_operator_name_ok(""));
  assert_false(qp__auth_operator_name_ok(NULL));
  assert_false(qp__auth_operator_name_ok("Ops"));
  assert_false(qp__auth_operator_name_ok("o p"));
  assert_false(qp__auth_operator_name_ok("ops/1"));
}

static void test_console_key_names(void **state) {
  (void)state;
  char op[QP_AUTH_OPERATOR_NAME_MAX + 1];
  assert_true(qp__auth_console_key_of("console-ops-1", op));
  assert_string_equal(op, "ops");
  assert_true(qp__auth_console_key_of("console-a-1-37", op)); /* operator "a-1" */
  assert_string_equal(op, "a-1");
  assert_false(qp__auth_console_key_of("console-ops", op));
  assert_false(qp__auth_console_key_of("console-ops-", op));
  assert_false(qp__auth_console_key_of("console--1", op));
  assert_false(qp__auth_console_key_of("console-ops-1x", op));
  assert_false(qp__auth_console_key_of("console-Ops-1", op));
  assert_false(qp__auth_console_key_of("admin", op));
  assert_false(qp__auth_console_key_of("xconsole-ops-1", NULL));
}

static void test_named_ceremonies(void **state) {
  (void)state;
  qp__auth_t *a = calloc(1, sizeof *a);
  assert_non_null(a);
  a->settings.challenge_ttl_s = 60;
  pthread_mutex_init(&a->lock, NULL);
  uint8_t id[QP_AUTH_ID_SIZE] = {7};
  qp__auth_ceremony_t c, got;
  assert_int_equal(qp__auth_ceremony_new_named(a, QP__AUTH_OP_LOGIN, id, "ops", &c), 0);
  assert_int_equal(qp__auth_ceremony_take(a, c.id, QP__AUTH_LOGIN, &got), QP_ENOTFOUND);
  assert_int_equal(qp__auth_ceremony_take(a, c.id, QP__AUTH_OP_REGISTER, &got), QP_ENOTFOUND);
  assert_int_equal(qp__auth_ceremony_take(a, c.id, QP__AUTH_OP_LOGIN, &got), 0);
  assert_string_equal(got.name, "ops");
  assert_int_equal(qp__auth_ceremony_take(a, c.id, QP__AUTH_OP_LOGIN, &got), QP_EEXISTS);
  assert_int_equal(qp__auth_ceremony_new(a, QP__AUTH_LOGIN, id, &c), 0);
  assert_int_equal(qp__auth_ceremony_take(a, c.id, QP__AUTH_OP_LOGIN, &got), QP_ENOTFOUND);
  pthread_mutex_destroy(&a->lock);
  free(a);
}

typedef struct {
  qp__auth_t *a;
  char dir[512];
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  f->a = calloc(1, sizeof *f->a);
  qp_test_tmpdir(f->dir, sizeof f->dir);
  char detail[256];
  assert_int_equal(qp__auth_store_open(f->a, f->dir, detail, sizeof detail), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  qp__auth_store_close(f->a);
  qp_test_rmdir(f->dir);
  free(f->a);
  free(f);
  return 0;
}

static json_t *op_record(const char *name, const uint8_t id[QP_AUTH_ID_SIZE]) {
  char hex[QP_AUTH_ID_HEX + 1];
  qp__auth_id_hex(id, hex);
  return json_pack("{s:s, s:s, s:i}", "name", name, "id", hex, "sign_ins", 0);
}

static json_t *cred_record(const uint8_t *cred_id, size_t len, const uint8_t id[16]) {
  char hex[QP_AUTH_ID_HEX + 1];
  qp__auth_id_hex(id, hex);
  return json_pack("{s:o, s:s}", "id", qp__auth_b64url_json(cred_id, len), "user_id", hex);
}

static void test_store(void **state) {
  qp__auth_t *a = ((fixture_t *)*state)->a;
  uint8_t ana[QP_AUTH_ID_SIZE] = {1}, bob[QP_AUTH_ID_SIZE] = {2};
  uint8_t k1[20] = {1}, k2[20] = {2}, k3[20] = {3};
  json_t *op = op_record("ana", ana), *c1 = cred_record(k1, 20, ana);
  json_t *c2 = cred_record(k2, 20, ana), *c3 = cred_record(k3, 20, bob);
  json_t *opb = op_record("bob", bob), *out = NULL;
  assert_int_equal(qp__auth_operator_enroll(a, "ana", op, ana, k1, 20, c1), 0);
  assert_int_equal(qp__auth_operator_enroll(a, "ana", op, ana, k2, 20, c2), QP_EAGAIN);
  assert_int_equal(qp__auth_operator_enroll(a, "ana", NULL, ana, k1, 20, c1), QP_EEXISTS);
  assert_int_equal(qp__auth_operator_enroll(a, "ana", NULL, ana, k2, 20, c2), 0);
  assert_int_equal(qp__auth_operator_enroll(a, "nobody", NULL, bob, k3, 20, c3), QP_EAGAIN);
  assert_int_equal(qp__auth_operator_enroll(a, "bob", opb, bob, k3, 20, c3), 0);
  /* The realms are apart: an operator's passkey is no user's credential. */
  assert_int_equal(qp__auth_cred_get(a, k1, 20, &out), QP_ENOTFOUND);
  assert_int_equal(qp__auth_realm_cred_get(a, QP__AUTH_OPERATORS, k1, 20, &out), 0);
  json_decref(out);
  assert_int_equal(qp__auth_realm_cred_list(a, QP__AUTH_OPERATORS, ana, &out), 0);
  assert_int_equal(json_array_size(out), 2);
  json_decref(out);
  uint64_t n = 0;
  assert_int_equal(qp__auth_operator_next_session(a, "ana", &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(qp__auth_operator_next_session(a, "ana", &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(qp__auth_operator_next_session(a, "nobody", &n), QP_ENOTFOUND);
  bool more = false;
  assert_int_equal(qp__auth_operator_list(a, NULL, 1, &out, &more), 0);
  assert_true(more);
  assert_string_equal(json_string_value(json_object_get(json_array_get(out, 0), "name")), "ana");
  json_decref(out);
  assert_int_equal(qp__auth_operator_list(a, "ana", 5, &out, &more), 0);
  assert_false(more);
  assert_int_equal(json_array_size(out), 1);
  json_decref(out);
  uint32_t removed = 0;
  assert_int_equal(qp__auth_operator_delete(a, "ana", &removed), 0);
  assert_int_equal(removed, 2);
  assert_int_equal(qp__auth_operator_delete(a, "ana", &removed), QP_ENOTFOUND);
  assert_int_equal(qp__auth_realm_cred_get(a, QP__AUTH_OPERATORS, k2, 20, &out), QP_ENOTFOUND);
  assert_int_equal(qp__auth_realm_cred_get(a, QP__AUTH_OPERATORS, k3, 20, &out), 0);
  json_decref(out);
  json_decref(op);
  json_decref(opb);
  json_decref(c1);
  json_decref(c2);
  json_decref(c3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_console_key_names),
      cmocka_unit_test(test_named_ceremonies),
      cmocka_unit_test_setup_teardown(test_store, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
