/*
 * proof_verify.c - checking a proof offline (proof.h): strict decoding of
 * the JSON (every field named, typed and bounded; no other field), then the
 * steps in order - the claim against the block's root, the headers chained
 * by parent hash, the commit certificate's two-chain shape, and 2f+1 valid
 * signatures of the genesis validators on both QCs.  The first failing
 * step is named in detail.  Pure: no clock, no file, no network.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "chain/consensus.h"
#include "chain/keyfile.h"
#include "chain/proof.h"
#include "chain/smt.h"
#include "chain/state.h"
#include "chain/tx.h"
#include "chain/valset.h"

typedef struct ctx {
  const qp_chain_genesis_t *g;                     /* the network's genesis */
  qp_chain_genesis_t *cfg;                         /* the epoch's consensus configuration */
  json_t *root;                                    /* the proof */
  char *detail;                                    /* the first failure */
  size_t detail_size;
  uint64_t height;                                 /* the claimed height */
  qp_hs_header_t headers[QP_CHAIN_PROOF_HEADERS_MAX];
  uint8_t hashes[QP_CHAIN_PROOF_HEADERS_MAX][QP_HASH_SIZE];
  uint32_t count;                                  /* headers used */
  qp_hs_commit_cert_t cert;
} ctx_t;

static int fail(ctx_t *c, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (c->detail_size > 0) vsnprintf(c->detail, c->detail_size, fmt, ap);
  va_end(ap);
  return rc;
}

/* ---- fields -------------------------------------------------------------- */

/* Field name as hex of at most max bytes (exactly max when exact) into a
 * fresh buffer *out (the caller frees it). */
static int hex_field(ctx_t *c, const json_t *o, const char *name, size_t max, bool exact,
                     uint8_t **out, size_t *len) {
  const json_t *v = json_object_get(o, name);
  const char *s = json_string_value(v);
  size_t n = s != NULL ? json_string_length(v) : 0;
  *out = NULL;
  if (s == NULL || n % 2 != 0 || n / 2 > max || (exact && n / 2 != max))
    return fail(c, QP_EPARSE, "%s: must be %s%zu bytes of hex", name, exact ? "" : "at most ",
                max);
  *out = qp_malloc(n / 2 + 1);
  if (*out == NULL) return QP_ENOMEM;
  if (qp_chain_unhex(s, n, *out, n / 2) != 0) {
    qp_free(*out);
    *out = NULL;
    return fail(c, QP_EPARSE, "%s: not hex", name);
  }
  *len = n / 2;
  return 0;
}

static int hash_field(ctx_t *c, const json_t *o, const char *name, uint8_t out[QP_HASH_SIZE]) {
  uint8_t *b = NULL;
  size_t n = 0;
  int rc = hex_field(c, o, name, QP_HASH_SIZE, true, &b, &n);
  if (rc == 0) memcpy(out, b, QP_HASH_SIZE);
  qp_free(b);
  return rc;
}

static int u64_field(ctx_t *c, const json_t *o, const char *name, uint64_t max, uint64_t *out) {
  const json_t *v = json_object_get(o, name);
  if (!json_is_integer(v) || json_integer_value(v) < 0 ||
      (uint64_t)json_integer_value(v) > max)
    return fail(c, QP_EPARSE, "%s: must be an integer from 0 to %llu", name,
                (unsigned long long)max);
  *out = (uint64_t)json_integer_value(v);
  return 0;
}

/* Only the named keys, each present (nullable ones may be null). */
static int only_keys(ctx_t *c, const json_t *o, const char *what, const char *const *keys) {
  size_t n = 0;
  for (; keys[n] != NULL; n++)
    if (json_object_get(o, keys[n]) == NULL)
      return fail(c, QP_EPARSE, "%s%s is missing", what, keys[n]);
  if (json_object_size(o) != n) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
      bool known = false;
      for (size_t i = 0; i < n; i++) known |= strcmp(k, keys[i]) == 0;
      if (!known) return fail(c, QP_EPARSE, "%s%s: not a field of a proof", what, k);
    }
  }
  return 0;
}

/* A JSON array of 32-byte hex hashes (at most max) into out. */
static int hash_list(ctx_t *c, const json_t *o, const char *name, size_t max, uint8_t *out,
                     size_t *count) {
  const json_t *a = json_object_get(o, name);
  if (!json_is_array(a) || json_array_size(a) > max)
    return fail(c, QP_EPARSE, "%s: must be an array of at most %zu hashes", name, max);
  for (size_t i = 0; i < json_array_size(a); i++) {
    json_t *wrap = json_pack("{s:O}", "h", json_array_get(a, i));
    if (wrap == NULL) return QP_ENOMEM;
    char label[48];
    snprintf(label, sizeof label, "%s[%zu]", name, i);
    uint8_t *b = NULL;
    size_t n = 0;
    int rc = hex_field(c, wrap, "h", QP_HASH_SIZE, true, &b, &n);
    json_decref(wrap);
    if (rc == QP_EPARSE) return fail(c, rc, "%s: must be 32 bytes of hex", label);
    if (rc != 0) return rc;
    memcpy(out + i * QP_HASH_SIZE, b, QP_HASH_SIZE);
    qp_free(b);
  }
  *count = json_array_size(a);
  return 0;
}

/* ---- the block and its finality ------------------------------------------ */

static int read_headers(ctx_t *c) {
  const json_t *a = json_object_get(c->root, "headers");
  if (!json_is_array(a) || json_array_size(a) == 0 ||
      json_array_size(a) > QP_CHAIN_PROOF_HEADERS_MAX)
    return fail(c, QP_EPARSE, "headers: must be an array of 1 to %u hex headers",
                QP_CHAIN_PROOF_HEADERS_MAX);
  c->count = (uint32_t)json_array_size(a);
  for (uint32_t i = 0; i < c->count; i++) {
    json_t *wrap = json_pack("{s:O}", "headers[i]", json_array_get(a, i));
    uint8_t *b = NULL;
    size_t n = 0;
    int rc = wrap == NULL ? QP_ENOMEM : hex_field(c, wrap, "headers[i]", 1u << 16, false, &b, &n);
    json_decref(wrap);
    if (rc == 0 && qp_hs_decode_header(c->cfg, b, n, &c->headers[i]) != 0)
      rc = fail(c, QP_EPARSE, "headers[%u]: not a block header of this network", i);
    if (rc == 0) rc = qp_hs_block_hash(c->cfg, &c->headers[i], c->hashes[i]);
    qp_free(b);
    if (rc != 0) return rc;
  }
  uint8_t *b = NULL;
  size_t n = 0;
  int rc = hex_field(c, c->root, "cert", 1u << 17, false, &b, &n);
  if (rc == 0 && qp_hs_decode_cert(c->cfg, b, n, &c->cert) != 0)
    rc = fail(c, QP_EPARSE, "cert: not a commit certificate of this network");
  qp_free(b);
  return rc;
}

/* Headers chained by parent hash; the certificate makes the last final
 * (qp_hs_cert_check: the two-chain shape, both QCs' signatures). */
static int check_chain(ctx_t *c) {
  if (c->headers[0].height != c->height)
    return fail(c, QP_EBADPROOF, "headers[0]: its height is %llu, the proof says %llu",
                (unsigned long long)c->headers[0].height, (unsigned long long)c->height);
  for (uint32_t i = 1; i < c->count; i++)
    if (memcmp(c->headers[i].parent_hash, c->hashes[i - 1], QP_HASH_SIZE) != 0)
      return fail(c, QP_EBADPROOF, "headers[%u]: its parent hash is not the hash of headers[%u]",
                  i, i - 1);
  char why[256] = "";
  int rc = qp_hs_cert_check(c->cfg, &c->headers[c->count - 1], c->hashes[c->count - 1], &c->cert,
                            why, sizeof why);
  return rc == QP_EBADPROOF ? fail(c, rc, "%s", why) : rc;
}

/* ---- the claims ------------------------------------------------------------ */

static int read_smt(ctx_t *c, const json_t *o, qp_smt_proof_t *p) {
  static const char *const keys[] = {"siblings", "leaf", NULL};
  if (!json_is_object(o)) return fail(c, QP_EPARSE, "smt: must be an object");
  int rc = only_keys(c, o, "smt.", keys);
  size_t depth = 0;
  if (rc == 0) rc = hash_list(c, o, "siblings", QP_SMT_DEPTH - 1, &p->siblings[0][0], &depth);
  p->depth = (uint32_t)depth;
  const json_t *leaf = json_object_get(o, "leaf");
  p->leaf = rc == 0 && !json_is_null(leaf);
  if (!p->leaf || rc != 0) return rc;
  static const char *const leaf_keys[] = {"key_hash", "value_hash", NULL};
  if (!json_is_object(leaf)) return fail(c, QP_EPARSE, "smt.leaf: must be an object or null");
  rc = only_keys(c, leaf, "smt.leaf.", leaf_keys);
  if (rc == 0) rc = hash_field(c, leaf, "key_hash", p->leaf_key_hash);
  if (rc == 0) rc = hash_field(c, leaf, "value_hash", p->leaf_value_hash);
  return rc;
}

/* bytes as a quoted string when they are printable ASCII, else as hex;
 * long ones shortened. */
static void show(const uint8_t *p, size_t n, char *out, size_t size) {
  bool text = n <= 96;
  for (size_t i = 0; i < n && text; i++) text = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"';
  if (text) {
    snprintf(out, size, "\"%.*s\"", (int)n, (const char *)p);
    return;
  }
  char hex[2 * 24 + 1];
  size_t shown = n < 24 ? n : 24;
  qp_hex(hex, p, shown);
  snprintf(out, size, "0x%s%s (%zu bytes)", hex, shown < n ? "…" : "", n);
}

/* What a kv proof shows, in words; the kv app's record (u8 1 | u8 present
 * | u8 owner_len | owner | value) is read out, other apps' values shown. */
static void kv_summary(const char *app, const uint8_t *key, size_t key_len, const uint8_t *value,
                       size_t value_len, char *out, size_t size) {
  char k[128], v[128];
  show(key, key_len, k, sizeof k);
  if (value == NULL) {
    snprintf(out, size, "%s key %s is absent", app, k);
  } else if (strcmp(app, "kv") == 0 && value_len >= 3 && value[0] == 1 &&
             value_len >= 3u + value[2]) {
    show(value + 3 + value[2], value_len - 3 - value[2], v, sizeof v);
    if (value[1] == 1) snprintf(out, size, "kv key %s = %s", k, v);
    else snprintf(out, size, "kv key %s has no value (deleted)", k);
  } else {
    show(value, value_len, v, sizeof v);
    snprintf(out, size, "%s key %s = %s", app, k, v);
  }
}

static int check_kv(ctx_t *c, char *summary, size_t size) {
  const char *app = json_string_value(json_object_get(c->root, "app"));
  uint8_t *key = NULL, *value = NULL;
  size_t key_len = 0, value_len = 0;
  qp_smt_proof_t *p = qp_calloc(1, sizeof *p);
  int rc = p == NULL ? QP_ENOMEM : 0;
  if (rc == 0 && (app == NULL || strlen(app) == 0 || strlen(app) > QP_CHAIN_APP_NAME_MAX))
    rc = fail(c, QP_EPARSE, "app: must be an app name");
  if (rc == 0) rc = hex_field(c, c->root, "key", QP_CHAIN_APP_KEY_MAX, false, &key, &key_len);
  bool present = !json_is_null(json_object_get(c->root, "value"));
  if (rc == 0 && present)
    rc = hex_field(c, c->root, "value", QP_CHAIN_TX_BYTES_MAX, false, &value, &value_len);
  if (rc == 0) rc = read_smt(c, json_object_get(c->root, "smt"), p);
  uint8_t skey[QP_CHAIN_STATE_KEY_MAX], kh[QP_HASH_SIZE], vh[QP_HASH_SIZE];
  size_t skey_len = 0;
  if (rc == 0) rc = qp_chain_state_app_key(app, key, key_len, skey, &skey_len);
  if (rc == 0) rc = qp_suite_hash(c->g->suite, kh, skey, skey_len);
  if (rc == 0 && present) rc = qp_suite_hash(c->g->suite, vh, value, value_len);
  if (rc == 0) rc = read_headers(c);
  char why[160] = "";
  if (rc == 0 && qp_smt_verify(c->g->suite, c->headers[0].state_root, kh, present ? vh : NULL, p,
                               why, sizeof why) != 0)
    rc = fail(c, QP_EBADPROOF, "%s", why);
  if (rc == 0) kv_summary(app, key, key_len, present ? value : NULL, value_len, summary, size);
  qp_free(p);
  qp_free(key);
  qp_free(value);
  return rc;
}

/* The receipt (JSON text) names the transaction and the height. */
static int check_receipt_names(ctx_t *c, const char *text, size_t len,
                               const uint8_t hash[QP_HASH_SIZE]) {
  json_t *r = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
  char hex[2 * QP_HASH_SIZE + 1];
  qp_hex(hex, hash, QP_HASH_SIZE);
  const char *tx = json_string_value(json_object_get(r, "tx"));
  json_t *h = json_object_get(r, "height");
  bool ok = tx != NULL && strcmp(tx, hex) == 0 && json_is_integer(h) &&
            (uint64_t)json_integer_value(h) == c->height;
  json_decref(r);
  return ok ? 0 : fail(c, QP_EBADPROOF, "receipt: it does not name this transaction and height");
}

static int check_tx_paths(ctx_t *c, const uint8_t hash[QP_HASH_SIZE], uint64_t index,
                          uint64_t count, const char *receipt, size_t receipt_len) {
  uint8_t path[QP_MERKLE_PATH_MAX * QP_HASH_SIZE], leaf[QP_HASH_SIZE];
  size_t plen = 0;
  int rc = hash_list(c, c->root, "tx_path", QP_MERKLE_PATH_MAX, path, &plen);
  if (rc == 0 && index >= count) rc = fail(c, QP_EPARSE, "index: must be below tx_count");
  if (rc == 0 && qp_merkle_verify_proof(c->g->suite, hash, index, count, path, plen,
                                        c->headers[0].tx_root) != 0)
    rc = fail(c, QP_EBADPROOF, "tx_path: the transaction is not in the block's tx root");
  if (rc == 0) rc = hash_list(c, c->root, "receipt_path", QP_MERKLE_PATH_MAX, path, &plen);
  if (rc == 0) rc = qp_suite_hash(c->g->suite, leaf, receipt, receipt_len);
  if (rc == 0 && qp_merkle_verify_proof(c->g->suite, leaf, index, count, path, plen,
                                        c->headers[0].receipts_root) != 0)
    rc = fail(c, QP_EBADPROOF, "receipt_path: the receipt is not in the block's receipts root");
  if (rc == 0) rc = check_receipt_names(c, receipt, receipt_len, hash);
  return rc;
}

static int check_tx(ctx_t *c, char *summary, size_t size) {
  uint8_t *bytes = NULL;
  size_t len = 0;
  uint64_t index = 0, count = 0;
  qp_chain_tx_t tx;
  int rc = hex_field(c, c->root, "tx", c->g->params.tx_bytes_max, false, &bytes, &len);
  if (rc == 0 && (qp_chain_tx_decode(c->g->suite, bytes, len, c->g->params.tx_bytes_max, &tx,
                                     NULL, 0) != 0 ||
                  memcmp(tx.chain, c->g->hash, QP_HASH_SIZE) != 0))
    rc = fail(c, QP_EPARSE, "tx: not a transaction of this network");
  if (rc == 0 && qp_chain_tx_verify(&tx) != 0)
    rc = fail(c, QP_EBADPROOF, "tx: its signature does not verify");
  if (rc == 0) rc = u64_field(c, c->root, "index", QP_MERKLE_LEAF_COUNT_MAX, &index);
  if (rc == 0) rc = u64_field(c, c->root, "tx_count", QP_MERKLE_LEAF_COUNT_MAX, &count);
  const json_t *receipt = json_object_get(c->root, "receipt");
  if (rc == 0 && !json_is_string(receipt))
    rc = fail(c, QP_EPARSE, "receipt: must be the receipt's JSON text");
  if (rc == 0) rc = read_headers(c);
  if (rc == 0)
    rc = check_tx_paths(c, tx.hash, index, count, json_string_value(receipt),
                        json_string_length(receipt));
  char hex[2 * QP_HASH_SIZE + 1];
  if (rc == 0) qp_hex(hex, tx.hash, QP_HASH_SIZE);
  if (rc == 0)
    snprintf(summary, size, "transaction %s (%s.%s) is number %llu of %llu in its block, with "
             "its receipt", hex, tx.app, tx.method, (unsigned long long)index + 1,
             (unsigned long long)count);
  qp_free(bytes);
  return rc;
}

/* ---- validator-set changes ------------------------------------------------- */

/* The set a gov receipt's "gov.validators" event of epoch e carries. */
static int receipt_set(ctx_t *c, const char *text, size_t len, uint32_t e, uint32_t i,
                       qp_chain_valset_t *out) {
  json_t *r = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL), *ev;
  const char *hex = NULL;
  size_t k;
  const char *status = json_string_value(json_object_get(r, "status"));
  json_array_foreach(json_object_get(r, "events"), k, ev) {
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *ep = json_object_get(ev, "epoch");
    if (type != NULL && strcmp(type, "gov.validators") == 0 && json_is_integer(ep) &&
        json_integer_value(ep) == (json_int_t)e)
      hex = json_string_value(json_object_get(ev, "set"));
  }
  size_t n = hex != NULL ? strlen(hex) / 2 : 0;
  uint8_t *rec = n > 0 ? qp_malloc(n) : NULL;
  int rc = status != NULL && strcmp(status, "ok") == 0 && rec != NULL &&
                   qp_chain_unhex(hex, 2 * n, rec, n) == 0 &&
                   qp_chain_valset_decode(c->g->suite, rec, n, out) == 0 && out->epoch == e
               ? 0
               : fail(c, QP_EBADPROOF, "epochs[%u]: the receipt does not set the validators of "
                      "epoch %u", i, e);
  qp_free(rec);
  json_decref(r);
  return rc;
}

/* epochs[i]: the block that started epoch e = i + 1, final under the set
 * before it, and its gov transaction whose receipt names the new set;
 * *next becomes epoch e's configuration. */
static int check_change(ctx_t *c, json_t *rec, uint32_t i, qp_chain_genesis_t *next) {
  static const char *const keys[] = {"headers", "cert", "tx", "index", "tx_count", "tx_path",
                                     "receipt", "receipt_path", NULL};
  char what[32];
  snprintf(what, sizeof what, "epochs[%u].", i);
  if (!json_is_object(rec)) return fail(c, QP_EPARSE, "epochs[%u]: must be an object", i);
  c->root = rec;
  int rc = only_keys(c, rec, what, keys);
  if (rc == 0) rc = read_headers(c);
  uint8_t *bytes = NULL;
  size_t len = 0;
  uint64_t index = 0, count = 0;
  qp_chain_tx_t tx;
  if (rc == 0) c->height = c->headers[0].height;
  if (rc == 0) rc = hex_field(c, rec, "tx", c->g->params.tx_bytes_max, false, &bytes, &len);
  if (rc == 0 && (qp_chain_tx_decode(c->g->suite, bytes, len, c->g->params.tx_bytes_max, &tx,
                                     NULL, 0) != 0 || strcmp(tx.app, "gov") != 0))
    rc = fail(c, QP_EBADPROOF, "epochs[%u].tx: not a gov transaction of this network", i);
  if (rc == 0) rc = u64_field(c, rec, "index", QP_MERKLE_LEAF_COUNT_MAX, &index);
  if (rc == 0) rc = u64_field(c, rec, "tx_count", QP_MERKLE_LEAF_COUNT_MAX, &count);
  const json_t *receipt = json_object_get(rec, "receipt");
  if (rc == 0 && !json_is_string(receipt))
    rc = fail(c, QP_EPARSE, "epochs[%u].receipt: must be the receipt's JSON text", i);
  if (rc == 0) rc = check_tx_paths(c, tx.hash, index, count, json_string_value(receipt),
                                   json_string_length(receipt));
  if (rc == 0) rc = check_chain(c);
  qp_chain_valset_t *set = rc == 0 ? qp_malloc(sizeof *set) : NULL;
  if (rc == 0 && set == NULL) rc = QP_ENOMEM;
  if (rc == 0) rc = receipt_set(c, json_string_value(receipt), json_string_length(receipt),
                                i + 1, i, set);
  if (rc == 0 && set->since != c->headers[0].height + 1)
    rc = fail(c, QP_EBADPROOF, "epochs[%u]: the set does not start after its block", i);
  if (rc == 0) rc = qp_chain_epoch_config(c->g, set, c->headers[0].view, c->headers[0].height,
                                          c->hashes[0], next);
  qp_free(set);
  qp_free(bytes);
  return rc;
}

/* Follows every validator-set change the proof carries, from genesis. */
static int follow_epochs(ctx_t *c) {
  json_t *root = c->root, *list = json_object_get(root, "epochs");
  uint64_t height = c->height;
  if (!json_is_array(list) || json_array_size(list) > 100000)
    return fail(c, QP_EPARSE, "epochs: must be an array of validator-set changes");
  qp_chain_genesis_t *next = qp_malloc(sizeof *next);
  int rc = next == NULL ? QP_ENOMEM : 0;
  for (size_t i = 0; rc == 0 && i < json_array_size(list); i++) {
    rc = check_change(c, json_array_get(list, i), (uint32_t)i, next);
    if (rc == 0) *c->cfg = *next;
    else if (c->detail_size > 0 && strncmp(c->detail, "epochs[", 7) != 0) {
      char inner[256];
      snprintf(inner, sizeof inner, "%s", c->detail);
      snprintf(c->detail, c->detail_size, "epochs[%zu]: %s", i, inner);
    }
  }
  qp_free(next);
  c->root = root;
  c->height = height;
  if (rc == 0 && c->cfg->epoch > 0 && height <= c->cfg->base_height)
    rc = fail(c, QP_EBADPROOF, "epochs: the block is older than the last change the proof "
              "carries");
  return rc;
}

/* ---- the whole ------------------------------------------------------------- */

static int check_envelope(ctx_t *c, const char **kind) {
  static const char *const kv_keys[] = {"format", "kind", "chain_id", "genesis_hash", "height",
                                        "epochs", "headers", "cert", "app", "key", "value",
                                        "smt", NULL};
  static const char *const tx_keys[] = {"format", "kind", "chain_id", "genesis_hash",
                                        "height", "epochs", "headers", "cert", "tx", "index",
                                        "tx_count", "tx_path", "receipt", "receipt_path", NULL};
  const char *format = json_string_value(json_object_get(c->root, "format"));
  *kind = json_string_value(json_object_get(c->root, "kind"));
  if (format == NULL || strcmp(format, QP_CHAIN_PROOF_FORMAT) != 0)
    return fail(c, QP_EPARSE, "format: must be \"%s\"", QP_CHAIN_PROOF_FORMAT);
  if (*kind == NULL || (strcmp(*kind, "kv") != 0 && strcmp(*kind, "tx") != 0))
    return fail(c, QP_EPARSE, "kind: must be \"kv\" or \"tx\"");
  int rc = only_keys(c, c->root, "", strcmp(*kind, "kv") == 0 ? kv_keys : tx_keys);
  uint8_t gh[QP_HASH_SIZE];
  if (rc == 0) rc = hash_field(c, c->root, "genesis_hash", gh);
  if (rc == 0) rc = u64_field(c, c->root, "height", INT64_MAX, &c->height);
  if (rc == 0 && memcmp(gh, c->g->hash, QP_HASH_SIZE) != 0)
    rc = fail(c, QP_EBADPROOF, "genesis: the proof is for another network than this genesis");
  return rc;
}

int qp_chain_proof_verify(const qp_chain_genesis_t *g, const char *text, size_t len,
                          char *summary, size_t summary_size, char *detail, size_t detail_size) {
  if (summary_size > 0) summary[0] = '\0';
  if (detail_size > 0) detail[0] = '\0';
  ctx_t *c = qp_calloc(1, sizeof *c);
  qp_chain_genesis_t *cfg = qp_malloc(sizeof *cfg);
  if (c == NULL || cfg == NULL) {
    qp_free(c);
    qp_free(cfg);
    return QP_ENOMEM;
  }
  *cfg = *g;
  *c = (ctx_t){.g = g, .cfg = cfg, .detail = detail, .detail_size = detail_size};
  int rc = 0;
  json_error_t jerr;
  if (len > QP_CHAIN_PROOF_BYTES_MAX) rc = fail(c, QP_EPARSE, "the proof is larger than 4 MiB");
  if (rc == 0) c->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (rc == 0 && !json_is_object(c->root))
    rc = fail(c, QP_EPARSE, "not a JSON object (line %d: %s)", jerr.line, jerr.text);
  const char *kind = NULL;
  char claim[400] = "";
  if (rc == 0) rc = check_envelope(c, &kind);
  if (rc == 0) rc = follow_epochs(c);
  if (rc == 0)
    rc = strcmp(kind, "kv") == 0 ? check_kv(c, claim, sizeof claim)
                                 : check_tx(c, claim, sizeof claim);
  if (rc == 0) rc = check_chain(c);
  if (rc == 0)
    snprintf(summary, summary_size, "%s at height %llu; final: %u and %u of %u validators "
             "signed the commit", claim, (unsigned long long)c->height,
             (unsigned)__builtin_popcountll(c->cert.child.justify.signers),
             (unsigned)__builtin_popcountll(c->cert.qc.signers), c->cfg->validators_count);
  if (rc == 0 && c->cfg->epoch > 0) {
    size_t used = strlen(summary);
    snprintf(summary + used, summary_size - used, " (epoch %u: %u validator-set changes "
             "since genesis followed)", c->cfg->epoch, c->cfg->epoch);
  }
  json_decref(c->root);
  qp_free(c->cfg);
  qp_free(c);
  return rc;
}
