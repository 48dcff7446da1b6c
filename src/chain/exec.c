/*
 * exec.c - executing a block (exec.h): each transaction's nonce, then its
 * app through a view of the state as the earlier transactions left it,
 * its effects into the block's batch, its receipt as JSON; then the state
 * root and the receipts root.  Operating errors (a read that fails, memory)
 * stop the whole block: they are not the transaction's doing, and another
 * node would not see them, so they never become receipts.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "chain/exec.h"
#include "chain/json_text.h"

typedef struct exec_ctx {
  qp_chain_exec_t *out;       /* the result being built */
  qp_chain_reader_t reader;   /* the committed state under the overlays */
  qp_chain_effects_t effects; /* one transaction's, reused */
  qp_buf_t text;              /* one receipt's JSON, reused */
} exec_ctx_t;

/* A code made only of [A-Za-z0-9_.-] needs no JSON escaping. */
static bool code_plain(const char *code) {
  for (const char *p = code; *p != '\0'; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '.' || *p == '-'))
      return false;
  return true;
}

/* The receipt's text written directly, byte for byte what json_pack of
 * receipt_packed's object dumps compactly (keys in insertion order): no
 * object to build and free per transaction.  0, or nonzero when the slow
 * path must decide (an unusual code, no result or events, past max). */
static int receipt_text_fast(exec_ctx_t *c, const char *hex) {
  const qp_chain_effects_t *e = &c->effects;
  if (!code_plain(e->code) || !json_is_object(e->result) || !json_is_array(e->events))
    return QP_EINVAL;
  char head[160 + 2 * QP_HASH_SIZE + QP_CHAIN_CODE_MAX];
  int n = snprintf(head, sizeof head,
                   "{\"height\":%" JSON_INTEGER_FORMAT ",\"tx\":\"%s\",\"status\":\"%s\","
                   "\"code\":\"%s\",\"result\":",
                   (json_int_t)c->out->height, hex, e->failed ? "failed" : "ok", e->code);
  if (n < 0 || (size_t)n >= sizeof head) return QP_EINVAL;
  qp_buf_reset(&c->text);
  if (!qp_buf_append(&c->text, head, (size_t)n)) return QP_ELIMIT;
  int rc = qp__chain_json_dump(e->result, JSON_COMPACT, &c->text);
  if (rc == 0 && !qp_buf_append(&c->text, ",\"events\":", 10)) rc = QP_ELIMIT;
  if (rc == 0) rc = qp__chain_json_dump(e->events, JSON_COMPACT, &c->text);
  if (rc == 0 && !qp_buf_append(&c->text, "}", 1)) rc = QP_ELIMIT;
  return rc;
}

/* The same text through a jansson object (the reference form). */
static int receipt_packed(exec_ctx_t *c, const char *hex) {
  const qp_chain_effects_t *e = &c->effects;
  json_t *r = json_pack("{s:I, s:s, s:s, s:s, s:O, s:O}", "height", (json_int_t)c->out->height,
                        "tx", hex, "status", e->failed ? "failed" : "ok", "code", e->code,
                        "result", e->result, "events", e->events);
  qp_buf_reset(&c->text);
  int rc = r != NULL ? qp__chain_json_dump(r, JSON_COMPACT, &c->text) : QP_ENOMEM;
  json_decref(r);
  return rc;
}

/* The receipt of tx from effects e, appended to out->receipts. */
static int receipt_add(exec_ctx_t *c, const qp_chain_tx_t *tx) {
  char hex[2 * QP_HASH_SIZE + 1];
  qp_hex(hex, tx->hash, QP_HASH_SIZE);
  const qp_chain_effects_t *e = &c->effects;
  int rc = receipt_text_fast(c, hex);
  if (rc != 0) rc = receipt_packed(c, hex);
  if (rc != 0) return rc;
  /* An exact copy: the scratch buffer (4 KiB and up) is reused for the next. */
  char *json = qp_malloc(c->text.len + 1);
  qp_chain_receipt_t *rec = json != NULL ? qp_array_push(&c->out->receipts) : NULL;
  if (rec == NULL) {
    qp_free(json);
    return QP_ENOMEM;
  }
  memcpy(json, c->text.data, c->text.len + 1);
  memcpy(rec->tx, tx->hash, QP_HASH_SIZE);
  rec->ok = !e->failed;
  rec->json = json;
  rec->json_len = (uint32_t)c->text.len;
  return 0;
}

/* Puts e's writes into the block's batch under app's prefix. */
static int effects_apply(exec_ctx_t *c, const char *app) {
  const qp_chain_effects_t *e = &c->effects;
  const uint8_t *data = (const uint8_t *)e->data.data;
  for (uint32_t i = 0; i < e->writes_count; i++) {
    const qp_chain_write_t *w = &e->writes[i];
    uint8_t key[QP_CHAIN_STATE_KEY_MAX];
    size_t key_len = 0;
    int rc = qp_chain_state_app_key(app, data + w->key_off, w->key_len, key, &key_len);
    if (rc == 0)
      rc = qp_chain_batch_set(c->out->batch, key, key_len, w->del ? NULL : data + w->value_off,
                              w->value_len, w->del);
    if (rc != 0) return rc;
    if (strcmp(app, "gov") == 0 && w->key_len == 5 && memcmp(data + w->key_off, "epoch", 5) == 0)
      c->out->reconfig = true; /* a new validator set from the next block on */
  }
  return 0;
}

/* Runs tx's app (the nonce is right): fills c->effects. */
static int run_app(exec_ctx_t *c, const qp_chain_tx_t *tx) {
  const qp_chain_app_t *app = qp_chain_app_find(tx->app);
  if (app == NULL) return qp_chain_effects_fail(&c->effects, QP_CHAIN_CODE_UNKNOWN_APP,
                                                "no app of this name on this chain");
  json_error_t jerr;
  json_t *args = json_loadb(tx->args, tx->args_len, JSON_REJECT_DUPLICATES, &jerr);
  if (args == NULL && json_error_code(&jerr) == json_error_out_of_memory) return QP_ENOMEM;
  int rc = 0;
  if (!json_is_object(args)) {
    rc = qp_chain_effects_fail(&c->effects, QP_CHAIN_CODE_BAD_ARGS, "args must be an object");
  } else {
    qp_chain_app_view_ctx_t vctx;
    qp_chain_view_t view;
    qp_chain_reader_app_view(&c->reader, app->name, &vctx, &view);
    view.height = c->out->height;
    view.time_s = c->out->time_s;
    view.prev_root = c->out->prev_root;
    rc = app->execute(&view, tx, args, &c->effects);
  }
  json_decref(args);
  return rc;
}

static int exec_one(exec_ctx_t *c, const qp_chain_tx_t *tx) {
  int rc = qp_chain_effects_reset(&c->effects);
  uint64_t last = 0;
  if (rc == 0) rc = qp_chain_reader_nonce(&c->reader, tx->sender, tx->sender_len, &last);
  if (rc != 0) return rc;
  bool nonce_ok = last < UINT64_MAX && tx->nonce == last + 1;
  if (!nonce_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "nonce %llu; the sender's next nonce is %llu",
             (unsigned long long)tx->nonce, (unsigned long long)last + 1);
    rc = qp_chain_effects_fail(&c->effects, QP_CHAIN_CODE_BAD_NONCE, msg);
  } else {
    rc = run_app(c, tx);
  }
  if (rc == 0 && nonce_ok) {
    uint8_t key[1 + QP_SIGN_PUBLIC_MAX], value[8];
    size_t key_len = 0;
    qp_chain_state_nonce_key(tx->sender, tx->sender_len, key, &key_len);
    qp_store_u64(value, tx->nonce);
    rc = qp_chain_batch_set(c->out->batch, key, key_len, value, sizeof value, false);
  }
  if (rc == 0 && !c->effects.failed) rc = effects_apply(c, tx->app);
  if (rc == 0) rc = receipt_add(c, tx);
  return rc;
}

/* The state's tree after the block: the parent's (or the committed one)
 * updated with the block's writes. */
static int state_tree(qp_chain_state_t *st, qp_chain_exec_t *out) {
  qp_suite_t suite = qp_chain_state_suite(st);
  qp_smt_t base;
  uint64_t height = 0;
  if (out->parent != NULL) qp_smt_retain(&out->parent->tree, &base);
  else qp_chain_state_tree(st, &height, &base);
  int rc = out->parent == NULL && height != out->height - 1 ? QP_EINVAL : 0;
  qp_smt_update_t *u = NULL;
  size_t count = 0;
  if (rc == 0) rc = qp_chain_batch_updates(out->batch, suite, &u, &count);
  if (rc == 0) rc = qp_smt_update(&base, u, count, &out->tree);
  qp_free(u);
  qp_smt_release(&base);
  if (rc == 0) qp_smt_root(&out->tree, out->state_root);
  return rc;
}

/* The roots once every transaction ran. */
static int roots(qp_chain_state_t *st, qp_chain_exec_t *out) {
  qp_suite_t suite = qp_chain_state_suite(st);
  int rc = state_tree(st, out);
  size_t n = out->receipts.count;
  uint8_t *leaves = n > 0 ? qp_malloc(n * QP_HASH_SIZE) : NULL;
  if (rc == 0 && n > 0 && leaves == NULL) rc = QP_ENOMEM;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    const qp_chain_receipt_t *r = qp_array_at(&out->receipts, i);
    rc = qp_suite_hash(suite, leaves + i * QP_HASH_SIZE, r->json, r->json_len);
  }
  if (rc == 0) rc = qp_merkle_root(suite, leaves, n, out->receipts_root);
  out->receipt_hashes = leaves; /* freed by deinit, kept for the block record */
  return rc;
}

/* Checks heights, finds prev_root and gathers the overlays, oldest first. */
static int chain_up(qp_chain_state_t *st, qp_chain_exec_t *out,
                    const qp_chain_batch_t *overlays[QP_CHAIN_READER_OVERLAYS_MAX],
                    size_t *count) {
  uint64_t committed = 0;
  uint8_t root[QP_HASH_SIZE];
  qp_chain_state_head(st, &committed, root);
  const qp_chain_exec_t *p = out->parent;
  if (out->height == 0 || (p == NULL && committed != out->height - 1) ||
      (p != NULL && p->height != out->height - 1))
    return QP_EINVAL;
  memcpy(out->prev_root, p != NULL ? p->state_root : root, QP_HASH_SIZE);
  size_t n = 0;
  for (; p != NULL && p->height > committed; p = p->parent) {
    if (n == QP_CHAIN_READER_OVERLAYS_MAX - 1) return QP_ELIMIT;
    overlays[n++] = p->batch;
  }
  if (p != NULL && p->height != committed) return QP_EINVAL; /* a gap below */
  for (size_t i = 0; i < n / 2; i++) {
    const qp_chain_batch_t *t = overlays[i];
    overlays[i] = overlays[n - 1 - i];
    overlays[n - 1 - i] = t;
  }
  overlays[n++] = out->batch;
  *count = n;
  return 0;
}

/* What the mempool needs once the block commits (exec.h, tx_ids), kept so
 * that the commit need not decode the block again. */
static int tx_ids(const qp_chain_tx_t *txs, size_t count, qp_chain_exec_t *out) {
  out->tx_ids = qp_malloc(2 * (count > 0 ? count : 1) * QP_HASH_SIZE);
  if (out->tx_ids == NULL) return QP_ENOMEM;
  for (size_t i = 0; i < count; i++) {
    memcpy(out->tx_ids + i * QP_HASH_SIZE, txs[i].hash, QP_HASH_SIZE);
    qp_hash256(out->tx_ids + (count + i) * QP_HASH_SIZE, txs[i].sender, txs[i].sender_len);
  }
  return 0;
}

int qp_chain_execute_block(qp_chain_state_t *st, const qp_chain_exec_t *parent,
                           const qp_chain_tx_t *txs, size_t count, uint64_t height,
                           uint64_t time_s, qp_chain_exec_t *out) {
  QP_ASSERT(st != NULL && out != NULL && (txs != NULL || count == 0));
  memset(out, 0, sizeof *out);
  qp_smt_empty(qp_chain_state_suite(st), &out->tree);
  out->height = height;
  out->time_s = time_s;
  out->parent = parent;
  qp_array_init(&out->receipts, sizeof(qp_chain_receipt_t), count > 0 ? count : 1);
  /* Room for every write a transaction may make plus its nonce; bytes for
   * ~530 per write, which holds kv's largest (a 4 KiB value makes one write
   * besides the nonce) and a Lua call's (4 KiB in all), plus each
   * transaction's own size, which holds a value copied from its args (a
   * contract's code), plus QP_CHAIN_TX_WRITE_BYTES_MAX per transaction for
   * the receivable app's larger records.  The batch grows as it is used. */
  uint64_t writes = (uint64_t)(count > 0 ? count : 1) * (QP_CHAIN_TX_WRITES_MAX + 1);
  uint64_t bytes = writes * (QP_CHAIN_STATE_KEY_MAX + 256) +
                   (uint64_t)(count > 0 ? count : 1) * QP_CHAIN_TX_WRITE_BYTES_MAX;
  for (size_t i = 0; i < count; i++) bytes += txs[i].bytes_len;
  if (writes > (1u << 30)) return QP_ELIMIT;
  int rc = qp_chain_batch_new((uint32_t)writes, bytes < UINT32_MAX ? bytes : UINT32_MAX,
                              &out->batch);
  const qp_chain_batch_t *overlays[QP_CHAIN_READER_OVERLAYS_MAX];
  size_t overlays_count = 0;
  if (rc == 0) rc = chain_up(st, out, overlays, &overlays_count);
  exec_ctx_t c = {.out = out, .text = {.max = QP_CHAIN_RECEIPT_BYTES_MAX + 1}};
  if (rc == 0) rc = qp_array_reserve(&out->receipts, count);
  if (rc == 0) rc = qp_chain_effects_init(&c.effects);
  if (rc == 0) rc = qp_chain_reader_begin(st, overlays, overlays_count, &c.reader);
  if (rc == 0) rc = tx_ids(txs, count, out);
  for (size_t i = 0; rc == 0 && i < count; i++) rc = exec_one(&c, &txs[i]);
  qp_chain_reader_end(&c.reader);
  qp_chain_effects_deinit(&c.effects);
  qp_buf_free(&c.text);
  if (rc == 0) rc = roots(st, out);
  return rc;
}

void qp_chain_exec_deinit(qp_chain_exec_t *out) {
  if (out == NULL) return;
  for (size_t i = 0; i < out->receipts.count; i++) {
    qp_chain_receipt_t *r = qp_array_at(&out->receipts, i);
    qp_free(r->json);
  }
  qp_array_deinit(&out->receipts);
  qp_chain_batch_free(out->batch);
  out->batch = NULL;
  qp_smt_release(&out->tree);
  qp_free(out->receipt_hashes);
  out->receipt_hashes = NULL;
  qp_free(out->tx_ids);
  out->tx_ids = NULL;
}
