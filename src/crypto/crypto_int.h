/*
 * crypto_int.h - internals shared by the crypto/ files: the SM2 glue over
 * OpenSSL 3 that sign.c dispatches to.  Not for use outside src/crypto/.
 */
#ifndef QP_CRYPTO_CRYPTO_INT_H
#define QP_CRYPTO_CRYPTO_INT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"

/* Draws a fresh SM2 scalar d (1 <= d <= n-2) with OpenSSL's key generator.
 * Returns 0, QP_ENOMEM or QP_EIO.  The caller owns and wipes d_out. */
int qp__sm2_keygen(uint8_t d_out[QP_SIGN_SECRET_SIZE]);

/* Checks 1 <= d <= n-2 and computes the public point d*G into pub_out
 * (uncompressed).  Returns 0, QP_EINVAL (d out of range), QP_ENOMEM or
 * QP_EIO. */
int qp__sm2_public(const uint8_t d[QP_SIGN_SECRET_SIZE], uint8_t pub_out[QP_SM2_PUBLIC_SIZE]);

/* Signs msg with (d, pub) using SM3 and QP_SM2_ID; writes r || s into
 * sig_out.  Returns 0, QP_ENOMEM or QP_EIO. */
int qp__sm2_sign(const uint8_t d[QP_SIGN_SECRET_SIZE], const uint8_t pub[QP_SM2_PUBLIC_SIZE],
                 const void *msg, size_t len, uint8_t sig_out[QP_SM2_SIG_SIZE]);

/* Verifies an r || s signature; lengths are already checked by the caller.
 * Returns 0, QP_EINVAL (pub not a point on the curve), QP_EBADSIG or
 * QP_ENOMEM. */
int qp__sm2_verify(const uint8_t pub[QP_SM2_PUBLIC_SIZE], const void *msg, size_t len,
                   const uint8_t sig[QP_SM2_SIG_SIZE]);

#endif
