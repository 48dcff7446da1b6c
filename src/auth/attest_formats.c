/*
 * attest_formats.c - attestation statement formats: "none" (WebAuthn §8.7),
 * "packed" (§8.2) and "fido-u2f" (§8.6).  Certificates are parsed by OpenSSL;
 * the leaf's requirements (§8.2.1) are checked in attest_cert.c.
 */
#include <openssl/x509.h>
#include <string.h>

#include "auth/attest_int.h"
#include "auth/cbor_strict.h"
#include "base/err.h"

static int stmt_invalid(qp_auth_fail_t *fail, const char *fmt, const char *what) {
  return qp__auth_fail(fail, QP_AUTH_ATTESTATION_INVALID, "attStmt (%s): %s", fmt, what);
}

static int sig_invalid(qp_auth_fail_t *fail, const char *fmt, int rc) {
  if (rc == QP_ENOMEM) return qp__auth_nomem(fail);
  return qp__auth_fail(fail, QP_AUTH_SIGNATURE_INVALID, "attStmt (%s): the attestation "
                       "signature does not verify", fmt);
}

/* Parses x5c (an array of 1..QP_AUTH_X5C_MAX DER certificates) and returns
 * its first certificate (the caller frees it); NULL after a refusal. */
static X509 *x5c_leaf(const cbor_item_t *x5c, const char *fmt, size_t max, int *rc,
                      qp_auth_fail_t *fail) {
  *rc = QP_EINVAL;
  if (!cbor_isa_array(x5c) || cbor_array_size(x5c) == 0 || cbor_array_size(x5c) > max) {
    stmt_invalid(fail, fmt, max == 1 ? "\"x5c\" must be an array of exactly one certificate"
                                     : "\"x5c\" must be an array of 1 to 4 certificates");
    return NULL;
  }
  X509 *leaf = NULL;
  for (size_t i = 0; i < cbor_array_size(x5c); i++) {
    const cbor_item_t *c = cbor_array_handle(x5c)[i];
    const unsigned char *p = cbor_isa_bytestring(c) ? cbor_bytestring_handle(c) : NULL;
    size_t n = p ? cbor_bytestring_length(c) : 0;
    X509 *cert = p ? d2i_X509(NULL, &p, (long)n) : NULL;
    if (cert == NULL || p != cbor_bytestring_handle(c) + n) {
      X509_free(cert);
      X509_free(leaf);
      stmt_invalid(fail, fmt, "an \"x5c\" entry is not one DER X.509 certificate");
      return NULL;
    }
    if (i == 0) leaf = cert;
    else X509_free(cert);
  }
  *rc = 0;
  return leaf;
}

static int verify_none(const qp__auth_attobj_t *obj, const char **type, qp_auth_fail_t *fail) {
  if (cbor_map_size(obj->stmt) != 0) return stmt_invalid(fail, "none", "must be an empty map");
  *type = "none";
  return 0;
}

static int verify_packed_x5c(const qp__auth_attobj_t *obj, const cbor_item_t *x5c, int64_t alg,
                             const uint8_t *cdh, const cbor_item_t *sig, const char **type,
                             qp_auth_fail_t *fail) {
  int rc = 0;
  X509 *leaf = x5c_leaf(x5c, "packed", QP_AUTH_X5C_MAX, &rc, fail);
  if (leaf == NULL) return rc;
  EVP_PKEY *pkey = X509_get0_pubkey(leaf);
  rc = qp_auth_verify(pkey, alg, obj->auth_data, obj->auth_data_len, cdh, 32,
                      cbor_bytestring_handle(sig), cbor_bytestring_length(sig));
  if (rc != 0) rc = sig_invalid(fail, "packed", rc);
  if (rc == 0) rc = qp__auth_packed_cert_check(leaf, obj->ad.aaguid, fail);
  X509_free(leaf);
  if (rc == 0) *type = "basic";
  return rc;
}

static int verify_packed(const qp__auth_attobj_t *obj, const uint8_t *cdh, const char **type,
                         qp_auth_fail_t *fail) {
  const cbor_item_t *algv = qp__auth_cbor_map_text(obj->stmt, "alg");
  const cbor_item_t *sig = qp__auth_cbor_map_text(obj->stmt, "sig");
  const cbor_item_t *x5c = qp__auth_cbor_map_text(obj->stmt, "x5c");
  int64_t alg = 0;
  if (algv == NULL || qp__auth_cbor_int(algv, &alg) != 0)
    return stmt_invalid(fail, "packed", "\"alg\" is missing or not an integer");
  if (sig == NULL || !cbor_isa_bytestring(sig))
    return stmt_invalid(fail, "packed", "\"sig\" is missing or not a byte string");
  if (cbor_map_size(obj->stmt) != (x5c ? 3u : 2u))
    return stmt_invalid(fail, "packed", "only \"alg\", \"sig\" and \"x5c\" are allowed");
  if (x5c != NULL) return verify_packed_x5c(obj, x5c, alg, cdh, sig, type, fail);
  if (alg != obj->ad.key.alg)
    return qp__auth_fail(fail, QP_AUTH_ATTESTATION_INVALID, "attStmt (packed): self attestation "
                         "with alg %lld but the credential key's alg is %lld", (long long)alg,
                         (long long)obj->ad.key.alg);
  int rc = qp_auth_verify(obj->ad.key.pkey, alg, obj->auth_data, obj->auth_data_len, cdh, 32,
                          cbor_bytestring_handle(sig), cbor_bytestring_length(sig));
  if (rc != 0) return sig_invalid(fail, "packed", rc);
  *type = "self";
  return 0;
}

/* verificationData of §8.6 step 5: 0x00 || rpIdHash || clientDataHash ||
 * credentialId || 0x04 || x || y, into buf (room for 1+32+32+1023+65). */
static int u2f_data(const qp__auth_attobj_t *obj, const uint8_t *cdh, uint8_t *buf, size_t *len,
                    qp_auth_fail_t *fail) {
  const qp_auth_authdata_t *ad = &obj->ad;
  size_t point_len = 0, pos = 0;
  buf[pos++] = 0x00;
  memcpy(buf + pos, ad->rp_id_hash, 32);
  pos += 32;
  memcpy(buf + pos, cdh, 32);
  pos += 32;
  memcpy(buf + pos, ad->credential_id, ad->credential_id_len);
  pos += ad->credential_id_len;
  if (ad->key.alg != QP_AUTH_COSE_ES256 ||
      EVP_PKEY_get_octet_string_param(ad->key.pkey, "encoded-pub-key", buf + pos, 65,
                                      &point_len) != 1 || point_len != 65)
    return stmt_invalid(fail, "fido-u2f", "the credential public key must be ES256 on P-256");
  *len = pos + point_len;
  return 0;
}

static int verify_u2f(const qp__auth_attobj_t *obj, const uint8_t *cdh, const char **type,
                      qp_auth_fail_t *fail) {
  const cbor_item_t *sig = qp__auth_cbor_map_text(obj->stmt, "sig");
  const cbor_item_t *x5c = qp__auth_cbor_map_text(obj->stmt, "x5c");
  if (sig == NULL || !cbor_isa_bytestring(sig) || x5c == NULL || cbor_map_size(obj->stmt) != 2)
    return stmt_invalid(fail, "fido-u2f", "must be a map of exactly \"sig\" (bytes) and \"x5c\"");
  uint8_t data[1 + 32 + 32 + QP_AUTH_CREDENTIAL_ID_MAX + 65];
  size_t data_len = 0;
  int rc = u2f_data(obj, cdh, data, &data_len, fail);
  if (rc != 0) return rc;
  X509 *leaf = x5c_leaf(x5c, "fido-u2f", 1, &rc, fail);
  if (leaf == NULL) return rc;
  rc = qp_auth_verify(X509_get0_pubkey(leaf), QP_AUTH_COSE_ES256, data, data_len, NULL, 0,
                      cbor_bytestring_handle(sig), cbor_bytestring_length(sig));
  X509_free(leaf);
  if (rc != 0) return sig_invalid(fail, "fido-u2f (the certificate key must be P-256)", rc);
  *type = "basic";
  return 0;
}

int qp__auth_statement_verify(const qp__auth_attobj_t *obj, const uint8_t client_data_hash[32],
                              const char **type, qp_auth_fail_t *fail) {
  if (strcmp(obj->fmt, "none") == 0) return verify_none(obj, type, fail);
  if (strcmp(obj->fmt, "packed") == 0) return verify_packed(obj, client_data_hash, type, fail);
  if (strcmp(obj->fmt, "fido-u2f") == 0) return verify_u2f(obj, client_data_hash, type, fail);
  return qp__auth_fail(fail, QP_AUTH_FORMAT_UNSUPPORTED, "attestation format \"%s\" is not "
                       "supported (none, packed, fido-u2f)", obj->fmt);
}
