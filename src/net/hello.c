/*
 * hello.c - encoding and decoding of HELLO, and the transcript that AUTH
 * signs (layouts in hello.h).  Decoding takes bytes from an
 * unauthenticated peer: every length is checked before it is used, and
 * the only outcomes are a HELLO or an error code.
 */
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "net/hello.h"

size_t qp__net_hello_encode(const qp__net_hello_t *h, uint8_t out[QP__NET_HELLO_BYTES_MAX]) {
  QP_ASSERT(h != NULL && out != NULL);
  QP_ASSERT(h->key_len >= 1 && h->key_len <= QP_SIGN_PUBLIC_MAX);
  qp_store_u16(out, h->version);
  out[2] = h->suite;
  memcpy(out + 3, h->network_id, QP_NET_NETWORK_ID_SIZE);
  memcpy(out + 35, h->nonce, QP__NET_NONCE_SIZE);
  out[67] = (uint8_t)h->key_len;
  memcpy(out + QP__NET_HELLO_FIXED_BYTES, h->key, h->key_len);
  size_t len = QP__NET_HELLO_FIXED_BYTES + h->key_len;
  QP_ASSERT(len <= QP__NET_HELLO_BYTES_MAX);
  return len;
}

int qp__net_hello_decode(const uint8_t *data, size_t len, qp__net_hello_t *h) {
  QP_ASSERT(h != NULL && (data != NULL || len == 0));
  memset(h, 0, sizeof *h);
  if (len < 2) return QP_EPARSE;
  h->version = qp_load_u16(data);
  if (h->version != QP__NET_VERSION) return QP_ENOTSUP;
  if (len < QP__NET_HELLO_FIXED_BYTES) return QP_EPARSE;
  h->suite = data[2];
  memcpy(h->network_id, data + 3, QP_NET_NETWORK_ID_SIZE);
  memcpy(h->nonce, data + 35, QP__NET_NONCE_SIZE);
  h->key_len = data[67];
  if (h->key_len == 0 || h->key_len > QP_SIGN_PUBLIC_MAX) return QP_EPARSE;
  if (len != QP__NET_HELLO_FIXED_BYTES + h->key_len) return QP_EPARSE;
  memcpy(h->key, data + QP__NET_HELLO_FIXED_BYTES, h->key_len);
  return 0;
}

static size_t put_side(uint8_t *out, const qp__net_hello_t *h) {
  QP_ASSERT(h->key_len >= 1 && h->key_len <= QP_SIGN_PUBLIC_MAX);
  out[0] = (uint8_t)h->key_len;
  memcpy(out + 1, h->key, h->key_len);
  memcpy(out + 1 + h->key_len, h->nonce, QP__NET_NONCE_SIZE);
  return 1 + h->key_len + QP__NET_NONCE_SIZE;
}

size_t qp__net_transcript(uint8_t out[QP__NET_TRANSCRIPT_BYTES_MAX], uint8_t role,
                          const uint8_t network_id[QP_NET_NETWORK_ID_SIZE],
                          const qp__net_hello_t *dialer, const qp__net_hello_t *acceptor) {
  QP_ASSERT(out != NULL && network_id != NULL && dialer != NULL && acceptor != NULL);
  QP_ASSERT(role == QP__NET_ROLE_DIALER || role == QP__NET_ROLE_ACCEPTOR);
  size_t pos = sizeof QP__NET_TRANSCRIPT_DOMAIN - 1;
  memcpy(out, QP__NET_TRANSCRIPT_DOMAIN, pos);
  out[pos++] = role;
  memcpy(out + pos, network_id, QP_NET_NETWORK_ID_SIZE);
  pos += QP_NET_NETWORK_ID_SIZE;
  out[pos++] = dialer->suite;
  pos += put_side(out + pos, dialer);
  pos += put_side(out + pos, acceptor);
  QP_ASSERT(pos <= QP__NET_TRANSCRIPT_BYTES_MAX);
  return pos;
}
