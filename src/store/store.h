/*
 * store.h - durable storage primitives any module uses: the file I/O seam,
 * atomic whole-file replacement, the data directory lock and the journal.
 * The LMDB wrapper is the module's second public header, store/kv.h (kept
 * apart so that users of this one never see LMDB's types).
 *
 * The journal is an append-only file of records.  Each record is
 *
 *   offset size  field
 *        0   16  header_checksum  BLAKE2b-128 of bytes [16, 128)
 *       16   32  hash             BLAKE2b-256 of bytes [48, size): that is
 *                                 H(prev_hash || the rest of the record)
 *       48   32  prev_hash        hash of the previous record (zeros first)
 *       80    4  magic            "QPJ1"
 *       84    2  version          1
 *       86    2  op               the record's type (caller-defined; ledger: qp_op_t)
 *       88    4  size             whole record in bytes, header included
 *       92    4  count            caller-defined (ledger: events in the body)
 *       96    8  seq              1, 2, 3, ... without gaps
 *      104    8  now_ns           caller-defined time input (ledger: the batch's)
 *      112   16  tag              caller-defined (ledger: the API key that submitted the
 *                                 batch; zero = none).  Zero in every record written before
 *                                 tags existed, when readers still refused anything else
 *      128    -  body             0..body_max opaque bytes
 *
 * all little-endian.  The header checksum lets a reader trust `size` before
 * reading the body; the hash checks the body and chains the record to all
 * history, so the last record's hash (the head hash) commits to everything.
 *
 * What a body may hold is a journal's format (qp_journal_format_t): its
 * largest body and, optionally, a fixed item size that a body must be
 * `count` items of.  The format is not stored in the file - the module that
 * owns a journal passes it to every open and scan - so the byte layout is
 * the one version-1 layout every ledger journal already has (docs/journal.md).
 *
 * All file access goes through qp_io_t so that the simulator can substitute
 * a disk that crashes, tears writes and flips bits (DESIGN.md section 2).
 */
#ifndef QP_STORE_STORE_H
#define QP_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"

/* ------------------------------------------------------------- file I/O */

/* A file seam.  Every function returns 0 or a negative QP_E* code; the
 * default implementation maps errno EIO to QP_EIO and ENOSPC to QP_ENOSPC. */
typedef struct qp_io {
  void *ctx; /* implementation state */
  /* Reads exactly len bytes at offset (short only at end of file: *got). */
  int (*read_at)(void *ctx, void *buf, size_t len, uint64_t offset, size_t *got);
  /* Writes all len bytes at offset. */
  int (*write_at)(void *ctx, const void *buf, size_t len, uint64_t offset);
  /* Makes every completed write durable (fdatasync). */
  int (*sync)(void *ctx);
  /* Sets the file size. */
  int (*truncate)(void *ctx, uint64_t size);
  /* Current file size. */
  int (*size)(void *ctx, uint64_t *out);
  /* Reserves disk blocks up to `size` without changing the file size, so
   * that later writes below it cannot fail with ENOSPC.  May be NULL. */
  int (*reserve)(void *ctx, uint64_t size);
  /* Closes the file; ctx is invalid afterwards. */
  void (*close)(void *ctx);
} qp_io_t;

/* Opens (creating with mode 0600 if `create`) a POSIX file behind *io.
 * Returns 0, QP_ENOTFOUND, QP_EIO. */
int qp_io_open_file(const char *path, bool create, bool read_only, qp_io_t *io);

/* Reads the whole regular file at path, at most bytes_max bytes, into a
 * qp_malloc'ed NUL-terminated buffer *out (the caller qp_free()s it) of
 * *len_out bytes; *mode_out (may be NULL) receives its permission bits.
 * Returns 0, QP_ENOTFOUND (no such file), QP_ELIMIT (larger than
 * bytes_max), QP_EIO or QP_ENOMEM; detail names the path and the reason.
 * The read side of qp_file_replace, for small files such as keys and
 * configuration. */
int qp_file_read(const char *path, size_t bytes_max, char **out, size_t *len_out,
                 unsigned *mode_out, char *detail, size_t detail_size);

/* fsyncs a directory, so that a newly created file's entry is durable. */
int qp_fsync_dir(const char *path);

/* Creates a directory (and parents) with mode 0700 if missing. */
int qp_mkdir_p(const char *path);

/* ------------------------------------------------- atomic file replace */

/* Replaces the file at `path` with data[0, len) so that a crash leaves
 * either the old file or the new one, never a mix: writes `path`.tmp in
 * the same directory (created with `mode`, or emptied if a crashed replace
 * left one), fsyncs it, renames it over path and fsyncs the directory.  On
 * failure the temp file is removed and path is untouched (unless only the
 * final directory fsync failed: then path is the new file, not yet known
 * durable).  One replace of a given path at a time: callers serialise
 * (a lock, or a single writer).  detail (may be NULL) names the file and
 * the reason on failure.  Returns 0, QP_EINVAL (path too long),
 * QP_ENOTFOUND (no such directory), QP_ENOSPC or QP_EIO. */
int qp_file_replace(const char *path, const void *data, size_t len, unsigned mode, char *detail,
                    size_t detail_size);

/* The streaming form, for contents written piece by piece or at offsets
 * (a sparse file): begin, write through qp_file_replace_write or the
 * handle's io, then commit or abort.  Exactly one of commit/abort ends a
 * begun replace and frees the handle. */
typedef struct qp_file_replace qp_file_replace_t;

/* Creates path.tmp (see qp_file_replace) and hands back the replace in
 * *out, the caller's until commit or abort.  Returns like qp_file_replace
 * or QP_ENOMEM. */
int qp_file_replace_begin(const char *path, unsigned mode, qp_file_replace_t **out, char *detail,
                          size_t detail_size);

/* Appends data[0, len) after what was appended so far.  A failure is
 * remembered: commit then fails with it.  Returns 0, QP_ENOSPC or QP_EIO. */
int qp_file_replace_write(qp_file_replace_t *r, const void *data, size_t len);

/* The temp file as a qp_io_t for positional writes (write_at, truncate,
 * size); owned by r, valid until commit/abort.  Its failures are the
 * caller's to pass to qp_file_replace_abort. */
const qp_io_t *qp_file_replace_io(qp_file_replace_t *r);

/* fsync, rename over the path, fsync of the directory; frees r.  On
 * failure the temp file is removed.  Returns like qp_file_replace. */
int qp_file_replace_commit(qp_file_replace_t *r, char *detail, size_t detail_size);

/* Removes the temp file, leaving path as it was; frees r (NULL: no-op). */
void qp_file_replace_abort(qp_file_replace_t *r);

/* ------------------------------------------ records rewritten in place */

/* A small record that is replaced often and must survive any crash (the
 * chain's safety record, written before every vote): a file of two equal
 * slots, each
 *
 *   checksum 16 (BLAKE2b-128 of the rest of the header and the record) |
 *   magic "QPS1" u32 | length u32 | seq u64 | record | zeros to the slot's end
 *
 * all little-endian; a slot whose header is all zeros was never written.
 * A write goes to the slot not holding the newest record, then fdatasync:
 * the file keeps its size, so no file-system metadata is journaled and one
 * flush makes it durable (qp_file_replace costs a file and a directory
 * fsync).  A crash during a write leaves that slot failing its checksum;
 * readers take the newest valid slot, which is the record the last
 * successful write made durable.  (Damage to the newest slot alone reads
 * the same as a torn write: the previous record is returned.)  One writer
 * per file. */
typedef struct qp_slot_file qp_slot_file_t;

/* Opens the file at path, creating it (atomically, mode `mode`, slots
 * sized for data_max bytes) when it does not exist, and copies its newest
 * record into data (room for data_max bytes) with its length in *len (0:
 * no record yet).  Returns 0; QP_ECORRUPT when both slots fail their
 * checksums or the file is not a slot file; QP_ELIMIT when the record is
 * larger than data_max; QP_EINVAL, QP_ENOMEM, QP_ENOSPC, QP_EIO.  detail
 * names the file and the reason. */
int qp_slot_file_open(const char *path, size_t data_max, unsigned mode, qp_slot_file_t **out,
                      uint8_t *data, size_t *len, char *detail, size_t detail_size);

/* Makes data[0, len) the file's record, durably, before returning 0.  A
 * record larger than the slots rewrites the file whole (qp_file_replace).
 * After a failure the file takes no more writes (QP_EIO): its last
 * durable record is still there for the next open. */
int qp_slot_file_write(qp_slot_file_t *f, const void *data, size_t len, char *detail,
                       size_t detail_size);

/* Closes the file (NULL: no-op). */
void qp_slot_file_close(qp_slot_file_t *f);

/* Takes the exclusive lock file `dir/quipu.lock` (flock, non-blocking).
 * Returns 0 and the fd in *fd_out, or QP_ELOCKED naming the holder's pid in
 * detail.  Release with qp_lock_release(). */
int qp_lock_acquire(const char *dir, int *fd_out, char *detail, size_t detail_size);
void qp_lock_release(int fd);

/* Takes the same lock for a reader that must not run beside a writer
 * (`quipu verify`): like qp_lock_acquire, but a directory that does not
 * exist, or a read-only one without a lock file, is no error (nothing can
 * be writing there): then *fd_out is -1.  A lock file that cannot be
 * written is locked through a read-only descriptor, its pid left as it is.
 * Returns 0 with the fd (or -1) in *fd_out, the caller's to pass to
 * qp_lock_release; QP_ELOCKED with "a quipu process (pid N) holds DIR" in
 * detail; QP_EINVAL or QP_EIO. */
int qp_lock_try(const char *dir, int *fd_out, char *detail, size_t detail_size);

/* -------------------------------------------------------------- journal */

#define QP_JOURNAL_HEADER_SIZE 128u
#define QP_JOURNAL_TAG_SIZE 16u     /* caller-defined bytes in each record's header */
#define QP_JOURNAL_MAGIC 0x314A5051u /* "QPJ1" little-endian */
#define QP_JOURNAL_VERSION 1u
/* No journal's format may allow a larger body than this (a reader holds
 * one whole record in memory). */
#define QP_JOURNAL_BODY_LIMIT (64u << 20)
/* The largest body of the events format below (8190 events of 128 bytes). */
#define QP_JOURNAL_BODY_MAX (8190u * 128u)
#define QP_JOURNAL_RECORD_MAX (QP_JOURNAL_HEADER_SIZE + QP_JOURNAL_BODY_MAX)

/* What the bodies of one journal may be.  Invariant: body_max <=
 * QP_JOURNAL_BODY_LIMIT.  A reader calls a record that breaks its format
 * corrupt ("header fields out of range"), exactly like a bad magic. */
typedef struct qp_journal_format {
  uint32_t body_max;   /* largest body in bytes; 0 allows only empty bodies */
  uint32_t count_unit; /* 0: bodies are opaque; n: a body is exactly count * n bytes */
} qp_journal_format_t;

/* The events format: bodies of `count` 128-byte items, at most 8190 of them.
 * Every journal had it before the format became a parameter, and the
 * functions below that take no format use it (the ledger's batches). */
#define QP_JOURNAL_FORMAT_EVENTS ((qp_journal_format_t){QP_JOURNAL_BODY_MAX, 128u})

/* One record as read back. */
typedef struct qp_journal_record {
  uint64_t offset;                  /* where it starts in the file */
  uint64_t seq;                     /* 1-based position in the chain */
  uint64_t now_ns;                  /* caller-defined time input */
  uint32_t op;                      /* the record's type (0..65535) */
  uint32_t count;                   /* caller-defined count */
  uint32_t size;                    /* whole record */
  uint8_t tag[QP_JOURNAL_TAG_SIZE]; /* caller-defined; zero when none was given */
  const uint8_t *body;              /* the body; valid during the visit only */
  uint32_t body_size;               /* bytes of body (size - header) */
  uint8_t hash[QP_HASH_SIZE];       /* this record's chain hash */
} qp_journal_record_t;

/* The outcome of reading a journal from the start. */
typedef struct qp_journal_scan {
  uint64_t file_size;               /* bytes in the file */
  uint64_t valid_bytes;             /* end of the last good record */
  uint64_t records;                 /* good records */
  uint64_t events;                  /* sum of their count fields */
  uint64_t last_seq;                /* seq of the last good record (0 = none) */
  uint8_t last_hash[QP_HASH_SIZE];  /* its hash (zeros = none) */
  int problem;                      /* 0, QP_ETORN or QP_ECORRUPT */
  uint64_t problem_offset;          /* where the bad bytes start */
  uint64_t problem_seq;             /* seq the bad record would have had */
  char detail[256];                 /* what was wrong, for humans */
} qp_journal_scan_t;

/* Called for every good record in order; a non-zero return stops the scan
 * and is returned by qp_journal_scan(). */
typedef int (*qp_journal_visit_fn)(void *ctx, const qp_journal_record_t *record);

/* Reads the whole journal behind io from offset 0, verifying each record's
 * header checksum, hash and place in the chain, and calls visit (may be
 * NULL) for each good one.  Stops at the first bad record and describes it
 * in *out: QP_ETORN for damage confined to the tail that a crash mid-append
 * can produce (a short header or body, an all-zero region to the end, or a
 * bad hash in the very last record); QP_ECORRUPT for anything else (damage
 * with intact data after it, a broken chain, a header checksum mismatch).
 * Returns 0 (also when a problem was found: see out->problem), an I/O error,
 * QP_ENOMEM, or the visitor's non-zero value. */
int qp_journal_scan(const qp_io_t *io, qp_journal_visit_fn visit, void *ctx,
                    qp_journal_scan_t *out);

/* qp_journal_scan for a journal of format *fmt (the functions without a
 * format use QP_JOURNAL_FORMAT_EVENTS).  The body pointer handed to visit
 * is owned by the scan and valid only during that call.  Returns like
 * qp_journal_scan, plus QP_EINVAL for a format beyond QP_JOURNAL_BODY_LIMIT. */
int qp_journal_scan_fmt(const qp_io_t *io, const qp_journal_format_t *fmt,
                        qp_journal_visit_fn visit, void *ctx, qp_journal_scan_t *out);

/* Like qp_journal_scan, but starts at `start`, a record boundary, as if the
 * records before it had been read: the first record must have seq
 * start_seq + 1 and prev_hash == start_hash, or it is QP_ECORRUPT (so a
 * tail that does not continue the given position is refused; whether the
 * bytes before `start` really end that way is qp_journal_verify_prefix's
 * job).  Start at the position the index has applied to read only the
 * tail at startup.  start == 0 requires start_seq == 0 and an all-zero
 * start_hash and is exactly qp_journal_scan; start > 0 requires
 * start_seq > 0; otherwise QP_EINVAL.
 *
 * out->records/events count only the records visited; out->valid_bytes,
 * last_seq and last_hash are absolute (start, start_seq and start_hash if
 * nothing follows start).  Records after start are judged torn or corrupt
 * by qp_journal_scan's rules, with problem_seq/problem_offset absolute.  A
 * file shorter than `start` is QP_ECORRUPT in out->problem (committed
 * records are missing) with problem_seq = start_seq and problem_offset =
 * the file size; valid_bytes then still says `start` and must not be used
 * to cut the file.  Returns like qp_journal_scan, plus QP_EINVAL. */
int qp_journal_scan_from(const qp_io_t *io, uint64_t start, uint64_t start_seq,
                         const uint8_t start_hash[QP_HASH_SIZE], qp_journal_visit_fn visit,
                         void *ctx, qp_journal_scan_t *out);

/* qp_journal_scan_from for a journal of format *fmt; QP_EINVAL also for a
 * bad format. */
int qp_journal_scan_from_fmt(const qp_io_t *io, const qp_journal_format_t *fmt, uint64_t start,
                             uint64_t start_seq, const uint8_t start_hash[QP_HASH_SIZE],
                             qp_journal_visit_fn visit, void *ctx, qp_journal_scan_t *out);

/* Verifies the committed prefix [0, end) of the journal behind io: every
 * record's header checksum, hash and chain link, seq 1..end_seq without
 * gaps, the last record ending exactly at `end` with seq end_seq and hash
 * end_hash (end == 0 means end_seq 0 and a zero hash).  Meant to run in a
 * background thread after a startup that read only the tail (see
 * qp_journal_scan_from): it reads only below `end`, through io->read_at
 * and io->size, so another thread may append to the same file beyond
 * `end` meanwhile.  Memory is one read window (at most 4 MiB), allocated
 * once (or one record of the largest size, if bigger); the time is one
 * BLAKE2b pass over the prefix.
 *
 * Any deviation - including what qp_journal_scan would call a torn tail,
 * since these records were committed - returns QP_ECORRUPT with detail
 * naming the record: "journal record N at offset O: what was wrong".
 * `stop` (may be NULL) is polled before the first record and between
 * records; once it reads true the check gives up with QP_ESTOPPED (err.h
 * has no "cancelled" code; ESTOPPED's message speaks of a fatal error, so
 * a caller that set the flag should treat this return as its own
 * cancellation, not log it as a failure).  *events_out (may be NULL)
 * receives the sum of the count fields of the records checked good.  detail (may be NULL)
 * is written on QP_ECORRUPT and empty otherwise.  Returns 0 when the
 * prefix is intact, QP_ECORRUPT, QP_ESTOPPED, an I/O error (QP_EIO also
 * when two reads of a record disagree) or QP_ENOMEM. */
int qp_journal_verify_prefix(const qp_io_t *io, uint64_t end, uint64_t end_seq,
                             const uint8_t end_hash[QP_HASH_SIZE], const _Atomic bool *stop,
                             uint64_t *events_out, char *detail, size_t detail_size);

/* qp_journal_verify_prefix for a journal of format *fmt; QP_EINVAL for a
 * bad format. */
int qp_journal_verify_prefix_fmt(const qp_io_t *io, const qp_journal_format_t *fmt, uint64_t end,
                                 uint64_t end_seq, const uint8_t end_hash[QP_HASH_SIZE],
                                 const _Atomic bool *stop, uint64_t *events_out, char *detail,
                                 size_t detail_size);

/* The append side.  Records are staged into a group buffer and written with
 * one write and one sync by qp_journal_commit(). */
typedef struct qp_journal qp_journal_t;

/* Takes ownership of io (closed by qp_journal_close) on success only; on
 * failure the caller still owns and closes it.  The file must end at `end`
 * with a record whose seq/hash are given (0/zeros for an empty file).
 * group_bytes_max bounds one group (at least one record of the largest
 * size).  The format is QP_JOURNAL_FORMAT_EVENTS.  Returns 0 or QP_ENOMEM;
 * *out is the caller's, released with qp_journal_close. */
int qp_journal_open(qp_io_t *io, uint64_t end, uint64_t last_seq,
                    const uint8_t last_hash[QP_HASH_SIZE], size_t group_bytes_max,
                    qp_journal_t **out);

/* qp_journal_open for a journal of format *fmt (copied): records staged
 * later must fit it.  Returns 0, QP_EINVAL (bad format) or QP_ENOMEM. */
int qp_journal_open_fmt(qp_io_t *io, const qp_journal_format_t *fmt, uint64_t end,
                        uint64_t last_seq, const uint8_t last_hash[QP_HASH_SIZE],
                        size_t group_bytes_max, qp_journal_t **out);
void qp_journal_close(qp_journal_t *j);

/* Makes sure the file system has room for `bytes` more bytes of records
 * (fallocate ahead, in large steps), so that a commit of that much cannot
 * fail for lack of space.  Returns 0 or QP_ENOSPC/QP_EIO; nothing is staged
 * or written either way.  Call before applying a group to the state. */
int qp_journal_reserve(qp_journal_t *j, uint64_t bytes);

/* Room left in the group buffer, in bytes of body (after one header). */
size_t qp_journal_group_room(const qp_journal_t *j);

/* Stages one record of type `op` (at most 65535) with the caller-defined
 * count and now_ns: returns a pointer to body_size bytes (owned by the
 * journal) for the caller to fill before the next call to stage/commit, or
 * NULL if the group is full or the journal poisoned.  A body that breaks
 * the journal's format (too large, or not count units) is a caller bug and
 * aborts. */
uint8_t *qp_journal_stage(qp_journal_t *j, uint32_t op, uint32_t count, uint64_t now_ns,
                          uint32_t body_size);

/* qp_journal_stage with the record's tag (NULL = zero). */
uint8_t *qp_journal_stage_tagged(qp_journal_t *j, uint32_t op, uint32_t count, uint64_t now_ns,
                                 const uint8_t tag[QP_JOURNAL_TAG_SIZE], uint32_t body_size);

/* Seals the staged records (checksums, hashes), writes them with one write
 * and makes them durable with one sync.  Returns 0; on any error the
 * journal is poisoned (every later call returns QP_ESTOPPED) because the
 * file's tail is no longer known. */
int qp_journal_commit(qp_journal_t *j);

/* State of the durable end of the journal. */
uint64_t qp_journal_size(const qp_journal_t *j);
uint64_t qp_journal_last_seq(const qp_journal_t *j);
void qp_journal_head_hash(const qp_journal_t *j, uint8_t out[QP_HASH_SIZE]);
bool qp_journal_poisoned(const qp_journal_t *j);

#endif
