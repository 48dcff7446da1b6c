/*
 * test_util.h - helpers shared by the unit tests: cmocka includes in the
 * right order and temporary directories.  Seeded randomness comes from
 * base/rng.h (qp_rng_t; qp_splitmix64 where a recorded seed must replay).
 */
#ifndef QP_TEST_UTIL_H
#define QP_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Creates a fresh directory under $TMPDIR (or /tmp); writes its path into
 * buf.  The caller removes it with qp_test_rmdir(). */
void qp_test_tmpdir(char *buf, size_t size);
/* Removes a directory tree (rm -rf). */
void qp_test_rmdir(const char *path);

/* Environment variable as u64, or the default. */
uint64_t qp_test_env_u64(const char *name, uint64_t fallback);

#endif
