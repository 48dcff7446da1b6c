/*
 * routes_merchant_keys.c - POST /v1/merchants/{id}/keys: an API key with
 * the scope payments:merchant, restricted to the merchant's ledger in the
 * node's key file (qp_http_keys_create_limited) and to the merchant itself
 * by the payments store's key id -> merchant mapping (caller.c checks it on
 * every route).  The key is created first and the mapping stored second:
 * a crash between them leaves a key that reaches nothing, never one that
 * reaches too much.  The key text is shown once: a replay of the request
 * (same Idempotency-Key) answers the same key id without the text.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "payments/payments_int.h"

static const char *const KEY_FIELDS[] = {"name", NULL};

/* The optional body {"name"}: a key name, or one made from the merchant id. */
static bool key_name(qp_http_request_t *req, qp_http_reply_t *r, const char *merchant_hex,
                     char out[QP_HTTP_KEY_NAME_MAX + 1]) {
  json_t *body = qp_http_body_object(req, r, KEY_FIELDS, QP_HTTP_BODY_EMPTY_OBJECT);
  const char *name = NULL;
  bool ok = body != NULL &&
            qp_http_member_string(body, "name", NULL, QP_HTTP_KEY_NAME_MAX, false, &name, r);
  if (ok && name != NULL) snprintf(out, QP_HTTP_KEY_NAME_MAX + 1, "%s", name);
  if (ok && name == NULL) {
    uint8_t rnd[4];
    char tag[9];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(tag, sizeof tag, rnd, sizeof rnd);
    snprintf(out, QP_HTTP_KEY_NAME_MAX + 1, "merchant-%.12s-%s", merchant_hex, tag);
  }
  json_decref(body);
  return ok;
}

static json_t *key_json(const qp_http_key_t *k, const char *merchant_hex, uint32_t ledger) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[I], s:o}", "object", "merchant_key", "id",
                   k->id, "name", k->name, "merchant_id", merchant_hex, "scopes", k->scopes,
                   "ledgers", (json_int_t)ledger, "created", qp__pay_time_json(k->created_s));
}

/* Creates the key and stores its mapping (and the redacted response). */
static void make_key(qp__pay_t *p, qp_http_reply_t *r, const uint8_t merchant[QP_PAY_ID_SIZE],
                     uint32_t ledger, const char *name, const qp__pay_idem_t *idem) {
  char hex[QP_PAY_ID_HEX + 1], text[QP_HTTP_KEY_TEXT_SIZE], detail[256];
  qp__pay_id_hex(merchant, hex);
  qp_http_key_limits_t limits = {0};
  limits.ledgers[0] = ledger;
  limits.ledgers_count = 1;
  qp_http_key_t k;
  int rc = qp_http_keys_create_limited(p->data_dir, name, QP_PAY_SCOPE_MERCHANT, &limits, text,
                                       &k, detail, sizeof detail);
  if (rc == QP_EINVAL || rc == QP_EEXISTS) {
    qp_http_error_t err = {0};
    qp_http_error_set(&err, rc == QP_EEXISTS ? 409 : 400, rc == QP_EEXISTS ? "name_taken"
                      : "invalid_value", "name", "%s", detail);
    qp_http_reply_error(r, &err);
    return;
  }
  if (rc != 0) {
    qp_http_reply_fail(r, 503, "keys_unavailable", "", "the key file cannot be written now");
    return;
  }
  json_t *shown = key_json(&k, hex, ledger);
  char *stored = shown != NULL ? json_dumps(shown, JSON_COMPACT) : NULL;
  json_object_set_new(shown, "key", json_string(text));
  sodium_memzero(text, sizeof text);
  qp__pay_put_t put = {p->merchant_keys, k.id, strlen(k.id), merchant, QP_PAY_ID_SIZE, true,
                       false};
  json_t *event = key_json(&k, hex, ledger);
  qp__pay_change_t c = {&put, 1, "merchant_key.created", event, idem, 200, stored, NULL, NULL};
  rc = stored != NULL && event != NULL ? qp__pay_store_write(p, &c) : QP_ENOMEM;
  if (rc == 0) qp_http_reply_json(r, 200, json_incref(shown));
  else qp__pay_reply_store(r, rc);
  json_decref(shown);
  json_decref(event);
  qp_http_json_free(stored);
}

void qp__pay_merchant_keys_create(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__pay_t *p = ctx;
  qp__pay_caller_t caller;
  qp__pay_idem_t idem;
  if (!qp__pay_caller(p, req, r, true, &caller)) return;
  if (caller.merchant_only) {
    qp_http_reply_fail(r, 403, "forbidden", "", "a merchant key cannot make keys");
    return;
  }
  uint8_t id[QP_PAY_ID_SIZE];
  json_t *m = NULL;
  int rc = qp__pay_id_parse(qp_http_param(req, "id"), id)
               ? qp__pay_store_get_json(p, p->merchants, id, QP_PAY_ID_SIZE, &m) : QP_ENOTFOUND;
  if (rc != 0) {
    if (rc == QP_ENOTFOUND)
      qp_http_reply_fail(r, 404, "merchant_not_found", "id", "no such merchant");
    else
      qp__pay_reply_store(r, rc);
    return;
  }
  uint32_t ledger = (uint32_t)json_integer_value(json_object_get(m, "ledger"));
  json_decref(m);
  char hex[QP_PAY_ID_HEX + 1], name[QP_HTTP_KEY_NAME_MAX + 1];
  qp__pay_id_hex(id, hex);
  if (!qp__pay_idem_begin(p, req, r, &idem)) return;
  if (key_name(req, r, hex, name)) make_key(p, r, id, ledger, name, &idem);
  qp__pay_idem_end(p, &idem);
}
