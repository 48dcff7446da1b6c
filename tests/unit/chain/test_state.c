/*
 * test_state.c - the state, the kv app, execution and the block store:
 * kv ownership (first writer, kept after a delete) and each failure code,
 * nonces at execution (a wrong one changes nothing), receipts' exact JSON,
 * blocks executed on an uncommitted parent, commit refusals, determinism
 * (two stores fed the same blocks agree on every root and receipt),
 * persistence (a reopened store has the same head, state, blocks and
 * receipts) and refusing another network's store; the blocks kept above
 * an epoch's last block (the 'above' record) are written with it, in the
 * same transaction, and read back exactly; receipts kept by their place
 * in the chain read back by hash, and those of the older layout still read.
 */
#include "chain/exec.h"
#include "chain/store.h"
#include "chain/store_int.h" /* the tables, to write a store of the older layout */
#include "chain_test.h"

typedef struct node {
  char dir[256];
  qp_chain_genesis_t g;
  qp_chain_store_t *store;
} node_t;

static void node_open(node_t *n, bool fresh) {
  if (fresh) {
    qp_test_tmpdir(n->dir, sizeof n->dir);
    test_genesis(QP_SUITE_ED25519, &n->g);
  }
  char detail[256] = "";
  int rc = qp_chain_store_open(n->dir, &n->g, 64u << 20, &n->store, detail, sizeof detail);
  if (rc != 0) fail_msg("open: %s", detail);
}

static void node_close(node_t *n, bool remove) {
  qp_chain_store_close(n->store);
  n->store = NULL;
  if (remove) qp_test_rmdir(n->dir);
}

/* A block of encoded txs: body, decode, execute on the head, commit.  The
 * receipts' JSON are appended to log (when not NULL). */
typedef struct block {
  qp_buf_t body;
  qp_chain_tx_t txs[16];
  size_t count;
  qp_chain_exec_t exec;
} block_t;

static void block_build(node_t *n, block_t *b, uint8_t **txs, size_t *lens, size_t count) {
  memset(b, 0, sizeof *b);
  b->body.max = 1 << 20;
  assert_int_equal(qp_chain_txs_begin(&b->body), 0);
  for (size_t i = 0; i < count; i++)
    assert_int_equal(qp_chain_txs_add(&b->body, txs[i], lens[i]), 0);
  char detail[256] = "";
  int rc = qp_chain_txs_decode(QP_SUITE_ED25519, n->g.hash, (const uint8_t *)b->body.data,
                               b->body.len, 1 << 20, 65536, b->txs, 16, &b->count, detail,
                               sizeof detail);
  if (rc != 0) fail_msg("body: %s", detail);
}

static void block_commit(node_t *n, block_t *b) {
  qp_chain_head_t head;
  qp_chain_store_head(n->store, &head);
  qp_chain_block_in_t in = {.height = b->exec.height, .header = (const uint8_t *)"hdr",
                            .header_len = 3, .qc = (const uint8_t *)"qc!", .qc_len = 3,
                            .body = (const uint8_t *)b->body.data, .body_len = b->body.len};
  qp_hash256(in.hash, &in.height, sizeof in.height);
  memcpy(in.parent_hash, head.hash, QP_HASH_SIZE);
  char detail[256] = "";
  int rc = qp_chain_store_commit(n->store, &in, &b->exec, detail, sizeof detail);
  if (rc != 0) fail_msg("commit: %s", detail);
}

static void block_free(block_t *b) {
  qp_chain_exec_deinit(&b->exec);
  qp_buf_free(&b->body);
}

/* Builds, executes on the committed head and commits one block. */
static void run_block(node_t *n, uint8_t **txs, size_t *lens, size_t count, block_t *b) {
  block_build(n, b, txs, lens, count);
  qp_chain_head_t head;
  qp_chain_store_head(n->store, &head);
  assert_int_equal(qp_chain_execute_block(qp_chain_store_state(n->store), NULL, b->txs,
                                          b->count, head.height + 1, 0, &b->exec), 0);
  assert_int_equal(b->exec.receipts.count, count);
  block_commit(n, b);
}

static const char *receipt(const block_t *b, size_t i) {
  return ((const qp_chain_receipt_t *)qp_array_at(&b->exec.receipts, i))->json;
}

static void expect_code(const block_t *b, size_t i, const char *code) {
  char want[64];
  snprintf(want, sizeof want, "\"code\":\"%s\"", code);
  if (strstr(receipt(b, i), want) == NULL) fail_msg("receipt %zu: %s", i, receipt(b, i));
}

/* Queries kv get key: 0 with the value in out, or the query's code. */
static int kv_get(node_t *n, const char *key, char *out, size_t size) {
  char args[256], code[QP_CHAIN_CODE_MAX + 1], detail[128];
  snprintf(args, sizeof args, "{\"key\":\"%s\"}", key);
  json_t *result = NULL;
  int rc = qp_chain_app_query(&qp_chain_app_kv, qp_chain_store_state(n->store), "get", args,
                              strlen(args), &result, code, detail, sizeof detail);
  if (rc == 0) {
    snprintf(out, size, "%s", json_string_value(json_object_get(result, "value")));
    json_decref(result);
  } else {
    snprintf(out, size, "%s", code);
  }
  return rc;
}

#define TX(key, nonce, method, args) \
  txs[k] = test_tx(key, n.g.hash, nonce, "kv", method, args, &lens[k]), k++

static void free_txs(uint8_t **txs, size_t count) {
  for (size_t i = 0; i < count; i++) qp_free(txs[i]);
}

static void test_kv_ownership(void **state) {
  (void)state;
  node_t n;
  node_open(&n, true);
  qp_sign_key_t *a = test_key(QP_SUITE_ED25519, 10), *b = test_key(QP_SUITE_ED25519, 11);
  uint8_t *txs[16];
  size_t lens[16], k = 0;
  TX(a, 1, "put", "{\"key\":\"k\",\"value\":\"from a\"}");
  TX(b, 1, "put", "{\"key\":\"k\",\"value\":\"from b\"}");
  TX(b, 2, "delete", "{\"key\":\"k\"}");
  TX(a, 2, "delete", "{\"key\":\"k\"}");
  TX(b, 3, "put", "{\"key\":\"k\",\"value\":\"b again\"}");
  TX(a, 3, "put", "{\"key\":\"k\",\"value\":\"a again\"}");
  TX(a, 4, "delete", "{\"key\":\"nothing\"}");
  block_t blk;
  run_block(&n, txs, lens, k, &blk);
  expect_code(&blk, 0, "ok");
  expect_code(&blk, 1, "not_owner");
  expect_code(&blk, 2, "not_owner");
  expect_code(&blk, 3, "ok");
  expect_code(&blk, 4, "not_owner"); /* ownership outlives the delete */
  expect_code(&blk, 5, "ok");
  expect_code(&blk, 6, "not_found");
  assert_non_null(strstr(receipt(&blk, 5), "\"created\":true"));
  char value[64];
  assert_int_equal(kv_get(&n, "k", value, sizeof value), 0);
  assert_string_equal(value, "a again");
  assert_int_equal(kv_get(&n, "nothing", value, sizeof value), QP_ENOTFOUND);
  assert_string_equal(value, "not_found");
  uint64_t nonce = 0;
  uint8_t pub[QP_SIGN_PUBLIC_MAX];
  size_t pub_len = 0;
  qp_sign_public(b, pub, &pub_len);
  assert_int_equal(qp_chain_state_nonce(qp_chain_store_state(n.store), pub, pub_len, &nonce), 0);
  assert_int_equal(nonce, 3); /* failed receipts use their nonce */
  block_free(&blk);
  free_txs(txs, k);
  qp_sign_key_free(a);
  qp_sign_key_free(b);
  node_close(&n, true);
}

static void test_failure_codes(void **state) {
  (void)state;
  node_t n;
  node_open(&n, true);
  qp_sign_key_t *a = test_key(QP_SUITE_ED25519, 10);
  char long_key[200], long_value[5000], args[6000];
  memset(long_key, 'x', 129);
  long_key[129] = '\0';
  memset(long_value, 'v', 4097);
  long_value[4097] = '\0';
  uint8_t *txs[16];
  size_t lens[16], k = 0;
  TX(a, 1, "put", "{\"key\":\"k\"}");
  TX(a, 3, "put", "{\"key\":\"k\",\"value\":\"v\"}"); /* a gap: 2 is next */
  snprintf(args, sizeof args, "{\"key\":\"%s\",\"value\":\"v\"}", long_key);
  TX(a, 2, "put", args);
  snprintf(args, sizeof args, "{\"key\":\"k\",\"value\":\"%s\"}", long_value);
  TX(a, 3, "put", args);
  TX(a, 4, "get", "{\"key\":\"k\"}");
  TX(a, 5, "rename", "{}");
  TX(a, 6, "put", "{\"key\":\"k\",\"value\":\"v\",\"extra\":1}");
  TX(a, 6, "put", "{\"key\":\"k\",\"value\":\"v\"}"); /* a replay of nonce 6 */
  txs[k] = test_tx(a, n.g.hash, 7, "nosuchapp", "put", "{}", &lens[k]), k++;
  block_t blk;
  run_block(&n, txs, lens, k, &blk);
  const char *codes[] = {"bad_args", "bad_nonce", "key_too_long", "value_too_long", "query_only",
                         "unknown_method", "bad_args", "bad_nonce", "unknown_app"};
  for (size_t i = 0; i < k; i++) expect_code(&blk, i, codes[i]);
  assert_non_null(strstr(receipt(&blk, 1), "nonce 3; the sender's next nonce is 2"));
  char value[64];
  assert_int_equal(kv_get(&n, "k", value, sizeof value), QP_ENOTFOUND);
  /* Query refusals. */
  char code[QP_CHAIN_CODE_MAX + 1], detail[128];
  json_t *result = NULL;
  qp_chain_state_t *st = qp_chain_store_state(n.store);
  assert_int_equal(qp_chain_app_query(&qp_chain_app_kv, st, "get", "[1]", 3, &result, code,
                                      detail, sizeof detail), QP_EINVAL);
  assert_string_equal(code, "bad_args");
  assert_int_equal(qp_chain_app_query(&qp_chain_app_kv, st, "scan", "{}", 2, &result, code,
                                      detail, sizeof detail), QP_EINVAL);
  assert_string_equal(code, "unknown_method");
  block_free(&blk);
  free_txs(txs, k);
  qp_sign_key_free(a);
  node_close(&n, true);
}

static void test_receipt_json(void **state) {
  (void)state;
  node_t n;
  node_open(&n, true);
  qp_sign_key_t *a = test_key(QP_SUITE_ED25519, 10);
  uint8_t *txs[1];
  size_t lens[1], k = 0;
  TX(a, 1, "put", "{\"key\":\"k\",\"value\":\"v\"}");
  block_t blk;
  run_block(&n, txs, lens, k, &blk);
  char hex[2 * QP_HASH_SIZE + 1], want[512];
  qp_hex(hex, blk.txs[0].hash, QP_HASH_SIZE);
  snprintf(want, sizeof want,
           "{\"height\":1,\"tx\":\"%s\",\"status\":\"ok\",\"code\":\"ok\",\"result\":"
           "{\"key\":\"k\",\"created\":true},\"events\":[{\"type\":\"kv.put\",\"key\":\"k\"}]}",
           hex);
  assert_string_equal(receipt(&blk, 0), want);
  char *stored = NULL;
  size_t len = 0;
  assert_int_equal(qp_chain_store_receipt(n.store, blk.txs[0].hash, &stored, &len), 0);
  assert_string_equal(stored, want);
  qp_free(stored);
  uint64_t height = 0;
  uint32_t index = 9;
  assert_int_equal(qp_chain_store_tx(n.store, blk.txs[0].hash, &height, &index), 0);
  assert_int_equal(height, 1);
  assert_int_equal(index, 0);
  uint8_t none[QP_HASH_SIZE] = {0};
  assert_int_equal(qp_chain_store_tx(n.store, none, &height, &index), QP_ENOTFOUND);
  block_free(&blk);
  free_txs(txs, k);
  qp_sign_key_free(a);
  node_close(&n, true);
}

/* Receipts are kept under each transaction's place (appended in commit
 * order): several blocks of several transactions each read back by hash,
 * every one its own; a store written before that kept them by hash (the
 * old table, no place entry) is still read. */
static void test_receipts_by_place(void **state) {
  (void)state;
  node_t n;
  node_open(&n, true);
  qp_sign_key_t *keys[3] = {test_key(QP_SUITE_ED25519, 21), test_key(QP_SUITE_ED25519, 22),
                            test_key(QP_SUITE_ED25519, 23)};
  for (uint64_t h = 1; h <= 3; h++) {
    uint8_t *txs[3];
    size_t lens[3], k = 0;
    char args[64];
    for (int i = 0; i < 3; i++) {
      snprintf(args, sizeof args, "{\"key\":\"k%d-%llu\",\"value\":\"v\"}", i,
               (unsigned long long)h);
      TX(keys[i], h, "put", args);
    }
    block_t blk;
    run_block(&n, txs, lens, k, &blk);
    for (size_t i = 0; i < blk.count; i++) {
      char *stored = NULL;
      size_t len = 0;
      assert_int_equal(qp_chain_store_receipt(n.store, blk.txs[i].hash, &stored, &len), 0);
      assert_string_equal(stored, receipt(&blk, i));
      assert_int_equal(len, strlen(receipt(&blk, i)));
      qp_free(stored);
    }
    block_free(&blk);
    free_txs(txs, k);
  }
  /* The old layout: txs -> place, receipts -> JSON by hash, nothing at the place. */
  uint8_t old[QP_HASH_SIZE];
  memset(old, 0xee, sizeof old);
  MDB_txn *txn = NULL;
  assert_int_equal(mdb_txn_begin(qp_kv_env(n.store->kv), NULL, 0, &txn), 0);
  uint8_t where[12] = {0};
  qp_store_u64(where, 2);
  qp_store_u32(where + 8, 77);
  MDB_val k = {QP_HASH_SIZE, old}, w = {sizeof where, where}, v = {9, "{\"old\":1}"};
  assert_int_equal(mdb_put(txn, n.store->txs, &k, &w, 0), 0);
  assert_int_equal(mdb_put(txn, n.store->receipts, &k, &v, 0), 0);
  assert_int_equal(mdb_txn_commit(txn), 0);
  char *stored = NULL;
  size_t len = 0;
  assert_int_equal(qp_chain_store_receipt(n.store, old, &stored, &len), 0);
  assert_string_equal(stored, "{\"old\":1}");
  qp_free(stored);
  uint8_t none[QP_HASH_SIZE] = {0};
  assert_int_equal(qp_chain_store_receipt(n.store, none, &stored, &len), QP_ENOTFOUND);
  for (int i = 0; i < 3; i++) qp_sign_key_free(keys[i]);
  node_close(&n, true);
}

/* Block 2 executes on block 1's uncommitted result; commits check order. */
static void test_pipeline_and_refusals(void **state) {
  (void)state;
  node_t n;
  node_open(&n, true);
  qp_sign_key_t *a = test_key(QP_SUITE_ED25519, 10);
  uint8_t *txs[2];
  size_t lens[2], k = 0;
  TX(a, 1, "put", "{\"key\":\"k\",\"value\":\"1\"}");
  TX(a, 2, "put", "{\"key\":\"k\",\"value\":\"2\"}");
  block_t b1, b2;
  qp_chain_state_t *st = qp_chain_store_state(n.store);
  block_build(&n, &b1, txs, lens, 1);
  block_build(&n, &b2, txs + 1, lens + 1, 1);
  assert_int_equal(qp_chain_execute_block(st, NULL, b1.txs, 1, 1, 0, &b1.exec), 0);
  assert_int_equal(qp_chain_execute_block(st, &b1.exec, b2.txs, 1, 2, 0, &b2.exec), 0);
  expect_code(&b2, 0, "ok"); /* saw nonce 1 in its parent's batch */
  assert_non_null(strstr(receipt(&b2, 0), "\"created\":false"));
  qp_chain_exec_t bad;
  assert_int_equal(qp_chain_execute_block(st, NULL, b2.txs, 1, 3, 0, &bad), QP_EINVAL);
  qp_chain_exec_deinit(&bad);
  char detail[256] = "";
  qp_chain_block_in_t in = {.height = 2, .body = (const uint8_t *)b2.body.data,
                            .body_len = b2.body.len};
  assert_int_equal(qp_chain_store_commit(n.store, &in, &b2.exec, detail, sizeof detail),
                   QP_EINVAL);
  assert_non_null(strstr(detail, "height"));
  in.height = 1;
  assert_int_equal(qp_chain_store_commit(n.store, &in, &b1.exec, detail, sizeof detail),
                   QP_EINVAL);
  assert_non_null(strstr(detail, "parent hash"));
  block_commit(&n, &b1);
  block_commit(&n, &b2);
  char value[64];
  assert_int_equal(kv_get(&n, "k", value, sizeof value), 0);
  assert_string_equal(value, "2");
  block_free(&b1);
  block_free(&b2);
  free_txs(txs, k);
  qp_sign_key_free(a);
  node_close(&n, true);
}

/* Three blocks of mixed txs into two stores, then one store reopened. */
static void test_determinism_and_persistence(void **state) {
  (void)state;
  node_t n, m;
  node_open(&n, true);
  m = n;
  qp_test_tmpdir(m.dir, sizeof m.dir);
  node_open(&m, false);
  qp_sign_key_t *a = test_key(QP_SUITE_ED25519, 10), *b = test_key(QP_SUITE_ED25519, 11);
  uint8_t *txs[9];
  size_t lens[9], k = 0;
  TX(a, 1, "put", "{\"key\":\"x\",\"value\":\"1\"}");
  TX(b, 1, "put", "{\"key\":\"x\",\"value\":\"2\"}");
  TX(b, 2, "put", "{\"key\":\"y\",\"value\":\"3\"}");
  TX(a, 2, "put", "{\"key\":\"z\",\"value\":\"4\"}");
  TX(a, 2, "delete", "{\"key\":\"z\"}");
  TX(a, 3, "delete", "{\"key\":\"x\"}");
  TX(b, 3, "put", "{\"key\":\"x\",\"value\":\"5\"}");
  TX(b, 4, "delete", "{\"key\":\"y\"}");
  TX(a, 4, "put", "{\"key\":\"w\",\"value\":\"6\"}");
  uint8_t roots[3][QP_HASH_SIZE];
  for (size_t h = 0; h < 3; h++) {
    block_t bn, bm;
    run_block(&n, txs + 3 * h, lens + 3 * h, 3, &bn);
    run_block(&m, txs + 3 * h, lens + 3 * h, 3, &bm);
    assert_memory_equal(bn.exec.state_root, bm.exec.state_root, QP_HASH_SIZE);
    assert_memory_equal(bn.exec.receipts_root, bm.exec.receipts_root, QP_HASH_SIZE);
    for (size_t i = 0; i < 3; i++) assert_string_equal(receipt(&bn, i), receipt(&bm, i));
    assert_memory_not_equal(bn.exec.state_root, bn.exec.prev_root, QP_HASH_SIZE);
    memcpy(roots[h], bn.exec.state_root, QP_HASH_SIZE);
    block_free(&bn);
    block_free(&bm);
  }
  qp_chain_head_t before, after;
  qp_chain_store_head(n.store, &before);
  assert_int_equal(before.height, 3);
  assert_memory_equal(before.state_root, roots[2], QP_HASH_SIZE);
  node_close(&n, false);
  node_open(&n, false);
  qp_chain_store_head(n.store, &after);
  assert_memory_equal(&before, &after, sizeof before);
  uint64_t height = 0;
  uint8_t root[QP_HASH_SIZE];
  qp_chain_state_head(qp_chain_store_state(n.store), &height, root);
  assert_int_equal(height, 3);
  assert_memory_equal(root, roots[2], QP_HASH_SIZE);
  char value[64];
  assert_int_equal(kv_get(&n, "w", value, sizeof value), 0);
  assert_string_equal(value, "6");
  assert_int_equal(kv_get(&n, "y", value, sizeof value), QP_ENOTFOUND);
  qp_chain_block_t blk;
  assert_int_equal(qp_chain_store_block(n.store, 2, &blk), 0);
  assert_memory_equal(blk.state_root, roots[1], QP_HASH_SIZE);
  assert_int_equal(blk.header_len, 3);
  assert_memory_equal(blk.qc, "qc!", 3);
  qp_chain_tx_t decoded[4];
  size_t count = 0;
  assert_int_equal(qp_chain_txs_decode(QP_SUITE_ED25519, n.g.hash, blk.body, blk.body_len,
                                       1 << 20, 65536, decoded, 4, &count, NULL, 0), 0);
  assert_int_equal(count, 3);
  assert_int_equal(decoded[0].bytes_len, lens[3]);
  qp_chain_block_deinit(&blk);
  assert_int_equal(qp_chain_store_block(n.store, 4, &blk), QP_ENOTFOUND);
  free_txs(txs, k);
  qp_sign_key_free(a);
  qp_sign_key_free(b);
  node_close(&m, true);
  node_close(&n, true);
}

static void test_other_network(void **state) {
  (void)state;
  node_t n;
  node_open(&n, true);
  node_close(&n, false);
  qp_chain_genesis_t other = n.g;
  other.hash[0] ^= 1;
  char detail[256] = "";
  qp_chain_store_t *s = NULL;
  assert_int_equal(qp_chain_store_open(n.dir, &other, 64u << 20, &s, detail, sizeof detail),
                   QP_EINVAL);
  assert_non_null(strstr(detail, "another network"));
  qp_test_rmdir(n.dir);
}

/* The root of the empty state updated with b's writes. */
static int batch_root(const qp_chain_batch_t *b, uint8_t out[QP_HASH_SIZE]) {
  qp_smt_update_t *u = NULL;
  size_t count = 0;
  qp_smt_t empty, tree;
  qp_smt_empty(QP_SUITE_ED25519, &empty);
  int rc = qp_chain_batch_updates(b, QP_SUITE_ED25519, &u, &count);
  if (rc == 0) rc = qp_smt_update(&empty, u, count, &tree);
  qp_free(u);
  if (rc == 0) qp_smt_root(&tree, out);
  qp_smt_release(&tree);
  return rc;
}

static void test_batch_order(void **state) {
  (void)state;
  qp_chain_batch_t *x = NULL, *y = NULL;
  assert_int_equal(qp_chain_batch_new(8, 1024, &x), 0);
  assert_int_equal(qp_chain_batch_new(8, 1024, &y), 0);
  const char *keys[] = {"b", "a", "ab", "c"};
  for (int i = 0; i < 4; i++)
    assert_int_equal(qp_chain_batch_set(x, (const uint8_t *)keys[i], strlen(keys[i]),
                                        (const uint8_t *)"v", 1, i == 3), 0);
  for (int i = 3; i >= 0; i--)
    assert_int_equal(qp_chain_batch_set(y, (const uint8_t *)keys[i], strlen(keys[i]),
                                        (const uint8_t *)"old", 3, false), 0);
  for (int i = 3; i >= 0; i--) /* the last write wins */
    assert_int_equal(qp_chain_batch_set(y, (const uint8_t *)keys[i], strlen(keys[i]),
                                        (const uint8_t *)"v", 1, i == 3), 0);
  uint8_t hx[QP_HASH_SIZE], hy[QP_HASH_SIZE];
  assert_int_equal(batch_root(x, hx), 0);
  assert_int_equal(batch_root(y, hy), 0);
  assert_memory_equal(hx, hy, QP_HASH_SIZE);
  assert_int_equal(qp_chain_batch_count(y), 4);
  for (int suite = QP_SUITE_ED25519; suite <= QP_SUITE_SM2; suite++) {
    qp_smt_update_t *u = NULL; /* each update names its key by the suite's hash */
    size_t count = 0;
    assert_int_equal(qp_chain_batch_updates(y, (qp_suite_t)suite, &u, &count), 0);
    assert_int_equal(count, 4);
    for (int i = 0; i < 4; i++) {
      uint8_t h[QP_HASH_SIZE];
      assert_int_equal(qp_suite_hash((qp_suite_t)suite, h, keys[i], strlen(keys[i])), 0);
      bool found = false;
      for (size_t j = 0; j < count; j++) found |= memcmp(u[j].key_hash, h, QP_HASH_SIZE) == 0;
      assert_true(found);
    }
    qp_free(u);
  }
  const uint8_t *v = NULL;
  size_t len = 0;
  bool del = false;
  assert_int_equal(qp_chain_batch_get(y, (const uint8_t *)"c", 1, &v, &len, &del), 0);
  assert_true(del);
  assert_int_equal(qp_chain_batch_get(y, (const uint8_t *)"d", 1, &v, &len, &del), QP_ENOTFOUND);
  assert_int_equal(qp_chain_batch_set(x, (const uint8_t *)"zz", 2, NULL, 0, false), 0);
  assert_int_equal(batch_root(x, hx), 0);
  assert_memory_not_equal(hx, hy, QP_HASH_SIZE);
  for (int i = 0; i < 3; i++) /* 5 keys held; 8 at most */
    assert_int_equal(qp_chain_batch_set(x, (const uint8_t *)&"pqr"[i], 1, NULL, 0, true), 0);
  assert_int_equal(qp_chain_batch_set(x, (const uint8_t *)"s", 1, NULL, 0, true), QP_ELIMIT);
  qp_chain_batch_free(x);
  qp_chain_batch_free(y);
}

/* A batch grows past its first slots (256) by doubling up to writes_max: every
 * key stays found with its last value across the growths, the hash does not
 * depend on the order the keys came in, and writes_max still bounds it. */
static void test_batch_growth(void **state) {
  (void)state;
  enum { KEYS = 3000 };
  qp_chain_batch_t *x = NULL, *y = NULL;
  assert_int_equal(qp_chain_batch_new(KEYS, 1u << 20, &x), 0);
  assert_int_equal(qp_chain_batch_new(KEYS, 1u << 20, &y), 0);
  char key[32], value[32];
  for (int i = 0; i < KEYS; i++) {
    int n = snprintf(key, sizeof key, "key-%d", i), m = snprintf(value, sizeof value, "v%d", i);
    assert_int_equal(qp_chain_batch_set(x, (const uint8_t *)key, (size_t)n,
                                        (const uint8_t *)value, (size_t)m, false), 0);
    if (i % 7 == 0) /* rewrites across the growths: the last write wins */
      assert_int_equal(qp_chain_batch_set(x, (const uint8_t *)"key-0", 5,
                                          (const uint8_t *)value, (size_t)m, false), 0);
  }
  for (int i = KEYS - 1; i >= 0; i--) {
    int n = snprintf(key, sizeof key, "key-%d", i), m = snprintf(value, sizeof value, "v%d", i);
    if (i == 0) m = snprintf(value, sizeof value, "v%d", (KEYS - 1) / 7 * 7);
    assert_int_equal(qp_chain_batch_set(y, (const uint8_t *)key, (size_t)n,
                                        (const uint8_t *)value, (size_t)m, false), 0);
  }
  assert_int_equal(qp_chain_batch_count(x), KEYS);
  for (int i = 0; i < KEYS; i++) {
    int n = snprintf(key, sizeof key, "key-%d", i);
    const uint8_t *v = NULL;
    size_t len = 0;
    bool del = true;
    assert_int_equal(qp_chain_batch_get(x, (const uint8_t *)key, (size_t)n, &v, &len, &del), 0);
    assert_false(del);
    snprintf(value, sizeof value, "v%d", i == 0 ? (KEYS - 1) / 7 * 7 : i);
    assert_int_equal(len, strlen(value));
    assert_memory_equal(v, value, len);
  }
  uint8_t hx[QP_HASH_SIZE], hy[QP_HASH_SIZE];
  assert_int_equal(batch_root(x, hx), 0);
  assert_int_equal(batch_root(y, hy), 0);
  assert_memory_equal(hx, hy, QP_HASH_SIZE);
  assert_int_equal(qp_chain_batch_set(x, (const uint8_t *)"one-more", 8, NULL, 0, true),
                   QP_ELIMIT);
  assert_int_equal(qp_chain_batch_count(x), KEYS);
  qp_chain_batch_free(x);
  qp_chain_batch_free(y);
}

/* The 'above' record: kept with its block, absent for the others. */
static void test_above_record(void **state) {
  (void)state;
  node_t n;
  node_open(&n, true);
  block_t b;
  block_build(&n, &b, NULL, NULL, 0);
  assert_int_equal(qp_chain_execute_block(qp_chain_store_state(n.store), NULL, b.txs, b.count, 1,
                                          0, &b.exec), 0);
  static const uint8_t above[] = {3, 0, 0, 0, 'a', 'b', 'c'};
  qp_chain_block_in_t in = {.height = 1, .header = (const uint8_t *)"hdr", .header_len = 3,
                            .qc = (const uint8_t *)"qc!", .qc_len = 3,
                            .body = (const uint8_t *)b.body.data, .body_len = b.body.len,
                            .above = above, .above_len = sizeof above};
  qp_chain_head_t head;
  qp_chain_store_head(n.store, &head);
  qp_hash256(in.hash, "one", 3);
  memcpy(in.parent_hash, head.hash, QP_HASH_SIZE);
  char detail[256] = "";
  assert_int_equal(qp_chain_store_commit(n.store, &in, &b.exec, detail, sizeof detail), 0);
  block_free(&b);
  uint8_t *got = NULL;
  size_t len = 0;
  assert_int_equal(qp_chain_store_above(n.store, 1, &got, &len), 0);
  assert_int_equal(len, sizeof above);
  assert_memory_equal(got, above, sizeof above);
  qp_free(got);
  block_t c;
  uint8_t *none[1];
  size_t none_len[1];
  run_block(&n, none, none_len, 0, &c); /* block 2: no record */
  block_free(&c);
  assert_int_equal(qp_chain_store_above(n.store, 2, &got, &len), QP_ENOTFOUND);
  assert_null(got);
  node_close(&n, false); /* kept across a reopen */
  node_open(&n, false);
  assert_int_equal(qp_chain_store_above(n.store, 1, &got, &len), 0);
  assert_int_equal(len, sizeof above);
  qp_free(got);
  node_close(&n, true);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_batch_growth),
      cmocka_unit_test(test_kv_ownership),
      cmocka_unit_test(test_failure_codes),
      cmocka_unit_test(test_receipt_json), cmocka_unit_test(test_receipts_by_place),
      cmocka_unit_test(test_pipeline_and_refusals),
      cmocka_unit_test(test_determinism_and_persistence),
      cmocka_unit_test(test_other_network),
      cmocka_unit_test(test_above_record),
      cmocka_unit_test(test_batch_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
