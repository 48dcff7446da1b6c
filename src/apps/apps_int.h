/*
 * apps_int.h - what the registry and receivable apps share inside the
 * module: decoding arguments into typed values with the refusal (code and
 * message naming the field) a bad one gets, JSON records in an app's key
 * space, and the registry's answers the receivable app asks for.
 *
 * Convention: a function that may refuse returns 0, QP__APPS_REFUSED (a
 * refusal described in a qp__apps_why_t or already recorded as a failed
 * receipt), or a negative operating error (QP_ENOMEM, QP_EDB, ...).
 */
#ifndef QP_APPS_APPS_INT_H
#define QP_APPS_APPS_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "apps/apps.h"
#include "base/u128.h"
#include "chain/genesis.h"
#include "crypto/crypto.h"

#define QP__APPS_REFUSED 1                          /* a refusal, not an error */
#define QP__APPS_HEX_MAX (2u * QP_SIGN_PUBLIC_MAX)  /* hex digits of a public key */
#define QP__APPS_ID_MAX 40u                         /* bytes of a record id ("mat-v1-2") */
#define QP__APPS_MESSAGE_MAX 256u                   /* bytes of a refusal's message */

/* Why an argument or a call is refused: the receipt's code and message. */
typedef struct qp__apps_why {
  char code[QP_CHAIN_CODE_MAX + 1];  /* bad_args, amount_invalid, ... */
  char message[QP__APPS_MESSAGE_MAX]; /* names the field and what is allowed */
} qp__apps_why_t;

/* Fills w; returns QP__APPS_REFUSED. */
int qp__apps_why(qp__apps_why_t *w, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records w as e's failed receipt: QP__APPS_REFUSED, or QP_ENOMEM. */
int qp__apps_fail(qp_chain_effects_t *e, const qp__apps_why_t *w);
/* Records a failed receipt (code, formatted message): QP__APPS_REFUSED or QP_ENOMEM. */
int qp__apps_refuse(qp_chain_effects_t *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- arguments (args.c): each returns 0 or QP__APPS_REFUSED with w ----- */

/* args has no key outside allowed[0, count) (bad_args naming it). */
int qp__apps_args_only(const json_t *args, const char *const *allowed, size_t count,
                       qp__apps_why_t *w);
/* args.field: a public key of suite in hex, written back lower-case into hex. */
int qp__apps_arg_key(const json_t *args, const char *field, qp_suite_t suite,
                     char hex[QP__APPS_HEX_MAX + 1], qp__apps_why_t *w);
/* args.field: a decimal string of an integer 1..2^128-1 (amount_invalid). */
int qp__apps_arg_amount(const json_t *args, const char *field, qp_u128 *out,
                        qp__apps_why_t *w);
/* args.field: an integer min..max. */
int qp__apps_arg_uint(const json_t *args, const char *field, uint64_t min, uint64_t max,
                      uint64_t *out, qp__apps_why_t *w);
/* args.field: a string of min..max bytes without control characters;
 * *out borrowed from args.  Absent and optional: *out NULL. */
int qp__apps_arg_text(const json_t *args, const char *field, size_t min, size_t max,
                      bool optional, const char **out, qp__apps_why_t *w);
/* args.field: an id "<prefix><n>" (n 1..2^53 in decimal, no leading zero)
 * into out; *n its number. */
int qp__apps_arg_id(const json_t *args, const char *field, const char *prefix,
                    char out[QP__APPS_ID_MAX + 1], uint64_t *n, qp__apps_why_t *w);
/* args.field: a settlement id (fin-v<n> or mat-v<n>-<k>) into out. */
int qp__apps_arg_settlement(const json_t *args, const char *field,
                            char out[QP__APPS_ID_MAX + 1], qp__apps_why_t *w);
/* args.field: an array of exactly count decimal strings 1..2^128-1
 * (ledger transfer ids); *out borrowed. */
int qp__apps_arg_decimals(const json_t *args, const char *field, size_t count,
                          const json_t **out, qp__apps_why_t *w);

/* ---- records (store.c) --------------------------------------------------- */

/* The JSON object at key of app (NULL: the view's own app), the caller's;
 * NULL with *rc QP_ENOTFOUND, QP_ECORRUPT or the view's error. */
json_t *qp__apps_get(const qp_chain_view_t *v, const char *app, const char *key, int *rc);
/* Puts o (compact, sorted keys) at key. */
int qp__apps_put(qp_chain_effects_t *e, const char *key, const json_t *o);
/* A counter of the view's own app (0 when absent): 0 or an error. */
int qp__apps_counter(const qp_chain_view_t *v, const char *key, uint64_t *value);
int qp__apps_put_counter(qp_chain_effects_t *e, const char *key, uint64_t value);
/* A stored decimal amount (o[field]); false when missing or malformed. */
bool qp__apps_u128_of(const json_t *o, const char *field, qp_u128 *out);
/* A JSON string of v in decimal (NULL on no memory). */
json_t *qp__apps_u128_json(qp_u128 v);
/* o[field] as a string, or "" (records are ours: a missing one is a bug
 * the record check catches). */
const char *qp__apps_str(const json_t *o, const char *field);
/* o[field] as an integer, or 0. */
uint64_t qp__apps_uint(const json_t *o, const char *field);
/* The sender's public key in hex. */
void qp__apps_sender_hex(const qp_chain_tx_t *tx, char hex[QP__APPS_HEX_MAX + 1]);
/* floor(amount * (10000 - bps) / 10000), exact for every u128 amount. */
qp_u128 qp__apps_discounted(qp_u128 amount, uint32_t bps);

/* ---- the registry, as other apps read it (registry_read.c) --------------- */

/* key's role ("core", "supplier", "funder", "clearing") into role:
 * 0, QP_ENOTFOUND (not registered) or an error. */
int qp__apps_role(const qp_chain_view_t *v, const char *hex, char role[16]);
/* The sum of core's credit lines on ledger live at time_s (expiry >
 * time_s), saturating at 2^128-1. */
int qp__apps_credit_live(const qp_chain_view_t *v, const char *core_hex, uint32_t ledger,
                         uint64_t time_s, qp_u128 *sum);
/* The registry's key of a participant record: "p/" hex. */
void qp__apps_participant_key(const char *hex, char out[3 + QP__APPS_HEX_MAX]);
/* The registry's key of a core's credit lines: "cl/" hex. */
void qp__apps_lines_key(const char *hex, char out[4 + QP__APPS_HEX_MAX]);

/* The receivable app's execute and query (receivable.c, receivable_query.c);
 * the registry's (registry.c, registry_query.c). */
int qp__apps_receivable_execute(const qp_chain_view_t *v, const qp_chain_tx_t *tx,
                                const json_t *args, qp_chain_effects_t *e);
int qp__apps_receivable_query(const qp_chain_view_t *v, const char *method, const json_t *args,
                              json_t **result, char code[QP_CHAIN_CODE_MAX + 1], char *detail,
                              size_t detail_size);
int qp__apps_registry_query(const qp_chain_view_t *v, const char *method, const json_t *args,
                            json_t **result, char code[QP_CHAIN_CODE_MAX + 1], char *detail,
                            size_t detail_size);

/* Answers a query refusal: code and message into code/detail; returns rc. */
int qp__apps_query_refuse(const qp__apps_why_t *w, char code[QP_CHAIN_CODE_MAX + 1],
                          char *detail, size_t detail_size, int rc);

#endif
