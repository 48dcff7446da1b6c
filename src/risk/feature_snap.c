/*
 * feature_snap.c - one feature's key map as bytes and back, for the risk
 * module's snapshot of feature state at a clean stop and for copying the
 * live state into a shadow ruleset (risk.h, qp_risk_state_save/load).
 * Little-endian fixed-width fields; a map's bytes are its key count, then
 * per key: hash, last bucket, key length and text, and by kind either the
 * (bucket, value) pairs of count/sum or the distinct state (distinct.c).
 * A loader trusts nothing: every length and bucket is checked, and bytes
 * that do not describe a valid map are QP_ECORRUPT.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/err.h"
#include "risk/feature_int.h"
#include "risk/risk_int.h"

void qp__risk_put(qp_buf_t *b, const void *data, size_t n) { qp_buf_append(b, data, n); }

void qp__risk_put_u64(qp_buf_t *b, uint64_t v) {
  uint8_t x[8];
  qp_store_u64(x, v);
  qp_buf_append(b, x, 8);
}

bool qp__risk_get(qp__risk_reader_t *r, void *out, size_t n) {
  if (r->bad || r->left < n) {
    r->bad = true;
    memset(out, 0, n);
    return false;
  }
  memcpy(out, r->p, n);
  r->p += n;
  r->left -= n;
  return true;
}

uint64_t qp__risk_get_u64(qp__risk_reader_t *r) {
  uint8_t x[8];
  qp__risk_get(r, x, 8);
  return qp_load_u64(x);
}

static void put_i128(qp_buf_t *b, __int128 v) {
  qp__risk_put_u64(b, (uint64_t)(unsigned __int128)v);
  qp__risk_put_u64(b, (uint64_t)((unsigned __int128)v >> 64));
}

static __int128 get_i128(qp__risk_reader_t *r) {
  uint64_t lo = qp__risk_get_u64(r), hi = qp__risk_get_u64(r);
  return (__int128)(((unsigned __int128)hi << 64) | lo);
}

static void entry_save(const qp__risk_fstate_t *fs, const entry_t *e, qp_buf_t *b) {
  qp__risk_put_u64(b, e->hash);
  qp__risk_put_u64(b, (uint64_t)e->last);
  qp__risk_put_u64(b, e->key_len);
  qp__risk_put(b, entry_key(fs, e), e->key_len);
  if (fs->kind == QP__RISK_DISTINCT) {
    qp__risk_distinct_save(&e->u.distinct, b);
    return;
  }
  const pair_t *p = entry_pairs(fs, e);
  qp__risk_put_u64(b, e->u.series.n);
  for (uint32_t i = 0; i < e->u.series.n; i++) {
    qp__risk_put_u64(b, (uint64_t)p[i].bucket);
    put_i128(b, p[i].v);
  }
}

void qp__risk_fstate_save(const qp__risk_fstate_t *fs, qp_buf_t *b) {
  qp__risk_put_u64(b, fs->count);
  for (uint32_t i = 0; i < fs->cap; i++)
    if (fs->slots[i].entry != NULL) entry_save(fs, fs->slots[i].entry, b);
}

/* The pairs of a count/sum entry, checked: buckets ascending, within the
 * window ending at `last`, total = their sum. */
static int series_load(const qp__risk_fstate_t *fs, entry_t **ep, qp__risk_reader_t *r) {
  uint64_t n = qp__risk_get_u64(r);
  if (r->bad || n > SERIES_MAX) return QP_ECORRUPT;
  uint32_t cap = SERIES_MIN;
  while (cap < n) cap *= 2;
  entry_t *e = *ep;
  entry_t *grown = qp_realloc(e, fs->entry_size + key_room(e->key_len) + cap * sizeof(pair_t));
  if (grown == NULL) return QP_ENOMEM;
  *ep = e = grown;
  e->u.series = (series_t){.n = (uint32_t)n, .cap = cap};
  pair_t *p = entry_pairs(fs, e);
  for (uint32_t i = 0; i < n; i++) {
    p[i] = (pair_t){.bucket = (int64_t)qp__risk_get_u64(r)};
    p[i].v = get_i128(r);
    bool order = i == 0 || p[i].bucket > p[i - 1].bucket;
    if (r->bad || !order || p[i].bucket > e->last || p[i].bucket <= e->last - QP_RISK_BUCKETS ||
        p[i].v > ((__int128)1 << 80) || p[i].v < -((__int128)1 << 80))
      return QP_ECORRUPT;
    e->u.series.total += p[i].v;
  }
  return 0;
}

/* Reads one entry into a new allocation; its place in the map is the
 * caller's. */
static int entry_load(const qp__risk_fstate_t *fs, qp__risk_reader_t *r, entry_t **out) {
  uint64_t hash = qp__risk_get_u64(r), last = qp__risk_get_u64(r), len = qp__risk_get_u64(r);
  if (r->bad || len > QP_RISK_STRING_BYTES_MAX || len > r->left || (int64_t)last < 0 ||
      (int64_t)last > QP_RISK_TIME_MAX)
    return QP_ECORRUPT;
  if (hash != qp__risk_hash(r->p, len)) return QP_ECORRUPT;
  entry_t *e = qp_calloc(1, fs->entry_size + key_room((uint32_t)len));
  if (e == NULL) return QP_ENOMEM;
  e->hash = hash;
  e->last = (int64_t)last;
  e->key_len = (uint32_t)len;
  qp__risk_get(r, entry_key(fs, e), len);
  int rc = fs->kind == QP__RISK_DISTINCT ? qp__risk_distinct_load(&e->u.distinct, r)
                                         : series_load(fs, &e, r);
  if (rc != 0) {
    qp_free(e);
    return rc;
  }
  *out = e;
  return 0;
}

static uint32_t slot_of(const qp__risk_fstate_t *fs, const entry_t *e) {
  uint32_t i = (uint32_t)e->hash & (fs->cap - 1);
  while (fs->slots[i].entry != NULL) i = (i + 1) & (fs->cap - 1);
  return i;
}

int qp__risk_fstate_load(qp__risk_fstate_t *fs, qp__risk_reader_t *r) {
  uint64_t n = qp__risk_get_u64(r);
  if (r->bad || fs->count != 0 || n > r->left / 24) return QP_ECORRUPT;
  uint32_t cap = fs->cap;
  while (cap / 4 < n + 1) cap *= 2;
  slot_t *slots = qp_calloc(cap, sizeof *slots);
  if (slots == NULL) return QP_ENOMEM;
  qp_free(fs->slots);
  fs->slots = slots;
  fs->cap = cap;
  for (uint64_t k = 0; k < n; k++) {
    entry_t *e;
    int rc = entry_load(fs, r, &e);
    if (rc != 0) return rc; /* the caller frees the whole state */
    uint32_t i = slot_of(fs, e);
    for (uint32_t j = (uint32_t)e->hash & (cap - 1); j != i; j = (j + 1) & (cap - 1))
      if (fs->slots[j].hash == e->hash && fs->slots[j].entry->key_len == e->key_len &&
          memcmp(entry_key(fs, fs->slots[j].entry), entry_key(fs, e), e->key_len) == 0)
        rc = QP_ECORRUPT; /* the same key twice */
    fs->slots[i] = (slot_t){e->hash, e};
    fs->count++;
    if (rc != 0) return rc;
  }
  return 0;
}
