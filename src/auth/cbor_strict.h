/*
 * cbor_strict.h - loading CBOR from an authenticator the strict way.
 *
 * libcbor decodes; this file decides what quipu accepts before and after it
 * does.  WebAuthn's structures are CTAP2 canonical CBOR, so anything outside
 * that subset is a sign of a confused or hostile client and is refused with
 * "cbor_invalid": indefinite lengths, tags, floats and `undefined`, nesting
 * deeper than QP_AUTH_CBOR_DEPTH_MAX, a container announcing more entries
 * than bytes remain (the "huge length" that would make a decoder allocate
 * gigabytes), and a map with the same key twice.
 */
#ifndef QP_AUTH_CBOR_STRICT_H
#define QP_AUTH_CBOR_STRICT_H

#include <cbor.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/fail.h"

#define QP_AUTH_CBOR_DEPTH_MAX 8        /* nesting of arrays and maps */
#define QP_AUTH_CBOR_MAP_ENTRIES_MAX 64 /* entries of one map (duplicate check is quadratic) */

/* Decodes the first CBOR data item of buf[0..len) under the rules above.
 * `what` names the input in messages ("attestationObject").  On success
 * *out is the item (the caller releases it with cbor_decref) and *used the
 * number of bytes it took; bytes after it are the caller's business.
 * Returns 0, QP_EINVAL (fail says why) or QP_ENOMEM. */
int qp__auth_cbor_load(const uint8_t *buf, size_t len, const char *what, cbor_item_t **out,
                       size_t *used, qp_auth_fail_t *fail);

/* Looks up an integer or text key in a map item; NULL when absent. */
cbor_item_t *qp__auth_cbor_map_int(const cbor_item_t *map, int64_t key);
cbor_item_t *qp__auth_cbor_map_text(const cbor_item_t *map, const char *key);

/* Reads an integer item (major type 0 or 1) as int64; QP_EINVAL when the
 * item is not an integer or does not fit. */
int qp__auth_cbor_int(const cbor_item_t *item, int64_t *out);

#endif
