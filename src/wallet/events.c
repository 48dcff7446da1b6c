/*
 * events.c - GET /v1/wallet/events: a server-sent event stream of the
 * session user's money (docs/wallet.md, "Events").  Each stream reads the
 * ledger at most every QP_WALLET_EVENTS_POLL_MS: "balance" (Me.accounts)
 * first and whenever the account's balances change; "bill" (a Bill) for
 * each new bill of the account and when a watched hold is posted, voided
 * or expires; "intent" (the Intent) for a new hold whose payment intent
 * waits for the user's passkey (a shop's collect).  The stream ends when
 * the session is revoked or expires; the HTTP core sends ": ping"
 * keep-alives and ends every stream on stop.
 */
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "ledger/api.h"
#include "wallet/wallet_int.h"

typedef struct {
  qp__wallet_t *w;
  uint8_t hash[QP_WALLET_HASH_SIZE];  /* the session's */
  char user_id[QP_WALLET_ID_HEX + 1];
  qp_u128 account;
  uint64_t since;                     /* the newest ledger timestamp seen */
  uint64_t next_poll_ns;              /* monotonic */
  bool balance_sent;
  qp_u128 credits, debits, pending;   /* the balances last sent */
  qp_u128 holds[QP_WALLET_EVENTS_HOLDS_MAX]; /* pending holds watched */
  uint32_t holds_count;
  qp_transfer_t rows[QP_WALLET_SCAN_ROWS];
} stream_t;

static int emit(stream_t *s, qp_buf_t *out, const char *event, json_t *data) {
  char *text = data != NULL ? json_dumps(data, JSON_COMPACT) : NULL;
  json_decref(data);
  if (text == NULL) return QP_ENOMEM;
  int rc = qp_http_sse_frame(out, event, NULL, text);
  qp_http_json_free(text);
  if (rc == 0) atomic_fetch_add(&s->w->events_sent, 1);
  return rc;
}

static void watch(stream_t *s, qp_u128 id) {
  if (s->holds_count < QP_WALLET_EVENTS_HOLDS_MAX) s->holds[s->holds_count++] = id;
}

static int balance(stream_t *s, qp_buf_t *out) {
  qp_account_t a;
  if (qp_ledger_service_account(qp_ledger_service(), s->account, &a) != 0) return 0;
  if (s->balance_sent && a.credits_posted == s->credits && a.debits_posted == s->debits &&
      a.debits_pending == s->pending)
    return 0;
  s->balance_sent = true;
  s->credits = a.credits_posted;
  s->debits = a.debits_posted;
  s->pending = a.debits_pending;
  return emit(s, out, "balance", qp__wallet_accounts_json(s->w, s->user_id));
}

/* A new bill: its event, and for a hold its intent when it waits. */
static int new_bill(stream_t *s, const qp_transfer_t *t, qp_buf_t *out) {
  json_t *bill = qp__wallet_bill_find(s->w, s->user_id, t->id, false);
  if (bill == NULL) return 0; /* a post or void: the hold's bill changes (holds_changed) */
  const char *status = json_string_value(json_object_get(bill, "status"));
  const char *intent = json_string_value(json_object_get(bill, "intent_id"));
  bool waiting = status != NULL && strcmp(status, "pending") == 0;
  char id[QP_WALLET_ID_HEX + 1] = "";
  if (intent != NULL) snprintf(id, sizeof id, "%s", intent);
  if (waiting) watch(s, t->id);
  int rc = emit(s, out, "bill", bill);
  if (rc != 0 || !waiting || id[0] == '\0' || (t->debit_account_id != s->account)) return rc;
  qp_http_reply_t door = {0};
  qp_auth_door_intent_get(s->user_id, id, &door);
  json_t *in = qp__wallet_reply_body(&door);
  qp__wallet_reply_drop(&door);
  const char *st = json_string_value(json_object_get(in, "status"));
  if (st != NULL && strcmp(st, "requires_confirmation") == 0) return emit(s, out, "intent", in);
  json_decref(in);
  return 0;
}

/* Watched holds that are no longer pending: their bill again. */
static int holds_changed(stream_t *s, qp_buf_t *out) {
  for (uint32_t i = 0; i < s->holds_count;) {
    qp_transfer_t t;
    qp_pending_state_t st = QP_PENDING_PENDING;
    qp_ledger_service_transfer(qp_ledger_service(), s->holds[i], &t, &st);
    if (st == QP_PENDING_PENDING) {
      i++;
      continue;
    }
    int rc = emit(s, out, "bill", qp__wallet_bill_find(s->w, s->user_id, s->holds[i], false));
    s->holds[i] = s->holds[--s->holds_count];
    if (rc != 0) return rc;
  }
  return 0;
}

static int poll_ledger(stream_t *s, qp_buf_t *out) {
  qp_account_filter_t f;
  memset(&f, 0, sizeof f);
  f.account_id = s->account;
  f.timestamp_min = s->since + 1;
  f.limit = QP_WALLET_SCAN_ROWS;
  uint32_t count = 0;
  int rc = qp_ledger_service_account_transfers(qp_ledger_service(), &f, s->rows, &count);
  for (uint32_t i = 0; rc == 0 && i < count; i++) {
    s->since = s->rows[i].timestamp;
    rc = new_bill(s, &s->rows[i], out);
  }
  if (rc == 0) rc = holds_changed(s, out);
  if (rc == 0) rc = balance(s, out);
  return rc;
}

static int next(void *ctx, qp_buf_t *out, uint32_t wait_ms) {
  stream_t *s = ctx;
  uint64_t now = qp_clock_mono_ns();
  if (now < s->next_poll_ns) {
    uint64_t ms = (s->next_poll_ns - now) / 1000000u + 1u;
    if (ms > wait_ms) ms = wait_ms;
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
    return 0;
  }
  s->next_poll_ns = now + (uint64_t)QP_WALLET_EVENTS_POLL_MS * 1000000u;
  qp__wallet_session_t session;
  if (qp__wallet_session_get(s->w, s->hash, &session) != 0 ||
      !qp__wallet_session_live(&session, qp__wallet_now_s()))
    return QP_ESTOPPED; /* logged out, revoked or expired: the stream ends */
  return poll_ledger(s, out);
}

static void release(void *ctx) {
  stream_t *s = ctx;
  atomic_fetch_sub(&s->w->streams_open, 1);
  qp_free(s);
}

static const qp_http_stream_ops_t OPS = {next, release};

/* The stream starts after the account's newest row; holds pending now are watched. */
static void start(stream_t *s) {
  qp_account_filter_t f;
  memset(&f, 0, sizeof f);
  f.account_id = s->account;
  f.limit = 100;
  f.flags = QP_FILTER_REVERSED;
  uint32_t count = 0;
  if (qp_ledger_service_account_transfers(qp_ledger_service(), &f, s->rows, &count) != 0) return;
  if (count > 0) s->since = s->rows[0].timestamp;
  for (uint32_t i = 0; i < count; i++) {
    qp_transfer_t t;
    qp_pending_state_t st = QP_PENDING_NONE;
    if ((s->rows[i].flags & QP_TRANSFER_PENDING) &&
        qp_ledger_service_transfer(qp_ledger_service(), s->rows[i].id, &t, &st) == 0 &&
        st == QP_PENDING_PENDING)
      watch(s, s->rows[i].id);
  }
}

void qp__wallet_events(void *ctx, qp_http_request_t *req, qp_http_reply_t *r) {
  qp__wallet_t *w = ctx;
  qp__wallet_session_t session;
  uint8_t hash[QP_WALLET_HASH_SIZE];
  if (!qp__wallet_session(w, req, r, &session, hash)) return;
  stream_t *s = qp_calloc(1, sizeof *s);
  if (s == NULL) {
    qp_http_reply_fail(r, 500, "internal", "", "out of memory");
    return;
  }
  s->w = w;
  memcpy(s->hash, hash, sizeof hash);
  memcpy(s->user_id, session.user_id, sizeof s->user_id);
  if (qp__wallet_account_of(w, s->user_id, &s->account) != 0) {
    qp_free(s);
    qp_http_reply_fail(r, 409, "account_missing", "", "the user has no wallet account");
    return;
  }
  start(s);
  atomic_fetch_add(&w->streams_open, 1);
  qp_http_reply_stream(r, &OPS, s);
}
