/*
 * bench_int.h - helpers private to quipu-bench's drivers: temp directories,
 * and the two checks every driver ends with (result counts, balances),
 * which record a failure in the report and say what differed.
 */
#ifndef QB_BENCH_INT_H
#define QB_BENCH_INT_H

#include <stddef.h>

#include "bench.h"

/* Creates <base>/quipu-bench-<tag>-XXXXXX into out.  Returns 0 or QP_EIO. */
int qb_make_temp_dir(const char *base, const char *tag, char *out, size_t size);

/* Removes a directory tree (best effort; complains on stderr). */
void qb_remove_tree(const char *dir);

/* Compares the actual result counts with the workload's expected counts;
 * on a difference marks the report failed and returns QP_ECORRUPT. */
int qb_check_counts(qb_report_t *rep, const char *system, const qb_result_counts_t *got,
                    const qb_workload_t *w);

/* Ends a balance check: prints the outcome, marks the report failed on a
 * mismatch (or on io_rc != 0, or when fewer accounts than N were checked).
 * Returns io_rc, or QP_ECORRUPT on a mismatch. */
int qb_finish_check(qb_report_t *rep, const char *system, const qb_checker_t *c, int io_rc);

/* Resident memory of a process, from /proc/<pid>/status, in KiB. */
typedef struct qb_rss {
  uint64_t hwm_kib;  /* VmHWM: peak resident set */
  uint64_t rss_kib;  /* VmRSS: resident now */
  uint64_t anon_kib; /* RssAnon: heap, stacks (the process's own memory) */
  uint64_t file_kib; /* RssFile: mapped file pages (LMDB's map), reclaimable */
} qb_rss_t;

/* Reads the figures above for process `pid` (0 = self).  Returns 0 or
 * QP_EIO. */
int qb_read_rss_kib(int pid, qb_rss_t *out);

#endif
