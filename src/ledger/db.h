/*
 * db.h - the durable ledger: qp_db_t, the module's second public header.
 *
 * qp_db_t wraps a qp_ledger_t (ledger.h) with the journal (the truth: every
 * batch is appended, checksummed and hash-chained, and fdatasync'ed before
 * results are returned) and an LMDB index (transfers, per-account history,
 * the accounts checkpoint), which a background thread brings up to date
 * after each commit and which the journal can always rebuild.  Also here:
 * the audit (cheap, from totals kept as batches apply) and `quipu verify`
 * (qp_db_verify, which recomputes everything from the journal).
 */
#ifndef QP_LEDGER_DB_H
#define QP_LEDGER_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "ledger/ledger.h"
#include "store/store.h"

typedef enum {
  QP_OP_CREATE_ACCOUNTS = 1,  /* events are qp_account_t */
  QP_OP_CREATE_TRANSFERS = 2, /* events are qp_transfer_t */
  QP_OP_EXPIRE = 3            /* no events: sweep pending timeouts */
} qp_op_t;

typedef struct qp_db qp_db_t; /* opaque */

typedef struct qp_db_options {
  qp_ledger_config_t ledger;         /* state machine limits */
  uint64_t (*clock_ns)(void *ctx);   /* wall clock; NULL = CLOCK_REALTIME */
  void *clock_ctx;                   /* passed to clock_ns */
  size_t index_map_size;             /* LMDB map size in bytes (0 = 64 GiB) */
  uint64_t index_lag_max;            /* writer waits when the index lags by this many
                                        changes, see qp_ledger_untaken (0 = 4Mi) */
  uint64_t evict_min_rows;           /* stored transfers leave memory once this many
                                        have accumulated (0 = 256Ki); tests use 1 */
  bool lock_held;                    /* the caller (the node runtime) holds the data
                                        directory's lock: open does not take it */
  uint64_t verify_sync_max;          /* open re-hashes the journal prefix the index
                                        already holds before returning when it is at
                                        most this many bytes, else in a background
                                        thread that fail-stops the db on damage
                                        (0 = 256 MiB; UINT64_MAX = always before) */
  /* Simulation: when set, the journal is opened through this function (a
   * simulated disk) and nothing else touches the file system: no lock, no
   * LMDB index (state comes from replaying the whole journal; account
   * balance history is unavailable).  Used by the deterministic simulator. */
  int (*open_journal)(void *ctx, qp_io_t *io);
  void *open_journal_ctx;            /* passed to open_journal */
  uint32_t check_every_ms;           /* the full invariant check runs in the background this
                                        often, if anything was committed since the last one
                                        (0 = 60 s; UINT32_MAX = never; not in simulated mode) */
  bool replicated;                   /* cluster mode: open finds the last Raft position
                                        (qp_db_replica_pos) even when the index's position
                                        is past it, by reading the journal's headers once */
  /* Test seam: the applier calls this before storing each round it took
   * (outside every lock); a test blocks in it to hold the index back. */
  void (*applier_round_hook)(void *ctx);
  void *applier_round_hook_ctx;      /* passed to applier_round_hook */
} qp_db_options_t;

/* What open found and did; filled by qp_db_open. */
typedef struct qp_db_recovery {
  uint64_t journal_bytes;     /* bytes of valid journal */
  uint64_t batches;           /* records in the journal */
  uint64_t replayed_batches;  /* records replayed into the index at open */
  uint64_t torn_bytes;        /* bytes truncated from a torn tail (0 = none) */
  uint64_t torn_offset;       /* where the torn tail started */
  uint64_t verify_background; /* prefix bytes left to a background check (0 = none) */
} qp_db_recovery_t;

/* Opens (creating if needed) the ledger under `dir/ledger/`, taking the
 * data directory lock `dir/quipu.lock`.  Recovers a torn journal tail
 * (truncates it and reports it in *recovery) and brings the index up to date.
 * Returns 0; QP_ELOCKED if another process holds the directory; QP_ECORRUPT
 * if committed history is damaged (detail names the record's offset);
 * QP_EIO/QP_EDB/QP_ENOMEM otherwise.  detail (may be NULL) receives a
 * human-readable explanation of any failure. */
int qp_db_open(const char *dir, const qp_db_options_t *options, qp_db_t **out,
               qp_db_recovery_t *recovery, char *detail, size_t detail_size);

/* The background check of the journal prefix (see verify_sync_max): 0
 * while running or passed, QP_ECORRUPT (and the db fail-stopped) if it
 * found damage; detail receives what and where.  *done tells whether it
 * finished. */
int qp_db_verify_status(qp_db_t *db, bool *done, char *detail, size_t detail_size);

/* Flushes the index, releases the lock and frees db.  Safe on NULL. */
void qp_db_close(qp_db_t *db);

/* One batch in a group commit. */
typedef struct qp_db_request {
  qp_op_t op;             /* what the events are */
  const void *events;     /* qp_account_t[] or qp_transfer_t[]; caller-owned */
  uint32_t count;         /* 1..QP_BATCH_EVENTS_MAX (0 for QP_OP_EXPIRE) */
  uint32_t *results;      /* out: count result codes; caller-owned */
  int status;             /* out: 0, or why the batch was not applied */
  uint64_t submitter;     /* who sent it (an API key's id), journaled with it; 0 = none */
  uint64_t replica_pos;   /* cluster mode: (Raft index << 16) | ordinal in the entry,
                             journaled in the tag's second half; 0 = none */
} qp_db_request_t;

/* Applies `count` batches in order and makes them durable with one journal
 * append and one fdatasync (group commit).  Results are valid only when this
 * returns 0.  On QP_EIO/QP_ENOSPC from the journal the db becomes fail-stop:
 * every later write returns QP_ESTOPPED, because the in-memory state may be
 * ahead of what is on disk.  Requests with a bad op/count get status
 * QP_EINVAL and are skipped; the others are still committed. */
int qp_db_execute(qp_db_t *db, qp_db_request_t *requests, uint32_t count);

/* Convenience single-batch forms of qp_db_execute. */
int qp_db_create_accounts(qp_db_t *db, const qp_account_t *events, uint32_t count,
                          uint32_t *results);
int qp_db_create_transfers(qp_db_t *db, const qp_transfer_t *events, uint32_t count,
                           uint32_t *results);

/* Lookups see every committed event.  For each id found, copies the record
 * to out[*found_out] (out has room for count rows) in the order of ids;
 * unknown ids are skipped.  Thread-safe with respect to writers. */
int qp_db_lookup_accounts(qp_db_t *db, const qp_u128 *ids, uint32_t count, qp_account_t *out,
                          uint32_t *found_out);
int qp_db_lookup_transfers(qp_db_t *db, const qp_u128 *ids, uint32_t count,
                           qp_transfer_t *out, qp_pending_state_t *states_out,
                           uint32_t *found_out);

#define QP_FILTER_DEBITS (1u << 0)   /* include transfers debiting the account */
#define QP_FILTER_CREDITS (1u << 1)  /* include transfers crediting the account */
#define QP_FILTER_REVERSED (1u << 2) /* newest first */

/* A history query.  Timestamps are inclusive bounds; 0 = unbounded. */
typedef struct qp_account_filter {
  qp_u128 account_id;     /* the account */
  uint64_t timestamp_min; /* earliest timestamp, inclusive; 0 = no bound */
  uint64_t timestamp_max; /* latest timestamp, inclusive; 0 = no bound */
  uint32_t limit;         /* rows wanted, 1..QP_QUERY_LIMIT_MAX */
  uint32_t flags;         /* QP_FILTER_*; neither DEBITS nor CREDITS = both */
} qp_account_filter_t;

/* The account's transfers in timestamp order (reversed if asked), at most
 * filter->limit of them, into out.  Returns 0, QP_EINVAL (bad filter) or
 * QP_EDB.  Waits until the index holds every committed batch. */
int qp_db_get_account_transfers(qp_db_t *db, const qp_account_filter_t *filter,
                                qp_transfer_t *out, uint32_t *count_out);

/* Who submitted the events stamped timestamps[0, count): the `submitter`
 * of their requests, 0 where none was recorded (no key, an expiry, a batch
 * journaled before submitters were).  Waits for the index when a
 * timestamp is newer than what it holds.  Returns 0, QP_ESTOPPED, QP_EDB. */
int qp_db_submitters(qp_db_t *db, const uint64_t *timestamps, uint32_t count, uint64_t *out);

/* A query over every account or transfer (TigerBeetle's QueryFilter):
 * the records whose fields equal every non-zero field given, in timestamp
 * order (newest first with QP_QUERY_REVERSED), at most `limit`.  Served
 * from the index's query table (ledger/query.h): the cost follows the rows
 * matching the most selective field, not the ledger's size. */
#define QP_QUERY_REVERSED (1u << 0)

typedef struct qp_query_filter {
  qp_u128 user_data_128;  /* 0 = any */
  uint64_t user_data_64;  /* 0 = any */
  uint32_t user_data_32;  /* 0 = any */
  uint32_t ledger;        /* 0 = any */
  uint16_t code;          /* 0 = any */
  uint64_t timestamp_min; /* inclusive; 0 = no bound */
  uint64_t timestamp_max; /* inclusive; 0 = no bound */
  uint32_t limit;         /* rows wanted, 1..QP_QUERY_LIMIT_MAX */
  uint32_t flags;         /* QP_QUERY_* */
} qp_query_filter_t;

/* Fill out[] (room for filter->limit rows) with the accounts (their
 * current balances) or transfers (and their pending states, if states is
 * not NULL) the filter selects.  Return 0, QP_EINVAL (bad filter),
 * QP_ENOTSUP (no index: a db opened without one), QP_ESTOPPED, QP_EDB.
 * Wait until the index holds every committed batch. */
int qp_db_query_accounts(qp_db_t *db, const qp_query_filter_t *filter, qp_account_t *out,
                         uint32_t *count_out);
int qp_db_query_transfers(qp_db_t *db, const qp_query_filter_t *filter, qp_transfer_t *out,
                          qp_pending_state_t *states, uint32_t *count_out);

/* The balances after each of the account's transfers (accounts with the
 * `history` flag; others return 0 rows). Same filter rules. */
int qp_db_get_account_balances(qp_db_t *db, const qp_account_filter_t *filter,
                               qp_account_balance_t *out, uint32_t *count_out);

/* A summary of the journal and the state, for `GET /v1/audit`.  Everything
 * but the full_check_* fields is read under one hold of the state lock, so
 * the counts, head_hash and totals all describe the state right after
 * journal record journal_seq.  It costs O(ledgers): the totals are kept as
 * batches apply.  The O(accounts + transfers) recomputation runs elsewhere:
 * at open, in the background (options.check_every_ms), on demand
 * (qp_db_check) and offline in `quipu verify`. */
typedef struct qp_db_audit {
  uint64_t journal_seq;             /* the journal position all of this reflects */
  uint64_t batches;                 /* journal records (= journal_seq) */
  uint64_t events;                  /* events in them */
  uint64_t journal_bytes;           /* bytes of journal */
  uint64_t accounts;                /* accounts in the state */
  uint64_t transfers;               /* transfers in the state */
  uint64_t transfers_in_memory;     /* of which held in memory (the rest: index only) */
  uint8_t head_hash[QP_HASH_SIZE];  /* hash of record journal_seq (zeros if none) */
  bool totals_balanced;             /* the running totals: debits = credits in every ledger */
  uint64_t full_check_seq;          /* journal seq at the last full check */
  bool full_check_ok;               /* the last full check (qp_ledger_check) held */
  bool invariant_ok;                /* totals_balanced && full_check_ok */
} qp_db_audit_t;

/* Fills *out and, if totals is not NULL, up to totals_capacity per-ledger
 * rows (caller-owned) with the number of ledgers in *totals_count.
 * Returns 0. */
int qp_db_audit(qp_db_t *db, qp_db_audit_t *out, qp_ledger_totals_t *totals,
                uint32_t totals_capacity, uint32_t *totals_count);

/* Runs the full invariant check (qp_ledger_check: recomputes every ledger's
 * sums from the accounts and the pending transfers, and compares them with
 * the running totals) now, under the state lock as a reader - commits wait
 * for it, O(accounts + transfers) - and records the verdict for the audit.
 * *holds (may be NULL) receives it; a broken invariant is also logged.
 * Returns 0 or QP_ENOMEM. */
int qp_db_check(qp_db_t *db, bool *holds);

/* Brings the index up to date with every committed batch (the background
 * applier otherwise does this lazily).  Returns 0 or QP_EDB. */
int qp_db_sync_index(qp_db_t *db);

/* What an operator watches (GET /metrics): how far the index lags behind
 * the journal, how long ago the last commit was, and whether the ledger
 * still takes writes and its journal passed the check after restart. */
typedef struct qp_db_health {
  uint64_t journal_seq;        /* last durable journal record */
  uint64_t index_seq;          /* last record the LMDB index holds */
  uint64_t index_lag_ns;       /* how long the index has been behind (0 = caught up) */
  uint64_t index_lag_events;   /* events committed but not yet in the index */
  uint64_t index_lag_max;      /* the back-pressure bound (options.index_lag_max, changes) */
  uint64_t index_waits;        /* times a commit waited for the index at that bound */
  uint64_t index_wait_ns;      /* total time commits waited for it */
  uint64_t last_commit_age_ns; /* since the last commit; UINT64_MAX = none since open */
  bool stopped;                /* qp_db_stopped */
  int journal_check;           /* 1 passed, 0 still running, -1 found damage */
} qp_db_health_t;

/* Fills *out; cheap (one mutex), safe from any thread.  Returns 0. */
int qp_db_health(qp_db_t *db, qp_db_health_t *out);

/* When the next pending transfer times out (wall-clock ns; 0 = none). */
uint64_t qp_db_next_expiry(qp_db_t *db);

/* The replica_pos of the last journal record that carried one (cluster
 * mode: how far this journal has applied the Raft log); 0 = none. */
uint64_t qp_db_replica_pos(qp_db_t *db);

/* True once a journal write or fsync failed: the db refuses writes. */
bool qp_db_stopped(const qp_db_t *db);

/* -------------------------------------------------------------- verify */

typedef struct qp_verify_report {
  uint64_t batches;                 /* records checked */
  uint64_t events;                  /* events replayed */
  uint64_t journal_bytes;           /* bytes checked */
  uint64_t accounts;                /* accounts after replay */
  uint64_t transfers;               /* transfers after replay */
  uint8_t head_hash[QP_HASH_SIZE];  /* hash of the last good record */
  qp_ledger_totals_t totals[64];    /* per-ledger totals (first 64 ledgers) */
  uint32_t totals_count;            /* distinct ledgers (may exceed 64) */
  bool invariant_ok;                /* Σdebits = Σcredits for every ledger */
  bool index_ok;                    /* the LMDB index matched the replay */
  bool index_compared;              /* there was a (current) index to compare */
  uint64_t index_mismatches;        /* accounts/transfers that differed */
  uint64_t bad_offset;              /* first bad record's offset, if any */
  bool live;                        /* qp_db_verify_live ran (index contents not compared) */
  uint64_t live_end;                /* live: the journal's size when the check started */
  uint64_t index_applied_seq;       /* live: the record the index says it has applied
                                       (0 = none or no index); its hash was checked */
  uint64_t tail_unchecked_bytes;    /* live: bytes after journal_bytes (up to live_end)
                                       left out as being written (0 = none) */
} qp_verify_report_t;

/* Replays the whole journal under dir/ledger/ from scratch, checks every
 * checksum and the hash chain, recomputes every balance and compares the
 * result with the LMDB index.  Reads only; it holds the data directory's
 * lock (qp_lock_try) while it runs, so that no server writes meanwhile and
 * none can start.  Returns 0 when intact; QP_ELOCKED ("a quipu process
 * (pid N) holds DIR" in detail) when another process holds the lock, with
 * nothing checked; QP_ECORRUPT/QP_ETORN with detail naming the first bad
 * record; or another error. */
int qp_db_verify(const char *dir, qp_verify_report_t *report, char *detail,
                 size_t detail_size);

/* The check that can run beside a server: takes no lock, and checks the
 * journal as it stood when the check started (report->live_end) - every
 * checksum, the hash chain, the replay with every balance, the per-ledger
 * totals and the invariant - without comparing the index's contents,
 * which its applier may be writing.  The index is read once, in one LMDB
 * read transaction, for the position it has applied, and that record's
 * hash, offset and event count are checked against the journal (exact:
 * those bytes were committed before the index recorded them).  A record
 * after that position that does not check out may be one the server is
 * still writing: the scan stops there and reports the bytes left out in
 * report->tail_unchecked_bytes instead of a failure (qp_db_verify, with the
 * server stopped, tells in-flight from damaged).  Returns like qp_db_verify,
 * never QP_ELOCKED. */
int qp_db_verify_live(const char *dir, qp_verify_report_t *report, char *detail,
                      size_t detail_size);

/* -------------------------------------------------------------- backup */

/* A position in the ledger's journal: its committed prefix [0,
 * journal_bytes), ending with record `seq`. */
typedef struct qp_db_position {
  uint64_t seq;                     /* the last record (0 = empty journal) */
  uint8_t head_hash[QP_HASH_SIZE];  /* its hash (zeros = none) */
  uint64_t events;                  /* events in the prefix */
  uint64_t journal_bytes;           /* bytes of the prefix */
  uint64_t excluded_bytes;          /* qp_db_backup_position: bytes after it left out as
                                       being written (or a torn tail a restart would cut) */
} qp_db_position_t;

/* Where the committed journal under dir/ledger/ ends now, for a backup:
 * takes no lock and writes nothing, so it runs beside a server.  Every
 * record up to the position is checked (header checksum, hash, chain); a
 * record that does not check out is left out as in flight only when it
 * lies after the index's applied position and within one group commit of
 * the journal's end (out->excluded_bytes), else it is damage.  The bytes
 * below the position never change again (the journal is append-only).
 * Returns 0; QP_ENOTFOUND (no journal); QP_ECORRUPT with detail naming
 * the record; QP_EIO. */
int qp_db_backup_position(const char *dir, qp_db_position_t *out, char *detail,
                          size_t detail_size);

/* Checks that io (read_at and size) holds a ledger journal of exactly
 * pos->journal_bytes bytes ending with record pos->seq of hash
 * pos->head_hash after pos->events events: every record's checksum, hash
 * and chain link.  Returns 0, QP_ECORRUPT (detail names the record or the
 * field), QP_EIO or QP_ENOMEM. */
int qp_db_check_journal(const qp_io_t *io, const qp_db_position_t *pos, char *detail,
                        size_t detail_size);

/* Opens the ledger under dir once - which, with no index there, replays
 * the whole journal and rebuilds the index - and checks that it opened
 * exactly at *pos (seq, head hash, events, bytes, nothing torn) with the
 * invariant holding; then writes the index out and closes.  *audit (may be
 * NULL) receives what it opened to.  Takes dir's lock meanwhile.  Returns
 * 0, QP_ECORRUPT (detail: what differs) or what qp_db_open returns. */
int qp_db_check_restored(const char *dir, const qp_db_position_t *pos, qp_db_audit_t *audit,
                         char *detail, size_t detail_size);

#endif
