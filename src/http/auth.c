/*
 * auth.c - who is calling: the API key in "Authorization: Bearer <key>",
 * checked against the data directory's key store (keys.c).  The store is
 * cached in memory and reloaded when the file changes (looked at no more
 * than every QP__HTTP_KEYS_CHECK_MS, and at once when a key does not
 * match: one stat(), a reload only when the file changed), so `quipu keys
 * create` and a merchant key made over the API work at once, and `quipu
 * keys revoke` takes effect within a fraction of a second.
 *
 * A key that matches may still be refused: past its expiry (401
 * key_expired) or over its rate (429 rate_limited, ratelimit.c).  The
 * buckets live beside the cached keys, under the same mutex authentication
 * already takes, and are carried over by key id when the file is reloaded;
 * there is one per key, and keys are at most QP_HTTP_KEYS_MAX.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "http/http_int.h"

/* The states for keys[0, count): each key's from the old cache when the
 * old cache had its id, else fresh.  The file is append-only under `quipu
 * keys` (create appends, revoke flips a flag), so a key is almost always at
 * the same row as before and the scan is the rare fallback.  NULL when out
 * of memory. */
static qp__http_keystate_t *carry_states(const qp__http_keycache_t *c, const qp_http_key_t *keys,
                                         uint32_t count) {
  qp__http_keystate_t *states = qp_calloc(count > 0 ? count : 1, sizeof *states);
  if (states == NULL) return NULL;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t j = i;
    if (j >= c->count || strcmp(c->keys[j].id, keys[i].id) != 0)
      for (j = 0; j < c->count && strcmp(c->keys[j].id, keys[i].id) != 0; j++) continue;
    if (j < c->count) states[i] = c->states[j];
  }
  return states;
}

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
  /* Buckets and counters survive the reload: a rate-limited client cannot
   * refill its bucket by waiting for someone to run `quipu keys`. */
  qp__http_keystate_t *states = carry_states(c, keys, count);
  if (states == NULL) {
    qp_free(keys);
    snprintf(detail, detail_size, "out of memory reloading the API keys");
    return QP_ENOMEM;
  }
  qp_free(c->keys);
  qp_free(c->states);
  c->keys = keys;
  c->states = states;
  c->count = count;
  c->file_ino = (uint64_t)st.st_ino;
  c->file_mtime_ns = mtime_ns;
  c->file_size = (int64_t)st.st_size;
  if (!force) QP_LOG_INFO("http", "API keys reloaded: %u keys", count);
  return 0;
}

/* The key text of "Authorization: Bearer <key>" (blanks around it
 * trimmed): false with err set (401) when there is no such header. */
static bool bearer_key(struct MHD_Connection *conn, const char **key, size_t *len,
                       qp_http_error_t *err) {
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
  const char *k = h + 7;
  while (*k == ' ') k++;
  size_t n = strlen(k);
  while (n > 0 && k[n - 1] == ' ') n--;
  *key = k;
  *len = n;
  return true;
}

/* Applies key i's expiry and rate limit at (wall_s, mono_ns) and copies it
 * into *caller.  Called with the cache mutex held. */
static bool admit_key(qp__http_keycache_t *c, uint32_t i, int64_t wall_s, uint64_t mono_ns,
                      qp__http_caller_t *caller, qp_http_error_t *err, uint32_t *retry_after_s) {
  const qp_http_key_t *k = &c->keys[i];
  const qp_http_key_limits_t *l = &k->limits;
  if (qp_http_key_expired(k, wall_s)) {
    char when[32];
    qp_http_utc_format(l->expires_s, when, sizeof when);
    qp_http_error_set(err, 401, "key_expired", "",
                      "the API key '%s' expired at %s; ask for a new one", k->name, when);
    return false;
  }
  if (l->rate_per_s != 0) {
    uint32_t burst = l->burst != 0 ? l->burst : l->rate_per_s;
    if (!qp__http_bucket_take(&c->states[i].bucket, l->rate_per_s, burst, mono_ns,
                              retry_after_s)) {
      c->states[i].rate_limited++;
      qp_http_error_set(err, 429, "rate_limited", "",
                        "the API key '%s' may make %u requests a second (%u at once); retry "
                        "after %u s",
                        k->name, l->rate_per_s, burst, *retry_after_s);
      return false;
    }
  }
  memcpy(caller->key_id, k->id, sizeof caller->key_id);
  snprintf(caller->scopes, sizeof caller->scopes, "%s", k->scopes);
  caller->ledgers_count = l->ledgers_count;
  memcpy(caller->ledgers, l->ledgers, l->ledgers_count * sizeof l->ledgers[0]);
  return true;
}

bool qp__http_authenticate(qp_http_server_t *s, struct MHD_Connection *conn,
                           qp__http_caller_t *caller, qp_http_error_t *err,
                           uint32_t *retry_after_s) {
  memset(caller, 0, sizeof *caller);
  *retry_after_s = 0;
  if (s->options.insecure_no_auth) {
    snprintf(caller->scopes, sizeof caller->scopes, "%s", QP_HTTP_SCOPE_ADMIN);
    return true;
  }
  const char *key = NULL;
  size_t len = 0;
  if (!bearer_key(conn, &key, &len, err)) return false;
  /* Read before the lock; the bucket copes with a time older than its last. */
  int64_t wall_s = (int64_t)(qp_clock_wall_ns() / 1000000000u);
  uint64_t mono_ns = qp_clock_mono_ns();
  pthread_mutex_lock(&s->keys.mutex);
  char detail[512];
  qp__http_keys_refresh(&s->keys, s->data_dir, false, detail, sizeof detail);
  int i = qp_http_keys_match(s->keys.keys, s->keys.count, key, len);
  if (i < 0) { /* a key made a moment ago (a merchant key): look at the file now */
    s->keys.checked_ns = 0;
    qp__http_keys_refresh(&s->keys, s->data_dir, false, detail, sizeof detail);
    i = qp_http_keys_match(s->keys.keys, s->keys.count, key, len);
  }
  bool ok = i >= 0 && admit_key(&s->keys, (uint32_t)i, wall_s, mono_ns, caller, err,
                                retry_after_s);
  pthread_mutex_unlock(&s->keys.mutex);
  if (i < 0)
    qp_http_error_set(err, 401, "unauthorized", "",
                      "the API key is not valid (unknown or revoked)");
  return ok;
}

void qp__http_keys_metrics(qp_http_server_t *s, qp_http_text_t *t) {
  qp_http_metric_header(t, "quipu_http_rate_limited_total", "counter",
                        "Requests refused 429 rate_limited, by API key id.");
  pthread_mutex_lock(&s->keys.mutex);
  for (uint32_t i = 0; i < s->keys.count; i++) {
    uint64_t n = s->keys.states[i].rate_limited;
    if (s->keys.keys[i].limits.rate_per_s == 0 && n == 0) continue;
    qp_http_text_put(t, "quipu_http_rate_limited_total{key=\"%s\"} %llu\n", s->keys.keys[i].id,
                     (unsigned long long)n);
  }
  pthread_mutex_unlock(&s->keys.mutex);
}
