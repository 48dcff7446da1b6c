/*
 * routes_qr.c - POST /v1/qr/parse {"payload"}: any EMV(R) MPM payload
 * decoded into its data objects (templates with their own "tags"), or 400
 * invalid_qr naming the first bad tag in "path" ("63", "26.01").  When the
 * payload is one of this node's orders (tag 26.00 is the configured
 * globally unique identifier) the answer also names the order.
 */
#include <string.h>

#include "base/err.h"
#include "payments/payments_int.h"

static const char *const PARSE_FIELDS[] = {"payload", NULL};

static json_t *object_json(const qp_emv_object_t *o) {
  const char *dot = strchr(o->path, '.');
  return json_pack("{s:s, s:i, s:s%}", "id", dot != NULL ? dot + 1 : o->path, "length",
                   (int)o->value_chars, "value", o->value, o->value_bytes);
}

/* The objects as a tree: top-level ones, each template with "tags". */
static json_t *tags_json(const qp_emv_payload_t *e) {
  json_t *top = json_array();
  for (uint32_t i = 0; top != NULL && i < e->count; i++) {
    const qp_emv_object_t *o = &e->objects[i];
    json_t *x = object_json(o);
    if (x != NULL && o->is_template) {
      json_t *kids = json_array();
      for (uint32_t c = 0; c < o->children; c++)
        json_array_append_new(kids, object_json(&e->objects[i + 1 + c]));
      json_object_set_new(x, "tags", kids);
      i += o->children;
    }
    if (x == NULL || json_array_append_new(top, x) != 0) {
      json_decref(top);
      return NULL;
    }
  }
  return top;
}

static json_t *decoded(qp__pay_t *p, const qp_emv_payload_t *e) {
  char crc[5];
  snprintf(crc, sizeof crc, "%04X", (unsigned)e->crc);
  json_t *out = json_pack("{s:s, s:s, s:o}", "object", "qr_payload", "crc", crc, "tags",
                          tags_json(e));
  const qp_emv_object_t *gui = qp_emv_find(e, "26.00"), *order = qp_emv_find(e, "26.01");
  if (out != NULL && gui != NULL && order != NULL &&
      gui->value_bytes == strlen(p->settings.gui) &&
      memcmp(gui->value, p->settings.gui, gui->value_bytes) == 0)
    json_object_set_new(out, "order_id", json_stringn(order->value, order->value_bytes));
  return out;
}

static void parse(qp__pay_t *p, qp_http_request_t *req, qp_http_reply_t *r,
                  const qp__pay_caller_t *caller, const qp__pay_idem_t *idem) {
  (void)caller; /* any caller may parse */
  static _Thread_local qp_emv_payload_t e; /* 7 KiB: kept off the handler's stack */
  json_t *body = qp_http_body_object(req, r, PARSE_FIELDS, 0);
  const char *payload = NULL;
  if (body == NULL || !qp_http_member_string(body, "payload", NULL, QP_EMV_PAYLOAD_BYTES_MAX,
                                             true, &payload, r)) {
    json_decref(body);
    return;
  }
  qp_emv_error_t err;
  if (qp_emv_parse(payload, strlen(payload), &e, &err) != 0) {
    qp_http_error_t h = {0};
    qp_http_error_set(&h, 400, "invalid_qr", err.path, "%s", err.message);
    qp_http_reply_error(r, &h);
    atomic_fetch_add(&p->qr_refused, 1);
  } else {
    qp__pay_change_t c = {NULL, 0, NULL, NULL, idem, 0, NULL, NULL, NULL};
    qp__pay_commit(p, &c, 200, decoded(p, &e), r);
  }
  json_decref(body);
}

void qp__pay_qr_parse(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_idem_write(ctx, req, r, false, parse);
}
