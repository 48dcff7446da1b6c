/*
 * fuzz_archive.c - libFuzzer target for the backup archive reader (the
 * file `quipu restore` is handed): the input is a whole archive.  The
 * fuzzer cannot forge BLAKE2b, so the seed corpus holds real archives it
 * can splice and truncate, and an input starting with 'W' is a recipe
 * written with the real writer (entry paths, modes and contents taken from
 * the input), which must read back whole.  Properties: no crash; an
 * accepted archive's entries are safe paths, lie in order inside the file
 * and end where the trailer starts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/err.h"
#include "store/archive.h"

typedef struct mem_file {
  const uint8_t *data; /* the input */
  size_t size;         /* its bytes */
} mem_file_t;

static int mem_read_at(void *ctx, void *buf, size_t len, uint64_t offset, size_t *got) {
  mem_file_t *f = ctx;
  size_t n = offset >= f->size ? 0 : (f->size - offset < len ? f->size - (size_t)offset : len);
  if (n) memcpy(buf, f->data + offset, n);
  *got = n;
  return 0;
}
static int mem_size(void *ctx, uint64_t *out) {
  *out = ((mem_file_t *)ctx)->size;
  return 0;
}
static void mem_close(void *ctx) { (void)ctx; }

static void check_accepted(const qp_archive_t *a) {
  uint64_t at = QP_ARCHIVE_HEADER_SIZE;
  for (uint32_t i = 0; i < a->count; i++) {
    const qp_archive_entry_t *e = &a->entries[i];
    QP_ASSERT(qp_archive_path_ok(e->path, strlen(e->path)));
    QP_ASSERT(e->mode <= 0777);
    QP_ASSERT(e->offset == at + QP_ARCHIVE_ENTRY_HEADER_SIZE + strlen(e->path));
    at = e->offset + e->length + QP_HASH_SIZE;
  }
  QP_ASSERT(at + QP_ARCHIVE_TRAILER_SIZE == a->size);
}

static qp_archive_t archive;

static int read_mem(const uint8_t *data, size_t size) {
  mem_file_t f = {data, size};
  qp_io_t io = {.ctx = &f, .read_at = mem_read_at, .size = mem_size, .close = mem_close};
  char detail[512];
  int rc = qp_archive_open_io(&io, &archive, detail, sizeof detail);
  if (rc == 0) {
    check_accepted(&archive);
    qp_archive_close(&archive);
  } else {
    QP_ASSERT(rc == QP_ECORRUPT && detail[0] != '\0');
  }
  return rc;
}

/* 'W' recipe: entries of (path length, path, mode, content length, content)
 * written with the real writer into a temp file; accepted paths must read
 * back whole. */
static void recipe(const uint8_t *data, size_t size) {
  char path[] = "/tmp/fuzz-archive-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return;
  close(fd);
  unlink(path);
  qp_archive_writer_t *w;
  if (qp_archive_create(path, false, &w, NULL, 0) != 0) return;
  uint32_t added = 0;
  for (size_t at = 1; at + 3 <= size && added < 8;) {
    size_t plen = data[at] % 16 + 1, clen = data[at + 1];
    unsigned mode = data[at + 2] | 0600u;
    at += 3;
    if (at + plen + clen > size) break;
    char name[32];
    memcpy(name, data + at, plen);
    name[plen] = '\0';
    bool ok = qp_archive_path_ok(name, strlen(name));
    int rc = qp_archive_add_bytes(w, name, mode & 0777u, data + at + plen, clen, NULL, 0);
    if (rc != 0) break;
    QP_ASSERT(ok);
    added++;
    at += plen + clen;
  }
  qp_archive_position_t pos = {.seq = added};
  if (qp_archive_finish(w, &pos, NULL, NULL, NULL, 0) == 0) {
    QP_ASSERT(qp_archive_open(path, &archive, NULL, 0) == 0);
    QP_ASSERT(archive.count == added && archive.position.seq == added);
    qp_archive_close(&archive);
  }
  unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool ready;
  if (!ready) {
    QP_ASSERT(qp_crypto_init() == 0);
    ready = true;
  }
  if (size > 0 && data[0] == 'W') recipe(data, size);
  else read_mem(data, size);
  return 0;
}
