/*
 * catchup.h - catching up across epoch changes (docs/chain.md, "The node",
 * "Catch-up"): the messages a node behind a validator-set change exchanges
 * with a peer that is past it, and the check of what it is sent.
 *
 * The consensus core fetches blocks within its own epoch; a node whose
 * epoch ended while it was down cannot even read the messages of the next
 * one.  So it asks a peer for the committed blocks after its head, one run
 * at a time, each run within one epoch and ending with a commit
 * certificate (qp_hs_cert_check) of its last block: the blocks chain by
 * hash from the asker's head to that block, so the certificate of the set
 * in force (the asker's own, read from its committed state) proves every
 * one of them final.  The asker executes and commits them; the block that
 * ends its epoch gives it the next set, from its own execution.
 *
 * Wire (the frame's first byte, the channel, already removed; integers
 * little-endian):
 *   REQUEST   u8 1 | u32 epoch (the asker's) | u64 from (its head + 1) |
 *             u8 to_head (1: also within the responder's epoch, up to its
 *             head; 0: only when the asker is in an earlier epoch)
 *   RESPONSE  u8 2 | u32 epoch (the responder's) | u64 head (its committed
 *             height) | u8 count (1..QP_CHAIN_CATCHUP_BLOCKS_MAX) |
 *             count x (u32 len | block) oldest first | u32 len | cert
 * Blocks and the cert are the consensus encodings (qp_hs_encode_block,
 * qp_hs_encode_cert) under the configuration of the run's epoch.
 */
#ifndef QP_CHAIN_CATCHUP_H
#define QP_CHAIN_CATCHUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chain/consensus.h"

#define QP_CHAIN_CATCHUP_BLOCKS_MAX 32u /* blocks in one RESPONSE */
#define QP_CHAIN_CATCHUP_REQUEST_BYTES 14u

typedef enum qp_chain_catchup_type {
  QP_CHAIN_CATCHUP_REQUEST = 1,
  QP_CHAIN_CATCHUP_RESPONSE = 2,
} qp_chain_catchup_type_t;

typedef struct qp_chain_catchup_msg {
  qp_chain_catchup_type_t type;
  uint32_t epoch;  /* the sender's current epoch */
  uint64_t from;   /* REQUEST: the first height wanted */
  bool to_head;    /* REQUEST: within the responder's epoch too */
  uint64_t head;   /* RESPONSE: the responder's committed height */
  uint32_t count;  /* RESPONSE: blocks */
  qp_hs_block_t blocks[QP_CHAIN_CATCHUP_BLOCKS_MAX]; /* payloads borrow the decoded bytes */
  qp_hs_commit_cert_t cert; /* makes blocks[count - 1] final */
} qp_chain_catchup_msg_t;

/* A REQUEST into out (QP_CHAIN_CATCHUP_REQUEST_BYTES). */
void qp_chain_catchup_request(uint32_t epoch, uint64_t from, bool to_head,
                              uint8_t out[QP_CHAIN_CATCHUP_REQUEST_BYTES]);

/* A RESPONSE of count encoded blocks (oldest first) and an encoded cert,
 * after `prefix` bytes of room (the channel byte) left at the start of
 * *out (qp_malloc'ed, the caller's).  Returns 0, QP_EINVAL (count out of
 * range) or QP_ENOMEM. */
int qp_chain_catchup_response(uint32_t epoch, uint64_t head, const uint8_t *const *blocks,
                              const size_t *lens, uint32_t count, const uint8_t *cert,
                              size_t cert_len, size_t prefix, uint8_t **out, size_t *out_len);

/* Decodes a message from a peer strictly under g (the asker's current
 * configuration: a run of another epoch does not decode, or fails the
 * check): type, counts, every length inside the bytes, each block and the
 * cert by the consensus decoders, no trailing byte.  Blocks' payloads
 * point into bytes.  Returns 0, QP_EPARSE, QP_EINVAL or QP_ENOMEM. */
int qp_chain_catchup_decode(const qp_chain_genesis_t *g, const uint8_t *bytes, size_t len,
                            qp_chain_catchup_msg_t *m);

/* Checks a decoded RESPONSE against the asker's head (height and the
 * consensus hash of its last committed block) under g, the set in force
 * after it: the first block is at height + 1 on the head, each next one
 * on the one before, and the cert makes the last one final under g
 * (2f+1 of g's validators on both QCs).  Returns 0, or QP_EBADPROOF with
 * detail naming what is wrong, or QP_ENOMEM. */
int qp_chain_catchup_check(const qp_chain_genesis_t *g, uint64_t head_height,
                           const uint8_t head_hash[QP_HASH_SIZE],
                           const qp_chain_catchup_msg_t *m, char *detail, size_t detail_size);

#endif
