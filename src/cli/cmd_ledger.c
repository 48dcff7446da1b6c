/*
 * cmd_ledger.c - `quipu ledger demo --data DIR`: the first thing a newcomer
 * runs.  It opens (or creates) a durable ledger, creates a few accounts and
 * transfers that show the rules at work - a two-phase card payment, a
 * balance limit, a linked chain that fails as a whole - and prints every
 * result and the balances.  Ids are fixed, so running it twice shows
 * idempotency: the second run answers `exists` and moves no money.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "cli/cli.h"
#include "ledger/db.h"

enum { LEDGER_USD = 840, CODE_ASSET = 1, CODE_LIABILITY = 2, CODE_PAYMENT = 10 };

typedef struct named {
  qp_u128 id;
  const char *name;
} named_t;

static const named_t ACCOUNTS[] = {
    {1001, "bank:cash"}, {2001, "alice"}, {2002, "bob"}, {3001, "coffee-shop"}};

static const char *name_of(qp_u128 id) {
  for (size_t i = 0; i < sizeof ACCOUNTS / sizeof ACCOUNTS[0]; i++)
    if (ACCOUNTS[i].id == id) return ACCOUNTS[i].name;
  return "?";
}

static void print_transfer_results(const char *title, const qp_transfer_t *t, const uint32_t *r,
                                   uint32_t n) {
  printf("\n%s\n", title);
  for (uint32_t i = 0; i < n; i++) {
    char amount[QP_U128_BUF_SIZE];
    qp_u128_format(t[i].amount, amount);
    const char *kind = (t[i].flags & QP_TRANSFER_PENDING) ? "pending"
                       : (t[i].flags & QP_TRANSFER_POST_PENDING_TRANSFER) ? "post"
                       : (t[i].flags & QP_TRANSFER_VOID_PENDING_TRANSFER) ? "void"
                                                                           : "transfer";
    printf("  #%u %-8s %-12s -> %-12s %8s%s  => %s\n", i, kind,
           t[i].debit_account_id ? name_of(t[i].debit_account_id) : "(pending's)",
           t[i].credit_account_id ? name_of(t[i].credit_account_id) : "(pending's)",
           amount, (t[i].flags & QP_TRANSFER_LINKED) ? " linked" : "       ",
           qp_create_transfer_result_name(r[i]));
  }
}

static int print_balances(qp_db_t *db) {
  qp_u128 ids[4];
  qp_account_t out[4];
  uint32_t found;
  for (int i = 0; i < 4; i++) ids[i] = ACCOUNTS[i].id;
  int rc = qp_db_lookup_accounts(db, ids, 4, out, &found);
  if (rc != 0) return rc;
  printf("\n%-12s %12s %12s %12s %12s\n", "account", "debits", "credits", "dr pending",
         "cr pending");
  for (uint32_t i = 0; i < found; i++) {
    char d[QP_U128_BUF_SIZE], c[QP_U128_BUF_SIZE], dp[QP_U128_BUF_SIZE], cp[QP_U128_BUF_SIZE];
    qp_u128_format(out[i].debits_posted, d);
    qp_u128_format(out[i].credits_posted, c);
    qp_u128_format(out[i].debits_pending, dp);
    qp_u128_format(out[i].credits_pending, cp);
    printf("%-12s %12s %12s %12s %12s\n", name_of(out[i].id), d, c, dp, cp);
  }
  qp_db_audit_t audit;
  rc = qp_db_audit(db, &audit, NULL, 0, NULL);
  if (rc != 0) return rc;
  char hex[2 * QP_HASH_SIZE + 1];
  qp_hex(hex, audit.head_hash, QP_HASH_SIZE);
  printf("\njournal: %llu batches, %llu events; head hash %.16s...; invariant %s\n",
         (unsigned long long)audit.batches, (unsigned long long)audit.events, hex,
         audit.invariant_ok ? "holds (debits = credits)" : "BROKEN");
  return 0;
}

static qp_transfer_t xfer(qp_u128 id, qp_u128 dr, qp_u128 cr, qp_u128 amount, uint16_t flags) {
  qp_transfer_t t;
  memset(&t, 0, sizeof t);
  t.id = id;
  t.debit_account_id = dr;
  t.credit_account_id = cr;
  t.amount = amount;
  t.ledger = LEDGER_USD;
  t.code = CODE_PAYMENT;
  t.flags = flags;
  return t;
}

static int run_demo(qp_db_t *db) {
  qp_account_t a[4];
  memset(a, 0, sizeof a);
  for (int i = 0; i < 4; i++) {
    a[i].id = ACCOUNTS[i].id;
    a[i].ledger = LEDGER_USD;
    a[i].code = i == 0 ? CODE_ASSET : CODE_LIABILITY;
    /* Customers cannot spend more than they hold. */
    a[i].flags = i == 0 ? 0 : (QP_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS | QP_ACCOUNT_HISTORY);
  }
  uint32_t r[8];
  int rc = qp_db_create_accounts(db, a, 4, r);
  if (rc != 0) return rc;
  printf("accounts (ledger %d = USD cents; customers have debits_must_not_exceed_credits):\n",
         LEDGER_USD);
  for (int i = 0; i < 4; i++)
    printf("  %-12s id %-5llu => %s\n", ACCOUNTS[i].name, (unsigned long long)ACCOUNTS[i].id,
           qp_create_account_result_name(r[i]));

  qp_transfer_t t1[] = {
      xfer(9001, 1001, 2001, 10000, 0),                      /* deposit $100 to alice */
      xfer(9002, 2001, 2002, 2500, 0),                       /* alice pays bob $25 */
      xfer(9003, 2001, 3001, 450, QP_TRANSFER_PENDING),      /* card auth $4.50 */
      xfer(9004, 2002, 3001, 999999, 0),                     /* bob overdraws: refused */
  };
  if ((rc = qp_db_create_transfers(db, t1, 4, r)) != 0) return rc;
  print_transfer_results(
      "transfers (a deposit, a payment, a card authorisation, an overdraft):", t1, r, 4);

  qp_transfer_t t2[] = {xfer(9005, 0, 0, 400, QP_TRANSFER_POST_PENDING_TRANSFER)};
  t2[0].pending_id = 9003; /* capture $4.00 of the $4.50 hold; the rest is released */
  t2[0].ledger = 0;
  t2[0].code = 0;
  if ((rc = qp_db_create_transfers(db, t2, 1, r)) != 0) return rc;
  print_transfer_results("capture 400 of the 450 pending (the other 50 is released):", t2, r, 1);

  qp_transfer_t t3[] = {
      xfer(9006, 2002, 2001, 1000, QP_TRANSFER_LINKED), /* bob -> alice $10 ... */
      xfer(9007, 2002, 3001, 5000, 0),                  /* ... and $50 he doesn't have */
  };
  if ((rc = qp_db_create_transfers(db, t3, 2, r)) != 0) return rc;
  print_transfer_results("a linked chain whose second leg overdraws: all or nothing:", t3, r, 2);
  return print_balances(db);
}

int qp_cmd_ledger(int argc, char **argv) {
  static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *usage = "usage: quipu ledger demo [--data DIR]\n";
  if (argc < 2 || strcmp(argv[1], "demo") != 0) {
    fprintf(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr, "%s", usage);
    return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
  }
  const char *data = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc - 1, argv + 1, "d:h", opts, NULL)) != -1) {
    if (c == 'd') data = optarg;
    else {
      fprintf(c == 'h' ? stdout : stderr, "%s", usage);
      return c == 'h' ? 0 : 2;
    }
  }
  const char *dir = qp_cli_data_dir(data);
  qp_db_t *db;
  char detail[512];
  qp_db_recovery_t rec;
  int rc = qp_db_open(dir, NULL, &db, &rec, detail, sizeof detail);
  if (rc != 0) {
    fprintf(stderr, "quipu ledger demo: %s\n", detail);
    return 1;
  }
  printf("ledger in %s/ledger (%llu batches in the journal)\n\n", dir,
         (unsigned long long)rec.batches);
  rc = run_demo(db);
  qp_db_close(db);
  if (rc != 0) {
    fprintf(stderr, "quipu ledger demo: %s\n", qp_strerror(rc));
    return 1;
  }
  printf("\nrun `quipu verify --data %s` to replay and check the journal.\n", dir);
  return 0;
}
