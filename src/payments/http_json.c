/*
 * http_json.c - the payments module's request and reply helpers: a body
 * that must be a JSON object of known members, typed members that name
 * themselves when wrong, ids, times, and the commit of a change together
 * with its reply (and, for an idempotent request, its stored response).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "payments/payments_int.h"

static bool allowed_member(const char *key, const char *const *allowed) {
  for (size_t i = 0; allowed[i] != NULL; i++)
    if (strcmp(allowed[i], key) == 0) return true;
  return false;
}

json_t *qp__pay_body(qp_http_request_t *req, qp_http_reply_t *r, const char *const *allowed) {
  size_t len = 0;
  const char *body = qp_http_body(req, &len);
  if (body == NULL || len == 0) {
    qp_http_reply_fail(r, 400, "invalid_json", "", "the request body is empty; send a JSON object");
    return NULL;
  }
  json_error_t jerr;
  json_t *obj = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
  if (obj == NULL) {
    qp_http_error_t err = {0};
    if (!qp_http_json_refused(&err) || err.status == 0)
      qp_http_error_set(&err, 400, "invalid_json", "", "malformed JSON (line %d, column %d): %s",
                        jerr.line, jerr.column, jerr.text);
    qp_http_reply_error(r, &err);
    return NULL;
  }
  if (!json_is_object(obj)) {
    json_decref(obj);
    qp_http_reply_fail(r, 400, "invalid_type", "", "the request body must be a JSON object");
    return NULL;
  }
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    if (!allowed_member(key, allowed)) {
      qp_http_error_t err = {0};
      qp_http_error_set(&err, 400, "unknown_field", key, "unknown field \"%.60s\"", key);
      qp_http_reply_error(r, &err);
      json_decref(obj);
      return NULL;
    }
  }
  return obj;
}

bool qp__pay_fail(qp_http_reply_t *r, const char *path, const char *what) {
  qp_http_error_t err = {0};
  qp_http_error_set(&err, 400, "invalid_value", path, "%s %s", path, what);
  qp_http_reply_error(r, &err);
  return false;
}

static bool missing(qp_http_reply_t *r, const char *name) {
  qp_http_error_t err = {0};
  qp_http_error_set(&err, 400, "missing_field", name, "field \"%s\" is required", name);
  qp_http_reply_error(r, &err);
  return false;
}

bool qp__pay_string(const json_t *obj, const char *name, size_t max, bool required,
                    const char **out, qp_http_reply_t *r) {
  json_t *v = json_object_get(obj, name);
  *out = NULL;
  if (v == NULL) return required ? missing(r, name) : true;
  if (!json_is_string(v)) {
    qp_http_error_t err = {0};
    qp_http_error_set(&err, 400, "invalid_type", name, "field \"%s\" must be a string", name);
    qp_http_reply_error(r, &err);
    return false;
  }
  if (json_string_length(v) == 0 || json_string_length(v) > max ||
      strlen(json_string_value(v)) != json_string_length(v)) {
    char what[64];
    snprintf(what, sizeof what, "must be 1 to %zu bytes without NUL", max);
    return qp__pay_fail(r, name, what);
  }
  *out = json_string_value(v);
  return true;
}

bool qp__pay_u128(const json_t *obj, const char *name, qp_u128 *out, qp_http_reply_t *r) {
  json_t *v = json_object_get(obj, name);
  if (v == NULL) return missing(r, name);
  int rc = QP_EINVAL;
  if (json_is_string(v))
    rc = qp_u128_parse(json_string_value(v), json_string_length(v), out);
  else if (json_is_integer(v) && json_integer_value(v) >= 0) {
    *out = (qp_u128)json_integer_value(v);
    rc = 0;
  }
  if (rc != 0 || *out == 0)
    return qp__pay_fail(r, name, "must be a decimal integer from 1 to 2^128-1 (a string or a "
                        "JSON integer)");
  return true;
}

bool qp__pay_int(const json_t *obj, const char *name, json_int_t min, json_int_t max,
                 json_int_t fallback, json_int_t *out, qp_http_reply_t *r) {
  const json_t *v = json_object_get(obj, name);
  if (v == NULL && fallback < min) return missing(r, name);
  *out = v == NULL ? fallback : json_integer_value(v);
  if (v != NULL && (!json_is_integer(v) || *out < min || *out > max)) {
    char what[96];
    snprintf(what, sizeof what, "must be an integer from %lld to %lld", (long long)min,
             (long long)max);
    return qp__pay_fail(r, name, what);
  }
  return true;
}

bool qp__pay_id_parse(const char *text, uint8_t id[QP_PAY_ID_SIZE]) {
  size_t len = 0;
  if (text == NULL || strlen(text) != QP_PAY_ID_HEX) return false;
  for (size_t i = 0; i < QP_PAY_ID_HEX; i++)
    if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f'))) return false;
  return sodium_hex2bin(id, QP_PAY_ID_SIZE, text, QP_PAY_ID_HEX, NULL, &len, NULL) == 0 &&
         len == QP_PAY_ID_SIZE;
}

void qp__pay_id_hex(const uint8_t id[QP_PAY_ID_SIZE], char out[QP_PAY_ID_HEX + 1]) {
  sodium_bin2hex(out, QP_PAY_ID_HEX + 1, id, QP_PAY_ID_SIZE);
}

void qp__pay_new_id(uint8_t id[QP_PAY_ID_SIZE]) { randombytes_buf(id, QP_PAY_ID_SIZE); }

json_t *qp__pay_u128_json(qp_u128 v) {
  char buf[QP_U128_BUF_SIZE];
  qp_u128_format(v, buf);
  return json_string(buf);
}

json_t *qp__pay_time_json(int64_t unix_s) {
  char buf[32];
  qp_http_utc_format(unix_s, buf, sizeof buf);
  return json_string(buf);
}

int64_t qp__pay_now_s(void) { return (int64_t)(qp_clock_wall_ns() / 1000000000u); }

void qp__pay_reply_store(qp_http_reply_t *r, int rc) {
  if (rc == QP_ENOSPC)
    qp_http_reply_fail(r, 503, "disk_full", "", "the disk holding the payments store is full");
  else if (rc == QP_EEXISTS)
    qp_http_reply_fail(r, 409, "conflict", "", "the record exists already; retry the request");
  else
    qp_http_reply_fail(r, 500, "internal", "", "the payments store failed");
}

int qp__pay_commit(qp__pay_t *p, qp__pay_change_t *c, unsigned status, json_t *json,
                   qp_http_reply_t *r) {
  char *text = json != NULL ? json_dumps(json, JSON_COMPACT) : NULL;
  json_decref(json);
  if (text == NULL) {
    qp_http_reply_fail(r, 500, "internal", "", "out of memory");
    return QP_ENOMEM;
  }
  c->status = status;
  c->response = text;
  bool nothing = c->puts_count == 0 && c->event_type == NULL && (c->idem == NULL ||
                                                                 !c->idem->active);
  int rc = nothing ? 0 : qp__pay_store_write(p, c);
  if (rc == 0) {
    size_t n = strlen(text);
    char *body = qp_malloc(n + 1);
    if (body != NULL) memcpy(body, text, n + 1);
    qp_http_reply_text(r, status, body, NULL); /* NULL body: a 500 */
  }
  else qp__pay_reply_store(r, rc);
  qp_http_json_free(text);
  return rc;
}
