/*
 * routes_submit.c - POST /v1/chain/txs (docs/chain.md, "HTTP"): one signed
 * transaction, {"tx":"<hex>"} -> 202 {"hash"}, or a batch of them,
 * {"txs":["<hex>",…]} -> 200 {"results":[{"index","hash","result"},…]},
 * each admitted on its own merits in order, as DESIGN.md §5 has batches.
 *
 * A body that cannot be understood (not JSON, another shape, an element
 * that is not an even-length hex string, an empty or too long batch) is
 * refused whole with 400 and nothing admitted.  What was admitted is
 * forwarded to the other validators in batched frames (forward.c).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/err.h"
#include "chain/keyfile.h"
#include "chain/node_int.h"

static json_t *hash_json(const uint8_t hash[QP_HASH_SIZE]) {
  char hex[2 * QP_HASH_SIZE + 1];
  qp_chain_hex(hex, hash, QP_HASH_SIZE);
  return json_string(hex);
}

static const char BODY_SHAPE[] =
    "the body must be {\"tx\":\"<hex of the transaction>\"} or {\"txs\":[\"<hex>\",…]}";

/* Decodes a hex JSON string into a fresh buffer (*out, qp_free'd by the
 * caller): 0, QP_EPARSE (not a non-empty even-length hex string) or
 * QP_ENOMEM. */
static int unhex_json(const json_t *s, uint8_t **out, size_t *len_out) {
  *out = NULL;
  size_t hex_len = json_string_length(s);
  if (!json_is_string(s) || hex_len == 0 || hex_len % 2 != 0) return QP_EPARSE;
  uint8_t *bytes = qp_malloc(hex_len / 2);
  if (bytes == NULL) return QP_ENOMEM;
  if (qp_chain_unhex(json_string_value(s), hex_len, bytes, hex_len / 2) != 0) {
    qp_free(bytes);
    return QP_EPARSE;
  }
  *out = bytes;
  *len_out = hex_len / 2;
  return 0;
}

/* Admits one transaction; forwards it when admitted. */
static int admit(qp__chain_node_t *n, const uint8_t *bytes, size_t len, qp_chain_admit_t *result,
                 uint8_t hash[QP_HASH_SIZE], char *detail, size_t detail_size) {
  *result = QP_CHAIN_ADMIT_OK;
  detail[0] = '\0';
  int rc = qp_chain_mempool_add(n->mempool, bytes, len, result, hash, detail, detail_size);
  if (rc == 0) qp__chain_forward_tx(n, bytes, len);
  return rc;
}

static void admit_message(qp_chain_admit_t result, const char *detail, char *out, size_t size) {
  snprintf(out, size, "%s%s%s", qp_chain_admit_message(result), detail[0] ? ": " : "", detail);
}

static void submit_one(qp__chain_node_t *n, const json_t *tx, qp_http_reply_t *r) {
  size_t len = 0;
  uint8_t *bytes = NULL;
  int rc = unhex_json(tx, &bytes, &len);
  if (rc == QP_EPARSE) {
    qp_http_reply_fail(r, 400, "invalid_body", "tx", BODY_SHAPE);
    return;
  }
  qp_chain_admit_t result = QP_CHAIN_ADMIT_OK;
  uint8_t hash[QP_HASH_SIZE];
  char detail[256], msg[400];
  if (rc == 0) rc = admit(n, bytes, len, &result, hash, detail, sizeof detail);
  qp_free(bytes);
  if (rc == QP_EINVAL) {
    admit_message(result, detail, msg, sizeof msg);
    /* A key of the other suite: the sender field is what is wrong. */
    const char *path = result == QP_CHAIN_ADMIT_WRONG_SUITE ? "tx.sender" : "tx";
    qp_http_reply_fail(r, result == QP_CHAIN_ADMIT_FULL ? 503 : 400, qp_chain_admit_code(result),
                       path, msg);
    return;
  }
  if (rc != 0) {
    qp_http_reply_fail(r, 500, "internal", "", qp_strerror(rc));
    return;
  }
  qp__chain_wake(n);
  json_t *o = json_object();
  json_object_set_new(o, "hash", hash_json(hash));
  qp_http_reply_json(r, 202, o);
}

/* A batch decoded whole before anything is admitted. */
typedef struct batch {
  size_t count;
  uint8_t **bytes; /* count, qp_malloc'ed each */
  size_t *lens;
} batch_t;

static void batch_free(batch_t *b) {
  for (size_t i = 0; b->bytes != NULL && i < b->count; i++) qp_free(b->bytes[i]);
  qp_free(b->bytes);
  qp_free(b->lens);
}

/* Decodes every element; false with the reply written when one is not
 * transaction hex (or the batch's size is wrong, or memory ran out). */
static bool batch_decode(const json_t *txs, batch_t *b, qp_http_reply_t *r) {
  memset(b, 0, sizeof *b);
  size_t count = json_array_size(txs);
  if (!json_is_array(txs) || count == 0 || count > QP_CHAIN_SUBMIT_BATCH_MAX) {
    char msg[160];
    snprintf(msg, sizeof msg, "must be an array of 1..%u transactions (hex strings)",
             QP_CHAIN_SUBMIT_BATCH_MAX);
    qp_http_reply_fail(r, 400, json_is_array(txs) ? "batch_size" : "invalid_body", "txs", msg);
    return false;
  }
  b->bytes = qp_calloc(count, sizeof *b->bytes);
  b->lens = qp_calloc(count, sizeof *b->lens);
  int rc = b->bytes != NULL && b->lens != NULL ? 0 : QP_ENOMEM;
  if (rc == 0) b->count = count;
  size_t i = 0;
  for (; rc == 0 && i < count; i++)
    rc = unhex_json(json_array_get(txs, i), &b->bytes[i], &b->lens[i]);
  if (rc == QP_EPARSE) {
    char path[32];
    snprintf(path, sizeof path, "txs[%zu]", i - 1);
    qp_http_reply_fail(r, 400, "invalid_value", path,
                       "must be the hex of an encoded transaction (an even number of digits)");
  } else if (rc != 0) {
    qp_http_reply_fail(r, 500, "internal", "", qp_strerror(rc));
  }
  return rc == 0;
}

static json_t *result_json(size_t index, qp_chain_admit_t result, int rc, const uint8_t *hash,
                           const char *detail) {
  json_t *o = json_object();
  json_object_set_new(o, "index", json_integer((json_int_t)index));
  if (hash != NULL) json_object_set_new(o, "hash", hash_json(hash));
  bool internal = rc != 0 && rc != QP_EINVAL;
  json_object_set_new(o, "result",
                      json_string(internal ? "internal" : qp_chain_admit_code(result)));
  if (rc != 0) {
    char msg[400];
    if (internal) snprintf(msg, sizeof msg, "%s", qp_strerror(rc));
    else admit_message(result, detail, msg, sizeof msg);
    json_object_set_new(o, "message", json_string(msg));
  }
  return o;
}

static void submit_batch(qp__chain_node_t *n, const json_t *txs, qp_http_reply_t *r) {
  batch_t b;
  if (!batch_decode(txs, &b, r)) {
    batch_free(&b);
    return;
  }
  json_t *results = json_array();
  size_t admitted = 0;
  for (size_t i = 0; i < b.count; i++) {
    qp_chain_admit_t result = QP_CHAIN_ADMIT_OK;
    uint8_t hash[QP_HASH_SIZE];
    char detail[256] = "";
    int rc = admit(n, b.bytes[i], b.lens[i], &result, hash, detail, sizeof detail);
    bool hashed = rc == 0 || (rc == QP_EINVAL && result != QP_CHAIN_ADMIT_MALFORMED &&
                              result != QP_CHAIN_ADMIT_WRONG_SUITE &&
                              result != QP_CHAIN_ADMIT_TOO_LARGE);
    json_array_append_new(results, result_json(i, result, rc, hashed ? hash : NULL, detail));
    admitted += rc == 0;
  }
  batch_free(&b);
  if (admitted > 0) {
    qp__chain_forward_flush_due(n);
    qp__chain_wake(n);
  }
  json_t *o = json_object();
  json_object_set_new(o, "results", results);
  qp_http_reply_json(r, 200, o);
}

void qp__chain_submit_txs(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__chain_node_t *n = ctx;
  size_t len = 0;
  const char *body = qp_http_body(req, &len);
  json_t *root = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
  const json_t *tx = json_object_get(root, "tx"), *txs = json_object_get(root, "txs");
  if (json_object_size(root) == 1 && tx != NULL) submit_one(n, tx, r);
  else if (json_object_size(root) == 1 && txs != NULL) submit_batch(n, txs, r);
  else
    qp_http_reply_fail(r, 400, "invalid_body", "", BODY_SHAPE);
  json_decref(root);
}
