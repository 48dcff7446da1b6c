/*
 * authdata.c - authenticator data parsing (see authdata.h).
 */
#include "auth/authdata.h"

#include <string.h>

#include "auth/cbor_strict.h"
#include "base/err.h"

#define FIXED_SIZE 37 /* rpIdHash 32 + flags 1 + signCount 4 */

static int invalid(qp_auth_fail_t *fail, const char *what) {
  return qp__auth_fail(fail, QP_AUTH_AUTHENTICATOR_DATA_INVALID, "authenticatorData: %s", what);
}

/* Attested credential data at buf[*pos..len); advances *pos past it. */
static int parse_attested(const uint8_t *buf, size_t len, size_t *pos, qp_auth_authdata_t *out,
                          qp_auth_fail_t *fail) {
  size_t p = *pos;
  if (len - p < QP_AUTH_AAGUID_SIZE + 2)
    return invalid(fail, "the AT flag is set but the attested credential data is truncated");
  out->aaguid = buf + p;
  p += QP_AUTH_AAGUID_SIZE;
  size_t id_len = (size_t)buf[p] << 8 | buf[p + 1];
  p += 2;
  if (id_len > QP_AUTH_CREDENTIAL_ID_MAX)
    return qp__auth_fail(fail, QP_AUTH_CREDENTIAL_ID_TOO_LONG, "authenticatorData: "
                         "credentialIdLength is %zu (at most %d)", id_len,
                         QP_AUTH_CREDENTIAL_ID_MAX);
  if (id_len == 0) return invalid(fail, "credentialIdLength is 0 (at least 1)");
  if (len - p < id_len) return invalid(fail, "the credential id is truncated");
  out->credential_id = buf + p;
  out->credential_id_len = id_len;
  p += id_len;
  size_t used = 0;
  int rc = qp_auth_cose_decode(buf + p, len - p, &used, &out->key, fail);
  if (rc != 0) return rc;
  out->cose_key = buf + p;
  out->cose_key_len = used;
  out->attested = true;
  *pos = p + used;
  return 0;
}

static int parse_extensions(const uint8_t *buf, size_t len, size_t *pos,
                            qp_auth_authdata_t *out, qp_auth_fail_t *fail) {
  if (*pos == len) return invalid(fail, "the ED flag is set but no extensions follow");
  cbor_item_t *item = NULL;
  size_t used = 0;
  int rc = qp__auth_cbor_load(buf + *pos, len - *pos, "authenticatorData extensions", &item,
                              &used, fail);
  if (rc != 0) return rc;
  bool is_map = cbor_isa_map(item);
  cbor_decref(&item);
  if (!is_map) return invalid(fail, "the extensions are not a CBOR map");
  out->extensions = buf + *pos;
  out->extensions_len = used;
  *pos += used;
  return 0;
}

static int parse_body(const uint8_t *buf, size_t len, qp_auth_authdata_t *out,
                      qp_auth_fail_t *fail) {
  if (len < FIXED_SIZE) return invalid(fail, "shorter than 37 bytes");
  if (len > QP_AUTH_AUTHDATA_MAX) return invalid(fail, "longer than 16384 bytes");
  out->rp_id_hash = buf;
  out->flags = buf[32];
  out->sign_count = (uint32_t)buf[33] << 24 | (uint32_t)buf[34] << 16 |
                    (uint32_t)buf[35] << 8 | buf[36];
  size_t pos = FIXED_SIZE;
  int rc = 0;
  if (out->flags & QP_AUTH_FLAG_AT) rc = parse_attested(buf, len, &pos, out, fail);
  if (rc == 0 && (out->flags & QP_AUTH_FLAG_ED)) rc = parse_extensions(buf, len, &pos, out, fail);
  if (rc != 0) return rc;
  if (pos != len) {
    return qp__auth_fail(fail, QP_AUTH_AUTHENTICATOR_DATA_INVALID,
                         "authenticatorData: %zu trailing bytes after the last structure "
                         "(the AT and ED flags say what may follow the first 37 bytes)",
                         len - pos);
  }
  return 0;
}

int qp_auth_authdata_parse(const uint8_t *buf, size_t len, qp_auth_authdata_t *out,
                           qp_auth_fail_t *fail) {
  memset(out, 0, sizeof *out);
  int rc = parse_body(buf, len, out, fail);
  if (rc != 0) qp_auth_authdata_deinit(out);
  return rc;
}

void qp_auth_authdata_deinit(qp_auth_authdata_t *ad) { qp_auth_cose_key_deinit(&ad->key); }

int qp_auth_flags_check(uint8_t flags, bool uv_required, int stored_be, qp_auth_fail_t *fail) {
  if (!(flags & QP_AUTH_FLAG_UP))
    return qp__auth_fail(fail, QP_AUTH_USER_PRESENCE_REQUIRED,
                         "authenticatorData: the UP flag (user present) is not set");
  if (uv_required && !(flags & QP_AUTH_FLAG_UV))
    return qp__auth_fail(fail, QP_AUTH_USER_VERIFICATION_REQUIRED, "authenticatorData: the UV "
                         "flag (user verified) is not set and this ceremony requires it");
  bool be = flags & QP_AUTH_FLAG_BE;
  if ((flags & QP_AUTH_FLAG_BS) && !be)
    return qp__auth_fail(fail, QP_AUTH_BACKUP_STATE_INVALID, "authenticatorData: the BS flag "
                         "(backed up) is set without BE (backup eligible)");
  if (stored_be >= 0 && be != (stored_be != 0))
    return qp__auth_fail(fail, QP_AUTH_BACKUP_STATE_INVALID, "authenticatorData: the BE flag "
                         "(backup eligible) differs from the one recorded at registration");
  return 0;
}
