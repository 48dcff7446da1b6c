/*
 * accounts.h - (private to ledger/) the accounts checkpoint file,
 * <data>/ledger/state/accounts: every account's record at a fixed place,
 * row r at offset 4096 + 128 r, in creation order - the layout of the
 * state machine's own array, so a restart reads it back with large
 * sequential reads.
 *
 * Why not in LMDB with the rest of the index: the applier rewrites every
 * account a round touched, and with 10M accounts spread over 400k B-tree
 * pages a round touches most of them - LMDB then holds each dirty page in
 * memory until commit (gigabytes at 10M accounts) and maps every page it
 * reads.  Here an update is a 128-byte pwrite through the page cache,
 * which costs this process no memory.
 *
 * Crash safety comes from a redo log kept in the LMDB index (the
 * account_wal table, see index.h): each round's changed accounts go into
 * the same LMDB transaction as the rest of the round, and only then into
 * this file (rows, fdatasync, header, fdatasync).  The header says which
 * round the file is complete up to; on open, the log's later rounds are
 * applied again (idempotent: they carry whole records), so a crash in the
 * middle of writing rows loses nothing.  The header is kept twice (two
 * slots, the newer valid one wins), so a torn header write is harmless.
 */
#ifndef QP_LEDGER_ACCOUNTS_H
#define QP_LEDGER_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/db.h"

#include "store/store.h"

typedef struct qp__accounts_file {
  qp_io_t io;        /* the open file */
  bool open;         /* io is open */
  uint64_t seq;      /* journal seq of the round the file is complete up to */
  uint64_t rows;     /* rows in the file */
  uint64_t writes;   /* header writes so far (picks the slot) */
  char path[4200];   /* for messages */
} qp__accounts_file_t;

/* Opens (creating an empty one unless read_only) the file in `dir`.
 * *created tells whether it did not exist.  Returns 0, QP_ENOTFOUND (read
 * only, missing), QP_ECORRUPT (no valid header; detail says why), QP_EIO. */
int qp__accounts_open(qp__accounts_file_t *af, const char *dir, bool read_only, bool *created,
                      char *detail, size_t detail_size);
void qp__accounts_close(qp__accounts_file_t *af);

/* Calls fn for rows [0, af->rows) in order, in chunks: rows [first, first + n)
 * decoded into `rows` (fn may change them). */
int qp__accounts_read(const qp__accounts_file_t *af,
                      int (*fn)(void *ctx, uint64_t first, qp_account_t *rows, uint32_t n),
                      void *ctx);

/* Writes `count` accounts at their rows, makes them durable, then records
 * in the header that the file is complete up to round `seq`. */
int qp__accounts_write(qp__accounts_file_t *af, const qp_account_t *accounts, const uint32_t *rows,
                       uint32_t count, uint64_t seq);

/* The redo log's rounds the file lacks, merged: each row's latest record,
 * sorted by row, and the last round's seq. */
typedef struct qp__accounts_redo {
  qp_account_t *accounts;
  uint32_t *rows;
  uint64_t count;
  uint64_t last_seq;
} qp__accounts_redo_t;

struct qp__index;
/* Appends to an empty ledger the accounts as the index holds them: the
 * file's rows, each replaced by the redo log's latest record for it (the
 * file's bytes for that row may be a torn or lost write), then the rows only
 * the log has.  *redo receives the merged log (to write back with
 * qp__accounts_write); free it with qp__accounts_redo_free either way.
 * Returns 0, QP_ECORRUPT, QP_EEXISTS (a duplicate id), QP_ENOMEM, QP_EDB. */
int qp__accounts_load(const qp__accounts_file_t *af, struct qp__index *ix, qp_ledger_t *ledger,
                      qp__accounts_redo_t *redo);
void qp__accounts_redo_free(qp__accounts_redo_t *redo);

/* The redo log's record of one round: count entries of row (4, LE) and the
 * account (128, qp_account_encode). */
#define QP__ACCOUNT_WAL_ENTRY 132u
void qp__accounts_wal_encode(uint8_t *out, const qp_account_t *accounts, const uint32_t *rows,
                             uint32_t count);
/* Decodes entry i of a log record (i < len / QP__ACCOUNT_WAL_ENTRY). */
void qp__accounts_wal_entry(const uint8_t *blob, uint32_t i, uint32_t *row, qp_account_t *a);

#endif
