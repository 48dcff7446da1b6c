/*
 * tx.h - the consortium chain's transactions (docs/chain.md,
 * "Transactions"): one canonical binary encoding, the hash that names a
 * transaction, signing and verification, and a block's body (the list of
 * encoded transactions a block carries) with its Merkle root.
 *
 * The encoding is the transaction: the bytes signed are the bytes stored,
 * gossiped and hashed, so nothing is ever re-encoded.  Decoding takes bytes
 * from anyone, checks every length and character, refuses trailing bytes
 * and never allocates; a decoded qp_chain_tx_t borrows the encoding.
 *
 * Layout, version 1 (integers little-endian):
 *   u8  version = 1
 *   32  chain    the genesis hash of the network (binds the tx to it)
 *   u8  sender_len, sender   the suite's public key (32 ed25519, 65 sm2)
 *   u64 nonce    >= 1; the sender's n-th transaction has nonce n
 *   u8  app_len, app         1..16 bytes of [a-z0-9_]
 *   u8  method_len, method   1..32 bytes of [a-z0-9_]
 *   u32 args_len, args       a JSON object (UTF-8, no duplicate keys)
 *   --- the body ends here; signed: "quipu-chain-tx-v1" || H(body)
 *   u8  sig_len, sig         the suite's signature (64 bytes)
 * tx hash = the suite hash of all the bytes, signature included.
 */
#ifndef QP_CHAIN_TX_H
#define QP_CHAIN_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "crypto/crypto.h"

#define QP_CHAIN_TX_VERSION 1u
#define QP_CHAIN_APP_NAME_MAX 16u  /* bytes of an app name */
#define QP_CHAIN_METHOD_MAX 32u    /* bytes of a method name */
#define QP_CHAIN_TX_BYTES_MIN 256u /* the least genesis params.tx_bytes_max may say */
#define QP_CHAIN_TX_BYTES_MAX (1u << 20) /* the most it may say (1 MiB) */
/* The signed message's prefix (no NUL), so a transaction signature can never
 * be replayed as any other signed message of the system. */
#define QP_CHAIN_TX_DOMAIN "quipu-chain-tx-v1"
#define QP_CHAIN_TX_DOMAIN_LEN 17u
#define QP_CHAIN_TX_SIGNED_LEN (QP_CHAIN_TX_DOMAIN_LEN + QP_HASH_SIZE)

/*
 * A decoded transaction.  Invariants after a successful decode: every length
 * is within the bounds above, app and method are NUL-terminated names,
 * args[0, args_len) is a JSON object, body_len < bytes_len and hash is the
 * suite hash of bytes[0, bytes_len).  args and bytes are borrowed from the
 * buffer given to qp_chain_tx_decode and valid only while it is.
 */
typedef struct qp_chain_tx {
  qp_suite_t suite;                      /* the network's suite (not encoded) */
  uint8_t chain[QP_HASH_SIZE];           /* the genesis hash it is bound to */
  uint8_t sender[QP_SIGN_PUBLIC_MAX];    /* the sender's public key */
  uint32_t sender_len;                   /* bytes used of sender */
  uint64_t nonce;                        /* per sender, 1, 2, 3, ... */
  char app[QP_CHAIN_APP_NAME_MAX + 1];   /* target app, NUL-terminated */
  char method[QP_CHAIN_METHOD_MAX + 1];  /* method of the app, NUL-terminated */
  const char *args;                      /* borrowed: JSON object text, not NUL-terminated */
  uint32_t args_len;                     /* bytes of args */
  uint8_t sig[QP_SIGN_SIG_MAX];          /* signature over the signed message */
  uint32_t sig_len;                      /* bytes used of sig */
  const uint8_t *bytes;                  /* borrowed: the whole encoding */
  uint32_t bytes_len;                    /* bytes of the encoding */
  uint32_t body_len;                     /* bytes[0, body_len) are the signed body */
  uint8_t hash[QP_HASH_SIZE];            /* suite hash of the encoding: the tx's name */
} qp_chain_tx_t;

/* What a new transaction says; qp_chain_tx_make encodes and signs it. */
typedef struct qp_chain_tx_spec {
  const uint8_t *chain;   /* QP_HASH_SIZE bytes: the genesis hash */
  uint64_t nonce;         /* >= 1 */
  const char *app;        /* NUL-terminated name */
  const char *method;     /* NUL-terminated name */
  const char *args;       /* JSON object text (args_len bytes) */
  size_t args_len;        /* bytes of args */
} qp_chain_tx_spec_t;

/* Encodes spec as sent by key's owner and signs it with key (qp_sign).
 * *out is qp_malloc'ed (the caller qp_free()s it), *out_len its bytes; the
 * result is at most bytes_max bytes.  Returns 0, QP_EINVAL (a field out of
 * bounds or args not a JSON object; detail names it), QP_ELIMIT (longer than
 * bytes_max), QP_ENOMEM or QP_EIO (the signer refused). */
int qp_chain_tx_make(const qp_sign_key_t *key, const qp_chain_tx_spec_t *spec, size_t bytes_max,
                     uint8_t **out, size_t *out_len, char *detail, size_t detail_size);

/* Decodes len bytes from anyone for a network of the given suite, refusing
 * more than bytes_max bytes (genesis params.tx_bytes_max).  Does not verify
 * the signature nor compare the chain hash (the caller knows which it
 * wants).  tx borrows bytes.  Returns 0, QP_ELIMIT (too long), QP_EPARSE
 * (malformed: detail names the field and what is allowed) or QP_ENOMEM
 * (the JSON parser ran out of memory). */
int qp_chain_tx_decode(qp_suite_t suite, const uint8_t *bytes, size_t len, size_t bytes_max,
                       qp_chain_tx_t *tx, char *detail, size_t detail_size);

/* Whether a transaction hash is known to name bytes that decoded in full
 * before (a node's verified cache: only bytes that passed
 * qp_chain_tx_decode, args included, are ever verified). */
typedef bool (*qp_chain_tx_known_fn)(void *ctx, const uint8_t hash[QP_HASH_SIZE]);

/* qp_chain_tx_decode, except that args are not parsed again when known
 * (may be NULL) says the hash names bytes that decoded before: the same
 * bytes give the same answer, so the result is the same. */
int qp_chain_tx_decode_known(qp_suite_t suite, const uint8_t *bytes, size_t len,
                             size_t bytes_max, qp_chain_tx_known_fn known, void *known_ctx,
                             qp_chain_tx_t *tx, char *detail, size_t detail_size);

/* The suite a transaction's encoding was made for, as its sender field's
 * length says (32 bytes ed25519, 65 sm2), read from len bytes from anyone
 * without decoding the rest; 0 when the bytes are too short, of another
 * version or the length is no suite's.  For telling a client that refused
 * bytes were signed in the other suite. */
qp_suite_t qp_chain_tx_sender_suite(const uint8_t *bytes, size_t len);

/* The message the sender signs: QP_CHAIN_TX_DOMAIN || H(body). */
void qp_chain_tx_signed_message(const qp_chain_tx_t *tx, uint8_t out[QP_CHAIN_TX_SIGNED_LEN]);

/* Verifies tx's signature by its sender (one Ed25519 or SM2 verification:
 * callers that may see the tx again use the mempool's verified-hash cache,
 * qp_chain_mempool_verify).  Returns 0, QP_EBADSIG (not a valid signature),
 * QP_EINVAL (the sender's key is not a valid point) or QP_ENOMEM. */
int qp_chain_tx_verify(const qp_chain_tx_t *tx);
/* The same for a sender key already accepted by qp_chain_tx_verify in
 * this process (crypto.h, qp_verify_key_checked). */
int qp_chain_tx_verify_key_checked(const qp_chain_tx_t *tx);

/* ---- a block's body: the transactions it carries ---------------------- */

/*
 * Body encoding: u32 count || count * (u32 len || len bytes of one encoded
 * transaction).  The consensus layer carries it as an opaque payload; the
 * block store keeps it as given.  qp_chain_txs_begin writes an empty body
 * into buf, qp_chain_txs_add appends one transaction and bumps the count.
 */
#define QP_CHAIN_TXS_HEADER 4u /* bytes of the count */
#define QP_CHAIN_TXS_FRAME 4u  /* bytes of each length */

/* Resets buf to an empty body.  Returns 0 or QP_ENOMEM/QP_ELIMIT (buf max). */
int qp_chain_txs_begin(qp_buf_t *buf);

/* Appends one encoded transaction.  Returns 0, or QP_ELIMIT (buf's max),
 * QP_ENOMEM; on failure buf is unchanged. */
int qp_chain_txs_add(qp_buf_t *buf, const uint8_t *tx, size_t len);

/* Decodes a body from anyone into txs[0, *count_out): at most txs_max
 * transactions (genesis block_txs_max), body at most bytes_max bytes
 * (block_bytes_max), each transaction decoded as qp_chain_tx_decode with
 * tx_bytes_max.  txs borrow body.  A transaction bound to another chain
 * than `chain` is refused (a repeated transaction is not: execution gives
 * the second one a failed receipt, its nonce being used).  Returns
 * 0, QP_ELIMIT, QP_EPARSE (detail names the index and field) or QP_ENOMEM.
 * Signatures are not verified here. */
int qp_chain_txs_decode(qp_suite_t suite, const uint8_t chain[QP_HASH_SIZE],
                        const uint8_t *body, size_t len, size_t bytes_max, size_t tx_bytes_max,
                        qp_chain_tx_t *txs, size_t txs_max, size_t *count_out, char *detail,
                        size_t detail_size);

/* qp_chain_txs_decode with each transaction decoded by
 * qp_chain_tx_decode_known (known may be NULL). */
int qp_chain_txs_decode_known(qp_suite_t suite, const uint8_t chain[QP_HASH_SIZE],
                              const uint8_t *body, size_t len, size_t bytes_max,
                              size_t tx_bytes_max, qp_chain_tx_known_fn known, void *known_ctx,
                              qp_chain_tx_t *txs, size_t txs_max, size_t *count_out,
                              char *detail, size_t detail_size);

/* The transaction Merkle root of a block: qp_merkle_root over the tx hashes
 * in body order (H("") for none).  Returns 0, QP_ENOMEM or QP_ELIMIT. */
int qp_chain_txs_root(qp_suite_t suite, const qp_chain_tx_t *txs, size_t count,
                      uint8_t root[QP_HASH_SIZE]);

#endif
