/*
 * writer.c - group commit for the HTTP server.
 *
 * Every create request from every connection goes into one bounded queue.
 * A single writer thread takes everything queued at that moment and hands
 * it to qp_db_execute() in one call, which applies the batches in order and
 * makes them durable with one journal append and one fdatasync.  While that
 * fsync runs, new requests pile up and form the next group, so the fsync
 * cost is shared by however many requests arrive during one fsync: the
 * busier the server, the bigger the groups (DESIGN.md section 2, "batch
 * rather than react").
 *
 * The HTTP thread that queued a job sleeps until the writer marks it done,
 * and only then answers: nothing is acknowledged before it is on disk.
 *
 * The node's periodic tick asks for an expiry sweep (qp__ledger_writer_sweep)
 * so that pending transfers whose timeout passed are voided even without
 * traffic; the writer runs it between groups, so a sweep never races a
 * commit.
 */
#include <string.h>

#include <jansson.h>

#include "ledger/api_int.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/assert.h"
#include "base/err.h"
#include "base/log.h"

/* Sweeps expired pending transfers (its own journaled batch, if any). */
static void sweep_expired(qp__ledger_writer_t *w) {
  if (qp_db_stopped(w->db)) return;
  atomic_fetch_add_explicit(&w->metrics->sweeps, 1, memory_order_relaxed);
  qp_db_request_t sweep = {.op = QP_OP_EXPIRE};
  if (w->raft != NULL) { /* cluster: the leader sweeps through the log; followers never */
    uint64_t due = qp_db_next_expiry(w->db);
    if (due == 0 || due > qp_clock_wall_ns()) return; /* no empty entries in the log */
    int prc = qp__raft_node_propose(w->raft, &sweep, 1);
    if (prc != 0 && prc != QP_EAGAIN) QP_LOG_ERROR("ledger", "expiry sweep: %s", qp_strerror(prc));
    return;
  }
  int rc = qp_db_execute(w->db, &sweep, 1);
  if (rc != 0) QP_LOG_ERROR("ledger", "expiry sweep failed: %s", qp_strerror(rc));
}

/* One writer thread's arrays (of queue_max each). */
typedef struct writer_arrays {
  qp_db_request_t *scratch;
  qp__ledger_job_t **taken;
  qp__ledger_job_t **posted;
} writer_arrays_t;

/* Moves every queued job into a's scratch/taken; returns how many.
 * Called with the mutex held. */
static uint32_t take_queued(qp__ledger_writer_t *w, const writer_arrays_t *a) {
  uint32_t n = 0;
  while (w->head != NULL) {
    QP_ASSERT(n < w->queue_max);
    qp__ledger_job_t *job = w->head;
    w->head = job->next;
    job->next = NULL;
    a->taken[n] = job;
    a->scratch[n] = job->request;
    n++;
  }
  w->tail = NULL;
  QP_ASSERT(n == w->queued);
  w->queued = 0;
  return n;
}

/* Cluster mode: proposes reqs[0, n) as Raft entries, as many requests per
 * entry as one entry (one journal group) holds; a request of an entry that
 * was not applied here gets that entry's error as its status. */
static int propose_all(qp__ledger_writer_t *w, qp_db_request_t *reqs, uint32_t n) {
  int rc = 0;
  uint32_t start = 0;
  while (start < n) {
    uint32_t k = 0;
    uint64_t events = 0;
    while (start + k < n && k < QP__RAFT_ENTRY_REQUESTS_MAX &&
           events + reqs[start + k].count <= QP__RAFT_ENTRY_EVENTS_MAX)
      events += reqs[start + k++].count;
    QP_ASSERT(k > 0);
    int prc = qp__raft_node_propose(w->raft, reqs + start, k);
    if (prc != 0) {
      for (uint32_t i = 0; i < k; i++) reqs[start + i].status = prc;
      rc = prc;
    }
    start += k;
  }
  return rc;
}

/* Runs one group and records what it did. */
static int commit(qp__ledger_writer_t *w, qp_db_request_t *scratch, uint32_t n) {
  uint64_t t0 = qp_clock_mono_ns();
  int rc = w->raft != NULL ? propose_all(w, scratch, n) : qp_db_execute(w->db, scratch, n);
  uint64_t us = (qp_clock_mono_ns() - t0) / 1000u;
  qp_http_histogram_observe(&w->metrics->commit_latency, us);
  atomic_fetch_add(&w->metrics->commits, 1);
  atomic_fetch_add(&w->metrics->commit_requests, n);
  if (rc != 0 && rc != QP_EAGAIN)
    QP_LOG_ERROR("ledger", "group commit of %u requests failed: %s", n, qp_strerror(rc));
  for (uint32_t i = 0; i < n; i++)
    if (scratch[i].status == 0)
      qp__ledger_metrics_batch(w->metrics, scratch[i].op, scratch[i].results, scratch[i].count);
  return rc;
}

/* Marks a group's jobs done (mutex held): wakes each submitter, and
 * lists the posted jobs in a->posted; returns how many those are.  A
 * submitter's job lives on its stack: nothing of it is read once it is
 * marked done. */
static uint32_t finish(const writer_arrays_t *a, uint32_t n, int rc) {
  uint32_t posted = 0;
  for (uint32_t i = 0; i < n; i++) {
    qp__ledger_job_t *job = a->taken[i];
    job->request.status = a->scratch[i].status;
    job->execute_rc = rc;
    bool waits = job->done_fn == NULL; /* read before done: a waiter may return at once */
    job->done = true;
    if (waits)
      pthread_cond_signal(job->wake);
    else
      a->posted[posted++] = job;
  }
  return posted;
}

static void *writer_main(void *arg) {
  qp__ledger_writer_t *w = arg;
  (void)pthread_setname_np(pthread_self(), "ledger-writer"); /* top -H, perf */
  pthread_mutex_lock(&w->mutex);
  uint32_t me = w->next_writer++;
  writer_arrays_t a = {w->scratch + (size_t)me * w->queue_max,
                       w->taken + (size_t)me * w->queue_max,
                       w->posted + (size_t)me * w->queue_max};
  for (;;) {
    while (w->queued == 0 && !w->stopping && !w->sweep_wanted)
      pthread_cond_wait(&w->work_cond, &w->mutex);
    if (w->sweep_wanted) { /* between groups, even under load */
      w->sweep_wanted = false;
      pthread_mutex_unlock(&w->mutex);
      sweep_expired(w);
      pthread_mutex_lock(&w->mutex);
      continue;
    }
    if (w->queued == 0 && w->stopping) break;
    uint32_t n = take_queued(w, &a);
    pthread_mutex_unlock(&w->mutex);
    int rc = commit(w, a.scratch, n);
    pthread_mutex_lock(&w->mutex);
    uint32_t posted = finish(&a, n, rc);
    if (posted == 0) continue;
    /* A posted job's owner may reuse it from its done_fn on: called
     * outside the mutex, after the submitters' jobs are settled. */
    pthread_mutex_unlock(&w->mutex);
    for (uint32_t i = 0; i < posted; i++) a.posted[i]->done_fn(a.posted[i]);
    pthread_mutex_lock(&w->mutex);
  }
  pthread_mutex_unlock(&w->mutex);
  return NULL;
}

int qp__ledger_writer_start(qp__ledger_writer_t *w, qp_db_t *db, qp__raft_node_t *raft,
                            uint32_t queue_max, qp__ledger_metrics_t *metrics) {
  memset(w, 0, sizeof *w);
  QP_ASSERT(queue_max > 0);
  w->db = db;
  w->raft = raft;
  w->metrics = metrics;
  w->queue_max = queue_max;
  w->writers = raft != NULL ? QP__LEDGER_WRITERS_MAX : 1;
  w->scratch = qp_calloc((size_t)w->writers * queue_max, sizeof *w->scratch);
  w->taken = qp_calloc((size_t)w->writers * queue_max, sizeof *w->taken);
  w->posted = qp_calloc((size_t)w->writers * queue_max, sizeof *w->posted);
  if (w->scratch == NULL || w->taken == NULL || w->posted == NULL) {
    qp_free(w->scratch);
    qp_free(w->taken);
    qp_free(w->posted);
    return QP_ENOMEM;
  }
  pthread_mutex_init(&w->mutex, NULL);
  pthread_cond_init(&w->work_cond, NULL);
  uint32_t started = 0;
  while (started < w->writers &&
         pthread_create(&w->threads[started], NULL, writer_main, w) == 0)
    started++;
  w->started = true;
  if (started == w->writers) return 0;
  w->writers = started; /* stop joins the ones that run */
  qp__ledger_writer_stop(w);
  return QP_ENOMEM;
}

/* Each submitting thread's condition, made on its first submit: the
 * writer signals exactly the threads whose jobs it finished (a broadcast on
 * one condition woke every waiting connection thread per group commit, all
 * but a few of them to sleep again). */
static pthread_key_t wake_key;
static pthread_once_t wake_once = PTHREAD_ONCE_INIT;

static void wake_free(void *p) {
  pthread_cond_destroy(p);
  qp_free(p);
}

static void wake_key_make(void) { QP_ASSERT(pthread_key_create(&wake_key, wake_free) == 0); }

static pthread_cond_t *thread_wake(void) {
  pthread_once(&wake_once, wake_key_make);
  pthread_cond_t *c = pthread_getspecific(wake_key);
  if (c != NULL) return c;
  c = qp_malloc(sizeof *c);
  if (c == NULL) return NULL;
  if (pthread_cond_init(c, NULL) != 0 || pthread_setspecific(wake_key, c) != 0) {
    qp_free(c);
    return NULL;
  }
  return c;
}

/* Queues job (mutex held): 0, QP_ESTOPPED or QP_ELIMIT (not queued). */
static int enqueue(qp__ledger_writer_t *w, qp__ledger_job_t *job) {
  job->done = false;
  job->next = NULL;
  job->execute_rc = 0;
  job->request.status = 0;
  if (w->stopping) return QP_ESTOPPED;
  if (w->queued >= w->queue_max) return QP_ELIMIT;
  if (w->tail != NULL)
    w->tail->next = job;
  else
    w->head = job;
  w->tail = job;
  w->queued++;
  pthread_cond_signal(&w->work_cond);
  return 0;
}

int qp__ledger_writer_post(qp__ledger_writer_t *w, qp__ledger_job_t *job) {
  QP_ASSERT(job->done_fn != NULL);
  pthread_mutex_lock(&w->mutex);
  int rc = enqueue(w, job);
  pthread_mutex_unlock(&w->mutex);
  return rc;
}

int qp__ledger_writer_submit(qp__ledger_writer_t *w, qp__ledger_job_t *job) {
  job->done_fn = NULL;
  job->wake = thread_wake();
  if (job->wake == NULL) return QP_ELIMIT; /* out of memory: nothing ran, retry later */
  pthread_mutex_lock(&w->mutex);
  int rc = enqueue(w, job);
  while (rc == 0 && !job->done) pthread_cond_wait(job->wake, &w->mutex);
  pthread_mutex_unlock(&w->mutex);
  return rc;
}

uint32_t qp__ledger_writer_depth(qp__ledger_writer_t *w) {
  pthread_mutex_lock(&w->mutex);
  uint32_t n = w->queued;
  pthread_mutex_unlock(&w->mutex);
  return n;
}

void qp__ledger_writer_sweep(qp__ledger_writer_t *w) {
  pthread_mutex_lock(&w->mutex);
  if (!w->stopping) {
    w->sweep_wanted = true;
    pthread_cond_signal(&w->work_cond);
  }
  pthread_mutex_unlock(&w->mutex);
}

void qp__ledger_writer_stop(qp__ledger_writer_t *w) {
  if (!w->started) return;
  pthread_mutex_lock(&w->mutex);
  w->stopping = true;
  pthread_cond_broadcast(&w->work_cond);
  pthread_mutex_unlock(&w->mutex);
  for (uint32_t i = 0; i < w->writers; i++) pthread_join(w->threads[i], NULL);
  QP_ASSERT(w->queued == 0);
  pthread_mutex_destroy(&w->mutex);
  pthread_cond_destroy(&w->work_cond);
  qp_free(w->scratch);
  qp_free(w->taken);
  qp_free(w->posted);
  w->started = false;
}
