/*
 * test_genesis.c - genesis.json: the writer and the strict parser round
 * trip; the hash covers chain id, suite, keys in order and params (names
 * are labels); every malformed file is refused naming its field; load and
 * find; params.block_gas_max is optional (absent: the default, and the
 * same hash as before it existed), and covered by the hash when set.
 */
#include "base/bytes.h"
#include "chain/keyfile.h"
#include "chain_test.h"

static void format_parse(const qp_chain_genesis_t *in, qp_chain_genesis_t *out) {
  char *text = NULL;
  assert_int_equal(qp_chain_genesis_format(in, &text), 0);
  char detail[256] = "";
  int rc = qp_chain_genesis_parse(text, strlen(text), out, detail, sizeof detail);
  if (rc != 0) fail_msg("%s", detail);
  qp_free(text);
}

static void test_round_trip(void **state) {
  (void)state;
  qp_suite_t suites[] = {QP_SUITE_ED25519, QP_SUITE_SM2};
  for (size_t s = 0; s < 2; s++) {
    qp_chain_genesis_t g, again;
    test_genesis(suites[s], &g);
    format_parse(&g, &again);
    assert_memory_equal(&g, &again, sizeof g);
    assert_int_equal(qp_chain_genesis_find(&g, g.validators[2].public_key,
                                           g.validators[2].public_key_len), 2);
    assert_int_equal(qp_chain_genesis_find(&g, g.validators[2].public_key, 3), -1);
    assert_int_equal(qp_chain_quorum(g.validators_count), 3);
  }
}

static void expect_hash(qp_chain_genesis_t *g, const uint8_t *base, bool same) {
  qp_chain_genesis_t again;
  format_parse(g, &again);
  if (same)
    assert_memory_equal(again.hash, base, QP_HASH_SIZE);
  else
    assert_memory_not_equal(again.hash, base, QP_HASH_SIZE);
}

static void test_hash_covers(void **state) {
  (void)state;
  qp_chain_genesis_t g, m;
  test_genesis(QP_SUITE_ED25519, &g);
  m = g;
  snprintf(m.chain_id, sizeof m.chain_id, "test2");
  expect_hash(&m, g.hash, false);
  m = g;
  m.params.tx_bytes_max--;
  expect_hash(&m, g.hash, false);
  m = g;
  m.params.view_timeout_ms++;
  expect_hash(&m, g.hash, false);
  m = g; /* the order of the validators */
  m.validators[0] = g.validators[1];
  m.validators[1] = g.validators[0];
  expect_hash(&m, g.hash, false);
  m = g;
  m.validators_count = 3;
  expect_hash(&m, g.hash, false);
  m = g; /* a label only */
  snprintf(m.validators[0].name, sizeof m.validators[0].name, "renamed");
  expect_hash(&m, g.hash, true);
  qp_chain_genesis_t sm2;
  test_genesis(QP_SUITE_SM2, &sm2);
  assert_memory_not_equal(sm2.hash, g.hash, QP_HASH_SIZE);
  m = g; /* a registrar is covered, and round-trips */
  m.registrar_len = g.validators[1].public_key_len;
  memcpy(m.registrar, g.validators[1].public_key, m.registrar_len);
  expect_hash(&m, g.hash, false);
  qp_chain_genesis_t again, other = m;
  format_parse(&m, &again);
  assert_int_equal(again.registrar_len, m.registrar_len);
  assert_memory_equal(again.registrar, m.registrar, m.registrar_len);
  memcpy(other.registrar, g.validators[2].public_key, other.registrar_len);
  expect_hash(&other, again.hash, false);
}

#define KEY0 "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"
#define KEY1 "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
#define PARAMS                                                                               \
  "\"params\":{\"block_txs_max\":4096,\"block_bytes_max\":4194304,\"tx_bytes_max\":65536," \
  "\"view_timeout_ms\":1000}"
#define VALS "\"validators\":[{\"name\":\"a\",\"public_key\":\"" KEY0 "\"}]"

static void expect_refused(const char *text, const char *needle) {
  qp_chain_genesis_t g;
  char detail[256] = "";
  int rc = qp_chain_genesis_parse(text, strlen(text), &g, detail, sizeof detail);
  if (rc != QP_EPARSE) fail_msg("accepted (%d): %s", rc, text);
  if (strstr(detail, needle) == NULL) fail_msg("detail \"%s\" lacks \"%s\"", detail, needle);
}

static void test_refusals(void **state) {
  (void)state;
  char ok[1024];
  snprintf(ok, sizeof ok, "{\"chain_id\":\"c\",\"suite\":\"ed25519\"," VALS "," PARAMS "}");
  qp_chain_genesis_t g;
  assert_int_equal(qp_chain_genesis_parse(ok, strlen(ok), &g, NULL, 0), 0);
  assert_int_equal(g.registrar_len, 0); /* optional: a file without one stays valid */
  snprintf(ok, sizeof ok,
           "{\"chain_id\":\"c\",\"suite\":\"ed25519\"," VALS "," PARAMS ",\"registrar\":\"" KEY1
           "\"}");
  assert_int_equal(qp_chain_genesis_parse(ok, strlen(ok), &g, NULL, 0), 0);
  assert_int_equal(g.registrar_len, 32);
  expect_refused("{\"chain_id\":\"c\",\"suite\":\"ed25519\"," VALS "," PARAMS
                 ",\"registrar\":\"abcd\"}",
                 "registrar must be 64 hex digits");
  expect_refused("{\"chain_id\":\"c\",\"suite\":\"ed25519\"," VALS "," PARAMS ",\"registrar\":7}",
                 "registrar must be");
  expect_refused("{", "not valid JSON");
  expect_refused("[]", "top level");
  expect_refused("{\"chain_id\":\"c\",\"chain_id\":\"c\"}", "not valid JSON");
  expect_refused("{\"suite\":\"ed25519\"," VALS "," PARAMS "}", "chain_id is missing");
  expect_refused("{\"chain_id\":\"c\",\"x\":1,\"suite\":\"ed25519\"," VALS "," PARAMS "}",
                 "unknown key x");
  expect_refused("{\"chain_id\":\"c d\",\"suite\":\"ed25519\"," VALS "," PARAMS "}", "chain_id");
  expect_refused("{\"chain_id\":\"c\",\"suite\":\"rsa\"," VALS "," PARAMS "}", "suite");
  expect_refused("{\"chain_id\":\"c\",\"suite\":\"sm2\"," VALS "," PARAMS "}",
                 "validators[0].public_key must be 130 hex");
  expect_refused("{\"chain_id\":\"c\",\"suite\":\"ed25519\",\"validators\":[]," PARAMS "}",
                 "validators must be");
  expect_refused("{\"chain_id\":\"c\",\"suite\":\"ed25519\",\"validators\":[{\"name\":\"a\","
                 "\"public_key\":\"" KEY0 "\",\"x\":1}]," PARAMS "}",
                 "unknown key validators[0].x");
  expect_refused("{\"chain_id\":\"c\",\"suite\":\"ed25519\",\"validators\":[{\"name\":\"a\","
                 "\"public_key\":\"zz" KEY0 "\"}]," PARAMS "}", "validators[0].public_key");
  expect_refused("{\"chain_id\":\"c\",\"suite\":\"ed25519\",\"validators\":[{\"name\":\"a\","
                 "\"public_key\":\"0000000000000000000000000000000000000000000000000000000000"
                 "000000\"}]," PARAMS "}", "not a valid ed25519 public key");
  expect_refused("{\"chain_id\":\"c\",\"suite\":\"ed25519\",\"validators\":[{\"name\":\"a\","
                 "\"public_key\":\"" KEY0 "\"},{\"name\":\"a\",\"public_key\":\"" KEY1 "\"}],"
                 PARAMS "}", "validators[1].name repeats");
  expect_refused("{\"chain_id\":\"c\",\"suite\":\"ed25519\",\"validators\":[{\"name\":\"a\","
                 "\"public_key\":\"" KEY0 "\"},{\"name\":\"b\",\"public_key\":\"" KEY0 "\"}],"
                 PARAMS "}", "validators[1].public_key repeats");
  expect_refused("{\"chain_id\":\"c\",\"suite\":\"ed25519\"," VALS ",\"params\":{}}",
                 "params.block_txs_max is missing");
  expect_refused("{\"chain_id\":\"c\",\"suite\":\"ed25519\"," VALS ",\"params\":{"
                 "\"block_txs_max\":0,\"block_bytes_max\":4194304,\"tx_bytes_max\":65536,"
                 "\"view_timeout_ms\":1000}}", "params.block_txs_max must be");
  expect_refused("{\"chain_id\":\"c\",\"suite\":\"ed25519\"," VALS ",\"params\":{"
                 "\"block_txs_max\":1,\"block_bytes_max\":4096,\"tx_bytes_max\":65536,"
                 "\"view_timeout_ms\":1000}}", "block_bytes_max must hold");
  expect_refused("{\"chain_id\":\"c\",\"suite\":\"ed25519\"," VALS ",\"params\":{"
                 "\"block_txs_max\":1,\"block_bytes_max\":4096,\"tx_bytes_max\":\"1\","
                 "\"view_timeout_ms\":1000}}", "params.tx_bytes_max must be");
}

static void test_block_gas_max(void **state) {
  (void)state;
  char text[1024];
  qp_chain_genesis_t g, again;
  snprintf(text, sizeof text, "{\"chain_id\":\"c\",\"suite\":\"ed25519\"," VALS "," PARAMS "}");
  assert_int_equal(qp_chain_genesis_parse(text, strlen(text), &g, NULL, 0), 0);
  assert_int_equal(g.params.block_gas_max, QP_CHAIN_BLOCK_GAS_DEFAULT);
  /* The hash of a genesis without the key: the encoding before it existed
   * (domain, id, suite, keys, the four u32 params), so old networks keep
   * their genesis hash. */
  uint8_t enc[256], old[QP_HASH_SIZE];
  size_t n = 0;
  memcpy(enc, "quipu-genesis-v1", 16);
  n = 16;
  enc[n++] = 1;
  enc[n++] = 'c';
  enc[n++] = 1;
  qp_store_u32(enc + n, 1);
  n += 4;
  enc[n++] = 32;
  assert_int_equal(qp_chain_unhex(KEY0, 64, enc + n, 32), 0);
  n += 32;
  uint32_t params[4] = {4096, 4194304, 65536, 1000};
  for (int i = 0; i < 4; i++, n += 4) qp_store_u32(enc + n, params[i]);
  assert_int_equal(qp_suite_hash(QP_SUITE_ED25519, old, enc, n), 0);
  assert_memory_equal(g.hash, old, QP_HASH_SIZE);
  /* Written only when not the default; round trips. */
  char *out = NULL;
  assert_int_equal(qp_chain_genesis_format(&g, &out), 0);
  assert_null(strstr(out, "block_gas_max"));
  qp_free(out);
  g.params.block_gas_max = 20000000;
  assert_int_equal(qp_chain_genesis_format(&g, &out), 0);
  assert_non_null(strstr(out, "\"block_gas_max\": 20000000"));
  qp_free(out);
  format_parse(&g, &again);
  assert_int_equal(again.params.block_gas_max, 20000000);
  assert_memory_not_equal(again.hash, old, QP_HASH_SIZE); /* covered */
  /* The default stated explicitly is the same network. */
  snprintf(text, sizeof text, "{\"chain_id\":\"c\",\"suite\":\"ed25519\"," VALS ",\"params\":{"
           "\"block_txs_max\":4096,\"block_bytes_max\":4194304,\"tx_bytes_max\":65536,"
           "\"view_timeout_ms\":1000,\"block_gas_max\":50000000}}");
  assert_int_equal(qp_chain_genesis_parse(text, strlen(text), &again, NULL, 0), 0);
  assert_memory_equal(again.hash, old, QP_HASH_SIZE);
  expect_refused("{\"chain_id\":\"c\",\"suite\":\"ed25519\"," VALS ",\"params\":{"
                 "\"block_txs_max\":4096,\"block_bytes_max\":4194304,\"tx_bytes_max\":65536,"
                 "\"view_timeout_ms\":1000,\"block_gas_max\":999}}",
                 "params.block_gas_max must be an integer from 1000 to 1000000000000");
  expect_refused("{\"chain_id\":\"c\",\"suite\":\"ed25519\"," VALS ",\"params\":{"
                 "\"block_txs_max\":4096,\"block_bytes_max\":4194304,\"tx_bytes_max\":65536,"
                 "\"view_timeout_ms\":1000,\"block_gas_max\":\"5\"}}",
                 "params.block_gas_max must be");
}

static void test_too_many_validators(void **state) {
  (void)state;
  qp_chain_genesis_t g;
  test_genesis(QP_SUITE_ED25519, &g);
  char *text = NULL;
  assert_int_equal(qp_chain_genesis_format(&g, &text), 0);
  /* 65 copies of one validator: the count is refused before the repeats. */
  size_t cap = 65 * 140 + 512, n = 0;
  char *big = malloc(cap);
  n += (size_t)snprintf(big + n, cap - n, "{\"chain_id\":\"c\",\"suite\":\"ed25519\","
                                          "\"validators\":[");
  for (int i = 0; i < 65; i++)
    n += (size_t)snprintf(big + n, cap - n, "%s{\"name\":\"v%d\",\"public_key\":\"%s\"}",
                          i ? "," : "", i, KEY0);
  snprintf(big + n, cap - n, "]," PARAMS "}");
  expect_refused(big, "validators must be an array of 1 to 64");
  free(big);
  qp_free(text);
}

static void test_load(void **state) {
  (void)state;
  char dir[256], path[300], detail[512] = "";
  qp_test_tmpdir(dir, sizeof dir);
  qp_chain_genesis_t g, loaded;
  assert_int_equal(qp_chain_genesis_load(dir, &loaded, detail, sizeof detail), QP_ENOTFOUND);
  test_genesis(QP_SUITE_ED25519, &g);
  char *text = NULL;
  assert_int_equal(qp_chain_genesis_format(&g, &text), 0);
  snprintf(path, sizeof path, "%s/genesis.json", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  assert_int_equal(qp_chain_genesis_load(dir, &loaded, detail, sizeof detail), 0);
  assert_memory_equal(loaded.hash, g.hash, QP_HASH_SIZE);
  f = fopen(path, "w");
  fputs("{\"chain_id\":1}", f);
  fclose(f);
  assert_int_equal(qp_chain_genesis_load(dir, &loaded, detail, sizeof detail), QP_EPARSE);
  assert_non_null(strstr(detail, "genesis.json: "));
  qp_free(text);
  qp_test_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),  cmocka_unit_test(test_hash_covers),
      cmocka_unit_test(test_refusals),    cmocka_unit_test(test_too_many_validators),
      cmocka_unit_test(test_load),        cmocka_unit_test(test_block_gas_max),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
