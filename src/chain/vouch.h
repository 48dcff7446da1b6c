/*
 * vouch.h - vouching for forwarded transactions (docs/chain.md, "Vouching"):
 * the frames, and the book a receiver keeps while it waits for vouches.
 *
 * A validator that forwards transactions it admitted from clients has
 * verified every one of their signatures; it says so by signing the
 * frame's digest (a vouch).  f further validators (the f members after the
 * forwarder, in the epoch's order) verify the frame's signatures too and
 * send their own vouch to the others.  A validator holding f + 1 vouches
 * from distinct members of the current epoch for a frame admits its
 * transactions without verifying their signatures: of f + 1 members at
 * least one is honest, and an honest member vouches only for signatures
 * it checked.  So each transaction's signature is verified f + 1 times in
 * the network instead of once on every validator.  A frame whose vouches
 * do not come in time is verified by the receiver itself.
 *
 *     vouched frame: u8 channel (6) | signature (64) | forward frame (forward.h)
 *     vouch:         u8 channel (7) | digest (32)    | signature (64)
 *
 * digest = suite hash of the forward frame's bytes; the signature is the
 * member's over "quipu/chain/vouch/v1" | genesis hash | digest.
 * Codec and book are pure: no I/O, no locks, no clock of their own.
 */
#ifndef QP_CHAIN_VOUCH_H
#define QP_CHAIN_VOUCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"

#define QP_CHAIN_VOUCHED_CHANNEL 6u /* a forward frame with its forwarder's vouch */
#define QP_CHAIN_VOUCH_CHANNEL 7u   /* a checker's vouch for a frame it verified */
#define QP_CHAIN_VOUCH_SIG_SIZE 64u /* both suites sign in 64 bytes */
#define QP_CHAIN_VOUCHED_HEADER (1u + QP_CHAIN_VOUCH_SIG_SIZE)
#define QP_CHAIN_VOUCH_BYTES (1u + QP_HASH_SIZE + QP_CHAIN_VOUCH_SIG_SIZE)
#define QP_CHAIN_VOUCH_MESSAGE_BYTES (20u + 2u * QP_HASH_SIZE)

/* The digest of a forward frame (suite hash of its bytes); 0 or a
 * qp_suite_hash code. */
int qp_chain_vouch_digest(qp_suite_t suite, const uint8_t *frame, size_t len,
                          uint8_t digest[QP_HASH_SIZE]);

/* The bytes a vouch signs: the domain, the chain's genesis hash, the digest. */
void qp_chain_vouch_message(const uint8_t chain[QP_HASH_SIZE], const uint8_t digest[QP_HASH_SIZE],
                            uint8_t out[QP_CHAIN_VOUCH_MESSAGE_BYTES]);

/* Signs the vouch for digest with a member's key (over
 * qp_chain_vouch_message): 0, or the signing error (QP_EIO also for a
 * signature not QP_CHAIN_VOUCH_SIG_SIZE long). */
int qp_chain_vouch_sign(const qp_sign_key_t *key, const uint8_t chain[QP_HASH_SIZE],
                        const uint8_t digest[QP_HASH_SIZE], uint8_t sig[QP_CHAIN_VOUCH_SIG_SIZE]);

/* True when sig is pub's vouch for digest on this chain (pub already
 * accepted by the transport's handshake: qp_verify_key_checked). */
bool qp_chain_vouch_check(qp_suite_t suite, const uint8_t *pub, size_t pub_len,
                          const uint8_t chain[QP_HASH_SIZE], const uint8_t digest[QP_HASH_SIZE],
                          const uint8_t *sig);

/* Writes a vouched frame (QP_CHAIN_VOUCHED_HEADER + len bytes) into out. */
void qp_chain_vouched_write(const uint8_t sig[QP_CHAIN_VOUCH_SIG_SIZE], const uint8_t *frame,
                            size_t len, uint8_t *out);

/* Reads a vouched frame from a peer: true with *sig and *frame (borrowed)
 * when it has the channel, the signature and a forward frame's first byte
 * after it (the forward frame's own walk checks the rest). */
bool qp_chain_vouched_read(const uint8_t *bytes, size_t len, const uint8_t **sig,
                           const uint8_t **frame, size_t *frame_len);

/* Writes a vouch (QP_CHAIN_VOUCH_BYTES) into out. */
void qp_chain_vouch_write(const uint8_t digest[QP_HASH_SIZE],
                          const uint8_t sig[QP_CHAIN_VOUCH_SIG_SIZE],
                          uint8_t out[QP_CHAIN_VOUCH_BYTES]);

/* Reads a vouch from a peer: true when it is exactly one vouch. */
bool qp_chain_vouch_read(const uint8_t *bytes, size_t len, const uint8_t **digest,
                         const uint8_t **sig);

/* Who checks a frame forwarded by member `origin` of an epoch of `count`
 * members: the f = (count - 1) / 3 members after it, in order.  True when
 * `member` is one of them. */
bool qp_chain_vouch_is_checker(uint32_t count, uint32_t origin, uint32_t member);

/* The vouches a frame needs in an epoch of count members: f + 1. */
uint32_t qp_chain_vouch_quorum(uint32_t count);

/* ---- the book ----------------------------------------------------------- */

#define QP_CHAIN_VOUCH_BOOK_ENTRIES 4096u   /* frames and early vouches held */
#define QP_CHAIN_VOUCH_BOOK_BYTES (64u << 20) /* frames' bytes held */

/* One frame waiting for vouches, or vouches waiting for their frame. */
typedef struct qp_chain_vouch_entry {
  uint8_t digest[QP_HASH_SIZE];
  uint8_t *frame;        /* the forward frame (owned), NULL until it arrives */
  size_t len;
  uint32_t from;         /* the transport peer that sent the frame */
  uint64_t vouchers;     /* bit m: member m vouched (its signature checked) */
  uint64_t deadline_ms;  /* a frame: verify it ourselves then; vouches alone: forget them */
  uint32_t waits;        /* times its deadline was put off (qp_chain_vouch_book_requeue) */
} qp_chain_vouch_entry_t;

typedef struct qp_chain_vouch_book {
  qp_chain_vouch_entry_t *entries; /* oldest first */
  uint32_t count, cap;
  size_t bytes;                    /* the frames' bytes */
} qp_chain_vouch_book_t;

/* Holds a frame (copied) with its forwarder's vouch (bit origin), joining
 * vouches that came first.  0, QP_ELIMIT (the book is full: the caller
 * verifies the frame itself) or QP_ENOMEM. */
int qp_chain_vouch_book_frame(qp_chain_vouch_book_t *b, const uint8_t digest[QP_HASH_SIZE],
                              uint32_t from, uint32_t origin, const uint8_t *frame, size_t len,
                              uint64_t deadline_ms);

/* Counts member's vouch for digest (an entry without its frame is made
 * when none holds it, forgotten at deadline_ms).  0, QP_ELIMIT or QP_ENOMEM. */
int qp_chain_vouch_book_vouch(qp_chain_vouch_book_t *b, const uint8_t digest[QP_HASH_SIZE],
                              uint32_t member, uint64_t deadline_ms);

/* Takes out the oldest frame holding at least `quorum` vouches among the
 * members in `members` (a bit mask); true and *out (the caller frees
 * out->frame) or false. */
bool qp_chain_vouch_book_ready(qp_chain_vouch_book_t *b, uint64_t members, uint32_t quorum,
                               qp_chain_vouch_entry_t *out);

/* Takes out the oldest frame whose deadline passed (the caller verifies
 * it; frees out->frame), dropping vouches whose frame never came.  true
 * and *out, or false. */
bool qp_chain_vouch_book_due(qp_chain_vouch_book_t *b, uint64_t now_ms,
                             qp_chain_vouch_entry_t *out);

/* Puts a frame taken out as due back with a later deadline (its checkers
 * are alive but behind), counting the wait in waits; the book owns
 * e->frame again.  0, or QP_ELIMIT (the book is full: e is still the
 * caller's). */
int qp_chain_vouch_book_requeue(qp_chain_vouch_book_t *b, const qp_chain_vouch_entry_t *e,
                                uint64_t deadline_ms);

/* The earliest deadline held (UINT64_MAX: none). */
uint64_t qp_chain_vouch_book_next(const qp_chain_vouch_book_t *b);

/* Releases every entry and the book's memory. */
void qp_chain_vouch_book_free(qp_chain_vouch_book_t *b);

#endif
