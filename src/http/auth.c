/*
 * auth.c - who is calling: the API key in "Authorization: Bearer <key>",
 * checked against the data directory's key store (keys.c).  The store is
 * cached in memory and reloaded when the file changes (looked at no more
 * than every QP__HTTP_KEYS_CHECK_MS), so `quipu keys create|revoke` takes
 * effect on a running node within a fraction of a second.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "http/http_int.h"

int qp__http_keys_refresh(qp__http_keycache_t *c, const char *data_dir, bool force, char *detail,
                          size_t detail_size) {
  uint64_t now = qp_clock_mono_ns();
  if (!force && now - c->checked_ns < (uint64_t)QP__HTTP_KEYS_CHECK_MS * 1000000u) return 0;
  c->checked_ns = now;
  char path[1200];
  if (qp_http_keys_path(data_dir, path, sizeof path) != 0) return 0;
  struct stat st;
  if (stat(path, &st) != 0) memset(&st, 0, sizeof st);
  int64_t mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
  if (!force && (uint64_t)st.st_ino == c->file_ino && mtime_ns == c->file_mtime_ns &&
      (int64_t)st.st_size == c->file_size)
    return 0;
  qp_http_key_t *keys = NULL;
  uint32_t count = 0;
  int rc = qp_http_keys_load(data_dir, &keys, &count, detail, detail_size);
  if (rc != 0) {
    /* Keep the keys we had: a damaged file must not lock everyone out, nor
     * let anyone in. */
    if (!force)
      QP_LOG_ERROR("http", "cannot reload API keys (keeping the previous set): %s", detail);
    return rc;
  }
  qp_free(c->keys);
  c->keys = keys;
  c->count = count;
  c->file_ino = (uint64_t)st.st_ino;
  c->file_mtime_ns = mtime_ns;
  c->file_size = (int64_t)st.st_size;
  if (!force) QP_LOG_INFO("http", "API keys reloaded: %u keys", count);
  return 0;
}

/* Authenticates the request: copies the caller's scopes into scopes, or
 * returns false with err set (401). */
bool qp__http_authenticate(qp_http_server_t *s, struct MHD_Connection *conn, char *scopes,
                           size_t scopes_size, qp_http_error_t *err) {
  if (s->options.insecure_no_auth) {
    snprintf(scopes, scopes_size, "%s", QP_HTTP_SCOPE_ADMIN);
    return true;
  }
  const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (h == NULL) {
    qp_http_error_set(err, 401, "unauthorized", "", "missing Authorization: Bearer <api key>");
    return false;
  }
  if (strncasecmp(h, "Bearer ", 7) != 0) {
    qp_http_error_set(err, 401, "unauthorized", "",
                      "the Authorization header must be 'Bearer <api key>'");
    return false;
  }
  const char *key = h + 7;
  while (*key == ' ') key++;
  size_t len = strlen(key);
  while (len > 0 && key[len - 1] == ' ') len--;
  pthread_mutex_lock(&s->keys.mutex);
  char detail[512];
  qp__http_keys_refresh(&s->keys, s->data_dir, false, detail, sizeof detail);
  int i = qp_http_keys_match(s->keys.keys, s->keys.count, key, len);
  if (i >= 0) snprintf(scopes, scopes_size, "%s", s->keys.keys[i].scopes);
  pthread_mutex_unlock(&s->keys.mutex);
  if (i < 0) {
    qp_http_error_set(err, 401, "unauthorized", "",
                      "the API key is not valid (unknown or revoked)");
    return false;
  }
  return true;
}
