/*
 * operators.h - the console's operators (docs/auth.md, "Operators"): named
 * people of the bank who sign in to the operator console with a passkey
 * and get a short-lived API key of scope admin.  Their passkeys live in
 * the auth store beside the wallet's users' and apart from them
 * (store_operators.c); routes_operators.c enrolls, lists and deletes them,
 * operator_login.c signs them in and out, operator_keys.c keeps their
 * console keys in the node's key file.
 */
#ifndef QP_AUTH_OPERATORS_H
#define QP_AUTH_OPERATORS_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/auth_int.h"

#define QP_AUTH_OPERATORS_LIST_MAX 100u    /* operators one page lists at most */
#define QP_AUTH_OPERATORS_LIST_DEFAULT 50u /* and without a limit */
#define QP_AUTH_CONSOLE_KEY_PREFIX "console-" /* console keys: console-<operator>-<n> */

/* Whether name is an operator's name: 1 to QP_AUTH_OPERATOR_NAME_MAX of
 * a-z 0-9 . _ - */
bool qp__auth_operator_name_ok(const char *name);

/* ---- store_operators.c ---- */

/* The operator's record (caller owns it), or QP_ENOTFOUND. */
int qp__auth_operator_get(qp__auth_t *a, const char *name, json_t **out);
/* In one transaction: the operator op_new when not NULL (a new one; QP_EAGAIN
 * when one of that name was made meanwhile), else the existing one
 * (QP_EAGAIN when deleted meanwhile), and its credential (QP_EEXISTS when
 * the id is registered already). */
int qp__auth_operator_enroll(qp__auth_t *a, const char *name, json_t *op_new,
                             const uint8_t op_id[QP_AUTH_ID_SIZE], const uint8_t *cred_id,
                             size_t cred_id_len, json_t *cred);
/* Counts one more console session of the operator: *n is its number (1,
 * 2, ...; never reused).  QP_ENOTFOUND when there is no such operator. */
int qp__auth_operator_next_session(qp__auth_t *a, const char *name, uint64_t *n);
/* Deletes the operator and its passkeys (*passkeys: how many).
 * QP_ENOTFOUND when there is no such operator. */
int qp__auth_operator_delete(qp__auth_t *a, const char *name, uint32_t *passkeys);
/* Operators by name after `after` (NULL: from the first), at most limit, as
 * a new array of records; *more when others follow. */
int qp__auth_operator_list(qp__auth_t *a, const char *after, uint32_t limit, json_t **out,
                           bool *more);

/* ---- operator_keys.c: console keys in the node's key file ---- */

/* Whether a key named key_name is a console key, and of which operator
 * (into op, at least QP_AUTH_OPERATOR_NAME_MAX + 1 bytes; may be NULL). */
bool qp__auth_console_key_of(const char *key_name, char *op);
/* Mints operator's console key number n (scope admin, expiring after
 * modules.auth.operator_session_ttl_s), first removing the console keys
 * that expired or were revoked: 0 with key_text and *expires_s, or
 * QP_EEXISTS, QP_EIO (detail says why). */
int qp__auth_console_key_mint(qp__auth_t *a, const char *op, uint64_t n, char *key_text,
                              int64_t *expires_s, char *detail, size_t detail_size);
/* Revokes the live console keys of op (*revoked: how many). */
int qp__auth_console_keys_revoke(qp__auth_t *a, const char *op, uint32_t *revoked, char *detail,
                                 size_t detail_size);
/* The live console keys of each operator, counted: a new object {name: n}. */
json_t *qp__auth_console_sessions(qp__auth_t *a);
/* Revokes the key whose id is key_id when it is a live console key: 0 with
 * *revoked, or QP_EIO. */
int qp__auth_console_key_logout(qp__auth_t *a, const char *key_id, bool *revoked,
                                char *detail, size_t detail_size);

/* ---- handlers ---- */

void qp__auth_operators_passkey_options(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__auth_operators_passkey_verify(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__auth_operators_list(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__auth_operators_delete(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__auth_operators_passkey_delete(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__auth_operators_login_options(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__auth_operators_login_verify(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
void qp__auth_operators_logout(void *ctx, qp_http_request_t *req, qp_http_reply_t *r);
/* The module's metrics: operator sign-ins, by outcome. */
void qp__auth_metrics(void *ctx, qp_http_text_t *out);

#endif
