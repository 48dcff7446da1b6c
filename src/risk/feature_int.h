/*
 * feature_int.h - the layout of one feature's key map (feature.c), shared
 * with its snapshot code (feature_snap.c).
 */
#ifndef QP_RISK_FEATURE_INT_H
#define QP_RISK_FEATURE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "risk/risk_int.h"

/* count and sum keep only the buckets that have events: (bucket, value)
 * pairs in bucket order, after the key in the entry's block, grown by
 * doubling up to SERIES_MAX (a window has at most 60 live buckets).  Most
 * keys see a few events per window, so most entries stay small. */
#define SERIES_MIN 2u
#define SERIES_MAX 64u

typedef struct pair {
  __int128 v;     /* events (count) or the field's sum in the bucket */
  int64_t bucket; /* the bucket */
  int64_t pad;    /* keeps pairs 32 bytes */
} pair_t;

typedef struct series {
  __int128 total; /* sum of the pairs' v */
  uint32_t n;     /* pairs used */
  uint32_t cap;   /* pairs allocated after the key */
} series_t;

typedef struct entry {
  uint64_t hash;    /* of the key text */
  int64_t last;     /* the bucket the window was advanced to */
  uint32_t key_len; /* bytes of key, which follows the entry's fixed part */
  union {
    series_t series;
    qp__risk_distinct_t distinct;
  } u; /* by the feature's kind */
} entry_t;

/* A slot of the map: the hash beside the pointer, so that a probe past
 * other keys does not have to load their entries. */
typedef struct slot {
  uint64_t hash;  /* the entry's hash */
  entry_t *entry; /* NULL = empty */
} slot_t;

/* Entries of keys idle past their window are kept for new keys instead of
 * going back to the heap (feature.c): per size of key room up to
 * SPARE_ROOM_MAX bytes, at most SPARE_MAX blocks of the smallest size an
 * entry of that kind has (grown series are freed). */
#define SPARE_ROOM_MAX 64u
#define SPARE_CLASSES (SPARE_ROOM_MAX / 16u)
#define SPARE_MAX 1024u

struct qp__risk_fstate {
  qp__risk_fkind_t kind; /* the feature's kind */
  int64_t bucket_s;      /* D / 60 */
  size_t entry_size;     /* bytes of an entry before its key, by kind */
  slot_t *slots;         /* open addressing, linear probing */
  uint32_t cap;          /* slots, a power of two */
  uint32_t count;        /* keys held */
  void *spare[SPARE_CLASSES];       /* per key room / 16 - 1: blocks linked by their first word */
  uint32_t spare_n[SPARE_CLASSES];  /* blocks in each list */
};

static inline char *entry_key(const qp__risk_fstate_t *fs, const entry_t *e) {
  return (char *)e + fs->entry_size;
}

static inline size_t key_room(uint32_t key_len) { return (key_len + 1 + 15u) & ~(size_t)15u; }

static inline pair_t *entry_pairs(const qp__risk_fstate_t *fs, const entry_t *e) {
  return (pair_t *)(void *)(entry_key(fs, e) + key_room(e->key_len));
}

#endif
