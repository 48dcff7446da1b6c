/*
 * wallet_int.h - the wallet module of the node (docs/wallet.md): what its
 * files share.  module.c reads the settings and opens the rest; store.c
 * keeps sessions (by the SHA-256 of their token) and the user <-> account
 * index in LMDB; session.c makes and checks session tokens and cookies;
 * pending.c holds signups in memory until their passkey verifies;
 * bills.c turns an account's transfers into bills; the routes_*.c files
 * are the handlers.
 */
#ifndef QP_WALLET_WALLET_INT_H
#define QP_WALLET_WALLET_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/u128.h"
#include "http/http.h"
#include "ledger/db.h"
#include "ledger/ledger.h"
#include "store/kv.h"

#define QP_WALLET_COOKIE "quipu_session"   /* the session cookie's name */
#define QP_WALLET_TOKEN_SIZE 32            /* random bytes of a session token */
#define QP_WALLET_TOKEN_TEXT 44            /* its base64url text (43) and a NUL */
#define QP_WALLET_HASH_SIZE 32             /* SHA-256 of the token text: the stored key */
#define QP_WALLET_ID_HEX 32                /* a user id: 32 hex digits */
#define QP_WALLET_HANDLE_MAX 64            /* bytes of a handle */
#define QP_WALLET_NAME_MAX 128             /* bytes of a display name */
#define QP_WALLET_PENDING_MAX 1024         /* signups outstanding at once */
#define QP_WALLET_PENDING_TTL_S 300        /* how long a signup waits for its passkey */
#define QP_WALLET_BODY_MAX (256u * 1024u)  /* a request body (credentials are small) */
#define QP_WALLET_MAP_SIZE ((size_t)32 << 20)
#define QP_WALLET_MAP_SIZE_MAX ((size_t)4 << 30)
#define QP_WALLET_BILLS_LIMIT_DEFAULT 50u  /* bills of one page without ?limit */
#define QP_WALLET_BILLS_LIMIT_MAX 200u     /* and with */
#define QP_WALLET_SCAN_ROWS 1000u          /* transfers read for one page of bills */
#define QP_WALLET_INTENT_TTL_S 900u        /* a transfer's intent waits this long */
#define QP_WALLET_EVENTS_POLL_MS 500u      /* an event stream reads the ledger at most this often */
#define QP_WALLET_EVENTS_HOLDS_MAX 64u     /* pending holds one stream watches */

/* modules.wallet in node.json. */
typedef struct {
  uint32_t ledger;             /* the users' accounts' ledger */
  char currency[4];            /* its ISO 4217 code */
  uint16_t account_code;       /* the users' accounts' code */
  uint32_t session_ttl_s;      /* a session's lifetime */
  uint32_t paycode_unlock_s;   /* a passkey unlocks the pay code this long */
  qp_u128 treasury_account_id; /* deposits come from it (created when missing) */
  qp_u128 welcome_amount;      /* a new user's first deposit from the treasury; 0 = none */
} qp__wallet_settings_t;

/* A session as stored (JSON in LMDB, by the token's hash). */
typedef struct {
  char user_id[QP_WALLET_ID_HEX + 1]; /* whose */
  int64_t created_s;                  /* unix seconds */
  int64_t expires_s;                  /* it answers 401 from this second on */
  int64_t unlocked_until_s;           /* the pay code is shown until then (0: locked) */
  bool revoked;                       /* logout or an operator */
  char unlock[QP_WALLET_ID_HEX + 1];  /* the pay code's outstanding passkey challenge */
} qp__wallet_session_t;

/* A signup waiting for its passkey (in memory; a restart forgets it). */
typedef struct {
  bool live;
  int64_t expires_s;
  char ceremony[QP_WALLET_ID_HEX + 1]; /* auth's registration ceremony: the signup_id */
  char user_id[QP_WALLET_ID_HEX + 1];  /* the user to be */
  char handle[QP_WALLET_HANDLE_MAX + 1];
  char display_name[QP_WALLET_NAME_MAX + 1];
} qp__wallet_signup_t;

typedef struct qp__wallet {
  qp__wallet_settings_t settings;
  const qp_http_server_t *server; /* for TLS (the cookie's Secure) */
  qp_kv_t *kv;                    /* <data>/wallet/ */
  MDB_dbi sessions, users, accounts; /* hash -> session; user id -> account; account -> user */
  MDB_dbi devices;                /* user id -> the user's payments device id (pay codes) */
  pthread_mutex_t lock;           /* guards signups */
  qp__wallet_signup_t signups[QP_WALLET_PENDING_MAX];
  _Atomic uint64_t signups_total, logins_total, sessions_refused, transfers_total;
  _Atomic uint64_t streams_open, events_sent;
  int64_t swept_s;                /* when the tick last swept sessions */
  qp_http_module_t http;
} qp__wallet_t;

extern const char qp_wallet_openapi_json[];

/* ---- settings.c ---- */
void qp__wallet_settings_default(qp__wallet_settings_t *s);
/* Reads modules.wallet (NULL: defaults): 0 or QP_EINVAL naming the key. */
int qp__wallet_settings_parse(const json_t *obj, qp__wallet_settings_t *s, char *detail,
                              size_t size);

/* ---- session.c: pure ---- */
/* A fresh token: 32 random bytes as base64url without padding. */
void qp__wallet_token_new(char out[QP_WALLET_TOKEN_TEXT]);
/* Whether text looks like a token (43 base64url characters). */
bool qp__wallet_token_ok(const char *text);
/* SHA-256 of the token's text: what is stored. */
void qp__wallet_token_hash(const char *token, uint8_t out[QP_WALLET_HASH_SIZE]);
/* The Set-Cookie value: the token (NULL or "" clears it, Max-Age=0). */
int qp__wallet_cookie(const char *token, uint32_t max_age_s, bool secure, char *out,
                      size_t size);
/* Whether a stored session lets a request in at now. */
bool qp__wallet_session_live(const qp__wallet_session_t *s, int64_t now_s);
/* A session as JSON text and back. */
json_t *qp__wallet_session_json(const qp__wallet_session_t *s);
int qp__wallet_session_from_json(const json_t *j, qp__wallet_session_t *s);

/* ---- store.c ---- */
int qp__wallet_store_open(qp__wallet_t *w, const char *data_dir, char *detail, size_t size);
void qp__wallet_store_close(qp__wallet_t *w);
/* Stores a session: is_new, a new one (QP_EEXISTS if its hash is taken);
 * else an update of the stored one, QP_ENOTFOUND when it is gone or
 * revoked (unless the update revokes it): a revoked session stays so. */
int qp__wallet_session_put(qp__wallet_t *w, const uint8_t hash[QP_WALLET_HASH_SIZE],
                           const qp__wallet_session_t *s, bool is_new);
/* Deletes up to 1000 sessions expired or revoked (the module's tick). */
int qp__wallet_sessions_sweep(qp__wallet_t *w, int64_t now_s, uint32_t *deleted);
int qp__wallet_session_get(qp__wallet_t *w, const uint8_t hash[QP_WALLET_HASH_SIZE],
                           qp__wallet_session_t *s);
/* Revokes every live session of user_id: 0 with *count. */
int qp__wallet_sessions_revoke(qp__wallet_t *w, const char *user_id, uint32_t *count);
/* Records user <-> account (both tables, one transaction). */
int qp__wallet_account_put(qp__wallet_t *w, const char *user_id, qp_u128 account);
/* The user's account, or QP_ENOTFOUND. */
int qp__wallet_account_of(qp__wallet_t *w, const char *user_id, qp_u128 *account);
/* The account's user, or QP_ENOTFOUND. */
int qp__wallet_user_of(qp__wallet_t *w, qp_u128 account, char user_id[QP_WALLET_ID_HEX + 1]);

/* The user's payments device (pay codes): 0 with its id, QP_ENOTFOUND. */
int qp__wallet_device_of(qp__wallet_t *w, const char *user_id, char device[QP_WALLET_ID_HEX + 1]);
int qp__wallet_device_put(qp__wallet_t *w, const char *user_id, const char *device);

/* ---- pending.c ---- */
/* Keeps a signup: 0, or QP_ELIMIT when full. */
int qp__wallet_signup_add(qp__wallet_t *w, const qp__wallet_signup_t *s);
/* Takes (removes) the signup of ceremony: 0 with *out, or QP_ENOTFOUND. */
int qp__wallet_signup_take(qp__wallet_t *w, const char *ceremony, qp__wallet_signup_t *out);

/* ---- http_json.c ---- */
/* An amount member: a decimal string of minor units, 1..2^128-1. */
bool qp__wallet_amount(const json_t *obj, const char *name, qp_u128 *out, qp_http_reply_t *r);
json_t *qp__wallet_u128_json(qp_u128 v);
int64_t qp__wallet_now_s(void);
/* Moves a door's reply into r (r's own body, if any, is freed). */
void qp__wallet_reply_move(qp_http_reply_t *r, qp_http_reply_t *from);
/* A door's 200 body as JSON (NULL: not a 200, or unparsable). */
json_t *qp__wallet_reply_body(const qp_http_reply_t *from);
/* Releases a door reply's body. */
void qp__wallet_reply_drop(qp_http_reply_t *from);

/* ---- session_http.c ---- */
/* The request's session: true with *s and its hash, or false after a 401
 * session_required. */
bool qp__wallet_session(qp__wallet_t *w, qp_http_request_t *req, qp_http_reply_t *r,
                        qp__wallet_session_t *s, uint8_t hash[QP_WALLET_HASH_SIZE]);
/* Opens a session for user_id: 0 with its Set-Cookie value in cookie, or
 * a store error. */
int qp__wallet_session_open(qp__wallet_t *w, const char *user_id, char *cookie, size_t size);
#define QP_WALLET_COOKIE_MAX 192 /* bytes of a Set-Cookie value */
/* The Me object of user_id (NULL after an error reply). */
json_t *qp__wallet_me(qp__wallet_t *w, const char *user_id, qp_http_reply_t *r);
/* Me.accounts of user_id. */
json_t *qp__wallet_accounts_json(qp__wallet_t *w, const char *user_id);
/* Creates the user's ledger account and records it: 0 or an error. */
int qp__wallet_account_create(qp__wallet_t *w, const char *user_id, qp_u128 *account);
/* Creates the treasury account when missing: 0 or an error. */
int qp__wallet_treasury_ensure(qp__wallet_t *w);
/* A deposit of amount from the treasury to account, as transfer id (0: a
 * random one, set in *id): 0 with the ledger's result, or QP_E*. */
int qp__wallet_deposit(qp__wallet_t *w, qp_u128 account, qp_u128 amount, qp_u128 *id,
                       uint32_t *result);
/* The welcome deposit of a new user's account (welcome_amount), once: its
 * transfer id is derived from the account's. */
void qp__wallet_welcome(qp__wallet_t *w, qp_u128 account);

/* ---- bills.c ---- */
/* One bill's facts, before names are looked up. */
typedef struct {
  qp_u128 id;           /* the hold's (or the plain transfer's) id */
  qp_u128 counterparty; /* the other account */
  qp_u128 amount;
  qp_u128 intent;       /* the hold's user_data_128 (a wallet-made intent's id), or 0 */
  uint64_t timestamp;   /* ns */
  uint32_t ledger;
  bool out;             /* the account paid */
  bool pending;         /* a two-phase payment */
  qp_pending_state_t state; /* its state (QP_PENDING_NONE for a plain transfer) */
} qp__wallet_bill_t;
/* The bill of t seen from account, or false when t is not one (a post or
 * void of a hold: part of the hold's bill). */
bool qp__wallet_bill_of(const qp_transfer_t *t, qp_pending_state_t state, qp_u128 account,
                        qp__wallet_bill_t *out);
/* "pending", "posted" or "voided". */
const char *qp__wallet_bill_status(const qp__wallet_bill_t *b);
/* The [min, max] ns of month "YYYY-MM" (UTC): 0, or QP_EINVAL. */
int qp__wallet_month_range(const char *month, uint64_t *min_ns, uint64_t *max_ns);
/* amount as major units with decimals digits ("12.34"). */
void qp__wallet_amount_major(qp_u128 amount, int decimals, char *out, size_t size);
/* Does q match the bill's name/handle (case-insensitive substring) or its
 * amount (minor units, or major units)? */
bool qp__wallet_bill_match(const char *q, const char *name, const char *handle, qp_u128 amount,
                           int decimals);

/* ---- bills_query.c: GET /v1/wallet/bills's query, pure ---- */
typedef struct {
  const char *month, *q, *cursor, *limit; /* the arguments given (NULL: absent) */
  bool bad;                               /* an unknown argument, or one without value */
  char bad_key[16];                       /* its name */
} qp__wallet_bills_query_t;
/* qp_http_query_each's callback: records one argument into ctx. */
bool qp__wallet_bills_arg(void *ctx, const char *key, const char *value);
/* The ledger filter (timestamps, QP_WALLET_SCAN_ROWS, newest first; the
 * account is the caller's) and the page's bill limit: false after a 400. */
bool qp__wallet_bills_filter(const qp__wallet_bills_query_t *q, qp_account_filter_t *f,
                             uint32_t *limit, qp_http_reply_t *r);

/* ---- routes_bills.c ---- */
/* The bill id of user_id's account as JSON (with its transfers), or NULL
 * (not a bill of this account). */
json_t *qp__wallet_bill_find(qp__wallet_t *w, const char *user_id, qp_u128 id, bool transfers);
/* Replies the bill id of user_id's account (with its transfers), or 404. */
void qp__wallet_bill_reply(qp__wallet_t *w, const char *user_id, qp_u128 id, bool transfers,
                           qp_http_reply_t *r);

/* ---- routes_pay.c ---- */
/* A payment intent of credit from user_id's account, and its challenge:
 * replies {"intent", "publicKey"} (or the door's refusal). */
void qp__wallet_pay(qp__wallet_t *w, const char *user_id, qp_u128 credit, qp_u128 amount,
                    const char *payee_name, const char *order_id, qp_http_reply_t *r);

/* ---- handlers ---- */
void qp__wallet_signup_options(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_signup_verify(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_login_options(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_login_verify(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_logout(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_me_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_user_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_bills_list(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_bills_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_transfers_create(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_intents_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_intents_confirm(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_intents_cancel(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_intents_challenge(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_admin_user(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_admin_deposit(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_admin_sessions(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_scan(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_orders_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_orders_pay(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_paycode_unlock(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_paycode(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_events(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__wallet_metrics(void *ctx, qp_http_text_t *out);

#endif
