/*
 * attest_cert.c - the requirements WebAuthn §8.2.1 puts on a packed
 * attestation certificate, checked with OpenSSL's X.509 accessors.
 */
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "auth/attest_int.h"
#include "base/err.h"

#define AAGUID_OID "1.3.6.1.4.1.45724.1.1.4" /* id-fido-gen-ce-aaguid */

static int cert_invalid(qp_auth_fail_t *fail, const char *what) {
  return qp__auth_fail(fail, QP_AUTH_ATTESTATION_INVALID,
                       "attStmt (packed): the attestation certificate %s", what);
}

/* The subject entry nid as an ASN1_STRING; NULL when absent. */
static const ASN1_STRING *subject_entry(X509 *cert, int nid) {
  const X509_NAME *name = X509_get_subject_name(cert);
  int i = X509_NAME_get_index_by_NID(name, nid, -1);
  if (i < 0) return NULL;
  return X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
}

static int check_subject(X509 *cert, qp_auth_fail_t *fail) {
  static const char OU[] = "Authenticator Attestation";
  const ASN1_STRING *c = subject_entry(cert, NID_countryName);
  const ASN1_STRING *ou = subject_entry(cert, NID_organizationalUnitName);
  if (c == NULL || ASN1_STRING_length(c) != 2)
    return cert_invalid(fail, "subject needs C, a two-letter ISO 3166 country code");
  if (subject_entry(cert, NID_organizationName) == NULL)
    return cert_invalid(fail, "subject needs O, the authenticator vendor");
  if (ou == NULL || (size_t)ASN1_STRING_length(ou) != sizeof OU - 1 ||
      memcmp(ASN1_STRING_get0_data(ou), OU, sizeof OU - 1) != 0)
    return cert_invalid(fail, "subject needs OU \"Authenticator Attestation\"");
  if (subject_entry(cert, NID_commonName) == NULL)
    return cert_invalid(fail, "subject needs CN");
  return 0;
}

static int check_aaguid(X509 *cert, const uint8_t aaguid[16], qp_auth_fail_t *fail) {
  ASN1_OBJECT *oid = OBJ_txt2obj(AAGUID_OID, 1);
  if (oid == NULL) return qp__auth_nomem(fail);
  int i = X509_get_ext_by_OBJ(cert, oid, -1);
  ASN1_OBJECT_free(oid);
  if (i < 0) return 0;
  X509_EXTENSION *ext = X509_get_ext(cert, i);
  if (X509_EXTENSION_get_critical(ext))
    return cert_invalid(fail, "marks the AAGUID extension critical");
  const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
  const uint8_t *p = ASN1_STRING_get0_data(v);
  /* The extension's value is a DER OCTET STRING of 16 bytes: 04 10 || aaguid. */
  if (ASN1_STRING_length(v) != 18 || p[0] != 0x04 || p[1] != 0x10 || memcmp(p + 2, aaguid, 16))
    return cert_invalid(fail, "AAGUID extension does not match the authenticator data's aaguid");
  return 0;
}

int qp__auth_packed_cert_check(X509 *cert, const uint8_t aaguid[16], qp_auth_fail_t *fail) {
  if (X509_get_version(cert) != 2) return cert_invalid(fail, "must be X.509 version 3");
  int rc = check_subject(cert, fail);
  if (rc != 0) return rc;
  /* X509_get_extension_flags caches the extensions; EXFLAG_INVALID means
   * OpenSSL could not decode one, EXFLAG_CA a basic constraint CA:TRUE. */
  uint32_t flags = X509_get_extension_flags(cert);
  if (flags & EXFLAG_INVALID) return cert_invalid(fail, "has an extension that does not decode");
  if (flags & EXFLAG_CA) return cert_invalid(fail, "must not be a CA (basic constraints)");
  return check_aaguid(cert, aaguid, fail);
}
