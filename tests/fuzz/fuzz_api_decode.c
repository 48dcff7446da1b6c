/*
 * fuzz_api_decode.c - libFuzzer target for the API's request-body decoder
 * (src/api/decode.c), which reads every byte a client sends.  The same
 * input is tried as a batch of accounts, a batch of transfers and a lookup.
 * Properties: no crash, leak or undefined behaviour; success and failure
 * are exclusive (an event array on success, an error envelope with a
 * 4xx/500 status, a code and a message on failure); and what the encoder
 * emits for decoded events decodes back to the same events (round trip).
 *
 * Build: clang -fsanitize=fuzzer,address -Isrc tests/fuzz/fuzz_api_decode.c
 *   src/api/decode.c src/api/encode.c src/api/error.c src/ledger/codec.c
 *   src/base/u128.c src/base/alloc.c src/base/assert.c
 *   $(pkg-config --cflags --libs jansson libsodium lmdb)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stdlib.h>

#include <jansson.h>

#include "ledger/api.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"

#define FUZZ_EVENTS_MAX 64u /* keeps each run fast; the limit check is still exercised */

static void check_error(int rc, const qp_http_error_t *err) {
  QP_ASSERT(rc == QP_EPARSE || rc == QP_ENOMEM);
  QP_ASSERT(err->status >= 400 && err->status < 600);
  QP_ASSERT(err->code[0] != '\0' && err->message[0] != '\0');
  json_t *env = qp_http_error_json(err);
  QP_ASSERT(env != NULL);
  char *text = json_dumps(env, JSON_COMPACT);
  QP_ASSERT(text != NULL); /* the envelope is always valid JSON */
  qp_http_json_free(text); /* jansson's allocation */
  json_decref(env);
}

/* Encodes events and decodes them again: the result must be identical. */
static void round_trip(qp_op_t op, const void *events, uint32_t count) {
  json_t *arr = json_array();
  QP_ASSERT(arr != NULL);
  for (uint32_t i = 0; i < count; i++) {
    json_t *o = op == QP_OP_CREATE_ACCOUNTS
                    ? qp_ledger_account_json((const qp_account_t *)events + i)
                    : qp_ledger_transfer_json((const qp_transfer_t *)events + i, QP_PENDING_NONE);
    QP_ASSERT(o != NULL);
    json_array_append_new(arr, o);
  }
  char *text = json_dumps(arr, JSON_COMPACT);
  QP_ASSERT(text != NULL);
  qp_http_error_t err;
  uint32_t n = 0;
  if (op == QP_OP_CREATE_ACCOUNTS) {
    qp_account_t *back = NULL;
    QP_ASSERT(qp_ledger_decode_accounts(text, strlen(text), FUZZ_EVENTS_MAX, &back, &n, &err) == 0);
    QP_ASSERT(n == count && memcmp(back, events, count * sizeof *back) == 0);
    qp_free(back);
  } else {
    qp_transfer_t *back = NULL;
    QP_ASSERT(qp_ledger_decode_transfers(text, strlen(text), FUZZ_EVENTS_MAX, &back, &n, &err) ==
              0);
    QP_ASSERT(n == count && memcmp(back, events, count * sizeof *back) == 0);
    qp_free(back);
  }
  qp_http_json_free(text); /* jansson's allocation */
  json_decref(arr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *body = (const char *)data;
  qp_http_error_t err;
  uint32_t n = 0;

  qp_account_t *accounts = NULL;
  int rc = qp_ledger_decode_accounts(body, size, FUZZ_EVENTS_MAX, &accounts, &n, &err);
  if (rc == 0) {
    QP_ASSERT(accounts != NULL && n >= 1 && n <= FUZZ_EVENTS_MAX);
    round_trip(QP_OP_CREATE_ACCOUNTS, accounts, n);
    qp_free(accounts);
  } else {
    QP_ASSERT(accounts == NULL && n == 0);
    check_error(rc, &err);
  }

  qp_transfer_t *transfers = NULL;
  rc = qp_ledger_decode_transfers(body, size, FUZZ_EVENTS_MAX, &transfers, &n, &err);
  if (rc == 0) {
    QP_ASSERT(transfers != NULL && n >= 1 && n <= FUZZ_EVENTS_MAX);
    round_trip(QP_OP_CREATE_TRANSFERS, transfers, n);
    qp_free(transfers);
  } else {
    QP_ASSERT(transfers == NULL && n == 0);
    check_error(rc, &err);
  }

  qp_u128 *ids = NULL;
  rc = qp_ledger_decode_ids(body, size, FUZZ_EVENTS_MAX, &ids, &n, &err);
  if (rc == 0) {
    QP_ASSERT(ids != NULL && n >= 1 && n <= FUZZ_EVENTS_MAX);
    qp_free(ids);
  } else {
    QP_ASSERT(ids == NULL && n == 0);
    check_error(rc, &err);
  }

  /* A query filter: either one the ledger accepts as it is, or an error. */
  qp_query_filter_t filter;
  rc = qp_ledger_decode_query(body, size, &filter, &err);
  if (rc == 0) {
    QP_ASSERT(filter.limit >= 1 && filter.limit <= QP_QUERY_LIMIT_MAX);
    QP_ASSERT(filter.timestamp_max == 0 || filter.timestamp_min <= filter.timestamp_max);
    QP_ASSERT((filter.flags & ~QP_QUERY_REVERSED) == 0);
  } else {
    check_error(rc, &err);
  }
  return 0;
}
