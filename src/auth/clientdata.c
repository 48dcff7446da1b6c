/*
 * clientdata.c - clientDataJSON checks (see clientdata.h).
 */
#include "auth/clientdata.h"

#include <sodium.h>
#include <string.h>

#include "base/err.h"
#include "crypto/crypto.h"

static bool listed(const char *value, size_t len, const char *const *list, size_t count) {
  for (size_t i = 0; i < count; i++)
    if (strlen(list[i]) == len && memcmp(list[i], value, len) == 0) return true;
  return false;
}

/* The string member name of obj, or NULL after recording why not. */
static const char *member(json_t *obj, const char *name, size_t *len, qp_auth_fail_t *fail) {
  json_t *v = json_object_get(obj, name);
  if (!json_is_string(v)) {
    qp__auth_fail(fail, QP_AUTH_CLIENT_DATA_INVALID,
                  "clientDataJSON: \"%s\" is missing or not a string", name);
    return NULL;
  }
  *len = json_string_length(v);
  return json_string_value(v);
}

static int check_challenge(json_t *obj, const qp_auth_clientdata_expect_t *expect,
                           qp_auth_fail_t *fail) {
  size_t len = 0;
  const char *got = member(obj, "challenge", &len, fail);
  if (got == NULL) return QP_EINVAL;
  char want[sodium_base64_ENCODED_LEN(QP_AUTH_CHALLENGE_MAX,
                                      sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  if (expect->challenge_len == 0 || expect->challenge_len > QP_AUTH_CHALLENGE_MAX)
    return qp__auth_fail(fail, QP_AUTH_CHALLENGE_MISMATCH, "the ceremony has no valid challenge");
  sodium_bin2base64(want, sizeof want, expect->challenge, expect->challenge_len,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  if (strlen(want) != len || memcmp(want, got, len) != 0)
    return qp__auth_fail(fail, QP_AUTH_CHALLENGE_MISMATCH, "clientDataJSON: \"challenge\" is "
                         "not the challenge this ceremony issued (base64url, no padding)");
  return 0;
}

static int check_origins(json_t *obj, const qp_auth_origin_policy_t *policy,
                         qp_auth_fail_t *fail) {
  size_t len = 0;
  const char *origin = member(obj, "origin", &len, fail);
  if (origin == NULL) return QP_EINVAL;
  if (!listed(origin, len, policy->origins, policy->origins_count))
    return qp__auth_fail(fail, QP_AUTH_ORIGIN_NOT_ALLOWED, "clientDataJSON: origin \"%.100s\" "
                         "is not among the relying party's allowed origins", origin);
  json_t *cross = json_object_get(obj, "crossOrigin");
  if (cross != NULL && !json_is_boolean(cross))
    return qp__auth_fail(fail, QP_AUTH_CLIENT_DATA_INVALID,
                         "clientDataJSON: \"crossOrigin\" must be true or false");
  json_t *top = json_object_get(obj, "topOrigin");
  if ((json_is_true(cross) || top != NULL) && !policy->cross_origin_allowed)
    return qp__auth_fail(fail, QP_AUTH_CROSS_ORIGIN_NOT_ALLOWED, "clientDataJSON: the ceremony "
                         "ran in a cross-origin iframe, which this relying party does not allow");
  if (top == NULL) return 0;
  const char *top_origin = member(obj, "topOrigin", &len, fail);
  if (top_origin == NULL) return QP_EINVAL;
  if (!listed(top_origin, len, policy->top_origins, policy->top_origins_count))
    return qp__auth_fail(fail, QP_AUTH_TOP_ORIGIN_NOT_ALLOWED, "clientDataJSON: topOrigin "
                         "\"%.100s\" is not among the allowed top origins", top_origin);
  return 0;
}

static int check_all(json_t *obj, const qp_auth_clientdata_expect_t *expect,
                     qp_auth_clientdata_t *out, qp_auth_fail_t *fail) {
  size_t len = 0;
  const char *type = member(obj, "type", &len, fail);
  if (type == NULL) return QP_EINVAL;
  if (!listed(type, len, expect->types, expect->types_count))
    return qp__auth_fail(fail, QP_AUTH_TYPE_MISMATCH, "clientDataJSON: type \"%.40s\" is not "
                         "the type of this ceremony (%s)", type,
                         expect->types_count ? expect->types[0] : "none");
  out->type = type;
  int rc = check_challenge(obj, expect, fail);
  return rc != 0 ? rc : check_origins(obj, expect->policy, fail);
}

int qp_auth_clientdata_check(const uint8_t *raw, size_t len,
                             const qp_auth_clientdata_expect_t *expect,
                             qp_auth_clientdata_t *out, qp_auth_fail_t *fail) {
  memset(out, 0, sizeof *out);
  if (len == 0 || len > QP_AUTH_CLIENT_DATA_MAX)
    return qp__auth_fail(fail, QP_AUTH_CLIENT_DATA_INVALID, "clientDataJSON: %zu bytes "
                         "(1 to %d allowed)", len, QP_AUTH_CLIENT_DATA_MAX);
  json_error_t jerr;
  json_t *obj = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, &jerr);
  if (obj == NULL || !json_is_object(obj)) {
    json_decref(obj);
    return qp__auth_fail(fail, QP_AUTH_CLIENT_DATA_INVALID, "clientDataJSON: not a JSON object "
                         "in UTF-8 without duplicate names (%.80s)", obj ? "not an object" :
                         jerr.text);
  }
  int rc = check_all(obj, expect, out, fail);
  if (rc != 0) {
    json_decref(obj);
    out->type = NULL;
    return rc;
  }
  qp_sha256(out->hash, raw, len);
  out->json = obj;
  return 0;
}

void qp_auth_clientdata_deinit(qp_auth_clientdata_t *cd) {
  json_decref(cd->json);
  cd->json = NULL;
  cd->type = NULL;
}
