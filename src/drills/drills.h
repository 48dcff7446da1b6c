/*
 * drills.h - the attackers: a simulated disk that crashes, tears, misdirects
 * and flips bits, a simulated network that delays, loses, duplicates,
 * reorders and partitions messages between nodes, and a deterministic
 * simulator that drives the real ledger
 * (qp_db_t in simulated mode: the real journal, the real recovery) over it
 * from one seed, checking after every step that nothing acknowledged was
 * lost and that the results equal a fault-free reference run.
 *
 * Everything here is deterministic in its seed: no wall clock, no unseeded
 * randomness, no threads, no file system.  Same seed, same run, byte for
 * byte (the digest proves it).  docs/drills.md describes the fault model and
 * how to replay a failing seed.
 */
#ifndef QP_DRILLS_DRILLS_H
#define QP_DRILLS_DRILLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "crypto/crypto.h"
#include "store/store.h"

/* -------------------------------------------------------- the sim disk */

/* Fault kinds, counted separately.  XX(NAME, name, what). */
#define QP_SIM_FAULTS_MAP(XX)                                                       \
  XX(CRASH, crash, "the process dies at an I/O call")                               \
  XX(POWER_LOSS, power_loss, "a restart loses everything not synced")               \
  XX(TORN, torn, "a power loss keeps a prefix of the last unsynced write")          \
  XX(MISDIRECTED, misdirected, "a write lands at a wrong offset")                   \
  XX(BITFLIP, bitflip, "a read returns one bit flipped")                            \
  XX(SYNC_EIO, sync_eio, "fdatasync returns EIO")                                   \
  XX(WRITE_EIO, write_eio, "a write returns EIO")                                   \
  XX(RESERVE_ENOSPC, reserve_enospc, "reserving space returns ENOSPC")              \
  XX(WRITE_ENOSPC, write_enospc, "a write returns ENOSPC")

typedef enum {
#define QP__SIM_FAULT(NAME, name, what) QP_SIM_FAULT_##NAME,
  QP_SIM_FAULTS_MAP(QP__SIM_FAULT)
#undef QP__SIM_FAULT
  QP_SIM_FAULT_COUNT
} qp_sim_fault_t;

/* "crash", "torn", ...; NULL when out of range. */
const char *qp_sim_fault_name(qp_sim_fault_t kind);

/* Fault probabilities in parts per million of the calls they apply to.
 * Zero everywhere is a perfect disk. */
typedef struct qp_sim_disk_config {
  uint32_t crash_ppm;          /* per I/O call: the process dies there */
  uint32_t torn_ppm;           /* per power loss with an unsynced write */
  uint32_t misdirect_ppm;      /* per write */
  uint32_t bitflip_ppm;        /* per read */
  uint32_t sync_eio_ppm;       /* per sync */
  uint32_t write_eio_ppm;      /* per write */
  uint32_t reserve_enospc_ppm; /* per reserve */
  uint32_t write_enospc_ppm;   /* per write */
  uint64_t capacity_bytes;     /* the device's size; 0 = bytes_max */
  uint64_t bytes_max;          /* hard bound on the file (0 = 64 MiB) */
} qp_sim_disk_config_t;

/* A disk holding one file.  It keeps two images of the file: what reads
 * see now (the page cache: "volatile") and what survives a power loss
 * ("durable"; sync copies the first into the second).  It also keeps, for
 * each, the image the writer *intended* (as if no write had been
 * misdirected), so that tests can tell damage from data.  Opaque. */
typedef struct qp_sim_disk qp_sim_disk_t;

/* Creates an empty disk whose faults are drawn from `seed`.  Returns 0 or
 * QP_ENOMEM; the caller owns *out and frees it with qp_sim_disk_destroy. */
int qp_sim_disk_create(const qp_sim_disk_config_t *config, uint64_t seed, qp_sim_disk_t **out);
void qp_sim_disk_destroy(qp_sim_disk_t *disk);

/* Opens the file: fills *io with functions over the disk.  The signature
 * is qp_db_options_t.open_journal's (ctx = the disk).  One open handle at a
 * time; io->close ends it.  Returns 0, QP_EIO while the process is dead, or
 * QP_EINVAL if a handle is already open. */
int qp_sim_disk_open(void *disk, qp_io_t *io);

/* Turns fault injection on or off (on after create).  Off, the disk is
 * perfect; counters do not move. */
void qp_sim_disk_set_faults(qp_sim_disk_t *disk, bool enabled);

/* True once a crash point fired: the "process" is dead and every call
 * returns QP_EIO until qp_sim_disk_restart(). */
bool qp_sim_disk_dead(const qp_sim_disk_t *disk);

/* Kills the process now (as a crash point would) - for crashes between
 * I/O calls. */
void qp_sim_disk_kill(qp_sim_disk_t *disk);

/* Restarts after a death.  With power_loss, everything not synced is lost
 * except that, with probability torn_ppm, a prefix of the last unsynced
 * write survives (torn write; sometimes with the file extended by zeros
 * over the rest, as a file system that updated the size but not the data
 * leaves it).  Without power_loss (kill -9), the page cache survives.  Any
 * open handle must have been closed. */
void qp_sim_disk_restart(qp_sim_disk_t *disk, bool power_loss);

/* Bytes that reads see now and that survive a power loss; valid until the
 * next call on the disk. */
const uint8_t *qp_sim_disk_volatile(const qp_sim_disk_t *disk, uint64_t *size_out);
const uint8_t *qp_sim_disk_durable(const qp_sim_disk_t *disk, uint64_t *size_out);

/* A read-only, fault-free qp_io_t over the durable image (for a verify
 * pass that trusts nothing but the platters).  Valid until the next write,
 * sync or restart; close is a no-op. */
void qp_sim_disk_durable_io(qp_sim_disk_t *disk, qp_io_t *io);

/* True if the bytes reads see now differ from what the writer intended
 * anywhere (a misdirected write hit them or left them stale). */
bool qp_sim_disk_damaged(const qp_sim_disk_t *disk);
/* True if the first `limit` bytes reads see now equal the intended ones. */
bool qp_sim_disk_intact_below(const qp_sim_disk_t *disk, uint64_t limit);

/* Faults injected so far, by kind. */
uint64_t qp_sim_disk_faults(const qp_sim_disk_t *disk, qp_sim_fault_t kind);
/* Bit flips that hit bytes below the durable size when read. */
uint64_t qp_sim_disk_flips_in_durable(const qp_sim_disk_t *disk);
/* Misdirected writes whose landing or intended range was later synced. */
uint64_t qp_sim_disk_misdirects_durable(const qp_sim_disk_t *disk);

/* Writes that grew the file past the space reserved with io->reserve: the
 * journal promises to reserve before it applies a group, so that a full
 * disk is an ordinary refusal and never a failed write (fail-stop). */
uint64_t qp_sim_disk_unreserved_writes(const qp_sim_disk_t *disk);

/* Grows the device by `bytes` (an operator freeing space). */
void qp_sim_disk_grow(qp_sim_disk_t *disk, uint64_t bytes);
/* Device capacity and space reserved so far. */
uint64_t qp_sim_disk_capacity(const qp_sim_disk_t *disk);

/* ------------------------------------------------------ the sim network */

#define QP_SIM_NET_NODES_MAX 32u                  /* nodes a network connects, at most */
#define QP_SIM_NET_IN_FLIGHT_DEFAULT 4096u        /* in_flight_max when the config says 0 */
#define QP_SIM_NET_IN_FLIGHT_MAX (1u << 20)       /* in_flight_max may not exceed this */
#define QP_SIM_NET_MESSAGE_BYTES_DEFAULT (64u << 10) /* message_bytes_max when 0 */
#define QP_SIM_NET_MESSAGE_BYTES_MAX (16u << 20)  /* message_bytes_max may not exceed this */
#define QP_SIM_NET_NEVER UINT64_MAX               /* next delivery when nothing is in flight */

/* A network's behaviour.  Probabilities are parts per million; zero
 * everywhere and delay_min_ns == delay_max_ns is a perfect network. */
typedef struct qp_sim_net_config {
  uint32_t nodes;             /* nodes 0..nodes-1; 1..QP_SIM_NET_NODES_MAX */
  uint64_t delay_min_ns;      /* a copy is delivered at least this long after its send */
  uint64_t delay_max_ns;      /* ... and its drawn delay is at most this (>= min) */
  uint32_t loss_ppm;          /* per message sent: lost */
  uint32_t duplicate_ppm;     /* per message not lost: delivered twice */
  uint32_t reorder_ppm;       /* per copy: may overtake earlier messages on its link */
  uint32_t in_flight_max;     /* copies queued at once; past it they are dropped (0 = default) */
  uint32_t message_bytes_max; /* longest message send accepts (0 = default) */
} qp_sim_net_config_t;

/* What a network did.  Every copy is delivered, dropped or in flight:
 * sent + duplicated == delivered + dropped_* + in_flight. */
typedef struct qp_sim_net_stats {
  uint64_t sent;              /* messages accepted by send */
  uint64_t delivered;         /* copies handed to the receiver */
  uint64_t duplicated;        /* messages given a second copy */
  uint64_t reordered;         /* copies that overtook an earlier copy on their link */
  uint64_t dropped_loss;      /* messages lost at random */
  uint64_t dropped_partition; /* copies dropped by a cut link, at send or at delivery */
  uint64_t dropped_overflow;  /* copies dropped because in_flight_max were queued */
  uint64_t in_flight;         /* copies queued now */
  uint64_t in_flight_peak;    /* the most queued at once */
} qp_sim_net_stats_t;

/* One delivered copy.  `data` belongs to the network: valid until the next
 * poll, deliver or destroy on the same network. */
typedef struct qp_sim_net_message {
  uint32_t from;              /* sending node */
  uint32_t to;                /* receiving node */
  const uint8_t *data;        /* the bytes as they were sent (NULL when len is 0) */
  uint32_t len;               /* their length */
  uint64_t id;                /* send order, from 0; a duplicate has its original's id */
  uint64_t sent_ns;           /* monotonic clock reading at send */
  uint64_t deliver_ns;        /* when it was due */
  bool duplicate;             /* the second copy of a duplicated message */
} qp_sim_net_message_t;

/* A deterministic network between nodes, in memory.  Every random choice
 * (loss, delay, duplication, reordering) is drawn from its own qp_rng_t
 * seeded at create, in the order of the calls, so the same seed and the
 * same calls give the same deliveries.  Without reordering each link
 * (from, to) is FIFO: a copy is never delivered before one sent earlier on
 * the same link.  Single-threaded.  Opaque. */
typedef struct qp_sim_net qp_sim_net_t;

/* Creates a network.  `clock` gives send its time (its monotonic reading;
 * usually a qp_sim_clock_t's); *clock is copied, but what clock->ctx points
 * to must outlive the network.  Returns 0, QP_EINVAL (bad config; nothing
 * allocated) or QP_ENOMEM.  The caller owns *out: qp_sim_net_destroy. */
int qp_sim_net_create(const qp_sim_net_config_t *config, uint64_t seed, const qp_clock_t *clock,
                      qp_sim_net_t **out);
/* Frees the network and every message in it; NULL is allowed. */
void qp_sim_net_destroy(qp_sim_net_t *net);

/* Sends len bytes from `from` to `to` (copied: the caller keeps bytes).
 * The sender cannot tell what happens next: 0 means accepted, even if the
 * message is lost, partitioned off or dropped at a full queue (the stats
 * say).  Returns QP_EINVAL for a node out of range or len past
 * message_bytes_max, QP_ENOMEM if the copy could not be allocated (nothing
 * queued then; the random stream has moved on). */
int qp_sim_net_send(qp_sim_net_t *net, uint32_t from, uint32_t to, const void *bytes, size_t len);

/* When the next queued copy is due (monotonic ns), or QP_SIM_NET_NEVER.
 * A driver advances its clock to this and polls. */
uint64_t qp_sim_net_next_delivery_ns(const qp_sim_net_t *net);

/* Takes the next copy due at or before now_ns: fills *out and returns true,
 * or returns false when none is due.  Copies due on a link that is cut now
 * are dropped on the way (counted).  Equal due times come out in send order. */
bool qp_sim_net_poll(qp_sim_net_t *net, uint64_t now_ns, qp_sim_net_message_t *out);

/* Calls deliver(ctx, message) for each copy due at or before now_ns, in
 * order, at most as many as were in flight when the call began (so a
 * callback that sends replies cannot keep it looping).  The callback may
 * send.  Returns the number delivered. */
uint64_t qp_sim_net_deliver(qp_sim_net_t *net, uint64_t now_ns,
                            void (*deliver)(void *ctx, const qp_sim_net_message_t *message),
                            void *ctx);

/* Partitions the nodes: side[i] is node i's side (any number), for i <
 * nodes (== the config's nodes).  Nodes on different sides cannot reach
 * each other, both ways; nodes on the same side can.  Replaces any earlier
 * partition or cut.  Copies already in flight across the cut are dropped
 * when due.  Returns 0 or QP_EINVAL. */
int qp_sim_net_partition(qp_sim_net_t *net, const uint32_t *side, uint32_t nodes);

/* Cuts the one-way link from -> to (an asymmetric partition); the reverse
 * direction is untouched.  Returns 0 or QP_EINVAL. */
int qp_sim_net_cut(qp_sim_net_t *net, uint32_t from, uint32_t to);

/* Reconnects every link.  Copies already dropped stay dropped. */
void qp_sim_net_heal(qp_sim_net_t *net);

/* True if a copy from -> to would get through now (ignoring loss). */
bool qp_sim_net_connected(const qp_sim_net_t *net, uint32_t from, uint32_t to);

/* The counters so far. */
void qp_sim_net_stats(const qp_sim_net_t *net, qp_sim_net_stats_t *out);

/* -------------------------------------------------- the ledger simulator */

/* One run's settings.  Fill with qp_sim_ledger_config_default(). */
typedef struct qp_sim_ledger_config {
  uint64_t seed;                 /* everything derives from it */
  uint32_t steps;                /* group commits attempted */
  qp_sim_disk_config_t disk;     /* fault probabilities */
  uint32_t idle_crash_ppm;       /* per step: a kill between I/O calls */
  uint32_t power_loss_ppm;       /* per death: a power loss rather than kill -9 */
  uint32_t retry_ppm;            /* per failed group: the client resends it */
  uint32_t clock_back_ppm;       /* per step: the wall clock steps backwards */
  /* Optional: receives one line (no newline) per thing the run does -
   * groups, results, faults, restarts, recoveries - for replaying a seed
   * by eye.  NULL = silent. */
  void (*trace)(void *ctx, const char *line);
  void *trace_ctx;               /* passed to trace */
} qp_sim_ledger_config_t;

/* The default fault mix (docs/drills.md lists it). */
void qp_sim_ledger_config_default(qp_sim_ledger_config_t *config, uint64_t seed, uint32_t steps);

/* What a run did and found.  Violations are the counters that must be 0. */
typedef struct qp_sim_stats {
  uint64_t seeds;                    /* runs summed here */
  uint64_t steps;                    /* steps run */
  uint64_t groups_acked;             /* qp_db_execute returned 0 */
  uint64_t batches_acked;            /* create batches acknowledged */
  uint64_t events_acked;             /* events in them */
  uint64_t transfers_checked;        /* acknowledged transfers looked up after a restart */
  uint64_t accounts_checked;         /* account balances compared with the reference */
  uint64_t restarts;                 /* close + reopen (recovery) */
  uint64_t torn_tails_cut;           /* recoveries that truncated a torn tail */
  uint64_t unacked_present;          /* unacknowledged batches that survived whole */
  uint64_t unacked_absent;           /* unacknowledged batches that vanished */
  uint64_t failstops;                /* write/sync errors that stopped the db */
  uint64_t enospc_rejected;          /* groups refused for lack of space (db stays up) */
  uint64_t corruptions_injected;     /* damage inside committed history, incidents */
  uint64_t corruptions_detected;     /* ... detected (open refused or verify reported) */
  uint64_t detected_at_open;         /* ... by recovery at open (QP_ECORRUPT) */
  uint64_t detected_by_verify;       /* ... by the verify pass */
  uint64_t corruptions_tolerated;    /* ... recovered from with nothing acknowledged lost */
  uint64_t clean_restarts;           /* runs restarted on a fresh disk after detection */
  uint64_t faults[QP_SIM_FAULT_COUNT]; /* injected, by kind */
  /* violations: */
  uint64_t losses;                   /* acknowledged batches/records missing or changed */
  uint64_t result_mismatches;        /* results differ from the reference */
  uint64_t state_mismatches;         /* balances/records differ from the reference */
  uint64_t invariant_violations;     /* qp_ledger_check / audit invariant_ok false */
  uint64_t failstop_violations;      /* a stopped db accepted a write */
  uint64_t silent_corruptions;       /* damage applied or missed, or a false alarm */
  uint64_t other_violations;         /* unexpected errors (stuck recovery, ...) */
} qp_sim_stats_t;

/* Sum of the violation counters. */
uint64_t qp_sim_violations(const qp_sim_stats_t *stats);
/* Adds every counter of `from` into `into`. */
void qp_sim_stats_add(qp_sim_stats_t *into, const qp_sim_stats_t *from);

/* Runs one seed.  Fills *stats (zeroed first) and digest (BLAKE2b-256 of
 * the final journal bytes and the counters: equal digests, equal runs).
 * The run stops at the first violation; detail (may be NULL) then says
 * which check failed at which step.  Returns 0 (look at the violation
 * counters), or QP_ENOMEM/QP_EINVAL when the run could not be set up. */
int qp_sim_ledger_run(const qp_sim_ledger_config_t *config, qp_sim_stats_t *stats,
                      uint8_t digest[QP_HASH_SIZE], char *detail, size_t detail_size);

/* --------------------------------------------------- the chain simulator */

#define QP_SIM_CHAIN_VALIDATORS_MAX QP_SIM_NET_NODES_MAX /* validators a run simulates */

/* One run of `quipu sim chain`.  Fill with qp_sim_chain_config_default(). */
typedef struct qp_sim_chain_config {
  uint64_t seed;             /* everything derives from it */
  uint32_t validators;       /* n: 1..QP_SIM_CHAIN_VALIDATORS_MAX */
  uint32_t byzantine;        /* Byzantine validators (the last ones): <= (n - 1) / 3 */
  uint32_t steps;            /* fault phase: steps of 10 simulated ms */
  uint32_t liveness_ms;      /* after the heal, every honest node commits every
                                transaction within this much simulated time */
  uint32_t loss_ppm;         /* per message during the fault phase */
  uint32_t crash_ppm;        /* per step: an honest node crashes (restarts later) */
  uint32_t partition_ppm;    /* per step: a partition starts (it heals later) */
  uint32_t tx_ppm;           /* per step: a client submits transactions */
  uint32_t byz_ppm;          /* per Byzantine opportunity: misbehave rather than follow */
  qp_suite_t suite;          /* the network's signing suite (genesis suite) */
  void (*trace)(void *ctx, const char *line); /* one line per event, or NULL */
  void *trace_ctx;           /* passed to trace */
} qp_sim_chain_config_t;

void qp_sim_chain_config_default(qp_sim_chain_config_t *config, uint64_t seed,
                                 uint32_t validators, uint32_t byzantine, uint32_t steps);

/* What runs did and found.  The last four counters are violations. */
typedef struct qp_sim_chain_stats {
  uint64_t seeds;               /* runs summed here */
  uint64_t steps;               /* steps simulated (fault phase + heal phase) */
  uint64_t messages;            /* copies delivered to a running core */
  uint64_t messages_lost;       /* dropped by loss, partitions or a down receiver */
  uint64_t messages_refused;    /* a core refused them (malformed, bad signature, invalid) */
  uint64_t duplicated;          /* copies the network duplicated */
  uint64_t reordered;           /* copies that overtook others */
  uint64_t partitions;          /* partitions started (each healed) */
  uint64_t crashes;             /* honest nodes crashed and restarted */
  uint64_t crashes_at_persist;  /* ... of which at a PERSIST, losing that record */
  uint64_t txs_submitted;       /* transactions the clients submitted */
  uint64_t txs_committed;       /* ... committed (counted once, by the first node) */
  uint64_t blocks_committed;    /* the highest committed height, summed over runs */
  uint64_t views;               /* the highest view reached, summed over runs */
  uint64_t equivocations;       /* Byzantine leaders' double proposals */
  uint64_t double_votes;        /* Byzantine votes for a second block of a view */
  uint64_t invalid_proposals;   /* Byzantine proposals with an invalid transaction */
  uint64_t invalid_votes;       /* Byzantine votes for such proposals */
  uint64_t forks;               /* Byzantine proposals extending a QC below the highest */
  uint64_t withheld;            /* Byzantine messages not sent */
  uint64_t garbage;             /* garbage or mutated messages sent by Byzantine nodes */
  uint64_t heal_commit_ms_max;  /* heal -> everything committed everywhere, worst run */
  /* violations: */
  uint64_t safety;              /* two honest nodes committed different blocks at a height */
  uint64_t validity;            /* a committed transaction was malformed or unsigned */
  uint64_t liveness;            /* not everything committed within liveness_ms of the heal */
  uint64_t other;               /* a core failed (out of memory, order of commits, ...) */
} qp_sim_chain_stats_t;

uint64_t qp_sim_chain_violations(const qp_sim_chain_stats_t *stats);
void qp_sim_chain_stats_add(qp_sim_chain_stats_t *into, const qp_sim_chain_stats_t *from);

/* Runs one seed: n consensus cores (src/chain/consensus.h) over a
 * simulated network and clock, with the faults and Byzantine behaviours of
 * docs/chain.md ("Simulator").  Fills *stats (zeroed first) and digest
 * (BLAKE2b-256 over every commit of every node in order: equal digests,
 * equal runs); detail (may be NULL) says what broke first.  Returns 0 (read
 * the violation counters), QP_EINVAL (bad config) or QP_ENOMEM. */
int qp_sim_chain_run(const qp_sim_chain_config_t *config, qp_sim_chain_stats_t *stats,
                     uint8_t digest[QP_HASH_SIZE], char *detail, size_t detail_size);

#endif
