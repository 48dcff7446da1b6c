/*
 * payments_int.h - the payments module of the node (docs/payments.md):
 * what its files share.  module.c reads the settings and hands the HTTP
 * core its routes; store.c keeps merchants, orders, merchant keys,
 * idempotency records and the event journal in LMDB under
 * <data>/payments/ (every write one transaction, synchronously committed);
 * idempotency.c implements the Idempotency-Key convention; caller.c says
 * what an API key may do here (every order, or one merchant's); currency.c
 * the ISO 4217 numeric codes; qr_render.c the SVG and PNG of a payload;
 * http_json.c the request helpers; routes_*.c the handlers.
 */
#ifndef QP_PAYMENTS_PAYMENTS_INT_H
#define QP_PAYMENTS_PAYMENTS_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/u128.h"
#include "http/http.h"
#include "payments/emv.h"
#include "store/kv.h"

#define QP_PAY_ID_SIZE 16                      /* bytes of a merchant or order id */
#define QP_PAY_ID_HEX (2 * QP_PAY_ID_SIZE)     /* its 32 lower-case hex digits */
#define QP_PAY_MAP_SIZE ((size_t)64 << 20)     /* LMDB map to start with */
#define QP_PAY_MAP_SIZE_MAX ((size_t)16 << 30) /* and the most it may grow to */
#define QP_PAY_BODY_BYTES_MAX 8192u            /* a request body */
#define QP_PAY_IDEM_KEY_MAX 255u               /* bytes of an Idempotency-Key */
#define QP_PAY_INFLIGHT_MAX 1024u              /* idempotent requests running at once */
#define QP_PAY_LIST_SCAN_MAX 10000u            /* index rows one page may look at */
#define QP_PAY_NAME_MAX 25u                    /* a merchant's name (EMV tag 59) */
#define QP_PAY_CITY_MAX 15u                    /* a merchant's city (EMV tag 60) */
#define QP_PAY_DESCRIPTION_MAX 256u            /* bytes of an order's description */
#define QP_PAY_REFERENCE_MAX 25u               /* an order's reference (EMV tag 62.05) */
#define QP_PAY_EXPIRES_IN_S_DEFAULT 900u       /* an order's lifetime without expires_in_s */
#define QP_PAY_EXPIRES_IN_S_MAX (7u * 86400u)  /* and the most a setting may allow */
#define QP_PAY_IDEM_TTL_S_DEFAULT 86400u       /* a stored response is replayed this long */
#define QP_PAY_IDEM_SWEEP_MAX 1000u            /* expired records one tick deletes */
#define QP_PAY_TICK_MS 1000u                   /* how often the module's tick runs */
#define QP_PAY_IDEM_SWEEP_S 60                 /* the idempotency sweep's period */
#define QP_PAY_PAID_SWEEP_MAX 256u             /* watched orders one tick looks at */
#define QP_PAY_WATCH_GRACE_S 86400             /* an order is watched this long past expiry */

#define QP_PAY_REFUND_TRANSFER_CODE 2         /* the ledger code of a refund's transfer */
#define QP_PAY_REASON_MAX 256u                 /* bytes of a refund's reason */

#define QP_PAY_WEBHOOK_URL_MAX 2048u           /* bytes of a webhook's URL */
#define QP_PAY_WEBHOOKS_MAX 100u               /* endpoints on one node */
#define QP_PAY_WEBHOOK_TIMEOUT_S 10            /* one delivery's HTTP timeout */
#define QP_PAY_WEBHOOK_SCAN_MAX 1000u          /* events one look for the next may skip */

#define QP_PAY_SCOPE_WRITE "payments:write"
#define QP_PAY_SCOPE_READ "payments:read"
#define QP_PAY_SCOPE_MERCHANT "payments:merchant"

/* The event types of the journal, in the order of qp__pay_event_types. */
#define QP__PAY_EVENT_TYPES 8u
extern const char *const qp__pay_event_types[QP__PAY_EVENT_TYPES];

/* modules.payments in node.json. */
typedef struct {
  char gui[QP_EMV_GUI_MAX + 1];           /* EMV tag 26.00: "com.quipu.pay" */
  char country[3];                        /* merchants' default country (tag 58) */
  char city[QP_PAY_CITY_MAX + 1];         /* merchants' default city (tag 60) */
  char mcc[5];                            /* merchants' default category code (tag 52) */
  uint32_t order_expires_in_s_default;    /* an order's lifetime without expires_in_s */
  uint32_t order_expires_in_s_max;        /* the longest one allowed */
  uint32_t idempotency_ttl_s;             /* how long a stored response is replayed */
  bool webhooks_allow_loopback_http;      /* http://127.0.0.1 and localhost URLs allowed */
  bool webhooks_allow_private_networks;   /* deliveries to private addresses allowed */
  uint32_t webhook_retry_base_ms;         /* the first retry's wait */
  uint32_t webhook_retry_cap_ms;          /* the longest wait between attempts */
  uint32_t webhook_disable_after_s;       /* failing this long disables an endpoint */
  uint64_t collect_without_confirmation_max; /* a collect up to this pays at once (0: never) */
} qp__pay_settings_t;

typedef struct qp__pay {
  qp__pay_settings_t settings;                /* from node.json */
  char data_dir[1024];                        /* the node's (merchant keys go in its key file) */
  qp_kv_t *kv;                                /* <data>/payments/ */
  MDB_dbi merchants, orders, by_created, merchant_keys, idempotency, events; /* store.c */
  MDB_dbi watch, refunds, refunds_by_created, refunds_pending; /* store.c */
  int64_t idem_swept_s;                       /* when the idempotency sweep last ran */
  uint8_t watch_next[8 + QP_PAY_ID_SIZE];     /* where the paid sweep goes on */
  pthread_mutex_t lock;                       /* guards inflight */
  pthread_mutex_t order_lock;                 /* one order transition at a time */
  uint8_t inflight[QP_PAY_INFLIGHT_MAX][32];  /* idempotency keys of requests running */
  bool inflight_used[QP_PAY_INFLIGHT_MAX];    /* which slots hold one */
  qp_http_module_t http;                      /* what the HTTP core serves */
  _Atomic uint64_t changes[QP__PAY_EVENT_TYPES]; /* state changes committed, by event type */
  _Atomic uint64_t idem[4];                   /* idempotency outcomes: replay, reused,
                                                 in flight, full */
  _Atomic uint64_t qr_refused;                /* payloads POST /v1/qr/parse refused */
  MDB_dbi webhooks, deliveries;               /* store.c */
  pthread_mutex_t webhook_lock;               /* an endpoint's record: one writer at a time */
  pthread_mutex_t worker_lock;                /* guards stopping */
  pthread_cond_t worker_wake;                 /* signaled to stop */
  bool stopping;                              /* the worker should return */
  bool worker_started;                        /* worker is joinable */
  pthread_t worker;                           /* delivers webhooks (webhook_worker.c) */
  _Atomic uint64_t deliveries_ok, deliveries_failed; /* webhook deliveries, by outcome */
  MDB_dbi devices, device_numbers, codes_used; /* payment codes (store.c) */
  MDB_dbi intent_events;                      /* intents whose event is journaled (store.c) */
  pthread_mutex_t change_lock;                /* guards change_gen */
  pthread_cond_t change_cond;                 /* broadcast when change_gen moves */
  uint64_t change_gen;                        /* committed changes with an event (streams) */
} qp__pay_t;

extern const char qp_payments_openapi_json[];

/* wallet_door.c: the module payments.h's wallet door answers for (NULL: none). */
void qp__pay_service_set(qp__pay_t *p);
/* routes_devices.c: a free random device number (order_lock held). */
int qp__pay_device_number_free(qp__pay_t *p, uint8_t key[4], uint32_t *number);

/* ---- metrics.c ---- */

/* The module's lines of /metrics. */
void qp__pay_metrics(void *ctx, qp_http_text_t *out);
/* Counts a committed change of event_type (NULL: none). */
void qp__pay_count_change(qp__pay_t *p, const char *event_type);

/* ---- idempotency.c ---- */

/* One request's Idempotency-Key.  Inactive when the header is absent. */
typedef struct {
  bool active;            /* a key was given: the response is stored */
  uint8_t key[32];        /* SHA-256 of the caller's key id, NUL, the header */
  uint8_t body_hash[32];  /* SHA-256 of the method, path and body */
  uint32_t slot;          /* its slot in inflight */
} qp__pay_idem_t;

/* Starts an idempotent POST: false after a reply (a replay of the stored
 * response; 422 idempotency_key_reused; 409 idempotency_key_in_flight; 400
 * for a bad header; 503 when too many run).  On true the caller must call
 * qp__pay_idem_end whatever happens. */
bool qp__pay_idem_begin(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r,
                        qp__pay_idem_t *idem);
/* What a claim found. */
typedef enum {
  QP__PAY_IDEM_NEW = 0,   /* never used (or expired): the request runs; its slot is taken */
  QP__PAY_IDEM_REPLAY,    /* a stored response for the same request */
  QP__PAY_IDEM_REUSED,    /* a stored response for another request */
  QP__PAY_IDEM_IN_FLIGHT, /* the same key is running now */
  QP__PAY_IDEM_FULL,      /* QP_PAY_INFLIGHT_MAX are running */
} qp__pay_idem_state_t;

/* The core of qp__pay_idem_begin, given idem->key and idem->body_hash and
 * the time: *state; for REPLAY *status and *body (qp_malloc'ed, the
 * caller's); for NEW idem is active and holds a slot.  Returns 0 or a store
 * error. */
int qp__pay_idem_claim(qp__pay_t *p, qp__pay_idem_t *idem, int64_t now_s,
                       qp__pay_idem_state_t *state, unsigned *status, char **body);
/* Ends it (the slot is free again). */
void qp__pay_idem_end(qp__pay_t *p, qp__pay_idem_t *idem);
/* Deletes up to QP_PAY_IDEM_SWEEP_MAX records older than the TTL. */
void qp__pay_idem_sweep(qp__pay_t *p, int64_t now_s);

/* ---- store.c ---- */

/* One record to write. */
typedef struct {
  MDB_dbi dbi;          /* which table */
  const void *key;      /* its key */
  size_t key_len;       /* bytes of key */
  const void *value;    /* its value */
  size_t value_len;     /* bytes of value */
  bool is_new;          /* refuse (QP_EEXISTS) when the key exists */
  bool del;             /* delete the key instead (absent: nothing to do) */
} qp__pay_put_t;

/* A state change: the records, the journal event, the stored response. */
typedef struct {
  const qp__pay_put_t *puts;    /* records to write */
  uint32_t puts_count;          /* rows in puts */
  const char *event_type;       /* "order.created": appended to the event journal */
  json_t *event_object;         /* the object the event is about (borrowed) */
  const qp__pay_idem_t *idem;   /* NULL or inactive: no response stored */
  unsigned status;              /* the response's status, for idem */
  const char *response;         /* its body, for idem */
  const char *event2_type;      /* NULL, or a second event journaled after the first */
  json_t *event2_object;        /* the object of the second event (borrowed) */
} qp__pay_change_t;

int qp__pay_store_open(qp__pay_t *p, const char *data_dir, char *detail, size_t detail_size);
void qp__pay_store_close(qp__pay_t *p);
/* Writes a change in one transaction: all of it or nothing.  Returns 0,
 * QP_EEXISTS (an is_new key exists), QP_ENOSPC, QP_ENOMEM or QP_EDB. */
int qp__pay_store_write(qp__pay_t *p, const qp__pay_change_t *c);
/* The JSON record under key in dbi (caller owns it), or QP_ENOTFOUND. */
int qp__pay_store_get_json(qp__pay_t *p, MDB_dbi dbi, const void *key, size_t key_len,
                           json_t **out);
/* The raw value under key copied into a new qp_malloc'ed buffer. */
int qp__pay_store_get_raw(qp__pay_t *p, MDB_dbi dbi, const void *key, size_t key_len,
                          uint8_t **out, size_t *len);
/* Events in the journal (for tests and metrics). */
uint64_t qp__pay_store_events(qp__pay_t *p);

/* Whether the row (k, v) has had its day (a sweep deletes it). */
typedef bool (*qp__pay_sweep_fn)(void *ctx, const MDB_val *k, const MDB_val *v);
/* Deletes the rows of dbi that gone picks, up to QP_PAY_IDEM_SWEEP_MAX
 * (looking at 100 times as many at most), in one write; returns how many
 * (0 when the write failed: the next sweep tries again). */
uint32_t qp__pay_store_sweep(qp__pay_t *p, MDB_dbi dbi, qp__pay_sweep_fn gone, void *ctx);

/* Keys of up to max rows of dbi from after (NULL: the first) on, each
 * key_size bytes, into keys: 0 with *count, or a store error. */
int qp__pay_store_keys(qp__pay_t *p, MDB_dbi dbi, const uint8_t *after, size_t key_size,
                       uint8_t *keys, uint32_t max, uint32_t *count);

/* ---- caller.c ---- */

/* What the caller may reach: every merchant, or only one. */
typedef struct {
  bool merchant_only;                     /* a payments:merchant key */
  uint8_t merchant_id[QP_PAY_ID_SIZE];    /* merchant_only: its merchant */
} qp__pay_caller_t;

/* Who the caller is: false after a 403, or a 429 of the scope's rate limit
 * (payments:write for a write, payments:read for a read, payments:merchant
 * for a merchant key).  write: the route changes things. */
bool qp__pay_caller(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r, bool write,
                    qp__pay_caller_t *out);
/* The part of an idempotent write that runs once the caller is known and
 * the Idempotency-Key claimed (qp__pay_idem_write). */
typedef void (*qp__pay_write_fn)(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r,
                                 const qp__pay_caller_t *caller, const qp__pay_idem_t *idem);
/* An idempotent POST: the caller (write: needs write access), the claim
 * (qp__pay_idem_begin), fn, and the claim's end; every refusal before fn
 * is replied here. */
void qp__pay_idem_write(void *ctx, qp_http_request_t *req, qp_http_reply_t *r, bool write,
                        qp__pay_write_fn fn);
/* Whether the caller may see merchant_id's objects. */
bool qp__pay_caller_sees(const qp__pay_caller_t *c, const uint8_t merchant_id[QP_PAY_ID_SIZE]);

/* ---- currency.c ---- */

/* The ISO 4217 numeric code of an alphabetic one, or 0 when unknown. */
uint16_t qp__pay_currency_numeric(const char *alpha);
/* Its minor-unit digits (0..4), or -1 when unknown. */
int qp__pay_currency_decimals(const char *alpha);

/* ---- qr_render.c ---- */

/* The payload as a QR code (error correction M, 4-module quiet zone) in
 * SVG (one path, one unit per module) or PNG (8-bit grey, 8 pixels per
 * module): a qp_malloc'ed buffer the caller owns.  Returns 0, QP_EINVAL
 * (libqrencode refused the text), QP_ENOMEM. */
int qp__pay_qr_svg(const char *payload, char **out, size_t *len);
int qp__pay_qr_png(const char *payload, uint8_t **out, size_t *len);

/* ---- http_json.c ---- */

bool qp__pay_id_parse(const char *text, uint8_t id[QP_PAY_ID_SIZE]);
void qp__pay_id_hex(const uint8_t id[QP_PAY_ID_SIZE], char out[QP_PAY_ID_HEX + 1]);
void qp__pay_new_id(uint8_t id[QP_PAY_ID_SIZE]);
json_t *qp__pay_u128_json(qp_u128 v);
json_t *qp__pay_time_json(int64_t unix_s);
int64_t qp__pay_now_s(void);
/* A store failure as a reply (503 disk_full, 500 internal). */
void qp__pay_reply_store(qp_http_reply_t *r, int rc);
/* A list's reply {"object":"list","data":data,"next_cursor":…} (consumes
 * data): next, when there are more, is the page's last key
 * (QP_PAY_LIST_KEY_SIZE bytes; NULL: none, next_cursor null); rc != 0
 * replies that store error instead. */
void qp__pay_reply_list(qp_http_reply_t *r, int rc, json_t *data, const uint8_t *next);
/* Replies with json (consumed) and, for an idempotent request, stores the
 * response with the change in one transaction; the change's puts are
 * written either way.  Returns the store's code (0 ok; a reply is made). */
int qp__pay_commit(qp__pay_t *p, qp__pay_change_t *c, unsigned status, json_t *json,
                   qp_http_reply_t *r);

/* ---- orders.c ---- */

/* An order's status now: the stored one, or "expired" for an open order
 * whose expires_at has passed at now_s. */
const char *qp__pay_order_status(const json_t *order, int64_t now_s);
/* The order as the API shows it (a new object). */
json_t *qp__pay_order_public(const json_t *order, int64_t now_s);
/* The order named by the path's {id} that the caller may see; false after
 * a 404/500 reply. */
bool qp__pay_order_load(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r,
                        const qp__pay_caller_t *caller, uint8_t id[QP_PAY_ID_SIZE],
                        json_t **out);

/* ---- order_paid.c ---- */

struct qp_auth_order_intent;
/* Whether the intent pays order: succeeded, posted, with the order's
 * amount, ledger and currency, crediting settlement (the merchant's). */
bool qp__pay_intent_pays(const json_t *order, qp_u128 settlement,
                         const struct qp_auth_order_intent *in);
/* Whether an intent may still make order paid (stored open or canceled). */
bool qp__pay_order_payable(const json_t *order);
/* Marks a payable order paid by the intent at now_s (paid_while: the state
 * it was in; an intent without id is a collect's transfer: paid_by
 * payment_code).  Returns 0, QP_EINVAL (not payable) or QP_ENOMEM. */
int qp__pay_order_mark_paid(json_t *order, const struct qp_auth_order_intent *in, int64_t now_s);
/* The order id as stored after looking for its payment: paid (and
 * persisted with an order.paid event) when a matching intent has
 * succeeded.  *out is the caller's.  _locked: the caller holds order_lock. */
int qp__pay_order_observe(qp__pay_t *p, const uint8_t id[QP_PAY_ID_SIZE], json_t **out);
int qp__pay_order_observe_locked(qp__pay_t *p, const uint8_t id[QP_PAY_ID_SIZE], json_t **out);
/* Observes up to QP_PAY_PAID_SWEEP_MAX watched orders (the module's tick);
 * forgets those expired more than QP_PAY_WATCH_GRACE_S ago. */
void qp__pay_paid_sweep(qp__pay_t *p, int64_t now_s);

/* ---- intent_events.c ---- */

/* The object of a payment_intent.* event: the intent in for order (its
 * id, status, amounts, accounts, order_id, merchant_id).  Caller owns it;
 * NULL when out of memory. */
json_t *qp__pay_intent_object(const json_t *order, const struct qp_auth_order_intent *in);
/* Journals payment_intent.canceled once for each canceled or expired
 * intent of in[n] made for *order (the intent_events table remembers
 * which); a collect's intent reopens the order in the same transaction and
 * *order is replaced by the stored one.  The caller holds order_lock.
 * Returns 0 or a store error. */
int qp__pay_intents_canceled(qp__pay_t *p, json_t **order,
                             const struct qp_auth_order_intent *in, uint32_t n);

/* ---- refunds.c, refunds_store.c ---- */

/* Whether amount may be refunded from an order paid `paid` with refunded
 * done and refunding pending: 0, QP_ERANGE (amount is 0 or more than
 * *refundable) or QP_ECORRUPT (the sums exceed paid).  *refundable: what
 * is left. */
int qp__pay_refund_check(qp_u128 paid, qp_u128 refunded, qp_u128 refunding, qp_u128 amount,
                         qp_u128 *refundable);
/* An order's status after refunds: paid, partially_refunded, refunded. */
const char *qp__pay_refunded_status(qp_u128 paid, qp_u128 refunded);
/* The ledger transfer id of a refund: SHA-256("quipu-refund-transfer-v1" ||
 * refund id), its first 16 bytes big-endian (never 0 or 2^128-1). */
qp_u128 qp__pay_refund_transfer_id(const uint8_t refund_id[QP_PAY_ID_SIZE]);
/* A u128 member written as a decimal string (absent: 0); false when bad. */
bool qp__pay_member_u128(const json_t *o, const char *name, qp_u128 *out);

typedef enum {
  QP__PAY_REFUND_RESERVE = 0, /* amount_refunding += amount */
  QP__PAY_REFUND_SUCCEED,     /* amount_refunding -= amount, amount_refunded += amount, status */
  QP__PAY_REFUND_RELEASE,     /* amount_refunding -= amount */
} qp__pay_refund_step_t;

/* Applies a step of a refund of amount to the stored order. */
int qp__pay_order_refund_apply(json_t *order, qp_u128 amount, qp__pay_refund_step_t step);
/* The refund rf's ledger transfer (settlement -> payer): 0 with *result
 * (QP_CREATE_TRANSFER_OK also when it existed already), or the ledger's
 * error (QP_ENOTSUP without a ledger). */
int qp__pay_refund_move(const json_t *rf, uint32_t *result);
json_t *qp__pay_refund_public(const json_t *rf);
/* Step 1: the pending refund rf and the order's reservation (order is
 * changed), and for idem the response 202 with the pending refund. */
int qp__pay_refund_reserve(qp__pay_t *p, json_t *order, const json_t *rf,
                           const qp__pay_idem_t *idem);
/* Step 3 (SUCCEED or RELEASE): with r, the request's reply (succeeded: the
 * refund and the stored response; released: the refund is deleted);
 * without, the tick's (released: the refund reads failed). */
int qp__pay_refund_finish(qp__pay_t *p, json_t *order, json_t *rf, qp__pay_refund_step_t step,
                          const qp__pay_idem_t *idem, qp_http_reply_t *r);
/* Finishes refunds left pending (the module's tick). */
void qp__pay_refunds_recover(qp__pay_t *p);

/* A 409 for an order whose status (now) does not allow the transition:
 * code order_not_<wanted>, and "status" beside the message. */
void qp__pay_reply_state(qp_http_reply_t *r, const char *status, const char *action);

/* ---- routes_orders_list.c: GET /v1/orders's query ---- */

#define QP_PAY_LIST_KEY_SIZE 24 /* by_created key: created ns (8, BE) || order id */

/* A list query: the shared parameters (src/http/list.c: limit, cursor,
 * created_from, created_to) and GET /v1/orders's own.  Invariant after
 * qp__pay_list_query_check: 1 <= list.limit <= QP_HTTP_LIST_LIMIT_MAX,
 * list.to_ns == 0 or list.to_ns > list.from_ns. */
typedef struct {
  qp_http_list_t list;                     /* limit, cursor, created range; list.err */
  const char *status;                      /* NULL = any; else borrowed from the query */
  bool has_merchant;                       /* only one merchant's */
  uint8_t merchant[QP_PAY_ID_SIZE];        /* which */
} qp__pay_list_query_t;

/* Defaults (limit 50, no filter). */
void qp__pay_list_query_init(qp__pay_list_query_t *q);
/* One query parameter (value may be NULL): false with q->list.err naming it. */
bool qp__pay_list_param(qp__pay_list_query_t *q, const char *key, const char *value);
/* The checks between parameters: false with q->list.err. */
bool qp__pay_list_query_check(qp__pay_list_query_t *q);

/* ---- routes_refunds_list.c: GET /v1/refunds's query ---- */

typedef struct {
  qp__pay_list_query_t q;              /* limit, cursor, created range, merchant; q.list.err */
  const char *status;                  /* NULL = any; else borrowed from the query */
  bool has_order;                      /* only one order's */
  uint8_t order[QP_PAY_ID_SIZE];       /* which */
} qp__pay_refund_query_t;

/* One query parameter (after memset 0 and qp__pay_list_query_init(&q)):
 * false with q.list.err naming it. */
bool qp__pay_refund_list_param(qp__pay_refund_query_t *x, const char *key, const char *value);

/* ---- webhook_request.c, webhook_sign.c, webhook_worker.c ---- */

#define QP__PAY_WEBHOOK_EVENTS 8u
extern const char *const qp__pay_webhook_events[QP__PAY_WEBHOOK_EVENTS];

/* A decoded POST /v1/webhooks body. */
typedef struct {
  char url[QP_PAY_WEBHOOK_URL_MAX + 1];    /* checked: https, or loopback http if allowed */
  bool all;                                /* events ["*"] */
  bool wanted[QP__PAY_WEBHOOK_EVENTS];     /* else which of qp__pay_webhook_events */
} qp__pay_webhook_req_t;

/* What p's settings allow of the non-public webhook targets: QP__PAY_ALLOW_*. */
#define QP__PAY_ALLOW_OF(p)                                                       \
  (((p)->settings.webhooks_allow_loopback_http ? QP__PAY_ALLOW_LOOPBACK : 0u) |   \
   ((p)->settings.webhooks_allow_private_networks ? QP__PAY_ALLOW_PRIVATE : 0u))
/* Which non-public webhook targets the node's settings allow (a mask). */
#define QP__PAY_ALLOW_LOOPBACK 1u /* webhooks_allow_loopback_http: 127/8, ::1, localhost */
#define QP__PAY_ALLOW_PRIVATE 2u  /* webhooks_allow_private_networks: the rest */

/* Decodes body[0, len): 0, or QP_EINVAL with err (400 naming the member).
 * allow: QP__PAY_ALLOW_* (LOOPBACK also lets http through to loopback). */
int qp__pay_webhook_decode(const char *body, size_t len, uint32_t allow,
                           qp__pay_webhook_req_t *out, qp_http_error_t *err);

/* ---- webhook_target.c: where deliveries may connect (SSRF guard) ---- */

typedef enum {
  QP__PAY_ADDR_PUBLIC,   /* anything not below */
  QP__PAY_ADDR_LOOPBACK, /* 127.0.0.0/8, ::1 (and IPv4-mapped 127/8) */
  QP__PAY_ADDR_PRIVATE   /* RFC 1918, link-local, CGNAT, ULA, multicast, reserved, unspecified */
} qp__pay_addr_class_t;

/* The class of an address: family AF_INET (addr: 4 bytes) or AF_INET6 (16),
 * network order.  IPv4 inside IPv6 (mapped, NAT64, 6to4) is classed as IPv4. */
qp__pay_addr_class_t qp__pay_addr_class(int family, const void *addr);
/* Whether allow (QP__PAY_ALLOW_*) lets deliveries connect to class c. */
bool qp__pay_addr_allowed(qp__pay_addr_class_t c, uint32_t allow);
/* The registration check of a URL's host (curl's form: IPv6 in brackets):
 * an IP literal or a localhost name not allowed is refused (QP_EINVAL, why
 * says what it is); other names are checked when delivering. */
int qp__pay_webhook_host_check(const char *host, uint32_t allow, char *why, size_t why_size);
/* Resolves host and checks every address: 0 with pin "host:port:a1,a2"
 * (CURLOPT_RESOLVE's form), QP_EINVAL when an address is not allowed or
 * QP_ENOTFOUND when the name does not resolve (why says which), QP_ERANGE
 * when pin is too small. */
int qp__pay_webhook_resolve(const char *host, long port, uint32_t allow, char *pin,
                            size_t pin_size, char *why, size_t why_size);
struct curl_slist;
/* For a delivery to url: checks its host (literal or resolved, as above)
 * and gives *out, the CURLOPT_RESOLVE list pinning a name to the addresses
 * checked (NULL for a literal; the caller frees it with
 * curl_slist_free_all).  0, or QP_EINVAL / QP_ENOTFOUND with why. */
int qp__pay_webhook_pin(const char *url, uint32_t allow, struct curl_slist **out, char *why,
                        size_t why_size);
/* The Quipu-Signature header value "t=<t>,v1=<hex HMAC-SHA256(secret,
 * "<t>.<body>")>" into out: 0 or QP_ERANGE (out too small). */
int qp__pay_webhook_signature(const char *secret, int64_t t, const char *body, size_t len,
                              char *out, size_t out_size);
/* The wait before retry attempt n (1 = first retry): min(cap, base * 2^(n-1)); 0 for n 0. */
uint64_t qp__pay_webhook_backoff_ms(uint32_t attempt, uint64_t base_ms, uint64_t cap_ms);
/* Starts and stops the delivery thread. */
int qp__pay_worker_start(qp__pay_t *p);
void qp__pay_worker_stop(qp__pay_t *p);
/* Whether endpoint wh (its record) takes the journal event ev. */
bool qp__pay_webhook_wants(const json_t *wh, const json_t *ev);

/* ---- devices.c: wallet devices and their payment codes ---- */

#define QP_PAY_DEVICE_NAME_MAX 64u             /* bytes of a device's name */
#define QP_PAY_COLLECT_TRANSFER_CODE 3         /* the ledger code of a collect's transfer */
#define QP_PAY_COLLECT_INTENT_S 300            /* a collect's payment intent lives this long */

/* Whether (device id, step) was used already: *used.  0 or a store error. */
typedef int (*qp__pay_code_used_fn)(void *ctx, const json_t *device, uint64_t step, bool *used);

/* Why the code otp of device is refused at now: NULL when it is valid
 * (*step is its time step), else the error code (payment_code_revoked,
 * payment_code_used, payment_code_expired, payment_code_invalid).  *rc is a
 * store error of used (then the answer is NULL too). */
const char *qp__pay_code_refusal(const json_t *device, uint64_t otp, int64_t now,
                                 qp__pay_code_used_fn used, void *ctx, uint64_t *step, int *rc);
/* The device's secret (hex in its record) into out: false when corrupt. */
bool qp__pay_device_secret(const json_t *device, uint8_t out[32]);
/* The key of the codes_used table: device id (16) || step (8, big-endian). */
void qp__pay_code_used_key(const json_t *device, uint64_t step, uint8_t key[24]);
/* The device whose number is number (caller owns it), or QP_ENOTFOUND. */
int qp__pay_device_by_number(qp__pay_t *p, uint32_t number, json_t **out);
/* Forgets used codes whose step is more than QP_PAYCODE_EXPIRED_STEPS + 1
 * behind now_s (such a code is refused as expired before its use is looked
 * up), up to QP_PAY_IDEM_SWEEP_MAX rows; returns how many. */
uint32_t qp__pay_codes_sweep(qp__pay_t *p, int64_t now_s);
/* Whether (device, step) is in codes_used (a qp__pay_code_used_fn; ctx p). */
int qp__pay_code_used_store(void *ctx, const json_t *device, uint64_t step, bool *used);
/* The ledger transfer id of a collect: the first 16 bytes (big-endian) of
 * SHA-256("quipu-collect-transfer-v1" || order id) (never 0 or 2^128-1). */
qp_u128 qp__pay_collect_transfer_id(const uint8_t order_id[QP_PAY_ID_SIZE]);

/* collect_request.c: the body of POST /v1/orders/{id}/collect, [0, len):
 * 0 with the code's device number and OTP, or QP_EINVAL with err (400
 * naming the member). */
int qp__pay_collect_decode(const char *body, size_t len, uint32_t *device, uint64_t *otp,
                           qp_http_error_t *err);

/* ---- handlers ---- */

void qp__pay_merchants_create(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
/* The merchant named by the route's {id} that the caller may see, or NULL
 * with r set (404 merchant_not_found, 503); id gets its bytes. */
json_t *qp__pay_merchant_load(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r,
                              const qp__pay_caller_t *caller, uint8_t id[QP_PAY_ID_SIZE]);
void qp__pay_settlements_list(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_merchants_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_merchant_keys_create(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_orders_create(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_orders_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
/* GET /v1/orders/{id}/events: the order's changes as server-sent events
 * (routes_order_events.c). */
void qp__pay_orders_events(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_orders_list(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_orders_cancel(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_orders_qr_svg(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_orders_qr_png(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_refunds_create(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_refunds_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_refunds_list(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_webhooks_create(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_webhooks_list(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_webhooks_delete(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_webhooks_deliveries(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_devices_create(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_devices_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_devices_delete(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_devices_code(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_orders_collect(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__pay_qr_parse(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);

#endif
