/*
 * cmd_sim.c - `quipu sim ledger --seed S --steps N [--seeds K]`: runs the
 * deterministic simulator (src/drills) for seeds S..S+K-1 and prints what
 * it injected and what it checked.  A failing seed is printed with the
 * exact command that replays it; the exit status is 1 if any seed broke a
 * check, 2 on a usage error, 0 otherwise.  docs/drills.md explains the
 * table.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "cli/cli.h"
#include "crypto/crypto.h"
#include "drills/drills.h"

#define SIM_USAGE                                                                              \
  "usage: quipu sim ledger [--seed S] [--steps N] [--seeds K] [--trace] [--markdown] [--json " \
  "FILE] [--log LEVEL]\n"                                                                       \
  "       quipu sim chain [--validators N] [--byzantine B] [--seed S] [--steps N] [--seeds K] " \
  "[--trace]\n"
#define FAILURES_SHOWN_MAX 20u

static void print_help(void) {
  printf(SIM_USAGE "\n"
         "Runs the real ledger (journal, group commit, recovery) over a simulated disk that\n"
         "crashes, loses power, tears and misdirects writes, flips bits on reads, fails\n"
         "fdatasync with EIO and runs out of space - reproducibly from each seed - and checks\n"
         "after every step that nothing acknowledged was lost and that every result equals a\n"
         "fault-free reference run.\n\n"
         "  --seed S     first seed (default 1)\n"
         "  --steps N    group commits per seed (default 200)\n"
         "  --seeds K    number of seeds: S..S+K-1 (default 1)\n"
         "  --trace      print what each step does (groups, faults, restarts, recoveries)\n"
         "  --markdown   also print the report rows as a Markdown table (README)\n"
         "  --json FILE  also write the results for `quipu drill report` (build/drills/sim.json)\n"
         "  --log LEVEL  ledger log level while simulating (default off)\n\n"
         "Exit 0 when every check held, 1 when any seed broke one (each is printed with the\n"
         "command that replays it), 2 on a usage error.\n");
}

static void row(const char *name, uint64_t value) {
  printf("  %-44s %llu\n", name, (unsigned long long)value);
}

static void print_table(const qp_sim_stats_t *t, uint64_t failed_seeds, double seconds) {
  printf("\nsimulation summary\n");
  row("seeds run", t->seeds);
  row("seeds failed", failed_seeds);
  row("steps", t->steps);
  row("groups acknowledged", t->groups_acked);
  row("batches acknowledged", t->batches_acked);
  row("events acknowledged", t->events_acked);
  row("acknowledged transfers checked (after recovery)", t->transfers_checked);
  row("account balances compared", t->accounts_checked);
  row("restarts (recoveries)", t->restarts);
  row("torn tails cut at recovery", t->torn_tails_cut);
  row("unacknowledged batches present / absent", t->unacked_present);
  printf("  %-44s %llu\n", "", (unsigned long long)t->unacked_absent);
  row("fail-stops (write/fsync error)", t->failstops);
  row("groups refused for ENOSPC (db stayed up)", t->enospc_rejected);
  printf("faults injected\n");
  for (int k = 0; k < QP_SIM_FAULT_COUNT; k++) {
    char name[64];
    snprintf(name, sizeof name, "%s", qp_sim_fault_name((qp_sim_fault_t)k));
    row(name, t->faults[k]);
  }
  printf("corruption\n");
  printf("  %-44s %llu / %llu\n", "corruptions detected / injected",
         (unsigned long long)t->corruptions_detected, (unsigned long long)t->corruptions_injected);
  row("  detected by recovery at open", t->detected_at_open);
  row("  detected by the verify pass", t->detected_by_verify);
  row("  tolerated (nothing acknowledged affected)", t->corruptions_tolerated);
  row("clean restarts after detection", t->clean_restarts);
  printf("violations (all must be 0)\n");
  row("losses of acknowledged data", t->losses);
  row("result mismatches vs reference", t->result_mismatches);
  row("state mismatches vs reference", t->state_mismatches);
  row("invariant violations", t->invariant_violations);
  row("fail-stop violations", t->failstop_violations);
  row("silent corruptions / false alarms", t->silent_corruptions);
  row("other violations", t->other_violations);
  printf("  %-44s %.1f s\n", "wall time", seconds);
}

static void md_row(const char *name, uint64_t value) {
  printf("| %s | %llu |\n", name, (unsigned long long)value);
}

/* The simulator's rows of the reliability report (issue 5, part 5), as a
 * Markdown table for the README. */
static void print_markdown(const qp_sim_stats_t *t, uint32_t steps) {
  printf("\n| deterministic simulation (`quipu sim ledger`, %u steps a seed) | |\n|---|---:|\n",
         steps);
  md_row("seeds run", t->seeds);
  md_row("steps (group commits attempted)", t->steps);
  md_row("batches acknowledged", t->batches_acked);
  md_row("acknowledged transfers checked after recovery", t->transfers_checked);
  md_row("restarts (crash, power loss, fail-stop) and recoveries", t->restarts);
  for (int k = 0; k < QP_SIM_FAULT_COUNT; k++) {
    char name[64];
    snprintf(name, sizeof name, "faults injected: %s", qp_sim_fault_name((qp_sim_fault_t)k));
    md_row(name, t->faults[k]);
  }
  printf("| corruptions detected / injected | %llu / %llu |\n",
         (unsigned long long)t->corruptions_detected, (unsigned long long)t->corruptions_injected);
  md_row("losses of acknowledged data", t->losses);
  md_row("invariant violations", t->invariant_violations);
  md_row("results differing from the fault-free reference",
         t->result_mismatches + t->state_mismatches);
  md_row("fail-stop violations", t->failstop_violations);
  md_row("silent corruptions or false alarms", t->silent_corruptions);
}

/* JSON names of the fault kinds.  Distinct from the table's: `quipu drill
 * report` treats any field named like a loss or a crash as a failure when
 * it is non-zero, and these count injected faults, not failures. */
static const char *const FAULT_JSON[QP_SIM_FAULT_COUNT] = {
    "died_at_io_call", "power_failure",   "torn_write",     "misdirected_write", "bit_flip_on_read",
    "fdatasync_eio",   "write_eio",       "reserve_enospc", "write_enospc"};

static void put(json_t *o, const char *key, uint64_t v) {
  json_object_set_new(o, key, json_integer((json_int_t)v));
}

/* Writes the run's results for `quipu drill report` (build/drills/sim.json). */
static int write_json(const char *path, const qp_sim_stats_t *t, uint64_t seed, uint32_t steps,
                      uint64_t failed, double seconds, const char *digest_hex) {
  json_t *o = json_object(), *faults = json_object();
  if (o == NULL || faults == NULL) return QP_ENOMEM;
  put(o, "first_seed", seed);
  put(o, "seeds", t->seeds);
  put(o, "steps_per_seed", steps);
  put(o, "steps", t->steps);
  put(o, "groups_acknowledged", t->groups_acked);
  put(o, "batches_acknowledged", t->batches_acked);
  put(o, "events_acknowledged", t->events_acked);
  put(o, "acknowledged_transfers_checked", t->transfers_checked);
  put(o, "account_balances_compared", t->accounts_checked);
  put(o, "restarts", t->restarts);
  put(o, "torn_tails_cut", t->torn_tails_cut);
  put(o, "unacknowledged_batches_present", t->unacked_present);
  put(o, "unacknowledged_batches_absent", t->unacked_absent);
  put(o, "failstops", t->failstops);
  put(o, "enospc_refusals", t->enospc_rejected);
  for (int k = 0; k < QP_SIM_FAULT_COUNT; k++) put(faults, FAULT_JSON[k], t->faults[k]);
  json_object_set_new(o, "faults_injected", faults);
  put(o, "corruptions_injected", t->corruptions_injected);
  put(o, "corruptions_detected", t->corruptions_detected);
  put(o, "detected_at_open", t->detected_at_open);
  put(o, "detected_by_verify_pass", t->detected_by_verify);
  put(o, "corruptions_tolerated", t->corruptions_tolerated);
  put(o, "clean_restarts", t->clean_restarts);
  put(o, "seeds_with_violations", failed);
  put(o, "losses", t->losses);
  put(o, "result_mismatches", t->result_mismatches);
  put(o, "state_mismatches", t->state_mismatches);
  put(o, "invariant_violations", t->invariant_violations);
  put(o, "failstop_violations", t->failstop_violations);
  put(o, "undetected_corruptions_or_false_alarms", t->silent_corruptions);
  put(o, "other_violations", t->other_violations);
  json_object_set_new(o, "wall_seconds", json_real(seconds));
  json_object_set_new(o, "digest", json_string(digest_hex));
  int rc = json_dump_file(o, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 ? 0 : QP_EIO;
  json_decref(o);
  return rc;
}

static double seconds_since(uint64_t t0_ns) {
  return (double)(qp_clock_mono_ns() - t0_ns) / 1e9;
}

/* Runs seeds [seed, seed+seeds); returns the exit code. */
static void print_trace(void *ctx, const char *line) {
  (void)ctx;
  printf("  %s\n", line);
}

static int run_seeds(uint64_t seed, uint64_t seeds, uint32_t steps, bool traced, bool markdown,
                     const char *json_path) {
  qp_sim_stats_t total;
  memset(&total, 0, sizeof total);
  qp_hash_ctx_t all;
  qp_hash256_init(&all);
  uint64_t failed = 0;
  uint64_t t0_ns = qp_clock_mono_ns();
  printf("quipu sim ledger: seeds %llu..%llu, %u steps each\n", (unsigned long long)seed,
         (unsigned long long)(seed + seeds - 1), steps);
  for (uint64_t i = 0; i < seeds; i++) {
    qp_sim_ledger_config_t cfg;
    qp_sim_ledger_config_default(&cfg, seed + i, steps);
    if (traced) cfg.trace = print_trace;
    qp_sim_stats_t st;
    uint8_t digest[QP_HASH_SIZE];
    char detail[1024];
    int rc = qp_sim_ledger_run(&cfg, &st, digest, detail, sizeof detail);
    if (rc != 0) {
      fprintf(stderr, "sim: seed %llu could not run: %s\n", (unsigned long long)(seed + i),
              qp_strerror(rc));
      return 1;
    }
    qp_sim_stats_add(&total, &st);
    qp_hash256_update(&all, digest, sizeof digest);
    if (qp_sim_violations(&st) > 0) {
      if (failed++ < FAILURES_SHOWN_MAX)
        printf("FAIL seed %llu: %s\n  replay: quipu sim ledger --seed %llu --steps %u\n",
               (unsigned long long)(seed + i), detail, (unsigned long long)(seed + i), steps);
    }
    if (seeds == 1) {
      char hex[2 * QP_HASH_SIZE + 1];
      qp_hex(hex, digest, QP_HASH_SIZE);
      printf("digest %s\n", hex);
    }
  }
  if (failed > FAILURES_SHOWN_MAX)
    printf("(%llu more failing seeds not shown)\n",
           (unsigned long long)(failed - FAILURES_SHOWN_MAX));
  double seconds = seconds_since(t0_ns);
  print_table(&total, failed, seconds);
  if (markdown) print_markdown(&total, steps);
  uint8_t digest[QP_HASH_SIZE];
  char hex[2 * QP_HASH_SIZE + 1];
  qp_hash256_final(&all, digest);
  qp_hex(hex, digest, QP_HASH_SIZE);
  if (seeds > 1) printf("digest of all seeds %s\n", hex);
  if (json_path != NULL && write_json(json_path, &total, seed, steps, failed, seconds, hex) != 0) {
    fprintf(stderr, "sim: cannot write %s\n", json_path);
    return 1;
  }
  printf("result: %s\n", failed == 0 ? "OK" : "FAILED");
  return failed == 0 ? 0 : 1;
}

int qp_cmd_sim(int argc, char **argv) {
  static const struct option opts[] = {{"seed", required_argument, NULL, 's'},
                                       {"steps", required_argument, NULL, 'n'},
                                       {"seeds", required_argument, NULL, 'k'},
                                       {"log", required_argument, NULL, 'l'},
                                       {"trace", no_argument, NULL, 't'},
                                       {"markdown", no_argument, NULL, 'm'},
                                       {"json", required_argument, NULL, 'j'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    if (argc < 2) {
      fprintf(stderr, SIM_USAGE);
      return 2;
    }
    print_help();
    return 0;
  }
  if (strcmp(argv[1], "chain") == 0) return qp_cmd_sim_chain(argc, argv);
  if (strcmp(argv[1], "ledger") != 0) {
    fprintf(stderr, "sim: unknown target '%s' ('ledger' or 'chain')\n" SIM_USAGE, argv[1]);
    return 2;
  }
  uint64_t seed = 1, seeds = 1, steps = 200;
  qp_log_level_t level = QP_LOG_OFF;
  bool traced = false, markdown = false;
  const char *json_path = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc - 1, argv + 1, "s:n:k:l:tmj:h", opts, NULL)) != -1) {
    int rc = 0;
    if (c == 's') rc = qp_cli_parse_u64(optarg, 0, UINT64_MAX / 2, &seed);
    else if (c == 'n') rc = qp_cli_parse_u64(optarg, 0, 1000000, &steps);
    else if (c == 'k') rc = qp_cli_parse_u64(optarg, 0, 100000000, &seeds);
    else if (c == 'l') rc = qp_log_level_parse(optarg, &level) == 0 ? 0 : QP_EPARSE;
    else if (c == 't') traced = true;
    else if (c == 'm') markdown = true;
    else if (c == 'j') json_path = optarg;
    else if (c == 'h') {
      print_help();
      return 0;
    } else rc = QP_EINVAL;
    if (rc != 0) {
      if (c == 's' || c == 'n' || c == 'k' || c == 'l')
        fprintf(stderr, "sim: bad value '%s' for --%s\n", optarg,
                c == 's' ? "seed" : c == 'n' ? "steps" : c == 'k' ? "seeds" : "log");
      fprintf(stderr, SIM_USAGE);
      return 2;
    }
  }
  if (optind < argc - 1 || steps == 0 || seeds == 0) {
    fprintf(stderr, "sim: --steps and --seeds must be at least 1; no extra arguments\n" SIM_USAGE);
    return 2;
  }
  qp_log_set_level(level);
  return run_seeds(seed, seeds, (uint32_t)steps, traced, markdown, json_path);
}
