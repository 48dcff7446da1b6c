/*
 * raft_snapshot.c - Raft snapshots of the replicated ledger
 * (docs/cluster.md, "Snapshots").
 *
 * The journal is the ledger's durable, hash-chained state, so a snapshot
 * does not copy it: it is a descriptor of the journal position that holds
 * every entry up to the snapshot's Raft index (seq, byte length, head
 * hash, replica_pos), the URL of the replica that took it and the
 * addresses of every replica it knew (the QPM1 entries the truncated log
 * held: a replica restored from the snapshot still knows where to send
 * clients).  libraft stores it and truncates its log behind it.
 *
 * Restoring one (at start with the last snapshot, or on a follower that
 * was sent one because the log it lacks is gone): a journal that already
 * holds the position is checked through its hash chain and left alone;
 * one that is behind fetches the records it lacks from the other replicas
 * (GET /v1/cluster/journal, cluster_journal.c), checks their chain from
 * its own head, and re-executes each record's request - op, events,
 * submitter, replica_pos, at the record's time - through qp_db_execute,
 * the FSM's own path, so it writes byte-identical records; after every
 * group its head hash must equal the fetched record's, or the replica
 * stops.  Records of one time are re-executed as one group, starting a new
 * one at each expiry sweep, which is where the original groups swept.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/err.h"
#include "base/log.h"
#include "ledger/raft_int.h"
#include "ledger/replay.h"
#include "ledger/submitters.h"

#define SNAPSHOT_FIXED (4u + 3u * 8u + QP_HASH_SIZE + 2u) /* magic, seq/bytes/pos, hash, url */
#define RETRY_MS 200u                                       /* between rounds of peers */
#define KEY_MAX 256u                                        /* bytes of the cluster key file */
#define STOP_AT_SNAPSHOT 2                                  /* visitor: past the position */

/* ---------------------------------------------------------- descriptor */

/* After the fixed part and the URL: the members section, u16 count, then
 * per replica u16 length and its QPM1 encoding (raft_members.c). */
static size_t members_size(const qp__raft_members_t *m) {
  size_t n = 2;
  for (uint32_t i = 0; i < m->count; i++) n += 2 + qp__raft_member_entry_size(&m->replicas[i]);
  return n;
}

size_t qp__raft_snapshot_size(const qp__raft_snapshot_t *s) {
  return SNAPSHOT_FIXED + strlen(s->http) + members_size(&s->members);
}

void qp__raft_snapshot_encode(const qp__raft_snapshot_t *s, uint8_t *out) {
  size_t url = strlen(s->http);
  qp_store_u32(out, QP__RAFT_SNAPSHOT_MAGIC);
  qp_store_u64(out + 4, s->seq);
  qp_store_u64(out + 12, s->journal_bytes);
  qp_store_u64(out + 20, s->replica_pos);
  memcpy(out + 28, s->head_hash, QP_HASH_SIZE);
  qp_store_u16(out + 28 + QP_HASH_SIZE, (uint16_t)url);
  memcpy(out + SNAPSHOT_FIXED, s->http, url);
  uint8_t *at = out + SNAPSHOT_FIXED + url;
  qp_store_u16(at, (uint16_t)s->members.count);
  at += 2;
  for (uint32_t i = 0; i < s->members.count; i++) {
    size_t len = qp__raft_member_entry_size(&s->members.replicas[i]);
    qp_store_u16(at, (uint16_t)len);
    qp__raft_member_entry_encode(&s->members.replicas[i], at + 2, len);
    at += 2 + len;
  }
}

/* The members section in in[0, size): exactly, with unique ids. */
static int members_decode(const uint8_t *in, size_t size, qp__raft_members_t *m) {
  if (size < 2 || qp_load_u16(in) > QP__RAFT_MEMBERS_MAX) return QP_ECORRUPT;
  uint32_t count = qp_load_u16(in);
  size_t at = 2;
  for (uint32_t i = 0; i < count; i++) {
    if (size - at < 2 || size - at - 2 < qp_load_u16(in + at)) return QP_ECORRUPT;
    size_t len = qp_load_u16(in + at);
    qp_ledger_replica_t *r = &m->replicas[i];
    if (qp__raft_member_entry_decode(in + at + 2, len, r) != 0) return QP_ECORRUPT;
    for (uint32_t j = 0; j < i; j++)
      if (m->replicas[j].id == r->id) return QP_ECORRUPT;
    at += 2 + len;
  }
  m->count = count;
  return at == size ? 0 : QP_ECORRUPT;
}

int qp__raft_snapshot_decode(const uint8_t *in, size_t size, qp__raft_snapshot_t *out) {
  memset(out, 0, sizeof *out);
  if (size < SNAPSHOT_FIXED || qp_load_u32(in) != QP__RAFT_SNAPSHOT_MAGIC) return QP_ECORRUPT;
  size_t url = qp_load_u16(in + 28 + QP_HASH_SIZE);
  if (url >= sizeof out->http || size < SNAPSHOT_FIXED + url) return QP_ECORRUPT;
  out->seq = qp_load_u64(in + 4);
  out->journal_bytes = qp_load_u64(in + 12);
  out->replica_pos = qp_load_u64(in + 20);
  memcpy(out->head_hash, in + 28, QP_HASH_SIZE);
  memcpy(out->http, in + SNAPSHOT_FIXED, url);
  out->http[url] = '\0';
  if (memchr(out->http, '\0', url) != NULL) return QP_ECORRUPT;
  if ((out->seq == 0) != (out->journal_bytes == 0)) return QP_ECORRUPT;
  size_t rest = size - SNAPSHOT_FIXED - url; /* 0: a descriptor from before the members */
  if (rest > 0 && members_decode(in + SNAPSHOT_FIXED + url, rest, &out->members) != 0)
    return QP_ECORRUPT;
  return 0;
}

int qp__raft_snapshot_take(qp_db_t *db, const char *http, qp__raft_snapshot_t *out) {
  memset(out, 0, sizeof *out);
  if (strlen(http) >= sizeof out->http) return QP_ERANGE;
  qp_db_audit_t a;
  uint32_t ledgers = 0;
  int rc = qp_db_audit(db, &a, NULL, 0, &ledgers);
  if (rc != 0) return rc;
  out->seq = a.journal_seq;
  out->journal_bytes = a.journal_bytes;
  out->replica_pos = qp_db_replica_pos(db);
  memcpy(out->head_hash, a.head_hash, QP_HASH_SIZE);
  memcpy(out->http, http, strlen(http) + 1);
  return 0;
}

/* ------------------------------------------------- the local journal */

static int stop_at_first(void *ctx, const qp_journal_record_t *rec) {
  (void)ctx, (void)rec;
  return STOP_AT_SNAPSHOT;
}

/* Does the local journal, at *a, hold s's position?  1 yes, 0 it is
 * behind, QP_ECORRUPT it holds something else there. */
static int local_holds(const qp__raft_catchup_t *c, const qp_db_audit_t *a,
                       const qp__raft_snapshot_t *s, char *detail, size_t detail_size) {
  if (a->journal_seq < s->seq) return 0;
  if (a->journal_seq == s->seq) {
    if (a->journal_bytes == s->journal_bytes && memcmp(a->head_hash, s->head_hash,
                                                       QP_HASH_SIZE) == 0)
      return 1;
  } else if (s->seq > 0) { /* the record after the position must link to its hash */
    char path[1200];
    snprintf(path, sizeof path, "%s/ledger/journal", c->data_dir);
    qp_io_t io;
    int rc = qp_io_open_file(path, false, true, &io);
    if (rc != 0) return rc;
    qp_journal_scan_t scan;
    rc = qp_journal_scan_from_fmt(&io, &qp__ledger_journal_format, s->journal_bytes, s->seq,
                                  s->head_hash, stop_at_first, NULL, &scan);
    io.close(io.ctx);
    if (rc == STOP_AT_SNAPSHOT) return 1;
  } else {
    return 1; /* an empty snapshot: every journal holds it */
  }
  snprintf(detail, detail_size, "the local journal (record %llu) does not hold the snapshot's "
           "record %llu at byte %llu with its hash: it diverged from the cluster",
           (unsigned long long)a->journal_seq, (unsigned long long)s->seq,
           (unsigned long long)s->journal_bytes);
  return QP_ECORRUPT;
}

/* ------------------------------------------------- re-executing records */

typedef struct batch {
  const qp__raft_catchup_t *c;
  const qp__raft_snapshot_t *s;
  qp_db_request_t reqs[QP__RAFT_ENTRY_REQUESTS_MAX];
  qp_transfer_t *events;     /* QP__RAFT_ENTRY_EVENTS_MAX; accounts share the room */
  uint32_t *results;         /* QP__RAFT_ENTRY_EVENTS_MAX */
  uint32_t count;            /* requests queued */
  uint32_t used;             /* events queued */
  uint64_t now_ns;           /* their time */
  uint64_t last_seq;         /* the last queued record */
  uint8_t last_hash[QP_HASH_SIZE]; /* its hash, as fetched */
  char *detail;
  size_t detail_size;
} batch_t;

_Static_assert(sizeof(qp_account_t) <= sizeof(qp_transfer_t), "accounts share the room");

/* Executes the queued requests and checks the journal now ends with the
 * last one's hash. */
static int flush(batch_t *b) {
  if (b->count == 0) return 0;
  *b->c->clock_ns = b->now_ns;
  int rc = qp_db_execute(b->c->db, b->reqs, b->count);
  for (uint32_t i = 0; i < b->count && rc == 0; i++) rc = b->reqs[i].status;
  qp_db_audit_t a;
  uint32_t ledgers = 0;
  if (rc == 0) rc = qp_db_audit(b->c->db, &a, NULL, 0, &ledgers);
  if (rc != 0) {
    snprintf(b->detail, b->detail_size, "re-executing journal records up to %llu failed: %s",
             (unsigned long long)b->last_seq, qp_strerror(rc));
    return rc == QP_ECORRUPT ? QP_EIO : rc;
  }
  if (a.journal_seq != b->last_seq || memcmp(a.head_hash, b->last_hash, QP_HASH_SIZE) != 0) {
    snprintf(b->detail, b->detail_size, "journal record %llu re-executed here differs from the "
             "cluster's (local record %llu has another hash)", (unsigned long long)b->last_seq,
             (unsigned long long)a.journal_seq);
    return QP_ECORRUPT;
  }
  b->count = 0;
  b->used = 0;
  return 0;
}

/* Queues one fetched record's request (flushing first where its group
 * must start afresh). */
static int queue_record(void *ctx, const qp_journal_record_t *rec) {
  batch_t *b = ctx;
  if (rec->seq > b->s->seq) return STOP_AT_SNAPSHOT;
  if (b->count > 0 && (rec->now_ns != b->now_ns || rec->op == QP_OP_EXPIRE ||
                       b->count == QP__RAFT_ENTRY_REQUESTS_MAX ||
                       b->used + rec->count > QP__RAFT_ENTRY_EVENTS_MAX)) {
    int rc = flush(b);
    if (rc != 0) return rc;
  }
  qp_db_request_t *r = &b->reqs[b->count];
  *r = (qp_db_request_t){.op = (qp_op_t)rec->op, .count = rec->count,
                         .results = b->results + b->used, .events = b->events + b->used,
                         .submitter = qp__subs_from_tag(rec->tag),
                         .replica_pos = qp_load_u64(rec->tag + 8)};
  if (rec->op == QP_OP_CREATE_ACCOUNTS)
    for (uint32_t i = 0; i < rec->count; i++)
      qp_account_decode(rec->body + (size_t)i * QP_RECORD_SIZE,
                        (qp_account_t *)(void *)(b->events + b->used) + i);
  else if (rec->op == QP_OP_CREATE_TRANSFERS)
    for (uint32_t i = 0; i < rec->count; i++)
      qp_transfer_decode(rec->body + (size_t)i * QP_RECORD_SIZE, b->events + b->used + i);
  else if (rec->op != QP_OP_EXPIRE || rec->count != 0) {
    snprintf(b->detail, b->detail_size, "fetched journal record %llu has op %u",
             (unsigned long long)rec->seq, rec->op);
    return QP_ECORRUPT;
  }
  if (rec->op == QP_OP_CREATE_ACCOUNTS) r->events = (qp_account_t *)(void *)(b->events + b->used);
  b->used += rec->count;
  b->count++;
  b->now_ns = rec->now_ns;
  b->last_seq = rec->seq;
  memcpy(b->last_hash, rec->hash, QP_HASH_SIZE);
  return 0;
}

/* A fetched page as a file that starts at byte `start` of the journal. */
typedef struct page {
  const uint8_t *data;
  size_t len;
  uint64_t start;
} page_t;

static int page_read_at(void *ctx, void *buf, size_t len, uint64_t offset, size_t *got) {
  const page_t *p = ctx;
  *got = 0;
  if (offset < p->start || offset - p->start >= p->len) return 0;
  size_t at = (size_t)(offset - p->start), n = p->len - at < len ? p->len - at : len;
  memcpy(buf, p->data + at, n);
  *got = n;
  return 0;
}

static int page_size(void *ctx, uint64_t *out) {
  const page_t *p = ctx;
  *out = p->start + p->len;
  return 0;
}

/* Checks the page's chain from the local head and re-executes its
 * records up to the snapshot's position. */
static int apply_page(batch_t *b, const uint8_t *data, size_t len) {
  qp_db_audit_t head;
  uint32_t ledgers = 0;
  int rc = qp_db_audit(b->c->db, &head, NULL, 0, &ledgers);
  if (rc != 0) return rc;
  const qp_db_audit_t *a = &head;
  page_t p = {.data = data, .len = len, .start = a->journal_bytes};
  qp_io_t io = {.ctx = &p, .read_at = page_read_at, .size = page_size};
  qp_journal_scan_t scan;
  rc = qp_journal_scan_from_fmt(&io, &qp__ledger_journal_format, a->journal_bytes,
                                a->journal_seq, a->head_hash, queue_record, b, &scan);
  if (rc == STOP_AT_SNAPSHOT) rc = 0;
  else if (rc == 0 && scan.problem != 0) {
    snprintf(b->detail, b->detail_size, "fetched journal record %llu does not check out: %s",
             (unsigned long long)scan.problem_seq, scan.detail);
    rc = QP_ECORRUPT;
  }
  if (rc == 0) rc = flush(b);
  return rc;
}

/* The key the other replicas accept (DATA/keys/cluster_key). */
static int read_key(const char *data_dir, char key[KEY_MAX], char *detail, size_t detail_size) {
  char path[1200], *text = NULL;
  size_t len = 0;
  snprintf(path, sizeof path, "%s/keys/cluster_key", data_dir);
  int rc = qp_file_read(path, KEY_MAX - 1, &text, &len, NULL, detail, detail_size);
  if (rc != 0) return rc;
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' ')) len--;
  memcpy(key, text, len);
  key[len] = '\0';
  qp_free(text);
  return 0;
}

/* One round over the peers, the snapshot's replica first: applies the
 * first page one serves.  1 progress, 0 none, or a failure. */
static int fetch_round(batch_t *b, const char *key) {
  const qp_ledger_cluster_t *cl = b->c->cluster;
  for (uint32_t k = 0; k <= cl->count; k++) {
    const char *url = k == 0 ? b->s->http : cl->replicas[k - 1].http;
    if (k > 0 && (k - 1 == cl->self || strcmp(url, b->s->http) == 0)) continue;
    if (k == 0 && strcmp(url, cl->replicas[cl->self].http) == 0) continue;
    qp_db_audit_t a;
    uint32_t ledgers = 0;
    int rc = qp_db_audit(b->c->db, &a, NULL, 0, &ledgers);
    uint8_t *data = NULL;
    size_t len = 0;
    long status = 0;
    if (rc == 0)
      rc = qp__raft_fetch_journal(url, key, a.journal_seq, a.journal_bytes, a.head_hash, &data,
                                  &len, &status);
    if (rc == 0 && len > 0) rc = apply_page(b, data, len);
    qp_free(data);
    if (rc == QP_ECORRUPT && status == 409) { /* the snapshot's replica is the authority */
      snprintf(b->detail, b->detail_size, "%s says the local journal (record %llu) diverged "
               "from its own", url, (unsigned long long)a.journal_seq);
      if (k > 0) QP_LOG_WARN("ledger", "catch-up: %s", b->detail);
      if (k > 0) continue;
    }
    if (rc == QP_ECORRUPT) return rc;
    if (rc != 0)
      QP_LOG_WARN("ledger", "catch-up from %s: HTTP %ld, %s", url, status, qp_strerror(rc));
    if (rc == 0 && len > 0) return 1;
  }
  return 0;
}

static uint64_t mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* Fetches and re-executes until the journal reaches s's position. */
static int catch_up(batch_t *b, uint32_t wait_ms) {
  char key[KEY_MAX];
  int rc = read_key(b->c->data_dir, key, b->detail, b->detail_size);
  if (rc != 0) return QP_EAGAIN;
  uint64_t deadline = mono_ms() + wait_ms;
  for (;;) {
    qp_db_audit_t a;
    uint32_t ledgers = 0;
    rc = qp_db_audit(b->c->db, &a, NULL, 0, &ledgers);
    if (rc != 0) return rc;
    if (a.journal_seq >= b->s->seq) return local_holds(b->c, &a, b->s, b->detail,
                                                       b->detail_size) == 1 ? 0 : QP_ECORRUPT;
    rc = fetch_round(b, key);
    if (rc < 0) return rc;
    if (rc == 0 && mono_ms() >= deadline) {
      snprintf(b->detail, b->detail_size, "no replica served the journal after record %llu "
               "(the snapshot needs up to %llu)", (unsigned long long)a.journal_seq,
               (unsigned long long)b->s->seq);
      return QP_EAGAIN;
    }
    if (rc == 0) {
      struct timespec pause = {0, (long)RETRY_MS * 1000000L};
      nanosleep(&pause, NULL);
    }
  }
}

static batch_t *batch_new(const qp__raft_catchup_t *c, const qp__raft_snapshot_t *s,
                          char *detail, size_t detail_size) {
  batch_t *b = qp_calloc(1, sizeof *b);
  if (b == NULL) return NULL;
  b->events = qp_calloc(QP__RAFT_ENTRY_EVENTS_MAX, sizeof *b->events);
  b->results = qp_calloc(QP__RAFT_ENTRY_EVENTS_MAX, sizeof *b->results);
  b->c = c;
  b->s = s;
  b->detail = detail;
  b->detail_size = detail_size;
  if (b->events != NULL && b->results != NULL) return b;
  qp_free(b->events);
  qp_free(b->results);
  qp_free(b);
  return NULL;
}

static void batch_free(batch_t *b) {
  if (b == NULL) return;
  qp_free(b->events);
  qp_free(b->results);
  qp_free(b);
}

int qp__raft_snapshot_apply(const qp__raft_catchup_t *c, const qp__raft_snapshot_t *s,
                            const uint8_t *data, size_t len, char *detail, size_t detail_size) {
  detail[0] = '\0';
  batch_t *b = batch_new(c, s, detail, detail_size);
  int rc = b == NULL ? QP_ENOMEM : apply_page(b, data, len);
  batch_free(b);
  return rc;
}

int qp__raft_snapshot_install(const qp__raft_catchup_t *c, const qp__raft_snapshot_t *s,
                              uint32_t wait_ms, char *detail, size_t detail_size) {
  detail[0] = '\0';
  qp_db_audit_t a;
  uint32_t ledgers = 0;
  int rc = qp_db_audit(c->db, &a, NULL, 0, &ledgers);
  if (rc != 0) return rc;
  rc = local_holds(c, &a, s, detail, detail_size);
  if (rc != 0) return rc == 1 ? 0 : rc;
  QP_LOG_INFO("ledger", "catching up from journal record %llu to the snapshot's %llu (from %s)",
              (unsigned long long)a.journal_seq, (unsigned long long)s->seq, s->http);
  batch_t *b = batch_new(c, s, detail, detail_size);
  rc = b == NULL ? QP_ENOMEM : catch_up(b, wait_ms);
  batch_free(b);
  if (rc == 0)
    QP_LOG_INFO("ledger", "caught up to journal record %llu", (unsigned long long)s->seq);
  return rc;
}

/* ------------------------------------------------------------- sizing */

bool qp__raft_snapshot_sizes(uint64_t entry_bytes, uint32_t min_entries, uint32_t min_trailing,
                             uint32_t now, uint32_t *threshold, uint32_t *trailing) {
  if (entry_bytes == 0) return false;
  uint64_t want = QP_LEDGER_SNAPSHOT_LOG_BYTES / entry_bytes;
  if (want < min_entries) want = min_entries;
  if (want > QP_LEDGER_SNAPSHOT_THRESHOLD_MAX) want = QP_LEDGER_SNAPSHOT_THRESHOLD_MAX;
  if (want < 2) want = 2;
  bool moved = now == 0 || want * 4 < (uint64_t)now * 3 || want * 3 > (uint64_t)now * 4;
  if (!moved) return false;
  *threshold = (uint32_t)want;
  *trailing = *threshold / 4 > min_trailing ? *threshold / 4 : min_trailing;
  return true;
}
