/*
 * consensus_cert.c - signatures and certificates: every vote, timeout,
 * proposal, QC and TC signature is checked against the genesis validator
 * keys, and each distinct one only once.
 *
 * Ed25519 verification costs ~37 us a signature on one core, and the same
 * signatures come back again and again (a QC in a proposal, then in a
 * timeout, then in a sync; the leader verified the votes it was formed
 * from).  A direct-mapped cache of QP__HS_SIG_CACHE_SLOTS keys, each the
 * hash of (signer, statement, signature), remembers the verified ones: a
 * hit costs one BLAKE2b; a collision only evicts.  Only successes are
 * cached, so a forged signature is checked (and refused) every time.
 *
 * Vote and timeout sets are where a leader (votes) or everyone (timeouts)
 * counts distinct signers of one statement until a quorum forms a
 * certificate.
 */
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "chain/consensus.h"
#include "chain/consensus_int.h"

int qp__hs_verify_sig(qp_hs_t *c, uint32_t signer, const uint8_t *statement, size_t len,
                      const uint8_t sig[QP_HS_SIG_SIZE]) {
  QP_ASSERT(signer < c->n && len <= QP__HS_STATEMENT_MAX);
  uint8_t key_in[4 + QP__HS_STATEMENT_MAX + QP_HS_SIG_SIZE], key[QP_HASH_SIZE];
  qp_store_u32(key_in, signer);
  memcpy(key_in + 4, statement, len);
  memcpy(key_in + 4 + len, sig, QP_HS_SIG_SIZE);
  qp_hash256(key, key_in, 4 + len + QP_HS_SIG_SIZE);
  uint32_t slot = qp_load_u32(key) % QP__HS_SIG_CACHE_SLOTS;
  if (memcmp(c->sig_cache[slot], key, QP_HASH_SIZE) == 0) return 0;
  const qp_chain_validator_t *v = &c->g->validators[signer];
  int rc = qp_verify(c->g->suite, v->public_key, v->public_key_len, statement, len, sig,
                     QP_HS_SIG_SIZE);
  if (rc == QP_EINVAL) rc = QP_EBADSIG;
  if (rc == 0) memcpy(c->sig_cache[slot], key, QP_HASH_SIZE);
  return rc;
}

/* The k-th set bit's index, for k < popcount(set). */
static uint32_t nth_signer(uint64_t set, uint32_t k) {
  for (uint32_t i = 0; i < 64; i++) {
    if ((set >> i) & 1u) {
      if (k == 0) return i;
      k--;
    }
  }
  QP_UNREACHABLE();
}

int qp__hs_qc_verify(qp_hs_t *c, const qp_hs_qc_t *qc) {
  if (qc->signers == 0) {
    qp_hs_qc_t genesis;
    qp_hs_genesis_qc(c->g, &genesis);
    bool same = qc->view == genesis.view && qc->height == genesis.height &&
                memcmp(qc->block_hash, genesis.block_hash, QP_HASH_SIZE) == 0;
    return same ? 0 : QP_EINVAL;
  }
  if (c->n < 64 && (qc->signers >> c->n) != 0) return QP_EINVAL;
  uint32_t count = qp__hs_popcount(qc->signers);
  if (count < c->quorum) return QP_EINVAL;
  uint8_t st[QP__HS_STATEMENT_MAX];
  size_t len = qp__hs_vote_statement(c->g, qc->view, qc->height, qc->block_hash, st);
  for (uint32_t k = 0; k < count; k++) {
    int rc = qp__hs_verify_sig(c, nth_signer(qc->signers, k), st, len, qc->sigs[k]);
    if (rc != 0) return rc;
  }
  return 0;
}

int qp_hs_qc_check(const qp_chain_genesis_t *g, const qp_hs_qc_t *qc, char *detail,
                   size_t detail_size) {
  uint32_t n = g->validators_count, count = qp__hs_popcount(qc->signers);
  if ((n < 64 && (qc->signers >> n) != 0) || count < qp_chain_quorum(n)) {
    if (detail_size > 0)
      snprintf(detail, detail_size, "%u signers of %u validators: a quorum is %u", count, n,
               qp_chain_quorum(n));
    return QP_EINVAL;
  }
  uint8_t st[QP__HS_STATEMENT_MAX];
  size_t len = qp__hs_vote_statement(g, qc->view, qc->height, qc->block_hash, st);
  for (uint32_t k = 0; k < count; k++) {
    uint32_t i = nth_signer(qc->signers, k);
    const qp_chain_validator_t *v = &g->validators[i];
    int rc = qp_verify(g->suite, v->public_key, v->public_key_len, st, len, qc->sigs[k],
                       QP_HS_SIG_SIZE);
    if (rc == QP_ENOMEM) return rc;
    if (rc != 0) {
      if (detail_size > 0)
        snprintf(detail, detail_size, "the signature of validator %u (%s) is not valid", i,
                 v->name);
      return QP_EBADSIG;
    }
  }
  return 0;
}

static int cert_refuse(char *detail, size_t detail_size, const char *what) {
  if (detail_size > 0) snprintf(detail, detail_size, "cert: %s", what);
  return QP_EBADPROOF;
}

int qp_hs_cert_check(const qp_chain_genesis_t *g, const qp_hs_header_t *header,
                     const uint8_t hash[QP_HASH_SIZE], const qp_hs_commit_cert_t *cert,
                     char *detail, size_t detail_size) {
  const qp_hs_header_t *child = &cert->child;
  if (memcmp(child->parent_hash, hash, QP_HASH_SIZE) != 0)
    return cert_refuse(detail, detail_size, "its block is not the child of the last header");
  if (child->view != header->view + 1 || child->justify.view != header->view)
    return cert_refuse(detail, detail_size,
                       "the child was not proposed in the view after its parent's: "
                       "no two-chain commit");
  uint8_t child_hash[QP_HASH_SIZE];
  int rc = qp_hs_block_hash(g, child, child_hash);
  if (rc != 0) return rc;
  if (memcmp(cert->qc.block_hash, child_hash, QP_HASH_SIZE) != 0 ||
      cert->qc.view != child->view || cert->qc.height != child->height)
    return cert_refuse(detail, detail_size, "the QC is not for the child block");
  const qp_hs_qc_t *qcs[2] = {&child->justify, &cert->qc};
  for (int i = 0; i < 2; i++) {
    char why[160] = "";
    rc = qp_hs_qc_check(g, qcs[i], why, sizeof why);
    if (rc == QP_ENOMEM) return rc;
    if (rc != 0) {
      if (detail_size > 0)
        snprintf(detail, detail_size, "cert: the QC of block %llu: %s",
                 (unsigned long long)qcs[i]->height, why);
      return QP_EBADPROOF;
    }
  }
  return 0;
}

int qp__hs_tc_verify(qp_hs_t *c, const qp_hs_tc_t *tc) {
  if (c->n < 64 && (tc->signers >> c->n) != 0) return QP_EINVAL;
  uint32_t count = qp__hs_popcount(tc->signers);
  if (count < c->quorum || tc->view == 0) return QP_EINVAL;
  for (uint32_t k = 0; k < count; k++) {
    if (tc->high_qc_views[k] >= tc->view) return QP_EINVAL;
    uint8_t st[QP__HS_STATEMENT_MAX];
    size_t len = qp__hs_timeout_statement(c->g, tc->view, tc->high_qc_views[k], st);
    int rc = qp__hs_verify_sig(c, nth_signer(tc->signers, k), st, len, tc->sigs[k]);
    if (rc != 0) return rc;
  }
  return 0;
}

uint64_t qp__hs_tc_max_high_qc(const qp_hs_tc_t *tc) {
  uint64_t best = 0;
  for (uint32_t k = 0; k < qp__hs_popcount(tc->signers); k++)
    if (tc->high_qc_views[k] > best) best = tc->high_qc_views[k];
  return best;
}

/* The slot for `view` among n slots of `stride` bytes whose first field is
 * the view: the existing one, a free one, or the lowest view's (reused). */
static void *slot_for(void *slots, size_t count, size_t stride, uint64_t view, bool *fresh) {
  uint8_t *base = slots, *lowest = base;
  for (size_t i = 0; i < count; i++) {
    uint64_t v;
    memcpy(&v, base + i * stride, sizeof v);
    uint64_t low;
    memcpy(&low, lowest, sizeof low);
    if (v == view) {
      *fresh = false;
      return base + i * stride;
    }
    if (v < low) lowest = base + i * stride;
  }
  *fresh = true;
  return lowest;
}

/* The set for (view, hash), or a slot to reuse for it: a free one, else
 * the lowest view's (ties: the fewest votes), never a newer view's. */
static qp__hs_vote_set_t *vote_set_for(qp_hs_t *c, const qp_hs_vote_t *v) {
  qp__hs_vote_set_t *victim = &c->votes[0];
  for (uint32_t i = 0; i < QP__HS_VOTE_SETS; i++) {
    qp__hs_vote_set_t *s = &c->votes[i];
    if (s->view == v->view && memcmp(s->hash, v->block_hash, QP_HASH_SIZE) == 0) return s;
    bool lower = s->view < victim->view ||
                 (s->view == victim->view &&
                  qp__hs_popcount(s->signers) < qp__hs_popcount(victim->signers));
    if (lower) victim = s;
  }
  if (victim->view > v->view) return NULL;
  memset(victim, 0, sizeof *victim);
  victim->view = v->view;
  victim->height = v->height;
  memcpy(victim->hash, v->block_hash, QP_HASH_SIZE);
  return victim;
}

/* True if voter already voted in view for any block (a double vote). */
static bool voted_in(const qp_hs_t *c, uint64_t view, uint32_t voter) {
  for (uint32_t i = 0; i < QP__HS_VOTE_SETS; i++)
    if (c->votes[i].view == view && ((c->votes[i].signers >> voter) & 1u)) return true;
  return false;
}

bool qp__hs_vote_add(qp_hs_t *c, const qp_hs_vote_t *v, qp_hs_qc_t *qc) {
  if (voted_in(c, v->view, v->voter)) return false;
  qp__hs_vote_set_t *s = vote_set_for(c, v);
  if (s == NULL) return false;
  if (s->done || s->height != v->height) return false;
  s->signers |= (uint64_t)1 << v->voter;
  memcpy(s->sigs[v->voter], v->sig, QP_HS_SIG_SIZE);
  if (qp__hs_popcount(s->signers) < c->quorum) return false;
  s->done = true;
  memset(qc, 0, sizeof *qc);
  qc->view = s->view;
  qc->height = s->height;
  memcpy(qc->block_hash, s->hash, QP_HASH_SIZE);
  qc->signers = s->signers;
  uint32_t k = 0;
  for (uint32_t i = 0; i < c->n; i++)
    if ((s->signers >> i) & 1u) memcpy(qc->sigs[k++], s->sigs[i], QP_HS_SIG_SIZE);
  return true;
}

bool qp__hs_timeout_add(qp_hs_t *c, const qp_hs_timeout_t *t, uint32_t *count_out,
                        qp_hs_tc_t *tc) {
  bool fresh = false;
  qp__hs_timeout_set_t *s = slot_for(c->timeouts, QP__HS_TIMEOUT_SETS, sizeof c->timeouts[0],
                                     t->view, &fresh);
  *count_out = 0;
  if (fresh) {
    if (s->view > t->view) return false;
    memset(s, 0, sizeof *s);
    s->view = t->view;
  }
  if (!((s->signers >> t->sender) & 1u)) {
    s->signers |= (uint64_t)1 << t->sender;
    s->high_qc_views[t->sender] = t->high_qc.view;
    memcpy(s->sigs[t->sender], t->sig, QP_HS_SIG_SIZE);
  }
  *count_out = qp__hs_popcount(s->signers);
  if (s->done || *count_out < c->quorum) return false;
  s->done = true;
  memset(tc, 0, sizeof *tc);
  tc->view = s->view;
  tc->signers = s->signers;
  uint32_t k = 0;
  for (uint32_t i = 0; i < c->n; i++) {
    if (!((s->signers >> i) & 1u)) continue;
    tc->high_qc_views[k] = s->high_qc_views[i];
    memcpy(tc->sigs[k++], s->sigs[i], QP_HS_SIG_SIZE);
  }
  return true;
}
