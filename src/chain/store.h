/*
 * store.h - the block store (docs/chain.md, "Block store"): one LMDB
 * environment in <home>/chain/ holding the committed blocks by height, the
 * index from a transaction's hash to (height, index), every receipt by
 * transaction hash, the state (state.h) and the head.  A block, its
 * receipts, its state writes and the new head are written in one LMDB
 * transaction: after a crash the store holds all of a block or none of it.
 *
 * The block header and the quorum certificate belong to the consensus
 * layer: the store keeps their bytes as given, with the few fields it needs
 * (height, hash, parent hash) passed beside them.  The head before block 1
 * is (height 0, hash = the genesis hash, state root = the empty tree's:
 * 32 zero bytes).
 *
 * Thread-safety: one writer (the consensus thread: qp_chain_store_commit);
 * reads from any thread at the same time (LMDB readers, MDB_NOTLS).
 */
#ifndef QP_CHAIN_STORE_H
#define QP_CHAIN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "chain/exec.h"
#include "chain/genesis.h"
#include "chain/state.h"

#define QP_CHAIN_STORE_DIR "chain"                      /* under the node's home */
#define QP_CHAIN_STORE_MAP_DEFAULT ((size_t)1 << 30)     /* 1 GiB of map to start */
#define QP_CHAIN_STORE_MAP_MAX ((size_t)1 << 40)         /* it doubles up to 1 TiB */
#define QP_CHAIN_BLOCK_PART_MAX (64u << 20)              /* header, QC or body bytes */

typedef struct qp_chain_store qp_chain_store_t;

/* The last committed block. */
typedef struct qp_chain_head {
  uint64_t height;                  /* 0 before the first block */
  uint8_t hash[QP_HASH_SIZE];       /* its hash (the genesis hash at 0) */
  uint8_t state_root[QP_HASH_SIZE]; /* the state root after it (zeros at 0) */
} qp_chain_head_t;

/* Opens (creating it) the store in directory dir (the caller makes
 * <home>/chain) for the network of genesis g.  A store made for another
 * genesis is refused.  map_size 0 means QP_CHAIN_STORE_MAP_DEFAULT.  *out is
 * the caller's (qp_chain_store_close).  Returns 0, QP_EINVAL (another
 * network's store: detail says so), QP_ECORRUPT, QP_ENOSPC, QP_ENOMEM or
 * QP_EDB. */
int qp_chain_store_open(const char *dir, const qp_chain_genesis_t *g, size_t map_size,
                        qp_chain_store_t **out, char *detail, size_t detail_size);

/* Closes the store; NULL is a no-op.  No reader may be active. */
void qp_chain_store_close(qp_chain_store_t *s);

/* The state, owned by the store, valid until close. */
qp_chain_state_t *qp_chain_store_state(qp_chain_store_t *s);

/* The head now.  Any thread. */
void qp_chain_store_head(qp_chain_store_t *s, qp_chain_head_t *out);

/* A block to commit: the consensus layer's bytes and the fields the store
 * checks.  All borrowed for the call. */
typedef struct qp_chain_block_in {
  uint64_t height;                   /* head height + 1 */
  uint8_t hash[QP_HASH_SIZE];        /* the block's hash (the consensus layer's) */
  uint8_t parent_hash[QP_HASH_SIZE]; /* must be the head's hash */
  const uint8_t *header;             /* opaque header bytes */
  size_t header_len;
  const uint8_t *qc;                 /* opaque commit evidence (qp_hs_encode_cert) or none */
  size_t qc_len;
  const uint8_t *body;               /* the body (tx.h) whose execution is exec */
  size_t body_len;
  const uint8_t *above;              /* NULL, or (the last block of an epoch committed below
                                        the top of its commit) the blocks from it up to the
                                        one qc certifies: n x (u32 len | block), kept in the
                                        meta table under "above" | u64 BE height */
  size_t above_len;
} qp_chain_block_in_t;

/* Commits block b with its execution (qp_chain_execute_block on the
 * committed state: exec->parent NULL or already committed, exec->height =
 * b->height, exec->prev_root = the head's state root) in one LMDB
 * transaction: the block, each tx hash -> (height, index) and its receipt
 * (the first inclusion of a hash wins; a repeat keeps the first), the state
 * writes and the head.  Returns 0, QP_EINVAL (height, parent or root do not
 * follow the head: nothing written; detail says which), QP_ELIMIT, QP_ENOSPC
 * or QP_EDB. */
int qp_chain_store_commit(qp_chain_store_t *s, const qp_chain_block_in_t *b,
                          const qp_chain_exec_t *exec, char *detail, size_t detail_size);

/* A stored block.  All pointers point into one qp_malloc'ed copy owned by
 * the struct (qp_chain_block_deinit). */
typedef struct qp_chain_block {
  uint64_t height;                     /* its height */
  uint8_t hash[QP_HASH_SIZE];          /* its hash */
  uint8_t parent_hash[QP_HASH_SIZE];   /* its parent's */
  uint8_t state_root[QP_HASH_SIZE];    /* after it */
  uint8_t receipts_root[QP_HASH_SIZE]; /* of its receipts */
  const uint8_t *header;               /* the consensus layer's header bytes */
  uint32_t header_len;
  const uint8_t *qc;                   /* the QC bytes */
  uint32_t qc_len;
  const uint8_t *body;                 /* the body (tx.h) */
  uint32_t body_len;
  const uint8_t *receipt_hashes;       /* H(receipt json) per tx, in order: the receipts
                                          root's leaves (a repeated tx's receipt is not
                                          stored by hash, its leaf is) */
  uint32_t receipt_hashes_len;         /* bytes: 32 per tx */
  uint8_t *mem;                        /* owned: the copy the pointers point into */
} qp_chain_block_t;

/* Reads block `height`.  Returns 0, QP_ENOTFOUND, QP_ECORRUPT, QP_ENOMEM,
 * QP_EDB.  Any thread. */
int qp_chain_store_block(qp_chain_store_t *s, uint64_t height, qp_chain_block_t *out);
void qp_chain_block_deinit(qp_chain_block_t *b);

/* The blocks kept above an epoch's last block (qp_chain_block_in_t's
 * `above`) at height, qp_malloc'ed into *out (the caller's).  Returns 0,
 * QP_ENOTFOUND (none: the block's own certificate is its qc), QP_ENOMEM,
 * QP_EDB.  Any thread. */
int qp_chain_store_above(qp_chain_store_t *s, uint64_t height, uint8_t **out, size_t *len);

/* The height of the committed block with this (consensus) hash.  Returns
 * 0, QP_ENOTFOUND, QP_ECORRUPT, QP_EDB.  Any thread. */
int qp_chain_store_height_of(qp_chain_store_t *s, const uint8_t hash[QP_HASH_SIZE],
                             uint64_t *height);

/* Where a committed transaction is.  Returns 0, QP_ENOTFOUND, QP_ECORRUPT,
 * QP_EDB.  Any thread. */
int qp_chain_store_tx(qp_chain_store_t *s, const uint8_t hash[QP_HASH_SIZE], uint64_t *height,
                      uint32_t *index);

/* A committed transaction's receipt (JSON text, qp_malloc'ed and
 * NUL-terminated into *json, the caller's).  Returns 0, QP_ENOTFOUND,
 * QP_ENOMEM, QP_EDB.  Any thread. */
int qp_chain_store_receipt(qp_chain_store_t *s, const uint8_t hash[QP_HASH_SIZE], char **json,
                           size_t *len);

#endif
