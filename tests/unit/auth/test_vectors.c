/*
 * test_vectors.c - known answers: every registration and authentication of
 * the WebAuthn Level 3 test vectors (section 16; vectors.h, extracted from
 * w3c/webauthn index.bs by scripts/gen_webauthn_vectors.py) goes through
 * the relying party's checks.  Supported formats and algorithms must verify
 * (none, packed self and x5c, fido-u2f; ES256, EdDSA, RS256; crossOrigin,
 * topOrigin, a 1023-byte credential id); the others must be refused with
 * the code that names why (ES384, ES512, Ed448: algorithm_not_allowed;
 * tpm, android-key, apple: attestation_format_unsupported naming the
 * format).  Then each vector's assertion is verified with the key its
 * registration stored, and a flipped signature bit must fail.
 */
#include "auth_test.h"
#include "vectors.h"

#include "base/err.h"

#define VECTORS_COUNT (sizeof WEBAUTHN_VECTORS / sizeof WEBAUTHN_VECTORS[0])

typedef struct {
  const char *name;
  const char *code;    /* expected refusal at registration; NULL: must verify */
  const char *in_text; /* a word the refusal message must contain */
} expectation_t;

static const expectation_t EXPECTED[] = {
    {"none-es256", NULL, NULL},
    {"packed-self-es256", NULL, NULL},
    {"none-es256-crossOrigin", NULL, NULL},
    {"none-es256-topOrigin", NULL, NULL},
    {"none-es256-long-credential-id", NULL, NULL},
    {"packed-es256", NULL, NULL},
    {"packed-es384", QP_AUTH_ALGORITHM_NOT_ALLOWED, "-35"},
    {"packed-es512", QP_AUTH_ALGORITHM_NOT_ALLOWED, "-36"},
    {"packed-rs256", NULL, NULL},
    {"packed-eddsa", NULL, NULL},
    {"packed-ed448", QP_AUTH_ALGORITHM_NOT_ALLOWED, "-53"},
    {"tpm-es256", QP_AUTH_FORMAT_UNSUPPORTED, "\"tpm\""},
    {"android-key-es256", QP_AUTH_FORMAT_UNSUPPORTED, "\"android-key\""},
    {"apple-es256", QP_AUTH_FORMAT_UNSUPPORTED, "\"apple\""},
    {"fido-u2f-es256", NULL, NULL},
};

static const expectation_t *expectation(const char *name) {
  for (size_t i = 0; i < sizeof EXPECTED / sizeof EXPECTED[0]; i++)
    if (strcmp(EXPECTED[i].name, name) == 0) return &EXPECTED[i];
  fail_msg("vector %s has no expectation", name);
  return NULL;
}

static bool embedded(const char *name) { return strstr(name, "Origin") != NULL; }

static int do_register(const webauthn_vector_t *v, qp_auth_registration_t *reg,
                       qp_auth_fail_t *fail) {
  bytes_t ch = unhex(v->reg_challenge), cd = unhex(v->reg_clientDataJSON);
  bytes_t ao = unhex(v->reg_attestationObject);
  qp_auth_origin_policy_t policy = test_policy(embedded(v->name));
  qp_auth_register_expect_t ex = {"example.org", TEST_ALGS, 3, false,
                                  {TEST_CREATE, 1, ch.data, ch.len, &policy}};
  int rc = qp_auth_register_verify(&ex, cd.data, cd.len, ao.data, ao.len, reg, fail);
  free(ch.data);
  free(cd.data);
  free(ao.data);
  return rc;
}

static int do_authenticate(const webauthn_vector_t *v, const qp_auth_registration_t *reg,
                           bool flip, qp_auth_fail_t *fail) {
  bytes_t ch = unhex(v->auth_challenge), cd = unhex(v->auth_clientDataJSON);
  bytes_t ad = unhex(v->auth_authenticatorData), sig = unhex(v->auth_signature);
  if (flip) sig.data[sig.len / 2] ^= 0x01;
  qp_auth_cose_key_t key;
  size_t used = 0;
  assert_int_equal(qp_auth_cose_decode(reg->cose_key, reg->cose_key_len, &used, &key, fail), 0);
  assert_int_equal(used, reg->cose_key_len);
  qp_auth_origin_policy_t policy = test_policy(embedded(v->name));
  qp_auth_assert_expect_t ex = {"example.org", false, {TEST_GET, 1, ch.data, ch.len, &policy},
                                key.pkey, key.alg, reg->sign_count,
                                (reg->flags & QP_AUTH_FLAG_BE) != 0};
  qp_auth_assertion_t out;
  int rc = qp_auth_assert_verify(&ex, cd.data, cd.len, ad.data, ad.len, sig.data, sig.len, &out,
                                 NULL, fail);
  qp_auth_cose_key_deinit(&key);
  free(ch.data);
  free(cd.data);
  free(ad.data);
  free(sig.data);
  return rc;
}

static void check_vector(const webauthn_vector_t *v) {
  const expectation_t *e = expectation(v->name);
  qp_auth_registration_t *reg = malloc(sizeof *reg);
  qp_auth_fail_t fail = {0};
  int rc = do_register(v, reg, &fail);
  if (e->code != NULL) {
    assert_int_equal(rc, QP_EINVAL);
    if (strcmp(fail.code, e->code) != 0) fail_msg("%s: %s: %s", v->name, fail.code, fail.message);
    if (strstr(fail.message, e->in_text) == NULL) fail_msg("%s: %s", v->name, fail.message);
    free(reg);
    return;
  }
  if (rc != 0) fail_msg("%s: registration refused: %s: %s", v->name, fail.code, fail.message);
  bytes_t id = unhex(v->reg_credential_id);
  assert_int_equal(reg->credential_id_len, id.len);
  assert_memory_equal(reg->credential_id, id.data, id.len);
  free(id.data);
  rc = do_authenticate(v, reg, false, &fail);
  if (rc != 0) fail_msg("%s: assertion refused: %s: %s", v->name, fail.code, fail.message);
  assert_int_equal(do_authenticate(v, reg, true, &fail), QP_EINVAL);
  assert_string_equal(fail.code, QP_AUTH_SIGNATURE_INVALID);
  free(reg);
}

static void test_every_vector(void **state) {
  (void)state;
  assert_int_equal(VECTORS_COUNT, sizeof EXPECTED / sizeof EXPECTED[0]);
  for (size_t i = 0; i < VECTORS_COUNT; i++) check_vector(&WEBAUTHN_VECTORS[i]);
}

static const webauthn_vector_t *vector(const char *name) {
  for (size_t i = 0; i < VECTORS_COUNT; i++)
    if (strcmp(WEBAUTHN_VECTORS[i].name, name) == 0) return &WEBAUTHN_VECTORS[i];
  fail_msg("no vector %s", name);
  return NULL;
}

/* What each supported vector registers: format, attestation type, algorithm. */
static void test_registration_results(void **state) {
  (void)state;
  static const struct {
    const char *name, *fmt, *type;
    int64_t alg;
  } want[] = {
      {"none-es256", "none", "none", QP_AUTH_COSE_ES256},
      {"packed-self-es256", "packed", "self", QP_AUTH_COSE_ES256},
      {"packed-es256", "packed", "basic", QP_AUTH_COSE_ES256},
      {"packed-rs256", "packed", "basic", QP_AUTH_COSE_RS256},
      {"packed-eddsa", "packed", "basic", QP_AUTH_COSE_EDDSA},
      {"fido-u2f-es256", "fido-u2f", "basic", QP_AUTH_COSE_ES256},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    qp_auth_registration_t *reg = malloc(sizeof *reg);
    qp_auth_fail_t fail = {0};
    assert_int_equal(do_register(vector(want[i].name), reg, &fail), 0);
    assert_string_equal(reg->fmt, want[i].fmt);
    assert_string_equal(reg->attestation_type, want[i].type);
    assert_int_equal(reg->alg, want[i].alg);
    assert_int_equal(reg->sign_count, 0);
    free(reg);
  }
}

/* The 1023-byte credential id is the longest allowed. */
static void test_long_credential_id(void **state) {
  (void)state;
  qp_auth_registration_t *reg = malloc(sizeof *reg);
  qp_auth_fail_t fail = {0};
  assert_int_equal(do_register(vector("none-es256-long-credential-id"), reg, &fail), 0);
  assert_int_equal(reg->credential_id_len, QP_AUTH_CREDENTIAL_ID_MAX);
  free(reg);
}

/* Without embedding allowed, the crossOrigin and topOrigin vectors are refused. */
static void test_embedding_needs_policy(void **state) {
  (void)state;
  const webauthn_vector_t *v = vector("none-es256-topOrigin");
  bytes_t ch = unhex(v->reg_challenge), cd = unhex(v->reg_clientDataJSON);
  bytes_t ao = unhex(v->reg_attestationObject);
  qp_auth_origin_policy_t policy = test_policy(false);
  qp_auth_register_expect_t ex = {"example.org", TEST_ALGS, 3, false,
                                  {TEST_CREATE, 1, ch.data, ch.len, &policy}};
  qp_auth_registration_t *reg = malloc(sizeof *reg);
  qp_auth_fail_t fail = {0};
  assert_int_equal(qp_auth_register_verify(&ex, cd.data, cd.len, ao.data, ao.len, reg, &fail),
                   QP_EINVAL);
  assert_string_equal(fail.code, QP_AUTH_CROSS_ORIGIN_NOT_ALLOWED);
  policy.cross_origin_allowed = true;
  policy.top_origins_count = 0;
  assert_int_equal(qp_auth_register_verify(&ex, cd.data, cd.len, ao.data, ao.len, reg, &fail),
                   QP_EINVAL);
  assert_string_equal(fail.code, QP_AUTH_TOP_ORIGIN_NOT_ALLOWED);
  free(reg);
  free(ch.data);
  free(cd.data);
  free(ao.data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_vector),
      cmocka_unit_test(test_registration_results),
      cmocka_unit_test(test_long_credential_id),
      cmocka_unit_test(test_embedding_needs_policy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
