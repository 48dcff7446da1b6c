/*
 * test_archive.c - the backup archive (store/archive.h): a round trip keeps
 * every entry, mode and the position; every kind of damage - any single
 * flipped byte, any truncation, bytes appended, a forged trailer hash, an
 * entry whose path is absolute or climbs out with "..", hand-built with
 * correct hashes - is refused by qp_archive_open naming the part; a write
 * that fails (a bad path, a failing check, an existing file) publishes
 * nothing; and an extraction from an archive changed after it was checked
 * writes nothing.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/bytes.h"
#include "base/err.h"
#include "store/archive.h"
#include "test_util.h"

typedef struct fixture {
  char dir[256];
  char path[320]; /* the archive */
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_int_equal(qp_crypto_init(), 0);
  qp_test_tmpdir(f->dir, sizeof f->dir);
  snprintf(f->path, sizeof f->path, "%s/backup.qpb", f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  qp_test_rmdir(f->dir);
  free(f);
  return 0;
}

static const qp_archive_position_t POSITION = {
    .seq = 42, .head_hash = {1, 2, 3, 4, 5, 6, 7, 8}, .events = 1000, .journal_bytes = 4096};

/* Writes an archive of two small entries and one of `big` bytes. */
static void write_sample(const char *path, size_t big) {
  qp_archive_writer_t *w;
  char detail[512];
  assert_int_equal(qp_archive_create(path, false, &w, detail, sizeof detail), 0);
  assert_int_equal(qp_archive_add_bytes(w, "node.json", 0644, "{}", 2, detail, sizeof detail), 0);
  assert_int_equal(qp_archive_add_bytes(w, "keys/api_keys", 0600, "k1\nk2\n", 6, detail,
                                        sizeof detail), 0);
  uint8_t *data = malloc(big + 1);
  assert_non_null(data);
  for (size_t i = 0; i < big; i++) data[i] = (uint8_t)(i * 7 + i / 251);
  assert_int_equal(qp_archive_add_bytes(w, "ledger/journal", 0600, data, big, detail,
                                        sizeof detail), 0);
  free(data);
  assert_int_equal(qp_archive_finish(w, &POSITION, NULL, NULL, detail, sizeof detail), 0);
}

static size_t file_size(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return (size_t)st.st_size;
}

static uint8_t *slurp(const char *path, size_t *len) {
  *len = file_size(path);
  uint8_t *buf = malloc(*len + 1);
  assert_non_null(buf);
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  assert_int_equal(fread(buf, 1, *len, fp), *len);
  fclose(fp);
  return buf;
}

static void spit(const char *path, const uint8_t *buf, size_t len) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(buf, 1, len, fp), len);
  fclose(fp);
}

/* Entries in dir besides . and .. */
static int entries(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

static void test_round_trip(void **state) {
  fixture_t *f = *state;
  size_t big = (3u << 20) + 17; /* several read chunks */
  write_sample(f->path, big);
  struct stat st;
  assert_int_equal(stat(f->path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  qp_archive_t *a = malloc(sizeof *a);
  char detail[512];
  assert_int_equal(qp_archive_open(f->path, a, detail, sizeof detail), 0);
  assert_int_equal(a->count, 3);
  assert_string_equal(a->entries[0].path, "node.json");
  assert_int_equal(a->entries[0].mode, 0644);
  assert_int_equal(a->entries[1].length, 6);
  assert_int_equal(qp_archive_find(a, "ledger/journal"), 2);
  assert_int_equal(qp_archive_find(a, "ledger"), -1);
  assert_int_equal(a->entries[2].length, big);
  assert_memory_equal(&a->position, &POSITION, sizeof POSITION);
  char dest[400];
  snprintf(dest, sizeof dest, "%s/journal.out", f->dir);
  assert_int_equal(qp_archive_extract(a, 2, dest, 0600, detail, sizeof detail), 0);
  size_t len;
  uint8_t *out = slurp(dest, &len);
  assert_int_equal(len, big);
  for (size_t i = 0; i < big; i++) assert_int_equal(out[i], (uint8_t)(i * 7 + i / 251));
  free(out);
  assert_int_equal(stat(dest, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  /* The window io reads the entry's bytes and nothing past them. */
  qp_archive_window_t win;
  qp_io_t io;
  qp_archive_entry_io(a, 1, &win, &io);
  char buf[16];
  size_t got;
  uint64_t size;
  assert_int_equal(io.size(io.ctx, &size), 0);
  assert_int_equal(size, 6);
  assert_int_equal(io.read_at(io.ctx, buf, sizeof buf, 3, &got), 0);
  assert_int_equal(got, 3);
  assert_memory_equal(buf, "k2\n", 3);
  qp_archive_close(a);
  qp_archive_close(a); /* twice is harmless */
  free(a);
}

/* qp_archive_open must refuse the file; detail must contain `says`. */
static void assert_refused(const char *path, const char *says) {
  qp_archive_t *a = malloc(sizeof *a);
  char detail[512];
  int rc = qp_archive_open(path, a, detail, sizeof detail);
  if (rc == 0) fail_msg("a damaged archive was accepted (%s expected)", says);
  assert_int_equal(rc, QP_ECORRUPT);
  if (says != NULL && strstr(detail, says) == NULL)
    fail_msg("detail '%s' does not say '%s'", detail, says);
  free(a);
}

static void test_every_flipped_byte_is_refused(void **state) {
  fixture_t *f = *state;
  write_sample(f->path, 300);
  size_t len;
  uint8_t *orig = slurp(f->path, &len);
  char bad[400];
  snprintf(bad, sizeof bad, "%s/flipped.qpb", f->dir);
  for (size_t i = 0; i < len; i++) {
    orig[i] ^= 0x10;
    spit(bad, orig, len);
    assert_refused(bad, NULL);
    orig[i] ^= 0x10;
  }
  /* A flip inside an entry's contents names that entry. */
  size_t journal_byte = len - QP_ARCHIVE_TRAILER_SIZE - QP_HASH_SIZE - 5;
  orig[journal_byte] ^= 1;
  spit(bad, orig, len);
  assert_refused(bad, "entry ledger/journal: its contents do not match its hash");
  free(orig);
}

static void test_truncated_or_extended_is_refused(void **state) {
  fixture_t *f = *state;
  write_sample(f->path, 300);
  size_t len;
  uint8_t *orig = slurp(f->path, &len);
  char bad[400];
  snprintf(bad, sizeof bad, "%s/cut.qpb", f->dir);
  for (size_t keep = 0; keep < len; keep++) {
    spit(bad, orig, keep);
    assert_refused(bad, keep < 128 ? "truncated" : NULL);
  }
  spit(bad, orig, len - 1);
  assert_refused(bad, "no trailer at the end");
  uint8_t *longer = calloc(1, len + QP_ARCHIVE_TRAILER_SIZE);
  memcpy(longer, orig, len);
  spit(bad, longer, len + 64); /* zeros appended: the trailer is not at the end */
  assert_refused(bad, "no trailer");
  memcpy(longer + len, orig + len - QP_ARCHIVE_TRAILER_SIZE, QP_ARCHIVE_TRAILER_SIZE);
  spit(bad, longer, len + QP_ARCHIVE_TRAILER_SIZE); /* a second trailer appended */
  assert_refused(bad, NULL);
  free(longer);
  free(orig);
}

static void test_forged_trailer_hash_is_refused(void **state) {
  fixture_t *f = *state;
  write_sample(f->path, 300);
  size_t len;
  uint8_t *buf = slurp(f->path, &len);
  buf[len - 1] ^= 0xff; /* the file hash itself */
  spit(f->path, buf, len);
  assert_refused(f->path, "the archive's hash does not match");
  buf[len - 1] ^= 0xff;
  buf[len - QP_ARCHIVE_TRAILER_SIZE + 8] ^= 1; /* the recorded seq, hash left alone */
  spit(f->path, buf, len);
  assert_refused(f->path, "the archive's hash does not match");
  free(buf);
}

/* Builds an archive by hand, with correct hashes, holding one entry whose
 * path is `path` (which the writer would refuse). */
static void forge_with_path(const char *file, const char *path) {
  uint8_t out[1024] = {0};
  size_t n = 0, plen = strlen(path);
  memcpy(out, "QPBACKUP", 8);
  qp_store_u32(out + 8, QP_ARCHIVE_VERSION);
  n = QP_ARCHIVE_HEADER_SIZE;
  size_t entry = n;
  memcpy(out + n, "QPBE", 4);
  qp_store_u32(out + n + 4, 0600);
  qp_store_u64(out + n + 8, 3);
  qp_store_u16(out + n + 16, (uint16_t)plen);
  n += QP_ARCHIVE_ENTRY_HEADER_SIZE;
  memcpy(out + n, path, plen);
  n += plen;
  memcpy(out + n, "abc", 3);
  n += 3;
  qp_hash256(out + n, out + entry, n - entry);
  n += QP_HASH_SIZE;
  memcpy(out + n, "QPBT", 4);
  qp_store_u32(out + n + 4, 1);
  n += 64;
  qp_hash256(out + n, out, n);
  n += QP_HASH_SIZE;
  spit(file, out, n);
}

static void test_unsafe_paths_are_refused(void **state) {
  fixture_t *f = *state;
  forge_with_path(f->path, "node.json");
  qp_archive_t *a = malloc(sizeof *a);
  char detail[512];
  assert_int_equal(qp_archive_open(f->path, a, detail, sizeof detail), 0); /* the forge is sound */
  qp_archive_close(a);
  free(a);
  static const char *const bad[] = {"../etc/passwd", "/etc/passwd", "ledger/../../x", "a//b",
                                    "./a", "a/", "a\\b", "a b", ".."};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    forge_with_path(f->path, bad[i]);
    assert_refused(f->path, "unsafe path");
  }
  assert_true(qp_archive_path_ok("ledger/journal", 14));
  assert_true(qp_archive_path_ok("a.b/c-d_e", 9));
  assert_false(qp_archive_path_ok("", 0));
  assert_false(qp_archive_path_ok("a\0b", 3));
}

static void test_refused_writes_publish_nothing(void **state) {
  fixture_t *f = *state;
  char detail[512];
  qp_archive_writer_t *w;
  assert_int_equal(qp_archive_create(f->path, false, &w, detail, sizeof detail), 0);
  assert_int_equal(qp_archive_add_bytes(w, "../x", 0600, "x", 1, detail, sizeof detail),
                   QP_EINVAL);
  assert_non_null(strstr(detail, "../x"));
  assert_int_not_equal(qp_archive_finish(w, &POSITION, NULL, NULL, detail, sizeof detail), 0);
  assert_int_equal(entries(f->dir), 0);
  /* A duplicate, a mode beyond 0777, an absolute path. */
  assert_int_equal(qp_archive_create(f->path, false, &w, detail, sizeof detail), 0);
  assert_int_equal(qp_archive_add_bytes(w, "a", 0600, "x", 1, detail, sizeof detail), 0);
  assert_int_equal(qp_archive_add_bytes(w, "a", 0600, "x", 1, detail, sizeof detail), QP_EINVAL);
  qp_archive_abort(w);
  assert_int_equal(qp_archive_create(f->path, false, &w, detail, sizeof detail), 0);
  assert_int_equal(qp_archive_add_bytes(w, "b", 04755, "x", 1, detail, sizeof detail), QP_EINVAL);
  qp_archive_abort(w);
  assert_int_equal(qp_archive_create(f->path, false, &w, detail, sizeof detail), 0);
  assert_int_equal(qp_archive_add_bytes(w, "/b", 0600, "x", 1, detail, sizeof detail), QP_EINVAL);
  qp_archive_abort(w);
  assert_int_equal(entries(f->dir), 0);
}

static int failing_check(void *ctx, const char *path, char *detail, size_t detail_size) {
  (void)ctx;
  assert_non_null(strstr(path, ".tmp")); /* it sees the unpublished file */
  snprintf(detail, detail_size, "check says no");
  return QP_ECORRUPT;
}

static void test_failing_check_and_existing_file(void **state) {
  fixture_t *f = *state;
  char detail[512];
  qp_archive_writer_t *w;
  assert_int_equal(qp_archive_create(f->path, false, &w, detail, sizeof detail), 0);
  assert_int_equal(qp_archive_add_bytes(w, "a", 0600, "x", 1, detail, sizeof detail), 0);
  assert_int_equal(qp_archive_finish(w, &POSITION, failing_check, NULL, detail, sizeof detail),
                   QP_ECORRUPT);
  assert_string_equal(detail, "check says no");
  assert_int_equal(entries(f->dir), 0);
  write_sample(f->path, 10);
  size_t before = file_size(f->path);
  assert_int_equal(qp_archive_create(f->path, false, &w, detail, sizeof detail), QP_EEXISTS);
  assert_non_null(strstr(detail, "refusing to overwrite"));
  assert_int_equal(qp_archive_create(f->path, true, &w, detail, sizeof detail), 0);
  assert_int_equal(qp_archive_finish(w, &POSITION, NULL, NULL, detail, sizeof detail), 0);
  assert_int_not_equal(file_size(f->path), before);
  assert_int_equal(entries(f->dir), 1);
}

static void test_extract_of_a_changed_archive_writes_nothing(void **state) {
  fixture_t *f = *state;
  write_sample(f->path, 5000);
  qp_archive_t *a = malloc(sizeof *a);
  char detail[512];
  assert_int_equal(qp_archive_open(f->path, a, detail, sizeof detail), 0);
  size_t len;
  uint8_t *buf = slurp(f->path, &len);
  buf[a->entries[2].offset + 100] ^= 1;
  FILE *fp = fopen(f->path, "r+b"); /* in place: the open descriptor sees it */
  assert_non_null(fp);
  assert_int_equal(fwrite(buf, 1, len, fp), len);
  fclose(fp);
  free(buf);
  char dest[400];
  snprintf(dest, sizeof dest, "%s/journal.out", f->dir);
  assert_int_equal(qp_archive_extract(a, 2, dest, 0600, detail, sizeof detail), QP_ECORRUPT);
  assert_non_null(strstr(detail, "changed since it was checked"));
  assert_int_equal(entries(f->dir), 1); /* the archive only: no dest, no temp file */
  qp_archive_close(a);
  free(a);
}

static void test_not_an_archive(void **state) {
  fixture_t *f = *state;
  char detail[512];
  qp_archive_t *a = malloc(sizeof *a);
  assert_int_equal(qp_archive_open(f->path, a, detail, sizeof detail), QP_ENOTFOUND);
  uint8_t junk[256];
  memset(junk, 'x', sizeof junk);
  spit(f->path, junk, sizeof junk);
  assert_refused(f->path, "not a quipu backup");
  unlink(f->path);
  write_sample(f->path, 10);
  size_t len;
  uint8_t *buf = slurp(f->path, &len);
  qp_store_u32(buf + 8, 2);
  spit(f->path, buf, len);
  assert_refused(f->path, "version 2");
  free(buf);
  free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_every_flipped_byte_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncated_or_extended_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_forged_trailer_hash_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unsafe_paths_are_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused_writes_publish_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failing_check_and_existing_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_extract_of_a_changed_archive_writes_nothing, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_not_an_archive, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
