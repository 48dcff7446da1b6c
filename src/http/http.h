/*
 * http.h - the HTTP core every module is served through (DESIGN.md
 * sections 1 and 5): one listener, connections and their limits, request
 * ids, API keys and scopes, the error envelope, Prometheus counters and
 * latency histograms per route, and the OpenAPI document assembled from
 * each module's fragment.  docs/http.md is the guide for module authors.
 *
 * A module hands the core a table of routes (method, path pattern with
 * named segments such as "/v1/accounts/{id}", the scope it needs, a body
 * limit and a handler) before the server starts.  The core matches the
 * request, checks the key, the scope, the body size and the content type,
 * and only then calls the handler with the request's parameters and body.
 * A handler fills a reply: a status and a body (JSON text, usually built
 * with jansson inside the module; this header does not include jansson,
 * it only names its object type so a handler can hand one over).
 *
 * Threads: libmicrohttpd runs one thread per connection, so handlers run
 * concurrently and may block (the ledger's handlers wait for the group
 * commit).  Everything a handler gets is valid until it returns.
 */
#ifndef QP_HTTP_HTTP_H
#define QP_HTTP_HTTP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/u128.h"
#include "crypto/crypto.h"

struct json_t; /* jansson's object type, for qp_http_reply_json() */

/* ------------------------------------------------------------ defaults */

#define QP_HTTP_LISTEN_DEFAULT "127.0.0.1:7070"
#define QP_HTTP_BODY_BYTES_MAX_DEFAULT (16u * 1024u * 1024u)      /* one request body */
#define QP_HTTP_INFLIGHT_BYTES_MAX_DEFAULT (256u * 1024u * 1024u) /* all bodies at once */
#define QP_HTTP_CONNECTIONS_MAX_DEFAULT 256u                      /* open connections */
#define QP_HTTP_TIMEOUT_S_DEFAULT 10u      /* idle connection timeout */
#define QP_HTTP_BODY_TIMEOUT_S_DEFAULT 60u /* a body trickling in longer is dropped */
#define QP_HTTP_HEAD_TIMEOUT_S_DEFAULT 10u /* a request head taking longer is dropped */
#define QP_HTTP_CONNECTIONS_PER_ADDRESS_MAX_DEFAULT 128u /* one client address's share */
#define QP_HTTP_SHUTDOWN_GRACE_MS_DEFAULT 10000u /* wait for in-flight requests on stop */
#define QP_HTTP_STREAMS_MAX_DEFAULT 64u /* open server-sent event streams */
#define QP_HTTP_STREAM_PING_MS 15000u   /* a ": ping" comment after this much silence */
#define QP_HTTP_STREAM_WAIT_MS 250u     /* longest wait in one next(): how fast a stop ends it */
#define QP_HTTP_REPLY_HEADERS_MAX 8u    /* extra headers on one reply (web: 5) */
#define QP_HTTP_JSON_BODY_FACTOR 8u /* a request's JSON budget: 8 x its body's bytes, */
#define QP_HTTP_JSON_ALLOWANCE_BYTES (32u * 1024u * 1024u) /* plus 32 MiB (replies), */
#define QP_HTTP_JSON_REQUEST_BYTES_MAX_DEFAULT (48u * 1024u * 1024u) /* at most 48 MiB */
#define QP_HTTP_JSON_BYTES_MAX_DEFAULT (256u * 1024u * 1024u) /* JSON of all requests */
#define QP_HTTP_ROUTE_PARAMS_MAX 8u              /* named segments in one pattern */
#define QP_HTTP_PARAM_NAME_MAX 32u               /* bytes of a segment's name */
#define QP_HTTP_SCOPE_NAME_MAX 48u               /* bytes of one scope name */
#define QP_HTTP_SCOPES_TEXT_MAX 256u             /* a key's comma-separated scopes */

/* -------------------------------------------------------- error envelope */

/* What went wrong with a request; becomes the body
 * {"error":{"code":…,"message":…,"path":…}} (plus "line"/"column" for
 * malformed JSON).  Invariant: status != 0 iff code[0] != '\0'. */
typedef struct qp_http_error {
  unsigned status;   /* HTTP status: 400, 401, 403, 404, 405, 413, 414, 415, 429, 431, 500, … */
  char code[40];     /* machine-readable, snake_case: "invalid_type", … */
  char message[256]; /* for humans: what was wrong and what is allowed */
  char path[96];     /* the offending field, e.g. "[3].amount"; "" = the whole request */
  int line;          /* 1-based position of malformed JSON; 0 when not applicable */
  int column;        /* " */
} qp_http_error_t;

/* Fills *err; message is printf-style.  Returns QP_EPARSE for convenience. */
int qp_http_error_set(qp_http_error_t *err, unsigned status, const char *code, const char *path,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The envelope as JSON text: a qp_malloc'ed NUL-terminated string the
 * caller qp_free()s, or NULL when out of memory. */
char *qp_http_error_text(const qp_http_error_t *err);

/* The envelope as a new jansson object (caller owns the reference). */
struct json_t *qp_http_error_json(const qp_http_error_t *err);

/* ------------------------------------------------------- JSON memory */

/* jansson's allocator is the core's (src/http/json_budget.c): installed
 * before main, and idempotently here and by qp_http_server_create.  The
 * core runs every handler under a budget of live jansson bytes,
 * qp_http_json_budget_for(body length, json_request_bytes_max), within the
 * server-wide json_bytes_max; an allocation past either gets NULL, so a
 * parse fails as out of memory instead of growing (docs/http.md). */
void qp_http_json_alloc_install(void);

/* Frees memory jansson handed out (json_dumps' text).  Never libc's free or
 * qp_free() it: jansson's blocks carry the budget's header. */
void qp_http_json_free(void *ptr);

/* The budget for a body of body_bytes: 8 x body_bytes + 32 MiB, at most
 * request_max. */
uint64_t qp_http_json_budget_for(uint64_t body_bytes, uint64_t request_max);

/* Opens a budget of bytes_max live jansson bytes on the calling thread (the
 * core does this around each handler; tests and tools may too).  Budgets do
 * not nest.  _end closes it and returns the most live bytes it saw. */
void qp_http_json_budget_begin(uint64_t bytes_max);
uint64_t qp_http_json_budget_end(void);

/* How many allocations this thread's jansson calls were refused so far
 * (budget or real out of memory); compare before and after a call to know
 * whether it failed for memory (jansson does not always say so). */
uint64_t qp_http_json_alloc_failures(void);

/* After a jansson call failed for memory: sets err from the last refusal
 * on this thread: 413 "too_complex" (the request's budget), 503
 * "overloaded" (the server's), or 500 "internal" (real out of memory; then
 * returns false, else true). */
bool qp_http_json_refused(qp_http_error_t *err);

/* --------------------------------------------------------------- scopes */

/* A scope a module owns ("ledger:read"): what a key with it may do. */
typedef struct qp_http_scope {
  const char *name;        /* "module:verb", [a-z0-9_:]+ */
  const char *description; /* one line, for `quipu keys --help` and docs */
} qp_http_scope_t;

/* The scope every module knows: allows everything. */
#define QP_HTTP_SCOPE_ADMIN "admin"

/* Does the comma-separated list `have` grant `need`?  "admin" grants
 * everything; need == NULL or "" is granted to any key. */
bool qp_http_scopes_grant(const char *have, const char *need);

/* Checks a comma-separated list against the known scopes (known[0, count)
 * plus "admin"): 0, or QP_EINVAL with detail naming the first unknown or
 * empty entry and listing the known ones. */
int qp_http_scopes_check(const char *text, const qp_http_scope_t *known, uint32_t count,
                         char *detail, size_t detail_size);

/* ----------------------------------------------------------------- keys */

#define QP_HTTP_KEYS_MAX 4096u       /* keys in one file, revoked included */
#define QP_HTTP_KEY_NAME_MAX 64u     /* bytes of a key's name */
#define QP_HTTP_KEY_ID_HEX 16u       /* hex digits of a key's public id */
#define QP_HTTP_KEY_SECRET_BYTES 32u /* random bytes in a key */
#define QP_HTTP_KEY_TEXT_SIZE 96u    /* room for "qpk_<id>_<secret hex>" and a NUL */

#define QP_HTTP_KEY_LEDGERS_MAX 64u      /* ledgers one key may be restricted to */
#define QP_HTTP_KEY_RATE_MAX 1000000u     /* requests per second, and burst, of one key */
#define QP_HTTP_KEY_EXPIRES_MAX_S 253402300799 /* 9999-12-31T23:59:59Z */

/* What a key may do beyond its scopes.  All zero = no limit: never
 * expires, every ledger, no rate limit.  Invariant (checked on create and
 * on load): ledgers[0, ledgers_count) are non-zero and distinct; burst != 0
 * only with rate_per_s != 0; rate_per_s and burst <= QP_HTTP_KEY_RATE_MAX;
 * 0 <= expires_s <= QP_HTTP_KEY_EXPIRES_MAX_S. */
typedef struct qp_http_key_limits {
  int64_t expires_s;                         /* unix seconds it stops working; 0 = never */
  uint32_t ledgers[QP_HTTP_KEY_LEDGERS_MAX]; /* the ledgers it may touch, in given order */
  uint32_t ledgers_count;                    /* rows in ledgers; 0 = every ledger */
  uint32_t rate_per_s;                       /* requests per second; 0 = unlimited */
  uint32_t burst;                            /* requests at once; 0 = rate_per_s */
} qp_http_key_limits_t;

/* One API key as stored: never the key itself, only its hash. */
typedef struct qp_http_key {
  char id[QP_HTTP_KEY_ID_HEX + 1];       /* public id, hex; also inside the key text */
  char name[QP_HTTP_KEY_NAME_MAX + 1];   /* [A-Za-z0-9._-]+, unique among live keys */
  char scopes[QP_HTTP_SCOPES_TEXT_MAX];  /* comma-separated scope names */
  int64_t created_s;                     /* unix seconds */
  bool revoked;                          /* revoked keys never authenticate */
  uint8_t hash[QP_HASH_SIZE];            /* BLAKE2b-256 of the key text */
  qp_http_key_limits_t limits;           /* expiry, ledgers, rate (zero = none) */
} qp_http_key_t;

/* Checks limits against the invariant above: 0, or QP_EINVAL with detail
 * saying which field is wrong and what is allowed. */
int qp_http_key_limits_check(const qp_http_key_limits_t *limits, char *detail,
                             size_t detail_size);

/* Parses a comma-separated list of ledger numbers ("1,2,840": decimal,
 * 1..4294967295, no leading zeros, no duplicates, at most
 * QP_HTTP_KEY_LEDGERS_MAX) into out[] and *count_out.  Returns 0, or
 * QP_EINVAL with detail naming the bad entry and what is allowed. */
int qp_http_ledgers_parse(const char *text, uint32_t out[QP_HTTP_KEY_LEDGERS_MAX],
                          uint32_t *count_out, char *detail, size_t detail_size);

/* Writes ledgers[0, count) as "1,2,840" (sep ",") or "1, 2, 840" (sep
 * ", ") into buf; a list that does not fit ends in "...".  count 0 gives "". */
void qp_http_ledgers_format(const uint32_t *ledgers, uint32_t count, const char *sep, char *buf,
                            size_t size);

/* Has the key expired at now_s (unix seconds)?  A key expires at the
 * start of its expires_s second; 0 never expires. */
bool qp_http_key_expired(const qp_http_key_t *key, int64_t now_s);

/* Writes unix seconds as ISO 8601 UTC, "2025-01-31T12:00:00Z", into buf
 * (at least 21 bytes; "?" if the time cannot be shown). */
void qp_http_utc_format(int64_t unix_s, char *buf, size_t size);

/* The key file's path for a data dir, into buf.  Returns 0 or QP_ERANGE. */
int qp_http_keys_path(const char *data_dir, char *buf, size_t size);

/* Loads every key of data_dir (none if the file does not exist) into a
 * qp_calloc'ed array the caller qp_free()s.  A file that other users may
 * read or write (any group or other permission bit) is refused with QP_EIO
 * and detail saying to `chmod 600` it.  Returns 0, QP_ECORRUPT (a bad
 * line; detail names it), QP_EIO. */
int qp_http_keys_load(const char *data_dir, qp_http_key_t **out, uint32_t *count_out,
                      char *detail, size_t detail_size);

/* Creates a key named `name` with `scopes` (comma-separated; the caller
 * has checked them with qp_http_scopes_check), stores its hash and writes
 * the key text (shown once, never stored) into key_text.  *created (may be
 * NULL) receives the stored record.  Returns 0, QP_EINVAL (bad name or
 * scopes), QP_EEXISTS (a live key has that name), QP_ELIMIT, QP_EIO. */
int qp_http_keys_create(const char *data_dir, const char *name, const char *scopes,
                        char key_text[QP_HTTP_KEY_TEXT_SIZE], qp_http_key_t *created,
                        char *detail, size_t detail_size);

/* qp_http_keys_create with limits (NULL = none), checked with
 * qp_http_key_limits_check (QP_EINVAL naming the field).  An expiry in the
 * past is stored as given: the caller decides whether to allow it. */
int qp_http_keys_create_limited(const char *data_dir, const char *name, const char *scopes,
                                const qp_http_key_limits_t *limits,
                                char key_text[QP_HTTP_KEY_TEXT_SIZE], qp_http_key_t *created,
                                char *detail, size_t detail_size);

/* Revokes the live keys whose name or id is name_or_id; *revoked_out gets
 * how many.  Returns 0, QP_ENOTFOUND, QP_EIO. */
int qp_http_keys_revoke(const char *data_dir, const char *name_or_id, uint32_t *revoked_out,
                        char *detail, size_t detail_size);

/* What qp_http_keys_sweep does with one key. */
typedef enum {
  QP_HTTP_KEY_KEEP = 0,   /* leave it as it is */
  QP_HTTP_KEY_REVOKE = 1, /* revoke it (a live key; a revoked one stays as it is) */
  QP_HTTP_KEY_REMOVE = 2  /* drop its line (for keys that can never work again) */
} qp_http_key_action_t;

/* Asks pick(ctx, key) about every key, under the store's lock, and revokes
 * or removes the keys it names, in one atomic rewrite of the file.  pick
 * must not touch the key store.  *revoked and *removed (either may be
 * NULL) get how many.  Returns 0, QP_ECORRUPT, QP_EIO (detail says why). */
int qp_http_keys_sweep(const char *data_dir,
                       qp_http_key_action_t (*pick)(void *ctx, const qp_http_key_t *key),
                       void *ctx, uint32_t *revoked, uint32_t *removed, char *detail,
                       size_t detail_size);

/* Finds the live key whose text is `key_text` among keys[0, count): returns
 * its index, or -1.  Compares hashes in constant time. */
int qp_http_keys_match(const qp_http_key_t *keys, uint32_t count, const char *key_text,
                       size_t key_len);

/* ------------------------------------------------------- requests, replies */

typedef struct qp_http_request qp_http_request_t; /* opaque; valid during the handler */

/* A handler's answer.  Set it with the qp_http_reply_* helpers; the core
 * sends it, adds X-Request-Id and counts it. */
/* A server-sent event stream (text/event-stream) a handler answers with
 * qp_http_reply_stream().  next() runs on the connection's own thread,
 * again and again: it appends zero or more complete frames to out
 * (qp_http_sse_frame) and may block up to wait_ms waiting for news; it
 * returns 0 to go on, or a negative QP_E* to end the stream.  release() runs
 * once when the stream ends for any reason (the client went away, next()
 * ended it, the node is stopping, the stream was refused). */
typedef struct qp_http_stream_ops {
  int (*next)(void *ctx, qp_buf_t *out, uint32_t wait_ms);
  void (*release)(void *ctx);
} qp_http_stream_ops_t;

typedef struct qp_http_reply_header {
  const char *name; /* static */
  char *value;      /* owned (qp_malloc'ed) */
} qp_http_reply_header_t;

typedef struct qp_http_reply {
  unsigned status;          /* HTTP status */
  char *body;               /* owned (qp_malloc'ed), NUL-terminated; NULL = empty */
  const char *content_type; /* static; NULL = application/json */
  const char *allow;        /* Allow header for 405, or NULL */
  bool close;               /* send Connection: close */
  uint32_t retry_after_s;   /* Retry-After for a 429/503; 0 = the default, 1 */
  size_t body_len;          /* bytes of body when binary (qp_http_reply_bytes); 0 = strlen */
  const qp_http_stream_ops_t *stream; /* set by qp_http_reply_stream, else NULL */
  void *stream_ctx;                   /* its ctx, owned by the reply until sent */
  qp_http_reply_header_t headers[QP_HTTP_REPLY_HEADERS_MAX]; /* qp_http_reply_header */
  uint32_t headers_count;                                     /* rows used */
} qp_http_reply_t;

/* Serialises json (consumes the reference; NULL means out of memory and
 * becomes a 500) as the reply body with `status`. */
void qp_http_reply_json(qp_http_reply_t *r, unsigned status, struct json_t *json);

/* Takes ownership of a qp_malloc'ed text body. */
void qp_http_reply_text(qp_http_reply_t *r, unsigned status, char *text,
                        const char *content_type);

/* Takes ownership of a qp_malloc'ed binary body of len bytes (an image;
 * NUL bytes allowed).  data NULL becomes a 500. */
void qp_http_reply_bytes(qp_http_reply_t *r, unsigned status, void *data, size_t len,
                         const char *content_type);

/* Answers 200 text/event-stream fed by ops (see qp_http_stream_ops_t); the
 * reply takes ctx: ops->release(ctx) runs even when the stream is refused
 * (503 too_many_streams past http.max_streams).  The core sends "retry:"
 * first, a ": ping" comment after QP_HTTP_STREAM_PING_MS of silence, no
 * idle timeout applies, and every stream ends when the node stops. */
void qp_http_reply_stream(qp_http_reply_t *r, const qp_http_stream_ops_t *ops, void *ctx);

/* Appends one event to out: "event: E\nid: I\ndata: …\n\n", data split
 * into one "data:" line per line (id NULL: no id line).  event and id must
 * not hold CR or LF (QP_EINVAL).  QP_ENOMEM when out is full. */
int qp_http_sse_frame(qp_buf_t *out, const char *event, const char *id, const char *data);

/* Adds a header to the reply (Set-Cookie, Location, …): name static, value
 * copied.  QP_EINVAL for a value with CR/LF, QP_ENOMEM past
 * QP_HTTP_REPLY_HEADERS_MAX or out of memory. */
int qp_http_reply_header(qp_http_reply_t *r, const char *name, const char *value);

/* The error envelope for err (status from err, 500 if unset). */
void qp_http_reply_error(qp_http_reply_t *r, const qp_http_error_t *err);

/* Shorthand: an error reply with a fixed message. */
void qp_http_reply_fail(qp_http_reply_t *r, unsigned status, const char *code, const char *path,
                        const char *message);

/* The request's method ("GET", …), path (without the query) and body
 * (may be NULL when empty). */
const char *qp_http_method(const qp_http_request_t *req);
const char *qp_http_path(const qp_http_request_t *req);
const char *qp_http_body(const qp_http_request_t *req, size_t *len_out);
const char *qp_http_request_id(const qp_http_request_t *req);

/* The text of the named segment `name` of the route's pattern ("id" for
 * "/v1/accounts/{id}"), NUL-terminated, or NULL if the pattern has none. */
const char *qp_http_param(const qp_http_request_t *req, const char *name);

/* A request header's value, or NULL. */
const char *qp_http_header(const qp_http_request_t *req, const char *name);

/* A cookie's value from the request's Cookie header(s) (libmicrohttpd
 * parses them), or NULL. */
const char *qp_http_cookie(const qp_http_request_t *req, const char *name);

/* Calls fn for every query argument in order (value may be NULL for
 * "?flag"); stops when fn returns false.  Returns false if fn stopped. */
bool qp_http_query_each(const qp_http_request_t *req,
                        bool (*fn)(void *ctx, const char *key, const char *value), void *ctx);

/* ------------------------------------------------ cursor-paginated lists */

/* What every list route (GET /v1/orders, /v1/refunds, /v1/payment-intents,
 * …) shares (list.c): limit (1..500, default 50), cursor (the opaque
 * next_cursor of the previous page: the base64url text of the last index
 * key looked at), created_from / created_to (unix seconds, from inclusive,
 * to exclusive) and the answer {"object":"list","data":[…],"next_cursor"}. */
#define QP_HTTP_LIST_LIMIT_DEFAULT 50u
#define QP_HTTP_LIST_LIMIT_MAX 500u
#define QP_HTTP_LIST_CURSOR_MAX 40u /* bytes of a list's index key, at most */

typedef struct qp_http_list {
  uint32_t limit;                           /* rows wanted */
  uint64_t from_ns, to_ns;                  /* creation range; to_ns 0 = none */
  bool has_cursor;                          /* start after cursor */
  uint8_t cursor[QP_HTTP_LIST_CURSOR_MAX];  /* the previous page's last key */
  size_t cursor_size;                       /* this list's key size */
  qp_http_error_t err;                      /* why the query was refused */
} qp_http_list_t;

/* Defaults for a list whose index keys are cursor_size bytes (8..40). */
void qp_http_list_init(qp_http_list_t *l, size_t cursor_size);
/* One query parameter: 1 if it is one of the shared ones and good, -1 if
 * it is one and bad (l->err names it), 0 if it is not one of them. */
int qp_http_list_param(qp_http_list_t *l, const char *key, const char *value);
/* The checks between parameters (created_to after created_from): false
 * with l->err. */
bool qp_http_list_check(qp_http_list_t *l);
/* Sets l->err to 400 invalid_parameter "query parameter KEY WHAT"; false. */
bool qp_http_list_bad(qp_http_list_t *l, const char *key, const char *what);
/* Sets l->err to 400 unknown_parameter naming KEY and what is allowed
 * (a route's whole list, "limit, cursor, status, …"); false. */
bool qp_http_list_unknown(qp_http_list_t *l, const char *key, const char *allowed);
/* 200 {"object":"list","data":data,"next_cursor":…} (takes data; next NULL:
 * the last page, next_cursor null). */
void qp_http_list_reply(qp_http_reply_t *r, struct json_t *data, const uint8_t *next,
                        size_t next_size);

/* The caller's scopes (comma-separated; "admin" with --insecure-no-auth),
 * and whether they grant `scope`. */
const char *qp_http_caller_scopes(const qp_http_request_t *req);
bool qp_http_caller_may(const qp_http_request_t *req, const char *scope);

/* Charges the caller's bucket for `scope` when node.json limits it
 * (http.rate_limits), for a handler that decides itself which scope a
 * request needs (its route's scope is NULL).  The core charges routes that
 * name their scope; a request is charged at most once per scope.  true to
 * go on (also when the scope has no limit), or false with r set to 429
 * rate_limited and its Retry-After. */
bool qp_http_rate_limit(qp_http_request_t *req, const char *scope, qp_http_reply_t *r);

/* The caller's key id (16 hex digits), or "" when no key was needed
 * (public route, or --insecure-no-auth). */
const char *qp_http_caller_key_id(const qp_http_request_t *req);

/* Whether the caller may touch ledger `ledger` (true for a key without a
 * ledger restriction and with --insecure-no-auth). */
bool qp_http_caller_ledger_allowed(const qp_http_request_t *req, uint32_t ledger);

/* Whether the caller's key is restricted to a set of ledgers. */
bool qp_http_caller_ledgers_restricted(const qp_http_request_t *req);

/* The ledgers the caller's key is restricted to: returns how many (0 = no
 * restriction) and points *out at them (valid during the handler). */
uint32_t qp_http_caller_ledgers(const qp_http_request_t *req, const uint32_t **out);

/* --------------------------------------------------------------- routes */

typedef void (*qp_http_handler_fn)(void *ctx, qp_http_request_t *req, qp_http_reply_t *reply);

/* One route.  Patterns are literal segments and named segments "{name}"
 * (one non-empty segment each); when several patterns match a path, the
 * one with more literal segments wins, so "/v1/accounts/lookup" is not
 * taken for "/v1/accounts/{id}". */
typedef struct qp_http_route {
  const char *method;         /* "GET", "POST", "PUT", "DELETE", "PATCH" */
  const char *pattern;        /* "/v1/accounts/{id}" */
  const char *scope;          /* scope needed; NULL = any valid key */
  bool public_route;          /* no key needed (/healthz, /metrics) */
  uint64_t body_bytes_max;    /* largest body; 0 = the server's limit */
  qp_http_handler_fn handler; /* the work */
} qp_http_route_t;

/* ------------------------------------------------------------- metrics */

/* Text sink for the Prometheus exposition (bounded; failures are sticky). */
typedef struct qp_http_text {
  qp_buf_t buf; /* the text so far */
} qp_http_text_t;

void qp_http_text_put(qp_http_text_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define QP_HTTP_LATENCY_BUCKETS 14u /* histogram upper bounds, plus +Inf */

/* A latency histogram in microseconds, updated without locks (relaxed atomics). */
typedef struct qp_http_histogram {
  _Atomic uint64_t counts[QP_HTTP_LATENCY_BUCKETS + 1]; /* per bucket (not cumulative) */
  _Atomic uint64_t sum_us;                              /* total, microseconds */
  _Atomic uint64_t count;                               /* observations */
} qp_http_histogram_t;

void qp_http_histogram_observe(qp_http_histogram_t *h, uint64_t us);

/* Writes one histogram in seconds; labels is "" or `key="value",…`. */
void qp_http_histogram_put(qp_http_text_t *t, const char *name, const char *labels,
                           const qp_http_histogram_t *h);

/* Writes "# HELP" and "# TYPE" lines. */
void qp_http_metric_header(qp_http_text_t *t, const char *name, const char *type,
                           const char *help);

/* Writes a metric of one unlabelled sample: its header, then "name value". */
void qp_http_metric_u64(qp_http_text_t *t, const char *name, const char *type, const char *help,
                        uint64_t value);

/* --------------------------------------------------------------- server */

#define QP_HTTP_SCOPE_LIMITS_MAX 16u /* scopes with their own rate limit (http.rate_limits) */

/* A rate limit on one scope: every API key may make rate_per_s requests a
 * second (burst at once) to the routes that need `scope`, on top of its own
 * limit.  Invariant (qp_http_scope_limits_check): scope well formed, 1 <=
 * rate_per_s, burst <= QP_HTTP_KEY_RATE_MAX, no scope twice. */
typedef struct qp_http_scope_limit {
  char scope[QP_HTTP_SCOPE_NAME_MAX]; /* "payments:write" */
  uint32_t rate_per_s;                /* requests per second per key */
  uint32_t burst;                     /* requests at once per key */
} qp_http_scope_limit_t;

/* Checks limits[0, count) against the invariant above: 0, or QP_EINVAL with
 * detail naming the scope and the field. */
int qp_http_scope_limits_check(const qp_http_scope_limit_t *limits, uint32_t count, char *detail,
                               size_t detail_size);

typedef struct qp_http_options {
  const char *listen;          /* "HOST:PORT"; port 0 = any free port */
  uint64_t body_bytes_max;     /* largest request body (routes may lower it) */
  uint64_t inflight_bytes_max; /* all request bodies held at once; past it 503 */
  uint64_t json_request_bytes_max; /* one handler's live jansson bytes; past it 413 */
  uint64_t json_bytes_max;     /* all handlers' live jansson bytes; past it 503 */
  uint32_t connections_max;    /* open connections; past it 503 */
  uint32_t timeout_s;          /* idle connection timeout */
  uint32_t body_timeout_s;     /* whole request body, from headers to last byte */
  uint32_t head_timeout_s;     /* whole request head, from connection (or the previous
                                  request's end) to the last header */
  uint32_t connections_per_address_max; /* open connections from one client address */
  uint32_t shutdown_grace_ms;  /* how long stop waits for in-flight requests */
  uint32_t streams_max;        /* open event streams; past it 503 too_many_streams */
  bool insecure_no_auth;       /* no keys needed (loopback listen only) */
  bool metrics_key_required;   /* GET /metrics needs a valid key (any scope) */
  const char *tls_cert;        /* PEM certificate (chain) file: serve HTTPS; NULL = plaintext.
                                  Read at start; borrowed until then */
  const char *tls_key;         /* PEM private key file; given iff tls_cert is */
  bool insecure_plaintext;     /* allow plaintext on a non-loopback address */
  qp_http_scope_limit_t scope_limits[QP_HTTP_SCOPE_LIMITS_MAX]; /* per (key, scope) */
  uint32_t scope_limits_count; /* rows used in scope_limits */
  uint32_t public_rate_per_s;  /* routes without a key, per client address; 0 = no limit */
  uint32_t public_burst;       /* and at once (1..QP_HTTP_KEY_RATE_MAX when the rate is set) */
} qp_http_options_t;

/* Fills *o with the defaults above. */
void qp_http_options_default(qp_http_options_t *o);

typedef struct qp_http_server qp_http_server_t; /* opaque */

/* What a module adds to the server. */
typedef struct qp_http_module {
  const char *name;                           /* "ledger": metric and log label */
  const qp_http_route_t *routes;              /* static table */
  uint32_t routes_count;                      /* rows in routes */
  void *ctx;                                  /* passed to handlers and callbacks */
  const char *openapi;                        /* fragment: {"paths":…,"components":…} */
  void (*metrics)(void *ctx, qp_http_text_t *out); /* appends its metrics; may be NULL */
  /* Health for /healthz: 0, or non-zero with code/message set (503). */
  int (*health)(void *ctx, char *code, size_t code_size, char *message, size_t message_size);
} qp_http_module_t;

/* Creates a server (not yet listening) whose key store is under data_dir.
 * Returns 0 and *out, QP_EINVAL (bad options; detail says why), QP_ENOMEM. */
int qp_http_server_create(const char *data_dir, const qp_http_options_t *options,
                          qp_http_server_t **out, char *detail, size_t detail_size);

/* Adds a module's routes, OpenAPI fragment and metrics (borrowed: must
 * outlive the server).  Before start only.  Returns 0, QP_EEXISTS (a route
 * another module serves already; detail names it), QP_EINVAL (a bad
 * pattern or fragment), QP_ENOMEM. */
int qp_http_server_add(qp_http_server_t *s, const qp_http_module_t *module, char *detail,
                       size_t detail_size);

/* Assembles the OpenAPI document and starts listening, over HTTPS when
 * tls_cert and tls_key are given (both files are read here, the key into
 * guarded memory that is wiped as soon as libmicrohttpd has started).
 * Returns 0, QP_EINVAL (bad listen address; only one of the TLS files; a
 * non-loopback address without TLS or insecure_plaintext; a file that is
 * not PEM or a pair GnuTLS refuses: detail names the file and the reason),
 * QP_EIO (cannot listen; a TLS file cannot be read), QP_ENOTSUP (this
 * libmicrohttpd has no TLS). */
int qp_http_server_start(qp_http_server_t *s, char *detail, size_t detail_size);

/* The port actually bound (useful with port 0). */
uint16_t qp_http_server_port(const qp_http_server_t *s);

/* Is the server listening over HTTPS (after a successful start)? */
bool qp_http_server_tls(const qp_http_server_t *s);

/* The assembled OpenAPI document (JSON text owned by the server; valid
 * after start until destroy). */
const char *qp_http_server_openapi(const qp_http_server_t *s);

/* Every route served, core routes included, for tests and docs: calls fn
 * with each method and pattern. */
void qp_http_server_each_route(const qp_http_server_t *s,
                               void (*fn)(void *ctx, const char *method, const char *pattern),
                               void *ctx);

/* Graceful stop: refuses new connections and requests and waits up to the
 * grace period for in-flight requests.  Modules stay usable; call before
 * closing them.  Idempotent. */
void qp_http_server_stop(qp_http_server_t *s);

/* Stops (if needed) and frees the server.  Safe on NULL. */
void qp_http_server_destroy(qp_http_server_t *s);

/* ------------------------------------------------ request bodies (body.c) */

#define QP_HTTP_BODY_EMPTY_OBJECT 1u /* an empty body reads as {} (else 400 invalid_json) */
#define QP_HTTP_BODY_ARRAY 2u        /* a JSON array is accepted too (elements unchecked) */

/* Parses body[0, len) as a JSON object (flags: QP_HTTP_BODY_*) whose
 * members are all among allowed (NULL-terminated names; NULL: any), under
 * the calling thread's JSON budget.  0 with *out (the caller owns the
 * reference), or QP_EINVAL with *out NULL and err: 400 invalid_json (empty
 * or malformed, with line and column), invalid_type (not an object),
 * unknown_field (path: the member); 413 too_complex or 503 overloaded when
 * the budget refused.  Pure: no request needed (fuzz targets, tests). */
int qp_http_body_decode(const char *body, size_t len, const char *const *allowed, unsigned flags,
                        struct json_t **out, qp_http_error_t *err);

/* The request's body through qp_http_body_decode: the object (caller
 * json_decref()s it), or NULL after the error reply. */
struct json_t *qp_http_body_object(qp_http_request_t *req, qp_http_reply_t *r,
                                   const char *const *allowed, unsigned flags);

/* Member getters.  Each returns true with *out, or false after a 400 reply
 * whose path names the member (missing_field, invalid_type, invalid_value);
 * obj is borrowed, and so is a returned string (valid while obj lives). */

/* A string of 1 to max bytes without NUL.  path: where the member is, as
 * the envelope names it (NULL: name).  Absent and !required: true, *out
 * NULL. */
bool qp_http_member_string(const struct json_t *obj, const char *name, const char *path,
                           size_t max, bool required, const char **out, qp_http_reply_t *r);

/* A required amount from 1 to 2^128-1: a decimal string or a JSON integer. */
bool qp_http_member_u128(const struct json_t *obj, const char *name, qp_u128 *out,
                         qp_http_reply_t *r);

/* A JSON integer from min to max (long long: jansson's json_int_t).  Absent:
 * fallback, or missing_field when fallback < min (required). */
bool qp_http_member_int(const struct json_t *obj, const char *name, long long min, long long max,
                        long long fallback, long long *out, qp_http_reply_t *r);

/* true or false; absent: fallback. */
bool qp_http_member_bool(const struct json_t *obj, const char *name, bool fallback, bool *out,
                         qp_http_reply_t *r);

/* A 400 invalid_value reply at path with a printf-style message; returns
 * false, for `return qp_http_fail_value(...)` in a getter. */
bool qp_http_fail_value(qp_http_reply_t *r, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
