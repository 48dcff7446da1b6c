/*
 * routes.c - the chain's HTTP routes (docs/chain.md, "HTTP"): submit a
 * transaction, read status, nonces, blocks, transactions and app state.
 * They need no API key unless modules.chain.require_api_key: a
 * transaction carries its own signature, and the listen address decides
 * who can reach the node.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/err.h"
#include "chain/app.h"
#include "chain/keyfile.h"
#include "chain/node_int.h"
#include "chain/proof.h"

static json_t *hex_json(const uint8_t *data, size_t len) {
  char hex[2 * QP_SIGN_PUBLIC_MAX + 1];
  qp_chain_hex(hex, data, len);
  return json_string(hex);
}

static json_t *u64_json(uint64_t v) { return json_integer((json_int_t)v); }

static void fail(qp_http_reply_t *r, unsigned status, const char *code, const char *path,
                 const char *message) {
  qp_http_reply_fail(r, status, code, path, message);
}

/* -------------------------------------------------------- transactions */

/* Parses a {hash} path segment of 64 hex digits. */
static bool path_hash(qp_http_request_t *req, const char *name, uint8_t out[QP_HASH_SIZE],
                      qp_http_reply_t *r) {
  const char *h = qp_http_param(req, name);
  if (h == NULL || qp_chain_unhex(h, strlen(h), out, QP_HASH_SIZE) != 0) {
    fail(r, 400, "invalid_value", name, "must be 64 hex digits");
    return false;
  }
  return true;
}

static void get_tx(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__chain_node_t *n = ctx;
  uint8_t hash[QP_HASH_SIZE];
  bool want_proof = false;
  if (!path_hash(req, "hash", hash, r) || !qp__chain_want_proof(req, r, &want_proof)) return;
  uint64_t height = 0;
  uint32_t index = 0;
  char *receipt = NULL;
  size_t len = 0;
  int rc = qp_chain_store_tx(n->store, hash, &height, &index);
  if (rc == 0) rc = qp_chain_store_receipt(n->store, hash, &receipt, &len);
  if (rc == QP_ENOTFOUND) {
    bool pending = qp_chain_mempool_verified(n->mempool, hash);
    fail(r, 404, "not_found", "hash",
         pending ? "pending in the mempool" : "no committed transaction has this hash");
    return;
  }
  json_t *rec = rc == 0 ? json_loadb(receipt, len, 0, NULL) : NULL;
  qp_free(receipt);
  if (rec == NULL) {
    fail(r, 500, "internal", "", rc ? qp_strerror(rc) : "stored receipt is not JSON");
    return;
  }
  json_t *o = json_object();
  json_object_set_new(o, "height", u64_json(height));
  json_object_set_new(o, "index", u64_json(index));
  json_object_set_new(o, "tx", hex_json(hash, QP_HASH_SIZE));
  json_object_set_new(o, "receipt", rec);
  json_t *proof = NULL;
  char detail[256] = "";
  qp_chain_epoch_source_t src;
  qp__chain_epoch_source(n, &src);
  if (want_proof &&
      qp__chain_proof_failed(qp_chain_proof_tx(n->store, &n->genesis, &src, hash, &proof, detail,
                                               sizeof detail),
                             detail, r)) {
    json_decref(o);
    return;
  }
  if (proof != NULL) json_object_set_new(o, "proof", proof);
  qp_http_reply_json(r, 200, o);
}

/* ------------------------------------------------------------- status */

/* The validators in force (the current epoch's). */
static json_t *validators_json(const qp_chain_genesis_t *cfg) {
  json_t *arr = json_array();
  for (uint32_t i = 0; i < cfg->validators_count; i++) {
    const qp_chain_validator_t *v = &cfg->validators[i];
    json_t *o = json_object();
    json_object_set_new(o, "index", u64_json(i));
    json_object_set_new(o, "name", json_string(v->name));
    json_object_set_new(o, "public_key", hex_json(v->public_key, v->public_key_len));
    json_array_append_new(arr, o);
  }
  return arr;
}

/* Every other validator the transport knows (the chain ever had), up or
 * not; index is the transport's. */
static json_t *peers_json(qp__chain_node_t *n) {
  json_t *arr = json_array();
  pthread_mutex_lock(&n->fwd_mutex); /* n->net is swapped under it when a validator joins */
  for (uint32_t i = 0; i < n->epochs.peers.count; i++) {
    if ((int32_t)i == n->self) continue;
    json_t *o = json_object();
    json_object_set_new(o, "index", u64_json(i));
    json_object_set_new(o, "name", json_string(n->epochs.peers.validators[i].name));
    json_object_set_new(o, "up", json_boolean(qp_net_peer_is_up(n->net, i)));
    json_array_append_new(arr, o);
  }
  pthread_mutex_unlock(&n->fwd_mutex);
  return arr;
}

static void status(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  (void)req;
  qp__chain_node_t *n = ctx;
  pthread_mutex_lock(&n->pub_mutex);
  qp__chain_public_t p = n->pub;
  pthread_mutex_unlock(&n->pub_mutex);
  qp_chain_mempool_stats_t ms;
  qp_chain_mempool_stats(n->mempool, &ms);
  json_t *o = json_object(), *mp = json_object();
  json_object_set_new(o, "chain_id", json_string(n->genesis.chain_id));
  json_object_set_new(o, "suite", json_string(qp_suite_name(n->genesis.suite)));
  json_object_set_new(o, "genesis_hash", hex_json(n->genesis.hash, QP_HASH_SIZE));
  /* One consistent triple, published by the driver after each commit. */
  json_object_set_new(o, "height", u64_json(p.height));
  json_object_set_new(o, "head_hash", hex_json(p.head_hash, QP_HASH_SIZE));
  json_object_set_new(o, "state_root", hex_json(p.state_root, QP_HASH_SIZE));
  json_object_set_new(o, "view", u64_json(p.view));
  /* Certified blocks more than two ahead of the committed head: this
   * validator is catching up, and its state (nonces, kv) is behind. */
  json_object_set_new(o, "syncing", json_boolean(p.certified_height > p.height + 2));
  qp_chain_genesis_t *cfg = qp_malloc(sizeof *cfg);
  if (cfg != NULL) qp__chain_cfg_at(n, UINT64_MAX, cfg);
  json_object_set_new(o, "epoch", u64_json(cfg != NULL ? cfg->epoch : 0));
  json_object_set_new(o, "validators", cfg != NULL ? validators_json(cfg) : json_array());
  qp_free(cfg);
  json_object_set_new(o, "peers", peers_json(n));
  json_object_set_new(o, "self", u64_json((uint64_t)n->self));
  json_object_set_new(mp, "count", u64_json(ms.txs));
  json_object_set_new(mp, "bytes", u64_json(ms.bytes));
  json_object_set_new(o, "mempool", mp);
  json_object_set_new(o, "tx_bytes_max", u64_json(n->genesis.params.tx_bytes_max));
  qp_http_reply_json(r, 200, o);
}

static void nonce(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__chain_node_t *n = ctx;
  const char *h = qp_http_param(req, "sender");
  uint8_t sender[QP_SIGN_PUBLIC_MAX];
  size_t len = h ? strlen(h) / 2 : 0;
  /* A key of the other suite (or any other length) names no sender here. */
  size_t want = n->genesis.suite == QP_SUITE_SM2 ? QP_SM2_PUBLIC_SIZE : QP_ED25519_PUBLIC_SIZE;
  if (h == NULL || len != want || qp_chain_unhex(h, strlen(h), sender, len) != 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "must be a public key of this network's %s suite in hex "
             "(%zu digits)", qp_suite_name(n->genesis.suite), 2 * want);
    fail(r, 400, "invalid_value", "sender", msg);
    return;
  }
  pthread_mutex_lock(&n->pub_mutex);
  bool syncing = n->pub.certified_height > n->pub.height + 2;
  pthread_mutex_unlock(&n->pub_mutex);
  if (syncing) {
    fail(r, 503, "syncing", "", "this validator is catching up; ask another or retry shortly");
    return;
  }
  uint64_t committed = 0;
  int rc = qp_chain_state_nonce(qp_chain_store_state(n->store), sender, len, &committed);
  if (rc != 0) {
    fail(r, 500, "internal", "", qp_strerror(rc));
    return;
  }
  uint64_t next = qp_chain_mempool_last_nonce(n->mempool, sender, len, committed) + 1;
  json_t *o = json_object();
  json_object_set_new(o, "sender", json_string(h));
  json_object_set_new(o, "committed_nonce", u64_json(committed));
  json_object_set_new(o, "next_nonce", u64_json(next));
  qp_http_reply_json(r, 200, o);
}

/* ------------------------------------------------------- blocks, state */

static json_t *block_json(qp__chain_node_t *n, const qp_hs_block_t *b) {
  json_t *o = json_object(), *txs = json_array();
  json_object_set_new(o, "height", u64_json(b->header.height));
  json_object_set_new(o, "hash", hex_json(b->hash, QP_HASH_SIZE));
  json_object_set_new(o, "parent_hash", hex_json(b->header.parent_hash, QP_HASH_SIZE));
  json_object_set_new(o, "view", u64_json(b->header.view));
  json_object_set_new(o, "proposer", u64_json(b->header.proposer));
  json_object_set_new(o, "timestamp_ms", u64_json(b->header.timestamp_ms));
  json_object_set_new(o, "tx_root", hex_json(b->header.tx_root, QP_HASH_SIZE));
  json_object_set_new(o, "state_root", hex_json(b->header.state_root, QP_HASH_SIZE));
  json_object_set_new(o, "qc_signers", u64_json((uint64_t)__builtin_popcountll(
                                           b->header.justify.signers)));
  qp_chain_tx_t *list = qp_calloc(n->genesis.params.block_txs_max, sizeof *list);
  size_t count = 0;
  if (list != NULL && qp__chain_payload_txs(n, b, list, &count) == 0)
    for (size_t i = 0; i < count; i++) json_array_append_new(txs, hex_json(list[i].hash, 32));
  qp_free(list);
  json_object_set_new(o, "txs", txs);
  return o;
}

static void get_block(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__chain_node_t *n = ctx;
  const char *h = qp_http_param(req, "height");
  char *end = NULL;
  unsigned long long height = h ? strtoull(h, &end, 10) : 0;
  if (h == NULL || h[0] < '0' || h[0] > '9' || *end != '\0') {
    fail(r, 400, "invalid_value", "height", "must be a block height (decimal)");
    return;
  }
  qp_chain_block_t stored;
  memset(&stored, 0, sizeof stored);
  qp_hs_block_t b;
  int rc = height == 0 ? QP_ENOTFOUND : qp_chain_store_block(n->store, height, &stored);
  qp_chain_genesis_t *cfg = rc == 0 ? qp_malloc(sizeof *cfg) : NULL;
  if (rc == 0 && cfg == NULL) rc = QP_ENOMEM;
  if (rc == 0) qp__chain_cfg_at(n, height, cfg);
  if (rc == 0) rc = qp_hs_decode_block(cfg, stored.header, stored.header_len, &b);
  qp_free(cfg);
  if (rc == QP_ENOTFOUND) fail(r, 404, "not_found", "height", "no committed block at this height");
  else if (rc != 0) fail(r, 500, "internal", "", qp_strerror(rc));
  else qp_http_reply_json(r, 200, block_json(n, &b));
  qp_chain_block_deinit(&stored);
}

/* Runs a query of an app on the committed state; NULL after a reply.
 * With absent (not NULL), a not_found answer is no reply: *absent is set. */
static json_t *run_query(qp__chain_node_t *n, const char *app_name, const char *method,
                         const char *args, size_t args_len, bool *absent, qp_http_reply_t *r) {
  const qp_chain_app_t *app = qp_chain_app_find(app_name);
  if (app == NULL) {
    fail(r, 400, "unknown_app", "app",
         "no built-in app has this name (kv, gov, lua, registry, receivable)");
    return NULL;
  }
  json_t *result = NULL;
  char code[QP_CHAIN_CODE_MAX + 1] = "", detail[256] = "";
  int rc = qp_chain_app_query(app, qp_chain_store_state(n->store), method, args, args_len,
                              &result, code, detail, sizeof detail);
  if (rc == 0) return result;
  if (rc == QP_ENOTFOUND && absent != NULL) *absent = true;
  else if (rc == QP_ENOTFOUND) fail(r, 404, code[0] ? code : "not_found", "args", detail);
  else if (rc == QP_EINVAL) fail(r, 400, code[0] ? code : "bad_args", "args", detail);
  else fail(r, 500, "internal", "", qp_strerror(rc));
  return NULL;
}

static void reply_answer(qp__chain_node_t *n, json_t *result, qp_http_reply_t *r) {
  qp_chain_head_t head;
  qp_chain_store_head(n->store, &head);
  json_t *o = json_object();
  json_object_set_new(o, "height", u64_json(head.height));
  json_object_set_new(o, "result", result);
  qp_http_reply_json(r, 200, o);
}

/* The kv app's answer for key with its height; NULL after a reply.  With
 * absent_ok, a key with no value is an answer ({"key", "value": null})
 * rather than a 404: its proof shows the absence. */
static json_t *kv_answer(qp__chain_node_t *n, const char *key, bool absent_ok,
                         qp_http_reply_t *r) {
  json_t *args = json_object();
  json_object_set_new(args, "key", json_string(key));
  char *text = json_dumps(args, JSON_COMPACT);
  json_decref(args);
  if (text == NULL) {
    fail(r, 500, "internal", "", qp_strerror(QP_ENOMEM));
    return NULL;
  }
  bool absent = false;
  json_t *result = run_query(n, "kv", "get", text, strlen(text), absent_ok ? &absent : NULL, r);
  qp_http_json_free(text);
  if (absent && (result = json_pack("{s:s, s:n}", "key", key, "value")) == NULL)
    fail(r, 500, "internal", "", qp_strerror(QP_ENOMEM));
  if (result == NULL) return NULL; /* replied */
  /* {"height", "key", "value", "owner"}: the query's result, flat. */
  qp_chain_head_t head;
  qp_chain_store_head(n->store, &head);
  json_object_set_new(result, "height", u64_json(head.height));
  return result;
}

/* The answer and its proof, from the same height (a commit between the
 * two reads: both again). */
static void kv_with_proof(qp__chain_node_t *n, const char *key, qp_http_reply_t *r) {
  for (int tries = 0; tries < 8; tries++) {
    json_t *proof = NULL;
    char detail[256] = "";
    qp_chain_epoch_source_t src;
    qp__chain_epoch_source(n, &src);
    int rc = qp_chain_proof_kv(n->store, &n->genesis, &src, "kv", (const uint8_t *)key,
                               strlen(key), &proof, detail, sizeof detail);
    if (qp__chain_proof_failed(rc, detail, r)) return;
    json_t *answer = kv_answer(n, key, true, r);
    if (answer == NULL) {
      json_decref(proof);
      return;
    }
    if (json_equal(json_object_get(answer, "height"), json_object_get(proof, "height"))) {
      json_object_set_new(answer, "proof", proof);
      qp_http_reply_json(r, 200, answer);
      return;
    }
    json_decref(proof);
    json_decref(answer);
  }
  r->retry_after_s = 1;
  qp_http_reply_fail(r, 503, "proof_not_ready", "", "the state kept changing; retry");
}

static void get_kv(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__chain_node_t *n = ctx;
  bool want_proof = false;
  if (!qp__chain_want_proof(req, r, &want_proof)) return;
  if (want_proof) {
    kv_with_proof(n, qp_http_param(req, "key"), r);
    return;
  }
  json_t *answer = kv_answer(n, qp_http_param(req, "key"), false, r);
  if (answer != NULL) qp_http_reply_json(r, 200, answer);
}

/* The answer with its proof from the same height (a commit between the
 * two reads: both again); replies either way. */
static void query_with_proof(qp__chain_node_t *n, const char *app, const char *method,
                             const json_t *args, const char *text, qp_http_reply_t *r) {
  char key[QP_CHAIN_APP_KEY_MAX + 1];
  if (qp__chain_query_proof_key(app, method, args, key, sizeof key) != 0) {
    fail(r, 400, "proof_not_available", "proof", "a proof is offered for kv get, registry "
         "participant, receivable voucher and receivable settlement (one state key each)");
    return;
  }
  for (int tries = 0; tries < 8; tries++) {
    json_t *proof = NULL;
    char detail[256] = "";
    qp_chain_epoch_source_t src;
    qp__chain_epoch_source(n, &src);
    int rc = qp_chain_proof_kv(n->store, &n->genesis, &src, app, (const uint8_t *)key,
                               strlen(key), &proof, detail, sizeof detail);
    if (qp__chain_proof_failed(rc, detail, r)) return;
    json_t *result = run_query(n, app, method, text, strlen(text), NULL, r);
    qp_chain_head_t head;
    qp_chain_store_head(n->store, &head);
    if (result == NULL || (uint64_t)json_integer_value(json_object_get(proof, "height")) ==
                              head.height) {
      if (result != NULL)
        qp_http_reply_json(r, 200, json_pack("{s:o, s:o, s:o}", "height", u64_json(head.height),
                                             "result", result, "proof", proof));
      else json_decref(proof);
      return;
    }
    json_decref(result);
    json_decref(proof);
  }
  r->retry_after_s = 1;
  qp_http_reply_fail(r, 503, "proof_not_ready", "", "the state kept changing; retry");
}

static void query(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__chain_node_t *n = ctx;
  size_t len = 0;
  const char *body = qp_http_body(req, &len);
  json_t *root = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
  json_t *app = json_object_get(root, "app"), *method = json_object_get(root, "method");
  json_t *args = json_object_get(root, "args"), *proof = json_object_get(root, "proof");
  if (!json_is_string(app) || !json_is_string(method) || !json_is_object(args) ||
      (proof != NULL && !json_is_boolean(proof)) ||
      json_object_size(root) != 3u + (proof != NULL)) {
    fail(r, 400, "invalid_body", "",
         "the body must be {\"app\":\"kv\",\"method\":\"get\",\"args\":{…}} and "
         "optionally \"proof\": true or false");
    json_decref(root);
    return;
  }
  char *text = json_dumps(args, JSON_COMPACT);
  json_t *result = NULL;
  if (text != NULL && json_is_true(proof))
    query_with_proof(n, json_string_value(app), json_string_value(method), args, text, r);
  else if (text != NULL)
    result = run_query(n, json_string_value(app), json_string_value(method), text, strlen(text),
                       NULL, r);
  else
    fail(r, 500, "internal", "", qp_strerror(QP_ENOMEM));
  qp_http_json_free(text);
  json_decref(root);
  if (result != NULL) reply_answer(n, result, r);
}

/* -------------------------------------------------------------- table */

#define ROUTES(SUBMIT, READ, PUBLIC)                                                    \
  {                                                                                     \
    {"POST", "/v1/chain/txs", SUBMIT, PUBLIC, 16u << 20, qp__chain_submit_txs},                 \
        {"GET", "/v1/chain/txs/{hash}", READ, PUBLIC, 0, get_tx},                       \
        {"GET", "/v1/chain/status", READ, PUBLIC, 0, status},                           \
        {"GET", "/v1/chain/nonce/{sender}", READ, PUBLIC, 0, nonce},                    \
        {"GET", "/v1/chain/blocks/{height}", READ, PUBLIC, 0, get_block},               \
        {"GET", "/v1/chain/kv/{key}", READ, PUBLIC, 0, get_kv},                         \
        {"POST", "/v1/chain/query", READ, PUBLIC, 1u << 20, query},                     \
  }

static const qp_http_route_t OPEN[] = ROUTES(NULL, NULL, true);
static const qp_http_route_t KEYED[] = ROUTES("chain:submit", "chain:read", false);

const qp_http_route_t *qp__chain_routes(bool keyed, uint32_t *count_out) {
  *count_out = (uint32_t)(sizeof OPEN / sizeof OPEN[0]);
  return keyed ? KEYED : OPEN;
}

const char qp__chain_openapi_json[] =
    "{\"paths\":{"
    "\"/v1/chain/txs\":{\"post\":{\"tags\":[\"chain\"],\"operationId\":\"chainSubmitTx\","
    "\"summary\":\"Submit a signed transaction ({\\\"tx\\\":hex}; 202 {\\\"hash\\\"}) or a "
    "batch ({\\\"txs\\\":[hex,…]}; 200 {\\\"results\\\":[{index,hash,result}]})\","
    "\"responses\":{\"202\":{\"description\":\"admitted to the mempool\"},"
    "\"200\":{\"description\":\"a batch: one result per transaction\"},"
    "\"400\":{\"description\":\"refused: the admission code\"}}}},"
    "\"/v1/chain/txs/{hash}\":{\"get\":{\"tags\":[\"chain\"],\"operationId\":\"chainGetTx\","
    "\"summary\":\"A committed transaction: height, index, receipt (with proof=1, a proof of "
    "both)\",\"parameters\":[{\"name\":\"hash\",\"in\":\"path\",\"required\":true,\"schema\":"
    "{\"type\":\"string\"}},{\"name\":\"proof\",\"in\":\"query\",\"schema\":{\"type\":"
    "\"string\",\"enum\":[\"1\",\"true\",\"0\",\"false\"]}}],\"responses\":{\"200\":{"
    "\"description\":\"committed\"},\"404\":{\"description\":\"unknown or pending\"},\"503\":"
    "{\"description\":\"proof not ready yet (retry)\"}}}},"
    "\"/v1/chain/status\":{\"get\":{\"tags\":[\"chain\"],\"operationId\":\"chainStatus\","
    "\"summary\":\"Height, head, state root, view, validators, peers\",\"responses\":{\"200\":"
    "{\"description\":\"status\"}}}},"
    "\"/v1/chain/nonce/{sender}\":{\"get\":{\"tags\":[\"chain\"],\"operationId\":\"chainNonce\","
    "\"summary\":\"A sender's committed and next nonce\",\"parameters\":[{\"name\":\"sender\","
    "\"in\":\"path\",\"required\":true,\"schema\":{\"type\":\"string\"}}],\"responses\":{\"200\":"
    "{\"description\":\"nonces\"}}}},"
    "\"/v1/chain/blocks/{height}\":{\"get\":{\"tags\":[\"chain\"],\"operationId\":"
    "\"chainBlock\",\"summary\":\"A committed block\",\"parameters\":[{\"name\":\"height\","
    "\"in\":\"path\",\"required\":true,\"schema\":{\"type\":\"integer\"}}],\"responses\":{"
    "\"200\":{\"description\":\"the block\"},\"404\":{\"description\":\"above the head\"}}}},"
    "\"/v1/chain/kv/{key}\":{\"get\":{\"tags\":[\"chain\"],\"operationId\":\"chainKv\","
    "\"summary\":\"The kv app's value of a key (with proof=1, a proof of it or of its absence)"
    "\",\"parameters\":[{\"name\":\"key\",\"in\":\"path\",\"required\":true,\"schema\":{"
    "\"type\":\"string\"}},{\"name\":\"proof\",\"in\":\"query\",\"schema\":{\"type\":"
    "\"string\",\"enum\":[\"1\",\"true\",\"0\",\"false\"]}}],\"responses\":{\"200\":{"
    "\"description\":\"value and owner (value null when absent and proof=1)\"},\"404\":{"
    "\"description\":\"no such key\"},\"503\":{\"description\":\"proof not ready yet (retry)"
    "\"}}}},"
    "\"/v1/chain/query\":{\"post\":{\"tags\":[\"chain\"],\"operationId\":\"chainQuery\","
    "\"summary\":\"Query an app on the committed state (kv get; gov validators, proposal, "
    "proposals, may_deploy; lua code, get; registry participant, participants; receivable "
    "voucher, holdings, exposure, history, settlement, settlements); with proof: true, kv get, "
    "registry participant and receivable voucher and settlement add the state proof of their "
    "record\","
    "\"responses\":{\"200\":{\"description\":\"{height, result[, proof]}\"}}}}"
    "}}";

void qp__chain_metrics(void *ctx, qp_http_text_t *out) {
  qp__chain_node_t *n = ctx;
  pthread_mutex_lock(&n->pub_mutex);
  qp__chain_public_t p = n->pub;
  pthread_mutex_unlock(&n->pub_mutex);
  qp_net_metrics_t nm;
  pthread_mutex_lock(&n->fwd_mutex);
  qp_net_metrics_read(n->net, &nm);
  pthread_mutex_unlock(&n->fwd_mutex);
  qp_http_metric_u64(out, "quipu_chain_height", "gauge", "committed height", p.height);
  qp_http_metric_u64(out, "quipu_chain_view", "gauge", "the consensus view", p.view);
  qp_http_metric_u64(out, "quipu_chain_blocks_committed_total", "counter",
                     "blocks committed since start", p.commits);
  qp_http_metric_u64(out, "quipu_chain_txs_committed_total", "counter",
                     "transactions in the blocks committed since start (tx/s: its rate)",
                     p.txs_committed);
  qp_http_metric_u64(out, "quipu_chain_view_changes_total", "counter",
                     "views entered by timeout (a timeout certificate) since start",
                     p.views_changed);
  qp_http_metric_u64(out, "quipu_chain_commit_latency_ms_sum", "counter",
                     "proposal to local commit, summed over committed blocks", p.commit_ms_sum);
  qp_http_metric_u64(out, "quipu_chain_peers_up", "gauge", "validators connected", nm.peers_up);
  qp_chain_mempool_stats_t ms;
  qp_chain_mempool_stats(n->mempool, &ms);
  qp_http_metric_u64(out, "quipu_chain_mempool_txs", "gauge",
                     "transactions held in the mempool (pending and taken into a block)", ms.txs);
  qp_http_metric_u64(out, "quipu_chain_mempool_bytes", "gauge", "encoded bytes held", ms.bytes);
  qp_http_metric_u64(out, "quipu_chain_signature_verifications_total", "counter",
                     "transaction signatures verified on this node", ms.verifications);
  qp_http_metric_u64(out, "quipu_chain_block_signature_verifications_total", "counter",
                     "of those, verified while checking a proposed block (consensus thread)",
                     ms.block_verifications);
  qp_http_metric_u64(out, "quipu_chain_vouched_txs_total", "counter",
                     "transactions admitted on f + 1 validators' vouches, not verified here",
                     ms.vouched);
  qp_http_metric_u64(out, "quipu_chain_vouches_sent_total", "counter",
                     "vouches this node signed (its forwarded frames, frames it checked)",
                     atomic_load(&n->vouches_sent));
  qp_http_metric_u64(out, "quipu_chain_vouch_timeouts_total", "counter",
                     "vouched frames verified here because their vouches did not come in time",
                     atomic_load(&n->vouch_timeouts));
  qp_http_metric_u64(out, "quipu_chain_vouches_refused_total", "counter",
                     "vouched frames and vouches refused (bad signature, malformed, a bad "
                     "transaction)", atomic_load(&n->vouch_refused));
  qp_http_metric_u64(out, "quipu_chain_signature_cache_hits_total", "counter",
                     "verifications skipped: the transaction was verified here before",
                     ms.verified_hits);
  qp_http_metric_u64(out, "quipu_chain_mempool_evicted_total", "counter",
                     "transactions waiting behind a nonce gap removed from a full mempool to "
                     "make room for one a block could take", ms.evicted);
  qp_http_metric_u64(out, "quipu_chain_txs_admitted_total", "counter",
                     "transactions admitted to the mempool, from clients and peers",
                     ms.rejected[QP_CHAIN_ADMIT_OK]);
  qp_http_metric_header(out, "quipu_chain_txs_refused_total", "counter",
                        "transactions refused at admission, by reason");
  for (int i = 1; i < QP_CHAIN_ADMIT__COUNT; i++)
    qp_http_text_put(out, "quipu_chain_txs_refused_total{reason=\"%s\"} %llu\n",
                     qp_chain_admit_code((qp_chain_admit_t)i),
                     (unsigned long long)ms.rejected[i]);
  qp_http_metric_u64(out, "quipu_chain_dropped_messages_total", "counter",
                     "peer messages dropped: the driver's queue was full",
                     atomic_load(&n->dropped_messages));
}
