/*
 * routes_bills.c - GET /v1/wallet/bills (newest first, by month, search,
 * cursor) and GET /v1/wallet/bills/{id}: the session user's account's
 * transfers from the ledger's history (bills.c makes them bills), each
 * with its counterparty: a wallet user (the account -> user index), the
 * treasury ("bank"), or else a merchant.  A bill of another account is not
 * found.  The cursor is the last bill's ledger timestamp (ns, decimal).
 */
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "base/alloc.h"
#include "base/err.h"
#include "ledger/api.h"
#include "payments/payments.h"
#include "wallet/wallet_int.h"

static int decimals_of(const char *currency) {
  static const char *const zero[] = {"JPY", "KRW", "VND", "CLP", "ISK", "PYG", "UGX", NULL};
  for (size_t i = 0; zero[i] != NULL; i++)
    if (strcmp(zero[i], currency) == 0) return 0;
  return 2;
}

typedef struct {
  const char *kind, *ckind;
  char name[QP_WALLET_NAME_MAX + 1], handle[QP_WALLET_HANDLE_MAX + 1];
} party_t;

static void party(qp__wallet_t *w, const qp__wallet_bill_t *b, party_t *p) {
  char uid[QP_WALLET_ID_HEX + 1];
  memset(p, 0, sizeof *p);
  if (b->counterparty == w->settings.treasury_account_id) {
    p->kind = "deposit";
    p->ckind = "bank";
    snprintf(p->name, sizeof p->name, "bank");
  } else if (qp__wallet_user_of(w, b->counterparty, uid) == 0 &&
             qp_auth_user_names(uid, p->handle, sizeof p->handle, p->name, sizeof p->name) == 0) {
    p->kind = "transfer";
    p->ckind = "user";
  } else {
    p->kind = b->out ? "payment" : "refund";
    p->ckind = "merchant";
    if (qp_payments_merchant_name(b->counterparty, p->name, sizeof p->name) != 0)
      snprintf(p->name, sizeof p->name, "merchant");
  }
}

static void intent_hex(qp_u128 v, char out[QP_WALLET_ID_HEX + 1]) {
  uint8_t raw[16];
  memcpy(raw, &v, sizeof raw);
  for (size_t i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static json_t *bill_json(qp__wallet_t *w, const char *user_id, const qp__wallet_bill_t *b,
                         const party_t *p) {
  json_t *cp = json_pack("{s:s, s:s}", "kind", p->ckind, "name", p->name);
  if (p->handle[0] != '\0') json_object_set_new(cp, "handle", json_string(p->handle));
  json_t *j = json_pack("{s:o, s:I, s:s, s:o, s:I, s:s, s:s, s:s, s:o, s:o}", "id",
                        qp__wallet_u128_json(b->id), "time",
                        (json_int_t)(b->timestamp / 1000000000u), "direction",
                        b->out ? "out" : "in", "amount", qp__wallet_u128_json(b->amount),
                        "ledger", (json_int_t)b->ledger, "currency", w->settings.currency,
                        "status", qp__wallet_bill_status(b), "kind", p->kind, "counterparty", cp,
                        "transfer_id", qp__wallet_u128_json(b->id));
  if (j == NULL || b->intent == 0) return j;
  char hex[QP_WALLET_ID_HEX + 1];
  intent_hex(b->intent, hex);
  json_object_set_new(j, "intent_id", json_string(hex));
  qp_http_reply_t door = {0};
  qp_auth_door_intent_get(user_id, hex, &door);
  json_t *intent = qp__wallet_reply_body(&door);
  const char *order = json_string_value(json_object_get(intent, "order_id"));
  if (order != NULL && strncmp(order, "p2p-", 4) != 0)
    json_object_set_new(j, "order_id", json_string(order));
  json_decref(intent);
  qp__wallet_reply_drop(&door);
  return j;
}

#define MEMO_MAX 16 /* counterparties one page remembers (a merchant's name is a scan) */

typedef struct {
  qp_u128 account[MEMO_MAX];
  party_t party[MEMO_MAX];
  uint32_t count;
} memo_t;

/* party(), remembered per page by counterparty account. */
static void party_memo(qp__wallet_t *w, const qp__wallet_bill_t *b, memo_t *m, party_t *p) {
  for (uint32_t i = 0; i < m->count; i++)
    if (m->account[i] == b->counterparty) {
      *p = m->party[i];
      if (strcmp(p->ckind, "merchant") == 0) p->kind = b->out ? "payment" : "refund";
      return;
    }
  party(w, b, p);
  uint32_t slot = m->count < MEMO_MAX ? m->count++ : b->counterparty % MEMO_MAX;
  m->account[slot] = b->counterparty;
  m->party[slot] = *p;
}

/* Appends the page's bills to data; the cursor of the next page or 0. */
static uint64_t page(qp__wallet_t *w, const char *user_id, const qp__wallet_bills_query_t *q,
                     const qp_transfer_t *rows, uint32_t count, uint32_t limit, json_t *data) {
  qp_ledger_service_t *svc = qp_ledger_service();
  qp_u128 account = 0;
  qp__wallet_account_of(w, user_id, &account);
  int dec = decimals_of(w->settings.currency);
  memo_t *memo = qp_calloc(1, sizeof *memo);
  uint64_t next = count == QP_WALLET_SCAN_ROWS ? rows[count - 1].timestamp : 0;
  for (uint32_t i = 0; memo != NULL && i < count; i++) {
    qp_transfer_t t;
    qp_pending_state_t st = QP_PENDING_NONE;
    qp__wallet_bill_t b;
    if (rows[i].flags & QP_TRANSFER_PENDING) qp_ledger_service_transfer(svc, rows[i].id, &t, &st);
    if (!qp__wallet_bill_of(&rows[i], st, account, &b)) continue;
    party_t p;
    party_memo(w, &b, memo, &p);
    if (!qp__wallet_bill_match(q->q, p.name, p.handle, b.amount, dec)) continue;
    if (json_array_size(data) == limit) {
      next = rows[i - 1].timestamp;
      break;
    }
    json_array_append_new(data, bill_json(w, user_id, &b, &p));
  }
  qp_free(memo);
  return next;
}

void qp__wallet_bills_list(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__wallet_t *w = ctx;
  qp__wallet_session_t s;
  uint8_t hash[QP_WALLET_HASH_SIZE];
  qp__wallet_bills_query_t q;
  qp_account_filter_t f;
  uint32_t limit = 0, count = 0;
  memset(&q, 0, sizeof q);
  memset(&f, 0, sizeof f);
  if (!qp__wallet_session(w, req, r, &s, hash)) return;
  qp_http_query_each(req, qp__wallet_bills_arg, &q);
  if (!qp__wallet_bills_filter(&q, &f, &limit, r)) return;
  if (f.timestamp_max != 0 && f.timestamp_max < f.timestamp_min) { /* a cursor before the month */
    qp_http_reply_json(r, 200, json_pack("{s:[], s:n}", "data", "next_cursor"));
    return;
  }
  qp_transfer_t *rows = qp_calloc(QP_WALLET_SCAN_ROWS, sizeof *rows);
  int rc = rows ? qp__wallet_account_of(w, s.user_id, &f.account_id) : QP_ENOMEM;
  if (rc == 0)
    rc = qp_ledger_service_account_transfers(qp_ledger_service(), &f, rows, &count);
  json_t *data = json_array();
  uint64_t next = rc == 0 ? page(w, s.user_id, &q, rows, count, limit, data) : 0;
  qp_free(rows);
  if (rc != 0 && rc != QP_ENOTFOUND) {
    json_decref(data);
    qp_http_reply_fail(r, 503, "ledger_unavailable", "", "cannot read the account's history");
    return;
  }
  char cur[24];
  snprintf(cur, sizeof cur, "%llu", (unsigned long long)next);
  qp_http_reply_json(r, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor",
                                       next != 0 ? json_string(cur) : json_null()));
}

/* The post or void of hold (the transfers after it on the account). */
static json_t *settlements(const qp_transfer_t *hold, qp_u128 account) {
  qp_account_filter_t f;
  memset(&f, 0, sizeof f);
  f.account_id = account;
  f.timestamp_min = hold->timestamp;
  f.limit = QP_WALLET_SCAN_ROWS;
  json_t *list = json_array();
  qp_transfer_t *rows = qp_calloc(QP_WALLET_SCAN_ROWS, sizeof *rows);
  uint32_t count = 0;
  if (rows == NULL ||
      qp_ledger_service_account_transfers(qp_ledger_service(), &f, rows, &count) != 0)
    count = 0;
  for (uint32_t i = 0; i < count; i++) {
    const qp_transfer_t *t = &rows[i];
    bool mine = t->id == hold->id || t->pending_id == hold->id;
    if (!mine) continue;
    json_t *flags = json_array();
    if (t->flags & QP_TRANSFER_PENDING) json_array_append_new(flags, json_string("pending"));
    if (t->flags & QP_TRANSFER_POST_PENDING_TRANSFER)
      json_array_append_new(flags, json_string("post_pending_transfer"));
    if (t->flags & QP_TRANSFER_VOID_PENDING_TRANSFER)
      json_array_append_new(flags, json_string("void_pending_transfer"));
    json_array_append_new(list, json_pack("{s:o, s:I, s:o, s:o}", "id",
                                          qp__wallet_u128_json(t->id), "time",
                                          (json_int_t)(t->timestamp / 1000000000u), "amount",
                                          qp__wallet_u128_json(t->amount), "flags", flags));
  }
  qp_free(rows);
  return list;
}

json_t *qp__wallet_bill_find(qp__wallet_t *w, const char *user_id, qp_u128 id, bool transfers) {
  qp_ledger_service_t *svc = qp_ledger_service();
  qp_u128 account = 0;
  qp_transfer_t t;
  qp_pending_state_t st = QP_PENDING_NONE;
  qp__wallet_bill_t b;
  if (qp__wallet_account_of(w, user_id, &account) != 0 || svc == NULL ||
      qp_ledger_service_transfer(svc, id, &t, &st) != 0 ||
      !qp__wallet_bill_of(&t, st, account, &b))
    return NULL;
  party_t p;
  party(w, &b, &p);
  json_t *j = bill_json(w, user_id, &b, &p);
  if (j != NULL && transfers) json_object_set_new(j, "transfers", settlements(&t, account));
  return j;
}

void qp__wallet_bill_reply(qp__wallet_t *w, const char *user_id, qp_u128 id, bool transfers,
                           qp_http_reply_t *r) {
  json_t *j = qp__wallet_bill_find(w, user_id, id, transfers);
  if (j == NULL) qp_http_reply_fail(r, 404, "bill_not_found", "id", "no such bill");
  else qp_http_reply_json(r, 200, j);
}

void qp__wallet_bills_get(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__wallet_t *w = ctx;
  qp__wallet_session_t s;
  uint8_t hash[QP_WALLET_HASH_SIZE];
  qp_u128 id = 0;
  if (!qp__wallet_session(w, req, r, &s, hash)) return;
  if (qp_ledger_parse_id(qp_http_param(req, "id"), &id) != 0) {
    qp_http_reply_fail(r, 404, "bill_not_found", "id", "no such bill");
    return;
  }
  qp__wallet_bill_reply(w, s.user_id, id, true, r);
}
