/*
 * kv.h - the store module's second public header: a small wrapper over an
 * LMDB environment that any module uses for its derived, rebuildable state
 * (the ledger's index is the first user).  It owns the plumbing every user
 * would otherwise copy: opening the environment with a map size, flags and
 * a number of named tables; a read transaction with a cursor; a write
 * transaction that meets a full map or a full disk by a stated policy; and
 * one mapping from LMDB's codes to QP_E*.
 *
 * It is apart from store.h so that only modules that use LMDB see its
 * types.  The data itself is read and written with LMDB's own calls
 * (mdb_get, mdb_put, cursors) inside the transactions handed out here:
 * wrapping those too would only rename them.
 */
#ifndef QP_STORE_KV_H
#define QP_STORE_KV_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The backoff of qp_kv_write after ENOSPC, and of any caller that retries
 * a failed write itself (the ledger's index applier): 50 ms, doubling, at
 * most 2 s. */
#define QP_KV_BACKOFF_FIRST_MS 50u
#define QP_KV_BACKOFF_MAX_MS 2000u

typedef struct qp_kv qp_kv_t;

/* How qp_kv_write meets a full map or a full disk.  The default (all
 * zero) is no growth and no retry: both come back as QP_ENOSPC at once. */
typedef struct qp_kv_write_policy {
  size_t map_size_max;         /* on MDB_MAP_FULL double the map up to this; 0 = never grow */
  uint32_t enospc_retries_max; /* on ENOSPC run fn again this often, with backoff; 0 = never */
} qp_kv_write_policy_t;

/* Maps an LMDB return code (or an errno it passed on) to QP_E*: 0 -> 0,
 * MDB_MAP_FULL and ENOSPC -> QP_ENOSPC, MDB_NOTFOUND -> QP_ENOTFOUND,
 * ENOMEM -> QP_ENOMEM, a QP_E* code -> itself, anything else -> QP_EDB. */
int qp_kv_err(int mdb_rc);

/* Opens (creating it if absent and flags lack MDB_RDONLY) the LMDB
 * environment in directory `path` with map_size bytes of address space,
 * the given LMDB environment flags (MDB_RDONLY, MDB_NOTLS, MDB_NOMETASYNC,
 * ...) and room for dbs_max named tables; files are created 0600.  *out is
 * the caller's, released with qp_kv_close.  detail (may be NULL) names the
 * path and LMDB's reason on failure.  Returns 0, QP_ENOTFOUND (no such
 * directory, or a read-only open of a missing environment), QP_ENOSPC,
 * QP_ENOMEM or QP_EDB. */
int qp_kv_open(const char *path, size_t map_size, unsigned flags, unsigned dbs_max, qp_kv_t **out,
               char *detail, size_t detail_size);

/* Closes the environment; every transaction must have ended.  NULL is a
 * no-op. */
void qp_kv_close(qp_kv_t *kv);

/* The raw environment, for LMDB calls the wrapper does not cover (a read
 * transaction kept and renewed across calls, say).  Owned by kv; valid
 * until qp_kv_close. */
MDB_env *qp_kv_env(qp_kv_t *kv);

/* Sets the write policy (copied); see qp_kv_write_policy_t.  Map growth
 * needs LMDB's rule to hold: no transaction of this process active while
 * it happens.  qp_kv_write grows the map only when no read transaction
 * from qp_kv_read_begin is open (otherwise it returns QP_ENOSPC); read
 * transactions begun on qp_kv_env directly are the caller's to rule out. */
void qp_kv_set_write_policy(qp_kv_t *kv, const qp_kv_write_policy_t *policy);

/* Opens the named table (flags: MDB_CREATE, MDB_DUPSORT, ...) in its own
 * short transaction (read-only if the environment is) and puts its handle
 * in *dbi; the handle stays valid until qp_kv_close.  Returns 0,
 * QP_ENOTFOUND (absent and not created) or another qp_kv_err code. */
int qp_kv_dbi(qp_kv_t *kv, const char *name, unsigned flags, MDB_dbi *dbi);

/* One table for qp_kv_dbis. */
typedef struct qp_kv_table {
  const char *name; /* table name */
  unsigned flags;   /* mdb_dbi_open flags */
  MDB_dbi *dbi;     /* where its handle goes */
} qp_kv_table_t;

/* Opens tables[0, count) in one transaction: all of them or none (then
 * *failed, if not NULL, names the table that failed).  Returns like
 * qp_kv_dbi. */
int qp_kv_dbis(qp_kv_t *kv, const qp_kv_table_t *tables, size_t count, const char **failed);

/* Begins a read-only transaction and opens a cursor on dbi in it (cursor
 * may be NULL for a transaction alone).  Both are the caller's until
 * qp_kv_read_end, which must follow on the same thread.  Returns 0 or a
 * qp_kv_err code, with nothing left open. */
int qp_kv_read_begin(qp_kv_t *kv, MDB_dbi dbi, MDB_txn **txn, MDB_cursor **cursor);

/* Closes the cursor (may be NULL) and aborts the read transaction. */
void qp_kv_read_end(qp_kv_t *kv, MDB_txn *txn, MDB_cursor *cursor);

/* Runs fn(ctx, txn) in a write transaction and commits it.  fn returns 0,
 * an LMDB code as mdb_* calls return them, or a QP_E* code; on any
 * non-zero return the transaction is aborted and nothing of it stays.  On
 * MDB_MAP_FULL (from fn or the commit) and ENOSPC, the policy decides:
 * grow the map and run fn again in a fresh transaction, or sleep and run
 * it again; so fn must be safe to run more than once (it is, if it only
 * writes through txn).  Returns 0 or fn's code / the commit's through
 * qp_kv_err (QP_ENOSPC once the policy gives up). */
int qp_kv_write(qp_kv_t *kv, int (*fn)(void *ctx, MDB_txn *txn), void *ctx);

/* The map size now, in bytes. */
size_t qp_kv_map_size(qp_kv_t *kv);

/* The next backoff after prev_ms (0 = the first): QP_KV_BACKOFF_FIRST_MS,
 * then doubling up to QP_KV_BACKOFF_MAX_MS. */
uint32_t qp_kv_backoff_next_ms(uint32_t prev_ms);

/* ------------------------------------------ a page of a time-ordered index */

/* A page of a table whose keys are (creation ns, 8 bytes big-endian) || an
 * id (kv_page.c), for the list routes: keys from from_ns (or after the
 * previous page's last key `after`, whichever is later) up to to_ns
 * (exclusive; 0 = no end), until `limit` keys were shown or `scan_max`
 * looked at. */
#define QP_KV_PAGE_KEY_MAX 40u

typedef struct qp_kv_page {
  MDB_dbi dbi;            /* the index table */
  size_t key_size;        /* its keys' size, 8..QP_KV_PAGE_KEY_MAX */
  uint64_t from_ns, to_ns;
  const uint8_t *after;   /* NULL, or key_size bytes: start after this key */
  uint32_t limit;         /* keys shown, at most (>= 1) */
  uint32_t scan_max;      /* keys looked at, at most */
} qp_kv_page_t;

/* Looks at one key (in the page's read transaction, which it may use to
 * read the record the key names); *shown when it went into the page.
 * Returns 0 or a QP_E* / LMDB code that ends the page. */
typedef int (*qp_kv_page_visit_fn)(void *ctx, MDB_txn *txn, const MDB_val *key, bool *shown);

/* Walks one page, calling visit for each key in order.  next (key_size
 * bytes) gets the last key looked at; *more is true when more keys may
 * follow (then next is the page's cursor).  Returns 0 or QP_E*. */
int qp_kv_page(qp_kv_t *kv, const qp_kv_page_t *p, qp_kv_page_visit_fn visit, void *ctx,
               uint8_t *next, bool *more);

#endif
