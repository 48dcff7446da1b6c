/*
 * store_int.h - the block store's insides, shared by store.c (opening, the
 * head), store_commit.c (committing a block) and store_read.c (reads).
 * store.c's opening comment describes the tables.
 */
#ifndef QP_CHAIN_STORE_INT_H
#define QP_CHAIN_STORE_INT_H

#include <pthread.h>

#include "base/bytes.h"
#include "chain/store.h"

#define QP_CHAIN_BLOCK_VERSION 2u
#define QP_CHAIN_BLOCK_FIXED (1u + 4u * QP_HASH_SIZE + 16u) /* a record without its parts */
#define QP_CHAIN_HEAD_BYTES (8u + 2u * QP_HASH_SIZE)

struct qp_chain_store {
  qp_kv_t *kv;                                 /* the environment */
  MDB_dbi blocks, txs, receipts, receipts_at, state, meta, hashes; /* tables (store.c) */
  qp_chain_state_t *st;                        /* the state, over `state` */
  uint8_t genesis[QP_HASH_SIZE];               /* the network's genesis hash */
  pthread_mutex_t mu;                          /* guards head */
  qp_chain_head_t head;                        /* the last committed block */
};

/* The meta table's "head" value. */
void qp__chain_head_encode(const qp_chain_head_t *h, uint8_t out[QP_CHAIN_HEAD_BYTES]);

/* The receipts_at key of a transaction's place: u64 BE height || u32 BE
 * index (store.c). */
#define QP__CHAIN_RECEIPT_KEY 12u
static inline void qp__chain_receipt_key(uint64_t height, uint32_t index,
                                         uint8_t out[QP__CHAIN_RECEIPT_KEY]) {
  qp_store_u64_be(out, height);
  out[8] = (uint8_t)(index >> 24), out[9] = (uint8_t)(index >> 16);
  out[10] = (uint8_t)(index >> 8), out[11] = (uint8_t)index;
}

#endif
