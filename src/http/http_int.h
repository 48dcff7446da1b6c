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

#define QP__HTTP_STATUSES_MAX 24u  /* distinct HTTP statuses counted (+1 for "other") */
#define QP__HTTP_MODULES_MAX 32u   /* modules on one server */
#define QP__HTTP_ROUTES_MAX 1024u  /* a sanity bound, far above any real table */
#define QP__HTTP_KEYS_CHECK_MS 200u /* how often the key file is looked at */
#define QP__HTTP_TARGET_BYTES_MAX 8192u /* request target (path and query); past it 414 */
#define QP__HTTP_HEAD_BYTES_MAX 16384u  /* request line and headers; past it 431 */
/* libmicrohttpd's memory per connection: the head must fit in it with room
 * to spare, or libmicrohttpd answers 414/431 itself, in HTML. */
#define QP__HTTP_CONNECTION_MEMORY_BYTES 65536u
#define QP__HTTP_TLS_CERT_BYTES_MAX (1u << 20) /* a PEM certificate chain file */
#define QP__HTTP_TLS_KEY_BYTES_MAX (64u << 10) /* a PEM private key file */

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

/* A key's token bucket (ratelimit.c).  Invariant once started: level <=
 * burst x 10^9. */
typedef struct qp__http_bucket {
  uint64_t level;   /* nano-tokens: 10^9 per request the key may still make now */
  uint64_t last_ns; /* monotonic time level was brought up to */
  bool started;     /* level and last_ns are set (a new bucket starts full) */
} qp__http_bucket_t;

/* Brings the bucket up to now_ns: refills rate_per_s tokens a second, up to
 * burst tokens (both 1..QP_HTTP_KEY_RATE_MAX). */
void qp__http_bucket_refill(qp__http_bucket_t *b, uint32_t rate_per_s, uint32_t burst,
                            uint64_t now_ns);

/* Takes one token at now_ns: true, or false with *retry_after_s the whole
 * seconds (>= 1) until a token is back.  A refusal takes nothing. */
bool qp__http_bucket_take(qp__http_bucket_t *b, uint32_t rate_per_s, uint32_t burst,
                          uint64_t now_ns, uint32_t *retry_after_s);

/* What the server keeps per key besides the key: its bucket and how many
 * requests it had refused.  Carried over, by key id, when the key file is
 * reloaded. */
typedef struct qp__http_keystate {
  qp__http_bucket_t bucket; /* the key's rate limit */
  uint64_t rate_limited;    /* requests refused 429 rate_limited */
} qp__http_keystate_t;

/* The buckets of the per-scope limits (scope_limits.c): one per (key id,
 * limited scope) that has made a request, in a table split in stripes by a
 * hash of the pair, each stripe under its own mutex, so requests of
 * different keys rarely wait for each other and no lock is global.  Rows
 * are never removed: keys are at most QP_HTTP_KEYS_MAX (revoked included),
 * so a table holds at most QP_HTTP_KEYS_MAX x QP_HTTP_SCOPE_LIMITS_MAX. */
#define QP__HTTP_SCOPE_STRIPES 64u

typedef struct qp__http_scope_row {
  char key_id[QP_HTTP_KEY_ID_HEX + 1]; /* "" for --insecure-no-auth */
  uint32_t limit;                      /* index into the server's scope_limits */
  qp__http_bucket_t bucket;            /* this key's tokens for this scope */
} qp__http_scope_row_t;

typedef struct qp__http_scope_stripe {
  pthread_mutex_t mutex;      /* guards rows and count */
  qp__http_scope_row_t *rows; /* qp_realloc'ed, grown by doubling */
  uint32_t count;             /* rows used */
  uint32_t capacity;          /* rows allocated */
} __attribute__((aligned(64))) qp__http_scope_stripe_t;

typedef struct qp__http_scope_table {
  qp__http_scope_stripe_t stripes[QP__HTTP_SCOPE_STRIPES];
  _Atomic uint64_t refused[QP_HTTP_SCOPE_LIMITS_MAX]; /* 429s, by limit */
} qp__http_scope_table_t;

void qp__http_scope_table_init(qp__http_scope_table_t *t);
void qp__http_scope_table_deinit(qp__http_scope_table_t *t);

/* Takes one token of key_id's bucket for limit `limit` (of rate_per_s and
 * burst) at now_ns.  0; QP_ELIMIT with *retry_after_s (>= 1) when the bucket
 * is empty (counted in refused); QP_ENOMEM when a new row cannot be made. */
int qp__http_scope_take(qp__http_scope_table_t *t, const char *key_id, uint32_t limit,
                        uint32_t rate_per_s, uint32_t burst, uint64_t now_ns,
                        uint32_t *retry_after_s);

/* The index of scope in limits[0, count), or -1 when it has no limit. */
int qp__http_scope_limit_find(const qp_http_scope_limit_t *limits, uint32_t count,
                              const char *scope);

/* The key cache: reloaded when the file changes. */
typedef struct qp__http_keycache {
  pthread_mutex_t mutex; /* guards the fields below */
  qp_http_key_t *keys;   /* loaded keys (qp_calloc'ed) */
  qp__http_keystate_t *states; /* one per key, same rows (qp_calloc'ed) */
  uint32_t count;        /* rows in keys and states */
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

/* Who is calling, copied out of the key cache so a handler needs no lock
 * (the cache may be reloaded while it runs). */
typedef struct qp__http_caller {
  char key_id[QP_HTTP_KEY_ID_HEX + 1];       /* "" when no key was needed */
  char scopes[QP_HTTP_SCOPES_TEXT_MAX];      /* comma-separated; "admin" without auth */
  uint32_t ledgers[QP_HTTP_KEY_LEDGERS_MAX]; /* the key's ledgers */
  uint32_t ledgers_count;                    /* 0 = every ledger */
} qp__http_caller_t;

/* Authenticates the request and applies its key's limits: fills *caller,
 * or returns false with err set: 401 unauthorized (no, unknown or revoked
 * key), 401 key_expired, or 429 rate_limited with *retry_after_s. */
bool qp__http_authenticate(qp_http_server_t *s, struct MHD_Connection *conn,
                           qp__http_caller_t *caller, qp_http_error_t *err,
                           uint32_t *retry_after_s);

/* Charges the caller for `scope` when it has a limit and bit i of
 * *charged is clear (then sets it): true, or false with err set (429
 * rate_limited and *retry_after_s, or 503 overloaded when out of memory). */
bool qp__http_scope_admit(qp_http_server_t *s, const char *key_id, const char *scope,
                          uint32_t *charged, qp_http_error_t *err, uint32_t *retry_after_s);

/* Writes quipu_http_scope_rate_limited_total for every limited scope. */
void qp__http_scope_metrics(qp_http_server_t *s, qp_http_text_t *t);

/* Writes quipu_http_rate_limited_total for every key with a rate limit
 * (or with refusals from before a reload took its limit away). */
void qp__http_keys_metrics(qp_http_server_t *s, qp_http_text_t *t);

/* Why the thread's JSON budget refused an allocation (json_budget.c). */
#define QP__HTTP_JSON_REFUSED_REQUEST 1 /* the request's own budget */
#define QP__HTTP_JSON_REFUSED_SERVER 2  /* the server-wide budget */

/* qp_http_json_budget_begin that also charges *shared, refusing past
 * shared_max (the server's json_bytes_max). */
void qp__http_json_budget_begin_shared(uint64_t bytes_max, _Atomic uint64_t *shared,
                                       uint64_t shared_max);

/* Lets the calling thread allocate jansson memory without charging its
 * budget (on = true) or charge it again; returns the previous setting.  The
 * error envelope uses it, so that a request refused for memory still gets
 * its JSON answer. */
bool qp__http_json_exempt(bool on);


/* What the URI log callback saw of the raw request target (before
 * libmicrohttpd splits off the query and decodes %XX escapes). */
typedef struct qp__http_target {
  size_t raw_len; /* strlen of the raw target: short of the real one if it holds a NUL */
  bool nul;       /* it holds "%00", which decodes to a NUL byte */
} qp__http_target_t;

/* The checks on the head, before anything else looks at the request
 * (head.c): the version (505), NULs in the target (400), its size (414),
 * the head's size (431), NULs in header values, blanks in header names,
 * Content-Length or Transfer-Encoding twice, both together (400), a
 * transfer coding other than chunked (501).  method, url and version are
 * the access handler's arguments.  Returns false with err set. */
bool qp__http_head_check(struct MHD_Connection *conn, const char *method, const char *url,
                         const char *version, const qp__http_target_t *target,
                         qp_http_error_t *err);

/* libmicrohttpd's request callbacks (request.c).  on_uri runs when the
 * request line is read and returns the request's context (*con_cls). */
void *qp__http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn);
enum MHD_Result qp__http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls);
/* stream.c: a reply's stream and extra headers. */
void qp__http_reply_headers_free(qp_http_reply_t *r);
void qp__http_reply_stream_drop(qp_http_reply_t *r);
struct MHD_Response *qp__http_stream_response(qp_http_server_t *s, qp_http_reply_t *r,
                                              bool *refused);

void qp__http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe);

/* One open connection (libmicrohttpd's socket context), for the head
 * deadline and the per-address limit (conns.c).  Guarded by conns_mutex. */
typedef struct qp__http_conn {
  struct qp__http_conn *prev;  /* list links */
  struct qp__http_conn *next;  /* " */
  int fd;                      /* the socket, or -1 */
  char address[48];            /* client address without the port */
  uint64_t head_started_ns;    /* a request head is being read since; 0 = in a request */
  bool over_limit;             /* past the per-address limit when it opened */
  bool reaped;                 /* its socket was shut down */
} qp__http_conn_t;

/* libmicrohttpd's connection notifications: count, track, untrack. */
void qp__http_conn_opened(qp_http_server_t *s, struct MHD_Connection *conn, void **socket_ctx);
void qp__http_conn_closed(qp_http_server_t *s, void **socket_ctx);
/* A request's head is complete: stops its deadline; true when the
 * connection is past the per-address limit (answer 503). */
bool qp__http_conn_head_complete(qp_http_server_t *s, struct MHD_Connection *conn);
/* A request ended: the next head's deadline starts. */
void qp__http_conn_request_done(qp_http_server_t *s, struct MHD_Connection *conn);
int qp__http_reaper_start(qp_http_server_t *s);
void qp__http_reaper_stop(qp_http_server_t *s);

/* The PEM text handed to libmicrohttpd (tls.c).  Invariant: both NULL, or
 * both NUL-terminated at their length. */
typedef struct qp__http_tls {
  char *cert_pem;  /* qp_malloc'ed */
  size_t cert_len; /* bytes before the NUL */
  char *key_pem;   /* sodium_malloc'ed; wiped and freed once the daemon started */
  size_t key_len;  /* bytes before the NUL */
} qp__http_tls_t;

/* Reads and checks both PEM files (GnuTLS must take the pair).  Returns 0,
 * or QP_EINVAL / QP_EIO / QP_ENOMEM / QP_ENOTSUP with detail naming the file
 * and the reason (t is then empty). */
int qp__http_tls_load(qp__http_tls_t *t, const char *cert_path, const char *key_path,
                      char *detail, size_t detail_size);
/* Wipes the key, frees both; t is empty afterwards.  Safe on an empty t. */
void qp__http_tls_deinit(qp__http_tls_t *t);

/* The per-address limit of the routes that need no key (public_limit.c):
 * a fixed table of token buckets, direct-mapped by a hash of the address. */
#define QP__HTTP_PUBLIC_SLOTS 4096u
#define QP__HTTP_PUBLIC_STRIPES 16u

typedef struct qp__http_public_slot {
  char address[48];          /* the client address this bucket is for ("" = free) */
  qp__http_bucket_t bucket;  /* its tokens */
} qp__http_public_slot_t;

typedef struct qp__http_public_table {
  pthread_mutex_t mutex[QP__HTTP_PUBLIC_STRIPES];  /* slot i: mutex[i % stripes] */
  qp__http_public_slot_t slots[QP__HTTP_PUBLIC_SLOTS];
  _Atomic uint64_t refused;                        /* 429s */
} qp__http_public_table_t;

void qp__http_public_table_init(qp__http_public_table_t *t);
void qp__http_public_table_deinit(qp__http_public_table_t *t);
/* Takes a token of address's bucket: 0, or QP_ELIMIT with *retry_after_s. */
int qp__http_public_take(qp__http_public_table_t *t, const char *address, uint32_t rate_per_s,
                         uint32_t burst, uint64_t now_ns, uint32_t *retry_after_s);
/* The request's charge on its address (routes without a key only, /healthz
 * and /metrics excepted): false with err 429 when the bucket is empty. */
bool qp__http_public_admit(qp_http_server_t *s, struct MHD_Connection *conn,
                           const qp_http_route_t *route, qp_http_error_t *err,
                           uint32_t *retry_after_s);
void qp__http_public_metrics(qp_http_server_t *s, qp_http_text_t *t);
/* The client's address without the port, as text ("" when unknown). */
void qp__http_client_address(struct MHD_Connection *conn, char *out, size_t size);

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
  qp__http_scope_table_t scope_buckets;            /* per (key, scope) limits */
  qp__http_public_table_t public_buckets;          /* per address, keyless routes */
  _Atomic uint32_t connections;                    /* open connections */
  _Atomic uint64_t body_bytes_held;                /* request body buffers, all requests */
  _Atomic uint64_t json_bytes_held;                /* live jansson bytes of all handlers */
  _Atomic uint64_t connections_refused;            /* past the connection limit */
  _Atomic bool draining;                           /* stop: refuse new requests */
  _Atomic uint64_t request_seq;                    /* for request ids */
  uint64_t request_id_salt;                        /* random: ids differ across restarts */
  qp_http_module_t core;                           /* the core's own routes */
  pthread_mutex_t conns_mutex;                     /* guards conns and their fields */
  qp__http_conn_t *conns;                          /* open connections (conns.c) */
  pthread_t reaper;                                /* enforces head deadlines */
  pthread_mutex_t reaper_mutex;                    /* guards reaper_stop */
  pthread_cond_t reaper_cond;                      /* wakes the reaper to stop */
  bool reaper_stop;                                /* the reaper should exit */
  bool reaper_started;                             /* reaper is running */
  _Atomic uint32_t streams;                        /* open event streams (stream.c) */
  _Atomic uint32_t working;                        /* admitted requests not yet ended:
                                                      what a drain waits for */
  _Atomic uint64_t heads_timed_out;                /* connections shut past the deadline */
  _Atomic uint64_t refused_per_address;            /* requests past the per-address limit */
  _Atomic uint32_t connections_over_address;       /* open ones past their address's share */
  bool stopped;                                    /* qp_http_server_stop ran */
  bool tls;                                        /* serving HTTPS */
};

/* What a handler's request handle points to. */
struct qp_http_request {
  struct MHD_Connection *conn; /* libmicrohttpd's */
  const char *method;          /* "GET", … */
  const char *path;            /* without query */
  const char *request_id;      /* X-Request-Id */
  const char *body;            /* accumulated body (NULL when empty) */
  size_t body_len;             /* bytes in body */
  const qp__http_caller_t *caller; /* the caller's key id, scopes and ledgers */
  qp_http_server_t *server;    /* for the per-scope limits */
  uint32_t scopes_charged;     /* bit i: charged for scope_limits[i] already */
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
