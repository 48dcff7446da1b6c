/*
 * proof.h - state and transaction proofs (docs/chain.md, "State proofs"):
 * what a node answers to `GET /v1/chain/kv/{key}?proof=1` and
 * `GET /v1/chain/txs/{hash}?proof=1`, and the offline check that
 * `quipu chain verify-proof` runs with nothing but the genesis file.
 *
 * A proof is one JSON object (format "quipu-chain-proof-v1"):
 *   the claim      kv: app, key, value (hex of the stored record, or null)
 *                  tx: tx (hex of the signed transaction), receipt (JSON
 *                  text), index and tx_count in its block
 *   the path       kv: the sparse Merkle path to the block's state root
 *                  tx: Merkle paths to the block's tx root and receipts root
 *   the block      headers: the block's header, then each header above it
 *                  up to the highest block of the commit that made it final
 *   finality       cert: that highest block's child and the QC over it
 *                  (two-chain rule); both QCs carry 2f+1 signatures
 *   epochs         each validator-set change since genesis: the block that
 *                  made it (final under the set before) and its gov
 *                  transaction, whose receipt carries the new set
 * Checking it: the changes, in order, from genesis; then path -> root in
 * headers[0] -> header hashes chained by parent hash -> the certificate's
 * child -> 2f+1 valid signatures of the validators in force on both QCs.
 * The first step that fails is named.
 */
#ifndef QP_CHAIN_PROOF_H
#define QP_CHAIN_PROOF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "chain/genesis.h"
#include "chain/store.h"

#define QP_CHAIN_PROOF_FORMAT "quipu-chain-proof-v1"
#define QP_CHAIN_PROOF_HEADERS_MAX 64u /* headers from a block up to its certificate */
#define QP_CHAIN_PROOF_BYTES_MAX (4u << 20) /* a proof file larger than this is refused */

/* Where a proof builder finds the consensus configuration of an epoch
 * (the node's epoch registry): of the epoch of a height, or of epoch e
 * (false when there is no such epoch).  Proofs of blocks after validator-
 * set changes carry each change since genesis ("epochs"). */
typedef struct qp_chain_epoch_source {
  void (*at_height)(void *ctx, uint64_t height, qp_chain_genesis_t *out);
  bool (*of_epoch)(void *ctx, uint32_t epoch, qp_chain_genesis_t *out);
  void *ctx;
} qp_chain_epoch_source_t;

/* The proof of app's key (key_len bytes) in the committed state of s, at
 * the committed head.  Returns 0 with *out (the caller's), QP_EAGAIN (no
 * block committed yet, or the head's certificate is not stored yet: retry),
 * QP_ELIMIT (app or key too long), or an operating error; detail says
 * what. */
int qp_chain_proof_kv(qp_chain_store_t *s, const qp_chain_genesis_t *g,
                      const qp_chain_epoch_source_t *epochs, const char *app,
                      const uint8_t *key, size_t key_len, json_t **out, char *detail,
                      size_t detail_size);

/* The proof of the committed transaction named hash and its receipt.
 * Returns 0 with *out, QP_ENOTFOUND, QP_EAGAIN or an operating error. */
int qp_chain_proof_tx(qp_chain_store_t *s, const qp_chain_genesis_t *g,
                      const qp_chain_epoch_source_t *epochs, const uint8_t hash[QP_HASH_SIZE],
                      json_t **out, char *detail, size_t detail_size);

/* Checks a proof (text, len bytes, from anyone) against genesis g, offline.
 * Returns 0 with a one-line summary of what it proves; QP_EPARSE when the
 * text is not a proof (detail names the field and what is wrong);
 * QP_EBADPROOF when a step fails (detail names the step); QP_ENOMEM. */
int qp_chain_proof_verify(const qp_chain_genesis_t *g, const char *text, size_t len,
                          char *summary, size_t summary_size, char *detail, size_t detail_size);

#endif
