/*
 * backup.c - the part of `quipu backup` and `quipu restore` both share:
 * which files a data directory's backup holds, and the check of a whole
 * archive that backup runs before it publishes one and restore runs before
 * it writes anything.  Only the journal and the small files a restart
 * needs are copied; the index and the accounts checkpoint under
 * ledger/state/ are derived, rebuilt from the journal at the first open
 * (docs/backup.md says why they cannot be copied consistently).
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "cli/backup.h"

const char *const qp_backup_small_files[] = {"keys/api_keys", "node.json", NULL};

void qp_backup_position_from(const qp_archive_position_t *in, qp_db_position_t *out) {
  memset(out, 0, sizeof *out);
  out->seq = in->seq;
  memcpy(out->head_hash, in->head_hash, QP_HASH_SIZE);
  out->events = in->events;
  out->journal_bytes = in->journal_bytes;
}

static bool known_entry(const char *path) {
  if (strcmp(path, QP_BACKUP_JOURNAL) == 0) return true;
  for (size_t i = 0; qp_backup_small_files[i] != NULL; i++)
    if (strcmp(path, qp_backup_small_files[i]) == 0) return true;
  return false;
}

int qp_backup_check(const qp_archive_t *a, char *detail, size_t detail_size) {
  for (uint32_t i = 0; i < a->count; i++) {
    if (known_entry(a->entries[i].path)) continue;
    if (detail)
      snprintf(detail, detail_size, "entry %s is not a file this quipu restores",
               a->entries[i].path);
    return QP_ECORRUPT;
  }
  int j = qp_archive_find(a, QP_BACKUP_JOURNAL);
  if (j < 0) {
    if (detail) snprintf(detail, detail_size, "the archive holds no %s", QP_BACKUP_JOURNAL);
    return QP_ECORRUPT;
  }
  qp_archive_window_t window;
  qp_io_t io;
  qp_archive_entry_io(a, (uint32_t)j, &window, &io);
  qp_db_position_t pos;
  qp_backup_position_from(&a->position, &pos);
  char inner[384];
  int rc = qp_db_check_journal(&io, &pos, inner, sizeof inner);
  if (rc != 0 && detail)
    snprintf(detail, detail_size, "entry %s does not hold the recorded position: %s",
             QP_BACKUP_JOURNAL, inner[0] ? inner : qp_strerror(rc));
  return rc;
}

int qp_backup_check_file(void *ctx, const char *path, char *detail, size_t detail_size) {
  (void)ctx;
  qp_archive_t *a = qp_malloc(sizeof *a);
  if (a == NULL) return QP_ENOMEM;
  int rc = qp_archive_open(path, a, detail, detail_size);
  if (rc == 0) {
    rc = qp_backup_check(a, detail, detail_size);
    qp_archive_close(a);
  }
  qp_free(a);
  return rc;
}
