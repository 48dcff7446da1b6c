/*
 * valset.c - validator sets and epochs (valset.h): the record the gov app
 * keeps in the state, read back strictly (it is also what a proof carries
 * to show a change), and the consensus configuration of an epoch.
 */
#include <string.h>

#include "base/bytes.h"
#include "base/err.h"
#include "chain/valset.h"

#define VALSET_VERSION 1u

void qp_chain_valset_genesis(const qp_chain_genesis_t *g, qp_chain_valset_t *out) {
  memset(out, 0, sizeof *out);
  out->since = 1;
  out->count = g->validators_count;
  memcpy(out->validators, g->validators, sizeof out->validators);
}

size_t qp_chain_valset_encode(const qp_chain_valset_t *s, uint8_t *out) {
  size_t n = 0;
  out[n++] = VALSET_VERSION;
  qp_store_u32(out + n, s->epoch);
  qp_store_u64(out + n + 4, s->since);
  n += 12;
  out[n++] = (uint8_t)s->count;
  for (uint32_t i = 0; i < s->count; i++) {
    const qp_chain_validator_t *v = &s->validators[i];
    size_t name_len = strlen(v->name), addr_len = strlen(s->addresses[i]);
    out[n++] = (uint8_t)v->public_key_len;
    memcpy(out + n, v->public_key, v->public_key_len);
    n += v->public_key_len;
    out[n++] = (uint8_t)name_len;
    memcpy(out + n, v->name, name_len);
    n += name_len;
    out[n++] = (uint8_t)addr_len;
    memcpy(out + n, s->addresses[i], addr_len);
    n += addr_len;
  }
  return n;
}

/* One length-prefixed field of at most max bytes into out (NUL-terminated
 * when text). */
static bool take(const uint8_t *b, size_t len, size_t *at, size_t max, uint8_t *out,
                 size_t *out_len, bool text) {
  if (*at >= len) return false;
  size_t n = b[(*at)++];
  if (n > max || n > len - *at) return false;
  memcpy(out, b + *at, n);
  if (text) out[n] = '\0';
  *at += n;
  *out_len = n;
  return true;
}

static bool address_ok(const char *a, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (a[i] <= ' ' || a[i] > '~') return false;
  return true;
}

int qp_chain_valset_decode(qp_suite_t suite, const uint8_t *b, size_t len,
                           qp_chain_valset_t *out) {
  memset(out, 0, sizeof *out);
  if (len < 14 || b[0] != VALSET_VERSION) return QP_EPARSE;
  out->epoch = qp_load_u32(b + 1);
  out->since = qp_load_u64(b + 5);
  out->count = b[13];
  if (out->count == 0 || out->count > QP_CHAIN_VALIDATORS_MAX || out->since == 0)
    return QP_EPARSE;
  size_t at = 14, n = 0;
  for (uint32_t i = 0; i < out->count; i++) {
    qp_chain_validator_t *v = &out->validators[i];
    if (!take(b, len, &at, QP_SIGN_PUBLIC_MAX, v->public_key, &n, false)) return QP_EPARSE;
    v->public_key_len = (uint32_t)n;
    if (!qp_chain_key_valid(suite, v->public_key, n) ||
        qp_chain_valset_find(out, v->public_key, n) != (int32_t)i)
      return QP_EPARSE;
    if (!take(b, len, &at, QP_CHAIN_NAME_MAX, (uint8_t *)v->name, &n, true) ||
        !qp_chain_name_ok(v->name, n, QP_CHAIN_NAME_MAX))
      return QP_EPARSE;
    if (!take(b, len, &at, QP_CHAIN_ADDRESS_MAX, (uint8_t *)out->addresses[i], &n, true) ||
        !address_ok(out->addresses[i], n))
      return QP_EPARSE;
  }
  return at == len ? 0 : QP_EPARSE;
}

int32_t qp_chain_valset_find(const qp_chain_valset_t *s, const uint8_t *pub, size_t len) {
  for (uint32_t i = 0; i < s->count; i++)
    if (s->validators[i].public_key_len == len &&
        memcmp(s->validators[i].public_key, pub, len) == 0)
      return (int32_t)i;
  return -1;
}

int qp_chain_epoch_config(const qp_chain_genesis_t *g, const qp_chain_valset_t *s,
                          uint64_t base_view, uint64_t base_height,
                          const uint8_t base_hash[QP_HASH_SIZE], qp_chain_genesis_t *out) {
  if (s->count == 0 || s->count > QP_CHAIN_VALIDATORS_MAX) return QP_EINVAL;
  *out = *g;
  memset(out->validators, 0, sizeof out->validators);
  memcpy(out->validators, s->validators, s->count * sizeof s->validators[0]);
  out->validators_count = s->count;
  out->epoch = s->epoch;
  out->base_view = out->base_height = 0;
  memset(out->base_hash, 0, QP_HASH_SIZE);
  if (s->epoch == 0) return 0;
  out->base_view = base_view;
  out->base_height = base_height;
  memcpy(out->base_hash, base_hash, QP_HASH_SIZE);
  uint8_t in[sizeof QP_CHAIN_EPOCH_DOMAIN - 1 + QP_HASH_SIZE + 4];
  memcpy(in, QP_CHAIN_EPOCH_DOMAIN, sizeof QP_CHAIN_EPOCH_DOMAIN - 1);
  memcpy(in + sizeof QP_CHAIN_EPOCH_DOMAIN - 1, g->hash, QP_HASH_SIZE);
  qp_store_u32(in + sizeof QP_CHAIN_EPOCH_DOMAIN - 1 + QP_HASH_SIZE, s->epoch);
  return qp_suite_hash(g->suite, out->hash, in, sizeof in);
}
