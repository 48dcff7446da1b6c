/*
 * hash.c - BLAKE2b through libsodium's crypto_generichash.
 */
#include "crypto/crypto.h"

#include <sodium.h>

#include "base/assert.h"
#include "base/err.h"

_Static_assert(sizeof(qp_hash_ctx_t) >= sizeof(crypto_generichash_state),
               "qp_hash_ctx_t too small for libsodium state");

int qp_crypto_init(void) { return sodium_init() < 0 ? QP_EIO : 0; }

void qp_hash256(uint8_t out[QP_HASH_SIZE], const void *data, size_t len) {
  int rc = crypto_generichash(out, QP_HASH_SIZE, data, len, NULL, 0);
  QP_ASSERT(rc == 0);
}

void qp_checksum128(uint8_t out[QP_CHECKSUM_SIZE], const void *data, size_t len) {
  int rc = crypto_generichash(out, QP_CHECKSUM_SIZE, data, len, NULL, 0);
  QP_ASSERT(rc == 0);
}

void qp_hash256_init(qp_hash_ctx_t *ctx) {
  int rc = crypto_generichash_init((crypto_generichash_state *)(void *)ctx->state, NULL, 0,
                                   QP_HASH_SIZE);
  QP_ASSERT(rc == 0);
}

void qp_hash256_update(qp_hash_ctx_t *ctx, const void *data, size_t len) {
  int rc = crypto_generichash_update((crypto_generichash_state *)(void *)ctx->state, data, len);
  QP_ASSERT(rc == 0);
}

void qp_hash256_final(qp_hash_ctx_t *ctx, uint8_t out[QP_HASH_SIZE]) {
  int rc = crypto_generichash_final((crypto_generichash_state *)(void *)ctx->state, out,
                                    QP_HASH_SIZE);
  QP_ASSERT(rc == 0);
}

void qp_hex(char *out, const uint8_t *data, size_t len) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  out[2 * len] = '\0';
}
