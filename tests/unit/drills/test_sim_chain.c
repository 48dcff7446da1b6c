/*
 * test_sim_chain.c - unit tests of the chain simulator: a run is a function
 * of its seed (same seed, same digest; another seed, another), a few seeds
 * with Byzantine validators break no check, in both suites, and the
 * configuration limits (more Byzantine validators than (n - 1) / 3, an
 * unknown suite) are refused.
 */
#include <string.h>

#include "test_util.h"
#include "base/err.h"
#include "drills/drills.h"

static void run_suite(qp_suite_t suite, uint64_t seed, uint32_t n, uint32_t byz,
                      uint8_t digest[QP_HASH_SIZE], qp_sim_chain_stats_t *st) {
  qp_sim_chain_config_t cfg;
  qp_sim_chain_config_default(&cfg, seed, n, byz, 200);
  cfg.suite = suite;
  char detail[256];
  assert_int_equal(qp_sim_chain_run(&cfg, st, digest, detail, sizeof detail), 0);
  if (qp_sim_chain_violations(st) != 0) fail_msg("seed %llu: %s", (unsigned long long)seed, detail);
}

static void run(uint64_t seed, uint32_t n, uint32_t byz, uint8_t digest[QP_HASH_SIZE],
                qp_sim_chain_stats_t *st) {
  run_suite(QP_SUITE_ED25519, seed, n, byz, digest, st);
}

static void test_deterministic(void **state) {
  (void)state;
  uint8_t a[QP_HASH_SIZE], b[QP_HASH_SIZE], c[QP_HASH_SIZE];
  qp_sim_chain_stats_t sa, sb, sc;
  run(7, 4, 1, a, &sa);
  run(7, 4, 1, b, &sb);
  run(8, 4, 1, c, &sc);
  assert_memory_equal(a, b, QP_HASH_SIZE);
  assert_memory_equal(&sa, &sb, sizeof sa);
  assert_memory_not_equal(a, c, QP_HASH_SIZE);
  assert_true(sa.txs_committed > 0 && sa.txs_committed == sa.txs_submitted);
}

static void test_seeds_hold(void **state) {
  (void)state;
  uint64_t seeds = qp_test_env_u64("SIM_CHAIN_SEEDS", 12);
  for (uint64_t s = 1; s <= seeds; s++) {
    uint8_t d[QP_HASH_SIZE];
    qp_sim_chain_stats_t st;
    run(s, s % 3 == 0 ? 7 : 4, s % 3 == 0 ? 2 : 1, d, &st);
  }
}

/* The GM/T suite (SM2 votes and QCs, SM3 block hashes and Merkle roots)
 * holds every check, is as deterministic, and commits other blocks than the
 * ed25519 run of the same seed. */
static void test_sm2_suite(void **state) {
  (void)state;
  uint8_t a[QP_HASH_SIZE], b[QP_HASH_SIZE], ed[QP_HASH_SIZE];
  qp_sim_chain_stats_t sa, sb, sed;
  run_suite(QP_SUITE_SM2, 3, 4, 1, a, &sa);
  run_suite(QP_SUITE_SM2, 3, 4, 1, b, &sb);
  run_suite(QP_SUITE_ED25519, 3, 4, 1, ed, &sed);
  assert_memory_equal(a, b, QP_HASH_SIZE);
  assert_memory_equal(&sa, &sb, sizeof sa);
  assert_memory_not_equal(a, ed, QP_HASH_SIZE);
  assert_true(sa.txs_committed > 0 && sa.txs_committed == sa.txs_submitted);
  assert_true(sa.messages_refused > 0); /* the Byzantine validator's forgeries */
}

static void test_refuses_too_many_byzantine(void **state) {
  (void)state;
  qp_sim_chain_config_t cfg;
  qp_sim_chain_stats_t st;
  uint8_t d[QP_HASH_SIZE];
  qp_sim_chain_config_default(&cfg, 1, 4, 2, 10);
  assert_int_equal(qp_sim_chain_run(&cfg, &st, d, NULL, 0), QP_EINVAL);
  qp_sim_chain_config_default(&cfg, 1, 33, 0, 10);
  assert_int_equal(qp_sim_chain_run(&cfg, &st, d, NULL, 0), QP_EINVAL);
  qp_sim_chain_config_default(&cfg, 1, 4, 1, 10);
  cfg.suite = (qp_suite_t)3; /* no such suite */
  assert_int_equal(qp_sim_chain_run(&cfg, &st, d, NULL, 0), QP_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_deterministic),
      cmocka_unit_test(test_seeds_hold),
      cmocka_unit_test(test_sm2_suite),
      cmocka_unit_test(test_refuses_too_many_byzantine),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
