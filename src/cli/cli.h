/*
 * cli.h - the `quipu` subcommands.  Each takes argc/argv starting at its own
 * name and returns the process exit code (0 ok, 1 failure, 2 usage error).
 */
#ifndef QP_CLI_CLI_H
#define QP_CLI_CLI_H

#include <stdint.h>

#include <jansson.h>

int qp_cmd_verify(int argc, char **argv);
int qp_cmd_ledger(int argc, char **argv); /* ledger demo */
int qp_cmd_bench(int argc, char **argv);  /* bench ledger */
int qp_cmd_drill(int argc, char **argv);  /* drill report */
int qp_cmd_serve(int argc, char **argv); /* the node with only the ledger */
int qp_cmd_node(int argc, char **argv);  /* a node from DIR/node.json */
int qp_cmd_keys(int argc, char **argv);
int qp_cmd_client(int argc, char **argv);
int qp_cmd_sim(int argc, char **argv);
int qp_cmd_sim_chain(int argc, char **argv); /* sim chain (cmd_sim_chain.c) */
int qp_cmd_backup(int argc, char **argv);
int qp_cmd_restore(int argc, char **argv);
int qp_cmd_chain(int argc, char **argv);  /* chain keygen|init|up|send|query */
int qp_cmd_chain_init(int argc, char **argv);  /* chain init (cmd_chain_init.c) */
int qp_cmd_chain_send(int argc, char **argv);  /* chain send (cmd_chain_send.c) */
int qp_cmd_chain_query(int argc, char **argv); /* chain query (cmd_chain_query.c) */
int qp_cmd_chain_verify_proof(int argc, char **argv); /* (cmd_chain_proof.c) */
int qp_cmd_chain_deploy(int argc, char **argv); /* chain deploy (cmd_chain_deploy.c) */
int qp_cmd_chain_up(int argc, char **argv);    /* chain up (cmd_chain_up.c) */
int qp_cmd_cluster(int argc, char **argv);     /* cluster init|up|add|remove (cmd_cluster.c) */
/* cluster add / remove (cmd_cluster_members.c); argv[0] is "add" / "remove". */
int qp__cli_cluster_add(int argc, char **argv);
int qp__cli_cluster_remove(int argc, char **argv);
/* Copies from_home's API key file into to_home (mode 0600); prog prefixes
 * the error printed.  Returns 0 or QP_E*. */
int qp__cli_cluster_copy_keys(const char *from_home, const char *to_home, const char *prog);
int qp_cmd_risk(int argc, char **argv);        /* risk check|replay (cmd_risk.c) */
int qp_cmd_settle(int argc, char **argv);      /* the settlement agent (cmd_settle.c) */
int qp_cmd_demo(int argc, char **argv);        /* demo supply-chain (demo_supply.c) */
int qp_cmd_paycode(int argc, char **argv);     /* a device's payment code (cmd_paycode.c) */

/* The data directory: --data DIR, else $QUIPU_DATA, else ./quipu-data. */
const char *qp_cli_data_dir(const char *flag_value);

/* Prints o as one compact JSON line (at most 8 KiB) and releases it
 * (json_decref; NULL prints an error object). */
/* A decimal number in [min, max], digits only (no sign, space or suffix).
 * Returns 0, QP_EPARSE (not a number) or QP_ERANGE (out of range). */
int qp_cli_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out);

void qp_cli_print_json(json_t *o);

#endif
