/*
 * test_util.c - see test_util.h.
 */
#include "test_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void qp_test_tmpdir(char *buf, size_t size) {
  const char *base = getenv("TMPDIR");
  snprintf(buf, size, "%s/quipu-test-XXXXXX", base && *base ? base : "/tmp");
  if (mkdtemp(buf) == NULL) {
    fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
    abort();
  }
}

void qp_test_rmdir(const char *path) {
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
  int rc = system(cmd);
  (void)rc;
}

uint64_t qp_test_env_u64(const char *name, uint64_t fallback) {
  const char *v = getenv(name);
  if (v == NULL || *v == '\0') return fallback;
  char *end;
  errno = 0;
  unsigned long long x = strtoull(v, &end, 10);
  if (errno != 0 || *end != '\0') return fallback;
  return (uint64_t)x;
}
