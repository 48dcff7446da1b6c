/*
 * scopes.c - what an API key may do.  Scopes are strings owned by the
 * modules ("ledger:read", "chain:submit", "payments:merchant"); the core
 * only knows "admin", which grants everything.  A key stores its scopes as
 * a comma-separated list, so a scope added by a new module needs no change
 * to the key file's format, and a key naming a scope of a module this
 * build does not have simply grants nothing there.
 */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "http/http_int.h"

static bool scope_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == ':';
}

bool qp__http_scopes_wellformed(const char *text) {
  size_t len = strlen(text);
  if (len == 0 || len >= QP_HTTP_SCOPES_TEXT_MAX) return false;
  size_t run = 0;
  for (size_t i = 0; i <= len; i++) {
    if (text[i] == ',' || text[i] == '\0') {
      if (run == 0 || run >= QP_HTTP_SCOPE_NAME_MAX) return false;
      run = 0;
    } else if (scope_char(text[i])) {
      run++;
    } else {
      return false;
    }
  }
  return true;
}

/* Is the n-byte name among the comma-separated list `have`? */
static bool list_has(const char *have, const char *name, size_t n) {
  const char *p = have;
  while (*p != '\0') {
    size_t m = strcspn(p, ",");
    if (m == n && memcmp(p, name, n) == 0) return true;
    p += m;
    if (*p == ',') p++;
  }
  return false;
}

bool qp_http_scopes_grant(const char *have, const char *need) {
  if (have == NULL) return false;
  if (list_has(have, QP_HTTP_SCOPE_ADMIN, strlen(QP_HTTP_SCOPE_ADMIN))) return true;
  if (need == NULL || need[0] == '\0') return true;
  return list_has(have, need, strlen(need));
}

/* "admin, ledger:read, …" into buf. */
static void known_list(const qp_http_scope_t *known, uint32_t count, char *buf, size_t size) {
  size_t used = (size_t)snprintf(buf, size, "%s", QP_HTTP_SCOPE_ADMIN);
  for (uint32_t i = 0; i < count && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, ", %s", known[i].name);
}

int qp_http_scopes_check(const char *text, const qp_http_scope_t *known, uint32_t count,
                         char *detail, size_t detail_size) {
  char list[1024];
  known_list(known, count, list, sizeof list);
  if (text == NULL || text[0] == '\0' || strlen(text) >= QP_HTTP_SCOPES_TEXT_MAX) {
    snprintf(detail, detail_size, "give at least one scope (at most %u bytes in all); known: %s",
             QP_HTTP_SCOPES_TEXT_MAX - 1, list);
    return QP_EINVAL;
  }
  const char *p = text;
  do {
    size_t n = strcspn(p, ",");
    bool ok = n > 0 && n == strlen(QP_HTTP_SCOPE_ADMIN) && memcmp(p, QP_HTTP_SCOPE_ADMIN, n) == 0;
    for (uint32_t i = 0; !ok && i < count; i++)
      ok = strlen(known[i].name) == n && memcmp(known[i].name, p, n) == 0;
    if (!ok) {
      snprintf(detail, detail_size, "unknown scope '%.*s'; known scopes: %s",
               (int)(n > 64 ? 64 : n), p, list);
      return QP_EINVAL;
    }
    p += n;
    if (*p == ',') {
      p++;
      if (*p == '\0') {
        snprintf(detail, detail_size, "empty scope after a comma; known scopes: %s", list);
        return QP_EINVAL;
      }
    }
  } while (*p != '\0');
  return 0;
}
