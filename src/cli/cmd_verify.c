/*
 * cmd_verify.c - `quipu verify --data DIR [--live]`: replays the journal,
 * checks every checksum and the hash chain, recomputes every balance,
 * compares with the index, and prints what it found.  Without --live it
 * holds the data directory's lock while it runs and refuses (exit 3) when
 * a server holds it: comparing an index that is being written would show
 * damage that is not there.  --live runs beside a server and does not
 * compare the index's contents (qp_db_verify_live).  Exit 0 when intact,
 * 1 when damage was found (naming the first bad record), 2 on a usage
 * error, 3 when another process holds the data directory.
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
  if (r->live) {
    if (r->tail_unchecked_bytes > 0)
      printf("tail:      %llu bytes after the last good record not checked (being written when "
             "verify started)\n",
             (unsigned long long)r->tail_unchecked_bytes);
    if (r->index_applied_seq > 0)
      printf("index:     not compared (live); the record it has applied (%llu) matches the "
             "journal\n",
             (unsigned long long)r->index_applied_seq);
    else printf("index:     not compared (live)\n");
    return;
  }
  printf("index:     %s\n", !r->index_ok        ? "DIFFERS from the journal"
                             : r->index_compared ? "matches the journal"
                                                 : "not compared (none, or written by an older "
                                                   "version: the next start rebuilds it)");
}

static void print_mode(const qp_verify_report_t *r) {
  if (r->live)
    printf("mode:      live (a server may be running): the journal up to byte %llu as it stood "
           "at the start; the index's contents are not compared\n",
           (unsigned long long)r->live_end);
  else printf("mode:      offline (the data directory's lock held): journal and index\n");
}

static const char usage[] = "usage: quipu verify [--data DIR] [--live]\n";

static int help(void) {
  printf("%s\n"
         "Replays the journal under DIR/ledger/, checks every checksum and the hash chain,\n"
         "recomputes every balance and compares them with the index.  Holds the data\n"
         "directory's lock while it runs; refuses when a server holds it.\n\n"
         "  --live   run beside a server: the journal as it stands at the start (checksums,\n"
         "           chain, replay, balances, totals, invariant); the index's contents are\n"
         "           not compared, only the position it has applied\n\n"
         "Exit 0 when intact, 1 when anything is wrong (naming the first bad record),\n"
         "2 on a usage error, 3 when another process (a server) holds DIR.\n",
         usage);
  return 0;
}

int qp_cmd_verify(int argc, char **argv) {
  static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                       {"live", no_argument, NULL, 'l'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *data = NULL;
  bool live = false;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
    if (c == 'd') data = optarg;
    else if (c == 'l') live = true;
    else if (c == 'h') return help();
    else {
      fprintf(stderr, "%s", usage);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "quipu verify: unexpected argument '%s'\n%s", argv[optind], usage);
    return 2;
  }
  const char *dir = qp_cli_data_dir(data);
  qp_verify_report_t report;
  char detail[512];
  int rc = live ? qp_db_verify_live(dir, &report, detail, sizeof detail)
                : qp_db_verify(dir, &report, detail, sizeof detail);
  if (rc == QP_ELOCKED) {
    fprintf(stderr, "quipu verify: %s; stop it first, or run `quipu verify --live`\n", detail);
    return 3;
  }
  print_mode(&report);
  print_report(&report);
  if (rc != 0) {
    fprintf(stderr, "verify: FAILED: %s\n", detail);
    printf("result:    FAILED\n");
    return 1;
  }
  printf("result:    OK\n");
  return 0;
}
