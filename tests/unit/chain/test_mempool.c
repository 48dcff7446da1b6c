/*
 * test_mempool.c - the mempool: each admission refusal with its code, the
 * bounds (count and bytes), dedup, block building in nonce order without
 * gaps, take limits, untake, removal of committed transactions and the
 * re-check that drops stale ones, the verified-hash cache (a signature is
 * verified once), admission from several threads beside block
 * building, and the per-block gas budget (a call above it refused with
 * gas_too_high, a block's calls summing to at most it), and the signature
 * modes of vouching (vouched: no check; attest: checked even when refused),
 * holding what the blocks under a new one carry (also for a sender whose
 * transactions reach the pool only afterwards: never taken twice), and
 * the walk that hands the pool to a peer that connected.
 */
#include <pthread.h>

#include "chain/app.h"
#include "chain/mempool.h"
#include "chain_test.h"

static const uint8_t CHAIN[QP_HASH_SIZE] = {1, 2, 3};

/* The committed nonces the pool reads: up to 8 senders. */
typedef struct nonces {
  uint8_t keys[8][QP_SIGN_PUBLIC_MAX];
  uint64_t nonce[8];
  uint32_t count;
  pthread_mutex_t mu;
} nonces_t;

static nonces_t committed = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int nonce_fn(void *ctx, const uint8_t *sender, size_t len, uint64_t *nonce) {
  nonces_t *n = ctx;
  *nonce = 0;
  pthread_mutex_lock(&n->mu);
  for (uint32_t i = 0; i < n->count; i++)
    if (memcmp(n->keys[i], sender, len) == 0) *nonce = n->nonce[i];
  pthread_mutex_unlock(&n->mu);
  return 0;
}

static void set_committed(const qp_sign_key_t *key, uint64_t nonce) {
  uint8_t pub[QP_SIGN_PUBLIC_MAX];
  size_t len = 0;
  qp_sign_public(key, pub, &len);
  for (uint32_t i = 0; i < committed.count; i++) {
    if (memcmp(committed.keys[i], pub, len) == 0) {
      committed.nonce[i] = nonce;
      return;
    }
  }
  memcpy(committed.keys[committed.count], pub, len);
  committed.nonce[committed.count++] = nonce;
}

static qp_chain_mempool_t *pool_of(qp_suite_t suite, uint32_t txs_max, uint64_t bytes_max,
                                   uint32_t window) {
  committed.count = 0;
  qp_chain_mempool_config_t c;
  qp_chain_mempool_config_default(&c, 4096);
  c.suite = suite;
  memcpy(c.chain, CHAIN, QP_HASH_SIZE);
  c.txs_max = txs_max;
  c.bytes_max = bytes_max;
  c.nonce_window = window;
  c.verified_max = 4;
  c.nonce_fn = nonce_fn;
  c.nonce_ctx = &committed;
  qp_chain_mempool_t *mp = NULL;
  assert_int_equal(qp_chain_mempool_new(&c, &mp), 0);
  return mp;
}

static qp_chain_mempool_t *pool(uint32_t txs_max, uint64_t bytes_max, uint32_t window) {
  return pool_of(QP_SUITE_ED25519, txs_max, bytes_max, window);
}

/* Submits a kv put from key with nonce; returns the admission result. */
static qp_chain_admit_t submit(qp_chain_mempool_t *mp, const qp_sign_key_t *key, uint64_t nonce,
                               const char *value) {
  char args[2048];
  snprintf(args, sizeof args, "{\"key\":\"k\",\"value\":\"%s\"}", value);
  size_t len = 0;
  uint8_t *b = test_tx(key, CHAIN, nonce, "kv", "put", args, &len);
  qp_chain_admit_t a = QP_CHAIN_ADMIT__COUNT;
  char detail[256] = "";
  int rc = qp_chain_mempool_add(mp, b, len, &a, NULL, detail, sizeof detail);
  assert_int_equal(rc, a == QP_CHAIN_ADMIT_OK ? 0 : QP_EINVAL);
  qp_free(b);
  return a;
}

static qp_chain_admit_t add_raw(qp_chain_mempool_t *mp, const uint8_t *b, size_t len) {
  qp_chain_admit_t a = QP_CHAIN_ADMIT__COUNT;
  char detail[256] = "";
  int rc = qp_chain_mempool_add(mp, b, len, &a, NULL, detail, sizeof detail);
  assert_int_equal(rc, a == QP_CHAIN_ADMIT_OK ? 0 : QP_EINVAL);
  assert_true(a == QP_CHAIN_ADMIT_OK || detail[0] != '\0' || a == QP_CHAIN_ADMIT_DUPLICATE ||
              a == QP_CHAIN_ADMIT_FULL || a == QP_CHAIN_ADMIT_NONCE_PENDING);
  return a;
}

static void test_admission_codes(void **state) {
  (void)state;
  qp_chain_mempool_t *mp = pool(3, 1 << 20, 4);
  qp_sign_key_t *a = test_key(QP_SUITE_ED25519, 1), *b = test_key(QP_SUITE_ED25519, 2);
  set_committed(a, 3);
  size_t len = 0;
  uint8_t *tx = test_tx(a, CHAIN, 4, "kv", "put", "{\"key\":\"k\",\"value\":\"v\"}", &len);
  uint8_t big[5000] = {1};
  assert_int_equal(add_raw(mp, big, sizeof big), QP_CHAIN_ADMIT_TOO_LARGE);
  assert_int_equal(add_raw(mp, big, 100), QP_CHAIN_ADMIT_MALFORMED);
  uint8_t other[QP_HASH_SIZE] = {9};
  uint8_t *wrong = test_tx(a, other, 4, "kv", "put", "{}", &len);
  assert_int_equal(add_raw(mp, wrong, len), QP_CHAIN_ADMIT_WRONG_CHAIN);
  qp_free(wrong);
  qp_sign_key_t *gm = test_key(QP_SUITE_SM2, 1);
  wrong = test_tx(gm, CHAIN, 4, "kv", "put", "{}", &len);
  assert_int_equal(add_raw(mp, wrong, len), QP_CHAIN_ADMIT_WRONG_SUITE);
  qp_free(wrong);
  qp_sign_key_free(gm);
  assert_int_equal(submit(mp, a, 3, "x"), QP_CHAIN_ADMIT_NONCE_USED);
  assert_int_equal(submit(mp, a, 1, "x"), QP_CHAIN_ADMIT_NONCE_USED);
  assert_int_equal(submit(mp, a, 8, "x"), QP_CHAIN_ADMIT_NONCE_TOO_FAR);
  size_t tx_len = 0;
  uint8_t *good = test_tx(a, CHAIN, 4, "kv", "put", "{\"key\":\"k\",\"value\":\"v\"}", &tx_len);
  good[tx_len - 1] ^= 1;
  assert_int_equal(add_raw(mp, good, tx_len), QP_CHAIN_ADMIT_BAD_SIGNATURE);
  good[tx_len - 1] ^= 1;
  assert_int_equal(add_raw(mp, good, tx_len), QP_CHAIN_ADMIT_OK);
  assert_int_equal(add_raw(mp, good, tx_len), QP_CHAIN_ADMIT_DUPLICATE);
  assert_int_equal(submit(mp, a, 4, "other"), QP_CHAIN_ADMIT_NONCE_PENDING);
  assert_int_equal(submit(mp, a, 7, "x"), QP_CHAIN_ADMIT_OK); /* the window's far end */
  assert_int_equal(submit(mp, b, 1, "x"), QP_CHAIN_ADMIT_OK);
  assert_int_equal(submit(mp, b, 2, "x"), QP_CHAIN_ADMIT_FULL);
  assert_int_equal(submit(mp, a, 4, "again"), QP_CHAIN_ADMIT_NONCE_PENDING); /* before full */
  qp_chain_mempool_stats_t st;
  qp_chain_mempool_stats(mp, &st);
  assert_int_equal(st.txs, 3);
  assert_int_equal(st.senders, 2);
  assert_int_equal(st.rejected[QP_CHAIN_ADMIT_OK], 3);
  for (int r = 1; r < QP_CHAIN_ADMIT__COUNT; r++) /* gas_too_high: test_gas_budget */
    assert_true(st.rejected[r] >= 1 || r == QP_CHAIN_ADMIT_GAS_TOO_HIGH);
  assert_string_equal(qp_chain_admit_code(QP_CHAIN_ADMIT_NONCE_USED), "nonce_used");
  assert_string_equal(qp_chain_admit_code(QP_CHAIN_ADMIT__COUNT), "unknown");
  qp_free(good);
  qp_free(tx);
  qp_sign_key_free(a);
  qp_sign_key_free(b);
  qp_chain_mempool_free(mp);
}

static void test_bytes_bound(void **state) {
  (void)state;
  qp_chain_mempool_t *mp = pool(100, 4096, 64);
  qp_sign_key_t *a = test_key(QP_SUITE_ED25519, 1);
  char value[1100];
  memset(value, 'v', 1000);
  value[1000] = '\0';
  uint32_t admitted = 0;
  for (uint64_t n = 1; n <= 10 && submit(mp, a, n, value) == QP_CHAIN_ADMIT_OK; n++) admitted++;
  assert_int_equal(admitted, 3); /* 3 * ~1130 bytes fit in 4096, a fourth does not */
  assert_int_equal(submit(mp, a, 4, value), QP_CHAIN_ADMIT_FULL);
  qp_sign_key_free(a);
  qp_chain_mempool_free(mp);
}

/* Decodes body into txs and returns the count. */
static size_t body_txs(const qp_buf_t *body, qp_chain_tx_t *txs, size_t max) {
  size_t count = 0;
  char detail[256] = "";
  int rc = qp_chain_txs_decode(QP_SUITE_ED25519, CHAIN, (const uint8_t *)body->data, body->len,
                               1 << 24, 4096, txs, max, &count, detail, sizeof detail);
  if (rc != 0) fail_msg("body: %s", detail);
  return count;
}

static uint8_t key_byte(const qp_chain_tx_t *tx) { return tx->sender[0]; }

static void test_take_order(void **state) {
  (void)state;
  qp_chain_mempool_t *mp = pool(100, 1 << 20, 64);
  qp_sign_key_t *a = test_key(QP_SUITE_ED25519, 1), *b = test_key(QP_SUITE_ED25519, 2);
  assert_int_equal(submit(mp, a, 2, "a2"), QP_CHAIN_ADMIT_OK);
  assert_int_equal(submit(mp, b, 1, "b1"), QP_CHAIN_ADMIT_OK);
  assert_int_equal(submit(mp, a, 4, "a4"), QP_CHAIN_ADMIT_OK); /* a gap at 3 */
  assert_int_equal(submit(mp, a, 1, "a1"), QP_CHAIN_ADMIT_OK);
  qp_buf_t body = {.max = 1 << 20};
  qp_chain_tx_t txs[8];
  uint32_t count = 0;
  assert_int_equal(qp_chain_mempool_take(mp, 100, 1 << 20, &body, &count), 0);
  assert_int_equal(count, 3);
  assert_int_equal(body_txs(&body, txs, 8), 3);
  /* b1 arrived first among takeable heads: a's run starts when a1 is met. */
  assert_int_equal(txs[0].nonce, 1);
  assert_int_equal(txs[1].nonce, 1);
  assert_int_equal(txs[2].nonce, 2);
  assert_int_equal(key_byte(&txs[1]), key_byte(&txs[2]));
  /* Taken ones are not offered again; a4 waits for a3. */
  assert_int_equal(qp_chain_mempool_take(mp, 100, 1 << 20, &body, &count), 0);
  assert_int_equal(count, 0);
  assert_int_equal(submit(mp, a, 3, "a3"), QP_CHAIN_ADMIT_OK);
  assert_int_equal(qp_chain_mempool_take(mp, 100, 1 << 20, &body, &count), 0);
  assert_int_equal(count, 2);
  assert_int_equal(body_txs(&body, txs, 8), 2);
  assert_int_equal(txs[0].nonce, 3);
  assert_int_equal(txs[1].nonce, 4);
  /* Abandoned blocks: everything is offered again, limited by txs_max. */
  qp_chain_mempool_untake(mp);
  assert_int_equal(qp_chain_mempool_take(mp, 2, 1 << 20, &body, &count), 0);
  assert_int_equal(count, 2);
  qp_chain_mempool_stats_t st;
  qp_chain_mempool_stats(mp, &st);
  assert_int_equal(st.taken, 2);
  qp_chain_mempool_untake(mp);
  /* A body of bytes_max: the header and one framed transaction. */
  assert_int_equal(qp_chain_mempool_take(mp, 100, (uint32_t)(4 + 4 + txs[0].bytes_len), &body,
                                         &count), 0);
  assert_int_equal(count, 1);
  qp_buf_free(&body);
  qp_sign_key_free(a);
  qp_sign_key_free(b);
  qp_chain_mempool_free(mp);
}

/* Blocks under the one being built carried a1, a2 and b1 before the pool
 * saw any of a's: when they arrive they are taken already (not offered
 * again), a3 is next; untake forgets the hold. */
static void test_hold_absent(void **state) {
  (void)state;
  qp_chain_mempool_t *mp = pool(100, 1 << 20, 64);
  qp_sign_key_t *a = test_key(QP_SUITE_ED25519, 1), *b = test_key(QP_SUITE_ED25519, 2);
  assert_int_equal(submit(mp, b, 1, "b1"), QP_CHAIN_ADMIT_OK);
  qp_buf_t carried = {.max = 1 << 20}, body = {.max = 1 << 20};
  assert_int_equal(submit(mp, a, 1, "a1"), QP_CHAIN_ADMIT_OK);
  assert_int_equal(submit(mp, a, 2, "a2"), QP_CHAIN_ADMIT_OK);
  uint32_t count = 0;
  assert_int_equal(qp_chain_mempool_take(mp, 100, 1 << 20, &carried, &count), 0);
  assert_int_equal(count, 3);
  qp_chain_tx_t txs[8];
  assert_int_equal(body_txs(&carried, txs, 8), 3);
  qp_chain_mempool_free(mp); /* a pool that never saw a's transactions */
  mp = pool(100, 1 << 20, 64);
  assert_int_equal(submit(mp, b, 1, "b1"), QP_CHAIN_ADMIT_OK);
  qp_chain_mempool_hold(mp, txs, 3);
  assert_int_equal(submit(mp, a, 2, "a2"), QP_CHAIN_ADMIT_OK);
  assert_int_equal(submit(mp, a, 1, "a1"), QP_CHAIN_ADMIT_OK);
  assert_int_equal(submit(mp, a, 3, "a3"), QP_CHAIN_ADMIT_OK);
  qp_chain_mempool_stats_t st;
  qp_chain_mempool_stats(mp, &st);
  assert_int_equal(st.txs, 4);
  assert_int_equal(st.taken, 3);
  assert_true(qp_chain_mempool_ready(mp));
  assert_int_equal(qp_chain_mempool_take(mp, 100, 1 << 20, &body, &count), 0);
  assert_int_equal(count, 1);
  assert_int_equal(body_txs(&body, txs, 8), 1);
  assert_int_equal(txs[0].nonce, 3);
  /* The view changed: nothing is held, a's run is offered from a1. */
  qp_chain_mempool_untake(mp);
  assert_int_equal(qp_chain_mempool_take(mp, 100, 1 << 20, &body, &count), 0);
  assert_int_equal(count, 4);
  qp_buf_free(&carried);
  qp_buf_free(&body);
  qp_sign_key_free(a);
  qp_sign_key_free(b);
  qp_chain_mempool_free(mp);
}

static void test_committed(void **state) {
  (void)state;
  qp_chain_mempool_t *mp = pool(100, 1 << 20, 64);
  qp_sign_key_t *a = test_key(QP_SUITE_ED25519, 1), *b = test_key(QP_SUITE_ED25519, 2);
  for (uint64_t n = 1; n <= 3; n++) assert_int_equal(submit(mp, a, n, "a"), QP_CHAIN_ADMIT_OK);
  assert_int_equal(submit(mp, b, 1, "b"), QP_CHAIN_ADMIT_OK);
  qp_buf_t body = {.max = 1 << 20};
  qp_chain_tx_t txs[8];
  uint32_t count = 0;
  assert_int_equal(qp_chain_mempool_take(mp, 2, 1 << 20, &body, &count), 0);
  assert_int_equal(body_txs(&body, txs, 8), 2); /* a1, a2 */
  /* Another proposer's block commits a different a1 and b1: a1 is stale. */
  size_t len = 0;
  uint8_t *a1x = test_tx(a, CHAIN, 1, "kv", "put", "{\"key\":\"z\",\"value\":\"z\"}", &len);
  qp_chain_tx_t other[2];
  assert_int_equal(qp_chain_tx_decode(QP_SUITE_ED25519, a1x, len, len, &other[0], NULL, 0), 0);
  uint8_t *b1 = test_tx(b, CHAIN, 1, "kv", "put", "{\"key\":\"k\",\"value\":\"b\"}", &len);
  assert_int_equal(qp_chain_tx_decode(QP_SUITE_ED25519, b1, len, len, &other[1], NULL, 0), 0);
  set_committed(a, 1);
  set_committed(b, 1);
  assert_int_equal(qp_chain_mempool_committed(mp, other, 2), 0);
  qp_chain_mempool_stats_t st;
  qp_chain_mempool_stats(mp, &st);
  assert_int_equal(st.txs, 2); /* a2 (taken), a3 */
  assert_int_equal(st.taken, 1);
  assert_int_equal(st.senders, 1);
  /* Our block is abandoned: a2 and a3 are offered again, in order. */
  qp_chain_mempool_untake(mp);
  assert_int_equal(qp_chain_mempool_take(mp, 10, 1 << 20, &body, &count), 0);
  assert_int_equal(body_txs(&body, txs, 8), 2);
  assert_int_equal(txs[0].nonce, 2);
  assert_int_equal(txs[1].nonce, 3);
  set_committed(a, 3);
  assert_int_equal(qp_chain_mempool_committed(mp, txs, 2), 0);
  qp_chain_mempool_stats(mp, &st);
  assert_int_equal(st.txs, 0);
  assert_int_equal(st.senders, 0);
  /* A replay of a committed transaction is refused at the door. */
  assert_int_equal(add_raw(mp, b1, len), QP_CHAIN_ADMIT_NONCE_USED);
  qp_free(a1x);
  qp_free(b1);
  qp_buf_free(&body);
  qp_sign_key_free(a);
  qp_sign_key_free(b);
  qp_chain_mempool_free(mp);
}

/* What qp_chain_mempool_each saw: the nonces, in call order. */
typedef struct seen {
  uint64_t nonces[8];
  uint32_t count, stop_after;
} seen_t;

static bool see(void *ctx, const uint8_t *bytes, size_t len) {
  seen_t *s = ctx;
  qp_chain_tx_t tx;
  assert_int_equal(qp_chain_tx_decode(QP_SUITE_ED25519, bytes, len, len, &tx, NULL, 0), 0);
  s->nonces[s->count++] = tx.nonce;
  return s->count < s->stop_after;
}

/* The pool handed to a peer: every transaction, taken ones too, in arrival
 * order, the committed ones gone; the walk stops when asked. */
static void test_each(void **state) {
  (void)state;
  qp_chain_mempool_t *mp = pool(100, 1 << 20, 64);
  qp_sign_key_t *a = test_key(QP_SUITE_ED25519, 1);
  seen_t s = {.stop_after = 8};
  assert_int_equal(qp_chain_mempool_each(mp, see, &s), 0);
  assert_int_equal(submit(mp, a, 3, "a3"), QP_CHAIN_ADMIT_OK);
  assert_int_equal(submit(mp, a, 1, "a1"), QP_CHAIN_ADMIT_OK);
  assert_int_equal(submit(mp, a, 2, "a2"), QP_CHAIN_ADMIT_OK);
  qp_buf_t body = {.max = 1 << 20};
  uint32_t count = 0;
  assert_int_equal(qp_chain_mempool_take(mp, 1, 1 << 20, &body, &count), 0);
  assert_int_equal(count, 1); /* a1 taken: still handed on */
  assert_int_equal(qp_chain_mempool_each(mp, see, &s), 3);
  assert_int_equal(s.count, 3);
  assert_int_equal(s.nonces[0], 3);
  assert_int_equal(s.nonces[1], 1);
  assert_int_equal(s.nonces[2], 2);
  s = (seen_t){.stop_after = 2};
  assert_int_equal(qp_chain_mempool_each(mp, see, &s), 2);
  qp_chain_tx_t txs[2];
  assert_int_equal(body_txs(&body, txs, 2), 1);
  set_committed(a, 1);
  assert_int_equal(qp_chain_mempool_committed(mp, txs, 1), 0);
  s = (seen_t){.stop_after = 8};
  assert_int_equal(qp_chain_mempool_each(mp, see, &s), 2);
  assert_int_equal(s.nonces[0], 3);
  assert_int_equal(s.nonces[1], 2);
  qp_buf_free(&body);
  qp_sign_key_free(a);
  qp_chain_mempool_free(mp);
}

/* Ready: something a block could take now; a pool of transactions behind
 * nonce gaps has none.  A full pool removes the newest gapped one to admit a
 * transaction a block can take, never to admit another gapped one. */
static void test_ready_and_room(void **state) {
  (void)state;
  qp_chain_mempool_t *mp = pool(2, 1 << 20, 64);
  qp_sign_key_t *k[5];
  for (uint8_t i = 0; i < 5; i++) k[i] = test_key(QP_SUITE_ED25519, (uint8_t)(i + 1));
  assert_false(qp_chain_mempool_ready(mp));
  assert_int_equal(submit(mp, k[0], 3, "a3"), QP_CHAIN_ADMIT_OK);
  assert_int_equal(submit(mp, k[1], 5, "b5"), QP_CHAIN_ADMIT_OK);
  assert_false(qp_chain_mempool_ready(mp));
  assert_int_equal(submit(mp, k[2], 2, "c2"), QP_CHAIN_ADMIT_FULL); /* gapped: no room made */
  assert_int_equal(submit(mp, k[2], 1, "c1"), QP_CHAIN_ADMIT_OK);  /* b5 goes */
  assert_true(qp_chain_mempool_ready(mp));
  qp_chain_mempool_stats_t st;
  qp_chain_mempool_stats(mp, &st);
  assert_int_equal(st.txs, 2);
  assert_int_equal(st.evicted, 1);
  seen_t s = {.stop_after = 8};
  assert_int_equal(qp_chain_mempool_each(mp, see, &s), 2);
  assert_int_equal(s.nonces[0], 3);
  assert_int_equal(s.nonces[1], 1);
  qp_buf_t body = {.max = 1 << 20};
  uint32_t count = 0;
  assert_int_equal(qp_chain_mempool_take(mp, 10, 1 << 20, &body, &count), 0);
  assert_int_equal(count, 1); /* c1 */
  assert_false(qp_chain_mempool_ready(mp));
  assert_int_equal(submit(mp, k[2], 2, "c2"), QP_CHAIN_ADMIT_OK); /* after c1: a3 goes */
  assert_true(qp_chain_mempool_ready(mp));
  assert_int_equal(submit(mp, k[3], 1, "d1"), QP_CHAIN_ADMIT_FULL); /* nothing gapped left */
  qp_chain_mempool_stats(mp, &st);
  assert_int_equal(st.txs, 2);
  assert_int_equal(st.evicted, 2);
  assert_int_equal(st.senders, 1);
  body.len = 0;
  assert_int_equal(qp_chain_mempool_take(mp, 10, 1 << 20, &body, &count), 0);
  assert_int_equal(count, 1); /* c2: now every transaction is in a proposal */
  assert_false(qp_chain_mempool_ready(mp));
  qp_chain_mempool_untake(mp);
  assert_true(qp_chain_mempool_ready(mp));
  qp_buf_free(&body);
  for (int i = 0; i < 5; i++) qp_sign_key_free(k[i]);
  qp_chain_mempool_free(mp);
}

static void test_verified_cache(void **state) {
  (void)state;
  qp_chain_mempool_t *mp = pool(100, 1 << 20, 64);
  qp_sign_key_t *a = test_key(QP_SUITE_ED25519, 1);
  uint8_t *b[6];
  size_t len[6];
  qp_chain_tx_t tx[6];
  for (int i = 0; i < 6; i++) {
    b[i] = test_tx(a, CHAIN, (uint64_t)i + 1, "kv", "put", "{\"key\":\"k\",\"value\":\"v\"}",
                   &len[i]);
    assert_int_equal(qp_chain_tx_decode(QP_SUITE_ED25519, b[i], len[i], len[i], &tx[i], NULL, 0),
                     0);
  }
  assert_int_equal(add_raw(mp, b[0], len[0]), QP_CHAIN_ADMIT_OK);
  assert_true(qp_chain_mempool_verified(mp, tx[0].hash));
  qp_chain_mempool_stats_t st;
  qp_chain_mempool_stats(mp, &st);
  assert_int_equal(st.verifications, 1);
  assert_int_equal(st.block_verifications, 0); /* admission's is not a block's */
  assert_int_equal(qp_chain_mempool_verify(mp, &tx[0]), 0); /* block validation: no crypto */
  qp_chain_mempool_stats(mp, &st);
  assert_int_equal(st.verifications, 1);
  assert_int_equal(st.block_verifications, 0);
  assert_int_equal(st.verified_hits, 1);
  assert_int_equal(qp_chain_mempool_verify(mp, &tx[1]), 0); /* a tx this node never saw */
  assert_int_equal(add_raw(mp, b[1], len[1]), QP_CHAIN_ADMIT_OK); /* then admitted: cached */
  qp_chain_mempool_stats(mp, &st);
  assert_int_equal(st.verifications, 2);
  assert_int_equal(st.block_verifications, 1); /* tx[1], checked in a block first */
  for (int i = 2; i < 6; i++) assert_int_equal(qp_chain_mempool_verify(mp, &tx[i]), 0);
  assert_false(qp_chain_mempool_verified(mp, tx[0].hash)); /* evicted: verified_max 4 */
  assert_true(qp_chain_mempool_verified(mp, tx[5].hash));
  b[5][len[5] - 2] ^= 1; /* a forged signature is never cached */
  assert_int_equal(qp_chain_tx_decode(QP_SUITE_ED25519, b[5], len[5], len[5], &tx[5], NULL, 0),
                   0);
  assert_int_equal(qp_chain_mempool_verify(mp, &tx[5]), QP_EBADSIG);
  assert_false(qp_chain_mempool_verified(mp, tx[5].hash));
  for (int i = 0; i < 6; i++) qp_free(b[i]);
  qp_sign_key_free(a);
  qp_chain_mempool_free(mp);
}

typedef struct submitter {
  qp_chain_mempool_t *mp;
  uint8_t seed;
  uint32_t admitted;
} submitter_t;

static void *submit_many(void *arg) {
  submitter_t *s = arg;
  qp_sign_key_t *key = test_key(QP_SUITE_ED25519, s->seed);
  for (uint64_t n = 1; n <= 60; n++)
    if (submit(s->mp, key, n, "t") == QP_CHAIN_ADMIT_OK) s->admitted++;
  qp_sign_key_free(key);
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  qp_chain_mempool_t *mp = pool(1000, 1 << 20, 64);
  submitter_t subs[3] = {{mp, 11, 0}, {mp, 12, 0}, {mp, 13, 0}};
  pthread_t th[3];
  for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, submit_many, &subs[i]);
  qp_buf_t body = {.max = 1 << 22};
  uint32_t taken = 0, count = 0;
  for (int round = 0; round < 50; round++) {
    assert_int_equal(qp_chain_mempool_take(mp, 1000, 1 << 22, &body, &count), 0);
    taken += count;
  }
  for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
  assert_int_equal(qp_chain_mempool_take(mp, 1000, 1 << 22, &body, &count), 0);
  taken += count;
  for (int i = 0; i < 3; i++) assert_int_equal(subs[i].admitted, 60);
  assert_int_equal(taken, 180);
  qp_buf_free(&body);
  qp_chain_mempool_free(mp);
}

/* A transaction whose sender key is of the other suite (sm2 on an ed25519
 * network and the reverse), from a client or forwarded by a peer (both go
 * through qp_chain_mempool_add): refused as wrong_suite, the detail naming
 * the sender field and the network's suite; nothing is admitted, and the
 * pool's own suite still admits. */
static void test_other_suite_refused(void **state) {
  (void)state;
  static const qp_suite_t suites[] = {QP_SUITE_ED25519, QP_SUITE_SM2};
  for (size_t s = 0; s < 2; s++) {
    qp_chain_mempool_t *mp = pool_of(suites[s], 8, 1 << 20, 4);
    qp_sign_key_t *own = test_key(suites[s], 5), *other = test_key(suites[1 - s], 5);
    size_t len = 0;
    uint8_t *tx = test_tx(other, CHAIN, 1, "kv", "put", "{\"key\":\"k\",\"value\":\"v\"}", &len);
    qp_chain_admit_t a = QP_CHAIN_ADMIT__COUNT;
    char detail[256] = "", want[96];
    uint8_t hash[QP_HASH_SIZE] = {0};
    assert_int_equal(qp_chain_mempool_add(mp, tx, len, &a, hash, detail, sizeof detail),
                     QP_EINVAL);
    assert_int_equal(a, QP_CHAIN_ADMIT_WRONG_SUITE);
    assert_string_equal(qp_chain_admit_code(a), "wrong_suite");
    assert_true(strncmp(detail, "sender: ", 8) == 0);
    snprintf(want, sizeof want, "this network uses the %s suite", qp_suite_name(suites[s]));
    assert_non_null(strstr(detail, want));
    assert_non_null(strstr(detail, qp_suite_name(suites[1 - s])));
    qp_chain_mempool_stats_t st;
    qp_chain_mempool_stats(mp, &st);
    assert_int_equal(st.txs, 0);
    assert_int_equal(st.senders, 0);
    assert_int_equal(st.verifications, 0);
    assert_int_equal(st.rejected[QP_CHAIN_ADMIT_WRONG_SUITE], 1);
    assert_int_equal(submit(mp, own, 1, "v"), QP_CHAIN_ADMIT_OK);
    qp_free(tx);
    qp_sign_key_free(own);
    qp_sign_key_free(other);
    qp_chain_mempool_free(mp);
  }
}

/* Submits a Lua call stating `gas` from key with nonce; the result, and
 * the refusal's detail into detail. */
static qp_chain_admit_t submit_call(qp_chain_mempool_t *mp, const qp_sign_key_t *key,
                                    uint64_t nonce, uint64_t gas, char *detail) {
  char args[256];
  snprintf(args, sizeof args, "{\"contract\":\"%064d\",\"method\":\"f\",\"gas\":%llu}", 0,
           (unsigned long long)gas);
  size_t len = 0;
  uint8_t *b = test_tx(key, CHAIN, nonce, "lua", "call", args, &len);
  qp_chain_admit_t a = QP_CHAIN_ADMIT__COUNT;
  detail[0] = '\0';
  int rc = qp_chain_mempool_add(mp, b, len, &a, NULL, detail, 256);
  assert_int_equal(rc, a == QP_CHAIN_ADMIT_OK ? 0 : QP_EINVAL);
  qp_free(b);
  return a;
}

static void test_gas_budget(void **state) {
  (void)state;
  committed.count = 0;
  qp_chain_mempool_config_t c;
  qp_chain_mempool_config_default(&c, 4096);
  c.suite = QP_SUITE_ED25519;
  memcpy(c.chain, CHAIN, QP_HASH_SIZE);
  c.block_gas_max = 3000000;
  c.nonce_fn = nonce_fn;
  c.nonce_ctx = &committed;
  qp_chain_mempool_t *mp = NULL;
  assert_int_equal(qp_chain_mempool_new(&c, &mp), 0);
  qp_sign_key_t *a = test_key(QP_SUITE_ED25519, 1), *b = test_key(QP_SUITE_ED25519, 2),
                *k = test_key(QP_SUITE_ED25519, 3);
  char detail[256];
  /* One call above the whole budget: refused at admission, named. */
  assert_int_equal(submit_call(mp, a, 1, 3000001, detail), QP_CHAIN_ADMIT_GAS_TOO_HIGH);
  assert_non_null(strstr(detail, "args.gas"));
  assert_non_null(strstr(detail, "block_gas_max"));
  assert_string_equal(qp_chain_admit_code(QP_CHAIN_ADMIT_GAS_TOO_HIGH), "gas_too_high");
  qp_chain_mempool_stats_t st;
  qp_chain_mempool_stats(mp, &st);
  assert_int_equal(st.txs, 0);
  assert_int_equal(st.rejected[QP_CHAIN_ADMIT_GAS_TOO_HIGH], 1);
  /* a: the whole budget; b: a call, then a put; k: a put. */
  assert_int_equal(submit_call(mp, a, 1, 3000000, detail), QP_CHAIN_ADMIT_OK);
  assert_int_equal(submit_call(mp, b, 1, 2000000, detail), QP_CHAIN_ADMIT_OK);
  assert_int_equal(submit(mp, b, 2, "b2"), QP_CHAIN_ADMIT_OK);
  assert_int_equal(submit(mp, k, 1, "k1"), QP_CHAIN_ADMIT_OK);
  qp_buf_t body = {.max = 1 << 20};
  qp_chain_tx_t txs[8];
  uint32_t count = 0;
  assert_int_equal(qp_chain_mempool_take(mp, 100, 1 << 20, &body, &count), 0);
  assert_int_equal(count, 2); /* a's call and k's put: b's call would pass the budget */
  assert_int_equal(body_txs(&body, txs, 8), 2);
  assert_int_equal(qp_chain_tx_gas(&txs[0]), 3000000);
  assert_int_equal(qp_chain_tx_gas(&txs[1]), 0);
  assert_int_not_equal(key_byte(&txs[0]), key_byte(&txs[1]));
  assert_true(qp_chain_txs_gas(txs, 2, c.block_gas_max) <= c.block_gas_max);
  /* The next block: b's call and its put behind it. */
  assert_int_equal(qp_chain_mempool_take(mp, 100, 1 << 20, &body, &count), 0);
  assert_int_equal(count, 2);
  assert_int_equal(body_txs(&body, txs, 8), 2);
  assert_int_equal(qp_chain_tx_gas(&txs[0]), 2000000);
  assert_int_equal(txs[1].nonce, 2);
  /* What a voter sums: both calls together are over the budget. */
  qp_chain_mempool_untake(mp);
  assert_int_equal(qp_chain_mempool_take(mp, 100, 1 << 20, &body, &count), 0);
  qp_chain_tx_t both[8];
  size_t n = body_txs(&body, both, 8);
  assert_int_equal(n, 2);
  both[1] = txs[0]; /* a's 3,000,000 and b's 2,000,000 */
  assert_true(qp_chain_txs_gas(both, 2, c.block_gas_max) > c.block_gas_max);
  qp_buf_free(&body);
  qp_sign_key_free(a);
  qp_sign_key_free(b);
  qp_sign_key_free(k);
  qp_chain_mempool_free(mp);
}

/* The stated gas: a call's positive integer gas, 0 for anything else. */
static void test_stated_gas(void **state) {
  (void)state;
  qp_sign_key_t *a = test_key(QP_SUITE_ED25519, 1);
  static const struct {
    const char *app, *method, *args;
    uint64_t gas;
  } cases[] = {
      {"lua", "call", "{\"gas\":123}", 123},
      {"lua", "call", "{\"gas\":0}", 0},
      {"lua", "call", "{\"gas\":-5}", 0},
      {"lua", "call", "{\"gas\":\"7\"}", 0},
      {"lua", "call", "{\"gas\":1.5}", 0},
      {"lua", "deploy", "{\"gas\":9}", 0},
      {"kv", "put", "{\"gas\":9}", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t len = 0;
    uint8_t *b = test_tx(a, CHAIN, 1, cases[i].app, cases[i].method, cases[i].args, &len);
    qp_chain_tx_t tx;
    assert_int_equal(qp_chain_tx_decode(QP_SUITE_ED25519, b, len, 4096, &tx, NULL, 0), 0);
    assert_int_equal(qp_chain_tx_gas(&tx), cases[i].gas);
    qp_free(b);
  }
  qp_sign_key_free(a);
}

/* Admits bytes in mode; returns the result, *sig_ok the pool's answer. */
static qp_chain_admit_t admit_mode(qp_chain_mempool_t *mp, const uint8_t *b, size_t len,
                                   qp_chain_sig_mode_t mode, bool *sig_ok) {
  qp_chain_admit_t a = QP_CHAIN_ADMIT__COUNT;
  int rc = qp_chain_mempool_admit(mp, b, len, mode, &a, sig_ok, NULL, NULL, 0);
  assert_int_equal(rc, a == QP_CHAIN_ADMIT_OK ? 0 : QP_EINVAL);
  return a;
}

/* The signature modes (vouch.h): a vouched transaction goes in unchecked
 * (that is the trust f + 1 vouches buy: the test shows it with a forged
 * one) and counts as vouched, not verified; an attesting admission answers
 * for the signature even when the pool refuses the transaction for its
 * nonce, and a forged one refused that way is reported unsigned. */
static void test_signature_modes(void **state) {
  (void)state;
  qp_chain_mempool_t *mp = pool(64, 1u << 20, 64);
  qp_sign_key_t *k1 = test_key(QP_SUITE_ED25519, 31), *k2 = test_key(QP_SUITE_ED25519, 32);
  size_t len = 0, len2 = 0;
  uint8_t *forged = test_tx(k1, CHAIN, 1, "kv", "put", "{\"key\":\"a\",\"value\":\"1\"}", &len);
  forged[len - 1] ^= 0x40; /* the signature's last byte */
  bool sig_ok = true;
  assert_int_equal(admit_mode(mp, forged, len, QP_CHAIN_SIG_VERIFY, &sig_ok),
                   QP_CHAIN_ADMIT_BAD_SIGNATURE);
  assert_false(sig_ok);
  assert_int_equal(admit_mode(mp, forged, len, QP_CHAIN_SIG_VOUCHED, &sig_ok), QP_CHAIN_ADMIT_OK);
  assert_true(sig_ok);
  qp_chain_mempool_stats_t st;
  qp_chain_mempool_stats(mp, &st);
  assert_int_equal(st.vouched, 1);
  assert_int_equal(st.verifications, 1); /* the VERIFY attempt only */
  assert_int_equal(st.txs, 1);
  /* Held now: a duplicate is known signed in any mode. */
  assert_int_equal(admit_mode(mp, forged, len, QP_CHAIN_SIG_ATTEST, &sig_ok),
                   QP_CHAIN_ADMIT_DUPLICATE);
  assert_true(sig_ok);
  /* Attesting: k2 committed up to nonce 5; nonce 3 is refused as used, yet
   * its signature is checked, and a forged copy is reported unsigned. */
  set_committed(k2, 5);
  uint8_t *used = test_tx(k2, CHAIN, 3, "kv", "put", "{\"key\":\"b\",\"value\":\"2\"}", &len2);
  assert_int_equal(admit_mode(mp, used, len2, QP_CHAIN_SIG_VERIFY, &sig_ok),
                   QP_CHAIN_ADMIT_NONCE_USED);
  assert_false(sig_ok); /* refused before its check */
  assert_int_equal(admit_mode(mp, used, len2, QP_CHAIN_SIG_ATTEST, &sig_ok),
                   QP_CHAIN_ADMIT_NONCE_USED);
  assert_true(sig_ok);
  used[len2 - 1] ^= 0x40;
  assert_int_equal(admit_mode(mp, used, len2, QP_CHAIN_SIG_ATTEST, &sig_ok),
                   QP_CHAIN_ADMIT_NONCE_USED);
  assert_false(sig_ok);
  qp_chain_mempool_stats(mp, &st);
  assert_int_equal(st.verifications, 3);
  assert_int_equal(st.txs, 1);
  qp_free(used);
  qp_free(forged);
  qp_sign_key_free(k1);
  qp_sign_key_free(k2);
  qp_chain_mempool_free(mp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_admission_codes), cmocka_unit_test(test_bytes_bound),
      cmocka_unit_test(test_take_order),      cmocka_unit_test(test_committed),
      cmocka_unit_test(test_hold_absent),
      cmocka_unit_test(test_verified_cache),  cmocka_unit_test(test_threads),
      cmocka_unit_test(test_other_suite_refused), cmocka_unit_test(test_gas_budget),
      cmocka_unit_test(test_stated_gas), cmocka_unit_test(test_signature_modes),
      cmocka_unit_test(test_each), cmocka_unit_test(test_ready_and_room),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
