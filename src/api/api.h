/*
 * api.h - the ledger's HTTP/JSON API (DESIGN.md section 5): the server that
 * `quipu serve` runs, the strict JSON decoder and encoder for accounts and
 * transfers, and the API key store that `quipu keys` edits.
 *
 * Three layers, each usable on its own:
 *
 *  - The codec (decode.c, encode.c) is pure: bytes in, events or an error
 *    envelope out.  It never touches the ledger, a socket or a file, so it is
 *    unit-tested and fuzzed directly (tests/fuzz/fuzz_api_decode.c).
 *
 *  - The key store (keys.c) keeps hashed API keys in <data>/keys/api_keys,
 *    rewritten atomically (temp file + rename) under a lock file, so the CLI
 *    can edit it while a server is running; the server notices the change.
 *
 *  - The server (server.c, routes.c, writer.c, metrics.c) serves the routes
 *    on libmicrohttpd, one thread per connection.  Reads go straight to the
 *    thread-safe qp_db lookups; creates are queued to a single writer thread
 *    that hands everything queued to qp_db_execute() at once, so many HTTP
 *    requests share one journal append and one fdatasync (group commit).  A
 *    response is sent only after its batch is durable.
 */
#ifndef QP_API_API_H
#define QP_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ledger/db.h"

/* ------------------------------------------------------------ defaults */

#define QP_API_LISTEN_DEFAULT "127.0.0.1:7070"
#define QP_API_BODY_BYTES_MAX_DEFAULT (16u * 1024u * 1024u) /* request body */
#define QP_API_INFLIGHT_BYTES_MAX_DEFAULT (256u * 1024u * 1024u) /* all bodies at once */
#define QP_API_EVENTS_MAX_DEFAULT QP_BATCH_EVENTS_MAX       /* events per request */
#define QP_API_CONNECTIONS_MAX_DEFAULT 256u                 /* open connections */
#define QP_API_TIMEOUT_S_DEFAULT 10u              /* idle connection timeout (slowloris) */
#define QP_API_BODY_TIMEOUT_S_DEFAULT 60u /* a body trickling in longer is dropped */
#define QP_API_QUEUE_MAX_DEFAULT 1024u            /* create requests waiting for the writer */
#define QP_API_SHUTDOWN_GRACE_MS_DEFAULT 10000u   /* wait for in-flight requests on stop */
#define QP_API_QUERY_LIMIT_DEFAULT 100u           /* rows of a history query without ?limit */
#define QP_API_LOOKUP_IDS_MAX QP_BATCH_EVENTS_MAX /* ids in one lookup */

/* -------------------------------------------------------- error envelope */

/* What went wrong with a request; becomes the body
 * {"error":{"code":…,"message":…,"path":…}} (plus "line"/"column" for
 * malformed JSON).  Invariant: status != 0 iff code[0] != '\0'. */
typedef struct qp_api_error {
  unsigned status;   /* HTTP status: 400, 401, 403, 404, 405, 413, 415, 429, 500, 503 */
  char code[40];     /* machine-readable, snake_case: "invalid_type", … */
  char message[256]; /* for humans: what was wrong and what is allowed */
  char path[96];     /* the offending field, e.g. "[3].amount"; "" = the whole request */
  int line;          /* 1-based position of malformed JSON; 0 when not applicable */
  int column;        /* " */
} qp_api_error_t;

/* Fills *err; message is printf-style.  Returns QP_EPARSE for convenience. */
int qp_api_error_set(qp_api_error_t *err, unsigned status, const char *code, const char *path,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The envelope as a new JSON object (caller owns the reference). */
json_t *qp_api_error_json(const qp_api_error_t *err);

/* ------------------------------------------------------------- decoding */

/* Decodes a create body: a JSON array of 1..events_max account (transfer)
 * objects, strictly: unknown or duplicate fields, wrong types, missing
 * required fields, negative or non-numeric numbers and values beyond the
 * field's width are errors.  u128/u64 fields take decimal strings or JSON
 * integers >= 0; u32/u16 fields take JSON integers; flags take an array of
 * flag names.  Pure: reads only body[0, len).
 *
 * On success returns 0 and *out receives a qp_calloc'ed array of *count_out
 * events that the caller releases with qp_free().  On failure returns
 * QP_EPARSE (err says why and where; status 400 or 413), or QP_ENOMEM;
 * *out is then NULL. */
int qp_api_decode_accounts(const char *body, size_t len, uint32_t events_max, qp_account_t **out,
                           uint32_t *count_out, qp_api_error_t *err);
int qp_api_decode_transfers(const char *body, size_t len, uint32_t events_max, qp_transfer_t **out,
                            uint32_t *count_out, qp_api_error_t *err);

/* What `quipu client accounts|transfers create` runs on its input before
 * sending it: kind is "accounts" or "transfers"; decodes the body exactly as
 * the server will (up to QP_BATCH_EVENTS_MAX events) and discards the
 * events.  Returns 0, QP_EINVAL for an unknown kind, or the decoder's
 * QP_EPARSE/QP_ENOMEM with err filled. */
int qp_api_check_batch(const char *kind, const char *body, size_t len, qp_api_error_t *err);

/* Decodes a lookup body {"ids":[…]} with 1..ids_max ids (decimal strings or
 * JSON integers).  Same conventions as above. */
int qp_api_decode_ids(const char *body, size_t len, uint32_t ids_max, qp_u128 **out,
                      uint32_t *count_out, qp_api_error_t *err);

/* Parses one decimal u128 from text (a path segment or a query value);
 * returns 0 or QP_EPARSE/QP_ERANGE. */
int qp_api_parse_u128(const char *text, qp_u128 *out);

/* ------------------------------------------------------------- encoding */

/* Records as JSON objects (caller owns the reference; NULL on OOM).  u128
 * and u64 values are decimal strings, flags arrays of names.  A transfer
 * created with the `pending` flag also carries "pending_state". */
json_t *qp_api_account_json(const qp_account_t *a);
json_t *qp_api_transfer_json(const qp_transfer_t *t, qp_pending_state_t state);
json_t *qp_api_balance_json(const qp_account_balance_t *b);
json_t *qp_api_u128_json(qp_u128 v);

/* {"results":[{"index":i,"id":"…","result":"…"},…]} for a create batch,
 * as text; op is QP_OP_CREATE_ACCOUNTS or QP_OP_CREATE_TRANSFERS.  Returns
 * a qp_malloc'ed NUL-terminated string (caller qp_free()s it) and its
 * length in *len_out, or NULL when out of memory. */
char *qp_api_results_text(qp_op_t op, const void *events, const uint32_t *results, uint32_t count,
                          size_t *len_out);

/* ----------------------------------------------------------------- keys */

#define QP_API_SCOPE_READ (1u << 0)  /* ledger:read: GET and lookups */
#define QP_API_SCOPE_WRITE (1u << 1) /* ledger:write: creates */
#define QP_API_SCOPE_ADMIN (1u << 2) /* admin: everything */
#define QP_API_SCOPES_ALL 0x7u

#define QP_API_KEYS_MAX 4096u       /* keys in one file, revoked included */
#define QP_API_KEY_NAME_MAX 64u     /* bytes of a key's name */
#define QP_API_KEY_ID_HEX 16u       /* hex digits of a key's public id */
#define QP_API_KEY_SECRET_BYTES 32u /* random bytes in a key */
#define QP_API_KEY_TEXT_SIZE 96u    /* room for "qpk_<id>_<secret hex>" and a NUL */

/* One API key as stored: never the key itself, only its hash. */
typedef struct qp_api_key {
  char id[QP_API_KEY_ID_HEX + 1];     /* public id, hex; also inside the key text */
  char name[QP_API_KEY_NAME_MAX + 1]; /* [A-Za-z0-9._-]+, unique among live keys */
  uint32_t scopes;                    /* QP_API_SCOPE_* */
  int64_t created_s;                  /* unix seconds */
  bool revoked;                       /* revoked keys never authenticate */
  uint8_t hash[QP_HASH_SIZE];         /* BLAKE2b-256 of the key text */
} qp_api_key_t;

/* "ledger:read,ledger:write,admin" <-> bits.  parse returns 0 or QP_EINVAL
 * (unknown or empty scope). format writes "" for 0. */
int qp_api_scopes_parse(const char *text, uint32_t *out);
void qp_api_scopes_format(uint32_t scopes, char *buf, size_t size);

/* The key file's path for a data dir, into buf.  Returns 0 or QP_ERANGE. */
int qp_api_keys_path(const char *data_dir, char *buf, size_t size);

/* Loads every key of data_dir (none if the file does not exist) into a
 * qp_calloc'ed array the caller qp_free()s.  Returns 0, QP_ECORRUPT (a bad
 * line; detail names it), QP_EIO. */
int qp_api_keys_load(const char *data_dir, qp_api_key_t **out, uint32_t *count_out, char *detail,
                     size_t detail_size);

/* Creates a key named `name` with `scopes`, stores its hash and writes the
 * key text (shown once, never stored) into key_text.  *created (may be
 * NULL) receives the stored record.  Returns 0, QP_EINVAL (bad name or
 * scopes), QP_EEXISTS (a live key has that name), QP_ELIMIT, QP_EIO. */
int qp_api_keys_create(const char *data_dir, const char *name, uint32_t scopes,
                       char key_text[QP_API_KEY_TEXT_SIZE], qp_api_key_t *created, char *detail,
                       size_t detail_size);

/* Revokes the live keys whose name or id is name_or_id; *revoked_out gets
 * how many.  Returns 0, QP_ENOTFOUND, QP_EIO. */
int qp_api_keys_revoke(const char *data_dir, const char *name_or_id, uint32_t *revoked_out,
                       char *detail, size_t detail_size);

/* Finds the live key whose text is `key_text` among keys[0, count): returns
 * its index, or -1.  Compares hashes in constant time. */
int qp_api_keys_match(const qp_api_key_t *keys, uint32_t count, const char *key_text,
                      size_t key_len);

/* --------------------------------------------------------------- server */

typedef struct qp_api_options {
  const char *listen;         /* "HOST:PORT"; port 0 = any free port */
  uint64_t body_bytes_max;    /* largest request body */
  uint64_t inflight_bytes_max; /* all request bodies held at once; past it 503 */
  uint32_t events_max;        /* events (or ids) per request, <= QP_BATCH_EVENTS_MAX */
  uint32_t connections_max;   /* open connections; past it 503 */
  uint32_t timeout_s;         /* idle connection timeout */
  uint32_t body_timeout_s;    /* whole request body, from headers to last byte */
  uint32_t queue_max;         /* create requests queued for the writer; past it 429 */
  uint32_t shutdown_grace_ms; /* how long stop waits for in-flight requests */
  bool insecure_no_auth;      /* no keys needed (loopback listen only) */
} qp_api_options_t;

/* Fills *o with the defaults above. */
void qp_api_options_default(qp_api_options_t *o);

typedef struct qp_api_server qp_api_server_t; /* opaque */

/* Starts serving db (borrowed; must outlive the server) with keys from
 * data_dir.  Returns 0 and *out, QP_EINVAL (bad options or listen address;
 * detail says why), or QP_EIO (cannot listen). */
int qp_api_server_start(qp_db_t *db, const char *data_dir, const qp_api_options_t *options,
                        qp_api_server_t **out, char *detail, size_t detail_size);

/* The port actually bound (useful with port 0). */
uint16_t qp_api_server_port(const qp_api_server_t *s);

/* Graceful stop: refuses new connections and requests, waits up to the grace
 * period for in-flight requests (queued creates are committed), stops the
 * writer and frees the server.  db stays open.  Safe on NULL. */
void qp_api_server_stop(qp_api_server_t *s);

/* ---------------------------------------------------------------- OpenAPI */

/* The OpenAPI 3.1 document served at /v1/openapi.json (static storage). */
extern const char qp_api_openapi_json[];

/* One route the server serves, for the route/spec consistency test. */
typedef struct qp_api_route_info {
  const char *method;  /* "GET", "POST" */
  const char *pattern; /* "/v1/accounts/{id}" */
} qp_api_route_info_t;

/* The served routes; *count_out receives how many (static storage). */
const qp_api_route_info_t *qp_api_routes(uint32_t *count_out);

#endif
