/*
 * bench_common.c - the figures list, percentiles and the checks
 * that every driver shares: each account a system reports is compared with
 * the workload's model, and each result code with the one the workload
 * expects.  A single difference fails the whole run.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "bench_int.h"
#include "base/assert.h"
#include "base/err.h"

void qb_report_add(qb_report_t *r, const char *name, double value, const char *unit, int decimals) {
  uint32_t i = 0;
  while (i < r->count && strcmp(r->figures[i].name, name) != 0) i++;
  if (i == r->count) {
    QP_ASSERT(r->count < QB_RESULTS_MAX);
    r->count++;
  }
  qb_figure_t *f = &r->figures[i];
  snprintf(f->name, sizeof f->name, "%s", name);
  snprintf(f->unit, sizeof f->unit, "%s", unit);
  f->value = value;
  f->decimals = decimals;
  printf("RESULT %s %.*f %s\n", f->name, f->decimals, f->value, f->unit);
  fflush(stdout);
}

double qb_report_get(const qb_report_t *r, const char *name) {
  for (uint32_t i = 0; i < r->count; i++)
    if (strcmp(r->figures[i].name, name) == 0) return r->figures[i].value;
  return -1;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

void qb_sort_u64(uint64_t *v, uint64_t n) { qsort(v, n, sizeof *v, cmp_u64); }

double qb_proc_stat_cpu_s(const char *path) {
  char text[1024];
  FILE *f = fopen(path, "r");
  if (f == NULL) return -1;
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  const char *p = strrchr(text, ')'); /* the command name may hold spaces */
  unsigned long long utime = 0, stime = 0;
  if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                          &utime, &stime) != 2)
    return -1;
  return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

uint64_t qb_percentile(const uint64_t *sorted, uint64_t n, uint32_t p) {
  if (n == 0) return 0;
  QP_ASSERT(p <= 100);
  uint64_t i = (n * p) / 100;
  return sorted[i < n ? i : n - 1];
}

void qb_check_account(qb_checker_t *c, const char *system, const qp_account_t *got) {
  c->checked++;
  uint64_t id = (uint64_t)got->id;
  if (id >= 1 && id <= c->workload->config.accounts &&
      qb_workload_balances_match(c->workload, id, got))
    return;
  if (c->mismatches++ == 0) {
    const qb_balances_t *m =
        id >= 1 && id <= c->workload->config.accounts ? &c->workload->model[id] : NULL;
    snprintf(c->first, sizeof c->first,
             "%s: account %llu has dp=%llu dP=%llu cp=%llu cP=%llu, the model says "
             "dp=%llu dP=%llu cp=%llu cP=%llu",
             system, (unsigned long long)id, (unsigned long long)got->debits_pending,
             (unsigned long long)got->debits_posted, (unsigned long long)got->credits_pending,
             (unsigned long long)got->credits_posted,
             (unsigned long long)(m ? m->debits_pending : 0),
             (unsigned long long)(m ? m->debits_posted : 0),
             (unsigned long long)(m ? m->credits_pending : 0),
             (unsigned long long)(m ? m->credits_posted : 0));
  }
}

void qb_count_result(qb_result_counts_t *c, uint32_t got, uint32_t expect) {
  if (got == QP_CREATE_TRANSFER_OK) c->ok++;
  else if (got == QP_CREATE_TRANSFER_EXISTS) c->exists++;
  else c->failed++;
  if (got != expect) c->unexpected++;
}

/* ------------------------------------------------------ driver helpers */

int qb_make_temp_dir(const char *base, const char *tag, char *out, size_t size) {
  int n = snprintf(out, size, "%s/quipu-bench-%s-XXXXXX", base, tag);
  if (n < 0 || (size_t)n >= size || mkdtemp(out) == NULL) {
    fprintf(stderr, "bench: cannot create a temp dir under %s\n", base);
    return QP_EIO;
  }
  return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st;
  (void)type;
  (void)ftw;
  if (remove(path) != 0) fprintf(stderr, "bench: cannot remove %s\n", path);
  return 0;
}

void qb_remove_tree(const char *dir) {
  if (getenv("BENCH_KEEP") != NULL) return;
  nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int qb_check_counts(qb_report_t *rep, const char *system, const qb_result_counts_t *got,
                    const qb_workload_t *w) {
  const qb_outcome_counts_t *e = &w->counts;
  uint64_t e_failed = e->exceeds_credits + e->not_found;
  if (got->unexpected == 0 && got->ok == e->ok && got->exists == e->exists &&
      got->failed == e_failed)
    return 0;
  fprintf(stderr,
          "bench: CHECK FAILED: %s results: ok %llu exists %llu failed %llu (%llu unexpected); "
          "the workload expects ok %llu exists %llu failed %llu\n",
          system, (unsigned long long)got->ok, (unsigned long long)got->exists,
          (unsigned long long)got->failed, (unsigned long long)got->unexpected,
          (unsigned long long)e->ok, (unsigned long long)e->exists, (unsigned long long)e_failed);
  rep->failed = true;
  return QP_ECORRUPT;
}

int qb_finish_check(qb_report_t *rep, const char *system, const qb_checker_t *c, int io_rc) {
  if (io_rc != 0) {
    fprintf(stderr, "bench: CHECK FAILED: %s: could not read the balances back: %s\n", system,
            qp_strerror(io_rc));
    rep->failed = true;
    return io_rc;
  }
  if (c->mismatches != 0 || c->checked != c->workload->config.accounts) {
    fprintf(stderr, "bench: CHECK FAILED: %s: %llu of %llu accounts differ from the model "
            "(%llu of %llu read back); first: %s\n", system,
            (unsigned long long)c->mismatches, (unsigned long long)c->checked,
            (unsigned long long)c->checked, (unsigned long long)c->workload->config.accounts,
            c->first);
    rep->failed = true;
    return QP_ECORRUPT;
  }
  printf("   %s: all %llu balances equal the workload model\n", system,
         (unsigned long long)c->checked);
  return 0;
}

int qb_read_rss_kib(int pid, qb_rss_t *out) {
  char path[64], line[256];
  if (pid == 0) snprintf(path, sizeof path, "/proc/self/status");
  else snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return QP_EIO;
  memset(out, 0, sizeof *out);
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "VmHWM:", 6) == 0) out->hwm_kib = strtoull(line + 6, NULL, 10);
    if (strncmp(line, "VmRSS:", 6) == 0) out->rss_kib = strtoull(line + 6, NULL, 10);
    if (strncmp(line, "RssAnon:", 8) == 0) out->anon_kib = strtoull(line + 8, NULL, 10);
    if (strncmp(line, "RssFile:", 8) == 0) out->file_kib = strtoull(line + 8, NULL, 10);
  }
  fclose(f);
  return 0;
}
