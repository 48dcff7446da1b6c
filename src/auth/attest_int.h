/*
 * attest_int.h - what attest.c and attest_formats.c share: a decoded
 * attestation object, and the statement verification per format.
 */
#ifndef QP_AUTH_ATTEST_INT_H
#define QP_AUTH_ATTEST_INT_H

#include <cbor.h>
#include <openssl/x509.h>

#include "auth/attest.h"

/* A decoded attestation object.  auth_data and ad point into item. */
typedef struct {
  cbor_item_t *item;          /* the whole map; owned */
  char fmt[QP_AUTH_FMT_MAX];  /* the format name */
  const cbor_item_t *stmt;    /* attStmt, a map inside item */
  const uint8_t *auth_data;   /* the authData bytes */
  size_t auth_data_len;       /* their length */
  qp_auth_authdata_t ad;      /* authData parsed (owns the credential key) */
} qp__auth_attobj_t;

/* Decodes and shape-checks an attestation object; on success the caller
 * releases obj with qp__auth_attobj_deinit. */
int qp__auth_attobj_decode(const uint8_t *buf, size_t len, qp__auth_attobj_t *obj,
                           qp_auth_fail_t *fail);
void qp__auth_attobj_deinit(qp__auth_attobj_t *obj);

/* Verifies obj's statement for its format over authData || clientDataHash;
 * *type receives the attestation type ("none", "self", "basic"). */
int qp__auth_statement_verify(const qp__auth_attobj_t *obj, const uint8_t client_data_hash[32],
                              const char **type, qp_auth_fail_t *fail);

/* §8.2.1: the packed attestation certificate's requirements (version 3;
 * subject C, O, OU "Authenticator Attestation", CN; not a CA; the
 * id-fido-gen-ce-aaguid extension, when present, not critical and equal to
 * aaguid).  Refusal: "attestation_invalid". */
int qp__auth_packed_cert_check(X509 *cert, const uint8_t aaguid[16], qp_auth_fail_t *fail);

#endif
