/*
 * kv.c - the LMDB wrapper (see kv.h).  Its one piece of policy is what a
 * write does when the map or the disk is full.  A full map is a setting,
 * not a fault: with a growth limit the map doubles and the transaction
 * runs again.  A full disk may pass (another process frees space, an
 * operator acts), so a write may wait and try again, with the same backoff
 * the ledger's index applier uses.  Both are off unless the opener asks,
 * because growing the map is only safe while no other transaction of the
 * process is open (LMDB's rule), and only the opener knows whether it
 * keeps read transactions of its own.
 */
#include "store/kv.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"

enum { PAGE_BYTES = 4096 };

struct qp_kv {
  MDB_env *env;                 /* the environment */
  bool read_only;               /* opened with MDB_RDONLY */
  qp_kv_write_policy_t policy;  /* full map / full disk */
  pthread_mutex_t write_mutex;  /* one qp_kv_write at a time (LMDB serialises anyway) */
  _Atomic uint32_t readers;     /* transactions from qp_kv_read_begin open now */
};

int qp_kv_err(int mdb_rc) {
  if (mdb_rc == 0) return 0;
  if (mdb_rc > QP_ERR__FIRST && mdb_rc < QP_ERR__LAST) return mdb_rc; /* already ours */
  switch (mdb_rc) {
  case MDB_MAP_FULL:
  case ENOSPC: return QP_ENOSPC;
  case MDB_NOTFOUND: return QP_ENOTFOUND;
  case ENOMEM: return QP_ENOMEM;
  default: return QP_EDB;
  }
}

uint32_t qp_kv_backoff_next_ms(uint32_t prev_ms) {
  if (prev_ms == 0) return QP_KV_BACKOFF_FIRST_MS;
  return prev_ms * 2 > QP_KV_BACKOFF_MAX_MS ? QP_KV_BACKOFF_MAX_MS : prev_ms * 2;
}

int qp_kv_open(const char *path, size_t map_size, unsigned flags, unsigned dbs_max, qp_kv_t **out,
               char *detail, size_t detail_size) {
  QP_ASSERT(path != NULL && out != NULL);
  *out = NULL;
  qp_kv_t *kv = qp_calloc(1, sizeof *kv);
  if (kv == NULL) return QP_ENOMEM;
  int rc = mdb_env_create(&kv->env);
  if (rc == 0) rc = mdb_env_set_maxdbs(kv->env, dbs_max);
  if (rc == 0) rc = mdb_env_set_mapsize(kv->env, map_size);
  if (rc == 0) rc = mdb_env_open(kv->env, path, flags, 0600);
  if (rc != 0) {
    if (detail) snprintf(detail, detail_size, "%s: %s", path, mdb_strerror(rc));
    if (kv->env) mdb_env_close(kv->env);
    qp_free(kv);
    return qp_kv_err(rc == MDB_NOTFOUND ? MDB_INVALID : rc); /* not a missing key */
  }
  kv->read_only = (flags & MDB_RDONLY) != 0;
  pthread_mutex_init(&kv->write_mutex, NULL);
  *out = kv;
  return 0;
}

void qp_kv_close(qp_kv_t *kv) {
  if (kv == NULL) return;
  QP_ASSERT(atomic_load(&kv->readers) == 0);
  mdb_env_close(kv->env);
  pthread_mutex_destroy(&kv->write_mutex);
  qp_free(kv);
}

MDB_env *qp_kv_env(qp_kv_t *kv) { return kv->env; }

void qp_kv_set_write_policy(qp_kv_t *kv, const qp_kv_write_policy_t *policy) {
  pthread_mutex_lock(&kv->write_mutex);
  kv->policy = *policy;
  pthread_mutex_unlock(&kv->write_mutex);
}

size_t qp_kv_map_size(qp_kv_t *kv) {
  MDB_envinfo info;
  return mdb_env_info(kv->env, &info) == 0 ? info.me_mapsize : 0;
}

int qp_kv_dbis(qp_kv_t *kv, const qp_kv_table_t *tables, size_t count, const char **failed) {
  if (failed) *failed = NULL;
  MDB_txn *txn;
  int rc = mdb_txn_begin(kv->env, NULL, kv->read_only ? MDB_RDONLY : 0, &txn);
  if (rc != 0) return qp_kv_err(rc);
  for (size_t i = 0; i < count && rc == 0; i++) {
    rc = mdb_dbi_open(txn, tables[i].name, tables[i].flags, tables[i].dbi);
    if (rc != 0 && failed) *failed = tables[i].name;
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    return qp_kv_err(rc);
  }
  /* A read-only transaction's handles survive its commit, not its abort. */
  return qp_kv_err(mdb_txn_commit(txn));
}

int qp_kv_dbi(qp_kv_t *kv, const char *name, unsigned flags, MDB_dbi *dbi) {
  qp_kv_table_t table = {name, flags, dbi};
  return qp_kv_dbis(kv, &table, 1, NULL);
}

int qp_kv_read_begin(qp_kv_t *kv, MDB_dbi dbi, MDB_txn **txn, MDB_cursor **cursor) {
  int rc = mdb_txn_begin(kv->env, NULL, MDB_RDONLY, txn);
  if (rc == MDB_MAP_RESIZED && mdb_env_set_mapsize(kv->env, 0) == 0) /* another process grew it */
    rc = mdb_txn_begin(kv->env, NULL, MDB_RDONLY, txn);
  if (rc != 0) return qp_kv_err(rc);
  if (cursor != NULL && (rc = mdb_cursor_open(*txn, dbi, cursor)) != 0) {
    mdb_txn_abort(*txn);
    return qp_kv_err(rc);
  }
  atomic_fetch_add(&kv->readers, 1);
  return 0;
}

void qp_kv_read_end(qp_kv_t *kv, MDB_txn *txn, MDB_cursor *cursor) {
  if (cursor != NULL) mdb_cursor_close(cursor); /* read-only cursors outlive their txn */
  mdb_txn_abort(txn);
  uint32_t before = atomic_fetch_sub(&kv->readers, 1);
  QP_ASSERT(before > 0);
}

/* One attempt: fn in a fresh write transaction, then the commit.  Returns
 * fn's or LMDB's raw code; nothing of a failed attempt stays. */
static int write_once(qp_kv_t *kv, int (*fn)(void *ctx, MDB_txn *txn), void *ctx) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(kv->env, NULL, 0, &txn);
  if (rc == MDB_MAP_RESIZED && mdb_env_set_mapsize(kv->env, 0) == 0)
    rc = mdb_txn_begin(kv->env, NULL, 0, &txn);
  if (rc != 0) return rc;
  rc = fn(ctx, txn);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  return mdb_txn_commit(txn); /* frees txn either way */
}

/* Doubles the map, up to the policy's limit, if nothing of this process
 * (that the wrapper knows of) reads meanwhile.  Returns true if it grew. */
static bool grow(qp_kv_t *kv) {
  size_t now = qp_kv_map_size(kv), max = kv->policy.map_size_max / PAGE_BYTES * PAGE_BYTES;
  if (max == 0 || now == 0 || now >= max || atomic_load(&kv->readers) != 0) return false;
  size_t next = now > max / 2 ? max : now * 2;
  return mdb_env_set_mapsize(kv->env, next) == 0;
}

static void sleep_ms(uint32_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int qp_kv_write(qp_kv_t *kv, int (*fn)(void *ctx, MDB_txn *txn), void *ctx) {
  QP_ASSERT(!kv->read_only);
  uint32_t retries = 0, backoff_ms = 0;
  pthread_mutex_lock(&kv->write_mutex);
  int rc;
  for (;;) {
    rc = write_once(kv, fn, ctx);
    if (rc == MDB_MAP_FULL && grow(kv)) continue;
    bool no_space = rc == ENOSPC || rc == QP_ENOSPC;
    if (!no_space || retries >= kv->policy.enospc_retries_max) break;
    retries++;
    backoff_ms = qp_kv_backoff_next_ms(backoff_ms);
    sleep_ms(backoff_ms);
  }
  pthread_mutex_unlock(&kv->write_mutex);
  return qp_kv_err(rc);
}
