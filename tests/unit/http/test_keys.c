/*
 * test_keys.c - API keys and scopes (src/http/keys.c, scopes.c): scopes
 * are strings the modules own; "admin" grants everything; unknown scopes
 * are refused with the list of known ones; the key store creates, matches
 * in constant time, revokes, and keeps scopes of modules it does not know.
 * Keys may carry limits (expiry, ledgers, rate): lines of earlier versions
 * (six fields) still load, new ones round-trip, a corrupt value is refused
 * naming its line and field, and the token bucket behind the rate limit is
 * driven here with a made-up clock.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "test_util.h"
#include "base/alloc.h"
#include "base/err.h"
#include "http/http_int.h"

static const qp_http_scope_t KNOWN[] = {
    {"ledger:read", "read"},
    {"ledger:write", "write"},
    {"chain:submit", "submit"},
};

static void test_grant(void **state) {
  (void)state;
  assert_true(qp_http_scopes_grant("ledger:read,ledger:write", "ledger:write"));
  assert_true(qp_http_scopes_grant("ledger:read", "ledger:read"));
  assert_false(qp_http_scopes_grant("ledger:read", "ledger:write"));
  assert_false(qp_http_scopes_grant("ledger:reader", "ledger:read")); /* whole names only */
  assert_false(qp_http_scopes_grant("ledger:rea", "ledger:read"));
  assert_true(qp_http_scopes_grant("chain:submit,admin", "payments:merchant"));
  assert_true(qp_http_scopes_grant("ledger:read", NULL)); /* any valid key */
  assert_false(qp_http_scopes_grant(NULL, "ledger:read"));
}

static void test_check_names_unknown_and_lists_known(void **state) {
  (void)state;
  char detail[512];
  assert_int_equal(
      qp_http_scopes_check("ledger:read,chain:submit", KNOWN, 3, detail, sizeof detail), 0);
  assert_int_equal(qp_http_scopes_check("admin", KNOWN, 3, detail, sizeof detail), 0);
  assert_int_equal(
      qp_http_scopes_check("ledger:read,ledger:delete", KNOWN, 3, detail, sizeof detail),
      QP_EINVAL);
  assert_non_null(strstr(detail, "'ledger:delete'"));
  assert_non_null(strstr(detail, "admin, ledger:read, ledger:write, chain:submit"));
  assert_int_equal(qp_http_scopes_check("", KNOWN, 3, detail, sizeof detail), QP_EINVAL);
  assert_int_equal(qp_http_scopes_check("ledger:read,", KNOWN, 3, detail, sizeof detail),
                   QP_EINVAL);
  assert_int_equal(qp_http_scopes_check(",ledger:read", KNOWN, 3, detail, sizeof detail),
                   QP_EINVAL);
}

static void test_keys_store(void **state) {
  (void)state;
  char dir[256], detail[256];
  qp_test_tmpdir(dir, sizeof dir);
  char key[QP_HTTP_KEY_TEXT_SIZE], key2[QP_HTTP_KEY_TEXT_SIZE];
  qp_http_key_t created;
  assert_int_equal(
      qp_http_keys_create(dir, "ops", "ledger:read", key, &created, detail, sizeof detail), 0);
  assert_string_equal(created.scopes, "ledger:read");
  assert_int_equal(
      qp_http_keys_create(dir, "ops", "ledger:read", key2, NULL, detail, sizeof detail),
      QP_EEXISTS);
  assert_int_equal(
      qp_http_keys_create(dir, "bad name", "ledger:read", key2, NULL, detail, sizeof detail),
      QP_EINVAL);
  assert_int_equal(qp_http_keys_create(dir, "x", "Bad Scope", key2, NULL, detail, sizeof detail),
                   QP_EINVAL);
  /* A scope of a module this build may not have is stored as is. */
  assert_int_equal(qp_http_keys_create(dir, "w", "ledger:write,risk:admin", key2, NULL, detail,
                                       sizeof detail),
                   0);
  qp_http_key_t *keys = NULL;
  uint32_t n = 0;
  assert_int_equal(qp_http_keys_load(dir, &keys, &n, detail, sizeof detail), 0);
  assert_int_equal(n, 2);
  assert_string_equal(keys[1].scopes, "ledger:write,risk:admin");
  assert_int_equal(qp_http_keys_match(keys, n, key, strlen(key)), 0);
  assert_int_equal(qp_http_keys_match(keys, n, key2, strlen(key2)), 1);
  key[strlen(key) - 1] ^= 1; /* one wrong character */
  assert_int_equal(qp_http_keys_match(keys, n, key, strlen(key)), -1);
  key[strlen(key) - 1] ^= 1;
  qp_free(keys);
  uint32_t revoked = 0;
  assert_int_equal(qp_http_keys_revoke(dir, created.id, &revoked, detail, sizeof detail), 0);
  assert_int_equal(revoked, 1);
  assert_int_equal(qp_http_keys_revoke(dir, "ops", &revoked, detail, sizeof detail),
                   QP_ENOTFOUND);
  assert_int_equal(qp_http_keys_load(dir, &keys, &n, detail, sizeof detail), 0);
  assert_true(keys[0].revoked);
  assert_int_equal(qp_http_keys_match(keys, n, key, strlen(key)), -1);
  qp_free(keys);
  /* The name of a revoked key can be used again. */
  assert_int_equal(qp_http_keys_create(dir, "ops", "admin", key, NULL, detail, sizeof detail), 0);
  qp_test_rmdir(dir);
}

/* qp_http_keys_sweep: the keys pick names are revoked or dropped in one
 * rewrite; the others stay as they were, in order. */
static qp_http_key_action_t pick_by_name(void *ctx, const qp_http_key_t *k) {
  (void)ctx;
  if (strncmp(k->name, "drop", 4) == 0) return QP_HTTP_KEY_REMOVE;
  return strncmp(k->name, "revoke", 6) == 0 ? QP_HTTP_KEY_REVOKE : QP_HTTP_KEY_KEEP;
}

static void test_sweep(void **state) {
  (void)state;
  char dir[256], detail[256], key[QP_HTTP_KEY_TEXT_SIZE];
  qp_test_tmpdir(dir, sizeof dir);
  static const char *const names[] = {"keep1", "drop1", "revoke1", "drop2", "keep2"};
  for (size_t i = 0; i < 5; i++)
    assert_int_equal(qp_http_keys_create(dir, names[i], "admin", key, NULL, detail,
                                         sizeof detail), 0);
  uint32_t revoked = 9, removed = 9;
  assert_int_equal(qp_http_keys_sweep(dir, pick_by_name, NULL, &revoked, &removed, detail,
                                      sizeof detail), 0);
  assert_int_equal(revoked, 1);
  assert_int_equal(removed, 2);
  qp_http_key_t *keys = NULL;
  uint32_t n = 0;
  assert_int_equal(qp_http_keys_load(dir, &keys, &n, detail, sizeof detail), 0);
  assert_int_equal(n, 3);
  assert_string_equal(keys[0].name, "keep1");
  assert_string_equal(keys[1].name, "revoke1");
  assert_true(keys[1].revoked);
  assert_string_equal(keys[2].name, "keep2");
  assert_false(keys[0].revoked || keys[2].revoked);
  qp_free(keys);
  /* A revoked key asked to be revoked again is not counted twice. */
  assert_int_equal(qp_http_keys_sweep(dir, pick_by_name, NULL, &revoked, NULL, detail,
                                      sizeof detail), 0);
  assert_int_equal(revoked, 0);
  qp_test_rmdir(dir);
}

static void test_old_key_file_still_loads(void **state) {
  (void)state;
  char dir[256], path[512], detail[256];
  qp_test_tmpdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/keys", dir);
  assert_int_equal(mkdir(path, 0700), 0);
  assert_int_equal(qp_http_keys_path(dir, path, sizeof path), 0);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f, "# written by an earlier version\n0123456789abcdef ops ledger:read,ledger:write "
             "1700000000 0 %064d\n", 0);
  fclose(f);
  assert_int_equal(chmod(path, 0600), 0); /* as every version wrote it */
  qp_http_key_t *keys = NULL;
  uint32_t n = 0;
  assert_int_equal(qp_http_keys_load(dir, &keys, &n, detail, sizeof detail), 0);
  assert_int_equal(n, 1);
  assert_string_equal(keys[0].scopes, "ledger:read,ledger:write");
  assert_int_equal(keys[0].created_s, 1700000000);
  /* No limits: never expires, every ledger, no rate. */
  assert_int_equal(keys[0].limits.expires_s, 0);
  assert_int_equal(keys[0].limits.ledgers_count, 0);
  assert_int_equal(keys[0].limits.rate_per_s, 0);
  assert_false(qp_http_key_expired(&keys[0], INT64_MAX));
  qp_free(keys);
  qp_test_rmdir(dir);
}

/* Writes `body` as the key file of a fresh data dir under root. */
static void write_key_file(const char *root, const char *body) {
  char path[512];
  snprintf(path, sizeof path, "%s/keys", root);
  mkdir(path, 0700);
  assert_int_equal(qp_http_keys_path(root, path, sizeof path), 0);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(body, f);
  fclose(f);
  assert_int_equal(chmod(path, 0600), 0);
}

#define BASE_LINE "0123456789abcdef ops ledger:read 1700000000 0 " \
  "0000000000000000000000000000000000000000000000000000000000000000"

static void test_key_file_with_limits_loads(void **state) {
  (void)state;
  char dir[256], detail[256];
  qp_test_tmpdir(dir, sizeof dir);
  write_key_file(dir, "# comment\n" BASE_LINE "\n"
                      "1123456789abcdef two admin 1700000000 1 "
                      "0000000000000000000000000000000000000000000000000000000000000000 "
                      "rate=100 ledgers=840,7 expires=1800000000 burst=250\n"
                      "2123456789abcdef three admin 1700000000 0 "
                      "0000000000000000000000000000000000000000000000000000000000000000 rate=5\n");
  qp_http_key_t *keys = NULL;
  uint32_t n = 0;
  assert_int_equal(qp_http_keys_load(dir, &keys, &n, detail, sizeof detail), 0);
  assert_int_equal(n, 3);
  const qp_http_key_limits_t *l = &keys[1].limits;
  assert_true(keys[1].revoked);
  assert_int_equal(l->expires_s, 1800000000);
  assert_int_equal(l->ledgers_count, 2);
  assert_int_equal(l->ledgers[0], 840);
  assert_int_equal(l->ledgers[1], 7);
  assert_int_equal(l->rate_per_s, 100);
  assert_int_equal(l->burst, 250);
  assert_int_equal(keys[2].limits.rate_per_s, 5);
  assert_int_equal(keys[2].limits.burst, 0); /* the server then uses the rate */
  qp_free(keys);
  qp_test_rmdir(dir);
}

/* Each bad line is refused with QP_ECORRUPT; detail names line 2 and `field`. */
static void test_corrupt_fields_are_named(void **state) {
  (void)state;
  static const struct {
    const char *tail; /* after the six base fields */
    const char *field; /* what detail must name */
  } CASES[] = {
      {" expires=-1", "bad expires"},
      {" expires=12x", "bad expires"},
      {" expires=0100", "bad expires"},
      {" expires=253402300800", "bad expires"},
      {" ledgers=", "bad ledgers"},
      {" ledgers=1,,2", "bad ledgers"},
      {" ledgers=0", "bad ledgers"},
      {" ledgers=3,3", "bad ledgers"},
      {" ledgers=4294967296", "bad ledgers"},
      {" rate=1000001", "bad rate"},
      {" rate=abc", "bad rate"},
      {" burst=3", "bad burst (without rate)"},
      {" rate=1 rate=2", "bad rate"},
      {" color=blue", "bad an unknown field"},
      {" rate", "bad an unknown field"},
      {" rate=1 burst=1 expires=1 ledgers=1 x=1", "bad the number of fields"},
  };
  char dir[256], detail[256], body[1024];
  qp_test_tmpdir(dir, sizeof dir);
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
    snprintf(body, sizeof body, "# header\n%s%s\n", BASE_LINE, CASES[i].tail);
    write_key_file(dir, body);
    qp_http_key_t *keys = NULL;
    uint32_t n = 0;
    detail[0] = '\0';
    assert_int_equal(qp_http_keys_load(dir, &keys, &n, detail, sizeof detail), QP_ECORRUPT);
    assert_null(keys);
    if (strstr(detail, "line 2") == NULL || strstr(detail, CASES[i].field) == NULL)
      fail_msg("case '%s': detail '%s' does not name line 2 and %s", CASES[i].tail, detail,
               CASES[i].field);
  }
  /* A bad base field is named too. */
  write_key_file(dir, "0123456789abcdef ops ledger:read 17x 0 00\n");
  assert_int_equal(qp_http_keys_load(dir, &(qp_http_key_t *){NULL}, &(uint32_t){0}, detail,
                                     sizeof detail),
                   QP_ECORRUPT);
  assert_non_null(strstr(detail, "line 1: bad created_s"));
  qp_test_rmdir(dir);
}

static void test_create_with_limits(void **state) {
  (void)state;
  char dir[256], detail[256], key[QP_HTTP_KEY_TEXT_SIZE];
  qp_test_tmpdir(dir, sizeof dir);
  qp_http_key_limits_t l = {.expires_s = 1900000000, .ledgers = {840, 1}, .ledgers_count = 2,
                            .rate_per_s = 10};
  qp_http_key_t created;
  assert_int_equal(qp_http_keys_create_limited(dir, "lim", "ledger:read", &l, key, &created,
                                               detail, sizeof detail),
                   0);
  assert_int_equal(created.limits.burst, 10); /* defaults to one second's worth */
  assert_int_equal(qp_http_keys_create(dir, "plain", "admin", key, NULL, detail, sizeof detail),
                   0);
  qp_http_key_t *keys = NULL;
  uint32_t n = 0;
  assert_int_equal(qp_http_keys_load(dir, &keys, &n, detail, sizeof detail), 0);
  assert_int_equal(n, 2);
  assert_memory_equal(&keys[0].limits, &created.limits, sizeof created.limits);
  assert_int_equal(keys[1].limits.ledgers_count, 0);
  qp_free(keys);
  /* The plain key is a six-field line, which every earlier version reads. */
  char path[512], text[4096];
  assert_int_equal(qp_http_keys_path(dir, path, sizeof path), 0);
  FILE *f = fopen(path, "r");
  size_t len = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[len] = '\0';
  assert_non_null(strstr(text, " expires=1900000000 ledgers=840,1 rate=10 burst=10\n"));
  const char *plain = strstr(text, " plain admin ");
  assert_non_null(plain);
  assert_null(strchr(plain, '='));
  /* Bad limits are refused naming the field. */
  static const qp_http_key_limits_t BAD[] = {
      {.ledgers = {0}, .ledgers_count = 1}, {.ledgers = {5, 5}, .ledgers_count = 2},
      {.burst = 3},                          {.rate_per_s = QP_HTTP_KEY_RATE_MAX + 1},
      {.expires_s = -1},                     {.ledgers_count = QP_HTTP_KEY_LEDGERS_MAX + 1},
  };
  static const char *const NAMED[] = {"ledgers", "ledgers", "burst", "rate", "expires", "ledgers"};
  for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
    detail[0] = '\0';
    assert_int_equal(qp_http_keys_create_limited(dir, "bad", "admin", &BAD[i], key, NULL, detail,
                                                 sizeof detail),
                     QP_EINVAL);
    assert_ptr_equal(strstr(detail, NAMED[i]), detail);
  }
  qp_test_rmdir(dir);
}

static void test_ledgers_parse_and_format(void **state) {
  (void)state;
  uint32_t l[QP_HTTP_KEY_LEDGERS_MAX], n = 0;
  char detail[256], buf[64];
  assert_int_equal(qp_http_ledgers_parse("1,2,4294967295", l, &n, detail, sizeof detail), 0);
  assert_int_equal(n, 3);
  assert_int_equal(l[2], 4294967295u);
  qp_http_ledgers_format(l, n, ", ", buf, sizeof buf);
  assert_string_equal(buf, "1, 2, 4294967295");
  static const char *const BAD[] = {"", ",", "1,", ",1", "0", "01", "-1", "+1", "1 ,2", "x",
                                    "4294967296", "99999999999", "7,7"};
  for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++)
    assert_int_equal(qp_http_ledgers_parse(BAD[i], l, &n, detail, sizeof detail), QP_EINVAL);
  char many[1024] = "";
  for (uint32_t i = 1; i <= QP_HTTP_KEY_LEDGERS_MAX; i++)
    snprintf(many + strlen(many), sizeof many - strlen(many), "%s%u", i > 1 ? "," : "", i);
  assert_int_equal(qp_http_ledgers_parse(many, l, &n, detail, sizeof detail), 0);
  assert_int_equal(n, QP_HTTP_KEY_LEDGERS_MAX);
  snprintf(many + strlen(many), sizeof many - strlen(many), ",65");
  assert_int_equal(qp_http_ledgers_parse(many, l, &n, detail, sizeof detail), QP_EINVAL);
  assert_non_null(strstr(detail, "at most 64"));
  /* A list too long for the buffer ends in "...", within the buffer. */
  char small[16];
  qp_http_ledgers_format(l, QP_HTTP_KEY_LEDGERS_MAX, ",", small, sizeof small);
  assert_string_equal(small, "1,2,3,4,5,6,...");
}

static void test_expiry(void **state) {
  (void)state;
  qp_http_key_t k;
  memset(&k, 0, sizeof k);
  assert_false(qp_http_key_expired(&k, 4000000000));
  k.limits.expires_s = 1000;
  assert_false(qp_http_key_expired(&k, 999));
  assert_true(qp_http_key_expired(&k, 1000)); /* from the start of its second */
  assert_true(qp_http_key_expired(&k, 1001));
  char when[32];
  qp_http_utc_format(1700000000, when, sizeof when);
  assert_string_equal(when, "2023-11-14T22:13:20Z");
}

#define S 1000000000ull /* a second in nanoseconds */

static void test_bucket(void **state) {
  (void)state;
  qp__http_bucket_t b;
  memset(&b, 0, sizeof b);
  uint32_t retry = 0;
  uint64_t t = 5 * S;
  /* rate 2/s, burst 3: three at once, then refused. */
  for (int i = 0; i < 3; i++) assert_true(qp__http_bucket_take(&b, 2, 3, t, &retry));
  assert_false(qp__http_bucket_take(&b, 2, 3, t, &retry));
  assert_int_equal(retry, 1);
  assert_false(qp__http_bucket_take(&b, 2, 3, t + S / 2 - 1, &retry)); /* 1 ns short */
  assert_true(qp__http_bucket_take(&b, 2, 3, t + S / 2, &retry));      /* exactly one token */
  assert_false(qp__http_bucket_take(&b, 2, 3, t + S / 2, &retry));
  /* A clock older than the bucket's refills nothing and moves nothing back. */
  assert_false(qp__http_bucket_take(&b, 2, 3, t, &retry));
  assert_int_equal(b.last_ns, t + S / 2);
  /* A long pause fills it to the burst, never beyond. */
  t += 3600 * S;
  for (int i = 0; i < 3; i++) assert_true(qp__http_bucket_take(&b, 2, 3, t, &retry));
  assert_false(qp__http_bucket_take(&b, 2, 3, t, &retry));
  /* Years at the largest rate and burst: no overflow, still full. */
  t += 100ull * 365 * 86400 * S;
  assert_true(qp__http_bucket_take(&b, QP_HTTP_KEY_RATE_MAX, QP_HTTP_KEY_RATE_MAX, t, &retry));
  assert_int_equal(b.level, (uint64_t)(QP_HTTP_KEY_RATE_MAX - 1) * S);
  /* A burst lowered by a reload caps the level at once. */
  assert_true(qp__http_bucket_take(&b, 1, 1, t, &retry));
  assert_false(qp__http_bucket_take(&b, 1, 1, t, &retry));
  assert_int_equal(retry, 1);
  /* rate 1/s, burst 1, exact over many steps: 1000 requests a second apart. */
  memset(&b, 0, sizeof b);
  for (uint64_t i = 0; i < 1000; i++) {
    assert_true(qp__http_bucket_take(&b, 1, 1, i * S, &retry));
    assert_false(qp__http_bucket_take(&b, 1, 1, i * S + S - 1, &retry));
  }
  /* rate 3/s: a token every 333333333.33 ns, and no drift over 100 s of
   * requests every microsecond: the burst's 2 tokens, then exactly 300.
   * (With burst 1 the bucket would be full between two requests and spill
   * the few nano-tokens of the overshoot, as a token bucket must.) */
  memset(&b, 0, sizeof b);
  uint32_t granted = 0;
  for (uint64_t ns = 0; ns <= 100 * S; ns += 1000)
    granted += qp__http_bucket_take(&b, 3, 2, ns, &retry) ? 1u : 0u;
  assert_int_equal(granted, 302);
}

static mode_t mode_of(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return st.st_mode & 07777;
}

/* A key file others may read is refused, by the server's load and by
 * `quipu keys` (create loads first), with how to fix it; directories the
 * store creates are 0700. */
static void test_key_file_open_to_others_is_refused(void **state) {
  (void)state;
  char dir[256], data[300], path[512], detail[512];
  qp_test_tmpdir(dir, sizeof dir);
  snprintf(data, sizeof data, "%s/fresh/data", dir);
  char key[QP_HTTP_KEY_TEXT_SIZE];
  assert_int_equal(qp_http_keys_create(data, "ops", "admin", key, NULL, detail, sizeof detail), 0);
  assert_int_equal(mode_of(data), 0700);
  snprintf(path, sizeof path, "%s/keys", data);
  assert_int_equal(mode_of(path), 0700);
  assert_int_equal(qp_http_keys_path(data, path, sizeof path), 0);
  assert_int_equal(mode_of(path), 0600);
  assert_int_equal(chmod(path, 0644), 0);
  qp_http_key_t *keys = NULL;
  uint32_t n = 0;
  detail[0] = '\0';
  assert_int_equal(qp_http_keys_load(data, &keys, &n, detail, sizeof detail), QP_EIO);
  assert_null(keys);
  assert_non_null(strstr(detail, "chmod 600"));
  assert_non_null(strstr(detail, path));
  detail[0] = '\0';
  assert_int_equal(qp_http_keys_create(data, "two", "admin", key, NULL, detail, sizeof detail),
                   QP_EIO);
  assert_non_null(strstr(detail, "chmod 600"));
  assert_int_equal(chmod(path, 0620), 0); /* group-writable: refused too */
  assert_int_equal(qp_http_keys_load(data, &keys, &n, detail, sizeof detail), QP_EIO);
  assert_int_equal(chmod(path, 0600), 0);
  assert_int_equal(qp_http_keys_load(data, &keys, &n, detail, sizeof detail), 0);
  assert_int_equal(n, 1);
  qp_free(keys);
  qp_test_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grant),
      cmocka_unit_test(test_check_names_unknown_and_lists_known),
      cmocka_unit_test(test_keys_store),
      cmocka_unit_test(test_sweep),
      cmocka_unit_test(test_old_key_file_still_loads),
      cmocka_unit_test(test_key_file_with_limits_loads),
      cmocka_unit_test(test_corrupt_fields_are_named),
      cmocka_unit_test(test_create_with_limits),
      cmocka_unit_test(test_ledgers_parse_and_format),
      cmocka_unit_test(test_expiry),
      cmocka_unit_test(test_bucket),
      cmocka_unit_test(test_key_file_open_to_others_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
