/*
 * binary_ops.c - what a binary frame does (docs/binary.md): auth with an
 * API key (the same key file and matching as HTTP, src/http/keys.c) and
 * lookups straight from the db run on a thread of libuv's pool; creates are
 * decoded on the loop and posted to the group-commit writer, which hands
 * the connection back to the loop once the batch is fsynced (the reply is
 * built only then).  Scopes and a key's ledger restriction and expiry apply as
 * over HTTP; a refused frame changes nothing.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/err.h"
#include "ledger/binary_int.h"

/* Encodes the header of a reply whose body is already at reply + header. */
static void reply(qp__bin_conn_t *c, uint16_t op, uint32_t status, uint32_t body_len) {
  qp_bin_header_encode(c->reply, op, c->h.request_id, status, c->reply + QP_BIN_HEADER_SIZE,
                       body_len);
  c->reply_len = QP_BIN_HEADER_SIZE + body_len;
}

void qp__bin_error(qp__bin_conn_t *c, uint64_t request_id, uint32_t status, const char *message) {
  size_t n = strlen(message);
  if (n > QP_BIN_MESSAGE_BYTES_MAX) n = QP_BIN_MESSAGE_BYTES_MAX;
  memcpy(c->reply + QP_BIN_HEADER_SIZE, message, n);
  qp_bin_header_encode(c->reply, QP_BIN_OP_ERROR, request_id, status,
                       c->reply + QP_BIN_HEADER_SIZE, (uint32_t)n);
  c->reply_len = QP_BIN_HEADER_SIZE + (uint32_t)n;
  if (qp_bin_error_fatal(status)) c->close_after = true;
  atomic_fetch_add_explicit(&c->metrics->errors[status & 0xffu], 1, memory_order_relaxed);
}

static void fail(qp__bin_conn_t *c, uint32_t status, const char *message) {
  qp__bin_error(c, c->h.request_id, status, message);
}

static void op_auth(qp__bin_conn_t *c) {
  char text[QP_BIN_AUTH_BYTES_MAX + 1];
  memcpy(text, c->body, c->h.body_len);
  text[c->h.body_len] = '\0';
  qp_http_key_t *keys = NULL;
  uint32_t count = 0;
  char detail[256] = "";
  int rc = qp_http_keys_load(c->api->data_dir, &keys, &count, detail, sizeof detail);
  int i = rc == 0 ? qp_http_keys_match(keys, count, text, c->h.body_len) : -1;
  if (i >= 0 && qp_http_key_expired(&keys[i], (int64_t)time(NULL))) i = -1;
  if (i < 0) {
    qp_free(keys);
    c->authed = false;
    fail(c, QP_BIN_E_BAD_KEY, rc == 0 ? "the API key is unknown, revoked or expired"
                                      : "the key file cannot be read");
    return;
  }
  c->key = keys[i];
  c->authed = true;
  qp_free(keys);
  size_t n = strlen(c->key.scopes);
  memcpy(c->reply + QP_BIN_HEADER_SIZE, c->key.scopes, n);
  reply(c, QP_BIN_OP_AUTH, 0, (uint32_t)n);
}

/* The key's id (16 hex digits) as the submitter journaled with a batch. */
static uint64_t submitter(const qp_http_key_t *key) {
  uint64_t v = 0;
  for (const char *p = key->id; *p != '\0'; p++) {
    int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
    if (d < 0) return 0;
    v = (v << 4) | (uint64_t)d;
  }
  return v;
}

static bool ledger_allowed(const qp_http_key_t *key, uint32_t ledger) {
  if (key->limits.ledgers_count == 0) return true;
  for (uint32_t i = 0; i < key->limits.ledgers_count; i++)
    if (key->limits.ledgers[i] == ledger) return true;
  return false;
}

/* Decodes the records; false (with an error frame) when one names a
 * ledger the key may not touch. */
static bool decode_events(qp__bin_conn_t *c, bool accounts, void *events, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *rec = c->body + (size_t)i * QP_BIN_RECORD_SIZE;
    uint32_t ledger;
    if (accounts) {
      qp_account_decode(rec, (qp_account_t *)events + i);
      ledger = ((qp_account_t *)events)[i].ledger;
    } else {
      qp_transfer_decode(rec, (qp_transfer_t *)events + i);
      ledger = ((qp_transfer_t *)events)[i].ledger;
    }
    if (ledger != 0 && ledger_allowed(&c->key, ledger)) continue;
    if (c->key.limits.ledgers_count == 0) continue;
    char message[128];
    snprintf(message, sizeof message,
             "record %u: the key may not touch ledger %u; nothing was applied", i, ledger);
    fail(c, QP_BIN_E_LEDGER_FORBIDDEN, message);
    return false;
  }
  return true;
}

/* Maps the writer's answer to an error frame; true when it was one. */
static bool commit_failed(qp__bin_conn_t *c, int submit_rc, const qp__ledger_job_t *job) {
  int st = job->request.status;
  if (submit_rc == QP_ELIMIT)
    fail(c, QP_BIN_E_BUSY, "the commit queue is full; retry after a short pause");
  else if (submit_rc == QP_ESTOPPED)
    fail(c, QP_BIN_E_STOPPED, "the server is shutting down; nothing was applied");
  else if (st == QP_ENOSPC || (st == QP_ESTOPPED && job->execute_rc == QP_ENOSPC))
    fail(c, QP_BIN_E_DISK_FULL, "the disk holding the journal is full; nothing was applied");
  else if (st == QP_ESTOPPED)
    fail(c, QP_BIN_E_STOPPED, "the ledger stopped after a journal write failure");
  else if (st == QP_ELIMIT)
    fail(c, QP_BIN_E_LEDGER_FULL, "the ledger's table is full; nothing was applied");
  else if (st != 0)
    fail(c, QP_BIN_E_INTERNAL, qp_strerror(st));
  return submit_rc != 0 || st != 0;
}

/* The writer thread's call when a posted create is done: hands the
 * connection back to its loop (binary_server.c). */
static void create_done(qp__ledger_job_t *job) {
  qp__bin_conn_t *c = job->done_ctx;
  qp__bin_server_done(c);
}

/* Frees a create's decoded records and results. */
static void release_create(qp__bin_conn_t *c) {
  qp_free(c->events);
  qp_free(c->results);
  c->events = NULL;
  c->results = NULL;
}

/* Decodes a create frame and posts it to the writer; true when posted
 * (qp__bin_finish_create builds the reply once it is done), false with
 * c->reply filled. */
static bool op_create(qp__bin_conn_t *c, bool accounts) {
  uint32_t n = c->h.body_len / QP_BIN_RECORD_SIZE;
  c->events = qp_calloc(n, accounts ? sizeof(qp_account_t) : sizeof(qp_transfer_t));
  c->results = qp_calloc(n, sizeof *c->results);
  int rc = QP_ENOMEM;
  if (c->events == NULL || c->results == NULL) {
    fail(c, QP_BIN_E_INTERNAL, "out of memory");
  } else if (decode_events(c, accounts, c->events, n)) {
    c->job = (qp__ledger_job_t){
        .request = {.op = accounts ? QP_OP_CREATE_ACCOUNTS : QP_OP_CREATE_TRANSFERS,
                    .events = c->events,
                    .count = n,
                    .results = c->results,
                    .submitter = submitter(&c->key)},
        .done_fn = create_done,
        .done_ctx = c};
    rc = qp__ledger_writer_post(&c->api->writer, &c->job);
    if (rc == 0) return true;
    (void)commit_failed(c, rc, &c->job);
  }
  release_create(c);
  return false;
}

void qp__bin_finish_create(qp__bin_conn_t *c) {
  if (!commit_failed(c, 0, &c->job)) {
    uint8_t *out = c->reply + QP_BIN_HEADER_SIZE;
    uint32_t k = 0, n = c->job.request.count;
    for (uint32_t i = 0; i < n; i++) {
      if (c->results[i] == 0) continue;
      qp_store_u32(out + (size_t)k * QP_BIN_RESULT_SIZE, i);
      qp_store_u32(out + (size_t)k * QP_BIN_RESULT_SIZE + 4, c->results[i]);
      k++;
    }
    reply(c, c->h.op, 0, k * QP_BIN_RESULT_SIZE);
  }
  release_create(c);
}

static void op_lookup(qp__bin_conn_t *c, bool accounts) {
  uint32_t n = c->h.body_len / QP_BIN_ID_SIZE, found = 0;
  qp_u128 *ids = qp_calloc(n, sizeof *ids);
  void *rows = qp_calloc(n, accounts ? sizeof(qp_account_t) : sizeof(qp_transfer_t));
  qp_pending_state_t *states = qp_calloc(n, sizeof *states);
  int rc = ids && rows && states ? 0 : QP_ENOMEM;
  for (uint32_t i = 0; rc == 0 && i < n; i++)
    ids[i] = qp_u128_load_le(c->body + (size_t)i * QP_BIN_ID_SIZE);
  if (rc == 0)
    rc = accounts ? qp_db_lookup_accounts(c->api->db, ids, n, rows, &found)
                  : qp_db_lookup_transfers(c->api->db, ids, n, rows, states, &found);
  if (rc != 0) {
    fail(c, QP_BIN_E_INTERNAL, qp_strerror(rc));
  } else {
    uint8_t *out = c->reply + QP_BIN_HEADER_SIZE;
    uint32_t k = 0;
    for (uint32_t i = 0; i < found; i++) {
      const qp_account_t *a = (const qp_account_t *)rows + i;
      const qp_transfer_t *t = (const qp_transfer_t *)rows + i;
      if (!ledger_allowed(&c->key, accounts ? a->ledger : t->ledger)) continue; /* as unknown */
      if (accounts)
        qp_account_encode(out + (size_t)k++ * QP_BIN_RECORD_SIZE, a);
      else
        qp_transfer_encode(out + (size_t)k++ * QP_BIN_RECORD_SIZE, t);
    }
    reply(c, c->h.op, 0, k * QP_BIN_RECORD_SIZE);
  }
  qp_free(ids);
  qp_free(rows);
  qp_free(states);
}

/* The checks before a data frame runs: authenticated, key in force,
 * scope; false with the error frame in c->reply. */
static bool admitted(qp__bin_conn_t *c, bool write) {
  if (!c->authed) {
    fail(c, QP_BIN_E_AUTH_REQUIRED, "the first frame must be auth with an API key");
    return false;
  }
  if (qp_http_key_expired(&c->key, (int64_t)time(NULL))) {
    fail(c, QP_BIN_E_BAD_KEY, "the API key expired");
    return false;
  }
  const char *need = write ? QP_LEDGER_SCOPE_WRITE : QP_LEDGER_SCOPE_READ;
  if (!qp_http_scopes_grant(c->key.scopes, need)) {
    char message[128];
    snprintf(message, sizeof message, "the key lacks the scope %s", need);
    fail(c, QP_BIN_E_FORBIDDEN, message);
    return false;
  }
  return true;
}

static bool is_create(uint16_t op) {
  return op == QP_BIN_OP_CREATE_ACCOUNTS || op == QP_BIN_OP_CREATE_TRANSFERS;
}

qp__bin_start_t qp__bin_start(qp__bin_conn_t *c) {
  uint16_t op = c->h.op;
  if (op == QP_BIN_OP_AUTH || (c->authed && !is_create(op))) return QP__BIN_RUN_IN_POOL;
  atomic_fetch_add_explicit(&c->metrics->frames[op], 1, memory_order_relaxed);
  if (!admitted(c, is_create(op))) return QP__BIN_REPLY_READY;
  return op_create(c, op == QP_BIN_OP_CREATE_ACCOUNTS) ? QP__BIN_POSTED : QP__BIN_REPLY_READY;
}

void qp__bin_run(qp__bin_conn_t *c) {
  uint16_t op = c->h.op;
  atomic_fetch_add_explicit(&c->metrics->frames[op], 1, memory_order_relaxed);
  if (op == QP_BIN_OP_AUTH)
    op_auth(c);
  else if (admitted(c, false))
    op_lookup(c, op == QP_BIN_OP_LOOKUP_ACCOUNTS);
}
