/*
 * api.h - the ledger's HTTP/JSON API (DESIGN.md section 5): the strict
 * JSON codec for accounts and transfers, and the ledger module that the
 * node runtime serves through the HTTP core (its routes, group-commit
 * writer, metrics and periodic expiry sweep).
 *
 *  - The codec (api_decode.c, api_encode.c) is pure: bytes in, events or
 *    an error envelope out.  It never touches the ledger, a socket or a
 *    file, so it is unit-tested and fuzzed directly
 *    (tests/fuzz/fuzz_api_decode.c), and `quipu client` checks its input
 *    with it before sending.
 *
 *  - The module (module.c, api_routes.c, api_writer.c, api_metrics.c)
 *    opens the durable ledger under the node's data directory and serves
 *    it.  Reads go straight to the thread-safe qp_db lookups; creates are
 *    queued to a single writer thread that hands everything queued to
 *    qp_db_execute() at once, so many HTTP requests share one journal
 *    append and one fdatasync (group commit).  A response is sent only
 *    after its batch is durable.
 */
#ifndef QP_LEDGER_API_H
#define QP_LEDGER_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "ledger/binary.h"
#include "ledger/db.h"

struct json_t; /* jansson's object type */

/* ------------------------------------------------------------ defaults */

#define QP_LEDGER_API_EVENTS_MAX_DEFAULT QP_BATCH_EVENTS_MAX /* events per request */
#define QP_LEDGER_API_QUEUE_MAX_DEFAULT 1024u  /* create requests waiting for the writer */
#define QP_LEDGER_API_QUERY_LIMIT_DEFAULT 100u /* rows of a history query without ?limit */
#define QP_LEDGER_API_LOOKUP_IDS_MAX QP_BATCH_EVENTS_MAX /* ids in one lookup */
#define QP_LEDGER_SWEEP_MS 1000u /* how often the node asks for an expiry sweep */

/* The scopes the ledger owns. */
#define QP_LEDGER_SCOPE_READ "ledger:read"   /* lookups, history, audit */
#define QP_LEDGER_SCOPE_WRITE "ledger:write" /* create accounts and transfers */

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
int qp_ledger_decode_accounts(const char *body, size_t len, uint32_t events_max, qp_account_t **out,
                           uint32_t *count_out, qp_http_error_t *err);
int qp_ledger_decode_transfers(const char *body, size_t len, uint32_t events_max,
                               qp_transfer_t **out, uint32_t *count_out, qp_http_error_t *err);

/* What `quipu client accounts|transfers create` runs on its input before
 * sending it: kind is "accounts" or "transfers"; decodes the body exactly as
 * the server will (up to QP_BATCH_EVENTS_MAX events) and discards the
 * events.  Returns 0, QP_EINVAL for an unknown kind, or the decoder's
 * QP_EPARSE/QP_ENOMEM with err filled. */
int qp_ledger_check_batch(const char *kind, const char *body, size_t len, qp_http_error_t *err);

/* Decodes a lookup body {"ids":[…]} with 1..ids_max ids (decimal strings or
 * JSON integers).  Same conventions as above. */
int qp_ledger_decode_ids(const char *body, size_t len, uint32_t ids_max, qp_u128 **out,
                      uint32_t *count_out, qp_http_error_t *err);

/* Decodes a query body (POST /v1/accounts/query, /v1/transfers/query):
 * {"user_data_128","user_data_64","user_data_32","ledger","code",
 * "timestamp_min","timestamp_max","limit","flags":["reversed"]}, every
 * field optional (0 or absent = any; limit defaults to
 * QP_LEDGER_API_QUERY_LIMIT_DEFAULT, at most QP_QUERY_LIMIT_MAX), strictly
 * as above; timestamp_min > timestamp_max is an error.  Returns 0,
 * QP_EPARSE (err says why and where) or QP_ENOMEM. */
int qp_ledger_decode_query(const char *body, size_t len, qp_query_filter_t *out,
                           qp_http_error_t *err);

/* Parses one decimal u128 from text (a path segment or a query value);
 * returns 0 or QP_EPARSE/QP_ERANGE. */
int qp_ledger_parse_id(const char *text, qp_u128 *out);

/* ------------------------------------------------------------- encoding */

/* Records as JSON objects (caller owns the reference; NULL on OOM).  u128
 * and u64 values are decimal strings, flags arrays of names.  A transfer
 * created with the `pending` flag also carries "pending_state". */
struct json_t *qp_ledger_account_json(const qp_account_t *a);
struct json_t *qp_ledger_transfer_json(const qp_transfer_t *t, qp_pending_state_t state);
struct json_t *qp_ledger_balance_json(const qp_account_balance_t *b);
struct json_t *qp_ledger_u128_json(qp_u128 v);
/* Who submitted a record: the API key id as its 16 hex digits (what `quipu
 * keys list` shows), or null for 0 (none recorded). */
struct json_t *qp_ledger_submitter_json(uint64_t key);

/* {"results":[{"index":i,"id":"…","result":"…"},…]} for a create batch,
 * as text; op is QP_OP_CREATE_ACCOUNTS or QP_OP_CREATE_TRANSFERS.  Returns
 * a qp_malloc'ed NUL-terminated string (caller qp_free()s it) and its
 * length in *len_out, or NULL when out of memory. */
char *qp_ledger_results_text(qp_op_t op, const void *events, const uint32_t *results,
                             uint32_t count, size_t *len_out);

/* -------------------------------------------------------------- module */

#define QP_LEDGER_REPLICAS_MAX 7u      /* replicas in one cluster */
#define QP_LEDGER_ADDRESS_MAX 128u     /* bytes of a replica's raft address or URL, with NUL */
#define QP_LEDGER_CLUSTER_ID_MAX 64u   /* bytes of a cluster id, with NUL */
#define QP_LEDGER_SNAPSHOT_THRESHOLD 256u  /* Raft entries between two snapshots, at least */
#define QP_LEDGER_SNAPSHOT_TRAILING 64u    /* entries a snapshot leaves in the log, at least */
/* Without "snapshot_threshold" the replica sizes it by bytes: about this
 * much Raft log between two snapshots (entries of 1 MB: the 256 above,
 * which wins; small entries: more of them, up to
 * QP_LEDGER_SNAPSHOT_THRESHOLD_MAX), and trailing a quarter of it. */
#define QP_LEDGER_SNAPSHOT_LOG_BYTES (64u << 20)
#define QP_LEDGER_SNAPSHOT_THRESHOLD_MAX 65536u

/* One replica of a cluster ("modules.ledger.cluster.replicas[i]"). */
typedef struct qp_ledger_replica {
  uint64_t id;                      /* Raft server id, 1.. (unique in the cluster) */
  char raft[QP_LEDGER_ADDRESS_MAX]; /* "HOST:PORT" Raft's TCP transport listens on */
  char http[QP_LEDGER_ADDRESS_MAX]; /* "http://HOST:PORT", where clients are sent */
  char raft_bind[QP_LEDGER_ADDRESS_MAX]; /* "HOST:PORT" it listens on; "" = raft (a proxy) */
} qp_ledger_replica_t;

/* The ledger replicated on Raft (docs/cluster.md); enabled = false: one node. */
typedef struct qp_ledger_cluster {
  bool enabled;                                     /* "cluster" was given */
  char id[QP_LEDGER_CLUSTER_ID_MAX];                /* "id": the cluster's name */
  uint32_t self;                                    /* "self": this replica's index in replicas */
  bool join;                                        /* "join": added later, do not bootstrap */
  uint32_t count;                                   /* replicas used */
  qp_ledger_replica_t replicas[QP_LEDGER_REPLICAS_MAX]; /* "replicas" */
  uint32_t snapshot_threshold; /* "snapshot_threshold": entries between snapshots (256) */
  uint32_t snapshot_trailing;  /* "snapshot_trailing": entries kept after one (64) */
  bool snapshot_sized;         /* no "snapshot_threshold": sized by bytes (see above) */
} qp_ledger_cluster_t;

/* The ledger module's settings ("modules": {"ledger": {…}} in node.json). */
typedef struct qp_ledger_settings {
  uint32_t events_max;  /* "max_batch_events": events (or ids) per request, 1..8190 */
  uint32_t queue_max;   /* "queue_max": create requests queued before 429 */
  uint64_t evict_after; /* "evict_after": stored transfers leave memory past this (0 = default) */
  qp_ledger_cluster_t cluster; /* "cluster": replication on Raft (enabled = false: none) */
  char binary_listen[64]; /* "binary_listen": host:port of the binary protocol; "" = off */
  uint32_t binary_frame_timeout_ms; /* "binary_frame_timeout_ms": a begun frame's deadline */
  uint64_t index_lag_max; /* "index_lag_max": commits wait for the index past this many untaken
                             changes (qp_db_options_t.index_lag_max; 0 = default) */
} qp_ledger_settings_t;

/* Reads "modules.ledger.cluster" (docs/cluster.md) into *out.  Returns 0 or
 * QP_EINVAL with detail naming the key and what is allowed. */
int qp_ledger_cluster_parse(const struct json_t *object, const char *where,
                            qp_ledger_cluster_t *out, char *detail, size_t detail_size);

/* Fills *s with the defaults. */
void qp_ledger_settings_default(qp_ledger_settings_t *s);

/* Reads settings from a JSON object (NULL = defaults): unknown keys and
 * values out of range are QP_EINVAL with detail naming the key (prefixed
 * by `where`, e.g. "modules.ledger"). */
int qp_ledger_settings_parse(const struct json_t *object, const char *where,
                             qp_ledger_settings_t *out, char *detail, size_t detail_size);

/* The ledger's OpenAPI fragment (generated from src/ledger/openapi.json). */
extern const char qp_ledger_openapi_json[];

/* ----------------------------------------- the door for other modules */

/* The ledger module as other modules of the same node see it (payment
 * intents in src/auth hold and post money through it): transfers go
 * through the same group-commit writer as POST /v1/transfers, so they are
 * journaled, fdatasync'ed and audited like any other. */
typedef struct qp_ledger_service qp_ledger_service_t;

/* The ledger module this process runs, or NULL when none is open.  A module
 * opened after the ledger (the node opens in table order and closes in
 * reverse) may keep the pointer until its own close. */
qp_ledger_service_t *qp_ledger_service(void);

/* Creates transfers[0, count) as one request (submitter: none) and waits
 * for the group commit; results[i] is each event's QP_CREATE_TRANSFER_*
 * code.  Returns 0 (results valid), QP_ELIMIT (queue full: nothing ran),
 * QP_ESTOPPED (stopping or fail-stop), QP_ENOSPC (disk full), or another
 * status of the commit; results are valid only on 0. */
int qp_ledger_service_transfers(qp_ledger_service_t *svc, const qp_transfer_t *transfers,
                                uint32_t count, uint32_t *results);

/* Reads the account id: 0 with *out, or QP_ENOTFOUND (the payments module
 * checks a merchant's settlement account with it). */
int qp_ledger_service_account(qp_ledger_service_t *svc, qp_u128 id, qp_account_t *out);

/* Creates accounts[0, count) as one request through the writer, like
 * qp_ledger_service_transfers (results: QP_CREATE_ACCOUNT_* codes). */
int qp_ledger_service_accounts(qp_ledger_service_t *svc, const qp_account_t *accounts,
                               uint32_t count, uint32_t *results);

/* The account's transfers (qp_db_get_account_transfers: filter, out with
 * room for filter->limit rows): 0 with *count, QP_EINVAL, QP_EDB. */
int qp_ledger_service_account_transfers(qp_ledger_service_t *svc, const qp_account_filter_t *f,
                                        qp_transfer_t *out, uint32_t *count);

/* Reads the transfer id: 0 with *out and *state, or QP_ENOTFOUND. */
int qp_ledger_service_transfer(qp_ledger_service_t *svc, qp_u128 id, qp_transfer_t *out,
                               qp_pending_state_t *state);

#endif
