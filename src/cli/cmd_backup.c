/*
 * cmd_backup.c - `quipu backup --data DIR --out FILE`: one archive file
 * (store/archive.h) holding the ledger's journal up to its committed
 * position plus the small files a restart needs (keys/api_keys, node.json).
 * It runs beside a server without taking the data directory's lock, so a
 * running node never waits for it and a node starting meanwhile is not
 * refused: the journal is append-only, so the prefix up to the position
 * never changes while it is copied.  The archive is read back whole before
 * it is renamed into place.  Exit 0 written, 1 failed (saying what), 2
 * usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/err.h"
#include "cli/backup.h"
#include "cli/cli.h"

static const char usage[] = "usage: quipu backup [--data DIR] --out FILE [--force] [--json]\n";

static int help(void) {
  printf("%s\n"
         "Writes a backup of the data directory DIR (default $QUIPU_DATA or ./quipu-data)\n"
         "into FILE: the ledger's journal up to the last committed record, keys/api_keys\n"
         "and node.json.  Runs beside a running server; takes no lock.  The index is not\n"
         "copied: `quipu restore` rebuilds it from the journal.\n\n"
         "  --out FILE   the archive to write (mode 0600; written whole or not at all)\n"
         "  --force      replace FILE if it exists\n"
         "  --json       print the summary as one JSON object\n\n"
         "Exit 0 when written, 1 when it could not be (saying why), 2 on a usage error.\n",
         usage);
  return 0;
}

typedef struct backup_args {
  const char *data; /* --data */
  const char *out;  /* --out */
  bool force;       /* --force */
  bool json;        /* --json */
} backup_args_t;

/* Returns -1 to go on, else the exit code. */
static int parse(int argc, char **argv, backup_args_t *a) {
  static const struct option opts[] = {
      {"data", required_argument, NULL, 'd'}, {"out", required_argument, NULL, 'o'},
      {"force", no_argument, NULL, 'f'},      {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "d:o:h", opts, NULL)) != -1) {
    if (c == 'd') a->data = optarg;
    else if (c == 'o') a->out = optarg;
    else if (c == 'f') a->force = true;
    else if (c == 'j') a->json = true;
    else if (c == 'h') return help();
    else {
      fprintf(stderr, "%s", usage);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "quipu backup: unexpected argument '%s'\n%s", argv[optind], usage);
    return 2;
  }
  if (a->out == NULL || a->out[0] == '\0') {
    fprintf(stderr, "quipu backup: --out FILE is required\n%s", usage);
    return 2;
  }
  return -1;
}

/* Adds the small files DIR has; *files counts the entries. */
static int add_small_files(qp_archive_writer_t *w, const char *dir, uint32_t *files,
                           char *detail, size_t detail_size) {
  for (size_t i = 0; qp_backup_small_files[i] != NULL; i++) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, qp_backup_small_files[i]);
    char *data = NULL;
    size_t len = 0;
    unsigned mode = 0;
    int rc = qp_file_read(path, QP_BACKUP_SMALL_FILE_MAX, &data, &len, &mode, detail,
                          detail_size);
    if (rc == QP_ENOTFOUND) continue;
    if (rc == 0)
      rc = qp_archive_add_bytes(w, qp_backup_small_files[i], mode & 0777u, data, len, detail,
                                detail_size);
    qp_free(data);
    if (rc != 0) return rc;
    (*files)++;
  }
  return 0;
}

/* Adds the journal's committed prefix [0, pos->journal_bytes). */
static int add_journal(qp_archive_writer_t *w, const char *dir, const qp_db_position_t *pos,
                       char *detail, size_t detail_size) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, QP_BACKUP_JOURNAL);
  qp_io_t io;
  int rc = qp_io_open_file(path, false, true, &io);
  if (rc != 0) {
    if (detail) snprintf(detail, detail_size, "cannot open %s: %s", path, qp_strerror(rc));
    return rc;
  }
  rc = qp_archive_add(w, QP_BACKUP_JOURNAL, 0600, &io, pos->journal_bytes, detail, detail_size);
  io.close(io.ctx);
  return rc;
}

static int write_archive(const backup_args_t *a, const char *dir, const qp_db_position_t *pos,
                         uint32_t *files, char *detail, size_t detail_size) {
  qp_archive_writer_t *w;
  int rc = qp_archive_create(a->out, a->force, &w, detail, detail_size);
  if (rc == QP_EEXISTS && detail)
    snprintf(detail + strlen(detail), detail_size - strlen(detail), " (--force replaces it)");
  if (rc != 0) return rc;
  rc = add_journal(w, dir, pos, detail, detail_size);
  *files = rc == 0 ? 1 : 0;
  if (rc == 0) rc = add_small_files(w, dir, files, detail, detail_size);
  if (rc != 0) {
    qp_archive_abort(w);
    return rc;
  }
  qp_archive_position_t ap = {.seq = pos->seq, .events = pos->events,
                              .journal_bytes = pos->journal_bytes};
  memcpy(ap.head_hash, pos->head_hash, QP_HASH_SIZE);
  return qp_archive_finish(w, &ap, qp_backup_check_file, NULL, detail, detail_size);
}

static void print_summary(const backup_args_t *a, const qp_db_position_t *pos, uint32_t files) {
  char hex[2 * QP_HASH_SIZE + 1];
  qp_hex(hex, pos->head_hash, QP_HASH_SIZE);
  FILE *f = fopen(a->out, "rb");
  long bytes = -1;
  if (f != NULL && fseek(f, 0, SEEK_END) == 0) bytes = ftell(f);
  if (f != NULL) fclose(f);
  if (!a->json) {
    printf("backup: %s: %ld bytes, %u files; journal up to record %llu (%llu events, %llu "
           "bytes), head hash %s; %llu bytes being written left out\n",
           a->out, bytes, (unsigned)files, (unsigned long long)pos->seq,
           (unsigned long long)pos->events, (unsigned long long)pos->journal_bytes, hex,
           (unsigned long long)pos->excluded_bytes);
    return;
  }
  json_t *o = json_pack("{s:s, s:I, s:i, s:I, s:I, s:I, s:s, s:I}", "file", a->out,
                        "bytes", (json_int_t)bytes, "files", (int)files, "seq",
                        (json_int_t)pos->seq, "events", (json_int_t)pos->events,
                        "journal_bytes", (json_int_t)pos->journal_bytes, "head_hash", hex,
                        "excluded_bytes", (json_int_t)pos->excluded_bytes);
  qp_cli_print_json(o);
}

int qp_cmd_backup(int argc, char **argv) {
  backup_args_t a = {0};
  int rc = parse(argc, argv, &a);
  if (rc >= 0) return rc;
  const char *dir = qp_cli_data_dir(a.data);
  qp_db_position_t pos;
  char detail[8192];
  rc = qp_db_backup_position(dir, &pos, detail, sizeof detail);
  if (rc == QP_ENOTFOUND) {
    fprintf(stderr, "quipu backup: %s: is %s a quipu data directory?\n", detail, dir);
    return 1;
  }
  uint32_t files = 0;
  if (rc == 0) rc = write_archive(&a, dir, &pos, &files, detail, sizeof detail);
  if (rc != 0) {
    fprintf(stderr, "quipu backup: %s\n", detail[0] ? detail : qp_strerror(rc));
    return 1;
  }
  print_summary(&a, &pos, files);
  return 0;
}
