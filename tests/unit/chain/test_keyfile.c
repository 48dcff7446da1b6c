/*
 * test_keyfile.c - signing keys on disk: a written key reads back as the
 * same key (it signs what the original verifies), the file is 0600, an
 * existing file is not overwritten, and every broken file is refused with
 * a reason: readable by others, not JSON, unknown suite, bad hex, a public
 * key that does not belong to the secret, extra fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "chain/keyfile.h"
#include "store/store.h"
#include "test_util.h"

static char dir[256];

static int setup(void **state) {
  (void)state;
  qp_test_tmpdir(dir, sizeof dir);
  return qp_crypto_init();
}

static int teardown(void **state) {
  (void)state;
  qp_test_rmdir(dir);
  return 0;
}

static void test_round_trip(void **state) {
  (void)state;
  char path[320], detail[256];
  snprintf(path, sizeof path, "%s/k.key", dir);
  qp_sign_key_t *key = NULL, *back = NULL;
  assert_int_equal(qp_sign_keygen(QP_SUITE_ED25519, &key), 0);
  assert_int_equal(qp_chain_keyfile_write(path, key, false, detail, sizeof detail), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(qp_chain_keyfile_write(path, key, false, detail, sizeof detail), QP_EEXISTS);
  assert_int_equal(qp_chain_keyfile_read(path, &back, detail, sizeof detail), 0);
  uint8_t pub[QP_SIGN_PUBLIC_MAX], sig[QP_SIGN_SIG_MAX];
  size_t pub_len, sig_len;
  qp_sign_public(key, pub, &pub_len);
  assert_int_equal(qp_sign(back, "m", 1, sig, &sig_len), 0);
  assert_int_equal(qp_verify(QP_SUITE_ED25519, pub, pub_len, "m", 1, sig, sig_len), 0);
  qp_sign_key_free(key);
  qp_sign_key_free(back);
  chmod(path, 0644);
  assert_int_equal(qp_chain_keyfile_read(path, &back, detail, sizeof detail), QP_EIO);
  assert_non_null(strstr(detail, "chmod 600"));
}

/* Writes text as a 0600 key file and expects it refused naming `why`. */
static void expect_refused(const char *text, const char *why) {
  char path[320], detail[256] = "";
  snprintf(path, sizeof path, "%s/bad.key", dir);
  assert_int_equal(qp_file_replace(path, text, strlen(text), 0600, NULL, 0), 0);
  qp_sign_key_t *key = NULL;
  assert_int_equal(qp_chain_keyfile_read(path, &key, detail, sizeof detail), QP_EPARSE);
  assert_null(key);
  if (strstr(detail, why) == NULL) fail_msg("detail \"%s\" lacks \"%s\"", detail, why);
}

static void test_broken_files(void **state) {
  (void)state;
  const char *sk = "\"secret_key\":\"" /* 64 hex digits */
                   "0101010101010101010101010101010101010101010101010101010101010101\"";
  char text[512];
  expect_refused("not json", "not a key file");
  expect_refused("[1]", "not a key file");
  snprintf(text, sizeof text, "{\"suite\":\"rsa\",\"public_key\":\"00\",%s}", sk);
  expect_refused(text, "suite");
  snprintf(text, sizeof text, "{\"suite\":\"ed25519\",\"public_key\":\"zz\",%s}", sk);
  expect_refused(text, "public_key");
  snprintf(text, sizeof text,
           "{\"suite\":\"ed25519\",\"public_key\":\"%064d\",%s}", 0, sk);
  expect_refused(text, "does not belong");
  snprintf(text, sizeof text,
           "{\"suite\":\"ed25519\",\"public_key\":\"%064d\",%s,\"x\":1}", 0, sk);
  expect_refused(text, "exactly");
  expect_refused("{\"suite\":\"ed25519\",\"public_key\":\"00\",\"secret_key\":\"0\"}",
                 "secret_key");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_broken_files),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
