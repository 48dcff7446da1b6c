/*
 * clock.c - see clock.h.  The system clock reads clock_gettime; a failure
 * there (an invalid clock id) cannot happen on Linux and aborts.
 */
#include "base/clock.h"

#include "base/assert.h"

static uint64_t read_clock(clockid_t id) {
  struct timespec ts;
  int rc = clock_gettime(id, &ts);
  QP_ASSERT(rc == 0 && ts.tv_sec >= 0);
  return (uint64_t)ts.tv_sec * QP_NS_PER_S + (uint64_t)ts.tv_nsec;
}

uint64_t qp_clock_mono_ns(void) { return read_clock(CLOCK_MONOTONIC); }
uint64_t qp_clock_wall_ns(void) { return read_clock(CLOCK_REALTIME); }

static uint64_t system_mono(void *ctx) {
  (void)ctx;
  return qp_clock_mono_ns();
}

static uint64_t system_wall(void *ctx) {
  (void)ctx;
  return qp_clock_wall_ns();
}

const qp_clock_t *qp_clock_system(void) {
  static const qp_clock_t system = {.mono_ns = system_mono, .wall_ns = system_wall};
  return &system;
}

uint64_t qp_clock_now_mono(const qp_clock_t *clock) {
  if (clock == NULL || clock->mono_ns == NULL) return qp_clock_mono_ns();
  return clock->mono_ns(clock->ctx);
}

uint64_t qp_clock_now_wall(const qp_clock_t *clock) {
  if (clock == NULL || clock->wall_ns == NULL) return qp_clock_wall_ns();
  return clock->wall_ns(clock->ctx);
}

void qp_clock_deadline_ts(uint64_t timeout_ms, struct timespec *ts) {
  int rc = clock_gettime(CLOCK_REALTIME, ts);
  QP_ASSERT(rc == 0);
  ts->tv_sec += (time_t)(timeout_ms / 1000);
  ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec += 1;
    ts->tv_nsec -= 1000000000L;
  }
  QP_ASSERT(ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L);
}

/* ------------------------------------------------------------ simulated */

void qp_sim_clock_init(qp_sim_clock_t *clock, uint64_t start_ns) {
  clock->mono_ns = start_ns;
  clock->wall_ns = start_ns;
  clock->reads = 0;
}

void qp_sim_clock_advance(qp_sim_clock_t *clock, uint64_t delta_ns) {
  QP_ASSERT(clock->mono_ns + delta_ns >= clock->mono_ns);
  QP_ASSERT(clock->wall_ns + delta_ns >= clock->wall_ns);
  clock->mono_ns += delta_ns;
  clock->wall_ns += delta_ns;
}

void qp_sim_clock_advance_to(qp_sim_clock_t *clock, uint64_t mono_ns) {
  if (mono_ns > clock->mono_ns) qp_sim_clock_advance(clock, mono_ns - clock->mono_ns);
  QP_ASSERT(clock->mono_ns >= mono_ns);
}

void qp_sim_clock_set_wall(qp_sim_clock_t *clock, uint64_t wall_ns) { clock->wall_ns = wall_ns; }

static uint64_t sim_mono(void *ctx) {
  qp_sim_clock_t *clock = ctx;
  clock->reads++;
  return clock->mono_ns;
}

static uint64_t sim_wall(void *ctx) {
  qp_sim_clock_t *clock = ctx;
  clock->reads++;
  return clock->wall_ns;
}

void qp_sim_clock_as_clock(qp_sim_clock_t *clock, qp_clock_t *out) {
  QP_ASSERT(clock != NULL && out != NULL);
  out->mono_ns = sim_mono;
  out->wall_ns = sim_wall;
  out->ctx = clock;
}
