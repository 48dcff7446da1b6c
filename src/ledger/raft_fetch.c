/*
 * raft_fetch.c - the client side of GET /v1/cluster/journal: one page of
 * raw journal records from another replica (libcurl), for a replica that
 * catches up to a snapshot (raft_snapshot.c).  What the bytes are is
 * checked by the caller, through the journal's hash chain.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "base/alloc.h"
#include "base/err.h"
#include "ledger/raft_int.h"

#define FETCH_TIMEOUT_S 60L                 /* one page */
#define FETCH_CONNECT_TIMEOUT_MS 1000L      /* a replica that is down */
#define FETCH_BYTES_MAX ((size_t)64 << 20)  /* a page larger than this is refused */

typedef struct sink {
  uint8_t *data;
  size_t len, cap;
  bool too_big;
} sink_t;

static size_t sink_write(char *ptr, size_t size, size_t nmemb, void *ctx) {
  sink_t *s = ctx;
  size_t n = size * nmemb;
  if (s->len + n > FETCH_BYTES_MAX) {
    s->too_big = true;
    return 0;
  }
  if (s->len + n > s->cap) {
    size_t cap = s->cap ? s->cap : (size_t)1 << 20;
    while (cap < s->len + n) cap *= 2;
    uint8_t *more = qp_realloc(s->data, cap);
    if (more == NULL) return 0;
    s->data = more;
    s->cap = cap;
  }
  memcpy(s->data + s->len, ptr, n);
  s->len += n;
  return n;
}

int qp__raft_fetch_journal(const char *base_url, const char *key, uint64_t seq, uint64_t bytes,
                           const uint8_t hash[QP_HASH_SIZE], uint8_t **out, size_t *len,
                           long *status) {
  *out = NULL;
  *len = 0;
  *status = 0;
  char hex[2 * QP_HASH_SIZE + 1], url[QP_LEDGER_ADDRESS_MAX + 256], auth[400];
  sodium_bin2hex(hex, sizeof hex, hash, QP_HASH_SIZE);
  snprintf(url, sizeof url, "%s/v1/cluster/journal?after_seq=%llu&after_bytes=%llu&after_hash=%s",
           base_url, (unsigned long long)seq, (unsigned long long)bytes, hex);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
  CURL *h = curl_easy_init();
  if (h == NULL) return QP_ENOMEM;
  struct curl_slist *headers = curl_slist_append(NULL, auth);
  sink_t s = {0};
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, FETCH_TIMEOUT_S);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, FETCH_CONNECT_TIMEOUT_MS);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  CURLcode cc = curl_easy_perform(h);
  if (cc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  int rc = cc != CURLE_OK ? QP_EIO : *status == 200 ? 0 : *status == 409 ? QP_ECORRUPT : QP_EIO;
  if (rc != 0) {
    qp_free(s.data);
    return rc;
  }
  *out = s.data;
  *len = s.len;
  return 0;
}
