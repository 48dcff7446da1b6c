/*
 * exec.h - executing a block's transactions (docs/chain.md, "State and
 * receipts"): every transaction through its app, in order, over the state
 * the previous block left, giving one receipt per transaction, the block's
 * write batch, the new state root and the receipts' Merkle root.  Nothing
 * is written: qp_chain_store_commit persists the result with the block.
 *
 * Deterministic: the same transactions on the same state give the same
 * receipts, batch and roots on every node.  A transaction whose nonce is
 * not its sender's last + 1 gets a failed receipt (bad_nonce) and changes
 * nothing.  Otherwise its nonce is used whatever happens next (an unknown
 * app, a failed app), and its app's writes are applied only when the
 * receipt is ok.  Signatures are not checked here: the caller
 * validated the block (qp_chain_mempool_verify) before executing it.
 *
 * A receipt (JSON, keys in this order):
 *   {"height":h,"tx":"<hex hash>","status":"ok"|"failed","code":"…",
 *    "result":{…},"events":[…]}
 */
#ifndef QP_CHAIN_EXEC_H
#define QP_CHAIN_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/array.h"
#include "chain/state.h"
#include "chain/tx.h"

/* Receipt codes exec itself gives (apps add theirs). */
#define QP_CHAIN_CODE_OK "ok"
#define QP_CHAIN_CODE_BAD_NONCE "bad_nonce"
#define QP_CHAIN_CODE_UNKNOWN_APP "unknown_app"
#define QP_CHAIN_CODE_BAD_ARGS "bad_args"
#define QP_CHAIN_RECEIPT_BYTES_MAX (64u << 10) /* a longer receipt is an app's bug */

typedef struct qp_chain_receipt {
  uint8_t tx[QP_HASH_SIZE]; /* the transaction's hash */
  bool ok;                  /* status "ok" */
  char *json;               /* qp_malloc'ed, NUL-terminated; owned by the exec */
  uint32_t json_len;        /* bytes of json */
} qp_chain_receipt_t;

/*
 * The result of one block.  Invariant after a successful execute:
 * receipts.count == the block's transactions, tree = the parent's tree (or
 * the committed one) updated with batch, state_root = tree's root.
 * parent, when set, is the execution of the previous block, not yet
 * committed, that this one builds on; it must outlive this one.
 */
typedef struct qp_chain_exec {
  uint64_t height;                       /* the block's height, >= 1 */
  uint64_t time_s;                       /* the block's timestamp_ms / 1000: apps' clock */
  const struct qp_chain_exec *parent;    /* borrowed, or NULL: on the committed state */
  uint8_t prev_root[QP_HASH_SIZE];       /* the state root before the block */
  uint8_t state_root[QP_HASH_SIZE];      /* the state root after it */
  uint8_t receipts_root[QP_HASH_SIZE];   /* qp_merkle_root of H(receipt json), in order */
  qp_chain_batch_t *batch;               /* owned: the block's writes, nonces included */
  qp_smt_t tree;                         /* owned reference: the state's tree after it */
  qp_array_t receipts;                   /* of qp_chain_receipt_t, one per tx, in order */
  uint8_t *receipt_hashes;               /* owned: H(receipt json) per tx, the root's leaves */
  uint8_t *tx_ids;                       /* owned: per tx, its hash then, after all of them,
                                            qp_hash256 of its sender's key (the mempool's
                                            sender id): 2 x QP_HASH_SIZE x receipts.count */
  bool reconfig;                         /* the gov app changed the validator set (valset.h) */
} qp_chain_exec_t;

/* Executes txs[0, count) (decoded, signatures already checked) as block
 * `height` over parent's result (when not NULL; its height must be
 * height - 1 and it must still be uncommitted, as must its own parents, at
 * most QP_CHAIN_READER_OVERLAYS_MAX deep) or over the committed state
 * (whose height must then be height - 1).  time_s is the block's header
 * timestamp_ms / 1000, the only clock apps see (qp_chain_view_t.time_s).
 * out is the caller's, filled
 * here; release it with qp_chain_exec_deinit (also after a failure).
 * Returns 0, QP_EINVAL (heights that do not follow), QP_ELIMIT, QP_ENOMEM
 * or QP_EDB/QP_ECORRUPT. */
int qp_chain_execute_block(qp_chain_state_t *st, const qp_chain_exec_t *parent,
                           const qp_chain_tx_t *txs, size_t count, uint64_t height,
                           uint64_t time_s, qp_chain_exec_t *out);

/* Releases what out holds; a zeroed exec is fine. */
void qp_chain_exec_deinit(qp_chain_exec_t *out);

#endif
