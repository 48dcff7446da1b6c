/*
 * keyfile.h - a signing key on disk: a validator's key in a node home
 * (keys/validator.key) and a client's key (`quipu chain keygen --out FILE`).
 *
 *   {"suite":"ed25519","public_key":"<hex>","secret_key":"<hex>"}
 *
 * Written 0600 through an atomic replace; a file other users may read is
 * refused with a message saying to `chmod 600` it, as API key files are.
 * The secret never stays in ordinary memory longer than the parse: it goes
 * into the crypto module's guarded key and the text is wiped.
 */
#ifndef QP_CHAIN_KEYFILE_H
#define QP_CHAIN_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"

/* Writes key to path (0600; refuses to overwrite unless `force`).
 * Returns 0, QP_EEXISTS, QP_EIO; detail names the path and the reason. */
int qp_chain_keyfile_write(const char *path, const qp_sign_key_t *key, bool force, char *detail,
                           size_t detail_size);

/* Reads a key file into *out (the caller frees it with qp_sign_key_free).
 * The public key in the file must match the secret.  Returns 0,
 * QP_ENOTFOUND, QP_EIO (unreadable, or readable by others), QP_EPARSE (not
 * a key file; detail says which field). */
int qp_chain_keyfile_read(const char *path, qp_sign_key_t **out, char *detail,
                          size_t detail_size);

/* Hex helpers shared by key files and genesis: lower-case hex of data into
 * out (2 * len + 1 bytes); and the reverse, exactly `len` bytes from 2 * len
 * hex digits (0 or QP_EPARSE). */
void qp_chain_hex(char *out, const uint8_t *data, size_t len);
int qp_chain_unhex(const char *hex, size_t hex_len, uint8_t *out, size_t len);

#endif
