/*
 * json_text.c - dumping JSON into a bounded buffer (json_text.h).
 */
#include <stdbool.h>
#include <string.h>

#include "base/err.h"
#include "chain/json_text.h"

typedef struct dump_ctx {
  qp_buf_t *out; /* where the text goes */
  bool limit;    /* an append would have passed out->max */
} dump_ctx_t;

static int append(const char *data, size_t size, void *vctx) {
  dump_ctx_t *c = vctx;
  if (c->out->len + size + 1 > c->out->max) c->limit = true;
  return qp_buf_append(c->out, data, size) ? 0 : -1;
}

int qp__chain_json_dump(const json_t *json, size_t flags, qp_buf_t *out) {
  if (json == NULL) return QP_ENOMEM;
  size_t before = out->len;
  dump_ctx_t c = {out, false};
  if (json_dump_callback(json, append, &c, flags) != 0 || out->failed) {
    out->len = before;
    if (out->data != NULL) out->data[before] = '\0';
    out->failed = false;
    return c.limit ? QP_ELIMIT : QP_ENOMEM;
  }
  if (out->data == NULL && !qp_buf_append(out, "", 0)) return QP_ENOMEM;
  return 0;
}
