/*
 * cmd_sim_chain.c - `quipu sim chain --validators N --byzantine B --seed S
 * --steps N [--seeds K] [--crypto ed25519|sm2] [--trace]`: runs the consensus simulator
 * (src/drills/sim_chain.c) for seeds S..S+K-1 and prints what it injected
 * and what it checked.  Every failing seed is printed with the exact
 * command that replays it; exit 1 if any seed broke a check, 2 on a usage
 * error, 0 otherwise.  docs/chain.md ("Simulator") explains the table.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "cli/cli.h"
#include "crypto/crypto.h"
#include "drills/drills.h"

#define CHAIN_USAGE                                                                     \
  "usage: quipu sim chain [--validators N] [--byzantine B] [--seed S] [--steps N] "     \
  "[--seeds K]\n                      [--crypto ed25519|sm2] [--trace]\n"
#define FAILURES_SHOWN_MAX 20u

typedef struct opts {
  uint64_t validators, byzantine, seed, steps, seeds; /* as given */
  qp_suite_t suite;                                   /* --crypto */
  bool traced;                                        /* --trace */
} opts_t;

static void print_help(void) {
  printf(CHAIN_USAGE "\n"
         "Runs N validators' real consensus cores over a simulated network and clock, from\n"
         "one seed: delay, loss, duplication, reordering, partitions that heal, crashes and\n"
         "restarts of honest nodes (from their safety record), and B Byzantine validators\n"
         "(equivocation, double votes, votes for invalid blocks, withheld messages, garbage).\n"
         "Checks safety (one block per height), validity (only signed transactions commit)\n"
         "and liveness (after the heal everything commits within bounded simulated time).\n\n"
         "  --validators N  validators (default 4, at most 32)\n"
         "  --byzantine B   Byzantine validators, at most (N - 1) / 3 (default 1 if N >= 4)\n"
         "  --seed S        first seed (default 1)\n"
         "  --steps N       fault-phase steps of 10 simulated ms (default 300)\n"
         "  --seeds K       seeds S..S+K-1 (default 1)\n"
         "  --crypto C      the network's suite: ed25519 (default) or sm2 (SM2 signatures,\n"
         "                  SM3 hashes; slower, so run fewer seeds)\n"
         "  --trace         print what each run does\n\n"
         "Exit 0 when every check held, 1 when a seed broke one (printed with the command\n"
         "that replays it), 2 on a usage error.\n");
}

static void row(const char *name, uint64_t value) {
  printf("  %-46s %llu\n", name, (unsigned long long)value);
}

static void print_table(const qp_sim_chain_stats_t *t, uint64_t failed, double seconds) {
  printf("\nchain simulation summary\n");
  row("seeds run / failed", t->seeds);
  row("", failed);
  row("steps (10 ms each)", t->steps);
  row("transactions submitted / committed", t->txs_submitted);
  row("", t->txs_committed);
  row("blocks committed (highest height, summed)", t->blocks_committed);
  row("views reached (summed)", t->views);
  row("slowest heal -> all committed (simulated ms)", t->heal_commit_ms_max);
  printf("network\n");
  row("messages delivered", t->messages);
  row("messages lost (loss, partition, node down)", t->messages_lost);
  row("messages refused by a core", t->messages_refused);
  row("duplicated / reordered", t->duplicated);
  row("", t->reordered);
  row("partitions (all healed)", t->partitions);
  row("crashes of honest nodes (+restart)", t->crashes);
  row("  of which at a PERSIST (record lost)", t->crashes_at_persist);
  printf("byzantine\n");
  row("equivocating proposals", t->equivocations);
  row("double votes", t->double_votes);
  row("invalid proposals / votes for them", t->invalid_proposals);
  row("", t->invalid_votes);
  row("forks below the high QC", t->forks);
  row("messages withheld", t->withheld);
  row("garbage or mutated messages", t->garbage);
  printf("violations (all must be 0)\n");
  row("safety (different blocks at one height)", t->safety);
  row("validity (unsigned transaction committed)", t->validity);
  row("liveness (not committed after the heal)", t->liveness);
  row("other (core errors, commit order)", t->other);
  printf("  %-46s %.1f s\n", "wall time", seconds);
}

static void print_trace(void *ctx, const char *line) {
  (void)ctx;
  printf("  %s\n", line);
}

static int run(const opts_t *o) {
  qp_sim_chain_stats_t total;
  memset(&total, 0, sizeof total);
  qp_hash_ctx_t all;
  qp_hash256_init(&all);
  uint64_t failed = 0, t0_ns = qp_clock_mono_ns();
  printf("quipu sim chain: %llu validators (%llu byzantine), seeds %llu..%llu, %llu steps, "
         "suite %s\n", (unsigned long long)o->validators, (unsigned long long)o->byzantine,
         (unsigned long long)o->seed, (unsigned long long)(o->seed + o->seeds - 1),
         (unsigned long long)o->steps, qp_suite_name(o->suite));
  for (uint64_t i = 0; i < o->seeds; i++) {
    qp_sim_chain_config_t cfg;
    qp_sim_chain_config_default(&cfg, o->seed + i, (uint32_t)o->validators,
                                (uint32_t)o->byzantine, (uint32_t)o->steps);
    cfg.suite = o->suite;
    if (o->traced) cfg.trace = print_trace;
    qp_sim_chain_stats_t st;
    uint8_t digest[QP_HASH_SIZE];
    char detail[512];
    int rc = qp_sim_chain_run(&cfg, &st, digest, detail, sizeof detail);
    if (rc != 0) {
      fprintf(stderr, "sim chain: seed %llu could not run: %s\n",
              (unsigned long long)(o->seed + i), qp_strerror(rc));
      return 1;
    }
    qp_sim_chain_stats_add(&total, &st);
    qp_hash256_update(&all, digest, sizeof digest);
    if (qp_sim_chain_violations(&st) > 0 && failed++ < FAILURES_SHOWN_MAX)
      printf("FAIL seed %llu: %s\n  replay: quipu sim chain --validators %llu --byzantine %llu "
             "--seed %llu --steps %llu --crypto %s\n", (unsigned long long)(o->seed + i),
             detail, (unsigned long long)o->validators, (unsigned long long)o->byzantine,
             (unsigned long long)(o->seed + i), (unsigned long long)o->steps,
             qp_suite_name(o->suite));
  }
  double seconds = (double)(qp_clock_mono_ns() - t0_ns) / 1e9;
  print_table(&total, failed, seconds);
  uint8_t digest[QP_HASH_SIZE];
  char hex[2 * QP_HASH_SIZE + 1];
  qp_hash256_final(&all, digest);
  qp_hex(hex, digest, QP_HASH_SIZE);
  printf("digest %s\nresult: %s\n", hex, failed == 0 ? "OK" : "FAILED");
  return failed == 0 ? 0 : 1;
}

/* --crypto: 0, or QP_EINVAL after saying what is allowed. */
static int parse_crypto(const char *name, qp_suite_t *out) {
  if (qp_suite_parse(name, strlen(name), out) == 0) return 0;
  fprintf(stderr, "sim chain: --crypto must be ed25519 or sm2, not '%.64s'\n", name);
  return QP_EINVAL;
}

static int parse(int argc, char **argv, opts_t *o, bool *help) {
  static const struct option opts[] = {{"validators", required_argument, NULL, 'v'},
                                       {"byzantine", required_argument, NULL, 'b'},
                                       {"seed", required_argument, NULL, 's'},
                                       {"steps", required_argument, NULL, 'n'},
                                       {"seeds", required_argument, NULL, 'k'},
                                       {"crypto", required_argument, NULL, 'c'},
                                       {"trace", no_argument, NULL, 't'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  bool byz_given = false;
  int c;
  optind = 1;
  while ((c = getopt_long(argc - 1, argv + 1, "v:b:s:n:k:c:th", opts, NULL)) != -1) {
    int rc = 0;
    const uint64_t nodes_max = QP_SIM_CHAIN_VALIDATORS_MAX;
    if (c == 'v') rc = qp_cli_parse_u64(optarg, 0, nodes_max, &o->validators);
    else if (c == 'b') rc = qp_cli_parse_u64(optarg, 0, nodes_max, &o->byzantine);
    else if (c == 's') rc = qp_cli_parse_u64(optarg, 0, UINT64_MAX / 2, &o->seed);
    else if (c == 'n') rc = qp_cli_parse_u64(optarg, 0, 1000000, &o->steps);
    else if (c == 'k') rc = qp_cli_parse_u64(optarg, 0, 100000000, &o->seeds);
    else if (c == 'c') rc = parse_crypto(optarg, &o->suite);
    else if (c == 't') o->traced = true;
    else if (c == 'h') *help = true;
    else rc = QP_EINVAL;
    byz_given = byz_given || c == 'b';
    if (rc != 0) {
      if (optarg != NULL && c != 'c') fprintf(stderr, "sim chain: bad value '%s'\n", optarg);
      return QP_EINVAL;
    }
  }
  if (!byz_given) o->byzantine = o->validators >= 4 ? 1 : 0;
  if (optind < argc - 1 || o->steps == 0 || o->seeds == 0 || o->validators == 0) return QP_EINVAL;
  if (o->byzantine > (o->validators - 1) / 3) {
    fprintf(stderr, "sim chain: --byzantine must be at most (validators - 1) / 3 = %llu\n",
            (unsigned long long)((o->validators - 1) / 3));
    return QP_EINVAL;
  }
  return 0;
}

int qp_cmd_sim_chain(int argc, char **argv) {
  opts_t o = {.validators = 4, .byzantine = 1, .seed = 1, .steps = 300, .seeds = 1,
              .suite = QP_SUITE_ED25519};
  bool help = false;
  if (parse(argc, argv, &o, &help) != 0) {
    fprintf(stderr, CHAIN_USAGE);
    return 2;
  }
  if (help) {
    print_help();
    return 0;
  }
  return run(&o);
}
