/*
 * test_apps_time.c - the block's time reaches apps through real execution
 * and a real block store: a credit line live before its expiry and not at
 * it, a voucher not mature one second before its maturity and settled at
 * it (qp_chain_execute_block's time_s is the apps' view.time_s), and a
 * query sees the committed head's time (qp_chain_state_time).
 */
#include "apps/apps.h"
#include "chain/exec.h"
#include "chain/keyfile.h"
#include "chain/state.h"
#include "chain/store.h"
#include "chain_test.h"

typedef struct env {
  char dir[256];
  qp_chain_genesis_t g;
  qp_chain_store_t *store;
  qp_sign_key_t *keys[4]; /* 0 registrar, 1 core, 2 supplier, 3 funder */
  char hex[4][2 * QP_SIGN_PUBLIC_MAX + 1];
  uint64_t nonces[4];
} env_t;

static void env_open(env_t *e) {
  memset(e, 0, sizeof *e);
  qp_test_tmpdir(e->dir, sizeof e->dir);
  test_genesis(QP_SUITE_ED25519, &e->g);
  for (int i = 0; i < 4; i++) {
    e->keys[i] = test_key(QP_SUITE_ED25519, (uint8_t)(20 + i));
    uint8_t pub[QP_SIGN_PUBLIC_MAX];
    size_t len = 0;
    qp_sign_public(e->keys[i], pub, &len);
    qp_chain_hex(e->hex[i], pub, len);
    if (i == 0) {
      memcpy(e->g.registrar, pub, len);
      e->g.registrar_len = (uint32_t)len;
    }
  }
  char *text = NULL, detail[256] = "";
  assert_int_equal(qp_chain_genesis_format(&e->g, &text), 0);
  assert_int_equal(qp_chain_genesis_parse(text, strlen(text), &e->g, detail, sizeof detail), 0);
  qp_free(text);
  if (qp_chain_store_open(e->dir, &e->g, 64u << 20, &e->store, detail, sizeof detail) != 0)
    fail_msg("open: %s", detail);
}

static void env_close(env_t *e) {
  qp_chain_store_close(e->store);
  for (int i = 0; i < 4; i++) qp_sign_key_free(e->keys[i]);
  qp_test_rmdir(e->dir);
}

/* One block at time_s of one transaction by key k; its receipt's code. */
static void block(env_t *e, uint64_t time_s, int k, const char *app, const char *method,
                  const char *args, const char *want) {
  size_t len = 0;
  uint8_t *tx = test_tx(e->keys[k], e->g.hash, ++e->nonces[k], app, method, args, &len);
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
                                          head.height + 1, time_s, &x), 0);
  assert_int_equal(x.time_s, time_s);
  qp_chain_block_in_t in = {.height = head.height + 1, .header = (const uint8_t *)"h",
                            .header_len = 1, .body = (const uint8_t *)body.data,
                            .body_len = body.len};
  qp_hash256(in.hash, &in.height, sizeof in.height);
  memcpy(in.parent_hash, head.hash, QP_HASH_SIZE);
  assert_int_equal(qp_chain_store_commit(e->store, &in, &x, NULL, 0), 0);
  json_t *r = json_loads(((qp_chain_receipt_t *)qp_array_at(&x.receipts, 0))->json, 0, NULL);
  const char *code = json_string_value(json_object_get(r, "code"));
  if (strcmp(code, want) != 0) fail_msg("%s %s at %llu: %s, want %s", app, method,
                                        (unsigned long long)time_s, code, want);
  json_decref(r);
  qp_chain_exec_deinit(&x);
  qp_buf_free(&body);
  qp_free(tx);
}

static void test_block_time_reaches_apps(void **state) {
  (void)state;
  env_t e;
  char a[512];
  env_open(&e);
  static const char *const roles[] = {NULL, "core", "supplier", "funder"};
  for (int i = 1; i < 4; i++) {
    snprintf(a, sizeof a, "{\"key\":\"%s\",\"name\":\"p%d\",\"role\":\"%s\"}", e.hex[i], i,
             roles[i]);
    block(&e, 1000, 0, "registry", "register", a, "ok");
  }
  block(&e, 1000, 1, "registry", "register", a, "not_registrar");
  snprintf(a, sizeof a, "{\"core\":\"%s\",\"amount\":\"900\",\"ledger\":1,\"expiry\":2000}",
           e.hex[1]);
  block(&e, 1000, 3, "registry", "grant_credit", a, "ok");
  snprintf(a, sizeof a, "{\"to\":\"%s\",\"amount\":\"100\",\"ledger\":1,\"maturity\":3000,"
           "\"reference\":\"R\"}", e.hex[2]);
  block(&e, 1999, 1, "receivable", "issue", a, "ok");
  block(&e, 2000, 1, "receivable", "issue", a, "credit_line_exceeded"); /* expired */
  block(&e, 2999, 2, "receivable", "settle", "{\"voucher\":\"v1\"}", "not_mature");
  block(&e, 3000, 2, "receivable", "settle", "{\"voucher\":\"v1\"}", "ok");
  qp_chain_state_t *st = qp_chain_store_state(e.store);
  assert_int_equal(qp_chain_state_time(st), 3000);
  json_t *result = NULL;
  char code[QP_CHAIN_CODE_MAX + 1], detail[256];
  snprintf(a, sizeof a, "{\"key\":\"%s\"}", e.hex[1]);
  assert_int_equal(qp_chain_app_query(&qp_apps_registry, st, "participant", a, strlen(a),
                                      &result, code, detail, sizeof detail), 0);
  json_t *line = json_array_get(json_object_get(result, "credit_lines"), 0);
  assert_true(json_is_false(json_object_get(line, "live"))); /* 3000 >= expiry 2000 */
  json_decref(result);
  const char *q = "{\"status\":\"pending\"}";
  assert_int_equal(qp_chain_app_query(&qp_apps_receivable, st, "settlements", q, strlen(q),
                                      &result, code, detail, sizeof detail), 0);
  json_t *rec = json_array_get(json_object_get(result, "settlements"), 0);
  assert_string_equal(json_string_value(json_object_get(rec, "settlement")), "mat-v1-1");
  json_decref(result);
  env_close(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_block_time_reaches_apps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
