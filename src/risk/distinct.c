/*
 * distinct.c - distinct(FIELD) for one key over a sliding window of 60
 * buckets.  Exact while at most QP_RISK_DISTINCT_EXACT_MAX values are live:
 * an open-addressed table maps each value's 64-bit hash to the bucket it
 * was last seen in, and a ring counts values by that bucket, so the live
 * count is the ring's total (a value seen again moves to the new bucket).
 * Past the maximum the key switches, for the rest of its life, to a
 * HyperLogLog of 128 registers per bucket (registers merged over the window
 * when read; standard error about 1.04/sqrt(128) = 9.2 %).  Integers only:
 * the estimate is computed in 128-bit fixed point, and the small-range
 * correction m*ln(m/V) comes from a table.  Memory per key: at most 2,048
 * slots of 16 bytes exact (32 KiB), or 8,160 bytes estimating.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "risk/risk_int.h"

#define HLL_M 128u
#define SLOTS_MIN 16u
#define SLOTS_MAX (2u * QP_RISK_DISTINCT_EXACT_MAX)

struct qp__risk_hll {
  int64_t bucket[QP_RISK_BUCKETS];          /* which bucket each row holds; -1 none */
  uint8_t reg[QP_RISK_BUCKETS][HLL_M];      /* registers per bucket */
};

/* round(128 * ln(128 / V)) for V = 1..128: linear counting without logs. */
static const uint16_t LINEAR_COUNT[HLL_M] = {
    621, 532, 480, 444, 415, 392, 372, 355, 340, 326, 314, 303, 293, 283, 274, 266, 258, 251, 244,
    238, 231, 225, 220, 214, 209, 204, 199, 195, 190, 186, 182, 177, 174, 170, 166, 162, 159, 155,
    152, 149, 146, 143, 140, 137, 134, 131, 128, 126, 123, 120, 118, 115, 113, 110, 108, 106, 104,
    101, 99,  97,  95,  93,  91,  89,  87,  85,  83,  81,  79,  77,  75,  74,  72,  70,  68,  67,
    65,  63,  62,  60,  59,  57,  55,  54,  52,  51,  49,  48,  47,  45,  44,  42,  41,  40,  38,
    37,  35,  34,  33,  32,  30,  29,  28,  27,  25,  24,  23,  22,  21,  19,  18,  17,  16,  15,
    14,  13,  12,  10,  9,   8,   7,   6,   5,   4,   3,   2,   1,   0};

static void hll_add(qp__risk_hll_t *h, uint64_t hv, int64_t b) {
  int64_t s = b % QP_RISK_BUCKETS;
  if (h->bucket[s] != b) {
    memset(h->reg[s], 0, HLL_M);
    h->bucket[s] = b;
  }
  uint64_t w = hv >> 7;
  uint8_t rank = w == 0 ? 58 : (uint8_t)(__builtin_clzll(w) - 7 + 1);
  uint8_t *r = &h->reg[s][hv & (HLL_M - 1)];
  if (rank > *r) *r = rank;
}

static int64_t hll_estimate(const qp__risk_hll_t *h, int64_t b) {
  uint8_t m[HLL_M] = {0};
  for (int s = 0; s < (int)QP_RISK_BUCKETS; s++) {
    if (h->bucket[s] < 0 || h->bucket[s] <= b - QP_RISK_BUCKETS || h->bucket[s] > b) continue;
    for (unsigned j = 0; j < HLL_M; j++)
      if (h->reg[s][j] > m[j]) m[j] = h->reg[s][j];
  }
  unsigned __int128 sum = 0;
  unsigned zeros = 0;
  for (unsigned j = 0; j < HLL_M; j++) {
    sum += (unsigned __int128)1 << (64 - m[j]);
    zeros += m[j] == 0;
  }
  /* alpha_128 * 128^2 = 11718.97 */
  int64_t e = (int64_t)(((unsigned __int128)1171897 << 64) / (sum * 100));
  if (e <= 5 * (int64_t)HLL_M / 2 && zeros > 0) e = LINEAR_COUNT[zeros - 1];
  return e;
}

/* The exact table of cap slots: hashes and their buckets in one zeroed
 * block (lastb follows hashes), so a key's table is one allocation. */
static int table_new(uint32_t cap, uint64_t **hashes, int64_t **lastb) {
  uint64_t *block = qp_calloc(cap, sizeof **hashes + sizeof **lastb);
  if (block == NULL) return QP_ENOMEM;
  *hashes = block;
  *lastb = (int64_t *)(void *)(block + cap);
  return 0;
}

static int to_hll(qp__risk_distinct_t *d, int64_t b) {
  qp__risk_hll_t *h = qp_malloc(sizeof *h);
  if (h == NULL) return QP_ENOMEM;
  for (int s = 0; s < (int)QP_RISK_BUCKETS; s++) h->bucket[s] = -1;
  memset(h->reg, 0, sizeof h->reg);
  for (uint32_t i = 0; i < d->cap; i++)
    if (d->hashes[i] != 0 && d->lastb[i] > b - QP_RISK_BUCKETS)
      hll_add(h, d->hashes[i], d->lastb[i]);
  qp_free(d->hashes); /* lastb with it */
  d->hashes = NULL;
  d->lastb = NULL;
  d->cap = d->used = 0;
  d->hll = h;
  return 0;
}

static uint32_t find_slot(const qp__risk_distinct_t *d, uint64_t hv) {
  uint32_t i = (uint32_t)(hv ^ (hv >> 32)) & (d->cap - 1);
  while (d->hashes[i] != 0 && d->hashes[i] != hv) i = (i + 1) & (d->cap - 1);
  return i;
}

/* A new table holding only the values live at bucket b, at most half full
 * after one more. */
static int rebuild(qp__risk_distinct_t *d, int64_t b) {
  uint32_t cap = SLOTS_MIN;
  while (cap / 2 < (uint32_t)d->total + 1 && cap < SLOTS_MAX) cap *= 2;
  uint64_t *hs = NULL;
  int64_t *lb = NULL;
  if (table_new(cap, &hs, &lb) != 0) return QP_ENOMEM;
  qp__risk_distinct_t old = *d;
  d->hashes = hs;
  d->lastb = lb;
  d->cap = cap;
  d->used = 0;
  for (uint32_t i = 0; i < old.cap; i++) {
    if (old.hashes[i] == 0 || old.lastb[i] <= b - QP_RISK_BUCKETS) continue;
    uint32_t k = find_slot(d, old.hashes[i]);
    d->hashes[k] = old.hashes[i];
    d->lastb[k] = old.lastb[i];
    d->used++;
  }
  qp_free(old.hashes); /* lastb with it */
  return 0;
}

int qp__risk_distinct_add(qp__risk_distinct_t *d, uint64_t hv, int64_t b) {
  if (hv == 0) hv = 1; /* 0 marks an empty slot */
  if (d->hll != NULL) return hll_add(d->hll, hv, b), 0;
  uint32_t k = d->cap > 0 ? find_slot(d, hv) : 0;
  bool found = d->cap > 0 && d->hashes[k] == hv;
  if (found && d->lastb[k] == b) return 0;
  if (found && d->lastb[k] > b - QP_RISK_BUCKETS) {
    d->v[d->lastb[k] % QP_RISK_BUCKETS]--;
    d->total--;
  } else if (d->total >= QP_RISK_DISTINCT_EXACT_MAX) {
    int rc = to_hll(d, b);
    if (rc == 0) hll_add(d->hll, hv, b);
    return rc;
  }
  if (!found) {
    if (d->cap == 0 || d->used + 1 > d->cap / 4 * 3) {
      int rc = rebuild(d, b);
      if (rc != 0) return rc;
    }
    k = find_slot(d, hv);
    d->hashes[k] = hv;
    d->used++;
  }
  d->lastb[k] = b;
  d->v[b % QP_RISK_BUCKETS]++;
  d->total++;
  QP_ASSERT(d->total <= QP_RISK_DISTINCT_EXACT_MAX);
  return 0;
}

int64_t qp__risk_distinct_value(const qp__risk_distinct_t *d, int64_t b) {
  return d->hll != NULL ? hll_estimate(d->hll, b) : d->total;
}

void qp__risk_distinct_free(qp__risk_distinct_t *d) {
  qp_free(d->hashes); /* lastb with it */
  qp_free(d->hll);
  memset(d, 0, sizeof *d);
}

/* Snapshot form: mode (0 exact, 1 estimating), total, the 60-bucket ring,
 * then the live (hash, bucket) pairs or the HyperLogLog rows. */
void qp__risk_distinct_save(const qp__risk_distinct_t *d, qp_buf_t *b) {
  qp__risk_put_u64(b, d->hll != NULL);
  qp__risk_put_u64(b, (uint64_t)d->total);
  for (int s = 0; s < (int)QP_RISK_BUCKETS; s++) qp__risk_put_u64(b, (uint64_t)d->v[s]);
  if (d->hll != NULL) {
    for (int s = 0; s < (int)QP_RISK_BUCKETS; s++) qp__risk_put_u64(b, (uint64_t)d->hll->bucket[s]);
    qp__risk_put(b, d->hll->reg, sizeof d->hll->reg);
    return;
  }
  qp__risk_put_u64(b, d->used);
  for (uint32_t i = 0; i < d->cap; i++)
    if (d->hashes[i] != 0) {
      qp__risk_put_u64(b, d->hashes[i]);
      qp__risk_put_u64(b, (uint64_t)d->lastb[i]);
    }
}

static int hll_load(qp__risk_distinct_t *d, qp__risk_reader_t *r) {
  d->hll = qp_malloc(sizeof *d->hll);
  if (d->hll == NULL) return QP_ENOMEM;
  for (int s = 0; s < (int)QP_RISK_BUCKETS; s++) {
    d->hll->bucket[s] = (int64_t)qp__risk_get_u64(r);
    if (d->hll->bucket[s] < -1 || d->hll->bucket[s] > QP_RISK_TIME_MAX) r->bad = true;
  }
  qp__risk_get(r, d->hll->reg, sizeof d->hll->reg);
  for (int s = 0; s < (int)QP_RISK_BUCKETS; s++)
    for (unsigned j = 0; j < HLL_M; j++) r->bad |= d->hll->reg[s][j] > 58;
  return r->bad ? QP_ECORRUPT : 0;
}

static int exact_load(qp__risk_distinct_t *d, qp__risk_reader_t *r) {
  uint64_t n = qp__risk_get_u64(r);
  if (r->bad || n > SLOTS_MAX / 4 * 3 || n > r->left / 16) return QP_ECORRUPT;
  uint32_t cap = SLOTS_MIN;
  while (cap / 4 * 3 < n + 1 && cap < SLOTS_MAX) cap *= 2;
  if (table_new(cap, &d->hashes, &d->lastb) != 0) return QP_ENOMEM;
  d->cap = cap;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t hv = qp__risk_get_u64(r);
    int64_t lb = (int64_t)qp__risk_get_u64(r);
    if (r->bad || hv == 0 || lb < 0 || lb > QP_RISK_TIME_MAX) return QP_ECORRUPT;
    uint32_t k = find_slot(d, hv);
    if (d->hashes[k] == hv) return QP_ECORRUPT;
    d->hashes[k] = hv;
    d->lastb[k] = lb;
    d->used++;
  }
  return 0;
}

int qp__risk_distinct_load(qp__risk_distinct_t *d, qp__risk_reader_t *r) {
  uint64_t mode = qp__risk_get_u64(r);
  d->total = (int64_t)qp__risk_get_u64(r);
  int64_t sum = 0;
  for (int s = 0; s < (int)QP_RISK_BUCKETS; s++) {
    d->v[s] = (int64_t)qp__risk_get_u64(r);
    if (d->v[s] < 0 || d->v[s] > QP_RISK_DISTINCT_EXACT_MAX) r->bad = true;
    else sum += d->v[s];
  }
  int rc = r->bad || mode > 1 || sum != d->total || d->total > QP_RISK_DISTINCT_EXACT_MAX
               ? QP_ECORRUPT
               : mode == 1 ? hll_load(d, r) : exact_load(d, r);
  if (rc == 0 && r->bad) rc = QP_ECORRUPT;
  if (rc != 0) qp__risk_distinct_free(d);
  return rc;
}
