/*
 * body.c - a request body as a JSON object, and its typed members, for
 * every module's handlers.  The body is parsed under the request's JSON
 * budget (json_budget.c: past it 413 too_complex or 503 overloaded), must be
 * an object (an array too, when the caller says so) whose members are among
 * the caller's allowed names, and each getter refuses a member with the
 * error envelope naming it: missing_field, invalid_type, invalid_value.
 * One copy, so that every module answers the same bad input the same way.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/assert.h"
#include "base/err.h"
#include "http/http.h"

static bool allowed_member(const char *key, const char *const *allowed) {
  for (size_t i = 0; allowed[i] != NULL; i++)
    if (strcmp(allowed[i], key) == 0) return true;
  return false;
}

static int unknown_member(json_t *obj, const char *const *allowed, qp_http_error_t *err) {
  const char *key;
  json_t *v;
  if (allowed == NULL || !json_is_object(obj)) return 0;
  json_object_foreach(obj, key, v) {
    if (!allowed_member(key, allowed))
      return qp_http_error_set(err, 400, "unknown_field", key, "unknown field \"%.60s\"", key);
  }
  return 0;
}

int qp_http_body_decode(const char *body, size_t len, const char *const *allowed, unsigned flags,
                        json_t **out, qp_http_error_t *err) {
  QP_ASSERT(out != NULL && err != NULL);
  *out = NULL;
  if ((body == NULL || len == 0) && (flags & QP_HTTP_BODY_EMPTY_OBJECT) == 0) {
    qp_http_error_set(err, 400, "invalid_json", "",
                      "the request body is empty; send a JSON object");
    return QP_EINVAL;
  }
  json_error_t jerr;
  json_t *obj = body != NULL && len > 0 ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)
                                        : json_object();
  if (obj == NULL) {
    if (!qp_http_json_refused(err) || err->status == 0)
      qp_http_error_set(err, 400, "invalid_json", "", "malformed JSON (line %d, column %d): %s",
                        jerr.line, jerr.column, jerr.text);
    return QP_EINVAL;
  }
  int rc = 0;
  if (!json_is_object(obj) && !(json_is_array(obj) && (flags & QP_HTTP_BODY_ARRAY) != 0))
    rc = qp_http_error_set(err, 400, "invalid_type", "", "the request body must be a JSON object");
  else
    rc = unknown_member(obj, allowed, err);
  if (rc != 0) {
    json_decref(obj);
    return QP_EINVAL;
  }
  *out = obj;
  return 0;
}

json_t *qp_http_body_object(qp_http_request_t *req, qp_http_reply_t *r,
                            const char *const *allowed, unsigned flags) {
  size_t len = 0;
  const char *body = qp_http_body(req, &len);
  qp_http_error_t err = {0};
  json_t *obj = NULL;
  if (qp_http_body_decode(body, len, allowed, flags, &obj, &err) != 0) qp_http_reply_error(r, &err);
  return obj;
}

static bool missing(qp_http_reply_t *r, const char *path, const char *name) {
  qp_http_error_t err = {0};
  qp_http_error_set(&err, 400, "missing_field", path, "field \"%s\" is required", name);
  qp_http_reply_error(r, &err);
  return false;
}

bool qp_http_member_string(const json_t *obj, const char *name, const char *path, size_t max,
                           bool required, const char **out, qp_http_reply_t *r) {
  json_t *v = json_object_get(obj, name);
  qp_http_error_t err = {0};
  if (path == NULL) path = name;
  *out = NULL;
  if (v == NULL) return required ? missing(r, path, name) : true;
  if (!json_is_string(v))
    qp_http_error_set(&err, 400, "invalid_type", path, "field \"%s\" must be a string", name);
  else if (json_string_length(v) == 0 || json_string_length(v) > max ||
           strlen(json_string_value(v)) != json_string_length(v))
    qp_http_error_set(&err, 400, "invalid_value", path,
                      "field \"%s\" must be 1 to %zu bytes without NUL", name, max);
  else {
    *out = json_string_value(v);
    return true;
  }
  qp_http_reply_error(r, &err);
  return false;
}

bool qp_http_member_u128(const json_t *obj, const char *name, qp_u128 *out, qp_http_reply_t *r) {
  json_t *v = json_object_get(obj, name);
  if (v == NULL) return missing(r, name, name);
  int rc = QP_EINVAL;
  if (json_is_string(v))
    rc = qp_u128_parse(json_string_value(v), json_string_length(v), out);
  else if (json_is_integer(v) && json_integer_value(v) >= 0) {
    *out = (qp_u128)json_integer_value(v);
    rc = 0;
  }
  if (rc == 0 && *out != 0) return true;
  return qp_http_fail_value(r, name, "%s must be a decimal integer from 1 to 2^128-1 (a string "
                            "or a JSON integer)", name);
}

bool qp_http_member_int(const json_t *obj, const char *name, long long min, long long max,
                        long long fallback, long long *out, qp_http_reply_t *r) {
  const json_t *v = json_object_get(obj, name);
  if (v == NULL && fallback < min) return missing(r, name, name);
  *out = v == NULL ? fallback : json_integer_value(v);
  if (v == NULL || (json_is_integer(v) && *out >= min && *out <= max)) return true;
  return qp_http_fail_value(r, name, "%s must be an integer from %lld to %lld", name, min, max);
}

bool qp_http_member_bool(const json_t *obj, const char *name, bool fallback, bool *out,
                         qp_http_reply_t *r) {
  const json_t *v = json_object_get(obj, name);
  *out = v == NULL ? fallback : json_is_true(v);
  if (v == NULL || json_is_boolean(v)) return true;
  qp_http_error_t err = {0};
  qp_http_error_set(&err, 400, "invalid_type", name, "field \"%s\" must be true or false", name);
  qp_http_reply_error(r, &err);
  return false;
}

bool qp_http_fail_value(qp_http_reply_t *r, const char *path, const char *fmt, ...) {
  qp_http_error_t err = {0};
  char message[sizeof err.message];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  qp_http_error_set(&err, 400, "invalid_value", path, "%s", message);
  qp_http_reply_error(r, &err);
  return false;
}
