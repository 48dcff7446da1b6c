/*
 * auth_int.h - the auth module of the node (docs/auth.md): what its files
 * share.  module.c reads the settings and opens the rest; store.c keeps
 * users and credentials in LMDB (durable at every commit: a registration
 * answered is a registration kept, kill -9 or not); ceremony.c holds the
 * single-use, expiring challenges in memory; http_json.c the request
 * helpers; routes_users.c and routes_register.c the handlers.
 */
#ifndef QP_AUTH_AUTH_INT_H
#define QP_AUTH_AUTH_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/attest.h"
#include "http/http.h"
#include "store/kv.h"

#define QP_AUTH_ID_SIZE 16              /* bytes of a user or ceremony id (32 hex digits) */
#define QP_AUTH_ID_HEX (2 * QP_AUTH_ID_SIZE)
#define QP_AUTH_CHALLENGE_SIZE 32       /* bytes of a challenge the RP issues */
#define QP_AUTH_ORIGINS_MAX 16          /* entries of origins and top_origins */
#define QP_AUTH_ORIGIN_MAX 256          /* bytes of one origin, NUL included */
#define QP_AUTH_RP_ID_MAX 254           /* bytes of an RP id (a domain), NUL included */
#define QP_AUTH_RP_NAME_MAX 128         /* bytes of the RP's display name, NUL included */
#define QP_AUTH_CEREMONIES_MAX 4096     /* challenges outstanding at once; past it 429 */
#define QP_AUTH_CHALLENGE_TTL_S_DEFAULT 300u
#define QP_AUTH_CHALLENGE_TTL_S_MAX 3600u
#define QP_AUTH_CREDENTIALS_PER_USER_MAX 64 /* listed, excluded, allowed per user */
#define QP_AUTH_HANDLE_MAX 64           /* bytes of a user handle */
#define QP_AUTH_DISPLAY_NAME_MAX 128    /* bytes of a display name */
#define QP_AUTH_MAP_SIZE ((size_t)64 << 20)  /* LMDB map to start with */
#define QP_AUTH_MAP_SIZE_MAX ((size_t)8 << 30) /* and the most it may grow to */
#define QP_AUTH_BODY_BYTES_MAX (256u * 1024u) /* a request body (attestation objects are small) */
#define QP_AUTH_INTENT_LOCKS 64u        /* stripes of the intent locks (by the id's first byte) */
#define QP_AUTH_OPERATOR_NAME_MAX 48u   /* bytes of an operator's name: "console-<name>-<n>" is a
                                           key name (at most 64 bytes) */
#define QP_AUTH_OPERATOR_TTL_S_DEFAULT 28800u /* a console key's life: a working day */
#define QP_AUTH_OPERATOR_TTL_S_MAX 86400u     /* and the most node.json may set */
#define QP_AUTH_DATA_DIR_MAX 1024u      /* bytes of the data directory's path */

/* modules.auth in node.json. */
typedef struct {
  char rp_id[QP_AUTH_RP_ID_MAX];                          /* "" until defaulted */
  char rp_name[QP_AUTH_RP_NAME_MAX];                      /* shown by authenticators */
  char origins[QP_AUTH_ORIGINS_MAX][QP_AUTH_ORIGIN_MAX];  /* the allow-list */
  uint32_t origins_count;                                 /* 0: the loopback defaults */
  char top_origins[QP_AUTH_ORIGINS_MAX][QP_AUTH_ORIGIN_MAX]; /* embedding pages allowed */
  uint32_t top_origins_count;                             /* 0: no cross-origin embedding */
  uint32_t challenge_ttl_s;                               /* a challenge's lifetime */
  uint32_t operator_session_ttl_s;                        /* a console key's lifetime */
} qp__auth_settings_t;

/* What a ceremony is for.  The operator kinds are apart from the wallet's:
 * a customer's ceremony never completes an operator's, nor the reverse. */
typedef enum {
  QP__AUTH_REGISTER = 1,
  QP__AUTH_PAYMENT = 2,
  QP__AUTH_LOGIN = 3,
  QP__AUTH_OP_REGISTER = 4,
  QP__AUTH_OP_LOGIN = 5
} qp__auth_kind_t;

/* Whose passkeys: the wallet's customers or the console's operators, each
 * in tables of their own, so a credential of one never signs in the other. */
typedef enum { QP__AUTH_USERS = 0, QP__AUTH_OPERATORS = 1 } qp__auth_realm_t;

/* One outstanding challenge.  Used ones stay until they expire, so that a
 * replay is told apart from a challenge never issued. */
typedef struct {
  bool live;                                  /* the slot holds a ceremony */
  bool used;                                  /* verified once (whatever the outcome) */
  qp__auth_kind_t kind;                       /* what it is for */
  uint8_t id[QP_AUTH_ID_SIZE];                /* the ceremony's id */
  uint8_t user_id[QP_AUTH_ID_SIZE];           /* whose ceremony */
  uint8_t intent_id[QP_AUTH_ID_SIZE];         /* QP__AUTH_PAYMENT: the payment intent */
  uint8_t challenge[QP_AUTH_CHALLENGE_SIZE];  /* what the authenticator must sign */
  char name[QP_AUTH_OPERATOR_NAME_MAX + 1];   /* operator kinds: the operator ("": any) */
  uint64_t expires_mono_ns;                   /* monotonic deadline */
  int64_t expires_wall_s;                     /* the same, for "expires_at" */
} qp__auth_ceremony_t;

typedef struct qp__auth {
  qp__auth_settings_t settings;                      /* from node.json */
  const qp_http_server_t *server;                    /* for the bound port (loopback origins) */
  qp_kv_t *kv;                                       /* <data>/auth/ */
  MDB_dbi users, handles, credentials, by_user, intents, by_order, by_created; /* store.c */
  MDB_dbi operators, op_credentials, by_operator;    /* store_operators.c */
  char data_dir[QP_AUTH_DATA_DIR_MAX];               /* the node's (its key file) */
  uint8_t decoy_key[32];                             /* random at open: the made-up passkey
                                                        ids of unknown operators' sign-ins */
  _Atomic uint64_t operator_signins_ok;              /* console keys minted */
  _Atomic uint64_t operator_signins_refused;         /* operator sign-ins refused */
  pthread_mutex_t intent_locks[QP_AUTH_INTENT_LOCKS]; /* one confirm or cancel per intent */
  pthread_mutex_t lock;                              /* guards ceremonies */
  qp__auth_ceremony_t ceremonies[QP_AUTH_CEREMONIES_MAX]; /* outstanding challenges */
  qp_http_module_t http;                             /* what the HTTP core serves */
} qp__auth_t;

extern const char qp_auth_openapi_json[];

/* ---- settings and origins (module.c) ---- */

/* The allowed origins now (the configured ones, or the loopback defaults
 * for the bound port) into buf; fills policy to point at them. */
void qp__auth_policy(qp__auth_t *a, char buf[2][QP_AUTH_ORIGIN_MAX],
                     const char *ptrs[QP_AUTH_ORIGINS_MAX], const char *tops[QP_AUTH_ORIGINS_MAX],
                     qp_auth_origin_policy_t *policy);

/* ---- store.c: users and credentials in LMDB ---- */

int qp__auth_store_open(qp__auth_t *a, const char *data_dir, char *detail, size_t detail_size);
void qp__auth_store_close(qp__auth_t *a);
/* Adds a user (JSON with "handle"); QP_EEXISTS when the handle is taken. */
int qp__auth_user_put(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE], const char *handle,
                      json_t *user);
/* The id of the user with this handle, or QP_ENOTFOUND. */
int qp__auth_user_by_handle(qp__auth_t *a, const char *handle, uint8_t id[QP_AUTH_ID_SIZE]);
/* The user's record (caller owns it), or QP_ENOTFOUND. */
int qp__auth_user_get(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE], json_t **out);
/* The credential functions below are the wallet users' (QP__AUTH_USERS);
 * each has a qp__auth_realm_cred_* twin that names the realm, the owner
 * being a user's id or an operator's id. */
int qp__auth_realm_cred_put(qp__auth_t *a, qp__auth_realm_t realm,
                            const uint8_t owner_id[QP_AUTH_ID_SIZE], const uint8_t *cred_id,
                            size_t cred_id_len, json_t *cred);
int qp__auth_realm_cred_update(qp__auth_t *a, qp__auth_realm_t realm, const uint8_t *cred_id,
                               size_t cred_id_len, json_t *cred);
int qp__auth_realm_cred_get(qp__auth_t *a, qp__auth_realm_t realm, const uint8_t *cred_id,
                            size_t cred_id_len, json_t **out);
int qp__auth_realm_cred_list(qp__auth_t *a, qp__auth_realm_t realm,
                             const uint8_t owner_id[QP_AUTH_ID_SIZE], json_t **out);
int qp__auth_realm_cred_delete(qp__auth_t *a, qp__auth_realm_t realm,
                               const uint8_t owner_id[QP_AUTH_ID_SIZE], const uint8_t *cred_id,
                               size_t cred_id_len);
/* Adds a credential of user; QP_EEXISTS when its id is registered already. */
int qp__auth_cred_put(qp__auth_t *a, const uint8_t user_id[QP_AUTH_ID_SIZE],
                      const uint8_t *cred_id, size_t cred_id_len, json_t *cred);
/* Replaces a stored credential's record (sign count, last use). */
int qp__auth_cred_update(qp__auth_t *a, const uint8_t *cred_id, size_t cred_id_len,
                         json_t *cred);
/* The credential's record (caller owns it), or QP_ENOTFOUND. */
int qp__auth_cred_get(qp__auth_t *a, const uint8_t *cred_id, size_t cred_id_len, json_t **out);
/* Deletes user's credential; QP_ENOTFOUND when user has no such credential. */
int qp__auth_cred_delete(qp__auth_t *a, const uint8_t user_id[QP_AUTH_ID_SIZE],
                         const uint8_t *cred_id, size_t cred_id_len);
/* The user's credentials as a new array of records (at most
 * QP_AUTH_CREDENTIALS_PER_USER_MAX). */
int qp__auth_cred_list(qp__auth_t *a, const uint8_t user_id[QP_AUTH_ID_SIZE], json_t **out);

/* Stores a payment intent record: a new one (QP_EEXISTS if the id is
 * taken) or a replacement. */
int qp__auth_intent_put(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE], json_t *intent,
                        bool is_new);
/* The intent's record (caller owns it), or QP_ENOTFOUND. */
/* service.c: makes a the module auth.h's door answers for (NULL: none). */
void qp__auth_service_set(qp__auth_t *a);
/* The module set by qp__auth_service_set (NULL: none running). */
qp__auth_t *qp__auth_service_get(void);
/* The ids of the intents made for order_id, oldest first (by_order):
 * fills ids[0, max) and *count.  0 or a store error. */
int qp__auth_order_intent_ids(qp__auth_t *a, const char *order_id,
                              uint8_t ids[][QP_AUTH_ID_SIZE], uint32_t max, uint32_t *count);
int qp__auth_intent_get(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE], json_t **out);

/* ---- ceremony.c ---- */

/* Opens a ceremony of kind for user: fills *out (id, challenge, expiry).
 * QP_ELIMIT when QP_AUTH_CEREMONIES_MAX are outstanding. */
int qp__auth_ceremony_new(qp__auth_t *a, qp__auth_kind_t kind,
                          const uint8_t user_id[QP_AUTH_ID_SIZE], qp__auth_ceremony_t *out);
/* The same for an operator's ceremony (kinds QP__AUTH_OP_*): name is the
 * operator's (at most QP_AUTH_OPERATOR_NAME_MAX bytes; "" for any). */
int qp__auth_ceremony_new_named(qp__auth_t *a, qp__auth_kind_t kind,
                                const uint8_t user_id[QP_AUTH_ID_SIZE], const char *name,
                                qp__auth_ceremony_t *out);
/* Opens the payment ceremony of intent_id with the given challenge (it
 * commits to the payment), expiring at the challenge lifetime or at
 * expires_wall_s, whichever is first; an earlier ceremony of the same
 * intent ends (its assertion no longer matches).  QP_ELIMIT when full. */
int qp__auth_ceremony_new_payment(qp__auth_t *a, const uint8_t user_id[QP_AUTH_ID_SIZE],
                                  const uint8_t intent_id[QP_AUTH_ID_SIZE],
                                  const uint8_t challenge[QP_AUTH_CHALLENGE_SIZE],
                                  int64_t expires_wall_s, qp__auth_ceremony_t *out);
/* Takes the payment ceremony of intent_id: like qp__auth_ceremony_take. */
int qp__auth_ceremony_take_intent(qp__auth_t *a, const uint8_t intent_id[QP_AUTH_ID_SIZE],
                                  qp__auth_ceremony_t *out);
/* Takes the ceremony id of kind for its one verification: a copy into
 * *out, and it is marked used.  QP_ENOTFOUND (never issued, or another
 * kind), QP_EEXISTS (used already: a replay), QP_ERANGE (expired). */
int qp__auth_ceremony_take(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE],
                           qp__auth_kind_t kind, qp__auth_ceremony_t *out);

/* ---- http_json.c ---- */

/* base64url text (padding tolerated) to bytes; QP_EINVAL or QP_ERANGE. */
int qp__auth_b64url_decode(const char *text, uint8_t *out, size_t max, size_t *len);
/* A required base64url member decoded into out (at most max bytes); false
 * after an error reply naming path. */
bool qp__auth_b64_member(const json_t *obj, const char *name, const char *path, uint8_t *out,
                         size_t max, size_t *len, qp_http_reply_t *r);
/* bytes to base64url text without padding (a new string). */
json_t *qp__auth_b64url_json(const uint8_t *data, size_t len);
/* 32 hex digits to an id; false when the text is not one. */
bool qp__auth_id_parse(const char *text, uint8_t id[QP_AUTH_ID_SIZE]);
void qp__auth_id_hex(const uint8_t id[QP_AUTH_ID_SIZE], char out[QP_AUTH_ID_HEX + 1]);
/* A refusal of the verification core as a 400 reply with its code. */
void qp__auth_reply_refusal(qp_http_reply_t *r, int rc, const qp_auth_fail_t *fail,
                            const char *path);
/* A store failure as a reply (404/409/503/500). */
void qp__auth_reply_store(qp_http_reply_t *r, int rc, const char *what);
/* Seconds since the epoch, now. */
int64_t qp__auth_now_s(void);
/* unix seconds as ISO 8601 UTC in a new JSON string. */
json_t *qp__auth_time_json(int64_t unix_s);

/* ---- handlers ---- */

void qp__auth_users_create(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__auth_credentials_list(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__auth_credentials_delete(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__auth_register_options(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__auth_register_verify(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__auth_intents_create(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__auth_intents_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__auth_intents_list(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);

/* The user's credentials as PublicKeyCredentialDescriptorJSON ({type, id,
 * transports?}): registration's excludeCredentials, a login's
 * allowCredentials (routes_register.c). */
json_t *qp__auth_cred_descriptors(qp__auth_t *a, const uint8_t user_id[QP_AUTH_ID_SIZE]);
void qp__auth_intents_challenge(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__auth_intents_confirm(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__auth_intents_cancel(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__auth_intents_approve(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__auth_intents_decline(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);

/* routes_register.c, for the doors: PublicKeyCredentialCreationOptionsJSON
 * of ceremony c for user ({handle, display_name}); resident: residentKey
 * "required" (the wallet's discoverable passkeys) instead of "preferred". */
json_t *qp__auth_creation_options(qp__auth_t *a, const qp__auth_ceremony_t *c,
                                 const json_t *user, bool resident);
/* Called after the attestation verified and before the credential is
 * stored: true to go on, false after an error reply (nothing stored). */
typedef bool (*qp__auth_register_prepare_fn)(void *ctx, const qp__auth_ceremony_t *c,
                                             qp_http_reply_t *r);
/* The verify step over body {"ceremony", "credential"}: §7.1, prepare (may
 * be NULL), then the credential stored and answered (200). */
void qp__auth_register_run(qp__auth_t *a, const json_t *body, qp__auth_register_prepare_fn prepare,
                           void *ctx, qp_http_reply_t *r);

/* The ceremony of kind named by body's member (its hex id), taken for its
 * one verification; false after a 404 ceremony_not_found or a 400
 * challenge_used or challenge_expired naming member. */
bool qp__auth_take_ceremony(qp__auth_t *a, const json_t *body, const char *member,
                            qp__auth_kind_t kind, qp__auth_ceremony_t *c, qp_http_reply_t *r);
/* §7.1 over body {member: ceremony id, "credential": RegistrationResponseJSON}
 * for a ceremony of kind, nothing stored: true with *c, *reg and
 * *transports (borrowed from body, NULL when absent), else false after an
 * error reply. */
bool qp__auth_register_check(qp__auth_t *a, const json_t *body, const char *member,
                             qp__auth_kind_t kind, qp__auth_ceremony_t *c,
                             qp_auth_registration_t *reg, json_t **transports,
                             qp_http_reply_t *r);
/* The record stored for a verified credential of owner_id (a new object). */
json_t *qp__auth_credential_record(const qp_auth_registration_t *reg, const uint8_t *owner_id,
                                   json_t *transports);
/* The descriptors of owner_id's credentials in realm (a new array). */
json_t *qp__auth_realm_descriptors(qp__auth_t *a, qp__auth_realm_t realm,
                                   const uint8_t owner_id[QP_AUTH_ID_SIZE]);

/* The public form of a stored credential record (a new object). */
json_t *qp__auth_credential_public(const json_t *stored);

#endif
