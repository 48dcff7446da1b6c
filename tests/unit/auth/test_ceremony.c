/*
 * test_ceremony.c - the challenges of the auth module (src/auth/ceremony.c):
 * each is taken once (a second take is a replay), never across kinds or
 * ids, refused once expired; a payment's new challenge ends the one before
 * it; the table bounds the challenges not yet used, and expired or used
 * slots are reused.
 */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"
#include "base/err.h"

static qp__auth_t *make(uint32_t ttl_s) {
  qp__auth_t *a = calloc(1, sizeof *a);
  assert_non_null(a);
  a->settings.challenge_ttl_s = ttl_s;
  pthread_mutex_init(&a->lock, NULL);
  return a;
}

static void destroy(qp__auth_t *a) {
  pthread_mutex_destroy(&a->lock);
  free(a);
}

static void test_taken_once(void **state) {
  (void)state;
  qp__auth_t *a = make(60);
  uint8_t user[QP_AUTH_ID_SIZE] = {1}, other[QP_AUTH_ID_SIZE] = {2};
  qp__auth_ceremony_t c, got, second;
  assert_int_equal(qp__auth_ceremony_new(a, QP__AUTH_REGISTER, user, &c), 0);
  assert_int_equal(qp__auth_ceremony_new(a, QP__AUTH_REGISTER, user, &second), 0);
  assert_memory_not_equal(c.challenge, second.challenge, sizeof c.challenge);
  assert_int_equal(qp__auth_ceremony_take(a, c.id, QP__AUTH_PAYMENT, &got), QP_ENOTFOUND);
  assert_int_equal(qp__auth_ceremony_take(a, other, QP__AUTH_REGISTER, &got), QP_ENOTFOUND);
  assert_int_equal(qp__auth_ceremony_take(a, c.id, QP__AUTH_REGISTER, &got), 0);
  assert_memory_equal(got.challenge, c.challenge, sizeof c.challenge);
  assert_memory_equal(got.user_id, user, sizeof user);
  assert_int_equal(qp__auth_ceremony_take(a, c.id, QP__AUTH_REGISTER, &got), QP_EEXISTS);
  assert_int_equal(qp__auth_ceremony_take(a, second.id, QP__AUTH_REGISTER, &got), 0);
  destroy(a);
}

static void test_expired(void **state) {
  (void)state;
  qp__auth_t *a = make(0); /* expires at once */
  uint8_t user[QP_AUTH_ID_SIZE] = {1};
  qp__auth_ceremony_t c, got;
  assert_int_equal(qp__auth_ceremony_new(a, QP__AUTH_REGISTER, user, &c), 0);
  assert_int_equal(qp__auth_ceremony_take(a, c.id, QP__AUTH_REGISTER, &got), QP_ERANGE);
  destroy(a);
}

static void test_payment_challenge_supersedes(void **state) {
  (void)state;
  qp__auth_t *a = make(60);
  uint8_t user[QP_AUTH_ID_SIZE] = {1}, intent[QP_AUTH_ID_SIZE] = {9}, other[QP_AUTH_ID_SIZE] = {8};
  uint8_t c1[32] = {1}, c2[32] = {2};
  qp__auth_ceremony_t c, got;
  int64_t far = qp__auth_now_s() + 3600;
  assert_int_equal(qp__auth_ceremony_new_payment(a, user, intent, c1, far, &c), 0);
  assert_int_equal(qp__auth_ceremony_new_payment(a, user, intent, c2, far, &c), 0);
  assert_int_equal(qp__auth_ceremony_take_intent(a, other, &got), QP_ENOTFOUND);
  assert_int_equal(qp__auth_ceremony_take_intent(a, intent, &got), 0);
  assert_memory_equal(got.challenge, c2, 32); /* the latest; the first one ended */
  assert_int_equal(qp__auth_ceremony_take_intent(a, intent, &got), QP_EEXISTS);
  /* A payment's challenge ends with the intent's expiry when that is sooner. */
  assert_int_equal(qp__auth_ceremony_new_payment(a, user, other, c1, qp__auth_now_s(), &c), 0);
  assert_int_equal(qp__auth_ceremony_take_intent(a, other, &got), QP_ERANGE);
  destroy(a);
}

static void test_bounded(void **state) {
  (void)state;
  qp__auth_t *a = make(60);
  uint8_t user[QP_AUTH_ID_SIZE] = {1};
  qp__auth_ceremony_t c;
  for (int i = 0; i < QP_AUTH_CEREMONIES_MAX; i++)
    assert_int_equal(qp__auth_ceremony_new(a, QP__AUTH_REGISTER, user, &c), 0);
  assert_int_equal(qp__auth_ceremony_new(a, QP__AUTH_REGISTER, user, &c), QP_ELIMIT);
  a->ceremonies[17].expires_mono_ns = 1; /* one expires: its slot is free again */
  assert_int_equal(qp__auth_ceremony_new(a, QP__AUTH_REGISTER, user, &c), 0);
  assert_int_equal(qp__auth_ceremony_new(a, QP__AUTH_REGISTER, user, &c), QP_ELIMIT);
  destroy(a);
}

/* Used challenges do not hold the table: a full table of used ones takes
 * new ceremonies without end, the oldest used slot first, and a replay of
 * an evicted one is still refused (as unknown). */
static void test_used_slots_reused(void **state) {
  (void)state;
  qp__auth_t *a = make(60);
  uint8_t user[QP_AUTH_ID_SIZE] = {1};
  qp__auth_ceremony_t c, got, first;
  for (int i = 0; i < 3 * QP_AUTH_CEREMONIES_MAX; i++) {
    assert_int_equal(qp__auth_ceremony_new(a, QP__AUTH_REGISTER, user, &c), 0);
    if (i == 0) first = c;
    assert_int_equal(qp__auth_ceremony_take(a, c.id, QP__AUTH_REGISTER, &got), 0);
    assert_int_equal(qp__auth_ceremony_take(a, c.id, QP__AUTH_REGISTER, &got), QP_EEXISTS);
  }
  assert_int_equal(qp__auth_ceremony_take(a, first.id, QP__AUTH_REGISTER, &got), QP_ENOTFOUND);
  /* Unused ones still bound it. */
  for (int i = 0; i < QP_AUTH_CEREMONIES_MAX; i++)
    assert_int_equal(qp__auth_ceremony_new(a, QP__AUTH_REGISTER, user, &c), 0);
  assert_int_equal(qp__auth_ceremony_new(a, QP__AUTH_REGISTER, user, &c), QP_ELIMIT);
  destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_used_slots_reused),
      cmocka_unit_test(test_taken_once),
      cmocka_unit_test(test_expired),
      cmocka_unit_test(test_payment_challenge_supersedes),
      cmocka_unit_test(test_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
