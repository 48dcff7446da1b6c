/*
 * refunds.c - money back from a paid order: the arithmetic, the refund's
 * ledger transfer and its durable steps.  A refund is made under the order
 * lock in three steps, each one LMDB transaction:
 *
 *   1. reserve: the refund record (status pending), its list and pending
 *      index rows, and the order's amount_refunding raised by the amount;
 *      refused when amount_refunded + amount_refunding + amount would
 *      exceed the amount paid (so no two refunds, even across a crash,
 *      overshoot);
 *   2. the ledger transfer from the merchant's settlement account back to
 *      the payer's account, with an id derived from the refund id (a retry
 *      after a crash finds it "exists" and never pays twice);
 *   3. finish: succeeded (the order's amount_refunded and status, the
 *      refund.succeeded event, the stored response), or, when the ledger
 *      refused, the reservation undone (the request's refund leaves
 *      nothing; a refund the tick recovers reads failed).
 *
 * A refund left pending by a crash or an unavailable ledger is finished by
 * the module's tick (qp__pay_refunds_recover).
 */
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "ledger/api.h"
#include "payments/payments_int.h"

int qp__pay_refund_check(qp_u128 paid, qp_u128 refunded, qp_u128 refunding, qp_u128 amount,
                         qp_u128 *refundable) {
  qp_u128 taken = 0;
  *refundable = 0;
  if (qp_u128_add_overflow(refunded, refunding, &taken) || taken > paid) return QP_ECORRUPT;
  *refundable = paid - taken;
  return amount == 0 || amount > *refundable ? QP_ERANGE : 0;
}

const char *qp__pay_refunded_status(qp_u128 paid, qp_u128 refunded) {
  if (refunded == 0) return "paid";
  return refunded >= paid ? "refunded" : "partially_refunded";
}

qp_u128 qp__pay_refund_transfer_id(const uint8_t refund_id[QP_PAY_ID_SIZE]) {
  static const char tag[] = "quipu-refund-transfer-v1";
  uint8_t in[sizeof tag - 1 + QP_PAY_ID_SIZE], h[QP_HASH_SIZE];
  memcpy(in, tag, sizeof tag - 1);
  memcpy(in + sizeof tag - 1, refund_id, QP_PAY_ID_SIZE);
  qp_sha256(h, in, sizeof in);
  qp_u128 id = qp_u128_load_be(h);
  return id == 0 || id == QP_U128_MAX ? 1 : id; /* 0 and 2^128-1 are not transfer ids */
}

bool qp__pay_member_u128(const json_t *o, const char *name, qp_u128 *out) {
  const char *s = json_string_value(json_object_get(o, name));
  *out = 0;
  if (s == NULL) return json_object_get(o, name) == NULL; /* absent: 0 */
  return qp_u128_parse(s, strlen(s), out) == 0;
}

/* The transfer of refund rf: settlement -> payer, the refund's amount. */
static int refund_transfer(const json_t *rf, qp_transfer_t *t) {
  uint8_t id[QP_PAY_ID_SIZE];
  memset(t, 0, sizeof *t);
  if (!qp__pay_id_parse(json_string_value(json_object_get(rf, "id")), id) ||
      !qp__pay_member_u128(rf, "debit_account_id", &t->debit_account_id) ||
      !qp__pay_member_u128(rf, "credit_account_id", &t->credit_account_id) ||
      !qp__pay_member_u128(rf, "amount", &t->amount))
    return QP_ECORRUPT;
  t->id = qp__pay_refund_transfer_id(id);
  t->user_data_128 = qp_u128_load_be(id);
  t->ledger = (uint32_t)json_integer_value(json_object_get(rf, "ledger"));
  t->code = QP_PAY_REFUND_TRANSFER_CODE;
  return 0;
}

int qp__pay_refund_move(const json_t *rf, uint32_t *result) {
  qp_transfer_t t;
  qp_ledger_service_t *svc = qp_ledger_service();
  int rc = refund_transfer(rf, &t);
  if (rc == 0 && svc == NULL) rc = QP_ENOTSUP;
  if (rc == 0) rc = qp_ledger_service_transfers(svc, &t, 1, result);
  if (rc == 0 && *result == QP_CREATE_TRANSFER_EXISTS) *result = QP_CREATE_TRANSFER_OK;
  return rc;
}

/* Adds delta (or subtracts) to the order's u128 member name. */
static int adjust(json_t *order, const char *name, qp_u128 delta, bool add) {
  qp_u128 v = 0;
  if (!qp__pay_member_u128(order, name, &v)) return QP_ECORRUPT;
  if (add ? qp_u128_add_overflow(v, delta, &v) : qp_u128_sub_overflow(v, delta, &v))
    return QP_ECORRUPT;
  return json_object_set_new(order, name, qp__pay_u128_json(v)) == 0 ? 0 : QP_ENOMEM;
}

int qp__pay_order_refund_apply(json_t *order, qp_u128 amount, qp__pay_refund_step_t step) {
  int rc = 0;
  if (step == QP__PAY_REFUND_RESERVE) return adjust(order, "amount_refunding", amount, true);
  rc = adjust(order, "amount_refunding", amount, false);
  if (rc != 0 || step == QP__PAY_REFUND_RELEASE) return rc;
  rc = adjust(order, "amount_refunded", amount, true);
  qp_u128 paid = 0, refunded = 0;
  if (rc == 0 && (!qp__pay_member_u128(order, "amount", &paid) ||
                  !qp__pay_member_u128(order, "amount_refunded", &refunded) || refunded > paid))
    rc = QP_ECORRUPT;
  if (rc == 0 && json_object_set_new(order, "status",
                                     json_string(qp__pay_refunded_status(paid, refunded))) != 0)
    rc = QP_ENOMEM;
  return rc;
}

json_t *qp__pay_refund_public(const json_t *rf) {
  json_t *out = json_deep_copy(rf);
  if (out == NULL) return NULL;
  json_object_del(out, "created_ns");
  json_object_set_new(out, "object", json_string("refund"));
  return out;
}
