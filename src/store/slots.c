/*
 * slots.c - a small record rewritten in place: a file of two slots
 * (store.h, "Records rewritten in place").  A write goes to the slot that
 * does not hold the newest record and is made durable with one fdatasync;
 * the file never changes size after it is created, so no file-system
 * metadata is journaled on the way.  A crash in the middle of a write
 * leaves that slot failing its checksum and the other holding the record
 * before it - the last one a write reported durable.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define SLOT_MAGIC 0x31535051u /* "QPS1" little-endian */
/* checksum 16 | magic u32 | len u32 | seq u64, then the record */
#define SLOT_HEADER 32u
#define SLOT_PATH_MAX 4096u
#define SLOT_FILE_MAX (64u << 20)
#define SLOT_RECORD_MAX (SLOT_FILE_MAX / 2 - SLOT_HEADER) /* what a reader can take back */

struct qp_slot_file {
  qp_io_t io;               /* the open file */
  char path[SLOT_PATH_MAX]; /* for messages and rebuilds */
  unsigned mode;            /* permission bits of a rebuilt file */
  size_t slot_size;         /* bytes per slot, header included */
  uint64_t seq;             /* the newest record's sequence number */
  unsigned newest;          /* the slot holding it */
  uint8_t *buf;             /* one slot, for writes */
};

typedef enum { SLOT_EMPTY, SLOT_VALID, SLOT_BAD } slot_state_t;

static void slot_detail(char *detail, size_t detail_size, const char *path, const char *what) {
  if (detail != NULL && detail_size > 0) snprintf(detail, detail_size, "%s: %s", path, what);
}

/* Fills slot[0, size) with the record (seq, data[0, len)) and zeros. */
static void slot_put(uint8_t *slot, size_t size, uint64_t seq, const void *data, size_t len) {
  memset(slot, 0, size);
  qp_store_u32(slot + 16, SLOT_MAGIC);
  qp_store_u32(slot + 20, (uint32_t)len);
  qp_store_u64(slot + 24, seq);
  if (len > 0) memcpy(slot + SLOT_HEADER, data, len);
  qp_checksum128(slot, slot + 16, SLOT_HEADER - 16 + len);
}

static slot_state_t slot_state(const uint8_t *slot, size_t size) {
  bool zero = true;
  for (size_t i = 0; i < SLOT_HEADER && zero; i++) zero = slot[i] == 0;
  if (zero) return SLOT_EMPTY; /* never written */
  uint32_t len = qp_load_u32(slot + 20);
  if (qp_load_u32(slot + 16) != SLOT_MAGIC || len > size - SLOT_HEADER) return SLOT_BAD;
  uint8_t sum[QP_CHECKSUM_SIZE];
  qp_checksum128(sum, slot + 16, SLOT_HEADER - 16 + len);
  return memcmp(sum, slot, QP_CHECKSUM_SIZE) == 0 ? SLOT_VALID : SLOT_BAD;
}

/* The newest valid slot of file[0, 2 * slot_size): its index, or -1 with
 * *corrupt set when a slot is damaged and none is valid (-1 with it clear:
 * both empty). */
static int slot_newest(const uint8_t *file, size_t slot_size, bool *corrupt) {
  slot_state_t s0 = slot_state(file, slot_size), s1 = slot_state(file + slot_size, slot_size);
  *corrupt = false;
  if (s0 == SLOT_VALID && s1 == SLOT_VALID)
    return qp_load_u64(file + slot_size + 24) > qp_load_u64(file + 24) ? 1 : 0;
  if (s0 == SLOT_VALID) return 0;
  if (s1 == SLOT_VALID) return 1;
  *corrupt = s0 == SLOT_BAD || s1 == SLOT_BAD;
  return -1;
}

/* Writes path anew (atomically, by qp_file_replace): slot 0 holds (seq,
 * data[0, len)), slot 1 is empty; reopens f->io on it. */
static int slot_rebuild(qp_slot_file_t *f, size_t slot_size, uint64_t seq, const void *data,
                        size_t len, char *detail, size_t detail_size) {
  size_t size = 2 * slot_size;
  uint8_t *file = qp_calloc(1, size);
  if (file == NULL) return QP_ENOMEM; /* nothing changed: the handle writes on as before */
  slot_put(file, slot_size, seq, data, len);
  if (f->io.ctx != NULL) f->io.close(f->io.ctx);
  f->io.ctx = NULL;
  int rc = qp_file_replace(f->path, file, size, f->mode, detail, detail_size);
  qp_free(file);
  if (rc == 0) f->slot_size = slot_size;
  if (rc == 0) rc = qp_io_open_file(f->path, false, false, &f->io);
  if (rc != 0) {
    f->io.ctx = NULL;
    if (detail != NULL && detail[0] == '\0')
      slot_detail(detail, detail_size, f->path, "cannot open");
    return rc;
  }
  f->seq = seq;
  f->newest = 0;
  return 0;
}

/* Reads the file whole; sets f->slot_size, f->seq, f->newest and copies
 * the newest record out.  QP_ENOTFOUND when path does not exist. */
static int slot_load(qp_slot_file_t *f, size_t data_max, uint8_t *data, size_t *len, char *detail,
                     size_t detail_size) {
  char *file = NULL;
  size_t size = 0;
  int rc = qp_file_read(f->path, SLOT_FILE_MAX, &file, &size, NULL, detail, detail_size);
  if (rc != 0) return rc;
  bool corrupt = false;
  int newest = -1;
  if (size % 2 != 0 || size / 2 < SLOT_HEADER) {
    slot_detail(detail, detail_size, f->path, "not a file of two record slots (wrong size)");
    rc = QP_ECORRUPT;
  } else {
    f->slot_size = size / 2;
    newest = slot_newest((const uint8_t *)file, f->slot_size, &corrupt);
    if (corrupt) {
      slot_detail(detail, detail_size, f->path, "both record slots fail their checksums");
      rc = QP_ECORRUPT;
    }
  }
  const uint8_t *slot = newest >= 0 ? (const uint8_t *)file + (size_t)newest * f->slot_size : NULL;
  size_t got = slot != NULL ? qp_load_u32(slot + 20) : 0;
  if (rc == 0 && got > data_max) {
    slot_detail(detail, detail_size, f->path, "the record is larger than its reader allows");
    rc = QP_ELIMIT;
  }
  if (rc == 0) {
    f->seq = slot != NULL ? qp_load_u64(slot + 24) : 0;
    f->newest = newest >= 0 ? (unsigned)newest : 1;
    if (got > 0) memcpy(data, slot + SLOT_HEADER, got);
    *len = got;
  }
  qp_free(file);
  return rc;
}

int qp_slot_file_open(const char *path, size_t data_max, unsigned mode, qp_slot_file_t **out,
                      uint8_t *data, size_t *len, char *detail, size_t detail_size) {
  *out = NULL;
  *len = 0;
  if (strlen(path) >= SLOT_PATH_MAX || data_max > SLOT_RECORD_MAX) return QP_EINVAL;
  qp_slot_file_t *f = qp_calloc(1, sizeof *f);
  if (f == NULL) return QP_ENOMEM;
  snprintf(f->path, sizeof f->path, "%s", path);
  f->mode = mode;
  int rc = slot_load(f, data_max, data, len, detail, detail_size);
  if (rc == QP_ENOTFOUND) { /* a new file: slot 0 an empty record, so a torn first write reads
                               as no record rather than as damage */
    if (detail != NULL && detail_size > 0) detail[0] = '\0';
    rc = slot_rebuild(f, SLOT_HEADER + data_max, 0, NULL, 0, detail, detail_size);
  } else if (rc == 0) {
    rc = qp_io_open_file(path, false, false, &f->io);
    if (rc != 0) slot_detail(detail, detail_size, path, "cannot open it for writing");
  }
  f->buf = rc == 0 ? qp_malloc(f->slot_size) : NULL;
  if (rc == 0 && f->buf == NULL) rc = QP_ENOMEM;
  if (rc != 0) {
    qp_slot_file_close(f);
    return rc;
  }
  *out = f;
  return 0;
}

int qp_slot_file_write(qp_slot_file_t *f, const void *data, size_t len, char *detail,
                       size_t detail_size) {
  if (detail != NULL && detail_size > 0) detail[0] = '\0';
  if (f->io.ctx == NULL) {
    slot_detail(detail, detail_size, f->path, "closed after an earlier failure");
    return QP_EIO;
  }
  if (len > SLOT_RECORD_MAX) {
    slot_detail(detail, detail_size, f->path, "the record is larger than a slot file holds");
    return QP_ELIMIT; /* refused: the last record stays */
  }
  if (SLOT_HEADER + len > f->slot_size) { /* a larger record than the file was made for */
    uint8_t *buf = qp_realloc(f->buf, SLOT_HEADER + len);
    if (buf == NULL) return QP_ENOMEM;
    f->buf = buf;
    return slot_rebuild(f, SLOT_HEADER + len, f->seq + 1, data, len, detail, detail_size);
  }
  unsigned target = f->newest ^ 1u;
  slot_put(f->buf, f->slot_size, f->seq + 1, data, len);
  int rc = f->io.write_at(f->io.ctx, f->buf, f->slot_size, (uint64_t)target * f->slot_size);
  if (rc == 0) rc = f->io.sync(f->io.ctx);
  if (rc != 0) {
    /* What is on disk in that slot is unknown now; the other slot still
     * holds the last durable record.  Refuse further writes: the caller
     * stops, and a restart reads the file afresh. */
    slot_detail(detail, detail_size, f->path, qp_strerror(rc));
    f->io.close(f->io.ctx);
    f->io.ctx = NULL;
    return rc;
  }
  f->seq++;
  f->newest = target;
  return 0;
}

void qp_slot_file_close(qp_slot_file_t *f) {
  if (f == NULL) return;
  if (f->io.ctx != NULL) f->io.close(f->io.ctx);
  qp_free(f->buf);
  qp_free(f);
}
