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

#define STATUS_EVERY_MS 20u   /* the status copy for other threads */
#define HEARTBEAT_MS 50u      /* Raft heartbeat */
#define ELECTION_MS 500u      /* Raft election timeout (randomised up to twice) */
#define CATCHUP_WAIT_MS 30000u /* a restore waits this long for a replica to serve the journal */

/* The writer's group in flight (at most one). */
typedef struct proposal {
  struct raft_apply req;  /* req.data = this */
  struct qp__raft_node *node; /* whose proposal */
  struct raft_buffer buf; /* the entry; raft owns it once raft_apply took it */
  qp_db_request_t *reqs;  /* the writer's requests; statuses and results land here */
  uint32_t count;         /* requests */
  int rc;                 /* outcome */
  bool submitted;         /* the loop has taken it */
  bool done;              /* outcome set */
} proposal_t;

/* What the FSM's apply of the latest entry produced (loop thread). */
typedef struct applied {
  qp_db_request_t reqs[QP__RAFT_ENTRY_REQUESTS_MAX]; /* decoded requests */
  uint32_t count;                                    /* of them */
  int rc;                                            /* qp_db_execute's return */
} applied_t;

struct qp__raft_node {
  const qp_ledger_cluster_t *cluster; /* borrowed */
  qp_db_t *db;                        /* borrowed */
  uv_loop_t loop;                     /* owned by the thread */
  uv_async_t wake;                    /* a proposal or the stop */
  uv_timer_t status_timer;            /* copies the status */
  struct raft_uv_transport transport; /* TCP */
  struct raft_io io;                  /* libuv disk + network */
  struct raft_fsm fsm;                /* the ledger */
  struct raft raft;                   /* the consensus */
  pthread_t thread;                   /* runs the loop */
  pthread_mutex_t mutex;              /* guards pending, stopping, status */
  pthread_cond_t cond;                /* proposals done */
  proposal_t *pending;                /* the writer's proposal, or NULL */
  bool stopping;                      /* stop asked */
  qp__raft_status_t status;           /* latest copy */
  uint64_t *apply_now_ns;             /* the db's clock: the entry being applied */
  applied_t *applied;                 /* FSM scratch */
  qp_transfer_t *events;              /* FSM scratch: QP__RAFT_ENTRY_EVENTS_MAX */
  uint32_t *results;                  /* FSM scratch: QP__RAFT_ENTRY_EVENTS_MAX */
  char dir[1100];                     /* data_dir/raft */
  char data_dir[1100];                /* the node's data directory */
  bool started;                       /* raft_start returned (restores are installs now) */
};

/* ----------------------------------------------------------------- FSM */

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result) {
  qp__raft_node_t *n = fsm->data;
  applied_t *a = n->applied;
  uint64_t index = raft_last_applied(&n->raft) + 1; /* libraft applies in order */
  int rc = qp__raft_entry_decode(buf->base, buf->len, n->apply_now_ns, a->reqs, &a->count,
                                 n->events, n->results);
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
  qp__raft_catchup_t c = {.cluster = n->cluster, .db = n->db, .clock_ns = n->apply_now_ns,
                          .data_dir = n->data_dir};
  if (rc == 0) rc = qp__raft_snapshot_install(&c, &s, CATCHUP_WAIT_MS, detail, sizeof detail);
  if (rc == 0) {
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
  n->pending = NULL;
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
  qp__raft_status_t s = {.role = raft_state(&n->raft), .leader = -1};
  raft_id leader_id = 0;
  const char *address = NULL;
  raft_leader(&n->raft, &leader_id, &address);
  for (uint32_t i = 0; i < n->cluster->count; i++)
    if (leader_id != 0 && n->cluster->replicas[i].id == leader_id) s.leader = (int)i;
  s.term = n->raft.current_term;
  s.commit_index = n->raft.commit_index;
  s.applied_index = raft_last_applied(&n->raft);
  pthread_mutex_lock(&n->mutex);
  n->status = s;
  pthread_mutex_unlock(&n->mutex);
}

static void status_tick(uv_timer_t *t) { copy_status(t->data); }

static void closed_handle(uv_handle_t *h) { (void)h; }

static void raft_closed(struct raft *r) {
  qp__raft_node_t *n = r->data;
  raft_uv_close(&n->io);
  raft_uv_tcp_close(&n->transport);
  uv_close((uv_handle_t *)&n->wake, closed_handle);
  uv_close((uv_handle_t *)&n->status_timer, closed_handle);
}

/* Hands the pending proposal to raft_apply, or stops. */
static void wake_cb(uv_async_t *h) {
  qp__raft_node_t *n = h->data;
  pthread_mutex_lock(&n->mutex);
  proposal_t *p = n->pending != NULL && !n->pending->submitted ? n->pending : NULL;
  bool stopping = n->stopping;
  if (p != NULL) p->submitted = true;
  pthread_mutex_unlock(&n->mutex);
  if (p != NULL) {
    int rv = raft_state(&n->raft) == RAFT_LEADER
                 ? raft_apply(&n->raft, &p->req, &p->buf, 1, apply_done)
                 : RAFT_NOTLEADER;
    if (rv != 0) {
      raft_free(p->buf.base);
      proposal_finish(n, p, rv == RAFT_NOTLEADER || rv == RAFT_LEADERSHIPLOST ? QP_EAGAIN : QP_EIO);
    }
  }
  if (stopping) {
    uv_timer_stop(&n->status_timer);
    raft_close(&n->raft, raft_closed);
  }
}

static void *loop_main(void *arg) {
  qp__raft_node_t *n = arg;
  uv_run(&n->loop, UV_RUN_DEFAULT);
  return NULL;
}

/* ------------------------------------------------------------- start */

/* Bootstraps the log with every replica as a voter, the first time only. */
static int bootstrap(qp__raft_node_t *n) {
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
  if (rv == 0) step = "raft_uv_tcp_init", rv = raft_uv_tcp_init(&n->transport, &n->loop);
  if (rv == 0) step = "raft_uv_init", rv = raft_uv_init(&n->io, &n->loop, n->dir, &n->transport);
  n->fsm = (struct raft_fsm){
      .version = 1, .data = n, .apply = fsm_apply, .snapshot = fsm_snapshot,
      .restore = fsm_restore};
  if (rv == 0) step = "raft_init", rv = raft_init(&n->raft, &n->io, &n->fsm, self->id, self->raft);
  if (rv != 0) {
    snprintf(detail, detail_size, "Raft: %s failed (%d)", step, rv);
    return QP_EIO;
  }
  n->raft.data = n;
  raft_set_heartbeat_timeout(&n->raft, HEARTBEAT_MS);
  raft_set_election_timeout(&n->raft, ELECTION_MS);
  raft_set_snapshot_threshold(&n->raft, n->cluster->snapshot_threshold);
  raft_set_snapshot_trailing(&n->raft, n->cluster->snapshot_trailing);
  raft_set_pre_vote(&n->raft, true);
  rv = bootstrap(n);
  if (rv == 0) step = "raft_start", rv = raft_start(&n->raft);
  else step = "raft_bootstrap";
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
  n->status.leader = -1;
  pthread_mutex_init(&n->mutex, NULL);
  pthread_cond_init(&n->cond, NULL);
  n->applied = qp_calloc(1, sizeof *n->applied);
  n->events = qp_calloc(QP__RAFT_ENTRY_EVENTS_MAX, sizeof *n->events);
  n->results = qp_calloc(QP__RAFT_ENTRY_EVENTS_MAX, sizeof *n->results);
  int len = snprintf(n->dir, sizeof n->dir, "%s/raft", data_dir);
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
  int rc = raft_setup(n, detail, detail_size);
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
  QP_ASSERT(n->pending == NULL); /* one writer */
  if (n->stopping || n->status.role != RAFT_LEADER) {
    rc = n->stopping ? QP_ESTOPPED : QP_EAGAIN;
    pthread_mutex_unlock(&n->mutex);
    raft_free(p.buf.base);
    return rc;
  }
  n->pending = &p;
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

void qp__raft_node_stop(qp__raft_node_t *n) {
  if (n == NULL) return;
  pthread_mutex_lock(&n->mutex);
  n->stopping = true;
  pthread_mutex_unlock(&n->mutex);
  uv_async_send(&n->wake);
  pthread_join(n->thread, NULL);
  uv_loop_close(&n->loop);
  node_free(n);
}
