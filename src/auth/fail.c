/*
 * fail.c - filling a qp_auth_fail_t (see fail.h).
 */
#include "auth/fail.h"

#include <stdarg.h>
#include <stdio.h>

#include "base/err.h"

int qp__auth_fail(qp_auth_fail_t *fail, const char *code, const char *fmt, ...) {
  if (fail == NULL) return QP_EINVAL;
  fail->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(fail->message, sizeof fail->message, fmt, ap);
  va_end(ap);
  return QP_EINVAL;
}

int qp__auth_nomem(qp_auth_fail_t *fail) {
  if (fail != NULL) {
    fail->code = QP_AUTH_INTERNAL;
    snprintf(fail->message, sizeof fail->message, "out of memory");
  }
  return QP_ENOMEM;
}
