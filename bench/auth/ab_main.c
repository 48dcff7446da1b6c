/*
 * ab_main.c - quipu-auth-bench: flags, the order of the parts and the
 * report (RESULT lines, docs/bench.md "Auth benchmark").  The in-process
 * part runs first, before the node exists, so that its one core is as
 * quiet as the machine allows; then the node, the setup, and three phases
 * of payments: PREPARE (intents and challenges, assertions signed and
 * kept), CONFIRM (only the confirm requests: auth_confirm_per_s and its
 * latency) and FLOW (each payment's whole flow: auth_flow_per_s), and the
 * ledger read back.  Exit 0 when every check held, 1 when one failed.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_bench.h"
#include "base/alloc.h"
#include "base/err.h"
#include "crypto/crypto.h"

static const char USAGE[] =
    "usage: quipu-auth-bench [--quipu PATH] [--quick] [--payments N] [--users N]\n"
    "                        [--connections N] [--verify-ms N] [--tmp DIR] [--keep]\n"
    "  --quipu        the quipu binary; without it only the in-process part runs\n"
    "  --payments     payments of the confirm phase, and again of the flow phase\n"
    "                 (1800; --quick 600); payments + users + 1 challenges must fit\n"
    "                 in the 4096 not yet used a node holds at once\n"
    "  --users        simulated users, one credential each, alternately ES256 and EdDSA\n"
    "                 (256; --quick 64); rounded up to a multiple of --connections\n"
    "  --connections  concurrent keep-alive connections to the node (16)\n"
    "  --verify-ms    how long each in-process loop runs (2000; --quick 500)\n"
    "  --keep         keep the node's directory (also BENCH_KEEP=1)\n";

/* Parses a decimal in [lo, hi]; 0 or 1 (and a message). */
static int parse_u32(const char *text, uint32_t lo, uint32_t hi, uint32_t *out) {
  char *end = NULL;
  unsigned long long v = strtoull(text, &end, 10);
  if (end == text || *end != '\0' || v < lo || v > hi) {
    fprintf(stderr, "auth-bench: '%.32s' is not a number in %u..%u\n", text, lo, hi);
    return 1;
  }
  *out = (uint32_t)v;
  return 0;
}

static void defaults(qab_config_t *c, bool quick) {
  memset(c, 0, sizeof *c);
  c->quick = quick;
  c->payments = quick ? 600 : 1800;
  c->users = quick ? 64 : 256;
  c->lanes = 16;
  c->verify_ms = quick ? 500 : 2000;
  c->tmp_dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  c->keep = getenv("BENCH_KEEP") != NULL;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, qab_config_t *c) {
  bool quick = false;
  for (int i = 1; i < argc; i++) quick = quick || strcmp(argv[i], "--quick") == 0;
  defaults(c, quick);
  static const struct option opts[] = {
      {"quipu", required_argument, NULL, 'q'},    {"quick", no_argument, NULL, 'Q'},
      {"payments", required_argument, NULL, 'n'}, {"users", required_argument, NULL, 'u'},
      {"connections", required_argument, NULL, 'c'},
      {"verify-ms", required_argument, NULL, 'v'}, {"tmp", required_argument, NULL, 't'},
      {"keep", no_argument, NULL, 'k'},           {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int opt, bad = 0;
  uint32_t ms = (uint32_t)c->verify_ms;
  while (!bad && (opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (opt) {
    case 'q': c->quipu = optarg; break;
    case 'Q': break;
    case 'n': bad = parse_u32(optarg, 1, QAB_PAYMENTS_MAX, &c->payments); break;
    case 'u': bad = parse_u32(optarg, 1, QAB_USERS_MAX, &c->users); break;
    case 'c': bad = parse_u32(optarg, 1, QAB_LANES_MAX, &c->lanes); break;
    case 'v': bad = parse_u32(optarg, 10, 600000, &ms); break;
    case 't': c->tmp_dir = optarg; break;
    case 'k': c->keep = true; break;
    case 'h': fputs(USAGE, stdout); return 0;
    default: bad = 1;
    }
  }
  c->verify_ms = ms;
  c->users = (c->users + c->lanes - 1) / c->lanes * c->lanes; /* a user stays on one lane */
  if (bad || optind < argc || c->users > QAB_USERS_MAX) {
    fputs(USAGE, stderr);
    return 2;
  }
  if ((uint64_t)c->payments + c->users + 1 > QAB_CHALLENGES_MAX) {
    fprintf(stderr, "auth-bench: --payments + --users + 1 = %llu challenges, more than the "
            "%u not yet used a node holds at once (docs/bench.md, \"Auth benchmark\")\n",
            (unsigned long long)c->payments + c->users + 1, QAB_CHALLENGES_MAX);
    return 2;
  }
  return -1;
}

int main(int argc, char **argv) {
  qab_config_t cfg;
  int code = parse_args(argc, argv, &cfg);
  if (code >= 0) return code;
  if (qp_crypto_init() != 0 || sodium_init() < 0 ||
      curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 1;
  qb_report_t *rep = qp_calloc(1, sizeof *rep);
  if (rep == NULL) return 1;
  int rc = qab_verify_run(&cfg, rep);
  if (rc == 0 && cfg.quipu != NULL) rc = qab_http_run(&cfg, rep);
  if (rc != 0 || rep->failed)
    fprintf(stderr, "auth-bench: FAILED: %s\n", qp_strerror(rc != 0 ? rc : QP_ECORRUPT));
  else
    printf("== every check held\n");
  bool ok = rc == 0 && !rep->failed;
  qp_free(rep);
  curl_global_cleanup();
  return ok ? 0 : 1;
}
