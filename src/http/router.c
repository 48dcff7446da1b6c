/*
 * router.c - matching a method and path against the route table.
 *
 * A pattern is a sequence of "/"-separated segments, each literal or a
 * named segment "{name}" that matches one non-empty path segment.  The
 * table has no fixed size: it is built once at start from every module's
 * routes and never changes afterwards, so request threads read it without
 * a lock.  When several patterns match, the one with the most literal
 * segments wins ("/v1/accounts/lookup" over "/v1/accounts/{id}"); a path
 * that some pattern matches under another method is a 405 with the allowed
 * methods, anything else a 404.  Tables are small (tens of routes) and a
 * linear scan of them costs well under a microsecond.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "http/http_int.h"

int qp__http_pattern_check(const char *pattern, uint32_t *literals, uint32_t *params) {
  *literals = *params = 0;
  if (pattern == NULL || pattern[0] != '/') return QP_EINVAL;
  const char *p = pattern + 1;
  while (*p != '\0') {
    size_t n = strcspn(p, "/");
    if (n == 0) return QP_EINVAL; /* "//" */
    if (p[0] == '{') {
      if (n < 3 || p[n - 1] != '}' || n - 2 >= QP_HTTP_PARAM_NAME_MAX) return QP_EINVAL;
      if (memchr(p + 1, '{', n - 2) != NULL || memchr(p + 1, '}', n - 2) != NULL) return QP_EINVAL;
      if (++*params > QP_HTTP_ROUTE_PARAMS_MAX) return QP_EINVAL;
    } else {
      if (memchr(p, '{', n) != NULL || memchr(p, '}', n) != NULL) return QP_EINVAL;
      ++*literals;
    }
    p += n;
    if (*p == '/') p++; /* a trailing "/" is kept: "/wallet/" is not "/wallet" */
  }
  return 0;
}

void qp__http_params_free(qp__http_params_t *p) {
  for (uint32_t i = 0; i < p->count; i++) qp_free(p->values[i]);
  memset(p, 0, sizeof *p);
}

/* Does path match pattern?  With params != NULL, records the named
 * segments (their values are copied; NULL copies mean out of memory and
 * are reported as no match by the caller via *oom). */
static bool pattern_match(const char *pattern, const char *path, qp__http_params_t *params,
                          bool *oom) {
  const char *p = pattern, *u = path;
  while (*p != '\0' && *u != '\0') {
    if (p[0] == '{' && p[-1] == '/') {
      size_t name_len = strcspn(p, "}");
      size_t value_len = strcspn(u, "/");
      if (value_len == 0) return false;
      if (params != NULL) {
        uint32_t i = params->count++;
        QP_ASSERT(i < QP_HTTP_ROUTE_PARAMS_MAX && name_len - 1 < QP_HTTP_PARAM_NAME_MAX);
        memcpy(params->names[i], p + 1, name_len - 1);
        params->names[i][name_len - 1] = '\0';
        params->values[i] = qp_malloc(value_len + 1);
        if (params->values[i] == NULL) {
          *oom = true;
          return false;
        }
        memcpy(params->values[i], u, value_len);
        params->values[i][value_len] = '\0';
      }
      p += name_len + 1;
      u += value_len;
      continue;
    }
    if (*p != *u) return false;
    p++;
    u++;
  }
  return *p == '\0' && *u == '\0';
}

/* Appends method to the Allow list unless it is there already. */
static void allow_add(char *allow, size_t size, const char *method) {
  size_t n = strlen(method), have = strlen(allow);
  for (const char *a = allow; (a = strstr(a, method)) != NULL; a += n)
    if ((a == allow || a[-1] == ' ') && (a[n] == ',' || a[n] == '\0')) return;
  if (have + n + 3 > size) return;
  if (have > 0) {
    memcpy(allow + have, ", ", 2);
    have += 2;
  }
  memcpy(allow + have, method, n + 1);
}

int qp__http_match(const qp__http_table_t *t, const char *method, const char *path,
                   qp__http_params_t *params, char *allow, size_t allow_size) {
  memset(params, 0, sizeof *params);
  allow[0] = '\0';
  int best = -1;
  int64_t best_literals = -1;
  for (uint32_t i = 0; i < t->count; i++) {
    const qp__http_entry_t *e = &t->entries[i];
    if (!pattern_match(e->route.pattern, path, NULL, NULL)) continue;
    if ((int64_t)e->literals < best_literals) continue;
    if ((int64_t)e->literals > best_literals) {
      allow[0] = '\0'; /* a more specific pattern: only its methods count */
      best = -1;
      best_literals = e->literals;
    }
    allow_add(allow, allow_size, e->route.method);
    if (best < 0 && strcmp(e->route.method, method) == 0) best = (int)i;
  }
  if (best_literals < 0) return -1;
  if (best < 0) return -2;
  bool oom = false;
  if (!pattern_match(t->entries[best].route.pattern, path, params, &oom)) {
    QP_ASSERT(oom); /* it matched above */
    qp__http_params_free(params);
    return -3;
  }
  return best;
}
