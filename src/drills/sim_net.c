/*
 * sim_net.c - a network that lies, in memory, driven by a seeded PRNG and
 * a clock the simulator owns.
 *
 * A send copies the message, then draws from the network's own xoshiro
 * stream: lost or not, duplicated or not, and for each copy a delay in
 * [delay_min_ns, delay_max_ns] and whether it may overtake.  Copies wait in
 * a binary min-heap ordered by (due time, enqueue sequence), so equal due
 * times come out in send order and the order never depends on anything but
 * the seed and the calls.  A link stays FIFO by clamping each copy's due
 * time to the latest one already queued on that link; a copy that drew
 * "reorder" skips the clamp and may overtake.  A cut link drops copies at
 * send and again at delivery (a partition that starts while they travel).
 * The heap is a qp_array_t bounded by in_flight_max: past it, copies are
 * dropped and counted, as a full switch buffer would.
 *
 * No wall clock, no threads, no sockets: the driver advances its clock to
 * qp_sim_net_next_delivery_ns() and polls.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/array.h"
#include "base/assert.h"
#include "base/err.h"
#include "base/rng.h"
#include "drills/drills.h"

#define PPM 1000000u

/* A queued copy.  Owns `data` (qp_malloc'ed, NULL when len is 0). */
typedef struct copy {
  uint64_t due_ns;  /* when it is delivered */
  uint64_t seq;     /* enqueue order: breaks ties between equal due times */
  uint64_t id;      /* send order (the message's, shared by a duplicate) */
  uint64_t sent_ns; /* clock at send */
  uint8_t *data;    /* the bytes */
  uint32_t len;     /* their length */
  uint32_t from;    /* sender */
  uint32_t to;      /* receiver */
  bool duplicate;   /* the second copy of a duplicated message */
} copy_t;

/* Invariant: heap.count <= in_flight_max, and heap is a min-heap on
 * (due_ns, seq). */
struct qp_sim_net {
  qp_sim_net_config_t config;       /* defaults filled in */
  qp_clock_t clock;                 /* send reads its monotonic time */
  qp_rng_t rng;                     /* every random choice */
  qp_array_t heap;                  /* copy_t, ordered as above */
  uint64_t next_seq;                /* next copy's seq */
  uint64_t next_id;                 /* next message's id */
  uint8_t *current;                 /* the data of the copy last polled; freed next poll */
  qp_sim_net_stats_t stats;         /* counters */
  bool cut[QP_SIM_NET_NODES_MAX][QP_SIM_NET_NODES_MAX];          /* [from][to] down */
  uint64_t link_due_ns[QP_SIM_NET_NODES_MAX][QP_SIM_NET_NODES_MAX]; /* latest FIFO due */
};

/* ------------------------------------------------------------------ heap */

static bool before(const copy_t *a, const copy_t *b) {
  return a->due_ns != b->due_ns ? a->due_ns < b->due_ns : a->seq < b->seq;
}

static copy_t *at(const qp_sim_net_t *net, size_t i) { return qp_array_at(&net->heap, i); }

static void swap(qp_sim_net_t *net, size_t i, size_t j) {
  copy_t t = *at(net, i);
  *at(net, i) = *at(net, j);
  *at(net, j) = t;
}

/* Appends c and sifts it up.  Returns false (nothing changed) on OOM. */
static bool heap_push(qp_sim_net_t *net, const copy_t *c) {
  copy_t *slot = qp_array_push(&net->heap);
  if (slot == NULL) return false;
  *slot = *c;
  size_t i = net->heap.count - 1;
  while (i > 0 && before(at(net, i), at(net, (i - 1) / 2))) {
    swap(net, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
  return true;
}

/* Removes the smallest copy into *out and restores the heap. */
static void heap_pop(qp_sim_net_t *net, copy_t *out) {
  QP_ASSERT(net->heap.count > 0);
  *out = *at(net, 0);
  size_t n = net->heap.count - 1;
  if (n > 0) *at(net, 0) = *at(net, n);
  qp_array_pop(&net->heap);
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && before(at(net, l), at(net, m))) m = l;
    if (r < n && before(at(net, r), at(net, m))) m = r;
    if (m == i) break;
    swap(net, i, m);
    i = m;
  }
}

/* ------------------------------------------------------------ lifecycle */

static int config_check(qp_sim_net_config_t *c) {
  if (c->in_flight_max == 0) c->in_flight_max = QP_SIM_NET_IN_FLIGHT_DEFAULT;
  if (c->message_bytes_max == 0) c->message_bytes_max = QP_SIM_NET_MESSAGE_BYTES_DEFAULT;
  if (c->nodes == 0 || c->nodes > QP_SIM_NET_NODES_MAX) return QP_EINVAL;
  if (c->delay_min_ns > c->delay_max_ns || c->delay_max_ns > UINT64_MAX / 4) return QP_EINVAL;
  if (c->loss_ppm > PPM || c->duplicate_ppm > PPM || c->reorder_ppm > PPM) return QP_EINVAL;
  if (c->in_flight_max > QP_SIM_NET_IN_FLIGHT_MAX) return QP_EINVAL;
  if (c->message_bytes_max > QP_SIM_NET_MESSAGE_BYTES_MAX) return QP_EINVAL;
  return 0;
}

int qp_sim_net_create(const qp_sim_net_config_t *config, uint64_t seed, const qp_clock_t *clock,
                      qp_sim_net_t **out) {
  QP_ASSERT(config != NULL && clock != NULL && out != NULL);
  qp_sim_net_config_t c = *config;
  int rc = config_check(&c);
  if (rc != 0) return rc;
  qp_sim_net_t *net = qp_calloc(1, sizeof *net);
  if (net == NULL) return QP_ENOMEM;
  net->config = c;
  net->clock = *clock;
  qp_rng_seed(&net->rng, seed);
  qp_array_init(&net->heap, sizeof(copy_t), c.in_flight_max);
  *out = net;
  return 0;
}

void qp_sim_net_destroy(qp_sim_net_t *net) {
  if (net == NULL) return;
  for (size_t i = 0; i < net->heap.count; i++) qp_free(at(net, i)->data);
  qp_array_deinit(&net->heap);
  qp_free(net->current);
  qp_free(net);
}

/* ----------------------------------------------------------------- send */

/* Draws a copy's due time and queues it; data moves into the queue (or is
 * freed if the copy is dropped).  Returns 0 or QP_ENOMEM. */
static int enqueue(qp_sim_net_t *net, copy_t *c) {
  uint64_t *link_due = &net->link_due_ns[c->from][c->to];
  c->due_ns = c->sent_ns + qp_rng_range(&net->rng, net->config.delay_min_ns,
                                        net->config.delay_max_ns);
  bool may_overtake = qp_rng_chance(&net->rng, net->config.reorder_ppm, PPM);
  if (!may_overtake && c->due_ns < *link_due) c->due_ns = *link_due;
  if (c->due_ns < *link_due) net->stats.reordered++;
  if (c->due_ns > *link_due) *link_due = c->due_ns;
  if (net->heap.count >= net->config.in_flight_max) {
    net->stats.dropped_overflow++;
    qp_free(c->data);
    return 0;
  }
  c->seq = net->next_seq++;
  if (!heap_push(net, c)) {
    qp_free(c->data);
    return QP_ENOMEM;
  }
  net->stats.in_flight = net->heap.count;
  if (net->stats.in_flight > net->stats.in_flight_peak)
    net->stats.in_flight_peak = net->stats.in_flight;
  return 0;
}

/* A qp_malloc'ed copy of bytes (NULL for len 0); *ok false on OOM. */
static uint8_t *copy_bytes(const void *bytes, size_t len, bool *ok) {
  *ok = true;
  if (len == 0) return NULL;
  uint8_t *p = qp_malloc(len);
  if (p == NULL) *ok = false;
  else memcpy(p, bytes, len);
  return p;
}

int qp_sim_net_send(qp_sim_net_t *net, uint32_t from, uint32_t to, const void *bytes, size_t len) {
  if (from >= net->config.nodes || to >= net->config.nodes) return QP_EINVAL;
  if (len > net->config.message_bytes_max || (bytes == NULL && len > 0)) return QP_EINVAL;
  copy_t c = {.from = from, .to = to, .len = (uint32_t)len};
  c.sent_ns = qp_clock_now_mono(&net->clock);
  c.id = net->next_id++;
  net->stats.sent++;
  if (net->cut[from][to]) {
    net->stats.dropped_partition++;
    return 0;
  }
  if (qp_rng_chance(&net->rng, net->config.loss_ppm, PPM)) {
    net->stats.dropped_loss++;
    return 0;
  }
  bool dup = qp_rng_chance(&net->rng, net->config.duplicate_ppm, PPM);
  bool ok1, ok2 = true;
  c.data = copy_bytes(bytes, len, &ok1);
  uint8_t *second = dup ? copy_bytes(bytes, len, &ok2) : NULL;
  if (!ok1 || !ok2) {
    qp_free(c.data);
    qp_free(second);
    return QP_ENOMEM;
  }
  copy_t d = c;
  int rc = enqueue(net, &c);
  if (rc != 0 || !dup) {
    qp_free(second);
    return rc;
  }
  net->stats.duplicated++;
  d.data = second;
  d.duplicate = true;
  return enqueue(net, &d);
}

/* -------------------------------------------------------------- deliver */

uint64_t qp_sim_net_next_delivery_ns(const qp_sim_net_t *net) {
  return net->heap.count ? at(net, 0)->due_ns : QP_SIM_NET_NEVER;
}

bool qp_sim_net_poll(qp_sim_net_t *net, uint64_t now_ns, qp_sim_net_message_t *out) {
  qp_free(net->current);
  net->current = NULL;
  while (net->heap.count > 0 && at(net, 0)->due_ns <= now_ns) {
    copy_t c;
    heap_pop(net, &c);
    net->stats.in_flight = net->heap.count;
    if (net->cut[c.from][c.to]) {
      net->stats.dropped_partition++;
      qp_free(c.data);
      continue;
    }
    net->stats.delivered++;
    net->current = c.data;
    *out = (qp_sim_net_message_t){.from = c.from, .to = c.to, .data = c.data, .len = c.len,
                                  .id = c.id, .sent_ns = c.sent_ns, .deliver_ns = c.due_ns,
                                  .duplicate = c.duplicate};
    return true;
  }
  return false;
}

uint64_t qp_sim_net_deliver(qp_sim_net_t *net, uint64_t now_ns,
                            void (*deliver)(void *ctx, const qp_sim_net_message_t *message),
                            void *ctx) {
  QP_ASSERT(deliver != NULL);
  uint64_t bound = net->heap.count, delivered = 0;
  qp_sim_net_message_t m;
  for (uint64_t i = 0; i < bound && qp_sim_net_poll(net, now_ns, &m); i++) {
    deliver(ctx, &m);
    delivered++;
  }
  return delivered;
}

/* ----------------------------------------------------------- partitions */

int qp_sim_net_partition(qp_sim_net_t *net, const uint32_t *side, uint32_t nodes) {
  if (side == NULL || nodes != net->config.nodes) return QP_EINVAL;
  for (uint32_t a = 0; a < nodes; a++)
    for (uint32_t b = 0; b < nodes; b++) net->cut[a][b] = side[a] != side[b];
  return 0;
}

int qp_sim_net_cut(qp_sim_net_t *net, uint32_t from, uint32_t to) {
  if (from >= net->config.nodes || to >= net->config.nodes) return QP_EINVAL;
  net->cut[from][to] = true;
  return 0;
}

void qp_sim_net_heal(qp_sim_net_t *net) { memset(net->cut, 0, sizeof net->cut); }

bool qp_sim_net_connected(const qp_sim_net_t *net, uint32_t from, uint32_t to) {
  QP_ASSERT(from < net->config.nodes && to < net->config.nodes);
  return !net->cut[from][to];
}

void qp_sim_net_stats(const qp_sim_net_t *net, qp_sim_net_stats_t *out) { *out = net->stats; }
