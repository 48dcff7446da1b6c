/*
 * raft_members.c - what every replica knows about the replicas of its
 * cluster beyond what Raft's configuration holds: their HTTP URLs
 * (docs/cluster.md, "Membership").  Raft's configuration names a replica
 * by id and Raft address only; the URL a follower redirects clients to,
 * and that GET /v1/cluster/status shows, travels in a Raft entry of a
 * second kind (magic QPM1) that the leader proposes before it adds the
 * replica, so every replica's FSM learns it in log order and none depends
 * on the leader's memory.  The table starts from node.json's replicas and
 * is saved under DATA/raft/members.json after every change, so a replica
 * that restarts knows the URLs before it has caught up.
 *
 * The entry, little-endian, field by field: magic "QPM1" (4), id (8),
 * raft address length (2) and bytes, HTTP URL length (2) and bytes, zeros
 * to a multiple of 8 bytes.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "http/http.h"
#include "ledger/raft_int.h"
#include "store/store.h"

#define MEMBERS_FILE_BYTES_MAX (64u * 1024u) /* members.json read back */

void qp__raft_members_init(qp__raft_members_t *m, const qp_ledger_cluster_t *c) {
  memset(m, 0, sizeof *m);
  for (uint32_t i = 0; i < c->count; i++) qp__raft_members_put(m, &c->replicas[i], NULL, 0);
}

const qp_ledger_replica_t *qp__raft_members_find(const qp__raft_members_t *m, uint64_t id) {
  for (uint32_t i = 0; i < m->count; i++)
    if (m->replicas[i].id == id) return &m->replicas[i];
  return NULL;
}

static bool kept(uint64_t id, const uint64_t *keep, uint32_t keep_count) {
  for (uint32_t i = 0; i < keep_count; i++)
    if (keep[i] == id) return true;
  return false;
}

void qp__raft_members_put(qp__raft_members_t *m, const qp_ledger_replica_t *r,
                          const uint64_t *keep, uint32_t keep_count) {
  QP_ASSERT(r->id != 0 && m->count <= QP__RAFT_MEMBERS_MAX);
  qp_ledger_replica_t *slot = (qp_ledger_replica_t *)qp__raft_members_find(m, r->id);
  if (slot == NULL && m->count < QP__RAFT_MEMBERS_MAX) slot = &m->replicas[m->count++];
  for (uint32_t i = 0; slot == NULL && i < m->count; i++) /* full: forget a departed one */
    if (!kept(m->replicas[i].id, keep, keep_count)) slot = &m->replicas[i];
  if (slot == NULL) slot = &m->replicas[0]; /* every one is current: cannot happen (bounds) */
  *slot = *r;
  QP_ASSERT(m->count >= 1);
}

/* Bytes of the fields, then rounded up to 8: libraft 0.15 misplaces the
 * entries after one whose length is not a multiple of 8 when it sends
 * several in one message (seen as a QPR1 entry 3 bytes off). */
static size_t padded(size_t len) { return (len + 7u) & ~(size_t)7u; }

size_t qp__raft_member_entry_size(const qp_ledger_replica_t *r) {
  return padded(4 + 8 + 2 + strlen(r->raft) + 2 + strlen(r->http));
}

bool qp__raft_member_entry_is(const uint8_t *in, size_t size) {
  return size >= 4 && qp_load_u32(in) == QP__RAFT_MEMBER_MAGIC;
}

void qp__raft_member_entry_encode(const qp_ledger_replica_t *r, uint8_t *out, size_t size) {
  size_t raft_len = strlen(r->raft), http_len = strlen(r->http);
  QP_ASSERT(size == qp__raft_member_entry_size(r));
  memset(out, 0, size);
  qp_store_u32(out, QP__RAFT_MEMBER_MAGIC);
  qp_store_u64(out + 4, r->id);
  qp_store_u16(out + 12, (uint16_t)raft_len);
  memcpy(out + 14, r->raft, raft_len);
  qp_store_u16(out + 14 + raft_len, (uint16_t)http_len);
  memcpy(out + 16 + raft_len, r->http, http_len);
}

int qp__raft_member_entry_decode(const uint8_t *in, size_t size, qp_ledger_replica_t *r) {
  memset(r, 0, sizeof *r);
  if (size < 16 || !qp__raft_member_entry_is(in, size)) return QP_ECORRUPT;
  r->id = qp_load_u64(in + 4);
  size_t raft_len = qp_load_u16(in + 12);
  if (raft_len >= sizeof r->raft || 16 + raft_len > size) return QP_ECORRUPT;
  size_t http_len = qp_load_u16(in + 14 + raft_len);
  if (http_len >= sizeof r->http || padded(16 + raft_len + http_len) != size || r->id == 0)
    return QP_ECORRUPT;
  memcpy(r->raft, in + 14, raft_len);
  memcpy(r->http, in + 16 + raft_len, http_len);
  if (strlen(r->raft) != raft_len || strlen(r->http) != http_len) return QP_ECORRUPT; /* a NUL */
  return 0;
}

int qp__raft_members_save(const qp__raft_members_t *m, const char *path, char *detail,
                          size_t detail_size) {
  json_t *arr = json_array();
  for (uint32_t i = 0; arr != NULL && i < m->count; i++)
    json_array_append_new(arr, json_pack("{s:I,s:s,s:s}", "id", (json_int_t)m->replicas[i].id,
                                         "raft", m->replicas[i].raft, "http",
                                         m->replicas[i].http));
  char *text = arr != NULL ? json_dumps(arr, JSON_COMPACT) : NULL;
  json_decref(arr);
  if (text == NULL) return QP_ENOMEM;
  int rc = qp_file_replace(path, text, strlen(text), 0600, detail, detail_size);
  qp_http_json_free(text);
  return rc;
}

int qp__raft_members_load(qp__raft_members_t *m, const char *path) {
  char *text = NULL;
  size_t len = 0;
  char detail[256];
  int rc = qp_file_read(path, MEMBERS_FILE_BYTES_MAX, &text, &len, NULL, detail, sizeof detail);
  if (rc != 0) return rc; /* QP_ENOTFOUND: none saved yet */
  json_t *arr = json_loadb(text, len, 0, NULL);
  qp_free(text);
  size_t i;
  json_t *o;
  rc = json_is_array(arr) ? 0 : QP_ECORRUPT;
  json_array_foreach(arr, i, o) {
    qp_ledger_replica_t r = {.id = (uint64_t)json_integer_value(json_object_get(o, "id"))};
    const char *raft = json_string_value(json_object_get(o, "raft"));
    const char *http = json_string_value(json_object_get(o, "http"));
    if (r.id == 0 || raft == NULL || http == NULL || strlen(raft) >= sizeof r.raft ||
        strlen(http) >= sizeof r.http) {
      rc = QP_ECORRUPT;
      break;
    }
    memcpy(r.raft, raft, strlen(raft) + 1);
    memcpy(r.http, http, strlen(http) + 1);
    qp__raft_members_put(m, &r, NULL, 0);
  }
  json_decref(arr);
  return rc;
}
