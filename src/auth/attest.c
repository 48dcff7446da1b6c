/*
 * attest.c - attestation objects and the registration ceremony (see
 * attest.h).  The statement formats live in attest_formats.c.
 */
#include "auth/attest.h"

#include <string.h>

#include "auth/attest_int.h"
#include "auth/cbor_strict.h"
#include "base/err.h"
#include "crypto/crypto.h"

static int object_invalid(qp_auth_fail_t *fail, const char *what) {
  return qp__auth_fail(fail, QP_AUTH_ATTESTATION_OBJECT_INVALID, "attestationObject: %s", what);
}

/* Checks the top-level map's shape and fills obj's fmt, stmt and auth data. */
static int read_map(const cbor_item_t *map, qp__auth_attobj_t *obj, qp_auth_fail_t *fail) {
  if (!cbor_isa_map(map)) return object_invalid(fail, "not a CBOR map");
  const cbor_item_t *fmt = qp__auth_cbor_map_text(map, "fmt");
  obj->stmt = qp__auth_cbor_map_text(map, "attStmt");
  const cbor_item_t *ad = qp__auth_cbor_map_text(map, "authData");
  if (cbor_map_size(map) != 3 || fmt == NULL || obj->stmt == NULL || ad == NULL)
    return object_invalid(fail, "must be a map of exactly \"fmt\", \"attStmt\" and \"authData\"");
  if (!cbor_isa_string(fmt) || cbor_string_length(fmt) == 0 ||
      cbor_string_length(fmt) >= QP_AUTH_FMT_MAX)
    return object_invalid(fail, "\"fmt\" must be a text string of 1 to 31 bytes");
  if (!cbor_isa_map(obj->stmt)) return object_invalid(fail, "\"attStmt\" must be a map");
  if (!cbor_isa_bytestring(ad)) return object_invalid(fail, "\"authData\" must be a byte string");
  memcpy(obj->fmt, cbor_string_handle(fmt), cbor_string_length(fmt));
  obj->fmt[cbor_string_length(fmt)] = '\0';
  obj->auth_data = cbor_bytestring_handle(ad);
  obj->auth_data_len = cbor_bytestring_length(ad);
  return 0;
}

int qp__auth_attobj_decode(const uint8_t *buf, size_t len, qp__auth_attobj_t *obj,
                           qp_auth_fail_t *fail) {
  memset(obj, 0, sizeof *obj);
  if (len > QP_AUTH_ATTESTATION_OBJECT_MAX)
    return object_invalid(fail, "longer than 32768 bytes");
  size_t used = 0;
  int rc = qp__auth_cbor_load(buf, len, "attestationObject", &obj->item, &used, fail);
  if (rc != 0) return rc;
  if (used != len) {
    qp__auth_attobj_deinit(obj);
    return object_invalid(fail, "trailing bytes after the CBOR map");
  }
  rc = read_map(obj->item, obj, fail);
  if (rc == 0) rc = qp_auth_authdata_parse(obj->auth_data, obj->auth_data_len, &obj->ad, fail);
  if (rc == 0 && !obj->ad.attested)
    rc = qp__auth_fail(fail, QP_AUTH_AUTHENTICATOR_DATA_INVALID, "authenticatorData: a "
                       "registration needs attested credential data (the AT flag)");
  if (rc != 0) qp__auth_attobj_deinit(obj);
  return rc;
}

void qp__auth_attobj_deinit(qp__auth_attobj_t *obj) {
  qp_auth_authdata_deinit(&obj->ad);
  if (obj->item != NULL) cbor_decref(&obj->item);
}

static void fill_registration(const qp__auth_attobj_t *obj, qp_auth_registration_t *out) {
  const qp_auth_authdata_t *ad = &obj->ad;
  memcpy(out->fmt, obj->fmt, sizeof out->fmt);
  memcpy(out->aaguid, ad->aaguid, QP_AUTH_AAGUID_SIZE);
  memcpy(out->credential_id, ad->credential_id, ad->credential_id_len);
  out->credential_id_len = ad->credential_id_len;
  memcpy(out->cose_key, ad->cose_key, ad->cose_key_len);
  out->cose_key_len = ad->cose_key_len;
  out->alg = ad->key.alg;
  out->flags = ad->flags;
  out->sign_count = ad->sign_count;
}

static int check_key_len(const qp__auth_attobj_t *obj, qp_auth_fail_t *fail) {
  if (obj->ad.cose_key_len > QP_AUTH_COSE_KEY_MAX)
    return qp__auth_fail(fail, QP_AUTH_COSE_KEY_INVALID, "credential public key: %zu bytes "
                         "(at most %d)", obj->ad.cose_key_len, QP_AUTH_COSE_KEY_MAX);
  return 0;
}

int qp_auth_attestation_check(const uint8_t *att_obj, size_t att_obj_len,
                              const uint8_t client_data_hash[32], qp_auth_registration_t *out,
                              qp_auth_fail_t *fail) {
  qp__auth_attobj_t obj;
  memset(out, 0, sizeof *out);
  int rc = qp__auth_attobj_decode(att_obj, att_obj_len, &obj, fail);
  if (rc != 0) return rc;
  rc = check_key_len(&obj, fail);
  if (rc == 0) rc = qp__auth_statement_verify(&obj, client_data_hash, &out->attestation_type, fail);
  if (rc == 0) fill_registration(&obj, out);
  qp__auth_attobj_deinit(&obj);
  return rc;
}

/* §7.1 steps 13-21: rpIdHash, flags, algorithm offered. */
static int check_ceremony(const qp_auth_register_expect_t *expect, const qp__auth_attobj_t *obj,
                          qp_auth_fail_t *fail) {
  uint8_t rp_hash[32];
  qp_sha256(rp_hash, expect->rp_id, strlen(expect->rp_id));
  if (memcmp(rp_hash, obj->ad.rp_id_hash, sizeof rp_hash) != 0)
    return qp__auth_fail(fail, QP_AUTH_RP_ID_MISMATCH, "authenticatorData: rpIdHash is not the "
                         "SHA-256 of the RP ID \"%.100s\"", expect->rp_id);
  int rc = qp_auth_flags_check(obj->ad.flags, expect->uv_required, -1, fail);
  if (rc != 0) return rc;
  for (size_t i = 0; i < expect->algs_count; i++)
    if (expect->algs[i] == obj->ad.key.alg) return check_key_len(obj, fail);
  return qp__auth_fail(fail, QP_AUTH_ALGORITHM_NOT_ALLOWED, "credential public key: alg %s "
                       "(%lld) was not among the pubKeyCredParams offered",
                       qp_auth_alg_name(obj->ad.key.alg), (long long)obj->ad.key.alg);
}

int qp_auth_register_verify(const qp_auth_register_expect_t *expect, const uint8_t *client_data,
                            size_t client_data_len, const uint8_t *att_obj, size_t att_obj_len,
                            qp_auth_registration_t *out, qp_auth_fail_t *fail) {
  memset(out, 0, sizeof *out);
  qp_auth_clientdata_t cd;
  int rc = qp_auth_clientdata_check(client_data, client_data_len, &expect->client, &cd, fail);
  if (rc != 0) return rc;
  qp__auth_attobj_t obj;
  rc = qp__auth_attobj_decode(att_obj, att_obj_len, &obj, fail);
  if (rc == 0) {
    rc = check_ceremony(expect, &obj, fail);
    if (rc == 0) rc = qp__auth_statement_verify(&obj, cd.hash, &out->attestation_type, fail);
    if (rc == 0) fill_registration(&obj, out);
    qp__auth_attobj_deinit(&obj);
  }
  qp_auth_clientdata_deinit(&cd);
  return rc;
}
