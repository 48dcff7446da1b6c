/*
 * test_keys.c - API keys and scopes (src/http/keys.c, scopes.c): scopes
 * are strings the modules own; "admin" grants everything; unknown scopes
 * are refused with the list of known ones; the key store creates, matches
 * in constant time, revokes, and keeps scopes of modules it does not know.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "test_util.h"
#include "base/alloc.h"
#include "base/err.h"
#include "http/http.h"

static const qp_http_scope_t KNOWN[] = {
    {"ledger:read", "read"},
    {"ledger:write", "write"},
    {"chain:submit", "submit"},
};

static void test_grant(void **state) {
  (void)state;
  assert_true(qp_http_scopes_grant("ledger:read,ledger:write", "ledger:write"));
  assert_true(qp_http_scopes_grant("ledger:read", "ledger:read"));
  assert_false(qp_http_scopes_grant("ledger:read", "ledger:write"));
  assert_false(qp_http_scopes_grant("ledger:reader", "ledger:read")); /* whole names only */
  assert_false(qp_http_scopes_grant("ledger:rea", "ledger:read"));
  assert_true(qp_http_scopes_grant("chain:submit,admin", "payments:merchant"));
  assert_true(qp_http_scopes_grant("ledger:read", NULL)); /* any valid key */
  assert_false(qp_http_scopes_grant(NULL, "ledger:read"));
}

static void test_check_names_unknown_and_lists_known(void **state) {
  (void)state;
  char detail[512];
  assert_int_equal(
      qp_http_scopes_check("ledger:read,chain:submit", KNOWN, 3, detail, sizeof detail), 0);
  assert_int_equal(qp_http_scopes_check("admin", KNOWN, 3, detail, sizeof detail), 0);
  assert_int_equal(
      qp_http_scopes_check("ledger:read,ledger:delete", KNOWN, 3, detail, sizeof detail),
      QP_EINVAL);
  assert_non_null(strstr(detail, "'ledger:delete'"));
  assert_non_null(strstr(detail, "admin, ledger:read, ledger:write, chain:submit"));
  assert_int_equal(qp_http_scopes_check("", KNOWN, 3, detail, sizeof detail), QP_EINVAL);
  assert_int_equal(qp_http_scopes_check("ledger:read,", KNOWN, 3, detail, sizeof detail),
                   QP_EINVAL);
  assert_int_equal(qp_http_scopes_check(",ledger:read", KNOWN, 3, detail, sizeof detail),
                   QP_EINVAL);
}

static void test_keys_store(void **state) {
  (void)state;
  char dir[256], detail[256];
  qp_test_tmpdir(dir, sizeof dir);
  char key[QP_HTTP_KEY_TEXT_SIZE], key2[QP_HTTP_KEY_TEXT_SIZE];
  qp_http_key_t created;
  assert_int_equal(
      qp_http_keys_create(dir, "ops", "ledger:read", key, &created, detail, sizeof detail), 0);
  assert_string_equal(created.scopes, "ledger:read");
  assert_int_equal(
      qp_http_keys_create(dir, "ops", "ledger:read", key2, NULL, detail, sizeof detail),
      QP_EEXISTS);
  assert_int_equal(
      qp_http_keys_create(dir, "bad name", "ledger:read", key2, NULL, detail, sizeof detail),
      QP_EINVAL);
  assert_int_equal(qp_http_keys_create(dir, "x", "Bad Scope", key2, NULL, detail, sizeof detail),
                   QP_EINVAL);
  /* A scope of a module this build may not have is stored as is. */
  assert_int_equal(qp_http_keys_create(dir, "w", "ledger:write,risk:admin", key2, NULL, detail,
                                       sizeof detail),
                   0);
  qp_http_key_t *keys = NULL;
  uint32_t n = 0;
  assert_int_equal(qp_http_keys_load(dir, &keys, &n, detail, sizeof detail), 0);
  assert_int_equal(n, 2);
  assert_string_equal(keys[1].scopes, "ledger:write,risk:admin");
  assert_int_equal(qp_http_keys_match(keys, n, key, strlen(key)), 0);
  assert_int_equal(qp_http_keys_match(keys, n, key2, strlen(key2)), 1);
  key[strlen(key) - 1] ^= 1; /* one wrong character */
  assert_int_equal(qp_http_keys_match(keys, n, key, strlen(key)), -1);
  key[strlen(key) - 1] ^= 1;
  qp_free(keys);
  uint32_t revoked = 0;
  assert_int_equal(qp_http_keys_revoke(dir, created.id, &revoked, detail, sizeof detail), 0);
  assert_int_equal(revoked, 1);
  assert_int_equal(qp_http_keys_revoke(dir, "ops", &revoked, detail, sizeof detail),
                   QP_ENOTFOUND);
  assert_int_equal(qp_http_keys_load(dir, &keys, &n, detail, sizeof detail), 0);
  assert_true(keys[0].revoked);
  assert_int_equal(qp_http_keys_match(keys, n, key, strlen(key)), -1);
  qp_free(keys);
  /* The name of a revoked key can be used again. */
  assert_int_equal(qp_http_keys_create(dir, "ops", "admin", key, NULL, detail, sizeof detail), 0);
  qp_test_rmdir(dir);
}

static void test_old_key_file_still_loads(void **state) {
  (void)state;
  char dir[256], path[512], detail[256];
  qp_test_tmpdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/keys", dir);
  assert_int_equal(mkdir(path, 0700), 0);
  assert_int_equal(qp_http_keys_path(dir, path, sizeof path), 0);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f, "# written by an earlier version\n0123456789abcdef ops ledger:read,ledger:write "
             "1700000000 0 %064d\n", 0);
  fclose(f);
  assert_int_equal(chmod(path, 0600), 0); /* as every version wrote it */
  qp_http_key_t *keys = NULL;
  uint32_t n = 0;
  assert_int_equal(qp_http_keys_load(dir, &keys, &n, detail, sizeof detail), 0);
  assert_int_equal(n, 1);
  assert_string_equal(keys[0].scopes, "ledger:read,ledger:write");
  qp_free(keys);
  qp_test_rmdir(dir);
}

static mode_t mode_of(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return st.st_mode & 07777;
}

/* A key file others may read is refused, by the server's load and by
 * `quipu keys` (create loads first), with how to fix it; directories the
 * store creates are 0700. */
static void test_key_file_open_to_others_is_refused(void **state) {
  (void)state;
  char dir[256], data[300], path[512], detail[512];
  qp_test_tmpdir(dir, sizeof dir);
  snprintf(data, sizeof data, "%s/fresh/data", dir);
  char key[QP_HTTP_KEY_TEXT_SIZE];
  assert_int_equal(qp_http_keys_create(data, "ops", "admin", key, NULL, detail, sizeof detail), 0);
  assert_int_equal(mode_of(data), 0700);
  snprintf(path, sizeof path, "%s/keys", data);
  assert_int_equal(mode_of(path), 0700);
  assert_int_equal(qp_http_keys_path(data, path, sizeof path), 0);
  assert_int_equal(mode_of(path), 0600);
  assert_int_equal(chmod(path, 0644), 0);
  qp_http_key_t *keys = NULL;
  uint32_t n = 0;
  detail[0] = '\0';
  assert_int_equal(qp_http_keys_load(data, &keys, &n, detail, sizeof detail), QP_EIO);
  assert_null(keys);
  assert_non_null(strstr(detail, "chmod 600"));
  assert_non_null(strstr(detail, path));
  detail[0] = '\0';
  assert_int_equal(qp_http_keys_create(data, "two", "admin", key, NULL, detail, sizeof detail),
                   QP_EIO);
  assert_non_null(strstr(detail, "chmod 600"));
  assert_int_equal(chmod(path, 0620), 0); /* group-writable: refused too */
  assert_int_equal(qp_http_keys_load(data, &keys, &n, detail, sizeof detail), QP_EIO);
  assert_int_equal(chmod(path, 0600), 0);
  assert_int_equal(qp_http_keys_load(data, &keys, &n, detail, sizeof detail), 0);
  assert_int_equal(n, 1);
  qp_free(keys);
  qp_test_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grant),
      cmocka_unit_test(test_check_names_unknown_and_lists_known),
      cmocka_unit_test(test_keys_store),
      cmocka_unit_test(test_old_key_file_still_loads),
      cmocka_unit_test(test_key_file_open_to_others_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
