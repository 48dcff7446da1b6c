/*
 * test_backup.c - the ledger's part of backup and restore: the committed
 * position read beside an open db (no lock) matches the db's own audit;
 * bytes being appended are left out, not judged; damage before the index's
 * position, or further than one group commit from the end, refuses the
 * backup; a journal image is checked against a position to the byte, seq,
 * hash and event count; and a directory holding only the journal opens at
 * the position with the index rebuilt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "ledger/db.h"
#include "store/store.h"
#include "test_util.h"

typedef struct fixture {
  char dir[256];
  char journal[320];
  uint64_t clock; /* the fake wall clock, ns */
} fixture_t;

static uint64_t fake_clock(void *ctx) { return ((fixture_t *)ctx)->clock; }

static qp_db_t *open_db(fixture_t *f) {
  qp_db_options_t opt = {.clock_ns = fake_clock, .clock_ctx = f,
                         .index_map_size = (size_t)1 << 30};
  qp_db_t *db = NULL;
  char detail[512];
  int rc = qp_db_open(f->dir, &opt, &db, NULL, detail, sizeof detail);
  if (rc != 0) fprintf(stderr, "open: %s\n", detail);
  assert_int_equal(rc, 0);
  return db;
}

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  qp_test_tmpdir(f->dir, sizeof f->dir);
  snprintf(f->journal, sizeof f->journal, "%s/ledger/journal", f->dir);
  f->clock = 1000000000000ull;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  qp_test_rmdir(f->dir);
  free(f);
  return 0;
}

/* Two accounts, then `batches` batches of `per` transfers between them. */
static void populate(fixture_t *f, qp_db_t *db, uint32_t batches, uint32_t per) {
  qp_account_t a[2];
  memset(a, 0, sizeof a);
  for (int i = 0; i < 2; i++) a[i] = (qp_account_t){.id = (qp_u128)(i + 1), .ledger = 1, .code = 1};
  uint32_t *r = calloc(per, sizeof *r);
  qp_transfer_t *t = calloc(per, sizeof *t);
  assert_int_equal(qp_db_create_accounts(db, a, 2, r), 0);
  for (uint32_t b = 0; b < batches; b++) {
    for (uint32_t i = 0; i < per; i++)
      t[i] = (qp_transfer_t){.id = (qp_u128)(100 + b * per + i), .debit_account_id = 1 + i % 2,
                             .credit_account_id = 2 - i % 2, .amount = 5, .ledger = 1, .code = 7};
    f->clock += 1000;
    assert_int_equal(qp_db_create_transfers(db, t, per, r), 0);
    for (uint32_t i = 0; i < per; i++) assert_int_equal(r[i], QP_CREATE_TRANSFER_OK);
  }
  free(t);
  free(r);
}

static long file_size(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return (long)st.st_size;
}

static void flip_byte(const char *path, long offset) {
  FILE *fp = fopen(path, "r+b");
  assert_non_null(fp);
  assert_int_equal(fseek(fp, offset, SEEK_SET), 0);
  int c = fgetc(fp);
  assert_int_equal(fseek(fp, offset, SEEK_SET), 0);
  fputc(c ^ 0x20, fp);
  fclose(fp);
}

static int check_file(const char *path, const qp_db_position_t *pos, char *detail, size_t size) {
  qp_io_t io;
  assert_int_equal(qp_io_open_file(path, false, true, &io), 0);
  int rc = qp_db_check_journal(&io, pos, detail, size);
  io.close(io.ctx);
  return rc;
}

static void test_position_beside_an_open_db(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f);
  populate(f, db, 3, 10);
  assert_int_equal(qp_db_sync_index(db), 0);
  qp_db_audit_t audit;
  assert_int_equal(qp_db_audit(db, &audit, NULL, 0, NULL), 0);
  qp_db_position_t pos;
  char detail[512];
  assert_int_equal(qp_db_backup_position(f->dir, &pos, detail, sizeof detail), 0);
  assert_int_equal(pos.seq, 4);
  assert_int_equal(pos.events, 32);
  assert_int_equal((long)pos.journal_bytes, file_size(f->journal));
  assert_memory_equal(pos.head_hash, audit.head_hash, QP_HASH_SIZE);
  assert_int_equal(pos.excluded_bytes, 0);
  assert_int_equal(check_file(f->journal, &pos, detail, sizeof detail), 0);
  FILE *fp = fopen(f->journal, "ab"); /* half a record, as if being appended */
  assert_non_null(fp);
  for (int i = 0; i < 200; i++) fputc(i + 1, fp);
  fclose(fp);
  qp_db_position_t later;
  assert_int_equal(qp_db_backup_position(f->dir, &later, detail, sizeof detail), 0);
  assert_int_equal(later.seq, pos.seq);
  assert_int_equal(later.journal_bytes, pos.journal_bytes);
  assert_int_equal(later.excluded_bytes, 200);
  /* An image must end exactly at the position. */
  assert_int_equal(check_file(f->journal, &pos, detail, sizeof detail), QP_ECORRUPT);
  assert_non_null(strstr(detail, "bytes; its position says"));
  assert_int_equal(truncate(f->journal, (off_t)pos.journal_bytes), 0);
  qp_db_position_t wrong = pos;
  wrong.events++;
  assert_int_equal(check_file(f->journal, &wrong, detail, sizeof detail), QP_ECORRUPT);
  wrong = pos;
  wrong.head_hash[0] ^= 1;
  assert_int_equal(check_file(f->journal, &wrong, detail, sizeof detail), QP_ECORRUPT);
  qp_db_close(db);
}

static void test_damage_before_the_index_position_refused(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f);
  populate(f, db, 3, 10);
  qp_db_close(db);
  flip_byte(f->journal, file_size(f->journal) - 50); /* the last record, which the index holds */
  qp_db_position_t pos;
  char detail[512];
  assert_int_equal(qp_db_backup_position(f->dir, &pos, detail, sizeof detail), QP_ECORRUPT);
  assert_non_null(strstr(detail, "the journal is damaged"));
}

static void test_damage_far_from_the_end_refused(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f);
  populate(f, db, 6, 8190); /* more than one group commit of bytes */
  qp_db_close(db);
  char state_dir[400];
  snprintf(state_dir, sizeof state_dir, "%s/ledger/state", f->dir);
  qp_test_rmdir(state_dir); /* no index: nothing known committed */
  qp_db_position_t pos;
  char detail[512];
  flip_byte(f->journal, file_size(f->journal) - 50); /* within a group of the end: in flight */
  assert_int_equal(qp_db_backup_position(f->dir, &pos, detail, sizeof detail), 0);
  assert_int_equal(pos.seq, 6);
  assert_true(pos.excluded_bytes > 0);
  flip_byte(f->journal, file_size(f->journal) - 50);
  flip_byte(f->journal, 128 + 64); /* record 1: far from the end, so damage */
  assert_int_equal(qp_db_backup_position(f->dir, &pos, detail, sizeof detail), QP_ECORRUPT);
  assert_non_null(strstr(detail, "offset 0"));
}

static void test_restored_directory_opens_at_the_position(void **state) {
  fixture_t *f = *state;
  qp_db_t *db = open_db(f);
  populate(f, db, 2, 10);
  qp_db_close(db);
  qp_db_position_t pos;
  char detail[512];
  assert_int_equal(qp_db_backup_position(f->dir, &pos, detail, sizeof detail), 0);
  char state_dir[400];
  snprintf(state_dir, sizeof state_dir, "%s/ledger/state", f->dir);
  qp_test_rmdir(state_dir); /* what a restore leaves: the journal alone */
  qp_db_audit_t audit;
  assert_int_equal(qp_db_check_restored(f->dir, &pos, &audit, detail, sizeof detail), 0);
  assert_int_equal(audit.transfers, 20);
  assert_int_equal(audit.journal_seq, pos.seq);
  qp_db_position_t wrong = pos;
  wrong.seq--;
  assert_int_equal(qp_db_check_restored(f->dir, &wrong, NULL, detail, sizeof detail),
                   QP_ECORRUPT);
  assert_non_null(strstr(detail, "not at the backup's record"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_position_beside_an_open_db, setup, teardown),
      cmocka_unit_test_setup_teardown(test_damage_before_the_index_position_refused, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_damage_far_from_the_end_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_restored_directory_opens_at_the_position, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
