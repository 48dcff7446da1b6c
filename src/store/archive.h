/*
 * archive.h - the backup archive: one file holding a few named files of a
 * data directory and the journal position they were taken at, checked whole
 * before anything is read out of it.  Public (like store/kv.h): `quipu
 * backup` writes it, `quipu restore` reads it.  Format (docs/backup.md),
 * all integers little-endian:
 *
 *   header   32 bytes  "QPBACKUP", u32 version (1), 20 zero bytes
 *   entry    (repeated)
 *              0  4  tag "QPBE"
 *              4  4  mode (permission bits, at most 0777)
 *              8  8  length of the contents
 *             16  2  path length, 1..QP_ARCHIVE_PATH_MAX
 *             18  6  zero
 *             24  -  path (relative: [A-Za-z0-9._-] components joined by
 *                    '/', none empty, "." or "..")
 *              -  -  contents
 *              -  32 BLAKE2b-256 of the entry's bytes before this field
 *   trailer  96 bytes
 *              0  4  tag "QPBT"
 *              4  4  number of entries
 *              8  8  journal position: seq of the last record
 *             16 32  its hash (the head hash)
 *             48  8  events up to it
 *             56  8  journal bytes up to it
 *             64 32  BLAKE2b-256 of every byte of the file before this field
 *
 * The per-entry hash names the damaged entry; the file hash covers the
 * header, the entry framing and the trailer.  A file is read by one
 * sequential pass that checks both, so a flipped byte, a cut or appended
 * tail, a forged trailer or an unsafe path is refused before a caller
 * writes anything.
 */
#ifndef QP_STORE_ARCHIVE_H
#define QP_STORE_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "store/store.h"

#define QP_ARCHIVE_VERSION 1u
#define QP_ARCHIVE_HEADER_SIZE 32u
#define QP_ARCHIVE_ENTRY_HEADER_SIZE 24u
#define QP_ARCHIVE_TRAILER_SIZE 96u
#define QP_ARCHIVE_PATH_MAX 255u  /* bytes of an entry's path */
#define QP_ARCHIVE_ENTRIES_MAX 64u /* entries in one archive */

/* Where the journal in the archive ends: its last record and what lies
 * before it.  All zero for an empty journal. */
typedef struct qp_archive_position {
  uint64_t seq;                    /* seq of the last record */
  uint8_t head_hash[QP_HASH_SIZE]; /* that record's hash */
  uint64_t events;                 /* sum of the count fields up to it */
  uint64_t journal_bytes;          /* bytes of journal up to its end */
} qp_archive_position_t;

/* One entry of a checked archive. */
typedef struct qp_archive_entry {
  char path[QP_ARCHIVE_PATH_MAX + 1]; /* relative path, NUL-terminated */
  unsigned mode;                      /* permission bits as recorded */
  uint64_t offset;                    /* where the contents start in the file */
  uint64_t length;                    /* bytes of contents */
} qp_archive_entry_t;

/* A checked archive, open for reading.  Caller-allocated; filled by
 * qp_archive_open, released by qp_archive_close. */
typedef struct qp_archive {
  qp_io_t io;                                          /* the file, read-only */
  uint64_t size;                                       /* its bytes */
  uint32_t count;                                      /* entries */
  qp_archive_entry_t entries[QP_ARCHIVE_ENTRIES_MAX];  /* in file order */
  qp_archive_position_t position;                      /* from the trailer */
} qp_archive_t;

/* Opens the archive at path and checks all of it: header, every entry's
 * framing, path and hash, the trailer and the file hash.  On success *a
 * is the caller's (qp_archive_close).  Returns 0; QP_ENOTFOUND (no such
 * file); QP_ECORRUPT with detail naming the part that is wrong ("entry
 * ledger/journal: its contents do not match its hash", "the archive is
 * truncated", ...); QP_EIO or QP_ENOMEM.  On failure nothing stays open. */
int qp_archive_open(const char *path, qp_archive_t *a, char *detail, size_t detail_size);

/* qp_archive_open over an io (read_at, size, close) that it takes over:
 * closed by qp_archive_close, or before a failure returns.  The fuzz
 * target reads archives from memory this way. */
int qp_archive_open_io(qp_io_t *io, qp_archive_t *a, char *detail, size_t detail_size);

/* Closes an opened archive.  Safe to call twice. */
void qp_archive_close(qp_archive_t *a);

/* The index of the entry named path, or -1. */
int qp_archive_find(const qp_archive_t *a, const char *path);

/* A read-only qp_io_t (read_at and size only) over entry i's contents,
 * valid while *a is open; *window is its storage, caller-allocated. */
typedef struct qp_archive_window {
  const qp_archive_t *archive; /* the open archive */
  uint64_t offset;             /* the entry's contents in the file */
  uint64_t length;             /* their bytes */
} qp_archive_window_t;
void qp_archive_entry_io(const qp_archive_t *a, uint32_t i, qp_archive_window_t *window,
                         qp_io_t *io);

/* Copies entry i into dest with `mode` through qp_file_replace (temp file,
 * fsync, rename): dest appears whole or not at all.  The contents are
 * hashed again on the way and a mismatch (the archive changed since it was
 * opened) aborts the copy with QP_ECORRUPT.  The directory of dest must
 * exist.  Returns 0 or like qp_file_replace; detail names what failed. */
int qp_archive_extract(const qp_archive_t *a, uint32_t i, const char *dest, unsigned mode,
                       char *detail, size_t detail_size);

/* True when path is acceptable as an entry's path (see the format above). */
bool qp_archive_path_ok(const char *path, size_t len);

/* ------------------------------------------------------------- writing */

typedef struct qp_archive_writer qp_archive_writer_t;

/* Starts an archive at path (written to path.tmp until qp_archive_finish,
 * mode 0600).  An existing path is refused with QP_EEXISTS unless
 * `overwrite`.  Returns 0 with *out the caller's (finish or abort),
 * QP_EEXISTS, QP_EINVAL, QP_ENOTFOUND (no such directory), QP_EIO or
 * QP_ENOMEM; detail says which. */
int qp_archive_create(const char *path, bool overwrite, qp_archive_writer_t **out, char *detail,
                      size_t detail_size);

/* Appends an entry: `length` bytes read from src (read_at) from offset 0.
 * A source that ends sooner fails with QP_EIO.  Returns 0, QP_EINVAL (a
 * bad path or mode, or too many entries), QP_EIO, QP_ENOSPC; a failure
 * is remembered and makes qp_archive_finish fail. */
int qp_archive_add(qp_archive_writer_t *w, const char *path, unsigned mode, const qp_io_t *src,
                   uint64_t length, char *detail, size_t detail_size);

/* qp_archive_add from memory. */
int qp_archive_add_bytes(qp_archive_writer_t *w, const char *path, unsigned mode,
                         const void *data, size_t length, char *detail, size_t detail_size);

/* Checks a finished archive before it is published: called with the
 * temp file's path; returns 0 or an error with detail filled. */
typedef int (*qp_archive_check_fn)(void *ctx, const char *path, char *detail,
                                   size_t detail_size);

/* Writes the trailer with *position, reads the whole file back through
 * qp_archive_open (and `check`, if not NULL), then fsyncs and renames it
 * into place.  Frees w either way; on failure the temp file is removed and
 * path is as it was.  Returns 0 or the first error, detail saying it. */
int qp_archive_finish(qp_archive_writer_t *w, const qp_archive_position_t *position,
                      qp_archive_check_fn check, void *ctx, char *detail, size_t detail_size);

/* Drops an unfinished archive: removes the temp file, frees w (NULL ok). */
void qp_archive_abort(qp_archive_writer_t *w);

#endif
