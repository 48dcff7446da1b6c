/*
 * crypto.h - hashing, signing suites and Merkle roots for quipu, on
 * libsodium and OpenSSL 3.
 *
 * The journal's checksums and hash chain use BLAKE2b (libsodium's
 * crypto_generichash): collision-resistant, and faster than SHA-256 on
 * machines without SHA extensions.  The chain (DESIGN.md section 6) signs
 * with one of two suites behind one interface: `ed25519` (Ed25519 from
 * libsodium, BLAKE2b-256 as the suite hash) and `sm2` (the GM/T suite: SM2
 * signatures and SM3 hashes from OpenSSL 3).  Nothing here is a home-made
 * primitive: this header fixes which primitive, which sizes and which byte
 * encodings we use, and the .c files are glue and input checks.  Every
 * verifier takes bytes from peers, so malformed keys, signatures and proofs
 * are refused with a status code, never with a crash or an abort.
 * docs/crypto.md describes the encodings and the Merkle construction.
 */
#ifndef QP_CRYPTO_CRYPTO_H
#define QP_CRYPTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define QP_HASH_SIZE 32     /* chain hashes, head hash, every suite hash */
#define QP_CHECKSUM_SIZE 16 /* header checksums */

typedef struct {
  uint8_t state[384]; /* opaque libsodium state, aligned storage */
} __attribute__((aligned(64))) qp_hash_ctx_t;

/* Initialises libsodium; idempotent, thread-safe. Returns 0 or QP_EIO. */
int qp_crypto_init(void);

/* One-shot BLAKE2b-256 of data. */
void qp_hash256(uint8_t out[QP_HASH_SIZE], const void *data, size_t len);

/* One-shot BLAKE2b-128, used as a checksum. */
void qp_checksum128(uint8_t out[QP_CHECKSUM_SIZE], const void *data, size_t len);

/* Incremental BLAKE2b-256. */
void qp_hash256_init(qp_hash_ctx_t *ctx);
void qp_hash256_update(qp_hash_ctx_t *ctx, const void *data, size_t len);
void qp_hash256_final(qp_hash_ctx_t *ctx, uint8_t out[QP_HASH_SIZE]);

/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void qp_hex(char *out, const uint8_t *data, size_t len);

/* One-shot SHA-256 (libsodium's crypto_hash_sha256); cannot fail. */
void qp_sha256(uint8_t out[QP_HASH_SIZE], const void *data, size_t len);

/* One-shot SM3 (GB/T 32905-2016) through OpenSSL's EVP_sm3().  Returns 0, or
 * QP_ENOMEM when OpenSSL cannot allocate its context (out is then zeroed). */
int qp_sm3(uint8_t out[QP_HASH_SIZE], const void *data, size_t len);

/* ---- suites ----------------------------------------------------------- */

/* A signing suite: one signature scheme and the hash that goes with it.  The
 * numeric values are part of encoded data (keys, blocks) and never change. */
typedef enum {
  QP_SUITE_ED25519 = 1, /* Ed25519 (RFC 8032); suite hash BLAKE2b-256 */
  QP_SUITE_SM2 = 2,     /* SM2 with SM3 (GB/T 32918, GM/T 0003); suite hash SM3 */
} qp_suite_t;

/* Parses a suite name, exactly "ed25519" or "sm2" (len bytes, no NUL needed).
 * Returns 0 and sets *out, or QP_EINVAL for any other text. */
int qp_suite_parse(const char *name, size_t len, qp_suite_t *out);

/* Returns the suite's name ("ed25519", "sm2"), static storage, or NULL when
 * suite is not a known suite. */
const char *qp_suite_name(qp_suite_t suite);

/* The suite hash of data: BLAKE2b-256 for ed25519, SM3 for sm2.  Returns 0,
 * QP_EINVAL for an unknown suite or QP_ENOMEM (SM3 only); out is zeroed on
 * failure. */
int qp_suite_hash(qp_suite_t suite, uint8_t out[QP_HASH_SIZE], const void *data, size_t len);

/* ---- signing ---------------------------------------------------------- */

#define QP_SIGN_SECRET_SIZE 32  /* ed25519: RFC 8032 seed; sm2: scalar d, big-endian */
#define QP_SIGN_PUBLIC_MAX 65   /* the largest public key of any suite */
#define QP_SIGN_SIG_MAX 64      /* the largest signature of any suite */
#define QP_ED25519_PUBLIC_SIZE 32 /* RFC 8032 encoding of A */
#define QP_ED25519_SIG_SIZE 64    /* RFC 8032 R || S */
#define QP_SM2_PUBLIC_SIZE 65     /* 0x04 || x || y, uncompressed SEC 1 point */
#define QP_SM2_SIG_SIZE 64        /* r || s, each 32 bytes big-endian */
/* The SM2 distinguishing identifier signed into Z (GM/T 0009 default). */
#define QP_SM2_ID "1234567812345678"

/* A secret signing key.  Opaque; the whole struct, secret bytes included,
 * lives in sodium_malloc'd memory (guard pages, mlock'd, read-only between
 * calls) and is wiped by qp_sign_key_free. */
typedef struct qp_sign_key qp_sign_key_t;

/* Generates a fresh key for suite from the operating system's randomness.
 * Returns 0 and *out, QP_EINVAL (unknown suite), QP_ENOMEM or QP_EIO.  The
 * caller owns *out and releases it with qp_sign_key_free. */
int qp_sign_keygen(qp_suite_t suite, qp_sign_key_t **out);

/* Builds a key from its secret (QP_SIGN_SECRET_SIZE bytes: the Ed25519 seed,
 * or the SM2 scalar d with 1 <= d <= n-2).  Returns 0 and *out, QP_EINVAL for
 * an unknown suite, a wrong length or an out-of-range scalar, QP_ENOMEM or
 * QP_EIO.  The caller owns *out (qp_sign_key_free) and still owns secret. */
int qp_sign_key_from_secret(qp_suite_t suite, const uint8_t *secret, size_t len,
                            qp_sign_key_t **out);

/* Wipes and releases a key; NULL is allowed. */
void qp_sign_key_free(qp_sign_key_t *key);

/* The key's suite. */
qp_suite_t qp_sign_key_suite(const qp_sign_key_t *key);

/* Copies the secret (for a key file) into out, which the caller owns and
 * must wipe (sodium_memzero) when done.  Always QP_SIGN_SECRET_SIZE bytes. */
void qp_sign_key_secret(const qp_sign_key_t *key, uint8_t out[QP_SIGN_SECRET_SIZE]);

/* Copies the public key into out and its length into *len_out
 * (QP_ED25519_PUBLIC_SIZE or QP_SM2_PUBLIC_SIZE). */
void qp_sign_public(const qp_sign_key_t *key, uint8_t out[QP_SIGN_PUBLIC_MAX],
                    size_t *len_out);

/* Signs msg.  Writes the signature into sig_out and its length into
 * *sig_len_out: 64 bytes for both suites (Ed25519 R || S; SM2 r || s with
 * the default ID QP_SM2_ID and SM3, randomised).  Returns 0, QP_ENOMEM or
 * QP_EIO (the library refused); sig_out is zeroed on failure. */
int qp_sign(const qp_sign_key_t *key, const void *msg, size_t len,
            uint8_t sig_out[QP_SIGN_SIG_MAX], size_t *sig_len_out);

/* Verifies sig over msg with public key pub, all bytes from a peer.
 * Returns 0 when the signature is valid; QP_EINVAL for an unknown suite, a
 * public key or signature of the wrong length, or a public key that is not a
 * valid point; QP_EBADSIG when well-formed but not a valid signature (for
 * SM2 also r or s outside [1, n-1]); QP_ENOMEM when OpenSSL cannot allocate. */
int qp_verify(qp_suite_t suite, const uint8_t *pub, size_t pub_len, const void *msg,
              size_t len, const uint8_t *sig, size_t sig_len);

/* qp_verify for a public key that this process has already accepted
 * through qp_verify (its point and subgroup check, the costly part of an
 * Ed25519 verification, is skipped; everything else is the same).  For
 * callers that see many signatures of one key, such as a mempool. */
int qp_verify_key_checked(qp_suite_t suite, const uint8_t *pub, size_t pub_len, const void *msg,
                          size_t len, const uint8_t *sig, size_t sig_len);

/* ---- Merkle trees ----------------------------------------------------- */

/*
 * Binary Merkle trees in the RFC 6962 / RFC 9162 shape over leaf_count
 * 32-byte leaves (typically transaction hashes), with the suite hash H:
 *   root of 0 leaves  = H("")
 *   leaf node         = H(0x00 || leaf)
 *   inner node        = H(0x01 || left || right)
 *   root of n > 1     = node(root(first k), root(rest)), k the largest power
 *                       of two < n
 * An odd subtree is never paired with a copy of itself, so two different
 * leaf lists never share a root by duplication.  Everything is iterative.
 */
#define QP_MERKLE_LEAF_SIZE 32
#define QP_MERKLE_LEAF_COUNT_MAX ((size_t)1 << 24) /* 16,777,216 leaves */
#define QP_MERKLE_PATH_MAX 24 /* ceil(log2(QP_MERKLE_LEAF_COUNT_MAX)) */

/* Computes the root of leaves (leaf_count * 32 bytes, contiguous; NULL when
 * leaf_count is 0).  Returns 0, QP_EINVAL (unknown suite), QP_ELIMIT (more
 * than QP_MERKLE_LEAF_COUNT_MAX leaves) or QP_ENOMEM (SM3). */
int qp_merkle_root(qp_suite_t suite, const uint8_t *leaves, size_t leaf_count,
                   uint8_t root_out[QP_HASH_SIZE]);

/* Computes the audit path of leaf index: sibling hashes from the leaf up,
 * 32 bytes each, written contiguously into path_out, their number into
 * *path_len_out (0 for a single leaf, at most QP_MERKLE_PATH_MAX).  Returns
 * 0, QP_EINVAL (unknown suite, index >= leaf_count), QP_ELIMIT or QP_ENOMEM.
 * The caller owns path_out. */
int qp_merkle_proof(qp_suite_t suite, const uint8_t *leaves, size_t leaf_count, size_t index,
                    uint8_t path_out[QP_MERKLE_PATH_MAX * QP_HASH_SIZE], size_t *path_len_out);

/* Checks that leaf sits at index in a tree of leaf_count leaves with the
 * given root, using path (path_len 32-byte hashes from the leaf up, as
 * qp_merkle_proof writes them); all inputs may
 * come from a peer.  Returns 0 when it does; QP_EBADPROOF when the path is
 * the wrong length for (index, leaf_count) or the hashes do not lead to
 * root; QP_EINVAL for an unknown suite, index >= leaf_count or path_len >
 * QP_MERKLE_PATH_MAX; QP_ELIMIT or QP_ENOMEM. */
int qp_merkle_verify_proof(qp_suite_t suite, const uint8_t leaf[QP_MERKLE_LEAF_SIZE],
                           size_t index, size_t leaf_count, const uint8_t *path,
                           size_t path_len, const uint8_t root[QP_HASH_SIZE]);

#endif
