/*
 * test_catchup.c - unit tests of catching up across epoch changes
 * (src/chain/catchup.c): four real consensus cores commit a chain; a run of
 * its committed blocks with the commit certificate of the last one encodes,
 * decodes and passes the check against the asker's head under the set that
 * signed it; and the check refuses what a Byzantine peer could send
 * instead: a certificate with a forged signature, one whose signatures are
 * of another validator set or of another epoch's statement domain, a run
 * that does not start on the asker's head or skips a block, a cert of
 * another block.  The decoder refuses every truncation and a trailing byte.
 */
#include <stdio.h>
#include <string.h>

#include "test_util.h"
#include "base/alloc.h"
#include "base/err.h"
#include "chain/catchup.h"
#include "chain/consensus.h"
#include "chain/valset.h"

#define NODES 4u
#define QUEUE_MAX 20000u
#define HEIGHTS 24u

typedef struct wire {
  uint32_t from, to;
  uint8_t *bytes;
  size_t len;
} wire_t;

typedef struct net {
  qp_chain_genesis_t g;
  qp_sign_key_t *keys[NODES];
  qp_hs_t *cores[NODES];
  wire_t queue[QUEUE_MAX];
  uint32_t head, tail;
  uint64_t now_ms;
  uint64_t timer_ms[NODES];
  uint32_t payloads;                 /* still to propose */
  uint8_t *enc[HEIGHTS + 1];         /* node 0's committed blocks, encoded (qp_malloc'ed) */
  size_t enc_len[HEIGHTS + 1];
  uint8_t *cert[HEIGHTS + 1];        /* ... the cert each COMMIT came with, encoded */
  size_t cert_len[HEIGHTS + 1];
  bool own[HEIGHTS + 1];             /* ... and it certifies that very block */
  uint64_t height;                   /* node 0's committed height */
} net_t;

static qp_sign_key_t *key_of(uint8_t seed) {
  uint8_t secret[QP_SIGN_SECRET_SIZE];
  memset(secret, seed, sizeof secret);
  qp_sign_key_t *key = NULL;
  assert_int_equal(qp_sign_key_from_secret(QP_SUITE_ED25519, secret, 32, &key), 0);
  return key;
}

/* A genesis of four validators whose keys have seeds first..first+3. */
static void make_genesis(qp_chain_genesis_t *g, qp_sign_key_t **keep, uint8_t first) {
  memset(g, 0, sizeof *g);
  snprintf(g->chain_id, sizeof g->chain_id, "test");
  g->suite = QP_SUITE_ED25519;
  g->validators_count = NODES;
  g->params = (qp_chain_params_t){.block_txs_max = 64, .block_bytes_max = 4096,
                                  .tx_bytes_max = 1024, .view_timeout_ms = 100};
  for (uint32_t i = 0; i < NODES; i++) {
    qp_sign_key_t *k = key_of((uint8_t)(first + i));
    size_t len = 0;
    qp_sign_public(k, g->validators[i].public_key, &len);
    g->validators[i].public_key_len = (uint32_t)len;
    snprintf(g->validators[i].name, sizeof g->validators[i].name, "node%u", i);
    if (keep != NULL) keep[i] = k;
    else qp_sign_key_free(k);
  }
  qp_hash256(g->hash, "test-genesis", 12);
}

static void record_commit(net_t *c, const qp_hs_action_t *a) {
  uint64_t h = a->block->header.height;
  assert_int_equal(h, c->height + 1);
  c->height = h;
  if (h > HEIGHTS) return;
  assert_int_equal(qp_hs_encode_block(&c->g, a->block, &c->enc[h], &c->enc_len[h]), 0);
  assert_int_equal(qp_hs_encode_cert(&c->g, a->cert, &c->cert[h], &c->cert_len[h]), 0);
  c->own[h] = memcmp(a->cert->child.parent_hash, a->block->hash, QP_HASH_SIZE) == 0;
}

static void drain(net_t *c, uint32_t i) {
  const qp_hs_action_t *acts;
  size_t n = qp_hs_actions(c->cores[i], &acts);
  bool need = false;
  for (size_t k = 0; k < n; k++) {
    const qp_hs_action_t *a = &acts[k];
    if (a->kind == QP_HS_ACT_SEND || a->kind == QP_HS_ACT_BROADCAST) {
      for (uint32_t to = 0; to < NODES; to++) {
        if (to == i || (a->kind == QP_HS_ACT_SEND && a->to != to)) continue;
        assert_true(c->tail < QUEUE_MAX);
        wire_t *w = &c->queue[c->tail++];
        *w = (wire_t){i, to, qp_malloc(a->len), a->len};
        memcpy(w->bytes, a->bytes, a->len);
      }
    } else if (a->kind == QP_HS_ACT_COMMIT && i == 0) {
      record_commit(c, a);
    } else if (a->kind == QP_HS_ACT_NEED_PAYLOAD) {
      need = true;
    } else if (a->kind == QP_HS_ACT_TIMER) {
      c->timer_ms[i] = a->at_ms;
    }
  }
  static const uint8_t root[QP_HASH_SIZE];
  uint8_t payload[8] = {'p', 'a', 'y', 0, 0, 0, 0, 0};
  memcpy(payload + 4, &c->payloads, 4);
  if (need && c->payloads > 0 &&
      qp_hs_propose(c->cores[i], payload, sizeof payload, root, root, root, c->now_ms) == 0) {
    c->payloads--;
    drain(c, i);
  }
}

/* Runs the four cores until node 0 committed HEIGHTS blocks. */
static void run_chain(net_t *c) {
  memset(c, 0, sizeof *c);
  assert_int_equal(qp_crypto_init(), 0);
  make_genesis(&c->g, c->keys, 1);
  c->now_ms = 1000;
  c->payloads = HEIGHTS + 8;
  for (uint32_t i = 0; i < NODES; i++) {
    qp_hs_config_t cfg = {.genesis = &c->g, .self = (int32_t)i, .key = c->keys[i]};
    assert_int_equal(qp_hs_create(&cfg, c->now_ms, &c->cores[i]), 0);
    drain(c, i);
  }
  for (uint32_t s = 0; s < 200000 && c->height < HEIGHTS; s++) {
    for (uint32_t i = 0; i < NODES && c->payloads > 0; i++) {
      assert_int_equal(qp_hs_set_pending(c->cores[i], true, c->now_ms), 0);
      drain(c, i);
    }
    if (c->head < c->tail) {
      wire_t w = c->queue[c->head++];
      c->now_ms++;
      qp_hs_on_message(c->cores[w.to], w.from, w.bytes, w.len, c->now_ms);
      drain(c, w.to);
      qp_free(w.bytes);
      continue;
    }
    uint32_t who = 0;
    for (uint32_t i = 1; i < NODES; i++)
      if (c->timer_ms[i] < c->timer_ms[who]) who = i;
    if (c->timer_ms[who] == UINT64_MAX) break;
    if (c->timer_ms[who] > c->now_ms) c->now_ms = c->timer_ms[who];
    qp_hs_on_tick(c->cores[who], c->now_ms);
    drain(c, who);
  }
  assert_true(c->height >= HEIGHTS);
}

static void close_chain(net_t *c) {
  for (uint32_t i = 0; i < NODES; i++) {
    qp_hs_destroy(c->cores[i]);
    qp_sign_key_free(c->keys[i]);
  }
  for (uint32_t k = c->head; k < c->tail; k++) qp_free(c->queue[k].bytes);
  for (uint32_t h = 0; h <= HEIGHTS; h++) {
    qp_free(c->enc[h]);
    qp_free(c->cert[h]);
  }
}

/* The lowest height above `from` committed with its own cert. */
static uint64_t own_cert_at(const net_t *c, uint64_t from) {
  for (uint64_t h = from; h <= HEIGHTS; h++)
    if (c->own[h]) return h;
  fail_msg("no block with its own cert");
  return 0;
}

/* A RESPONSE of blocks from..to with `cert` (NULL: block to's own). */
static uint8_t *response(const net_t *c, uint64_t from, uint64_t to, const uint8_t *cert,
                         size_t cert_len, size_t *len) {
  const uint8_t *parts[QP_CHAIN_CATCHUP_BLOCKS_MAX];
  size_t lens[QP_CHAIN_CATCHUP_BLOCKS_MAX];
  uint32_t n = 0;
  for (uint64_t h = from; h <= to; h++, n++) parts[n] = c->enc[h], lens[n] = c->enc_len[h];
  uint8_t *out = NULL;
  assert_int_equal(qp_chain_catchup_response(3, 40, parts, lens, n, cert ? cert : c->cert[to],
                                              cert ? cert_len : c->cert_len[to], 0, &out, len),
                   0);
  return out;
}

/* The consensus hash of block h (the genesis block's at 0). */
static void hash_at(const net_t *c, uint64_t h, uint8_t out[QP_HASH_SIZE]) {
  qp_hs_block_t b;
  if (h == 0) qp_hs_genesis_block(&c->g, &b);
  else assert_int_equal(qp_hs_decode_block(&c->g, c->enc[h], c->enc_len[h], &b), 0);
  memcpy(out, b.hash, QP_HASH_SIZE);
}

static int check(const net_t *c, const qp_chain_genesis_t *g, uint64_t head, const uint8_t *bytes,
                 size_t len, char *detail) {
  static qp_chain_catchup_msg_t m;
  uint8_t hh[QP_HASH_SIZE];
  hash_at(c, head, hh);
  int rc = qp_chain_catchup_decode(g, bytes, len, &m);
  if (rc != 0) return rc;
  return qp_chain_catchup_check(g, head, hh, &m, detail, 256);
}

static net_t chain;

static int setup(void **state) {
  (void)state;
  run_chain(&chain);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  close_chain(&chain);
  return 0;
}

static void test_a_run_checks(void **state) {
  (void)state;
  char detail[256] = "";
  uint64_t top = own_cert_at(&chain, 5);
  size_t len = 0;
  uint8_t *r = response(&chain, 1, top, NULL, 0, &len);
  static qp_chain_catchup_msg_t m;
  assert_int_equal(qp_chain_catchup_decode(&chain.g, r, len, &m), 0);
  assert_int_equal(m.type, QP_CHAIN_CATCHUP_RESPONSE);
  assert_int_equal(m.count, top);
  assert_int_equal(m.epoch, 3);
  assert_int_equal(m.head, 40);
  assert_int_equal(check(&chain, &chain.g, 0, r, len, detail), 0);
  qp_free(r);
  /* From further on, on that head. */
  uint64_t top2 = own_cert_at(&chain, top + 3);
  r = response(&chain, top + 1, top2, NULL, 0, &len);
  assert_int_equal(check(&chain, &chain.g, top, r, len, detail), 0);
  qp_free(r);
  /* A request round-trips. */
  uint8_t q[QP_CHAIN_CATCHUP_REQUEST_BYTES];
  qp_chain_catchup_request(7, 123, true, q);
  assert_int_equal(qp_chain_catchup_decode(&chain.g, q, sizeof q, &m), 0);
  assert_int_equal(m.type, QP_CHAIN_CATCHUP_REQUEST);
  assert_int_equal(m.epoch, 7);
  assert_int_equal(m.from, 123);
  assert_true(m.to_head);
  qp_chain_catchup_request(7, 123, false, q);
  assert_int_equal(qp_chain_catchup_decode(&chain.g, q, sizeof q, &m), 0);
  assert_false(m.to_head);
  q[13] = 2; /* a flag outside 0..1 */
  assert_int_equal(qp_chain_catchup_decode(&chain.g, q, sizeof q, &m), QP_EPARSE);
  assert_int_equal(qp_chain_catchup_decode(&chain.g, q, sizeof q - 1, &m), QP_EPARSE);
  qp_chain_catchup_request(7, 0, false, q);
  assert_int_not_equal(qp_chain_catchup_decode(&chain.g, q, sizeof q, &m), 0);
}

static void test_forged_certificate_refused(void **state) {
  (void)state;
  char detail[256] = "";
  uint64_t top = own_cert_at(&chain, 4);
  size_t len = 0;
  /* Every byte of the cert's last signature (its QC over the child) flipped
   * in turn: refused each time. */
  uint8_t *cert = qp_malloc(chain.cert_len[top]);
  for (size_t at = chain.cert_len[top] - 64; at < chain.cert_len[top]; at += 7) {
    memcpy(cert, chain.cert[top], chain.cert_len[top]);
    cert[at] ^= 0x20;
    uint8_t *r = response(&chain, 1, top, cert, chain.cert_len[top], &len);
    int rc = check(&chain, &chain.g, 0, r, len, detail);
    assert_true(rc == QP_EBADPROOF || rc == QP_EPARSE || rc == QP_EINVAL);
    if (rc == QP_EBADPROOF) assert_non_null(strstr(detail, "cert"));
    qp_free(r);
  }
  qp_free(cert);
  /* The cert of another block for this run. */
  uint64_t other = own_cert_at(&chain, top + 1);
  uint8_t *r = response(&chain, 1, top, chain.cert[other], chain.cert_len[other], &len);
  assert_int_equal(check(&chain, &chain.g, 0, r, len, detail), QP_EBADPROOF);
  assert_non_null(strstr(detail, "not the child"));
  qp_free(r);
}

static void test_wrong_set_refused(void **state) {
  (void)state;
  char detail[256] = "";
  uint64_t top = own_cert_at(&chain, 4);
  size_t len = 0;
  uint8_t *r = response(&chain, 1, top, NULL, 0, &len);
  /* Another validator set (what a peer could claim the set is). */
  static qp_chain_genesis_t other;
  make_genesis(&other, NULL, 11);
  int rc = check(&chain, &other, 0, r, len, detail);
  assert_true(rc == QP_EBADPROOF || rc == QP_EINVAL);
  /* The same validators, but a later epoch's statement domain: nothing
   * signed in one epoch counts in another. */
  static qp_chain_valset_t set;
  static qp_chain_genesis_t epoch1;
  qp_chain_valset_genesis(&chain.g, &set);
  set.epoch = 1;
  uint8_t base[QP_HASH_SIZE];
  hash_at(&chain, 0, base);
  assert_int_equal(qp_chain_epoch_config(&chain.g, &set, 0, 0, base, &epoch1), 0);
  rc = check(&chain, &epoch1, 0, r, len, detail);
  assert_true(rc == QP_EBADPROOF || rc == QP_EINVAL);
  qp_free(r);
}

static void test_run_off_the_head_refused(void **state) {
  (void)state;
  char detail[256] = "";
  uint64_t top = own_cert_at(&chain, 5);
  size_t len = 0;
  uint8_t *r = response(&chain, 2, top, NULL, 0, &len);
  assert_int_equal(check(&chain, &chain.g, 0, r, len, detail), QP_EBADPROOF); /* a gap */
  assert_non_null(strstr(detail, "next height"));
  assert_int_equal(check(&chain, &chain.g, 1, r, len, detail), 0);
  qp_free(r);
  /* A block left out of the middle. */
  const uint8_t *parts[3] = {chain.enc[1], chain.enc[2], chain.enc[4]};
  size_t lens[3] = {chain.enc_len[1], chain.enc_len[2], chain.enc_len[4]};
  top = own_cert_at(&chain, 4);
  if (top == 4) {
    assert_int_equal(qp_chain_catchup_response(1, 4, parts, lens, 3, chain.cert[4],
                                               chain.cert_len[4], 0, &r, &len), 0);
    assert_int_equal(check(&chain, &chain.g, 0, r, len, detail), QP_EBADPROOF);
    qp_free(r);
  }
  /* The right heights on another head hash. */
  static qp_chain_catchup_msg_t m;
  r = response(&chain, 1, own_cert_at(&chain, 3), NULL, 0, &len);
  assert_int_equal(qp_chain_catchup_decode(&chain.g, r, len, &m), 0);
  uint8_t wrong[QP_HASH_SIZE] = {1};
  assert_int_equal(qp_chain_catchup_check(&chain.g, 0, wrong, &m, detail, sizeof detail),
                   QP_EBADPROOF);
  assert_non_null(strstr(detail, "parent"));
  qp_free(r);
}

static void test_decode_strict(void **state) {
  (void)state;
  size_t len = 0;
  uint8_t *r = response(&chain, 1, own_cert_at(&chain, 2), NULL, 0, &len);
  static qp_chain_catchup_msg_t m;
  for (size_t cut = 0; cut < len; cut++)
    assert_int_not_equal(qp_chain_catchup_decode(&chain.g, r, cut, &m), 0);
  uint8_t *longer = qp_malloc(len + 1);
  memcpy(longer, r, len);
  longer[len] = 0;
  assert_int_not_equal(qp_chain_catchup_decode(&chain.g, longer, len + 1, &m), 0);
  longer[13] = 0; /* no block */
  assert_int_equal(qp_chain_catchup_decode(&chain.g, longer, len, &m), QP_EPARSE);
  longer[13] = QP_CHAIN_CATCHUP_BLOCKS_MAX + 1;
  assert_int_equal(qp_chain_catchup_decode(&chain.g, longer, len, &m), QP_EPARSE);
  longer[0] = 9; /* unknown type */
  assert_int_equal(qp_chain_catchup_decode(&chain.g, longer, len, &m), QP_EPARSE);
  qp_free(longer);
  qp_free(r);
  assert_int_equal(qp_chain_catchup_response(0, 0, NULL, NULL, 0, NULL, 0, 0, &r, &len),
                   QP_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_run_checks),
      cmocka_unit_test(test_forged_certificate_refused),
      cmocka_unit_test(test_wrong_set_refused),
      cmocka_unit_test(test_run_off_the_head_refused),
      cmocka_unit_test(test_decode_strict),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
