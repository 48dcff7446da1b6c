/*
 * log.c - formats a whole line into a bounded stack buffer and emits it with
 * a single write(2), so lines from different threads never interleave.
 */
#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"

enum { LOG_LINE_MAX = 2048 };

static _Atomic int min_level = QP_LOG_INFO;

void qp_log_set_level(qp_log_level_t level) { atomic_store(&min_level, (int)level); }

int qp_log_level_parse(const char *text, qp_log_level_t *out) {
  static const char *const names[] = {"debug", "info", "warn", "error", "off"};
  for (int i = 0; i < 5; i++) {
    if (strcmp(text, names[i]) == 0) {
      *out = (qp_log_level_t)i;
      return 0;
    }
  }
  return -1;
}

void qp_log(qp_log_level_t level, const char *module, const char *fmt, ...) {
  static const char *const tags[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  if ((int)level < atomic_load(&min_level) || level >= QP_LOG_OFF) return;
  char line[LOG_LINE_MAX];
  uint64_t wall_ns = qp_clock_wall_ns();
  time_t sec = (time_t)(wall_ns / QP_NS_PER_S);
  struct tm tm;
  gmtime_r(&sec, &tm);
  int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, (long)(wall_ns / QP_NS_PER_MS % 1000), tags[level], module);
  if (n < 0) return;
  size_t used = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + used, sizeof line - used, fmt, ap);
  va_end(ap);
  if (m > 0) used += (size_t)m < sizeof line - used ? (size_t)m : sizeof line - used - 1;
  if (used >= sizeof line - 1) used = sizeof line - 2;
  line[used++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, used);
  (void)w;
}
