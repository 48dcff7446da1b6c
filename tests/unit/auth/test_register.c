/*
 * test_register.c - the registration ceremony's refusals (WebAuthn §7.1 and
 * the attestation formats of §8), with attestation objects made by the
 * software authenticator: the object's shape (exactly fmt, attStmt,
 * authData; nothing after it), AT required, credential ids of 1023 and 1024
 * bytes, trailing bytes after the credential key, an algorithm not offered,
 * rpIdHash, UP/UV, BS without BE, "none" with a statement, "packed" self
 * attestation with the wrong alg or signature, an unknown format named in
 * the message, and a packed x5c certificate that breaks §8.2.1.
 */
#include "auth_test.h"

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/err.h"

static const uint8_t CHALLENGE[16] = {0xC0, 0xFF, 0xEE, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

typedef struct {
  int64_t alg;
  EVP_PKEY *key;
  uint8_t flags;
  size_t cred_id_len;
  const char *fmt;
  int stmt;               /* 0: per fmt; 1: none with a member; 2: self with wrong alg */
  bool corrupt_signature; /* flip a bit of the packed signature */
  bool trailing_authdata; /* one byte after the COSE key */
  bool trailing_object;   /* one byte after the attestation object */
  bool extra_member;      /* a fourth member in the attestation object */
  char client_data[300];
  qp_auth_register_expect_t expect;
  qp_auth_origin_policy_t policy;
} reg_case_t;

static void reg_init(reg_case_t *c, int64_t alg, const char *fmt) {
  memset(c, 0, sizeof *c);
  c->alg = alg;
  c->key = soft_keygen(alg);
  c->flags = QP_AUTH_FLAG_UP | QP_AUTH_FLAG_UV | QP_AUTH_FLAG_AT;
  c->cred_id_len = 16;
  c->fmt = fmt;
  soft_client_data(c->client_data, sizeof c->client_data, "webauthn.create", CHALLENGE, 16,
                   "https://example.org", "");
  c->policy = test_policy(false);
  qp_auth_register_expect_t ex = {"example.org", TEST_ALGS, 3, true,
                                  {TEST_CREATE, 1, CHALLENGE, 16, &c->policy}};
  c->expect = ex;
}

static cbor_item_t *statement(reg_case_t *c, const bytes_t *ad) {
  if (strcmp(c->fmt, "packed") != 0) {
    cbor_item_t *m = cbor_new_definite_map(1);
    if (c->stmt == 1) map_add(m, cbor_build_string("x"), cbor_int64(1));
    return m;
  }
  bytes_t sig = soft_sign(c->key, c->alg, ad, c->client_data);
  if (c->corrupt_signature) sig.data[sig.len - 3] ^= 1;
  cbor_item_t *m = cbor_new_definite_map(2);
  map_add(m, cbor_build_string("alg"), cbor_int64(c->stmt == 2 ? QP_AUTH_COSE_RS256 : c->alg));
  map_add(m, cbor_build_string("sig"), cbor_build_bytestring(sig.data, sig.len));
  free(sig.data);
  return m;
}

static bytes_t attestation_object(reg_case_t *c) {
  uint8_t cred_id[1100];
  memset(cred_id, 0x5A, sizeof cred_id);
  bytes_t cose = soft_encode(soft_cose_item(c->key, c->alg));
  if (c->trailing_authdata) {
    cose.data = realloc(cose.data, cose.len + 1);
    cose.data[cose.len++] = 0x00;
  }
  bytes_t ad = soft_authdata("example.org", c->flags, 0, cred_id, c->cred_id_len, &cose);
  cbor_item_t *obj = cbor_new_definite_map(c->extra_member ? 4 : 3);
  map_add(obj, cbor_build_string("fmt"), cbor_build_string(c->fmt));
  map_add(obj, cbor_build_string("attStmt"), statement(c, &ad));
  map_add(obj, cbor_build_string("authData"), cbor_build_bytestring(ad.data, ad.len));
  if (c->extra_member) map_add(obj, cbor_build_string("ep"), cbor_build_bool(true));
  bytes_t out = soft_encode(obj);
  if (c->trailing_object) {
    out.data = realloc(out.data, out.len + 1);
    out.data[out.len++] = 0xA0;
  }
  free(ad.data);
  free(cose.data);
  return out;
}

/* Registers; returns the refusal code or NULL, and frees the case's key. */
static const char *reg_run(reg_case_t *c, qp_auth_registration_t *out, char *message) {
  bytes_t ao = attestation_object(c);
  qp_auth_fail_t fail = {0};
  qp_auth_registration_t *reg = out ? out : malloc(sizeof *reg);
  int rc = qp_auth_register_verify(&c->expect, (const uint8_t *)c->client_data,
                                   strlen(c->client_data), ao.data, ao.len, reg, &fail);
  if (out == NULL) free(reg);
  free(ao.data);
  EVP_PKEY_free(c->key);
  if (message) memcpy(message, fail.message, sizeof fail.message);
  if (rc == 0) return NULL;
  assert_int_equal(rc, QP_EINVAL);
  return fail.code;
}

static void reg_expect(reg_case_t *c, const char *code) {
  char message[QP_AUTH_MESSAGE_MAX] = "";
  const char *got = reg_run(c, NULL, message);
  if (code == NULL && got != NULL) fail_msg("refused: %s: %s", got, message);
  if (code != NULL && (got == NULL || strcmp(got, code) != 0))
    fail_msg("expected %s, got %s (%s)", code, got ? got : "success", message);
}

static void test_registrations_that_verify(void **state) {
  (void)state;
  const int64_t algs[] = {QP_AUTH_COSE_ES256, QP_AUTH_COSE_EDDSA, QP_AUTH_COSE_RS256};
  for (size_t i = 0; i < 3; i++) {
    for (int packed = 0; packed < 2; packed++) {
      reg_case_t c;
      reg_init(&c, algs[i], packed ? "packed" : "none");
      qp_auth_registration_t *reg = malloc(sizeof *reg);
      assert_null(reg_run(&c, reg, NULL));
      assert_string_equal(reg->fmt, packed ? "packed" : "none");
      assert_string_equal(reg->attestation_type, packed ? "self" : "none");
      assert_int_equal(reg->alg, algs[i]);
      assert_int_equal(reg->credential_id_len, 16);
      /* What was stored decodes back into a key. */
      qp_auth_cose_key_t key;
      size_t used = 0;
      assert_int_equal(qp_auth_cose_decode(reg->cose_key, reg->cose_key_len, &used, &key, NULL),
                       0);
      qp_auth_cose_key_deinit(&key);
      free(reg);
    }
  }
}

static void test_object_shape(void **state) {
  (void)state;
  reg_case_t c;
  reg_init(&c, QP_AUTH_COSE_ES256, "none");
  c.extra_member = true;
  reg_expect(&c, QP_AUTH_ATTESTATION_OBJECT_INVALID);
  reg_init(&c, QP_AUTH_COSE_ES256, "none");
  c.trailing_object = true;
  reg_expect(&c, QP_AUTH_ATTESTATION_OBJECT_INVALID);
  reg_init(&c, QP_AUTH_COSE_ES256, "none");
  c.trailing_authdata = true;
  reg_expect(&c, QP_AUTH_AUTHENTICATOR_DATA_INVALID);
  reg_init(&c, QP_AUTH_COSE_ES256, "none");
  c.flags &= (uint8_t)~QP_AUTH_FLAG_AT; /* attested data present but AT clear */
  reg_expect(&c, QP_AUTH_AUTHENTICATOR_DATA_INVALID);
  /* Not a map; a map without authData; fmt not text. */
  static const char *const hex[] = {"80", "a263666d74646e6f6e656761747453746d74a0",
                                    "a363666d7401676174745374" "6d74a068617574684461746140"};
  for (size_t i = 0; i < 3; i++) {
    bytes_t b = unhex(hex[i]);
    qp_auth_fail_t fail = {0};
    uint8_t cdh[32] = {0};
    qp_auth_registration_t *reg = malloc(sizeof *reg);
    assert_int_equal(qp_auth_attestation_check(b.data, b.len, cdh, reg, &fail), QP_EINVAL);
    assert_string_equal(fail.code, QP_AUTH_ATTESTATION_OBJECT_INVALID);
    free(reg);
    free(b.data);
  }
}

static void test_credential_id_length(void **state) {
  (void)state;
  reg_case_t c;
  reg_init(&c, QP_AUTH_COSE_ES256, "none");
  c.cred_id_len = 1023;
  reg_expect(&c, NULL);
  reg_init(&c, QP_AUTH_COSE_ES256, "none");
  c.cred_id_len = 1024;
  reg_expect(&c, QP_AUTH_CREDENTIAL_ID_TOO_LONG);
  reg_init(&c, QP_AUTH_COSE_ES256, "none");
  c.cred_id_len = 0;
  reg_expect(&c, QP_AUTH_AUTHENTICATOR_DATA_INVALID);
}

static void test_ceremony_refusals(void **state) {
  (void)state;
  reg_case_t c;
  static const int64_t only_es256[] = {QP_AUTH_COSE_ES256};
  reg_init(&c, QP_AUTH_COSE_EDDSA, "none");
  c.expect.algs = only_es256;
  c.expect.algs_count = 1;
  reg_expect(&c, QP_AUTH_ALGORITHM_NOT_ALLOWED);
  reg_init(&c, QP_AUTH_COSE_ES256, "none");
  c.expect.rp_id = "example.com";
  reg_expect(&c, QP_AUTH_RP_ID_MISMATCH);
  reg_init(&c, QP_AUTH_COSE_ES256, "none");
  c.flags &= (uint8_t)~QP_AUTH_FLAG_UP;
  reg_expect(&c, QP_AUTH_USER_PRESENCE_REQUIRED);
  reg_init(&c, QP_AUTH_COSE_ES256, "none");
  c.flags &= (uint8_t)~QP_AUTH_FLAG_UV;
  reg_expect(&c, QP_AUTH_USER_VERIFICATION_REQUIRED);
  reg_init(&c, QP_AUTH_COSE_ES256, "none");
  c.flags |= QP_AUTH_FLAG_BS;
  reg_expect(&c, QP_AUTH_BACKUP_STATE_INVALID);
  reg_init(&c, QP_AUTH_COSE_ES256, "none");
  soft_client_data(c.client_data, sizeof c.client_data, "webauthn.get", CHALLENGE, 16,
                   "https://example.org", "");
  reg_expect(&c, QP_AUTH_TYPE_MISMATCH);
}

static void test_statement_refusals(void **state) {
  (void)state;
  reg_case_t c;
  reg_init(&c, QP_AUTH_COSE_ES256, "none");
  c.stmt = 1;
  reg_expect(&c, QP_AUTH_ATTESTATION_INVALID);
  reg_init(&c, QP_AUTH_COSE_ES256, "packed");
  c.stmt = 2;
  reg_expect(&c, QP_AUTH_ATTESTATION_INVALID);
  reg_init(&c, QP_AUTH_COSE_EDDSA, "packed");
  c.corrupt_signature = true;
  reg_expect(&c, QP_AUTH_SIGNATURE_INVALID);
  reg_init(&c, QP_AUTH_COSE_ES256, "fido-u2f");
  reg_expect(&c, QP_AUTH_ATTESTATION_INVALID); /* no sig, no x5c */
  char message[QP_AUTH_MESSAGE_MAX];
  reg_init(&c, QP_AUTH_COSE_ES256, "compound");
  assert_string_equal(reg_run(&c, NULL, message), QP_AUTH_FORMAT_UNSUPPORTED);
  assert_non_null(strstr(message, "\"compound\""));
}

/* A self-signed attestation certificate for key: version 3 unless v1, subject
 * C=AA, O, OU=ou, CN, basic constraints CA:ca. */
static bytes_t make_cert(EVP_PKEY *key, const char *ou, bool ca, bool v1) {
  X509 *x = X509_new();
  assert_int_equal(X509_set_version(x, v1 ? 0 : 2), 1);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_NAME *n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"AA", -1, -1, 0);
  X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"quipu", -1, -1, 0);
  X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC, (const unsigned char *)ou, -1, -1, 0);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"t", -1, -1, 0);
  X509_set_issuer_name(x, n);
  X509_set_pubkey(x, key);
  if (!v1) {
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints,
                                            ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    assert_non_null(e);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  }
  assert_true(X509_sign(x, key, EVP_sha256()) > 0);
  bytes_t der = {NULL, 0};
  int len = i2d_X509(x, &der.data);
  assert_true(len > 0);
  der.len = (size_t)len;
  X509_free(x);
  return der;
}

/* Packed x5c: an ES256 attestation key, its certificate, and the credential. */
static const char *packed_x5c(const char *ou, bool ca, bool v1) {
  reg_case_t c;
  reg_init(&c, QP_AUTH_COSE_ES256, "packed");
  EVP_PKEY *att = soft_keygen(QP_AUTH_COSE_ES256);
  uint8_t cred_id[16];
  memset(cred_id, 0x5A, sizeof cred_id);
  bytes_t cose = soft_encode(soft_cose_item(c.key, c.alg));
  bytes_t ad = soft_authdata("example.org", c.flags, 0, cred_id, 16, &cose);
  bytes_t sig = soft_sign(att, QP_AUTH_COSE_ES256, &ad, c.client_data);
  bytes_t cert = make_cert(att, ou, ca, v1);
  cbor_item_t *x5c = cbor_new_definite_array(1);
  assert_true(cbor_array_push(x5c, cbor_move(cbor_build_bytestring(cert.data, cert.len))));
  cbor_item_t *stmt = cbor_new_definite_map(3);
  map_add(stmt, cbor_build_string("alg"), cbor_int64(QP_AUTH_COSE_ES256));
  map_add(stmt, cbor_build_string("sig"), cbor_build_bytestring(sig.data, sig.len));
  map_add(stmt, cbor_build_string("x5c"), x5c);
  cbor_item_t *obj = cbor_new_definite_map(3);
  map_add(obj, cbor_build_string("fmt"), cbor_build_string("packed"));
  map_add(obj, cbor_build_string("attStmt"), stmt);
  map_add(obj, cbor_build_string("authData"), cbor_build_bytestring(ad.data, ad.len));
  bytes_t ao = soft_encode(obj);
  qp_auth_registration_t *reg = malloc(sizeof *reg);
  static qp_auth_fail_t fail;
  memset(&fail, 0, sizeof fail);
  int rc = qp_auth_register_verify(&c.expect, (const uint8_t *)c.client_data,
                                   strlen(c.client_data), ao.data, ao.len, reg, &fail);
  if (rc == 0) assert_string_equal(reg->attestation_type, "basic");
  free(reg);
  free(ao.data);
  free(cert.data);
  free(sig.data);
  free(ad.data);
  free(cose.data);
  EVP_PKEY_free(att);
  EVP_PKEY_free(c.key);
  return rc == 0 ? NULL : fail.code;
}

static void test_packed_certificate_requirements(void **state) {
  (void)state;
  assert_null(packed_x5c("Authenticator Attestation", false, false));
  assert_string_equal(packed_x5c("Sales", false, false), QP_AUTH_ATTESTATION_INVALID);
  assert_string_equal(packed_x5c("Authenticator Attestation", true, false),
                      QP_AUTH_ATTESTATION_INVALID);
  assert_string_equal(packed_x5c("Authenticator Attestation", false, true),
                      QP_AUTH_ATTESTATION_INVALID);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registrations_that_verify),
      cmocka_unit_test(test_object_shape),
      cmocka_unit_test(test_credential_id_length),
      cmocka_unit_test(test_ceremony_refusals),
      cmocka_unit_test(test_statement_refusals),
      cmocka_unit_test(test_packed_certificate_requirements),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
