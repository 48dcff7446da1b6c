/*
 * feature.c - the state of one feature: a map from key text (the `by`
 * field's value) to that key's window, maintained incrementally.  A window
 * of D is 60 buckets of D/60; at engine time t the current bucket is
 * t / (D/60) and the window holds buckets current-59 .. current.  Advancing
 * a key's window to a new bucket zeroes the buckets that fell out.  Keys
 * are dropped when the map must grow and they have been idle past their
 * window (all their buckets expired), so memory follows the live keys.
 * Per key: count 520 bytes, sum 1,008 bytes, distinct 560 bytes plus its
 * table, at most 32 KiB (see distinct.c), plus the key's text (at most
 * QP_RISK_STRING_BYTES_MAX) and a 16-byte slot in a map at most a quarter
 * to a half full.
 */
#include <stddef.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "risk/risk_int.h"

#define MAP_SLOTS_MIN 64u

typedef struct sum_ring {
  __int128 total;               /* sum of v */
  __int128 v[QP_RISK_BUCKETS];  /* the field's sum per bucket */
} sum_ring_t;

typedef struct count_ring {
  int64_t total;              /* sum of v */
  int64_t v[QP_RISK_BUCKETS]; /* events per bucket */
} count_ring_t;

typedef struct entry {
  uint64_t hash;    /* of the key text */
  int64_t last;     /* the bucket the window was advanced to */
  uint32_t key_len; /* bytes of key */
  char *key;        /* points after the state, in the same allocation */
  union {
    count_ring_t count;
    sum_ring_t sum;
    qp__risk_distinct_t distinct;
  } u; /* by the feature's kind */
} entry_t;

/* A slot of the map: the hash beside the pointer, so that a probe past
 * other keys does not have to load their entries. */
typedef struct slot {
  uint64_t hash;  /* the entry's hash */
  entry_t *entry; /* NULL = empty */
} slot_t;

struct qp__risk_fstate {
  qp__risk_fkind_t kind; /* the feature's kind */
  int64_t bucket_s;      /* D / 60 */
  size_t entry_size;     /* bytes of an entry without its key, by kind */
  slot_t *slots;         /* open addressing, linear probing */
  uint32_t cap;          /* slots, a power of two */
  uint32_t count;        /* keys held */
};

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

static void sum_advance(sum_ring_t *r, int64_t last, int64_t b) {
  if (b <= last) return;
  if (b - last >= QP_RISK_BUCKETS) {
    memset(r, 0, sizeof *r);
    return;
  }
  for (int64_t i = last + 1; i <= b; i++) {
    r->total -= r->v[i % QP_RISK_BUCKETS];
    r->v[i % QP_RISK_BUCKETS] = 0;
  }
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
  fs->entry_size = offsetof(entry_t, u) + (f->kind == QP__RISK_COUNT ? sizeof(count_ring_t)
                                           : f->kind == QP__RISK_SUM ? sizeof(sum_ring_t)
                                                                     : sizeof(qp__risk_distinct_t));
  fs->slots = slots;
  fs->cap = MAP_SLOTS_MIN;
  *out = fs;
  return 0;
}

static void entry_free(qp__risk_fstate_t *fs, entry_t *e) {
  if (fs->kind == QP__RISK_DISTINCT) qp__risk_distinct_free(&e->u.distinct);
  qp_free(e);
}

void qp__risk_fstate_free(qp__risk_fstate_t *fs) {
  if (fs == NULL) return;
  for (uint32_t i = 0; i < fs->cap; i++)
    if (fs->slots[i].entry != NULL) entry_free(fs, fs->slots[i].entry);
  qp_free(fs->slots);
  qp_free(fs);
}

uint64_t qp__risk_fstate_keys(const qp__risk_fstate_t *fs) { return fs->count; }

static uint32_t probe(const slot_t *slots, uint32_t cap, uint64_t h, const char *key,
                      uint32_t len) {
  uint32_t i = (uint32_t)h & (cap - 1);
  while (slots[i].entry != NULL &&
         !(slots[i].hash == h && slots[i].entry->key_len == len &&
           memcmp(slots[i].entry->key, key, len) == 0))
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
    slots[probe(slots, cap, e->hash, e->key, e->key_len)] = (slot_t){e->hash, e};
  }
  qp_free(fs->slots);
  fs->slots = slots;
  fs->cap = cap;
  fs->count = live;
  return 0;
}

static int entry_get(qp__risk_fstate_t *fs, const char *key, uint32_t len, int64_t b,
                     entry_t **out) {
  uint64_t h = qp__risk_hash(key, len);
  uint32_t i = probe(fs->slots, fs->cap, h, key, len);
  if (fs->slots[i].entry != NULL) return *out = fs->slots[i].entry, 0;
  if (fs->count + 1 > fs->cap / 2) {
    int rc = sweep_or_grow(fs, b);
    if (rc != 0) return rc;
    i = probe(fs->slots, fs->cap, h, key, len);
  }
  entry_t *e = qp_calloc(1, fs->entry_size + len + 1);
  if (e == NULL) return QP_ENOMEM;
  e->hash = h;
  e->last = b;
  e->key_len = len;
  e->key = (char *)e + fs->entry_size;
  memcpy(e->key, key, len);
  fs->slots[i] = (slot_t){h, e};
  fs->count++;
  *out = e;
  return 0;
}

/* A field's integer for sum(): 0 unless an integer or a decimal string. */
static int64_t sum_term(const qp__risk_value_t *v) {
  if (v->tag == QP__RISK_INT) return v->i;
  if (v->tag == QP__RISK_STR && v->num == QP__RISK_NUM_OK) return v->i;
  return 0;
}

int qp__risk_fstate_add(qp__risk_fstate_t *fs, const char *key, uint32_t key_len,
                        const qp__risk_value_t *field, int64_t t, qp_risk_feature_value_t *out) {
  int64_t b = t / fs->bucket_s, s = b % QP_RISK_BUCKETS;
  entry_t *e;
  int rc = entry_get(fs, key, key_len, b, &e);
  if (rc != 0) return rc;
  QP_ASSERT(b >= e->last);
  *out = (qp_risk_feature_value_t){.present = true};
  if (fs->kind == QP__RISK_COUNT) {
    qp__risk_ring_advance(e->u.count.v, &e->u.count.total, e->last, b);
    e->u.count.v[s]++;
    out->value = ++e->u.count.total;
  } else if (fs->kind == QP__RISK_SUM) {
    sum_advance(&e->u.sum, e->last, b);
    int64_t x = sum_term(field);
    e->u.sum.v[s] += x;
    e->u.sum.total += x;
    out->error = e->u.sum.total > INT64_MAX || e->u.sum.total < INT64_MIN;
    out->value = out->error ? 0 : (int64_t)e->u.sum.total;
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
