/*
 * raft_recv.h - what libraft receives, through a guard against a libraft
 * 0.15 defect (private to src/ledger/, docs/cluster.md "Faults").
 *
 * A follower that has compacted its log behind a snapshot stops for good
 * (libraft turns it RAFT_UNAVAILABLE: "No log entries found at index 1")
 * when an AppendEntries starts below that snapshot: libraft finds no local
 * entry at the first index, appends everything to the end of its
 * in-memory log, then finds nothing where it expected it.  A leader sends
 * one when it has never taken a snapshot of its own: a new leader whose
 * first message to a replica fails (a cut link) falls back to probing from
 * that replica's match index, which is still 0, and sends its whole log.
 * With snapshots sized by bytes (raft_snapshot.c), one replica may have
 * snapshotted long before the one that becomes leader.
 *
 * The guard trims such a message before libraft sees it: the entries at
 * and below the follower's snapshot are committed (a snapshot holds only
 * applied entries), so the leader's copies of them are the follower's
 * own, and a message starting right after the snapshot (previous entry:
 * the snapshot's index and term) is the same message.  Everything else
 * passes untouched.
 */
#ifndef QP_LEDGER_RAFT_RECV_H
#define QP_LEDGER_RAFT_RECV_H

#include <raft.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct qp__raft_recv_guard {
  int (*inner_start)(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                     raft_io_recv_cb recv);
  raft_io_recv_cb recv; /* libraft's */
  uint64_t trimmed;     /* AppendEntries trimmed so far (libraft's loop thread) */
} qp__raft_recv_guard_t;

/* Puts g in front of io's start (call after raft_init, before
 * raft_start).  The guard finds itself through the raft instance: that
 * raft's data must point at g, or at a struct whose first member is g. */
void qp__raft_recv_guard(struct raft_io *io, qp__raft_recv_guard_t *g);

/* Trims a, an AppendEntries, to start right after the snapshot at
 * (snap_index, snap_term) when it starts below it, freeing the entries it
 * drops; true when it did.  False, leaving a as it was, when there is no
 * snapshot, a starts at or after it, or a's entry at snap_index has
 * another term (not this cluster's history: libraft decides). */
bool qp__raft_append_trim(struct raft_append_entries *a, raft_index snap_index,
                          raft_term snap_term);

#endif
