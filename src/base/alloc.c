/*
 * alloc.c - heap wrappers with fault injection.  The countdown is atomic so
 * that tests can arm it while worker threads allocate.
 */
#include "base/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static _Atomic int64_t fail_countdown = -1;
static _Atomic uint64_t injected_failures = 0;

static int should_fail(void) {
  int64_t left = atomic_load(&fail_countdown);
  while (left >= 0) {
    if (atomic_compare_exchange_weak(&fail_countdown, &left, left - 1)) {
      if (left == 0) {
        atomic_fetch_add(&injected_failures, 1);
        return 1;
      }
      return 0;
    }
  }
  return 0;
}

void *qp_malloc(size_t size) {
  if (should_fail()) return NULL;
  return malloc(size == 0 ? 1 : size); /* lint-ok: the one allowed call */
}

void *qp_calloc(size_t count, size_t size) {
  if (should_fail()) return NULL;
  return calloc(count == 0 ? 1 : count, size == 0 ? 1 : size); /* lint-ok */
}

void *qp_realloc(void *ptr, size_t size) {
  if (should_fail()) return NULL;
  return realloc(ptr, size == 0 ? 1 : size); /* lint-ok */
}

void qp_free(void *ptr) { free(ptr); }

void qp_alloc_fail_after(int64_t countdown) {
  atomic_store(&fail_countdown, countdown < 0 ? -1 : countdown);
}

uint64_t qp_alloc_injected_failures(void) {
  return atomic_load(&injected_failures);
}

void qp_alloc_tune_process(void) {
#ifdef __GLIBC__
  /* glibc gives each thread that allocates its own 64 MiB heap arena; the
   * HTTP threads' request and reply buffers then sit in many half-used
   * arenas.  Two arenas keep the server's memory close to what it uses. */
  mallopt(M_ARENA_MAX, 2);
  /* Blocks of a few hundred KiB to a few MiB come and go many times a
   * second.  glibc's defaults serve them with mmap/munmap, or give freed
   * heap tops back to the kernel: each time page faults, and on munmap a
   * TLB shootdown that interrupts every other core.  Fixed thresholds keep
   * them in the heap (the chain bench: 79.8 against 81.9 µs of CPU per
   * transaction per node; bench ledger: +13 % indexed transfers/s,
   * docs/bench.md); the process's memory is then its peak rather than its
   * current use. */
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}
