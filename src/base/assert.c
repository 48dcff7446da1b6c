/*
 * assert.c - the failure path of QP_ASSERT: one report line on stderr, then
 * abort() so that a core dump (when enabled) preserves the state.
 */
#include "base/assert.h"

#include <stdio.h>
#include <stdlib.h>

_Noreturn void qp__assert_fail(const char *expr, const char *file, int line) {
  fprintf(stderr, "quipu: assertion failed: %s (%s:%d)\n", expr, file, line);
  fflush(stderr);
  abort();
}
