/*
 * cb_txs.c - the run's transactions, made before the clock starts: one
 * fresh key of the run's suite per sender, generated in memory and freed once its
 * transactions are signed (no key files), and kv puts of distinct keys
 * (or, with --lua, calls of the counter contract's inc; with --receivable,
 * receivable issues signed by the cores cb_receivable.c registered).
 *
 * Order: nonce 1 of every sender, then nonce 2 of every sender, and so on,
 * so consecutive nonces of one sender are `senders` transactions apart and
 * normally arrive in order, while no sender ever needs more of the
 * mempool's 64-nonce window than its own few transactions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain_bench.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "chain/chain.h"

#define TX_BYTES_MAX 65536u /* genesis params.tx_bytes_max of `chain init` */
#define BODY_BYTES_MAX 1024u /* one {"tx":"<hex>"} of this bench's small puts */

/* The nonces sender s sends: txs / senders, one more for the first few. */
static uint64_t nonces_of(uint32_t txs, uint32_t senders, uint32_t s) {
  return txs / senders + (s < txs % senders ? 1u : 0u);
}

/* Signs one put and appends its body; fills t. */
static int make_one(const qp_sign_key_t *key, const uint8_t genesis[QP_HASH_SIZE], uint64_t run,
                    const char *contract, const qcb_rcv_t *rcv, uint32_t s, uint64_t nonce,
                    qcb_txs_t *out, uint64_t *used, qcb_tx_t *t) {
  char args[400], detail[256];
  int n = rcv != NULL ? qcb_rcv_issue_args(rcv, run, s, nonce, args, sizeof args)
          : contract != NULL
              ? snprintf(args, sizeof args, "{\"contract\":\"%s\",\"method\":\"inc\","
                         "\"gas\":%u}", contract, QCB_LUA_CALL_GAS)
              : snprintf(args, sizeof args, "{\"key\":\"b%llx-%u-%llu\",\"value\":\"v%llu\"}",
                         (unsigned long long)run, s, (unsigned long long)nonce,
                         (unsigned long long)nonce);
  if (n < 0) return QP_ELIMIT;
  qp_chain_tx_spec_t spec = {.chain = genesis, .nonce = nonce,
                             .app = rcv != NULL ? "receivable" : contract != NULL ? "lua" : "kv",
                             .method = rcv != NULL ? "issue" : contract != NULL ? "call" : "put",
                             .args = args, .args_len = (size_t)n};
  uint8_t *bytes = NULL;
  size_t len = 0;
  int rc = qp_chain_tx_make(key, &spec, TX_BYTES_MAX, &bytes, &len, detail, sizeof detail);
  if (rc != 0) {
    fprintf(stderr, "chain-bench: cannot make a transaction: %s (%s)\n", qp_strerror(rc), detail);
    return rc;
  }
  QP_ASSERT(2 * len + 16 < BODY_BYTES_MAX);
  rc = qp_suite_hash(qp_sign_key_suite(key), t->hash, bytes, len);
  char *body = out->bodies + *used;
  memcpy(body, "{\"tx\":\"", 7);
  qp_chain_hex(body + 7, bytes, len);
  memcpy(body + 7 + 2 * len, "\"}", 3);
  t->body_off = *used;
  t->body_len = (uint32_t)(7 + 2 * len + 2);
  t->sender = s;
  t->nonce = nonce;
  *used += t->body_len;
  qp_free(bytes);
  return rc;
}

static int cmp_hash(const void *a, const void *b, void *ctx) {
  const qcb_tx_t *txs = ctx;
  return memcmp(txs[*(const uint32_t *)a].hash, txs[*(const uint32_t *)b].hash, QP_HASH_SIZE);
}

static int alloc_all(const qcb_config_t *cfg, qcb_txs_t *out) {
  memset(out, 0, sizeof *out);
  out->count = cfg->txs;
  out->senders = cfg->senders;
  out->txs = qp_calloc(cfg->txs, sizeof *out->txs);
  out->sender_keys = qp_calloc(cfg->senders, QP_SIGN_PUBLIC_MAX);
  out->sender_nonces = qp_calloc(cfg->senders, sizeof *out->sender_nonces);
  out->bodies = qp_malloc((size_t)cfg->txs * BODY_BYTES_MAX);
  out->by_hash = qp_malloc((size_t)cfg->txs * sizeof *out->by_hash);
  if (out->txs && out->sender_keys && out->sender_nonces && out->bodies && out->by_hash) return 0;
  qcb_txs_free(out);
  return QP_ENOMEM;
}

int qcb_txs_make(const qcb_config_t *cfg, const uint8_t genesis[QP_HASH_SIZE], uint64_t run,
                 const qcb_rcv_t *rcv, qcb_txs_t *out) {
  QP_ASSERT(cfg->senders >= 1 && cfg->txs >= cfg->senders && cfg->txs <= QCB_TXS_MAX);
  int rc = alloc_all(cfg, out);
  uint64_t used = 0;
  char contract[2 * QP_HASH_SIZE + 1]; /* --lua: the counter's address */
  uint8_t hash[QP_HASH_SIZE];
  if (rc == 0 && cfg->lua)
    rc = qp_suite_hash(cfg->suite, hash, qcb_lua_counter, strlen(qcb_lua_counter));
  if (rc == 0 && cfg->lua) qp_chain_hex(contract, hash, QP_HASH_SIZE);
  for (uint32_t s = 0; rc == 0 && s < cfg->senders; s++) {
    qp_sign_key_t *key = NULL;
    if (rcv != NULL) key = rcv->keys[s]; /* registered: the caller's */
    else rc = qp_sign_keygen(cfg->suite, &key);
    if (rc != 0) break;
    size_t pub_len = 0;
    qp_sign_public(key, out->sender_keys + (size_t)s * QP_SIGN_PUBLIC_MAX, &pub_len);
    QP_ASSERT(out->sender_key_len == 0 || out->sender_key_len == pub_len);
    out->sender_key_len = pub_len;
    uint64_t k = nonces_of(cfg->txs, cfg->senders, s);
    out->sender_nonces[s] = k;
    for (uint64_t j = 1; rc == 0 && j <= k; j++) {
      uint64_t pos = (j - 1) * cfg->senders + s; /* round j-1, place s */
      QP_ASSERT(pos < cfg->txs);
      rc = make_one(key, genesis, run, cfg->lua ? contract : NULL, rcv, s, j, out, &used,
                    &out->txs[pos]);
    }
    if (rcv == NULL) qp_sign_key_free(key);
  }
  for (uint32_t i = 0; rc == 0 && i < cfg->txs; i++) out->by_hash[i] = i;
  if (rc == 0) qsort_r(out->by_hash, cfg->txs, sizeof *out->by_hash, cmp_hash, out->txs);
  if (rc != 0) qcb_txs_free(out);
  return rc;
}

uint32_t qcb_txs_find(const qcb_txs_t *t, const uint8_t hash[QP_HASH_SIZE]) {
  uint32_t lo = 0, hi = t->count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    int c = memcmp(t->txs[t->by_hash[mid]].hash, hash, QP_HASH_SIZE);
    if (c == 0) return t->by_hash[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return UINT32_MAX;
}

void qcb_txs_free(qcb_txs_t *t) {
  qp_free(t->txs);
  qp_free(t->sender_keys);
  qp_free(t->sender_nonces);
  qp_free(t->bodies);
  qp_free(t->by_hash);
  memset(t, 0, sizeof *t);
}
