/*
 * http_json.c - the wallet's request and reply helpers: a body that must
 * be a JSON object of known members, string and amount members, and the
 * replies of the auth module's doors (which answer into a reply of their
 * own that a handler passes on or reads).
 */
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/err.h"
#include "wallet/wallet_int.h"

static bool allowed_member(const char *key, const char *const *allowed) {
  for (size_t i = 0; allowed[i] != NULL; i++)
    if (strcmp(allowed[i], key) == 0) return true;
  return false;
}

int qp__wallet_decode(const char *body, size_t len, const char *const *allowed, json_t **out,
                      qp_http_error_t *err) {
  json_error_t jerr;
  json_t *obj = body != NULL && len > 0 ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)
                                        : json_object();
  *out = NULL;
  if (obj == NULL) {
    if (!qp_http_json_refused(err) || err->status == 0)
      qp_http_error_set(err, 400, "invalid_json", "", "malformed JSON (line %d, column %d): %s",
                        jerr.line, jerr.column, jerr.text);
    return QP_EINVAL;
  }
  if (!json_is_object(obj)) {
    json_decref(obj);
    qp_http_error_set(err, 400, "invalid_type", "", "the request body must be a JSON object");
    return QP_EINVAL;
  }
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    if (!allowed_member(key, allowed)) {
      qp_http_error_set(err, 400, "unknown_field", key, "unknown field \"%.60s\"", key);
      json_decref(obj);
      return QP_EINVAL;
    }
  }
  *out = obj;
  return 0;
}

json_t *qp__wallet_body(qp_http_request_t *req, qp_http_reply_t *r, const char *const *allowed) {
  size_t len = 0;
  const char *body = qp_http_body(req, &len);
  qp_http_error_t err = {0};
  json_t *obj = NULL;
  if (qp__wallet_decode(body, len, allowed, &obj, &err) != 0) qp_http_reply_error(r, &err);
  return obj;
}

const char *qp__wallet_string(const json_t *obj, const char *name, size_t max, bool optional,
                              qp_http_reply_t *r) {
  json_t *v = json_object_get(obj, name);
  qp_http_error_t err = {0};
  if (v == NULL && optional) return NULL;
  if (v == NULL)
    qp_http_error_set(&err, 400, "missing_field", name, "field \"%s\" is required", name);
  else if (!json_is_string(v))
    qp_http_error_set(&err, 400, "invalid_type", name, "field \"%s\" must be a string", name);
  else if (json_string_length(v) == 0 || json_string_length(v) > max ||
           strlen(json_string_value(v)) != json_string_length(v))
    qp_http_error_set(&err, 400, "invalid_value", name,
                      "field \"%s\" must be 1 to %zu bytes without NUL", name, max);
  else
    return json_string_value(v);
  qp_http_reply_error(r, &err);
  return NULL;
}

bool qp__wallet_amount(const json_t *obj, const char *name, qp_u128 *out, qp_http_reply_t *r) {
  json_t *v = json_object_get(obj, name);
  const char *t = json_string_value(v);
  bool digits = t != NULL && t[0] != '\0' && strspn(t, "0123456789") == strlen(t);
  if (v == NULL) {
    qp_http_reply_fail(r, 400, "missing_field", name, "an amount is required");
    return false;
  }
  if (!digits || qp_u128_parse(t, strlen(t), out) != 0 || *out == 0 || *out == ~(qp_u128)0) {
    qp_http_reply_fail(r, 400, "invalid_value", name, "an amount is a decimal string of minor "
                       "units from 1 to 2^128-2, e.g. \"1234\" for 12.34");
    return false;
  }
  return true;
}

json_t *qp__wallet_u128_json(qp_u128 v) {
  char buf[QP_U128_BUF_SIZE];
  qp_u128_format(v, buf);
  return json_string(buf);
}

int64_t qp__wallet_now_s(void) { return (int64_t)time(NULL); }

void qp__wallet_reply_move(qp_http_reply_t *r, qp_http_reply_t *from) {
  qp_free(r->body); /* r's headers stay; a door's reply has none */
  r->status = from->status;
  r->body = from->body;
  r->body_len = from->body_len;
  r->content_type = from->content_type;
  r->retry_after_s = from->retry_after_s;
  from->body = NULL;
}

json_t *qp__wallet_reply_body(const qp_http_reply_t *from) {
  if (from->status != 200 || from->body == NULL) return NULL;
  return json_loads(from->body, 0, NULL);
}

void qp__wallet_reply_drop(qp_http_reply_t *from) {
  qp_free(from->body);
  from->body = NULL;
}
