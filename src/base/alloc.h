/*
 * alloc.h - the only door to the heap.
 *
 * All allocations in quipu go through these wrappers (`make lint` bans raw
 * malloc elsewhere) so that tests can inject allocation failures at any
 * point, the SQLite way, and check that every error path leaves state whole.
 */
#ifndef QP_BASE_ALLOC_H
#define QP_BASE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* Allocates size bytes; NULL when out of memory or when a fault is injected.
 * The caller owns the memory and releases it with qp_free(). */
void *qp_malloc(size_t size);

/* Allocates count*size zeroed bytes; NULL on overflow, OOM or injected fault. */
void *qp_calloc(size_t count, size_t size);

/* Resizes ptr; on failure returns NULL and ptr stays valid and owned. */
void *qp_realloc(void *ptr, size_t size);

/* Releases memory from the functions above; NULL is allowed. */
void qp_free(void *ptr);

/* Sets the C library's heap for a long-running server process (glibc:
 * two arenas, allocations up to 32 MiB from the heap, freed heap tops kept
 * up to 256 MiB), so that the big buffers that come and go many times a
 * second (a round's index changes, decoded blocks, request bodies) do not
 * page-fault and shoot down TLBs each time.  The node calls it at start,
 * and the in-process benchmarks too, so that they measure the library as
 * the node runs it (docs/bench.md).  Call once, before threads start. */
void qp_alloc_tune_process(void);

/* Fault injection for tests: the allocation after `countdown` more successful
 * ones fails (0 = the very next one); a negative value disables injection.
 * Thread-safe; the counter is global to the process. */
void qp_alloc_fail_after(int64_t countdown);

/* Number of allocations that failed because of injection so far. */
uint64_t qp_alloc_injected_failures(void);

#endif
