/*
 * store.c - users and credentials, durable in LMDB under <data>/auth/.
 * Every write is one LMDB transaction committed with a synchronous flush
 * (the environment has no MDB_NOSYNC), so what a request was told is on
 * disk and survives kill -9 or a power cut.
 *
 * Tables: users (16-byte id -> JSON record), handles (handle -> id: handles
 * are unique), credentials (SHA-256 of the credential id -> JSON record,
 * which names its user and holds the id itself: ids of up to 1023 bytes do
 * not fit LMDB's 511-byte keys), by_user (user id || SHA-256 of the
 * credential id -> nothing: a user's credentials by prefix), intents
 * (16-byte id -> JSON record of a payment intent) and by_order (order_id,
 * creation time, intent id -> nothing: an order's intents, for payments) and by_created
 * (creation time, intent id -> nothing: GET /v1/payment-intents).  The
 * console's operators have tables of their own (store_operators.c):
 * operators, and op_credentials and by_operator, the twins of credentials
 * and by_user that the qp__auth_realm_cred_* functions reach.  Records are JSON text
 * written by jansson with sorted keys: readable with mdb_dump, and every
 * field named.
 */
#include <string.h>

#include "auth/auth_int.h"
#include "auth/payment.h"
#include "base/alloc.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define CRED_KEY_SIZE 32 /* SHA-256 of a credential id */

int qp__auth_store_open(qp__auth_t *a, const char *data_dir, char *detail, size_t detail_size) {
  char dir[1200];
  snprintf(dir, sizeof dir, "%s/auth", data_dir);
  int rc = qp_mkdir_p(dir);
  if (rc != 0) {
    snprintf(detail, detail_size, "auth: cannot create %s", dir);
    return rc;
  }
  rc = qp_kv_open(dir, QP_AUTH_MAP_SIZE, 0, 10, &a->kv, detail, detail_size);
  if (rc != 0) return rc;
  qp_kv_write_policy_t policy = {QP_AUTH_MAP_SIZE_MAX, 0};
  qp_kv_set_write_policy(a->kv, &policy);
  const qp_kv_table_t tables[] = {{"users", MDB_CREATE, &a->users},
                                  {"handles", MDB_CREATE, &a->handles},
                                  {"credentials", MDB_CREATE, &a->credentials},
                                  {"by_user", MDB_CREATE, &a->by_user},
                                  {"intents", MDB_CREATE, &a->intents},
                                  {"by_order", MDB_CREATE, &a->by_order},
                                  {"by_created", MDB_CREATE, &a->by_created},
                                  {"operators", MDB_CREATE, &a->operators},
                                  {"op_credentials", MDB_CREATE, &a->op_credentials},
                                  {"by_operator", MDB_CREATE, &a->by_operator}};
  const char *failed = NULL;
  rc = qp_kv_dbis(a->kv, tables, 10, &failed);
  if (rc != 0) {
    snprintf(detail, detail_size, "auth: cannot open table %s: %s", failed ? failed : "?",
             qp_strerror(rc));
    qp_kv_close(a->kv);
    a->kv = NULL;
  }
  return rc;
}

void qp__auth_store_close(qp__auth_t *a) {
  qp_kv_close(a->kv);
  a->kv = NULL;
}

/* ---- writes ---- */

typedef struct {
  qp__auth_t *a;
  MDB_dbi creds, owners;   /* credentials and by_user, or the operators' twins */
  const uint8_t *id;       /* user id */
  uint8_t cred_key[CRED_KEY_SIZE]; /* SHA-256 of the credential id */
  const char *handle;      /* for a user */
  char *text;              /* the record */
} put_t;

static int put_user(void *ctx, MDB_txn *txn) {
  put_t *p = ctx;
  MDB_val hk = {strlen(p->handle), (void *)p->handle}, idv = {QP_AUTH_ID_SIZE, (void *)p->id};
  MDB_val uv = {strlen(p->text), p->text};
  int rc = mdb_put(txn, p->a->handles, &hk, &idv, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) return QP_EEXISTS;
  return rc != 0 ? rc : mdb_put(txn, p->a->users, &idv, &uv, MDB_NOOVERWRITE);
}

static int dump(json_t *record, char **out) {
  *out = json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS);
  return *out == NULL ? QP_ENOMEM : 0;
}

int qp__auth_user_put(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE], const char *handle,
                      json_t *user) {
  put_t p = {a, 0, 0, id, {0}, handle, NULL};
  int rc = dump(user, &p.text);
  if (rc == 0) rc = qp_kv_write(a->kv, put_user, &p);
  qp_http_json_free(p.text);
  return rc;
}

/* by_user key: user id || credential id. */
static size_t pair_key(uint8_t *key, const uint8_t *user_id, const uint8_t *cred_key) {
  memcpy(key, user_id, QP_AUTH_ID_SIZE);
  memcpy(key + QP_AUTH_ID_SIZE, cred_key, CRED_KEY_SIZE);
  return QP_AUTH_ID_SIZE + CRED_KEY_SIZE;
}

static void realm_tables(qp__auth_t *a, qp__auth_realm_t realm, MDB_dbi *creds,
                         MDB_dbi *owners) {
  *creds = realm == QP__AUTH_OPERATORS ? a->op_credentials : a->credentials;
  *owners = realm == QP__AUTH_OPERATORS ? a->by_operator : a->by_user;
}

static put_t cred_put(qp__auth_t *a, qp__auth_realm_t realm, const uint8_t *user_id,
                      const uint8_t *cred_id, size_t cred_id_len) {
  put_t p = {a, 0, 0, user_id, {0}, NULL, NULL};
  realm_tables(a, realm, &p.creds, &p.owners);
  qp_sha256(p.cred_key, cred_id, cred_id_len);
  return p;
}

static int put_cred(void *ctx, MDB_txn *txn) {
  put_t *p = ctx;
  uint8_t key[QP_AUTH_ID_SIZE + CRED_KEY_SIZE];
  MDB_val ck = {CRED_KEY_SIZE, p->cred_key}, cv = {strlen(p->text), p->text};
  MDB_val pk = {pair_key(key, p->id, p->cred_key), key}, empty = {0, ""};
  int rc = mdb_put(txn, p->creds, &ck, &cv, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) return QP_EEXISTS;
  return rc != 0 ? rc : mdb_put(txn, p->owners, &pk, &empty, 0);
}

int qp__auth_realm_cred_put(qp__auth_t *a, qp__auth_realm_t realm,
                            const uint8_t owner_id[QP_AUTH_ID_SIZE], const uint8_t *cred_id,
                            size_t cred_id_len, json_t *cred) {
  put_t p = cred_put(a, realm, owner_id, cred_id, cred_id_len);
  int rc = dump(cred, &p.text);
  if (rc == 0) rc = qp_kv_write(a->kv, put_cred, &p);
  qp_http_json_free(p.text);
  return rc;
}

static int update_cred(void *ctx, MDB_txn *txn) {
  put_t *p = ctx;
  MDB_val ck = {CRED_KEY_SIZE, p->cred_key}, cv;
  int rc = mdb_get(txn, p->creds, &ck, &cv);
  if (rc == MDB_NOTFOUND) return QP_ENOTFOUND; /* deleted meanwhile */
  cv.mv_size = strlen(p->text);
  cv.mv_data = p->text;
  return rc != 0 ? rc : mdb_put(txn, p->creds, &ck, &cv, 0);
}

int qp__auth_realm_cred_update(qp__auth_t *a, qp__auth_realm_t realm, const uint8_t *cred_id,
                               size_t cred_id_len, json_t *cred) {
  put_t p = cred_put(a, realm, NULL, cred_id, cred_id_len);
  int rc = dump(cred, &p.text);
  if (rc == 0) rc = qp_kv_write(a->kv, update_cred, &p);
  qp_http_json_free(p.text);
  return rc;
}

static int delete_cred(void *ctx, MDB_txn *txn) {
  put_t *p = ctx;
  uint8_t key[QP_AUTH_ID_SIZE + CRED_KEY_SIZE];
  MDB_val pk = {pair_key(key, p->id, p->cred_key), key};
  MDB_val ck = {CRED_KEY_SIZE, p->cred_key};
  int rc = mdb_del(txn, p->owners, &pk, NULL);
  if (rc == MDB_NOTFOUND) return QP_ENOTFOUND;
  return rc != 0 ? rc : mdb_del(txn, p->creds, &ck, NULL);
}

int qp__auth_realm_cred_delete(qp__auth_t *a, qp__auth_realm_t realm,
                               const uint8_t owner_id[QP_AUTH_ID_SIZE], const uint8_t *cred_id,
                               size_t cred_id_len) {
  put_t p = cred_put(a, realm, owner_id, cred_id, cred_id_len);
  return qp_kv_write(a->kv, delete_cred, &p);
}

int qp__auth_cred_delete(qp__auth_t *a, const uint8_t user_id[QP_AUTH_ID_SIZE],
                         const uint8_t *cred_id, size_t cred_id_len) {
  return qp__auth_realm_cred_delete(a, QP__AUTH_USERS, user_id, cred_id, cred_id_len);
}

typedef struct {
  qp__auth_t *a;
  const uint8_t *id;
  char *text;
  unsigned flags;     /* MDB_NOOVERWRITE for a new intent */
  const char *order;  /* a new intent's order_id: indexed in by_order; else NULL */
} intent_put_t;

/* by_order keys: order_id, a NUL, the creation time (8 bytes, big-endian
 * nanoseconds: oldest first), the intent id. */
#define BY_ORDER_KEY_MAX (QP_AUTH_ORDER_ID_MAX + 1 + 8 + QP_AUTH_ID_SIZE)

static int put_intent(void *ctx, MDB_txn *txn) {
  intent_put_t *p = ctx;
  MDB_val k = {QP_AUTH_ID_SIZE, (void *)p->id}, v = {strlen(p->text), p->text};
  int rc = mdb_put(txn, p->a->intents, &k, &v, p->flags);
  if (rc != 0 || p->flags != MDB_NOOVERWRITE) return rc == MDB_KEYEXIST ? QP_EEXISTS : rc;
  uint64_t now = qp_clock_wall_ns();
  uint8_t created[8 + QP_AUTH_ID_SIZE];
  qp_store_u64_be(created, now);
  memcpy(created + 8, p->id, QP_AUTH_ID_SIZE);
  MDB_val ck = {sizeof created, created}, none = {0, ""};
  rc = mdb_put(txn, p->a->by_created, &ck, &none, 0);
  if (rc != 0 || p->order == NULL) return rc;
  uint8_t key[BY_ORDER_KEY_MAX];
  size_t n = strlen(p->order);
  memcpy(key, p->order, n);
  key[n] = 0;
  qp_store_u64_be(key + n + 1, now);
  memcpy(key + n + 9, p->id, QP_AUTH_ID_SIZE);
  MDB_val ok = {n + 9 + QP_AUTH_ID_SIZE, key}, empty = {0, ""};
  return mdb_put(txn, p->a->by_order, &ok, &empty, 0);
}

int qp__auth_intent_put(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE], json_t *intent,
                        bool is_new) {
  const char *order = json_string_value(json_object_get(intent, "order_id"));
  intent_put_t p = {a, id, NULL, is_new ? MDB_NOOVERWRITE : 0,
                    is_new && order != NULL && strlen(order) <= QP_AUTH_ORDER_ID_MAX ? order
                                                                                     : NULL};
  int rc = dump(intent, &p.text);
  if (rc == 0) rc = qp_kv_write(a->kv, put_intent, &p);
  qp_http_json_free(p.text);
  return rc;
}

/* ---- reads ---- */

static int get_json(qp__auth_t *a, MDB_dbi dbi, const void *key, size_t key_len, json_t **out) {
  MDB_txn *txn = NULL;
  int rc = qp_kv_read_begin(a->kv, dbi, &txn, NULL);
  if (rc != 0) return rc;
  MDB_val k = {key_len, (void *)key}, v;
  rc = qp_kv_err(mdb_get(txn, dbi, &k, &v));
  if (rc == 0) {
    *out = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    if (*out == NULL) rc = QP_ECORRUPT;
  }
  qp_kv_read_end(a->kv, txn, NULL);
  return rc;
}

int qp__auth_user_by_handle(qp__auth_t *a, const char *handle, uint8_t id[QP_AUTH_ID_SIZE]) {
  size_t len = strlen(handle);
  if (len == 0 || len > QP_AUTH_HANDLE_MAX) return QP_ENOTFOUND;
  MDB_txn *txn = NULL;
  int rc = qp_kv_read_begin(a->kv, a->handles, &txn, NULL);
  if (rc != 0) return rc;
  MDB_val k = {len, (void *)handle}, v;
  rc = qp_kv_err(mdb_get(txn, a->handles, &k, &v));
  if (rc == 0 && v.mv_size != QP_AUTH_ID_SIZE) rc = QP_ECORRUPT;
  if (rc == 0) memcpy(id, v.mv_data, QP_AUTH_ID_SIZE);
  qp_kv_read_end(a->kv, txn, NULL);
  return rc;
}

int qp__auth_user_get(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE], json_t **out) {
  return get_json(a, a->users, id, QP_AUTH_ID_SIZE, out);
}

int qp__auth_realm_cred_get(qp__auth_t *a, qp__auth_realm_t realm, const uint8_t *cred_id,
                            size_t cred_id_len, json_t **out) {
  if (cred_id_len == 0 || cred_id_len > QP_AUTH_CREDENTIAL_ID_MAX) return QP_ENOTFOUND;
  uint8_t key[CRED_KEY_SIZE];
  MDB_dbi creds, owners;
  realm_tables(a, realm, &creds, &owners);
  qp_sha256(key, cred_id, cred_id_len);
  int rc = get_json(a, creds, key, sizeof key, out);
  if (rc != 0) return rc;
  /* The record names its id: a (never seen) SHA-256 collision is no match. */
  uint8_t stored[QP_AUTH_CREDENTIAL_ID_MAX];
  size_t len = 0;
  const char *text = json_string_value(json_object_get(*out, "id"));
  if (text != NULL && qp__auth_b64url_decode(text, stored, sizeof stored, &len) == 0 &&
      len == cred_id_len && memcmp(stored, cred_id, len) == 0)
    return 0;
  json_decref(*out);
  *out = NULL;
  return QP_ENOTFOUND;
}

/* Appends the record of every by_user key with the user's prefix. */
static int list_from(MDB_dbi creds, MDB_txn *txn, MDB_cursor *cur, const uint8_t *user_id,
                     json_t *list) {
  MDB_val k = {QP_AUTH_ID_SIZE, (void *)user_id}, v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && json_array_size(list) < QP_AUTH_CREDENTIALS_PER_USER_MAX &&
         k.mv_size > QP_AUTH_ID_SIZE && memcmp(k.mv_data, user_id, QP_AUTH_ID_SIZE) == 0) {
    MDB_val ck = {k.mv_size - QP_AUTH_ID_SIZE, (uint8_t *)k.mv_data + QP_AUTH_ID_SIZE}, cv;
    rc = mdb_get(txn, creds, &ck, &cv);
    if (rc != 0) return rc == MDB_NOTFOUND ? QP_ECORRUPT : qp_kv_err(rc);
    json_t *rec = json_loadb(cv.mv_data, cv.mv_size, 0, NULL);
    if (rec == NULL || json_array_append_new(list, rec) != 0) return QP_ENOMEM;
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  return rc == MDB_NOTFOUND ? 0 : qp_kv_err(rc);
}

int qp__auth_realm_cred_list(qp__auth_t *a, qp__auth_realm_t realm,
                             const uint8_t user_id[QP_AUTH_ID_SIZE], json_t **out) {
  MDB_txn *txn = NULL;
  MDB_cursor *cur = NULL;
  MDB_dbi creds, owners;
  realm_tables(a, realm, &creds, &owners);
  json_t *list = json_array();
  if (list == NULL) return QP_ENOMEM;
  int rc = qp_kv_read_begin(a->kv, owners, &txn, &cur);
  if (rc == 0) {
    rc = list_from(creds, txn, cur, user_id, list);
    qp_kv_read_end(a->kv, txn, cur);
  }
  if (rc != 0) {
    json_decref(list);
    return rc;
  }
  *out = list;
  return 0;
}

/* ---- the wallet users' realm ---- */

int qp__auth_cred_put(qp__auth_t *a, const uint8_t user_id[QP_AUTH_ID_SIZE],
                      const uint8_t *cred_id, size_t cred_id_len, json_t *cred) {
  return qp__auth_realm_cred_put(a, QP__AUTH_USERS, user_id, cred_id, cred_id_len, cred);
}

int qp__auth_cred_update(qp__auth_t *a, const uint8_t *cred_id, size_t cred_id_len,
                         json_t *cred) {
  return qp__auth_realm_cred_update(a, QP__AUTH_USERS, cred_id, cred_id_len, cred);
}

int qp__auth_cred_get(qp__auth_t *a, const uint8_t *cred_id, size_t cred_id_len, json_t **out) {
  return qp__auth_realm_cred_get(a, QP__AUTH_USERS, cred_id, cred_id_len, out);
}

int qp__auth_cred_list(qp__auth_t *a, const uint8_t user_id[QP_AUTH_ID_SIZE], json_t **out) {
  return qp__auth_realm_cred_list(a, QP__AUTH_USERS, user_id, out);
}

int qp__auth_intent_get(qp__auth_t *a, const uint8_t id[QP_AUTH_ID_SIZE], json_t **out) {
  return get_json(a, a->intents, id, QP_AUTH_ID_SIZE, out);
}

int qp__auth_order_intent_ids(qp__auth_t *a, const char *order_id,
                              uint8_t ids[][QP_AUTH_ID_SIZE], uint32_t max, uint32_t *count) {
  *count = 0;
  size_t n = strlen(order_id);
  if (n > QP_AUTH_ORDER_ID_MAX) return 0;
  MDB_txn *txn = NULL;
  MDB_cursor *cur = NULL;
  int rc = qp_kv_read_begin(a->kv, a->by_order, &txn, &cur);
  if (rc != 0) return rc;
  uint8_t prefix[QP_AUTH_ORDER_ID_MAX + 1];
  memcpy(prefix, order_id, n);
  prefix[n] = 0;
  MDB_val k = {n + 1, prefix}, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && *count < max && k.mv_size == n + 9 + QP_AUTH_ID_SIZE &&
         memcmp(k.mv_data, prefix, n + 1) == 0) {
    memcpy(ids[(*count)++], (const uint8_t *)k.mv_data + n + 9, QP_AUTH_ID_SIZE);
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  qp_kv_read_end(a->kv, txn, cur);
  return rc == MDB_NOTFOUND || rc == 0 ? 0 : qp_kv_err(rc);
}
