/*
 * backup.h - (private to cli/) what `quipu backup` puts into an archive and
 * what `quipu restore` accepts from one: the entries a data directory's
 * backup may hold and the check both commands run on a whole archive.
 */
#ifndef QP_CLI_BACKUP_H
#define QP_CLI_BACKUP_H

#include <stddef.h>

#include "ledger/db.h"
#include "store/archive.h"

/* The ledger's journal, relative to the data directory: always present. */
#define QP_BACKUP_JOURNAL "ledger/journal"
/* The largest small file (keys, node.json) a backup copies. */
#define QP_BACKUP_SMALL_FILE_MAX (16u << 20)

/* The other files a backup copies when the data directory has them, NULL
 * terminated: the API key store (hashes) and the node's configuration. */
extern const char *const qp_backup_small_files[];

/* The archive's position as the ledger's. */
void qp_backup_position_from(const qp_archive_position_t *in, qp_db_position_t *out);

/* Checks an open archive as restore will use it: every entry is one this
 * version knows, the journal is there, and it holds exactly the trailer's
 * position (every record checked).  Returns 0 or QP_ECORRUPT/QP_EIO with
 * detail naming the part. */
int qp_backup_check(const qp_archive_t *a, char *detail, size_t detail_size);

/* qp_archive_check_fn: opens the archive at path and runs qp_backup_check. */
int qp_backup_check_file(void *ctx, const char *path, char *detail, size_t detail_size);

#endif
