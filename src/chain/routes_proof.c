/*
 * routes_proof.c - `?proof=1` on the chain's reads (docs/chain.md, "State
 * proofs"): the query argument, and the proof added to an answer (proof.h
 * builds it).  A proof that cannot be made yet (nothing committed, or the
 * head's commit certificate not stored yet) is a 503 to retry.
 */
#include <string.h>

#include "base/err.h"
#include "chain/node_int.h"
#include "chain/proof.h"

typedef struct proof_arg {
  int want;            /* -1 bad value, 0 no, 1 yes */
  const char *unknown; /* the first other argument, or NULL */
} proof_arg_t;

static bool proof_arg(void *ctx, const char *key, const char *value) {
  proof_arg_t *a = ctx;
  if (strcmp(key, "proof") != 0) {
    a->unknown = key;
    return false;
  }
  if (value != NULL && (strcmp(value, "1") == 0 || strcmp(value, "true") == 0)) a->want = 1;
  else if (value != NULL && (strcmp(value, "0") == 0 || strcmp(value, "false") == 0)) a->want = 0;
  else a->want = -1;
  return a->want >= 0;
}

bool qp__chain_want_proof(qp_http_request_t *req, qp_http_reply_t *r, bool *want) {
  proof_arg_t a = {0, NULL};
  qp_http_query_each(req, proof_arg, &a);
  if (a.unknown != NULL) {
    qp_http_reply_fail(r, 400, "unknown_parameter", a.unknown,
                       "this route takes one query argument: proof=1");
    return false;
  }
  if (a.want < 0) {
    qp_http_reply_fail(r, 400, "invalid_value", "proof", "must be 1 (or true) or 0 (or false)");
    return false;
  }
  *want = a.want == 1;
  return true;
}

bool qp__chain_proof_failed(int rc, const char *detail, qp_http_reply_t *r) {
  if (rc == 0) return false;
  if (rc == QP_EAGAIN) {
    r->retry_after_s = 1;
    qp_http_reply_fail(r, 503, "proof_not_ready", "", detail);
  } else if (rc == QP_ENOTFOUND) {
    qp_http_reply_fail(r, 404, "not_found", "", detail);
  } else if (rc == QP_ELIMIT) {
    qp_http_reply_fail(r, 400, "invalid_value", "key", detail);
  } else {
    qp_http_reply_fail(r, 500, "internal", "", detail[0] ? detail : qp_strerror(rc));
  }
  return true;
}
