/*
 * test_gov.c - the gov app through real execution and a real block store:
 * who may propose and vote, every refusal code, a proposal passing exactly
 * at 2f+1 votes of the validators in force (and not before), deployment
 * rules (per key and by default), validator removal and addition making new
 * epochs from the next height (the block says it changed the set), votes of
 * a removed validator no longer counting, a change that cannot apply when it
 * passes being rejected with its reason, and the set record read back.
 */
#include "chain/exec.h"
#include "chain/gov.h"
#include "chain/store.h"
#include "chain/valset.h"
#include "chain_test.h"

typedef struct env {
  char dir[256];
  qp_chain_genesis_t g;
  qp_chain_store_t *store;
  qp_sign_key_t *keys[6]; /* 0..3 genesis validators, 4 a newcomer, 5 an outsider */
  uint64_t nonces[6];
  bool reconfig;          /* the last block changed the set */
} env_t;

static void env_open(env_t *e) {
  memset(e, 0, sizeof *e);
  qp_test_tmpdir(e->dir, sizeof e->dir);
  test_genesis(QP_SUITE_ED25519, &e->g);
  for (int i = 0; i < 6; i++) e->keys[i] = test_key(QP_SUITE_ED25519, (uint8_t)(i + 1));
  char detail[256] = "";
  if (qp_chain_store_open(e->dir, &e->g, 64u << 20, &e->store, detail, sizeof detail) != 0)
    fail_msg("open: %s", detail);
}

static void env_close(env_t *e) {
  qp_chain_store_close(e->store);
  for (int i = 0; i < 6; i++) qp_sign_key_free(e->keys[i]);
  qp_test_rmdir(e->dir);
}

/* One block of one gov transaction by key k; returns its receipt (the
 * caller's, json_decref). */
static json_t *gov_tx(env_t *e, int k, const char *method, const char *args) {
  size_t len = 0;
  uint8_t *tx = test_tx(e->keys[k], e->g.hash, ++e->nonces[k], "gov", method, args, &len);
  qp_buf_t body = {.max = 1 << 20};
  assert_int_equal(qp_chain_txs_begin(&body), 0);
  assert_int_equal(qp_chain_txs_add(&body, tx, len), 0);
  qp_chain_tx_t txs[1];
  size_t count = 0;
  assert_int_equal(qp_chain_txs_decode(QP_SUITE_ED25519, e->g.hash, (const uint8_t *)body.data,
                                       body.len, 1 << 20, 65536, txs, 1, &count, NULL, 0), 0);
  qp_chain_head_t head;
  qp_chain_store_head(e->store, &head);
  qp_chain_exec_t x;
  assert_int_equal(qp_chain_execute_block(qp_chain_store_state(e->store), NULL, txs, 1,
                                          head.height + 1, 0, &x), 0);
  qp_chain_block_in_t in = {.height = head.height + 1, .header = (const uint8_t *)"h",
                            .header_len = 1, .body = (const uint8_t *)body.data,
                            .body_len = body.len};
  qp_hash256(in.hash, &in.height, sizeof in.height);
  memcpy(in.parent_hash, head.hash, QP_HASH_SIZE);
  assert_int_equal(qp_chain_store_commit(e->store, &in, &x, NULL, 0), 0);
  e->reconfig = x.reconfig;
  json_t *r = json_loads(((qp_chain_receipt_t *)qp_array_at(&x.receipts, 0))->json, 0, NULL);
  qp_chain_exec_deinit(&x);
  qp_buf_free(&body);
  qp_free(tx);
  return r;
}

static void expect(json_t *r, const char *code, const char *status) {
  const char *c = json_string_value(json_object_get(r, "code"));
  const char *s = json_string_value(json_object_get(json_object_get(r, "result"), "status"));
  char *text = json_dumps(r, 0);
  if (c == NULL || strcmp(c, code) != 0 || (status && (s == NULL || strcmp(s, status) != 0)))
    fail_msg("want %s/%s, got %s", code, status ? status : "-", text);
  free(text);
  json_decref(r);
}

static json_t *query(env_t *e, const char *method, const char *args) {
  json_t *result = NULL;
  char code[QP_CHAIN_CODE_MAX + 1], detail[256];
  int rc = qp_chain_app_query(&qp_chain_app_gov, qp_chain_store_state(e->store), method, args,
                              strlen(args), &result, code, detail, sizeof detail);
  if (rc != 0) fail_msg("query %s: %s %s", method, code, detail);
  return result;
}

static void pub_hex(env_t *e, int k, char out[2 * QP_SIGN_PUBLIC_MAX + 1]) {
  uint8_t pub[QP_SIGN_PUBLIC_MAX];
  size_t len = 0;
  qp_sign_public(e->keys[k], pub, &len);
  qp_hex(out, pub, len);
}

static bool may_deploy(env_t *e, int k) {
  char hex[2 * QP_SIGN_PUBLIC_MAX + 1], args[200];
  pub_hex(e, k, hex);
  snprintf(args, sizeof args, "{\"key\":\"%s\"}", hex);
  json_t *r = query(e, "may_deploy", args);
  bool allowed = json_is_true(json_object_get(r, "allowed"));
  json_decref(r);
  return allowed;
}

static uint32_t set_size(env_t *e, uint32_t *epoch) {
  json_t *r = query(e, "validators", "{}");
  *epoch = (uint32_t)json_integer_value(json_object_get(r, "epoch"));
  uint32_t n = (uint32_t)json_array_size(json_object_get(r, "validators"));
  json_decref(r);
  return n;
}

static void test_refusals(void **state) {
  (void)state;
  env_t e;
  env_open(&e);
  char hex[2 * QP_SIGN_PUBLIC_MAX + 1], args[300];
  pub_hex(&e, 5, hex);
  snprintf(args, sizeof args, "{\"action\":\"forbid_deploy\",\"key\":\"%s\"}", hex);
  expect(gov_tx(&e, 5, "propose", args), "not_validator", NULL); /* an outsider */
  expect(gov_tx(&e, 0, "propose", "{\"action\":\"nothing\"}"), "bad_args", NULL);
  expect(gov_tx(&e, 0, "propose", "{\"action\":\"forbid_deploy\",\"key\":\"zz\"}"), "bad_args",
         NULL);
  expect(gov_tx(&e, 0, "propose", "{\"action\":\"deploy_default\",\"allow\":1}"), "bad_args",
         NULL);
  expect(gov_tx(&e, 0, "propose",
                "{\"action\":\"add_validator\",\"public_key\":\"00\",\"name\":\"x\"}"),
         "bad_args", NULL);
  expect(gov_tx(&e, 0, "vote", "{\"proposal\":7}"), "unknown_proposal", NULL);
  expect(gov_tx(&e, 0, "vote", "{\"proposal\":\"1\"}"), "bad_args", NULL);
  expect(gov_tx(&e, 0, "enact", "{}"), "unknown_method", NULL);
  uint32_t epoch = 9;
  assert_int_equal(set_size(&e, &epoch), 4);
  assert_int_equal(epoch, 0);
  env_close(&e);
}

static void test_deploy_rules(void **state) {
  (void)state;
  env_t e;
  env_open(&e);
  char hex[2 * QP_SIGN_PUBLIC_MAX + 1], args[300];
  pub_hex(&e, 5, hex);
  assert_true(may_deploy(&e, 5)); /* allowed until decided otherwise */
  snprintf(args, sizeof args, "{\"action\":\"forbid_deploy\",\"key\":\"%s\"}", hex);
  expect(gov_tx(&e, 0, "propose", args), "ok", "open"); /* 1 of 3 */
  expect(gov_tx(&e, 1, "vote", "{\"proposal\":1}"), "ok", "open");
  expect(gov_tx(&e, 1, "vote", "{\"proposal\":1}"), "already_voted", NULL);
  assert_true(may_deploy(&e, 5));
  expect(gov_tx(&e, 5, "vote", "{\"proposal\":1}"), "not_validator", NULL);
  expect(gov_tx(&e, 3, "vote", "{\"proposal\":1}"), "ok", "passed"); /* 3 of 4 */
  assert_false(e.reconfig);
  assert_false(may_deploy(&e, 5));
  assert_true(may_deploy(&e, 4));
  expect(gov_tx(&e, 2, "vote", "{\"proposal\":1}"), "decided", NULL);
  /* Closed by default, one key opened. */
  expect(gov_tx(&e, 1, "propose", "{\"action\":\"deploy_default\",\"allow\":false}"), "ok",
         "open");
  expect(gov_tx(&e, 2, "vote", "{\"proposal\":2}"), "ok", "open");
  expect(gov_tx(&e, 0, "vote", "{\"proposal\":2}"), "ok", "passed");
  assert_false(may_deploy(&e, 4));
  pub_hex(&e, 4, hex);
  snprintf(args, sizeof args, "{\"action\":\"allow_deploy\",\"key\":\"%s\"}", hex);
  expect(gov_tx(&e, 0, "propose", args), "ok", "open");
  expect(gov_tx(&e, 1, "vote", "{\"proposal\":3}"), "ok", "open");
  expect(gov_tx(&e, 2, "vote", "{\"proposal\":3}"), "ok", "passed");
  assert_true(may_deploy(&e, 4));
  json_t *p = query(&e, "proposals", "{}");
  assert_int_equal(json_array_size(json_object_get(p, "proposals")), 3);
  json_decref(p);
  env_close(&e);
}

static void test_validator_changes(void **state) {
  (void)state;
  env_t e;
  env_open(&e);
  char hex[2 * QP_SIGN_PUBLIC_MAX + 1], args[400];
  pub_hex(&e, 3, hex);
  snprintf(args, sizeof args, "{\"action\":\"remove_validator\",\"public_key\":\"%s\"}", hex);
  expect(gov_tx(&e, 0, "propose", args), "ok", "open");
  expect(gov_tx(&e, 1, "vote", "{\"proposal\":1}"), "ok", "open");
  assert_false(e.reconfig);
  expect(gov_tx(&e, 2, "vote", "{\"proposal\":1}"), "ok", "passed");
  assert_true(e.reconfig);
  qp_chain_head_t head;
  qp_chain_store_head(e.store, &head);
  uint32_t epoch = 0;
  assert_int_equal(set_size(&e, &epoch), 3);
  assert_int_equal(epoch, 1);
  json_t *v = query(&e, "validators", "{}");
  assert_int_equal(json_integer_value(json_object_get(v, "since")), head.height + 1);
  json_decref(v);
  /* 3 validators: f = 0, all three must agree; the removed one is no validator. */
  pub_hex(&e, 4, hex);
  snprintf(args, sizeof args,
           "{\"action\":\"add_validator\",\"public_key\":\"%s\",\"name\":\"node4\","
           "\"address\":\"127.0.0.1:7109\"}", hex);
  expect(gov_tx(&e, 3, "propose", args), "not_validator", NULL);
  expect(gov_tx(&e, 1, "propose", args), "ok", "open");
  expect(gov_tx(&e, 0, "vote", "{\"proposal\":2}"), "ok", "open");
  expect(gov_tx(&e, 2, "vote", "{\"proposal\":2}"), "ok", "passed");
  assert_true(e.reconfig);
  assert_int_equal(set_size(&e, &epoch), 4);
  assert_int_equal(epoch, 2);
  /* Adding a validator in force again: rejected when it passes, set unchanged. */
  pub_hex(&e, 0, hex);
  snprintf(args, sizeof args,
           "{\"action\":\"add_validator\",\"public_key\":\"%s\",\"name\":\"again\","
           "\"address\":\"127.0.0.1:7111\"}", hex);
  expect(gov_tx(&e, 4, "propose", args), "ok", "open"); /* the newcomer votes now */
  expect(gov_tx(&e, 0, "vote", "{\"proposal\":3}"), "ok", "open");
  json_t *r = gov_tx(&e, 1, "vote", "{\"proposal\":3}");
  assert_string_equal(json_string_value(json_object_get(json_object_get(r, "result"), "reason")),
                      "the key is a validator already");
  expect(r, "ok", "rejected");
  assert_false(e.reconfig);
  assert_int_equal(set_size(&e, &epoch), 4);
  assert_int_equal(epoch, 2);
  env_close(&e);
}

static void test_valset_record(void **state) {
  (void)state;
  qp_chain_genesis_t g;
  test_genesis(QP_SUITE_ED25519, &g);
  qp_chain_valset_t s, back;
  qp_chain_valset_genesis(&g, &s);
  s.epoch = 3;
  s.since = 77;
  snprintf(s.addresses[2], sizeof s.addresses[2], "10.0.0.2:7101");
  uint8_t rec[QP_CHAIN_VALSET_BYTES_MAX];
  size_t n = qp_chain_valset_encode(&s, rec);
  assert_int_equal(qp_chain_valset_decode(QP_SUITE_ED25519, rec, n, &back), 0);
  assert_memory_equal(&s, &back, sizeof s);
  for (size_t cut = 0; cut < n; cut++) /* every truncation */
    assert_int_equal(qp_chain_valset_decode(QP_SUITE_ED25519, rec, cut, &back), QP_EPARSE);
  rec[n] = 0; /* a trailing byte */
  assert_int_equal(qp_chain_valset_decode(QP_SUITE_ED25519, rec, n + 1, &back), QP_EPARSE);
  memcpy(s.validators[1].public_key, s.validators[0].public_key, 32); /* a key twice */
  n = qp_chain_valset_encode(&s, rec);
  assert_int_equal(qp_chain_valset_decode(QP_SUITE_ED25519, rec, n, &back), QP_EPARSE);
  /* Epoch configurations: their own statement domain from epoch 1. */
  qp_chain_valset_genesis(&g, &s);
  qp_chain_genesis_t c0, c1;
  uint8_t base[QP_HASH_SIZE] = {7};
  assert_int_equal(qp_chain_epoch_config(&g, &s, 5, 9, base, &c0), 0);
  assert_memory_equal(c0.hash, g.hash, QP_HASH_SIZE);
  s.epoch = 1;
  assert_int_equal(qp_chain_epoch_config(&g, &s, 5, 9, base, &c1), 0);
  assert_memory_not_equal(c1.hash, g.hash, QP_HASH_SIZE);
  assert_int_equal(c1.base_height, 9);
}

int main(void) {
  assert_int_equal(qp_crypto_init(), 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_deploy_rules),
      cmocka_unit_test(test_validator_changes),
      cmocka_unit_test(test_valset_record),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
