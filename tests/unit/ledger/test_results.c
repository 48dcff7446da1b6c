/*
 * test_results.c - unit tests of the ledger state machine, one result code
 * at a time (DESIGN.md section 4, ledger.h).
 *
 * Each test builds the smallest state in which an event must get one exact
 * result code, sends it, and checks the code.  Three checks run on every
 * batch, inside the helpers, so that no test can forget them:
 *  - a failing event changes nothing: every account and every transfer
 *    (with its pending state) is compared before and after, and an id that
 *    was unknown before is still unknown after;
 *  - timestamps: the batch's events get max(now_ns, last+1)+i, so every
 *    created record is checked against that and the clock strictly grows;
 *  - qp_ledger_check() (debits = credits per ledger) holds.
 * Every code produced is marked in a bitmap, and the last test fails if any
 * code of QP_CREATE_ACCOUNT_RESULTS or QP_CREATE_TRANSFER_RESULTS was never
 * produced, so a new code cannot be added without a test that reaches it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "base/err.h"
#include "base/u128.h"
#include "ledger/ledger.h"

#define NS_PER_S 1000000000ull
#define MAX QP_U128_MAX
#define SNAPSHOT_ROWS_MAX 256u /* accounts or transfers one test creates, at most */

/* Ids of the accounts most tests use. */
enum { BANK = 1, A = 2, B = 3, C = 4, D = 5, UNKNOWN = 999 };

/* Shorter names for the flags used everywhere below. */
#define T_LINKED ((uint16_t)QP_TRANSFER_LINKED)
#define T_PENDING ((uint16_t)QP_TRANSFER_PENDING)
#define T_POST ((uint16_t)QP_TRANSFER_POST_PENDING_TRANSFER)
#define T_VOID ((uint16_t)QP_TRANSFER_VOID_PENDING_TRANSFER)
#define T_BAL_DR ((uint16_t)QP_TRANSFER_BALANCING_DEBIT)
#define T_BAL_CR ((uint16_t)QP_TRANSFER_BALANCING_CREDIT)
#define T_CLOSE_DR ((uint16_t)QP_TRANSFER_CLOSING_DEBIT)
#define T_CLOSE_CR ((uint16_t)QP_TRANSFER_CLOSING_CREDIT)
#define A_LINKED ((uint16_t)QP_ACCOUNT_LINKED)
#define A_DR_LIMIT ((uint16_t)QP_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS)
#define A_CR_LIMIT ((uint16_t)QP_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS)
#define A_HISTORY ((uint16_t)QP_ACCOUNT_HISTORY)
#define A_CLOSED ((uint16_t)QP_ACCOUNT_CLOSED)
#define A_IMPORTED ((uint16_t)QP_ACCOUNT_IMPORTED)
#define T_IMPORTED ((uint16_t)QP_TRANSFER_IMPORTED)

/* Which result codes some test has produced; checked by the last test. */
static bool seen_account[QP_CREATE_ACCOUNT_RESULT_COUNT];
static bool seen_transfer[QP_CREATE_TRANSFER_RESULT_COUNT];

/* ------------------------------------------------------------- helpers */

#define assert_u128_equal(a, b) assert_u128_equal_at((a), (b), __FILE__, __LINE__)

static void assert_u128_equal_at(qp_u128 a, qp_u128 b, const char *file, int line) {
  if (a == b) return;
  char x[QP_U128_BUF_SIZE], y[QP_U128_BUF_SIZE];
  qp_u128_format(a, x);
  qp_u128_format(b, y);
  print_error("%s != %s\n", x, y);
  _fail(file, line);
}

typedef struct fixture {
  qp_ledger_t *ledger;         /* the state machine under test */
  qp_ledger_changes_t changes; /* qp_ledger_take_changes() after every batch */
  uint64_t now_ns;             /* time input of the next batch */
  qp_u128 next_transfer_id;    /* for helpers that need a fresh transfer id */
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  if (f == NULL) return -1;
  qp_ledger_config_t config = {.track_changes = true};
  if (qp_ledger_create(&config, &f->ledger) != 0) return -1;
  f->now_ns = 1000 * NS_PER_S;
  f->next_transfer_id = 1000000;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  qp_ledger_changes_deinit(&f->changes);
  qp_ledger_destroy(f->ledger);
  free(f);
  return 0;
}

static qp_account_t account(qp_u128 id, uint32_t ledger, uint16_t flags) {
  qp_account_t a;
  memset(&a, 0, sizeof a);
  a.id = id;
  a.ledger = ledger;
  a.code = 10;
  a.flags = flags;
  return a;
}

static qp_transfer_t transfer(qp_u128 id, qp_u128 debit, qp_u128 credit, qp_u128 amount,
                              uint16_t flags) {
  qp_transfer_t t;
  memset(&t, 0, sizeof t);
  t.id = id;
  t.debit_account_id = debit;
  t.credit_account_id = credit;
  t.amount = amount;
  t.ledger = 1;
  t.code = 20;
  t.flags = flags;
  return t;
}

/* A post or void naming only the pending transfer: every other field 0
 * means "as the pending transfer". */
static qp_transfer_t resolve(qp_u128 id, qp_u128 pending_id, qp_u128 amount, uint16_t flags) {
  qp_transfer_t t;
  memset(&t, 0, sizeof t);
  t.id = id;
  t.pending_id = pending_id;
  t.amount = amount;
  t.flags = flags;
  return t;
}

/* Everything observable in the state: all accounts and all transfers with
 * their pending states, in creation order. */
typedef struct snapshot {
  qp_account_t accounts[SNAPSHOT_ROWS_MAX];
  uint32_t accounts_count;
  qp_transfer_t transfers[SNAPSHOT_ROWS_MAX];
  qp_pending_state_t states[SNAPSHOT_ROWS_MAX];
  uint32_t transfers_count;
} snapshot_t;

static snapshot_t snapshot_before, snapshot_after;

static int snapshot_account(void *ctx, const qp_account_t *a) {
  snapshot_t *s = ctx;
  if (s->accounts_count == SNAPSHOT_ROWS_MAX) return 1;
  s->accounts[s->accounts_count++] = *a;
  return 0;
}

static int snapshot_transfer(void *ctx, const qp_transfer_t *t, qp_pending_state_t state) {
  snapshot_t *s = ctx;
  if (s->transfers_count == SNAPSHOT_ROWS_MAX) return 1;
  s->transfers[s->transfers_count] = *t;
  s->states[s->transfers_count++] = state;
  return 0;
}

static void snapshot_take(const fixture_t *f, snapshot_t *s) {
  s->accounts_count = 0;
  s->transfers_count = 0;
  assert_int_equal(qp_ledger_each_account(f->ledger, snapshot_account, s), 0);
  assert_int_equal(qp_ledger_each_transfer(f->ledger, snapshot_transfer, s), 0);
}

/* Both records are plain data without padding (128 bytes each), so a byte
 * comparison is a field comparison. */
static bool snapshot_equal(const snapshot_t *x, const snapshot_t *y) {
  return x->accounts_count == y->accounts_count && x->transfers_count == y->transfers_count &&
         memcmp(x->accounts, y->accounts, x->accounts_count * sizeof x->accounts[0]) == 0 &&
         memcmp(x->transfers, y->transfers, x->transfers_count * sizeof x->transfers[0]) == 0 &&
         memcmp(x->states, y->states, x->transfers_count * sizeof x->states[0]) == 0;
}

/* The first timestamp of the next batch, from the contract. */
static uint64_t next_batch_timestamp(const fixture_t *f) {
  uint64_t last = qp_ledger_last_timestamp(f->ledger);
  return f->now_ns > last ? f->now_ns : last + 1;
}

/* Applies an account batch: marks the codes seen, checks the timestamps of
 * the created accounts and the invariant. */
static void accounts_batch(fixture_t *f, const qp_account_t *events, uint32_t count,
                           uint32_t *results) {
  uint64_t first = next_batch_timestamp(f);
  uint64_t last = qp_ledger_last_timestamp(f->ledger);
  bool imported = events[0].flags & A_IMPORTED;
  assert_int_equal(qp_ledger_create_accounts(f->ledger, f->now_ns, events, count, results), 0);
  assert_int_equal(qp_ledger_take_changes(f->ledger, &f->changes), 0);
  for (uint32_t i = 0; i < count; i++) {
    assert_true(results[i] < QP_CREATE_ACCOUNT_RESULT_COUNT);
    seen_account[results[i]] = true;
    if (results[i] != QP_CREATE_ACCOUNT_OK) continue;
    qp_account_t got;
    assert_int_equal(qp_ledger_lookup_account(f->ledger, events[i].id, &got), 0);
    /* An imported event keeps its timestamp, after every earlier one. */
    assert_int_equal(got.timestamp, imported ? events[i].timestamp : first + i);
    if (imported) assert_true(got.timestamp > last);
    if (imported) last = got.timestamp;
  }
  assert_int_equal(qp_ledger_last_timestamp(f->ledger), imported ? last : first + count - 1);
  assert_true(qp_ledger_check(f->ledger));
}

/* As accounts_batch, for transfers. */
static void transfers_batch(fixture_t *f, const qp_transfer_t *events, uint32_t count,
                            uint32_t *results) {
  uint64_t first = next_batch_timestamp(f);
  uint64_t last = qp_ledger_last_timestamp(f->ledger);
  bool imported = events[0].flags & T_IMPORTED;
  assert_int_equal(qp_ledger_create_transfers(f->ledger, f->now_ns, events, count, results), 0);
  assert_int_equal(qp_ledger_take_changes(f->ledger, &f->changes), 0);
  for (uint32_t i = 0; i < count; i++) {
    assert_true(results[i] < QP_CREATE_TRANSFER_RESULT_COUNT);
    seen_transfer[results[i]] = true;
    if (results[i] != QP_CREATE_TRANSFER_OK) continue;
    qp_transfer_t got;
    assert_int_equal(qp_ledger_lookup_transfer(f->ledger, events[i].id, &got, NULL), 0);
    assert_int_equal(got.timestamp, imported ? events[i].timestamp : first + i);
    if (imported) assert_true(got.timestamp > last);
    if (imported) last = got.timestamp;
  }
  assert_int_equal(qp_ledger_last_timestamp(f->ledger), imported ? last : first + count - 1);
  assert_true(qp_ledger_check(f->ledger));
}

/* Sends one account event and checks its exact result; a failure must
 * change nothing. */
#define expect_account(f, a, want) expect_account_at((f), (a), (want), __FILE__, __LINE__)

static void expect_account_at(fixture_t *f, qp_account_t a, uint32_t want, const char *file,
                              int line) {
  qp_account_t ignored;
  bool known = qp_ledger_lookup_account(f->ledger, a.id, &ignored) == 0;
  snapshot_take(f, &snapshot_before);
  uint32_t got = UINT32_MAX;
  accounts_batch(f, &a, 1, &got);
  if (got != want) {
    print_error("create_account: got %s, want %s\n", qp_create_account_result_name(got),
                qp_create_account_result_name(want));
    _fail(file, line);
  }
  if (want == QP_CREATE_ACCOUNT_OK) return;
  snapshot_take(f, &snapshot_after);
  if (!snapshot_equal(&snapshot_before, &snapshot_after)) {
    print_error("a failed create_account (%s) changed the state\n",
                qp_create_account_result_name(got));
    _fail(file, line);
  }
  if (!known && qp_ledger_lookup_account(f->ledger, a.id, &ignored) != QP_ENOTFOUND) {
    print_error("a failed create_account left its id behind\n");
    _fail(file, line);
  }
}

#define expect_transfer(f, t, want) expect_transfer_at((f), (t), (want), __FILE__, __LINE__)

static void expect_transfer_at(fixture_t *f, qp_transfer_t t, uint32_t want, const char *file,
                               int line) {
  qp_transfer_t ignored;
  bool known = qp_ledger_lookup_transfer(f->ledger, t.id, &ignored, NULL) == 0;
  snapshot_take(f, &snapshot_before);
  uint32_t got = UINT32_MAX;
  transfers_batch(f, &t, 1, &got);
  if (got != want) {
    print_error("create_transfer: got %s, want %s\n", qp_create_transfer_result_name(got),
                qp_create_transfer_result_name(want));
    _fail(file, line);
  }
  if (want == QP_CREATE_TRANSFER_OK) return;
  snapshot_take(f, &snapshot_after);
  if (!snapshot_equal(&snapshot_before, &snapshot_after)) {
    print_error("a failed create_transfer (%s) changed the state\n",
                qp_create_transfer_result_name(got));
    _fail(file, line);
  }
  if (!known && qp_ledger_lookup_transfer(f->ledger, t.id, &ignored, NULL) != QP_ENOTFOUND) {
    print_error("a failed create_transfer left its id behind\n");
    _fail(file, line);
  }
}

#define expect_results(kind, got, want, n) expect_results_at(kind, got, want, n, __FILE__, __LINE__)

/* Compares a batch's results with the expected codes, naming both. */
static void expect_results_at(char kind, const uint32_t *got, const uint32_t *want, uint32_t n,
                              const char *file, int line) {
  for (uint32_t i = 0; i < n; i++) {
    if (got[i] == want[i]) continue;
    const char *(*name)(uint32_t) =
        kind == 'a' ? qp_create_account_result_name : qp_create_transfer_result_name;
    print_error("event %u: got %s, want %s\n", i, name(got[i]), name(want[i]));
    _fail(file, line);
  }
}

static void make_account(fixture_t *f, qp_u128 id, uint32_t ledger, uint16_t flags) {
  expect_account(f, account(id, ledger, flags), QP_CREATE_ACCOUNT_OK);
}

/* The usual cast: BANK (no limits) and A, B, C, D on ledger 1. */
static void make_accounts(fixture_t *f) {
  make_account(f, BANK, 1, 0);
  make_account(f, A, 1, 0);
  make_account(f, B, 1, 0);
  make_account(f, C, 1, 0);
  make_account(f, D, 1, 0);
}

static qp_u128 fresh_id(fixture_t *f) { return f->next_transfer_id++; }

/* Moves `amount` from `debit` to `credit` as a posted transfer. */
static void move(fixture_t *f, qp_u128 debit, qp_u128 credit, qp_u128 amount) {
  expect_transfer(f, transfer(fresh_id(f), debit, credit, amount, 0), QP_CREATE_TRANSFER_OK);
}

static qp_account_t get_account(const fixture_t *f, qp_u128 id) {
  qp_account_t a;
  assert_int_equal(qp_ledger_lookup_account(f->ledger, id, &a), 0);
  return a;
}

static qp_transfer_t get_transfer(const fixture_t *f, qp_u128 id, qp_pending_state_t *state) {
  qp_transfer_t t;
  assert_int_equal(qp_ledger_lookup_transfer(f->ledger, id, &t, state), 0);
  return t;
}

static void assert_transfer_unknown(const fixture_t *f, qp_u128 id) {
  qp_transfer_t t;
  assert_int_equal(qp_ledger_lookup_transfer(f->ledger, id, &t, NULL), QP_ENOTFOUND);
}

static void assert_account_unknown(const fixture_t *f, qp_u128 id) {
  qp_account_t a;
  assert_int_equal(qp_ledger_lookup_account(f->ledger, id, &a), QP_ENOTFOUND);
}

static qp_pending_state_t pending_state(const fixture_t *f, qp_u128 id) {
  qp_pending_state_t state = QP_PENDING_NONE;
  get_transfer(f, id, &state);
  return state;
}

#define assert_balances(f, id, dp, dpo, cp, cpo) \
  assert_balances_at((f), (id), (dp), (dpo), (cp), (cpo), __FILE__, __LINE__)

static void assert_balances_at(const fixture_t *f, qp_u128 id, qp_u128 debits_pending,
                               qp_u128 debits_posted, qp_u128 credits_pending,
                               qp_u128 credits_posted, const char *file, int line) {
  qp_account_t a = get_account(f, id);
  assert_u128_equal_at(a.debits_pending, debits_pending, file, line);
  assert_u128_equal_at(a.debits_posted, debits_posted, file, line);
  assert_u128_equal_at(a.credits_pending, credits_pending, file, line);
  assert_u128_equal_at(a.credits_posted, credits_posted, file, line);
}

/* Runs an expiry sweep at f->now_ns and returns how many expired. */
static uint32_t expire(fixture_t *f) {
  uint32_t expired = UINT32_MAX;
  assert_int_equal(qp_ledger_expire(f->ledger, f->now_ns, &expired), 0);
  assert_int_equal(qp_ledger_take_changes(f->ledger, &f->changes), 0);
  assert_true(qp_ledger_check(f->ledger));
  return expired;
}

/* ------------------------------------------------------------- accounts */

static void test_account_ok(void **state) {
  fixture_t *f = *state;
  qp_account_t a = account(A, 7, A_HISTORY | A_DR_LIMIT);
  a.code = 65535;
  a.user_data_128 = MAX;
  a.user_data_64 = UINT64_MAX;
  a.user_data_32 = UINT32_MAX;
  uint64_t ts = next_batch_timestamp(f);
  expect_account(f, a, QP_CREATE_ACCOUNT_OK);
  qp_account_t got = get_account(f, A);
  a.timestamp = ts;
  assert_memory_equal(&got, &a, sizeof a);
  assert_int_equal(qp_ledger_account_count(f->ledger), 1);
  /* The largest id allowed is 2^128-2. */
  make_account(f, MAX - 1, 1, 0);
}

static void test_account_static_errors(void **state) {
  fixture_t *f = *state;
  qp_account_t a = account(A, 1, 0);
  a.timestamp = 1;
  expect_account(f, a, QP_CREATE_ACCOUNT_TIMESTAMP_MUST_BE_ZERO);

  a = account(A, 1, 0);
  a.reserved = 1;
  expect_account(f, a, QP_CREATE_ACCOUNT_RESERVED_FIELD);
  a.reserved = 0x80000000u;
  expect_account(f, a, QP_CREATE_ACCOUNT_RESERVED_FIELD);

  for (uint32_t bit = 6; bit < 16; bit++)
    expect_account(f, account(A, 1, (uint16_t)(1u << bit)), QP_CREATE_ACCOUNT_RESERVED_FLAG);
  expect_account(f, account(A, 1, (uint16_t)(A_HISTORY | 0x100u)), QP_CREATE_ACCOUNT_RESERVED_FLAG);

  expect_account(f, account(0, 1, 0), QP_CREATE_ACCOUNT_ID_MUST_NOT_BE_ZERO);
  expect_account(f, account(MAX, 1, 0), QP_CREATE_ACCOUNT_ID_MUST_NOT_BE_INT_MAX);

  expect_account(f, account(A, 1, A_DR_LIMIT | A_CR_LIMIT),
                 QP_CREATE_ACCOUNT_FLAGS_ARE_MUTUALLY_EXCLUSIVE);
  expect_account(f, account(A, 1, A_DR_LIMIT | A_CR_LIMIT | A_HISTORY),
                 QP_CREATE_ACCOUNT_FLAGS_ARE_MUTUALLY_EXCLUSIVE);

  a = account(A, 1, 0);
  a.debits_pending = 1;
  expect_account(f, a, QP_CREATE_ACCOUNT_DEBITS_PENDING_MUST_BE_ZERO);
  a = account(A, 1, 0);
  a.debits_posted = MAX;
  expect_account(f, a, QP_CREATE_ACCOUNT_DEBITS_POSTED_MUST_BE_ZERO);
  a = account(A, 1, 0);
  a.credits_pending = (qp_u128)1 << 100;
  expect_account(f, a, QP_CREATE_ACCOUNT_CREDITS_PENDING_MUST_BE_ZERO);
  a = account(A, 1, 0);
  a.credits_posted = 5;
  expect_account(f, a, QP_CREATE_ACCOUNT_CREDITS_POSTED_MUST_BE_ZERO);

  expect_account(f, account(A, 0, 0), QP_CREATE_ACCOUNT_LEDGER_MUST_NOT_BE_ZERO);
  a = account(A, 1, 0);
  a.code = 0;
  expect_account(f, a, QP_CREATE_ACCOUNT_CODE_MUST_NOT_BE_ZERO);

  assert_int_equal(qp_ledger_account_count(f->ledger), 0);
  /* After all that, the id is still free. */
  make_account(f, A, 1, 0);
}

static void test_account_exists(void **state) {
  fixture_t *f = *state;
  qp_account_t a = account(A, 1, A_HISTORY);
  a.user_data_128 = 128;
  a.user_data_64 = 64;
  a.user_data_32 = 32;
  expect_account(f, a, QP_CREATE_ACCOUNT_OK);
  qp_account_t stored = get_account(f, A);

  f->now_ns += NS_PER_S;
  expect_account(f, a, QP_CREATE_ACCOUNT_EXISTS);
  /* `linked` describes the batch, not the account. */
  qp_account_t linked = a;
  linked.flags |= A_LINKED;
  uint32_t results[2];
  qp_account_t pair[2] = {linked, account(B, 1, 0)};
  accounts_batch(f, pair, 2, results);
  /* An `exists` is not ok, so inside a chain it fails the chain. */
  assert_int_equal(results[0], QP_CREATE_ACCOUNT_EXISTS);
  assert_int_equal(results[1], QP_CREATE_ACCOUNT_LINKED_EVENT_FAILED);
  assert_account_unknown(f, B);

  qp_account_t d = a;
  d.flags = A_DR_LIMIT | A_HISTORY;
  expect_account(f, d, QP_CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_FLAGS);
  d = a;
  d.flags = 0;
  expect_account(f, d, QP_CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_FLAGS);
  d = a;
  d.user_data_128 = 129;
  expect_account(f, d, QP_CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_USER_DATA_128);
  d = a;
  d.user_data_64 = 0;
  expect_account(f, d, QP_CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_USER_DATA_64);
  d = a;
  d.user_data_32 = 33;
  expect_account(f, d, QP_CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_USER_DATA_32);
  d = a;
  d.ledger = 2;
  expect_account(f, d, QP_CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_LEDGER);
  d = a;
  d.code = 11;
  expect_account(f, d, QP_CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_CODE);
  /* Static checks come before the existence check. */
  d = a;
  d.timestamp = 5;
  expect_account(f, d, QP_CREATE_ACCOUNT_TIMESTAMP_MUST_BE_ZERO);

  /* Nothing was applied twice: the stored account is exactly the first. */
  qp_account_t now = get_account(f, A);
  assert_memory_equal(&now, &stored, sizeof now);
  assert_int_equal(qp_ledger_account_count(f->ledger), 1);
}

/* Checks that an account chain left open at the end of a batch fails as a whole. */
static void check_account_chain_open(fixture_t *f) {
  uint32_t r[4];

  /* A chain left open at the end of the batch. */
  qp_account_t open[3] = {account(A, 1, 0), account(B, 1, A_LINKED), account(C, 1, A_LINKED)};
  accounts_batch(f, open, 3, r);
  expect_results('a', r,
                 ((uint32_t[]){QP_CREATE_ACCOUNT_OK, QP_CREATE_ACCOUNT_LINKED_EVENT_FAILED,
                               QP_CREATE_ACCOUNT_LINKED_EVENT_CHAIN_OPEN}),
                 3);
  assert_account_unknown(f, B);
  assert_account_unknown(f, C);
  qp_account_t open1 = account(B, 1, A_LINKED);
  accounts_batch(f, &open1, 1, r);
  assert_int_equal(r[0], QP_CREATE_ACCOUNT_LINKED_EVENT_CHAIN_OPEN);
  assert_account_unknown(f, B);
}

static void test_account_linked_chains(void **state) {
  fixture_t *f = *state;
  uint32_t r[4];

  /* A chain whose last event fails: the ones before are rolled back. */
  qp_account_t bad_last[3] = {account(A, 1, A_LINKED), account(B, 1, A_LINKED), account(C, 0, 0)};
  accounts_batch(f, bad_last, 3, r);
  expect_results(
      'a', r,
      ((uint32_t[]){QP_CREATE_ACCOUNT_LINKED_EVENT_FAILED, QP_CREATE_ACCOUNT_LINKED_EVENT_FAILED,
                    QP_CREATE_ACCOUNT_LEDGER_MUST_NOT_BE_ZERO}),
      3);
  assert_account_unknown(f, A);
  assert_account_unknown(f, B);
  assert_account_unknown(f, C);
  assert_int_equal(qp_ledger_account_count(f->ledger), 0);
  assert_int_equal(f->changes.accounts_count, 0);

  /* A failure in the middle: before and after it, linked_event_failed; the
   * event after the chain is independent. */
  qp_account_t bad_middle[4] = {account(A, 1, A_LINKED), account(0, 1, A_LINKED), account(B, 1, 0),
                                account(D, 1, 0)};
  accounts_batch(f, bad_middle, 4, r);
  expect_results(
      'a', r,
      ((uint32_t[]){QP_CREATE_ACCOUNT_LINKED_EVENT_FAILED, QP_CREATE_ACCOUNT_ID_MUST_NOT_BE_ZERO,
                    QP_CREATE_ACCOUNT_LINKED_EVENT_FAILED, QP_CREATE_ACCOUNT_OK}),
      4);
  assert_account_unknown(f, A);
  assert_account_unknown(f, B);
  get_account(f, D);
  /* A rolled-back account must not reach the index: the changes hold D only
   * (once, although D reused the rolled-back row). */
  assert_int_equal(f->changes.accounts_count, 1);
  assert_u128_equal(f->changes.accounts[0].id, D);

  /* The same id twice in one chain: the second is `exists`, which fails the
   * chain, and the first is rolled back with it. */
  qp_account_t twice[2] = {account(A, 1, A_LINKED), account(A, 1, 0)};
  accounts_batch(f, twice, 2, r);
  expect_results(
      'a', r, ((uint32_t[]){QP_CREATE_ACCOUNT_LINKED_EVENT_FAILED, QP_CREATE_ACCOUNT_EXISTS}), 2);
  assert_account_unknown(f, A);

  check_account_chain_open(f);

  /* A whole chain that succeeds, then a second chain in the same batch. */
  qp_account_t good[4] = {account(B, 1, A_LINKED), account(C, 1, 0), account(10, 2, A_LINKED),
                          account(11, 2, 0)};
  accounts_batch(f, good, 4, r);
  expect_results('a', r,
                 ((uint32_t[]){QP_CREATE_ACCOUNT_OK, QP_CREATE_ACCOUNT_OK, QP_CREATE_ACCOUNT_OK,
                               QP_CREATE_ACCOUNT_OK}),
                 4);
  assert_int_equal(qp_ledger_account_count(f->ledger), 6);

  /* Rolled-back ids can be reused, and a rolled-back account cannot be used
   * by a transfer. */
  qp_account_t rolled[2] = {account(20, 1, A_LINKED), account(21, 0, 0)};
  accounts_batch(f, rolled, 2, r);
  assert_int_equal(r[0], QP_CREATE_ACCOUNT_LINKED_EVENT_FAILED);
  expect_transfer(f, transfer(1, 20, A, 1, 0), QP_CREATE_TRANSFER_DEBIT_ACCOUNT_NOT_FOUND);
  expect_transfer(f, transfer(1, A, 20, 1, 0), QP_CREATE_TRANSFER_CREDIT_ACCOUNT_NOT_FOUND);
  make_account(f, 20, 1, 0);
}

/* ------------------------------------------------------------ transfers */

static void test_transfer_ok(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  qp_transfer_t t = transfer(1, A, B, 100, 0);
  t.user_data_128 = 1;
  t.user_data_64 = 2;
  t.user_data_32 = 3;
  uint64_t ts = next_batch_timestamp(f);
  expect_transfer(f, t, QP_CREATE_TRANSFER_OK);
  qp_pending_state_t state_out = QP_PENDING_EXPIRED;
  qp_transfer_t got = get_transfer(f, 1, &state_out);
  t.timestamp = ts;
  assert_memory_equal(&got, &t, sizeof t);
  assert_int_equal(state_out, QP_PENDING_NONE);
  assert_balances(f, A, 0, 100, 0, 0);
  assert_balances(f, B, 0, 0, 0, 100);
  /* Accounts without limits can go either way. */
  move(f, B, A, 250);
  assert_balances(f, A, 0, 100, 0, 250);
  assert_balances(f, B, 0, 250, 0, 100);
  /* The largest amount and the largest id allowed. */
  expect_transfer(f, transfer(MAX - 1, C, D, MAX, 0), QP_CREATE_TRANSFER_OK);
  assert_balances(f, C, 0, MAX, 0, 0);
  assert_int_equal(qp_ledger_transfer_count(f->ledger), 3);
}

/* Checks that mutually exclusive transfer flags are refused. */
static void check_exclusive_flags(fixture_t *f) {
  qp_transfer_t t;
  /* Mutually exclusive flags: one kind only, and balancing is not for
   * posts or voids. */
  static const uint16_t exclusive[] = {
      T_PENDING | T_POST,          T_PENDING | T_VOID, T_POST | T_VOID,
      T_PENDING | T_POST | T_VOID, T_BAL_DR | T_POST,  T_BAL_CR | T_POST,
      T_BAL_DR | T_VOID,           T_BAL_CR | T_VOID,  T_BAL_DR | T_BAL_CR | T_POST,
      T_LINKED | T_POST | T_VOID,
  };
  for (size_t i = 0; i < sizeof exclusive / sizeof exclusive[0]; i++) {
    t = transfer(1, A, B, 10, exclusive[i]);
    t.pending_id = 7;
    if (exclusive[i] & T_LINKED) {
      /* A linked event needs a successor not to be an open chain. */
      qp_transfer_t pair[2] = {t, transfer(2, A, B, 1, 0)};
      uint32_t r[2];
      transfers_batch(f, pair, 2, r);
      assert_int_equal(r[0], QP_CREATE_TRANSFER_FLAGS_ARE_MUTUALLY_EXCLUSIVE);
      assert_int_equal(r[1], QP_CREATE_TRANSFER_LINKED_EVENT_FAILED);
      continue;
    }
    expect_transfer(f, t, QP_CREATE_TRANSFER_FLAGS_ARE_MUTUALLY_EXCLUSIVE);
  }
}

/* Checks that a timeout is refused on anything but a pending transfer. */
static void check_timeout_only_pending(fixture_t *f) {
  qp_transfer_t t;
  /* Timeouts belong to pending transfers only. */
  t = transfer(1, A, B, 10, 0);
  t.timeout = 1;
  expect_transfer(f, t, QP_CREATE_TRANSFER_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER);
  t = transfer(1, A, B, 10, T_BAL_DR);
  t.timeout = UINT32_MAX;
  expect_transfer(f, t, QP_CREATE_TRANSFER_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER);
  t = resolve(1, 7, 0, T_POST);
  t.timeout = 1;
  expect_transfer(f, t, QP_CREATE_TRANSFER_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER);
  t.flags = T_VOID;
  expect_transfer(f, t, QP_CREATE_TRANSFER_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER);
}

static void test_transfer_static_errors(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  qp_transfer_t t = transfer(1, A, B, 10, 0);
  t.timestamp = 1;
  expect_transfer(f, t, QP_CREATE_TRANSFER_TIMESTAMP_MUST_BE_ZERO);

  for (uint32_t bit = 9; bit < 16; bit++)
    expect_transfer(f, transfer(1, A, B, 10, (uint16_t)(1u << bit)),
                    QP_CREATE_TRANSFER_RESERVED_FLAG);
  expect_transfer(f, transfer(1, A, B, 10, (uint16_t)(T_PENDING | 0x200u)),
                  QP_CREATE_TRANSFER_RESERVED_FLAG);

  /* Every id field: 0 and 2^128-1. */
  expect_transfer(f, transfer(0, A, B, 10, 0), QP_CREATE_TRANSFER_ID_MUST_NOT_BE_ZERO);
  expect_transfer(f, transfer(MAX, A, B, 10, 0), QP_CREATE_TRANSFER_ID_MUST_NOT_BE_INT_MAX);
  expect_transfer(f, transfer(1, 0, B, 10, 0),
                  QP_CREATE_TRANSFER_DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO);
  expect_transfer(f, transfer(1, MAX, B, 10, 0),
                  QP_CREATE_TRANSFER_DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX);
  expect_transfer(f, transfer(1, A, 0, 10, 0),
                  QP_CREATE_TRANSFER_CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO);
  expect_transfer(f, transfer(1, A, MAX, 10, 0),
                  QP_CREATE_TRANSFER_CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX);
  expect_transfer(f, resolve(1, 0, 0, T_POST), QP_CREATE_TRANSFER_PENDING_ID_MUST_NOT_BE_ZERO);
  expect_transfer(f, resolve(1, 0, 0, T_VOID), QP_CREATE_TRANSFER_PENDING_ID_MUST_NOT_BE_ZERO);
  expect_transfer(f, resolve(1, MAX, 0, T_POST), QP_CREATE_TRANSFER_PENDING_ID_MUST_NOT_BE_INT_MAX);
  expect_transfer(f, resolve(1, MAX, 0, T_VOID), QP_CREATE_TRANSFER_PENDING_ID_MUST_NOT_BE_INT_MAX);
  expect_transfer(f, resolve(1, 1, 0, T_POST), QP_CREATE_TRANSFER_PENDING_ID_MUST_BE_DIFFERENT);
  expect_transfer(f, resolve(1, 1, 0, T_VOID), QP_CREATE_TRANSFER_PENDING_ID_MUST_BE_DIFFERENT);
  t = transfer(1, A, B, 10, 0);
  t.pending_id = 5;
  expect_transfer(f, t, QP_CREATE_TRANSFER_PENDING_ID_MUST_BE_ZERO);
  t.flags = T_PENDING;
  expect_transfer(f, t, QP_CREATE_TRANSFER_PENDING_ID_MUST_BE_ZERO);

  check_exclusive_flags(f);

  check_timeout_only_pending(f);

  expect_transfer(f, transfer(1, A, A, 10, 0), QP_CREATE_TRANSFER_ACCOUNTS_MUST_BE_DIFFERENT);
  expect_transfer(f, transfer(1, A, B, 0, 0), QP_CREATE_TRANSFER_AMOUNT_MUST_NOT_BE_ZERO);
  expect_transfer(f, transfer(1, A, B, 0, T_PENDING), QP_CREATE_TRANSFER_AMOUNT_MUST_NOT_BE_ZERO);
  expect_transfer(f, transfer(1, A, B, 0, T_BAL_DR), QP_CREATE_TRANSFER_AMOUNT_MUST_NOT_BE_ZERO);
  t = transfer(1, A, B, 10, 0);
  t.ledger = 0;
  expect_transfer(f, t, QP_CREATE_TRANSFER_LEDGER_MUST_NOT_BE_ZERO);
  t = transfer(1, A, B, 10, 0);
  t.code = 0;
  expect_transfer(f, t, QP_CREATE_TRANSFER_CODE_MUST_NOT_BE_ZERO);

  /* Static checks run before the accounts are looked up. */
  expect_transfer(f, transfer(1, UNKNOWN, UNKNOWN, 10, 0),
                  QP_CREATE_TRANSFER_ACCOUNTS_MUST_BE_DIFFERENT);
  assert_int_equal(qp_ledger_transfer_count(f->ledger), 0);
  move(f, A, B, 1);
}

static void test_transfer_account_errors(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  make_account(f, 20, 2, 0);
  make_account(f, 21, 2, 0);
  expect_transfer(f, transfer(1, UNKNOWN, B, 10, 0), QP_CREATE_TRANSFER_DEBIT_ACCOUNT_NOT_FOUND);
  expect_transfer(f, transfer(1, UNKNOWN, UNKNOWN + 1, 10, 0),
                  QP_CREATE_TRANSFER_DEBIT_ACCOUNT_NOT_FOUND);
  expect_transfer(f, transfer(1, A, UNKNOWN, 10, 0), QP_CREATE_TRANSFER_CREDIT_ACCOUNT_NOT_FOUND);
  expect_transfer(f, transfer(1, A, UNKNOWN, 10, T_PENDING),
                  QP_CREATE_TRANSFER_CREDIT_ACCOUNT_NOT_FOUND);
  expect_transfer(f, transfer(1, A, 20, 10, 0),
                  QP_CREATE_TRANSFER_ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER);
  expect_transfer(f, transfer(1, 20, A, 10, T_PENDING),
                  QP_CREATE_TRANSFER_ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER);
  qp_transfer_t t = transfer(1, 20, 21, 10, 0); /* both on ledger 2, transfer on 1 */
  expect_transfer(f, t, QP_CREATE_TRANSFER_TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS);
  t = transfer(1, A, B, 10, 0);
  t.ledger = 2;
  expect_transfer(f, t, QP_CREATE_TRANSFER_TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS);
  t = transfer(1, 20, 21, 10, 0);
  t.ledger = 2;
  expect_transfer(f, t, QP_CREATE_TRANSFER_OK);
  assert_balances(f, 20, 0, 10, 0, 0);
}

/* Checks that a re-sent transfer differing from the stored one t names the first field. */
static void check_transfer_exists_with_different(fixture_t *f, qp_transfer_t t) {
  qp_transfer_t d = t;
  d.flags = 0;
  d.timeout = 0;
  expect_transfer(f, d, QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_FLAGS);
  d = t;
  d.flags = T_PENDING | T_BAL_DR;
  expect_transfer(f, d, QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_FLAGS);
  d = t;
  d.debit_account_id = C;
  expect_transfer(f, d, QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID);
  d = t;
  d.credit_account_id = C;
  expect_transfer(f, d, QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID);
  d = t;
  d.amount = 11;
  expect_transfer(f, d, QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_AMOUNT);
  d = t;
  d.user_data_128 = 0;
  expect_transfer(f, d, QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_USER_DATA_128);
  d = t;
  d.user_data_64 = 65;
  expect_transfer(f, d, QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_USER_DATA_64);
  d = t;
  d.user_data_32 = 31;
  expect_transfer(f, d, QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_USER_DATA_32);
  d = t;
  d.timeout = 61;
  expect_transfer(f, d, QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_TIMEOUT);
  d = t;
  d.ledger = 2;
  expect_transfer(f, d, QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_LEDGER);
  d = t;
  d.code = 21;
  expect_transfer(f, d, QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_CODE);
  /* Fields are compared in a fixed order: flags before everything. */
  d = t;
  d.flags = T_PENDING | T_BAL_CR;
  d.amount = 99;
  d.code = 99;
  expect_transfer(f, d, QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_FLAGS);
  /* A re-sent event is checked statically first. */
  d = t;
  d.debit_account_id = 0;
  expect_transfer(f, d, QP_CREATE_TRANSFER_DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO);
}

static void test_transfer_exists(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  qp_transfer_t t = transfer(1, A, B, 10, T_PENDING);
  t.user_data_128 = 128;
  t.user_data_64 = 64;
  t.user_data_32 = 32;
  t.timeout = 60;
  expect_transfer(f, t, QP_CREATE_TRANSFER_OK);
  qp_transfer_t stored = get_transfer(f, 1, NULL);

  f->now_ns += NS_PER_S;
  expect_transfer(f, t, QP_CREATE_TRANSFER_EXISTS);
  expect_transfer(f, t, QP_CREATE_TRANSFER_EXISTS);
  qp_transfer_t linked = t;
  linked.flags |= T_LINKED;
  qp_transfer_t pair[2] = {linked, transfer(2, A, B, 1, 0)};
  uint32_t r[2];
  transfers_batch(f, pair, 2, r);
  assert_int_equal(r[0], QP_CREATE_TRANSFER_EXISTS);              /* linked is not compared... */
  assert_int_equal(r[1], QP_CREATE_TRANSFER_LINKED_EVENT_FAILED); /* ...but fails the chain */

  check_transfer_exists_with_different(f, t);

  /* Nothing was applied twice. */
  qp_transfer_t now = get_transfer(f, 1, NULL);
  assert_memory_equal(&now, &stored, sizeof now);
  assert_balances(f, A, 10, 0, 0, 0);
  assert_balances(f, B, 0, 0, 10, 0);
  assert_int_equal(qp_ledger_transfer_count(f->ledger), 1);

  /* A posted transfer re-sent: still applied once. */
  qp_transfer_t plain = transfer(3, C, D, 5, 0);
  expect_transfer(f, plain, QP_CREATE_TRANSFER_OK);
  expect_transfer(f, plain, QP_CREATE_TRANSFER_EXISTS);
  qp_transfer_t plain_pair[2] = {plain, plain};
  transfers_batch(f, plain_pair, 2, r);
  assert_int_equal(r[0], QP_CREATE_TRANSFER_EXISTS);
  assert_int_equal(r[1], QP_CREATE_TRANSFER_EXISTS);
  assert_balances(f, C, 0, 5, 0, 0);
  /* The same new id twice in one batch: the second sees the first. */
  qp_transfer_t fresh = transfer(4, C, D, 7, 0);
  qp_transfer_t fresh_pair[2] = {fresh, fresh};
  transfers_batch(f, fresh_pair, 2, r);
  assert_int_equal(r[0], QP_CREATE_TRANSFER_OK);
  assert_int_equal(r[1], QP_CREATE_TRANSFER_EXISTS);
  assert_balances(f, C, 0, 12, 0, 0);
}

/* --------------------------------------------------------- two-phase */

static void test_two_phase_post_full(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  qp_transfer_t p = transfer(10, A, B, 100, T_PENDING);
  p.code = 7;
  expect_transfer(f, p, QP_CREATE_TRANSFER_OK);
  assert_balances(f, A, 100, 0, 0, 0);
  assert_balances(f, B, 0, 0, 100, 0);
  assert_int_equal(pending_state(f, 10), QP_PENDING_PENDING);

  uint64_t ts = next_batch_timestamp(f);
  expect_transfer(f, resolve(11, 10, 0, T_POST), QP_CREATE_TRANSFER_OK);
  assert_balances(f, A, 0, 100, 0, 0);
  assert_balances(f, B, 0, 0, 0, 100);
  assert_int_equal(pending_state(f, 10), QP_PENDING_POSTED);
  /* The stored post carries the pending's accounts, ledger and code and the
   * amount actually posted. */
  qp_pending_state_t st = QP_PENDING_EXPIRED;
  qp_transfer_t post = get_transfer(f, 11, &st);
  assert_int_equal(st, QP_PENDING_NONE);
  assert_u128_equal(post.debit_account_id, A);
  assert_u128_equal(post.credit_account_id, B);
  assert_u128_equal(post.amount, 100);
  assert_u128_equal(post.pending_id, 10);
  assert_int_equal(post.ledger, 1);
  assert_int_equal(post.code, 7);
  assert_int_equal(post.flags, T_POST);
  assert_int_equal(post.timestamp, ts);
  /* The changes carry the post and the pending's new state. */
  assert_int_equal(f->changes.transfers_count, 1);
  assert_int_equal(f->changes.pending_count, 1);
  assert_u128_equal(f->changes.pending[0].transfer_id, 10);
  assert_int_equal(f->changes.pending[0].state, QP_PENDING_POSTED);

  expect_transfer(f, resolve(12, 10, 0, T_POST),
                  QP_CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_POSTED);
  expect_transfer(f, resolve(12, 10, 0, T_VOID),
                  QP_CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_POSTED);
  expect_transfer(f, resolve(12, 10, 100, T_POST),
                  QP_CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_POSTED);

  /* Re-sending the post: amount 0 means "the full amount", so 0 and 100
   * both match what was stored, and any other amount does not. */
  expect_transfer(f, resolve(11, 10, 0, T_POST), QP_CREATE_TRANSFER_EXISTS);
  expect_transfer(f, resolve(11, 10, 100, T_POST), QP_CREATE_TRANSFER_EXISTS);
  expect_transfer(f, resolve(11, 10, 99, T_POST), QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_AMOUNT);
  expect_transfer(f, resolve(11, 12, 0, T_POST),
                  QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_PENDING_ID);
  expect_transfer(f, resolve(11, 10, 0, T_VOID), QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_FLAGS);
  qp_transfer_t again = resolve(11, 10, 0, T_POST);
  again.debit_account_id = A; /* explicit and equal: still the same event */
  again.credit_account_id = B;
  again.ledger = 1;
  again.code = 7;
  expect_transfer(f, again, QP_CREATE_TRANSFER_EXISTS);
  again.debit_account_id = C;
  expect_transfer(f, again, QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID);
  again.debit_account_id = A;
  again.credit_account_id = C;
  expect_transfer(f, again, QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID);
  again.credit_account_id = B;
  again.ledger = 3;
  expect_transfer(f, again, QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_LEDGER);
  again.ledger = 1;
  again.code = 8;
  expect_transfer(f, again, QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_CODE);
  assert_balances(f, A, 0, 100, 0, 0);
}

static void test_two_phase_post_partial(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  expect_transfer(f, transfer(20, A, B, 100, T_PENDING), QP_CREATE_TRANSFER_OK);
  expect_transfer(f, resolve(21, 20, 101, T_POST),
                  QP_CREATE_TRANSFER_EXCEEDS_PENDING_TRANSFER_AMOUNT);
  expect_transfer(f, resolve(21, 20, MAX, T_POST),
                  QP_CREATE_TRANSFER_EXCEEDS_PENDING_TRANSFER_AMOUNT);
  expect_transfer(f, resolve(21, 20, 30, T_POST), QP_CREATE_TRANSFER_OK);
  /* 30 posted, the other 70 released. */
  assert_balances(f, A, 0, 30, 0, 0);
  assert_balances(f, B, 0, 0, 0, 30);
  assert_u128_equal(get_transfer(f, 21, NULL).amount, 30);
  assert_int_equal(pending_state(f, 20), QP_PENDING_POSTED);
  expect_transfer(f, resolve(22, 20, 70, T_POST),
                  QP_CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_POSTED);
  expect_transfer(f, resolve(21, 20, 30, T_POST), QP_CREATE_TRANSFER_EXISTS);
  expect_transfer(f, resolve(21, 20, 0, T_POST), QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_AMOUNT);
  expect_transfer(f, resolve(21, 20, 31, T_POST), QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_AMOUNT);

  /* Posting the exact amount explicitly is a full post. */
  expect_transfer(f, transfer(30, A, B, 5, T_PENDING), QP_CREATE_TRANSFER_OK);
  expect_transfer(f, resolve(31, 30, 5, T_POST), QP_CREATE_TRANSFER_OK);
  assert_balances(f, A, 0, 35, 0, 0);
}

static void test_two_phase_void(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  move(f, BANK, A, 1000);
  expect_transfer(f, transfer(30, A, B, 50, T_PENDING), QP_CREATE_TRANSFER_OK);
  assert_balances(f, A, 50, 0, 0, 1000);
  expect_transfer(f, resolve(31, 30, 49, T_VOID),
                  QP_CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT);
  expect_transfer(f, resolve(31, 30, 51, T_VOID),
                  QP_CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT);
  expect_transfer(f, resolve(31, 30, 0, T_VOID), QP_CREATE_TRANSFER_OK);
  assert_balances(f, A, 0, 0, 0, 1000);
  assert_balances(f, B, 0, 0, 0, 0);
  assert_int_equal(pending_state(f, 30), QP_PENDING_VOIDED);
  qp_transfer_t v = get_transfer(f, 31, NULL);
  assert_u128_equal(v.amount, 50);
  assert_u128_equal(v.debit_account_id, A);
  assert_u128_equal(v.credit_account_id, B);
  assert_int_equal(f->changes.pending_count, 1);
  assert_int_equal(f->changes.pending[0].state, QP_PENDING_VOIDED);

  expect_transfer(f, resolve(32, 30, 0, T_VOID),
                  QP_CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_VOIDED);
  expect_transfer(f, resolve(32, 30, 0, T_POST),
                  QP_CREATE_TRANSFER_PENDING_TRANSFER_ALREADY_VOIDED);
  expect_transfer(f, resolve(31, 30, 0, T_VOID), QP_CREATE_TRANSFER_EXISTS);
  expect_transfer(f, resolve(31, 30, 50, T_VOID), QP_CREATE_TRANSFER_EXISTS);
  expect_transfer(f, resolve(31, 30, 49, T_VOID), QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_AMOUNT);

  /* A void may name the full amount explicitly. */
  expect_transfer(f, transfer(40, A, B, 40, T_PENDING), QP_CREATE_TRANSFER_OK);
  expect_transfer(f, resolve(41, 40, 40, T_VOID), QP_CREATE_TRANSFER_OK);
  assert_balances(f, A, 0, 0, 0, 1000);
}

static void test_two_phase_errors(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  make_account(f, 20, 2, 0);
  make_account(f, 21, 2, 0);
  expect_transfer(f, transfer(50, A, B, 40, T_PENDING), QP_CREATE_TRANSFER_OK);
  expect_transfer(f, transfer(51, A, B, 40, 0), QP_CREATE_TRANSFER_OK);

  expect_transfer(f, resolve(60, 999, 0, T_POST), QP_CREATE_TRANSFER_PENDING_TRANSFER_NOT_FOUND);
  expect_transfer(f, resolve(60, 999, 0, T_VOID), QP_CREATE_TRANSFER_PENDING_TRANSFER_NOT_FOUND);
  expect_transfer(f, resolve(60, 51, 0, T_POST), QP_CREATE_TRANSFER_PENDING_TRANSFER_NOT_PENDING);
  expect_transfer(f, resolve(60, 51, 0, T_VOID), QP_CREATE_TRANSFER_PENDING_TRANSFER_NOT_PENDING);

  qp_transfer_t t = resolve(60, 50, 0, T_POST);
  t.debit_account_id = B;
  expect_transfer(f, t, QP_CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID);
  t = resolve(60, 50, 0, T_VOID);
  t.credit_account_id = A;
  expect_transfer(f, t, QP_CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID);
  t = resolve(60, 50, 0, T_POST);
  t.ledger = 2;
  expect_transfer(f, t, QP_CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_LEDGER);
  t = resolve(60, 50, 0, T_VOID);
  t.code = 99;
  expect_transfer(f, t, QP_CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_CODE);
  /* Unknown accounts on a post are only compared, never looked up. */
  t = resolve(60, 50, 0, T_POST);
  t.debit_account_id = UNKNOWN;
  expect_transfer(f, t, QP_CREATE_TRANSFER_PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID);

  /* A post of a post is not a post of a pending. */
  expect_transfer(f, resolve(61, 50, 10, T_POST), QP_CREATE_TRANSFER_OK);
  expect_transfer(f, resolve(62, 61, 0, T_POST), QP_CREATE_TRANSFER_PENDING_TRANSFER_NOT_PENDING);

  /* Every field explicit and equal to the pending's. */
  t = transfer(70, 20, 21, 8, T_PENDING);
  t.ledger = 2;
  expect_transfer(f, t, QP_CREATE_TRANSFER_OK);
  t = transfer(71, 20, 21, 8, T_POST);
  t.pending_id = 70;
  t.ledger = 2;
  expect_transfer(f, t, QP_CREATE_TRANSFER_OK);
  assert_balances(f, 20, 0, 8, 0, 0);
}

/* ------------------------------------------------------------- closing */

static bool is_closed(const fixture_t *f, qp_u128 id) {
  return (get_account(f, id).flags & A_CLOSED) != 0;
}

/* closing_debit / closing_credit need `pending` (TigerBeetle: so that a
 * void can undo the close) and never go with post/void. */
static void test_closing_static_errors(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  expect_transfer(f, transfer(1, A, B, 10, T_CLOSE_DR),
                  QP_CREATE_TRANSFER_CLOSING_TRANSFER_MUST_BE_PENDING);
  expect_transfer(f, transfer(1, A, B, 10, T_CLOSE_CR | T_BAL_DR),
                  QP_CREATE_TRANSFER_CLOSING_TRANSFER_MUST_BE_PENDING);
  /* Its place in the order: after the timeout check, before amount/ledger/code. */
  qp_transfer_t t = transfer(1, A, B, 10, T_CLOSE_DR);
  t.timeout = 1;
  expect_transfer(f, t, QP_CREATE_TRANSFER_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER);
  t = transfer(1, A, B, 10, T_CLOSE_DR);
  t.ledger = 0;
  expect_transfer(f, t, QP_CREATE_TRANSFER_CLOSING_TRANSFER_MUST_BE_PENDING);
  expect_transfer(f, transfer(1, A, A, 10, T_CLOSE_DR),
                  QP_CREATE_TRANSFER_ACCOUNTS_MUST_BE_DIFFERENT);
  expect_transfer(f, transfer(1, A, B, 0, T_CLOSE_DR), /* amount 0 is no excuse */
                  QP_CREATE_TRANSFER_CLOSING_TRANSFER_MUST_BE_PENDING);
  expect_transfer(f, resolve(1, 9, 0, T_POST | T_CLOSE_DR),
                  QP_CREATE_TRANSFER_FLAGS_ARE_MUTUALLY_EXCLUSIVE);
  expect_transfer(f, resolve(1, 9, 0, T_VOID | T_CLOSE_CR),
                  QP_CREATE_TRANSFER_FLAGS_ARE_MUTUALLY_EXCLUSIVE);
  /* Amount 0 stays refused for every other transfer. */
  expect_transfer(f, transfer(1, A, B, 0, T_PENDING), QP_CREATE_TRANSFER_AMOUNT_MUST_NOT_BE_ZERO);
  assert_false(is_closed(f, A) || is_closed(f, B));
}

/* Close, refuse, void to re-open; and a closing transfer can never be posted. */
static void test_closing_cycle(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  move(f, BANK, A, 100);
  expect_transfer(f, transfer(10, A, B, 7, T_PENDING), QP_CREATE_TRANSFER_OK); /* not closing */
  /* Close A (debit side) with amount 0, as TigerBeetle's recipe does. */
  expect_transfer(f, transfer(11, A, BANK, 0, T_PENDING | T_CLOSE_DR), QP_CREATE_TRANSFER_OK);
  assert_true(is_closed(f, A));
  assert_false(is_closed(f, BANK));
  assert_int_equal(pending_state(f, 11), QP_PENDING_PENDING);
  assert_balances(f, A, 7, 0, 0, 100);
  /* The change records carry the flag, for the index. */
  bool listed = false;
  for (uint32_t i = 0; i < f->changes.accounts_count; i++)
    if (f->changes.accounts[i].id == A) listed = (f->changes.accounts[i].flags & A_CLOSED) != 0;
  assert_true(listed);

  /* Nothing new touches A, on either side, closing or not. */
  expect_transfer(f, transfer(12, A, B, 1, 0), QP_CREATE_TRANSFER_DEBIT_ACCOUNT_ALREADY_CLOSED);
  expect_transfer(f, transfer(12, B, A, 1, 0), QP_CREATE_TRANSFER_CREDIT_ACCOUNT_ALREADY_CLOSED);
  expect_transfer(f, transfer(12, A, C, 0, T_PENDING | T_CLOSE_DR),
                  QP_CREATE_TRANSFER_DEBIT_ACCOUNT_ALREADY_CLOSED);
  expect_transfer(f, transfer(12, B, A, 1, T_PENDING | T_BAL_CR),
                  QP_CREATE_TRANSFER_CREDIT_ACCOUNT_ALREADY_CLOSED);
  /* Checks on the accounts' existence and ledgers come first. */
  expect_transfer(f, transfer(12, A, UNKNOWN, 1, 0), QP_CREATE_TRANSFER_CREDIT_ACCOUNT_NOT_FOUND);
  qp_transfer_t t = transfer(12, A, B, 1, 0);
  t.ledger = 2;
  expect_transfer(f, t, QP_CREATE_TRANSFER_TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS);
  /* Re-sending the closing transfer is still `exists`. */
  expect_transfer(f, transfer(11, A, BANK, 0, T_PENDING | T_CLOSE_DR), QP_CREATE_TRANSFER_EXISTS);

  /* Posting is refused, even of the closing transfer itself (TigerBeetle:
   * the only movement a closed account allows is a void). */
  expect_transfer(f, resolve(13, 10, 0, T_POST), QP_CREATE_TRANSFER_DEBIT_ACCOUNT_ALREADY_CLOSED);
  expect_transfer(f, resolve(13, 11, 0, T_POST), QP_CREATE_TRANSFER_DEBIT_ACCOUNT_ALREADY_CLOSED);
  /* ...but earlier state errors win. */
  expect_transfer(f, resolve(13, 11, 5, T_POST),
                  QP_CREATE_TRANSFER_EXCEEDS_PENDING_TRANSFER_AMOUNT);
  assert_true(is_closed(f, A));
  /* Voiding another pending transfer is allowed and leaves A closed. */
  expect_transfer(f, resolve(14, 10, 0, T_VOID), QP_CREATE_TRANSFER_OK);
  assert_true(is_closed(f, A));
  assert_balances(f, A, 0, 0, 0, 100);

  /* Voiding the closing transfer re-opens A. */
  expect_transfer(f, resolve(15, 11, 0, T_VOID), QP_CREATE_TRANSFER_OK);
  assert_false(is_closed(f, A));
  assert_int_equal(pending_state(f, 11), QP_PENDING_VOIDED);
  move(f, A, B, 1);
  assert_balances(f, A, 0, 1, 0, 100);

  /* The credit side, with a non-zero amount held while closed. */
  expect_transfer(f, transfer(20, BANK, B, 5, T_PENDING | T_CLOSE_CR), QP_CREATE_TRANSFER_OK);
  assert_true(is_closed(f, B));
  assert_false(is_closed(f, BANK));
  expect_transfer(f, transfer(21, C, B, 1, 0), QP_CREATE_TRANSFER_CREDIT_ACCOUNT_ALREADY_CLOSED);
  expect_transfer(f, resolve(22, 20, 0, T_POST), QP_CREATE_TRANSFER_CREDIT_ACCOUNT_ALREADY_CLOSED);
  expect_transfer(f, resolve(22, 20, 0, T_VOID), QP_CREATE_TRANSFER_OK);
  assert_false(is_closed(f, B));
  assert_balances(f, B, 0, 0, 0, 1);

  /* Both sides at once. */
  expect_transfer(f, transfer(30, C, D, 0, T_PENDING | T_CLOSE_DR | T_CLOSE_CR),
                  QP_CREATE_TRANSFER_OK);
  assert_true(is_closed(f, C) && is_closed(f, D));
  expect_transfer(f, resolve(31, 30, 0, T_VOID), QP_CREATE_TRANSFER_OK);
  assert_false(is_closed(f, C) || is_closed(f, D));
}

/* The expiry of a closing transfer re-opens the account, like a void. */
static void test_closing_expiry(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  qp_transfer_t p = transfer(40, A, B, 3, T_PENDING | T_CLOSE_CR);
  p.timeout = 1;
  expect_transfer(f, p, QP_CREATE_TRANSFER_OK);
  assert_true(is_closed(f, B));
  assert_false(is_closed(f, A));
  f->now_ns = get_transfer(f, 40, NULL).timestamp + NS_PER_S;
  assert_int_equal(expire(f), 1);
  assert_false(is_closed(f, B));
  assert_int_equal(pending_state(f, 40), QP_PENDING_EXPIRED);
  assert_balances(f, B, 0, 0, 0, 0);
  move(f, A, B, 2);
}

/* A failed chain takes its close back with it. */
static void test_closing_rollback(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  qp_transfer_t chain[2] = {transfer(50, A, B, 0, T_PENDING | T_CLOSE_DR | T_LINKED),
                            transfer(51, A, C, 1, 0)};
  uint32_t results[2];
  transfers_batch(f, chain, 2, results);
  const uint32_t want[2] = {QP_CREATE_TRANSFER_LINKED_EVENT_FAILED,
                            QP_CREATE_TRANSFER_DEBIT_ACCOUNT_ALREADY_CLOSED};
  expect_results('t', results, want, 2);
  assert_false(is_closed(f, A));
  assert_transfer_unknown(f, 50);
  /* A chain that re-opens then fails leaves the account closed. */
  expect_transfer(f, transfer(52, A, B, 0, T_PENDING | T_CLOSE_DR), QP_CREATE_TRANSFER_OK);
  qp_transfer_t chain2[2] = {resolve(53, 52, 0, T_VOID | T_LINKED), transfer(54, A, UNKNOWN, 1, 0)};
  transfers_batch(f, chain2, 2, results);
  const uint32_t want2[2] = {QP_CREATE_TRANSFER_LINKED_EVENT_FAILED,
                             QP_CREATE_TRANSFER_CREDIT_ACCOUNT_NOT_FOUND};
  expect_results('t', results, want2, 2);
  assert_true(is_closed(f, A));
  assert_int_equal(pending_state(f, 52), QP_PENDING_PENDING);
}

/* An account may be created closed (TigerBeetle); `closed` is part of the
 * flags an idempotent re-send compares, as in TigerBeetle. */
static void test_closed_account_created(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  make_account(f, 60, 1, A_CLOSED | A_HISTORY);
  assert_true(is_closed(f, 60));
  expect_transfer(f, transfer(61, 60, A, 1, 0), QP_CREATE_TRANSFER_DEBIT_ACCOUNT_ALREADY_CLOSED);
  expect_account(f, account(60, 1, A_CLOSED | A_HISTORY), QP_CREATE_ACCOUNT_EXISTS);
  expect_account(f, account(60, 1, A_HISTORY), QP_CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_FLAGS);
  expect_account(f, account(A, 1, A_CLOSED), QP_CREATE_ACCOUNT_EXISTS_WITH_DIFFERENT_FLAGS);
  expect_account(f, account(62, 1, A_CLOSED | A_DR_LIMIT | A_CR_LIMIT),
                 QP_CREATE_ACCOUNT_FLAGS_ARE_MUTUALLY_EXCLUSIVE);
}

/* ---------------------------------------------------------------- expiry */

static void test_expiry_by_sweep(void **state) {
  fixture_t *f = *state;
  make_account(f, A, 1, A_HISTORY);
  make_account(f, B, 1, 0);
  qp_transfer_t p = transfer(100, A, B, 10, T_PENDING);
  p.timeout = 2;
  expect_transfer(f, p, QP_CREATE_TRANSFER_OK);
  uint64_t t0 = get_transfer(f, 100, NULL).timestamp;
  uint64_t due = t0 + 2 * NS_PER_S;
  assert_int_equal(qp_ledger_next_expiry(f->ledger), due);

  /* One nanosecond early: nothing happens. */
  f->now_ns = due - 1;
  uint64_t last = qp_ledger_last_timestamp(f->ledger);
  assert_int_equal(expire(f), 0);
  assert_int_equal(pending_state(f, 100), QP_PENDING_PENDING);
  assert_balances(f, A, 10, 0, 0, 0);
  assert_int_equal(f->changes.pending_count, 0);
  /* A sweep that voids nothing consumes no timestamp. */
  assert_int_equal(qp_ledger_last_timestamp(f->ledger), last);

  /* At t + T*1e9 exactly it is voided by the ledger, at a timestamp of its own. */
  f->now_ns = due;
  uint64_t expiry_ts = next_batch_timestamp(f);
  assert_int_equal(expire(f), 1);
  assert_int_equal(qp_ledger_last_timestamp(f->ledger), expiry_ts);
  assert_int_equal(pending_state(f, 100), QP_PENDING_EXPIRED);
  assert_balances(f, A, 0, 0, 0, 0);
  assert_balances(f, B, 0, 0, 0, 0);
  assert_int_equal(f->changes.pending_count, 1);
  assert_u128_equal(f->changes.pending[0].transfer_id, 100);
  assert_int_equal(f->changes.pending[0].state, QP_PENDING_EXPIRED);
  /* A has history: one balance row for the expiry; B has none. */
  assert_int_equal(f->changes.balances_count, 1);
  assert_u128_equal(f->changes.balances[0].account_id, A);
  assert_u128_equal(f->changes.balances[0].transfer_id, 100);
  assert_u128_equal(f->changes.balances[0].debits_pending, 0);
  assert_int_equal(f->changes.balances[0].timestamp, expiry_ts);
  assert_int_equal(f->changes.accounts_count, 2);
  assert_int_equal(qp_ledger_next_expiry(f->ledger), 0);

  expect_transfer(f, resolve(101, 100, 0, T_POST), QP_CREATE_TRANSFER_PENDING_TRANSFER_EXPIRED);
  expect_transfer(f, resolve(101, 100, 0, T_VOID), QP_CREATE_TRANSFER_PENDING_TRANSFER_EXPIRED);
  f->now_ns += 100 * NS_PER_S;
  assert_int_equal(expire(f), 0);
  assert_int_equal(pending_state(f, 100), QP_PENDING_EXPIRED);
}

static void test_expiry_before_sweep(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  /* One nanosecond before the timeout, a post still works... */
  qp_transfer_t p = transfer(200, A, B, 10, T_PENDING);
  p.timeout = 1;
  expect_transfer(f, p, QP_CREATE_TRANSFER_OK);
  uint64_t t0 = get_transfer(f, 200, NULL).timestamp;
  f->now_ns = t0 + NS_PER_S - 1;
  expect_transfer(f, resolve(201, 200, 0, T_POST), QP_CREATE_TRANSFER_OK);
  assert_int_equal(pending_state(f, 200), QP_PENDING_POSTED);

  /* ...and from the timeout on, without any sweep, it is refused. */
  p.id = 210;
  expect_transfer(f, p, QP_CREATE_TRANSFER_OK);
  uint64_t t1 = get_transfer(f, 210, NULL).timestamp;
  f->now_ns = t1 + NS_PER_S;
  expect_transfer(f, resolve(211, 210, 0, T_POST), QP_CREATE_TRANSFER_PENDING_TRANSFER_EXPIRED);
  expect_transfer(f, resolve(211, 210, 3, T_POST), QP_CREATE_TRANSFER_PENDING_TRANSFER_EXPIRED);
  expect_transfer(f, resolve(211, 210, 0, T_VOID), QP_CREATE_TRANSFER_PENDING_TRANSFER_EXPIRED);
  /* Nothing was swept: it still holds its amount until qp_ledger_expire. */
  assert_int_equal(pending_state(f, 210), QP_PENDING_PENDING);
  assert_balances(f, A, 10, 10, 0, 0);
  assert_int_equal(expire(f), 1);
  assert_int_equal(pending_state(f, 210), QP_PENDING_EXPIRED);
  assert_balances(f, A, 0, 10, 0, 0);

  /* The clock going backwards does not bring a pending transfer back. */
  p.id = 220;
  expect_transfer(f, p, QP_CREATE_TRANSFER_OK);
  uint64_t t2 = get_transfer(f, 220, NULL).timestamp;
  f->now_ns = t2 + 5 * NS_PER_S;
  expect_transfer(f, transfer(221, C, D, 1, 0), QP_CREATE_TRANSFER_OK);
  f->now_ns = 0;
  expect_transfer(f, resolve(222, 220, 0, T_POST), QP_CREATE_TRANSFER_PENDING_TRANSFER_EXPIRED);

  /* Without a timeout a pending transfer never expires. */
  expect_transfer(f, transfer(230, A, B, 1, T_PENDING), QP_CREATE_TRANSFER_OK);
  f->now_ns = UINT64_C(1) << 62;
  assert_int_equal(expire(f), 1); /* only 220 */
  assert_int_equal(pending_state(f, 230), QP_PENDING_PENDING);
  expect_transfer(f, resolve(231, 230, 0, T_POST), QP_CREATE_TRANSFER_OK);
}

static void test_expiry_order_and_rollback(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  /* Three pendings due at different times, created in one batch. */
  qp_transfer_t ps[3] = {transfer(300, A, B, 1, T_PENDING), transfer(301, A, C, 2, T_PENDING),
                         transfer(302, A, D, 4, T_PENDING)};
  ps[0].timeout = 3;
  ps[1].timeout = 1;
  ps[2].timeout = 2;
  uint32_t r[3];
  transfers_batch(f, ps, 3, r);
  uint64_t t0 = get_transfer(f, 300, NULL).timestamp;
  assert_int_equal(qp_ledger_next_expiry(f->ledger), t0 + 1 + NS_PER_S);
  f->now_ns = t0 + 2 * NS_PER_S + 2;
  assert_int_equal(expire(f), 2);
  assert_int_equal(pending_state(f, 300), QP_PENDING_PENDING);
  assert_int_equal(pending_state(f, 301), QP_PENDING_EXPIRED);
  assert_int_equal(pending_state(f, 302), QP_PENDING_EXPIRED);
  assert_balances(f, A, 1, 0, 0, 0);
  /* Expired in timeout order. */
  assert_int_equal(f->changes.pending_count, 2);
  assert_u128_equal(f->changes.pending[0].transfer_id, 301);
  assert_u128_equal(f->changes.pending[1].transfer_id, 302);

  /* A pending with a timeout created in a chain that fails never expires
   * anything, and its id can be used again. */
  qp_transfer_t chain[2] = {transfer(310, A, B, 5, T_PENDING | T_LINKED),
                            transfer(311, A, UNKNOWN, 1, 0)};
  chain[0].timeout = 1;
  transfers_batch(f, chain, 2, r);
  assert_int_equal(r[0], QP_CREATE_TRANSFER_LINKED_EVENT_FAILED);
  f->now_ns += 10 * NS_PER_S;
  assert_int_equal(expire(f), 1); /* only 300 */
  assert_balances(f, A, 0, 0, 0, 0);
  expect_transfer(f, transfer(310, A, B, 5, 0), QP_CREATE_TRANSFER_OK);
  f->now_ns += 10 * NS_PER_S;
  assert_int_equal(expire(f), 0);
  assert_int_equal(pending_state(f, 310), QP_PENDING_NONE);
}

static void test_overflows_timeout(void **state) {
  fixture_t *f = *state;
  /* A clock near the end of u64: timestamp + timeout no longer fits. */
  f->now_ns = UINT64_MAX - 10 * NS_PER_S;
  make_accounts(f);
  qp_transfer_t p = transfer(1, A, B, 10, T_PENDING);
  p.timeout = UINT32_MAX;
  expect_transfer(f, p, QP_CREATE_TRANSFER_OVERFLOWS_TIMEOUT);
  p.timeout = 20;
  expect_transfer(f, p, QP_CREATE_TRANSFER_OVERFLOWS_TIMEOUT);
  p.timeout = 5;
  expect_transfer(f, p, QP_CREATE_TRANSFER_OK);
}

/* ---------------------------------------------------------------- limits */

static void test_limit_debits_must_not_exceed_credits(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  make_account(f, 30, 1, A_DR_LIMIT);
  expect_transfer(f, transfer(1, 30, A, 1, 0), QP_CREATE_TRANSFER_EXCEEDS_CREDITS);
  move(f, BANK, 30, 100);
  expect_transfer(f, transfer(1, 30, A, 101, 0), QP_CREATE_TRANSFER_EXCEEDS_CREDITS);
  expect_transfer(f, transfer(1, 30, A, 101, T_PENDING), QP_CREATE_TRANSFER_EXCEEDS_CREDITS);
  /* Pending amounts count against the limit. */
  expect_transfer(f, transfer(2, 30, A, 60, T_PENDING), QP_CREATE_TRANSFER_OK);
  expect_transfer(f, transfer(3, 30, A, 41, 0), QP_CREATE_TRANSFER_EXCEEDS_CREDITS);
  expect_transfer(f, transfer(3, 30, A, 41, T_PENDING), QP_CREATE_TRANSFER_EXCEEDS_CREDITS);
  /* Pending credits do not count as credits. */
  expect_transfer(f, transfer(4, BANK, 30, 1000, T_PENDING), QP_CREATE_TRANSFER_OK);
  expect_transfer(f, transfer(3, 30, A, 41, 0), QP_CREATE_TRANSFER_EXCEEDS_CREDITS);
  expect_transfer(f, transfer(3, 30, A, 40, 0), QP_CREATE_TRANSFER_OK);
  assert_balances(f, 30, 60, 40, 1000, 100);
  /* Exactly at the limit; one more unit is too much. */
  expect_transfer(f, transfer(5, 30, A, 1, 0), QP_CREATE_TRANSFER_EXCEEDS_CREDITS);
  /* Voiding the pending debit frees its room. */
  expect_transfer(f, resolve(6, 2, 0, T_VOID), QP_CREATE_TRANSFER_OK);
  expect_transfer(f, transfer(5, 30, A, 60, 0), QP_CREATE_TRANSFER_OK);
  /* Crediting the limited account is always allowed. */
  move(f, A, 30, 1);
  /* The limit is on the debit side only: B (no limit) may be debited freely. */
  move(f, B, A, 10000);
}

static void test_limit_credits_must_not_exceed_debits(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  make_account(f, 40, 1, A_CR_LIMIT);
  expect_transfer(f, transfer(1, A, 40, 1, 0), QP_CREATE_TRANSFER_EXCEEDS_DEBITS);
  move(f, 40, BANK, 50);
  expect_transfer(f, transfer(1, A, 40, 51, 0), QP_CREATE_TRANSFER_EXCEEDS_DEBITS);
  expect_transfer(f, transfer(2, A, 40, 30, T_PENDING), QP_CREATE_TRANSFER_OK);
  expect_transfer(f, transfer(3, A, 40, 21, 0), QP_CREATE_TRANSFER_EXCEEDS_DEBITS);
  expect_transfer(f, transfer(3, A, 40, 21, T_PENDING), QP_CREATE_TRANSFER_EXCEEDS_DEBITS);
  expect_transfer(f, transfer(3, A, 40, 20, 0), QP_CREATE_TRANSFER_OK);
  assert_balances(f, 40, 0, 50, 30, 20);
  /* Posting the pending moves it within the limit; no new room appears. */
  expect_transfer(f, resolve(4, 2, 0, T_POST), QP_CREATE_TRANSFER_OK);
  expect_transfer(f, transfer(5, A, 40, 1, 0), QP_CREATE_TRANSFER_EXCEEDS_DEBITS);
  /* Both accounts limited: the debit side is checked first. */
  make_account(f, 41, 1, A_DR_LIMIT);
  expect_transfer(f, transfer(5, 41, 40, 1, 0), QP_CREATE_TRANSFER_EXCEEDS_CREDITS);
  move(f, BANK, 41, 1);
  expect_transfer(f, transfer(5, 41, 40, 1, 0), QP_CREATE_TRANSFER_EXCEEDS_DEBITS);
}

static void test_balancing(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  make_account(f, 30, 1, A_DR_LIMIT);
  move(f, BANK, 30, 100);
  /* Clamped to what the limit allows. */
  expect_transfer(f, transfer(1, 30, C, 1000, T_BAL_DR), QP_CREATE_TRANSFER_OK);
  assert_u128_equal(get_transfer(f, 1, NULL).amount, 100);
  assert_balances(f, 30, 0, 100, 0, 100);
  /* Nothing left: clamped to 0, still ok. */
  expect_transfer(f, transfer(2, 30, C, 5, T_BAL_DR), QP_CREATE_TRANSFER_OK);
  assert_u128_equal(get_transfer(f, 2, NULL).amount, 0);
  assert_balances(f, 30, 0, 100, 0, 100);
  /* Below the room: not clamped. */
  move(f, BANK, 30, 50);
  expect_transfer(f, transfer(3, 30, C, 20, T_BAL_DR | T_PENDING), QP_CREATE_TRANSFER_OK);
  assert_u128_equal(get_transfer(f, 3, NULL).amount, 20);
  /* Pending debits count: 150 - 100 - 20 = 30 left. */
  expect_transfer(f, transfer(4, 30, C, 1000, T_BAL_DR), QP_CREATE_TRANSFER_OK);
  assert_u128_equal(get_transfer(f, 4, NULL).amount, 30);
  assert_balances(f, 30, 20, 130, 0, 150);

  /* Balancing is computed regardless of limit flags. */
  move(f, BANK, A, 70);
  expect_transfer(f, transfer(5, A, C, 1000, T_BAL_DR), QP_CREATE_TRANSFER_OK);
  assert_u128_equal(get_transfer(f, 5, NULL).amount, 70);
  /* An account debited more than credited lets nothing through. */
  move(f, B, BANK, 10);
  expect_transfer(f, transfer(6, B, C, 1000, T_BAL_DR), QP_CREATE_TRANSFER_OK);
  assert_u128_equal(get_transfer(f, 6, NULL).amount, 0);

  /* balancing_credit clamps to the credit account's debits. */
  move(f, D, BANK, 40);
  expect_transfer(f, transfer(7, C, D, 1000, T_BAL_CR), QP_CREATE_TRANSFER_OK);
  assert_u128_equal(get_transfer(f, 7, NULL).amount, 40);
  assert_balances(f, D, 0, 40, 0, 40);
  /* Both flags: the smaller room wins. */
  make_account(f, 50, 1, 0);
  make_account(f, 51, 1, 0);
  move(f, BANK, 50, 9); /* 50 may be debited 9 */
  move(f, 51, BANK, 4); /* 51 may be credited 4 */
  expect_transfer(f, transfer(8, 50, 51, 1000, T_BAL_DR | T_BAL_CR), QP_CREATE_TRANSFER_OK);
  assert_u128_equal(get_transfer(f, 8, NULL).amount, 4);

  /* Re-sending a balancing transfer with its original amount is `exists`;
   * only a smaller amount than the stored (clamped) one differs. */
  expect_transfer(f, transfer(1, 30, C, 1000, T_BAL_DR), QP_CREATE_TRANSFER_EXISTS);
  expect_transfer(f, transfer(1, 30, C, 100, T_BAL_DR), QP_CREATE_TRANSFER_EXISTS);
  expect_transfer(f, transfer(1, 30, C, 99, T_BAL_DR),
                  QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_AMOUNT);
  expect_transfer(f, transfer(1, 30, C, 100, T_BAL_CR),
                  QP_CREATE_TRANSFER_EXISTS_WITH_DIFFERENT_FLAGS);

  /* A balancing pending transfer can be posted. */
  expect_transfer(f, resolve(9, 3, 0, T_POST), QP_CREATE_TRANSFER_OK);
  assert_balances(f, 30, 0, 150, 0, 150);
  /* Clamping does not bypass the other side's limit. */
  make_account(f, 52, 1, A_CR_LIMIT);
  move(f, BANK, A, 5);
  expect_transfer(f, transfer(10, A, 52, 1000, T_BAL_DR), QP_CREATE_TRANSFER_EXCEEDS_DEBITS);
}

/* ------------------------------------------------------------- overflow */

static void test_overflows(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  for (qp_u128 id = 10; id <= 17; id++) make_account(f, id, 1, 0);

  /* Posted: A and B reach 2^128-3. */
  expect_transfer(f, transfer(1, A, B, MAX - 2, 0), QP_CREATE_TRANSFER_OK);
  expect_transfer(f, transfer(2, A, C, 3, 0), QP_CREATE_TRANSFER_OVERFLOWS_DEBITS_POSTED);
  expect_transfer(f, transfer(2, D, B, 3, 0), QP_CREATE_TRANSFER_OVERFLOWS_CREDITS_POSTED);
  expect_transfer(f, transfer(2, A, C, 2, 0), QP_CREATE_TRANSFER_OK); /* exactly 2^128-1 */
  assert_balances(f, A, 0, MAX, 0, 0);
  expect_transfer(f, transfer(3, A, C, 1, 0), QP_CREATE_TRANSFER_OVERFLOWS_DEBITS_POSTED);
  /* Pending on top of a full posted balance: the sum overflows. */
  expect_transfer(f, transfer(3, A, C, 1, T_PENDING), QP_CREATE_TRANSFER_OVERFLOWS_DEBITS);
  expect_transfer(f, transfer(3, D, B, 3, T_PENDING), QP_CREATE_TRANSFER_OVERFLOWS_CREDITS);

  /* Pending: 10 and 11 reach 2^128-3 pending. */
  expect_transfer(f, transfer(4, 10, 11, MAX - 2, T_PENDING), QP_CREATE_TRANSFER_OK);
  expect_transfer(f, transfer(5, 10, 12, 3, T_PENDING),
                  QP_CREATE_TRANSFER_OVERFLOWS_DEBITS_PENDING);
  expect_transfer(f, transfer(5, 13, 11, 3, T_PENDING),
                  QP_CREATE_TRANSFER_OVERFLOWS_CREDITS_PENDING);
  /* Posted on top of a near-full pending balance: the sum overflows. */
  expect_transfer(f, transfer(5, 10, 12, 3, 0), QP_CREATE_TRANSFER_OVERFLOWS_DEBITS);
  expect_transfer(f, transfer(5, 13, 11, 3, 0), QP_CREATE_TRANSFER_OVERFLOWS_CREDITS);
  expect_transfer(f, transfer(5, 10, 12, 2, 0), QP_CREATE_TRANSFER_OK);
  assert_balances(f, 10, MAX - 2, 2, 0, 0);
  /* Posting a near-max pending works: the total never grows. */
  expect_transfer(f, resolve(6, 4, 0, T_POST), QP_CREATE_TRANSFER_OK);
  assert_balances(f, 10, 0, MAX, 0, 0);
  assert_balances(f, 11, 0, 0, 0, MAX - 2);

  /* Balancing with a limit of 2^128-1 fully used lets nothing through. */
  expect_transfer(f, transfer(7, 14, 15, MAX, T_PENDING), QP_CREATE_TRANSFER_OK);
  expect_transfer(f, transfer(8, 16, 14, MAX, 0), QP_CREATE_TRANSFER_OK);
  expect_transfer(f, transfer(9, 14, 17, 5, T_BAL_DR), QP_CREATE_TRANSFER_OK);
  assert_u128_equal(get_transfer(f, 9, NULL).amount, 0);
}

/* ------------------------------------------------------- linked transfers */

/* Checks that a transfer chain left open at the end of a batch fails as a whole. */
static void check_transfer_chain_open(fixture_t *f) {
  uint32_t r[6];

  /* A chain open at the end of the batch fails as a whole. */
  qp_transfer_t open[3] = {transfer(90, A, B, 1, 0), transfer(91, A, B, 1, T_LINKED),
                           transfer(92, A, B, 1, T_LINKED)};
  transfers_batch(f, open, 3, r);
  expect_results('t', r,
                 ((uint32_t[]){QP_CREATE_TRANSFER_OK, QP_CREATE_TRANSFER_LINKED_EVENT_FAILED,
                               QP_CREATE_TRANSFER_LINKED_EVENT_CHAIN_OPEN}),
                 3);
  assert_transfer_unknown(f, 91);
  assert_transfer_unknown(f, 92);
  qp_transfer_t lone = transfer(93, A, B, 1, T_LINKED);
  transfers_batch(f, &lone, 1, r);
  assert_int_equal(r[0], QP_CREATE_TRANSFER_LINKED_EVENT_CHAIN_OPEN);
  assert_transfer_unknown(f, 93);
}

/* Checks that a failing chain does not affect the next chain in the batch. */
static void check_transfer_two_chains(fixture_t *f) {
  uint32_t r[6];

  /* Two chains in a row: the second is not affected by the first failing. */
  qp_transfer_t two[4] = {transfer(100, A, B, 1, T_LINKED), transfer(101, A, A, 1, 0),
                          transfer(102, A, B, 1, T_LINKED), transfer(103, A, B, 1, 0)};
  transfers_batch(f, two, 4, r);
  expect_results('t', r,
                 ((uint32_t[]){QP_CREATE_TRANSFER_LINKED_EVENT_FAILED,
                               QP_CREATE_TRANSFER_ACCOUNTS_MUST_BE_DIFFERENT, QP_CREATE_TRANSFER_OK,
                               QP_CREATE_TRANSFER_OK}),
                 4);
  assert_transfer_unknown(f, 100);
  get_transfer(f, 102, NULL);
}

static void test_transfer_linked_chains(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  make_account(f, 30, 1, A_DR_LIMIT);
  expect_transfer(f, transfer(50, A, B, 10, T_PENDING), QP_CREATE_TRANSFER_OK);

  /* Every kind of effect inside a chain, then a failure: all rolled back. */
  qp_transfer_t chain[6] = {
      transfer(60, A, B, 5, T_LINKED),
      transfer(61, A, C, 7, T_PENDING | T_LINKED),
      resolve(62, 50, 0, T_POST | T_LINKED), /* posts an older pending */
      resolve(63, 61, 3, T_POST | T_LINKED), /* posts one made in this chain */
      transfer(64, UNKNOWN, B, 1, 0),        /* fails; ends the chain */
      transfer(65, A, C, 3, 0),              /* independent */
  };
  uint32_t r[6];
  transfers_batch(f, chain, 6, r);
  expect_results(
      't', r,
      ((uint32_t[]){QP_CREATE_TRANSFER_LINKED_EVENT_FAILED, QP_CREATE_TRANSFER_LINKED_EVENT_FAILED,
                    QP_CREATE_TRANSFER_LINKED_EVENT_FAILED, QP_CREATE_TRANSFER_LINKED_EVENT_FAILED,
                    QP_CREATE_TRANSFER_DEBIT_ACCOUNT_NOT_FOUND, QP_CREATE_TRANSFER_OK}),
      6);
  for (qp_u128 id = 60; id <= 64; id++) assert_transfer_unknown(f, id);
  assert_int_equal(pending_state(f, 50), QP_PENDING_PENDING);
  assert_balances(f, A, 10, 3, 0, 0);
  assert_balances(f, B, 0, 0, 10, 0);
  assert_balances(f, C, 0, 0, 0, 3);
  /* The changes hold only the independent transfer. */
  assert_int_equal(f->changes.transfers_count, 1);
  assert_u128_equal(f->changes.transfers[0].id, 65);
  assert_int_equal(f->changes.pending_count, 0);

  /* The same chain without the failure: every event applies. */
  chain[3].flags = T_POST; /* the chain now ends here */
  transfers_batch(f, chain, 4, r);
  expect_results('t', r,
                 ((uint32_t[]){QP_CREATE_TRANSFER_OK, QP_CREATE_TRANSFER_OK, QP_CREATE_TRANSFER_OK,
                               QP_CREATE_TRANSFER_OK}),
                 4);
  assert_int_equal(pending_state(f, 50), QP_PENDING_POSTED);
  assert_int_equal(pending_state(f, 61), QP_PENDING_POSTED);
  assert_balances(f, A, 0, 3 + 5 + 10 + 3, 0, 0);

  /* The failing event may be the first. */
  qp_transfer_t first_fails[3] = {transfer(70, A, A, 1, T_LINKED), transfer(71, A, B, 1, T_LINKED),
                                  transfer(72, A, B, 1, 0)};
  transfers_batch(f, first_fails, 3, r);
  expect_results('t', r,
                 ((uint32_t[]){QP_CREATE_TRANSFER_ACCOUNTS_MUST_BE_DIFFERENT,
                               QP_CREATE_TRANSFER_LINKED_EVENT_FAILED,
                               QP_CREATE_TRANSFER_LINKED_EVENT_FAILED}),
                 3);
  assert_transfer_unknown(f, 71);
  assert_transfer_unknown(f, 72);

  /* Each event would pass alone; together they break the limit. */
  move(f, BANK, 30, 10);
  qp_transfer_t together[2] = {transfer(80, 30, C, 6, T_LINKED), transfer(81, 30, C, 6, 0)};
  transfers_batch(f, together, 2, r);
  expect_results(
      't', r,
      ((uint32_t[]){QP_CREATE_TRANSFER_LINKED_EVENT_FAILED, QP_CREATE_TRANSFER_EXCEEDS_CREDITS}),
      2);
  assert_balances(f, 30, 0, 0, 0, 10);

  check_transfer_chain_open(f);

  check_transfer_two_chains(f);
}

/* ------------------------------------------------------------ timestamps */

static void test_timestamps_strictly_increase(void **state) {
  fixture_t *f = *state;
  f->now_ns = 5000;
  qp_account_t three[3] = {account(A, 1, 0), account(B, 1, 0), account(C, 1, 0)};
  uint32_t r[3];
  accounts_batch(f, three, 3, r);
  assert_int_equal(get_account(f, A).timestamp, 5000);
  assert_int_equal(get_account(f, C).timestamp, 5002);

  /* The clock goes backwards: the ledger's does not. */
  f->now_ns = 100;
  make_account(f, D, 1, 0);
  assert_int_equal(get_account(f, D).timestamp, 5003);

  /* Failed events consume a timestamp too. */
  f->now_ns = 10000;
  qp_account_t mixed[3] = {account(10, 1, 0), account(0, 1, 0), account(11, 1, 0)};
  accounts_batch(f, mixed, 3, r);
  assert_int_equal(get_account(f, 10).timestamp, 10000);
  assert_int_equal(get_account(f, 11).timestamp, 10002);
  assert_int_equal(qp_ledger_last_timestamp(f->ledger), 10002);

  /* Transfers share the clock with accounts. */
  f->now_ns = 0;
  expect_transfer(f, transfer(1, A, B, 1, 0), QP_CREATE_TRANSFER_OK);
  assert_int_equal(get_transfer(f, 1, NULL).timestamp, 10003);

  /* An expiry consumes one timestamp of its own. */
  qp_transfer_t p = transfer(2, A, B, 1, T_PENDING);
  p.timeout = 1;
  expect_transfer(f, p, QP_CREATE_TRANSFER_OK);
  assert_int_equal(get_transfer(f, 2, NULL).timestamp, 10004);
  f->now_ns = 10004 + NS_PER_S;
  assert_int_equal(expire(f), 1);
  assert_int_equal(qp_ledger_last_timestamp(f->ledger), 10004 + NS_PER_S);
  f->now_ns = 7;
  expect_transfer(f, transfer(3, A, B, 1, 0), QP_CREATE_TRANSFER_OK);
  assert_int_equal(get_transfer(f, 3, NULL).timestamp, 10005 + NS_PER_S);
}

/* --------------------------------------------------------------- history */

static void test_history_rows(void **state) {
  fixture_t *f = *state;
  make_account(f, A, 1, A_HISTORY);
  make_account(f, B, 1, 0);
  make_account(f, C, 1, A_HISTORY);

  uint64_t ts = next_batch_timestamp(f);
  expect_transfer(f, transfer(1, A, B, 10, 0), QP_CREATE_TRANSFER_OK);
  assert_int_equal(f->changes.balances_count, 1);
  const qp_account_balance_t *row = &f->changes.balances[0];
  assert_u128_equal(row->account_id, A);
  assert_u128_equal(row->transfer_id, 1);
  assert_u128_equal(row->debits_posted, 10);
  assert_u128_equal(row->credits_posted, 0);
  assert_int_equal(row->timestamp, ts);

  /* Both sides with history: debit row first, then credit row. */
  qp_transfer_t two[2] = {transfer(2, A, C, 4, T_PENDING), resolve(3, 2, 3, T_POST)};
  uint32_t r[2];
  ts = next_batch_timestamp(f);
  transfers_batch(f, two, 2, r);
  assert_int_equal(r[0], QP_CREATE_TRANSFER_OK);
  assert_int_equal(r[1], QP_CREATE_TRANSFER_OK);
  assert_int_equal(f->changes.balances_count, 4);
  const qp_account_balance_t *rows = f->changes.balances;
  assert_u128_equal(rows[0].account_id, A);
  assert_u128_equal(rows[0].debits_pending, 4);
  assert_int_equal(rows[0].timestamp, ts);
  assert_u128_equal(rows[1].account_id, C);
  assert_u128_equal(rows[1].credits_pending, 4);
  assert_u128_equal(rows[2].account_id, A);
  assert_u128_equal(rows[2].transfer_id, 3);
  assert_u128_equal(rows[2].debits_pending, 0);
  assert_u128_equal(rows[2].debits_posted, 13);
  assert_int_equal(rows[2].timestamp, ts + 1);
  assert_u128_equal(rows[3].account_id, C);
  assert_u128_equal(rows[3].credits_posted, 3);
  /* The changes carry the final state of both accounts. */
  assert_int_equal(f->changes.accounts_count, 2);

  /* Failed and rolled-back transfers leave no rows. */
  qp_transfer_t chain[2] = {transfer(4, A, C, 1, T_LINKED), transfer(5, A, UNKNOWN, 1, 0)};
  transfers_batch(f, chain, 2, r);
  assert_int_equal(f->changes.balances_count, 0);
  assert_int_equal(f->changes.transfers_count, 0);
  expect_transfer(f, transfer(1, A, B, 10, 0), QP_CREATE_TRANSFER_EXISTS);
  assert_int_equal(f->changes.balances_count, 0);
}

/* ------------------------------------------------------------ API errors */

static void test_bad_batches(void **state) {
  fixture_t *f = *state;
  qp_account_t a = account(A, 1, 0);
  qp_transfer_t t = transfer(1, A, B, 1, 0);
  uint32_t r[1];
  assert_int_equal(qp_ledger_create_accounts(f->ledger, 0, &a, 0, r), QP_EINVAL);
  assert_int_equal(qp_ledger_create_transfers(f->ledger, 0, &t, 0, r), QP_EINVAL);
  assert_int_equal(qp_ledger_create_accounts(f->ledger, 0, &a, QP_BATCH_EVENTS_MAX + 1, r),
                   QP_EINVAL);
  assert_int_equal(qp_ledger_create_transfers(f->ledger, 0, &t, QP_BATCH_EVENTS_MAX + 1, r),
                   QP_EINVAL);
  assert_int_equal(qp_ledger_last_timestamp(f->ledger), 0);

  /* A full account table refuses the whole batch. */
  qp_ledger_t *small = NULL;
  qp_ledger_config_t config = {.accounts_max = 2, .transfers_max = 1};
  assert_int_equal(qp_ledger_create(&config, &small), 0);
  qp_account_t three[3] = {account(A, 1, 0), account(B, 1, 0), account(C, 1, 0)};
  uint32_t results[3];
  assert_int_equal(qp_ledger_create_accounts(small, 1, three, 3, results), QP_ELIMIT);
  assert_int_equal(qp_ledger_account_count(small), 0);
  assert_int_equal(qp_ledger_create_accounts(small, 1, three, 2, results), 0);
  qp_transfer_t ts[2] = {transfer(1, A, B, 1, 0), transfer(2, A, B, 1, 0)};
  assert_int_equal(qp_ledger_create_transfers(small, 1, ts, 2, results), QP_ELIMIT);
  assert_int_equal(qp_ledger_transfer_count(small), 0);
  assert_int_equal(qp_ledger_create_transfers(small, 1, ts, 1, results), 0);
  assert_int_equal(results[0], QP_CREATE_TRANSFER_OK);
  qp_ledger_destroy(small);
}

static void test_result_names(void **state) {
  (void)state;
  assert_string_equal(qp_create_account_result_name(QP_CREATE_ACCOUNT_OK), "ok");
  assert_string_equal(qp_create_account_result_name(QP_CREATE_ACCOUNT_EXISTS), "exists");
  assert_null(qp_create_account_result_name(QP_CREATE_ACCOUNT_RESULT_COUNT));
  assert_string_equal(qp_create_transfer_result_name(QP_CREATE_TRANSFER_EXCEEDS_DEBITS),
                      "exceeds_debits");
  assert_null(qp_create_transfer_result_name(QP_CREATE_TRANSFER_RESULT_COUNT));
  for (uint32_t i = 0; i < QP_CREATE_TRANSFER_RESULT_COUNT; i++)
    assert_non_null(qp_create_transfer_result_name(i));
  for (uint32_t i = 0; i < QP_CREATE_ACCOUNT_RESULT_COUNT; i++)
    assert_non_null(qp_create_account_result_name(i));
}

/* Must stay last: every code must have been produced by a test above. */
static void test_every_result_code_was_produced(void **state) {
  (void)state;
  uint32_t missing = 0;
  for (uint32_t i = 0; i < QP_CREATE_ACCOUNT_RESULT_COUNT; i++) {
    if (seen_account[i]) continue;
    print_error("create_account result never produced: %s\n", qp_create_account_result_name(i));
    missing++;
  }
  for (uint32_t i = 0; i < QP_CREATE_TRANSFER_RESULT_COUNT; i++) {
    if (seen_transfer[i]) continue;
    print_error("create_transfer result never produced: %s\n", qp_create_transfer_result_name(i));
    missing++;
  }
  assert_int_equal(missing, 0);
}

/* ---------------------------------------------------------- imported */

static qp_account_t imported_account(qp_u128 id, uint64_t ts) {
  qp_account_t a = account(id, 1, A_IMPORTED);
  a.timestamp = ts;
  return a;
}

static qp_transfer_t imported_transfer(qp_u128 id, qp_u128 debit, qp_u128 credit,
                                       qp_u128 amount, uint16_t flags, uint64_t ts) {
  qp_transfer_t t = transfer(id, debit, credit, amount, (uint16_t)(flags | T_IMPORTED));
  t.timestamp = ts;
  return t;
}

/* Imported accounts keep their timestamps, which must lie after every
 * timestamp so far and before the batch's time; the first event decides
 * whether the batch imports (TigerBeetle's imported_event_* results). */
static void test_imported_accounts(void **state) {
  fixture_t *f = *state;
  f->now_ns += 100 * NS_PER_S; /* room between the last event and now */
  uint64_t base = qp_ledger_last_timestamp(f->ledger);
  expect_account(f, imported_account(A, base + 10), QP_CREATE_ACCOUNT_OK);
  expect_account(f, imported_account(A, base + 10), QP_CREATE_ACCOUNT_EXISTS);
  expect_account(f, imported_account(B, base + 10),
                 QP_CREATE_ACCOUNT_IMPORTED_EVENT_TIMESTAMP_MUST_NOT_REGRESS);
  expect_account(f, imported_account(B, 0),
                 QP_CREATE_ACCOUNT_IMPORTED_EVENT_TIMESTAMP_OUT_OF_RANGE);
  expect_account(f, imported_account(B, UINT64_C(1) << 63),
                 QP_CREATE_ACCOUNT_IMPORTED_EVENT_TIMESTAMP_OUT_OF_RANGE);
  expect_account(f, imported_account(B, f->now_ns),
                 QP_CREATE_ACCOUNT_IMPORTED_EVENT_TIMESTAMP_MUST_NOT_ADVANCE);
  qp_account_t mixed[2] = {imported_account(B, base + 20), account(C, 1, 0)};
  uint32_t r[3];
  accounts_batch(f, mixed, 2, r);
  assert_int_equal(r[0], QP_CREATE_ACCOUNT_OK);
  assert_int_equal(r[1], QP_CREATE_ACCOUNT_IMPORTED_EVENT_EXPECTED);
  qp_account_t mixed2[2] = {account(C, 1, 0), imported_account(D, f->now_ns - 1)};
  accounts_batch(f, mixed2, 2, r);
  assert_int_equal(r[0], QP_CREATE_ACCOUNT_OK);
  assert_int_equal(r[1], QP_CREATE_ACCOUNT_IMPORTED_EVENT_NOT_EXPECTED);
}

/* Within a batch imported timestamps strictly increase; a linked chain
 * that fails gives its timestamps back. */
static void test_imported_order_in_batch(void **state) {
  fixture_t *f = *state;
  f->now_ns += 100 * NS_PER_S;
  uint64_t base = qp_ledger_last_timestamp(f->ledger);
  qp_account_t e[5] = {imported_account(A, base + 50), imported_account(B, base + 40),
                       imported_account(C, base + 60), imported_account(D, base + 55),
                       imported_account(BANK, base + 57)};
  e[2].flags |= A_LINKED;
  uint32_t r[5];
  accounts_batch(f, e, 5, r);
  assert_int_equal(r[0], QP_CREATE_ACCOUNT_OK);
  assert_int_equal(r[1], QP_CREATE_ACCOUNT_IMPORTED_EVENT_TIMESTAMP_MUST_NOT_REGRESS);
  assert_int_equal(r[2], QP_CREATE_ACCOUNT_LINKED_EVENT_FAILED);
  assert_int_equal(r[3], QP_CREATE_ACCOUNT_IMPORTED_EVENT_TIMESTAMP_MUST_NOT_REGRESS);
  assert_int_equal(r[4], QP_CREATE_ACCOUNT_OK); /* 57 > 50: the chain's 60 was given back */
  assert_int_equal(qp_ledger_last_timestamp(f->ledger), base + 57);
  /* The ledger's own clock goes on after the imported events. */
  expect_account(f, account(C, 1, 0), QP_CREATE_ACCOUNT_OK);
}

static void test_imported_transfers(void **state) {
  fixture_t *f = *state;
  make_accounts(f);
  f->now_ns += 100 * NS_PER_S;
  uint64_t base = qp_ledger_last_timestamp(f->ledger);
  expect_transfer(f, imported_transfer(1, A, B, 7, 0, base + 1), QP_CREATE_TRANSFER_OK);
  assert_balances(f, A, 0, 7, 0, 0);
  expect_transfer(f, imported_transfer(2, A, B, 7, T_PENDING, base + 2), QP_CREATE_TRANSFER_OK);
  qp_transfer_t post = imported_transfer(3, 0, 0, 0, T_POST, base + 3);
  post.pending_id = 2;
  post.ledger = 0;
  post.code = 0;
  expect_transfer(f, post, QP_CREATE_TRANSFER_OK);
  assert_balances(f, A, 0, 14, 0, 0);
  qp_transfer_t timed = imported_transfer(4, A, B, 7, T_PENDING, base + 4);
  timed.timeout = 10;
  expect_transfer(f, timed, QP_CREATE_TRANSFER_IMPORTED_EVENT_TIMEOUT_MUST_BE_ZERO);
  expect_transfer(f, imported_transfer(4, A, B, 7, 0, base + 3),
                  QP_CREATE_TRANSFER_IMPORTED_EVENT_TIMESTAMP_MUST_NOT_REGRESS);
  /* The accounts are looked up first (TigerBeetle's precedence). */
  expect_transfer(f, imported_transfer(4, 999, B, 7, 0, base + 3),
                  QP_CREATE_TRANSFER_DEBIT_ACCOUNT_NOT_FOUND);
  expect_transfer(f, imported_transfer(4, A, B, 7, 0, 0),
                  QP_CREATE_TRANSFER_IMPORTED_EVENT_TIMESTAMP_OUT_OF_RANGE);
  expect_transfer(f, imported_transfer(4, A, B, 7, 0, f->now_ns + 5),
                  QP_CREATE_TRANSFER_IMPORTED_EVENT_TIMESTAMP_MUST_NOT_ADVANCE);
  qp_transfer_t mixed[2] = {transfer(4, A, B, 1, 0), imported_transfer(5, A, B, 1, 0, base + 9)};
  uint32_t r[2];
  transfers_batch(f, mixed, 2, r);
  assert_int_equal(r[0], QP_CREATE_TRANSFER_OK);
  assert_int_equal(r[1], QP_CREATE_TRANSFER_IMPORTED_EVENT_NOT_EXPECTED);
  f->now_ns += 100 * NS_PER_S;
  base = qp_ledger_last_timestamp(f->ledger);
  qp_transfer_t mixed2[2] = {imported_transfer(5, A, B, 1, 0, base + 1), transfer(6, A, B, 1, 0)};
  transfers_batch(f, mixed2, 2, r);
  assert_int_equal(r[0], QP_CREATE_TRANSFER_OK);
  assert_int_equal(r[1], QP_CREATE_TRANSFER_IMPORTED_EVENT_EXPECTED);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_account_ok),
      TEST(test_account_static_errors),
      TEST(test_account_exists),
      TEST(test_account_linked_chains),
      TEST(test_transfer_ok),
      TEST(test_transfer_static_errors),
      TEST(test_transfer_account_errors),
      TEST(test_transfer_exists),
      TEST(test_two_phase_post_full),
      TEST(test_two_phase_post_partial),
      TEST(test_two_phase_void),
      TEST(test_two_phase_errors),
      TEST(test_expiry_by_sweep),
      TEST(test_expiry_before_sweep),
      TEST(test_expiry_order_and_rollback),
      TEST(test_overflows_timeout),
      TEST(test_limit_debits_must_not_exceed_credits),
      TEST(test_limit_credits_must_not_exceed_debits),
      TEST(test_balancing),
      TEST(test_overflows),
      TEST(test_transfer_linked_chains),
      TEST(test_timestamps_strictly_increase),
      TEST(test_history_rows),
      TEST(test_bad_batches),
      TEST(test_closing_static_errors),
      TEST(test_closing_cycle),
      TEST(test_closing_expiry),
      TEST(test_closing_rollback),
      TEST(test_closed_account_created),
      TEST(test_imported_accounts),
      TEST(test_imported_order_in_batch),
      TEST(test_imported_transfers),
      cmocka_unit_test(test_result_names),
      cmocka_unit_test(test_every_result_code_was_produced),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
