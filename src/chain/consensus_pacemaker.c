/*
 * consensus_pacemaker.c - views and time: when a validator moves to the
 * next view, when it gives up on one, and how validators that fell behind
 * catch up (docs/chain.md, "Pacemaker").
 *
 * A validator enters view v + 1 when it sees a QC or a TC for view v
 * (never on its own clock alone).  While there is work (transactions
 * waiting, an uncommitted non-empty block, a block being fetched), a timer
 * runs; when it fires, the validator signs a timeout for its view carrying
 * its highest QC and broadcasts it, then keeps re-broadcasting it every
 * timeout period (messages get lost).  n - f timeouts for a view form a
 * TC; f + 1 of them for a view above one's own prove an honest validator
 * gave up there, so one joins it (this is what re-synchronises views after
 * a partition).  The timeout doubles with each consecutive view that ended
 * by a TC, up to x64, and falls back to the base after a QC.  A timeout or
 * a message that shows a peer behind (lower view or lower QC) is answered
 * with a SYNC carrying our highest QC and last TC.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"
#include "chain/consensus.h"
#include "chain/consensus_int.h"

uint64_t qp__hs_timeout_ms(const qp_hs_t *c) {
  uint32_t shift = c->failures < QP_HS_TIMEOUT_SHIFT_MAX ? c->failures : QP_HS_TIMEOUT_SHIFT_MAX;
  uint64_t base = c->g->params.view_timeout_ms ? c->g->params.view_timeout_ms : 1000;
  return base << shift;
}

static void jump_view(qp_hs_t *c, uint64_t view) {
  QP_ASSERT(view > c->view);
  c->view = view;
  c->view_started_ms = c->now_ms;
  c->proposed = false;
  c->need_payload = false;
}

int qp__hs_enter_view(qp_hs_t *c, uint64_t view, bool progress) {
  jump_view(c, view);
  if (progress) c->failures = 0;
  else if (c->failures < 64) c->failures++;
  c->views_by_timeout += !progress;
  return qp__hs_maybe_request_payload(c);
}

int qp__hs_process_qc(qp_hs_t *c, const qp_hs_qc_t *qc, uint32_t from) {
  if (qc->view > c->high_qc.view) c->high_qc = *qc;
  int rc = qp__hs_try_commit(c, qc);
  if (rc == 0 && qc->height > c->root.header.height && qp__hs_find_block(c, qc->block_hash) == NULL)
    rc = qp__hs_want(c, qc->block_hash, from);
  if (rc == 0 && qc->view + 1 > c->view) rc = qp__hs_enter_view(c, qc->view + 1, true);
  return rc;
}

int qp__hs_process_tc(qp_hs_t *c, const qp_hs_tc_t *tc) {
  if (!c->has_tc || tc->view > c->last_tc.view) {
    c->last_tc = *tc;
    c->has_tc = true;
  }
  return tc->view + 1 > c->view ? qp__hs_enter_view(c, tc->view + 1, false) : 0;
}

/* Signs, persists and broadcasts our timeout for the current view, or
 * re-broadcasts the one already signed. */
static int local_timeout(qp_hs_t *c) {
  if (c->self < 0) return 0;
  c->timeout_sent_ms = c->now_ms;
  c->local_timeouts++;
  if (c->timeout_view == c->view && c->timeout_msg != NULL) {
    uint8_t *copy = qp_malloc(c->timeout_len);
    if (copy == NULL) return QP_ENOMEM;
    memcpy(copy, c->timeout_msg, c->timeout_len);
    return qp__hs_act_bytes(c, QP_HS_ACT_BROADCAST, 0, copy, c->timeout_len);
  }
  if (c->view < c->safety.last_voted_view) return 0; /* cannot sign here (restarted ahead) */
  qp_hs_timeout_t t = {.view = c->view, .sender = (uint32_t)c->self, .high_qc = c->high_qc};
  int rc = qp__hs_timeout_sign(c->g, c->key, &t);
  if (rc != 0) return rc;
  c->safety.last_voted_view = c->view;
  c->safety.high_qc = c->high_qc;
  rc = qp__hs_persist(c);
  uint8_t *bytes = NULL;
  size_t len = 0;
  if (rc == 0) rc = qp_hs_encode_timeout(c->g, &t, &bytes, &len);
  if (rc != 0) return rc;
  qp_free(c->timeout_msg);
  c->timeout_msg = qp_malloc(len);
  if (c->timeout_msg != NULL) memcpy(c->timeout_msg, bytes, len);
  c->timeout_len = c->timeout_msg != NULL ? len : 0;
  c->timeout_view = c->view;
  rc = qp__hs_act_bytes(c, QP_HS_ACT_BROADCAST, 0, bytes, len);
  uint32_t count;
  qp_hs_tc_t *tc = qp_malloc(sizeof *tc);
  if (tc == NULL) return QP_ENOMEM;
  if (rc == 0 && qp__hs_timeout_add(c, &t, &count, tc)) rc = qp__hs_process_tc(c, tc);
  qp_free(tc);
  return rc;
}

int qp__hs_tick(qp_hs_t *c) {
  if (!c->armed || c->now_ms < c->timer_at_ms) return 0;
  int rc = local_timeout(c);
  return rc == 0 ? qp__hs_fetch_resend(c) : rc;
}

int qp__hs_timer_update(qp_hs_t *c) {
  uint64_t at = UINT64_MAX;
  if (c->self >= 0 && qp__hs_has_work(c)) {
    if (!c->armed) c->view_started_ms = c->now_ms;
    c->armed = true;
    uint64_t from = c->timeout_view == c->view ? c->timeout_sent_ms : c->view_started_ms;
    at = from + qp__hs_timeout_ms(c);
  } else {
    c->armed = false;
  }
  if (at == c->timer_at_ms) return 0;
  c->timer_at_ms = at;
  qp_hs_action_t *a = qp_array_push(&c->actions);
  if (a == NULL) return QP_ENOMEM;
  a->kind = QP_HS_ACT_TIMER;
  a->at_ms = at;
  return 0;
}

static int send_sync(qp_hs_t *c, uint32_t to) {
  if (to >= c->n || (int32_t)to == c->self) return 0;
  uint8_t *bytes;
  size_t len;
  int rc = qp_hs_encode_sync(c->g, &c->high_qc, c->has_tc ? &c->last_tc : NULL, &bytes, &len);
  return rc == 0 ? qp__hs_act_bytes(c, QP_HS_ACT_SEND, to, bytes, len) : rc;
}

/* f + 1 timeouts for a view at or above ours, and we have not timed out
 * there: an honest validator gave up on it, so do we. */
static int amplify(qp_hs_t *c, uint64_t view, uint32_t count) {
  if (c->self < 0 || count < c->n - c->quorum + 1 || view < c->view) return 0;
  if (c->timeout_view >= view) return 0;
  if (view > c->view) jump_view(c, view);
  return local_timeout(c);
}

int qp__hs_on_timeout(qp_hs_t *c, uint32_t from, const qp_hs_timeout_t *t) {
  if ((int32_t)t->sender == c->self) return 0;
  uint8_t st[QP__HS_STATEMENT_MAX];
  size_t len = qp__hs_timeout_statement(c->g, t->view, t->high_qc.view, st);
  int rc = qp__hs_verify_sig(c, t->sender, st, len, t->sig);
  if (rc == 0) rc = qp__hs_qc_verify(c, &t->high_qc);
  if (rc == 0) rc = qp__hs_process_qc(c, &t->high_qc, from);
  if (rc != 0) return rc;
  if (t->view < c->view || t->high_qc.view < c->high_qc.view) rc = send_sync(c, t->sender);
  if (rc != 0 || t->view < c->view) return rc;
  uint32_t count = 0;
  qp_hs_tc_t *tc = qp_malloc(sizeof *tc);
  if (tc == NULL) return QP_ENOMEM;
  if (qp__hs_timeout_add(c, t, &count, tc)) rc = qp__hs_process_tc(c, tc);
  else rc = amplify(c, t->view, count);
  qp_free(tc);
  return rc;
}

int qp__hs_on_sync(qp_hs_t *c, uint32_t from, const qp_hs_msg_t *m) {
  int rc = qp__hs_qc_verify(c, &m->qc);
  if (rc == 0 && m->has_tc) rc = qp__hs_tc_verify(c, &m->tc);
  if (rc == 0 && m->has_tc) rc = qp__hs_process_tc(c, &m->tc);
  if (rc == 0) rc = qp__hs_process_qc(c, &m->qc, from);
  return rc;
}
