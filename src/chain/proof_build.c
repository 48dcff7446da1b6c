/*
 * proof_build.c - a node's side of proofs (proof.h): the proof of a state
 * key or of a committed transaction at the committed head, from the block
 * store and the state's tree.  Every proof is checked by the same code
 * `quipu chain verify-proof` runs before it leaves, so a proof the node
 * hands out always verifies (a commit racing the read is simply retried).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/err.h"
#include "chain/consensus.h"
#include "chain/proof.h"
#include "chain/json_text.h"
#include "chain/tx.h"

#define RACE_TRIES 20 /* a commit between the tree and the table: read again */

static json_t *hex_json(const uint8_t *p, size_t n) {
  char *s = qp_malloc(2 * n + 1);
  if (s == NULL) return NULL;
  qp_hex(s, p, n);
  json_t *j = json_string(s);
  qp_free(s);
  return j;
}

static int say(char *detail, size_t size, int rc, const char *what) {
  if (size > 0) snprintf(detail, size, "%s", what);
  return rc;
}

/* The header of the stored block at height (decoded), and its stored
 * certificate bytes (*cert_len 0 when none) copied into *cert. */
static int stored_header(qp_chain_store_t *s, const qp_chain_epoch_source_t *ep, uint64_t height,
                         qp_hs_header_t *h, json_t **cert) {
  qp_chain_block_t b;
  qp_hs_block_t hb;
  *cert = NULL;
  qp_chain_genesis_t *cfg = qp_malloc(sizeof *cfg);
  if (cfg == NULL) return QP_ENOMEM;
  ep->at_height(ep->ctx, height, cfg);
  int rc = qp_chain_store_block(s, height, &b);
  if (rc == 0) rc = qp_hs_decode_block(cfg, b.header, b.header_len, &hb);
  qp_free(cfg);
  if (rc == 0) *h = hb.header;
  if (rc == 0 && b.qc_len > 0 && (*cert = hex_json(b.qc, b.qc_len)) == NULL) rc = QP_ENOMEM;
  qp_chain_block_deinit(&b);
  return rc == QP_EPARSE || rc == QP_EINVAL ? QP_ECORRUPT : rc;
}

/* "headers" (block height and each above it up to the one whose commit
 * certificate is stored) and "cert" into o; *first is block height's. */
static int add_finality(qp_chain_store_t *s, const qp_chain_genesis_t *g,
                        const qp_chain_epoch_source_t *ep, uint64_t height, json_t *o,
                        qp_hs_header_t *first, char *detail, size_t size) {
  json_t *headers = json_array(), *cert = NULL;
  int rc = headers != NULL ? 0 : QP_ENOMEM;
  for (uint64_t k = height; rc == 0 && cert == NULL; k++) {
    if (k - height == QP_CHAIN_PROOF_HEADERS_MAX) {
      rc = say(detail, size, QP_EAGAIN, "no commit certificate within 64 blocks yet");
      break;
    }
    qp_hs_header_t h;
    rc = stored_header(s, ep, k, &h, &cert);
    if (rc == QP_ENOTFOUND)
      rc = say(detail, size, QP_EAGAIN, "the block's commit certificate is not stored yet");
    if (rc != 0) break;
    if (k == height) *first = h;
    uint8_t *enc = NULL;
    size_t len = 0;
    rc = qp_hs_encode_header(g, &h, &enc, &len);
    json_t *hex = rc == 0 ? hex_json(enc, len) : NULL;
    qp_free(enc);
    if (rc == 0 && (hex == NULL || json_array_append_new(headers, hex) != 0)) rc = QP_ENOMEM;
  }
  if (rc == 0) {
    json_object_set_new(o, "headers", headers);
    json_object_set_new(o, "cert", cert);
    return 0;
  }
  json_decref(headers);
  json_decref(cert);
  return rc;
}

static json_t *proof_base(const qp_chain_genesis_t *g, const char *kind, uint64_t height) {
  json_t *o = json_object();
  if (o == NULL) return NULL;
  json_object_set_new(o, "format", json_string(QP_CHAIN_PROOF_FORMAT));
  json_object_set_new(o, "kind", json_string(kind));
  json_object_set_new(o, "chain_id", json_string(g->chain_id));
  json_object_set_new(o, "genesis_hash", hex_json(g->hash, QP_HASH_SIZE));
  json_object_set_new(o, "height", json_integer((json_int_t)height));
  return o;
}

/* The checks a verifier runs, on what we are about to hand out. */
static int self_check(const qp_chain_genesis_t *g, json_t *o, char *detail, size_t size) {
  qp_buf_t text = {.max = QP_CHAIN_PROOF_BYTES_MAX};
  int rc = qp__chain_json_dump(o, JSON_COMPACT, &text);
  char summary[512], why[256] = "";
  if (rc == 0)
    rc = qp_chain_proof_verify(g, text.data, text.len, summary, sizeof summary, why, sizeof why);
  qp_buf_free(&text);
  if (rc != 0 && rc != QP_ENOMEM) {
    snprintf(detail, size, "the proof built does not verify (%s)", why);
    rc = QP_ECORRUPT;
  }
  return rc;
}

static void pause_ms(long ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

static int add_epochs(qp_chain_store_t *s, const qp_chain_genesis_t *g,
                      const qp_chain_epoch_source_t *ep, uint64_t height, json_t *o,
                      char *detail, size_t size);

/* ---- kv -------------------------------------------------------------------- */

typedef struct kv_read {
  uint64_t height;              /* of the tree */
  uint8_t root[QP_HASH_SIZE];   /* its root */
  qp_smt_proof_t proof;         /* the key's path in it */
  uint8_t *value;               /* the stored bytes (qp_malloc'ed), NULL when absent */
  size_t value_len;             /* their length */
} kv_read_t;

/* The tree's path and the table's value of key, from one committed height:
 * the value's hash must be what the tree's leaf holds, else a commit ran
 * between the two reads and they are read again. */
static int kv_read_once(qp_chain_state_t *st, const uint8_t *skey, size_t skey_len,
                        const uint8_t key_hash[QP_HASH_SIZE], kv_read_t *r, bool *raced) {
  qp_smt_t tree;
  qp_chain_state_tree(st, &r->height, &tree);
  qp_smt_prove(&tree, key_hash, &r->proof);
  qp_smt_root(&tree, r->root);
  qp_smt_release(&tree);
  qp_chain_reader_t rd;
  int rc = qp_chain_reader_begin(st, NULL, 0, &rd);
  const uint8_t *v = NULL;
  size_t n = 0;
  if (rc == 0) rc = qp_chain_reader_get(&rd, skey, skey_len, &v, &n);
  bool present = rc == 0;
  if (rc == QP_ENOTFOUND) rc = 0;
  if (rc == 0 && present && (r->value = qp_malloc(n > 0 ? n : 1)) == NULL) rc = QP_ENOMEM;
  if (rc == 0 && present) memcpy(r->value, v, n);
  r->value_len = present ? n : 0;
  qp_chain_reader_end(&rd);
  uint8_t vh[QP_HASH_SIZE];
  if (rc == 0 && present) rc = qp_suite_hash(qp_chain_state_suite(st), vh, r->value, n);
  if (rc == 0)
    *raced = qp_smt_verify(qp_chain_state_suite(st), r->root, key_hash, present ? vh : NULL,
                           &r->proof, NULL, 0) != 0;
  return rc;
}

static json_t *smt_json(const qp_smt_proof_t *p) {
  json_t *o = json_object(), *sib = json_array();
  for (uint32_t d = 0; d < p->depth; d++)
    json_array_append_new(sib, hex_json(p->siblings[d], QP_HASH_SIZE));
  json_object_set_new(o, "siblings", sib);
  json_t *leaf = json_null();
  if (p->leaf) {
    leaf = json_object();
    json_object_set_new(leaf, "key_hash", hex_json(p->leaf_key_hash, QP_HASH_SIZE));
    json_object_set_new(leaf, "value_hash", hex_json(p->leaf_value_hash, QP_HASH_SIZE));
  }
  json_object_set_new(o, "leaf", leaf);
  return o;
}

static int kv_read(qp_chain_store_t *s, const char *app, const uint8_t *key, size_t key_len,
                   kv_read_t *r, char *detail, size_t size) {
  qp_chain_state_t *st = qp_chain_store_state(s);
  uint8_t skey[QP_CHAIN_STATE_KEY_MAX], key_hash[QP_HASH_SIZE];
  size_t skey_len = 0;
  int rc = qp_chain_state_app_key(app, key, key_len, skey, &skey_len);
  if (rc != 0) return say(detail, size, rc, "the app name or the key is too long");
  rc = qp_suite_hash(qp_chain_state_suite(st), key_hash, skey, skey_len);
  bool raced = true;
  for (int i = 0; rc == 0 && raced && i < RACE_TRIES; i++) {
    if (i > 0) pause_ms(1);
    qp_free(r->value);
    r->value = NULL;
    rc = kv_read_once(st, skey, skey_len, key_hash, r, &raced);
  }
  if (rc == 0 && raced) rc = say(detail, size, QP_EAGAIN, "the state kept changing; retry");
  if (rc == 0 && r->height == 0) rc = say(detail, size, QP_EAGAIN, "no block is committed yet");
  return rc;
}

int qp_chain_proof_kv(qp_chain_store_t *s, const qp_chain_genesis_t *g,
                      const qp_chain_epoch_source_t *ep, const char *app,
                      const uint8_t *key, size_t key_len, json_t **out, char *detail,
                      size_t detail_size) {
  *out = NULL;
  kv_read_t r = {0};
  int rc = kv_read(s, app, key, key_len, &r, detail, detail_size);
  json_t *o = rc == 0 ? proof_base(g, "kv", r.height) : NULL;
  if (rc == 0 && o == NULL) rc = QP_ENOMEM;
  if (rc == 0) {
    json_object_set_new(o, "app", json_string(app));
    json_object_set_new(o, "key", hex_json(key, key_len));
    json_object_set_new(o, "value", r.value ? hex_json(r.value, r.value_len) : json_null());
    json_object_set_new(o, "smt", smt_json(&r.proof));
    qp_hs_header_t first;
    rc = add_finality(s, g, ep, r.height, o, &first, detail, detail_size);
    if (rc == 0) rc = add_epochs(s, g, ep, r.height, o, detail, detail_size);
    if (rc == 0 && memcmp(first.state_root, r.root, QP_HASH_SIZE) != 0)
      rc = say(detail, detail_size, QP_ECORRUPT, "the block's state root is not the tree's");
  }
  if (rc == 0) rc = self_check(g, o, detail, detail_size);
  qp_free(r.value);
  if (rc != 0) json_decref(o);
  else *out = o;
  return rc;
}

/* ---- tx -------------------------------------------------------------------- */

static json_t *path_json(const uint8_t *path, size_t count) {
  json_t *a = json_array();
  for (size_t i = 0; i < count; i++)
    json_array_append_new(a, hex_json(path + i * QP_HASH_SIZE, QP_HASH_SIZE));
  return a;
}

/* The transaction at index of the stored block, its Merkle path and the
 * path of its receipt's hash, into o. */
static int add_tx_paths(const qp_chain_genesis_t *g, const qp_chain_block_t *b, uint32_t index,
                        json_t *o) {
  size_t cap = g->params.block_txs_max, count = 0;
  qp_chain_tx_t *txs = qp_calloc(cap, sizeof *txs);
  uint8_t *leaves = qp_malloc(cap * QP_HASH_SIZE);
  int rc = txs == NULL || leaves == NULL ? QP_ENOMEM : 0;
  if (rc == 0)
    rc = qp_chain_txs_decode(g->suite, g->hash, b->body, b->body_len, g->params.block_bytes_max,
                             g->params.tx_bytes_max, txs, cap, &count, NULL, 0);
  if (rc == 0 && (index >= count || b->receipt_hashes_len != count * QP_HASH_SIZE))
    rc = QP_ECORRUPT;
  uint8_t path[QP_MERKLE_PATH_MAX * QP_HASH_SIZE];
  size_t plen = 0;
  for (size_t i = 0; rc == 0 && i < count; i++)
    memcpy(leaves + i * QP_HASH_SIZE, txs[i].hash, QP_HASH_SIZE);
  if (rc == 0) rc = qp_merkle_proof(g->suite, leaves, count, index, path, &plen);
  if (rc == 0) {
    json_object_set_new(o, "tx", hex_json(txs[index].bytes, txs[index].bytes_len));
    json_object_set_new(o, "index", json_integer(index));
    json_object_set_new(o, "tx_count", json_integer((json_int_t)count));
    json_object_set_new(o, "tx_path", path_json(path, plen));
    rc = qp_merkle_proof(g->suite, b->receipt_hashes, count, index, path, &plen);
  }
  if (rc == 0) json_object_set_new(o, "receipt_path", path_json(path, plen));
  qp_free(txs);
  qp_free(leaves);
  return rc;
}

int qp_chain_proof_tx(qp_chain_store_t *s, const qp_chain_genesis_t *g,
                      const qp_chain_epoch_source_t *ep, const uint8_t hash[QP_HASH_SIZE],
                      json_t **out, char *detail, size_t detail_size) {
  *out = NULL;
  uint64_t height = 0;
  uint32_t index = 0;
  char *receipt = NULL;
  size_t receipt_len = 0;
  qp_chain_block_t b = {0};
  int rc = qp_chain_store_tx(s, hash, &height, &index);
  if (rc == 0) rc = qp_chain_store_receipt(s, hash, &receipt, &receipt_len);
  if (rc == 0) rc = qp_chain_store_block(s, height, &b);
  if (rc == QP_ENOTFOUND) say(detail, detail_size, rc, "no committed transaction has this hash");
  json_t *o = rc == 0 ? proof_base(g, "tx", height) : NULL;
  if (rc == 0 && o == NULL) rc = QP_ENOMEM;
  if (rc == 0) rc = add_tx_paths(g, &b, index, o);
  if (rc == 0) json_object_set_new(o, "receipt", json_stringn(receipt, receipt_len));
  qp_hs_header_t first;
  if (rc == 0) rc = add_finality(s, g, ep, height, o, &first, detail, detail_size);
  if (rc == 0) rc = add_epochs(s, g, ep, height, o, detail, detail_size);
  if (rc == 0) rc = self_check(g, o, detail, detail_size);
  qp_free(receipt);
  qp_chain_block_deinit(&b);
  if (rc != 0) json_decref(o);
  else *out = o;
  return rc;
}

/* ---- validator-set changes ------------------------------------------------- */

/* Whether receipt text (a stored receipt) sets the validators of epoch e. */
static bool sets_epoch(const char *text, size_t len, uint32_t e) {
  json_t *r = json_loadb(text, len, 0, NULL), *ev;
  size_t k;
  bool found = false;
  json_array_foreach(json_object_get(r, "events"), k, ev) {
    const char *type = json_string_value(json_object_get(ev, "type"));
    found |= type != NULL && strcmp(type, "gov.validators") == 0 &&
             json_integer_value(json_object_get(ev, "epoch")) == (json_int_t)e;
  }
  json_decref(r);
  return found;
}

/* The headers of the blocks kept above the last block b of an epoch when
 * its certificate is of one of them (store.h, "above"), appended to
 * headers; none otherwise. */
static int add_above(qp_chain_store_t *s, const qp_chain_genesis_t *g,
                     const qp_chain_epoch_source_t *ep, uint64_t b, json_t *headers) {
  uint8_t *above = NULL;
  size_t len = 0, at = 0;
  int rc = qp_chain_store_above(s, b, &above, &len);
  if (rc == QP_ENOTFOUND) return 0;
  qp_chain_genesis_t *cfg = rc == 0 ? qp_malloc(sizeof *cfg) : NULL;
  if (rc == 0 && cfg == NULL) rc = QP_ENOMEM;
  if (rc == 0) ep->at_height(ep->ctx, b, cfg);
  while (rc == 0 && at < len) {
    size_t n = len - at >= 4 ? qp_load_u32(above + at) : SIZE_MAX;
    qp_hs_block_t blk;
    if (n > len - at - 4 || qp_hs_decode_block(cfg, above + at + 4, n, &blk) != 0) {
      rc = QP_ECORRUPT;
      break;
    }
    at += 4 + n;
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    rc = qp_hs_encode_header(g, &blk.header, &enc, &enc_len);
    json_t *hex = rc == 0 ? hex_json(enc, enc_len) : NULL;
    qp_free(enc);
    if (rc == 0 && (hex == NULL || json_array_append_new(headers, hex) != 0)) rc = QP_ENOMEM;
  }
  qp_free(cfg);
  qp_free(above);
  return rc;
}

/* The change record of epoch e: its base block b (header, certificate, and
 * the blocks kept above it when the certificate is of one of them) and the
 * gov transaction of b whose receipt sets the new validators. */
static int change_record(qp_chain_store_t *s, const qp_chain_genesis_t *g,
                         const qp_chain_epoch_source_t *ep, uint64_t b, uint32_t e, json_t *rec) {
  qp_chain_block_t blk = {0};
  qp_hs_header_t h;
  json_t *cert = NULL, *headers = json_array();
  int rc = stored_header(s, ep, b, &h, &cert);
  if (rc == 0 && cert == NULL) rc = QP_ECORRUPT; /* a change's block keeps its certificate */
  uint8_t *enc = NULL;
  size_t enc_len = 0;
  if (rc == 0) rc = qp_hs_encode_header(g, &h, &enc, &enc_len);
  if (rc == 0) json_array_append_new(headers, hex_json(enc, enc_len));
  qp_free(enc);
  if (rc == 0) rc = add_above(s, g, ep, b, headers);
  if (rc == 0) rc = qp_chain_store_block(s, b, &blk);
  size_t cap = g->params.block_txs_max, count = 0;
  qp_chain_tx_t *txs = rc == 0 ? qp_calloc(cap, sizeof *txs) : NULL;
  if (rc == 0 && txs == NULL) rc = QP_ENOMEM;
  if (rc == 0)
    rc = qp_chain_txs_decode(g->suite, g->hash, blk.body, blk.body_len, g->params.block_bytes_max,
                             g->params.tx_bytes_max, txs, cap, &count, NULL, 0);
  char *receipt = NULL;
  size_t receipt_len = 0, at = count;
  for (size_t i = 0; rc == 0 && i < count && at == count; i++) {
    if (strcmp(txs[i].app, "gov") != 0) continue;
    qp_free(receipt);
    receipt = NULL;
    rc = qp_chain_store_receipt(s, txs[i].hash, &receipt, &receipt_len);
    if (rc == 0 && sets_epoch(receipt, receipt_len, e)) at = i;
  }
  if (rc == 0 && at == count) rc = QP_ECORRUPT;
  if (rc == 0) rc = add_tx_paths(g, &blk, (uint32_t)at, rec);
  if (rc == 0) {
    json_object_set_new(rec, "headers", headers);
    json_object_set_new(rec, "cert", cert);
    json_object_set_new(rec, "receipt", json_stringn(receipt, receipt_len));
    headers = cert = NULL;
  }
  json_decref(headers);
  json_decref(cert);
  qp_free(receipt);
  qp_free(txs);
  qp_chain_block_deinit(&blk);
  return rc;
}

static int add_epochs(qp_chain_store_t *s, const qp_chain_genesis_t *g,
                      const qp_chain_epoch_source_t *ep, uint64_t height, json_t *o,
                      char *detail, size_t size) {
  qp_chain_genesis_t *cfg = qp_malloc(sizeof *cfg);
  json_t *list = json_array();
  int rc = cfg == NULL || list == NULL ? QP_ENOMEM : 0;
  if (rc == 0) ep->at_height(ep->ctx, height, cfg);
  uint32_t last = rc == 0 ? cfg->epoch : 0;
  for (uint32_t e = 1; rc == 0 && e <= last; e++) {
    json_t *rec = json_object();
    if (rec == NULL || !ep->of_epoch(ep->ctx, e, cfg)) rc = rec == NULL ? QP_ENOMEM : QP_ECORRUPT;
    if (rc == 0) rc = change_record(s, g, ep, cfg->base_height, e, rec);
    if (rc == 0) json_array_append(list, rec);
    json_decref(rec);
  }
  if (rc == QP_ECORRUPT) say(detail, size, rc, "a validator-set change cannot be shown");
  if (rc == 0) json_object_set_new(o, "epochs", list);
  else json_decref(list);
  qp_free(cfg);
  return rc;
}
