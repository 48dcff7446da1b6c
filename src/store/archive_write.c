/*
 * archive_write.c - writing a backup archive (format in archive.h).  The
 * archive is streamed into path.tmp through qp_file_replace, hashed as it
 * goes, and before it is renamed into place it is read back whole by the
 * same checks a restore runs (plus the caller's own): a backup that would
 * be refused at restore is never published.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/err.h"
#include "store/archive.h"

#define CHUNK_BYTES (1u << 20)
#define ARCHIVE_PATH_BYTES_MAX 4096u

struct qp_archive_writer {
  qp_file_replace_t *replace;         /* path.tmp until finish */
  char path[ARCHIVE_PATH_BYTES_MAX];  /* where the archive goes */
  qp_hash_ctx_t file;                 /* hash of everything written */
  uint32_t count;                     /* entries written */
  int error;                          /* the first failure (0 = none) */
  char paths[QP_ARCHIVE_ENTRIES_MAX][QP_ARCHIVE_PATH_MAX + 1]; /* entries so far */
};

/* Writes data, hashing it into the file hash and (if given) an entry's. */
static int emit(qp_archive_writer_t *w, const void *data, size_t len, qp_hash_ctx_t *entry) {
  if (w->error != 0) return w->error;
  qp_hash256_update(&w->file, data, len);
  if (entry != NULL) qp_hash256_update(entry, data, len);
  w->error = qp_file_replace_write(w->replace, data, len);
  return w->error;
}

int qp_archive_create(const char *path, bool overwrite, qp_archive_writer_t **out, char *detail,
                      size_t detail_size) {
  *out = NULL;
  if (detail && detail_size) detail[0] = '\0';
  if (strlen(path) >= ARCHIVE_PATH_BYTES_MAX - 8) {
    if (detail) snprintf(detail, detail_size, "the path %s is too long", path);
    return QP_EINVAL;
  }
  struct stat st;
  if (!overwrite && lstat(path, &st) == 0) {
    if (detail) snprintf(detail, detail_size, "%s exists; refusing to overwrite it", path);
    return QP_EEXISTS;
  }
  qp_archive_writer_t *w = qp_calloc(1, sizeof *w);
  if (w == NULL) return QP_ENOMEM;
  snprintf(w->path, sizeof w->path, "%s", path);
  int rc = qp_file_replace_begin(path, 0600, &w->replace, detail, detail_size);
  if (rc != 0) {
    qp_free(w);
    return rc;
  }
  qp_hash256_init(&w->file);
  uint8_t h[QP_ARCHIVE_HEADER_SIZE] = {0};
  memcpy(h, "QPBACKUP", 8);
  qp_store_u32(h + 8, QP_ARCHIVE_VERSION);
  rc = emit(w, h, sizeof h, NULL);
  if (rc != 0) {
    if (detail) snprintf(detail, detail_size, "cannot write %s.tmp: %s", path, qp_strerror(rc));
    qp_archive_abort(w);
    return rc;
  }
  *out = w;
  return 0;
}

/* Refuses what no reader would accept, before anything is written. */
static int check_new_entry(qp_archive_writer_t *w, const char *path, unsigned mode,
                           char *detail, size_t detail_size) {
  const char *why = NULL;
  if (!qp_archive_path_ok(path, strlen(path))) why = "is not a safe relative path";
  else if (mode > 0777) why = "has a mode beyond 0777";
  else if (w->count == QP_ARCHIVE_ENTRIES_MAX) why = "is one entry too many (at most 64)";
  for (uint32_t i = 0; why == NULL && i < w->count; i++)
    if (strcmp(w->paths[i], path) == 0) why = "is already in the archive";
  if (why == NULL) return 0;
  if (detail) snprintf(detail, detail_size, "entry %s %s", path, why);
  return QP_EINVAL;
}

/* Copies length bytes of src into the archive through chunk. */
static int copy_contents(qp_archive_writer_t *w, const qp_io_t *src, uint64_t length,
                         uint8_t *chunk, qp_hash_ctx_t *eh) {
  for (uint64_t done = 0; done < length;) {
    size_t n = length - done > CHUNK_BYTES ? CHUNK_BYTES : (size_t)(length - done), got = 0;
    int rc = src->read_at(src->ctx, chunk, n, done, &got);
    if (rc == 0 && got != n) rc = QP_EIO; /* the source ended sooner */
    if (rc == 0) rc = emit(w, chunk, n, eh);
    if (rc != 0) return rc;
    done += n;
  }
  return 0;
}

int qp_archive_add(qp_archive_writer_t *w, const char *path, unsigned mode, const qp_io_t *src,
                   uint64_t length, char *detail, size_t detail_size) {
  int rc = check_new_entry(w, path, mode, detail, detail_size);
  if (rc != 0) return w->error = rc;
  size_t path_len = strlen(path);
  uint8_t h[QP_ARCHIVE_ENTRY_HEADER_SIZE] = {0};
  memcpy(h, "QPBE", 4);
  qp_store_u32(h + 4, mode);
  qp_store_u64(h + 8, length);
  qp_store_u16(h + 16, (uint16_t)path_len);
  qp_hash_ctx_t eh;
  qp_hash256_init(&eh);
  uint8_t *chunk = qp_malloc(CHUNK_BYTES);
  rc = chunk == NULL ? QP_ENOMEM : emit(w, h, sizeof h, &eh);
  if (rc == 0) rc = emit(w, path, path_len, &eh);
  if (rc == 0) rc = copy_contents(w, src, length, chunk, &eh);
  qp_free(chunk);
  uint8_t hash[QP_HASH_SIZE];
  qp_hash256_final(&eh, hash);
  if (rc == 0) rc = emit(w, hash, sizeof hash, NULL);
  if (rc != 0) {
    w->error = rc;
    if (detail)
      snprintf(detail, detail_size, "cannot add %s to %s.tmp: %s", path, w->path,
               rc == QP_EIO ? "reading it or writing the archive failed (input/output error)"
                            : qp_strerror(rc));
    return rc;
  }
  snprintf(w->paths[w->count++], sizeof w->paths[0], "%s", path);
  return 0;
}

typedef struct memory_src {
  const uint8_t *data; /* the bytes */
  size_t length;       /* how many */
} memory_src_t;

static int memory_read_at(void *ctx, void *buf, size_t len, uint64_t offset, size_t *got) {
  memory_src_t *m = ctx;
  *got = 0;
  if (offset >= m->length) return 0;
  *got = len < m->length - offset ? len : (size_t)(m->length - offset);
  memcpy(buf, m->data + offset, *got);
  return 0;
}

int qp_archive_add_bytes(qp_archive_writer_t *w, const char *path, unsigned mode,
                         const void *data, size_t length, char *detail, size_t detail_size) {
  memory_src_t m = {data, length};
  qp_io_t io = {.ctx = &m, .read_at = memory_read_at};
  return qp_archive_add(w, path, mode, &io, length, detail, detail_size);
}

static int seal(qp_archive_writer_t *w, const qp_archive_position_t *p) {
  uint8_t t[QP_ARCHIVE_TRAILER_SIZE] = {0};
  memcpy(t, "QPBT", 4);
  qp_store_u32(t + 4, w->count);
  qp_store_u64(t + 8, p->seq);
  memcpy(t + 16, p->head_hash, QP_HASH_SIZE);
  qp_store_u64(t + 48, p->events);
  qp_store_u64(t + 56, p->journal_bytes);
  int rc = emit(w, t, 64, NULL);
  qp_hash256_final(&w->file, t + 64);
  if (rc == 0) rc = emit(w, t + 64, QP_HASH_SIZE, NULL);
  return rc;
}

/* Reads the sealed temp file back as a restore would. */
static int read_back(qp_archive_writer_t *w, qp_archive_check_fn check, void *ctx, char *detail,
                     size_t detail_size) {
  char tmp[ARCHIVE_PATH_BYTES_MAX + 8], inner[512];
  snprintf(tmp, sizeof tmp, "%s.tmp", w->path); /* qp_file_replace's temp file */
  qp_archive_t *a = qp_malloc(sizeof *a);
  if (a == NULL) return QP_ENOMEM;
  int rc = qp_archive_open(tmp, a, inner, sizeof inner);
  if (rc == 0) qp_archive_close(a);
  qp_free(a);
  if (rc != 0) {
    if (detail) snprintf(detail, detail_size, "%s reads back wrong: %s", tmp, inner);
    return rc;
  }
  return check != NULL ? check(ctx, tmp, detail, detail_size) : 0;
}

int qp_archive_finish(qp_archive_writer_t *w, const qp_archive_position_t *position,
                      qp_archive_check_fn check, void *ctx, char *detail, size_t detail_size) {
  int rc = w->error;
  if (rc != 0) {
    if (detail && detail_size && detail[0] == '\0')
      snprintf(detail, detail_size, "an entry could not be added: %s", qp_strerror(rc));
    qp_archive_abort(w);
    return rc;
  }
  rc = seal(w, position);
  if (rc != 0) {
    if (detail) snprintf(detail, detail_size, "cannot write %s.tmp: %s", w->path, qp_strerror(rc));
    qp_archive_abort(w);
    return rc;
  }
  rc = read_back(w, check, ctx, detail, detail_size);
  if (rc != 0) {
    qp_archive_abort(w);
    return rc;
  }
  rc = qp_file_replace_commit(w->replace, detail, detail_size);
  qp_free(w);
  return rc;
}

void qp_archive_abort(qp_archive_writer_t *w) {
  if (w == NULL) return;
  qp_file_replace_abort(w->replace);
  qp_free(w);
}
