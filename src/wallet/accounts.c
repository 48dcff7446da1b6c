/*
 * accounts.c - a user's ledger account and the treasury, through the
 * ledger's door (ledger/api.h): a user's account has the flags
 * debits_must_not_exceed_credits and history, user_data_128 = the user id
 * (its 16 bytes), the wallet's ledger and account code.  Me is the user
 * and that account: balance = credits_posted - debits_posted -
 * debits_pending (what can be spent), pending = debits_pending.
 */
#include <sodium.h>
#include <string.h>

#include "auth/auth.h"
#include "base/err.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "ledger/api.h"
#include "wallet/wallet_int.h"

static qp_u128 new_id(void) {
  qp_u128 id = 0;
  while (id == 0 || id == ~(qp_u128)0) randombytes_buf(&id, sizeof id);
  return id;
}

static int create(const qp_account_t *a) {
  qp_ledger_service_t *svc = qp_ledger_service();
  uint32_t result = 0;
  if (svc == NULL) return QP_ENOTSUP;
  int rc = qp_ledger_service_accounts(svc, a, 1, &result);
  if (rc != 0) return rc;
  return result == QP_CREATE_ACCOUNT_OK || result == QP_CREATE_ACCOUNT_EXISTS ? 0 : QP_EINVAL;
}

int qp__wallet_account_create(qp__wallet_t *w, const char *user_id, qp_u128 *account) {
  qp_account_t a;
  memset(&a, 0, sizeof a);
  a.id = new_id();
  a.ledger = w->settings.ledger;
  a.code = w->settings.account_code;
  a.flags = QP_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS | QP_ACCOUNT_HISTORY;
  uint8_t raw[16];
  size_t len = 0;
  if (sodium_hex2bin(raw, sizeof raw, user_id, strlen(user_id), NULL, &len, NULL) == 0 &&
      len == sizeof raw)
    memcpy(&a.user_data_128, raw, sizeof raw);
  int rc = create(&a);
  if (rc == 0) rc = qp__wallet_account_put(w, user_id, a.id);
  if (rc == 0) *account = a.id;
  return rc;
}

int qp__wallet_treasury_ensure(qp__wallet_t *w) {
  qp_ledger_service_t *svc = qp_ledger_service();
  qp_account_t a;
  if (svc == NULL) return QP_ENOTSUP;
  if (qp_ledger_service_account(svc, w->settings.treasury_account_id, &a) == 0) return 0;
  memset(&a, 0, sizeof a);
  a.id = w->settings.treasury_account_id;
  a.ledger = w->settings.ledger;
  a.code = 1;
  a.flags = QP_ACCOUNT_HISTORY;
  return create(&a);
}

json_t *qp__wallet_accounts_json(qp__wallet_t *w, const char *user_id) {
  json_t *list = json_array();
  qp_u128 id = 0;
  qp_account_t a;
  qp_ledger_service_t *svc = qp_ledger_service();
  if (svc == NULL || qp__wallet_account_of(w, user_id, &id) != 0 ||
      qp_ledger_service_account(svc, id, &a) != 0)
    return list;
  qp_u128 spent = a.debits_posted + a.debits_pending;
  qp_u128 balance = a.credits_posted > spent ? a.credits_posted - spent : 0;
  json_array_append_new(list, json_pack("{s:o, s:I, s:s, s:o, s:o}", "id",
                                        qp__wallet_u128_json(a.id), "ledger",
                                        (json_int_t)a.ledger, "currency", w->settings.currency,
                                        "balance", qp__wallet_u128_json(balance), "pending",
                                        qp__wallet_u128_json(a.debits_pending)));
  return list;
}

json_t *qp__wallet_me(qp__wallet_t *w, const char *user_id, qp_http_reply_t *r) {
  char handle[QP_WALLET_HANDLE_MAX + 1], name[QP_WALLET_NAME_MAX + 1];
  int rc = qp_auth_user_names(user_id, handle, sizeof handle, name, sizeof name);
  if (rc != 0) {
    qp_http_reply_fail(r, rc == QP_ENOTFOUND ? 401 : 503,
                       rc == QP_ENOTFOUND ? "session_required" : "auth_unavailable", "",
                       "the session's user cannot be read");
    return NULL;
  }
  return json_pack("{s:{s:s, s:s, s:s}, s:o}", "user", "id", user_id, "handle", handle,
                   "display_name", name, "accounts", qp__wallet_accounts_json(w, user_id));
}

int qp__wallet_deposit(qp__wallet_t *w, qp_u128 account, qp_u128 amount, qp_u128 *id,
                       uint32_t *result) {
  qp_transfer_t t;
  memset(&t, 0, sizeof t);
  while (*id == 0 || *id == ~(qp_u128)0) randombytes_buf(id, sizeof *id);
  t.id = *id;
  t.debit_account_id = w->settings.treasury_account_id;
  t.credit_account_id = account;
  t.amount = amount;
  t.ledger = w->settings.ledger;
  t.code = 1;
  int rc = qp__wallet_treasury_ensure(w);
  if (rc == 0) rc = qp_ledger_service_transfers(qp_ledger_service(), &t, 1, result);
  return rc;
}

void qp__wallet_welcome(qp__wallet_t *w, qp_u128 account) {
  if (w->settings.welcome_amount == 0) return;
  static const char tag[] = "quipu-wallet-welcome-v1";
  enum { TAG = sizeof tag - 1 };
  uint8_t in[TAG + 16], h[QP_HASH_SIZE];
  memcpy(in, tag, TAG);
  for (int i = 0; i < 16; i++) in[TAG + i] = (uint8_t)(account >> (8 * (15 - i)));
  qp_sha256(h, in, sizeof in);
  qp_u128 id = 0;
  for (int i = 0; i < 16; i++) id = (id << 8) | h[i];
  uint32_t result = 0;
  int rc = qp__wallet_deposit(w, account, w->settings.welcome_amount, &id, &result);
  if (rc != 0 || (result != QP_CREATE_TRANSFER_OK && result != QP_CREATE_TRANSFER_EXISTS))
    QP_LOG_WARN("wallet", "the welcome deposit was refused (%s)",
                rc != 0 ? qp_strerror(rc) : qp_create_transfer_result_name(result));
}
