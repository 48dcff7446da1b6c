/*
 * bench_authn.c - the benches' software authenticator (auth, payments):
 * key pairs from OpenSSL (ES256, P-256) and libsodium (EdDSA, Ed25519),
 * COSE keys and the attestation object ("none") encoded with libcbor,
 * clientDataJSON, assertions signed over authData || SHA-256(clientDataJSON)
 * as a platform authenticator signs them, and the registration and confirm
 * request bodies built around them.  Nothing is canned: every signature is made
 * here, so a verifier that checked nothing would be caught by the bench's
 * own negative checks, and a wrong one would be refused by the node.
 */
#include <cbor.h>
#include <openssl/core_names.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_authn.h"
#include "bench_int.h"
#include "base/alloc.h"
#include "base/err.h"
#include "crypto/crypto.h"

#define FLAG_UP 0x01u
#define FLAG_UV 0x04u
#define FLAG_AT 0x40u
#define P256_POINT_LEN 65u /* 0x04 || x || y */
#define CONFIRM_BODY_MAX 2048u

int qb_authn_init(qb_authn_t *a, int64_t alg) {
  memset(a, 0, sizeof *a);
  a->alg = alg;
  randombytes_buf(a->cred_id, sizeof a->cred_id);
  if (alg == -7) {
    a->p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    return a->p256 != NULL ? 0 : QP_ENOMEM;
  }
  if (alg != -8) return QP_EINVAL;
  a->ed_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
  if (a->ed_sk == NULL) return QP_ENOMEM;
  crypto_sign_keypair(a->ed_pk, a->ed_sk);
  return 0;
}

void qb_authn_deinit(qb_authn_t *a) {
  EVP_PKEY_free(a->p256);
  sodium_free(a->ed_sk); /* wipes it */
  memset(a, 0, sizeof *a);
}

/* Adds key => value to map; false when libcbor ran out of memory. */
static bool put(cbor_item_t *map, cbor_item_t *key, cbor_item_t *value) {
  bool ok = key != NULL && value != NULL &&
            cbor_map_add(map, (struct cbor_pair){.key = key, .value = value});
  if (key != NULL) cbor_decref(&key);
  if (value != NULL) cbor_decref(&value);
  return ok;
}

static cbor_item_t *int_item(int64_t v) {
  return v >= 0 ? cbor_build_uint8((uint8_t)v) : cbor_build_negint8((uint8_t)(-1 - v));
}

/* The COSE_Key map: kty, alg, crv, x (and y for EC2), in that order. */
static cbor_item_t *cose_item(const qb_authn_t *a) {
  uint8_t point[P256_POINT_LEN];
  size_t point_len = 0;
  bool ec = a->alg == -7;
  if (ec && (EVP_PKEY_get_octet_string_param(a->p256, OSSL_PKEY_PARAM_PUB_KEY, point,
                                             sizeof point, &point_len) != 1 ||
             point_len != P256_POINT_LEN))
    return NULL;
  cbor_item_t *map = cbor_new_definite_map(ec ? 5 : 4);
  bool ok = map != NULL && put(map, int_item(1), int_item(ec ? 2 : 1)) &&
            put(map, int_item(3), int_item(a->alg)) &&
            put(map, int_item(-1), int_item(ec ? 1 : 6)) &&
            put(map, int_item(-2), ec ? cbor_build_bytestring(point + 1, 32)
                                      : cbor_build_bytestring(a->ed_pk, sizeof a->ed_pk)) &&
            (!ec || put(map, int_item(-3), cbor_build_bytestring(point + 33, 32)));
  if (!ok && map != NULL) cbor_decref(&map);
  return ok ? map : NULL;
}

/* Serializes item (and releases it) into a malloc'ed buffer. */
static int serialize(cbor_item_t *item, uint8_t **out, size_t *len) {
  size_t cap = 0;
  *out = NULL;
  *len = item != NULL ? cbor_serialize_alloc(item, out, &cap) : 0;
  if (item != NULL) cbor_decref(&item);
  return *len > 0 ? 0 : QP_ENOMEM;
}

int qb_authn_cose_key(const qb_authn_t *a, uint8_t **out, size_t *len) {
  return serialize(cose_item(a), out, len);
}

/* authData of a registration: rpIdHash, UP|UV|AT, signCount 0, AAGUID 0,
 * credential id length and id, COSE key. */
static int registration_auth_data(const qb_authn_t *a, const char *rp_id, uint8_t *out,
                                  size_t max, size_t *len) {
  uint8_t *cose = NULL;
  size_t cose_len = 0;
  int rc = qb_authn_cose_key(a, &cose, &cose_len);
  size_t head = 32 + 1 + 4 + 16 + 2 + QB_CRED_ID_LEN;
  if (rc == 0 && head + cose_len > max) rc = QP_ERANGE;
  if (rc == 0) {
    memset(out, 0, head);
    qp_sha256(out, rp_id, strlen(rp_id));
    out[32] = FLAG_UP | FLAG_UV | FLAG_AT;
    out[32 + 1 + 4 + 16 + 1] = QB_CRED_ID_LEN;
    memcpy(out + head - QB_CRED_ID_LEN, a->cred_id, QB_CRED_ID_LEN);
    memcpy(out + head, cose, cose_len);
    *len = head + cose_len;
  }
  free(cose); /* libcbor's allocation */
  return rc;
}

int qb_authn_attestation(const qb_authn_t *a, const char *rp_id, uint8_t **out, size_t *len) {
  uint8_t auth_data[512];
  size_t ad_len = 0;
  int rc = registration_auth_data(a, rp_id, auth_data, sizeof auth_data, &ad_len);
  if (rc != 0) return rc;
  cbor_item_t *map = cbor_new_definite_map(3);
  bool ok = map != NULL && put(map, cbor_build_string("fmt"), cbor_build_string("none")) &&
            put(map, cbor_build_string("attStmt"), cbor_new_definite_map(0)) &&
            put(map, cbor_build_string("authData"), cbor_build_bytestring(auth_data, ad_len));
  if (!ok) {
    if (map != NULL) cbor_decref(&map);
    return QP_ENOMEM;
  }
  return serialize(map, out, len);
}

size_t qb_client_data(char *out, size_t max, const char *type, const char *challenge_b64u,
                       const char *origin) {
  int n = snprintf(out, max, "{\"type\":\"%s\",\"challenge\":\"%s\",\"origin\":\"%s\","
                   "\"crossOrigin\":false}", type, challenge_b64u, origin);
  return n > 0 && (size_t)n < max ? (size_t)n : 0;
}

/* sig over msg with the credential's private key. */
static int sign(const qb_authn_t *a, const uint8_t *msg, size_t len, uint8_t *sig,
                size_t *sig_len) {
  if (a->alg == -8) {
    unsigned long long n = 0;
    crypto_sign_detached(sig, &n, msg, len, a->ed_sk);
    *sig_len = (size_t)n;
    return 0;
  }
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  size_t cap = QB_SIG_MAX;
  bool ok = md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, a->p256) == 1 &&
            EVP_DigestSign(md, sig, &cap, msg, len) == 1;
  EVP_MD_CTX_free(md);
  *sig_len = ok ? cap : 0;
  return ok ? 0 : QP_EIO;
}

int qb_authn_assert(qb_authn_t *a, const char *rp_id, const uint8_t *client_data,
                     size_t client_data_len, uint8_t auth_data[QB_AUTH_DATA_LEN],
                     uint8_t *sig, size_t *sig_len) {
  uint8_t msg[QB_AUTH_DATA_LEN + QP_HASH_SIZE];
  uint32_t count = ++a->sign_count;
  qp_sha256(auth_data, rp_id, strlen(rp_id));
  auth_data[32] = FLAG_UP | FLAG_UV;
  for (int i = 0; i < 4; i++) auth_data[33 + i] = (uint8_t)(count >> (24 - 8 * i));
  memcpy(msg, auth_data, QB_AUTH_DATA_LEN);
  qp_sha256(msg + QB_AUTH_DATA_LEN, client_data, client_data_len);
  return sign(a, msg, sizeof msg, sig, sig_len);
}

int qb_b64u(const uint8_t *in, size_t len, char *out, size_t max) {
  if (max < sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING))
    return QP_ERANGE;
  sodium_bin2base64(out, max, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return 0;
}

json_t *qb_authn_registration(const qb_authn_t *a, const char *challenge, const char *rp_id,
                              const char *origin) {
  char cd[QB_CLIENT_DATA_MAX], cd64[QB_CLIENT_DATA_MAX * 2], id64[64], att64[2048];
  uint8_t *att = NULL;
  size_t att_len = 0;
  size_t cd_len = qb_client_data(cd, sizeof cd, "webauthn.create", challenge, origin);
  int rc = cd_len > 0 ? qb_authn_attestation(a, rp_id, &att, &att_len) : QP_ERANGE;
  if (rc == 0) rc = qb_b64u(att, att_len, att64, sizeof att64);
  if (rc == 0) rc = qb_b64u((const uint8_t *)cd, cd_len, cd64, sizeof cd64);
  if (rc == 0) rc = qb_b64u(a->cred_id, sizeof a->cred_id, id64, sizeof id64);
  free(att); /* libcbor's allocation */
  if (rc != 0) return NULL;
  return json_pack("{s:s, s:s, s:s, s:s, s:{}, s:{s:s, s:s, s:[s]}}", "id", id64, "rawId",
                   id64, "type", "public-key", "authenticatorAttachment", "platform",
                   "clientExtensionResults", "response", "clientDataJSON", cd64,
                   "attestationObject", att64, "transports", "internal");
}

int qb_authn_confirm_body(qb_authn_t *a, const char *origin, const char *challenge,
                          const char *rp_id, bool bad_signature, char **out) {
  char cd[QB_CLIENT_DATA_MAX], cd64[QB_CLIENT_DATA_MAX * 2], id64[64], ad64[64], sig64[128];
  uint8_t ad[QB_AUTH_DATA_LEN], sig[QB_SIG_MAX];
  size_t sig_len = 0;
  size_t cd_len = qb_client_data(cd, sizeof cd, "webauthn.get", challenge, origin);
  int rc = cd_len > 0 ? qb_authn_assert(a, rp_id, (const uint8_t *)cd, cd_len, ad,
                                         sig, &sig_len) : QP_ERANGE;
  if (rc == 0 && bad_signature) sig[sig_len - 5] ^= 0x01;
  if (rc == 0) rc = qb_b64u((const uint8_t *)cd, cd_len, cd64, sizeof cd64);
  if (rc == 0) rc = qb_b64u(a->cred_id, sizeof a->cred_id, id64, sizeof id64);
  if (rc == 0) rc = qb_b64u(ad, sizeof ad, ad64, sizeof ad64);
  if (rc == 0) rc = qb_b64u(sig, sig_len, sig64, sizeof sig64);
  *out = rc == 0 ? qp_malloc(CONFIRM_BODY_MAX) : NULL;
  if (rc == 0 && *out == NULL) rc = QP_ENOMEM;
  if (rc == 0)
    snprintf(*out, CONFIRM_BODY_MAX, "{\"credential\":{\"id\":\"%s\",\"rawId\":"
             "\"%s\",\"type\":\"public-key\",\"authenticatorAttachment\":\"platform\","
             "\"clientExtensionResults\":{},\"response\":{\"clientDataJSON\":\"%s\","
             "\"authenticatorData\":\"%s\",\"signature\":\"%s\"}}}", id64, id64, cd64, ad64,
             sig64);
  return rc;
}

int qb_authn_enroll(void *e, const struct qb_node *n, uint32_t i, qb_authn_t *a, char *user_id,
                    size_t user_id_size) {
  json_t *out = NULL, *opts = NULL, *done = NULL;
  long code = 0, c2 = 0, c3 = 0;
  int rc = qb_authn_init(a, i % 2 == 0 ? -7 : -8);
  char handle[32], name[32];
  snprintf(handle, sizeof handle, "bench-%u", i);
  snprintf(name, sizeof name, "Bench user %u", i);
  json_t *body = json_pack("{s:s, s:s}", "handle", handle, "display_name", name);
  if (rc == 0) rc = qb_node_call(e, n, "POST", "/v1/users", body, &out, &code);
  json_decref(body);
  const char *id = json_string_value(json_object_get(out, "id"));
  if (rc == 0 && code == 200 && id != NULL) {
    snprintf(user_id, user_id_size, "%s", id);
    body = json_pack("{s:s}", "user_id", user_id);
    rc = qb_node_call(e, n, "POST", "/v1/webauthn/register/options", body, &opts, &c2);
    json_decref(body);
  }
  json_t *pk = json_object_get(opts, "publicKey");
  const char *ch = json_string_value(json_object_get(pk, "challenge"));
  const char *rp = json_string_value(json_object_get(json_object_get(pk, "rp"), "id"));
  json_t *cred = ch != NULL && rp != NULL ? qb_authn_registration(a, ch, rp, n->origin) : NULL;
  if (rc == 0 && cred != NULL) {
    body = json_pack("{s:O, s:o}", "ceremony", json_object_get(opts, "ceremony"), "credential",
                     cred);
    rc = qb_node_call(e, n, "POST", "/v1/webauthn/register/verify", body, &done, &c3);
    json_decref(body);
  }
  if (rc == 0 && (code != 200 || c2 != 200 || c3 != 200)) {
    fprintf(stderr, "%s: user %u: users %ld, options %ld, verify %ld\n", n->who, i, code,
            c2, c3);
    rc = QP_EIO;
  }
  json_decref(out);
  json_decref(opts);
  json_decref(done);
  return rc;
}
