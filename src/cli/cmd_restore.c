/*
 * cmd_restore.c - `quipu restore --in FILE --data DIR`: brings a backup
 * written by `quipu backup` back into an empty (or new) data directory.
 * The whole archive is checked first - its hash, every entry's hash and
 * path, and every record of the journal up to the recorded position - so a
 * damaged or foreign file writes nothing.  Then each file is written whole
 * (temp file, fsync, rename; directories 0700, files 0600) and the ledger
 * is opened once: with no index there, that replays the whole journal and
 * rebuilds the index, and it must arrive exactly at the backup's position.
 * Exit 0 restored, 1 refused or failed (saying what), 2 usage.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "cli/backup.h"
#include "cli/cli.h"

static const char usage[] = "usage: quipu restore --in FILE [--data DIR] [--json]\n";

static int help(void) {
  printf("%s\n"
         "Restores the backup FILE (written by `quipu backup`) into DIR (default $QUIPU_DATA\n"
         "or ./quipu-data), which must be empty or not exist.  Checks the whole archive\n"
         "before writing anything, then rebuilds the index by replaying the journal and\n"
         "checks that the ledger stands exactly where the backup was taken.\n\n"
         "  --in FILE   the archive\n"
         "  --json      print the summary as one JSON object\n\n"
         "Exit 0 when restored, 1 when refused or failed (saying why), 2 on a usage error.\n",
         usage);
  return 0;
}

typedef struct restore_args {
  const char *data; /* --data */
  const char *in;   /* --in */
  bool json;        /* --json */
} restore_args_t;

/* Returns -1 to go on, else the exit code. */
static int parse(int argc, char **argv, restore_args_t *a) {
  static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                       {"in", required_argument, NULL, 'i'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "d:i:h", opts, NULL)) != -1) {
    if (c == 'd') a->data = optarg;
    else if (c == 'i') a->in = optarg;
    else if (c == 'j') a->json = true;
    else if (c == 'h') return help();
    else {
      fprintf(stderr, "%s", usage);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "quipu restore: unexpected argument '%s'\n%s", argv[optind], usage);
    return 2;
  }
  if (a->in == NULL || a->in[0] == '\0') {
    fprintf(stderr, "quipu restore: --in FILE is required\n%s", usage);
    return 2;
  }
  return -1;
}

/* DIR must be an empty directory or not exist (then it is created 0700). */
static int prepare_dir(const char *dir, char *detail, size_t detail_size) {
  DIR *d = opendir(dir);
  if (d == NULL && errno == ENOENT) {
    int rc = qp_mkdir_p(dir);
    if (rc != 0) snprintf(detail, detail_size, "cannot create %s: %s", dir, qp_strerror(rc));
    return rc;
  }
  if (d == NULL) {
    snprintf(detail, detail_size, "cannot open the directory %s: %s", dir, strerror(errno));
    return QP_EIO;
  }
  unsigned entries = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    entries += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  if (entries == 0) return 0;
  snprintf(detail, detail_size,
           "%s is not empty (%u entries); restore only into an empty or new directory", dir,
           entries);
  return QP_EEXISTS;
}

/* Writes entry i under dir, making its directories (0700) first. */
static int write_entry(const qp_archive_t *a, uint32_t i, const char *dir, char *detail,
                       size_t detail_size) {
  const qp_archive_entry_t *e = &a->entries[i];
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", dir, e->path);
  char *slash = strrchr(path, '/');
  *slash = '\0';
  int rc = qp_mkdir_p(path);
  if (rc == 0 && strcmp(path, dir) != 0) {
    /* The new directory's entry in its parent must be durable too. */
    char *up = strrchr(path, '/');
    *up = '\0';
    rc = qp_fsync_dir(path);
    *up = '/';
  }
  *slash = '/';
  if (rc != 0) {
    snprintf(detail, detail_size, "cannot create the directory of %s: %s", path,
             qp_strerror(rc));
    return rc;
  }
  /* The data directory is private: owner bits only, at least rw. */
  return qp_archive_extract(a, i, path, (e->mode & 0700u) | 0600u, detail, detail_size);
}

static void print_summary(const restore_args_t *a, const char *dir, const qp_archive_t *ar,
                          const qp_db_audit_t *audit) {
  char hex[2 * QP_HASH_SIZE + 1];
  qp_hex(hex, ar->position.head_hash, QP_HASH_SIZE);
  if (!a->json) {
    printf("restore: %s into %s: %u files; journal up to record %llu (%llu events, %llu bytes), "
           "head hash %s; index rebuilt: %llu accounts, %llu transfers\n",
           a->in, dir, (unsigned)ar->count, (unsigned long long)ar->position.seq,
           (unsigned long long)ar->position.events,
           (unsigned long long)ar->position.journal_bytes, hex,
           (unsigned long long)audit->accounts, (unsigned long long)audit->transfers);
    return;
  }
  qp_cli_print_json(json_pack("{s:s, s:s, s:i, s:I, s:I, s:I, s:s, s:I, s:I}", "file", a->in,
                              "data", dir, "files", (int)ar->count, "seq",
                              (json_int_t)ar->position.seq, "events",
                              (json_int_t)ar->position.events, "journal_bytes",
                              (json_int_t)ar->position.journal_bytes, "head_hash", hex,
                              "accounts", (json_int_t)audit->accounts, "transfers",
                              (json_int_t)audit->transfers));
}

/* Everything after the archive checked out and DIR was found empty:
 * files, then the ledger. */
static int restore_into(const qp_archive_t *ar, const char *dir, qp_db_audit_t *audit,
                        char *detail, size_t detail_size) {
  int rc = 0;
  for (uint32_t i = 0; rc == 0 && i < ar->count; i++)
    rc = write_entry(ar, i, dir, detail, detail_size);
  if (rc == 0) rc = qp_fsync_dir(dir);
  qp_db_position_t pos;
  qp_backup_position_from(&ar->position, &pos);
  if (rc == 0) rc = qp_db_check_restored(dir, &pos, audit, detail, detail_size);
  if (rc != 0) {
    size_t n = strlen(detail);
    snprintf(detail + n, detail_size - n, "; %s holds an incomplete restore: remove it", dir);
  }
  return rc;
}

int qp_cmd_restore(int argc, char **argv) {
  restore_args_t a = {0};
  int rc = parse(argc, argv, &a);
  if (rc >= 0) return rc;
  const char *dir = qp_cli_data_dir(a.data);
  qp_log_set_level(QP_LOG_WARN); /* the ledger's open narrates at info */
  char detail[8192] = "";
  qp_archive_t *ar = qp_malloc(sizeof *ar);
  if (ar == NULL) return 1;
  rc = qp_archive_open(a.in, ar, detail, sizeof detail);
  if (rc == 0) {
    rc = qp_backup_check(ar, detail, sizeof detail);
    if (rc != 0) qp_archive_close(ar);
  }
  if (rc != 0) {
    fprintf(stderr, "quipu restore: %s: %s; nothing was written\n", a.in, detail);
    qp_free(ar);
    return 1;
  }
  qp_db_audit_t audit;
  rc = prepare_dir(dir, detail, sizeof detail);
  if (rc == 0) rc = restore_into(ar, dir, &audit, detail, sizeof detail);
  if (rc != 0) fprintf(stderr, "quipu restore: %s\n", detail);
  else print_summary(&a, dir, ar, &audit);
  qp_archive_close(ar);
  qp_free(ar);
  return rc == 0 ? 0 : 1;
}
