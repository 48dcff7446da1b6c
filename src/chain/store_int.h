/*
 * store_int.h - the block store's insides, shared by store.c (opening, the
 * head), store_commit.c (committing a block) and store_read.c (reads).
 * store.c's opening comment describes the tables.
 */
#ifndef QP_CHAIN_STORE_INT_H
#define QP_CHAIN_STORE_INT_H

#include <pthread.h>

#include "chain/store.h"

#define QP_CHAIN_BLOCK_VERSION 2u
#define QP_CHAIN_BLOCK_FIXED (1u + 4u * QP_HASH_SIZE + 16u) /* a record without its parts */
#define QP_CHAIN_HEAD_BYTES (8u + 2u * QP_HASH_SIZE)

struct qp_chain_store {
  qp_kv_t *kv;                                 /* the environment */
  MDB_dbi blocks, txs, receipts, state, meta, hashes; /* tables (hashes: block hash -> height) */
  qp_chain_state_t *st;                        /* the state, over `state` */
  uint8_t genesis[QP_HASH_SIZE];               /* the network's genesis hash */
  pthread_mutex_t mu;                          /* guards head */
  qp_chain_head_t head;                        /* the last committed block */
};

/* The meta table's "head" value. */
void qp__chain_head_encode(const qp_chain_head_t *h, uint8_t out[QP_CHAIN_HEAD_BYTES]);

#endif
