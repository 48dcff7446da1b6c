/*
 * idempotency.c - the Idempotency-Key convention of every payments POST
 * (docs/payments.md, "Idempotency"): the first successful response is
 * stored for idempotency_ttl_s per (API key, Idempotency-Key) with a hash of
 * the method, path and body, in the same LMDB transaction as the change it
 * reports (store.c), so it survives a restart exactly when the change does.
 * A retry with the same body gets the stored response again; with another
 * body 422 idempotency_key_reused; while the first is still running 409
 * idempotency_key_in_flight.  Refusals (4xx) are not stored: they changed
 * nothing, and a retry runs again.
 *
 * Why the lock covers both the in-flight check and the store lookup: a
 * request ends (frees its slot) only after its response is committed, so a
 * retry that finds no slot under the lock is sure to find the response.
 */
#include <sodium.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "payments/payments_int.h"

#define HEADER "Idempotency-Key"
#define RECORD_HEAD (8 + 4 + 32) /* created_s, status, body hash */

static bool header_ok(const char *v) {
  size_t n = strlen(v);
  if (n == 0 || n > QP_PAY_IDEM_KEY_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if (v[i] < 0x21 || v[i] > 0x7E) return false;
  return true;
}

static void hashes(qp_http_request_t *req, const char *header, qp__pay_idem_t *idem) {
  crypto_hash_sha256_state st;
  const char *key_id = qp_http_caller_key_id(req);
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, (const uint8_t *)key_id, strlen(key_id) + 1);
  crypto_hash_sha256_update(&st, (const uint8_t *)header, strlen(header));
  crypto_hash_sha256_final(&st, idem->key);
  size_t len = 0;
  const char *body = qp_http_body(req, &len);
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, (const uint8_t *)qp_http_method(req),
                            strlen(qp_http_method(req)) + 1);
  crypto_hash_sha256_update(&st, (const uint8_t *)qp_http_path(req),
                            strlen(qp_http_path(req)) + 1);
  if (body != NULL) crypto_hash_sha256_update(&st, (const uint8_t *)body, len);
  crypto_hash_sha256_final(&st, idem->body_hash);
}

static uint64_t load_be(const uint8_t *in, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v = (v << 8) | in[i];
  return v;
}

/* The stored record of idem, if live at now_s: REPLAY (with its status and
 * body), REUSED, or NEW when there is none. */
static int stored(qp__pay_t *p, const qp__pay_idem_t *idem, int64_t now_s,
                  qp__pay_idem_state_t *state, unsigned *status, char **body) {
  uint8_t *rec = NULL;
  size_t len = 0;
  *state = QP__PAY_IDEM_NEW;
  int rc = qp__pay_store_get_raw(p, p->idempotency, idem->key, sizeof idem->key, &rec, &len);
  if (rc == QP_ENOTFOUND) return 0;
  if (rc == 0 && len < RECORD_HEAD) rc = QP_ECORRUPT;
  if (rc != 0) {
    qp_free(rec);
    return rc;
  }
  int64_t created = (int64_t)load_be(rec, 8);
  if (now_s - created >= (int64_t)p->settings.idempotency_ttl_s) {
    qp_free(rec); /* expired: as if never used (the sweep deletes it) */
    return 0;
  }
  if (sodium_memcmp(rec + 12, idem->body_hash, 32) != 0) {
    *state = QP__PAY_IDEM_REUSED;
    qp_free(rec);
    return 0;
  }
  *state = QP__PAY_IDEM_REPLAY;
  *status = (unsigned)load_be(rec + 8, 4);
  memmove(rec, rec + RECORD_HEAD, len - RECORD_HEAD + 1); /* with the NUL get_raw added */
  *body = (char *)rec;
  return 0;
}

static int slot_find(qp__pay_t *p, const uint8_t key[32]) {
  for (uint32_t i = 0; i < QP_PAY_INFLIGHT_MAX; i++)
    if (p->inflight_used[i] && memcmp(p->inflight[i], key, 32) == 0) return (int)i;
  return -1;
}

static int slot_take(qp__pay_t *p, const uint8_t key[32]) {
  for (uint32_t i = 0; i < QP_PAY_INFLIGHT_MAX; i++)
    if (!p->inflight_used[i]) {
      p->inflight_used[i] = true;
      memcpy(p->inflight[i], key, 32);
      return (int)i;
    }
  return -1;
}

int qp__pay_idem_claim(qp__pay_t *p, qp__pay_idem_t *idem, int64_t now_s,
                       qp__pay_idem_state_t *state, unsigned *status, char **body) {
  int rc = 0;
  *body = NULL;
  pthread_mutex_lock(&p->lock);
  if (slot_find(p, idem->key) >= 0) {
    *state = QP__PAY_IDEM_IN_FLIGHT;
  } else {
    rc = stored(p, idem, now_s, state, status, body);
    int slot = rc == 0 && *state == QP__PAY_IDEM_NEW ? slot_take(p, idem->key) : 0;
    if (slot < 0) *state = QP__PAY_IDEM_FULL;
    if (rc == 0 && *state == QP__PAY_IDEM_NEW) {
      idem->active = true;
      idem->slot = (uint32_t)slot;
    }
  }
  pthread_mutex_unlock(&p->lock);
  return rc;
}

static void reply_state(qp_http_reply_t *r, qp__pay_idem_state_t state) {
  if (state == QP__PAY_IDEM_REUSED) {
    qp_http_reply_fail(r, 422, "idempotency_key_reused", HEADER,
                       "this Idempotency-Key was used with another request (method, path or "
                       "body); use a new key for a new request");
  } else if (state == QP__PAY_IDEM_IN_FLIGHT) {
    qp_http_reply_fail(r, 409, "idempotency_key_in_flight", HEADER,
                       "a request with this Idempotency-Key is still running; retry later");
    r->retry_after_s = 1;
  } else {
    qp_http_reply_fail(r, 503, "overloaded", HEADER, "too many idempotent requests at once");
  }
}

bool qp__pay_idem_begin(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r,
                        qp__pay_idem_t *idem) {
  memset(idem, 0, sizeof *idem);
  const char *header = qp_http_header(req, HEADER);
  if (header == NULL) return true;
  if (!header_ok(header)) {
    qp_http_reply_fail(r, 400, "invalid_idempotency_key", HEADER,
                       "Idempotency-Key must be 1 to 255 printable ASCII characters "
                       "without spaces");
    return false;
  }
  hashes(req, header, idem);
  qp__pay_idem_state_t state = QP__PAY_IDEM_NEW;
  unsigned status = 0;
  char *body = NULL;
  int rc = qp__pay_idem_claim(p, idem, qp__pay_now_s(), &state, &status, &body);
  if (rc != 0) qp__pay_reply_store(r, rc);
  else if (state == QP__PAY_IDEM_REPLAY) qp_http_reply_text(r, status, body, NULL);
  else if (state != QP__PAY_IDEM_NEW) reply_state(r, state);
  if (rc == 0 && state != QP__PAY_IDEM_NEW)
    atomic_fetch_add(&p->idem[state - QP__PAY_IDEM_REPLAY], 1);
  return rc == 0 && state == QP__PAY_IDEM_NEW;
}

void qp__pay_idem_end(qp__pay_t *p, qp__pay_idem_t *idem) {
  if (!idem->active) return;
  pthread_mutex_lock(&p->lock);
  p->inflight_used[idem->slot] = false;
  pthread_mutex_unlock(&p->lock);
}

typedef struct {
  int64_t now_s;
  int64_t ttl_s;
} idem_age_t;

/* A record (created: its value's first 8 bytes, big-endian) past the TTL. */
static bool idem_gone(void *ctx, const MDB_val *k, const MDB_val *v) {
  const idem_age_t *age = ctx;
  (void)k;
  int64_t created = v->mv_size >= 8 ? (int64_t)load_be(v->mv_data, 8) : 0;
  return age->now_s - created >= age->ttl_s;
}

void qp__pay_idem_sweep(qp__pay_t *p, int64_t now_s) {
  idem_age_t age = {now_s, (int64_t)p->settings.idempotency_ttl_s};
  (void)qp__pay_store_sweep(p, p->idempotency, idem_gone, &age);
}
