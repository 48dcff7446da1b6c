/*
 * clock.h - the two clocks quipu reads (monotonic, for durations and
 * timeouts; wall, for timestamps and log lines), behind one small vtable so
 * that a simulator can hand the code under test a clock it advances itself.
 *
 * Pure cores never read a clock (DESIGN.md section 2): they take the time as
 * a number.  The edge reads qp_clock_system() or, inside a simulator, a
 * qp_sim_clock_t, and passes the reading in.  The convenience functions
 * qp_clock_mono_ns() and qp_clock_wall_ns() read the system clock directly,
 * for code that is never simulated (the CLI, the bench, logging).
 */
#ifndef QP_BASE_CLOCK_H
#define QP_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

#define QP_NS_PER_MS 1000000ull
#define QP_NS_PER_S 1000000000ull

/* A clock: two readings and their context.  Either function may be NULL, in
 * which case the system clock answers for it. */
typedef struct qp_clock {
  uint64_t (*mono_ns)(void *ctx); /* monotonic nanoseconds: never go backwards */
  uint64_t (*wall_ns)(void *ctx); /* nanoseconds since the Unix epoch: may step */
  void *ctx;                      /* passed to both */
} qp_clock_t;

/* The process's real clocks (CLOCK_MONOTONIC, CLOCK_REALTIME).  Static
 * storage, never NULL. */
const qp_clock_t *qp_clock_system(void);

/* CLOCK_MONOTONIC and CLOCK_REALTIME in nanoseconds. */
uint64_t qp_clock_mono_ns(void);
uint64_t qp_clock_wall_ns(void);

/* Reads `clock` (NULL = the system clock). */
uint64_t qp_clock_now_mono(const qp_clock_t *clock);
uint64_t qp_clock_now_wall(const qp_clock_t *clock);

/* Fills *ts with the CLOCK_REALTIME instant `timeout_ms` from now, normalised
 * (tv_nsec < 1e9), for pthread_cond_timedwait on a default condition. */
void qp_clock_deadline_ts(uint64_t timeout_ms, struct timespec *ts);

/* A simulated clock: time moves only when the simulator moves it.  The
 * monotonic reading only goes forward; the wall reading starts equal to it
 * and may be stepped either way (an NTP step) with qp_sim_clock_set_wall.
 * Caller-allocated; nothing to release.  Single-threaded. */
typedef struct qp_sim_clock {
  uint64_t mono_ns; /* current monotonic reading */
  uint64_t wall_ns; /* current wall reading */
  uint64_t reads;   /* readings taken through qp_sim_clock_as_clock */
} qp_sim_clock_t;

/* Starts both readings at start_ns. */
void qp_sim_clock_init(qp_sim_clock_t *clock, uint64_t start_ns);

/* Moves both readings forward by delta_ns (overflow aborts). */
void qp_sim_clock_advance(qp_sim_clock_t *clock, uint64_t delta_ns);

/* Moves both readings forward to mono_ns if it is later (a driver jumping
 * to the next event); an earlier value is a no-op, so time never runs back. */
void qp_sim_clock_advance_to(qp_sim_clock_t *clock, uint64_t mono_ns);

/* Steps the wall reading to wall_ns, forward or back; monotonic untouched. */
void qp_sim_clock_set_wall(qp_sim_clock_t *clock, uint64_t wall_ns);

/* Fills *out with a qp_clock_t reading `clock`.  *out borrows `clock`: it
 * is valid as long as `clock` is. */
void qp_sim_clock_as_clock(qp_sim_clock_t *clock, qp_clock_t *out);

#endif
