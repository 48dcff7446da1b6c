/*
 * hello.h - the handshake's messages and the transcript each side signs
 * (private to net/; docs/net.md).
 *
 * HELLO payload, fixed order, little-endian:
 *   u16 version | u8 suite | network id (32) | nonce (32) | u8 key_len | key
 * AUTH payload: the signature (1..QP_SIGN_SIG_MAX bytes; 64 for both
 * suites) over the transcript
 *   "quipu/net/handshake/v1" | u8 signer role (0 dialer, 1 acceptor)
 *   | network id (32) | u8 suite
 *   | u8 dialer key_len | dialer key | dialer nonce (32)
 *   | u8 acceptor key_len | acceptor key | acceptor nonce (32)
 * Both nonces are fresh per connection, so a signature proves possession
 * of the key now, for this connection, and cannot be replayed into
 * another; the role byte keeps one side's signature from being reflected
 * back as the other's.  Pure encoders and decoders, no I/O.
 */
#ifndef QP_NET_HELLO_H
#define QP_NET_HELLO_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "net/frame.h"
#include "net/net.h"

#define QP__NET_VERSION 1u      /* the protocol version this code speaks */
#define QP__NET_NONCE_SIZE 32u  /* bytes of a HELLO nonce */
#define QP__NET_TRANSCRIPT_DOMAIN "quipu/net/handshake/v1"
#define QP__NET_TRANSCRIPT_BYTES_MAX \
  (sizeof QP__NET_TRANSCRIPT_DOMAIN - 1 + 1 + QP_NET_NETWORK_ID_SIZE + 1 + \
   2 * (1 + QP_SIGN_PUBLIC_MAX + QP__NET_NONCE_SIZE))

enum { QP__NET_ROLE_DIALER = 0, QP__NET_ROLE_ACCEPTOR = 1 };

/* A decoded HELLO. */
typedef struct qp__net_hello {
  uint16_t version;                            /* QP__NET_VERSION */
  uint8_t suite;                               /* qp_suite_t value */
  uint8_t network_id[QP_NET_NETWORK_ID_SIZE];  /* the sender's genesis hash */
  uint8_t nonce[QP__NET_NONCE_SIZE];           /* fresh random bytes */
  uint8_t key[QP_SIGN_PUBLIC_MAX];             /* the sender's public key */
  uint32_t key_len;                            /* 1..QP_SIGN_PUBLIC_MAX */
} qp__net_hello_t;

/* Encodes h into out; returns the payload length (at most
 * QP__NET_HELLO_BYTES_MAX).  h->key_len must be 1..QP_SIGN_PUBLIC_MAX. */
size_t qp__net_hello_encode(const qp__net_hello_t *h, uint8_t out[QP__NET_HELLO_BYTES_MAX]);

/* Decodes a HELLO payload from a peer.  Returns 0; QP_ENOTSUP when the
 * version is not QP__NET_VERSION (h->version says which; the rest is not
 * read, since another version may lay it out differently); QP_EPARSE when
 * the bytes are too short, the key length is 0 or too large, or bytes
 * are left over. */
int qp__net_hello_decode(const uint8_t *data, size_t len, qp__net_hello_t *h);

/* Writes the transcript that the side in role signs into out and returns
 * its length.  dialer and acceptor are the two HELLOs (the dialer's is
 * the one sent by the side that called connect). */
size_t qp__net_transcript(uint8_t out[QP__NET_TRANSCRIPT_BYTES_MAX], uint8_t role,
                          const uint8_t network_id[QP_NET_NETWORK_ID_SIZE],
                          const qp__net_hello_t *dialer, const qp__net_hello_t *acceptor);

#endif
