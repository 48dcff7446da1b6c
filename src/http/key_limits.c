/*
 * key_limits.c - what an API key may do beyond its scopes: when it stops
 * working, which ledgers it may touch and how many requests a second it
 * may make (docs/http.md, "Keys: expiry, ledgers, rate limits").
 *
 * These are pure functions over qp_http_key_limits_t, shared by the key
 * store (which checks limits on create and on load), `quipu keys` (which
 * parses --ledgers and prints limits) and the server (which refuses an
 * expired key and names the allowed ledgers in a 403).  The token bucket
 * that enforces the rate is in ratelimit.c.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http/http_int.h"
#include "base/assert.h"
#include "base/err.h"

#define LEDGER_DIGITS_MAX 10u /* 4294967295 */

static int fail(char *detail, size_t size, const char *message) {
  if (detail != NULL && size > 0) snprintf(detail, size, "%s", message);
  return QP_EINVAL;
}

int qp_http_key_limits_check(const qp_http_key_limits_t *l, char *detail, size_t detail_size) {
  if (l->expires_s < 0 || l->expires_s > QP_HTTP_KEY_EXPIRES_MAX_S)
    return fail(detail, detail_size,
                "expires: must be unix seconds from 0 (never) to 253402300799 (9999-12-31)");
  if (l->ledgers_count > QP_HTTP_KEY_LEDGERS_MAX)
    return fail(detail, detail_size, "ledgers: at most 64 ledgers per key");
  for (uint32_t i = 0; i < l->ledgers_count; i++) {
    if (l->ledgers[i] == 0)
      return fail(detail, detail_size, "ledgers: ledger numbers run from 1 to 4294967295");
    for (uint32_t j = 0; j < i; j++)
      if (l->ledgers[j] == l->ledgers[i])
        return fail(detail, detail_size, "ledgers: a ledger is listed twice");
  }
  if (l->rate_per_s > QP_HTTP_KEY_RATE_MAX)
    return fail(detail, detail_size, "rate: at most 1000000 requests per second (0 = unlimited)");
  if (l->burst > QP_HTTP_KEY_RATE_MAX)
    return fail(detail, detail_size, "burst: at most 1000000 requests");
  if (l->burst != 0 && l->rate_per_s == 0)
    return fail(detail, detail_size, "burst: needs a rate (a burst alone limits nothing)");
  return 0;
}

/* One entry of a ledger list, [start, end): a decimal number 1..2^32-1
 * without leading zeros, or false. */
static bool parse_ledger(const char *start, const char *end, uint32_t *out) {
  size_t n = (size_t)(end - start);
  if (n == 0 || n > LEDGER_DIGITS_MAX || start[0] == '0') return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (start[i] < '0' || start[i] > '9') return false;
    v = v * 10u + (uint64_t)(start[i] - '0');
  }
  if (v == 0 || v > UINT32_MAX) return false;
  *out = (uint32_t)v;
  return true;
}

int qp_http_ledgers_parse(const char *text, uint32_t out[QP_HTTP_KEY_LEDGERS_MAX],
                          uint32_t *count_out, char *detail, size_t detail_size) {
  *count_out = 0;
  uint32_t count = 0;
  const char *p = text;
  for (;;) {
    const char *end = strchr(p, ',');
    if (end == NULL) end = p + strlen(p);
    uint32_t ledger = 0;
    if (!parse_ledger(p, end, &ledger)) {
      if (detail != NULL && detail_size > 0)
        snprintf(detail, detail_size,
                 "'%.*s' is not a ledger number: give decimal numbers from 1 to 4294967295, "
                 "without leading zeros, separated by commas (\"1,2,840\")",
                 (int)(end - p > 24 ? 24 : end - p), p);
      return QP_EINVAL;
    }
    if (count == QP_HTTP_KEY_LEDGERS_MAX)
      return fail(detail, detail_size, "at most 64 ledgers per key");
    for (uint32_t j = 0; j < count; j++)
      if (out[j] == ledger) {
        if (detail != NULL && detail_size > 0)
          snprintf(detail, detail_size, "ledger %u is listed twice", ledger);
        return QP_EINVAL;
      }
    out[count++] = ledger;
    if (*end == '\0') break;
    p = end + 1;
  }
  *count_out = count;
  return 0;
}

void qp_http_ledgers_format(const uint32_t *ledgers, uint32_t count, const char *sep, char *buf,
                            size_t size) {
  QP_ASSERT(size >= 4);
  size_t used = 0;
  buf[0] = '\0';
  for (uint32_t i = 0; i < count; i++) {
    int n = snprintf(buf + used, size - used, "%s%u", i == 0 ? "" : sep, ledgers[i]);
    if (n < 0 || (size_t)n >= size - used) { /* does not fit: end in "..." */
      size_t keep = used + 3 < size ? used : size - 4;
      memcpy(buf + keep, "...", 4);
      return;
    }
    used += (size_t)n;
  }
}

bool qp_http_key_expired(const qp_http_key_t *key, int64_t now_s) {
  return key->limits.expires_s != 0 && now_s >= key->limits.expires_s;
}

void qp_http_utc_format(int64_t unix_s, char *buf, size_t size) {
  time_t t = (time_t)unix_s;
  struct tm tm;
  if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(buf, size, "?");
}
