/*
 * raft_node.c - one replica of the replicated ledger: libraft (canonical
 * Raft, Debian's libraft-dev) with its libuv backend, on a thread of its
 * own that owns the uv loop; nothing else touches the raft struct.
 *
 * The group-commit writer hands a group to qp__raft_node_propose, which
 * encodes it as one entry and wakes the loop (uv_async); the loop calls
 * raft_apply.  Once a majority holds the entry, every replica's FSM apply
 * runs it through qp_db_execute at the leader's clock, so every journal
 * gets the same records; on the leader the apply callback, which libraft
 * calls right after the FSM apply of that entry, copies the results back
 * and wakes the writer.  The journal remembers the last Raft position it
 * holds (qp_db_replica_pos), so the entries libraft replays after a
 * restart are not applied twice.  A snapshot is a descriptor of the
 * journal's position (raft_snapshot.c): libraft truncates its log behind
 * it, and a replica sent one catches up by fetching journal records.
 *
 * Two more things run on the loop (docs/cluster.md, "Reads" and
 * "Membership"): the read barriers that make a leader's reads
 * linearizable (one raft_barrier in flight, shared by every reader that
 * arrived before it started), and the admin's membership changes (a QPM1
 * entry carrying the new replica's URL, then raft_add, then raft_assign to
 * voter, retried every second for any spare; or raft_remove).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <raft.h>
#include <raft/uv.h>
#include <sys/stat.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "ledger/raft_int.h"
#include "ledger/raft_recv.h"
#include "ledger/raft_tcp.h"

#define STATUS_EVERY_MS 20u     /* the status copy for other threads */
#define HEARTBEAT_MS 50u        /* Raft heartbeat */
#define ELECTION_MS 500u        /* Raft election timeout (randomised up to twice) */
#define READ_WAIT_MS 5000u      /* a read waits at most this long for its barrier */
#define PROMOTE_EVERY_TICKS 50u /* the leader retries promoting a spare every second */
#define CATCHUP_WAIT_MS 30000u  /* a restore waits this long for a replica to serve the journal */

/* A writer's group on its way through Raft (one per writer thread; the
 * entries of several may be in flight at once, applied in log order). */
typedef struct proposal {
  struct raft_apply req;      /* req.data = this */
  struct qp__raft_node *node; /* whose proposal */
  struct raft_buffer buf;     /* the entry; raft owns it once raft_apply took it */
  qp_db_request_t *reqs;      /* the writer's requests; statuses and results land here */
  uint32_t count;             /* requests */
  int rc;                     /* outcome */
  bool submitted;             /* the loop has taken it */
  bool done;                  /* outcome set */
  struct proposal *next;      /* the next one waiting or in flight (under mutex) */
} proposal_t;

/* A membership change asked by an admin route (at most one at a time;
 * member_lock serialises the callers). */
typedef struct member_op {
  bool remove;                 /* raft_remove, else add */
  qp_ledger_replica_t replica; /* the replica (remove: only id) */
  struct raft_apply apply;     /* the QPM1 entry's request */
  struct raft_buffer buf;      /* the QPM1 entry; raft owns it once raft_apply took it */
  struct raft_change change;   /* raft_add / raft_remove */
  int rc;                      /* outcome */
  char detail[256];            /* why, when rc != 0 */
  bool submitted;              /* the loop has taken it */
  bool done;                   /* outcome set */
} member_op_t;

/* What the FSM's apply of the latest entry produced (loop thread). */
typedef struct applied {
  qp_db_request_t reqs[QP__RAFT_ENTRY_REQUESTS_MAX]; /* decoded requests */
  uint32_t count;                                    /* of them */
  int rc;                                            /* qp_db_execute's return */
} applied_t;

struct qp__raft_node {
  qp__raft_recv_guard_t guard;        /* first: raft.data = this finds it (raft_recv.h) */
  const qp_ledger_cluster_t *cluster; /* borrowed */
  qp_db_t *db;                        /* borrowed */
  uv_loop_t loop;                     /* owned by the thread */
  uv_async_t wake;                    /* a proposal or the stop */
  uv_timer_t status_timer;            /* copies the status */
  qp__raft_tcp_t tcp;                 /* TCP, with TCP_NODELAY (raft_tcp.h) */
  struct raft_io io;                  /* libuv disk + network */
  struct raft_fsm fsm;                /* the ledger */
  struct raft raft;                   /* the consensus */
  pthread_t thread;                   /* runs the loop */
  pthread_mutex_t mutex;              /* guards pending, stopping, status */
  pthread_cond_t cond;                /* proposals done */
  proposal_t *pending;                /* the writers' proposals not finished, oldest first */
  bool stopping;                      /* stop asked */
  qp__raft_status_t status;           /* latest copy */
  uint64_t *apply_now_ns;             /* the db's clock: the entry being applied */
  applied_t *applied;                 /* FSM scratch */
  qp_transfer_t *events;              /* FSM scratch: QP__RAFT_ENTRY_EVENTS_MAX */
  uint32_t *results;                  /* FSM scratch: QP__RAFT_ENTRY_EVENTS_MAX */
  char dir[1100];                     /* data_dir/raft */
  /* Linearizable reads (read_barrier_*): barriers are numbered 1, 2, ...
   * in the order they start; at most one is in flight; a reader waits for
   * the first one that starts after it arrived.  Invariant:
   * barrier_done <= barrier_started <= barrier_done + 1. */
  struct raft_barrier barrier; /* the one in flight */
  uint64_t barrier_started;    /* barriers started (the last one's number) */
  uint64_t barrier_done;       /* barriers finished */
  uint64_t barrier_wanted;     /* the highest number a reader waits for */
  int barrier_rc;              /* the last finished one's outcome (0 or QP_EAGAIN) */
  pthread_cond_t barrier_cond; /* a barrier finished */
  /* Membership (member_*): members is the loop thread's alone. */
  qp__raft_members_t members;  /* every replica's URL known here */
  char members_path[1200];     /* data_dir/raft/members.json */
  pthread_mutex_t member_lock; /* one admin change at a time */
  member_op_t member_op;       /* the change of the caller holding member_lock */
  bool member_pending;         /* member_op waits for the loop (under mutex) */
  struct raft_change promote;  /* the raft_assign to voter after an add */
  uint64_t promote_id;         /* whom promote promotes (loop thread) */
  bool promoting;              /* promote is in flight (loop thread) */
  uint32_t ticks;              /* status ticks, for the promotion retries */
  uint64_t entry_bytes_avg;    /* moving mean of applied entries' bytes (loop thread) */
  uint32_t threshold_now;      /* the snapshot threshold libraft has (loop thread) */
  char data_dir[1100];         /* the node's data directory */
  bool started;                /* raft_start returned (restores are installs now) */
};

/* ----------------------------------------------------------------- FSM */

static void fsm_apply_member(qp__raft_node_t *n, const struct raft_buffer *buf);

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result) {
  qp__raft_node_t *n = fsm->data;
  if (qp__raft_member_entry_is(buf->base, buf->len)) {
    fsm_apply_member(n, buf);
    *result = NULL;
    return 0;
  }
  applied_t *a = n->applied;
  n->entry_bytes_avg = n->entry_bytes_avg - n->entry_bytes_avg / 16 + buf->len / 16;
  uint64_t index = raft_last_applied(&n->raft) + 1; /* libraft applies in order */
  int rc = qp__raft_entry_decode(buf->base, buf->len, n->apply_now_ns, a->reqs, &a->count,
                                 n->events, n->results);
  if (rc != 0)
    QP_LOG_ERROR("ledger", "Raft entry %llu (%zu bytes, magic %02x%02x%02x%02x) does not decode",
                 (unsigned long long)index, buf->len, ((uint8_t *)buf->base)[0],
                 ((uint8_t *)buf->base)[1], ((uint8_t *)buf->base)[2], ((uint8_t *)buf->base)[3]);
  QP_ASSERT(rc == 0); /* the leader encoded it; Raft checksums its log */
  uint32_t first = qp__raft_first_missing(index, qp_db_replica_pos(n->db), a->count);
  for (uint32_t i = 0; i < a->count; i++) a->reqs[i].replica_pos = (index << 16) | (i + 1);
  a->rc = 0;
  if (first <= a->count) {
    a->rc = qp_db_execute(n->db, a->reqs + first - 1, a->count - first + 1);
    if (a->rc != 0)
      QP_LOG_ERROR("ledger", "applying Raft entry %llu failed: %s", (unsigned long long)index,
                   qp_strerror(a->rc));
  }
  *result = a;
  return 0;
}

/* A snapshot is a descriptor of the journal's position (raft_snapshot.c):
 * the journal holds every entry applied so far, durably - unless the db
 * fail-stopped (an apply failed): then none is taken and the log is kept. */
static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs) {
  qp__raft_node_t *n = fsm->data;
  qp__raft_snapshot_t s;
  if (qp_db_stopped(n->db) ||
      qp__raft_snapshot_take(n->db, n->cluster->replicas[n->cluster->self].http, &s) != 0)
    return RAFT_IOERR;
  s.members = n->members; /* the URLs the truncated log's QPM1 entries taught */
  *bufs = raft_malloc(sizeof **bufs);
  if (*bufs == NULL) return RAFT_NOMEM;
  (*bufs)[0].len = qp__raft_snapshot_size(&s);
  (*bufs)[0].base = raft_malloc((*bufs)[0].len);
  if ((*bufs)[0].base == NULL) {
    raft_free(*bufs);
    return RAFT_NOMEM;
  }
  qp__raft_snapshot_encode(&s, (*bufs)[0].base);
  *n_bufs = 1;
  QP_LOG_INFO("ledger", "Raft snapshot at entry %llu: journal record %llu",
              (unsigned long long)raft_last_applied(&n->raft), (unsigned long long)s.seq);
  return 0;
}

static void members_keep(const qp__raft_node_t *n, uint64_t *keep, uint32_t *keep_count);
static void members_save(qp__raft_node_t *n);

/* A restored snapshot's members: the URLs of replicas that QPM1 entries
 * the truncated log no longer holds taught.  The snapshot is newer than
 * anything this replica, which was behind it, knew: its addresses win. */
static void members_learn(qp__raft_node_t *n, const qp__raft_members_t *m) {
  uint64_t keep[QP__RAFT_SERVERS_MAX];
  uint32_t keep_count = 0, changed = 0;
  members_keep(n, keep, &keep_count);
  for (uint32_t i = 0; i < m->count; i++) {
    const qp_ledger_replica_t *had = qp__raft_members_find(&n->members, m->replicas[i].id);
    if (had != NULL && strcmp(had->raft, m->replicas[i].raft) == 0 &&
        strcmp(had->http, m->replicas[i].http) == 0)
      continue;
    qp__raft_members_put(&n->members, &m->replicas[i], keep, keep_count);
    changed++;
  }
  if (changed > 0) members_save(n);
}

/* At start with the last snapshot, or on a follower sent one: brings the
 * journal to the snapshot's position, fetching what it lacks from the
 * other replicas (this blocks the loop: the follower is catching up).  A
 * journal that diverged stops the replica: at start raft_start fails; on
 * a running follower the process exits, loudly. */
static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf) {
  qp__raft_node_t *n = fsm->data;
  qp__raft_snapshot_t s;
  char detail[512] = "";
  int rc = qp__raft_snapshot_decode(buf->base, buf->len, &s);
  if (rc != 0) snprintf(detail, sizeof detail, "the Raft snapshot is not a quipu descriptor");
  qp__raft_catchup_t c = {
      .cluster = n->cluster, .db = n->db, .clock_ns = n->apply_now_ns, .data_dir = n->data_dir};
  if (rc == 0) rc = qp__raft_snapshot_install(&c, &s, CATCHUP_WAIT_MS, detail, sizeof detail);
  if (rc == 0) {
    members_learn(n, &s.members);
    raft_free(buf->base); /* restore owns it on success */
    return 0;
  }
  QP_LOG_ERROR("ledger", "restoring the Raft snapshot (journal record %llu): %s (%s)",
               (unsigned long long)s.seq, detail, qp_strerror(rc));
  if (rc == QP_EAGAIN) return RAFT_IOERR; /* the leader sends it again */
  if (n->started) {
    QP_LOG_ERROR("ledger", "this replica diverged from the cluster: stopping (fail-stop)");
    _exit(EXIT_FAILURE);
  }
  return RAFT_CORRUPT;
}

/* --------------------------------------------------------- loop thread */

static void proposal_finish(qp__raft_node_t *n, proposal_t *p, int rc) {
  pthread_mutex_lock(&n->mutex);
  p->rc = rc;
  p->done = true;
  proposal_t **link = &n->pending;
  while (*link != NULL && *link != p) link = &(*link)->next;
  QP_ASSERT(*link == p);
  *link = p->next;
  pthread_cond_broadcast(&n->cond);
  pthread_mutex_unlock(&n->mutex);
}

static void apply_done(struct raft_apply *req, int status, void *result) {
  proposal_t *p = req->data;
  if (status != 0) {
    QP_LOG_WARN("ledger", "a proposed entry was not applied here: %s", raft_strerror(status));
    proposal_finish(p->node, p, QP_EAGAIN);
    return;
  }
  const applied_t *a = result;
  QP_ASSERT(a != NULL && a->count == p->count);
  for (uint32_t i = 0; i < p->count; i++) {
    p->reqs[i].status = a->reqs[i].status;
    if (a->reqs[i].status == 0 && a->reqs[i].count > 0)
      memcpy(p->reqs[i].results, a->reqs[i].results, a->reqs[i].count * sizeof(uint32_t));
  }
  proposal_finish(p->node, p, a->rc);
}

static void copy_status(qp__raft_node_t *n) {
  qp__raft_status_t s = {.role = raft_state(&n->raft)};
  const char *address = NULL;
  raft_id leader_id = 0;
  raft_leader(&n->raft, &leader_id, &address);
  s.leader_id = leader_id;
  const qp_ledger_replica_t *leader = qp__raft_members_find(&n->members, s.leader_id);
  if (s.leader_id != 0 && leader != NULL) memcpy(s.leader_http, leader->http, sizeof s.leader_http);
  s.term = n->raft.current_term;
  s.commit_index = n->raft.commit_index;
  s.applied_index = raft_last_applied(&n->raft);
  const struct raft_configuration *conf = &n->raft.configuration;
  for (unsigned i = 0; i < conf->n && s.server_count < QP__RAFT_SERVERS_MAX; i++) {
    qp__raft_server_status_t *out = &s.servers[s.server_count++];
    const qp_ledger_replica_t *m = qp__raft_members_find(&n->members, conf->servers[i].id);
    out->id = conf->servers[i].id;
    out->role = conf->servers[i].role;
    snprintf(out->raft, sizeof out->raft, "%s", conf->servers[i].address);
    if (m != NULL) memcpy(out->http, m->http, sizeof out->http);
  }
  pthread_mutex_lock(&n->mutex);
  n->status = s;
  pthread_mutex_unlock(&n->mutex);
}

static void promote_spares(qp__raft_node_t *n);

/* Without a configured threshold, sized by bytes at the entries' mean size
 * (qp__raft_snapshot_sizes).  Batches of one make entries of a few hundred
 * bytes: a snapshot every 256 of them came several times a second, and
 * each one stalls the loop for tens of ms (libraft closes the open
 * segment, and with it a kernel AIO context, on the loop thread). */
static void size_snapshots(qp__raft_node_t *n) {
  const qp_ledger_cluster_t *c = n->cluster;
  uint32_t threshold = 0, trailing = 0;
  if (!c->snapshot_sized ||
      !qp__raft_snapshot_sizes(n->entry_bytes_avg, c->snapshot_threshold, c->snapshot_trailing,
                               n->threshold_now, &threshold, &trailing))
    return;
  n->threshold_now = threshold;
  raft_set_snapshot_threshold(&n->raft, threshold);
  raft_set_snapshot_trailing(&n->raft, trailing);
}

/* libraft turns a running replica RAFT_UNAVAILABLE for good when it
 * cannot go on (a disk write failed, a message it could not take): a
 * replica that no longer takes part in Raft exits, saying why, so that its
 * supervisor restarts it from its disk (docs/cluster.md, "Faults"). */
static void fail_stop(qp__raft_node_t *n) {
  pthread_mutex_lock(&n->mutex);
  bool stopping = n->stopping;
  pthread_mutex_unlock(&n->mutex);
  if (stopping) return;
  QP_LOG_ERROR("ledger",
               "Raft stopped on this replica (term %llu, applied %llu): %s; exiting (fail-stop)",
               (unsigned long long)n->raft.current_term,
               (unsigned long long)raft_last_applied(&n->raft), raft_errmsg(&n->raft));
  _exit(EXIT_FAILURE);
}

static void status_tick(uv_timer_t *t) {
  qp__raft_node_t *n = t->data;
  copy_status(n);
  if (raft_state(&n->raft) == RAFT_UNAVAILABLE) fail_stop(n);
  size_snapshots(n);
  if (++n->ticks % PROMOTE_EVERY_TICKS == 0) promote_spares(n);
}

static void closed_handle(uv_handle_t *h) { (void)h; }

static void raft_closed(struct raft *r) {
  qp__raft_node_t *n = r->data;
  raft_uv_close(&n->io);
  raft_uv_tcp_close(&n->tcp.transport);
  uv_close((uv_handle_t *)&n->wake, closed_handle);
  uv_close((uv_handle_t *)&n->status_timer, closed_handle);
}

/* ----------------------------------------- linearizable reads (loop) */

static void barrier_start(qp__raft_node_t *n);

/* A barrier entry of this term was applied (or failed: leadership lost). */
static void barrier_done_cb(struct raft_barrier *req, int status) {
  qp__raft_node_t *n = req->data;
  copy_status(n); /* a failed barrier usually means a new role: readers redirect by it */
  pthread_mutex_lock(&n->mutex);
  QP_ASSERT(n->barrier_done + 1 == n->barrier_started);
  n->barrier_done = n->barrier_started;
  n->barrier_rc = status == 0 ? 0 : QP_EAGAIN;
  pthread_cond_broadcast(&n->barrier_cond);
  pthread_mutex_unlock(&n->mutex);
  if (status != 0 && status != RAFT_CANCELED)
    QP_LOG_INFO("ledger", "read barrier failed: %s", raft_strerror(status));
  /* The next barrier starts from the loop, not from here: libraft fails a
   * deposed leader's requests after freeing its followers' progress but
   * before it leaves the leader state, so a raft_barrier made inside this
   * callback would be accepted and then replicated from freed state (a
   * crash seen under the cluster bank test). */
  if (status != RAFT_CANCELED) uv_async_send(&n->wake);
}

/* Starts the next barrier when a reader waits for one and none is in
 * flight; a non-leader fails it at once. */
static void barrier_start(qp__raft_node_t *n) {
  pthread_mutex_lock(&n->mutex);
  bool start = !n->stopping && n->barrier_started == n->barrier_done &&
               n->barrier_wanted > n->barrier_started;
  if (start) n->barrier_started++;
  pthread_mutex_unlock(&n->mutex);
  if (!start) return;
  n->barrier.data = n;
  int rv = raft_state(&n->raft) == RAFT_LEADER
               ? raft_barrier(&n->raft, &n->barrier, barrier_done_cb)
               : RAFT_NOTLEADER;
  if (rv != 0) {
    pthread_mutex_lock(&n->mutex);
    n->barrier_done = n->barrier_started;
    n->barrier_rc = QP_EAGAIN;
    pthread_cond_broadcast(&n->barrier_cond);
    pthread_mutex_unlock(&n->mutex);
  }
}

/* ------------------------------------------------ membership (loop) */

/* The ids of Raft's configuration: members a full table must keep. */
static void members_keep(const qp__raft_node_t *n, uint64_t *keep, uint32_t *keep_count) {
  *keep_count = 0;
  for (unsigned i = 0; i < n->raft.configuration.n && *keep_count < QP__RAFT_SERVERS_MAX; i++)
    keep[(*keep_count)++] = n->raft.configuration.servers[i].id;
}

static void members_save(qp__raft_node_t *n) {
  char detail[256];
  if (qp__raft_members_save(&n->members, n->members_path, detail, sizeof detail) != 0)
    QP_LOG_WARN("ledger", "cannot save the replicas' URLs: %s", detail); /* the log has them */
}

/* A QPM1 entry: remember the replica's addresses, on every replica. */
static void fsm_apply_member(qp__raft_node_t *n, const struct raft_buffer *buf) {
  qp_ledger_replica_t r;
  int rc = qp__raft_member_entry_decode(buf->base, buf->len, &r);
  QP_ASSERT(rc == 0); /* the leader encoded it; Raft checksums its log */
  uint64_t keep[QP__RAFT_SERVERS_MAX];
  uint32_t keep_count = 0;
  members_keep(n, keep, &keep_count);
  qp__raft_members_put(&n->members, &r, keep, keep_count);
  members_save(n);
}

static int members_load(qp__raft_node_t *n, char *detail, size_t detail_size) {
  int rc = qp__raft_members_load(&n->members, n->members_path);
  if (rc == 0 || rc == QP_ENOTFOUND) return 0;
  snprintf(detail, detail_size, "%s: %s", n->members_path, qp_strerror(rc));
  return rc;
}

static void member_finish(qp__raft_node_t *n, int rc, const char *why) {
  member_op_t *op = &n->member_op;
  copy_status(n); /* the route answers with the new configuration */
  pthread_mutex_lock(&n->mutex);
  op->rc = rc;
  if (rc != 0 && why != NULL) snprintf(op->detail, sizeof op->detail, "%s", why);
  op->done = true;
  n->member_pending = false;
  pthread_cond_broadcast(&n->cond);
  pthread_mutex_unlock(&n->mutex);
}

/* libraft's refusal as ours. */
static void member_fail(qp__raft_node_t *n, int rv) {
  int rc = rv == RAFT_NOTLEADER || rv == RAFT_LEADERSHIPLOST       ? QP_EAGAIN
           : rv == RAFT_CANTCHANGE                                 ? QP_ELIMIT
           : rv == RAFT_DUPLICATEID || rv == RAFT_DUPLICATEADDRESS ? QP_EEXISTS
           : rv == RAFT_BADID                                      ? QP_ENOTFOUND
           : rv == RAFT_CANCELED                                   ? QP_ESTOPPED
                                                                   : QP_EIO;
  member_finish(n, rc,
                rv == RAFT_CANTCHANGE
                    ? "another membership change is in progress (a replica being promoted "
                      "catches up only once it is started); retry later"
                    : raft_strerror(rv));
}

static void promoted(struct raft_change *req, int status) {
  qp__raft_node_t *n = req->data;
  n->promoting = false;
  if (status == 0)
    QP_LOG_INFO("ledger", "replica %llu caught up and is a voter",
                (unsigned long long)n->promote_id);
  else
    QP_LOG_INFO("ledger", "promoting replica %llu to voter failed (retried): %s",
                (unsigned long long)n->promote_id, raft_strerror(status));
}

/* The leader promotes the spares of the configuration (every replica
 * qp__raft_node_add added) to voters, one at a time: libraft fails a
 * promotion while the new replica is not running yet, and a new leader
 * does not carry on its predecessor's, so this retries every second. */
static void promote_spares(qp__raft_node_t *n) {
  if (raft_state(&n->raft) != RAFT_LEADER || n->promoting) return;
  const struct raft_configuration *conf = &n->raft.configuration;
  for (unsigned i = 0; i < conf->n; i++) {
    if (conf->servers[i].role != RAFT_SPARE) continue;
    n->promote.data = n;
    n->promote_id = conf->servers[i].id;
    n->promoting = raft_assign(&n->raft, &n->promote, n->promote_id, RAFT_VOTER, promoted) == 0;
    return;
  }
}

/* The add is committed (or r was a spare already): promote it. */
static void member_added(struct raft_change *req, int status) {
  qp__raft_node_t *n = req->data;
  if (status != 0) {
    member_fail(n, status);
    return;
  }
  if (!n->promoting) { /* else one is in flight; promote_spares does this one next */
    n->promote.data = n;
    n->promote_id = n->member_op.replica.id;
    n->promoting = raft_assign(&n->raft, &n->promote, n->promote_id, RAFT_VOTER, promoted) == 0;
  }
  member_finish(n, 0, ""); /* added; the promotion finishes once it has caught up */
}

/* Every replica knows r's URL now: add it to the configuration. */
static void member_recorded(struct raft_apply *req, int status, void *result) {
  (void)result;
  qp__raft_node_t *n = req->data;
  if (status != 0) {
    member_fail(n, status);
    return;
  }
  member_op_t *op = &n->member_op;
  op->change.data = n;
  int rv = raft_add(&n->raft, &op->change, op->replica.id, op->replica.raft, member_added);
  if (rv != 0) member_fail(n, rv);
}

static void member_removed(struct raft_change *req, int status) {
  qp__raft_node_t *n = req->data;
  if (status != 0)
    member_fail(n, status);
  else
    member_finish(n, 0, "");
}

/* Whether r clashes with a server of the configuration (op->detail says
 * which); *spare: r is in it already, as a spare with the same address. */
static bool member_clashes(qp__raft_node_t *n, const qp_ledger_replica_t *r, bool *spare) {
  const struct raft_configuration *conf = &n->raft.configuration;
  *spare = false;
  for (unsigned i = 0; i < conf->n; i++) {
    const struct raft_server *s = &conf->servers[i];
    const qp_ledger_replica_t *m = qp__raft_members_find(&n->members, s->id);
    bool same_raft = strcmp(s->address, r->raft) == 0;
    if (s->id == r->id && same_raft && s->role == RAFT_SPARE)
      *spare = true;
    else if (s->id == r->id || same_raft || (m != NULL && strcmp(m->http, r->http) == 0)) {
      snprintf(n->member_op.detail, sizeof n->member_op.detail,
               "replica %llu (raft %s) already has this %s", (unsigned long long)s->id, s->address,
               s->id == r->id ? "id"
               : same_raft    ? "raft address"
                              : "http URL");
      return true;
    }
  }
  return false;
}

static void member_add_start(qp__raft_node_t *n, member_op_t *op) {
  bool spare = false;
  if (member_clashes(n, &op->replica, &spare)) {
    member_finish(n, QP_EEXISTS, NULL);
    return;
  }
  if (spare) { /* added before, its promotion lost (a leader change): promote it again */
    member_added(&op->change, 0);
    return;
  }
  if (n->raft.configuration.n >= QP_LEDGER_REPLICAS_MAX) {
    member_finish(n, QP_ELIMIT, "the cluster has the most replicas it may have");
    return;
  }
  op->buf.len = qp__raft_member_entry_size(&op->replica);
  op->buf.base = raft_malloc(op->buf.len);
  if (op->buf.base == NULL) {
    member_finish(n, QP_ENOMEM, "out of memory");
    return;
  }
  qp__raft_member_entry_encode(&op->replica, op->buf.base, op->buf.len);
  op->apply.data = n;
  struct raft_buffer bufs[1] = {op->buf}; /* raft copies the descriptor */
  int rv = raft_apply(&n->raft, &op->apply, bufs, 1, member_recorded);
  if (rv != 0) {
    raft_free(op->buf.base);
    member_fail(n, rv);
  }
}

/* Starts the admin's change, if one waits. */
static void member_take(qp__raft_node_t *n) {
  member_op_t *op = &n->member_op;
  pthread_mutex_lock(&n->mutex);
  bool take = n->member_pending && !op->submitted;
  if (take) op->submitted = true;
  pthread_mutex_unlock(&n->mutex);
  if (!take) return;
  op->change.data = n;
  if (raft_state(&n->raft) != RAFT_LEADER)
    member_fail(n, RAFT_NOTLEADER);
  else if (!op->remove)
    member_add_start(n, op);
  else {
    int rv = raft_remove(&n->raft, &op->change, op->replica.id, member_removed);
    if (rv != 0) member_fail(n, rv);
  }
}

/* The oldest proposal the loop has not taken yet, marked taken; NULL when
 * none waits. */
static proposal_t *next_unsubmitted(qp__raft_node_t *n) {
  pthread_mutex_lock(&n->mutex);
  proposal_t *p = n->pending;
  while (p != NULL && p->submitted) p = p->next;
  if (p != NULL) p->submitted = true;
  pthread_mutex_unlock(&n->mutex);
  return p;
}

/* Hands the waiting proposals to raft_apply in the order they came. */
static void submit_proposals(qp__raft_node_t *n) {
  proposal_t *p;
  while ((p = next_unsubmitted(n)) != NULL) {
    int rv = raft_state(&n->raft) == RAFT_LEADER
                 ? raft_apply(&n->raft, &p->req, &p->buf, 1, apply_done)
                 : RAFT_NOTLEADER;
    if (rv != 0) {
      raft_free(p->buf.base);
      proposal_finish(n, p, rv == RAFT_NOTLEADER || rv == RAFT_LEADERSHIPLOST ? QP_EAGAIN : QP_EIO);
    }
  }
}

/* Hands the waiting proposals to raft_apply, or stops. */
static void wake_cb(uv_async_t *h) {
  qp__raft_node_t *n = h->data;
  pthread_mutex_lock(&n->mutex);
  bool stopping = n->stopping;
  pthread_mutex_unlock(&n->mutex);
  submit_proposals(n);
  barrier_start(n);
  member_take(n);
  if (stopping) {
    uv_timer_stop(&n->status_timer);
    raft_close(&n->raft, raft_closed);
  }
}

static void *loop_main(void *arg) {
  qp__raft_node_t *n = arg;
  (void)pthread_setname_np(pthread_self(), "ledger-raft"); /* top -H, perf */
  uv_run(&n->loop, UV_RUN_DEFAULT);
  return NULL;
}

/* ------------------------------------------------------------- start */

/* Bootstraps the log with every replica as a voter, the first time only. */
static int bootstrap(qp__raft_node_t *n) {
  if (n->cluster->join) return 0; /* added later: the leader sends it the configuration */
  struct raft_configuration conf;
  raft_configuration_init(&conf);
  int rv = 0;
  for (uint32_t i = 0; i < n->cluster->count && rv == 0; i++)
    rv = raft_configuration_add(&conf, n->cluster->replicas[i].id, n->cluster->replicas[i].raft,
                                RAFT_VOTER);
  if (rv == 0) rv = raft_bootstrap(&n->raft, &conf);
  raft_configuration_close(&conf);
  return rv == RAFT_CANTBOOTSTRAP ? 0 : rv; /* already bootstrapped: a restart */
}

/* Sets up libuv and libraft on n->loop; the thread is not started yet. */
static int raft_setup(qp__raft_node_t *n, char *detail, size_t detail_size) {
  const qp_ledger_replica_t *self = &n->cluster->replicas[n->cluster->self];
  const char *step = "uv_loop_init";
  int rv = uv_loop_init(&n->loop);
  if (rv == 0) step = "raft_uv_tcp_init", rv = qp__raft_tcp_init(&n->tcp, &n->loop);
  if (rv == 0 && self->raft_bind[0] != '\0') /* listen here, advertise self->raft (a proxy) */
    step = "raft_uv_tcp_set_bind_address",
    rv = raft_uv_tcp_set_bind_address(&n->tcp.transport, self->raft_bind);
  if (rv == 0)
    step = "raft_uv_init", rv = raft_uv_init(&n->io, &n->loop, n->dir, &n->tcp.transport);
  n->fsm = (struct raft_fsm){.version = 1,
                             .data = n,
                             .apply = fsm_apply,
                             .snapshot = fsm_snapshot,
                             .restore = fsm_restore};
  if (rv == 0) step = "raft_init", rv = raft_init(&n->raft, &n->io, &n->fsm, self->id, self->raft);
  if (rv != 0) {
    snprintf(detail, detail_size, "Raft: %s failed (%d)", step, rv);
    return QP_EIO;
  }
  n->raft.data = n; /* and so &n->guard */
  qp__raft_recv_guard(&n->io, &n->guard);
  raft_set_heartbeat_timeout(&n->raft, HEARTBEAT_MS);
  raft_set_election_timeout(&n->raft, ELECTION_MS);
  raft_set_snapshot_threshold(&n->raft, n->cluster->snapshot_threshold);
  n->threshold_now = n->cluster->snapshot_threshold;
  raft_set_snapshot_trailing(&n->raft, n->cluster->snapshot_trailing);
  raft_set_pre_vote(&n->raft, true);
  rv = bootstrap(n);
  if (rv == 0)
    step = "raft_start", rv = raft_start(&n->raft);
  else
    step = "raft_bootstrap";
  n->started = true;
  if (rv != 0) {
    snprintf(detail, detail_size, "Raft: %s failed: %s (%s)", step, raft_strerror(rv),
             raft_errmsg(&n->raft));
    return QP_EIO;
  }
  uv_async_init(&n->loop, &n->wake, wake_cb);
  n->wake.data = n;
  uv_timer_init(&n->loop, &n->status_timer);
  n->status_timer.data = n;
  uv_timer_start(&n->status_timer, status_tick, 0, STATUS_EVERY_MS);
  return 0;
}

static void node_free(qp__raft_node_t *n) {
  qp_free(n->applied);
  qp_free(n->events);
  qp_free(n->results);
  pthread_mutex_destroy(&n->mutex);
  pthread_cond_destroy(&n->cond);
  pthread_cond_destroy(&n->barrier_cond);
  pthread_mutex_destroy(&n->member_lock);
  qp_free(n);
}

int qp__raft_node_start(const qp_ledger_cluster_t *cluster, qp_db_t *db, uint64_t *clock_ns,
                        const char *data_dir, qp__raft_node_t **out, char *detail,
                        size_t detail_size) {
  QP_ASSERT(cluster->enabled && cluster->self < cluster->count);
  qp__raft_node_t *n = qp_calloc(1, sizeof *n);
  if (n == NULL) return QP_ENOMEM;
  n->cluster = cluster;
  n->db = db;
  n->apply_now_ns = clock_ns;
  pthread_mutex_init(&n->mutex, NULL);
  pthread_cond_init(&n->cond, NULL);
  pthread_cond_init(&n->barrier_cond, NULL);
  pthread_mutex_init(&n->member_lock, NULL);
  n->applied = qp_calloc(1, sizeof *n->applied);
  n->events = qp_calloc(QP__RAFT_ENTRY_EVENTS_MAX, sizeof *n->events);
  n->results = qp_calloc(QP__RAFT_ENTRY_EVENTS_MAX, sizeof *n->results);
  int len = snprintf(n->dir, sizeof n->dir, "%s/raft", data_dir);
  snprintf(n->members_path, sizeof n->members_path, "%s/members.json", n->dir);
  qp__raft_members_init(&n->members, cluster);
  snprintf(n->data_dir, sizeof n->data_dir, "%s", data_dir);
  if (n->applied == NULL || n->events == NULL || n->results == NULL) {
    node_free(n);
    return QP_ENOMEM;
  }
  if (len < 0 || (size_t)len >= sizeof n->dir || (mkdir(n->dir, 0700) != 0 && errno != EEXIST)) {
    snprintf(detail, detail_size, "cannot create %s", n->dir);
    node_free(n);
    return QP_EIO;
  }
  int rc = members_load(n, detail, detail_size);
  if (rc == 0) rc = raft_setup(n, detail, detail_size);
  if (rc == 0 && pthread_create(&n->thread, NULL, loop_main, n) != 0) rc = QP_ENOMEM;
  if (rc != 0) {
    node_free(n); /* the loop's memory is lost with it: the node exits */
    return rc;
  }
  QP_LOG_INFO("ledger", "Raft replica %llu of cluster %s at %s",
              (unsigned long long)cluster->replicas[cluster->self].id, cluster->id,
              cluster->replicas[cluster->self].raft);
  *out = n;
  return 0;
}

/* ------------------------------------------------------ other threads */

int qp__raft_node_propose(qp__raft_node_t *n, qp_db_request_t *reqs, uint32_t count) {
  size_t size = qp__raft_entry_size(reqs, count);
  proposal_t p = {.node = n, .reqs = reqs, .count = count};
  p.req.data = &p;
  p.buf.base = raft_malloc(size);
  p.buf.len = size;
  if (p.buf.base == NULL) return QP_ENOMEM;
  int rc = qp__raft_entry_encode(qp_clock_wall_ns(), reqs, count, p.buf.base, size);
  if (rc != 0) {
    raft_free(p.buf.base);
    return rc;
  }
  pthread_mutex_lock(&n->mutex);
  if (n->stopping || n->status.role != RAFT_LEADER) {
    rc = n->stopping ? QP_ESTOPPED : QP_EAGAIN;
    pthread_mutex_unlock(&n->mutex);
    raft_free(p.buf.base);
    return rc;
  }
  proposal_t **link = &n->pending; /* appended: the loop submits in this order */
  while (*link != NULL) link = &(*link)->next;
  *link = &p;
  uv_async_send(&n->wake);
  while (!p.done) pthread_cond_wait(&n->cond, &n->mutex);
  pthread_mutex_unlock(&n->mutex);
  return p.rc;
}

void qp__raft_node_status(qp__raft_node_t *n, qp__raft_status_t *out) {
  pthread_mutex_lock(&n->mutex);
  *out = n->status;
  pthread_mutex_unlock(&n->mutex);
}

int qp__raft_node_read_barrier(qp__raft_node_t *n) {
  struct timespec until;
  qp_clock_deadline_ts(READ_WAIT_MS, &until);
  pthread_mutex_lock(&n->mutex);
  uint64_t want = n->barrier_started + 1; /* the next one to start began after we came */
  if (n->barrier_wanted < want) n->barrier_wanted = want;
  bool timed_out = false;
  if (!n->stopping) uv_async_send(&n->wake);
  while (!n->stopping && !timed_out && n->barrier_done < want)
    timed_out = pthread_cond_timedwait(&n->barrier_cond, &n->mutex, &until) != 0;
  /* A later barrier than ours also started after we came: its outcome will do. */
  int rc = n->stopping ? QP_ESTOPPED : n->barrier_done >= want ? n->barrier_rc : QP_EAGAIN;
  pthread_mutex_unlock(&n->mutex);
  return rc;
}

/* Hands op to the loop and waits for its outcome. */
static int member_run(qp__raft_node_t *n, const member_op_t *want, char *detail,
                      size_t detail_size) {
  pthread_mutex_lock(&n->member_lock);
  pthread_mutex_lock(&n->mutex);
  int rc = QP_ESTOPPED;
  if (!n->stopping) {
    n->member_op = *want;
    n->member_pending = true;
    uv_async_send(&n->wake);
    while (!n->member_op.done) pthread_cond_wait(&n->cond, &n->mutex);
    rc = n->member_op.rc;
    snprintf(detail, detail_size, "%s", n->member_op.detail);
  }
  pthread_mutex_unlock(&n->mutex);
  pthread_mutex_unlock(&n->member_lock);
  return rc;
}

int qp__raft_node_add(qp__raft_node_t *n, const qp_ledger_replica_t *r, char *detail,
                      size_t detail_size) {
  member_op_t op = {.remove = false, .replica = *r};
  return member_run(n, &op, detail, detail_size);
}

int qp__raft_node_remove(qp__raft_node_t *n, uint64_t id, char *detail, size_t detail_size) {
  member_op_t op = {.remove = true, .replica = {.id = id}};
  return member_run(n, &op, detail, detail_size);
}

void qp__raft_node_stop(qp__raft_node_t *n) {
  if (n == NULL) return;
  pthread_mutex_lock(&n->mutex);
  n->stopping = true;
  pthread_cond_broadcast(&n->barrier_cond);
  pthread_mutex_unlock(&n->mutex);
  uv_async_send(&n->wake);
  pthread_join(n->thread, NULL);
  uv_loop_close(&n->loop);
  node_free(n);
}
