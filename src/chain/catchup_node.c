/*
 * catchup_node.c - a node's side of catching up across epoch changes
 * (catchup.h, docs/chain.md "Catch-up"), on the driver thread: asking a
 * peer for the committed blocks after our head, serving such a request
 * from the block store, and committing a run we were sent once
 * qp_chain_catchup_check proved it final under the set in force here.
 *
 * A peer is asked when its connection comes up, when it sends a consensus
 * message or an end of epoch this node cannot use (it may speak a later
 * epoch), and again at once after each run while it says it is further.
 * A peer serves an asker in an earlier epoch than its own, and one in its
 * own epoch only when asked up to its head (a connection that came up, a
 * run that just came: a restarted node reaches the head even on an idle
 * chain); otherwise, within one epoch, the consensus core fetches what it
 * lacks itself.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "chain/catchup.h"
#include "chain/node_int.h"

#define ASK_EVERY_MS 1000u       /* per peer, unless a run just came from it */
#define CERT_ROOM (64u << 10)    /* a cert's bytes at most, kept out of a run's budget */

void qp__chain_catchup_ask(qp__chain_node_t *n, uint32_t peer, uint64_t now_ms, bool now) {
  if (peer >= QP_CHAIN_VALIDATORS_MAX || (int32_t)peer == n->self) return;
  if (!now && now_ms < n->catchup_asked_ms[peer] + ASK_EVERY_MS) return;
  n->catchup_asked_ms[peer] = now_ms;
  qp_chain_head_t head;
  qp_chain_store_head(n->store, &head);
  uint8_t frame[1 + QP_CHAIN_CATCHUP_REQUEST_BYTES];
  frame[0] = QP__CHAIN_CHANNEL_CATCHUP;
  qp_chain_catchup_request(n->cfg->epoch, head.height + 1, now, frame + 1);
  qp_net_send(n->net, peer, frame, sizeof frame);
}

/* The stored blocks from `from` on, within from's epoch (at), while they
 * last, up to QP_CHAIN_CATCHUP_BLOCKS_MAX + 2 (two more than a run holds:
 * they can certify its last block).  Returns how many were read. */
static uint32_t read_run(qp__chain_node_t *n, const qp_chain_genesis_t *at, uint64_t from,
                         uint64_t head, qp_chain_block_t *stored, qp_hs_block_t *blocks) {
  qp_chain_genesis_t *cfg = qp_malloc(sizeof *cfg);
  uint32_t got = 0;
  for (uint64_t h = from; cfg != NULL && h <= head && got < QP_CHAIN_CATCHUP_BLOCKS_MAX + 2;
       h++, got++) {
    qp__chain_cfg_at(n, h, cfg);
    if (cfg->epoch != at->epoch || qp_chain_store_block(n->store, h, &stored[got]) != 0)
      break;
    if (qp_hs_decode_block(at, stored[got].header, stored[got].header_len, &blocks[got]) != 0) {
      qp_chain_block_deinit(&stored[got]);
      break;
    }
  }
  qp_free(cfg);
  return got;
}

/* The cert of blocks[i]: the one stored with it when it is its own (the
 * highest block of a commit, or an epoch's end), else made of the next two
 * blocks when the next one was proposed in the very next view (its QC is
 * in the one after).  Returns 0 with *out (qp_malloc'ed) or QP_ENOTFOUND. */
static int cert_of(const qp_chain_genesis_t *at, const qp_chain_block_t *stored,
                   const qp_hs_block_t *blocks, uint32_t i, uint32_t got, uint8_t **out,
                   size_t *len) {
  qp_hs_commit_cert_t *cert = qp_malloc(sizeof *cert);
  if (cert == NULL) return QP_ENOMEM;
  int rc = QP_ENOTFOUND;
  if (stored[i].qc_len > 0 && qp_hs_decode_cert(at, stored[i].qc, stored[i].qc_len, cert) == 0 &&
      memcmp(cert->child.parent_hash, blocks[i].hash, QP_HASH_SIZE) == 0)
    rc = 0;
  else if (i + 2 < got && blocks[i + 1].header.view == blocks[i].header.view + 1) {
    cert->child = blocks[i + 1].header;
    cert->qc = blocks[i + 2].header.justify;
    rc = 0;
  }
  if (rc == 0) rc = qp_hs_encode_cert(at, cert, out, len);
  qp_free(cert);
  return rc;
}

/* A run's parts: the stored blocks' encodings, and the cert. */
typedef struct run {
  const uint8_t *parts[QP_CHAIN_CATCHUP_BLOCKS_MAX];
  size_t lens[QP_CHAIN_CATCHUP_BLOCKS_MAX];
  uint32_t count;
  uint8_t *cert; /* qp_malloc'ed, or borrowed from `end` below */
  size_t cert_len;
  uint8_t *above; /* the blocks kept above an epoch's end (store.h), qp_malloc'ed */
  bool cert_owned;
} run_t;

/* blocks[0..got) ends with the last block of its epoch, committed with
 * blocks above it (a view change right after it): the run is all of them,
 * then those blocks, and the cert stored with it.  Returns 0 or
 * QP_ENOTFOUND (not such an end, or it does not fit one run). */
static int run_to_end(qp__chain_node_t *n, const qp_chain_block_t *stored, uint32_t got,
                      size_t budget, run_t *r) {
  size_t len = 0, at = 0, used = 0;
  if (got == 0 || got > QP_CHAIN_CATCHUP_BLOCKS_MAX || stored[got - 1].qc_len == 0 ||
      qp_chain_store_above(n->store, stored[got - 1].height, &r->above, &len) != 0)
    return QP_ENOTFOUND;
  for (uint32_t i = 0; i < got; i++, r->count++) {
    r->parts[i] = stored[i].header;
    r->lens[i] = stored[i].header_len;
    used += r->lens[i] + 4u;
  }
  while (at < len) {
    size_t part = len - at >= 4 ? qp_load_u32(r->above + at) : SIZE_MAX;
    if (part > len - at - 4 || r->count == QP_CHAIN_CATCHUP_BLOCKS_MAX) return QP_ENOTFOUND;
    r->parts[r->count] = r->above + at + 4;
    r->lens[r->count++] = part;
    used += part + 4u;
    at += part + 4u;
  }
  if (used > budget) return QP_ENOTFOUND;
  r->cert = (uint8_t *)stored[got - 1].qc;
  r->cert_len = stored[got - 1].qc_len;
  return 0;
}

/* The longest run from blocks[0] that fits and ends at a block with a
 * cert.  Returns 0 or QP_ENOTFOUND. */
static int run_to_cert(const qp_chain_genesis_t *at, const qp_chain_block_t *stored,
                       const qp_hs_block_t *blocks, uint32_t got, size_t budget, run_t *r) {
  size_t used = 0;
  uint32_t fit = 0;
  while (fit < got && fit < QP_CHAIN_CATCHUP_BLOCKS_MAX &&
         used + stored[fit].header_len + 4u <= budget)
    used += stored[fit++].header_len + 4u;
  int rc = QP_ENOTFOUND;
  while (fit > 0 && (rc = cert_of(at, stored, blocks, fit - 1, got, &r->cert, &r->cert_len)) ==
                        QP_ENOTFOUND)
    fit--;
  r->cert_owned = true;
  for (uint32_t i = 0; rc == 0 && i < fit; i++, r->count++) {
    r->parts[i] = stored[i].header;
    r->lens[i] = stored[i].header_len;
  }
  return rc;
}

/* Sends the longest run from `from` we can show a cert for. */
static void send_run(qp__chain_node_t *n, uint32_t peer, const qp_chain_genesis_t *at,
                     uint64_t from, uint64_t head, qp_chain_block_t *stored,
                     qp_hs_block_t *blocks, run_t *r) {
  uint32_t got = read_run(n, at, from, head, stored, blocks);
  size_t budget = qp_hs_msg_bytes_max(&n->genesis) - CERT_ROOM;
  int rc = run_to_end(n, stored, got, budget, r);
  if (rc != 0) {
    qp_free(r->above);
    memset(r, 0, sizeof *r);
    rc = run_to_cert(at, stored, blocks, got, budget, r);
  }
  uint8_t *frame = NULL;
  size_t frame_len = 0;
  if (rc == 0)
    rc = qp_chain_catchup_response(n->cfg->epoch, head, r->parts, r->lens, r->count, r->cert,
                                   r->cert_len, 1, &frame, &frame_len);
  if (rc == 0) {
    frame[0] = QP__CHAIN_CHANNEL_CATCHUP;
    qp_net_send(n->net, peer, frame, frame_len);
  }
  QP_LOG_DEBUG("chain", "catch-up: %u blocks from %llu of epoch %u to %s: %s", r->count,
               (unsigned long long)from, at->epoch, n->epochs.peers.validators[peer].name,
               qp_strerror(rc));
  for (uint32_t i = 0; i < got; i++) qp_chain_block_deinit(&stored[i]);
  if (r->cert_owned) qp_free(r->cert);
  qp_free(r->above);
  qp_free(frame);
}

static void serve(qp__chain_node_t *n, uint32_t peer, const qp_chain_catchup_msg_t *req) {
  qp_chain_head_t head;
  qp_chain_store_head(n->store, &head);
  /* An asker in an earlier epoch, or in ours when it asks for the head
   * (it just connected, or a run just came): nothing else to show. */
  bool serve_it = req->epoch < n->cfg->epoch || (req->epoch == n->cfg->epoch && req->to_head);
  if (!serve_it || req->from > head.height) return;
  qp_chain_genesis_t *at = qp_malloc(sizeof *at);
  qp_chain_block_t *stored = qp_calloc(QP_CHAIN_CATCHUP_BLOCKS_MAX + 2, sizeof *stored);
  qp_hs_block_t *blocks = qp_calloc(QP_CHAIN_CATCHUP_BLOCKS_MAX + 2, sizeof *blocks);
  run_t *r = qp_calloc(1, sizeof *r);
  if (at != NULL && stored != NULL && blocks != NULL && r != NULL) {
    qp__chain_cfg_at(n, req->from, at);
    send_run(n, peer, at, req->from, head.height, stored, blocks, r);
  }
  qp_free(r);
  qp_free(at);
  qp_free(stored);
  qp_free(blocks);
}

/* Commits a checked run in order, up to the block that ends our epoch when
 * it holds one: the blocks after it are only there to link it to the cert
 * (its epoch's set certified them; nobody commits them). */
static void commit_run(qp__chain_node_t *n, const qp_chain_catchup_msg_t *m,
                       qp__chain_catchup_result_t *out) {
  const qp_hs_block_t *above[QP_CHAIN_CATCHUP_BLOCKS_MAX];
  for (uint32_t i = 0; i < m->count; i++) above[i] = &m->blocks[i];
  for (uint32_t i = 0; i < m->count && !out->new_epoch; i++) {
    const qp_hs_block_t *b = &m->blocks[i];
    if (qp__chain_commit(n, b, &m->cert, above + i + 1, m->count - i - 1, &out->new_epoch) != 0) {
      out->failed = true;
      return;
    }
    out->committed++;
    out->last = *b;
    out->last.payload = NULL;
    out->last.payload_len = 0;
  }
}

static void apply(qp__chain_node_t *n, uint32_t peer, const qp_chain_catchup_msg_t *m,
                  qp__chain_catchup_result_t *out) {
  qp_chain_head_t head;
  qp_chain_store_head(n->store, &head);
  char detail[256] = "";
  int rc = qp_chain_catchup_check(n->cfg, head.height, n->committed_hash, m, detail,
                                  sizeof detail);
  if (rc != 0 && m->blocks[0].header.height != head.height + 1) {
    QP_LOG_DEBUG("chain", "catch-up: the run from %s starts at %llu, we are at %llu",
                 n->epochs.peers.validators[peer].name,
                 (unsigned long long)m->blocks[0].header.height, (unsigned long long)head.height);
  } else if (rc != 0) {
    QP_LOG_WARN("chain", "catch-up: the run from %s is refused (epoch %u, height %llu): %s",
                n->epochs.peers.validators[peer].name, n->cfg->epoch,
                (unsigned long long)head.height, rc == QP_EBADPROOF ? detail : qp_strerror(rc));
  }
  if (rc != 0) {
    if (m->epoch > n->cfg->epoch) /* an end of epoch shown to us from further on */
      qp__chain_catchup_ask(n, peer, qp_clock_wall_ns() / 1000000u, false);
    return;
  }
  commit_run(n, m, out);
  QP_LOG_INFO("chain", "catch-up: %u blocks of epoch %u committed from %s (now at %llu; it is "
              "at %llu in epoch %u)", out->committed, n->cfg->epoch,
              n->epochs.peers.validators[peer].name,
              (unsigned long long)(head.height + out->committed), (unsigned long long)m->head,
              m->epoch);
  out->ask_again = !out->failed && out->committed > 0 &&
                   (m->epoch > n->cfg->epoch || m->head > head.height + out->committed);
}

void qp__chain_catchup_on_message(qp__chain_node_t *n, uint32_t peer, const uint8_t *bytes,
                                  size_t len, qp__chain_catchup_result_t *out) {
  memset(out, 0, sizeof *out);
  qp_chain_catchup_msg_t *m = qp_malloc(sizeof *m);
  int rc = m == NULL ? QP_ENOMEM : qp_chain_catchup_decode(n->cfg, bytes, len, m);
  if (rc != 0) {
    QP_LOG_DEBUG("chain", "catch-up message from %s refused: %s",
                 n->epochs.peers.validators[peer].name, qp_strerror(rc));
    /* A run of an epoch we have not reached (it does not decode under
     * ours): the peer is further on; ask it from our head. */
    if (len >= 5 && bytes[0] == QP_CHAIN_CATCHUP_RESPONSE && qp_load_u32(bytes + 1) > n->cfg->epoch)
      qp__chain_catchup_ask(n, peer, qp_clock_wall_ns() / 1000000u, false);
  } else if (m->type == QP_CHAIN_CATCHUP_REQUEST) serve(n, peer, m);
  else apply(n, peer, m, out);
  qp_free(m);
}
