/*
 * pb_main.c - quipu-payments-bench: flags and the report (RESULT lines,
 * docs/bench.md "Payments benchmark").  Exit 0 when every check held, 1
 * when one failed, 2 on bad flags.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pay_bench.h"
#include "base/alloc.h"
#include "base/err.h"
#include "crypto/crypto.h"

int pb_bench(const pb_config_t *cfg, qb_report_t *rep); /* pb_phases.c */

static const char USAGE[] =
    "usage: quipu-payments-bench --quipu PATH [--quick] [--orders N] [--collects N]\n"
    "                            [--transfers N] [--users N] [--connections N] [--tmp DIR]\n"
    "                            [--keep]\n"
    "  --quipu        the quipu binary: its node is started in a temp dir\n"
    "  --orders       orders paid end to end (2000; --quick 300)\n"
    "  --collects     orders collected by payment code, one device each (2000; --quick 300)\n"
    "  --transfers    simple transfers of the raw ledger phase (4000; --quick 600)\n"
    "  --users        payers, one passkey each, alternately ES256 and EdDSA\n"
    "                 (64; --quick 16); rounded up to a multiple of --connections\n"
    "  --connections  concurrent keep-alive connections, one thread each (16; --quick 8)\n"
    "  --tmp          where the node's directory goes ($TMPDIR or /tmp)\n"
    "  --keep         keep the node's directory (also BENCH_KEEP=1)\n";

static int parse_u32(const char *text, uint32_t lo, uint32_t hi, uint32_t *out) {
  char *end = NULL;
  unsigned long long v = strtoull(text, &end, 10);
  if (end == text || *end != '\0' || v < lo || v > hi) {
    fprintf(stderr, "payments-bench: '%.32s' is not a number in %u..%u\n", text, lo, hi);
    return 1;
  }
  *out = (uint32_t)v;
  return 0;
}

static void defaults(pb_config_t *c, bool quick) {
  memset(c, 0, sizeof *c);
  c->quick = quick;
  c->orders = quick ? 300 : 2000;
  c->collects = quick ? 300 : 2000;
  c->transfers = quick ? 600 : 4000;
  c->users = quick ? 16 : 64;
  c->lanes = quick ? 8 : 16;
  c->tmp_dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  c->keep = getenv("BENCH_KEEP") != NULL;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, pb_config_t *c) {
  bool quick = false;
  for (int i = 1; i < argc; i++) quick = quick || strcmp(argv[i], "--quick") == 0;
  defaults(c, quick);
  static const struct option opts[] = {
      {"quipu", required_argument, NULL, 'q'},     {"quick", no_argument, NULL, 'Q'},
      {"orders", required_argument, NULL, 'n'},    {"transfers", required_argument, NULL, 'x'},
      {"collects", required_argument, NULL, 'C'},
      {"users", required_argument, NULL, 'u'},     {"connections", required_argument, NULL, 'c'},
      {"tmp", required_argument, NULL, 't'},       {"keep", no_argument, NULL, 'k'},
      {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0}};
  int opt, bad = 0;
  while (!bad && (opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (opt) {
    case 'q': c->quipu = optarg; break;
    case 'Q': break;
    case 'n': bad = parse_u32(optarg, 1, PB_ORDERS_MAX, &c->orders); break;
    case 'x': bad = parse_u32(optarg, 1, PB_ORDERS_MAX, &c->transfers); break;
    case 'C': bad = parse_u32(optarg, 1, PB_COLLECTS_MAX, &c->collects); break;
    case 'u': bad = parse_u32(optarg, 1, PB_USERS_MAX, &c->users); break;
    case 'c': bad = parse_u32(optarg, 1, PB_LANES_MAX, &c->lanes); break;
    case 't': c->tmp_dir = optarg; break;
    case 'k': c->keep = true; break;
    case 'h': fputs(USAGE, stdout); return 0;
    default: bad = 1;
    }
  }
  c->users = (c->users + c->lanes - 1) / c->lanes * c->lanes; /* a user stays on one lane */
  if (bad || optind < argc || c->quipu == NULL || c->users > PB_USERS_MAX) {
    fputs(USAGE, stderr);
    return 2;
  }
  return -1;
}

int main(int argc, char **argv) {
  pb_config_t cfg;
  int code = parse_args(argc, argv, &cfg);
  if (code >= 0) return code;
  if (qp_crypto_init() != 0 || sodium_init() < 0 ||
      curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 1;
  qb_report_t *rep = qp_calloc(1, sizeof *rep);
  if (rep == NULL) return 1;
  int rc = pb_bench(&cfg, rep);
  if (rc != 0 || rep->failed)
    fprintf(stderr, "payments-bench: FAILED: %s\n", qp_strerror(rc != 0 ? rc : QP_ECORRUPT));
  else
    printf("== every check held\n");
  bool ok = rc == 0 && !rep->failed;
  qp_free(rep);
  curl_global_cleanup();
  return ok ? 0 : 1;
}
