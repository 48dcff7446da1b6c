/*
 * consensus.c - the consensus core's life cycle and its normal case:
 * creating a core from genesis (and, after a crash, from its safety
 * record), the action queue every call leaves, proposals (checked,
 * stored, voted for) and votes (counted into QCs by the next leader).
 *
 * The voting rule is Jolteon's (DiemBFT v4): vote for a block of the
 * current view v only if v is above every view we voted or timed out in,
 * and the block extends a QC of view v - 1, or a TC of view v - 1 proves
 * that view failed and the block extends a QC at least as high as every
 * high QC in that TC.  Before the vote leaves, the new safety record goes
 * out as a PERSIST action: the caller makes it durable first.  Views,
 * timeouts and TCs live in consensus_pacemaker.c; blocks and the commit
 * rule in consensus_tree.c.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "chain/consensus.h"
#include "chain/consensus_int.h"

/* -------------------------------------------------------------- actions */

static int own(qp_hs_t *c, void *p) {
  void **slot = qp_array_push(&c->owned);
  if (slot == NULL) {
    qp_free(p);
    return QP_ENOMEM;
  }
  *slot = p;
  return 0;
}

int qp__hs_act_bytes(qp_hs_t *c, qp_hs_action_kind_t kind, uint32_t to, uint8_t *bytes,
                     size_t len) {
  int rc = own(c, bytes);
  if (rc != 0) return rc;
  qp_hs_action_t *a = qp_array_push(&c->actions);
  if (a == NULL) return QP_ENOMEM;
  a->kind = kind;
  a->to = to;
  a->bytes = bytes;
  a->len = len;
  return 0;
}

int qp__hs_act_commit(qp_hs_t *c, const qp_hs_block_t *b, const qp_hs_commit_cert_t *cert) {
  qp_hs_block_t *copy = qp_malloc(sizeof *copy);
  if (copy == NULL) return QP_ENOMEM;
  *copy = *b;
  int rc = own(c, copy);
  qp_hs_commit_cert_t *cert_copy = rc == 0 ? qp_malloc(sizeof *cert_copy) : NULL;
  if (rc == 0 && cert_copy == NULL) rc = QP_ENOMEM;
  if (rc != 0) return rc;
  *cert_copy = *cert;
  rc = own(c, cert_copy);
  qp_hs_action_t *a = rc == 0 ? qp_array_push(&c->actions) : NULL;
  if (a == NULL) return QP_ENOMEM;
  a->kind = QP_HS_ACT_COMMIT;
  a->block = copy;
  a->cert = cert_copy;
  return 0;
}

int qp__hs_persist(qp_hs_t *c) {
  QP_ASSERT(c->self >= 0);
  uint8_t *bytes = qp_malloc(QP_HS_SAFETY_BYTES_MAX);
  if (bytes == NULL) return QP_ENOMEM;
  size_t len = qp_hs_safety_encode(&c->safety, bytes);
  return qp__hs_act_bytes(c, QP_HS_ACT_PERSIST, 0, bytes, len);
}

static void actions_clear(qp_hs_t *c) {
  for (size_t i = 0; i < c->owned.count; i++) qp_free(*(void **)qp_array_at(&c->owned, i));
  qp_array_clear(&c->owned);
  qp_array_clear(&c->actions);
}

size_t qp_hs_actions(const qp_hs_t *c, const qp_hs_action_t **out) {
  *out = c->actions.count ? qp_array_at(&c->actions, 0) : NULL;
  return c->actions.count;
}

/* ---------------------------------------------------------------- votes */

static int vote_accept(qp_hs_t *c, const qp_hs_vote_t *v) {
  qp_hs_qc_t *qc = qp_malloc(sizeof *qc);
  if (qc == NULL) return QP_ENOMEM;
  int rc = qp__hs_vote_add(c, v, qc) ? qp__hs_process_qc(c, qc, v->voter) : 0;
  qp_free(qc);
  return rc;
}

static int on_vote(qp_hs_t *c, const qp_hs_vote_t *v) {
  if ((int32_t)qp_hs_leader(c->g, v->view + 1) != c->self) return 0;
  if (v->view + 1 < c->view) return 0; /* its view is over */
  uint8_t st[QP__HS_STATEMENT_MAX];
  size_t len = qp__hs_vote_statement(c->g, v->view, v->height, v->block_hash, st);
  int rc = qp__hs_verify_sig(c, v->voter, st, len, v->sig);
  return rc == 0 ? vote_accept(c, v) : rc;
}

/* Signs a vote for b and sends it to the next leader (or counts it, when
 * that is us).  The caller has persisted the safety record. */
static int cast_vote(qp_hs_t *c, const qp_hs_block_t *b) {
  qp_hs_vote_t v;
  const qp_hs_header_t *h = &b->header;
  int rc = qp_hs_vote_sign(c->g, c->key, (uint32_t)c->self, h->view, h->height, b->hash, &v);
  if (rc != 0) return rc;
  uint32_t next = qp_hs_leader(c->g, h->view + 1);
  if ((int32_t)next == c->self) return vote_accept(c, &v);
  uint8_t *bytes;
  size_t len;
  rc = qp_hs_encode_vote(c->g, &v, &bytes, &len);
  return rc == 0 ? qp__hs_act_bytes(c, QP_HS_ACT_SEND, next, bytes, len) : rc;
}

static bool justified(const qp_hs_t *c, uint64_t view, uint64_t qc_view, const qp_hs_tc_t *tc) {
  (void)c;
  if (qc_view + 1 == view) return true;
  return tc != NULL && tc->view + 1 == view && qc_view >= qp__hs_tc_max_high_qc(tc);
}

static int maybe_vote(qp_hs_t *c, const qp_hs_block_t *b, const qp_hs_tc_t *tc) {
  const qp_hs_header_t *h = &b->header;
  if (c->self < 0 || h->view != c->view || h->view <= c->safety.last_voted_view) return 0;
  if (!justified(c, h->view, h->justify.view, tc)) return QP_EINVAL;
  c->safety.last_voted_view = h->view;
  c->safety.high_qc = c->high_qc;
  int rc = qp__hs_persist(c);
  return rc == 0 ? cast_vote(c, b) : rc;
}

/* ------------------------------------------------------------ proposals */

/* What only the tree can tell: the parent's time, the empty-block rule and
 * the node's verdict on the payload. */
static int check_content(qp_hs_t *c, const qp_hs_block_t *b, const qp_hs_block_t *parent) {
  if (b->header.timestamp_ms < parent->header.timestamp_ms) return QP_EINVAL;
  if (b->header.timestamp_ms > c->now_ms + QP_HS_CLOCK_SKEW_MS_MAX) return QP_EINVAL;
  if (b->payload_len == 0 && !qp__hs_empty_allowed(c, parent)) return QP_EINVAL;
  if (c->block_valid != NULL && !c->block_valid(c->ctx, b)) return QP_EINVAL;
  return 0;
}

static int verify_block(qp_hs_t *c, const qp_hs_block_t *b) {
  uint8_t st[QP__HS_STATEMENT_MAX];
  size_t len = qp__hs_proposal_statement(c->g, b->hash, st);
  int rc = qp__hs_verify_sig(c, b->header.proposer, st, len, b->header.signature);
  return rc == 0 ? qp__hs_qc_verify(c, &b->header.justify) : rc;
}

/* Stores b (verified) unless its parent is missing: then it waits. */
static int store_or_wait(qp_hs_t *c, uint32_t from, const qp_hs_block_t *b, const uint8_t *raw,
                         size_t raw_len, bool fetched) {
  const uint8_t *parent = b->header.parent_hash;
  if (qp__hs_find_block(c, parent) != NULL) return 1;
  int rc = qp__hs_orphan_add(c, raw, raw_len, from, fetched, b);
  if (rc == 0 && !qp__hs_orphan_held(c, parent)) rc = qp__hs_want(c, parent, from);
  return rc;
}

static int on_proposal(qp_hs_t *c, uint32_t from, const qp_hs_block_t *b, const qp_hs_tc_t *tc,
                       const uint8_t *raw, size_t raw_len) {
  if (b->header.height <= c->root.header.height) return 0;
  int rc = verify_block(c, b);
  if (rc == 0 && tc != NULL) rc = qp__hs_tc_verify(c, tc);
  if (rc == 0 && tc != NULL) rc = qp__hs_process_tc(c, tc);
  if (rc == 0) rc = qp__hs_process_qc(c, &b->header.justify, from);
  if (rc != 0 || qp__hs_find(c, b->hash) != NULL) return rc == 0 ? maybe_vote(c, b, tc) : rc;
  rc = store_or_wait(c, from, b, raw, raw_len, false);
  if (rc <= 0) return rc;
  const qp_hs_block_t *parent = qp__hs_find_block(c, b->header.parent_hash);
  rc = check_content(c, b, parent);
  if (rc == 0 && qp__hs_view_taken(c, b->header.view, b->hash)) rc = QP_EINVAL;
  if (rc == 0) rc = qp__hs_tree_add(c, b);
  if (rc == 0) rc = qp__hs_try_commit(c, &c->high_qc);
  return rc == 0 ? maybe_vote(c, b, tc) : rc;
}

/* A block fetched by hash: certified (a QC or a child names it), so only
 * its signatures are checked, not its content. */
static int on_fetched(qp_hs_t *c, uint32_t from, const qp_hs_block_t *b) {
  if (b->header.height <= c->root.header.height || qp__hs_find(c, b->hash) != NULL) return 0;
  int rc = verify_block(c, b);
  if (rc != 0) return rc;
  uint8_t *raw = NULL;
  size_t raw_len = 0;
  if (qp__hs_find_block(c, b->header.parent_hash) == NULL) {
    rc = qp_hs_encode_block(c->g, b, &raw, &raw_len);
    if (rc == 0) rc = store_or_wait(c, from, b, raw, raw_len, true);
    qp_free(raw);
    return rc;
  }
  rc = qp__hs_tree_add(c, b);
  if (rc == 0) rc = qp__hs_process_qc(c, &b->header.justify, from);
  if (rc == 0) rc = qp__hs_try_commit(c, &c->high_qc);
  return rc;
}

static int on_response(qp_hs_t *c, uint32_t from, const qp_hs_msg_t *m) {
  if (!qp__hs_wanted(c, m->blocks[0].hash)) return 0; /* unsolicited */
  int rc = 0;
  for (uint32_t i = m->blocks_count; i-- > 0 && rc == 0;) rc = on_fetched(c, from, &m->blocks[i]);
  return rc;
}

static int handle(qp_hs_t *c, uint32_t from, const uint8_t *bytes, size_t len) {
  qp_hs_msg_t *m = c->msg;
  int rc = qp_hs_msg_decode(c->g, bytes, len, m);
  if (rc != 0) return rc;
  switch (m->type) {
    case QP_HS_MSG_PROPOSAL:
      return on_proposal(c, from, &m->blocks[0], m->has_tc ? &m->tc : NULL, bytes, len);
    case QP_HS_MSG_VOTE: return on_vote(c, &m->vote);
    case QP_HS_MSG_TIMEOUT: return qp__hs_on_timeout(c, from, &m->timeout);
    case QP_HS_MSG_SYNC: return qp__hs_on_sync(c, from, m);
    case QP_HS_MSG_BLOCK_REQUEST:
      return qp__hs_on_request(c, from, m->request_hash, m->request_count);
    case QP_HS_MSG_BLOCK_RESPONSE: return on_response(c, from, m);
  }
  return QP_EPARSE;
}

/* Replays the orphans whose parent has arrived, lowest first. */
static int drain_orphans(qp_hs_t *c) {
  qp__hs_orphan_t o;
  bool stale = false;
  int rc = 0;
  for (uint32_t round = 0;
       rc == 0 && round < 2 * QP__HS_ORPHANS_MAX && qp__hs_orphan_take(c, &o, &stale); round++) {
    if (!stale && o.fetched) {
      rc = qp_hs_decode_block(c->g, o.bytes, o.len, &c->msg->blocks[0]);
      if (rc == 0) rc = on_fetched(c, o.from, &c->msg->blocks[0]);
    } else if (!stale) {
      rc = handle(c, o.from, o.bytes, o.len);
    }
    qp_free(o.bytes);
    if (rc != QP_ENOMEM) rc = 0; /* a bad orphan only drops itself */
  }
  return rc;
}

/* ------------------------------------------------------------ proposing */

int qp__hs_maybe_request_payload(qp_hs_t *c) {
  if (c->self < 0 || c->proposed || c->need_payload) return 0;
  if ((int32_t)qp_hs_leader(c->g, c->view) != c->self) return 0;
  if (c->view <= c->safety.last_voted_view) return 0; /* proposed (or gave up) before a crash */
  if (!justified(c, c->view, c->high_qc.view, c->has_tc ? &c->last_tc : NULL)) return 0;
  const qp_hs_block_t *parent = qp__hs_find_block(c, c->high_qc.block_hash);
  if (parent == NULL)
    return qp__hs_want(c, c->high_qc.block_hash, qp_hs_leader(c->g, c->high_qc.view));
  qp_hs_action_t *a = qp_array_push(&c->actions);
  if (a == NULL) return QP_ENOMEM;
  c->need_payload = true;
  c->propose_qc = c->high_qc;
  c->empty_ok = qp__hs_empty_allowed(c, parent);
  a->kind = QP_HS_ACT_NEED_PAYLOAD;
  a->view = c->view;
  a->height = parent->header.height + 1;
  memcpy(a->parent_hash, parent->hash, QP_HASH_SIZE);
  a->empty_ok = c->empty_ok;
  return 0;
}

static void begin_call(qp_hs_t *c, uint64_t now_ms) {
  actions_clear(c);
  if (c->prune_due) qp__hs_prune(c);
  if (now_ms > c->now_ms) c->now_ms = now_ms;
}

static int end_call(qp_hs_t *c, int rc) {
  int more = drain_orphans(c);
  if (more == 0) more = qp__hs_maybe_request_payload(c);
  if (more == 0) more = qp__hs_timer_update(c);
  return rc != 0 ? rc : more;
}

/* Builds, signs, stores and broadcasts our block for the current view;
 * persists our vote for it before anything leaves. */
static int propose(qp_hs_t *c, const uint8_t *payload, uint32_t len, const uint8_t *tx_root,
                   const uint8_t *state_root, const uint8_t *receipts_root) {
  const qp_hs_qc_t *qc = &c->propose_qc; /* the QC NEED_PAYLOAD announced */
  const qp_hs_block_t *parent = qp__hs_find_block(c, qc->block_hash);
  if (parent == NULL) return QP_EINVAL; /* committed past it meanwhile */
  qp_hs_block_t b;
  memset(&b, 0, sizeof b);
  qp_hs_header_t *h = &b.header;
  h->height = parent->header.height + 1;
  h->view = c->view;
  h->timestamp_ms =
      c->now_ms > parent->header.timestamp_ms ? c->now_ms : parent->header.timestamp_ms;
  h->proposer = (uint32_t)c->self;
  memcpy(h->parent_hash, parent->hash, QP_HASH_SIZE);
  memcpy(h->tx_root, tx_root, QP_HASH_SIZE);
  memcpy(h->state_root, state_root, QP_HASH_SIZE);
  memcpy(h->receipts_root, receipts_root, QP_HASH_SIZE);
  h->justify = *qc;
  b.payload = len ? payload : NULL;
  b.payload_len = len;
  int rc = qp_hs_block_seal(c->g, c->key, &b);
  if (rc == 0) rc = qp__hs_tree_add(c, &b);
  if (rc != 0) return rc;
  c->proposed = true;
  c->safety.last_voted_view = c->view;
  c->safety.high_qc = c->high_qc;
  rc = qp__hs_persist(c);
  const qp_hs_tc_t *tc = qc->view + 1 == c->view ? NULL : &c->last_tc;
  uint8_t *bytes;
  size_t bytes_len;
  if (rc == 0) rc = qp_hs_encode_proposal(c->g, &b, tc, &bytes, &bytes_len);
  if (rc == 0) rc = qp__hs_act_bytes(c, QP_HS_ACT_BROADCAST, 0, bytes, bytes_len);
  return rc == 0 ? cast_vote(c, &b) : rc;
}

uint64_t qp_hs_proposal_time_ms(const qp_hs_t *c, uint64_t now_ms) {
  QP_ASSERT(c != NULL);
  uint64_t t = now_ms > c->now_ms ? now_ms : c->now_ms; /* as begin_call sets it */
  const qp_hs_block_t *parent = qp__hs_find_block(c, c->propose_qc.block_hash);
  if (parent != NULL && parent->header.timestamp_ms > t) t = parent->header.timestamp_ms;
  return t;
}

int qp_hs_propose(qp_hs_t *c, const uint8_t *payload, uint32_t len,
                  const uint8_t tx_root[QP_HASH_SIZE], const uint8_t state_root[QP_HASH_SIZE],
                  const uint8_t receipts_root[QP_HASH_SIZE], uint64_t now_ms) {
  QP_ASSERT(c != NULL && (payload != NULL || len == 0) && tx_root && state_root && receipts_root);
  begin_call(c, now_ms);
  int rc = 0;
  if (!c->need_payload || c->proposed || c->view <= c->safety.last_voted_view)
    rc = QP_EINVAL;
  else if (len == 0 && !c->empty_ok)
    rc = QP_EINVAL;
  else if (len > c->g->params.block_bytes_max)
    rc = QP_EINVAL;
  if (rc == 0) rc = propose(c, payload, len, tx_root, state_root, receipts_root);
  return end_call(c, rc);
}

/* --------------------------------------------------------------- inputs */

int qp_hs_on_message(qp_hs_t *c, uint32_t from, const uint8_t *bytes, size_t len, uint64_t now_ms) {
  QP_ASSERT(c != NULL);
  begin_call(c, now_ms);
  int rc = from < c->n ? handle(c, from, bytes, len) : QP_EINVAL;
  return end_call(c, rc);
}

int qp_hs_on_tick(qp_hs_t *c, uint64_t now_ms) {
  QP_ASSERT(c != NULL);
  begin_call(c, now_ms);
  return end_call(c, qp__hs_tick(c));
}

int qp_hs_set_pending(qp_hs_t *c, bool pending, uint64_t now_ms) {
  QP_ASSERT(c != NULL);
  begin_call(c, now_ms);
  c->pending = pending;
  return end_call(c, 0);
}

/* ------------------------------------------------------------ lifecycle */

static int config_check(const qp_hs_config_t *cfg) {
  const qp_chain_genesis_t *g = cfg->genesis;
  if (g == NULL || g->validators_count == 0 || g->validators_count > QP_CHAIN_VALIDATORS_MAX)
    return QP_EINVAL;
  if (cfg->self < -1 || cfg->self >= (int32_t)g->validators_count) return QP_EINVAL;
  if (cfg->self < 0) return 0;
  if (cfg->key == NULL || qp_sign_key_suite(cfg->key) != g->suite) return QP_EINVAL;
  uint8_t pub[QP_SIGN_PUBLIC_MAX];
  size_t pub_len = 0;
  qp_sign_public(cfg->key, pub, &pub_len);
  const qp_chain_validator_t *v = &g->validators[cfg->self];
  if (pub_len != v->public_key_len || memcmp(pub, v->public_key, pub_len) != 0) return QP_EINVAL;
  return 0;
}

static int restore(qp_hs_t *c, const qp_hs_config_t *cfg) {
  qp_hs_genesis_qc(c->g, &c->high_qc);
  if (cfg->committed != NULL) {
    c->root = *cfg->committed;
    c->root.payload = NULL;
  } else {
    qp_hs_genesis_block(c->g, &c->root);
  }
  if (cfg->safety != NULL) {
    int rc = qp_hs_safety_decode(c->g, cfg->safety, cfg->safety_len, &c->safety);
    if (rc == 0) rc = qp__hs_qc_verify(c, &c->safety.high_qc);
    if (rc != 0) return rc;
    c->high_qc = c->safety.high_qc;
  } else {
    c->safety.high_qc = c->high_qc;
  }
  uint64_t view = c->high_qc.view + 1;
  if (c->safety.last_voted_view > view) view = c->safety.last_voted_view;
  if (c->root.header.view + 1 > view) view = c->root.header.view + 1;
  c->view = view;
  return 0;
}

static int alloc_core(const qp_hs_config_t *cfg, qp_hs_t **out) {
  qp_hs_t *c = qp_calloc(1, sizeof *c);
  if (c == NULL) return QP_ENOMEM;
  c->sig_cache = qp_calloc(QP__HS_SIG_CACHE_SLOTS, QP_HASH_SIZE);
  c->msg = qp_calloc(1, sizeof *c->msg);
  *out = c;
  if (c->sig_cache == NULL || c->msg == NULL) return QP_ENOMEM;
  c->g = cfg->genesis;
  c->self = cfg->self;
  c->key = cfg->key;
  c->block_valid = cfg->block_valid;
  c->ctx = cfg->ctx;
  c->n = c->g->validators_count;
  c->quorum = qp_chain_quorum(c->n);
  c->retain_committed = cfg->retain_committed ? cfg->retain_committed : QP__HS_RETAIN_DEFAULT;
  c->blocks_max = cfg->blocks_max ? cfg->blocks_max : QP__HS_BLOCKS_DEFAULT;
  qp_array_init(&c->entries, sizeof(qp__hs_entry_t),
                (size_t)c->blocks_max + c->retain_committed + 16u);
  qp_array_init(&c->actions, sizeof(qp_hs_action_t), QP__HS_ACTIONS_MAX);
  qp_array_init(&c->owned, sizeof(void *), QP__HS_ACTIONS_MAX);
  return 0;
}

int qp_hs_create(const qp_hs_config_t *cfg, uint64_t now_ms, qp_hs_t **out) {
  QP_ASSERT(cfg != NULL && out != NULL);
  *out = NULL;
  int rc = config_check(cfg);
  if (rc != 0) return rc;
  qp_hs_t *c = NULL;
  rc = alloc_core(cfg, &c);
  if (rc == 0) rc = restore(c, cfg);
  if (rc != 0) {
    qp_hs_destroy(c);
    return rc;
  }
  c->now_ms = now_ms;
  c->view_started_ms = now_ms;
  c->timer_at_ms = UINT64_MAX;
  rc = end_call(c, 0);
  if (rc != 0) {
    qp_hs_destroy(c);
    return rc;
  }
  *out = c;
  return 0;
}

void qp_hs_destroy(qp_hs_t *c) {
  if (c == NULL) return;
  actions_clear(c);
  for (size_t i = 0; i < c->entries.count; i++)
    qp_free(((qp__hs_entry_t *)qp_array_at(&c->entries, i))->payload);
  qp_array_deinit(&c->entries);
  qp_array_deinit(&c->actions);
  qp_array_deinit(&c->owned);
  qp__hs_orphans_free(c);
  qp_free(c->timeout_msg);
  qp_free(c->sig_cache);
  qp_free(c->msg);
  qp_free(c);
}

/* ------------------------------------------------------- introspection */

const qp_hs_block_t *qp_hs_block_find(const qp_hs_t *c, const uint8_t hash[QP_HASH_SIZE]) {
  const qp__hs_entry_t *e = qp__hs_find(c, hash);
  return e ? &e->block : NULL;
}

uint64_t qp_hs_view(const qp_hs_t *c) { return c->view; }
uint64_t qp_hs_last_voted_view(const qp_hs_t *c) { return c->safety.last_voted_view; }
uint64_t qp_hs_views_by_timeout(const qp_hs_t *c) { return c->views_by_timeout; }
uint64_t qp_hs_local_timeouts(const qp_hs_t *c) { return c->local_timeouts; }
const qp_hs_qc_t *qp_hs_high_qc(const qp_hs_t *c) { return &c->high_qc; }
const qp_hs_block_t *qp_hs_committed(const qp_hs_t *c) { return &c->root; }
const qp_hs_tc_t *qp_hs_last_tc(const qp_hs_t *c) { return c->has_tc ? &c->last_tc : NULL; }
