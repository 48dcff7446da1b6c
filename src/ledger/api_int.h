/*
 * api_int.h - the ledger module's private parts: the group-commit writer,
 * the ledger's metrics and the module's state shared by module.c,
 * api_routes.c, api_writer.c and api_metrics.c.  Nothing outside
 * src/ledger/ (and its tests) includes this.
 */
#ifndef QP_LEDGER_API_INT_H
#define QP_LEDGER_API_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ledger/api.h"
#include "ledger/raft_int.h"

/* ------------------------------------------------------------- metrics */

#define QP__LEDGER_BATCH_BUCKETS 11u /* events-per-request bounds, plus +Inf */

/* Counters are atomics so request threads and the writer update them
 * without a lock; a scrape reads them one by one (not a snapshot). */
typedef struct qp__ledger_metrics {
  qp_http_histogram_t commit_latency;                         /* one qp_db_execute call */
  _Atomic uint64_t batch_events[QP__LEDGER_BATCH_BUCKETS + 1]; /* events per create request */
  _Atomic uint64_t batch_events_sum;                          /* events in all create requests */
  _Atomic uint64_t batch_count;                               /* create requests */
  _Atomic uint64_t commits;                                   /* qp_db_execute calls */
  _Atomic uint64_t commit_requests;                           /* requests in them */
  _Atomic uint64_t sweeps;                                    /* expiry sweeps run */
  _Atomic uint64_t account_results[QP_CREATE_ACCOUNT_RESULT_COUNT];   /* by result */
  _Atomic uint64_t transfer_results[QP_CREATE_TRANSFER_RESULT_COUNT]; /* by result */
} qp__ledger_metrics_t;

void qp__ledger_metrics_batch(qp__ledger_metrics_t *m, qp_op_t op, const uint32_t *results,
                              uint32_t count);

/* Appends the ledger's Prometheus text; journal_bytes and queue_depth are
 * sampled by the caller. */
void qp__ledger_metrics_render(const qp__ledger_metrics_t *m, qp_http_text_t *out,
                               uint64_t journal_bytes, uint32_t queue_depth);

/* Appends the ledger's health gauges (stopped, journal check, index lag,
 * last commit age). */
void qp__ledger_health_render(const qp_db_health_t *h, qp_http_text_t *out);

/* -------------------------------------------------------------- writer */

/* One create request waiting for the writer.  Owned by the HTTP thread,
 * which blocks in qp__ledger_writer_submit until `done`. */
typedef struct qp__ledger_job {
  qp_db_request_t request;     /* op, events, count, results; status filled */
  int execute_rc;              /* what qp_db_execute returned for its group */
  bool done;                   /* set by the writer under the queue mutex */
  struct qp__ledger_job *next; /* queue link */
  pthread_cond_t *wake;        /* the submitter's own condition (set by submit): the writer
                                  wakes each done job's submitter, not every waiting one */
  void (*done_fn)(struct qp__ledger_job *job); /* posted jobs: called by the writer thread
                                                  once done (NULL: a submitter waits) */
  void *done_ctx;                              /* ... for done_fn */
} qp__ledger_job_t;

/* A single thread that drains the queue into qp_db_execute.  Invariant:
 * queued <= queue_max; a job is in the queue or in the writer's hands, and
 * done is set exactly once. */
/* Writer threads in cluster mode: each proposes its group as a Raft entry
 * and waits for it to be applied, so two groups' entries are in flight at
 * once (replication of one overlaps the apply of the other) instead of one
 * (docs/cluster.md, "Speed").  One writer in single-node mode: the journal's
 * group commit is the batching there. */
#define QP__LEDGER_WRITERS_MAX 2u

typedef struct qp__ledger_writer {
  qp_db_t *db;                   /* borrowed */
  qp__raft_node_t *raft;         /* borrowed; cluster mode: groups go through Raft, else NULL */
  qp__ledger_metrics_t *metrics; /* borrowed */
  pthread_t threads[QP__LEDGER_WRITERS_MAX]; /* the writers */
  uint32_t writers;              /* how many run: 1, or QP__LEDGER_WRITERS_MAX in cluster mode */
  pthread_mutex_t mutex;         /* guards everything below */
  pthread_cond_t work_cond;      /* writer waits for jobs */
  qp__ledger_job_t *head;        /* oldest queued job */
  qp__ledger_job_t *tail;        /* newest queued job */
  uint32_t queued;               /* jobs in the queue */
  uint32_t queue_max;            /* bound on queued */
  qp_db_request_t *scratch;      /* per writer, queue_max requests for one execute */
  qp__ledger_job_t **taken;      /* per writer, the jobs behind its scratch */
  qp__ledger_job_t **posted;     /* per writer, the posted ones of a group (done_fn to call) */
  uint32_t next_writer;          /* the next writer thread's index, at start */
  bool sweep_wanted;             /* the node's tick asked for an expiry sweep */
  bool stopping;                 /* no new jobs; exit once drained */
  bool started;                  /* the threads are running */
} qp__ledger_writer_t;

/* raft NULL: groups go to qp_db_execute; else through Raft (cluster mode). */
int qp__ledger_writer_start(qp__ledger_writer_t *w, qp_db_t *db, qp__raft_node_t *raft,
                            uint32_t queue_max, qp__ledger_metrics_t *metrics);
/* Queues job without waiting: once its group is done, a writer thread
 * calls job->done_fn(job) (set by the caller; it must not submit or post
 * from there), and the job is the caller's again.  Returns 0, or QP_ELIMIT
 * / QP_ESTOPPED as submit (then nothing was queued and done_fn is never
 * called). */
int qp__ledger_writer_post(qp__ledger_writer_t *w, qp__ledger_job_t *job);
/* Queues job and waits for it.  Returns 0 (job->request.status and
 * job->execute_rc then say what happened), QP_ELIMIT when the queue is full
 * or QP_ESTOPPED when the writer is stopping; in both cases nothing ran. */
int qp__ledger_writer_submit(qp__ledger_writer_t *w, qp__ledger_job_t *job);
uint32_t qp__ledger_writer_depth(qp__ledger_writer_t *w);
/* Asks the writer to sweep expired pending transfers between groups (its
 * own journaled batch, if anything expired); does not wait. */
void qp__ledger_writer_sweep(qp__ledger_writer_t *w);
/* Commits whatever is queued, then stops and joins the thread. */
void qp__ledger_writer_stop(qp__ledger_writer_t *w);

/* -------------------------------------------------------------- module */

/* The ledger module as the node runs it. */
typedef struct qp__ledger_api {
  qp_db_t *db;                   /* owned: opened by the module */
  char data_dir[1024];           /* the node's data directory */
  qp_ledger_settings_t settings; /* from node.json or `quipu serve` flags */
  qp__ledger_writer_t writer;    /* group commit */
  qp__ledger_metrics_t metrics;  /* the ledger's counters */
  qp_http_module_t http;         /* what the HTTP core serves */
  qp__raft_node_t *raft;         /* owned; cluster mode only, else NULL */
  uint64_t entry_now_ns;         /* cluster mode: the db's clock, the applied entry's time */
  struct qp__bin_server *binary; /* the binary listener, or NULL (binary_server.c) */
} qp__ledger_api_t;

/* --------------------------------------------------- cluster (HTTP) */

/* Whether this replica answers the request itself: always in single-node
 * mode; in cluster mode on the leader, and on a follower for a read with
 * ?consistency=stale.  Otherwise r is set: 307 to the leader (Location and
 * error code not_leader), or 503 no_leader while there is none.  A read
 * served in cluster mode carries X-Quipu-Applied-Index. */
bool qp__ledger_cluster_serves(qp__ledger_api_t *api, qp_http_request_t *req,
                               qp_http_reply_t *r, bool write);

/* Sets r to the 307 (or 503) a follower answers a write with. */
void qp__ledger_cluster_redirect(qp__ledger_api_t *api, qp_http_request_t *req,
                                 qp_http_reply_t *r);

/* [{"id","raft","http","role"}…] of Raft's configuration in s (a new
 * reference; NULL when out of memory). */
struct json_t *qp__ledger_cluster_replicas_json(const qp__raft_status_t *s);

/* POST /v1/cluster/replicas, DELETE /v1/cluster/replicas/{id} (cluster_members.c). */
void qp__ledger_cluster_add(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__ledger_cluster_remove(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);

/* GET /v1/cluster/status. */
void qp__ledger_cluster_status(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);

/* GET /v1/cluster/journal (cluster_journal.c): raw journal records after
 * the caller's head, for a replica catching up to a snapshot. */
void qp__ledger_cluster_journal(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);

/* Makes api the module qp_ledger_service() answers (NULL: none). */
void qp__ledger_service_set(qp__ledger_api_t *api);

/* The ledger's route table (static storage). */
const qp_http_route_t *qp__ledger_routes(uint32_t *count_out);

/* Sets "submitted_by" (qp_ledger_submitter_json) on every transfer object
 * of the JSON array arr, from its "timestamp" (api_query.c).  Returns 0,
 * or qp_db_submitters' error. */
int qp__ledger_set_submitters(qp_db_t *db, struct json_t *arr);

/* The cursor of a page (api_routes.c): the query asked for want + 1 rows
 * (at most QP_QUERY_LIMIT_MAX) and got count; ts is the timestamp of row
 * min(want, count - 1).  The extra row's timestamp when there was one;
 * just past the last row of a full 8190-row page; 0 (no next page) else. */
uint64_t qp__ledger_next_cursor(uint32_t count, uint32_t want, uint64_t ts, bool reversed);

/* POST /v1/accounts/query and /v1/transfers/query (api_query.c). */
void qp__ledger_query_accounts(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__ledger_query_transfers(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);

/* Metrics and health callbacks of the HTTP module (ctx is the api). */
void qp__ledger_api_metrics(void *ctx, qp_http_text_t *out);
int qp__ledger_api_health(void *ctx, char *code, size_t code_size, char *message,
                          size_t message_size);

/* ------------------------------------------------------ number paths */

#define QP__LEDGER_PATH_DEPTH_MAX 8u /* levels of a path api_path.c tracks */
#define QP__LEDGER_NEGATIVE_ZERO 1   /* qp__ledger_number_path: a "-0" number */
#define QP__LEDGER_NUMBER_AT 2       /* qp__ledger_number_path: the number before stop */

/* Walks JSON text (jansson accepted it, or accepted it up to stop) and
 * writes into path ("[0].amount", "ids[3]") where a number is.  With stop
 * >= len: the first integer written "-0" (returns QP__LEDGER_NEGATIVE_ZERO);
 * with stop < len (jansson's error position): the last number starting
 * before stop (returns QP__LEDGER_NUMBER_AT).  Returns 0 when there is none
 * (path then ""). */
int qp__ledger_number_path(const char *text, size_t len, size_t stop, char *path, size_t size);

#endif
