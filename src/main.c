/*
 * main.c - `quipu`: dispatches to the subcommands in src/cli/.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct command {
  const char *name;                 /* first argument */
  int (*run)(int argc, char **argv); /* its entry point */
  const char *summary;              /* one line for `quipu help` */
} command_t;

static const command_t COMMANDS[] = {
    {"node", qp_cmd_node, "run a node: the modules DIR/node.json enables, on one listener"},
    {"serve", qp_cmd_serve, "run the ledger server (a node with only the ledger)"},
    {"client", qp_cmd_client, "talk to a running server"},
    {"keys", qp_cmd_keys, "create, list and revoke API keys"},
    {"ledger", qp_cmd_ledger, "ledger demo: accounts, transfers, balances"},
    {"verify", qp_cmd_verify, "replay the journal and check it against the state"},
    {"backup", qp_cmd_backup, "a consistent backup of a data directory, beside a running server"},
    {"restore", qp_cmd_restore, "restore a backup into an empty data directory"},
    {"chain", qp_cmd_chain, "consortium chain: keygen, init, up, send, query (docs/chain.md)"},
    {"cluster", qp_cmd_cluster, "the ledger replicated on Raft: init, up (docs/cluster.md)"},
    {"demo", qp_cmd_demo, "demo supply-chain: the receivable story on real processes"},
    {"settle", qp_cmd_settle, "settlement agent: receivable settlements into the ledger"},
    {"risk", qp_cmd_risk, "risk engine offline: check a ruleset, replay events (docs/risk.md)"},
    {"paycode", qp_cmd_paycode, "a wallet device's payment code (docs/payments.md)"},
    {"bench", qp_cmd_bench, "benchmarks (bench ledger)"},
    {"drill", qp_cmd_drill, "drill report: what the fault drills injected and found"},
    {"sim", qp_cmd_sim, "deterministic simulation with fault injection"},
};

static void usage(FILE *out) {
  fprintf(out,
          "quipu - a financial-grade core: ledger, node runtime\n\nusage: quipu <command> "
          "[options]\n\n");
  for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
    fprintf(out, "  %-8s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
  fprintf(out, "\n'quipu <command> --help' describes each command.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
      strcmp(argv[1], "-h") == 0) {
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
    if (strcmp(argv[1], COMMANDS[i].name) == 0) return COMMANDS[i].run(argc - 1, argv + 1);
  fprintf(stderr, "quipu: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
