/*
 * mempool_int.h - the mempool's insides, shared by mempool.c (admission,
 * the pool's lists, the verified cache) and mempool_block.c (taking
 * transactions for a block, untaking them, removing committed ones).
 *
 * Entries and senders live in two arrays sized at creation, with free
 * lists; indexes are u32 and NIL marks none.  Invariants, under the mutex:
 *   - every used entry is in by_hash, in the FIFO list (arrival order) and
 *     in its sender's list (ascending nonce, no two equal);
 *   - a sender is used iff its list is not empty; it is in by_sender;
 *   - for every used entry, nonce > its sender's committed nonce as last
 *     read, and an entry is taken iff nonce < its sender's next_take;
 *   - held_by_sender names senders the pool did not hold when a block under
 *     the one being built carried their transactions (qp_chain_mempool_hold):
 *     held_next[value] is the nonce a block may take next for them, so a
 *     transaction of theirs that arrives later is not taken twice; it is
 *     emptied with every untake;
 *   - count, taken and bytes are the sums over used entries.
 */
#ifndef QP_CHAIN_MEMPOOL_INT_H
#define QP_CHAIN_MEMPOOL_INT_H

#include <pthread.h>

#include "chain/hmap.h"
#include "chain/mempool.h"

#define QP_CHAIN_NIL UINT32_MAX

typedef struct mp_entry {
  uint8_t hash[QP_HASH_SIZE]; /* the tx hash */
  uint8_t *bytes;             /* qp_malloc'ed copy of the encoding */
  uint32_t len;               /* its bytes */
  uint64_t nonce;             /* the tx's nonce */
  uint64_t gas;               /* its stated gas (qp_chain_tx_gas) */
  uint32_t sender;            /* index into senders */
  uint32_t sender_next;       /* the sender's next entry by nonce, or NIL */
  uint32_t fifo_prev;         /* arrival order, or NIL */
  uint32_t fifo_next;         /* " */
  uint32_t round;             /* the take call that took it */
  bool taken;                 /* in a block not yet committed */
  bool used;                  /* slot in use */
} mp_entry_t;

typedef struct mp_sender {
  uint8_t id[QP_HASH_SIZE];          /* BLAKE2b of the key: by_sender's key */
  uint8_t key[QP_SIGN_PUBLIC_MAX];   /* the public key */
  uint32_t key_len;                  /* bytes of key */
  uint64_t committed;                /* last committed nonce, as last read */
  uint64_t next_take;                /* the next nonce a block may take */
  uint64_t refreshed;                /* the commit round that last re-read committed */
  uint32_t head;                     /* the entry of the lowest nonce */
  uint32_t count;                    /* entries */
  uint32_t next_free;                /* free list, when unused */
} mp_sender_t;

struct qp_chain_mempool {
  pthread_mutex_t mu;                /* guards everything below */
  qp_chain_mempool_config_t config;  /* as given */
  mp_entry_t *entries;               /* config.txs_max slots */
  uint32_t *entries_free;            /* stack of free entry slots */
  uint32_t entries_free_count;       /* " */
  mp_sender_t *senders;              /* config.txs_max slots */
  uint32_t senders_free;             /* free list head */
  qp__chain_hmap_t by_hash;          /* tx hash -> entry */
  qp__chain_hmap_t by_sender;        /* sender id -> sender */
  uint32_t fifo_head, fifo_tail;     /* arrival order */
  uint32_t count, taken, senders_count; /* used entries, taken ones, used senders */
  uint64_t bytes;                    /* bytes of used entries */
  uint32_t round;                    /* take calls so far */
  uint64_t commit_round;             /* committed calls so far */
  qp__chain_hmap_t held_by_sender;   /* sender id -> index into held_next */
  uint64_t *held_next;               /* txs_max nonces (see above) */
  qp__chain_hmap_t verified;         /* verified tx hashes */
  uint8_t *ring;                     /* their insertion order, verified_max * 32 bytes */
  uint32_t ring_next, ring_count;    /* the oldest slot / slots used */
  uint64_t verifications, verified_hits, block_verifications, vouched; /* counters */
  uint64_t evicted;                  /* gapped entries removed to make room */
  uint64_t rejected[QP_CHAIN_ADMIT__COUNT]; /* " */
};

/* The sender id of a key. */
void qp__chain_mp_sender_id(const uint8_t *key, size_t len, uint8_t id[QP_HASH_SIZE]);

/* Removes entry e from the pool (and its sender when it was the last). */
void qp__chain_mp_remove(qp_chain_mempool_t *mp, uint32_t e);

#endif
