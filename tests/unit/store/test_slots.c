/*
 * test_slots.c - the two-slot record file (store.h, "records rewritten in
 * place"): open creates it with the mode and size asked for; each write is
 * read back by a reopen; a write touches exactly one slot, alternately, in
 * the documented on-disk layout (rebuilt independently here); a torn write
 * (a partial or damaged slot where the next write goes) reads back as the
 * record before it; damage to both slots, a file of the wrong size and a
 * record over the reader's limit are refused; a record larger than the
 * slots rebuilds the file larger; allocation failures leave the file whole.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "test_util.h"

#define HDR 32u /* checksum 16 | magic u32 | len u32 | seq u64 */
#define MAGIC 0x31535051u
#define DMAX 64u /* data_max of most tests */
#define SLOT (HDR + DMAX)

typedef struct fixture {
  char dir[256];
  char path[320];
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  qp_test_tmpdir(f->dir, sizeof f->dir);
  snprintf(f->path, sizeof f->path, "%s/safety", f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  qp_alloc_fail_after(-1);
  qp_test_rmdir(f->dir);
  free(f);
  return 0;
}

/* ---------------------------------------------------------------- helpers */

/* len bytes derived from tag, so that records of one length differ. */
static void fill(uint8_t *buf, size_t len, unsigned tag) {
  for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)(tag * 131u + i * 7u + 1u);
}

/* The file's bytes into a malloc'ed buffer; its size into *size. */
static uint8_t *slurp(const char *path, size_t *size) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  *size = (size_t)st.st_size;
  uint8_t *buf = malloc(*size + 1);
  assert_non_null(buf);
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  assert_int_equal(fread(buf, 1, *size, fp), *size);
  fclose(fp);
  return buf;
}

static size_t file_size(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return (size_t)st.st_size;
}

/* Writes bytes[0, n) at offset off of the existing file (a crash's leftovers). */
static void patch(const char *path, size_t off, const void *bytes, size_t n) {
  FILE *fp = fopen(path, "r+b");
  assert_non_null(fp);
  assert_int_equal(fseek(fp, (long)off, SEEK_SET), 0);
  assert_int_equal(fwrite(bytes, 1, n, fp), n);
  assert_int_equal(fclose(fp), 0);
}

/* Creates (or replaces) the file with exactly bytes[0, n). */
static void put_file(const char *path, const void *bytes, size_t n) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  if (n > 0) assert_int_equal(fwrite(bytes, 1, n, fp), n);
  assert_int_equal(fclose(fp), 0);
}

/* Flips one byte of the file at off. */
static void flip(const char *path, size_t off) {
  size_t size = 0;
  uint8_t *buf = slurp(path, &size);
  assert_true(off < size);
  uint8_t b = (uint8_t)(buf[off] ^ 0x5a);
  patch(path, off, &b, 1);
  free(buf);
}

/* A slot as the header documents it, built without the library's code. */
static void build_slot(uint8_t *slot, size_t size, uint64_t seq, const void *data, size_t len) {
  memset(slot, 0, size);
  uint8_t *p = slot + 16;
  for (unsigned i = 0; i < 4; i++) p[i] = (uint8_t)(MAGIC >> (8 * i));
  for (unsigned i = 0; i < 4; i++) p[4 + i] = (uint8_t)((uint32_t)len >> (8 * i));
  for (unsigned i = 0; i < 8; i++) p[8 + i] = (uint8_t)(seq >> (8 * i));
  if (len > 0) memcpy(slot + HDR, data, len);
  qp_checksum128(slot, slot + 16, HDR - 16 + len);
}

static uint64_t seq_at(const uint8_t *file, size_t slot_size, unsigned i) {
  return qp_load_u64(file + (size_t)i * slot_size + 24);
}

/* The slot the next write goes to: the one not holding the newest record
 * (on a fresh file slot 0 holds an empty record of seq 0, slot 1 zeros). */
static unsigned next_slot(const char *path, size_t slot_size) {
  size_t size = 0;
  uint8_t *file = slurp(path, &size);
  assert_int_equal(size, 2 * slot_size);
  unsigned target = seq_at(file, slot_size, 0) >= seq_at(file, slot_size, 1) ? 1u : 0u;
  free(file);
  return target;
}

/* Opens path (data_max DMAX unless given), expecting rc; returns the
 * record's length, the record in data. */
static size_t reopen_max(const char *path, size_t data_max, uint8_t *data, int want_rc) {
  qp_slot_file_t *s = NULL;
  size_t len = 12345;
  char detail[512] = "";
  int rc = qp_slot_file_open(path, data_max, 0600, &s, data, &len, detail, sizeof detail);
  assert_int_equal(rc, want_rc);
  if (rc != 0) {
    assert_null(s);
    assert_non_null(strstr(detail, path));
    return 0;
  }
  assert_non_null(s);
  qp_slot_file_close(s);
  return len;
}

static size_t reopen(const char *path, uint8_t *data) { return reopen_max(path, DMAX, data, 0); }

/* Opens path, writes the records tagged tags[0, n) of lengths lens, closes. */
static void write_records(const char *path, const unsigned *tags, const size_t *lens, size_t n) {
  qp_slot_file_t *s = NULL;
  uint8_t data[DMAX], rec[DMAX];
  size_t len = 0;
  char detail[512] = "";
  assert_int_equal(qp_slot_file_open(path, DMAX, 0600, &s, data, &len, detail, sizeof detail), 0);
  for (size_t i = 0; i < n; i++) {
    fill(rec, lens[i], tags[i]);
    assert_int_equal(qp_slot_file_write(s, rec, lens[i], detail, sizeof detail), 0);
  }
  qp_slot_file_close(s);
}

/* Asserts that data[0, len) is the record (tag, want_len). */
static void assert_record(const uint8_t *data, size_t len, unsigned tag, size_t want_len) {
  uint8_t rec[256];
  assert_true(want_len <= sizeof rec);
  assert_int_equal(len, want_len);
  fill(rec, want_len, tag);
  if (want_len > 0) assert_memory_equal(data, rec, want_len);
}

/* ------------------------------------------------------------------ tests */

/* A missing file is created, two slots sized for data_max, with no record. */
static void test_create_empty(void **state) {
  fixture_t *f = *state;
  qp_slot_file_t *s = NULL;
  uint8_t data[DMAX];
  size_t len = 999;
  char detail[256] = "";
  assert_int_equal(access(f->path, F_OK), -1);
  assert_int_equal(qp_slot_file_open(f->path, DMAX, 0600, &s, data, &len, detail, sizeof detail),
                   0);
  assert_non_null(s);
  assert_int_equal(len, 0);
  assert_int_equal(file_size(f->path), 2 * SLOT);
  qp_slot_file_close(s);
  assert_int_equal(file_size(f->path), 2 * SLOT);
  assert_int_equal(reopen(f->path, data), 0);
  assert_int_equal(reopen(f->path, data), 0);
  assert_int_equal(file_size(f->path), 2 * SLOT);
  qp_slot_file_close(NULL); /* a no-op */
}

/* Each write, of any length from 0 to data_max, is what a reopen reads;
 * writes through one handle and through fresh handles alike. */
static void test_write_reopen(void **state) {
  fixture_t *f = *state;
  uint8_t data[DMAX];
  const size_t lens[] = {5, 0, DMAX, 1, 33, DMAX, 0, 17};
  for (unsigned i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    write_records(f->path, &i, &lens[i], 1);
    memset(data, 0xee, sizeof data);
    assert_record(data, reopen(f->path, data), i, lens[i]);
    assert_int_equal(file_size(f->path), 2 * SLOT);
  }
  /* Several writes through one handle: the last one is read. */
  const unsigned tags[] = {40, 41, 42, 43, 44};
  const size_t lens2[] = {7, DMAX, 0, 3, 9};
  write_records(f->path, tags, lens2, 5);
  assert_record(data, reopen(f->path, data), 44, 9);
}

/* Writes A then B on a fresh file and checks the slot the next write goes
 * to; returns it. */
static unsigned make_ab(const char *path) {
  const unsigned tags[] = {1, 2};
  const size_t lens[] = {20, 30};
  write_records(path, tags, lens, 2);
  unsigned target = next_slot(path, SLOT);
  assert_int_equal(target, 1); /* slot 0: empty seq 0 -> B seq 2; slot 1: A seq 1 */
  return target;
}

/* Writes C after a reopen and checks that it is read back: recovery goes on. */
static void write_after_recovery(const char *path, unsigned tag, size_t want_prev_len,
                                 unsigned prev_tag) {
  uint8_t data[DMAX];
  assert_record(data, reopen(path, data), prev_tag, want_prev_len);
  write_records(path, &tag, &(size_t){11}, 1);
  assert_record(data, reopen(path, data), tag, 11);
  write_records(path, &(unsigned){tag + 1}, &(size_t){12}, 1);
  assert_record(data, reopen(path, data), tag + 1, 12);
}

/* A crash in the middle of writing C leaves the slot C was going to in any
 * state; a reopen reads B, and writing goes on from there. */
static void test_torn_write(void **state) {
  fixture_t *f = *state;
  uint8_t slot[SLOT], rec[DMAX], garbage[SLOT];
  fill(rec, 40, 3);
  for (int variant = 0; variant < 7; variant++) {
    unlink(f->path);
    unsigned t = make_ab(f->path);
    size_t off = (size_t)t * SLOT;
    build_slot(slot, SLOT, 3, rec, 40); /* C as it would have been written */
    switch (variant) {
      case 0: memset(slot + 40, 0, SLOT - 40); break; /* its first 40 bytes, then zeros */
      case 1: slot[HDR + 39] ^= 1; break;             /* one bit of the record */
      case 2: slot[20] = 41; break;                   /* the length */
      case 3: slot[5] ^= 0x80; break;                 /* the checksum */
      case 4: break;                       /* the header and half the record (patched below) */
      case 5: memset(slot, 0, HDR); break; /* all but the header */
      default:
        fill(garbage, SLOT, 99);
        memcpy(slot, garbage, SLOT);
        break; /* noise */
    }
    patch(f->path, off, slot, variant == 4 ? HDR + 20 : SLOT);
    write_after_recovery(f->path, 10, 30, 2);
  }
}

/* The very first write torn: slot 1 damaged in a fresh file reads as no
 * record (slot 0 holds the empty record made at creation), not as damage. */
static void test_torn_first_write(void **state) {
  fixture_t *f = *state;
  uint8_t slot[SLOT], rec[DMAX], data[DMAX];
  fill(rec, DMAX, 5);
  for (int variant = 0; variant < 3; variant++) {
    unlink(f->path);
    assert_int_equal(reopen(f->path, data), 0); /* creates it */
    assert_int_equal(next_slot(f->path, SLOT), 1);
    build_slot(slot, SLOT, 1, rec, DMAX);
    if (variant == 0) memset(slot + 40, 0, SLOT - 40);
    if (variant == 1) slot[SLOT - 1] ^= 0x10;
    if (variant == 2) fill(slot, SLOT, 77);
    patch(f->path, SLOT, slot, SLOT);
    assert_int_equal(reopen(f->path, data), 0);
    write_after_recovery(f->path, 20, 0, 0);
  }
}

/* Damage to the newest slot alone reads as a torn write: the record before. */
static void test_newest_damaged(void **state) {
  fixture_t *f = *state;
  uint8_t data[DMAX];
  make_ab(f->path); /* B in slot 0 */
  flip(f->path, HDR + 3);
  assert_record(data, reopen(f->path, data), 1, 20);
}

/* Both slots damaged: QP_ECORRUPT naming the file, for damage in the
 * record, in the header, and one slot damaged while the other is empty. */
static void test_both_damaged(void **state) {
  fixture_t *f = *state;
  uint8_t data[2 * DMAX];
  make_ab(f->path);
  flip(f->path, HDR + 1);
  flip(f->path, SLOT + HDR + 1);
  reopen_max(f->path, DMAX, data, QP_ECORRUPT);
  reopen_max(f->path, DMAX, data, QP_ECORRUPT); /* and it stays so: open wrote nothing */
  unlink(f->path);
  make_ab(f->path);
  flip(f->path, 17);       /* magic */
  flip(f->path, SLOT + 8); /* checksum */
  reopen_max(f->path, DMAX, data, QP_ECORRUPT);
  /* One slot never written, the other damaged. */
  uint8_t *file = calloc(1, 2 * SLOT);
  assert_non_null(file);
  build_slot(file + SLOT, SLOT, 1, "x", 1);
  file[SLOT + HDR] ^= 1;
  put_file(f->path, file, 2 * SLOT);
  reopen_max(f->path, DMAX, data, QP_ECORRUPT);
  /* A length one past the slot's end, its checksum matching the bytes it
   * would cover (into slot 1, empty): damage, not a record. */
  memset(file, 0, 2 * SLOT);
  uint8_t rec[DMAX + 1] = {0};
  build_slot(file, SLOT + 1, 4, rec, DMAX + 1);
  put_file(f->path, file, 2 * SLOT);
  reopen_max(f->path, 2 * DMAX, data, QP_ECORRUPT);
  free(file);
}

/* A file whose size cannot be two slots is not a slot file. */
static void test_wrong_size(void **state) {
  fixture_t *f = *state;
  uint8_t data[DMAX], zeros[2 * SLOT + 1] = {0};
  const size_t sizes[] = {0, 1, 31, 62, 63, 65, 2 * SLOT + 1, 2 * SLOT - 1};
  for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    put_file(f->path, zeros, sizes[i]);
    reopen_max(f->path, DMAX, data, QP_ECORRUPT);
    assert_int_equal(file_size(f->path), sizes[i]); /* left alone */
  }
  /* 64 zero bytes: two never-written slots with no room for data. */
  put_file(f->path, zeros, 64);
  assert_int_equal(reopen(f->path, data), 0);
}

/* A record larger than the file's slots rebuilds the file larger; smaller
 * records then go into the large slots in place. */
static void test_grow(void **state) {
  fixture_t *f = *state;
  qp_slot_file_t *s = NULL;
  uint8_t data[100], rec[100];
  size_t len = 0;
  char detail[256] = "";
  assert_int_equal(qp_slot_file_open(f->path, 16, 0600, &s, data, &len, detail, sizeof detail), 0);
  fill(rec, 16, 1);
  assert_int_equal(qp_slot_file_write(s, rec, 16, detail, sizeof detail), 0);
  qp_slot_file_close(s);
  assert_int_equal(file_size(f->path), 2 * (HDR + 16));
  assert_int_equal(qp_slot_file_open(f->path, 100, 0600, &s, data, &len, detail, sizeof detail), 0);
  assert_record(data, len, 1, 16);
  fill(rec, 100, 2);
  assert_int_equal(qp_slot_file_write(s, rec, 100, detail, sizeof detail), 0);
  assert_int_equal(file_size(f->path), 2 * (HDR + 100));
  fill(rec, 50, 3); /* through the same handle, after the rebuild */
  assert_int_equal(qp_slot_file_write(s, rec, 50, detail, sizeof detail), 0);
  qp_slot_file_close(s);
  assert_record(data, reopen_max(f->path, 100, data, 0), 3, 50);
  assert_int_equal(file_size(f->path), 2 * (HDR + 100));
  /* A reader with a smaller data_max reads a small record from big slots. */
  assert_int_equal(qp_slot_file_open(f->path, 16, 0600, &s, data, &len, detail, sizeof detail),
                   QP_ELIMIT);
  assert_int_equal(qp_slot_file_open(f->path, 100, 0600, &s, data, &len, detail, sizeof detail), 0);
  fill(rec, 100, 4);
  assert_int_equal(qp_slot_file_write(s, rec, 100, detail, sizeof detail), 0);
  fill(rec, 10, 5);
  assert_int_equal(qp_slot_file_write(s, rec, 10, detail, sizeof detail), 0);
  qp_slot_file_close(s);
  assert_record(data, reopen_max(f->path, 16, data, 0), 5, 10);
  assert_int_equal(file_size(f->path), 2 * (HDR + 100));
}

/* A stored record larger than the reader's data_max: QP_ELIMIT. */
static void test_over_reader_limit(void **state) {
  fixture_t *f = *state;
  uint8_t data[DMAX];
  write_records(f->path, &(unsigned){7}, &(size_t){50}, 1);
  memset(data, 0xcc, sizeof data);
  reopen_max(f->path, 49, data, QP_ELIMIT);
  reopen_max(f->path, 0, data, QP_ELIMIT);
  assert_int_equal(data[0], 0xcc); /* nothing copied out */
  assert_record(data, reopen_max(f->path, 50, data, 0), 7, 50);
  write_records(f->path, &(unsigned){8}, &(size_t){0}, 1);
  assert_int_equal(reopen_max(f->path, 0, data, 0), 0);
}

/* Each write changes exactly one slot, alternately, to the documented bytes. */
static void test_alternation(void **state) {
  fixture_t *f = *state;
  qp_slot_file_t *s = NULL;
  uint8_t data[DMAX], rec[DMAX], want[SLOT];
  size_t len = 0, size = 0;
  char detail[256] = "";
  assert_int_equal(qp_slot_file_open(f->path, DMAX, 0600, &s, data, &len, detail, sizeof detail),
                   0);
  uint8_t *before = slurp(f->path, &size);
  build_slot(want, SLOT, 0, NULL, 0); /* creation: an empty record of seq 0 in slot 0 */
  assert_memory_equal(before, want, SLOT);
  for (unsigned i = 0; i < 10; i++) {
    size_t n = (i * 13u) % (DMAX + 1);
    fill(rec, n, 100 + i);
    assert_int_equal(qp_slot_file_write(s, rec, n, detail, sizeof detail), 0);
    uint8_t *after = slurp(f->path, &size);
    assert_int_equal(size, 2 * SLOT);
    unsigned changed = i % 2 == 0 ? 1u : 0u; /* slot 1 first */
    assert_memory_equal(after + (1 - changed) * SLOT, before + (1 - changed) * SLOT, SLOT);
    build_slot(want, SLOT, i + 1, rec, n);
    assert_memory_equal(after + changed * SLOT, want, SLOT);
    free(before);
    before = after;
  }
  free(before);
  qp_slot_file_close(s);
}

/* A file built here by the documented format is read by the newest seq
 * (not by slot index), and the next write goes to the other slot. */
static void test_foreign_file(void **state) {
  fixture_t *f = *state;
  uint8_t file[2 * SLOT], data[DMAX], want[SLOT];
  for (unsigned newest = 0; newest < 2; newest++) {
    build_slot(file + newest * SLOT, SLOT, 9, "nine", 4);
    build_slot(file + (1 - newest) * SLOT, SLOT, 7, "seven", 5);
    put_file(f->path, file, sizeof file);
    assert_int_equal(reopen(f->path, data), 4);
    assert_memory_equal(data, "nine", 4);
    write_records(f->path, &(unsigned){3}, &(size_t){8}, 1);
    size_t size = 0;
    uint8_t *after = slurp(f->path, &size);
    uint8_t rec[8];
    fill(rec, 8, 3);
    build_slot(want, SLOT, 10, rec, 8);
    assert_memory_equal(after + (1 - newest) * SLOT, want, SLOT);
    assert_memory_equal(after + newest * SLOT, file + newest * SLOT, SLOT);
    free(after);
  }
  /* Two never-written slots: no record, and the first write is read back. */
  memset(file, 0, sizeof file);
  put_file(f->path, file, sizeof file);
  assert_int_equal(reopen(f->path, data), 0);
  write_records(f->path, &(unsigned){4}, &(size_t){6}, 1);
  assert_record(data, reopen(f->path, data), 4, 6);
}

/* A created file has the mode asked for, whatever the umask. */
static void test_mode(void **state) {
  fixture_t *f = *state;
  qp_slot_file_t *s = NULL;
  uint8_t data[DMAX];
  size_t len = 0;
  struct stat st;
  assert_int_equal(qp_slot_file_open(f->path, DMAX, 0600, &s, data, &len, NULL, 0), 0);
  qp_slot_file_close(s);
  assert_int_equal(stat(f->path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  char other[400];
  snprintf(other, sizeof other, "%s/other", f->dir);
  mode_t old = umask(077);
  int rc = qp_slot_file_open(other, DMAX, 0640, &s, data, &len, NULL, 0);
  umask(old);
  assert_int_equal(rc, 0);
  qp_slot_file_close(s);
  assert_int_equal(stat(other, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0640);
}

/* Arguments the file cannot hold: QP_EINVAL, and nothing created. */
static void test_bad_arguments(void **state) {
  fixture_t *f = *state;
  qp_slot_file_t *s = NULL;
  uint8_t data[DMAX];
  size_t len = 0;
  char longpath[5000];
  memset(longpath, 'a', sizeof longpath - 1);
  longpath[sizeof longpath - 1] = '\0';
  assert_int_equal(qp_slot_file_open(longpath, DMAX, 0600, &s, data, &len, NULL, 0), QP_EINVAL);
  assert_int_equal(qp_slot_file_open(f->path, 64u << 20, 0600, &s, data, &len, NULL, 0), QP_EINVAL);
  assert_null(s);
  assert_int_equal(access(f->path, F_OK), -1);
  /* A data_max so large that header + data_max wraps around. */
  assert_int_equal(qp_slot_file_open(f->path, SIZE_MAX, 0600, &s, data, &len, NULL, 0), QP_EINVAL);
  qp_slot_file_close(s);
  assert_int_equal(access(f->path, F_OK), -1);
}

/* Every allocation of an open failing in turn: QP_ENOMEM or success, and
 * the file then opens with its record (none, for a file being created). */
static void test_alloc_failures_open(void **state) {
  fixture_t *f = *state;
  uint8_t data[DMAX];
  size_t len = 0;
  for (int existing = 0; existing < 2; existing++) {
    for (int64_t k = 0;; k++) {
      unlink(f->path);
      if (existing) write_records(f->path, &(unsigned){9}, &(size_t){21}, 1);
      qp_slot_file_t *s = NULL;
      uint64_t injected = qp_alloc_injected_failures();
      qp_alloc_fail_after(k);
      int rc = qp_slot_file_open(f->path, DMAX, 0600, &s, data, &len, NULL, 0);
      qp_alloc_fail_after(-1);
      assert_true(rc == 0 || rc == QP_ENOMEM);
      qp_slot_file_close(s);
      assert_record(data, reopen(f->path, data), 9, existing ? 21 : 0);
      if (qp_alloc_injected_failures() == injected) break; /* every allocation passed */
    }
  }
}

/* After a write that returned rc_grow, one more write: it is refused
 * (QP_EIO), or it rewrites exactly one slot of the file as it is on disk,
 * in place (the other slot untouched, the size the same). */
static void check_next_write(const char *path, qp_slot_file_t *s, int rc_grow) {
  uint8_t data[100], rec[8];
  size_t size = 0, size2 = 0;
  uint8_t *before = slurp(path, &size);
  fill(rec, 8, 3);
  int rc = qp_slot_file_write(s, rec, 8, NULL, 0);
  qp_slot_file_close(s);
  uint8_t *after = slurp(path, &size2);
  if (rc == 0) {
    assert_int_equal(size2, size); /* in place */
    size_t half = size / 2;
    bool same0 = memcmp(before, after, half) == 0;
    bool same1 = memcmp(before + half, after + half, half) == 0;
    assert_true(same0 != same1); /* exactly one slot written */
    assert_record(data, reopen_max(path, 100, data, 0), 3, 8);
  } else {
    assert_int_equal(rc, QP_EIO);
    size_t len = reopen_max(path, 100, data, 0);
    if (rc_grow == 0) assert_record(data, len, 2, 100);
    if (rc_grow != 0) assert_record(data, len, len == 100 ? 2 : 1, len); /* either may be */
  }
  free(before);
  free(after);
}

/* Every allocation of a write that grows the file failing in turn: the
 * write fails with QP_ENOMEM or succeeds, and the handle stays usable
 * without breaking the file's layout, or refuses further writes. */
static void test_alloc_failures_grow(void **state) {
  fixture_t *f = *state;
  uint8_t data[100], rec[100];
  size_t len = 0;
  for (int64_t k = 0;; k++) {
    unlink(f->path);
    qp_slot_file_t *s = NULL;
    assert_int_equal(qp_slot_file_open(f->path, 16, 0600, &s, data, &len, NULL, 0), 0);
    fill(rec, 16, 1);
    assert_int_equal(qp_slot_file_write(s, rec, 16, NULL, 0), 0); /* into slot 1 */
    fill(rec, 100, 2);
    uint64_t injected = qp_alloc_injected_failures();
    qp_alloc_fail_after(k);
    int rc = qp_slot_file_write(s, rec, 100, NULL, 0);
    qp_alloc_fail_after(-1);
    assert_true(rc == 0 || rc == QP_ENOMEM);
    check_next_write(f->path, s, rc);
    if (qp_alloc_injected_failures() == injected) break;
  }
}

/* A record the file could not be read back with (the file over the 64 MiB
 * a reader accepts) is refused, and the last record stays. */
static void test_write_too_large(void **state) {
  fixture_t *f = *state;
  qp_slot_file_t *s = NULL;
  uint8_t data[DMAX];
  size_t len = 0, big = (32u << 20) - HDR + 1; /* the largest an open accepts, plus one */
  uint8_t *rec = calloc(1, big);
  assert_non_null(rec);
  write_records(f->path, &(unsigned){6}, &(size_t){10}, 1);
  assert_int_equal(qp_slot_file_open(f->path, DMAX, 0600, &s, data, &len, NULL, 0), 0);
  int rc = qp_slot_file_write(s, rec, big, NULL, 0);
  qp_slot_file_close(s);
  free(rec);
  assert_int_not_equal(rc, 0);
  assert_record(data, reopen(f->path, data), 6, 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_create_empty, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_reopen, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_write, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_first_write, setup, teardown),
      cmocka_unit_test_setup_teardown(test_newest_damaged, setup, teardown),
      cmocka_unit_test_setup_teardown(test_both_damaged, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_size, setup, teardown),
      cmocka_unit_test_setup_teardown(test_grow, setup, teardown),
      cmocka_unit_test_setup_teardown(test_over_reader_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_alternation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_foreign_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mode, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
      cmocka_unit_test_setup_teardown(test_alloc_failures_open, setup, teardown),
      cmocka_unit_test_setup_teardown(test_alloc_failures_grow, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_too_large, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
