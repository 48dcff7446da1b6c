/*
 * test_sim_net.c - unit tests of the simulated network: a run is a
 * function of its seed (same seed, same deliveries; another seed, others),
 * loss and duplication happen at about their configured rates, a partition
 * drops both directions (also what was in flight when it began) and heal
 * restores the links, a link stays FIFO unless reordering is on, the
 * in-flight queue is bounded, messages are copies, and allocation failure
 * is reported without queuing anything.
 */
#include <string.h>

#include "test_util.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/rng.h"
#include "drills/drills.h"

#define MS 1000000ull
#define TRACE_MAX 20000u

/* One delivery, as the tests record it. */
typedef struct event {
  uint64_t at_ns;  /* deliver_ns */
  uint64_t id;     /* message id */
  uint32_t from;   /* sender */
  uint32_t to;     /* receiver */
  uint32_t len;    /* length */
  uint8_t first;   /* first byte (0 when empty) */
  bool duplicate;  /* second copy */
} event_t;

typedef struct trace {
  event_t events[TRACE_MAX]; /* in delivery order */
  uint32_t count;            /* recorded */
} trace_t;

static void record(void *ctx, const qp_sim_net_message_t *m) {
  trace_t *t = ctx;
  assert_true(t->count < TRACE_MAX);
  t->events[t->count++] = (event_t){.at_ns = m->deliver_ns, .id = m->id, .from = m->from,
                                    .to = m->to, .len = m->len,
                                    .first = m->len ? m->data[0] : 0,
                                    .duplicate = m->duplicate};
}

typedef struct world {
  qp_sim_clock_t sim;  /* the time */
  qp_clock_t clock;    /* as the network reads it */
  qp_sim_net_t *net;   /* under test */
} world_t;

static void world_open(world_t *w, const qp_sim_net_config_t *cfg, uint64_t seed) {
  qp_sim_clock_init(&w->sim, 1000 * MS);
  qp_sim_clock_as_clock(&w->sim, &w->clock);
  assert_int_equal(qp_sim_net_create(cfg, seed, &w->clock, &w->net), 0);
}

/* Advances the clock event by event until nothing is in flight. */
static void drain(world_t *w, trace_t *t) {
  for (uint64_t next; (next = qp_sim_net_next_delivery_ns(w->net)) != QP_SIM_NET_NEVER;) {
    qp_sim_clock_advance_to(&w->sim, next);
    qp_sim_net_deliver(w->net, w->sim.mono_ns, record, t);
  }
}

static void assert_balanced(const qp_sim_net_t *net) {
  qp_sim_net_stats_t s;
  qp_sim_net_stats(net, &s);
  assert_int_equal(s.sent + s.duplicated, s.delivered + s.dropped_loss + s.dropped_partition +
                                              s.dropped_overflow + s.in_flight);
}

static qp_sim_net_config_t lossy_config(void) {
  return (qp_sim_net_config_t){.nodes = 5, .delay_min_ns = 1 * MS, .delay_max_ns = 50 * MS,
                               .loss_ppm = 100000, .duplicate_ppm = 50000,
                               .reorder_ppm = 200000, .in_flight_max = 64};
}

/* A driver whose own choices come from the seed too: sends, time steps,
 * a partition in the middle and a heal. */
static void run_scenario(uint64_t seed, trace_t *t) {
  qp_sim_net_config_t cfg = lossy_config();
  world_t w;
  world_open(&w, &cfg, seed);
  qp_rng_t driver;
  qp_rng_seed(&driver, ~seed);
  t->count = 0;
  for (uint32_t step = 0; step < 3000; step++) {
    static const uint32_t sides[5] = {0, 0, 1, 1, 1};
    if (step == 1000) assert_int_equal(qp_sim_net_partition(w.net, sides, 5), 0);
    if (step == 2000) qp_sim_net_heal(w.net);
    uint8_t msg[16];
    qp_rng_bytes(&driver, msg, sizeof msg);
    uint32_t from = (uint32_t)qp_rng_below(&driver, 5), to = (uint32_t)qp_rng_below(&driver, 5);
    assert_int_equal(qp_sim_net_send(w.net, from, to, msg, qp_rng_below(&driver, 17)), 0);
    qp_sim_clock_advance(&w.sim, qp_rng_below(&driver, 5 * MS));
    qp_sim_net_deliver(w.net, w.sim.mono_ns, record, t);
  }
  drain(&w, t);
  assert_balanced(w.net);
  qp_sim_net_destroy(w.net);
}

static void test_same_seed_same_deliveries(void **state) {
  (void)state;
  static trace_t a, b, c; /* large: off the stack */
  run_scenario(7, &a);
  run_scenario(7, &b);
  run_scenario(8, &c);
  assert_true(a.count > 1000);
  assert_int_equal(a.count, b.count);
  assert_memory_equal(a.events, b.events, a.count * sizeof a.events[0]);
  bool differ = a.count != c.count ||
                memcmp(a.events, c.events, a.count * sizeof a.events[0]) != 0;
  assert_true(differ);
}

/* 100 000 messages at 10% loss and 5% duplication: within 1.5 points. */
static void test_loss_and_duplication_rates(void **state) {
  (void)state;
  qp_sim_net_config_t cfg = {.nodes = 2, .delay_min_ns = 1, .delay_max_ns = 10,
                             .loss_ppm = 100000, .duplicate_ppm = 50000};
  world_t w;
  world_open(&w, &cfg, 11);
  static trace_t t;
  uint64_t n = 100000;
  for (uint64_t i = 0; i < n; i++) {
    assert_int_equal(qp_sim_net_send(w.net, 0, 1, "x", 1), 0);
    qp_sim_clock_advance(&w.sim, 100);
    t.count = 0;
    qp_sim_net_deliver(w.net, w.sim.mono_ns, record, &t);
  }
  drain(&w, &t);
  qp_sim_net_stats_t s;
  qp_sim_net_stats(w.net, &s);
  assert_int_equal(s.sent, n);
  assert_true(s.dropped_loss > 8500 && s.dropped_loss < 11500);
  uint64_t kept = n - s.dropped_loss;
  assert_true(s.duplicated * 1000 > kept * 35 && s.duplicated * 1000 < kept * 65);
  assert_int_equal(s.delivered, kept + s.duplicated);
  assert_int_equal(s.dropped_overflow + s.dropped_partition + s.in_flight, 0);
  qp_sim_net_destroy(w.net);
}

static void test_partition_drops_both_ways_and_heals(void **state) {
  (void)state;
  qp_sim_net_config_t cfg = {.nodes = 4, .delay_min_ns = 10 * MS, .delay_max_ns = 10 * MS};
  world_t w;
  world_open(&w, &cfg, 3);
  static trace_t t;
  t.count = 0;
  assert_int_equal(qp_sim_net_send(w.net, 0, 2, "a", 1), 0); /* in flight when the cut comes */
  uint32_t sides[4] = {0, 0, 1, 1};
  assert_int_equal(qp_sim_net_partition(w.net, sides, 4), 0);
  assert_false(qp_sim_net_connected(w.net, 0, 2));
  assert_false(qp_sim_net_connected(w.net, 3, 1));
  assert_true(qp_sim_net_connected(w.net, 0, 1));
  assert_int_equal(qp_sim_net_send(w.net, 0, 2, "b", 1), 0);
  assert_int_equal(qp_sim_net_send(w.net, 2, 0, "c", 1), 0);
  assert_int_equal(qp_sim_net_send(w.net, 1, 3, "d", 1), 0);
  assert_int_equal(qp_sim_net_send(w.net, 0, 1, "e", 1), 0); /* same side */
  assert_int_equal(qp_sim_net_send(w.net, 3, 2, "f", 1), 0);
  drain(&w, &t);
  assert_int_equal(t.count, 2);
  assert_int_equal(t.events[0].first, 'e');
  assert_int_equal(t.events[1].first, 'f');
  qp_sim_net_stats_t s;
  qp_sim_net_stats(w.net, &s);
  assert_int_equal(s.dropped_partition, 4); /* a at delivery; b, c, d at send */
  qp_sim_net_heal(w.net);
  assert_int_equal(qp_sim_net_send(w.net, 0, 2, "g", 1), 0);
  assert_int_equal(qp_sim_net_send(w.net, 2, 0, "h", 1), 0);
  drain(&w, &t);
  assert_int_equal(t.count, 4);
  assert_int_equal(t.events[2].first, 'g');
  assert_int_equal(t.events[3].first, 'h');
  /* A one-way cut: 1 -> 0 is down, 0 -> 1 is up. */
  assert_int_equal(qp_sim_net_cut(w.net, 1, 0), 0);
  assert_int_equal(qp_sim_net_send(w.net, 1, 0, "i", 1), 0);
  assert_int_equal(qp_sim_net_send(w.net, 0, 1, "j", 1), 0);
  drain(&w, &t);
  assert_int_equal(t.count, 5);
  assert_int_equal(t.events[4].first, 'j');
  assert_int_equal(qp_sim_net_partition(w.net, sides, 3), QP_EINVAL);
  assert_int_equal(qp_sim_net_cut(w.net, 4, 0), QP_EINVAL);
  assert_balanced(w.net);
  qp_sim_net_destroy(w.net);
}

/* Sends 5000 messages on one link with widely spread delays; returns how
 * many deliveries came after a later-sent message's. */
static uint64_t inversions(uint32_t reorder_ppm, uint64_t *reordered) {
  qp_sim_net_config_t cfg = {.nodes = 2, .delay_min_ns = 0, .delay_max_ns = 100 * MS,
                             .duplicate_ppm = 100000, .reorder_ppm = reorder_ppm,
                             .in_flight_max = 10000};
  world_t w;
  world_open(&w, &cfg, 5);
  static trace_t t;
  t.count = 0;
  for (int i = 0; i < 5000; i++) {
    assert_int_equal(qp_sim_net_send(w.net, 0, 1, NULL, 0), 0);
    qp_sim_clock_advance(&w.sim, 10000);
  }
  drain(&w, &t);
  uint64_t count = 0;
  for (uint32_t i = 1; i < t.count; i++) {
    count += t.events[i].id < t.events[i - 1].id;
    assert_true(t.events[i].at_ns >= t.events[i - 1].at_ns);
  }
  qp_sim_net_stats_t s;
  qp_sim_net_stats(w.net, &s);
  *reordered = s.reordered;
  qp_sim_net_destroy(w.net);
  return count;
}

static void test_reordering_only_when_enabled(void **state) {
  (void)state;
  uint64_t reordered;
  assert_int_equal(inversions(0, &reordered), 0);
  assert_int_equal(reordered, 0);
  assert_true(inversions(300000, &reordered) > 100);
  assert_true(reordered > 100);
}

/* Delays stay in [min, max] when nothing waits in front. */
static void test_delay_bounds(void **state) {
  (void)state;
  qp_sim_net_config_t cfg = {.nodes = 3, .delay_min_ns = 2 * MS, .delay_max_ns = 9 * MS,
                             .reorder_ppm = 1000000};
  world_t w;
  world_open(&w, &cfg, 21);
  for (int i = 0; i < 2000; i++) {
    assert_int_equal(qp_sim_net_send(w.net, (uint32_t)i % 3, (uint32_t)(i + 1) % 3, "z", 1), 0);
    qp_sim_net_message_t m;
    assert_false(qp_sim_net_poll(w.net, w.sim.mono_ns + 2 * MS - 1, &m));
    uint64_t next = qp_sim_net_next_delivery_ns(w.net);
    assert_true(next >= w.sim.mono_ns + 2 * MS && next <= w.sim.mono_ns + 9 * MS);
    qp_sim_clock_advance_to(&w.sim, next);
    assert_true(qp_sim_net_poll(w.net, w.sim.mono_ns, &m));
    assert_int_equal(m.deliver_ns - m.sent_ns, next - m.sent_ns);
    assert_int_equal(m.data[0], 'z');
  }
  assert_int_equal(qp_sim_net_next_delivery_ns(w.net), QP_SIM_NET_NEVER);
  qp_sim_net_destroy(w.net);
}

static void test_queue_bound(void **state) {
  (void)state;
  qp_sim_net_config_t cfg = {.nodes = 2, .delay_min_ns = MS, .delay_max_ns = MS,
                             .in_flight_max = 10};
  world_t w;
  world_open(&w, &cfg, 1);
  for (int i = 0; i < 15; i++) assert_int_equal(qp_sim_net_send(w.net, 0, 1, "q", 1), 0);
  qp_sim_net_stats_t s;
  qp_sim_net_stats(w.net, &s);
  assert_int_equal(s.in_flight, 10);
  assert_int_equal(s.in_flight_peak, 10);
  assert_int_equal(s.dropped_overflow, 5);
  static trace_t t;
  t.count = 0;
  drain(&w, &t);
  assert_int_equal(t.count, 10);
  for (uint32_t i = 0; i < t.count; i++) assert_int_equal(t.events[i].id, i); /* the first ten */
  assert_int_equal(qp_sim_net_send(w.net, 0, 1, "q", 1), 0); /* room again */
  qp_sim_net_stats(w.net, &s);
  assert_int_equal(s.in_flight, 1);
  assert_balanced(w.net);
  qp_sim_net_destroy(w.net); /* frees what is still in flight */
}

/* A callback that answers every message: deliver stops at its bound. */
static void echo(void *ctx, const qp_sim_net_message_t *m) {
  world_t *w = ctx;
  assert_int_equal(qp_sim_net_send(w->net, m->to, m->from, m->data, m->len), 0);
}

static void test_messages_are_copies_and_replies_terminate(void **state) {
  (void)state;
  qp_sim_net_config_t cfg = {.nodes = 2}; /* zero delay: replies are due at once */
  world_t w;
  world_open(&w, &cfg, 2);
  char buf[8] = "hello";
  assert_int_equal(qp_sim_net_send(w.net, 0, 1, buf, 6), 0);
  memcpy(buf, "HELLO", 6); /* the network kept its own copy */
  qp_sim_net_message_t m;
  assert_true(qp_sim_net_poll(w.net, w.sim.mono_ns, &m));
  assert_string_equal((const char *)m.data, "hello");
  assert_int_equal(qp_sim_net_send(w.net, 0, 1, buf, 6), 0);
  assert_int_equal(qp_sim_net_deliver(w.net, w.sim.mono_ns, echo, &w), 1);
  assert_int_equal(qp_sim_net_deliver(w.net, w.sim.mono_ns, echo, &w), 1);
  assert_int_equal(qp_sim_net_next_delivery_ns(w.net), w.sim.mono_ns);
  assert_int_equal(qp_sim_net_send(w.net, 2, 0, buf, 1), QP_EINVAL);
  assert_int_equal(qp_sim_net_send(w.net, 0, 1, NULL, 1), QP_EINVAL);
  static uint8_t big[QP_SIM_NET_MESSAGE_BYTES_DEFAULT + 1];
  assert_int_equal(qp_sim_net_send(w.net, 0, 1, big, sizeof big), QP_EINVAL);
  assert_int_equal(qp_sim_net_send(w.net, 0, 1, big, sizeof big - 1), 0);
  qp_sim_net_destroy(w.net);
}

static void test_bad_config_and_allocation_failure(void **state) {
  (void)state;
  qp_sim_clock_t sc;
  qp_sim_clock_init(&sc, 0);
  qp_clock_t c;
  qp_sim_clock_as_clock(&sc, &c);
  qp_sim_net_t *net = NULL;
  qp_sim_net_config_t bad[] = {
      {.nodes = 0},
      {.nodes = QP_SIM_NET_NODES_MAX + 1},
      {.nodes = 2, .delay_min_ns = 2, .delay_max_ns = 1},
      {.nodes = 2, .loss_ppm = 1000001},
      {.nodes = 2, .in_flight_max = QP_SIM_NET_IN_FLIGHT_MAX + 1},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(qp_sim_net_create(&bad[i], 1, &c, &net), QP_EINVAL);
  qp_sim_net_config_t cfg = {.nodes = 2, .delay_min_ns = 5, .delay_max_ns = 5};
  qp_alloc_fail_after(0);
  assert_int_equal(qp_sim_net_create(&cfg, 1, &c, &net), QP_ENOMEM);
  assert_int_equal(qp_sim_net_create(&cfg, 1, &c, &net), 0);
  qp_alloc_fail_after(0); /* the copy of the bytes */
  assert_int_equal(qp_sim_net_send(net, 0, 1, "x", 1), QP_ENOMEM);
  qp_alloc_fail_after(1); /* the queue's first allocation */
  assert_int_equal(qp_sim_net_send(net, 0, 1, "y", 1), QP_ENOMEM);
  qp_alloc_fail_after(-1);
  assert_int_equal(qp_sim_net_next_delivery_ns(net), QP_SIM_NET_NEVER); /* nothing queued */
  assert_int_equal(qp_sim_net_send(net, 0, 1, "z", 1), 0);
  qp_sim_net_message_t m;
  assert_true(qp_sim_net_poll(net, 5, &m));
  assert_int_equal(m.data[0], 'z');
  qp_sim_net_destroy(net);
}

static int disarm(void **state) {
  (void)state;
  qp_alloc_fail_after(-1);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_seed_same_deliveries),
      cmocka_unit_test(test_loss_and_duplication_rates),
      cmocka_unit_test(test_partition_drops_both_ways_and_heals),
      cmocka_unit_test(test_reordering_only_when_enabled),
      cmocka_unit_test(test_delay_bounds),
      cmocka_unit_test(test_queue_bound),
      cmocka_unit_test(test_messages_are_copies_and_replies_terminate),
      cmocka_unit_test_teardown(test_bad_config_and_allocation_failure, disarm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
