/*
 * store.c - the wallet's LMDB under <data>/wallet/, every write durable at
 * its commit.  Tables: sessions (SHA-256 of the token -> JSON session:
 * user_id, created_s, expires_s, unlocked_until_s, revoked), users (user
 * id, 32 hex digits -> account id, 16 bytes) and accounts (account id ->
 * user id): the account -> user index names a bill's counterparty; devices
 * (user id -> the id of the payments device that makes the user's pay codes).
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "store/store.h"
#include "wallet/wallet_int.h"

int qp__wallet_store_open(qp__wallet_t *w, const char *data_dir, char *detail, size_t size) {
  char dir[1200];
  snprintf(dir, sizeof dir, "%s/wallet", data_dir);
  int rc = qp_mkdir_p(dir);
  if (rc != 0) {
    snprintf(detail, size, "wallet: cannot create %s", dir);
    return rc;
  }
  rc = qp_kv_open(dir, QP_WALLET_MAP_SIZE, 0, 4, &w->kv, detail, size);
  if (rc != 0) return rc;
  qp_kv_write_policy_t policy = {QP_WALLET_MAP_SIZE_MAX, 0};
  qp_kv_set_write_policy(w->kv, &policy);
  const qp_kv_table_t tables[] = {{"sessions", MDB_CREATE, &w->sessions},
                                  {"users", MDB_CREATE, &w->users},
                                  {"accounts", MDB_CREATE, &w->accounts},
                                  {"devices", MDB_CREATE, &w->devices}};
  const char *failed = NULL;
  rc = qp_kv_dbis(w->kv, tables, 4, &failed);
  if (rc != 0) {
    snprintf(detail, size, "wallet: cannot open table %s: %s", failed ? failed : "?",
             qp_strerror(rc));
    qp_kv_close(w->kv);
    w->kv = NULL;
  }
  return rc;
}

void qp__wallet_store_close(qp__wallet_t *w) {
  qp_kv_close(w->kv);
  w->kv = NULL;
}

typedef struct {
  qp__wallet_t *w;
  const uint8_t *hash;
  char *text;
  const char *user_id;
  qp_u128 account;
  uint32_t count;
  bool is_new;   /* a session: new (else an update) */
  bool revokes;  /* a session update that revokes it */
  int64_t now_s; /* the sweep's time */
} put_t;

/* A new session (never over another), or an update of a stored one that
 * never un-revokes it: a request that read the session before a logout
 * or an operator's revoke cannot bring it back by writing it. */
static int put_session(void *ctx, MDB_txn *txn) {
  put_t *p = ctx;
  MDB_val k = {QP_WALLET_HASH_SIZE, (void *)p->hash}, v = {strlen(p->text), p->text}, old;
  if (p->is_new) {
    int rc = mdb_put(txn, p->w->sessions, &k, &v, MDB_NOOVERWRITE);
    return rc == MDB_KEYEXIST ? QP_EEXISTS : rc;
  }
  int rc = mdb_get(txn, p->w->sessions, &k, &old);
  if (rc == MDB_NOTFOUND) return QP_ENOTFOUND;
  if (rc != 0) return rc;
  qp__wallet_session_t was;
  json_t *j = json_loadb(old.mv_data, old.mv_size, 0, NULL);
  int parsed = j ? qp__wallet_session_from_json(j, &was) : QP_ECORRUPT;
  json_decref(j);
  if (parsed != 0) return parsed;
  if (was.revoked && !p->revokes) return QP_ENOTFOUND;
  return mdb_put(txn, p->w->sessions, &k, &v, 0);
}

int qp__wallet_session_put(qp__wallet_t *w, const uint8_t hash[QP_WALLET_HASH_SIZE],
                           const qp__wallet_session_t *s, bool is_new) {
  json_t *j = qp__wallet_session_json(s);
  put_t p = {w, hash, j ? json_dumps(j, JSON_COMPACT) : NULL, NULL, 0, 0, is_new, s->revoked, 0};
  json_decref(j);
  int rc = p.text != NULL ? qp_kv_write(w->kv, put_session, &p) : QP_ENOMEM;
  qp_http_json_free(p.text);
  return rc;
}

/* Deletes up to max sessions expired or revoked before now (a revoked one
 * deleted is still refused: its token is unknown). */
static int sweep(void *ctx, MDB_txn *txn) {
  put_t *p = ctx;
  MDB_cursor *cur = NULL;
  int rc = mdb_cursor_open(txn, p->w->sessions, &cur);
  MDB_val k, v;
  uint32_t seen = 0;
  p->count = 0;
  for (int op = MDB_FIRST; rc == 0 && seen < 10000; op = MDB_NEXT, seen++) {
    if ((rc = mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op)) != 0) break;
    qp__wallet_session_t s;
    json_t *j = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    int parsed = j ? qp__wallet_session_from_json(j, &s) : QP_ECORRUPT;
    json_decref(j);
    if (parsed == 0 && (s.revoked || s.expires_s <= p->now_s) && p->count < 1000) {
      rc = mdb_cursor_del(cur, 0);
      p->count++;
    }
  }
  if (cur != NULL) mdb_cursor_close(cur);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

int qp__wallet_sessions_sweep(qp__wallet_t *w, int64_t now_s, uint32_t *deleted) {
  put_t p = {w, NULL, NULL, NULL, 0, 0, false, false, now_s};
  int rc = qp_kv_write(w->kv, sweep, &p);
  *deleted = rc == 0 ? p.count : 0;
  return rc;
}

int qp__wallet_session_get(qp__wallet_t *w, const uint8_t hash[QP_WALLET_HASH_SIZE],
                           qp__wallet_session_t *s) {
  MDB_txn *txn = NULL;
  int rc = qp_kv_read_begin(w->kv, w->sessions, &txn, NULL);
  if (rc != 0) return rc;
  MDB_val k = {QP_WALLET_HASH_SIZE, (void *)hash}, v;
  rc = qp_kv_err(mdb_get(txn, w->sessions, &k, &v));
  json_t *j = rc == 0 ? json_loadb(v.mv_data, v.mv_size, 0, NULL) : NULL;
  if (rc == 0) rc = j != NULL ? qp__wallet_session_from_json(j, s) : QP_ECORRUPT;
  json_decref(j);
  qp_kv_read_end(w->kv, txn, NULL);
  return rc;
}

/* The session text of v revoked, if it is a live one of user_id (a new
 * text the caller frees with qp_http_json_free), else NULL. */
static char *revoked_text(const MDB_val *v, const char *user_id) {
  qp__wallet_session_t s;
  json_t *j = json_loadb(v->mv_data, v->mv_size, 0, NULL);
  int parsed = j ? qp__wallet_session_from_json(j, &s) : QP_ECORRUPT;
  json_decref(j);
  if (parsed != 0 || s.revoked || strcmp(s.user_id, user_id) != 0) return NULL;
  s.revoked = true;
  j = qp__wallet_session_json(&s);
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  return text;
}

/* Marks each live session of p->user_id revoked: a scan (sessions are
 * few) that collects the keys, then the puts (not through the cursor). */
static int revoke(void *ctx, MDB_txn *txn) {
  put_t *p = ctx;
  MDB_cursor *cur = NULL;
  uint8_t *keys = NULL;
  uint32_t n = 0, cap = 0;
  int rc = mdb_cursor_open(txn, p->w->sessions, &cur);
  MDB_val k, v;
  for (int op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
    if ((rc = mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op)) != 0) break;
    char *text = k.mv_size == QP_WALLET_HASH_SIZE ? revoked_text(&v, p->user_id) : NULL;
    if (text == NULL) continue;
    qp_http_json_free(text);
    if (n == cap) {
      cap = cap ? 2 * cap : 16;
      uint8_t *grown = qp_realloc(keys, (size_t)cap * QP_WALLET_HASH_SIZE);
      if (grown == NULL) rc = QP_ENOMEM;
      else keys = grown;
    }
    if (rc == 0) memcpy(keys + (size_t)n++ * QP_WALLET_HASH_SIZE, k.mv_data, QP_WALLET_HASH_SIZE);
  }
  if (cur != NULL) mdb_cursor_close(cur);
  rc = rc == MDB_NOTFOUND ? 0 : rc;
  for (uint32_t i = 0; rc == 0 && i < n; i++) {
    MDB_val key = {QP_WALLET_HASH_SIZE, keys + (size_t)i * QP_WALLET_HASH_SIZE};
    rc = mdb_get(txn, p->w->sessions, &key, &v);
    char *text = rc == 0 ? revoked_text(&v, p->user_id) : NULL;
    if (rc == 0 && text == NULL) rc = QP_ENOMEM;
    MDB_val nv = {text ? strlen(text) : 0, text};
    if (rc == 0) rc = mdb_put(txn, p->w->sessions, &key, &nv, 0);
    qp_http_json_free(text);
  }
  qp_free(keys);
  p->count = n;
  return rc;
}

int qp__wallet_sessions_revoke(qp__wallet_t *w, const char *user_id, uint32_t *count) {
  put_t p = {w, NULL, NULL, user_id, 0, 0, false, false, 0};
  int rc = qp_kv_write(w->kv, revoke, &p);
  *count = rc == 0 ? p.count : 0;
  return rc;
}

static int put_account(void *ctx, MDB_txn *txn) {
  put_t *p = ctx;
  MDB_val uk = {strlen(p->user_id), (void *)p->user_id}, av = {sizeof p->account, &p->account};
  int rc = mdb_put(txn, p->w->users, &uk, &av, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) return QP_EEXISTS;
  return rc != 0 ? rc : mdb_put(txn, p->w->accounts, &av, &uk, 0);
}

int qp__wallet_account_put(qp__wallet_t *w, const char *user_id, qp_u128 account) {
  put_t p = {w, NULL, NULL, user_id, account, 0, false, false, 0};
  return qp_kv_write(w->kv, put_account, &p);
}

static int get(qp__wallet_t *w, MDB_dbi dbi, const void *key, size_t len, void *out,
               size_t out_size) {
  MDB_txn *txn = NULL;
  int rc = qp_kv_read_begin(w->kv, dbi, &txn, NULL);
  if (rc != 0) return rc;
  MDB_val k = {len, (void *)key}, v;
  rc = qp_kv_err(mdb_get(txn, dbi, &k, &v));
  if (rc == 0 && v.mv_size != out_size) rc = QP_ECORRUPT;
  if (rc == 0) memcpy(out, v.mv_data, out_size);
  qp_kv_read_end(w->kv, txn, NULL);
  return rc;
}

int qp__wallet_account_of(qp__wallet_t *w, const char *user_id, qp_u128 *account) {
  return get(w, w->users, user_id, strlen(user_id), account, sizeof *account);
}

int qp__wallet_user_of(qp__wallet_t *w, qp_u128 account, char user_id[QP_WALLET_ID_HEX + 1]) {
  user_id[QP_WALLET_ID_HEX] = '\0';
  return get(w, w->accounts, &account, sizeof account, user_id, QP_WALLET_ID_HEX);
}

static int put_device(void *ctx, MDB_txn *txn) {
  put_t *p = ctx;
  MDB_val k = {strlen(p->user_id), (void *)p->user_id}, v = {QP_WALLET_ID_HEX, p->text};
  return mdb_put(txn, p->w->devices, &k, &v, 0);
}

int qp__wallet_device_put(qp__wallet_t *w, const char *user_id, const char *device) {
  put_t p = {w, NULL, (char *)device, user_id, 0, 0, false, false, 0};
  return strlen(device) == QP_WALLET_ID_HEX ? qp_kv_write(w->kv, put_device, &p) : QP_EINVAL;
}

int qp__wallet_device_of(qp__wallet_t *w, const char *user_id, char device[QP_WALLET_ID_HEX + 1]) {
  device[QP_WALLET_ID_HEX] = '\0';
  return get(w, w->devices, user_id, strlen(user_id), device, QP_WALLET_ID_HEX);
}
