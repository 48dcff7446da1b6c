/*
 * recent.c - the risk module's memory of its latest decisions, for the
 * console (GET /v1/risk/decisions, GET /v1/risk/stats): a bounded ring of
 * the last QP_RISK_RECENT_MAX decisions as JSON text, and counts per
 * outcome per wall-clock second over the last QP_RISK_STATS_SECONDS.
 * Called under the module's lock; nothing here survives a restart.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "risk/module_int.h"

int qp__risk_recent_new(qp__risk_recent_t **out) {
  *out = qp_calloc(1, sizeof **out);
  return *out != NULL ? 0 : QP_ENOMEM;
}

void qp__risk_recent_free(qp__risk_recent_t *r) {
  if (r == NULL) return;
  for (uint32_t i = 0; i < QP_RISK_RECENT_MAX; i++) qp_free(r->ring[i].text);
  qp_free(r);
}

void qp__risk_recent_add(qp__risk_recent_t *r, int64_t now_s, qp_risk_outcome_t outcome,
                         const char *decision, size_t len) {
  uint32_t sec = (uint32_t)(now_s % QP_RISK_STATS_SECONDS);
  if (r->sec_at[sec] != now_s) {
    r->sec_at[sec] = now_s;
    memset(r->sec_counts[sec], 0, sizeof r->sec_counts[sec]);
  }
  r->sec_counts[sec][outcome]++;
  qp__risk_recent_entry_t *e = &r->ring[r->seq % QP_RISK_RECENT_MAX];
  char head[64];
  int h = snprintf(head, sizeof head, "{\"seq\":%llu,\"at\":%lld,\"decision\":",
                   (unsigned long long)r->seq + 1, (long long)now_s);
  size_t need = (size_t)h + len + 2;
  if (need > e->cap) {
    char *t = qp_realloc(e->text, need);
    if (t == NULL) return; /* out of memory: this decision is not remembered */
    e->text = t;
    e->cap = need;
  }
  memcpy(e->text, head, (size_t)h);
  memcpy(e->text + h, decision, len);
  memcpy(e->text + h + len, "}", 2);
  e->len = need - 1;
  e->outcome = (uint8_t)outcome;
  e->seq = ++r->seq;
}

int qp__risk_recent_list(const qp__risk_recent_t *r, uint32_t limit, int outcome,
                         qp_buf_t *out) {
  qp_buf_append(out, "{\"decisions\":[", 14);
  uint32_t n = 0;
  for (uint64_t s = r->seq; s > 0 && r->seq - s < QP_RISK_RECENT_MAX && n < limit; s--) {
    const qp__risk_recent_entry_t *e = &r->ring[(s - 1) % QP_RISK_RECENT_MAX];
    if (e->seq != s || (outcome >= 0 && e->outcome != outcome)) continue;
    if (n++ > 0) qp_buf_append(out, ",", 1);
    qp_buf_append(out, e->text, e->len);
  }
  char tail[64];
  int t = snprintf(tail, sizeof tail, "],\"total\":%llu}", (unsigned long long)r->seq);
  qp_buf_append(out, tail, (size_t)t);
  return out->failed ? QP_ENOMEM : 0;
}

void qp__risk_recent_counts(const qp__risk_recent_t *r, int64_t from_s, int64_t to_s,
                            uint64_t counts[4]) {
  memset(counts, 0, 4 * sizeof counts[0]);
  for (int64_t s = from_s; s < to_s; s++) {
    if (s < 0) continue;
    uint32_t i = (uint32_t)(s % QP_RISK_STATS_SECONDS);
    if (r->sec_at[i] != s) continue;
    for (int o = 0; o < 4; o++) counts[o] += r->sec_counts[i][o];
  }
}
