/*
 * valset.h - the validator set in force and its epochs (docs/chain.md,
 * "Governance").  Epoch 0 is the genesis's validators.  A governance
 * decision that adds or removes a validator, taken in block h, starts
 * epoch e + 1 at height h + 1: the `gov` app writes the new set into the
 * state (key "set/<e+1>", kept forever, so proofs can show every change),
 * and a node that commits block h carries on consensus with the new set.
 *
 * Record (the gov app's value, bytes):
 *   u8 version 1 | u32 epoch | u64 since | u8 n |
 *   n x (u8 key_len | key | u8 name_len | name | u8 addr_len | addr)
 * integers little-endian; addr is the peer address of a validator added by
 * governance ("" for genesis validators: node.json's peers say theirs).
 *
 * The consensus configuration of an epoch is the network's genesis with the
 * epoch's validators and, for e >= 1, its own statement domain
 * H("quipu-epoch-v1" | G | u32 e) in place of the genesis hash (nothing
 * signed in one epoch is valid in another) and its base: the last block of
 * the epoch before, which the first block of e extends under a QC of no
 * signers (the base QC), as block 1 extends the genesis block.
 */
#ifndef QP_CHAIN_VALSET_H
#define QP_CHAIN_VALSET_H

#include <stddef.h>
#include <stdint.h>

#include "chain/genesis.h"

#define QP_CHAIN_VALSET_BYTES_MAX \
  (1u + 4u + 8u + 1u + QP_CHAIN_VALIDATORS_MAX * (3u + QP_SIGN_PUBLIC_MAX + 64u + 63u))
#define QP_CHAIN_ADDRESS_MAX 63u /* bytes of a peer address */
#define QP_CHAIN_EPOCH_DOMAIN "quipu-epoch-v1"

typedef struct qp_chain_valset {
  uint32_t epoch;                                          /* 0: the genesis's */
  uint64_t since;                                          /* first height it signs (1 at 0) */
  uint32_t count;                                          /* validators */
  qp_chain_validator_t validators[QP_CHAIN_VALIDATORS_MAX]; /* in index order */
  char addresses[QP_CHAIN_VALIDATORS_MAX][QP_CHAIN_ADDRESS_MAX + 1]; /* "" = node.json's */
} qp_chain_valset_t;

/* Epoch 0: g's validators, since height 1, no addresses. */
void qp_chain_valset_genesis(const qp_chain_genesis_t *g, qp_chain_valset_t *out);

/* Encodes s into out (QP_CHAIN_VALSET_BYTES_MAX); returns the length. */
size_t qp_chain_valset_encode(const qp_chain_valset_t *s, uint8_t *out);

/* Decodes a record strictly (version, bounds, keys of suite that are valid
 * points, names as genesis names, no key twice, no trailing byte).
 * Returns 0 or QP_EPARSE. */
int qp_chain_valset_decode(qp_suite_t suite, const uint8_t *bytes, size_t len,
                           qp_chain_valset_t *out);

/* The index of pub in s, or -1. */
int32_t qp_chain_valset_find(const qp_chain_valset_t *s, const uint8_t *pub, size_t len);

/* The consensus configuration of s's epoch (above) into out.  For epoch
 * >= 1, base_view, base_height and base_hash name the last block of the
 * epoch before.  Returns 0, QP_EINVAL (no validator) or QP_ENOMEM. */
int qp_chain_epoch_config(const qp_chain_genesis_t *g, const qp_chain_valset_t *s,
                          uint64_t base_view, uint64_t base_height,
                          const uint8_t base_hash[QP_HASH_SIZE], qp_chain_genesis_t *out);

#endif
