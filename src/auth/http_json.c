/*
 * http_json.c - the auth module's request and reply helpers: base64url
 * members (the encoding of every byte string in WebAuthn's JSON
 * serialization), ids and times, and the replies for the verification
 * core's refusals.  Bodies and plain members are the HTTP core's
 * (src/http/body.c).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth/auth_int.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"

int qp__auth_b64url_decode(const char *text, uint8_t *out, size_t max, size_t *len) {
  const char *end = NULL;
  size_t n = strlen(text);
  while (n > 0 && text[n - 1] == '=') n--; /* some encoders pad; the bytes are the same */
  if (n == 0) return QP_EINVAL;
  if (sodium_base642bin(out, max, text, n, NULL, len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
    return (n * 3) / 4 > max ? QP_ERANGE : QP_EINVAL;
  return end == text + n ? 0 : QP_EINVAL;
}

json_t *qp__auth_b64url_json(const uint8_t *data, size_t len) {
  size_t size = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  char stack[1500];
  char *buf = size <= sizeof stack ? stack : qp_malloc(size);
  if (buf == NULL) return NULL;
  sodium_bin2base64(buf, size, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  json_t *s = json_string(buf);
  if (buf != stack) qp_free(buf);
  return s;
}

bool qp__auth_id_parse(const char *text, uint8_t id[QP_AUTH_ID_SIZE]) {
  size_t len = 0;
  if (text == NULL || strlen(text) != QP_AUTH_ID_HEX) return false;
  for (size_t i = 0; i < QP_AUTH_ID_HEX; i++)
    if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f'))) return false;
  return sodium_hex2bin(id, QP_AUTH_ID_SIZE, text, QP_AUTH_ID_HEX, NULL, &len, NULL) == 0 &&
         len == QP_AUTH_ID_SIZE;
}

void qp__auth_id_hex(const uint8_t id[QP_AUTH_ID_SIZE], char out[QP_AUTH_ID_HEX + 1]) {
  sodium_bin2hex(out, QP_AUTH_ID_HEX + 1, id, QP_AUTH_ID_SIZE);
}

void qp__auth_reply_refusal(qp_http_reply_t *r, int rc, const qp_auth_fail_t *fail,
                            const char *path) {
  if (rc == QP_ENOMEM || fail->code == NULL) {
    qp_http_reply_fail(r, 500, "internal", "", "out of memory while verifying");
    return;
  }
  qp_http_error_t err = {0};
  qp_http_error_set(&err, 400, fail->code, path, "%s", fail->message);
  qp_http_reply_error(r, &err);
}

void qp__auth_reply_store(qp_http_reply_t *r, int rc, const char *what) {
  if (rc == QP_ENOSPC)
    qp_http_reply_fail(r, 503, "disk_full", "", "the disk holding the auth store is full");
  else
    qp_http_reply_fail(r, 500, "internal", "", what);
}

int64_t qp__auth_now_s(void) { return (int64_t)(qp_clock_wall_ns() / 1000000000u); }

json_t *qp__auth_time_json(int64_t unix_s) {
  char buf[32];
  qp_http_utc_format(unix_s, buf, sizeof buf);
  return json_string(buf);
}

bool qp__auth_b64_member(const json_t *obj, const char *name, const char *path, uint8_t *out,
                         size_t max, size_t *len, qp_http_reply_t *r) {
  const char *text = NULL;
  if (!qp_http_member_string(obj, name, path, 4 * max / 3 + 4, true, &text, r)) return false;
  int rc = qp__auth_b64url_decode(text, out, max, len);
  if (rc == 0) return true;
  qp_http_error_t err = {0};
  qp_http_error_set(&err, 400, "invalid_value", path, "%s must be base64url of at most %zu bytes",
                    name, max);
  qp_http_reply_error(r, &err);
  return false;
}
