/*
 * store_operators.c - the console's operators in the auth store (LMDB,
 * <data>/auth/), apart from the wallet's users: operators (name -> JSON
 * {name, id, created, created_by, sign_ins}), and op_credentials and
 * by_operator, the twins of credentials and by_user (store.c reaches them
 * through its qp__auth_realm_cred_* functions).  An operator's id is 16
 * random bytes: the WebAuthn user handle of its passkeys and the prefix of
 * its by_operator keys.  Every write is one transaction, durable at commit.
 */
#include <errno.h>
#include <string.h>

#include "auth/auth_int.h"
#include "auth/operators.h"
#include "base/err.h"
#include "crypto/crypto.h"

#define CRED_KEY_SIZE 32 /* SHA-256 of a credential id, as in store.c */

static MDB_val name_key(const char *name) { return (MDB_val){strlen(name), (void *)name}; }

static int load(MDB_val v, json_t **out) {
  *out = json_loadb(v.mv_data, v.mv_size, 0, NULL);
  return *out == NULL ? QP_ECORRUPT : 0;
}

int qp__auth_operator_get(qp__auth_t *a, const char *name, json_t **out) {
  *out = NULL;
  MDB_txn *txn = NULL;
  int rc = qp_kv_read_begin(a->kv, a->operators, &txn, NULL);
  if (rc != 0) return rc;
  MDB_val k = name_key(name), v;
  rc = qp_kv_err(mdb_get(txn, a->operators, &k, &v));
  if (rc == 0) rc = load(v, out);
  qp_kv_read_end(a->kv, txn, NULL);
  return rc;
}

typedef struct {
  qp__auth_t *a;
  const char *name;     /* the operator */
  const char *op_text;  /* a new operator's record, or NULL */
  const uint8_t *op_id; /* its id */
  uint8_t cred_key[CRED_KEY_SIZE];
  const char *cred_text; /* the credential's record */
} enroll_t;

static int enroll_txn(void *ctx, MDB_txn *txn) {
  enroll_t *e = ctx;
  MDB_val nk = name_key(e->name), ov = {0, NULL};
  if (e->op_text != NULL) {
    ov = (MDB_val){strlen(e->op_text), (void *)e->op_text};
    int rc = mdb_put(txn, e->a->operators, &nk, &ov, MDB_NOOVERWRITE);
    if (rc != 0) return rc == MDB_KEYEXIST ? QP_EAGAIN : rc; /* enrolled meanwhile */
  } else if (mdb_get(txn, e->a->operators, &nk, &ov) != 0) {
    return QP_EAGAIN; /* deleted meanwhile */
  }
  uint8_t pair[QP_AUTH_ID_SIZE + CRED_KEY_SIZE];
  memcpy(pair, e->op_id, QP_AUTH_ID_SIZE);
  memcpy(pair + QP_AUTH_ID_SIZE, e->cred_key, CRED_KEY_SIZE);
  MDB_val ck = {CRED_KEY_SIZE, e->cred_key}, cv = {strlen(e->cred_text), (void *)e->cred_text};
  MDB_val pk = {sizeof pair, pair}, empty = {0, ""};
  int rc = mdb_put(txn, e->a->op_credentials, &ck, &cv, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) return QP_EEXISTS;
  return rc != 0 ? rc : mdb_put(txn, e->a->by_operator, &pk, &empty, 0);
}

int qp__auth_operator_enroll(qp__auth_t *a, const char *name, json_t *op_new,
                             const uint8_t op_id[QP_AUTH_ID_SIZE], const uint8_t *cred_id,
                             size_t cred_id_len, json_t *cred) {
  enroll_t e = {a, name, NULL, op_id, {0}, NULL};
  qp_sha256(e.cred_key, cred_id, cred_id_len);
  char *op_text = op_new != NULL ? json_dumps(op_new, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  char *cred_text = json_dumps(cred, JSON_COMPACT | JSON_SORT_KEYS);
  int rc = (op_new != NULL && op_text == NULL) || cred_text == NULL ? QP_ENOMEM : 0;
  e.op_text = op_text;
  e.cred_text = cred_text;
  if (rc == 0) rc = qp_kv_write(a->kv, enroll_txn, &e);
  qp_http_json_free(op_text);
  qp_http_json_free(cred_text);
  return rc;
}

typedef struct {
  qp__auth_t *a;
  const char *name;
  uint64_t n; /* out: the new session number */
} next_t;

static int next_txn(void *ctx, MDB_txn *txn) {
  next_t *x = ctx;
  MDB_val k = name_key(x->name), v;
  int rc = mdb_get(txn, x->a->operators, &k, &v);
  if (rc != 0) return rc == MDB_NOTFOUND ? QP_ENOTFOUND : rc;
  json_t *rec = NULL;
  rc = load(v, &rec);
  if (rc != 0) return rc;
  json_int_t n = json_integer_value(json_object_get(rec, "sign_ins"));
  x->n = (uint64_t)(n < 0 ? 0 : n) + 1u;
  json_object_set_new(rec, "sign_ins", json_integer((json_int_t)x->n));
  char *text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(rec);
  if (text == NULL) return QP_ENOMEM;
  MDB_val nv = {strlen(text), text};
  rc = mdb_put(txn, x->a->operators, &k, &nv, 0);
  qp_http_json_free(text);
  return rc;
}

int qp__auth_operator_next_session(qp__auth_t *a, const char *name, uint64_t *n) {
  next_t x = {a, name, 0};
  int rc = qp_kv_write(a->kv, next_txn, &x);
  *n = rc == 0 ? x.n : 0;
  return rc;
}

typedef struct {
  qp__auth_t *a;
  const char *name;
  uint32_t passkeys; /* out: credentials deleted */
} delete_t;

/* Deletes every by_operator entry of id and the credentials they name. */
static int delete_passkeys(delete_t *d, MDB_txn *txn, const uint8_t id[QP_AUTH_ID_SIZE]) {
  MDB_cursor *cur = NULL;
  int rc = mdb_cursor_open(txn, d->a->by_operator, &cur);
  if (rc != 0) return rc;
  MDB_val k = {QP_AUTH_ID_SIZE, (void *)id}, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && k.mv_size == QP_AUTH_ID_SIZE + CRED_KEY_SIZE &&
         memcmp(k.mv_data, id, QP_AUTH_ID_SIZE) == 0) {
    MDB_val ck = {CRED_KEY_SIZE, (uint8_t *)k.mv_data + QP_AUTH_ID_SIZE};
    rc = mdb_del(txn, d->a->op_credentials, &ck, NULL);
    if (rc == 0 || rc == MDB_NOTFOUND) rc = mdb_cursor_del(cur, 0);
    if (rc == 0) d->passkeys++;
    if (rc == 0) rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
  }
  mdb_cursor_close(cur);
  return rc == MDB_NOTFOUND || rc == EINVAL ? 0 : rc; /* EINVAL: the cursor ran off the end */
}

static int delete_txn(void *ctx, MDB_txn *txn) {
  delete_t *d = ctx;
  d->passkeys = 0; /* the write may run again */
  MDB_val k = name_key(d->name), v;
  int rc = mdb_get(txn, d->a->operators, &k, &v);
  if (rc != 0) return rc == MDB_NOTFOUND ? QP_ENOTFOUND : rc;
  json_t *rec = NULL;
  rc = load(v, &rec);
  uint8_t id[QP_AUTH_ID_SIZE];
  if (rc == 0 && !qp__auth_id_parse(json_string_value(json_object_get(rec, "id")), id))
    rc = QP_ECORRUPT;
  json_decref(rec);
  if (rc == 0) rc = delete_passkeys(d, txn, id);
  return rc != 0 ? rc : mdb_del(txn, d->a->operators, &k, NULL);
}

int qp__auth_operator_delete(qp__auth_t *a, const char *name, uint32_t *passkeys) {
  delete_t d = {a, name, 0};
  int rc = qp_kv_write(a->kv, delete_txn, &d);
  *passkeys = rc == 0 ? d.passkeys : 0;
  return rc;
}

int qp__auth_operator_list(qp__auth_t *a, const char *after, uint32_t limit, json_t **out,
                           bool *more) {
  *out = json_array();
  *more = false;
  if (*out == NULL) return QP_ENOMEM;
  MDB_txn *txn = NULL;
  MDB_cursor *cur = NULL;
  int rc = qp_kv_read_begin(a->kv, a->operators, &txn, &cur);
  if (rc != 0) return rc;
  MDB_val k = name_key(after != NULL ? after : ""), v;
  rc = k.mv_size > 0 ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
                     : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  if (rc == 0 && after != NULL && k.mv_size == strlen(after) &&
      memcmp(k.mv_data, after, k.mv_size) == 0)
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* the cursor names the last one shown */
  while (rc == 0 && json_array_size(*out) < limit) {
    json_t *rec = NULL;
    rc = load(v, &rec);
    if (rc == 0 && json_array_append_new(*out, rec) != 0) rc = QP_ENOMEM;
    if (rc == 0) rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  *more = rc == 0;
  qp_kv_read_end(a->kv, txn, cur);
  if (rc == MDB_NOTFOUND || rc == 0) return 0;
  json_decref(*out);
  *out = NULL;
  return rc < 0 ? rc : qp_kv_err(rc);
}
