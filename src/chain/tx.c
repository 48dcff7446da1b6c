/*
 * tx.c - one transaction: its canonical encoding, the strict decoder of
 * bytes from anyone, signing and verification (tx.h has the layout).
 *
 * The decoder reads through a cursor that refuses to pass the end, so a
 * length field can never point outside the buffer; each refusal names the
 * field and what is allowed.  args must be a JSON object: apps receive
 * only objects, and a client learns at the door that "[1]" is not one.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "chain/tx.h"

typedef struct cursor {
  const uint8_t *p; /* next byte */
  size_t left;      /* bytes after p */
} cursor_t;

static const uint8_t *take(cursor_t *c, size_t n) {
  if (n > c->left) return NULL;
  const uint8_t *p = c->p;
  c->p += n;
  c->left -= n;
  return p;
}

static int bad(char *detail, size_t detail_size, const char *field, const char *allowed) {
  if (detail != NULL && detail_size > 0)
    snprintf(detail, detail_size, "%s: %s", field, allowed);
  return QP_EPARSE;
}

/* 1..max bytes of [a-z0-9_]. */
static bool name_ok(const uint8_t *s, size_t len, size_t max) {
  if (len == 0 || len > max) return false;
  for (size_t i = 0; i < len; i++) {
    uint8_t c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

static size_t public_size(qp_suite_t suite) {
  return suite == QP_SUITE_ED25519 ? QP_ED25519_PUBLIC_SIZE
         : suite == QP_SUITE_SM2   ? QP_SM2_PUBLIC_SIZE
                                   : 0;
}

/* A JSON object with no repeated key: 0, QP_EPARSE or QP_ENOMEM. */
static int args_check(const char *args, size_t len, char *detail, size_t detail_size) {
  json_error_t jerr;
  json_t *v = json_loadb(args, len, JSON_REJECT_DUPLICATES, &jerr);
  bool object = json_is_object(v);
  json_decref(v);
  if (v == NULL && json_error_code(&jerr) == json_error_out_of_memory) return QP_ENOMEM;
  if (!object) return bad(detail, detail_size, "args", "must be a JSON object (no repeated key)");
  return 0;
}

/* A name field: u8 len || [a-z0-9_]{1,max}, copied NUL-terminated. */
static int read_name(cursor_t *c, const char *field, size_t max, char *out, char *detail,
                     size_t detail_size) {
  const uint8_t *len = take(c, 1), *s = len != NULL ? take(c, *len) : NULL;
  if (s == NULL || !name_ok(s, *len, max)) {
    char allowed[64];
    snprintf(allowed, sizeof allowed, "must be 1 to %zu bytes of [a-z0-9_]", max);
    return bad(detail, detail_size, field, allowed);
  }
  memcpy(out, s, *len);
  out[*len] = '\0';
  return 0;
}

/* The suite whose public key size is key_len, or 0 when none has it. */
static qp_suite_t suite_of_size(size_t key_len) {
  return key_len == QP_ED25519_PUBLIC_SIZE ? QP_SUITE_ED25519
         : key_len == QP_SM2_PUBLIC_SIZE   ? QP_SUITE_SM2
                                           : (qp_suite_t)0;
}

qp_suite_t qp_chain_tx_sender_suite(const uint8_t *bytes, size_t len) {
  QP_ASSERT(bytes != NULL || len == 0);
  size_t at = 1 + QP_HASH_SIZE; /* version, chain */
  return len > at && bytes[0] == QP_CHAIN_TX_VERSION ? suite_of_size(bytes[at]) : (qp_suite_t)0;
}

/* The refusal of a sender field of key_len bytes (or none) on a network of
 * suite: a key of the other suite is named as such, with the network's. */
static int bad_sender(qp_suite_t suite, const uint8_t *key_len, char *detail,
                      size_t detail_size) {
  qp_suite_t other = key_len != NULL ? suite_of_size(*key_len) : (qp_suite_t)0;
  char allowed[192];
  if (other != 0 && other != suite)
    snprintf(allowed, sizeof allowed,
             "is a %u-byte %s public key, but this network uses the %s suite "
             "(%zu-byte public keys)",
             (unsigned)*key_len, qp_suite_name(other), qp_suite_name(suite), public_size(suite));
  else
    snprintf(allowed, sizeof allowed, "must be the %s suite's public key (%zu bytes)",
             qp_suite_name(suite), public_size(suite));
  return bad(detail, detail_size, "sender", allowed);
}

/* The fields from the sender to the args. */
static int read_fields(cursor_t *c, qp_chain_tx_t *tx, char *detail, size_t detail_size) {
  size_t pub = public_size(tx->suite);
  const uint8_t *len = take(c, 1), *p = len != NULL && *len == pub ? take(c, pub) : NULL;
  if (p == NULL) return bad_sender(tx->suite, len, detail, detail_size);
  memcpy(tx->sender, p, pub);
  tx->sender_len = (uint32_t)pub;
  const uint8_t *nonce = take(c, 8);
  tx->nonce = nonce != NULL ? qp_load_u64(nonce) : 0;
  if (tx->nonce == 0) return bad(detail, detail_size, "nonce", "must be a u64 of at least 1");
  int rc = read_name(c, "app", QP_CHAIN_APP_NAME_MAX, tx->app, detail, detail_size);
  if (rc == 0) rc = read_name(c, "method", QP_CHAIN_METHOD_MAX, tx->method, detail, detail_size);
  if (rc != 0) return rc;
  const uint8_t *args_len = take(c, 4);
  size_t n = args_len != NULL ? qp_load_u32(args_len) : 0;
  const uint8_t *args = args_len != NULL ? take(c, n) : NULL;
  if (args == NULL) return bad(detail, detail_size, "args", "its length passes the end");
  tx->args = (const char *)args;
  tx->args_len = (uint32_t)n;
  return 0;
}

int qp_chain_tx_decode(qp_suite_t suite, const uint8_t *bytes, size_t len, size_t bytes_max,
                       qp_chain_tx_t *tx, char *detail, size_t detail_size) {
  return qp_chain_tx_decode_known(suite, bytes, len, bytes_max, NULL, NULL, tx, detail,
                                  detail_size);
}

int qp_chain_tx_decode_known(qp_suite_t suite, const uint8_t *bytes, size_t len,
                             size_t bytes_max, qp_chain_tx_known_fn known, void *known_ctx,
                             qp_chain_tx_t *tx, char *detail, size_t detail_size) {
  QP_ASSERT(tx != NULL && (bytes != NULL || len == 0));
  memset(tx, 0, sizeof *tx);
  tx->suite = suite;
  if (len > bytes_max || len > QP_CHAIN_TX_BYTES_MAX) {
    if (detail != NULL && detail_size > 0)
      snprintf(detail, detail_size, "the transaction is %zu bytes; at most %zu", len, bytes_max);
    return QP_ELIMIT;
  }
  if (public_size(suite) == 0) return bad(detail, detail_size, "suite", "unknown");
  cursor_t c = {bytes, len};
  const uint8_t *version = take(&c, 1), *chain = take(&c, QP_HASH_SIZE);
  if (version == NULL || *version != QP_CHAIN_TX_VERSION)
    return bad(detail, detail_size, "version", "must be 1");
  if (chain == NULL) return bad(detail, detail_size, "chain", "must be 32 bytes");
  memcpy(tx->chain, chain, QP_HASH_SIZE);
  int rc = read_fields(&c, tx, detail, detail_size);
  if (rc != 0) return rc;
  tx->body_len = (uint32_t)(len - c.left);
  const uint8_t *sig_len = take(&c, 1);
  const uint8_t *sig = sig_len != NULL && *sig_len == QP_ED25519_SIG_SIZE ? take(&c, *sig_len)
                                                                         : NULL;
  if (sig == NULL) return bad(detail, detail_size, "signature", "must be 64 bytes");
  memcpy(tx->sig, sig, QP_ED25519_SIG_SIZE);
  tx->sig_len = QP_ED25519_SIG_SIZE;
  if (c.left != 0) return bad(detail, detail_size, "signature", "trailing bytes after it");
  bool skip = false;
  if (known != NULL) { /* the hash first: it may spare parsing args again */
    if (qp_suite_hash(suite, tx->hash, bytes, len) != 0) return QP_ENOMEM;
    skip = known(known_ctx, tx->hash);
  }
  rc = skip ? 0 : args_check(tx->args, tx->args_len, detail, detail_size);
  if (rc != 0) return rc;
  tx->bytes = bytes;
  tx->bytes_len = (uint32_t)len;
  if (known != NULL) return 0;
  return qp_suite_hash(suite, tx->hash, bytes, len) == 0 ? 0 : QP_ENOMEM;
}

void qp_chain_tx_signed_message(const qp_chain_tx_t *tx, uint8_t out[QP_CHAIN_TX_SIGNED_LEN]) {
  QP_ASSERT(tx != NULL && tx->bytes != NULL && tx->body_len < tx->bytes_len);
  memcpy(out, QP_CHAIN_TX_DOMAIN, QP_CHAIN_TX_DOMAIN_LEN);
  int rc = qp_suite_hash(tx->suite, out + QP_CHAIN_TX_DOMAIN_LEN, tx->bytes, tx->body_len);
  if (rc != 0) memset(out + QP_CHAIN_TX_DOMAIN_LEN, 0, QP_HASH_SIZE); /* never verifies */
}

int qp_chain_tx_verify(const qp_chain_tx_t *tx) {
  uint8_t msg[QP_CHAIN_TX_SIGNED_LEN];
  qp_chain_tx_signed_message(tx, msg);
  return qp_verify(tx->suite, tx->sender, tx->sender_len, msg, sizeof msg, tx->sig,
                   tx->sig_len);
}

int qp_chain_tx_verify_key_checked(const qp_chain_tx_t *tx) {
  uint8_t msg[QP_CHAIN_TX_SIGNED_LEN];
  qp_chain_tx_signed_message(tx, msg);
  return qp_verify_key_checked(tx->suite, tx->sender, tx->sender_len, msg, sizeof msg, tx->sig,
                               tx->sig_len);
}

/* Checks spec's fields; detail names the first bad one. */
static int spec_check(const qp_chain_tx_spec_t *spec, char *detail, size_t detail_size) {
  int rc = QP_EINVAL;
  if (spec->chain == NULL || spec->nonce == 0)
    bad(detail, detail_size, "nonce", "must be at least 1 (and chain given)");
  else if (!name_ok((const uint8_t *)spec->app, strlen(spec->app), QP_CHAIN_APP_NAME_MAX))
    bad(detail, detail_size, "app", "must be 1 to 16 bytes of [a-z0-9_]");
  else if (!name_ok((const uint8_t *)spec->method, strlen(spec->method), QP_CHAIN_METHOD_MAX))
    bad(detail, detail_size, "method", "must be 1 to 32 bytes of [a-z0-9_]");
  else if (spec->args_len > QP_CHAIN_TX_BYTES_MAX)
    bad(detail, detail_size, "args", "longer than any transaction may be");
  else
    rc = args_check(spec->args, spec->args_len, detail, detail_size);
  return rc == QP_EPARSE ? QP_EINVAL : rc;
}

/* The body of spec into out (sized by the caller); returns its length. */
static size_t encode_body(const qp_sign_key_t *key, const qp_chain_tx_spec_t *spec,
                          uint8_t *out) {
  size_t n = 0, pub_len = 0, app_len = strlen(spec->app), method_len = strlen(spec->method);
  out[n++] = QP_CHAIN_TX_VERSION;
  memcpy(out + n, spec->chain, QP_HASH_SIZE);
  n += QP_HASH_SIZE;
  uint8_t pub[QP_SIGN_PUBLIC_MAX];
  qp_sign_public(key, pub, &pub_len);
  out[n++] = (uint8_t)pub_len;
  memcpy(out + n, pub, pub_len);
  n += pub_len;
  qp_store_u64(out + n, spec->nonce);
  n += 8;
  out[n++] = (uint8_t)app_len;
  memcpy(out + n, spec->app, app_len);
  n += app_len;
  out[n++] = (uint8_t)method_len;
  memcpy(out + n, spec->method, method_len);
  n += method_len;
  qp_store_u32(out + n, (uint32_t)spec->args_len);
  n += 4;
  if (spec->args_len > 0) memcpy(out + n, spec->args, spec->args_len);
  return n + spec->args_len;
}

int qp_chain_tx_make(const qp_sign_key_t *key, const qp_chain_tx_spec_t *spec, size_t bytes_max,
                     uint8_t **out, size_t *out_len, char *detail, size_t detail_size) {
  QP_ASSERT(key != NULL && spec != NULL && out != NULL && out_len != NULL);
  *out = NULL;
  *out_len = 0;
  int rc = spec_check(spec, detail, detail_size);
  if (rc != 0) return rc;
  size_t total = 1 + QP_HASH_SIZE + 1 + QP_SIGN_PUBLIC_MAX + 8 + 1 + strlen(spec->app) + 1 +
                 strlen(spec->method) + 4 + spec->args_len + 1 + QP_SIGN_SIG_MAX;
  uint8_t *buf = qp_malloc(total);
  if (buf == NULL) return QP_ENOMEM;
  qp_chain_tx_t tx = {.suite = qp_sign_key_suite(key), .bytes = buf};
  tx.body_len = (uint32_t)encode_body(key, spec, buf);
  tx.bytes_len = tx.body_len + 1;
  uint8_t msg[QP_CHAIN_TX_SIGNED_LEN];
  qp_chain_tx_signed_message(&tx, msg);
  size_t sig_len = 0;
  rc = qp_sign(key, msg, sizeof msg, buf + tx.body_len + 1, &sig_len);
  buf[tx.body_len] = (uint8_t)sig_len;
  size_t len = tx.body_len + 1 + sig_len;
  if (rc == 0 && len > bytes_max) {
    if (detail != NULL && detail_size > 0)
      snprintf(detail, detail_size, "the transaction is %zu bytes; at most %zu", len, bytes_max);
    rc = QP_ELIMIT;
  }
  if (rc != 0) {
    qp_free(buf);
    return rc;
  }
  *out = buf;
  *out_len = len;
  return 0;
}
