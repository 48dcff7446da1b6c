/*
 * http_int.h - the HTTP core's private parts: the route table with its
 * per-route counters, the key cache, the server and the request.  Nothing
 * outside src/http/ includes this.
 */
#ifndef QP_HTTP_HTTP_INT_H
#define QP_HTTP_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <microhttpd.h>

#include "http/http.h"

#define QP__HTTP_STATUSES_MAX 20u  /* distinct HTTP statuses counted (+1 for "other") */
#define QP__HTTP_MODULES_MAX 32u   /* modules on one server */
#define QP__HTTP_ROUTES_MAX 1024u  /* a sanity bound, far above any real table */
#define QP__HTTP_KEYS_CHECK_MS 200u /* how often the key file is looked at */

/* The HTTP statuses we count, in metric order (0 ends the list). */
extern const unsigned qp__http_statuses[QP__HTTP_STATUSES_MAX];
uint32_t qp__http_status_slot(unsigned status);

/* One served route and its counters.  Invariant: params_count is the
 * number of "{name}" segments of pattern, literals the number of others. */
typedef struct qp__http_entry {
  qp_http_route_t route;                              /* copy of the module's row */
  const qp_http_module_t *module;                     /* owner; NULL for core routes */
  uint32_t literals;                                  /* literal segments (precedence) */
  uint32_t params_count;                              /* named segments */
  _Atomic uint64_t requests[QP__HTTP_STATUSES_MAX + 1]; /* by status slot */
  qp_http_histogram_t latency;                        /* whole request */
} qp__http_entry_t;

/* The route table: entries in registration order, core routes first;
 * entry `count` is the "unmatched" slot (404s, early refusals). */
typedef struct qp__http_table {
  qp__http_entry_t *entries; /* count + 1 rows, qp_calloc'ed */
  uint32_t count;            /* real routes */
} qp__http_table_t;

/* A matched path's named segments. */
typedef struct qp__http_params {
  char names[QP_HTTP_ROUTE_PARAMS_MAX][QP_HTTP_PARAM_NAME_MAX]; /* from the pattern */
  char *values[QP_HTTP_ROUTE_PARAMS_MAX];                       /* qp_malloc'ed copies */
  uint32_t count;                                               /* pairs used */
} qp__http_params_t;

/* Matches method + path: returns the entry index, or -1 when no pattern
 * matches (404) or -2 when a pattern matches but not the method (405;
 * *allow then lists the methods, "GET, POST").  params receives the named
 * segments of the match (free with qp__http_params_free). */
/* Returns -3 when out of memory copying the segments. */
int qp__http_match(const qp__http_table_t *t, const char *method, const char *path,
                   qp__http_params_t *params, char *allow, size_t allow_size);
void qp__http_params_free(qp__http_params_t *p);

/* Checks a pattern ("/a/{b}/c"): 0 with *literals and *params set, or
 * QP_EINVAL. */
int qp__http_pattern_check(const char *pattern, uint32_t *literals, uint32_t *params);

/* Is text a non-empty comma-separated list of scope names ([a-z0-9_:]+,
 * each shorter than QP_HTTP_SCOPE_NAME_MAX), shorter than
 * QP_HTTP_SCOPES_TEXT_MAX?  Says nothing about which scopes exist. */
bool qp__http_scopes_wellformed(const char *text);

/* The key cache: reloaded when the file changes. */
typedef struct qp__http_keycache {
  pthread_mutex_t mutex; /* guards the fields below */
  qp_http_key_t *keys;   /* loaded keys (qp_calloc'ed) */
  uint32_t count;        /* rows in keys */
  uint64_t checked_ns;   /* monotonic time of the last stat */
  uint64_t file_ino;     /* identity of the loaded file: inode, */
  int64_t file_mtime_ns; /* mtime, */
  int64_t file_size;     /* and size; all 0 when absent */
} qp__http_keycache_t;

/* Loads the keys if the file changed (force: always).  Called with the
 * cache mutex held.  On a failure the cache keeps the keys it had, detail
 * says why (a reload that was not forced also logs it) and the load's
 * error is returned; otherwise 0. */
int qp__http_keys_refresh(qp__http_keycache_t *c, const char *data_dir, bool force, char *detail,
                          size_t detail_size);

/* Authenticates the request: copies the caller's scopes into scopes, or
 * returns false with err set (401). */
bool qp__http_authenticate(qp_http_server_t *s, struct MHD_Connection *conn, char *scopes,
                           size_t scopes_size, qp_http_error_t *err);

/* libmicrohttpd's request callbacks (request.c). */
enum MHD_Result qp__http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls);
void qp__http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe);

struct qp_http_server {
  char data_dir[1024];                             /* for the key file */
  qp_http_options_t options;                       /* copy (listen points into listen) */
  char listen[256];                                /* options.listen's storage */
  const qp_http_module_t *modules[QP__HTTP_MODULES_MAX]; /* borrowed */
  uint32_t modules_count;                          /* rows in modules */
  qp__http_table_t table;                          /* routes, built at start */
  char *openapi;                                   /* assembled document (qp_malloc) */
  struct MHD_Daemon *daemon;                       /* libmicrohttpd; NULL until start */
  uint16_t port;                                   /* bound port */
  qp__http_keycache_t keys;                        /* API keys */
  _Atomic uint32_t connections;                    /* open connections */
  _Atomic uint32_t in_flight;                      /* requests between first call and end */
  _Atomic uint64_t body_bytes_held;                /* request body buffers, all requests */
  _Atomic uint64_t connections_refused;            /* past the connection limit */
  _Atomic bool draining;                           /* stop: refuse new requests */
  _Atomic uint64_t request_seq;                    /* for request ids */
  uint64_t request_id_salt;                        /* random: ids differ across restarts */
  qp_http_module_t core;                           /* the core's own routes */
  bool stopped;                                    /* qp_http_server_stop ran */
};

/* What a handler's request handle points to. */
struct qp_http_request {
  struct MHD_Connection *conn; /* libmicrohttpd's */
  const char *method;          /* "GET", … */
  const char *path;            /* without query */
  const char *request_id;      /* X-Request-Id */
  const char *body;            /* accumulated body (NULL when empty) */
  size_t body_len;             /* bytes in body */
  const char *scopes;          /* the caller's scopes */
  qp__http_params_t params;    /* named segments */
};

/* Fills s->core with the core's own routes (/healthz, /metrics,
 * /v1/openapi.json), whose ctx is the server itself. */
void qp__http_core_init(qp_http_server_t *s);

/* Builds s->openapi from the base document and each module's fragment.
 * Returns 0, QP_EINVAL (a fragment is not JSON or clashes; detail says
 * which), QP_ENOMEM. */
int qp__http_openapi_assemble(qp_http_server_t *s, char *detail, size_t detail_size);

/* The base OpenAPI document (generated from src/http/openapi.json). */
extern const char qp__http_openapi_base[];

/* The Prometheus text of the core and every module (caller qp_free()s). */
char *qp__http_metrics_render(qp_http_server_t *s);

#endif
