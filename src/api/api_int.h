/*
 * api_int.h - the API module's private parts: the group-commit writer, the
 * metrics registry and the request context shared by server.c and routes.c.
 * Nothing outside src/api/ includes this.
 */
#ifndef QP_API_API_INT_H
#define QP_API_API_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

#include "api/api.h"

/* ------------------------------------------------------------- metrics */

#define QP__API_ROUTES_MAX 16u      /* routes in the table, plus "unmatched" */
#define QP__API_STATUSES_MAX 16u    /* distinct HTTP statuses counted */
#define QP__API_LATENCY_BUCKETS 14u /* histogram upper bounds, plus +Inf */
#define QP__API_BATCH_BUCKETS 11u   /* events-per-request bounds, plus +Inf */

typedef struct qp__api_histogram {
  _Atomic uint64_t counts[QP__API_LATENCY_BUCKETS + 1]; /* per bucket (not cumulative) */
  _Atomic uint64_t sum_us;                              /* total, microseconds */
  _Atomic uint64_t count;                               /* observations */
} qp__api_histogram_t;

/* Counters are atomics so request threads and the writer update them
 * without a lock; a scrape reads them one by one (not a snapshot). */
typedef struct qp__api_metrics {
  _Atomic uint64_t requests[QP__API_ROUTES_MAX][QP__API_STATUSES_MAX]; /* by route, status */
  qp__api_histogram_t request_latency;                                 /* whole HTTP request */
  qp__api_histogram_t commit_latency;                                  /* one qp_db_execute call */
  _Atomic uint64_t batch_events[QP__API_BATCH_BUCKETS + 1]; /* events per create request */
  _Atomic uint64_t batch_events_sum;                        /* events in all create requests */
  _Atomic uint64_t batch_count;                             /* create requests */
  _Atomic uint64_t commits;                                 /* qp_db_execute calls */
  _Atomic uint64_t commit_requests;                         /* requests in them */
  _Atomic uint64_t account_results[QP_CREATE_ACCOUNT_RESULT_COUNT];   /* by result */
  _Atomic uint64_t transfer_results[QP_CREATE_TRANSFER_RESULT_COUNT]; /* by result */
  _Atomic uint64_t connections_refused; /* past the connection limit */
} qp__api_metrics_t;

/* The HTTP statuses we count, in metric order. */
extern const unsigned qp__api_statuses[QP__API_STATUSES_MAX];

void qp__api_metrics_request(qp__api_metrics_t *m, uint32_t route, unsigned status,
                             uint64_t latency_us);
void qp__api_histogram_observe(qp__api_histogram_t *h, uint64_t us);
void qp__api_metrics_batch(qp__api_metrics_t *m, qp_op_t op, const uint32_t *results,
                           uint32_t count);

/* Appends the Prometheus text exposition to a new string (caller frees
 * with qp_free); journal_bytes is sampled by the caller. */
char *qp__api_metrics_render(const qp__api_metrics_t *m, uint64_t journal_bytes,
                             uint32_t connections_open, uint32_t queue_depth);

/* -------------------------------------------------------------- writer */

/* One create request waiting for the writer.  Owned by the HTTP thread,
 * which blocks in qp__api_writer_submit until `done`. */
typedef struct qp__api_job {
  qp_db_request_t request;  /* op, events, count, results; status filled */
  int execute_rc;           /* what qp_db_execute returned for its group */
  bool done;                /* set by the writer under the queue mutex */
  struct qp__api_job *next; /* queue link */
} qp__api_job_t;

/* A single thread that drains the queue into qp_db_execute.  Invariant:
 * queued <= queue_max; a job is in the queue or in the writer's hands, and
 * done is set exactly once. */
typedef struct qp__api_writer {
  qp_db_t *db;                /* borrowed */
  qp__api_metrics_t *metrics; /* borrowed */
  pthread_t thread;           /* the writer */
  pthread_mutex_t mutex;      /* guards everything below */
  pthread_cond_t work_cond;   /* writer waits for jobs */
  pthread_cond_t done_cond;   /* submitters wait for done */
  qp__api_job_t *head;        /* oldest queued job */
  qp__api_job_t *tail;        /* newest queued job */
  uint32_t queued;            /* jobs in the queue */
  uint32_t queue_max;         /* bound on queued */
  qp_db_request_t *scratch;   /* queue_max requests for one execute */
  qp__api_job_t **taken;      /* the jobs behind scratch */
  bool stopping;              /* no new jobs; exit once drained */
  bool started;               /* thread is running */
} qp__api_writer_t;

int qp__api_writer_start(qp__api_writer_t *w, qp_db_t *db, uint32_t queue_max,
                         qp__api_metrics_t *metrics);
/* Queues job and waits for it.  Returns 0 (job->request.status and
 * job->execute_rc then say what happened), QP_ELIMIT when the queue is full
 * or QP_ESTOPPED when the writer is stopping; in both cases nothing ran. */
int qp__api_writer_submit(qp__api_writer_t *w, qp__api_job_t *job);
uint32_t qp__api_writer_depth(qp__api_writer_t *w);
/* Commits whatever is queued, then stops and joins the thread. */
void qp__api_writer_stop(qp__api_writer_t *w);

/* ------------------------------------------------------------- server */

/* The key cache: reloaded when the file changes (checked at most every
 * QP__API_KEYS_CHECK_MS). */
#define QP__API_KEYS_CHECK_MS 200u

typedef struct qp__api_keycache {
  pthread_mutex_t mutex; /* guards the fields below */
  qp_api_key_t *keys;    /* loaded keys (qp_calloc'ed) */
  uint32_t count;        /* rows in keys */
  uint64_t checked_ns;   /* monotonic time of the last stat */
  uint64_t file_ino;     /* identity of the loaded file: inode, */
  int64_t file_mtime_ns; /* mtime, */
  int64_t file_size;     /* and size; all 0 when absent */
} qp__api_keycache_t;

struct qp_api_server {
  qp_db_t *db;                  /* borrowed */
  char data_dir[1024];          /* for the key file and journal size */
  qp_api_options_t options;     /* copy */
  struct MHD_Daemon *daemon;    /* libmicrohttpd */
  uint16_t port;                /* bound port */
  qp__api_writer_t writer;      /* group commit */
  qp__api_metrics_t metrics;    /* counters */
  qp__api_keycache_t keys;      /* API keys */
  _Atomic uint32_t connections; /* open connections */
  _Atomic uint32_t in_flight;   /* requests between first call and completion */
  _Atomic uint64_t body_bytes_held; /* request body buffers allocated, all requests */
  _Atomic bool draining;        /* stop: refuse new requests */
  _Atomic uint64_t request_seq; /* for request ids */
  uint64_t request_id_salt;     /* random, so ids differ across restarts */
};

/* What a handler gets about the request being served. */
typedef struct qp__api_request {
  struct MHD_Connection *conn; /* libmicrohttpd's */
  const char *method;          /* "GET", … */
  const char *url;             /* path without query */
  char request_id[40];         /* X-Request-Id */
  const char *body;            /* accumulated body (may be NULL when empty) */
  size_t body_len;             /* bytes in body */
  qp_u128 path_id;             /* the {id} segment, when the route has one */
  uint32_t route;              /* index in the route table, or the "unmatched" slot */
  uint32_t scopes;             /* the caller's scopes (all with --insecure-no-auth) */
} qp__api_request_t;

/* A handler's answer: status and a JSON body, or a plain-text body. */
typedef struct qp__api_reply {
  unsigned status;          /* HTTP status */
  json_t *json;             /* owned; body when text == NULL */
  char *text;               /* owned (qp_malloc); plain body for /metrics */
  const char *content_type; /* for text */
  const char *allow;        /* Allow header for 405, or NULL */
  bool close;               /* send Connection: close */
} qp__api_reply_t;

/* Sets an error reply from err. */
void qp__api_reply_error(qp__api_reply_t *r, const qp_api_error_t *err);

/* Route table: matches method+path; *allow receives the allowed methods when
 * the path exists but the method does not (405).  Returns the route index,
 * or -1 (404 when *allow is NULL, else 405). */
typedef void (*qp__api_handler_fn)(qp_api_server_t *s, qp__api_request_t *req,
                                   qp__api_reply_t *reply);
typedef struct qp__api_route {
  const char *method;         /* "GET" or "POST" */
  const char *pattern;        /* with {id} for a u128 segment */
  const char *name;           /* metric label */
  uint32_t scope;             /* scope needed; 0 = any valid key; see `public` */
  bool public_route;          /* no key needed (/healthz, /metrics) */
  qp__api_handler_fn handler; /* the work */
} qp__api_route_t;

int qp__api_route_match(const char *method, const char *url, const char **allow, qp_u128 *id_out,
                        qp_api_error_t *err);
const qp__api_route_t *qp__api_route_get(uint32_t index);
uint32_t qp__api_routes_count(void);

/* Current monotonic time in ns. */
uint64_t qp__api_now_ns(void);

#endif
