/*
 * epochs.c - the validator sets a node's chain has had (valset.h), read
 * from the committed state: each epoch's consensus configuration (to run
 * consensus in the current one, and to decode and prove blocks of any
 * height), and the transport's peers - every validator the chain ever had,
 * the genesis's first, then each added one in the order it was added, so a
 * peer keeps its index for the life of the process.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "chain/gov.h"
#include "chain/node_int.h"

/* The gov app's record of epoch e (e >= 1), or its current epoch (e = 0:
 * *epoch set) from the committed state. */
static int gov_read(qp__chain_node_t *n, uint32_t e, uint32_t *epoch, qp_chain_valset_t *out) {
  qp_chain_reader_t r;
  int rc = qp_chain_reader_begin(qp_chain_store_state(n->store), NULL, 0, &r);
  if (rc != 0) return rc;
  qp_chain_app_view_ctx_t vctx;
  qp_chain_view_t view;
  qp_chain_reader_app_view(&r, QP_CHAIN_GOV_APP, &vctx, &view);
  if (e == 0) {
    rc = qp_chain_gov_valset(&view, out);
    *epoch = out->epoch;
  } else {
    uint8_t key[8];
    const uint8_t *p = NULL;
    size_t len = 0;
    qp_chain_gov_set_key(e, key);
    rc = view.get(view.ctx, key, sizeof key, &p, &len);
    if (rc == 0 && qp_chain_valset_decode(n->genesis.suite, p, len, out) != 0) rc = QP_ECORRUPT;
  }
  qp_chain_reader_end(&r);
  return rc;
}

/* Adds the validators of s not yet among the transport's peers. */
static bool peers_add(qp__chain_epochs_t *ep, const qp_chain_valset_t *s) {
  bool grew = false;
  for (uint32_t i = 0; i < s->count && ep->peers.count < QP_CHAIN_VALIDATORS_MAX; i++) {
    const qp_chain_validator_t *v = &s->validators[i];
    if (qp_chain_valset_find(&ep->peers, v->public_key, v->public_key_len) >= 0) continue;
    ep->peers.validators[ep->peers.count] = *v;
    memcpy(ep->peers.addresses[ep->peers.count], s->addresses[i], sizeof s->addresses[i]);
    ep->peers.count++;
    grew = true;
  }
  return grew;
}

/* Appends epoch s's configuration, based on the stored block at
 * s->since - 1 decoded with the epoch before's. */
static int push(qp__chain_node_t *n, const qp_chain_valset_t *s) {
  qp__chain_epochs_t *ep = &n->epochs;
  qp_chain_genesis_t *cfg = qp_malloc(sizeof *cfg);
  qp_chain_genesis_t **grown = qp_realloc(ep->cfgs, (ep->count + 1) * sizeof *grown);
  if (cfg == NULL || grown == NULL) {
    qp_free(cfg);
    if (grown != NULL) ep->cfgs = grown;
    return QP_ENOMEM;
  }
  ep->cfgs = grown;
  qp_chain_block_t stored = {0};
  qp_hs_block_t base;
  memset(&base, 0, sizeof base);
  int rc = 0;
  if (s->epoch > 0) {
    rc = qp_chain_store_block(n->store, s->since - 1, &stored);
    if (rc == 0)
      rc = qp_hs_decode_block(ep->cfgs[ep->count - 1], stored.header, stored.header_len, &base);
  }
  if (rc == 0)
    rc = qp_chain_epoch_config(&n->genesis, s, base.header.view, base.header.height, base.hash,
                               cfg);
  qp_chain_block_deinit(&stored);
  if (rc != 0) {
    qp_free(cfg);
    return rc == QP_EPARSE || rc == QP_EINVAL ? QP_ECORRUPT : rc;
  }
  pthread_mutex_lock(&ep->mutex);
  ep->cfgs[ep->count++] = cfg;
  peers_add(ep, s);
  pthread_mutex_unlock(&ep->mutex);
  return 0;
}

/* The current epoch's configuration and this node's places in it. */
static void take_current(qp__chain_node_t *n) {
  uint8_t pub[QP_SIGN_PUBLIC_MAX];
  size_t len = 0;
  qp_sign_public(n->key, pub, &len);
  n->cfg = n->epochs.cfgs[n->epochs.count - 1];
  n->member = qp_chain_genesis_find(n->cfg, pub, len);
  n->self = qp_chain_valset_find(&n->epochs.peers, pub, len);
}

int qp__chain_epochs_open(qp__chain_node_t *n, char *detail, size_t detail_size) {
  qp__chain_epochs_t *ep = &n->epochs;
  pthread_mutex_init(&ep->mutex, NULL);
  qp_chain_valset_t *s = qp_malloc(sizeof *s);
  uint32_t current = 0;
  int rc = s == NULL ? QP_ENOMEM : gov_read(n, 0, &current, s);
  if (rc == 0) qp_chain_valset_genesis(&n->genesis, s);
  if (rc == 0) rc = push(n, s);
  for (uint32_t e = 1; rc == 0 && e <= current; e++) {
    uint32_t ignored = 0;
    rc = gov_read(n, e, &ignored, s);
    if (rc == 0) rc = push(n, s);
  }
  qp_free(s);
  if (rc != 0) {
    snprintf(detail, detail_size, "chain: cannot read the validator sets: %s", qp_strerror(rc));
    return rc;
  }
  take_current(n);
  if (n->self < 0) {
    snprintf(detail, detail_size,
             "chain: this node's key is not a validator of chain %s (not in genesis, not added "
             "by governance)", n->genesis.chain_id);
    return QP_EINVAL;
  }
  return 0;
}

void qp__chain_epochs_close(qp__chain_node_t *n) {
  for (uint32_t e = 0; e < n->epochs.count; e++) qp_free(n->epochs.cfgs[e]);
  qp_free(n->epochs.cfgs);
  n->epochs.cfgs = NULL;
  n->epochs.count = 0;
  pthread_mutex_destroy(&n->epochs.mutex);
}

int qp__chain_epochs_advance(qp__chain_node_t *n, bool *peers_grew) {
  qp_chain_valset_t *s = qp_malloc(sizeof *s);
  uint32_t current = 0, before = n->epochs.peers.count;
  int rc = s == NULL ? QP_ENOMEM : gov_read(n, 0, &current, s);
  if (rc == 0 && current != n->epochs.count) rc = QP_ECORRUPT; /* one epoch at a time */
  if (rc == 0) rc = push(n, s);
  qp_free(s);
  if (rc != 0) return rc;
  take_current(n);
  *peers_grew = n->epochs.peers.count != before;
  QP_LOG_INFO("chain", "epoch %u from height %llu: %u validators%s", n->cfg->epoch,
              (unsigned long long)n->cfg->base_height + 1, n->cfg->validators_count,
              n->member >= 0 ? "" : "; this node is no longer one of them (it follows)");
  return 0;
}

void qp__chain_cfg_at(qp__chain_node_t *n, uint64_t height, qp_chain_genesis_t *out) {
  pthread_mutex_lock(&n->epochs.mutex);
  uint32_t e = n->epochs.count - 1;
  while (e > 0 && n->epochs.cfgs[e]->base_height >= height) e--;
  *out = *n->epochs.cfgs[e];
  pthread_mutex_unlock(&n->epochs.mutex);
}

uint32_t qp__chain_peer_of(const qp__chain_node_t *n, uint32_t member) {
  if (member >= n->cfg->validators_count) return UINT32_MAX;
  const qp_chain_validator_t *v = &n->cfg->validators[member];
  int32_t p = qp_chain_valset_find(&n->epochs.peers, v->public_key, v->public_key_len);
  return p < 0 ? UINT32_MAX : (uint32_t)p;
}

int32_t qp__chain_member_of(const qp__chain_node_t *n, uint32_t peer) {
  if (peer >= n->epochs.peers.count) return -1;
  const qp_chain_validator_t *v = &n->epochs.peers.validators[peer];
  return qp_chain_genesis_find(n->cfg, v->public_key, v->public_key_len);
}

static void source_at(void *ctx, uint64_t height, qp_chain_genesis_t *out) {
  qp__chain_cfg_at(ctx, height, out);
}

static bool source_of(void *ctx, uint32_t epoch, qp_chain_genesis_t *out) {
  qp__chain_node_t *n = ctx;
  pthread_mutex_lock(&n->epochs.mutex);
  bool known = epoch < n->epochs.count;
  if (known) *out = *n->epochs.cfgs[epoch];
  pthread_mutex_unlock(&n->epochs.mutex);
  return known;
}

void qp__chain_epoch_source(qp__chain_node_t *n, qp_chain_epoch_source_t *out) {
  *out = (qp_chain_epoch_source_t){.at_height = source_at, .of_epoch = source_of, .ctx = n};
}

/* The checkers of a frame from member origin (vouch.h) as a member mask,
 * and whether each is this node or a peer whose connection is up (epochs
 * mutex held). */
static uint64_t checkers_of(const qp__chain_node_t *n, const qp_chain_genesis_t *cfg,
                            uint32_t origin, bool *up) {
  uint64_t mask = 0;
  *up = true;
  for (uint32_t m = 0; m < cfg->validators_count; m++) {
    if (!qp_chain_vouch_is_checker(cfg->validators_count, origin, m)) continue;
    mask |= UINT64_C(1) << m;
    const qp_chain_validator_t *v = &cfg->validators[m];
    int32_t p = qp_chain_valset_find(&n->epochs.peers, v->public_key, v->public_key_len);
    *up = *up && p >= 0 && (p == n->self || qp_net_peer_is_up(n->net, (uint32_t)p));
  }
  return mask;
}

void qp__chain_roster(qp__chain_node_t *n, uint32_t peer, qp__chain_roster_t *out) {
  uint8_t pub[QP_SIGN_PUBLIC_MAX];
  size_t len = 0;
  qp_sign_public(n->key, pub, &len);
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&n->epochs.mutex);
  const qp_chain_genesis_t *cfg = n->epochs.cfgs[n->epochs.count - 1];
  out->count = cfg->validators_count;
  out->members = out->count >= 64 ? UINT64_MAX : (UINT64_C(1) << out->count) - 1;
  out->self = qp_chain_genesis_find(cfg, pub, len);
  out->origin = -1;
  out->peers = n->epochs.peers.count;
  if (peer < n->epochs.peers.count) {
    const qp_chain_validator_t *v = &n->epochs.peers.validators[peer];
    out->origin = qp_chain_genesis_find(cfg, v->public_key, v->public_key_len);
    memcpy(out->origin_key, v->public_key, v->public_key_len);
    out->origin_key_len = v->public_key_len;
  }
  if (out->origin >= 0)
    out->checkers = checkers_of(n, cfg, (uint32_t)out->origin, &out->checkers_up);
  pthread_mutex_unlock(&n->epochs.mutex);
}
