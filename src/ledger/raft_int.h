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

#include "crypto/crypto.h"
#include "ledger/api.h"
#include "ledger/db.h"

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

/* ------------------------------------------------------------ members */

#define QP__RAFT_MEMBER_MAGIC 0x314d5051u /* "QPM1": a replica's URL (raft_members.c) */
#define QP__RAFT_MEMBERS_MAX 32u          /* replicas whose URL a replica remembers */
#define QP__RAFT_SERVERS_MAX 16u          /* servers in Raft's configuration shown by status */

/* Every replica this one knows the addresses of: node.json's, then each
 * QPM1 entry applied.  Invariant: ids unique and non-zero; count <= max. */
typedef struct qp__raft_members {
  uint32_t count;                                    /* replicas used */
  qp_ledger_replica_t replicas[QP__RAFT_MEMBERS_MAX]; /* id, raft, http */
} qp__raft_members_t;

/* m = the replicas of node.json. */
void qp__raft_members_init(qp__raft_members_t *m, const qp_ledger_cluster_t *c);
/* The replica with that id, or NULL; borrowed from m. */
const qp_ledger_replica_t *qp__raft_members_find(const qp__raft_members_t *m, uint64_t id);
/* Adds r, or replaces the one with its id; when m is full, replaces one
 * whose id is not among keep[0, keep_count) (Raft's configuration). */
void qp__raft_members_put(qp__raft_members_t *m, const qp_ledger_replica_t *r,
                          const uint64_t *keep, uint32_t keep_count);
/* Bytes of r's QPM1 entry; whether in[0, size) is one; the encoding into
 * out (exactly qp__raft_member_entry_size bytes); its decoding (0 or
 * QP_ECORRUPT). */
size_t qp__raft_member_entry_size(const qp_ledger_replica_t *r);
bool qp__raft_member_entry_is(const uint8_t *in, size_t size);
void qp__raft_member_entry_encode(const qp_ledger_replica_t *r, uint8_t *out, size_t size);
int qp__raft_member_entry_decode(const uint8_t *in, size_t size, qp_ledger_replica_t *r);
/* Saves m to path atomically (0, or qp_file_replace's error with detail);
 * merges what path holds into m (0, QP_ENOTFOUND, QP_ECORRUPT, QP_EIO). */
int qp__raft_members_save(const qp__raft_members_t *m, const char *path, char *detail,
                          size_t detail_size);
int qp__raft_members_load(qp__raft_members_t *m, const char *path);

/* ----------------------------------------------------------- snapshot */

/* A Raft snapshot is a descriptor, not a copy of the state: the journal
 * is already the durable, hash-chained state, so a snapshot names the
 * journal position that holds every entry up to the snapshot's index and
 * the replica it can be fetched from (raft_snapshot.c, docs/cluster.md). */
#define QP__RAFT_SNAPSHOT_MAGIC 0x31535051u /* "QPS1" */

typedef struct qp__raft_snapshot {
  uint64_t seq;                     /* the journal's last record */
  uint64_t journal_bytes;           /* where it ends */
  uint64_t replica_pos;             /* qp_db_replica_pos there */
  uint8_t head_hash[QP_HASH_SIZE];  /* record seq's hash (zeros: empty journal) */
  char http[QP_LEDGER_ADDRESS_MAX]; /* URL of the replica that took it */
  qp__raft_members_t members;       /* every replica's addresses it knew (none: older) */
} qp__raft_snapshot_t;

/* Bytes of the encoding of s. */
size_t qp__raft_snapshot_size(const qp__raft_snapshot_t *s);

/* Encodes s into out (qp__raft_snapshot_size bytes). */
void qp__raft_snapshot_encode(const qp__raft_snapshot_t *s, uint8_t *out);

/* Decodes; QP_ECORRUPT when the bytes are not an encoding.  A descriptor
 * of an earlier version (no members section) decodes with no members. */
int qp__raft_snapshot_decode(const uint8_t *in, size_t size, qp__raft_snapshot_t *out);

/* The descriptor of db's journal now; http names this replica. */
int qp__raft_snapshot_take(qp_db_t *db, const char *http, qp__raft_snapshot_t *out);

/* What bringing a replica to a snapshot needs. */
typedef struct qp__raft_catchup {
  const qp_ledger_cluster_t *cluster; /* the peers */
  qp_db_t *db;                        /* the local ledger */
  uint64_t *clock_ns;                 /* the db's clock: set to each record's time */
  const char *data_dir;               /* keys/cluster_key: the key peers accept */
} qp__raft_catchup_t;

/* Brings the local ledger to the snapshot's position: nothing when the
 * journal already holds it (checked by its hash chain); else fetches the
 * missing records from the replica named in the snapshot (or another),
 * checks their chain and re-executes each record's request through
 * qp_db_execute at its time, so the local journal gets the same records.
 * Blocks (HTTP); retries for up to wait_ms.  Returns 0; QP_EAGAIN when no
 * replica could serve the records in time; QP_ECORRUPT when the local
 * journal diverges from the snapshot or a re-executed record differs
 * (detail says which): the replica must stop. */
int qp__raft_snapshot_install(const qp__raft_catchup_t *c, const qp__raft_snapshot_t *s,
                              uint32_t wait_ms, char *detail, size_t detail_size);

/* The part of install that takes a page of raw journal records (as GET
 * /v1/cluster/journal answers, following the local head): checks their
 * chain from the local head and re-executes them up to s's position.
 * Returns 0, QP_ECORRUPT (a record does not check out or re-executes to
 * another hash; detail says which) or the db's error. */
int qp__raft_snapshot_apply(const qp__raft_catchup_t *c, const qp__raft_snapshot_t *s,
                            const uint8_t *data, size_t len, char *detail, size_t detail_size);

/* A page of journal records from the replica at base_url, following the
 * local position (seq, bytes, hash): GET /v1/cluster/journal with key.
 * *out (qp_malloc'ed, the caller frees) receives the raw records, *len
 * their bytes, *status the HTTP status (0: no answer).  Returns 0 (a 200),
 * QP_ECORRUPT (409: the peer's journal does not continue ours) or QP_EIO. */
int qp__raft_fetch_journal(const char *base_url, const char *key, uint64_t seq, uint64_t bytes,
                           const uint8_t hash[QP_HASH_SIZE], uint8_t **out, size_t *len,
                           long *status);

/* The snapshot threshold sized by bytes (docs/cluster.md, "Snapshots"):
 * about QP_LEDGER_SNAPSHOT_LOG_BYTES of log at entries of entry_bytes on
 * average, never fewer than min_entries (the configured threshold) nor
 * more than QP_LEDGER_SNAPSHOT_THRESHOLD_MAX (nor fewer than 2); the
 * trailing entries a quarter of it, never fewer than min_trailing.  Returns
 * false, changing nothing, while `now` (the threshold in use; 0: none
 * yet) is within a third of the wanted one or entry_bytes is 0: no churn
 * on small moves. */
bool qp__raft_snapshot_sizes(uint64_t entry_bytes, uint32_t min_entries, uint32_t min_trailing,
                             uint32_t now, uint32_t *threshold, uint32_t *trailing);

/* ------------------------------------------------------------ replica */

typedef struct qp__raft_node qp__raft_node_t; /* opaque: raft_node.c */

/* One server of Raft's current configuration, with its URL if known. */
typedef struct qp__raft_server_status {
  uint64_t id;                      /* Raft server id */
  int role;                         /* RAFT_VOTER, RAFT_STANDBY or RAFT_SPARE */
  char raft[QP_LEDGER_ADDRESS_MAX]; /* its Raft address */
  char http[QP_LEDGER_ADDRESS_MAX]; /* its URL, "" when unknown */
} qp__raft_server_status_t;

/* What GET /v1/cluster/status shows, copied from the Raft thread. */
typedef struct qp__raft_status {
  int role;              /* RAFT_FOLLOWER, RAFT_CANDIDATE, RAFT_LEADER, 0 = unavailable */
  uint64_t leader_id;    /* the leader's id, 0 = unknown */
  char leader_http[QP_LEDGER_ADDRESS_MAX]; /* the leader's URL, "" = unknown */
  uint64_t term;         /* current term */
  uint64_t commit_index; /* highest entry known committed */
  uint64_t applied_index; /* highest entry applied to the ledger */
  uint32_t server_count;  /* servers in Raft's configuration (at most QP__RAFT_SERVERS_MAX) */
  qp__raft_server_status_t servers[QP__RAFT_SERVERS_MAX]; /* Raft's configuration */
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
 * entry; QP_ESTOPPED when the node is stopping.  Several callers may wait at
 * once (the writer threads): their entries go to Raft in the order they
 * came and may be in flight together. */
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

/* Adds replica r to the cluster (this replica must lead): proposes r's
 * URL as a QPM1 entry, then raft_add (as a spare) and, once that is
 * committed, starts raft_assign to voter, which libraft completes once r
 * has caught up (r must be started for that).  A spare with r's id and
 * address already in the configuration is only promoted again.  Blocks
 * until the add is committed.  Returns 0; QP_EAGAIN (not the leader, or
 * leadership lost); QP_EEXISTS (id or address in use: detail says which);
 * QP_ELIMIT (a change is in progress, or the cluster is full: detail);
 * QP_EIO (detail); QP_ESTOPPED. */
int qp__raft_node_add(qp__raft_node_t *n, const qp_ledger_replica_t *r, char *detail,
                      size_t detail_size);

/* Removes the server with that id from the configuration (this replica
 * must lead; it may remove itself, then steps down once the change is
 * committed).  Blocks until committed.  Returns 0, QP_ENOTFOUND (no such
 * server), or as qp__raft_node_add. */
int qp__raft_node_remove(qp__raft_node_t *n, uint64_t id, char *detail, size_t detail_size);

/* Stops the Raft thread and frees n.  Safe on NULL. */
void qp__raft_node_stop(qp__raft_node_t *n);

#endif
