/*
 * test_file.c - qp_file_replace and its streaming form: a replace creates
 * the file, overwrites it whole, and on any failure (a write refused by
 * the file-size limit, a missing directory, a rename that cannot happen,
 * an abort) leaves the old file exactly as it was and no temp file behind.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/err.h"
#include "store/store.h"
#include "test_util.h"

typedef struct fixture {
  char dir[256];
  char path[320];
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  qp_test_tmpdir(f->dir, sizeof f->dir);
  snprintf(f->path, sizeof f->path, "%s/state", f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  qp_test_rmdir(f->dir);
  free(f);
  return 0;
}

/* The file's bytes (NUL-terminated) into buf; returns its length. */
static size_t slurp(const char *path, char *buf, size_t size) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  size_t n = fread(buf, 1, size - 1, fp);
  fclose(fp);
  buf[n] = '\0';
  return n;
}

/* Entries in the directory besides . and .. */
static int entries(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

static void test_creates_and_overwrites(void **state) {
  fixture_t *f = *state;
  char buf[256], detail[256];
  assert_int_equal(qp_file_replace(f->path, "first version\n", 14, 0640, detail, sizeof detail), 0);
  assert_int_equal(slurp(f->path, buf, sizeof buf), 14);
  assert_string_equal(buf, "first version\n");
  struct stat st;
  assert_int_equal(stat(f->path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0640);
  assert_int_equal(qp_file_replace(f->path, "v2", 2, 0600, detail, sizeof detail), 0);
  assert_int_equal(slurp(f->path, buf, sizeof buf), 2);
  assert_string_equal(buf, "v2");
  assert_int_equal(stat(f->path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(qp_file_replace(f->path, "", 0, 0600, NULL, 0), 0); /* empty is a content */
  assert_int_equal(slurp(f->path, buf, sizeof buf), 0);
  assert_int_equal(entries(f->dir), 1); /* no temp file */
}

/* qp_file_read gives back what qp_file_replace wrote, with its mode, and
 * refuses a missing file, one over the bound and a directory. */
static void test_read_back(void **state) {
  fixture_t *f = *state;
  char detail[256];
  char *text = NULL;
  size_t len = 0;
  unsigned mode = 0;
  assert_int_equal(qp_file_read(f->path, 64, &text, &len, &mode, detail, sizeof detail),
                   QP_ENOTFOUND);
  assert_null(text);
  assert_non_null(strstr(detail, f->path));
  assert_int_equal(qp_file_replace(f->path, "key=1\n", 6, 0640, detail, sizeof detail), 0);
  assert_int_equal(qp_file_read(f->path, 64, &text, &len, &mode, detail, sizeof detail), 0);
  assert_int_equal(len, 6);
  assert_string_equal(text, "key=1\n");
  assert_int_equal(mode, 0640);
  qp_free(text);
  assert_int_equal(qp_file_read(f->path, 5, &text, &len, NULL, detail, sizeof detail), QP_ELIMIT);
  assert_null(text);
  assert_int_equal(qp_file_read(f->dir, 64, &text, &len, NULL, detail, sizeof detail), QP_EIO);
  assert_null(text);
}

/* A temp file a crashed replace left (foreign bytes, another mode) is
 * emptied and reused, not appended to. */
static void test_leftover_temp(void **state) {
  fixture_t *f = *state;
  char tmp[400], buf[256];
  snprintf(tmp, sizeof tmp, "%s.tmp", f->path);
  FILE *fp = fopen(tmp, "wb");
  assert_non_null(fp);
  fputs("junk from a crash, longer than the new content", fp);
  fclose(fp);
  assert_int_equal(qp_file_replace(f->path, "new", 3, 0600, NULL, 0), 0);
  assert_int_equal(slurp(f->path, buf, sizeof buf), 3);
  assert_string_equal(buf, "new");
  assert_int_equal(entries(f->dir), 1);
}

/* A write that fails (the process's file-size limit, which binds even
 * root) leaves the old file whole and removes the temp file. */
static void test_failed_write_keeps_old(void **state) {
  fixture_t *f = *state;
  char buf[256], detail[256] = "";
  assert_int_equal(qp_file_replace(f->path, "old", 3, 0600, NULL, 0), 0);
  static char big[16384];
  memset(big, 'x', sizeof big);
  struct rlimit saved, small = {4096, 0};
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
  small.rlim_max = saved.rlim_max;
  void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
  int rc = qp_file_replace(f->path, big, sizeof big, 0600, detail, sizeof detail);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
  signal(SIGXFSZ, old_handler);
  assert_int_equal(rc, QP_EIO);
  assert_non_null(strstr(detail, f->path));
  assert_int_equal(slurp(f->path, buf, sizeof buf), 3);
  assert_string_equal(buf, "old");
  assert_int_equal(entries(f->dir), 1);
}

static void test_missing_directory(void **state) {
  fixture_t *f = *state;
  char path[400], detail[512] = "";
  snprintf(path, sizeof path, "%s/no/such/dir/file", f->dir);
  assert_int_equal(qp_file_replace(path, "x", 1, 0600, detail, sizeof detail), QP_ENOTFOUND);
  assert_non_null(strstr(detail, path));
  assert_int_equal(entries(f->dir), 0);
}

/* The rename cannot happen (the path is a non-empty directory): nothing
 * changes and the temp file goes. */
static void test_failed_rename(void **state) {
  fixture_t *f = *state;
  char inner[400], detail[512] = "";
  assert_int_equal(mkdir(f->path, 0700), 0);
  snprintf(inner, sizeof inner, "%s/keep", f->path);
  assert_int_equal(qp_file_replace(inner, "k", 1, 0600, NULL, 0), 0);
  assert_int_not_equal(qp_file_replace(f->path, "x", 1, 0600, detail, sizeof detail), 0);
  assert_non_null(strstr(detail, f->path));
  struct stat st;
  assert_int_equal(stat(f->path, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(entries(f->dir), 1);
  assert_int_equal(entries(f->path), 1);
}

static void test_streaming(void **state) {
  fixture_t *f = *state;
  char buf[256];
  assert_int_equal(qp_file_replace(f->path, "old", 3, 0600, NULL, 0), 0);
  /* Aborted: the old file stays. */
  qp_file_replace_t *r;
  assert_int_equal(qp_file_replace_begin(f->path, 0600, &r, NULL, 0), 0);
  assert_int_equal(qp_file_replace_write(r, "half", 4), 0);
  assert_int_equal(entries(f->dir), 2); /* the temp file, while it is written */
  qp_file_replace_abort(r);
  assert_int_equal(slurp(f->path, buf, sizeof buf), 3);
  assert_string_equal(buf, "old");
  assert_int_equal(entries(f->dir), 1);
  /* Appends, then a positional write past them (a sparse file's way). */
  assert_int_equal(qp_file_replace_begin(f->path, 0600, &r, NULL, 0), 0);
  assert_int_equal(qp_file_replace_write(r, "ab", 2), 0);
  assert_int_equal(qp_file_replace_write(r, "cd", 2), 0);
  const qp_io_t *io = qp_file_replace_io(r);
  assert_int_equal(io->write_at(io->ctx, "z", 1, 9), 0);
  assert_int_equal(qp_file_replace_commit(r, NULL, 0), 0);
  assert_int_equal(slurp(f->path, buf, sizeof buf), 10);
  assert_memory_equal(buf, "abcd\0\0\0\0\0z", 10);
  assert_int_equal(entries(f->dir), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_creates_and_overwrites, setup, teardown),
      cmocka_unit_test_setup_teardown(test_leftover_temp, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_write_keeps_old, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_rename, setup, teardown),
      cmocka_unit_test_setup_teardown(test_streaming, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_back, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
