/*
 * codec.c - the fixed 128-byte little-endian encodings of accounts and
 * transfers (journal bodies and index values), and the wire names of result
 * codes, flags and pending states.  Field order matches the structs so that
 * the layout is easy to audit, but nothing here depends on struct layout.
 */
#include <string.h>

#include "base/bytes.h"
#include "ledger/ledger.h"

void qp_account_encode(uint8_t out[QP_RECORD_SIZE], const qp_account_t *a) {
  qp_u128_store_le(out + 0, a->id);
  qp_u128_store_le(out + 16, a->debits_pending);
  qp_u128_store_le(out + 32, a->debits_posted);
  qp_u128_store_le(out + 48, a->credits_pending);
  qp_u128_store_le(out + 64, a->credits_posted);
  qp_u128_store_le(out + 80, a->user_data_128);
  qp_store_u64(out + 96, a->user_data_64);
  qp_store_u32(out + 104, a->user_data_32);
  qp_store_u32(out + 108, a->reserved);
  qp_store_u32(out + 112, a->ledger);
  qp_store_u16(out + 116, a->code);
  qp_store_u16(out + 118, a->flags);
  qp_store_u64(out + 120, a->timestamp);
}

void qp_account_decode(const uint8_t in[QP_RECORD_SIZE], qp_account_t *a) {
  a->id = qp_u128_load_le(in + 0);
  a->debits_pending = qp_u128_load_le(in + 16);
  a->debits_posted = qp_u128_load_le(in + 32);
  a->credits_pending = qp_u128_load_le(in + 48);
  a->credits_posted = qp_u128_load_le(in + 64);
  a->user_data_128 = qp_u128_load_le(in + 80);
  a->user_data_64 = qp_load_u64(in + 96);
  a->user_data_32 = qp_load_u32(in + 104);
  a->reserved = qp_load_u32(in + 108);
  a->ledger = qp_load_u32(in + 112);
  a->code = qp_load_u16(in + 116);
  a->flags = qp_load_u16(in + 118);
  a->timestamp = qp_load_u64(in + 120);
}

void qp_transfer_encode(uint8_t out[QP_RECORD_SIZE], const qp_transfer_t *t) {
  qp_u128_store_le(out + 0, t->id);
  qp_u128_store_le(out + 16, t->debit_account_id);
  qp_u128_store_le(out + 32, t->credit_account_id);
  qp_u128_store_le(out + 48, t->amount);
  qp_u128_store_le(out + 64, t->pending_id);
  qp_u128_store_le(out + 80, t->user_data_128);
  qp_store_u64(out + 96, t->user_data_64);
  qp_store_u32(out + 104, t->user_data_32);
  qp_store_u32(out + 108, t->timeout);
  qp_store_u32(out + 112, t->ledger);
  qp_store_u16(out + 116, t->code);
  qp_store_u16(out + 118, t->flags);
  qp_store_u64(out + 120, t->timestamp);
}

void qp_transfer_decode(const uint8_t in[QP_RECORD_SIZE], qp_transfer_t *t) {
  t->id = qp_u128_load_le(in + 0);
  t->debit_account_id = qp_u128_load_le(in + 16);
  t->credit_account_id = qp_u128_load_le(in + 32);
  t->amount = qp_u128_load_le(in + 48);
  t->pending_id = qp_u128_load_le(in + 64);
  t->user_data_128 = qp_u128_load_le(in + 80);
  t->user_data_64 = qp_load_u64(in + 96);
  t->user_data_32 = qp_load_u32(in + 104);
  t->timeout = qp_load_u32(in + 108);
  t->ledger = qp_load_u32(in + 112);
  t->code = qp_load_u16(in + 116);
  t->flags = qp_load_u16(in + 118);
  t->timestamp = qp_load_u64(in + 120);
}

const char *qp_create_account_result_name(uint32_t result) {
  static const char *const names[] = {
#define QP__N(NAME, name) #name,
      QP_CREATE_ACCOUNT_RESULTS(QP__N)
#undef QP__N
  };
  return result < sizeof names / sizeof names[0] ? names[result] : NULL;
}

const char *qp_create_transfer_result_name(uint32_t result) {
  static const char *const names[] = {
#define QP__N(NAME, name) #name,
      QP_CREATE_TRANSFER_RESULTS(QP__N)
#undef QP__N
  };
  return result < sizeof names / sizeof names[0] ? names[result] : NULL;
}

const char *qp_account_flag_name(uint32_t bit) {
  switch (bit) {
#define QP__N(NAME, name, b)                                                  \
  case b:                                                                     \
    return #name;
    QP_ACCOUNT_FLAGS_MAP(QP__N)
#undef QP__N
  default:
    return NULL;
  }
}

const char *qp_transfer_flag_name(uint32_t bit) {
  switch (bit) {
#define QP__N(NAME, name, b)                                                  \
  case b:                                                                     \
    return #name;
    QP_TRANSFER_FLAGS_MAP(QP__N)
#undef QP__N
  default:
    return NULL;
  }
}

const char *qp_pending_state_name(qp_pending_state_t state) {
  switch (state) {
  case QP_PENDING_NONE: return "none";
  case QP_PENDING_PENDING: return "pending";
  case QP_PENDING_POSTED: return "posted";
  case QP_PENDING_VOIDED: return "voided";
  case QP_PENDING_EXPIRED: return "expired";
  }
  return NULL;
}
