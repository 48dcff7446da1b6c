/*
 * bills.c - bills from an account's transfers, pure (docs/wallet.md,
 * "Bills"): a plain transfer is a bill (posted); a two-phase payment is
 * ONE bill, the hold's, whose status follows the hold (pending, posted,
 * voided: voided by a cancel or by its expiry); the post or void of a hold
 * is part of the hold's bill, not a bill of its own.  Searching matches
 * the counterparty's name or handle (case-insensitive substring) or the
 * amount, in minor units ("1234") or major units ("12.34").
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/err.h"
#include "wallet/wallet_int.h"

bool qp__wallet_bill_of(const qp_transfer_t *t, qp_pending_state_t state, qp_u128 account,
                        qp__wallet_bill_t *out) {
  if (t->flags & (QP_TRANSFER_POST_PENDING_TRANSFER | QP_TRANSFER_VOID_PENDING_TRANSFER))
    return false;
  if (t->debit_account_id != account && t->credit_account_id != account) return false;
  memset(out, 0, sizeof *out);
  out->id = t->id;
  out->out = t->debit_account_id == account;
  out->counterparty = out->out ? t->credit_account_id : t->debit_account_id;
  out->amount = t->amount;
  out->timestamp = t->timestamp;
  out->ledger = t->ledger;
  out->pending = (t->flags & QP_TRANSFER_PENDING) != 0;
  out->state = out->pending ? state : QP_PENDING_NONE;
  out->intent = out->pending ? t->user_data_128 : 0;
  return true;
}

const char *qp__wallet_bill_status(const qp__wallet_bill_t *b) {
  if (!b->pending || b->state == QP_PENDING_POSTED) return "posted";
  if (b->state == QP_PENDING_PENDING) return "pending";
  return "voided";
}

int qp__wallet_month_range(const char *month, uint64_t *min_ns, uint64_t *max_ns) {
  unsigned y = 0, m = 0;
  char tail = 0;
  if (month == NULL || strlen(month) != 7 || month[4] != '-' ||
      sscanf(month, "%4u-%2u%c", &y, &m, &tail) != 2 || y < 1970 || y > 9999 || m < 1 || m > 12)
    return QP_EINVAL;
  struct tm a = {0}, b = {0};
  a.tm_year = (int)y - 1900;
  a.tm_mon = (int)m - 1;
  a.tm_mday = 1;
  b = a;
  b.tm_mon += 1; /* timegm normalises December + 1 */
  int64_t from = (int64_t)timegm(&a), to = (int64_t)timegm(&b);
  *min_ns = (uint64_t)from * 1000000000u;
  *max_ns = (uint64_t)to * 1000000000u - 1u;
  return 0;
}

void qp__wallet_amount_major(qp_u128 amount, int decimals, char *out, size_t size) {
  char digits[QP_U128_BUF_SIZE], padded[QP_U128_BUF_SIZE + 64];
  size_t n = qp_u128_format(amount, digits);
  if (decimals <= 0 || decimals > 18) {
    snprintf(out, size, "%s", digits);
    return;
  }
  size_t d = (size_t)decimals, pad = n <= d ? d + 1 - n : 0;
  memset(padded, '0', pad);
  memcpy(padded + pad, digits, n + 1);
  size_t len = pad + n;
  snprintf(out, size, "%.*s.%s", (int)(len - d), padded, padded + len - d);
}

static bool contains_ci(const char *hay, const char *needle) {
  if (hay == NULL) return false;
  size_t n = strlen(needle);
  for (const char *p = hay; *p; p++)
    if (strncasecmp(p, needle, n) == 0) return true;
  return n == 0;
}

bool qp__wallet_bill_match(const char *q, const char *name, const char *handle, qp_u128 amount,
                           int decimals) {
  if (q == NULL || q[0] == '\0') return true;
  if (contains_ci(name, q) || contains_ci(handle, q)) return true;
  char minor[QP_U128_BUF_SIZE], major[QP_U128_BUF_SIZE + 2];
  qp_u128_format(amount, minor);
  qp__wallet_amount_major(amount, decimals, major, sizeof major);
  return strcmp(q, minor) == 0 || strcmp(q, major) == 0;
}
