/*
 * vouch_book.c - the frames a validator holds while it waits for their
 * vouches, and vouches that came before their frame (vouch.h).  Entries
 * stay in arrival order; the book is small (a frame leaves as soon as its
 * checkers answer, a few milliseconds), so lookups are linear scans.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "chain/vouch.h"

static int32_t find(const qp_chain_vouch_book_t *b, const uint8_t digest[QP_HASH_SIZE]) {
  for (uint32_t i = 0; i < b->count; i++)
    if (memcmp(b->entries[i].digest, digest, QP_HASH_SIZE) == 0) return (int32_t)i;
  return -1;
}

/* A new entry at the end (digest set, the rest zero), or NULL. */
static qp_chain_vouch_entry_t *append(qp_chain_vouch_book_t *b,
                                      const uint8_t digest[QP_HASH_SIZE], int *rc) {
  *rc = QP_ELIMIT;
  if (b->count == QP_CHAIN_VOUCH_BOOK_ENTRIES) return NULL;
  if (b->count == b->cap) {
    uint32_t cap = b->cap == 0 ? 16 : b->cap * 2;
    qp_chain_vouch_entry_t *grown = qp_realloc(b->entries, cap * sizeof *grown);
    *rc = QP_ENOMEM;
    if (grown == NULL) return NULL;
    b->entries = grown;
    b->cap = cap;
  }
  qp_chain_vouch_entry_t *e = &b->entries[b->count++];
  memset(e, 0, sizeof *e);
  memcpy(e->digest, digest, QP_HASH_SIZE);
  *rc = 0;
  return e;
}

/* Takes entry i out into *out (its frame now the caller's). */
static void take(qp_chain_vouch_book_t *b, uint32_t i, qp_chain_vouch_entry_t *out) {
  *out = b->entries[i];
  b->bytes -= out->len;
  memmove(&b->entries[i], &b->entries[i + 1], (b->count - i - 1) * sizeof b->entries[0]);
  b->count--;
}

int qp_chain_vouch_book_frame(qp_chain_vouch_book_t *b, const uint8_t digest[QP_HASH_SIZE],
                              uint32_t from, uint32_t origin, const uint8_t *frame, size_t len,
                              uint64_t deadline_ms) {
  if (len == 0 || len > QP_CHAIN_VOUCH_BOOK_BYTES - b->bytes || origin >= 64) return QP_ELIMIT;
  int32_t at = find(b, digest);
  if (at >= 0 && b->entries[at].frame != NULL) return 0; /* the same frame again */
  uint8_t *copy = qp_malloc(len);
  if (copy == NULL) return QP_ENOMEM;
  int rc = 0;
  qp_chain_vouch_entry_t *e = at >= 0 ? &b->entries[at] : append(b, digest, &rc);
  if (e == NULL) {
    qp_free(copy);
    return rc;
  }
  memcpy(copy, frame, len);
  e->frame = copy;
  e->len = len;
  e->from = from;
  e->vouchers |= UINT64_C(1) << origin;
  e->deadline_ms = deadline_ms;
  b->bytes += len;
  return 0;
}

int qp_chain_vouch_book_vouch(qp_chain_vouch_book_t *b, const uint8_t digest[QP_HASH_SIZE],
                              uint32_t member, uint64_t deadline_ms) {
  if (member >= 64) return QP_ELIMIT;
  int32_t at = find(b, digest);
  int rc = 0;
  qp_chain_vouch_entry_t *e = at >= 0 ? &b->entries[at] : append(b, digest, &rc);
  if (e == NULL) return rc;
  if (at < 0) e->deadline_ms = deadline_ms;
  e->vouchers |= UINT64_C(1) << member;
  return 0;
}

static uint32_t popcount64(uint64_t v) { return (uint32_t)__builtin_popcountll(v); }

bool qp_chain_vouch_book_ready(qp_chain_vouch_book_t *b, uint64_t members, uint32_t quorum,
                               qp_chain_vouch_entry_t *out) {
  for (uint32_t i = 0; i < b->count; i++) {
    const qp_chain_vouch_entry_t *e = &b->entries[i];
    if (e->frame != NULL && popcount64(e->vouchers & members) >= quorum) {
      take(b, i, out);
      return true;
    }
  }
  return false;
}

bool qp_chain_vouch_book_due(qp_chain_vouch_book_t *b, uint64_t now_ms,
                             qp_chain_vouch_entry_t *out) {
  for (uint32_t i = 0; i < b->count;) {
    if (b->entries[i].deadline_ms > now_ms) {
      i++;
      continue;
    }
    take(b, i, out);
    if (out->frame != NULL) return true; /* else vouches whose frame never came: forgotten */
  }
  return false;
}

int qp_chain_vouch_book_requeue(qp_chain_vouch_book_t *b, const qp_chain_vouch_entry_t *e,
                                uint64_t deadline_ms) {
  if (e->frame == NULL || e->len > QP_CHAIN_VOUCH_BOOK_BYTES - b->bytes || find(b, e->digest) >= 0)
    return QP_ELIMIT;
  int rc = 0;
  qp_chain_vouch_entry_t *slot = append(b, e->digest, &rc);
  if (slot == NULL) return rc;
  *slot = *e;
  slot->deadline_ms = deadline_ms;
  slot->waits = e->waits + 1;
  b->bytes += e->len;
  return 0;
}

uint64_t qp_chain_vouch_book_next(const qp_chain_vouch_book_t *b) {
  uint64_t next = UINT64_MAX;
  for (uint32_t i = 0; i < b->count; i++)
    if (b->entries[i].deadline_ms < next) next = b->entries[i].deadline_ms;
  return next;
}

void qp_chain_vouch_book_free(qp_chain_vouch_book_t *b) {
  for (uint32_t i = 0; i < b->count; i++) qp_free(b->entries[i].frame);
  qp_free(b->entries);
  memset(b, 0, sizeof *b);
}
