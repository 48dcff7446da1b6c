/*
 * test_assert.c - the authentication ceremony's refusals, one at a time, with
 * assertions made by the software authenticator of auth_test.h: each check
 * of WebAuthn §7.2 refuses with its code, several failures at once report
 * the first failing step, the signCount policy (forward, all-zero, and every
 * way of going back), and EdDSA and RS256 assertions that verify.
 */
#include "auth_test.h"

#include "base/err.h"

static const uint8_t CHALLENGE[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                      17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30};
static const char *const PAY_TYPES[] = {"webauthn.get", "payment.get"};

/* One assertion to tamper with before it is verified. */
typedef struct {
  int64_t alg;
  EVP_PKEY *key;
  uint8_t flags;          /* authenticator data flags */
  uint32_t count;         /* signCount in the authenticator data */
  const char *rp_id;      /* hashed into the authenticator data */
  char client_data[600];  /* clientDataJSON */
  bool corrupt_signature; /* flip a bit after signing */
  qp_auth_assert_expect_t expect;
  qp_auth_origin_policy_t policy;
} case_t;

static void case_init(case_t *c, int64_t alg) {
  memset(c, 0, sizeof *c);
  c->alg = alg;
  c->key = soft_keygen(alg);
  c->flags = QP_AUTH_FLAG_UP | QP_AUTH_FLAG_UV;
  c->count = 8;
  c->rp_id = "example.org";
  soft_client_data(c->client_data, sizeof c->client_data, "webauthn.get", CHALLENGE, 32,
                   "https://example.org", "");
  c->policy = test_policy(false);
  qp_auth_assert_expect_t ex = {"example.org", true, {TEST_GET, 1, CHALLENGE, 32, &c->policy},
                                c->key, alg, 7, false};
  c->expect = ex;
}

/* Signs and verifies; returns the refusal code or NULL when it verified. */
static const char *run(case_t *c, qp_auth_assertion_t *out) {
  bytes_t ad = soft_authdata(c->rp_id, c->flags, c->count, NULL, 0, NULL);
  bytes_t sig = soft_sign(c->key, c->alg, &ad, c->client_data);
  if (c->corrupt_signature) sig.data[sig.len - 3] ^= 0x10;
  qp_auth_fail_t fail = {0};
  qp_auth_assertion_t local;
  int rc = qp_auth_assert_verify(&c->expect, (const uint8_t *)c->client_data,
                                 strlen(c->client_data), ad.data, ad.len, sig.data, sig.len,
                                 out ? out : &local, NULL, &fail);
  free(ad.data);
  free(sig.data);
  if (rc == 0) return NULL;
  assert_int_equal(rc, QP_EINVAL);
  assert_non_null(fail.code);
  assert_true(strlen(fail.message) > 10);
  return fail.code;
}

static void expect(case_t *c, const char *code) {
  const char *got = run(c, NULL);
  if (code == NULL && got != NULL) fail_msg("refused with %s", got);
  if (code != NULL && (got == NULL || strcmp(got, code) != 0))
    fail_msg("expected %s, got %s", code, got ? got : "success");
  EVP_PKEY_free(c->key);
}

static void test_each_algorithm_verifies(void **state) {
  (void)state;
  const int64_t algs[] = {QP_AUTH_COSE_ES256, QP_AUTH_COSE_EDDSA, QP_AUTH_COSE_RS256};
  for (size_t i = 0; i < 3; i++) {
    case_t c;
    case_init(&c, algs[i]);
    qp_auth_assertion_t out;
    assert_null(run(&c, &out));
    assert_int_equal(out.sign_count, 8);
    assert_int_equal(out.flags, QP_AUTH_FLAG_UP | QP_AUTH_FLAG_UV);
    EVP_PKEY_free(c.key);
  }
}

static void test_client_data_refusals(void **state) {
  (void)state;
  case_t c;
  static const struct {
    const char *json, *code;
  } bad[] = {
      {"not json", QP_AUTH_CLIENT_DATA_INVALID},
      {"[1]", QP_AUTH_CLIENT_DATA_INVALID},
      {"{\"type\":\"webauthn.get\",\"type\":\"webauthn.get\"}", QP_AUTH_CLIENT_DATA_INVALID},
      {"{\"challenge\":\"x\"}", QP_AUTH_CLIENT_DATA_INVALID},
      {"{\"type\":7}", QP_AUTH_CLIENT_DATA_INVALID},
      {"{\"type\":\"webauthn.create\"}", QP_AUTH_TYPE_MISMATCH},
      {"{\"type\":\"payment.get\"}", QP_AUTH_TYPE_MISMATCH},
      {"{\"type\":\"webauthn.get\"}", QP_AUTH_CLIENT_DATA_INVALID},
      {"{\"type\":\"webauthn.get\",\"challenge\":\"AQID\"}", QP_AUTH_CHALLENGE_MISMATCH},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    case_init(&c, QP_AUTH_COSE_ES256);
    snprintf(c.client_data, sizeof c.client_data, "%s", bad[i].json);
    expect(&c, bad[i].code);
  }
}

static void test_challenge_must_match_exactly(void **state) {
  (void)state;
  case_t c;
  uint8_t other[32];
  memcpy(other, CHALLENGE, 32);
  other[31] ^= 1;
  case_init(&c, QP_AUTH_COSE_ES256);
  soft_client_data(c.client_data, sizeof c.client_data, "webauthn.get", other, 32,
                   "https://example.org", "");
  expect(&c, QP_AUTH_CHALLENGE_MISMATCH);
  /* The right bytes with padding appended are not the same text. */
  case_init(&c, QP_AUTH_COSE_ES256);
  char b64[64];
  sodium_bin2base64(b64, sizeof b64, CHALLENGE, 32, sodium_base64_VARIANT_URLSAFE);
  snprintf(c.client_data, sizeof c.client_data,
           "{\"type\":\"webauthn.get\",\"challenge\":\"%s\",\"origin\":\"https://example.org\"}",
           b64);
  expect(&c, QP_AUTH_CHALLENGE_MISMATCH);
  /* A truncated challenge (the first 16 bytes). */
  case_init(&c, QP_AUTH_COSE_ES256);
  soft_client_data(c.client_data, sizeof c.client_data, "webauthn.get", CHALLENGE, 16,
                   "https://example.org", "");
  expect(&c, QP_AUTH_CHALLENGE_MISMATCH);
}

static void test_origins(void **state) {
  (void)state;
  static const char *const refused[] = {"http://example.org", "https://example.org/",
                                        "https://example.org:443", "https://evil.example.org",
                                        "https://EXAMPLE.org", "android:apk-key-hash:other"};
  case_t c;
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    case_init(&c, QP_AUTH_COSE_ES256);
    soft_client_data(c.client_data, sizeof c.client_data, "webauthn.get", CHALLENGE, 32,
                     refused[i], "");
    expect(&c, QP_AUTH_ORIGIN_NOT_ALLOWED);
  }
  case_init(&c, QP_AUTH_COSE_ES256);
  soft_client_data(c.client_data, sizeof c.client_data, "webauthn.get", CHALLENGE, 32,
                   TEST_ORIGINS[1], "");
  expect(&c, NULL); /* the listed native app */
  case_init(&c, QP_AUTH_COSE_ES256);
  soft_client_data(c.client_data, sizeof c.client_data, "webauthn.get", CHALLENGE, 32,
                   "https://example.org", ",\"crossOrigin\":false");
  expect(&c, NULL);
}

static void test_cross_origin_policy(void **state) {
  (void)state;
  case_t c;
  case_init(&c, QP_AUTH_COSE_ES256);
  soft_client_data(c.client_data, sizeof c.client_data, "webauthn.get", CHALLENGE, 32,
                   "https://example.org", ",\"crossOrigin\":true");
  expect(&c, QP_AUTH_CROSS_ORIGIN_NOT_ALLOWED);
  case_init(&c, QP_AUTH_COSE_ES256);
  soft_client_data(c.client_data, sizeof c.client_data, "webauthn.get", CHALLENGE, 32,
                   "https://example.org", ",\"crossOrigin\":\"yes\"");
  expect(&c, QP_AUTH_CLIENT_DATA_INVALID);
  case_init(&c, QP_AUTH_COSE_ES256);
  c.policy.cross_origin_allowed = true;
  soft_client_data(c.client_data, sizeof c.client_data, "webauthn.get", CHALLENGE, 32,
                   "https://example.org",
                   ",\"crossOrigin\":true,\"topOrigin\":\"https://shop.example\"");
  expect(&c, QP_AUTH_TOP_ORIGIN_NOT_ALLOWED);
  case_init(&c, QP_AUTH_COSE_ES256);
  c.policy.cross_origin_allowed = true;
  soft_client_data(c.client_data, sizeof c.client_data, "webauthn.get", CHALLENGE, 32,
                   "https://example.org",
                   ",\"crossOrigin\":true,\"topOrigin\":\"https://example.com\"");
  expect(&c, NULL);
}

static void test_authenticator_refusals(void **state) {
  (void)state;
  case_t c;
  case_init(&c, QP_AUTH_COSE_ES256);
  c.rp_id = "example.com";
  expect(&c, QP_AUTH_RP_ID_MISMATCH);
  case_init(&c, QP_AUTH_COSE_ES256);
  c.flags = QP_AUTH_FLAG_UV;
  expect(&c, QP_AUTH_USER_PRESENCE_REQUIRED);
  case_init(&c, QP_AUTH_COSE_ES256);
  c.flags = QP_AUTH_FLAG_UP;
  expect(&c, QP_AUTH_USER_VERIFICATION_REQUIRED);
  case_init(&c, QP_AUTH_COSE_ES256);
  c.flags = QP_AUTH_FLAG_UP;
  c.expect.uv_required = false; /* a login that only asks for presence */
  expect(&c, NULL);
  case_init(&c, QP_AUTH_COSE_ES256);
  c.flags |= QP_AUTH_FLAG_BS;
  expect(&c, QP_AUTH_BACKUP_STATE_INVALID);
  case_init(&c, QP_AUTH_COSE_ES256);
  c.flags |= QP_AUTH_FLAG_BE; /* registered without BE */
  expect(&c, QP_AUTH_BACKUP_STATE_INVALID);
  case_init(&c, QP_AUTH_COSE_ES256);
  c.flags |= QP_AUTH_FLAG_BE | QP_AUTH_FLAG_BS;
  c.expect.backup_eligible = true;
  expect(&c, NULL);
  case_init(&c, QP_AUTH_COSE_ES256);
  c.corrupt_signature = true;
  expect(&c, QP_AUTH_SIGNATURE_INVALID);
  case_init(&c, QP_AUTH_COSE_ES256);
  c.flags |= QP_AUTH_FLAG_ED; /* ED without extensions */
  expect(&c, QP_AUTH_AUTHENTICATOR_DATA_INVALID);
}

/* A signature by another key of the same algorithm does not verify. */
static void test_other_key(void **state) {
  (void)state;
  case_t c;
  case_init(&c, QP_AUTH_COSE_EDDSA);
  EVP_PKEY *other = soft_keygen(QP_AUTH_COSE_EDDSA);
  c.expect.pkey = other;
  expect(&c, QP_AUTH_SIGNATURE_INVALID);
  EVP_PKEY_free(other);
}

static void test_sign_count_policy(void **state) {
  (void)state;
  static const struct {
    uint32_t stored, got;
    bool ok;
  } rule[] = {{7, 8, true},   {0, 1, true},   {0, 0, true},  {7, 7, false},
              {7, 6, false},  {7, 0, false},  {1, 0, false}, {UINT32_MAX - 1, UINT32_MAX, true},
              {UINT32_MAX, 0, false}};
  for (size_t i = 0; i < sizeof rule / sizeof rule[0]; i++) {
    case_t c;
    case_init(&c, QP_AUTH_COSE_ES256);
    c.expect.sign_count = rule[i].stored;
    c.count = rule[i].got;
    expect(&c, rule[i].ok ? NULL : QP_AUTH_SIGN_COUNT_REGRESSED);
  }
}

/* Several failures at once: the code is the first failing step of §7.2. */
static void test_first_failing_step_wins(void **state) {
  (void)state;
  case_t c;
  uint8_t other[32] = {9};
  case_init(&c, QP_AUTH_COSE_ES256);
  soft_client_data(c.client_data, sizeof c.client_data, "webauthn.get", other, 32,
                   "https://evil.example", "");
  c.flags = 0;
  c.count = 1;
  c.corrupt_signature = true;
  expect(&c, QP_AUTH_CHALLENGE_MISMATCH);
  case_init(&c, QP_AUTH_COSE_ES256);
  c.rp_id = "evil.example";
  c.flags = 0;
  c.corrupt_signature = true;
  expect(&c, QP_AUTH_RP_ID_MISMATCH);
  case_init(&c, QP_AUTH_COSE_ES256);
  c.flags = QP_AUTH_FLAG_UP;
  c.count = 1;
  c.corrupt_signature = true;
  expect(&c, QP_AUTH_USER_VERIFICATION_REQUIRED);
  case_init(&c, QP_AUTH_COSE_ES256);
  c.count = 1;
  c.corrupt_signature = true;
  expect(&c, QP_AUTH_SIGNATURE_INVALID);
}

/* payment.get is accepted where the ceremony allows it, and the parsed
 * clientDataJSON is handed back for the payment checks. */
static void test_payment_type_hands_back_client_data(void **state) {
  (void)state;
  case_t c;
  case_init(&c, QP_AUTH_COSE_ES256);
  c.expect.client.types = PAY_TYPES;
  c.expect.client.types_count = 2;
  soft_client_data(c.client_data, sizeof c.client_data, "payment.get", CHALLENGE, 32,
                   "https://example.org", ",\"payment\":{\"rpId\":\"example.org\"}");
  bytes_t ad = soft_authdata(c.rp_id, c.flags, c.count, NULL, 0, NULL);
  bytes_t sig = soft_sign(c.key, c.alg, &ad, c.client_data);
  qp_auth_assertion_t out;
  qp_auth_clientdata_t cd;
  assert_int_equal(qp_auth_assert_verify(&c.expect, (const uint8_t *)c.client_data,
                                         strlen(c.client_data), ad.data, ad.len, sig.data,
                                         sig.len, &out, &cd, NULL), 0);
  assert_string_equal(cd.type, "payment.get");
  assert_non_null(json_object_get(cd.json, "payment"));
  qp_auth_clientdata_deinit(&cd);
  free(ad.data);
  free(sig.data);
  EVP_PKEY_free(c.key);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_each_algorithm_verifies),
      cmocka_unit_test(test_client_data_refusals),
      cmocka_unit_test(test_challenge_must_match_exactly),
      cmocka_unit_test(test_origins),
      cmocka_unit_test(test_cross_origin_policy),
      cmocka_unit_test(test_authenticator_refusals),
      cmocka_unit_test(test_other_key),
      cmocka_unit_test(test_sign_count_policy),
      cmocka_unit_test(test_first_failing_step_wins),
      cmocka_unit_test(test_payment_type_hands_back_client_data),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
