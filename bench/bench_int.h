/*
 * bench_int.h - helpers private to quipu-bench's drivers: temp directories,
 * and the two checks every driver ends with (result counts, balances),
 * which record a failure in the report and say what differed.
 */
#ifndef QB_BENCH_INT_H
#define QB_BENCH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

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

/* A running `quipu node` on 127.0.0.1:port (bench_node.c). */
typedef struct qb_node {
  pid_t pid;            /* 0 = not running */
  uint32_t port;        /* its HTTP port */
  char dir[400];        /* the temp dir, also the node's home */
  char url[48];         /* http://127.0.0.1:PORT */
  char origin[48];      /* http://localhost:PORT (an origin the auth module allows) */
  char auth[160];       /* "Authorization: Bearer <key>" */
  const char *who;      /* the bench's name, for its messages */
} qb_node_t;

/* Makes <tmp_dir>/quipu-bench-<tag>-XXXXXX and picks a free port; the
 * caller then writes node.json (qb_node_write).  Returns 0 or QP_EIO. */
int qb_node_prepare(const char *tmp_dir, const char *tag, const char *who, qb_node_t *n);
/* Writes the file name (in the node's home) with data.  0 or QP_EIO. */
int qb_node_write(const qb_node_t *n, const char *name, const char *data, size_t len);
/* Makes an API key with scopes (`quipu keys create`), starts `quipu node
 * --home` and waits for /healthz.  Returns 0 or QP_EIO (its log tail is
 * printed). */
int qb_node_launch(const char *quipu, const char *scopes, qb_node_t *n);
/* SIGTERM, wait (SIGKILL after 20 s), remove the dir unless keep.  Returns
 * 0, or QP_EIO when the node did not exit with 0. */
int qb_node_stop(qb_node_t *n, bool keep);
/* CPU seconds (user + system) the node used so far; -1 when unknown. */
double qb_node_cpu_s(const qb_node_t *n);

#define QB_NODE_BODY_MAX (16u << 20) /* bytes of one answer a bench reads */

/* One request on the keep-alive curl easy handle e: body (len bytes, may be
 * NULL) sent with content_type; the answer's bytes (at most max) into *out
 * (qp_malloc'ed, NUL-terminated; the caller qp_free()s it), the status into
 * *code.  Returns 0, QP_EIO (transport) or QP_ENOMEM (past max). */
int qb_node_request(void *e, const qb_node_t *n, const char *method, const char *path,
                    const char *content_type, const char *body, size_t len, size_t max,
                    long timeout_ms, char **out, long *code);
/* qb_node_request with body (may be NULL) sent as JSON, at most
 * QB_NODE_BODY_MAX back, 30 s: *out gets the parsed answer (NULL when it is
 * not JSON; the caller json_decref()s it).  Returns 0, QP_EIO or QP_ENOMEM. */
int qb_node_call(void *e, const qb_node_t *n, const char *method, const char *path,
                 json_t *body, json_t **out, long *code);

/* POSTs a batch (body, an array; stolen) to path: every entry of the
 * answer's "results" must be "ok", else the answer is printed and QP_EIO
 * returned. */
int qb_node_post_events(void *e, const qb_node_t *n, const char *path, json_t *body);

#endif
