/*
 * rcv_test.h - calls of the receivable app for its unit tests (on top of
 * apps_test.h): each builds the args, runs the call expecting a code, and
 * hands back the ids the result names.
 */
#ifndef QP_TEST_RCV_TEST_H
#define QP_TEST_RCV_TEST_H

#include "apps_test.h"

#define ID_MAX 48

static inline void r_issue(world_t *w, int core, int to, const char *amount, long maturity,
                           const char *code, char id[ID_MAX]) {
  char a[1024];
  snprintf(a, sizeof a,
           "{\"to\":\"%s\",\"amount\":\"%s\",\"ledger\":1,\"maturity\":%ld,\"reference\":"
           "\"INV-1\"}", w->hex[to], amount, maturity);
  w_expect(w, core, "receivable", "issue", a, code);
  if (id != NULL && strcmp(code, "ok") == 0) snprintf(id, ID_MAX, "%s", w_result(w, "voucher"));
}

/* transfer: to_id / rest_id get the children (rest "" when none). */
static inline void r_transfer(world_t *w, int from, const char *v, int to, const char *amount,
                              const char *code, char to_id[ID_MAX], char rest_id[ID_MAX]) {
  char a[1024];
  snprintf(a, sizeof a, "{\"voucher\":\"%s\",\"to\":\"%s\",\"amount\":\"%s\"}", v, w->hex[to],
           amount);
  w_expect(w, from, "receivable", "transfer", a, code);
  if (strcmp(code, "ok") != 0) return;
  if (to_id != NULL) snprintf(to_id, ID_MAX, "%s", w_result(w, "to_voucher"));
  const char *rest = json_string_value(json_object_get(w->e.result, "rest_voucher"));
  if (rest_id != NULL) snprintf(rest_id, ID_MAX, "%s", rest != NULL ? rest : "");
}

static inline void r_finance(world_t *w, int from, const char *v, int funder,
                             const char *amount, int bps, const char *code, char id[ID_MAX]) {
  char a[1024];
  snprintf(a, sizeof a,
           "{\"voucher\":\"%s\",\"funder\":\"%s\",\"amount\":\"%s\",\"discount_bps\":%d}", v,
           w->hex[funder], amount, bps);
  w_expect(w, from, "receivable", "finance", a, code);
  if (id != NULL && strcmp(code, "ok") == 0) snprintf(id, ID_MAX, "%s", w_result(w, "voucher"));
}

static inline void r_one(world_t *w, int who, const char *method, const char *field,
                         const char *id, const char *code) {
  char a[256];
  snprintf(a, sizeof a, "{\"%s\":\"%s\"}", field, id);
  w_expect(w, who, "receivable", method, a, code);
}

/* A query of the receivable app that must answer. */
static inline json_t *r_query(world_t *w, const char *method, const char *args) {
  char code[QP_CHAIN_CODE_MAX + 1];
  json_t *r = w_query(w, "receivable", method, args, code);
  if (r == NULL) fail_msg("query %s %s: %s", method, args, code);
  return r;
}

/* The state a voucher reads as. */
static inline const char *r_state(world_t *w, const char *id, char out[32]) {
  char a[128];
  snprintf(a, sizeof a, "{\"id\":\"%s\"}", id);
  json_t *r = r_query(w, "voucher", a);
  snprintf(out, 32, "%s", json_string_value(json_object_get(json_object_get(r, "voucher"),
                                                            "state")));
  json_decref(r);
  return out;
}

#endif
