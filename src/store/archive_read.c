/*
 * archive_read.c - reading a backup archive (format in archive.h): one
 * sequential pass checks the header, every entry's framing, path and hash,
 * the trailer and the hash of the whole file before a caller may read any
 * entry out, and the copy out hashes the entry once more on the way.  The
 * checks say which part is wrong, because an operator restoring from a
 * damaged backup needs to know whether to look for another copy (damaged
 * contents) or another file (not a backup, truncated in transfer).
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "store/archive.h"

#define CHUNK_BYTES (1u << 20)

/* A sequential reader that hashes what it reads into the file hash and,
 * when given, an entry's hash. */
typedef struct reader {
  qp_io_t *io;            /* the archive */
  uint64_t pos;           /* next byte to read */
  qp_hash_ctx_t file;     /* hash of bytes [0, pos) */
  uint8_t *chunk;         /* scratch */
  size_t chunk_bytes;     /* its size: CHUNK_BYTES, or less for a small file */
  char *detail;           /* where failures are described */
  size_t detail_size;
} reader_t;

static int fail(reader_t *r, int rc, const char *what) {
  if (r->detail && r->detail_size) snprintf(r->detail, r->detail_size, "%s", what);
  return rc;
}

/* Reads len bytes at r->pos into dst, hashing them. */
static int read_next(reader_t *r, uint8_t *dst, size_t len, qp_hash_ctx_t *entry) {
  size_t got = 0;
  int rc = r->io->read_at(r->io->ctx, dst, len, r->pos, &got);
  if (rc != 0) return fail(r, rc, "cannot read the archive");
  if (got != len) return fail(r, QP_ECORRUPT, "the archive is truncated");
  qp_hash256_update(&r->file, dst, len);
  if (entry != NULL) qp_hash256_update(entry, dst, len);
  r->pos += len;
  return 0;
}

/* Reads and hashes `len` bytes of contents. */
static int skim(reader_t *r, uint64_t len, qp_hash_ctx_t *entry) {
  while (len > 0) {
    size_t n = len > r->chunk_bytes ? r->chunk_bytes : (size_t)len;
    int rc = read_next(r, r->chunk, n, entry);
    if (rc != 0) return rc;
    len -= n;
  }
  return 0;
}

static bool component_char_ok(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-';
}

bool qp_archive_path_ok(const char *path, size_t len) {
  if (len == 0 || len > QP_ARCHIVE_PATH_MAX) return false;
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && path[i] != '/') {
      if (!component_char_ok(path[i])) return false;
      continue;
    }
    size_t n = i - start; /* a component: not empty, not "." or ".." */
    if (n == 0 || (n == 1 && path[start] == '.') ||
        (n == 2 && path[start] == '.' && path[start + 1] == '.'))
      return false;
    start = i + 1;
  }
  return true;
}

int qp_archive_find(const qp_archive_t *a, const char *path) {
  for (uint32_t i = 0; i < a->count; i++)
    if (strcmp(a->entries[i].path, path) == 0) return (int)i;
  return -1;
}

static int check_header(reader_t *r) {
  uint8_t h[QP_ARCHIVE_HEADER_SIZE];
  int rc = read_next(r, h, sizeof h, NULL);
  if (rc != 0) return rc;
  if (memcmp(h, "QPBACKUP", 8) != 0)
    return fail(r, QP_ECORRUPT, "not a quipu backup (no QPBACKUP header)");
  uint32_t version = qp_load_u32(h + 8);
  if (version != QP_ARCHIVE_VERSION) {
    char what[96];
    snprintf(what, sizeof what, "backup format version %u; this quipu reads version %u",
             (unsigned)version, QP_ARCHIVE_VERSION);
    return fail(r, QP_ECORRUPT, what);
  }
  for (size_t i = 12; i < sizeof h; i++)
    if (h[i] != 0) return fail(r, QP_ECORRUPT, "the header's reserved bytes are not zero");
  return 0;
}

/* Fails with "entry N at offset O: why". */
static int entry_fail(reader_t *r, uint32_t n, uint64_t at, const char *why) {
  if (r->detail && r->detail_size)
    snprintf(r->detail, r->detail_size, "entry %u at offset %llu: %s", (unsigned)n + 1,
             (unsigned long long)at, why);
  return QP_ECORRUPT;
}

/* Reads entry n's framing and path (hashed into *eh) into *e; `limit` is
 * where the trailer starts. */
static int read_entry_head(reader_t *r, qp_archive_t *a, uint64_t limit, qp_hash_ctx_t *eh,
                           qp_archive_entry_t *e) {
  uint32_t n = a->count;
  uint64_t at = r->pos;
  uint8_t h[QP_ARCHIVE_ENTRY_HEADER_SIZE];
  if (limit - at < sizeof h) return entry_fail(r, n, at, "cut short (the archive is truncated)");
  int rc = read_next(r, h, sizeof h, eh);
  if (rc != 0) return rc;
  if (memcmp(h, "QPBE", 4) != 0)
    return entry_fail(r, n, at, "no entry tag where an entry or the trailer should be");
  e->mode = qp_load_u32(h + 4);
  e->length = qp_load_u64(h + 8);
  uint32_t path_len = qp_load_u16(h + 16);
  for (int i = 18; i < 24; i++)
    if (h[i] != 0) return entry_fail(r, n, at, "reserved bytes are not zero");
  if (e->mode > 0777) return entry_fail(r, n, at, "mode has bits beyond 0777");
  if (path_len == 0 || path_len > QP_ARCHIVE_PATH_MAX)
    return entry_fail(r, n, at, "path length out of range (1..255)");
  uint64_t room = limit - r->pos;
  if (room < path_len || room - path_len < QP_HASH_SIZE ||
      room - path_len - QP_HASH_SIZE < e->length)
    return entry_fail(r, n, at, "runs past the end of the archive (truncated?)");
  rc = read_next(r, (uint8_t *)e->path, path_len, eh);
  if (rc != 0) return rc;
  e->path[path_len] = '\0';
  if (memchr(e->path, '\0', path_len) != NULL || !qp_archive_path_ok(e->path, path_len))
    return entry_fail(r, n, at, "unsafe path (absolute, empty, '.', '..' or odd characters)");
  if (qp_archive_find(a, e->path) >= 0) return entry_fail(r, n, at, "a second entry of a path");
  e->offset = r->pos;
  return 0;
}

static int check_entry(reader_t *r, qp_archive_t *a, uint64_t limit) {
  if (a->count == QP_ARCHIVE_ENTRIES_MAX)
    return entry_fail(r, a->count, r->pos, "more entries than allowed (64)");
  qp_archive_entry_t *e = &a->entries[a->count];
  qp_hash_ctx_t eh;
  qp_hash256_init(&eh);
  int rc = read_entry_head(r, a, limit, &eh, e);
  if (rc == 0) rc = skim(r, e->length, &eh);
  uint8_t want[QP_HASH_SIZE], got[QP_HASH_SIZE];
  if (rc == 0) rc = read_next(r, want, sizeof want, NULL);
  if (rc != 0) return rc;
  qp_hash256_final(&eh, got);
  if (memcmp(want, got, QP_HASH_SIZE) != 0) {
    char what[QP_ARCHIVE_PATH_MAX + 64];
    snprintf(what, sizeof what, "entry %s: its contents do not match its hash", e->path);
    return fail(r, QP_ECORRUPT, what);
  }
  a->count++;
  return 0;
}

/* The trailer at the end of the file: read raw first (is there one at
 * all?), hashed when the walk reaches it. */
static int check_trailer(reader_t *r, qp_archive_t *a, const uint8_t t[QP_ARCHIVE_TRAILER_SIZE]) {
  qp_hash256_update(&r->file, t, 64);
  uint8_t got[QP_HASH_SIZE];
  qp_hash256_final(&r->file, got);
  if (memcmp(got, t + 64, QP_HASH_SIZE) != 0)
    return fail(r, QP_ECORRUPT,
                "the archive's hash does not match (its header, framing or trailer changed)");
  if (qp_load_u32(t + 4) != a->count)
    return fail(r, QP_ECORRUPT, "the trailer's entry count disagrees with the entries");
  a->position.seq = qp_load_u64(t + 8);
  memcpy(a->position.head_hash, t + 16, QP_HASH_SIZE);
  a->position.events = qp_load_u64(t + 48);
  a->position.journal_bytes = qp_load_u64(t + 56);
  return 0;
}

static int check_all(reader_t *r, qp_archive_t *a) {
  if (a->size < QP_ARCHIVE_HEADER_SIZE + QP_ARCHIVE_TRAILER_SIZE)
    return fail(r, QP_ECORRUPT, "the archive is truncated (shorter than a header and trailer)");
  int rc = check_header(r);
  if (rc != 0) return rc;
  uint64_t limit = a->size - QP_ARCHIVE_TRAILER_SIZE;
  uint8_t t[QP_ARCHIVE_TRAILER_SIZE];
  size_t got = 0;
  rc = a->io.read_at(a->io.ctx, t, sizeof t, limit, &got);
  if (rc != 0 || got != sizeof t) return fail(r, rc ? rc : QP_EIO, "cannot read the trailer");
  if (memcmp(t, "QPBT", 4) != 0)
    return fail(r, QP_ECORRUPT, "no trailer at the end: the archive is truncated or incomplete");
  while (r->pos < limit) {
    rc = check_entry(r, a, limit);
    if (rc != 0) return rc;
  }
  QP_ASSERT(r->pos == limit);
  return check_trailer(r, a, t);
}

int qp_archive_open_io(qp_io_t *io, qp_archive_t *a, char *detail, size_t detail_size) {
  memset(a, 0, sizeof *a);
  if (detail && detail_size) detail[0] = '\0';
  a->io = *io;
  reader_t r = {.io = &a->io, .detail = detail, .detail_size = detail_size};
  qp_hash256_init(&r.file);
  int rc = a->io.size(a->io.ctx, &a->size);
  if (rc != 0) fail(&r, rc, "cannot read the archive's size");
  r.chunk_bytes = a->size < CHUNK_BYTES ? (size_t)a->size + 1 : CHUNK_BYTES;
  r.chunk = rc == 0 ? qp_malloc(r.chunk_bytes) : NULL;
  if (rc == 0 && r.chunk == NULL) rc = fail(&r, QP_ENOMEM, "out of memory");
  if (rc == 0) rc = check_all(&r, a);
  qp_free(r.chunk);
  if (rc != 0) qp_archive_close(a);
  return rc;
}

int qp_archive_open(const char *path, qp_archive_t *a, char *detail, size_t detail_size) {
  qp_io_t io;
  int rc = qp_io_open_file(path, false, true, &io);
  if (rc != 0) {
    memset(a, 0, sizeof *a);
    if (detail) snprintf(detail, detail_size, "cannot open %s: %s", path, qp_strerror(rc));
    return rc;
  }
  return qp_archive_open_io(&io, a, detail, detail_size);
}

void qp_archive_close(qp_archive_t *a) {
  if (a->io.close != NULL) a->io.close(a->io.ctx);
  a->io = (qp_io_t){0};
}

static int window_read_at(void *ctx, void *buf, size_t len, uint64_t offset, size_t *got) {
  qp_archive_window_t *w = ctx;
  *got = 0;
  if (offset >= w->length) return 0;
  if (len > w->length - offset) len = (size_t)(w->length - offset);
  const qp_io_t *io = &w->archive->io;
  return io->read_at(io->ctx, buf, len, w->offset + offset, got);
}

static int window_size(void *ctx, uint64_t *out) {
  *out = ((qp_archive_window_t *)ctx)->length;
  return 0;
}

void qp_archive_entry_io(const qp_archive_t *a, uint32_t i, qp_archive_window_t *window,
                         qp_io_t *io) {
  QP_ASSERT(i < a->count);
  *window = (qp_archive_window_t){a, a->entries[i].offset, a->entries[i].length};
  *io = (qp_io_t){.ctx = window, .read_at = window_read_at, .size = window_size};
}

/* Copies entry e's contents into r, hashing framing, path and contents
 * into *eh; *want receives the stored hash. */
static int copy_entry(const qp_archive_t *a, const qp_archive_entry_t *e, qp_file_replace_t *r,
                      uint8_t *chunk, qp_hash_ctx_t *eh, uint8_t want[QP_HASH_SIZE]) {
  size_t path_len = strlen(e->path);
  uint64_t at = e->offset - path_len - QP_ARCHIVE_ENTRY_HEADER_SIZE;
  size_t head = QP_ARCHIVE_ENTRY_HEADER_SIZE + path_len, got = 0;
  int rc = a->io.read_at(a->io.ctx, chunk, head, at, &got);
  if (rc == 0 && got != head) rc = QP_EIO;
  if (rc == 0) qp_hash256_update(eh, chunk, head);
  for (uint64_t done = 0; rc == 0 && done < e->length;) {
    size_t n = e->length - done > CHUNK_BYTES ? CHUNK_BYTES : (size_t)(e->length - done);
    rc = a->io.read_at(a->io.ctx, chunk, n, e->offset + done, &got);
    if (rc == 0 && got != n) rc = QP_EIO;
    if (rc == 0) qp_hash256_update(eh, chunk, n);
    if (rc == 0) rc = qp_file_replace_write(r, chunk, n);
    done += n;
  }
  if (rc == 0) rc = a->io.read_at(a->io.ctx, want, QP_HASH_SIZE, e->offset + e->length, &got);
  if (rc == 0 && got != QP_HASH_SIZE) rc = QP_EIO;
  return rc;
}

int qp_archive_extract(const qp_archive_t *a, uint32_t i, const char *dest, unsigned mode,
                       char *detail, size_t detail_size) {
  QP_ASSERT(i < a->count);
  const qp_archive_entry_t *e = &a->entries[i];
  qp_file_replace_t *r;
  int rc = qp_file_replace_begin(dest, mode, &r, detail, detail_size);
  if (rc != 0) return rc;
  uint8_t *chunk = qp_malloc(CHUNK_BYTES);
  qp_hash_ctx_t eh;
  qp_hash256_init(&eh);
  uint8_t want[QP_HASH_SIZE], got[QP_HASH_SIZE];
  rc = chunk == NULL ? QP_ENOMEM : copy_entry(a, e, r, chunk, &eh, want);
  qp_free(chunk);
  qp_hash256_final(&eh, got);
  if (rc == 0 && memcmp(want, got, QP_HASH_SIZE) != 0) rc = QP_ECORRUPT;
  if (rc != 0) {
    if (detail)
      snprintf(detail, detail_size, "cannot copy entry %s to %s: %s", e->path, dest,
               rc == QP_ECORRUPT ? "the archive changed since it was checked" : qp_strerror(rc));
    qp_file_replace_abort(r);
    return rc;
  }
  return qp_file_replace_commit(r, detail, detail_size);
}
