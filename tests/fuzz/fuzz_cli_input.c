/*
 * fuzz_cli_input.c - libFuzzer target for the input of `quipu client
 * accounts|transfers create` (a file or stdin), which the client checks with
 * qp_ledger_check_batch before sending.  The first byte picks the kind (even:
 * accounts, odd: transfers); the rest is the file.  Properties: no crash,
 * leak or undefined behaviour; the check accepts exactly what the server's
 * decoder accepts; a refusal always carries a 4xx status, a code and a
 * message.
 */
#include <stdint.h>
#include <string.h>

#include <stdlib.h>

#include <jansson.h>

#include "ledger/api.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const char *kind = (data[0] & 1) ? "transfers" : "accounts";
  const char *body = (const char *)data + 1;
  size_t len = size - 1;
  qp_http_error_t err;
  memset(&err, 0, sizeof err);
  int rc = qp_ledger_check_batch(kind, body, len, &err);
  QP_ASSERT(rc == 0 || rc == QP_EPARSE || rc == QP_ENOMEM);
  if (rc == QP_EPARSE) {
    QP_ASSERT(err.status >= 400 && err.status < 500);
    QP_ASSERT(err.code[0] != '\0' && err.message[0] != '\0');
  }
  /* Same verdict as the server's decoder. */
  qp_http_error_t err2;
  uint32_t n = 0;
  int rc2;
  if (data[0] & 1) {
    qp_transfer_t *t = NULL;
    rc2 = qp_ledger_decode_transfers(body, len, QP_BATCH_EVENTS_MAX, &t, &n, &err2);
    qp_free(t);
  } else {
    qp_account_t *a = NULL;
    rc2 = qp_ledger_decode_accounts(body, len, QP_BATCH_EVENTS_MAX, &a, &n, &err2);
    qp_free(a);
  }
  QP_ASSERT((rc == 0) == (rc2 == 0));
  return 0;
}
