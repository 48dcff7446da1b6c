/*
 * assert.h - QP_ASSERT, which stays on in release builds.
 *
 * A broken invariant in a ledger is worse than a crash: continuing would
 * acknowledge money movements computed from corrupt state.  So QP_ASSERT is
 * never compiled out; it prints the expression with file:line and aborts.
 */
#ifndef QP_BASE_ASSERT_H
#define QP_BASE_ASSERT_H

_Noreturn void qp__assert_fail(const char *expr, const char *file, int line);

#define QP_ASSERT(expr)                                                       \
  ((expr) ? (void)0 : qp__assert_fail(#expr, __FILE__, __LINE__))

/* Marks a branch that cannot be reached if the code is correct. */
#define QP_UNREACHABLE() qp__assert_fail("unreachable", __FILE__, __LINE__)

#endif
