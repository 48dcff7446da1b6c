/*
 * routes_operators.c - enrolling the console's operators (scope admin):
 * POST /v1/operators/passkeys/options {"name"} answers WebAuthn creation
 * options (user verification required, a resident key preferred, the
 * operator's passkeys excluded) and a ceremony id; POST
 * /v1/operators/passkeys/verify {"ceremony_id", "credential"} runs the
 * registration checks of routes_register.c unchanged and only then stores
 * the passkey (and the operator, on its first one), recording the key that
 * enrolled it.  GET /v1/operators lists them, DELETE /v1/operators/{name}
 * removes one with its passkeys and revokes its live console keys.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/operators.h"
#include "base/alloc.h"
#include "base/err.h"

/* body.name, a well-formed operator name; NULL after a 400 reply. */
static const char *body_name(const json_t *body, bool required, qp_http_reply_t *r) {
  const char *name = NULL;
  if (!qp_http_member_string(body, "name", NULL, 256, required, &name, r)) return NULL;
  if (name == NULL || qp__auth_operator_name_ok(name)) return name;
  qp_http_reply_fail(r, 400, "invalid_value", "name",
                     "name must be 1 to 48 of a-z, 0-9, '.', '_' and '-'");
  return NULL;
}

/* The operator's id: the stored one, or a fresh one for a new operator. */
static int operator_id(qp__auth_t *a, const char *name, uint8_t id[QP_AUTH_ID_SIZE]) {
  json_t *op = NULL;
  int rc = qp__auth_operator_get(a, name, &op);
  if (rc == QP_ENOTFOUND) {
    randombytes_buf(id, QP_AUTH_ID_SIZE);
    return 0;
  }
  if (rc == 0 && !qp__auth_id_parse(json_string_value(json_object_get(op, "id")), id))
    rc = QP_ECORRUPT;
  json_decref(op);
  return rc;
}

void qp__auth_operators_passkey_options(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const allowed[] = {"name", NULL};
  qp__auth_t *a = ctx;
  json_t *body = qp_http_body_object(req, r, allowed, 0);
  const char *name = body != NULL ? body_name(body, true, r) : NULL;
  uint8_t id[QP_AUTH_ID_SIZE];
  qp__auth_ceremony_t c;
  int rc = name != NULL ? operator_id(a, name, id) : QP_EINVAL;
  if (rc == 0) rc = qp__auth_ceremony_new_named(a, QP__AUTH_OP_REGISTER, id, name, &c);
  if (rc == QP_ELIMIT)
    qp_http_reply_fail(r, 429, "too_many_ceremonies", "",
                       "too many challenges are outstanding; retry when some have expired");
  else if (rc != 0 && name != NULL)
    qp__auth_reply_store(r, rc, "cannot read the operator");
  json_decref(body);
  if (rc != 0) return;
  json_t *user = json_pack("{s:s, s:s}", "handle", c.name, "display_name", c.name);
  json_t *options = user != NULL ? qp__auth_creation_options(a, &c, user, false) : NULL;
  json_decref(user);
  char hex[QP_AUTH_ID_HEX + 1];
  qp__auth_id_hex(c.id, hex);
  qp_http_reply_json(r, 200, options == NULL ? NULL
                                             : json_pack("{s:s, s:s, s:o, s:o}", "ceremony_id",
                                                         hex, "operator", c.name, "publicKey",
                                                         options, "expires_at",
                                                         qp__auth_time_json(c.expires_wall_s)));
}

/* The operator of ceremony c, new (into *op_new) or stored (whose id must
 * be the ceremony's); false after a reply. */
static bool enroll_target(qp__auth_t *a, const qp__auth_ceremony_t *c, const char *by,
                          json_t **op_new, qp_http_reply_t *r) {
  json_t *op = NULL, *list = NULL;
  uint8_t id[QP_AUTH_ID_SIZE];
  char hex[QP_AUTH_ID_HEX + 1];
  qp__auth_id_hex(c->user_id, hex);
  int rc = qp__auth_operator_get(a, c->name, &op);
  *op_new = NULL;
  if (rc == QP_ENOTFOUND) {
    *op_new = json_pack("{s:s, s:s, s:o, s:s, s:i}", "name", c->name, "id", hex, "created",
                        qp__auth_time_json(qp__auth_now_s()), "created_by", by, "sign_ins", 0);
    if (*op_new == NULL) qp_http_reply_fail(r, 500, "internal", "", "out of memory");
    return *op_new != NULL;
  }
  if (rc == 0 && !qp__auth_id_parse(json_string_value(json_object_get(op, "id")), id))
    rc = QP_ECORRUPT;
  json_decref(op);
  if (rc == 0 && sodium_memcmp(id, c->user_id, QP_AUTH_ID_SIZE) != 0) {
    qp_http_reply_fail(r, 409, "operator_changed", "ceremony_id",
                       "the operator was deleted and made again meanwhile; ask for new options");
    return false;
  }
  if (rc == 0) rc = qp__auth_realm_cred_list(a, QP__AUTH_OPERATORS, c->user_id, &list);
  size_t n = json_array_size(list);
  json_decref(list);
  if (rc == 0 && n >= QP_AUTH_CREDENTIALS_PER_USER_MAX) {
    qp_http_reply_fail(r, 409, "too_many_credentials", "", "this operator has 64 passkeys");
    return false;
  }
  if (rc != 0) qp__auth_reply_store(r, rc, "cannot read the operator");
  return rc == 0;
}

static void enroll(qp__auth_t *a, const qp__auth_ceremony_t *c, const qp_auth_registration_t *reg,
                   json_t *transports, const char *by, qp_http_reply_t *r) {
  json_t *op_new = NULL;
  if (!enroll_target(a, c, by, &op_new, r)) return;
  json_t *rec = qp__auth_credential_record(reg, c->user_id, transports);
  json_object_set_new(rec, "operator", json_string(c->name));
  json_object_set_new(rec, "created_by", json_string(by));
  int rc = rec != NULL ? qp__auth_operator_enroll(a, c->name, op_new, c->user_id,
                                                  reg->credential_id, reg->credential_id_len, rec)
                       : QP_ENOMEM;
  if (rc == 0)
    qp_http_reply_json(r, 200, json_pack("{s:s, s:O, s:O, s:s}", "operator", c->name,
                                         "credential_id", json_object_get(rec, "id"), "created",
                                         json_object_get(rec, "created"), "created_by", by));
  else if (rc == QP_EEXISTS)
    qp_http_reply_fail(r, 409, "credential_exists", "credential.id",
                       "a passkey with this id is enrolled already");
  else if (rc == QP_EAGAIN)
    qp_http_reply_fail(r, 409, "operator_changed", "ceremony_id",
                       "the operator was made or deleted meanwhile; ask for new options");
  else
    qp__auth_reply_store(r, rc, "cannot store the passkey");
  json_decref(rec);
  json_decref(op_new);
}

void qp__auth_operators_passkey_verify(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  static const char *const allowed[] = {"ceremony_id", "credential", NULL};
  qp__auth_t *a = ctx;
  json_t *body = qp_http_body_object(req, r, allowed, 0);
  if (body == NULL) return;
  qp_auth_registration_t *reg = qp_calloc(1, sizeof *reg);
  qp__auth_ceremony_t c;
  json_t *transports = NULL;
  if (reg == NULL)
    qp_http_reply_fail(r, 500, "internal", "", "out of memory");
  else if (qp__auth_register_check(a, body, "ceremony_id", QP__AUTH_OP_REGISTER, &c, reg,
                                   &transports, r))
    enroll(a, &c, reg, transports, qp_http_caller_key_id(req), r);
  qp_free(reg);
  json_decref(body);
}

/* ---------------------------------------------------------------- list */

static json_t *passkey_public(const json_t *rec) {
  return json_pack("{s:O, s:O, s:O, s:O, s:O}", "id", json_object_get(rec, "id"), "created",
                   json_object_get(rec, "created"), "created_by",
                   json_object_get(rec, "created_by"), "last_used",
                   json_object_get(rec, "last_used"), "transports",
                   json_object_get(rec, "transports"));
}

static json_t *operator_public(qp__auth_t *a, const json_t *op, const json_t *sessions) {
  uint8_t id[QP_AUTH_ID_SIZE];
  json_t *list = NULL, *keys = json_array();
  const char *name = json_string_value(json_object_get(op, "name"));
  if (qp__auth_id_parse(json_string_value(json_object_get(op, "id")), id) &&
      qp__auth_realm_cred_list(a, QP__AUTH_OPERATORS, id, &list) == 0) {
    size_t i;
    json_t *rec;
    json_array_foreach(list, i, rec) json_array_append_new(keys, passkey_public(rec));
  }
  json_decref(list);
  json_int_t live = json_integer_value(json_object_get(sessions, name != NULL ? name : ""));
  return json_pack("{s:O, s:O, s:O, s:o, s:I}", "name", json_object_get(op, "name"), "created",
                   json_object_get(op, "created"), "created_by",
                   json_object_get(op, "created_by"), "passkeys", keys, "sessions", live);
}

typedef struct {
  long long limit;
  const char *cursor;
  qp_http_list_t list; /* only its err: the list routes' codes */
} query_t;

/* limit (1..QP_AUTH_OPERATORS_LIST_MAX) and cursor (the last name of the
 * previous page), with the error codes of every list route. */
static bool query_one(void *ctx, const char *key, const char *value) {
  query_t *q = ctx;
  char *end = NULL;
  if (strcmp(key, "limit") == 0) {
    if (value != NULL && *value >= '0' && *value <= '9' && strlen(value) <= 6)
      q->limit = strtoll(value, &end, 10);
    if (end == NULL || *end != '\0' || q->limit < 1 || q->limit > QP_AUTH_OPERATORS_LIST_MAX)
      return qp_http_list_bad(&q->list, key, "must be 1 to 100");
    return true;
  }
  if (strcmp(key, "cursor") == 0) {
    q->cursor = value;
    return value != NULL && qp__auth_operator_name_ok(value)
               ? true
               : qp_http_list_bad(&q->list, key, "must be a next_cursor this API returned");
  }
  return qp_http_list_unknown(&q->list, key, "limit, cursor");
}

void qp__auth_operators_list(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__auth_t *a = ctx;
  query_t q = {.limit = QP_AUTH_OPERATORS_LIST_DEFAULT};
  qp_http_list_init(&q.list, 8);
  if (!qp_http_query_each(req, query_one, &q)) {
    qp_http_reply_error(r, &q.list.err);
    return;
  }
  json_t *ops = NULL;
  bool more = false;
  int rc = qp__auth_operator_list(a, q.cursor, (uint32_t)q.limit, &ops, &more);
  if (rc != 0) {
    qp__auth_reply_store(r, rc, "cannot read the operators");
    return;
  }
  json_t *sessions = qp__auth_console_sessions(a), *data = json_array();
  size_t i;
  json_t *op;
  json_array_foreach(ops, i, op) json_array_append_new(data, operator_public(a, op, sessions));
  json_t *last = json_array_get(ops, json_array_size(ops) - 1);
  json_t *next = more && last != NULL ? json_incref(json_object_get(last, "name")) : json_null();
  qp_http_reply_json(r, 200, json_pack("{s:s, s:o, s:o}", "object", "list", "data", data,
                                       "next_cursor", next));
  json_decref(sessions);
  json_decref(ops);
}

/* -------------------------------------------------------------- delete */

void qp__auth_operators_delete(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__auth_t *a = ctx;
  const char *name = qp_http_param(req, "name");
  if (!qp__auth_operator_name_ok(name)) {
    qp_http_reply_fail(r, 404, "operator_not_found", "name", "no such operator");
    return;
  }
  uint32_t passkeys = 0, revoked = 0;
  char detail[256] = "";
  int rc = qp__auth_operator_delete(a, name, &passkeys);
  if (rc != 0 && rc != QP_ENOTFOUND) {
    qp__auth_reply_store(r, rc, "cannot delete the operator");
    return;
  }
  /* Also when the operator is gone already: a retry after a failed
   * revocation still revokes what was left. */
  int krc = qp__auth_console_keys_revoke(a, name, &revoked, detail, sizeof detail);
  if (krc != 0) {
    qp_http_reply_fail(r, 503, "keys_unavailable", "",
                       "the passkeys are deleted but the key file cannot be written now; "
                       "retry to revoke the console keys");
  } else if (rc == QP_ENOTFOUND && revoked == 0) {
    qp_http_reply_fail(r, 404, "operator_not_found", "name", "no such operator");
  } else {
    qp_http_reply_json(r, 200, json_pack("{s:s, s:b, s:i, s:i}", "operator", name, "deleted",
                                         true, "passkeys_removed", (int)passkeys,
                                         "sessions_revoked", (int)revoked));
  }
}
