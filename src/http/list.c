/*
 * list.c - the conventions every cursor-paginated list route shares
 * (GET /v1/orders, /v1/refunds, /v1/payment-intents, …): the query
 * parameters limit (1..500, default 50), cursor (the opaque next_cursor of
 * the previous page: the base64url text of the last index key looked at),
 * created_from and created_to (unix seconds: from inclusive, to exclusive),
 * their errors, and the answer {"object":"list","data":[…],"next_cursor":…}.
 * A route adds its own filters (status, merchant_id, …) around these.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/assert.h"
#include "http/http.h"

#define SECONDS_MAX 253402300799LL /* 9999-12-31T23:59:59Z */
#define CURSOR_TEXT_MAX                                                                            \
  sodium_base64_ENCODED_LEN(QP_HTTP_LIST_CURSOR_MAX, sodium_base64_VARIANT_URLSAFE_NO_PADDING)

void qp_http_list_init(qp_http_list_t *l, size_t cursor_size) {
  QP_ASSERT(cursor_size >= 8 && cursor_size <= QP_HTTP_LIST_CURSOR_MAX);
  memset(l, 0, sizeof *l);
  l->limit = QP_HTTP_LIST_LIMIT_DEFAULT;
  l->cursor_size = cursor_size;
}

bool qp_http_list_bad(qp_http_list_t *l, const char *key, const char *what) {
  qp_http_error_set(&l->err, 400, "invalid_parameter", key, "query parameter %s %s", key, what);
  return false;
}

bool qp_http_list_unknown(qp_http_list_t *l, const char *key, const char *allowed) {
  qp_http_error_set(&l->err, 400, "unknown_parameter", key[0] != '\0' ? key : "query",
                    "unknown query parameter \"%.40s\"; allowed: %s", key, allowed);
  return false;
}

static bool number(const char *v, long long min, long long max, long long *out) {
  char *end = NULL;
  if (v == NULL || *v < '0' || *v > '9' || strlen(v) > 15) return false;
  *out = strtoll(v, &end, 10);
  return *end == '\0' && *out >= min && *out <= max;
}

static bool cursor(qp_http_list_t *l, const char *key, const char *v) {
  size_t len = 0;
  if (v == NULL || strlen(v) >= CURSOR_TEXT_MAX ||
      sodium_base642bin(l->cursor, l->cursor_size, v, strlen(v), NULL, &len, NULL,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      len != l->cursor_size)
    return qp_http_list_bad(l, key, "must be a next_cursor this API returned");
  l->has_cursor = true;
  return true;
}

int qp_http_list_param(qp_http_list_t *l, const char *key, const char *v) {
  long long n = 0;
  if (strcmp(key, "limit") == 0) {
    if (!number(v, 1, QP_HTTP_LIST_LIMIT_MAX, &n)) {
      qp_http_list_bad(l, key, "must be 1 to 500");
      return -1;
    }
    l->limit = (uint32_t)n;
    return 1;
  }
  if (strcmp(key, "created_from") == 0 || strcmp(key, "created_to") == 0) {
    if (!number(v, 0, SECONDS_MAX, &n)) {
      qp_http_list_bad(l, key, "must be unix seconds");
      return -1;
    }
    *(key[8] == 'f' ? &l->from_ns : &l->to_ns) = (uint64_t)n * 1000000000u;
    return 1;
  }
  if (strcmp(key, "cursor") == 0) return cursor(l, key, v) ? 1 : -1;
  return 0;
}

bool qp_http_list_check(qp_http_list_t *l) {
  if (l->to_ns == 0 || l->to_ns > l->from_ns) return true;
  return qp_http_list_bad(l, "created_to", "must be after created_from");
}

void qp_http_list_reply(qp_http_reply_t *r, struct json_t *data, const uint8_t *next,
                        size_t next_size) {
  QP_ASSERT(next == NULL || next_size <= QP_HTTP_LIST_CURSOR_MAX);
  char text[CURSOR_TEXT_MAX];
  if (next != NULL)
    sodium_bin2base64(text, sizeof text, next, next_size,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  qp_http_reply_json(r, 200, json_pack("{s:s, s:o, s:s?}", "object", "list", "data", data,
                                       "next_cursor", next != NULL ? text : NULL));
}
