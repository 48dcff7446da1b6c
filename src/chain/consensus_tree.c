/*
 * consensus_tree.c - the blocks a validator holds: the uncommitted tree
 * above the last committed block (the root), the last few committed ones
 * (to answer peers that fetch), the orphans waiting for a parent, the
 * blocks wanted from peers, and the commit rule that turns a QC into COMMIT
 * actions.
 *
 * Every uncommitted block's parent is in the tree or is the root, so a
 * commit can always walk from the committed block down to the root and
 * emit its ancestors in height order.  A block whose parent is missing
 * waits as an orphan (its bytes, bounded in number) while its parent is
 * fetched by hash, up to QP_HS_FETCH_BLOCKS_MAX blocks per request.
 * Lookup is a linear scan: the tree is small (blocks_max) and hashing
 * would not pay for itself at these sizes.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "chain/consensus.h"
#include "chain/consensus_int.h"

static qp__hs_entry_t *entry_at(const qp_hs_t *c, size_t i) { return qp_array_at(&c->entries, i); }

/* The block of hash is held (in the tree, or as an orphan): a fetch of it
 * is over, its slot free for the next one wanted. */
static void fetch_release(qp_hs_t *c, const uint8_t hash[QP_HASH_SIZE]) {
  for (uint32_t i = 0; i < QP__HS_FETCH_MAX; i++)
    if (c->fetches[i].used && memcmp(c->fetches[i].hash, hash, QP_HASH_SIZE) == 0)
      c->fetches[i].used = false;
}

bool qp__hs_orphan_held(const qp_hs_t *c, const uint8_t hash[QP_HASH_SIZE]) {
  for (uint32_t i = 0; i < c->orphans_count; i++)
    if (memcmp(c->orphans[i].hash, hash, QP_HASH_SIZE) == 0) return true;
  return false;
}

qp__hs_entry_t *qp__hs_find(const qp_hs_t *c, const uint8_t hash[QP_HASH_SIZE]) {
  for (size_t i = 0; i < c->entries.count; i++) {
    qp__hs_entry_t *e = entry_at(c, i);
    if (memcmp(e->block.hash, hash, QP_HASH_SIZE) == 0) return e;
  }
  return NULL;
}

const qp_hs_block_t *qp__hs_find_block(const qp_hs_t *c, const uint8_t hash[QP_HASH_SIZE]) {
  if (memcmp(c->root.hash, hash, QP_HASH_SIZE) == 0) return &c->root;
  qp__hs_entry_t *e = qp__hs_find(c, hash);
  return e ? &e->block : NULL;
}

static uint32_t uncommitted(const qp_hs_t *c) {
  uint32_t count = 0;
  for (size_t i = 0; i < c->entries.count; i++) count += entry_at(c, i)->committed ? 0 : 1;
  return count;
}

int qp__hs_tree_add(qp_hs_t *c, const qp_hs_block_t *b) {
  QP_ASSERT(b->header.height > c->root.header.height);
  QP_ASSERT(qp__hs_find_block(c, b->header.parent_hash) != NULL);
  if (uncommitted(c) >= c->blocks_max) return QP_ELIMIT;
  uint8_t *copy = NULL;
  if (b->payload_len > 0) {
    copy = qp_malloc(b->payload_len);
    if (copy == NULL) return QP_ENOMEM;
    memcpy(copy, b->payload, b->payload_len);
  }
  qp__hs_entry_t *e = qp_array_push(&c->entries);
  if (e == NULL) {
    qp_free(copy);
    return QP_ENOMEM;
  }
  e->block = *b;
  e->block.payload = copy;
  e->payload = copy;
  fetch_release(c, b->hash);
  return 0;
}

bool qp__hs_view_taken(const qp_hs_t *c, uint64_t view, const uint8_t hash[QP_HASH_SIZE]) {
  for (size_t i = 0; i < c->entries.count; i++) {
    const qp__hs_entry_t *e = entry_at(c, i);
    if (e->block.header.view == view && memcmp(e->block.hash, hash, QP_HASH_SIZE) != 0) return true;
  }
  return false;
}

/* Commits `top` and every uncommitted ancestor, lowest first, with the
 * evidence (top's child and the QC over it) that makes them final. */
static int commit_chain(qp_hs_t *c, qp__hs_entry_t *top, const qp_hs_commit_cert_t *cert) {
  size_t count = 0, max = c->entries.count;
  qp__hs_entry_t **path = qp_malloc(max * sizeof *path);
  if (path == NULL) return QP_ENOMEM;
  for (qp__hs_entry_t *e = top; e != NULL && !e->committed && count < max;
       e = qp__hs_find(c, e->block.header.parent_hash))
    path[count++] = e;
  const qp_hs_block_t *low = &path[count - 1]->block;
  if (memcmp(low->header.parent_hash, c->root.hash, QP_HASH_SIZE) != 0) {
    qp_free(path); /* conflicts with what we committed: more than f faults */
    return QP_ECORRUPT;
  }
  int rc = 0;
  for (size_t i = count; i-- > 0 && rc == 0;) {
    path[i]->committed = true;
    c->root = path[i]->block;
    c->root.payload = NULL;
    rc = qp__hs_act_commit(c, &path[i]->block, cert);
  }
  qp_free(path);
  c->prune_due = true;
  return rc;
}

int qp__hs_try_commit(qp_hs_t *c, const qp_hs_qc_t *qc) {
  const qp__hs_entry_t *child = qp__hs_find(c, qc->block_hash);
  if (child == NULL) return 0;
  const qp_hs_header_t *h = &child->block.header;
  if (h->justify.view + 1 != h->view) return 0; /* not a direct two-chain */
  qp__hs_entry_t *parent = qp__hs_find(c, h->parent_hash);
  if (parent == NULL || parent->committed) return 0;
  if (parent->block.header.height <= c->root.header.height) return 0;
  qp_hs_commit_cert_t cert = {.child = *h, .qc = *qc};
  return commit_chain(c, parent, &cert);
}

void qp__hs_prune(qp_hs_t *c) {
  uint64_t keep_from =
      c->root.header.height > c->retain_committed ? c->root.header.height - c->retain_committed : 0;
  for (size_t i = 0; i < c->entries.count;) {
    qp__hs_entry_t *e = entry_at(c, i);
    uint64_t h = e->block.header.height;
    bool dead = e->committed ? h <= keep_from : h <= c->root.header.height;
    if (!dead) {
      i++;
      continue;
    }
    qp_free(e->payload);
    *e = *entry_at(c, c->entries.count - 1);
    qp_array_pop(&c->entries);
  }
  c->prune_due = false;
}

/* See docs/chain.md, "Empty blocks": an empty block on `parent` is allowed
 * while a non-empty ancestor is not yet committed by the QCs inside the
 * chain itself (the new block's own QC may be the one that commits it). */
bool qp__hs_empty_allowed(const qp_hs_t *c, const qp_hs_block_t *parent) {
  const qp_hs_block_t *a = parent, *prev = NULL;
  for (uint32_t i = 1; a != NULL && a->header.height > c->root.header.height; i++) {
    if (i >= 3 && prev->header.view == a->header.view + 1) return false;
    if (a->payload_len > 0) return true;
    prev = a;
    a = qp__hs_find_block(c, a->header.parent_hash);
  }
  return false;
}

bool qp__hs_has_work(const qp_hs_t *c) {
  if (c->pending) return true;
  for (uint32_t i = 0; i < QP__HS_FETCH_MAX; i++)
    if (c->fetches[i].used) return true;
  const qp_hs_block_t *b = qp__hs_find_block(c, c->high_qc.block_hash);
  if (b == NULL) return c->high_qc.height > c->root.header.height;
  for (; b != NULL && b->header.height > c->root.header.height;
       b = qp__hs_find_block(c, b->header.parent_hash))
    if (b->payload_len > 0) return true;
  return false;
}

/* ------------------------------------------------------------ fetching */

static int send_request(qp_hs_t *c, const uint8_t hash[QP_HASH_SIZE], uint32_t peer) {
  uint8_t *bytes;
  size_t len;
  int rc = qp_hs_encode_block_request(hash, QP_HS_FETCH_BLOCKS_MAX, &bytes, &len);
  return rc == 0 ? qp__hs_act_bytes(c, QP_HS_ACT_SEND, peer, bytes, len) : rc;
}

bool qp__hs_wanted(const qp_hs_t *c, const uint8_t hash[QP_HASH_SIZE]) {
  for (uint32_t i = 0; i < QP__HS_FETCH_MAX; i++)
    if (c->fetches[i].used && memcmp(c->fetches[i].hash, hash, QP_HASH_SIZE) == 0) return true;
  return false;
}

int qp__hs_want(qp_hs_t *c, const uint8_t hash[QP_HASH_SIZE], uint32_t peer) {
  if (qp__hs_wanted(c, hash) || qp__hs_find_block(c, hash) != NULL || qp__hs_orphan_held(c, hash))
    return 0;
  if (peer >= c->n || (int32_t)peer == c->self) peer = (uint32_t)(c->self + 1) % c->n;
  for (uint32_t i = 0; i < QP__HS_FETCH_MAX; i++) {
    if (c->fetches[i].used) continue;
    c->fetches[i].used = true;
    c->fetches[i].peer = peer;
    memcpy(c->fetches[i].hash, hash, QP_HASH_SIZE);
    return send_request(c, hash, peer);
  }
  return 0; /* every slot busy: asked again when one frees up */
}

int qp__hs_fetch_resend(qp_hs_t *c) {
  for (uint32_t i = 0; i < QP__HS_FETCH_MAX; i++) {
    qp__hs_fetch_t *f = &c->fetches[i];
    if (!f->used) continue;
    if (qp__hs_find_block(c, f->hash) != NULL || qp__hs_orphan_held(c, f->hash)) {
      f->used = false; /* it came (an orphan waits for its own parent, wanted apart) */
      continue;
    }
    f->peer = (f->peer + 1) % c->n;
    if ((int32_t)f->peer == c->self) f->peer = (f->peer + 1) % c->n;
    int rc = send_request(c, f->hash, f->peer);
    if (rc != 0) return rc;
  }
  return 0;
}

int qp__hs_on_request(qp_hs_t *c, uint32_t from, const uint8_t hash[QP_HASH_SIZE], uint32_t count) {
  const qp_hs_block_t *list[QP_HS_FETCH_BLOCKS_MAX];
  uint32_t found = 0;
  uint64_t bytes = 0;
  for (const qp__hs_entry_t *e = qp__hs_find(c, hash); e != NULL && found < count;
       e = qp__hs_find(c, e->block.header.parent_hash)) {
    if (found > 0 && bytes + e->block.payload_len > c->g->params.block_bytes_max) break;
    bytes += e->block.payload_len;
    list[found++] = &e->block;
  }
  if (found == 0 || from >= c->n || (int32_t)from == c->self) return 0;
  uint8_t *out;
  size_t len;
  int rc = qp_hs_encode_block_response(c->g, list, found, &out, &len);
  return rc == 0 ? qp__hs_act_bytes(c, QP_HS_ACT_SEND, from, out, len) : rc;
}

/* ------------------------------------------------------------- orphans */

int qp__hs_orphan_add(qp_hs_t *c, const uint8_t *bytes, size_t len, uint32_t from, bool fetched,
                      const qp_hs_block_t *b) {
  fetch_release(c, b->hash); /* held now: a slot that waited for it is free */
  if (qp__hs_orphan_held(c, b->hash)) return 0;
  if (c->orphans_count == QP__HS_ORPHANS_MAX) return QP_ELIMIT;
  uint8_t *copy = qp_malloc(len);
  if (copy == NULL) return QP_ENOMEM;
  memcpy(copy, bytes, len);
  qp__hs_orphan_t *o = &c->orphans[c->orphans_count++];
  *o = (qp__hs_orphan_t){
      .bytes = copy, .len = len, .from = from, .fetched = fetched, .height = b->header.height};
  memcpy(o->hash, b->hash, QP_HASH_SIZE);
  memcpy(o->parent, b->header.parent_hash, QP_HASH_SIZE);
  return 0;
}

bool qp__hs_orphan_take(qp_hs_t *c, qp__hs_orphan_t *out, bool *stale) {
  uint32_t best = c->orphans_count;
  for (uint32_t i = 0; i < c->orphans_count; i++) {
    const qp__hs_orphan_t *o = &c->orphans[i];
    bool ready = o->height <= c->root.header.height || qp__hs_find_block(c, o->parent) != NULL;
    if (ready && (best == c->orphans_count || o->height < c->orphans[best].height)) best = i;
  }
  if (best == c->orphans_count) return false;
  *out = c->orphans[best];
  *stale = out->height <= c->root.header.height;
  c->orphans[best] = c->orphans[--c->orphans_count];
  return true;
}

void qp__hs_orphans_free(qp_hs_t *c) {
  for (uint32_t i = 0; i < c->orphans_count; i++) qp_free(c->orphans[i].bytes);
  c->orphans_count = 0;
}
