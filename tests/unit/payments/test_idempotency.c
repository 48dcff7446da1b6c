/*
 * test_idempotency.c - the payments store and the Idempotency-Key core
 * (src/payments/store.c, idempotency.c) on a real LMDB environment in a
 * temporary directory: a new key runs, the same key while running is in
 * flight, a committed response is replayed for the same request and
 * refused for another, the record survives closing and reopening, expires
 * after the TTL and is swept; a change that fails (a record that exists)
 * leaves neither its response nor its event behind.  Also an order's
 * status as of a time (open until expires_at, then expired).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "base/alloc.h"
#include "base/err.h"
#include "payments/payments.h"
#include "payments/payments_int.h"

static char dir[512];

static qp__pay_t *open_store(void) {
  qp__pay_t *p = qp_calloc(1, sizeof *p);
  char detail[256];
  assert_non_null(p);
  p->settings.idempotency_ttl_s = 3600;
  pthread_mutex_init(&p->lock, NULL);
  assert_int_equal(qp__pay_store_open(p, dir, detail, sizeof detail), 0);
  return p;
}

static void close_store(qp__pay_t *p) {
  qp__pay_store_close(p);
  pthread_mutex_destroy(&p->lock);
  qp_free(p);
}

static qp__pay_idem_t idem_of(uint8_t key_byte, uint8_t body_byte) {
  qp__pay_idem_t idem;
  memset(&idem, 0, sizeof idem);
  memset(idem.key, key_byte, sizeof idem.key);
  memset(idem.body_hash, body_byte, sizeof idem.body_hash);
  return idem;
}

static qp__pay_idem_state_t claim(qp__pay_t *p, qp__pay_idem_t *idem, int64_t now,
                                  unsigned *status, char **body) {
  qp__pay_idem_state_t state = QP__PAY_IDEM_FULL;
  assert_int_equal(qp__pay_idem_claim(p, idem, now, &state, status, body), 0);
  return state;
}

/* Writes an order record with idem's response "{\"n\":1}". */
static int commit(qp__pay_t *p, const qp__pay_idem_t *idem, const char *order_key) {
  qp__pay_put_t put = {p->orders, order_key, strlen(order_key), "{}", 2, true, false};
  json_t *event = json_pack("{s:s}", "id", order_key);
  qp__pay_change_t c = {&put, 1, "order.created", event, idem, 201, "{\"n\":1}", NULL, NULL};
  int rc = qp__pay_store_write(p, &c);
  json_decref(event);
  return rc;
}

static void test_claim_replay_reuse_restart(void **state) {
  (void)state;
  qp_test_tmpdir(dir, sizeof dir);
  qp__pay_t *p = open_store();
  int64_t now = qp__pay_now_s();
  unsigned status = 0;
  char *body = NULL;
  qp__pay_idem_t a = idem_of(1, 7), again = idem_of(1, 7), other = idem_of(1, 8);
  assert_int_equal(claim(p, &a, now, &status, &body), QP__PAY_IDEM_NEW);
  assert_true(a.active);
  assert_int_equal(claim(p, &again, now, &status, &body), QP__PAY_IDEM_IN_FLIGHT);
  assert_int_equal(claim(p, &other, now, &status, &body), QP__PAY_IDEM_IN_FLIGHT);
  assert_int_equal(commit(p, &a, "order-1"), 0);
  qp__pay_idem_end(p, &a);
  assert_int_equal(claim(p, &again, now, &status, &body), QP__PAY_IDEM_REPLAY);
  assert_int_equal(status, 201);
  assert_string_equal(body, "{\"n\":1}");
  qp_free(body);
  assert_false(again.active);
  assert_int_equal(claim(p, &other, now, &status, &body), QP__PAY_IDEM_REUSED);
  assert_int_equal(qp__pay_store_events(p), 1);
  close_store(p);
  p = open_store(); /* a restart: the response and the order are both there */
  assert_int_equal(claim(p, &again, now, &status, &body), QP__PAY_IDEM_REPLAY);
  assert_string_equal(body, "{\"n\":1}");
  qp_free(body);
  json_t *order = NULL;
  assert_int_equal(qp__pay_store_get_json(p, p->orders, "order-1", 7, &order), 0);
  json_decref(order);
  /* After the TTL the key is new again, and the sweep deletes the record. */
  qp__pay_idem_t late = idem_of(1, 8);
  assert_int_equal(claim(p, &late, now + 3600, &status, &body), QP__PAY_IDEM_NEW);
  qp__pay_idem_end(p, &late);
  qp__pay_idem_sweep(p, now + 3600);
  uint8_t *raw = NULL;
  size_t len = 0;
  assert_int_equal(qp__pay_store_get_raw(p, p->idempotency, a.key, 32, &raw, &len),
                   QP_ENOTFOUND);
  close_store(p);
  qp_test_rmdir(dir);
}

static void test_failed_change_leaves_nothing(void **state) {
  (void)state;
  qp_test_tmpdir(dir, sizeof dir);
  qp__pay_t *p = open_store();
  int64_t now = qp__pay_now_s();
  unsigned status = 0;
  char *body = NULL;
  qp__pay_idem_t a = idem_of(2, 1), b = idem_of(3, 1);
  assert_int_equal(claim(p, &a, now, &status, &body), QP__PAY_IDEM_NEW);
  assert_int_equal(commit(p, &a, "order-x"), 0);
  qp__pay_idem_end(p, &a);
  assert_int_equal(claim(p, &b, now, &status, &body), QP__PAY_IDEM_NEW);
  assert_int_equal(commit(p, &b, "order-x"), QP_EEXISTS); /* the record exists */
  qp__pay_idem_end(p, &b);
  assert_int_equal(qp__pay_store_events(p), 1);
  qp__pay_idem_t b2 = idem_of(3, 1);
  assert_int_equal(claim(p, &b2, now, &status, &body), QP__PAY_IDEM_NEW); /* nothing stored */
  qp__pay_idem_end(p, &b2);
  qp__pay_idem_t inactive = {0};
  qp__pay_put_t put = {p->orders, "order-y", 7, "{}", 2, true, false};
  qp__pay_change_t c = {&put, 1, NULL, NULL, &inactive, 200, "{}", NULL, NULL};
  assert_int_equal(qp__pay_store_write(p, &c), 0); /* no event, no response */
  assert_int_equal(qp__pay_store_events(p), 1);
  close_store(p);
  qp_test_rmdir(dir);
}

static void test_order_status(void **state) {
  (void)state;
  json_t *o = json_pack("{s:s, s:I, s:I}", "status", "open", "expires_at_s", (json_int_t)1000,
                        "created_ns", (json_int_t)5);
  assert_string_equal(qp__pay_order_status(o, 999), "open");
  assert_string_equal(qp__pay_order_status(o, 1000), "expired");
  json_t *pub = qp__pay_order_public(o, 1000);
  assert_string_equal(json_string_value(json_object_get(pub, "status")), "expired");
  assert_null(json_object_get(pub, "expires_at_s"));
  assert_null(json_object_get(pub, "created_ns"));
  json_decref(pub);
  json_object_set_new(o, "status", json_string("canceled"));
  assert_string_equal(qp__pay_order_status(o, 5000), "canceled");
  json_decref(o);
  assert_int_equal(qp__pay_currency_numeric("USD"), 840);
  assert_int_equal(qp__pay_currency_numeric("ARS"), 32);
  assert_int_equal(qp__pay_currency_decimals("JPY"), 0);
  assert_int_equal(qp__pay_currency_decimals("KWD"), 3);
  assert_int_equal(qp__pay_currency_decimals("CLF"), 4);
  assert_int_equal(qp__pay_currency_decimals("EUR"), 2);
  assert_int_equal(qp__pay_currency_numeric("ABC"), 0);
  assert_int_equal(qp__pay_currency_decimals("ABC"), -1);
}

typedef struct {
  MDB_dbi dbi;
  const json_t *device;
  const uint64_t *steps;
  size_t n;
} used_rows_t;

static int put_used(void *ctx, MDB_txn *txn) {
  used_rows_t *u = ctx;
  int rc = 0;
  for (size_t i = 0; i < u->n && rc == 0; i++) {
    uint8_t key[24], order[QP_PAY_ID_SIZE] = {1};
    qp__pay_code_used_key(u->device, u->steps[i], key);
    MDB_val k = {sizeof key, key}, v = {sizeof order, order};
    rc = mdb_put(txn, u->dbi, &k, &v, 0);
  }
  return rc;
}

/* Used payment codes are forgotten once their step is too old to be
 * anything but expired; the recent ones stay (a reuse is still "used"). */
static void test_used_codes_sweep(void **state) {
  (void)state;
  qp_test_tmpdir(dir, sizeof dir);
  qp__pay_t *p = open_store();
  json_t *device = json_pack("{s:s}", "id", "0123456789abcdef0123456789abcdef");
  int64_t now = 1800000000;
  uint64_t cur = (uint64_t)now / QP_PAYCODE_STEP_S;
  const uint64_t steps[] = {cur, cur - 1, cur - QP_PAYCODE_EXPIRED_STEPS - 1,
                            cur - QP_PAYCODE_EXPIRED_STEPS - 2, cur - 1000};
  used_rows_t u = {p->codes_used, device, steps, 5};
  assert_int_equal(qp_kv_write(p->kv, put_used, &u), 0);
  assert_int_equal(qp__pay_codes_sweep(p, now), 2);
  for (size_t i = 0; i < 5; i++) {
    bool used = false;
    assert_int_equal(qp__pay_code_used_store(p, device, steps[i], &used), 0);
    assert_int_equal(used, i < 3);
  }
  assert_int_equal(qp__pay_codes_sweep(p, now), 0);
  json_decref(device);
  close_store(p);
  qp_test_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_claim_replay_reuse_restart),
      cmocka_unit_test(test_failed_change_leaves_nothing),
      cmocka_unit_test(test_order_status),
      cmocka_unit_test(test_used_codes_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
