/*
 * test_raft_members.c - what a replica knows of the others' addresses
 * (raft_members.c): the QPM1 entry's bytes (round trip, padded to 8 bytes
 * as libraft needs, every damaged form refused), the table's upsert and
 * its eviction of a departed replica when full, and the saved file.
 */
#include <stdio.h>
#include <string.h>

#include "test_util.h"
#include "base/err.h"
#include "ledger/raft_int.h"

static qp_ledger_replica_t replica(uint64_t id, const char *raft, const char *http) {
  qp_ledger_replica_t r = {.id = id};
  snprintf(r.raft, sizeof r.raft, "%s", raft);
  snprintf(r.http, sizeof r.http, "%s", http);
  return r;
}

static void test_entry_round_trip_and_padding(void **state) {
  (void)state;
  qp_ledger_replica_t r = replica(4, "127.0.0.1:7407", "http://127.0.0.1:7406"), back;
  size_t size = qp__raft_member_entry_size(&r);
  assert_int_equal(size % 8, 0);
  assert_true(size >= 16 + strlen(r.raft) + strlen(r.http));
  uint8_t buf[512];
  qp__raft_member_entry_encode(&r, buf, size);
  assert_true(qp__raft_member_entry_is(buf, size));
  assert_int_equal(qp__raft_member_entry_decode(buf, size, &back), 0);
  assert_int_equal(back.id, 4);
  assert_string_equal(back.raft, r.raft);
  assert_string_equal(back.http, r.http);
  /* Damaged: short, wrong magic, a length past the end, a wrong size, id 0. */
  assert_int_equal(qp__raft_member_entry_decode(buf, 12, &back), QP_ECORRUPT);
  buf[0] ^= 1;
  assert_false(qp__raft_member_entry_is(buf, size));
  assert_int_equal(qp__raft_member_entry_decode(buf, size, &back), QP_ECORRUPT);
  buf[0] ^= 1;
  buf[14 + 3] = '\0'; /* a NUL inside the Raft address (found by fuzz_raft_entry) */
  assert_int_equal(qp__raft_member_entry_decode(buf, size, &back), QP_ECORRUPT);
  buf[14 + 3] = r.raft[3];
  buf[16 + strlen(r.raft) + 5] = '\0'; /* inside the URL */
  assert_int_equal(qp__raft_member_entry_decode(buf, size, &back), QP_ECORRUPT);
  buf[16 + strlen(r.raft) + 5] = (uint8_t)r.http[5];
  assert_int_equal(qp__raft_member_entry_decode(buf, size, &back), 0);
  assert_int_equal(qp__raft_member_entry_decode(buf, size + 8, &back), QP_ECORRUPT);
  buf[12] = 200;
  assert_int_equal(qp__raft_member_entry_decode(buf, size, &back), QP_ECORRUPT);
  uint8_t z[64];
  memset(z, 0, sizeof z);
  z[0] = 'Q', z[1] = 'P', z[2] = 'M', z[3] = '1';
  assert_int_equal(qp__raft_member_entry_decode(z, 16, &back), QP_ECORRUPT);
  /* A ledger entry is not a member entry. */
  uint8_t qpr[16] = {'Q', 'P', 'R', '1'};
  assert_false(qp__raft_member_entry_is(qpr, sizeof qpr));
}

static void test_table_put_replaces_and_evicts_a_departed_one(void **state) {
  (void)state;
  qp_ledger_cluster_t c = {.enabled = true, .count = 2};
  c.replicas[0] = replica(1, "h:1", "http://h:0");
  c.replicas[1] = replica(2, "h:3", "http://h:2");
  qp__raft_members_t m;
  qp__raft_members_init(&m, &c);
  assert_int_equal(m.count, 2);
  qp_ledger_replica_t moved = replica(2, "h:5", "http://h:4");
  qp__raft_members_put(&m, &moved, NULL, 0);
  assert_int_equal(m.count, 2);
  assert_string_equal(qp__raft_members_find(&m, 2)->http, "http://h:4");
  assert_null(qp__raft_members_find(&m, 3));
  for (uint64_t id = 3; m.count < QP__RAFT_MEMBERS_MAX; id++) {
    qp_ledger_replica_t r = replica(id, "h:9", "http://h:9");
    qp__raft_members_put(&m, &r, NULL, 0);
  }
  uint64_t keep[] = {1, 2}; /* the configuration: 3.. have departed */
  qp_ledger_replica_t late = replica(1000, "h:7", "http://h:6");
  qp__raft_members_put(&m, &late, keep, 2);
  assert_int_equal(m.count, QP__RAFT_MEMBERS_MAX);
  assert_non_null(qp__raft_members_find(&m, 1000));
  assert_non_null(qp__raft_members_find(&m, 1));
  assert_non_null(qp__raft_members_find(&m, 2));
}

static void test_save_and_load(void **state) {
  (void)state;
  char dir[256], path[300], detail[256];
  qp_test_tmpdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/members.json", dir);
  qp_ledger_cluster_t c = {.enabled = true, .count = 1};
  c.replicas[0] = replica(1, "h:1", "http://h:0");
  qp__raft_members_t m, back;
  qp__raft_members_init(&m, &c);
  qp__raft_members_init(&back, &c);
  assert_int_equal(qp__raft_members_load(&back, path), QP_ENOTFOUND);
  qp_ledger_replica_t added = replica(9, "h:19", "https://h:18");
  qp__raft_members_put(&m, &added, NULL, 0);
  assert_int_equal(qp__raft_members_save(&m, path, detail, sizeof detail), 0);
  assert_int_equal(qp__raft_members_load(&back, path), 0);
  assert_int_equal(back.count, 2);
  assert_string_equal(qp__raft_members_find(&back, 9)->http, "https://h:18");
  FILE *f = fopen(path, "w");
  fputs("[{\"id\": 0}]", f);
  fclose(f);
  assert_int_equal(qp__raft_members_load(&back, path), QP_ECORRUPT);
  qp_test_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_entry_round_trip_and_padding),
      cmocka_unit_test(test_table_put_replaces_and_evicts_a_departed_one),
      cmocka_unit_test(test_save_and_load),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
