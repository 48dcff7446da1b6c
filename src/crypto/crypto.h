/*
 * crypto.h - hashing for quipu's own formats, on libsodium.
 *
 * The journal's checksums and hash chain use BLAKE2b (libsodium's
 * crypto_generichash): collision-resistant, and faster than SHA-256 on
 * machines without SHA extensions.  Nothing here is a home-made primitive;
 * this header only fixes which primitive and which output size we use.
 */
#ifndef QP_CRYPTO_CRYPTO_H
#define QP_CRYPTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define QP_HASH_SIZE 32     /* chain hashes, head hash */
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

#endif
