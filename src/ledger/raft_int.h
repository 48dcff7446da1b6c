/*
 * raft_int.h - the ledger replicated on Raft (docs/cluster.md), private to
 * src/ledger/: the codec of one Raft entry (raft_entry.c, pure) and the
 * replica that runs libraft on its own libuv thread (raft_node.c).
 *
 * One Raft entry is one group commit: the leader's writer packs every
 * client batch it took into one entry, and every replica applies the
 * entry with one qp_db_execute (one journal append, one fdatasync), at the
 * time the leader stamped on it, so every journal gets the same records.
 */
#ifndef QP_LEDGER_RAFT_INT_H
#define QP_LEDGER_RAFT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ledger/api.h"

#define QP__RAFT_ENTRY_MAGIC 0x31525051u    /* "QPR1" */
#define QP__RAFT_ENTRY_HEADER 16u           /* magic, count, now_ns */
#define QP__RAFT_REQUEST_HEADER 16u         /* op, count, submitter */
#define QP__RAFT_ENTRY_REQUESTS_MAX 4000u   /* requests in one entry (one journal group) */
#define QP__RAFT_ENTRY_EVENTS_MAX (4u * QP_BATCH_EVENTS_MAX) /* events in one entry */

/* Bytes the entry holding reqs[0, count) takes. */
size_t qp__raft_entry_size(const qp_db_request_t *reqs, uint32_t count);

/* Encodes reqs[0, count) (their op, submitter and events, field by field)
 * stamped now_ns into out (qp__raft_entry_size bytes).  Returns 0, or
 * QP_ELIMIT when there are too many requests or events for one entry. */
int qp__raft_entry_encode(uint64_t now_ns, const qp_db_request_t *reqs, uint32_t count,
                          uint8_t *out, size_t size);

/* Decodes an entry into reqs (room for QP__RAFT_ENTRY_REQUESTS_MAX), whose
 * events are decoded into events (room for QP__RAFT_ENTRY_EVENTS_MAX
 * transfers; accounts use the same room) and whose results point into
 * results (same room).  Returns 0 or QP_ECORRUPT (bad magic, sizes that do
 * not add up, an unknown op). */
int qp__raft_entry_decode(const uint8_t *in, size_t size, uint64_t *now_ns,
                          qp_db_request_t *reqs, uint32_t *count, qp_transfer_t *events,
                          uint32_t *results);

/* Which requests of the entry at Raft index `index` the journal still
 * lacks, given its last replica_pos (qp_db_replica_pos): the first ordinal
 * (1-based) to apply, or count + 1 when the journal has them all. */
uint32_t qp__raft_first_missing(uint64_t index, uint64_t journal_pos, uint32_t count);

/* ------------------------------------------------------------ replica */

typedef struct qp__raft_node qp__raft_node_t; /* opaque: raft_node.c */

/* What GET /v1/cluster/status shows, copied from the Raft thread. */
typedef struct qp__raft_status {
  int role;              /* RAFT_FOLLOWER, RAFT_CANDIDATE, RAFT_LEADER, 0 = unavailable */
  int leader;            /* the leader's index in the replicas, -1 = unknown */
  uint64_t term;         /* current term */
  uint64_t commit_index; /* highest entry known committed */
  uint64_t applied_index; /* highest entry applied to the ledger */
} qp__raft_status_t;

/* Starts this replica (cluster->replicas[cluster->self]): its Raft log
 * under data_dir/raft, bootstrapped with every replica as a voter the
 * first time, on a thread of its own.  Before applying an entry it sets
 * *clock_ns to the entry's time: db must have been opened with a clock
 * that reads it.  cluster, db and clock_ns are borrowed and must outlive
 * it.  Returns 0, QP_ENOMEM or QP_EIO (detail says why). */
int qp__raft_node_start(const qp_ledger_cluster_t *cluster, qp_db_t *db, uint64_t *clock_ns,
                        const char *data_dir, qp__raft_node_t **out, char *detail,
                        size_t detail_size);

/* Proposes reqs[0, count) as one entry and waits until this replica has
 * applied it: then every request's status and results are set, and 0 is
 * returned.  QP_EAGAIN when this replica is not the leader or lost the
 * leadership before the entry was applied (the entry may still commit:
 * clients retry with the same ids); QP_ELIMIT when it does not fit one
 * entry; QP_ESTOPPED when the node is stopping.  One caller at a time. */
int qp__raft_node_propose(qp__raft_node_t *n, qp_db_request_t *reqs, uint32_t count);

/* Confirms, for a read that arrived before the call, that this replica
 * still leads and has applied everything committed before it: waits for a
 * Raft barrier entry started after the call to be committed by a majority
 * in the current term and applied.  Concurrent readers share one barrier
 * (one in flight; later arrivals wait for the next), so a read costs one
 * round trip, not one entry.  Any thread; blocks at most a few seconds.
 * Returns 0 (serve the read), QP_EAGAIN (not or no longer the leader, or
 * no majority answered in time: answer like a follower) or QP_ESTOPPED. */
int qp__raft_node_read_barrier(qp__raft_node_t *n);

/* The latest status (cheap, any thread). */
void qp__raft_node_status(qp__raft_node_t *n, qp__raft_status_t *out);

/* Stops the Raft thread and frees n.  Safe on NULL. */
void qp__raft_node_stop(qp__raft_node_t *n);

#endif
