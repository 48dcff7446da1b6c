/*
 * consensus_msg.c - the consensus wire format: canonical little-endian
 * encodings of QCs, TCs, blocks and the six messages, their strict
 * decoders, the block hash and the exact bytes each signature covers
 * (docs/chain.md, "Blocks and certificates").
 *
 * Decoders take bytes from peers: every read is bounds-checked, every
 * count is bounded by the genesis (validators, block_bytes_max), every
 * internal relation a block must satisfy is checked here, once, so that
 * the core only ever sees consistent structures; a trailing byte or a
 * length that does not add up is a refusal.  Signatures are left to the
 * core (consensus_cert.c), which caches them.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "chain/consensus.h"
#include "chain/consensus_int.h"

#define QC_FIXED (8u + 8u + QP_HASH_SIZE + 8u)
#define TC_FIXED (8u + 8u)
#define TC_PER_SIGNER (8u + QP_HS_SIG_SIZE)
#define HEADER_FIXED (8u + 8u + 8u + 4u + 5u * QP_HASH_SIZE)
#define VOTE_BYTES (8u + 8u + QP_HASH_SIZE + 4u + QP_HS_SIG_SIZE)

static const char BLOCK_TAG[] = "quipu/hs/block/v1";
static const char PROPOSAL_TAG[] = "quipu/hs/proposal/v1";
static const char VOTE_TAG[] = "quipu/hs/vote/v1";
static const char TIMEOUT_TAG[] = "quipu/hs/timeout/v1";

/* ---------------------------------------------------------- reading */

typedef struct rd {
  const uint8_t *p; /* the input */
  size_t len;       /* its length */
  size_t off;       /* bytes consumed */
} rd_t;

static const uint8_t *rd_take(rd_t *r, size_t n) {
  if (n > r->len - r->off) return NULL;
  const uint8_t *at = r->p + r->off;
  r->off += n;
  return at;
}

static int rd_u64(rd_t *r, uint64_t *v) {
  const uint8_t *at = rd_take(r, 8);
  if (at == NULL) return QP_EPARSE;
  *v = qp_load_u64(at);
  return 0;
}

static int rd_u32(rd_t *r, uint32_t *v) {
  const uint8_t *at = rd_take(r, 4);
  if (at == NULL) return QP_EPARSE;
  *v = qp_load_u32(at);
  return 0;
}

static int rd_u8(rd_t *r, uint8_t *v) {
  const uint8_t *at = rd_take(r, 1);
  if (at == NULL) return QP_EPARSE;
  *v = *at;
  return 0;
}

static int rd_copy(rd_t *r, void *out, size_t n) {
  const uint8_t *at = rd_take(r, n);
  if (at == NULL) return QP_EPARSE;
  memcpy(out, at, n);
  return 0;
}

/* ---------------------------------------------------------- writing */

typedef struct wr {
  uint8_t *p;  /* the output */
  size_t cap;  /* its size */
  size_t off;  /* bytes written */
} wr_t;

static void wr_bytes(wr_t *w, const void *data, size_t n) {
  QP_ASSERT(n <= w->cap - w->off);
  if (n > 0) memcpy(w->p + w->off, data, n);
  w->off += n;
}

static void wr_u64(wr_t *w, uint64_t v) {
  uint8_t b[8];
  qp_store_u64(b, v);
  wr_bytes(w, b, 8);
}

static void wr_u32(wr_t *w, uint32_t v) {
  uint8_t b[4];
  qp_store_u32(b, v);
  wr_bytes(w, b, 4);
}

static void wr_u8(wr_t *w, uint8_t v) { wr_bytes(w, &v, 1); }

static int wr_open(wr_t *w, size_t cap) {
  w->p = qp_malloc(cap);
  w->cap = cap;
  w->off = 0;
  return w->p == NULL ? QP_ENOMEM : 0;
}

static int wr_close(wr_t *w, uint8_t **out, size_t *out_len) {
  QP_ASSERT(w->off == w->cap);
  *out = w->p;
  *out_len = w->off;
  return 0;
}

/* ------------------------------------------------------ certificates */

uint32_t qp__hs_popcount(uint64_t x) { return (uint32_t)__builtin_popcountll(x); }

static size_t qc_size(const qp_hs_qc_t *qc) {
  return QC_FIXED + qp__hs_popcount(qc->signers) * QP_HS_SIG_SIZE;
}

static size_t tc_size(const qp_hs_tc_t *tc) {
  return TC_FIXED + qp__hs_popcount(tc->signers) * TC_PER_SIGNER;
}

static void qc_write(wr_t *w, const qp_hs_qc_t *qc) {
  wr_u64(w, qc->view);
  wr_u64(w, qc->height);
  wr_bytes(w, qc->block_hash, QP_HASH_SIZE);
  wr_u64(w, qc->signers);
  wr_bytes(w, qc->sigs, qp__hs_popcount(qc->signers) * QP_HS_SIG_SIZE);
}

static void tc_write(wr_t *w, const qp_hs_tc_t *tc) {
  wr_u64(w, tc->view);
  wr_u64(w, tc->signers);
  for (uint32_t k = 0; k < qp__hs_popcount(tc->signers); k++) {
    wr_u64(w, tc->high_qc_views[k]);
    wr_bytes(w, tc->sigs[k], QP_HS_SIG_SIZE);
  }
}

/* Signers must be validators of g; a non-genesis QC needs a quorum. */
static int signers_check(const qp_chain_genesis_t *g, uint64_t signers) {
  uint32_t n = g->validators_count;
  if (n < 64 && (signers >> n) != 0) return QP_EINVAL;
  if (qp__hs_popcount(signers) < qp_chain_quorum(n)) return QP_EINVAL;
  return 0;
}

static int qc_read(const qp_chain_genesis_t *g, rd_t *r, qp_hs_qc_t *qc) {
  memset(qc, 0, sizeof *qc);
  int rc = rd_u64(r, &qc->view);
  if (rc == 0) rc = rd_u64(r, &qc->height);
  if (rc == 0) rc = rd_copy(r, qc->block_hash, QP_HASH_SIZE);
  if (rc == 0) rc = rd_u64(r, &qc->signers);
  if (rc != 0) return rc;
  if (qc->signers == 0) /* the base QC: the genesis block's, or an epoch's base block's */
    return qc->view == g->base_view && qc->height == g->base_height ? 0 : QP_EINVAL;
  if (qc->view == 0 || qc->height == 0) return QP_EINVAL;
  if (signers_check(g, qc->signers) != 0) return QP_EINVAL;
  return rd_copy(r, qc->sigs, qp__hs_popcount(qc->signers) * QP_HS_SIG_SIZE);
}

static int tc_read(const qp_chain_genesis_t *g, rd_t *r, qp_hs_tc_t *tc) {
  memset(tc, 0, sizeof *tc);
  int rc = rd_u64(r, &tc->view);
  if (rc == 0) rc = rd_u64(r, &tc->signers);
  if (rc != 0) return rc;
  if (tc->view == 0 || signers_check(g, tc->signers) != 0) return QP_EINVAL;
  for (uint32_t k = 0; k < qp__hs_popcount(tc->signers); k++) {
    rc = rd_u64(r, &tc->high_qc_views[k]);
    if (rc == 0) rc = rd_copy(r, tc->sigs[k], QP_HS_SIG_SIZE);
    if (rc != 0) return rc;
    if (tc->high_qc_views[k] >= tc->view) return QP_EINVAL;
  }
  return 0;
}

/* ------------------------------------------------------------ blocks */

int qp_hs_block_hash(const qp_chain_genesis_t *g, const qp_hs_header_t *h,
                     uint8_t out[QP_HASH_SIZE]) {
  uint8_t buf[sizeof BLOCK_TAG + QP_HASH_SIZE + HEADER_FIXED + 16];
  wr_t w = {.p = buf, .cap = sizeof buf};
  wr_bytes(&w, BLOCK_TAG, sizeof BLOCK_TAG - 1);
  wr_bytes(&w, g->hash, QP_HASH_SIZE);
  wr_u64(&w, h->height);
  wr_u64(&w, h->view);
  wr_u64(&w, h->timestamp_ms);
  wr_u32(&w, h->proposer);
  wr_bytes(&w, h->parent_hash, QP_HASH_SIZE);
  wr_bytes(&w, h->payload_hash, QP_HASH_SIZE);
  wr_bytes(&w, h->tx_root, QP_HASH_SIZE);
  wr_bytes(&w, h->state_root, QP_HASH_SIZE);
  wr_bytes(&w, h->receipts_root, QP_HASH_SIZE);
  wr_u64(&w, h->justify.view);
  wr_u64(&w, h->justify.height);
  return qp_suite_hash(g->suite, out, buf, w.off);
}

static size_t block_size(const qp_hs_block_t *b) {
  return HEADER_FIXED + qc_size(&b->header.justify) + QP_HS_SIG_SIZE + 4u + b->payload_len;
}

static void header_write(wr_t *w, const qp_hs_header_t *h) {
  wr_u64(w, h->height);
  wr_u64(w, h->view);
  wr_u64(w, h->timestamp_ms);
  wr_u32(w, h->proposer);
  wr_bytes(w, h->parent_hash, QP_HASH_SIZE);
  wr_bytes(w, h->payload_hash, QP_HASH_SIZE);
  wr_bytes(w, h->tx_root, QP_HASH_SIZE);
  wr_bytes(w, h->state_root, QP_HASH_SIZE);
  wr_bytes(w, h->receipts_root, QP_HASH_SIZE);
  qc_write(w, &h->justify);
  wr_bytes(w, h->signature, QP_HS_SIG_SIZE);
}

static void block_write(wr_t *w, const qp_hs_block_t *b) {
  header_write(w, &b->header);
  wr_u32(w, b->payload_len);
  wr_bytes(w, b->payload, b->payload_len);
}

static int header_read(const qp_chain_genesis_t *g, rd_t *r, qp_hs_header_t *h) {
  int rc = rd_u64(r, &h->height);
  if (rc == 0) rc = rd_u64(r, &h->view);
  if (rc == 0) rc = rd_u64(r, &h->timestamp_ms);
  if (rc == 0) rc = rd_u32(r, &h->proposer);
  if (rc == 0) rc = rd_copy(r, h->parent_hash, QP_HASH_SIZE);
  if (rc == 0) rc = rd_copy(r, h->payload_hash, QP_HASH_SIZE);
  if (rc == 0) rc = rd_copy(r, h->tx_root, QP_HASH_SIZE);
  if (rc == 0) rc = rd_copy(r, h->state_root, QP_HASH_SIZE);
  if (rc == 0) rc = rd_copy(r, h->receipts_root, QP_HASH_SIZE);
  if (rc == 0) rc = qc_read(g, r, &h->justify);
  if (rc == 0) rc = rd_copy(r, h->signature, QP_HS_SIG_SIZE);
  return rc;
}

/* The relations every block satisfies, whoever sent it. */
static int header_check(const qp_chain_genesis_t *g, const qp_hs_header_t *h) {
  if (h->proposer >= g->validators_count) return QP_EINVAL;
  if (h->proposer != qp_hs_leader(g, h->view)) return QP_EINVAL;
  if (memcmp(h->parent_hash, h->justify.block_hash, QP_HASH_SIZE) != 0) return QP_EINVAL;
  if (h->justify.height == UINT64_MAX || h->height != h->justify.height + 1) return QP_EINVAL;
  if (h->view <= h->justify.view) return QP_EINVAL;
  return 0;
}

static int block_read(const qp_chain_genesis_t *g, rd_t *r, qp_hs_block_t *b) {
  memset(b, 0, sizeof *b);
  int rc = header_read(g, r, &b->header);
  if (rc == 0) rc = rd_u32(r, &b->payload_len);
  if (rc != 0) return rc;
  if (b->payload_len > g->params.block_bytes_max) return QP_EPARSE;
  b->payload = rd_take(r, b->payload_len);
  if (b->payload == NULL) return QP_EPARSE;
  if (b->payload_len == 0) b->payload = NULL;
  rc = header_check(g, &b->header);
  if (rc != 0) return rc;
  uint8_t ph[QP_HASH_SIZE];
  rc = qp_suite_hash(g->suite, ph, b->payload, b->payload_len);
  if (rc != 0) return rc;
  if (memcmp(ph, b->header.payload_hash, QP_HASH_SIZE) != 0) return QP_EINVAL;
  return qp_hs_block_hash(g, &b->header, b->hash);
}

int qp_hs_encode_block(const qp_chain_genesis_t *g, const qp_hs_block_t *b, uint8_t **out,
                       size_t *out_len) {
  (void)g;
  wr_t w;
  if (wr_open(&w, block_size(b)) != 0) return QP_ENOMEM;
  block_write(&w, b);
  return wr_close(&w, out, out_len);
}

int qp_hs_decode_block(const qp_chain_genesis_t *g, const uint8_t *bytes, size_t len,
                       qp_hs_block_t *b) {
  rd_t r = {.p = bytes, .len = len};
  int rc = block_read(g, &r, b);
  if (rc == 0 && r.off != len) rc = QP_EPARSE;
  return rc;
}

void qp_hs_genesis_block(const qp_chain_genesis_t *g, qp_hs_block_t *out) {
  memset(out, 0, sizeof *out);
  memcpy(out->header.parent_hash, g->hash, QP_HASH_SIZE);
  QP_ASSERT(qp_suite_hash(g->suite, out->header.payload_hash, NULL, 0) == 0);
  QP_ASSERT(qp_hs_block_hash(g, &out->header, out->hash) == 0);
}

void qp_hs_genesis_qc(const qp_chain_genesis_t *g, qp_hs_qc_t *out) {
  memset(out, 0, sizeof *out);
  if (g->epoch > 0) { /* certifies the last block of the epoch before (valset.h) */
    out->view = g->base_view;
    out->height = g->base_height;
    memcpy(out->block_hash, g->base_hash, QP_HASH_SIZE);
    return;
  }
  qp_hs_block_t b;
  qp_hs_genesis_block(g, &b);
  memcpy(out->block_hash, b.hash, QP_HASH_SIZE);
}

/* ------------------------------------------------- signed statements */

size_t qp__hs_proposal_statement(const qp_chain_genesis_t *g, const uint8_t hash[QP_HASH_SIZE],
                                 uint8_t out[QP__HS_STATEMENT_MAX]) {
  wr_t w = {.p = out, .cap = QP__HS_STATEMENT_MAX};
  wr_bytes(&w, PROPOSAL_TAG, sizeof PROPOSAL_TAG - 1);
  wr_bytes(&w, g->hash, QP_HASH_SIZE);
  wr_bytes(&w, hash, QP_HASH_SIZE);
  return w.off;
}

size_t qp__hs_vote_statement(const qp_chain_genesis_t *g, uint64_t view, uint64_t height,
                             const uint8_t hash[QP_HASH_SIZE],
                             uint8_t out[QP__HS_STATEMENT_MAX]) {
  wr_t w = {.p = out, .cap = QP__HS_STATEMENT_MAX};
  wr_bytes(&w, VOTE_TAG, sizeof VOTE_TAG - 1);
  wr_bytes(&w, g->hash, QP_HASH_SIZE);
  wr_u64(&w, view);
  wr_u64(&w, height);
  wr_bytes(&w, hash, QP_HASH_SIZE);
  return w.off;
}

size_t qp__hs_timeout_statement(const qp_chain_genesis_t *g, uint64_t view,
                                uint64_t high_qc_view, uint8_t out[QP__HS_STATEMENT_MAX]) {
  wr_t w = {.p = out, .cap = QP__HS_STATEMENT_MAX};
  wr_bytes(&w, TIMEOUT_TAG, sizeof TIMEOUT_TAG - 1);
  wr_bytes(&w, g->hash, QP_HASH_SIZE);
  wr_u64(&w, view);
  wr_u64(&w, high_qc_view);
  return w.off;
}

static int sign_statement(const qp_sign_key_t *key, const uint8_t *st, size_t len,
                          uint8_t sig[QP_HS_SIG_SIZE]) {
  uint8_t full[QP_SIGN_SIG_MAX];
  size_t sig_len = 0;
  int rc = qp_sign(key, st, len, full, &sig_len);
  if (rc != 0) return rc;
  QP_ASSERT(sig_len == QP_HS_SIG_SIZE);
  memcpy(sig, full, QP_HS_SIG_SIZE);
  return 0;
}

int qp_hs_block_seal(const qp_chain_genesis_t *g, const qp_sign_key_t *key, qp_hs_block_t *b) {
  int rc = qp_suite_hash(g->suite, b->header.payload_hash, b->payload, b->payload_len);
  if (rc == 0) rc = qp_hs_block_hash(g, &b->header, b->hash);
  if (rc != 0) return rc;
  uint8_t st[QP__HS_STATEMENT_MAX];
  size_t len = qp__hs_proposal_statement(g, b->hash, st);
  return sign_statement(key, st, len, b->header.signature);
}

int qp_hs_vote_sign(const qp_chain_genesis_t *g, const qp_sign_key_t *key, uint32_t voter,
                    uint64_t view, uint64_t height, const uint8_t hash[QP_HASH_SIZE],
                    qp_hs_vote_t *out) {
  memset(out, 0, sizeof *out);
  out->view = view;
  out->height = height;
  out->voter = voter;
  memcpy(out->block_hash, hash, QP_HASH_SIZE);
  uint8_t st[QP__HS_STATEMENT_MAX];
  size_t len = qp__hs_vote_statement(g, view, height, hash, st);
  return sign_statement(key, st, len, out->sig);
}

int qp__hs_timeout_sign(const qp_chain_genesis_t *g, const qp_sign_key_t *key,
                        qp_hs_timeout_t *t) {
  uint8_t st[QP__HS_STATEMENT_MAX];
  size_t len = qp__hs_timeout_statement(g, t->view, t->high_qc.view, st);
  return sign_statement(key, st, len, t->sig);
}

/* ---------------------------------------------------------- messages */

size_t qp_hs_msg_bytes_max(const qp_chain_genesis_t *g) {
  size_t qc_max = QC_FIXED + (size_t)QP_CHAIN_VALIDATORS_MAX * QP_HS_SIG_SIZE;
  size_t tc_max = TC_FIXED + (size_t)QP_CHAIN_VALIDATORS_MAX * TC_PER_SIGNER;
  size_t block_max = HEADER_FIXED + qc_max + QP_HS_SIG_SIZE + 4u + g->params.block_bytes_max;
  size_t proposal = 2u + block_max + 1u + tc_max;
  size_t response = 2u + 1u + QP_HS_FETCH_BLOCKS_MAX * block_max;
  return proposal > response ? proposal : response;
}

static int open_msg(wr_t *w, size_t body, qp_hs_msg_type_t type) {
  if (wr_open(w, 2u + body) != 0) return QP_ENOMEM;
  wr_u8(w, QP_HS_WIRE_VERSION);
  wr_u8(w, (uint8_t)type);
  return 0;
}

int qp_hs_encode_proposal(const qp_chain_genesis_t *g, const qp_hs_block_t *b,
                          const qp_hs_tc_t *tc_or_null, uint8_t **out, size_t *out_len) {
  (void)g;
  wr_t w;
  size_t body = block_size(b) + 1u + (tc_or_null ? tc_size(tc_or_null) : 0);
  if (open_msg(&w, body, QP_HS_MSG_PROPOSAL) != 0) return QP_ENOMEM;
  block_write(&w, b);
  wr_u8(&w, tc_or_null ? 1 : 0);
  if (tc_or_null) tc_write(&w, tc_or_null);
  return wr_close(&w, out, out_len);
}

int qp_hs_encode_vote(const qp_chain_genesis_t *g, const qp_hs_vote_t *v, uint8_t **out,
                      size_t *out_len) {
  (void)g;
  wr_t w;
  if (open_msg(&w, VOTE_BYTES, QP_HS_MSG_VOTE) != 0) return QP_ENOMEM;
  wr_u64(&w, v->view);
  wr_u64(&w, v->height);
  wr_bytes(&w, v->block_hash, QP_HASH_SIZE);
  wr_u32(&w, v->voter);
  wr_bytes(&w, v->sig, QP_HS_SIG_SIZE);
  return wr_close(&w, out, out_len);
}

int qp_hs_encode_timeout(const qp_chain_genesis_t *g, const qp_hs_timeout_t *t, uint8_t **out,
                         size_t *out_len) {
  (void)g;
  wr_t w;
  if (open_msg(&w, 8u + 4u + QP_HS_SIG_SIZE + qc_size(&t->high_qc), QP_HS_MSG_TIMEOUT) != 0)
    return QP_ENOMEM;
  wr_u64(&w, t->view);
  wr_u32(&w, t->sender);
  wr_bytes(&w, t->sig, QP_HS_SIG_SIZE);
  qc_write(&w, &t->high_qc);
  return wr_close(&w, out, out_len);
}

int qp_hs_encode_sync(const qp_chain_genesis_t *g, const qp_hs_qc_t *high_qc,
                      const qp_hs_tc_t *tc_or_null, uint8_t **out, size_t *out_len) {
  (void)g;
  wr_t w;
  size_t body = qc_size(high_qc) + 1u + (tc_or_null ? tc_size(tc_or_null) : 0);
  if (open_msg(&w, body, QP_HS_MSG_SYNC) != 0) return QP_ENOMEM;
  qc_write(&w, high_qc);
  wr_u8(&w, tc_or_null ? 1 : 0);
  if (tc_or_null) tc_write(&w, tc_or_null);
  return wr_close(&w, out, out_len);
}

int qp_hs_encode_block_request(const uint8_t hash[QP_HASH_SIZE], uint32_t count, uint8_t **out,
                               size_t *out_len) {
  QP_ASSERT(count >= 1 && count <= QP_HS_FETCH_BLOCKS_MAX);
  wr_t w;
  if (open_msg(&w, QP_HASH_SIZE + 1u, QP_HS_MSG_BLOCK_REQUEST) != 0) return QP_ENOMEM;
  wr_bytes(&w, hash, QP_HASH_SIZE);
  wr_u8(&w, (uint8_t)count);
  return wr_close(&w, out, out_len);
}

int qp_hs_encode_block_response(const qp_chain_genesis_t *g, const qp_hs_block_t *const *blocks,
                                uint32_t count, uint8_t **out, size_t *out_len) {
  (void)g;
  QP_ASSERT(count >= 1 && count <= QP_HS_FETCH_BLOCKS_MAX);
  size_t body = 1u;
  for (uint32_t i = 0; i < count; i++) body += block_size(blocks[i]);
  wr_t w;
  if (open_msg(&w, body, QP_HS_MSG_BLOCK_RESPONSE) != 0) return QP_ENOMEM;
  wr_u8(&w, (uint8_t)count);
  for (uint32_t i = 0; i < count; i++) block_write(&w, blocks[i]);
  return wr_close(&w, out, out_len);
}

static int read_opt_tc(const qp_chain_genesis_t *g, rd_t *r, qp_hs_msg_t *m) {
  uint8_t has = 0;
  int rc = rd_u8(r, &has);
  if (rc != 0) return rc;
  if (has > 1) return QP_EPARSE;
  m->has_tc = has == 1;
  return m->has_tc ? tc_read(g, r, &m->tc) : 0;
}

static int read_vote(const qp_chain_genesis_t *g, rd_t *r, qp_hs_vote_t *v) {
  int rc = rd_u64(r, &v->view);
  if (rc == 0) rc = rd_u64(r, &v->height);
  if (rc == 0) rc = rd_copy(r, v->block_hash, QP_HASH_SIZE);
  if (rc == 0) rc = rd_u32(r, &v->voter);
  if (rc == 0) rc = rd_copy(r, v->sig, QP_HS_SIG_SIZE);
  if (rc != 0) return rc;
  if (v->voter >= g->validators_count || v->view == 0 || v->height == 0) return QP_EINVAL;
  return 0;
}

static int read_timeout(const qp_chain_genesis_t *g, rd_t *r, qp_hs_timeout_t *t) {
  int rc = rd_u64(r, &t->view);
  if (rc == 0) rc = rd_u32(r, &t->sender);
  if (rc == 0) rc = rd_copy(r, t->sig, QP_HS_SIG_SIZE);
  if (rc == 0) rc = qc_read(g, r, &t->high_qc);
  if (rc != 0) return rc;
  if (t->sender >= g->validators_count || t->high_qc.view >= t->view) return QP_EINVAL;
  return 0;
}

static int read_request(rd_t *r, qp_hs_msg_t *m) {
  uint8_t count = 0;
  int rc = rd_copy(r, m->request_hash, QP_HASH_SIZE);
  if (rc == 0) rc = rd_u8(r, &count);
  if (rc != 0) return rc;
  if (count < 1 || count > QP_HS_FETCH_BLOCKS_MAX) return QP_EPARSE;
  m->request_count = count;
  return 0;
}

static int read_response(const qp_chain_genesis_t *g, rd_t *r, qp_hs_msg_t *m) {
  uint8_t count = 0;
  int rc = rd_u8(r, &count);
  if (rc != 0) return rc;
  if (count < 1 || count > QP_HS_FETCH_BLOCKS_MAX) return QP_EPARSE;
  for (uint32_t i = 0; i < count; i++) {
    rc = block_read(g, r, &m->blocks[i]);
    if (rc != 0) return rc;
    const qp_hs_block_t *newer = i > 0 ? &m->blocks[i - 1] : NULL;
    if (newer && memcmp(newer->header.parent_hash, m->blocks[i].hash, QP_HASH_SIZE) != 0)
      return QP_EINVAL;
  }
  m->blocks_count = count;
  return 0;
}

static int read_body(const qp_chain_genesis_t *g, rd_t *r, qp_hs_msg_t *m) {
  switch (m->type) {
  case QP_HS_MSG_PROPOSAL: {
    int rc = block_read(g, r, &m->blocks[0]);
    m->blocks_count = 1;
    if (rc == 0) rc = read_opt_tc(g, r, m);
    if (rc == 0 && m->has_tc && m->tc.view >= m->blocks[0].header.view) rc = QP_EINVAL;
    return rc;
  }
  case QP_HS_MSG_VOTE: return read_vote(g, r, &m->vote);
  case QP_HS_MSG_TIMEOUT: return read_timeout(g, r, &m->timeout);
  case QP_HS_MSG_SYNC: {
    int rc = qc_read(g, r, &m->qc);
    return rc == 0 ? read_opt_tc(g, r, m) : rc;
  }
  case QP_HS_MSG_BLOCK_REQUEST: return read_request(r, m);
  case QP_HS_MSG_BLOCK_RESPONSE: return read_response(g, r, m);
  }
  return QP_EPARSE;
}

int qp_hs_msg_decode(const qp_chain_genesis_t *g, const uint8_t *bytes, size_t len,
                     qp_hs_msg_t *out) {
  QP_ASSERT(g != NULL && out != NULL);
  rd_t r = {.p = bytes, .len = len};
  uint8_t version = 0, type = 0;
  out->blocks_count = 0;
  out->has_tc = false;
  if (bytes == NULL || rd_u8(&r, &version) != 0 || rd_u8(&r, &type) != 0) return QP_EPARSE;
  if (version != QP_HS_WIRE_VERSION) return QP_EPARSE;
  if (type < QP_HS_MSG_PROPOSAL || type > QP_HS_MSG_BLOCK_RESPONSE) return QP_EPARSE;
  out->type = (qp_hs_msg_type_t)type;
  int rc = read_body(g, &r, out);
  if (rc == 0 && r.off != len) rc = QP_EPARSE;
  return rc;
}

/* ----------------------------------------- QCs alone (safety record) */

size_t qp__hs_qc_size(const qp_hs_qc_t *qc) { return qc_size(qc); }

void qp__hs_qc_put(uint8_t *out, const qp_hs_qc_t *qc) {
  wr_t w = {.p = out, .cap = qc_size(qc)};
  qc_write(&w, qc);
}

int qp__hs_qc_get(const qp_chain_genesis_t *g, const uint8_t *bytes, size_t len,
                  qp_hs_qc_t *qc, size_t *used) {
  rd_t r = {.p = bytes, .len = len};
  int rc = qc_read(g, &r, qc);
  *used = r.off;
  return rc;
}

/* ------------------------------------- headers and certificates alone */

int qp_hs_encode_header(const qp_chain_genesis_t *g, const qp_hs_header_t *h, uint8_t **out,
                        size_t *out_len) {
  (void)g;
  wr_t w;
  if (wr_open(&w, HEADER_FIXED + qc_size(&h->justify) + QP_HS_SIG_SIZE) != 0) return QP_ENOMEM;
  header_write(&w, h);
  return wr_close(&w, out, out_len);
}

static int header_alone_read(const qp_chain_genesis_t *g, rd_t *r, qp_hs_header_t *h) {
  memset(h, 0, sizeof *h);
  int rc = header_read(g, r, h);
  return rc != 0 ? rc : header_check(g, h);
}

int qp_hs_decode_header(const qp_chain_genesis_t *g, const uint8_t *bytes, size_t len,
                        qp_hs_header_t *h) {
  rd_t r = {.p = bytes, .len = len};
  int rc = header_alone_read(g, &r, h);
  if (rc == 0 && r.off != len) rc = QP_EPARSE;
  return rc;
}

int qp_hs_encode_cert(const qp_chain_genesis_t *g, const qp_hs_commit_cert_t *cert,
                      uint8_t **out, size_t *out_len) {
  (void)g;
  wr_t w;
  size_t size = HEADER_FIXED + qc_size(&cert->child.justify) + QP_HS_SIG_SIZE + qc_size(&cert->qc);
  if (wr_open(&w, size) != 0) return QP_ENOMEM;
  header_write(&w, &cert->child);
  qc_write(&w, &cert->qc);
  return wr_close(&w, out, out_len);
}

int qp_hs_decode_cert(const qp_chain_genesis_t *g, const uint8_t *bytes, size_t len,
                      qp_hs_commit_cert_t *cert) {
  rd_t r = {.p = bytes, .len = len};
  int rc = header_alone_read(g, &r, &cert->child);
  if (rc == 0) rc = qc_read(g, &r, &cert->qc);
  if (rc == 0 && r.off != len) rc = QP_EPARSE;
  return rc;
}
