/*
 * test_wallet.c - the wallet module's pure parts and its store
 * (src/wallet): session tokens (format, SHA-256 as the stored key), the
 * cookie's attributes, a session's expiry and revocation, the store
 * (sessions by hash, revoking a user's sessions, the user <-> account
 * index), pending signups (taken once, expiring), bill grouping (one bill
 * per two-phase payment; its post or void is no bill), months, amounts,
 * search, the bills query, and the settings.
 */
#include <string.h>

#include "test_util.h"
#include "base/alloc.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "wallet/wallet_int.h"

static void test_token_and_hash(void **state) {
  (void)state;
  char a[QP_WALLET_TOKEN_TEXT], b[QP_WALLET_TOKEN_TEXT];
  qp__wallet_token_new(a);
  qp__wallet_token_new(b);
  assert_int_equal(strlen(a), 43);
  assert_true(qp__wallet_token_ok(a));
  assert_string_not_equal(a, b);
  assert_false(qp__wallet_token_ok(NULL));
  assert_false(qp__wallet_token_ok("short"));
  char bad[QP_WALLET_TOKEN_TEXT];
  memcpy(bad, a, sizeof bad);
  bad[5] = '=';
  assert_false(qp__wallet_token_ok(bad));
  uint8_t h[QP_WALLET_HASH_SIZE], want[QP_HASH_SIZE];
  qp__wallet_token_hash(a, h);
  qp_sha256(want, a, strlen(a));
  assert_memory_equal(h, want, sizeof h); /* the store keeps SHA-256 of the text, not the text */
}

static void test_cookie(void **state) {
  (void)state;
  char c[192];
  assert_int_equal(qp__wallet_cookie("tok", 43200, false, c, sizeof c), 0);
  assert_string_equal(c, "quipu_session=tok; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200");
  assert_int_equal(qp__wallet_cookie("tok", 60, true, c, sizeof c), 0);
  assert_non_null(strstr(c, "; Secure"));
  assert_int_equal(qp__wallet_cookie(NULL, 60, false, c, sizeof c), 0);
  assert_string_equal(c, "quipu_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
  assert_int_equal(qp__wallet_cookie("tok", 60, false, c, 10), QP_ERANGE);
}

static void test_session_live(void **state) {
  (void)state;
  qp__wallet_session_t s;
  memset(&s, 0, sizeof s);
  memset(s.user_id, 'a', QP_WALLET_ID_HEX);
  s.expires_s = 1000;
  assert_true(qp__wallet_session_live(&s, 999));
  assert_false(qp__wallet_session_live(&s, 1000)); /* expires at its second */
  s.revoked = true;
  assert_false(qp__wallet_session_live(&s, 1));
  s.revoked = false;
  snprintf(s.unlock, sizeof s.unlock, "%s", "0123456789abcdef0123456789abcdef");
  json_t *j = qp__wallet_session_json(&s);
  qp__wallet_session_t back;
  assert_int_equal(qp__wallet_session_from_json(j, &back), 0);
  assert_memory_equal(&back, &s, sizeof s);
  json_decref(j);
  j = json_pack("{s:s}", "user_id", "short");
  assert_int_equal(qp__wallet_session_from_json(j, &back), QP_ECORRUPT);
  json_decref(j);
}

static qp__wallet_t *open_wallet(char *dir, size_t size) {
  qp_test_tmpdir(dir, size);
  qp__wallet_t *w = qp_calloc(1, sizeof *w);
  char detail[256];
  assert_int_equal(qp__wallet_store_open(w, dir, detail, sizeof detail), 0);
  pthread_mutex_init(&w->lock, NULL);
  return w;
}

static void close_wallet(qp__wallet_t *w, const char *dir) {
  qp__wallet_store_close(w);
  pthread_mutex_destroy(&w->lock);
  qp_free(w);
  qp_test_rmdir(dir);
}

static void test_store_sessions(void **state) {
  (void)state;
  char dir[256];
  qp__wallet_t *w = open_wallet(dir, sizeof dir);
  const char *alice = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", *bob = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
  uint8_t h[3][QP_WALLET_HASH_SIZE];
  for (int i = 0; i < 3; i++) {
    char t[QP_WALLET_TOKEN_TEXT];
    qp__wallet_token_new(t);
    qp__wallet_token_hash(t, h[i]);
    qp__wallet_session_t s;
    memset(&s, 0, sizeof s);
    snprintf(s.user_id, sizeof s.user_id, "%s", i < 2 ? alice : bob);
    s.expires_s = 2000000000;
    assert_int_equal(qp__wallet_session_put(w, h[i], &s, true), 0);
  }
  qp__wallet_session_t got;
  uint8_t unknown[QP_WALLET_HASH_SIZE] = {0};
  assert_int_equal(qp__wallet_session_get(w, unknown, &got), QP_ENOTFOUND);
  uint32_t n = 0;
  assert_int_equal(qp__wallet_sessions_revoke(w, alice, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(qp__wallet_sessions_revoke(w, alice, &n), 0);
  assert_int_equal(n, 0); /* revoked ones are not counted twice */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(qp__wallet_session_get(w, h[i], &got), 0);
    assert_int_equal(got.revoked, i < 2);
  }
  /* a stale update (read before the revoke) cannot bring a revoked session back */
  got.revoked = false;
  assert_int_equal(qp__wallet_session_get(w, h[2], &got), 0);
  qp__wallet_session_t stale = got;
  got.revoked = true;
  assert_int_equal(qp__wallet_session_put(w, h[2], &got, false), 0);
  assert_int_equal(qp__wallet_session_put(w, h[2], &stale, false), QP_ENOTFOUND);
  assert_int_equal(qp__wallet_session_put(w, h[2], &stale, true), QP_EEXISTS);
  assert_int_equal(qp__wallet_session_get(w, h[2], &got), 0);
  assert_true(got.revoked);
  assert_int_equal(qp__wallet_session_put(w, unknown, &stale, false), QP_ENOTFOUND);
  /* the sweep deletes revoked and expired sessions, keeps live ones */
  uint8_t live[QP_WALLET_HASH_SIZE] = {7}, old[QP_WALLET_HASH_SIZE] = {8};
  stale.revoked = false;
  stale.expires_s = 2000000000;
  assert_int_equal(qp__wallet_session_put(w, live, &stale, true), 0);
  stale.expires_s = 100;
  assert_int_equal(qp__wallet_session_put(w, old, &stale, true), 0);
  uint32_t deleted = 0;
  assert_int_equal(qp__wallet_sessions_sweep(w, 1000, &deleted), 0);
  assert_int_equal(deleted, 4); /* three revoked, one expired */
  assert_int_equal(qp__wallet_session_get(w, live, &got), 0);
  assert_int_equal(qp__wallet_session_get(w, old, &got), QP_ENOTFOUND);
  assert_int_equal(qp__wallet_session_get(w, h[0], &got), QP_ENOTFOUND);
  qp_u128 acc = 0;
  char uid[QP_WALLET_ID_HEX + 1];
  assert_int_equal(qp__wallet_account_of(w, alice, &acc), QP_ENOTFOUND);
  assert_int_equal(qp__wallet_account_put(w, alice, 77), 0);
  assert_int_equal(qp__wallet_account_put(w, alice, 78), QP_EEXISTS);
  assert_int_equal(qp__wallet_account_of(w, alice, &acc), 0);
  assert_true(acc == 77);
  assert_int_equal(qp__wallet_user_of(w, 77, uid), 0);
  assert_string_equal(uid, alice);
  assert_int_equal(qp__wallet_user_of(w, 78, uid), QP_ENOTFOUND);
  close_wallet(w, dir);
}

static void test_pending_signups(void **state) {
  (void)state;
  char dir[256];
  qp__wallet_t *w = open_wallet(dir, sizeof dir);
  qp__wallet_signup_t s, out;
  memset(&s, 0, sizeof s);
  snprintf(s.ceremony, sizeof s.ceremony, "%s", "c1");
  snprintf(s.handle, sizeof s.handle, "%s", "alice");
  assert_int_equal(qp__wallet_signup_add(w, &s), 0);
  assert_int_equal(qp__wallet_signup_take(w, "c2", &out), QP_ENOTFOUND);
  assert_int_equal(qp__wallet_signup_take(w, "c1", &out), 0);
  assert_string_equal(out.handle, "alice");
  assert_int_equal(qp__wallet_signup_take(w, "c1", &out), QP_ENOTFOUND); /* once */
  assert_int_equal(qp__wallet_signup_add(w, &s), 0);
  for (uint32_t i = 0; i < QP_WALLET_PENDING_MAX; i++) w->signups[i].expires_s = 1; /* old */
  assert_int_equal(qp__wallet_signup_take(w, "c1", &out), QP_ENOTFOUND);
  for (uint32_t i = 0; i < QP_WALLET_PENDING_MAX; i++) assert_int_equal(
      qp__wallet_signup_add(w, &s), 0);
  assert_int_equal(qp__wallet_signup_add(w, &s), QP_ELIMIT);
  close_wallet(w, dir);
}

static void test_bills(void **state) {
  (void)state;
  qp_transfer_t hold = {0}, post = {0}, plain = {0};
  hold.id = 10;
  hold.debit_account_id = 1;
  hold.credit_account_id = 2;
  hold.amount = 500;
  hold.flags = QP_TRANSFER_PENDING;
  hold.user_data_128 = 99;
  hold.timestamp = 5000000000ull;
  post.id = 11;
  post.pending_id = 10;
  post.flags = QP_TRANSFER_POST_PENDING_TRANSFER;
  plain.id = 12;
  plain.debit_account_id = 3;
  plain.credit_account_id = 1;
  plain.amount = 7;
  qp__wallet_bill_t b;
  assert_true(qp__wallet_bill_of(&hold, QP_PENDING_PENDING, 1, &b));
  assert_true(b.out && b.pending && b.counterparty == 2 && b.intent == 99);
  assert_string_equal(qp__wallet_bill_status(&b), "pending");
  assert_true(qp__wallet_bill_of(&hold, QP_PENDING_POSTED, 2, &b));
  assert_false(b.out);
  assert_string_equal(qp__wallet_bill_status(&b), "posted");
  assert_true(qp__wallet_bill_of(&hold, QP_PENDING_EXPIRED, 1, &b));
  assert_string_equal(qp__wallet_bill_status(&b), "voided");
  assert_true(qp__wallet_bill_of(&hold, QP_PENDING_VOIDED, 1, &b));
  assert_string_equal(qp__wallet_bill_status(&b), "voided");
  assert_false(qp__wallet_bill_of(&post, QP_PENDING_NONE, 1, &b)); /* part of the hold's */
  assert_false(qp__wallet_bill_of(&hold, QP_PENDING_PENDING, 3, &b)); /* not this account's */
  assert_true(qp__wallet_bill_of(&plain, QP_PENDING_NONE, 1, &b));
  assert_true(!b.out && !b.pending && b.intent == 0 && b.counterparty == 3);
  assert_string_equal(qp__wallet_bill_status(&b), "posted");
}

static void test_month_amount_match(void **state) {
  (void)state;
  uint64_t lo = 0, hi = 0;
  assert_int_equal(qp__wallet_month_range("2026-12", &lo, &hi), 0);
  assert_true(lo == 1796083200ull * 1000000000ull);
  assert_true(hi == 1798761600ull * 1000000000ull - 1);
  const char *bad[] = {"2026-13", "2026-00", "2026-1", "26-12", "2026/12", "2026-12x", "", NULL};
  for (int i = 0; bad[i] != NULL; i++)
    assert_int_equal(qp__wallet_month_range(bad[i], &lo, &hi), QP_EINVAL);
  char t[64];
  qp__wallet_amount_major(1234, 2, t, sizeof t);
  assert_string_equal(t, "12.34");
  qp__wallet_amount_major(5, 2, t, sizeof t);
  assert_string_equal(t, "0.05");
  qp__wallet_amount_major(100, 0, t, sizeof t);
  assert_string_equal(t, "100");
  assert_true(qp__wallet_bill_match("BOB", "Bob", "bob", 1, 2));
  assert_true(qp__wallet_bill_match("ob", "Bob", NULL, 1, 2));
  assert_true(qp__wallet_bill_match("12.34", "Bob", "bob", 1234, 2));
  assert_true(qp__wallet_bill_match("1234", "Bob", "bob", 1234, 2));
  assert_false(qp__wallet_bill_match("123", "Bob", "bob", 1234, 2));
  assert_false(qp__wallet_bill_match("alice", "Bob", "bob", 1234, 2));
  assert_true(qp__wallet_bill_match(NULL, "Bob", "bob", 1234, 2));
}

static void test_bills_query(void **state) {
  (void)state;
  qp__wallet_bills_query_t q;
  qp_account_filter_t f;
  qp_http_reply_t r = {0};
  uint32_t limit = 0;
  memset(&q, 0, sizeof q);
  memset(&f, 0, sizeof f);
  assert_true(qp__wallet_bills_arg(&q, "month", "2026-12"));
  assert_true(qp__wallet_bills_arg(&q, "limit", "5"));
  assert_true(qp__wallet_bills_arg(&q, "cursor", "1796083200000000010"));
  assert_true(qp__wallet_bills_filter(&q, &f, &limit, &r));
  assert_int_equal(limit, 5);
  assert_true(f.timestamp_max == 1796083200000000009ull && f.flags == QP_FILTER_REVERSED);
  memset(&q, 0, sizeof q);
  assert_false(qp__wallet_bills_arg(&q, "sort", "x"));
  assert_false(qp__wallet_bills_filter(&q, &f, &limit, &r));
  assert_int_equal(r.status, 400);
  assert_non_null(strstr(r.body, "\"sort\""));
  qp_free(r.body);
  r.body = NULL;
  memset(&q, 0, sizeof q);
  qp__wallet_bills_arg(&q, "limit", "201");
  assert_false(qp__wallet_bills_filter(&q, &f, &limit, &r));
  assert_non_null(strstr(r.body, "\"limit\""));
  qp_free(r.body);
}

static void test_settings(void **state) {
  (void)state;
  qp__wallet_settings_t s;
  char d[256];
  assert_int_equal(qp__wallet_settings_parse(NULL, &s, d, sizeof d), 0);
  assert_int_equal(s.ledger, 840);
  assert_string_equal(s.currency, "USD");
  assert_int_equal(s.session_ttl_s, 43200);
  assert_true(s.treasury_account_id == 1);
  json_t *j = json_loads("{\"ledger\": 978, \"currency\": \"EUR\", \"account_code\": 7, "
                         "\"session_ttl_s\": 600, \"paycode_unlock_s\": 30, "
                         "\"treasury_account_id\": \"42\"}", 0, NULL);
  assert_int_equal(qp__wallet_settings_parse(j, &s, d, sizeof d), 0);
  assert_true(s.ledger == 978 && s.account_code == 7 && s.session_ttl_s == 600 &&
              s.paycode_unlock_s == 30 && s.treasury_account_id == 42);
  json_decref(j);
  const char *bad[][2] = {{"{\"colour\": 1}", "modules.wallet.colour"},
                          {"{\"ledger\": 0}", "modules.wallet.ledger"},
                          {"{\"currency\": \"usd\"}", "modules.wallet.currency"},
                          {"{\"session_ttl_s\": 0}", "modules.wallet.session_ttl_s"},
                          {"{\"treasury_account_id\": 1}", "modules.wallet.treasury_account_id"},
                          {"[]", "modules.wallet"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    j = json_loads(bad[i][0], JSON_DECODE_ANY, NULL);
    assert_int_equal(qp__wallet_settings_parse(j, &s, d, sizeof d), QP_EINVAL);
    assert_non_null(strstr(d, bad[i][1]));
    json_decref(j);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_token_and_hash),    cmocka_unit_test(test_cookie),
      cmocka_unit_test(test_session_live),      cmocka_unit_test(test_store_sessions),
      cmocka_unit_test(test_pending_signups),   cmocka_unit_test(test_bills),
      cmocka_unit_test(test_month_amount_match), cmocka_unit_test(test_bills_query),
      cmocka_unit_test(test_settings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
