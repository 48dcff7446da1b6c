/*
 * raft_recv.c - libraft's received messages through the guard against
 * AppendEntries from below a follower's snapshot (raft_recv.h).
 */
#include "ledger/raft_recv.h"

#include <string.h>

#include "base/log.h"

bool qp__raft_append_trim(struct raft_append_entries *a, raft_index snap_index,
                          raft_term snap_term) {
  if (snap_index == 0 || a->prev_log_index >= snap_index) return false;
  raft_index last = a->prev_log_index + a->n_entries;
  if (last >= snap_index && a->entries[snap_index - a->prev_log_index - 1].term != snap_term)
    return false;
  if (last > snap_index) {
    /* The entries of one message share one batch (libraft frees the
     * first entry's): the kept ones keep it. */
    unsigned drop = (unsigned)(snap_index - a->prev_log_index);
    memmove(a->entries, a->entries + drop, (a->n_entries - drop) * sizeof *a->entries);
    a->n_entries -= drop;
  } else if (a->n_entries > 0) {
    void *batch = NULL;
    for (unsigned i = 0; i < a->n_entries; i++)
      if (a->entries[i].batch != NULL && a->entries[i].batch != batch)
        raft_free(batch = a->entries[i].batch);
    raft_free(a->entries);
    a->entries = NULL;
    a->n_entries = 0;
  }
  a->prev_log_index = snap_index;
  a->prev_log_term = snap_term;
  return true;
}

static qp__raft_recv_guard_t *guard_of(struct raft_io *io) {
  struct raft *r = io->data; /* raft_init set it */
  return r->data;
}

static void recv_guarded(struct raft_io *io, struct raft_message *m) {
  qp__raft_recv_guard_t *g = guard_of(io);
  struct raft *r = io->data;
  if (m->type == RAFT_IO_APPEND_ENTRIES) {
    raft_index from = m->append_entries.prev_log_index;
    if (qp__raft_append_trim(&m->append_entries, r->log.snapshot.last_index,
                             r->log.snapshot.last_term)) {
      g->trimmed++;
      QP_LOG_INFO("ledger",
                  "Raft: an AppendEntries from replica %llu started at entry %llu, below this "
                  "replica's snapshot at %llu: trimmed to start after it",
                  (unsigned long long)m->server_id, (unsigned long long)from + 1,
                  (unsigned long long)r->log.snapshot.last_index);
    }
  }
  g->recv(io, m);
}

static int start_guarded(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                         raft_io_recv_cb recv) {
  qp__raft_recv_guard_t *g = guard_of(io);
  g->recv = recv;
  return g->inner_start(io, msecs, tick, recv_guarded);
}

void qp__raft_recv_guard(struct raft_io *io, qp__raft_recv_guard_t *g) {
  g->inner_start = io->start;
  g->trimmed = 0;
  io->start = start_guarded;
}
