/*
 * cb_check.c - what makes the figures trustworthy: every node ends at the
 * same height with the same head hash and state root; every block 1..height
 * is read back (node 0) and each of the run's transactions is found in
 * exactly one block (which also gives its height, hence its commit time);
 * a sample of receipts, spread over the nodes, says "ok" at that height;
 * and every sender's committed nonce is the last nonce it sent.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "chain_bench.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/clock.h"
#include "base/err.h"
#include "chain/chain.h"

#define AGREE_TIMEOUT_NS (30ull * 1000000000ull)
#define RECEIPTS_SAMPLE 1000u /* receipts read back at most */
#define BODY_BYTES_MAX (64u << 20)

/* Waits until every node shows one height, head hash and state root twice
 * in a row 200 ms apart (the chain adds up to two empty blocks after the
 * last transactions, then goes quiet). */
static int wait_agreement(const qcb_net_t *net, qcb_check_t *chk) {
  uint64_t t0 = qp_clock_mono_ns(), last = UINT64_MAX;
  qcb_status_t st[QCB_NODES_MAX];
  for (;;) {
    bool same = true;
    for (uint32_t k = 0; k < net->count; k++) {
      if (qcb_status_get(net, k, &st[k]) != 0) return QP_EIO;
      same = same && st[k].height == st[0].height &&
             strcmp(st[k].head_hash, st[0].head_hash) == 0 &&
             strcmp(st[k].state_root, st[0].state_root) == 0;
    }
    if (same && st[0].height == last) break;
    last = same ? st[0].height : UINT64_MAX;
    if (qp_clock_mono_ns() - t0 > AGREE_TIMEOUT_NS) {
      fprintf(stderr, "chain-bench: CHECK FAILED: the nodes did not agree within 30 s:\n");
      for (uint32_t k = 0; k < net->count; k++)
        fprintf(stderr, "  node%u height %llu head %.16s state %.16s\n", k,
                (unsigned long long)st[k].height, st[k].head_hash, st[k].state_root);
      return QP_ECORRUPT;
    }
    usleep(200000);
  }
  chk->height = st[0].height;
  printf("   all %u nodes at height %llu, head %.16s…, state root %.16s…\n", net->count,
         (unsigned long long)chk->height, st[0].head_hash, st[0].state_root);
  return 0;
}

/* A transaction found in a second block: counted, and the first such is
 * described (the node proposed it again before its first block committed). */
static void note_duplicate(qcb_check_t *chk, const qcb_tx_t *t, uint64_t h, uint32_t proposer) {
  uint64_t gap = h - t->height;
  chk->duplicates++;
  chk->duplicate_gaps[gap < QCB_GAPS ? gap : QCB_GAPS - 1]++;
  if (chk->duplicates == 1)
    printf("   first transaction included twice: sender %u nonce %llu, block %llu and block "
           "%llu (proposer %u)\n", t->sender, (unsigned long long)t->nonce,
           (unsigned long long)t->height, (unsigned long long)h, proposer);
}

/* Maps the transactions of block h to h (the first block wins: that one
 * executed them; a later copy fails bad_nonce). */
static int read_block(CURL *e, const qcb_net_t *net, uint64_t h, qcb_txs_t *txs,
                      qp_buf_t *body, qcb_check_t *chk) {
  char url[160];
  long code = 0;
  snprintf(url, sizeof url, "%s/v1/chain/blocks/%llu", net->url[0], (unsigned long long)h);
  if (qcb_http_get(e, url, body, &code) != 0 || code != 200) {
    fprintf(stderr, "chain-bench: CHECK FAILED: block %llu: HTTP %ld\n", (unsigned long long)h,
            code);
    return QP_EIO;
  }
  json_t *root = json_loadb(body->data, body->len, 0, NULL);
  json_t *list = json_object_get(root, "txs");
  int rc = json_is_array(list) ? 0 : QP_EPARSE;
  bool mine = false;
  uint32_t proposer = (uint32_t)json_integer_value(json_object_get(root, "proposer"));
  chk->block_entries += json_array_size(list);
  qcb_block_t *b = &chk->blocks[h];
  b->proposer = proposer;
  b->view = (uint64_t)json_integer_value(json_object_get(root, "view"));
  b->timestamp_ms = (uint64_t)json_integer_value(json_object_get(root, "timestamp_ms"));
  b->entries = (uint32_t)json_array_size(list);
  for (size_t i = 0; rc == 0 && i < json_array_size(list); i++) {
    const char *hex = json_string_value(json_array_get(list, i));
    uint8_t hash[QP_HASH_SIZE];
    uint32_t at = hex && qp_chain_unhex(hex, strlen(hex), hash, QP_HASH_SIZE) == 0
                      ? qcb_txs_find(txs, hash)
                      : UINT32_MAX;
    if (at == UINT32_MAX) chk->foreign++;
    else if (txs->txs[at].height != 0) note_duplicate(chk, &txs->txs[at], h, proposer);
    else {
      txs->txs[at].height = h;
      chk->committed++;
      b->fresh++;
      mine = true;
    }
  }
  chk->blocks_with_txs += mine;
  json_decref(root);
  return rc;
}

/* foreign_max: transactions not of the run that may be there (--lua: the
 * deploy; --receivable: the setup). */
static int read_blocks(const qcb_net_t *net, qcb_txs_t *txs, qcb_check_t *chk,
                       uint64_t foreign_max) {
  CURL *e = curl_easy_init();
  qp_buf_t body = {.max = BODY_BYTES_MAX};
  chk->blocks = qp_calloc(chk->height + 1, sizeof *chk->blocks);
  int rc = e && chk->blocks ? 0 : QP_ENOMEM;
  for (uint64_t h = 1; rc == 0 && h <= chk->height; h++)
    rc = read_block(e, net, h, txs, &body, chk);
  qp_buf_free(&body);
  curl_easy_cleanup(e);
  if (rc != 0) return rc;
  printf("   blocks 1..%llu read back: %llu carry the run's transactions; %llu of %u found, "
         "%llu found twice, %llu unknown\n", (unsigned long long)chk->height,
         (unsigned long long)chk->blocks_with_txs, (unsigned long long)chk->committed,
         txs->count, (unsigned long long)chk->duplicates, (unsigned long long)chk->foreign);
  for (uint32_t i = 0; i < txs->count; i++) {
    const qcb_tx_t *t = &txs->txs[i];
    if (t->height != 0) continue;
    fprintf(stderr, "chain-bench: CHECK FAILED: %llu transactions not in any block; the "
            "first: #%u (sender %u, nonce %llu, sent to node%u)\n",
            (unsigned long long)(txs->count - chk->committed), i, t->sender,
            (unsigned long long)t->nonce, t->node);
    return QP_ECORRUPT;
  }
  if (chk->duplicates != 0) {
    printf("   WARNING: %llu of %llu block entries (%.1f %%) repeat a transaction of an earlier "
           "block (later block - first block: ", (unsigned long long)chk->duplicates,
           (unsigned long long)chk->block_entries,
           100.0 * (double)chk->duplicates / (double)chk->block_entries);
    for (uint32_t g = 1; g < QCB_GAPS; g++)
      if (chk->duplicate_gaps[g]) printf("%s%u: %llu", g > 1 ? ", " : "", g,
                                         (unsigned long long)chk->duplicate_gaps[g]);
    printf(")\n");
  }
  return chk->foreign <= foreign_max ? 0 : QP_ECORRUPT;
}

/* GET /v1/chain/txs/{hash} on node k: 200, status ok, the block's height. */
static int check_receipt(CURL *e, const qcb_net_t *net, uint32_t k, const qcb_tx_t *t,
                         qp_buf_t *body) {
  char hex[2 * QP_HASH_SIZE + 1], url[200];
  qp_chain_hex(hex, t->hash, QP_HASH_SIZE);
  snprintf(url, sizeof url, "%s/v1/chain/txs/%s", net->url[k], hex);
  long code = 0;
  int rc = qcb_http_get(e, url, body, &code);
  json_t *root = rc == 0 && code == 200 ? json_loadb(body->data, body->len, 0, NULL) : NULL;
  json_t *receipt = json_object_get(root, "receipt");
  const char *status = json_string_value(json_object_get(receipt, "status"));
  json_t *height = json_object_get(root, "height");
  bool ok = status != NULL && strcmp(status, "ok") == 0 && json_is_integer(height) &&
            (uint64_t)json_integer_value(height) == t->height;
  if (!ok)
    fprintf(stderr, "chain-bench: CHECK FAILED: node%u, receipt of %s (block %llu): HTTP %ld "
            "%.300s\n", k, hex, (unsigned long long)t->height, code,
            body->data ? body->data : "");
  json_decref(root);
  return ok ? 0 : QP_ECORRUPT;
}

/* GET /v1/chain/nonce/{sender} on node k: committed_nonce is its last. */
static int check_nonce(CURL *e, const qcb_net_t *net, uint32_t k, const qcb_txs_t *txs,
                       uint32_t s, qp_buf_t *body) {
  char hex[2 * QP_SIGN_PUBLIC_MAX + 1], url[300];
  qp_chain_hex(hex, txs->sender_keys + (size_t)s * QP_SIGN_PUBLIC_MAX, txs->sender_key_len);
  snprintf(url, sizeof url, "%s/v1/chain/nonce/%s", net->url[k], hex);
  long code = 0;
  int rc = qcb_http_get(e, url, body, &code);
  json_t *root = rc == 0 && code == 200 ? json_loadb(body->data, body->len, 0, NULL) : NULL;
  json_t *committed = json_object_get(root, "committed_nonce");
  bool ok = json_is_integer(committed) &&
            (uint64_t)json_integer_value(committed) == txs->sender_nonces[s];
  if (!ok)
    fprintf(stderr, "chain-bench: CHECK FAILED: node%u, sender %u: committed nonce %.200s, "
            "expected %llu\n", k, s, body->data ? body->data : "",
            (unsigned long long)txs->sender_nonces[s]);
  json_decref(root);
  return ok ? 0 : QP_ECORRUPT;
}

static int check_reads(const qcb_net_t *net, const qcb_txs_t *txs, qcb_check_t *chk) {
  CURL *e[QCB_NODES_MAX] = {NULL};
  qp_buf_t body = {.max = BODY_BYTES_MAX};
  int rc = 0;
  for (uint32_t k = 0; k < net->count; k++)
    if ((e[k] = curl_easy_init()) == NULL) rc = QP_ENOMEM;
  uint32_t step = txs->count > RECEIPTS_SAMPLE ? txs->count / RECEIPTS_SAMPLE : 1;
  for (uint32_t i = 0, n = 0; rc == 0 && i < txs->count; i += step, n++) {
    rc = check_receipt(e[n % net->count], net, n % net->count, &txs->txs[i], &body);
    chk->receipts_checked += rc == 0;
  }
  for (uint32_t s = 0; rc == 0 && s < txs->senders; s++) {
    rc = check_nonce(e[s % net->count], net, s % net->count, txs, s, &body);
    chk->nonces_checked += rc == 0;
  }
  for (uint32_t k = 0; k < net->count; k++) curl_easy_cleanup(e[k]);
  qp_buf_free(&body);
  if (rc == 0)
    printf("   %llu receipts (every %u-th transaction, all nodes) ok at their block's height; "
           "%llu senders' committed nonces are their last\n",
           (unsigned long long)chk->receipts_checked, step,
           (unsigned long long)chk->nonces_checked);
  return rc;
}

int qcb_check_run(const qcb_config_t *cfg, const qcb_net_t *net, qcb_txs_t *txs,
                  qcb_check_t *chk) {
  QP_ASSERT(chk->blocks == NULL);
  memset(chk, 0, sizeof *chk);
  int rc = wait_agreement(net, chk);
  if (rc == 0) rc = read_blocks(net, txs, chk, cfg->lua ? 1 : txs->setup_txs);
  if (rc == 0) rc = check_reads(net, txs, chk);
  chk->ok = rc == 0;
  return rc;
}

void qcb_check_free(qcb_check_t *chk) {
  qp_free(chk->blocks);
  chk->blocks = NULL;
}
