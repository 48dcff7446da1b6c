/*
 * authdata.h - authenticator data (WebAuthn §6.1): the bytes the
 * authenticator signs.  Layout: rpIdHash (32) | flags (1) | signCount (4,
 * big-endian) | attested credential data if AT (aaguid 16 | credentialIdLength
 * 2 | credentialId | credentialPublicKey COSE_Key) | extensions CBOR map if
 * ED.  Parsing is strict: AT and ED must match what is present, a credential
 * id longer than 1023 bytes is refused and so is any byte after the last
 * structure.  The flags' meaning (UP, UV, BE/BS) is checked by the ceremonies
 * in the spec's order (qp_auth_flags_check).
 */
#ifndef QP_AUTH_AUTHDATA_H
#define QP_AUTH_AUTHDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/cose.h"
#include "auth/fail.h"

#define QP_AUTH_RP_ID_HASH_SIZE 32
#define QP_AUTH_AAGUID_SIZE 16
#define QP_AUTH_CREDENTIAL_ID_MAX 1023 /* WebAuthn §6.1 credentialIdLength limit */
#define QP_AUTH_AUTHDATA_MAX 16384     /* bytes of authenticator data quipu reads */

#define QP_AUTH_FLAG_UP 0x01 /* user present */
#define QP_AUTH_FLAG_UV 0x04 /* user verified */
#define QP_AUTH_FLAG_BE 0x08 /* backup eligible */
#define QP_AUTH_FLAG_BS 0x10 /* backed up */
#define QP_AUTH_FLAG_AT 0x40 /* attested credential data included */
#define QP_AUTH_FLAG_ED 0x80 /* extension data included */

/* Parsed authenticator data.  Pointers point into the caller's buffer, which
 * must outlive this struct; cose_key is owned (qp_auth_authdata_deinit). */
typedef struct {
  const uint8_t *rp_id_hash;        /* QP_AUTH_RP_ID_HASH_SIZE bytes */
  uint8_t flags;                    /* QP_AUTH_FLAG_* bits */
  uint32_t sign_count;              /* signature counter */
  bool attested;                    /* AT: the fields below up to cose_key_len are set */
  const uint8_t *aaguid;            /* QP_AUTH_AAGUID_SIZE bytes */
  const uint8_t *credential_id;     /* credential_id_len bytes */
  size_t credential_id_len;         /* 1..QP_AUTH_CREDENTIAL_ID_MAX */
  const uint8_t *cose_key;          /* the encoded COSE_Key, to store */
  size_t cose_key_len;              /* its length */
  qp_auth_cose_key_t key;           /* the decoded credential public key */
  const uint8_t *extensions;        /* ED: the encoded extensions map; else NULL */
  size_t extensions_len;            /* its length */
} qp_auth_authdata_t;

/* Parses buf[0..len) into out.  Refusals: "authenticator_data_invalid",
 * "credential_id_too_long", "cbor_invalid", "cose_key_invalid",
 * "algorithm_not_allowed".  Returns 0, QP_EINVAL or
 * QP_ENOMEM; on failure out holds nothing to release. */
int qp_auth_authdata_parse(const uint8_t *buf, size_t len, qp_auth_authdata_t *out,
                           qp_auth_fail_t *fail);

/* The flag checks of §7.1 steps 14-16 and §7.2 steps 16-18, in that order:
 * UP set ("user_presence_required"), UV set when uv_required
 * ("user_verification_required"), BS not without BE and, for an assertion
 * (stored_be >= 0), BE equal to the value stored at registration
 * ("backup_state_invalid").  Returns 0 or QP_EINVAL. */
int qp_auth_flags_check(uint8_t flags, bool uv_required, int stored_be, qp_auth_fail_t *fail);

/* Releases the decoded key; safe to call twice. */
void qp_auth_authdata_deinit(qp_auth_authdata_t *ad);

#endif
