/*
 * feature.c - the state of one feature: a map from key text (the `by`
 * field's value) to that key's window, maintained incrementally.  A window
 * of D is 60 buckets of D/60; at engine time t the current bucket is
 * t / (D/60) and the window holds buckets current-59 .. current.  Advancing
 * a key's window to a new bucket zeroes the buckets that fell out.  Keys
 * are dropped when the map must grow and they have been idle past their
 * window (all their buckets expired), so memory follows the live keys.
 * Per key: count and sum 48 bytes plus 32 bytes per bucket that has events
 * (room for 2 at first, at most 64: 2 KiB), distinct 560 bytes plus its
 * table, at most 32 KiB (see distinct.c); plus the key's text (at most
 * QP_RISK_STRING_BYTES_MAX) and a 16-byte slot in a map a quarter to a half
 * full.
 */
#include <stddef.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "risk/feature_int.h"
#include "risk/risk_int.h"

#define MAP_SLOTS_MIN 64u

void qp__risk_ring_advance(int64_t *v, int64_t *total, int64_t last, int64_t b) {
  if (b <= last) return;
  if (b - last >= QP_RISK_BUCKETS) {
    memset(v, 0, sizeof(int64_t) * QP_RISK_BUCKETS);
    *total = 0;
    return;
  }
  for (int64_t i = last + 1; i <= b; i++) {
    *total -= v[i % QP_RISK_BUCKETS];
    v[i % QP_RISK_BUCKETS] = 0;
  }
}


/* Drops the pairs that left the window at bucket b. */
static void series_advance(const qp__risk_fstate_t *fs, entry_t *e, int64_t b) {
  series_t *s = &e->u.series;
  pair_t *p = entry_pairs(fs, e);
  uint32_t k = 0;
  while (k < s->n && p[k].bucket <= b - QP_RISK_BUCKETS) s->total -= p[k++].v;
  if (k == 0) return;
  memmove(p, p + k, (s->n - k) * sizeof *p);
  s->n -= k;
}

/* Adds x at bucket b (the last); may move the entry (slot updated). */
static int series_add(const qp__risk_fstate_t *fs, slot_t *slot, int64_t b, int64_t x) {
  entry_t *e = slot->entry;
  series_t *s = &e->u.series;
  if (s->n > 0 && entry_pairs(fs, e)[s->n - 1].bucket == b) {
    entry_pairs(fs, e)[s->n - 1].v += x;
  } else {
    if (s->n == s->cap) {
      QP_ASSERT(s->cap < SERIES_MAX);
      size_t fixed = fs->entry_size + key_room(e->key_len);
      entry_t *grown = qp_realloc(e, fixed + 2 * s->cap * sizeof(pair_t));
      if (grown == NULL) return QP_ENOMEM;
      slot->entry = e = grown;
      s = &e->u.series;
      s->cap *= 2;
    }
    entry_pairs(fs, e)[s->n++] = (pair_t){.v = x, .bucket = b};
  }
  s->total += x;
  return 0;
}

int qp__risk_fstate_new(const qp__risk_feature_t *f, qp__risk_fstate_t **out) {
  qp__risk_fstate_t *fs = qp_calloc(1, sizeof *fs);
  slot_t *slots = qp_calloc(MAP_SLOTS_MIN, sizeof *slots);
  if (fs == NULL || slots == NULL) {
    qp_free(fs);
    qp_free(slots);
    return QP_ENOMEM;
  }
  fs->kind = f->kind;
  fs->bucket_s = f->bucket_s;
  fs->entry_size = offsetof(entry_t, u) + (f->kind == QP__RISK_DISTINCT
                                               ? sizeof(qp__risk_distinct_t)
                                               : sizeof(series_t));
  fs->entry_size = (fs->entry_size + 15u) & ~(size_t)15u;
  fs->slots = slots;
  fs->cap = MAP_SLOTS_MIN;
  *out = fs;
  return 0;
}

/* Bytes of a new entry for a key of len bytes (a series with room for
 * SERIES_MIN pairs). */
static size_t entry_bytes(const qp__risk_fstate_t *fs, uint32_t len) {
  size_t pairs = fs->kind == QP__RISK_DISTINCT ? 0 : SERIES_MIN * sizeof(pair_t);
  return fs->entry_size + key_room(len) + pairs;
}

/* A zeroed entry for a key of len bytes: a spare one, or from the heap. */
static entry_t *entry_new(qp__risk_fstate_t *fs, uint32_t len) {
  size_t room = key_room(len), size = entry_bytes(fs, len);
  uint32_t c = (uint32_t)(room / 16u) - 1u;
  if (room > SPARE_ROOM_MAX || fs->spare[c] == NULL) return qp_calloc(1, size);
  void *block = fs->spare[c];
  memcpy(&fs->spare[c], block, sizeof(void *));
  fs->spare_n[c]--;
  memset(block, 0, size);
  return block;
}

/* Frees e, or keeps its block for a new key when it has the new size. */
static void entry_free(qp__risk_fstate_t *fs, entry_t *e) {
  if (fs->kind == QP__RISK_DISTINCT) qp__risk_distinct_free(&e->u.distinct);
  size_t room = key_room(e->key_len);
  uint32_t c = (uint32_t)(room / 16u) - 1u;
  bool base = fs->kind == QP__RISK_DISTINCT || e->u.series.cap == SERIES_MIN;
  if (!base || room > SPARE_ROOM_MAX || fs->spare_n[c] >= SPARE_MAX) {
    qp_free(e);
    return;
  }
  memcpy(e, &fs->spare[c], sizeof(void *));
  fs->spare[c] = e;
  fs->spare_n[c]++;
}

void qp__risk_fstate_free(qp__risk_fstate_t *fs) {
  if (fs == NULL) return;
  for (uint32_t i = 0; i < fs->cap; i++)
    if (fs->slots[i].entry != NULL) entry_free(fs, fs->slots[i].entry);
  for (uint32_t c = 0; c < SPARE_CLASSES; c++)
    while (fs->spare[c] != NULL) {
      void *block = fs->spare[c];
      memcpy(&fs->spare[c], block, sizeof(void *));
      qp_free(block);
    }
  qp_free(fs->slots);
  qp_free(fs);
}

uint64_t qp__risk_fstate_keys(const qp__risk_fstate_t *fs) { return fs->count; }

static uint32_t probe(const qp__risk_fstate_t *fs, const slot_t *slots, uint32_t cap, uint64_t h,
                      const char *key, uint32_t len) {
  uint32_t i = (uint32_t)h & (cap - 1);
  while (slots[i].entry != NULL &&
         !(slots[i].hash == h && slots[i].entry->key_len == len &&
           qp__risk_bytes_eq(entry_key(fs, slots[i].entry), key, len)))
    i = (i + 1) & (cap - 1);
  return i;
}

/* Drops keys idle past the window at bucket b, then doubles the table if it
 * is still over a quarter full.  On failure nothing changed. */
static int sweep_or_grow(qp__risk_fstate_t *fs, int64_t b) {
  uint32_t live = 0;
  for (uint32_t i = 0; i < fs->cap; i++)
    live += fs->slots[i].entry != NULL && fs->slots[i].entry->last > b - QP_RISK_BUCKETS;
  uint32_t cap = fs->cap;
  while (live + 1 > cap / 4) cap *= 2;
  slot_t *slots = qp_calloc(cap, sizeof *slots);
  if (slots == NULL) return QP_ENOMEM;
  for (uint32_t i = 0; i < fs->cap; i++) {
    entry_t *e = fs->slots[i].entry;
    if (e == NULL) continue;
    if (e->last <= b - QP_RISK_BUCKETS) {
      entry_free(fs, e);
      continue;
    }
    slots[probe(fs, slots, cap, e->hash, entry_key(fs, e), e->key_len)] = (slot_t){e->hash, e};
  }
  qp_free(fs->slots);
  fs->slots = slots;
  fs->cap = cap;
  fs->count = live;
  return 0;
}

/* The slot of key's entry, made when new. */
static int entry_get(qp__risk_fstate_t *fs, const char *key, uint32_t len, uint64_t h, int64_t b,
                     slot_t **out) {
  uint32_t i = probe(fs, fs->slots, fs->cap, h, key, len);
  if (fs->slots[i].entry != NULL) return *out = &fs->slots[i], 0;
  if (fs->count + 1 > fs->cap / 2) {
    int rc = sweep_or_grow(fs, b);
    if (rc != 0) return rc;
    i = probe(fs, fs->slots, fs->cap, h, key, len);
  }
  entry_t *e = entry_new(fs, len);
  if (e == NULL) return QP_ENOMEM;
  e->hash = h;
  e->last = b;
  e->key_len = len;
  if (fs->kind != QP__RISK_DISTINCT) e->u.series.cap = SERIES_MIN;
  memcpy(entry_key(fs, e), key, len);
  fs->slots[i] = (slot_t){h, e};
  fs->count++;
  *out = &fs->slots[i];
  return 0;
}

/* A field's integer for sum(): 0 unless an integer or a decimal string. */
static int64_t sum_term(const qp__risk_value_t *v) {
  if (v->tag == QP__RISK_INT) return v->i;
  if (v->tag == QP__RISK_STR && v->num == QP__RISK_NUM_OK) return v->i;
  return 0;
}

void qp__risk_fstate_prefetch(const qp__risk_fstate_t *fs, uint64_t hash, bool entry) {
  const slot_t *s = &fs->slots[(uint32_t)hash & (fs->cap - 1)];
  if (!entry) __builtin_prefetch(s);
  else if (s->hash == hash && s->entry != NULL) __builtin_prefetch(s->entry);
}

int qp__risk_fstate_add(qp__risk_fstate_t *fs, const char *key, uint32_t key_len, uint64_t hash,
                        const qp__risk_value_t *field, int64_t t, qp_risk_feature_value_t *out) {
  int64_t b = t / fs->bucket_s;
  slot_t *slot;
  int rc = entry_get(fs, key, key_len, hash, b, &slot);
  if (rc != 0) return rc;
  entry_t *e = slot->entry;
  QP_ASSERT(b >= e->last);
  *out = (qp_risk_feature_value_t){.present = true};
  if (fs->kind != QP__RISK_DISTINCT) {
    series_advance(fs, e, b);
    rc = series_add(fs, slot, b, fs->kind == QP__RISK_COUNT ? 1 : sum_term(field));
    e = slot->entry;
    __int128 total = e->u.series.total;
    out->error = total > INT64_MAX || total < INT64_MIN;
    out->value = out->error ? 0 : (int64_t)total;
  } else {
    qp__risk_distinct_t *d = &e->u.distinct;
    qp__risk_ring_advance(d->v, &d->total, e->last, b);
    char buf[24];
    const char *text;
    uint32_t len;
    if (qp__risk_key_text(field, buf, &text, &len))
      rc = qp__risk_distinct_add(d, qp__risk_hash(text, len), b);
    out->value = qp__risk_distinct_value(d, b);
  }
  e->last = b;
  return rc;
}
