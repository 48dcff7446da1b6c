/*
 * cmd_verify.c - `quipu verify --data DIR`: replays the journal, checks
 * every checksum and the hash chain, recomputes every balance, compares
 * with the index, and prints what it found.  Exit 0 when intact, 1 with a
 * message naming the first bad record otherwise, 2 on a usage error.
 */
#include <getopt.h>
#include <stdio.h>

#include "base/err.h"
#include "cli/cli.h"
#include "ledger/db.h"

static void print_report(const qp_verify_report_t *r) {
  char hex[2 * QP_HASH_SIZE + 1];
  qp_hex(hex, r->head_hash, QP_HASH_SIZE);
  printf("journal:   %llu batches, %llu events, %llu bytes\n", (unsigned long long)r->batches,
         (unsigned long long)r->events, (unsigned long long)r->journal_bytes);
  printf("state:     %llu accounts, %llu transfers\n", (unsigned long long)r->accounts,
         (unsigned long long)r->transfers);
  printf("head hash: %s\n", hex);
  uint32_t shown = r->totals_count < 64 ? r->totals_count : 64;
  for (uint32_t i = 0; i < shown; i++) {
    const qp_ledger_totals_t *t = &r->totals[i];
    char dpo[QP_U128_BUF_SIZE], cpo[QP_U128_BUF_SIZE], dpe[QP_U128_BUF_SIZE], cpe[QP_U128_BUF_SIZE];
    qp_u128_format(t->debits_posted, dpo);
    qp_u128_format(t->credits_posted, cpo);
    qp_u128_format(t->debits_pending, dpe);
    qp_u128_format(t->credits_pending, cpe);
    printf(
        "ledger %u: %u accounts; debits_posted %s %s credits_posted %s; debits_pending %s %s "
        "credits_pending %s\n",
        t->ledger, t->accounts, dpo, t->debits_posted == t->credits_posted ? "=" : "!=", cpo, dpe,
        t->debits_pending == t->credits_pending ? "=" : "!=", cpe);
  }
  if (r->totals_count > shown) printf("(%u more ledgers not shown)\n", r->totals_count - shown);
  printf("invariant: %s\n", r->invariant_ok ? "holds" : "BROKEN");
  printf("index:     %s\n", !r->index_ok        ? "DIFFERS from the journal"
                             : r->index_compared ? "matches the journal"
                                                 : "not compared (none, or written by an older "
                                                   "version: the next start rebuilds it)");
}

int qp_cmd_verify(int argc, char **argv) {
  static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *data = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
    if (c == 'd') data = optarg;
    else if (c == 'h') {
      printf(
          "usage: quipu verify [--data DIR]\n\nReplays the journal under DIR/ledger/, checks every "
          "checksum and the hash chain,\nrecomputes every balance and compares them with the "
          "index.\n"
          "Exit 0 when intact, 1 when anything is wrong (naming the first bad record).\n");
      return 0;
    } else {
      fprintf(stderr, "usage: quipu verify [--data DIR]\n");
      return 2;
    }
  }
  const char *dir = qp_cli_data_dir(data);
  qp_verify_report_t report;
  char detail[512];
  int rc = qp_db_verify(dir, &report, detail, sizeof detail);
  print_report(&report);
  if (rc != 0) {
    fprintf(stderr, "verify: FAILED: %s\n", detail);
    printf("result:    FAILED\n");
    return 1;
  }
  printf("result:    OK\n");
  return 0;
}
