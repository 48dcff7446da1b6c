/*
 * test_consensus.c - unit tests of the consensus core (src/chain): the wire
 * format round-trips and refuses every truncation, trailing byte and
 * inconsistency; four validators on a perfect in-memory network commit the
 * same blocks in height order; a QC with a forged or reused signature is
 * refused and repeated votes of one validator never make a quorum; no vote
 * or timeout ever leaves before the PERSIST of a record covering it; a
 * validator restarted from its safety record never votes twice in a view;
 * a silent leader is replaced through a TC and the chain keeps committing.
 * Every commit, in every test, is checked against the two-chain rule: the
 * highest block committed has a child one view later that the node's
 * highest QC certifies (a commit across a view change would break it).
 * Both suites run the protocol, and a vote, timeout, proposal or QC signed
 * in the other suite is refused without a trace.
 */
#include <stdio.h>
#include <string.h>

#include "test_util.h"
#include "base/alloc.h"
#include "base/err.h"
#include "chain/consensus.h"
#include "chain/consensus_int.h"

#define NODES 4u
#define QUEUE_MAX 20000u

typedef struct wire {
  uint32_t from, to;  /* link */
  uint8_t *bytes;     /* qp_malloc'ed */
  size_t len;         /* length */
} wire_t;

typedef struct cluster {
  qp_chain_genesis_t g;                             /* the network */
  qp_sign_key_t *keys[NODES];                       /* validators' keys */
  qp_hs_t *cores[NODES];                            /* the cores */
  uint8_t safety[NODES][QP_HS_SAFETY_BYTES_MAX];    /* "disk" */
  size_t safety_len[NODES];                         /* 0 = none */
  uint64_t persisted_view[NODES];                   /* last_voted_view on "disk" */
  wire_t queue[QUEUE_MAX];                          /* FIFO */
  uint32_t head, tail;                              /* queue bounds */
  uint64_t now_ms;                                  /* the clock */
  uint64_t timer_ms[NODES];                         /* deadlines */
  uint64_t heights[NODES];                          /* committed heights */
  qp_hs_block_t last[NODES];                        /* last committed (payload dropped) */
  uint8_t hashes[64][QP_HASH_SIZE];                 /* committed hash per height */
  bool silent[NODES];                               /* drops everything */
  bool want_payload[NODES];                         /* a NEED_PAYLOAD is open */
  uint32_t txs;                                     /* payloads still to propose */
  uint32_t votes_sent[NODES][256];                  /* votes sent, by view */
} cluster_t;

/* Validator i's key in suite: 32 bytes of i + 1 (a valid SM2 scalar too). */
static qp_sign_key_t *validator_key(qp_suite_t suite, uint32_t i) {
  uint8_t secret[QP_SIGN_SECRET_SIZE];
  memset(secret, (int)(i + 1), sizeof secret);
  qp_sign_key_t *key = NULL;
  assert_int_equal(qp_sign_key_from_secret(suite, secret, 32, &key), 0);
  return key;
}

static void make_genesis(cluster_t *c, qp_suite_t suite) {
  memset(&c->g, 0, sizeof c->g);
  snprintf(c->g.chain_id, sizeof c->g.chain_id, "test");
  c->g.suite = suite;
  c->g.validators_count = NODES;
  c->g.params = (qp_chain_params_t){.block_txs_max = 64, .block_bytes_max = 4096,
                                    .tx_bytes_max = 1024, .view_timeout_ms = 100};
  for (uint32_t i = 0; i < NODES; i++) {
    c->keys[i] = validator_key(suite, i);
    size_t len = 0;
    qp_sign_public(c->keys[i], c->g.validators[i].public_key, &len);
    c->g.validators[i].public_key_len = (uint32_t)len;
  }
  qp_hash256(c->g.hash, "test-genesis", 12);
}

static void start(cluster_t *c, uint32_t i) {
  qp_hs_config_t cfg = {.genesis = &c->g, .self = (int32_t)i, .key = c->keys[i],
                        .safety = c->safety_len[i] ? c->safety[i] : NULL,
                        .safety_len = c->safety_len[i],
                        .committed = c->heights[i] ? &c->last[i] : NULL};
  assert_int_equal(qp_hs_create(&cfg, c->now_ms, &c->cores[i]), 0);
}

static void enqueue(cluster_t *c, uint32_t from, uint32_t to, const uint8_t *b, size_t len) {
  assert_true(c->tail < QUEUE_MAX);
  wire_t *w = &c->queue[c->tail++];
  w->from = from;
  w->to = to;
  w->bytes = qp_malloc(len);
  memcpy(w->bytes, b, len);
  w->len = len;
}

/* Signed messages may leave only after a record covering them is on disk. */
static void check_persisted(cluster_t *c, uint32_t i, const uint8_t *b, size_t len) {
  static qp_hs_msg_t m;
  if (qp_hs_msg_decode(&c->g, b, len, &m) != 0) return;
  if (m.type == QP_HS_MSG_VOTE) {
    assert_true(m.vote.view <= c->persisted_view[i]);
    assert_true(m.vote.view < 256);
    c->votes_sent[i][m.vote.view]++;
  }
  if (m.type == QP_HS_MSG_TIMEOUT) assert_true(m.timeout.view <= c->persisted_view[i]);
}

static void on_commit(cluster_t *c, uint32_t i, const qp_hs_block_t *b) {
  assert_int_equal(b->header.height, c->heights[i] + 1);
  c->heights[i] = b->header.height;
  c->last[i] = *b;
  c->last[i].payload = NULL;
  assert_true(b->header.height < 64);
  static const uint8_t zero[QP_HASH_SIZE];
  if (memcmp(c->hashes[b->header.height], zero, QP_HASH_SIZE) == 0)
    memcpy(c->hashes[b->header.height], b->hash, QP_HASH_SIZE);
  assert_memory_equal(c->hashes[b->header.height], b->hash, QP_HASH_SIZE);
}

static void drain(cluster_t *c, uint32_t i);

/* The two-chain commit rule, from the node's own tree: B (the highest block
 * just committed) has a child C with C.view == B.view + 1, and the QC that
 * certifies C is the node's highest. */
static void check_two_chain(cluster_t *c, uint32_t i, const qp_hs_block_t *b) {
  const qp_hs_qc_t *qc = qp_hs_high_qc(c->cores[i]);
  const qp_hs_block_t *child = qp_hs_block_find(c->cores[i], qc->block_hash);
  assert_non_null(child);
  assert_memory_equal(child->header.parent_hash, b->hash, QP_HASH_SIZE);
  assert_int_equal(child->header.view, b->header.view + 1);
  assert_int_equal(qc->view, child->header.view);
}

/* The proposal core i just broadcast carries timestamp stamp_ms. */
static void check_stamp(cluster_t *c, uint32_t i, uint64_t stamp_ms) {
  const qp_hs_action_t *acts;
  size_t n = qp_hs_actions(c->cores[i], &acts);
  qp_hs_msg_t *m = qp_malloc(sizeof *m);
  assert_non_null(m);
  bool seen = false;
  for (size_t k = 0; k < n; k++) {
    if (acts[k].kind != QP_HS_ACT_BROADCAST ||
        qp_hs_msg_decode(&c->g, acts[k].bytes, acts[k].len, m) != 0 ||
        m->type != QP_HS_MSG_PROPOSAL)
      continue;
    assert_int_equal(m->blocks[0].header.timestamp_ms, stamp_ms);
    seen = true;
  }
  assert_true(seen);
  qp_free(m);
}

static void maybe_propose(cluster_t *c, uint32_t i, bool empty_ok) {
  static const uint8_t root[QP_HASH_SIZE];
  uint8_t payload[8] = {'t', 'x', 0, 0, 0, 0, 0, 0};
  if (c->txs == 0 && !empty_ok) return;
  memcpy(payload + 2, &c->txs, 4);
  uint32_t len = c->txs > 0 ? 8 : 0;
  c->want_payload[i] = false;
  /* The node executes the payload at the time the core will stamp: the
   * prediction must be the proposal's timestamp exactly. */
  uint64_t stamp_ms = qp_hs_proposal_time_ms(c->cores[i], c->now_ms);
  if (qp_hs_propose(c->cores[i], payload, len, root, root, root, c->now_ms) == 0) {
    if (len) c->txs--;
    check_stamp(c, i, stamp_ms);
  }
  drain(c, i);
}

static void drain(cluster_t *c, uint32_t i) {
  const qp_hs_action_t *acts;
  size_t n = qp_hs_actions(c->cores[i], &acts);
  bool need = false, empty_ok = false;
  const qp_hs_block_t *top = NULL; /* the highest block committed by this call */
  for (size_t k = 0; k < n; k++) {
    const qp_hs_action_t *a = &acts[k];
    if (a->kind == QP_HS_ACT_PERSIST) {
      qp_hs_safety_t s;
      assert_int_equal(qp_hs_safety_decode(&c->g, a->bytes, a->len, &s), 0);
      memcpy(c->safety[i], a->bytes, a->len);
      c->safety_len[i] = a->len;
      c->persisted_view[i] = s.last_voted_view;
    } else if (a->kind == QP_HS_ACT_SEND || a->kind == QP_HS_ACT_BROADCAST) {
      check_persisted(c, i, a->bytes, a->len);
      for (uint32_t to = 0; to < NODES; to++)
        if (to != i && (a->kind == QP_HS_ACT_BROADCAST || a->to == to))
          enqueue(c, i, to, a->bytes, a->len);
    } else if (a->kind == QP_HS_ACT_COMMIT) {
      on_commit(c, i, a->block);
      top = a->block;
    } else if (a->kind == QP_HS_ACT_NEED_PAYLOAD) {
      need = true;
      empty_ok = a->empty_ok;
    } else if (a->kind == QP_HS_ACT_TIMER) {
      c->timer_ms[i] = a->at_ms;
    }
  }
  if (top != NULL) check_two_chain(c, i, top);
  if (need) c->want_payload[i] = true;
  if (need) maybe_propose(c, i, empty_ok);
}

static void cluster_open_suite(cluster_t *c, qp_suite_t suite) {
  memset(c, 0, sizeof *c);
  assert_int_equal(qp_crypto_init(), 0);
  make_genesis(c, suite);
  c->now_ms = 1000;
  for (uint32_t i = 0; i < NODES; i++) {
    start(c, i);
    drain(c, i);
  }
}

static void cluster_open(cluster_t *c) { cluster_open_suite(c, QP_SUITE_ED25519); }

static void cluster_close(cluster_t *c) {
  for (uint32_t i = 0; i < NODES; i++) {
    qp_hs_destroy(c->cores[i]);
    qp_sign_key_free(c->keys[i]);
  }
  for (uint32_t k = c->head; k < c->tail; k++) qp_free(c->queue[k].bytes);
}

static void set_pending(cluster_t *c, bool pending) {
  for (uint32_t i = 0; i < NODES; i++) {
    if (c->silent[i]) continue;
    assert_int_equal(qp_hs_set_pending(c->cores[i], pending, c->now_ms), 0);
    drain(c, i);
    if (c->want_payload[i]) maybe_propose(c, i, false);
  }
}

/* One event: the next message (1 ms later), or else the earliest timer. */
static bool step(cluster_t *c) {
  if (c->head < c->tail) {
    wire_t w = c->queue[c->head++];
    c->now_ms++;
    if (!c->silent[w.to] && !c->silent[w.from]) {
      qp_hs_on_message(c->cores[w.to], w.from, w.bytes, w.len, c->now_ms);
      drain(c, w.to);
    }
    qp_free(w.bytes);
    return true;
  }
  uint32_t who = NODES;
  for (uint32_t i = 0; i < NODES; i++)
    if (!c->silent[i] && c->timer_ms[i] != UINT64_MAX &&
        (who == NODES || c->timer_ms[i] < c->timer_ms[who]))
      who = i;
  if (who == NODES) return false;
  if (c->timer_ms[who] > c->now_ms) c->now_ms = c->timer_ms[who];
  assert_int_equal(qp_hs_on_tick(c->cores[who], c->now_ms), 0);
  drain(c, who);
  return true;
}

static uint64_t min_height(const cluster_t *c) {
  uint64_t m = UINT64_MAX;
  for (uint32_t i = 0; i < NODES; i++)
    if (!c->silent[i] && c->heights[i] < m) m = c->heights[i];
  return m;
}

static void run_until(cluster_t *c, uint64_t height, uint32_t steps_max) {
  for (uint32_t s = 0; s < steps_max && min_height(c) < height; s++) {
    if (c->txs > 0) set_pending(c, true);
    if (!step(c)) break;
  }
}

/* ---------------------------------------------------------------- tests */

static void four_validators_commit(qp_suite_t suite) {
  static cluster_t c;
  cluster_open_suite(&c, suite);
  c.txs = 10;
  run_until(&c, 10, 20000);
  assert_true(min_height(&c) >= 10);
  for (uint32_t i = 0; i < NODES; i++)
    assert_memory_equal(qp_hs_committed(c.cores[i])->hash, c.hashes[c.heights[i]], 32);
  /* Idle: nothing pending, nothing uncommitted and non-empty: no timer. */
  set_pending(&c, false);
  for (uint32_t s = 0; s < 2000 && step(&c); s++) {
  }
  for (uint32_t i = 0; i < NODES; i++) assert_int_equal(c.timer_ms[i], UINT64_MAX);
  for (uint32_t i = 0; i < NODES; i++)
    for (uint32_t v = 0; v < 256; v++) assert_true(c.votes_sent[i][v] <= 1);
  cluster_close(&c);
}

static void test_four_validators_commit(void **state) {
  (void)state;
  four_validators_commit(QP_SUITE_ED25519);
}

/* The GM/T suite runs the same protocol: SM2 votes, QCs and proposals, SM3
 * block hashes. */
static void test_four_validators_commit_sm2(void **state) {
  (void)state;
  four_validators_commit(QP_SUITE_SM2);
}

static void test_silent_leader_view_change(void **state) {
  (void)state;
  static cluster_t c;
  cluster_open(&c);
  c.silent[1] = true; /* leads view 1, 5, 9, ... */
  c.txs = 8;
  run_until(&c, 6, 50000);
  assert_true(min_height(&c) >= 6);
  for (uint32_t i = 0; i < NODES; i++)
    if (!c.silent[i]) assert_true(qp_hs_view(c.cores[i]) > 6);
  cluster_close(&c);
}

static void test_restart_never_double_votes(void **state) {
  (void)state;
  static cluster_t c;
  cluster_open(&c);
  c.txs = 3;
  run_until(&c, 2, 20000);
  uint32_t i = 2;
  uint64_t voted = qp_hs_last_voted_view(c.cores[i]);
  assert_true(voted > 0);
  assert_int_equal(c.persisted_view[i], voted);
  /* Crash and restart from the record: the view it resumes in is above
   * every view it voted in, so no proposal can make it vote there again. */
  qp_hs_destroy(c.cores[i]);
  start(&c, i);
  drain(&c, i);
  assert_int_equal(qp_hs_last_voted_view(c.cores[i]), voted);
  assert_true(qp_hs_view(c.cores[i]) >= voted);
  c.txs = 4;
  run_until(&c, 5, 40000);
  assert_true(min_height(&c) >= 5);
  for (uint32_t v = 0; v < 256; v++) assert_true(c.votes_sent[i][v] <= 1);
  /* A corrupted record is refused, never silently replaced by a fresh one. */
  c.safety[i][5] ^= 1;
  qp_hs_t *bad = NULL;
  qp_hs_config_t cfg = {.genesis = &c.g, .self = (int32_t)i, .key = c.keys[i],
                        .safety = c.safety[i], .safety_len = c.safety_len[i]};
  assert_int_equal(qp_hs_create(&cfg, c.now_ms, &bad), QP_ECORRUPT);
  cluster_close(&c);
}

/* Builds a proposal for view 1 by validator 1 on the genesis QC. */
static void first_block(cluster_t *c, qp_hs_block_t *b, const uint8_t *payload, uint32_t len) {
  memset(b, 0, sizeof *b);
  qp_hs_genesis_qc(&c->g, &b->header.justify);
  b->header.height = 1;
  b->header.view = 1;
  b->header.proposer = 1;
  b->header.timestamp_ms = 5;
  memcpy(b->header.parent_hash, b->header.justify.block_hash, QP_HASH_SIZE);
  b->payload = payload;
  b->payload_len = len;
  assert_int_equal(qp_hs_block_seal(&c->g, c->keys[1], b), 0);
}

static void test_codec_round_trip_and_strictness(void **state) {
  (void)state;
  static cluster_t c;
  static qp_hs_msg_t m;
  cluster_open(&c);
  qp_hs_block_t b;
  const uint8_t payload[5] = {1, 2, 3, 4, 5};
  first_block(&c, &b, payload, 5);
  uint8_t *bytes;
  size_t len;
  assert_int_equal(qp_hs_encode_proposal(&c.g, &b, NULL, &bytes, &len), 0);
  assert_int_equal(qp_hs_msg_decode(&c.g, bytes, len, &m), 0);
  assert_int_equal(m.type, QP_HS_MSG_PROPOSAL);
  assert_memory_equal(m.blocks[0].hash, b.hash, 32);
  assert_int_equal(m.blocks[0].payload_len, 5);
  assert_memory_equal(m.blocks[0].payload, payload, 5);
  for (size_t cut = 0; cut < len; cut++)
    assert_int_not_equal(qp_hs_msg_decode(&c.g, bytes, cut, &m), 0);
  uint8_t *longer = qp_malloc(len + 1);
  memcpy(longer, bytes, len);
  longer[len] = 0;
  assert_int_equal(qp_hs_msg_decode(&c.g, longer, len + 1, &m), QP_EPARSE);
  longer[0] = 2; /* version */
  assert_int_equal(qp_hs_msg_decode(&c.g, longer, len, &m), QP_EPARSE);
  longer[0] = 1;
  longer[len - 2] ^= 1; /* the last payload byte: payload_hash no longer matches */
  assert_int_equal(qp_hs_msg_decode(&c.g, longer, len, &m), QP_EINVAL);
  qp_free(longer);
  qp_free(bytes);
  /* A vote and a timeout round-trip. */
  qp_hs_vote_t v;
  assert_int_equal(qp_hs_vote_sign(&c.g, c.keys[2], 2, 1, 1, b.hash, &v), 0);
  assert_int_equal(qp_hs_encode_vote(&c.g, &v, &bytes, &len), 0);
  assert_int_equal(qp_hs_msg_decode(&c.g, bytes, len, &m), 0);
  assert_memory_equal(&m.vote, &v, sizeof v);
  bytes[len - QP_HS_SIG_SIZE - 4] = 9; /* voter 9 is not a validator */
  assert_int_equal(qp_hs_msg_decode(&c.g, bytes, len, &m), QP_EINVAL);
  qp_free(bytes);
  qp_hs_timeout_t t = {.view = 3, .sender = 1};
  qp_hs_genesis_qc(&c.g, &t.high_qc);
  assert_int_equal(qp_hs_encode_timeout(&c.g, &t, &bytes, &len), 0);
  assert_int_equal(qp_hs_msg_decode(&c.g, bytes, len, &m), 0);
  assert_int_equal(m.timeout.view, 3);
  qp_free(bytes);
  /* A block request, a response, a bare block. */
  assert_int_equal(qp_hs_encode_block_request(b.hash, 8, &bytes, &len), 0);
  assert_int_equal(qp_hs_msg_decode(&c.g, bytes, len, &m), 0);
  bytes[len - 1] = 9; /* count past QP_HS_FETCH_BLOCKS_MAX */
  assert_int_equal(qp_hs_msg_decode(&c.g, bytes, len, &m), QP_EPARSE);
  qp_free(bytes);
  const qp_hs_block_t *list[1] = {&b};
  assert_int_equal(qp_hs_encode_block_response(&c.g, list, 1, &bytes, &len), 0);
  assert_int_equal(qp_hs_msg_decode(&c.g, bytes, len, &m), 0);
  qp_free(bytes);
  qp_hs_block_t back;
  assert_int_equal(qp_hs_encode_block(&c.g, &b, &bytes, &len), 0);
  assert_int_equal(qp_hs_decode_block(&c.g, bytes, len, &back), 0);
  assert_memory_equal(back.hash, b.hash, 32);
  qp_free(bytes);
  /* The safety record round-trips; a flipped bit is corruption. */
  qp_hs_safety_t s = {.last_voted_view = 7}, s2;
  qp_hs_genesis_qc(&c.g, &s.high_qc);
  uint8_t rec[QP_HS_SAFETY_BYTES_MAX];
  size_t rec_len = qp_hs_safety_encode(&s, rec);
  assert_int_equal(qp_hs_safety_decode(&c.g, rec, rec_len, &s2), 0);
  assert_int_equal(s2.last_voted_view, 7);
  rec[3] ^= 0x10;
  assert_int_equal(qp_hs_safety_decode(&c.g, rec, rec_len, &s2), QP_ECORRUPT);
  assert_int_equal(qp_hs_safety_decode(&c.g, rec, rec_len - 1, &s2), QP_ECORRUPT);
  cluster_close(&c);
}

/* A QC with one signature forged, or one signature reused for another
 * signer, is refused; the same vote three times is one vote. */
static void test_forged_and_duplicate_signers(void **state) {
  (void)state;
  static cluster_t c;
  static qp_hs_msg_t m;
  cluster_open(&c);
  qp_hs_block_t b1;
  const uint8_t payload[3] = {7, 7, 7};
  first_block(&c, &b1, payload, 3);
  /* Votes of 0, 2, 3 for b1 form a QC; a proposal for view 2 by 2. */
  qp_hs_qc_t qc = {.view = 1, .height = 1, .signers = 0xd};
  memcpy(qc.block_hash, b1.hash, 32);
  uint32_t voters[3] = {0, 2, 3};
  for (uint32_t k = 0; k < 3; k++) {
    qp_hs_vote_t v;
    assert_int_equal(qp_hs_vote_sign(&c.g, c.keys[voters[k]], voters[k], 1, 1, b1.hash, &v), 0);
    memcpy(qc.sigs[k], v.sig, QP_HS_SIG_SIZE);
  }
  qp_hs_block_t b2;
  memset(&b2, 0, sizeof b2);
  b2.header = (qp_hs_header_t){.height = 2, .view = 2, .proposer = 2, .timestamp_ms = 6};
  memcpy(b2.header.parent_hash, b1.hash, 32);
  b2.payload = payload;
  b2.payload_len = 3;
  uint8_t *bytes;
  size_t len;
  for (int variant = 0; variant < 2; variant++) {
    b2.header.justify = qc;
    if (variant == 0) b2.header.justify.sigs[1][10] ^= 1;                       /* forged */
    else memcpy(b2.header.justify.sigs[1], qc.sigs[0], QP_HS_SIG_SIZE); /* reused */
    assert_int_equal(qp_hs_block_seal(&c.g, c.keys[2], &b2), 0);
    assert_int_equal(qp_hs_encode_proposal(&c.g, &b2, NULL, &bytes, &len), 0);
    assert_int_equal(qp_hs_on_message(c.cores[3], 2, bytes, len, c.now_ms), QP_EBADSIG);
    drain(&c, 3);
    qp_free(bytes);
  }
  /* Too few signers never decodes. */
  b2.header.justify = qc;
  b2.header.justify.signers = 0x5;
  assert_int_equal(qp_hs_block_seal(&c.g, c.keys[2], &b2), 0);
  assert_int_equal(qp_hs_encode_proposal(&c.g, &b2, NULL, &bytes, &len), 0);
  assert_int_equal(qp_hs_msg_decode(&c.g, bytes, len, &m), QP_EINVAL);
  qp_free(bytes);
  /* Validator 0's vote for b1 delivered three times to the leader of view 2. */
  qp_hs_vote_t v;
  assert_int_equal(qp_hs_vote_sign(&c.g, c.keys[0], 0, 1, 1, b1.hash, &v), 0);
  assert_int_equal(qp_hs_encode_vote(&c.g, &v, &bytes, &len), 0);
  for (int k = 0; k < 3; k++) {
    assert_int_equal(qp_hs_on_message(c.cores[2], 0, bytes, len, c.now_ms), 0);
    drain(&c, 2);
  }
  assert_int_equal(qp_hs_high_qc(c.cores[2])->view, 0);
  qp_free(bytes);
  /* A vote whose signature is forged. */
  v.sig[0] ^= 1;
  v.voter = 3;
  assert_int_equal(qp_hs_encode_vote(&c.g, &v, &bytes, &len), 0);
  assert_int_equal(qp_hs_on_message(c.cores[2], 3, bytes, len, c.now_ms), QP_EBADSIG);
  qp_free(bytes);
  cluster_close(&c);
}

/* Delivers bytes to core `to` from `from`: refused as a bad signature, and
 * the core neither acts (no vote, persist, send or commit) nor moves. */
static void assert_refused(cluster_t *c, uint32_t to, uint32_t from, uint8_t *bytes, size_t len) {
  uint64_t view = qp_hs_view(c->cores[to]), qc_view = qp_hs_high_qc(c->cores[to])->view;
  uint64_t voted = qp_hs_last_voted_view(c->cores[to]);
  assert_int_equal(qp_hs_on_message(c->cores[to], from, bytes, len, c->now_ms), QP_EBADSIG);
  const qp_hs_action_t *acts;
  assert_int_equal(qp_hs_actions(c->cores[to], &acts), 0);
  assert_int_equal(qp_hs_view(c->cores[to]), view);
  assert_int_equal(qp_hs_high_qc(c->cores[to])->view, qc_view);
  assert_int_equal(qp_hs_last_voted_view(c->cores[to]), voted);
  qp_free(bytes);
}

/* A network of one suite, and each validator's seat also holding a key of
 * the other suite (same secret bytes): every consensus message signed with
 * those keys is refused, as is a node key of the other suite at start. */
static void other_suite_refused(qp_suite_t suite) {
  static cluster_t c;
  cluster_open_suite(&c, suite);
  qp_suite_t other = suite == QP_SUITE_ED25519 ? QP_SUITE_SM2 : QP_SUITE_ED25519;
  qp_sign_key_t *imp[NODES];
  for (uint32_t i = 0; i < NODES; i++) imp[i] = validator_key(other, i);
  const uint8_t payload[3] = {7, 7, 7};
  qp_hs_block_t b1;
  first_block(&c, &b1, payload, 3);
  uint8_t *bytes;
  size_t len;
  /* A proposal of view 1 sealed by its proposer's other-suite key. */
  qp_hs_block_t forged = b1;
  assert_int_equal(qp_hs_block_seal(&c.g, imp[1], &forged), 0);
  assert_int_equal(qp_hs_encode_proposal(&c.g, &forged, NULL, &bytes, &len), 0);
  assert_refused(&c, 3, 1, bytes, len);
  /* The right proposal is taken (votes go to view 2's leader, 2). */
  assert_int_equal(qp_hs_encode_proposal(&c.g, &b1, NULL, &bytes, &len), 0);
  for (uint32_t to = 0; to < NODES; to++) {
    if (to == 1) continue;
    assert_int_equal(qp_hs_on_message(c.cores[to], 1, bytes, len, c.now_ms), 0);
  }
  qp_free(bytes);
  /* Votes for b1 signed in the other suite, to the leader of view 2: even
   * three of them make no QC. */
  for (uint32_t k = 0; k < NODES; k++) {
    if (k == 2) continue;
    qp_hs_vote_t v;
    assert_int_equal(qp_hs_vote_sign(&c.g, imp[k], k, 1, 1, b1.hash, &v), 0);
    assert_int_equal(qp_hs_encode_vote(&c.g, &v, &bytes, &len), 0);
    assert_refused(&c, 2, k, bytes, len);
  }
  /* A timeout of view 1 signed in the other suite. */
  qp_hs_timeout_t t = {.view = 1, .sender = 3};
  qp_hs_genesis_qc(&c.g, &t.high_qc);
  assert_int_equal(qp__hs_timeout_sign(&c.g, imp[3], &t), 0);
  assert_int_equal(qp_hs_encode_timeout(&c.g, &t, &bytes, &len), 0);
  assert_refused(&c, 0, 3, bytes, len);
  /* A proposal of view 2, rightly sealed, whose QC for b1 holds
   * other-suite signatures of 0, 1 and 3. */
  qp_hs_qc_t qc = {.view = 1, .height = 1, .signers = 0xb};
  memcpy(qc.block_hash, b1.hash, 32);
  uint32_t voters[3] = {0, 1, 3};
  for (uint32_t k = 0; k < 3; k++) {
    qp_hs_vote_t v;
    assert_int_equal(qp_hs_vote_sign(&c.g, imp[voters[k]], voters[k], 1, 1, b1.hash, &v), 0);
    memcpy(qc.sigs[k], v.sig, QP_HS_SIG_SIZE);
  }
  qp_hs_block_t b2;
  memset(&b2, 0, sizeof b2);
  b2.header = (qp_hs_header_t){.height = 2, .view = 2, .proposer = 2, .timestamp_ms = 6,
                               .justify = qc};
  memcpy(b2.header.parent_hash, b1.hash, 32);
  b2.payload = payload;
  b2.payload_len = 3;
  assert_int_equal(qp_hs_block_seal(&c.g, c.keys[2], &b2), 0);
  assert_int_equal(qp_hs_encode_proposal(&c.g, &b2, NULL, &bytes, &len), 0);
  assert_refused(&c, 3, 2, bytes, len);
  /* A node cannot even start with a key of the other suite. */
  qp_hs_t *core = NULL;
  qp_hs_config_t cfg = {.genesis = &c.g, .self = 0, .key = imp[0]};
  assert_int_equal(qp_hs_create(&cfg, c.now_ms, &core), QP_EINVAL);
  assert_null(core);
  for (uint32_t i = 0; i < NODES; i++) qp_sign_key_free(imp[i]);
  cluster_close(&c);
}

static void test_other_suite_refused_ed25519(void **state) {
  (void)state;
  other_suite_refused(QP_SUITE_ED25519);
}

static void test_other_suite_refused_sm2(void **state) {
  (void)state;
  other_suite_refused(QP_SUITE_SM2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_codec_round_trip_and_strictness),
      cmocka_unit_test(test_four_validators_commit),
      cmocka_unit_test(test_four_validators_commit_sm2),
      cmocka_unit_test(test_other_suite_refused_ed25519),
      cmocka_unit_test(test_other_suite_refused_sm2),
      cmocka_unit_test(test_forged_and_duplicate_signers),
      cmocka_unit_test(test_restart_never_double_votes),
      cmocka_unit_test(test_silent_leader_view_change),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
